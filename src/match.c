/* match.c - source to target identity matching; see match.h. */
#include "config.h"

#include "match.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

static const char *const by_names[MATCH__COUNT] = { "address", "proxy", "upn", "login", "key" };
static const enum match_by default_by[] = { MATCH_ADDRESS, MATCH_PROXY, MATCH_UPN };

const char *match_by_name(enum match_by b)
{
	return b < MATCH__COUNT ? by_names[b] : "?";
}

bool match_by_parse(const char *s, enum match_by *out)
{
	for (int i = 0; i < MATCH__COUNT; i++)
		if (s && !strcasecmp(s, by_names[i])) {
			*out = (enum match_by)i;
			return true;
		}
	return false;
}

const char *match_state_name(enum match_state s)
{
	return s == MATCH_MATCHED ? "matched" : s == MATCH_CONFLICT ? "conflict" : "unmatched";
}

/* --- normalising ------------------------------------------------------------ */

char *match_lower(const char *s)
{
	if (!s)
		return NULL;
	s += strspn(s, " \t\r\n");
	size_t n = strlen(s);
	while (n && strchr(" \t\r\n", s[n - 1]))
		n--;
	if (!n)
		return NULL;
	char *out = x_strndup(s, n);
	for (char *p = out; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return out;
}

/* Whether line (n bytes) is already in the newline-separated list. */
static bool in_list(const char *list, size_t len, const char *v, size_t n)
{
	for (size_t i = 0; i < len;) {
		size_t l = strcspn(list + i, "\n");
		if (l == n && !memcmp(list + i, v, n))
			return true;
		i += l + 1;
	}
	return false;
}

/* One value of an address list, lower case without its "smtp:" prefix
 * (owned); NULL when empty or of another type. */
static char *one_address(const char *v, size_t n)
{
	char *raw = x_strndup(v, n);
	char *low = match_lower(raw);
	free(raw);
	if (!low)
		return NULL;
	char *colon = strchr(low, ':'), *at = strchr(low, '@');
	if (colon && (!at || colon < at)) {
		if (colon - low != 4 || strncmp(low, "smtp", 4) || !colon[1]) {
			free(low);
			return NULL;
		}
		memmove(low, colon + 1, strlen(colon + 1) + 1);
	}
	return low;
}

char *match_addresses_norm(const char *list, const char *seps)
{
	struct sbuf out;
	sb_init(&out);
	for (const char *p = list ? list : ""; *p;) {
		size_t n = strcspn(p, seps);
		char *a = one_address(p, n);
		if (a && !in_list(out.data ? out.data : "", out.len, a, strlen(a))) {
			if (out.len)
				sb_addc(&out, '\n');
			sb_adds(&out, a);
		}
		free(a);
		p += n + (p[n] != '\0');
	}
	if (!out.len) {
		sb_free(&out);
		return NULL;
	}
	return out.data;
}

/* --- the run ------------------------------------------------------------------ */

/* A mailbox and the strings its public view points at (owned). */
struct mbox {
	struct match_box pub;
	char *s[7];
};

/* One key of a target: (by, key) -> targets[box]. */
struct kent {
	enum match_by by;
	char *key;                  /* owned */
	size_t box;
};

/* A candidate of source src: target box through (by, key). */
struct cand {
	size_t src, box;
	enum match_by by;
	const char *key;            /* a kent's key */
};

struct mrun {
	struct store *st;
	int64_t src_forest, dst_forest;
	bool use[MATCH__COUNT];
	const enum match_by *by;
	size_t nby;
	struct mbox *src, *dst;
	size_t nsrc, capsrc, ndst, capdst;
	int64_t *gone;              /* vanished source mailboxes: results cleared */
	size_t ngone, capgone;
	struct kent *keys;
	size_t nkeys, capkeys;
	struct cand *cands;         /* grouped by src, in criterion order */
	size_t ncands, capcands;
	size_t *first, *count;      /* per source: its range in cands */
	struct cand *claims;        /* cands sorted by target box */
};

static void box_copy(struct mbox *b, const struct mailbox_row *r)
{
	memset(b, 0, sizeof *b);
	const char *v[7] = { r->endpoint, r->login, r->display_name, r->address, r->upn,
	                     r->proxy_addresses, r->dir_key };
	for (int i = 0; i < 7; i++)
		b->s[i] = v[i] ? x_strdup(v[i]) : NULL;
	b->pub = (struct match_box){ .id = r->id, .endpoint = b->s[0], .login = b->s[1],
	                             .display_name = b->s[2], .address = b->s[3], .upn = b->s[4],
	                             .proxies = b->s[5], .key = b->s[6] };
}

static void take_src(void *ctx, const struct mailbox_row *r)
{
	struct mrun *m = ctx;
	if (r->vanished) {
		m->gone = x_grow(m->gone, m->ngone, &m->capgone, sizeof *m->gone, 64);
		m->gone[m->ngone++] = r->id;
		return;
	}
	m->src = x_grow(m->src, m->nsrc, &m->capsrc, sizeof *m->src, 256);
	box_copy(&m->src[m->nsrc++], r);
}

static void take_dst(void *ctx, const struct mailbox_row *r)
{
	struct mrun *m = ctx;
	if (r->vanished)
		return;
	m->dst = x_grow(m->dst, m->ndst, &m->capdst, sizeof *m->dst, 256);
	box_copy(&m->dst[m->ndst++], r);
}

/* Calls fn for every key of box b under criterion by (lower case,
 * owned by fn's caller only during the call). */
static void each_key(const struct match_box *b, enum match_by by,
                     void (*fn)(void *ctx, enum match_by by, const char *key), void *ctx)
{
	char *k = NULL;
	switch (by) {
	case MATCH_ADDRESS: k = match_lower(b->address); break;
	case MATCH_UPN: k = match_lower(b->upn); break;
	case MATCH_LOGIN: k = match_lower(b->login); break;
	case MATCH_KEY: k = match_lower(b->key); break;
	case MATCH_PROXY: {
		char *both = x_asprintf("%s\n%s", b->address ? b->address : "", b->proxies ? b->proxies : "");
		char *all = match_addresses_norm(both, "\n");
		free(both);
		for (const char *p = all ? all : ""; *p;) {
			size_t n = strcspn(p, "\n");
			char *one = x_strndup(p, n);
			fn(ctx, by, one);
			free(one);
			p += n + (p[n] != '\0');
		}
		free(all);
		return;
	}
	default: return;
	}
	if (k)
		fn(ctx, by, k);
	free(k);
}

struct key_sink { struct mrun *m; size_t box; };

static void add_kent(void *ctx, enum match_by by, const char *key)
{
	struct key_sink *k = ctx;
	struct mrun *m = k->m;
	m->keys = x_grow(m->keys, m->nkeys, &m->capkeys, sizeof *m->keys, 1024);
	m->keys[m->nkeys++] = (struct kent){ by, x_strdup(key), k->box };
}

static int cmp_kent(const void *a, const void *b)
{
	const struct kent *x = a, *y = b;
	if (x->by != y->by)
		return x->by < y->by ? -1 : 1;
	int c = strcmp(x->key, y->key);
	return c ? c : (x->box > y->box) - (x->box < y->box);
}

static void index_targets(struct mrun *m)
{
	for (size_t i = 0; i < m->ndst; i++)
		for (int by = 0; by < MATCH__COUNT; by++)
			if (m->use[by]) {
				struct key_sink k = { m, i };
				each_key(&m->dst[i].pub, (enum match_by)by, add_kent, &k);
			}
	qsort(m->keys, m->nkeys, sizeof *m->keys, cmp_kent);
}

/* The first index entry with (by, key), or nkeys. */
static size_t lower_bound(const struct mrun *m, enum match_by by, const char *key)
{
	size_t lo = 0, hi = m->nkeys;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct kent *k = &m->keys[mid];
		int c = k->by != by ? (k->by < by ? -1 : 1) : strcmp(k->key, key);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct cand_sink { struct mrun *m; size_t src; };

/* Every target with (by, key) becomes a candidate of the source, unless it
 * already is one (through an earlier key). */
static void add_cands(void *ctx, enum match_by by, const char *key)
{
	struct cand_sink *c = ctx;
	struct mrun *m = c->m;
	for (size_t i = lower_bound(m, by, key);
	     i < m->nkeys && m->keys[i].by == by && !strcmp(m->keys[i].key, key); i++) {
		size_t box = m->keys[i].box, j = m->first[c->src];
		while (j < m->ncands && m->cands[j].box != box)
			j++;
		if (j < m->ncands)
			continue;
		m->cands = x_grow(m->cands, m->ncands, &m->capcands, sizeof *m->cands, 1024);
		m->cands[m->ncands++] = (struct cand){ c->src, box, by, m->keys[i].key };
	}
}

static int cmp_claim(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->box != y->box)
		return x->box < y->box ? -1 : 1;
	return (x->src > y->src) - (x->src < y->src);
}

static void find_candidates(struct mrun *m)
{
	m->first = x_calloc(m->nsrc + 1, sizeof *m->first);
	m->count = x_calloc(m->nsrc + 1, sizeof *m->count);
	for (size_t i = 0; i < m->nsrc; i++) {
		m->first[i] = m->ncands;
		struct cand_sink c = { m, i };
		for (size_t b = 0; b < m->nby; b++)
			each_key(&m->src[i].pub, m->by[b], add_cands, &c);
		m->count[i] = m->ncands - m->first[i];
	}
	m->claims = x_malloc((m->ncands + 1) * sizeof *m->claims);
	if (m->ncands)
		memcpy(m->claims, m->cands, m->ncands * sizeof *m->cands);
	qsort(m->claims, m->ncands, sizeof *m->claims, cmp_claim);
}

/* The range of claims on target box. */
static size_t claims_of(const struct mrun *m, size_t box, size_t *n)
{
	size_t lo = 0, hi = m->ncands;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->claims[mid].box < box)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t end = lo;
	while (end < m->ncands && m->claims[end].box == box)
		end++;
	*n = end - lo;
	return lo;
}

