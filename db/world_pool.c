#include "db/world_pool.h"
#include "db/world.h"
#include "db/array.h"
#include "db/options.h"
#include "db/rows.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The version of a number (migration 019), as text: '0' for a number no writer has touched. */
#define VERSION_OF(n)                                                                              \
    "coalesce((SELECT v.xid::text FROM world_versions v WHERE v.number = " n "), '0')"
#define GLOBAL_KEY "'provisioning'"

/* Engaged: notifying or recalling (CB-17). */
#define ENGAGED "state IN ('notifying', 'recalling')"

/* The STATION piece of each number: its station (the DB_STATION_COLUMNS, NULL when none),
 * then the number, its version, the global version, its trunk group's activation and lines
 * (JSON [line, busy, reserved_for]), its hunt group's activation and members, the hunt groups it
 * is a member of, and for a console the consoles of its group. Each part is a key probe, and
 * only what a number can be is probed (a number is a station, a trunk group or a hunt group:
 * migration 001, directory_numbers). */
// clang-format off
#define FACTS_OF(numbers) \
    "SELECT " DB_STATION_COLUMNS ", k.n, " VERSION_OF("k.n") ", " VERSION_OF(GLOBAL_KEY) ", " \
    "tg.callback_activation, CASE WHEN tg.callback_activation IS NOT NULL THEN " \
    "  (SELECT json_agg(json_build_array(l.line, l.busy, coalesce(l.reserved_for::text, '')) " \
    "  ORDER BY l.position) FROM trunk_lines l WHERE l.trunk_group = k.n) END, " \
    "hg.callback_activation, CASE WHEN hg.callback_activation IS NOT NULL THEN " \
    "  array(SELECT m.station FROM hunt_group_members m WHERE m.hunt_group = k.n " \
    "  ORDER BY m.position) END, " \
    "CASE WHEN s.number IS NOT NULL THEN array(SELECT m.hunt_group FROM hunt_group_members m " \
    "  WHERE m.station = k.n) END, " \
    "CASE WHEN s.kind = 'console' THEN array(SELECT o.number FROM stations o " \
    "  WHERE o.console_group = s.console_group AND o.kind = 'console') END " \
    "FROM " numbers " AS k(n) " \
    "LEFT JOIN LATERAL (SELECT * FROM stations WHERE number = k.n OFFSET 0) AS s ON true " \
    "LEFT JOIN LATERAL (SELECT callbacks_allowed FROM classes_of_service WHERE id = s.cos " \
    "  OFFSET 0) AS c ON true " \
    "LEFT JOIN LATERAL (SELECT callback_activation FROM trunk_groups WHERE number = k.n " \
    "  AND s.number IS NULL OFFSET 0) AS tg ON true " \
    "LEFT JOIN LATERAL (SELECT callback_activation FROM hunt_groups WHERE number = k.n " \
    "  AND s.number IS NULL OFFSET 0) AS hg ON true"
/* The numbers the active callbacks of the numbers `q` name (requesters, targets, stations rung),
 * whose STATION and ENGAGED pieces the scope rules ask for next: read in the same statements as
 * the pieces asked for (a guess that saves a round trip; the rules decide what is used). The
 * callbacks waiting on a number of `quiet` (the scope's: their requesters are not read) are
 * followed only to their target, and those a number set only when `set` is true. */
#define NEAR_NUMBERS(q, quiet, set) \
    "SELECT x FROM unnest(" q "::text[]) AS q(n), LATERAL (" \
    "  (SELECT requester, target, notify_station FROM callbacks WHERE requester = q.n " \
    "    AND ended_at IS NULL AND " set " OFFSET 0) UNION ALL (SELECT requester, target, " \
    "    notify_station " \
    "    FROM callbacks WHERE target = q.n AND ended_at IS NULL " \
    "    AND q.n <> ALL(" quiet "::text[]) OFFSET 0)) AS c, " \
    "  unnest(ARRAY[c.requester, c.target, c.notify_station]) AS x WHERE x IS NOT NULL"

/* The STATION pieces of $1, and of the numbers near the QUEUES asked for ($2; quiet: $3). */
static struct db_stmt fill_facts = DB_STMT(
    "world_fill_facts", 3,
    FACTS_OF("(SELECT unnest($1::text[]) UNION " NEAR_NUMBERS("$2", "$3", "true") ")"));

