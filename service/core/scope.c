/* The scope rules (scope.h). A decision on a seed concerns:
 *   q   the seed numbers, the target of the current failed attempt of a station setting a
 *       callback on it (as the pool holds it), and the trunk groups that prefix a number
 *       dialed or that target;
 *   s   q and the hunt groups its stations are members of;
 *   c1  the active callbacks of s: set by, waiting on, or ringing one of them (engaged), and
 *       those named by id (so the whole queue of every target in s);
 *   tq  the targets of c1's engaged or named callbacks outside s: the decision may end those
 *       callbacks and free a slot, so the whole queue behind them is scheduled (CB-17, CB-23);
 *   t   the scope: s, tq, and the targets of c1 when a requester of s may become free to be rung
 *       (not `narrow`; or a callback of c1 is engaged and may end) or when the decision is about
 *       a callback named by id; of those, not a station that cannot take a recall now whatever
 *       this decision does (busy, failed over, DND, Make Busy, Attendant Busy-out: CB-11, CB-14,
 *       CB-19), since nothing waiting on it can mature, unless one of its callbacks in c1 is
 *       queued for its console (CB-31: it returns to pending when its target is not free). When
 *       the decision changes no station (`keeps_facts`), that holds for the stations of s too:
 *       such a station is `quiet`, out of t, and its queue is in c1 only to be counted;
 *   c2  the queues of tq, and the engaged callbacks of the rest of t: on a target that only a
 *       requester's becoming free brings into scope, nothing but that requester's callback can
 *       mature (every other waiting callback was scheduled when its own requester or the target
 *       last changed), and only the target's engaged count is needed to decide it (CB-17);
 *   locks s, t and the requesters of c1 and c2: what the decision may change; not the requester
 *       of a callback of c1 that is only counted (waiting on a quiet station, set by a number
 *       outside s, not engaged): the decision neither changes it nor reads more of its
 *       requester, whose station stays out of N;
 *   cb  c1, c2, every engaged callback ringing a requester of those or a console of such a
 *       requester's console group (to know who is already engaged: CB-17, CB-31), and the
 *       callbacks named by id that have ended, so that the core can tell a request on one
 *       "already ended" from "no such callback";
 *   and the stations, trunk groups and hunt groups of every number cb and s name (N): the
 *   stations of N, of the members of the hunt groups in N or that N's stations are members of,
 *   and of the consoles sharing a console group with a console of N; the trunk groups in N
 *   with their lines; the hunt groups in N or that N's stations are members of, with their
 *   members.
 * Each step reads pieces of the pool; a piece it lacks is noted (need) and read as empty, so
 * one pass notes everything the steps after it can already tell; the caller fills those and
 * runs it again until nothing is lacking. */
#include "service/core/scope.h"
#include "service/core/internal.h"

#include <stdlib.h>

void cb_scope_free(struct cb_scope *s)
{
    for (int k = 0; k < CB_PIECES; k++)
        cb_numbers_free(&s->need[k]);
    free(s->need_ids);
    cb_numbers_free(&s->targets);
    cb_numbers_free(&s->locks);
    cb_numbers_free(&s->used);
    cb_numbers_free(&s->stations);
    cb_numbers_free(&s->trunk_groups);
    cb_numbers_free(&s->hunt_groups);
    cb_numbers_free(&s->quiet);
    free(s->rows);
    memset(s, 0, sizeof(*s));
}

bool cb_scope_lacking(const struct cb_scope *s)
{
    for (int k = 0; k < CB_PIECES; k++)
        if (s->need[k].n)
            return true;
    return s->n_need_ids > 0;
}

/* A callback set: pool rows, each once (a row is an index into the pool). */
struct rowset {
    size_t *rows;
    size_t n, cap;
    struct cb_slots slots; /* positions in `rows`, by row */
};

static uint64_t row_mix(size_t row)
{
    return (uint64_t)row * 11400714819323198485ULL >> 17;
}

static uint64_t rowset_hash(const void *ctx, size_t pos)
{
    return row_mix(((const struct rowset *)ctx)->rows[pos]);
}

static bool rowset_is(const void *ctx, size_t pos, const void *key)
{
    return ((const struct rowset *)ctx)->rows[pos] == *(const size_t *)key;
}

