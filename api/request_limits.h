/* What one request may carry (issue 11): its URI, its header fields and its body, and the
 * connection memory sized so that a request at every limit fits. api/server.c applies them as
 * the request arrives: the URI when its line is in, the header fields once they are all in,
 * the body piece by piece. */
#ifndef API_REQUEST_LIMITS_H
#define API_REQUEST_LIMITS_H

#include "api/http.h"

/* Past these a request is answered 414 or 431. No route needs more than a few hundred bytes of
 * URI and a dozen query arguments. */
#define API_MAX_URI_BYTES     8192
#define API_MAX_QUERY_ARGS    64
#define API_MAX_HEADER_FIELDS 64
#define API_MAX_HEADER_BYTES  16384
/* The memory pool of one connection. libmicrohttpd gives half of it to the read buffer, which
 * must hold the request line and the headers (24.5 KiB at most within the limits above), and
 * takes from the rest one 56-byte record per query argument and header field and the answer's
 * headers. A keep-alive connection touches all of it, so this is also the memory a connection
 * costs: 256 MiB for the default 4,096. */
#define API_CONN_MEMORY (64 * 1024)
/* Past its limit a body is still read, and dropped, for up to this many bytes, so that a client
 * that sends it whole before reading gets its 413; a body declared longer than that is answered
 * 413 at once, and one that grows past it (chunked) has its connection closed. */
#define API_BODY_DISCARD (1024 * 1024)

/* Notes in `r` a URI over the limits and drops its query before libmicrohttpd parses it; `uri`
 * is the whole raw URI as libmicrohttpd's URI log callback receives it. */
void api_limits_check_uri(struct api_request *r, const char *uri);
/* Answers 414 or 431 when the URI or the header fields are over the limits; true if it did. */
bool api_limits_refuse_head(struct api_request *r);
/* Keeps a piece of the body, up to r->body_limit, and drops what comes past it. False when the
 * connection must be closed: the body went API_BODY_DISCARD past its limit (logged, counted),
 * or memory ran out. */
bool api_limits_take_body(struct api_request *r, const char *data, size_t n);

#endif
