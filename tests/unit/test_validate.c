/* The field-spec parser and format checks: every 422 entry of openapi.yaml comes from here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "api/validate.h"
#include "service/core/model.h"

static const char *const KINDS[] = {"ip_phone", "analog", NULL};

struct body {
    bool flag;
    int64_t count;
    char number[CB_NUMBER_MAX];
    int kind;
};

static json_t *parse(const char *text, struct body *b, bool *ok)
{
    json_t *obj = json_loads(text, 0, NULL);
    json_t *errors = json_array();
    const struct api_field fields[] = {
        {.name = "flag", .type = API_F_BOOL, .required = true, .dest = &b->flag},
        {.name = "count", .type = API_F_INT, .dest = &b->count, .min = 1, .max = 10},
        {.name = "number", .type = API_F_NUMBER, .dest = b->number},
        {.name = "kind", .type = API_F_ENUM, .dest = &b->kind, .values = KINDS},
    };
    *ok = api_parse_fields(obj, fields, 4, errors, "");
    json_decref(obj);
    return errors;
}

static const char *field_of(json_t *errors, size_t i)
{
    return json_string_value(json_object_get(json_array_get(errors, i), "field"));
}

static void test_valid_body_fills_destinations(void **state)
{
    (void)state;
    struct body b = {0};
    bool ok;
    json_t *errors = parse(
        "{\"flag\": true, \"count\": 3, \"number\": \"*41#\", \"kind\": \"analog\"}", &b, &ok);
    assert_true(ok);
    assert_int_equal(json_array_size(errors), 0);
    assert_true(b.flag);
    assert_int_equal(b.count, 3);
    assert_string_equal(b.number, "*41#");
    assert_int_equal(b.kind, 1);
    json_decref(errors);
}

static void test_one_error_per_invalid_field(void **state)
{
    (void)state;
    struct body b = {0};
    bool ok;
    json_t *errors =
        parse("{\"count\": 11, \"number\": \"12a\", \"kind\": \"fax\", \"extra\": 1}", &b, &ok);
    assert_false(ok);
    assert_int_equal(json_array_size(errors), 5);
    assert_string_equal(field_of(errors, 0), "flag"); /* required */
    assert_string_equal(field_of(errors, 1), "count");
    assert_string_equal(field_of(errors, 2), "number");
    assert_string_equal(field_of(errors, 3), "kind");
    assert_string_equal(field_of(errors, 4), "extra"); /* unknown */
    json_decref(errors);
}

static void test_wrong_types(void **state)
{
    (void)state;
    struct body b = {0};
    bool ok;
    json_t *errors = parse("{\"flag\": \"yes\", \"count\": 2.5}", &b, &ok);
    assert_false(ok);
    assert_int_equal(json_array_size(errors), 2);
    json_decref(errors);
}

static void test_formats(void **state)
{
    (void)state;
    assert_true(cb_number_valid("2001"));
    assert_true(cb_number_valid("*#0"));
    assert_false(cb_number_valid(""));
    assert_false(cb_number_valid("123456789012345678901234567890123")); /* 33 */
    assert_false(cb_number_valid("20 1"));
    assert_true(api_valid_cos_id("gold_1-a"));
    assert_false(api_valid_cos_id("gold!"));
    assert_true(api_valid_fac(""));
    assert_false(api_valid_fac("A1"));
    assert_true(api_valid_line_id("9-1"));
    assert_false(api_valid_line_id("9/1"));
    assert_true(cb_uuid_valid("123e4567-e89b-12d3-a456-426614174000"));
    assert_false(cb_uuid_valid("123e4567e89b12d3a456426614174000"));
}

/* New ids are version 7: valid, version and variant bits set, the Unix milliseconds first, so
 * that ids made later sort after (the indexes keyed by them grow at their right edge). */
static void test_new_ids_are_time_ordered_version_7(void **state)
{
    (void)state;
    char a[37], b[37];
    struct timespec t0, t1;
    clock_gettime(CLOCK_REALTIME, &t0);
    cb_new_uuid(a);
    struct timespec pause = {.tv_nsec = 2000000};
    nanosleep(&pause, NULL);
    cb_new_uuid(b);
    clock_gettime(CLOCK_REALTIME, &t1);
    assert_true(cb_uuid_valid(a) && cb_uuid_valid(b));
    assert_int_equal(a[14], '7');
    assert_non_null(strchr("89ab", a[19]));
    char hex[13];
    memcpy(hex, a, 8);
    memcpy(hex + 8, a + 9, 4);
    hex[12] = 0;
    long long ms = strtoll(hex, NULL, 16);
    assert_true(ms >= t0.tv_sec * 1000LL + t0.tv_nsec / 1000000);
    assert_true(ms <= t1.tv_sec * 1000LL + t1.tv_nsec / 1000000);
    assert_true(strcmp(a, b) < 0);
    assert_true(strcmp(a + 14, b + 14) != 0); /* the rest is random */
}

static void test_utf8_and_printable(void **state)
{
    (void)state;
    assert_true(api_valid_utf8("2001 \xc3\xa9\xe2\x80\xa8\xf0\x9f\x93\x9e", 14));
    assert_true(api_valid_utf8("", 0));
    assert_false(api_valid_utf8("\xff", 1));
    assert_false(api_valid_utf8("\xc0\xaf", 2));         /* overlong "/" */
    assert_false(api_valid_utf8("\xe0\x80\xaf", 3));     /* overlong, 3 bytes */
    assert_false(api_valid_utf8("\xed\xa0\x80", 3));     /* UTF-16 surrogate */
    assert_false(api_valid_utf8("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
    assert_false(api_valid_utf8("\xc3", 1));             /* cut short */
    assert_false(api_valid_utf8("a\0b", 3));             /* NUL */
    char out[32];
    api_printable("/v1/\xff\xc3\xa9\n", out, sizeof out);
    assert_string_equal(out, "/v1/%FF\xc3\xa9%0A");
    api_printable("\xff\xff\xff", out, 7); /* cut at a whole escape */
    assert_string_equal(out, "%FF%FF");
}

static void test_whole_numbers(void **state)
{
    (void)state;
    int64_t v = -1;
    assert_true(api_parse_whole("0", 10, &v) && v == 0);
    assert_true(api_parse_whole("9223372036854775807", INT64_MAX, &v) && v == INT64_MAX);
    assert_false(api_parse_whole("9223372036854775808", INT64_MAX, &v));
    assert_false(api_parse_whole("99999999999999999999", INT64_MAX, &v));
    assert_false(api_parse_whole("11", 10, &v));
    assert_false(api_parse_whole("+1", 10, &v));
    assert_false(api_parse_whole(" 1", 10, &v));
    assert_false(api_parse_whole("", 10, &v));
    assert_true(api_valid_idempotency_key("a key ~"));
    assert_false(api_valid_idempotency_key("caf\xc3\xa9"));
    assert_false(api_valid_idempotency_key("a\tb"));
    assert_false(api_valid_idempotency_key(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_body_fills_destinations),
        cmocka_unit_test(test_new_ids_are_time_ordered_version_7),
        cmocka_unit_test(test_one_error_per_invalid_field),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_utf8_and_printable),
        cmocka_unit_test(test_whole_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
