/* tbl.c - rows of a console view: filter, sort, group, cursor, selection.
 * See tbl.h. */
#include "config.h"

#include "tbl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"

/* --- id map: open addressing, linear probing ---------------------------- */

#define EMPTY_KEY INT64_MIN

static size_t hash_id(int64_t id, size_t cap)
{
	uint64_t x = (uint64_t)id * 0x9E3779B97F4A7C15ull;
	return (size_t)(x >> 17) & (cap - 1);
}

static void idmap_free(struct tbl_idmap *m)
{
	free(m->keys);
	free(m->vals);
	*m = (struct tbl_idmap){ 0 };
}

static void idmap_clear(struct tbl_idmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		m->keys[i] = EMPTY_KEY;
	m->n = 0;
}

static void idmap_put(struct tbl_idmap *m, int64_t id, uint32_t val);

static void idmap_grow(struct tbl_idmap *m)
{
	struct tbl_idmap old = *m;
	m->cap = old.cap ? old.cap * 2 : 64;
	m->keys = x_malloc(m->cap * sizeof *m->keys);
	m->vals = x_malloc(m->cap * sizeof *m->vals);
	idmap_clear(m);
	for (size_t i = 0; i < old.cap; i++)
		if (old.keys[i] != EMPTY_KEY)
			idmap_put(m, old.keys[i], old.vals[i]);
	free(old.keys);
	free(old.vals);
}

static void idmap_put(struct tbl_idmap *m, int64_t id, uint32_t val)
{
	if ((m->n + 1) * 2 > m->cap)
		idmap_grow(m);
	size_t i = hash_id(id, m->cap);
	while (m->keys[i] != EMPTY_KEY && m->keys[i] != id)
		i = (i + 1) & (m->cap - 1);
	if (m->keys[i] == EMPTY_KEY)
		m->n++;
	m->keys[i] = id;
	m->vals[i] = val;
}

static bool idmap_get(const struct tbl_idmap *m, int64_t id, uint32_t *val)
{
	if (!m->cap)
		return false;
	size_t i = hash_id(id, m->cap);
	while (m->keys[i] != EMPTY_KEY) {
		if (m->keys[i] == id) {
			if (val)
				*val = m->vals[i];
			return true;
		}
		i = (i + 1) & (m->cap - 1);
	}
	return false;
}

/* Deletion without tombstones: re-insert the rest of the probe run. */
static void idmap_del(struct tbl_idmap *m, int64_t id)
{
	if (!m->cap)
		return;
	size_t i = hash_id(id, m->cap);
	while (m->keys[i] != EMPTY_KEY && m->keys[i] != id)
		i = (i + 1) & (m->cap - 1);
	if (m->keys[i] == EMPTY_KEY)
		return;
	m->keys[i] = EMPTY_KEY;
	m->n--;
	for (size_t j = (i + 1) & (m->cap - 1); m->keys[j] != EMPTY_KEY; j = (j + 1) & (m->cap - 1)) {
		int64_t k = m->keys[j];
		uint32_t v = m->vals[j];
		m->keys[j] = EMPTY_KEY;
		m->n--;
		idmap_put(m, k, v);
	}
}

/* --- rows ------------------------------------------------------------------ */

static void *row_at(const struct tbl *t, size_t i)
{
	return t->rows + i * t->ops->row_size;
}

void tbl_init(struct tbl *t, const struct tbl_ops *ops)
{
	*t = (struct tbl){ .ops = ops, .sort_col = ops->default_sort, .group_col = -1, .cursor_id = -1 };
}

void tbl_clear(struct tbl *t)
{
	if (t->ops->row_free)
		for (size_t i = 0; i < t->n; i++)
			t->ops->row_free(row_at(t, i));
	t->n = 0;
	idmap_clear(&t->index);
	t->nvis = 0;
	t->changed = true;
}

static void groups_clear(struct tbl *t)
{
	for (size_t i = 0; i < t->ngroups; i++)
		free(t->groups[i].key);
	t->ngroups = 0;
}

void tbl_free(struct tbl *t)
{
	tbl_clear(t);
	groups_clear(t);
	free(t->groups);
	free(t->rows);
	free(t->vis);
	free(t->cursor_group);
	idmap_free(&t->index);
	idmap_free(&t->sel);
	*t = (struct tbl){ 0 };
}

