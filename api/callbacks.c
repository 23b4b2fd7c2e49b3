/* /v1/callbacks: set (with Idempotency-Key), list and filter, read, history, cancel, call
 * again (CB-32, CB-34). */
#include "api/auth.h"
#include "api/callback_json.h"
#include "api/callbacks_common.h"
#include "api/handlers.h"
#include "api/inputs.h"
#include "api/lists.h"
#include "api/validate.h"
#include "db/callbacks.h"
#include "db/idempotency.h"
#include "db/tx.h"
#include "service/hex.h"
#include "service/requests.h"
#include "service/rfc3339.h"
#include "service/set_batch.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void api_reply_refusal(struct api_request *r, const struct cb_request_result *res)
{
    enum api_error e = api_error_from_core(res->error);
    if (e == API_VALIDATION_FAILED) {
        json_t *errors = json_array();
        api_field_error(errors, "", "%s", res->detail[0] ? res->detail : "not valid");
        api_reply_validation(r, errors);
    } else
        api_reply_problem(r, e, "%s", res->detail[0] ? res->detail : api_problem_kind(e)->title);
}

struct set_tx {
    struct cb_set_request req;
    const char *request_id;
    const char *token_id;
    const char *idem_key; /* NULL without Idempotency-Key */
    char hash_hex[2 + 64 + 1];
    struct cb_request_result res;
    struct db_idem_answer prev;
    char *body; /* the 201 answer, stored for retries */
    char location[128];
};

/* The 201 of a set: its body (kept for Idempotency-Key replays) and Location. */
static enum db_status set_answer(struct set_tx *t)
{
    json_t *doc = api_callback_json(&t->res.callback);
    t->body = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    snprintf(t->location, sizeof t->location, "/v1/callbacks/%s", t->res.callback.id);
    return t->body ? DB_OK : DB_ERROR;
}

static enum db_status set_tx(struct db_conn *c, void *ctx)
{
    struct set_tx *t = ctx;
    free(t->body);
    t->body = NULL;
    free(t->prev.body);
    memset(&t->prev, 0, sizeof t->prev);
    enum db_status st;
    if (t->idem_key) {
        st = db_idem_claim(c, t->token_id, t->idem_key, t->hash_hex, &t->prev);
        if (st != DB_OK || t->prev.found)
            return st; /* a replay (or a mismatch) commits nothing new */
    }
    st = cb_request_set(c, &t->req, t->request_id, &t->res);
    if (st == DB_OK)
        st = set_answer(t);
    if (st != DB_OK)
        return st;
    return t->idem_key ? db_idem_store(c, t->token_id, t->idem_key, 201, t->location, t->body)
                       : DB_OK;
}

/* The Idempotency-Key's request fingerprint: SHA-256 of the canonical body. */
static void request_hash(json_t *body, char out[2 + 64 + 1])
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    unsigned char h[32];
    SHA256((const unsigned char *)(text ? text : ""), text ? strlen(text) : 0, h);
    free(text);
    cb_hex_bytea(h, sizeof h, out);
}

/* Answers a set: 201 with Location, from the fresh result or the stored replay. */
static void reply_created(struct api_request *r, const char *location, char *body)
{
    api_add_header(r, "Location", location);
    api_reply_raw(r, 201, "application/json", body, strlen(body));
}

/* Parses the body of a set request (shared by POST /v1/callbacks and the softkey). */
bool api_parse_set_body(json_t *body, struct cb_set_request *req, bool need_numbers, json_t *errors)
{
    static const char *const MODES[] = {"callback", "message", NULL};
    int mode = CB_MODE_CALLBACK;
    const struct api_field fields[] = {
        {.name = "requester",
         .type = API_F_NUMBER,
         .required = need_numbers,
         .dest = req->requester},
        {.name = "target", .type = API_F_NUMBER, .required = need_numbers, .dest = req->target},
        {.name = "origin_line", .type = API_F_NUMBER, .dest = req->origin_line},
        {.name = "mode", .type = API_F_ENUM, .dest = &mode, .values = MODES},
        {.name = "external_number",
         .type = API_F_NUMBER,
         .nullable = true,
         .dest = req->external_number},
    };
    /* The softkey names neither requester nor target: only origin_line and mode may be given. */
    bool ok = need_numbers ? api_parse_fields(body, fields, 5, errors, "")
                           : api_parse_fields(body, fields + 2, 2, errors, "");
    req->mode = (enum cb_mode)mode;
    return ok;
}

