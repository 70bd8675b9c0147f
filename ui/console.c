/* console.c - the full-screen console: toolbar, data panel, status bar, the
 * key table, modal prompts, and the engine thread; see console.h and ui.h.
 * Each view lives in ui/view_*.c. */
#include "config.h"

#include "console.h"

#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "log.h"
#include "ui.h"

/* The key table: one source for dispatch, the ":" command line and the
 * Help screen.  Keys are looked up in order; the first entry whose views
 * include the current view wins. */
#define TV VM_TABLES
const struct keybind ui_keys[] = {
	{ '1', "1", ACT_VIEW, V_FORESTS, VM_ALL, "forests", "Forests: source, target and tenant forests, their endpoints" },
	{ '2', "2", ACT_VIEW, V_MAILBOXES, VM_ALL, "mailboxes", "Mailboxes: every known mailbox; select and queue" },
	{ '3', "3", ACT_VIEW, V_JOBS, VM_ALL, "jobs", "Mailbox Jobs: the queue, live progress" },
	{ '4', "4", ACT_VIEW, V_BLACKOUTS, VM_ALL, "blackouts", "Blackout Times: when mailboxes must not migrate" },
	{ '5', "5", ACT_VIEW, V_SUMMARY, VM_ALL, "summary", "Summary: mailboxes by status and site, totals" },
	{ '6', "6", ACT_VIEW, V_SCHEDULE, VM_ALL, "schedule", "Schedule: estimated start and end of queued jobs" },
	{ '7', "7", ACT_VIEW, V_METRICS, VM_ALL, "metrics", "Metrics: throughput history as charts" },
	{ '8', "8", ACT_VIEW, V_DELEGATION, VM_ALL, "delegation", "Delegation: mailboxes with delegates" },
	{ '9', "9", ACT_VIEW, V_EVENTS, VM_ALL, "events", "Event log: everything the engine did" },
	{ '0', "0", ACT_VIEW, V_SETTINGS, VM_ALL, "settings", "Settings: the configuration, editable" },
	{ KEY_F(2), "F2", ACT_VIEW, V_SETTINGS, VM_ALL, NULL, "Settings" },
	{ 'i', "i", ACT_VIEW, V_ABOUT, VM_ALL, "about", "About: version, libraries, files" },
	{ '?', "?", ACT_HELP, 0, VM_ALL, "help", "Help: the keys of the view you came from" },
	{ KEY_F(1), "F1", ACT_HELP, 0, VM_ALL, NULL, "Help" },
	{ 'q', "q", ACT_QUIT, 0, VM_ALL, "quit", "quit (asks what to do with running jobs); in Help, About, a job's detail and a report: back" },
	{ KEY_F(10), "F10", ACT_QUIT, 0, VM_ALL, NULL, "quit" },
	{ 3, "Ctrl-C", ACT_QUIT, 0, VM_ALL, NULL, "quit" },
	{ 27, "Esc", ACT_BACK, 0, VM_ALL, "back", "clears the search; in Help, About, a job's detail and a report: back to the view before" },
	{ 12, "Ctrl-L", ACT_REDRAW, 0, VM_ALL, "redraw", "redraw the screen" },
	{ ':', ":", ACT_CMDLINE, 0, VM_ALL, NULL, "command line: any action by its name, e.g. :pause, :sort size" },
	{ KEY_UP, "Up", ACT_UP, 0, TV, NULL, "previous row" },
	{ 'k', "k", ACT_UP, 0, TV, NULL, "previous row" },
	{ KEY_DOWN, "Down", ACT_DOWN, 0, TV, NULL, "next row" },
	{ 'j', "j", ACT_DOWN, 0, TV, NULL, "next row" },
	{ KEY_PPAGE, "PgUp", ACT_PGUP, 0, TV, NULL, "page up" },
	{ KEY_NPAGE, "PgDn", ACT_PGDN, 0, TV, NULL, "page down" },
	{ KEY_HOME, "Home", ACT_HOME, 0, TV, "first", "first row" },
	{ 'g', "g", ACT_HOME, 0, TV & ~VM(V_MAILBOXES), NULL, "first row" },
	{ KEY_END, "End", ACT_END, 0, TV, "last", "last row" },
	{ 'G', "G", ACT_END, 0, TV, NULL, "last row" },
	{ '/', "/", ACT_SEARCH, 0, TV, "search", "search as you type (Enter keeps it, Esc clears it)" },
	{ KEY_F(3), "F3", ACT_SEARCH, 0, TV, NULL, "search" },
	{ 'f', "f", ACT_FILTER, 0, VM(V_MAILBOXES) | VM(V_JOBS) | VM(V_EVENTS) | VM(V_METRICS), "filter",
	  "filter by status, forest or level (Event log: cycles); Metrics: all endpoints or one target (cycles)" },
	{ KEY_F(4), "F4", ACT_FILTER, 0, VM(V_MAILBOXES) | VM(V_JOBS) | VM(V_EVENTS) | VM(V_METRICS), NULL, "filter" },
	{ 's', "s", ACT_SORT, 0, TV & ~VM(V_HELP), "sort", "sort by a column (again: reverse)" },
	{ KEY_F(6), "F6", ACT_SORT, 0, TV & ~VM(V_HELP), NULL, "sort" },
	{ 'g', "g", ACT_GROUP, 0, VM(V_MAILBOXES), "group", "group by site, database, status or kind" },
	{ KEY_F(5), "F5", ACT_GROUP, 0, VM(V_MAILBOXES) | VM(V_JOBS), NULL, "group" },
	{ 'F', "F", ACT_FOREST, 0, VM(V_MAILBOXES) | VM(V_DELEGATION), "forest",
	  "show the mailboxes of one forest or of all (:forest NAME)" },
	{ ' ', "Space", ACT_SELECT, 0, VM(V_MAILBOXES) | VM(V_JOBS) | VM(V_DELEGATION), "select",
	  "select or unselect the row (on a group line: the whole group)" },
	{ 'S', "S", ACT_SELECT_RANGE, 0, VM(V_MAILBOXES) | VM(V_JOBS), "select-range",
	  "select every row from the last one selected to the cursor" },
	{ '*', "*", ACT_SELECT_ALL, 0, VM(V_MAILBOXES) | VM(V_JOBS), "select-all", "select every row shown (after search and filter)" },
	{ '-', "-", ACT_SELECT_NONE, 0, VM(V_MAILBOXES) | VM(V_JOBS) | VM(V_DELEGATION), "select-none", "clear the selection" },
	{ '+', "+", ACT_QUEUE, 0, VM(V_MAILBOXES) | VM(V_DELEGATION), "queue",
	  "add the selected mailboxes (or the one under the cursor) to the migration queue" },
	{ '\n', "Enter", ACT_OPEN, 0, VM(V_FORESTS) | VM(V_JOBS) | VM(V_BLACKOUTS) | VM(V_SETTINGS) | VM(V_MAILBOXES),
	  "open", "open: forest settings, the add-to-queue dialog (Mailboxes), job detail, edit a blackout or a setting" },
	{ 'n', "n", ACT_NEW, 0, VM(V_FORESTS) | VM(V_BLACKOUTS), "new", "add: the new-forest wizard (its OU tree: Space includes, Right/Left expand; the attribute map on its scope step), a new blackout window" },
	{ 'e', "e", ACT_EDIT, 0, VM(V_FORESTS) | VM(V_BLACKOUTS) | VM(V_SETTINGS), "edit", "edit the selected item" },
	{ 'D', "D", ACT_DELETE, 0, VM(V_FORESTS) | VM(V_BLACKOUTS), "delete", "delete the selected item (asks first)" },
	{ KEY_DC, "Del", ACT_DELETE, 0, VM(V_FORESTS) | VM(V_BLACKOUTS), NULL, "delete" },
	{ 'T', "T", ACT_TEST, 0, VM(V_FORESTS), "test", "test the forest's connection (background; the directory URLs in turn, naming the one that answered)" },
	{ 'H', "H", ACT_CHECK, 0, VM(V_FORESTS), "check",
	  "health check of the forest: DNS, TCP, TLS expiry, login, a user's mailbox, size limit, directory (a dead "
	  "replica warns), directory clock skew (background)" },
	{ 'P', "P", ACT_CHECKLIST, 0, VM(V_FORESTS), "checklist",
	  "preparation checklist of the forest: forests, admins, a user's mailbox, APPENDLIMIT, files, disk (background)" },
	{ 'R', "R", ACT_DISCOVER, 0, VM(V_FORESTS), "discover",
	  "read the forest's mailboxes from its directory (background; changes only, :discover full for all)" },
	{ 'p', "p", ACT_PAUSE, 0, VM(V_JOBS) | VM(V_JOB_DETAIL), "pause", "pause the job (a running one stops at its next checkpoint)" },
	{ 'u', "u", ACT_RESUME, 0, VM(V_JOBS) | VM(V_JOB_DETAIL), "resume",
	  "resume a paused job (back to queued, ready or completing)" },
	{ 'c', "c", ACT_CANCEL, 0, VM(V_JOBS) | VM(V_JOB_DETAIL), "cancel", "cancel the job (asks first)" },
	{ KEY_F(9), "F9", ACT_CANCEL, 0, VM(V_JOBS), NULL, "cancel" },
	{ 'r', "r", ACT_RETRY, 0, VM(V_JOBS) | VM(V_JOB_DETAIL), "retry",
	  "retry a failed, partial or cancelled job (a partial one: only its failed items)" },
	{ 'C', "C", ACT_CUTOVER, 0, VM(V_JOBS) | VM(V_JOB_DETAIL), "cutover",
	  "cutover: a job ready to complete runs its final delta pass now" },
	{ 't', "t", ACT_TOP, 0, VM(V_JOBS), "top", "move the queued job to the top of the queue" },
	{ 'b', "b", ACT_BOTTOM, 0, VM(V_JOBS), "bottom", "move the queued job to the bottom" },
	{ 'K', "K", ACT_MOVE_UP, 0, VM(V_JOBS), "up", "move the queued job up one place" },
	{ KEY_F(7), "F7", ACT_MOVE_UP, 0, VM(V_JOBS), NULL, "move up" },
	{ 'J', "J", ACT_MOVE_DOWN, 0, VM(V_JOBS), "down", "move the queued job down one place" },
	{ KEY_F(8), "F8", ACT_MOVE_DOWN, 0, VM(V_JOBS), NULL, "move down" },
	{ '\t', "Tab", ACT_TAB_NEXT, 0, VM(V_SETTINGS) | VM(V_FORESTS), "next-tab", "next tab" },
	{ KEY_BTAB, "S-Tab", ACT_TAB_PREV, 0, VM(V_SETTINGS) | VM(V_FORESTS), "prev-tab", "previous tab" },
	{ KEY_RIGHT, "Right", ACT_PERIOD, 1, VM(V_METRICS), NULL, "longer period: minutes, hours, days" },
	{ KEY_LEFT, "Left", ACT_PERIOD, -1, VM(V_METRICS), "period", "shorter period (:period minutes|hours|days)" },
	{ 'x', "x", ACT_SAVE, 0, VM(V_METRICS) | VM(V_REPORT), "export",
	  "export the history shown (Metrics: CSV) or the report (text) to a file (asks for the path; :export PATH)" },
	{ 'm', "m", ACT_MAIL, 0, VM(V_REPORT), "mail",
	  "e-mail the report (asks for the address, admin_email offered; sent in the background; :mail ADDRESS)" },
	{ 'R', "R", ACT_REPORT, 0, VM(V_JOBS) | VM(V_JOB_DETAIL) | VM(V_SUMMARY), "report",
	  "statistics report: of the job under the cursor (Mailbox Jobs, job detail) or the whole project (Summary)" },
};
const size_t ui_nkeys = countof(ui_keys);

