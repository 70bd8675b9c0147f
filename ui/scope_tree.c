/* scope_tree.c - the wizard's OU tree model; see scope_tree.h. */
#include "config.h"

#include "scope_tree.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"
#include "form.h"

#define PAGE 10

/* --- building ----------------------------------------------------------------- */

struct build {
	const struct scope_ou *ous;
	int n;
	int *order;             /* indexes of ous, sorted by parent then name */
	struct scope_tree *t;
};

static int cmp_ou(const void *a, const void *b, void *ous)
{
	const struct scope_ou *x = (const struct scope_ou *)ous + *(const int *)a;
	const struct scope_ou *y = (const struct scope_ou *)ous + *(const int *)b;
	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	return strcasecmp(x->name, y->name);
}

/* Appends the children of ou index parent (-1: the base) under node pnode,
 * depth first. */
static void add_children(struct build *b, int parent, int pnode, int depth)
{
	for (int k = 0; k < b->n; k++) {
		int i = b->order[k];
		if (b->ous[i].parent != parent)
			continue;
		struct scope_tree *t = b->t;
		int node = t->n++;
		t->v[node] = (struct scope_node){ x_strdup(b->ous[i].dn), x_strdup(b->ous[i].name), pnode, depth, 0,
		                                  true, false };
		t->v[pnode].nchildren++;
		add_children(b, i, node, depth + 1);
	}
}

void scope_tree_build(struct scope_tree *t, const char *base_dn, const struct scope_ou *ous, int n)
{
	*t = (struct scope_tree){ 0 };
	t->v = x_calloc((size_t)n + 1, sizeof *t->v);
	t->v[0] = (struct scope_node){ x_strdup(base_dn), x_strdup(base_dn), -1, 0, 0, true, true };
	t->n = 1;
	t->extra = x_strdup("");
	struct build b = { ous, n, x_calloc((size_t)n + 1, sizeof(int)), t };
	for (int i = 0; i < n; i++)
		b.order[i] = i;
	qsort_r(b.order, (size_t)n, sizeof(int), cmp_ou, (void *)ous);
	add_children(&b, -1, 0, 1);
	free(b.order);
}

void scope_tree_free(struct scope_tree *t)
{
	for (int i = 0; i < t->n; i++) {
		free(t->v[i].dn);
		free(t->v[i].name);
	}
	free(t->v);
	free(t->extra);
	*t = (struct scope_tree){ 0 };
}

/* --- inclusion ------------------------------------------------------------------ */

/* The node after i's subtree. */
static int subtree_end(const struct scope_tree *t, int i)
{
	int j = i + 1;
	while (j < t->n && t->v[j].depth > t->v[i].depth)
		j++;
	return j;
}

static void set_subtree(struct scope_tree *t, int i, bool on)
{
	for (int j = i, end = subtree_end(t, i); j < end; j++)
		t->v[j].on = on;
}

static void toggle(struct scope_tree *t, int i)
{
	bool on = !t->v[i].on;
	set_subtree(t, i, on);
	if (!on)
		for (int p = t->v[i].parent; p >= 0; p = t->v[p].parent)
			t->v[p].on = false;
}

static bool some_on(const struct scope_tree *t, int i)
{
	for (int j = i, end = subtree_end(t, i); j < end; j++)
		if (t->v[j].on)
			return true;
	return false;
}

/* DNs compare without case and without blanks after commas. */
static bool dn_equal(const char *a, const char *b, size_t blen)
{
	const char *bend = b + blen;
	char pa = 0, pb = 0;
	for (;;) {
		while (*a == ' ' && pa == ',')
			a++;
		while (b < bend && *b == ' ' && pb == ',')
			b++;
		if (!*a || b == bend)
			return !*a && b == bend;
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return false;
		pa = *a++;
		pb = *b++;
	}
}

/* The node a scope line names: a DN; one RDN ("OU=Sales") or a bare name
 * ("Sales") of an OU right under the base (forest.scope's rule); -1 when
 * none. */
static int find_line(const struct scope_tree *t, const char *line)
{
	bool dn = strchr(line, ',') != NULL, rdn = !dn && strchr(line, '=') != NULL;
	for (int i = 1; i < t->n; i++) {
		const struct scope_node *x = &t->v[i];
		if (dn ? dn_equal(line, x->dn, strlen(x->dn))
		       : x->depth == 1 && (rdn ? dn_equal(line, x->dn, strcspn(x->dn, ",")) : !strcasecmp(x->name, line)))
			return i;
	}
	return -1;
}

struct apply { struct scope_tree *t; bool any; };

/* One line of the scope: its node (and the whole subtree below) included,
 * or the line kept as it is when the tree has no such node. */