/* The QUEUES ($1) and ENGAGED ($2, and near $1; quiet: $3; the targets of what $1 set only when
 * $4, the scope's `wide`) pieces: a row per callback (the DB_CALLBACK_COLUMNS) with its number,
 * piece (2 QUEUES, 1 ENGAGED) and the number's version; a number without callbacks has one row
 * of NULLs. Each branch probes one partial index (migration 005). */
#define FILL_PROBE(cond, piece) \
    "(SELECT * FROM callbacks WHERE " cond " AND ended_at IS NULL AND k.piece = " piece " OFFSET 0)"
#define CALLBACKS_OF(keys) \
    "SELECT " DB_CALLBACK_COLUMNS ", k.n, k.piece, " VERSION_OF("k.n") " " \
    "FROM " keys " AS k(n, piece) " \
    "LEFT JOIN LATERAL (" FILL_PROBE("requester = k.n", "2") \
    "  UNION ALL SELECT x.* FROM " FILL_PROBE("target = k.n", "2") " AS x " \
    "    WHERE x.requester IS DISTINCT FROM k.n " \
    "  UNION ALL " FILL_PROBE("notify_station = k.n AND " ENGAGED, "1") \
    "  UNION ALL SELECT x.* FROM " FILL_PROBE("target = k.n", "1") " AS x " \
    "    WHERE x." ENGAGED " AND x.notify_station IS DISTINCT FROM k.n" \
    ") AS c ON true"
static struct db_stmt fill_callbacks = DB_STMT(
    "world_fill_callbacks", 4,
    CALLBACKS_OF("(SELECT n, 2 FROM unnest($1::text[]) AS n UNION ALL SELECT n, 1 FROM "
                 "(SELECT unnest($2::text[]) UNION " NEAR_NUMBERS("$1", "$3", "$4::boolean") ") "
                 "AS e(n))"));

/* Callbacks named by id, active or ended, with their requester's version. */
static struct db_stmt fill_named = DB_STMT(
    "world_fill_named", 1,
    "SELECT " DB_CALLBACK_COLUMNS ", " VERSION_OF("c.requester") " "
    "FROM unnest($1::uuid[]) AS i(k), "
    "LATERAL (SELECT * FROM callbacks WHERE id = i.k OFFSET 0) AS c");

/* The decision locks, in the order of their keys (the same order for every decision, so that
 * two decisions wait on each other rather than deadlock). */
#define LOCK_KEYS                                                                                  \
    "(SELECT DISTINCT hashtext(n) AS k FROM unnest($1::text[]) AS n ORDER BY 1) AS keys"
static struct db_stmt world_lock = DB_STMT(
    "world_lock_numbers", 1, "SELECT count(pg_advisory_xact_lock(25442, k)) FROM " LOCK_KEYS);
/* Locks the scope needs beyond those the decision took first (its facts changed meanwhile):
 * taken only if free, since waiting on them, out of key order, could deadlock; false runs the
 * transaction again (DB_RETRY). Those it holds already are taken again at no cost. */
static struct db_stmt world_lock_more = DB_STMT(
    "world_lock_more", 1,
    "SELECT coalesce(bool_and(pg_try_advisory_xact_lock(25442, k)), true) FROM " LOCK_KEYS);

/* Of the numbers $1 read with the versions $2 (decimal text), those whose version moved: left
 * in a setting of the transaction for the statements after it in the same round trip, which read
 * every piece of each again, under the decision's locks (refill_*), and returned as an array,
 * with the global version. */
#define MOVED_SETTING "callbackd.world_moved"
#define MOVED                                                                                      \
    "unnest(coalesce(nullif(current_setting('" MOVED_SETTING "', true), ''), '{}')::text[])"
/* The numbers of $1 no longer at their versions in $2. */
#define MOVED_OF_PARAMS                                                                            \
    "SELECT u.n FROM unnest($1::text[], $2::text[]) AS u(n, v) WHERE " VERSION_OF("u.n") " <> u.v"
static struct db_stmt world_versions =
    DB_STMT("world_versions", 2,
            "SELECT set_config('" MOVED_SETTING "', array(" MOVED_OF_PARAMS ")::text, true), " VERSION_OF(
                GLOBAL_KEY));
