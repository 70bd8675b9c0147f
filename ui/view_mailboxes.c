/* view_mailboxes.c - Mailboxes: every mailbox known in the chosen forest
 * (or in all forests) with its site, database, kind, size, items, folders,
 * migration status (its latest job's state, or "not queued"), last pass and
 * number of delegates.
 *
 * Keys: s sorts by a column (again: reverse), g/F5 groups by site,
 * database, status or kind, / searches login, name, address and site as
 * you type, f/F4 filters by status or forest, F (or ":forest NAME") picks
 * the forest; Space selects a row (on a group line: the group) and moves
 * down, S selects from the last toggled row to the cursor, * selects every
 * row shown, - clears; + or Enter opens "Add to migration queue" for the
 * selection, or for the row (or group) under the cursor.
 *
 * 100 000 mailboxes: a row is one fixed struct plus one allocation for its
 * strings; the 4-a-second refresh reads only rows whose revision moved
 * (store_mailbox_rows since_rev), and searching never touches the store. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "queue_dialog.h"
#include "ui.h"

struct mbx_ui {
	int64_t id, endpoint_id, forest_id;
	int64_t size, items, folders, last_pass, delegates;
	int status;                 /* enum job_state, -1: never queued */
	bool vanished;              /* gone from the directory (kept: history is never lost) */
	char match;                 /* forest match: 'm' matched, 'c' conflict, 'u' unmatched, 0 never */
	int64_t match_id;           /* the target mailbox when matched */
	char *strs;                 /* every string of the row, one allocation */
	const char *login, *name, *address, *site, *database, *kind, *endpoint;
};

#define M(r) ((const struct mbx_ui *)(r))

static int64_t mbx_id(const void *r) { return M(r)->id; }
static void mbx_free(void *r) { free(((struct mbx_ui *)r)->strs); }

static const char *status_text(int status)
{
	return status < 0 ? "not queued" : job_state_label((enum job_state)status);
}

static void col_login(const void *r, char *b, size_t n) { snprintf(b, n, "%s", M(r)->login); }
static void col_name(const void *r, char *b, size_t n) { snprintf(b, n, "%s", M(r)->name); }
static void col_address(const void *r, char *b, size_t n) { snprintf(b, n, "%s", M(r)->address); }
static void col_site(const void *r, char *b, size_t n) { snprintf(b, n, "%s", M(r)->site); }
static void col_db(const void *r, char *b, size_t n) { snprintf(b, n, "%s", M(r)->database); }
static void col_kind(const void *r, char *b, size_t n) { snprintf(b, n, "%s", M(r)->kind); }
static void col_size(const void *r, char *b, size_t n) { txt_bytes(M(r)->size, b, n); }
static void col_items(const void *r, char *b, size_t n) { fmt_count(M(r)->items, b, n); }
static void col_folders(const void *r, char *b, size_t n) { fmt_count(M(r)->folders, b, n); }
static void col_status(const void *r, char *b, size_t n)
{
	snprintf(b, n, "%s%s", status_text(M(r)->status), M(r)->vanished ? ", vanished" : "");
}
static void col_last(const void *r, char *b, size_t n) { fmt_time(M(r)->last_pass, b, n); }
static void col_dlg(const void *r, char *b, size_t n) { fmt_count(M(r)->delegates, b, n); }

/* The table the MATCH column looks targets up in (every forest's
 * mailboxes are held, so the target's row is there too). */
static const struct tbl *held;

static void col_match(const void *r, char *b, size_t n)
{
	const struct mbx_ui *m = M(r);
	const struct mbx_ui *t = m->match == 'm' && held ? tbl_find(held, m->match_id) : NULL;
	if (t)
		snprintf(b, n, "-> %s", t->login);
	else
		snprintf(b, n, "%s", m->match == 'c' ? "conflict" : m->match == 'u' ? "unmatched" : m->match == 'm' ? "matched" : "");
}

#define CMP64(name, field) \
	static int name(const void *a, const void *b) \
	{ \
		int64_t p = M(a)->field, q = M(b)->field; \
		return p < q ? -1 : p > q; \
	}
