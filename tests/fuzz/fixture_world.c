/* The fuzz targets' world (fixture_world.h). */
#include "fixture_world.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Queue position of a callback not yet stored: service/apply.c gives a Setup FAC this one,
 * service/requests.c gives a set this one plus its place in the batch. */
#define FZ_NEW_SEQ (INT64_MAX / 2)

static void copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src);
}

void fz_callback_id(int n, char out[CB_ID_MAX])
{
    snprintf(out, CB_ID_MAX, "00000000-0000-4000-8000-%012d", n);
}

static struct cb_station *station(struct fz_world *f, const char *number, enum cb_station_kind kind)
{
    struct cb_station *s = &f->stations[f->w.n_stations++];
    copy(s->number, sizeof s->number, number);
    copy(s->prime_line, sizeof s->prime_line, number);
    s->kind = kind;
    s->callbacks_allowed = true;
    s->state.console_available = true;
    copy(f->scope[f->w.n_scope_targets++], CB_NUMBER_MAX, number);
    return s;
}

/* One event of the set-up, as the PBX would report it. */
static void report(struct fz_world *f, enum cb_event_type type, const char *who, bool flag)
{
    struct cb_event ev = {.type = type, .flag = flag};
    snprintf(ev.id, sizeof ev.id, "fz-init-%d", f->next_id);
    if (type == CB_EV_TRUNK_STATE) {
        copy(ev.trunk_group, sizeof ev.trunk_group, "9");
        copy(ev.line, sizeof ev.line, who);
    } else
        copy(ev.station, sizeof ev.station, who);
    cb_core_on_event(&f->w, &ev, FZ_T0, &f->d);
}

static void set(struct fz_world *f, const char *requester, const char *target, const char *external,
                enum cb_mode mode)
{
    struct cb_set_request req = {.mode = mode};
    copy(req.requester, sizeof req.requester, requester);
    copy(req.target, sizeof req.target, target);
    copy(req.external_number, sizeof req.external_number, external);
    fz_world_set(f, &req);
}

void fz_world_init(struct fz_world *f)
{
    memset(f, 0, sizeof *f);
    struct cb_world *w = &f->w;
    w->options = (struct cb_options){.callback_cancel_timer_s = 3600,
                                     .notification_timeout_s = 20,
                                     .recall_timeout_s = 60,
                                     .command_ttl_s = 300,
                                     .max_per_requester = 10,
                                     .max_per_target = 50,
                                     .digit_collection_during_busy_or_alerting = true};
    copy(w->options.fac.setup, CB_NUMBER_MAX, "*41");
    copy(w->options.fac.cancel_all, CB_NUMBER_MAX, "#41");
    copy(w->options.fac.cancel_individual, CB_NUMBER_MAX, "#42");
    w->stations = f->stations;
    w->scope_targets = f->scope;
    station(f, "2001", CB_KIND_IP_PHONE);
    station(f, "2002", CB_KIND_ANALOG);
    station(f, "2003", CB_KIND_IP_PHONE);
    station(f, "2004", CB_KIND_MOBILE);
    copy(station(f, "2005", CB_KIND_CONSOLE)->console_group, CB_GROUP_MAX, "ops");
    copy(station(f, "2006", CB_KIND_CONSOLE)->console_group, CB_GROUP_MAX, "ops");
    station(f, "2007", CB_KIND_IP_PHONE)->callbacks_allowed = false;
    station(f, "2008", CB_KIND_ANALOG)->resilient = true;
    station(f, "95", CB_KIND_IP_PHONE);

    const char *line_ids[] = {"9-L1", "9-L2", "90-L1"};
    for (int i = 0; i < 3; i++)
        copy(f->lines[i].id, CB_LINE_MAX, line_ids[i]);
    f->trunks[0] = (struct cb_trunk_group){
        .number = "9", .callback_activation = true, .n_lines = 2, .lines = f->lines};
    f->trunks[1] = (struct cb_trunk_group){
        .number = "90", .callback_activation = true, .n_lines = 1, .lines = f->lines + 2};
    w->trunk_groups = f->trunks;
    w->n_trunk_groups = 2;
    copy(f->members[0], CB_NUMBER_MAX, "2003");
    copy(f->members[1], CB_NUMBER_MAX, "2004");
    f->hunt = (struct cb_hunt_group){
        .number = "600", .callback_activation = true, .n_members = 2, .members = f->members};
    w->hunt_groups = &f->hunt;
    w->n_hunt_groups = 1;
    const char *groups[] = {"9", "90", "600"};
    for (int i = 0; i < 3; i++)
        copy(f->scope[w->n_scope_targets++], CB_NUMBER_MAX, groups[i]);

    cb_decisions_init(&f->d);
    f->next_seq = 1;
    report(f, CB_EV_STATION_STATE, "2002", true);
    set(f, "2001", "2002", "", CB_MODE_CALLBACK);
    set(f, "2004", "2002", "", CB_MODE_MESSAGE);
    set(f, "2005", "2002", "", CB_MODE_CALLBACK); /* a console's: rerouted when it is away */
    report(f, CB_EV_TRUNK_STATE, "9-L1", true);
    report(f, CB_EV_TRUNK_STATE, "9-L2", true);
    set(f, "2003", "9", "5551234", CB_MODE_CALLBACK);
    report(f, CB_EV_STATION_STATE, "2003", true);
    report(f, CB_EV_STATION_STATE, "2004", true);
    set(f, "2008", "600", "", CB_MODE_CALLBACK);
    set(f, "2006", "2007", "", CB_MODE_CALLBACK);  /* no answer: waits for a hook cycle */
    report(f, CB_EV_STATION_STATE, "2002", false); /* 2001 -> 2002 matures: 2001 rings */
    if (w->n_callbacks != 6 || f->d.error != CB_OK) {
        fprintf(stderr, "fixture_world: the set-up did not set its 6 callbacks\n");
        abort();
    }
    cb_decisions_free(&f->d);
    cb_decisions_init(&f->d);
    f->next_seq = FZ_NEW_SEQ; /* what is above is stored: what comes next is new */
    fz_world_check(f);
}

