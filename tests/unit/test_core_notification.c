/* Notification and recall: CB-20..CB-24. */
#include "test_core_fixture.h"

/* A (2001, prime line 2101) waits on busy B (2002); B goes idle: A is rung. */
static void ringing(struct fx *f, char *id)
{
    FX_COPY(fx_station(f, "2001")->prime_line, "2101");
    fx_station(f, "2002")->state.busy = true;
    fx_scope(f, "2002");
    assert_non_null(fx_set_full(f, "2001", "2002", NULL, CB_MODE_CALLBACK, id));
    fx_idle(f, "2002");
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_NOTIFYING);
}

/* A trunk callback on group 9 to 5551234, matured on line L1. */
static void trunk_ringing(struct fx *f, char *id)
{
    fx_station(f, "2001");
    fx_trunk(f, "9", 1);
    f->lines[0].busy = true;
    assert_non_null(fx_set_full(f, "2001", "9", "5551234", CB_MODE_CALLBACK, id));
    fx_trunk_state(f, "L1", false);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_NOTIFYING);
}

static void test_cb20_ring_on_prime_line_with_notify_timeout(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    ringing(f, id);
    assert_int_equal(f->d.n_commands, 1);
    const struct cb_command *r = fx_cmd(f, CB_CMD_RING, 0);
    assert_string_equal(r->station, "2001");
    assert_string_equal(r->line, "2101");
    assert_string_equal(r->callback_id, id);
    assert_string_equal(r->on_behalf_of, "");
    assert_string_equal(r->display, "Callback 2002");
    assert_string_equal(fx_cb(f, id)->notify_line, "2101");
    const struct cb_timer_op *t = fx_timer_op(f, CB_TIMER_NOTIFY_TIMEOUT, id, false);
    assert_non_null(t);
    assert_int_equal(t->at, f->now + 20 * 1000);
}

static void test_cb21_ring_bypasses_requester_forwarding(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    FX_COPY(fx_station(f, "2001")->prime_line, "2101");
    fx_station(f, "2003");
    fx_station(f, "2002")->state.busy = true;
    fx_scope(f, "2002");
    fx_set_full(f, "2001", "2002", NULL, CB_MODE_CALLBACK, id);
    struct cb_event ev = fx_event(f, CB_EV_STATION_FORWARD);
    FX_COPY(ev.station, "2001");
    FX_COPY(ev.forward_to, "2003");
    fx_apply(f, &ev);
    assert_string_equal(cb_world_station(&f->w, "2001")->state.forward_to, "2003");
    fx_idle(f, "2002");
    assert_int_equal(fx_count(f, CB_CMD_RING), 1);
    assert_string_equal(fx_cmd(f, CB_CMD_RING, 0)->station, "2001");
}

static void test_cb22_hook_off_answers_and_originates(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX], ev[32];
    ringing(f, id);
    f->now += 3000;
    fx_hook(f, "2001", true);
    const struct cb_callback *c = fx_cb(f, id);
    assert_int_equal(c->state, CB_STATE_RECALLING);
    assert_int_equal(f->d.n_commands, 1); /* no stop_ring: lifting the handset answers */
    const struct cb_command *o = fx_cmd(f, CB_CMD_ORIGINATE, 0);
    assert_string_equal(o->from_station, "2001");
    assert_string_equal(o->from_line, "2101");
    assert_string_equal(o->to, "2002");
    assert_string_equal(o->via_line, "");
    assert_string_equal(o->external_number, "");
    assert_non_null(fx_timer_op(f, CB_TIMER_NOTIFY_TIMEOUT, id, true));
    const struct cb_timer_op *t = fx_timer_op(f, CB_TIMER_RECALL_TIMEOUT, id, false);
    assert_non_null(t);
    assert_int_equal(t->at, f->now + 60 * 1000);
    fx_assert_history(f, id, CB_STATE_NOTIFYING, CB_STATE_RECALLING, CB_CAUSE_EVENT,
                      fx_last_event_id(f, ev));
}

static void test_cb22_trunk_recall_goes_through_the_reserved_line(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    trunk_ringing(f, id);
    fx_hook(f, "2001", true);
    const struct cb_command *o = fx_cmd(f, CB_CMD_ORIGINATE, 0);
    assert_string_equal(o->to, "95551234");
    assert_string_equal(o->via_line, "L1");
    assert_string_equal(o->external_number, "5551234");
}

static void test_cb22_hook_off_of_another_station_does_not_answer(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    ringing(f, id);
    fx_station(f, "2005");
    fx_hook(f, "2005", true);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_NOTIFYING);
    assert_int_equal(f->d.n_commands, 0);
}

