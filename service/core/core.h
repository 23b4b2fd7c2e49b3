/* The callback rules core: state in, decisions out. No I/O, no clock, no database.
 *
 * Every entry point takes the world (the facts the caller loaded), one input, `now`
 * and the cause to record in history; it mutates the world in place (marking what
 * changed) and appends to `out` the commands, history entries and timer operations
 * the caller must persist in the same transaction. Rule ids (CB-nn, service/core/README.md) name
 * the code. */
#ifndef CB_CORE_H
#define CB_CORE_H

#include "service/core/model.h"

enum cb_error {
    CB_OK = 0,
    CB_ERR_VALIDATION,        /* validation_failed: requester = target, bad mode... */
    CB_ERR_UNKNOWN_NUMBER,    /* unknown_number (CB-02) */
    CB_ERR_NOT_ALLOWED,       /* callbacks_not_allowed (CB-03) */
    CB_ERR_FAILED_OVER,       /* device_failed_over (CB-04) */
    CB_ERR_TARGET_AVAILABLE,  /* target_available (CB-06) */
    CB_ERR_GROUP_DISABLED,    /* group_callback_disabled (CB-06) */
    CB_ERR_LIMIT_REACHED,     /* limit_reached (CB-09) */
    CB_ERR_NO_FAILED_ATTEMPT, /* no_failed_attempt (softkey) */
    CB_ERR_INVALID_STATE,     /* invalid_state: the callback has ended */
    CB_ERR_NOT_FOUND,         /* not_found */
};

enum cb_cause_kind {
    CB_CAUSE_API = 0,
    CB_CAUSE_EVENT,
    CB_CAUSE_TIMER,
};

/* Why a transition happened: the API request id, the PBX event id, or the timer's name. */
struct cb_cause {
    enum cb_cause_kind kind;
    char ref[CB_REF_MAX];
};

enum cb_command_type {
    CB_CMD_RING = 0,
    CB_CMD_STOP_RING,
    CB_CMD_RESERVE_TRUNK,
    CB_CMD_RELEASE_TRUNK,
    CB_CMD_ORIGINATE,
    CB_CMD_MWI,
    CB_CMD_TONE,
};

enum cb_tone {
    CB_TONE_CONFIRMATION = 0,
    CB_TONE_REORDER,
};

/* A command to the PBX (openapi.yaml). Only the fields of its type are set;
 * empty strings are rendered as JSON null where openapi.yaml allows null. */
struct cb_command {
    enum cb_command_type type;
    char callback_id[CB_ID_MAX];      /* "" = none (tone) */
    char station[CB_NUMBER_MAX];      /* ring, stop_ring, mwi, tone */
    char line[CB_LINE_MAX];           /* ring, stop_ring: prime line; reserve/release: trunk line */
    char on_behalf_of[CB_NUMBER_MAX]; /* ring: console rerouting (CB-31) */
    char display[CB_DISPLAY_MAX];     /* ring */
    char trunk_group[CB_NUMBER_MAX];  /* reserve_trunk, release_trunk */
    char for_station[CB_NUMBER_MAX];  /* reserve_trunk */
    char from_station[CB_NUMBER_MAX]; /* originate */
    char from_line[CB_NUMBER_MAX];    /* originate */
    char to[2 * CB_NUMBER_MAX];       /* originate: target, with the outside number for trunks */
    char via_line[CB_LINE_MAX];       /* originate: reserved trunk line */
    char external_number[CB_NUMBER_MAX]; /* originate */
    bool on;                             /* mwi */
    char from[CB_NUMBER_MAX];            /* mwi: the requester */
    enum cb_tone tone;                   /* tone */
};

/* One transition of a callback's state, for its history (service/core/README.md, "States"). */
struct cb_history_entry {
    char callback_id[CB_ID_MAX];
    cb_time at;
    enum cb_state from; /* CB_STATE_NONE for the creation */
    enum cb_state to;
    struct cb_cause cause;
};

enum cb_timer_kind {
    CB_TIMER_EXPIRY = 0,     /* CB-10 */
    CB_TIMER_NOTIFY_TIMEOUT, /* CB-23 */
    CB_TIMER_RECALL_TIMEOUT, /* CB-24 */
};

/* "Call me back at `at` for (kind, callback_id)", or cancel that timer (`clear`). */
struct cb_timer_op {
    enum cb_timer_kind kind;
    char callback_id[CB_ID_MAX];
    cb_time at;
    bool clear;
};

/* What one decision asks the caller to persist, besides the marked world. Arrays grow with
 * realloc; free with cb_decisions_free(). */
struct cb_decisions {
    struct cb_command *commands;
    size_t n_commands, cap_commands;
    struct cb_history_entry *history;
    size_t n_history, cap_history;
    struct cb_timer_op *timers;
    size_t n_timers, cap_timers;
    enum cb_error error;
    char error_detail[160]; /* a human sentence for problem+json `detail` */
    int cancelled_count;    /* cancel all: how many ended */
};

