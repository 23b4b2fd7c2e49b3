/* Randomness at the edge: new ids for callbacks (the core never draws random numbers). */
#ifndef CB_IDS_H
#define CB_IDS_H

#include <stdbool.h>

/* Writes a new time-ordered (version 7) UUID in canonical lower-case text form: 48 bits of
 * Unix milliseconds, then 74 random bits. */
void cb_new_uuid(char out[37]);

/* Whether `s` is a UUID in text form: 8-4-4-4-12 hexadecimal digits, either case. */
bool cb_uuid_valid(const char *s);

#endif
