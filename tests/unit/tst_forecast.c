/* tst_forecast.c - the queue forecast against a schedule worked out by hand:
 * two workers, a target endpoint with one connection, a start-after time,
 * a size not known, a weekly blackout window in Europe/Paris for one site
 * on the night clocks go forward, a job that runs into the window and one
 * held at its start, and a suspend-when-ready job the window's mode lets
 * through.  Then a running job, a measured rate, and the horizon; the
 * lifecycle (a ready job's next sync, a completing job held by a final-mode
 * window, a cutover after the initial sync) and a limit per host. */
#include "forecast.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "tz.h"
#include "wall.h"

#define H 3600
#define HOUR_OF_BYTES (3600LL * 1000 * 1000)    /* an hour at 1 MB/s */

static int64_t utc(int d, int h, int mi) { return wall_time("UTC", 2027, 3, d, h, mi); }

static void add_window(struct bo_set *b, const char *name, const char *tz, const char *site, int64_t s,
                       int64_t e, const char *mode)
{
	struct blackout w = { .name = (char *)name, .tz = (char *)tz, .site = (char *)site, .start_ts = s,
	                      .end_ts = e, .weekly = true, .mode = (char *)mode };
	struct err err;
	if (bo_add_window(b, &w, &err))
		printf("# %s\n", err.msg);
}

static struct forecast_job job(int64_t id, const char *login, int64_t dst, int64_t hours)
{
	return (struct forecast_job){ .id = id, .src_ep = 1, .dst_ep = dst, .login = login,
	                              .size = hours < 0 ? -1 : hours * HOUR_OF_BYTES };
}

static bool same(const struct forecast_job *j, int64_t start, int64_t end)
{
	if (j->est_start == start && j->est_end == end)
		return true;
	printf("# job %lld: %lld..%lld, wanted %lld..%lld\n", (long long)j->id, (long long)j->est_start,
	       (long long)j->est_end, (long long)start, (long long)end);
	return false;
}

