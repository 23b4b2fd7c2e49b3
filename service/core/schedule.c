/* CB-11..CB-21, CB-31: deciding which waiting callbacks mature, and ringing their requesters.
 *
 * One pass over the callbacks of the scope targets, sorted once by queue position (CB-17) and
 * kept sorted while the world's index is open (a group of inputs schedules many times). Considering
 * a callback changes that callback only (and the trunk line it reserves): no other callback starts
 * or stops waiting during the pass, so visiting the sorted list in order is the same as picking,
 * again and again, the next waiting callback after the last one. What the rules ask of the rest of
 * the world (is this station rung already, how many callbacks engage this target, which line is
 * free) is counted once and kept up to date as the pass rings callbacks, so a pass costs n log n
 * in the loaded callbacks, not n squared.
 *
 * A group of inputs (cb_core_group_begin) schedules after each of them against the same world.
 * The first pass looks at every waiting callback; the next ones only at those whose decision may
 * have changed: a callback changed since the previous pass began, or one whose target or
 * requester (or a console of the requester's console group, CB-31) is a party to such a change,
 * or to a callback rung earlier in the same pass. Any other callback was looked at with the same
 * inputs before and left as it was, so it would be left again: the group decides what its
 * inputs decide one at a time (tests/unit/test_core_groups.c), at the cost of what they touch.
 * Such a pass finds what it looks at through lists of the queue's entries per target, per
 * requester and per callback, and visits them in queue order from a heap: it never walks the
 * whole queue, so a group of events on distinct queues costs each event its own queue, whatever
 * the size of the world (tests/bench/bench_core, "group").
 * The engaged counts are kept across passes, each callback's share recorded so that a change
 * moves it. */
#include "service/core/internal.h"

#include <stdio.h>
#include <stdlib.h>

#define TARGET_TYPES 3 /* enum cb_target_type */

/* A scope target: where it is in the world, per target type (resolved at first use), and how
 * many callbacks on it notify or recall (CB-17). */
struct scope_target {
    bool resolved[TARGET_TYPES];
    size_t pos[TARGET_TYPES]; /* station / trunk group / hunt group position */
    size_t engaged;
};

/* What the scheduler keeps while the world's index is open (index.c frees it). */
struct cb_schedule_memory {
    struct scope_target *targets; /* per scope position */
    size_t *station_engaged;      /* per station: callbacks ringing it or recalling from it */
    /* Per callback: the scope position and the station number its engagement is counted under
     * (CB_NOWHERE and "" when it is not counted). */
    size_t *counted_scope;
    char (*counted_station)[CB_NUMBER_MAX];
    size_t n_callbacks;
    size_t log_seen[CB_CHANGE_KINDS]; /* the index's log entries a pass has looked at */
    /* The queue's entries (positions in the index's queue) by scope target, by requester
     * station and by callback: lists linked through *_next (CB_NOWHERE ends them), extended as
     * the queue grows, made again when it is built again (its entries then move). */
    size_t *scope_head, *station_head, *scope_next, *station_next;
    size_t *entry_of; /* per callback: its entry, CB_NOWHERE when it has none */
    size_t n_mapped, cap_entries;
    unsigned long builds_seen;
    /* For one pass: the entries to look at (see the top of this file), a min-heap, each pushed
     * once a pass (entry_pass); a target or station pushes its list once a pass. */
    size_t *heap, n_heap;
    unsigned long pass, *entry_pass, *scope_pass, *station_pass;
    bool all; /* the first pass: every waiting callback */
};

/* What one pass knows about the world. Stations and groups do not change during a pass; the
 * engaged counts and the trunk lines change only when the pass rings a callback. */
struct pass {
    struct cb_world *w;
    cb_time now;
    const struct cb_cause *cause;
    struct cb_decisions *out;
    const struct cb_queued *candidates; /* the index's queue: not the pass's to free */
    size_t n_candidates;
    struct cb_schedule_memory *m;
    struct scope_target *targets; /* m->targets */
    size_t *station_engaged;      /* m->station_engaged */
    size_t visiting;              /* the entry being looked at; CB_NOWHERE before the first */
    size_t *line_cursor;          /* per trunk group: the lines before it are taken (CB-15) */
    size_t *hunt_free;            /* per hunt group: free members, CB_NOWHERE until counted */
};

