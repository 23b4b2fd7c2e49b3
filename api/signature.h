/* The PBX webhook's authentication (openapi.yaml): a fresh timestamp and
 * an HMAC signature of the raw body, checked before the body is parsed. */
#ifndef API_SIGNATURE_H
#define API_SIGNATURE_H

#include "api/http.h"

/* How far X-Callbackd-Timestamp may be from the server's clock. */
#define API_SIGNATURE_MAX_SKEW_S 300

/* Whether `sig` (X-Callbackd-Signature) is the signature of `body` at `ts`
 * (X-Callbackd-Timestamp, NULL when absent like `sig`), keyed with `secret`, and `ts` is within
 * API_SIGNATURE_MAX_SKEW_S of `now_s`. On false `why` (a static string) says what is wrong. */
bool api_pbx_signature_check(const char *secret, const char *ts, const char *sig, const void *body,
                             size_t body_len, long long now_s, const char **why);
/* api_pbx_signature_check() of a request: its two headers, its raw body, CALLBACKD_PBX_SECRET. */
bool api_pbx_signature_valid(struct api_request *r, long long now_s, const char **why);

#endif