void *tbl_find(const struct tbl *t, int64_t id)
{
	uint32_t i;
	return idmap_get(&t->index, id, &i) ? row_at(t, i) : NULL;
}

void *tbl_upsert(struct tbl *t, int64_t id)
{
	size_t sz = t->ops->row_size;
	uint32_t i;
	t->changed = true;
	if (idmap_get(&t->index, id, &i)) {
		void *r = row_at(t, i);
		if (t->ops->row_free)
			t->ops->row_free(r);
		memset(r, 0, sz);
		return r;
	}
	t->rows = x_grow(t->rows, t->n, &t->cap, sz, 256);
	void *r = row_at(t, t->n);
	memset(r, 0, sz);
	idmap_put(&t->index, id, (uint32_t)t->n);
	t->n++;
	return r;
}

/* The last row moves into the hole, so positions stay dense. */
void tbl_remove(struct tbl *t, int64_t id)
{
	uint32_t i;
	if (!idmap_get(&t->index, id, &i))
		return;
	size_t sz = t->ops->row_size;
	if (t->ops->row_free)
		t->ops->row_free(row_at(t, i));
	idmap_del(&t->index, id);
	idmap_del(&t->sel, id);
	size_t last = t->n - 1;
	if (i != last) {
		memcpy(row_at(t, i), row_at(t, last), sz);
		idmap_put(&t->index, t->ops->id(row_at(t, i)), i);
	}
	t->n--;
	t->nvis = 0;            /* vis held positions: arrange again */
	t->changed = true;
}

/* --- text and search -------------------------------------------------------- */

void tbl_cell(const struct tbl *t, const void *row, int col, char *buf, size_t n)
{
	buf[0] = '\0';
	if (col >= 0 && col < t->ops->ncols && t->ops->cols[col].text)
		t->ops->cols[col].text(row, buf, n);
}

bool tbl_contains(const char *hay, const char *needle)
{
	if (!needle[0])
		return true;
	if (!hay)
		return false;
	for (; *hay; hay++) {
		size_t k = 0;
		while (needle[k]) {
			char c = hay[k];
			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			if (c != needle[k])
				break;
			k++;
		}
		if (!needle[k])
			return true;
	}
	return false;
}

static bool row_matches(const struct tbl *t, const void *row)
{
	if (t->filter && !t->filter(row, t->filter_ctx))
		return false;
	if (!t->needle[0])
		return true;
	if (t->ops->match)
		return t->ops->match(row, t->needle);
	char buf[512];
	for (int c = 0; c < t->ops->ncols; c++) {
		tbl_cell(t, row, c, buf, sizeof buf);
		if (tbl_contains(buf, t->needle))
			return true;
	}
	return false;
}

/* --- arranging ----------------------------------------------------------------- */

/* qsort has no context argument in C11: the table being sorted and the
 * keys made for it live here for the duration of one sort (UI thread). */
static struct {
	const struct tbl *t;
	char **sort_keys;       /* cell text per row position, when the column has no cmp */
	uint32_t *group_rank;   /* per row position: its group's place in the group order */
	char **rep_keys;        /* group column text, while the groups are ordered */
} sorting;

/* The text buffers behind the keys of one arrange (freed at its end). */
static char *keys_buffer;

static int cmp_col(const struct tbl *t, int col, char **keys, uint32_t a, uint32_t b)
{
	const struct tbl_col *c = &t->ops->cols[col];
	if (c->cmp)
		return c->cmp(row_at(t, a), row_at(t, b));
	return strcmp(keys[a], keys[b]);
}

static int cmp_vis(const void *pa, const void *pb)
{
	const struct tbl *t = sorting.t;
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	int r = 0;
	if (t->group_col >= 0)
		r = sorting.group_rank[a] < sorting.group_rank[b] ? -1 : sorting.group_rank[a] > sorting.group_rank[b];
	if (!r && t->sort_col >= 0) {
		r = cmp_col(t, t->sort_col, sorting.sort_keys, a, b);
		if (t->sort_desc)
			r = -r;
	}
	if (!r)
		r = a < b ? -1 : a > b;     /* stable: load order breaks ties */
	return r;
}

/* The cell text of column col for the candidate rows, indexed by row
 * position: all in one buffer (100 000 small allocations would cost more
 * than the sort). */