static void test_cb23_notify_timeout_cancels_with_no_response(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    ringing(f, id);
    f->now += 20000;
    fx_timer(f, CB_TIMER_NOTIFY_TIMEOUT, id);
    const struct cb_callback *c = fx_cb(f, id);
    assert_int_equal(c->state, CB_STATE_CANCELLED);
    assert_int_equal(c->end_reason, CB_END_NO_RESPONSE);
    assert_int_equal(c->ended_at, f->now);
    const struct cb_command *s = fx_cmd(f, CB_CMD_STOP_RING, 0);
    assert_string_equal(s->station, "2001");
    assert_string_equal(s->line, "2101");
    fx_assert_history(f, id, CB_STATE_NOTIFYING, CB_STATE_CANCELLED, CB_CAUSE_TIMER,
                      "notify_timeout");
    assert_non_null(fx_timer_op(f, CB_TIMER_EXPIRY, id, true));
    assert_non_null(fx_timer_op(f, CB_TIMER_NOTIFY_TIMEOUT, id, true));
    assert_non_null(fx_timer_op(f, CB_TIMER_RECALL_TIMEOUT, id, true));
}

static void test_cb23_notify_timeout_releases_the_trunk_line(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    trunk_ringing(f, id);
    fx_timer(f, CB_TIMER_NOTIFY_TIMEOUT, id);
    assert_int_equal(fx_cb(f, id)->end_reason, CB_END_NO_RESPONSE);
    const struct cb_command *r = fx_cmd(f, CB_CMD_RELEASE_TRUNK, 0);
    assert_string_equal(r->trunk_group, "9");
    assert_string_equal(r->line, "L1");
    assert_string_equal(f->lines[0].reserved_for, "");
    assert_true(f->lines[0].dirty);
}

static void test_cb23_stale_notify_timeout_does_nothing(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    ringing(f, id);
    fx_hook(f, "2001", true);
    fx_timer(f, CB_TIMER_NOTIFY_TIMEOUT, id);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_RECALLING);
    assert_int_equal(f->d.n_commands + f->d.n_history + f->d.n_timers, 0);
}

static void test_cb24_answered_recall_completes(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX], ev[32];
    ringing(f, id);
    fx_hook(f, "2001", true);
    fx_recall(f, id, CB_RECALL_ANSWERED);
    const struct cb_callback *c = fx_cb(f, id);
    assert_int_equal(c->state, CB_STATE_COMPLETED);
    assert_int_equal(c->end_reason, CB_END_COMPLETED);
    assert_int_equal(f->d.n_commands, 0);
    assert_non_null(fx_timer_op(f, CB_TIMER_RECALL_TIMEOUT, id, true));
    fx_assert_history(f, id, CB_STATE_RECALLING, CB_STATE_COMPLETED, CB_CAUSE_EVENT,
                      fx_last_event_id(f, ev));
}

static void test_cb24_answered_trunk_recall_hands_the_line_to_the_call(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    trunk_ringing(f, id);
    fx_hook(f, "2001", true);
    fx_recall(f, id, CB_RECALL_ANSWERED);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_COMPLETED);
    assert_int_equal(fx_count(f, CB_CMD_RELEASE_TRUNK), 0);
    assert_string_equal(f->lines[0].reserved_for, "");
}

static void test_cb24_busy_recall_is_preserved_until_next_idle_report(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    FX_COPY(fx_station(f, "2001")->prime_line, "2101");
    fx_station(f, "2002");
    fx_scope(f, "2002");
    fx_set_full(f, "2001", "2002", NULL, CB_MODE_CALLBACK, id); /* no_answer */
    cb_time expires = fx_cb(f, id)->expires_at;
    fx_hook_cycle(f, "2002");
    fx_hook(f, "2001", true);
    fx_recall(f, id, CB_RECALL_BUSY);
    const struct cb_callback *c = fx_cb(f, id);
    assert_int_equal(c->state, CB_STATE_PENDING);
    assert_int_equal(c->reason, CB_REASON_BUSY);
    assert_true(c->idle_report_needed);
    assert_int_equal(c->expires_at, expires);
    assert_null(fx_timer_op(f, CB_TIMER_EXPIRY, id, true));
    assert_non_null(fx_timer_op(f, CB_TIMER_RECALL_TIMEOUT, id, true));
    fx_hook(f, "2001", false);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING); /* target not reported idle yet */
    fx_idle(f, "2002");
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_NOTIFYING);
}