/* --- attributes, status ------------------------------------------------------------ */

attr_t ui_attr(const struct ui *u, enum ui_color c)
{
	if (u->color) {
		switch (c) {
		case C_CURSOR: return COLOR_PAIR(c) | A_BOLD;
		case C_HEADER: return COLOR_PAIR(c) | A_BOLD;
		case C_ERROR: return COLOR_PAIR(c) | A_BOLD;
		default: return COLOR_PAIR(c);
		}
	}
	switch (c) {     /* monochrome */
	case C_BAR: return A_REVERSE;
	case C_CURSOR: return A_REVERSE | A_BOLD;
	case C_ERROR: return A_BOLD;
	case C_HEADER: return A_UNDERLINE | A_BOLD;
	case C_GROUP: return A_BOLD;
	case C_SELECTED: return A_BOLD;
	case C_DIM: return A_DIM;
	default: return A_NORMAL;
	}
}

static void init_colors(struct ui *u)
{
	const char *nc = getenv("NO_COLOR");
	u->color = has_colors() && !(nc && nc[0]);
	if (!u->color)
		return;
	start_color();
	use_default_colors();
	init_pair(C_BAR, COLOR_BLACK, COLOR_CYAN);
	init_pair(C_CURSOR, COLOR_BLACK, COLOR_YELLOW);
	init_pair(C_ERROR, COLOR_RED, -1);
	init_pair(C_OK, COLOR_GREEN, -1);
	init_pair(C_WARN, COLOR_YELLOW, -1);
	init_pair(C_HEADER, COLOR_BLACK, COLOR_GREEN);
	init_pair(C_GROUP, COLOR_CYAN, -1);
	init_pair(C_SELECTED, COLOR_MAGENTA, -1);
	init_pair(C_DIM, COLOR_BLUE, -1);
}

