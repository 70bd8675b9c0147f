/* console_bench.c - how fast the console is on a big project, headless:
 * seeds a store with 100 000 mailboxes and 100 000 jobs (plus events,
 * delegations and samples), then times opening every view, sorting by
 * every column, filtering as you type and grouping, each including one
 * frame drawn into a curses screen written to /dev/null.
 *
 * Run: make bench-console   (or tests/bench/console_bench [N] [STORE])
 * Everything runs in 3 rounds, each a new console on the same store;
 * prints each operation's median and worst, and exits 1 when a median is
 * over the 50 ms budget. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "ui.h"

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void die(const struct err *e)
{
	fprintf(stderr, "console_bench: %s\n", e->msg);
	exit(70);
}

static int64_t add_endpoint(struct store *st, const char *name, int64_t forest)
{
	struct endpoint ep = { .name = (char *)name, .url = (char *)"imap://127.0.0.1:1",
	                       .admin_user = (char *)"admin", .secret_ref = (char *)"env:NONE",
	                       .max_connections = 10, .forest_id = forest };
	struct err e;
	if (store_endpoint_add(st, &ep, &e))
		die(&e);
	struct endpoint got;
	if (store_endpoint_get(st, name, &got, &e))
		die(&e);
	int64_t id = got.id;
	endpoint_free(&got);
	return id;
}

static int64_t add_forest(struct store *st, const char *name, const char *role)
{
	struct forest f = { .name = (char *)name, .role = (char *)role };
	struct err e;
	if (store_forest_add(st, &f, &e))
		die(&e);
	return f.id;
}

/* 100 000 mailboxes over 40 sites and 200 databases, each with a job. */
static void seed(struct store *st, int n)
{
	struct err e;
	double t0 = now_ms();
	if (store_begin(st, &e))
		die(&e);
	int64_t fs = add_forest(st, "corp.example", "source");
	int64_t fd = add_forest(st, "new.example", "target");
	int64_t src = add_endpoint(st, "old-imap", fs);
	int64_t dst = add_endpoint(st, "new-imap", fd);
	static const char *const kinds[] = { "user", "user", "user", "shared", "room", "equipment" };
	for (int i = 0; i < n; i++) {
		char login[32], addr[64], name[64], site[16], db[16];
		snprintf(login, sizeof login, "user%06d", i);
		snprintf(addr, sizeof addr, "user%06d@corp.example", i);
		snprintf(name, sizeof name, "User %d Ångström", (i * 7919) % n);
		snprintf(site, sizeof site, "site%02d", i % 40);
		snprintf(db, sizeof db, "db%03d", i % 200);
		struct mailbox_row m = { .endpoint_id = src, .login = login, .address = addr, .display_name = name,
		                         .site = site, .database = db, .kind = kinds[i % 6],
		                         .size_bytes = (int64_t)((i * 104729LL) % 5000000000LL),
		                         .items = (i * 31) % 90000, .folders = 5 + i % 60 };
		int64_t id;
		if (store_mailbox_upsert(st, &m, &id, &e))
			die(&e);
		if (i > 0 && i % 50 == 0 && store_delegate_add(st, id, id - 1, "FullAccess", "bench", &e))
			die(&e);
		struct job j = { .src_ep = src, .dst_ep = dst, .src_user = login, .dst_user = login,
		                 .priority = 100 + i % 3 };
		j.o.pass = PASS_FULL;
		j.o.bad_item_limit = 50;
		j.o.sep_char = '_';
		if (store_job_add(st, &j, &e))
			die(&e);
	}
	if (store_commit(st, &e))
		die(&e);
	for (int i = 0; i < 2000; i++)
		store_event(st, i % 7 ? EV_INFO : EV_WARN, 1 + i, "pass finished: %d messages copied", i);
	printf("seeded %d mailboxes and %d jobs in %.1f s\n", n, n, (now_ms() - t0) / 1e3);
}

/* Each operation is timed in every round; the median of the rounds is
 * what counts (a 2-core VM has noisy neighbours), the worst is shown too. */
#define ROUNDS 3
#define MAX_OPS 128
static struct op {
	char what[96];
	double ms[ROUNDS];
	int n;
} ops[MAX_OPS];
static int nops;

