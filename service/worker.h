/* The PBX loop's background threads: leader election (CB-54), the worker that applies the
 * event inbox in order and fires due timers (CB-50, CB-52), and the command dispatcher (CB-51). */
#ifndef CB_WORKER_H
#define CB_WORKER_H

#include "service/app.h"

struct cb_worker;

/* Starts the threads; they compete for leadership and work only while they hold it. */
struct cb_worker *cb_worker_start(struct cb_app *app);
/* Stops cleanly: finishes the transaction in progress, releases leadership, joins. */
void cb_worker_stop(struct cb_worker *w);

#endif
