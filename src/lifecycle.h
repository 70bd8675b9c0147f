/* lifecycle.h - the life of a mailbox job: its states, the legal moves
 * between them, and which pass (phase) a claimed job runs.  Pure functions:
 * the store refuses an illegal move through lc_check, the engine asks
 * lc_after_pass where a job goes when its pass ends.
 *
 *                queue
 *                  │            pause (paused_by admin, or "endpoint NAME: ...")
 *                  ▼          ┌──────────────────────────────► paused ──resume──┐
 *   retry ──►  queued ────────┤                                  ▲             │ back to
 *   (failed,       │ claim    │                                  │ pause       │ queued, ready
 *   partial,       │ (start_after reached, no blackout holds it) │             │ or completing
 *   cancelled)     ▼                                             │             │ (by phase)
 *              running[initial] ──stopped at a checkpoint──► queued (blackout, quit)
 *                  │  ├─ error ─────────────────────────────► failed (reason class in error)
 *                  │  └─ done, no suspend-when-ready ───────► completed | partial
 *                  │ done, suspend-when-ready
 *                  ▼
 *     ┌──────►  ready (ready to complete) ◄────────────────────┐
 *     │            │ next_sync reached                          │
 *     │            ▼                                            │
 *     │        running[incremental] ── done / stopped ──────────┘
 *     │            │ (a cutover asked for meanwhile: to completing instead)
 *     │  cutover   ▼
 *     └──────► completing ── cutover_at reached, no blackout ──► running[final]
 *                                                                  │ stopped: completing
 *                                                                  ▼
 *                                                       completed | partial | failed
 *
 * cancelled: from queued, paused, ready or completing (never a running job:
 * pause it first).  retry: failed, partial or cancelled go back to where
 * they waited for the pass that ended (queued, ready or completing); a
 * partial job then copies only its failed items (retry-errors).  "scheduled" is not a state: it is a queued job whose
 * start_after is in the future or that a blackout holds, derived for display.
 *
 * Phases (jobs.phase): the pass running, or, for a job waiting ready or
 * completing, the pass it waits for (incremental, final), so that a pause,
 * a retry or a lost process brings the job back to the right waiting
 * state.  The initial pass is the job's own pass kind (full by default);
 * incremental syncs and the final pass are delta passes (only what changed
 * since the last complete pass).  Blackout phases (blackout.h): a job
 * without suspend-when-ready runs one pass that is the whole migration
 * (BO_PHASE_WHOLE); with it, initial and incremental passes are
 * BO_PHASE_INITIAL and the final pass BO_PHASE_FINAL. */
#ifndef MF_LIFECYCLE_H
#define MF_LIFECYCLE_H

#include "blackout.h"
#include "common.h"
#include "store.h"

/* Whether a job may go from one state to the other. */
bool lc_legal(enum job_state from, enum job_state to);
/* ST_OK when legal; else ST_CONFIG with "job N cannot ... : it is STATE"
 * (what names the action: "be cancelled", "be resumed", "finish as X"). */
enum st lc_check(int64_t job_id, enum job_state from, enum job_state to, const char *what,
                 struct err *e);

/* The state a job waits in between passes of this phase: queued before and
 * during the initial pass, ready during incremental syncs, completing
 * during the final pass.  A stopped, paused-and-resumed or orphaned job
 * goes back to it. */
enum job_state lc_waiting_state(enum job_phase p);
/* The phase a claimed job of this waiting state runs. */
enum job_phase lc_phase_for_claim(enum job_state waiting);

/* Where a job goes when its pass ended with status s (not ST_CANCELED):
 * failures fail; an initial or incremental pass of a suspend-when-ready job
 * makes it ready (completing when a cutover was asked for meanwhile);
 * otherwise completed, or partial with skipped/failed items. */
enum job_state lc_after_pass(enum job_phase p, bool suspend_ready, bool cutover_asked, enum st s);

/* The pass kind a phase runs (the job's own for the initial pass). */
enum pass_kind lc_pass_kind(enum job_phase p, enum pass_kind initial);

/* The blackout phase (blackout.h) of a job's pass. */
enum bo_phase lc_bo_phase(enum job_phase p, bool suspend_ready);

#endif
