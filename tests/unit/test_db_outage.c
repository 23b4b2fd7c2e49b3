/* The process's view of the database's outages (db/outage.h): one opens at a failure and ends at
 * an answer; a failure of an attempt begun before the last outage ended is late news of that one
 * and opens none; during an outage one caller a second may probe. The state is the process's,
 * so each test leaves no outage behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include <cmocka.h>

#include "db/outage.h"
#include "service/clock.h"

static void pause_ms(long ms)
{
    struct timespec t = {ms / 1000, ms % 1000 * 1000000L};
    nanosleep(&t, NULL);
}

static void test_a_failure_opens_an_outage_and_an_answer_ends_it(void **state)
{
    (void)state;
    assert_false(db_outage_ongoing());
    db_outage_failed("refused", cb_monotonic_ms());
    assert_true(db_outage_ongoing());
    db_outage_failed("refused again", cb_monotonic_ms()); /* the same outage */
    assert_true(db_outage_ongoing());
    db_outage_answered();
    assert_false(db_outage_ongoing());
}

static void test_an_attempt_begun_during_the_last_outage_opens_none(void **state)
{
    (void)state;
    long long in_hang = cb_monotonic_ms();
    db_outage_failed("no answer", in_hang);
    pause_ms(5);
    db_outage_answered();
    /* A connection attempt begun in the hang times out after the database is back. */
    db_outage_failed("timeout expired", in_hang);
    assert_false(db_outage_ongoing());
    assert_true(db_outage_may_try());
}

static void test_an_attempt_begun_after_the_end_opens_a_new_outage(void **state)
{
    (void)state;
    db_outage_failed("no answer", cb_monotonic_ms());
    db_outage_answered();
    pause_ms(2);
    db_outage_failed("refused", cb_monotonic_ms());
    assert_true(db_outage_ongoing());
    db_outage_answered();
    assert_false(db_outage_ongoing());
}

static void test_during_an_outage_one_caller_probes_a_second(void **state)
{
    (void)state;
    assert_true(db_outage_may_try());
    db_outage_failed("refused", cb_monotonic_ms());
    assert_false(db_outage_may_try()); /* the failure was this second's try */
    pause_ms(DB_OUTAGE_PROBE_MS + 20);
    assert_true(db_outage_may_try());  /* the probe */
    assert_false(db_outage_may_try()); /* the others wait for its outcome */
    db_outage_answered();
    assert_true(db_outage_may_try());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_failure_opens_an_outage_and_an_answer_ends_it),
        cmocka_unit_test(test_an_attempt_begun_during_the_last_outage_opens_none),
        cmocka_unit_test(test_an_attempt_begun_after_the_end_opens_a_new_outage),
        cmocka_unit_test(test_during_an_outage_one_caller_probes_a_second),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