/* The system options, with the global version they were read with (migration 020 bumps it when
 * they change): a pool keeps them as it keeps facts. */
static struct db_stmt world_options =
    DB_STMT("world_options", 0,
            "SELECT " DB_OPTION_COLUMNS ", " VERSION_OF(GLOBAL_KEY) " FROM system_options");
enum { OPTIONS_GLOBAL = 10 }; /* the column of the global version in world_options */
/* Fails the transaction as a serialization failure (DB_RETRY) when a number of $1 is no longer
 * at its version in $2, or 'provisioning' no longer at $3 (migration 022). */
static struct db_stmt world_unmoved = DB_STMT(
    "world_unmoved", 3,
    "SELECT callbackd_assume(NOT EXISTS (" MOVED_OF_PARAMS ") AND " VERSION_OF(
        GLOBAL_KEY) " = $3, 'facts of this decision changed before it locked them')");
static struct db_stmt refill_facts =
    DB_STMT("world_refill_facts", 0, FACTS_OF("(SELECT " MOVED ")"));
static struct db_stmt refill_callbacks =
    DB_STMT("world_refill_callbacks", 0,
            CALLBACKS_OF("(SELECT m.n, p.piece FROM " MOVED " AS m(n), (VALUES (1), (2)) AS "
                         "p(piece) ORDER BY 1, 2)"));
// clang-format on

static uint64_t version_of(const char *text)
{
    return strtoull(text, NULL, 10);
}

/* Fills `out` (CB_NUMBER_MAX each) from a text[] of directory numbers as PostgreSQL prints it
 * ("{1,2}": directory numbers need no quoting); returns how many, or -1 when out of memory. */
static long numbers_of(const char *array, char (**out)[CB_NUMBER_MAX])
{
    *out = NULL;
    if (!*array || !strcmp(array, "{}"))
        return 0;
    size_t n = 1;
    for (const char *p = array; *p; p++)
        n += *p == ',';
    *out = calloc(n, sizeof(**out));
    if (!*out)
        return -1;
    long k = 0;
    const char *p = array + (*array == '{');
    while (*p && *p != '}') {
        size_t len = strcspn(p, ",}");
        if (len > 0 && len < CB_NUMBER_MAX) {
            memcpy((*out)[k], p, len);
            (*out)[k++][len] = '\0';
        }
        p += len + (p[len] == ',');
    }
    return k;
}

/* Column offsets in fill_facts after the station's. */
enum {
    F_NUMBER = 17,
    F_VERSION,
    F_GLOBAL,
    F_TRUNK,
    F_LINES,
    F_HUNT,
    F_MEMBERS,
    F_MEMBER_OF,
    F_CONSOLES
};

static bool put_facts(struct cb_pool *pool, const PGresult *r, int i)
{
    struct cb_station station;
    struct cb_trunk_group tg = {0};
    struct cb_hunt_group hg = {0};
    struct cb_trunk_line *lines = NULL;
    char(*members)[CB_NUMBER_MAX] = NULL, (*member_of)[CB_NUMBER_MAX] = NULL;
    char(*consoles)[CB_NUMBER_MAX] = NULL;
    const char *number = db_str(r, i, F_NUMBER);
    struct cb_number_facts f = {0};
    bool ok = true;
    if (!db_is_null(r, i, 0)) {
        db_station_from_row(r, i, &station, NULL);
        f.station = &station;
    }
    if (!db_is_null(r, i, F_TRUNK)) {
        snprintf(tg.number, sizeof tg.number, "%s", number);
        tg.callback_activation = db_bool(r, i, F_TRUNK);
        json_t *a = db_is_null(r, i, F_LINES) ? NULL : json_loads(db_str(r, i, F_LINES), 0, NULL);
        size_t n = json_array_size(a);
        lines = n ? calloc(n, sizeof(*lines)) : NULL;
        ok = !n || lines;
        for (size_t k = 0; ok && k < n; k++) {
            json_t *l = json_array_get(a, k);
            snprintf(lines[k].id, sizeof lines[k].id, "%s",
                     json_string_value(json_array_get(l, 0))
                         ? json_string_value(json_array_get(l, 0))
                         : "");
            lines[k].busy = json_is_true(json_array_get(l, 1));
            snprintf(lines[k].reserved_for, sizeof lines[k].reserved_for, "%s",
                     json_string_value(json_array_get(l, 2))
                         ? json_string_value(json_array_get(l, 2))
                         : "");
        }
        json_decref(a);
        tg.lines = lines;
        tg.n_lines = ok ? n : 0;
        f.trunk_group = &tg;
    }
    if (ok && !db_is_null(r, i, F_HUNT)) {
        snprintf(hg.number, sizeof hg.number, "%s", number);
        hg.callback_activation = db_bool(r, i, F_HUNT);
        long n = numbers_of(db_str(r, i, F_MEMBERS), &members);
        ok = n >= 0;
        hg.members = members;
        hg.n_members = ok ? (size_t)n : 0;
        f.hunt_group = &hg;
    }
    long n_member_of = ok ? numbers_of(db_str(r, i, F_MEMBER_OF), &member_of) : -1;
    long n_consoles = n_member_of >= 0 ? numbers_of(db_str(r, i, F_CONSOLES), &consoles) : -1;
    ok = n_consoles >= 0;
    if (ok) {
        f.member_of = (const char(*)[CB_NUMBER_MAX])member_of;
        f.n_member_of = (size_t)n_member_of;
        f.consoles = (const char(*)[CB_NUMBER_MAX])consoles;
        f.n_consoles = (size_t)n_consoles;
        ok = cb_pool_put_facts(pool, number, version_of(db_str(r, i, F_VERSION)),
                               version_of(db_str(r, i, F_GLOBAL)), &f);
    }
    free(lines);
    free(members);
    free(member_of);
    free(consoles);
    return ok;
}

