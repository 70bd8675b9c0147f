/* blackout.c - blackout windows applied to mailboxes; see blackout.h. */
#include "config.h"

#include "blackout.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tz.h"

#define PH(p) (1 << (p))
#define ALL_PHASES (PH(BO_PHASE_WHOLE) | PH(BO_PHASE_INITIAL) | PH(BO_PHASE_FINAL))

struct bo_win {
	struct tzone *z;
	char *name;
	char *site;             /* NULL: every site (unless mailbox_id) */
	int64_t mailbox_id;
	int64_t start, end;
	bool weekly;
	int phases;             /* 0: the subject's forest mode */
	/* The last occurrence found and the times it answers for, [lo, hi):
	 * from the end of the occurrence before it to its own end (or, once a
	 * one-off window is over, from its end on), so most look-ups are free. */
	int64_t ws, we, lo, hi;
	bool cached, over;
};

struct bo_mb {
	char *key;              /* "endpoint_id\nlogin" */
	int64_t id;
	char *site;
};

struct bo_ep {
	int64_t id;
	int phases;
};

struct bo_set {
	struct bo_win *w;
	size_t nw, capw;
	struct bo_mb *mb;
	size_t nmb, capmb;
	bool mb_sorted;
	struct bo_ep *ep;
	size_t nep, capep;
};

const char *bo_phase_name(enum bo_phase p)
{
	static const char *const names[] = { "whole", "initial", "final" };
	return (unsigned)p < countof(names) ? names[p] : "?";
}

int bo_mode_phases(const char *mode)
{
	if (!mode || !*mode)
		return 0;
	if (!strcmp(mode, "entire"))
		return ALL_PHASES;
	if (!strcmp(mode, "initial"))
		return PH(BO_PHASE_WHOLE) | PH(BO_PHASE_INITIAL);
	if (!strcmp(mode, "final"))
		return PH(BO_PHASE_WHOLE) | PH(BO_PHASE_FINAL);
	return -1;
}

struct bo_set *bo_set_new(void)
{
	struct bo_set *b = x_malloc(sizeof *b);
	memset(b, 0, sizeof *b);
	return b;
}

void bo_free(struct bo_set *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->nw; i++) {
		tz_close(b->w[i].z);
		free(b->w[i].name);
		free(b->w[i].site);
	}
	free(b->w);
	for (size_t i = 0; i < b->nmb; i++) {
		free(b->mb[i].key);
		free(b->mb[i].site);
	}
	free(b->mb);
	free(b->ep);
	free(b);
}

bool bo_any(const struct bo_set *b) { return b && b->nw > 0; }

bool bo_names_mailbox(const struct bo_set *b, int64_t mailbox_id)
{
	for (size_t i = 0; i < b->nw; i++)
		if (b->w[i].mailbox_id && b->w[i].mailbox_id == mailbox_id)
			return true;
	return false;
}

enum st bo_add_window(struct bo_set *b, const struct blackout *w, struct err *e)
{
	char why[160];
	int phases = bo_mode_phases(w->mode);
	if (phases < 0)
		return err_set(e, ST_CONFIG, "blackout %s: mode '%s' is unknown (entire, initial or final)",
		               w->name ? w->name : "?", w->mode);
	struct tzone *z = tz_open(w->tz, why, sizeof why);
	if (!z)
		return err_set(e, ST_CONFIG, "blackout %s: %s", w->name ? w->name : "?", why);
	b->w = x_grow(b->w, b->nw, &b->capw, sizeof *b->w, 8);
	b->w[b->nw++] = (struct bo_win){
		.z = z, .name = x_strdup(w->name ? w->name : ""),
		.site = w->site && *w->site ? x_strdup(w->site) : NULL, .mailbox_id = w->mailbox_id,
		.start = w->start_ts, .end = w->end_ts, .weekly = w->weekly, .phases = phases,
	};
	return ST_OK;
}

void bo_add_mailbox(struct bo_set *b, int64_t endpoint_id, const char *login, int64_t mailbox_id,
                    const char *site)
{
	b->mb = x_grow(b->mb, b->nmb, &b->capmb, sizeof *b->mb, 64);
	b->mb[b->nmb++] = (struct bo_mb){ x_asprintf("%lld\n%s", (long long)endpoint_id, login), mailbox_id,
	                                  site && *site ? x_strdup(site) : NULL };
	b->mb_sorted = false;
}

void bo_set_endpoint_mode(struct bo_set *b, int64_t endpoint_id, const char *mode)
{
	int phases = bo_mode_phases(mode);
	b->ep = x_grow(b->ep, b->nep, &b->capep, sizeof *b->ep, 8);
	b->ep[b->nep++] = (struct bo_ep){ endpoint_id, phases > 0 ? phases : ALL_PHASES };
}

static int mb_cmp(const void *a, const void *b)
{
	return strcmp(((const struct bo_mb *)a)->key, ((const struct bo_mb *)b)->key);
}

void bo_subject_of(const struct bo_set *b, int64_t endpoint_id, const char *login,
                   struct bo_subject *out)
{
	*out = (struct bo_subject){ .default_phases = ALL_PHASES };
	for (size_t i = 0; i < b->nep; i++)
		if (b->ep[i].id == endpoint_id)
			out->default_phases = b->ep[i].phases;
	if (!b->nmb)
		return;
	if (!b->mb_sorted) {
		/* Sorting is a cache fill, not a change of what the set holds. */
		struct bo_set *mut = (struct bo_set *)b;
		qsort(mut->mb, mut->nmb, sizeof *mut->mb, mb_cmp);
		mut->mb_sorted = true;
	}
	char key[512];
	snprintf(key, sizeof key, "%lld\n%s", (long long)endpoint_id, login);
	struct bo_mb probe = { .key = key };
	const struct bo_mb *m = bsearch(&probe, b->mb, b->nmb, sizeof *b->mb, mb_cmp);
	if (m) {
		out->mailbox_id = m->id;
		out->site = m->site;
	}
}

