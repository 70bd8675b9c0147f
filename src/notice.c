/* notice.c - the "before" notices and the admins' daily summary; see notice.h. */
#include "config.h"

#include "notice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

#define DAY_S 86400

/* Worth another try later: the server was unreachable or said "not now". */
static bool transient(enum st s)
{
	return s == ST_NET || s == ST_TIMEOUT || s == ST_UNAVAIL;
}

/* --- "before": N days before a job's start ------------------------------------------- */

struct due {
	int64_t *ids;
	size_t n, cap;
	int64_t now, lead;
};

static void note_due(void *ctx, const struct job_row *r)
{
	struct due *d = ctx;
	/* Queued only: a paused job may never run, and its owner would be
	 * told of a move that does not come. */
	if (!r->notify_user || r->start_after <= 0 || r->state != JOB_QUEUED)
		return;
	/* From start - lead on, and only while the start is still ahead: a
	 * notice after the move began would announce the past. */
	if (d->now < r->start_after - d->lead || d->now >= r->start_after)
		return;
	d->ids = x_grow(d->ids, d->n, &d->cap, sizeof *d->ids, 16);
	d->ids[d->n++] = r->id;
}

int notice_send_before(struct store *st, const struct cfg *c, struct err *e)
{
	err_clear(e);
	if (c->notify_days_before <= 0 || !c->smtp_url || !c->smtp_url[0])
		return 0;
	struct due d = { .now = clock_now(), .lead = (int64_t)c->notify_days_before * DAY_S };
	if (store_job_rows(st, 0, note_due, &d, NULL, e))
		return 0;
	int sent = 0;
	for (size_t i = 0; i < d.n; i++) {
		bool mine = false;
		struct err se;
		if (store_notice_claim(st, "before", d.ids[i], NULL, &mine, &se)) {
			*e = se;
			break;
		}
		if (!mine)
			continue;       /* sent already, by this process or another */
		enum st s = notify_job_send(st, c, d.ids[i], "before", &se);
		if (!s) {
			sent++;
			continue;
		}
		*e = se;
		if (transient(s))
			store_notice_release(st, "before", d.ids[i], NULL, &se);
	}
	free(d.ids);
	return sent;
}

/* --- the daily summary ------------------------------------------------------------------ */

struct summary {
	int64_t since;
	struct sbuf completed, failures;
	int64_t ncompleted, nfailed;
	int64_t items, bytes;
};

static void fmt_time(int64_t t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	localtime_r(&tt, &tm);
	strftime(buf, 32, "%Y-%m-%d %H:%M", &tm);
}

static void note_finished(void *ctx, const struct job_row *r)
{
	struct summary *m = ctx;
	if (r->finished < m->since)
		return;
	char when[32];
	fmt_time(r->finished, when);
	if (r->state == JOB_COMPLETED || r->state == JOB_PARTIAL) {
		sb_printf(&m->completed, "  %s (%s -> %s %s): %lld messages, %.1f MB%s, %s\n", r->src_user,
		          r->src_endpoint, r->dst_endpoint, r->dst_user, (long long)r->items_done,
		          (double)r->bytes_done / 1e6, r->state == JOB_PARTIAL ? ", some items skipped" : "", when);
		m->ncompleted++;
	} else if (r->state == JOB_FAILED) {
		sb_printf(&m->failures, "  job %lld, %s (%s -> %s): %s, %s\n", (long long)r->id, r->src_user,
		          r->src_endpoint, r->dst_endpoint, r->error ? r->error : "no reason recorded", when);
		m->nfailed++;
	}
}

static void note_minute(void *ctx, int64_t minute, int64_t items, int64_t bytes)
{
	struct summary *m = ctx;
	if (minute + 60 > m->since) {
		m->items += items;
		m->bytes += bytes;
	}
}

static char *state_counts(const int64_t counts[JOB__COUNT])
{
	static const enum job_state order[] = { JOB_QUEUED, JOB_RUNNING, JOB_READY, JOB_COMPLETING, JOB_PAUSED,
	                                        JOB_COMPLETED, JOB_PARTIAL, JOB_FAILED, JOB_CANCELLED };
	_Static_assert(countof(order) == JOB__COUNT, "every state in the summary");
	struct sbuf b;
	sb_init(&b);
	for (size_t i = 0; i < countof(order); i++)
		sb_printf(&b, "%s  %-10s %6lld", i ? "\n" : "", job_state_name(order[i]), (long long)counts[order[i]]);
	return b.data;
}

