/* The long story: A (2001, prime line 2101) calls busy B (2002) and sets a callback; B frees
 * while A is busy; A frees and is rung on its prime line although forwarded to C (2003); A
 * answers; B is busy again, the recall fails busy and the callback is preserved; B frees, A
 * answers, B answers: completed. Every step checks its commands and history. */
#include "test_core_fixture.h"

#define STORY_MAX 16

/* Every history entry of the callback across the story, in order. */
struct story {
    struct cb_history_entry entries[STORY_MAX];
    size_t n;
};

static void collect(struct story *s, const struct fx *f, const char *id)
{
    for (size_t i = 0; i < f->d.n_history; i++) {
        if (strcmp(f->d.history[i].callback_id, id) != 0)
            continue;
        assert_true(s->n < STORY_MAX);
        s->entries[s->n++] = f->d.history[i];
    }
}

static void assert_nothing_decided(const struct fx *f)
{
    assert_int_equal(f->d.n_commands, 0);
    assert_int_equal(f->d.n_history, 0);
    assert_int_equal(f->d.n_timers, 0);
}

static void assert_ring(const struct fx *f, const char *id)
{
    assert_int_equal(f->d.n_commands, 1);
    const struct cb_command *r = fx_cmd(f, CB_CMD_RING, 0);
    assert_string_equal(r->callback_id, id);
    assert_string_equal(r->station, "2001");
    assert_string_equal(r->line, "2101"); /* CB-20: prime line */
    assert_string_equal(r->on_behalf_of, "");
    assert_string_equal(r->display, "Callback 2002");
    const struct cb_timer_op *t = fx_timer_op(f, CB_TIMER_NOTIFY_TIMEOUT, id, false);
    assert_non_null(t);
    assert_int_equal(t->at, f->now + 20000);
}

static void assert_originate(const struct fx *f, const char *id)
{
    assert_int_equal(f->d.n_commands, 1);
    const struct cb_command *o = fx_cmd(f, CB_CMD_ORIGINATE, 0);
    assert_string_equal(o->callback_id, id);
    assert_string_equal(o->from_station, "2001");
    assert_string_equal(o->from_line, "2101");
    assert_string_equal(o->to, "2002");
    assert_string_equal(o->via_line, "");
    assert_non_null(fx_timer_op(f, CB_TIMER_NOTIFY_TIMEOUT, id, true));
    const struct cb_timer_op *t = fx_timer_op(f, CB_TIMER_RECALL_TIMEOUT, id, false);
    assert_non_null(t);
    assert_int_equal(t->at, f->now + 60000);
}

