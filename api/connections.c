/* Client connections and what bounds them.
 *
 * libmicrohttpd's connection timeout is an idle timeout: every byte received restarts it, so a
 * client that sends one header line every few seconds holds its connection for as long as it
 * likes, and a thousand such clients hold every slot. Here each connection also has a deadline
 * for its request: it runs from the moment the connection opens (or its previous answer was
 * sent) until the request's headers and body are all in, and CALLBACKD_REQUEST_TIMEOUT_S bounds
 * it whatever the pace of the bytes. It counts the client's time only: it stops while the
 * server works (a token looked up before the body is read, a request served on a request
 * thread, its connection suspended), whatever the database takes. A watchdog thread shuts down
 * the socket of a connection past its deadline; libmicrohttpd then reads the end of the stream
 * and closes the connection the usual way, in its own thread. The registry of open connections
 * (fed by MHD_OPTION_NOTIFY_CONNECTION) is what the watchdog walks; its lock also keeps a
 * socket from being closed, and its number reused, while the watchdog shuts it down. */
#include "api/connections.h"
#include "service/log.h"
#include "service/metrics.h"
#include "service/clock.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

/* deadline_ms once the watchdog has closed the connection: its request must not run. */
#define DEADLINE_CUT (-1LL)

struct api_conn {
    struct api_conn *prev, *next;
    int fd;
    char peer[INET6_ADDRSTRLEN];
    /* CLOCK_MONOTONIC milliseconds; 0 while no request is arriving (a handler or an answer is
     * under way), DEADLINE_CUT once closed. Written by the connection's thread, and by the
     * watchdog only from a running deadline to DEADLINE_CUT. */
    atomic_llong deadline_ms;
    long long left_ms; /* what was left of a stopped deadline; the connection's thread's */
};

struct api_conns {
    pthread_mutex_t lock; /* the list, and the sockets in it staying open */
    pthread_cond_t wake;
    struct api_conn *head;
    long long timeout_ms, tick_ms;
    bool stopping;
    pthread_t watchdog;
    struct cb_metrics *metrics;
};

static void *watchdog_main(void *arg)
{
    struct api_conns *cs = arg;
    pthread_mutex_lock(&cs->lock);
    while (!cs->stopping) {
        long long now = cb_monotonic_ms();
        unsigned cut = 0;
        char peer[INET6_ADDRSTRLEN] = "";
        for (struct api_conn *c = cs->head; c; c = c->next) {
            long long d = atomic_load(&c->deadline_ms);
            if (d <= 0 || d > now ||
                !atomic_compare_exchange_strong(&c->deadline_ms, &d, DEADLINE_CUT))
                continue;
            /* The connection's thread sees the end of the stream and closes it. */
            shutdown(c->fd, SHUT_RDWR);
            if (!cut++)
                memcpy(peer, c->peer, sizeof peer);
        }
        pthread_mutex_unlock(&cs->lock);
        if (cut) {
            if (cs->metrics)
                atomic_fetch_add(&cs->metrics->http_request_timeouts, cut);
            cb_log(CB_LOG_WARN, "request not received in time; connection closed",
                   json_pack("{s:i, s:s, s:i}", "connections", (int)cut, "peer", peer,
                             "request_timeout_s", (int)(cs->timeout_ms / 1000)));
        }
        pthread_mutex_lock(&cs->lock);
        if (cs->stopping)
            break;
        long long until = cb_monotonic_ms() + cs->tick_ms;
        struct timespec ts = {.tv_sec = until / 1000, .tv_nsec = (until % 1000) * 1000000};
        pthread_cond_timedwait(&cs->wake, &cs->lock, &ts);
    }
    pthread_mutex_unlock(&cs->lock);
    return NULL;
}

struct api_conns *api_conns_new(int request_timeout_s, struct cb_metrics *metrics)
{
    struct api_conns *cs = calloc(1, sizeof *cs);
    if (!cs)
        return NULL;
    cs->timeout_ms = (long long)request_timeout_s * 1000;
    /* A deadline is kept to within a tenth of it, and a quarter of a second at most. */
    cs->tick_ms = cs->timeout_ms / 10 < 250 ? cs->timeout_ms / 10 : 250;
    cs->metrics = metrics;
    cb_cond_init_monotonic(&cs->wake);
    pthread_mutex_init(&cs->lock, NULL);
    if (pthread_create(&cs->watchdog, NULL, watchdog_main, cs) != 0) {
        pthread_cond_destroy(&cs->wake);
        pthread_mutex_destroy(&cs->lock);
        free(cs);
        return NULL;
    }
    return cs;
}

