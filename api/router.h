/* The route table: method + path pattern -> handler, with the auth each needs. */
#ifndef API_ROUTER_H
#define API_ROUTER_H

#include "api/http.h"

typedef void (*api_handler)(struct api_request *r);

/* Who may call a route. A token with any listed scope passes; handlers refine (e.g. a
 * station token may read only callbacks it set). */
enum {
    API_SCOPE_NONE = 0, /* no token needed (health, metrics, signed webhook) */
    API_SCOPE_ADMIN = 1,
    API_SCOPE_OPERATOR = 2,
    API_SCOPE_STATION_PARAM = 4, /* station:<the first path parameter> */
    API_SCOPE_STATION_ANY = 8,   /* any station:<n> token; the handler checks which */
    API_SCOPE_PBX_SIGNED = 16,   /* the PBX webhook: an HMAC of the raw body instead of a token,
                                    checked before the body is parsed (api/signature.c) */
};

/* What a route's path parameter is (api/inputs.c checks it before the handler runs). */
enum api_param_kind {
    API_PARAM_NONE = 0, /* no parameter (one found anyway must be UTF-8) */
    API_PARAM_NUMBER,   /* a directory number */
    API_PARAM_COS_ID,   /* a class of service id */
    API_PARAM_UUID,     /* a callback id */
};

#define API_BODY_LIMIT        (64 * 1024)
#define API_EVENTS_BODY_LIMIT (1024 * 1024)

struct api_route {
    unsigned methods;    /* one method per row */
    const char *pattern; /* "/v1/stations/{}" : {} matches one non-empty segment */
    api_handler handler;
    unsigned scopes;   /* API_SCOPE_* bits; API_SCOPE_NONE = public */
    size_t body_limit; /* 0 = API_BODY_LIMIT */
    const char *name;  /* for metrics and logs: the pattern with names */
    enum api_param_kind param;
};

extern const struct api_route api_routes[];
extern const int api_routes_count;

/* Finds the route for `method` and `path`, filling the request's params. Returns its index,
 * -1 when no pattern matches the path (404), -2 when the path matches with other methods
 * (405; `allow` receives them, comma-separated). */
int api_route_match(struct api_request *r, const char *path, unsigned method, char *allow,
                    size_t allow_len);
/* "GET" for API_GET and so on. */
const char *api_method_name(unsigned method);

#endif
