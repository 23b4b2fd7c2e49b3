/* libFuzzer target: a PBX event batch, the body of POST /v1/pbx/events.
 *
 * The input is the raw body. It is decoded as api/server.c decodes a body, validated by
 * api_parse_event_batch() (every event through cb_event_parse()), then, when the webhook would
 * store it, taken the worker's way: the stored text read back and parsed again by
 * cb_event_parse() without an errors array (which must accept what the webhook accepted), and
 * applied in order, in one group, to the fixed world of fixture_world.h, whose consistency is
 * checked afterwards. */
#include "api/bodies.h"
#include "fixture_world.h"
#include "service/event_parse.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The worker's half: what was stored is applied to the world. */
static void apply_stored(json_t *events)
{
    char *text = json_dumps(events, JSON_COMPACT);
    json_t *stored = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (!json_is_array(stored) || json_array_size(stored) != json_array_size(events)) {
        fprintf(stderr, "fuzz_events: the stored batch does not read back\n");
        abort();
    }
    struct fz_world f;
    fz_world_init(&f);
    bool began = cb_core_group_begin(&f.w);
    size_t i;
    json_t *ev;
    json_array_foreach(stored, i, ev)
    {
        struct cb_event parsed;
        if (!cb_event_parse(ev, &parsed, NULL, "")) {
            fprintf(stderr, "fuzz_events: the worker refuses event %zu the webhook accepted\n", i);
            abort();
        }
        fz_world_event(&f, &parsed);
    }
    cb_core_group_end(&f.w, began);
    fz_world_check(&f);
    fz_world_free(&f);
    json_decref(stored);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t error;
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &error);
    if (!json_is_object(body)) { /* 400 malformed_json before any handler */
        json_decref(body);
        return 0;
    }
    json_t *errors = json_array();
    json_t *events = NULL;
    bool ok = api_parse_event_batch(body, &events, errors);
    if (ok != (json_array_size(errors) == 0)) {
        fprintf(stderr, "fuzz_events: the answer and the errors disagree\n");
        abort();
    }
    if (ok)
        apply_stored(events);
    json_decref(errors);
    json_decref(body);
    return 0;
}
