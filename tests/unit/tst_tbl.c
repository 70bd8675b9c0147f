/* tst_tbl.c - the console's table model (ui/tbl.c): search, sort, group,
 * cursor kept on its row across reloads, selection, and 100 000 rows. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../ui/tbl.h"
#include "common.h"
#include "tap.h"

struct r {
	int64_t id;
	int64_t size;
	char name[24];
	char site[12];
};

static int64_t r_id(const void *x) { return ((const struct r *)x)->id; }
static void c_name(const void *x, char *b, size_t n) { snprintf(b, n, "%s", ((const struct r *)x)->name); }
static void c_site(const void *x, char *b, size_t n) { snprintf(b, n, "%s", ((const struct r *)x)->site); }
static void c_size(const void *x, char *b, size_t n) { snprintf(b, n, "%lld", (long long)((const struct r *)x)->size); }
static int cmp_size(const void *a, const void *b)
{
	int64_t x = ((const struct r *)a)->size, y = ((const struct r *)b)->size;
	return x < y ? -1 : x > y;
}

static const struct tbl_col cols[] = {
	{ "NAME", "name", 20, false, c_name, NULL, false },
	{ "SITE", "site", 10, false, c_site, NULL, true },
	{ "SIZE", "size", 8, true, c_size, cmp_size, false },
};
static const struct tbl_ops ops = { cols, 3, sizeof(struct r), r_id, NULL, NULL, -1 };

static void put(struct tbl *t, int64_t id, const char *name, const char *site, int64_t size)
{
	struct r *x = tbl_upsert(t, id);
	x->id = id;
	x->size = size;
	snprintf(x->name, sizeof x->name, "%s", name);
	snprintf(x->site, sizeof x->site, "%s", site);
}

static const char *name_at(const struct tbl *t, size_t i)
{
	const struct r *x = tbl_vis_row(t, i, NULL);
	return x ? x->name : "(header)";
}

static double ms_since(struct timespec a)
{
	struct timespec b;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
}

static void basics(void)
{
	struct tbl t;
	tbl_init(&t, &ops);
	put(&t, 1, "alice", "paris", 300);
	put(&t, 2, "Bob", "berlin", 100);
	put(&t, 3, "carol", "paris", 200);
	put(&t, 4, "dave", "berlin", 400);
	tbl_arrange(&t);
	check(t.nvis == 4 && strcmp(name_at(&t, 0), "alice") == 0, "load order shown: %zu rows", t.nvis);

	tbl_sort_by(&t, 2);
	tbl_arrange(&t);
	check(strcmp(name_at(&t, 0), "Bob") == 0 && strcmp(name_at(&t, 3), "dave") == 0, "sort by size ascending");
	tbl_sort_by(&t, 2);
	tbl_arrange(&t);
	check(t.sort_desc && strcmp(name_at(&t, 0), "dave") == 0, "same column again: descending");

	tbl_sort_by(&t, 0);
	tbl_arrange(&t);
	check(strcmp(name_at(&t, 0), "Bob") == 0, "text sort is by bytes (capital first): %s", name_at(&t, 0));

	/* The cursor follows its row through a re-sort and an update. */
	tbl_cursor_to(&t, 2);
	int64_t id = ((const struct r *)tbl_cursor_row(&t))->id;
	tbl_sort_by(&t, 2);
	tbl_arrange(&t);
	check(((const struct r *)tbl_cursor_row(&t))->id == id, "cursor stays on row %lld after sorting", (long long)id);
	put(&t, id, "carol", "paris", 999);
	tbl_arrange(&t);
	check(((const struct r *)tbl_cursor_row(&t))->id == id && t.cursor == 3,
	      "cursor stays on its row when the row moves (now at %zu)", t.cursor);

	/* Search as you type, case-insensitive, narrowing. */
	tbl_set_needle(&t, "A");
	tbl_arrange(&t);
	check(t.nvis == 3, "search 'A' matches alice, carol, dave: %zu", t.nvis);
	tbl_set_needle(&t, "aro");
	tbl_arrange(&t);
	check(t.nvis == 1 && strcmp(name_at(&t, 0), "carol") == 0, "search 'aro' narrows to carol");
	tbl_set_needle(&t, "paris");
	tbl_arrange(&t);
	check(t.nvis == 2, "search matches any cell (site): %zu", t.nvis);
	tbl_set_needle(&t, "");
	tbl_arrange(&t);
	check(t.nvis == 4, "empty search shows all");

	/* Groups: headers with counts, rows sorted inside. */
	tbl_group_by(&t, 1);
	tbl_arrange(&t);
	const struct tbl_group *g = NULL;
	check(t.nvis == 6 && !tbl_vis_row(&t, 0, &g) && g && strcmp(g->key, "berlin") == 0 && g->count == 2,
	      "group by site: header 'berlin' (2) first");
	tbl_cursor_to(&t, 0);
	tbl_select_toggle(&t);
	check(tbl_selected_count(&t) == 2 && tbl_selected(&t, 2) && tbl_selected(&t, 4),
	      "Space on a group header selects its rows");
	tbl_select_toggle(&t);
	check(tbl_selected_count(&t) == 0, "again: unselects them");
	tbl_select_range(&t, 1, 4);
	check(tbl_selected_count(&t) == 3, "range over a header selects the 3 rows in it");
	size_t n;
	int64_t *ids = tbl_selected_ids(&t, &n);
	check(n == 3 && ids[0] == 2, "selected ids in the order shown (first %lld)", n ? (long long)ids[0] : -1LL);
	free(ids);
	tbl_select_none(&t);
	tbl_set_needle(&t, "dave");
	tbl_arrange(&t);
	tbl_select_all_shown(&t);
	check(tbl_selected_count(&t) == 1 && tbl_selected(&t, 4), "select-all takes only the rows shown (dave)");

	tbl_remove(&t, 4);
	tbl_set_needle(&t, "");
	tbl_group_by(&t, -1);
	tbl_arrange(&t);
	check(t.nvis == 3 && !tbl_find(&t, 4) && tbl_find(&t, 3), "remove drops the row, the others stay findable");
	ids = tbl_selected_ids(&t, &n);
	check(n == 0, "a removed row is no longer reported as selected: %zu", n);
	free(ids);
	check(tbl_col_by_name(&t, "size") == 2 && tbl_col_by_name(&t, "SITE") == 1 && tbl_col_by_name(&t, "x") == -1,
	      "columns by name or title");
	tbl_free(&t);
}

