/* When callbacks mature: CB-11..CB-19 and consoles CB-31 (cb_core_schedule via events). */
#include "test_core_fixture.h"

/* A (2001) has a busy callback on B (2002); B's queue is in scope. Returns its id in `id`. */
static void busy_callback(struct fx *f, const char *requester, const char *target, char *id)
{
    if (!cb_world_station(&f->w, requester))
        fx_station(f, requester);
    struct cb_station *t = cb_world_station(&f->w, target);
    if (!t)
        t = fx_station(f, target);
    t->state.busy = true;
    fx_scope(f, target);
    assert_non_null(fx_set_full(f, requester, target, NULL, CB_MODE_CALLBACK, id));
}

static void test_cb11_both_parties_must_be_idle(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    busy_callback(f, "2001", "2002", id);
    fx_busy(f, "2001");
    fx_idle(f, "2002");
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
    assert_int_equal(f->d.n_commands, 0);
    fx_idle(f, "2001");
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_NOTIFYING);
    assert_int_equal(fx_count(f, CB_CMD_RING), 1);
}

static void test_cb12_busy_matures_when_target_idle(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX], ev[32];
    busy_callback(f, "2001", "2002", id);
    fx_idle(f, "2002");
    const struct cb_callback *c = fx_cb(f, id);
    assert_int_equal(c->state, CB_STATE_NOTIFYING);
    assert_true(c->dirty);
    assert_true(cb_world_station(&f->w, "2002")->dirty);
    assert_false(cb_world_station(&f->w, "2002")->state.busy);
    fx_assert_history(f, id, CB_STATE_PENDING, CB_STATE_NOTIFYING, CB_CAUSE_EVENT,
                      fx_last_event_id(f, ev));
}

static void test_cb13_no_answer_matures_after_hook_cycle(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    fx_station(f, "2001");
    fx_station(f, "2002");
    fx_scope(f, "2002");
    fx_set_full(f, "2001", "2002", NULL, CB_MODE_CALLBACK, id);
    fx_idle(f, "2002"); /* idle is not enough */
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
    fx_hook(f, "2002", false); /* an on without an off is not a cycle */
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
    fx_hook(f, "2002", true);
    assert_true(fx_cb(f, id)->hook_off_seen);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
    fx_hook(f, "2002", false);
    assert_false(fx_cb(f, id)->hook_cycle_needed);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_NOTIFYING);
}

static void test_cb13_hook_cycle_while_busy_matures_on_idle(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    fx_station(f, "2001");
    fx_station(f, "2002");
    fx_scope(f, "2002");
    fx_set_full(f, "2001", "2002", NULL, CB_MODE_CALLBACK, id);
    fx_hook(f, "2002", true);
    fx_busy(f, "2002");
    fx_hook(f, "2002", false);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
    fx_idle(f, "2002");
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_NOTIFYING);
}

static void test_cb14_dnd_release_needs_hook_cycle(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    fx_station(f, "2001");
    fx_station(f, "2002")->state.dnd = true;
    fx_scope(f, "2002");
    fx_set_full(f, "2001", "2002", NULL, CB_MODE_CALLBACK, id);
    assert_true(fx_cb(f, id)->awaiting_release);
    fx_hook_cycle(f, "2002"); /* a cycle during DND does not count */
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
    fx_feature(f, "2002", CB_FEATURE_DND, false);
    assert_false(fx_cb(f, id)->awaiting_release);
    assert_true(fx_cb(f, id)->hook_cycle_needed);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
    fx_hook_cycle(f, "2002");
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_NOTIFYING);
}

static void test_cb14_feature_activated_later_holds_the_callback(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    busy_callback(f, "2001", "2002", id);
    fx_feature(f, "2002", CB_FEATURE_MAKE_BUSY, true);
    assert_true(fx_cb(f, id)->awaiting_release);
    fx_idle(f, "2002");
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
    fx_feature(f, "2002", CB_FEATURE_ATTENDANT_BUSY_OUT, true);
    fx_feature(f, "2002", CB_FEATURE_MAKE_BUSY, false);
    assert_true(fx_cb(f, id)->awaiting_release); /* busy-out still active */
    fx_feature(f, "2002", CB_FEATURE_ATTENDANT_BUSY_OUT, false);
    assert_false(fx_cb(f, id)->awaiting_release);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
    fx_hook_cycle(f, "2002");
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_NOTIFYING);
}

