/* Setting a callback: CB-01..CB-10, CB-40 (the rules of cb_core_set). */
#include "test_core_fixture.h"

/* A refusal changes nothing: no callback, no command, no history, no timer. */
static void assert_refused(struct fx *f, const struct cb_callback *c, enum cb_error e,
                           size_t callbacks_before)
{
    assert_null(c);
    assert_int_equal(f->d.error, e);
    assert_true(f->d.error_detail[0] != '\0');
    assert_int_equal(f->w.n_callbacks, callbacks_before);
    assert_int_equal(f->d.n_commands, 0);
    assert_int_equal(f->d.n_history, 0);
    assert_int_equal(f->d.n_timers, 0);
}

static void test_cb02_requester_equal_target_is_validation(void **state)
{
    struct fx *f = *state;
    fx_station(f, "2001");
    assert_refused(f, fx_set(f, "2001", "2001"), CB_ERR_VALIDATION, 0);
}

static void test_cb02_unknown_numbers_are_refused(void **state)
{
    struct fx *f = *state;
    fx_station(f, "2001");
    assert_refused(f, fx_set(f, "2001", "2999"), CB_ERR_UNKNOWN_NUMBER, 0);
    assert_refused(f, fx_set(f, "2999", "2001"), CB_ERR_UNKNOWN_NUMBER, 0);
}

static void test_cb03_cos_forbids_callbacks(void **state)
{
    struct fx *f = *state;
    fx_station(f, "2001")->callbacks_allowed = false;
    fx_station(f, "2002")->state.busy = true;
    assert_refused(f, fx_set(f, "2001", "2002"), CB_ERR_NOT_ALLOWED, 0);
}

static void test_cb04_failed_over_requester_or_target_is_refused(void **state)
{
    struct fx *f = *state;
    struct cb_station *a = fx_station(f, "2001");
    struct cb_station *b = fx_station(f, "2002");
    b->state.busy = true;
    a->state.failed_over = true;
    assert_refused(f, fx_set(f, "2001", "2002"), CB_ERR_FAILED_OVER, 0);
    a->state.failed_over = false;
    b->state.failed_over = true;
    assert_refused(f, fx_set(f, "2001", "2002"), CB_ERR_FAILED_OVER, 0);
}

static void test_cb04_cos_is_checked_before_failover(void **state)
{
    struct fx *f = *state;
    struct cb_station *a = fx_station(f, "2001");
    fx_station(f, "2002");
    a->callbacks_allowed = false;
    a->state.failed_over = true;
    assert_refused(f, fx_set(f, "2001", "2002"), CB_ERR_NOT_ALLOWED, 0);
}

static void test_cb05_busy_station_gives_reason_busy(void **state)
{
    struct fx *f = *state;
    fx_station(f, "2001");
    fx_station(f, "2002")->state.busy = true;
    struct cb_callback *c = fx_set(f, "2001", "2002");
    assert_non_null(c);
    assert_int_equal(f->d.error, CB_OK);
    assert_int_equal(c->reason, CB_REASON_BUSY);
    assert_int_equal(c->target_type, CB_TARGET_STATION);
    assert_int_equal(c->state, CB_STATE_PENDING);
    assert_false(c->hook_cycle_needed);
    assert_false(c->awaiting_release);
    assert_true(c->is_new);
    assert_string_equal(c->origin_line, "2001");
    assert_int_equal(c->created_at, f->now);
    assert_int_equal(f->d.n_commands, 0);
    fx_assert_history(f, c->id, CB_STATE_NONE, CB_STATE_PENDING, CB_CAUSE_API, "req-1");
}

static void test_cb05_idle_station_gives_no_answer_and_needs_hook_cycle(void **state)
{
    struct fx *f = *state;
    fx_station(f, "2001");
    fx_station(f, "2002");
    struct cb_callback *c = fx_set(f, "2001", "2002");
    assert_non_null(c);
    assert_int_equal(c->reason, CB_REASON_NO_ANSWER);
    assert_true(c->hook_cycle_needed);
    assert_false(c->hook_off_seen);
}

