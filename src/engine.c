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
#include <unistd.h>

#include "forecast.h"
#include "health.h"
#include "log.h"
#include "migrate.h"
#include "notify.h"
#include "secret.h"

/* How a job stopped at a checkpoint ends: back in the queue, or paused. */
enum stop_as { STOP_REQUEUE, STOP_PAUSE_ADMIN, STOP_PAUSE_SHUTDOWN };

static enum st run_job(struct store *st, const struct cfg *cfg, struct job *job,
                       volatile int *cancel, const volatile int *stop_as, struct err *e);
static enum st engine_run_job_locked(struct store *st, const struct cfg *cfg, struct job *job,
                                     volatile int *cancel, const volatile int *stop_as,
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

/* stop_as (NULL: requeue) is read when the job has stopped at a checkpoint,
 * so whoever set *cancel can say how it should end. */
static enum st run_job(struct store *st, const struct cfg *cfg, struct job *job,
                       volatile int *cancel, const volatile int *stop_as, struct err *e)
{
	char lock_name[48];
	snprintf(lock_name, sizeof lock_name, "pair-%lld", (long long)job->pair_id);
	int lock = lock_file(store_path(st), lock_name);
	if (lock == -1) {
		err_set(e, ST_UNAVAIL, "mailbox %s is being migrated by another mailferry process; "
		        "job %lld stays queued", job->src_user, (long long)job->id);
		struct err fe;
		store_job_finish(st, job, JOB_QUEUED, e->msg, &fe);
		return ST_UNAVAIL;
	}
	char *why = x_asprintf("interrupted (the process ended); resumed by job %lld", (long long)job->id);
	struct err ie;
	if (store_job_close_interrupted(st, job->pair_id, job->id, why, &ie))
		log_warn("%s", ie.msg);
	free(why);
	enum st r = engine_run_job_locked(st, cfg, job, cancel, stop_as, e);
	if (lock >= 0)
		close(lock);
	return r;
}

/* Records the end of a job stopped at a checkpoint. */
static void finish_stopped(struct store *st, struct job *job, enum stop_as how)
{
	struct err fe;
	enum st r;
	if (how == STOP_REQUEUE) {
		r = store_job_finish(st, job, JOB_QUEUED, NULL, &fe);
	} else {
		r = store_job_finish_paused(st, job, how == STOP_PAUSE_ADMIN ? "admin" : "shutdown", &fe);
		store_event(st, EV_INFO, job->id, how == STOP_PAUSE_ADMIN ? "paused by admin" :
		            "paused: the engine was stopped");
	}
	if (r)
		log_error("%s", fe.msg);
}

static enum st engine_run_job_locked(struct store *st, const struct cfg *cfg, struct job *job,
                                     volatile int *cancel, const volatile int *stop_as,
                                     struct err *e)
{
	struct endpoint src = { 0 }, dst = { 0 };
	char *src_secret = NULL, *dst_secret = NULL;
	enum st s = store_endpoint_get_id(st, job->src_ep, &src, e);
	if (!s)
		s = store_endpoint_get_id(st, job->dst_ep, &dst, e);
	if (!s)
		s = secret_resolve(src.secret_ref, cfg->secrets_path, &src_secret, e);
	if (!s)
		s = secret_resolve(dst.secret_ref, cfg->secrets_path, &dst_secret, e);
	if (!s) {
		store_event(st, EV_INFO, job->id, "%s pass started: %s (%s) -> %s (%s)",
		            pass_kind_name(job->o.pass), job->src_user, src.name, job->dst_user, dst.name);
		if (job->attempts <= 1 && job->items_done == 0)    /* the first start, not a resume */
			notify_job_event(st, cfg, job->id, "start");
		struct mig_ctx m = {
			.store = st, .cfg = cfg, .job = job, .src = &src, .dst = &dst,
			.src_secret = src_secret, .dst_secret = dst_secret, .cancel = cancel,
		};
		s = mig_run_with_retries(&m, e);
	}
	enum job_state state;
	if (s == ST_OK)
		state = JOB_COMPLETED;
	else if (s == ST_PARTIAL)
		state = JOB_PARTIAL;
	else if (s == ST_CANCELED)
		state = JOB_QUEUED;   /* stopped at a checkpoint: resumes next run, or paused */
	else
		state = JOB_FAILED;
	if (s && s != ST_PARTIAL && s != ST_CANCELED)
		store_event(st, EV_ERROR, job->id, "job failed (%s): %s", st_name(s), e->msg);
	struct err fe;
	if (s == ST_CANCELED)
		finish_stopped(st, job, stop_as ? (enum stop_as)*stop_as : STOP_REQUEUE);
	else if (store_job_finish(st, job, state, s ? e->msg : NULL, &fe))
		log_error("%s", fe.msg);
	else
		notify_job_event(st, cfg, job->id, state == JOB_FAILED ? "failed" : "complete");
	secret_free(src_secret);
	secret_free(dst_secret);
	endpoint_free(&src);
	endpoint_free(&dst);
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

/* One per worker thread.  The main thread sets cancel (and first stop_as)
 * to stop the worker's current job at its next checkpoint: for a pause
 * command on that job, or to pass on the global cancel. */
struct slot {
	struct pool *pool;
	volatile int cancel;        /* what migrate polls at its checkpoints */
	volatile int stop_as;       /* enum stop_as */
	int64_t job_id;             /* running now, 0 = none; under pool.lock */
	int64_t cmd_id;             /* the pause command to close; under pool.lock */
};

struct pool {
	const struct engine_opts *o;
	pthread_mutex_t lock;
	enum st worst;
	struct err worst_err;
	atomic_int active;
	struct slot *slots;
	int n;
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

/* Publishes (job_id != 0) or retires the job a worker runs.  Retiring
 * returns the pause command to close, if one was acted on. */
static int64_t slot_set_job(struct slot *w, int64_t job_id)
{
	struct pool *p = w->pool;
	pthread_mutex_lock(&p->lock);
	int64_t cmd = w->cmd_id;
	if (job_id) {
		/* A global cancel stays in force; anything else starts afresh. */
		w->stop_as = STOP_REQUEUE;
		w->cancel = p->o->cancel && *p->o->cancel;
		if (w->cancel && p->o->pause_on_cancel)
			w->stop_as = STOP_PAUSE_SHUTDOWN;
	}
	w->job_id = job_id;
	w->cmd_id = 0;
	pthread_mutex_unlock(&p->lock);
	return cmd;
}

static void *worker(void *arg)
{
	struct slot *w = arg;
	struct pool *p = w->pool;
	struct store *st = NULL;
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
		enum st s = store_job_claim(st, &job, &found, &e);
		if (s) {
			pool_note(p, s, &e);
			break;
		}
		if (!found) {
			/* Queued jobs may be waiting for a connection slot or for
			 * their mailbox's other job: wait while anything runs. */
			int64_t counts[7];
			if (store_job_counts(st, counts, &e) || counts[JOB_QUEUED] == 0 ||
			    counts[JOB_RUNNING] == 0)
				break;
			usleep(200000);
			continue;
		}
		err_clear(&e);
		slot_set_job(w, job.id);
		s = run_job(st, p->o->cfg, &job, &w->cancel, &w->stop_as, &e);
		bool paused_by_admin = s == ST_CANCELED && w->stop_as == STOP_PAUSE_ADMIN;
		int64_t cmd = slot_set_job(w, 0);
		struct err ce;
		if (cmd && store_command_done(st, cmd, &ce))
			log_warn("%s", ce.msg);
		if (s == ST_UNAVAIL && job.state == JOB_RUNNING && strstr(e.msg, "another mailferry"))
			usleep(1000000); /* its mailbox is busy elsewhere: do not spin */
		else if (!paused_by_admin)  /* a pause asked for is no failure of the run */
			pool_note(p, s, &e);
		job_free(&job);
	}
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
		if (p->o->pause_on_cancel && w->stop_as == STOP_REQUEUE)
			w->stop_as = STOP_PAUSE_SHUTDOWN;
		w->cancel = 1;
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
			w->stop_as = STOP_PAUSE_ADMIN;   /* before cancel: read once it stops */
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
	int64_t counts[7], items = 0, bytes = 0;
	struct err e;
	if (store_job_counts(st, counts, &e) || store_run_totals(st, since, &items, &bytes, &e))
		return;
	double secs = (double)(clock_mono_ms() - t0_ms) / 1000.0;
	if (secs < 0.001)
		secs = 0.001;
	int64_t done = counts[JOB_COMPLETED] + counts[JOB_PARTIAL] + counts[JOB_FAILED];
	fprintf(stderr, "\r%s%lld running, %lld queued, %lld done (%lld failed) | %lld messages, "
	        "%.1f MB | %.0f msg/s, %.1f MB/s   %s",
	        final ? "" : "", (long long)counts[JOB_RUNNING], (long long)counts[JOB_QUEUED],
	        (long long)done, (long long)counts[JOB_FAILED], (long long)items, (double)bytes / 1e6,
	        (double)items / secs, (double)bytes / 1e6 / secs, final ? "\n" : "");
	fflush(stderr);
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
	int64_t counts[16] = { 0 }, now = clock_now();
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
	if (forecast_record_now(st, workers, o->cfg->forecast_default_rate, &fe))
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
	for (int i = 0; i < n; i++) {
		p.slots[i].pool = &p;
		if (pthread_create(&th[i], NULL, worker, &p.slots[i]) != 0) {
			atomic_fetch_sub(&p.active, 1);
			th[i] = 0;
		}
	}
	for (unsigned tick = 0; atomic_load(&p.active) > 0; tick++) {
		if (tick > 0 && tick % (FORECAST_RECORD_SECS * 4) == 0)
			record_forecast(st, o, n);
		usleep(250000);
		if (o->cancel && *o->cancel)
			pool_cancel(&p);
		if (tick % 2 == 1)
			pool_commands(&p, st);
		if (o->progress && isatty(STDERR_FILENO))
			print_progress(st, since, t0, false);
	}
	for (int i = 0; i < n; i++)
		if (th[i])
			pthread_join(th[i], NULL);
	if (o->progress)
		print_progress(st, since, t0, true);
	free(th);
	free(p.slots);
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
	if (o->cfg->health_interval_min <= 0)
		return 0;
	struct store *st;
	if (store_open(o->store_path, &st, e))
		return 0;
	struct due_list *d = x_calloc(1, sizeof *d);
	int checked = 0;
	if (!store_forest_each(st, note_forest, d, e) && !store_alert_each(st, 0, note_alert, d, e)) {
		int64_t due_before = clock_now() - (int64_t)o->cfg->health_interval_min * 60;
		for (int i = 0; i < d->n && !(o->cancel && *o->cancel); i++) {
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