static struct match_link link_of(const struct mrun *m, const struct cand *c, bool rival)
{
	return (struct match_link){ rival ? &m->src[c->src].pub : &m->dst[c->box].pub, c->by, c->key };
}

/* The result of source i; r->targets and r->rivals point into arrays the
 * caller frees. */
static void decide(const struct mrun *m, size_t i, struct match_result *r, struct match_link **t,
                   struct match_link **rv)
{
	size_t n = m->count[i];
	*t = x_calloc(n + 1, sizeof **t);
	*rv = NULL;
	for (size_t k = 0; k < n; k++)
		(*t)[k] = link_of(m, &m->cands[m->first[i] + k], false);
	*r = (struct match_result){ .src = &m->src[i].pub, .targets = *t, .ntargets = n };
	r->state = n == 0 ? MATCH_UNMATCHED : n > 1 ? MATCH_CONFLICT : MATCH_MATCHED;
	if (n != 1)
		return;
	size_t nc, at = claims_of(m, m->cands[m->first[i]].box, &nc);
	if (nc < 2)
		return;
	*rv = x_calloc(nc, sizeof **rv);
	for (size_t k = 0; k < nc; k++)
		if (m->claims[at + k].src != i)
			(*rv)[r->nrivals++] = link_of(m, &m->claims[at + k], true);
	r->rivals = *rv;
	r->state = MATCH_CONFLICT;
}