static void big(void)
{
	struct tbl t;
	tbl_init(&t, &ops);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int64_t i = 0; i < 100000; i++) {
		char name[24], site[12];
		snprintf(name, sizeof name, "user%06lld", (long long)((i * 7919) % 100000));
		snprintf(site, sizeof site, "site%02lld", (long long)(i % 37));
		put(&t, i + 1, name, site, (i * 104729) % 1000003);
	}
	tbl_arrange(&t);
	double load = ms_since(t0);
	check(t.nvis == 100000, "100 000 rows loaded and arranged in %.1f ms", load);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	tbl_sort_by(&t, 2);
	tbl_arrange(&t);
	double sort = ms_since(t0);
	const struct r *a = tbl_vis_row(&t, 0, NULL), *b = tbl_vis_row(&t, 99999, NULL);
	check(a->size <= b->size, "sorted by size in %.1f ms", sort);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	tbl_set_needle(&t, "user01");
	tbl_arrange(&t);
	tbl_set_needle(&t, "user012");
	tbl_arrange(&t);
	double search = ms_since(t0);
	check(t.nvis == 1000, "search narrowing over 100 000 rows: %zu rows in %.1f ms", t.nvis, search);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	tbl_set_needle(&t, "");
	tbl_group_by(&t, 1);
	tbl_arrange(&t);
	double group = ms_since(t0);
	check(t.ngroups == 37, "grouped into 37 sites in %.1f ms", group);
	tbl_free(&t);
}

int main(void)
{
	basics();
	big();
	return tap_done();
}
