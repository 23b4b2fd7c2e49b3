/* Helpers shared by the rules core's files; not part of the core's public interface (core.h).
 * Everything here is pure: it reads and marks the world and appends to the decisions. */
#ifndef CB_CORE_INTERNAL_H
#define CB_CORE_INTERNAL_H

#include "service/core/core.h"
#include "service/core/pool.h"

#include <string.h>

/* Copies `src` into a fixed array of `size` bytes, truncating, always NUL-terminated. */
static inline void cb_copy(char *dst, size_t size, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= size)
        n = size - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}
#define CB_COPY(dst, src) cb_copy((dst), sizeof(dst), (src))

/* What the core changes, by kind: the scheduler looks again at what each change may unblock
 * (schedule.c), and the caller persists what is marked. */
enum cb_change_kind {
    CB_CHANGED_STATIONS = 0, /* position in w->stations */
    CB_CHANGED_CALLBACKS,    /* position in w->callbacks */
    CB_CHANGED_TRUNKS,       /* position in w->trunk_groups (one of its lines) */
    CB_CHANGE_KINDS,
};
/* Records the change in the open index's log (index.c); nothing when none is open. */
void cb_index_log(struct cb_world *w, enum cb_change_kind kind, size_t pos);

/* Every mark of the core goes through one of these: it sets the dirty (or is_new) flag, counts
 * the change (cb_world.changes) and logs it. */
static inline void cb_mark_station(struct cb_world *w, struct cb_station *s)
{
    s->dirty = true;
    w->changes++;
    cb_index_log(w, CB_CHANGED_STATIONS, (size_t)(s - w->stations));
}

static inline void cb_mark_callback(struct cb_world *w, struct cb_callback *c)
{
    c->dirty = true;
    w->changes++;
    cb_index_log(w, CB_CHANGED_CALLBACKS, (size_t)(c - w->callbacks));
}

static inline void cb_mark_new_callback(struct cb_world *w, struct cb_callback *c)
{
    c->is_new = true;
    w->changes++;
    cb_index_log(w, CB_CHANGED_CALLBACKS, (size_t)(c - w->callbacks));
}

static inline void cb_mark_line(struct cb_world *w, struct cb_trunk_group *g,
                                struct cb_trunk_line *line)
{
    line->dirty = true;
    w->changes++;
    cb_index_log(w, CB_CHANGED_TRUNKS, (size_t)(g - w->trunk_groups));
}