void ui_say(struct ui *u, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(u->status, sizeof u->status, fmt, ap);
	va_end(ap);
	u->status_is_error = false;
}

void ui_error(struct ui *u, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(u->status, sizeof u->status, fmt, ap);
	va_end(ap);
	u->status_is_error = true;
	log_warn("console: %s", u->status);
}

/* --- modal prompts ------------------------------------------------------------------ */

void ui_confirm(struct ui *u, void (*fn)(struct ui *u, bool yes, void *ctx), void *ctx, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(u->confirm_text, sizeof u->confirm_text, fmt, ap);
	va_end(ap);
	u->confirm_fn = fn;
	u->confirm_ctx = ctx;
	u->mode = M_CONFIRM;
}

void ui_prompt(struct ui *u, const char *prompt, const char *initial, bool live,
               void (*fn)(struct ui *u, const char *text, bool done, bool cancelled, void *ctx), void *ctx)
{
	u->line = (struct ui_line){ .fn = fn, .ctx = ctx, .live = live };
	snprintf(u->line.prompt, sizeof u->line.prompt, "%s", prompt);
	u->line.field.kind = FF_TEXT;
	form_set(&u->line.field, initial);
	u->mode = M_LINE;
}

void ui_menu(struct ui *u, const char *title, const char *const *items, int n, int cur,
             void (*fn)(struct ui *u, int choice, void *ctx), void *ctx)
{
	u->menu = (struct ui_menu){ .n = n > 40 ? 40 : n, .cur = cur, .fn = fn, .ctx = ctx };
	snprintf(u->menu.title, sizeof u->menu.title, "%s", title);
	for (int i = 0; i < u->menu.n; i++)
		u->menu.items[i] = items[i];
	u->mode = M_MENU;
}

int ui_field(struct ui_dialog *d, const char *label, enum ff_kind kind, const char *value, const char *help)
{
	if (d->nfields >= (int)countof(d->fields))
		x_die("dialog has too many fields");
	struct form_field *f = &d->fields[d->nfields];
	*f = (struct form_field){ .label = label, .kind = kind, .help = help, .max = 0 };
	form_set(f, value);
	return d->nfields++;
}

int ui_button(struct ui_dialog *d, const char *label, int id)
{
	int i = ui_field(d, label, FF_BUTTON, "", NULL);
	d->fields[i].button = id;
	return i;
}

int ui_panel(struct ui_dialog *d, const char *label, int rows, const char *help,
             void (*draw)(struct ui *u, const struct ui_dialog *d, int y, int x, int h, int w, bool focus),
             bool (*key)(struct ui *u, struct ui_dialog *d, int fk))
{
	int i = ui_button(d, label, 0);
	d->fields[i].help = help;
	d->panel_field = i;
	d->panel_rows = rows;
	d->panel_draw = draw;
	d->panel_key = key;
	return i;
}

void ui_dialog_open(struct ui *u, struct ui_dialog *d)
{
	if (u->dialog)
		ui_dialog_close(u);
	int focus = d->form.focus;
	form_init(&d->form, d->form.title, d->fields, d->nfields);
	if (focus > 0 && focus < d->nfields)
		d->form.focus = focus;
	u->dialog = d;
	u->mode = M_DIALOG;
}

void ui_dialog_close(struct ui *u)
{
	struct ui_dialog *d = u->dialog;
	u->dialog = NULL;
	if (u->mode == M_DIALOG)
		u->mode = M_NORMAL;
	if (!d)
		return;
	if (d->free_ctx)
		d->free_ctx(d->ctx);
	free(d);
}

/* --- views ------------------------------------------------------------------------------- */

void ui_reload(struct ui *u, enum view_id id)
{
	struct view *v = &u->views[id];
	if (v->ops->open)
		v->ops->open(u, v);
	v->opened = true;
	if (v->has_tbl)
		tbl_arrange(&v->tbl);
}

void ui_switch(struct ui *u, enum view_id id)
{
	if (id != u->cur && id != V_HELP)
		u->back = u->cur;
	else if (id == V_HELP && u->cur != V_HELP)
		u->back = u->cur;
	u->cur = id;
	ui_reload(u, id);
}

