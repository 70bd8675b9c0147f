/* queue_dialog.c - the "Add to migration queue" dialog shared by the
 * Mailboxes and Delegation views; see queue_dialog.h.
 *
 * Fields: target endpoint (or "matched mailbox": each mailbox goes to the
 * target mailbox the last forest match found for it, as the CLI's queue
 * --matched; conflicts and unmatched ones are skipped and counted on the
 * status line), target login (same login, same address or a template),
 * priority, start time, pass, pre-stage age (shown for the
 * prestage pass only), suspend when ready, notify user.  Tab/arrows move,
 * Space or Left/Right change a choice, Enter on OK queues, Esc cancels.
 * OK builds each job the way the CLI's "queue" does (src/main.c make_job:
 * the pair, the options, bad-item limit and separator from the
 * configuration) and adds them all in one transaction, so thousands of
 * mailboxes queue at once and a failure leaves nothing half queued. */
#include "config.h"

#include "queue_dialog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { QD_OK = 1, QD_CANCEL = 2 };
enum { MODE_LOGIN, MODE_ADDRESS, MODE_TEMPLATE };

static const char *const mode_names[] = { "same login", "same address", "template", NULL };
static const char MATCHED_CHOICE[] = "matched mailbox (forest match)";

struct qd {
	struct queue_item *items;
	size_t n, nactive;
	char *strs;                 /* the items' strings, one allocation */
	int64_t *ep_ids;            /* target endpoint choices */
	char **ep_names;
	const char **ep_choices;    /* ep_names, then MATCHED_CHOICE; NULL-terminated */
	size_t nep;                 /* endpoints; choice nep is the matched mailbox */
	const char *pass_choices[6];
	int f_ep, f_mode, f_tmpl, f_prio, f_start, f_pass, f_days, f_suspend, f_notify;
	char note[512];             /* the dialog's note for an endpoint target */
	bool note_matched;          /* the note shows the "matched mailbox" preview */
};

char *ui_pack_strings(int n, const char *const *src, const char **const *dst)
{
	size_t total = 0;
	for (int i = 0; i < n; i++)
		total += strlen(src[i] ? src[i] : "") + 1;
	char *buf = x_malloc(total ? total : 1), *p = buf;
	for (int i = 0; i < n; i++) {
		const char *s = src[i] ? src[i] : "";
		size_t len = strlen(s) + 1;
		memcpy(p, s, len);
		*dst[i] = p;
		p += len;
	}
	return buf;
}

bool queue_status_active(int status)
{
	return status == JOB_QUEUED || status == JOB_RUNNING || status == JOB_PAUSED || status == JOB_READY ||
	       status == JOB_COMPLETING;
}

int queue_status_parse(const char *s)
{
	if (!s)
		return -1;
	for (int st = JOB_QUEUED; st < JOB__COUNT; st++)
		if (strcmp(job_state_name((enum job_state)st), s) == 0)
			return st;
	return -1;
}

static void qd_free(void *ctx)
{
	struct qd *q = ctx;
	if (!q)
		return;
	for (size_t i = 0; i < q->nep; i++)
		free(q->ep_names[i]);
	free(q->ep_names);
	free(q->ep_ids);
	free(q->ep_choices);
	free(q->items);
	free(q->strs);
	free(q);
}

/* --- target endpoints ---------------------------------------------------------- */

struct forest_roles {
	int64_t ids[64];
	size_t n;
};

static void note_target_forest(void *ctx, const struct forest *f)
{
	struct forest_roles *r = ctx;
	if (f->role && (strcmp(f->role, "target") == 0 || strcmp(f->role, "tenant") == 0) && r->n < 64)
		r->ids[r->n++] = f->id;
}

struct ep_list {
	int64_t *ids, *forests;
	char **names;
	size_t n, cap_i, cap_f, cap_n;
};

