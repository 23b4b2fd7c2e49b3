/* The per-decision index of the world: hash tables from numbers and ids to array positions, so
 * that a lookup costs the same with 1,000 or 1,000,000 callbacks loaded.
 *
 * Each public entry point of the core opens the index on its stack (cb_index_open) and closes
 * it before it returns (cb_index_close), which frees every table: nothing outlives a decision,
 * whoever built the world (tests on the stack, db_world_load on the heap). A table is built at
 * its first lookup, from the world as it is then; during a decision the core never changes a
 * number or an id and never adds a station or a group, and cb_world_add_callback() records each
 * new callback in the callback tables already built. Between decisions the index is closed and
 * the lookups scan (world.c), so callers may change the world freely. */
#include "service/core/internal.h"

#include <stdlib.h>

/* Room for `n` keys at most half full, a power of two so that a mask picks the slot. */
static size_t capacity_for(size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n + 2)
        cap *= 2;
    return cap;
}

/* FNV-1a, 64 bits: short directory numbers and UUIDs spread well enough for linear probing. */
static uint64_t hash_more(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

uint64_t cb_hash_text(const char *s)
{
    return hash_more(14695981039346656037ULL, s);
}

static uint64_t hash_key(const char *key, const char *key2)
{
    uint64_t h = cb_hash_text(key);
    if (key2) {
        h ^= 0xff; /* no digit: "1"+"23" and "12"+"3" differ */
        h *= 1099511628211ULL;
        h = hash_more(h, key2);
    }
    return h;
}

/* The key(s) of the element at `pos` of the array a table indexes. */
static const char *key_of(const struct cb_world *w, enum cb_index_kind kind, size_t pos,
                          const char **key2)
{
    *key2 = NULL;
    switch (kind) {
    case CB_INDEX_STATIONS:
        return w->stations[pos].number;
    case CB_INDEX_CONSOLES:
        return w->stations[pos].console_group;
    case CB_INDEX_TRUNK_GROUPS:
        return w->trunk_groups[pos].number;
    case CB_INDEX_HUNT_GROUPS:
        return w->hunt_groups[pos].number;
    case CB_INDEX_CALLBACKS:
        return w->callbacks[pos].id;
    case CB_INDEX_PAIRS:
        *key2 = w->callbacks[pos].target;
        return w->callbacks[pos].requester;
    case CB_INDEX_SCOPE:
        return w->scope_targets[pos];
    case CB_INDEX_TARGETS:
        return w->callbacks[pos].target;
    case CB_INDEX_NOTIFIED:
        return w->callbacks[pos].notify_station;
    case CB_INDEX_KINDS:
        break;
    }
    return "";
}

static size_t array_length(const struct cb_world *w, enum cb_index_kind kind)
{
    switch (kind) {
    case CB_INDEX_STATIONS:
    case CB_INDEX_CONSOLES:
        return w->n_stations;
    case CB_INDEX_TRUNK_GROUPS:
        return w->n_trunk_groups;
    case CB_INDEX_HUNT_GROUPS:
        return w->n_hunt_groups;
    case CB_INDEX_CALLBACKS:
    case CB_INDEX_PAIRS:
    case CB_INDEX_TARGETS:
    case CB_INDEX_NOTIFIED:
        return w->n_callbacks;
    case CB_INDEX_SCOPE:
        return w->n_scope_targets;
    case CB_INDEX_KINDS:
        break;
    }
    return 0;
}

/* CB-31: only consoles take part in a console group's rerouting. */
static bool indexed(const struct cb_world *w, enum cb_index_kind kind, size_t pos)
{
    return kind != CB_INDEX_CONSOLES || w->stations[pos].kind == CB_KIND_CONSOLE;
}

/* Places `pos` in the first free slot of its probe sequence; equal keys may repeat. */
static void table_put(struct cb_index_table *t, uint64_t hash, size_t pos)
{
    size_t mask = t->cap - 1;
    size_t i = (size_t)hash & mask;
    while (t->slots[i].pos1)
        i = (i + 1) & mask;
    t->slots[i].hash = hash;
    t->slots[i].pos1 = pos + 1;
    t->n++;
}

/* Out of memory aborts, as grow() in world.c does. */
static void table_alloc(struct cb_index_table *t, size_t cap)
{
    t->slots = calloc(cap, sizeof(*t->slots));
    if (!t->slots)
        abort();
    t->cap = cap;
    t->n = 0;
}

static void table_build(const struct cb_world *w, enum cb_index_kind kind)
{
    struct cb_index_table *t = &w->index->tables[kind];
    size_t n = array_length(w, kind);
    table_alloc(t, capacity_for(n));
    for (size_t pos = 0; pos < n; pos++) {
        if (!indexed(w, kind, pos))
            continue;
        const char *key2;
        const char *key = key_of(w, kind, pos, &key2);
        table_put(t, hash_key(key, key2), pos);
    }
    t->built = true;
}

/* Doubles the table when it is half full. */
static void table_make_room(struct cb_index_table *t)
{
    if (2 * (t->n + 1) <= t->cap)
        return;
    struct cb_index_table old = *t;
    table_alloc(t, old.cap * 2);
    for (size_t i = 0; i < old.cap; i++)
        if (old.slots[i].pos1)
            table_put(t, old.slots[i].hash, old.slots[i].pos1 - 1);
    free(old.slots);
}

bool cb_index_open(struct cb_world *w, struct cb_world_index *idx)
{
    if (w->index)
        return false; /* an outer entry point owns it */
    memset(idx, 0, sizeof(*idx));
    w->index = idx;
    return true;
}

bool cb_core_group_begin(struct cb_world *w)
{
    if (w->index)
        return false;
    struct cb_world_index *idx = malloc(sizeof(*idx));
    if (!idx)
        abort(); /* as grow() in world.c */
    return cb_index_open(w, idx);
}

void cb_core_group_end(struct cb_world *w, bool began)
{
    struct cb_world_index *idx = w->index;
    if (!began || !idx)
        return;
    cb_index_close(w, true);
    free(idx);
}

/* Appends `pos`, doubling the array as needed. */
static void positions_push(struct cb_positions *ps, size_t pos)
{
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? 2 * ps->cap : 16;
        size_t *more = realloc(ps->pos, cap * sizeof(*more));
        if (!more)
            abort(); /* as grow() in world.c */
        ps->pos = more;
        ps->cap = cap;
    }
    ps->pos[ps->n++] = pos;
}