static void report(const char *what, double ms)
{
	int i = 0;
	while (i < nops && strcmp(ops[i].what, what) != 0)
		i++;
	if (i == nops) {
		if (nops == MAX_OPS)
			return;
		snprintf(ops[nops++].what, sizeof ops[0].what, "%s", what);
	}
	if (ops[i].n < ROUNDS)
		ops[i].ms[ops[i].n++] = ms;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Prints every operation's median and worst; returns how many medians
 * are over the budget. */
static int print_ops(double *worst_median)
{
	int over = 0;
	*worst_median = 0;
	printf("  %-52s %9s %9s\n", "operation (each includes one frame drawn)", "median", "worst");
	for (int i = 0; i < nops; i++) {
		struct op *o = &ops[i];
		qsort(o->ms, (size_t)o->n, sizeof o->ms[0], cmp_double);
		double med = o->ms[o->n / 2], max = o->ms[o->n - 1];
		printf("  %-52s %6.1f ms %6.1f ms%s\n", o->what, med, max, med > 50 ? "  OVER BUDGET" : "");
		if (med > *worst_median)
			*worst_median = med;
		over += med > 50;
	}
	return over;
}

static void time_view(struct ui *u, enum view_id v, const char *how)
{
	double t0 = now_ms();
	ui_switch(u, v);
	console_draw(u);
	char what[96];
	snprintf(what, sizeof what, "open %s (%s)", u->views[v].name, how);
	report(what, now_ms() - t0);
}

static void time_table(struct ui *u, enum view_id vid)
{
	struct view *v = &u->views[vid];
	ui_switch(u, vid);
	if (!v->has_tbl)
		return;
	struct tbl *t = &v->tbl;
	char what[96];
	for (int c = 0; c < t->ops->ncols; c++) {
		double t0 = now_ms();
		tbl_sort_by(t, c);
		tbl_arrange(t);
		console_draw(u);
		snprintf(what, sizeof what, "%s: sort by %s", v->name, t->ops->cols[c].title);
		report(what, now_ms() - t0);
	}
	/* Search as you type: one arrange and one frame per key. */
	static const char *const typed[] = { "u", "us", "use", "user", "user0", "user01", "user012", "user0123" };
	for (size_t i = 0; i < countof(typed); i++) {
		double t0 = now_ms();
		tbl_set_needle(t, typed[i]);
		tbl_arrange(t);
		console_draw(u);
		snprintf(what, sizeof what, "%s: type \"%s\" (%zu rows)", v->name, typed[i], t->nvis);
		report(what, now_ms() - t0);
	}
	double t0 = now_ms();
	tbl_set_needle(t, "");
	tbl_arrange(t);
	console_draw(u);
	snprintf(what, sizeof what, "%s: clear the search", v->name);
	report(what, now_ms() - t0);
	int g = -1;
	for (int c = 0; c < t->ops->ncols; c++)
		if (t->ops->cols[c].groupable && g < 0)
			g = c;
	if (g >= 0) {
		t0 = now_ms();
		tbl_group_by(t, g);
		tbl_arrange(t);
		console_draw(u);
		snprintf(what, sizeof what, "%s: group by %s (%zu groups)", v->name, t->ops->cols[g].title, t->ngroups);
		report(what, now_ms() - t0);
		tbl_group_by(t, -1);
		tbl_arrange(t);
	}
	t0 = now_ms();
	v->ops->tick(u, v);
	if (t->changed)
		tbl_arrange(t);
	console_draw(u);
	snprintf(what, sizeof what, "%s: refresh with nothing changed", v->name);
	report(what, now_ms() - t0);
}

/* One console, as a person would meet it: start-up, every view opened
 * twice, then sorting, searching and grouping the two big lists.
 * Returns the start-up time. */
static double run_round(const struct console_opts *o, int n)
{
	struct err e;
	struct ui u = { .o = o, .cur = V_JOBS, .back = V_JOBS };
	if (store_open(o->store_path, &u.st, &e))
		die(&e);
	FILE *out = fopen("/dev/null", "w"), *in = fopen("/dev/null", "r");
	SCREEN *scr = newterm("xterm-256color", out, in);
	if (!scr)
		scr = newterm("xterm", out, in);
	if (!scr) {
		fprintf(stderr, "console_bench: no terminal description (install ncurses-base)\n");
		exit(77);
	}
	set_term(scr);
	resizeterm(50, 160);
	u.h = 50;
	u.w = 160;
	console_views_init(&u);
	/* Start-up reads the big tables once (as console_run does); every
	 * later open only reads what changed. */
	double t0 = now_ms();
	console_preload(&u);
	double startup = now_ms() - t0;
	static const enum view_id all[] = { V_JOBS, V_MAILBOXES, V_FORESTS, V_BLACKOUTS, V_SUMMARY, V_SCHEDULE,
	                                    V_METRICS, V_DELEGATION, V_EVENTS, V_SETTINGS, V_HELP, V_ABOUT };
	for (size_t i = 0; i < countof(all); i++)
		time_view(&u, all[i], "first time");
	for (size_t i = 0; i < countof(all); i++)
		time_view(&u, all[i], "again");
	/* Two queued jobs move (a re-run finds the store as the last run left it). */
	for (int moved = 0, id = n / 2; moved < 2 && id < n; id++)
		if (store_job_move(u.st, id, moved == 0, &e) == ST_OK)
			moved++;
	time_view(&u, V_JOBS, "after two jobs changed");
	time_table(&u, V_JOBS);
	time_table(&u, V_MAILBOXES);
	console_views_free(&u);
	endwin();
	delscreen(scr);
	fclose(out);
	fclose(in);
	store_close(&u.st);
	return startup;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100000;
	log_set_level(LOG_ERROR);     /* the seeded warnings are not news */
	char path[256];
	snprintf(path, sizeof path, "%s", argc > 2 ? argv[2] : "/tmp/mailferry-console-bench.db");
	bool fresh = access(path, F_OK) != 0;
	struct err e;
	struct store *st;
	if (store_open(path, &st, &e))
		die(&e);
	int64_t have = 0;
	if (store_job_total(st, &have, &e))
		die(&e);
	if (fresh || have != n) {
		store_close(&st);
		unlink(path);
		if (store_open(path, &st, &e))
			die(&e);
		seed(st, n);
	}
	store_close(&st);

	struct cfg cfg;
	if (cfg_load(&cfg, NULL, false, &e))
		die(&e);
	struct console_opts o = { .cfg = &cfg, .store_path = path, .workers = 4 };
	printf("console on %d mailboxes and %d jobs, 160x50 screen, %d rounds, budget 50 ms per operation\n", n, n,
	       ROUNDS);
	double startup[ROUNDS];
	for (int round = 0; round < ROUNDS; round++)
		startup[round] = run_round(&o, n);
	qsort(startup, ROUNDS, sizeof startup[0], cmp_double);
	printf("  %-52s %6.1f ms %6.1f ms  (once, at start-up)\n", "start-up: load jobs and mailboxes",
	       startup[ROUNDS / 2], startup[ROUNDS - 1]);
	double worst;
	int over = print_ops(&worst);
	printf("worst median: %.1f ms; %d operation%s over 50 ms\n", worst, over, over == 1 ? "" : "s");
	cfg_free(&cfg);
	return over ? 1 : 0;
}