static void test_cb14_feature_while_notifying_stops_the_ring(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    busy_callback(f, "2001", "2002", id);
    fx_idle(f, "2002");
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_NOTIFYING);
    fx_feature(f, "2002", CB_FEATURE_DND, true);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
    assert_true(fx_cb(f, id)->awaiting_release);
    assert_int_equal(fx_count(f, CB_CMD_STOP_RING), 1);
    assert_non_null(fx_timer_op(f, CB_TIMER_NOTIFY_TIMEOUT, id, true));
}

static void test_cb14_feature_during_recall_holds_the_preserved_callback(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    busy_callback(f, "2001", "2002", id);
    fx_idle(f, "2002");
    fx_hook(f, "2001", true);
    fx_feature(f, "2002", CB_FEATURE_DND, true);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_RECALLING); /* the recall goes on */
    assert_int_equal(f->d.n_commands, 0);
    fx_recall(f, id, CB_RECALL_NO_ANSWER);
    fx_hook(f, "2001", false);
    assert_true(fx_cb(f, id)->awaiting_release);
    fx_hook_cycle(f, "2002");
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
    fx_feature(f, "2002", CB_FEATURE_DND, false);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
    fx_hook_cycle(f, "2002");
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_NOTIFYING);
}

static void test_cb15_trunk_line_reserved_before_ring(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    fx_station(f, "2001");
    fx_trunk(f, "9", 2);
    f->lines[0].busy = f->lines[1].busy = true;
    fx_set_full(f, "2001", "9", "5551234", CB_MODE_CALLBACK, id);
    fx_trunk_state(f, "L2", false);
    const struct cb_callback *c = fx_cb(f, id);
    assert_int_equal(c->state, CB_STATE_NOTIFYING);
    assert_string_equal(c->reserved_line, "L2");
    assert_string_equal(f->lines[1].reserved_for, id);
    assert_true(f->lines[1].dirty);
    assert_int_equal(f->d.n_commands, 2);
    assert_int_equal(f->d.commands[0].type, CB_CMD_RESERVE_TRUNK);
    assert_int_equal(f->d.commands[1].type, CB_CMD_RING);
    assert_string_equal(f->d.commands[0].trunk_group, "9");
    assert_string_equal(f->d.commands[0].line, "L2");
    assert_string_equal(f->d.commands[0].for_station, "2001");
    assert_string_equal(f->d.commands[1].display, "Callback 95551234");
}

static void test_cb15_requester_busy_keeps_line_free(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    fx_station(f, "2001")->state.busy = true;
    fx_trunk(f, "9", 1);
    f->lines[0].busy = true;
    fx_set_full(f, "2001", "9", "5551234", CB_MODE_CALLBACK, id);
    fx_trunk_state(f, "L1", false);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
    assert_string_equal(f->lines[0].reserved_for, "");
    assert_int_equal(f->d.n_commands, 0);
}

static void test_cb15_reserved_line_reported_busy_does_not_revert(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    fx_station(f, "2001");
    fx_trunk(f, "9", 1);
    f->lines[0].busy = true;
    fx_set_full(f, "2001", "9", "5551234", CB_MODE_CALLBACK, id);
    fx_trunk_state(f, "L1", false);
    fx_trunk_state(f, "L1", true);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_NOTIFYING);
    assert_string_equal(fx_cb(f, id)->reserved_line, "L1");
    assert_int_equal(f->d.n_commands, 0);
}

static void test_cb16_hunt_group_matures_when_member_idle(void **state)
{
    struct fx *f = *state;
    static const char *const members[] = {"3001", "3002"};
    char id[CB_ID_MAX];
    fx_station(f, "2001");
    fx_hunt(f, "500", 2, members);
    cb_world_station(&f->w, "3001")->state.busy = true;
    cb_world_station(&f->w, "3002")->state.busy = true;
    fx_set_full(f, "2001", "500", NULL, CB_MODE_CALLBACK, id);
    fx_idle(f, "3002");
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_NOTIFYING);
    assert_string_equal(fx_cmd(f, CB_CMD_RING, 0)->station, "2001");
}

