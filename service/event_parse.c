#include "service/event_parse.h"
#include "service/ids.h"
#include "service/rfc3339.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct parse {
    json_t *ev;
    json_t *errors;
    const char *prefix;
    bool ok;
};

static void bad(struct parse *p, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void bad(struct parse *p, const char *field, const char *fmt, ...)
{
    p->ok = false;
    if (!p->errors)
        return;
    char name[160], msg[200];
    snprintf(name, sizeof name, "%s%s", p->prefix, field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(p->errors, json_pack("{s:s, s:s}", "field", name, "message", msg));
}

/* A required string field of 1..max characters; copied into dst. */
static bool text(struct parse *p, const char *field, char *dst, size_t size, size_t max)
{
    const char *s = json_string_value(json_object_get(p->ev, field));
    if (!s || !*s || strlen(s) > max || strlen(s) >= size) {
        bad(p, field, "is required: a string of 1 to %zu characters", max);
        return false;
    }
    memcpy(dst, s, strlen(s) + 1);
    return true;
}

/* A required directory number. */
static bool number(struct parse *p, const char *field, char dst[CB_NUMBER_MAX])
{
    const char *s = json_string_value(json_object_get(p->ev, field));
    if (!s || !cb_number_valid(s)) {
        bad(p, field, "is required: a directory number (1-32 characters of 0-9 * #)");
        return false;
    }
    memcpy(dst, s, strlen(s) + 1);
    return true;
}

/* A required boolean. */
static bool flag(struct parse *p, const char *field, bool *dst)
{
    json_t *v = json_object_get(p->ev, field);
    if (!json_is_boolean(v)) {
        bad(p, field, "is required: true or false");
        return false;
    }
    *dst = json_is_true(v);
    return true;
}

/* A required enumerated string; returns its index or -1. */
static int choice(struct parse *p, const char *field, const char *const *values)
{
    const char *s = json_string_value(json_object_get(p->ev, field));
    for (int i = 0; s && values[i]; i++)
        if (!strcmp(s, values[i]))
            return i;
    char list[160] = "";
    for (int i = 0; values[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", values[i]);
    bad(p, field, "is required: one of %s", list);
    return -1;
}

static void parse_body(struct parse *p, struct cb_event *e)
{
    static const char *const availability[] = {"idle", "busy", NULL};
    static const char *const hook[] = {"on", "off", NULL};
    int i;
    switch (e->type) {
    case CB_EV_STATION_STATE:
        number(p, "station", e->station);
        e->flag = (i = choice(p, "availability", availability)) == 1;
        break;
    case CB_EV_STATION_HOOK:
        number(p, "station", e->station);
        e->flag = (i = choice(p, "hook", hook)) == 1;
        break;
    case CB_EV_STATION_FEATURE:
        number(p, "station", e->station);
        if ((i = choice(p, "feature", cb_feature_names)) >= 0)
            e->feature = (enum cb_feature)i;
        flag(p, "active", &e->flag);
        break;
    case CB_EV_STATION_FORWARD: {
        number(p, "station", e->station);
        json_t *v = json_object_get(p->ev, "forward_to");
        if (json_is_null(v) || !v)
            e->forward_to[0] = '\0';
        else if (!json_is_string(v) || !cb_number_valid(json_string_value(v)))
            bad(p, "forward_to", "must be a directory number or null");
        else
            snprintf(e->forward_to, sizeof e->forward_to, "%s", json_string_value(v));
        break;
    }
    case CB_EV_STATION_FAILOVER:
        number(p, "station", e->station);
        flag(p, "failed_over", &e->flag);
        break;
    case CB_EV_CONSOLE_AVAILABILITY:
        number(p, "station", e->station);
        flag(p, "available", &e->flag);
        break;
    case CB_EV_TRUNK_STATE:
        number(p, "trunk_group", e->trunk_group);
        text(p, "line", e->line, sizeof e->line, 64);
        e->flag = (i = choice(p, "state", availability)) == 1;
        break;
    case CB_EV_CALL_ATTEMPT:
        number(p, "from", e->from);
        number(p, "to", e->to);
        i = choice(p, "result", cb_attempt_result_names);
        e->attempt_result = i == 1   ? CB_ATTEMPT_BUSY
                            : i == 2 ? CB_ATTEMPT_NO_ANSWER
                            : i == 3 ? CB_ATTEMPT_TRUNKS_BUSY
                                     : -1;
        break;
    case CB_EV_CALL_CONNECTED: {
        char call_id[CB_REF_MAX];
        text(p, "call_id", call_id, sizeof call_id, 128);
        json_t *parties = json_object_get(p->ev, "parties");
        if (!json_is_array(parties) || json_array_size(parties) < 1 ||
            json_array_size(parties) > CB_MAX_PARTIES) {
            bad(p, "parties", "is required: an array of 1 to %d directory numbers", CB_MAX_PARTIES);
        } else {
            size_t k;
            json_t *v;
            json_array_foreach(parties, k, v)
            {
                const char *s = json_string_value(v);
                if (!s || !cb_number_valid(s)) {
                    char f[32];
                    snprintf(f, sizeof f, "parties[%zu]", k);
                    bad(p, f, "must be a directory number");
                } else
                    snprintf(e->parties[e->n_parties++], CB_NUMBER_MAX, "%s", s);
            }
        }
        flag(p, "conference", &e->conference);
        break;
    }
    case CB_EV_RECALL_RESULT: {
        const char *id = json_string_value(json_object_get(p->ev, "callback_id"));
        if (!id || !cb_uuid_valid(id))
            bad(p, "callback_id", "is required: a callback id (UUID)");
        else
            for (int k = 0; k <= 36; k++) /* lower-case, as stored and rendered */
                e->callback_id[k] = (char)(id[k] >= 'A' && id[k] <= 'F' ? id[k] + 32 : id[k]);
        if ((i = choice(p, "result", cb_recall_result_names)) >= 0)
            e->recall_result = (enum cb_recall_result)i;
        break;
    }
    case CB_EV_DIGITS: {
        number(p, "station", e->station);
        const char *d = json_string_value(json_object_get(p->ev, "digits"));
        if (!d || !*d || strlen(d) >= sizeof e->digits || strspn(d, "0123456789*#") != strlen(d))
            bad(p, "digits", "is required: 1-%zu characters of 0-9 * #", sizeof e->digits - 1);
        else
            memcpy(e->digits, d, strlen(d) + 1);
        if ((i = choice(p, "call_state", cb_call_state_names)) >= 0)
            e->call_state = (enum cb_call_state)i;
        if (i > 0)
            number(p, "dialed", e->dialed);
        else if (json_object_get(p->ev, "dialed") &&
                 !json_is_null(json_object_get(p->ev, "dialed"))) {
            const char *s = json_string_value(json_object_get(p->ev, "dialed"));
            if (!s || !cb_number_valid(s))
                bad(p, "dialed", "must be a directory number");
            else
                memcpy(e->dialed, s, strlen(s) + 1);
        }
        break;
    }
    }
}

bool cb_event_parse(json_t *ev, struct cb_event *out, json_t *errors, const char *prefix)
{
    struct parse p = {.ev = ev, .errors = errors, .prefix = prefix, .ok = true};
    memset(out, 0, sizeof *out);
    if (!json_is_object(ev)) {
        bad(&p, "", "must be an event object");
        return false;
    }
    text(&p, "id", out->id, sizeof out->id, 128);
    json_t *at = json_object_get(ev, "at");
    int64_t at_ms;
    if (at && !(json_is_string(at) && cb_rfc3339_parse(json_string_value(at), &at_ms)))
        bad(&p, "at", "must be an RFC 3339 time, e.g. 2026-11-25T10:00:00Z");
    int type = choice(&p, "type", cb_event_type_names);
    if (type < 0)
        return false;
    out->type = (enum cb_event_type)type;
    parse_body(&p, out);
    return p.ok;
}

json_t *cb_event_columns(const struct cb_event *e, json_t *received)
{
#define TEXT(s) ((s)[0] ? (s) : NULL)
    enum cb_event_type t = e->type;
    json_t *parties = json_array();
    for (size_t i = 0; i < e->n_parties; i++)
        json_array_append_new(parties, json_string(e->parties[i]));
    const char *attempt = t != CB_EV_CALL_ATTEMPT ? NULL
                          : e->attempt_result < 0
                              ? cb_attempt_result_names[0]
                              : cb_event_word(cb_attempt_result_names, e->attempt_result);
    return json_pack(
        "{s:s, s:s, s:O, s:s?, s:b, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:o, s:b, s:s?, "
        "s:s?, s:s?, s:s?, s:s?}",
        "id", e->id, "type", cb_event_word(cb_event_type_names, (int)t), "body", received,
        "station", TEXT(e->station), "flag", e->flag, "feature",
        t == CB_EV_STATION_FEATURE ? cb_event_word(cb_feature_names, (int)e->feature) : NULL,
        "forward_to", TEXT(e->forward_to), "trunk_group", TEXT(e->trunk_group), "line",
        TEXT(e->line), "from_number", TEXT(e->from), "to_number", TEXT(e->to), "attempt", attempt,
        "parties", parties, "conference", e->conference, "callback_id", TEXT(e->callback_id),
        "recall",
        t == CB_EV_RECALL_RESULT ? cb_event_word(cb_recall_result_names, (int)e->recall_result)
                                 : NULL,
        "digits", TEXT(e->digits), "call_state",
        t == CB_EV_DIGITS ? cb_event_word(cb_call_state_names, (int)e->call_state) : NULL, "dialed",
        TEXT(e->dialed));
#undef TEXT
}
