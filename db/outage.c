#include "db/outage.h"
#include "service/clock.h"
#include "service/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool ongoing;
static long long began_ms, next_probe_ms; /* monotonic; under `lock` */
static long long ended_ms;                /* when the last outage ended; under `lock` */
static unsigned long long failures;       /* under `lock` */
static atomic_ullong refused;

void db_outage_failed(const char *error, long long attempt_began_ms)
{
    long long now = cb_monotonic_ms();
    pthread_mutex_lock(&lock);
    if (!atomic_load(&ongoing) && attempt_began_ms < ended_ms) {
        pthread_mutex_unlock(&lock); /* late news of the outage that ended */
        return;
    }
    if (!atomic_load(&ongoing)) {
        began_ms = now;
        failures = 0;
        atomic_store(&refused, 0);
        atomic_store(&ongoing, true);
        /* The one line of the outage's start; requests refused meanwhile log nothing more. */
        char first_line[512];
        snprintf(first_line, sizeof first_line, "%s", error ? error : "");
        for (char *p = first_line; *p; p++)
            if (*p == '\n')
                *p = ' ';
        cb_log(CB_LOG_WARN, "database unreachable",
               json_pack("{s:s, s:i}", "error", first_line, "retry_ms", DB_OUTAGE_PROBE_MS));
    }
    failures++;
    next_probe_ms = now + DB_OUTAGE_PROBE_MS;
    pthread_mutex_unlock(&lock);
}

void db_outage_answered(void)
{
    if (!atomic_load(&ongoing))
        return;
    long long now = cb_monotonic_ms();
    pthread_mutex_lock(&lock);
    if (atomic_load(&ongoing)) {
        atomic_store(&ongoing, false);
        ended_ms = now;
        cb_log(CB_LOG_INFO, "database reachable again",
               json_pack("{s:f, s:I, s:I}", "down_s", (double)(now - began_ms) / 1000.0,
                         "failed_attempts", (json_int_t)failures, "requests_refused",
                         (json_int_t)atomic_load(&refused)));
    }
    pthread_mutex_unlock(&lock);
}

bool db_outage_ongoing(void)
{
    return atomic_load(&ongoing);
}

bool db_outage_may_try(void)
{
    if (!atomic_load(&ongoing))
        return true;
    long long now = cb_monotonic_ms();
    pthread_mutex_lock(&lock);
    bool probe = !atomic_load(&ongoing) || now >= next_probe_ms;
    if (probe)
        next_probe_ms = now + DB_OUTAGE_PROBE_MS; /* the others wait for this one's outcome */
    pthread_mutex_unlock(&lock);
    return probe;
}

void db_outage_refused(void)
{
    if (atomic_load(&ongoing))
        atomic_fetch_add(&refused, 1);
}
