/* Declarative input: one field-spec parser for every JSON body (STYLE.md 2), and the format
 * checks of openapi.yaml (directory numbers, COS ids). Produces the 422 `errors` entries. */
#ifndef API_VALIDATE_H
#define API_VALIDATE_H

#include "service/core/core.h" /* cb_number_valid */
#include "service/ids.h"       /* cb_uuid_valid */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum api_field_type {
    API_F_BOOL,         /* bool *dest */
    API_F_INT,          /* int64_t *dest, within [min, max] */
    API_F_STRING,       /* char dest[max + 1], length within [min, max], optional `check` */
    API_F_NUMBER,       /* char dest[CB_NUMBER_MAX]: a directory number */
    API_F_ENUM,         /* int *dest: index into `values` */
    API_F_STRING_ARRAY, /* json_t **dest (borrowed): strings passing `check`, at most `max` */
    API_F_OBJECT,       /* json_t **dest (borrowed): an object the caller parses further */
    API_F_IGNORED,      /* a read-only field (e.g. from a GET) that is accepted and ignored */
};

struct api_field {
    const char *name;
    enum api_field_type type;
    bool required;
    bool
        nullable; /* null is taken as absent (dest untouched), e.g. a GET's "console_group": null */
    void *dest;
    bool *present; /* optional: set when the field was given */
    int64_t min, max;
    const char *const *values;    /* API_F_ENUM: NULL-terminated */
    bool (*check)(const char *s); /* API_F_STRING, API_F_STRING_ARRAY elements */
    const char *expect;           /* what a valid value is, for messages */
};

/* Parses `obj` against `fields`: fills each dest, appends {field, message} to `errors` for
 * each invalid, missing or unknown field (named with `prefix`, e.g. "fac."). Returns true
 * when no error was added. */
bool api_parse_fields(json_t *obj, const struct api_field *fields, size_t n, json_t *errors,
                      const char *prefix);
/* Appends one {field, message} entry. */
void api_field_error(json_t *errors, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* (A directory number: cb_number_valid of the core; a UUID: cb_uuid_valid of service/ids.h.) */
/* A class of service id: 1-32 letters, digits, - or _. */
bool api_valid_cos_id(const char *s);
/* A FAC code: empty (disabled) or a directory number. */
bool api_valid_fac(const char *s);
/* A trunk line id: 1-64 printable characters without "/". */
bool api_valid_line_id(const char *s);
/* An Idempotency-Key: 1-255 printable ASCII characters. */
bool api_valid_idempotency_key(const char *s);

/* `n` bytes of UTF-8 text: no NUL, no overlong form, no surrogate, nothing past U+10FFFF. What
 * the outside sends (path, query, headers) must pass before it reaches a query or a JSON text. */
bool api_valid_utf8(const char *s, size_t n);
/* Copies `s` into `out` (NUL-terminated, cut to fit) with every byte that is not valid UTF-8,
 * and every control character, written as %XX: safe for a log line or a problem's detail. */
void api_printable(const char *s, char *out, size_t size);
/* A whole number in decimal digits only (no sign, no space) from 0 to `max`. */
bool api_parse_whole(const char *s, int64_t max, int64_t *out);

#endif
