#include "service/command_json.h"

/* "" becomes JSON null where openapi.yaml allows null. */
static const char *or_null(const char *s)
{
    return s && *s ? s : NULL;
}

json_t *cb_command_json(const struct cb_command *c)
{
    json_t *fields = NULL;
    switch (c->type) {
    case CB_CMD_RING: /* CB-20, CB-21: prime line, three short bursts, past forwarding */
        fields = json_pack("{s:s, s:s, s:s, s:b, s:s?, s:s}", "station", c->station, "line",
                           c->line, "cadence", "three_short_bursts", "bypass_forwarding", 1,
                           "on_behalf_of", or_null(c->on_behalf_of), "display", c->display);
        break;
    case CB_CMD_STOP_RING:
        fields = json_pack("{s:s, s:s}", "station", c->station, "line", c->line);
        break;
    case CB_CMD_RESERVE_TRUNK:
        fields = json_pack("{s:s, s:s, s:s}", "trunk_group", c->trunk_group, "line", c->line,
                           "for_station", c->for_station);
        break;
    case CB_CMD_RELEASE_TRUNK:
        fields = json_pack("{s:s, s:s}", "trunk_group", c->trunk_group, "line", c->line);
        break;
    case CB_CMD_ORIGINATE:
        fields = json_pack("{s:s, s:s, s:s, s:s?, s:s?}", "from_station", c->from_station,
                           "from_line", c->from_line, "to", c->to, "via_line", or_null(c->via_line),
                           "external_number", or_null(c->external_number));
        break;
    case CB_CMD_MWI:
        fields = json_pack("{s:s, s:b, s:s}", "station", c->station, "on", c->on, "from", c->from);
        break;
    case CB_CMD_TONE:
        fields = json_pack("{s:s, s:s}", "station", c->station, "tone", cb_tone_name(c->tone));
        break;
    }
    if (!fields)
        return NULL;
    json_t *doc = json_pack("{s:s, s:s?}", "type", cb_command_type_name(c->type), "callback_id",
                            or_null(c->callback_id));
    if (doc)
        json_object_update(doc, fields);
    json_decref(fields);
    return doc;
}
