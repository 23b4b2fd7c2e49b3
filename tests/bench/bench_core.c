/* Benchmark of the rules core alone (no database, no HTTP): how the cost of one decision grows
 * with the number of loaded callbacks. Not part of ctest: it prints figures, it does not judge.
 *
 * Each world has four scope targets (two stations, one hunt group of two members, one trunk
 * group of four lines), each with a queue of `queue` waiting callbacks set in turn across the
 * targets (CB-17: seq order across targets). The requesters are `queue` stations, one callback
 * on every target each; every seventh requester is busy. Two measures per size:
 *
 *   schedule  cb_core_schedule on a world whose queue heads are already ringing: the steady
 *             state every input ends with (each waiting callback is looked at, none matures);
 *   idle      cb_core_on_event station.state idle on the first station target, which was busy:
 *             its queue head matures (the world is restored before each call, untimed);
 *   group     a group of events applied against one world, as the worker does: one idle per
 *             target, each target with its own queue of 50 (bench_group); "queue" is then the
 *             group's size and "us per call" the cost per event.
 *
 * Usage: bench_core [max_queue]   (default 5000; sizes 50, 500, 5000 up to max_queue) */
#include "service/core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_TARGETS   4
#define N_MEMBERS   2
#define N_LINES     4
#define BUSY_EVERY  7
#define MIN_SECONDS 0.5
#define MAX_ITERS   100000

struct bench_world {
    struct cb_world w;
    struct cb_trunk_group trunk;
    struct cb_trunk_line lines[N_LINES];
    struct cb_hunt_group hunt;
    char members[N_MEMBERS][CB_NUMBER_MAX];
    char scope[N_TARGETS][CB_NUMBER_MAX];
};

static const char *const station_targets[] = {"2001", "2002"};
#define HUNT_NUMBER  "3000"
#define TRUNK_NUMBER "9"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p) {
        perror("calloc");
        exit(1);
    }
    return p;
}

static struct cb_station *add_station(struct cb_world *w, const char *number)
{
    struct cb_station *s = &w->stations[w->n_stations++];
    memset(s, 0, sizeof(*s));
    snprintf(s->number, sizeof(s->number), "%s", number);
    snprintf(s->prime_line, sizeof(s->prime_line), "%s", number);
    s->kind = CB_KIND_IP_PHONE;
    s->callbacks_allowed = true;
    s->state.console_available = true;
    return s;
}

static void add_callback(struct cb_world *w, int64_t seq, const char *requester, const char *target,
                         enum cb_target_type type)
{
    struct cb_callback c;
    memset(&c, 0, sizeof(c));
    snprintf(c.id, sizeof(c.id), "cb-%lld", (long long)seq);
    c.seq = seq;
    snprintf(c.requester, sizeof(c.requester), "%s", requester);
    snprintf(c.target, sizeof(c.target), "%s", target);
    c.target_type = type;
    c.reason = type == CB_TARGET_STATION      ? CB_REASON_BUSY
               : type == CB_TARGET_HUNT_GROUP ? CB_REASON_HUNT_GROUP_BUSY
                                              : CB_REASON_TRUNKS_BUSY;
    c.mode = CB_MODE_CALLBACK;
    c.state = CB_STATE_PENDING;
    snprintf(c.origin_line, sizeof(c.origin_line), "%s", requester);
    snprintf(c.notify_line, sizeof(c.notify_line), "%s", requester);
    snprintf(c.notify_station, sizeof(c.notify_station), "%s", requester);
    if (type == CB_TARGET_TRUNK_GROUP)
        snprintf(c.external_number, sizeof(c.external_number), "5550%lld", (long long)seq);
    c.created_at = c.updated_at = 1700000000000LL;
    c.expires_at = c.created_at + 3600 * 1000;
    if (!cb_world_add_callback(w, &c)) {
        perror("cb_world_add_callback");
        exit(1);
    }
}

/* The world described at the top, every target idle and nothing ringing yet. */
static struct bench_world *bench_world_new(size_t queue)
{
    struct bench_world *b = xcalloc(1, sizeof(*b));
    struct cb_world *w = &b->w;
    w->options = (struct cb_options){.callback_cancel_timer_s = 3600,
                                     .notification_timeout_s = 20,
                                     .recall_timeout_s = 60,
                                     .command_ttl_s = 300,
                                     .max_per_requester = 10,
                                     .max_per_target = 50};
    w->stations = xcalloc(queue + N_TARGETS + N_MEMBERS, sizeof(*w->stations));
    for (size_t t = 0; t < 2; t++)
        add_station(w, station_targets[t]);
    snprintf(b->hunt.number, sizeof(b->hunt.number), "%s", HUNT_NUMBER);
    b->hunt.callback_activation = true;
    b->hunt.members = b->members;
    for (size_t m = 0; m < N_MEMBERS; m++) {
        snprintf(b->members[m], CB_NUMBER_MAX, "30%02zu", m + 1);
        add_station(w, b->members[m]);
        b->hunt.n_members++;
    }
    w->hunt_groups = &b->hunt;
    w->n_hunt_groups = 1;
    snprintf(b->trunk.number, sizeof(b->trunk.number), "%s", TRUNK_NUMBER);
    b->trunk.callback_activation = true;
    b->trunk.lines = b->lines;
    b->trunk.n_lines = N_LINES;
    for (size_t l = 0; l < N_LINES; l++)
        snprintf(b->lines[l].id, sizeof(b->lines[l].id), "L%zu", l + 1);
    w->trunk_groups = &b->trunk;
    w->n_trunk_groups = 1;

