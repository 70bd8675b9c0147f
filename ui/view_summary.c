/* view_summary.c - Summary: mailbox jobs by state, what was copied, and
 * the mailboxes known per status. */
#include "config.h"

#include <stdio.h>

#include "ui.h"

static void summary_open(struct ui *u, struct view *v)
{
	kv_begin(v);
	int64_t c[7] = { 0 }, items = 0, bytes = 0;
	struct err e;
	if (store_job_counts(u->st, c, &e) || store_run_totals(u->st, 0, &items, &bytes, &e)) {
		ui_error(u, "%s", e.msg);
		return;
	}
	int64_t total = 0;
	for (int i = 0; i < 7; i++)
		total += c[i];
	char a[32], b[32];
	fmt_count(total, a, sizeof a);
	kv_add(v, "Mailbox jobs", "%s", a);
	for (int i = 0; i < 7; i++) {
		fmt_count(c[i], a, sizeof a);
		kv_add(v, job_state_name((enum job_state)i), "%12s", a);
	}
	fmt_count(items, a, sizeof a);
	fmt_bytes(bytes, b, sizeof b);
	kv_add(v, "", "%s", "");
	kv_add(v, "Messages copied", "%12s", a);
	kv_add(v, "Data copied", "%12s", b);
}

const struct view_ops view_summary_ops = { .open = summary_open, .tick = summary_open, .empty = "Nothing yet." };
