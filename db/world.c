#include "db/world.h"
#include "db/array.h"
#include "db/options.h"
#include "db/outbox.h"
#include "db/rows.h"
#include "db/timers.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Engaged: notifying or recalling (CB-17: such a callback holds its requester and a slot of its
 * target). */
#define ENGAGED "state IN ('notifying', 'recalling')"

/* The rows of `table` that match `cond` for one row of the set before it, as a LATERAL subquery
 * that the planner cannot flatten (OFFSET 0): a key probe per member of the set, whatever the
 * estimates say. A join or a `= ANY(array)` filter instead may be planned as a scan of a whole
 * partial index compared with every member (rows times members: 131 ms for 4,000 engaged
 * callbacks against a group of 200 events). Each probe's condition implies the predicate of one
 * partial index only (migration 005), so no plan reads an index whole either. */
#define PROBE(cols, table, cond)                                                                   \
    "LATERAL (SELECT " cols " FROM " table " WHERE " cond " OFFSET 0) AS c"

/* What a decision on the seed concerns, found through indexes bounded by the parties (never the
 * size of the table; ended callbacks are in none of these partial indexes):
 *   s   the seed numbers and the hunt groups they are members of;
 *   c1  the active callbacks of s: set by, waiting on, or ringing one of them, and those named
 *       (so the whole queue of every target in s);
 *   tq  the targets of c1's engaged or named callbacks outside s: the decision may end those
 *       callbacks and free a slot, so the whole queue behind them is scheduled (CB-17, CB-23);
 *   t   the scope: s, tq, and the targets of c1 when a requester of s may become free to be
 *       rung (not $3, the seed's "narrow"; or a callback of c1 is engaged and may end) or when
 *       the decision is about a callback named by id; of those, not a station that cannot take
 *       a recall now whatever this decision does (busy, failed over, DND, Make Busy, Attendant
 *       Busy-out: CB-11, CB-14, CB-19), since nothing waiting on it can mature, unless the
 *       callback is queued for its console (CB-31: it returns to pending when its target is
 *       not free);
 *   c2  the queues of tq, and the engaged callbacks of the rest of t: on a target that only a
 *       requester's becoming free brings into scope, nothing but that requester's callback can
 *       mature (every other waiting callback was scheduled when its own requester or the target
 *       last changed), and only the target's engaged count is needed to decide it (CB-17).
 *       They are read from the target's queue (one index answers each probe: migration 005).
 * Whole rows are read once, where they are found (c1, c2), and kept once per id (the locking
 * statement reads only the columns it needs: `cols`). The station
 * test is a scalar subquery, a key probe per distinct target of c1, not per callback (a probe
 * per row cost 8 ms of a group's 20 with 20 targets of 50 queued callbacks). */
/* The CTE `name`: the numbers of the CTE `from` and the hunt groups they are members of. */
#define WITH_HUNT_GROUPS(name, from)                                                               \
    name " AS MATERIALIZED (SELECT n FROM " from " UNION SELECT c.hunt_group FROM " from           \
         ", " PROBE("hunt_group", "hunt_group_members", "station = " from ".n") ")"

// clang-format off
#define WORLD_SCOPE(cols) \
    "WITH q AS MATERIALIZED (SELECT unnest(" SEED_NUMBERS ") AS n), " WITH_HUNT_GROUPS("s", "q") ", " \
    "c1 AS MATERIALIZED (SELECT DISTINCT ON (id) * FROM (" \
    "  SELECT c.* FROM s, " PROBE(cols, "callbacks", "requester = s.n AND ended_at IS NULL") \
    "  UNION ALL SELECT c.* FROM s, " PROBE(cols, "callbacks", "target = s.n AND ended_at IS NULL") \
    "  UNION ALL SELECT c.* FROM s, " \
    PROBE(cols, "callbacks", "notify_station = s.n AND ended_at IS NULL AND " ENGAGED) \
    "  UNION ALL SELECT c.* FROM unnest($2::uuid[]) AS i(id), " \
    PROBE(cols, "callbacks", "id = i.id AND ended_at IS NULL") ") AS x ORDER BY id), " \
    "tq AS MATERIALIZED (SELECT target AS n FROM c1 WHERE " ENGAGED " OR id = ANY($2::uuid[]) " \
    "  EXCEPT SELECT n FROM s), " \
    "t AS MATERIALIZED (SELECT n FROM s UNION SELECT n FROM tq UNION SELECT g.target FROM " \
    "  (SELECT target, bool_or(state = 'queued') AS queued FROM c1 GROUP BY target) AS g " \
    "  WHERE (NOT $3::boolean OR cardinality($2::uuid[]) > 0 OR EXISTS (SELECT 1 FROM c1 " \
    "  WHERE " ENGAGED ")) AND (g.queued OR coalesce((SELECT NOT (x.busy OR " \
    "  x.failed_over OR x.dnd OR x.make_busy OR x.attendant_busy_out) FROM stations x " \
    "  WHERE x.number = g.target), true))), " \
    "c2 AS MATERIALIZED (SELECT c.* FROM tq, " \
    PROBE(cols, "callbacks", "target = tq.n AND ended_at IS NULL") \
    "  UNION ALL SELECT c.* FROM (SELECT n FROM t EXCEPT SELECT n FROM s EXCEPT SELECT n FROM tq) AS e, " \
    PROBE(cols, "callbacks", "target = e.n AND ended_at IS NULL") " WHERE c." ENGAGED "), "

