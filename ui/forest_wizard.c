/* forest_wizard.c - the Add Forest wizard of the Forests view (key n) and
 * the connection test it shares with the view (key T).
 *
 * Five steps in one dialog whose fields are shown step by step:
 *   1 name and role (source, target, Office 365 tenant: one target and one
 *     tenant at most, refused with the store's own message),
 *   2 connection and admin account (mail URL, admin, password typed or a
 *     password source reference, TLS verification, directory),
 *   3 connection test, run in a thread: "testing..." then a check mark with
 *     the server's capabilities, or "!" with the exact error (Next goes on
 *     anyway after a warning),
 *   4 mailbox scope: with a directory and a base DN, the directory's OUs
 *     as a tree (read in the background, scope_tree.h), everything
 *     included at first; else (or while it is read, or when it cannot be)
 *     the OUs typed comma-separated,
 *   5 summary; Finish adds the forest, its endpoint NAME-imap and the typed
 *     passwords (to the secrets file) and selects the forest in the list.
 * Buttons: Previous, Next, Finish (only on the summary), Cancel; Esc asks
 * before throwing typed input away. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory.h"
#include "dirmap.h"
#include "driver.h"
#include "dns.h"
#include "forests.h"
#include "imap.h"
#include "secret.h"
#include "ui.h"

const char *const forest_roles[] = { "source", "target", "tenant", NULL };
const char *const forest_role_labels[] = { "source", "target", "Office 365 tenant", NULL };
const char *const forest_mail_schemes[] = { "imap", "imaps", NULL };

const char *forest_role_label(const char *role)
{
	for (int i = 0; forest_roles[i]; i++)
		if (role && strcmp(role, forest_roles[i]) == 0)
			return forest_role_labels[i];
	return role ? role : "?";
}

void forest_secret_where(const char *ref, char *buf, size_t n)
{
	if (!ref || !*ref)
		snprintf(buf, n, "none (anonymous)");
	else if (strncmp(ref, "secret:", 7) == 0)
		snprintf(buf, n, "stored in the secrets file (%s)", ref + 7);
	else if (strncmp(ref, "cmd:", 4) == 0)
		snprintf(buf, n, "printed by a command (cmd:...)");   /* the command may hold tokens */
	else
		snprintf(buf, n, "%s", ref);                            /* file:PATH, env:VAR */
}

/* --- URL checks --------------------------------------------------------------- */

bool forest_url_check(const char *url, const char *const *schemes, char *why, size_t n)
{
	const char *sep = strstr(url, "://");
	bool known = false;
	for (int i = 0; sep && schemes[i]; i++)
		known = known || ((size_t)(sep - url) == strlen(schemes[i]) && strncmp(url, schemes[i], strlen(schemes[i])) == 0);
	if (!known) {
		snprintf(why, n, "use %s://host[:port] or %s://host[:port]", schemes[0], schemes[1]);
		return false;
	}
	const char *host = sep + 3;
	size_t hlen = strcspn(host, ":/");
	if (hlen == 0) {
		snprintf(why, n, "the host is missing (%s://host[:port])", schemes[0]);
		return false;
	}
	if (host[hlen] == ':') {
		const char *p = host + hlen + 1;
		size_t plen = strcspn(p, "/");
		long port = 0;
		for (size_t i = 0; i < plen; i++) {
			if (p[i] < '0' || p[i] > '9' || port > 100000) {
				snprintf(why, n, "the port must be a number from 1 to 65535");
				return false;
			}
			port = port * 10 + (p[i] - '0');
		}
		if (plen == 0 || port < 1 || port > 65535) {
			snprintf(why, n, "port %.*s is out of range (1 to 65535)", (int)plen, p);
			return false;
		}
	}
	return true;
}

/* OUs typed comma-separated (or one per line) are stored one per line;
 * with a ';' in the text, ';' separates them and commas belong to DNs. */
char *forest_scope_join(const char *typed)
{
	size_t n = strlen(typed);
	char *out = x_malloc(n + 1), *o = out;
	const char *s = typed;
	const char *seps = strchr(typed, ';') ? ";\n" : ",\n";
	while (*s) {
		size_t len = strcspn(s, seps);
		const char *a = s, *b = s + len;
		while (a < b && *a == ' ')
			a++;
		while (b > a && b[-1] == ' ')
			b--;
		if (b > a) {
			if (o != out)
				*o++ = '\n';
			memcpy(o, a, (size_t)(b - a));
			o += b - a;
		}
		s += len;
		if (*s)
			s++;
	}
	*o = '\0';
	return out;
}

void forest_scope_text(const char *scope, char *buf, size_t n)
{
	if (!scope || !*scope) {
		snprintf(buf, n, "all mailboxes (no OU or site chosen)");
		return;
	}
	/* DNs hold commas: then "; " separates them, which forest_scope_join reads back. */
	char sep = strchr(scope, ',') ? ';' : ',';
	size_t k = 0;
	for (const char *s = scope; *s && k + 3 < n; s++)
		if (*s == '\n') {
			if (s[1]) {
				buf[k++] = sep;
				buf[k++] = ' ';
			}
		} else
			buf[k++] = *s;
	buf[k] = '\0';
}