/* Search as you type: every key narrows the table at once. */
static void search_fn(struct ui *u, const char *text, bool done, bool cancelled, void *ctx)
{
	struct view *v = ctx;
	tbl_set_needle(&v->tbl, cancelled ? "" : text);
	tbl_arrange(&v->tbl);
	if (done || cancelled)
		ui_say(u, cancelled || !text[0] ? "search cleared" : "%zu rows match \"%s\" (Esc clears)",
		       v->tbl.nvis - v->tbl.ngroups, text);
}

static void sort_fn(struct ui *u, int choice, void *ctx)
{
	struct view *v = ctx;
	if (choice < 0)
		return;
	tbl_sort_by(&v->tbl, choice);
	tbl_arrange(&v->tbl);
	ui_say(u, "sorted by %s, %s", v->tbl.ops->cols[choice].title, v->tbl.sort_desc ? "descending" : "ascending");
}

static void group_fn(struct ui *u, int choice, void *ctx)
{
	struct view *v = ctx;
	if (choice < 0)
		return;
	/* Item 0 is "no groups"; then the groupable columns in order. */
	int col = -1;
	for (int c = 0, k = 0; c < v->tbl.ops->ncols; c++)
		if (v->tbl.ops->cols[c].groupable && ++k == choice)
			col = c;
	tbl_group_by(&v->tbl, col);
	tbl_arrange(&v->tbl);
	ui_say(u, col < 0 ? "groups off" : "grouped by %s (Space on a group line selects the group)",
	       col < 0 ? "" : v->tbl.ops->cols[col].title);
}

static size_t last_toggled;

bool ui_table_act(struct ui *u, struct view *v, enum action a, const char *arg)
{
	if (!v->has_tbl)
		return false;
	struct tbl *t = &v->tbl;
	long page = u->h - 5 > 1 ? u->h - 5 : 1;
	switch (a) {
	case ACT_UP: tbl_cursor_by(t, -1); return true;
	case ACT_DOWN: tbl_cursor_by(t, 1); return true;
	case ACT_PGUP: tbl_cursor_by(t, -page); return true;
	case ACT_PGDN: tbl_cursor_by(t, page); return true;
	case ACT_HOME: tbl_cursor_to(t, 0); return true;
	case ACT_END: tbl_cursor_to(t, t->nvis ? t->nvis - 1 : 0); return true;
	case ACT_SEARCH:
		if (arg) {
			search_fn(u, arg, true, false, v);
			return true;
		}
		ui_prompt(u, "/", t->needle, true, search_fn, v);
		return true;
	case ACT_SORT: {
		if (arg) {
			int c = tbl_col_by_name(t, arg);
			if (c < 0) {
				ui_error(u, "no column \"%s\" here; the columns are shown in the header", arg);
				return true;
			}
			sort_fn(u, c, v);
			return true;
		}
		const char *items[32];
		int n = 0;
		for (int c = 0; c < t->ops->ncols && n < 32; c++)
			items[n++] = t->ops->cols[c].title;
		ui_menu(u, "Sort by", items, n, t->sort_col < 0 ? 0 : t->sort_col, sort_fn, v);
		return true;
	}
	case ACT_GROUP: {
		const char *items[32] = { "(no groups)" };
		int n = 1, cur = 0;
		for (int c = 0; c < t->ops->ncols && n < 32; c++)
			if (t->ops->cols[c].groupable) {
				if (c == t->group_col)
					cur = n;
				if (arg && (strcasecmp(arg, t->ops->cols[c].title) == 0 ||
				            (t->ops->cols[c].name && strcasecmp(arg, t->ops->cols[c].name) == 0))) {
					group_fn(u, n, v);
					return true;
				}
				items[n++] = t->ops->cols[c].title;
			}
		if (arg) {
			group_fn(u, 0, v);
			return true;
		}
		if (n == 1)
			return false;
		ui_menu(u, "Group by", items, n, cur, group_fn, v);
		return true;
	}
	case ACT_SELECT:
		tbl_select_toggle(t);
		last_toggled = t->cursor;
		tbl_cursor_by(t, 1);
		ui_say(u, "%zu selected", tbl_selected_count(t));
		return true;
	case ACT_SELECT_RANGE:
		tbl_select_range(t, last_toggled, t->cursor);
		ui_say(u, "%zu selected", tbl_selected_count(t));
		return true;
	case ACT_SELECT_ALL:
		tbl_select_all_shown(t);
		ui_say(u, "%zu selected", tbl_selected_count(t));
		return true;
	case ACT_SELECT_NONE:
		tbl_select_none(t);
		ui_say(u, "selection cleared");
		return true;
	default:
		return false;
	}
}

/* --- drawing ---------------------------------------------------------------------------- */

static const enum view_id toolbar[] = { V_FORESTS, V_MAILBOXES, V_JOBS, V_BLACKOUTS, V_SUMMARY, V_SCHEDULE,
                                        V_METRICS, V_DELEGATION, V_EVENTS, V_SETTINGS, V_HELP, V_ABOUT };
static int toolbar_x[countof(toolbar) + 1];   /* where each item starts, for the mouse */

static const char *toolbar_label(const struct ui *u, enum view_id id, int style, char *buf, size_t n)
{
	const struct view *v = &u->views[id];
	const char *key = id == V_HELP ? "?" : id == V_ABOUT ? "i" : NULL;
	char k[4];
	if (!key) {
		snprintf(k, sizeof k, "%c", v->key);
		key = k;
	}
	if (style == 0 || id == u->cur || (id == V_JOBS && (u->cur == V_JOB_DETAIL || u->cur == V_REPORT)))
		snprintf(buf, n, "%s %s", key, v->name);
	else if (style == 1)
		snprintf(buf, n, "%s %s", key, v->abbrev);
	else
		snprintf(buf, n, "%s", key);
	return buf;
}

