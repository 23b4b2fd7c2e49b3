/* Array literals for statement parameters (db/array.h): what PostgreSQL reads back as the same
 * elements, whatever the text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "db/array.h"

static void test_empty_list_is_an_empty_array(void **state)
{
    (void)state;
    char *s = db_array_of(NULL, 0);
    assert_string_equal(s, "{}");
    free(s);
}

static void test_texts_are_quoted_and_escaped(void **state)
{
    (void)state;
    const char *items[] = {"5001", "", "a,b", "say \"hi\"", "back\\slash", "{x}"};
    char *s = db_array_of(items, 6);
    assert_string_equal(s, "{\"5001\",\"\",\"a,b\",\"say \\\"hi\\\"\",\"back\\\\slash\",\"{x}\"}");
    free(s);
}

static void test_integers_and_growth_past_the_first_block(void **state)
{
    (void)state;
    struct db_array a;
    db_array_open(&a);
    char want[4096] = "{";
    for (int i = 0; i < 300; i++) {
        db_array_add_int(&a, -1000000LL + i);
        size_t at = strlen(want);
        snprintf(want + at, sizeof want - at, "%s%lld", i ? "," : "", -1000000LL + i);
    }
    strcat(want, "}");
    char *s = db_array_close(&a);
    assert_non_null(s);
    assert_string_equal(s, want);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_list_is_an_empty_array),
        cmocka_unit_test(test_texts_are_quoted_and_escaped),
        cmocka_unit_test(test_integers_and_growth_past_the_first_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
