/* store.h - the SQLite store: the single source of truth for endpoints, jobs,
 * the per-folder message maps, the journal of in-flight copies, events and
 * throughput samples.  Every console view reads it; the engine writes it.
 *
 * Schema: versioned with PRAGMA user_version; store_open migrates an older
 * store forward step by step inside one transaction (see the steps[] table
 * in store.c).  WAL mode, so readers (the console) never block the writer.
 *
 * Threads: a struct store is one SQLite connection; use one per thread.
 * Memory: strings inside returned structs are owned by the struct and freed
 * with the matching *_free function.  Nothing here ever holds a password:
 * endpoints keep a *reference* to where the secret lives (secret.h). */
#ifndef MF_STORE_H
#define MF_STORE_H

#include "common.h"

struct store;

#define STORE_SCHEMA_VERSION 9

enum st store_open(const char *path, struct store **out, struct err *e);
void store_close(struct store **p);
const char *store_path(const struct store *s);

enum st store_begin(struct store *s, struct err *e);
enum st store_commit(struct store *s, struct err *e);
void store_rollback(struct store *s);

/* --- endpoints ----------------------------------------------------------- */
struct endpoint {
	int64_t id;
	char *name;
	char *url;              /* imap://host:port or imaps://host:port */
	char *admin_user;
	char *secret_ref;       /* "file:PATH", "env:VAR", "cmd:CMD", "secret:NAME" */
	char *auth_mech;        /* NULL = automatic */
	char *login_template;   /* NULL = SASL authzid */
	bool insecure;          /* TLS verification off (explicit) */
	int max_connections;
	int64_t forest_id;      /* 0 = in no forest */
};
void endpoint_free(struct endpoint *ep);
enum st store_endpoint_add(struct store *s, const struct endpoint *ep, struct err *e);
/* Rewrites every field of endpoint ep->id (same checks as add). */
enum st store_endpoint_update(struct store *s, const struct endpoint *ep, struct err *e);
/* ST_CONFIG with "no endpoint named X" when missing. */
enum st store_endpoint_get(struct store *s, const char *name, struct endpoint *out, struct err *e);
enum st store_endpoint_get_id(struct store *s, int64_t id, struct endpoint *out, struct err *e);
enum st store_endpoint_remove(struct store *s, const char *name, struct err *e);
/* Calls fn for every endpoint, ordered by name. */
enum st store_endpoint_each(struct store *s, void (*fn)(void *ctx, const struct endpoint *ep),
                            void *ctx, struct err *e);
/* Puts an endpoint in a forest (forest_id 0: in none). */
enum st store_endpoint_set_forest(struct store *s, const char *endpoint_name, int64_t forest_id,
                                  struct err *e);

/* --- forests --------------------------------------------------------------
 * A forest is a directory (an AD forest, an LDAP tree, a cloud tenant) whose
 * endpoints and mailboxes migrate together.  At most one forest has the
 * role 'target' and at most one the role 'tenant'. */
struct forest {
	int64_t id;
	char *name;
	char *role;             /* "source", "target" or "tenant" */
	char *dir_url;          /* ldap[s]://host, NULL = no directory */
	char *dir_bind_dn;
	char *dir_secret_ref;   /* a secret reference as for endpoints, never the secret */
	char *dir_base_dn;
	char *dir_filter;
	char *scope;            /* newline-separated OUs/sites to include; NULL or "" = all */
	bool allow_postpone;    /* users may postpone their own migration */
	char *blackout_mode;    /* "entire", "initial" or "final" (NULL: "entire") */
	char *dir_hwm;          /* read only: high-water mark of the last complete discovery
	                         * ("usn:N" or "ts:YYYYMMDDHHMMSSZ"), NULL = none; add and
	                         * update ignore it, store_forest_set_hwm writes it */
	char *dir_attrs;        /* read only: the directory attribute map, "field=attribute"
	                         * lines (directory.h), NULL = none; add and update ignore
	                         * it, store_forest_set_attrs writes it */
};
void forest_free(struct forest *f);
/* Sets f->id.  ST_CONFIG for a duplicate name, an unknown role or blackout
 * mode, or a second target/tenant ("there is already a target forest, X"). */
enum st store_forest_add(struct store *s, struct forest *f, struct err *e);
/* Rewrites every field of forest f->id (same checks as add).  A change of
 * the directory URL, base DN, filter or scope forgets the high-water mark,
 * so the next discovery is a full one. */
enum st store_forest_update(struct store *s, const struct forest *f, struct err *e);
/* ST_CONFIG "no forest named X" when missing; *out owned by the caller. */
enum st store_forest_get(struct store *s, const char *name, struct forest *out, struct err *e);
enum st store_forest_get_id(struct store *s, int64_t id, struct forest *out, struct err *e);
/* Calls fn for every forest, ordered by name; f is valid during the call. */
enum st store_forest_each(struct store *s, void (*fn)(void *ctx, const struct forest *f),
                          void *ctx, struct err *e);
