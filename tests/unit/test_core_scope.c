/* The scope rules (service/core/scope.c) over the pool (pool.c): what a decision on a seed
 * concerns, what it locks, what it lacks until the pool holds it, and how the pool stays current
 * (versions, a commit's writes). The "database" here is a few tables in the test; `answer`
 * reads from them what the scope says it lacks, as db/world_pool.c does from PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/core/scope.h"

#define MAX 64

struct db {
    struct cb_station stations[MAX];
    size_t n_stations;
    struct cb_callback callbacks[MAX];
    size_t n_callbacks;
    struct cb_trunk_group trunk; /* "9", when trunk.number is set */
    struct cb_hunt_group hunt;   /* "400", when hunt.number is set */
    char members[4][CB_NUMBER_MAX];
    uint64_t version; /* every number's, in this test */
    int fills;        /* rounds answered */
};

static struct cb_station *station(struct db *db, const char *number, bool busy)
{
    struct cb_station *s = &db->stations[db->n_stations++];
    memset(s, 0, sizeof *s);
    snprintf(s->number, sizeof s->number, "%s", number);
    s->callbacks_allowed = true;
    s->state.busy = busy;
    s->state.console_available = true;
    return s;
}

static struct cb_callback *callback(struct db *db, const char *requester, const char *target,
                                    enum cb_state state)
{
    struct cb_callback *c = &db->callbacks[db->n_callbacks];
    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "00000000-0000-7000-8000-%012zu", db->n_callbacks);
    c->seq = (int64_t)(100 - db->n_callbacks); /* queue order differs from insertion order */
    snprintf(c->requester, sizeof c->requester, "%s", requester);
    snprintf(c->target, sizeof c->target, "%s", target);
    c->state = state;
    if (state == CB_STATE_NOTIFYING || state == CB_STATE_RECALLING)
        snprintf(c->notify_station, sizeof c->notify_station, "%s", requester);
    db->n_callbacks++;
    return c;
}

static const struct cb_station *station_of(const struct db *db, const char *number)
{
    for (size_t i = 0; i < db->n_stations; i++)
        if (!strcmp(db->stations[i].number, number))
            return &db->stations[i];
    return NULL;
}

static bool engaged(const struct cb_callback *c)
{
    return c->state == CB_STATE_NOTIFYING || c->state == CB_STATE_RECALLING;
}

/* Fills the pool with what `s` lacks, from the tables. */
static void answer(struct db *db, struct cb_pool *pool, const struct cb_scope *s)
{
    db->fills++;
    for (size_t i = 0; i < s->need[CB_PIECE_STATION].n; i++) {
        const char *n = s->need[CB_PIECE_STATION].v[i];
        struct cb_number_facts f = {.station = station_of(db, n)};
        char member_of[1][CB_NUMBER_MAX], consoles[MAX][CB_NUMBER_MAX];
        if (*db->trunk.number && !strcmp(db->trunk.number, n))
            f.trunk_group = &db->trunk;
        if (*db->hunt.number && !strcmp(db->hunt.number, n))
            f.hunt_group = &db->hunt;
        for (size_t m = 0; *db->hunt.number && m < db->hunt.n_members; m++)
            if (!strcmp(db->hunt.members[m], n)) {
                snprintf(member_of[0], CB_NUMBER_MAX, "%s", db->hunt.number);
                f.member_of = (const char(*)[CB_NUMBER_MAX])member_of;
                f.n_member_of = 1;
            }
        if (f.station && f.station->kind == CB_KIND_CONSOLE) {
            for (size_t k = 0; k < db->n_stations; k++)
                if (db->stations[k].kind == CB_KIND_CONSOLE &&
                    !strcmp(db->stations[k].console_group, f.station->console_group))
                    snprintf(consoles[f.n_consoles++], CB_NUMBER_MAX, "%s", db->stations[k].number);
            f.consoles = (const char(*)[CB_NUMBER_MAX])consoles;
        }
        assert_true(cb_pool_put_facts(pool, n, db->version, 1, &f));
    }
    for (int piece = CB_PIECE_ENGAGED; piece <= CB_PIECE_QUEUES; piece++)
        for (size_t i = 0; i < s->need[piece].n; i++) {
            const char *n = s->need[piece].v[i];
            struct cb_callback found[MAX];
            size_t k = 0;
            for (size_t j = 0; j < db->n_callbacks; j++) {
                const struct cb_callback *c = &db->callbacks[j];
                bool in =
                    c->ended_at == 0 &&
                    (piece == CB_PIECE_QUEUES
                         ? !strcmp(c->requester, n) || !strcmp(c->target, n)
                         : engaged(c) && (!strcmp(c->notify_station, n) || !strcmp(c->target, n)));
                if (in)
                    found[k++] = *c;
            }
            assert_true(
                cb_pool_put_callbacks(pool, n, (enum cb_piece)piece, db->version, found, k));
        }
    for (size_t i = 0; i < s->n_need_ids; i++) {
        bool found = false;
        for (size_t j = 0; j < db->n_callbacks; j++)
            if (!strcmp(db->callbacks[j].id, s->need_ids[i])) {
                assert_true(cb_pool_put_named(pool, &db->callbacks[j], db->version));
                found = true;
            }
        if (!found)
            assert_true(cb_pool_put_missing(pool, s->need_ids[i]));
    }
}

