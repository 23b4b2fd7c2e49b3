/* A small fixed world for the fuzz targets that go on into the rules core (fuzz_events,
 * fuzz_dialed, fuzz_bodies): what the worker or a set would have loaded from the database,
 * built afresh for each input through the core's own entry points, so that it is consistent
 * by construction. Everything in it is in scope, so every precondition of the core holds. */
#ifndef FUZZ_FIXTURE_WORLD_H
#define FUZZ_FIXTURE_WORLD_H

#include "service/core/core.h"

#define FZ_STATIONS 10
#define FZ_T0       1764000000000LL /* "now" of every decision, in ms */

struct fz_world {
    struct cb_world w;
    struct cb_station stations[FZ_STATIONS];
    struct cb_trunk_group trunks[2];
    struct cb_trunk_line lines[3];
    struct cb_hunt_group hunt;
    char members[2][CB_NUMBER_MAX];
    char scope[FZ_STATIONS + 3][CB_NUMBER_MAX];
    struct cb_decisions d; /* everything decided since fz_world_init */
    int next_id;
    int64_t next_seq;
};

/* Stations 2001-2008 and 95 (a station whose number is also a trunk prefix), consoles 2005
 * and 2006 in group "ops", 2007 without callbacks allowed; trunk groups 9 (lines 9-L1, 9-L2)
 * and 90 (90-L1); hunt group 600 (2003, 2004); FAC *41 / #41 / #42 with digit collection on.
 * Callbacks: 2001 -> 2002 notifying, 2004 -> 2002 message_left, 2005 -> 2002 pending behind
 * the first, 2003 -> 9 + 5551234 pending (trunks busy), 2008 -> 600 pending (hunt group busy),
 * 2006 -> 2007 pending (no answer: a hook cycle of 2007 first). Their ids are
 * fz_callback_id(1..6), in that order. */
void fz_world_init(struct fz_world *f);
void fz_world_free(struct fz_world *f);
/* The id of the n-th callback set in the world (a UUID: recall.result accepts only those). */
void fz_callback_id(int n, char out[CB_ID_MAX]);
/* Applies one parsed event as the worker does (a Setup FAC gets a new id and the queue position
 * of a new callback). Call between cb_core_group_begin / _end, as the worker does. */
void fz_world_event(struct fz_world *f, struct cb_event *ev);
/* Sets a callback as the API does once the body is parsed (new id and queue position). */
void fz_world_set(struct fz_world *f, struct cb_set_request *req);

/* Aborts, naming what is wrong, when the world breaks what the database enforces (one active
 * callback per requester and target, ended_at with end_reason and a final state) or what the
 * core keeps (a reserved line and its callback name each other). */
void fz_world_check(const struct fz_world *f);

#endif
