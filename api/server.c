/* The HTTP server: libmicrohttpd's daemon and the life of a request on it (issue 11).
 *
 * A request goes through an HTTP thread (libmicrohttpd's, one per connection at a time) and,
 * when it may wait on the database, a request thread (api/runner.c):
 *  1. Its URI line is in: a URI over the limits loses its query (on_uri, api/request_limits.c).
 *  2. Its headers are in (headers_in): 414 or 431 at once; when a body follows, its route and
 *     token are checked before the body is read (401, 403, 404, 405 at once). A token that only
 *     the database knows is looked up on a request thread meanwhile, the connection suspended
 *     and its deadline stopped (the server's time is not the client's); it resumes with 401,
 *     403 or 503 at once, or reads the body with what was left of its deadline.
 *  3. Its body is in (the final call): the request's deadline stops; what answers from memory
 *     (/healthz, /metrics, 404, 405, a 413, a refusal on a token from memory) is answered here,
 *     everything else goes to a request thread, the connection suspended until it is served.
 *  4. The answer is queued by the connection's own HTTP thread (send_reply); on_completed logs
 *     and counts the request, frees it and starts the deadline of the next one on the
 *     connection. */
#include "api/server.h"
#include "api/static_files.h"
#include "api/auth.h"
#include "api/connections.h"
#include "api/cors.h"
#include "api/handlers.h"
#include "api/inputs.h"
#include "api/request_limits.h"
#include "api/router.h"
#include "api/runner.h"
#include "api/signature.h"
#include "api/stream_feed.h"
#include "api/validate.h"
#include "service/config.h"
#include "service/hex.h"
#include "service/log.h"
#include "service/metrics.h"
#include "service/clock.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The idle timeout of libmicrohttpd: a connection with no byte moving either way for this long
 * is closed (an answer the client does not read; the request itself has its own deadline). */
#define API_IDLE_TIMEOUT_S 30u
/* GnuTLS priorities: TLS 1.2 and 1.3 only; in TLS 1.2 only ECDHE key exchange (forward
 * secrecy) with AEAD ciphers (AES-GCM, ChaCha20-Poly1305); no SHA-1 signatures; elliptic curve
 * groups, X25519 first (what clients send a key share for, so no extra round trip); the
 * server's order of preference. */
#define API_TLS_PRIORITIES                                                                         \
    "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:"         \
    "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-SIGN-RSA-SHA1:"            \
    "-SIGN-ECDSA-SHA1:-SIGN-DSA-SHA1:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:"                   \
    "+GROUP-SECP384R1:+GROUP-SECP521R1:%SERVER_PRECEDENCE"

struct api_server {
    struct MHD_Daemon *daemon;
    struct cb_app *app;
    struct api_conns *conns;
    struct api_runner *runner;    /* the request threads: what may wait on the database */
    struct api_stream_feed *feed; /* GET /v1/stream's changes */
    atomic_int in_flight;
    atomic_bool closing; /* SIGTERM: new connections are closed as they arrive */
    char *tls_cert, *tls_key;
    /* libmicrohttpd's messages: at most API_MHD_LOG_PER_S lines a second */
    atomic_llong log_second;
    atomic_int log_lines;
    atomic_int log_dropped;
};

#define API_MHD_LOG_PER_S 10

/* Once stopping, every new connection is closed at once. MHD_quiesce_daemon() is not used: on
 * an epoll thread pool it races with the workers' own removal of the listen socket and aborts
 * the process ("Failed to remove listen FD from epoll set"), a known libmicrohttpd defect.
 * The connection caps (CALLBACKD_MAX_CONNECTIONS, CALLBACKD_MAX_CONNECTIONS_PER_IP) are
 * libmicrohttpd's own and apply before this; they count suspended connections too. */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addr, (void)addrlen;
    const struct api_server *srv = cls;
    return atomic_load(&srv->closing) ? MHD_NO : MHD_YES;
}

static void new_request_id(char out[33])
{
    cb_random_hex(16, out);
}

/* Queues the stored answer, if any; returns what the access handler returns. */
static enum MHD_Result send_reply(struct api_request *r)
{
    if (!r->response)
        return MHD_YES;
    enum MHD_Result ok = MHD_queue_response(r->conn, r->status, r->response);
    MHD_destroy_response(r->response);
    r->response = NULL;
    return ok;
}