/* Where a maturing callback reaches its target: for a trunk group, the line it will hold. */
struct target_slot {
    struct cb_trunk_group *trunk;
    struct cb_trunk_line *line;
};

/* Out of memory aborts, as grow() in world.c does. */
static void *pass_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        abort();
    return p;
}

/* The position of the station, trunk group or hunt group `c` waits for; CB_NOWHERE if none. */
static size_t find_target(struct cb_world *w, const struct cb_callback *c)
{
    switch (c->target_type) {
    case CB_TARGET_STATION: {
        const struct cb_station *s = cb_world_station(w, c->target);
        return s ? (size_t)(s - w->stations) : CB_NOWHERE;
    }
    case CB_TARGET_TRUNK_GROUP: {
        const struct cb_trunk_group *g = cb_world_trunk_group(w, c->target);
        return g ? (size_t)(g - w->trunk_groups) : CB_NOWHERE;
    }
    case CB_TARGET_HUNT_GROUP: {
        const struct cb_hunt_group *g = cb_world_hunt_group(w, c->target);
        return g ? (size_t)(g - w->hunt_groups) : CB_NOWHERE;
    }
    }
    return CB_NOWHERE;
}

/* find_target(), once per scope target and target type. */
static size_t target_position(struct pass *p, const struct cb_callback *c, size_t scope)
{
    struct scope_target *t = &p->targets[scope];
    size_t type = (size_t)c->target_type; /* a valid type: target_ready() switched on it */
    if (!t->resolved[type]) {
        t->pos[type] = find_target(p->w, c);
        t->resolved[type] = true;
    }
    return t->pos[type];
}

/* CB-15: the first line of the group that is idle and not reserved. Lines are only taken during
 * a pass, never freed, so the search resumes where it stopped. */
static struct cb_trunk_line *free_line(struct pass *p, size_t group)
{
    struct cb_trunk_group *g = &p->w->trunk_groups[group];
    size_t *at = &p->line_cursor[group];
    while (*at < g->n_lines && (g->lines[*at].busy || g->lines[*at].reserved_for[0]))
        (*at)++;
    return *at < g->n_lines ? &g->lines[*at] : NULL;
}

/* CB-16/CB-17: free members minus the group's callbacks already notifying or recalling. */
static size_t hunt_capacity(struct pass *p, size_t group, size_t scope)
{
    if (p->hunt_free[group] == CB_NOWHERE) {
        const struct cb_hunt_group *g = &p->w->hunt_groups[group];
        size_t n = 0;
        for (size_t i = 0; i < g->n_members; i++)
            if (cb_hunt_member_free(p->w, g->members[i]))
                n++;
        p->hunt_free[group] = n;
    }
    size_t used = p->targets[scope].engaged;
    return p->hunt_free[group] > used ? p->hunt_free[group] - used : 0;
}

/* CB-11..CB-16, CB-19: can the target take the recall now? */
static bool target_ready(struct pass *p, const struct cb_queued *k, struct target_slot *slot)
{
    const struct cb_callback *c = &p->w->callbacks[k->pos];
    memset(slot, 0, sizeof(*slot));
    if (c->mode != CB_MODE_CALLBACK)
        return false; /* CB-40: a message never matures */
    switch (c->target_type) {
    case CB_TARGET_STATION: {
        size_t at = target_position(p, c, k->scope);
        const struct cb_station *t = at == CB_NOWHERE ? NULL : &p->w->stations[at];
        if (!t || t->state.busy || t->state.failed_over || cb_station_blocking(t))
            return false; /* CB-11, CB-12, CB-14, CB-19 */
        if (c->awaiting_release || c->hook_cycle_needed || c->idle_report_needed)
            return false;                         /* CB-13, CB-14, CB-24 */
        return p->targets[k->scope].engaged == 0; /* CB-17: one at a time */
    }
    case CB_TARGET_TRUNK_GROUP: {
        /* CB-15: a line that is idle and not held for another callback. */
        size_t at = target_position(p, c, k->scope);
        slot->trunk = at == CB_NOWHERE ? NULL : &p->w->trunk_groups[at];
        slot->line = slot->trunk ? free_line(p, at) : NULL;
        return slot->line != NULL;
    }
    case CB_TARGET_HUNT_GROUP: {
        /* CB-16/CB-17: one callback per idle member. */
        size_t at = target_position(p, c, k->scope);
        if (at == CB_NOWHERE || c->hook_cycle_needed || c->idle_report_needed)
            return false;
        return hunt_capacity(p, at, k->scope) > 0;
    }
    }
    return false;
}

