/* CB-30: feature access codes dialed on a station: Setup, Cancel (all), Cancel Individual. */
#include "service/core/internal.h"

static void tone(struct cb_decisions *out, const char *station, enum cb_tone t)
{
    struct cb_command *cmd = cb_emit(out, CB_CMD_TONE, "");
    CB_COPY(cmd->station, station);
    cmd->tone = t;
}

/* Setup FAC: a callback on the attempt in progress (CB-01 rules through cb_core_set). */
static void setup(struct cb_world *w, const struct cb_station *s, const struct cb_event *ev,
                  cb_time now, const struct cb_cause *cause, struct cb_decisions *out)
{
    if (ev->call_state == CB_CALL_IDLE) {
        tone(out, s->number, CB_TONE_REORDER); /* nothing to call back */
        return;
    }
    if (!w->options.digit_collection_during_busy_or_alerting)
        return; /* the PBX does not collect digits then: ignored, no tone */
    /* The number of the attempt: `dialed`, else the station's current failed attempt. */
    const char *dialed = ev->dialed[0] ? ev->dialed : s->attempt_to;
    struct cb_set_request req = {.mode = CB_MODE_CALLBACK, .new_seq = ev->new_seq};
    CB_COPY(req.requester, s->number);
    CB_COPY(req.new_id, ev->new_id);
    if (!cb_core_resolve_number(w, dialed, req.target, req.external_number)) {
        tone(out, s->number, CB_TONE_REORDER);
        return;
    }
    struct cb_callback *c = cb_core_set(w, &req, now, cause, out);
    /* A refusal is answered by the reorder tone; the event itself was applied fine. The
     * sentence stays in error_detail for the log. */
    out->error = CB_OK;
    tone(out, s->number, c ? CB_TONE_CONFIRMATION : CB_TONE_REORDER);
}

/* Cancel Individual FAC followed by a number (CB-25). */
static void cancel_individual(struct cb_world *w, const char *station, const char *number,
                              cb_time now, const struct cb_cause *cause, struct cb_decisions *out)
{
    char target[CB_NUMBER_MAX], external[CB_NUMBER_MAX];
    if (!cb_core_resolve_number(w, number, target, external))
        CB_COPY(target, number);
    struct cb_callback *c = cb_find_active(w, station, target);
    if (!c) {
        tone(out, station, CB_TONE_REORDER);
        return;
    }
    cb_end(w, c, CB_END_REQUESTED, now, cause, out);
    tone(out, station, CB_TONE_CONFIRMATION);
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

void cb_on_digits(struct cb_world *w, const struct cb_event *ev, cb_time now,
                  const struct cb_cause *cause, struct cb_decisions *out)
{
    const struct cb_fac_codes *fac = &w->options.fac;
    struct cb_station *s = cb_world_station(w, ev->station);
    if (!s)
        return;
    /* An empty code is disabled (CB-30); exact codes before the prefix one. */
    if (fac->setup[0] && cb_streq(ev->digits, fac->setup)) {
        setup(w, s, ev, now, cause, out);
    } else if (fac->cancel_all[0] && cb_streq(ev->digits, fac->cancel_all)) {
        cb_core_cancel_all(w, s->number, now, cause, out); /* CB-26 */
        tone(out, s->number, out->cancelled_count > 0 ? CB_TONE_CONFIRMATION : CB_TONE_REORDER);
    } else if (fac->cancel_individual[0] && starts_with(ev->digits, fac->cancel_individual) &&
               ev->digits[strlen(fac->cancel_individual)] != '\0') {
        cancel_individual(w, s->number, ev->digits + strlen(fac->cancel_individual), now, cause,
                          out);
    }
}
