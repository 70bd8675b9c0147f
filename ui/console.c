/* console.c - full-screen console: toolbar, data panel, status bar; see
 * console.h.  Each view is a small table of callbacks; the keys of every
 * view come from one table, which also writes the Help screen. */
#include "config.h"

#include "console.h"

#include <curses.h>
#include <locale.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "store.h"

/* --- rows read from the store --------------------------------------------- */

struct row {
	int64_t id;          /* stable id: the cursor follows it across reloads */
	char *text;
};

struct rows {
	struct row *v;
	size_t n, cap;
};

static void rows_clear(struct rows *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].text);
	r->n = 0;
}

static void rows_add(struct rows *r, int64_t id, char *text)
{
	r->v = x_grow(r->v, r->n, &r->cap, sizeof *r->v, 64);
	r->v[r->n].id = id;
	r->v[r->n].text = text;
	r->n++;
}

static void add_job_row(void *ctx, const struct job *j, const char *src_ep, const char *dst_ep)
{
	char *t = x_asprintf("%5lld  %-9s  %-8s  %s:%s -> %s:%s  %lld msgs  %.1f MB  %lld skipped  %lld failed%s%s",
	                     (long long)j->id, job_state_name(j->state), pass_kind_name(j->o.pass), src_ep,
	                     j->src_user, dst_ep, j->dst_user, (long long)j->items_done,
	                     (double)j->bytes_done / 1e6, (long long)j->items_skipped,
	                     (long long)j->items_failed, j->error ? "  " : "", j->error ? j->error : "");
	rows_add(ctx, j->id, t);
}

static void add_event_row(void *ctx, int64_t ts, int level, int64_t job, const char *msg)
{
	static const char *const lv[] = { "ERROR", "WARN ", "INFO " };
	time_t t = (time_t)ts;
	struct tm tm;
	char when[32];
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%H:%M:%S", &tm);
	struct rows *r = ctx;
	rows_add(r, (int64_t)r->n, x_asprintf("%s %s job %-4lld %s", when, lv[level < 0 || level > 2 ? 2 : level],
	                                      (long long)job, msg));
}

/* Summary: jobs by state and what they copied. */
struct ui;
static void load_summary(struct ui *u, struct rows *r);

/* Metrics: one bar per minute of throughput samples. */
struct minute { int64_t t, items, bytes; };
struct metrics {
	struct rows *rows;
	int width;
	struct minute *v;
	size_t n, cap;
};

static void collect_minute(void *ctx, int64_t minute, int64_t items, int64_t bytes)
{
	struct metrics *mx = ctx;
	mx->v = x_grow(mx->v, mx->n, &mx->cap, sizeof *mx->v, 64);
	mx->v[mx->n++] = (struct minute){ minute, items, bytes };
}

static void draw_chart(struct metrics *mx)
{
	int64_t peak = 1;
	for (size_t i = 0; i < mx->n; i++)
		if (mx->v[i].items > peak)
			peak = mx->v[i].items;
	int bar_max = mx->width - 40 > 10 ? mx->width - 40 : 10;
	for (size_t i = 0; i < mx->n; i++) {
		time_t t = (time_t)mx->v[i].t;
		struct tm tm;
		char when[16];
		gmtime_r(&t, &tm);
		strftime(when, sizeof when, "%H:%M", &tm);
		int len = (int)(mx->v[i].items * bar_max / peak);
		if (len == 0 && mx->v[i].items > 0)
			len = 1;
		char *bar = x_malloc((size_t)len + 1);
		memset(bar, '#', (size_t)len);
		bar[len] = '\0';
		rows_add(mx->rows, mx->v[i].t, x_asprintf("%s %7lld msg/min %8.1f MB  %s", when,
		         (long long)mx->v[i].items, (double)mx->v[i].bytes / 1e6, bar));
		free(bar);
	}
}

/* --- views ------------------------------------------------------------------ */

enum view_id { VIEW_JOBS, VIEW_EVENTS, VIEW_SUMMARY, VIEW_METRICS, VIEW_HELP, VIEW__COUNT };

struct view {
	const char *name;
	const char *title;
	struct rows rows;
	size_t cursor, top;
	int64_t cursor_id;
};

struct ui {
	struct store *st;
	const struct console_opts *o;
	struct view views[VIEW__COUNT];
	enum view_id cur;
	char status[600];
	bool quit;
	pthread_t engine;
	bool engine_started;
	atomic_int engine_done;
	volatile int cancel;
	struct err engine_err;
	enum st engine_st;
	int64_t confirm_cancel;     /* job waiting for a y/n answer, 0 for none */
};

