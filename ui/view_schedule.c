/* view_schedule.c - Schedule (read-only): when each queued or running job
 * is expected to start and end, in queue order, from the forecast of
 * src/forecast.h (workers, connection limits, start-after times, blackout
 * windows by phase, measured throughput per target endpoint).  The title
 * line gives the basis: workers and the rates used, measured or default
 * (forecast_default_rate).  The NOTE column says why a job starts when it
 * does: running, size estimated, held or stopped by a blackout window,
 * waiting for its set time, ready to complete (suspend-when-ready).
 *
 * The rows come from Mailbox Jobs' rows (kept up to date by revision) and
 * are re-read when the store's revision moves; endpoints and windows are
 * read with them; the forecast is redone every 30 s (estimates follow the
 * clock), with the rates measured again.
 * Keys: the table moves, search and sort only. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forecast.h"
#include "lifecycle.h"
#include "log.h"
#include "ui.h"

struct sj {
	int64_t id;
	int64_t pos;            /* place in the sequence, 1-based */
	char *label;            /* "alice (src>dst)"; owned */
	char *src_ep, *login, *dst_ep;   /* point into label's allocation */
	bool running, suspend_ready;
	bool size_known;
	int64_t size, done;     /* bytes: the mailbox, already copied */
	int64_t start_after, started;  /* a ready job: its next sync; completing: its cutover */
	enum job_phase phase;   /* the pass forecast (lifecycle.h) */
	int64_t mailbox_size;   /* as read (size becomes the pass's estimate); -1 unknown */
	int64_t cutover_at;
	bool size_estimated;
	int64_t est_start, est_end, est_ready;
	const char *blackout;   /* the window that held or stopped it (owned by the view's bo_set) */
	int64_t blackout_until;
	int stops;
};

#define S(r) ((const struct sj *)(r))

static int64_t sj_id(const void *r) { return S(r)->id; }
static void sj_free(void *r) { free(((struct sj *)r)->label); }

static void short_time(int64_t t, char *b, size_t n)
{
	if (t == FORECAST_NEVER) {
		snprintf(b, n, "never");
		return;
	}
	txt_stamp(t, TXT_LOCAL_SHORT, b, n);
}

static void col_pos(const void *r, char *b, size_t n) { snprintf(b, n, "%lld", (long long)S(r)->pos); }
static void col_id(const void *r, char *b, size_t n) { snprintf(b, n, "%lld", (long long)S(r)->id); }
static void col_mailbox(const void *r, char *b, size_t n) { snprintf(b, n, "%s", S(r)->label); }
static void col_size(const void *r, char *b, size_t n)
{
	txt_bytes(S(r)->size, b, n);
	if (S(r)->size_estimated && n > 2 && strlen(b) + 2 < n)
		strcat(b, "?");
}
static void col_start(const void *r, char *b, size_t n) { short_time(S(r)->est_start, b, n); }
static void col_end(const void *r, char *b, size_t n) { short_time(S(r)->est_end, b, n); }
static void col_dur(const void *r, char *b, size_t n)
{
	if (S(r)->est_end == FORECAST_NEVER)
		snprintf(b, n, "-");
	else
		fmt_duration(S(r)->est_end - S(r)->est_start, b, n);
}

static void col_note(const void *r, char *b, size_t n)
{
	const struct sj *x = r;
	const struct forecast_note_facts f = {
		.running = x->running, .suspend_ready = x->suspend_ready, .size_estimated = x->size_estimated,
		.phase = x->phase, .blackout = x->blackout, .stops = x->stops, .blackout_until = x->blackout_until,
		.start_after = x->start_after, .est_start = x->est_start, .est_end = x->est_end,
		.est_ready = x->est_ready, .cutover_at = x->cutover_at,
	};
	forecast_note(&f, short_time, b, n);
}

#define CMP(name, expr) \
	static int name(const void *a, const void *b) \
	{ \
		int64_t p = S(a)->expr, q = S(b)->expr; \
		return p < q ? -1 : p > q; \
	}
CMP(cmp_pos, pos)
CMP(cmp_id, id)
CMP(cmp_size, size)
CMP(cmp_start, est_start)
CMP(cmp_end, est_end)
#undef CMP

static int cmp_dur(const void *a, const void *b)
{
	int64_t p = S(a)->est_end - S(a)->est_start, q = S(b)->est_end - S(b)->est_start;
	return p < q ? -1 : p > q;
}

