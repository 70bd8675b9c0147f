/* scope_tree.h - the OU tree of the Add Forest wizard's scope step, as a
 * model without curses (unit-tested in tests/unit/tst_scope_tree.c): the
 * base DN as the root ("everything"), the directory's OUs below it, each
 * included or not, expanded or collapsed, and a cursor.
 *
 * Inclusion: everything is included at first (the product's "All content
 * is selected by default").  Space includes or leaves out a node with its
 * whole subtree; leaving out a node also leaves out its ancestors (an
 * included node means its whole subtree, entries directly in it too), so
 * they show as partly included.  The scope written for the forest is ""
 * when the root is included (all), else the DNs of the included nodes whose
 * parent is not included, one per line (forest.scope's form).
 *
 * Keys (form keys, form.h): Up/Down move, PgUp/PgDn by ten, Home/End;
 * Right or '+' expands (on an expanded node: to its first child), Left or
 * '-' collapses (on a collapsed one or a leaf: to its parent); Space
 * includes/leaves out.  Up on the first row, Down on the last, Tab, Enter
 * and Esc are not used (the dialog moves the focus).
 *
 * Memory: the tree owns its nodes' strings; scope_tree_free releases them.
 * Thread: UI only. */
#ifndef MF_SCOPE_TREE_H
#define MF_SCOPE_TREE_H

#include <stdbool.h>
#include <stddef.h>

struct scope_node {
	char *dn, *name;
	int parent;             /* -1 for the root */
	int depth;              /* 0 for the root */
	int nchildren;
	bool on;                /* included, with its whole subtree */
	bool expanded;
};

struct scope_tree {
	struct scope_node *v;   /* depth first: a node's subtree follows it */
	int n;
	int cur;                /* node under the cursor */
	int top;                /* first visible row drawn (scrolling) */
	char *extra;            /* scope lines not found in the tree, kept ("" none) */
	bool truncated;         /* the directory had more OUs than were read */
};

/* One OU as directory_list_ous gives it: parent index in the same array,
 * -1 under the base DN. */
struct scope_ou { const char *dn, *name; int parent; };

/* Builds the tree: root base_dn, the OUs sorted by name under each parent;
 * everything included, the root expanded. */
void scope_tree_build(struct scope_tree *t, const char *base_dn, const struct scope_ou *ous, int n);
void scope_tree_free(struct scope_tree *t);

/* Includes what a stored scope names (one a line, forest_scope_join's form:
 * a DN, an RDN or a bare name of an OU under the base; "" or NULL:
 * everything).  Lines that
 * match no node are kept in t->extra and written back by scope_tree_scope. */
void scope_tree_apply(struct scope_tree *t, const char *scope);
/* The scope to store (see above), caller frees; NULL when nothing at all
 * is included (the wizard refuses that). */
char *scope_tree_scope(const struct scope_tree *t);

/* One key; false when the tree does not use it (the dialog moves the
 * focus instead).  rows: how many rows the panel shows (for scrolling). */
bool scope_tree_key(struct scope_tree *t, int fk, int rows);

/* The nodes shown (the expanded part), in order; returns how many (at most
 * max) and the cursor's position among them in *cur_row. */
int scope_tree_visible(const struct scope_tree *t, int *out, int max, int *cur_row);
/* How one node is drawn: indentation, [x] / [-] / [ ], a ▸ or ▾ when it has
 * children, its name (the root: its DN and "(everything)"). */
void scope_tree_row(const struct scope_tree *t, int node, char *buf, size_t n);

#endif
