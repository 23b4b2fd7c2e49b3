/* PBX events: live state, call attempts (CB-01), FAC (CB-30), softkey (CB-33), number
 * resolution (trunk prefixes, CB-05). */
#include "test_core_fixture.h"

static void test_cb01_failed_attempt_stays_until_hook_on(void **state)
{
    struct fx *f = *state;
    fx_station(f, "2001");
    fx_station(f, "2002");
    fx_attempt(f, "2001", "2002", CB_ATTEMPT_BUSY);
    struct cb_station *s = cb_world_station(&f->w, "2001");
    assert_int_equal(s->attempt, CB_ATTEMPT_BUSY);
    assert_string_equal(s->attempt_to, "2002");
    assert_true(s->dirty);
    fx_hook(f, "2001", true);
    assert_int_equal(s->attempt, CB_ATTEMPT_BUSY);
    fx_hook(f, "2001", false);
    assert_int_equal(s->attempt, CB_ATTEMPT_NONE);
    assert_string_equal(s->attempt_to, "");
    assert_true(s->dirty);
}

static void test_cb01_next_attempt_replaces_or_clears(void **state)
{
    struct fx *f = *state;
    fx_station(f, "2001");
    fx_attempt(f, "2001", "2002", CB_ATTEMPT_NO_ANSWER);
    fx_attempt(f, "2001", "95551234", CB_ATTEMPT_TRUNKS_BUSY);
    struct cb_station *s = cb_world_station(&f->w, "2001");
    assert_int_equal(s->attempt, CB_ATTEMPT_TRUNKS_BUSY);
    assert_string_equal(s->attempt_to, "95551234");
    fx_attempt(f, "2001", "2003", -1); /* answered */
    assert_int_equal(s->attempt, CB_ATTEMPT_NONE);
    assert_string_equal(s->attempt_to, "");
}

static void test_cb33_softkey_presented_with_failed_attempt(void **state)
{
    struct fx *f = *state;
    struct cb_station *s = fx_station(f, "2001");
    char target[CB_NUMBER_MAX];
    assert_false(cb_core_softkey(s, target));
    assert_string_equal(target, "");
    fx_attempt(f, "2001", "2002", CB_ATTEMPT_BUSY);
    assert_true(cb_core_softkey(s, target));
    assert_string_equal(target, "2002");
    s->state.failed_over = true;
    assert_false(cb_core_softkey(s, target));
    s->state.failed_over = false;
    s->callbacks_allowed = false; /* CB-03 */
    assert_false(cb_core_softkey(s, target));
}

/* CB-01, CB-33: a set with the softkey takes the requester's failed attempt as the world has it
 * when the core decides, whatever target the caller guessed; none is no_failed_attempt. */
static void test_cb33_softkey_set_uses_the_current_failed_attempt(void **state)
{
    struct fx *f = *state;
    fx_station(f, "2001");
    fx_station(f, "2002");
    fx_station(f, "2003")->state.busy = true;
    fx_begin(f);
    struct cb_set_request req = {.mode = CB_MODE_CALLBACK, .softkey = true, .new_seq = 1};
    FX_COPY(req.requester, "2001");
    FX_COPY(req.target, "2002");
    FX_COPY(req.new_id, "cb-soft-1");
    struct cb_cause cause = fx_api_cause("req-soft");
    assert_null(cb_core_set(&f->w, &req, f->now, &cause, &f->d));
    assert_int_equal(f->d.error, CB_ERR_NO_FAILED_ATTEMPT);
    fx_attempt(f, "2001", "2003", CB_ATTEMPT_BUSY);
    fx_begin(f);
    struct cb_callback *c = cb_core_set(&f->w, &req, f->now, &cause, &f->d);
    assert_non_null(c);
    assert_int_equal(f->d.error, CB_OK);
    assert_string_equal(c->target, "2003"); /* the attempt, not the guess */
    assert_int_equal(c->reason, CB_REASON_BUSY);
}

