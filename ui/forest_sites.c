/* forest_sites.c - the Forests view's Sites and Licenses tabs (read only):
 * the selected forest's mailboxes by site, with their size and the time
 * zone of the site's blackout windows, and by kind, for the licenses an
 * Office 365 tenant would need.  Read from the store when a forest is
 * first shown and every few seconds after (one GROUP BY query). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forests.h"
#include "ui.h"

#define SITES_REFRESH_MS 3000
#define SITES_MAX 200

struct site_info {
	struct site_row r;
	char site[128];
	char tz[160];           /* zones of its blackout windows, "" none */
};

struct forest_sites {
	int64_t forest_id;
	int64_t read_ms;
	struct site_info *v;
	size_t n;
	bool cut;               /* more sites than SITES_MAX: the first ones shown */
	char err[sizeof(struct err){ 0 }.msg];
};

struct forest_sites *forest_sites_new(void)
{
	return x_calloc(1, sizeof(struct forest_sites));
}

void forest_sites_free(struct forest_sites *s)
{
	if (!s)
		return;
	free(s->v);
	free(s);
}

static void note_site(void *ctx, const struct site_row *r)
{
	struct forest_sites *s = ctx;
	if (s->n >= SITES_MAX) {
		s->cut = true;
		return;
	}
	struct site_info *x = &s->v[s->n++];
	x->r = *r;
	snprintf(x->site, sizeof x->site, "%s", r->site);
	x->r.site = x->site;
	x->tz[0] = '\0';
}

/* A site's time zone is that of its blackout windows (blackout add --site
 * S --tz ZONE); several zones are listed. */
static void note_window(void *ctx, const struct blackout *b)
{
	struct forest_sites *s = ctx;
	if (!b->site)
		return;
	const char *tz = b->tz && *b->tz ? b->tz : "local";
	for (size_t i = 0; i < s->n; i++) {
		struct site_info *x = &s->v[i];
		if (strcmp(x->site, b->site) || strstr(x->tz, tz))
			continue;
		size_t k = strlen(x->tz);
		snprintf(x->tz + k, sizeof x->tz - k, "%s%s", k ? ", " : "", tz);
	}
}

static void sites_read(struct ui *u, struct forest_sites *s, int64_t forest_id)
{
	int64_t now = clock_mono_ms();
	if (s->forest_id == forest_id && now - s->read_ms < SITES_REFRESH_MS)
		return;
	s->forest_id = forest_id;
	s->read_ms = now;
	s->n = 0;
	s->cut = false;
	s->err[0] = '\0';
	if (!s->v)
		s->v = x_calloc(SITES_MAX, sizeof *s->v);
	struct err e;
	if (store_site_each(u->st, forest_id, note_site, s, &e) || store_blackout_each(u->st, note_window, s, &e))
		snprintf(s->err, sizeof s->err, "%s", e.msg);
}

static void draw_sites(struct ui *u, const struct forest_sites *s, int y, int h, int w)
{
	attron(ui_attr(u, C_HEADER));
	mvhline(y, 0, ' ', w);
	int tzw = w - 2 - 30 - 11 - 11 - 2;
	draw_cell(y, 2, 29, "SITE", false);
	draw_cell(y, 32, 10, "MAILBOXES", true);
	draw_cell(y, 43, 10, "SIZE", true);
	draw_cell(y, 55, tzw, "TIME ZONE (blackout windows)", false);
	attroff(ui_attr(u, C_HEADER));
	int line = 1;
	for (size_t i = 0; i < s->n && line < h - 1; i++, line++) {
		const struct site_info *x = &s->v[i];
		char n[32], b[32];
		fmt_count(x->r.mailboxes, n, sizeof n);
		txt_bytes(x->r.bytes, b, sizeof b);
		draw_cell(y + line, 2, 29, x->site[0] ? x->site : "(no site)", false);
		draw_cell(y + line, 32, 10, n, true);
		draw_cell(y + line, 43, 10, b, true);
		draw_cell(y + line, 55, tzw, x->tz[0] ? x->tz : "-", false);
	}
	const char *foot = s->err[0] ? s->err
	                   : !s->n ? "No mailbox yet: R reads them from the directory (or mailbox import)."
	                   : s->cut ? "The first 200 sites (by name); the Summary view counts them all."
	                   : "A site's time zone is its blackout windows' (blackout add NAME --site S --tz ZONE).";
	if (line < h)
		draw_cell(y + line, 2, w - 4, foot, false);
}

/* Exchange Online needs a license for a user mailbox; shared (up to 50 GB),
 * room and equipment mailboxes need none. */
static void draw_licenses(const struct forest_sites *s, const struct forest *f, int y, int h, int w)
{
	int64_t user = 0, shared = 0, room = 0, equipment = 0;
	for (size_t i = 0; i < s->n; i++) {
		user += s->v[i].r.user;
		shared += s->v[i].r.shared;
		room += s->v[i].r.room;
		equipment += s->v[i].r.equipment;
	}
	char b[300], n[32];
	bool tenant = f->role && !strcmp(f->role, "tenant");
	const char *lines[][2] = {
		{ "User mailboxes", "need a license each" },
		{ "Shared mailboxes", "need none (up to 50 GB without an archive)" },
		{ "Room mailboxes", "need none" },
		{ "Equipment mailboxes", "need none" },
	};
	const int64_t counts[] = { user, shared, room, equipment };
	for (int i = 0; i < 4 && i < h; i++) {
		fmt_count(counts[i], n, sizeof n);
		snprintf(b, sizeof b, "%s: %s", n, lines[i][1]);
		draw_cell(y + i, 2, 24, lines[i][0], false);
		draw_cell(y + i, 27, w - 28, b, false);
	}
	if (h > 5) {
		snprintf(b, sizeof b, tenant ? "Assign %lld Exchange Online licenses in the tenant before the users' "
		                               "migration (IMAP needs no license of its own)."
		                             : "Migrating %lld users to an Office 365 tenant needs as many Exchange Online "
		                               "licenses; IMAP targets need none.", (long long)user);
		draw_cell(y + 5, 2, w - 4, b, false);
	}
}

void forest_sites_draw(struct ui *u, struct forest_sites *s, const struct forest *f, bool licenses, int y, int h,
                       int w)
{
	sites_read(u, s, f->id);
	if (licenses)
		draw_licenses(s, f, y, h, w);
	else
		draw_sites(u, s, y, h, w);
}
