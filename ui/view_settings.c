/* view_settings.c - Settings: the configuration keys (cfg_keys, the table
 * in src/cfg.c) on tabs General, Activities, Mailboxes, Workers, Scripts
 * and Notifications.  Each row shows the key, its value (marked * when it
 * differs from the default), the default, and whether a change needs a
 * restart; the line at the bottom is the selected key's help.
 *
 * Keys: Tab / Shift-Tab switch tabs; Enter or e edits the key under the
 * cursor in a dialog whose field follows the key's type (a number with its
 * range, yes/no, a choice, text or a path).  Save checks the value with
 * cfg_set (its message stays in the dialog) and writes the whole file with
 * cfg_save to the console's configuration file (-c, or the default).
 *
 * The engine's struct cfg is shared read-only with its thread, so the view
 * edits its own copy, read from the file each time the view opens (changes
 * made with "mailferry config set" meanwhile show up).  Keys marked restart
 * take effect when the console or "run" starts again; the status line says
 * so after saving. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui.h"

struct set_row {
	int64_t id;             /* index in cfg_keys */
	const struct cfg_key *k;
	char value[256];
	bool changed;
};

#define R(r) ((const struct set_row *)(r))

static int64_t set_id(const void *r) { return R(r)->id; }

static void col_key(const void *r, char *b, size_t n) { snprintf(b, n, "%s", R(r)->k->name); }
static void col_mark(const void *r, char *b, size_t n) { snprintf(b, n, "%s", R(r)->changed ? "*" : ""); }
static void col_value(const void *r, char *b, size_t n)
{
	snprintf(b, n, "%s", R(r)->value[0] ? R(r)->value : "(none)");
}
static void col_default(const void *r, char *b, size_t n)
{
	char def[PATH_MAX + 1];
	cfg_default_text(R(r)->k, def, sizeof def);
	snprintf(b, n, "%s", def[0] ? def : "(none)");
}
static void col_restart(const void *r, char *b, size_t n)
{
	snprintf(b, n, "%s", (R(r)->k->flags & CFG_RESTART) ? "restart" : "");
}

static int cmp_order(const void *a, const void *b) { return R(a)->id < R(b)->id ? -1 : R(a)->id > R(b)->id; }

static const struct tbl_col cols[] = {
	{ "KEY", "key", 27, false, col_key, cmp_order, false },
	{ "", "changed", 1, false, col_mark, NULL, false },
	{ "VALUE", "value", 22, false, col_value, NULL, false },
	{ "DEFAULT", "default", 16, false, col_default, NULL, false },
	{ "RESTART", "restart", 0, false, col_restart, NULL, false },
};

static const struct tbl_ops ops = { cols, (int)countof(cols), sizeof(struct set_row), set_id, NULL, NULL, 0 };

struct set_state {
	struct cfg cfg;         /* the view's own copy, edited and saved */
	bool have_cfg;
	char *path;             /* the file saved to; owned */
	enum cfg_tab tab;
};

static void fill_rows(struct ui *u, struct view *v)
{
	(void)u;
	struct set_state *s = v->priv;
	size_t n;
	const struct cfg_key *keys = cfg_keys(&n);
	tbl_clear(&v->tbl);
	for (size_t i = 0; i < n; i++) {
		if (keys[i].tab != s->tab)
			continue;
		struct set_row *r = tbl_upsert(&v->tbl, (int64_t)i);
		char text[PATH_MAX + 1];
		cfg_get_text(&s->cfg, keys[i].name, text, sizeof text);
		r->id = (int64_t)i;
		r->k = &keys[i];
		snprintf(r->value, sizeof r->value, "%.255s", text);
		r->changed = !cfg_is_default(&s->cfg, &keys[i]);
	}
	v->tbl.changed = true;
	/* The tab bar: the current tab in brackets. */
	size_t k = (size_t)snprintf(v->title, sizeof v->title, "Settings:");
	for (int t = 0; t < CFG_TAB__COUNT && k < sizeof v->title; t++)
		k += (size_t)snprintf(v->title + k, sizeof v->title - k, t == (int)s->tab ? " [%s]" : " %s",
		                      cfg_tab_name((enum cfg_tab)t));
}

static void set_open(struct ui *u, struct view *v)
{
	if (!v->has_tbl) {
		tbl_init(&v->tbl, &ops);
		v->has_tbl = true;
		struct set_state *s = x_calloc(1, sizeof *s);
		s->path = u->o->config_path ? x_strdup(u->o->config_path) : cfg_default_path();
		v->priv = s;
	}
	struct set_state *s = v->priv;
	struct err e;
	if (s->have_cfg)
		cfg_free(&s->cfg);
	/* Only this thread uses libconfig once the console runs (main() is
	 * done with it), so loading here is safe. */
	if (cfg_load(&s->cfg, s->path, false, &e)) {
		ui_error(u, "%s (showing the defaults)", e.msg);
		cfg_free(&s->cfg);
		cfg_load(&s->cfg, NULL, false, &e);
	}
	s->have_cfg = true;
	fill_rows(u, v);
}

static void set_close(struct ui *u, struct view *v)
{
	(void)u;
	struct set_state *s = v->priv;
	if (!s)
		return;
	if (s->have_cfg)
		cfg_free(&s->cfg);
	free(s->path);
	free(s);
	v->priv = NULL;
}

/* The table, then two lines about the selected key: what it does, and
 * what it accepts and when a change takes effect. */
