/* Shared by the callback handlers (api/callbacks.c, api/station_callbacks.c). */
#ifndef API_CALLBACKS_COMMON_H
#define API_CALLBACKS_COMMON_H

#include "api/http.h"
#include "db/callbacks.h"
#include "service/requests.h"

/* Answers a rules refusal with its openapi.yaml code. */
void api_reply_refusal(struct api_request *r, const struct cb_request_result *res);
/* Parses a set body; `need_numbers` false for the softkey (requester and target come from the
 * station's failed attempt). */
bool api_parse_set_body(json_t *body, struct cb_set_request *req, bool need_numbers,
                        json_t *errors);
/* Runs a set with the request's Idempotency-Key and answers 201 or the refusal. */
void api_run_set(struct api_request *r, const struct cb_set_request *req);
/* Loads the callback named by the path; answers 404/403 itself and returns false then. */
bool api_load_callback(struct api_request *r, struct cb_callback *cb);

/* Reads a callback list position from a decoded cursor: "n:<seq>" / "p:<seq>" (a station's
 * list), or with `with_id` "n:<created ms>:<id>" / "p:<created ms>:<id>" (the operator list). */
bool api_list_pos_parse(const char *cursor, struct db_list_pos *pos, bool with_id);
/* Reads ?limit and ?cursor of a paged callback list (`with_id`: operator positions). */
bool api_page_params(struct api_request *r, int *limit, struct db_list_pos *pos, bool *has_pos,
                     bool with_id, json_t *errors);
/* Answers a page fetched with limit + 1 rows, with next/previous cursors. */
void api_reply_callback_page(struct api_request *r, struct cb_callback *rows, int n, int limit,
                             const struct db_list_pos *pos, bool with_id);

#endif