/* What the store keeps as the result's key (owned): "address a@b" when
 * matched; the links otherwise. */
static char *result_key(const struct match_result *r)
{
	if (r->state == MATCH_UNMATCHED)
		return NULL;
	struct sbuf b;
	sb_init(&b);
	for (size_t k = 0; k < r->ntargets; k++)
		sb_printf(&b, "%s%s %s%s%s", k ? "; " : "", match_by_name(r->targets[k].by),
		          r->targets[k].key, r->state == MATCH_CONFLICT ? " -> " : "",
		          r->state == MATCH_CONFLICT ? r->targets[k].box->login : "");
	for (size_t k = 0; k < r->nrivals; k++)
		sb_printf(&b, "; also claimed by %s (%s %s)", r->rivals[k].box->login,
		          match_by_name(r->rivals[k].by), r->rivals[k].key);
	return b.data;
}

static enum st write_result(struct mrun *m, const struct match_result *r, struct err *e)
{
	char *key = result_key(r);
	int64_t dst = r->state == MATCH_MATCHED ? r->targets[0].box->id : 0;
	enum st s = store_match_set(m->st, r->src->id, dst, match_state_name(r->state), key, e);
	free(key);
	return s;
}

/* Decides, writes and reports every source mailbox in one transaction;
 * fn runs after the commit. */
