/* Client connections and what bounds them (issue 11): the registry of open connections that
 * libmicrohttpd's connection notifications feed, the request deadline that a watchdog thread
 * keeps, and the open-files limit that the connection cap needs. api/server.c wires them in. */
#ifndef API_CONNECTIONS_H
#define API_CONNECTIONS_H

#include <microhttpd.h>
#include <stdbool.h>

struct cb_metrics;
struct api_conns;

/* Starts the watchdog that closes a connection whose request (headers and body) has not
 * arrived whole `request_timeout_s` after the connection opened or after its previous answer.
 * NULL when out of memory or threads. */
struct api_conns *api_conns_new(int request_timeout_s, struct cb_metrics *metrics);
/* Stops the watchdog and frees; call after MHD_stop_daemon (every connection is closed). */
void api_conns_free(struct api_conns *cs);
/* The MHD_OPTION_NOTIFY_CONNECTION callback (`cls` is the api_conns): registers each
 * connection as it opens, with its deadline running, and forgets it when it closes. */
void api_conns_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode code);
/* Stops the deadline of the request on `conn`, keeping what is left of it: the request has
 * arrived whole, or the server takes a turn before reading its body (a token looked up on a
 * request thread). The server's own time is never the client's. False when the watchdog has
 * already closed the connection (the request must not run). */
bool api_conns_deadline_stop(struct MHD_Connection *conn);
/* The server's turn is over and the body is still to come: the deadline stopped by
 * api_conns_deadline_stop runs again, with what was left of it. */
void api_conns_deadline_resume(struct MHD_Connection *conn);
/* The answer on `conn` is done: the deadline of the next request on it starts now. */
void api_conns_request_done(struct api_conns *cs, struct MHD_Connection *conn);
/* Makes room in RLIMIT_NOFILE for `connections` client connections besides `other_fds`
 * (database, PBX, threads), raising the soft limit up to the hard one if needed. Returns the
 * number of client connections that fit, `connections` or fewer (logged). */
unsigned api_conns_fit_fd_limit(unsigned connections, unsigned other_fds);

#endif
