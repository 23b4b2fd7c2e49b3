#include "service/dispatcher.h"
#include "db/leader.h"
#include "db/outbox.h"
#include "service/config.h"
#include "service/hmac.h"
#include "service/leader.h"
#include "service/log.h"
#include "service/metrics.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DISPATCH_BATCH      32
#define DISPATCH_TIMEOUT_MS 5000 /* API.md: no answer in 5 s is a failed attempt */

struct cb_dispatcher {
    struct cb_app *app;
    struct cb_leader seat;
    atomic_bool stop;
    pthread_t thread;
    CURL *curl; /* one handle for every POST: the connection to the PBX is reused */
};

static size_t discard_body(char *data, size_t size, size_t n, void *ctx)
{
    (void)data;
    (void)ctx;
    return size * n;
}

/* Aborts a POST in flight when the process stops. */
static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    struct cb_dispatcher *d = ctx;
    return atomic_load(&d->stop) ? 1 : 0;
}

/* One signed POST of one command; false with `error` filled when it was not acknowledged. */
static bool post_command(struct cb_dispatcher *d, const struct db_command *cmd, char *error,
                         size_t error_len)
{
    char ts[24], sig[CB_SIGNATURE_HEADER_MAX];
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    size_t len = strlen(cmd->json);
    if (!cb_hmac_signature_header(d->app->cfg->pbx_secret, ts, cmd->json, len, sig)) {
        snprintf(error, error_len, "cannot sign the command");
        return false;
    }
    char ts_header[64], sig_header[128];
    snprintf(ts_header, sizeof ts_header, "X-Callbackd-Timestamp: %s", ts);
    snprintf(sig_header, sizeof sig_header, "X-Callbackd-Signature: %s", sig);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    headers = curl_slist_append(headers, ts_header);
    headers = curl_slist_append(headers, sig_header);
    headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
    curl_easy_setopt(d->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(d->curl, CURLOPT_POSTFIELDS, cmd->json);
    curl_easy_setopt(d->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    CURLcode rc = curl_easy_perform(d->curl);
    long status = 0;
    curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(d->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) {
        snprintf(error, error_len, "%s", curl_easy_strerror(rc));
        return false;
    }
    if (status < 200 || status > 299) {
        snprintf(error, error_len, "the PBX answered HTTP %ld", status);
        return false;
    }
    return true;
}

/* One attempt at one command, recorded. Returns the database outcome of the recording. */
static enum db_status attempt(struct cb_dispatcher *d, const struct db_command *cmd)
{
    struct cb_metrics *m = d->app->metrics;
    struct db_conn *c = d->seat.conn;
    if (cmd->expired) {
        /* CB-51: retried until command_ttl_s has passed, then failed. */
        enum db_status st = db_outbox_fail(c, cmd->seq);
        if (st == DB_OK) {
            atomic_fetch_add(&m->commands_failed_total, 1);
            cb_log(CB_LOG_WARN, "command failed: command_ttl_s passed",
                   json_pack("{s:s, s:I, s:i}", "command_id", cmd->id, "seq", (json_int_t)cmd->seq,
                             "attempts", cmd->attempts));
        }
        return st;
    }
    char error[256];
    atomic_fetch_add(&m->command_attempts, 1);
    if (post_command(d, cmd, error, sizeof error)) {
        double latency = -1;
        enum db_status st = db_outbox_delivered(c, cmd->seq, &latency);
        if (st == DB_OK) {
            atomic_fetch_add(&m->commands_delivered_total, 1);
            if (latency >= 0)
                cb_histogram_observe(&m->delivery_latency, latency);
        }
        if (cb_log_enabled(CB_LOG_DEBUG))
            cb_log(CB_LOG_DEBUG, "command delivered",
                   json_pack("{s:s, s:I, s:f}", "command_id", cmd->id, "seq", (json_int_t)cmd->seq,
                             "latency_ms", latency * 1000.0));
        return st;
    }
    cb_log(CB_LOG_WARN, "command not acknowledged; will retry",
           json_pack("{s:s, s:I, s:i, s:s}", "command_id", cmd->id, "seq", (json_int_t)cmd->seq,
                     "attempt", cmd->attempts + 1, "error", error));
    return db_outbox_attempt_failed(c, cmd->seq, error);
}

/* Sends what is due; `*full` when there may be more right away, `*n` how many were due. */
static enum db_status dispatch_round(struct cb_dispatcher *d, bool *full, int *n_due)
{
    struct db_command cmds[DISPATCH_BATCH];
    int n = 0;
    enum db_status st = db_outbox_due(d->seat.conn, DISPATCH_BATCH, cmds, &n);
    *full = st == DB_OK && n == DISPATCH_BATCH;
    *n_due = n;
    for (int i = 0; st == DB_OK && i < n && !atomic_load(&d->stop); i++)
        st = attempt(d, &cmds[i]);
    db_outbox_commands_free(cmds, n);
    return st;
}

static void *dispatcher_main(void *arg)
{
    struct cb_dispatcher *d = arg;
    while (!atomic_load(&d->stop)) {
        bool fresh;
        /* Not before the schema is current: the tables may not exist yet. */
        if (!atomic_load(&d->app->schema_ready) || !cb_leader_hold(&d->seat, &fresh)) {
            cb_leader_wait(&d->seat, 1000);
            continue;
        }
        bool full = false;
        int n_due = 0;
        enum db_status st = dispatch_round(d, &full, &n_due);
        long long next_ms = -1;
        if (st == DB_OK && !full)
            st = db_outbox_next_ms(d->seat.conn, &next_ms);
        if (st == DB_UNAVAILABLE) {
            cb_leader_lost(&d->seat);
            continue;
        }
        if (st != DB_OK) {
            cb_logf(CB_LOG_ERROR, "dispatcher: database error; retrying in 1 s");
            cb_leader_wait(&d->seat, 1000);
            continue;
        }
        /* Nothing was due yet something is said to be: never spin on it. */
        if (n_due == 0 && next_ms == 0)
            next_ms = CB_IDLE_FLOOR_MS;
        if (!full)
            cb_leader_wait(&d->seat, next_ms < 0 || next_ms > 1000 ? 1000 : (int)next_ms);
    }
    return NULL;
}

struct cb_dispatcher *cb_dispatcher_start(struct cb_app *app)
{
    if (!app->cfg->pbx_command_url) {
        cb_logf(CB_LOG_INFO, "no CALLBACKD_PBX_COMMAND_URL: commands are kept, not sent");
        return NULL;
    }
    struct cb_dispatcher *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->app = app;
    d->curl = curl_easy_init();
    if (!d->curl || !cb_leader_init(&d->seat, "dispatcher", app->cfg->database_url,
                                    DB_LEADER_DISPATCHER_KEY, DB_OUTBOX_CHANNEL, NULL)) {
        if (d->curl)
            curl_easy_cleanup(d->curl);
        free(d);
        return NULL;
    }
    curl_easy_setopt(d->curl, CURLOPT_URL, app->cfg->pbx_command_url);
    curl_easy_setopt(d->curl, CURLOPT_POST, 1L);
    curl_easy_setopt(d->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(d->curl, CURLOPT_TIMEOUT_MS, (long)DISPATCH_TIMEOUT_MS);
    curl_easy_setopt(d->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)DISPATCH_TIMEOUT_MS);
    curl_easy_setopt(d->curl, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(d->curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(d->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(d->curl, CURLOPT_XFERINFODATA, d);
    curl_easy_setopt(d->curl, CURLOPT_TCP_NODELAY, 1L);
    if (pthread_create(&d->thread, NULL, dispatcher_main, d) != 0) {
        cb_leader_fini(&d->seat);
        curl_easy_cleanup(d->curl);
        free(d);
        return NULL;
    }
    return d;
}

void cb_dispatcher_wake(struct cb_dispatcher *d)
{
    if (d)
        cb_leader_wake(&d->seat);
}

void cb_dispatcher_stop(struct cb_dispatcher *d)
{
    if (!d)
        return;
    atomic_store(&d->stop, true);
    cb_leader_wake(&d->seat);
    pthread_join(d->thread, NULL);
    cb_leader_fini(&d->seat);
    curl_easy_cleanup(d->curl);
    free(d);
}
