/* notice.h - notifications sent on a schedule rather than at a job's own
 * events (those are notify_job_event's):
 *
 *   "before"   the owner of a job queued with --notify-user and a start
 *              time (--start-at) gets templates/before.txt once clock_now()
 *              has passed start_after - notify_days_before days (and the
 *              job is still queued, its start still ahead);
 *   "summary"  admin_email gets templates/summary.txt once a day, from
 *              summary_hour (local time) on: jobs by state, mailboxes
 *              completed and failures of the last 24 hours, data moved.
 *
 * "Once" holds across restarts and processes: each notice is claimed in the
 * store (store_notice_claim) before it is sent, and only the claimer sends.
 * A notice the mail server could not take now (network, temporary refusal)
 * is released and tried again on a later round; one that can never go (no
 * address known, a broken template) stays claimed, with a warning in the
 * job's events or the log, so it is not retried every minute.
 *
 * The engine calls these when idle (engine_send_notices).  Memory: texts
 * returned belong to the caller.  Threads: any, with its own store. */
#ifndef MF_NOTICE_H
#define MF_NOTICE_H

#include "cfg.h"
#include "common.h"
#include "store.h"

/* Sends every "before" notice that is due; returns how many were sent
 * (*e holds the last problem, if any). */
int notice_send_before(struct store *st, const struct cfg *c, struct err *e);

/* The summary as it would go out now (the last 24 hours up to
 * clock_now()).  ST_CONFIG for a broken template, naming file and line. */
enum st notice_summary(struct store *st, const struct cfg *c, char **subject, char **body, struct err *e);

/* Sends today's summary when it is due (summary_hour set and passed, an
 * admin_email and a mail server set, not yet sent today); *sent says
 * whether it went now. */
enum st notice_send_summary_if_due(struct store *st, const struct cfg *c, bool *sent, struct err *e);

/* Sends the summary to admin_email now, whatever the hour and whether
 * one went today (mailferry notify summary --send). */
enum st notice_send_summary(struct store *st, const struct cfg *c, struct err *e);

#endif
