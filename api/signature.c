#include "api/signature.h"
#include "api/validate.h"
#include "service/config.h"
#include "service/hmac.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

/* A replayed webhook is accepted until its timestamp is API_SIGNATURE_MAX_SKEW_S behind the
 * server's clock, up to twice that after it first arrived: its id must still be in the inbox. */
_Static_assert(CB_INBOX_RETENTION_MIN_S >= 2 * API_SIGNATURE_MAX_SKEW_S,
               "the inbox retention must outlast a replay's acceptance");

/* A timestamp is 1-18 decimal digits (no sign, spaces or fractions: api_parse_whole). */
#define TIMESTAMP_DIGITS_MAX 18

bool api_pbx_signature_check(const char *secret, const char *ts, const char *sig, const void *body,
                             size_t body_len, long long now_s, const char **why)
{
    int64_t when;
    if (!ts || !sig) {
        *why = "X-Callbackd-Timestamp and X-Callbackd-Signature are required, once each";
        return false;
    }
    if (strlen(ts) > TIMESTAMP_DIGITS_MAX || !api_parse_whole(ts, INT64_MAX, &when)) {
        *why = "X-Callbackd-Timestamp must be Unix time in seconds";
        return false;
    }
    if (llabs(now_s - when) > API_SIGNATURE_MAX_SKEW_S) {
        *why = "X-Callbackd-Timestamp is more than 300 s away from the server's clock";
        return false;
    }
    char want[CB_SIGNATURE_HEADER_MAX];
    if (!cb_hmac_signature_header(secret, ts, body, body_len, want)) {
        *why = "the signature could not be computed";
        return false;
    }
    /* Constant time: the comparison must not tell how many leading characters matched. */
    if (strlen(sig) != strlen(want) || CRYPTO_memcmp(sig, want, strlen(want)) != 0) {
        *why = "X-Callbackd-Signature does not match the body";
        return false;
    }
    return true;
}

bool api_pbx_signature_valid(struct api_request *r, long long now_s, const char **why)
{
    const char *ts, *sig;
    int n_ts = api_header(r, "X-Callbackd-Timestamp", &ts);
    int n_sig = api_header(r, "X-Callbackd-Signature", &sig);
    /* A header given twice counts as missing: which of the two would be the signed one? */
    return api_pbx_signature_check(r->app->cfg->pbx_secret, n_ts == 1 ? ts : NULL,
                                   n_sig == 1 ? sig : NULL, r->body, r->body_len, now_s, why);
}