/* Removes a forest with, in one transaction, its endpoints and everything
 * hanging off them: mailboxes, delegations, pairs, jobs, passes, maps,
 * events, commands, samples and the blackouts of its mailboxes.  The target
 * forest cannot be removed (ST_CONFIG). */
enum st store_forest_remove(struct store *s, int64_t id, struct err *e);
/* Records the high-water mark of a complete discovery (NULL forgets it). */
enum st store_forest_set_hwm(struct store *s, int64_t id, const char *hwm, struct err *e);
/* Writes forest id's attribute map (NULL or "": none); a change forgets
 * the high-water mark, since other attributes make other mailboxes. */
enum st store_forest_set_attrs(struct store *s, int64_t id, const char *attrs, struct err *e);

/* --- jobs ---------------------------------------------------------------- */
enum pass_kind { PASS_FULL, PASS_DELTA, PASS_PRESTAGE, PASS_TRIAL, PASS_VERIFY_CREDENTIALS };
const char *pass_kind_name(enum pass_kind k);
bool pass_kind_parse(const char *s, enum pass_kind *out);

/* Job states; the lifecycle (diagram and legal transitions) is in
 * lifecycle.h.  READY and COMPLETING were added after CANCELLED so stored
 * values and arrays indexed by the older states keep their places. */
enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_COMPLETED, JOB_PARTIAL, JOB_FAILED, JOB_PAUSED,
                 JOB_CANCELLED,
                 JOB_READY,          /* suspended: ready to complete, waiting for cutover */
                 JOB_COMPLETING,     /* cutover asked for: the final pass is due (at cutover_at) */
                 JOB__COUNT };
/* The stored name: "queued", ..., "ready", "completing". */
const char *job_state_name(enum job_state s);
/* The name for people: "ready to complete" for READY, else the stored name. */
const char *job_state_label(enum job_state s);

/* Which pass of a job's life runs (or ran last): the initial full pass,
 * an incremental (delta) sync while ready, or the final delta at cutover. */
enum job_phase { PHASE_INITIAL, PHASE_INCREMENTAL, PHASE_FINAL };
const char *job_phase_name(enum job_phase p);      /* "initial", "incremental", "final" */

struct job_opts {
	enum pass_kind pass;
	int prestage_days;
	int trial_items;
	char *include;          /* newline-separated regexes, NULL for none */
	char *exclude;
	char *folder_map;       /* newline-separated SRC=DST */
	int64_t max_size;       /* 0: no limit besides the target's */
	int bad_item_limit;
	char sep_char;
};

struct job {
	int64_t id;
	int64_t pair_id;
	int64_t src_ep, dst_ep;
	char *src_user, *dst_user;
	enum job_state state;
	int priority;
	struct job_opts o;
	int64_t items_done, bytes_done, items_skipped, items_failed, flags_updated;
	int attempts;
	char *error;
	/* Scheduling, set at store_job_add (zero: none). */
	int64_t start_after;    /* not claimed before this unix time */
	bool suspend_ready;     /* stop short of cutover when ready (for the scheduler) */
	bool notify_user;       /* tell the mailbox owner (for the scheduler) */
	/* Lifecycle (lifecycle.h). */
	enum job_phase phase;   /* of the pass running or last run */
	int64_t next_sync;      /* ready: the next incremental sync is due then (0: none) */
	int64_t cutover_at;     /* cutover asked for: the final pass not before then (0: none) */
	bool retry_errors;      /* the next pass retries only the failed items */
};
void job_free(struct job *j);

/* The pair (source endpoint+user, target endpoint+user) owns the maps. */
enum st store_pair_get(struct store *s, int64_t src_ep, const char *src_user, int64_t dst_ep,
                       const char *dst_user, int64_t *pair_id, struct err *e);
enum st store_job_add(struct store *s, struct job *j, struct err *e); /* sets j->id, pair_id */
/* Whether the pair has a job queued, running or paused (false when the
 * pair does not exist). */
enum st store_pair_active(struct store *s, int64_t src_ep, const char *src_user, int64_t dst_ep,
                          const char *dst_user, bool *active, struct err *e);
enum st store_job_get(struct store *s, int64_t id, struct job *out, struct err *e);
/* Claims the next job that can run now (priority, then place; see
 * store_job_claim_unheld) for this worker: sets it running.  Skips jobs whose
 * mailbox pair is already running and jobs whose endpoints are at their
 * connection limit.  *found false when nothing can start now
 * (store_job_counts tells whether anything still waits). */
enum st store_job_claim(struct store *s, struct job *out, bool *found, struct err *e);
/* Whether a claimable job is held now (by a blackout): the claim skips it.
 * Called inside the claim's write transaction; must not use the store. */
typedef bool (*store_hold_fn)(void *ctx, int64_t src_ep, const char *src_user, enum job_phase phase,
                              bool suspend_ready);
