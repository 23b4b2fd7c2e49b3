/* DELETE of a station, trunk group or hunt group (CB-28): its callbacks end first (undoing
 * rings, trunk line reservations and message lamps), then the row goes, in one transaction. */
#include "api/handlers.h"
#include "api/stations.h"
#include "db/tx.h"
#include "service/requests.h"

struct number_delete {
    const char *number;
    enum db_number_kind kind;
    const char *request_id;
    bool found;
};

static enum db_status number_delete_tx(struct db_conn *c, void *ctx)
{
    struct number_delete *d = ctx;
    enum db_number_kind kind;
    enum db_status st = db_number_kind(c, d->number, &kind);
    if (st != DB_OK || kind != d->kind)
        return st; /* not found: d->found stays false */
    /* CB-28: its callbacks end first (undoing rings, lines, lamps), in the same transaction. */
    st = cb_request_number_removed(c, d->number, d->request_id);
    if (st != DB_OK)
        return st;
    return db_number_delete(c, d->number, d->kind, &d->found);
}

void api_number_delete(struct api_request *r, enum db_number_kind kind)
{
    struct number_delete d = {.number = r->params[0], .kind = kind, .request_id = r->request_id};
    enum db_status st = db_tx_run(r->app->pool, number_delete_tx, &d);
    if (st != DB_OK)
        api_reply_db_error(r, st);
    else if (!d.found)
        api_reply_problem(r, API_NOT_FOUND, "no such %s: %s",
                          kind == DB_NUMBER_STATION       ? "station"
                          : kind == DB_NUMBER_TRUNK_GROUP ? "trunk group"
                                                          : "hunt group",
                          d.number);
    else
        api_reply_empty(r, 204);
}