static void test_cb16_hunt_group_one_callback_per_idle_member(void **state)
{
    struct fx *f = *state;
    static const char *const members[] = {"3001", "3002"};
    char a[CB_ID_MAX], b[CB_ID_MAX];
    fx_station(f, "2001");
    fx_station(f, "2003");
    fx_hunt(f, "500", 2, members);
    cb_world_station(&f->w, "3001")->state.busy = true;
    cb_world_station(&f->w, "3002")->state.busy = true;
    fx_set_full(f, "2001", "500", NULL, CB_MODE_CALLBACK, a);
    fx_set_full(f, "2003", "500", NULL, CB_MODE_CALLBACK, b);
    fx_idle(f, "3001");
    assert_int_equal(fx_cb(f, a)->state, CB_STATE_NOTIFYING);
    assert_int_equal(fx_cb(f, b)->state, CB_STATE_PENDING);
    fx_idle(f, "3002");
    assert_int_equal(fx_cb(f, b)->state, CB_STATE_NOTIFYING);
}

static void test_cb17_queue_first_set_first_served(void **state)
{
    struct fx *f = *state;
    char a[CB_ID_MAX], c[CB_ID_MAX];
    busy_callback(f, "2001", "2002", a);
    busy_callback(f, "2003", "2002", c);
    fx_idle(f, "2002");
    assert_int_equal(fx_cb(f, a)->state, CB_STATE_NOTIFYING);
    assert_int_equal(fx_cb(f, c)->state, CB_STATE_PENDING); /* one at a time */
    assert_int_equal(fx_count(f, CB_CMD_RING), 1);
    /* The first completes: the next is served. */
    fx_hook(f, "2001", true);
    fx_recall(f, a, CB_RECALL_ANSWERED);
    assert_int_equal(fx_cb(f, a)->state, CB_STATE_COMPLETED);
    assert_int_equal(fx_cb(f, c)->state, CB_STATE_NOTIFYING);
}

static void test_cb17_busy_requester_is_skipped_keeping_its_place(void **state)
{
    struct fx *f = *state;
    char a[CB_ID_MAX], c[CB_ID_MAX];
    busy_callback(f, "2001", "2002", a);
    busy_callback(f, "2003", "2002", c);
    cb_world_station(&f->w, "2001")->state.busy = true;
    fx_idle(f, "2002");
    assert_int_equal(fx_cb(f, a)->state, CB_STATE_PENDING);
    assert_int_equal(fx_cb(f, c)->state, CB_STATE_NOTIFYING);
    assert_string_equal(fx_cmd(f, CB_CMD_RING, 0)->station, "2003");
    assert_true(fx_cb(f, a)->seq < fx_cb(f, c)->seq);
}

static void test_cb17_requester_rung_for_one_callback_at_a_time(void **state)
{
    struct fx *f = *state;
    char b[CB_ID_MAX], c[CB_ID_MAX];
    busy_callback(f, "2001", "2002", b);
    busy_callback(f, "2001", "2003", c);
    fx_begin(f);
    cb_world_station(&f->w, "2002")->state.busy = false;
    cb_world_station(&f->w, "2003")->state.busy = false;
    fx_schedule(f);
    assert_int_equal(fx_cb(f, b)->state, CB_STATE_NOTIFYING);
    assert_int_equal(fx_cb(f, c)->state, CB_STATE_PENDING);
    assert_int_equal(fx_count(f, CB_CMD_RING), 1);
}

static void test_cb17_trunk_one_callback_per_free_line(void **state)
{
    struct fx *f = *state;
    char a[CB_ID_MAX], b[CB_ID_MAX], c[CB_ID_MAX];
    fx_station(f, "2001");
    fx_station(f, "2003");
    fx_station(f, "2004");
    fx_trunk(f, "9", 2);
    f->lines[0].busy = f->lines[1].busy = true;
    fx_set_full(f, "2001", "9", "111", CB_MODE_CALLBACK, a);
    fx_set_full(f, "2003", "9", "222", CB_MODE_CALLBACK, b);
    fx_set_full(f, "2004", "9", "333", CB_MODE_CALLBACK, c);
    fx_begin(f);
    f->lines[0].busy = f->lines[1].busy = false;
    fx_schedule(f);
    assert_string_equal(fx_cb(f, a)->reserved_line, "L1");
    assert_string_equal(fx_cb(f, b)->reserved_line, "L2");
    assert_int_equal(fx_cb(f, c)->state, CB_STATE_PENDING);
    assert_int_equal(fx_count(f, CB_CMD_RESERVE_TRUNK), 2);
    assert_int_equal(fx_count(f, CB_CMD_RING), 2);
}

