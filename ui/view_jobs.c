/* view_jobs.c - Mailbox Jobs: the queue in order with live progress (items,
 * data, rate, ETA, current folder) and the actions on jobs: pause, resume,
 * cancel, retry, move to top/bottom/up/down, open the detail.  Actions work
 * on the selected jobs, or on the job under the cursor when none is
 * selected.  Refreshes read only the jobs that changed (store revisions),
 * so 100 000 jobs cost nothing while a few of them run. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blackout.h"
#include "lifecycle.h"
#include "ui.h"

struct job_ui {
	int64_t id;
	enum job_state state;
	enum pass_kind pass;
	int priority;
	int64_t queue_pos;
	int64_t items_done, bytes_done, items_skipped, items_failed;
	int64_t started, finished, created, start_after;
	int64_t src_size, src_items;
	int64_t src_ep_id;
	int64_t next_sync, cutover_at;
	enum job_phase phase;
	bool suspend_ready;
	int attempts;
	/* A blackout holding this waiting job now (recomputed every few
	 * seconds, see jobs_holds): until then, by the window named. */
	int64_t held_until;
	const char *hold_name;      /* owned by the view's blackout set */
	/* One allocation holds every string of the row. */
	char *strs;
	const char *src_ep, *src_user, *dst_ep, *dst_user, *folder, *error, *paused_by;
};

static int64_t job_id_of(const void *r) { return ((const struct job_ui *)r)->id; }
static void job_ui_free(void *r) { free(((struct job_ui *)r)->strs); }

static double rate_per_min(const struct job_ui *j)
{
	int64_t end = j->state == JOB_RUNNING ? clock_now() : j->finished;
	int64_t secs = j->started && end > j->started ? end - j->started : 0;
	return secs ? (double)j->items_done * 60.0 / (double)secs : 0;
}

#define J(r) ((const struct job_ui *)(r))

static void col_id(const void *r, char *b, size_t n) { snprintf(b, n, "%lld", (long long)J(r)->id); }

static bool waiting(const struct job_ui *j)
{
	return j->state == JOB_QUEUED || j->state == JOB_READY || j->state == JOB_COMPLETING;
}

/* "scheduled" is derived, not stored: a queued job whose start time has
 * not come, or any waiting job a blackout holds. */
static bool scheduled(const struct job_ui *j)
{
	return (waiting(j) && j->held_until > clock_now()) ||
	       (j->state == JOB_QUEUED && j->start_after > clock_now());
}

static void col_state(const void *r, char *b, size_t n)
{
	const struct job_ui *j = J(r);
	snprintf(b, n, "%s", scheduled(j) ? "scheduled" : job_state_name(j->state));
}

/* "blackout NAME until TIME" when a blackout holds the job, else "". */
static void hold_text(const struct job_ui *j, char *b, size_t n)
{
	b[0] = '\0';
	if (!waiting(j) || j->held_until <= clock_now())
		return;
	char t[32];
	fmt_time(j->held_until, t, sizeof t);
	snprintf(b, n, "blackout %s until %s", j->hold_name ? j->hold_name : "?", t);
}

static void col_mailbox(const void *r, char *b, size_t n)
{
	const struct job_ui *j = J(r);
	if (strcmp(j->src_user, j->dst_user) == 0)
		snprintf(b, n, "%s (%s>%s)", j->src_user, j->src_ep, j->dst_ep);
	else
		snprintf(b, n, "%s>%s (%s>%s)", j->src_user, j->dst_user, j->src_ep, j->dst_ep);
}

static void col_items(const void *r, char *b, size_t n) { fmt_count(J(r)->items_done, b, n); }

static void col_pct(const void *r, char *b, size_t n)
{
	const struct job_ui *j = J(r);
	if (j->state == JOB_COMPLETED)
		snprintf(b, n, "100%%");
	else if (j->src_items > 0)
		snprintf(b, n, "%d%%", (int)(j->items_done * 100 / j->src_items > 99 ? 99 : j->items_done * 100 / j->src_items));
	else
		snprintf(b, n, "-");
}

static void col_bytes(const void *r, char *b, size_t n) { txt_bytes(J(r)->bytes_done, b, n); }