static const struct tbl_col cols[] = {
	{ "#", "position", 6, true, col_pos, cmp_pos, false },
	{ "JOB", "job", 6, true, col_id, cmp_id, false },
	{ "MAILBOX", "mailbox", 16, false, col_mailbox, NULL, false },
	{ "SIZE", "size", 9, true, col_size, cmp_size, false },
	{ "EST. START", "start", 11, false, col_start, cmp_start, false },
	{ "EST. END", "end", 11, false, col_end, cmp_end, false },
	{ "DURATION", "duration", 8, true, col_dur, cmp_dur, false },
	{ "NOTE", "note", 0, false, col_note, NULL, false },
};

static bool sj_match(const void *r, const char *needle)
{
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)S(r)->id);
	return strcmp(id, needle) == 0 || tbl_contains(S(r)->label, needle);
}

static const struct tbl_ops ops = { cols, (int)countof(cols), sizeof(struct sj), sj_id, sj_free, sj_match, 0 };

struct sched {
	struct forecast_env env;
	int64_t rev, loaded_at;
};

static int workers_of(const struct ui *u)
{
	if (u->o->workers > 0)
		return u->o->workers;
	return u->o->cfg && u->o->cfg->workers > 0 ? u->o->cfg->workers : 1;
}

static int64_t ep_id(const struct sched *s, const char *name)
{
	const struct forecast_endpoint *ep = forecast_env_endpoint(&s->env, name);
	return ep ? ep->id : 0;
}

/* The forecast of the rows held (in queue order by pos), written back into
 * them.  Cheap: runs alone when only the clock moved. */
static void sched_compute(struct ui *u, struct view *v)
{
	struct sched *s = v->priv;
	struct err e;
	int64_t now = clock_now();
	if (forecast_env_measure(u->st, now, &s->env, &e))
		ui_error(u, "%s", e.msg);
	size_t n = v->tbl.n;
	struct sj **by_pos = x_calloc(n ? n : 1, sizeof *by_pos);
	for (size_t i = 0; i < n; i++) {
		struct sj *r = (struct sj *)(v->tbl.rows + i * sizeof(struct sj));
		if (r->pos >= 1 && (size_t)r->pos <= n)
			by_pos[r->pos - 1] = r;
	}
	struct forecast_job *q = x_calloc(n ? n : 1, sizeof *q);
	for (size_t k = 0; k < n; k++) {
		const struct sj *r = by_pos[k];
		q[k] = (struct forecast_job){
			.id = r->id, .src_ep = ep_id(s, r->src_ep), .dst_ep = ep_id(s, r->dst_ep), .login = r->login,
			.running = r->running, .suspend_ready = r->suspend_ready, .size = r->size_known ? r->size : -1,
			.done = r->done, .start_after = r->start_after, .started = r->started,
			.phase = r->phase, .cutover_at = r->cutover_at, .mailbox_size = r->mailbox_size,
		};
		if (r->phase != PHASE_INITIAL)
			q[k].size = -1;     /* a delta: from the earlier syncs, below */
	}
	if (forecast_measure_deltas(u->st, q, n, &e))
		ui_error(u, "%s", e.msg);
	int mb_h = u->o->cfg ? u->o->cfg->forecast_default_rate : 0;
	struct forecast_params p = { .workers = workers_of(u), .default_rate = forecast_rate_of_mb_h(mb_h), .now = now,
	                             .bo = bo_any(s->env.bo) ? s->env.bo : NULL, .eps = s->env.eps,
	                             .neps = s->env.neps };
	int64_t t0 = clock_mono_ms();
	if (forecast_run(&p, q, n, &e) != ST_OK)
		ui_error(u, "%s", e.msg);
	log_debug("schedule: %zu jobs forecast in %lld ms", n, (long long)(clock_mono_ms() - t0));
	for (size_t k = 0; k < n; k++) {
		struct sj *r = by_pos[k];
		r->size = q[k].est_size;
		r->size_estimated = q[k].size_estimated;
		r->est_start = q[k].est_start;
		r->est_end = q[k].est_end;
		r->est_ready = q[k].est_ready;
		r->blackout = q[k].blackout;
		r->blackout_until = q[k].blackout_until;
		r->stops = q[k].stops;
	}
	char *basis = forecast_basis_text(&p, q, n);
	snprintf(v->title, sizeof v->title, "Estimate for %zu jobs; basis: %s", n, basis);
	free(basis);
	free(q);
	free(by_pos);
	v->tbl.changed = true;
	s->loaded_at = clock_mono_ms();
}

/* --- loading ---------------------------------------------------------------- */

struct load_ctx {
	struct view *v;
	int64_t pos;
};

static char *put_str(char *w, const char *s)
{
	size_t k = strlen(s);
	memcpy(w, s, k);
	return w + k;
}

