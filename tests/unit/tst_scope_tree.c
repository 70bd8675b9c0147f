/* tst_scope_tree.c - the wizard's OU tree (ui/scope_tree.c): order, all
 * included by default, Space on a node and its subtree, partly included
 * ancestors, the scope written (DNs, "" for all, NULL for nothing), a
 * stored scope read back, expand/collapse and the cursor. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "../../ui/form.h"
#include "../../ui/scope_tree.h"
#include "tap.h"

#define BASE "dc=corp,dc=example"

/* Breadth first, as directory_list_ous reads them. */
static const struct scope_ou ous[] = {
	{ "ou=Sales," BASE, "Sales", -1 },              /* 0 */
	{ "ou=HQ," BASE, "HQ", -1 },                    /* 1 */
	{ "ou=US,ou=Sales," BASE, "US", 0 },            /* 2 */
	{ "ou=EMEA,ou=Sales," BASE, "EMEA", 0 },        /* 3 */
	{ "ou=Paris,ou=EMEA,ou=Sales," BASE, "Paris", 3 },
};

static char *row(const struct scope_tree *t, int node)
{
	static char buf[200];
	scope_tree_row(t, node, buf, sizeof buf);
	return buf;
}

static int shown(const struct scope_tree *t)
{
	int v[16], cur;
	return scope_tree_visible(t, v, 16, &cur);
}

static bool scope_is(const struct scope_tree *t, const char *want)
{
	char *s = scope_tree_scope(t);
	bool ok = s && want ? !strcmp(s, want) : s == want;
	if (!ok)
		printf("# scope: %s\n", s ? s : "(null)");
	free(s);
	return ok;
}

int main(void)
{
	struct scope_tree t;
	scope_tree_build(&t, BASE, ous, 5);
	check(t.n == 6 && !strcmp(t.v[1].name, "HQ") && !strcmp(t.v[2].name, "Sales") &&
	      !strcmp(t.v[3].name, "EMEA") && !strcmp(t.v[4].name, "Paris") && !strcmp(t.v[5].name, "US"),
	      "depth first, sorted by name under each parent");
	check(scope_is(&t, "") && strstr(row(&t, 0), "[x]") && strstr(row(&t, 0), "(everything)"),
	      "everything included at first: scope \"\" (all)");
	check(shown(&t) == 3, "the root expanded, its OUs collapsed: 3 rows");
	check(strstr(row(&t, 2), "\xe2\x96\xb8 Sales") != NULL && strstr(row(&t, 1), "  [x]   HQ") != NULL,
	      "a collapsed node with children shows \xe2\x96\xb8, a leaf none (%s)", row(&t, 2));

	check(scope_tree_key(&t, ' ', 5) && scope_is(&t, NULL) && strstr(row(&t, 2), "[ ]"),
	      "Space on the root leaves everything out: no scope (refused by the wizard)");
	check(scope_tree_key(&t, FK_DOWN, 5) && scope_tree_key(&t, FK_DOWN, 5) && t.cur == 2, "Down, Down: Sales");
	check(scope_tree_key(&t, FK_RIGHT, 5) && shown(&t) == 5 && t.v[2].expanded, "Right expands Sales");
	check(scope_tree_key(&t, ' ', 5) && scope_is(&t, "ou=Sales," BASE) && strstr(row(&t, 0), "[-]"),
	      "Space includes Sales and its subtree; the root shows [-]");
	check(scope_tree_key(&t, FK_RIGHT, 5) && t.cur == 3, "Right on an expanded node goes to its first child");
	check(scope_tree_key(&t, FK_DOWN, 5) && t.cur == 5, "Down skips the collapsed EMEA's Paris: US");
	check(scope_tree_key(&t, ' ', 5) && scope_is(&t, "ou=EMEA,ou=Sales," BASE) && strstr(row(&t, 2), "[-]"),
	      "leaving out US leaves Sales partly included: EMEA alone");
	check(!scope_tree_key(&t, FK_DOWN, 5) && t.cur == 5, "Down on the last row is not used (focus moves on)");
	check(scope_tree_key(&t, FK_LEFT, 5) && t.cur == 2, "Left on a leaf goes to its parent");
	check(scope_tree_key(&t, FK_LEFT, 5) && shown(&t) == 3, "Left on an expanded node collapses it");
	check(scope_tree_key(&t, FK_UP, 5) && scope_tree_key(&t, ' ', 5) &&
	      scope_is(&t, "ou=HQ," BASE "\nou=EMEA,ou=Sales," BASE), "HQ too: two DNs, one a line");
	check(scope_tree_key(&t, FK_HOME, 5) && t.cur == 0 && !scope_tree_key(&t, FK_UP, 5),
	      "Home: the root; Up there is not used");
	check(!scope_tree_key(&t, FK_TAB, 5) && !scope_tree_key(&t, FK_ENTER, 5), "Tab and Enter are the dialog's");

	scope_tree_apply(&t, "ou=paris, ou=emea,OU=Sales," BASE "\nHQ\nou=Gone," BASE);
	check(scope_is(&t, "ou=HQ," BASE "\nou=Paris,ou=EMEA,ou=Sales," BASE "\nou=Gone," BASE),
	      "a stored scope read back: DN in any case and spacing, a bare name, an unknown DN kept");
	check(t.v[2].expanded && t.v[3].expanded, "the included node's ancestors are expanded to show it");
	scope_tree_apply(&t, "OU=Sales");
	check(scope_is(&t, "ou=Sales," BASE), "an RDN under the base (as typed: OU=Sales)");
	scope_tree_apply(&t, "");
	check(scope_is(&t, ""), "an empty scope: everything");

	/* Scrolling keeps the cursor in the rows shown. */
	scope_tree_key(&t, FK_END, 2);
	check(t.top > 0, "End with 2 rows scrolls (top %d)", t.top);
	scope_tree_key(&t, FK_HOME, 2);
	check(t.top == 0, "Home scrolls back");
	scope_tree_free(&t);
	return tap_done();
}
