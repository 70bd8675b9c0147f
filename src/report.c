/* report.c - the statistics report; see report.h. */
#include "config.h"

#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "notify.h"
#include "textout.h"

/* --- which jobs ------------------------------------------------------------------- */

struct pick {
	enum report_scope scope;
	int64_t job_id;
	const char *login;
	struct report *r;
};

static char *dup_or_null(const char *s) { return s ? x_strdup(s) : NULL; }

static void mailbox_free(struct report_mailbox *m)
{
	free(m->src_ep);
	free(m->src_user);
	free(m->dst_ep);
	free(m->dst_user);
	free(m->error);
	free(m->verdict);
	for (size_t i = 0; i < m->nfolders; i++) {
		free(m->folders[i].src);
		free(m->folders[i].dst);
	}
	free(m->folders);
	for (size_t i = 0; i < m->nskips; i++) {
		free(m->skips[i].folder);
		free(m->skips[i].subject);
		free(m->skips[i].reason);
	}
	free(m->skips);
}

static void set_from_row(struct report_mailbox *m, const struct job_row *j)
{
	*m = (struct report_mailbox){
		.job_id = j->id, .src_ep = x_strdup(j->src_endpoint), .src_user = x_strdup(j->src_user),
		.dst_ep = x_strdup(j->dst_endpoint), .dst_user = x_strdup(j->dst_user), .error = dup_or_null(j->error),
		.state = j->state, .pass = j->pass, .started = j->started, .finished = j->finished,
		.items = j->items_done, .bytes = j->bytes_done, .skipped = j->items_skipped, .failed = j->items_failed,
	};
}

static void put_job(void *ctx, const struct job_row *j)
{
	struct pick *p = ctx;
	if (p->scope == REPORT_JOB && j->id != p->job_id)
		return;
	if (p->scope == REPORT_MAILBOX && strcmp(j->src_user, p->login) != 0)
		return;
	p->r->mb = x_grow(p->r->mb, p->r->n, &p->r->cap, sizeof *p->r->mb, 16);
	struct report_mailbox *m = &p->r->mb[p->r->n++];
	memset(m, 0, sizeof *m);
	set_from_row(m, j);
}

/* By mailbox pair (source endpoint and login, target endpoint and login),
 * the newest job first. */
static int cmp_pair(const void *a, const void *b)
{
	const struct report_mailbox *x = a, *y = b;
	int c = strcmp(x->src_ep, y->src_ep);
	if (!c)
		c = strcmp(x->src_user, y->src_user);
	if (!c)
		c = strcmp(x->dst_ep, y->dst_ep);
	if (!c)
		c = strcmp(x->dst_user, y->dst_user);
	return c ? c : x->job_id > y->job_id ? -1 : x->job_id < y->job_id;
}

/* Keeps the latest job of each pair. */
static void latest_per_pair(struct report *r)
{
	if (r->n > 1)     /* (qsort wants a non-NULL array even for 0 rows) */
		qsort(r->mb, r->n, sizeof *r->mb, cmp_pair);
	size_t w = 0;
	for (size_t i = 0; i < r->n; i++) {
		struct report_mailbox *m = &r->mb[i];
		if (w && !strcmp(r->mb[w - 1].src_ep, m->src_ep) && !strcmp(r->mb[w - 1].src_user, m->src_user) &&
		    !strcmp(r->mb[w - 1].dst_ep, m->dst_ep) && !strcmp(r->mb[w - 1].dst_user, m->dst_user)) {
			mailbox_free(m);
			continue;
		}
		r->mb[w++] = *m;
	}
	r->n = w;
}

/* --- per mailbox details ------------------------------------------------------------ */

static void put_folder(void *ctx, const char *src, const char *dst, int64_t items, int64_t bytes, int64_t skipped)
{
	struct report_mailbox *m = ctx;
	m->folders = x_grow(m->folders, m->nfolders, &m->capf, sizeof *m->folders, 8);
	m->folders[m->nfolders++] = (struct report_folder){ x_strdup(src), dup_or_null(dst), items, bytes, skipped };
}

static void put_skip(void *ctx, int64_t job, const char *folder, uint32_t uid, const char *subject, uint64_t size,
                     const char *reason)
{
	(void)job;
	struct report_mailbox *m = ctx;
	m->skips = x_grow(m->skips, m->nskips, &m->caps, sizeof *m->skips, 8);
	m->skips[m->nskips++] = (struct report_skip){ x_strdup(folder), dup_or_null(subject), x_strdup(reason), uid,
	                                              (int64_t)size };
}

