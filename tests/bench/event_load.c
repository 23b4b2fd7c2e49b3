/* The event sender of the event -> command latency run (tests/bench/scale.py latency): signed
 * single-event webhooks at a constant rate, in C so that the load generator does not take the
 * CPU the service is measured with (the Python threads it replaces used a third of this 2-core
 * machine at 1,000 events/s).
 *
 * usage: bench_event_load PORT SECRET RATE TOTAL CLIENTS RUN_ID TARGETS
 *        bench_event_load batches PORT SECRET SECONDS CLIENTS BATCH REQUESTERS RUN_ID
 *        bench_event_load rounds PORT SECRET TOTAL CLIENTS RUN_ID < targets
 *        bench_event_load stream PORT SECRET RATE TOTAL RUN_ID TARGETS
 *
 * Event g (0 <= g < TOTAL) is `station.state` of target g mod C (TARGETS: C comma-separated
 * numbers), `idle` on even rounds (g / C) and `busy` on odd ones, id "L<RUN_ID>-<target>-<round>",
 * due at start + g / RATE; CLIENTS keep-alive connections take events round-robin, and an event
 * waits for the 202 of the previous event of its target, so a target's events are stored in
 * order. Prints "id sent_at" (Unix seconds, when the request was written) per event once all are
 * answered; exits 1 on any answer other than 202.
 *
 * `batches` is the sender of the events-accepted run (scale.py accept): CLIENTS keep-alive
 * connections each post signed batches of BATCH `station.state` events back to back for SECONDS,
 * a requester (6nnnnnnn, of REQUESTERS) busy then idle in the same batch so that the world ends
 * as it started. Prints "accepted N seconds S": the events the answers counted as accepted.
 *
 * `rounds` posts the backlog of the events-applied run (scale.py apply): TOTAL events on the
 * targets read from stdin (one number a line; H of them), event g on target g mod H, in rounds
 * (g / H mod 4) of `station.state` idle, `station.hook` off, `station.hook` on, `station.state`
 * busy, id "B<RUN_ID>-<g>"; batches of 100 (batch b holds events 100b to 100b + 99), CLIENTS
 * connections taking batches b = i, i + CLIENTS, ... Prints "posted N seconds S".
 *
 * `stream` sends the latency run's events as a PBX with one connection does: each webhook holds
 * every event fallen due since the last one went (at most 500), posted as soon as the last one
 * is answered; an event's printed time is when it fell due.
 * A benchmark tool, never part of ctest. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strcasestr */
#endif
#include "service/hmac.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TARGETS_MAX 256
#define NUMBER_MAX  32

static int port, total, clients, n_targets;
static double rate, start;
static const char *secret, *run_id;
static char targets[TARGETS_MAX][NUMBER_MAX];
static double *sent_at;
static atomic_bool *acked, failed;
/* One condition per target: an event waits for its target's previous one. */
static pthread_mutex_t target_lock[TARGETS_MAX];
static pthread_cond_t target_acked[TARGETS_MAX];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
    double d = t - now_s();
    if (d <= 0)
        return;
    struct timespec ts = {.tv_sec = (time_t)d, .tv_nsec = (long)((d - (double)(time_t)d) * 1e9)};
    nanosleep(&ts, NULL);
}