static void note_endpoint(void *ctx, const struct endpoint *ep)
{
	struct ep_list *l = ctx;
	l->ids = x_grow(l->ids, l->n, &l->cap_i, sizeof *l->ids, 8);
	l->forests = x_grow(l->forests, l->n, &l->cap_f, sizeof *l->forests, 8);
	l->names = x_grow(l->names, l->n, &l->cap_n, sizeof *l->names, 8);
	l->ids[l->n] = ep->id;
	l->forests[l->n] = ep->forest_id;
	l->names[l->n++] = x_strdup(ep->name);
}

static bool in_target_forest(const struct forest_roles *r, int64_t forest)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->ids[i] == forest)
			return true;
	return false;
}

static bool is_source(const struct qd *q, int64_t ep)
{
	for (size_t i = 0; i < q->n; i++)
		if (q->items[i].endpoint_id == ep)
			return true;
	return false;
}

/* The choices: the endpoints of the target and tenant forests; with no
 * such forest, every endpoint the mailboxes don't come from; failing
 * that (one server migrating to itself), every endpoint. */
static bool load_targets(struct ui *u, struct qd *q)
{
	struct forest_roles roles = { .n = 0 };
	struct ep_list all = { 0 };
	struct err e;
	if (store_forest_each(u->st, note_target_forest, &roles, &e) ||
	    store_endpoint_each(u->st, note_endpoint, &all, &e)) {
		ui_error(u, "%s", e.msg);
		for (size_t i = 0; i < all.n; i++)
			free(all.names[i]);
		free(all.names);
		free(all.ids);
		free(all.forests);
		return false;
	}
	bool *take = x_calloc(all.n ? all.n : 1, sizeof *take);
	size_t k = 0;
	for (int pass = 0; pass < 3 && k == 0; pass++)
		for (size_t i = 0; i < all.n; i++) {
			take[i] = pass == 0 ? in_target_forest(&roles, all.forests[i])
			        : pass == 1 ? !is_source(q, all.ids[i]) : true;
			k += take[i];
		}
	q->ep_ids = x_calloc(k + 1, sizeof *q->ep_ids);
	q->ep_names = x_calloc(k + 1, sizeof *q->ep_names);
	q->ep_choices = x_calloc(k + 2, sizeof *q->ep_choices);
	for (size_t i = 0; i < all.n; i++) {
		if (take[i]) {
			q->ep_ids[q->nep] = all.ids[i];
			q->ep_names[q->nep] = all.names[i];
			q->ep_choices[q->nep++] = all.names[i];
		} else
			free(all.names[i]);
	}
	q->ep_choices[q->nep] = MATCHED_CHOICE;
	free(take);
	free(all.names);
	free(all.ids);
	free(all.forests);
	if (!q->nep) {
		ui_error(u, "no endpoint to migrate to: add the target forest and its endpoint in Forests (key 1)");
		return false;
	}
	return true;
}

/* --- target login ------------------------------------------------------------------ */

/* Expands a login template for one mailbox.  Returns 0, or 1 when the
 * template needs the address and the mailbox has none, or 2 for an
 * unknown placeholder (why says which). */
static int expand(const char *tmpl, const struct queue_item *it, char *out, size_t n, char *why, size_t wn)
{
	struct sbuf b;
	sb_init(&b);
	const char *addr = it->address ? it->address : "";
	const char *at_l = strchr(it->login, '@'), *at_a = strchr(addr, '@');
	int rc = 0;
	for (const char *p = tmpl; *p && rc == 0; p++) {
		if (*p != '%') {
			sb_addc(&b, *p);
			continue;
		}
		switch (*++p) {
		case 'u': sb_adds(&b, it->login); break;
		case 'l': sb_add(&b, it->login, at_l ? (size_t)(at_l - it->login) : strlen(it->login)); break;
		case 'a': case 'p': case 'd':
			if (!*addr) {
				rc = 1;
				break;
			}
			if (*p == 'a')
				sb_adds(&b, addr);
			else if (*p == 'p')
				sb_add(&b, addr, at_a ? (size_t)(at_a - addr) : strlen(addr));
			else
				sb_adds(&b, at_a ? at_a + 1 : "");
			break;
		case '%': sb_addc(&b, '%'); break;
		default:
			snprintf(why, wn, "unknown placeholder \"%%%.1s\": use %%u %%l %%a %%p %%d or %%%%", *p ? p : "");
			rc = 2;
			p -= !*p;       /* stay on the terminator */
		}
	}
	if (rc == 0 && b.len == 0) {
		snprintf(why, wn, "gives an empty login");
		rc = 2;
	}
	snprintf(out, n, "%s", b.data ? b.data : "");
	sb_free(&b);
	return rc;
}

