/* view_forests.c - Forests: every forest (source, the target, the Office 365
 * tenant) with its role, directory, endpoints, mailboxes and health mark
 * (a check mark when its last connection test this session passed, "!" when
 * it failed, "?" when never tested), then "(no forest)" and the endpoints
 * that belong to none.  Below the list, the selected forest in tabs:
 * Endpoints, General, Accounts, Mailboxes (scope), Credentials, Sites (its
 * mailboxes by site, with the sites' time zones) and Licenses (by kind);
 * the edit dialog has the editable ones (General to Credentials).
 *
 * Keys: Tab / Shift-Tab switch the tab shown; Enter or e edits the forest
 * (a dialog with the same tabs; Save validates and writes); n opens the Add
 * Forest wizard (forest_wizard.c); T tests the forest's endpoints and
 * directory in the background; D or Del deletes a source or tenant forest
 * after its name is typed, or an endpoint without a forest after y/n (the
 * target forest is never deleted here).  The forest under the cursor is the
 * one the Mailboxes view (key 2) shows. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forests.h"
#include "health.h"
#include "secret.h"
#include "ui.h"

enum row_kind { RK_FOREST, RK_NOFOREST, RK_ENDPOINT };
/* Row ids: forests keep theirs; the others are negative, but not -1, which
 * the table uses for "no row". */
#define NOFOREST_ID INT64_C(-2)
#define ORPHAN_ID(ep_id) (-(2 + (ep_id)))

struct f_row {
	int64_t id;             /* forest id; NOFOREST_ID; -(2 + endpoint id) */
	enum row_kind kind;
	int64_t ref;            /* forest or endpoint id */
	char name[128];
	char role[24];
	char where[200];        /* directory URL, or the endpoint's URL */
	int neps;
	int64_t nmbx;
	char mark[8];
};

enum { TAB_ENDPOINTS, TAB_GENERAL, TAB_ACCOUNTS, TAB_MAILBOXES, TAB_CREDENTIALS, TAB_SITES, TAB_LICENSES, TAB__COUNT };
#define TAB__EDITABLE TAB_SITES     /* the edit dialog's tabs end here */
static const char *const tab_names[] = { "Endpoints", "General", "Accounts", "Mailboxes", "Credentials", "Sites",
                                         "Licenses" };

struct hrec {
	int64_t key;            /* endpoint id, or -forest id for its directory */
	enum health h;
	char msg[600];
};

struct fv {
	struct forest *forests;
	size_t nf;
	struct endpoint *eps;
	int64_t *ep_mbx;        /* mailboxes per endpoint (parallel to eps) */
	size_t ne;
	int tab;
	struct hrec *health;
	size_t nh;
	struct conn_test **tests;       /* running in the background */
	size_t ntests;
	struct forest_sites *sites;     /* the Sites and Licenses tabs */
};

/* --- the table -------------------------------------------------------------------- */

#define R(r) ((const struct f_row *)(r))
static int64_t row_id(const void *r) { return R(r)->id; }

static void col_mark(const void *r, char *b, size_t n) { snprintf(b, n, "%s", R(r)->mark); }
static void col_name(const void *r, char *b, size_t n)
{
	snprintf(b, n, "%s%s", R(r)->kind == RK_ENDPOINT ? "  " : "", R(r)->name);
}
static void col_role(const void *r, char *b, size_t n) { snprintf(b, n, "%s", R(r)->role); }
static void col_where(const void *r, char *b, size_t n) { snprintf(b, n, "%s", R(r)->where); }
static void col_eps(const void *r, char *b, size_t n)
{
	if (R(r)->kind == RK_ENDPOINT)
		snprintf(b, n, "-");
	else
		snprintf(b, n, "%d", R(r)->neps);
}
static void col_mbx(const void *r, char *b, size_t n) { fmt_count(R(r)->nmbx, b, n); }

/* Whatever column is sorted on, the forests come first and the endpoints
 * without a forest stay below their "(no forest)" line. */
static int rank_cmp(const void *a, const void *b)
{
	return (int)R(a)->kind - (int)R(b)->kind;
}
#define CMP_BY(fn, expr) \
	static int fn(const void *a, const void *b) \
	{ \
		int r = rank_cmp(a, b); \
		return r ? r : (expr); \
	}
#define NUM(x, y) ((x) < (y) ? -1 : (x) > (y))
CMP_BY(cmp_name, strcmp(R(a)->name, R(b)->name))
CMP_BY(cmp_mark, strcmp(R(a)->mark, R(b)->mark))
CMP_BY(cmp_role, strcmp(R(a)->role, R(b)->role))
CMP_BY(cmp_where, strcmp(R(a)->where, R(b)->where))
CMP_BY(cmp_eps, NUM(R(a)->neps, R(b)->neps))
CMP_BY(cmp_mbx, NUM(R(a)->nmbx, R(b)->nmbx))

static const struct tbl_col cols[] = {
	{ "", "health", 1, false, col_mark, cmp_mark, false },
	{ "FOREST", "name", 20, false, col_name, cmp_name, false },
	{ "ROLE", "role", 11, false, col_role, cmp_role, false },
	{ "DIRECTORY / URL", "directory", 0, false, col_where, cmp_where, false },
	{ "ENDPTS", "endpoints", 6, true, col_eps, cmp_eps, false },
	{ "MAILBOXES", "mailboxes", 9, true, col_mbx, cmp_mbx, false },
};

static const struct tbl_ops ops = { cols, (int)countof(cols), sizeof(struct f_row), row_id, NULL, NULL, 1 };

/* --- loading ------------------------------------------------------------------------- */

static char *dup0(const char *s) { return s ? x_strdup(s) : NULL; }

static void forest_copy(struct forest *d, const struct forest *s)
{
	*d = (struct forest){ .id = s->id, .name = dup0(s->name), .role = dup0(s->role), .dir_url = dup0(s->dir_url),
	                      .dir_bind_dn = dup0(s->dir_bind_dn), .dir_secret_ref = dup0(s->dir_secret_ref),
	                      .dir_base_dn = dup0(s->dir_base_dn), .dir_filter = dup0(s->dir_filter),
	                      .scope = dup0(s->scope), .allow_postpone = s->allow_postpone,
	                      .blackout_mode = dup0(s->blackout_mode), .dir_hwm = dup0(s->dir_hwm),
	                      .dir_attrs = dup0(s->dir_attrs) };
}

static void endpoint_copy(struct endpoint *d, const struct endpoint *s)
{
	*d = (struct endpoint){ .id = s->id, .name = dup0(s->name), .url = dup0(s->url),
	                        .admin_user = dup0(s->admin_user), .secret_ref = dup0(s->secret_ref),
	                        .auth_mech = dup0(s->auth_mech), .login_template = dup0(s->login_template),
	                        .insecure = s->insecure, .max_connections = s->max_connections,
	                        .forest_id = s->forest_id };
}

static void put_forest(void *ctx, const struct forest *f)
{
	struct fv *p = ctx;
	p->forests = x_realloc(p->forests, (p->nf + 1) * sizeof *p->forests);
	forest_copy(&p->forests[p->nf++], f);
}

