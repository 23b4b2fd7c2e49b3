/* callbackd: configuration, migrations, the HTTP API, the worker; SIGTERM stops it cleanly. */
#include "api/auth.h"
#include "api/router.h"
#include "api/server.h"
#include "db/migrate.h"
#include "db/pool.h"
#include "service/app.h"
#include "service/config.h"
#include "service/event_batch.h"
#include "service/gauges.h"
#include "service/log.h"
#include "service/metrics.h"
#include "service/set_batch.h"
#include "service/worker.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Applies pending migrations on a fresh connection; true when the schema is current. */
static bool migrate_once(const struct cb_config *cfg)
{
    struct db_limits limits = cb_config_db_migration_limits(cfg);
    struct db_conn *c = db_conn_open(cfg->database_url, &limits);
    if (!c)
        return false;
    int n = db_migrate(c);
    db_conn_close(c);
    return n >= 0;
}

static int run_migrate(const struct cb_config *cfg)
{
    if (!migrate_once(cfg)) {
        cb_log(CB_LOG_ERROR, "migrations failed",
               json_pack("{s:s}", "hint", "is CALLBACKD_DATABASE_URL reachable?"));
        return 1;
    }
    cb_log(CB_LOG_INFO, "schema is current", json_pack("{s:i}", "schema", db_schema_expected()));
    return 0;
}

static int run_serve(const struct cb_config *cfg)
{
    /* Block the stop signals in every thread; this one waits for them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct cb_app app = {.cfg = cfg};
    struct db_limits api_limits = cb_config_db_api_limits(cfg);
    app.pool = db_pool_new(cfg->database_url, cfg->db_pool_size, &api_limits, cfg->db_pool_wait_ms);
    app.tokens = api_token_cache_new();
    app.metrics = cb_metrics_new(api_routes_count);
    app.sets = cb_set_batcher_new(app.pool, app.metrics);
    app.events = cb_event_batcher_new(app.pool, app.metrics);
    int status = 1;
    struct api_server *server = NULL;
    if (!app.pool || !app.tokens || !app.metrics || !app.sets || !app.events) {
        cb_logf(CB_LOG_ERROR, "out of memory");
        goto out;
    }
    atomic_store(&app.schema_ready, migrate_once(cfg));
    if (!atomic_load(&app.schema_ready))
        cb_logf(CB_LOG_WARN, "database not ready; serving 503 and retrying migrations");

    app.gauges = cb_gauges_start(&app);
    server = api_server_start(&app);
    if (!server)
        goto out; /* it said why */
    app.worker = cb_worker_start(&app);
    cb_log(CB_LOG_INFO, "callbackd listening",
           json_pack("{s:s, s:i, s:s, s:b}", "host", cfg->listen_host, "port", cfg->listen_port,
                     "version", CALLBACKD_VERSION, "tls", cfg->tls_cert != NULL));

    for (;;) {
        struct timespec second = {1, 0};
        int sig = sigtimedwait(&stop, NULL, &second);
        if (sig == SIGTERM || sig == SIGINT) {
            cb_log(CB_LOG_INFO, "stopping",
                   json_pack("{s:s}", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"));
            break;
        }
        if (!atomic_load(&app.schema_ready) && migrate_once(cfg)) {
            atomic_store(&app.schema_ready, true);
            cb_logf(CB_LOG_INFO, "database ready; schema is current");
        }
    }
    /* Stop accepting, finish requests in flight, stop the worker, exit 0 (README, "Operations"). */
    api_server_quiesce(server);
    api_server_stop(server, 10000);
    /* The worker finishes its transaction in progress; a hung database is not waited on for
     * the background sessions' whole answer timeout. */
    db_waits_end_within(CB_DB_STOP_WAIT_MS);
    cb_worker_stop(app.worker);
    status = 0;
out: /* every part stopped and freed on the way out, a failed start's too */
    cb_gauges_stop(app.gauges);
    cb_set_batcher_free(app.sets);
    cb_event_batcher_free(app.events);
    db_pool_free(app.pool);
    api_token_cache_free(app.tokens);
    cb_metrics_free(app.metrics);
    if (status == 0)
        cb_logf(CB_LOG_INFO, "stopped");
    return status;
}

int main(int argc, char **argv)
{
    /* glibc gives each thread that allocates its own arena (up to 8 per core), and each keeps
     * what a large decision freed: with 16 HTTP threads, the worker and the dispatcher, the
     * resident size grew with the largest world every thread had ever loaded. Two arenas keep
     * it near what is in use; allocation is not where callbackd spends its time. */
    mallopt(M_ARENA_MAX, 2);
    struct cb_config cfg;
    char err[256];
    if (cb_config_load(&cfg, argc, argv, err, sizeof err) != 0) {
        fprintf(stderr, "callbackd: %s\n", err);
        return 2;
    }
    if (cfg.mode == CB_RUN_HELP) {
        fputs(cb_config_usage(), stdout);
        return 0;
    }
    if (cfg.mode == CB_RUN_VERSION) {
        printf("callbackd %s\n", CALLBACKD_VERSION);
        return 0;
    }
    if (cfg.mode == CB_RUN_ROUTES) {
        /* The route table as served: the test suite compares it with openapi.yaml. */
        for (int i = 0; i < api_routes_count; i++)
            printf("%s %s\n", api_method_name(api_routes[i].methods), api_routes[i].name);
        return 0;
    }
    cb_log_set_level((enum cb_log_level)cfg.log_level);
    int rc = cfg.mode == CB_RUN_MIGRATE ? run_migrate(&cfg) : run_serve(&cfg);
    cb_config_free(&cfg);
    return rc;
}