/* Runs the scope rules, filling what they lack, until they lack nothing. */
static void scope_of(struct db *db, struct cb_pool *pool, const struct cb_scope_seed *seed,
                     struct cb_scope *s)
{
    for (int round = 0; round < 10; round++) {
        assert_true(cb_core_scope(pool, seed, s));
        if (!cb_scope_lacking(s))
            return;
        answer(db, pool, s);
    }
    fail_msg("the scope still lacks facts after 10 rounds");
}

static bool has_row(const struct cb_pool *pool, const struct cb_scope *s, const char *id)
{
    for (size_t i = 0; i < s->n_rows; i++)
        if (!strcmp(cb_pool_row(pool, s->rows[i])->id, id))
            return true;
    return false;
}

/* A narrow decision that may change the stations of its seed, on a target with a queue: the whole
 * queue, in seq order, the requesters' stations; the requesters' other targets are not in
 * scope. */
static void test_a_narrow_seed_loads_the_queue_in_seq_order_and_locks_its_requesters(void **state)
{
    (void)state;
    struct db db = {.version = 7};
    station(&db, "500", true);
    station(&db, "600", false);
    station(&db, "601", false);
    station(&db, "501", false);
    callback(&db, "600", "500", CB_STATE_PENDING);
    callback(&db, "601", "500", CB_STATE_PENDING);
    callback(&db, "601", "501", CB_STATE_PENDING);
    struct cb_pool *pool = cb_pool_new(100, 100);
    struct cb_scope s = {0};
    const char *numbers[] = {"602", "500"};
    struct cb_scope_seed seed = {.numbers = numbers, .n_numbers = 2, .narrow = true};
    scope_of(&db, pool, &seed, &s);
    assert_int_equal(s.n_rows, 2);
    /* seq order: callback 1 (seq 99) before callback 0 (seq 100) */
    assert_string_equal(cb_pool_row(pool, s.rows[0])->id, db.callbacks[1].id);
    assert_string_equal(cb_pool_row(pool, s.rows[1])->id, db.callbacks[0].id);
    assert_false(has_row(pool, &s, db.callbacks[2].id));
    assert_true(cb_numbers_has(&s.targets, "500"));
    assert_false(cb_numbers_has(&s.targets, "501"));
    assert_false(s.wide);
    for (const char *const *n = (const char *const[]){"500", "602", "600", "601", NULL}; *n; n++)
        assert_true(cb_numbers_has(&s.locks, *n));
    assert_true(cb_numbers_has(&s.stations, "600") && cb_numbers_has(&s.stations, "601"));
    assert_true(cb_numbers_has(&s.used, "500"));
    cb_scope_free(&s);
    cb_pool_free(pool);
}

