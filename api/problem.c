#include "api/problem.h"

static const struct api_problem_kind KINDS[API_ERROR_COUNT] = {
    [API_MALFORMED_JSON] = {"malformed_json", 400, "The body is not a JSON object"},
    [API_UNAUTHORIZED] = {"unauthorized", 401, "A valid bearer token is required"},
    [API_BAD_SIGNATURE] = {"bad_signature", 401,
                           "The webhook signature is missing, wrong or stale"},
    [API_FORBIDDEN] = {"forbidden", 403, "The token lacks the scope for this"},
    [API_CALLBACKS_NOT_ALLOWED] = {"callbacks_not_allowed", 403,
                                   "The requester's class of service does not allow callbacks"},
    [API_NOT_FOUND] = {"not_found", 404, "No such resource"},
    [API_METHOD_NOT_ALLOWED] = {"method_not_allowed", 405, "Method not allowed on this resource"},
    [API_UNKNOWN_NUMBER] = {"unknown_number", 422, "The number is not provisioned"},
    [API_VALIDATION_FAILED] = {"validation_failed", 422, "The request is not valid"},
    [API_DEVICE_FAILED_OVER] = {"device_failed_over", 409,
                                "The device has failed over to its secondary controller"},
    [API_TARGET_AVAILABLE] = {"target_available", 409, "The target has free lines or members"},
    [API_GROUP_CALLBACK_DISABLED] = {"group_callback_disabled", 409,
                                     "Callback activation is off for this group"},
    [API_LIMIT_REACHED] = {"limit_reached", 409, "Too many active callbacks"},
    [API_NO_FAILED_ATTEMPT] = {"no_failed_attempt", 409, "The station has no failed call attempt"},
    [API_INVALID_STATE] = {"invalid_state", 409, "The resource is not in a state that allows this"},
    [API_PAYLOAD_TOO_LARGE] = {"payload_too_large", 413, "The body is too large"},
    [API_UNSUPPORTED_MEDIA_TYPE] = {"unsupported_media_type", 415,
                                    "The body must be application/json"},
    [API_URI_TOO_LONG] = {"uri_too_long", 414, "The request URI is too long"},
    [API_HEADERS_TOO_LARGE] = {"headers_too_large", 431,
                               "The request's header fields are too large"},
    [API_SERVICE_UNAVAILABLE] = {"service_unavailable", 503,
                                 "The service cannot reach its database; retry later"},
    [API_INTERNAL_ERROR] = {"internal_error", 500, "Internal error"},
};

const struct api_problem_kind *api_problem_kind(enum api_error e)
{
    return &KINDS[e < API_ERROR_COUNT ? e : API_INTERNAL_ERROR];
}

enum api_error api_error_from_core(enum cb_error e)
{
    switch (e) {
    case CB_ERR_VALIDATION:
        return API_VALIDATION_FAILED;
    case CB_ERR_UNKNOWN_NUMBER:
        return API_UNKNOWN_NUMBER;
    case CB_ERR_NOT_ALLOWED:
        return API_CALLBACKS_NOT_ALLOWED;
    case CB_ERR_FAILED_OVER:
        return API_DEVICE_FAILED_OVER;
    case CB_ERR_TARGET_AVAILABLE:
        return API_TARGET_AVAILABLE;
    case CB_ERR_GROUP_DISABLED:
        return API_GROUP_CALLBACK_DISABLED;
    case CB_ERR_LIMIT_REACHED:
        return API_LIMIT_REACHED;
    case CB_ERR_NO_FAILED_ATTEMPT:
        return API_NO_FAILED_ATTEMPT;
    case CB_ERR_INVALID_STATE:
        return API_INVALID_STATE;
    case CB_ERR_NOT_FOUND:
        return API_NOT_FOUND;
    case CB_OK:
        break;
    }
    return API_INTERNAL_ERROR;
}