static void col_rate(const void *r, char *b, size_t n)
{
	double rate = rate_per_min(J(r));
	if (rate <= 0)
		snprintf(b, n, "-");
	else
		snprintf(b, n, "%.0f/min", rate);
}

static int64_t eta_secs(const struct job_ui *j)
{
	double rate = rate_per_min(j);
	if (j->state != JOB_RUNNING || rate <= 0 || j->src_items <= 0)
		return -1;
	int64_t left = j->src_items - j->items_done;
	return left > 0 ? (int64_t)((double)left * 60.0 / rate) : 0;
}

static void col_eta(const void *r, char *b, size_t n) { fmt_duration(eta_secs(J(r)), b, n); }
static void col_folder(const void *r, char *b, size_t n) { snprintf(b, n, "%s", J(r)->folder); }
static void col_pass(const void *r, char *b, size_t n) { snprintf(b, n, "%s", pass_kind_name(J(r)->pass)); }
static void col_skip(const void *r, char *b, size_t n) { fmt_count(J(r)->items_skipped, b, n); }
static void col_fail(const void *r, char *b, size_t n) { fmt_count(J(r)->items_failed, b, n); }

static void col_note(const void *r, char *b, size_t n)
{
	const struct job_ui *j = J(r);
	if (j->error[0])
		snprintf(b, n, "%s", j->error);
	else if (j->state == JOB_PAUSED)
		snprintf(b, n, "paused by %s", j->paused_by[0] ? j->paused_by : "admin");
	else if (waiting(j) && j->held_until > clock_now())
		hold_text(j, b, n);
	else if (j->state == JOB_QUEUED && j->start_after > clock_now()) {
		char t[32];
		fmt_time(j->start_after, t, sizeof t);
		snprintf(b, n, "starts %s", t);
	} else if (j->state == JOB_READY) {
		char t[32];
		fmt_time(j->next_sync, t, sizeof t);
		snprintf(b, n, "ready to complete (C: cutover); next incremental sync %s", t);
	} else if (j->state == JOB_COMPLETING && j->cutover_at > clock_now()) {
		char t[32];
		fmt_time(j->cutover_at, t, sizeof t);
		snprintf(b, n, "cutover at %s", t);
	} else if (j->state == JOB_COMPLETING)
		snprintf(b, n, "cutover: the final pass is next");
	else if (j->state == JOB_RUNNING && j->phase != PHASE_INITIAL)
		snprintf(b, n, "%s", j->phase == PHASE_FINAL ? "final pass (cutover)" : "incremental sync");
	else
		b[0] = '\0';
}

/* A comparison by a number computed from the row. */
#define CMP64(name, expr) \
	static int64_t name##_key(const struct job_ui *x) { return (expr); } \
	static int name(const void *a, const void *b) \
	{ \
		int64_t p = name##_key(a), q = name##_key(b); \
		return p < q ? -1 : p > q; \
	}
CMP64(cmp_items, x->items_done)
CMP64(cmp_bytes, x->bytes_done)
CMP64(cmp_skip, x->items_skipped)
CMP64(cmp_fail, x->items_failed)
CMP64(cmp_eta, eta_secs(x))
CMP64(cmp_pct, x->src_items > 0 ? x->items_done * 1000 / x->src_items : -1)
CMP64(cmp_rate, (int64_t)rate_per_min(x))

/* Queue order: priority, then place. */
static int cmp_queue(const void *a, const void *b)
{
	const struct job_ui *x = a, *y = b;
	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	return x->queue_pos < y->queue_pos ? -1 : x->queue_pos > y->queue_pos;
}

static const struct tbl_col cols[] = {
	{ "ID", "id", 5, true, col_id, cmp_queue, false },
	{ "STATE", "state", 10, false, col_state, NULL, true },
	{ "MAILBOX", "mailbox", 24, false, col_mailbox, NULL, false },
	{ "ITEMS", "items", 8, true, col_items, cmp_items, false },
	{ "%", "percent", 4, true, col_pct, cmp_pct, false },
	{ "DATA", "data", 8, true, col_bytes, cmp_bytes, false },
	{ "RATE", "rate", 8, true, col_rate, cmp_rate, false },
	{ "ETA", "eta", 6, true, col_eta, cmp_eta, false },
	{ "FOLDER", "folder", 14, false, col_folder, NULL, false },
	{ "PASS", "pass", 8, false, col_pass, NULL, true },
	{ "SKIP", "skipped", 5, true, col_skip, cmp_skip, false },
	{ "FAIL", "failed", 5, true, col_fail, cmp_fail, false },
	{ "NOTE", "note", 0, false, col_note, NULL, false },
};
enum { COL_QUEUE = 0 };

