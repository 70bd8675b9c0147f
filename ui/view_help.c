/* view_help.c - Help: every key of the view the admin came from, and the
 * keys that work everywhere, written from the key table (ui_keys) so it
 * can't drift from what the keys do. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ui.h"

struct help_row {
	int64_t id;
	const struct keybind *k;
	bool everywhere;
};

static int64_t help_id(const void *r) { return ((const struct help_row *)r)->id; }

static void col_key(const void *r, char *b, size_t n)
{
	snprintf(b, n, "%s", ((const struct help_row *)r)->k->keyname);
}

static void col_cmd(const void *r, char *b, size_t n)
{
	const struct keybind *k = ((const struct help_row *)r)->k;
	snprintf(b, n, "%s%s", k->name ? ":" : "", k->name ? k->name : "");
}

static void col_where(const void *r, char *b, size_t n)
{
	snprintf(b, n, "%s", ((const struct help_row *)r)->everywhere ? "everywhere" : "this view");
}

static void col_what(const void *r, char *b, size_t n)
{
	snprintf(b, n, "%s", ((const struct help_row *)r)->k->help);
}

static const struct tbl_col cols[] = {
	{ "KEY", "key", 7, false, col_key, NULL, false },
	{ "COMMAND", "command", 14, false, col_cmd, NULL, false },
	{ "WHERE", "where", 10, false, col_where, NULL, true },
	{ "WHAT IT DOES", "what", 0, false, col_what, NULL, false },
};

static const struct tbl_ops ops = { cols, (int)countof(cols), sizeof(struct help_row), help_id, NULL, NULL, -1 };

static void help_open(struct ui *u, struct view *v)
{
	if (!v->has_tbl) {
		tbl_init(&v->tbl, &ops);
		v->has_tbl = true;
	}
	tbl_clear(&v->tbl);
	enum view_id from = u->back;
	snprintf(v->title, sizeof v->title, "Keys in %s, then everywhere (Esc goes back; any command works after \":\")",
	         u->views[from].name);
	/* This view's own keys first, then the global ones. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < ui_nkeys; i++) {
			const struct keybind *k = &ui_keys[i];
			bool global = k->views == VM_ALL;
			if (!(k->views & VM(from)) || global != (pass == 1))
				continue;
			struct help_row *r = tbl_upsert(&v->tbl, (int64_t)i);
			*r = (struct help_row){ (int64_t)i, k, global };
		}
}

const struct view_ops view_help_ops = { .open = help_open, .empty = "No keys." };