static void put_endpoint(void *ctx, const struct endpoint *ep)
{
	struct fv *p = ctx;
	p->eps = x_realloc(p->eps, (p->ne + 1) * sizeof *p->eps);
	p->ep_mbx = x_realloc(p->ep_mbx, (p->ne + 1) * sizeof *p->ep_mbx);
	endpoint_copy(&p->eps[p->ne], ep);
	p->ep_mbx[p->ne++] = 0;
}

static void count_mailboxes(void *ctx, int64_t endpoint_id, int64_t n)
{
	struct fv *p = ctx;
	for (size_t i = 0; i < p->ne; i++)
		if (p->eps[i].id == endpoint_id) {
			p->ep_mbx[i] = n;
			return;
		}
}

static void data_free(struct fv *p)
{
	for (size_t i = 0; i < p->nf; i++)
		forest_free(&p->forests[i]);
	for (size_t i = 0; i < p->ne; i++)
		endpoint_free(&p->eps[i]);
	free(p->forests);
	free(p->eps);
	free(p->ep_mbx);
	p->forests = NULL;
	p->eps = NULL;
	p->ep_mbx = NULL;
	p->nf = p->ne = 0;
}

static const struct hrec *health_of(const struct fv *p, int64_t key)
{
	for (size_t i = 0; i < p->nh; i++)
		if (p->health[i].key == key)
			return &p->health[i];
	return NULL;
}

static bool testing(const struct fv *p, int64_t ep_id, int64_t forest_id)
{
	for (size_t i = 0; i < p->ntests; i++)
		if ((ep_id && p->tests[i]->ep.id == ep_id) || (forest_id && p->tests[i]->forest_id == forest_id))
			return true;
	return false;
}

static enum health ep_health(const struct fv *p, int64_t ep_id)
{
	const struct hrec *h = health_of(p, ep_id);
	return h ? h->h : H_UNKNOWN;
}

/* A forest is fine when every endpoint (and its directory) passed its last
 * test; one failure makes it "!"; anything never tested leaves "?". */
static enum health forest_health(const struct fv *p, const struct forest *f)
{
	bool all_ok = true, any = false;
	for (size_t i = 0; i < p->ne; i++)
		if (p->eps[i].forest_id == f->id) {
			enum health h = ep_health(p, p->eps[i].id);
			if (h == H_FAIL)
				return H_FAIL;
			all_ok = all_ok && h == H_OK;
			any = true;
		}
	if (f->dir_url && *f->dir_url) {
		enum health h = ep_health(p, -f->id);
		if (h == H_FAIL)
			return H_FAIL;
		all_ok = all_ok && h == H_OK;
		any = true;
	}
	return any && all_ok ? H_OK : H_UNKNOWN;
}

static const char *mark_of(enum health h, bool running)
{
	if (running)
		return "\xe2\x80\xa6";          /* an ellipsis: being tested */
	return h == H_OK ? "\xe2\x9c\x93" : h == H_FAIL ? "!" : "?";
}

static const struct forest *forest_by_id(const struct fv *p, int64_t id)
{
	for (size_t i = 0; i < p->nf; i++)
		if (p->forests[i].id == id)
			return &p->forests[i];
	return NULL;
}

static const struct endpoint *endpoint_by_id(const struct fv *p, int64_t id, int64_t *mbx)
{
	for (size_t i = 0; i < p->ne; i++)
		if (p->eps[i].id == id) {
			if (mbx)
				*mbx = p->ep_mbx[i];
			return &p->eps[i];
		}
	return NULL;
}

/* The rows, from the data already loaded (a finished test only redoes this). */
static void rows_build(struct view *v)
{
	struct fv *p = v->priv;
	tbl_clear(&v->tbl);
	for (size_t i = 0; i < p->nf; i++) {
		const struct forest *f = &p->forests[i];
		struct f_row *r = tbl_upsert(&v->tbl, f->id);
		*r = (struct f_row){ .id = f->id, .kind = RK_FOREST, .ref = f->id };
		snprintf(r->name, sizeof r->name, "%s", f->name);
		snprintf(r->role, sizeof r->role, "%s", strcmp(f->role, "tenant") == 0 ? "O365 tenant" : f->role);
		snprintf(r->where, sizeof r->where, "%s", f->dir_url && *f->dir_url ? f->dir_url : "(no directory)");
		for (size_t k = 0; k < p->ne; k++)
			if (p->eps[k].forest_id == f->id) {
				r->neps++;
				r->nmbx += p->ep_mbx[k];
			}
		snprintf(r->mark, sizeof r->mark, "%s", mark_of(forest_health(p, f), testing(p, 0, f->id)));
	}
	struct f_row *head = NULL;
	for (size_t k = 0; k < p->ne; k++) {
		const struct endpoint *ep = &p->eps[k];
		if (ep->forest_id)
			continue;
		if (!head) {
			head = tbl_upsert(&v->tbl, NOFOREST_ID);
			*head = (struct f_row){ .id = NOFOREST_ID, .kind = RK_NOFOREST };
			snprintf(head->name, sizeof head->name, "(no forest)");
			snprintf(head->role, sizeof head->role, "-");
			snprintf(head->where, sizeof head->where, "endpoints added with the CLI");
			snprintf(head->mark, sizeof head->mark, " ");
		}
		head->neps++;
		head->nmbx += p->ep_mbx[k];
		struct f_row *r = tbl_upsert(&v->tbl, ORPHAN_ID(ep->id));
		*r = (struct f_row){ .id = ORPHAN_ID(ep->id), .kind = RK_ENDPOINT, .ref = ep->id, .nmbx = p->ep_mbx[k] };
		snprintf(r->name, sizeof r->name, "%s", ep->name);
		snprintf(r->role, sizeof r->role, "endpoint");
		snprintf(r->where, sizeof r->where, "%s", ep->url);
		snprintf(r->mark, sizeof r->mark, "%s", mark_of(ep_health(p, ep->id), testing(p, ep->id, 0)));
	}
	v->tbl.changed = true;
}

static void title_set(struct view *v)
{
	struct fv *p = v->priv;
	snprintf(v->title, sizeof v->title, "Forests: %zu%s  (n add  Enter edit  T test  H health  P checklist  R discover  D delete  Tab)", p->nf,
	         p->ntests ? ", testing\xe2\x80\xa6" : "");
}

/* The alerts of the last health check (any process: H, forest check, the
 * engine): for each endpoint, and for a forest's directory, the worst
 * result becomes its mark and the endpoint tab's "Last test" line. */
struct alert_acc {
	struct fv *p;
	int64_t key[64];
	int level[64];
	char msg[64][300];
	int n;
};

static void take_alert(void *ctx, int64_t forest_id, const char *endpoint, const char *check, int level,
                       const char *detail, const char *fix, int64_t ts)
{
	(void)fix, (void)ts;
	struct alert_acc *a = ctx;
	int64_t key = 0;
	if (!endpoint)
		key = -forest_id;
	for (size_t i = 0; endpoint && i < a->p->ne; i++)
		if (a->p->eps[i].name && !strcmp(a->p->eps[i].name, endpoint))
			key = a->p->eps[i].id;
	if (!key)
		return;
	int k = 0;
	while (k < a->n && a->key[k] != key)
		k++;
	if (k == a->n) {
		if (a->n == 64)
			return;
		a->key[k] = key;
		a->level[k] = -1;
		a->n++;
	}
	if (level > a->level[k]) {
		a->level[k] = level;
		snprintf(a->msg[k], sizeof a->msg[k], "%s: %s", check, detail ? detail : "");
	}
}

