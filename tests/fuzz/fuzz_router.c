/* libFuzzer target: the request path, api_route_match().
 *
 * The first byte chooses the method (its value modulo 6: GET, PUT, POST, DELETE, HEAD, or one
 * no route uses; the seeds use the digits '0'-'5'), the rest (up to a NUL, as MHD hands the
 * path over) is the unescaped path. A match must give path parameters as the patterns define
 * them: non-empty, without "/", within API_PARAM_MAX. A 405 must list the methods allowed. */
#include "api/router.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *path)
{
    fprintf(stderr, "fuzz_router: %s: \"%s\"\n", what, path);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned methods[] = {API_GET, API_PUT, API_POST, API_DELETE, API_HEAD, 0};
    if (size < 1)
        return 0;
    char *path = strndup((const char *)data + 1, size - 1);
    if (!path)
        return 0;
    struct api_request r;
    memset(&r, 0, sizeof r);
    char allow[128]; /* as api/server.c */
    int i = api_route_match(&r, path, methods[data[0] % 6], allow, sizeof allow);
    if (i >= 0) {
        if (i >= api_routes_count || r.n_params < 0 || r.n_params > API_MAX_PARAMS)
            fail("a match out of range", path);
        for (int k = 0; k < r.n_params; k++)
            if (!r.params[k][0] || strchr(r.params[k], '/') || strlen(r.params[k]) >= API_PARAM_MAX)
                fail("a bad path parameter", path);
    } else if (i == -2) {
        if (!allow[0])
            fail("a 405 without Allow", path);
    } else if (i != -1)
        fail("an answer that is neither a route, -1 nor -2", path);
    free(path);
    return 0;
}