/* The claim of the lifecycle: the first job in queue order (priority, then
 * position) among queued jobs whose start_after has come, ready jobs whose
 * incremental sync is due (next_sync) and completing jobs whose cutover
 * time has come, that held (may be NULL) does not hold, with the same
 * pair and connection rules as store_job_claim (which is this without a
 * hold).  host_limit > 0 also caps the connections to one server (the
 * host of the endpoints' URLs, whatever the port): each running job holds
 * one on the host of each of its endpoints.  The job runs the phase of the
 * state it waited in (lifecycle.h). */
enum st store_job_claim_unheld(struct store *s, store_hold_fn held, void *ctx, int host_limit,
                               struct job *out, bool *found, struct err *e);
/* Other jobs of the pair still marked running while we hold the pair's lock
 * were cut off by a killed process: they are marked failed with reason. */
enum st store_job_close_interrupted(struct store *s, int64_t pair_id, int64_t except_id,
                                    const char *reason, struct err *e);
/* Marks a job running now (a foreground migrate runs its job directly). */
enum st store_job_start(struct store *s, struct job *j, struct err *e);
/* Console actions on one job.  Each returns ST_CONFIG with a reason an
 * admin can read when the job is not in a state that allows it. */
enum st store_job_cancel(struct store *s, int64_t id, struct err *e);   /* queued, paused */
/* Retry of a failed, partial or cancelled job: back to where it waits for
 * its phase (queued, ready or completing).  A partial job retries only its
 * failed items (retry_errors) unless full; a failed or cancelled one
 * resumes its pass.  *errors_only (may be NULL) says which. */
enum st store_job_retry_pass(struct store *s, int64_t id, bool full, bool *errors_only, struct err *e);
enum st store_job_retry(struct store *s, int64_t id, struct err *e);    /* retry_pass, not full */
/* Cutover of a suspend-when-ready job: a ready job becomes completing, its
 * final pass due at `at` (0: now); a completing job gets the new time; a
 * queued, running or paused one keeps the time and completes after its
 * current pass instead of waiting ready.  ST_CONFIG for a job without
 * suspend-when-ready or a finished one.  *now_state (may be NULL): its
 * state afterwards. */
enum st store_job_cutover(struct store *s, int64_t id, int64_t at, enum job_state *now_state,
                          struct err *e);
/* The cutover time asked for (0: none). */
enum st store_job_cutover_at(struct store *s, int64_t id, int64_t *at, struct err *e);
/* Endpoint-wide pause: every queued, ready or completing job with the
 * endpoint on either side is paused with paused_by = by ("endpoint NAME:
 * why"); *n gets how many, *already how many were paused so before (by a
 * job of another worker that met the refusal first).  Resume undoes only
 * such pauses (not an admin's), each job back to where it waited. */
enum st store_endpoint_pause_jobs(struct store *s, int64_t endpoint_id, const char *by, int64_t *n,
                                  int64_t *already, struct err *e);
enum st store_endpoint_resume_jobs(struct store *s, int64_t endpoint_id, int64_t *n, struct err *e);
enum st store_job_move(struct store *s, int64_t id, bool to_top, struct err *e); /* queued */
/* Moves a queued job one place up (earlier) or down in the queue order
 * (priority, then position) by swapping it with its neighbour among the
 * queued jobs; at either end nothing changes. */
enum st store_job_move_step(struct store *s, int64_t id, bool up, struct err *e);
/* Pause: a queued job is paused at once; for a running job a 'pause'
 * command is recorded and the engine running it (in any process) stops it
 * at its next checkpoint and marks it paused (store_job_get tells which
 * happened).  Other states: ST_CONFIG with the reason. */
enum st store_job_pause(struct store *s, int64_t id, struct err *e);
/* Paused -> queued, keeping its place in the queue.  A running job whose
 * pause is still pending has the pause withdrawn.  Else ST_CONFIG. */
enum st store_job_resume(struct store *s, int64_t id, struct err *e);
/* Ends a job stopped at a checkpoint as paused; by says who asked
 * ("admin", "shutdown") and is kept in jobs.paused_by. */
enum st store_job_finish_paused(struct store *s, const struct job *j, const char *by,
                                struct err *e);
/* The same with the reason kept in the job's error (by "script": a
 * failing before-first-pass script holds the job; reason says why). */
enum st store_job_hold(struct store *s, const struct job *j, const char *by, const char *reason,
                       struct err *e);
/* Jobs left "running" by a killed process go back to the queue. */
enum st store_job_requeue_orphans(struct store *s, struct err *e);
enum st store_job_finish(struct store *s, const struct job *j, enum job_state state,
                         const char *error, struct err *e);
enum st store_job_progress(struct store *s, const struct job *j, const char *folder,
                           struct err *e);
