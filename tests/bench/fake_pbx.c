/* The fake PBX of the benchmark (tests/bench/run.sh): acknowledges every command at once (200)
 * and logs one line per command, `arrival seq type station callback_id` (arrival in Unix
 * seconds when the request was read; station is `station`, else `from_station`, else "-"), which
 * scale.py reads to match commands to events. HTTP/1.1 keep-alive, a thread per connection (the
 * dispatcher keeps at most 16), Content-Length bodies only, as callbackd sends them. In C so that
 * the harness does not take the CPU the service is measured with. Runs until SIGTERM or SIGINT.
 *
 * usage: bench_fake_pbx PORT LOG_FILE */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, strcasestr */
#endif
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static FILE *log_file;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

/* The value of "key" in the flat JSON object `body` (a string's text or a number), or "-". */
static void field(const char *body, const char *key, char *out, size_t size)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *p = strstr(body, pattern);
    snprintf(out, size, "-");
    if (!p)
        return;
    p += strlen(pattern);
    while (*p == ' ')
        p++;
    bool quoted = *p == '"';
    p += quoted;
    size_t n = quoted ? strcspn(p, "\"") : strcspn(p, ",} ");
    if (n == 0 || n >= size || (!quoted && strncmp(p, "null", 4) == 0))
        return;
    memcpy(out, p, n);
    out[n] = '\0';
}

static void log_command(double at, const char *body)
{
    char seq[32], type[32], station[64], callback[64];
    field(body, "seq", seq, sizeof seq);
    field(body, "type", type, sizeof type);
    field(body, "station", station, sizeof station);
    if (!strcmp(station, "-"))
        field(body, "from_station", station, sizeof station);
    field(body, "callback_id", callback, sizeof callback);
    pthread_mutex_lock(&log_lock);
    fprintf(log_file, "%.6f %s %s %s %s\n", at, seq, type, station, callback);
    fflush(log_file);
    pthread_mutex_unlock(&log_lock);
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    char buf[65536];
    size_t have = 0;
    for (;;) {
        char *end;
        while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
            ssize_t r = have < sizeof buf - 1 ? read(fd, buf + have, sizeof buf - 1 - have) : 0;
            if (r <= 0)
                goto done;
            have += (size_t)r;
        }
        *end = '\0';
        const char *cl = strcasestr(buf, "\r\nContent-Length:");
        size_t head = (size_t)(end + 4 - buf), body = cl ? strtoul(cl + 17, NULL, 10) : 0;
        if (head + body >= sizeof buf)
            goto done;
        while (have < head + body) {
            ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
            if (r <= 0)
                goto done;
            have += (size_t)r;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (write(fd, ok, sizeof ok - 1) != (ssize_t)(sizeof ok - 1))
            goto done;
        char saved = buf[head + body];
        buf[head + body] = '\0';
        log_command((double)ts.tv_sec + (double)ts.tv_nsec / 1e9, buf + head);
        buf[head + body] = saved;
        memmove(buf, buf + head + body, have - head - body);
        have -= head + body;
    }
done:
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_fake_pbx PORT LOG_FILE\n");
        return 2;
    }
    log_file = fopen(argv[2], "a");
    int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (!log_file || lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(lfd, 128) != 0) {
        perror("bench_fake_pbx");
        return 1;
    }
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        if (pthread_create(&t, NULL, serve, (void *)(intptr_t)fd) == 0)
            pthread_detach(t);
        else
            close(fd);
    }
}
