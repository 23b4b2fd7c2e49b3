/* Routing: path parameters, 404 for unknown paths, 405 with the allowed methods. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
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

static void test_head_is_served_by_get(void **state)
{
    (void)state;
    struct api_request r = {0};
    char allow[128];
    assert_true(api_route_match(&r, "/healthz", API_HEAD, allow, sizeof allow) >= 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_with_parameters),
        cmocka_unit_test(test_unknown_path_is_404),
        cmocka_unit_test(test_known_path_other_method_is_405_with_allow),
        cmocka_unit_test(test_head_is_served_by_get),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