static bool job_match(const void *r, const char *needle)
{
	const struct job_ui *j = r;
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)j->id);
	return strcmp(id, needle) == 0 || tbl_contains(j->src_user, needle) || tbl_contains(j->dst_user, needle) ||
	       tbl_contains(j->src_ep, needle) || tbl_contains(j->dst_ep, needle) ||
	       tbl_contains(job_state_name(j->state), needle) || tbl_contains(j->error, needle);
}

static const struct tbl_ops ops = {
	cols, (int)countof(cols), sizeof(struct job_ui), job_id_of, job_ui_free, job_match, COL_QUEUE,
};

/* --- loading ------------------------------------------------------------------- */

enum jobs_filter { JF_ALL, JF_ACTIVE, JF_PROBLEMS, JF_DONE, JF__COUNT };
static const char *const filter_names[] = { "all jobs", "active (queued, running, paused, ready, completing)",
                                            "problems (failed, partial, cancelled)", "completed" };

struct jobs_state {
	int64_t rev;
	enum jobs_filter filter;
	struct bo_set *bo;          /* the blackout windows, for "scheduled: blackout ..." */
	int64_t bo_sig, holds_ms;
};

static bool jobs_filter(const void *r, void *ctx)
{
	const struct jobs_state *s = ctx;
	enum job_state st = J(r)->state;
	switch (s->filter) {
	case JF_ACTIVE: return st == JOB_QUEUED || st == JOB_RUNNING || st == JOB_PAUSED || st == JOB_READY ||
	                       st == JOB_COMPLETING;
	case JF_PROBLEMS: return st == JOB_FAILED || st == JOB_PARTIAL || st == JOB_CANCELLED;
	case JF_DONE: return st == JOB_COMPLETED;
	default: return true;
	}
}

static const char *nz(const char *s) { return s ? s : ""; }

static void put_row(void *ctx, const struct job_row *r)
{
	struct view *v = ctx;
	struct job_ui *j = tbl_upsert(&v->tbl, r->id);
	const char *s[7] = { nz(r->src_endpoint), nz(r->src_user), nz(r->dst_endpoint), nz(r->dst_user),
	                     nz(r->current_folder), nz(r->error), nz(r->paused_by) };
	size_t len[7], total = 0;
	for (int i = 0; i < 7; i++)
		total += (len[i] = strlen(s[i])) + 1;
	char *p = x_malloc(total);
	const char **dst[7] = { &j->src_ep, &j->src_user, &j->dst_ep, &j->dst_user, &j->folder, &j->error, &j->paused_by };
	j->strs = p;
	for (int i = 0; i < 7; i++) {
		memcpy(p, s[i], len[i] + 1);
		*dst[i] = p;
		p += len[i] + 1;
	}
	j->id = r->id;
	j->state = r->state;
	j->pass = r->pass;
	j->priority = r->priority;
	j->queue_pos = r->queue_pos;
	j->items_done = r->items_done;
	j->bytes_done = r->bytes_done;
	j->items_skipped = r->items_skipped;
	j->items_failed = r->items_failed;
	j->started = r->started;
	j->finished = r->finished;
	j->created = r->created;
	j->start_after = r->start_after;
	j->src_size = r->src_size_bytes;
	j->src_items = r->src_items;
	j->attempts = r->attempts;
	j->src_ep_id = r->src_ep_id;
	j->next_sync = r->next_sync;
	j->cutover_at = r->cutover_at;
	j->phase = r->phase;
	j->suspend_ready = r->suspend_ready;
}

/* Which waiting jobs a blackout holds now: every two seconds (the clock
 * moves them in and out of windows), the windows re-read when they change. */
