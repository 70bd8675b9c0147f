/* engine.c - job runner and worker pool; see engine.h. */
#include "config.h"

#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include "forecast.h"
#include "health.h"
#include "imap.h"
#include "lifecycle.h"
#include "log.h"
#include "migrate.h"
#include "notice.h"
#include "notify.h"
#include "script.h"
#include "secret.h"

/* How a job stopped at a checkpoint ends: back where it waits (queued,
 * ready or completing, by its phase), paused, or waiting out a blackout. */
enum stop_as { STOP_REQUEUE, STOP_PAUSE_ADMIN, STOP_PAUSE_SHUTDOWN, STOP_BLACKOUT };

/* Set by whoever sets the job's cancel flag, read once the job stopped. */
struct stop_req {
	volatile int as;            /* enum stop_as */
	char why[200];              /* STOP_BLACKOUT: "blackout NAME until TIME" */
};

static enum st run_job(struct store *st, const struct cfg *cfg, struct job *job,
                       volatile int *cancel, const struct stop_req *stop, struct err *e);
static int check_due(const struct engine_opts *o, const atomic_int *stop, struct err *e);
static enum st engine_run_job_locked(struct store *st, const struct cfg *cfg, struct job *job,
                                     volatile int *cancel, const struct stop_req *stop,
                                     struct err *e);

/* An advisory lock file next to the store.  The kernel drops it when the
 * process dies, so a kill -9 never leaves a stale lock behind.  Returns the
 * descriptor, or -1 when another process holds it. */