static void test_cb05_blocking_feature_gives_busy_and_awaits_release(void **state)
{
    struct fx *f = *state;
    fx_station(f, "2001");
    fx_station(f, "2002")->state.dnd = true;
    struct cb_callback *c = fx_set(f, "2001", "2002");
    assert_non_null(c);
    assert_int_equal(c->reason, CB_REASON_BUSY);
    assert_true(c->awaiting_release);
}

static void test_cb05_trunk_group_gives_trunks_busy(void **state)
{
    struct fx *f = *state;
    fx_station(f, "2001");
    fx_trunk(f, "9", 2);
    f->lines[0].busy = f->lines[1].busy = true;
    struct cb_callback *c = fx_set_full(f, "2001", "9", "5551234", CB_MODE_CALLBACK, NULL);
    assert_non_null(c);
    assert_int_equal(c->reason, CB_REASON_TRUNKS_BUSY);
    assert_int_equal(c->target_type, CB_TARGET_TRUNK_GROUP);
    assert_string_equal(c->external_number, "5551234");
}

/* A target dialed through a trunk group is split by the core: the longest trunk group prefix
 * is the group, the rest the outside number; a station's number stays whole even when a trunk
 * group prefixes it, and so does the trunk group's own number. */
static void test_cb05_dialed_number_is_split_by_the_longest_trunk_prefix(void **state)
{
    struct fx *f = *state;
    fx_station(f, "2001");
    fx_station(f, "9100");
    fx_trunk(f, "9", 2);
    f->lines[0].busy = f->lines[1].busy = true;
    struct cb_callback *c = fx_set(f, "2001", "95551234");
    assert_non_null(c);
    assert_string_equal(c->target, "9");
    assert_string_equal(c->external_number, "5551234");
    assert_int_equal(c->reason, CB_REASON_TRUNKS_BUSY);
    c = fx_set(f, "2001", "9100");
    assert_non_null(c);
    assert_string_equal(c->target, "9100");
    assert_string_equal(c->external_number, "");
    c = fx_set(f, "2001", "9");
    assert_non_null(c);
    assert_string_equal(c->target, "9");
    assert_string_equal(c->external_number, "");
    assert_null(fx_set(f, "2001", "8555"));
    assert_int_equal(f->d.error, CB_ERR_UNKNOWN_NUMBER);
}

static void test_cb05_hunt_group_gives_hunt_group_busy(void **state)
{
    struct fx *f = *state;
    static const char *const members[] = {"3001", "3002"};
    fx_station(f, "2001");
    fx_hunt(f, "500", 2, members);
    cb_world_station(&f->w, "3001")->state.busy = true;
    cb_world_station(&f->w, "3002")->state.busy = true;
    struct cb_callback *c = fx_set(f, "2001", "500");
    assert_non_null(c);
    assert_int_equal(c->reason, CB_REASON_HUNT_GROUP_BUSY);
    assert_int_equal(c->target_type, CB_TARGET_HUNT_GROUP);
}

static void test_cb06_trunk_group_with_free_line_is_available(void **state)
{
    struct fx *f = *state;
    fx_station(f, "2001");
    fx_trunk(f, "9", 2);
    f->lines[0].busy = true;
    assert_refused(f, fx_set_full(f, "2001", "9", "5551234", CB_MODE_CALLBACK, NULL),
                   CB_ERR_TARGET_AVAILABLE, 0);
    /* A line held for another callback is not free. */
    FX_COPY(f->lines[1].reserved_for, "other");
    assert_non_null(fx_set_full(f, "2001", "9", "5551234", CB_MODE_CALLBACK, NULL));
}

