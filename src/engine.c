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

#include "log.h"
#include "migrate.h"
#include "secret.h"

static enum st engine_run_job_locked(struct store *st, const struct cfg *cfg, struct job *job,
                                     volatile int *cancel, struct err *e);

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
	enum st r = engine_run_job_locked(st, cfg, job, cancel, e);
	if (lock >= 0)
		close(lock);
	return r;
}

static enum st engine_run_job_locked(struct store *st, const struct cfg *cfg, struct job *job,
                                     volatile int *cancel, struct err *e)
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
		state = JOB_QUEUED;   /* stopped at a checkpoint: resumes next run */
	else
		state = JOB_FAILED;
	if (s && s != ST_PARTIAL && s != ST_CANCELED)
		store_event(st, EV_ERROR, job->id, "job failed (%s): %s", st_name(s), e->msg);
	struct err fe;
	if (store_job_finish(st, job, state, s && s != ST_CANCELED ? e->msg : NULL, &fe))
		log_error("%s", fe.msg);
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

struct pool {
	const struct engine_opts *o;
	pthread_mutex_t lock;
	enum st worst;
	struct err worst_err;
	atomic_int active;
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

static void *worker(void *arg)
{
	struct pool *p = arg;
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
		s = engine_run_job(st, p->o->cfg, &job, p->o->cancel, &e);
		if (s == ST_UNAVAIL && job.state == JOB_RUNNING && strstr(e.msg, "another mailferry"))
			usleep(1000000); /* its mailbox is busy elsewhere: do not spin */
		else
			pool_note(p, s, &e);
		job_free(&job);
	}
	store_close(&st);
	atomic_fetch_sub(&p->active, 1);
	return NULL;
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
	struct pool p = { .o = o, .worst = ST_OK };
	pthread_mutex_init(&p.lock, NULL);
	atomic_store(&p.active, n);
	pthread_t *th = x_calloc((size_t)n, sizeof *th);
	int64_t since = clock_now() - 1, t0 = clock_mono_ms();
	for (int i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, worker, &p) != 0) {
			atomic_fetch_sub(&p.active, 1);
			th[i] = 0;
		}
	while (atomic_load(&p.active) > 0) {
		usleep(250000);
		if (o->progress && isatty(STDERR_FILENO))
			print_progress(st, since, t0, false);
	}
	for (int i = 0; i < n; i++)
		if (th[i])
			pthread_join(th[i], NULL);
	if (o->progress)
		print_progress(st, since, t0, true);
	free(th);
	store_close(&st);
	if (run_lock >= 0)
		close(run_lock);
	pthread_mutex_destroy(&p.lock);
	if (p.worst != ST_OK)
		*e = p.worst_err;
	return p.worst;
}
