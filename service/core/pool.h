/* The facts a process keeps from one decision to the next (the pool), and the scope rules that
 * say which of them a decision concerns (scope.c).
 *
 * The pool holds, per directory number, three pieces, each loaded whole or not at all, with the
 * version of the number it was read with (migration 019: the id of the last transaction that
 * changed a fact about the number):
 *   STATION  the number's station row, its trunk group with its lines and its hunt group with its
 *            members (or that there is none), the hunt groups it is a member of, and the consoles
 *            of its console group;
 *   ENGAGED  the engaged callbacks (notifying, recalling) ringing it or waiting on it;
 *   QUEUES   the active callbacks it set or that wait on it.
 * Callback rows are kept once per id and shared by the pieces that list them. A piece is current
 * when the number's version in the database is still the one it was read with; the caller checks
 * that under the decision's locks and refills what is not (db/world.c). Nothing here does I/O:
 * the caller fills the pool and the scope rules read it. */
#ifndef CB_CORE_POOL_H
#define CB_CORE_POOL_H

#include "service/core/model.h"

/* Positions (+ 1; 0 = empty) of an array's elements, found by key: open addressing, at most half
 * full (the functions are the core's own: internal.h). */
struct cb_slots {
    size_t *slot;
    size_t cap;
};

/* A set of numbers in the order they were added, each with a version (scope.used). */
struct cb_numbers {
    char (*v)[CB_NUMBER_MAX];
    uint64_t *version;
    size_t n, cap;
    struct cb_slots slots; /* by number */
};
/* Two pieces of one number read with different versions: never current. */
#define CB_VERSION_MIXED UINT64_MAX

/* Adds `number` (not empty) with `version`; a second version of it makes it CB_VERSION_MIXED.
 * Returns whether it was new; out of memory sets *oom. */
bool cb_numbers_add_version(struct cb_numbers *s, const char *number, uint64_t version, bool *oom);
bool cb_numbers_add(struct cb_numbers *s, const char *number, bool *oom);
bool cb_numbers_has(const struct cb_numbers *s, const char *number);
/* The position of `number`, SIZE_MAX when it is not in the set. */
size_t cb_numbers_find(const struct cb_numbers *s, const char *number);
/* Sorts the numbers (their versions are not kept: for sets without them). */
void cb_numbers_sort(struct cb_numbers *s);
void cb_numbers_free(struct cb_numbers *s);

enum cb_piece {
    CB_PIECE_STATION = 0,
    CB_PIECE_ENGAGED,
    CB_PIECE_QUEUES,
    CB_PIECES,
};

/* The STATION piece of a number: as the filler read it (copied by cb_pool_put_facts), and as the
 * pool gives it (cb_pool_facts). */
struct cb_number_facts {
    const struct cb_station *station;         /* NULL: no station has the number */
    const struct cb_trunk_group *trunk_group; /* NULL: not a trunk group */
    const struct cb_hunt_group *hunt_group;   /* NULL: not a hunt group */
    const char (*member_of)[CB_NUMBER_MAX];   /* hunt groups the station is a member of */
    size_t n_member_of;
    const char (*consoles)[CB_NUMBER_MAX]; /* a console: the consoles of its group, itself too */
    size_t n_consoles;
};

struct cb_pool;

/* A pool that forgets everything once it holds more than `max_numbers` numbers or
 * `max_callbacks` callback rows (cb_pool_over). NULL when out of memory. */
struct cb_pool *cb_pool_new(size_t max_numbers, size_t max_callbacks);
void cb_pool_free(struct cb_pool *p);
/* Forgets every fact. */
void cb_pool_clear(struct cb_pool *p);
/* Whether the pool holds more than its bounds: the caller clears it between decisions. */
bool cb_pool_over(const struct cb_pool *p);

/* The version of what relates numbers to each other (classes of service, console groups, hunt
 * groups and their members, trunk groups: 'provisioning' in migration 019) that the STATION
 * pieces were read with; false when none is loaded. A fill read with another one clears the
 * pool first (cb_pool_put_facts). */
bool cb_pool_global(const struct cb_pool *p, uint64_t *version);

/* The system options, read with the global version `global` (migration 020 bumps it when they
 * change): as cb_pool_put_facts, one read with another global version clears the pool first. */
void cb_pool_put_options(struct cb_pool *p, const struct cb_options *o, uint64_t global);
/* The options, when loaded at the global version the pool holds. */
bool cb_pool_options(const struct cb_pool *p, struct cb_options *out);
/* Whether `piece` of `number` is loaded, and the version it was read with. */
bool cb_pool_known(const struct cb_pool *p, const char *number, enum cb_piece piece,
                   uint64_t *version);
/* Forgets every piece of `number` (a version that changed). */
void cb_pool_forget(struct cb_pool *p, const char *number);

/* Loads the STATION piece of `number`, read with `version` and the global version `global`.
 * False when out of memory. */
bool cb_pool_put_facts(struct cb_pool *p, const char *number, uint64_t version, uint64_t global,
                       const struct cb_number_facts *f);
/* Loads the ENGAGED or QUEUES piece of `number`, read with `version`: exactly the callbacks
 * `cbs` (their rows replace any older copy of the same ids). False when out of memory. */
bool cb_pool_put_callbacks(struct cb_pool *p, const char *number, enum cb_piece piece,
                           uint64_t version, const struct cb_callback *cbs, size_t n);
/* A callback named by id for one decision (active or ended), read with `version` (its
 * requester's), kept until cb_pool_clear_named. */
bool cb_pool_put_named(struct cb_pool *p, const struct cb_callback *cb, uint64_t version);
/* An id named for one decision that no callback has. */
bool cb_pool_put_missing(struct cb_pool *p, const char *id);
void cb_pool_clear_named(struct cb_pool *p);

/* ---- reading (scope.c, and the caller building a world) ------------------------------- */

/* The STATION piece of `number` (pointers into the pool, valid until it changes); false when not
 * loaded. */
bool cb_pool_facts(const struct cb_pool *p, const char *number, struct cb_number_facts *out);
/* The rows of the ENGAGED or QUEUES piece of `number` (positions for cb_pool_row); false when
 * not loaded. */
bool cb_pool_rows(const struct cb_pool *p, const char *number, enum cb_piece piece,
                  const size_t **rows, size_t *n);
const struct cb_callback *cb_pool_row(const struct cb_pool *p, size_t row);
/* The row of a callback named for this decision and the version it was read with; CB_POOL_NONE
 * when not loaded, CB_POOL_MISSING when no callback has the id. */
#define CB_POOL_NONE    ((size_t)-1)
#define CB_POOL_MISSING ((size_t)-2)
size_t cb_pool_named(const struct cb_pool *p, const char *id, uint64_t *version);

/* Whether the decision marked a line of `g` (its lines are written back). */
bool cb_trunk_group_marked(const struct cb_trunk_group *g);

/* ---- keeping the pool current ----------------------------------------------------------- */

/* After the commit of a transaction whose id is `version`, what one of its decisions wrote: the
 * world's marked callbacks, stations and lines. Each number they name that the transaction held
 * locked and checked (`safe`) keeps its pieces, changed as the database now has them, at
 * `version` (what the commit's triggers left, migration 019); any other number they name is
 * forgotten, as are the numbers of a created callback (the database gave it its seq). */
void cb_pool_committed(struct cb_pool *p, const struct cb_world *w, const struct cb_numbers *safe,
                       uint64_t version);
#endif
