#include "db/directory.h"
#include "db/rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct db_stmt number_kind =
    DB_STMT("number_kind", 1, "SELECT kind FROM directory_numbers WHERE number = $1");
static struct db_stmt number_claim =
    DB_STMT("number_claim", 2,
            "INSERT INTO directory_numbers (number, kind) VALUES ($1, $2) ON CONFLICT DO NOTHING");
static struct db_stmt number_delete =
    DB_STMT("number_delete", 2, "DELETE FROM directory_numbers WHERE number = $1 AND kind = $2");

static struct db_stmt cos_put =
    DB_STMT("cos_put", 2,
            "INSERT INTO classes_of_service (id, callbacks_allowed) VALUES ($1, $2::boolean) "
            "ON CONFLICT (id) DO UPDATE SET callbacks_allowed = EXCLUDED.callbacks_allowed, "
            "updated_at = now()");
static struct db_stmt cos_get =
    DB_STMT("cos_get", 1, "SELECT id, callbacks_allowed FROM classes_of_service WHERE id = $1");
static struct db_stmt cos_list = DB_STMT(
    "cos_list", 2,
    "SELECT id, callbacks_allowed FROM classes_of_service WHERE id > $1 ORDER BY id LIMIT $2::int");

static struct db_stmt station_put = DB_STMT(
    "station_put", 6,
    "INSERT INTO stations (number, kind, cos, prime_line, resilient, console_group) "
    "VALUES ($1, $2, $3, $4, $5::boolean, nullif($6, '')) ON CONFLICT (number) DO UPDATE SET "
    "kind = EXCLUDED.kind, cos = EXCLUDED.cos, prime_line = EXCLUDED.prime_line, "
    "resilient = EXCLUDED.resilient, console_group = EXCLUDED.console_group, updated_at = now()");
static struct db_stmt station_get =
    DB_STMT("station_get", 1, "SELECT " DB_STATION_COLUMNS DB_STATION_FROM "WHERE s.number = $1");
static struct db_stmt station_list = DB_STMT("station_list", 2,
                                             "SELECT " DB_STATION_COLUMNS DB_STATION_FROM
                                             "WHERE s.number > $1 ORDER BY s.number LIMIT $2::int");

static struct db_stmt group_put_trunk = DB_STMT(
    "group_put_trunk", 2,
    "INSERT INTO trunk_groups (number, callback_activation) VALUES ($1, $2::boolean) "
    "ON CONFLICT (number) DO UPDATE SET callback_activation = EXCLUDED.callback_activation, "
    "updated_at = now()");
static struct db_stmt trunk_lines_put = DB_STMT(
    "trunk_lines_put", 2,
    "WITH wanted AS (SELECT value AS line, ordinality::int AS position "
    "                FROM jsonb_array_elements_text($2::jsonb) WITH ORDINALITY), "
    "gone AS (DELETE FROM trunk_lines t WHERE t.trunk_group = $1 "
    "         AND NOT EXISTS (SELECT 1 FROM wanted w WHERE w.line = t.line)) "
    "INSERT INTO trunk_lines (trunk_group, line, position) SELECT $1, line, position FROM wanted "
    "ON CONFLICT (trunk_group, line) DO UPDATE SET position = EXCLUDED.position");
static struct db_stmt group_put_hunt = DB_STMT(
    "group_put_hunt", 2,
    "INSERT INTO hunt_groups (number, callback_activation) VALUES ($1, $2::boolean) "
    "ON CONFLICT (number) DO UPDATE SET callback_activation = EXCLUDED.callback_activation, "
    "updated_at = now()");
static struct db_stmt hunt_members_put =
    DB_STMT("hunt_members_put", 2,
            "WITH wanted AS (SELECT value AS station, ordinality::int AS position "
            "                FROM jsonb_array_elements_text($2::jsonb) WITH ORDINALITY), "
            "gone AS (DELETE FROM hunt_group_members m WHERE m.hunt_group = $1 "
            "         AND NOT EXISTS (SELECT 1 FROM wanted w WHERE w.station = m.station)) "
            "INSERT INTO hunt_group_members (hunt_group, station, position) "
            "SELECT $1, station, position FROM wanted "
            "ON CONFLICT (hunt_group, station) DO UPDATE SET position = EXCLUDED.position");

/* A line's `reserved_for` is the station it is held for: the requester of the callback that
 * reserved it (the `for_station` of its reserve_trunk, CB-15). */
#define TRUNK_GROUP_SELECT                                                                         \
    "SELECT g.number, g.callback_activation, coalesce((SELECT json_agg(json_build_object("         \
    "'line', l.line, 'state', CASE WHEN l.busy THEN 'busy' ELSE 'idle' END, "                      \
    "'reserved_for', (SELECT c.requester FROM callbacks c WHERE c.id = l.reserved_for)) "          \
    "ORDER BY l.position) FROM trunk_lines l "                                                     \
    "WHERE l.trunk_group = g.number), '[]') FROM trunk_groups g "