/* The statements of a decision are planned once per connection, not at every execution: their
 * plans are key probes whatever the parameters, and planning world_callbacks afresh cost 2 ms a
 * decision (PostgreSQL keeps re-planning when a generic plan's estimate looks dearer than the
 * custom ones it has seen). For this transaction only: other queries keep the default. */
static struct db_stmt world_generic_plans =
    DB_STMT("world_generic_plans", 0, "SET LOCAL plan_cache_mode = force_generic_plan");

/* The seed numbers, with the trunk groups that prefix a dialed number ("9" for "95551234": the
 * core splits such a number into trunk group and outside number, cb_core_resolve_number),
 * left in a setting of the transaction for the statements after it in the same round trip
 * (SEED_NUMBERS), and returned: the scope when no callback is loaded. The trunk groups' primary
 * key is probed with every prefix, rather than the trunk groups scanned. */
#define WORLD_SEED_SETTING "callbackd.world_seed"
#define SEED_TEXT "coalesce(nullif(current_setting('" WORLD_SEED_SETTING "', true), ''), $1)"
#define SEED_NUMBERS SEED_TEXT "::text[]"
static struct db_stmt world_seed = DB_STMT(
    "world_seed", 2,
    "SELECT set_config('" WORLD_SEED_SETTING "', array(SELECT unnest($1::text[]) UNION "
    "SELECT c.number FROM unnest($2::text[]) AS d(n), generate_series(1, length(d.n)) AS k, "
    PROBE("number", "trunk_groups", "number = left(d.n, k)") ")::text, true)");

/* Every number the world needs, found by world_callbacks and read by the statements after it
 * in the same round trip (a setting of the transaction: statements of a pipeline run in
 * order); world_lock empties it first. Unset (no callback loaded): the seed numbers
 * (SEED_NUMBERS). */
#define WORLD_NUMBERS_SETTING "callbackd.world_numbers"
#define WORLD_NUMBERS \
    "coalesce(nullif(current_setting('" WORLD_NUMBERS_SETTING "', true), ''), " SEED_TEXT ")::text[]"

/* The numbers a decision on the seed may touch (the scope and every requester loaded with it),
 * locked in sorted order before anything is read. */
static struct db_stmt world_lock = DB_STMT(
    "world_lock", 3,
    WORLD_SCOPE("id, requester, target, state")
    "l AS (SELECT n FROM t UNION SELECT requester FROM c1 UNION SELECT requester FROM c2) "
    "SELECT count(pg_advisory_xact_lock(25442, k)), "
    "set_config('" WORLD_NUMBERS_SETTING "', '', true) FROM "
    "(SELECT DISTINCT hashtext(n) AS k FROM l ORDER BY 1) AS keys");

/* The active callbacks concerned: c1, c2, and every engaged one ringing a requester of those or
 * a console of such a requester's console group (to know who is already engaged: CB-17, CB-31);
 * and a callback named by id that has ended, outside the scope, so that the core can tell a
 * request on it "already ended" from "no such callback".
 * The first row also carries the scope (column 25, t), and leaves every number the world needs
 * in WORLD_NUMBERS_SETTING (column 26): once, not on every row, since a group of events may
 * load thousands of callbacks. */