static void test_story_busy_callback_preserved_then_completed(void **state)
{
    struct fx *f = *state;
    struct story story = {.n = 0};
    char id[CB_ID_MAX], target[CB_NUMBER_MAX], a_frees[32], b_answers[32];
    FX_COPY(fx_station(f, "2001")->prime_line, "2101");
    fx_station(f, "2002");
    fx_station(f, "2003");
    fx_scope(f, "2002");

    /* 1. B is busy; A calls B and gets busy tone: the softkey is presented for B (CB-01/33). */
    fx_busy(f, "2002");
    assert_nothing_decided(f);
    fx_attempt(f, "2001", "2002", CB_ATTEMPT_BUSY);
    assert_true(cb_core_softkey(cb_world_station(&f->w, "2001"), target));
    assert_string_equal(target, "2002");

    /* 2. A presses the softkey: a busy callback on B, pending, with its expiry (CB-05/CB-10). */
    f->now += 1000;
    struct cb_callback *c = fx_set_full(f, "2001", target, NULL, CB_MODE_CALLBACK, id);
    assert_non_null(c);
    assert_int_equal(c->reason, CB_REASON_BUSY);
    assert_int_equal(c->state, CB_STATE_PENDING);
    cb_time expires = c->expires_at;
    assert_int_equal(expires, f->now + 3600 * 1000);
    assert_int_equal(f->d.n_commands, 0);
    assert_non_null(fx_timer_op(f, CB_TIMER_EXPIRY, id, false));
    collect(&story, f, id);

    /* 3. A hangs up and takes another call; then forwards to C (CB-21). */
    fx_hook(f, "2001", false);
    assert_int_equal(cb_world_station(&f->w, "2001")->attempt, CB_ATTEMPT_NONE);
    fx_busy(f, "2001");
    assert_nothing_decided(f);
    struct cb_event fwd = fx_event(f, CB_EV_STATION_FORWARD);
    FX_COPY(fwd.station, "2001");
    FX_COPY(fwd.forward_to, "2003");
    fx_apply(f, &fwd);
    assert_nothing_decided(f);

    /* 4. B frees while A is busy: nothing matures (CB-11). */
    f->now += 1000;
    fx_idle(f, "2002");
    assert_nothing_decided(f);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_PENDING);

    /* 5. A frees: A rings on its prime line, despite the forwarding (CB-12/20/21). */
    f->now += 1000;
    fx_idle(f, "2001");
    fx_last_event_id(f, a_frees);
    assert_ring(f, id);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_NOTIFYING);
    collect(&story, f, id);

    /* 6. A lifts the handset: the recall to B from the prime line (CB-22). */
    f->now += 1000;
    fx_hook(f, "2001", true);
    assert_originate(f, id);
    assert_int_equal(fx_cb(f, id)->state, CB_STATE_RECALLING);
    collect(&story, f, id);
    fx_busy(f, "2001");
    assert_nothing_decided(f);

    /* 7. B is busy again before the recall reaches it: nothing changes while recalling. */
    fx_busy(f, "2002");
    assert_nothing_decided(f);

    /* 8. The recall reports busy: preserved, pending, expiry unchanged (CB-24). */
    f->now += 1000;
    fx_recall(f, id, CB_RECALL_BUSY);
    c = fx_cb(f, id);
    assert_int_equal(c->state, CB_STATE_PENDING);
    assert_int_equal(c->reason, CB_REASON_BUSY);
    assert_int_equal(c->expires_at, expires);
    assert_int_equal(c->ended_at, 0);
    assert_int_equal(f->d.n_commands, 0);
    assert_int_equal(f->d.n_timers, 1);
    assert_non_null(fx_timer_op(f, CB_TIMER_RECALL_TIMEOUT, id, true));
    collect(&story, f, id);

    /* 9. A hangs up and is idle again; B still busy: nothing. */
    fx_hook(f, "2001", false);
    assert_nothing_decided(f);
    fx_idle(f, "2001");
    assert_nothing_decided(f);

    /* 10. B frees: A rings again (CB-12 after CB-24 busy). */
    f->now += 1000;
    fx_idle(f, "2002");
    assert_ring(f, id);
    collect(&story, f, id);

    /* 11. A answers. */
    f->now += 1000;
    fx_hook(f, "2001", true);
    assert_originate(f, id);
    collect(&story, f, id);

    /* 12. B answers: completed; the connected call that follows changes nothing (CB-27). */
    f->now += 1000;
    fx_recall(f, id, CB_RECALL_ANSWERED);
    fx_last_event_id(f, b_answers);
    c = fx_cb(f, id);
    assert_int_equal(c->state, CB_STATE_COMPLETED);
    assert_int_equal(c->end_reason, CB_END_COMPLETED);
    assert_int_equal(c->ended_at, f->now);
    assert_int_equal(f->d.n_commands, 0);
    assert_non_null(fx_timer_op(f, CB_TIMER_EXPIRY, id, true));
    collect(&story, f, id);
    fx_connected(f, "2001", "2002", false);
    assert_nothing_decided(f);

    /* The whole history, oldest first, each with its cause. */
    static const struct {
        enum cb_state from, to;
        enum cb_cause_kind kind;
    } want[] = {
        {CB_STATE_NONE, CB_STATE_PENDING, CB_CAUSE_API},
        {CB_STATE_PENDING, CB_STATE_NOTIFYING, CB_CAUSE_EVENT},
        {CB_STATE_NOTIFYING, CB_STATE_RECALLING, CB_CAUSE_EVENT},
        {CB_STATE_RECALLING, CB_STATE_PENDING, CB_CAUSE_EVENT},
        {CB_STATE_PENDING, CB_STATE_NOTIFYING, CB_CAUSE_EVENT},
        {CB_STATE_NOTIFYING, CB_STATE_RECALLING, CB_CAUSE_EVENT},
        {CB_STATE_RECALLING, CB_STATE_COMPLETED, CB_CAUSE_EVENT},
    };
    assert_int_equal(story.n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < story.n; i++) {
        assert_int_equal(story.entries[i].from, want[i].from);
        assert_int_equal(story.entries[i].to, want[i].to);
        assert_int_equal(story.entries[i].cause.kind, want[i].kind);
        if (i > 0)
            assert_true(story.entries[i].at > story.entries[i - 1].at);
    }
    assert_string_equal(story.entries[0].cause.ref, "req-1");
    assert_string_equal(story.entries[1].cause.ref, a_frees);
    assert_string_equal(story.entries[6].cause.ref, b_answers);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_story_busy_callback_preserved_then_completed, fx_setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
