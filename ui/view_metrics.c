/* view_metrics.c - Metrics: throughput history from the engine's samples as
 * a bar chart, one bar per minute, hour or day (Left/Right change the
 * period), with messages, data and mailboxes completed per bucket (from
 * the jobs' finish times), for every endpoint together or one target
 * endpoint (f cycles through them).  x exports what is shown to a CSV file
 * (the path asked in a prompt), the same CSV as `mailferry metrics --csv`.
 * The buckets come from metrics.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "ui.h"

struct m_row {
	int64_t t;              /* bucket start; also the id */
	int64_t items, bytes, completed;
	int64_t peak;           /* largest items of the shown buckets */
	int period;
};

static const struct {
	const char *name, *per;
	int64_t secs;
	int buckets;
} periods[] = {
	{ "minutes", "min", 60, 180 },
	{ "hours", "hour", 3600, 72 },
	{ "days", "day", 86400, 60 },
};

static int64_t m_id(const void *r) { return ((const struct m_row *)r)->t; }

static void col_time(const void *r, char *b, size_t n)
{
	const struct m_row *m = r;
	time_t t = (time_t)m->t;
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(b, n, m->period == 2 ? "%Y-%m-%d" : m->period == 1 ? "%m-%d %H:00" : "%m-%d %H:%M", &tm);
}

static void col_items(const void *r, char *b, size_t n) { fmt_count(((const struct m_row *)r)->items, b, n); }
static void col_bytes(const void *r, char *b, size_t n) { txt_bytes(((const struct m_row *)r)->bytes, b, n); }
static void col_done(const void *r, char *b, size_t n) { fmt_count(((const struct m_row *)r)->completed, b, n); }

static void col_bar(const void *r, char *b, size_t n)
{
	const struct m_row *m = r;
	int len = m->peak ? (int)(m->items * 40 / m->peak) : 0;
	if (len == 0 && m->items > 0)
		len = 1;
	size_t k = 0;
	for (int i = 0; i < len && k + 4 < n; i++) {
		memcpy(b + k, "\xe2\x96\x88", 3);     /* a full block */
		k += 3;
	}
	b[k] = '\0';
}

#define CMP_FIELD(name, field) \
	static int name(const void *a, const void *b) \
	{ \
		int64_t x = ((const struct m_row *)a)->field, y = ((const struct m_row *)b)->field; \
		return x < y ? -1 : x > y; \
	}
CMP_FIELD(cmp_t, t)
CMP_FIELD(cmp_items, items)
CMP_FIELD(cmp_bytes, bytes)
CMP_FIELD(cmp_done, completed)

static const struct tbl_col cols[] = {
	{ "WHEN", "time", 12, false, col_time, cmp_t, false },
	{ "MESSAGES", "messages", 10, true, col_items, cmp_items, false },
	{ "DATA", "data", 9, true, col_bytes, cmp_bytes, false },
	{ "MAILBOXES DONE", "done", 14, true, col_done, cmp_done, false },
	{ "MESSAGES (chart)", "chart", 0, false, col_bar, cmp_items, false },
};

static const struct tbl_ops ops = { cols, (int)countof(cols), sizeof(struct m_row), m_id, NULL, NULL, 0 };

/* What the view shows: the period (index into periods[]) and the endpoint
 * (0: every endpoint together). */
struct m_state {
	int period;
	int64_t endpoint_id;
	int64_t last;           /* clock_mono_ms of the last load */
};

static int64_t since_of(int period)
{
	enum metrics_period p = (enum metrics_period)period;
	return metrics_bucket_of(clock_now(), p) - (periods[period].buckets - 1) * metrics_period_secs(p);
}

/* The buckets the view shows (its period and endpoint) into m, which the
 * caller frees; false, with the reason on the status line, when the store
 * could not be read. */
static bool load_shown(struct ui *u, const struct m_state *ms, struct metrics *m)
{
	struct err e;
	if (metrics_load(u->st, (enum metrics_period)ms->period, since_of(ms->period), ms->endpoint_id, false, m,
	                 &e)) {
		ui_error(u, "%s", e.msg);
		return false;
	}
	return true;
}

