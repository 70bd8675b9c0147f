/* tst_lifecycle.c - the job state diagram: every legal move and a sample of
 * illegal ones (with the message an admin reads), where a pass leads, the
 * pass kind and blackout phase of each phase. */
#include "lifecycle.h"

#include <string.h>

#include "tap.h"

static void test_moves(void)
{
	static const struct { enum job_state from, to; bool ok; } m[] = {
		{ JOB_QUEUED, JOB_RUNNING, true }, { JOB_QUEUED, JOB_PAUSED, true },
		{ JOB_QUEUED, JOB_CANCELLED, true }, { JOB_QUEUED, JOB_COMPLETED, false },
		{ JOB_QUEUED, JOB_READY, false },
		{ JOB_RUNNING, JOB_READY, true }, { JOB_RUNNING, JOB_COMPLETING, true },
		{ JOB_RUNNING, JOB_QUEUED, true }, { JOB_RUNNING, JOB_CANCELLED, false },
		{ JOB_READY, JOB_RUNNING, true }, { JOB_READY, JOB_COMPLETING, true },
		{ JOB_READY, JOB_COMPLETED, false }, { JOB_READY, JOB_QUEUED, false },
		{ JOB_COMPLETING, JOB_RUNNING, true }, { JOB_COMPLETING, JOB_READY, false },
		{ JOB_PAUSED, JOB_READY, true }, { JOB_PAUSED, JOB_COMPLETING, true },
		{ JOB_PAUSED, JOB_RUNNING, false },
		{ JOB_FAILED, JOB_QUEUED, true }, { JOB_PARTIAL, JOB_QUEUED, true },
		{ JOB_CANCELLED, JOB_QUEUED, true }, { JOB_PARTIAL, JOB_COMPLETING, true },
		{ JOB_FAILED, JOB_READY, true }, { JOB_FAILED, JOB_RUNNING, false },
		{ JOB_COMPLETED, JOB_QUEUED, false },
		{ JOB_COMPLETED, JOB_RUNNING, false },
	};
	for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
		check(lc_legal(m[i].from, m[i].to) == m[i].ok, "%s -> %s is %s", job_state_name(m[i].from),
		      job_state_name(m[i].to), m[i].ok ? "legal" : "refused");
	check(!lc_legal(JOB__COUNT, JOB_QUEUED) && !lc_legal(JOB_QUEUED, (enum job_state)-1),
	      "states out of range are refused");
	struct err e;
	check(lc_check(7, JOB_READY, JOB_COMPLETED, "finish as completed", &e) == ST_CONFIG &&
	      !strcmp(e.msg, "job 7 cannot finish as completed: it is ready to complete"),
	      "refusal names the job, the action and the state: %s", e.msg);
	check(lc_check(7, JOB_READY, JOB_COMPLETING, "cut over", &e) == ST_OK, "ready -> completing: ok");
}

static void test_passes(void)
{
	check(lc_after_pass(PHASE_INITIAL, false, false, ST_OK) == JOB_COMPLETED, "one-pass job: completed");
	check(lc_after_pass(PHASE_INITIAL, false, false, ST_PARTIAL) == JOB_PARTIAL, "one-pass job: partial");
	check(lc_after_pass(PHASE_INITIAL, true, false, ST_OK) == JOB_READY, "suspend when ready: ready");
	check(lc_after_pass(PHASE_INITIAL, true, false, ST_PARTIAL) == JOB_READY,
	      "suspend when ready with skipped items: ready too");
	check(lc_after_pass(PHASE_INCREMENTAL, true, false, ST_OK) == JOB_READY, "incremental: ready again");
	check(lc_after_pass(PHASE_INCREMENTAL, true, true, ST_OK) == JOB_COMPLETING,
	      "incremental with a cutover asked meanwhile: completing");
	check(lc_after_pass(PHASE_FINAL, true, true, ST_OK) == JOB_COMPLETED, "final pass: completed");
	check(lc_after_pass(PHASE_FINAL, true, true, ST_AUTH) == JOB_FAILED, "final pass error: failed");
	check(lc_after_pass(PHASE_INITIAL, true, false, ST_NET) == JOB_FAILED, "initial error: failed");
	check(lc_waiting_state(PHASE_INITIAL) == JOB_QUEUED && lc_waiting_state(PHASE_INCREMENTAL) == JOB_READY &&
	      lc_waiting_state(PHASE_FINAL) == JOB_COMPLETING, "waiting states by phase");
	check(lc_phase_for_claim(JOB_QUEUED) == PHASE_INITIAL && lc_phase_for_claim(JOB_READY) == PHASE_INCREMENTAL &&
	      lc_phase_for_claim(JOB_COMPLETING) == PHASE_FINAL, "claimed phase by waiting state");
	check(lc_pass_kind(PHASE_INITIAL, PASS_PRESTAGE) == PASS_PRESTAGE &&
	      lc_pass_kind(PHASE_INCREMENTAL, PASS_PRESTAGE) == PASS_DELTA &&
	      lc_pass_kind(PHASE_FINAL, PASS_FULL) == PASS_DELTA, "pass kinds: own, then delta");
	check(lc_bo_phase(PHASE_INITIAL, false) == BO_PHASE_WHOLE &&
	      lc_bo_phase(PHASE_INCREMENTAL, true) == BO_PHASE_INITIAL &&
	      lc_bo_phase(PHASE_FINAL, true) == BO_PHASE_FINAL, "blackout phases");
	check(!strcmp(job_state_label(JOB_READY), "ready to complete") &&
	      !strcmp(job_state_name(JOB_READY), "ready") && !strcmp(job_state_name(JOB_COMPLETING), "completing") &&
	      !strcmp(job_phase_name(PHASE_INCREMENTAL), "incremental"), "names");
}

int main(void)
{
	test_moves();
	test_passes();
	return tap_done();
}