/* The key table: one source for dispatch and for the Help screen. */
enum action { ACT_JOBS, ACT_EVENTS, ACT_SUMMARY, ACT_METRICS, ACT_HELP, ACT_UP, ACT_DOWN, ACT_PGUP, ACT_PGDN, ACT_HOME,
              ACT_END, ACT_QUIT, ACT_CANCEL, ACT_RETRY, ACT_TOP, ACT_BOTTOM };

static const struct keybind {
	int key;
	const char *name;
	enum action act;
	const char *help;
} keys[] = {
	{ '1', "1", ACT_JOBS, "Mailbox Jobs: the queue, live" },
	{ KEY_F(1), "F1", ACT_JOBS, "Mailbox Jobs" },
	{ '2', "2", ACT_EVENTS, "Event log: what the engine did" },
	{ KEY_F(2), "F2", ACT_EVENTS, "Event log" },
	{ '3', "3", ACT_SUMMARY, "Summary: jobs by state, messages and bytes copied" },
	{ KEY_F(3), "F3", ACT_SUMMARY, "Summary" },
	{ '4', "4", ACT_METRICS, "Metrics: messages per minute, as a chart" },
	{ KEY_F(4), "F4", ACT_METRICS, "Metrics" },
	{ '?', "?", ACT_HELP, "this help" },
	{ KEY_UP, "Up", ACT_UP, "previous row" },
	{ 'k', "k", ACT_UP, "previous row" },
	{ KEY_DOWN, "Down", ACT_DOWN, "next row" },
	{ 'j', "j", ACT_DOWN, "next row" },
	{ KEY_PPAGE, "PgUp", ACT_PGUP, "page up" },
	{ KEY_NPAGE, "PgDn", ACT_PGDN, "page down" },
	{ KEY_HOME, "Home", ACT_HOME, "first row" },
	{ KEY_END, "End", ACT_END, "last row" },
	{ 'c', "c", ACT_CANCEL, "Mailbox Jobs: cancel the selected queued job (asks first)" },
	{ 'r', "r", ACT_RETRY, "Mailbox Jobs: queue a failed, partial or cancelled job again" },
	{ 't', "t", ACT_TOP, "Mailbox Jobs: move the selected queued job to the top" },
	{ 'b', "b", ACT_BOTTOM, "Mailbox Jobs: move the selected queued job to the bottom" },
	{ 'q', "q", ACT_QUIT, "quit (running jobs stop at a checkpoint and stay queued)" },
	{ 3, "Ctrl-C", ACT_QUIT, "quit" },
	{ KEY_F(10), "F10", ACT_QUIT, "quit" },
};

static void load_summary(struct ui *u, struct rows *r)
{
	int64_t c[7], items = 0, bytes = 0;
	struct err e;
	if (store_job_counts(u->st, c, &e) || store_run_totals(u->st, 0, &items, &bytes, &e)) {
		snprintf(u->status, sizeof u->status, "%s", e.msg);
		return;
	}
	int64_t total = 0;
	for (int i = 0; i < 7; i++)
		total += c[i];
	rows_add(r, 1, x_asprintf("  Mailbox jobs          %lld", (long long)total));
	for (int i = 0; i < 7; i++)
		rows_add(r, 2 + i, x_asprintf("    %-18s  %lld", job_state_name((enum job_state)i), (long long)c[i]));
	rows_add(r, 10, x_asprintf("  Messages copied       %lld", (long long)items));
	rows_add(r, 11, x_asprintf("  Data copied           %.1f MB", (double)bytes / 1e6));
}

static void load_view(struct ui *u, enum view_id id)
{
	struct view *v = &u->views[id];
	struct err e;
	rows_clear(&v->rows);
	switch (id) {
	case VIEW_JOBS:
		if (store_job_each(u->st, true, add_job_row, &v->rows, &e))
			snprintf(u->status, sizeof u->status, "%s", e.msg);
		break;
	case VIEW_EVENTS:
		if (store_event_each(u->st, 0, 500, add_event_row, &v->rows, &e))
			snprintf(u->status, sizeof u->status, "%s", e.msg);
		break;
	case VIEW_SUMMARY:
		load_summary(u, &v->rows);
		break;
	case VIEW_METRICS: {
		struct metrics mx = { .rows = &v->rows, .width = getmaxx(stdscr) };
		if (store_sample_minutes(u->st, 500, collect_minute, &mx, &e))
			snprintf(u->status, sizeof u->status, "%s", e.msg);
		draw_chart(&mx);
		free(mx.v);
		break;
	}
	case VIEW_HELP:
		for (size_t i = 0; i < countof(keys); i++)
			rows_add(&v->rows, (int64_t)i, x_asprintf("  %-6s %s", keys[i].name, keys[i].help));
		break;
	default:
		break;
	}
	/* Keep the cursor on the same row (by id) when the data changes. */
	for (size_t i = 0; i < v->rows.n; i++)
		if (v->rows.v[i].id == v->cursor_id) {
			v->cursor = i;
			break;
		}
	if (v->cursor >= v->rows.n)
		v->cursor = v->rows.n ? v->rows.n - 1 : 0;
}

