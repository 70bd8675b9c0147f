/* cmd_checklist.c - "mailferry forest checklist NAME"; see cmd_checklist.h. */
#include "config.h"

#include "cmd_checklist.h"

#include <stdio.h>

#include "checklist.h"
#include "cmd_common.h"

struct cl_tally { int n[4]; };

static void print_item(void *ctx, const struct cl_item *it)
{
	struct cl_tally *t = ctx;
	t->n[it->state]++;
	printf("%s %-15s %s%s%s%s\n", checklist_mark(it->state), it->item, it->endpoint ? "(" : "",
	       it->endpoint ? it->endpoint : "", it->endpoint ? ") " : "", it->title);
	printf("      %s: %s\n", it->state == CL_PASS ? "ok" : it->state == CL_MANUAL ? "note" : "found",
	       it->detail);
	if (it->fix && it->state != CL_PASS)
		printf("      fix: %s\n", it->fix);
}

int cmd_forest_checklist(struct store *st, const struct cfg *cfg, int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-')
		return cmd_usage("forest checklist needs NAME");
	struct err e;
	err_clear(&e);
	struct cl_tally t = { { 0 } };
	enum cl_state worst = CL_PASS;
	if (checklist_run(st, cfg, argv[1], print_item, &t, &worst, &e))
		return cmd_fail(&e);
	printf("forest %s: %d passed, %d warning%s, %d failed, %d to check by hand\n", argv[1], t.n[CL_PASS],
	       t.n[CL_WARN], t.n[CL_WARN] == 1 ? "" : "s", t.n[CL_FAIL], t.n[CL_MANUAL]);
	if (worst == CL_FAIL)
		return st_exit_code(ST_CONFIG);
	return worst == CL_WARN ? 1 : 0;
}
