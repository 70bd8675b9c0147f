/* script.h - admin scripts run at job events (the seed's Settings | Scripts
 * and its migration processing scripts).
 *
 * An event's script is the file named by its configuration key
 * (script_before_first_pass, script_after_completion, script_on_failure,
 * script_at_cutover; "" or unset: none).  It is executed directly
 * (execve of the absolute path, no arguments, no shell in between), so the
 * admin's own "#!" line chooses the interpreter and nothing from a job is
 * ever parsed by a shell.  Its environment is a small base (PATH, HOME,
 * USER, LOGNAME, LANG, LANGUAGE, LC_*, TZ, TMPDIR, from mailferry's own,
 * PATH defaulting to /usr/bin:/bin) plus the job's facts:
 *
 *   MAILFERRY_EVENT            before_first_pass, after_completion,
 *                              on_failure, at_cutover
 *   MAILFERRY_JOB_ID, MAILFERRY_PASS, MAILFERRY_STATE
 *   MAILFERRY_SOURCE_ENDPOINT, MAILFERRY_SOURCE_USER, MAILFERRY_SOURCE_ADDRESS
 *   MAILFERRY_TARGET_ENDPOINT, MAILFERRY_TARGET_USER
 *   MAILFERRY_ITEMS, MAILFERRY_BYTES, MAILFERRY_SKIPPED, MAILFERRY_FAILED
 *   MAILFERRY_ERROR            the job's last error ("" when none)
 *   MAILFERRY_START_AFTER, MAILFERRY_STARTED, MAILFERRY_FINISHED
 *                              unix times, 0 when not set
 *   MAILFERRY_STORE            the store's path
 *
 * Never a password nor a secret reference: nothing else of mailferry's
 * environment is passed on (an "env:VAR" password stays in mailferry).
 * stdin is /dev/null; stdout and stderr go, line by line, into the job's
 * events ("script EVENT: LINE"; the first 64 KiB, then a note that the rest
 * was dropped).  The script runs in its own process group; after
 * script_timeout_s seconds the whole group gets SIGTERM, and SIGKILL five
 * seconds later.
 *
 * What the engine does with the result (engine.c): before_first_pass runs
 * when a job has no pass yet; a failure there *holds* the job (paused,
 * paused_by "script", the reason in its error and events; "resume" runs the
 * script again).  after_completion and on_failure are reported, never
 * change the job's outcome.
 *
 * The cutover hook: whoever performs a cutover calls, with the job still
 * running and before switching anything over,
 *
 *     struct script_result r;
 *     if (script_run(st, cfg, job->id, SCRIPT_AT_CUTOVER, &r, &e))
 *         ... hold the cutover: e.msg is the reason (as before_first_pass) ...
 *
 * Threads: any; each call is independent (posix_spawn, descriptors
 * close-on-exec, no process-wide state changed).  Blocks the calling thread
 * up to the time limit: the console's UI thread never calls it. */
#ifndef MF_SCRIPT_H
#define MF_SCRIPT_H

#include "cfg.h"
#include "common.h"
#include "store.h"

enum script_event {
	SCRIPT_BEFORE_FIRST_PASS,
	SCRIPT_AFTER_COMPLETION,
	SCRIPT_ON_FAILURE,
	SCRIPT_AT_CUTOVER,
	SCRIPT__COUNT
};

/* "before_first_pass", ...: the value of MAILFERRY_EVENT. */
const char *script_event_name(enum script_event ev);
/* The configured script of the event, NULL when none (borrowed from c). */
const char *script_path(const struct cfg *c, enum script_event ev);

struct script_result {
	bool ran;            /* a script was configured and started */
	int exit_code;       /* its exit status; -1 when a signal ended it */
	int signal;          /* the signal that ended it, 0 when none */
	bool timed_out;      /* stopped at script_timeout_s */
	int64_t ms;          /* how long it ran */
	int lines;           /* output lines kept in the events */
};

/* Runs the event's script for job_id and waits for it (at most
 * script_timeout_s, plus the grace before SIGKILL).  ST_OK when no script
 * is configured (r->ran false) or it exited 0.  Otherwise e says what
 * happened, naming the script and the event: ST_CONFIG when it cannot be
 * started (not an absolute path, not executable), ST_TIMEOUT "script X
 * (EVENT) timed out after N s", ST_MAILBOX "script X (EVENT) exited with
 * status N: LAST OUTPUT LINE" (or "was killed by signal N").  Every outcome
 * is also an event of the job. */
enum st script_run(struct store *st, const struct cfg *c, int64_t job_id, enum script_event ev,
                   struct script_result *r, struct err *e);
/* The same, stopping the script (SIGTERM to its group, SIGKILL five seconds
 * later) when *cancel becomes non-zero: ST_CANCELED "script X (EVENT) was
 * stopped: mailferry is stopping".  cancel may be NULL. */
enum st script_run_cancellable(struct store *st, const struct cfg *c, int64_t job_id, enum script_event ev,
                               const volatile int *cancel, struct script_result *r, struct err *e);

#endif
