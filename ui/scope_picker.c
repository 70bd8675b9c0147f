/* scope_picker.c - a forest's scope chosen in the directory's OU tree,
 * as a dialog panel (ui_panel) beside the typed scope field: the Add
 * Forest wizard's scope step and the edit dialog's Mailboxes tab.  The
 * OUs are read in the background (directory_list_ous); until they are
 * there, or when they cannot be read, the typed field stays. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory.h"
#include "forests.h"
#include "secret.h"
#include "ui.h"

#define TREE_ROWS 8             /* at most, so a dialog fits 80x24 */
#define TREE_MAX_OUS 5000

/* One reading of the OUs, in a thread of its own (task.h). */
struct tree_job {
	struct scope_picker *picker;    /* compared, never followed, until it is known alive */
	unsigned serial;
	char key[sizeof ((struct scope_picker *)0)->key];
	char name[160], url[FORM_VALUE_MAX], bind_dn[FORM_VALUE_MAX], base_dn[FORM_VALUE_MAX];
	char *password;             /* typed (wiped on free), NULL: secret_ref */
	char *secret_ref, *secrets_path;
	int timeout_s;
	enum st s;
	char err[512];
	struct dir_ou_list ous;
};

static void tree_job_free(struct ui_task *t)
{
	struct tree_job *j = t->ctx;
	if (j->password)
		secret_free(j->password);
	free(j->secret_ref);
	free(j->secrets_path);
	dir_ou_list_free(&j->ous);
	free(j);
}

static void tree_job_run(struct ui_task *t)
{
	struct tree_job *j = t->ctx;
	/* A typed empty password is an anonymous bind, not an unauthenticated one. */
	bool typed = j->password != NULL;
	struct forest f = { .name = j->name, .dir_url = j->url, .dir_base_dn = j->base_dn,
	                    .dir_bind_dn = (!typed || *j->password) && j->bind_dn[0] ? j->bind_dn : NULL,
	                    .dir_secret_ref = j->secret_ref };
	struct err e;
	err_clear(&e);
	j->s = directory_list_ous(&f, j->password, j->secrets_path, j->timeout_s, TREE_MAX_OUS, &j->ous, &e);
	if (j->s)
		snprintf(j->err, sizeof j->err, "%s", e.msg);
}

/* The new tree keeps what was chosen before (typed, or in an earlier tree). */
static void take_tree(struct ui_dialog *d, struct scope_picker *p, const struct tree_job *j)
{
	char *before = scope_picker_scope(d, p);
	if (p->have_tree)
		scope_tree_free(&p->st);
	struct scope_ou *ous = x_calloc(j->ous.n + 1, sizeof *ous);
	for (size_t i = 0; i < j->ous.n; i++)
		ous[i] = (struct scope_ou){ j->ous.v[i].dn, j->ous.v[i].name, j->ous.v[i].parent };
	scope_tree_build(&p->st, j->base_dn, ous, (int)j->ous.n);
	scope_tree_apply(&p->st, before ? before : "");
	p->st.truncated = j->ous.truncated;
	free(before);
	free(ous);
	p->have_tree = true;
	snprintf(p->note, sizeof p->note, "%zu OU%s under %.200s%s%s%.100s", j->ous.n, j->ous.n == 1 ? "" : "s",
	         j->base_dn, j->ous.truncated ? " (the first ones only: type the others later)" : "",
	         *p->st.extra ? "; kept as typed, not in the directory: " : "", p->st.extra);
	for (char *c = strchr(p->note, '\n'); c; c = strchr(c, '\n'))
		*c = ' ';       /* the extra lines, on the note's one line */
	d->panel_rows = p->st.n < TREE_ROWS ? p->st.n : TREE_ROWS;
}

static void tree_job_finish(struct ui *u, struct ui_task *t)
{
	struct tree_job *j = t->ctx;
	struct ui_dialog *d = u->dialog;
	if (!d || d->panel_ctx != j->picker || j->picker->serial != j->serial)
		return;     /* that dialog is gone */
	struct scope_picker *p = j->picker;
	p->loading = false;
	snprintf(p->key, sizeof p->key, "%s", j->key);
	if (j->s)
		snprintf(p->note, sizeof p->note, "! cannot list the OUs: %.300s. Type them instead.", j->err);
	else
		take_tree(d, p, j);
	bool on_text = d->form.focus == p->text;
	bool shown = !d->fields[p->text].hidden || !d->fields[p->panel].hidden;
	scope_picker_show(d, p, shown);
	if (on_text && p->have_tree && shown)
		d->form.focus = p->panel;
	if (p->updated)
		p->updated(u, d);
}