static void test_events_update_live_state_and_mark_dirty(void **state)
{
    struct fx *f = *state;
    struct cb_station *s = fx_station(f, "2001");
    fx_busy(f, "2001");
    assert_true(s->state.busy);
    assert_true(s->dirty);
    fx_hook(f, "2001", true);
    assert_true(s->state.hook_off);
    fx_feature(f, "2001", CB_FEATURE_DND, true);
    assert_true(s->state.dnd);
    fx_station_ev(f, CB_EV_STATION_FAILOVER, "2001", true);
    assert_true(s->state.failed_over);
    fx_station_ev(f, CB_EV_CONSOLE_AVAILABILITY, "2001", false);
    assert_false(s->state.console_available);
    fx_station_ev(f, CB_EV_CONSOLE_AVAILABILITY, "2001", false);
    assert_false(s->dirty); /* nothing changed */
    fx_trunk(f, "9", 1);
    fx_trunk_state(f, "L1", true);
    assert_true(f->lines[0].busy);
    assert_true(f->lines[0].dirty);
}

static void test_events_about_unknown_numbers_do_nothing(void **state)
{
    struct fx *f = *state;
    fx_station(f, "2001");
    fx_busy(f, "2999");
    assert_int_equal(f->d.n_commands + f->d.n_history + f->d.n_timers, 0);
    fx_trunk(f, "9", 1);
    fx_trunk_state(f, "L7", true);
    assert_false(f->lines[0].dirty);
    fx_attempt(f, "2999", "2001", CB_ATTEMPT_BUSY);
    assert_false(f->stations[0].dirty);
    fx_digits(f, "2999", "#41", CB_CALL_IDLE, NULL);
    assert_int_equal(f->d.n_commands, 0);
}

/* The core tells each event's outcome: ignored when it names nothing in the world or changes
 * nothing (stored, with no effect), applied otherwise. */
static void test_event_outcome_applied_or_ignored(void **state)
{
    struct fx *f = *state;
    fx_station(f, "2001");
    fx_trunk(f, "9", 1);
    struct cb_event ev = fx_event(f, CB_EV_STATION_STATE);
    FX_COPY(ev.station, "2999");
    ev.flag = true;
    assert_int_equal(fx_apply(f, &ev), CB_IGNORED); /* not provisioned */
    FX_COPY(ev.station, "2001");
    assert_int_equal(fx_apply(f, &ev), CB_APPLIED); /* idle -> busy */
    assert_int_equal(fx_apply(f, &ev), CB_IGNORED); /* busy again: nothing changes */
    ev = fx_event(f, CB_EV_TRUNK_STATE);
    FX_COPY(ev.trunk_group, "9");
    FX_COPY(ev.line, "L7");
    ev.flag = true;
    assert_int_equal(fx_apply(f, &ev), CB_IGNORED); /* no such line */
    ev = fx_event(f, CB_EV_RECALL_RESULT);
    FX_COPY(ev.callback_id, "123e4567-e89b-12d3-a456-426614174000");
    assert_int_equal(fx_apply(f, &ev), CB_IGNORED); /* no such active callback */
}

/* Station 2001 hears busy tone calling 2002. */
static void busy_tone_setup(struct fx *f)
{
    fx_station(f, "2001");
    fx_station(f, "2002")->state.busy = true;
    f->w.options.digit_collection_during_busy_or_alerting = true;
}

static void assert_tone(const struct fx *f, const char *station, enum cb_tone t)
{
    int i = fx_cmd_index(f, CB_CMD_TONE);
    assert_true(i >= 0);
    assert_int_equal((size_t)i, f->d.n_commands - 1); /* the tone comes last */
    assert_string_equal(f->d.commands[i].station, station);
    assert_int_equal(f->d.commands[i].tone, t);
    assert_int_equal(fx_count(f, CB_CMD_TONE), 1);
}

