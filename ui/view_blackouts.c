/* view_blackouts.c - Blackout Times: the windows in which no mailbox may
 * migrate, for every site, one site or one mailbox.  Each row shows the
 * window's name, what it applies to, start and end in the window's own time
 * zone (with the zone's abbreviation), once or weekly, the blackout mode
 * (entire migration, initial or final/cutover; or the forest's default),
 * and whether it is active now or when it next begins.
 *
 * Keys: n adds a window, Enter or e edits the one under the cursor, D or
 * Del deletes it (asks y/n).  The dialog checks everything before the store
 * does (empty name, impossible dates, unknown zone, unknown mailbox, end
 * not after start) and names the field; whatever the store still refuses
 * is shown in the dialog as the store words it.
 *
 * Times typed in the dialog are wall-clock times of the zone given there
 * (empty: the console's local time), converted with src/tz.c, which reads
 * the zone file itself instead of changing TZ under the engine thread. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tz.h"
#include "ui.h"

struct bo_ui {
	int64_t id;
	char *strs;             /* one allocation for the strings below */
	const char *name, *site, *login, *tz, *mode;
	int64_t mailbox_id, start, end;
	bool weekly;
	/* Worked out at load (the zone file is read once per row, not per draw). */
	char start_txt[64], end_txt[64], state_txt[64], weekday[4];
	int64_t next;           /* start of the current or next occurrence; 0: over */
	bool active;
};

#define B(r) ((const struct bo_ui *)(r))

static int64_t bo_id(const void *r) { return B(r)->id; }
static void bo_free(void *r) { free(((struct bo_ui *)r)->strs); }

static void col_name(const void *r, char *b, size_t n) { snprintf(b, n, "%s", B(r)->name); }

static void col_applies(const void *r, char *b, size_t n)
{
	const struct bo_ui *x = B(r);
	if (x->login[0])
		snprintf(b, n, "mailbox %s", x->login);
	else if (x->mailbox_id)
		snprintf(b, n, "mailbox #%lld", (long long)x->mailbox_id);
	else if (x->site[0])
		snprintf(b, n, "site %s", x->site);
	else
		snprintf(b, n, "every site");
}

static void col_start(const void *r, char *b, size_t n) { snprintf(b, n, "%s", B(r)->start_txt); }
static void col_end(const void *r, char *b, size_t n) { snprintf(b, n, "%s", B(r)->end_txt); }
static void col_state(const void *r, char *b, size_t n) { snprintf(b, n, "%s", B(r)->state_txt); }

static void col_repeat(const void *r, char *b, size_t n)
{
	const struct bo_ui *x = B(r);
	if (x->weekly)
		snprintf(b, n, "weekly %s", x->weekday);
	else
		snprintf(b, n, "once");
}

static void col_mode(const void *r, char *b, size_t n)
{
	snprintf(b, n, "%s", B(r)->mode[0] ? B(r)->mode : "(forest)");
}

static void col_zone(const void *r, char *b, size_t n) { snprintf(b, n, "%s", B(r)->tz[0] ? B(r)->tz : "local"); }

static int cmp_start(const void *a, const void *b)
{
	return B(a)->start < B(b)->start ? -1 : B(a)->start > B(b)->start;
}

/* Active ones first, then by the next beginning; those that are over last. */
static int cmp_state(const void *a, const void *b)
{
	const struct bo_ui *x = a, *y = b;
	int64_t p = x->active ? 0 : x->next ? x->next : INT64_MAX;
	int64_t q = y->active ? 0 : y->next ? y->next : INT64_MAX;
	return p < q ? -1 : p > q;
}

static const struct tbl_col cols[] = {
	{ "NAME", "name", 11, false, col_name, NULL, false },
	{ "APPLIES TO", "applies", 12, false, col_applies, NULL, true },
	{ "START", "start", 20, false, col_start, cmp_start, false },
	{ "END", "end", 16, false, col_end, NULL, false },
	{ "NOW", "state", 16, false, col_state, cmp_state, false },
	{ "REPEAT", "repeat", 10, false, col_repeat, NULL, true },
	{ "MODE", "mode", 8, false, col_mode, NULL, true },
	{ "ZONE", "zone", 0, false, col_zone, NULL, true },
};

static bool bo_match(const void *r, const char *needle)
{
	const struct bo_ui *x = r;
	return tbl_contains(x->name, needle) || tbl_contains(x->site, needle) || tbl_contains(x->login, needle) ||
	       tbl_contains(x->tz, needle);
}

static const struct tbl_ops ops = { cols, (int)countof(cols), sizeof(struct bo_ui), bo_id, bo_free, bo_match, 2 };

/* --- loading ---------------------------------------------------------------- */

