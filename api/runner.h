/* The request threads (issue 11). Every request that may wait on the database runs here, on a
 * fixed set of threads, while libmicrohttpd holds its connection suspended; the HTTP threads
 * only read, route and write, so what needs no database (/healthz, /metrics) is never queued
 * behind what does. A request that waited longer than CALLBACKD_DB_POOL_WAIT_MS for a thread
 * is answered 503 without running: when the database hangs, requests fail in bounded time
 * instead of queueing behind each other. */
#ifndef API_RUNNER_H
#define API_RUNNER_H

#include "api/http.h"

#include <stdbool.h>

struct api_runner;

/* What a request thread does with a request: authenticate, parse, run the handler (or, before
 * its body is read, only authenticate). */
typedef void (*api_serve_fn)(struct api_request *r);

/* Starts `threads` request threads; a request waits at most `wait_ms` for one. NULL on error. */
struct api_runner *api_runner_start(int threads, int wait_ms, api_serve_fn serve);
/* Suspends the request's connection and queues it; once served, its answer is stored
 * (api_reply_*), `r->served` set and the connection resumed, for the HTTP thread to send.
 * False (nothing done) once stopping. Called on the connection's HTTP thread. */
bool api_runner_submit(struct api_runner *q, struct api_request *r);
/* Answers what is still queued with 503, lets the requests being served finish (their database
 * waits are bounded) and joins the threads; from then on api_runner_submit refuses. Call before
 * MHD_stop_daemon: every suspended connection is resumed by then. */
void api_runner_stop(struct api_runner *q);
/* Frees a stopped runner; after MHD_stop_daemon, when no HTTP thread can submit any more. */
void api_runner_free(struct api_runner *q);

#endif
