/* libFuzzer target: dialed numbers and digits, cb_core_resolve_number() and the feature access
 * codes (CB-30) in the fixed world of fixture_world.h.
 *
 * The input is lines (at most 16), each one of
 *   fac <setup> <cancel_all> <cancel_individual> [off]   new codes ("-" = disabled; "off":
 *                                  no digit collection while busy or alerting), taken only when
 *                                  api_parse_options_body() accepts them, as PUT does
 *   attempt <from> <to> <result>   a call.attempt event
 *   <station> <digits> [<call_state> [<dialed>]]   a digits event
 * Events go through cb_event_parse(), as every event does, and only valid ones are applied.
 * Every digits and dialed word is also resolved on its own: a resolution must name something in
 * the world and, for a trunk group, split the number without losing any of it. */
#include "api/bodies.h"
#include "fixture_world.h"
#include "service/event_parse.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 16
#define MAX_WORDS 6

static void fail(const char *what, const char *dialed)
{
    fprintf(stderr, "fuzz_dialed: %s: \"%s\"\n", what, dialed);
    abort();
}

static void resolve(struct fz_world *f, const char *dialed)
{
    char target[CB_NUMBER_MAX], external[CB_NUMBER_MAX];
    struct cb_world *w = &f->w;
    if (!cb_core_resolve_number(w, dialed, target, external)) {
        if (cb_world_station(w, dialed) || cb_world_hunt_group(w, dialed))
            fail("a known number does not resolve", dialed);
        return;
    }
    if (!external[0]) {
        if (strcmp(target, dialed) != 0)
            fail("a whole number resolves to another", dialed);
    } else if (!cb_world_trunk_group(w, target))
        fail("an outside number without a trunk group", dialed);
    else if (strlen(dialed) < CB_NUMBER_MAX && (strncmp(dialed, target, strlen(target)) != 0 ||
                                                strcmp(dialed + strlen(target), external) != 0))
        fail("a split loses digits", dialed);
    if (!cb_world_station(w, target) && !cb_world_hunt_group(w, target) &&
        !cb_world_trunk_group(w, target))
        fail("resolves to nothing in the world", dialed);
}

static void fac(struct fz_world *f, char **word, int n)
{
    if (n < 4)
        return;
    for (int i = 1; i < 4; i++)
        if (!strcmp(word[i], "-"))
            word[i] = "";
    json_t *body =
        json_pack("{s:{s:s, s:s, s:s}, s:b}", "fac", "setup", word[1], "cancel_all", word[2],
                  "cancel_individual", word[3], "digit_collection_during_busy_or_alerting",
                  n < 5 || strcmp(word[4], "off") != 0);
    json_t *errors = json_array();
    struct cb_options o = f->w.options;
    if (body && api_parse_options_body(body, &o, errors))
        f->w.options = o;
    json_decref(errors);
    json_decref(body);
}

static void event(struct fz_world *f, json_t *ev)
{
    struct cb_event parsed;
    if (ev && cb_event_parse(ev, &parsed, NULL, ""))
        fz_world_event(f, &parsed);
    json_decref(ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = strndup((const char *)data, size);
    if (!text)
        return 0;
    struct fz_world f;
    fz_world_init(&f);
    char *save_line = NULL;
    int lines = 0;
    for (char *line = strtok_r(text, "\n", &save_line); line && lines < MAX_LINES;
         line = strtok_r(NULL, "\n", &save_line), lines++) {
        char *word[MAX_WORDS], *save_word = NULL;
        int n = 0;
        for (char *wd = strtok_r(line, " ", &save_word); wd && n < MAX_WORDS;
             wd = strtok_r(NULL, " ", &save_word))
            word[n++] = wd;
        if (n == 0)
            continue;
        char id[16];
        snprintf(id, sizeof id, "fz-%d", lines);
        if (!strcmp(word[0], "fac")) {
            fac(&f, word, n);
        } else if (!strcmp(word[0], "attempt")) {
            if (n >= 4)
                event(&f, json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "type", "call.attempt",
                                    "from", word[1], "to", word[2], "result", word[3]));
        } else if (n >= 2) {
            resolve(&f, word[1]);
            if (n >= 4)
                resolve(&f, word[3]);
            json_t *ev =
                json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "type", "digits", "station",
                          word[0], "digits", word[1], "call_state", n >= 3 ? word[2] : "idle");
            if (ev && n >= 4)
                json_object_set_new(ev, "dialed", json_string(word[3]));
            event(&f, ev);
        }
    }
    fz_world_check(&f);
    fz_world_free(&f);
    free(text);
    return 0;
}