static void test_hand_computed(void)
{
	/* Endpoints: src (1) and dst (2) take 10 connections, dst2 (3) one. */
	const struct forecast_endpoint eps[] = {
		{ 1, "src", 10, 0, NULL }, { 2, "dst", 10, 0, NULL }, { 3, "dst2", 1, 0, NULL },
	};
	/* "paris-nights": every Saturday 22:00 to Sunday 06:00, Paris time,
	 * for the site Paris, mode final (it holds whole passes and cutovers,
	 * not initial syncs).  First given for 20-21 March 2027 (CET, UTC+1:
	 * 21:00-05:00 UTC).  Clocks go forward in Paris on Sunday 28 March at
	 * 02:00, so that night's window is 21:00 UTC to 04:00 UTC: 7 hours. */
	struct bo_set *bo = bo_set_new();
	add_window(bo, "paris-nights", "Europe/Paris", "Paris", wall_time("Europe/Paris", 2027, 3, 20, 22, 0),
	           wall_time("Europe/Paris", 2027, 3, 21, 6, 0), "final");
	const char *paris[] = { "bob", "carol", "alice", "dave", "erin" };
	for (int i = 0; i < 5; i++)
		bo_add_mailbox(bo, 1, paris[i], 100 + i, "Paris");
	bo_add_mailbox(bo, 1, "gustav", 200, "Berlin");

	/* The queue, in order; every job copies at the default 1 MB/s, so a
	 * size of N hours of bytes takes N hours. */
	struct forecast_job q[6] = {
		job(1, "bob", 3, 2),        /* to dst2 */
		job(2, "carol", 3, 3),      /* to dst2 */
		job(3, "alice", 2, 10),
		job(4, "dave", 2, 4),
		job(5, "erin", 2, -1),      /* size unknown */
		job(6, "gustav", 2, 1),     /* Berlin: the window is not for it */
	};
	q[3].start_after = utc(27, 22, 0);
	q[4].suspend_ready = true;
	struct forecast_params p = { .workers = 2, .default_rate = 1e6, .now = utc(27, 12, 0), .bo = bo,
	                             .eps = eps, .neps = 3 };
	struct err e;
	check(forecast_run(&p, q, 6, &e) == ST_OK, "the forecast runs");

	/* By hand (UTC, Saturday 27 March 2027 unless said):
	 * 12:00  bob starts on dst2 (2 h: ends 14:00).  carol waits: dst2 has
	 *        one connection.  alice starts (10 h would end at 22:00, but
	 *        the window opens at 21:00: she stops there with 1 h left).
	 *        Both workers busy; dave waits for 22:00.
	 * 14:00  bob ends; dst2 is free: carol, first in line, 14:00-17:00.
	 * 17:00  carol ends; erin's size is the average of the known ones,
	 *        (2+3+10+4+1)/5 = 4 h; suspend-when-ready makes it an initial
	 *        sync, which a "final" window does not hold: 17:00-21:00,
	 *        through the window's first hour, ready to complete at 21:00.
	 * 21:00  alice stops; the window holds her until 04:00 Sunday.  The
	 *        two free workers: gustav (Berlin) 21:00-22:00; nothing else
	 *        may start (dave waits for 22:00).
	 * 22:00  gustav ends; dave's start time comes, but the window holds
	 *        him (Paris) until 04:00.
	 * 04:00  Sunday: alice resumes (1 h left): 04:00-05:00; dave 04:00-08:00.
	 * Had the window kept UTC times (05:00 UTC end, as the week before),
	 * alice would end at 06:00 and dave at 09:00. */
	check(same(&q[0], utc(27, 12, 0), utc(27, 14, 0)), "bob 12:00-14:00");
	check(same(&q[1], utc(27, 14, 0), utc(27, 17, 0)), "carol waits for dst2's only connection: 14:00-17:00");
	check(same(&q[2], utc(27, 12, 0), utc(28, 5, 0)),
	      "alice 12:00-05:00: stopped at 21:00 by the window, resumed at 04:00 UTC (06:00 CEST)");
	check(q[2].stops == 1 && q[2].blackout && !strcmp(q[2].blackout, "paris-nights") &&
	      q[2].blackout_until == utc(28, 4, 0), "alice: stopped once by paris-nights, until 04:00");
	check(same(&q[3], utc(28, 4, 0), utc(28, 8, 0)), "dave held at his start time (22:00) until 04:00: 04:00-08:00");
	check(q[3].stops == 0 && q[3].blackout && q[3].blackout_until == utc(28, 4, 0), "dave: held, not stopped");
	check(same(&q[4], utc(27, 17, 0), utc(27, 21, 0)), "erin, initial sync through a final-mode window: 17:00-21:00");
	check(q[4].size_estimated && q[4].est_size == 4 * HOUR_OF_BYTES && !q[4].blackout,
	      "erin's size: the average of the known ones (4 h of bytes)");
	check(same(&q[5], utc(27, 21, 0), utc(27, 22, 0)), "gustav (Berlin) starts when alice stops: 21:00-22:00");
	check(q[5].basis == FORECAST_DEFAULT && q[5].rate == 1e6, "rates: the default, none measured");

	/* Without the window the same queue is a plain two-slot schedule:
	 * alice 12:00-22:00 in one go, dave at his start time. */
	p.bo = NULL;
	check(forecast_run(&p, q, 6, &e) == ST_OK && same(&q[2], utc(27, 12, 0), utc(27, 22, 0)) &&
	      same(&q[3], utc(27, 22, 0), utc(28, 2, 0)) && !q[2].blackout,
	      "without blackouts: alice 12:00-22:00, dave 22:00-02:00");
	bo_free(bo);
}

