/* view_job_detail.c - one job: its settings and progress, its passes, the
 * items it skipped with the reasons, and its events (Enter on a job in
 * Mailbox Jobs; Esc goes back).  The job's own actions work here too. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ui.h"

static void add_pass(void *ctx, int64_t id, const char *kind, int64_t started, int64_t finished,
                     const char *result, int64_t copied, int64_t bytes, int64_t skipped, int64_t failed,
                     int64_t reflagged)
{
	struct view *v = ctx;
	char t[32], by[32], label[64];
	fmt_time(started, t, sizeof t);
	txt_bytes(bytes, by, sizeof by);
	char dur[32];
	fmt_duration(finished ? finished - started : clock_now() - started, dur, sizeof dur);
	snprintf(label, sizeof label, "  pass %lld  %s", (long long)id, kind);
	kv_add(v, label, "%s, %s: %s; %lld copied (%s), %lld skipped, %lld failed, %lld flags updated", t, dur,
	       result ? result : "running", (long long)copied, by, (long long)skipped, (long long)failed,
	       (long long)reflagged);
}

/* Each item marked: "failed" (retry copies it again) or "skipped" (for good). */
static void add_skipped(void *ctx, const struct skipped_row *r)
{
	struct view *v = ctx;
	char by[32], label[300];
	txt_bytes((int64_t)r->size, by, sizeof by);
	snprintf(label, sizeof label, "  %s UID %u", r->folder, r->uid);
	kv_add(v, label, "%s: %s, \"%s\": %s", r->failed ? "failed (retry copies it)" : "skipped for good", by,
	       r->subject ? r->subject : "(subject unknown)", r->reason);
}

/* The forecast recorded for the job while it was queued (forecasts). */
struct forecast_ctx {
	bool found;
	int64_t made, est_start, est_end;
};

static void put_forecast(void *ctx, const struct forecast_row *r)
{
	struct forecast_ctx *f = ctx;
	*f = (struct forecast_ctx){ true, r->made, r->est_start, r->est_end };
}

static void add_event(void *ctx, int64_t ts, int level, int64_t job, const char *msg)
{
	(void)job;
	struct view *v = ctx;
	time_t t = (time_t)ts;
	struct tm tm;
	char when[32];
	localtime_r(&t, &tm);
	strftime(when, sizeof when, "  %m-%d %H:%M:%S", &tm);
	kv_add(v, when, "%s%s", level == EV_ERROR ? "ERROR " : level == EV_WARN ? "warning " : "", msg);
}

struct find_ctx {
	int64_t id;
	struct job_row copy;
	char strs[7][256];
	bool found;
};

static void find_row(void *ctx, const struct job_row *r)
{
	struct find_ctx *f = ctx;
	if (r->id != f->id)
		return;
	f->copy = *r;
	const char *const src[7] = { r->src_endpoint, r->src_user, r->dst_endpoint, r->dst_user, r->current_folder,
	                             r->error, r->paused_by };
	const char **dst[7] = { &f->copy.src_endpoint, &f->copy.src_user, &f->copy.dst_endpoint, &f->copy.dst_user,
	                        &f->copy.current_folder, &f->copy.error, &f->copy.paused_by };
	for (int i = 0; i < 7; i++) {
		snprintf(f->strs[i], sizeof f->strs[i], "%s", src[i] ? src[i] : "");
		*dst[i] = f->strs[i];
	}
	f->found = true;
}