static bool rows_has(const struct rowset *s, size_t row)
{
    return cb_slots_find(&s->slots, row_mix(row), rowset_is, s, &row) != SIZE_MAX;
}

static void rows_add(struct rowset *s, size_t row, bool *oom)
{
    if (rows_has(s, row))
        return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        size_t *rows = realloc(s->rows, cap * sizeof(*rows));
        if (!rows) {
            *oom = true;
            return;
        }
        s->rows = rows;
        s->cap = cap;
    }
    s->rows[s->n] = row;
    if (!cb_slots_put(&s->slots, s->n, s->n + 1, rowset_hash, s)) {
        *oom = true;
        return;
    }
    s->n++;
}

static void rows_free(struct rowset *s)
{
    free(s->rows);
    cb_slots_free(&s->slots);
    memset(s, 0, sizeof(*s));
}

static bool engaged(const struct cb_callback *c)
{
    return c->state == CB_STATE_NOTIFYING || c->state == CB_STATE_RECALLING;
}

static bool active(const struct cb_callback *c)
{
    return c->ended_at == 0;
}

/* One pass of the rules over the pool. */
struct pass {
    const struct cb_pool *pool;
    struct cb_scope *out;
    bool oom;
};

/* The STATION piece of `number`, noted as read (or as lacking: then NULL). */
static bool facts(struct pass *ps, const char *number, struct cb_number_facts *f)
{
    uint64_t version;
    if (!number || !*number)
        return false;
    if (!cb_pool_known(ps->pool, number, CB_PIECE_STATION, &version)) {
        cb_numbers_add(&ps->out->need[CB_PIECE_STATION], number, &ps->oom);
        return false;
    }
    cb_numbers_add_version(&ps->out->used, number, version, &ps->oom);
    return cb_pool_facts(ps->pool, number, f);
}

enum role { ROLE_ANY, ROLE_REQUESTER_OR_TARGET, ROLE_TARGET, ROLE_NOTIFIED };

/* Adds to `set` the callbacks of the `piece` of `number` that have `role` for it. */
static void callbacks_of(struct pass *ps, const char *number, enum cb_piece piece, enum role role,
                         struct rowset *set)
{
    uint64_t version;
    const size_t *rows;
    size_t n;
    if (!number || !*number)
        return;
    if (!cb_pool_known(ps->pool, number, piece, &version) ||
        !cb_pool_rows(ps->pool, number, piece, &rows, &n)) {
        cb_numbers_add(&ps->out->need[piece], number, &ps->oom);
        return;
    }
    cb_numbers_add_version(&ps->out->used, number, version, &ps->oom);
    for (size_t i = 0; i < n; i++) {
        const struct cb_callback *c = cb_pool_row(ps->pool, rows[i]);
        bool match = active(c) && (piece != CB_PIECE_ENGAGED || engaged(c));
        if (role == ROLE_TARGET)
            match = match && cb_streq(c->target, number);
        else if (role == ROLE_NOTIFIED)
            match = match && cb_streq(c->notify_station, number);
        else if (role == ROLE_REQUESTER_OR_TARGET)
            match = match && (cb_streq(c->requester, number) || cb_streq(c->target, number));
        if (match)
            rows_add(set, rows[i], &ps->oom);
    }
}

/* The callback named `id`: its row, or CB_POOL_NONE (none has the id, or noted as lacking). */
static size_t named(struct pass *ps, const char *id)
{
    uint64_t version;
    size_t row = cb_pool_named(ps->pool, id, &version);
    if (row == CB_POOL_MISSING)
        return CB_POOL_NONE;
    if (row == CB_POOL_NONE) {
        struct cb_scope *o = ps->out;
        char(*more)[CB_ID_MAX] = realloc(o->need_ids, (o->n_need_ids + 1) * sizeof(*more));
        if (!more) {
            ps->oom = true;
            return CB_POOL_NONE;
        }
        o->need_ids = more;
        CB_COPY(o->need_ids[o->n_need_ids++], id);
        return row;
    }
    /* Its version is its requester's (any change of an active callback bumps its requester). */
    cb_numbers_add_version(&ps->out->used, cb_pool_row(ps->pool, row)->requester, version,
                           &ps->oom);
    return row;
}

/* Whether the number of facts `f` (not a station counts as free) could take a recall now
 * (CB-11, CB-14, CB-19). */
