/* The route table: one row per method and path (openapi.yaml). */
#include "api/handlers.h"
#include "api/router.h"

#define ADMIN    API_SCOPE_ADMIN
#define READERS  (API_SCOPE_ADMIN | API_SCOPE_OPERATOR)
#define STATION  API_SCOPE_STATION_PARAM
#define NO_PARAM API_PARAM_NONE
#define NUMBER   API_PARAM_NUMBER
#define COS_ID   API_PARAM_COS_ID
#define UUID     API_PARAM_UUID

const struct api_route api_routes[] = {
    {API_GET, "/healthz", api_healthz, API_SCOPE_NONE, 0, "/healthz", NO_PARAM},
    {API_GET, "/readyz", api_readyz, API_SCOPE_NONE, 0, "/readyz", NO_PARAM},
    {API_GET, "/metrics", api_metrics, API_SCOPE_NONE, 0, "/metrics", NO_PARAM},
    {API_POST, "/v1/tokens", api_tokens_post, ADMIN, 0, "/v1/tokens", NO_PARAM},
    {API_GET, "/v1/tokens", api_tokens_list, ADMIN, 0, "/v1/tokens", NO_PARAM},
    {API_GET, "/v1/tokens/{}", api_token_get, ADMIN, 0, "/v1/tokens/{id}", UUID},
    {API_DELETE, "/v1/tokens/{}", api_token_delete, ADMIN, 0, "/v1/tokens/{id}", UUID},
    {API_GET, "/v1/whoami", api_whoami, READERS | API_SCOPE_STATION_ANY, 0, "/v1/whoami", NO_PARAM},
    {API_GET, "/v1/stream", api_stream_get, READERS | API_SCOPE_STATION_ANY, 0, "/v1/stream",
     NO_PARAM},

    {API_GET, "/v1/classes-of-service", api_cos_list, READERS, 0, "/v1/classes-of-service",
     NO_PARAM},
    {API_GET, "/v1/classes-of-service/{}", api_cos_get, READERS, 0, "/v1/classes-of-service/{id}",
     COS_ID},
    {API_PUT, "/v1/classes-of-service/{}", api_cos_put, ADMIN, 0, "/v1/classes-of-service/{id}",
     COS_ID},

    {API_GET, "/v1/stations", api_station_list, READERS, 0, "/v1/stations", NO_PARAM},
    {API_GET, "/v1/stations/{}", api_station_get, READERS | STATION, 0, "/v1/stations/{number}",
     NUMBER},
    {API_PUT, "/v1/stations/{}", api_station_put, ADMIN, 0, "/v1/stations/{number}", NUMBER},
    {API_DELETE, "/v1/stations/{}", api_station_delete, ADMIN, 0, "/v1/stations/{number}", NUMBER},

    {API_GET, "/v1/trunk-groups", api_trunk_group_list, READERS, 0, "/v1/trunk-groups", NO_PARAM},
    {API_GET, "/v1/trunk-groups/{}", api_trunk_group_get, READERS, 0, "/v1/trunk-groups/{number}",
     NUMBER},
    {API_PUT, "/v1/trunk-groups/{}", api_trunk_group_put, ADMIN, 0, "/v1/trunk-groups/{number}",
     NUMBER},
    {API_DELETE, "/v1/trunk-groups/{}", api_trunk_group_delete, ADMIN, 0,
     "/v1/trunk-groups/{number}", NUMBER},

    {API_GET, "/v1/hunt-groups", api_hunt_group_list, READERS, 0, "/v1/hunt-groups", NO_PARAM},
    {API_GET, "/v1/hunt-groups/{}", api_hunt_group_get, READERS, 0, "/v1/hunt-groups/{number}",
     NUMBER},
    {API_PUT, "/v1/hunt-groups/{}", api_hunt_group_put, ADMIN, 0, "/v1/hunt-groups/{number}",
     NUMBER},
    {API_DELETE, "/v1/hunt-groups/{}", api_hunt_group_delete, ADMIN, 0, "/v1/hunt-groups/{number}",
     NUMBER},

    {API_POST, "/v1/callbacks", api_callbacks_post, ADMIN | API_SCOPE_STATION_ANY, 0,
     "/v1/callbacks", NO_PARAM},
    {API_GET, "/v1/callbacks", api_callbacks_list, READERS, 0, "/v1/callbacks", NO_PARAM},
    {API_GET, "/v1/callbacks/{}", api_callback_get, READERS | API_SCOPE_STATION_ANY, 0,
     "/v1/callbacks/{id}", UUID},
    {API_DELETE, "/v1/callbacks/{}", api_callback_delete, READERS | API_SCOPE_STATION_ANY, 0,
     "/v1/callbacks/{id}", UUID},
    {API_GET, "/v1/callbacks/{}/history", api_callback_history, READERS | API_SCOPE_STATION_ANY, 0,
     "/v1/callbacks/{id}/history", UUID},
    {API_POST, "/v1/callbacks/{}/call-again", api_callback_call_again,
     READERS | API_SCOPE_STATION_ANY, 0, "/v1/callbacks/{id}/call-again", UUID},
    {API_GET, "/v1/stations/{}/callbacks", api_station_callbacks_list, READERS | STATION, 0,
     "/v1/stations/{number}/callbacks", NUMBER},
    {API_POST, "/v1/stations/{}/callbacks", api_station_callbacks_post, ADMIN | STATION, 0,
     "/v1/stations/{number}/callbacks", NUMBER},
    {API_DELETE, "/v1/stations/{}/callbacks", api_station_callbacks_delete, READERS | STATION, 0,
     "/v1/stations/{number}/callbacks", NUMBER},

    {API_GET, "/v1/system-options", api_options_get, READERS, 0, "/v1/system-options", NO_PARAM},
    {API_PUT, "/v1/system-options", api_options_put, ADMIN, 0, "/v1/system-options", NO_PARAM},

    {API_POST, "/v1/pbx/events", api_pbx_events_post, API_SCOPE_PBX_SIGNED, API_EVENTS_BODY_LIMIT,
     "/v1/pbx/events", NO_PARAM},
    {API_GET, "/v1/commands", api_commands_list, READERS, 0, "/v1/commands", NO_PARAM},
};
const int api_routes_count = (int)(sizeof api_routes / sizeof api_routes[0]);