/* Counts of jobs by state, for the progress line. */
enum st store_job_counts(struct store *s, int64_t counts[JOB__COUNT], struct err *e);
/* The smallest connection limit among the endpoints of queued jobs (0 when
 * nothing is queued) and that endpoint's name (caller frees). */
enum st store_queue_conn_limit(struct store *s, int *limit, char **endpoint, struct err *e);
/* Messages and bytes copied by jobs started at or after since. */
enum st store_run_totals(struct store *s, int64_t since, int64_t *items, int64_t *bytes,
                         struct err *e);
enum st store_job_each(struct store *s, bool all, void (*fn)(void *ctx, const struct job *j,
                       const char *src_ep, const char *dst_ep), void *ctx, struct err *e);

/* Job rows for the console.  fn is called for every job whose revision is
 * above since_rev (0: every job), in queue order (priority, position).
 * The strings in *r are owned by the store and valid only during the call.
 * *max_rev (may be NULL) gets the highest revision in the store, to pass as
 * since_rev next time.  Deleted jobs are not reported: compare
 * store_job_total with the number of rows held. */
struct job_row {
	int64_t id;
	enum job_state state;
	enum pass_kind pass;
	int priority;
	int64_t queue_pos;          /* second key of the queue order */
	const char *src_endpoint, *src_user, *dst_endpoint, *dst_user;
	int64_t src_ep_id, dst_ep_id;
	int64_t items_done, bytes_done, items_skipped, items_failed;
	const char *current_folder; /* NULL when not inside a folder */
	int64_t started, finished, created, start_after;   /* unix times, 0 = never */
	const char *error;          /* NULL when none */
	const char *paused_by;      /* NULL unless paused: "admin", "shutdown" */
	int attempts;
	bool suspend_ready, notify_user;
	int64_t rev;
	int64_t src_size_bytes, src_items;   /* the source mailbox's known size, -1 unknown */
	enum job_phase phase;
	int64_t next_sync, cutover_at, ready_at;   /* unix times, 0 = none (see struct job) */
	bool retry_errors;
};
enum st store_job_rows(struct store *s, int64_t since_rev,
                       void (*fn)(void *ctx, const struct job_row *r), void *ctx,
                       int64_t *max_rev, struct err *e);
/* The row of one job (fn is not called when there is no such job). */
enum st store_job_row(struct store *s, int64_t id, void (*fn)(void *ctx, const struct job_row *r),
                      void *ctx, struct err *e);
enum st store_job_total(struct store *s, int64_t *n, struct err *e);
/* The store-wide revision: every insert or update of a job or a mailbox
 * takes the next value (triggers in the schema, so no writer can forget). */
enum st store_rev(struct store *s, int64_t *rev, struct err *e);

/* Passes of a job, oldest first (strings valid during the call; finished
 * 0 and result NULL while the pass runs). */
enum st store_pass_each(struct store *s, int64_t job_id,
                        void (*fn)(void *ctx, int64_t id, const char *kind, int64_t started,
                                   int64_t finished, const char *result, int64_t copied,
                                   int64_t bytes, int64_t skipped, int64_t failed,
                                   int64_t reflagged),
                        void *ctx, struct err *e);

/* --- commands: requests to whichever engine runs a job ---------------------
 * The console and the CLI write them; every engine (any process) polls. */
struct command {
	int64_t id;
	int64_t ts;
	int64_t job_id;
};
/* Pending commands with this verb ("pause"), oldest first; *out owned by
 * the caller (free()). */
enum st store_command_pending(struct store *s, const char *verb, struct command **out, size_t *n,
                              struct err *e);
enum st store_command_done(struct store *s, int64_t id, struct err *e);
/* Settles pause commands no engine can act on: jobs no longer running are
 * paused if queued (a pause that raced with the job leaving its worker),
 * and the command is closed; commands of vanished jobs are closed. */
enum st store_command_settle(struct store *s, struct err *e);

/* --- mailboxes ------------------------------------------------------------
 * One row per mailbox known on an endpoint: imported from a directory or a
 * CSV, or created when a job for it is queued.  status and last_pass follow
 * the mailbox's latest job (triggers on jobs). */
struct mailbox_row {
	int64_t id;
	int64_t endpoint_id;
	const char *endpoint;       /* rows only */
	int64_t forest_id;          /* rows only; 0 = none */
	const char *login, *address, *display_name, *site, *database;
	const char *kind;           /* "user", "shared", "room", "equipment" (NULL: unknown) */
	int64_t size_bytes, items, folders;   /* -1 = unknown */
	const char *status;         /* rows only: state of its latest job, NULL if none */
	int64_t last_pass;          /* rows only */
	int64_t delegates;          /* rows only: how many delegates it has */
	int64_t rev;                /* rows only */
	bool vanished;              /* rows only: the directory no longer returns it */
	const char *dir_key;        /* directory key (objectGUID, entryUUID or DN); NULL: none.
	                             * Written by store_mailbox_discovered only. */
	const char *upn;            /* user principal name, lower case; NULL: unknown */
	const char *proxy_addresses;/* every SMTP address, lower case, newline-separated
	                             * (match_addresses_norm makes one); NULL: unknown */
	int64_t match_id;           /* rows only: the target mailbox of the last forest match, 0 none */
	const char *match_state;    /* rows only: "matched", "conflict", "unmatched"; NULL: never matched */
	const char *match_key;      /* rows only: the key that decided it ("address a@b", ...) */
};
/* Adds or updates the mailbox (endpoint_id, login): NULL strings and -1
 * numbers leave what is stored; status is not touched.  *id (may be NULL)
 * gets the row id.  ST_CONFIG for an unknown kind or a missing login. */
