/* Leadership among callbackd processes (CB-54): a session-level advisory lock held on a
 * dedicated connection. The lock lives as long as the session: a process that dies or loses its
 * connection loses it, and the next to try takes it. */
#ifndef DB_LEADER_H
#define DB_LEADER_H

#include "db/pool.h"

/* Advisory lock keys, one per background loop ("cbwk", "cbds"). */
#define DB_LEADER_WORKER_KEY     0x6362776bLL
#define DB_LEADER_DISPATCHER_KEY 0x63626473LL

/* The loops leading in this process. A commit that gives work to a loop leading here wakes it
 * in-process after the commit; only when the loop leads elsewhere (or nowhere yet) does the writing
 * statement send a NOTIFY. Every transaction that notifies commits one at a time in PostgreSQL
 * (a database-wide lock held through the commit's WAL flush), so a NOTIFY on every webhook and
 * every decision would serialize them all. Thread-safe. */
/* Says whether the loop of `key` leads in this process, and how to wake it (`wake(arg)`). */
void db_leader_local(long long key, bool leading, void (*wake)(void *arg), void *arg);
/* Whether the loop of `key` leads in this process. */
bool db_leader_is_local(long long key);
/* Wakes the loop of `key` if it leads in this process; false otherwise. */
bool db_leader_local_wake(long long key);
/* After the commit of `c`'s transaction: wakes the loops its statements gave work to
 * (`c->wake_on_commit`, a set of DB_WAKE_* bits), then forgets them. */
void db_leader_wake_committed(struct db_conn *c);
#define DB_WAKE_WORKER     1u
#define DB_WAKE_DISPATCHER 2u

/* Tries to take the lock `key` on this session without waiting; `*got` says whether it is
 * held now (taking it again when already held stacks: call it only when not leading). */
enum db_status db_leader_try(struct db_conn *c, long long key, bool *got);
/* Releases the lock `key` held by this session. */
enum db_status db_leader_release(struct db_conn *c, long long key);
/* LISTEN on `channel` (a constant identifier) on this session. */
enum db_status db_listen(struct db_conn *c, const char *channel);

/* The notifications of a listening session, for a loop that polls its socket. */
/* The session's socket to poll for input, or -1. */
int db_conn_socket(const struct db_conn *c);
/* Whether the session is still connected. */
bool db_conn_alive(const struct db_conn *c);
/* Forgets the notifications already read; true if there was one. */
bool db_notifications_drain(struct db_conn *c);
/* Reads what arrived on the socket and forgets its notifications (`*any`: there was one);
 * false when the session is dead. */
bool db_notifications_read(struct db_conn *c, bool *any);

#endif