bool forest_dir_url_check(const char *url, char *why, size_t n)
{
	struct err e;
	err_clear(&e);
	if (!directory_url_check(url, &e))
		return true;
	size_t k = strlen(e.msg) < n ? strlen(e.msg) : n - 1;
	memcpy(why, e.msg, k);
	why[k] = '\0';
	return false;
}

bool forest_attrs_typed(const char *typed, char **map, char *why, size_t n)
{
	struct err e;
	err_clear(&e);
	*map = NULL;
	if (dirmap_apply(map, typed, &e)) {
		size_t k = strlen(e.msg) < n ? strlen(e.msg) : n - 1;
		memcpy(why, e.msg, k);
		why[k] = '\0';
		return false;
	}
	return true;
}

void forest_attrs_text(const char *map, char *buf, size_t n)
{
	size_t k = 0;
	for (const char *s = map ? map : ""; *s && k + 3 < n; s++)
		if (*s == '\n') {
			if (s[1]) {
				buf[k++] = ',';
				buf[k++] = ' ';
			}
		} else
			buf[k++] = *s;
	buf[k] = '\0';
}

/* --- the connection test --------------------------------------------------------- */

static char *dup_or_null(const char *s) { return s ? x_strdup(s) : NULL; }

static void wipe_free(char *s)
{
	if (s)
		secret_free(s);
}

struct conn_test *conn_test_new(const struct ui *u, const struct endpoint *ep, const char *secret,
                                const struct forest *f, const char *dir_secret)
{
	struct conn_test *t = x_calloc(1, sizeof *t);
	if (ep) {
		t->ep.id = ep->id;
		t->ep.name = x_strdup(ep->name ? ep->name : "endpoint");
		t->ep.url = dup_or_null(ep->url);
		t->ep.admin_user = dup_or_null(ep->admin_user);
		t->ep.secret_ref = dup_or_null(ep->secret_ref);
		t->ep.auth_mech = dup_or_null(ep->auth_mech);
		t->ep.login_template = dup_or_null(ep->login_template);
		t->ep.insecure = ep->insecure;
		t->ep.max_connections = ep->max_connections;
		t->ep.forest_id = ep->forest_id;
	}
	t->secret = dup_or_null(secret && *secret ? secret : NULL);
	t->secrets_path = dup_or_null(u->o->cfg->secrets_path);
	t->timeout_s = u->o->cfg->timeout_s > 0 ? u->o->cfg->timeout_s : 30;
	if (f && f->dir_url && *f->dir_url) {
		t->forest_id = f->id;
		t->dir_url = x_strdup(f->dir_url);
		t->dir_bind_dn = dup_or_null(f->dir_bind_dn);
		t->dir_secret_ref = dup_or_null(f->dir_secret_ref);
		t->forest_name = x_strdup(f->name && *f->name ? f->name : "(new)");
		t->dir_base_dn = dup_or_null(f->dir_base_dn);
		t->scope = dup_or_null(f->scope);
		t->dir_secret = dup_or_null(dir_secret && *dir_secret ? dir_secret : NULL);
	}
	return t;
}

static void mail_test(struct conn_test *t)
{
	struct err e;
	char *secret = t->secret ? x_strdup(t->secret) : NULL;
	struct imap *im = NULL;
	enum st s = ST_OK;
	if (!secret)
		s = secret_resolve(t->ep.secret_ref, t->secrets_path, &secret, &e);
	if (!s)
		s = drv_imap_login(&t->ep, secret, t->ep.admin_user, "login as", t->timeout_s, &im, &e);
	wipe_free(secret);
	if (s) {
		t->mail = H_FAIL;
		snprintf(t->mail_msg, sizeof t->mail_msg, "%s", e.msg);
		return;
	}
	/* What the migration cares about, in the words of `endpoint test`. */
	static const char *const caps[] = { "IMAP4rev2", "LITERAL+", "UIDPLUS", "MULTIAPPEND", "CONDSTORE",
	                                    "QRESYNC", "SPECIAL-USE", "NAMESPACE", "ID" };
	size_t k = (size_t)snprintf(t->mail_msg, sizeof t->mail_msg, "logged in to %s as %s; capabilities:",
	                            t->ep.url, t->ep.admin_user ? t->ep.admin_user : "?");
	for (size_t i = 0; i < countof(caps) && k < sizeof t->mail_msg; i++)
		if (imap_has_cap(im, caps[i]))
			k += (size_t)snprintf(t->mail_msg + k, sizeof t->mail_msg - k, " %s", caps[i]);
	t->mail = H_OK;
	imap_free(&im);
}

/* The directory as discovery connects to it (directory_check: every URL
 * in turn, StartTLS by the same rule), with the typed password when there
 * is one; says which server answered and which did not. */
static void dir_test(struct conn_test *t)
{
	struct forest f = { .name = t->forest_name, .dir_url = t->dir_url, .dir_bind_dn = t->dir_bind_dn,
	                    .dir_secret_ref = t->dir_secret_ref, .dir_base_dn = t->dir_base_dn, .scope = t->scope };
	struct dir_check dc;
	struct err e;
	err_clear(&e);
	if (directory_check(&f, t->dir_secret, t->secrets_path, t->timeout_s, &dc, &e)) {
		t->dir = H_FAIL;
		snprintf(t->dir_msg, sizeof t->dir_msg, "directory: %s", e.msg);
		return;
	}
	t->dir = H_OK;
	/* dc.detail begins "bound to URL": the server that answered. */
	snprintf(t->dir_msg, sizeof t->dir_msg, "directory: %s%s%s%s", dc.detail, dc.ndead ? "; " : "", dc.dead,
	         dc.ndead ? " did not answer" : "");
}