void fz_world_free(struct fz_world *f)
{
    cb_decisions_free(&f->d);
    cb_world_free_callbacks(&f->w);
}

void fz_world_event(struct fz_world *f, struct cb_event *ev)
{
    if (ev->type == CB_EV_DIGITS) {
        fz_callback_id(++f->next_id, ev->new_id);
        ev->new_seq = FZ_NEW_SEQ;
    }
    cb_core_on_event(&f->w, ev, FZ_T0, &f->d);
}

void fz_world_set(struct fz_world *f, struct cb_set_request *req)
{
    fz_callback_id(++f->next_id, req->new_id);
    req->new_seq = f->next_seq++;
    struct cb_cause cause = {.kind = CB_CAUSE_API};
    snprintf(cause.ref, sizeof cause.ref, "fz-set-%d", f->next_id);
    cb_core_set(&f->w, req, FZ_T0, &cause, &f->d);
}

static void broken(const char *what, const char *id)
{
    fprintf(stderr, "fixture_world: %s (callback %s)\n", what, id);
    abort();
}

void fz_world_check(const struct fz_world *f)
{
    const struct cb_world *w = &f->w;
    for (size_t i = 0; i < w->n_callbacks; i++) {
        const struct cb_callback *c = &w->callbacks[i];
        bool ended = c->ended_at != 0;
        if (ended != cb_state_is_terminal(c->state) || ended != (c->end_reason != CB_END_NONE))
            broken("ended_at, end_reason and a final state go together", c->id);
        for (size_t j = i + 1; j < w->n_callbacks; j++) {
            const struct cb_callback *o = &w->callbacks[j];
            if (!strcmp(c->id, o->id))
                broken("two callbacks with one id", c->id);
            if (!ended && !o->ended_at && !strcmp(c->requester, o->requester) &&
                !strcmp(c->target, o->target))
                broken("two active callbacks of one pair (callbacks_one_active_per_pair)", c->id);
        }
        if (!ended && c->reserved_line[0]) {
            const struct cb_trunk_line *line = NULL;
            for (size_t g = 0; g < w->n_trunk_groups; g++)
                for (size_t l = 0; !strcmp(w->trunk_groups[g].number, c->target) &&
                                   l < w->trunk_groups[g].n_lines;
                     l++)
                    if (!strcmp(w->trunk_groups[g].lines[l].id, c->reserved_line))
                        line = &w->trunk_groups[g].lines[l];
            if (!line || strcmp(line->reserved_for, c->id) != 0)
                broken("its reserved line is not reserved for it", c->id);
        }
    }
    for (size_t g = 0; g < w->n_trunk_groups; g++)
        for (size_t l = 0; l < w->trunk_groups[g].n_lines; l++) {
            const struct cb_trunk_line *line = &w->trunk_groups[g].lines[l];
            if (!line->reserved_for[0])
                continue;
            const struct cb_callback *c = NULL;
            for (size_t i = 0; i < w->n_callbacks; i++)
                if (!strcmp(w->callbacks[i].id, line->reserved_for))
                    c = &w->callbacks[i];
            if (!c || c->ended_at || strcmp(c->reserved_line, line->id) != 0)
                broken("a line is reserved for a callback that does not hold it",
                       line->reserved_for);
        }
}