static char **make_keys(const struct tbl *t, int col, const uint32_t *pos, size_t n)
{
	char **keys = x_calloc(t->n ? t->n : 1, sizeof *keys);
	size_t *off = x_malloc((n ? n : 1) * sizeof *off);
	struct sbuf b;
	sb_init(&b);
	char buf[512];
	for (size_t i = 0; i < n; i++) {
		tbl_cell(t, row_at(t, pos[i]), col, buf, sizeof buf);
		off[i] = b.len;
		sb_add(&b, buf, strlen(buf) + 1);
	}
	/* The buffer is handed back through keys_buffer; the caller frees it. */
	for (size_t i = 0; i < n; i++)
		keys[pos[i]] = b.data + off[i];
	keys_buffer = b.data;
	free(off);
	return keys;
}

static void free_keys(const struct tbl *t, char **keys)
{
	(void)t;
	free(keys);
}

static int cmp_rep(const void *pa, const void *pb)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	return cmp_col(sorting.t, sorting.t->group_col, sorting.rep_keys, a, b);
}

static uint32_t hash_text(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Each candidate's group as a rank in the group column's order, indexed
 * by row position, so that sorting compares integers: the distinct values
 * are found through a hash of the cell text, and only they are ordered. */
static uint32_t *group_ranks(const struct tbl *t, const uint32_t *c, size_t nc)
{
	keys_buffer = NULL;
	char **keys = make_keys(t, t->group_col, c, nc);
	char *buf = keys_buffer;
	keys_buffer = NULL;
	size_t cap = 16;
	while (cap < nc * 2)
		cap *= 2;
	uint32_t *slot = x_calloc(cap, sizeof *slot);      /* representative index + 1 */
	uint32_t *reps = x_malloc((nc ? nc : 1) * sizeof *reps);   /* a row position per group */
	uint32_t *group = x_malloc((t->n ? t->n : 1) * sizeof *group);
	size_t nreps = 0;
	for (size_t i = 0; i < nc; i++) {
		const char *k = keys[c[i]];
		size_t j = hash_text(k) & (cap - 1);
		while (slot[j] && strcmp(keys[reps[slot[j] - 1]], k) != 0)
			j = (j + 1) & (cap - 1);
		if (!slot[j]) {
			reps[nreps] = c[i];
			slot[j] = (uint32_t)++nreps;
		}
		group[c[i]] = slot[j] - 1;
	}
	/* Order the groups by the column (its cmp, else the text). */
	uint32_t *order = x_malloc((nreps ? nreps : 1) * sizeof *order);
	memcpy(order, reps, nreps * sizeof *order);
	sorting.rep_keys = keys;
	qsort(order, nreps, sizeof *order, cmp_rep);
	uint32_t *rank_of = x_malloc((t->n ? t->n : 1) * sizeof *rank_of);
	for (size_t r = 0; r < nreps; r++)
		rank_of[order[r]] = (uint32_t)r;            /* indexed by the representative's position */
	uint32_t *rank = x_malloc((t->n ? t->n : 1) * sizeof *rank);
	for (size_t i = 0; i < nc; i++)
		rank[c[i]] = rank_of[reps[group[c[i]]]];
	sorting.rep_keys = NULL;
	free(rank_of);
	free(order);
	free(group);
	free(reps);
	free(slot);
	free(keys);
	free(buf);
	return rank;
}

/* Candidates: when the search only grew longer and no row changed, the
 * rows shown now are the only ones that can still match. */
static uint32_t *candidates(struct tbl *t, size_t *n)
{
	bool narrowing = !t->changed && t->nvis && t->prev_needle[0] &&
	                 strncmp(t->needle, t->prev_needle, strlen(t->prev_needle)) == 0;
	uint32_t *c = x_malloc((t->n ? t->n : 1) * sizeof *c);
	size_t k = 0;
	if (narrowing) {
		for (size_t i = 0; i < t->nvis; i++)
			if (!(t->vis[i] & TBL_HEADER))
				c[k++] = t->vis[i];
	} else {
		for (size_t i = 0; i < t->n; i++)
			c[k++] = (uint32_t)i;
	}
	*n = k;
	return c;
}

static void remember_cursor(struct tbl *t)
{
	if (t->cursor >= t->nvis)
		return;
	uint32_t v = t->vis[t->cursor];
	free(t->cursor_group);
	t->cursor_group = NULL;
	if (v & TBL_HEADER) {
		t->cursor_group = x_strdup(t->groups[v & ~TBL_HEADER].key);
	} else {
		t->cursor_id = t->ops->id(row_at(t, v));
	}
}

static void restore_cursor(struct tbl *t)
{
	for (size_t i = 0; i < t->nvis; i++) {
		uint32_t v = t->vis[i];
		bool hit = (v & TBL_HEADER) ? t->cursor_group && strcmp(t->groups[v & ~TBL_HEADER].key, t->cursor_group) == 0
		                            : !t->cursor_group && t->ops->id(row_at(t, v)) == t->cursor_id;
		if (hit) {
			t->cursor = i;
			return;
		}
	}
	if (t->cursor >= t->nvis)
		t->cursor = t->nvis ? t->nvis - 1 : 0;
}

void tbl_arrange(struct tbl *t)
{
	remember_cursor(t);
	size_t nc;
	uint32_t *c = candidates(t, &nc);
	size_t k = 0;
	for (size_t i = 0; i < nc; i++)
		if (row_matches(t, row_at(t, c[i])))
			c[k++] = c[i];
	nc = k;
	sorting.t = t;
	char *sort_buf = NULL;
	keys_buffer = NULL;
	sorting.sort_keys = t->sort_col >= 0 && !t->ops->cols[t->sort_col].cmp ? make_keys(t, t->sort_col, c, nc) : NULL;
	sort_buf = keys_buffer;
	keys_buffer = NULL;
	sorting.group_rank = t->group_col >= 0 ? group_ranks(t, c, nc) : NULL;
	/* Rows often arrive in the order shown (the queue from the store):
	 * one linear check spares the sort. */
	bool sorted = true;
	if (t->sort_col >= 0 || t->group_col >= 0)
		for (size_t i = 1; i < nc && sorted; i++)
			sorted = cmp_vis(&c[i - 1], &c[i]) <= 0;
	if (!sorted)
		qsort(c, nc, sizeof *c, cmp_vis);
	/* vis: rows, with a header before each group. */
	groups_clear(t);
	t->nvis = 0;
	for (size_t i = 0; i < nc; i++) {
		if (t->group_col >= 0 && (i == 0 || sorting.group_rank[c[i]] != sorting.group_rank[c[i - 1]])) {
			/* A group's name is the cell text of its first row. */
			char key[512];
			tbl_cell(t, row_at(t, c[i]), t->group_col, key, sizeof key);
			t->groups = x_grow(t->groups, t->ngroups, &t->groupcap, sizeof *t->groups, 16);
			t->groups[t->ngroups] = (struct tbl_group){ x_strdup(key), 0 };
			t->vis = x_grow(t->vis, t->nvis, &t->viscap, sizeof *t->vis, 256);
			t->vis[t->nvis++] = TBL_HEADER | (uint32_t)t->ngroups;
			t->ngroups++;
		}
		if (t->ngroups)
			t->groups[t->ngroups - 1].count++;
		t->vis = x_grow(t->vis, t->nvis, &t->viscap, sizeof *t->vis, 256);
		t->vis[t->nvis++] = c[i];
	}
	free_keys(t, sorting.sort_keys);
	free(sorting.group_rank);
	sorting.group_rank = NULL;
	free(sort_buf);
	sorting.t = NULL;
	free(c);
	snprintf(t->prev_needle, sizeof t->prev_needle, "%s", t->needle);
	t->changed = false;
	restore_cursor(t);
}

void tbl_set_needle(struct tbl *t, const char *needle)
{
	size_t i = 0;
	for (; needle[i] && i + 1 < sizeof t->needle; i++) {
		char ch = needle[i];
		t->needle[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
	}
	t->needle[i] = '\0';
}

void tbl_sort_by(struct tbl *t, int col)
{
	if (col < -1 || col >= t->ops->ncols)
		return;
	if (col == t->sort_col && col >= 0)
		t->sort_desc = !t->sort_desc;
	else {
		t->sort_col = col;
		t->sort_desc = false;
	}
	t->changed = true;
}

void tbl_group_by(struct tbl *t, int col)
{
	if (col < -1 || col >= t->ops->ncols)
		return;
	t->group_col = col;
	t->changed = true;
}

int tbl_col_by_name(const struct tbl *t, const char *name)
{
	for (int c = 0; c < t->ops->ncols; c++) {
		const struct tbl_col *col = &t->ops->cols[c];
		if ((col->name && strcasecmp(col->name, name) == 0) || strcasecmp(col->title, name) == 0)
			return c;
	}
	return -1;
}

/* --- cursor ---------------------------------------------------------------------- */

const void *tbl_vis_row(const struct tbl *t, size_t i, const struct tbl_group **group)
{
	if (i >= t->nvis)
		return NULL;
	uint32_t v = t->vis[i];
	if (v & TBL_HEADER) {
		if (group)
			*group = &t->groups[v & ~TBL_HEADER];
		return NULL;
	}
	return row_at(t, v);
}

const void *tbl_cursor_row(const struct tbl *t)
{
	return tbl_vis_row(t, t->cursor, NULL);
}

void tbl_cursor_to(struct tbl *t, size_t i)
{
	t->cursor = t->nvis == 0 ? 0 : i >= t->nvis ? t->nvis - 1 : i;
	remember_cursor(t);
}

void tbl_cursor_by(struct tbl *t, long delta)
{
	long c = (long)t->cursor + delta;
	tbl_cursor_to(t, c < 0 ? 0 : (size_t)c);
}

/* --- selection ------------------------------------------------------------------ */

static void select_vis(struct tbl *t, size_t i, bool on)
{
	uint32_t v = t->vis[i];
	if (v & TBL_HEADER)
		return;
	int64_t id = t->ops->id(row_at(t, v));
	if (on)
		idmap_put(&t->sel, id, 1);
	else
		idmap_del(&t->sel, id);
}

/* The rows of the group whose header is at vis entry i. */
static size_t group_end(const struct tbl *t, size_t i)
{
	size_t j = i + 1;
	while (j < t->nvis && !(t->vis[j] & TBL_HEADER))
		j++;
	return j;
}

void tbl_select_toggle(struct tbl *t)
{
	if (t->cursor >= t->nvis)
		return;
	uint32_t v = t->vis[t->cursor];
	if (v & TBL_HEADER) {
		/* All selected already: unselect the group; otherwise select it all. */
		size_t end = group_end(t, t->cursor);
		bool all = true;
		for (size_t j = t->cursor + 1; j < end && all; j++)
			all = tbl_selected(t, t->ops->id(row_at(t, t->vis[j])));
		for (size_t j = t->cursor + 1; j < end; j++)
			select_vis(t, j, !all);
		return;
	}
	int64_t id = t->ops->id(row_at(t, v));
	select_vis(t, t->cursor, !tbl_selected(t, id));
}

void tbl_select_range(struct tbl *t, size_t from, size_t to)
{
	if (from > to) {
		size_t x = from;
		from = to;
		to = x;
	}
	for (size_t i = from; i <= to && i < t->nvis; i++)
		select_vis(t, i, true);
}

void tbl_select_all_shown(struct tbl *t)
{
	for (size_t i = 0; i < t->nvis; i++)
		select_vis(t, i, true);
}

void tbl_select_none(struct tbl *t)
{
	idmap_clear(&t->sel);
}

bool tbl_selected(const struct tbl *t, int64_t id)
{
	return idmap_get(&t->sel, id, NULL);
}

size_t tbl_selected_count(const struct tbl *t)
{
	return t->sel.n;
}

int64_t *tbl_selected_ids(const struct tbl *t, size_t *n)
{
	int64_t *ids = x_malloc((t->sel.n ? t->sel.n : 1) * sizeof *ids);
	size_t k = 0;
	/* Shown rows first, in their order; then selected rows hidden by the
	 * filter (a selection survives narrowing the search). */
	struct tbl_idmap seen = { 0 };
	for (size_t i = 0; i < t->nvis; i++) {
		uint32_t v = t->vis[i];
		if (v & TBL_HEADER)
			continue;
		int64_t id = t->ops->id(row_at(t, v));
		if (tbl_selected(t, id)) {
			ids[k++] = id;
			idmap_put(&seen, id, 1);
		}
	}
	for (size_t i = 0; i < t->n && k < t->sel.n; i++) {
		int64_t id = t->ops->id(row_at(t, i));
		if (tbl_selected(t, id) && !idmap_get(&seen, id, NULL))
			ids[k++] = id;
	}
	idmap_free(&seen);
	*n = k;
	return ids;
}