/* The target login of item it under the dialog's settings (see expand). */
static int target_login(const struct ui_dialog *d, const struct qd *q, const struct queue_item *it,
                        char *out, size_t n, char *why, size_t wn)
{
	int mode = d->fields[q->f_mode].choice;
	const char *tmpl = mode == MODE_LOGIN ? "%u" : mode == MODE_ADDRESS ? "%a" : d->fields[q->f_tmpl].value;
	return expand(tmpl, it, out, n, why, wn);
}

/* --- queueing ------------------------------------------------------------------------ */

struct tally {
	size_t queued, active, no_address, same;
	size_t conflict, unmatched, never;      /* target "matched mailbox" */
	int64_t first_id;
};

static bool matched_mode(const struct ui_dialog *d, const struct qd *q)
{
	return (size_t)d->fields[q->f_ep].choice == q->nep;
}

/* The last forest match of the mailboxes of one source endpoint, by login
 * (owned strings), from store_matched_each. */
struct match_row { char *login, *state, *dst_login; int64_t dst_ep; };
struct match_map { int64_t src_ep; struct match_row *v; size_t n, cap; };

static void note_match(void *ctx, const char *login, const char *state, int64_t dst_ep, const char *dst_login)
{
	struct match_map *m = ctx;
	m->v = x_grow(m->v, m->n, &m->cap, sizeof *m->v, 64);
	m->v[m->n++] = (struct match_row){ x_strdup(login), state ? x_strdup(state) : NULL,
	                                   dst_login ? x_strdup(dst_login) : NULL, dst_ep };
}

static void match_map_free(struct match_map *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].login);
		free(m->v[i].state);
		free(m->v[i].dst_login);
	}
	free(m->v);
	*m = (struct match_map){ 0 };
}

/* The match of it, reading its endpoint's matches when the map holds
 * another endpoint's.  NULL: never matched. */
static const struct match_row *match_of(struct ui *u, struct match_map *m, const struct queue_item *it,
                                        struct err *e, enum st *s)
{
	if (m->src_ep != it->endpoint_id || !m->v) {
		match_map_free(m);
		m->src_ep = it->endpoint_id;
		if ((*s = store_matched_each(u->st, it->endpoint_id, note_match, m, e)))
			return NULL;
	}
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->v[i].login, it->login))
			return &m->v[i];
	return NULL;
}

/* Where a matched mailbox goes: false (counted in t) when it has no
 * single match. */
static bool matched_target(const struct match_row *r, struct tally *t, int64_t *dst_ep, const char **dst_login)
{
	if (!r || !r->state) {
		t->never++;
		return false;
	}
	if (!strcmp(r->state, "conflict")) {
		t->conflict++;
		return false;
	}
	if (strcmp(r->state, "matched") || !r->dst_login || !r->dst_ep) {
		t->unmatched++;
		return false;
	}
	*dst_ep = r->dst_ep;
	*dst_login = r->dst_login;
	return true;
}

static void job_defaults(const struct ui *u, struct job *j)
{
	const struct cfg *c = u->o ? u->o->cfg : NULL;
	j->o.bad_item_limit = c ? c->bad_item_limit : 50;
	j->o.sep_char = c && c->separator_char && *c->separator_char ? c->separator_char[0] : '_';
}