static bool can_take_recall(const struct cb_number_facts *f)
{
    if (!f->station)
        return true;
    const struct cb_station_state *st = &f->station->state;
    return !(st->busy || st->failed_over || st->dnd || st->make_busy || st->attendant_busy_out);
}

/* The same of the station `number`; one whose facts are not known yet counts as free. */
static bool station_free(struct pass *ps, const char *number)
{
    struct cb_number_facts f;
    return !facts(ps, number, &f) || can_take_recall(&f);
}

/* Whether the number `n` of s is scheduled (in t): always, unless the decision changes no
 * station and `n` is a station not known to be able to take a recall now, with no callback
 * queued for a console in `queued` (the targets of such callbacks in c1). */
static bool seed_scheduled(struct pass *ps, const struct cb_scope_seed *seed, const char *n,
                           const struct cb_numbers *queued)
{
    struct cb_number_facts f;
    if (!seed->keeps_facts || cb_numbers_has(queued, n))
        return true;
    return facts(ps, n, &f) && can_take_recall(&f);
}

/* Adds to `q` the trunk groups that prefix the number `dialed`. */
static void dialed_prefixes(struct pass *ps, const char *dialed, struct cb_numbers *q)
{
    char prefix[CB_NUMBER_MAX];
    size_t len = strlen(dialed);
    for (size_t k = 1; k <= len && k < CB_NUMBER_MAX; k++) {
        memcpy(prefix, dialed, k);
        prefix[k] = '\0';
        struct cb_number_facts f;
        if (facts(ps, prefix, &f) && f.trunk_group)
            cb_numbers_add(q, prefix, &ps->oom);
    }
}

/* s: q and the hunt groups its stations are members of. */
static void seed_numbers(struct pass *ps, const struct cb_scope_seed *seed, struct cb_numbers *s)
{
    struct cb_numbers q = {0};
    for (int i = 0; i < seed->n_numbers; i++)
        cb_numbers_add(&q, seed->numbers[i], &ps->oom);
    for (int i = 0; i < seed->n_dialed; i++)
        dialed_prefixes(ps, seed->dialed[i], &q);
    for (int i = 0; i < seed->n_attempts_of; i++) {
        struct cb_number_facts f;
        if (!facts(ps, seed->attempts_of[i], &f) || !f.station ||
            f.station->attempt == CB_ATTEMPT_NONE || !f.station->attempt_to[0])
            continue;
        cb_numbers_add(&q, f.station->attempt_to, &ps->oom);
        dialed_prefixes(ps, f.station->attempt_to, &q);
    }
    for (size_t i = 0; i < q.n; i++) {
        cb_numbers_add(s, q.v[i], &ps->oom);
        struct cb_number_facts f;
        if (facts(ps, q.v[i], &f))
            for (size_t k = 0; k < f.n_member_of; k++)
                cb_numbers_add(s, f.member_of[k], &ps->oom);
    }
    cb_numbers_free(&q);
}

/* cb, and the rows of it that are only counted (their requester is not read: `counted`). */
static void callbacks_in_scope(struct pass *ps, const struct cb_scope_seed *seed,
                               const struct cb_numbers *s, struct rowset *cb,
                               struct rowset *counted)
{
    struct cb_scope *o = ps->out;
    struct rowset c1 = {0}, c2 = {0};
    for (size_t i = 0; i < s->n; i++) {
        callbacks_of(ps, s->v[i], CB_PIECE_QUEUES, ROLE_REQUESTER_OR_TARGET, &c1);
        callbacks_of(ps, s->v[i], CB_PIECE_ENGAGED, ROLE_NOTIFIED, &c1);
    }
    struct rowset named_rows = {0};
    for (int i = 0; i < seed->n_callback_ids; i++) {
        size_t row = named(ps, seed->callback_ids[i]);
        if (row != CB_POOL_NONE)
            rows_add(&named_rows, row, &ps->oom);
    }
    for (size_t i = 0; i < named_rows.n; i++)
        if (active(cb_pool_row(ps->pool, named_rows.rows[i])))
            rows_add(&c1, named_rows.rows[i], &ps->oom);

