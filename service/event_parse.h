/* PBX events (openapi.yaml): JSON to struct cb_event, once, at the webhook (422 field errors,
 * nothing stored), and the parsed event as the inbox stores it for the worker (by column). The
 * worker parses only an event stored before that form existed (migration 009). */
#ifndef CB_EVENT_PARSE_H
#define CB_EVENT_PARSE_H

#include <jansson.h>
#include <stdbool.h>

#include "service/core/core.h"

/* Parses one event. On failure appends {field, message} entries to `errors` (when not NULL),
 * each field named `prefix` + name (e.g. "events[3].availability"), and returns false. */
bool cb_event_parse(json_t *ev, struct cb_event *out, json_t *errors, const char *prefix);

/* The inbox row of a parsed event (db_inbox_store): its id, type, `body` (`received`, borrowed)
 * and its fields by column, each only for the event types that have it (NULL otherwise). */
json_t *cb_event_columns(const struct cb_event *e, json_t *received);

#endif