static void test_cb30_setup_fac_during_busy_tone_sets_callback(void **state)
{
    struct fx *f = *state;
    char ev[32];
    busy_tone_setup(f);
    fx_digits(f, "2001", "*41", CB_CALL_BUSY_TONE, "2002");
    assert_tone(f, "2001", CB_TONE_CONFIRMATION);
    assert_int_equal(f->d.error, CB_OK);
    assert_int_equal(f->w.n_callbacks, 1);
    const struct cb_callback *c = &f->w.callbacks[0];
    assert_string_equal(c->requester, "2001");
    assert_string_equal(c->target, "2002");
    assert_string_equal(c->id, "cb-1"); /* the id the event carried */
    assert_true(c->is_new);
    fx_assert_history(f, c->id, CB_STATE_NONE, CB_STATE_PENDING, CB_CAUSE_EVENT,
                      fx_last_event_id(f, ev));
}

static void test_cb30_setup_fac_during_ringback_on_trunk_number(void **state)
{
    struct fx *f = *state;
    busy_tone_setup(f);
    fx_trunk(f, "9", 1);
    f->lines[0].busy = true;
    fx_digits(f, "2001", "*41", CB_CALL_RINGBACK, "95551234");
    assert_tone(f, "2001", CB_TONE_CONFIRMATION);
    assert_string_equal(f->w.callbacks[0].target, "9");
    assert_string_equal(f->w.callbacks[0].external_number, "5551234");
}

static void test_cb30_setup_fac_ignored_without_digit_collection(void **state)
{
    struct fx *f = *state;
    busy_tone_setup(f);
    f->w.options.digit_collection_during_busy_or_alerting = false;
    fx_digits(f, "2001", "*41", CB_CALL_BUSY_TONE, "2002");
    assert_int_equal(f->d.n_commands, 0);
    assert_int_equal(f->w.n_callbacks, 0);
}

static void test_cb30_setup_fac_refused_gives_reorder(void **state)
{
    struct fx *f = *state;
    busy_tone_setup(f);
    cb_world_station(&f->w, "2001")->callbacks_allowed = false; /* CB-03 */
    fx_digits(f, "2001", "*41", CB_CALL_BUSY_TONE, "2002");
    assert_tone(f, "2001", CB_TONE_REORDER);
    assert_int_equal(f->d.n_commands, 1);
    assert_int_equal(f->w.n_callbacks, 0);
    assert_int_equal(f->d.error, CB_OK);           /* the event was applied: the tone says no */
    fx_digits(f, "2001", "*41", CB_CALL_IDLE, ""); /* nothing to call back */
    assert_tone(f, "2001", CB_TONE_REORDER);
    cb_world_station(&f->w, "2001")->callbacks_allowed = true;
    fx_digits(f, "2001", "*41", CB_CALL_BUSY_TONE, "7777"); /* unknown number */
    assert_tone(f, "2001", CB_TONE_REORDER);
}

static void test_cb30_cancel_fac_cancels_all(void **state)
{
    struct fx *f = *state;
    busy_tone_setup(f);
    fx_station(f, "2003")->state.busy = true;
    fx_set(f, "2001", "2002");
    fx_set(f, "2001", "2003");
    fx_digits(f, "2001", "#41", CB_CALL_IDLE, NULL);
    assert_tone(f, "2001", CB_TONE_CONFIRMATION);
    assert_int_equal(f->d.cancelled_count, 2);
    assert_int_equal(f->w.callbacks[0].end_reason, CB_END_CANCELLED_ALL);
    fx_digits(f, "2001", "#41", CB_CALL_IDLE, NULL);
    assert_tone(f, "2001", CB_TONE_REORDER);
}