static struct db_stmt world_callbacks = DB_STMT(
    "world_callbacks", 3,
    WORLD_SCOPE("*")
    "r AS MATERIALIZED (SELECT requester AS n FROM c1 UNION SELECT requester FROM c2), "
    "p AS MATERIALIZED (SELECT n FROM r UNION SELECT o.number FROM r, "
    PROBE("console_group", "stations", "number = r.n AND kind = 'console'") ", stations o "
    "  WHERE o.console_group = c.console_group AND o.kind = 'console'), "
    "cb AS MATERIALIZED (SELECT DISTINCT ON (id) * FROM (SELECT * FROM c1 UNION ALL "
    "  SELECT * FROM c2 UNION ALL SELECT c.* FROM p, "
    PROBE("*", "callbacks", "notify_station = p.n AND ended_at IS NULL AND " ENGAGED)
    "  UNION ALL SELECT c.* FROM unnest($2::uuid[]) AS i(id), "
    PROBE("*", "callbacks", "id = i.id AND ended_at IS NOT NULL")
    ") AS x ORDER BY id) "
    "SELECT " DB_CALLBACK_COLUMNS ", CASE WHEN seq = (SELECT min(seq) FROM cb) THEN "
    "(SELECT array_agg(n) FROM t) END, "
    "CASE WHEN seq = (SELECT min(seq) FROM cb) THEN set_config('" WORLD_NUMBERS_SETTING "', "
    "(SELECT array(SELECT n FROM s UNION SELECT requester FROM cb UNION SELECT target FROM cb "
    "  UNION SELECT notify_station FROM cb WHERE notify_station IS NOT NULL))::text, true) "
    "IS NULL END "
    "FROM cb ORDER BY seq");
// clang-format on

/* The stations named, the members of hunt groups named, and the consoles sharing a console
 * group with a console named (CB-31 rerouting); the hunt groups of members named. */
// clang-format off
static struct db_stmt world_stations = DB_STMT(
    "world_stations", 1,
    "WITH n AS MATERIALIZED (SELECT DISTINCT unnest(" WORLD_NUMBERS ") AS n), "
    WITH_HUNT_GROUPS("g", "n") ", "
    "more AS MATERIALIZED (SELECT n FROM n UNION SELECT c.station FROM g, "
    PROBE("station", "hunt_group_members", "hunt_group = g.n") " UNION SELECT o.number FROM n, "
    PROBE("console_group", "stations", "number = n.n AND kind = 'console'") ", stations o "
    "  WHERE o.console_group = c.console_group AND o.kind = 'console') "
    "SELECT " DB_STATION_COLUMNS "FROM more, "
    "LATERAL (SELECT * FROM stations WHERE number = more.n OFFSET 0) AS s "
    "JOIN classes_of_service c ON c.id = s.cos ORDER BY s.number");
// clang-format on

// clang-format off
static struct db_stmt world_trunks = DB_STMT(
    "world_trunks", 1,
    "SELECT c.number, c.callback_activation, l.line, l.busy, coalesce(l.reserved_for::text, '') "
    "FROM (SELECT DISTINCT unnest(" WORLD_NUMBERS ") AS n) AS n, "
    PROBE("number, callback_activation", "trunk_groups", "number = n.n") " "
    "LEFT JOIN LATERAL (SELECT * FROM trunk_lines WHERE trunk_group = c.number OFFSET 0) AS l "
    "ON true ORDER BY c.number, l.position");

static struct db_stmt world_hunts = DB_STMT(
    "world_hunts", 1,
    "WITH n AS MATERIALIZED (SELECT unnest(" WORLD_NUMBERS ") AS n), "
    WITH_HUNT_GROUPS("h", "n") " "
    "SELECT c.number, c.callback_activation, m.station FROM h, "
    PROBE("number, callback_activation", "hunt_groups", "number = h.n") " "
    "LEFT JOIN LATERAL (SELECT station, position FROM hunt_group_members "
    "WHERE hunt_group = c.number OFFSET 0) AS m ON true ORDER BY c.number, m.position");
// clang-format on