static void jobs_holds(struct ui *u, struct view *v)
{
	struct jobs_state *s = v->priv;
	int64_t now_ms = clock_mono_ms(), sig = 0;
	if (s->holds_ms && now_ms - s->holds_ms < 2000)
		return;
	s->holds_ms = now_ms;
	struct err e;
	if (store_blackout_signature(u->st, &sig, &e))
		return;
	if (!s->bo || sig != s->bo_sig) {
		struct bo_set *b = NULL;
		if (bo_load(u->st, &b, &e)) {
			ui_error(u, "%s", e.msg);
			return;
		}
		bo_free(s->bo);
		s->bo = b;
		s->bo_sig = sig;
	}
	int64_t now = clock_now();
	for (size_t i = 0; i < v->tbl.n; i++) {
		struct job_ui *j = (struct job_ui *)(v->tbl.rows + i * sizeof(struct job_ui));
		int64_t until = 0;
		const char *name = NULL;
		if (waiting(j) && bo_any(s->bo)) {
			struct bo_subject m;
			bo_subject_of(s->bo, j->src_ep_id, j->src_user, &m);
			if (!bo_held(s->bo, &m, lc_bo_phase(lc_phase_for_claim(j->state), j->suspend_ready), now,
			             &until, &name))
				until = 0;
		}
		if (until != j->held_until || name != j->hold_name)
			v->tbl.changed = true;
		j->held_until = until;
		j->hold_name = name;
	}
}

void jobs_hold_text(struct ui *u, int64_t id, char *buf, size_t n)
{
	struct view *v = &u->views[V_JOBS];
	buf[0] = '\0';
	if (!v->opened)
		ui_reload(u, V_JOBS);
	const struct job_ui *j = v->has_tbl ? tbl_find(&v->tbl, id) : NULL;
	if (j)
		hold_text(j, buf, n);
}

/* Reads the jobs changed since the last look; everything when jobs were
 * deleted meanwhile (a forest removed). */
static void jobs_refresh(struct ui *u, struct view *v)
{
	struct jobs_state *s = v->priv;
	struct err e;
	int64_t total = 0;
	if (store_job_total(u->st, &total, &e)) {
		ui_error(u, "%s", e.msg);
		return;
	}
	if ((size_t)total < v->tbl.n) {
		tbl_clear(&v->tbl);
		s->rev = 0;
	}
	if (store_job_rows(u->st, s->rev, put_row, v, &s->rev, &e))
		ui_error(u, "%s", e.msg);
	jobs_holds(u, v);
	/* Running jobs' rate and ETA move with the clock. */
	if (u->cur == V_JOBS)
		v->tbl.changed = v->tbl.changed || v->tbl.sort_col == 6 || v->tbl.sort_col == 7;
	snprintf(v->title, sizeof v->title, "Mailbox Jobs: %s (f filters; Space selects; Enter opens)",
	         filter_names[s->filter]);
}

static void jobs_open(struct ui *u, struct view *v)
{
	if (!v->has_tbl) {
		tbl_init(&v->tbl, &ops);
		v->has_tbl = true;
		struct jobs_state *s = x_calloc(1, sizeof *s);
		v->priv = s;
		v->tbl.filter = jobs_filter;
		v->tbl.filter_ctx = s;
	}
	jobs_refresh(u, v);
}

static void jobs_close(struct ui *u, struct view *v)
{
	(void)u;
	struct jobs_state *s = v->priv;
	if (s)
		bo_free(s->bo);
	free(v->priv);
	v->priv = NULL;
}

/* --- the queue for other views ------------------------------------------------------ */

static int cmp_queue_ptr(const void *a, const void *b)
{
	return cmp_queue(*(const struct job_ui *const *)a, *(const struct job_ui *const *)b);
}

