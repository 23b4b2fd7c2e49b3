/* libFuzzer target: the query values of the list endpoints that are more than a number.
 *
 * The input (up to its first NUL, as a query value can hold none) is taken as
 *   - a ?cursor=: api_cursor_decode() (every list), then, decoded, api_list_pos_parse() in both
 *     forms (the station's and the operator's callback lists). A cursor is base64url text of a
 *     position (api/lists.h): what decodes must be written in that alphabet only;
 *   - a position: api_cursor_encode() then api_cursor_decode() must give it back;
 *   - a ?created_after= / ?created_before=: cb_rfc3339_parse();
 *   - a ?state= (and the other wire names of the core, read back from rows): each
 *     cb_*_parse() that knows the name must name it back the same. */
#include "api/callback_json.h"
#include "api/callbacks_common.h"
#include "api/lists.h"
#include "service/core/core.h"
#include "service/rfc3339.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *in)
{
    fprintf(stderr, "fuzz_cursor: %s: \"%s\"\n", what, in);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = strndup((const char *)data, size);
    if (!in)
        return 0;
    char position[API_CURSOR_MAX];
    if (api_cursor_decode(in, position)) {
        if (strspn(in, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
            strlen(in))
            fail("a cursor outside the base64url alphabet decodes", in);
        struct db_list_pos pos;
        api_list_pos_parse(position, &pos, false);
        api_list_pos_parse(position, &pos, true);
    }
    struct db_list_pos pos;
    api_list_pos_parse(in, &pos, false);
    api_list_pos_parse(in, &pos, true);
    if (in[0] && strlen(in) < API_CURSOR_MAX) { /* positions are never empty */
        char *cursor = api_cursor_encode(in);
        if (!cursor)
            fail("no cursor for", in);
        if (!api_cursor_decode(cursor, position) || strcmp(position, in) != 0)
            fail("a cursor does not give its position back", in);
        free(cursor);
    }
    int64_t ms;
    cb_rfc3339_parse(in, &ms);
    int v;
    if ((v = cb_state_parse(in)) >= 0 && strcmp(cb_state_name((enum cb_state)v), in) != 0)
        fail("a state name does not name itself", in);
    if ((v = cb_reason_parse(in)) >= 0 && strcmp(cb_reason_name((enum cb_reason)v), in) != 0)
        fail("a reason does not name itself", in);
    if ((v = cb_end_reason_parse(in)) >= 0 &&
        strcmp(cb_end_reason_name((enum cb_end_reason)v), in) != 0)
        fail("an end reason does not name itself", in);
    if ((v = cb_target_type_parse(in)) >= 0 &&
        strcmp(cb_target_type_name((enum cb_target_type)v), in) != 0)
        fail("a target type does not name itself", in);
    if ((v = cb_mode_parse(in)) >= 0 && strcmp(cb_mode_name((enum cb_mode)v), in) != 0)
        fail("a mode does not name itself", in);
    if ((v = cb_kind_parse(in)) >= 0 && strcmp(cb_kind_name((enum cb_station_kind)v), in) != 0)
        fail("a kind does not name itself", in);
    if ((v = cb_timer_kind_parse(in)) >= 0 &&
        strcmp(cb_timer_kind_name((enum cb_timer_kind)v), in) != 0)
        fail("a timer kind does not name itself", in);
    free(in);
    return 0;
}