/* Reads trunk groups with their lines (one row per line, grouped by number). */
static void read_trunks(const PGresult *r, struct cb_world *w)
{
    int rows = PQntuples(r);
    w->trunk_groups = calloc((size_t)rows + 1, sizeof *w->trunk_groups);
    for (int i = 0; i < rows && w->trunk_groups; i++) {
        struct cb_trunk_group *g =
            w->n_trunk_groups ? &w->trunk_groups[w->n_trunk_groups - 1] : NULL;
        if (!g || strcmp(g->number, db_str(r, i, 0)) != 0) {
            g = &w->trunk_groups[w->n_trunk_groups++];
            snprintf(g->number, sizeof g->number, "%s", db_str(r, i, 0));
            g->callback_activation = db_bool(r, i, 1);
            g->lines = calloc((size_t)rows, sizeof *g->lines);
        }
        if (db_is_null(r, i, 2) || !g->lines)
            continue;
        struct cb_trunk_line *l = &g->lines[g->n_lines++];
        snprintf(l->id, sizeof l->id, "%s", db_str(r, i, 2));
        l->busy = db_bool(r, i, 3);
        snprintf(l->reserved_for, sizeof l->reserved_for, "%s", db_str(r, i, 4));
    }
}

/* Reads hunt groups with their members (one row per member, grouped by number). */
static void read_hunts(const PGresult *r, struct cb_world *w)
{
    int rows = PQntuples(r);
    w->hunt_groups = calloc((size_t)rows + 1, sizeof *w->hunt_groups);
    for (int i = 0; i < rows && w->hunt_groups; i++) {
        struct cb_hunt_group *g = w->n_hunt_groups ? &w->hunt_groups[w->n_hunt_groups - 1] : NULL;
        if (!g || strcmp(g->number, db_str(r, i, 0)) != 0) {
            g = &w->hunt_groups[w->n_hunt_groups++];
            snprintf(g->number, sizeof g->number, "%s", db_str(r, i, 0));
            g->callback_activation = db_bool(r, i, 1);
            g->members = calloc((size_t)rows, sizeof *g->members);
        }
        if (db_is_null(r, i, 2) || !g->members)
            continue;
        snprintf(g->members[g->n_members++], CB_NUMBER_MAX, "%s", db_str(r, i, 2));
    }
}

/* Fills the world's scope from a text[] of directory numbers as PostgreSQL prints it ("{1,2}":
 * directory numbers need no quoting). */
static void read_scope(const char *array, struct cb_world *w)
{
    size_t n = 1;
    for (const char *p = array; *p; p++)
        n += *p == ',';
    w->scope_targets = calloc(n, sizeof *w->scope_targets);
    if (!w->scope_targets)
        return;
    const char *p = array + (*array == '{');
    while (*p && *p != '}') {
        size_t len = strcspn(p, ",}");
        if (len > 0 && len < CB_NUMBER_MAX) {
            memcpy(w->scope_targets[w->n_scope_targets], p, len);
            w->scope_targets[w->n_scope_targets++][len] = '\0';
        }
        p += len + (p[len] == ',');
    }
}

/* Reads the callbacks and the scope (without callbacks, the seed's numbers); false when out of
 * memory. The numbers the world needs stay in the transaction (WORLD_NUMBERS). */
static bool read_callbacks(const PGresult *r, const char *seed_numbers, struct cb_world *w)
{
    int rows = PQntuples(r);
    w->cap_callbacks = (size_t)rows + 4;
    w->callbacks = calloc(w->cap_callbacks, sizeof *w->callbacks);
    for (int i = 0; i < rows && w->callbacks; i++)
        db_callback_from_row(r, i, &w->callbacks[w->n_callbacks++]);
    read_scope(rows ? db_str(r, 0, DB_CALLBACK_NCOLUMNS) : seed_numbers, w);
    return w->callbacks != NULL;
}

enum db_status db_world_load(struct db_conn *c, const struct db_world_seed *seed,
                             struct cb_world *w)
{
    memset(w, 0, sizeof *w);
    char *seeds = db_array_of(seed->numbers, seed->n_numbers);
    char *dialed = db_array_of(seed->dialed, seed->n_dialed);
    char *ids = db_array_of(seed->callback_ids, seed->n_callback_ids);
    enum db_status st = seeds && dialed && ids ? DB_OK : DB_ERROR;
    const char *params[] = {seeds, ids, seed->narrow ? "true" : "false"};
    const char *one[] = {seeds}, *expand[] = {seeds, dialed};