/* A decision that changes no station (an API set) on a target that cannot take a recall: its
 * queue is loaded to be counted, but the target is not scheduled (quiet), and the requesters
 * waiting on it are neither locked nor read (no station, no ENGAGED piece), except one that is
 * engaged there. Once the target can take a recall, it is scheduled as before. */
static void test_a_set_counts_the_queue_of_a_target_that_cannot_take_a_recall(void **state)
{
    (void)state;
    struct db db = {.version = 3};
    struct cb_station *target = station(&db, "500", true);
    station(&db, "600", false);
    station(&db, "601", false);
    station(&db, "602", false);
    station(&db, "603", false);
    callback(&db, "600", "500", CB_STATE_PENDING);
    callback(&db, "601", "500", CB_STATE_PENDING);
    callback(&db, "603", "500", CB_STATE_RECALLING); /* engaged on it */
    callback(&db, "602", "501", CB_STATE_PENDING);   /* the requester's own, elsewhere */
    const char *numbers[] = {"602", "500"};
    struct cb_scope_seed seed = {
        .numbers = numbers, .n_numbers = 2, .narrow = true, .keeps_facts = true};
    struct cb_pool *pool = cb_pool_new(100, 100);
    struct cb_scope s = {0};
    scope_of(&db, pool, &seed, &s);
    assert_int_equal(s.n_rows, 4); /* counted, engaged and the requester's own */
    assert_false(cb_numbers_has(&s.targets, "500"));
    assert_true(cb_numbers_has(&s.quiet, "500"));
    assert_false(cb_numbers_has(&s.quiet, "602")); /* an idle station: scheduled */
    assert_true(cb_numbers_has(&s.targets, "602"));
    assert_true(s.wide); /* an engaged callback of c1 may end: its targets may come in */
    for (const char *const *n = (const char *const[]){"500", "602", "603", NULL}; *n; n++)
        assert_true(cb_numbers_has(&s.locks, *n));
    for (const char *const *n = (const char *const[]){"600", "601", NULL}; *n; n++) {
        assert_false(cb_numbers_has(&s.locks, *n));
        assert_false(cb_numbers_has(&s.stations, *n));
        assert_false(cb_numbers_has(&s.used, *n));
    }
    assert_true(cb_numbers_has(&s.stations, "603"));

    /* A callback queued for its console (CB-31) schedules it, and so does being free. */
    struct cb_callback *queued = callback(&db, "604", "500", CB_STATE_QUEUED);
    station(&db, "604", false);
    db.version++;
    cb_pool_clear(pool);
    scope_of(&db, pool, &seed, &s);
    assert_true(cb_numbers_has(&s.targets, "500"));
    assert_true(cb_numbers_has(&s.locks, "600") && cb_numbers_has(&s.locks, "601"));
    queued->ended_at = 1;
    target->state.busy = false;
    db.version++;
    cb_pool_clear(pool);
    scope_of(&db, pool, &seed, &s);
    assert_true(cb_numbers_has(&s.targets, "500"));
    assert_int_equal(s.quiet.n, 0);
    assert_true(cb_numbers_has(&s.locks, "600") && cb_numbers_has(&s.stations, "601"));

    /* The same busy target, for a decision that may change its stations: scheduled. */
    target->state.busy = true;
    db.version++;
    cb_pool_clear(pool);
    seed.keeps_facts = false;
    scope_of(&db, pool, &seed, &s);
    assert_true(cb_numbers_has(&s.targets, "500"));
    assert_true(cb_numbers_has(&s.locks, "600") && cb_numbers_has(&s.locks, "601"));
    cb_scope_free(&s);
    cb_pool_free(pool);
}

/* The softkey (CB-01): the target of the station's current failed attempt, as the pool holds it,
 * joins the seed, even when the caller read an older attempt; with no current attempt, nothing
 * joins. */