/* --- drawing -------------------------------------------------------------- */

static void draw(struct ui *u)
{
	int h, w;
	getmaxyx(stdscr, h, w);
	erase();
	/* Toolbar. */
	attron(A_REVERSE);
	mvhline(0, 0, ' ', w);
	int x = 1;
	for (int i = 0; i < VIEW__COUNT; i++) {
		const struct view *v = &u->views[i];
		if (i == (int)u->cur)
			attron(A_BOLD);
		mvprintw(0, x, " %s ", v->name);
		if (i == (int)u->cur)
			attroff(A_BOLD);
		x += (int)strlen(v->name) + 3;
	}
	attroff(A_REVERSE);
	/* Data panel. */
	struct view *v = &u->views[u->cur];
	mvprintw(1, 0, "%.*s", w, v->title);
	int rows = h - 3;
	if (rows < 1)
		rows = 1;
	if (v->cursor < v->top)
		v->top = v->cursor;
	if (v->cursor >= v->top + (size_t)rows)
		v->top = v->cursor - (size_t)rows + 1;
	for (int r = 0; r < rows && v->top + (size_t)r < v->rows.n; r++) {
		size_t i = v->top + (size_t)r;
		if (i == v->cursor)
			attron(A_REVERSE);
		mvprintw(2 + r, 0, "%-*.*s", w, w, v->rows.v[i].text);
		if (i == v->cursor)
			attroff(A_REVERSE);
	}
	if (v->rows.n == 0)
		mvprintw(3, 2, "%s", u->cur == VIEW_JOBS ? "No jobs yet: queue some with 'mailferry queue'."
		                                        : "Nothing yet.");
	/* Status bar. */
	int64_t c[7];
	struct err e;
	char line[256] = "";
	if (!store_job_counts(u->st, c, &e))
		snprintf(line, sizeof line, " %lld running, %lld queued, %lld completed, %lld partial, %lld failed"
		         " | engine %s | ? help  q quit",
		         (long long)c[JOB_RUNNING], (long long)c[JOB_QUEUED], (long long)c[JOB_COMPLETED],
		         (long long)c[JOB_PARTIAL], (long long)c[JOB_FAILED],
		         !u->engine_started ? "off" : atomic_load(&u->engine_done) ? "idle" : "working");
	attron(A_REVERSE);
	mvhline(h - 1, 0, ' ', w);
	mvprintw(h - 1, 0, "%.*s", w, u->status[0] ? u->status : line);
	attroff(A_REVERSE);
	refresh();
}

/* --- the engine thread ------------------------------------------------------ */

static void *engine_main(void *arg)
{
	struct ui *u = arg;
	struct engine_opts eo = { .cfg = u->o->cfg, .store_path = u->o->store_path,
	                          .workers = u->o->workers, .progress = false, .cancel = &u->cancel };
	/* Runs the queue, then looks again now and then for new jobs. */
	while (!u->cancel) {
		atomic_store(&u->engine_done, 0);
		u->engine_st = engine_run_queue(&eo, &u->engine_err);
		atomic_store(&u->engine_done, 1);
		for (int i = 0; i < 20 && !u->cancel; i++)
			usleep(100000);
	}
	return NULL;
}

/* --- keys --------------------------------------------------------------------- */

/* Actions on the selected job: they change the store, which the engine
 * reads; every destructive one asks first. */
static void job_action(struct ui *u, enum action a)
{
	struct view *v = &u->views[VIEW_JOBS];
	if (u->cur != VIEW_JOBS || v->cursor >= v->rows.n) {
		snprintf(u->status, sizeof u->status, " select a job in Mailbox Jobs (key 1) first");
		return;
	}
	int64_t id = v->rows.v[v->cursor].id;
	struct err e;
	enum st s = ST_OK;
	switch (a) {
	case ACT_CANCEL:
		u->confirm_cancel = id;
		snprintf(u->status, sizeof u->status, " cancel job %lld? y/n", (long long)id);
		return;
	case ACT_RETRY: s = store_job_retry(u->st, id, &e); break;
	case ACT_TOP: s = store_job_move(u->st, id, true, &e); break;
	case ACT_BOTTOM: s = store_job_move(u->st, id, false, &e); break;
	default: return;
	}
	if (s)
		snprintf(u->status, sizeof u->status, " %s", e.msg);
	else
		snprintf(u->status, sizeof u->status, " job %lld %s", (long long)id,
		         a == ACT_RETRY ? "queued again" : a == ACT_TOP ? "moved to the top" : "moved to the bottom");
}

