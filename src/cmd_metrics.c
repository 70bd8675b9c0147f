/* cmd_metrics.c - `mailferry metrics [--period minute|hour|day] [--last N]
 * [--endpoint NAME | --by-endpoint] [--csv]`; see cmd_metrics.h. */
#include "config.h"

#include "cmd_metrics.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "cmd_common.h"
#include "textout.h"

/* Buckets shown when --last is not given: as the console's Metrics view
 * (3 hours by minute, 3 days by hour, 60 days by day). */
static const int default_last[] = { 180, 72, 60 };

static void print_table(const struct metrics *m)
{
	printf("%-16s  %-12s %10s %10s %10s %10s %6s\n", "PERIOD START", "ENDPOINT", "MESSAGES", "DATA", "MSG/MIN",
	       "DATA/MIN", "DONE");
	int64_t items = 0, bytes = 0, done = 0;
	double minutes = (double)metrics_period_secs(m->period) / 60.0;
	for (size_t i = 0; i < m->n; i++) {
		const struct metrics_row *r = &m->rows[i];
		char when[32], data[32], per[32];
		txt_time(r->t, when, sizeof when);
		txt_bytes(r->bytes, data, sizeof data);
		txt_bytes((int64_t)((double)r->bytes / minutes), per, sizeof per);
		printf("%-16s  %-12s %10lld %10s %10.1f %10s %6lld\n", when, metrics_endpoint_name(m, r->endpoint_id),
		       (long long)r->items, data, (double)r->items / minutes, per, (long long)r->completed);
		items += r->items;
		bytes += r->bytes;
		done += r->completed;
	}
	char data[32];
	txt_bytes(bytes, data, sizeof data);
	printf("%zu %s%s with activity: %lld messages, %s, %lld mailboxes completed\n", m->n,
	       metrics_period_name(m->period), m->n == 1 ? "" : "s", (long long)items, data, (long long)done);
}

int cmd_metrics(const struct cfg *cfg, const char *store_path, int argc, char **argv)
{
	(void)cfg;
	static const struct option opts[] = {
		{ "period", required_argument, NULL, 'p' },
		{ "last", required_argument, NULL, 'l' },
		{ "endpoint", required_argument, NULL, 'e' },
		{ "by-endpoint", no_argument, NULL, 'b' },
		{ "csv", no_argument, NULL, 'c' },
		{ 0 }
	};
	enum metrics_period period = METRICS_HOUR;
	long last = 0;
	const char *endpoint = NULL;
	bool by_endpoint = false, csv = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (!metrics_period_parse(optarg, &period))
				return cmd_usage("--period is minute, hour or day");
			break;
		case 'l':
			if (!cmd_parse_long(optarg, 1, 1000000, &last))
				return cmd_usage("--last needs a whole number of periods from 1 to 1000000");
			break;
		case 'e': endpoint = optarg; break;
		case 'b': by_endpoint = true; break;
		case 'c': csv = true; break;
		default: return st_exit_code(ST_USAGE);
		}
	}
	if (optind < argc)
		return cmd_usage("metrics takes only --period, --last, --endpoint, --by-endpoint and --csv");
	if (endpoint && by_endpoint)
		return cmd_usage("--endpoint NAME and --by-endpoint do not go together");
	struct store *st;
	struct err e;
	int rc = cmd_store_open(store_path, &st, &e);
	if (rc)
		return rc;
	int64_t ep_id = 0;
	if (endpoint) {
		struct endpoint ep;
		if (store_endpoint_get(st, endpoint, &ep, &e)) {
			store_close(&st);
			return cmd_fail(&e);
		}
		ep_id = ep.id;
		endpoint_free(&ep);
	}
	if (!last)
		last = default_last[period];
	int64_t since = metrics_bucket_of(clock_now(), period) - (int64_t)(last - 1) * metrics_period_secs(period);
	struct metrics m;
	if (metrics_load(st, period, since, ep_id, by_endpoint, &m, &e)) {
		rc = cmd_fail(&e);
	} else {
		if (csv)
			metrics_write_csv(stdout, &m);
		else
			print_table(&m);
		metrics_free(&m);
	}
	store_close(&st);
	return rc;
}