    /* tq, and whether the targets of c1 come into scope */
    struct cb_numbers tq = {0}, queued = {0};
    bool widen = !seed->narrow || seed->n_callback_ids > 0;
    for (size_t i = 0; i < c1.n; i++) {
        const struct cb_callback *c = cb_pool_row(ps->pool, c1.rows[i]);
        bool is_named = rows_has(&named_rows, c1.rows[i]);
        widen = widen || engaged(c);
        if ((engaged(c) || is_named) && !cb_numbers_has(s, c->target))
            cb_numbers_add(&tq, c->target, &ps->oom);
        if (c->state == CB_STATE_QUEUED)
            cb_numbers_add(&queued, c->target, &ps->oom);
    }
    for (size_t i = 0; i < s->n; i++)
        cb_numbers_add(seed_scheduled(ps, seed, s->v[i], &queued) ? &o->targets : &o->quiet,
                       s->v[i], &ps->oom);
    for (size_t i = 0; i < tq.n; i++)
        cb_numbers_add(&o->targets, tq.v[i], &ps->oom);
    o->wide = widen;
    if (widen) {
        struct cb_numbers seen = {0};
        for (size_t i = 0; i < c1.n; i++) {
            const char *g = cb_pool_row(ps->pool, c1.rows[i])->target;
            if (cb_numbers_add(&seen, g, &ps->oom) && !cb_numbers_has(&o->targets, g) &&
                !cb_numbers_has(&o->quiet, g) &&
                (cb_numbers_has(&queued, g) || station_free(ps, g)))
                cb_numbers_add(&o->targets, g, &ps->oom);
        }
        cb_numbers_free(&seen);
    }
    cb_numbers_free(&queued);
    /* Counted: waiting on a quiet station, set by a number outside s, not engaged. */
    for (size_t i = 0; i < c1.n; i++) {
        const struct cb_callback *c = cb_pool_row(ps->pool, c1.rows[i]);
        if (cb_numbers_has(&o->quiet, c->target) && !cb_numbers_has(s, c->requester) &&
            !engaged(c) && !rows_has(&named_rows, c1.rows[i]))
            rows_add(counted, c1.rows[i], &ps->oom);
    }

    /* c2 */
    for (size_t i = 0; i < tq.n; i++)
        callbacks_of(ps, tq.v[i], CB_PIECE_QUEUES, ROLE_TARGET, &c2);
    for (size_t i = 0; i < o->targets.n; i++)
        if (!cb_numbers_has(s, o->targets.v[i]) && !cb_numbers_has(&tq, o->targets.v[i]))
            callbacks_of(ps, o->targets.v[i], CB_PIECE_ENGAGED, ROLE_TARGET, &c2);

    /* locks: s, t and the requesters (r); p: r and the consoles of its consoles' groups */
    struct cb_numbers r = {0}, p = {0};
    for (size_t i = 0; i < s->n; i++)
        cb_numbers_add(&o->locks, s->v[i], &ps->oom);
    for (size_t i = 0; i < o->targets.n; i++)
        cb_numbers_add(&o->locks, o->targets.v[i], &ps->oom);
    for (size_t i = 0; i < c1.n + c2.n; i++) {
        size_t row = i < c1.n ? c1.rows[i] : c2.rows[i - c1.n];
        rows_add(cb, row, &ps->oom);
        if (rows_has(counted, row))
            continue;
        const char *req = cb_pool_row(ps->pool, row)->requester;
        cb_numbers_add(&o->locks, req, &ps->oom);
        cb_numbers_add(&r, req, &ps->oom);
    }
    for (size_t i = 0; i < r.n; i++) {
        cb_numbers_add(&p, r.v[i], &ps->oom);
        struct cb_number_facts f;
        if (facts(ps, r.v[i], &f) && f.station && f.station->kind == CB_KIND_CONSOLE)
            for (size_t k = 0; k < f.n_consoles; k++)
                cb_numbers_add(&p, f.consoles[k], &ps->oom);
    }
    for (size_t i = 0; i < p.n; i++)
        callbacks_of(ps, p.v[i], CB_PIECE_ENGAGED, ROLE_NOTIFIED, cb);
    for (size_t i = 0; i < named_rows.n; i++)
        if (!active(cb_pool_row(ps->pool, named_rows.rows[i])))
            rows_add(cb, named_rows.rows[i], &ps->oom);
    rows_free(&c1);
    rows_free(&c2);
    rows_free(&named_rows);
    cb_numbers_free(&tq);
    cb_numbers_free(&r);
    cb_numbers_free(&p);
}

