/* forecast_bench.c - how long the schedule forecast takes on a big queue:
 * 10 000 queued jobs (sizes 100 MB to 5 GB, some unknown, some with a
 * start-after time, a tenth suspend-when-ready: of those a quarter each
 * queued, queued with a cutover, ready with a sync due and completing,
 * the last two in memory only) on 6 target endpoints with
 * connection limits, 5 workers, and weekly blackout windows for 6 sites in
 * 3 zones (Europe/Paris, America/New_York, Asia/Tokyo: weeknights and
 * weekends) plus one for everyone, so the queue takes five to six weeks of
 * simulated time (its first four cross the March clock changes) with
 * nearly every job held or stopped by a window at some point.
 *
 * Two timings, each the median of 7 runs:
 *   compute      forecast_run on jobs and windows built in memory;
 *   from store   forecast_queue_run on a store seeded with the same queue
 *                (reading jobs, endpoints, samples and windows included;
 *                the store has no samples, so dst1 copies at the default
 *                rate there and the queue ends a few days sooner).
 * Run: make bench-forecast   (or tests/bench/forecast_bench [JOBS] [STORE])
 * Exits 1 when a median is over the 1 s budget. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "forecast.h"
#include "log.h"
#include "tz.h"

#define RUNS 7
#define BUDGET_MS 1000.0
#define WORKERS 5
#define NEPS 6
#define RATE 2e6        /* bytes/s per job */

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void die(const struct err *e)
{
	fprintf(stderr, "forecast_bench: %s\n", e->msg);
	exit(70);
}

static const struct { const char *zone, *site[2]; } zones[] = {
	{ "Europe/Paris", { "Paris", "Lyon" } },
	{ "America/New_York", { "NewYork", "Boston" } },
	{ "Asia/Tokyo", { "Tokyo", "Osaka" } },
};

static int64_t wall(const char *zone, int y, int mo, int d, int h, int mi)
{
	char why[128];
	struct tzone *z = tz_open(zone, why, sizeof why);
	if (!z) {
		fprintf(stderr, "forecast_bench: %s\n", why);
		exit(70);
	}
	int64_t t = tz_mktime(z, y, mo, d, h, mi);
	tz_close(z);
	return t;
}

/* The windows: for each site, Monday to Thursday nights 22:00-06:00 and
 * the weekend Friday 20:00 to Monday 06:00, in its zone, from the week of
 * 1 March 2027 (so the four weeks after now cross the March clock changes
 * of New York and Paris); and Sunday 02:00-04:00 UTC for everyone. */
static void windows(void (*fn)(void *ctx, const struct blackout *b), void *ctx)
{
	char name[64];
	for (size_t z = 0; z < countof(zones); z++)
		for (int s = 0; s < 2; s++) {
			const char *zone = zones[z].zone, *site = zones[z].site[s];
			for (int d = 0; d < 4; d++) {  /* 1 March 2027 is a Monday */
				snprintf(name, sizeof name, "%s-night-%d", site, d);
				struct blackout b = { .name = name, .site = (char *)site, .tz = (char *)zone,
				                      .start_ts = wall(zone, 2027, 3, 1 + d, 22, 0),
				                      .end_ts = wall(zone, 2027, 3, 2 + d, 6, 0), .weekly = true };
				fn(ctx, &b);
			}
			snprintf(name, sizeof name, "%s-weekend", site);
			struct blackout b = { .name = name, .site = (char *)site, .tz = (char *)zone,
			                      .start_ts = wall(zone, 2027, 3, 5, 20, 0), .end_ts = wall(zone, 2027, 3, 8, 6, 0),
			                      .weekly = true };
			fn(ctx, &b);
		}
	struct blackout all = { .name = (char *)"maintenance", .tz = (char *)"UTC",
	                        .start_ts = wall("UTC", 2027, 3, 7, 2, 0), .end_ts = wall("UTC", 2027, 3, 7, 4, 0),
	                        .weekly = true };
	fn(ctx, &all);
}