static void test_a_softkey_set_concerns_the_current_attempt_of_its_station(void **state)
{
    (void)state;
    struct db db = {.version = 5};
    struct cb_station *requester = station(&db, "600", false);
    requester->attempt = CB_ATTEMPT_BUSY;
    snprintf(requester->attempt_to, sizeof requester->attempt_to, "%s", "501");
    station(&db, "500", true);
    station(&db, "501", true);
    station(&db, "602", false);
    callback(&db, "602", "501", CB_STATE_PENDING);
    const char *numbers[] = {"600", "500"}; /* the attempt the caller read: 500 */
    const char *attempts_of[] = {"600"};
    struct cb_scope_seed seed = {.numbers = numbers,
                                 .n_numbers = 2,
                                 .attempts_of = attempts_of,
                                 .n_attempts_of = 1,
                                 .narrow = true,
                                 .keeps_facts = true};
    struct cb_pool *pool = cb_pool_new(100, 100);
    struct cb_scope s = {0};
    scope_of(&db, pool, &seed, &s);
    assert_true(cb_numbers_has(&s.locks, "501"));
    assert_true(cb_numbers_has(&s.stations, "501"));
    assert_true(has_row(pool, &s, db.callbacks[0].id)); /* its queue, counted (CB-09) */
    assert_true(cb_numbers_has(&s.locks, "500"));

    requester->attempt = CB_ATTEMPT_NONE;
    db.version++;
    cb_pool_clear(pool);
    scope_of(&db, pool, &seed, &s);
    assert_false(cb_numbers_has(&s.locks, "501"));
    assert_false(has_row(pool, &s, db.callbacks[0].id));
    cb_scope_free(&s);
    cb_pool_free(pool);
}

/* A requester becoming free (not narrow): the targets of its callbacks come into scope unless
 * their station cannot take a recall (busy), except one with a callback queued for its console
 * (CB-31); a free target brings only its engaged callbacks, not its queue. */
static void test_a_freed_requester_brings_its_free_targets_and_queued_ones_into_scope(void **state)
{
    (void)state;
    struct db db = {.version = 1};
    station(&db, "600", false);
    station(&db, "500", false); /* free */
    station(&db, "501", true);  /* busy */
    station(&db, "502", true);  /* busy, but its callback is queued for the console */
    station(&db, "603", false);
    callback(&db, "600", "500", CB_STATE_PENDING);
    callback(&db, "600", "501", CB_STATE_PENDING);
    callback(&db, "600", "502", CB_STATE_QUEUED);
    callback(&db, "603", "500", CB_STATE_PENDING);   /* on a free target: not loaded */
    callback(&db, "603", "500", CB_STATE_NOTIFYING); /* engaged on it: loaded */
    struct cb_pool *pool = cb_pool_new(100, 100);
    struct cb_scope s = {0};
    const char *numbers[] = {"600"};
    struct cb_scope_seed seed = {.numbers = numbers, .n_numbers = 1, .narrow = false};
    scope_of(&db, pool, &seed, &s);
    assert_true(s.wide);
    assert_true(cb_numbers_has(&s.targets, "500"));
    assert_false(cb_numbers_has(&s.targets, "501"));
    assert_true(cb_numbers_has(&s.targets, "502"));
    assert_false(has_row(pool, &s, db.callbacks[3].id));
    assert_true(has_row(pool, &s, db.callbacks[4].id));
    assert_int_equal(s.n_rows, 4);
    seed.narrow = true; /* narrow: none of them */
    scope_of(&db, pool, &seed, &s);
    assert_int_equal(s.targets.n, 1);
    assert_int_equal(s.n_rows, 3);
    cb_scope_free(&s);
    cb_pool_free(pool);
}

/* An engaged callback of the seed on another target: that target's whole queue (CB-17). */
static void test_an_engaged_callback_brings_its_target_queue(void **state)
{
    (void)state;
    struct db db = {.version = 1};
    station(&db, "600", true);
    station(&db, "500", true);
    station(&db, "601", false);
    callback(&db, "600", "500", CB_STATE_NOTIFYING);
    callback(&db, "601", "500", CB_STATE_PENDING);
    struct cb_pool *pool = cb_pool_new(100, 100);
    struct cb_scope s = {0};
    const char *numbers[] = {"600"};
    struct cb_scope_seed seed = {.numbers = numbers, .n_numbers = 1, .narrow = true};
    scope_of(&db, pool, &seed, &s);
    assert_true(cb_numbers_has(&s.targets, "500"));
    assert_true(has_row(pool, &s, db.callbacks[1].id));
    assert_true(cb_numbers_has(&s.locks, "601"));
    cb_scope_free(&s);
    cb_pool_free(pool);
}

