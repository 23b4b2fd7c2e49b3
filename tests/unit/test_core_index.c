/* The per-decision index (service/core/index.c) answers every lookup as a scan of the world
 * would, and the change counter (cb_world.changes) counts every mark the core sets. */
#include "test_core_fixture.h"

#include "service/core/internal.h"

static struct cb_callback *add(struct fx *f, const char *id, const char *requester,
                               const char *target, enum cb_state st)
{
    struct cb_callback c;
    memset(&c, 0, sizeof(c));
    FX_COPY(c.id, id);
    FX_COPY(c.requester, requester);
    FX_COPY(c.target, target);
    c.state = st;
    if (st == CB_STATE_CANCELLED)
        c.ended_at = FX_T0;
    struct cb_callback *added = cb_world_add_callback(&f->w, &c);
    assert_non_null(added);
    return added;
}

/* Looks up with the index open and closed; both must name the same element. */
static void same_answers(struct fx *f, const char *number, const char *id, const char *requester,
                         const char *target)
{
    struct cb_world *w = &f->w;
    struct cb_station *s = cb_world_station(w, number);
    struct cb_callback *c = cb_world_callback(w, id);
    struct cb_callback *a = cb_find_active(w, requester, target);
    bool scoped = cb_in_scope(w, target);
    struct cb_world_index index;
    assert_true(cb_index_open(w, &index));
    assert_ptr_equal(cb_world_station(w, number), s);
    assert_ptr_equal(cb_world_callback(w, id), c);
    assert_ptr_equal(cb_find_active(w, requester, target), a);
    assert_int_equal(cb_in_scope(w, target), scoped);
    cb_index_close(w, true);
    assert_null(w->index);
}

/* The same number twice (which provisioning forbids) still gives the first, as a scan does. */
static void test_index_finds_the_first_in_world_order(void **state)
{
    struct fx *f = *state;
    fx_station(f, "2001");
    fx_station(f, "2002");
    fx_station(f, "2001");
    fx_scope(f, "2002");
    add(f, "cb-1", "2001", "2002", CB_STATE_CANCELLED);
    add(f, "cb-2", "2001", "2002", CB_STATE_PENDING);
    add(f, "cb-3", "2001", "2002", CB_STATE_PENDING);
    add(f, "cb-2", "2002", "2001", CB_STATE_PENDING);
    same_answers(f, "2001", "cb-2", "2001", "2002");
    same_answers(f, "2002", "cb-3", "2002", "2001");
    same_answers(f, "2003", "cb-9", "2003", "2009");
    same_answers(f, "", "", "2001", "");
    struct cb_world_index index;
    assert_true(cb_index_open(&f->w, &index));
    assert_ptr_equal(cb_world_station(&f->w, "2001"), &f->stations[0]);
    assert_ptr_equal(cb_find_active(&f->w, "2001", "2002"), &f->w.callbacks[1]);
    assert_false(cb_index_open(&f->w, &index)); /* nested entry points share it */
    cb_index_close(&f->w, false);
    assert_non_null(f->w.index);
    cb_index_close(&f->w, true);
}

/* Callbacks added while the index is open are found by id and by requester and target, also
 * after the tables have grown several times; closing frees every table (ASan checks). */
static void test_index_follows_callbacks_added_during_a_decision(void **state)
{
    struct fx *f = *state;
    struct cb_world_index index;
    assert_true(cb_index_open(&f->w, &index));
    assert_null(cb_world_callback(&f->w, "cb-0"));      /* builds the id table */
    assert_null(cb_find_active(&f->w, "1000", "2000")); /* and the pair table */
    for (int i = 0; i < 200; i++) {
        char id[CB_ID_MAX], requester[CB_NUMBER_MAX];
        snprintf(id, sizeof(id), "cb-%d", i);
        snprintf(requester, sizeof(requester), "%d", 1000 + i);
        add(f, id, requester, "2000", CB_STATE_PENDING);
    }
    for (int i = 0; i < 200; i++) {
        char id[CB_ID_MAX], requester[CB_NUMBER_MAX];
        snprintf(id, sizeof(id), "cb-%d", i);
        snprintf(requester, sizeof(requester), "%d", 1000 + i);
        assert_ptr_equal(cb_world_callback(&f->w, id), &f->w.callbacks[i]);
        assert_ptr_equal(cb_find_active(&f->w, requester, "2000"), &f->w.callbacks[i]);
        assert_null(cb_find_active(&f->w, requester, "2001"));
    }
    cb_index_close(&f->w, true);
    assert_null(f->w.index);
}

/* An event that marks nothing leaves the counter alone; one that marks moves it (the worker
 * tells ignored events by it). */
static void test_changes_count_every_mark(void **state)
{
    struct fx *f = *state;
    fx_station(f, "2001");
    size_t before = f->w.changes;
    fx_idle(f, "2001"); /* already idle: nothing to mark */
    assert_int_equal(f->w.changes, before);
    assert_false(f->stations[0].dirty);
    fx_busy(f, "2001");
    assert_true(f->w.changes > before);
    assert_true(f->stations[0].dirty);
    fx_station(f, "2002");
    before = f->w.changes;
    assert_non_null(fx_set(f, "2002", "2001")); /* is_new */
    assert_true(f->w.changes > before);
    assert_null(f->w.index); /* every entry point closed what it opened */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
        T(test_index_finds_the_first_in_world_order),
        T(test_index_follows_callbacks_added_during_a_decision),
        T(test_changes_count_every_mark),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
