/* Ending callbacks: CB-25..CB-29, Call Again CB-32, operators CB-34. */
#include "test_core_fixture.h"

static void busy_target(struct fx *f, const char *number)
{
    struct cb_station *s = cb_world_station(&f->w, number);
    if (!s)
        s = fx_station(f, number);
    s->state.busy = true;
    fx_scope(f, number);
}

static void fx_cancel(struct fx *f, const char *id, enum cb_end_reason reason)
{
    fx_begin(f);
    struct cb_cause cause = fx_api_cause("req-del");
    cb_core_cancel(&f->w, id, reason, f->now, &cause, &f->d);
}

static void test_cb25_cancel_one_callback(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    fx_station(f, "2001");
    busy_target(f, "2002");
    fx_set_full(f, "2001", "2002", NULL, CB_MODE_CALLBACK, id);
    f->now += 1000;
    fx_cancel(f, id, CB_END_REQUESTED);
    assert_int_equal(f->d.error, CB_OK);
    const struct cb_callback *c = fx_cb(f, id);
    assert_int_equal(c->state, CB_STATE_CANCELLED);
    assert_int_equal(c->end_reason, CB_END_REQUESTED);
    assert_int_equal(c->ended_at, f->now);
    assert_int_equal(c->updated_at, f->now);
    assert_true(c->dirty);
    fx_assert_history(f, id, CB_STATE_PENDING, CB_STATE_CANCELLED, CB_CAUSE_API, "req-del");
    assert_non_null(fx_timer_op(f, CB_TIMER_EXPIRY, id, true));
    assert_int_equal(f->d.n_commands, 0);
}

static void test_cb25_cancel_ended_or_unknown_callback(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    fx_station(f, "2001");
    busy_target(f, "2002");
    fx_set_full(f, "2001", "2002", NULL, CB_MODE_CALLBACK, id);
    fx_cancel(f, id, CB_END_REQUESTED);
    fx_cancel(f, id, CB_END_REQUESTED);
    assert_int_equal(f->d.error, CB_ERR_INVALID_STATE);
    assert_int_equal(f->d.n_history, 0);
    fx_cancel(f, "nope", CB_END_REQUESTED);
    assert_int_equal(f->d.error, CB_ERR_NOT_FOUND);
}

static void test_cb25_cancel_frees_the_queue_for_the_next(void **state)
{
    struct fx *f = *state;
    char a[CB_ID_MAX], b[CB_ID_MAX];
    fx_station(f, "2001");
    fx_station(f, "2003");
    busy_target(f, "2002");
    fx_set_full(f, "2001", "2002", NULL, CB_MODE_CALLBACK, a);
    fx_set_full(f, "2003", "2002", NULL, CB_MODE_CALLBACK, b);
    fx_idle(f, "2002");
    assert_int_equal(fx_cb(f, a)->state, CB_STATE_NOTIFYING);
    fx_cancel(f, a, CB_END_REQUESTED);
    assert_int_equal(fx_cmd_index(f, CB_CMD_STOP_RING), 0);
    assert_int_equal(fx_cb(f, b)->state, CB_STATE_NOTIFYING);
    assert_string_equal(fx_cmd(f, CB_CMD_RING, 0)->station, "2003");
}

static void test_cb26_cancel_all_of_a_requester(void **state)
{
    struct fx *f = *state;
    char a[CB_ID_MAX], b[CB_ID_MAX], other[CB_ID_MAX];
    fx_station(f, "2001");
    fx_station(f, "2005");
    busy_target(f, "2002");
    busy_target(f, "2003");
    fx_set_full(f, "2001", "2002", NULL, CB_MODE_CALLBACK, a);
    fx_set_full(f, "2001", "2003", NULL, CB_MODE_CALLBACK, b);
    fx_set_full(f, "2005", "2002", NULL, CB_MODE_CALLBACK, other);
    fx_begin(f);
    struct cb_cause cause = fx_api_cause("req-all");
    cb_core_cancel_all(&f->w, "2001", f->now, &cause, &f->d);
    assert_int_equal(f->d.cancelled_count, 2);
    assert_int_equal(fx_cb(f, a)->end_reason, CB_END_CANCELLED_ALL);
    assert_int_equal(fx_cb(f, b)->end_reason, CB_END_CANCELLED_ALL);
    assert_int_equal(fx_cb(f, other)->state, CB_STATE_PENDING);
    fx_begin(f);
    cb_core_cancel_all(&f->w, "2001", f->now, &cause, &f->d);
    assert_int_equal(f->d.cancelled_count, 0);
}

