/* Secrets handed over as files: systemd's credentials (LoadCredential=, $CREDENTIALS_DIRECTORY)
 * or a mounted secret volume. A file holds one value; a final newline is not part of it. */
#ifndef CB_CREDENTIALS_H
#define CB_CREDENTIALS_H

/* A credential larger than this is refused (a connection string or a token is far smaller). */
#define CB_CREDENTIAL_MAX_BYTES 16384

/* Reads the credential `name` of directory `dir` into a new string (*value, free it).
 * Returns 0 when read, 1 when there is no such file (*value NULL), -1 with a one-line reason in
 * `err` when it exists but cannot be used (unreadable, empty, too large, a NUL byte in it). */
int cb_credential_read(const char *dir, const char *name, char **value, char *err, unsigned errlen);
/* The path of the credential `name` of `dir` as a new string (*path, free it), for a file given
 * by its path (a PEM file). Returns 0, 1 when absent, -1 with `err` when it cannot be read. */
int cb_credential_path(const char *dir, const char *name, char **path, char *err, unsigned errlen);

#endif
