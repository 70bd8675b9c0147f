/* view_delegation.c - Delegation: one row per delegation in the chosen
 * forest (mailbox -> the mailbox that has rights on it, with the rights),
 * the migration status of both, and whether both are already queued or
 * migrated.  A mailbox and its delegates should move together, or a
 * delegate loses access to a mailbox left behind on the other system.
 *
 * Keys: + queues the row's whole delegation-linked set (every mailbox
 * reachable through delegations either way, store_delegate_set) with the
 * add-to-queue dialog; with rows selected (Space, - clears), the union of
 * their sets.  F or ":forest NAME" picks the forest (shared with
 * Mailboxes), s sorts, / searches. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "queue_dialog.h"
#include "ui.h"

/* A delegation row. */
struct dlg_ui {
	int64_t id;                 /* mailbox_id << 32 | delegate_id: stable across reloads */
	int64_t mailbox_id, delegate_id;
	char *strs;
	const char *login, *name, *dlogin, *dname, *rights;
	int status, dstatus;        /* enum job_state, -1: never queued (from the mailbox map) */
};

/* A set of mailbox ids (a struct tbl used only as an id-keyed set). */
struct id_only { int64_t id; };
static int64_t idonly_id(const void *r) { return ((const struct id_only *)r)->id; }
static const struct tbl_ops info_ops = { NULL, 0, sizeof(struct id_only), idonly_id, NULL, NULL, -1 };

#define D(r) ((const struct dlg_ui *)(r))

static int64_t dlg_id(const void *r) { return D(r)->id; }
static void dlg_free(void *r) { free(((struct dlg_ui *)r)->strs); }

static const char *status_text(int st) { return st < 0 ? "not queued" : job_state_name((enum job_state)st); }

static bool is_done(int st) { return st == JOB_COMPLETED || st == JOB_PARTIAL; }
static bool is_queued(int st) { return queue_status_active(st) || is_done(st); }

static void col_login(const void *r, char *b, size_t n) { snprintf(b, n, "%s", D(r)->login); }
static void col_name(const void *r, char *b, size_t n) { snprintf(b, n, "%s", D(r)->name); }
static void col_dlogin(const void *r, char *b, size_t n) { snprintf(b, n, "%s", D(r)->dlogin); }
static void col_dname(const void *r, char *b, size_t n) { snprintf(b, n, "%s", D(r)->dname); }
static void col_rights(const void *r, char *b, size_t n) { snprintf(b, n, "%s", D(r)->rights); }
static void col_status(const void *r, char *b, size_t n) { snprintf(b, n, "%s", status_text(D(r)->status)); }
static void col_dstatus(const void *r, char *b, size_t n) { snprintf(b, n, "%s", status_text(D(r)->dstatus)); }

/* Whether the pair moves together: both migrated, both at least queued,
 * or which one is left behind. */
static void col_both(const void *r, char *b, size_t n)
{
	const struct dlg_ui *d = r;
	bool q1 = is_queued(d->status), q2 = is_queued(d->dstatus);
	snprintf(b, n, "%s", is_done(d->status) && is_done(d->dstatus) ? "both migrated"
	                   : q1 && q2 ? "both queued" : q1 ? "delegate not" : q2 ? "mailbox not" : "neither");
}

static const struct tbl_col cols[] = {
	{ "MAILBOX", "mailbox", 12, false, col_login, NULL, false },
	{ "NAME", "name", 12, false, col_name, NULL, false },
	{ "DELEGATE", "delegate", 12, false, col_dlogin, NULL, false },
	{ "DLG NAME", "delegate-name", 12, false, col_dname, NULL, false },
	{ "RIGHTS", "rights", 12, false, col_rights, NULL, true },
	{ "TOGETHER", "together", 12, false, col_both, NULL, true },
	{ "STATUS", "status", 10, false, col_status, NULL, true },
	{ "DLG STATUS", "delegate-status", 0, false, col_dstatus, NULL, true },
};

static bool dlg_match(const void *r, const char *needle)
{
	const struct dlg_ui *d = r;
	return tbl_contains(d->login, needle) || tbl_contains(d->name, needle) || tbl_contains(d->dlogin, needle) ||
	       tbl_contains(d->dname, needle) || tbl_contains(d->rights, needle);
}

static const struct tbl_ops ops = {
	cols, (int)countof(cols), sizeof(struct dlg_ui), dlg_id, dlg_free, dlg_match, -1,
};

struct dlg_state {
	int64_t rev, total, loaded_ms;
	int64_t loaded_forest;
	size_t nmailboxes;          /* distinct mailboxes in the delegations */
	char forest[128];           /* its name, for the title */
};

/* --- loading ---------------------------------------------------------------------------- */