static void *conn_test_main(void *arg)
{
	struct conn_test *t = arg;
	if (t->ep.url && *t->ep.url)
		mail_test(t);
	if (t->dir_url)
		dir_test(t);
	atomic_store(&t->done, 1);
	return NULL;
}

bool conn_test_start(struct conn_test *t)
{
	if (pthread_create(&t->thread, NULL, conn_test_main, t) != 0) {
		t->mail = H_FAIL;
		snprintf(t->mail_msg, sizeof t->mail_msg, "could not start the test thread");
		atomic_store(&t->done, 1);
		return false;
	}
	t->started = true;
	return true;
}

bool conn_test_finished(struct conn_test *t)
{
	if (!atomic_load(&t->done))
		return false;
	if (t->started && !t->joined) {
		pthread_join(t->thread, NULL);
		t->joined = true;
	}
	return true;
}

void conn_test_free(struct conn_test *t)
{
	if (!t)
		return;
	if (t->started && !t->joined)
		pthread_join(t->thread, NULL);   /* at most the network timeout */
	endpoint_free(&t->ep);
	wipe_free(t->secret);
	wipe_free(t->dir_secret);
	free(t->secrets_path);
	free(t->dir_url);
	free(t->dir_bind_dn);
	free(t->dir_secret_ref);
	free(t->forest_name);
	free(t->dir_base_dn);
	free(t->scope);
	free(t);
}

/* --- the wizard ------------------------------------------------------------------------ */

enum { B_PREV = 1, B_NEXT, B_FINISH, B_CANCEL };
enum { S_NAME, S_CONN, S_TEST, S_SCOPE, S_SUMMARY, S__COUNT };

static const char *const step_titles[] = { "Name and role", "Connection and admin account", "Connection test",
                                           "Mailbox scope", "Summary" };
static const char *const auth_choices[] = { "automatic", "plain", "login", "xoauth2", NULL };

struct wiz {
	int step;
	struct conn_test *test;
	bool tls_off_seen;          /* the warning about TLS verification was shown */
	bool test_fail_seen;        /* the warning about a failed test was shown */
	/* field indexes */
	int name, role, detect;
	int url, user, pw, pwref, auth, tls, maxc, dirurl, binddn, dirpw;
	int scope, basedn, filter, attrs;
	int sum[11];
	int prev, next, finish, cancel;
	char epname[200];
	unsigned serial;            /* tells a detection's result which wizard it is for */
	char detect_note[300];      /* what DNS auto-detection found ("" before it ran) */
	struct scope_picker pick;   /* the scope step's OU tree */
};

static void wiz_free(void *ctx)
{
	struct wiz *w = ctx;
	conn_test_free(w->test);
	scope_picker_free(&w->pick);
	free(w);
}

static const char *val(const struct ui_dialog *d, int i) { return d->fields[i].value; }

static const char *trimmed(const char *s, char *buf, size_t n)
{
	while (*s == ' ')
		s++;
	snprintf(buf, n, "%s", s);
	size_t k = strlen(buf);
	while (k && buf[k - 1] == ' ')
		buf[--k] = '\0';
	return buf;
}

static const char *role_of(const struct ui_dialog *d, const struct wiz *w)
{
	return forest_roles[d->fields[w->role].choice];
}

/* The forest as typed so far (strings point into the dialog). */
static void typed_forest(struct ui_dialog *d, const struct wiz *w, struct forest *f, char *name, size_t n)
{
	*f = (struct forest){ 0 };
	f->name = (char *)trimmed(val(d, w->name), name, n);
	f->role = (char *)role_of(d, w);
	f->dir_url = val(d, w->dirurl)[0] ? d->fields[w->dirurl].value : NULL;
	f->dir_bind_dn = val(d, w->binddn)[0] ? d->fields[w->binddn].value : NULL;
	f->dir_base_dn = val(d, w->basedn)[0] ? d->fields[w->basedn].value : NULL;
	f->dir_filter = val(d, w->filter)[0] ? d->fields[w->filter].value : NULL;
	f->scope = NULL;        /* finish() sets it: stored one per line */
	f->blackout_mode = (char *)"entire";
}

static void typed_endpoint(struct ui_dialog *d, const struct wiz *w, struct endpoint *ep)
{
	*ep = (struct endpoint){ 0 };
	ep->name = (char *)w->epname;
	ep->url = d->fields[w->url].value;
	ep->admin_user = d->fields[w->user].value;
	ep->secret_ref = val(d, w->pwref)[0] ? d->fields[w->pwref].value : NULL;
	ep->auth_mech = d->fields[w->auth].choice ? (char *)auth_choices[d->fields[w->auth].choice] : NULL;
	ep->insecure = !d->fields[w->tls].checked;
	ep->max_connections = (int)form_int(&d->fields[w->maxc]);
}

