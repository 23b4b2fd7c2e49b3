/* libFuzzer target: the configuration, cb_config_load().
 *
 * The input is lines (at most 32): "NAME=VALUE" sets an environment variable for this run (and
 * is unset after it); any other line (a flag such as "--callbackd_listen=[::1]:80", a command
 * such as "migrate", a flag's value) is a command-line argument, in order. A loaded configuration
 * must be one openapi.yaml allows. */
#include "service/config.h"
#include "service/log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 32

extern char **environ;

static void require(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_config: loaded, yet %s\n", what);
        abort();
    }
}

/* "*" alone, or origins "scheme://host[:port]" joined by commas: no path, no space, no star. */
static bool cors_list_valid(const char *list, bool any)
{
    if (any)
        return !strcmp(list, "*");
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *sep = strstr(p, "://");
        if (!n || !sep || sep >= p + n || sep + 3 >= p + n)
            return false;
        for (const char *c = sep + 3; c < p + n; c++)
            if (*c == '/' || *c == '*' || *c == ' ')
                return false;
        p = end ? end + 1 : p + n;
        if (end && !*p)
            return false;
    }
    return true;
}

/* The environment the fuzzer was started with must not decide anything. */
static void forget_callbackd_environment(void)
{
    for (bool again = true; again;) {
        again = false;
        for (char **e = environ; *e; e++)
            if (!strncmp(*e, "CALLBACKD_", 10) && strchr(*e, '=')) {
                char *name = strndup(*e, (size_t)(strchr(*e, '=') - *e));
                unsetenv(name);
                free(name);
                again = true;
                break;
            }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool started;
    if (!started) {
        forget_callbackd_environment();
        started = true;
    }
    char *text = strndup((const char *)data, size); /* a NUL ends the input: no such argument */
    if (!text)
        return 0;
    char *argv[MAX_LINES + 2] = {"callbackd"};
    int argc = 1;
    char *names[MAX_LINES];
    int n_names = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && argc + n_names <= MAX_LINES;
         line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (line[0] != '-' && eq && eq != line) {
            *eq = '\0';
            if (setenv(line, eq + 1, 1) == 0)
                names[n_names++] = line;
        } else
            argv[argc++] = line;
    }
    argv[argc] = NULL;

    struct cb_config cfg;
    char err[256] = "";
    if (cb_config_load(&cfg, argc, argv, err, sizeof err) != 0) {
        if (!err[0]) {
            fprintf(stderr, "fuzz_config: refused without a message\n");
            abort();
        }
    } else if (cfg.mode == CB_RUN_SERVE || cfg.mode == CB_RUN_MIGRATE) {
        require(cfg.database_url && cfg.database_url[0], "no database URL");
        require(cfg.admin_token && strlen(cfg.admin_token) >= 16, "a short admin token");
        require(cfg.mode != CB_RUN_SERVE || (cfg.pbx_secret && strlen(cfg.pbx_secret) >= 16),
                "a short PBX secret");
        require(!cfg.pbx_command_url || !strncmp(cfg.pbx_command_url, "http://", 7) ||
                    !strncmp(cfg.pbx_command_url, "https://", 8),
                "a command URL that is not http(s)");
        require(!cfg.tls_cert == !cfg.tls_key, "half a TLS configuration");
        require(cfg.listen_port >= 1, "no port");
        require(cfg.log_level >= CB_LOG_DEBUG && cfg.log_level <= CB_LOG_ERROR, "a bad log level");
        require(cfg.http_threads >= 1 && cfg.http_threads <= 64, "a bad thread count");
        require(cfg.db_pool_size >= 1 && cfg.db_pool_size <= 256, "a bad pool size");
        require(cfg.inbox_retention_s >= 1, "a bad retention");
        require(!cfg.cors_origins || cors_list_valid(cfg.cors_origins, cfg.cors_any),
                "a CORS origin list that is not * or exact origins");
    }
    cb_config_free(&cfg);
    for (int i = 0; i < n_names; i++)
        unsetenv(names[i]);
    free(text);
    return 0;
}