static void test_cb27_connected_call_cancels_in_either_direction(void **state)
{
    struct fx *f = *state;
    char a[CB_ID_MAX], b[CB_ID_MAX], ev[32];
    fx_station(f, "2001");
    fx_station(f, "2003");
    busy_target(f, "2002");
    fx_set_full(f, "2001", "2002", NULL, CB_MODE_CALLBACK, a);
    fx_set_full(f, "2003", "2002", NULL, CB_MODE_CALLBACK, b);
    fx_connected(f, "2002", "2001", false);
    assert_int_equal(fx_cb(f, a)->state, CB_STATE_CANCELLED);
    assert_int_equal(fx_cb(f, a)->end_reason, CB_END_CALL_COMPLETED);
    fx_assert_history(f, a, CB_STATE_PENDING, CB_STATE_CANCELLED, CB_CAUSE_EVENT,
                      fx_last_event_id(f, ev));
    assert_int_equal(fx_cb(f, b)->state, CB_STATE_PENDING);
}

static void test_cb27_conference_does_not_cancel(void **state)
{
    struct fx *f = *state;
    char a[CB_ID_MAX];
    fx_station(f, "2001");
    busy_target(f, "2002");
    fx_set_full(f, "2001", "2002", NULL, CB_MODE_CALLBACK, a);
    fx_connected(f, "2001", "2002", true);
    assert_int_equal(fx_cb(f, a)->state, CB_STATE_PENDING);
    assert_int_equal(f->d.n_history, 0);
}

static void test_cb27_own_recall_call_is_left_to_recall_result(void **state)
{
    struct fx *f = *state;
    char a[CB_ID_MAX];
    fx_station(f, "2001");
    busy_target(f, "2002");
    fx_set_full(f, "2001", "2002", NULL, CB_MODE_CALLBACK, a);
    fx_idle(f, "2002");
    fx_hook(f, "2001", true);
    fx_connected(f, "2001", "2002", false);
    assert_int_equal(fx_cb(f, a)->state, CB_STATE_RECALLING);
    fx_recall(f, a, CB_RECALL_ANSWERED);
    assert_int_equal(fx_cb(f, a)->end_reason, CB_END_COMPLETED);
}

static void test_cb27_group_targets_match_members_and_dialed_numbers(void **state)
{
    struct fx *f = *state;
    static const char *const members[] = {"3001"};
    char h[CB_ID_MAX], t[CB_ID_MAX];
    fx_station(f, "2001");
    fx_hunt(f, "500", 1, members);
    cb_world_station(&f->w, "3001")->state.busy = true;
    fx_trunk(f, "9", 1);
    f->lines[0].busy = true;
    fx_set_full(f, "2001", "500", NULL, CB_MODE_CALLBACK, h);
    fx_set_full(f, "2001", "9", "5551234", CB_MODE_CALLBACK, t);
    fx_connected(f, "2001", "5551234", false); /* not the dialed form */
    assert_int_equal(fx_cb(f, t)->state, CB_STATE_PENDING);
    fx_connected(f, "95551234", "2001", false);
    assert_int_equal(fx_cb(f, t)->end_reason, CB_END_CALL_COMPLETED);
    fx_connected(f, "3001", "2001", false);
    assert_int_equal(fx_cb(f, h)->end_reason, CB_END_CALL_COMPLETED);
}

static void test_cb27_message_mode_lamp_goes_off_on_connected_call(void **state)
{
    struct fx *f = *state;
    char m[CB_ID_MAX];
    fx_station(f, "2001");
    fx_station(f, "2002");
    fx_set_full(f, "2001", "2002", NULL, CB_MODE_MESSAGE, m);
    fx_connected(f, "2002", "2001", false);
    const struct cb_callback *c = fx_cb(f, m);
    assert_int_equal(c->state, CB_STATE_CANCELLED);
    assert_int_equal(c->end_reason, CB_END_CALL_COMPLETED);
    assert_false(c->lamp_lit);
    const struct cb_command *mwi = fx_cmd(f, CB_CMD_MWI, 0);
    assert_false(mwi->on);
    assert_string_equal(mwi->station, "2002");
    assert_string_equal(mwi->from, "2001");
}

