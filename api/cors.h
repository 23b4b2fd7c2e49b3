/* CORS for browser clients on another origin (CALLBACKD_CORS_ORIGINS): the headers of an answer
 * to an allowed origin, and the preflight. Tokens are bearer tokens, never cookies: there is no
 * credentials mode. */
#ifndef API_CORS_H
#define API_CORS_H

#include "api/http.h"

/* Adds Access-Control-Allow-Origin, Vary and Access-Control-Expose-Headers to `resp` when the
 * request's Origin is allowed; nothing otherwise. */
void api_cors_headers(struct api_request *r, struct MHD_Response *resp);
/* Answers a preflight (OPTIONS with Access-Control-Request-Method on a /v1/ path) of an allowed
 * origin: 204 with the route's methods, or 404 for a path that has no route. True when
 * answered; false leaves the request to the usual path (an OPTIONS is then 405 or 404). */
bool api_cors_preflight(struct api_request *r);

#endif
