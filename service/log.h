/* One JSON object per line on stderr (README, "Operations"). The only global besides config. */
#ifndef CB_LOG_H
#define CB_LOG_H

#include <jansson.h>

enum cb_log_level { CB_LOG_DEBUG = 0, CB_LOG_INFO, CB_LOG_WARN, CB_LOG_ERROR };

/* Sets the lowest level written; set once at start-up. */
void cb_log_set_level(enum cb_log_level level);
/* Parses "debug", "info", "warn", "error"; returns -1 otherwise. */
int cb_log_level_parse(const char *s);
/* Whether a line at `level` would be written (to skip building fields). */
int cb_log_enabled(enum cb_log_level level);
/* Writes {"ts","level","msg", ...fields}; steals the reference to `fields` (may be NULL). */
void cb_log(enum cb_log_level level, const char *msg, json_t *fields);
/* printf-style message with no fields. */
void cb_logf(enum cb_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