void jobs_each(struct ui *u, bool active_only, void (*fn)(void *ctx, const struct job_brief *b), void *ctx)
{
	struct view *v = &u->views[V_JOBS];
	if (!v->opened)
		ui_reload(u, V_JOBS);
	else
		jobs_refresh(u, v);
	const struct job_ui **act = x_malloc((v->tbl.n ? v->tbl.n : 1) * sizeof *act);
	size_t n = 0;
	for (size_t i = 0; i < v->tbl.n; i++) {
		const struct job_ui *j = (const struct job_ui *)(v->tbl.rows + i * sizeof(struct job_ui));
		if (!active_only || j->state == JOB_QUEUED || j->state == JOB_RUNNING || j->state == JOB_READY ||
		    j->state == JOB_COMPLETING)
			act[n++] = j;
	}
	bool sorted = true;     /* usually: rows are read in queue order */
	for (size_t i = 1; i < n && sorted; i++)
		sorted = cmp_queue(act[i - 1], act[i]) <= 0;
	if (!sorted)
		qsort(act, n, sizeof *act, cmp_queue_ptr);
	for (size_t i = 0; i < n; i++) {
		const struct job_ui *j = act[i];
		struct job_brief b = {
			.id = j->id, .state = j->state, .priority = j->priority, .queue_pos = j->queue_pos,
			.src_ep = j->src_ep, .src_user = j->src_user, .dst_ep = j->dst_ep, .dst_user = j->dst_user,
			.src_size = j->src_size, .bytes_done = j->bytes_done, .start_after = j->start_after,
			.started = j->started, .finished = j->finished, .suspend_ready = j->suspend_ready,
			.phase = j->phase, .next_sync = j->next_sync, .cutover_at = j->cutover_at,
		};
		fn(ctx, &b);
	}
	free(act);
}

void jobs_totals(struct ui *u, int64_t counts[JOB__COUNT], int64_t *items, int64_t *bytes)
{
	struct view *v = &u->views[V_JOBS];
	if (!v->opened)
		ui_reload(u, V_JOBS);
	else
		jobs_refresh(u, v);
	memset(counts, 0, JOB__COUNT * sizeof counts[0]);
	*items = *bytes = 0;
	for (size_t i = 0; i < v->tbl.n; i++) {
		const struct job_ui *j = (const struct job_ui *)(v->tbl.rows + i * sizeof(struct job_ui));
		if ((int)j->state >= 0 && (int)j->state < JOB__COUNT)
			counts[j->state]++;
		*items += j->items_done;
		*bytes += j->bytes_done;
	}
}

/* --- actions ------------------------------------------------------------------------ */

/* The jobs an action applies to: the selection, else the cursor row. */
static int64_t *targets(struct view *v, size_t *n)
{
	if (tbl_selected_count(&v->tbl))
		return tbl_selected_ids(&v->tbl, n);
	const struct job_ui *j = tbl_cursor_row(&v->tbl);
	if (!j) {
		*n = 0;
		return NULL;
	}
	int64_t *ids = x_malloc(sizeof *ids);
	ids[0] = j->id;
	*n = 1;
	return ids;
}

static enum st apply(struct ui *u, enum action a, int64_t id, struct err *e)
{
	switch (a) {
	case ACT_PAUSE: return store_job_pause(u->st, id, e);
	case ACT_RESUME: return store_job_resume(u->st, id, e);
	case ACT_CANCEL: return store_job_cancel(u->st, id, e);
	case ACT_RETRY: return store_job_retry(u->st, id, e);
	case ACT_CUTOVER: return store_job_cutover(u->st, id, 0, NULL, e);
	case ACT_TOP: return store_job_move(u->st, id, true, e);
	case ACT_BOTTOM: return store_job_move(u->st, id, false, e);
	case ACT_MOVE_UP: return store_job_move_step(u->st, id, true, e);
	case ACT_MOVE_DOWN: return store_job_move_step(u->st, id, false, e);
	default: return ST_OK;
	}
}

static const char *done_word(enum action a)
{
	switch (a) {
	case ACT_PAUSE: return "paused (a running job stops at its next checkpoint)";
	case ACT_RESUME: return "back in the queue";
	case ACT_CANCEL: return "cancelled";
	case ACT_RETRY: return "queued again";
	case ACT_CUTOVER: return "cut over: its final pass runs next";
	case ACT_TOP: return "moved to the top";
	case ACT_BOTTOM: return "moved to the bottom";
	case ACT_MOVE_UP: return "moved up";
	case ACT_MOVE_DOWN: return "moved down";
	default: return "done";
	}
}