static int lock_file(const char *store_path, const char *name)
{
	char *path = x_asprintf("%s.%s.lock", store_path, name);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(path);
	if (fd < 0)
		return -2;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

enum st engine_run_job(struct store *st, const struct cfg *cfg, struct job *job,
                       volatile int *cancel, struct err *e)
{
	return run_job(st, cfg, job, cancel, NULL, e);
}

/* stop (NULL: requeue) is read when the job has stopped at a checkpoint,
 * so whoever set *cancel can say how it should end. */
static enum st run_job(struct store *st, const struct cfg *cfg, struct job *job,
                       volatile int *cancel, const struct stop_req *stop, struct err *e)
{
	char lock_name[48];
	snprintf(lock_name, sizeof lock_name, "pair-%lld", (long long)job->pair_id);
	int lock = lock_file(store_path(st), lock_name);
	if (lock == -1) {
		err_set(e, ST_UNAVAIL, "mailbox %s is being migrated by another mailferry process; "
		        "job %lld stays queued", job->src_user, (long long)job->id);
		struct err fe;
		store_job_finish(st, job, lc_waiting_state(job->phase), e->msg, &fe);
		return ST_UNAVAIL;
	}
	char *why = x_asprintf("interrupted (the process ended); resumed by job %lld", (long long)job->id);
	struct err ie;
	if (store_job_close_interrupted(st, job->pair_id, job->id, why, &ie))
		log_warn("%s", ie.msg);
	free(why);
	enum st r = engine_run_job_locked(st, cfg, job, cancel, stop, e);
	if (lock >= 0)
		close(lock);
	return r;
}

/* Records the end of a job stopped at a checkpoint. */
static void finish_stopped(struct store *st, struct job *job, const struct stop_req *stop)
{
	struct err fe;
	enum st r;
	enum stop_as how = stop ? (enum stop_as)stop->as : STOP_REQUEUE;
	if (how == STOP_REQUEUE || how == STOP_BLACKOUT) {
		r = store_job_finish(st, job, lc_waiting_state(job->phase), NULL, &fe);
		if (how == STOP_BLACKOUT)
			store_event(st, EV_INFO, job->id, "stopped at a checkpoint for %s; the %s pass resumes "
			            "after it", stop->why, job_phase_name(job->phase));
	} else {
		r = store_job_finish_paused(st, job, how == STOP_PAUSE_ADMIN ? "admin" : "shutdown", &fe);
		store_event(st, EV_INFO, job->id, how == STOP_PAUSE_ADMIN ? "paused by admin" :
		            "paused: the engine was stopped");
	}
	if (r)
		log_error("%s", fe.msg);
}

/* --- scripts at job events (script.h) ------------------------------------------- */

static void count_pass(void *ctx, int64_t id, const char *kind, int64_t started, int64_t finished,
                       const char *result, int64_t copied, int64_t bytes, int64_t skipped, int64_t failed,
                       int64_t reflagged)
{
	(void)id, (void)kind, (void)started, (void)finished, (void)result, (void)copied, (void)bytes;
	(void)skipped, (void)failed, (void)reflagged;
	(*(int *)ctx)++;
}

/* A job's first start: no pass has begun yet (a job held by its script,
 * then resumed, is still at its first start; one cut off mid-pass is not). */
static bool job_has_no_pass(struct store *st, int64_t job_id)
{
	int n = 0;
	struct err e;
	return !store_pass_each(st, job_id, count_pass, &n, &e) && n == 0;
}

/* Runs the script of a job's start (before its first pass, or at its
 * cutover); when it fails the job is held: paused by "script" with the
 * reason, nothing copied (a held cutover waits in its final phase, so a
 * resume runs the script again, then the final pass).  Returns the
 * script's failure (e: "job N held: ..."), ST_OK to go on, ST_CANCELED
 * when *cancel stopped the script (the job then ends as any job stopped
 * at a checkpoint: queued or paused, not held). */
static enum st hold_if_script_fails(struct store *st, const struct cfg *cfg, struct job *job,
                                    enum script_event ev, const volatile int *cancel, struct err *e)
{
	struct script_result r;
	struct err se;
	enum st s = script_run_cancellable(st, cfg, job->id, ev, cancel, &r, &se);
	if (s == ST_OK)
		return ST_OK;
	if (s == ST_CANCELED) {
		*e = se;
		return ST_CANCELED;
	}
	struct err fe;
	if (store_job_hold(st, job, "script", se.msg, &fe))
		log_error("%s", fe.msg);
	store_event(st, EV_WARN, job->id, "job held by its %s script; once fixed: mailferry resume %lld",
	            script_event_name(ev), (long long)job->id);
	return err_set(e, se.code, "job %lld held: %s", (long long)job->id, se.msg);
}

/* The script of a job's end; its failure is in the job's events and
 * changes nothing else. */
static void run_end_script(struct store *st, const struct cfg *cfg, const struct job *job, enum job_state state,
                           const volatile int *cancel)
{
	struct script_result r;
	struct err se;
	if (state == JOB_COMPLETED || state == JOB_PARTIAL)
		script_run_cancellable(st, cfg, job->id, SCRIPT_AFTER_COMPLETION, cancel, &r, &se);
	else if (state == JOB_FAILED)
		script_run_cancellable(st, cfg, job->id, SCRIPT_ON_FAILURE, cancel, &r, &se);
}

/* The endpoints and their secrets a job needs; on failure *failed_ep says
 * which endpoint's configuration is at fault. */
struct job_eps {
	struct endpoint src, dst;
	char *src_secret, *dst_secret;
};

static enum st job_eps_load(struct store *st, const struct cfg *cfg, const struct job *job,
                            struct job_eps *x, int64_t *failed_ep, struct err *e)
{
	memset(x, 0, sizeof *x);
	enum st s = store_endpoint_get_id(st, job->src_ep, &x->src, e);
	if (!s)
		s = store_endpoint_get_id(st, job->dst_ep, &x->dst, e);
	if (!s && (s = secret_resolve(x->src.secret_ref, cfg->secrets_path, &x->src_secret, e)))
		*failed_ep = job->src_ep;
	if (!s && (s = secret_resolve(x->dst.secret_ref, cfg->secrets_path, &x->dst_secret, e)))
		*failed_ep = job->dst_ep;
	return s;
}

static void job_eps_free(struct job_eps *x)
{
	secret_free(x->src_secret);
	secret_free(x->dst_secret);
	endpoint_free(&x->src);
	endpoint_free(&x->dst);
}

/* "initial full pass", "incremental sync", "final pass (cutover)". */
static void describe_pass(const struct job *job, char *buf, size_t n)
{
	if (job->retry_errors)
		snprintf(buf, n, "retry of the failed items");
	else if (job->phase == PHASE_INCREMENTAL)
		snprintf(buf, n, "incremental sync");
	else if (job->phase == PHASE_FINAL)
		snprintf(buf, n, "final pass (cutover)");
	else
		snprintf(buf, n, "%s%s pass", job->suspend_ready ? "initial " : "", pass_kind_name(job->o.pass));
}

/* Runs the pass of the job's phase: its own pass kind first, then delta
 * passes (incremental syncs, the final pass). */
static enum st run_phase_pass(struct store *st, const struct cfg *cfg, struct job *job,
                              volatile int *cancel, struct job_eps *x, int64_t *failed_ep,
                              bool *held, struct err *e)
{
	char what[64];
	describe_pass(job, what, sizeof what);
	/* The admin's scripts that may hold the job: before its first pass (a
	 * job held by its script, then resumed, is still at its first start;
	 * one cut off mid-pass is not), and at its cutover. */
	bool first = job->phase == PHASE_INITIAL && job_has_no_pass(st, job->id);
	if (first || job->phase == PHASE_FINAL) {
		enum st h = hold_if_script_fails(st, cfg, job, first ? SCRIPT_BEFORE_FIRST_PASS : SCRIPT_AT_CUTOVER,
		                                 cancel, e);
		if (h) {
			*held = h != ST_CANCELED;
			return h;
		}
	}
	store_event(st, EV_INFO, job->id, "%s started: %s (%s) -> %s (%s)", what, job->src_user, x->src.name,
	            job->dst_user, x->dst.name);
	if (first)
		notify_job_event(st, cfg, job->id, "start");
	enum pass_kind own = job->o.pass;
	job->o.pass = lc_pass_kind(job->phase, own);
	struct mig_ctx m = {
		.store = st, .cfg = cfg, .job = job, .src = &x->src, .dst = &x->dst,
		.src_secret = x->src_secret, .dst_secret = x->dst_secret, .cancel = cancel,
	};
	enum st s = mig_run_with_retries(&m, e);
	job->o.pass = own;
	*failed_ep = m.failed_endpoint;
	return s;
}

/* An endpoint refused the admin: every job of the endpoint would fail the
 * same way, so they are all paused with one event instead (and resumed
 * together: resume --endpoint).  A refusal of one mailbox while the admin
 * still logs in is that mailbox's own failure: false then. */
static bool endpoint_refuses_admin(const struct job_eps *x, int64_t ep_id, const struct cfg *cfg,
                                   enum st s)
{
	if (s == ST_CONFIG)
		return true;            /* a secret that cannot be read, a bad URL */
	if (s != ST_AUTH)
		return false;
	const struct endpoint *ep = ep_id == x->src.id ? &x->src : &x->dst;
	const char *secret = ep_id == x->src.id ? x->src_secret : x->dst_secret;
	struct imap *im = NULL;
	struct err ae;
	enum st a = drv_imap_login(ep, secret, ep->admin_user, "admin check", cfg->timeout_s, &im, &ae);
	if (im)
		imap_free(&im);
	return a == ST_AUTH;
}

static void pause_endpoint(struct store *st, struct job *job, const struct job_eps *x, int64_t ep_id,
                           const struct err *e)
{
	const char *name = ep_id == x->src.id ? x->src.name : x->dst.name;
	char *by = x_asprintf("endpoint %s: %s", name, st_message(e->code));
	int64_t n = 0, already = 0;
	struct err pe;
	if (store_endpoint_pause_jobs(st, ep_id, by, &n, &already, &pe))
		log_error("%s", pe.msg);
	if (store_job_finish_paused(st, job, by, &pe))
		log_error("%s", pe.msg);
	/* One error for the endpoint: from the job that met the refusal first;
	 * jobs that were running meanwhile only note their own pause. */
	if (already == 0)
		store_event(st, EV_ERROR, job->id, "%s; the jobs of endpoint %s are paused until it is fixed "
		            "(this one, %lld waiting, and any running one as it meets the refusal): then "
		            "'mailferry resume --endpoint %s'", e->msg, name, (long long)n, name);
	else
		store_event(st, EV_WARN, job->id, "paused, %s (%s)", by, e->msg);
	log_error("%s: jobs of endpoint %s paused", e->msg, name);
	free(by);
}

static void put_ready_at(void *ctx, const struct job_row *r)
{
	*(int64_t *)ctx = r->ready_at;
}

/* Whether the job was ever ready to complete before (jobs.ready_at is set
 * the first time and kept): the owner hears "ready" once per job, not after
 * every incremental sync nor after a retried pass. */
static bool was_ready_before(struct store *st, int64_t job_id)
{
	int64_t ready_at = 0;
	struct err e;
	if (store_job_row(st, job_id, put_ready_at, &ready_at, &e)) {
		log_warn("%s", e.msg);
		return true;    /* unknown: rather no message than a second one */
	}
	return ready_at > 0;
}

/* Where a job whose pass ended goes, and what that needs recorded. */
static void finish_pass(struct store *st, const struct cfg *cfg, struct job *job, enum st s,
                        const volatile int *cancel, const struct err *e)
{
	int64_t cutover = 0;
	struct err fe;
	if (job->suspend_ready && store_job_cutover_at(st, job->id, &cutover, &fe))
		log_warn("%s", fe.msg);
	enum job_state state = lc_after_pass(job->phase, job->suspend_ready, cutover > 0, s);
	if (state == JOB_FAILED)
		store_event(st, EV_ERROR, job->id, "job failed (%s): %s", st_name(s), e->msg);
	job->retry_errors = false;
	job->next_sync = 0;
	bool first_ready = state == JOB_READY && !was_ready_before(st, job->id);
	if (state == JOB_READY) {
		int hours = cfg->incremental_interval_h > 0 ? cfg->incremental_interval_h : 24;
		job->next_sync = clock_now() + (int64_t)hours * 3600;
		store_event(st, EV_INFO, job->id, "ready to complete: the %s pass is done; an incremental "
		            "sync every %d h until the cutover ('mailferry cutover %lld')",
		            job_phase_name(job->phase), hours, (long long)job->id);
	} else if (state == JOB_COMPLETING) {
		store_event(st, EV_INFO, job->id, "cutover asked for: the final pass follows");
	}
	if (store_job_finish(st, job, state, s && s != ST_PARTIAL ? e->msg : NULL, &fe))
		log_error("%s", fe.msg);
	else if (first_ready)
		notify_job_event(st, cfg, job->id, "ready");
	else if (state == JOB_FAILED || state == JOB_COMPLETED || state == JOB_PARTIAL) {
		/* A job that becomes ready or completing has not completed yet. */
		notify_job_event(st, cfg, job->id, state == JOB_FAILED ? "failed" : "complete");
		run_end_script(st, cfg, job, state, cancel);
	}
}

static enum st engine_run_job_locked(struct store *st, const struct cfg *cfg, struct job *job,
                                     volatile int *cancel, const struct stop_req *stop,
                                     struct err *e)
{
	struct job_eps x;
	int64_t failed_ep = 0;
	bool held = false;
	enum st s = job_eps_load(st, cfg, job, &x, &failed_ep, e);
	if (!s)
		s = run_phase_pass(st, cfg, job, cancel, &x, &failed_ep, &held, e);
	if (held) {
		/* store_job_hold recorded it: the job waits, paused by "script". */
	} else if (s == ST_CANCELED) {
		finish_stopped(st, job, stop);
	} else if (failed_ep && st_retry_class(s) == RETRY_ENDPOINT &&
	           endpoint_refuses_admin(&x, failed_ep, cfg, s)) {
		pause_endpoint(st, job, &x, failed_ep, e);
	} else {
		finish_pass(st, cfg, job, s, cancel, e);
	}
	job_eps_free(&x);
	return s;
}

/* Ordering of outcomes for the overall exit status: higher is worse. */
static int severity(enum st s)
{
	switch (s) {
	case ST_OK: return 0;
	case ST_PARTIAL: return 1;
	case ST_CANCELED: return 2;
	case ST_NET: case ST_TIMEOUT: case ST_UNAVAIL: case ST_PROTO: case ST_QUOTA: return 3;
	case ST_MAILBOX: case ST_ITEM: case ST_TOOBIG: return 4;
	default: return 5;
	}
}

/* --- blackouts as the engine sees them ---------------------------------------
 * Each thread that asks keeps its own bo_set (blackout.h: one set serves
 * one thread) and reloads it when the store's windows change. */
struct bo_watch {
	struct bo_set *b;
	int64_t sig;
	int64_t loaded_ms;
};

static void bo_watch_refresh(struct bo_watch *w, struct store *st)
{
	int64_t sig = 0, now = clock_mono_ms();
	struct err e;
	if (store_blackout_signature(st, &sig, &e)) {
		log_warn("%s", e.msg);
		return;
	}
	/* Mailbox sites change without a signature change: a full reload
	 * now and then picks them up. */
	if (w->b && sig == w->sig && now - w->loaded_ms < 60000)
		return;
	struct bo_set *b = NULL;
	if (bo_load(st, &b, &e)) {
		log_warn("%s", e.msg);   /* keep the windows we had */
		return;
	}
	bo_free(w->b);
	w->b = b;
	w->sig = sig;
	w->loaded_ms = now;
}

/* Whether a blackout holds the job's mailbox in this phase now; *until and
 * *name as bo_held. */
static bool bo_watch_holds(struct bo_watch *w, int64_t src_ep, const char *src_user, enum job_phase p,
                           bool suspend_ready, int64_t *until, const char **name)
{
	if (!bo_any(w->b))
		return false;
	struct bo_subject m;
	bo_subject_of(w->b, src_ep, src_user, &m);
	return bo_held(w->b, &m, lc_bo_phase(p, suspend_ready), clock_now(), until, name);
}

static bool claim_held(void *ctx, int64_t src_ep, const char *src_user, enum job_phase p, bool suspend_ready)
{
	return bo_watch_holds(ctx, src_ep, src_user, p, suspend_ready, NULL, NULL);
}

/* One per worker thread.  The main thread sets cancel (and first stop) to
 * stop the worker's current job at its next checkpoint: for a pause
 * command on that job, a blackout that begins, or to pass on the global
 * cancel. */
struct slot {
	struct pool *pool;
	volatile int cancel;        /* what migrate polls at its checkpoints */
	struct stop_req stop;       /* how the stopped job ends */
	int64_t job_id;             /* running now, 0 = none; under pool.lock */
	int64_t cmd_id;             /* the pause command to close; under pool.lock */
	/* The running job as blackouts see it; under pool.lock. */
	int64_t src_ep;
	char src_user[256];
	enum job_phase phase;
	bool suspend_ready;
};

struct pool {
	const struct engine_opts *o;
	pthread_mutex_t lock;
	enum st worst;
	struct err worst_err;
	atomic_int active;
	struct slot *slots;
	int n;
	struct bo_watch bo;         /* the main thread's */
};

static void pool_note(struct pool *p, enum st s, const struct err *e)
{
	pthread_mutex_lock(&p->lock);
	if (severity(s) > severity(p->worst)) {
		p->worst = s;
		p->worst_err = *e;
	}
	pthread_mutex_unlock(&p->lock);
}

/* Publishes (job != NULL) or retires the job a worker runs.  Retiring
 * returns the pause command to close, if one was acted on. */
static int64_t slot_set_job(struct slot *w, const struct job *job)
{
	struct pool *p = w->pool;
	pthread_mutex_lock(&p->lock);
	int64_t cmd = w->cmd_id;
	if (job) {
		/* A global cancel stays in force; anything else starts afresh. */
		w->stop.as = STOP_REQUEUE;
		w->stop.why[0] = '\0';
		w->cancel = p->o->cancel && *p->o->cancel;
		if (w->cancel && p->o->pause_on_cancel)
			w->stop.as = STOP_PAUSE_SHUTDOWN;
		w->src_ep = job->src_ep;
		snprintf(w->src_user, sizeof w->src_user, "%s", job->src_user);
		w->phase = job->phase;
		w->suspend_ready = job->suspend_ready;
	}
	w->job_id = job ? job->id : 0;
	w->cmd_id = 0;
	pthread_mutex_unlock(&p->lock);
	return cmd;
}

/* Nothing to claim now.  Whether this worker should wait and look again:
 * with follow always (until cancelled); else while a job runs and others
 * wait (for a connection slot, their mailbox's other job, or a job's
 * next phase). */
static bool worth_waiting(struct store *st, bool follow, struct err *e)
{
	if (follow)
		return true;
	int64_t counts[JOB__COUNT];
	if (store_job_counts(st, counts, e))
		return false;
	return counts[JOB_RUNNING] > 0 &&
	       counts[JOB_QUEUED] + counts[JOB_READY] + counts[JOB_COMPLETING] > 0;
}

static void *worker(void *arg)
{
	struct slot *w = arg;
	struct pool *p = w->pool;
	struct store *st = NULL;
	struct bo_watch bo = { 0 };
	struct err e;
	err_clear(&e);
	if (store_open(p->o->store_path, &st, &e)) {
		pool_note(p, e.code, &e);
		atomic_fetch_sub(&p->active, 1);
		return NULL;
	}
	while (!(p->o->cancel && *p->o->cancel)) {
		struct job job;
		bool found = false;
		bo_watch_refresh(&bo, st);
		enum st s = store_job_claim_unheld(st, claim_held, &bo, p->o->cfg->max_connections_per_host, &job,
		                                   &found, &e);
		if (s) {
			pool_note(p, s, &e);
			break;
		}
		if (!found) {
			if (!worth_waiting(st, p->o->follow, &e))
				break;
			for (int t = 0; t < (p->o->follow ? 5 : 1) && !(p->o->cancel && *p->o->cancel); t++)
				usleep(200000);
			continue;
		}
		err_clear(&e);
		slot_set_job(w, &job);
		s = run_job(st, p->o->cfg, &job, &w->cancel, &w->stop, &e);
		bool stopped_as_asked = s == ST_CANCELED && (w->stop.as == STOP_PAUSE_ADMIN ||
		                                             w->stop.as == STOP_BLACKOUT);
		int64_t cmd = slot_set_job(w, NULL);
		struct err ce;
		if (cmd && store_command_done(st, cmd, &ce))
			log_warn("%s", ce.msg);
		if (s == ST_UNAVAIL && job.state == JOB_RUNNING && strstr(e.msg, "another mailferry"))
			usleep(1000000); /* its mailbox is busy elsewhere: do not spin */
		else if (!stopped_as_asked)  /* a pause or a blackout is no failure of the run */
			pool_note(p, s, &e);
		job_free(&job);
	}
	bo_free(bo.b);
	store_close(&st);
	atomic_fetch_sub(&p->active, 1);
	return NULL;
}

/* Passes the global cancel on to each worker's job. */
static void pool_cancel(struct pool *p)
{
	pthread_mutex_lock(&p->lock);
	for (int i = 0; i < p->n; i++) {
		struct slot *w = &p->slots[i];
		if (p->o->pause_on_cancel && w->stop.as == STOP_REQUEUE)
			w->stop.as = STOP_PAUSE_SHUTDOWN;
		w->cancel = 1;
	}
	pthread_mutex_unlock(&p->lock);
}

/* A running job whose mailbox a blackout now holds stops at its next
 * checkpoint and waits, in the queue, for the window to end. */
static void pool_blackouts(struct pool *p, struct store *st)
{
	bo_watch_refresh(&p->bo, st);
	if (!bo_any(p->bo.b))
		return;
	pthread_mutex_lock(&p->lock);
	for (int i = 0; i < p->n; i++) {
		struct slot *w = &p->slots[i];
		int64_t until = 0;
		const char *name = NULL;
		if (!w->job_id || w->cancel ||
		    !bo_watch_holds(&p->bo, w->src_ep, w->src_user, w->phase, w->suspend_ready, &until, &name))
			continue;
		char when[32];
		time_t t = (time_t)until;
		struct tm tm;
		localtime_r(&t, &tm);
		strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
		snprintf(w->stop.why, sizeof w->stop.why, "blackout %s until %s", name ? name : "?", when);
		w->stop.as = STOP_BLACKOUT;   /* before cancel: read once it stops */
		w->cancel = 1;
		log_info("job %lld: %s, stopping at its next checkpoint", (long long)w->job_id, w->stop.why);
	}
	pthread_mutex_unlock(&p->lock);
}

/* Acts on pending pause commands for jobs this process runs; the store
 * settles those whose job runs nowhere.  Commands for jobs running in
 * another process are left to that process's engine. */
static void pool_commands(struct pool *p, struct store *st)
{
	struct command *c = NULL;
	size_t n = 0;
	struct err e;
	if (store_command_pending(st, "pause", &c, &n, &e)) {
		log_warn("%s", e.msg);
		return;
	}
	pthread_mutex_lock(&p->lock);
	for (size_t k = 0; k < n; k++)
		for (int i = 0; i < p->n; i++) {
			struct slot *w = &p->slots[i];
			if (w->job_id != c[k].job_id || w->cmd_id)
				continue;
			w->stop.as = STOP_PAUSE_ADMIN;   /* before cancel: read once it stops */
			w->cmd_id = c[k].id;
			w->cancel = 1;
			log_info("job %lld: pausing at its next checkpoint", (long long)c[k].job_id);
		}
	pthread_mutex_unlock(&p->lock);
	free(c);
	if (store_command_settle(st, &e))
		log_warn("%s", e.msg);
}

static void print_progress(struct store *st, int64_t since, int64_t t0_ms, bool final)
{
	int64_t counts[JOB__COUNT], items = 0, bytes = 0;
	struct err e;
	if (store_job_counts(st, counts, &e) || store_run_totals(st, since, &items, &bytes, &e))
		return;
	double secs = (double)(clock_mono_ms() - t0_ms) / 1000.0;
	if (secs < 0.001)
		secs = 0.001;
	int64_t done = counts[JOB_COMPLETED] + counts[JOB_PARTIAL] + counts[JOB_FAILED];
	fprintf(stderr, "\r%s%lld running, %lld queued, %lld ready, %lld done (%lld failed) | %lld messages, "
	        "%.1f MB | %.0f msg/s, %.1f MB/s   %s",
	        final ? "" : "", (long long)counts[JOB_RUNNING],
	        (long long)(counts[JOB_QUEUED] + counts[JOB_COMPLETING]), (long long)counts[JOB_READY],
	        (long long)done, (long long)counts[JOB_FAILED], (long long)items, (double)bytes / 1e6,
	        (double)items / secs, (double)bytes / 1e6 / secs, final ? "\n" : "");
	fflush(stderr);
}

/* --- forest health while the queue runs ------------------------------------------ */

/* How often the health thread looks for a forest falling due. */
#define HEALTH_POLL_MS 1000

struct health_runner {
	const struct engine_opts *o;
	atomic_int stop;            /* the queue is done: start no other forest */
	pthread_t thread;
	bool started;
};

static bool canceled(const struct engine_opts *o)
{
	return o->cancel && *o->cancel;
}

static void *health_main(void *arg)
{
	struct health_runner *h = arg;
	/* The first round runs to its end even when the queue empties meanwhile:
	 * a 'run' with nothing queued still does the checks that are due. */
	static const atomic_int never = 0;
	const atomic_int *stop = &never;
	while (!canceled(h->o)) {
		struct err e;
		err_clear(&e);
		if (check_due(h->o, stop, &e) > 0)
			log_info("forest health checked while the queue runs");
		stop = &h->stop;
		for (int ms = 0; ms < HEALTH_POLL_MS && !atomic_load(&h->stop) && !canceled(h->o); ms += 100)
			usleep(100000);
		if (atomic_load(&h->stop))
			break;
	}
	return NULL;
}

static void health_start(struct health_runner *h, const struct engine_opts *o)
{
	*h = (struct health_runner){ .o = o };
	if (!o->health || o->cfg->health_interval_min <= 0)
		return;
	h->started = pthread_create(&h->thread, NULL, health_main, h) == 0;
	if (!h->started)
		log_warn("could not start the health check thread: forests are checked on demand only");
}

static void health_stop(struct health_runner *h)
{
	atomic_store(&h->stop, 1);
	if (h->started)
		pthread_join(h->thread, NULL);
	h->started = false;
}

/* When this process last recorded a forecast, and how many jobs were
 * queued then (the console calls engine_run_queue every second or so). */
static _Atomic int64_t forecast_recorded_at, forecast_recorded_queued = -1;

/* Records the forecast of the queue (forecast.h) when something is queued
 * and either the number of queued jobs changed (new jobs: their forecast
 * is wanted before they start) or FORECAST_RECORD_SECS passed. */
static void record_forecast(struct store *st, const struct engine_opts *o, int workers)
{
	struct err fe;
	int64_t counts[JOB__COUNT] = { 0 }, now = clock_now();
	if (store_job_counts(st, counts, &fe)) {
		log_warn("recording the schedule forecast: %s", fe.msg);
		return;
	}
	int64_t queued = counts[JOB_QUEUED];
	if (!queued || (queued == atomic_load(&forecast_recorded_queued) &&
	                now - atomic_load(&forecast_recorded_at) < FORECAST_RECORD_SECS))
		return;
	atomic_store(&forecast_recorded_at, now);
	atomic_store(&forecast_recorded_queued, queued);
	int64_t t0 = clock_mono_ms();
	if (forecast_record_now(st, workers, o->cfg->max_connections_per_host, o->cfg->forecast_default_rate, &fe))
		log_warn("recording the schedule forecast: %s", fe.msg);
	else
		log_debug("schedule forecast recorded in %lld ms", (long long)(clock_mono_ms() - t0));
}

enum st engine_run_queue(const struct engine_opts *o, struct err *e)
{
	int run_lock = lock_file(o->store_path, "run");
	if (run_lock == -1)
		return err_set(e, ST_UNAVAIL, "another 'mailferry run' is already working on %s",
		               o->store_path);
	struct store *st = NULL;
	enum st s = store_open(o->store_path, &st, e);
	if (s) {
		if (run_lock >= 0)
			close(run_lock);
		return s;
	}
	/* Jobs a killed process left running resume from their checkpoints. */
	if ((s = store_job_requeue_orphans(st, e))) {
		store_close(&st);
		if (run_lock >= 0)
			close(run_lock);
		return s;
	}
	int n = o->workers > 0 ? o->workers : 1;
	/* Each running mailbox holds one connection per endpoint: workers beyond
	 * an endpoint's limit wait for a slot.  Say so rather than surprise. */
	int limit = 0;
	char *tight = NULL;
	struct err le;
	if (!store_queue_conn_limit(st, &limit, &tight, &le) && limit > 0 && limit < n) {
		if (o->progress)
			fprintf(stderr, "mailferry: endpoint %s allows %d connections, so at most %d of its "
			        "mailboxes run at once (see endpoint add --max-connections)\n", tight, limit, limit);
		log_info("endpoint %s limits parallel mailboxes to %d", tight, limit);
	}
	free(tight);
	/* The forecast of the queue, before any job is claimed, kept to compare
	 * with what happens (mailferry schedule --actual); again every
	 * FORECAST_RECORD_SECS for what is still queued. */
	record_forecast(st, o, n);
	struct pool p = { .o = o, .worst = ST_OK, .n = n };
	pthread_mutex_init(&p.lock, NULL);
	atomic_store(&p.active, n);
	p.slots = x_calloc((size_t)n, sizeof *p.slots);
	pthread_t *th = x_calloc((size_t)n, sizeof *th);
	int64_t since = clock_now() - 1, t0 = clock_mono_ms();
	struct health_runner health;
	health_start(&health, o);
	for (int i = 0; i < n; i++) {
		p.slots[i].pool = &p;
		if (pthread_create(&th[i], NULL, worker, &p.slots[i]) != 0) {
			atomic_fetch_sub(&p.active, 1);
			th[i] = 0;
		}
	}
	struct err ne;
	engine_send_notices(o, false, &ne);
	for (unsigned tick = 0; atomic_load(&p.active) > 0; tick++) {
		if (tick > 0 && tick % (FORECAST_RECORD_SECS * 4) == 0)
			record_forecast(st, o, n);
		usleep(250000);
		if (tick % 240 == 239)      /* a minute */
			engine_send_notices(o, false, &ne);
		if (o->cancel && *o->cancel)
			pool_cancel(&p);
		if (tick % 2 == 1) {
			pool_commands(&p, st);
			pool_blackouts(&p, st);
		}
		if (o->progress && isatty(STDERR_FILENO))
			print_progress(st, since, t0, false);
	}
	for (int i = 0; i < n; i++)
		if (th[i])
			pthread_join(th[i], NULL);
	health_stop(&health);
	if (o->progress)
		print_progress(st, since, t0, true);
	free(th);
	free(p.slots);
	bo_free(p.bo.b);
	store_close(&st);
	if (run_lock >= 0)
		close(run_lock);
	pthread_mutex_destroy(&p.lock);
	if (p.worst != ST_OK)
		*e = p.worst_err;
	return p.worst;
}

/* --- forest health, when idle ---------------------------------------------------- */

struct forest_due {
	int64_t id;
	char name[128];
	int64_t last;           /* newest alert, 0: never checked */
};

struct due_list {
	struct forest_due v[64];
	int n;
};

static void note_forest(void *ctx, const struct forest *f)
{
	struct due_list *d = ctx;
	if (d->n < (int)countof(d->v)) {
		d->v[d->n].id = f->id;
		snprintf(d->v[d->n].name, sizeof d->v[d->n].name, "%s", f->name);
		d->v[d->n++].last = 0;
	}
}

static void note_alert(void *ctx, int64_t forest_id, const char *endpoint, const char *check, int level,
                       const char *detail, const char *fix, int64_t ts)
{
	(void)endpoint, (void)check, (void)level, (void)detail, (void)fix;
	struct due_list *d = ctx;
	for (int i = 0; i < d->n; i++)
		if (d->v[i].id == forest_id && ts > d->v[i].last)
			d->v[i].last = ts;
}

int engine_check_forests(const struct engine_opts *o, struct err *e)
{
	static const atomic_int never = 0;
	return check_due(o, &never, e);
}

/* The due forests, one after the other, until *stop or the cancel is set. */
static int check_due(const struct engine_opts *o, const atomic_int *stop, struct err *e)
{
	if (o->cfg->health_interval_min <= 0)
		return 0;
	struct store *st;
	if (store_open(o->store_path, &st, e))
		return 0;
	struct due_list *d = x_calloc(1, sizeof *d);
	int checked = 0;
	if (!store_forest_each(st, note_forest, d, e) && !store_alert_each(st, 0, note_alert, d, e)) {
		int64_t due_before = clock_now() - (int64_t)o->cfg->health_interval_min * 60;
		for (int i = 0; i < d->n && !canceled(o) && !atomic_load(stop); i++) {
			if (d->v[i].last > due_before)
				continue;
			struct err he;
			if (health_check_and_keep(st, o->cfg, d->v[i].name, NULL, NULL, NULL, &he))
				log_warn("health check of forest %s: %s", d->v[i].name, he.msg);
			else
				checked++;
		}
	}
	free(d);
	store_close(&st);
	return checked;
}

/* --- scheduled notifications ------------------------------------------------------ */

int engine_send_notices(const struct engine_opts *o, bool force, struct err *e)
{
	/* The console's engine calls engine_run_queue every second when idle. */
	static _Atomic int64_t next_ms;
	int64_t now = clock_mono_ms(), due = atomic_load(&next_ms);
	err_clear(e);
	if (!force && now < due)
		return 0;
	if (!atomic_compare_exchange_strong(&next_ms, &due, now + 60000) && !force)
		return 0;       /* another thread of this process took this round */
	const struct cfg *c = o->cfg;
	if (!c->smtp_url || !c->smtp_url[0])
		return 0;
	struct store *st;
	if (store_open(o->store_path, &st, e))
		return 0;
	int sent = notice_send_before(st, c, e);
	if (e->msg[0])
		log_warn("notices before a migration: %s", e->msg);
	bool summary = false;
	struct err se;
	if (notice_send_summary_if_due(st, c, &summary, &se))
		log_warn("daily summary: %s", se.msg);
	store_close(&st);
	return sent + (summary ? 1 : 0);
}
