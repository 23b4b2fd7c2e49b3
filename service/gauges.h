/* The gauges /metrics reads from the database (callbacks by state, commands by status), counted
 * by a thread of their own on its own session (issue 11): a scrape asks for a count and waits at
 * most CB_GAUGES_WAIT_MS for it, then renders what is known, so /metrics answers at once
 * whatever the database does. Counts run one at a time, only when a scrape asks: a table scan
 * is not repeated behind the scraper's back, and concurrent scrapes share one count. */
#ifndef CB_GAUGES_H
#define CB_GAUGES_H

#include "service/app.h"

#include <stdbool.h>

/* How long a scrape waits for the count it asked for; a count already running longer than
 * this (a slow or hung database) is not waited for at all. */
#define CB_GAUGES_WAIT_MS 25
/* A count older than this is not shown (the database is away): no stale series. */
#define CB_GAUGES_MAX_AGE_MS 60000

struct cb_gauges;

/* Starts the counting thread (it counts when a scrape asks, once the schema is current); NULL
 * on failure. */
struct cb_gauges *cb_gauges_start(struct cb_app *app);
/* Asks for a count and waits for it up to CB_GAUGES_WAIT_MS; the latest count is then in the
 * metrics (cb_metrics.callbacks_by_state, commands_by_status, gauges_counted_ms). */
void cb_gauges_refresh(struct cb_gauges *g);
/* Whether the metrics hold a count recent enough to show (CB_GAUGES_MAX_AGE_MS). */
struct cb_metrics;
bool cb_gauges_fresh(struct cb_metrics *m);
/* Stops the thread (waits for a count in progress) and frees. */
void cb_gauges_stop(struct cb_gauges *g);

#endif