    w->scope_targets = b->scope;
    const char *const targets[N_TARGETS] = {station_targets[0], station_targets[1], HUNT_NUMBER,
                                            TRUNK_NUMBER};
    const enum cb_target_type types[N_TARGETS] = {CB_TARGET_STATION, CB_TARGET_STATION,
                                                  CB_TARGET_HUNT_GROUP, CB_TARGET_TRUNK_GROUP};
    for (size_t t = 0; t < N_TARGETS; t++)
        snprintf(b->scope[w->n_scope_targets++], CB_NUMBER_MAX, "%s", targets[t]);

    int64_t seq = 1;
    for (size_t r = 0; r < queue; r++) {
        char number[CB_NUMBER_MAX];
        snprintf(number, sizeof(number), "1%05zu", r);
        struct cb_station *s = add_station(w, number);
        s->state.busy = r % BUSY_EVERY == 0;
        for (size_t t = 0; t < N_TARGETS; t++)
            add_callback(w, seq++, number, targets[t], types[t]);
    }
    return b;
}

static void bench_world_free(struct bench_world *b)
{
    cb_world_free_callbacks(&b->w);
    free(b->w.stations);
    free(b);
}

/* The parts of the world a decision changes, to restore it between timed calls. */
struct snapshot {
    struct cb_callback *callbacks;
    size_t n_callbacks;
    struct cb_station *stations;
    struct cb_trunk_line lines[N_LINES];
};

static void snapshot_take(const struct bench_world *b, struct snapshot *s)
{
    s->n_callbacks = b->w.n_callbacks;
    s->callbacks = xcalloc(s->n_callbacks, sizeof(*s->callbacks));
    memcpy(s->callbacks, b->w.callbacks, s->n_callbacks * sizeof(*s->callbacks));
    s->stations = xcalloc(b->w.n_stations, sizeof(*s->stations));
    memcpy(s->stations, b->w.stations, b->w.n_stations * sizeof(*s->stations));
    memcpy(s->lines, b->lines, sizeof(s->lines));
}

static void snapshot_restore(struct bench_world *b, const struct snapshot *s)
{
    b->w.n_callbacks = s->n_callbacks;
    memcpy(b->w.callbacks, s->callbacks, s->n_callbacks * sizeof(*s->callbacks));
    memcpy(b->w.stations, s->stations, b->w.n_stations * sizeof(*s->stations));
    memcpy(b->lines, s->lines, sizeof(s->lines));
}

static void snapshot_free(struct snapshot *s)
{
    free(s->callbacks);
    free(s->stations);
}

struct figure {
    size_t iterations;
    double per_call_s;
    size_t commands; /* of the last call: shows both builds decide the same */
};

/* Steady state: the queue heads ring; every call looks at every waiting callback. */
static struct figure bench_schedule(struct bench_world *b)
{
    struct cb_cause cause = {.kind = CB_CAUSE_API};
    snprintf(cause.ref, sizeof(cause.ref), "bench");
    struct cb_decisions d;
    cb_decisions_init(&d);
    cb_core_schedule(&b->w, 1700000001000LL, &cause, &d); /* the heads mature once */
    cb_decisions_free(&d);
    struct figure f = {0};
    double start = now_s(), elapsed = 0;
    while (elapsed < MIN_SECONDS && f.iterations < MAX_ITERS) {
        cb_decisions_init(&d);
        cb_core_schedule(&b->w, 1700000002000LL, &cause, &d);
        f.commands = d.n_commands;
        cb_decisions_free(&d);
        f.iterations++;
        elapsed = now_s() - start;
    }
    f.per_call_s = elapsed / (double)f.iterations;
    return f;
}

/* The first station target goes idle: its queue head matures. Restoring is not timed. */
static struct figure bench_idle_event(struct bench_world *b)
{
    struct cb_cause cause = {.kind = CB_CAUSE_API};
    snprintf(cause.ref, sizeof(cause.ref), "bench");
    struct cb_decisions d;
    cb_decisions_init(&d);
    b->w.stations[0].state.busy = true;
    cb_core_schedule(&b->w, 1700000001000LL, &cause, &d); /* the other heads mature */
    cb_decisions_free(&d);
    struct snapshot snap;
    snapshot_take(b, &snap);
    struct cb_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = CB_EV_STATION_STATE;
    snprintf(ev.id, sizeof(ev.id), "ev-bench");
    snprintf(ev.station, sizeof(ev.station), "%s", station_targets[0]);
    ev.flag = false;
    struct figure f = {0};
    double timed = 0, start = now_s();
    while ((now_s() - start < MIN_SECONDS || f.iterations == 0) && f.iterations < MAX_ITERS) {
        snapshot_restore(b, &snap);
        cb_decisions_init(&d);
        double t0 = now_s();
        cb_core_on_event(&b->w, &ev, 1700000002000LL, &d);
        timed += now_s() - t0;
        f.commands = d.n_commands;
        cb_decisions_free(&d);
        f.iterations++;
    }
    snapshot_free(&snap);
    f.per_call_s = timed / (double)f.iterations;
    return f;
}