enum st store_mailbox_upsert(struct store *s, const struct mailbox_row *m, int64_t *id,
                             struct err *e);
/* Like store_job_rows, for mailboxes of one forest (0 = all), ordered by
 * endpoint name then login.  Strings valid during the call only. */
enum st store_mailbox_rows(struct store *s, int64_t forest_id, int64_t since_rev,
                           void (*fn)(void *ctx, const struct mailbox_row *r), void *ctx,
                           int64_t *max_rev, struct err *e);
enum st store_mailbox_total(struct store *s, int64_t *n, struct err *e);
/* How many mailboxes each endpoint has (endpoints without any: no call). */
enum st store_mailbox_counts(struct store *s, void (*fn)(void *ctx, int64_t endpoint_id, int64_t mailboxes),
                             void *ctx, struct err *e);
/* Mailboxes counted by site and status (NULL: none yet / not queued),
 * with their known items and bytes, ordered by site then status. */
enum st store_mailbox_summary(struct store *s, void (*fn)(void *ctx, const char *site, const char *status,
                              int64_t mailboxes, int64_t items, int64_t bytes),
                              void *ctx, struct err *e);
/* The address and display name known for (endpoint_id, login), each NULL
 * when not known (or no such mailbox); caller frees both. */
enum st store_mailbox_contact(struct store *s, int64_t endpoint_id, const char *login, char **address,
                              char **display_name, struct err *e);
/* The mailbox id of (endpoint_id, login); ST_CONFIG when unknown. */
enum st store_mailbox_id(struct store *s, int64_t endpoint_id, const char *login, int64_t *id,
                         struct err *e);

/* --- directory discovery ------------------------------------------------------
 * Written by directory.c.  A mailbox the directory stops returning is marked
 * vanished, never deleted (its jobs and history stay). */
enum discovered { DISC_SAME, DISC_ADDED, DISC_CHANGED, DISC_RENAMED };
/* Upserts m (as store_mailbox_upsert) with m->dir_key, clearing vanished,
 * and says whether the row is new, differs from what was stored (a field the
 * directory gave, the key, or a vanished row back), or is the same (then
 * nothing is written).  *id gets the row id.
 * Renames: when no row has m->login but one of the endpoint has m->dir_key
 * under another login, the directory renamed that entry: the row takes the
 * new login in place (same id, so its jobs, history, delegations and match
 * stay) and so do the jobs' pairs naming the old login (source or target
 * side); outcome DISC_RENAMED, *old_login (may be NULL) gets the old login
 * (caller frees; else NULL).  When a pair already names the new login the
 * rename is not made and the row is added as new (DISC_ADDED). */
enum st store_mailbox_discovered(struct store *s, const struct mailbox_row *m, int64_t *id,
                                 enum discovered *outcome, char **old_login, struct err *e);
/* Every mailbox of the endpoint with a directory key; strings valid during
 * the call. */
enum st store_mailbox_dir_keys(struct store *s, int64_t endpoint_id,
                               void (*fn)(void *ctx, int64_t id, const char *dir_key, bool vanished),
                               void *ctx, struct err *e);
enum st store_mailbox_set_vanished(struct store *s, int64_t id, struct err *e);

/* --- identity matching (written by match.c) ---------------------------------
 * The last `forest match` result of a source mailbox.  dst_id 0 and state
 * NULL clear it.  A row whose result is unchanged is not written (its
 * revision stays). */
enum st store_match_set(struct store *s, int64_t src_id, int64_t dst_id, const char *state,
                        const char *key, struct err *e);
/* Every mailbox of endpoint src_ep not vanished, by login: its match state
 * (NULL: never matched) and, when matched, the target mailbox's endpoint
 * and login (else 0 and NULL).  Strings valid during the call. */
enum st store_matched_each(struct store *s, int64_t src_ep,
                           void (*fn)(void *ctx, const char *src_login, const char *match_state,
                                      int64_t dst_ep, const char *dst_login),
                           void *ctx, struct err *e);

/* --- delegation -------------------------------------------------------------
 * delegate_id has rights (e.g. "FullAccess;SendAs") on mailbox_id; origin
 * says where that was learnt ("csv", "directory", "acl": mailbox measure). */