static void answer_confirm(struct ui *u, int ch)
{
	int64_t id = u->confirm_cancel;
	u->confirm_cancel = 0;
	struct err e;
	if (ch != 'y' && ch != 'Y')
		snprintf(u->status, sizeof u->status, " job %lld left as it was", (long long)id);
	else if (store_job_cancel(u->st, id, &e))
		snprintf(u->status, sizeof u->status, " %s", e.msg);
	else
		snprintf(u->status, sizeof u->status, " job %lld cancelled", (long long)id);
}

static void act(struct ui *u, enum action a)
{
	struct view *v = &u->views[u->cur];
	int h = getmaxy(stdscr) - 3;
	size_t page = h > 1 ? (size_t)h : 1;
	switch (a) {
	case ACT_JOBS: u->cur = VIEW_JOBS; break;
	case ACT_EVENTS: u->cur = VIEW_EVENTS; break;
	case ACT_SUMMARY: u->cur = VIEW_SUMMARY; break;
	case ACT_METRICS: u->cur = VIEW_METRICS; break;
	case ACT_HELP: u->cur = VIEW_HELP; break;
	case ACT_UP: if (v->cursor > 0) v->cursor--; break;
	case ACT_DOWN: if (v->cursor + 1 < v->rows.n) v->cursor++; break;
	case ACT_PGUP: v->cursor = v->cursor > page ? v->cursor - page : 0; break;
	case ACT_PGDN: v->cursor = v->cursor + page < v->rows.n ? v->cursor + page : (v->rows.n ? v->rows.n - 1 : 0); break;
	case ACT_HOME: v->cursor = 0; break;
	case ACT_END: v->cursor = v->rows.n ? v->rows.n - 1 : 0; break;
	case ACT_QUIT: u->quit = true; break;
	case ACT_CANCEL:
	case ACT_RETRY:
	case ACT_TOP:
	case ACT_BOTTOM:
		job_action(u, a);
		break;
	}
	if (v->cursor < v->rows.n)
		v->cursor_id = v->rows.v[v->cursor].id;
}

int console_run(const struct console_opts *o)
{
	struct ui u = { .o = o };
	struct err e;
	if (store_open(o->store_path, &u.st, &e)) {
		fprintf(stderr, "mailferry: %s\n", e.msg);
		return st_exit_code(e.code);
	}
	u.views[VIEW_JOBS] = (struct view){ .name = "1 Mailbox Jobs",
		.title = "   ID  STATE      PASS      SOURCE -> TARGET  PROGRESS" };
	u.views[VIEW_EVENTS] = (struct view){ .name = "2 Event log", .title = "TIME     LEVEL  JOB   WHAT" };
	u.views[VIEW_SUMMARY] = (struct view){ .name = "3 Summary", .title = "Summary of all jobs" };
	u.views[VIEW_METRICS] = (struct view){ .name = "4 Metrics",
		.title = "TIME   MESSAGES/MIN         DATA  (one bar per minute)" };
	u.views[VIEW_HELP] = (struct view){ .name = "? Help", .title = "Keys (the same in every view):" };
	/* Signals go to this thread only: block them before the engine starts. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGWINCH);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (o->run_engine && pthread_create(&u.engine, NULL, engine_main, &u) == 0)
		u.engine_started = true;
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	initscr();
	raw();          /* Ctrl-C is a key here: quitting stops jobs cleanly */
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	timeout(250);   /* the store is read again four times a second */
	while (!u.quit) {
		load_view(&u, u.cur);
		draw(&u);
		int ch = getch();
		if (ch == ERR || ch == KEY_RESIZE)
			continue;
		if (u.confirm_cancel) {
			answer_confirm(&u, ch);
			continue;
		}
		u.status[0] = '\0';
		for (size_t i = 0; i < countof(keys); i++)
			if (keys[i].key == ch) {
				act(&u, keys[i].act);
				break;
			}
	}
	if (u.engine_started) {
		/* Jobs stop at their next checkpoint and go back to the queue. */
		u.cancel = 1;
		snprintf(u.status, sizeof u.status, " stopping: running jobs finish their current step...");
		draw(&u);
		pthread_join(u.engine, NULL);
	}
	endwin();
	for (int i = 0; i < VIEW__COUNT; i++) {
		rows_clear(&u.views[i].rows);
		free(u.views[i].rows.v);
	}
	store_close(&u.st);
	return 0;
}