    /* One round trip: the seed with the trunk groups of its dialed numbers, the locks
     * (statements of a pipeline run in order, so every read below happens under them), the
     * options, the callbacks concerned, then the groups and stations those callbacks and the
     * seed name (WORLD_NUMBERS). */
    struct db_pipeline p = {0};
    if (st == DB_OK) {
        db_pipeline_add(&p, &world_generic_plans, NULL);
        db_pipeline_add(&p, &world_seed, expand);
        db_pipeline_add(&p, &world_lock, params);
        db_options_queue(&p);
        db_pipeline_add(&p, &world_callbacks, params);
        db_pipeline_add(&p, &world_trunks, one);
        db_pipeline_add(&p, &world_hunts, one);
        db_pipeline_add(&p, &world_stations, one);
        st = db_pipeline_run(c, &p);
    }
    free(seeds); /* the pipeline holds copies */
    free(dialed);
    free(ids);
    if (st == DB_OK)
        st = db_options_read(p.results[3], &w->options);
    if (st == DB_OK &&
        (!read_callbacks(p.results[4], db_str(p.results[1], 0, 0), w) || !w->scope_targets))
        st = DB_ERROR;
    if (st == DB_OK) {
        read_trunks(p.results[5], w);
        read_hunts(p.results[6], w);
        int n = PQntuples(p.results[7]);
        w->stations = calloc((size_t)n + 1, sizeof *w->stations);
        for (int i = 0; i < n && w->stations; i++)
            db_station_from_row(p.results[7], i, &w->stations[w->n_stations++], NULL);
    }
    db_pipeline_clear(&p);
    return st;
}

void db_world_free(struct cb_world *w)
{
    for (size_t i = 0; i < w->n_trunk_groups; i++)
        free(w->trunk_groups[i].lines);
    for (size_t i = 0; i < w->n_hunt_groups; i++)
        free(w->hunt_groups[i].members);
    free(w->trunk_groups);
    free(w->hunt_groups);
    free(w->stations);
    free(w->scope_targets);
    free(w->callbacks);
    memset(w, 0, sizeof *w);
}

static struct db_stmt save_stations = DB_STMT(
    "save_stations", 1,
    "UPDATE stations s SET busy = x.busy, hook_off = x.hook_off, dnd = x.dnd, "
    "make_busy = x.make_busy, attendant_busy_out = x.attendant_busy_out, "
    "forward_to = nullif(x.forward_to, ''), failed_over = x.failed_over, "
    "console_available = x.console_available, attempt_result = nullif(x.attempt_result, ''), "
    "attempt_to = nullif(x.attempt_to, ''), "
    "attempt_at = CASE WHEN x.attempt_result = '' THEN NULL ELSE now() END, updated_at = now() "
    "FROM jsonb_to_recordset($1::jsonb) AS x(number text, busy boolean, hook_off boolean, "
    "dnd boolean, make_busy boolean, attendant_busy_out boolean, forward_to text, "
    "failed_over boolean, console_available boolean, attempt_result text, attempt_to text) "
    "WHERE s.number = x.number AND s.number = ANY(" DB_JSON_KEYS("number", "text") ")");

static struct db_stmt save_lines = DB_STMT(
    "save_lines", 1,
    "UPDATE trunk_lines l SET busy = x.busy, reserved_for = nullif(x.reserved_for, '')::uuid "
    "FROM jsonb_to_recordset($1::jsonb) AS x(trunk_group text, line text, busy boolean, "
    "reserved_for text) WHERE l.trunk_group = x.trunk_group AND l.line = x.line");

#define CALLBACK_RECORD                                                                            \
    "x(id uuid, requester text, target text, target_type text, reason text, mode text, "           \
    "state text, origin_line text, notify_line text, notify_station text, external_number text, "  \
    "reserved_line text, awaiting_release boolean, hook_cycle_needed boolean, "                    \
    "hook_off_seen boolean, idle_report_needed boolean, lamp_lit boolean, created_at bigint, "     \
    "updated_at bigint, expires_at bigint, ended_at bigint, end_reason text, supersedes text)"
#define MS(col)  "to_timestamp(x." col " / 1000.0)"
#define MS0(col) "CASE WHEN x." col " = 0 THEN NULL ELSE to_timestamp(x." col " / 1000.0) END"