static void apply_line(void *ctx, const char *a)
{
	struct apply *ap = ctx;
	struct scope_tree *t = ap->t;
	if (!ap->any)
		set_subtree(t, 0, false);
	ap->any = true;
	int i = find_line(t, a);
	if (i >= 0) {
		set_subtree(t, i, true);
		for (int q = t->v[i].parent; q > 0; q = t->v[q].parent)
			t->v[q].expanded = true;    /* show where it is */
	} else {
		char *x = x_asprintf("%s%s%s", t->extra, *t->extra ? "\n" : "", a);
		free(t->extra);
		t->extra = x;
	}
}

void scope_tree_apply(struct scope_tree *t, const char *scope)
{
	free(t->extra);
	t->extra = x_strdup("");
	struct apply ap = { t, false };
	text_each_line(scope, apply_line, &ap);
	if (!ap.any)
		set_subtree(t, 0, true);
}

char *scope_tree_scope(const struct scope_tree *t)
{
	if (t->v[0].on)
		return x_strdup("");
	struct sbuf b;
	sb_init(&b);
	for (int i = 1; i < t->n; i++)
		if (t->v[i].on && !t->v[t->v[i].parent].on)
			sb_printf(&b, "%s%s", b.len ? "\n" : "", t->v[i].dn);
	if (*t->extra)
		sb_printf(&b, "%s%s", b.len ? "\n" : "", t->extra);
	if (!b.len) {
		sb_free(&b);
		return NULL;
	}
	char *out = x_strdup(b.data);
	sb_free(&b);
	return out;
}

/* --- the cursor and the keys ---------------------------------------------------------- */

static bool shown(const struct scope_tree *t, int i)
{
	for (int p = t->v[i].parent; p >= 0; p = t->v[p].parent)
		if (!t->v[p].expanded)
			return false;
	return true;
}

int scope_tree_visible(const struct scope_tree *t, int *out, int max, int *cur_row)
{
	int k = 0;
	*cur_row = 0;
	for (int i = 0; i < t->n; i++) {
		if (!shown(t, i))
			continue;
		if (i == t->cur)
			*cur_row = k;
		if (out && k < max)
			out[k] = i;
		k++;
	}
	return k < max ? k : max;
}

/* The shown node `step` rows away from the cursor (clamped), or -1 when
 * the cursor is already at that end. */
static int move(const struct scope_tree *t, int step)
{
	int last = -1, i = t->cur;
	int dir = step > 0 ? 1 : -1;
	for (int left = step * dir; left > 0;) {
		i += dir;
		if (i < 0 || i >= t->n)
			break;
		if (shown(t, i)) {
			last = i;
			left--;
		}
	}
	return last;
}

static void keep_visible(struct scope_tree *t, int rows)
{
	int cur_row;
	scope_tree_visible(t, NULL, t->n + 1, &cur_row);
	if (rows < 1)
		rows = 1;
	if (cur_row < t->top)
		t->top = cur_row;
	else if (cur_row >= t->top + rows)
		t->top = cur_row - rows + 1;
}

bool scope_tree_key(struct scope_tree *t, int fk, int rows)
{
	struct scope_node *c = &t->v[t->cur];
	int to = -1;
	switch (fk) {
	case FK_UP:
	case FK_DOWN:
		to = move(t, fk == FK_UP ? -1 : 1);
		if (to < 0)
			return false;       /* leave the tree */
		break;
	case FK_PGUP:
	case FK_PGDN:
		to = move(t, fk == FK_PGUP ? -PAGE : PAGE);
		break;
	case FK_HOME:
		to = 0;
		break;
	case FK_END:
		for (int i = t->n - 1; i >= 0 && to < 0; i--)
			if (shown(t, i))
				to = i;
		break;
	case FK_RIGHT:
	case '+':
		if (c->nchildren && !c->expanded)
			c->expanded = true;
		else if (c->nchildren)
			to = t->cur + 1;
		break;
	case FK_LEFT:
	case '-':
		if (c->nchildren && c->expanded)
			c->expanded = false;
		else if (c->parent >= 0)
			to = c->parent;
		break;
	case ' ':
		toggle(t, t->cur);
		break;
	default:
		return false;
	}
	if (to >= 0)
		t->cur = to;
	keep_visible(t, rows);
	return true;
}

void scope_tree_row(const struct scope_tree *t, int node, char *buf, size_t n)
{
	const struct scope_node *x = &t->v[node];
	const char *box = x->on ? "[x]" : some_on(t, node) ? "[-]" : "[ ]";
	const char *arrow = !x->nchildren ? " " : x->expanded ? "\xe2\x96\xbe" : "\xe2\x96\xb8";   /* ▾ ▸ */
	snprintf(buf, n, "%*s%s %s %s%s", x->depth * 2, "", box, arrow, x->name,
	         node == 0 ? " (everything)" : "");
}