static void load_alerts(struct ui *u, struct fv *p)
{
	struct alert_acc *a = x_calloc(1, sizeof *a);
	a->p = p;
	struct err e;
	if (store_alert_each(u->st, 0, take_alert, a, &e))
		ui_error(u, "%s", e.msg);
	for (int k = 0; k < a->n; k++) {
		struct hrec *h = (struct hrec *)health_of(p, a->key[k]);
		if (!h) {
			p->health = x_realloc(p->health, (p->nh + 1) * sizeof *p->health);
			h = &p->health[p->nh++];
			h->key = a->key[k];
		}
		h->h = a->level[k] >= HEALTH_WARN ? H_FAIL : H_OK;
		snprintf(h->msg, sizeof h->msg, "%s", a->msg[k]);
	}
	free(a);
}

static void forests_open(struct ui *u, struct view *v)
{
	if (!v->has_tbl) {
		tbl_init(&v->tbl, &ops);
		v->has_tbl = true;
		v->priv = x_calloc(1, sizeof(struct fv));
	}
	struct fv *p = v->priv;
	data_free(p);
	struct err e;
	if (store_forest_each(u->st, put_forest, p, &e) || store_endpoint_each(u->st, put_endpoint, p, &e) ||
	    store_mailbox_counts(u->st, count_mailboxes, p, &e))
		ui_error(u, "%s", e.msg);
	load_alerts(u, p);
	rows_build(v);
	title_set(v);
}

/* --- background tests --------------------------------------------------------------- */

void forests_record_test(struct ui *u, const struct conn_test *t)
{
	struct fv *p = u->views[V_FORESTS].priv;
	if (!p)
		return;
	struct { int64_t key; enum health h; const char *msg; } res[2] = {
		{ t->ep.id, t->mail, t->mail_msg }, { -t->forest_id, t->dir, t->dir_msg },
	};
	for (int i = 0; i < 2; i++) {
		if (!res[i].key || res[i].h == H_UNKNOWN)
			continue;
		struct hrec *h = (struct hrec *)health_of(p, res[i].key);
		if (!h) {
			p->health = x_realloc(p->health, (p->nh + 1) * sizeof *p->health);
			h = &p->health[p->nh++];
			h->key = res[i].key;
		}
		h->h = res[i].h;
		snprintf(h->msg, sizeof h->msg, "%s", res[i].msg);
	}
}

void forests_set_health(struct ui *u, int64_t key, enum health hl, const char *msg)
{
	struct fv *p = u->views[V_FORESTS].priv;
	if (!p)
		return;
	struct hrec *h = (struct hrec *)health_of(p, key);
	if (!h) {
		p->health = x_realloc(p->health, (p->nh + 1) * sizeof *p->health);
		h = &p->health[p->nh++];
		h->key = key;
	}
	h->h = hl;
	snprintf(h->msg, sizeof h->msg, "%s", msg);
	if (u->views[V_FORESTS].has_tbl) {
		rows_build(&u->views[V_FORESTS]);
		title_set(&u->views[V_FORESTS]);
	}
}

const struct forest *forests_selected(struct ui *u)
{
	struct view *v = &u->views[V_FORESTS];
	struct fv *p = v->priv;
	const struct f_row *r = p && v->has_tbl ? tbl_cursor_row(&v->tbl) : NULL;
	if (!r)
		return NULL;
	if (r->kind == RK_FOREST)
		return forest_by_id(p, r->ref);
	for (size_t i = 0; r->kind == RK_ENDPOINT && i < p->ne; i++)
		if (p->eps[i].id == r->ref && p->eps[i].forest_id)
			return forest_by_id(p, p->eps[i].forest_id);
	return NULL;
}

int64_t forests_endpoint_of(struct ui *u, int64_t forest_id)
{
	struct fv *p = u->views[V_FORESTS].priv;
	for (size_t i = 0; p && i < p->ne; i++)
		if (p->eps[i].forest_id == forest_id)
			return p->eps[i].id;
	return 0;
}

int64_t forests_endpoint_id(struct ui *u, const char *endpoint_name)
{
	struct fv *p = u->views[V_FORESTS].priv;
	for (size_t i = 0; p && endpoint_name && i < p->ne; i++)
		if (p->eps[i].name && !strcmp(p->eps[i].name, endpoint_name))
			return p->eps[i].id;
	return 0;
}

void forests_adopt_test(struct ui *u, struct conn_test *t)
{
	struct fv *p = u->views[V_FORESTS].priv;
	if (!p) {
		conn_test_free(t);
		return;
	}
	p->tests = x_realloc(p->tests, (p->ntests + 1) * sizeof *p->tests);
	p->tests[p->ntests++] = t;
}

static void report_test(struct ui *u, const struct conn_test *t)
{
	const char *name = t->ep.name ? t->ep.name : "directory";
	if (t->mail == H_FAIL)
		ui_error(u, "test of %s: ! %s", name, t->mail_msg);
	else if (t->dir == H_FAIL)
		ui_error(u, "test of %s: ! %s", name, t->dir_msg);
	else if (t->mail == H_OK)
		ui_say(u, "test of %s: \xe2\x9c\x93 %s", name, t->mail_msg);
	else if (t->dir == H_OK)
		ui_say(u, "test: \xe2\x9c\x93 %s", t->dir_msg);
}

/* Joins the tests that ended, keeps their results, redraws the marks; and
 * every few seconds takes the stored alerts again (the engine checks
 * forests when idle). */
static void forests_tick(struct ui *u, struct view *v)
{
	struct fv *p = v->priv;
	if (!p)
		return;
	bool any = false;
	static int64_t last_alerts;
	int64_t now = clock_mono_ms();
	if (now - last_alerts >= 3000) {
		last_alerts = now;
		load_alerts(u, p);
		any = true;
	}
	for (size_t i = 0; i < p->ntests;) {
		struct conn_test *t = p->tests[i];
		if (!conn_test_finished(t)) {
			i++;
			continue;
		}
		forests_record_test(u, t);
		if (t->ep.id || t->forest_id)
			report_test(u, t);
		conn_test_free(t);
		p->tests[i] = p->tests[--p->ntests];
		any = true;
	}
	if (any) {
		rows_build(v);
		title_set(v);
	}
}

static void test_start(struct ui *u, const struct endpoint *ep, const struct forest *f)
{
	struct conn_test *t = conn_test_new(u, ep, NULL, f, NULL);
	conn_test_start(t);
	forests_adopt_test(u, t);
}

