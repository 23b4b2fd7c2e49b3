/* /v1/stations/{n}/callbacks: the phone's list with Next/Previous (CB-32), the Call Me Back
 * softkey (CB-01, CB-33) and Cancel all (CB-26). */
#include "api/callbacks_common.h"
#include "api/handlers.h"
#include "api/stations.h"
#include "api/validate.h"
#include "db/directory.h"
#include "db/tx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void api_station_callbacks_list(struct api_request *r)
{
    json_t *errors = json_array();
    int limit;
    struct db_list_pos pos;
    bool has_pos;
    if (!api_page_params(r, &limit, &pos, &has_pos, false, errors)) {
        api_reply_validation(r, errors);
        return;
    }
    json_decref(errors);
    struct db_station st;
    if (!api_load_station(r, &st))
        return;
    struct db_conn *c = api_conn(r);
    if (!c)
        return;
    struct cb_callback *rows = calloc((size_t)limit + 1, sizeof *rows);
    int n = 0;
    enum db_status s =
        rows ? db_station_callbacks(c, st.s.number, has_pos ? &pos : NULL, limit + 1, rows, &n)
             : DB_ERROR;
    api_conn_release(r, c);
    if (s != DB_OK)
        api_reply_db_error(r, s);
    else
        api_reply_callback_page(r, rows, n, limit, has_pos ? &pos : NULL, false);
    free(rows);
}

void api_station_callbacks_post(struct api_request *r)
{
    struct cb_set_request req = {0};
    json_t *errors = json_array();
    if (!api_parse_set_body(r->json, &req, false, errors)) {
        api_reply_validation(r, errors);
        return;
    }
    json_decref(errors);
    struct db_station st;
    if (!api_load_station(r, &st))
        return;
    /* The core sets it on the station's failed attempt as it stands in the locked transaction
     * (CB-01, CB-33), or refuses with no_failed_attempt; the attempt read here only says which
     * numbers to load. */
    req.softkey = true;
    snprintf(req.requester, sizeof req.requester, "%s", st.s.number);
    snprintf(req.target, sizeof req.target, "%s", st.s.attempt_to);
    api_run_set(r, &req);
}

struct cancel_all_tx {
    const char *requester;
    const char *request_id;
    struct cb_request_result res;
};

static enum db_status cancel_all_tx(struct db_conn *c, void *ctx)
{
    struct cancel_all_tx *t = ctx;
    return cb_request_cancel_all(c, t->requester, t->request_id, &t->res);
}

void api_station_callbacks_delete(struct api_request *r)
{
    struct db_station st;
    if (!api_load_station(r, &st))
        return;
    struct cancel_all_tx t = {.requester = st.s.number, .request_id = r->request_id};
    enum db_status s = db_tx_run(r->app->pool, cancel_all_tx, &t);
    if (s == DB_ABORT)
        api_reply_refusal(r, &t.res);
    else if (s != DB_OK)
        api_reply_db_error(r, s);
    else
        api_reply_json(r, 200, json_pack("{s:i}", "cancelled", t.res.cancelled));
}