struct bo_state {
	int64_t loaded_at;      /* clock_mono_ms of the last read */
};

static const char *nz(const char *s) { return s ? s : ""; }

/* The end as short as it can be without being ambiguous: the time alone on
 * the start's day, month-day within its year. */
static void end_text(const char *start_wall, const char *end_wall, const char *abbr, char *b, size_t n)
{
	if (strncmp(start_wall, end_wall, 10) == 0)
		snprintf(b, n, "%s %s", end_wall + 11, abbr);
	else if (strncmp(start_wall, end_wall, 4) == 0)
		snprintf(b, n, "%s %s", end_wall + 5, abbr);
	else
		snprintf(b, n, "%s", end_wall);
}

static void work_out_times(struct bo_ui *x)
{
	char why[160], sw[32], ew[32], sa[16], ea[16];
	struct tzone *z = tz_open(x->tz, why, sizeof why);
	if (!z)     /* the zone file vanished since: show local time, say so */
		z = tz_open(NULL, why, sizeof why);
	tz_format(z, x->start, sw, sizeof sw, sa, sizeof sa);
	tz_format(z, x->end, ew, sizeof ew, ea, sizeof ea);
	snprintf(x->start_txt, sizeof x->start_txt, "%s %s", sw, sa);
	end_text(sw, ew, ea, x->end_txt, sizeof x->end_txt);
	int y, m, d;
	static const char *const wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	int64_t now = clock_now(), ws, we;
	x->active = false;
	x->next = 0;
	if (tz_window(z, x->start, x->end, x->weekly, now, &ws, &we)) {
		char w[32], a[16];
		x->active = ws <= now;
		x->next = ws;
		tz_format(z, x->active ? we : ws, w, sizeof w, a, sizeof a);
		snprintf(x->state_txt, sizeof x->state_txt, "%s %s", x->active ? "ACTIVE to" : "next", w + 5);
	} else
		snprintf(x->state_txt, sizeof x->state_txt, "over");
	/* The weekday of the start, in the window's zone: the day of its wall
	 * date (1970-01-01 was a Thursday). */
	if (sscanf(sw, "%d-%d-%d", &y, &m, &d) == 3) {
		struct tzone *utc = tz_open("UTC", why, sizeof why);
		int64_t days = utc ? tz_mktime(utc, y, m, d, 0, 0) / 86400 : 0;
		tz_close(utc);
		snprintf(x->weekday, sizeof x->weekday, "%s", wd[(days % 7 + 11) % 7]);
	}
	tz_close(z);
}

static void put_row(void *ctx, const struct blackout *b)
{
	struct view *v = ctx;
	struct bo_ui *x = tbl_upsert(&v->tbl, b->id);
	const char *s[5] = { nz(b->name), nz(b->site), nz(b->login), nz(b->tz), nz(b->mode) };
	const char **dst[5] = { &x->name, &x->site, &x->login, &x->tz, &x->mode };
	size_t total = 0;
	for (int i = 0; i < 5; i++)
		total += strlen(s[i]) + 1;
	char *p = x->strs = x_malloc(total);
	for (int i = 0; i < 5; i++) {
		size_t len = strlen(s[i]) + 1;
		memcpy(p, s[i], len);
		*dst[i] = p;
		p += len;
	}
	x->id = b->id;
	x->mailbox_id = b->mailbox_id;
	x->start = b->start_ts;
	x->end = b->end_ts;
	x->weekly = b->weekly;
	work_out_times(x);
}

static void bo_load(struct ui *u, struct view *v)
{
	struct bo_state *s = v->priv;
	struct err e;
	tbl_clear(&v->tbl);
	if (store_blackout_each(u->st, put_row, v, &e))
		ui_error(u, "%s", e.msg);
	s->loaded_at = clock_mono_ms();
	v->tbl.changed = true;
	size_t active = 0;
	for (size_t i = 0; i < v->tbl.n; i++)
		active += ((const struct bo_ui *)(v->tbl.rows + i * sizeof(struct bo_ui)))->active;
	snprintf(v->title, sizeof v->title, "Blackout Times: %zu window%s, %zu active now (n new, e edit, D delete)",
	         v->tbl.n, v->tbl.n == 1 ? "" : "s", active);
}

static void bo_open(struct ui *u, struct view *v)
{
	if (!v->has_tbl) {
		tbl_init(&v->tbl, &ops);
		v->has_tbl = true;
		v->priv = x_calloc(1, sizeof(struct bo_state));
	}
	bo_load(u, v);
}

/* A handful of rows: re-read every few seconds so that "active" follows the
 * clock and windows added from the command line show up. */