enum st store_delegate_add(struct store *s, int64_t mailbox_id, int64_t delegate_id,
                           const char *rights, const char *origin, struct err *e);
/* Removes the delegates of mailbox_id learnt from origin (before they are
 * learnt again). */
enum st store_delegate_clear(struct store *s, int64_t mailbox_id, const char *origin, struct err *e);
/* Every delegation among mailboxes of a forest (0 = all); strings valid
 * during the call. */
enum st store_delegate_each(struct store *s, int64_t forest_id,
                            void (*fn)(void *ctx, int64_t mailbox_id, const char *login,
                                       const char *display, int64_t delegate_id,
                                       const char *delegate_login, const char *delegate_display,
                                       const char *rights),
                            void *ctx, struct err *e);
/* The delegation-linked set of mailbox_id: every mailbox reachable through
 * delegations in either direction, itself included, sorted by id (so they
 * can be queued together).  *ids owned by the caller (free()). */
enum st store_delegate_set(struct store *s, int64_t mailbox_id, int64_t **ids, size_t *n,
                           struct err *e);

/* --- blackout times ---------------------------------------------------------
 * Windows in which no migration runs (for a site, a mailbox, or everyone). */
struct blackout {
	int64_t id;
	char *name;
	char *site;             /* NULL = every site */
	int64_t mailbox_id;     /* 0 = not for one mailbox */
	char *login;            /* read only: the mailbox's login, for display */
	char *tz;               /* IANA zone the window was given in; NULL = local time */
	int64_t start_ts, end_ts;   /* unix times */
	bool weekly;            /* repeats every week */
	char *mode;             /* "entire", "initial", "final"; NULL = the forest's */
};
void blackout_free(struct blackout *b);
/* Validation (ST_CONFIG, naming the field): name non-empty, end after start,
 * tz a zone under /usr/share/zoneinfo ($TZDIR) or NULL, known mode, and an
 * existing mailbox.  add sets b->id. */
enum st store_blackout_add(struct store *s, struct blackout *b, struct err *e);
enum st store_blackout_update(struct store *s, const struct blackout *b, struct err *e);
enum st store_blackout_remove(struct store *s, int64_t id, struct err *e);
enum st store_blackout_get(struct store *s, int64_t id, struct blackout *out, struct err *e);
/* Ordered by start; b valid during the call. */
enum st store_blackout_each(struct store *s, void (*fn)(void *ctx, const struct blackout *b),
                            void *ctx, struct err *e);
/* A number that changes when any blackout window or forest blackout mode
 * does: engines reload their windows (bo_load) only then. */
enum st store_blackout_signature(struct store *s, int64_t *sig, struct err *e);

/* --- folders and the message map ------------------------------------------ */
struct folder_row {
	int64_t id;
	char *src_name, *dst_name;
	uint32_t src_uidvalidity, dst_uidvalidity;
	uint32_t src_uidnext;
	uint64_t src_modseq;        /* HIGHESTMODSEQ after the last complete pass */
};
void folder_row_free(struct folder_row *f);
enum st store_folder_get(struct store *s, int64_t pair_id, const char *src_name,
                         struct folder_row *out, struct err *e); /* creates the row */
enum st store_folder_update(struct store *s, const struct folder_row *f, struct err *e);

struct map_entry {
	uint32_t src_uid;
	uint32_t dst_uid;
	uint64_t size;
	char *flags;                /* as last written to the target; owned */
	unsigned char hash[32];     /* SHA-256 of the message bytes */
};
/* Loads the map of a folder sorted by src_uid; *out owned by the caller
 * (free with map_free). */
enum st store_map_load(struct store *s, int64_t folder_id, struct map_entry **out, size_t *n,
                       struct err *e);
void map_free(struct map_entry *m, size_t n);
enum st store_map_put(struct store *s, int64_t folder_id, const struct map_entry *m, struct err *e);
enum st store_map_set_flags(struct store *s, int64_t folder_id, uint32_t src_uid,
                            const char *flags, struct err *e);
enum st store_map_del(struct store *s, int64_t folder_id, uint32_t src_uid, struct err *e);
enum st store_map_clear(struct store *s, int64_t folder_id, struct err *e);

/* Journal: a row per message whose APPEND may have reached the target but
 * whose target UID is not yet in the map.  Written and committed before the
 * APPEND is sent. */
struct journal_entry {
	uint32_t src_uid;
	uint32_t dst_uidvalidity;
	uint32_t dst_uidnext;       /* target UIDNEXT before the batch */
	uint64_t size;
};
enum st store_journal_add(struct store *s, int64_t folder_id, const struct journal_entry *j,
                          struct err *e);
enum st store_journal_del(struct store *s, int64_t folder_id, uint32_t src_uid, struct err *e);
enum st store_journal_load(struct store *s, int64_t folder_id, struct journal_entry **out,
                           size_t *n, struct err *e);