static void act_test(struct ui *u, struct view *v)
{
	struct fv *p = v->priv;
	const struct f_row *r = tbl_cursor_row(&v->tbl);
	if (!r) {
		ui_error(u, "no forest to test: n adds one");
		return;
	}
	if (testing(p, r->kind == RK_ENDPOINT ? r->ref : 0, r->kind == RK_FOREST ? r->ref : 0)) {
		ui_error(u, "%s is being tested already", r->name);
		return;
	}
	const struct forest *f = r->kind == RK_FOREST ? forest_by_id(p, r->ref) : NULL;
	int n = 0;
	for (size_t i = 0; i < p->ne; i++) {
		const struct endpoint *ep = &p->eps[i];
		bool mine = r->kind == RK_FOREST ? ep->forest_id == r->ref
		            : r->kind == RK_ENDPOINT ? ep->id == r->ref : ep->forest_id == 0;
		if (!mine)
			continue;
		test_start(u, ep, n == 0 ? f : NULL);    /* the directory once */
		n++;
	}
	if (n == 0 && f && f->dir_url && *f->dir_url) {
		struct endpoint none = { .name = (char *)"directory" };
		test_start(u, &none, f);
		n++;
	}
	if (n == 0) {
		ui_error(u, "%s has no endpoint to test: Enter, Accounts tab, to give it a mail server", r->name);
		return;
	}
	ui_say(u, "testing %s in the background (%d connection%s)\xe2\x80\xa6", r->name, n, n == 1 ? "" : "s");
	rows_build(v);
	title_set(v);
}

static void forests_close(struct ui *u, struct view *v)
{
	(void)u;
	struct fv *p = v->priv;
	if (!p)
		return;
	for (size_t i = 0; i < p->ntests; i++)
		conn_test_free(p->tests[i]);     /* waits at most the network timeout */
	free(p->tests);
	free(p->health);
	forest_sites_free(p->sites);
	data_free(p);
	free(p);
	v->priv = NULL;
}

void forests_select(struct ui *u, int64_t forest_id)
{
	struct view *v = &u->views[V_FORESTS];
	if (!v->has_tbl)
		return;
	tbl_arrange(&v->tbl);
	for (size_t i = 0; i < v->tbl.nvis; i++) {
		const struct f_row *r = tbl_vis_row(&v->tbl, i, NULL);
		if (r && r->kind == RK_FOREST && r->ref == forest_id) {
			tbl_cursor_to(&v->tbl, i);
			return;
		}
	}
}

/* --- the panel below the list --------------------------------------------------------- */

static const char *nz(const char *s) { return s && *s ? s : "-"; }

/* The mail endpoint a forest's Accounts tab shows: NAME-imap when there is
 * one (what the wizard creates), else its first endpoint. */
static const struct endpoint *main_endpoint(const struct fv *p, const struct forest *f)
{
	const struct endpoint *first = NULL;
	char want[200];
	snprintf(want, sizeof want, "%s-imap", f->name);
	for (size_t i = 0; i < p->ne; i++)
		if (p->eps[i].forest_id == f->id) {
			if (strcmp(p->eps[i].name, want) == 0)
				return &p->eps[i];
			if (!first)
				first = &p->eps[i];
		}
	return first;
}

static const char *blackout_label(const char *mode)
{
	if (mode && strcmp(mode, "initial") == 0)
		return "initial migration (until ready to complete)";
	if (mode && strcmp(mode, "final") == 0)
		return "final migration (cutover)";
	return "entire migration";
}

static void kv_line(struct ui *u, int y, int w, const char *label, const char *value, bool warn)
{
	draw_cell(y, 2, 24, label, false);
	if (warn)
		attron(ui_attr(u, C_ERROR));
	draw_cell(y, 27, w - 28, value, false);
	if (warn)
		attroff(ui_attr(u, C_ERROR));
}

static void draw_endpoints(struct ui *u, const struct fv *p, const struct f_row *r, int y, int h, int w)
{
	attron(ui_attr(u, C_HEADER));
	mvhline(y, 0, ' ', w);
	int uw = w - 2 - 18 - 14 - 9 - 5 - 5;
	draw_cell(y, 2, 17, "ENDPOINT", false);
	draw_cell(y, 20, uw - 1, "URL", false);
	draw_cell(y, 19 + uw, 13, "ADMIN", false);
	draw_cell(y, 33 + uw, 8, "TLS", false);
	draw_cell(y, 42 + uw, 4, "MAX", true);
	attroff(ui_attr(u, C_HEADER));
	int line = 1;
	const char *lastmsg = NULL;
	bool lastbad = false;
	for (size_t i = 0; i < p->ne && line < h - 1; i++) {
		const struct endpoint *ep = &p->eps[i];
		bool mine = r->kind == RK_FOREST ? ep->forest_id == r->ref
		            : r->kind == RK_ENDPOINT ? ep->id == r->ref : ep->forest_id == 0;
		if (!mine)
			continue;
		const struct hrec *hr = health_of(p, ep->id);
		char max[16];
		snprintf(max, sizeof max, "%d", ep->max_connections);
		draw_cell(y + line, 0, 1, mark_of(hr ? hr->h : H_UNKNOWN, testing(p, ep->id, 0)), false);
		draw_cell(y + line, 2, 17, ep->name, false);
		draw_cell(y + line, 20, uw - 1, ep->url, false);
		draw_cell(y + line, 19 + uw, 13, nz(ep->admin_user), false);
		if (ep->insecure)
			attron(ui_attr(u, C_ERROR));
		draw_cell(y + line, 33 + uw, 8, ep->insecure ? "OFF (!)" : "verify", false);
		if (ep->insecure)
			attroff(ui_attr(u, C_ERROR));
		draw_cell(y + line, 42 + uw, 4, max, true);
		if (hr && (!lastmsg || hr->h == H_FAIL)) {
			lastmsg = hr->msg;
			lastbad = hr->h == H_FAIL;
		}
		line++;
	}
	if (line == 1)
		draw_cell(y + line++, 2, w - 4, "No endpoint yet: Enter, Accounts tab, gives the forest its mail server.", false);
	const struct forest *f = r->kind == RK_FOREST ? forest_by_id(p, r->ref) : NULL;
	const struct hrec *dh = f ? health_of(p, -f->id) : NULL;
	if (dh && (!lastmsg || dh->h == H_FAIL)) {
		lastmsg = dh->msg;
		lastbad = dh->h == H_FAIL;
	}
	char msg[700];
	snprintf(msg, sizeof msg, "Last test: %s%s", lastmsg ? (lastbad ? "! " : "\xe2\x9c\x93 ") : "",
	         lastmsg ? lastmsg : "none this session (T tests)");
	if (lastbad)
		attron(ui_attr(u, C_ERROR));
	draw_cell(y + line + (line + 1 < h), 2, w - 4, msg, false);
	if (lastbad)
		attroff(ui_attr(u, C_ERROR));
}

