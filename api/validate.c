#include "api/validate.h"
#include "service/core/model.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void api_field_error(json_t *errors, const char *field, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(errors, json_pack("{s:s, s:s}", "field", field, "message", msg));
}

bool api_valid_number(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 32 && strspn(s, "0123456789*#") == n;
}

bool api_valid_cos_id(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 32 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

bool api_valid_fac(const char *s)
{
    return !*s || api_valid_number(s);
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

bool api_valid_uuid(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]))
            return false;
    }
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
    case API_F_NUMBER_NULL:
        if (json_is_null(v)) {
            *(char *)f->dest = '\0';
            return true;
        }
        /* fall through */
    case API_F_NUMBER:
        if (!json_is_string(v) || !api_valid_number(json_string_value(v))) {
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
