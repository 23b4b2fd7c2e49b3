#include "db/options.h"

#include <stdio.h>

#define OPTION_COLUMNS DB_OPTION_COLUMNS " FROM system_options"

static struct db_stmt options_get = DB_STMT("options_get", 0, "SELECT " OPTION_COLUMNS);
static struct db_stmt options_get_locked =
    DB_STMT("options_get_locked", 0, "SELECT " OPTION_COLUMNS " FOR UPDATE");
static struct db_stmt options_put =
    DB_STMT("options_put", 10,
            "UPDATE system_options SET callback_cancel_timer_s = $1::int, notification_timeout_s = "
            "$2::int, "
            "recall_timeout_s = $3::int, command_ttl_s = $4::int, max_per_requester = $5::int, "
            "max_per_target = $6::int, digit_collection_during_busy_or_alerting = $7::boolean, "
            "fac_setup = $8, fac_cancel_all = $9, fac_cancel_individual = $10, updated_at = now()");

enum db_status db_options_read(const PGresult *r, struct cb_options *o)
{
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        return DB_ERROR;
    o->callback_cancel_timer_s = db_int(r, 0, 0);
    o->notification_timeout_s = db_int(r, 0, 1);
    o->recall_timeout_s = db_int(r, 0, 2);
    o->command_ttl_s = db_int(r, 0, 3);
    o->max_per_requester = db_int(r, 0, 4);
    o->max_per_target = db_int(r, 0, 5);
    o->digit_collection_during_busy_or_alerting = db_bool(r, 0, 6);
    snprintf(o->fac.setup, sizeof o->fac.setup, "%s", db_str(r, 0, 7));
    snprintf(o->fac.cancel_all, sizeof o->fac.cancel_all, "%s", db_str(r, 0, 8));
    snprintf(o->fac.cancel_individual, sizeof o->fac.cancel_individual, "%s", db_str(r, 0, 9));
    return DB_OK;
}

enum db_status db_options_get(struct db_conn *c, struct cb_options *o, bool lock)
{
    enum db_status st;
    PGresult *r = db_exec(c, lock ? &options_get_locked : &options_get, NULL, &st);
    if (st == DB_OK)
        st = db_options_read(r, o);
    PQclear(r);
    return st;
}

enum db_status db_options_put(struct db_conn *c, const struct cb_options *o)
{
    char v[6][24];
    const int64_t nums[6] = {o->callback_cancel_timer_s, o->notification_timeout_s,
                             o->recall_timeout_s,        o->command_ttl_s,
                             o->max_per_requester,       o->max_per_target};
    for (int i = 0; i < 6; i++)
        snprintf(v[i], sizeof v[i], "%lld", (long long)nums[i]);
    const char *params[] = {v[0],
                            v[1],
                            v[2],
                            v[3],
                            v[4],
                            v[5],
                            o->digit_collection_during_busy_or_alerting ? "true" : "false",
                            o->fac.setup,
                            o->fac.cancel_all,
                            o->fac.cancel_individual};
    return db_run(c, &options_put, params);
}