void cb_decisions_init(struct cb_decisions *d);
void cb_decisions_free(struct cb_decisions *d);

/* Looks things up in the world; NULL when not loaded. */
struct cb_station *cb_world_station(struct cb_world *w, const char *number);
struct cb_trunk_group *cb_world_trunk_group(struct cb_world *w, const char *number);
struct cb_hunt_group *cb_world_hunt_group(struct cb_world *w, const char *number);
struct cb_callback *cb_world_callback(struct cb_world *w, const char *id);
/* Several inputs in a row against one world (a group of events, of due timers, of API sets):
 * between cb_core_group_begin and cb_core_group_end the lookups the core builds over the world
 * (its index, the scope's queue order) are kept from one input to the next instead of being
 * built again for each, so a group costs about its world's size, not that times its inputs.
 * The caller must not change the world itself in between. Returns whether this call began the
 * group (pass it to the end). */
bool cb_core_group_begin(struct cb_world *w);
void cb_core_group_end(struct cb_world *w, bool began);
/* Appends a callback to the world (growing its array); returns the new slot, NULL on OOM. */
struct cb_callback *cb_world_add_callback(struct cb_world *w, const struct cb_callback *c);
/* Frees what cb_world_add_callback() allocated (the callbacks array only). */
void cb_world_free_callbacks(struct cb_world *w);

/* ---- Inputs -------------------------------------------------------------------------- */

/* A request to set a callback (API, softkey, Setup FAC all build one: CB-01). */
struct cb_set_request {
    char requester[CB_NUMBER_MAX];
    char target[CB_NUMBER_MAX];
    char origin_line[CB_NUMBER_MAX]; /* "" = the requester's number */
    enum cb_mode mode;
    char external_number[CB_NUMBER_MAX]; /* trunk targets */
    char new_id[CB_ID_MAX];              /* id for the new callback (randomness is the caller's) */
    int64_t new_seq;                     /* its queue position, larger than every existing one */
    /* CB-01, CB-33: set with the softkey: the target is the requester's failed call attempt as
     * the world has it when the core decides (`target` only tells the caller what to load). */
    bool softkey;
};

/* CB-01..CB-10, CB-40: validates and sets a callback. The requester, the target (station or
 * group, with members / lines) and the active callbacks of the requester and of the target
 * must be in the world. A target dialed through a trunk group without `external_number` is
 * split first (cb_core_resolve_number: the trunk groups prefixing it must be in the world).
 * On success returns the new callback (in the world, is_new set). */
struct cb_callback *cb_core_set(struct cb_world *w, const struct cb_set_request *req, cb_time now,
                                const struct cb_cause *cause, struct cb_decisions *out);

/* CB-25 (and CB-29): ends one callback with `reason` (CB_END_REQUESTED from the API). */
void cb_core_cancel(struct cb_world *w, const char *callback_id, enum cb_end_reason reason,
                    cb_time now, const struct cb_cause *cause, struct cb_decisions *out);

/* CB-26: ends every active callback of `requester` (cancelled_all); sets out->cancelled_count. */
void cb_core_cancel_all(struct cb_world *w, const char *requester, cb_time now,
                        const struct cb_cause *cause, struct cb_decisions *out);

/* CB-28: a station or group is deprovisioned: it leaves the world, and every callback it set or
 * is the target of ends; one ringing it on behalf of another console waits again. */
void cb_core_number_removed(struct cb_world *w, const char *number, cb_time now,
                            const struct cb_cause *cause, struct cb_decisions *out);

/* CB-32: Call Again: an originate to the target; the callback stays. */
void cb_core_call_again(struct cb_world *w, const char *callback_id, cb_time now,
                        struct cb_decisions *out);

/* CB-33: whether the Callback / Call Me Back softkey is presented to `s`, and for which number. */
bool cb_core_softkey(const struct cb_station *s, char target_out[CB_NUMBER_MAX]);

/* A PBX event (openapi.yaml), already validated by the API layer. */
enum cb_event_type {
    CB_EV_STATION_STATE = 0,
    CB_EV_STATION_HOOK,
    CB_EV_STATION_FEATURE,
    CB_EV_STATION_FORWARD,
    CB_EV_STATION_FAILOVER,
    CB_EV_CONSOLE_AVAILABILITY,
    CB_EV_TRUNK_STATE,
    CB_EV_CALL_ATTEMPT,
    CB_EV_CALL_CONNECTED,
    CB_EV_RECALL_RESULT,
    CB_EV_DIGITS,
};

enum cb_feature {
    CB_FEATURE_DND = 0,
    CB_FEATURE_MAKE_BUSY,
    CB_FEATURE_ATTENDANT_BUSY_OUT,
};

enum cb_call_state {
    CB_CALL_IDLE = 0,
    CB_CALL_BUSY_TONE,
    CB_CALL_RINGBACK,
};

enum cb_recall_result {
    CB_RECALL_ANSWERED = 0,
    CB_RECALL_BUSY,
    CB_RECALL_NO_ANSWER,
    CB_RECALL_FAILED,
};