static void test_cb17_only_scope_targets_are_scheduled(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    fx_station(f, "2001");
    fx_station(f, "2002")->state.busy = true;
    fx_set_full(f, "2001", "2002", NULL, CB_MODE_CALLBACK, id);
    fx_idle(f, "2002"); /* 2002 not in scope: its queue is not all loaded */
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
}

static void test_cb18_target_busy_while_ringing_returns_to_pending(void **state)
{
    struct fx *f = *state;
    char a[CB_ID_MAX], c[CB_ID_MAX], ev[32];
    busy_callback(f, "2001", "2002", a);
    busy_callback(f, "2003", "2002", c);
    fx_idle(f, "2002");
    fx_busy(f, "2002");
    assert_int_equal(fx_cb(f, a)->state, CB_STATE_PENDING);
    const struct cb_command *s = fx_cmd(f, CB_CMD_STOP_RING, 0);
    assert_string_equal(s->station, "2001");
    assert_string_equal(s->line, "2001");
    assert_non_null(fx_timer_op(f, CB_TIMER_NOTIFY_TIMEOUT, a, true));
    fx_assert_history(f, a, CB_STATE_NOTIFYING, CB_STATE_PENDING, CB_CAUSE_EVENT,
                      fx_last_event_id(f, ev));
    /* It keeps its place: served first again. */
    fx_idle(f, "2002");
    assert_int_equal(fx_cb(f, a)->state, CB_STATE_NOTIFYING);
    assert_int_equal(fx_cb(f, c)->state, CB_STATE_PENDING);
}

static void test_cb18_hunt_group_without_idle_member_stops_ringing(void **state)
{
    struct fx *f = *state;
    static const char *const members[] = {"3001", "3002"};
    char id[CB_ID_MAX];
    fx_station(f, "2001");
    fx_hunt(f, "500", 2, members);
    cb_world_station(&f->w, "3001")->state.busy = true;
    cb_world_station(&f->w, "3002")->state.busy = true;
    fx_set_full(f, "2001", "500", NULL, CB_MODE_CALLBACK, id);
    fx_idle(f, "3001");
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_NOTIFYING);
    fx_busy(f, "3001");
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
    assert_int_equal(fx_count(f, CB_CMD_STOP_RING), 1);
}

static void test_cb19_failed_over_target_does_not_mature(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    busy_callback(f, "2001", "2002", id);
    fx_station_ev(f, CB_EV_STATION_FAILOVER, "2002", true);
    fx_idle(f, "2002");
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
    fx_station_ev(f, CB_EV_STATION_FAILOVER, "2002", false);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_NOTIFYING);
}

static void test_cb19_failed_over_requester_waits(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    busy_callback(f, "2001", "2002", id);
    fx_station_ev(f, CB_EV_STATION_FAILOVER, "2001", true);
    fx_idle(f, "2002");
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
    fx_station_ev(f, CB_EV_STATION_FAILOVER, "2001", false);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_NOTIFYING);
}

static void test_cb19_requester_failing_over_while_rung_waits_again(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    busy_callback(f, "2001", "2002", id);
    fx_idle(f, "2002");
    fx_station_ev(f, CB_EV_STATION_FAILOVER, "2001", true);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
    assert_int_equal(fx_count(f, CB_CMD_STOP_RING), 1);
}

static void test_cb31_unavailable_console_rings_another_console(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    struct cb_station *c1 = fx_console(f, "1000", "ops");
    FX_COPY(fx_console(f, "1001", "ops")->prime_line, "1101");
    fx_console(f, "1002", "other");
    busy_callback(f, "1000", "2002", id);
    c1->state.console_available = false;
    fx_idle(f, "2002");
    const struct cb_callback *c = fx_cb(f, id);
    assert_int_equal(c->state, CB_STATE_NOTIFYING);
    assert_string_equal(c->notify_station, "1001");
    assert_string_equal(c->notify_line, "1101");
    const struct cb_command *r = fx_cmd(f, CB_CMD_RING, 0);
    assert_string_equal(r->station, "1001");
    assert_string_equal(r->line, "1101");
    assert_string_equal(r->on_behalf_of, "1000");
    /* The other console answers: the recall leaves from it. */
    fx_hook(f, "1001", true);
    assert_string_equal(fx_cmd(f, CB_CMD_ORIGINATE, 0)->from_station, "1001");
}