static bool step_has(const struct wiz *w, int step, int i)
{
	switch (step) {
	case S_NAME: return i == w->name || i == w->role || i == w->detect;
	case S_CONN: return i >= w->url && i <= w->dirpw;
	case S_SCOPE: return i >= w->scope && i <= w->attrs && i != w->pick.panel;
	case S_SUMMARY: return i >= w->sum[0] && i <= w->sum[10];
	default: return false;
	}
}

/* The scope as chosen: from the tree when it is shown, else as typed;
 * NULL when the tree includes nothing.  Caller frees. */
static char *wiz_scope(struct ui_dialog *d, const struct wiz *w)
{
	return scope_picker_scope(d, &w->pick);
}

static void summary_fill(struct ui_dialog *d, struct wiz *w)
{
	char b[FORM_VALUE_MAX], name[160];
	const char *pwsrc = val(d, w->pw)[0] ? "typed; stored in the secrets file" : val(d, w->pwref);
	snprintf(b, sizeof b, "%s (%s)", trimmed(val(d, w->name), name, sizeof name),
	         forest_role_label(role_of(d, w)));
	form_set(&d->fields[w->sum[0]], b);
	snprintf(b, sizeof b, "%s  %s", w->epname, val(d, w->url));
	form_set(&d->fields[w->sum[1]], b);
	snprintf(b, sizeof b, "%s, authentication %s", val(d, w->user), auth_choices[d->fields[w->auth].choice]);
	form_set(&d->fields[w->sum[2]], b);
	form_set(&d->fields[w->sum[3]], pwsrc);
	snprintf(b, sizeof b, "%s; at most %s connections",
	         d->fields[w->tls].checked ? "verified" : "NOT VERIFIED (warning)", val(d, w->maxc));
	form_set(&d->fields[w->sum[4]], b);
	snprintf(b, sizeof b, "%s%s%s", val(d, w->dirurl)[0] ? val(d, w->dirurl) : "none",
	         val(d, w->binddn)[0] ? ", bind DN " : "", val(d, w->binddn));
	form_set(&d->fields[w->sum[5]], b);
	form_set(&d->fields[w->sum[6]], val(d, w->dirpw)[0] ? "typed; stored in the secrets file"
	                                : val(d, w->dirurl)[0] ? "none (anonymous bind)" : "-");
	char *scope = wiz_scope(d, w);
	forest_scope_text(scope ? scope : "", b, sizeof b);
	free(scope);
	form_set(&d->fields[w->sum[7]], b);
	snprintf(b, sizeof b, "%s%s%s", val(d, w->basedn)[0] ? val(d, w->basedn) : "-",
	         val(d, w->filter)[0] ? "  filter " : "", val(d, w->filter));
	form_set(&d->fields[w->sum[8]], b);
	form_set(&d->fields[w->sum[9]], val(d, w->attrs)[0] ? val(d, w->attrs) : "- (the defaults)");
	const struct conn_test *t = w->test;
	snprintf(b, sizeof b, "%s", !t || t->mail == H_UNKNOWN ? "? not finished"
	         : t->mail == H_OK && t->dir != H_FAIL ? "\xe2\x9c\x93 passed" : "! FAILED (see step 3)");
	form_set(&d->fields[w->sum[10]], b);
}

static void test_note(struct ui_dialog *d, struct wiz *w)
{
	const struct conn_test *t = w->test;
	const char *head = "Step 3 of 5: Connection test.";
	if (!t || !atomic_load(&((struct conn_test *)t)->done)) {
		snprintf(d->note, sizeof d->note, "%s\n\nTesting\xe2\x80\xa6 logging in to %s as %s%s%s", head,
		         val(d, w->url), val(d, w->user), val(d, w->dirurl)[0] ? ", then binding to " : "",
		         val(d, w->dirurl));
		return;
	}
	size_t k = (size_t)snprintf(d->note, sizeof d->note, "%s\n\n%s %s", head,
	                            t->mail == H_OK ? "\xe2\x9c\x93" : "!", t->mail_msg);
	if (t->dir != H_UNKNOWN && k < sizeof d->note)
		k += (size_t)snprintf(d->note + k, sizeof d->note - k, "\n%s %s", t->dir == H_OK ? "\xe2\x9c\x93" : "!",
		                      t->dir_msg);
	if ((t->mail == H_FAIL || t->dir == H_FAIL) && k < sizeof d->note)
		snprintf(d->note + k, sizeof d->note - k, "\nPrevious fixes the settings; Next goes on anyway.");
}

/* The scope step shows the tree or the text field, never both. */
static void scope_fields(struct ui_dialog *d, struct wiz *w)
{
	scope_picker_show(d, &w->pick, w->step == S_SCOPE);
}

static void scope_note(struct ui_dialog *d, const struct wiz *w)
{
	const char *how = w->pick.have_tree
		? "Space includes an OU with everything under it or leaves it out; Right/Left (+/-) expand and "
		  "collapse. All content is selected by default."
		: "Which OUs or sites to migrate, comma-separated (empty: all); for the directory, where and how "
		  "to look.";
	snprintf(d->note, sizeof d->note, "Step %d of %d: %s.\n%s%s%.300s", S_SCOPE + 1, S__COUNT, step_titles[S_SCOPE],
	         how, w->pick.note[0] ? "\n" : "", w->pick.note);
}