static void test_running_and_measured(void)
{
	/* dst measured 4 MB/s over the endpoint; 2 workers share it: 2 MB/s a
	 * job.  dst2 has nothing measured: the default 1 MB/s. */
	const struct forecast_endpoint eps[] = { { 2, "dst", 10, 4e6, NULL }, { 3, "dst2", 10, 0, NULL } };
	struct forecast_job q[3] = { job(1, "a", 2, 2), job(2, "b", 3, 1), job(3, "c", 2, 1) };
	int64_t now = utc(27, 12, 0);
	q[0].running = true;
	q[0].started = now - H;
	q[0].done = HOUR_OF_BYTES;      /* half done: 1 h of bytes left at 2 MB/s = 30 min */
	struct forecast_params p = { .workers = 2, .default_rate = 1e6, .now = now, .eps = eps, .neps = 2 };
	struct err e;
	check(forecast_run(&p, q, 3, &e) == ST_OK, "a forecast with a running job");
	check(same(&q[0], now - H, now + H / 2) && q[0].basis == FORECAST_MEASURED && q[0].rate == 2e6,
	      "the running job keeps its start and ends when its bytes left are copied at 2 MB/s");
	check(same(&q[1], now, now + H) && q[1].basis == FORECAST_DEFAULT, "b at the default rate: 1 h");
	check(same(&q[2], now + H / 2, now + H), "c takes a's worker: 30 min at 2 MB/s");
	char *basis = forecast_basis_text(&p, q, 3);
	check(strstr(basis, "2 workers, 4.0 MB/s measured on dst (last hour): 2.0 MB/s a job") &&
	      strstr(basis, "other targets 1.0 MB/s a job (default"), "the basis line: %s", basis);
	free(basis);
	p.workers = 0;
	check(forecast_run(&p, q, 3, &e) == ST_USAGE && strstr(e.msg, "workers"), "0 workers refused: %s", e.msg);
}

static void test_stop_frees_connection(void)
{
	/* dst2 takes one connection.  alice (Paris) holds it from 12:00 and is
	 * stopped by the window at 21:00 with 1 h left; gustav (Berlin), who
	 * waited for the connection, gets it then: 21:00-23:00.  At 04:00 the
	 * connection is free again and alice ends at 05:00. */
	const struct forecast_endpoint eps[] = { { 1, "src", 10, 0, NULL }, { 3, "dst2", 1, 0, NULL } };
	struct bo_set *bo = bo_set_new();
	add_window(bo, "paris-nights", "Europe/Paris", "Paris", wall_time("Europe/Paris", 2027, 3, 20, 22, 0),
	           wall_time("Europe/Paris", 2027, 3, 21, 6, 0), NULL);
	bo_add_mailbox(bo, 1, "alice", 1, "Paris");
	bo_add_mailbox(bo, 1, "gustav", 2, "Berlin");
	struct forecast_job q[2] = { job(1, "alice", 3, 10), job(2, "gustav", 3, 2) };
	struct forecast_params p = { .workers = 2, .default_rate = 1e6, .now = utc(27, 12, 0), .bo = bo, .eps = eps,
	                             .neps = 2 };
	struct err e;
	check(forecast_run(&p, q, 2, &e) == ST_OK && same(&q[0], utc(27, 12, 0), utc(28, 5, 0)) &&
	      same(&q[1], utc(27, 21, 0), utc(27, 23, 0)),
	      "a job stopped by a window frees its connection: the one waiting for it starts then");
	bo_free(bo);
}

static void test_mailbox_window(void)
{
	/* Two mailboxes of one site on the same endpoints: a window for one of
	 * them (12:00-15:00) holds only that one; the other starts at once. */
	struct bo_set *bo = bo_set_new();
	struct blackout w = { .name = (char *)"bob-only", .tz = (char *)"UTC", .mailbox_id = 11,
	                      .start_ts = utc(27, 12, 0), .end_ts = utc(27, 15, 0) };
	struct err e;
	if (bo_add_window(bo, &w, &e))
		printf("# %s\n", e.msg);
	bo_add_mailbox(bo, 1, "bob", 11, "Paris");
	bo_add_mailbox(bo, 1, "ann", 10, "Paris");
	struct forecast_job q[2] = { job(1, "bob", 2, 1), job(2, "ann", 2, 1) };
	struct forecast_params p = { .workers = 2, .default_rate = 1e6, .now = utc(27, 12, 0), .bo = bo };
	check(forecast_run(&p, q, 2, &e) == ST_OK && same(&q[0], utc(27, 15, 0), utc(27, 16, 0)) &&
	      same(&q[1], utc(27, 12, 0), utc(27, 13, 0)) && q[0].blackout && !strcmp(q[0].blackout, "bob-only") &&
	      !q[1].blackout, "a window for one mailbox holds it alone, not its site");
	bo_free(bo);
}

