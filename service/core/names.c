/* Wire names of the core's enums, both ways, and the form of a directory number. */
#include "service/core/core.h"

#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const state_names[] = {"pending",      "notifying", "recalling", "queued",
                                          "message_left", "completed", "cancelled", "expired"};
static const char *const reason_names[] = {"busy", "no_answer", "trunks_busy", "hunt_group_busy"};
static const char *const end_reason_names[] = {
    "",          "requested", "cancelled_all", "no_response",   "call_completed",
    "completed", "expired",   "superseded",    "recall_failed", "station_removed"};
static const char *const target_type_names[] = {"station", "trunk_group", "hunt_group"};
static const char *const mode_names[] = {"callback", "message"};
static const char *const kind_names[] = {"ip_phone", "analog", "mobile", "console"};
static const char *const command_names[] = {
    "ring", "stop_ring", "reserve_trunk", "release_trunk", "originate", "mwi", "tone"};
static const char *const tone_names[] = {"confirmation", "reorder"};
static const char *const timer_names[] = {"expiry", "notify_timeout", "recall_timeout"};

/* The PBX events' words, NULL-terminated (the webhook lists them in its 422 messages). */
const char *const cb_event_type_names[] = {
    "station.state",    "station.hook",         "station.feature", "station.forward",
    "station.failover", "console.availability", "trunk.state",     "call.attempt",
    "call.connected",   "recall.result",        "digits",          NULL};
const char *const cb_feature_names[] = {"dnd", "make_busy", "attendant_busy_out", NULL};
/* call.attempt results: "answered" is 0 here and -1 in struct cb_event (no failed attempt). */
const char *const cb_attempt_result_names[] = {"answered", "busy", "no_answer", "trunks_busy",
                                               NULL};
const char *const cb_recall_result_names[] = {"answered", "busy", "no_answer", "failed", NULL};
const char *const cb_call_state_names[] = {"idle", "busy_tone", "ringback", NULL};

/* Index -> name; "" for anything out of range (never NULL, so it is safe to print). */
static const char *name_of(const char *const *names, size_t n, int value)
{
    if (value < 0 || (size_t)value >= n)
        return "";
    return names[value];
}

/* Name -> index; -1 when unknown. The empty name never parses. */
static int parse_name(const char *const *names, size_t n, const char *s)
{
    if (!s || !*s)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

/* "" for CB_STATE_NONE: the caller renders it as JSON null. */
const char *cb_state_name(enum cb_state s)
{
    return name_of(state_names, COUNT(state_names), (int)s);
}

const char *cb_reason_name(enum cb_reason r)
{
    return name_of(reason_names, COUNT(reason_names), (int)r);
}

/* "" for CB_END_NONE: an active callback has no end reason (JSON null). */
const char *cb_end_reason_name(enum cb_end_reason r)
{
    return name_of(end_reason_names, COUNT(end_reason_names), (int)r);
}

const char *cb_target_type_name(enum cb_target_type t)
{
    return name_of(target_type_names, COUNT(target_type_names), (int)t);
}

const char *cb_mode_name(enum cb_mode m)
{
    return name_of(mode_names, COUNT(mode_names), (int)m);
}

const char *cb_kind_name(enum cb_station_kind k)
{
    return name_of(kind_names, COUNT(kind_names), (int)k);
}

const char *cb_command_type_name(enum cb_command_type t)
{
    return name_of(command_names, COUNT(command_names), (int)t);
}

const char *cb_tone_name(enum cb_tone t)
{
    return name_of(tone_names, COUNT(tone_names), (int)t);
}

/* Also the history cause ref of a timer transition ("expiry", ...). */
const char *cb_timer_kind_name(enum cb_timer_kind k)
{
    return name_of(timer_names, COUNT(timer_names), (int)k);
}

int cb_state_parse(const char *s)
{
    return parse_name(state_names, COUNT(state_names), s);
}

int cb_reason_parse(const char *s)
{
    return parse_name(reason_names, COUNT(reason_names), s);
}

int cb_end_reason_parse(const char *s)
{
    return parse_name(end_reason_names, COUNT(end_reason_names), s);
}

int cb_target_type_parse(const char *s)
{
    return parse_name(target_type_names, COUNT(target_type_names), s);
}

int cb_mode_parse(const char *s)
{
    return parse_name(mode_names, COUNT(mode_names), s);
}

int cb_kind_parse(const char *s)
{
    return parse_name(kind_names, COUNT(kind_names), s);
}

int cb_timer_kind_parse(const char *s)
{
    return parse_name(timer_names, COUNT(timer_names), s);
}

/* The states (service/core/README.md): completed, cancelled and expired end a callback. */
bool cb_state_is_terminal(enum cb_state s)
{
    return s == CB_STATE_COMPLETED || s == CB_STATE_CANCELLED || s == CB_STATE_EXPIRED;
}

/* The event words above, by value and back (-1 when unknown). */
static size_t count_names(const char *const *names)
{
    size_t n = 0;
    while (names[n])
        n++;
    return n;
}

const char *cb_event_word(const char *const *names, int value)
{
    return name_of(names, count_names(names), value);
}

int cb_event_word_parse(const char *const *names, const char *s)
{
    return parse_name(names, count_names(names), s);
}

bool cb_number_valid(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n < CB_NUMBER_MAX && strspn(s, "0123456789*#") == n;
}
