/* The configuration of README "Configuration": read once at start-up into an immutable struct. */
#ifndef CB_CONFIG_H
#define CB_CONFIG_H

#include <stdbool.h>

#include "db/pool.h"

/* CALLBACKD_INBOX_RETENTION_S at least: twice the signature window (API_SIGNATURE_MAX_SKEW_S). */
#define CB_INBOX_RETENTION_MIN_S 600
/* An API round trip's answer is awaited this long past CALLBACKD_DB_STATEMENT_TIMEOUT_MS. */
#define CB_DB_ANSWER_SLACK_MS 500
/* The background loops' sessions (worker, dispatcher, metrics counts): no statement_timeout
 * (a purge or a large group may take a while), but a server that does not answer a round trip
 * in this long is given up on and reconnected to. */
#define CB_DB_BACKGROUND_ANSWER_MS 30000
/* On SIGTERM, once the API is drained, the background loops' waits on the server end within
 * this long. */
#define CB_DB_STOP_WAIT_MS 3000

enum cb_command_mode {
    CB_RUN_SERVE = 0,
    CB_RUN_MIGRATE,
    CB_RUN_HELP,
    CB_RUN_VERSION,
    CB_RUN_ROUTES, /* print the route table (METHOD PATH lines) and exit */
};

struct cb_config {
    enum cb_command_mode mode;
    char listen_host[256];
    unsigned short listen_port;
    char *database_url;
    char *admin_token;
    char *pbx_secret;
    char *pbx_command_url; /* NULL: commands are only kept */
    char *tls_cert;        /* both set: HTTPS */
    char *tls_key;
    int log_level;              /* enum cb_log_level */
    int http_threads;           /* CALLBACKD_HTTP_THREADS, default 16 */
    int db_pool_size;           /* CALLBACKD_DB_POOL_SIZE, default http_threads + 2 */
    int inbox_retention_s;      /* CALLBACKD_INBOX_RETENTION_S: applied events kept (default 7 d) */
    int max_connections;        /* CALLBACKD_MAX_CONNECTIONS: open client connections (4096) */
    int max_connections_per_ip; /* CALLBACKD_MAX_CONNECTIONS_PER_IP: per client address (256) */
    int request_timeout_s;    /* CALLBACKD_REQUEST_TIMEOUT_S: headers + body must arrive in (10) */
    int db_connect_timeout_s; /* CALLBACKD_DB_CONNECT_TIMEOUT_S (default 2) */
    int db_statement_timeout_ms; /* CALLBACKD_DB_STATEMENT_TIMEOUT_MS: API sessions (2000) */
    int db_pool_wait_ms;         /* CALLBACKD_DB_POOL_WAIT_MS: for a free connection (2000) */
    char *cors_origins; /* CALLBACKD_CORS_ORIGINS: origins joined by commas, or "*"; NULL: none */
    bool cors_any;      /* the list is "*" */
};

/* Fills `cfg` from `environ` then argv (`--callbackd_listen=...` overrides the variable).
 * Returns 0, or -1 with a one-line message naming the variable in `err`. */
int cb_config_load(struct cb_config *cfg, int argc, char **argv, char *err, unsigned errlen);
/* Frees the strings of a loaded configuration. */
void cb_config_free(struct cb_config *cfg);
/* The database limits of the API's pooled sessions, of the background loops' own sessions, and
 * of migrations (no limit but connecting: a migration may take long). */
struct db_limits cb_config_db_api_limits(const struct cb_config *cfg);
struct db_limits cb_config_db_background_limits(const struct cb_config *cfg);
struct db_limits cb_config_db_migration_limits(const struct cb_config *cfg);
/* The text of `callbackd --help`. */
const char *cb_config_usage(void);

#endif
