/* RFC 3339 times as clients send them (openapi.yaml: times are RFC 3339): one strict parser for the
 * API's query parameters and the PBX events' `at`. */
#ifndef CB_RFC3339_H
#define CB_RFC3339_H

#include <stdbool.h>
#include <stdint.h>

/* Parses "2026-11-25T10:00:00Z" (fractions and +hh:mm / -hh:mm offsets allowed, years
 * 0000-9999, every field in its range) into milliseconds since the epoch. False for anything
 * else, spaces and signs included. */
bool cb_rfc3339_parse(const char *s, int64_t *ms);

#endif
