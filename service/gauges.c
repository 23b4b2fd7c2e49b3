#include "service/gauges.h"
#include "db/callbacks.h"
#include "db/outage.h"
#include "db/outbox.h"
#include "db/pool.h"
#include "service/config.h"
#include "service/metrics.h"
#include "service/clock.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#define GAUGES_RETRY_MS 1000 /* between counts that failed, however often scrapes ask */

struct cb_gauges {
    struct cb_app *app;
    struct db_limits limits;
    struct db_conn *conn; /* NULL until connected, and after a failure */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* on CLOCK_MONOTONIC: asked, counted, or stop */
    bool stop;
    unsigned long long asked;    /* counts asked for: the latest ticket handed out */
    unsigned long long started;  /* the ticket of the count running or last run */
    unsigned long long finished; /* the ticket of the last count that ended (well or not) */
    bool counting;
    long long count_began_ms, retry_at_ms; /* monotonic */
};

/* One count on the thread's session; stores it in the metrics when it worked. */
static bool count(struct cb_gauges *g, long long began_ms)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long began_unix_ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    if (!g->conn && !(g->conn = db_conn_open(g->app->cfg->database_url, &g->limits)))
        return false;
    long long by_state[8], by_status[3];
    enum db_status st = db_callbacks_active_by_state(g->conn, by_state);
    if (st == DB_OK)
        st = db_outbox_count_by_status(g->conn, by_status);
    if (st != DB_OK) {
        db_conn_close(g->conn); /* reconnected on the next count */
        g->conn = NULL;
        return false;
    }
    struct cb_metrics *m = g->app->metrics;
    for (int i = 0; i < 8; i++)
        atomic_store(&m->callbacks_by_state[i], by_state[i]);
    for (int i = 0; i < 3; i++)
        atomic_store(&m->commands_by_status[i], by_status[i]);
    atomic_store(&m->gauges_counted_unix_ms, began_unix_ms);
    atomic_store(&m->gauges_counted_ms, began_ms);
    return true;
}

static void *gauges_main(void *arg)
{
    struct cb_gauges *g = arg;
    pthread_mutex_lock(&g->lock);
    for (;;) {
        long long now = cb_monotonic_ms();
        bool wanted = g->asked > g->started && atomic_load(&g->app->schema_ready);
        if (g->stop)
            break;
        if (!wanted || now < g->retry_at_ms) {
            struct timespec until = cb_monotonic_at(now + (wanted ? g->retry_at_ms - now : 1000));
            pthread_cond_timedwait(&g->changed, &g->lock, &until);
            continue;
        }
        g->started = g->asked; /* this count answers every scrape that asked so far */
        g->counting = true;
        g->count_began_ms = now;
        pthread_mutex_unlock(&g->lock);
        bool ok = count(g, now);
        pthread_mutex_lock(&g->lock);
        g->counting = false;
        g->finished = g->started;
        g->retry_at_ms = ok ? 0 : cb_monotonic_ms() + GAUGES_RETRY_MS;
        pthread_cond_broadcast(&g->changed);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

struct cb_gauges *cb_gauges_start(struct cb_app *app)
{
    struct cb_gauges *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->app = app;
    g->limits = cb_config_db_background_limits(app->cfg);
    /* No count before a scrape asks for one: at 1,000,000 active callbacks a count reads them
     * all (about a second of a core), which a start under load would pay whether or not
     * anything scrapes. The first scrape shows the gauges once its count is done. */
    pthread_mutex_init(&g->lock, NULL);
    cb_cond_init_monotonic(&g->changed);
    if (pthread_create(&g->thread, NULL, gauges_main, g) != 0) {
        pthread_mutex_destroy(&g->lock);
        pthread_cond_destroy(&g->changed);
        free(g);
        return NULL;
    }
    return g;
}

void cb_gauges_refresh(struct cb_gauges *g)
{
    if (!g)
        return;
    long long now = cb_monotonic_ms();
    pthread_mutex_lock(&g->lock);
    unsigned long long ticket = ++g->asked;
    pthread_cond_broadcast(&g->changed);
    /* Not waited on: a count that has run longer than a scrape may wait, the pause after a
     * failed one, an outage. The database is slow or away; the scrape shows what is known. */
    bool slow = (g->counting && now - g->count_began_ms > CB_GAUGES_WAIT_MS) ||
                now < g->retry_at_ms || db_outage_ongoing();
    if (!slow) {
        struct timespec until = cb_monotonic_at(now + CB_GAUGES_WAIT_MS);
        while (g->finished < ticket && !g->stop)
            if (pthread_cond_timedwait(&g->changed, &g->lock, &until) != 0)
                break;
    }
    pthread_mutex_unlock(&g->lock);
}

bool cb_gauges_fresh(struct cb_metrics *m)
{
    long long at = atomic_load(&m->gauges_counted_ms);
    return at > 0 && cb_monotonic_ms() - at <= CB_GAUGES_MAX_AGE_MS;
}

void cb_gauges_stop(struct cb_gauges *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->lock);
    g->stop = true;
    pthread_cond_broadcast(&g->changed);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->thread, NULL);
    db_conn_close(g->conn);
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->changed);
    free(g);
}
