/* view_schedule.c - Schedule (read-only): when each queued or running job
 * is expected to start and end, in queue order, from a simple forecast.
 *
 * The forecast: `workers` parallel slots (console --workers, else the
 * configuration); running jobs hold a slot until their remaining bytes are
 * copied; each queued job, in queue order, takes the slot that frees first,
 * but not before its start-after time; it then runs for size / throughput.
 * Throughput is what the engine's samples measured over the last hour
 * (bytes per second, shared by the slots), else 5 MB/s per slot; the title
 * line says which basis is used.  A job whose size is not known is taken
 * to be as big as the average of the known ones (its note says so).
 * Blackouts: a job does not start inside a window that applies to it (every
 * site, its mailbox's site, or its mailbox): its start moves to the end of
 * the window.  A job that would run into a window is not cut short here;
 * the scheduler work will refine this (and the blackout modes, and paused
 * jobs, which are left out as they wait for a person).
 *
 * Cost: one pass over the jobs with a binary heap of slot free times, so
 * 100 000 queued jobs take under 20 ms; the data is re-read only when the
 * store's revision moves, and the forecast redone every 30 s from the rows
 * held (estimates follow the clock).
 * Keys: the table moves, search and sort only. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "tz.h"
#include "ui.h"

#define DEFAULT_RATE (5.0 * 1000 * 1000)    /* bytes per second per slot, unmeasured */

struct sj {
	int64_t id;
	int64_t pos;            /* place in the sequence, 1-based */
	char *label;            /* "alice (src>dst)"; owned */
	char *src_ep, *login;   /* point into label's allocation */
	bool running;
	bool size_known;
	int64_t size, done;     /* bytes: the mailbox, already copied */
	int64_t start_after, started;
	int64_t est_start, est_end;
	int64_t blackout_end;   /* start moved out of a blackout: its end; 0 none */
};

#define S(r) ((const struct sj *)(r))

static int64_t sj_id(const void *r) { return S(r)->id; }
static void sj_free(void *r) { free(((struct sj *)r)->label); }

static void short_time(int64_t t, char *b, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	localtime_r(&tt, &tm);
	strftime(b, n, "%m-%d %H:%M", &tm);
}

static void col_pos(const void *r, char *b, size_t n) { snprintf(b, n, "%lld", (long long)S(r)->pos); }
static void col_id(const void *r, char *b, size_t n) { snprintf(b, n, "%lld", (long long)S(r)->id); }
static void col_mailbox(const void *r, char *b, size_t n) { snprintf(b, n, "%s", S(r)->label); }
static void col_size(const void *r, char *b, size_t n)
{
	fmt_bytes(S(r)->size, b, n);
	if (!S(r)->size_known && n > 2 && strlen(b) + 2 < n)
		strcat(b, "?");
}
static void col_start(const void *r, char *b, size_t n) { short_time(S(r)->est_start, b, n); }
static void col_end(const void *r, char *b, size_t n) { short_time(S(r)->est_end, b, n); }
static void col_dur(const void *r, char *b, size_t n) { fmt_duration(S(r)->est_end - S(r)->est_start, b, n); }