/* rows: the lines the panel has from y (a short terminal drops the last). */
static void draw_forest_tab(struct ui *u, const struct fv *p, const struct forest *f, int tab, int y, int rows, int w)
{
	const struct endpoint *ep = main_endpoint(p, f);
	char b[600];
	switch (tab) {
	case TAB_GENERAL:
		kv_line(u, y, w, "Name", f->name, false);
		kv_line(u, y + 1, w, "Role", forest_role_label(f->role), false);
		kv_line(u, y + 2, w, "Users may postpone", f->allow_postpone ? "yes" : "no", false);
		kv_line(u, y + 3, w, "Apply blackouts to", blackout_label(f->blackout_mode), false);
		break;
	case TAB_ACCOUNTS:
		snprintf(b, sizeof b, "%s%s%s", ep ? ep->url : "none", ep ? "  " : "", ep ? ep->name : "");
		kv_line(u, y, w, "Mail server", b, false);
		kv_line(u, y + 1, w, "Admin user", ep ? nz(ep->admin_user) : "-", false);
		kv_line(u, y + 2, w, "Authentication", ep && ep->auth_mech ? ep->auth_mech : "automatic", false);
		kv_line(u, y + 3, w, "TLS verification", !ep ? "-" : ep->insecure
		        ? "OFF: certificates are not checked (warning)" : "on", ep && ep->insecure);
		snprintf(b, sizeof b, "%d", ep ? ep->max_connections : 0);
		kv_line(u, y + 4, w, "Max connections", ep ? b : "-", false);
		kv_line(u, y + 5, w, "Directory URL", nz(f->dir_url), false);
		kv_line(u, y + 6, w, "Bind DN", nz(f->dir_bind_dn), false);
		kv_line(u, y + 7, w, "Base DN", nz(f->dir_base_dn), false);
		kv_line(u, y + 8, w, "Filter", nz(f->dir_filter), false);
		forest_attrs_text(f->dir_attrs, b, sizeof b);
		if (rows > 9)
			kv_line(u, y + 9, w, "Attribute map", f->dir_attrs ? b : "- (the defaults)", false);
		break;
	case TAB_MAILBOXES: {
		forest_scope_text(f->scope, b, sizeof b);
		kv_line(u, y, w, "OUs / sites included", b, false);
		int64_t n = 0;
		for (size_t i = 0; i < p->ne; i++)
			if (p->eps[i].forest_id == f->id)
				n += p->ep_mbx[i];
		fmt_count(n, b, sizeof b);
		kv_line(u, y + 1, w, "Mailboxes known", b, false);
		kv_line(u, y + 2, w, "", "2 shows them in Mailboxes", false);
		break;
	}
	default:
		forest_secret_where(ep ? ep->secret_ref : NULL, b, sizeof b);
		kv_line(u, y, w, "Mail admin password", ep ? b : "- (no endpoint)", false);
		forest_secret_where(f->dir_secret_ref, b, sizeof b);
		kv_line(u, y + 1, w, "Directory password", f->dir_url && *f->dir_url ? b : "- (no directory)", false);
		kv_line(u, y + 2, w, "", "Enter, Credentials tab: type a new password", false);
		break;
	}
}

static void draw_panel(struct ui *u, struct view *v, int y, int h, int w)
{
	struct fv *p = v->priv;
	const struct f_row *r = tbl_cursor_row(&v->tbl);
	int x = 0;
	for (int t = 0; t < TAB__COUNT; t++) {
		char b[40];
		snprintf(b, sizeof b, " %s ", tab_names[t]);
		int bw = draw_width(b);
		if (x + bw > w)
			break;
		attr_t a = t == p->tab ? ui_attr(u, C_CURSOR) : ui_attr(u, C_BAR);
		attron(a);
		draw_cell(y, x, bw, b, false);
		attroff(a);
		x += bw + 1;
	}
	if (!r)
		return;
	if (p->tab == TAB_ENDPOINTS) {
		draw_endpoints(u, p, r, y + 1, h - 1, w);
		return;
	}
	const struct forest *f = r->kind == RK_FOREST ? forest_by_id(p, r->ref) : NULL;
	if (!f) {
		draw_cell(y + 2, 2, w - 4, "Endpoints without a forest have no forest settings (see the Endpoints tab).", false);
	} else if (p->tab == TAB_SITES || p->tab == TAB_LICENSES) {
		if (!p->sites)
			p->sites = forest_sites_new();
		forest_sites_draw(u, p->sites, f, p->tab == TAB_LICENSES, y + 1 + (p->tab == TAB_LICENSES), h - 1, w);
	} else {
		draw_forest_tab(u, p, f, p->tab, y + 2, h - 2, w);
	}
}

static void forests_draw(struct ui *u, struct view *v, int y0, int h, int w)
{
	int panel = h >= 20 ? 12 : h / 2;
	int th = (int)v->tbl.nvis + 1;
	if (th > h - panel - 1)
		th = h - panel - 1;
	if (th < 3)
		th = 3;
	draw_table(u, &v->tbl, y0, th, w, false);
	if (v->tbl.nvis == 0)
		draw_cell(y0 + 1, 2, w - 4, "No forest yet: n opens the Add Forest wizard.", false);
	draw_panel(u, v, y0 + th + 1, h - th - 1, w);
	/* Key 2 then shows this forest's mailboxes. */
	const struct f_row *r = tbl_cursor_row(&v->tbl);
	u->forest_id = r && r->kind == RK_FOREST ? r->ref : 0;
}

/* --- editing: the same tabs in a dialog ------------------------------------------------------ */

enum { EB_SAVE = 1, EB_PREV, EB_NEXT, EB_CANCEL };
static const char *const auth_choices[] = { "automatic", "plain", "login", "xoauth2", NULL };
static const char *const blackout_modes[] = { "entire", "initial", "final", NULL };
static const char *const blackout_labels[] = { "entire migration", "initial migration", "final migration (cutover)", NULL };

struct edit {
	struct forest f;            /* as loaded */
	struct endpoint ep;         /* as loaded; id 0: the forest has none */
	int tab;                    /* 1..4 (General..Credentials) */
	bool tls_off_seen;
	char snapshot[32][FORM_VALUE_MAX];
	int name, role, postpone, blackout;
	int url, user, auth, tls, maxc, dirurl, binddn, basedn, filter, attrs;
	int scope;
	struct scope_picker pick;   /* the Mailboxes tab's OU tree (forests with a directory) */
	int pwwhere, pw, dirwhere, dirpw;
	int save, prev, next, cancel;
};

static void edit_free(void *ctx)
{
	struct edit *ed = ctx;
	forest_free(&ed->f);
	endpoint_free(&ed->ep);
	scope_picker_free(&ed->pick);
	free(ed);
}

static int tab_of(const struct edit *ed, int i)
{
	if (i <= ed->blackout)
		return TAB_GENERAL;
	if (i <= ed->attrs)
		return TAB_ACCOUNTS;
	if (i == ed->scope || i == ed->pick.panel)
		return TAB_MAILBOXES;
	if (i <= ed->dirpw)
		return TAB_CREDENTIALS;
	return -1;
}

