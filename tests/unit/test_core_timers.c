/* Due timers: expiry in any state (CB-10), stale and unknown timers. */
#include "test_core_fixture.h"

static void setup_busy(struct fx *f, char *id)
{
    f->w.options.callback_cancel_timer_s = 30;
    FX_COPY(fx_station(f, "2001")->prime_line, "2101");
    fx_station(f, "2002")->state.busy = true;
    fx_scope(f, "2002");
    assert_non_null(fx_set_full(f, "2001", "2002", NULL, CB_MODE_CALLBACK, id));
}

static void test_cb10_expiry_ends_a_pending_callback(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    setup_busy(f, id);
    f->now += 30000;
    fx_timer(f, CB_TIMER_EXPIRY, id);
    const struct cb_callback *c = fx_cb(f, id);
    assert_int_equal(c->state, CB_STATE_EXPIRED);
    assert_int_equal(c->end_reason, CB_END_EXPIRED);
    assert_int_equal(c->ended_at, f->now);
    fx_assert_history(f, id, CB_STATE_PENDING, CB_STATE_EXPIRED, CB_CAUSE_TIMER, "expiry");
    assert_non_null(fx_timer_op(f, CB_TIMER_EXPIRY, id, true));
    assert_non_null(fx_timer_op(f, CB_TIMER_NOTIFY_TIMEOUT, id, true));
    assert_non_null(fx_timer_op(f, CB_TIMER_RECALL_TIMEOUT, id, true));
}

static void test_cb10_expiry_while_notifying_stops_the_ring(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    setup_busy(f, id);
    fx_idle(f, "2002");
    f->now += 30000;
    fx_timer(f, CB_TIMER_EXPIRY, id);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_EXPIRED);
    const struct cb_command *s = fx_cmd(f, CB_CMD_STOP_RING, 0);
    assert_string_equal(s->station, "2001");
    assert_string_equal(s->line, "2101");
}

static void test_cb10_expiry_while_recalling_keeps_the_line_with_the_call(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    f->w.options.callback_cancel_timer_s = 30;
    fx_station(f, "2001");
    fx_trunk(f, "9", 1);
    f->lines[0].busy = true;
    fx_set_full(f, "2001", "9", "5551234", CB_MODE_CALLBACK, id);
    fx_trunk_state(f, "L1", false);
    fx_hook(f, "2001", true);
    f->now += 30000;
    fx_timer(f, CB_TIMER_EXPIRY, id);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_EXPIRED);
    assert_int_equal(f->d.n_commands, 0);
    assert_string_equal(f->lines[0].reserved_for, "");
}

static void test_cb10_expiry_while_queued(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    fx_console(f, "1000", "ops")->state.console_available = false;
    fx_station(f, "2002")->state.busy = true;
    fx_scope(f, "2002");
    fx_set_full(f, "1000", "2002", NULL, CB_MODE_CALLBACK, id);
    fx_idle(f, "2002");
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_QUEUED);
    f->now += 3600 * 1000;
    fx_timer(f, CB_TIMER_EXPIRY, id);
    fx_assert_history(f, id, CB_STATE_QUEUED, CB_STATE_EXPIRED, CB_CAUSE_TIMER, "expiry");
}

static void test_cb10_early_or_repeated_expiry_is_ignored(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    setup_busy(f, id);
    f->now += 29999;
    fx_timer(f, CB_TIMER_EXPIRY, id);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
    assert_int_equal(f->d.n_history + f->d.n_commands + f->d.n_timers, 0);
    f->now += 1;
    fx_timer(f, CB_TIMER_EXPIRY, id);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_EXPIRED);
    fx_timer(f, CB_TIMER_EXPIRY, id);
    assert_int_equal(f->d.n_history + f->d.n_commands + f->d.n_timers, 0);
    fx_timer(f, CB_TIMER_EXPIRY, "unknown");
    assert_int_equal(f->d.n_history + f->d.n_commands + f->d.n_timers, 0);
}

static void test_cb10_expiry_frees_the_queue_for_the_next(void **state)
{
    struct fx *f = *state;
    char a[CB_ID_MAX], b[CB_ID_MAX];
    setup_busy(f, a);
    fx_station(f, "2003");
    fx_set_full(f, "2003", "2002", NULL, CB_MODE_CALLBACK, b);
    fx_idle(f, "2002");
    assert_int_equal(fx_cb(f, a)->state, CB_STATE_NOTIFYING);
    f->now += 30000;
    fx_timer(f, CB_TIMER_EXPIRY, a);
    assert_int_equal(fx_cb(f, b)->state, CB_STATE_NOTIFYING);
    fx_assert_history(f, b, CB_STATE_PENDING, CB_STATE_NOTIFYING, CB_CAUSE_TIMER, "expiry");
}

static void test_cb40_message_has_no_expiry(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    fx_station(f, "2001");
    fx_station(f, "2002");
    fx_set_full(f, "2001", "2002", NULL, CB_MODE_MESSAGE, id);
    f->now += 365LL * 24 * 3600 * 1000;
    fx_timer(f, CB_TIMER_EXPIRY, id);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_MESSAGE_LEFT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
        T(test_cb10_expiry_ends_a_pending_callback),
        T(test_cb10_expiry_while_notifying_stops_the_ring),
        T(test_cb10_expiry_while_recalling_keeps_the_line_with_the_call),
        T(test_cb10_expiry_while_queued),
        T(test_cb10_early_or_repeated_expiry_is_ignored),
        T(test_cb10_expiry_frees_the_queue_for_the_next),
        T(test_cb40_message_has_no_expiry),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