/* Shows the fields of the current step and explains it. */
static void show_step(struct ui_dialog *d, struct wiz *w)
{
	for (int i = 0; i < d->nfields; i++)
		if (d->fields[i].kind != FF_BUTTON)
			d->fields[i].hidden = !step_has(w, w->step, i);
	scope_fields(d, w);
	static const char *const help[] = {
		"A forest is a directory whose mailboxes migrate together: a source, the target (one "
		"only), or an Office 365 tenant (one only).",
		"The IMAP endpoint of the forest and the admin account that acts for every user; "
		"the directory is optional.",
		"",
		"Which OUs or sites to migrate, comma-separated (empty: all); for the directory, where "
		"and how to look.",
		"Finish adds the forest, the endpoint and the typed passwords (to the secrets file).",
	};
	if (w->step == S_TEST)
		test_note(d, w);
	else if (w->step == S_SCOPE)
		scope_note(d, w);
	else
		snprintf(d->note, sizeof d->note, "Step %d of %d: %s.\n%s", w->step + 1, S__COUNT,
		         step_titles[w->step], help[w->step]);
	if (w->step == S_CONN && w->detect_note[0])
		snprintf(d->note + strlen(d->note), sizeof d->note - strlen(d->note), "\n%s", w->detect_note);
	if (w->step == S_SUMMARY)
		summary_fill(d, w);
	d->form.error[0] = '\0';
	d->form.error_field = -1;
	d->form.focus = w->step == S_TEST || w->step == S_SUMMARY ? (w->step == S_TEST ? w->next : w->finish)
	                : form_next_focus(&d->form, d->nfields - 1, 1);
}

static void start_test(struct ui *u, struct ui_dialog *d, struct wiz *w)
{
	if (w->test) {
		forests_adopt_test(u, w->test);
		w->test = NULL;
	}
	struct forest f;
	struct endpoint ep;
	char name[160];
	typed_forest(d, w, &f, name, sizeof name);
	typed_endpoint(d, w, &ep);
	w->test = conn_test_new(u, &ep, val(d, w->pw), &f, val(d, w->dirpw));
	conn_test_start(w->test);
	w->test_fail_seen = false;
}

/* A dry run of the forest's addition: the store's own checks and
 * messages (a duplicate name, a second target or tenant). */
static bool check_name(struct ui *u, struct ui_dialog *d, struct wiz *w)
{
	struct forest f;
	char name[160];
	typed_forest(d, w, &f, name, sizeof name);
	snprintf(w->epname, sizeof w->epname, "%s-imap", name);
	f.dir_url = f.dir_bind_dn = f.dir_base_dn = f.dir_filter = f.scope = NULL;
	struct err e;
	enum st s = store_begin(u->st, &e);
	if (!s) {
		s = store_forest_add(u->st, &f, &e);
		store_rollback(u->st);
	}
	if (s) {
		form_fail(&d->form, strstr(e.msg, "already a t") ? w->role : w->name, "%s", e.msg);
		return false;
	}
	struct endpoint ep;
	if (store_endpoint_get(u->st, w->epname, &ep, &e) == ST_OK) {
		endpoint_free(&ep);
		form_fail(&d->form, w->name, "an endpoint named %s exists already: choose another name", w->epname);
		return false;
	}
	return true;
}

static bool check_conn(struct ui_dialog *d, struct wiz *w)
{
	char why[200];
	struct err e;
	if (!forest_url_check(val(d, w->url), forest_mail_schemes, why, sizeof why)) {
		form_fail(&d->form, w->url, "%s", why);
		return false;
	}
	bool typed = val(d, w->pw)[0], ref = val(d, w->pwref)[0];
	if (typed == ref) {
		form_fail(&d->form, typed ? w->pwref : w->pw, "%s", typed
		          ? "give the password or its source, not both (empty this one)"
		          : "type the admin password, or give its source below (file:PATH, env:VAR, cmd:COMMAND)");
		return false;
	}
	if (ref && !secret_ref_valid(val(d, w->pwref), &e)) {
		form_fail(&d->form, w->pwref, "%s", e.msg);
		return false;
	}
	if (val(d, w->dirurl)[0] && !forest_dir_url_check(val(d, w->dirurl), why, sizeof why)) {
		form_fail(&d->form, w->dirurl, "%s", why);
		return false;
	}
	if (!d->fields[w->tls].checked && !w->tls_off_seen) {
		w->tls_off_seen = true;
		form_fail(&d->form, w->tls, "off means anyone on the path can read the admin password; "
		          "press Next again to keep it off");
		return false;
	}
	return true;
}