void api_run_set(struct api_request *r, const struct cb_set_request *req)
{
    struct set_tx t = {.req = *req, .request_id = r->request_id, .token_id = r->who.token_id};
    const char *key;
    int given = api_header(r, "Idempotency-Key", &key);
    if (given) {
        if (given > 1 || !api_valid_idempotency_key(key)) {
            json_t *errors = json_array();
            api_field_error(errors, "Idempotency-Key",
                            given > 1 ? "must be given once"
                                      : "must be 1-255 printable ASCII characters");
            api_reply_validation(r, errors);
            return;
        }
        t.idem_key = key;
        request_hash(r->json, t.hash_hex);
    }
    enum db_status st;
    if (!t.idem_key && r->app->sets) {
        /* Without a key nothing else is written: the set joins the others in flight. */
        st = cb_set_batched(r->app->sets, &t.req, t.request_id, &t.res);
        if (st == DB_OK)
            st = set_answer(&t);
    } else
        st = db_tx_run(r->app->pool, set_tx, &t);
    if (st == DB_OK && t.prev.found) {
        if (!t.prev.same_request) {
            json_t *errors = json_array();
            api_field_error(errors, "Idempotency-Key",
                            "was used with another body in the last 24 h");
            api_reply_validation(r, errors);
        } else {
            reply_created(r, t.prev.location, t.prev.body);
            t.prev.body = NULL; /* taken by the answer */
        }
    } else if (st == DB_OK) {
        reply_created(r, t.location, t.body);
        t.body = NULL;
    } else if (st == DB_ABORT)
        api_reply_refusal(r, &t.res);
    else
        api_reply_db_error(r, st);
    free(t.body);
    free(t.prev.body);
}

void api_callbacks_post(struct api_request *r)
{
    struct cb_set_request req = {0};
    json_t *errors = json_array();
    if (!api_parse_set_body(r->json, &req, true, errors)) {
        api_reply_validation(r, errors);
        return;
    }
    json_decref(errors);
    if (!api_may_act_for(r, req.requester)) {
        api_reply_problem(r, API_FORBIDDEN, "this token may not set callbacks for %s",
                          req.requester);
        return;
    }
    api_run_set(r, &req);
}

/* Loads a callback for an id in the path; answers 404/403 itself and returns false then. */
bool api_load_callback(struct api_request *r, struct cb_callback *cb)
{
    struct db_conn *c = api_conn(r); /* the id is a UUID (api/inputs.c) */
    if (!c)
        return false;
    bool found = false;
    enum db_status st = db_callback_get(c, r->params[0], cb, &found);
    api_conn_release(r, c);
    if (st != DB_OK)
        api_reply_db_error(r, st);
    else if (!found)
        api_reply_problem(r, API_NOT_FOUND, "no callback %s", r->params[0]);
    else if (!api_may_read_for(r, cb->requester))
        api_reply_problem(r, API_FORBIDDEN, "this callback belongs to another station");
    else
        return true;
    return false;
}

void api_callback_get(struct api_request *r)
{
    struct cb_callback cb;
    if (api_load_callback(r, &cb))
        api_reply_json(r, 200, api_callback_json(&cb));
}

void api_callback_history(struct api_request *r)
{
    struct cb_callback cb;
    if (!api_load_callback(r, &cb))
        return;
    struct db_conn *c = api_conn(r);
    if (!c)
        return;
    json_t *items = NULL;
    enum db_status st = db_callback_history(c, cb.id, &items);
    api_conn_release(r, c);
    if (st != DB_OK)
        api_reply_db_error(r, st);
    else
        api_reply_json(r, 200, json_pack("{s:o}", "items", items));
}

struct change_tx {
    const char *id;
    const char *request_id;
    bool call_again;
    struct cb_request_result res;
};

static enum db_status change_tx(struct db_conn *c, void *ctx)
{
    struct change_tx *t = ctx;
    return t->call_again ? cb_request_call_again(c, t->id, t->request_id, &t->res)
                         : cb_request_cancel(c, t->id, t->request_id, &t->res);
}

static void change(struct api_request *r, bool call_again)
{
    struct cb_callback cb;
    if (!api_load_callback(r, &cb)) /* 404, or 403 for another station's */
        return;
    /* An ended one is the core's refusal (invalid_state), decided in the locked transaction. */
    struct change_tx t = {.id = cb.id, .request_id = r->request_id, .call_again = call_again};
    enum db_status st = db_tx_run(r->app->pool, change_tx, &t);
    if (st == DB_ABORT)
        api_reply_refusal(r, &t.res);
    else if (st != DB_OK)
        api_reply_db_error(r, st);
    else if (call_again)
        api_reply_json(r, 202,
                       json_pack("{s:s, s:s}", "callback_id", cb.id, "status", "originating"));
    else
        api_reply_json(r, 200, api_callback_json(&t.res.callback));
}

void api_callback_delete(struct api_request *r)
{
    change(r, false);
}

void api_callback_call_again(struct api_request *r)
{
    change(r, true);
}

/* The last millisecond of 9999-12-31: no callback issued by this service is created later. */
#define API_TIME_MS_MAX 253402300799999LL

/* Reads a list position from a decoded cursor: "n:<ms>:<id>" or "p:<ms>:<id>" (`with_id`,
 * operator lists), "n:<seq>" or "p:<seq>" (the phone list). */