static int connect_service(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        perror("bench_event_load: connect");
        exit(1);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            perror("bench_event_load: write");
            exit(1);
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Reads one HTTP/1.1 answer (headers and a Content-Length body); returns its status. The start
 * of the body is in `out` (`cap` bytes, NUL-terminated) when `out` is given. */
static int read_answer(int fd, char *out, size_t cap)
{
    char buf[4096];
    size_t have = 0;
    char *end = NULL;
    while (!end) {
        ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
        if (r <= 0 || have + (size_t)r >= sizeof buf - 1) {
            fprintf(stderr, "bench_event_load: the service closed or sent too much\n");
            exit(1);
        }
        have += (size_t)r;
        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    int status = atoi(buf + 9); /* "HTTP/1.1 202 ..." */
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    size_t body = cl ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
    size_t got = have - (size_t)(end + 4 - buf);
    if (out)
        snprintf(out, cap, "%s", end + 4);
    while (got < body) {
        ssize_t r = read(fd, buf, sizeof buf < body - got ? sizeof buf : body - got);
        if (r <= 0) {
            fprintf(stderr, "bench_event_load: answer cut short\n");
            exit(1);
        }
        got += (size_t)r;
    }
    return status;
}

/* Posts `body` to the webhook, signed as the PBX signs it (openapi.yaml); returns the answer's
 * status, the start of its body in `out` when given. */
static int post_signed(int fd, const char *body, size_t blen, char *out, size_t cap)
{
    char head[512], ts[24], sig[CB_SIGNATURE_HEADER_MAX];
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    if (!cb_hmac_signature_header(secret, ts, body, blen, sig)) {
        fprintf(stderr, "bench_event_load: HMAC failed\n");
        exit(1);
    }
    int hlen = snprintf(head, sizeof head,
                        "POST /v1/pbx/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                        "X-Callbackd-Timestamp: %s\r\nX-Callbackd-Signature: %s\r\n\r\n",
                        blen, ts, sig);
    write_all(fd, head, (size_t)hlen);
    write_all(fd, body, blen);
    return read_answer(fd, out, cap);
}

/* Event g of the latency runs, as JSON, into `out`; returns its length. */
static int latency_event(char *out, size_t cap, int g)
{
    int t = g % n_targets, round = g / n_targets;
    return snprintf(out, cap,
                    "{\"id\":\"L%s-%s-%d\",\"type\":\"station.state\",\"station\":\"%s\","
                    "\"availability\":\"%s\"}",
                    run_id, targets[t], round, targets[t], round % 2 ? "busy" : "idle");
}

static void *client(void *arg)
{
    int i = (int)(intptr_t)arg;
    int fd = connect_service();
    char body[512];
    for (int g = i; g < total && !atomic_load(&failed); g += clients) {
        int t = g % n_targets;
        sleep_until(start + g / rate);
        if (g >= n_targets) {
            pthread_mutex_lock(&target_lock[t]);
            while (!atomic_load(&acked[g - n_targets]) && !atomic_load(&failed))
                pthread_cond_wait(&target_acked[t], &target_lock[t]);
            pthread_mutex_unlock(&target_lock[t]);
        }
        int blen = snprintf(body, sizeof body, "{\"events\":[");
        blen += latency_event(body + blen, sizeof body - (size_t)blen, g);
        blen += snprintf(body + blen, sizeof body - (size_t)blen, "]}");
        sent_at[g] = now_s();
        int status = post_signed(fd, body, (size_t)blen, NULL, 0);
        if (status != 202) {
            fprintf(stderr, "bench_event_load: event %d answered %d\n", g, status);
            atomic_store(&failed, true);
        }
        pthread_mutex_lock(&target_lock[t]);
        atomic_store(&acked[g], true);
        pthread_cond_broadcast(&target_acked[t]);
        pthread_mutex_unlock(&target_lock[t]);
    }
    if (atomic_load(&failed)) /* wake whoever waits on an event that will never be sent */
        for (int t = 0; t < n_targets; t++) {
            pthread_mutex_lock(&target_lock[t]);
            pthread_cond_broadcast(&target_acked[t]);
            pthread_mutex_unlock(&target_lock[t]);
        }
    close(fd);
    return NULL;
}

/* ---- batches ---------------------------------------------------------------------------- */

static int batch_size, requesters;
static double seconds;
static atomic_llong accepted_total;

static void *batch_client(void *arg)
{
    int i = (int)(intptr_t)arg;
    int fd = connect_service();
    size_t cap = (size_t)batch_size * 128 + 64;
    char *body = malloc(cap), answer[256];
    if (!body)
        exit(1);
    for (long long n = 0; now_s() < start + seconds; n += batch_size) {
        size_t len = (size_t)snprintf(body, cap, "{\"events\":[");
        for (int k = 0; k < batch_size; k += 2) {
            int r = (int)((i * 7919LL + n + k) % requesters);
            for (int e = 0; e < 2; e++)
                len += (size_t)snprintf(body + len, cap - len,
                                        "%s{\"id\":\"A%s-%d-%lld\",\"type\":\"station.state\","
                                        "\"station\":\"6%07d\",\"availability\":\"%s\"}",
                                        k + e ? "," : "", run_id, i, n + k + e, r,
                                        e ? "idle" : "busy");
        }
        len += (size_t)snprintf(body + len, cap - len, "]}");
        int status = post_signed(fd, body, len, answer, sizeof answer);
        const char *a = strstr(answer, "\"accepted\":");
        if (status != 202 || !a) {
            fprintf(stderr, "bench_event_load: batch answered %d: %.200s\n", status, answer);
            exit(1);
        }
        atomic_fetch_add(&accepted_total, atoll(a + 11));
    }
    free(body);
    close(fd);
    return NULL;
}

static int batches_main(int argc, char **argv)
{
    if (argc != 9) {
        fprintf(stderr, "usage: bench_event_load batches PORT SECRET SECONDS CLIENTS BATCH "
                        "REQUESTERS RUN_ID\n");
        return 2;
    }
    port = atoi(argv[2]);
    secret = argv[3];
    seconds = atof(argv[4]);
    clients = atoi(argv[5]);
    batch_size = atoi(argv[6]);
    requesters = atoi(argv[7]);
    run_id = argv[8];
    if (port <= 0 || seconds <= 0 || clients <= 0 || batch_size < 2 || batch_size % 2 ||
        requesters <= 0) {
        fprintf(stderr, "bench_event_load: bad arguments\n");
        return 2;
    }
    pthread_t *threads = calloc((size_t)clients, sizeof *threads);
    if (!threads)
        return 1;
    start = now_s();
    for (int i = 0; i < clients; i++)
        pthread_create(&threads[i], NULL, batch_client, (void *)(intptr_t)i);
    for (int i = 0; i < clients; i++)
        pthread_join(threads[i], NULL);
    printf("accepted %lld seconds %.3f\n", (long long)atomic_load(&accepted_total),
           now_s() - start);
    free(threads);
    return 0;
}

/* ---- rounds ----------------------------------------------------------------------------- */

#define ROUND_BATCH 100

static char (*round_targets)[NUMBER_MAX];
static int n_round_targets;
static atomic_llong posted_total;

static void *round_client(void *arg)
{
    int i = (int)(intptr_t)arg;
    int fd = connect_service();
    size_t cap = ROUND_BATCH * 128 + 64;
    char *body = malloc(cap), answer[256];
    static const char *const kinds[4][2] = {
        {"station.state\",\"availability", "idle"},
        {"station.hook\",\"hook", "off"},
        {"station.hook\",\"hook", "on"},
        {"station.state\",\"availability", "busy"},
    };
    if (!body)
        exit(1);
    for (int b = i; b < total / ROUND_BATCH; b += clients) {
        size_t len = (size_t)snprintf(body, cap, "{\"events\":[");
        for (int k = 0; k < ROUND_BATCH; k++) {
            int g = b * ROUND_BATCH + k;
            const char *const *kind = kinds[(g / n_round_targets) % 4];
            len += (size_t)snprintf(body + len, cap - len,
                                    "%s{\"id\":\"B%s-%d\",\"type\":\"%s\":\"%s\","
                                    "\"station\":\"%s\"}",
                                    k ? "," : "", run_id, g, kind[0], kind[1],
                                    round_targets[g % n_round_targets]);
        }
        len += (size_t)snprintf(body + len, cap - len, "]}");
        int status = post_signed(fd, body, len, answer, sizeof answer);
        if (status != 202) {
            fprintf(stderr, "bench_event_load: batch answered %d: %.200s\n", status, answer);
            exit(1);
        }
        atomic_fetch_add(&posted_total, ROUND_BATCH);
    }
    free(body);
    close(fd);
    return NULL;
}

static int rounds_main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr,
                "usage: bench_event_load rounds PORT SECRET TOTAL CLIENTS RUN_ID < targets\n");
        return 2;
    }
    port = atoi(argv[2]);
    secret = argv[3];
    total = atoi(argv[4]);
    clients = atoi(argv[5]);
    run_id = argv[6];
    char line[NUMBER_MAX + 2];
    int cap = 0;
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        if (n_round_targets == cap) {
            cap = cap ? 2 * cap : 256;
            char(*grown)[NUMBER_MAX] = realloc(round_targets, (size_t)cap * sizeof *grown);
            if (!grown)
                return 1;
            round_targets = grown;
        }
        snprintf(round_targets[n_round_targets++], NUMBER_MAX, "%.*s", NUMBER_MAX - 1, line);
    }
    if (port <= 0 || total <= 0 || clients <= 0 || n_round_targets == 0) {
        fprintf(stderr, "bench_event_load: bad arguments\n");
        return 2;
    }
    pthread_t *threads = calloc((size_t)clients, sizeof *threads);
    if (!threads)
        return 1;
    start = now_s();
    for (int i = 0; i < clients; i++)
        pthread_create(&threads[i], NULL, round_client, (void *)(intptr_t)i);
    for (int i = 0; i < clients; i++)
        pthread_join(threads[i], NULL);
    printf("posted %lld seconds %.3f\n", (long long)atomic_load(&posted_total), now_s() - start);
    free(threads);
    free(round_targets);
    return 0;
}

