#include "service/hmac.h"
#include "service/hex.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <string.h>

bool cb_hmac_signature_hex(const char *secret, const char *timestamp, const void *body,
                           size_t body_len, char out[CB_SIGNATURE_HEX_LEN + 1])
{
    bool ok = false;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    char digest_name[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
        OSSL_PARAM_construct_end(),
    };
    unsigned char raw[32];
    size_t raw_len = 0;
    if (!ctx || !EVP_MAC_init(ctx, (const unsigned char *)secret, strlen(secret), params) ||
        !EVP_MAC_update(ctx, (const unsigned char *)timestamp, strlen(timestamp)) ||
        !EVP_MAC_update(ctx, (const unsigned char *)".", 1) ||
        (body_len && !EVP_MAC_update(ctx, body, body_len)) ||
        !EVP_MAC_final(ctx, raw, &raw_len, sizeof raw) || raw_len != sizeof raw)
        goto out;
    cb_hex(raw, sizeof raw, out);
    ok = true;
out:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ok;
}

bool cb_hmac_signature_header(const char *secret, const char *timestamp, const void *body,
                              size_t body_len, char out[CB_SIGNATURE_HEADER_MAX])
{
    memcpy(out, "v1=", 3);
    return cb_hmac_signature_hex(secret, timestamp, body, body_len, out + 3);
}