static void test_cb28_removed_station_ends_its_callbacks(void **state)
{
    struct fx *f = *state;
    char a[CB_ID_MAX], b[CB_ID_MAX], other[CB_ID_MAX];
    fx_station(f, "2001");
    fx_station(f, "2005");
    busy_target(f, "2002");
    busy_target(f, "2003");
    fx_set_full(f, "2001", "2002", NULL, CB_MODE_CALLBACK, a); /* 2002 as target */
    fx_set_full(f, "2002", "2003", NULL, CB_MODE_CALLBACK, b); /* 2002 as requester */
    fx_set_full(f, "2005", "2003", NULL, CB_MODE_CALLBACK, other);
    fx_begin(f);
    struct cb_cause cause = fx_api_cause("req-rm");
    cb_core_number_removed(&f->w, "2002", f->now, &cause, &f->d);
    assert_int_equal(fx_cb(f, a)->end_reason, CB_END_STATION_REMOVED);
    assert_int_equal(fx_cb(f, b)->end_reason, CB_END_STATION_REMOVED);
    assert_int_equal(fx_cb(f, other)->state, CB_STATE_PENDING);
}

/* CB-28 with CB-31: a console removed while it rang on behalf of another console leaves the
 * world at once, so the callback waits again (queued for its console) and nothing rings the
 * removed console again. */
static void test_cb28_removed_console_rung_on_behalf_of_another_is_not_rung_again(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    fx_console(f, "2101", "cg1");
    fx_console(f, "2102", "cg1");
    busy_target(f, "2002");
    fx_set_full(f, "2101", "2002", NULL, CB_MODE_CALLBACK, id);
    fx_station_ev(f, CB_EV_CONSOLE_AVAILABILITY, "2101", false);
    fx_idle(f, "2002");
    const struct cb_command *ring = fx_cmd(f, CB_CMD_RING, 0);
    assert_string_equal(ring->station, "2102");
    fx_begin(f);
    struct cb_cause cause = fx_api_cause("req-rm");
    cb_core_number_removed(&f->w, "2102", f->now, &cause, &f->d);
    assert_null(cb_world_station(&f->w, "2102"));
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_QUEUED);
    assert_int_equal(fx_count(f, CB_CMD_RING), 0);
    assert_int_equal(fx_count(f, CB_CMD_STOP_RING), 1);
}

static void test_cb28_removed_trunk_group_releases_its_line(void **state)
{
    struct fx *f = *state;
    char t[CB_ID_MAX];
    fx_station(f, "2001");
    fx_trunk(f, "9", 1);
    f->lines[0].busy = true;
    fx_set_full(f, "2001", "9", "5551234", CB_MODE_CALLBACK, t);
    fx_trunk_state(f, "L1", false);
    /* The caller may already have dropped the group from the world. */
    f->w.n_trunk_groups = 0;
    fx_begin(f);
    struct cb_cause cause = fx_api_cause("req-rm");
    cb_core_number_removed(&f->w, "9", f->now, &cause, &f->d);
    assert_int_equal(fx_cb(f, t)->end_reason, CB_END_STATION_REMOVED);
    const struct cb_command *r = fx_cmd(f, CB_CMD_RELEASE_TRUNK, 0);
    assert_string_equal(r->trunk_group, "9");
    assert_string_equal(r->line, "L1");
    assert_int_equal(fx_count(f, CB_CMD_STOP_RING), 1);
}

static void test_cb29_ending_undoes_ring_line_and_lamp(void **state)
{
    struct fx *f = *state;
    char t[CB_ID_MAX], m[CB_ID_MAX];
    FX_COPY(fx_station(f, "2001")->prime_line, "2101");
    fx_station(f, "2002");
    fx_trunk(f, "9", 1);
    f->lines[0].busy = true;
    fx_set_full(f, "2001", "9", "5551234", CB_MODE_CALLBACK, t);
    fx_set_full(f, "2001", "2002", NULL, CB_MODE_MESSAGE, m);
    fx_trunk_state(f, "L1", false);
    fx_cancel(f, t, CB_END_REQUESTED);
    assert_int_equal(f->d.n_commands, 2);
    const struct cb_command *s = fx_cmd(f, CB_CMD_STOP_RING, 0);
    assert_string_equal(s->station, "2001");
    assert_string_equal(s->line, "2101");
    const struct cb_command *r = fx_cmd(f, CB_CMD_RELEASE_TRUNK, 0);
    assert_string_equal(r->line, "L1");
    assert_string_equal(f->lines[0].reserved_for, "");
    assert_string_equal(fx_cb(f, t)->reserved_line, "");
    fx_cancel(f, m, CB_END_REQUESTED);
    assert_int_equal(f->d.n_commands, 1);
    assert_false(fx_cmd(f, CB_CMD_MWI, 0)->on);
    assert_int_equal(fx_cb(f, m)->state, CB_STATE_CANCELLED);
}