/* A console requester: what rings the other consoles of its group is loaded (CB-31). */
static void test_a_console_requester_brings_what_rings_its_group(void **state)
{
    (void)state;
    struct db db = {.version = 1};
    struct cb_station *c1 = station(&db, "700", false), *c2 = station(&db, "701", false);
    c1->kind = c2->kind = CB_KIND_CONSOLE;
    snprintf(c1->console_group, sizeof c1->console_group, "g");
    snprintf(c2->console_group, sizeof c2->console_group, "g");
    station(&db, "500", true);
    station(&db, "501", true);
    callback(&db, "700", "500", CB_STATE_PENDING);
    callback(&db, "701", "501", CB_STATE_NOTIFYING);
    struct cb_pool *pool = cb_pool_new(100, 100);
    struct cb_scope s = {0};
    const char *numbers[] = {"500"};
    struct cb_scope_seed seed = {.numbers = numbers, .n_numbers = 1, .narrow = true};
    scope_of(&db, pool, &seed, &s);
    assert_true(has_row(pool, &s, db.callbacks[1].id));
    assert_true(cb_numbers_has(&s.stations, "701"));
    cb_scope_free(&s);
    cb_pool_free(pool);
}

/* A member of a hunt group, and a number dialed through a trunk group: both groups join the
 * seed, with their members and lines. */
static void test_hunt_groups_and_trunk_groups_join_the_seed(void **state)
{
    (void)state;
    struct db db = {.version = 1};
    station(&db, "401", false);
    station(&db, "402", false);
    snprintf(db.hunt.number, sizeof db.hunt.number, "400");
    snprintf(db.members[0], CB_NUMBER_MAX, "401");
    snprintf(db.members[1], CB_NUMBER_MAX, "402");
    db.hunt.members = db.members;
    db.hunt.n_members = 2;
    snprintf(db.trunk.number, sizeof db.trunk.number, "9");
    station(&db, "600", false);
    callback(&db, "600", "400", CB_STATE_PENDING);
    struct cb_pool *pool = cb_pool_new(100, 100);
    struct cb_scope s = {0};
    const char *numbers[] = {"401"}, *dialed[] = {"95551234"};
    struct cb_scope_seed seed = {
        .numbers = numbers, .n_numbers = 1, .dialed = dialed, .n_dialed = 1, .narrow = true};
    scope_of(&db, pool, &seed, &s);
    assert_true(cb_numbers_has(&s.targets, "400"));
    assert_true(cb_numbers_has(&s.targets, "9"));
    assert_true(cb_numbers_has(&s.hunt_groups, "400"));
    assert_true(cb_numbers_has(&s.trunk_groups, "9"));
    assert_true(cb_numbers_has(&s.stations, "402"));
    assert_true(has_row(pool, &s, db.callbacks[0].id));
    cb_scope_free(&s);
    cb_pool_free(pool);
}

/* A callback named by id that has ended is in the world (the core answers "already ended"),
 * outside the scope; an id no callback has is not lacking once looked up. */
static void test_named_callbacks_ended_and_missing(void **state)
{
    (void)state;
    struct db db = {.version = 1};
    station(&db, "600", false);
    station(&db, "500", false);
    struct cb_callback *c = callback(&db, "600", "500", CB_STATE_COMPLETED);
    c->ended_at = 5;
    struct cb_pool *pool = cb_pool_new(100, 100);
    struct cb_scope s = {0};
    const char *ids[] = {db.callbacks[0].id, "00000000-0000-7000-8000-999999999999"};
    struct cb_scope_seed seed = {.callback_ids = ids, .n_callback_ids = 2};
    scope_of(&db, pool, &seed, &s);
    assert_int_equal(s.n_rows, 1);
    assert_true(has_row(pool, &s, db.callbacks[0].id));
    assert_int_equal(s.targets.n, 0);
    cb_scope_free(&s);
    cb_pool_free(pool);
}