static void draw_toolbar(struct ui *u)
{
	int style = 0;
	for (; style < 2; style++) {
		int len = 1;
		char b[64];
		for (size_t i = 0; i < countof(toolbar); i++)
			len += draw_width(toolbar_label(u, toolbar[i], style, b, sizeof b)) + (style ? 1 : 2);
		if (len <= u->w)
			break;
	}
	attron(ui_attr(u, C_BAR));
	mvhline(0, 0, ' ', u->w);
	int x = 1;
	for (size_t i = 0; i < countof(toolbar); i++) {
		char b[64];
		toolbar_label(u, toolbar[i], style, b, sizeof b);
		int bw = draw_width(b);
		toolbar_x[i] = x;
		if (x + bw >= u->w)
			break;
		bool cur = toolbar[i] == u->cur || ((u->cur == V_JOB_DETAIL || u->cur == V_REPORT) && toolbar[i] == V_JOBS);
		if (cur) {
			attroff(ui_attr(u, C_BAR));
			attron(ui_attr(u, C_CURSOR));
		}
		draw_cell(0, x, bw, b, false);
		if (cur) {
			attroff(ui_attr(u, C_CURSOR));
			attron(ui_attr(u, C_BAR));
		}
		x += bw + (style ? 1 : 2);
	}
	toolbar_x[countof(toolbar)] = x;
	attroff(ui_attr(u, C_BAR));
}

static void draw_statusbar(struct ui *u)
{
	int y = u->h - 1;
	attron(ui_attr(u, C_BAR));
	mvhline(y, 0, ' ', u->w);
	char line[600];
	if (u->mode == M_LINE) {
		snprintf(line, sizeof line, "%s%s", u->line.prompt, u->line.field.value);
		draw_cell(y, 0, u->w, line, false);
		char before[FORM_VALUE_MAX];
		snprintf(before, sizeof before, "%.*s", (int)u->line.field.cur, u->line.field.value);
		int cx = draw_width(u->line.prompt) + draw_width(before);
		attroff(ui_attr(u, C_BAR));
		curs_set(1);
		move(y, cx < u->w ? cx : u->w - 1);
		return;
	}
	if (u->mode == M_CONFIRM) {
		attroff(ui_attr(u, C_BAR));
		attron(ui_attr(u, C_ERROR) | A_REVERSE);
		snprintf(line, sizeof line, " %s (y/n)", u->confirm_text);
		draw_cell(y, 0, u->w, line, false);
		attroff(ui_attr(u, C_ERROR) | A_REVERSE);
		return;
	}
	if (u->status[0]) {
		if (u->status_is_error) {
			attroff(ui_attr(u, C_BAR));
			attron(ui_attr(u, C_ERROR) | A_REVERSE);
		}
		snprintf(line, sizeof line, " %s", u->status);
		draw_cell(y, 0, u->w, line, false);
		attroff(ui_attr(u, C_ERROR) | A_REVERSE);
		attroff(ui_attr(u, C_BAR));
		return;
	}
	int64_t c[JOB__COUNT] = { 0 };
	struct err e;
	if (store_job_counts(u->st, c, &e) == ST_OK)
		snprintf(line, sizeof line, " %lld running, %lld queued, %lld paused, %lld ready, %lld done, %lld failed"
		         " | engine %s | ? help  / search  : command  q quit",
		         (long long)c[JOB_RUNNING], (long long)(c[JOB_QUEUED] + c[JOB_COMPLETING]),
		         (long long)c[JOB_PAUSED], (long long)c[JOB_READY],
		         (long long)(c[JOB_COMPLETED] + c[JOB_PARTIAL]), (long long)c[JOB_FAILED],
		         !u->engine_started ? "off" : atomic_load(&u->engine_busy) ? "working" : "idle");
	else
		snprintf(line, sizeof line, " %s", e.msg);
	draw_cell(y, 0, u->w, line, false);
	attroff(ui_attr(u, C_BAR));
}

void console_draw(struct ui *u)
{
	getmaxyx(stdscr, u->h, u->w);
	curs_set(0);
	erase();
	draw_toolbar(u);
	struct view *v = &u->views[u->cur];
	int y0 = 1, h = u->h - 2;
	if (v->title[0]) {
		draw_cell(1, 0, u->w, v->title, false);
		y0++;
		h--;
	}
	if (v->ops->draw)
		v->ops->draw(u, v, y0, h, u->w);
	else if (v->has_tbl) {
		draw_table(u, &v->tbl, y0, h, u->w, u->cur == V_MAILBOXES || u->cur == V_JOBS || u->cur == V_DELEGATION);
		if (v->tbl.nvis == 0 && v->ops->empty)
			draw_cell(y0 + 2, 2, u->w - 4, v->tbl.needle[0] ? "No row matches the search (Esc clears it)."
			                                               : v->ops->empty, false);
	}
	if (u->mode == M_MENU)
		draw_menu(u, &u->menu);
	if (u->mode == M_DIALOG && u->dialog)
		draw_dialog(u, u->dialog);
	draw_statusbar(u);
	refresh();
}

/* --- the engine thread --------------------------------------------------------------------- */

static void *engine_main(void *arg)
{
	struct ui *u = arg;
	struct err e;
	/* Runs the queue, then looks again now and then for new jobs. */
	while (!u->cancel) {
		atomic_store(&u->engine_busy, 1);
		enum st s = engine_run_queue(&u->eo, &e);
		atomic_store(&u->engine_busy, 0);
		/* Each round also checks the forests whose health check is due
		 * (health_interval_min), in a thread of its own (eo.health). */
		if (s && s != ST_PARTIAL && s != ST_CANCELED)
			log_warn("console engine: %s", e.msg);
		for (int i = 0; i < 10 && !u->cancel; i++)
			usleep(100000);
	}
	return NULL;
}

/* --- keys ------------------------------------------------------------------------------------ */

static int form_key_of(int ch)
{
	switch (ch) {
	case KEY_LEFT: return FK_LEFT;
	case KEY_RIGHT: return FK_RIGHT;
	case KEY_UP: return FK_UP;
	case KEY_DOWN: return FK_DOWN;
	case KEY_HOME: case 1: return FK_HOME;
	case KEY_END: case 5: return FK_END;
	case KEY_BACKSPACE: case 127: case 8: return FK_BACKSPACE;
	case KEY_DC: return FK_DELETE;
	case '\t': return FK_TAB;
	case KEY_BTAB: return FK_BTAB;
	case '\n': case '\r': case KEY_ENTER: return FK_ENTER;
	case 27: return FK_ESC;
	case KEY_PPAGE: return FK_PGUP;
	case KEY_NPAGE: return FK_PGDN;
	case 21: return FK_KILL_LINE;
	default: return ch >= KEY_MIN ? -1 : ch;
	}
}

