#include "service/app.h"
#include "service/core/core.h"
#include "service/gauges.h"
#include "service/metrics.h"

/* The database counts: active callbacks by state, commands by status, and when that count
 * began. */
void cb_metrics_render_counts(struct cb_text *t, struct cb_app *app)
{
    struct cb_metrics *m = app->metrics;
    if (!cb_gauges_fresh(m))
        return;
    cb_text_printf(t,
                   "# HELP callbackd_db_counts_timestamp_seconds When the database counts shown "
                   "(callbackd_callbacks, callbackd_commands) began.\n"
                   "# TYPE callbackd_db_counts_timestamp_seconds gauge\n"
                   "callbackd_db_counts_timestamp_seconds %.3f\n"
                   "# HELP callbackd_callbacks Active callbacks by state.\n"
                   "# TYPE callbackd_callbacks gauge\n",
                   (double)atomic_load(&m->gauges_counted_unix_ms) / 1000.0);
    for (int s = CB_STATE_PENDING; s <= CB_STATE_MESSAGE_LEFT; s++)
        cb_text_printf(t, "callbackd_callbacks{state=\"%s\"} %lld\n",
                       cb_state_name((enum cb_state)s),
                       (long long)atomic_load(&m->callbacks_by_state[s]));
    cb_text_printf(t,
                   "# HELP callbackd_commands Commands in the outbox by status.\n"
                   "# TYPE callbackd_commands gauge\n"
                   "callbackd_commands{status=\"pending\"} %lld\n"
                   "callbackd_commands{status=\"delivered\"} %lld\n"
                   "callbackd_commands{status=\"failed\"} %lld\n",
                   (long long)atomic_load(&m->commands_by_status[0]),
                   (long long)atomic_load(&m->commands_by_status[1]),
                   (long long)atomic_load(&m->commands_by_status[2]));
}

void cb_metrics_render_pbx(struct cb_text *t, struct cb_app *app)
{
    struct cb_metrics *m = app->metrics;
    cb_text_printf(
        t,
        "# HELP callbackd_events_total PBX events by outcome.\n"
        "# TYPE callbackd_events_total counter\n"
        "callbackd_events_total{outcome=\"received\"} %llu\n"
        "callbackd_events_total{outcome=\"duplicate\"} %llu\n"
        "callbackd_events_total{outcome=\"applied\"} %llu\n"
        "callbackd_events_total{outcome=\"ignored\"} %llu\n"
        "# HELP callbackd_event_stores_total Statements (each its own transaction) that stored "
        "webhook batches, concurrent webhooks together.\n"
        "# TYPE callbackd_event_stores_total counter\n"
        "callbackd_event_stores_total %llu\n"
        "# HELP callbackd_inbox_lag Events stored but not yet applied (worker's view).\n"
        "# TYPE callbackd_inbox_lag gauge\n"
        "callbackd_inbox_lag %lld\n"
        "# HELP callbackd_command_delivery_attempts_total POSTs of commands to the PBX.\n"
        "# TYPE callbackd_command_delivery_attempts_total counter\n"
        "callbackd_command_delivery_attempts_total %llu\n"
        "# HELP callbackd_commands_handed_off_total Commands sent as the transaction that wrote "
        "them committed, without reading them back from the outbox.\n"
        "# TYPE callbackd_commands_handed_off_total counter\n"
        "callbackd_commands_handed_off_total %llu\n"
        "# HELP callbackd_commands_total Commands by final status, by this process.\n"
        "# TYPE callbackd_commands_total counter\n"
        "callbackd_commands_total{status=\"delivered\"} %llu\n"
        "callbackd_commands_total{status=\"failed\"} %llu\n"
        "# HELP callbackd_timers_fired_total Timers fired by the worker.\n"
        "# TYPE callbackd_timers_fired_total counter\n"
        "callbackd_timers_fired_total %llu\n"
        "# HELP callbackd_api_sets_total Callbacks set through the API by group commit.\n"
        "# TYPE callbackd_api_sets_total counter\n"
        "callbackd_api_sets_total %llu\n"
        "# HELP callbackd_api_set_transactions_total Transactions that applied them.\n"
        "# TYPE callbackd_api_set_transactions_total counter\n"
        "callbackd_api_set_transactions_total %llu\n"
        "# HELP callbackd_api_sets_in_flight Sets submitted to group commit, not yet answered.\n"
        "# TYPE callbackd_api_sets_in_flight gauge\n"
        "callbackd_api_sets_in_flight %lld\n"
        "# HELP callbackd_worker_leader 1 while this process runs the worker.\n"
        "# TYPE callbackd_worker_leader gauge\n"
        "callbackd_worker_leader %d\n",
        atomic_load(&m->events_received), atomic_load(&m->events_duplicate),
        atomic_load(&m->events_applied), atomic_load(&m->events_ignored),
        atomic_load(&m->events_stores), (long long)atomic_load(&m->inbox_lag),
        atomic_load(&m->command_attempts), atomic_load(&m->commands_handed_off),
        atomic_load(&m->commands_delivered_total), atomic_load(&m->commands_failed_total),
        atomic_load(&m->timers_fired), atomic_load(&m->api_sets),
        atomic_load(&m->api_set_transactions), (long long)atomic_load(&m->api_sets_in_flight),
        atomic_load(&m->worker_leader));
    cb_text_printf(t, "# HELP callbackd_command_delivery_seconds Command created to acknowledged.\n"
                      "# TYPE callbackd_command_delivery_seconds histogram\n");
    cb_histogram_render(t, "callbackd_command_delivery_seconds", "", &m->delivery_latency);
}