/* Next from a step: its own checks first. */
static bool leave_step(struct ui *u, struct ui_dialog *d, struct wiz *w)
{
	if (!form_check(&d->form))
		return false;
	switch (w->step) {
	case S_NAME: return check_name(u, d, w);
	case S_CONN: return check_conn(d, w);
	case S_TEST:
		if (!conn_test_finished(w->test)) {
			form_fail(&d->form, w->next, "the test is still running (Cancel gives up)");
			return false;
		}
		if ((w->test->mail == H_FAIL || w->test->dir == H_FAIL) && !w->test_fail_seen) {
			w->test_fail_seen = true;
			form_fail(&d->form, w->next, "the test FAILED: press Next again to go on anyway");
			return false;
		}
		return true;
	case S_SCOPE: {
		char *scope = wiz_scope(d, w), *map = NULL, why[300];
		free(scope);
		if (!scope) {
			form_fail(&d->form, w->pick.panel, "include at least one OU (Space), or the base DN for everything");
			return false;
		}
		if (!forest_attrs_typed(val(d, w->attrs), &map, why, sizeof why)) {
			form_fail(&d->form, w->attrs, "%s", why);
			return false;
		}
		free(map);
		return true;
	}
	default: return true;
	}
}

static enum st save_secret(struct ui *u, const char *name, const char *value, char **ref, struct err *e)
{
	return secret_save(u->o->cfg->secrets_path, name, value, ref, e);
}

/* Finish: the secrets first (the store keeps only their references), then
 * the forest and its endpoint in one transaction. */
static bool finish(struct ui *u, struct ui_dialog *d, struct wiz *w)
{
	struct forest f;
	struct endpoint ep;
	char name[160];
	typed_forest(d, w, &f, name, sizeof name);
	typed_endpoint(d, w, &ep);
	char *mail_ref = NULL, *dir_ref = NULL, *secret_name = x_asprintf("endpoint:%s", w->epname);
	char *dir_name = x_asprintf("forest:%s:directory", name);
	struct err e;
	enum st s = ST_OK;
	if (val(d, w->pw)[0])
		s = save_secret(u, secret_name, val(d, w->pw), &mail_ref, &e);
	if (!s && val(d, w->dirpw)[0])
		s = save_secret(u, dir_name, val(d, w->dirpw), &dir_ref, &e);
	char *scope = wiz_scope(d, w), *map = NULL, why[300];
	f.scope = scope && scope[0] ? scope : NULL;
	if (!s && !forest_attrs_typed(val(d, w->attrs), &map, why, sizeof why))
		s = err_set(&e, ST_CONFIG, "%s", why);        /* checked at the scope step already */
	if (mail_ref)
		ep.secret_ref = mail_ref;
	f.dir_secret_ref = dir_ref;
	if (!s && !(s = store_begin(u->st, &e))) {
		s = store_forest_add(u->st, &f, &e);
		ep.forest_id = f.id;
		if (!s && map)
			s = store_forest_set_attrs(u->st, f.id, map, &e);
		if (!s)
			s = store_endpoint_add(u->st, &ep, &e);
		if (!s)
			s = store_commit(u->st, &e);
		if (s)
			store_rollback(u->st);
	}
	free(scope);
	free(map);
	free(mail_ref);
	free(dir_ref);
	free(secret_name);
	free(dir_name);
	if (s) {
		form_fail(&d->form, w->finish, "%s", e.msg);
		return false;
	}
	/* The wizard's test counts as the new endpoint's first test. */
	struct endpoint saved;
	if (w->test && conn_test_finished(w->test) && store_endpoint_get(u->st, w->epname, &saved, &e) == ST_OK) {
		w->test->ep.id = saved.id;
		w->test->forest_id = f.id;
		forests_record_test(u, w->test);
		endpoint_free(&saved);
	}
	ui_reload(u, V_FORESTS);
	forests_select(u, f.id);
	ui_say(u, "forest %s (%s) added with endpoint %s", name, forest_role_label(f.role), w->epname);
	return true;
}

/* A test still running when the wizard closes goes on in the view, which
 * joins it when it ends: closing never waits for the network. */
static void release_test(struct ui *u, struct wiz *w)
{
	if (w->test && !conn_test_finished(w->test)) {
		forests_adopt_test(u, w->test);
		w->test = NULL;
	}
}

static bool typed_anything(const struct ui_dialog *d, const struct wiz *w)
{
	for (int i = w->name; i <= w->filter; i++)
		if ((d->fields[i].kind == FF_TEXT || d->fields[i].kind == FF_SECRET) && d->fields[i].value[0])
			return true;
	return false;
}

static void discard_answer(struct ui *u, bool yes, void *ctx)
{
	(void)ctx;
	if (yes) {
		release_test(u, u->dialog->ctx);
		ui_dialog_close(u);
		ui_say(u, "no forest added");
	} else
		u->mode = M_DIALOG;     /* back to the wizard as it was */
}

/* --- DNS auto-detection (the seed's "Auto-detect a Global Catalog") ------------ */

static bool wiz_done(struct ui *u, struct ui_dialog *d, int button);

static void detect_free(struct ui_task *t)
{
	free(t->ctx);
}

struct detect_job {
	unsigned serial;
	char name[160];
	char dns_server[64];
	char mail_url[300], dir_url[300];
	char note[300];
};

