#include "db/world.h"
#include "db/world_pool.h"
#include "db/outbox.h"
#include "db/rows.h"
#include "db/timers.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool db_world_add_trunk_group(struct cb_world *w, const struct cb_trunk_group *g)
{
    struct cb_trunk_group *copy = &w->trunk_groups[w->n_trunk_groups];
    *copy = *g;
    copy->lines = calloc(g->n_lines + 1, sizeof *copy->lines);
    if (!copy->lines)
        return false;
    if (g->n_lines)
        memcpy(copy->lines, g->lines, g->n_lines * sizeof *g->lines);
    w->n_trunk_groups++;
    return true;
}

/* The world of `scope`, copied from the pool. */
static bool world_of(const struct cb_pool *pool, const struct cb_scope *scope, struct cb_world *w)
{
    w->cap_callbacks = scope->n_rows + 4;
    w->callbacks = calloc(w->cap_callbacks, sizeof *w->callbacks);
    w->stations = calloc(scope->stations.n + 1, sizeof *w->stations);
    w->trunk_groups = calloc(scope->trunk_groups.n + 1, sizeof *w->trunk_groups);
    w->hunt_groups = calloc(scope->hunt_groups.n + 1, sizeof *w->hunt_groups);
    w->scope_targets = calloc(scope->targets.n + 1, sizeof *w->scope_targets);
    if (!w->callbacks || !w->stations || !w->trunk_groups || !w->hunt_groups || !w->scope_targets)
        return false;
    for (size_t i = 0; i < scope->n_rows; i++)
        w->callbacks[w->n_callbacks++] = *cb_pool_row(pool, scope->rows[i]);
    for (size_t i = 0; i < scope->targets.n; i++)
        memcpy(w->scope_targets[w->n_scope_targets++], scope->targets.v[i], CB_NUMBER_MAX);
    struct cb_number_facts f;
    for (size_t i = 0; i < scope->stations.n; i++)
        if (cb_pool_facts(pool, scope->stations.v[i], &f) && f.station)
            w->stations[w->n_stations++] = *f.station;
    for (size_t i = 0; i < scope->trunk_groups.n; i++) {
        if (!cb_pool_facts(pool, scope->trunk_groups.v[i], &f) || !f.trunk_group)
            continue;
        if (!db_world_add_trunk_group(w, f.trunk_group))
            return false;
    }
    for (size_t i = 0; i < scope->hunt_groups.n; i++) {
        if (!cb_pool_facts(pool, scope->hunt_groups.v[i], &f) || !f.hunt_group)
            continue;
        struct cb_hunt_group *g = &w->hunt_groups[w->n_hunt_groups++];
        *g = *f.hunt_group;
        g->members = calloc(g->n_members + 1, sizeof *g->members);
        if (!g->members)
            return false;
        if (g->n_members)
            memcpy(g->members, f.hunt_group->members, g->n_members * sizeof *g->members);
    }
    return true;
}

/* A decision reads at most this many rounds of fills and checks before it gives up and runs
 * again (DB_RETRY): more means its facts keep changing under it. */
#define WORLD_ROUNDS_MAX 12

enum db_status db_world_load(struct db_conn *c, const struct cb_scope_seed *seed,
                             struct cb_world *w)
{
    memset(w, 0, sizeof *w);
    struct cb_pool *kept = db_world_kept(c);
    struct cb_pool *pool = kept ? kept : cb_pool_new(SIZE_MAX, SIZE_MAX);
    if (kept) {
        cb_pool_clear_named(kept);
        if (cb_pool_over(kept))
            cb_pool_clear(kept);
    }
    struct cb_scope scope = {0};
    enum db_status st = pool ? DB_OK : DB_ERROR;
    /* What the last check settled, and every lock taken: a scope computed again after a check
     * that read moved facts again needs no other check when it reads nothing else. */
    struct cb_numbers settled = {0}, held = {0};
    bool done = false, checked = false;
    for (int round = 0; st == DB_OK && !done; round++) {
        bool changed = true, oom = false;
        if (round == WORLD_ROUNDS_MAX)
            st = DB_RETRY;
        else if (!cb_core_scope(pool, seed, &scope))
            st = DB_ERROR;
        else if (cb_scope_lacking(&scope))
            st = db_world_fill(c, pool, &scope, round == 0);
        else if (checked && db_world_settled(&scope, &settled, &held))
            done = true;
        else if (!checked && db_world_assumable(c, pool, &scope, &w->options)) {
            st = db_world_assume(c, pool, &scope, round == 0);
            done = true;
        } else if ((st = db_world_check(c, pool, &scope, checked, &w->options, round == 0, &settled,
                                        &changed)) == DB_OK) {
            checked = true;
            for (size_t i = 0; i < scope.locks.n; i++)
                cb_numbers_add(&held, scope.locks.v[i], &oom);
            done = !changed;
            st = oom ? DB_ERROR : st;
        }
    }
    cb_numbers_free(&settled);
    cb_numbers_free(&held);
    if (st == DB_OK)
        db_world_checked(c, &scope);
    if (st == DB_OK && !world_of(pool, &scope, w))
        st = DB_ERROR;
    cb_scope_free(&scope);
    if (!kept)
        cb_pool_free(pool);
    return st;
}

