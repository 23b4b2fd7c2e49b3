#include "service/hex.h"

#include <openssl/rand.h>
#include <stdlib.h>

void cb_hex(const unsigned char *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

void cb_hex_bytea(const unsigned char *bytes, size_t n, char *out)
{
    out[0] = '\\';
    out[1] = 'x';
    cb_hex(bytes, n, out + 2);
}

void cb_random_hex(size_t n, char *out)
{
    unsigned char raw[64];
    if (n > sizeof raw || RAND_bytes(raw, (int)n) != 1)
        abort();
    cb_hex(raw, n, out);
}