enum st notice_summary(struct store *st, const struct cfg *c, char **subject, char **body, struct err *e)
{
	*subject = *body = NULL;
	int64_t now = clock_now(), counts[JOB__COUNT];
	struct summary m = { .since = now - DAY_S };
	sb_init(&m.completed);
	sb_init(&m.failures);
	enum st s = store_job_counts(st, counts, e);
	if (!s)
		s = store_job_rows(st, 0, note_finished, &m, NULL, e);
	if (!s)     /* throughput per minute: a day has 1440 */
		s = store_sample_minutes(st, 1441, note_minute, &m, e);
	if (!s) {
		char since[32], date[32], host[256] = "localhost";
		fmt_time(m.since, since);
		fmt_time(now, date);
		gethostname(host, sizeof host - 1);
		char *cnt = state_counts(counts);
		char *items = x_asprintf("%lld", (long long)m.items);
		char *data = x_asprintf("%.1f MB", (double)m.bytes / 1e6);
		char *ncomp = x_asprintf("%lld", (long long)m.ncompleted);
		char *nfail = x_asprintf("%lld", (long long)m.nfailed);
		if (m.completed.len && m.completed.data[m.completed.len - 1] == '\n')
			m.completed.data[--m.completed.len] = '\0';
		if (m.failures.len && m.failures.data[m.failures.len - 1] == '\n')
			m.failures.data[--m.failures.len] = '\0';
		struct notify_vars v = { .n = 0 };
		notify_set(&v, "since", since);
		notify_set(&v, "date", date);
		notify_set(&v, "host", host);
		notify_set(&v, "admin", c->admin_email);
		notify_set(&v, "counts", cnt);
		notify_set(&v, "completed", m.ncompleted ? m.completed.data : "  (none)");
		notify_set(&v, "completed_count", ncomp);
		notify_set(&v, "failures", m.nfailed ? m.failures.data : "  (none)");
		notify_set(&v, "failure_count", nfail);
		notify_set(&v, "items", items);
		notify_set(&v, "data", data);
		char *dir = notify_templates_dir(c);
		s = notify_render(dir, "summary", &v, subject, body, e);
		free(dir);
		free(cnt);
		free(items);
		free(data);
		free(ncomp);
		free(nfail);
	}
	sb_free(&m.completed);
	sb_free(&m.failures);
	return s;
}

enum st notice_send_summary(struct store *st, const struct cfg *c, struct err *e)
{
	if (!c->admin_email || !c->admin_email[0])
		return err_set(e, ST_CONFIG, "no admin address: mailferry config set admin_email ADDRESS");
	char *subject, *body;
	enum st s = notice_summary(st, c, &subject, &body, e);
	if (!s)
		s = notify_send(c, c->admin_email, subject, body, NULL, 0, e);
	if (!s)
		store_event(st, EV_INFO, 0, "daily summary sent to %s", c->admin_email);
	else
		store_event(st, EV_WARN, 0, "daily summary to %s not sent: %s", c->admin_email, e->msg);
	free(subject);
	free(body);
	return s;
}

enum st notice_send_summary_if_due(struct store *st, const struct cfg *c, bool *sent, struct err *e)
{
	*sent = false;
	err_clear(e);
	if (c->summary_hour < 0 || !c->admin_email || !c->admin_email[0] || !c->smtp_url || !c->smtp_url[0])
		return ST_OK;
	time_t now = (time_t)clock_now();
	struct tm tm;
	localtime_r(&now, &tm);
	if (tm.tm_hour < c->summary_hour)
		return ST_OK;
	char day[16];
	strftime(day, sizeof day, "%Y-%m-%d", &tm);
	bool mine = false;
	enum st s = store_notice_claim(st, "summary", 0, day, &mine, e);
	if (s || !mine)
		return s;
	s = notice_send_summary(st, c, e);
	*sent = s == ST_OK;
	if (s && transient(s)) {
		struct err re;
		store_notice_release(st, "summary", 0, day, &re);
	}
	return s;
}