/* ---- stream ----------------------------------------------------------------------------- */

#define STREAM_BATCH_MAX 500 /* events per webhook: openapi.yaml's limit */

/* Parses RATE TOTAL RUN_ID TARGETS (argv[0..3]) of the latency runs; false when one is bad. */
static bool latency_args(char **argv)
{
    rate = atof(argv[0]);
    total = atoi(argv[1]);
    run_id = argv[2];
    for (char *p = strtok(argv[3], ","); p && n_targets < TARGETS_MAX; p = strtok(NULL, ","))
        snprintf(targets[n_targets++], NUMBER_MAX, "%s", p);
    sent_at = calloc((size_t)total + 1, sizeof *sent_at);
    return port > 0 && rate > 0 && total > 0 && n_targets > 0 && sent_at;
}

static void print_sent(void)
{
    for (int g = 0; g < total; g++)
        printf("L%s-%s-%d %.6f\n", run_id, targets[g % n_targets], g / n_targets, sent_at[g]);
}

/* The latency run's events as a PBX with one connection sends them: each webhook carries every
 * event that happened (fell due) since the last one was sent, and goes as soon as the last one
 * is answered, so events wait in the PBX while the service stores a webhook, and a slower
 * service gets bigger webhooks. An event's time is when it fell due: that wait counts. */