/* The first record of the first name that has one, as a URL. */
static void first_srv(const char *server, const char *const *names, const char *const *schemes,
                      const char *domain, char *url, size_t n, char *found, size_t fn)
{
	for (int i = 0; names[i]; i++) {
		char q[300];
		snprintf(q, sizeof q, "%s.%s", names[i], domain);
		struct dns_srv_list l = { 0 };
		struct err e;
		if (dns_srv_lookup(server, q, &l, &e) == ST_OK && l.n) {
			snprintf(url, n, "%s://%s:%d", schemes[i], l.v[0].host, l.v[0].port);
			snprintf(found, fn, "%s", names[i]);
			dns_srv_free(&l);
			return;
		}
		dns_srv_free(&l);
	}
}

static void detect_run(struct ui_task *t)
{
	struct detect_job *j = t->ctx;
	static const char *const mail[] = { "_imaps._tcp", "_imap._tcp", NULL };
	static const char *const mail_schemes[] = { "imaps", "imap" };
	static const char *const dir[] = { "_gc._tcp", "_ldap._tcp.dc._msdcs", "_ldap._tcp", NULL };
	static const char *const dir_schemes[] = { "ldap", "ldap", "ldap" };
	char fm[64] = "", fd[64] = "";
	first_srv(j->dns_server, mail, mail_schemes, j->name, j->mail_url, sizeof j->mail_url, fm, sizeof fm);
	first_srv(j->dns_server, dir, dir_schemes, j->name, j->dir_url, sizeof j->dir_url, fd, sizeof fd);
	if (!fm[0] && !fd[0])
		snprintf(j->note, sizeof j->note, "DNS has no SRV records for %s: type the servers", j->name);
	else
		snprintf(j->note, sizeof j->note, "found in DNS: %s%s%s%s%s", fm[0] ? "mail server (" : "", fm, fm[0] ? ")" : "",
		         fd[0] ? (fm[0] ? ", directory (" : "directory (") : "", fd[0] ? fd : "");
	if (fd[0])
		strncat(j->note, ")", sizeof j->note - strlen(j->note) - 1);
}

static void detect_finish(struct ui *u, struct ui_task *t)
{
	struct detect_job *j = t->ctx;
	struct ui_dialog *d = u->dialog;
	/* Only into the wizard that asked, and only into empty fields. */
	if (!d || d->done != wiz_done || ((struct wiz *)d->ctx)->serial != j->serial)
		return;
	struct wiz *w = d->ctx;
	if (j->mail_url[0] && !val(d, w->url)[0])
		form_set(&d->fields[w->url], j->mail_url);
	if (j->dir_url[0] && !val(d, w->dirurl)[0])
		form_set(&d->fields[w->dirurl], j->dir_url);
	snprintf(w->detect_note, sizeof w->detect_note, "%s", j->note);
	if (w->step == S_CONN)
		snprintf(d->note + strlen(d->note), sizeof d->note - strlen(d->note), "\n%s", w->detect_note);
}

static void detect_start(struct ui *u, struct ui_dialog *d, struct wiz *w)
{
	char name[160];
	trimmed(val(d, w->name), name, sizeof name);
	if (!strchr(name, '.'))
		return;             /* not a domain name: nothing to look up */
	/* A base DN from the domain, as AD has it, when none was typed. */
	if (!val(d, w->basedn)[0]) {
		char dn[FORM_VALUE_MAX] = "";
		for (const char *p = name; *p;) {
			size_t k = strcspn(p, ".");
			snprintf(dn + strlen(dn), sizeof dn - strlen(dn), "%sdc=%.*s", dn[0] ? "," : "", (int)k, p);
			p += k + (p[k] == '.');
		}
		form_set(&d->fields[w->basedn], dn);
	}
	struct detect_job *j = x_calloc(1, sizeof *j);
	j->serial = w->serial;
	snprintf(j->name, sizeof j->name, "%s", name);
	snprintf(j->dns_server, sizeof j->dns_server, "%s", u->o->cfg->dns_server ? u->o->cfg->dns_server : "");
	w->detect_note[0] = '\0';
	struct ui_task *t = x_calloc(1, sizeof *t);
	*t = (struct ui_task){ .run = detect_run, .finish = detect_finish, .free_fn = NULL, .ctx = j };
	t->free_fn = detect_free;
	ui_task_start(u, t);
}

/* --- the OU tree of the scope step (scope_picker.c) --------------------------- */

static void tree_updated(struct ui *u, struct ui_dialog *d)
{
	(void)u;
	struct wiz *w = d->ctx;
	if (w->step == S_SCOPE)
		scope_note(d, w);
}

/* Reads the tree once the directory and a base DN are known (again when
 * they change), after the admin has left the base DN field. */
static void tree_maybe_load(struct ui *u, struct ui_dialog *d, struct wiz *w)
{
	if (w->step != S_SCOPE || d->form.focus == w->basedn)
		return;
	char name[160];
	trimmed(val(d, w->name), name, sizeof name);
	struct scope_source src = { name, val(d, w->dirurl), val(d, w->binddn), val(d, w->basedn), val(d, w->dirpw),
	                            NULL };
	scope_picker_load(u, d, &w->pick, &src);
}