void db_world_free(struct cb_world *w)
{
    for (size_t i = 0; i < w->n_trunk_groups; i++)
        free(w->trunk_groups[i].lines);
    for (size_t i = 0; i < w->n_hunt_groups; i++)
        free(w->hunt_groups[i].members);
    free(w->trunk_groups);
    free(w->hunt_groups);
    free(w->stations);
    free(w->scope_targets);
    free(w->callbacks);
    memset(w, 0, sizeof *w);
}

static struct db_stmt save_stations = DB_STMT(
    "save_stations", 1,
    "UPDATE stations s SET busy = x.busy, hook_off = x.hook_off, dnd = x.dnd, "
    "make_busy = x.make_busy, attendant_busy_out = x.attendant_busy_out, "
    "forward_to = nullif(x.forward_to, ''), failed_over = x.failed_over, "
    "console_available = x.console_available, attempt_result = nullif(x.attempt_result, ''), "
    "attempt_to = nullif(x.attempt_to, ''), "
    "attempt_at = CASE WHEN x.attempt_result = '' THEN NULL ELSE now() END, updated_at = now() "
    "FROM jsonb_to_recordset($1::jsonb) AS x(number text, busy boolean, hook_off boolean, "
    "dnd boolean, make_busy boolean, attendant_busy_out boolean, forward_to text, "
    "failed_over boolean, console_available boolean, attempt_result text, attempt_to text) "
    "WHERE s.number = x.number AND s.number = ANY(" DB_JSON_KEYS("number", "text") ")");

static struct db_stmt save_lines = DB_STMT(
    "save_lines", 1,
    "UPDATE trunk_lines l SET busy = x.busy, reserved_for = nullif(x.reserved_for, '')::uuid "
    "FROM jsonb_to_recordset($1::jsonb) AS x(trunk_group text, line text, busy boolean, "
    "reserved_for text) WHERE l.trunk_group = x.trunk_group AND l.line = x.line");

#define CALLBACK_RECORD                                                                            \
    "x(id uuid, requester text, target text, target_type text, reason text, mode text, "           \
    "state text, origin_line text, notify_line text, notify_station text, external_number text, "  \
    "reserved_line text, awaiting_release boolean, hook_cycle_needed boolean, "                    \
    "hook_off_seen boolean, idle_report_needed boolean, lamp_lit boolean, created_at bigint, "     \
    "updated_at bigint, expires_at bigint, ended_at bigint, end_reason text, supersedes text)"
#define MS(col)  "to_timestamp(x." col " / 1000.0)"
#define MS0(col) "CASE WHEN x." col " = 0 THEN NULL ELSE to_timestamp(x." col " / 1000.0) END"

