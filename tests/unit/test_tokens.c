/* Token hashing and scopes: only SHA-256 is stored; scopes of openapi.yaml. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/auth.h"
#include "api/lists.h"

static void test_hash_is_sha256(void **state)
{
    (void)state;
    unsigned char h[32];
    api_token_hash("abc", h);
    /* SHA-256("abc") from FIPS 180-2 */
    const unsigned char want[4] = {0xba, 0x78, 0x16, 0xbf};
    assert_memory_equal(h, want, 4);
    assert_int_equal(h[31], 0xad);
    unsigned char other[32];
    api_token_hash("abd", other);
    assert_memory_not_equal(h, other, 32);
}

static void test_scopes(void **state)
{
    (void)state;
    assert_true(api_scope_valid("admin"));
    assert_true(api_scope_valid("operator"));
    assert_true(api_scope_valid("station:2001"));
    assert_false(api_scope_valid("station:"));
    assert_false(api_scope_valid("station:abc"));
    assert_false(api_scope_valid("root"));
}

static void test_cursor_is_opaque_base64url(void **state)
{
    (void)state;
    char *c = api_cursor_encode("n:1764064861123:123e4567-e89b-12d3-a456-426614174000");
    assert_non_null(c);
    assert_null(strchr(c, '='));
    assert_null(strchr(c, '/'));
    assert_null(strchr(c, '+'));
    free(c);
}

/* Found by tests/fuzz (fuzz_cursor): white space was skipped by the decoder, which then copied
 * bytes it had not written. */
static void test_cursor_decode_takes_base64url_only(void **state)
{
    (void)state;
    char position[API_CURSOR_MAX];
    char *c = api_cursor_encode("n:42");
    assert_true(api_cursor_decode(c, position));
    assert_string_equal(position, "n:42");
    free(c);
    assert_false(api_cursor_decode("    bjo0Mg", position));
    assert_false(api_cursor_decode("bjo0Mg    ", position));
    assert_false(api_cursor_decode("bjo0Mg==", position));
    assert_false(api_cursor_decode("bjo0M+/A", position));
    assert_false(api_cursor_decode("        ", position));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_is_sha256),
        cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_cursor_is_opaque_base64url),
        cmocka_unit_test(test_cursor_decode_takes_base64url_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