static enum st load_details(struct store *s, struct report_mailbox *m, struct err *e)
{
	struct job j;
	enum st r = store_job_get(s, m->job_id, &j, e);
	if (r)
		return r;
	m->pair_id = j.pair_id;
	job_free(&j);
	r = store_folder_stats(s, m->pair_id, m->job_id, put_folder, m, e);
	if (!r)
		r = store_skipped_each(s, m->job_id, put_skip, m, e);
	if (!r)
		r = store_verify_verdict(s, m->job_id, m->src_user, m->started ? m->started : INT64_MAX, &m->verdict, e);
	return r;
}

static int cmp_job(const void *a, const void *b)
{
	int64_t x = ((const struct report_mailbox *)a)->job_id, y = ((const struct report_mailbox *)b)->job_id;
	return x < y ? -1 : x > y;
}

static int64_t duration_of(const struct report_mailbox *m, int64_t now)
{
	int64_t end = m->finished ? m->finished : m->state == JOB_RUNNING ? now : 0;
	return m->started && end > m->started ? end - m->started : 0;
}

static void add_totals(struct report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct report_mailbox *m = &r->mb[i];
		if ((unsigned)m->state < REPORT_STATES)
			r->states[m->state]++;
		r->items += m->items;
		r->bytes += m->bytes;
		r->skipped += m->skipped;
		r->failed += m->failed;
		if (m->started && (!r->first_start || m->started < r->first_start))
			r->first_start = m->started;
		if (m->finished > r->last_finish)
			r->last_finish = m->finished;
		r->busy_secs += duration_of(m, r->made);
	}
}

enum st report_load(struct store *s, enum report_scope scope, int64_t job_id, const char *login,
                    size_t max_details, struct report *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	out->made = clock_now();
	struct pick p = { scope, job_id, login, out };
	enum st r = store_job_rows(s, 0, put_job, &p, NULL, e);
	if (!r && !out->n && scope == REPORT_JOB)
		r = err_set(e, ST_CONFIG, "no job %lld (see 'mailferry jobs --all')", (long long)job_id);
	if (!r && !out->n && scope == REPORT_MAILBOX)
		r = err_set(e, ST_CONFIG, "no job for a mailbox with the login '%s' (see 'mailferry jobs --all')", login);
	latest_per_pair(out);
	if (out->n > 1)
		qsort(out->mb, out->n, sizeof *out->mb, cmp_job);
	out->ndetails = max_details && max_details < out->n ? max_details : out->n;
	for (size_t i = 0; !r && i < out->ndetails; i++)
		r = load_details(s, &out->mb[i], e);
	if (r) {
		report_free(out);
		return r;
	}
	add_totals(out);
	return ST_OK;
}

void report_free(struct report *r)
{
	for (size_t i = 0; i < r->n; i++)
		mailbox_free(&r->mb[i]);
	free(r->mb);
	memset(r, 0, sizeof *r);
}

/* --- text -------------------------------------------------------------------------- */

/* "2.0 MB/min, 120.0 messages/min" over secs; "-" without a duration. */
static void rate_text(int64_t items, int64_t bytes, int64_t secs, char *b, size_t n)
{
	if (secs <= 0) {
		snprintf(b, n, "-");
		return;
	}
	char data[32];
	txt_bytes(bytes * 60 / secs, data, sizeof data);
	snprintf(b, n, "%s/min, %.1f messages/min", data, (double)items * 60.0 / (double)secs);
}

static void project_text(struct sbuf *b, const struct report *r)
{
	char when[32], data[32], from[32], to[32], span[32], rate[96];
	txt_time(r->made, when, sizeof when);
	sb_printf(b, "Migration statistics, %s\n\n", when);
	sb_printf(b, "Mailboxes: %zu (", r->n);
	bool first = true;
	for (int s = 0; s < REPORT_STATES; s++)
		if (r->states[s]) {
			sb_printf(b, "%s%s %lld", first ? "" : ", ", job_state_name((enum job_state)s), (long long)r->states[s]);
			first = false;
		}
	txt_bytes(r->bytes, data, sizeof data);
	sb_printf(b, ")\nCopied: %lld messages, %s; skipped %lld, failed %lld\n", (long long)r->items, data,
	          (long long)r->skipped, (long long)r->failed);
	if (r->first_start) {
		txt_time(r->first_start, from, sizeof from);
		txt_time(r->last_finish, to, sizeof to);
		int64_t secs = r->last_finish > r->first_start ? r->last_finish - r->first_start : 0;
		txt_duration(secs, span, sizeof span);
		rate_text(r->items, r->bytes, secs, rate, sizeof rate);
		sb_printf(b, "From %s to %s (%s): %s\n", from, r->last_finish ? to : "-", span, rate);
		txt_duration(r->busy_secs, span, sizeof span);
		rate_text(r->items, r->bytes, r->busy_secs, rate, sizeof rate);
		sb_printf(b, "Per mailbox: %s of migration in all, on average %s\n", span, rate);
	}
}