/* The occurrence of w containing t or the next one after it (false: none
 * left, a one-off window that is over). */
static bool win_at(struct bo_win *w, int64_t t, int64_t *ws, int64_t *we)
{
	if (!w->cached || t < w->lo || t >= w->hi) {
		w->cached = true;
		w->over = !tz_window(w->z, w->start, w->end, w->weekly, t, &w->ws, &w->we);
		if (w->over) {
			w->lo = w->end;
			w->hi = INT64_MAX;
		} else {
			w->lo = w->weekly && w->ws > w->start ? tz_add_weeks(w->z, w->we, -1) : INT64_MIN;
			w->hi = w->we;
		}
	}
	*ws = w->ws;
	*we = w->we;
	return !w->over;
}

static bool applies(const struct bo_win *w, const struct bo_subject *m, enum bo_phase phase)
{
	int phases = w->phases ? w->phases : m->default_phases;
	if (!(phases & PH(phase)))
		return false;
	if (w->mailbox_id)
		return m->mailbox_id == w->mailbox_id;
	if (w->site)
		return m->site && !strcmp(m->site, w->site);
	return true;
}

bool bo_held(struct bo_set *b, const struct bo_subject *m, enum bo_phase phase, int64_t t,
             int64_t *until, const char **name)
{
	int64_t at = t;
	const char *first = NULL;
	/* Chained windows: leaving one may land inside another.  Each round
	 * moves past at least one occurrence; a week of back-to-back weekly
	 * windows ends within nw rounds, so the bound only stops a set that
	 * covers all time (reported as held until the last point reached). */
	for (size_t round = 0; round <= b->nw + 1; round++) {
		bool moved = false;
		for (size_t i = 0; i < b->nw; i++) {
			struct bo_win *w = &b->w[i];
			if (!applies(w, m, phase))
				continue;
			int64_t ws, we;
			if (win_at(w, at, &ws, &we) && ws <= at && at < we) {
				if (!first)
					first = w->name;
				at = we;
				moved = true;
			}
		}
		if (!moved)
			break;
	}
	if (!first)
		return false;
	if (until)
		*until = at;
	if (name)
		*name = first;
	return true;
}

int64_t bo_next_hold(struct bo_set *b, const struct bo_subject *m, enum bo_phase phase, int64_t t,
                     const char **name)
{
	int64_t best = INT64_MAX;
	const char *best_name = NULL;
	for (size_t i = 0; i < b->nw; i++) {
		struct bo_win *w = &b->w[i];
		if (!applies(w, m, phase))
			continue;
		int64_t ws, we;
		if (!win_at(w, t, &ws, &we))
			continue;
		int64_t from = ws <= t ? t : ws;
		if (from < best) {
			best = from;
			best_name = w->name;
		}
	}
	if (name)
		*name = best_name;
	return best;
}

/* --- loading from the store ---------------------------------------------------- */

struct load_ctx {
	struct bo_set *b;
	struct err *e;
	enum st r;
	bool need_mailboxes;
	struct { int64_t id; char *mode; } *forests;
	size_t nf, capf;
};

static void put_window(void *ctx, const struct blackout *w)
{
	struct load_ctx *c = ctx;
	if (c->r)
		return;
	c->r = bo_add_window(c->b, w, c->e);
	if (w->mailbox_id || (w->site && *w->site))
		c->need_mailboxes = true;
}

static void put_forest(void *ctx, const struct forest *f)
{
	struct load_ctx *c = ctx;
	c->forests = x_grow(c->forests, c->nf, &c->capf, sizeof *c->forests, 4);
	c->forests[c->nf].id = f->id;
	c->forests[c->nf].mode = f->blackout_mode ? x_strdup(f->blackout_mode) : NULL;
	c->nf++;
}

static void put_endpoint(void *ctx, const struct endpoint *ep)
{
	struct load_ctx *c = ctx;
	const char *mode = NULL;
	for (size_t i = 0; i < c->nf; i++)
		if (c->forests[i].id == ep->forest_id)
			mode = c->forests[i].mode;
	bo_set_endpoint_mode(c->b, ep->id, mode);
}

static void put_mailbox(void *ctx, const struct mailbox_row *r)
{
	struct load_ctx *c = ctx;
	bo_add_mailbox(c->b, r->endpoint_id, r->login, r->id, r->site);
}

enum st bo_load(struct store *s, struct bo_set **out, struct err *e)
{
	struct load_ctx c = { .b = bo_set_new(), .e = e };
	enum st r = store_blackout_each(s, put_window, &c, e);
	if (!r)
		r = c.r;
	if (!r && c.b->nw)
		r = store_forest_each(s, put_forest, &c, e);
	if (!r && c.b->nw)
		r = store_endpoint_each(s, put_endpoint, &c, e);
	if (!r && c.need_mailboxes)
		r = store_mailbox_rows(s, 0, 0, put_mailbox, &c, NULL, e);
	for (size_t i = 0; i < c.nf; i++)
		free(c.forests[i].mode);
	free(c.forests);
	if (r) {
		err_prefix(e, "reading the blackout times");
		bo_free(c.b);
		*out = NULL;
		return r;
	}
	*out = c.b;
	return ST_OK;
}
