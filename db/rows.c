#include "db/rows.h"

#include <stdio.h>
#include <string.h>

void db_callback_from_row(const PGresult *r, int row, struct cb_callback *cb)
{
    memset(cb, 0, sizeof *cb);
    snprintf(cb->id, sizeof cb->id, "%s", db_str(r, row, 0));
    cb->seq = db_int(r, row, 1);
    snprintf(cb->requester, sizeof cb->requester, "%s", db_str(r, row, 2));
    snprintf(cb->target, sizeof cb->target, "%s", db_str(r, row, 3));
    cb->target_type = (enum cb_target_type)cb_target_type_parse(db_str(r, row, 4));
    cb->reason = (enum cb_reason)cb_reason_parse(db_str(r, row, 5));
    cb->mode = (enum cb_mode)cb_mode_parse(db_str(r, row, 6));
    cb->state = (enum cb_state)cb_state_parse(db_str(r, row, 7));
    snprintf(cb->origin_line, sizeof cb->origin_line, "%s", db_str(r, row, 8));
    snprintf(cb->notify_line, sizeof cb->notify_line, "%s", db_str(r, row, 9));
    snprintf(cb->notify_station, sizeof cb->notify_station, "%s", db_str(r, row, 10));
    snprintf(cb->external_number, sizeof cb->external_number, "%s", db_str(r, row, 11));
    snprintf(cb->reserved_line, sizeof cb->reserved_line, "%s", db_str(r, row, 12));
    cb->awaiting_release = db_bool(r, row, 13);
    cb->hook_cycle_needed = db_bool(r, row, 14);
    cb->hook_off_seen = db_bool(r, row, 15);
    cb->idle_report_needed = db_bool(r, row, 16);
    cb->lamp_lit = db_bool(r, row, 17);
    cb->created_at = db_int(r, row, 18);
    cb->updated_at = db_int(r, row, 19);
    cb->expires_at = db_int(r, row, 20);
    cb->ended_at = db_int(r, row, 21);
    int end = cb_end_reason_parse(db_str(r, row, 22));
    cb->end_reason = end < 0 ? CB_END_NONE : (enum cb_end_reason)end;
    snprintf(cb->supersedes, sizeof cb->supersedes, "%s", db_str(r, row, 23));
}

void db_station_from_row(const PGresult *r, int row, struct cb_station *s, char *cos)
{
    memset(s, 0, sizeof *s);
    snprintf(s->number, sizeof s->number, "%s", db_str(r, row, 0));
    int kind = cb_kind_parse(db_str(r, row, 1));
    s->kind = kind < 0 ? CB_KIND_IP_PHONE : (enum cb_station_kind)kind;
    if (cos)
        snprintf(cos, 33, "%s", db_str(r, row, 2));
    s->callbacks_allowed = db_bool(r, row, 3);
    snprintf(s->prime_line, sizeof s->prime_line, "%s", db_str(r, row, 4));
    s->resilient = db_bool(r, row, 5);
    snprintf(s->console_group, sizeof s->console_group, "%s", db_str(r, row, 6));
    s->state.busy = db_bool(r, row, 7);
    s->state.hook_off = db_bool(r, row, 8);
    s->state.dnd = db_bool(r, row, 9);
    s->state.make_busy = db_bool(r, row, 10);
    s->state.attendant_busy_out = db_bool(r, row, 11);
    snprintf(s->state.forward_to, sizeof s->state.forward_to, "%s", db_str(r, row, 12));
    s->state.failed_over = db_bool(r, row, 13);
    s->state.console_available = db_bool(r, row, 14);
    const char *a = db_str(r, row, 15);
    s->attempt = !strcmp(a, "busy")          ? CB_ATTEMPT_BUSY
                 : !strcmp(a, "no_answer")   ? CB_ATTEMPT_NO_ANSWER
                 : !strcmp(a, "trunks_busy") ? CB_ATTEMPT_TRUNKS_BUSY
                                             : CB_ATTEMPT_NONE;
    snprintf(s->attempt_to, sizeof s->attempt_to, "%s", db_str(r, row, 16));
}
