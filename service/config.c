#include "service/config.h"
#include "service/credentials.h"
#include "service/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The variables of the README's "Configuration", each overridable by the flag of the same name in
 * lower case. */
static const char *const VARS[] = {
    "CALLBACKD_LISTEN",
    "CALLBACKD_DATABASE_URL",
    "CALLBACKD_ADMIN_TOKEN",
    "CALLBACKD_PBX_SECRET",
    "CALLBACKD_PBX_COMMAND_URL",
    "CALLBACKD_TLS_CERT",
    "CALLBACKD_TLS_KEY",
    "CALLBACKD_LOG_LEVEL",
    "CALLBACKD_HTTP_THREADS",
    "CALLBACKD_DB_POOL_SIZE",
    "CALLBACKD_INBOX_RETENTION_S",
    "CALLBACKD_MAX_CONNECTIONS",
    "CALLBACKD_MAX_CONNECTIONS_PER_IP",
    "CALLBACKD_REQUEST_TIMEOUT_S",
    "CALLBACKD_DB_CONNECT_TIMEOUT_S",
    "CALLBACKD_DB_STATEMENT_TIMEOUT_MS",
    "CALLBACKD_DB_POOL_WAIT_MS",
    "CALLBACKD_CORS_ORIGINS",
};
#define N_VARS (sizeof VARS / sizeof VARS[0])

const char *cb_config_usage(void)
{
    return "usage: callbackd [serve|migrate|routes] [--help] [--version] "
           "[--callbackd_<name>=VALUE ...]\n"
           "\n"
           "  serve    apply pending migrations, then serve the API and run the worker (default)\n"
           "  migrate  apply pending migrations and exit\n"
           "  routes   print the HTTP routes, one METHOD PATH line each, and exit\n"
           "\n"
           "Configuration (environment; a flag of the same name in lower case overrides it):\n"
           "  CALLBACKD_LISTEN           address:port of the HTTP API (default 127.0.0.1:8080)\n"
           "  CALLBACKD_DATABASE_URL     libpq connection string or URI (required)\n"
           "  CALLBACKD_ADMIN_TOKEN      bootstrap bearer token with the admin scope (required)\n"
           "  CALLBACKD_PBX_SECRET       HMAC secret for PBX events and commands (required)\n"
           "  CALLBACKD_PBX_COMMAND_URL  where commands are POSTed (unset: only kept)\n"
           "  CALLBACKD_TLS_CERT, CALLBACKD_TLS_KEY  PEM files; both set: HTTPS (TLS 1.2+)\n"
           "  CALLBACKD_LOG_LEVEL        debug, info, warn or error (default info)\n"
           "  CALLBACKD_HTTP_THREADS     threads serving requests that need the database\n"
           "                             (default 16; as many read and write HTTP)\n"
           "  CALLBACKD_DB_POOL_SIZE     database connections for the API (default threads + 2)\n"
           "  CALLBACKD_INBOX_RETENTION_S  how long applied PBX events, and so their ids for\n"
           "                             duplicate detection, are kept (default 604800, at least\n"
           "                             600: twice the 300 s signature window)\n"
           "  CALLBACKD_MAX_CONNECTIONS  open client connections at most (default 4096)\n"
           "  CALLBACKD_MAX_CONNECTIONS_PER_IP  open connections per client address (default 256)\n"
           "  CALLBACKD_REQUEST_TIMEOUT_S  time for a request's headers and body to arrive whole\n"
           "                             (default 10)\n"
           "  CALLBACKD_DB_CONNECT_TIMEOUT_S     wait for a database connection (default 2)\n"
           "  CALLBACKD_DB_STATEMENT_TIMEOUT_MS  an API statement's limit; no answer by then\n"
           "                                     plus 500 ms is 503 (default 2000)\n"
           "  CALLBACKD_DB_POOL_WAIT_MS  a request's wait for a free database connection\n"
           "                             (default 2000)\n"
           "  CALLBACKD_CORS_ORIGINS     origins whose pages may call the API: a comma-separated\n"
           "                             list of exact origins (https://admin.example.com), or *\n"
           "                             for any (unset: no CORS headers)\n"
           "\n"
           "Secrets as files: when CREDENTIALS_DIRECTORY is set (systemd's LoadCredential=),\n"
           "the files database_url, admin_token and pbx_secret in it give the values of the\n"
           "variables of those names, and tls_cert and tls_key the TLS files, unless the\n"
           "variable is set.\n";
}

