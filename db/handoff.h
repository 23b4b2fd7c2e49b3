/* Commands handed from the transaction that writes them to the dispatcher of the same process
 * (CB-51), so that it sends them as that transaction commits instead of reading them back from
 * the outbox first.
 *
 * A writer's outbox insert returns its rows before the answer to its COMMIT (in the same round
 * trip, or an earlier one), and the writer offers them while the transaction is still open: no
 * reader of the outbox can see them yet. They are tentative until the writer settles: its
 * commit confirms them, anything else withdraws them. The dispatcher takes only confirmed ones,
 * and forgets any that a read of the outbox returned (that read owns them from then on), so a
 * command is never sent twice by the two roads. Offers are refused while the dispatcher does not
 * lead here, and leading afresh drops what was offered before. Nothing here is needed for
 * correctness: whatever is refused, withdrawn or not taken is still pending in the outbox. */
#ifndef DB_HANDOFF_H
#define DB_HANDOFF_H

#include <stdbool.h>

#include "db/outbox.h"

/* Commands one transaction may hand over; more are left to the outbox's readers. */
#define DB_HANDOFF_MAX 64

/* A command as the insert returned it: `first` when no earlier command of its order key was
 * pending in the transaction's view (the dispatcher may send it once no command of that key is
 * in its hands). */
struct db_handoff_command {
    struct db_command cmd;
    bool first;
};

/* The dispatcher leads in this process from now on: drops anything offered before, accepts
 * offers, and calls `wake(arg)` when a commit confirms some (from the committing thread). */
void db_handoff_open(void (*wake)(void *arg), void *arg);
/* The dispatcher does not lead here (any more): drops everything, refuses offers. */
void db_handoff_close(void);
/* Offers `n` commands written by the open transaction of `owner` (its connection), in seq order:
 * all are taken (their strings owned by the hand-off from now on) or none (false: closed, or no
 * room; the caller keeps them). */
bool db_handoff_offer(const void *owner, struct db_handoff_command *cmds, int n);
/* The transaction of `owner` ended: `committed` confirms its commands, otherwise they are
 * withdrawn (freed). */
void db_handoff_settle(const void *owner, bool committed);
/* Moves up to `max` confirmed commands, lowest seq first, into `out` (the caller owns them). */
int db_handoff_take(struct db_handoff_command *out, int max);
/* A read of the outbox returned the command `seq`: it is the reader's, not the hand-off's. */
void db_handoff_forget(long long seq);

#endif
