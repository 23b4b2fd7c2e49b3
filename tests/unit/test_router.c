/* Routing: path parameters, 404 for unknown paths, 405 with the allowed methods. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/router.h"

static void test_matches_with_parameters(void **state)
{
    (void)state;
    struct api_request r = {0};
    char allow[128];
    int i = api_route_match(&r, "/v1/stations/2001/callbacks", API_GET, allow, sizeof allow);
    assert_true(i >= 0);
    assert_string_equal(api_routes[i].name, "/v1/stations/{number}/callbacks");
    assert_int_equal(r.n_params, 1);
    assert_string_equal(r.params[0], "2001");
    i = api_route_match(&r, "/v1/callbacks/abc/history", API_GET, allow, sizeof allow);
    assert_true(i >= 0);
    assert_string_equal(r.params[0], "abc");
}

static void test_unknown_path_is_404(void **state)
{
    (void)state;
    struct api_request r = {0};
    char allow[128];
    assert_int_equal(api_route_match(&r, "/v1/nothing", API_GET, allow, sizeof allow), -1);
    assert_int_equal(api_route_match(&r, "/v1/stations/", API_GET, allow, sizeof allow), -1);
    assert_int_equal(api_route_match(&r, "/v1/stations/1/x/y", API_GET, allow, sizeof allow), -1);
}

static void test_known_path_other_method_is_405_with_allow(void **state)
{
    (void)state;
    struct api_request r = {0};
    char allow[128];
    assert_int_equal(api_route_match(&r, "/v1/system-options", API_DELETE, allow, sizeof allow),
                     -2);
    assert_non_null(strstr(allow, "GET"));
    assert_non_null(strstr(allow, "PUT"));
    assert_null(strstr(allow, "DELETE"));
}

/* openapi.yaml: a number in a path that is not a valid directory number is 422 on PUT, 404 on GET
 * and DELETE; so an over-long one reaches the handler too (cut short, still invalid). */
static void test_overlong_parameter_still_matches_cut_short(void **state)
{
    (void)state;
    struct api_request r = {0};
    char allow[128], path[400];
    char seg[300];
    memset(seg, '1', sizeof seg - 1);
    seg[sizeof seg - 1] = '\0';
    snprintf(path, sizeof path, "/v1/stations/%s", seg);
    int i = api_route_match(&r, path, API_PUT, allow, sizeof allow);
    assert_true(i >= 0);
    assert_string_equal(api_routes[i].name, "/v1/stations/{number}");
    assert_int_equal(strlen(r.params[0]), API_PARAM_MAX - 1);
}

static void test_head_is_served_by_get(void **state)
{
    (void)state;
    struct api_request r = {0};
    char allow[128];
    assert_true(api_route_match(&r, "/healthz", API_HEAD, allow, sizeof allow) >= 0);
}

/* `callbackd routes` prints each row's name, which the test suite compares with openapi.yaml:
 * the name must be the pattern actually matched, with its parameters named, and no method and
 * path may appear twice. */
static void test_each_name_is_its_pattern_with_named_parameters(void **state)
{
    (void)state;
    for (int i = 0; i < api_routes_count; i++) {
        const struct api_route *rt = &api_routes[i];
        char unnamed[256];
        size_t n = 0;
        for (const char *p = rt->name; *p && n + 1 < sizeof unnamed; p++) {
            unnamed[n++] = *p;
            if (*p == '{') {
                const char *close = strchr(p, '}');
                assert_non_null(close);
                assert_true(close > p + 1); /* a named parameter */
                p = close - 1;
            }
        }
        unnamed[n] = '\0';
        assert_string_equal(unnamed, rt->pattern);
        assert_string_not_equal(api_method_name(rt->methods), "?"); /* one method per row */
        for (int j = 0; j < i; j++)
            assert_false(api_routes[j].methods == rt->methods &&
                         strcmp(api_routes[j].pattern, rt->pattern) == 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_with_parameters),
        cmocka_unit_test(test_unknown_path_is_404),
        cmocka_unit_test(test_known_path_other_method_is_405_with_allow),
        cmocka_unit_test(test_head_is_served_by_get),
        cmocka_unit_test(test_overlong_parameter_still_matches_cut_short),
        cmocka_unit_test(test_each_name_is_its_pattern_with_named_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
