/* The request bodies of openapi.yaml, one parser per shape. Each handler parses its body with its
 * parser before any I/O, and the parsers touch nothing but their arguments, so that the fuzz
 * targets of tests/fuzz reach them as the server does. Every parser appends one {field,
 * message} entry to `errors` per problem and returns true when it added none. The set body
 * (POST /v1/callbacks, the softkey) is api_parse_set_body() in api/callbacks_common.h. */
#ifndef API_BODIES_H
#define API_BODIES_H

#include <jansson.h>
#include <stdbool.h>

#include "db/directory.h"
#include "service/core/model.h"

/* POST /v1/pbx/events: {"events": [1-500 events]}, each through cb_event_parse(). On success
 * `*parsed` (malloc'd: free it) holds the parsed events in order and `*events_out` the array as
 * received (borrowed from `body`), both `*n` long. */
bool api_parse_event_batch(json_t *body, json_t **events_out, struct cb_event **parsed, size_t *n,
                           json_t *errors); /* false with no error entry: out of memory */
/* PUT /v1/stations/{number}: fills kind, cos, prime_line ("" = not given), resilient and
 * console_group of `out`. */
bool api_parse_station_body(json_t *body, struct db_station *out, json_t *errors);
/* PUT /v1/trunk-groups/{number} (`trunk`) or /v1/hunt-groups/{number}: `items` receives the
 * lines or members (borrowed from `body`), without duplicates. */
bool api_parse_group_body(json_t *body, bool trunk, json_t **items, bool *callback_activation,
                          json_t *errors);
/* PUT /v1/classes-of-service/{id}: callbacks_allowed. */
bool api_parse_cos_body(json_t *body, struct db_cos *out, json_t *errors);
/* PUT /v1/system-options: the fields given, range-checked, over the current options `o`. */
bool api_parse_options_body(json_t *body, struct cb_options *o, json_t *errors);
/* A minted token's lifetime (`expires_in_s`), in seconds. */
#define API_TOKEN_LIFE_MIN_S 60
#define API_TOKEN_LIFE_MAX_S 31536000
/* POST /v1/tokens: `scopes` receives the array of scopes (borrowed from `body`),
 * `expires_in_s` the lifetime (0 when not given: no expiry). */
bool api_parse_token_body(json_t *body, json_t **scopes, int64_t *expires_in_s, json_t *errors);

#endif
