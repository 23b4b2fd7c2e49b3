/* The PBX signature of openapi.yaml, shared by the event webhook (verify) and the command
 * dispatcher (sign): lower-case hex HMAC-SHA256, keyed with CALLBACKD_PBX_SECRET, of
 * "<timestamp>.<body>". */
#ifndef CB_HMAC_H
#define CB_HMAC_H

#include <stdbool.h>
#include <stddef.h>

#define CB_SIGNATURE_HEX_LEN 64
/* "v1=" + hex + NUL */
#define CB_SIGNATURE_HEADER_MAX (3 + CB_SIGNATURE_HEX_LEN + 1)

/* Computes the hex signature of `timestamp` "." `body` into `out` (65 bytes). False on an
 * OpenSSL failure. */
bool cb_hmac_signature_hex(const char *secret, const char *timestamp, const void *body,
                           size_t body_len, char out[CB_SIGNATURE_HEX_LEN + 1]);
/* The X-Callbackd-Signature header value ("v1=<hex>") for `body` at `timestamp`. */
bool cb_hmac_signature_header(const char *secret, const char *timestamp, const void *body,
                              size_t body_len, char out[CB_SIGNATURE_HEADER_MAX]);

#endif