/* CB-11/CB-17/CB-19: a station that may be rung now: idle, on its primary controller, and not
 * already being rung or recalling for another callback. */
static bool station_can_be_rung(const struct pass *p, size_t station)
{
    const struct cb_station *s = &p->w->stations[station];
    return !s->state.busy && !s->state.failed_over && p->station_engaged[station] == 0;
}

/* CB-31: an available console of the requester's console group, other than the requester: the
 * first in the world's order, as the stations are provisioned. */
static size_t other_console(const struct pass *p, size_t requester)
{
    const struct cb_station *req = &p->w->stations[requester];
    struct cb_index_iter it;
    if (!req->console_group[0] ||
        !cb_index_start(p->w, CB_INDEX_CONSOLES, req->console_group, NULL, &it))
        return CB_NOWHERE;
    size_t first = CB_NOWHERE;
    for (size_t pos; (pos = cb_index_next(&it)) != CB_NOWHERE;)
        if (pos != requester && pos < first && p->w->stations[pos].state.console_available &&
            station_can_be_rung(p, pos))
            first = pos;
    return first;
}

/* Adds `delta` (+1 or -1) to the engaged count of every station numbered `who` (there should be
 * one) and of scope target `scope` (CB-17). */
static void count_engaged(struct pass *p, const char *who, size_t scope, int delta)
{
    struct cb_index_iter it;
    if (who[0] && cb_index_start(p->w, CB_INDEX_STATIONS, who, NULL, &it))
        for (size_t pos; (pos = cb_index_next(&it)) != CB_NOWHERE;)
            p->station_engaged[pos] += (size_t)delta;
    if (scope != CB_NOWHERE)
        p->targets[scope].engaged += (size_t)delta;
}

/* Counts callback `pos` as it is now: its former share goes, its current one (if it notifies or
 * recalls) comes. */
static void recount(struct pass *p, size_t pos)
{
    struct cb_schedule_memory *m = p->m;
    const struct cb_callback *c = &p->w->callbacks[pos];
    count_engaged(p, m->counted_station[pos], m->counted_scope[pos], -1);
    m->counted_scope[pos] = CB_NOWHERE;
    m->counted_station[pos][0] = '\0';
    if (!cb_callback_engaged(c))
        return;
    m->counted_scope[pos] = cb_index_first(p->w, CB_INDEX_SCOPE, c->target);
    CB_COPY(m->counted_station[pos], c->notify_station);
    count_engaged(p, m->counted_station[pos], m->counted_scope[pos], +1);
}

/* ---- what a pass looks at again ----------------------------------------------------------- */

/* Entry `e` is looked at in this pass, unless the pass is past it (as a walk of the whole queue
 * in order would not come back to it) or it is already due. */
static void push_entry(struct pass *p, size_t e)
{
    struct cb_schedule_memory *m = p->m;
    if (m->all || (p->visiting != CB_NOWHERE && e <= p->visiting) || m->entry_pass[e] == m->pass)
        return;
    m->entry_pass[e] = m->pass;
    size_t at = m->n_heap++;
    while (at > 0 && m->heap[(at - 1) / 2] > e) {
        m->heap[at] = m->heap[(at - 1) / 2];
        at = (at - 1) / 2;
    }
    m->heap[at] = e;
}