static int fail(char *err, unsigned errlen, const char *fmt, const char *var)
{
    snprintf(err, errlen, fmt, var);
    return -1;
}

/* Splits "host:port" or "[v6]:port"; returns 0 on success. */
static int parse_listen(const char *v, struct cb_config *cfg)
{
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v)
        return -1;
    size_t hlen = (size_t)(colon - v);
    const char *host = v;
    if (v[0] == '[') {
        if (hlen < 3 || v[hlen - 1] != ']')
            return -1;
        host = v + 1;
        hlen -= 2;
    }
    if (hlen >= sizeof cfg->listen_host)
        return -1;
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port < 1 || port > 65535)
        return -1;
    memcpy(cfg->listen_host, host, hlen);
    cfg->listen_host[hlen] = '\0';
    cfg->listen_port = (unsigned short)port;
    return 0;
}

static int parse_count(const char *v, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || end == v || n < lo || n > hi)
        return -1;
    *out = (int)n;
    return 0;
}

/* Finds the value of VARS[i] from argv ("--name=v" or "--name v"), else the environment. */
static const char *lookup(int i, int argc, char **argv)
{
    char flag[64];
    snprintf(flag, sizeof flag, "--%s", VARS[i]);
    for (char *p = flag; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    size_t flen = strlen(flag);
    const char *found = NULL;
    for (int a = 1; a < argc; a++) {
        if (strncmp(argv[a], flag, flen) != 0)
            continue;
        if (argv[a][flen] == '=')
            found = argv[a] + flen + 1;
        else if (argv[a][flen] == '\0' && a + 1 < argc)
            found = argv[a + 1];
    }
    return found ? found : getenv(VARS[i]);
}

/* One origin as a browser sends it: scheme://host[:port], nothing after (no path, no slash). */
static bool valid_origin(const char *o, size_t n)
{
    size_t i = 0;
    while (i < n && (isalnum((unsigned char)o[i]) || o[i] == '+' || o[i] == '-' || o[i] == '.'))
        i++;
    if (i == 0 || !isalpha((unsigned char)o[0]) || n - i < 4 || strncmp(o + i, "://", 3) != 0)
        return false;
    for (i += 3; i < n; i++)
        if (o[i] == '/' || o[i] == ',' || o[i] == '*' || (unsigned char)o[i] <= ' ' ||
            (unsigned char)o[i] >= 127)
            return false;
    return o[n - 1] != ':';
}

/* CALLBACKD_CORS_ORIGINS: "*", or exact origins separated by commas (spaces around them are
 * dropped); stored as the origins joined by single commas. */
static int parse_cors(const char *v, struct cb_config *cfg)
{
    char *out = calloc(1, strlen(v) + 1);
    if (!out)
        return -1;
    size_t len = 0;
    for (const char *p = v;;) {
        while (*p == ' ')
            p++;
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && p[n - 1] == ' ')
            n--;
        bool any = n == 1 && p[0] == '*';
        if (any && (len || end)) {
            free(out);
            return -1; /* "*" stands alone */
        }
        if (!any && !valid_origin(p, n)) {
            free(out);
            return -1;
        }
        if (len)
            out[len++] = ',';
        memcpy(out + len, p, n);
        len += n;
        cfg->cors_any = any;
        if (!end)
            break;
        p = end + 1;
    }
    cfg->cors_origins = out;
    return 0;
}

static char *dup_or_null(const char *v)
{
    return v && *v ? strdup(v) : NULL;
}

/* The secrets and the TLS files may come as credentials, files named after the variable
 * without its CALLBACKD_ prefix, in lower case, in $CREDENTIALS_DIRECTORY (systemd's
 * LoadCredential=, or a mounted secret volume). A variable or flag that is set wins. */
static const struct {
    int var;     /* index in VARS */
    bool a_path; /* the variable names a file: the credential's path is its value */
} CREDENTIALS[] = {{1, false}, {2, false}, {3, false}, {5, true}, {6, true}};

