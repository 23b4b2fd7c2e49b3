/* PBX events (openapi.yaml): JSON to struct cb_event. One parser serves
 * the webhook (validation: 422 field errors, nothing stored) and the worker (application). */
#ifndef CB_EVENT_PARSE_H
#define CB_EVENT_PARSE_H

#include <jansson.h>
#include <stdbool.h>

#include "service/core/core.h"

/* Parses one event. On failure appends {field, message} entries to `errors` (when not NULL),
 * each field named `prefix` + name (e.g. "events[3].availability"), and returns false. */
bool cb_event_parse(json_t *ev, struct cb_event *out, json_t *errors, const char *prefix);

#endif