static void test_cb06_hunt_group_with_idle_member_is_available(void **state)
{
    struct fx *f = *state;
    static const char *const members[] = {"3001", "3002"};
    fx_station(f, "2001");
    fx_hunt(f, "500", 2, members);
    cb_world_station(&f->w, "3001")->state.busy = true;
    assert_refused(f, fx_set(f, "2001", "500"), CB_ERR_TARGET_AVAILABLE, 0);
}

static void test_cb06_group_callback_activation_off(void **state)
{
    struct fx *f = *state;
    static const char *const members[] = {"3001"};
    fx_station(f, "2001");
    fx_trunk(f, "9", 1)->callback_activation = false;
    f->lines[0].busy = true;
    fx_hunt(f, "500", 1, members)->callback_activation = false;
    cb_world_station(&f->w, "3001")->state.busy = true;
    assert_refused(f, fx_set_full(f, "2001", "9", "5551234", CB_MODE_CALLBACK, NULL),
                   CB_ERR_GROUP_DISABLED, 0);
    assert_refused(f, fx_set(f, "2001", "500"), CB_ERR_GROUP_DISABLED, 0);
}

static void test_cb06_external_number_is_optional_on_trunks_and_only_for_them(void **state)
{
    struct fx *f = *state;
    fx_station(f, "2001");
    fx_station(f, "2002")->state.busy = true;
    fx_trunk(f, "9", 1);
    f->lines[0].busy = true;
    assert_refused(f, fx_set_full(f, "2001", "2002", "555", CB_MODE_CALLBACK, NULL),
                   CB_ERR_VALIDATION, 0);
    struct cb_callback *c = fx_set(f, "2001", "9");
    assert_non_null(c);
    assert_int_equal(c->reason, CB_REASON_TRUNKS_BUSY);
    assert_string_equal(c->external_number, "");
}

static void test_cb07_callback_is_set_on_the_forwarded_number(void **state)
{
    struct fx *f = *state;
    fx_station(f, "2001");
    struct cb_station *b = fx_station(f, "2002");
    fx_station(f, "2003");
    b->state.busy = true;
    FX_COPY(b->state.forward_to, "2003");
    struct cb_callback *c = fx_set(f, "2001", "2002");
    assert_non_null(c);
    assert_string_equal(c->target, "2002");
    char id[CB_ID_MAX];
    FX_COPY(id, c->id);
    /* The forward target going idle does not mature it; the dialed one does. */
    fx_scope(f, "2002");
    fx_scope(f, "2003");
    fx_idle(f, "2003");
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);
    fx_idle(f, "2002");
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_NOTIFYING);
}

static void test_cb08_duplicate_supersedes_the_original(void **state)
{
    struct fx *f = *state;
    fx_station(f, "2001");
    fx_station(f, "2002")->state.busy = true;
    char first[CB_ID_MAX], second[CB_ID_MAX];
    assert_non_null(fx_set_full(f, "2001", "2002", NULL, CB_MODE_CALLBACK, first));
    f->now += 60000;
    struct cb_callback *c = fx_set_full(f, "2001", "2002", NULL, CB_MODE_CALLBACK, second);
    assert_non_null(c);
    assert_string_equal(c->supersedes, first);
    assert_int_equal(c->expires_at, f->now + 3600 * 1000); /* a fresh expiry */
    const struct cb_callback *old = fx_cb(f, first);
    assert_int_equal(old->state, CB_STATE_CANCELLED);
    assert_int_equal(old->end_reason, CB_END_SUPERSEDED);
    assert_int_equal(old->ended_at, f->now);
    assert_true(old->dirty);
    fx_assert_history(f, first, CB_STATE_PENDING, CB_STATE_CANCELLED, CB_CAUSE_API, "req-1");
    assert_non_null(fx_timer_op(f, CB_TIMER_EXPIRY, first, true));
    assert_non_null(fx_timer_op(f, CB_TIMER_EXPIRY, second, false));
}