/* Job k of the queue, the same every time (a fixed pseudo-random series). */
struct spec {
	char login[32];
	const char *site;
	int dst;                    /* 0..NEPS-1 */
	int64_t size;               /* -1 unknown */
	int64_t start_after_offset; /* seconds after now, 0 none */
	bool suspend_ready;
	int life;                   /* suspend-when-ready: 0 queued, 1 queued with a cutover
	                             * asked for, 2 ready (next sync due), 3 completing */
};

static struct spec spec_of(size_t k)
{
	uint32_t x = (uint32_t)k * 2654435761u + 12345u;
	struct spec s = { .dst = (int)(x % NEPS) };
	snprintf(s.login, sizeof s.login, "user%05zu", k);
	s.site = zones[(x >> 4) % 3].site[(x >> 6) % 2];
	s.size = (x >> 8) % 50 == 0 ? -1 : 100000000LL + (int64_t)((x >> 9) % 4900) * 1000000LL;
	s.start_after_offset = (x >> 14) % 10 == 0 ? (int64_t)((x >> 16) % 14) * 86400 : 0;
	s.suspend_ready = (x >> 20) % 10 == 0;
	s.life = s.suspend_ready ? (int)((x >> 24) % 4) : 0;
	return s;
}

static void add_to_set(void *ctx, const struct blackout *b)
{
	struct err e;
	if (bo_add_window(ctx, b, &e))
		die(&e);
}

static double median(double *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v[n / 2];
}

static void summary(const char *what, const struct forecast_job *q, size_t n, int64_t now, double ms)
{
	int64_t last = now;
	size_t stopped = 0, held = 0, never = 0;
	for (size_t i = 0; i < n; i++) {
		if (q[i].est_end == FORECAST_NEVER)
			never++;
		else if (q[i].est_end > last)
			last = q[i].est_end;
		stopped += q[i].stops > 0;
		held += q[i].blackout && !q[i].stops;
	}
	printf("%-11s %zu jobs, %zu windows-affected (%zu stopped and resumed, %zu held at start), %zu never; "
	       "last ends %.1f days after now; median of %d runs: %.1f ms\n",
	       what, n, stopped + held, stopped, held, never, (double)(last - now) / 86400.0, RUNS, ms);
}

static double bench_compute(size_t n, int64_t now)
{
	struct forecast_endpoint eps[NEPS];
	char names[NEPS][16];
	for (int i = 0; i < NEPS; i++) {
		snprintf(names[i], sizeof names[i], "dst%d", i);
		/* One slow target with a measured rate, the others by default. */
		eps[i] = (struct forecast_endpoint){ .id = 10 + i, .name = names[i], .max_connections = i == 0 ? 2 : 10,
		                                     .measured_rate = i == 1 ? 6e6 : 0 };
	}
	struct forecast_job *q = x_calloc(n, sizeof *q);
	struct spec *sp = x_calloc(n, sizeof *sp);
	for (size_t k = 0; k < n; k++)
		sp[k] = spec_of(k);
	double t[RUNS];
	for (int r = 0; r < RUNS; r++) {
		struct bo_set *bo = bo_set_new();
		windows(add_to_set, bo);
		for (size_t k = 0; k < n; k++)
			bo_add_mailbox(bo, 1, sp[k].login, (int64_t)k + 1, sp[k].site);
		for (size_t k = 0; k < n; k++)
			q[k] = (struct forecast_job){ .id = (int64_t)k + 1, .src_ep = 1, .dst_ep = 10 + sp[k].dst,
			                              .login = sp[k].login, .size = sp[k].size,
			                              .start_after = sp[k].start_after_offset ? now + sp[k].start_after_offset : 0,
			                              .suspend_ready = sp[k].suspend_ready, .mailbox_size = sp[k].size };
		for (size_t k = 0; k < n; k++) {
			/* The lifecycle: syncs and cutovers over the next two weeks. */
			int64_t when = now + (int64_t)(k % 14) * 86400 + 3600;
			if (sp[k].life == 1)
				q[k].cutover_at = when;
			if (sp[k].life >= 2) {
				q[k].phase = sp[k].life == 2 ? PHASE_INCREMENTAL : PHASE_FINAL;
				q[k].start_after = when;
				q[k].size = -1;
			}
		}
		struct forecast_params p = { .workers = WORKERS, .default_rate = RATE, .now = now, .bo = bo, .eps = eps,
		                             .neps = NEPS };
		struct err e;
		double t0 = now_ms();
		if (forecast_run(&p, q, n, &e))
			die(&e);
		t[r] = now_ms() - t0;
		if (r == RUNS - 1)
			summary("compute", q, n, now, median(t, RUNS));
		bo_free(bo);
	}
	double m = median(t, RUNS);
	free(q);
	free(sp);
	return m;
}