#define HUNT_GROUP_SELECT                                                                          \
    "SELECT g.number, g.callback_activation, coalesce((SELECT json_agg(m.station "                 \
    "ORDER BY m.position) FROM hunt_group_members m WHERE m.hunt_group = g.number), '[]') "        \
    "FROM hunt_groups g "

static struct db_stmt trunk_group_get =
    DB_STMT("trunk_group_get", 1, TRUNK_GROUP_SELECT "WHERE g.number = $1");
static struct db_stmt trunk_group_list =
    DB_STMT("trunk_group_list", 2,
            TRUNK_GROUP_SELECT "WHERE g.number > $1 ORDER BY g.number LIMIT $2::int");
static struct db_stmt hunt_group_get =
    DB_STMT("hunt_group_get", 1, HUNT_GROUP_SELECT "WHERE g.number = $1");
static struct db_stmt hunt_group_list = DB_STMT(
    "hunt_group_list", 2, HUNT_GROUP_SELECT "WHERE g.number > $1 ORDER BY g.number LIMIT $2::int");

static struct db_stmt first_missing_station =
    DB_STMT("first_missing_station", 1,
            "SELECT n FROM jsonb_array_elements_text($1::jsonb) WITH ORDINALITY AS a(n, i) "
            "WHERE NOT EXISTS (SELECT 1 FROM stations s WHERE s.number = a.n) ORDER BY i LIMIT 1");

static const char *const KIND_NAMES[] = {"", "station", "trunk_group", "hunt_group"};

enum db_status db_number_kind(struct db_conn *c, const char *number, enum db_number_kind *kind)
{
    enum db_status st;
    const char *params[] = {number};
    PGresult *r = db_exec(c, &number_kind, params, &st);
    *kind = DB_NUMBER_FREE;
    if (st == DB_OK && PQntuples(r) == 1)
        for (int k = 1; k < 4; k++)
            if (!strcmp(db_str(r, 0, 0), KIND_NAMES[k]))
                *kind = (enum db_number_kind)k;
    PQclear(r);
    return st;
}

/* Claims `number` for `kind`; DB_CONFLICT when it is another kind's. */
static enum db_status claim(struct db_conn *c, const char *number, enum db_number_kind kind)
{
    const char *params[] = {number, KIND_NAMES[kind]};
    enum db_status st = db_run(c, &number_claim, params);
    if (st != DB_OK)
        return st;
    enum db_number_kind now;
    st = db_number_kind(c, number, &now);
    return st != DB_OK ? st : now == kind ? DB_OK : DB_CONFLICT;
}

enum db_status db_number_delete(struct db_conn *c, const char *number, enum db_number_kind kind,
                                bool *found)
{
    static struct db_stmt station_delete =
        DB_STMT("station_delete", 1, "DELETE FROM stations WHERE number = $1");
    static struct db_stmt trunk_delete =
        DB_STMT("trunk_group_delete", 1, "DELETE FROM trunk_groups WHERE number = $1");
    static struct db_stmt hunt_delete =
        DB_STMT("hunt_group_delete", 1, "DELETE FROM hunt_groups WHERE number = $1");
    struct db_stmt *s = kind == DB_NUMBER_STATION       ? &station_delete
                        : kind == DB_NUMBER_TRUNK_GROUP ? &trunk_delete
                                                        : &hunt_delete;
    const char *params[] = {number, KIND_NAMES[kind]};
    enum db_status st;
    PGresult *r = db_exec(c, s, params, &st); /* uses $1 only */
    *found = st == DB_OK && atoi(PQcmdTuples(r)) > 0;
    PQclear(r);
    if (st == DB_OK && *found)
        st = db_run(c, &number_delete, params);
    return st;
}

enum db_status db_cos_put(struct db_conn *c, const struct db_cos *cos)
{
    const char *params[] = {cos->id, cos->callbacks_allowed ? "true" : "false"};
    return db_run(c, &cos_put, params);
}

static void read_cos(const PGresult *r, int row, struct db_cos *out)
{
    snprintf(out->id, sizeof out->id, "%s", db_str(r, row, 0));
    out->callbacks_allowed = db_bool(r, row, 1);
}

enum db_status db_cos_get(struct db_conn *c, const char *id, struct db_cos *out, bool *found)
{
    enum db_status st;
    const char *params[] = {id};
    PGresult *r = db_exec(c, &cos_get, params, &st);
    *found = st == DB_OK && PQntuples(r) == 1;
    if (*found)
        read_cos(r, 0, out);
    PQclear(r);
    return st;
}

