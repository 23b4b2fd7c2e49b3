/* CB-15..CB-17 with long queues: the scheduler's one pass in queue order across targets, its
 * engaged counts and its trunk line search, on worlds larger than the fixture's. The callbacks
 * are placed in the world out of seq order so that only seq can explain the outcome. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/core/core.h"

#define Q_T0 1700000000000LL

struct qworld {
    struct cb_world w;
    struct cb_trunk_group trunk;
    struct cb_trunk_line lines[4];
    struct cb_hunt_group hunt;
    char members[3][CB_NUMBER_MAX];
    char scope[8][CB_NUMBER_MAX];
    struct cb_decisions d;
};

static struct qworld *q_new(size_t n_stations)
{
    struct qworld *q = calloc(1, sizeof(*q));
    assert_non_null(q);
    q->w.stations = calloc(n_stations, sizeof(*q->w.stations));
    assert_non_null(q->w.stations);
    q->w.scope_targets = q->scope;
    q->w.options = (struct cb_options){.callback_cancel_timer_s = 3600,
                                       .notification_timeout_s = 20,
                                       .recall_timeout_s = 60,
                                       .max_per_requester = 1000,
                                       .max_per_target = 1000};
    cb_decisions_init(&q->d);
    return q;
}

static void q_free(struct qworld *q)
{
    cb_decisions_free(&q->d);
    cb_world_free_callbacks(&q->w);
    free(q->w.stations);
    free(q);
}

static struct cb_station *q_station(struct qworld *q, const char *number)
{
    struct cb_station *s = &q->w.stations[q->w.n_stations++];
    snprintf(s->number, sizeof(s->number), "%s", number);
    snprintf(s->prime_line, sizeof(s->prime_line), "%s", number);
    s->callbacks_allowed = true;
    s->state.console_available = true;
    return s;
}

static void q_scope(struct qworld *q, const char *target)
{
    snprintf(q->scope[q->w.n_scope_targets++], CB_NUMBER_MAX, "%s", target);
}

static const char *requester_number(size_t r, char buf[CB_NUMBER_MAX])
{
    snprintf(buf, CB_NUMBER_MAX, "1%04zu", r);
    return buf;
}

static struct cb_callback *q_callback(struct qworld *q, int64_t seq, const char *requester,
                                      const char *target, enum cb_target_type type)
{
    struct cb_callback c;
    memset(&c, 0, sizeof(c));
    snprintf(c.id, sizeof(c.id), "cb-%lld", (long long)seq);
    c.seq = seq;
    snprintf(c.requester, sizeof(c.requester), "%s", requester);
    snprintf(c.target, sizeof(c.target), "%s", target);
    c.target_type = type;
    c.mode = CB_MODE_CALLBACK;
    c.state = CB_STATE_PENDING;
    snprintf(c.notify_station, sizeof(c.notify_station), "%s", requester);
    snprintf(c.notify_line, sizeof(c.notify_line), "%s", requester);
    if (type == CB_TARGET_TRUNK_GROUP)
        snprintf(c.external_number, sizeof(c.external_number), "555%lld", (long long)seq);
    c.expires_at = Q_T0 + 3600 * 1000;
    struct cb_callback *added = cb_world_add_callback(&q->w, &c);
    assert_non_null(added);
    return added;
}

/* Position `i` of `n` visited in a scrambled order (a step coprime with n). */
static size_t scrambled(size_t i, size_t n)
{
    size_t step = 7919 % n ? 7919 : 7907;
    return (i * step) % n;
}

static void q_schedule(struct qworld *q)
{
    cb_decisions_free(&q->d);
    cb_decisions_init(&q->d);
    struct cb_cause cause = {.kind = CB_CAUSE_API};
    snprintf(cause.ref, sizeof(cause.ref), "schedule");
    cb_core_schedule(&q->w, Q_T0, &cause, &q->d);
}

static const struct cb_command *q_cmd(const struct qworld *q, enum cb_command_type type, size_t nth)
{
    for (size_t i = 0; i < q->d.n_commands; i++)
        if (q->d.commands[i].type == type && nth-- == 0)
            return &q->d.commands[i];
    fail_msg("no %s command", cb_command_type_name(type));
    return NULL;
}

static size_t q_count(const struct qworld *q, enum cb_command_type type)
{
    size_t n = 0;
    for (size_t i = 0; i < q->d.n_commands; i++)
        n += q->d.commands[i].type == type;
    return n;
}

#define QUEUE 300

/* Three idle station targets with a queue of 300 each; requester r set its callbacks on the
 * three targets in a rotated order (r on T(r%3) first). r0 is busy. Served in seq order across
 * targets: r1 gets T1 (its oldest), r2 gets T2, r3 gets T0; everyone else waits, keeping its
 * place, because each target rings one callback at a time and r1..r3 are now engaged. */
