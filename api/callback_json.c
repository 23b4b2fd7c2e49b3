#include "api/callback_json.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void api_time_text(int64_t ms, char out[32])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

static const char *or_null(const char *s)
{
    return s && *s ? s : NULL;
}

json_t *api_callback_json(const struct cb_callback *cb)
{
    char created[32], updated[32], expires[32], ended[32];
    api_time_text(cb->created_at, created);
    api_time_text(cb->updated_at, updated);
    api_time_text(cb->expires_at, expires);
    api_time_text(cb->ended_at, ended);
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:b, s:s, s:s, s:s?, s:s?, "
        "s:s?, s:s?}",
        "id", cb->id, "requester", cb->requester, "target", cb->target, "target_type",
        cb_target_type_name(cb->target_type), "reason", cb_reason_name(cb->reason), "mode",
        cb_mode_name(cb->mode), "state", cb_state_name(cb->state), "origin_line", cb->origin_line,
        "notify_line", cb->notify_line, "external_number", or_null(cb->external_number),
        "reserved_line", or_null(cb->reserved_line), "awaiting_release", cb->awaiting_release,
        "created_at", created, "updated_at", updated, "expires_at", cb->expires_at ? expires : NULL,
        "ended_at", cb->ended_at ? ended : NULL, "end_reason",
        cb->end_reason == CB_END_NONE ? NULL : cb_end_reason_name(cb->end_reason), "supersedes",
        or_null(cb->supersedes));
}
