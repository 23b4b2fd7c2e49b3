#include "service/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_int min_level = CB_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void cb_log_set_level(enum cb_log_level level)
{
    atomic_store(&min_level, (int)level);
}

int cb_log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

int cb_log_enabled(enum cb_log_level level)
{
    return (int)level >= atomic_load(&min_level);
}

void cb_log(enum cb_log_level level, const char *msg, json_t *fields)
{
    if (!cb_log_enabled(level)) {
        json_decref(fields);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof when - n, ".%03ldZ", ts.tv_nsec / 1000000);

    json_t *line =
        json_pack("{s:s, s:s, s:s}", "ts", when, "level", level_names[level], "msg", msg);
    if (line && fields)
        json_object_update(line, fields);
    json_decref(fields);
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    if (text) {
        /* One fputs per line: stdio locks the stream, so lines from threads never interleave. */
        flockfile(stderr);
        fputs(text, stderr);
        fputc('\n', stderr);
        funlockfile(stderr);
        free(text);
    }
    json_decref(line);
}

void cb_logf(enum cb_log_level level, const char *fmt, ...)
{
    if (!cb_log_enabled(level))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cb_log(level, msg, NULL);
}