static struct db_stmt save_callbacks_update = DB_STMT(
    "save_callbacks_update", 1,
    "UPDATE callbacks c SET reason = x.reason, state = x.state, notify_line = x.notify_line, "
    "notify_station = nullif(x.notify_station, ''), reserved_line = nullif(x.reserved_line, ''), "
    "awaiting_release = x.awaiting_release, hook_cycle_needed = x.hook_cycle_needed, "
    "hook_off_seen = x.hook_off_seen, idle_report_needed = x.idle_report_needed, "
    "lamp_lit = x.lamp_lit, updated_at = " MS("updated_at") ", expires_at = " MS0(
        "expires_at") ", ended_at = " MS0("ended_at") ", end_reason = nullif(x.end_reason, '') "
                                                      "FROM jsonb_to_recordset($1::jsonb) "
                                                      "AS " CALLBACK_RECORD " WHERE c.id = x.id "
                                                      "AND c.id = ANY(" DB_JSON_KEYS("id",
                                                                                     "uuid") ")");

static struct db_stmt save_callbacks_insert = DB_STMT(
    "save_callbacks_insert", 1,
    "INSERT INTO callbacks (id, requester, target, target_type, reason, mode, state, origin_line, "
    "notify_line, notify_station, external_number, reserved_line, awaiting_release, "
    "hook_cycle_needed, hook_off_seen, idle_report_needed, lamp_lit, created_at, updated_at, "
    "expires_at, ended_at, end_reason, supersedes) "
    "SELECT x.id, x.requester, x.target, x.target_type, x.reason, x.mode, x.state, x.origin_line, "
    "x.notify_line, nullif(x.notify_station, ''), nullif(x.external_number, ''), "
    "nullif(x.reserved_line, ''), x.awaiting_release, x.hook_cycle_needed, x.hook_off_seen, "
    "x.idle_report_needed, x.lamp_lit, " MS("created_at") ", " MS("updated_at") ", " MS0(
        "expires_at") ", " MS0("ended_at") ", nullif(x.end_reason, ''), "
                                           "nullif(x.supersedes, '')::uuid FROM "
                                           "jsonb_to_recordset($1::jsonb) AS " CALLBACK_RECORD);

static struct db_stmt save_history = DB_STMT(
    "save_history", 1,
    "INSERT INTO callback_history (callback_id, at, from_state, to_state, cause_kind, cause_ref) "
    "SELECT x.callback_id, to_timestamp(x.at / 1000.0), x.from_state, x.to_state, x.cause_kind, "
    "x.cause_ref FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (callback_id uuid, at bigint, "
    "from_state text, to_state text, cause_kind text, cause_ref text)) WITH ORDINALITY "
    "AS x(callback_id, at, from_state, to_state, cause_kind, cause_ref, n) ORDER BY x.n");

static json_t *callback_record(const struct cb_callback *cb)
{
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:b, "
        "s:b, s:b, s:I, s:I, s:I, s:I, s:s, s:s}",
        "id", cb->id, "requester", cb->requester, "target", cb->target, "target_type",
        cb_target_type_name(cb->target_type), "reason", cb_reason_name(cb->reason), "mode",
        cb_mode_name(cb->mode), "state", cb_state_name(cb->state), "origin_line", cb->origin_line,
        "notify_line", cb->notify_line, "notify_station", cb->notify_station, "external_number",
        cb->external_number, "reserved_line", cb->reserved_line, "awaiting_release",
        cb->awaiting_release, "hook_cycle_needed", cb->hook_cycle_needed, "hook_off_seen",
        cb->hook_off_seen, "idle_report_needed", cb->idle_report_needed, "lamp_lit", cb->lamp_lit,
        "created_at", (json_int_t)cb->created_at, "updated_at", (json_int_t)cb->updated_at,
        "expires_at", (json_int_t)cb->expires_at, "ended_at", (json_int_t)cb->ended_at,
        "end_reason", cb->end_reason == CB_END_NONE ? "" : cb_end_reason_name(cb->end_reason),
        "supersedes", cb->supersedes);
}