static void quit_menu_fn(struct ui *u, int choice, void *ctx)
{
	(void)ctx;
	if (choice == 0 || choice == 1) {
		u->pause_on_quit = choice == 0;
		u->quit = true;
	}
}

static void ask_quit(struct ui *u)
{
	int64_t c[JOB__COUNT] = { 0 };
	struct err e;
	if (!u->engine_started || store_job_counts(u->st, c, &e) || c[JOB_RUNNING] == 0) {
		u->quit = true;
		return;
	}
	static const char *const items[] = {
		"Pause the running jobs (they wait until you resume them)",
		"Keep them queued (they continue at the next start)",
		"Don't quit",
	};
	ui_menu(u, "Jobs are running. Quit and...", items, 3, 1, quit_menu_fn, NULL);
}

/* R: the report of the job under the cursor (Mailbox Jobs), of the job
 * shown (its detail), or of the project (Summary). */
static void open_report(struct ui *u)
{
	struct view *v = &u->views[u->cur];
	u->report_job = 0;
	if (u->cur == V_JOB_DETAIL)
		u->report_job = u->detail_job;
	else if (u->cur == V_JOBS) {
		const void *row = v->has_tbl ? tbl_cursor_row(&v->tbl) : NULL;
		if (!row) {
			ui_error(u, "no job under the cursor (the Summary's R reports on every mailbox)");
			return;
		}
		u->report_job = v->tbl.ops->id(row);
	}
	ui_switch(u, V_REPORT);
}

static void act(struct ui *u, const struct keybind *k, const char *arg)
{
	struct view *v = &u->views[u->cur];
	char num[16];
	if (!arg && k->act == ACT_PERIOD) {
		snprintf(num, sizeof num, "%+d", k->arg);
		arg = num;
	}
	switch (k->act) {
	case ACT_VIEW: ui_switch(u, (enum view_id)k->arg); return;
	case ACT_HELP: ui_switch(u, V_HELP); return;
	case ACT_QUIT: ask_quit(u); return;
	case ACT_REDRAW: clearok(stdscr, TRUE); return;
	case ACT_REPORT: open_report(u); return;
	case ACT_CMDLINE: return;     /* handled by the caller */
	default: break;
	}
	if (v->ops->act && v->ops->act(u, v, k->act, arg))
		return;
	if (ui_table_act(u, v, k->act, arg))
		return;
	if (k->act == ACT_BACK) {
		if (v->has_tbl && v->tbl.needle[0]) {
			search_fn(u, "", false, true, v);
			return;
		}
		if (u->cur == V_HELP || u->cur == V_JOB_DETAIL || u->cur == V_ABOUT || u->cur == V_REPORT)
			ui_switch(u, u->back);
		return;
	}
	ui_error(u, "%s: not available in %s", k->name ? k->name : k->keyname, v->name);
}

static const struct keybind *key_for(const struct ui *u, int ch)
{
	for (size_t i = 0; i < ui_nkeys; i++)
		if (ui_keys[i].key == ch && (ui_keys[i].views & VM(u->cur)))
			return &ui_keys[i];
	return NULL;
}

/* ":name [arg]" runs the action called name in the current view; a view's
 * name opens it. */
static void cmdline_fn(struct ui *u, const char *text, bool done, bool cancelled, void *ctx)
{
	(void)ctx;
	if (!done || cancelled)
		return;
	char cmd[64] = "", arg[192] = "";
	if (sscanf(text, " %63s %191[^\n]", cmd, arg) < 1)
		return;
	if (strcmp(cmd, "view") == 0 && arg[0]) {
		snprintf(cmd, sizeof cmd, "%s", arg);
		arg[0] = '\0';
	}
	if (strcmp(cmd, "q") == 0)
		snprintf(cmd, sizeof cmd, "quit");
	const struct keybind *found = NULL;
	for (size_t i = 0; i < ui_nkeys && !found; i++)
		if (ui_keys[i].name && strcasecmp(ui_keys[i].name, cmd) == 0 && (ui_keys[i].views & VM(u->cur)))
			found = &ui_keys[i];
	for (size_t i = 0; i < ui_nkeys && !found; i++)
		if (ui_keys[i].name && strcasecmp(ui_keys[i].name, cmd) == 0)
			found = &ui_keys[i];
	if (!found) {
		ui_error(u, "no command \"%s\" (? lists the keys; their names work after \":\")", cmd);
		return;
	}
	if (!(found->views & VM(u->cur))) {
		ui_error(u, ":%s works in another view, not in %s", cmd, u->views[u->cur].name);
		return;
	}
	u->status[0] = '\0';
	act(u, found, arg[0] ? arg : NULL);
}

static void on_line_key(struct ui *u, int ch)
{
	int fk = form_key_of(ch);
	struct ui_line *l = &u->line;
	if (fk == FK_ENTER || fk == FK_ESC) {
		u->mode = M_NORMAL;
		char text[FORM_VALUE_MAX];
		snprintf(text, sizeof text, "%s", l->field.value);
		l->fn(u, text, fk == FK_ENTER, fk == FK_ESC, l->ctx);
		return;
	}
	if (fk < 0)
		return;
	struct form fm;
	form_init(&fm, NULL, &l->field, 1);
	size_t cur = l->field.cur;
	l->field.cur = cur;
	form_key(&fm, fk);
	if (l->live)
		l->fn(u, l->field.value, false, false, l->ctx);
}

