/* view_metrics.c - Metrics: throughput history from the engine's samples as
 * a bar chart, one bar per minute, hour or day (Left/Right change the
 * period), with messages, data and mailboxes completed per bucket (from
 * the jobs' finish times). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
static void col_bytes(const void *r, char *b, size_t n) { fmt_bytes(((const struct m_row *)r)->bytes, b, n); }
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

struct m_load {
	struct view *v;
	int period;
	int64_t since;
};

static struct m_row *bucket(struct m_load *l, int64_t ts)
{
	int64_t secs = periods[l->period].secs;
	/* Local days and hours: shift by the UTC offset before rounding. */
	time_t tt = (time_t)ts;
	struct tm tm;
	localtime_r(&tt, &tm);
	int64_t off = tm.tm_gmtoff;
	int64_t t = (ts + off) / secs * secs - off;
	struct m_row *r = tbl_find(&l->v->tbl, t);
	if (!r) {
		r = tbl_upsert(&l->v->tbl, t);
		*r = (struct m_row){ .t = t, .period = l->period };
	}
	return r;
}

static void add_minute(void *ctx, int64_t minute, int64_t items, int64_t bytes)
{
	struct m_load *l = ctx;
	if (minute < l->since)
		return;
	struct m_row *r = bucket(l, minute);
	r->items += items;
	r->bytes += bytes;
}

/* Mailboxes completed per bucket: jobs that ended completed or partial,
 * by their finish time. */
static void add_finished(void *ctx, const struct job_brief *b)
{
	struct m_load *l = ctx;
	if ((b->state == JOB_COMPLETED || b->state == JOB_PARTIAL) && b->finished >= l->since)
		bucket(l, b->finished)->completed++;
}

static void metrics_open(struct ui *u, struct view *v)
{
	if (!v->has_tbl) {
		tbl_init(&v->tbl, &ops);
		v->has_tbl = true;
		v->priv = x_calloc(1, sizeof(int));
		v->tbl.cursor = (size_t)-1;
	}
	int period = *(int *)v->priv;
	tbl_clear(&v->tbl);
	struct m_load l = { v, period, clock_now() - periods[period].secs * periods[period].buckets };
	struct err e;
	int minutes = (int)(periods[period].secs * periods[period].buckets / 60);
	if (store_sample_minutes(u->st, minutes, add_minute, &l, &e))
		ui_error(u, "%s", e.msg);
	jobs_each(u, false, add_finished, &l);
	int64_t peak = 0, items = 0, bytes = 0;
	for (size_t i = 0; i < v->tbl.n; i++) {
		struct m_row *r = (struct m_row *)(v->tbl.rows + i * sizeof *r);
		if (r->items > peak)
			peak = r->items;
		items += r->items;
		bytes += r->bytes;
	}
	for (size_t i = 0; i < v->tbl.n; i++)
		((struct m_row *)(v->tbl.rows + i * sizeof(struct m_row)))->peak = peak;
	char it[32], by[32];
	fmt_count(items, it, sizeof it);
	fmt_bytes(bytes, by, sizeof by);
	snprintf(v->title, sizeof v->title, "Per %s over the last %d %s: %s messages, %s (Left/Right: period)",
	         periods[period].per, periods[period].buckets, periods[period].name, it, by);
}

static bool metrics_act(struct ui *u, struct view *v, enum action a, const char *arg)
{
	if (a != ACT_PERIOD)
		return false;
	int *p = v->priv;
	int next = *p;
	if (arg && arg[0] != '+' && arg[0] != '-') {
		for (int i = 0; i < (int)countof(periods); i++)
			if (strncmp(arg, periods[i].name, strlen(arg)) == 0)
				next = i;
	}
	if (arg && (arg[0] == '+' || arg[0] == '-')) {
		next = *p + atoi(arg);
		next = next < 0 ? 0 : next >= (int)countof(periods) ? (int)countof(periods) - 1 : next;
	}
	*p = next;
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

/* New samples arrive once a minute per running job: a look every 2 s. */
static void metrics_tick(struct ui *u, struct view *v)
{
	static int64_t last;
	int64_t now = clock_mono_ms();
	if (now - last < 2000)
		return;
	last = now;
	metrics_open(u, v);
}

const struct view_ops view_metrics_ops = {
	.open = metrics_open, .tick = metrics_tick, .act = metrics_act, .close = metrics_close,
	.empty = "No throughput yet: the engine samples every minute while it copies.",
};
