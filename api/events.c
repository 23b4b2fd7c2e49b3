/* POST /v1/pbx/events (openapi.yaml): the signature was checked by the
 * server before parsing (api/signature.c); here the batch is validated as a whole and stored in
 * one statement before the 202 (CB-50). The worker applies it. */
#include "api/bodies.h"
#include "api/handlers.h"
#include "api/validate.h"
#include "service/event_batch.h"
#include "service/event_parse.h"
#include "service/metrics.h"

#include <stdio.h>
#include <stdlib.h>

#define API_EVENTS_MAX 500

bool api_parse_event_batch(json_t *body, json_t **events_out, struct cb_event **parsed, size_t *n,
                           json_t *errors)
{
    json_t *events = json_object_get(body, "events");
    *events_out = events;
    *parsed = NULL;
    *n = 0;
    if (!json_is_array(events) || json_array_size(events) < 1 ||
        json_array_size(events) > API_EVENTS_MAX) {
        api_field_error(errors, "events", "is required: an array of 1 to %d events",
                        API_EVENTS_MAX);
        return false;
    }
    struct cb_event *out = calloc(json_array_size(events), sizeof *out);
    if (!out)
        return false; /* no memory: no error entry, the caller answers 500 */
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "events[%zu].", i);
        cb_event_parse(ev, &out[i], errors, prefix);
    }
    if (json_array_size(errors)) {
        free(out);
        return false;
    }
    *parsed = out;
    *n = json_array_size(events);
    return true;
}

/* The inbox rows of the batch: each event as received and as parsed (cb_event_columns). */
static json_t *inbox_rows(json_t *events, const struct cb_event *parsed, size_t n)
{
    json_t *rows = json_array();
    for (size_t i = 0; rows && i < n; i++) {
        json_t *row = cb_event_columns(&parsed[i], json_array_get(events, i));
        if (json_array_append_new(rows, row) != 0) {
            json_decref(rows);
            rows = NULL;
        }
    }
    return rows;
}

void api_pbx_events_post(struct api_request *r)
{
    json_t *events;
    struct cb_event *parsed;
    size_t n;
    json_t *errors = json_array();
    if (!api_parse_event_batch(r->json, &events, &parsed, &n, errors)) {
        if (json_array_size(errors))
            api_reply_validation(r, errors); /* CB-50: a malformed event refuses the batch */
        else {
            json_decref(errors);
            api_reply_problem(r, API_INTERNAL_ERROR, "out of memory");
        }
        return;
    }
    json_decref(errors);
    /* Stored as parsed: the worker applies these fields without parsing anything again. */
    json_t *rows = inbox_rows(events, parsed, n);
    free(parsed);
    if (!rows) {
        api_reply_problem(r, API_INTERNAL_ERROR, "out of memory");
        return;
    }
    /* With the webhooks that arrive meanwhile, in one statement (service/event_batch.c). */
    int accepted = 0;
    enum db_status st = cb_events_store_batched(r->app->events, rows, &accepted);
    json_decref(rows);
    if (st != DB_OK) {
        api_reply_db_error(r, st);
        return;
    }
    int total = (int)json_array_size(events);
    struct cb_metrics *m = r->app->metrics;
    atomic_fetch_add(&m->events_received, (unsigned long long)total);
    atomic_fetch_add(&m->events_duplicate, (unsigned long long)(total - accepted));
    api_reply_json(r, 202,
                   json_pack("{s:i, s:i}", "accepted", accepted, "duplicates", total - accepted));
}