/* Runs action a on the ids; reports how many worked and the first refusal
 * (e.g. "job 7 is completed: only queued or paused jobs can be cancelled"). */
void jobs_apply(struct ui *u, enum action a, const int64_t *ids, size_t n)
{
	size_t ok = 0, bad = 0;
	char first[sizeof ((struct err *)0)->msg] = "";
	/* Moving several to the top keeps their order: go from the last one. */
	bool reverse = a == ACT_TOP || a == ACT_MOVE_DOWN;
	for (size_t k = 0; k < n; k++) {
		int64_t id = ids[reverse ? n - 1 - k : k];
		struct err e;
		if (apply(u, a, id, &e)) {
			if (!bad++)
				snprintf(first, sizeof first, "%s", e.msg);
		} else
			ok++;
	}
	if (bad && !ok)
		ui_error(u, "%s", first);
	else if (bad)
		ui_error(u, "%zu job%s %s; %zu refused: %s", ok, ok == 1 ? "" : "s", done_word(a), bad, first);
	else if (n == 1)
		ui_say(u, "job %lld %s", (long long)ids[0], done_word(a));
	else
		ui_say(u, "%zu jobs %s", ok, done_word(a));
	ui_reload(u, V_JOBS);
}

struct cancel_ctx {
	int64_t *ids;
	size_t n;
};

static void cancel_answer(struct ui *u, bool yes, void *ctx)
{
	struct cancel_ctx *c = ctx;
	if (yes)
		jobs_apply(u, ACT_CANCEL, c->ids, c->n);
	else
		ui_say(u, "nothing cancelled");
	free(c->ids);
	free(c);
}

static void filter_fn(struct ui *u, int choice, void *ctx)
{
	struct view *v = ctx;
	if (choice < 0)
		return;
	((struct jobs_state *)v->priv)->filter = (enum jobs_filter)choice;
	v->tbl.changed = true;
	jobs_refresh(u, v);
	tbl_arrange(&v->tbl);
	ui_say(u, "showing %s: %zu", filter_names[choice], v->tbl.nvis);
}

static bool jobs_act(struct ui *u, struct view *v, enum action a, const char *arg)
{
	switch (a) {
	case ACT_OPEN: {
		const struct job_ui *j = tbl_cursor_row(&v->tbl);
		if (!j)
			return true;
		u->detail_job = j->id;
		ui_switch(u, V_JOB_DETAIL);
		return true;
	}
	case ACT_FILTER:
		if (arg) {
			for (int i = 0; i < JF__COUNT; i++)
				if (strncmp(filter_names[i], arg, strlen(arg)) == 0)
					filter_fn(u, i, v);
			return true;
		}
		ui_menu(u, "Show", filter_names, JF__COUNT, (int)((struct jobs_state *)v->priv)->filter, filter_fn, v);
		return true;
	case ACT_PAUSE: case ACT_RESUME: case ACT_RETRY: case ACT_TOP: case ACT_BOTTOM: case ACT_MOVE_UP: case ACT_MOVE_DOWN:
	case ACT_CANCEL: case ACT_CUTOVER: {
		size_t n;
		int64_t *ids = targets(v, &n);
		if (!n) {
			ui_error(u, "no job here: queue mailboxes in Mailboxes (key 2) first");
			free(ids);
			return true;
		}
		if (a == ACT_CANCEL) {
			struct cancel_ctx *c = x_malloc(sizeof *c);
			*c = (struct cancel_ctx){ ids, n };
			if (n == 1)
				ui_confirm(u, cancel_answer, c, "Cancel job %lld?", (long long)ids[0]);
			else
				ui_confirm(u, cancel_answer, c, "Cancel %zu selected jobs?", n);
			return true;
		}
		jobs_apply(u, a, ids, n);
		free(ids);
		return true;
	}
	default:
		return false;
	}
}

const struct view_ops view_jobs_ops = {
	.open = jobs_open, .tick = jobs_refresh, .act = jobs_act, .close = jobs_close,
	.empty = "No jobs yet: select mailboxes in Mailboxes (key 2) and press + to queue them.",
};
