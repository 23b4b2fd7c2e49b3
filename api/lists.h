/* List conventions of openapi.yaml: ?limit= (1-500, default 50), opaque ?cursor=, and the answer
 * {"items", "next_cursor", "prev_cursor"}. A cursor is base64url text of a position. */
#ifndef API_LISTS_H
#define API_LISTS_H

#include "api/http.h"
#include "db/pool.h"

#define API_CURSOR_MAX 256

/* Whether a decoded cursor is a position of the list at hand (e.g. cb_number_valid for the
 * station list): a cursor this service did not issue is a 422, never another page. */
typedef bool (*api_position_check)(const char *position);

/* Reads limit and cursor (decoded into `cursor`, "" when absent; `valid` checks it). On a bad
 * value adds entries to `errors` and returns false. */
bool api_list_params(struct api_request *r, api_position_check valid, int *limit,
                     char cursor[API_CURSOR_MAX], json_t *errors);
/* The same, answering 422 itself when they are bad; false then. */
bool api_list_begin(struct api_request *r, api_position_check valid, int *limit,
                    char cursor[API_CURSOR_MAX]);
/* Encodes a position as a cursor string (owned by the caller: free()). */
char *api_cursor_encode(const char *position);
/* Decodes a cursor string back into its position; false when it is not one of ours. */
bool api_cursor_decode(const char *in, char out[API_CURSOR_MAX]);
/* Builds the list answer; steals `items`; `next`/`prev` are positions or NULL. */
json_t *api_list_answer(json_t *items, const char *next, const char *prev);

/* A provisioning list ordered by a text key (COS ids, directory numbers): its rows are read
 * `limit + 1` at a time after the cursor's key, so that the extra one tells a next page. */
struct api_keyed_list {
    api_position_check valid; /* what a key of this list looks like */
    size_t row_size;
    /* Reads up to `limit` rows after `after` ("" = from the start) into `rows`. */
    enum db_status (*read)(struct db_conn *c, const struct api_keyed_list *l, const char *after,
                           int limit, void *rows, int *n);
    json_t *(*render)(const struct api_keyed_list *l, const void *row);
    const char *(*key)(const void *row);
    void (*release)(void *row); /* frees what a row holds, or NULL */
    int kind;                   /* for the callbacks: which list (trunk or hunt groups) */
};
/* GET of such a list: limit and cursor, the rows, 200 with the page (or the error). */
void api_list_keyed(struct api_request *r, const struct api_keyed_list *l);

#endif