void api_conns_free(struct api_conns *cs)
{
    if (!cs)
        return;
    pthread_mutex_lock(&cs->lock);
    cs->stopping = true;
    pthread_cond_signal(&cs->wake);
    pthread_mutex_unlock(&cs->lock);
    pthread_join(cs->watchdog, NULL);
    /* MHD_stop_daemon has closed every connection, so the list is empty. */
    pthread_cond_destroy(&cs->wake);
    pthread_mutex_destroy(&cs->lock);
    free(cs);
}

static void peer_text(struct MHD_Connection *conn, char out[INET6_ADDRSTRLEN])
{
    out[0] = '\0';
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, INET6_ADDRSTRLEN);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, INET6_ADDRSTRLEN);
}

void api_conns_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode code)
{
    struct api_conns *cs = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        if (cs->metrics)
            atomic_fetch_add(&cs->metrics->http_connections, 1);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct api_conn *c = ci ? calloc(1, sizeof *c) : NULL;
        if (!c)
            return; /* out of memory: this connection has only the idle timeout */
        c->fd = ci->connect_fd;
        peer_text(conn, c->peer);
        atomic_init(&c->deadline_ms, cb_monotonic_ms() + cs->timeout_ms);
        pthread_mutex_lock(&cs->lock);
        c->next = cs->head;
        if (cs->head)
            cs->head->prev = c;
        cs->head = c;
        pthread_mutex_unlock(&cs->lock);
        *socket_context = c;
        return;
    }
    if (cs->metrics)
        atomic_fetch_sub(&cs->metrics->http_connections, 1);
    struct api_conn *c = *socket_context;
    if (!c)
        return;
    /* libmicrohttpd closes the socket after this returns: once out of the list, the watchdog
     * can no longer shut it down (nor another connection that reuses its number). */
    pthread_mutex_lock(&cs->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        cs->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&cs->lock);
    free(c);
    *socket_context = NULL;
}

static struct api_conn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

bool api_conns_deadline_stop(struct MHD_Connection *conn)
{
    struct api_conn *c = conn_of(conn);
    if (!c)
        return true;
    long long d = atomic_load(&c->deadline_ms);
    if (d == DEADLINE_CUT)
        return false;
    if (d == 0)
        return true; /* stopped already */
    /* The watchdog only moves a running deadline to DEADLINE_CUT: if it did so in between,
     * the exchange fails and the connection is being closed. */
    if (!atomic_compare_exchange_strong(&c->deadline_ms, &d, 0))
        return false;
    c->left_ms = d - cb_monotonic_ms();
    return true;
}

void api_conns_deadline_resume(struct MHD_Connection *conn)
{
    struct api_conn *c = conn_of(conn);
    long long stopped = 0;
    /* Past due already (the watchdog had not come round to it): cut at its next round. */
    long long left = c && c->left_ms > 0 ? c->left_ms : 1;
    if (c)
        atomic_compare_exchange_strong(&c->deadline_ms, &stopped, cb_monotonic_ms() + left);
}

void api_conns_request_done(struct api_conns *cs, struct MHD_Connection *conn)
{
    struct api_conn *c = conn_of(conn);
    long long stopped = 0;
    if (c)
        atomic_compare_exchange_strong(&c->deadline_ms, &stopped,
                                       cb_monotonic_ms() + cs->timeout_ms);
}

unsigned api_conns_fit_fd_limit(unsigned connections, unsigned other_fds)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return connections;
    rlim_t need = (rlim_t)connections + other_fds;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rlim_t was = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
        if (rl.rlim_cur > was && setrlimit(RLIMIT_NOFILE, &rl) == 0)
            cb_log(CB_LOG_INFO, "open-files limit raised for the connection cap",
                   json_pack("{s:I, s:I}", "from", (json_int_t)was, "to", (json_int_t)rl.rlim_cur));
        else
            rl.rlim_cur = was;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return connections;
    unsigned fit = rl.rlim_cur > (rlim_t)other_fds + 16 ? (unsigned)(rl.rlim_cur - other_fds) : 16;
    cb_log(CB_LOG_WARN, "CALLBACKD_MAX_CONNECTIONS lowered to fit the open-files limit",
           json_pack("{s:i, s:i, s:I, s:s}", "wanted", (int)connections, "max_connections",
                     (int)fit, "open_files_limit", (json_int_t)rl.rlim_cur, "hint",
                     "raise the hard limit (ulimit -Hn, systemd LimitNOFILE=)"));
    return fit;
}