/* The next entry to look at, in queue order; CB_NOWHERE when none is left. */
static size_t pop_entry(struct cb_schedule_memory *m)
{
    if (m->n_heap == 0)
        return CB_NOWHERE;
    size_t top = m->heap[0], last = m->heap[--m->n_heap], at = 0;
    for (;;) {
        size_t child = 2 * at + 1;
        if (child >= m->n_heap)
            break;
        if (child + 1 < m->n_heap && m->heap[child + 1] < m->heap[child])
            child++;
        if (m->heap[child] >= last)
            break;
        m->heap[at] = m->heap[child];
        at = child;
    }
    if (m->n_heap > 0)
        m->heap[at] = last;
    return top;
}

/* Every entry waiting on scope target `scope`. */
static void push_scope(struct pass *p, size_t scope)
{
    struct cb_schedule_memory *m = p->m;
    if (m->all || m->scope_pass[scope] == m->pass)
        return;
    m->scope_pass[scope] = m->pass; /* again later in the pass: those after it are pushed */
    for (size_t e = m->scope_head[scope]; e != CB_NOWHERE; e = m->scope_next[e])
        push_entry(p, e);
}

/* Every entry requested by station `station`. */
static void push_station(struct pass *p, size_t station)
{
    struct cb_schedule_memory *m = p->m;
    if (m->all || m->station_pass[station] == m->pass)
        return;
    m->station_pass[station] = m->pass;
    for (size_t e = m->station_head[station]; e != CB_NOWHERE; e = m->station_next[e])
        push_entry(p, e);
}

/* The stations numbered `number` may be rung, or not, differently: look again at the callbacks
 * they requested, and at those of the consoles of their console group (CB-31 rerouting). */
static void hit_station(struct pass *p, const char *number)
{
    struct cb_index_iter it, peers;
    if (!number[0] || !cb_index_start(p->w, CB_INDEX_STATIONS, number, NULL, &it))
        return;
    for (size_t pos; (pos = cb_index_next(&it)) != CB_NOWHERE;) {
        push_station(p, pos);
        const struct cb_station *s = &p->w->stations[pos];
        if (s->kind != CB_KIND_CONSOLE || !s->console_group[0] ||
            !cb_index_start(p->w, CB_INDEX_CONSOLES, s->console_group, NULL, &peers))
            continue;
        for (size_t peer; (peer = cb_index_next(&peers)) != CB_NOWHERE;)
            push_station(p, peer);
    }
}

/* Target `number` may take a recall, or not, differently: look again at its queue, and at the
 * queues of the hunt groups it is a member of (CB-16). */
static void hit_target(struct pass *p, const char *number)
{
    struct cb_index_iter it;
    if (cb_index_start(p->w, CB_INDEX_SCOPE, number, NULL, &it))
        for (size_t pos; (pos = cb_index_next(&it)) != CB_NOWHERE;)
            push_scope(p, pos);
    for (size_t g = 0; g < p->w->n_hunt_groups; g++)
        if (cb_hunt_has_member(&p->w->hunt_groups[g], number))
            hit_target(p, p->w->hunt_groups[g].number);
}

/* Callback `pos` changed: it, its target and the stations its engagement was and is counted
 * under are looked at again, and its share in the counts moves. */
static void callback_changed(struct pass *p, size_t pos)
{
    struct cb_schedule_memory *m = p->m;
    const struct cb_callback *c = &p->w->callbacks[pos];
    if (m->entry_of[pos] != CB_NOWHERE)
        push_entry(p, m->entry_of[pos]);
    hit_station(p, m->counted_station[pos]);
    recount(p, pos);
    hit_station(p, m->counted_station[pos]);
    hit_station(p, c->requester);
    hit_target(p, c->target);
}

/* CB-15, CB-20, CB-21, CB-31: reserve the line (trunks), then ring `who` on its prime line with
 * three short bursts, bypassing its forwarding; start the notification timeout. */