static bool wiz_done(struct ui *u, struct ui_dialog *d, int button)
{
	struct wiz *w = d->ctx;
	switch (button) {
	case B_PREV:
		if (w->step > 0) {
			w->step--;
			show_step(d, w);
		}
		return false;
	case B_NEXT:
		if (w->step == S_SUMMARY) {
			form_fail(&d->form, w->next, "this is the last step: Finish adds the forest");
			return false;
		}
		if (!leave_step(u, d, w))
			return false;
		if (w->step == S_NAME && d->fields[w->detect].checked)
			detect_start(u, d, w);
		w->step++;
		if (w->step == S_TEST)
			start_test(u, d, w);
		show_step(d, w);
		return false;
	case B_FINISH:
		if (w->step != S_SUMMARY) {
			form_fail(&d->form, w->finish, "go on with Next to the summary first (step 5)");
			return false;
		}
		return finish(u, d, w);
	default:     /* Cancel, Esc */
		if (!typed_anything(d, w)) {
			release_test(u, w);
			ui_say(u, "no forest added");
			return true;
		}
		ui_confirm(u, discard_answer, NULL, "Throw away the new forest's settings?");
		return false;
	}
}

static void wiz_poll(struct ui *u, struct ui_dialog *d)
{
	struct wiz *w = d->ctx;
	if (w->step == S_TEST && w->test && conn_test_finished(w->test))
		test_note(d, w);
	tree_maybe_load(u, d, w);
}

void forest_wizard_open(struct ui *u)
{
	struct ui_dialog *d = x_calloc(1, sizeof *d);
	struct wiz *w = x_calloc(1, sizeof *w);
	d->ctx = w;
	d->free_ctx = wiz_free;
	d->done = wiz_done;
	d->poll = wiz_poll;
	d->width = 78;
	d->form.title = "Add Forest";
	w->name = ui_field(d, "Forest name", FF_TEXT, "", "the forest's name, e.g. its top-level domain (corp.example)");
	d->fields[w->name].required = true;
	w->role = ui_field(d, "Role", FF_CHOICE, "", "Left/Right: source, target (one only) or Office 365 tenant (one only)");
	d->fields[w->role].choices = forest_role_labels;
	w->detect = ui_field(d, "Auto-detect servers", FF_BOOL, "",
	                     "Space: look up the mail server and the directory in DNS (SRV records of the forest name)");
	static unsigned serials;
	w->serial = ++serials;
	w->url = ui_field(d, "Mail server URL", FF_TEXT, "", "imap://host[:port] (STARTTLS when offered) or imaps://host[:port]");
	d->fields[w->url].required = true;
	w->user = ui_field(d, "Admin user", FF_TEXT, "", "the account that acts for every mailbox");
	d->fields[w->user].required = true;
	w->pw = ui_field(d, "Admin password", FF_SECRET, "", "typed here, kept in the secrets file (never in the store)");
	w->pwref = ui_field(d, "or password source", FF_TEXT, "", "instead of typing: file:PATH, env:VAR or cmd:COMMAND");
	w->auth = ui_field(d, "Authentication", FF_CHOICE, "", "Left/Right: automatic, plain, login or xoauth2");
	d->fields[w->auth].choices = auth_choices;
	w->tls = ui_field(d, "Verify TLS", FF_BOOL, "", "Space: turning it off must be deliberate (test servers only)");
	d->fields[w->tls].checked = true;
	char def[16];
	snprintf(def, sizeof def, "%d", u->o->cfg->max_connections_per_server > 0 ? u->o->cfg->max_connections_per_server : 10);
	w->maxc = ui_field(d, "Max connections", FF_INT, def, "connections to this server at once, 1 to 1000");
	d->fields[w->maxc].min = 1;
	d->fields[w->maxc].max = 1000;
	w->dirurl = ui_field(d, "Directory URL", FF_TEXT, "", "optional: ldap://host[:port] or ldaps://host[:port]");
	w->binddn = ui_field(d, "Bind DN", FF_TEXT, "", "optional: the DN to bind as (empty: anonymous)");
	w->dirpw = ui_field(d, "Directory password", FF_SECRET, "", "for the bind DN; kept in the secrets file");
	w->scope = ui_field(d, "OUs / sites", FF_TEXT, "", "comma-separated OUs or sites to include; empty: all");
	scope_picker_add(d, &w->pick, w->scope);
	w->pick.updated = tree_updated;
	w->basedn = ui_field(d, "Directory base DN", FF_TEXT, "", "where to look for mailboxes, e.g. dc=corp,dc=example");
	w->filter = ui_field(d, "Directory filter", FF_TEXT, "", "LDAP filter, e.g. (objectClass=inetOrgPerson)");
	w->attrs = ui_field(d, "Attribute map", FF_TEXT, "", FOREST_ATTRS_HELP);
	static const char *const sum_labels[] = { "Forest", "Endpoint", "Admin", "Admin password", "TLS",
	                                          "Directory", "Directory password", "Scope", "Base DN",
	                                          "Attribute map", "Connection test" };
	for (int i = 0; i < 11; i++)
		w->sum[i] = ui_field(d, sum_labels[i], FF_LABEL, "", NULL);
	w->prev = ui_button(d, "Previous", B_PREV);
	w->next = ui_button(d, "Next", B_NEXT);
	w->finish = ui_button(d, "Finish", B_FINISH);
	w->cancel = ui_button(d, "Cancel", B_CANCEL);
	ui_dialog_open(u, d);
	show_step(d, w);
}
