/* report.h - the statistics report of a migration project and its
 * mailboxes: per mailbox (its latest job) the messages and bytes per
 * folder (what the map holds on the target), the skipped items with their
 * reasons, the verify verdict, when it ran, how long it took and its
 * average rate, and for the project the totals.  Printed by
 * `mailferry report`, e-mailed with the template report.txt, shown by the
 * console's Report view.
 *
 * The verdict is the last "... are on the target ..." event of the job,
 * or of `mailferry verify` for its login since the job started
 * (store_verify_verdict); none when it was not verified.
 *
 * Memory: struct report owns everything in it (report_free). */
#ifndef MF_REPORT_H
#define MF_REPORT_H

#include "cfg.h"
#include "common.h"
#include "store.h"

enum report_scope { REPORT_ALL, REPORT_JOB, REPORT_MAILBOX };

struct report_folder {
	char *src, *dst;            /* dst NULL: not created on the target */
	int64_t items, bytes, skipped;
};

struct report_skip {
	char *folder, *subject, *reason;    /* subject NULL: not known */
	uint32_t uid;
	int64_t size;
};

struct report_mailbox {
	int64_t job_id, pair_id;
	char *src_ep, *src_user, *dst_ep, *dst_user, *error, *verdict;
	enum job_state state;
	enum pass_kind pass;
	int64_t started, finished;  /* 0: not yet */
	int64_t items, bytes, skipped, failed;
	struct report_folder *folders;
	size_t nfolders, capf;
	struct report_skip *skips;
	size_t nskips, caps;
};

#define REPORT_STATES 16        /* room for enum job_state values */

struct report {
	int64_t made;
	struct report_mailbox *mb;  /* by job id */
	size_t n, cap;
	size_t ndetails;            /* mailboxes [0, ndetails) have folders, skips, verdict */
	/* Project totals. */
	int64_t states[REPORT_STATES];
	int64_t items, bytes, skipped, failed;
	int64_t first_start, last_finish;   /* 0: none */
	int64_t busy_secs;          /* the jobs' durations added up */
};

/* REPORT_JOB: that job (ST_CONFIG "no job N" when missing); REPORT_MAILBOX:
 * the latest job of each pair whose source login is login (ST_CONFIG when
 * none); REPORT_ALL: the latest job of every pair.  Folders, skipped items
 * and verdicts (a few queries per mailbox) are read for the first
 * max_details mailboxes only (0: all); the totals always count every one.
 * (The console caps it: a project of 100 000 mailboxes is seconds of
 * queries, which `mailferry report` may take but a screen may not.) */
enum st report_load(struct store *s, enum report_scope scope, int64_t job_id, const char *login,
                    size_t max_details, struct report *out, struct err *e);
void report_free(struct report *r);
/* The report as text (project totals, then each mailbox); caller frees. */
char *report_text(const struct report *r);
/* Sends text (a report_text of `mailboxes` mailboxes made at `made`) to the
 * comma-separated addresses in to, with the template report.txt
 * (placeholders report, mailboxes, date, host, admin = to).  ST_CONFIG when
 * no mail server is set; otherwise as notify_send (answer: the server's
 * last reply).  Any thread (nothing here touches the store). */
enum st report_email(const struct cfg *cfg, const char *text, size_t mailboxes, int64_t made, const char *to,
                     char *answer, size_t answer_len, struct err *e);

#endif