/* A mailbox's status from the rows Mailboxes holds (-1: not known). */
static int info_status(struct ui *u, int64_t id)
{
	struct mailbox_brief m;
	return mailboxes_find(u, id, &m) ? m.status : -1;
}

struct load_ctx {
	struct ui *u;
	struct view *v;
	struct tbl seen;            /* distinct mailbox ids, for the title */
};

static void put_link(void *ctx, int64_t mailbox_id, const char *login, const char *display, int64_t delegate_id,
                     const char *dlogin, const char *ddisplay, const char *rights)
{
	struct load_ctx *l = ctx;
	struct dlg_ui *d = tbl_upsert(&l->v->tbl, mailbox_id << 32 | (delegate_id & 0xFFFFFFFF));
	const char *src[5] = { login, display, dlogin, ddisplay, rights };
	const char **const dst[5] = { &d->login, &d->name, &d->dlogin, &d->dname, &d->rights };
	d->strs = ui_pack_strings(5, src, dst);
	d->id = mailbox_id << 32 | (delegate_id & 0xFFFFFFFF);
	d->mailbox_id = mailbox_id;
	d->delegate_id = delegate_id;
	d->status = info_status(l->u, mailbox_id);
	d->dstatus = info_status(l->u, delegate_id);
	for (int k = 0; k < 2; k++) {
		int64_t id = k ? delegate_id : mailbox_id;
		if (!tbl_find(&l->seen, id))
			((struct id_only *)tbl_upsert(&l->seen, id))->id = id;
	}
}

static void forest_title(struct ui *u, struct dlg_state *s)
{
	struct forest f;
	struct err e;
	snprintf(s->forest, sizeof s->forest, "all forests");
	if (u->forest_id && store_forest_get_id(u->st, u->forest_id, &f, &e) == ST_OK) {
		snprintf(s->forest, sizeof s->forest, "forest %s", f.name);
		forest_free(&f);
	}
}

/* Statuses come from the rows Mailboxes holds (kept up to date by
 * revision); the delegations are read again when the store changed, and
 * while jobs copy (the revision moves all the time) at most every
 * min_gap_ms. */
static void dlg_load(struct ui *u, struct view *v, int64_t min_gap_ms)
{
	struct dlg_state *s = v->priv;
	struct err e;
	int64_t rev = 0, total = 0, now = clock_mono_ms();
	if (store_rev(u->st, &rev, &e) || store_mailbox_total(u->st, &total, &e)) {
		ui_error(u, "%s", e.msg);
		return;
	}
	bool reload = s->loaded_forest != u->forest_id || total < s->total;
	if (!reload && (rev == s->rev || now - s->loaded_ms < min_gap_ms))
		return;
	if (reload) {
		s->loaded_forest = u->forest_id;
		forest_title(u, s);
	}
	s->total = total;
	s->rev = rev;
	s->loaded_ms = now;
	mailboxes_sync(u);
	struct load_ctx l = { .u = u, .v = v };
	tbl_init(&l.seen, &info_ops);
	tbl_clear(&v->tbl);
	if (store_delegate_each(u->st, u->forest_id, put_link, &l, &e))
		ui_error(u, "%s", e.msg);
	s->nmailboxes = l.seen.n;
	tbl_free(&l.seen);
	tbl_arrange(&v->tbl);
	snprintf(v->title, sizeof v->title, "Delegation in %s: %zu links among %zu mailboxes (+ queues a row's whole set)",
	         s->forest, v->tbl.n, s->nmailboxes);
}

static void dlg_refresh(struct ui *u, struct view *v) { dlg_load(u, v, 0); }
static void dlg_tick(struct ui *u, struct view *v) { dlg_load(u, v, 1000); }

static void dlg_open(struct ui *u, struct view *v)
{
	if (!v->has_tbl) {
		tbl_init(&v->tbl, &ops);
		v->has_tbl = true;
		struct dlg_state *s = x_calloc(1, sizeof *s);
		s->loaded_forest = -1;
		v->priv = s;
	}
	dlg_refresh(u, v);
}

static void dlg_close(struct ui *u, struct view *v)
{
	(void)u;
	struct dlg_state *s = v->priv;
	if (!s)
		return;
	free(s);
	v->priv = NULL;
}

/* --- queueing a delegation set ---------------------------------------------------------- */

/* Adds the set of mailbox_id to the id list (deduplicated through seen). */
static bool add_set(struct ui *u, int64_t mailbox_id, struct tbl *seen, int64_t **ids, size_t *n, size_t *cap)
{
	int64_t *set = NULL;
	size_t k = 0;
	struct err e;
	if (store_delegate_set(u->st, mailbox_id, &set, &k, &e)) {
		ui_error(u, "%s", e.msg);
		return false;
	}
	for (size_t i = 0; i < k; i++) {
		if (tbl_find(seen, set[i]))
			continue;
		((struct id_only *)tbl_upsert(seen, set[i]))->id = set[i];
		*ids = x_grow(*ids, *n, cap, sizeof **ids, 16);
		(*ids)[(*n)++] = set[i];
	}
	free(set);
	return true;
}

