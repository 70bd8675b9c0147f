/* forest_tasks.c - the Forests view's background work: a forest's health
 * checks (H: health.c), its preparation checklist (P: checklist.c) and its
 * directory discovery (R: directory.c).
 *
 * Each runs in a thread of its own (task.h) with its own store connection,
 * never touching curses; when it ends, the UI thread shows the outcome:
 * the health marks of the forest's endpoints (! for a warning or a
 * failure), a list of every check with its fix, or the discovery counts in
 * the status line (the Mailboxes view then reads the new rows by
 * revision). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checklist.h"
#include "directory.h"
#include "forests.h"
#include "health.h"
#include "ui.h"

/* --- shared by the three tasks ------------------------------------------------ */

#define MAX_LINES 40

/* The work a task does on its store connection. */
typedef enum st (*store_work)(struct store *st, void *job, struct err *e);

/* Opens a store connection of the task's own (the UI thread's is not for
 * other threads), runs work on it and closes it.  Returns work's status; on
 * a failure its message is in err, for the UI thread. */
static enum st on_own_store(const char *store_path, store_work work, void *job, char *err, size_t errlen)
{
	struct store *st = NULL;
	struct err e;
	err_clear(&e);
	enum st s = store_open(store_path, &st, &e);
	if (!s)
		s = work(st, job, &e);
	if (s)
		snprintf(err, errlen, "%s", e.msg);
	store_close(&st);
	return s;
}

static void free_lines(char **lines, int n)
{
	for (int i = 0; i < n; i++)
		free(lines[i]);
}

/* A task's result list, unless the admin is busy with a prompt or a dialog
 * (the marks and the status line tell the outcome then): closed(u, -1, job)
 * at once. */
static void offer_lines(struct ui *u, const char *title, char **lines, int n,
                        void (*closed)(struct ui *u, int choice, void *job), void *job)
{
	if (u->mode == M_NORMAL)
		ui_menu(u, title, (const char *const *)lines, n, 0, closed, job);
	else
		closed(u, -1, job);
}

/* --- health ------------------------------------------------------------------- */

struct check_job {
	char *store_path;
	const struct cfg *cfg;      /* read-only, shared with the engine */
	char forest[128];
	int64_t forest_id;
	enum st s;
	char err[512];
	enum health_level worst;
	char *lines[MAX_LINES];
	int nlines;
	/* per endpoint: the worst level seen */
	char ep_name[16][64];
	enum health_level ep_worst[16];
	char ep_msg[16][300];
	int neps;
};

static void add_line(struct check_job *c, char *line)
{
	if (c->nlines < MAX_LINES)
		c->lines[c->nlines++] = line;
	else
		free(line);
}

static void on_result(void *ctx, const struct health_result *r)
{
	struct check_job *c = ctx;
	add_line(c, x_asprintf("%s %-10s %s%s%s", health_mark(r->level), r->check, r->endpoint ? r->endpoint : "",
	                       r->endpoint ? ": " : "", r->detail ? r->detail : ""));
	if (r->fix && r->level >= HEALTH_WARN)
		add_line(c, x_asprintf("    fix: %s", r->fix));
	if (!r->endpoint)
		return;
	int k = 0;
	while (k < c->neps && strcmp(c->ep_name[k], r->endpoint) != 0)
		k++;
	if (k == c->neps) {
		if (c->neps == 16)
			return;
		snprintf(c->ep_name[k], sizeof c->ep_name[k], "%s", r->endpoint);
		c->ep_worst[k] = HEALTH_OK;
		c->ep_msg[k][0] = '\0';
		c->neps++;
	}
	if (r->level > c->ep_worst[k] || !c->ep_msg[k][0]) {
		c->ep_worst[k] = r->level > c->ep_worst[k] ? r->level : c->ep_worst[k];
		snprintf(c->ep_msg[k], sizeof c->ep_msg[k], "%s: %s", r->check, r->detail ? r->detail : "");
	}
}

static enum st check_work(struct store *st, void *job, struct err *e)
{
	struct check_job *c = job;
	return health_check_and_keep(st, c->cfg, c->forest, on_result, c, &c->worst, e);
}

static void check_run(struct ui_task *t)
{
	struct check_job *c = t->ctx;
	c->s = on_own_store(c->store_path, check_work, c, c->err, sizeof c->err);
}

static void check_job_free(struct check_job *c)
{
	free_lines(c->lines, c->nlines);
	free(c->store_path);
	free(c);
}

static void lines_closed(struct ui *u, int choice, void *ctx)
{
	(void)u, (void)choice;
	check_job_free(ctx);
}