/* "login (src>dst)" or "login>target (src>dst)", then the source endpoint,
 * the login and the target endpoint, each after a NUL: one allocation, put
 * together by hand as a big queue has 100 000 of them. */
static char *make_label(const char *su, const char *du, const char *se, const char *de)
{
	bool same = strcmp(su, du) == 0;
	size_t len = strlen(su) * 2 + (same ? 0 : 1 + strlen(du)) + strlen(se) * 2 + strlen(de) * 2 + 8;
	char *label = x_malloc(len), *w = label;
	w = put_str(w, su);
	if (!same) {
		*w++ = '>';
		w = put_str(w, du);
	}
	w = put_str(w, " (");
	w = put_str(w, se);
	*w++ = '>';
	w = put_str(w, de);
	*w++ = ')';
	*w++ = '\0';
	w = put_str(w, se);
	*w++ = '\0';
	w = put_str(w, su);
	*w++ = '\0';
	w = put_str(w, de);
	*w = '\0';
	return label;
}

static void put_job(void *ctx, const struct job_brief *r)
{
	struct load_ctx *c = ctx;
	struct sj *j = tbl_upsert(&c->v->tbl, r->id);
	const char *se = r->src_ep, *su = r->src_user, *de = r->dst_ep, *du = r->dst_user;
	char *label = make_label(su, du, se, de);
	*j = (struct sj){
		.id = r->id, .pos = ++c->pos, .label = label, .running = r->state == JOB_RUNNING,
		.size_known = r->src_size >= 0, .size = r->src_size, .done = r->bytes_done,
		.start_after = r->start_after, .started = r->started, .suspend_ready = r->suspend_ready,
		.mailbox_size = r->src_size, .phase = r->state == JOB_RUNNING ? r->phase : lc_phase_for_claim(r->state), .cutover_at = r->cutover_at,
	};
	/* When the pass is due (the engine's claim): a ready job's next sync
	 * (none set: none due), a completing job's cutover. */
	if (r->state == JOB_READY)
		j->start_after = r->next_sync > 0 ? r->next_sync : FORECAST_NEVER;
	else if (r->state == JOB_COMPLETING)
		j->start_after = r->cutover_at;
	if (j->phase != PHASE_INITIAL && j->running)
		j->done = 0;        /* bytes_done counts the job's life, not this pass */
	j->src_ep = label + strlen(label) + 1;
	j->login = j->src_ep + strlen(j->src_ep) + 1;
	j->dst_ep = j->login + strlen(j->login) + 1;
}

/* Reads the jobs, the endpoints and the blackout windows (with, when a
 * window names a site or a mailbox, where each mailbox is), then computes. */
static void sched_load(struct ui *u, struct view *v)
{
	struct sched *s = v->priv;
	struct err e;
	tbl_clear(&v->tbl);     /* before the windows its rows name go */
	forecast_env_free(&s->env);
	struct load_ctx lc = { v, 0 };
	if (store_rev(u->st, &s->rev, &e) || forecast_env_load(u->st, clock_now(), &s->env, &e)) {
		ui_error(u, "%s", e.msg);
		return;
	}
	/* The jobs come from Mailbox Jobs' rows, which are kept up to date by
	 * revision: no full read of the queue here. */
	jobs_each(u, true, put_job, &lc);
	sched_compute(u, v);
}

static void sched_open(struct ui *u, struct view *v)
{
	if (!v->has_tbl) {
		tbl_init(&v->tbl, &ops);
		v->has_tbl = true;
		v->priv = x_calloc(1, sizeof(struct sched));
	}
	sched_load(u, v);
}

/* Jobs changed (store revision): read again.  Otherwise every 30 s the
 * forecast is worked out anew from the rows held, as "now" moved on.
 * (Blackout windows carry no revision: they are read with the jobs, and
 * when the view is opened.) */
static void sched_tick(struct ui *u, struct view *v)
{
	struct sched *s = v->priv;
	int64_t rev = 0;
	struct err e;
	int64_t age = clock_mono_ms() - s->loaded_at;
	if (age < 2000)
		return;
	if (store_rev(u->st, &rev, &e) == ST_OK && rev != s->rev)
		sched_load(u, v);
	else if (age >= 30000)
		sched_compute(u, v);
}

static void sched_close(struct ui *u, struct view *v)
{
	(void)u;
	struct sched *s = v->priv;
	if (!s)
		return;
	forecast_env_free(&s->env);
	free(s);
	v->priv = NULL;
}

const struct view_ops view_schedule_ops = {
	.open = sched_open, .tick = sched_tick, .close = sched_close,
	.empty = "Nothing queued: the schedule estimates when queued jobs will start and end.",
};