static void test_cb08_superseding_a_notifying_callback_stops_its_ring(void **state)
{
    struct fx *f = *state;
    fx_station(f, "2001");
    fx_station(f, "2002")->state.busy = true;
    fx_scope(f, "2002");
    char first[CB_ID_MAX];
    fx_set_full(f, "2001", "2002", NULL, CB_MODE_CALLBACK, first);
    fx_idle(f, "2002");
    assert_int_equal(fx_cb(f, first)->state, CB_STATE_NOTIFYING);
    struct cb_callback *c = fx_set(f, "2001", "2002");
    assert_non_null(c);
    assert_int_equal(fx_count(f, CB_CMD_STOP_RING), 1);
    assert_string_equal(fx_cmd(f, CB_CMD_STOP_RING, 0)->station, "2001");
    assert_int_equal(fx_cb(f, first)->end_reason, CB_END_SUPERSEDED);
    assert_int_equal(c->state, CB_STATE_PENDING); /* idle target: no answer, hook cycle */
}

static void test_cb09_limit_per_requester(void **state)
{
    struct fx *f = *state;
    f->w.options.max_per_requester = 2;
    fx_station(f, "2001");
    fx_station(f, "2002")->state.busy = true;
    fx_station(f, "2003")->state.busy = true;
    fx_station(f, "2004")->state.busy = true;
    assert_non_null(fx_set(f, "2001", "2002"));
    assert_non_null(fx_set(f, "2001", "2003"));
    assert_refused(f, fx_set(f, "2001", "2004"), CB_ERR_LIMIT_REACHED, 2);
    /* A duplicate replaces one: the superseded one does not count (CB-08 before CB-09). */
    assert_non_null(fx_set(f, "2001", "2003"));
}

static void test_cb09_limit_per_target(void **state)
{
    struct fx *f = *state;
    f->w.options.max_per_target = 1;
    fx_station(f, "2001");
    fx_station(f, "2003");
    fx_station(f, "2002")->state.busy = true;
    assert_non_null(fx_set(f, "2001", "2002"));
    assert_refused(f, fx_set(f, "2003", "2002"), CB_ERR_LIMIT_REACHED, 1);
}

static void test_cb10_expiry_timer_is_set(void **state)
{
    struct fx *f = *state;
    f->w.options.callback_cancel_timer_s = 5;
    fx_station(f, "2001");
    fx_station(f, "2002")->state.busy = true;
    struct cb_callback *c = fx_set(f, "2001", "2002");
    assert_non_null(c);
    assert_int_equal(c->expires_at, f->now + 5000);
    const struct cb_timer_op *t = fx_timer_op(f, CB_TIMER_EXPIRY, c->id, false);
    assert_non_null(t);
    assert_int_equal(t->at, f->now + 5000);
    assert_int_equal(f->d.n_timers, 1);
}

static void test_cb20_notify_line_is_the_prime_line(void **state)
{
    struct fx *f = *state;
    FX_COPY(fx_station(f, "2001")->prime_line, "2101");
    fx_station(f, "2002")->state.busy = true;
    struct cb_set_request req = {.mode = CB_MODE_CALLBACK, .new_seq = 1};
    FX_COPY(req.requester, "2001");
    FX_COPY(req.target, "2002");
    FX_COPY(req.origin_line, "2201");
    FX_COPY(req.new_id, "cb-x");
    struct cb_cause cause = fx_api_cause("r");
    struct cb_callback *c = cb_core_set(&f->w, &req, f->now, &cause, &f->d);
    assert_non_null(c);
    assert_string_equal(c->origin_line, "2201");
    assert_string_equal(c->notify_line, "2101");
}