static unsigned method_of(const char *m)
{
    if (!strcmp(m, "GET"))
        return API_GET;
    if (!strcmp(m, "PUT"))
        return API_PUT;
    if (!strcmp(m, "POST"))
        return API_POST;
    if (!strcmp(m, "DELETE"))
        return API_DELETE;
    if (!strcmp(m, "HEAD"))
        return API_HEAD;
    return 0;
}

static bool is_json_type(const char *ctype)
{
    if (!ctype)
        return false;
    while (*ctype == ' ')
        ctype++;
    size_t n = strlen("application/json");
    return strncasecmp(ctype, "application/json", n) == 0 &&
           (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

/* Finds the request's route; false (answered 404 or 405) when there is none. */
static bool route(struct api_request *r)
{
    char allow[128];
    if (api_static_serve(r))
        return false; /* a page's file, answered from memory */
    int idx = api_route_match(r, r->path, r->method, allow, sizeof allow);
    if (idx == -1) {
        api_reply_problem(r, API_NOT_FOUND, "no resource at %s", r->path);
        return false;
    }
    if (idx == -2) {
        api_add_header(r, "Allow", allow);
        api_reply_problem(r, API_METHOD_NOT_ALLOWED, "%s is not allowed here; use %s",
                          r->method_text, allow);
        return false;
    }
    r->route = &api_routes[idx];
    r->route_index = idx;
    r->body_limit = r->route->body_limit ? r->route->body_limit : API_BODY_LIMIT;
    return true;
}

enum admission {
    ADMITTED,
    REFUSED,         /* answered */
    ADMIT_BY_LOOKUP, /* the token is the database's to know: a request thread looks it up */
};

/* The route and who is calling: what can be refused before the body is read. The PBX webhook's
 * signature covers the body, so it is checked after it. On an HTTP thread (`may_wait` false)
 * nothing waits on the database: a token only it knows is left to a request thread. */
static enum admission admit(struct api_request *r, bool may_wait)
{
    if (!r->route && !route(r))
        return REFUSED;
    if (r->route->scopes != API_SCOPE_NONE && !(r->route->scopes & API_SCOPE_PBX_SIGNED)) {
        enum api_error err;
        enum api_auth found = api_authenticate(r, may_wait, &err);
        if (found == API_AUTH_LOOKUP)
            return ADMIT_BY_LOOKUP;
        if (found == API_AUTH_REFUSED) {
            api_reply_problem(r, err,
                              err == API_UNAUTHORIZED ? "a valid bearer token is required"
                                                      : "the database is unreachable");
            return REFUSED;
        }
        if (!api_authorized(r, r->route->scopes)) {
            api_reply_problem(r, API_FORBIDDEN, "this token lacks the scope for %s %s",
                              api_method_name(r->method), r->route->name);
            return REFUSED;
        }
    }
    r->admitted = true;
    return ADMITTED;
}

/* Everything between admission and the handler: size, signature, media type, JSON. */
static void serve(struct api_request *r)
{
    if (r->body_too_large) {
        api_reply_problem(r, API_PAYLOAD_TOO_LARGE, "the body is over %zu bytes", r->body_limit);
        return;
    }
    if (r->route->scopes & API_SCOPE_PBX_SIGNED) {
        /* The signature covers the raw body: a bad one is 401 before any JSON parsing. */
        const char *why;
        if (!api_pbx_signature_valid(r, api_now_ms() / 1000, &why)) {
            api_reply_problem(r, API_BAD_SIGNATURE, "%s", why);
            return;
        }
    }
    if (!api_path_valid(r))
        return;
    if (r->method == API_PUT || r->method == API_POST) {
        /* An empty body counts as {} (call-again, the softkey, a PUT of system options that
         * changes nothing); it needs no Content-Type. */
        bool empty = r->body_len == 0;
        const char *ctype;
        if (api_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, &ctype) > 1) {
            api_reply_problem(r, API_UNSUPPORTED_MEDIA_TYPE, "send one Content-Type, not several");
            return;
        }
        if (!empty && !is_json_type(ctype)) {
            api_reply_problem(r, API_UNSUPPORTED_MEDIA_TYPE, "send application/json, not %s",
                              ctype ? ctype : "no Content-Type");
            return;
        }
        json_error_t jerr;
        r->json =
            empty ? json_object() : json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
        if (!r->json) {
            api_reply_problem(r, API_MALFORMED_JSON, "not JSON: %s at line %d column %d", jerr.text,
                              jerr.line, jerr.column);
            return;
        }
        if (!json_is_object(r->json)) {
            api_reply_problem(r, API_MALFORMED_JSON, "the body must be a JSON object");
            return;
        }
    }
    r->route->handler(r);
    if (!r->replied)
        api_reply_problem(r, API_INTERNAL_ERROR, "no answer from %s", r->route->name);
}

/* A request thread's turn (api/runner.c): the admission an HTTP thread left to it and, once
 * the request has arrived whole, the rest. */
static void serve_on_request_thread(struct api_request *r)
{
    if (!r->admitted && admit(r, true) != ADMITTED)
        return;
    if (r->arrived)
        serve(r);
}

/* Hands the request to a request thread, its connection suspended until it is served. */
static void submit(struct api_server *srv, struct api_request *r)
{
    if (api_runner_submit(srv->runner, r))
        r->submitted = true;
    else
        api_reply_problem(r, API_SERVICE_UNAVAILABLE, "the service is stopping; retry later");
}

static struct api_request *request_new(struct api_server *srv, struct MHD_Connection *conn)
{
    struct api_request *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->app = srv->app;
    r->conn = conn;
    r->route_index = -1;
    r->started_ns = cb_monotonic_ns();
    r->body_limit = API_BODY_LIMIT;
    new_request_id(r->request_id);
    return r;
}

/* Frees the request and what it holds, an answer never sent included. */
static void request_free(struct api_request *r)
{
    if (r->response)
        MHD_destroy_response(r->response);
    json_decref(r->json);
    free(r->body);
    free(r);
}

/* libmicrohttpd's URI log callback: the request line is in, its URI whole and not yet parsed.
 * The request starts here (what this returns is its con_cls) so that a URI over the limits is
 * caught before libmicrohttpd parses it (api/request_limits.c). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct api_request *r = request_new(cls, conn);
    if (r)
        api_limits_check_uri(r, uri);
    return r;
}

/* An answer given before the body is read: libmicrohttpd then reads no body and closes the
 * connection once the answer is sent. The request's deadline no longer runs. */
static enum MHD_Result answered_early(struct api_request *r)
{
    api_conns_deadline_stop(r->conn);
    return send_reply(r);
}

/* The length a request with a body declares (0 when chunked, or when there is no body). */
static unsigned long long declared_length(struct api_request *r)
{
    const char *te =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    const char *clen =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return clen && !te ? strtoull(clen, NULL, 10) : 0;
}

/* Admitted, a body to come: one declared far over its limit is refused unread; otherwise it is
 * read (and dropped past its limit, for a 413 once it is in). */
static enum MHD_Result body_next(struct api_request *r)
{
    unsigned long long declared = declared_length(r);
    if (declared > r->body_limit) {
        r->body_too_large = true;
        if (declared > r->body_limit + API_BODY_DISCARD) {
            api_reply_problem(r, API_PAYLOAD_TOO_LARGE, "the body is over %zu bytes",
                              r->body_limit);
            return answered_early(r);
        }
    }
    return MHD_YES;
}

/* The request line and the headers are in: refuses what is over the limits and, when a body
 * follows, everything that can be refused without reading it (issue 11). */
static enum MHD_Result headers_in(struct api_server *srv, struct api_request *r)
{
    if (api_limits_refuse_head(r))
        return answered_early(r);
    const char *te =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (!te && declared_length(r) == 0)
        return MHD_YES; /* no body: all of it is done once the (empty) body is in */
    /* A body follows: an unknown path, a missing token or scope is refused before it is read. */
    switch (admit(r, false)) {
    case REFUSED:
        return answered_early(r);
    case ADMIT_BY_LOOKUP:
        /* The lookup is the server's time: the deadline waits (a hung database makes a 503,
         * not a cut connection). Resumed, libmicrohttpd calls again with the headers alone. */
        if (!api_conns_deadline_stop(r->conn))
            return MHD_NO;
        submit(srv, r);
        return r->submitted ? MHD_YES : answered_early(r);
    case ADMITTED:
        break;
    }
    return body_next(r);
}

/* Back on its HTTP thread from a request thread's turn. */
static enum MHD_Result back_from_request_thread(struct api_request *r)
{
    if (!atomic_load(&r->served))
        return MHD_YES; /* still queued: libmicrohttpd holds the connection */
    if (r->arrived)
        return send_reply(r); /* served whole */
    /* Admitted, or refused, by its token's lookup, before any of its body was read. */
    r->submitted = false;
    atomic_store(&r->served, false);
    if (r->replied)
        return answered_early(r);
    api_conns_deadline_resume(r->conn);
    return body_next(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    struct api_server *srv = cls;
    struct api_request *r = *con_cls;
    if (!r || !r->headers_seen) {
        if (!r && !(r = request_new(srv, conn)))
            return MHD_NO;
        *con_cls = r;
        r->headers_seen = true;
        r->path = url;
        r->method = method_of(method);
        r->method_text = method;
        r->in_flight = true;
        atomic_fetch_add(&srv->in_flight, 1);
        return headers_in(srv, r);
    }
    if (r->submitted)
        return back_from_request_thread(r);
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        return r->replied || api_limits_take_body(r, upload, n) ? MHD_YES : MHD_NO;
    }
    if (r->replied)
        return send_reply(r);
    /* Headers and body are in: the request's deadline stops, unless it has just passed. It
     * stays stopped while a request thread serves the request: the handler's time, and the
     * database's, are not the client's. */
    if (!api_conns_deadline_stop(conn))
        return MHD_NO;
    r->arrived = true;
    /* A CORS preflight of an allowed origin needs no token (api/cors.c). */
    if (!r->admitted && api_cors_preflight(r))
        return send_reply(r);
    /* An unsupported method (PATCH...) is 405 with Allow on a known path, else 404. */
    if (!r->admitted && admit(r, false) == REFUSED)
        return send_reply(r);
    /* What needs no database is answered here; the rest waits on a request thread, never
     * here. */
    if (r->admitted && (r->body_too_large || api_answers_from_memory(r->route)))
        serve(r);
    else
        submit(srv, r);
    /* Submitted, the answer is the request thread's until it resumes the connection (it may
     * be writing it right now): it is sent then (back_from_request_thread). */
    return r->submitted ? MHD_YES : send_reply(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    struct api_server *srv = cls;
    struct api_request *r = *con_cls;
    if (why == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        api_conns_request_done(srv->conns, conn); /* the next request's deadline starts */
    if (!r)
        return;
    *con_cls = NULL;
    if (!r->headers_seen) { /* the connection closed before the headers were in */
        request_free(r);
        return;
    }
    double seconds = (double)(cb_monotonic_ns() - r->started_ns) / 1e9;
    if (srv->app->metrics)
        cb_metrics_http(srv->app->metrics, r->route_index, r->status, seconds);
    /* A 503 is expected while the database is away, and that outage has its own warning
     * (db/outage.c): refused requests stay at info, not a warning each. */
    enum cb_log_level level = r->status >= 500 && r->status != 503 ? CB_LOG_WARN : CB_LOG_INFO;
    if (cb_log_enabled(level)) {
        /* The path and method as received may be any bytes: the line keeps its fields. */
        char path[1024], method[64];
        api_printable(r->path, path, sizeof path);
        api_printable(r->method_text, method, sizeof method);
        cb_log(level, "request",
               json_pack("{s:s, s:s, s:s, s:s, s:i, s:f, s:b}", "request_id", r->request_id,
                         "method", method, "path", path, "route", r->route ? r->route->name : "",
                         "status", (int)r->status, "duration_ms", seconds * 1000.0, "completed",
                         why == MHD_REQUEST_TERMINATED_COMPLETED_OK));
    }
    if (r->in_flight)
        atomic_fetch_sub(&srv->in_flight, 1);
    request_free(r);
}

/* libmicrohttpd's own messages (a connection refused at a cap, a malformed request...) as log
 * lines, at most API_MHD_LOG_PER_S a second: a flood of refused connections must not become a
 * flood of lines. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct api_server *srv = cls;
    long long second = (long long)(cb_monotonic_ns() / 1000000000ULL);
    long long seen = atomic_load(&srv->log_second);
    if (seen != second && atomic_compare_exchange_strong(&srv->log_second, &seen, second))
        atomic_store(&srv->log_lines, 0);
    if (atomic_fetch_add(&srv->log_lines, 1) >= API_MHD_LOG_PER_S) {
        atomic_fetch_add(&srv->log_dropped, 1);
        return;
    }
    char text[512];
    vsnprintf(text, sizeof text, fmt, ap);
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == ' '))
        text[--n] = '\0';
    cb_log(CB_LOG_WARN, "libmicrohttpd",
           json_pack("{s:s, s:i}", "detail", text, "dropped_before",
                     atomic_exchange(&srv->log_dropped, 0)));
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[4096];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            char *g = realloc(buf, cap);
            if (!g) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = g;
        }
        memcpy(buf + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

struct api_server *api_server_start(struct cb_app *app)
{
    const struct cb_config *cfg = app->cfg;
    struct api_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return NULL;
    srv->app = app;
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (inet_pton(AF_INET, cfg->listen_host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(cfg->listen_port);
    } else if (inet_pton(AF_INET6, cfg->listen_host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(cfg->listen_port);
        flags |= MHD_USE_IPv6;
    } else if (!strcmp(cfg->listen_host, "localhost")) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(cfg->listen_port);
        v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else {
        cb_logf(CB_LOG_ERROR, "CALLBACKD_LISTEN: %s is not an IP address", cfg->listen_host);
        free(srv);
        return NULL;
    }
    if (cfg->tls_cert) {
        srv->tls_cert = read_file(cfg->tls_cert);
        srv->tls_key = read_file(cfg->tls_key);
        if (!srv->tls_cert || !srv->tls_key) {
            cb_logf(CB_LOG_ERROR, "cannot read CALLBACKD_TLS_CERT / CALLBACKD_TLS_KEY");
            api_server_stop(srv, 0);
            return NULL;
        }
        flags |= MHD_USE_TLS;
    }
    srv->conns = api_conns_new(cfg->request_timeout_s, app->metrics);
    if (!srv->conns) {
        cb_logf(CB_LOG_ERROR, "cannot start the request deadline watchdog");
        api_server_stop(srv, 0);
        return NULL;
    }
    srv->feed = app->streams = api_stream_feed_start(app);
    if (!srv->feed) {
        cb_logf(CB_LOG_ERROR, "cannot start the stream feed");
        api_server_stop(srv, 0);
        return NULL;
    }
    srv->runner =
        api_runner_start(cfg->http_threads, cfg->db_pool_wait_ms, serve_on_request_thread);
    if (!srv->runner) {
        cb_logf(CB_LOG_ERROR, "cannot start the request threads");
        api_server_stop(srv, 0);
        return NULL;
    }
    /* Besides client connections: the database pools, the PBX dispatcher's connections, one
     * epoll and one wake-up descriptor per HTTP thread, logs and libraries. */
    unsigned other_fds = 64 + 4 * (unsigned)cfg->http_threads + (unsigned)cfg->db_pool_size;
    unsigned max_conns = api_conns_fit_fd_limit((unsigned)cfg->max_connections, other_fds);
    unsigned per_ip = (unsigned)cfg->max_connections_per_ip;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, srv},
        {MHD_OPTION_SOCK_ADDR, 0, &addr},
        {MHD_OPTION_THREAD_POOL_SIZE, cfg->http_threads, NULL},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, srv},
        {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)api_unescape, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)api_conns_notify, srv->conns},
        {MHD_OPTION_CONNECTION_TIMEOUT, API_IDLE_TIMEOUT_S, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, max_conns, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip < max_conns ? per_ip : max_conns, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, API_CONN_MEMORY, NULL},
        {MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL},
        {MHD_OPTION_END, 0, NULL}, /* the TLS options go here */
        {MHD_OPTION_END, 0, NULL},
        {MHD_OPTION_END, 0, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    if (cfg->tls_cert) {
        size_t n = sizeof opts / sizeof opts[0] - 4;
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, API_TLS_PRIORITIES};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key};
    }
    srv->daemon = MHD_start_daemon(flags, cfg->listen_port, accept_policy, srv, on_request, srv,
                                   MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!srv->daemon) {
        cb_logf(CB_LOG_ERROR, "cannot listen on %s:%u", cfg->listen_host, cfg->listen_port);
        api_server_stop(srv, 0);
        return NULL;
    }
    return srv;
}

void api_server_quiesce(struct api_server *s)
{
    if (s)
        atomic_store(&s->closing, true);
}

void api_server_stop(struct api_server *s, int timeout_ms)
{
    if (!s)
        return;
    /* Open streams end now: they would hold the drain below for its whole time. */
    api_stream_feed_end_streams(s->feed);
    for (int waited = 0; s->daemon && atomic_load(&s->in_flight) > 0 && waited < timeout_ms;
         waited += 10)
        usleep(10000);
    /* Every suspended connection is resumed before the daemon stops (libmicrohttpd's rule);
     * an HTTP thread may still submit until then, and is refused (503). */
    api_runner_stop(s->runner);
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    api_runner_free(s->runner);
    api_stream_feed_stop(s->feed); /* after the daemon: every stream is freed */
    if (s->app)
        s->app->streams = NULL;
    api_conns_free(s->conns); /* after the daemon: every connection is closed */
    free(s->tls_cert);
    free(s->tls_key);
    free(s);
}