enum db_status db_world_save(struct db_conn *c, struct cb_world *w, const struct cb_decisions *d,
                             json_t *outbox)
{
    json_t *stations = json_array(), *lines = json_array(), *updated = json_array(),
           *created = json_array(), *history = json_array();
    for (size_t i = 0; i < w->n_stations; i++) {
        const struct cb_station *s = &w->stations[i];
        if (!s->dirty)
            continue;
        const char *attempt = s->attempt == CB_ATTEMPT_BUSY          ? "busy"
                              : s->attempt == CB_ATTEMPT_NO_ANSWER   ? "no_answer"
                              : s->attempt == CB_ATTEMPT_TRUNKS_BUSY ? "trunks_busy"
                                                                     : "";
        json_array_append_new(
            stations,
            json_pack("{s:s, s:b, s:b, s:b, s:b, s:b, s:s, s:b, s:b, s:s, s:s}", "number",
                      s->number, "busy", s->state.busy, "hook_off", s->state.hook_off, "dnd",
                      s->state.dnd, "make_busy", s->state.make_busy, "attendant_busy_out",
                      s->state.attendant_busy_out, "forward_to", s->state.forward_to, "failed_over",
                      s->state.failed_over, "console_available", s->state.console_available,
                      "attempt_result", attempt, "attempt_to",
                      s->attempt == CB_ATTEMPT_NONE ? "" : s->attempt_to));
    }
    for (size_t g = 0; g < w->n_trunk_groups; g++)
        for (size_t i = 0; i < w->trunk_groups[g].n_lines; i++) {
            const struct cb_trunk_line *l = &w->trunk_groups[g].lines[i];
            if (l->dirty)
                json_array_append_new(lines,
                                      json_pack("{s:s, s:s, s:b, s:s}", "trunk_group",
                                                w->trunk_groups[g].number, "line", l->id, "busy",
                                                l->busy, "reserved_for", l->reserved_for));
        }
    for (size_t i = 0; i < w->n_callbacks; i++) {
        const struct cb_callback *cb = &w->callbacks[i];
        if (cb->is_new)
            json_array_append_new(created, callback_record(cb));
        else if (cb->dirty)
            json_array_append_new(updated, callback_record(cb));
    }
    for (size_t i = 0; i < d->n_history; i++) {
        const struct cb_history_entry *h = &d->history[i];
        json_array_append_new(history,
                              json_pack("{s:s, s:I, s:s?, s:s, s:s, s:s}", "callback_id",
                                        h->callback_id, "at", (json_int_t)h->at, "from_state",
                                        h->from == CB_STATE_NONE ? NULL : cb_state_name(h->from),
                                        "to_state", cb_state_name(h->to), "cause_kind",
                                        h->cause.kind == CB_CAUSE_API     ? "api"
                                        : h->cause.kind == CB_CAUSE_EVENT ? "event"
                                                                          : "timer",
                                        "cause_ref", h->cause.ref));
    }
    /* Each timer once, with its last change of this decision. */
    json_t *sets = json_array(), *clears = json_array();
    for (size_t i = 0; i < d->n_timers; i++) {
        const struct cb_timer_op *t = &d->timers[i];
        bool later = false;
        for (size_t k = i + 1; k < d->n_timers && !later; k++)
            later =
                d->timers[k].kind == t->kind && !strcmp(d->timers[k].callback_id, t->callback_id);
        if (later)
            continue;
        if (t->clear)
            json_array_append_new(clears,
                                  json_pack("{s:s, s:s}", "kind", cb_timer_kind_name(t->kind),
                                            "ref", t->callback_id));
        else
            json_array_append_new(sets,
                                  json_pack("{s:s, s:s, s:I}", "kind", cb_timer_kind_name(t->kind),
                                            "ref", t->callback_id, "at", (json_int_t)t->at));
    }
    /* One round trip, in this order: a superseded callback ends before its successor is
     * inserted (CB-08: one active per pair), and history follows the rows it describes. */
    bool marked = json_array_size(stations) || json_array_size(lines) || json_array_size(updated) ||
                  json_array_size(created);
    struct db_pipeline p = {0};
    db_pipeline_add_rows(&p, &save_stations, stations);
    db_pipeline_add_rows(&p, &save_lines, lines);
    db_pipeline_add_rows(&p, &save_callbacks_update, updated);
    db_pipeline_add_rows(&p, &save_callbacks_insert, created);
    db_pipeline_add_rows(&p, &save_history, history);
    db_timers_queue(&p, sets, clears);
    if (marked)
        db_world_wrote(c, &p, w); /* after the writes whose version it reads */
    db_outbox_queue(c, &p, outbox);
    /* Nothing reads these results: they ride with the transaction's next round trip. */
    enum db_status st = p.overflow ? DB_ERROR : DB_OK;
    db_pipeline_defer(c, &p);
    return st;
}