static void set_draw(struct ui *u, struct view *v, int y0, int h, int w)
{
	draw_table(u, &v->tbl, y0, h - 3, w, false);
	const struct set_row *r = tbl_cursor_row(&v->tbl);
	if (v->tbl.nvis == 0)
		draw_cell(y0 + 2, 2, w - 4, "No settings on this tab yet (Tab: next tab).", false);
	if (!r)
		return;
	char allowed[256], line[600];
	cfg_allowed_text(r->k, allowed, sizeof allowed);
	attron(ui_attr(u, C_DIM));
	snprintf(line, sizeof line, "%s: %s", r->k->name, r->k->help);
	draw_cell(y0 + h - 2, 0, w, line, false);
	snprintf(line, sizeof line, "  Allowed: %s.%s", allowed,
	         (r->k->flags & CFG_RESTART) ? " Takes effect at the next start." : "");
	draw_cell(y0 + h - 1, 0, w, line, false);
	attroff(ui_attr(u, C_DIM));
}

/* --- the edit dialog ------------------------------------------------------------ */

enum { B_SAVE = 1, B_CANCEL };

struct set_dialog {
	const struct cfg_key *k;
};

static bool set_done(struct ui *u, struct ui_dialog *d, int button)
{
	struct set_dialog *c = d->ctx;
	if (button != B_SAVE)
		return true;
	if (!form_check(&d->form))
		return false;
	struct view *v = &u->views[V_SETTINGS];
	struct set_state *s = v->priv;
	const struct form_field *f = &d->fields[0];
	const char *value = f->value;
	if (f->kind == FF_BOOL)
		value = f->checked ? "true" : "false";
	else if (f->kind == FF_CHOICE)
		value = form_choice(f);
	struct err e;
	if (cfg_set(&s->cfg, c->k->name, value, &e) || cfg_save(&s->cfg, s->path, &e)) {
		snprintf(d->form.error, sizeof d->form.error, "%.250s", e.msg);
		d->form.error_field = 0;
		return false;
	}
	char text[PATH_MAX + 1];
	cfg_get_text(&s->cfg, c->k->name, text, sizeof text);
	ui_say(u, "%s = %s saved to %s; %s", c->k->name, text, s->path,
	       (c->k->flags & CFG_RESTART) ? "takes effect at the next start" : "used from the next job");
	fill_rows(u, v);
	tbl_arrange(&v->tbl);
	return true;
}

static void edit_key(struct ui *u, struct view *v, const struct set_row *r)
{
	struct set_state *s = v->priv;
	const struct cfg_key *k = r->k;
	struct ui_dialog *d = x_calloc(1, sizeof *d);
	struct set_dialog *c = x_calloc(1, sizeof *c);
	c->k = k;
	d->ctx = c;
	d->free_ctx = free;
	d->done = set_done;
	d->form.title = "Edit setting";
	char text[PATH_MAX + 1], def[PATH_MAX + 1];
	cfg_get_text(&s->cfg, k->name, text, sizeof text);
	cfg_default_text(k, def, sizeof def);
	snprintf(d->note, sizeof d->note, "%.200s\nDefault: %.200s.%s", k->help, def[0] ? def : "(none)",
	         (k->flags & CFG_RESTART) ? " Takes effect at the next start." : "");
	enum ff_kind kind = k->type == CFG_INT ? FF_INT : k->type == CFG_BOOL ? FF_BOOL
	                  : k->type == CFG_ENUM ? FF_CHOICE : FF_TEXT;
	int i = ui_field(d, k->name, kind, kind == FF_BOOL || kind == FF_CHOICE ? "" : text, NULL);
	struct form_field *f = &d->fields[i];
	char allowed[200];
	cfg_allowed_text(k, allowed, sizeof allowed);
	static char help[256];     /* one dialog at a time; the field keeps a pointer */
	snprintf(help, sizeof help, "allowed: %s", allowed);
	f->help = help;
	if (kind == FF_INT) {
		f->min = (long)k->min;
		f->max = (long)k->max;
	} else if (kind == FF_BOOL)
		f->checked = strcmp(text, "true") == 0;
	else if (kind == FF_CHOICE) {
		f->choices = k->values;
		form_set_choice(f, text);
	}
	ui_button(d, "Save", B_SAVE);
	ui_button(d, "Cancel", B_CANCEL);
	ui_dialog_open(u, d);
}

static bool set_act(struct ui *u, struct view *v, enum action a, const char *arg)
{
	(void)arg;
	struct set_state *s = v->priv;
	switch (a) {
	case ACT_TAB_NEXT: case ACT_TAB_PREV:
		s->tab = (enum cfg_tab)(((int)s->tab + (a == ACT_TAB_NEXT ? 1 : CFG_TAB__COUNT - 1)) % CFG_TAB__COUNT);
		fill_rows(u, v);
		tbl_arrange(&v->tbl);
		tbl_cursor_to(&v->tbl, 0);
		return true;
	case ACT_OPEN: case ACT_EDIT: {
		const struct set_row *r = tbl_cursor_row(&v->tbl);
		if (!r)
			ui_error(u, "no setting on this tab: Tab goes to the next one");
		else
			edit_key(u, v, r);
		return true;
	}
	default:
		return false;
	}
}

const struct view_ops view_settings_ops = {
	.open = set_open, .draw = set_draw, .act = set_act, .close = set_close,
	.empty = "No settings on this tab yet.",
};
