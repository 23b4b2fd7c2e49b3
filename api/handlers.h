/* Every endpoint handler, by file. The route table (api/routes.c) names them. */
#ifndef API_HANDLERS_H
#define API_HANDLERS_H

#include "api/http.h"
#include "db/pool.h"

/* api/health.c */
struct api_route;
/* Whether the route answers from memory, on the HTTP thread (never waiting on the database);
 * every other route runs on a request thread (api/runner.c). */
bool api_answers_from_memory(const struct api_route *route);
void api_healthz(struct api_request *r);
void api_readyz(struct api_request *r);
void api_metrics(struct api_request *r);
/* api/tokens.c */
void api_tokens_post(struct api_request *r);
void api_tokens_list(struct api_request *r);
void api_token_get(struct api_request *r);
void api_token_delete(struct api_request *r);
/* api/whoami.c */
void api_whoami(struct api_request *r);
/* api/stream.c */
void api_stream_get(struct api_request *r);
/* api/cos.c */
void api_cos_put(struct api_request *r);
void api_cos_get(struct api_request *r);
void api_cos_list(struct api_request *r);
/* api/stations.c */
void api_station_put(struct api_request *r);
void api_station_get(struct api_request *r);
void api_station_list(struct api_request *r);
void api_station_delete(struct api_request *r);
/* api/groups.c */
void api_trunk_group_put(struct api_request *r);
void api_trunk_group_get(struct api_request *r);
void api_trunk_group_list(struct api_request *r);
void api_trunk_group_delete(struct api_request *r);
void api_hunt_group_put(struct api_request *r);
void api_hunt_group_get(struct api_request *r);
void api_hunt_group_list(struct api_request *r);
void api_hunt_group_delete(struct api_request *r);
/* api/options.c */
void api_options_get(struct api_request *r);
void api_options_put(struct api_request *r);

/* api/callbacks.c */
void api_callbacks_post(struct api_request *r);
void api_callbacks_list(struct api_request *r);
void api_callback_get(struct api_request *r);
void api_callback_history(struct api_request *r);
void api_callback_delete(struct api_request *r);
void api_callback_call_again(struct api_request *r);
/* api/station_callbacks.c */
void api_station_callbacks_list(struct api_request *r);
void api_station_callbacks_post(struct api_request *r);
void api_station_callbacks_delete(struct api_request *r);

/* api/events.c */
void api_pbx_events_post(struct api_request *r);
/* api/commands.c */
void api_commands_list(struct api_request *r);

#endif
