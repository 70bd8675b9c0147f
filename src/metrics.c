/* metrics.c - throughput history in buckets; see metrics.h. */
#include "config.h"

#include "metrics.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "textout.h"

static const struct {
	const char *name;
	int64_t secs;
} periods[] = { { "minute", 60 }, { "hour", 3600 }, { "day", 86400 } };

const char *metrics_period_name(enum metrics_period p) { return periods[p].name; }
int64_t metrics_period_secs(enum metrics_period p) { return periods[p].secs; }

bool metrics_period_parse(const char *s, enum metrics_period *out)
{
	for (size_t i = 0; s && i < countof(periods); i++) {
		size_t k = strlen(periods[i].name);
		/* "hour" or "hours" */
		if (!strncmp(s, periods[i].name, k) && (s[k] == '\0' || (s[k] == 's' && s[k + 1] == '\0'))) {
			*out = (enum metrics_period)i;
			return true;
		}
	}
	return false;
}

int64_t metrics_bucket_of(int64_t ts, enum metrics_period p)
{
	if (p == METRICS_MINUTE)
		return ts - ((ts % 60) + 60) % 60;
	time_t tt = (time_t)ts;
	struct tm tm;
	localtime_r(&tt, &tm);
	if (p == METRICS_HOUR) {
		/* By the offset in force: the repeated hour of an autumn night is
		 * two buckets, and half-hour zones get local hours. */
		int64_t local = ts + tm.tm_gmtoff;
		return ts - ((local % 3600) + 3600) % 3600;
	}
	tm.tm_sec = 0;
	tm.tm_min = 0;
	tm.tm_hour = 0;
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm);
}

static void add_row(struct metrics *m, int64_t t, int64_t ep, int64_t items, int64_t bytes, int64_t completed)
{
	/* Samples arrive oldest first: the bucket is usually among the last
	 * rows (one per endpoint). */
	for (size_t i = m->n; i > 0 && m->rows[i - 1].t == t; i--)
		if (m->rows[i - 1].endpoint_id == ep) {
			m->rows[i - 1].items += items;
			m->rows[i - 1].bytes += bytes;
			m->rows[i - 1].completed += completed;
			return;
		}
	m->rows = x_grow(m->rows, m->n, &m->cap, sizeof *m->rows, 64);
	m->rows[m->n++] = (struct metrics_row){ t, ep, items, bytes, completed };
}

struct load {
	struct metrics *m;
	int64_t endpoint_id;
	bool by_endpoint;
};

static void put_sample(void *ctx, int64_t minute, int64_t ep, int64_t items, int64_t bytes)
{
	struct load *l = ctx;
	add_row(l->m, metrics_bucket_of(minute, l->m->period), l->by_endpoint || l->endpoint_id ? ep : 0, items,
	        bytes, 0);
}

static void put_finished(void *ctx, int64_t finished, int64_t dst_ep)
{
	struct load *l = ctx;
	if (l->endpoint_id && dst_ep != l->endpoint_id)
		return;
	add_row(l->m, metrics_bucket_of(finished, l->m->period), l->by_endpoint || l->endpoint_id ? dst_ep : 0, 0, 0,
	        1);
}

static void put_endpoint(void *ctx, const struct endpoint *ep)
{
	struct metrics *m = ctx;
	m->eps = x_grow(m->eps, m->neps, &m->capeps, sizeof *m->eps, 8);
	m->eps[m->neps++] = (struct metrics_ep){ ep->id, x_strdup(ep->name) };
}

static int cmp_row(const void *a, const void *b)
{
	const struct metrics_row *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->endpoint_id < y->endpoint_id ? -1 : x->endpoint_id > y->endpoint_id;
}

/* Completed jobs come after the samples, out of bucket order: sort, then
 * fold rows of the same bucket and endpoint together. */
static void sort_and_fold(struct metrics *m)
{
	if (m->n > 1)     /* (qsort wants a non-NULL array even for 0 rows) */
		qsort(m->rows, m->n, sizeof *m->rows, cmp_row);
	size_t w = 0;
	for (size_t i = 0; i < m->n; i++) {
		if (w && !cmp_row(&m->rows[w - 1], &m->rows[i])) {
			m->rows[w - 1].items += m->rows[i].items;
			m->rows[w - 1].bytes += m->rows[i].bytes;
			m->rows[w - 1].completed += m->rows[i].completed;
		} else {
			m->rows[w++] = m->rows[i];
		}
	}
	m->n = w;
}

enum st metrics_load(struct store *s, enum metrics_period p, int64_t since, int64_t endpoint_id, bool by_endpoint,
                     struct metrics *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	out->period = p;
	struct load l = { out, endpoint_id, by_endpoint };
	enum st r = store_endpoint_each(s, put_endpoint, out, e);
	if (!r)
		r = store_sample_history(s, since, endpoint_id, put_sample, &l, e);
	if (!r)
		r = store_finished_each(s, since, put_finished, &l, e);
	if (r) {
		metrics_free(out);
		return r;
	}
	sort_and_fold(out);
	return ST_OK;
}

void metrics_free(struct metrics *m)
{
	for (size_t i = 0; i < m->neps; i++)
		free(m->eps[i].name);
	free(m->eps);
	free(m->rows);
	memset(m, 0, sizeof *m);
}

const char *metrics_endpoint_name(const struct metrics *m, int64_t id)
{
	if (!id)
		return "all";
	for (size_t i = 0; i < m->neps; i++)
		if (m->eps[i].id == id)
			return m->eps[i].name;
	return "?";
}

int64_t metrics_endpoint_id(const struct metrics *m, const char *name)
{
	for (size_t i = 0; i < m->neps; i++)
		if (!strcmp(m->eps[i].name, name))
			return m->eps[i].id;
	return 0;
}

/* The end of the bucket starting at t (a local day may be 23 or 25 h). */
static int64_t bucket_end(int64_t t, enum metrics_period p)
{
	if (p != METRICS_DAY)
		return t + periods[p].secs;
	return metrics_bucket_of(t + 86400 + 7200, p);
}

void metrics_write_csv(FILE *f, const struct metrics *m)
{
	fputs("start,end,endpoint,items,bytes,items_per_min,bytes_per_min,mailboxes_completed\n", f);
	for (size_t i = 0; i < m->n; i++) {
		const struct metrics_row *r = &m->rows[i];
		char start[32], end[32];
		int64_t t_end = bucket_end(r->t, m->period);
		double minutes = (double)(t_end - r->t) / 60.0;
		txt_time_iso(r->t, start, sizeof start);
		txt_time_iso(t_end, end, sizeof end);
		fprintf(f, "%s,%s,", start, end);
		txt_csv_field(f, metrics_endpoint_name(m, r->endpoint_id));
		fprintf(f, ",%lld,%lld,%.2f,%.0f,%lld\n", (long long)r->items, (long long)r->bytes,
		        (double)r->items / minutes, (double)r->bytes / minutes, (long long)r->completed);
	}
}
