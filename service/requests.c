#include "service/requests.h"
#include "db/world.h"
#include "service/decide.h"
#include "service/ids.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs one API decision: `fn` calls the core on the loaded world. */
typedef void (*decide_fn)(struct cb_world *w, void *arg, cb_time now, const struct cb_cause *cause,
                          struct cb_decisions *out, struct cb_request_result *res);

struct request {
    decide_fn fn;
    void *arg;
    struct cb_cause cause;
    struct cb_request_result *res;
};

static void decide_request(struct cb_world *w, struct cb_decisions *d, void *arg)
{
    struct request *q = arg;
    q->fn(w, q->arg, cb_service_now(), &q->cause, d, q->res);
    q->res->error = d->error;
    snprintf(q->res->detail, sizeof q->res->detail, "%s", d->error_detail);
}

static enum db_status run(struct db_conn *c, const struct cb_scope_seed *seed, decide_fn fn,
                          void *arg, const char *request_id, struct cb_request_result *res)
{
    struct request q = {.fn = fn, .arg = arg, .cause = {.kind = CB_CAUSE_API}, .res = res};
    snprintf(q.cause.ref, sizeof q.cause.ref, "%s", request_id);
    return cb_service_decide(c, seed, decide_request, &q);
}

/* Applies the sets in order to one world; a refused set changes nothing (the core checks
 * before it marks) and does not stop the ones after it. */
struct set_batch {
    struct cb_set_item *items;
    int n;
};

static void decide_sets(struct cb_world *w, struct cb_decisions *d, void *arg)
{
    struct set_batch *b = arg;
    cb_time now = cb_service_now();
    bool began = cb_core_group_begin(w);
    for (int i = 0; i < b->n; i++) {
        struct cb_set_item *it = &b->items[i];
        struct cb_cause cause = {.kind = CB_CAUSE_API};
        snprintf(cause.ref, sizeof cause.ref, "%s", it->request_id);
        struct cb_callback *cb = cb_core_set(w, &it->req, now, &cause, d);
        it->res.error = d->error;
        snprintf(it->res.detail, sizeof it->res.detail, "%s", d->error_detail);
        if (cb)
            it->res.callback = *cb;
        d->error = CB_OK;
        d->error_detail[0] = '\0';
    }
    cb_core_group_end(w, began);
}

enum db_status cb_request_set_many(struct db_conn *c, struct cb_set_item *items, int n)
{
    const char **numbers = calloc(2 * (size_t)n, sizeof *numbers);
    const char **dialed = calloc((size_t)n, sizeof *dialed);
    const char **attempts_of = calloc((size_t)n, sizeof *attempts_of);
    int n_dialed = 0, n_attempts_of = 0;
    enum db_status st = numbers && dialed && attempts_of ? DB_OK : DB_ERROR;
    for (int i = 0; i < n && st == DB_OK; i++) {
        struct cb_set_request *r = &items[i].req;
        memset(&items[i].res, 0, sizeof items[i].res);
        cb_new_uuid(r->new_id);
        r->new_seq = INT64_MAX / 2 + i; /* after every stored one, in arrival order */
        numbers[2 * i] = r->requester;
        numbers[2 * i + 1] = r->target;
        /* A target dialed through a trunk group ("95551234") is split by the core, which needs
         * the trunk groups that prefix it in the world. */
        if (!r->external_number[0])
            dialed[n_dialed++] = r->target;
        /* The softkey's target is the attempt the core reads under the locks (CB-01), which
         * may be newer than the one the caller read. */
        if (r->softkey)
            attempts_of[n_attempts_of++] = r->requester;
    }
    if (st == DB_OK) {
        /* A set frees nobody to be rung: the queues of the requesters' other targets stay
         * unloaded (db/world.h), unless a callback it supersedes is engaged. It changes no
         * station either: the queue of a target that cannot take a recall is only counted
         * (service/core/scope.h). */
        struct cb_scope_seed seed = {.numbers = numbers,
                                     .n_numbers = 2 * n,
                                     .dialed = dialed,
                                     .n_dialed = n_dialed,
                                     .attempts_of = attempts_of,
                                     .n_attempts_of = n_attempts_of,
                                     .narrow = true,
                                     .keeps_facts = true};
        struct set_batch b = {.items = items, .n = n};
        st = cb_service_decide(c, &seed, decide_sets, &b);
    }
    free(attempts_of);
    free(dialed);
    free(numbers);
    return st;
}

enum db_status cb_request_set(struct db_conn *c, const struct cb_set_request *req,
                              const char *request_id, struct cb_request_result *res)
{
    struct cb_set_item item = {.req = *req, .request_id = request_id};
    enum db_status st = cb_request_set_many(c, &item, 1);
    *res = item.res;
    /* A refusal rolls the caller's transaction back (its idempotency claim with it). */
    return st == DB_OK && res->error != CB_OK ? DB_ABORT : st;
}

static void decide_cancel(struct cb_world *w, void *arg, cb_time now, const struct cb_cause *cause,
                          struct cb_decisions *out, struct cb_request_result *res)
{
    cb_core_cancel(w, arg, CB_END_REQUESTED, now, cause, out);
    struct cb_callback *cb = cb_world_callback(w, arg);
    if (cb)
        res->callback = *cb;
}

enum db_status cb_request_cancel(struct db_conn *c, const char *id, const char *request_id,
                                 struct cb_request_result *res)
{
    memset(res, 0, sizeof *res);
    struct cb_scope_seed seed = {.callback_ids = (const char *[]){id}, .n_callback_ids = 1};
    return run(c, &seed, decide_cancel, (void *)id, request_id, res);
}

static void decide_cancel_all(struct cb_world *w, void *arg, cb_time now,
                              const struct cb_cause *cause, struct cb_decisions *out,
                              struct cb_request_result *res)
{
    cb_core_cancel_all(w, arg, now, cause, out);
    res->cancelled = out->cancelled_count;
}

enum db_status cb_request_cancel_all(struct db_conn *c, const char *requester,
                                     const char *request_id, struct cb_request_result *res)
{
    memset(res, 0, sizeof *res);
    struct cb_scope_seed seed = {.numbers = (const char *[]){requester}, .n_numbers = 1};
    return run(c, &seed, decide_cancel_all, (void *)requester, request_id, res);
}

static void decide_call_again(struct cb_world *w, void *arg, cb_time now,
                              const struct cb_cause *cause, struct cb_decisions *out,
                              struct cb_request_result *res)
{
    (void)cause;
    cb_core_call_again(w, arg, now, out);
    struct cb_callback *cb = cb_world_callback(w, arg);
    if (cb)
        res->callback = *cb;
}

enum db_status cb_request_call_again(struct db_conn *c, const char *id, const char *request_id,
                                     struct cb_request_result *res)
{
    memset(res, 0, sizeof *res);
    struct cb_scope_seed seed = {.callback_ids = (const char *[]){id}, .n_callback_ids = 1};
    return run(c, &seed, decide_call_again, (void *)id, request_id, res);
}

static void decide_number_removed(struct cb_world *w, void *arg, cb_time now,
                                  const struct cb_cause *cause, struct cb_decisions *out,
                                  struct cb_request_result *res)
{
    (void)res;
    cb_core_number_removed(w, arg, now, cause, out);
}

enum db_status cb_request_number_removed(struct db_conn *c, const char *number,
                                         const char *request_id)
{
    struct cb_request_result res;
    memset(&res, 0, sizeof res);
    struct cb_scope_seed seed = {.numbers = (const char *[]){number}, .n_numbers = 1};
    return run(c, &seed, decide_number_removed, (void *)number, request_id, &res);
}
