/* CORS (api/cors.h). An allowed origin is one of the exact origins of CALLBACKD_CORS_ORIGINS,
 * or any with "*"; an Origin header given twice is no origin. A preflight needs no token: the
 * browser sends none with it. */
#include "api/cors.h"
#include "api/router.h"
#include "service/config.h"

#include <stdio.h>
#include <string.h>

#define ALLOW_HEADERS  "Authorization, Content-Type, Idempotency-Key, Last-Event-ID"
#define EXPOSE_HEADERS "Location, X-Request-Id"
#define MAX_AGE_S      "600"

/* The request's origin when it is allowed, else NULL. */
static const char *allowed_origin(struct api_request *r)
{
    const struct cb_config *cfg = r->app->cfg;
    if (!cfg->cors_origins)
        return NULL;
    const char *origin;
    if (api_header(r, "Origin", &origin) != 1 || !*origin)
        return NULL;
    if (cfg->cors_any)
        return origin;
    size_t n = strlen(origin);
    for (const char *p = cfg->cors_origins; p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && !memcmp(p, origin, n))
            return origin;
        p = end ? end + 1 : NULL;
    }
    return NULL;
}

void api_cors_headers(struct api_request *r, struct MHD_Response *resp)
{
    const char *origin = allowed_origin(r);
    if (!origin)
        return;
    MHD_add_response_header(resp, "Access-Control-Allow-Origin",
                            r->app->cfg->cors_any ? "*" : origin);
    MHD_add_response_header(resp, "Vary", "Origin");
    MHD_add_response_header(resp, "Access-Control-Expose-Headers", EXPOSE_HEADERS);
}

bool api_cors_preflight(struct api_request *r)
{
    const char *wanted;
    if (strcmp(r->method_text, "OPTIONS") != 0 || strncmp(r->path, "/v1/", 4) != 0 ||
        api_header(r, "Access-Control-Request-Method", &wanted) < 1 || !allowed_origin(r))
        return false;
    char allow[128];
    /* No method is 0: a known path answers -2 with its methods. */
    if (api_route_match(r, r->path, 0, allow, sizeof allow) != -2) {
        api_reply_problem(r, API_NOT_FOUND, "no resource at %s", r->path);
        return true;
    }
    api_add_header(r, "Access-Control-Allow-Methods", allow);
    api_add_header(r, "Access-Control-Allow-Headers", ALLOW_HEADERS);
    api_add_header(r, "Access-Control-Max-Age", MAX_AGE_S);
    api_reply_empty(r, 204);
    return true;
}