static void edit_note(struct ui_dialog *d, struct edit *ed)
{
	size_t k = 0;
	for (int t = TAB_GENERAL; t < TAB__EDITABLE; t++)
		k += (size_t)snprintf(d->note + k, sizeof d->note - k, t == ed->tab ? "[%s]  " : " %s   ", tab_names[t]);
	snprintf(d->note + k, sizeof d->note - k, "%s",
	         !d->fields[ed->tls].checked && ed->ep.url
	         ? "\n! TLS verification is OFF: certificates are not checked."
	         : ed->tab == TAB_MAILBOXES && ed->pick.note[0] ? "\n"
	         : "\nNext tab / Previous tab switch; Save checks and writes every tab.");
	k = strlen(d->note);
	if (ed->tab == TAB_MAILBOXES && ed->pick.note[0])
		snprintf(d->note + k, sizeof d->note - k, "%.300s%s", ed->pick.note,
		         ed->pick.have_tree ? "\nSpace includes or leaves out an OU; Right/Left expand and collapse." : "");
}

static void edit_show(struct ui_dialog *d, struct edit *ed, int tab)
{
	ed->tab = tab;
	for (int i = 0; i < d->nfields; i++)
		if (d->fields[i].kind != FF_BUTTON)
			d->fields[i].hidden = tab_of(ed, i) != tab;
	scope_picker_show(d, &ed->pick, tab == TAB_MAILBOXES);
	edit_note(d, ed);
	if (d->form.error_field < 0 || tab_of(ed, d->form.error_field) != tab)
		d->form.focus = form_next_focus(&d->form, d->nfields - 1, 1);
}

/* Validates every tab; on a failure shows that tab with the message. */
static bool edit_check_all(struct ui_dialog *d, struct edit *ed)
{
	int keep = ed->tab;
	for (int t = TAB_GENERAL; t < TAB__EDITABLE; t++) {
		edit_show(d, ed, t);
		if (!form_check(&d->form)) {
			edit_show(d, ed, t);
			return false;
		}
	}
	edit_show(d, ed, keep);
	char why[200];
	const char *url = d->fields[ed->url].value;
	if ((url[0] || ed->ep.id) && !forest_url_check(url, forest_mail_schemes, why, sizeof why)) {
		edit_show(d, ed, TAB_ACCOUNTS);
		form_fail(&d->form, ed->url, "%s", why);
		return false;
	}
	const char *durl = d->fields[ed->dirurl].value;
	if (durl[0] && !forest_dir_url_check(durl, why, sizeof why)) {
		edit_show(d, ed, TAB_ACCOUNTS);
		form_fail(&d->form, ed->dirurl, "%s", why);
		return false;
	}
	char *map = NULL;
	if (!forest_attrs_typed(d->fields[ed->attrs].value, &map, why, sizeof why)) {
		edit_show(d, ed, TAB_ACCOUNTS);
		form_fail(&d->form, ed->attrs, "%s", why);
		return false;
	}
	free(map);
	if (url[0] && !d->fields[ed->tls].checked && !ed->ep.insecure && !ed->tls_off_seen) {
		ed->tls_off_seen = true;
		edit_show(d, ed, TAB_ACCOUNTS);
		form_fail(&d->form, ed->tls, "off means anyone on the path can read the admin password; "
		          "Save again keeps it off");
		return false;
	}
	if (!ed->ep.id && url[0] && !d->fields[ed->pw].value[0]) {
		edit_show(d, ed, TAB_CREDENTIALS);
		form_fail(&d->form, ed->pw, "the new mail server needs the admin password");
		return false;
	}
	return true;
}

static bool same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool edit_save(struct ui *u, struct ui_dialog *d, struct edit *ed)
{
	if (!edit_check_all(d, ed))
		return false;
	const struct form_field *F = d->fields;
	char name[FORM_VALUE_MAX];
	snprintf(name, sizeof name, "%s", F[ed->name].value);
	/* The forest as typed. */
	struct forest f = ed->f;
	f.name = name;
	f.allow_postpone = F[ed->postpone].checked;
	f.blackout_mode = (char *)blackout_modes[F[ed->blackout].choice];
	f.dir_url = F[ed->dirurl].value[0] ? (char *)F[ed->dirurl].value : NULL;
	f.dir_bind_dn = F[ed->binddn].value[0] ? (char *)F[ed->binddn].value : NULL;
	f.dir_base_dn = F[ed->basedn].value[0] ? (char *)F[ed->basedn].value : NULL;
	f.dir_filter = F[ed->filter].value[0] ? (char *)F[ed->filter].value : NULL;
	char *map = NULL, why[200];
	forest_attrs_typed(F[ed->attrs].value, &map, why, sizeof why);    /* checked above */
	/* Untouched, the stored scope stays as it is: its text may have been
	 * cut to the field's size. */
	bool scope_kept = ed->pick.have_tree ? !ed->pick.touched
	                                     : ed->scope < 32 && !strcmp(F[ed->scope].value, ed->snapshot[ed->scope]);
	char *scope = scope_kept ? x_strdup(ed->f.scope ? ed->f.scope : "") : scope_picker_scope(d, &ed->pick);
	if (!scope) {
		edit_show(d, ed, TAB_MAILBOXES);
		form_fail(&d->form, ed->pick.panel, "include at least one OU (Space), or the base DN for everything");
		return false;
	}
	f.scope = scope[0] ? scope : NULL;
	/* The endpoint as typed. */
	struct endpoint ep = ed->ep;
	char epname[FORM_VALUE_MAX + 8];
	if (!ep.id) {
		snprintf(epname, sizeof epname, "%s-imap", name);
		ep.name = epname;
		ep.forest_id = f.id;
	}
	ep.url = (char *)F[ed->url].value;
	ep.admin_user = F[ed->user].value[0] ? (char *)F[ed->user].value : NULL;
	ep.auth_mech = F[ed->auth].choice ? (char *)auth_choices[F[ed->auth].choice] : NULL;
	ep.insecure = !F[ed->tls].checked;
	ep.max_connections = (int)form_int(&F[ed->maxc]);
	/* Typed passwords go to the secrets file; the store keeps references. */
	struct err e;
	enum st s = ST_OK;
	char *mail_ref = NULL, *dir_ref = NULL;
	if (F[ed->pw].value[0]) {
		char *sname = ed->ep.secret_ref && strncmp(ed->ep.secret_ref, "secret:", 7) == 0
		              ? x_strdup(ed->ep.secret_ref + 7) : x_asprintf("endpoint:%s", ep.name);
		s = secret_save(u->o->cfg->secrets_path, sname, F[ed->pw].value, &mail_ref, &e);
		free(sname);
		ep.secret_ref = mail_ref;
	}
	if (!s && F[ed->dirpw].value[0]) {
		char *sname = x_asprintf("forest:%s:directory", name);
		s = secret_save(u->o->cfg->secrets_path, sname, F[ed->dirpw].value, &dir_ref, &e);
		free(sname);
		f.dir_secret_ref = dir_ref;
	}
	int fail_field = ed->name;
	if (!s && !(s = store_begin(u->st, &e))) {
		s = store_forest_update(u->st, &f, &e);
		if (!s && !same(map, ed->f.dir_attrs)) {
			fail_field = ed->attrs;
			s = store_forest_set_attrs(u->st, f.id, map, &e);
		}
		/* The first endpoint field that changed is the one a refusal names. */
		int changed = !same(ep.url, ed->ep.url) ? ed->url : !same(ep.admin_user, ed->ep.admin_user) ? ed->user
		              : !same(ep.auth_mech, ed->ep.auth_mech) ? ed->auth : ep.insecure != ed->ep.insecure ? ed->tls
		              : ep.max_connections != ed->ep.max_connections ? ed->maxc
		              : !same(ep.secret_ref, ed->ep.secret_ref) ? ed->pw : -1;
		if (!s && !ed->ep.id && ep.url[0]) {
			fail_field = ed->url;
			s = store_endpoint_add(u->st, &ep, &e);
		} else if (!s && ed->ep.id && changed >= 0) {
			fail_field = changed;
			s = store_endpoint_update(u->st, &ep, &e);
		}
		if (!s)
			s = store_commit(u->st, &e);
		if (s)
			store_rollback(u->st);
	}
	free(scope);
	free(map);
	free(mail_ref);
	free(dir_ref);
	if (s) {
		edit_show(d, ed, tab_of(ed, fail_field));
		form_fail(&d->form, fail_field, "%s", e.msg);
		return false;
	}
	ui_reload(u, V_FORESTS);
	forests_select(u, f.id);
	ui_say(u, "forest %s saved", name);
	return true;
}

