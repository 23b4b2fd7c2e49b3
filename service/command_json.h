/* Commands to the PBX as openapi.yaml writes them. */
#ifndef CB_COMMAND_JSON_H
#define CB_COMMAND_JSON_H

#include <jansson.h>

#include "service/core/core.h"

/* The command's JSON (type, callback_id and its type fields; id, seq and created_at are added
 * by the outbox). Returns a new reference. */
json_t *cb_command_json(const struct cb_command *cmd);

#endif