static void test_cb24_no_answer_recall_waits_for_hook_cycle(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    ringing(f, id);
    fx_hook(f, "2001", true);
    fx_recall(f, id, CB_RECALL_NO_ANSWER);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
    assert_int_equal(fx_cb(f, id)->reason, CB_REASON_NO_ANSWER);
    assert_true(fx_cb(f, id)->hook_cycle_needed);
    fx_hook(f, "2001", false);
    fx_idle(f, "2002");
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
    fx_hook_cycle(f, "2002");
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_NOTIFYING);
}

static void test_cb24_failed_recall_counts_as_no_answer(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    ringing(f, id);
    fx_hook(f, "2001", true);
    fx_recall(f, id, CB_RECALL_FAILED);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
    assert_int_equal(fx_cb(f, id)->reason, CB_REASON_NO_ANSWER);
    assert_true(fx_cb(f, id)->hook_cycle_needed);
}

static void test_cb24_recall_timeout_counts_as_no_answer(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    ringing(f, id);
    fx_hook(f, "2001", true);
    f->now += 60000;
    fx_timer(f, CB_TIMER_RECALL_TIMEOUT, id);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
    assert_int_equal(fx_cb(f, id)->reason, CB_REASON_NO_ANSWER);
    assert_true(fx_cb(f, id)->hook_cycle_needed);
    fx_assert_history(f, id, CB_STATE_RECALLING, CB_STATE_PENDING, CB_CAUSE_TIMER,
                      "recall_timeout");
}

static void test_cb24_failed_trunk_recall_is_cancelled_and_released(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    trunk_ringing(f, id);
    fx_hook(f, "2001", true);
    fx_recall(f, id, CB_RECALL_BUSY);
    const struct cb_callback *c = fx_cb(f, id);
    assert_int_equal(c->state, CB_STATE_CANCELLED);
    assert_int_equal(c->end_reason, CB_END_RECALL_FAILED);
    assert_int_equal(fx_count(f, CB_CMD_RELEASE_TRUNK), 1);
    assert_string_equal(fx_cmd(f, CB_CMD_RELEASE_TRUNK, 0)->line, "L1");
    assert_string_equal(f->lines[0].reserved_for, "");
}

static void test_cb24_hunt_group_recall_keeps_its_reason(void **state)
{
    struct fx *f = *state;
    static const char *const members[] = {"3001"};
    char id[CB_ID_MAX];
    fx_station(f, "2001");
    fx_hunt(f, "500", 1, members);
    cb_world_station(&f->w, "3001")->state.busy = true;
    fx_set_full(f, "2001", "500", NULL, CB_MODE_CALLBACK, id);
    fx_idle(f, "3001");
    fx_hook(f, "2001", true);
    fx_recall(f, id, CB_RECALL_NO_ANSWER);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
    assert_int_equal(fx_cb(f, id)->reason, CB_REASON_HUNT_GROUP_BUSY);
    fx_hook(f, "2001", false);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
    fx_hook_cycle(f, "3001"); /* a member's hook cycle */
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_NOTIFYING);
}

static void test_cb24_result_for_a_callback_not_recalling_is_ignored(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    ringing(f, id);
    fx_recall(f, id, CB_RECALL_ANSWERED);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_NOTIFYING);
    assert_int_equal(f->d.n_commands + f->d.n_history + f->d.n_timers, 0);
    fx_recall(f, "no-such-callback", CB_RECALL_ANSWERED);
    assert_int_equal(f->d.n_commands + f->d.n_history + f->d.n_timers, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
        T(test_cb20_ring_on_prime_line_with_notify_timeout),
        T(test_cb21_ring_bypasses_requester_forwarding),
        T(test_cb22_hook_off_answers_and_originates),
        T(test_cb22_trunk_recall_goes_through_the_reserved_line),
        T(test_cb22_hook_off_of_another_station_does_not_answer),
        T(test_cb23_notify_timeout_cancels_with_no_response),
        T(test_cb23_notify_timeout_releases_the_trunk_line),
        T(test_cb23_stale_notify_timeout_does_nothing),
        T(test_cb24_answered_recall_completes),
        T(test_cb24_answered_trunk_recall_hands_the_line_to_the_call),
        T(test_cb24_busy_recall_is_preserved_until_next_idle_report),
        T(test_cb24_no_answer_recall_waits_for_hook_cycle),
        T(test_cb24_failed_recall_counts_as_no_answer),
        T(test_cb24_recall_timeout_counts_as_no_answer),
        T(test_cb24_failed_trunk_recall_is_cancelled_and_released),
        T(test_cb24_hunt_group_recall_keeps_its_reason),
        T(test_cb24_result_for_a_callback_not_recalling_is_ignored),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
