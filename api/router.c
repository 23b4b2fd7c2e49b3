#include "api/router.h"

#include <stdio.h>
#include <string.h>

const char *api_method_name(unsigned method)
{
    switch (method) {
    case API_GET:
        return "GET";
    case API_PUT:
        return "PUT";
    case API_POST:
        return "POST";
    case API_DELETE:
        return "DELETE";
    case API_HEAD:
        return "HEAD";
    }
    return "?";
}

/* Matches one pattern against a path; fills params (when `params` is not NULL). */
static bool match(const char *pattern, const char *path, char params[][API_PARAM_MAX], int *n)
{
    int count = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (p[0] == '{' && p[1] == '}') {
            const char *end = strchr(s, '/');
            size_t len = end ? (size_t)(end - s) : strlen(s);
            if (len == 0 || count >= API_MAX_PARAMS)
                return false;
            if (params) {
                /* A segment too long for the buffer still matches, cut short: longer than any
                 * valid number, id or UUID, it is refused as the handler refuses any invalid
                 * one (422 on PUT, 404 on GET and DELETE), not taken for an unknown path. */
                size_t keep = len < API_PARAM_MAX ? len : API_PARAM_MAX - 1;
                memcpy(params[count], s, keep);
                params[count][keep] = '\0';
            }
            count++;
            s += len;
            p += 2;
        } else if (*p++ != *s++)
            return false;
    }
    if (*p || *s)
        return false;
    if (n)
        *n = count;
    return true;
}

int api_route_match(struct api_request *r, const char *path, unsigned method, char *allow,
                    size_t allow_len)
{
    int found = -1;
    size_t used = 0;
    if (allow_len)
        allow[0] = '\0';
    for (int i = 0; i < api_routes_count; i++) {
        const struct api_route *rt = &api_routes[i];
        if (!match(rt->pattern, path, NULL, NULL))
            continue;
        if (rt->methods & method || (method == API_HEAD && rt->methods & API_GET)) {
            match(rt->pattern, path, r->params, &r->n_params);
            return i;
        }
        found = -2;
        int w = snprintf(allow + used, allow_len - used, "%s%s", used ? ", " : "",
                         api_method_name(rt->methods));
        if (w > 0 && (size_t)w < allow_len - used)
            used += (size_t)w;
    }
    return found;
}
