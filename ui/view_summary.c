/* view_summary.c - Summary: mailboxes by status (all sites, then per site)
 * with their items and data, mailbox jobs by state, and what the engine
 * copied.  Counted from the rows Mailboxes and Mailbox Jobs hold (kept up
 * to date by revision), again only when the store's revision moved. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui.h"

#define MAX_GROUPS 1024     /* site and status pairs shown; more are left out */
#define SLOTS 2048

struct count { char key[64]; int64_t mailboxes, items, bytes; };

struct sum_load {
	struct count status[32];
	int nstatus;
	struct count site[MAX_GROUPS];      /* "site: status" */
	int nsite;
	int status_slots[SLOTS], site_slots[SLOTS];
	int64_t mailboxes, items, bytes;
};

/* Finds key among v[0..*n) through a small open-addressing index (slots
 * hold position + 1), adding it when new; 100 000 mailboxes pass here. */
static void add_to(struct count *v, int *n, int max, int *slots, const char *key, int64_t m, int64_t i, int64_t b)
{
	uint32_t h = 2166136261u;
	for (const char *p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	int k = -1;
	for (uint32_t j = h & (SLOTS - 1);; j = (j + 1) & (SLOTS - 1)) {
		if (!slots[j]) {
			if (*n >= max)
				return;
			k = (*n)++;
			snprintf(v[k].key, sizeof v[k].key, "%s", key);
			slots[j] = k + 1;
			break;
		}
		if (strcmp(v[slots[j] - 1].key, key) == 0) {
			k = slots[j] - 1;
			break;
		}
	}
	v[k].mailboxes += m;
	v[k].items += i;
	v[k].bytes += b;
}

/* One mailbox (from the rows Mailboxes holds: no query over the store). */
static void collect(void *ctx, const char *site, int status, int64_t items, int64_t bytes)
{
	struct sum_load *l = ctx;
	const char *st = status < 0 ? "not queued" : job_state_label((enum job_state)status);
	int64_t i = items > 0 ? items : 0, b = bytes > 0 ? bytes : 0;
	add_to(l->status, &l->nstatus, 32, l->status_slots, st, 1, i, b);
	char key[160];
	snprintf(key, sizeof key, "%s: %s", site && site[0] ? site : "(no site)", st);
	add_to(l->site, &l->nsite, MAX_GROUPS, l->site_slots, key, 1, i, b);
	l->mailboxes++;
	l->items += i;
	l->bytes += b;
}

static int cmp_count(const void *a, const void *b)
{
	return strcmp(((const struct count *)a)->key, ((const struct count *)b)->key);
}

static void add_count(struct view *v, const char *indent, const struct count *c)
{
	char label[96], m[32], i[32], b[32];
	snprintf(label, sizeof label, "%s%s", indent, c->key);
	fmt_count(c->mailboxes, m, sizeof m);
	fmt_count(c->items, i, sizeof i);
	txt_bytes(c->bytes, b, sizeof b);
	kv_add(v, label, "%10s mailboxes %12s items %10s", m, i, b);
}

struct sum_state { int64_t rev, loaded_ms; bool loaded; };

static void summary_load(struct ui *u, struct view *v)
{
	kv_begin(v);
	snprintf(v->title, sizeof v->title, "Summary of the project");
	struct sum_load *l = x_calloc(1, sizeof *l);
	mailboxes_each(u, collect, l);
	qsort(l->status, (size_t)l->nstatus, sizeof *l->status, cmp_count);
	qsort(l->site, (size_t)l->nsite, sizeof *l->site, cmp_count);
	struct count all = { "Mailboxes", l->mailboxes, l->items, l->bytes };
	add_count(v, "", &all);
	for (int k = 0; k < l->nstatus; k++)
		add_count(v, "  ", &l->status[k]);
	kv_add(v, "", "%s", "");
	kv_add(v, "By site", "%s", "");
	for (int k = 0; k < l->nsite; k++)
		add_count(v, "  ", &l->site[k]);
	free(l);

	int64_t c[JOB__COUNT] = { 0 }, items = 0, bytes = 0;
	jobs_totals(u, c, &items, &bytes);
	int64_t total = 0;
	for (int k = 0; k < JOB__COUNT; k++)
		total += c[k];
	char a[32], b[32];
	kv_add(v, "", "%s", "");
	fmt_count(total, a, sizeof a);
	kv_add(v, "Mailbox jobs", "%10s", a);
	for (int k = 0; k < JOB__COUNT; k++) {
		fmt_count(c[k], a, sizeof a);
		char label[40];
		snprintf(label, sizeof label, "  %s", job_state_label((enum job_state)k));
		kv_add(v, label, "%10s", a);
	}
	fmt_count(items, a, sizeof a);
	txt_bytes(bytes, b, sizeof b);
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
