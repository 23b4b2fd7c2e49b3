/* Wire names of the core's enums (openapi.yaml), both ways. */
#include "test_core_fixture.h"

static void test_names_round_trip(void **state)
{
    (void)state;
    for (int s = CB_STATE_PENDING; s <= CB_STATE_EXPIRED; s++)
        assert_int_equal(cb_state_parse(cb_state_name((enum cb_state)s)), s);
    for (int r = CB_REASON_BUSY; r <= CB_REASON_HUNT_GROUP_BUSY; r++)
        assert_int_equal(cb_reason_parse(cb_reason_name((enum cb_reason)r)), r);
    for (int r = CB_END_REQUESTED; r <= CB_END_STATION_REMOVED; r++)
        assert_int_equal(cb_end_reason_parse(cb_end_reason_name((enum cb_end_reason)r)), r);
    for (int t = CB_TARGET_STATION; t <= CB_TARGET_HUNT_GROUP; t++)
        assert_int_equal(cb_target_type_parse(cb_target_type_name((enum cb_target_type)t)), t);
    for (int k = CB_KIND_IP_PHONE; k <= CB_KIND_CONSOLE; k++)
        assert_int_equal(cb_kind_parse(cb_kind_name((enum cb_station_kind)k)), k);
    for (int k = CB_TIMER_EXPIRY; k <= CB_TIMER_RECALL_TIMEOUT; k++)
        assert_int_equal(cb_timer_kind_parse(cb_timer_kind_name((enum cb_timer_kind)k)), k);
    assert_int_equal(cb_mode_parse("message"), CB_MODE_MESSAGE);
}

static void test_names_match_the_wire_names(void **state)
{
    (void)state;
    assert_string_equal(cb_state_name(CB_STATE_MESSAGE_LEFT), "message_left");
    assert_string_equal(cb_state_name(CB_STATE_NONE), "");
    assert_string_equal(cb_reason_name(CB_REASON_HUNT_GROUP_BUSY), "hunt_group_busy");
    assert_string_equal(cb_end_reason_name(CB_END_CALL_COMPLETED), "call_completed");
    assert_string_equal(cb_end_reason_name(CB_END_NONE), "");
    assert_string_equal(cb_target_type_name(CB_TARGET_TRUNK_GROUP), "trunk_group");
    assert_string_equal(cb_command_type_name(CB_CMD_RESERVE_TRUNK), "reserve_trunk");
    assert_string_equal(cb_command_type_name(CB_CMD_TONE), "tone");
    assert_string_equal(cb_tone_name(CB_TONE_REORDER), "reorder");
    assert_string_equal(cb_timer_kind_name(CB_TIMER_NOTIFY_TIMEOUT), "notify_timeout");
    assert_string_equal(cb_kind_name(CB_KIND_CONSOLE), "console");
    assert_int_equal(cb_state_parse("active"), -1);
    assert_int_equal(cb_state_parse(""), -1);
    assert_int_equal(cb_state_parse(NULL), -1);
    assert_int_equal(cb_end_reason_parse(""), -1);
    assert_true(cb_state_is_terminal(CB_STATE_EXPIRED));
    assert_false(cb_state_is_terminal(CB_STATE_QUEUED));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_round_trip),
        cmocka_unit_test(test_names_match_the_wire_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
