#include "api/validate.h"
#include "service/core/model.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void api_field_error(json_t *errors, const char *field, const char *fmt, ...)
{
    char msg[256], safe_msg[3 * sizeof msg], safe_field[3 * 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* A message may quote what the client sent: the entry must exist whatever its bytes. */
    api_printable(msg, safe_msg, sizeof safe_msg);
    api_printable(field, safe_field, sizeof safe_field);
    json_array_append_new(errors,
                          json_pack("{s:s, s:s}", "field", safe_field, "message", safe_msg));
}

/* The length of the UTF-8 sequence at `s` (at most `n` bytes), 0 when it is not one. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    if (s[0] >= 0x01 && s[0] <= 0x7f)
        return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xbf; /* the range of the second byte */
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        if (s[0] == 0xe0)
            lo = 0xa0; /* overlong */
        else if (s[0] == 0xed)
            hi = 0x9f; /* UTF-16 surrogates */
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        if (s[0] == 0xf0)
            lo = 0x90; /* overlong */
        else if (s[0] == 0xf4)
            hi = 0x8f; /* past U+10FFFF */
    } else
        return 0; /* NUL, a continuation byte, 0xc0, 0xc1 (overlong) or 0xf5-0xff */
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

bool api_valid_utf8(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0, len; i < n; i += len)
        if ((len = utf8_sequence(u + i, n - i)) == 0)
            return false;
    return true;
}

void api_printable(const char *s, char *out, size_t size)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), used = 0;
    if (size == 0)
        return;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_sequence(u + i, n - i);
        bool escape = len == 0 || u[i] < 0x20 || u[i] == 0x7f;
        size_t need = escape ? 3 : len;
        if (used + need >= size)
            break;
        if (escape) {
            snprintf(out + used, 4, "%%%02X", u[i]);
            i++;
        } else {
            memcpy(out + used, u + i, len);
            i += len;
        }
        used += need;
    }
    out[used] = '\0';
}

bool api_parse_whole(const char *s, int64_t max, int64_t *out)
{
    size_t n = strlen(s);
    if (n < 1 || n > 19 || strspn(s, "0123456789") != n)
        return false;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE || v > max)
        return false;
    *out = (int64_t)v;
    return true;
}

bool api_valid_idempotency_key(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

bool api_valid_cos_id(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 32 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

bool api_valid_fac(const char *s)
{
    return !*s || cb_number_valid(s);
}

bool api_valid_line_id(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || s[i] == '/' || s[i] == 0x7f)
            return false;
    return true;
}

static const char *type_word(const json_t *v)
{
    if (!v)
        return "nothing";
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

/* Parses one present field; returns false (and adds an error) when it is invalid. */
static bool parse_one(const struct api_field *f, json_t *v, const char *name, json_t *errors)
{
    switch (f->type) {
    case API_F_IGNORED:
        return true;
    case API_F_BOOL:
        if (!json_is_boolean(v)) {
            api_field_error(errors, name, "must be true or false, not %s", type_word(v));
            return false;
        }
        *(bool *)f->dest = json_is_true(v);
        return true;
    case API_F_INT: {
        if (!json_is_integer(v)) {
            api_field_error(errors, name, "must be an integer, not %s", type_word(v));
            return false;
        }
        json_int_t n = json_integer_value(v);
        if (n < f->min || n > f->max) {
            api_field_error(errors, name, "must be from %lld to %lld", (long long)f->min,
                            (long long)f->max);
            return false;
        }
        *(int64_t *)f->dest = (int64_t)n;
        return true;
    }
    case API_F_NUMBER:
        if (!json_is_string(v) || !cb_number_valid(json_string_value(v))) {
            api_field_error(errors, name,
                            "must be a directory number (1-32 characters of 0-9 * #)");
            return false;
        }
        snprintf(f->dest, CB_NUMBER_MAX, "%s", json_string_value(v));
        return true;
    case API_F_STRING: {
        if (!json_is_string(v)) {
            api_field_error(errors, name, "must be a string, not %s", type_word(v));
            return false;
        }
        const char *s = json_string_value(v);
        size_t len = strlen(s);
        if ((int64_t)len < f->min || (int64_t)len > f->max || (f->check && !f->check(s))) {
            api_field_error(errors, name, "must be %s",
                            f->expect ? f->expect : "a string of the right length");
            return false;
        }
        memcpy(f->dest, s, len + 1);
        return true;
    }
    case API_F_ENUM: {
        const char *s = json_string_value(v);
        for (int i = 0; s && f->values[i]; i++)
            if (!strcmp(s, f->values[i])) {
                *(int *)f->dest = i;
                return true;
            }
        char list[256] = "";
        for (int i = 0; f->values[i]; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                     f->values[i]);
        api_field_error(errors, name, "must be one of %s", list);
        return false;
    }
    case API_F_STRING_ARRAY: {
        if (!json_is_array(v)) {
            api_field_error(errors, name, "must be an array, not %s", type_word(v));
            return false;
        }
        if ((int64_t)json_array_size(v) > f->max || (int64_t)json_array_size(v) < f->min) {
            api_field_error(errors, name, "must have from %lld to %lld items", (long long)f->min,
                            (long long)f->max);
            return false;
        }
        bool ok = true;
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (!json_is_string(e) || (f->check && !f->check(json_string_value(e)))) {
                char item[160];
                snprintf(item, sizeof item, "%s[%zu]", name, i);
                api_field_error(errors, item, "must be %s", f->expect ? f->expect : "a string");
                ok = false;
            }
        }
        if (ok)
            *(json_t **)f->dest = v;
        return ok;
    }
    case API_F_OBJECT:
        if (!json_is_object(v)) {
            api_field_error(errors, name, "must be an object, not %s", type_word(v));
            return false;
        }
        *(json_t **)f->dest = v;
        return true;
    }
    return false;
}

bool api_parse_fields(json_t *obj, const struct api_field *fields, size_t n, json_t *errors,
                      const char *prefix)
{
    size_t before = json_array_size(errors);
    char name[128];
    for (size_t i = 0; i < n; i++) {
        const struct api_field *f = &fields[i];
        snprintf(name, sizeof name, "%s%s", prefix, f->name);
        json_t *v = json_object_get(obj, f->name);
        if (v && json_is_null(v) && f->nullable)
            v = NULL;
        if (f->present)
            *f->present = v != NULL;
        if (!v) {
            if (f->required)
                api_field_error(errors, name, "is required");
            continue;
        }
        parse_one(f, v, name, errors);
    }
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool known = false;
        for (size_t i = 0; i < n && !known; i++)
            known = !strcmp(key, fields[i].name);
        if (!known) {
            snprintf(name, sizeof name, "%s%s", prefix, key);
            api_field_error(errors, name, "is not a known field");
        }
    }
    return json_array_size(errors) == before;
}