static void test_cb31_no_console_available_queues_until_it_returns(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX], b[CB_ID_MAX], ev[32];
    fx_console(f, "1000", "ops")->state.console_available = false;
    fx_console(f, "1001", "ops")->state.console_available = false;
    busy_callback(f, "1000", "2002", id);
    busy_callback(f, "2003", "2002", b);
    fx_idle(f, "2002");
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_QUEUED);
    fx_assert_history(f, id, CB_STATE_PENDING, CB_STATE_QUEUED, CB_CAUSE_EVENT,
                      fx_last_event_id(f, ev));
    /* Queued does not hold the target: the next one is served. */
    assert_int_equal(fx_cb(f, b)->state, CB_STATE_NOTIFYING);
    /* The console returns while the target is engaged: back to waiting for it. */
    fx_station_ev(f, CB_EV_CONSOLE_AVAILABILITY, "1000", true);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
}

static void test_cb31_queued_console_is_rung_when_available(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    fx_console(f, "1000", "ops")->state.console_available = false;
    busy_callback(f, "1000", "2002", id);
    fx_idle(f, "2002");
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_QUEUED);
    fx_station_ev(f, CB_EV_CONSOLE_AVAILABILITY, "1000", true);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_NOTIFYING);
    const struct cb_command *r = fx_cmd(f, CB_CMD_RING, 0);
    assert_string_equal(r->station, "1000");
    assert_string_equal(r->on_behalf_of, "");
}

static void test_cb31_console_going_unavailable_while_rung_is_rerouted(void **state)
{
    struct fx *f = *state;
    char id[CB_ID_MAX];
    fx_console(f, "1000", "ops");
    fx_console(f, "1001", "ops");
    busy_callback(f, "1000", "2002", id);
    fx_idle(f, "2002");
    assert_string_equal(fx_cb(f, id)->notify_station, "1000");
    fx_station_ev(f, CB_EV_CONSOLE_AVAILABILITY, "1000", false);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_NOTIFYING);
    assert_string_equal(fx_cb(f, id)->notify_station, "1001");
    assert_string_equal(fx_cmd(f, CB_CMD_STOP_RING, 0)->station, "1000");
    assert_string_equal(fx_cmd(f, CB_CMD_RING, 0)->station, "1001");
    assert_true(fx_cmd_index(f, CB_CMD_STOP_RING) < fx_cmd_index(f, CB_CMD_RING));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
        T(test_cb11_both_parties_must_be_idle),
        T(test_cb12_busy_matures_when_target_idle),
        T(test_cb13_no_answer_matures_after_hook_cycle),
        T(test_cb13_hook_cycle_while_busy_matures_on_idle),
        T(test_cb14_dnd_release_needs_hook_cycle),
        T(test_cb14_feature_activated_later_holds_the_callback),
        T(test_cb14_feature_while_notifying_stops_the_ring),
        T(test_cb14_feature_during_recall_holds_the_preserved_callback),
        T(test_cb15_trunk_line_reserved_before_ring),
        T(test_cb15_requester_busy_keeps_line_free),
        T(test_cb15_reserved_line_reported_busy_does_not_revert),
        T(test_cb16_hunt_group_matures_when_member_idle),
        T(test_cb16_hunt_group_one_callback_per_idle_member),
        T(test_cb17_queue_first_set_first_served),
        T(test_cb17_busy_requester_is_skipped_keeping_its_place),
        T(test_cb17_requester_rung_for_one_callback_at_a_time),
        T(test_cb17_trunk_one_callback_per_free_line),
        T(test_cb17_only_scope_targets_are_scheduled),
        T(test_cb18_target_busy_while_ringing_returns_to_pending),
        T(test_cb18_hunt_group_without_idle_member_stops_ringing),
        T(test_cb19_failed_over_target_does_not_mature),
        T(test_cb19_failed_over_requester_waits),
        T(test_cb19_requester_failing_over_while_rung_waits_again),
        T(test_cb31_unavailable_console_rings_another_console),
        T(test_cb31_no_console_available_queues_until_it_returns),
        T(test_cb31_queued_console_is_rung_when_available),
        T(test_cb31_console_going_unavailable_while_rung_is_rerouted),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