static struct db_stmt save_callbacks_update = DB_STMT(
    "save_callbacks_update", 1,
    "UPDATE callbacks c SET reason = x.reason, state = x.state, notify_line = x.notify_line, "
    "notify_station = nullif(x.notify_station, ''), reserved_line = nullif(x.reserved_line, ''), "
    "awaiting_release = x.awaiting_release, hook_cycle_needed = x.hook_cycle_needed, "
    "hook_off_seen = x.hook_off_seen, idle_report_needed = x.idle_report_needed, "
    "lamp_lit = x.lamp_lit, updated_at = " MS("updated_at") ", expires_at = " MS0(
        "expires_at") ", ended_at = " MS0("ended_at") ", end_reason = nullif(x.end_reason, '') "
                                                      "FROM jsonb_to_recordset($1::jsonb) "
                                                      "AS " CALLBACK_RECORD " WHERE c.id = x.id "
                                                      "AND c.id = ANY(" DB_JSON_KEYS("id",
                                                                                     "uuid") ")");

static struct db_stmt save_callbacks_insert = DB_STMT(
    "save_callbacks_insert", 1,
    "INSERT INTO callbacks (id, requester, target, target_type, reason, mode, state, origin_line, "
    "notify_line, notify_station, external_number, reserved_line, awaiting_release, "
    "hook_cycle_needed, hook_off_seen, idle_report_needed, lamp_lit, created_at, updated_at, "
    "expires_at, ended_at, end_reason, supersedes) "
    "SELECT x.id, x.requester, x.target, x.target_type, x.reason, x.mode, x.state, x.origin_line, "
    "x.notify_line, nullif(x.notify_station, ''), nullif(x.external_number, ''), "
    "nullif(x.reserved_line, ''), x.awaiting_release, x.hook_cycle_needed, x.hook_off_seen, "
    "x.idle_report_needed, x.lamp_lit, " MS("created_at") ", " MS("updated_at") ", " MS0(
        "expires_at") ", " MS0("ended_at") ", nullif(x.end_reason, ''), "
                                           "nullif(x.supersedes, '')::uuid FROM "
                                           "jsonb_to_recordset($1::jsonb) AS " CALLBACK_RECORD);

static struct db_stmt save_history = DB_STMT(
    "save_history", 1,
    "INSERT INTO callback_history (callback_id, at, from_state, to_state, cause_kind, cause_ref) "
    "SELECT x.callback_id, to_timestamp(x.at / 1000.0), x.from_state, x.to_state, x.cause_kind, "
    "x.cause_ref FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (callback_id uuid, at bigint, "
    "from_state text, to_state text, cause_kind text, cause_ref text)) WITH ORDINALITY "
    "AS x(callback_id, at, from_state, to_state, cause_kind, cause_ref, n) ORDER BY x.n");

static json_t *callback_record(const struct cb_callback *cb)
{
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:b, "
        "s:b, s:b, s:I, s:I, s:I, s:I, s:s, s:s}",
        "id", cb->id, "requester", cb->requester, "target", cb->target, "target_type",
        cb_target_type_name(cb->target_type), "reason", cb_reason_name(cb->reason), "mode",
        cb_mode_name(cb->mode), "state", cb_state_name(cb->state), "origin_line", cb->origin_line,
        "notify_line", cb->notify_line, "notify_station", cb->notify_station, "external_number",
        cb->external_number, "reserved_line", cb->reserved_line, "awaiting_release",
        cb->awaiting_release, "hook_cycle_needed", cb->hook_cycle_needed, "hook_off_seen",
        cb->hook_off_seen, "idle_report_needed", cb->idle_report_needed, "lamp_lit", cb->lamp_lit,
        "created_at", (json_int_t)cb->created_at, "updated_at", (json_int_t)cb->updated_at,
        "expires_at", (json_int_t)cb->expires_at, "ended_at", (json_int_t)cb->ended_at,
        "end_reason", cb->end_reason == CB_END_NONE ? "" : cb_end_reason_name(cb->end_reason),
        "supersedes", cb->supersedes);
}