/* Adds the jobs; the caller holds the transaction. */
static enum st add_jobs(struct ui *u, struct ui_dialog *d, struct qd *q, int64_t start_after,
                        struct tally *t, struct err *e)
{
	const struct form_field *f = d->fields;
	bool matched = matched_mode(d, q);
	int64_t chosen_ep = matched ? 0 : q->ep_ids[f[q->f_ep].choice];
	enum pass_kind pass = PASS_FULL;
	pass_kind_parse(form_choice(&f[q->f_pass]), &pass);
	struct match_map map = { 0 };
	enum st ms = ST_OK;
	for (size_t i = 0; i < q->n && !ms; i++) {
		const struct queue_item *it = &q->items[i];
		if (queue_status_active(it->status)) {
			t->active++;
			continue;
		}
		char login[FORM_VALUE_MAX * 2], why[160];
		int64_t dst_ep = chosen_ep;
		if (matched) {
			const char *dst_login = NULL;
			const struct match_row *r = match_of(u, &map, it, e, &ms);
			if (ms || !matched_target(r, t, &dst_ep, &dst_login))
				continue;
			snprintf(login, sizeof login, "%s", dst_login);
		} else if (target_login(d, q, it, login, sizeof login, why, sizeof why)) {
			t->no_address++;
			continue;
		}
		if (dst_ep == it->endpoint_id && strcmp(login, it->login) == 0) {
			t->same++;
			continue;
		}
		struct job j = { .src_ep = it->endpoint_id, .dst_ep = dst_ep, .priority = (int)form_int(&f[q->f_prio]),
		                 .start_after = start_after, .suspend_ready = f[q->f_suspend].checked,
		                 .notify_user = f[q->f_notify].checked };
		job_defaults(u, &j);
		j.o.pass = pass;
		j.o.prestage_days = pass == PASS_PRESTAGE ? (int)form_int(&f[q->f_days]) : 0;
		j.o.trial_items = pass == PASS_TRIAL ? 10 : 0;      /* as the CLI's --pass trial */
		j.src_user = x_strdup(it->login);
		j.dst_user = x_strdup(login);
		enum st s = store_job_add(u->st, &j, e);
		if (!s && !t->queued++)
			t->first_id = j.id;
		job_free(&j);
		if (s) {
			match_map_free(&map);
			return s;
		}
	}
	match_map_free(&map);
	return ms;
}

static void report(struct ui *u, const struct qd *q, const struct tally *t, bool past)
{
	char more[400] = "";
	size_t k = 0;
	if (t->active)
		k += (size_t)snprintf(more + k, sizeof more - k, "; %zu already queued, skipped", t->active);
	if (t->no_address && k < sizeof more)
		k += (size_t)snprintf(more + k, sizeof more - k, "; %zu without an address, skipped", t->no_address);
	if (t->same && k < sizeof more)
		k += (size_t)snprintf(more + k, sizeof more - k, "; %zu would migrate onto themselves, skipped", t->same);
	if (t->conflict + t->unmatched + t->never && k < sizeof more)
		k += (size_t)snprintf(more + k, sizeof more - k, "; not matched, skipped: %zu conflict%s, %zu unmatched, "
		                      "%zu never matched (forest match)", t->conflict, t->conflict == 1 ? "" : "s",
		                      t->unmatched, t->never);
	if (past && t->queued && k < sizeof more)
		snprintf(more + k, sizeof more - k, "; the start time is past, so they start now");
	if (!t->queued)
		ui_error(u, "nothing queued (%zu mailbox%s)%s", q->n, q->n == 1 ? "" : "es", more);
	else if (t->queued == 1)
		ui_say(u, "1 job queued (id %lld)%s", (long long)t->first_id, more);
	else
		ui_say(u, "%zu jobs queued (first id %lld)%s", t->queued, (long long)t->first_id, more);
}

/* Checks what form_check can't; returns false with the message on the form. */
static bool check_more(struct ui_dialog *d, struct qd *q, int64_t *start_after, bool *past)
{
	char why[160];
	int64_t t = 0;
	if (!form_parse_datetime(d->fields[q->f_start].value, &t, why, sizeof why)) {
		form_fail(&d->form, q->f_start, "%s", why);
		return false;
	}
	*past = t > 0 && t <= clock_now();
	*start_after = *past ? 0 : t;
	if (d->fields[q->f_mode].choice == MODE_TEMPLATE && !matched_mode(d, q)) {
		struct queue_item probe = { .login = "user@example.org", .address = "user@example.org" };
		char out[FORM_VALUE_MAX * 2];
		if (!d->fields[q->f_tmpl].value[0]) {
			form_fail(&d->form, q->f_tmpl, "can't be empty: e.g. %%l@new.example");
			return false;
		}
		if (expand(d->fields[q->f_tmpl].value, &probe, out, sizeof out, why, sizeof why)) {
			form_fail(&d->form, q->f_tmpl, "%s", why);
			return false;
		}
	}
	return true;
}