static bool edit_changed(const struct ui_dialog *d, const struct edit *ed)
{
	if (ed->pick.touched)
		return true;
	for (int i = 0; i < d->nfields && i < 32; i++) {
		const struct form_field *f = &d->fields[i];
		char now[FORM_VALUE_MAX];
		if (f->kind == FF_BOOL)
			snprintf(now, sizeof now, "%d", f->checked);
		else if (f->kind == FF_CHOICE)
			snprintf(now, sizeof now, "%d", f->choice);
		else
			snprintf(now, sizeof now, "%s", f->value);
		if (strcmp(now, ed->snapshot[i]) != 0)
			return true;
	}
	return false;
}

static void edit_snapshot(struct ui_dialog *d, struct edit *ed)
{
	for (int i = 0; i < d->nfields && i < 32; i++) {
		const struct form_field *f = &d->fields[i];
		if (f->kind == FF_BOOL)
			snprintf(ed->snapshot[i], FORM_VALUE_MAX, "%d", f->checked);
		else if (f->kind == FF_CHOICE)
			snprintf(ed->snapshot[i], FORM_VALUE_MAX, "%d", f->choice);
		else
			snprintf(ed->snapshot[i], FORM_VALUE_MAX, "%s", f->value);
	}
}

static void edit_discard_answer(struct ui *u, bool yes, void *ctx)
{
	(void)ctx;
	if (yes) {
		ui_dialog_close(u);
		ui_say(u, "changes thrown away");
	} else
		u->mode = M_DIALOG;
}

static bool edit_done(struct ui *u, struct ui_dialog *d, int button)
{
	struct edit *ed = d->ctx;
	switch (button) {
	case EB_SAVE:
		return edit_save(u, d, ed);
	case EB_PREV:
	case EB_NEXT: {
		int t = ed->tab + (button == EB_NEXT ? 1 : -1);
		if (t < TAB_GENERAL)
			t = TAB__EDITABLE - 1;
		if (t >= TAB__EDITABLE)
			t = TAB_GENERAL;
		d->form.error[0] = '\0';
		d->form.error_field = -1;
		edit_show(d, ed, t);
		d->form.focus = button == EB_NEXT ? ed->next : ed->prev;
		return false;
	}
	default:
		if (!edit_changed(d, ed))
			return true;
		ui_confirm(u, edit_discard_answer, NULL, "Throw away your changes to %s?", ed->f.name);
		return false;
	}
}

static void edit_tree_updated(struct ui *u, struct ui_dialog *d)
{
	(void)u;
	edit_note(d, d->ctx);
}

static void edit_poll(struct ui *u, struct ui_dialog *d)
{
	struct edit *ed = d->ctx;
	edit_note(d, ed);         /* the TLS warning follows the checkbox */
	/* The Mailboxes tab reads the directory's OUs (again when the
	 * directory settings change), with a new password when one is typed. */
	if (ed->tab != TAB_MAILBOXES)
		return;
	const struct form_field *F = d->fields;
	struct scope_source src = { ed->f.name, F[ed->dirurl].value, F[ed->binddn].value, F[ed->basedn].value,
	                            F[ed->dirpw].value[0] ? F[ed->dirpw].value : NULL, ed->f.dir_secret_ref };
	scope_picker_load(u, d, &ed->pick, &src);
}