static void notify(struct pass *p, const struct cb_queued *k, size_t who_pos,
                   const struct target_slot *slot)
{
    struct cb_world *w = p->w;
    struct cb_callback *c = &w->callbacks[k->pos];
    const struct cb_station *who = &w->stations[who_pos];
    struct cb_decisions *out = p->out;
    if (slot->line) {
        struct cb_command *res = cb_emit(out, CB_CMD_RESERVE_TRUNK, c->id);
        CB_COPY(res->trunk_group, c->target);
        CB_COPY(res->line, slot->line->id);
        CB_COPY(res->for_station, c->requester);
        CB_COPY(slot->line->reserved_for, c->id);
        cb_mark_line(w, slot->trunk, slot->line);
        CB_COPY(c->reserved_line, slot->line->id);
    }
    CB_COPY(c->notify_station, who->number);
    cb_index_rekey(w, CB_INDEX_NOTIFIED, k->pos);
    CB_COPY(c->notify_line, cb_station_line(who));
    struct cb_command *ring = cb_emit(out, CB_CMD_RING, c->id);
    CB_COPY(ring->station, c->notify_station);
    CB_COPY(ring->line, c->notify_line);
    if (!cb_streq(who->number, c->requester))
        CB_COPY(ring->on_behalf_of, c->requester);
    char dialed[2 * CB_NUMBER_MAX];
    cb_dialed_number(c, dialed);
    snprintf(ring->display, sizeof(ring->display), "Callback %s", dialed);
    cb_transition(w, c, CB_STATE_NOTIFYING, p->now, p->cause, out);
    cb_emit_timer(out, CB_TIMER_NOTIFY_TIMEOUT, c->id,
                  p->now + w->options.notification_timeout_s * 1000);
    /* CB-17: that station and the target are engaged now; what waits on either is looked at
     * again for the rest of this pass. */
    recount(p, k->pos);
    push_scope(p, k->scope);
    hit_station(p, c->notify_station);
}

/* CB-31: a queued callback waits for the console that set it; once that console is available
 * it is rung there if the target is still free, else it goes back to waiting for the target. */
static void consider_queued(struct pass *p, const struct cb_queued *k)
{
    const struct cb_station *req =
        k->requester == CB_NOWHERE ? NULL : &p->w->stations[k->requester];
    if (!req || req->state.failed_over || !req->state.console_available)
        return;
    struct target_slot slot;
    if (!target_ready(p, k, &slot))
        cb_transition(p->w, &p->w->callbacks[k->pos], CB_STATE_PENDING, p->now, p->cause, p->out);
    else if (station_can_be_rung(p, k->requester))
        notify(p, k, k->requester, &slot);
}

/* CB-11..CB-19, CB-31: a pending callback matures if its target and its requester allow. */
static void consider_pending(struct pass *p, const struct cb_queued *k)
{
    struct target_slot slot;
    if (!target_ready(p, k, &slot))
        return;
    const struct cb_station *req =
        k->requester == CB_NOWHERE ? NULL : &p->w->stations[k->requester];
    if (!req || req->state.failed_over)
        return; /* CB-19: waits for the fail-back, keeping its place */
    if (req->kind == CB_KIND_CONSOLE && !req->state.console_available) {
        /* CB-31: another console of the group takes it, else it queues for this one. */
        size_t alt = other_console(p, k->requester);
        if (alt != CB_NOWHERE)
            notify(p, k, alt, &slot);
        else
            cb_transition(p->w, &p->w->callbacks[k->pos], CB_STATE_QUEUED, p->now, p->cause,
                          p->out);
        return;
    }
    if (station_can_be_rung(p, k->requester)) /* CB-17: a busy requester is skipped */
        notify(p, k, k->requester, &slot);
}

static bool waiting(const struct cb_callback *c)
{
    return cb_callback_active(c) && c->mode == CB_MODE_CALLBACK &&
           (c->state == CB_STATE_PENDING || c->state == CB_STATE_QUEUED);
}

/* The callbacks of the scope targets in queue order, kept by the index across the inputs of a
 * group; false when there is none. Those not waiting are skipped as they are visited. */
static bool collect_candidates(struct pass *p)
{
    p->candidates = cb_index_queue(p->w, &p->n_candidates);
    return p->n_candidates > 0;
}

void cb_schedule_memory_free(struct cb_schedule_memory *m)
{
    if (!m)
        return;
    free(m->targets);
    free(m->station_engaged);
    free(m->counted_scope);
    free(m->counted_station);
    free(m->scope_head);
    free(m->station_head);
    free(m->scope_next);
    free(m->station_next);
    free(m->entry_of);
    free(m->heap);
    free(m->entry_pass);
    free(m->scope_pass);
    free(m->station_pass);
    free(m);
}