/* The rows of fill_callbacks, grouped by (number, piece) in the order they came. */
static bool put_callbacks(struct cb_pool *pool, const PGresult *r)
{
    int rows = PQntuples(r);
    struct cb_callback *cbs = NULL; /* one piece at a time: as large as the largest */
    size_t cap = 0;
    bool ok = true;
    for (int i = 0; ok && i < rows;) {
        const char *number = db_str(r, i, DB_CALLBACK_NCOLUMNS);
        const char *piece = db_str(r, i, DB_CALLBACK_NCOLUMNS + 1);
        uint64_t version = version_of(db_str(r, i, DB_CALLBACK_NCOLUMNS + 2));
        int j = i;
        while (j < rows && !strcmp(db_str(r, j, DB_CALLBACK_NCOLUMNS), number) &&
               !strcmp(db_str(r, j, DB_CALLBACK_NCOLUMNS + 1), piece))
            j++;
        if ((size_t)(j - i) > cap) {
            struct cb_callback *more = realloc(cbs, (size_t)(j - i) * sizeof(*more));
            if (!more) {
                ok = false;
                break;
            }
            cbs = more;
            cap = (size_t)(j - i);
        }
        size_t n = 0;
        for (int k = i; k < j; k++)
            if (!db_is_null(r, k, 0))
                db_callback_from_row(r, k, &cbs[n++]);
        ok = cb_pool_put_callbacks(pool, number,
                                   !strcmp(piece, "2") ? CB_PIECE_QUEUES : CB_PIECE_ENGAGED,
                                   version, cbs, n);
        i = j;
    }
    free(cbs);
    return ok;
}

/* The array literal of a set of numbers. */
static char *array_of_numbers(const struct cb_numbers *s)
{
    struct db_array a;
    db_array_open(&a);
    for (size_t i = 0; i < s->n; i++)
        db_array_add_text(&a, s->v[i]);
    return db_array_close(&a);
}

/* The options of a world_options result into `out` and the pool. */
static enum db_status put_options(struct cb_pool *pool, const PGresult *r, struct cb_options *out)
{
    enum db_status st = db_options_read(r, out);
    if (st == DB_OK)
        cb_pool_put_options(pool, out, version_of(db_str(r, 0, OPTIONS_GLOBAL)));
    return st;
}

/* The statements of a decision are planned once per connection, not at every execution: their
 * plans are key probes whatever the parameters, and planning afresh cost 2 ms a decision
 * (PostgreSQL keeps re-planning when a generic plan's estimate looks dearer than the custom ones
 * it has seen). For this transaction only: other queries keep the default. */
static struct db_stmt world_generic_plans =
    DB_STMT("world_plans", 0, "SET LOCAL plan_cache_mode = force_generic_plan");

