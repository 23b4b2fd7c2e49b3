/* What one request may carry: the checks of api/request_limits.h. */
#include "api/request_limits.h"
#include "service/log.h"
#include "service/metrics.h"

#include <stdlib.h>
#include <string.h>

/* libmicrohttpd 0.9.75 (Debian 12) parses the query into one record per argument in the
 * connection's memory pool and, when the pool runs out, neither answers nor closes: the
 * connection hangs until the idle timeout. So a URI over the limits loses its query here, in
 * the URI log callback, before that parsing; it is answered 414 once its headers are in. The URI
 * is libmicrohttpd's own read buffer, writable; it is const only in the callback's signature. */
void api_limits_check_uri(struct api_request *r, const char *uri)
{
    size_t len = strlen(uri), args = 0;
    char *query = strchr(uri, '?');
    if (query) {
        args = 1;
        for (const char *p = query; *p; p++)
            args += *p == '&';
    }
    if (len <= API_MAX_URI_BYTES && args <= API_MAX_QUERY_ARGS)
        return;
    r->uri_len = len;
    r->uri_args = args;
    if (query)
        query[1] = '\0';
}

struct header_size {
    size_t fields, bytes;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    struct header_size *h = cls;
    h->fields++;
    h->bytes += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " and CRLF */
    return MHD_YES;
}

bool api_limits_refuse_head(struct api_request *r)
{
    if (r->uri_len > API_MAX_URI_BYTES) {
        api_reply_problem(r, API_URI_TOO_LONG, "the URI has %zu bytes; at most %d are read",
                          r->uri_len, API_MAX_URI_BYTES);
        return true;
    }
    if (r->uri_len) {
        api_reply_problem(r, API_URI_TOO_LONG, "the query has %zu arguments; at most %d are read",
                          r->uri_args, API_MAX_QUERY_ARGS);
        return true;
    }
    struct header_size h = {0, 0};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_header, &h);
    if (h.fields > API_MAX_HEADER_FIELDS || h.bytes > API_MAX_HEADER_BYTES) {
        api_reply_problem(r, API_HEADERS_TOO_LARGE,
                          "%zu header fields of %zu bytes; at most %d fields of %d bytes in all",
                          h.fields, h.bytes, API_MAX_HEADER_FIELDS, API_MAX_HEADER_BYTES);
        return true;
    }
    return false;
}

bool api_limits_take_body(struct api_request *r, const char *data, size_t n)
{
    r->body_seen += n;
    if (!r->body_too_large && r->body_len + n > r->body_limit) {
        r->body_too_large = true;
        free(r->body);
        r->body = NULL;
        r->body_len = r->body_cap = 0;
    }
    if (r->body_too_large) {
        if (r->body_seen <= r->body_limit + API_BODY_DISCARD)
            return true;
        if (r->app->metrics)
            atomic_fetch_add(&r->app->metrics->http_bodies_cut, 1);
        cb_log(CB_LOG_WARN, "request body far over its limit; connection closed",
               json_pack("{s:s, s:s, s:I, s:I}", "request_id", r->request_id, "path", r->path,
                         "body_limit", (json_int_t)r->body_limit, "received",
                         (json_int_t)r->body_seen));
        return false;
    }
    if (r->body_len + n > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + n)
            cap *= 2;
        char *grown = realloc(r->body, cap);
        if (!grown)
            return false;
        r->body = grown;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    return true;
}