CMP64(cmp_size, size)
CMP64(cmp_items, items)
CMP64(cmp_folders, folders)
CMP64(cmp_last, last_pass)
CMP64(cmp_dlg, delegates)

/* Short text columns with few values (the ones to group by) compare their
 * fields directly: no cell text is made to group 100 000 rows.  Long
 * unique ones (login, name, address) sort faster on the table's packed
 * copy of the cell text, which keeps the comparisons in one buffer. */
#define CMPSTR(name, field) \
	static int name(const void *a, const void *b) { return strcmp(M(a)->field, M(b)->field); }
CMPSTR(cmp_site, site)
CMPSTR(cmp_db, database)
CMPSTR(cmp_kind, kind)

static int cmp_status(const void *a, const void *b)
{
	return strcmp(status_text(M(a)->status), status_text(M(b)->status));
}

/* The columns that matter most come first: an 80-column screen cuts the
 * last ones. */
static const struct tbl_col cols[] = {
	{ "LOGIN", "login", 12, false, col_login, NULL, false },
	{ "NAME", "name", 16, false, col_name, NULL, false },
	{ "SITE", "site", 7, false, col_site, cmp_site, true },
	{ "DATABASE", "database", 8, false, col_db, cmp_db, true },
	{ "SIZE", "size", 8, true, col_size, cmp_size, false },
	{ "ITEMS", "items", 7, true, col_items, cmp_items, false },
	{ "STATUS", "status", 10, false, col_status, cmp_status, true },
	{ "DLG", "delegates", 3, true, col_dlg, cmp_dlg, false },
	{ "KIND", "kind", 9, false, col_kind, cmp_kind, true },
	{ "FLD", "folders", 4, true, col_folders, cmp_folders, false },
	{ "LAST PASS", "last-pass", 16, false, col_last, cmp_last, false },
	{ "MATCH", "match", 14, false, col_match, NULL, true },
	{ "ADDRESS", "address", 0, false, col_address, NULL, false },
};

static bool mbx_match(const void *r, const char *needle)
{
	const struct mbx_ui *m = r;
	return tbl_contains(m->login, needle) || tbl_contains(m->name, needle) || tbl_contains(m->address, needle) ||
	       tbl_contains(m->site, needle);
}

static const struct tbl_ops ops = {
	cols, (int)countof(cols), sizeof(struct mbx_ui), mbx_id, mbx_free, mbx_match, -1,
};

/* --- state, filters, forests --------------------------------------------------------- */

/* Filter choices: every mailbox, the never queued ones, then one per job state. */
enum { MF_ALL, MF_NOT_QUEUED, MF_STATE0 };
#define MF_COUNT (MF_STATE0 + JOB__COUNT)

struct forest_item {
	int64_t id;
	char *label;                /* "NAME (role)" */
	char *name;
};

struct mbx_state {
	int64_t rev, total;
	int64_t loaded_forest;      /* the forest shown (0: all): a filter on the rows held */
	int filter;
	char *filter_labels[MF_COUNT];
	struct forest_item *forests;
	size_t nforests, forestcap;
	const char *menu[40];       /* the filter menu's items, pointing into the above */
};

static bool mbx_filter(const void *r, void *ctx)
{
	const struct mbx_state *s = ctx;
	int st = M(r)->status;
	if (s->loaded_forest > 0 && M(r)->forest_id != s->loaded_forest)
		return false;
	if (s->filter == MF_ALL)
		return true;
	if (s->filter == MF_NOT_QUEUED)
		return st < 0;
	return st == s->filter - MF_STATE0;
}

static void forests_free(struct mbx_state *s)
{
	for (size_t i = 0; i < s->nforests; i++) {
		free(s->forests[i].label);
		free(s->forests[i].name);
	}
	s->nforests = 0;
}

static void note_forest(void *ctx, const struct forest *f)
{
	struct mbx_state *s = ctx;
	s->forests = x_grow(s->forests, s->nforests, &s->forestcap, sizeof *s->forests, 8);
	s->forests[s->nforests++] = (struct forest_item){ f->id, x_asprintf("forest: %s (%s)", f->name, f->role ? f->role : "?"),
	                                                  x_strdup(f->name) };
}

