/* The pool of facts kept between decisions (pool.h): numbers with their pieces, callback rows
 * shared by id. It only grows until it is cleared (cb_pool_over tells when): a row no piece
 * lists any more stays until then, which keeps every position valid for a whole decision. */
#include "service/core/internal.h"
#include "service/core/pool.h"

#include <stdlib.h>

size_t cb_slots_find(const struct cb_slots *t, uint64_t hash,
                     bool (*is)(const void *ctx, size_t pos, const void *key), const void *ctx,
                     const void *key)
{
    if (!t->cap)
        return SIZE_MAX;
    size_t mask = t->cap - 1;
    for (size_t i = (size_t)hash & mask; t->slot[i]; i = (i + 1) & mask)
        if (is(ctx, t->slot[i] - 1, key))
            return t->slot[i] - 1;
    return SIZE_MAX;
}

/* Puts `pos` in the first empty slot of its probe sequence. */
static void slots_place(struct cb_slots *t, uint64_t hash, size_t pos)
{
    size_t mask = t->cap - 1;
    size_t i = (size_t)hash & mask;
    while (t->slot[i])
        i = (i + 1) & mask;
    t->slot[i] = pos + 1;
}

bool cb_slots_put(struct cb_slots *t, size_t pos, size_t count,
                  uint64_t (*hash_at)(const void *ctx, size_t pos), const void *ctx)
{
    if (2 * count > t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 32;
        while (2 * count > cap)
            cap *= 2;
        size_t *slot = calloc(cap, sizeof(*slot));
        if (!slot)
            return false;
        struct cb_slots old = *t;
        *t = (struct cb_slots){.slot = slot, .cap = cap};
        for (size_t i = 0; i < old.cap; i++)
            if (old.slot[i])
                slots_place(t, hash_at(ctx, old.slot[i] - 1), old.slot[i] - 1);
        free(old.slot);
    }
    slots_place(t, hash_at(ctx, pos), pos);
    return true;
}

void cb_slots_clear(struct cb_slots *t)
{
    for (size_t i = 0; i < t->cap; i++)
        t->slot[i] = 0;
}

void cb_slots_free(struct cb_slots *t)
{
    free(t->slot);
    *t = (struct cb_slots){0};
}

static uint64_t number_hash(const void *ctx, size_t pos)
{
    return cb_hash_text(((const struct cb_numbers *)ctx)->v[pos]);
}

static bool number_is(const void *ctx, size_t pos, const void *key)
{
    return cb_streq(((const struct cb_numbers *)ctx)->v[pos], key);
}

void cb_numbers_free(struct cb_numbers *s)
{
    free(s->v);
    free(s->version);
    cb_slots_free(&s->slots);
    memset(s, 0, sizeof(*s));
}

bool cb_numbers_has(const struct cb_numbers *s, const char *number)
{
    return cb_numbers_find(s, number) != SIZE_MAX;
}

size_t cb_numbers_find(const struct cb_numbers *s, const char *number)
{
    return cb_slots_find(&s->slots, cb_hash_text(number), number_is, s, number);
}

bool cb_numbers_add_version(struct cb_numbers *s, const char *number, uint64_t version, bool *oom)
{
    if (!number || !*number)
        return false;
    size_t pos = cb_numbers_find(s, number);
    if (pos != SIZE_MAX) {
        if (s->version[pos] != version)
            s->version[pos] = CB_VERSION_MIXED;
        return false;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        char(*v)[CB_NUMBER_MAX] = realloc(s->v, cap * sizeof(*v));
        if (v)
            s->v = v;
        uint64_t *ver = realloc(s->version, cap * sizeof(*ver));
        if (ver)
            s->version = ver;
        if (!v || !ver) {
            *oom = true;
            return false;
        }
        s->cap = cap;
    }
    CB_COPY(s->v[s->n], number);
    s->version[s->n] = version;
    if (!cb_slots_put(&s->slots, s->n, s->n + 1, number_hash, s)) {
        *oom = true;
        return false;
    }
    s->n++;
    return true;
}

bool cb_numbers_add(struct cb_numbers *s, const char *number, bool *oom)
{
    return cb_numbers_add_version(s, number, 0, oom);
}