static void test_never(void)
{
	/* A window for everyone that lasts all week, every week: nothing can
	 * start; the forecast says so instead of running forever. */
	struct bo_set *bo = bo_set_new();
	add_window(bo, "always", "UTC", NULL, utc(1, 0, 0), utc(8, 0, 0), NULL);
	struct forecast_job q[1] = { job(1, "x", 2, 1) };
	struct forecast_params p = { .workers = 1, .default_rate = 1e6, .now = utc(27, 12, 0), .bo = bo };
	struct err e;
	check(forecast_run(&p, q, 1, &e) == ST_OK && q[0].est_start == FORECAST_NEVER &&
	      q[0].est_end == FORECAST_NEVER && q[0].blackout && !strcmp(q[0].blackout, "always"),
	      "held for ever: no start, no end, the window named");
	bo_free(bo);
}

static void test_lifecycle(void)
{
	/* The lifecycle's passes, with the engine's blackout phases: the
	 * "paris-nights" window of test_hand_computed (mode final: it holds
	 * final passes, not initial syncs nor incremental ones), 21:00-04:00
	 * UTC the night of 27 March 2027.  Two workers at 1 MB/s. */
	const struct forecast_endpoint eps[] = { { 1, "src", 10, 0, NULL }, { 2, "dst", 10, 0, NULL } };
	struct bo_set *bo = bo_set_new();
	add_window(bo, "paris-nights", "Europe/Paris", "Paris", wall_time("Europe/Paris", 2027, 3, 20, 22, 0),
	           wall_time("Europe/Paris", 2027, 3, 21, 6, 0), "final");
	const char *paris[] = { "ivy", "jay", "fred", "hank" };
	for (int i = 0; i < 4; i++)
		bo_add_mailbox(bo, 1, paris[i], 300 + i, "Paris");
	struct forecast_job q[4] = { job(1, "ivy", 2, 2), job(2, "jay", 2, 10), job(3, "fred", 2, -1),
	                             job(4, "hank", 2, -1) };
	/* ivy: queued, suspend-when-ready, a cutover asked for at 20:00. */
	q[0].suspend_ready = true;
	q[0].cutover_at = utc(27, 20, 0);
	/* jay: queued, suspend-when-ready, no cutover. */
	q[1].suspend_ready = true;
	/* fred: ready, next sync at 13:00; earlier syncs copied 30 min of bytes. */
	q[2].suspend_ready = true;
	q[2].phase = PHASE_INCREMENTAL;
	q[2].start_after = utc(27, 13, 0);
	q[2].size = HOUR_OF_BYTES / 2;
	/* hank: completing, cutover at 21:30 (inside the window); no sync
	 * measured, the mailbox is 100 h of bytes: the delta is 1 % of it. */
	q[3].suspend_ready = true;
	q[3].phase = PHASE_FINAL;
	q[3].start_after = q[3].cutover_at = utc(27, 21, 30);
	q[3].mailbox_size = 100 * HOUR_OF_BYTES;
	struct forecast_params p = { .workers = 2, .default_rate = 1e6, .now = utc(27, 12, 0), .bo = bo,
	                             .eps = eps, .neps = 2 };
	struct err e;
	check(forecast_run(&p, q, 4, &e) == ST_OK, "a forecast of the lifecycle runs");
	/* By hand (UTC):
	 * 12:00  ivy and jay start their initial syncs (both workers).
	 * 13:00  fred's sync is due; no worker free.
	 * 14:00  ivy is ready to complete; her final pass (1 % of 2 h of
	 *        bytes: 72 s) waits for the cutover at 20:00.  fred 14:00-14:30,
	 *        ready again at 14:30.
	 * 20:00  ivy's final pass, before the window: 20:00:00-20:01:12.
	 * 21:00  the window opens: jay's initial sync goes on (mode final).
	 * 21:30  hank's cutover: a final pass, the window holds it until 04:00.
	 * 22:00  jay ready to complete.
	 * 04:00  hank's final pass: 1 h (1 % of 100 h of bytes): 04:00-05:00. */
	check(same(&q[0], utc(27, 12, 0), utc(27, 20, 0) + 72) && q[0].est_ready == utc(27, 14, 0) &&
	      q[0].est_delta == HOUR_OF_BYTES / 50 && !q[0].blackout,
	      "ivy: initial 12:00-14:00, ready at 14:00, final pass at the cutover 20:00-20:01:12");
	check(same(&q[1], utc(27, 12, 0), utc(27, 22, 0)) && q[1].est_ready == utc(27, 22, 0) && !q[1].blackout &&
	      !q[1].stops, "jay: initial sync through the final-mode window, ready at 22:00");
	check(same(&q[2], utc(27, 14, 0), utc(27, 14, 30)) && q[2].est_ready == utc(27, 14, 30) &&
	      !q[2].size_estimated && q[2].est_size == HOUR_OF_BYTES / 2,
	      "fred (ready): the next sync when a worker is free, 14:00-14:30, its delta as earlier syncs");
	check(same(&q[3], utc(28, 4, 0), utc(28, 5, 0)) && q[3].blackout && !strcmp(q[3].blackout, "paris-nights") &&
	      q[3].blackout_until == utc(28, 4, 0) && q[3].size_estimated && q[3].est_size == HOUR_OF_BYTES &&
	      !q[3].est_ready, "hank (completing): cutover inside the window, held until 04:00: 04:00-05:00");
	char *basis = forecast_basis_text(&p, q, 4);
	check(strstr(basis, "delta passes: 1 as the job's earlier syncs, 2 at 1% of the mailbox") != NULL, "basis: %s", basis);
	free(basis);
	bo_free(bo);
}

