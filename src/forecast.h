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
 *     the known ones of initial passes (size_estimated says so);
 *   - the lifecycle (lifecycle.h), with the engine's phases: a ready job
 *     runs its next incremental sync at next_sync, a completing job its
 *     final pass at cutover_at (blackout phase lc_bo_phase: FINAL windows
 *     hold it), a queued suspend-when-ready job is ready to complete when
 *     its initial pass ends and, with a cutover asked for, its final pass
 *     follows (not before cutover_at) as a job of the FINAL phase.  A delta
 *     pass copies what the job's earlier incremental passes copied on
 *     average (the caller's size), else FORECAST_DELTA_PERMILLE of the
 *     mailbox (size_estimated); only the next incremental sync is
 *     forecast, not the ones every incremental_interval_h after it;
 *   - with a host limit, the endpoints of one server share it.
 * Not modelled: priorities changing, pauses, retries, new jobs, syncs after
 * the next one.
 *
 * Cost: O((jobs + stops) log jobs) plus a blackout look-up per attempt of
 * a class of jobs (jobs the windows and limits treat alike wait together,
 * forecast.c); each window caches its last occurrence in the bo_set, so
 * look-ups along the advancing clock are cheap: 10 000 jobs over six weeks
 * of 37 windows take about 24 ms, 100 000 over 424 days 0.2 s (make
 * bench-forecast; a tenth suspend-when-ready, ready or completing).
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
	const char *host;           /* the server of its URL (lower case; borrowed), NULL unknown:
	                             * endpoints on one host share forecast_params.host_limit */
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
	enum job_phase phase;       /* the pass it runs or waits for (lifecycle.h): INITIAL for a
	                             * queued job, INCREMENTAL for a ready one (its next sync, at
	                             * start_after = next_sync), FINAL for a completing one (at
	                             * start_after = cutover_at) */
	int64_t cutover_at;         /* a suspend-when-ready job in its INITIAL phase: a cutover is
	                             * asked for, its final pass follows, not before then */
	int64_t size;               /* bytes of the pass: the mailbox for an initial pass, the
	                             * delta for the others; < 0 unknown */
	int64_t mailbox_size;       /* a delta pass whose size is not known: the mailbox's (-1
	                             * unknown), of which FORECAST_DELTA_PERMILLE is taken */
	int64_t done;               /* bytes already copied (running jobs) */
	int64_t start_after, started;
	/* Out. */
	int64_t est_size;           /* size, or the average of the known ones */
	bool size_estimated;
	int64_t est_start, est_end; /* FORECAST_NEVER: not within the horizon */
	int64_t est_ready;          /* a suspend-when-ready job's initial or incremental pass:
	                             * when it is ready to complete (the end of that pass); 0 for
	                             * the others.  With a final pass after it, est_end is that
	                             * pass's end. */
	int64_t est_delta;          /* the final pass after the initial one: its estimated bytes */
	const char *blackout;       /* the first window that held or stopped it; NULL none */
	int64_t blackout_until;     /* when that hold ended */
	int stops;                  /* times a window stopped it while it ran */
	double rate;                /* bytes/s used for it */
	enum forecast_basis basis;
};

/* What a job's NOTE says (why it starts or ends when it does, in a few
 * words: "running; blackout NIGHT until T; then ready to complete"), from
 * the facts the CLI's table and the console's Schedule view both hold. */
struct forecast_note_facts {
	bool running, suspend_ready, size_estimated;
	enum job_phase phase;
	const char *blackout;
	int stops;
	int64_t blackout_until, start_after, est_start, est_end, est_ready, cutover_at;
};
/* Writes the note into b (n bytes); fmt_time writes a time as the caller
 * shows times (the CLI's full local time, the console's short one). */
void forecast_note(const struct forecast_note_facts *f, void (*fmt_time)(int64_t t, char *b, size_t n),
                   char *b, size_t n);

struct forecast_params {
	int workers;                /* >= 1 */
	double default_rate;        /* bytes/s per job when nothing was measured */
	int64_t now;
	struct bo_set *bo;          /* NULL: no windows */
	int host_limit;             /* max_connections_per_host: connections to one host over all
	                             * its endpoints (a job holds one per endpoint, so two when
	                             * both are on the host, as the engine's claim); <= 0 none */
	const struct forecast_endpoint *eps;
	size_t neps;
};

/* A delta pass (incremental sync, final pass) whose size was never
 * measured is taken to copy this share (per mille) of the mailbox: mail
 * that arrived since the previous pass, a day or so of it. */
#define FORECAST_DELTA_PERMILLE 10
/* The size of such a delta when the mailbox's size is not known either. */
#define FORECAST_DELTA_DEFAULT (10LL * 1000 * 1000)
int64_t forecast_delta_estimate(int64_t mailbox_size);

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

/* Sets the size of every delta pass in jobs (phase not INITIAL) to the
 * average bytes of that job's earlier incremental syncs (its finished
 * delta passes after the first pass); left as it is when there were none. */
enum st forecast_measure_deltas(struct store *s, struct forecast_job *jobs, size_t n, struct err *e);

/* --- the queue as the store has it ------------------------------------------- */

/* A forecast of the store's queue: the jobs queued, running, ready or
 * completing, in queue order, with their names (for printing); owns everything. */
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
/* Loads and runs it.  default_rate in bytes/s per job; host_limit as
 * forecast_params.  Ready and completing jobs are in it too (their next
 * pass); a delta pass's size is the average bytes of the job's earlier
 * incremental syncs (store_pass_each), else estimated (size_estimated). */
enum st forecast_queue_run(struct store *s, int workers, int host_limit, double default_rate, int64_t now,
                           struct forecast_queue *out, struct err *e);
void forecast_queue_free(struct forecast_queue *q);
/* Records the forecast of every queued job (store_forecast_put), in one
 * transaction: the engine does it when it starts working the queue and
 * every FORECAST_RECORD_SECS meanwhile, `mailferry schedule` every time. */
#define FORECAST_RECORD_SECS 600
enum st forecast_queue_record(struct store *s, const struct forecast_queue *q, struct err *e);
/* Both, for the engine: a forecast of the queue recorded now. */
enum st forecast_record_now(struct store *s, int workers, int host_limit, int default_rate_mb_h, struct err *e);

/* The default rate of the configuration (forecast_default_rate, MB per
 * hour) in bytes/s. */
double forecast_rate_of_mb_h(int mb_h);

/* One line on what the forecast assumed: "2 workers, 1.0 MB/s measured
 * on dst (last hour): 500.0 KB/s a job; other targets 5.0 MB/s a
 * job (default)".  Only endpoints that are the target of one of the jobs
 * are named.  Returns a string the caller frees. */
char *forecast_basis_text(const struct forecast_params *p, const struct forecast_job *jobs, size_t n);

#endif