static void test_cb29_ending_a_recalling_trunk_callback_leaves_the_line_to_the_call(void **state)
{
    struct fx *f = *state;
    char t[CB_ID_MAX];
    fx_station(f, "2001");
    fx_trunk(f, "9", 1);
    f->lines[0].busy = true;
    fx_set_full(f, "2001", "9", "5551234", CB_MODE_CALLBACK, t);
    fx_trunk_state(f, "L1", false);
    fx_hook(f, "2001", true);
    fx_cancel(f, t, CB_END_REQUESTED);
    assert_int_equal(f->d.n_commands, 0);
    assert_string_equal(f->lines[0].reserved_for, "");
}

static void test_cb32_call_again_originates_and_keeps_the_callback(void **state)
{
    struct fx *f = *state;
    char t[CB_ID_MAX];
    FX_COPY(fx_station(f, "2001")->prime_line, "2101");
    fx_trunk(f, "9", 1);
    f->lines[0].busy = true;
    fx_set_full(f, "2001", "9", "5551234", CB_MODE_CALLBACK, t);
    fx_begin(f);
    cb_core_call_again(&f->w, t, f->now, &f->d);
    assert_int_equal(f->d.error, CB_OK);
    assert_int_equal(f->d.n_commands, 1);
    const struct cb_command *o = fx_cmd(f, CB_CMD_ORIGINATE, 0);
    assert_string_equal(o->from_station, "2001");
    assert_string_equal(o->from_line, "2101");
    assert_string_equal(o->to, "95551234");
    assert_string_equal(o->external_number, "5551234");
    assert_string_equal(o->via_line, "");
    assert_int_equal(fx_cb(f, t)->state, CB_STATE_PENDING);
    assert_false(fx_cb(f, t)->dirty);
    assert_int_equal(f->d.n_history, 0);
    fx_cancel(f, t, CB_END_REQUESTED);
    fx_begin(f);
    cb_core_call_again(&f->w, t, f->now, &f->d);
    assert_int_equal(f->d.error, CB_ERR_INVALID_STATE);
    assert_int_equal(f->d.n_commands, 0);
}

static void test_cb34_operator_cancels_any_callback(void **state)
{
    struct fx *f = *state;
    char a[CB_ID_MAX];
    fx_station(f, "2001");
    busy_target(f, "2002");
    fx_set_full(f, "2001", "2002", NULL, CB_MODE_CALLBACK, a);
    fx_begin(f);
    struct cb_cause cause = fx_api_cause("operator-req");
    cb_core_cancel(&f->w, a, CB_END_REQUESTED, f->now, &cause, &f->d);
    fx_assert_history(f, a, CB_STATE_PENDING, CB_STATE_CANCELLED, CB_CAUSE_API, "operator-req");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
        T(test_cb25_cancel_one_callback),
        T(test_cb25_cancel_ended_or_unknown_callback),
        T(test_cb25_cancel_frees_the_queue_for_the_next),
        T(test_cb26_cancel_all_of_a_requester),
        T(test_cb27_connected_call_cancels_in_either_direction),
        T(test_cb27_conference_does_not_cancel),
        T(test_cb27_own_recall_call_is_left_to_recall_result),
        T(test_cb27_group_targets_match_members_and_dialed_numbers),
        T(test_cb27_message_mode_lamp_goes_off_on_connected_call),
        T(test_cb28_removed_station_ends_its_callbacks),
        T(test_cb28_removed_console_rung_on_behalf_of_another_is_not_rung_again),
        T(test_cb28_removed_trunk_group_releases_its_line),
        T(test_cb29_ending_undoes_ring_line_and_lamp),
        T(test_cb29_ending_a_recalling_trunk_callback_leaves_the_line_to_the_call),
        T(test_cb32_call_again_originates_and_keeps_the_callback),
        T(test_cb34_operator_cancels_any_callback),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