/* Room for every callback of the world in the per-callback arrays (the core adds callbacks
 * between passes, never during one). */
static void memory_fit_callbacks(struct cb_schedule_memory *m, size_t n)
{
    if (n <= m->n_callbacks)
        return;
    size_t *scope = realloc(m->counted_scope, n * sizeof(*scope));
    char(*station)[CB_NUMBER_MAX] = realloc(m->counted_station, n * sizeof(*station));
    size_t *entry = realloc(m->entry_of, n * sizeof(*entry));
    if (!scope || !station || !entry)
        abort(); /* as pass_calloc */
    for (size_t i = m->n_callbacks; i < n; i++) {
        scope[i] = CB_NOWHERE;
        station[i][0] = '\0';
        entry[i] = CB_NOWHERE;
    }
    m->counted_scope = scope;
    m->counted_station = station;
    m->entry_of = entry;
    m->n_callbacks = n;
}

/* The memory of the world's index, made at the first pass: every engaged callback counted, and
 * this pass looks at every waiting callback. */
static struct cb_schedule_memory *memory_of(struct cb_world *w)
{
    struct cb_world_index *idx = w->index;
    if (idx->schedule)
        return idx->schedule;
    struct cb_schedule_memory *m = pass_calloc(1, sizeof(*m));
    m->targets = pass_calloc(w->n_scope_targets, sizeof(*m->targets));
    m->station_engaged = pass_calloc(w->n_stations, sizeof(*m->station_engaged));
    m->scope_head = pass_calloc(w->n_scope_targets, sizeof(*m->scope_head));
    m->station_head = pass_calloc(w->n_stations, sizeof(*m->station_head));
    m->scope_pass = pass_calloc(w->n_scope_targets, sizeof(*m->scope_pass));
    m->station_pass = pass_calloc(w->n_stations, sizeof(*m->station_pass));
    m->builds_seen = idx->queue_builds - 1; /* mapped at the first pass */
    m->all = true;
    idx->schedule = m;
    return m;
}

/* Grows the per-entry arrays to hold `n` entries. */
static void memory_fit_entries(struct cb_schedule_memory *m, size_t n)
{
    if (n <= m->cap_entries)
        return;
    size_t cap = m->cap_entries ? m->cap_entries : 64;
    while (cap < n)
        cap *= 2;
    size_t *scope_next = realloc(m->scope_next, cap * sizeof(*scope_next));
    size_t *station_next = realloc(m->station_next, cap * sizeof(*station_next));
    size_t *heap = realloc(m->heap, cap * sizeof(*heap));
    unsigned long *entry_pass = realloc(m->entry_pass, cap * sizeof(*entry_pass));
    if (!scope_next || !station_next || !heap || !entry_pass)
        abort(); /* as pass_calloc */
    m->scope_next = scope_next;
    m->station_next = station_next;
    m->heap = heap;
    m->entry_pass = entry_pass;
    m->cap_entries = cap;
}

/* The lists of the queue's entries brought up to date: the entries appended since the last
 * pass added, or every entry again when the queue was built again. */
static void map_entries(struct pass *p)
{
    struct cb_world *w = p->w;
    struct cb_schedule_memory *m = p->m;
    if (m->builds_seen != w->index->queue_builds) {
        m->builds_seen = w->index->queue_builds;
        m->n_mapped = 0;
        for (size_t s = 0; s < w->n_scope_targets; s++)
            m->scope_head[s] = CB_NOWHERE;
        for (size_t s = 0; s < w->n_stations; s++)
            m->station_head[s] = CB_NOWHERE;
        for (size_t i = 0; i < m->n_callbacks; i++)
            m->entry_of[i] = CB_NOWHERE;
    }
    memory_fit_entries(m, p->n_candidates);
    for (size_t e = m->n_mapped; e < p->n_candidates; e++) {
        const struct cb_queued *k = &p->candidates[e];
        m->scope_next[e] = m->scope_head[k->scope];
        m->scope_head[k->scope] = e;
        m->station_next[e] = CB_NOWHERE;
        if (k->requester != CB_NOWHERE) {
            m->station_next[e] = m->station_head[k->requester];
            m->station_head[k->requester] = e;
        }
        m->entry_of[k->pos] = e;
        m->entry_pass[e] = 0;
    }
    m->n_mapped = p->n_candidates;
}

