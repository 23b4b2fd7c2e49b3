/* The directory: classes of service, stations (with live state), trunk groups with lines, hunt
 * groups with members. Numbers of all three share one namespace (directory_numbers). */
#ifndef DB_DIRECTORY_H
#define DB_DIRECTORY_H

#include <jansson.h>

#include "db/pool.h"
#include "service/core/core.h"

#define DB_COS_ID_MAX      33
#define DB_LIST_MAX        500
#define DB_GROUP_ITEMS_MAX 256 /* lines or members of one group */

struct db_cos {
    char id[DB_COS_ID_MAX];
    bool callbacks_allowed;
};

struct db_station {
    struct cb_station s; /* provisioning, live state and current attempt */
    char cos[DB_COS_ID_MAX];
};

/* A group as stored. `items`: for a trunk group its lines, [{"line","state","reserved_for"}];
 * for a hunt group its member numbers. Owned (json_decref) when read; borrowed when written:
 * then an array of line ids or member numbers. */
struct db_group {
    char number[CB_NUMBER_MAX];
    bool callback_activation;
    json_t *items;
};

enum db_number_kind {
    DB_NUMBER_FREE = 0,
    DB_NUMBER_STATION,
    DB_NUMBER_TRUNK_GROUP,
    DB_NUMBER_HUNT_GROUP
};

/* What a directory number is provisioned as. */
enum db_status db_number_kind(struct db_conn *c, const char *number, enum db_number_kind *kind);

enum db_status db_cos_put(struct db_conn *c, const struct db_cos *cos);
enum db_status db_cos_get(struct db_conn *c, const char *id, struct db_cos *out, bool *found);
/* Up to `limit` classes after `after` ("" = from the start), by id; `*n` how many. */
enum db_status db_cos_list(struct db_conn *c, const char *after, int limit, struct db_cos *out,
                           int *n);

/* Creates or updates a station's provisioning; its live state is kept. */
enum db_status db_station_put(struct db_conn *c, const struct db_station *st);
enum db_status db_station_get(struct db_conn *c, const char *number, struct db_station *out,
                              bool *found);
enum db_status db_station_list(struct db_conn *c, const char *after, int limit,
                               struct db_station *out, int *n);
/* Removes a station and its number; `*found` false when there was none. */
enum db_status db_number_delete(struct db_conn *c, const char *number, enum db_number_kind kind,
                                bool *found);

/* Creates or updates a trunk group with these lines (kept lines keep their state). */
enum db_status db_trunk_group_put(struct db_conn *c, const struct db_group *g);
enum db_status db_hunt_group_put(struct db_conn *c, const struct db_group *g);
/* Reads a group of `kind` (trunk or hunt). */
enum db_status db_group_get(struct db_conn *c, enum db_number_kind kind, const char *number,
                            struct db_group *out, bool *found);
/* Lists groups of `kind` after `after`; `out` holds `limit` groups. */
enum db_status db_group_list(struct db_conn *c, enum db_number_kind kind, const char *after,
                             int limit, struct db_group *out, int *n);
/* The first of `numbers` (a JSON array) that is not a provisioned station, into `missing`
 * ("" when all are). */
enum db_status db_first_missing_station(struct db_conn *c, json_t *numbers,
                                        char missing[CB_NUMBER_MAX]);

#endif
