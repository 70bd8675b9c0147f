/* view_events.c - the Event log: what the engine did, newest last; search
 * with "/", filter by level with "f". */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ui.h"

struct ev_row {
	int64_t id;
	int64_t ts, job;
	int level;
	char *msg;
};

static const char *const level_names[] = { "error", "warning", "info" };

static int64_t ev_id(const void *r) { return ((const struct ev_row *)r)->id; }
static void ev_free(void *r) { free(((struct ev_row *)r)->msg); }

static void col_time(const void *r, char *b, size_t n)
{
	time_t t = (time_t)((const struct ev_row *)r)->ts;
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(b, n, "%m-%d %H:%M:%S", &tm);
}

static void col_level(const void *r, char *b, size_t n)
{
	int l = ((const struct ev_row *)r)->level;
	snprintf(b, n, "%s", level_names[l < 0 || l > 2 ? 2 : l]);
}

static void col_job(const void *r, char *b, size_t n)
{
	int64_t j = ((const struct ev_row *)r)->job;
	if (j)
		snprintf(b, n, "%lld", (long long)j);
	else
		snprintf(b, n, "-");
}

static void col_msg(const void *r, char *b, size_t n) { snprintf(b, n, "%s", ((const struct ev_row *)r)->msg); }

static int cmp_id(const void *a, const void *b)
{
	int64_t x = ev_id(a), y = ev_id(b);
	return x < y ? -1 : x > y;
}

static int cmp_job(const void *a, const void *b)
{
	int64_t x = ((const struct ev_row *)a)->job, y = ((const struct ev_row *)b)->job;
	return x < y ? -1 : x > y;
}

static bool ev_match(const void *r, const char *needle)
{
	const struct ev_row *e = r;
	char job[24];
	snprintf(job, sizeof job, "%lld", (long long)e->job);
	return tbl_contains(e->msg, needle) || strcmp(job, needle) == 0 ||
	       tbl_contains(level_names[e->level < 0 || e->level > 2 ? 2 : e->level], needle);
}

static const struct tbl_col cols[] = {
	{ "TIME", "time", 14, false, col_time, cmp_id, false },
	{ "LEVEL", "level", 7, false, col_level, NULL, true },
	{ "JOB", "job", 6, true, col_job, cmp_job, true },
	{ "WHAT HAPPENED", "what", 0, false, col_msg, NULL, false },
};

static const struct tbl_ops ops = { cols, (int)countof(cols), sizeof(struct ev_row), ev_id, ev_free, ev_match, 0 };

struct ev_state {
	int min_level;          /* rows at this level or more severe: 2 all, 1 warnings, 0 errors */
};

struct ev_load {
	struct view *v;
	int n;
};

static bool ev_filter(const void *r, void *ctx)
{
	const struct ev_state *s = ctx;
	return ((const struct ev_row *)r)->level <= s->min_level;
}

static void add_event(void *ctx, int64_t ts, int level, int64_t job, const char *msg)
{
	struct ev_load *l = ctx;
	/* Ids that stay the same across reloads while the window of the last
	 * 5000 events slides: the time, then the order within the load. */
	int64_t id = ts * 8192 + (l->n++ % 8192);
	struct ev_row *r = tbl_upsert(&l->v->tbl, id);
	*r = (struct ev_row){ id, ts, job, level, x_strdup(msg ? msg : "") };
}

static void events_refresh(struct ui *u, struct view *v)
{
	tbl_clear(&v->tbl);
	struct err e;
	struct ev_load l = { v, 0 };
	if (store_event_each(u->st, 0, 5000, add_event, &l, &e))
		ui_error(u, "%s", e.msg);
}

static void events_open(struct ui *u, struct view *v)
{
	if (!v->has_tbl) {
		tbl_init(&v->tbl, &ops);
		v->has_tbl = true;
		struct ev_state *s = x_calloc(1, sizeof *s);
		s->min_level = 2;
		v->priv = s;
		v->tbl.filter = ev_filter;
		v->tbl.filter_ctx = s;
		v->tbl.cursor = (size_t)-1;
	}
	events_refresh(u, v);
	struct ev_state *s = v->priv;
	snprintf(v->title, sizeof v->title, "Event log, newest last; showing %s (f changes)",
	         s->min_level == 2 ? "everything" : s->min_level == 1 ? "warnings and errors" : "errors only");
}

static void events_close(struct ui *u, struct view *v)
{
	(void)u;
	free(v->priv);
	v->priv = NULL;
}

static bool events_act(struct ui *u, struct view *v, enum action a, const char *arg)
{
	struct ev_state *s = v->priv;
	if (a != ACT_FILTER)
		return false;
	if (arg)
		s->min_level = strncmp(arg, "err", 3) == 0 ? 0 : strncmp(arg, "warn", 4) == 0 ? 1 : 2;
	else
		s->min_level = s->min_level == 0 ? 2 : s->min_level - 1;
	v->tbl.changed = true;
	events_open(u, v);
	ui_say(u, "showing %s", s->min_level == 2 ? "every event" : s->min_level == 1 ? "warnings and errors" : "errors only");
	return true;
}

const struct view_ops view_events_ops = {
	.open = events_open, .tick = events_refresh, .act = events_act, .close = events_close,
	.empty = "No events yet: they appear as the engine works.",
};