enum db_status db_world_fill(struct db_conn *c, struct cb_pool *pool, const struct cb_scope *scope,
                             bool first)
{
    char *facts = array_of_numbers(&scope->need[CB_PIECE_STATION]);
    char *queues = array_of_numbers(&scope->need[CB_PIECE_QUEUES]);
    char *engaged = array_of_numbers(&scope->need[CB_PIECE_ENGAGED]);
    char *quiet = array_of_numbers(&scope->quiet);
    struct db_array ids;
    db_array_open(&ids);
    for (size_t i = 0; i < scope->n_need_ids; i++)
        db_array_add_text(&ids, scope->need_ids[i]);
    char *named = db_array_close(&ids);
    enum db_status st = facts && queues && engaged && quiet && named ? DB_OK : DB_ERROR;
    struct db_pipeline p = {0};
    int at_facts = -1, at_callbacks = -1, at_named = -1, at_options = -1;
    struct cb_options opts;
    if (st == DB_OK) {
        if (first)
            db_pipeline_add(&p, &world_generic_plans, NULL);
        if (!cb_pool_options(pool, &opts)) {
            at_options = p.n;
            db_pipeline_add(&p, &world_options, NULL);
        }
        if (scope->need[CB_PIECE_STATION].n || scope->need[CB_PIECE_QUEUES].n) {
            at_facts = p.n;
            db_pipeline_add(&p, &fill_facts, (const char *[]){facts, queues, quiet});
        }
        if (scope->need[CB_PIECE_QUEUES].n || scope->need[CB_PIECE_ENGAGED].n) {
            at_callbacks = p.n;
            db_pipeline_add(&p, &fill_callbacks,
                            (const char *[]){queues, engaged, quiet, scope->wide ? "t" : "f"});
        }
        if (scope->n_need_ids) {
            at_named = p.n;
            db_pipeline_add(&p, &fill_named, (const char *[]){named});
        }
        st = db_pipeline_run(c, &p);
    }
    free(facts);
    free(queues);
    free(engaged);
    free(quiet);
    free(named);
    for (int i = 0; st == DB_OK && at_facts >= 0 && i < PQntuples(p.results[at_facts]); i++)
        if (!put_facts(pool, p.results[at_facts], i))
            st = DB_ERROR;
    if (st == DB_OK && at_callbacks >= 0 && !put_callbacks(pool, p.results[at_callbacks]))
        st = DB_ERROR;
    if (st == DB_OK && at_options >= 0)
        st = put_options(pool, p.results[at_options], &opts);
    if (st == DB_OK && at_named >= 0) {
        const PGresult *r = p.results[at_named];
        for (int i = 0; st == DB_OK && i < PQntuples(r); i++) {
            struct cb_callback cb;
            db_callback_from_row(r, i, &cb);
            if (!cb_pool_put_named(pool, &cb, version_of(db_str(r, i, DB_CALLBACK_NCOLUMNS))))
                st = DB_ERROR;
        }
        /* An id no callback has is recorded as such (the core answers "no such callback"). */
        for (size_t i = 0; st == DB_OK && i < scope->n_need_ids; i++)
            if (cb_pool_named(pool, scope->need_ids[i], NULL) == CB_POOL_NONE &&
                !cb_pool_put_missing(pool, scope->need_ids[i]))
                st = DB_ERROR;
    }
    db_pipeline_clear(&p);
    return st;
}

/* The array literal of the versions of `s`, in its order (decimal text). */
static char *array_of_versions(const struct cb_numbers *s)
{
    struct db_array a;
    db_array_open(&a);
    for (size_t i = 0; i < s->n; i++) {
        char v[24];
        snprintf(v, sizeof v, "%llu", (unsigned long long)s->version[i]);
        db_array_add_text(&a, v);
    }
    return db_array_close(&a);
}

/* The version of `number` its pieces in the pool agree on, CB_VERSION_MIXED when they do not. */
static uint64_t pool_version(const struct cb_pool *pool, const char *number)
{
    uint64_t v = CB_VERSION_MIXED, got;
    for (int k = 0; k < CB_PIECES; k++)
        if (cb_pool_known(pool, number, (enum cb_piece)k, &got)) {
            if (v != CB_VERSION_MIXED && got != v)
                return CB_VERSION_MIXED;
            v = got;
        }
    return v;
}