/* --- reports ---------------------------------------------------------------- */
enum st store_skipped_add(struct store *s, int64_t job_id, int64_t folder_id, const char *folder,
                          uint32_t src_uid, const char *subject, uint64_t size,
                          const char *reason, struct err *e);
enum st store_skipped_each(struct store *s, int64_t job_id,
                           void (*fn)(void *ctx, int64_t job, const char *folder, uint32_t uid,
                                      const char *subject, uint64_t size, const char *reason),
                           void *ctx, struct err *e);
/* The same rows (every job's when job_id is 0) with whether each is a
 * failed item (retried by `retry`, retry-errors) or skipped for good (too
 * big for the target, say).  Strings valid during the call. */
struct skipped_row {
	int64_t job;
	const char *folder;
	uint32_t uid;
	const char *subject;        /* NULL: not known */
	uint64_t size;
	const char *reason;
	bool failed;
};
enum st store_skipped_rows(struct store *s, int64_t job_id, void (*fn)(void *ctx, const struct skipped_row *r),
                           void *ctx, struct err *e);

/* Failed items (an APPEND refused for this message, a body the source
 * could not read): kept in the skipped list marked failed, so retry-errors
 * (jobs.retry_errors) copies exactly these again.  done forgets one that
 * is now on the target; count is the job's failed items left. */
enum st store_item_failed_add(struct store *s, int64_t job_id, int64_t folder_id, const char *folder,
                              uint32_t src_uid, uint64_t size, const char *reason, struct err *e);
enum st store_failed_uids(struct store *s, int64_t job_id, int64_t folder_id, uint32_t **out, size_t *n,
                          struct err *e);
enum st store_failed_done(struct store *s, int64_t job_id, int64_t folder_id, uint32_t src_uid,
                          struct err *e);
enum st store_failed_count(struct store *s, int64_t job_id, int64_t *n, struct err *e);

/* Skipped rows of a job's folder still without a subject (ids sorted;
 * caller frees), and setting it afterwards. */
enum st store_skipped_without_subject(struct store *s, int64_t job_id, int64_t folder_id,
                                      uint32_t **out, size_t *n, struct err *e);
enum st store_skipped_set_subject(struct store *s, int64_t job_id, int64_t folder_id,
                                  uint32_t src_uid, const char *subject, struct err *e);
/* Source UIDs recorded as skipped in a folder, sorted; caller frees *out. */
enum st store_skipped_uids(struct store *s, int64_t folder_id, uint32_t **out, size_t *n,
                           struct err *e);

enum event_level { EV_ERROR, EV_WARN, EV_INFO };
/* Best effort: a failure to log an event is itself only logged. */
void store_event(struct store *s, enum event_level lvl, int64_t job_id, const char *fmt, ...)
	PRINTF_LIKE(4, 5);
enum st store_event_each(struct store *s, int64_t job_id, int limit,
                         void (*fn)(void *ctx, int64_t ts, int level, int64_t job, const char *msg),
                         void *ctx, struct err *e);

/* A pass of a job: pass_begin returns its id; pass_end records the outcome
 * and the counts the pass added. */
enum st store_pass_begin(struct store *s, int64_t job_id, const char *kind, int64_t *pass_id,
                         struct err *e);
enum st store_pass_end(struct store *s, int64_t pass_id, const char *result, int64_t copied,
                       int64_t bytes, int64_t skipped, int64_t failed, int64_t reflagged,
                       struct err *e);

/* Throughput per minute, newest last, at most limit minutes. */
enum st store_sample_minutes(struct store *s, int limit,
                             void (*fn)(void *ctx, int64_t minute, int64_t items, int64_t bytes),
                             void *ctx, struct err *e);

enum st store_sample(struct store *s, int64_t endpoint_id, int64_t items, int64_t bytes,
                     struct err *e);
/* Throughput per endpoint since a time: for each endpoint with samples at
 * or after since, the items and bytes and how many distinct minutes had
 * samples (the forecast's measured rate: bytes over those minutes). */
enum st store_sample_endpoints(struct store *s, int64_t since,
                               void (*fn)(void *ctx, int64_t endpoint_id, int64_t items, int64_t bytes,
                                          int64_t minutes),
                               void *ctx, struct err *e);
/* Samples per minute and endpoint from since on (endpoint_id 0: every
 * endpoint), oldest first; endpoint_id in the call is the sample's (0 for
 * samples without one).  For the Metrics history and its CSV export. */
enum st store_sample_history(struct store *s, int64_t since, int64_t endpoint_id,
                             void (*fn)(void *ctx, int64_t minute, int64_t endpoint_id, int64_t items,
                                        int64_t bytes),
                             void *ctx, struct err *e);

/* Jobs that ended completed or partial at or after since: their finish
 * time and target endpoint (mailboxes done, for the Metrics). */
