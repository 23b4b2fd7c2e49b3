/* Shared by the station and group handlers. */
#ifndef API_STATIONS_H
#define API_STATIONS_H

#include "api/http.h"
#include "db/directory.h"

/* The station as openapi.yaml shows it: provisioning, its COS's `callbacks_allowed` (CB-03), live
 * `state` and `softkey` (CB-33). */
json_t *api_station_json(const struct cb_station *s, const char *cos);
/* DELETE of a station or group (api/number_delete.c): ends its callbacks (CB-28), then removes
 * it; 204 or 404. */
void api_number_delete(struct api_request *r, enum db_number_kind kind);

/* Loads the station named by the first path parameter; answers 404/503 itself (false then). */
bool api_load_station(struct api_request *r, struct db_station *out);

#endif