static void detail_open(struct ui *u, struct view *v)
{
	kv_begin(v);
	struct err e;
	struct job j;
	if (store_job_get(u->st, u->detail_job, &j, &e)) {
		ui_error(u, "%s", e.msg);
		return;
	}
	struct find_ctx f = { .id = u->detail_job };
	/* The row has the endpoint names, times and the mailbox size. */
	if (store_job_row(u->st, u->detail_job, find_row, &f, &e) || !f.found) {
		ui_error(u, "job %lld: %s", (long long)u->detail_job, f.found ? e.msg : "no longer in the store");
		job_free(&j);
		return;
	}
	const struct job_row *r = &f.copy;
	snprintf(v->title, sizeof v->title, "Job %lld: %s on %s -> %s on %s (Esc: back; p/u/c/r/C act on it)",
	         (long long)j.id, r->src_user, r->src_endpoint, r->dst_user, r->dst_endpoint);
	char a[32], b[32], c[32];
	char hold[200];
	jobs_hold_text(u, j.id, hold, sizeof hold);
	kv_add(v, "State", "%s%s%s%s%s", job_state_label(j.state), r->paused_by && r->paused_by[0] ? ", paused by " : "",
	       r->paused_by ? r->paused_by : "", hold[0] ? ", " : "", hold);
	kv_add(v, "Phase", "%s%s", job_phase_name(r->phase), r->retry_errors ? " (next pass: the failed items only)" : "");
	if (r->ready_at) {
		fmt_time(r->ready_at, a, sizeof a);
		kv_add(v, "Ready to complete since", "%s", a);
	}
	if (j.state == JOB_READY && r->next_sync) {
		fmt_time(r->next_sync, a, sizeof a);
		kv_add(v, "Next incremental sync", "%s", a);
	}
	if (r->cutover_at) {
		fmt_time(r->cutover_at, a, sizeof a);
		kv_add(v, "Cutover", "%s", a);
	}
	kv_add(v, "Pass", "%s%s", pass_kind_name(j.o.pass), j.o.pass == PASS_PRESTAGE ? " (items older than the age)" : "");
	if (j.o.pass == PASS_PRESTAGE)
		kv_add(v, "Pre-stage age", "%d days", j.o.prestage_days);
	kv_add(v, "Priority", "%d", j.priority);
	fmt_time(r->created, a, sizeof a);
	kv_add(v, "Queued", "%s", a);
	if (r->start_after) {
		fmt_time(r->start_after, a, sizeof a);
		kv_add(v, "Not before", "%s", a);
	}
	fmt_time(r->started, a, sizeof a);
	fmt_time(r->finished, b, sizeof b);
	kv_add(v, "Started / finished", "%s / %s", a, b);
	struct forecast_ctx fc = { 0 };
	if (store_forecast_each(u->st, j.id, put_forecast, &fc, &e))
		ui_error(u, "%s", e.msg);
	if (fc.found) {
		char m[32], late[64] = "";
		fmt_time(fc.made, m, sizeof m);
		fmt_time(fc.est_start, a, sizeof a);
		fmt_time(fc.est_end, b, sizeof b);
		if (r->finished && fc.est_end != INT64_MAX && r->state != JOB_QUEUED && r->state != JOB_RUNNING) {
			char d[32];
			fmt_duration(r->finished > fc.est_end ? r->finished - fc.est_end : fc.est_end - r->finished, d,
			             sizeof d);
			snprintf(late, sizeof late, "; ended %s %s", d, r->finished >= fc.est_end ? "later" : "earlier");
		}
		kv_add(v, "Forecast start / end", "%s / %s (forecast of %s%s)", fc.est_start == INT64_MAX ? "never" : a,
		       fc.est_end == INT64_MAX ? "never" : b, m, late);
	}
	kv_add(v, "Suspend when ready", "%s", r->suspend_ready ? "yes" : "no");
	kv_add(v, "Notify the user", "%s", r->notify_user ? "yes" : "no");
	fmt_count(j.items_done, a, sizeof a);
	txt_bytes(j.bytes_done, b, sizeof b);
	fmt_count(r->src_items, c, sizeof c);
	kv_add(v, "Copied", "%s messages, %s (source: %s messages)", a, b, c);
	kv_add(v, "Skipped / failed", "%lld / %lld", (long long)j.items_skipped, (long long)j.items_failed);
	kv_add(v, "Current folder", "%s", r->current_folder[0] ? r->current_folder : "-");
	kv_add(v, "Attempts", "%d", j.attempts);
	if (j.error)
		kv_add(v, "Error", "%s", j.error);
	/* The job's own verdict, or one of mailferry verify since it started. */
	char *verdict = NULL;
	if (store_verify_verdict(u->st, j.id, r->src_user, r->started ? r->started : INT64_MAX, &verdict, &e))
		ui_error(u, "%s", e.msg);
	kv_add(v, "Verify verdict", "%s", verdict ? verdict : "not verified yet (verify_after_copy, or mailferry verify)");
	free(verdict);
	kv_add(v, "", "%s", "");
	kv_add(v, "PASSES", "%s", "");
	if (store_pass_each(u->st, j.id, add_pass, v, &e))
		ui_error(u, "%s", e.msg);
	kv_add(v, "", "%s", "");
	kv_add(v, "SKIPPED ITEMS", "%s", "");
	if (store_skipped_rows(u->st, j.id, add_skipped, v, &e))
		ui_error(u, "%s", e.msg);
	kv_add(v, "", "%s", "");
	kv_add(v, "EVENTS (newest last)", "%s", "");
	if (store_event_each(u->st, j.id, 200, add_event, v, &e))
		ui_error(u, "%s", e.msg);
	job_free(&j);
}

static void cancel_answer(struct ui *u, bool yes, void *ctx)
{
	(void)ctx;
	if (yes)
		jobs_apply(u, ACT_CANCEL, &u->detail_job, 1);
	else
		ui_say(u, "job %lld left as it was", (long long)u->detail_job);
	ui_reload(u, V_JOB_DETAIL);
}

static bool detail_act(struct ui *u, struct view *v, enum action a, const char *arg)
{
	(void)v;
	(void)arg;
	switch (a) {
	case ACT_PAUSE: case ACT_RESUME: case ACT_RETRY: case ACT_CUTOVER:
		jobs_apply(u, a, &u->detail_job, 1);
		ui_reload(u, V_JOB_DETAIL);
		return true;
	case ACT_CANCEL:
		ui_confirm(u, cancel_answer, NULL, "Cancel job %lld?", (long long)u->detail_job);
		return true;
	default:
		return false;
	}
}

const struct view_ops view_job_detail_ops = {
	.open = detail_open, .tick = detail_open, .act = detail_act, .empty = "No such job.",
};
