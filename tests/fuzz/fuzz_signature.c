/* libFuzzer target: the PBX webhook's authentication headers, api_pbx_signature_check().
 *
 * The input is "<X-Callbackd-Timestamp>\n<X-Callbackd-Signature>\n<raw body>"; a missing line is
 * a missing header. The signature "good" stands for the right one (cb_hmac_signature_header()
 * of the timestamp and body), so that the fuzzer also reaches the end of the check: with it,
 * the check must pass exactly when the timestamp is 1-18 digits within the allowed skew. */
#include "api/signature.h"
#include "service/hmac.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "fuzz-secret-0123456789abcdef"
#define NOW_S  1764000000LL

/* Takes the next line of [*p, end) as a string (malloc'd), or NULL when there is none. */
static char *next_line(const char **p, const char *end)
{
    if (*p >= end)
        return NULL;
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    const char *stop = nl ? nl : end;
    char *line = strndup(*p, (size_t)(stop - *p));
    *p = nl ? nl + 1 : end;
    return line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    char *ts = next_line(&p, end);
    char *sig = next_line(&p, end);
    const char *body = p;
    size_t body_len = (size_t)(end - p);
    bool good = sig && ts && !strcmp(sig, "good");
    char right[CB_SIGNATURE_HEADER_MAX];
    if (good) {
        if (!cb_hmac_signature_header(SECRET, ts, body, body_len, right)) {
            fprintf(stderr, "fuzz_signature: no signature computed\n");
            abort();
        }
        free(sig);
        sig = strdup(right);
    }
    const char *why = NULL;
    bool valid = api_pbx_signature_check(SECRET, ts, sig, body, body_len, NOW_S, &why);
    if (!valid && !why) {
        fprintf(stderr, "fuzz_signature: refused without a reason\n");
        abort();
    }
    if (good) {
        size_t n = strlen(ts);
        bool fresh = n >= 1 && n <= 18 && strspn(ts, "0123456789") == n &&
                     llabs(NOW_S - strtoll(ts, NULL, 10)) <= API_SIGNATURE_MAX_SKEW_S;
        if (valid != fresh) {
            fprintf(stderr, "fuzz_signature: timestamp \"%s\" with the right signature: %s\n", ts,
                    valid ? "accepted" : why);
            abort();
        }
    }
    free(ts);
    free(sig);
    return 0;
}