static void load_forests(struct ui *u, struct mbx_state *s)
{
	struct err e;
	forests_free(s);
	if (store_forest_each(u->st, note_forest, s, &e))
		ui_error(u, "%s", e.msg);
}

static const char *forest_name(const struct mbx_state *s, int64_t id)
{
	if (!id)
		return "all forests";
	for (size_t i = 0; i < s->nforests; i++)
		if (s->forests[i].id == id)
			return s->forests[i].name;
	return "a removed forest";
}

/* --- loading ------------------------------------------------------------------------------- */

static void put_row(void *ctx, const struct mailbox_row *r)
{
	struct view *v = ctx;
	struct mbx_ui *m = tbl_upsert(&v->tbl, r->id);
	const char *src[7] = { r->login, r->display_name, r->address, r->site, r->database, r->kind, r->endpoint };
	const char **const dst[7] = { &m->login, &m->name, &m->address, &m->site, &m->database, &m->kind, &m->endpoint };
	m->strs = ui_pack_strings(7, src, dst);
	m->id = r->id;
	m->endpoint_id = r->endpoint_id;
	m->forest_id = r->forest_id;
	m->size = r->size_bytes;
	m->items = r->items;
	m->folders = r->folders;
	m->last_pass = r->last_pass;
	m->delegates = r->delegates;
	m->status = queue_status_parse(r->status);
	m->vanished = r->vanished;
	m->match = r->match_state ? r->match_state[0] : 0;
	m->match_id = r->match_id;
}

static void update_title(struct ui *u, struct view *v)
{
	struct mbx_state *s = v->priv;
	size_t shown = v->tbl.nvis - v->tbl.ngroups;
	char sel[48] = "";
	if (tbl_selected_count(&v->tbl))
		snprintf(sel, sizeof sel, ", %zu selected", tbl_selected_count(&v->tbl));
	snprintf(v->title, sizeof v->title, "Mailboxes of %s, %s: %zu of %zu%s (+ queue, f filter, F forest, g group)",
	         forest_name(s, u->forest_id), s->filter_labels[s->filter], shown, v->tbl.n, sel);
}

/* Reads the rows changed since the last look; all of them after the
 * forest changed or when mailboxes were removed (a forest deleted). */
static void mbx_refresh(struct ui *u, struct view *v)
{
	struct mbx_state *s = v->priv;
	struct err e;
	int64_t total = 0;
	if (store_mailbox_total(u->st, &total, &e)) {
		ui_error(u, "%s", e.msg);
		return;
	}
	if (total < s->total || (size_t)total < v->tbl.n) {
		tbl_clear(&v->tbl);
		s->rev = 0;
	}
	/* Every forest's mailboxes are held; the forest shown is a filter, so
	 * switching forests costs no store read. */
	if (s->loaded_forest != u->forest_id) {
		s->loaded_forest = u->forest_id;
		v->tbl.changed = true;
	}
	s->total = total;
	/* The store's revision moves with every job update: only then read. */
	int64_t rev = 0;
	if (s->rev && (store_rev(u->st, &rev, &e) || rev == s->rev)) {
		if (v->tbl.changed)
			tbl_arrange(&v->tbl);
		update_title(u, v);
		return;
	}
	if (store_mailbox_rows(u->st, 0, s->rev, put_row, v, &s->rev, &e))
		ui_error(u, "%s", e.msg);
	if (v->tbl.changed)
		tbl_arrange(&v->tbl);
	update_title(u, v);
}

static void mbx_open(struct ui *u, struct view *v)
{
	if (!v->has_tbl) {
		tbl_init(&v->tbl, &ops);
		v->has_tbl = true;
		held = &v->tbl;
		struct mbx_state *s = x_calloc(1, sizeof *s);
		v->priv = s;
		v->tbl.filter = mbx_filter;
		v->tbl.filter_ctx = s;
		s->loaded_forest = -1;
		s->filter_labels[MF_ALL] = x_strdup("all statuses");
		s->filter_labels[MF_NOT_QUEUED] = x_strdup("not queued");
		for (int k = JOB_QUEUED; k < JOB__COUNT; k++)
			s->filter_labels[MF_STATE0 + k] = x_strdup(job_state_name((enum job_state)k));
	}
	load_forests(u, v->priv);
	mbx_refresh(u, v);
}