enum db_status db_world_save(struct db_conn *c, struct cb_world *w, const struct cb_decisions *d,
                             json_t *outbox)
{
    json_t *stations = json_array(), *lines = json_array(), *updated = json_array(),
           *created = json_array(), *history = json_array();
    for (size_t i = 0; i < w->n_stations; i++) {
        const struct cb_station *s = &w->stations[i];
        if (!s->dirty)
            continue;
        const char *attempt = s->attempt == CB_ATTEMPT_BUSY          ? "busy"
                              : s->attempt == CB_ATTEMPT_NO_ANSWER   ? "no_answer"
                              : s->attempt == CB_ATTEMPT_TRUNKS_BUSY ? "trunks_busy"
                                                                     : "";
        json_array_append_new(
            stations,
            json_pack("{s:s, s:b, s:b, s:b, s:b, s:b, s:s, s:b, s:b, s:s, s:s}", "number",
                      s->number, "busy", s->state.busy, "hook_off", s->state.hook_off, "dnd",
                      s->state.dnd, "make_busy", s->state.make_busy, "attendant_busy_out",
                      s->state.attendant_busy_out, "forward_to", s->state.forward_to, "failed_over",
                      s->state.failed_over, "console_available", s->state.console_available,
                      "attempt_result", attempt, "attempt_to",
                      s->attempt == CB_ATTEMPT_NONE ? "" : s->attempt_to));
    }
    for (size_t g = 0; g < w->n_trunk_groups; g++)
        for (size_t i = 0; i < w->trunk_groups[g].n_lines; i++) {
            const struct cb_trunk_line *l = &w->trunk_groups[g].lines[i];
            if (l->dirty)
                json_array_append_new(lines,
                                      json_pack("{s:s, s:s, s:b, s:s}", "trunk_group",
                                                w->trunk_groups[g].number, "line", l->id, "busy",
                                                l->busy, "reserved_for", l->reserved_for));
        }
    for (size_t i = 0; i < w->n_callbacks; i++) {
        const struct cb_callback *cb = &w->callbacks[i];
        if (cb->is_new)
            json_array_append_new(created, callback_record(cb));
        else if (cb->dirty)
            json_array_append_new(updated, callback_record(cb));
    }
    for (size_t i = 0; i < d->n_history; i++) {
        const struct cb_history_entry *h = &d->history[i];
        json_array_append_new(history,
                              json_pack("{s:s, s:I, s:s?, s:s, s:s, s:s}", "callback_id",
                                        h->callback_id, "at", (json_int_t)h->at, "from_state",
                                        h->from == CB_STATE_NONE ? NULL : cb_state_name(h->from),
                                        "to_state", cb_state_name(h->to), "cause_kind",
                                        h->cause.kind == CB_CAUSE_API     ? "api"
                                        : h->cause.kind == CB_CAUSE_EVENT ? "event"
                                                                          : "timer",
                                        "cause_ref", h->cause.ref));
    }
    /* Each timer once, with its last change of this decision. */
    json_t *sets = json_array(), *clears = json_array();
    for (size_t i = 0; i < d->n_timers; i++) {
        const struct cb_timer_op *t = &d->timers[i];
        bool later = false;
        for (size_t k = i + 1; k < d->n_timers && !later; k++)
            later =
                d->timers[k].kind == t->kind && !strcmp(d->timers[k].callback_id, t->callback_id);
        if (later)
            continue;
        if (t->clear)
            json_array_append_new(clears,
                                  json_pack("{s:s, s:s}", "kind", cb_timer_kind_name(t->kind),
                                            "ref", t->callback_id));
        else
            json_array_append_new(sets,
                                  json_pack("{s:s, s:s, s:I}", "kind", cb_timer_kind_name(t->kind),
                                            "ref", t->callback_id, "at", (json_int_t)t->at));
    }
    /* One round trip, in this order: a superseded callback ends before its successor is
     * inserted (CB-08: one active per pair), and history follows the rows it describes. */
    struct db_pipeline p = {0};
    db_pipeline_add_rows(&p, &save_stations, stations);
    db_pipeline_add_rows(&p, &save_lines, lines);
    db_pipeline_add_rows(&p, &save_callbacks_update, updated);
    db_pipeline_add_rows(&p, &save_callbacks_insert, created);
    db_pipeline_add_rows(&p, &save_history, history);
    db_timers_queue(&p, sets, clears);
    db_outbox_queue(c, &p, outbox);
    /* Nothing reads these results: they ride with the transaction's next round trip. */
    enum db_status st = p.overflow ? DB_ERROR : DB_OK;
    db_pipeline_defer(c, &p);
    return st;
}
