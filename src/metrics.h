/* metrics.h - the throughput history the engine samples (store_sample: a
 * row per copied chunk, by target endpoint) in buckets of a minute, an hour
 * or a day of local time, per endpoint or all together, with the mailboxes
 * completed in each bucket.  Shared by the console's Metrics view and
 * `mailferry metrics`, which write the same CSV.
 *
 * Memory: struct metrics owns its rows and endpoint names (metrics_free). */
#ifndef MF_METRICS_H
#define MF_METRICS_H

#include <stdio.h>

#include "common.h"
#include "store.h"

enum metrics_period { METRICS_MINUTE, METRICS_HOUR, METRICS_DAY };
const char *metrics_period_name(enum metrics_period p);    /* "minute", "hour", "day" */
bool metrics_period_parse(const char *s, enum metrics_period *out);
int64_t metrics_period_secs(enum metrics_period p);
/* The start of the bucket holding ts: minutes and hours as they are, days
 * from local midnight (a 23- or 25-hour day at a clock change is one day). */
int64_t metrics_bucket_of(int64_t ts, enum metrics_period p);

struct metrics_row {
	int64_t t;                  /* bucket start */
	int64_t endpoint_id;        /* 0: every endpoint together */
	int64_t items, bytes;       /* copied in the bucket */
	int64_t completed;          /* mailboxes (jobs) completed or partial in it */
};

struct metrics {
	enum metrics_period period;
	struct metrics_row *rows;   /* by t, then endpoint; buckets without anything are left out */
	size_t n, cap;
	struct metrics_ep { int64_t id; char *name; } *eps;
	size_t neps, capeps;
};

/* The buckets from since on.  endpoint_id 0: every endpoint (by_endpoint:
 * a row per endpoint, else one total per bucket); else that endpoint only. */
enum st metrics_load(struct store *s, enum metrics_period p, int64_t since, int64_t endpoint_id, bool by_endpoint,
                     struct metrics *out, struct err *e);
void metrics_free(struct metrics *m);
/* The endpoint's name, "all" for 0, "?" when unknown. */
const char *metrics_endpoint_name(const struct metrics *m, int64_t id);
/* The id of the endpoint called name (0 when there is none). */
int64_t metrics_endpoint_id(const struct metrics *m, const char *name);

/* CSV (RFC 4180), a header then a row per bucket:
 * start,end,endpoint,items,bytes,items_per_min,bytes_per_min,mailboxes_completed
 * (times ISO 8601 UTC; per-minute rates over the bucket's length). */
void metrics_write_csv(FILE *f, const struct metrics *m);

#endif