static void bo_tick(struct ui *u, struct view *v)
{
	struct bo_state *s = v->priv;
	if (u->mode != M_NORMAL || clock_mono_ms() - s->loaded_at < 5000)
		return;
	bo_load(u, v);
}

static void bo_close(struct ui *u, struct view *v)
{
	(void)u;
	free(v->priv);
	v->priv = NULL;
}

/* --- the dialog ----------------------------------------------------------------- */

enum { F_NAME, F_SITE, F_MAILBOX, F_TZ, F_START, F_END, F_WEEKLY, F_MODE, F_SAVE, F_CANCEL };
enum { B_SAVE = 1, B_CANCEL };

static const char *const mode_choices[] = { "forest default", "entire", "initial", "final", NULL };

struct bo_dialog {
	int64_t id;             /* 0: a new window */
};

/* The mailbox a login names, on any endpoint; "ENDPOINT:LOGIN" picks one
 * when the login exists on several.  (The store has store_mailbox_id only
 * per endpoint, so this walks the mailbox rows once, on Save.) */
struct mb_find {
	const char *login, *endpoint;
	int64_t id;
	int hits;
	char where[160];
};

static void mb_find_row(void *ctx, const struct mailbox_row *r)
{
	struct mb_find *f = ctx;
	if (strcmp(r->login, f->login) != 0 || (f->endpoint && strcmp(r->endpoint, f->endpoint) != 0))
		return;
	if (f->hits++ == 0)
		f->id = r->id;
	size_t k = strlen(f->where);
	snprintf(f->where + k, sizeof f->where - k, "%s%s", k ? ", " : "", r->endpoint);
}

static bool find_mailbox(struct ui *u, const char *text, int64_t *id, char *why, size_t n)
{
	struct mb_find f = { .login = text };
	struct err e;
	if (store_mailbox_rows(u->st, 0, 0, mb_find_row, &f, NULL, &e)) {
		snprintf(why, n, "%.150s", e.msg);
		return false;
	}
	char ep[128], login[FORM_VALUE_MAX];
	const char *colon = strchr(text, ':');
	if (!f.hits && colon && (size_t)(colon - text) < sizeof ep) {
		snprintf(ep, sizeof ep, "%.*s", (int)(colon - text), text);
		snprintf(login, sizeof login, "%s", colon + 1);
		f = (struct mb_find){ .login = login, .endpoint = ep };
		if (store_mailbox_rows(u->st, 0, 0, mb_find_row, &f, NULL, &e)) {
			snprintf(why, n, "%.150s", e.msg);
			return false;
		}
	}
	if (f.hits == 0) {
		snprintf(why, n, "no mailbox \"%s\" (see Mailboxes, key 2)", text);
		return false;
	}
	if (f.hits > 1) {
		snprintf(why, n, "on several endpoints (%s): write ENDPOINT:%s", f.where, text);
		return false;
	}
	*id = f.id;
	return true;
}

static const char *trimmed(struct ui_dialog *d, int i)
{
	char *s = d->fields[i].value;
	while (*s == ' ')
		s++;
	size_t len = strlen(s);
	while (len && s[len - 1] == ' ')
		s[--len] = '\0';
	return s;
}

static bool bo_done(struct ui *u, struct ui_dialog *d, int button)
{
	struct bo_dialog *c = d->ctx;
	if (button != B_SAVE)
		return true;
	struct form *fm = &d->form;
	if (!form_check(fm))
		return false;
	char why[200];
	const char *zone = trimmed(d, F_TZ);
	struct tzone *z = tz_open(zone, why, sizeof why);
	if (!z) {
		form_fail(fm, F_TZ, "%s", why);
		return false;
	}
	int64_t start = 0, end = 0;
	bool ok = tz_parse(z, d->fields[F_START].value, &start, why, sizeof why);
	if (!ok)
		form_fail(fm, F_START, "%s", why);
	else if (!(ok = tz_parse(z, d->fields[F_END].value, &end, why, sizeof why)))
		form_fail(fm, F_END, "%s", why);
	else if (!(ok = end > start))
		form_fail(fm, F_END, "must be after the start (%s)", d->fields[F_START].value);
	tz_close(z);
	if (!ok)
		return false;
	int64_t mailbox = 0;
	const char *login = trimmed(d, F_MAILBOX);
	if (*login && !find_mailbox(u, login, &mailbox, why, sizeof why)) {
		form_fail(fm, F_MAILBOX, "%s", why);
		return false;
	}
	const char *site = trimmed(d, F_SITE);
	struct blackout b = {
		.id = c->id, .name = (char *)trimmed(d, F_NAME), .site = *site ? (char *)site : NULL,
		.mailbox_id = mailbox, .tz = *zone ? (char *)zone : NULL, .start_ts = start, .end_ts = end,
		.weekly = d->fields[F_WEEKLY].checked,
		.mode = d->fields[F_MODE].choice > 0 ? (char *)form_choice(&d->fields[F_MODE]) : NULL,
	};
	struct err e;
	enum st r = c->id ? store_blackout_update(u->st, &b, &e) : store_blackout_add(u->st, &b, &e);
	if (r) {
		/* The store's own words; not tied to one field. */
		snprintf(fm->error, sizeof fm->error, "%.250s", e.msg);
		fm->error_field = -1;
		return false;
	}
	struct view *v = &u->views[V_BLACKOUTS];
	v->tbl.cursor_id = b.id;
	ui_reload(u, V_BLACKOUTS);
	ui_say(u, "blackout \"%s\" %s", b.name, c->id ? "saved" : "added");
	return true;
}

