/* Leadership among callbackd processes (CB-54): a session-level advisory lock held on a
 * dedicated connection. The lock lives as long as the session: a process that dies or loses its
 * connection loses it, and the next to try takes it. */
#ifndef DB_LEADER_H
#define DB_LEADER_H

#include "db/pool.h"

/* Advisory lock keys, one per background loop ("cbwk", "cbds"). */
#define DB_LEADER_WORKER_KEY     0x6362776bLL
#define DB_LEADER_DISPATCHER_KEY 0x63626473LL

/* Tries to take the lock `key` on this session without waiting; `*got` says whether it is
 * held now (taking it again when already held stacks: call it only when not leading). */
enum db_status db_leader_try(struct db_conn *c, long long key, bool *got);
/* Releases the lock `key` held by this session. */
enum db_status db_leader_release(struct db_conn *c, long long key);
/* LISTEN on `channel` (a constant identifier) on this session. */
enum db_status db_listen(struct db_conn *c, const char *channel);

#endif