static void col_note(const void *r, char *b, size_t n)
{
	const struct sj *x = r;
	char t[32];
	size_t k = 0;
	b[0] = '\0';
	if (x->running)
		k += (size_t)snprintf(b + k, n - k, "running; ");
	if (!x->size_known)
		k += (size_t)snprintf(b + k, n - k, "size unknown, estimated; ");
	if (x->blackout_end && k < n) {
		short_time(x->blackout_end, t, sizeof t);
		k += (size_t)snprintf(b + k, n - k, "blackout until %s; ", t);
	} else if (x->start_after > 0 && x->est_start == x->start_after && k < n)
		k += (size_t)snprintf(b + k, n - k, "starts at its set time; ");
	if (k >= 2 && k < n)
		b[k - 2] = '\0';
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

/* --- blackout windows that concern the forecast ---------------------------- */

struct win {
	struct tzone *z;
	char *site;             /* NULL: every site (unless mailbox_id) */
	int64_t mailbox_id;
	int64_t start, end;
	bool weekly;
	/* The last answer and the times it holds for, [lo, hi): the end of
	 * the occurrence before it up to its own end (or, once a one-off
	 * window is over, from its end on), so most look-ups cost nothing. */
	int64_t ws, we, lo, hi;
	bool cached, over;
};

/* Where a job's mailbox is: its id and site, by (endpoint, login). */
struct mb_ref {
	int64_t id;
	char *key;              /* "endpoint\nlogin" */
	char *site;
};

struct sched {
	struct win *w;
	size_t nw, capw;
	struct mb_ref *mb;      /* sorted by key */
	size_t nmb, capmb;
	bool need_mailboxes;
	int64_t rev, loaded_at;
};

static void win_free_all(struct sched *s)
{
	for (size_t i = 0; i < s->nw; i++) {
		tz_close(s->w[i].z);
		free(s->w[i].site);
	}
	s->nw = 0;
	for (size_t i = 0; i < s->nmb; i++) {
		free(s->mb[i].key);
		free(s->mb[i].site);
	}
	s->nmb = 0;
}

static void put_window(void *ctx, const struct blackout *b)
{
	struct sched *s = ctx;
	char why[160];
	struct tzone *z = tz_open(b->tz, why, sizeof why);
	if (!z)
		z = tz_open(NULL, why, sizeof why);
	s->w = x_grow(s->w, s->nw, &s->capw, sizeof *s->w, 8);
	s->w[s->nw++] = (struct win){ .z = z, .site = b->site && *b->site ? x_strdup(b->site) : NULL,
	                              .mailbox_id = b->mailbox_id, .start = b->start_ts, .end = b->end_ts,
	                              .weekly = b->weekly };
	if (b->mailbox_id || (b->site && *b->site))
		s->need_mailboxes = true;
}

static void put_mailbox(void *ctx, const struct mailbox_row *r)
{
	struct sched *s = ctx;
	s->mb = x_grow(s->mb, s->nmb, &s->capmb, sizeof *s->mb, 64);
	s->mb[s->nmb++] = (struct mb_ref){ r->id, x_asprintf("%s\n%s", r->endpoint ? r->endpoint : "", r->login),
	                                   r->site && *r->site ? x_strdup(r->site) : NULL };
}

static int mb_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mb_ref *)a)->key, ((const struct mb_ref *)b)->key);
}

static const struct mb_ref *mb_lookup(const struct sched *s, const char *ep, const char *login)
{
	char key[512];
	snprintf(key, sizeof key, "%s\n%s", ep, login);
	struct mb_ref probe = { .key = key };
	return s->nmb ? bsearch(&probe, s->mb, s->nmb, sizeof *s->mb, mb_cmp) : NULL;
}

/* The occurrence of w containing t or next after it (false: none left). */
static bool win_at(struct win *w, int64_t t, int64_t *ws, int64_t *we)
{
	if (!w->cached || t < w->lo || t >= w->hi) {
		w->cached = true;
		w->over = !tz_window(w->z, w->start, w->end, w->weekly, t, &w->ws, &w->we);
		if (w->over) {
			w->lo = w->end;
			w->hi = INT64_MAX;
		} else {
			w->lo = w->weekly && w->ws > w->start ? tz_add_weeks(w->z, w->we, -1) : INT64_MIN;
			w->hi = w->we;
		}
	}
	*ws = w->ws;
	*we = w->we;
	return !w->over;
}

/* Moves t out of every window that applies to the job, until none does. */
static int64_t skip_blackouts(struct sched *s, const struct sj *j, int64_t t, int64_t *moved_to)
{
	const struct mb_ref *m = s->need_mailboxes ? mb_lookup(s, j->src_ep, j->login) : NULL;
	for (int round = 0; round < 16; round++) {
		bool moved = false;
		for (size_t i = 0; i < s->nw; i++) {
			struct win *w = &s->w[i];
			if (w->mailbox_id && (!m || m->id != w->mailbox_id))
				continue;
			if (!w->mailbox_id && w->site && (!m || !m->site || strcmp(m->site, w->site) != 0))
				continue;
			int64_t ws, we;
			if (win_at(w, t, &ws, &we) && ws <= t && t < we) {
				t = we;
				*moved_to = we;
				moved = true;
			}
		}
		if (!moved)
			break;
	}
	return t;
}

