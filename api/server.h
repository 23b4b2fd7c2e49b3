/* The HTTP server: libmicrohttpd with its internal epoll thread pool. */
#ifndef API_SERVER_H
#define API_SERVER_H

#include "service/app.h"

struct api_server;

/* Starts listening; NULL (logged) when the address cannot be bound or TLS files are bad. */
struct api_server *api_server_start(struct cb_app *app);
/* Stops taking new connections (each is closed as it arrives until api_server_stop closes the
 * listening socket); requests in flight go on. */
void api_server_quiesce(struct api_server *s);
/* Waits up to `timeout_ms` for requests in flight to finish, then stops and frees. */
void api_server_stop(struct api_server *s, int timeout_ms);

#endif
