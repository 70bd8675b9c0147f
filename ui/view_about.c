/* view_about.c - About: version, build, the libraries in use, the
 * configuration file and the store (about.c), plus the curses library. */
#include "config.h"

#include <stdio.h>

#include "about.h"
#include "ui.h"

static void add_line(void *ctx, const char *label, const char *value)
{
	kv_add(ctx, label, "%s", value);
}

static void about_open(struct ui *u, struct view *v)
{
	kv_begin(v);
	snprintf(v->title, sizeof v->title, "About mailferry (paste this into a support request)");
	about_lines(u->o->config_path, u->o->store_path, add_line, v);
	kv_add(v, "Curses", "%s", curses_version());
	kv_add(v, "Terminal", "%s, %dx%d, %s", termname(), u->w, u->h,
	       u->color ? "colours (NO_COLOR turns them off)" : "monochrome");
}

const struct view_ops view_about_ops = { .open = about_open, .empty = "" };