static void test_cb30_cancel_individual_fac(void **state)
{
    struct fx *f = *state;
    char a[CB_ID_MAX], t[CB_ID_MAX];
    busy_tone_setup(f);
    fx_trunk(f, "9", 1);
    f->lines[0].busy = true;
    fx_set_full(f, "2001", "2002", NULL, CB_MODE_CALLBACK, a);
    fx_set_full(f, "2001", "9", "5551234", CB_MODE_CALLBACK, t);
    fx_digits(f, "2001", "#422002", CB_CALL_IDLE, NULL);
    assert_tone(f, "2001", CB_TONE_CONFIRMATION);
    assert_int_equal(fx_cb(f, a)->end_reason, CB_END_REQUESTED);
    assert_int_equal(fx_cb(f, t)->state, CB_STATE_PENDING);
    fx_digits(f, "2001", "#422002", CB_CALL_IDLE, NULL); /* nothing left to cancel */
    assert_tone(f, "2001", CB_TONE_REORDER);
    fx_digits(f, "2001", "#4295551234", CB_CALL_IDLE, NULL);
    assert_tone(f, "2001", CB_TONE_CONFIRMATION);
    assert_int_equal(fx_cb(f, t)->end_reason, CB_END_REQUESTED);
}

static void test_cb30_other_digits_and_disabled_codes_are_ignored(void **state)
{
    struct fx *f = *state;
    busy_tone_setup(f);
    fx_set(f, "2001", "2002");
    fx_digits(f, "2001", "#42", CB_CALL_IDLE, NULL); /* no number after the code */
    assert_int_equal(f->d.n_commands, 0);
    fx_digits(f, "2001", "5551234", CB_CALL_IDLE, NULL);
    assert_int_equal(f->d.n_commands, 0);
    f->w.options.fac.cancel_all[0] = '\0';
    fx_digits(f, "2001", "#41", CB_CALL_IDLE, NULL);
    assert_int_equal(f->d.n_commands, 0);
    assert_int_equal(f->w.callbacks[0].state, CB_STATE_PENDING);
}

static void test_resolve_number_prefers_exact_then_longest_trunk_prefix(void **state)
{
    struct fx *f = *state;
    static const char *const members[] = {"3001"};
    struct cb_trunk_group groups[2];
    memset(groups, 0, sizeof(groups));
    FX_COPY(groups[0].number, "9");
    FX_COPY(groups[1].number, "90");
    f->w.trunk_groups = groups;
    f->w.n_trunk_groups = 2;
    fx_station(f, "2001");
    fx_station(f, "95");
    fx_hunt(f, "500", 1, members);
    f->w.trunk_groups = groups; /* fx_hunt does not touch trunks */
    char target[CB_NUMBER_MAX], external[CB_NUMBER_MAX];
    assert_true(cb_core_resolve_number(&f->w, "2001", target, external));
    assert_string_equal(target, "2001");
    assert_string_equal(external, "");
    assert_true(cb_core_resolve_number(&f->w, "500", target, external));
    assert_string_equal(target, "500");
    assert_true(cb_core_resolve_number(&f->w, "95", target, external));
    assert_string_equal(target, "95");
    assert_true(cb_core_resolve_number(&f->w, "95551234", target, external));
    assert_string_equal(target, "9");
    assert_string_equal(external, "5551234");
    assert_true(cb_core_resolve_number(&f->w, "9012", target, external));
    assert_string_equal(target, "90");
    assert_string_equal(external, "12");
    assert_false(cb_core_resolve_number(&f->w, "777", target, external));
    assert_string_equal(target, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
        T(test_cb01_failed_attempt_stays_until_hook_on),
        T(test_cb01_next_attempt_replaces_or_clears),
        T(test_cb33_softkey_presented_with_failed_attempt),
        T(test_cb33_softkey_set_uses_the_current_failed_attempt),
        T(test_events_update_live_state_and_mark_dirty),
        T(test_events_about_unknown_numbers_do_nothing),
        T(test_event_outcome_applied_or_ignored),
        T(test_event_outcome_applied_or_ignored),
        T(test_cb30_setup_fac_during_busy_tone_sets_callback),
        T(test_cb30_setup_fac_during_ringback_on_trunk_number),
        T(test_cb30_setup_fac_ignored_without_digit_collection),
        T(test_cb30_setup_fac_refused_gives_reorder),
        T(test_cb30_cancel_fac_cancels_all),
        T(test_cb30_cancel_individual_fac),
        T(test_cb30_other_digits_and_disabled_codes_are_ignored),
        T(test_resolve_number_prefers_exact_then_longest_trunk_prefix),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
