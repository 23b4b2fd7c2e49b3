/* The command dispatcher (CB-51): POSTs each pending command of the outbox to the PBX, signed,
 * in order per station, retrying with backoff until acknowledged or past command_ttl_s. One
 * process at a time dispatches (its own advisory lock), so no command is sent twice at once. */
#ifndef CB_DISPATCHER_H
#define CB_DISPATCHER_H

#include "service/app.h"

struct cb_dispatcher;

/* Starts the dispatcher thread; NULL (nothing to do) without CALLBACKD_PBX_COMMAND_URL. */
struct cb_dispatcher *cb_dispatcher_start(struct cb_app *app);
/* Stops it (an attempt in flight is abandoned and retried by the next leader). */
void cb_dispatcher_stop(struct cb_dispatcher *d);

#endif