/* Once loaded, the pool answers without filling; a number whose version moved is forgotten
 * (db_world_check), and the scope asks for it again. */
static void test_the_pool_answers_again_until_a_version_moves(void **state)
{
    (void)state;
    struct db db = {.version = 1};
    station(&db, "500", true);
    station(&db, "600", false);
    callback(&db, "600", "500", CB_STATE_PENDING);
    struct cb_pool *pool = cb_pool_new(100, 100);
    struct cb_scope s = {0};
    const char *numbers[] = {"500"};
    struct cb_scope_seed seed = {.numbers = numbers, .n_numbers = 1, .narrow = true};
    scope_of(&db, pool, &seed, &s);
    int fills = db.fills;
    scope_of(&db, pool, &seed, &s);
    assert_int_equal(db.fills, fills);
    cb_pool_forget(pool, "500");
    assert_false(cb_pool_known(pool, "500", CB_PIECE_QUEUES, NULL));
    assert_false(cb_pool_known(pool, "500", CB_PIECE_STATION, NULL));
    assert_true(cb_pool_known(pool, "600", CB_PIECE_STATION, NULL));
    assert_true(cb_core_scope(pool, &seed, &s));
    assert_true(cb_numbers_has(&s.need[CB_PIECE_QUEUES], "500"));
    cb_scope_free(&s);
    cb_pool_free(pool);
}

/* After a commit, the pool holds what the decision wrote, at the commit's version, for the
 * numbers it locked; a callback that starts ringing moves into the ENGAGED pieces of its
 * requester and target; a number not locked is forgotten, and so are those of a callback
 * created (its seq is the database's). */
static void test_a_commit_keeps_what_it_wrote_where_it_held_the_locks(void **state)
{
    (void)state;
    struct db db = {.version = 1};
    station(&db, "500", false);
    station(&db, "600", false);
    callback(&db, "600", "500", CB_STATE_PENDING);
    struct cb_pool *pool = cb_pool_new(100, 100);
    struct cb_scope s = {0};
    const char *numbers[] = {"500"};
    struct cb_scope_seed seed = {.numbers = numbers, .n_numbers = 1, .narrow = true};
    scope_of(&db, pool, &seed, &s);
    struct cb_callback rung = *cb_pool_row(pool, s.rows[0]);
    rung.state = CB_STATE_NOTIFYING;
    snprintf(rung.notify_station, sizeof rung.notify_station, "600");
    rung.dirty = true;
    struct cb_world w = {.callbacks = &rung, .n_callbacks = 1};
    struct cb_numbers safe = {0};
    bool oom = false;
    cb_numbers_add(&safe, "500", &oom);
    cb_numbers_add(&safe, "600", &oom);
    assert_true(cb_pool_known(pool, "600", CB_PIECE_ENGAGED, NULL));
    cb_pool_committed(pool, &w, &safe, 42);
    uint64_t v = 0;
    const size_t *rows;
    size_t n;
    assert_true(cb_pool_known(pool, "600", CB_PIECE_ENGAGED, &v));
    assert_int_equal(v, 42);
    assert_true(cb_pool_rows(pool, "600", CB_PIECE_ENGAGED, &rows, &n));
    assert_int_equal(n, 1);
    assert_int_equal(cb_pool_row(pool, rows[0])->state, CB_STATE_NOTIFYING);
    assert_true(cb_pool_known(pool, "500", CB_PIECE_QUEUES, &v));
    assert_int_equal(v, 42);
    /* 600 not held: forgotten */
    cb_numbers_free(&safe);
    cb_numbers_add(&safe, "500", &oom);
    rung.state = CB_STATE_PENDING;
    cb_pool_committed(pool, &w, &safe, 43);
    assert_false(cb_pool_known(pool, "600", CB_PIECE_ENGAGED, NULL));
    assert_true(cb_pool_known(pool, "500", CB_PIECE_ENGAGED, &v));
    assert_int_equal(v, 43);
    assert_true(cb_pool_rows(pool, "500", CB_PIECE_ENGAGED, &rows, &n));
    assert_int_equal(n, 0);
    /* created: its numbers are read again */
    struct cb_callback created = rung;
    snprintf(created.id, sizeof created.id, "00000000-0000-7000-8000-000000000077");
    created.dirty = false;
    created.is_new = true;
    w.callbacks = &created;
    cb_pool_committed(pool, &w, &safe, 44);
    assert_false(cb_pool_known(pool, "500", CB_PIECE_QUEUES, NULL));
    cb_numbers_free(&safe);
    cb_scope_free(&s);
    cb_pool_free(pool);
}