bool api_list_pos_parse(const char *cursor, struct db_list_pos *pos, bool with_id)
{
    memset(pos, 0, sizeof *pos);
    if ((cursor[0] != 'n' && cursor[0] != 'p') || cursor[1] != ':')
        return false;
    pos->backward = cursor[0] == 'p';
    const char *colon = with_id ? strchr(cursor + 2, ':') : NULL;
    if (with_id && !colon)
        return false;
    char digits[24];
    size_t len = colon ? (size_t)(colon - cursor - 2) : strlen(cursor + 2);
    if (len >= sizeof digits)
        return false;
    memcpy(digits, cursor + 2, len);
    digits[len] = '\0';
    int64_t v;
    if (!api_parse_whole(digits, with_id ? API_TIME_MS_MAX : INT64_MAX, &v) || v < 1)
        return false;
    if (!with_id) {
        pos->seq = v;
        return true;
    }
    if (!cb_uuid_valid(colon + 1))
        return false;
    pos->created_ms = v;
    snprintf(pos->id, sizeof pos->id, "%s", colon + 1);
    return true;
}

static bool valid_operator_pos(const char *cursor)
{
    struct db_list_pos pos;
    return api_list_pos_parse(cursor, &pos, true);
}

static bool valid_station_pos(const char *cursor)
{
    struct db_list_pos pos;
    return api_list_pos_parse(cursor, &pos, false);
}

/* Answers a page of callbacks fetched with limit + 1 rows. `with_id`: operator positions. */
void api_reply_callback_page(struct api_request *r, struct cb_callback *rows, int n, int limit,
                             const struct db_list_pos *pos, bool with_id)
{
    bool backward = pos && pos->backward;
    bool more = n > limit;
    struct cb_callback *first = rows + (backward && more ? 1 : 0);
    int count = more ? limit : n;
    json_t *items = json_array();
    for (int i = 0; i < count; i++)
        json_array_append_new(items, api_callback_json(&first[i]));
    char next[96], prev[96];
    bool has_next = count > 0 && (backward || more);
    bool has_prev = count > 0 && (backward ? more : pos != NULL);
    if (with_id && count > 0) {
        snprintf(next, sizeof next, "n:%lld:%s", (long long)first[count - 1].created_at,
                 first[count - 1].id);
        snprintf(prev, sizeof prev, "p:%lld:%s", (long long)first[0].created_at, first[0].id);
    } else if (count > 0) {
        snprintf(next, sizeof next, "n:%lld", (long long)first[count - 1].seq);
        snprintf(prev, sizeof prev, "p:%lld", (long long)first[0].seq);
    }
    api_reply_json(r, 200, api_list_answer(items, has_next ? next : NULL, has_prev ? prev : NULL));
}

bool api_page_params(struct api_request *r, int *limit, struct db_list_pos *pos, bool *has_pos,
                     bool with_id, json_t *errors)
{
    char cursor[API_CURSOR_MAX];
    bool ok =
        api_list_params(r, with_id ? valid_operator_pos : valid_station_pos, limit, cursor, errors);
    *has_pos = ok && cursor[0];
    if (*has_pos)
        api_list_pos_parse(cursor, pos, with_id); /* checked by api_list_params */
    return ok;
}

void api_callbacks_list(struct api_request *r)
{
    json_t *errors = json_array();
    struct db_callback_filter f = {0};
    int limit;
    struct db_list_pos pos;
    bool has_pos;
    api_page_params(r, &limit, &pos, &has_pos, true, errors);
    f.requester = api_query(r, "requester", errors);
    f.target = api_query(r, "target", errors);
    if (f.requester && !cb_number_valid(f.requester))
        api_field_error(errors, "requester", "must be a directory number");
    if (f.target && !cb_number_valid(f.target))
        api_field_error(errors, "target", "must be a directory number");
    const char *states[8];
    int n_states = api_query_all(r, "state", states, 8, errors);
    for (int i = 0; i < n_states; i++) {
        if (!strcmp(states[i], "active")) {
            static const char *const ACTIVE[] = {"pending", "notifying", "recalling", "queued",
                                                 "message_left"};
            for (int k = 0; k < 5 && f.n_states < 8; k++)
                f.states[f.n_states++] = ACTIVE[k];
        } else if (cb_state_parse(states[i]) < 0)
            api_field_error(errors, "state", "must be a callback state or \"active\", not %s",
                            states[i]);
        else if (f.n_states < 8)
            f.states[f.n_states++] = states[i];
    }
    const char *after = api_query(r, "created_after", errors);
    const char *before = api_query(r, "created_before", errors);
    if (after && !cb_rfc3339_parse(after, &f.created_after_ms))
        api_field_error(errors, "created_after", "must be an RFC 3339 time");
    if (before && !cb_rfc3339_parse(before, &f.created_before_ms))
        api_field_error(errors, "created_before", "must be an RFC 3339 time");
    if (api_refuse_invalid(r, errors))
        return;
    struct db_conn *c = api_conn(r);
    if (!c)
        return;
    struct cb_callback *rows = calloc((size_t)limit + 1, sizeof *rows);
    int n = 0;
    enum db_status st =
        rows ? db_callback_list(c, &f, has_pos ? &pos : NULL, limit + 1, rows, &n) : DB_ERROR;
    api_conn_release(r, c);
    if (st != DB_OK)
        api_reply_db_error(r, st);
    else
        api_reply_callback_page(r, rows, n, limit, has_pos ? &pos : NULL, true);
    free(rows);
}
