/* libFuzzer target: a PBX event batch, the body of POST /v1/pbx/events.
 *
 * The input is the raw body. It is decoded as api/server.c decodes a body, validated by
 * api_parse_event_batch() (every event through cb_event_parse()), then, when the webhook would
 * store it, its inbox rows are made (cb_event_columns, which must manage every event the webhook
 * accepted) and the parsed events applied in order, in one group, as the worker applies them, to
 * the fixed world of fixture_world.h, whose consistency is checked afterwards. */
#include "api/bodies.h"
#include "fixture_world.h"
#include "service/event_parse.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The webhook's rows, then the worker's half: the parsed events applied to the world. */
static void apply_stored(json_t *events, struct cb_event *parsed, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *row = cb_event_columns(&parsed[i], json_array_get(events, i));
        char *text = row ? json_dumps(row, JSON_COMPACT) : NULL;
        if (!text) {
            fprintf(stderr, "fuzz_events: no inbox row for event %zu\n", i);
            abort();
        }
        free(text);
        json_decref(row);
    }
    struct fz_world f;
    fz_world_init(&f);
    bool began = cb_core_group_begin(&f.w);
    for (size_t i = 0; i < n; i++)
        fz_world_event(&f, &parsed[i]);
    cb_core_group_end(&f.w, began);
    fz_world_check(&f);
    fz_world_free(&f);
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
    struct cb_event *parsed = NULL;
    size_t n = 0;
    bool ok = api_parse_event_batch(body, &events, &parsed, &n, errors);
    if (ok != (json_array_size(errors) == 0)) {
        fprintf(stderr, "fuzz_events: the answer and the errors disagree\n");
        abort();
    }
    if (ok)
        apply_stored(events, parsed, n);
    free(parsed);
    json_decref(errors);
    json_decref(body);
    return 0;
}