static void metrics_open(struct ui *u, struct view *v)
{
	if (!v->has_tbl) {
		tbl_init(&v->tbl, &ops);
		v->has_tbl = true;
		v->priv = x_calloc(1, sizeof(struct m_state));
		v->tbl.cursor = (size_t)-1;
	}
	struct m_state *ms = v->priv;
	ms->last = clock_mono_ms();
	tbl_clear(&v->tbl);
	struct metrics m;
	if (!load_shown(u, ms, &m))
		return;
	int64_t peak = 0, items = 0, bytes = 0;
	for (size_t i = 0; i < m.n; i++) {
		const struct metrics_row *r = &m.rows[i];
		struct m_row *row = tbl_upsert(&v->tbl, r->t);
		*row = (struct m_row){ .t = r->t, .items = r->items, .bytes = r->bytes, .completed = r->completed,
		                       .period = ms->period };
		if (r->items > peak)
			peak = r->items;
		items += r->items;
		bytes += r->bytes;
	}
	for (size_t i = 0; i < v->tbl.n; i++)
		((struct m_row *)(v->tbl.rows + i * sizeof(struct m_row)))->peak = peak;
	char it[32], by[32];
	fmt_count(items, it, sizeof it);
	txt_bytes(bytes, by, sizeof by);
	const char *ep = metrics_endpoint_name(&m, ms->endpoint_id);
	snprintf(v->title, sizeof v->title, "Per %s over the last %d %s, %s%s: %s messages, %s (Left/Right: period, "
	         "f: endpoint, x: CSV)", periods[ms->period].per, periods[ms->period].buckets, periods[ms->period].name,
	         ms->endpoint_id ? "target " : "all endpoints", ms->endpoint_id ? ep : "", it, by);
	metrics_free(&m);
}

struct ep_pick {
	int64_t after, next;
	char name[128];
};

static void pick_endpoint(void *ctx, const struct endpoint *ep)
{
	struct ep_pick *p = ctx;
	if (ep->id > p->after && (!p->next || ep->id < p->next)) {
		p->next = ep->id;
		snprintf(p->name, sizeof p->name, "%s", ep->name);
	}
}

/* The next endpoint after the one shown, by id (after the last: all). */
static void next_endpoint(struct ui *u, struct m_state *ms)
{
	struct ep_pick p = { .after = ms->endpoint_id };
	struct err e;
	if (store_endpoint_each(u->st, pick_endpoint, &p, &e)) {
		ui_error(u, "%s", e.msg);
		return;
	}
	ms->endpoint_id = p.next;
	ui_say(u, "Metrics: %s", p.next ? p.name : "every endpoint together");
}

static void export_fn(struct ui *u, const char *text, bool done, bool cancelled, void *ctx)
{
	struct view *v = ctx;
	if (cancelled || !done)
		return;
	if (!text || !*text) {
		ui_error(u, "no file given: nothing exported");
		return;
	}
	struct m_state *ms = v->priv;
	struct metrics m;
	if (!load_shown(u, ms, &m))
		return;
	FILE *f = fopen(text, "w");
	if (!f) {
		ui_error(u, "cannot write %s: %s", text, strerror(errno));
		metrics_free(&m);
		return;
	}
	metrics_write_csv(f, &m);
	if (fclose(f) != 0)
		ui_error(u, "writing %s: %s", text, strerror(errno));
	else
		ui_say(u, "%zu rows exported to %s", m.n, text);
	metrics_free(&m);
}

static bool metrics_act(struct ui *u, struct view *v, enum action a, const char *arg)
{
	struct m_state *ms = v->priv;
	if (a == ACT_FILTER) {
		next_endpoint(u, ms);
		metrics_open(u, v);
		tbl_arrange(&v->tbl);
		return true;
	}
	if (a == ACT_SAVE) {
		char path[64];
		snprintf(path, sizeof path, "mailferry-metrics-%s.csv", metrics_period_name((enum metrics_period)ms->period));
		if (arg && *arg)
			export_fn(u, arg, true, false, v);
		else
			ui_prompt(u, "Export to CSV file: ", path, false, export_fn, v);
		return true;
	}
	if (a != ACT_PERIOD)
		return false;
	int next = ms->period;
	if (arg && arg[0] != '+' && arg[0] != '-') {
		for (int i = 0; i < (int)countof(periods); i++)
			if (strncmp(arg, periods[i].name, strlen(arg)) == 0)
				next = i;
	}
	if (arg && (arg[0] == '+' || arg[0] == '-')) {
		next = ms->period + atoi(arg);
		next = next < 0 ? 0 : next >= (int)countof(periods) ? (int)countof(periods) - 1 : next;
	}
	ms->period = next;
	metrics_open(u, v);
	tbl_arrange(&v->tbl);
	return true;
}

static void metrics_close(struct ui *u, struct view *v)
{
	(void)u;
	free(v->priv);
	v->priv = NULL;
}

/* New samples arrive as chunks are copied: a look every 2 s. */
static void metrics_tick(struct ui *u, struct view *v)
{
	struct m_state *ms = v->priv;
	if (clock_mono_ms() - ms->last < 2000)
		return;
	metrics_open(u, v);
}

const struct view_ops view_metrics_ops = {
	.open = metrics_open, .tick = metrics_tick, .act = metrics_act, .close = metrics_close,
	.empty = "No throughput yet: the engine samples as it copies (f: another endpoint).",
};
