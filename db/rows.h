/* The one way to read a callback or a station out of a query: the column lists to SELECT and
 * the readers of those columns. */
#ifndef DB_ROWS_H
#define DB_ROWS_H

#include "db/pool.h"
#include "service/core/core.h"

/* 24 columns of `callbacks`, times as milliseconds since the epoch (0 for NULL). */
#define DB_CALLBACK_COLUMNS                                                                        \
    "id, seq, requester, target, target_type, reason, mode, state, origin_line, notify_line, "     \
    "coalesce(notify_station, ''), coalesce(external_number, ''), coalesce(reserved_line, ''), "   \
    "awaiting_release, hook_cycle_needed, hook_off_seen, idle_report_needed, lamp_lit, "           \
    "(extract(epoch FROM created_at) * 1000)::bigint, "                                            \
    "(extract(epoch FROM updated_at) * 1000)::bigint, "                                            \
    "coalesce((extract(epoch FROM expires_at) * 1000)::bigint, 0), "                               \
    "coalesce((extract(epoch FROM ended_at) * 1000)::bigint, 0), coalesce(end_reason, ''), "       \
    "coalesce(supersedes::text, '') "
#define DB_CALLBACK_NCOLUMNS 24

/* 17 columns of a station with its class of service; use with DB_STATION_FROM. */
#define DB_STATION_COLUMNS                                                                         \
    "s.number, s.kind, s.cos, c.callbacks_allowed, s.prime_line, s.resilient, "                    \
    "coalesce(s.console_group, ''), s.busy, s.hook_off, s.dnd, s.make_busy, "                      \
    "s.attendant_busy_out, coalesce(s.forward_to, ''), s.failed_over, s.console_available, "       \
    "coalesce(s.attempt_result, ''), coalesce(s.attempt_to, '') "
#define DB_STATION_FROM "FROM stations s JOIN classes_of_service c ON c.id = s.cos "

/* Reads the DB_CALLBACK_COLUMNS of `row`. */
void db_callback_from_row(const PGresult *r, int row, struct cb_callback *cb);
/* Reads the DB_STATION_COLUMNS of `row`; the COS id into `cos` (33 bytes) when not NULL. */
void db_station_from_row(const PGresult *r, int row, struct cb_station *s, char *cos);

#endif