static int read_credentials(const char **v, char **from_files, char *err, unsigned errlen)
{
    const char *dir = getenv("CREDENTIALS_DIRECTORY");
    if (!dir || !*dir)
        return 0;
    for (size_t i = 0; i < sizeof CREDENTIALS / sizeof CREDENTIALS[0]; i++) {
        int var = CREDENTIALS[i].var;
        if (v[var] && *v[var])
            continue;
        char name[64];
        snprintf(name, sizeof name, "%s", VARS[var] + strlen("CALLBACKD_"));
        for (char *p = name; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        int rc = CREDENTIALS[i].a_path
                     ? cb_credential_path(dir, name, &from_files[var], err, errlen)
                     : cb_credential_read(dir, name, &from_files[var], err, errlen);
        if (rc < 0)
            return -1;
        if (rc == 0)
            v[var] = from_files[var];
    }
    return 0;
}

/* Checks the values found and fills `cfg` with them (copies). */
static int parse_values(struct cb_config *cfg, const char **v, char *err, unsigned errlen)
{
    if (parse_listen(v[0] && *v[0] ? v[0] : "127.0.0.1:8080", cfg) != 0)
        return fail(err, errlen, "%s must be address:port (e.g. 127.0.0.1:8080)", VARS[0]);
    if (!v[1] || !*v[1])
        return fail(err, errlen, "%s is required (a libpq connection string or URI)", VARS[1]);
    if (!v[2] || strlen(v[2]) < 16)
        return fail(err, errlen, "%s is required (at least 16 characters)", VARS[2]);
    if (cfg->mode == CB_RUN_SERVE && (!v[3] || strlen(v[3]) < 16))
        return fail(err, errlen, "%s is required (at least 16 characters)", VARS[3]);
    if (v[4] && *v[4] && strncmp(v[4], "http://", 7) != 0 && strncmp(v[4], "https://", 8) != 0)
        return fail(err, errlen, "%s must be an http:// or https:// URL", VARS[4]);
    if ((v[5] && *v[5]) != (v[6] && *v[6]))
        return fail(err, errlen, "%s",
                    (v[5] && *v[5]) ? "CALLBACKD_TLS_KEY must be set with CALLBACKD_TLS_CERT"
                                    : "CALLBACKD_TLS_CERT must be set with CALLBACKD_TLS_KEY");
    cfg->log_level = CB_LOG_INFO;
    if (v[7] && *v[7] && (cfg->log_level = cb_log_level_parse(v[7])) < 0)
        return fail(err, errlen, "%s must be one of debug, info, warn, error", VARS[7]);
    cfg->http_threads = 16;
    if (v[8] && *v[8] && parse_count(v[8], 1, 64, &cfg->http_threads) != 0)
        return fail(err, errlen, "%s must be a whole number from 1 to 64", VARS[8]);
    cfg->db_pool_size = cfg->http_threads + 2;
    if (v[9] && *v[9] && parse_count(v[9], 1, 256, &cfg->db_pool_size) != 0)
        return fail(err, errlen, "%s must be a whole number from 1 to 256", VARS[9]);
    cfg->inbox_retention_s = 7 * 24 * 3600;
    /* Replay safety: a captured webhook is accepted while its timestamp is within 300 s of this
     * server's clock, so up to 600 s after its first arrival (when the PBX's clock is ahead);
     * its id must be remembered that long, or the replay is applied as a new event. */
    if (v[10] && *v[10] &&
        parse_count(v[10], CB_INBOX_RETENTION_MIN_S, 365 * 24 * 3600, &cfg->inbox_retention_s) != 0)
        return fail(err, errlen,
                    "%s must be a whole number of seconds from 600 (twice the 300 s signature "
                    "window, so that a replayed event is still known) to 31536000",
                    VARS[10]);
    cfg->max_connections = 4096;
    if (v[11] && *v[11] && parse_count(v[11], 1, 1000000, &cfg->max_connections) != 0)
        return fail(err, errlen, "%s must be a whole number from 1 to 1000000", VARS[11]);
    cfg->max_connections_per_ip = 256;
    if (v[12] && *v[12] && parse_count(v[12], 1, 1000000, &cfg->max_connections_per_ip) != 0)
        return fail(err, errlen, "%s must be a whole number from 1 to 1000000", VARS[12]);
    cfg->request_timeout_s = 10;
    if (v[13] && *v[13] && parse_count(v[13], 1, 3600, &cfg->request_timeout_s) != 0)
        return fail(err, errlen, "%s must be a whole number of seconds from 1 to 3600", VARS[13]);
    cfg->db_connect_timeout_s = 2;
    if (v[14] && *v[14] && parse_count(v[14], 2, 60, &cfg->db_connect_timeout_s) != 0)
        return fail(err, errlen, "%s must be a whole number of seconds from 2 to 60", VARS[14]);
    cfg->db_statement_timeout_ms = 2000;
    if (v[15] && *v[15] && parse_count(v[15], 100, 600000, &cfg->db_statement_timeout_ms) != 0)
        return fail(err, errlen, "%s must be a whole number of milliseconds from 100 to 600000",
                    VARS[15]);
    cfg->db_pool_wait_ms = 2000;
    if (v[16] && *v[16] && parse_count(v[16], 0, 60000, &cfg->db_pool_wait_ms) != 0)
        return fail(err, errlen, "%s must be a whole number of milliseconds from 0 to 60000",
                    VARS[16]);
    if (v[17] && *v[17] && parse_cors(v[17], cfg) != 0)
        return fail(err, errlen,
                    "%s must be * or a comma-separated list of origins "
                    "(scheme://host[:port], no path)",
                    VARS[17]);

    cfg->database_url = strdup(v[1]);
    cfg->admin_token = strdup(v[2]);
    cfg->pbx_secret = dup_or_null(v[3]);
    cfg->pbx_command_url = dup_or_null(v[4]);
    cfg->tls_cert = dup_or_null(v[5]);
    cfg->tls_key = dup_or_null(v[6]);
    return 0;
}

int cb_config_load(struct cb_config *cfg, int argc, char **argv, char *err, unsigned errlen)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->mode = CB_RUN_SERVE;
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            cfg->mode = CB_RUN_HELP;
        else if (strcmp(arg, "--version") == 0)
            cfg->mode = CB_RUN_VERSION;
        else if (strcmp(arg, "routes") == 0) {
            if (cfg->mode == CB_RUN_SERVE || cfg->mode == CB_RUN_MIGRATE)
                cfg->mode = CB_RUN_ROUTES;
        } else if (strcmp(arg, "serve") == 0 || strcmp(arg, "migrate") == 0) {
            if (cfg->mode == CB_RUN_SERVE || cfg->mode == CB_RUN_MIGRATE)
                cfg->mode = arg[0] == 's' ? CB_RUN_SERVE : CB_RUN_MIGRATE;
        } else if (strncmp(arg, "--callbackd_", 12) == 0) {
            if (!strchr(arg, '=')) {
                if (a + 1 >= argc)
                    return fail(err, errlen, "flag %s needs a value", arg);
                a++; /* its value */
            }
            int known = 0;
            for (size_t i = 0; i < N_VARS; i++) {
                size_t n = strlen(VARS[i]);
                if (strncasecmp(arg + 2, VARS[i], n) == 0 && (arg[2 + n] == '=' || !arg[2 + n]))
                    known = 1;
            }
            if (!known)
                return fail(err, errlen, "unknown flag %s", arg);
        } else
            return fail(err, errlen, "unknown argument %s (see --help)", arg);
    }
    if (cfg->mode == CB_RUN_HELP || cfg->mode == CB_RUN_VERSION || cfg->mode == CB_RUN_ROUTES)
        return 0;

    const char *v[N_VARS];
    for (size_t i = 0; i < N_VARS; i++)
        v[i] = lookup((int)i, argc, argv);
    char *from_files[N_VARS] = {0};
    int rc = read_credentials(v, from_files, err, errlen);
    if (rc == 0)
        rc = parse_values(cfg, v, err, errlen);
    for (size_t i = 0; i < N_VARS; i++)
        free(from_files[i]);
    return rc;
}