static void open_dialog(struct ui *u, const struct bo_ui *x)
{
	struct ui_dialog *d = x_calloc(1, sizeof *d);
	struct bo_dialog *c = x_calloc(1, sizeof *c);
	d->ctx = c;
	d->free_ctx = free;
	d->done = bo_done;
	c->id = x ? x->id : 0;
	d->form.title = x ? "Edit blackout window" : "New blackout window";
	char start[32] = "", end[32] = "";
	if (x) {
		char why[160];
		struct tzone *z = tz_open(x->tz, why, sizeof why);
		if (!z)
			z = tz_open(NULL, why, sizeof why);
		tz_format(z, x->start, start, sizeof start, NULL, 0);
		tz_format(z, x->end, end, sizeof end, NULL, 0);
		tz_close(z);
	}
	ui_field(d, "Name", FF_TEXT, x ? x->name : "", "what the window is for, e.g. month-end close");
	ui_field(d, "Site", FF_TEXT, x ? x->site : "", "the site it applies to; empty: every site");
	ui_field(d, "Mailbox (login)", FF_TEXT, x ? x->login : "", "one mailbox only; empty: none");
	ui_field(d, "Time zone", FF_TEXT, x ? x->tz : "", "IANA name, e.g. Europe/Paris; empty: local time");
	ui_field(d, "Start", FF_DATETIME, start, "YYYY-MM-DD HH:MM in the zone above");
	ui_field(d, "End", FF_DATETIME, end, "YYYY-MM-DD HH:MM in the zone above");
	ui_field(d, "Every week", FF_BOOL, "", "repeat every week at the same wall-clock time (Space)");
	ui_field(d, "Mode", FF_CHOICE, "", "entire migration, initial (pre-staging) or final (cutover); Left/Right");
	ui_button(d, "Save", B_SAVE);
	ui_button(d, "Cancel", B_CANCEL);
	d->fields[F_NAME].required = true;
	d->fields[F_START].required = true;
	d->fields[F_END].required = true;
	d->fields[F_WEEKLY].checked = x && x->weekly;
	d->fields[F_MODE].choices = mode_choices;
	if (x && x->mode[0])
		form_set_choice(&d->fields[F_MODE], x->mode);
	ui_dialog_open(u, d);
}

/* --- actions ------------------------------------------------------------------ */

static void delete_answer(struct ui *u, bool yes, void *ctx)
{
	int64_t *id = ctx;
	struct err e;
	if (!yes)
		ui_say(u, "nothing deleted");
	else if (store_blackout_remove(u->st, *id, &e))
		ui_error(u, "%s", e.msg);
	else {
		ui_say(u, "blackout window deleted");
		ui_reload(u, V_BLACKOUTS);
	}
	free(id);
}

static bool bo_act(struct ui *u, struct view *v, enum action a, const char *arg)
{
	(void)arg;
	const struct bo_ui *x = tbl_cursor_row(&v->tbl);
	switch (a) {
	case ACT_NEW:
		open_dialog(u, NULL);
		return true;
	case ACT_OPEN: case ACT_EDIT:
		if (!x)
			ui_error(u, "no blackout window here: n adds one");
		else
			open_dialog(u, x);
		return true;
	case ACT_DELETE: {
		if (!x) {
			ui_error(u, "no blackout window here");
			return true;
		}
		int64_t *id = x_malloc(sizeof *id);
		*id = x->id;
		ui_confirm(u, delete_answer, id, "Delete blackout \"%s\" (%s)?", x->name, x->start_txt);
		return true;
	}
	default:
		return false;
	}
}

const struct view_ops view_blackouts_ops = {
	.open = bo_open, .tick = bo_tick, .act = bo_act, .close = bo_close,
	.empty = "No blackout windows: press n to add one (a time when mailboxes must not migrate).",
};