/* A fill read with another global version (provisioning moved) clears the pool first. */
static void test_provisioning_moving_clears_the_pool(void **state)
{
    (void)state;
    struct cb_pool *pool = cb_pool_new(100, 100);
    struct cb_number_facts f = {0};
    assert_true(cb_pool_put_facts(pool, "500", 1, 1, &f));
    assert_true(cb_pool_put_callbacks(pool, "500", CB_PIECE_QUEUES, 1, NULL, 0));
    assert_true(cb_pool_put_facts(pool, "501", 1, 2, &f));
    assert_false(cb_pool_known(pool, "500", CB_PIECE_QUEUES, NULL));
    assert_true(cb_pool_known(pool, "501", CB_PIECE_STATION, NULL));
    cb_pool_free(pool);
}

/* The options are kept at the global version they were read with: known while the pool holds
 * that version, forgotten with everything when facts of another one come in. */
static void test_the_options_are_kept_at_their_global_version(void **state)
{
    (void)state;
    struct cb_pool *pool = cb_pool_new(100, 100);
    struct cb_options o = {.max_per_target = 7}, got = {0};
    struct cb_number_facts f = {0};
    assert_false(cb_pool_options(pool, &got));
    cb_pool_put_options(pool, &o, 3);
    assert_true(cb_pool_options(pool, &got));
    assert_int_equal(got.max_per_target, 7);
    assert_true(cb_pool_put_facts(pool, "500", 1, 3, &f));
    assert_true(cb_pool_options(pool, &got));
    assert_true(cb_pool_put_facts(pool, "501", 1, 4, &f)); /* provisioning moved */
    assert_false(cb_pool_options(pool, &got));
    assert_false(cb_pool_known(pool, "500", CB_PIECE_STATION, NULL));
    cb_pool_put_options(pool, &o, 5); /* read later than the facts: they go */
    assert_true(cb_pool_options(pool, &got));
    assert_false(cb_pool_known(pool, "501", CB_PIECE_STATION, NULL));
    cb_pool_free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_narrow_seed_loads_the_queue_in_seq_order_and_locks_its_requesters),
        cmocka_unit_test(test_a_set_counts_the_queue_of_a_target_that_cannot_take_a_recall),
        cmocka_unit_test(test_a_softkey_set_concerns_the_current_attempt_of_its_station),
        cmocka_unit_test(test_a_freed_requester_brings_its_free_targets_and_queued_ones_into_scope),
        cmocka_unit_test(test_an_engaged_callback_brings_its_target_queue),
        cmocka_unit_test(test_a_console_requester_brings_what_rings_its_group),
        cmocka_unit_test(test_hunt_groups_and_trunk_groups_join_the_seed),
        cmocka_unit_test(test_named_callbacks_ended_and_missing),
        cmocka_unit_test(test_the_pool_answers_again_until_a_version_moves),
        cmocka_unit_test(test_a_commit_keeps_what_it_wrote_where_it_held_the_locks),
        cmocka_unit_test(test_provisioning_moving_clears_the_pool),
        cmocka_unit_test(test_the_options_are_kept_at_their_global_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
