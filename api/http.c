/* The ways to answer a request and to read its headers (api/http.h), for the handlers and the
 * server alike. An answer is made on whatever thread serves the request, an HTTP thread or a
 * request thread (api/runner.c); it is only stored in the request here, and api/server.c queues
 * it on the connection's own thread, the only one libmicrohttpd takes it from. */
#include "api/http.h"
#include "api/cors.h"
#include "api/validate.h"
#include "db/outage.h"
#include "db/pool.h"
#include "service/decide.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int64_t api_now_ms(void)
{
    return cb_service_now();
}

void api_reply_raw(struct api_request *r, unsigned status, const char *ctype, char *body,
                   size_t len)
{
    if (r->replied) {
        free(body);
        return;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, body ? body : (char *)"", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return;
    }
    if (ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    api_reply_response(r, status, resp);
}

void api_reply_response(struct api_request *r, unsigned status, struct MHD_Response *resp)
{
    if (r->replied) {
        MHD_destroy_response(resp);
        return;
    }
    MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    api_cors_headers(r, resp);
    for (int i = 0; i < r->n_headers; i++)
        MHD_add_response_header(resp, r->headers[i][0], r->headers[i][1]);
    r->response = resp; /* queued by the connection's HTTP thread (api/server.c) */
    r->status = status;
    r->replied = true;
}

void api_add_header(struct api_request *r, const char *name, const char *value)
{
    if (r->n_headers >= API_MAX_HEADERS)
        return;
    snprintf(r->headers[r->n_headers][0], sizeof r->headers[0][0], "%s", name);
    snprintf(r->headers[r->n_headers][1], sizeof r->headers[0][1], "%s", value);
    r->n_headers++;
}

void api_reply_json(struct api_request *r, unsigned status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (body && !text) {
        api_reply_problem(r, API_INTERNAL_ERROR, "out of memory");
        return;
    }
    api_reply_raw(r, status, text ? "application/json" : NULL, text, text ? strlen(text) : 0);
}

void api_reply_empty(struct api_request *r, unsigned status)
{
    api_reply_raw(r, status, NULL, NULL, 0);
}

static void reply_problem_doc(struct api_request *r, enum api_error e, const char *detail,
                              json_t *errors)
{
    const struct api_problem_kind *k = api_problem_kind(e);
    if (e == API_SERVICE_UNAVAILABLE)
        db_outage_refused(); /* counted for the outage's summary line */
    char type[96], safe[3 * 512];
    snprintf(type, sizeof type, "https://callbackd.dev/problems/%s", k->code);
    /* The detail may quote the path or a header as received: never let it empty the body. */
    api_printable(detail ? detail : k->title, safe, sizeof safe);
    json_t *doc = json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", type, "title", k->title, "status",
                            (int)k->status, "detail", safe, "code", k->code);
    if (doc && errors)
        json_object_set_new(doc, "errors", errors);
    else
        json_decref(errors);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    api_reply_raw(r, k->status, "application/problem+json", text, text ? strlen(text) : 0);
}

void api_reply_problem(struct api_request *r, enum api_error e, const char *detail, ...)
{
    char text[512];
    if (detail) {
        va_list ap;
        va_start(ap, detail);
        vsnprintf(text, sizeof text, detail, ap);
        va_end(ap);
    }
    reply_problem_doc(r, e, detail ? text : NULL, NULL);
}

void api_reply_validation(struct api_request *r, json_t *errors)
{
    const char *first = NULL;
    if (json_array_size(errors) > 0)
        first = json_string_value(json_object_get(json_array_get(errors, 0), "message"));
    char detail[300];
    snprintf(detail, sizeof detail, "%s%s", first ? first : "the request is not valid",
             json_array_size(errors) > 1 ? " (and more: see errors)" : "");
    reply_problem_doc(r, API_VALIDATION_FAILED, detail, errors);
}

bool api_refuse_invalid(struct api_request *r, json_t *errors)
{
    if (json_array_size(errors) == 0) {
        json_decref(errors);
        return false;
    }
    api_reply_validation(r, errors);
    return true;
}

bool api_write_committed(struct api_request *r, int db_status, json_t *errors)
{
    if (db_status == DB_ABORT) {
        api_reply_validation(r, errors);
        return false;
    }
    json_decref(errors);
    if (db_status != DB_OK)
        api_reply_db_error(r, db_status);
    return db_status == DB_OK;
}

void api_reply_db_error(struct api_request *r, int db_status)
{
    if (db_status == DB_UNAVAILABLE)
        api_reply_problem(r, API_SERVICE_UNAVAILABLE,
                          "the database is unreachable or did not answer in time; retry later");
    else
        api_reply_problem(r, API_INTERNAL_ERROR, "database error (request %s)", r->request_id);
}

struct header_count {
    const char *name;
    const char *first;
    int n;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    struct header_count *h = cls;
    if (key && strcasecmp(key, h->name) == 0 && h->n++ == 0)
        h->first = value ? value : "";
    return MHD_YES;
}

int api_header(struct api_request *r, const char *name, const char **value)
{
    struct header_count h = {name, NULL, 0};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_header, &h);
    *value = h.first;
    return h.n;
}

struct db_conn *api_conn(struct api_request *r)
{
    enum db_status why;
    struct db_conn *c = db_pool_acquire(r->app->pool, &why);
    if (!c)
        api_reply_db_error(r, why);
    return c;
}

void api_conn_release(struct api_request *r, struct db_conn *c)
{
    db_pool_release(r->app->pool, c);
}
