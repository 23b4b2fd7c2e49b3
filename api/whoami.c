/* GET /v1/whoami: what the request's own token is (its id, scopes, the stations it acts for,
 * its expiry), so that a phone app signed in with a station token alone learns its station.
 * Answered from the principal authenticated for the request: no database read of its own. */
#include "api/callback_json.h"
#include "api/handlers.h"

#include <stdio.h>
#include <string.h>

void api_whoami(struct api_request *r)
{
    const struct api_principal *who = &r->who;
    json_t *scopes = json_array(), *stations = json_array();
    if (who->admin)
        json_array_append_new(scopes, json_string("admin"));
    if (who->operator)
        json_array_append_new(scopes, json_string("operator"));
    for (int i = 0; i < who->n_stations; i++) {
        char scope[8 + CB_NUMBER_MAX];
        snprintf(scope, sizeof scope, "station:%s", who->stations[i]);
        json_array_append_new(scopes, json_string(scope));
        json_array_append_new(stations, json_string(who->stations[i]));
    }
    char expires[32];
    if (who->expires_ms)
        api_time_text(who->expires_ms, expires);
    bool bootstrap = !strcmp(who->token_id, "admin"); /* CALLBACKD_ADMIN_TOKEN: no id */
    api_reply_json(r, 200,
                   json_pack("{s:s?, s:o, s:o, s:s?}", "id", bootstrap ? NULL : who->token_id,
                             "scopes", scopes, "stations", stations, "expires_at",
                             who->expires_ms ? expires : NULL));
}