void scope_picker_load(struct ui *u, struct ui_dialog *d, struct scope_picker *p, const struct scope_source *src)
{
	char key[sizeof p->key];
	snprintf(key, sizeof key, "%s\n%s\n%s", src->url, src->bind_dn, src->base_dn);
	if (p->loading || !src->url[0] || !src->base_dn[0] || !strcmp(key, p->key))
		return;
	struct tree_job *j = x_calloc(1, sizeof *j);
	j->picker = p;
	j->serial = p->serial;
	snprintf(j->key, sizeof j->key, "%s", key);
	snprintf(j->name, sizeof j->name, "%s", src->forest);
	snprintf(j->url, sizeof j->url, "%s", src->url);
	snprintf(j->bind_dn, sizeof j->bind_dn, "%s", src->bind_dn);
	snprintf(j->base_dn, sizeof j->base_dn, "%s", src->base_dn);
	j->password = src->typed_password ? x_strdup(src->typed_password) : NULL;
	j->secret_ref = src->secret_ref ? x_strdup(src->secret_ref) : NULL;
	j->secrets_path = x_strdup(u->o->cfg->secrets_path ? u->o->cfg->secrets_path : "");
	j->timeout_s = u->o->cfg->timeout_s;
	struct ui_task *t = x_calloc(1, sizeof *t);
	*t = (struct ui_task){ .run = tree_job_run, .finish = tree_job_finish, .free_fn = tree_job_free, .ctx = j };
	p->loading = true;
	snprintf(p->note, sizeof p->note, "Reading the OUs under %.150s from %.150s\xe2\x80\xa6", j->base_dn, j->url);
	if (!ui_task_start(u, t))
		p->loading = false;
	if (p->updated)
		p->updated(u, d);
}

static void panel_draw(struct ui *u, const struct ui_dialog *d, int y, int x, int h, int w, bool focus)
{
	struct scope_picker *p = d->panel_ctx;
	int *rows = x_calloc((size_t)p->st.n + 1, sizeof *rows), cur_row = 0;
	int n = scope_tree_visible(&p->st, rows, p->st.n + 1, &cur_row);
	if (p->st.top > cur_row || p->st.top + h <= cur_row)
		p->st.top = cur_row < h ? 0 : cur_row - h + 1;
	for (int k = 0; k < h; k++) {
		int r = p->st.top + k;
		char line[FORM_VALUE_MAX * 2] = "";
		if (r < n)
			scope_tree_row(&p->st, rows[r], line, sizeof line);
		attr_t a = r == cur_row && focus ? ui_attr(u, C_CURSOR) : r == cur_row ? A_UNDERLINE : 0;
		attron(a);
		draw_cell(y + k, x, w, line, false);
		attroff(a);
	}
	free(rows);
}

static bool panel_key(struct ui *u, struct ui_dialog *d, int fk)
{
	(void)u;
	struct scope_picker *p = d->panel_ctx;
	bool used = p->have_tree && scope_tree_key(&p->st, fk, d->panel_rows);
	p->touched = p->touched || (used && fk == ' ');
	if (used && d->form.error_field == p->panel) {
		d->form.error[0] = '\0';        /* the admin is fixing it */
		d->form.error_field = -1;
	}
	return used;
}

void scope_picker_add(struct ui_dialog *d, struct scope_picker *p, int text_field)
{
	static unsigned serials;
	p->serial = ++serials;
	p->text = text_field;
	p->panel = ui_panel(d, "OUs", TREE_ROWS, "Space include/leave out, Right/Left expand/collapse, Up/Down move",
	                    panel_draw, panel_key);
	d->fields[p->panel].hidden = true;
	d->panel_ctx = p;
}

void scope_picker_show(struct ui_dialog *d, struct scope_picker *p, bool shown)
{
	d->fields[p->panel].hidden = !shown || !p->have_tree;
	d->fields[p->text].hidden = !shown || p->have_tree;
}

char *scope_picker_scope(const struct ui_dialog *d, const struct scope_picker *p)
{
	return p->have_tree ? scope_tree_scope(&p->st) : forest_scope_join(d->fields[p->text].value);
}

void scope_picker_free(struct scope_picker *p)
{
	if (p->have_tree)
		scope_tree_free(&p->st);
	p->have_tree = false;
}