static void test_host_limit(void)
{
	/* src and dst on one server (mail.a), dst3 on another; 3 connections
	 * per host.  Job 1 (src>dst) holds two on mail.a, job 2 (src>dst3) one
	 * more: mail.a is full, so job 3 (src>dst3) waits for job 2's end. */
	const struct forecast_endpoint eps[] = {
		{ 1, "src", 10, 0, "mail.a" }, { 2, "dst", 10, 0, "mail.a" }, { 3, "dst3", 10, 0, "mail.b" },
	};
	struct forecast_job q[3] = { job(1, "a", 2, 2), job(2, "b", 3, 1), job(3, "c", 3, 1) };
	int64_t now = utc(27, 12, 0);
	struct forecast_params p = { .workers = 3, .default_rate = 1e6, .now = now, .eps = eps, .neps = 3,
	                             .host_limit = 3 };
	struct err e;
	check(forecast_run(&p, q, 3, &e) == ST_OK && same(&q[0], now, now + 2 * H) && same(&q[1], now, now + H) &&
	      same(&q[2], now + H, now + 2 * H), "per host: the third job waits for a connection to mail.a");
	p.host_limit = 0;
	check(forecast_run(&p, q, 3, &e) == ST_OK && same(&q[2], now, now + H), "no host limit: it starts at once");
	p.host_limit = 2;
	check(forecast_run(&p, q, 3, &e) == ST_OK && same(&q[1], now + 2 * H, now + 3 * H) &&
	      same(&q[2], now + 2 * H, now + 3 * H), "2 per host: job 1 fills mail.a, the others start when it ends");
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	test_hand_computed();
	test_running_and_measured();
	test_stop_frees_connection();
	test_mailbox_window();
	test_never();
	test_lifecycle();
	test_host_limit();
	return tap_done();
}