/* A group of events as the worker applies them (cb_core_group_begin .. end): `targets` busy
 * stations, each with a queue of 50 callbacks (callback i: requester i / 10, target i mod
 * targets, as tests/bench/scale.py loads them), then one station.state idle per target, each
 * ringing its queue's first free requester. Per event, whatever the group's size, if a group
 * costs its world once and each event only its own parties. */
static struct figure bench_group(size_t targets)
{
    const size_t queue = 50, per_requester = 10, n_cbs = targets * queue;
    const size_t n_requesters = n_cbs / per_requester;
    struct cb_world w;
    memset(&w, 0, sizeof(w));
    w.options = (struct cb_options){.callback_cancel_timer_s = 3600,
                                    .notification_timeout_s = 20,
                                    .recall_timeout_s = 60,
                                    .command_ttl_s = 300,
                                    .max_per_requester = 10,
                                    .max_per_target = 50};
    w.stations = xcalloc(targets + n_requesters, sizeof(*w.stations));
    w.scope_targets = xcalloc(targets, sizeof(*w.scope_targets));
    char number[CB_NUMBER_MAX], target[CB_NUMBER_MAX];
    for (size_t t = 0; t < targets; t++) {
        snprintf(number, sizeof(number), "5%07zu", t);
        add_station(&w, number)->state.busy = true;
        snprintf(w.scope_targets[w.n_scope_targets++], CB_NUMBER_MAX, "%s", number);
    }
    for (size_t r = 0; r < n_requesters; r++) {
        snprintf(number, sizeof(number), "6%07zu", r);
        add_station(&w, number);
    }
    for (size_t i = 0; i < n_cbs; i++) {
        snprintf(number, sizeof(number), "6%07zu", i / per_requester);
        snprintf(target, sizeof(target), "5%07zu", i % targets);
        add_callback(&w, (int64_t)i + 1, number, target, CB_TARGET_STATION);
    }
    struct cb_event *evs = xcalloc(targets, sizeof(*evs));
    for (size_t t = 0; t < targets; t++) {
        evs[t].type = CB_EV_STATION_STATE;
        snprintf(evs[t].id, sizeof(evs[t].id), "ev-%zu", t);
        snprintf(evs[t].station, sizeof(evs[t].station), "5%07zu", t);
    }
    struct cb_decisions d;
    cb_decisions_init(&d);
    double t0 = now_s();
    bool began = cb_core_group_begin(&w);
    for (size_t t = 0; t < targets; t++)
        cb_core_on_event(&w, &evs[t], 1700000002000LL, &d);
    cb_core_group_end(&w, began);
    struct figure f = {.iterations = targets,
                       .per_call_s = (now_s() - t0) / (double)targets,
                       .commands = d.n_commands};
    cb_decisions_free(&d);
    free(evs);
    cb_world_free_callbacks(&w);
    free(w.stations);
    free(w.scope_targets);
    return f;
}

static void print_row(const char *what, size_t queue, size_t loaded, const struct figure *f)
{
    printf("| %-8s | %5zu | %6zu | %6zu | %12.2f | %10.1f | %3zu |\n", what, queue, loaded,
           f->iterations, f->per_call_s * 1e6, f->per_call_s * 1e9 / (double)loaded, f->commands);
}

int main(int argc, char **argv)
{
    size_t max_queue = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 5000;
    const size_t sizes[] = {50, 500, 5000};
    printf("| measure  | queue | loaded | calls  | us per call  | ns per cb  | cmd |\n");
    printf("|----------|-------|--------|--------|--------------|------------|-----|\n");
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        if (sizes[i] > max_queue)
            break;
        struct bench_world *b = bench_world_new(sizes[i]);
        struct figure f = bench_schedule(b);
        print_row("schedule", sizes[i], b->w.n_callbacks, &f);
        bench_world_free(b);
        b = bench_world_new(sizes[i]);
        f = bench_idle_event(b);
        print_row("idle", sizes[i], b->w.n_callbacks, &f);
        bench_world_free(b);
        fflush(stdout);
    }
    /* "queue" is the group's events here: per event, each with its own queue of 50. */
    const size_t groups[] = {20, 200, 1000};
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        struct figure f = bench_group(groups[i]);
        print_row("group", groups[i], groups[i] * 50, &f);
        fflush(stdout);
    }
    return 0;
}