/* A scope as the parameters of the lock and version statements: the numbers to lock (NULL when
 * none), the numbers read and the versions they were read with. */
struct scope_params {
    char *locks, *used, *versions;
};

static enum db_status scope_params_of(const struct cb_scope *scope, struct scope_params *out)
{
    out->locks = scope->locks.n ? array_of_numbers(&scope->locks) : NULL;
    out->used = array_of_numbers(&scope->used);
    out->versions = array_of_versions(&scope->used);
    return out->used && out->versions && (!scope->locks.n || out->locks) ? DB_OK : DB_ERROR;
}

static void scope_params_free(struct scope_params *sp)
{
    free(sp->locks);
    free(sp->used);
    free(sp->versions);
}

enum db_status db_world_check(struct db_conn *c, struct cb_pool *pool, const struct cb_scope *scope,
                              bool locked, struct cb_options *opts, bool first,
                              struct cb_numbers *settled, bool *changed)
{
    *changed = true;
    cb_numbers_free(settled);
    struct scope_params sp;
    enum db_status st = scope_params_of(scope, &sp);
    struct db_pipeline p = {0};
    int at_versions = 0, at_lock = -1;
    if (st == DB_OK) {
        if (first)
            db_pipeline_add(&p, &world_generic_plans, NULL);
        if (sp.locks) {
            at_lock = p.n;
            db_pipeline_add(&p, locked ? &world_lock_more : &world_lock,
                            (const char *[]){sp.locks});
        }
        if (opts)
            db_pipeline_add(&p, &world_options, NULL);
        at_versions = p.n;
        db_pipeline_add(&p, &world_versions, (const char *[]){sp.used, sp.versions});
        db_pipeline_add(&p, &refill_facts, NULL);
        db_pipeline_add(&p, &refill_callbacks, NULL);
        st = db_pipeline_run(c, &p);
    }
    scope_params_free(&sp);
    if (st == DB_OK && locked && at_lock >= 0 && !db_bool(p.results[at_lock], 0, 0))
        st = DB_RETRY;
    if (st == DB_OK && opts)
        st = db_options_read(p.results[at_versions - 1], opts); /* into the pool below */
    char(*moved)[CB_NUMBER_MAX] = NULL;
    long n_moved = 0;
    if (st == DB_OK) {
        const PGresult *r = p.results[at_versions];
        n_moved = PQntuples(r) == 1 ? numbers_of(db_str(r, 0, 0), &moved) : -1;
        bool same_all = n_moved == 0, oom = n_moved < 0;
        uint64_t global, now = PQntuples(r) == 1 ? version_of(db_str(r, 0, 1)) : 0;
        if (cb_pool_global(pool, &global) && global != now) {
            cb_pool_clear(pool); /* provisioning moved: everything is read again */
            same_all = false;
        } else if (n_moved > 0) { /* read again under the locks, in this round trip */
            for (long i = 0; i < n_moved; i++)
                cb_pool_forget(pool, moved[i]);
            for (int i = 0; st == DB_OK && i < PQntuples(p.results[at_versions + 1]); i++)
                if (!put_facts(pool, p.results[at_versions + 1], i))
                    st = DB_ERROR;
            if (st == DB_OK && !put_callbacks(pool, p.results[at_versions + 2]))
                st = DB_ERROR;
        }
        /* Every number this check settled, at the version the pool now holds for it. */
        for (size_t i = 0; st == DB_OK && i < scope->used.n; i++)
            cb_numbers_add_version(
                settled, scope->used.v[i],
                same_all ? scope->used.version[i] : pool_version(pool, scope->used.v[i]), &oom);
        if (oom)
            st = DB_ERROR;
        if (!same_all)
            cb_pool_clear_named(pool); /* read again with the rest */
        /* The options join the pool when read at the global version just tested (another one:
         * provisioning changed between the two statements; the next round reads both again). */
        uint64_t options_global =
            opts ? version_of(db_str(p.results[at_versions - 1], 0, OPTIONS_GLOBAL)) : now;
        if (options_global != now) {
            cb_pool_clear(pool);
            same_all = false;
        } else if (opts)
            cb_pool_put_options(pool, opts, now);
        *changed = !same_all;
    }
    free(moved);
    db_pipeline_clear(&p);
    return st;
}