enum db_status db_cos_list(struct db_conn *c, const char *after, int limit, struct db_cos *out,
                           int *n)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *params[] = {after, lim};
    enum db_status st;
    PGresult *r = db_exec(c, &cos_list, params, &st);
    *n = st == DB_OK ? PQntuples(r) : 0;
    for (int i = 0; i < *n; i++)
        read_cos(r, i, &out[i]);
    PQclear(r);
    return st;
}

enum db_status db_station_put(struct db_conn *c, const struct db_station *st)
{
    enum db_status s = claim(c, st->s.number, DB_NUMBER_STATION);
    if (s != DB_OK)
        return s;
    const char *params[] = {
        st->s.number,     cb_kind_name(st->s.kind),           st->cos,
        st->s.prime_line, st->s.resilient ? "true" : "false", st->s.console_group};
    return db_run(c, &station_put, params);
}

static void read_station(const PGresult *r, int row, struct db_station *out)
{
    memset(out, 0, sizeof *out);
    db_station_from_row(r, row, &out->s, out->cos);
}

enum db_status db_station_get(struct db_conn *c, const char *number, struct db_station *out,
                              bool *found)
{
    enum db_status st;
    const char *params[] = {number};
    PGresult *r = db_exec(c, &station_get, params, &st);
    *found = st == DB_OK && PQntuples(r) == 1;
    if (*found)
        read_station(r, 0, out);
    PQclear(r);
    return st;
}

enum db_status db_station_list(struct db_conn *c, const char *after, int limit,
                               struct db_station *out, int *n)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *params[] = {after, lim};
    enum db_status st;
    PGresult *r = db_exec(c, &station_list, params, &st);
    *n = st == DB_OK ? PQntuples(r) : 0;
    for (int i = 0; i < *n; i++)
        read_station(r, i, &out[i]);
    PQclear(r);
    return st;
}

static enum db_status group_put(struct db_conn *c, const struct db_group *g,
                                enum db_number_kind kind)
{
    enum db_status st = claim(c, g->number, kind);
    if (st != DB_OK)
        return st;
    const char *p1[] = {g->number, g->callback_activation ? "true" : "false"};
    st = db_run(c, kind == DB_NUMBER_TRUNK_GROUP ? &group_put_trunk : &group_put_hunt, p1);
    if (st != DB_OK)
        return st;
    char *items = json_dumps(g->items, JSON_COMPACT);
    const char *p2[] = {g->number, items ? items : "[]"};
    st = db_run(c, kind == DB_NUMBER_TRUNK_GROUP ? &trunk_lines_put : &hunt_members_put, p2);
    free(items);
    return st;
}

enum db_status db_trunk_group_put(struct db_conn *c, const struct db_group *g)
{
    return group_put(c, g, DB_NUMBER_TRUNK_GROUP);
}

enum db_status db_hunt_group_put(struct db_conn *c, const struct db_group *g)
{
    return group_put(c, g, DB_NUMBER_HUNT_GROUP);
}

static void read_group(const PGresult *r, int row, struct db_group *out)
{
    snprintf(out->number, sizeof out->number, "%s", db_str(r, row, 0));
    out->callback_activation = db_bool(r, row, 1);
    out->items = json_loads(db_str(r, row, 2), 0, NULL);
    if (!out->items)
        out->items = json_array();
}

enum db_status db_group_get(struct db_conn *c, enum db_number_kind kind, const char *number,
                            struct db_group *out, bool *found)
{
    enum db_status st;
    const char *params[] = {number};
    PGresult *r =
        db_exec(c, kind == DB_NUMBER_TRUNK_GROUP ? &trunk_group_get : &hunt_group_get, params, &st);
    *found = st == DB_OK && PQntuples(r) == 1;
    if (*found)
        read_group(r, 0, out);
    PQclear(r);
    return st;
}

enum db_status db_group_list(struct db_conn *c, enum db_number_kind kind, const char *after,
                             int limit, struct db_group *out, int *n)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *params[] = {after, lim};
    enum db_status st;
    PGresult *r = db_exec(c, kind == DB_NUMBER_TRUNK_GROUP ? &trunk_group_list : &hunt_group_list,
                          params, &st);
    *n = st == DB_OK ? PQntuples(r) : 0;
    for (int i = 0; i < *n; i++)
        read_group(r, i, &out[i]);
    PQclear(r);
    return st;
}

enum db_status db_first_missing_station(struct db_conn *c, json_t *numbers,
                                        char missing[CB_NUMBER_MAX])
{
    char *text = json_dumps(numbers, JSON_COMPACT);
    const char *params[] = {text ? text : "[]"};
    enum db_status st;
    PGresult *r = db_exec(c, &first_missing_station, params, &st);
    missing[0] = '\0';
    if (st == DB_OK && PQntuples(r) == 1)
        snprintf(missing, CB_NUMBER_MAX, "%s", db_str(r, 0, 0));
    PQclear(r);
    free(text);
    return st;
}