static void add_to_store(void *ctx, const struct blackout *b)
{
	struct blackout copy = *b;
	struct err e;
	if (store_blackout_add(ctx, &copy, &e))
		die(&e);
}

static void seed(struct store *st, size_t n, int64_t now)
{
	struct err e;
	if (store_begin(st, &e))
		die(&e);
	struct endpoint src = { .name = (char *)"src", .url = (char *)"imap://127.0.0.1:1",
	                        .admin_user = (char *)"admin", .secret_ref = (char *)"env:NONE", .max_connections = 100 };
	if (store_endpoint_add(st, &src, &e))
		die(&e);
	for (int i = 0; i < NEPS; i++) {
		char name[16];
		snprintf(name, sizeof name, "dst%d", i);
		struct endpoint ep = src;
		ep.name = name;
		ep.max_connections = i == 0 ? 2 : 10;
		if (store_endpoint_add(st, &ep, &e))
			die(&e);
	}
	for (size_t k = 0; k < n; k++) {
		struct spec s = spec_of(k);
		struct mailbox_row m = { .endpoint_id = 1, .login = s.login, .site = s.site, .size_bytes = s.size,
		                         .items = -1, .folders = -1 };
		if (store_mailbox_upsert(st, &m, NULL, &e))
			die(&e);
		struct job j = { .src_ep = 1, .dst_ep = 2 + s.dst, .src_user = s.login, .dst_user = s.login,
		                 .priority = 100, .suspend_ready = s.suspend_ready,
		                 .start_after = s.start_after_offset ? now + s.start_after_offset : 0 };
		if (store_job_add(st, &j, &e))
			die(&e);
		/* A cutover asked for: the final pass follows the initial sync. */
		if (s.life == 1 && store_job_cutover(st, j.id, now + (int64_t)(k % 14) * 86400 + 3600, NULL, &e))
			die(&e);
	}
	windows(add_to_store, st);
	if (store_commit(st, &e))
		die(&e);
}

static double bench_store(size_t n, int64_t now, const char *path)
{
	struct store *st = NULL;
	struct err e;
	unlink(path);
	if (store_open(path, &st, &e))
		die(&e);
	double t0 = now_ms();
	seed(st, n, now);
	printf("(seeded %s with %zu jobs in %.0f ms)\n", path, n, now_ms() - t0);
	double t[RUNS];
	for (int r = 0; r < RUNS; r++) {
		struct forecast_queue q;
		t0 = now_ms();
		if (forecast_queue_run(st, WORKERS, 0, RATE, now, &q, &e))
			die(&e);
		t[r] = now_ms() - t0;
		if (r == RUNS - 1)
			summary("from store", q.jobs, q.n, now, median(t, RUNS));
		forecast_queue_free(&q);
	}
	store_close(&st);
	return median(t, RUNS);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 10000;
	const char *path = argc > 2 ? argv[2] : "/tmp/mailferry-forecast-bench.db";
	log_open(NULL, LOG_ERROR, false);
	/* Monday 1 March 2027, 09:00 UTC: four weeks that cross the clock
	 * changes of New York (14 March) and Paris (28 March). */
	int64_t now = wall("UTC", 2027, 3, 1, 9, 0);
	double c = bench_compute(n, now);
	double s = bench_store(n, now, path);
	unlink(path);
	bool ok = c <= BUDGET_MS && s <= BUDGET_MS;
	printf("forecast of %zu jobs: compute %.1f ms, from store %.1f ms (budget %.0f ms): %s\n", n, c, s, BUDGET_MS,
	       ok ? "ok" : "OVER BUDGET");
	return ok ? 0 : 1;
}
