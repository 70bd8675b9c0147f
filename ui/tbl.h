/* tbl.h - the rows of one console view: filtered (search as you type and a
 * view's own filter), sorted by any column, grouped by a column, with a
 * cursor that stays on the same row across reloads and a selection of rows.
 *
 * No curses here: the views, the unit tests and the 100 000-row benchmark
 * use the same code.  Rows are the view's own fixed-size structs, copied
 * into the table; cell text is made only when a cell is drawn, compared or
 * searched, so loading 100 000 rows costs one copy each.
 *
 * Memory: the table owns its copies of the rows and frees what each row
 * owns through the row_free callback given at tbl_init.  Pointers returned
 * by tbl_row/tbl_find stay valid until the next tbl_upsert, tbl_remove or
 * tbl_clear.  Thread: the UI thread only. */
#ifndef MF_TBL_H
#define MF_TBL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tbl_col {
	const char *title;
	const char *name;       /* for ":sort NAME" and ":group NAME" */
	int width;              /* columns on screen; 0: whatever is left */
	bool right;             /* numbers: right-aligned */
	/* The text of this cell; buf is at least 128 bytes. */
	void (*text)(const void *row, char *buf, size_t n);
	/* Order of two rows by this column; NULL: by the cell text. */
	int (*cmp)(const void *a, const void *b);
	bool groupable;         /* offered by "group by" */
};

struct tbl_ops {
	const struct tbl_col *cols;
	int ncols;
	size_t row_size;
	int64_t (*id)(const void *row);
	void (*row_free)(void *row);            /* may be NULL */
	/* Search: does the row contain needle (already lower-case)?  NULL: any
	 * cell's text contains it. */
	bool (*match)(const void *row, const char *needle);
	int default_sort;                       /* column index, -1: load order */
};

/* A hash set of row ids (also the id -> row index map, with values). */
struct tbl_idmap {
	int64_t *keys;
	uint32_t *vals;
	size_t cap, n;          /* cap is 0 or a power of two */
};

struct tbl_group {
	char *key;
	size_t count;
};

#define TBL_HEADER 0x80000000u   /* a vis entry that is a group header */

struct tbl {
	const struct tbl_ops *ops;
	char *rows;             /* n rows of ops->row_size bytes, load order */
	size_t n, cap;
	struct tbl_idmap index; /* id -> position in rows */
	uint32_t *vis;          /* what is shown: row positions or TBL_HEADER|group */
	size_t nvis, viscap;
	struct tbl_group *groups;
	size_t ngroups, groupcap;
	int sort_col;           /* -1: load order */
	bool sort_desc;
	int group_col;          /* -1: no groups */
	char needle[128];       /* search text, lower-case; "" shows all */
	bool (*filter)(const void *row, void *ctx);  /* the view's filter, NULL: none */
	void *filter_ctx;
	size_t cursor, top;     /* in vis */
	int64_t cursor_id;      /* row under the cursor, kept across arrange */
	char *cursor_group;     /* or the group header under it; owned */
	struct tbl_idmap sel;   /* selected row ids */
	bool changed;           /* rows changed since the last arrange */
	char prev_needle[128];  /* needle of the last arrange (narrowing) */
};

void tbl_init(struct tbl *t, const struct tbl_ops *ops);
void tbl_free(struct tbl *t);
/* Drops every row (the selection and cursor id stay). */
void tbl_clear(struct tbl *t);

/* Returns the slot for the row with this id: a new zeroed one, or the old
 * one after row_free; the caller fills it, id included. */
void *tbl_upsert(struct tbl *t, int64_t id);
void tbl_remove(struct tbl *t, int64_t id);
void *tbl_find(const struct tbl *t, int64_t id);

/* Filters, sorts and groups the rows into vis, keeping the cursor on the
 * same row (or group) when it is still shown. */
void tbl_arrange(struct tbl *t);

void tbl_set_needle(struct tbl *t, const char *needle);
/* Sorting by the column already sorted on turns the order around. */
void tbl_sort_by(struct tbl *t, int col);
void tbl_group_by(struct tbl *t, int col);   /* -1: no groups */
int tbl_col_by_name(const struct tbl *t, const char *name);

/* The row under vis entry i, or NULL for a group header (then *group is
 * set when group is not NULL). */
const void *tbl_vis_row(const struct tbl *t, size_t i, const struct tbl_group **group);
const void *tbl_cursor_row(const struct tbl *t);
void tbl_cursor_to(struct tbl *t, size_t i);
void tbl_cursor_by(struct tbl *t, long delta);

/* Selection.  Toggling on a group header toggles its whole group. */
void tbl_select_toggle(struct tbl *t);
void tbl_select_range(struct tbl *t, size_t from, size_t to);  /* vis entries */
void tbl_select_all_shown(struct tbl *t);
void tbl_select_none(struct tbl *t);
bool tbl_selected(const struct tbl *t, int64_t id);
size_t tbl_selected_count(const struct tbl *t);
/* Ids of the selected rows still in the table, in the order shown;
 * caller frees. */
int64_t *tbl_selected_ids(const struct tbl *t, size_t *n);

/* Cell text of row for column col into buf (n >= 128). */
void tbl_cell(const struct tbl *t, const void *row, int col, char *buf, size_t n);

/* Case-insensitive (ASCII) substring test; needle already lower-case. */
bool tbl_contains(const char *hay, const char *needle);

#endif
