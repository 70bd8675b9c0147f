/* tst_metrics.c - throughput buckets: minutes, local hours through the
 * autumn night whose 02:00-03:00 happens twice, local days of 23 hours,
 * the CSV written for a store's samples (all endpoints, one, each), and
 * period names. */
#include "metrics.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

static int64_t utc(int y, int mo, int d, int h, int mi)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi };
	return (int64_t)timegm(&tm);
}

static void test_buckets(void)
{
	check(metrics_bucket_of(utc(2026, 10, 25, 0, 59) + 42, METRICS_MINUTE) == utc(2026, 10, 25, 0, 59),
	      "a minute bucket starts at the minute");
	/* Paris, 25 October 2026: 02:30 CEST is 00:30 UTC, 02:30 CET 01:30 UTC. */
	check(metrics_bucket_of(utc(2026, 10, 25, 0, 30), METRICS_HOUR) == utc(2026, 10, 25, 0, 0) &&
	      metrics_bucket_of(utc(2026, 10, 25, 1, 30), METRICS_HOUR) == utc(2026, 10, 25, 1, 0),
	      "the repeated local hour 02:00-03:00 is two hour buckets");
	/* 29 March 2026 in Paris has 23 hours: 00:00 CET (23:00 UTC the day
	 * before) to 00:00 CEST (22:00 UTC). */
	check(metrics_bucket_of(utc(2026, 3, 29, 12, 0), METRICS_DAY) == utc(2026, 3, 28, 23, 0),
	      "a day bucket starts at local midnight");
	check(metrics_bucket_of(utc(2026, 3, 29, 21, 59), METRICS_DAY) == utc(2026, 3, 28, 23, 0) &&
	      metrics_bucket_of(utc(2026, 3, 29, 22, 0), METRICS_DAY) == utc(2026, 3, 29, 22, 0),
	      "the spring-forward day ends 23 hours later");
	enum metrics_period p;
	check(metrics_period_parse("hours", &p) && p == METRICS_HOUR && metrics_period_parse("minute", &p) &&
	      p == METRICS_MINUTE && !metrics_period_parse("week", &p) && !metrics_period_parse("h", &p),
	      "period names: minute(s), hour(s), day(s)");
}

static char *csv_of(const struct metrics *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	metrics_write_csv(f, m);
	fclose(f);
	return buf;
}

static void same_csv(const char *got, const char *want, const char *what)
{
	check(!strcmp(got, want), "%s", what);
	if (strcmp(got, want))
		printf("# got:\n%s# wanted:\n%s", got, want);
}

static void test_store(const char *dir)
{
	char *path = x_asprintf("%s/m.db", dir);
	struct store *s = NULL;
	struct err e;
	check(store_open(path, &s, &e) == 0, "store");
	struct endpoint ep = { .name = (char *)"src", .url = (char *)"imap://127.0.0.1:1", .admin_user = (char *)"a",
	                       .secret_ref = (char *)"env:PW" };
	store_endpoint_add(s, &ep, &e);
	ep.name = (char *)"dst, main";      /* a comma: quoted in the CSV */
	store_endpoint_add(s, &ep, &e);
	/* Day 29 March 2026, Paris: samples at 08:00:10 and 08:00:50 UTC (one
	 * minute), 08:30 UTC, and one of the source endpoint at 08:00:20. */
	int64_t t = utc(2026, 3, 29, 8, 0);
	char *sql = x_asprintf("INSERT INTO samples VALUES(%lld,2,10,1000),(%lld,2,5,500),(%lld,2,1,60),"
	                       "(%lld,1,2,200)", (long long)t + 10, (long long)t + 50, (long long)t + 1800,
	                       (long long)t + 20);
	sqlite3 *db;
	sqlite3_open(path, &db);
	sqlite3_exec(db, sql, NULL, NULL, NULL);
	free(sql);
	struct job j = { .src_ep = 1, .dst_ep = 2, .src_user = (char *)"u", .dst_user = (char *)"u" };
	store_job_add(s, &j, &e);
	sql = x_asprintf("UPDATE jobs SET state='completed', started=%lld, finished=%lld", (long long)t,
	                 (long long)t + 1700);
	sqlite3_exec(db, sql, NULL, NULL, NULL);
	free(sql);
	sqlite3_close(db);

	struct metrics m;
	check(metrics_load(s, METRICS_MINUTE, t - 3600, 0, false, &m, &e) == 0 && m.n == 3, "minutes: 3 rows (%zu)",
	      m.n);
	char *got = csv_of(&m);
	const char *want =
		"start,end,endpoint,items,bytes,items_per_min,bytes_per_min,mailboxes_completed\n"
		"2026-03-29T08:00:00Z,2026-03-29T08:01:00Z,all,17,1700,17.00,1700,0\n"
		"2026-03-29T08:28:00Z,2026-03-29T08:29:00Z,all,0,0,0.00,0,1\n"
		"2026-03-29T08:30:00Z,2026-03-29T08:31:00Z,all,1,60,1.00,60,0\n";
	same_csv(got, want, "minutes, all endpoints: the CSV");
	free(got);
	metrics_free(&m);

	check(metrics_load(s, METRICS_HOUR, t - 3600, 0, true, &m, &e) == 0 && m.n == 2, "hours by endpoint: 2 rows");
	got = csv_of(&m);
	want = "start,end,endpoint,items,bytes,items_per_min,bytes_per_min,mailboxes_completed\n"
	       "2026-03-29T08:00:00Z,2026-03-29T09:00:00Z,src,2,200,0.03,3,0\n"
	       "2026-03-29T08:00:00Z,2026-03-29T09:00:00Z,\"dst, main\",16,1560,0.27,26,1\n";
	same_csv(got, want, "hours, a row per endpoint, the name quoted");
	free(got);
	metrics_free(&m);

	check(metrics_load(s, METRICS_DAY, t - 86400, 2, false, &m, &e) == 0 && m.n == 1 && m.rows[0].items == 16 &&
	      m.rows[0].completed == 1 && m.rows[0].t == utc(2026, 3, 28, 23, 0), "one endpoint, by local day");
	got = csv_of(&m);
	check(strstr(got, "2026-03-28T23:00:00Z,2026-03-29T22:00:00Z,") != NULL, "the 23-hour day in the CSV");
	free(got);
	check(metrics_endpoint_id(&m, "src") == 1 && !strcmp(metrics_endpoint_name(&m, 0), "all"), "endpoint names");
	metrics_free(&m);
	store_close(&s);
	free(path);
}

int main(void)
{
	setenv("TZ", "Europe/Paris", 1);
	tzset();
	test_buckets();
	char dir[] = "/tmp/tst_metrics.XXXXXX";
	if (!mkdtemp(dir))
		return 99;
	test_store(dir);
	char *cmd = x_asprintf("rm -rf %s", dir);
	if (system(cmd) != 0)
		check(0, "cleanup");
	free(cmd);
	return tap_done();
}