static int number_order(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

void cb_numbers_sort(struct cb_numbers *s)
{
    if (s->n == 0)
        return;
    qsort(s->v, s->n, sizeof(*s->v), number_order);
    cb_slots_clear(&s->slots);
    for (size_t i = 0; i < s->n; i++)
        (void)cb_slots_put(&s->slots, i, s->n, number_hash, s); /* the room is there */
}

/* A number and its pieces. */
struct pool_number {
    char number[CB_NUMBER_MAX];
    unsigned known; /* bit per enum cb_piece */
    uint64_t version[CB_PIECES];
    /* STATION */
    bool has_station, has_trunk_group, has_hunt_group;
    struct cb_station station;
    struct cb_trunk_group trunk_group; /* lines owned */
    struct cb_hunt_group hunt_group;   /* members owned */
    char (*member_of)[CB_NUMBER_MAX];
    size_t n_member_of;
    char (*consoles)[CB_NUMBER_MAX];
    size_t n_consoles;
    /* ENGAGED, QUEUES: rows */
    size_t *rows[CB_PIECES];
    size_t n_rows[CB_PIECES];
};

struct pool_row {
    struct cb_callback cb;
    bool named;
    uint64_t named_version;
};

struct cb_pool {
    size_t max_numbers, max_rows;
    bool has_global;
    uint64_t global;
    bool has_options; /* the system options, read at `global` (another one clears them) */
    struct cb_options options;
    /* In chunks of POOL_CHUNK, never moved: no copy of the whole while it grows, and no block
     * the size of the pool to find (a group of events may read thousands of callbacks). */
    struct pool_number **numbers;
    size_t n_numbers, cap_number_chunks;
    struct pool_row **rows;
    size_t n_rows, cap_row_chunks;
    struct cb_slots by_number, by_id;
    size_t *named; /* rows named for this decision */
    size_t n_named, cap_named;
    char (*missing)[CB_ID_MAX]; /* ids named for this decision that no callback has */
    size_t n_missing, cap_missing;
};

#define POOL_CHUNK 256

static struct pool_number *number_at(const struct cb_pool *p, size_t i)
{
    return &p->numbers[i / POOL_CHUNK][i % POOL_CHUNK];
}

static struct pool_row *row_at(const struct cb_pool *p, size_t i)
{
    return &p->rows[i / POOL_CHUNK][i % POOL_CHUNK];
}

/* Room for element `n` (the next one) in an array of chunks of `size`-byte elements. */
static bool chunk_room(void ***chunks, size_t *cap_chunks, size_t n, size_t size)
{
    size_t chunk = n / POOL_CHUNK;
    if (n % POOL_CHUNK)
        return true;
    if (chunk == *cap_chunks) {
        size_t cap = *cap_chunks ? 2 * *cap_chunks : 8;
        void **more = realloc(*chunks, cap * sizeof(*more));
        if (!more)
            return false;
        *chunks = more;
        *cap_chunks = cap;
    }
    (*chunks)[chunk] = malloc(POOL_CHUNK * size);
    return (*chunks)[chunk] != NULL;
}

static uint64_t number_entry_hash(const void *ctx, size_t pos)
{
    return cb_hash_text(number_at(ctx, pos)->number);
}

static bool number_entry_is(const void *ctx, size_t pos, const void *key)
{
    return cb_streq(number_at(ctx, pos)->number, key);
}

static uint64_t row_hash(const void *ctx, size_t pos)
{
    return cb_hash_text(row_at(ctx, pos)->cb.id);
}

static bool row_is(const void *ctx, size_t pos, const void *key)
{
    return cb_streq(row_at(ctx, pos)->cb.id, key);
}

/* The row of the callback `id`; CB_POOL_NONE when the pool has none. */
static size_t row_by_id(const struct cb_pool *p, const char *id)
{
    size_t r = id ? cb_slots_find(&p->by_id, cb_hash_text(id), row_is, p, id) : SIZE_MAX;
    return r == SIZE_MAX ? CB_POOL_NONE : r;
}

/* Grows an array to hold `need` elements of `size` bytes; false when out of memory. */
static bool reserve(void **arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t ncap = *cap ? 2 * *cap : 16;
    while (ncap < need)
        ncap *= 2;
    void *more = realloc(*arr, ncap * size);
    if (!more)
        return false;
    *arr = more;
    *cap = ncap;
    return true;
}

struct cb_pool *cb_pool_new(size_t max_numbers, size_t max_callbacks)
{
    struct cb_pool *p = calloc(1, sizeof(*p));
    if (p) {
        p->max_numbers = max_numbers;
        p->max_rows = max_callbacks;
    }
    return p;
}

static void forget_station(struct pool_number *e)
{
    free(e->trunk_group.lines);
    free(e->hunt_group.members);
    free(e->member_of);
    free(e->consoles);
    e->trunk_group.lines = NULL;
    e->hunt_group.members = NULL;
    e->member_of = e->consoles = NULL;
    e->n_member_of = e->n_consoles = 0;
    e->has_station = e->has_trunk_group = e->has_hunt_group = false;
}

static void forget_piece(struct pool_number *e, enum cb_piece piece)
{
    if (piece == CB_PIECE_STATION) {
        forget_station(e);
    } else {
        free(e->rows[piece]);
        e->rows[piece] = NULL;
        e->n_rows[piece] = 0;
    }
    e->known &= ~(1u << piece);
}

void cb_pool_clear(struct cb_pool *p)
{
    for (size_t i = 0; i < p->n_numbers; i++)
        for (int k = 0; k < CB_PIECES; k++)
            forget_piece(number_at(p, i), (enum cb_piece)k);
    for (size_t c = 0; c * POOL_CHUNK < p->n_numbers; c++)
        free(p->numbers[c]);
    for (size_t c = 0; c * POOL_CHUNK < p->n_rows; c++)
        free(p->rows[c]);
    free(p->numbers);
    free(p->rows);
    cb_slots_free(&p->by_number);
    cb_slots_free(&p->by_id);
    free(p->named);
    free(p->missing);
    size_t max_numbers = p->max_numbers, max_rows = p->max_rows;
    *p = (struct cb_pool){.max_numbers = max_numbers, .max_rows = max_rows};
}

void cb_pool_free(struct cb_pool *p)
{
    if (!p)
        return;
    cb_pool_clear(p);
    free(p);
}

bool cb_pool_over(const struct cb_pool *p)
{
    return p->n_numbers > p->max_numbers || p->n_rows > p->max_rows;
}

static struct pool_number *find_number(const struct cb_pool *p, const char *number)
{
    size_t i = number
                   ? cb_slots_find(&p->by_number, cb_hash_text(number), number_entry_is, p, number)
                   : SIZE_MAX;
    return i == SIZE_MAX ? NULL : number_at(p, i);
}

/* The entry of `number`, made when missing; NULL when out of memory. */
static struct pool_number *number_entry(struct cb_pool *p, const char *number)
{
    struct pool_number *e = find_number(p, number);
    if (e)
        return e;
    if (!chunk_room((void ***)&p->numbers, &p->cap_number_chunks, p->n_numbers,
                    sizeof(struct pool_number)))
        return NULL;
    e = number_at(p, p->n_numbers);
    memset(e, 0, sizeof(*e));
    CB_COPY(e->number, number);
    if (!cb_slots_put(&p->by_number, p->n_numbers, p->n_numbers + 1, number_entry_hash, p))
        return NULL;
    p->n_numbers++;
    return e;
}

bool cb_pool_known(const struct cb_pool *p, const char *number, enum cb_piece piece,
                   uint64_t *version)
{
    const struct pool_number *e = find_number(p, number);
    if (!e || !(e->known & (1u << piece)))
        return false;
    if (version)
        *version = e->version[piece];
    return true;
}

void cb_pool_forget(struct cb_pool *p, const char *number)
{
    struct pool_number *e = find_number(p, number);
    for (int k = 0; e && k < CB_PIECES; k++)
        forget_piece(e, (enum cb_piece)k);
}

/* A copy of `n` numbers (NULL for none); false when out of memory. */
static bool copy_numbers(char (**dst)[CB_NUMBER_MAX], size_t *n_dst,
                         const char (*src)[CB_NUMBER_MAX], size_t n)
{
    *dst = NULL;
    *n_dst = 0;
    if (!n)
        return true;
    *dst = malloc(n * sizeof(**dst));
    if (!*dst)
        return false;
    memcpy(*dst, src, n * sizeof(**dst));
    *n_dst = n;
    return true;
}

bool cb_pool_global(const struct cb_pool *p, uint64_t *version)
{
    *version = p->global;
    return p->has_global;
}

/* What is put next was read at the global version `global`: what was read at another goes. */
static void read_at(struct cb_pool *p, uint64_t global)
{
    if (p->has_global && p->global != global)
        cb_pool_clear(p);
    p->has_global = true;
    p->global = global;
}

void cb_pool_put_options(struct cb_pool *p, const struct cb_options *o, uint64_t global)
{
    read_at(p, global);
    p->options = *o;
    p->has_options = true;
}

bool cb_pool_options(const struct cb_pool *p, struct cb_options *out)
{
    if (!p->has_options)
        return false;
    *out = p->options;
    return true;
}

bool cb_pool_put_facts(struct cb_pool *p, const char *number, uint64_t version, uint64_t global,
                       const struct cb_number_facts *f)
{
    read_at(p, global);
    struct pool_number *e = number_entry(p, number);
    if (!e)
        return false;
    forget_piece(e, CB_PIECE_STATION);
    if (f->station) {
        e->station = *f->station;
        e->has_station = true;
    }
    bool ok = true;
    if (f->trunk_group) {
        e->trunk_group = *f->trunk_group;
        e->trunk_group.lines = NULL;
        e->trunk_group.n_lines = 0;
        e->has_trunk_group = true;
        if (f->trunk_group->n_lines) {
            e->trunk_group.lines = malloc(f->trunk_group->n_lines * sizeof(struct cb_trunk_line));
            ok = e->trunk_group.lines != NULL;
            if (ok) {
                memcpy(e->trunk_group.lines, f->trunk_group->lines,
                       f->trunk_group->n_lines * sizeof(struct cb_trunk_line));
                e->trunk_group.n_lines = f->trunk_group->n_lines;
            }
        }
    }
    if (ok && f->hunt_group) {
        e->hunt_group = *f->hunt_group;
        e->has_hunt_group = true;
        ok = copy_numbers(&e->hunt_group.members, &e->hunt_group.n_members,
                          (const char(*)[CB_NUMBER_MAX])f->hunt_group->members,
                          f->hunt_group->n_members);
    }
    ok = ok && copy_numbers(&e->member_of, &e->n_member_of, f->member_of, f->n_member_of) &&
         copy_numbers(&e->consoles, &e->n_consoles, f->consoles, f->n_consoles);
    if (!ok) {
        forget_station(e);
        return false;
    }
    e->known |= 1u << CB_PIECE_STATION;
    e->version[CB_PIECE_STATION] = version;
    return true;
}

/* The row of `cb`: its existing row by id, refreshed, or a new one; CB_POOL_NONE when out of
 * memory. */
static size_t row_of(struct cb_pool *p, const struct cb_callback *cb)
{
    size_t r = row_by_id(p, cb->id);
    if (r != CB_POOL_NONE) {
        row_at(p, r)->cb = *cb;
        row_at(p, r)->cb.dirty = row_at(p, r)->cb.is_new = false;
        return r;
    }
    if (!chunk_room((void ***)&p->rows, &p->cap_row_chunks, p->n_rows, sizeof(struct pool_row)))
        return CB_POOL_NONE;
    struct pool_row *fresh = row_at(p, p->n_rows);
    *fresh = (struct pool_row){.cb = *cb};
    fresh->cb.dirty = fresh->cb.is_new = false;
    if (!cb_slots_put(&p->by_id, p->n_rows, p->n_rows + 1, row_hash, p))
        return CB_POOL_NONE;
    return p->n_rows++;
}

bool cb_pool_put_callbacks(struct cb_pool *p, const char *number, enum cb_piece piece,
                           uint64_t version, const struct cb_callback *cbs, size_t n)
{
    if (piece == CB_PIECE_STATION)
        return false;
    struct pool_number *e = number_entry(p, number);
    if (!e)
        return false;
    forget_piece(e, piece);
    size_t *rows = n ? malloc(n * sizeof(*rows)) : NULL;
    if (n && !rows)
        return false;
    for (size_t i = 0; i < n; i++) {
        rows[i] = row_of(p, &cbs[i]);
        if (rows[i] == CB_POOL_NONE) {
            free(rows);
            return false;
        }
    }
    e = find_number(p, number); /* row_of does not move numbers; kept for clarity */
    e->rows[piece] = rows;
    e->n_rows[piece] = n;
    e->known |= 1u << piece;
    e->version[piece] = version;
    return true;
}

bool cb_pool_put_named(struct cb_pool *p, const struct cb_callback *cb, uint64_t version)
{
    size_t r = row_of(p, cb);
    if (r == CB_POOL_NONE ||
        !reserve((void **)&p->named, &p->cap_named, p->n_named + 1, sizeof(*p->named)))
        return false;
    row_at(p, r)->named = true;
    row_at(p, r)->named_version = version;
    p->named[p->n_named++] = r;
    return true;
}

bool cb_pool_put_missing(struct cb_pool *p, const char *id)
{
    if (!reserve((void **)&p->missing, &p->cap_missing, p->n_missing + 1, sizeof(*p->missing)))
        return false;
    CB_COPY(p->missing[p->n_missing++], id);
    return true;
}

void cb_pool_clear_named(struct cb_pool *p)
{
    for (size_t i = 0; i < p->n_named; i++)
        row_at(p, p->named[i])->named = false;
    p->n_named = 0;
    p->n_missing = 0;
}

bool cb_pool_facts(const struct cb_pool *p, const char *number, struct cb_number_facts *out)
{
    const struct pool_number *e = find_number(p, number);
    if (!e || !(e->known & (1u << CB_PIECE_STATION)))
        return false;
    *out = (struct cb_number_facts){
        .station = e->has_station ? &e->station : NULL,
        .trunk_group = e->has_trunk_group ? &e->trunk_group : NULL,
        .hunt_group = e->has_hunt_group ? &e->hunt_group : NULL,
        .member_of = (const char(*)[CB_NUMBER_MAX])e->member_of,
        .n_member_of = e->n_member_of,
        .consoles = (const char(*)[CB_NUMBER_MAX])e->consoles,
        .n_consoles = e->n_consoles,
    };
    return true;
}

bool cb_pool_rows(const struct cb_pool *p, const char *number, enum cb_piece piece,
                  const size_t **rows, size_t *n)
{
    const struct pool_number *e = find_number(p, number);
    if (piece == CB_PIECE_STATION || !e || !(e->known & (1u << piece)))
        return false;
    *rows = e->rows[piece];
    *n = e->n_rows[piece];
    return true;
}

const struct cb_callback *cb_pool_row(const struct cb_pool *p, size_t row)
{
    return &row_at(p, row)->cb;
}

size_t cb_pool_named(const struct cb_pool *p, const char *id, uint64_t *version)
{
    for (size_t i = 0; i < p->n_missing; i++)
        if (cb_streq(p->missing[i], id))
            return CB_POOL_MISSING;
    size_t r = row_by_id(p, id);
    if (r == CB_POOL_NONE || !row_at(p, r)->named)
        return CB_POOL_NONE;
    if (version)
        *version = row_at(p, r)->named_version;
    return r;
}

bool cb_trunk_group_marked(const struct cb_trunk_group *g)
{
    for (size_t l = 0; l < g->n_lines; l++)
        if (g->lines[l].dirty)
            return true;
    return false;
}

static bool listed_in(const struct cb_callback *c, const char *number, enum cb_piece piece)
{
    if (c->ended_at != 0)
        return false;
    if (piece == CB_PIECE_QUEUES)
        return cb_streq(c->requester, number) || cb_streq(c->target, number);
    bool engaged = c->state == CB_STATE_NOTIFYING || c->state == CB_STATE_RECALLING;
    return piece == CB_PIECE_ENGAGED && engaged &&
           (cb_streq(c->notify_station, number) || cb_streq(c->target, number));
}

/* Lists or unlists `row` in the known ENGAGED and QUEUES pieces of `e` as `c` says. */
static bool relist(struct pool_number *e, size_t row, const struct cb_callback *c)
{
    for (int k = CB_PIECE_ENGAGED; k <= CB_PIECE_QUEUES; k++) {
        if (!(e->known & (1u << k)))
            continue;
        size_t at = e->n_rows[k];
        for (size_t i = 0; i < e->n_rows[k]; i++)
            if (e->rows[k][i] == row)
                at = i;
        bool listed = at < e->n_rows[k], should = listed_in(c, e->number, (enum cb_piece)k);
        if (listed && !should) {
            e->rows[k][at] = e->rows[k][--e->n_rows[k]];
        } else if (!listed && should) {
            size_t *more = realloc(e->rows[k], (e->n_rows[k] + 1) * sizeof(*more));
            if (!more)
                return false;
            e->rows[k] = more;
            e->rows[k][e->n_rows[k]++] = row;
        }
    }
    return true;
}

/* The numbers a marked callback is found by, before (`old`, may be NULL) and after. */
static void numbers_of_callback(const struct cb_callback *old, const struct cb_callback *c,
                                const char *out[4])
{
    out[0] = c->requester;
    out[1] = c->target;
    out[2] = c->notify_station;
    out[3] = old ? old->notify_station : "";
}

/* Sets every known piece of `number` to `version`, or forgets it when not `safe`. */
static void settle(struct cb_pool *p, const char *number, const struct cb_numbers *safe,
                   uint64_t version)
{
    struct pool_number *e = number && *number ? find_number(p, number) : NULL;
    if (!e)
        return;
    if (!safe || !cb_numbers_has(safe, number)) {
        cb_pool_forget(p, number);
        return;
    }
    for (int k = 0; k < CB_PIECES; k++)
        if (e->known & (1u << k))
            e->version[k] = version;
}

void cb_pool_committed(struct cb_pool *p, const struct cb_world *w, const struct cb_numbers *safe,
                       uint64_t version)
{
    for (size_t i = 0; i < w->n_callbacks; i++) {
        const struct cb_callback *c = &w->callbacks[i];
        if (!c->dirty && !c->is_new)
            continue;
        size_t row = c->is_new ? CB_POOL_NONE : row_by_id(p, c->id);
        const char *numbers[4];
        numbers_of_callback(row == CB_POOL_NONE ? NULL : &row_at(p, row)->cb, c, numbers);
        if (row == CB_POOL_NONE) { /* created (no seq here), or not the pool's */
            for (int k = 0; k < 4; k++)
                if (*numbers[k])
                    cb_pool_forget(p, numbers[k]);
            continue;
        }
        for (int k = 0; k < 4; k++) {
            struct pool_number *e = *numbers[k] ? find_number(p, numbers[k]) : NULL;
            if (e && safe && cb_numbers_has(safe, numbers[k]) && !relist(e, row, c))
                cb_pool_forget(p, numbers[k]);
        }
        row_at(p, row)->cb = *c;
        row_at(p, row)->cb.dirty = row_at(p, row)->cb.is_new = false;
        for (int k = 0; k < 4; k++)
            settle(p, numbers[k], safe, version);
    }
    for (size_t i = 0; i < w->n_stations; i++) {
        const struct cb_station *s = &w->stations[i];
        if (!s->dirty)
            continue;
        struct pool_number *e = find_number(p, s->number);
        if (e && e->has_station) {
            e->station = *s;
            e->station.dirty = false;
        } else if (e) {
            cb_pool_forget(p, s->number);
        }
        settle(p, s->number, safe, version);
    }
    for (size_t i = 0; i < w->n_trunk_groups; i++) {
        const struct cb_trunk_group *g = &w->trunk_groups[i];
        if (!cb_trunk_group_marked(g))
            continue;
        struct pool_number *e = find_number(p, g->number);
        if (e && e->has_trunk_group && e->trunk_group.n_lines == g->n_lines) {
            memcpy(e->trunk_group.lines, g->lines, g->n_lines * sizeof(*g->lines));
            for (size_t l = 0; l < g->n_lines; l++)
                e->trunk_group.lines[l].dirty = false;
        } else if (e) {
            cb_pool_forget(p, g->number);
        }
        settle(p, g->number, safe, version);
    }
}