static void on_menu_key(struct ui *u, int ch)
{
	struct ui_menu *m = &u->menu;
	switch (ch) {
	case KEY_UP: case 'k': if (m->cur > 0) m->cur--; return;
	case KEY_DOWN: case 'j': if (m->cur + 1 < m->n) m->cur++; return;
	case '\n': case '\r': case KEY_ENTER:
		u->mode = M_NORMAL;
		m->fn(u, m->cur, m->ctx);
		return;
	case 27: case 'q':
		u->mode = M_NORMAL;
		m->fn(u, -1, m->ctx);
		return;
	default:
		if (ch >= '1' && ch <= '9' && ch - '1' < m->n) {
			u->mode = M_NORMAL;
			m->fn(u, ch - '1', m->ctx);
		}
	}
}

static void on_dialog_key(struct ui *u, int ch)
{
	struct ui_dialog *d = u->dialog;
	int fk = form_key_of(ch);
	if (fk < 0)
		return;
	if (d->panel_key && d->form.focus == d->panel_field && d->panel_key(u, d, fk))
		return;
	int b = form_key(&d->form, fk);
	if (b == FORM_NONE)
		return;
	if (!d->done || d->done(u, d, b))
		ui_dialog_close(u);
}

/* Mouse: a click on the toolbar opens that view, on a row moves the
 * cursor there, a double click opens the row; the wheel scrolls. */
static void on_mouse(struct ui *u)
{
	MEVENT me;
	if (getmouse(&me) != OK || u->mode != M_NORMAL)
		return;
	struct view *v = &u->views[u->cur];
	if (me.bstate & BUTTON4_PRESSED) {
		if (v->has_tbl)
			tbl_cursor_by(&v->tbl, -3);
		return;
	}
	if (me.bstate & BUTTON5_PRESSED) {
		if (v->has_tbl)
			tbl_cursor_by(&v->tbl, 3);
		return;
	}
	if (!(me.bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED | BUTTON1_RELEASED | BUTTON1_DOUBLE_CLICKED)))
		return;
	if (me.y == 0) {
		for (size_t i = 0; i < countof(toolbar); i++)
			if (me.x >= toolbar_x[i] && me.x < toolbar_x[i + 1] - 1) {
				ui_switch(u, toolbar[i]);
				return;
			}
		return;
	}
	if (!v->has_tbl || v->ops->draw)
		return;
	int first = v->title[0] ? 3 : 2;     /* toolbar, title, column header */
	if (me.y < first || me.y >= u->h - 1)
		return;
	size_t i = v->tbl.top + (size_t)(me.y - first);
	if (i >= v->tbl.nvis)
		return;
	tbl_cursor_to(&v->tbl, i);
	if (me.bstate & BUTTON1_DOUBLE_CLICKED) {
		const struct keybind *k = key_for(u, '\n');
		if (k)
			act(u, k, NULL);
	}
}

static void on_key(struct ui *u, int ch)
{
	switch (u->mode) {
	case M_LINE: on_line_key(u, ch); return;
	case M_MENU: on_menu_key(u, ch); return;
	case M_DIALOG: on_dialog_key(u, ch); return;
	case M_CONFIRM: {
		u->mode = M_NORMAL;
		bool yes = ch == 'y' || ch == 'Y';
		u->confirm_fn(u, yes, u->confirm_ctx);
		return;
	}
	case M_NORMAL: break;
	}
	if (ch == KEY_MOUSE) {
		on_mouse(u);
		return;
	}
	if (ch == '\r' || ch == KEY_ENTER)
		ch = '\n';
	u->status[0] = '\0';
	const struct keybind *k = key_for(u, ch);
	if (!k)
		return;
	if (k->act == ACT_CMDLINE) {
		ui_prompt(u, ":", "", false, cmdline_fn, NULL);
		return;
	}
	/* The q key backs out of Help, About and a job's detail (":quit" quits). */
	if (ch == 'q' && (u->cur == V_HELP || u->cur == V_ABOUT || u->cur == V_JOB_DETAIL || u->cur == V_REPORT)) {
		ui_switch(u, u->back);
		return;
	}
	act(u, k, NULL);
}

/* --- key-to-screen latency (MAILFERRY_LATENCY_LOG) --------------------------------
 * For the benchmark: the time from a key read to the next frame drawn,
 * summarised into the named file when the console exits. */

static int64_t mono_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void latency_key(struct ui *u)
{
	if (u->lat_path)
		u->key_us = mono_us();
}

