/* cmd_sched.c - cutover, retry, resume --endpoint and the waiting summary;
 * see cmd_sched.h. */
#include "config.h"

#include "cmd_sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blackout.h"
#include "cmd_common.h"
#include "lifecycle.h"
#include "tz.h"

static bool parse_job_id(const char *s, int64_t *id)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || v < 1)
		return false;
	*id = v;
	return true;
}

/* Local wall time as the console shows it. */
static const char *when_text(int64_t t, char buf[32])
{
	char why[160];
	struct tzone *z = tz_open(NULL, why, sizeof why);
	if (!z)
		return "?";
	tz_format(z, t, buf, 32, NULL, 0);
	tz_close(z);
	return buf;
}

/* --- cutover ----------------------------------------------------------------- */

struct id_list {
	int64_t *v;
	size_t n, cap;
};

static void collect_ready(void *ctx, const struct job *j, const char *src_ep, const char *dst_ep)
{
	(void)src_ep, (void)dst_ep;
	struct id_list *l = ctx;
	if (j->state != JOB_READY)
		return;
	l->v = x_grow(l->v, l->n, &l->cap, sizeof *l->v, 16);
	l->v[l->n++] = j->id;
}

static int cutover_one(struct store *st, int64_t id, int64_t at)
{
	struct err e;
	enum job_state now;
	if (store_job_cutover(st, id, at, &now, &e))
		return cmd_fail(&e);
	char when[32];
	int64_t t = at > 0 ? at : clock_now();
	if (now == JOB_COMPLETING)
		printf("job %lld: completing; its final pass runs %s%s\n", (long long)id,
		       at > 0 ? "from " : "now", at > 0 ? when_text(t, when) : "");
	else
		printf("job %lld: %s; it completes after its current pass (from %s) instead of waiting "
		       "ready\n", (long long)id, job_state_label(now), when_text(t, when));
	return 0;
}

int cmd_cutover(struct store *st, int argc, char **argv)
{
	bool all = false;
	int64_t at = 0;
	struct id_list ids = { 0 };
	int rc = 0;
	for (int i = 1; i < argc && !rc; i++) {
		int64_t id;
		if (!strcmp(argv[i], "--all")) {
			all = true;
		} else if (!strcmp(argv[i], "--at") && i + 1 < argc) {
			char why[160];
			struct tzone *z = tz_open(NULL, why, sizeof why);
			bool ok = z && tz_parse(z, argv[++i], &at, why, sizeof why);
			tz_close(z);
			if (!ok) {
				fprintf(stderr, "mailferry: bad --at '%s': %s (give 'YYYY-MM-DD HH:MM', local time)\n",
				        argv[i], why);
				rc = st_exit_code(ST_USAGE);
			}
		} else if (parse_job_id(argv[i], &id)) {
			ids.v = x_grow(ids.v, ids.n, &ids.cap, sizeof *ids.v, 16);
			ids.v[ids.n++] = id;
		} else {
			rc = cmd_usage("cutover needs JOB... or --all, and optionally --at 'YYYY-MM-DD HH:MM'");
		}
	}
	if (!rc && all == (ids.n > 0))
		rc = cmd_usage("cutover needs JOB... or --all (not both)");
	struct err e;
	if (!rc && all && store_job_each(st, false, collect_ready, &ids, &e))
		rc = cmd_fail(&e);
	if (!rc && all && ids.n == 0)
		printf("no job is ready to complete\n");
	for (size_t i = 0; !rc && i < ids.n; i++) {
		int r = cutover_one(st, ids.v[i], at);
		if (r)
			rc = r;   /* go on with the others, report the failure */
	}
	free(ids.v);
	return rc;
}

/* --- retry --------------------------------------------------------------------- */

int cmd_retry(struct store *st, int argc, char **argv)
{
	bool full = false;
	int n = 0, rc = 0;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--full"))
			full = true;
	for (int i = 1; i < argc; i++) {
		int64_t id;
		if (!strcmp(argv[i], "--full"))
			continue;
		if (!parse_job_id(argv[i], &id))
			return cmd_usage("retry needs JOB... [--full]");
		n++;
		struct err e;
		bool only = false;
		if (store_job_retry_pass(st, id, full, &only, &e)) {
			rc = cmd_fail(&e);
			continue;
		}
		printf("job %lld: retry queued: %s\n", (long long)id,
		       only ? "only its failed items are copied again" : "its pass resumes where it stopped");
	}
	if (n == 0)
		return cmd_usage("retry needs JOB... [--full]");
	return rc;
}

