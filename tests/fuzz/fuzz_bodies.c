/* libFuzzer target: the request body of every JSON body shape of the API.
 *
 * The first byte chooses the shape (its value modulo 8; the seeds use the digits '0'-'7'):
 *   0 POST /v1/callbacks            api_parse_set_body(need_numbers)
 *   1 POST /v1/stations/{n}/callbacks (the softkey) api_parse_set_body(!need_numbers)
 *   2 PUT /v1/stations/{n}          api_parse_station_body
 *   3 PUT /v1/trunk-groups/{n}      api_parse_group_body(trunk)
 *   4 PUT /v1/hunt-groups/{n}       api_parse_group_body(!trunk)
 *   5 PUT /v1/classes-of-service/{id} api_parse_cos_body
 *   6 PUT /v1/system-options        api_parse_options_body
 *   7 POST /v1/tokens               api_parse_token_body
 * The rest is the raw body, decoded as api/server.c decodes one. What a parser accepts must be
 * what openapi.yaml allows (checked here with the project's own format checks); an accepted set
 * goes on into the rules core against the fixed world of fixture_world.h, as the API's set does. */
#include "api/auth.h"
#include "api/bodies.h"
#include "api/callbacks_common.h"
#include "api/validate.h"
#include "fixture_world.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_bodies: accepted, yet %s\n", what);
        abort();
    }
}

/* `items` holds min..max strings that pass `check`, none twice when `unique`. */
static bool string_items(json_t *items, size_t min, size_t max, bool (*check)(const char *),
                         bool unique)
{
    if (!json_is_array(items) || json_array_size(items) < min || json_array_size(items) > max)
        return false;
    for (size_t i = 0; i < json_array_size(items); i++) {
        const char *s = json_string_value(json_array_get(items, i));
        if (!s || !check(s))
            return false;
        for (size_t j = i + 1; unique && j < json_array_size(items); j++)
            if (json_equal(json_array_get(items, i), json_array_get(items, j)))
                return false;
    }
    return true;
}

static void set_body(json_t *body, bool need_numbers, json_t *errors)
{
    struct cb_set_request req = {0};
    if (!api_parse_set_body(body, &req, need_numbers, errors))
        return;
    require(!req.origin_line[0] || cb_number_valid(req.origin_line), "a bad origin_line");
    require(!req.external_number[0] || cb_number_valid(req.external_number),
            "a bad external_number");
    require(req.mode == CB_MODE_CALLBACK || req.mode == CB_MODE_MESSAGE, "a bad mode");
    if (!need_numbers)
        return;
    require(cb_number_valid(req.requester) && cb_number_valid(req.target), "a bad number");
    struct fz_world f;
    fz_world_init(&f);
    /* service/requests.c splits a target dialed through a trunk group before the core sees it. */
    char group[CB_NUMBER_MAX], external[CB_NUMBER_MAX];
    if (!req.external_number[0] && cb_core_resolve_number(&f.w, req.target, group, external) &&
        external[0]) {
        memcpy(req.target, group, sizeof group);
        memcpy(req.external_number, external, sizeof external);
    }
    fz_world_set(&f, &req);
    fz_world_check(&f);
    fz_world_free(&f);
}

static void station_body(json_t *body, json_t *errors)
{
    struct db_station st = {0};
    if (!api_parse_station_body(body, &st, errors))
        return;
    const struct cb_station *s = &st.s;
    require(s->kind >= CB_KIND_IP_PHONE && s->kind <= CB_KIND_CONSOLE, "a bad kind");
    require(api_valid_cos_id(st.cos), "a bad cos");
    require(!s->prime_line[0] || cb_number_valid(s->prime_line), "a bad prime_line");
    require(strlen(s->console_group) < CB_GROUP_MAX, "a console group too long");
    require(!s->console_group[0] || s->kind == CB_KIND_CONSOLE, "a console group on a station");
}

static void group_body(json_t *body, bool trunk, json_t *errors)
{
    json_t *items = NULL;
    bool activation = false;
    if (!api_parse_group_body(body, trunk, &items, &activation, errors))
        return;
    require(string_items(items, 0, DB_GROUP_ITEMS_MAX, trunk ? api_valid_line_id : cb_number_valid,
                         true),
            "bad or repeated items");
}

static void options_body(json_t *body, json_t *errors)
{
    struct cb_options o = {.callback_cancel_timer_s = 3600,
                           .notification_timeout_s = 20,
                           .recall_timeout_s = 60,
                           .command_ttl_s = 300,
                           .max_per_requester = 10,
                           .max_per_target = 50};
    strcpy(o.fac.setup, "*41");
    strcpy(o.fac.cancel_all, "#41");
    strcpy(o.fac.cancel_individual, "#42");
    if (!api_parse_options_body(body, &o, errors))
        return;
    require(o.callback_cancel_timer_s >= 1 && o.notification_timeout_s >= 1 &&
                o.recall_timeout_s >= 1 && o.command_ttl_s >= 1 && o.max_per_requester >= 1 &&
                o.max_per_target >= 1,
            "a value below 1");
    const char *codes[] = {o.fac.setup, o.fac.cancel_all, o.fac.cancel_individual};
    for (int i = 0; i < 3; i++) {
        require(api_valid_fac(codes[i]), "a bad feature access code");
        for (int j = i + 1; j < 3; j++)
            require(!codes[i][0] || strcmp(codes[i], codes[j]) != 0, "two equal codes");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    json_error_t error;
    json_t *body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &error);
    if (!json_is_object(body)) { /* 400 malformed_json before any handler */
        json_decref(body);
        return 0;
    }
    json_t *errors = json_array();
    json_t *items = NULL;
    int64_t expires_in_s = 0;
    struct db_cos cos = {0};
    switch (data[0] % 8) {
    case 0:
    case 1:
        set_body(body, data[0] % 8 == 0, errors);
        break;
    case 2:
        station_body(body, errors);
        break;
    case 3:
    case 4:
        group_body(body, data[0] % 8 == 3, errors);
        break;
    case 5:
        api_parse_cos_body(body, &cos, errors);
        break;
    case 6:
        options_body(body, errors);
        break;
    case 7:
        if (api_parse_token_body(body, &items, &expires_in_s, errors))
            require(string_items(items, 1, API_MAX_STATION_SCOPES, api_scope_valid, false) &&
                        (expires_in_s == 0 || (expires_in_s >= API_TOKEN_LIFE_MIN_S &&
                                               expires_in_s <= API_TOKEN_LIFE_MAX_S)),
                    "bad scopes or lifetime");
        break;
    }
    for (size_t i = 0; i < json_array_size(errors); i++) {
        json_t *e = json_array_get(errors, i);
        if (!json_is_string(json_object_get(e, "field")) ||
            !json_is_string(json_object_get(e, "message"))) {
            fprintf(stderr, "fuzz_bodies: an error entry without field or message\n");
            abort();
        }
    }
    json_decref(errors);
    json_decref(body);
    return 0;
}