static void check_finish(struct ui *u, struct ui_task *t)
{
	struct check_job *c = t->ctx;
	t->ctx = NULL;          /* the result list owns it now */
	if (c->s) {
		ui_error(u, "health check of %s: %s", c->forest, c->err);
		lines_closed(u, -1, c);
		return;
	}
	for (int k = 0; k < c->neps; k++) {
		int64_t id = forests_endpoint_id(u, c->ep_name[k]);
		if (id)
			forests_set_health(u, id, c->ep_worst[k] >= HEALTH_WARN ? H_FAIL : H_OK, c->ep_msg[k]);
	}
	char title[200];
	snprintf(title, sizeof title, "Health of %s: %s (Enter closes)", c->forest,
	         c->worst >= HEALTH_FAIL ? "failures" : c->worst >= HEALTH_WARN ? "warnings" : "all good");
	ui_say(u, "health check of %s done: %s", c->forest,
	       c->worst >= HEALTH_FAIL ? "failures, see the list" : c->worst >= HEALTH_WARN ? "warnings" : "all good");
	if (c->nlines == 0)
		add_line(c, x_strdup("(no endpoint to check: Enter on the forest, Accounts tab)"));
	offer_lines(u, title, c->lines, c->nlines, lines_closed, c);
}

static void check_free(struct ui_task *t)
{
	if (t->ctx)
		check_job_free(t->ctx);
}

void forest_check_start(struct ui *u, const struct forest *f)
{
	struct check_job *c = x_calloc(1, sizeof *c);
	c->store_path = x_strdup(u->o->store_path);
	c->cfg = u->o->cfg;
	c->forest_id = f->id;
	snprintf(c->forest, sizeof c->forest, "%s", f->name);
	struct ui_task *t = x_calloc(1, sizeof *t);
	*t = (struct ui_task){ .run = check_run, .finish = check_finish, .free_fn = check_free, .ctx = c };
	if (ui_task_start(u, t))
		ui_say(u, "checking %s in the background: DNS, TCP, TLS, login, a mailbox, size limit\xe2\x80\xa6", f->name);
}

/* --- preparation checklist ----------------------------------------------------------- */

struct checklist_job {
	char *store_path;
	const struct cfg *cfg;      /* read-only, shared with the engine */
	char forest[128];
	enum st s;
	char err[512];
	enum cl_state worst;
	int n[4];
	char *lines[MAX_LINES];
	int nlines;
	bool cut;                   /* more than the list holds */
};

static void cl_add(struct checklist_job *c, char *line)
{
	if (c->nlines < MAX_LINES - 1) {
		c->lines[c->nlines++] = line;
		return;
	}
	free(line);
	c->cut = true;
}

static void on_item(void *ctx, const struct cl_item *it)
{
	struct checklist_job *c = ctx;
	c->n[it->state]++;
	cl_add(c, x_asprintf("%s %s%s%s%s: %s", checklist_mark(it->state), it->item, it->endpoint ? " (" : "",
	                     it->endpoint ? it->endpoint : "", it->endpoint ? ")" : "", it->detail));
	if (it->fix && it->state != CL_PASS)
		cl_add(c, x_asprintf("    fix: %s", it->fix));
}

static enum st checklist_work(struct store *st, void *job, struct err *e)
{
	struct checklist_job *c = job;
	return checklist_run(st, c->cfg, c->forest, on_item, c, &c->worst, e);
}

static void checklist_run_task(struct ui_task *t)
{
	struct checklist_job *c = t->ctx;
	c->s = on_own_store(c->store_path, checklist_work, c, c->err, sizeof c->err);
}

static void checklist_free_job(struct checklist_job *c)
{
	free_lines(c->lines, c->nlines);
	free(c->store_path);
	free(c);
}

static void checklist_closed(struct ui *u, int choice, void *ctx)
{
	(void)u, (void)choice;
	checklist_free_job(ctx);
}

static void checklist_finish(struct ui *u, struct ui_task *t)
{
	struct checklist_job *c = t->ctx;
	t->ctx = NULL;          /* the list owns it now */
	if (c->s) {
		ui_error(u, "checklist of %s: %s", c->forest, c->err);
		checklist_free_job(c);
		return;
	}
	if (c->cut)
		c->lines[c->nlines++] = x_asprintf("\xe2\x80\xa6 more: mailferry forest checklist %s", c->forest);
	char title[200];
	snprintf(title, sizeof title, "Checklist of %s: %d passed, %d warnings, %d failed, %d by hand (Enter closes)",
	         c->forest, c->n[CL_PASS], c->n[CL_WARN], c->n[CL_FAIL], c->n[CL_MANUAL]);
	ui_say(u, "checklist of %s done: %s", c->forest,
	       c->worst >= CL_FAIL ? "failures, see the list" : c->worst >= CL_WARN ? "warnings" : "nothing failed");
	offer_lines(u, title, c->lines, c->nlines, checklist_closed, c);
}