/* --- resume --endpoint --------------------------------------------------------------- */

int cmd_resume_endpoint(struct store *st, const char *endpoint)
{
	struct endpoint ep;
	struct err e;
	int64_t n = 0;
	if (store_endpoint_get(st, endpoint, &ep, &e))
		return cmd_fail(&e);
	enum st s = store_endpoint_resume_jobs(st, ep.id, &n, &e);
	endpoint_free(&ep);
	if (s)
		return cmd_fail(&e);
	store_event(st, EV_INFO, 0, "%lld job(s) of endpoint %s resumed by admin", (long long)n, endpoint);
	printf("%lld job(s) of endpoint %s resumed\n", (long long)n, endpoint);
	return 0;
}

/* --- what a run leaves waiting ----------------------------------------------------- */

struct waiting {
	struct bo_set *bo;
	int64_t now;
	int64_t later, later_first;         /* queued, start_after in the future */
	int64_t held, held_until;           /* held by a blackout */
	const char *held_name;              /* owned by bo */
	int64_t ready, ready_next;          /* ready to complete; their next incremental sync */
	int64_t cutover, cutover_first;     /* completing, cutover_at in the future */
};

static void min_time(int64_t *slot, int64_t t)
{
	if (t > 0 && (*slot == 0 || t < *slot))
		*slot = t;
}

static void note_waiting(void *ctx, const struct job *j, const char *src_ep, const char *dst_ep)
{
	(void)src_ep, (void)dst_ep;
	struct waiting *w = ctx;
	if (j->state != JOB_QUEUED && j->state != JOB_READY && j->state != JOB_COMPLETING)
		return;
	enum job_phase p = lc_phase_for_claim(j->state);
	struct bo_subject m;
	int64_t until = 0;
	const char *name = NULL;
	bo_subject_of(w->bo, j->src_ep, j->src_user, &m);
	if (bo_any(w->bo) && bo_held(w->bo, &m, lc_bo_phase(p, j->suspend_ready), w->now, &until, &name)) {
		w->held++;
		if (!w->held_until || until < w->held_until) {
			w->held_until = until;
			w->held_name = name;
		}
	} else if (j->state == JOB_QUEUED && j->start_after > w->now) {
		w->later++;
		min_time(&w->later_first, j->start_after);
	} else if (j->state == JOB_READY) {
		w->ready++;
		min_time(&w->ready_next, j->next_sync);
	} else if (j->state == JOB_COMPLETING && j->cutover_at > w->now) {
		w->cutover++;
		min_time(&w->cutover_first, j->cutover_at);
	}
}

void sched_print_waiting(struct store *st)
{
	struct waiting w = { .now = clock_now() };
	struct err e;
	if (bo_load(st, &w.bo, &e) || store_job_each(st, false, note_waiting, &w, &e)) {
		fprintf(stderr, "mailferry: %s\n", e.msg);
		bo_free(w.bo);
		return;
	}
	char t[32];
	if (w.later)
		fprintf(stderr, "mailferry: %lld job(s) wait for their start time (the first at %s)\n",
		        (long long)w.later, when_text(w.later_first, t));
	if (w.held)
		fprintf(stderr, "mailferry: %lld job(s) held by blackout times (blackout %s until %s)\n",
		        (long long)w.held, w.held_name ? w.held_name : "?", when_text(w.held_until, t));
	if (w.cutover)
		fprintf(stderr, "mailferry: %lld job(s) wait for their cutover time (the first at %s)\n",
		        (long long)w.cutover, when_text(w.cutover_first, t));
	if (w.ready)
		fprintf(stderr, "mailferry: %lld job(s) ready to complete: 'mailferry cutover JOB' completes "
		        "them (next incremental sync %s)\n", (long long)w.ready, when_text(w.ready_next, t));
	if (w.later || w.held || w.cutover || w.ready)
		fprintf(stderr, "mailferry: 'mailferry run' again then, or 'mailferry run --follow', runs "
		        "them when their time comes\n");
	bo_free(w.bo);
}
