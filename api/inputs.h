/* The request's outside text, checked where it comes in: the path parameter by the kind its
 * route declares (api/routes.c), before any handler runs, and each query parameter as a
 * handler reads it. What passes is UTF-8 without NUL, fit to reach a query or a JSON text. */
#ifndef API_INPUTS_H
#define API_INPUTS_H

#include "api/http.h"

/* Checks the path parameter of a routed request: one that cannot name anything is 404,
 * answered here (false then); on PUT it is left to the handler (api_path_errors). */
bool api_path_valid(struct api_request *r);
/* A new `errors` array for a PUT: with an entry for the path parameter when it is not valid
 * (the handler adds the body's entries, so one 422 lists everything). */
json_t *api_path_errors(const struct api_request *r);

/* The query parameter `name` ("" when given without a value), or NULL when absent. One that
 * is not UTF-8, or is given more than once, adds an entry to `errors` and reads as NULL.
 * Parameters no handler reads are ignored, whatever they hold. */
const char *api_query(struct api_request *r, const char *name, json_t *errors);
/* Every value of a repeatable query parameter (`state`) into `out`; returns how many. More
 * than `max` values, or one that is not UTF-8, adds an entry to `errors`. */
int api_query_all(struct api_request *r, const char *name, const char **out, int max,
                  json_t *errors);

/* libmicrohttpd's unescape callback (MHD_OPTION_UNESCAPE_CALLBACK): unescapes %HH in the path
 * and the query as libmicrohttpd would, except %00, which stays as it is: a NUL would cut the
 * text short, and "/v1/stations/2001%00/callbacks" is not station 2001. */
size_t api_unescape(void *cls, struct MHD_Connection *conn, char *s);

#endif
