/* The PBX webhook's authentication (API.md "PBX -> callbackd: events"): a fresh timestamp and
 * an HMAC signature of the raw body, checked before the body is parsed. */
#ifndef API_SIGNATURE_H
#define API_SIGNATURE_H

#include "api/http.h"

/* How far X-Callbackd-Timestamp may be from the server's clock. */
#define API_SIGNATURE_MAX_SKEW_S 300

/* Whether the request carries a valid signature of its raw body at a timestamp within
 * API_SIGNATURE_MAX_SKEW_S of `now_s`. On false `why` (a static string) says what is wrong. */
bool api_pbx_signature_valid(struct api_request *r, long long now_s, const char **why);

#endif