static inline bool cb_streq(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* ---- slot tables (pool.c): the pool's maps, the scope's sets ---------------------------- */

/* The position whose key `is` recognises (the caller's array, `ctx`), among those whose key has
 * `hash`; SIZE_MAX when none. */
size_t cb_slots_find(const struct cb_slots *t, uint64_t hash,
                     bool (*is)(const void *ctx, size_t pos, const void *key), const void *ctx,
                     const void *key);
/* Records `pos`, not in the table yet, the table then indexing `count` positions (it grows
 * first when that would fill it more than half, rehashing with `hash_at`); false when out of
 * memory (the table is unchanged). */
bool cb_slots_put(struct cb_slots *t, size_t pos, size_t count,
                  uint64_t (*hash_at)(const void *ctx, size_t pos), const void *ctx);
/* Forgets every position, keeping the room. */
void cb_slots_clear(struct cb_slots *t);
void cb_slots_free(struct cb_slots *t);

/* ---- the per-decision index (index.c) ------------------------------------------------ */

#define CB_NOWHERE SIZE_MAX /* no position */

/* What a table maps to positions: each array of the world by its key. */
enum cb_index_kind {
    CB_INDEX_STATIONS = 0, /* number -> w->stations */
    CB_INDEX_CONSOLES,     /* console group -> w->stations (consoles only, CB-31) */
    CB_INDEX_TRUNK_GROUPS, /* number -> w->trunk_groups */
    CB_INDEX_HUNT_GROUPS,  /* number -> w->hunt_groups */
    CB_INDEX_CALLBACKS,    /* id -> w->callbacks */
    CB_INDEX_PAIRS,        /* requester and target -> w->callbacks (CB-08) */
    CB_INDEX_SCOPE,        /* target -> w->scope_targets */
    CB_INDEX_TARGETS,      /* target -> w->callbacks */
    CB_INDEX_NOTIFIED,     /* notify_station -> w->callbacks (re-keyed by cb_index_rekey) */
    CB_INDEX_KINDS,
};

struct cb_index_slot {
    uint64_t hash;
    size_t pos1; /* position + 1; 0 = empty */
};

/* Open addressing with linear probing, at most half full; built at its first lookup. */
struct cb_index_table {
    struct cb_index_slot *slots;
    size_t cap, n;
    bool built;
};

/* An active callback of a scope target, with the positions resolved for it once. */
struct cb_queued {
    int64_t seq;
    size_t pos;       /* in w->callbacks */
    size_t scope;     /* first position of its target in w->scope_targets */
    size_t requester; /* in w->stations; CB_NOWHERE when not loaded */
};

/* Positions in one of the world's arrays, in the order they were added (repeats kept): the
 * change log of an index, the callbacks a loop of the rules visits (cb_positions_sort). */
struct cb_positions {
    size_t *pos;
    size_t n, cap;
};

struct cb_schedule_memory; /* schedule.c */

struct cb_world_index {
    struct cb_index_table tables[CB_INDEX_KINDS];
    /* Everything marked while the index is open, per kind. */
    struct cb_positions log[CB_CHANGE_KINDS];
    /* What the scheduler keeps from one pass to the next while the index is open (schedule.c):
     * NULL until the first pass; freed by cb_index_close. */
    struct cb_schedule_memory *schedule;
    /* The active callbacks of the scope targets in queue order (CB-17: seq, then position),
     * built at the first scheduling and kept while the index is open: a group of inputs
     * schedules many times over the same world. Entries that stop waiting stay, and are
     * skipped when visited. */
    struct cb_queued *queue;
    size_t n_queue, cap_queue;
    bool queue_built;
    unsigned long queue_builds; /* times the queue was built: entries move only then */
};

/* Opens the index of `w` in `idx` (the caller's stack) unless one is open; returns whether this
 * call opened it. Every public entry point opens it first and closes it last. */
bool cb_index_open(struct cb_world *w, struct cb_world_index *idx);
/* Frees the tables and detaches the index, when `opened` says this caller opened it. */
void cb_index_close(struct cb_world *w, bool opened);
/* Records the callback just appended at `pos` in the tables already built. */
void cb_index_add_callback(struct cb_world *w, size_t pos);
/* Callback `pos` has a new key of `kind` (its notify_station): found under it from now on. */
void cb_index_rekey(struct cb_world *w, enum cb_index_kind kind, size_t pos);

/* Adds the callbacks whose `kind` key (CB_INDEX_TARGETS, CB_INDEX_NOTIFIED, CB_INDEX_PAIRS
 * without key2) is `key`; every callback when no index is open. */
void cb_positions_add(struct cb_world *w, struct cb_positions *ps, enum cb_index_kind kind,
                      const char *key);
/* Sorts them and drops repeats. */
void cb_positions_sort(struct cb_positions *ps);
void cb_positions_free(struct cb_positions *ps);

/* Frees the scheduler's memory (schedule.c); for cb_index_close. */
void cb_schedule_memory_free(struct cb_schedule_memory *m);

/* The scope's callbacks in queue order (see struct cb_world_index); `*n` of them. NULL when no
 * index is open. */
const struct cb_queued *cb_index_queue(struct cb_world *w, size_t *n);

/* The positions whose key is `key` (and `key2`, for pairs), in no particular order. */
struct cb_index_iter {
    const struct cb_world *w;
    enum cb_index_kind kind;
    const char *key, *key2;
    uint64_t hash;
    size_t slot;
};
/* Starts an iteration; false when no index is open (then the caller scans). */
bool cb_index_start(const struct cb_world *w, enum cb_index_kind kind, const char *key,
                    const char *key2, struct cb_index_iter *it);
/* The next position with the key, CB_NOWHERE at the end. */
size_t cb_index_next(struct cb_index_iter *it);
/* The first position (lowest) with `key`, as a scan would find it; CB_NOWHERE when none or when
 * no index is open. */
size_t cb_index_first(const struct cb_world *w, enum cb_index_kind kind, const char *key);

/* ---- decisions (world.c) ------------------------------------------------------------- */

/* Appends a zeroed command of `type` for `callback_id` ("" = none); aborts on OOM. */
struct cb_command *cb_emit(struct cb_decisions *out, enum cb_command_type type,
                           const char *callback_id);
/* Appends one history entry. */
void cb_emit_history(struct cb_decisions *out, const char *callback_id, enum cb_state from,
                     enum cb_state to, cb_time at, const struct cb_cause *cause);
/* Appends "fire `kind` for `callback_id` at `at`". */
void cb_emit_timer(struct cb_decisions *out, enum cb_timer_kind kind, const char *callback_id,
                   cb_time at);
/* Appends "cancel timer `kind` of `callback_id`". */
void cb_emit_timer_clear(struct cb_decisions *out, enum cb_timer_kind kind,
                         const char *callback_id);
/* Records a refusal: error code and a human sentence for problem+json. */
void cb_set_error(struct cb_decisions *out, enum cb_error error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- predicates over the world (world.c) ---------------------------------------------- */

/* Not ended: neither terminal nor carrying ended_at. */
bool cb_callback_active(const struct cb_callback *c);
/* Notifying or recalling: holds the requester's attention and a slot of the target. */
bool cb_callback_engaged(const struct cb_callback *c);
/* CB-14: DND, Make Busy or Attendant Busy-out. */
bool cb_station_blocking(const struct cb_station *s);
/* The station's prime line (CB-20), or its number when none is provisioned. */
const char *cb_station_line(const struct cb_station *s);
/* CB-17: the station is being rung for, or is recalling, some callback. One scan: the scheduler
 * keeps its own counts (schedule.c). */
bool cb_station_engaged(const struct cb_world *w, const char *number);
/* A hunt group member that can take a call: in the world, idle, not failed over. */
bool cb_hunt_member_free(struct cb_world *w, const char *number);
bool cb_hunt_has_member(const struct cb_hunt_group *g, const char *number);
/* CB-16/CB-17: free members minus the group's callbacks already notifying or recalling. */
size_t cb_hunt_capacity(struct cb_world *w, const struct cb_hunt_group *g);
/* Callbacks on `target` that are notifying or recalling. One scan, as cb_station_engaged(). */
size_t cb_target_engaged_count(const struct cb_world *w, const char *target);
/* CB-15: the first line that is idle and not reserved; NULL when none. */
struct cb_trunk_line *cb_trunk_free_line(struct cb_trunk_group *g);
struct cb_trunk_line *cb_trunk_line_find(struct cb_trunk_group *g, const char *id);
/* Is `target` one of the scope targets (those whose whole queue is loaded)? */
bool cb_in_scope(const struct cb_world *w, const char *target);
/* What the recall dials: the target, followed by the outside number for trunks. */
void cb_dialed_number(const struct cb_callback *c, char out[2 * CB_NUMBER_MAX]);
/* The active callback of `requester` on `target`, NULL when none (CB-08). */
struct cb_callback *cb_find_active(struct cb_world *w, const char *requester, const char *target);

/* ---- transitions (lifecycle.c) -------------------------------------------------------- */

/* Moves `c` to state `to`, recording history, updated_at and dirty. */
void cb_transition(struct cb_world *w, struct cb_callback *c, enum cb_state to, cb_time now,
                   const struct cb_cause *cause, struct cb_decisions *out);
/* Marks `c` changed at `now` without a state change. */
void cb_touch(struct cb_world *w, struct cb_callback *c, cb_time now);
/* CB-15/CB-29: gives up the reserved trunk line; `send_release` false when the recall call has
 * it (the line then belongs to the call, no release_trunk). */
void cb_drop_line(struct cb_world *w, struct cb_callback *c, bool send_release,
                  struct cb_decisions *out);
/* CB-29: ends `c` with `reason` (state completed / expired / cancelled), undoing what it holds:
 * stop_ring, release_trunk, mwi off, and clearing its three timers. */
void cb_end(struct cb_world *w, struct cb_callback *c, enum cb_end_reason reason, cb_time now,
            const struct cb_cause *cause, struct cb_decisions *out);
/* CB-18: a notifying callback stops ringing and returns to pending, keeping its place. */
void cb_back_to_pending(struct cb_world *w, struct cb_callback *c, cb_time now,
                        const struct cb_cause *cause, struct cb_decisions *out);

/* ---- notification and recall (notification.c) ---------------------------------------- */

/* CB-22: `station` lifted its handset: answers the callback ringing it, if any. */
void cb_answer(struct cb_world *w, const char *station, cb_time now, const struct cb_cause *cause,
               struct cb_decisions *out);
/* CB-24: the outcome of a recall call (the recall timeout counts as no_answer). */
void cb_recall_outcome(struct cb_world *w, struct cb_callback *c, enum cb_recall_result result,
                       cb_time now, const struct cb_cause *cause, struct cb_decisions *out);
/* CB-23: nobody answered the notification. */
void cb_notify_timeout(struct cb_world *w, struct cb_callback *c, cb_time now,
                       const struct cb_cause *cause, struct cb_decisions *out);

/* ---- FAC (fac.c) ------------------------------------------------------------------------ */

/* CB-30: a `digits` event. */
void cb_on_digits(struct cb_world *w, const struct cb_event *ev, cb_time now,
                  const struct cb_cause *cause, struct cb_decisions *out);

/* ---- call.connected (cancelling.c) ---------------------------------------------------- */

/* CB-27/CB-40: a connected two-party call between requester and target ends the callback. */
void cb_on_call_connected(struct cb_world *w, const struct cb_event *ev, cb_time now,
                          const struct cb_cause *cause, struct cb_decisions *out);

#endif