void mailboxes_sync(struct ui *u)
{
	struct view *v = &u->views[V_MAILBOXES];
	if (!v->opened)
		ui_reload(u, V_MAILBOXES);
	else
		mbx_refresh(u, v);
}

bool mailboxes_find(struct ui *u, int64_t id, struct mailbox_brief *out)
{
	const struct mbx_ui *m = u->views[V_MAILBOXES].has_tbl ? tbl_find(&u->views[V_MAILBOXES].tbl, id) : NULL;
	if (!m)
		return false;
	*out = (struct mailbox_brief){ m->id, m->endpoint_id, m->forest_id, m->status, m->login, m->address };
	return true;
}

void mailboxes_each(struct ui *u, void (*fn)(void *ctx, const char *site, int status, int64_t items,
                                            int64_t bytes), void *ctx)
{
	mailboxes_sync(u);
	const struct tbl *t = &u->views[V_MAILBOXES].tbl;
	for (size_t i = 0; i < t->n; i++) {
		const struct mbx_ui *m = (const struct mbx_ui *)(t->rows + i * sizeof *m);
		fn(ctx, m->site, m->status, m->items, m->size);
	}
}

static void mbx_close(struct ui *u, struct view *v)
{
	(void)u;
	held = NULL;
	struct mbx_state *s = v->priv;
	if (!s)
		return;
	forests_free(s);
	free(s->forests);
	for (int i = 0; i < MF_COUNT; i++)
		free(s->filter_labels[i]);
	free(s);
	v->priv = NULL;
}

/* --- actions --------------------------------------------------------------------------------- */

static void set_filter(struct ui *u, struct view *v, int f)
{
	struct mbx_state *s = v->priv;
	s->filter = f;
	v->tbl.changed = true;
	tbl_arrange(&v->tbl);
	update_title(u, v);
	ui_say(u, "showing %s: %zu mailboxes", s->filter_labels[f], v->tbl.nvis - v->tbl.ngroups);
}

static void set_forest(struct ui *u, struct view *v, int64_t id)
{
	struct mbx_state *s = v->priv;
	if (id != u->forest_id)
		tbl_select_none(&v->tbl);   /* a selection never spans what is not shown */
	u->forest_id = id;
	mbx_refresh(u, v);
	tbl_arrange(&v->tbl);
	update_title(u, v);
	ui_say(u, "%zu mailboxes in %s", v->tbl.nvis - v->tbl.ngroups, forest_name(s, id));
}

/* The filter menu: statuses, then "forest: ..." entries. */
static void filter_menu_fn(struct ui *u, int choice, void *ctx)
{
	struct view *v = ctx;
	struct mbx_state *s = v->priv;
	if (choice < 0)
		return;
	if (choice < MF_COUNT)
		set_filter(u, v, choice);
	else if (choice == MF_COUNT)
		set_forest(u, v, 0);
	else if ((size_t)(choice - MF_COUNT - 1) < s->nforests)
		set_forest(u, v, s->forests[choice - MF_COUNT - 1].id);
}

static void forest_menu_fn(struct ui *u, int choice, void *ctx)
{
	if (choice >= 0)
		filter_menu_fn(u, choice + MF_COUNT, ctx);
}

static int build_menu(struct mbx_state *s, bool with_status, int *cur, int64_t forest_id)
{
	int n = 0;
	if (with_status)
		for (int i = 0; i < MF_COUNT; i++)
			s->menu[n++] = s->filter_labels[i];
	int first = n;
	s->menu[n++] = "forest: all forests";
	*cur = with_status ? s->filter : first;
	for (size_t i = 0; i < s->nforests && n < 40; i++) {
		if (!with_status && s->forests[i].id == forest_id)
			*cur = n;
		s->menu[n++] = s->forests[i].label;
	}
	return n;
}