static bool qd_done(struct ui *u, struct ui_dialog *d, int button)
{
	struct qd *q = d->ctx;
	if (button != QD_OK) {
		ui_say(u, "nothing queued");
		return true;
	}
	int64_t start_after = 0;
	bool past = false;
	if (!form_check(&d->form) || !check_more(d, q, &start_after, &past))
		return false;
	struct tally t = { 0 };
	struct err e;
	enum st s = store_begin(u->st, &e);
	if (!s)
		s = add_jobs(u, d, q, start_after, &t, &e);
	if (!s)
		s = store_commit(u->st, &e);
	if (s) {
		store_rollback(u->st);
		form_fail(&d->form, q->f_ep, "nothing queued: %s", e.msg);
		return false;
	}
	report(u, q, &t, past);
	struct view *v = &u->views[u->cur];
	if (t.queued && v->has_tbl)
		tbl_select_none(&v->tbl);
	ui_reload(u, u->cur);
	return true;
}

/* Fields that only matter for one choice show only then. */
/* What "matched mailbox" would queue, before OK: the note counts it. */
static void matched_preview(struct ui *u, struct ui_dialog *d, struct qd *q)
{
	struct tally t = { 0 };
	struct match_map map = { 0 };
	struct err e;
	enum st s = ST_OK;
	size_t jobs = 0;
	for (size_t i = 0; i < q->n && !s; i++) {
		const struct queue_item *it = &q->items[i];
		if (queue_status_active(it->status))
			continue;
		int64_t dst_ep = 0;
		const char *dst_login = NULL;
		const struct match_row *r = match_of(u, &map, it, &e, &s);
		jobs += !s && matched_target(r, &t, &dst_ep, &dst_login);
	}
	match_map_free(&map);
	if (s) {
		snprintf(d->note, sizeof d->note, "%s", e.msg);
		return;
	}
	snprintf(d->note, sizeof d->note, "To each one's matched mailbox (last forest match): %zu job%s; not matched, "
	         "skipped: %zu conflict%s, %zu unmatched, %zu never matched%s", jobs, jobs == 1 ? "" : "s",
	         t.conflict, t.conflict == 1 ? "" : "s", t.unmatched, t.never,
	         q->nactive ? "; already in the queue, skipped: " : ".");
	if (q->nactive)
		snprintf(d->note + strlen(d->note), sizeof d->note - strlen(d->note), "%zu.", q->nactive);
}

static void qd_poll(struct ui *u, struct ui_dialog *d)
{
	struct qd *q = d->ctx;
	bool matched = matched_mode(d, q);
	if (matched != q->note_matched) {
		q->note_matched = matched;
		if (matched)
			matched_preview(u, d, q);
		else
			snprintf(d->note, sizeof d->note, "%s", q->note);
	}
	d->fields[q->f_mode].hidden = matched;      /* the match names the target login */
	d->fields[q->f_tmpl].hidden = matched || d->fields[q->f_mode].choice != MODE_TEMPLATE;
	d->fields[q->f_days].hidden = strcmp(form_choice(&d->fields[q->f_pass]), "prestage") != 0;
}

/* --- building the dialog --------------------------------------------------------------- */

static void copy_items(struct qd *q, const struct queue_item *items, size_t n)
{
	size_t total = 1;
	for (size_t i = 0; i < n; i++)
		total += strlen(items[i].login) + strlen(items[i].address ? items[i].address : "") + 2;
	q->items = x_calloc(n ? n : 1, sizeof *q->items);
	q->strs = x_malloc(total);
	char *p = q->strs;
	for (size_t i = 0; i < n; i++) {
		q->items[i] = items[i];
		const char *a = items[i].address ? items[i].address : "";
		size_t ll = strlen(items[i].login) + 1, al = strlen(a) + 1;
		q->items[i].login = memcpy(p, items[i].login, ll);
		p += ll;
		q->items[i].address = memcpy(p, a, al);
		p += al;
		q->nactive += queue_status_active(items[i].status);
	}
	q->n = n;
}

