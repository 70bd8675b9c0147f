/* forecast.h - when each queued or running job is expected to start and
 * end: a simulation of the queue as the engine would work it, shared by the
 * console's Schedule view, `mailferry schedule` and the benchmark.
 *
 * The model, after the engine's claim (store_job_claim):
 *   - `workers` jobs run at a time; a running job holds one connection on
 *     its source and on its target endpoint, and a job does not start while
 *     either endpoint is at its max_connections;
 *   - when a worker is free it takes the first job in queue order that may
 *     start: its start-after time has come, its endpoints have a free
 *     connection and no blackout window holds it (blackout.h: a job with
 *     suspend-when-ready is forecast up to "ready to complete", in the
 *     INITIAL phase; any other job in the WHOLE phase);
 *   - a job held by a window waits for its end without taking a worker;
 *     a job that runs into a window stops there (its checkpoint), frees
 *     its worker and resumes after the window with the bytes left, at its
 *     queue place again (its time is split);
 *   - a job copies at its target endpoint's measured throughput shared by
 *     the jobs that can run there at once (min(workers, max_connections)),
 *     else at the default rate per job; the engine samples by target
 *     endpoint (migrate.c), so that is where the measurement is;
 *   - a job whose size is not known is taken to be as big as the average of
 *     the known ones (size_estimated says so).
 * Not modelled: priorities changing, pauses, retries, new jobs.
 *
 * Cost: O((jobs + stops) log jobs) plus a blackout look-up per attempt of
 * a class of jobs (jobs the windows and limits treat alike wait together,
 * forecast.c); each window caches its last occurrence in the bo_set, so
 * look-ups along the advancing clock are cheap: 10 000 jobs over six weeks
 * of 37 windows take about 16 ms, 100 000 over 447 days 0.2 s (make
 * bench-forecast).
 *
 * Memory: forecast_run writes only into the caller's jobs; strings in the
 * inputs are borrowed.  blackout names in the results point into the
 * bo_set (valid until bo_free).  forecast_env owns what it loads. */
#ifndef MF_FORECAST_H
#define MF_FORECAST_H

#include "common.h"
#include "blackout.h"
#include "store.h"

/* est_start/est_end of a job that cannot start within FORECAST_HORIZON of
 * now (windows cover all time, say). */
#define FORECAST_NEVER INT64_MAX
#define FORECAST_HORIZON (5LL * 366 * 86400)
/* Throughput is measured over this many seconds back from now. */
#define FORECAST_MEASURE_SECS 3600

struct forecast_endpoint {
	int64_t id;
	const char *name;           /* borrowed */
	int max_connections;        /* <= 0: no limit */
	double measured_rate;       /* bytes/s over the endpoint as a whole; 0: none measured */
};

enum forecast_basis { FORECAST_DEFAULT, FORECAST_MEASURED };
const char *forecast_basis_name(enum forecast_basis b);     /* "default", "measured" */

struct forecast_job {
	/* In, in queue order. */
	int64_t id;
	int64_t src_ep, dst_ep;     /* endpoint ids (0 or unknown: no limit, default rate) */
	const char *login;          /* source login: which windows apply; borrowed */
	bool running;               /* holds a worker now */
	bool suspend_ready;         /* forecast up to "ready to complete" (INITIAL phase) */
	int64_t size;               /* bytes; < 0 unknown */
	int64_t done;               /* bytes already copied (running jobs) */
	int64_t start_after, started;
	/* Out. */
	int64_t est_size;           /* size, or the average of the known ones */
	bool size_estimated;
	int64_t est_start, est_end; /* FORECAST_NEVER: not within the horizon */
	const char *blackout;       /* the first window that held or stopped it; NULL none */
	int64_t blackout_until;     /* when that hold ended */
	int stops;                  /* times a window stopped it while it ran */
	double rate;                /* bytes/s used for it */
	enum forecast_basis basis;
};

struct forecast_params {
	int workers;                /* >= 1 */
	double default_rate;        /* bytes/s per job when nothing was measured */
	int64_t now;
	struct bo_set *bo;          /* NULL: no windows */
	const struct forecast_endpoint *eps;
	size_t neps;
};

/* Fills the Out fields of jobs[0..n).  ST_USAGE for workers < 1 or a rate
 * that is not positive. */
enum st forecast_run(const struct forecast_params *p, struct forecast_job *jobs, size_t n, struct err *e);

/* The rate a job copies at, and where it comes from (as forecast_run). */
double forecast_job_rate(const struct forecast_params *p, int64_t dst_ep, enum forecast_basis *basis);

/* --- what a forecast needs from the store ----------------------------------- */

struct forecast_env {
	struct forecast_endpoint *eps;  /* every endpoint; names owned */
	size_t neps;
	struct bo_set *bo;              /* owned */
};
/* Endpoints with their limits, the throughput each target measured over
 * the FORECAST_MEASURE_SECS before now (bytes over the minutes that have
 * samples: an idle minute does not dilute it) and the blackout windows. */
enum st forecast_env_load(struct store *s, int64_t now, struct forecast_env *out, struct err *e);
/* Measures the rates again (now moved on); endpoints and windows stay. */
enum st forecast_env_measure(struct store *s, int64_t now, struct forecast_env *env, struct err *e);
void forecast_env_free(struct forecast_env *env);
/* The endpoint called name; NULL when unknown. */
const struct forecast_endpoint *forecast_env_endpoint(const struct forecast_env *env, const char *name);

/* --- the queue as the store has it ------------------------------------------- */

/* A forecast of the store's queue: the jobs queued or running, in queue
 * order, with their names (for printing); owns everything. */
struct forecast_queue {
	struct forecast_env env;
	struct forecast_params p;
	struct forecast_job *jobs;
	size_t n, cap;
	struct forecast_label {
		char *src_ep, *src_user, *dst_ep, *dst_user;    /* one allocation: src_ep */
		enum job_state state;
		int priority;
	} *labels;
};
/* Loads and runs it.  default_rate in bytes/s per job. */
enum st forecast_queue_run(struct store *s, int workers, double default_rate, int64_t now,
                           struct forecast_queue *out, struct err *e);
void forecast_queue_free(struct forecast_queue *q);
/* Records the forecast of every queued job (store_forecast_put), in one
 * transaction: the engine does it when it starts working the queue and
 * every FORECAST_RECORD_SECS meanwhile, `mailferry schedule` every time. */
#define FORECAST_RECORD_SECS 600
enum st forecast_queue_record(struct store *s, const struct forecast_queue *q, struct err *e);
/* Both, for the engine: a forecast of the queue recorded now. */
enum st forecast_record_now(struct store *s, int workers, int default_rate_mb_h, struct err *e);

/* The default rate of the configuration (forecast_default_rate, MB per
 * hour) in bytes/s. */
double forecast_rate_of_mb_h(int mb_h);

/* One line on what the forecast assumed: "2 workers, 1.0 MB/s measured
 * on dst (last hour): 500.0 KB/s a job; other targets 5.0 MB/s a
 * job (default)".  Only endpoints that are the target of one of the jobs
 * are named.  Returns a string the caller frees. */
char *forecast_basis_text(const struct forecast_params *p, const struct forecast_job *jobs, size_t n);

#endif