enum st store_finished_each(struct store *s, int64_t since,
                            void (*fn)(void *ctx, int64_t finished, int64_t dst_ep), void *ctx, struct err *e);

/* Per folder of a mailbox pair (the report): the messages the map holds
 * (on the target) with their bytes, and the items job_id skipped there;
 * ordered by source name.  Strings valid during the call. */
enum st store_folder_stats(struct store *s, int64_t pair_id, int64_t job_id,
                           void (*fn)(void *ctx, const char *src_name, const char *dst_name, int64_t items,
                                      int64_t bytes, int64_t skipped),
                           void *ctx, struct err *e);

/* The last verify verdict ("... messages of LOGIN are on the target ...",
 * migrate.c mig_verdict) written for job_id, or by `mailferry verify` for
 * login (no job) at or after since; *out NULL when none.  Caller frees. */
enum st store_verify_verdict(struct store *s, int64_t job_id, const char *login, int64_t since, char **out,
                             struct err *e);

/* --- forecasts (forecast.c) ------------------------------------------------------
 * The schedule forecast of a job, as last made while it was queued: put
 * does nothing once the job has left the queue, so what stays is the
 * forecast it started under, to compare with what happened. */
enum st store_forecast_put(struct store *s, int64_t job_id, int64_t made, int64_t est_start, int64_t est_end,
                           double rate, const char *basis, struct err *e);
struct forecast_row {
	int64_t job_id, made, est_start, est_end;   /* est_*: INT64_MAX when it could not start */
	double rate;                /* bytes/s */
	const char *basis;          /* "measured", "default" */
	enum job_state state;
	int64_t started, finished;  /* 0: not yet */
	const char *src_ep, *src_user, *dst_ep, *dst_user;
};
/* Every recorded forecast (job_id 0) or one job's, by job id; strings
 * valid during the call. */
enum st store_forecast_each(struct store *s, int64_t job_id,
                            void (*fn)(void *ctx, const struct forecast_row *r), void *ctx, struct err *e);

/* --- health checks (read only) --------------------------------------------- */
/* The largest message known to be bound for endpoint dst_ep: copied there
 * (the map) or skipped on the way (the skipped list); *size 0 when none. */
enum st store_largest_item(struct store *s, int64_t dst_ep, int64_t *size, struct err *e);

/* --- measure (read only) ------------------------------------------------------
 * Added for mailbox measure (src/measure.c); schema unchanged. */
/* Where the delegation mailbox_id <- delegate_id was learnt ("csv",
 * "directory", "acl"; "" when not recorded); *origin NULL when there is no
 * such delegation.  Caller frees *origin. */
enum st store_delegate_origin(struct store *s, int64_t mailbox_id, int64_t delegate_id,
                              char **origin, struct err *e);

/* --- forest alerts ------------------------------------------------------------
 * The latest health check of each forest (health.c), so that marks and
 * fixes outlive the process that found them: cleared and written again in
 * one transaction per check run.  level is enum health_level (health.h). */
enum st store_alerts_clear(struct store *s, int64_t forest_id, struct err *e);
enum st store_alert_add(struct store *s, int64_t forest_id, const char *endpoint, const char *check, int level,
                        const char *detail, const char *fix, struct err *e);
/* Every alert of forest_id (0: all forests), in the order found; strings
 * valid during the call. */
enum st store_alert_each(struct store *s, int64_t forest_id,
                         void (*fn)(void *ctx, int64_t forest_id, const char *endpoint, const char *check,
                                    int level, const char *detail, const char *fix, int64_t ts),
                         void *ctx, struct err *e);

/* --- notices sent once (notice.c) ---------------------------------------------
 * A row per notice (kind "before" per job, "summary" per day): claiming
 * inserts it, and only the caller that inserted it (*claimed true) sends;
 * so two processes never send the same notice.  job_id 0 and day NULL when
 * the notice is not about a job or a day.  A notice that could not be sent
 * is released, to be tried again later. */
enum st store_notice_claim(struct store *s, const char *kind, int64_t job_id, const char *day, bool *claimed,
                           struct err *e);
enum st store_notice_release(struct store *s, const char *kind, int64_t job_id, const char *day, struct err *e);
/* When the notice was claimed (unix time), 0 when never. */
enum st store_notice_sent(struct store *s, const char *kind, int64_t job_id, const char *day, int64_t *sent_ts,
                          struct err *e);

/* --- sites (read only; the Forests view's Sites and Licenses tabs) -------------
 * The mailboxes of forest_id not vanished, by site ("" : none known), with
 * their known size and how many of each kind (NULL kind counts as user). */
struct site_row {
	const char *site;
	int64_t mailboxes, bytes;
	int64_t user, shared, room, equipment;
};
enum st store_site_each(struct store *s, int64_t forest_id, void (*fn)(void *ctx, const struct site_row *r),
                        void *ctx, struct err *e);

#endif