/* Help lines fit the dialog on an 80-column screen (70 columns inside). */
static void add_fields(struct ui_dialog *d, struct qd *q)
{
	q->f_ep = ui_field(d, "Target endpoint", FF_CHOICE, "",
	                   "The target forest's endpoints, or each mailbox's match. Space/Left/Right");
	d->fields[q->f_ep].choices = q->ep_choices;
	q->f_mode = ui_field(d, "Target login", FF_CHOICE, "",
	                     "Same login or same address as the source, or a template");
	d->fields[q->f_mode].choices = mode_names;
	q->f_tmpl = ui_field(d, "Login template", FF_TEXT, "%l@new.example",
	                     "%u login, %l login up to @, %a address, %p address up to @, %d domain");
	d->fields[q->f_tmpl].hidden = true;
	q->f_prio = ui_field(d, "Priority", FF_INT, "100",
	                     "1-1000, lower runs first; equal priorities run in queued order");
	d->fields[q->f_prio].min = 1;
	d->fields[q->f_prio].max = 1000;
	q->f_start = ui_field(d, "Start time", FF_DATETIME, "",
	                      "YYYY-MM-DD HH:MM local time; empty or already past: start now");
	q->f_pass = ui_field(d, "Pass", FF_CHOICE, "",
	                     "full, delta=changes, prestage=old items, trial=10 items, verify=log in");
	for (int k = PASS_FULL; k <= PASS_VERIFY_CREDENTIALS; k++)
		q->pass_choices[k] = pass_kind_name((enum pass_kind)k);
	d->fields[q->f_pass].choices = q->pass_choices;
	q->f_days = ui_field(d, "Pre-stage age (days)", FF_INT, "30",
	                     "Only items older than this (1-3650 days); a full pass brings the rest");
	d->fields[q->f_days].min = 1;
	d->fields[q->f_days].max = 3650;
	d->fields[q->f_days].hidden = true;
	q->f_suspend = ui_field(d, "Suspend when ready", FF_BOOL, "",
	                        "Stop before the final switch-over when ready; complete it later");
	q->f_notify = ui_field(d, "Notify user", FF_BOOL, "", "Email the mailbox owner when the migration starts and ends");
	ui_button(d, "OK", QD_OK);
	ui_button(d, "Cancel", QD_CANCEL);
}

void queue_dialog_open(struct ui *u, const struct queue_item *items, size_t n, const char *what)
{
	if (!n) {
		ui_error(u, "no mailbox here to queue");
		return;
	}
	struct qd *q = x_calloc(1, sizeof *q);
	copy_items(q, items, n);
	if (q->nactive == n) {
		ui_error(u, n == 1 ? "%s is already in the queue (Mailbox Jobs, key 3)"
		                   : "%s: all already in the queue (Mailbox Jobs, key 3)", what);
		qd_free(q);
		return;
	}
	if (!load_targets(u, q)) {
		qd_free(q);
		return;
	}
	struct ui_dialog *d = x_calloc(1, sizeof *d);
	d->ctx = q;
	d->free_ctx = qd_free;
	d->done = qd_done;
	d->poll = qd_poll;
	d->form.title = "Add to migration queue";
	if (q->nactive)
		snprintf(d->note, sizeof d->note, "Queue %s: %zu job%s (%zu already in the queue, skipped).", what,
		         n - q->nactive, n - q->nactive == 1 ? "" : "s", q->nactive);
	else
		snprintf(d->note, sizeof d->note, "Queue %s: %zu job%s.", what, n, n == 1 ? "" : "s");
	snprintf(q->note, sizeof q->note, "%s", d->note);
	add_fields(d, q);
	ui_dialog_open(u, d);
}
