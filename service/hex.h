/* Bytes as lower-case hexadecimal text: signatures, hashes, random tokens and request ids, and
 * the bytea literals PostgreSQL takes for hashes. */
#ifndef CB_HEX_H
#define CB_HEX_H

#include <stdbool.h>
#include <stddef.h>

/* Writes the n bytes as 2n hex digits and a NUL: `out` holds 2n + 1 bytes. */
void cb_hex(const unsigned char *bytes, size_t n, char *out);

/* The same as a bytea literal, "\x" then the digits: `out` holds 2n + 3 bytes. */
void cb_hex_bytea(const unsigned char *bytes, size_t n, char *out);

/* n random bytes (OpenSSL's generator) as 2n hex digits. Aborts when no randomness is available:
 * ids and tokens made of anything else would collide or be guessed. */
void cb_random_hex(size_t n, char *out);

#endif