void cb_index_log(struct cb_world *w, enum cb_change_kind kind, size_t pos)
{
    if (!w->index)
        return;
    static const enum cb_index_kind arrays[CB_CHANGE_KINDS] = {
        CB_INDEX_STATIONS, CB_INDEX_CALLBACKS, CB_INDEX_TRUNK_GROUPS};
    if (pos >= array_length(w, arrays[kind]))
        abort(); /* a mark of something outside the world: a bug of the core */
    positions_push(&w->index->log[kind], pos);
}

void cb_index_close(struct cb_world *w, bool opened)
{
    if (!opened || !w->index)
        return;
    for (size_t k = 0; k < CB_INDEX_KINDS; k++)
        free(w->index->tables[k].slots);
    for (size_t k = 0; k < CB_CHANGE_KINDS; k++)
        free(w->index->log[k].pos);
    cb_schedule_memory_free(w->index->schedule);
    free(w->index->queue);
    memset(w->index, 0, sizeof(*w->index));
    w->index = NULL;
}

/* CB-17: by seq (first set, first served), then by position in the world. */
static int queue_order(const void *a, const void *b)
{
    const struct cb_queued *x = a, *y = b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Appends callback `pos` to the queue when it is active on a scope target. */
static void queue_put(struct cb_world *w, size_t pos)
{
    struct cb_world_index *idx = w->index;
    const struct cb_callback *c = &w->callbacks[pos];
    if (!cb_callback_active(c))
        return;
    size_t scope = cb_index_first(w, CB_INDEX_SCOPE, c->target);
    if (scope == CB_NOWHERE)
        return;
    if (idx->n_queue == idx->cap_queue) {
        size_t cap = idx->cap_queue ? 2 * idx->cap_queue : 64;
        struct cb_queued *q = realloc(idx->queue, cap * sizeof(*q));
        if (!q)
            abort(); /* as grow() in world.c */
        idx->queue = q;
        idx->cap_queue = cap;
    }
    const struct cb_station *req = cb_world_station(w, c->requester);
    idx->queue[idx->n_queue++] = (struct cb_queued){
        .seq = c->seq,
        .pos = pos,
        .scope = scope,
        .requester = req ? (size_t)(req - w->stations) : CB_NOWHERE,
    };
}

const struct cb_queued *cb_index_queue(struct cb_world *w, size_t *n)
{
    *n = 0;
    if (!w->index)
        return NULL;
    struct cb_world_index *idx = w->index;
    if (!idx->queue_built) {
        idx->n_queue = 0;
        for (size_t pos = 0; pos < w->n_callbacks; pos++)
            queue_put(w, pos);
        if (idx->n_queue > 1)
            qsort(idx->queue, idx->n_queue, sizeof(*idx->queue), queue_order);
        idx->queue_built = true;
        idx->queue_builds++;
    }
    *n = idx->n_queue;
    return idx->queue;
}

void cb_index_add_callback(struct cb_world *w, size_t pos)
{
    if (!w->index)
        return;
    struct cb_world_index *idx = w->index;
    if (idx->queue_built) {
        /* A new callback queues last (its seq is above every stored one): appended in order,
         * else the queue is sorted again at the next scheduling. */
        size_t before = idx->n_queue;
        queue_put(w, pos);
        if (idx->n_queue > before && before > 0 &&
            queue_order(&idx->queue[before - 1], &idx->queue[before]) > 0)
            idx->queue_built = false;
    }
    const enum cb_index_kind kinds[] = {CB_INDEX_CALLBACKS, CB_INDEX_PAIRS, CB_INDEX_TARGETS,
                                        CB_INDEX_NOTIFIED};
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
        cb_index_rekey(w, kinds[k], pos);
}

/* The old entry stays under the old key: lookups compare the current key, so it no longer
 * matches there (and a position found twice is dropped by cb_positions_sort). */
void cb_index_rekey(struct cb_world *w, enum cb_index_kind kind, size_t pos)
{
    if (!w->index)
        return;
    struct cb_index_table *t = &w->index->tables[kind];
    if (!t->built)
        return; /* built later from the whole array, this one as it is then */
    table_make_room(t);
    const char *key2;
    const char *key = key_of(w, kind, pos, &key2);
    table_put(t, hash_key(key, key2), pos);
}

void cb_positions_add(struct cb_world *w, struct cb_positions *ps, enum cb_index_kind kind,
                      const char *key)
{
    struct cb_index_iter it;
    bool open = cb_index_start(w, kind, key, NULL, &it);
    for (size_t i = 0;; i++) {
        size_t pos = open ? cb_index_next(&it) : i < w->n_callbacks ? i : CB_NOWHERE;
        if (pos == CB_NOWHERE)
            return;
        positions_push(ps, pos);
    }
}

static int position_order(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

void cb_positions_sort(struct cb_positions *ps)
{
    if (ps->n < 2)
        return;
    qsort(ps->pos, ps->n, sizeof(*ps->pos), position_order);
    size_t kept = 1;
    for (size_t i = 1; i < ps->n; i++)
        if (ps->pos[i] != ps->pos[kept - 1])
            ps->pos[kept++] = ps->pos[i];
    ps->n = kept;
}

void cb_positions_free(struct cb_positions *ps)
{
    free(ps->pos);
    memset(ps, 0, sizeof(*ps));
}

bool cb_index_start(const struct cb_world *w, enum cb_index_kind kind, const char *key,
                    const char *key2, struct cb_index_iter *it)
{
    if (!w->index)
        return false;
    if (!w->index->tables[kind].built)
        table_build(w, kind);
    it->w = w;
    it->kind = kind;
    it->key = key;
    it->key2 = key2;
    it->hash = hash_key(key, key2);
    it->slot = (size_t)it->hash & (w->index->tables[kind].cap - 1);
    return true;
}

size_t cb_index_next(struct cb_index_iter *it)
{
    const struct cb_index_table *t = &it->w->index->tables[it->kind];
    size_t mask = t->cap - 1;
    for (; t->slots[it->slot].pos1; it->slot = (it->slot + 1) & mask) {
        const struct cb_index_slot *s = &t->slots[it->slot];
        if (s->hash != it->hash)
            continue;
        size_t pos = s->pos1 - 1;
        const char *key2;
        const char *key = key_of(it->w, it->kind, pos, &key2);
        if (cb_streq(key, it->key) && (!it->key2 || cb_streq(key2, it->key2))) {
            it->slot = (it->slot + 1) & mask;
            return pos;
        }
    }
    return CB_NOWHERE;
}

size_t cb_index_first(const struct cb_world *w, enum cb_index_kind kind, const char *key)
{
    struct cb_index_iter it;
    if (!cb_index_start(w, kind, key, NULL, &it))
        return CB_NOWHERE;
    size_t first = CB_NOWHERE;
    for (size_t pos; (pos = cb_index_next(&it)) != CB_NOWHERE;)
        if (pos < first)
            first = pos;
    return first;
}
