/* lifecycle.c - legal job state moves and the phase logic; see lifecycle.h. */
#include "config.h"

#include "lifecycle.h"

#define S(x) (1u << (x))

/* legal_to[from]: the states a job may move to from `from`. */
static const unsigned legal_to[JOB__COUNT] = {
	[JOB_QUEUED] = S(JOB_RUNNING) | S(JOB_PAUSED) | S(JOB_CANCELLED),
	[JOB_RUNNING] = S(JOB_QUEUED) | S(JOB_READY) | S(JOB_COMPLETING) | S(JOB_COMPLETED) |
	                S(JOB_PARTIAL) | S(JOB_FAILED) | S(JOB_PAUSED),
	[JOB_READY] = S(JOB_RUNNING) | S(JOB_COMPLETING) | S(JOB_PAUSED) | S(JOB_CANCELLED),
	[JOB_COMPLETING] = S(JOB_RUNNING) | S(JOB_PAUSED) | S(JOB_CANCELLED),
	[JOB_PAUSED] = S(JOB_QUEUED) | S(JOB_READY) | S(JOB_COMPLETING) | S(JOB_CANCELLED),
	/* A retry goes back to where the job waited for the pass that ended. */
	[JOB_FAILED] = S(JOB_QUEUED) | S(JOB_READY) | S(JOB_COMPLETING),
	[JOB_PARTIAL] = S(JOB_QUEUED) | S(JOB_READY) | S(JOB_COMPLETING),
	[JOB_CANCELLED] = S(JOB_QUEUED) | S(JOB_READY) | S(JOB_COMPLETING),
	[JOB_COMPLETED] = 0,
};

bool lc_legal(enum job_state from, enum job_state to)
{
	if ((unsigned)from >= JOB__COUNT || (unsigned)to >= JOB__COUNT)
		return false;
	return (legal_to[from] & S(to)) != 0;
}

enum st lc_check(int64_t job_id, enum job_state from, enum job_state to, const char *what,
                 struct err *e)
{
	if (lc_legal(from, to))
		return ST_OK;
	return err_set(e, ST_CONFIG, "job %lld cannot %s: it is %s", (long long)job_id, what,
	               job_state_label(from));
}

enum job_state lc_waiting_state(enum job_phase p)
{
	switch (p) {
	case PHASE_INCREMENTAL: return JOB_READY;
	case PHASE_FINAL: return JOB_COMPLETING;
	default: return JOB_QUEUED;
	}
}

enum job_phase lc_phase_for_claim(enum job_state waiting)
{
	switch (waiting) {
	case JOB_READY: return PHASE_INCREMENTAL;
	case JOB_COMPLETING: return PHASE_FINAL;
	default: return PHASE_INITIAL;
	}
}

enum job_state lc_after_pass(enum job_phase p, bool suspend_ready, bool cutover_asked, enum st s)
{
	if (s != ST_OK && s != ST_PARTIAL)
		return JOB_FAILED;
	if (suspend_ready && p != PHASE_FINAL)
		return cutover_asked ? JOB_COMPLETING : JOB_READY;
	return s == ST_OK ? JOB_COMPLETED : JOB_PARTIAL;
}

enum pass_kind lc_pass_kind(enum job_phase p, enum pass_kind initial)
{
	return p == PHASE_INITIAL ? initial : PASS_DELTA;
}

enum bo_phase lc_bo_phase(enum job_phase p, bool suspend_ready)
{
	if (!suspend_ready)
		return BO_PHASE_WHOLE;
	return p == PHASE_FINAL ? BO_PHASE_FINAL : BO_PHASE_INITIAL;
}
