/* A callback as openapi.yaml shows it. */
#ifndef API_CALLBACK_JSON_H
#define API_CALLBACK_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "service/core/core.h"

/* The callback document (new reference). */
json_t *api_callback_json(const struct cb_callback *cb);
/* RFC 3339 UTC with milliseconds: "2026-11-25T10:00:00.123Z". */
void api_time_text(int64_t ms, char out[32]);

#endif
