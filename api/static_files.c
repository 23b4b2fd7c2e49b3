/* Serves the files of api/web/ (api/static_files.h): GET and HEAD, the type of each file,
 * `Cache-Control: no-cache` with an ETag (the names carry no version, so a browser asks again
 * each time and gets 304 while the file is the same), and the headers that keep the pages
 * safe: a strict Content-Security-Policy, nosniff, no referrer. */
#include "api/static_files.h"
#include "api/http.h"

#include <stdio.h>
#include <string.h>

static const struct api_static_file *find(const char *path)
{
    for (int i = 0; i < api_static_files_count; i++)
        if (strcmp(api_static_files[i].path, path) == 0)
            return &api_static_files[i];
    return NULL;
}

/* Whether `dir` ("/admin") is a page's directory: some file lies under it. */
static bool is_page_dir(const char *dir, size_t len)
{
    for (int i = 0; i < api_static_files_count; i++)
        if (strncmp(api_static_files[i].path, dir, len) == 0 &&
            api_static_files[i].path[len] == '/')
            return true;
    return false;
}

/* Whether the request's If-None-Match names `etag` (or is "*"). */
static bool not_modified(struct api_request *r, const char *etag)
{
    const char *inm;
    if (api_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH, &inm) < 1 || !inm)
        return false;
    return strcmp(inm, "*") == 0 || strstr(inm, etag) != NULL;
}

static void reply_file(struct api_request *r, const struct api_static_file *f)
{
    bool same = not_modified(r, f->etag);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        same ? 0 : f->len, same ? (void *)"" : (void *)f->data, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        api_reply_problem(r, API_INTERNAL_ERROR, "out of memory");
        return;
    }
    if (!same)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, f->type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, f->etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "Content-Security-Policy", API_STATIC_CSP);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
    api_reply_response(r, same ? 304 : 200, resp);
}

bool api_static_serve(struct api_request *r)
{
    const char *path = r->path;
    size_t len = strlen(path);
    char index[96];
    const struct api_static_file *f = NULL;
    if (len > 1 && path[len - 1] == '/' && len + sizeof "index.html" <= sizeof index) {
        snprintf(index, sizeof index, "%sindex.html", path);
        f = find(index);
    } else if (len > 1 && !strchr(path + 1, '/') && is_page_dir(path, len)) {
        /* "/admin": the page is "/admin/", where its relative links resolve. */
        snprintf(index, sizeof index, "%s/", path);
        api_add_header(r, "Location", index);
        api_reply_empty(r, 301);
        return true;
    } else
        f = find(path);
    if (!f)
        return false;
    if (r->method != API_GET && r->method != API_HEAD) {
        api_add_header(r, "Allow", "GET, HEAD");
        api_reply_problem(r, API_METHOD_NOT_ALLOWED, "%s is not allowed here; use GET, HEAD",
                          r->method_text);
        return true;
    }
    reply_file(r, f);
    return true;
}