static void latency_frame(struct ui *u)
{
	if (!u->lat_path || !u->key_us)
		return;
	u->lat = x_grow(u->lat, u->nlat, &u->latcap, sizeof *u->lat, 256);
	u->lat[u->nlat++] = mono_us() - u->key_us;
	u->key_us = 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void latency_report(struct ui *u)
{
	if (!u->lat_path)
		return;
	FILE *f = fopen(u->lat_path, "w");
	if (f && u->nlat) {
		qsort(u->lat, u->nlat, sizeof *u->lat, cmp_i64);
		fprintf(f, "keys %zu median_ms %.2f p95_ms %.2f max_ms %.2f\n", u->nlat, (double)u->lat[u->nlat / 2] / 1e3,
		        (double)u->lat[u->nlat * 95 / 100] / 1e3, (double)u->lat[u->nlat - 1] / 1e3);
	} else if (f)
		fprintf(f, "keys 0\n");
	if (f)
		fclose(f);
	free(u->lat);
}

/* --- setup and the loop ------------------------------------------------------------------------ */

void console_views_init(struct ui *u)
{
	static const struct {
		enum view_id id;
		const char *name, *abbrev;
		int key;
		const struct view_ops *ops;
	} defs[] = {
		{ V_FORESTS, "Forests", "Forest", '1', &view_forests_ops },
		{ V_MAILBOXES, "Mailboxes", "Mbx", '2', &view_mailboxes_ops },
		{ V_JOBS, "Mailbox Jobs", "Jobs", '3', &view_jobs_ops },
		{ V_BLACKOUTS, "Blackout Times", "Blkout", '4', &view_blackouts_ops },
		{ V_SUMMARY, "Summary", "Sum", '5', &view_summary_ops },
		{ V_SCHEDULE, "Schedule", "Sched", '6', &view_schedule_ops },
		{ V_METRICS, "Metrics", "Metric", '7', &view_metrics_ops },
		{ V_DELEGATION, "Delegation", "Deleg", '8', &view_delegation_ops },
		{ V_EVENTS, "Event log", "Log", '9', &view_events_ops },
		{ V_SETTINGS, "Settings", "Set", '0', &view_settings_ops },
		{ V_HELP, "Help", "Help", '?', &view_help_ops },
		{ V_ABOUT, "About", "About", 'i', &view_about_ops },
		{ V_JOB_DETAIL, "Job detail", "Job", 0, &view_job_detail_ops },
		{ V_REPORT, "Report", "Report", 0, &view_report_ops },
	};
	for (size_t i = 0; i < countof(defs); i++) {
		struct view *v = &u->views[defs[i].id];
		v->name = defs[i].name;
		v->abbrev = defs[i].abbrev;
		v->key = defs[i].key;
		v->ops = defs[i].ops;
	}
}

void console_views_free(struct ui *u)
{
	for (int i = 0; i < V__COUNT; i++) {
		struct view *v = &u->views[i];
		if (v->ops && v->ops->close)
			v->ops->close(u, v);
		if (v->has_tbl)
			tbl_free(&v->tbl);
	}
}

void console_print_keys(FILE *out)
{
	struct ui u = { 0 };
	console_views_init(&u);
	fprintf(out, "%-8s %-14s %-40s %s\n", "KEY", "COMMAND", "VIEWS", "WHAT IT DOES");
	for (size_t i = 0; i < ui_nkeys; i++) {
		const struct keybind *k = &ui_keys[i];
		char views[400] = "";
		/* Keys of (nearly) every list are named by what they miss. */
		int shown = 0;
		for (int v = 0; v < V__COUNT; v++)
			shown += (k->views & VM(v)) != 0;
		bool most = shown >= V__COUNT - 3 && k->views != VM_ALL;
		if (k->views == VM_ALL)
			snprintf(views, sizeof views, "all");
		else {
			if (most)
				snprintf(views, sizeof views, "every list");
			for (int v = 0; v < V__COUNT; v++)
				if (!(k->views & VM(v)) == most) {
					size_t len = strlen(views);
					snprintf(views + len, sizeof views - len, "%s%s", !len ? "" : most && !strchr(views, ',') &&
					         !strstr(views, " but ") ? " but " : ", ", u.views[v].name);
				}
		}
		char cmd[40];
		snprintf(cmd, sizeof cmd, "%s%s", k->name ? ":" : "", k->name ? k->name : "-");
		fprintf(out, "%-8s %-14s %-40s %s\n", k->keyname, cmd, views, k->help);
	}
}

/* The big tables (jobs, mailboxes) are read once at start-up; after that
 * opening their views reads only the rows that changed. */
void console_preload(struct ui *u)
{
	static const enum view_id big[] = { V_MAILBOXES, V_JOBS };
	for (size_t i = 0; i < countof(big); i++)
		ui_reload(u, big[i]);
}

int console_run(const struct console_opts *o)
{
	struct ui u = { .o = o, .cur = V_JOBS, .back = V_JOBS, .lat_path = getenv("MAILFERRY_LATENCY_LOG") };
	struct err e;
	if (store_open(o->store_path, &u.st, &e)) {
		fprintf(stderr, "mailferry: %s\n", e.msg);
		return st_exit_code(e.code);
	}
	console_views_init(&u);
	/* Signals go to this thread only: block them before the engine starts. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGWINCH);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	u.eo = (struct engine_opts){ .cfg = o->cfg, .store_path = o->store_path, .workers = o->workers,
	                             .progress = false, .cancel = &u.cancel, .health = true };
	if (o->run_engine && pthread_create(&u.engine, NULL, engine_main, &u) == 0)
		u.engine_started = true;
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	initscr();
	raw();          /* Ctrl-C is a key here: quitting stops jobs cleanly */
	noecho();
	keypad(stdscr, TRUE);
	set_escdelay(25);
	mousemask(BUTTON1_CLICKED | BUTTON1_DOUBLE_CLICKED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
	mouseinterval(200);
	init_colors(&u);
	getmaxyx(stdscr, u.h, u.w);
	timeout(250);   /* the shown view refreshes four times a second */
	console_preload(&u);
	ui_switch(&u, V_JOBS);
	int64_t next_refresh = 0;
	while (!u.quit) {
		int64_t now = clock_mono_ms();
		struct view *v = &u.views[u.cur];
		if (now >= next_refresh) {
			if (v->ops->tick)
				v->ops->tick(&u, v);
			if (v->has_tbl && v->tbl.changed)
				tbl_arrange(&v->tbl);
			next_refresh = now + 250;
		}
		if (u.mode == M_DIALOG && u.dialog && u.dialog->poll)
			u.dialog->poll(&u, u.dialog);
		ui_tasks_poll(&u);
		console_draw(&u);
		latency_frame(&u);
		int ch = getch();
		if (ch == ERR)
			continue;
		latency_key(&u);
		if (ch == KEY_RESIZE) {
			getmaxyx(stdscr, u.h, u.w);
			continue;
		}
		on_key(&u, ch);
	}
	if (u.dialog)
		ui_dialog_close(&u);
	if (u.mode == M_MENU) {     /* a menu may own what its items point at */
		u.mode = M_NORMAL;
		u.menu.fn(&u, -1, u.menu.ctx);
	}
	ui_tasks_wait(&u);
	if (u.engine_started) {
		/* Jobs stop at their next checkpoint: queued again, or paused. */
		ui_say(&u, "stopping: running jobs finish their current step and %s...",
		       u.pause_on_quit ? "are paused" : "stay queued");
		u.mode = M_NORMAL;
		console_draw(&u);
		u.eo.pause_on_cancel = u.pause_on_quit;
		atomic_thread_fence(memory_order_seq_cst);
		u.cancel = 1;
		pthread_join(u.engine, NULL);
	}
	endwin();
	latency_report(&u);
	console_views_free(&u);
	store_close(&u.st);
	return 0;
}
