/* The admin console (/admin/) and the phone app (/phone/): files of api/web/ built into the binary
 * (api/web/embed_web.cmake) and answered from memory on the HTTP thread. */
#ifndef API_STATIC_FILES_H
#define API_STATIC_FILES_H

#include <stdbool.h>
#include <stddef.h>

struct api_static_file {
    const char *path; /* "/admin/index.html" */
    const char *type; /* Content-Type */
    const char *etag; /* quoted: the first 128 bits of the content's SHA-256, in hex */
    const unsigned char *data;
    size_t len;
};

extern const struct api_static_file api_static_files[];
extern const int api_static_files_count;

/* The Content-Security-Policy of every page: scripts, styles and API calls from this origin
 * only, no inline script or style, no framing, no plugins. */
#define API_STATIC_CSP                                                                             \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; "               \
    "frame-ancestors 'none'"

struct api_request;
/* Answers the request when its path is a page's (a file, a page's directory, or the directory
 * without its slash: a redirect) and returns true; false for any other path. */
bool api_static_serve(struct api_request *r);

#endif
