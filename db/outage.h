/* Whether the database answers, as this process sees it (issue 11). Every connection reports to
 * it: the API pool, the worker's and the dispatcher's sessions, the metrics counter, migrations.
 *
 * Its log: one warning when the database stops answering (a connection attempt failed, or a
 * round trip got no answer in time), one info line when it answers again with how long it was
 * away, the attempts that failed and the requests refused meanwhile; never a line per request.
 * It is also the API pool's circuit breaker: during an outage a request does not wait on a
 * database known to be away (503 at once), and one request a second probes it.
 *
 * Process-wide state, like the logger's (STYLE.md 9): an outage is the process's, not a pool's. */
#ifndef DB_OUTAGE_H
#define DB_OUTAGE_H

#include <stdbool.h>

/* During an outage, one caller may try the database this often. */
#define DB_OUTAGE_PROBE_MS 1000

/* A connection attempt failed, or a round trip got no answer in time: `error` says which;
 * `began_ms` (cb_monotonic_ms) is when that attempt or round trip began. One begun before the
 * last outage ended was part of it (its answer was due while the database was away: a connection
 * attempt started in a hang times out after the database is back) and opens no new outage. */
void db_outage_failed(const char *error, long long began_ms);
/* The database answered (a connection was made, a result came back); ends an outage. Cheap. */
void db_outage_answered(void);
/* Whether an outage is under way. */
bool db_outage_ongoing(void);
/* Whether the caller may use the database now: always outside an outage, once a
 * DB_OUTAGE_PROBE_MS during one (the probe). */
bool db_outage_may_try(void);
/* A request was refused (503) because the database is away: counted for the summary. */
void db_outage_refused(void);

#endif