static void mailbox_text(struct sbuf *b, const struct report_mailbox *m, int64_t now)
{
	char data[32], t1[32], t2[32], dur[32], rate[96];
	bool same = !strcmp(m->src_user, m->dst_user);
	sb_printf(b, "\nMailbox %s (%s) -> %s (%s), job %lld, %s pass: %s\n", m->src_user, m->src_ep,
	          same ? m->src_user : m->dst_user, m->dst_ep, (long long)m->job_id, pass_kind_name(m->pass),
	          job_state_name(m->state));
	int64_t secs = duration_of(m, now);
	txt_time(m->started, t1, sizeof t1);
	txt_time(m->finished, t2, sizeof t2);
	txt_duration(secs, dur, sizeof dur);
	txt_bytes(m->bytes, data, sizeof data);
	rate_text(m->items, m->bytes, secs, rate, sizeof rate);
	sb_printf(b, "  Started %s, finished %s, took %s\n", t1, t2, m->started ? dur : "-");
	sb_printf(b, "  Copied %lld messages, %s; skipped %lld, failed %lld; average %s\n", (long long)m->items, data,
	          (long long)m->skipped, (long long)m->failed, rate);
	sb_printf(b, "  Verify: %s\n", m->verdict ? m->verdict : "not verified");
	if (m->error)
		sb_printf(b, "  Error: %s\n", m->error);
	if (m->nfolders) {
		sb_printf(b, "  %-30s %-30s %9s %10s %7s\n", "FOLDER", "ON THE TARGET", "MESSAGES", "DATA", "SKIPPED");
		for (size_t i = 0; i < m->nfolders; i++) {
			const struct report_folder *f = &m->folders[i];
			txt_bytes(f->bytes, data, sizeof data);
			sb_printf(b, "  %-30s %-30s %9lld %10s %7lld\n", f->src, f->dst ? f->dst : "-", (long long)f->items,
			          data, (long long)f->skipped);
		}
	}
	if (m->nskips) {
		sb_printf(b, "  Skipped items:\n");
		for (size_t i = 0; i < m->nskips; i++) {
			const struct report_skip *k = &m->skips[i];
			txt_bytes(k->size, data, sizeof data);
			sb_printf(b, "    %s, UID %u, %s%s%s%s: %s\n", k->folder, k->uid, data, k->subject ? ", \"" : "",
			          k->subject ? k->subject : "", k->subject ? "\"" : "", k->reason);
		}
	}
}

char *report_text(const struct report *r)
{
	struct sbuf b;
	sb_init(&b);
	project_text(&b, r);
	for (size_t i = 0; i < r->ndetails; i++)
		mailbox_text(&b, &r->mb[i], r->made);
	if (r->ndetails < r->n)
		sb_printf(&b, "\n... and %zu more mailboxes: 'mailferry report --all' lists every one\n", r->n - r->ndetails);
	return b.data;
}

/* --- e-mail ------------------------------------------------------------------------ */

enum st report_email(const struct cfg *cfg, const char *text, size_t mailboxes, int64_t made, const char *to,
                     char *answer, size_t answer_len, struct err *e)
{
	if (!cfg->smtp_url || !*cfg->smtp_url)
		return err_set(e, ST_CONFIG, "no mail server set: 'mailferry config set smtp_url smtp://HOST:PORT' "
		               "(see 'mailferry notify test')");
	struct notify_vars v = { .n = 0 };
	char host[256] = "localhost", date[32], count[32];
	gethostname(host, sizeof host - 1);
	txt_time(made, date, sizeof date);
	snprintf(count, sizeof count, "%zu", mailboxes);
	notify_set(&v, "host", host);
	notify_set(&v, "date", date);
	notify_set(&v, "admin", to);
	notify_set(&v, "mailboxes", count);
	notify_set(&v, "report", text);
	char *dir = notify_templates_dir(cfg), *subject = NULL, *body = NULL;
	enum st s = notify_render(dir, "report", &v, &subject, &body, e);
	if (!s)
		s = notify_send(cfg, to, subject, body, answer, answer_len, e);
	free(dir);
	free(subject);
	free(body);
	return s;
}