static void queue_sets(struct ui *u, struct view *v)
{
	struct tbl seen;
	tbl_init(&seen, &info_ops);
	int64_t *ids = NULL;
	size_t n = 0, cap = 0, rows = 0;
	int64_t *sel = NULL;
	const struct dlg_ui *cur = tbl_cursor_row(&v->tbl);
	bool ok = true;
	if (tbl_selected_count(&v->tbl)) {
		sel = tbl_selected_ids(&v->tbl, &rows);
		for (size_t i = 0; i < rows && ok; i++)
			ok = add_set(u, ((const struct dlg_ui *)tbl_find(&v->tbl, sel[i]))->mailbox_id, &seen, &ids, &n, &cap);
	} else if (cur) {
		ok = add_set(u, cur->mailbox_id, &seen, &ids, &n, &cap);
		rows = 1;
	}
	tbl_free(&seen);
	free(sel);
	if (!ok || !rows) {
		if (ok)
			ui_error(u, "no delegation here to queue");
		free(ids);
		return;
	}
	struct queue_item *items = x_calloc(n ? n : 1, sizeof *items);
	size_t k = 0;
	mailboxes_sync(u);
	for (size_t i = 0; i < n; i++) {
		struct mailbox_brief m;
		/* A delegate in another forest is not ours to queue. */
		if (mailboxes_find(u, ids[i], &m) && (!u->forest_id || m.forest_id == u->forest_id))
			items[k++] = (struct queue_item){ m.id, m.endpoint_id, m.login, m.address, m.status };
	}
	char what[200];
	if (rows == 1 && cur && !tbl_selected_count(&v->tbl))
		snprintf(what, sizeof what, "the delegation set of %s (%zu mailbox%s)", cur->login, k, k == 1 ? "" : "es");
	else
		snprintf(what, sizeof what, "the delegation sets of %zu links (%zu mailbox%s)", rows, k, k == 1 ? "" : "es");
	queue_dialog_open(u, items, k, what);
	free(items);
	free(ids);
}

/* --- the forest shown (the same u->forest_id as Mailboxes) ------------------------------- */

struct forest_menu {
	int64_t ids[40];
	char *labels[40];
	int n;
};

static void note_forest(void *ctx, const struct forest *f)
{
	struct forest_menu *m = ctx;
	if (m->n < 40) {
		m->ids[m->n] = f->id;
		m->labels[m->n++] = x_asprintf("%s (%s)", f->name, f->role ? f->role : "?");
	}
}

static void forest_menu_fn(struct ui *u, int choice, void *ctx)
{
	struct forest_menu *m = ctx;
	if (choice >= 0 && choice < m->n) {
		u->forest_id = m->ids[choice];
		ui_reload(u, V_DELEGATION);
		ui_say(u, "showing the delegations of %s", m->labels[choice]);
	}
	for (int i = 0; i < m->n; i++)
		free(m->labels[i]);
	free(m);
}

static void forest_menu(struct ui *u, struct view *v)
{
	(void)v;
	struct forest_menu *m = x_calloc(1, sizeof *m);
	struct err e;
	m->labels[m->n++] = x_strdup("all forests");
	if (store_forest_each(u->st, note_forest, m, &e))
		ui_error(u, "%s", e.msg);
	int cur = 0;
	for (int i = 1; i < m->n; i++)
		if (m->ids[i] == u->forest_id)
			cur = i;
	ui_menu(u, "Delegations of", (const char *const *)m->labels, m->n, cur, forest_menu_fn, m);
}

static void forest_by_name(struct ui *u, struct view *v, const char *name)
{
	(void)v;
	struct forest f;
	struct err e;
	if (strcasecmp(name, "all") == 0 || strcasecmp(name, "all forests") == 0)
		u->forest_id = 0;
	else if (store_forest_get(u->st, name, &f, &e) == ST_OK) {
		u->forest_id = f.id;
		forest_free(&f);
	} else {
		ui_error(u, "%s", e.msg);
		return;
	}
	ui_reload(u, V_DELEGATION);
}

static bool dlg_act(struct ui *u, struct view *v, enum action a, const char *arg)
{
	switch (a) {
	case ACT_QUEUE:
		queue_sets(u, v);
		return true;
	case ACT_FOREST:
		if (arg)
			forest_by_name(u, v, arg);
		else
			forest_menu(u, v);
		return true;
	default:
		return false;
	}
}

const struct view_ops view_delegation_ops = {
	.open = dlg_open, .tick = dlg_tick, .act = dlg_act, .close = dlg_close,
	.empty = "No delegations: mailboxes imported with a delegates column show here.",
};