/* How often, lately, a decision on facts read afresh (not kept: the API's) that was taken before
 * its locks failed its check, in thousandths, each outcome weighing 1/16. Such a failure runs
 * the whole transaction again, about four times what it saved, so past 5 % they check first;
 * one in eight still does not, so that the rate follows the load. Concurrent requests on the same
 * targets fail often (the benchmark's queues of 50 at 16 connections: a fifth of them), lone ones
 * never. */
#define FRESH_FAILED_MAX   50
#define FRESH_PROBE_PERIOD 8
static atomic_int fresh_failed;
static atomic_uint fresh_probes;

bool db_world_assumable(struct db_conn *c, const struct cb_pool *pool, const struct cb_scope *scope,
                        struct cb_options *opts)
{
    /* Options are kept at the pool's global version: with them, the pool has one. */
    if (c->world_distrust || !cb_pool_options(pool, opts))
        return false;
    if (db_world_kept(c) != pool && atomic_load(&fresh_failed) > FRESH_FAILED_MAX &&
        atomic_fetch_add(&fresh_probes, 1) % FRESH_PROBE_PERIOD != 0)
        return false;
    for (size_t i = 0; i < scope->used.n; i++)
        if (scope->used.version[i] == CB_VERSION_MIXED)
            return false;
    return true;
}

enum db_status db_world_assume(struct db_conn *c, const struct cb_pool *pool,
                               const struct cb_scope *scope, bool first)
{
    uint64_t global = 0;
    (void)cb_pool_global(pool, &global);
    char g[24];
    snprintf(g, sizeof g, "%llu", (unsigned long long)global);
    struct scope_params sp;
    enum db_status st = scope_params_of(scope, &sp);
    if (st == DB_OK) {
        struct db_pipeline p = {0};
        if (first)
            db_pipeline_add(&p, &world_generic_plans, NULL);
        if (sp.locks)
            db_pipeline_add(&p, &world_lock, (const char *[]){sp.locks});
        db_pipeline_add(&p, &world_unmoved, (const char *[]){sp.used, sp.versions, g});
        st = p.overflow ? DB_ERROR : DB_OK;
        db_pipeline_defer(c, &p); /* ahead of the decision's writes, in their round trip */
        c->world_assumed = true;
        c->world_assumed_fresh |= db_world_kept(c) != pool;
    }
    scope_params_free(&sp);
    return st;
}

bool db_world_settled(const struct cb_scope *scope, const struct cb_numbers *settled,
                      const struct cb_numbers *held)
{
    for (size_t i = 0; i < scope->locks.n; i++)
        if (!cb_numbers_has(held, scope->locks.v[i]))
            return false;
    for (size_t i = 0; i < scope->used.n; i++) {
        size_t k = cb_numbers_find(settled, scope->used.v[i]);
        if (scope->used.version[i] == CB_VERSION_MIXED || k == SIZE_MAX ||
            settled->version[k] != scope->used.version[i])
            return false;
    }
    return true;
}

struct db_world_memory {
    struct cb_pool *pool;
    struct cb_numbers safe; /* locked and checked by the transaction's decisions */
    struct cb_world *marks; /* what they wrote, in order (the marked elements only) */
    size_t n_marks;
    bool has_xid;
    uint64_t xid;
};

bool db_world_keep(struct db_conn *c, size_t max_callbacks)
{
    if (c->world)
        return true;
    c->world = calloc(1, sizeof *c->world);
    if (c->world)
        c->world->pool = cb_pool_new(max_callbacks, max_callbacks);
    if (c->world && !c->world->pool) {
        free(c->world);
        c->world = NULL;
    }
    return c->world != NULL;
}

static void free_marks(struct db_world_memory *m)
{
    for (size_t i = 0; i < m->n_marks; i++)
        db_world_free(&m->marks[i]);
    free(m->marks);
    m->marks = NULL;
    m->n_marks = 0;
    cb_numbers_free(&m->safe);
    m->has_xid = false;
}

void db_world_forget(struct db_conn *c)
{
    if (!c->world)
        return;
    free_marks(c->world);
    cb_pool_free(c->world->pool);
    free(c->world);
    c->world = NULL;
}

struct cb_pool *db_world_kept(struct db_conn *c)
{
    return c->world ? c->world->pool : NULL;
}

