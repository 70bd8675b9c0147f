/* notify.h - e-mail to mailbox owners and admins: templates with
 * {placeholders} filled from a job's facts, sent through SMTP (libcurl),
 * with the server's own answer when it refuses.
 *
 * A template is TEMPLATES_DIR/NAME.txt: a "Subject: ..." line, an empty
 * line, then the body.  Placeholders are {name}; "{{" writes "{".  An
 * unknown placeholder is an error naming the file and line, found when the
 * template is rendered (notify_render) and before anything is sent.
 *
 * Memory: notify_vars holds borrowed pointers (valid while it is used);
 * rendered subject and body belong to the caller.  Thread: any (each call
 * uses its own libcurl handle). */
#ifndef MF_NOTIFY_H
#define MF_NOTIFY_H

#include "cfg.h"
#include "common.h"
#include "store.h"

#define NOTIFY_MAX_VARS 32

struct notify_vars {
	const char *name[NOTIFY_MAX_VARS];
	const char *value[NOTIFY_MAX_VARS];
	int n;
};

/* The placeholders templates may use, for messages and the manual
 * ("report" and "mailboxes": the statistics report, report.h). */
extern const char *const notify_placeholders[];

/* Sets name (one of notify_placeholders) to value; NULL value: "". */
void notify_set(struct notify_vars *v, const char *name, const char *value);

/* The folder templates are read from: cfg templates_dir, else the
 * installed one.  Caller frees. */
char *notify_templates_dir(const struct cfg *c);

/* Renders DIR/NAME.txt.  ST_CONFIG for a missing file, a missing Subject
 * line or an unknown placeholder ("FILE:LINE: unknown placeholder {x}"). */
enum st notify_render(const char *dir, const char *name, const struct notify_vars *v, char **subject,
                      char **body, struct err *e);

/* Sends one message to the comma-separated addresses in to.  On failure e
 * says what went wrong and, when the server answered, its exact words;
 * answer (may be NULL) gets the server's last reply line either way. */
enum st notify_send(const struct cfg *c, const char *to, const char *subject, const char *body, char *answer,
                    size_t answer_len, struct err *e);

/* A job's facts as placeholders (user, address, display_name, job, state,
 * pass, source, target, items, data, skipped, failed, start, started,
 * finished, days, error, date, admin, host).  The struct owns the texts;
 * notify_job_free releases them. */
struct notify_job {
	struct notify_vars v;
	char *address;              /* where the owner is written to; NULL: unknown */
	char *text[24];
	int ntext;
};
enum st notify_job_load(struct store *st, const struct cfg *c, int64_t job_id, struct notify_job *nj,
                        struct err *e);
void notify_job_free(struct notify_job *nj);

/* What the engine calls as a job starts ("start"), first becomes ready to
 * complete ("ready": once per job, the owner only; admins follow ready jobs
 * in the events, the console and the daily summary) and ends ("complete",
 * "failed"), and notice.c notify_days_before its start ("before"): the owner is written to when the job asked for it
 * (notify_user), admins about failures.  Best effort: a message that can't
 * be sent becomes a warning in the job's events; nothing is sent while no
 * mail server is set. */
void notify_job_event(struct store *st, const struct cfg *c, int64_t job_id, const char *event);
/* The same, saying how it went: ST_OK when sent or when there was nobody
 * to write to (no mail server, the job did not ask); otherwise why not
 * (also recorded in the job's events). */
enum st notify_job_send(struct store *st, const struct cfg *c, int64_t job_id, const char *event, struct err *e);

#endif
