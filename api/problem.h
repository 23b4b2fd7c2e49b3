/* The error codes of openapi.yaml as values: one table maps each to its status and title. */
#ifndef API_PROBLEM_H
#define API_PROBLEM_H

#include "service/core/core.h"

enum api_error {
    API_MALFORMED_JSON = 0,
    API_UNAUTHORIZED,
    API_BAD_SIGNATURE,
    API_FORBIDDEN,
    API_CALLBACKS_NOT_ALLOWED,
    API_NOT_FOUND,
    API_METHOD_NOT_ALLOWED,
    API_UNKNOWN_NUMBER,
    API_VALIDATION_FAILED,
    API_DEVICE_FAILED_OVER,
    API_TARGET_AVAILABLE,
    API_GROUP_CALLBACK_DISABLED,
    API_LIMIT_REACHED,
    API_NO_FAILED_ATTEMPT,
    API_INVALID_STATE,
    API_PAYLOAD_TOO_LARGE,
    API_UNSUPPORTED_MEDIA_TYPE,
    API_URI_TOO_LONG,
    API_HEADERS_TOO_LARGE,
    API_SERVICE_UNAVAILABLE,
    API_INTERNAL_ERROR,
    API_ERROR_COUNT
};

struct api_problem_kind {
    const char *code;
    unsigned status;
    const char *title;
};

/* The row of `e`. */
const struct api_problem_kind *api_problem_kind(enum api_error e);
/* The API error for a rules-core refusal. */
enum api_error api_error_from_core(enum cb_error e);

#endif