static void test_cb40_message_mode_lights_the_lamp(void **state)
{
    struct fx *f = *state;
    fx_station(f, "2001");
    fx_station(f, "2002"); /* idle: ringback, the caller leaves a message */
    struct cb_callback *c = fx_set_full(f, "2001", "2002", NULL, CB_MODE_MESSAGE, NULL);
    assert_non_null(c);
    assert_int_equal(c->state, CB_STATE_MESSAGE_LEFT);
    assert_int_equal(c->mode, CB_MODE_MESSAGE);
    assert_int_equal(c->expires_at, 0);
    assert_true(c->lamp_lit);
    assert_int_equal(f->d.n_commands, 1);
    const struct cb_command *m = fx_cmd(f, CB_CMD_MWI, 0);
    assert_string_equal(m->station, "2002");
    assert_string_equal(m->from, "2001");
    assert_true(m->on);
    assert_string_equal(m->callback_id, c->id);
    assert_int_equal(f->d.n_timers, 0);
    fx_assert_history(f, c->id, CB_STATE_NONE, CB_STATE_MESSAGE_LEFT, CB_CAUSE_API, "req-1");
}

static void test_cb40_message_mode_needs_a_station_target(void **state)
{
    struct fx *f = *state;
    fx_station(f, "2001");
    fx_trunk(f, "9", 1);
    f->lines[0].busy = true;
    assert_refused(f, fx_set_full(f, "2001", "9", "555", CB_MODE_MESSAGE, NULL), CB_ERR_VALIDATION,
                   0);
}

static void test_cb40_message_never_matures(void **state)
{
    struct fx *f = *state;
    fx_station(f, "2001");
    fx_station(f, "2002");
    fx_scope(f, "2002");
    char id[CB_ID_MAX];
    fx_set_full(f, "2001", "2002", NULL, CB_MODE_MESSAGE, id);
    fx_hook_cycle(f, "2002");
    fx_idle(f, "2002");
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_MESSAGE_LEFT);
    assert_int_equal(f->d.n_commands, 0);
}

static void test_cb40_superseding_a_message_turns_the_old_lamp_off_first(void **state)
{
    struct fx *f = *state;
    fx_station(f, "2001");
    fx_station(f, "2002");
    fx_set_full(f, "2001", "2002", NULL, CB_MODE_MESSAGE, NULL);
    fx_set_full(f, "2001", "2002", NULL, CB_MODE_MESSAGE, NULL);
    assert_int_equal(fx_count(f, CB_CMD_MWI), 2);
    assert_false(fx_cmd(f, CB_CMD_MWI, 0)->on);
    assert_true(fx_cmd(f, CB_CMD_MWI, 1)->on);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
        T(test_cb02_requester_equal_target_is_validation),
        T(test_cb02_unknown_numbers_are_refused),
        T(test_cb03_cos_forbids_callbacks),
        T(test_cb04_failed_over_requester_or_target_is_refused),
        T(test_cb04_cos_is_checked_before_failover),
        T(test_cb05_busy_station_gives_reason_busy),
        T(test_cb05_idle_station_gives_no_answer_and_needs_hook_cycle),
        T(test_cb05_blocking_feature_gives_busy_and_awaits_release),
        T(test_cb05_trunk_group_gives_trunks_busy),
        T(test_cb05_dialed_number_is_split_by_the_longest_trunk_prefix),
        T(test_cb05_hunt_group_gives_hunt_group_busy),
        T(test_cb06_trunk_group_with_free_line_is_available),
        T(test_cb06_hunt_group_with_idle_member_is_available),
        T(test_cb06_group_callback_activation_off),
        T(test_cb06_external_number_is_optional_on_trunks_and_only_for_them),
        T(test_cb07_callback_is_set_on_the_forwarded_number),
        T(test_cb08_duplicate_supersedes_the_original),
        T(test_cb08_superseding_a_notifying_callback_stops_its_ring),
        T(test_cb09_limit_per_requester),
        T(test_cb09_limit_per_target),
        T(test_cb10_expiry_timer_is_set),
        T(test_cb20_notify_line_is_the_prime_line),
        T(test_cb40_message_mode_lights_the_lamp),
        T(test_cb40_message_mode_needs_a_station_target),
        T(test_cb40_message_never_matures),
        T(test_cb40_superseding_a_message_turns_the_old_lamp_off_first),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