struct db_limits cb_config_db_api_limits(const struct cb_config *cfg)
{
    /* The server cancels a statement at the limit and answers (503, the session kept); the
     * client gives up CB_DB_ANSWER_SLACK_MS later, when the server did not even do that. */
    return (struct db_limits){.connect_timeout_s = cfg->db_connect_timeout_s,
                              .statement_timeout_ms = cfg->db_statement_timeout_ms,
                              .answer_timeout_ms =
                                  cfg->db_statement_timeout_ms + CB_DB_ANSWER_SLACK_MS};
}

struct db_limits cb_config_db_background_limits(const struct cb_config *cfg)
{
    return (struct db_limits){.connect_timeout_s = cfg->db_connect_timeout_s,
                              .statement_timeout_ms = 0,
                              .answer_timeout_ms = CB_DB_BACKGROUND_ANSWER_MS};
}

struct db_limits cb_config_db_migration_limits(const struct cb_config *cfg)
{
    return (struct db_limits){.connect_timeout_s = cfg->db_connect_timeout_s};
}

void cb_config_free(struct cb_config *cfg)
{
    free(cfg->database_url);
    free(cfg->admin_token);
    free(cfg->pbx_secret);
    free(cfg->pbx_command_url);
    free(cfg->tls_cert);
    free(cfg->tls_key);
    free(cfg->cors_origins);
    memset(cfg, 0, sizeof *cfg);
}