void db_world_checked(struct db_conn *c, const struct cb_scope *scope)
{
    bool oom = false;
    for (size_t i = 0; c->world && i < scope->locks.n; i++)
        if (cb_numbers_has(&scope->used, scope->locks.v[i]))
            cb_numbers_add(&c->world->safe, scope->locks.v[i], &oom);
    if (oom) /* without it, nothing the transaction writes is kept */
        cb_numbers_free(&c->world->safe);
}

/* The marked elements of `w` into `out` (zeroed first); false when out of memory. */
static bool copy_marked(const struct cb_world *w, struct cb_world *out)
{
    memset(out, 0, sizeof *out);
    out->callbacks = calloc(w->n_callbacks + 1, sizeof *out->callbacks);
    out->stations = calloc(w->n_stations + 1, sizeof *out->stations);
    out->trunk_groups = calloc(w->n_trunk_groups + 1, sizeof *out->trunk_groups);
    if (!out->callbacks || !out->stations || !out->trunk_groups)
        return false;
    for (size_t i = 0; i < w->n_callbacks; i++)
        if (w->callbacks[i].dirty || w->callbacks[i].is_new)
            out->callbacks[out->n_callbacks++] = w->callbacks[i];
    for (size_t i = 0; i < w->n_stations; i++)
        if (w->stations[i].dirty)
            out->stations[out->n_stations++] = w->stations[i];
    for (size_t i = 0; i < w->n_trunk_groups; i++) {
        if (cb_trunk_group_marked(&w->trunk_groups[i]) &&
            !db_world_add_trunk_group(out, &w->trunk_groups[i]))
            return false;
    }
    return true;
}

/* The marked elements of `w`; false when out of memory (nothing kept). */
static bool copy_marks(const struct cb_world *w, struct cb_world *out)
{
    if (copy_marked(w, out))
        return true;
    db_world_free(out);
    return false;
}

static void collect_xid(struct db_conn *c, const PGresult *r)
{
    if (c->world && PQntuples(r) == 1 && !db_is_null(r, 0, 0)) {
        c->world->xid = version_of(db_str(r, 0, 0));
        c->world->has_xid = true;
    }
}

/* Last in a decision's writes: the transaction's id, which its triggers wrote as the version of
 * every number they bumped (NULL when nothing was written). */
static struct db_stmt world_xid = {.name = "world_xid",
                                   .sql = "SELECT pg_current_xact_id_if_assigned()::text",
                                   .slot = -1,
                                   .collect = collect_xid,
                                   .collect_at_commit = true};

void db_world_wrote(struct db_conn *c, struct db_pipeline *p, const struct cb_world *w)
{
    struct db_world_memory *m = c->world;
    if (!m)
        return;
    struct cb_world *more = realloc(m->marks, (m->n_marks + 1) * sizeof *more);
    if (more) {
        m->marks = more;
        if (copy_marks(w, &m->marks[m->n_marks]))
            m->n_marks++;
        else
            more = NULL;
    }
    if (!more) { /* nothing of the transaction can be kept: the pool forgets all of it */
        free_marks(m);
        cb_pool_clear(m->pool);
        return;
    }
    db_pipeline_add(p, &world_xid, NULL);
}

void db_world_settle(struct db_conn *c, bool committed)
{
    /* A transaction that decided before its locks and failed its check (a serialization
     * failure; an API refusal rolls back too, and says nothing about the facts) runs again
     * checking first: a kept pool does not know which facts moved. */
    bool moved = !committed && c->world_assumed && !strcmp(c->last_sqlstate, "40001");
    if (c->world_assumed_fresh && (committed || moved)) { /* a rate: races are fine */
        int was = atomic_load(&fresh_failed);
        atomic_store(&fresh_failed, was - was / 16 + (moved ? 1000 / 16 : 0));
    }
    c->world_assumed_fresh = false;
    if (committed)
        c->world_distrust = false;
    else if (moved)
        c->world_distrust = true;
    c->world_assumed = false;
    struct db_world_memory *m = c->world;
    if (!m)
        return;
    if (committed && m->n_marks) {
        if (m->has_xid)
            for (size_t i = 0; i < m->n_marks; i++)
                cb_pool_committed(m->pool, &m->marks[i], &m->safe, m->xid);
        else /* written without a transaction id: cannot be */
            cb_pool_clear(m->pool);
    }
    free_marks(m);
}