/* The stations, trunk groups and hunt groups of N. */
static void groups_and_stations(struct pass *ps, const struct cb_numbers *n)
{
    struct cb_scope *o = ps->out;
    struct cb_numbers more = {0}, hunts = {0};
    for (size_t i = 0; i < n->n; i++) {
        cb_numbers_add(&more, n->v[i], &ps->oom);
        cb_numbers_add(&hunts, n->v[i], &ps->oom);
        struct cb_number_facts f;
        if (!facts(ps, n->v[i], &f))
            continue;
        if (f.trunk_group)
            cb_numbers_add(&o->trunk_groups, n->v[i], &ps->oom);
        for (size_t k = 0; k < f.n_member_of; k++)
            cb_numbers_add(&hunts, f.member_of[k], &ps->oom);
        if (f.station && f.station->kind == CB_KIND_CONSOLE)
            for (size_t k = 0; k < f.n_consoles; k++)
                cb_numbers_add(&more, f.consoles[k], &ps->oom);
    }
    for (size_t i = 0; i < hunts.n; i++) {
        struct cb_number_facts f;
        if (!facts(ps, hunts.v[i], &f) || !f.hunt_group)
            continue;
        cb_numbers_add(&o->hunt_groups, hunts.v[i], &ps->oom);
        for (size_t k = 0; k < f.hunt_group->n_members; k++)
            cb_numbers_add(&more, f.hunt_group->members[k], &ps->oom);
    }
    for (size_t i = 0; i < more.n; i++) {
        struct cb_number_facts f;
        if (facts(ps, more.v[i], &f) && f.station)
            cb_numbers_add(&o->stations, more.v[i], &ps->oom);
    }
    cb_numbers_free(&more);
    cb_numbers_free(&hunts);
}

struct by_seq {
    int64_t seq;
    size_t row;
};

static int seq_order(const void *a, const void *b)
{
    int64_t x = ((const struct by_seq *)a)->seq, y = ((const struct by_seq *)b)->seq;
    return (x > y) - (x < y);
}

/* The rows of `set` into out->rows, in seq order (the queue order, CB-17). */
static void rows_in_seq_order(struct pass *ps, const struct rowset *set)
{
    if (!set->n)
        return;
    struct by_seq *v = malloc(set->n * sizeof(*v));
    ps->out->rows = malloc(set->n * sizeof(*ps->out->rows));
    if (!v || !ps->out->rows) {
        free(v);
        ps->oom = true;
        return;
    }
    for (size_t i = 0; i < set->n; i++)
        v[i] = (struct by_seq){cb_pool_row(ps->pool, set->rows[i])->seq, set->rows[i]};
    qsort(v, set->n, sizeof(*v), seq_order);
    for (size_t i = 0; i < set->n; i++)
        ps->out->rows[i] = v[i].row;
    ps->out->n_rows = ps->out->cap_rows = set->n;
    free(v);
}

bool cb_core_scope(const struct cb_pool *p, const struct cb_scope_seed *seed, struct cb_scope *out)
{
    cb_scope_free(out);
    struct pass ps = {.pool = p, .out = out};
    struct cb_numbers s = {0}, n = {0};
    struct rowset cb = {0}, counted = {0};
    seed_numbers(&ps, seed, &s);
    callbacks_in_scope(&ps, seed, &s, &cb, &counted);
    for (size_t i = 0; i < s.n; i++)
        cb_numbers_add(&n, s.v[i], &ps.oom);
    for (size_t i = 0; i < cb.n; i++) {
        const struct cb_callback *c = cb_pool_row(p, cb.rows[i]);
        cb_numbers_add(&n, c->target, &ps.oom);
        if (rows_has(&counted, cb.rows[i]))
            continue;
        cb_numbers_add(&n, c->requester, &ps.oom);
        cb_numbers_add(&n, c->notify_station, &ps.oom);
    }
    groups_and_stations(&ps, &n);
    cb_numbers_sort(&out->stations);
    cb_numbers_sort(&out->trunk_groups);
    cb_numbers_sort(&out->hunt_groups);
    rows_in_seq_order(&ps, &cb);
    rows_free(&cb);
    rows_free(&counted);
    cb_numbers_free(&s);
    cb_numbers_free(&n);
    return !ps.oom;
}
