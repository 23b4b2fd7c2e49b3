/* One HTTP request as the handlers see it, and the ways to answer it. */
#ifndef API_HTTP_H
#define API_HTTP_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/problem.h"
#include "service/app.h"
#include "service/core/model.h"

enum api_method {
    API_GET = 1,
    API_PUT = 2,
    API_POST = 4,
    API_DELETE = 8,
    API_HEAD = 16,
};

#define API_MAX_PARAMS         3
#define API_PARAM_MAX          160
#define API_MAX_STATION_SCOPES 8
#define API_MAX_HEADERS        4

/* Who is calling, from the bearer token. */
struct api_principal {
    bool authenticated;
    bool admin;
    bool operator;
    char token_id[40];    /* tokens.id, or "admin" for the bootstrap token */
    int64_t expires_ms;   /* when the token expires (ms since the epoch), 0 for never */
    uint64_t cache_epoch; /* the token cache's epoch before the token was verified (api/auth.h) */
    int n_stations;
    char stations[API_MAX_STATION_SCOPES][CB_NUMBER_MAX]; /* station:<n> scopes */
};

struct api_route;

struct api_request {
    struct cb_app *app;
    struct MHD_Connection *conn;
    char request_id[33];
    enum api_method method;  /* 0 for a method no route uses (PATCH...) */
    const char *method_text; /* as received; valid for the request */
    const char *path;        /* MHD's unescaped URL path; valid for the request */
    const struct api_route *route;
    int route_index;
    char params[API_MAX_PARAMS][API_PARAM_MAX]; /* path parameters in order */
    int n_params;
    char *body;
    size_t body_len, body_cap, body_limit;
    size_t body_seen;         /* bytes of body received, kept or not */
    bool body_too_large;      /* over body_limit: what arrives is dropped, then 413 */
    bool headers_seen;        /* the request line and headers are in (api/server.c) */
    bool admitted;            /* routed and authenticated (before the body when there is one) */
    bool arrived;             /* headers and body are in: the request's deadline is stopped */
    bool in_flight;           /* counted in the server's requests in flight */
    size_t uri_len, uri_args; /* of a URI over the limits (uri_len 0: within them) */
    json_t *json;             /* the parsed body of a JSON request; owned */
    struct api_principal who;
    unsigned status;
    uint64_t started_ns;
    bool replied;
    int n_headers;
    char headers[API_MAX_HEADERS][2][256];
    struct MHD_Response *response; /* the answer, until the HTTP thread queues it */
    /* On a request thread (api/runner.c) while the connection is suspended: its admission at
     * headers (a token only the database knows), or the request once arrived whole. */
    bool submitted;
    atomic_bool served;
    uint64_t queued_ns;
    struct api_request *next_queued;
};

/* Answers with `body` as JSON (the reference is stolen; NULL answers with no body). */
void api_reply_json(struct api_request *r, unsigned status, json_t *body);
/* Answers with `body` (malloc'd, taken; NULL for none) of content type `ctype`. */
void api_reply_raw(struct api_request *r, unsigned status, const char *ctype, char *body,
                   size_t len);
/* Answers with `resp` (taken), adding the request id, CORS and api_add_header's headers. */
void api_reply_response(struct api_request *r, unsigned status, struct MHD_Response *resp);
/* Answers with no body (204, 202...). */
void api_reply_empty(struct api_request *r, unsigned status);
/* Answers with problem+json for `e`; `detail` is a printf format (NULL: the title). */
void api_reply_problem(struct api_request *r, enum api_error e, const char *detail, ...)
    __attribute__((format(printf, 3, 4)));
/* Answers 422 validation_failed with `errors` ([{field, message}], stolen). */
void api_reply_validation(struct api_request *r, json_t *errors);
/* Answers 422 with `errors` and returns true when there is one; otherwise frees the empty array
 * and returns false (the handler goes on). */
bool api_refuse_invalid(struct api_request *r, json_t *errors);
/* After a write transaction whose checks abort it (DB_ABORT) with entries in `errors`: answers
 * 422 with them, or the database's error, and returns false; returns true (the array freed)
 * when the transaction committed. */
bool api_write_committed(struct api_request *r, int db_status, json_t *errors);
/* Answers the problem for a database outcome (503 when unavailable, 500 otherwise). */
void api_reply_db_error(struct api_request *r, int db_status);

/* Takes a pooled connection for a read; answers 503 and returns NULL when there is none. */
struct db_conn;
struct db_conn *api_conn(struct api_request *r);
/* Gives it back. */
void api_conn_release(struct api_request *r, struct db_conn *c);
/* Adds a header to the coming answer (Location, Allow). */
void api_add_header(struct api_request *r, const char *name, const char *value);
/* How many times the request has header `name` (case-insensitive); `*value` is the first, or
 * NULL. Callers refuse a header the API reads once when it comes more than once. */
int api_header(struct api_request *r, const char *name, const char **value);
/* The current time in milliseconds since the epoch (the edge passes it to the core). */
int64_t api_now_ms(void);

#endif
