/* Group commit (service/group_commit.h): concurrent submitters each get their item done exactly
 * once, by batches of at most max_items, with at most `lanes` batches running at once, and a
 * submitter alone runs its own item at once. Every submitter waits on its own condition, woken
 * when its batch ends or when it is its turn to lead: a wake-up lost there leaves a submitter
 * waiting for ever, which this test shows as its timeout (ctest: 60 s). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_timedjoin_np */
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <time.h>

#include <cmocka.h>

#include "service/group_commit.h"

#define SUBMITTERS 12
#define ROUNDS     400
#define MAX_ITEMS  4
#define LANES      2

struct item {
    struct cb_group_item gc; /* first: a batch's items are these */
    int runs;                /* times a batch ran it */
};

struct counts {
    atomic_int running, most_running, batches, biggest;
    atomic_int items;
};

static void note_max(atomic_int *most, int v)
{
    int seen = atomic_load(most);
    while (v > seen && !atomic_compare_exchange_weak(most, &seen, v))
        ;
}

static void run(void *ctx, struct cb_group_item **items, int n)
{
    struct counts *c = ctx;
    note_max(&c->most_running, atomic_fetch_add(&c->running, 1) + 1);
    note_max(&c->biggest, n);
    atomic_fetch_add(&c->batches, 1);
    for (int i = 0; i < n; i++) {
        struct item *it = (struct item *)items[i];
        assert_false(items[i]->done);
        it->runs++;
    }
    struct timespec t = {0, 20000 + (n % 3) * 30000}; /* a commit's time, more or less */
    nanosleep(&t, NULL);
    atomic_fetch_add(&c->items, n);
    atomic_fetch_sub(&c->running, 1);
}

struct submitter {
    struct cb_group_commit *g;
    int bad; /* items not run exactly once */
};

static void *submit_rounds(void *arg)
{
    struct submitter *s = arg;
    for (int r = 0; r < ROUNDS; r++) {
        struct item it = {.runs = 0};
        cb_group_commit_submit(s->g, &it.gc);
        if (it.runs != 1 || !it.gc.done)
            s->bad++;
    }
    return NULL;
}

static void test_concurrent_submitters_each_get_their_item_run_once(void **state)
{
    (void)state;
    struct counts c = {0};
    struct cb_group_commit g;
    cb_group_commit_init(&g, MAX_ITEMS, LANES, run, &c);
    pthread_t threads[SUBMITTERS];
    struct submitter subs[SUBMITTERS];
    for (int i = 0; i < SUBMITTERS; i++) {
        subs[i] = (struct submitter){.g = &g};
        assert_int_equal(pthread_create(&threads[i], NULL, submit_rounds, &subs[i]), 0);
    }
    for (int i = 0; i < SUBMITTERS; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(subs[i].bad, 0);
    }
    cb_group_commit_fini(&g);
    assert_int_equal(atomic_load(&c.items), SUBMITTERS * ROUNDS);
    assert_true(atomic_load(&c.most_running) <= LANES);
    assert_true(atomic_load(&c.biggest) <= MAX_ITEMS);
    /* Twelve submitters on two lanes: batches held several items, so fewer batches than items. */
    assert_true(atomic_load(&c.batches) < SUBMITTERS * ROUNDS);
}

static void test_a_lone_submitter_runs_its_item_itself(void **state)
{
    (void)state;
    struct counts c = {0};
    struct cb_group_commit g;
    cb_group_commit_init(&g, MAX_ITEMS, LANES, run, &c);
    for (int r = 0; r < 3; r++) {
        struct item it = {.runs = 0};
        cb_group_commit_submit(&g, &it.gc);
        assert_int_equal(it.runs, 1);
    }
    cb_group_commit_fini(&g);
    assert_int_equal(atomic_load(&c.batches), 3);
    assert_int_equal(atomic_load(&c.biggest), 1);
}

/* One lane: the first batch runs until a second submitter is queued behind it, then ends. With
 * nobody else submitting, the waiting one must be woken to lead its own batch. */
struct handover {
    struct cb_group_commit g;
    atomic_int batches;
};

static void run_until_someone_waits(void *ctx, struct cb_group_item **items, int n)
{
    (void)items;
    (void)n;
    struct handover *h = ctx;
    if (atomic_fetch_add(&h->batches, 1) > 0)
        return;
    for (;;) {
        pthread_mutex_lock(&h->g.lock);
        bool queued = h->g.head != NULL;
        pthread_mutex_unlock(&h->g.lock);
        if (queued)
            return;
        struct timespec t = {0, 1000000};
        nanosleep(&t, NULL);
    }
}

static void *submit_one(void *arg)
{
    struct item it = {.runs = 0};
    cb_group_commit_submit(arg, &it.gc);
    return NULL;
}

static void test_a_queued_submitter_leads_once_the_lane_is_free(void **state)
{
    (void)state;
    struct handover h = {0};
    cb_group_commit_init(&h.g, MAX_ITEMS, 1, run_until_someone_waits, &h);
    pthread_t first, second;
    assert_int_equal(pthread_create(&first, NULL, submit_one, &h.g), 0);
    while (atomic_load(&h.batches) == 0) { /* the first batch is running */
        struct timespec t = {0, 1000000};
        nanosleep(&t, NULL);
    }
    assert_int_equal(pthread_create(&second, NULL, submit_one, &h.g), 0);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    assert_int_equal(pthread_timedjoin_np(first, NULL, &until), 0);
    assert_int_equal(pthread_timedjoin_np(second, NULL, &until), 0); /* else: never woken */
    assert_int_equal(atomic_load(&h.batches), 2);
    cb_group_commit_fini(&h.g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_submitters_each_get_their_item_run_once),
        cmocka_unit_test(test_a_lone_submitter_runs_its_item_itself),
        cmocka_unit_test(test_a_queued_submitter_leads_once_the_lane_is_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
