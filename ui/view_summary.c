/* view_summary.c - Summary: mailboxes by status (all sites, then per site)
 * with their items and data, mailbox jobs by state, and what the engine
 * copied.  Re-read only when the store's revision moves. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui.h"

#define MAX_GROUPS 512

struct count { char key[64]; int64_t mailboxes, items, bytes; };

struct sum_load {
	struct count status[32];
	int nstatus;
	struct count site[MAX_GROUPS];      /* "site / status" */
	int nsite;
	int64_t mailboxes, items, bytes;
};

static void add_to(struct count *v, int *n, int max, const char *key, int64_t m, int64_t i, int64_t b)
{
	int k = 0;
	while (k < *n && strcmp(v[k].key, key) != 0)
		k++;
	if (k == *n) {
		if (*n >= max)
			return;
		snprintf(v[k].key, sizeof v[k].key, "%s", key);
		(*n)++;
	}
	v[k].mailboxes += m;
	v[k].items += i;
	v[k].bytes += b;
}

static void collect(void *ctx, const char *site, const char *status, int64_t m, int64_t i, int64_t b)
{
	struct sum_load *l = ctx;
	const char *st = status && status[0] ? status : "not queued";
	char key[160];
	add_to(l->status, &l->nstatus, 32, st, m, i, b);
	snprintf(key, sizeof key, "%s: %s", site && site[0] ? site : "(no site)", st);
	add_to(l->site, &l->nsite, MAX_GROUPS, key, m, i, b);
	l->mailboxes += m;
	l->items += i;
	l->bytes += b;
}

static void add_count(struct view *v, const char *indent, const struct count *c)
{
	char label[96], m[32], i[32], b[32];
	snprintf(label, sizeof label, "%s%s", indent, c->key);
	fmt_count(c->mailboxes, m, sizeof m);
	fmt_count(c->items, i, sizeof i);
	fmt_bytes(c->bytes, b, sizeof b);
	kv_add(v, label, "%10s mailboxes %12s items %10s", m, i, b);
}

struct sum_state { int64_t rev, loaded_ms; bool loaded; };

static void summary_load(struct ui *u, struct view *v)
{
	kv_begin(v);
	snprintf(v->title, sizeof v->title, "Summary of the project");
	struct err e;
	struct sum_load *l = x_calloc(1, sizeof *l);
	if (store_mailbox_summary(u->st, collect, l, &e))
		ui_error(u, "%s", e.msg);
	struct count all = { "Mailboxes", l->mailboxes, l->items, l->bytes };
	add_count(v, "", &all);
	for (int k = 0; k < l->nstatus; k++)
		add_count(v, "  ", &l->status[k]);
	kv_add(v, "", "%s", "");
	kv_add(v, "By site", "%s", "");
	for (int k = 0; k < l->nsite; k++)
		add_count(v, "  ", &l->site[k]);
	free(l);

	int64_t c[7] = { 0 }, items = 0, bytes = 0;
	if (store_job_counts(u->st, c, &e) || store_run_totals(u->st, 0, &items, &bytes, &e)) {
		ui_error(u, "%s", e.msg);
		return;
	}
	int64_t total = 0;
	for (int k = 0; k < 7; k++)
		total += c[k];
	char a[32], b[32];
	kv_add(v, "", "%s", "");
	fmt_count(total, a, sizeof a);
	kv_add(v, "Mailbox jobs", "%10s", a);
	for (int k = 0; k < 7; k++) {
		fmt_count(c[k], a, sizeof a);
		char label[40];
		snprintf(label, sizeof label, "  %s", job_state_name((enum job_state)k));
		kv_add(v, label, "%10s", a);
	}
	fmt_count(items, a, sizeof a);
	fmt_bytes(bytes, b, sizeof b);
	kv_add(v, "", "%s", "");
	kv_add(v, "Messages copied", "%10s", a);
	kv_add(v, "Data copied", "%10s", b);
}

/* Reloads when the store changed; while jobs copy (the revision moves all
 * the time) at most every two seconds, as the counts cover every mailbox. */
static void summary_refresh(struct ui *u, struct view *v, int64_t min_gap_ms)
{
	if (!v->priv)
		v->priv = x_calloc(1, sizeof(struct sum_state));
	struct sum_state *s = v->priv;
	struct err e;
	int64_t rev = 0, now = clock_mono_ms();
	if (store_rev(u->st, &rev, &e) == ST_OK && s->loaded && (rev == s->rev || now - s->loaded_ms < min_gap_ms))
		return;
	s->rev = rev;
	s->loaded = true;
	s->loaded_ms = now;
	summary_load(u, v);
}

static void summary_open(struct ui *u, struct view *v) { summary_refresh(u, v, 0); }
static void summary_tick(struct ui *u, struct view *v) { summary_refresh(u, v, 2000); }

static void summary_close(struct ui *u, struct view *v)
{
	(void)u;
	free(v->priv);
	v->priv = NULL;
}

const struct view_ops view_summary_ops = {
	.open = summary_open, .tick = summary_tick, .close = summary_close, .empty = "Nothing yet.",
};