/* Before a pass: the counts brought up to date, and what to look at again marked, from what
 * the index logged since the previous pass began (that pass's own changes included). */
static void catch_up(struct pass *p)
{
    struct cb_world *w = p->w;
    struct cb_schedule_memory *m = p->m;
    bool first = m->all;
    memory_fit_callbacks(m, w->n_callbacks);
    map_entries(p);
    m->pass++;
    m->n_heap = 0;
    const struct cb_positions *log = w->index->log;
    size_t seen[CB_CHANGE_KINDS];
    for (size_t k = 0; k < CB_CHANGE_KINDS; k++) {
        seen[k] = m->log_seen[k];
        m->log_seen[k] = log[k].n;
    }
    if (first) {
        for (size_t i = 0; i < w->n_callbacks; i++)
            recount(p, i);
        return;
    }
    for (size_t i = seen[CB_CHANGED_CALLBACKS]; i < log[CB_CHANGED_CALLBACKS].n; i++)
        callback_changed(p, log[CB_CHANGED_CALLBACKS].pos[i]);
    for (size_t i = seen[CB_CHANGED_STATIONS]; i < log[CB_CHANGED_STATIONS].n; i++) {
        const char *number = w->stations[log[CB_CHANGED_STATIONS].pos[i]].number;
        hit_station(p, number);
        hit_target(p, number);
    }
    for (size_t i = seen[CB_CHANGED_TRUNKS]; i < log[CB_CHANGED_TRUNKS].n; i++)
        hit_target(p, w->trunk_groups[log[CB_CHANGED_TRUNKS].pos[i]].number);
}

/* The next entry this pass looks at: every one in order at the first pass, else those pushed
 * (see the top of this file); CB_NOWHERE at the end. */
static size_t next_entry(struct pass *p)
{
    if (!p->m->all)
        return pop_entry(p->m);
    size_t e = p->visiting == CB_NOWHERE ? 0 : p->visiting + 1;
    return e < p->n_candidates ? e : CB_NOWHERE;
}

static void pass_free(struct pass *p)
{
    p->m->all = false;
    p->m->n_heap = 0;
    free(p->line_cursor);
    free(p->hunt_free);
}

/* Visits the waiting callbacks of the scope targets in seq order across all targets, so that a
 * requester with several matured callbacks is rung for its oldest one first (CB-17). No
 * callback is added during the pass, so positions stay valid. */
static void schedule(struct cb_world *w, cb_time now, const struct cb_cause *cause,
                     struct cb_decisions *out)
{
    struct pass p = {.w = w, .now = now, .cause = cause, .out = out, .visiting = CB_NOWHERE};
    if (!collect_candidates(&p))
        return;
    p.m = memory_of(w);
    p.targets = p.m->targets;
    p.station_engaged = p.m->station_engaged;
    p.line_cursor = pass_calloc(w->n_trunk_groups, sizeof(*p.line_cursor));
    p.hunt_free = pass_calloc(w->n_hunt_groups, sizeof(*p.hunt_free));
    for (size_t i = 0; i < w->n_hunt_groups; i++)
        p.hunt_free[i] = CB_NOWHERE;
    catch_up(&p);
    for (size_t e; (e = next_entry(&p)) != CB_NOWHERE;) {
        p.visiting = e;
        const struct cb_queued *k = &p.candidates[e];
        const struct cb_callback *c = &w->callbacks[k->pos];
        if (!waiting(c))
            continue; /* ended, engaged, a message */
        if (c->state == CB_STATE_QUEUED)
            consider_queued(&p, k);
        else
            consider_pending(&p, k);
    }
    pass_free(&p);
}

void cb_core_schedule(struct cb_world *w, cb_time now, const struct cb_cause *cause,
                      struct cb_decisions *out)
{
    struct cb_world_index index;
    bool opened = cb_index_open(w, &index);
    schedule(w, now, cause, out);
    cb_index_close(w, opened);
}
