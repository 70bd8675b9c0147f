/* kv.c - two-column "label  value" tables for Summary, About and the job
 * detail: one row per fact, sections as rows with an empty value. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ui.h"

struct kv_row {
	int64_t id;
	char *k, *v;
};

static int64_t kv_id(const void *r) { return ((const struct kv_row *)r)->id; }

static void kv_free(void *r)
{
	struct kv_row *x = r;
	free(x->k);
	free(x->v);
}

static void col_k(const void *r, char *b, size_t n) { snprintf(b, n, "%s", ((const struct kv_row *)r)->k); }
static void col_v(const void *r, char *b, size_t n) { snprintf(b, n, "%s", ((const struct kv_row *)r)->v); }

static const struct tbl_col cols[] = {
	{ "", "label", 30, false, col_k, NULL, false },
	{ "", "value", 0, false, col_v, NULL, false },
};

static const struct tbl_ops ops = { cols, 2, sizeof(struct kv_row), kv_id, kv_free, NULL, -1 };

void kv_begin(struct view *v)
{
	if (!v->has_tbl) {
		tbl_init(&v->tbl, &ops);
		v->has_tbl = true;
	}
	tbl_clear(&v->tbl);
}

void kv_add(struct view *v, const char *label, const char *fmt, ...)
{
	int64_t id = (int64_t)v->tbl.n;
	struct kv_row *r = tbl_upsert(&v->tbl, id);
	va_list ap;
	va_start(ap, fmt);
	char buf[1024];
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	*r = (struct kv_row){ id, x_strdup(label), x_strdup(buf) };
}