static void checklist_free(struct ui_task *t)
{
	if (t->ctx)
		checklist_free_job(t->ctx);
}

void forest_checklist_start(struct ui *u, const struct forest *f)
{
	struct checklist_job *c = x_calloc(1, sizeof *c);
	c->store_path = x_strdup(u->o->store_path);
	c->cfg = u->o->cfg;
	snprintf(c->forest, sizeof c->forest, "%s", f->name);
	struct ui_task *t = x_calloc(1, sizeof *t);
	*t = (struct ui_task){ .run = checklist_run_task, .finish = checklist_finish, .free_fn = checklist_free,
	                       .ctx = c };
	if (ui_task_start(u, t))
		ui_say(u, "preparing the checklist of %s in the background: forests, admins, mailboxes, files, disk\xe2\x80\xa6",
		       f->name);
}

/* --- discovery -------------------------------------------------------------------- */

struct discover_job {
	char *store_path, *secrets_path;
	int timeout_s;
	char forest[128];
	int64_t forest_id, endpoint_id;
	bool full;
	enum st s;
	char err[512];
	struct dir_report rep;
};

static enum st discover_work(struct store *st, void *job, struct err *e)
{
	struct discover_job *d = job;
	struct forest f = { 0 };
	enum st s = store_forest_get_id(st, d->forest_id, &f, e);
	if (!s)
		s = directory_discover(st, &f, d->endpoint_id, d->secrets_path, d->timeout_s, d->full, &d->rep, e);
	forest_free(&f);
	return s;
}

static void discover_run(struct ui_task *t)
{
	struct discover_job *d = t->ctx;
	d->s = on_own_store(d->store_path, discover_work, d, d->err, sizeof d->err);
}

static void discover_finish(struct ui *u, struct ui_task *t)
{
	struct discover_job *d = t->ctx;
	forests_set_health(u, -d->forest_id, d->s ? H_FAIL : H_OK,
	                   d->s ? d->err : "directory read (discovery)");
	if (d->s) {
		ui_error(u, "discovery of %s: %s", d->forest, d->err);
		return;
	}
	ui_say(u, "%s: %lld added, %lld changed, %lld vanished, %lld mailboxes (%s search, %.1f s)%s%s%s", d->forest,
	       (long long)d->rep.added, (long long)d->rep.changed, (long long)d->rep.vanished, (long long)d->rep.total,
	       d->rep.full ? "full" : "changes only", (double)d->rep.elapsed_ms / 1000.0,
	       d->rep.referrals ? "; referral to " : "", d->rep.referrals ? d->rep.referral : "",
	       d->rep.referrals ? " not followed: nothing marked vanished" : "");
	ui_reload(u, V_FORESTS);
}

static void discover_free(struct ui_task *t)
{
	struct discover_job *d = t->ctx;
	free(d->store_path);
	free(d->secrets_path);
	free(d);
}

void forest_discover_start(struct ui *u, const struct forest *f, bool full)
{
	if (!f->dir_url || !f->dir_url[0]) {
		ui_error(u, "%s has no directory: Enter, Accounts tab, Directory URL (or forest set %s --directory URL)",
		         f->name, f->name);
		return;
	}
	int64_t ep = forests_endpoint_of(u, f->id);
	if (!ep) {
		ui_error(u, "%s has no mail endpoint for the mailboxes: Enter, Accounts tab, Mail server", f->name);
		return;
	}
	struct discover_job *d = x_calloc(1, sizeof *d);
	d->store_path = x_strdup(u->o->store_path);
	d->secrets_path = x_strdup(u->o->cfg->secrets_path);
	d->timeout_s = u->o->cfg->timeout_s;
	d->forest_id = f->id;
	d->endpoint_id = ep;
	d->full = full;
	snprintf(d->forest, sizeof d->forest, "%s", f->name);
	struct ui_task *t = x_calloc(1, sizeof *t);
	*t = (struct ui_task){ .run = discover_run, .finish = discover_finish, .free_fn = discover_free, .ctx = d };
	if (ui_task_start(u, t))
		ui_say(u, "reading the mailboxes of %s from %s in the background\xe2\x80\xa6", f->name, f->dir_url);
}