/* --- the forecast ------------------------------------------------------------- */

static void heap_push(int64_t *h, size_t *n, int64_t v)
{
	size_t i = (*n)++;
	while (i > 0 && h[(i - 1) / 2] > v) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = v;
}

static int64_t heap_pop(int64_t *h, size_t *n)
{
	int64_t top = h[0], v = h[--*n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && h[c + 1] < h[c])
			c++;
		if (h[c] >= v)
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n)
		h[i] = v;
	return top;
}

static int64_t secs_for(int64_t bytes, double rate)
{
	return bytes <= 0 ? 0 : (int64_t)((double)bytes / rate + 0.5);
}

/* qsort has no context argument: the rows being sorted. */
static const struct sj *sort_rows;

static int cmp_deferred(const void *a, const void *b)
{
	const struct sj *x = &sort_rows[*(const size_t *)a], *y = &sort_rows[*(const size_t *)b];
	if (x->start_after != y->start_after)
		return x->start_after < y->start_after ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Fills est_start/est_end of the rows (in load order = queue order). */
static void forecast(struct sched *s, struct tbl *t, int workers, double slot_rate, int64_t now)
{
	struct sj *rows = (struct sj *)t->rows;
	int64_t known = 0, nknown = 0;
	for (size_t i = 0; i < t->n; i++)
		if (rows[i].size_known) {
			known += rows[i].size;
			nknown++;
		}
	int64_t avg = nknown ? known / nknown : 0;
	size_t nrun = 0;
	for (size_t i = 0; i < t->n; i++)
		nrun += rows[i].running;
	size_t cap = nrun > (size_t)workers ? nrun : (size_t)workers, n = 0;
	int64_t *heap = x_malloc((cap + 1) * sizeof *heap);
	for (size_t i = 0; i < t->n; i++) {
		struct sj *j = &rows[i];
		if (!j->size_known)
			j->size = avg;
		if (!j->running)
			continue;
		j->est_start = j->started ? j->started : now;
		int64_t left = j->size - j->done;
		j->est_end = now + secs_for(left, slot_rate);
		heap_push(heap, &n, j->est_end);
	}
	for (size_t k = n; k < (size_t)workers; k++)
		heap_push(heap, &n, now);
	/* More jobs running than slots (workers lowered): queued jobs wait for
	 * the running ones to come down to `workers`. */
	while (n > (size_t)workers)
		heap_pop(heap, &n);
	/* Like the engine's claim: when a slot frees at time at, it takes the
	 * first job in queue order whose start-after time has come.  Jobs with
	 * a future start-after wait in deferred (by that time) until then, and
	 * then in ready (by queue place), so they hold no slot meanwhile. */
	size_t *deferred = x_malloc((t->n + 1) * sizeof *deferred), nd = 0, di = 0;
	int64_t *ready = x_malloc((t->n + 1) * sizeof *ready);
	size_t nready = 0, next = 0;
	for (size_t i = 0; i < t->n; i++)
		if (!rows[i].running && rows[i].start_after > now)
			deferred[nd++] = i;
	sort_rows = rows;
	qsort(deferred, nd, sizeof *deferred, cmp_deferred);
	for (;;) {
		while (next < t->n && (rows[next].running || rows[next].start_after > now))
			next++;
		if (next >= t->n && nready == 0 && di >= nd)
			break;
		int64_t at = heap_pop(heap, &n);
		while (di < nd && rows[deferred[di]].start_after <= at)
			heap_push(ready, &nready, rows[deferred[di++]].pos);
		struct sj *j;
		if (nready && (next >= t->n || ready[0] < rows[next].pos))
			j = &rows[heap_pop(ready, &nready) - 1];
		else if (next < t->n)
			j = &rows[next++];
		else
			j = &rows[deferred[di++]];     /* nothing ready: the slot waits */
		if (j->start_after > at)
			at = j->start_after;
		j->blackout_end = 0;
		if (s->nw)
			at = skip_blackouts(s, j, at, &j->blackout_end);
		j->est_start = at;
		j->est_end = at + secs_for(j->size, slot_rate);
		heap_push(heap, &n, j->est_end);
	}
	free(deferred);
	free(ready);
	free(heap);
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

/* "login (src>dst)" or "login>target (src>dst)", then the source endpoint
 * and the login after its NUL: one allocation, put together by hand as a
 * big queue has 100 000 of them. */
static char *make_label(const char *su, const char *du, const char *se, const char *de)
{
	bool same = strcmp(su, du) == 0;
	size_t len = strlen(su) * 2 + (same ? 0 : 1 + strlen(du)) + strlen(se) * 2 + strlen(de) + 8;
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
		.start_after = r->start_after, .started = r->started,
	};
	j->src_ep = label + strlen(label) + 1;
	j->login = j->src_ep + strlen(j->src_ep) + 1;
}

struct rate_ctx {
	int64_t since, bytes, minutes;
};

static void put_minute(void *ctx, int64_t minute, int64_t items, int64_t bytes)
{
	(void)items;
	struct rate_ctx *r = ctx;
	if (minute < r->since)
		return;
	r->bytes += bytes;
	r->minutes++;
}

static int workers_of(const struct ui *u)
{
	if (u->o->workers > 0)
		return u->o->workers;
	return u->o->cfg && u->o->cfg->workers > 0 ? u->o->cfg->workers : 1;
}

/* The forecast from the rows held: the throughput basis (samples), then
 * one pass.  Cheap: runs alone when only the clock moved. */
static void sched_compute(struct ui *u, struct view *v)
{
	struct sched *s = v->priv;
	struct err e;
	int64_t now = clock_now();
	/* Measured: bytes per second over the minutes of the last hour that
	 * have samples (an idle minute has none and does not dilute it). */
	struct rate_ctx rc = { .since = now - 3600 };
	if (store_sample_minutes(u->st, 60, put_minute, &rc, &e))
		ui_error(u, "%s", e.msg);
	int workers = workers_of(u);
	double total = rc.minutes && rc.bytes > 0 ? (double)rc.bytes / (double)(rc.minutes * 60) : 0;
	double slot_rate = total > 0 ? total / workers : DEFAULT_RATE;
	int64_t t0 = clock_mono_ms();
	forecast(s, &v->tbl, workers, slot_rate, now);
	log_debug("schedule: %zu jobs forecast in %lld ms", v->tbl.n, (long long)(clock_mono_ms() - t0));
	v->tbl.changed = true;
	s->loaded_at = clock_mono_ms();
	char rate[32];
	fmt_bytes((int64_t)(total > 0 ? total : DEFAULT_RATE), rate, sizeof rate);
	snprintf(v->title, sizeof v->title, "Estimate for %zu jobs; basis: %d workers, %s/s %s", v->tbl.n, workers,
	         rate, total > 0 ? "measured over the last hour" : "each (default, none measured)");
}

/* Reads the jobs, the blackout windows and (when a window names a site or
 * a mailbox) where each mailbox is, then computes. */
static void sched_load(struct ui *u, struct view *v)
{
	struct sched *s = v->priv;
	struct err e;
	win_free_all(s);
	s->need_mailboxes = false;
	tbl_clear(&v->tbl);
	struct load_ctx lc = { v, 0 };
	/* The jobs come from Mailbox Jobs' rows, which are kept up to date by
	 * revision: no full read of the queue here. */
	if (store_rev(u->st, &s->rev, &e) || store_blackout_each(u->st, put_window, s, &e)) {
		ui_error(u, "%s", e.msg);
		return;
	}
	jobs_each(u, true, put_job, &lc);
	if (s->need_mailboxes) {
		if (store_mailbox_rows(u->st, 0, 0, put_mailbox, s, NULL, &e))
			ui_error(u, "%s", e.msg);
		qsort(s->mb, s->nmb, sizeof *s->mb, mb_cmp);
	}
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
	win_free_all(s);
	free(s->w);
	free(s->mb);
	free(s);
	v->priv = NULL;
}

const struct view_ops view_schedule_ops = {
	.open = sched_open, .tick = sched_tick, .close = sched_close,
	.empty = "Nothing queued: the schedule estimates when queued jobs will start and end.",
};