#define CB_MAX_PARTIES 8

struct cb_event {
    enum cb_event_type type;
    char id[CB_REF_MAX];
    char station[CB_NUMBER_MAX]; /* station.*, console.availability, digits */
    bool flag;                   /* busy / hook_off / active / failed_over / available */
    enum cb_feature feature;
    char forward_to[CB_NUMBER_MAX];
    char trunk_group[CB_NUMBER_MAX];
    char line[CB_LINE_MAX];
    /* call.attempt */
    char from[CB_NUMBER_MAX];
    char to[CB_NUMBER_MAX];
    int attempt_result; /* enum cb_attempt_result, or -1 for "answered" */
    /* call.connected */
    char parties[CB_MAX_PARTIES][CB_NUMBER_MAX];
    size_t n_parties;
    bool conference;
    /* recall.result */
    char callback_id[CB_ID_MAX];
    enum cb_recall_result recall_result;
    /* digits */
    char digits[2 * CB_NUMBER_MAX];
    enum cb_call_state call_state;
    char dialed[CB_NUMBER_MAX];
    /* For a Setup FAC that sets a callback: the id and queue position to use. */
    char new_id[CB_ID_MAX];
    int64_t new_seq;
};

/* What became of an input: applied, or ignored (stored, with no effect). */
enum cb_outcome { CB_APPLIED, CB_IGNORED };

/* Applies one PBX event: updates the live state in the world and every rule it triggers
 * (CB-11..CB-31, CB-40), then schedules maturing. The event's id is the history cause. A
 * number dialed through a trunk group (digits `dialed`, Cancel Individual) is split against
 * the world's trunk groups: those prefixing it must be in the world. Returns CB_IGNORED when
 * the event names nothing in the world (a station, trunk line or active callback that is not
 * there) or changes nothing and decides nothing; CB_APPLIED otherwise. */
enum cb_outcome cb_core_on_event(struct cb_world *w, const struct cb_event *ev, cb_time now,
                                 struct cb_decisions *out);

/* A due timer (CB-10, CB-23, CB-24). A timer for an ended or unknown callback does nothing. */
void cb_core_on_timer(struct cb_world *w, enum cb_timer_kind kind, const char *callback_id,
                      cb_time now, struct cb_decisions *out);

/* CB-11..CB-19, CB-31: matures what can mature among the scope targets' queues. Every input
 * above calls it; exposed for tests. */
void cb_core_schedule(struct cb_world *w, cb_time now, const struct cb_cause *cause,
                      struct cb_decisions *out);

/* Splits a dialed number into target + outside number using the world's trunk groups: the
 * trunk group whose number is the longest prefix of `dialed` (openapi.yaml). Exact station or hunt
 * group numbers win. Returns false when nothing in the world matches. */
bool cb_core_resolve_number(struct cb_world *w, const char *dialed, char target[CB_NUMBER_MAX],
                            char external[CB_NUMBER_MAX]);

/* Names used on the wire (openapi.yaml) for the enums above. */
const char *cb_state_name(enum cb_state s);
const char *cb_reason_name(enum cb_reason r);
const char *cb_end_reason_name(enum cb_end_reason r);
const char *cb_target_type_name(enum cb_target_type t);
const char *cb_mode_name(enum cb_mode m);
const char *cb_kind_name(enum cb_station_kind k);
const char *cb_command_type_name(enum cb_command_type t);
const char *cb_tone_name(enum cb_tone t);
const char *cb_timer_kind_name(enum cb_timer_kind k);
/* Parses a wire name back; returns -1 when unknown. */
int cb_state_parse(const char *s);
int cb_reason_parse(const char *s);
int cb_end_reason_parse(const char *s);
int cb_target_type_parse(const char *s);
int cb_mode_parse(const char *s);
int cb_kind_parse(const char *s);
int cb_timer_kind_parse(const char *s);
bool cb_state_is_terminal(enum cb_state s);

/* The words of PBX events, NULL-terminated and in the order of their enums: the type
 * (enum cb_event_type), station.feature's feature (enum cb_feature), call.attempt's result
 * ("answered", then enum cb_attempt_result's failed ones), recall.result's result (enum
 * cb_recall_result), digits' call_state (enum cb_call_state). */
extern const char *const cb_event_type_names[];
extern const char *const cb_feature_names[];
extern const char *const cb_attempt_result_names[];
extern const char *const cb_recall_result_names[];
extern const char *const cb_call_state_names[];
/* One of those lists' word for `value` ("" when out of range), and back (-1 when unknown). */
const char *cb_event_word(const char *const *names, int value);
int cb_event_word_parse(const char *const *names, const char *s);

/* A directory number (stations, hunt and trunk groups, outside numbers): 1-32 characters of
 * 0-9 * #. */
bool cb_number_valid(const char *s);

/* The hash the core's index uses for numbers and ids (FNV-1a, 64 bits), for an edge that keeps
 * a set of them. */
uint64_t cb_hash_text(const char *s);

#endif