static void test_cb17_order_across_targets_with_large_queues(void **state)
{
    (void)state;
    const char *targets[3] = {"2000", "2001", "2002"};
    struct qworld *q = q_new(QUEUE + 3);
    for (size_t t = 0; t < 3; t++) {
        q_station(q, targets[t]);
        q_scope(q, targets[t]);
    }
    char num[CB_NUMBER_MAX];
    for (size_t r = 0; r < QUEUE; r++)
        q_station(q, requester_number(r, num))->state.busy = r == 0;
    for (size_t i = 0; i < 3 * QUEUE; i++) {
        size_t k = scrambled(i, 3 * QUEUE); /* the k-th callback set, in seq order */
        size_t r = k / 3, t = (r + k % 3) % 3;
        q_callback(q, (int64_t)k + 1, requester_number(r, num), targets[t], CB_TARGET_STATION);
    }
    q_schedule(q);
    assert_int_equal(q_count(q, CB_CMD_RING), 3);
    const char *expected[3][2] = {{"10001", "2001"}, {"10002", "2002"}, {"10003", "2000"}};
    for (size_t i = 0; i < 3; i++) {
        const struct cb_command *ring = q_cmd(q, CB_CMD_RING, i);
        assert_string_equal(ring->station, expected[i][0]);
        struct cb_callback *c = cb_world_callback(&q->w, ring->callback_id);
        assert_non_null(c);
        assert_string_equal(c->target, expected[i][1]);
        assert_int_equal(c->state, CB_STATE_NOTIFYING);
    }
    size_t notifying = 0;
    for (size_t i = 0; i < q->w.n_callbacks; i++)
        notifying += q->w.callbacks[i].state == CB_STATE_NOTIFYING;
    assert_int_equal(notifying, 3);
    q_free(q);
}

/* A random long queue on four station targets, with busy requesters and requesters already
 * ringing for another callback. Whatever the draw, CB-17 holds: rings go out in seq order, one
 * per idle target, each to the first callback of its queue whose requester was free then. */
static void test_cb17_each_target_serves_its_first_free_requester(void **state)
{
    (void)state;
    const char *targets[4] = {"2000", "2001", "2002", "2003"};
    struct qworld *q = q_new(QUEUE + 4);
    for (size_t t = 0; t < 4; t++) {
        q_station(q, targets[t]);
        q_scope(q, targets[t]);
    }
    char num[CB_NUMBER_MAX];
    uint64_t rnd = 42;
    for (size_t r = 0; r < QUEUE; r++) {
        rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
        q_station(q, requester_number(r, num))->state.busy = (rnd >> 33) % 3 == 0;
    }
    /* Requesters 5 and 6 are already ringing, for a callback on a target out of scope. */
    for (size_t r = 5; r <= 6; r++)
        q_callback(q, 100000 + (int64_t)r, requester_number(r, num), "2999", CB_TARGET_STATION)
            ->state = CB_STATE_NOTIFYING;
    size_t n = 4 * QUEUE;
    for (size_t i = 0; i < n; i++) {
        rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t k = scrambled(i, n);
        q_callback(q, (int64_t)k + 1, requester_number((rnd >> 33) % QUEUE, num),
                   targets[(rnd >> 40) % 4], CB_TARGET_STATION);
    }
    q_schedule(q);

    /* Replays the queue in seq order, as CB-17 says, and compares with what was rung. */
    bool *engaged = calloc(q->w.n_stations, sizeof(*engaged));
    assert_non_null(engaged);
    engaged[4 + 5] = engaged[4 + 6] = true; /* 10005 and 10006, after the four targets */
    bool target_taken[4] = {false};
    size_t rings = 0;
    int64_t last_seq = 0;
    for (int64_t seq = 1; seq <= (int64_t)n; seq++) {
        char id[CB_ID_MAX];
        snprintf(id, sizeof(id), "cb-%lld", (long long)seq);
        const struct cb_callback *c = cb_world_callback(&q->w, id);
        assert_non_null(c);
        size_t t = (size_t)(c->target[3] - '0');
        size_t req = (size_t)(cb_world_station(&q->w, c->requester) - q->w.stations);
        bool served = !target_taken[t] && !q->w.stations[req].state.busy && !engaged[req];
        assert_int_equal(c->state, served ? CB_STATE_NOTIFYING : CB_STATE_PENDING);
        if (!served)
            continue;
        target_taken[t] = engaged[req] = true;
        const struct cb_command *ring = q_cmd(q, CB_CMD_RING, rings++);
        assert_string_equal(ring->callback_id, c->id);
        assert_true(c->seq > last_seq);
        last_seq = c->seq;
    }
    assert_int_equal(q_count(q, CB_CMD_RING), rings);
    assert_int_equal(rings, 4);
    free(engaged);
    q_free(q);
}

