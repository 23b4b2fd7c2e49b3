#include "service/credentials.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "dir/name" as a new string, or NULL when out of memory. */
static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + 1 + strlen(name) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int cb_credential_read(const char *dir, const char *name, char **value, char *err, unsigned errlen)
{
    *value = NULL;
    char *path = join(dir, name);
    if (!path) {
        snprintf(err, errlen, "out of memory reading credential %s", name);
        return -1;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        int absent = errno == ENOENT;
        if (!absent)
            snprintf(err, errlen, "credential %s: cannot read %s: %s", name, path, strerror(errno));
        free(path);
        return absent ? 1 : -1;
    }
    int rc = -1;
    char *buf = malloc(CB_CREDENTIAL_MAX_BYTES + 1);
    size_t len = buf ? fread(buf, 1, CB_CREDENTIAL_MAX_BYTES + 1, f) : 0;
    if (!buf)
        snprintf(err, errlen, "out of memory reading credential %s", name);
    else if (ferror(f))
        snprintf(err, errlen, "credential %s: cannot read %s", name, path);
    else if (len > CB_CREDENTIAL_MAX_BYTES)
        snprintf(err, errlen, "credential %s: %s is larger than %d bytes", name, path,
                 CB_CREDENTIAL_MAX_BYTES);
    else if (memchr(buf, '\0', len))
        snprintf(err, errlen, "credential %s: %s holds a NUL byte", name, path);
    else {
        /* A file written by echo or an editor ends with a newline that is not the secret's. */
        if (len && buf[len - 1] == '\n')
            len--;
        if (len && buf[len - 1] == '\r')
            len--;
        buf[len] = '\0';
        if (len == 0)
            snprintf(err, errlen, "credential %s: %s is empty", name, path);
        else {
            *value = buf;
            buf = NULL;
            rc = 0;
        }
    }
    free(buf);
    fclose(f);
    free(path);
    return rc;
}

int cb_credential_path(const char *dir, const char *name, char **path, char *err, unsigned errlen)
{
    *path = join(dir, name);
    if (!*path) {
        snprintf(err, errlen, "out of memory reading credential %s", name);
        return -1;
    }
    struct stat st;
    int found = stat(*path, &st) == 0;
    if (!found && errno == ENOENT) {
        free(*path);
        *path = NULL;
        return 1;
    }
    /* Checked now so that a wrong file is a configuration error, not a failed start later. */
    if (!found || !S_ISREG(st.st_mode) || access(*path, R_OK) != 0) {
        snprintf(err, errlen, "credential %s: %s is not a readable file", name, *path);
        free(*path);
        *path = NULL;
        return -1;
    }
    return 0;
}
