#include "api/runner.h"
#include "service/clock.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct api_runner {
    api_serve_fn serve;
    int wait_ms;
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t lock;
    pthread_cond_t queued;
    struct api_request *head, *tail;
    bool stopping;
};

/* Serves one request (or refuses it when it waited too long or the server stops), then hands
 * its connection back to its HTTP thread. */
static void run(struct api_runner *q, struct api_request *r, bool stopping)
{
    uint64_t waited_ms = (cb_monotonic_ns() - r->queued_ns) / 1000000ULL;
    if (stopping)
        api_reply_problem(r, API_SERVICE_UNAVAILABLE, "the service is stopping; retry later");
    else if (waited_ms > (uint64_t)q->wait_ms)
        api_reply_problem(r, API_SERVICE_UNAVAILABLE,
                          "no database connection within %d ms; retry later", q->wait_ms);
    else
        q->serve(r);
    atomic_store(&r->served, true);
    MHD_resume_connection(r->conn);
}

static void *runner_main(void *arg)
{
    struct api_runner *q = arg;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (!q->head && !q->stopping)
            pthread_cond_wait(&q->queued, &q->lock);
        struct api_request *r = q->head;
        if (!r)
            break; /* stopping, and nothing left */
        q->head = r->next_queued;
        if (!q->head)
            q->tail = NULL;
        bool stopping = q->stopping;
        pthread_mutex_unlock(&q->lock);
        run(q, r, stopping);
        pthread_mutex_lock(&q->lock);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

struct api_runner *api_runner_start(int threads, int wait_ms, api_serve_fn serve)
{
    struct api_runner *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->serve = serve;
    q->wait_ms = wait_ms;
    q->threads = calloc((size_t)threads, sizeof *q->threads);
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->queued, NULL);
    for (; q->threads && q->n_threads < threads; q->n_threads++)
        if (pthread_create(&q->threads[q->n_threads], NULL, runner_main, q) != 0)
            break;
    if (q->n_threads < threads) {
        api_runner_stop(q);
        api_runner_free(q);
        return NULL;
    }
    return q;
}

bool api_runner_submit(struct api_runner *q, struct api_request *r)
{
    pthread_mutex_lock(&q->lock);
    if (q->stopping) {
        pthread_mutex_unlock(&q->lock);
        return false;
    }
    /* Suspended before any request thread can see it, so that its resume comes after. */
    MHD_suspend_connection(r->conn);
    r->queued_ns = cb_monotonic_ns();
    r->next_queued = NULL;
    if (q->tail)
        q->tail->next_queued = r;
    else
        q->head = r;
    q->tail = r;
    pthread_cond_signal(&q->queued);
    pthread_mutex_unlock(&q->lock);
    return true;
}

void api_runner_stop(struct api_runner *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    q->stopping = true;
    pthread_cond_broadcast(&q->queued);
    pthread_mutex_unlock(&q->lock);
    for (int i = 0; i < q->n_threads; i++)
        pthread_join(q->threads[i], NULL);
    q->n_threads = 0;
}

void api_runner_free(struct api_runner *q)
{
    if (!q)
        return;
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->queued);
    free(q->threads);
    free(q);
}