static void edit_open(struct ui *u, struct view *v, int tab)
{
	struct fv *p = v->priv;
	const struct f_row *r = tbl_cursor_row(&v->tbl);
	const struct forest *f = r && r->kind == RK_FOREST ? forest_by_id(p, r->ref) : NULL;
	if (!f) {
		ui_error(u, r ? "endpoints without a forest are changed with the CLI (mailferry endpoint ...)"
		              : "no forest yet: n opens the Add Forest wizard");
		return;
	}
	struct ui_dialog *d = x_calloc(1, sizeof *d);
	struct edit *ed = x_calloc(1, sizeof *ed);
	forest_copy(&ed->f, f);
	const struct endpoint *ep = main_endpoint(p, f);
	if (ep)
		endpoint_copy(&ed->ep, ep);
	d->ctx = ed;
	d->free_ctx = edit_free;
	d->done = edit_done;
	d->poll = edit_poll;
	d->width = 78;
	static char title[200];     /* the dialog keeps a pointer; one dialog at a time */
	snprintf(title, sizeof title, "Forest %s", f->name);
	d->form.title = title;
	ed->name = ui_field(d, "Name", FF_TEXT, f->name, "unique among the forests");
	d->fields[ed->name].required = true;
	ed->role = ui_field(d, "Role", FF_LABEL, forest_role_label(f->role), NULL);
	ed->postpone = ui_field(d, "Users may postpone", FF_BOOL, "", "Space: users may set their own blackout times");
	d->fields[ed->postpone].checked = f->allow_postpone;
	ed->blackout = ui_field(d, "Apply blackouts to", FF_CHOICE, "",
	                        "entire migration; initial (jobs that stop when ready); final (their cutover)");
	d->fields[ed->blackout].choices = blackout_labels;
	for (int i = 0; blackout_modes[i]; i++)
		if (same(f->blackout_mode ? f->blackout_mode : "entire", blackout_modes[i]))
			d->fields[ed->blackout].choice = i;
	ed->url = ui_field(d, "Mail server URL", FF_TEXT, ep ? ep->url : "", "imap://host[:port] or imaps://host[:port]");
	ed->user = ui_field(d, "Admin user", FF_TEXT, ep && ep->admin_user ? ep->admin_user : "",
	                    "the account that acts for every mailbox");
	ed->auth = ui_field(d, "Authentication", FF_CHOICE, "", "Left/Right: automatic, plain, login or xoauth2");
	d->fields[ed->auth].choices = auth_choices;
	form_set_choice(&d->fields[ed->auth], ep && ep->auth_mech ? ep->auth_mech : "automatic");
	ed->tls = ui_field(d, "Verify TLS", FF_BOOL, "", "Space: off only for test servers (shown as a warning)");
	d->fields[ed->tls].checked = !ep || !ep->insecure;
	char max[16];
	snprintf(max, sizeof max, "%d", ep ? ep->max_connections : u->o->cfg->max_connections_per_server);
	ed->maxc = ui_field(d, "Max connections", FF_INT, max, "connections to this server at once, 1 to 1000");
	d->fields[ed->maxc].min = 1;
	d->fields[ed->maxc].max = 1000;
	ed->dirurl = ui_field(d, "Directory URL", FF_TEXT, f->dir_url ? f->dir_url : "", "ldap://host[:port] or ldaps://host[:port], several separated by spaces; empty: none");
	ed->binddn = ui_field(d, "Bind DN", FF_TEXT, f->dir_bind_dn ? f->dir_bind_dn : "", "empty: anonymous");
	ed->basedn = ui_field(d, "Base DN", FF_TEXT, f->dir_base_dn ? f->dir_base_dn : "", "where mailboxes are looked for");
	ed->filter = ui_field(d, "Filter", FF_TEXT, f->dir_filter ? f->dir_filter : "", "LDAP filter for mailbox owners");
	char am[FORM_VALUE_MAX];
	forest_attrs_text(f->dir_attrs, am, sizeof am);
	ed->attrs = ui_field(d, "Attribute map", FF_TEXT, f->dir_attrs ? am : "", FOREST_ATTRS_HELP);
	char sc[FORM_VALUE_MAX];
	forest_scope_text(f->scope, sc, sizeof sc);
	ed->scope = ui_field(d, "OUs / sites", FF_TEXT, f->scope && *f->scope ? sc : "",
	                     "comma-separated (or one per line in a CSV import); empty: all mailboxes");
	scope_picker_add(d, &ed->pick, ed->scope);
	ed->pick.updated = edit_tree_updated;
	char where[300];
	forest_secret_where(ep ? ep->secret_ref : NULL, where, sizeof where);
	ed->pwwhere = ui_field(d, "Mail password", FF_LABEL, ep ? where : "- (no endpoint yet)", NULL);
	ed->pw = ui_field(d, "New mail password", FF_SECRET, "", "leave empty to keep it; typed: kept in the secrets file");
	forest_secret_where(f->dir_secret_ref, where, sizeof where);
	ed->dirwhere = ui_field(d, "Directory password", FF_LABEL, f->dir_url ? where : "- (no directory)", NULL);
	ed->dirpw = ui_field(d, "New dir. password", FF_SECRET, "", "leave empty to keep it; typed: kept in the secrets file");
	ed->save = ui_button(d, "Save", EB_SAVE);
	ed->prev = ui_button(d, "Previous tab", EB_PREV);
	ed->next = ui_button(d, "Next tab", EB_NEXT);
	ed->cancel = ui_button(d, "Cancel", EB_CANCEL);
	edit_snapshot(d, ed);
	ui_dialog_open(u, d);
	edit_show(d, ed, tab < TAB_GENERAL || tab >= TAB__EDITABLE ? TAB_ACCOUNTS : tab);
}

/* --- deleting ----------------------------------------------------------------------------- */

struct del_ctx {
	int64_t id;
	char name[160];
};

static void delete_forest_typed(struct ui *u, const char *text, bool done, bool cancelled, void *ctx)
{
	struct del_ctx *c = ctx;
	if (!done || cancelled) {
		if (cancelled)
			ui_say(u, "nothing deleted");
		free(c);
		return;
	}
	struct err e;
	if (strcmp(text, c->name) != 0)
		ui_error(u, "\"%s\" is not the forest's name (%s): nothing deleted", text, c->name);
	else if (store_forest_remove(u->st, c->id, &e))
		ui_error(u, "%s", e.msg);
	else {
		ui_reload(u, V_FORESTS);
		ui_say(u, "forest %s deleted with its endpoints, mailboxes, jobs and history", c->name);
	}
	free(c);
}

static void delete_endpoint_answer(struct ui *u, bool yes, void *ctx)
{
	struct del_ctx *c = ctx;
	struct err e;
	if (!yes)
		ui_say(u, "endpoint %s kept", c->name);
	else if (store_endpoint_remove(u->st, c->name, &e))
		ui_error(u, "%s", e.msg);
	else {
		ui_reload(u, V_FORESTS);
		ui_say(u, "endpoint %s deleted", c->name);
	}
	free(c);
}

static void act_delete(struct ui *u, struct view *v)
{
	struct fv *p = v->priv;
	const struct f_row *r = tbl_cursor_row(&v->tbl);
	if (!r || r->kind == RK_NOFOREST) {
		ui_error(u, r ? "choose one of the endpoints below \"(no forest)\" to delete it" : "nothing to delete");
		return;
	}
	struct del_ctx *c = x_calloc(1, sizeof *c);
	c->id = r->ref;
	snprintf(c->name, sizeof c->name, "%s", r->name);
	if (r->kind == RK_ENDPOINT) {
		int64_t n = 0;
		endpoint_by_id(p, r->ref, &n);
		ui_confirm(u, delete_endpoint_answer, c, "Delete endpoint %s and its %lld mailboxes and their jobs?",
		           r->name, (long long)n);
		return;
	}
	const struct forest *f = forest_by_id(p, r->ref);
	if (f && strcmp(f->role, "target") == 0) {
		ui_error(u, "%s is the target forest: it cannot be deleted from the console", f->name);
		free(c);
		return;
	}
	/* Short enough that what is typed stays visible at 80 columns. */
	char prompt[sizeof r->name + 64];
	snprintf(prompt, sizeof prompt, "Type %s to delete it and its mailboxes, jobs and history: ", r->name);
	ui_prompt(u, prompt, "", false, delete_forest_typed, c);
}

/* --- keys ------------------------------------------------------------------------------------ */

static bool forests_act(struct ui *u, struct view *v, enum action a, const char *arg)
{
	(void)arg;
	struct fv *p = v->priv;
	switch (a) {
	case ACT_TAB_NEXT:
	case ACT_TAB_PREV:
		p->tab = (p->tab + (a == ACT_TAB_NEXT ? 1 : TAB__COUNT - 1)) % TAB__COUNT;
		title_set(v);
		return true;
	case ACT_OPEN:
	case ACT_EDIT:
		edit_open(u, v, p->tab);
		return true;
	case ACT_NEW:
		forest_wizard_open(u);
		return true;
	case ACT_DELETE:
		act_delete(u, v);
		return true;
	case ACT_TEST:
		act_test(u, v);
		return true;
	case ACT_CHECK:
	case ACT_CHECKLIST:
	case ACT_DISCOVER: {
		const struct forest *f = forests_selected(u);
		if (!f) {
			ui_error(u, "select a forest first (its row, or one of its endpoints)");
			return true;
		}
		if (a == ACT_CHECK)
			forest_check_start(u, f);
		else if (a == ACT_CHECKLIST)
			forest_checklist_start(u, f);
		else
			forest_discover_start(u, f, arg && !strcmp(arg, "full"));
		return true;
	}
	default:
		return false;
	}
}

const struct view_ops view_forests_ops = {
	.open = forests_open, .tick = forests_tick, .draw = forests_draw, .act = forests_act, .close = forests_close,
	.empty = "No forest yet: n opens the Add Forest wizard.",
};
