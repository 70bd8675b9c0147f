/* engine.h - runs jobs: one mailbox in the foreground, or the whole queue
 * with a pool of worker threads.
 *
 * Threads: engine_run_queue starts `workers` threads; each opens its own
 * store connection and claims jobs one at a time (store_job_claim is a
 * single UPDATE, so no job runs twice).  The calling thread prints the
 * progress line and, about twice a second, reads the store's pending
 * commands: a 'pause' for a job one of its workers runs stops that job at
 * its next checkpoint and ends it paused (each worker has its own stop flag
 * for this).  Pauses for jobs no process runs are settled there too.
 * Setting *cancel makes every worker stop at its next checkpoint; their
 * jobs go back to the queue (or are paused, with pause_on_cancel) and
 * resume later without duplicates (see migrate.h).
 *
 * The lifecycle (lifecycle.h): a worker claims queued jobs, due incremental
 * syncs of ready jobs and due cutovers alike, and runs the pass of the
 * job's phase; where the job goes next is lc_after_pass.  Blackouts: each
 * worker skips jobs a blackout holds now (its own bo_set, reloaded when the
 * windows change), and the calling thread stops a running job at its next
 * checkpoint when a window begins for it (requeued, with an event naming
 * the window).  An endpoint that refuses the admin pauses every waiting job
 * of the endpoint with one event (store_endpoint_pause_jobs).
 *
 * When run_queue returns: without follow, once nothing runs and nothing can
 * start now (jobs waiting for a start time, a blackout, an incremental sync
 * or a cutover time are left for a later run); with follow, only when
 * *cancel is set.  The console calls it again every few seconds.
 *
 * The engine never touches the terminal beyond the optional progress line
 * on stderr; the console (ui/) reads the store. */
#ifndef MF_ENGINE_H
#define MF_ENGINE_H

#include "cfg.h"
#include "common.h"
#include "store.h"

struct engine_opts {
	const struct cfg *cfg;
	const char *store_path;
	int workers;
	bool progress;              /* progress line on stderr */
	volatile int *cancel;
	bool pause_on_cancel;       /* jobs stopped by *cancel end paused, not queued */
	bool health;                /* engine_run_queue also runs the forests' due health checks */
	bool follow;                /* run_queue waits for scheduled work until *cancel */
};

/* Runs one claimed job to its end state and records it in the store.
 * Returns the job's status (ST_OK, ST_PARTIAL or the failure). */
enum st engine_run_job(struct store *st, const struct cfg *cfg, struct job *job,
                       volatile int *cancel, struct err *e);

/* Runs jobs until none can run now (see above; with o->follow until
 * *o->cancel).  Returns the worst status seen (ST_OK when every job ended
 * without skipped items; a pause or a blackout is no failure).
 *
 * With o->health, a thread of its own (never a worker) runs the health
 * checks that are due (engine_check_forests' rule) once at the start, and
 * again whenever one falls due while jobs run; migrations never wait for
 * it.  When the run ends it still finishes the round it is in (so its
 * results are kept), but starts no other forest. */
enum st engine_run_queue(const struct engine_opts *o, struct err *e);

/* Runs the health checks (health.h) of every forest whose last check is
 * older than cfg->health_interval_min minutes, or never ran; the results
 * replace its alerts in the store.  Stops early when *o->cancel is set.
 * Returns how many forests were checked (0 when the interval is 0). */
int engine_check_forests(const struct engine_opts *o, struct err *e);

/* Scheduled notifications (notice.h): the "before" notices that are due
 * and the admins' daily summary.  Called by engine_run_queue as it starts
 * and every minute while it runs, so both "mailferry run" and the
 * console's engine send them; at most once a minute per process (force
 * skips that).  Returns how many messages went out. */
int engine_send_notices(const struct engine_opts *o, bool force, struct err *e);

#endif
