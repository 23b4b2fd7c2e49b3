/* The outside text of a request: the path parameter, checked before any handler runs, and the
 * query, checked as a handler reads it (the one way to read it), so that what a client sends
 * is answered 404 or 422, never a database error.
 * %00 stays escaped (api_unescape), so no text here holds a NUL; headers are read with
 * api_header() and checked where they are used. */
#include "api/inputs.h"
#include "api/router.h"
#include "api/validate.h"

#include <stdio.h>
#include <string.h>

static bool param_valid(enum api_param_kind kind, const char *s)
{
    switch (kind) {
    case API_PARAM_NUMBER:
        return cb_number_valid(s);
    case API_PARAM_COS_ID:
        return api_valid_cos_id(s);
    case API_PARAM_UUID:
        return cb_uuid_valid(s);
    case API_PARAM_NONE:
        break;
    }
    return api_valid_utf8(s, strlen(s));
}

static const char *param_expect(enum api_param_kind kind)
{
    switch (kind) {
    case API_PARAM_NUMBER:
        return "must be a directory number (1-32 characters of 0-9 * #)";
    case API_PARAM_COS_ID:
        return "must be 1-32 letters, digits, - or _";
    case API_PARAM_UUID:
        return "must be a UUID";
    case API_PARAM_NONE:
        break;
    }
    return "must be UTF-8 text";
}

/* The parameter's name in the route's name ("number" in "/v1/stations/{number}"). */
static void param_name(const struct api_route *rt, char out[32])
{
    const char *open = strchr(rt->name, '{'), *close = open ? strchr(open, '}') : NULL;
    if (!close)
        snprintf(out, 32, "path");
    else
        snprintf(out, 32, "%.*s", (int)(close - open - 1), open + 1);
}

static bool path_valid(const struct api_request *r)
{
    for (int i = 0; i < r->n_params; i++)
        if (!param_valid(r->route->param, r->params[i]))
            return false;
    return true;
}

json_t *api_path_errors(const struct api_request *r)
{
    json_t *errors = json_array();
    if (!path_valid(r)) {
        char name[32];
        param_name(r->route, name);
        api_field_error(errors, name, "%s", param_expect(r->route->param));
    }
    return errors;
}

bool api_path_valid(struct api_request *r)
{
    if (r->method == API_PUT || path_valid(r))
        return true;
    api_reply_problem(r, API_NOT_FOUND, "no resource at %s", r->path);
    return false;
}

struct query_read {
    const char *name;
    const char **out;
    int max, n;
    bool valid; /* every value is UTF-8 */
};

static enum MHD_Result read_argument(void *cls, enum MHD_ValueKind kind, const char *key,
                                     size_t key_size, const char *value, size_t value_size)
{
    (void)kind, (void)key_size;
    struct query_read *q = cls;
    if (!key || strcmp(key, q->name) != 0)
        return MHD_YES;
    if (value && !api_valid_utf8(value, value_size))
        q->valid = false;
    if (q->n < q->max)
        q->out[q->n] = value ? value : "";
    q->n++;
    return MHD_YES;
}

/* Reads every value of `name`; adds an error and returns -1 when one is not UTF-8 text. */
static int read_query(struct api_request *r, const char *name, const char **out, int max,
                      json_t *errors)
{
    struct query_read q = {name, out, max, 0, true};
    MHD_get_connection_values_n(r->conn, MHD_GET_ARGUMENT_KIND, read_argument, &q);
    if (!q.valid) {
        api_field_error(errors, name, "must be UTF-8 text");
        return -1;
    }
    return q.n;
}

const char *api_query(struct api_request *r, const char *name, json_t *errors)
{
    const char *value = NULL;
    int n = read_query(r, name, &value, 1, errors);
    if (n > 1)
        api_field_error(errors, name, "must be given once");
    return n == 1 ? value : NULL;
}

int api_query_all(struct api_request *r, const char *name, const char **out, int max,
                  json_t *errors)
{
    int n = read_query(r, name, out, max, errors);
    if (n > max)
        api_field_error(errors, name, "may be given at most %d times", max);
    return n < 0 ? 0 : n > max ? max : n;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

size_t api_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls, (void)conn;
    char *out = s;
    for (const char *in = s; *in;) {
        int hi = in[0] == '%' ? hex_digit(in[1]) : -1, lo = hi >= 0 ? hex_digit(in[2]) : -1;
        if (lo >= 0 && (hi | lo) != 0) {
            *out++ = (char)(hi * 16 + lo);
            in += 3;
        } else
            *out++ = *in++;
    }
    *out = '\0';
    return (size_t)(out - s);
}