/* CB-15/CB-17: a trunk group of four lines, L1 held for a callback already ringing and L2
 * busy: the two oldest callbacks of a long queue whose requesters are free take L3 then L4. */
static void test_cb15_large_queue_takes_free_lines_in_order(void **state)
{
    (void)state;
    struct qworld *q = q_new(QUEUE + 1);
    snprintf(q->trunk.number, sizeof(q->trunk.number), "9");
    q->trunk.callback_activation = true;
    q->trunk.lines = q->lines;
    q->trunk.n_lines = 4;
    for (size_t l = 0; l < 4; l++)
        snprintf(q->lines[l].id, sizeof(q->lines[l].id), "L%zu", l + 1);
    q->lines[1].busy = true;
    q->w.trunk_groups = &q->trunk;
    q->w.n_trunk_groups = 1;
    q_scope(q, "9");
    char num[CB_NUMBER_MAX];
    for (size_t r = 0; r < QUEUE; r++)
        q_station(q, requester_number(r, num))->state.busy = r < 10 || r == 11;
    for (size_t i = 0; i < QUEUE; i++) {
        size_t k = scrambled(i, QUEUE);
        q_callback(q, (int64_t)k + 1, requester_number(k, num), "9", CB_TARGET_TRUNK_GROUP);
    }
    struct cb_callback *holder =
        q_callback(q, 0, requester_number(QUEUE - 1, num), "9", CB_TARGET_TRUNK_GROUP);
    holder->state = CB_STATE_NOTIFYING;
    snprintf(holder->reserved_line, sizeof(holder->reserved_line), "L1");
    snprintf(q->lines[0].reserved_for, sizeof(q->lines[0].reserved_for), "%s", holder->id);
    q_schedule(q);
    assert_int_equal(q_count(q, CB_CMD_RESERVE_TRUNK), 2);
    assert_string_equal(q_cmd(q, CB_CMD_RESERVE_TRUNK, 0)->line, "L3");
    assert_string_equal(q_cmd(q, CB_CMD_RESERVE_TRUNK, 0)->for_station, "10010");
    assert_string_equal(q_cmd(q, CB_CMD_RESERVE_TRUNK, 1)->line, "L4");
    assert_string_equal(q_cmd(q, CB_CMD_RESERVE_TRUNK, 1)->for_station, "10012");
    assert_string_equal(q_cmd(q, CB_CMD_RING, 0)->station, "10010");
    assert_string_equal(q_cmd(q, CB_CMD_RING, 1)->station, "10012");
    assert_string_equal(q->lines[2].reserved_for, q_cmd(q, CB_CMD_RING, 0)->callback_id);
    assert_string_equal(q->lines[3].reserved_for, q_cmd(q, CB_CMD_RING, 1)->callback_id);
    q_free(q);
}

/* CB-16/CB-17: a hunt group of three members, one busy, one callback already ringing for the
 * group: one more callback of the long queue matures, the oldest whose requester is free. */
static void test_cb16_large_queue_counts_the_callbacks_already_engaged(void **state)
{
    (void)state;
    struct qworld *q = q_new(QUEUE + 3);
    snprintf(q->hunt.number, sizeof(q->hunt.number), "3000");
    q->hunt.callback_activation = true;
    q->hunt.members = q->members;
    q->hunt.n_members = 3;
    for (size_t m = 0; m < 3; m++) {
        snprintf(q->members[m], CB_NUMBER_MAX, "300%zu", m + 1);
        q_station(q, q->members[m])->state.busy = m == 1;
    }
    q->w.hunt_groups = &q->hunt;
    q->w.n_hunt_groups = 1;
    q_scope(q, "3000");
    char num[CB_NUMBER_MAX];
    for (size_t r = 0; r < QUEUE; r++)
        q_station(q, requester_number(r, num))->state.busy = r < 3;
    for (size_t i = 0; i < QUEUE; i++) {
        size_t k = scrambled(i, QUEUE);
        q_callback(q, (int64_t)k + 1, requester_number(k, num), "3000", CB_TARGET_HUNT_GROUP);
    }
    q_callback(q, 0, requester_number(QUEUE - 1, num), "3000", CB_TARGET_HUNT_GROUP)->state =
        CB_STATE_RECALLING;
    q_schedule(q);
    assert_int_equal(q_count(q, CB_CMD_RING), 1);
    assert_string_equal(q_cmd(q, CB_CMD_RING, 0)->station, "10003");
    q_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cb17_order_across_targets_with_large_queues),
        cmocka_unit_test(test_cb17_each_target_serves_its_first_free_requester),
        cmocka_unit_test(test_cb15_large_queue_takes_free_lines_in_order),
        cmocka_unit_test(test_cb16_large_queue_counts_the_callbacks_already_engaged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