static enum st settle(struct mrun *m, void (*fn)(void *ctx, const struct match_result *r),
                      void *ctx, struct match_counts *out, struct err *e)
{
	enum st s = store_begin(m->st, e);
	for (size_t i = 0; i < m->ngone && !s; i++)
		s = store_match_set(m->st, m->gone[i], 0, NULL, NULL, e);
	for (size_t i = 0; i < m->nsrc && !s; i++) {
		struct match_result r;
		struct match_link *t, *rv;
		decide(m, i, &r, &t, &rv);
		s = write_result(m, &r, e);
		out->matched += r.state == MATCH_MATCHED;
		out->conflicts += r.state == MATCH_CONFLICT;
		out->unmatched += r.state == MATCH_UNMATCHED;
		free(t);
		free(rv);
	}
	if (s) {
		store_rollback(m->st);
		return s;
	}
	if ((s = store_commit(m->st, e)) || !fn)
		return s;
	for (size_t i = 0; i < m->nsrc; i++) {
		struct match_result r;
		struct match_link *t, *rv;
		decide(m, i, &r, &t, &rv);
		fn(ctx, &r);
		free(t);
		free(rv);
	}
	return ST_OK;
}

static void boxes_free(struct mbox *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < (int)countof(b[i].s); k++)
			free(b[i].s[k]);
	free(b);
}

static void mrun_free(struct mrun *m)
{
	boxes_free(m->src, m->nsrc);
	boxes_free(m->dst, m->ndst);
	for (size_t i = 0; i < m->nkeys; i++)
		free(m->keys[i].key);
	free(m->keys);
	free(m->gone);
	free(m->cands);
	free(m->claims);
	free(m->first);
	free(m->count);
}

enum st match_forests(struct store *st, int64_t src_forest, int64_t dst_forest,
                      const enum match_by *by, size_t nby,
                      void (*fn)(void *ctx, const struct match_result *r), void *ctx,
                      struct match_counts *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	if (src_forest == dst_forest)
		return err_set(e, ST_CONFIG, "a forest cannot be matched to itself");
	if (!nby) {
		by = default_by;
		nby = countof(default_by);
	}
	struct mrun m = { .st = st, .src_forest = src_forest, .dst_forest = dst_forest, .by = by,
	                  .nby = nby };
	for (size_t i = 0; i < nby; i++)
		m.use[by[i]] = true;
	enum st s = store_mailbox_rows(st, src_forest, 0, take_src, &m, NULL, e);
	if (!s)
		s = store_mailbox_rows(st, dst_forest, 0, take_dst, &m, NULL, e);
	if (!s) {
		out->sources = (int64_t)m.nsrc;
		out->targets = (int64_t)m.ndst;
		index_targets(&m);
		find_candidates(&m);
		s = settle(&m, fn, ctx, out, e);
	}
	log_info("match: %lld source and %lld target mailboxes: %lld matched, %lld conflicts, "
	         "%lld unmatched", (long long)out->sources, (long long)out->targets,
	         (long long)out->matched, (long long)out->conflicts, (long long)out->unmatched);
	mrun_free(&m);
	return s;
}