static int stream_main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: bench_event_load stream PORT SECRET RATE TOTAL RUN_ID TARGETS\n");
        return 2;
    }
    port = atoi(argv[2]);
    secret = argv[3];
    if (!latency_args(argv + 4)) {
        fprintf(stderr, "bench_event_load: bad arguments\n");
        return 2;
    }
    size_t cap = STREAM_BATCH_MAX * 160 + 64;
    char *body = malloc(cap);
    if (!body)
        return 1;
    int fd = connect_service();
    start = now_s() + 0.2;
    for (int g = 0; g < total;) {
        sleep_until(start + g / rate);
        double now = now_s();
        size_t len = (size_t)snprintf(body, cap, "{\"events\":[");
        int end = g;
        for (; end < total && end - g < STREAM_BATCH_MAX && start + end / rate <= now; end++) {
            len += (size_t)snprintf(body + len, cap - len, "%s", end > g ? "," : "");
            len += (size_t)latency_event(body + len, cap - len, end);
            sent_at[end] = start + end / rate;
        }
        len += (size_t)snprintf(body + len, cap - len, "]}");
        int status = post_signed(fd, body, len, NULL, 0);
        if (status != 202) {
            fprintf(stderr, "bench_event_load: a webhook of %d events answered %d\n", end - g,
                    status);
            return 1;
        }
        g = end;
    }
    close(fd);
    free(body);
    print_sent();
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "batches") == 0)
        return batches_main(argc, argv);
    if (argc > 1 && strcmp(argv[1], "rounds") == 0)
        return rounds_main(argc, argv);
    if (argc > 1 && strcmp(argv[1], "stream") == 0)
        return stream_main(argc, argv);
    if (argc != 8) {
        fprintf(stderr, "usage: bench_event_load PORT SECRET RATE TOTAL CLIENTS RUN_ID TARGETS\n");
        return 2;
    }
    port = atoi(argv[1]);
    secret = argv[2];
    clients = atoi(argv[5]);
    char *latency[] = {argv[3], argv[4], argv[6], argv[7]};
    if (!latency_args(latency) || clients <= 0) {
        fprintf(stderr, "bench_event_load: bad arguments\n");
        return 2;
    }
    acked = calloc((size_t)total, sizeof *acked);
    pthread_t *threads = calloc((size_t)clients, sizeof *threads);
    if (!acked || !threads)
        return 1;
    for (int t = 0; t < n_targets; t++) {
        pthread_mutex_init(&target_lock[t], NULL);
        pthread_cond_init(&target_acked[t], NULL);
    }
    start = now_s() + 0.2;
    for (int i = 0; i < clients; i++)
        pthread_create(&threads[i], NULL, client, (void *)(intptr_t)i);
    for (int i = 0; i < clients; i++)
        pthread_join(threads[i], NULL);
    if (atomic_load(&failed))
        return 1;
    print_sent();
    return 0;
}
