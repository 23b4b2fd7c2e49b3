/* The scope rules: which facts a decision on a seed concerns, read from the pool (pool.h), and
 * which numbers it locks. The one home of these rules; db/world.c fills the pool with what they
 * ask for, locks, checks the versions and builds the world from what they chose. */
#ifndef CB_CORE_SCOPE_H
#define CB_CORE_SCOPE_H

#include "service/core/pool.h"

/* What a decision is about: numbers (stations or groups) and callback ids. */
struct cb_scope_seed {
    const char *const *numbers;
    int n_numbers;
    /* Numbers dialed, perhaps through a trunk group ("95551234"): the trunk groups that prefix
     * them join the seed, for the core to split them (cb_core_resolve_number). */
    const char *const *dialed;
    int n_dialed;
    const char *const *callback_ids; /* loaded even when ended (outside the scope) */
    int n_callback_ids;
    /* Stations setting a callback on their current failed attempt (the softkey, CB-01): the
     * target of that attempt, as the pool holds it, joins the seed as a number dialed, whatever
     * the caller read before (the station may have made another attempt since). */
    const char *const *attempts_of;
    int n_attempts_of;
    /* The decision cannot free a requester of the seed to be rung (an API set, a station turning
     * busy...): the queues of the targets its callbacks wait on are not in scope, unless one of
     * its callbacks is engaged (it may end). False brings them in. */
    bool narrow;
    /* The decision changes no station, trunk group or hunt group (an API set): a station of the
     * seed that cannot take a recall now cannot after it either, so nothing waiting on it is
     * scheduled, and its queue is read only to count and find callbacks (CB-08, CB-09), not
     * to learn about the requesters waiting in it (unless one of its callbacks is queued for
     * a console: CB-31 returns it to pending). */
    bool keeps_facts;
};

struct cb_scope {
    /* What the pool lacks: pieces per number, and callbacks named by id. Nothing else is
     * meaningful until both are empty. */
    struct cb_numbers need[CB_PIECES];
    char (*need_ids)[CB_ID_MAX];
    size_t n_need_ids;
    /* The decision's world, when nothing is lacking: */
    struct cb_numbers targets;      /* whose whole queue is in it: only these are scheduled */
    struct cb_numbers locks;        /* what the decision may change, to lock before it reads */
    struct cb_numbers used;         /* every number a piece of which was read, and its version */
    struct cb_numbers stations;     /* the stations in it, in number order */
    struct cb_numbers trunk_groups; /* in number order */
    struct cb_numbers hunt_groups;  /* in number order */
    size_t *rows;                   /* its callbacks (pool rows), in seq order */
    size_t n_rows, cap_rows;
    /* Of the seed's numbers, those whose queue's requesters the decision does not read
     * (keeps_facts: a station not known to be able to take a recall): the fill's guess of what
     * comes next does not follow them. */
    struct cb_numbers quiet;
    /* Whether the targets of the seed's callbacks may come into t (not `narrow`, or one of them
     * is engaged): only then does the fill's guess read what rings at those targets. */
    bool wide;
};

void cb_scope_free(struct cb_scope *s);
/* Computes the scope of `seed` from the pool into `out` (freed and remade). False when out of
 * memory. */
bool cb_core_scope(const struct cb_pool *p, const struct cb_scope_seed *seed, struct cb_scope *out);
/* Whether the scope lacks anything. */
bool cb_scope_lacking(const struct cb_scope *s);

#endif