/* ":forest NAME" or ":filter NAME" (a status, or a forest name). */
static bool by_name(struct ui *u, struct view *v, const char *arg, bool forests_only)
{
	struct mbx_state *s = v->priv;
	if (!forests_only)
		for (int i = 0; i < MF_COUNT; i++)
			if (strcasecmp(arg, s->filter_labels[i]) == 0 || (i == MF_ALL && strcasecmp(arg, "all") == 0)) {
				set_filter(u, v, i);
				return true;
			}
	if (strcasecmp(arg, "all") == 0 || strcasecmp(arg, "all forests") == 0) {
		set_forest(u, v, 0);
		return true;
	}
	for (size_t i = 0; i < s->nforests; i++)
		if (strcasecmp(arg, s->forests[i].name) == 0) {
			set_forest(u, v, s->forests[i].id);
			return true;
		}
	ui_error(u, forests_only ? "no forest named \"%s\"" : "no status or forest named \"%s\"", arg);
	return true;
}

static void item_of(const struct mbx_ui *m, struct queue_item *it)
{
	*it = (struct queue_item){ m->id, m->endpoint_id, m->login, m->address, m->status };
}

/* The mailboxes to queue: the selection; else the group under the cursor
 * (on a group line) or the row under it. */
static void open_queue(struct ui *u, struct view *v)
{
	struct tbl *t = &v->tbl;
	char what[200] = "";
	size_t n = 0;
	struct queue_item *items;
	if (tbl_selected_count(t)) {
		int64_t *ids = tbl_selected_ids(t, &n);
		items = x_calloc(n ? n : 1, sizeof *items);
		for (size_t i = 0; i < n; i++)
			item_of(tbl_find(t, ids[i]), &items[i]);
		free(ids);
		snprintf(what, sizeof what, "%zu selected mailbox%s", n, n == 1 ? "" : "es");
	} else if (t->cursor < t->nvis && (t->vis[t->cursor] & TBL_HEADER)) {
		const struct tbl_group *g = &t->groups[t->vis[t->cursor] & ~TBL_HEADER];
		items = x_calloc(g->count + 1, sizeof *items);
		for (size_t i = t->cursor + 1; i < t->nvis && !(t->vis[i] & TBL_HEADER); i++)
			item_of(tbl_vis_row(t, i, NULL), &items[n++]);
		snprintf(what, sizeof what, "the %zu mailbox%s of %s %s", n, n == 1 ? "" : "es",
		         t->ops->cols[t->group_col].name, g->key[0] ? g->key : "(none)");
	} else {
		const struct mbx_ui *m = tbl_cursor_row(t);
		items = x_calloc(1, sizeof *items);
		if (m) {
			item_of(m, &items[n++]);
			snprintf(what, sizeof what, "%s%s%s%s", m->login, m->name[0] ? " (" : "", m->name,
			         m->name[0] ? ")" : "");
		}
	}
	queue_dialog_open(u, items, n, what);
	free(items);
}

static bool mbx_act(struct ui *u, struct view *v, enum action a, const char *arg)
{
	struct mbx_state *s = v->priv;
	int n, cur;
	switch (a) {
	case ACT_QUEUE:
	case ACT_OPEN:
		open_queue(u, v);
		return true;
	case ACT_FILTER:
		if (arg)
			return by_name(u, v, arg, false);
		load_forests(u, s);
		n = build_menu(s, true, &cur, u->forest_id);
		ui_menu(u, "Show mailboxes", s->menu, n, cur, filter_menu_fn, v);
		return true;
	case ACT_FOREST:
		if (arg)
			return by_name(u, v, arg, true);
		load_forests(u, s);
		n = build_menu(s, false, &cur, u->forest_id);
		ui_menu(u, "Mailboxes of", s->menu, n, cur, forest_menu_fn, v);
		return true;
	default:
		return false;
	}
}

const struct view_ops view_mailboxes_ops = {
	.open = mbx_open, .tick = mbx_refresh, .act = mbx_act, .close = mbx_close,
	.empty = "No mailboxes: import a CSV (mailferry mailbox import), or F: other forest",
};
