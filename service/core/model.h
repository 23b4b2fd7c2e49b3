/* The facts the rules core decides on: stations, groups, callbacks, options.
 * Plain data, no pointers to I/O. Strings are NUL-terminated fixed arrays so that a
 * world can be built on the stack in tests and copied without ownership questions. */
#ifndef CB_CORE_MODEL_H
#define CB_CORE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CB_NUMBER_MAX  33  /* directory number: 1-32 of 0-9*# and NUL */
#define CB_ID_MAX      37  /* UUID text and NUL */
#define CB_LINE_MAX    65  /* trunk line id: 1-64 characters and NUL */
#define CB_GROUP_MAX   65  /* console group name */
#define CB_REF_MAX     129 /* cause reference: an event id (1-128), request id or timer name */
#define CB_DISPLAY_MAX 80

/* Milliseconds since the Unix epoch. The core never reads a clock: callers pass `now`. */
typedef int64_t cb_time;

enum cb_state {
    CB_STATE_NONE = -1, /* "from" of the first history entry */
    CB_STATE_PENDING = 0,
    CB_STATE_NOTIFYING,
    CB_STATE_RECALLING,
    CB_STATE_QUEUED,
    CB_STATE_MESSAGE_LEFT,
    CB_STATE_COMPLETED,
    CB_STATE_CANCELLED,
    CB_STATE_EXPIRED,
};

enum cb_reason {
    CB_REASON_BUSY = 0,
    CB_REASON_NO_ANSWER,
    CB_REASON_TRUNKS_BUSY,
    CB_REASON_HUNT_GROUP_BUSY,
};

enum cb_end_reason {
    CB_END_NONE = 0,
    CB_END_REQUESTED,
    CB_END_CANCELLED_ALL,
    CB_END_NO_RESPONSE,
    CB_END_CALL_COMPLETED,
    CB_END_COMPLETED,
    CB_END_EXPIRED,
    CB_END_SUPERSEDED,
    CB_END_RECALL_FAILED,
    CB_END_STATION_REMOVED,
};

enum cb_target_type {
    CB_TARGET_STATION = 0,
    CB_TARGET_TRUNK_GROUP,
    CB_TARGET_HUNT_GROUP,
};

enum cb_mode {
    CB_MODE_CALLBACK = 0,
    CB_MODE_MESSAGE,
};

enum cb_station_kind {
    CB_KIND_IP_PHONE = 0,
    CB_KIND_ANALOG,
    CB_KIND_MOBILE,
    CB_KIND_CONSOLE,
};

enum cb_attempt_result {
    CB_ATTEMPT_NONE = 0, /* no failed attempt is current */
    CB_ATTEMPT_BUSY,
    CB_ATTEMPT_NO_ANSWER,
    CB_ATTEMPT_TRUNKS_BUSY,
};

/* What the PBX last reported about a station (openapi.yaml). */
struct cb_station_state {
    bool busy;     /* availability: false = idle */
    bool hook_off; /* hook: false = on */
    bool dnd;
    bool make_busy;
    bool attendant_busy_out;
    char forward_to[CB_NUMBER_MAX]; /* "" = not forwarded */
    bool failed_over;
    bool console_available;
};

struct cb_station {
    char number[CB_NUMBER_MAX];
    enum cb_station_kind kind;
    bool callbacks_allowed; /* from its class of service (CB-03) */
    char prime_line[CB_NUMBER_MAX];
    bool resilient;
    char console_group[CB_GROUP_MAX]; /* consoles only; "" otherwise */
    struct cb_station_state state;
    /* The current failed call attempt (CB-01), for the softkey and the Setup FAC. */
    enum cb_attempt_result attempt;
    char attempt_to[CB_NUMBER_MAX];
    bool dirty; /* set by the core when state or attempt changed: the caller persists it */
};

struct cb_trunk_line {
    char id[CB_LINE_MAX];
    bool busy;
    char reserved_for[CB_ID_MAX]; /* callback id holding the line (CB-15); "" = free */
    bool dirty;
};

struct cb_trunk_group {
    char number[CB_NUMBER_MAX];
    bool callback_activation;
    size_t n_lines;
    struct cb_trunk_line *lines; /* in provisioning order */
};

struct cb_hunt_group {
    char number[CB_NUMBER_MAX];
    bool callback_activation;
    size_t n_members;
    char (*members)[CB_NUMBER_MAX]; /* station numbers; their stations are in the world */
};

struct cb_fac_codes {
    char setup[CB_NUMBER_MAX];
    char cancel_all[CB_NUMBER_MAX];
    char cancel_individual[CB_NUMBER_MAX];
};

struct cb_options {
    int64_t callback_cancel_timer_s;
    int64_t notification_timeout_s;
    int64_t recall_timeout_s;
    int64_t command_ttl_s;
    int64_t max_per_requester;
    int64_t max_per_target;
    bool digit_collection_during_busy_or_alerting;
    struct cb_fac_codes fac;
};

/* One callback request. `seq` orders the queue on a target: first set, first served (CB-17). */
struct cb_callback {
    char id[CB_ID_MAX];
    int64_t seq;
    char requester[CB_NUMBER_MAX];
    char target[CB_NUMBER_MAX];
    enum cb_target_type target_type;
    enum cb_reason reason;
    enum cb_mode mode;
    enum cb_state state;
    char origin_line[CB_NUMBER_MAX];
    char notify_line[CB_NUMBER_MAX];
    char notify_station[CB_NUMBER_MAX]; /* who is rung: the requester, or a console (CB-31) */
    char external_number[CB_NUMBER_MAX];
    char reserved_line[CB_LINE_MAX];
    bool awaiting_release;   /* CB-14: a blocking feature holds it */
    bool hook_cycle_needed;  /* CB-13/CB-14/CB-24: must see off then on after this point */
    bool hook_off_seen;      /* the "off" half of that cycle was seen */
    bool idle_report_needed; /* CB-24: preserved after busy; wait for the next idle report */
    bool lamp_lit;           /* CB-40: mwi on was sent */
    cb_time created_at;
    cb_time updated_at;
    cb_time expires_at; /* 0 = never (message mode) */
    cb_time ended_at;   /* 0 = active */
    enum cb_end_reason end_reason;
    char supersedes[CB_ID_MAX];
    bool is_new; /* created by this decision: the caller inserts it */
    bool dirty;  /* changed by this decision: the caller updates it */
};

struct cb_world_index; /* the core's own (internal.h) */

/* The part of the system one decision may look at and change. The caller loads it, the core
 * mutates it in place (setting `dirty` / `is_new`), and the caller persists what is marked. */
struct cb_world {
    struct cb_options options;
    struct cb_station *stations;
    size_t n_stations;
    struct cb_trunk_group *trunk_groups;
    size_t n_trunk_groups;
    struct cb_hunt_group *hunt_groups;
    size_t n_hunt_groups;
    /* Active callbacks concerned (and those the core creates or ends in this decision).
     * Capacity is owned by the world: the core grows it with cb_world_add_callback(). */
    struct cb_callback *callbacks;
    size_t n_callbacks;
    size_t cap_callbacks;
    /* Targets whose whole queue of active callbacks is loaded: only these are scheduled. */
    char (*scope_targets)[CB_NUMBER_MAX];
    size_t n_scope_targets;
    /* Bumped by the core at each mark it sets (dirty, is_new): compared before and after an
     * event to tell whether it was applied or ignored (cb_core_on_event). */
    size_t changes;
    /* The core's lookup tables while one of its entry points runs (index.c); NULL otherwise.
     * The core frees them before it returns: nothing for the caller to free. */
    struct cb_world_index *index;
};

#endif
