/* view_report.c - Report: the statistics report (src/report.h) of one job's
 * mailbox (R in Mailbox Jobs or a job's detail) or of the whole project (R
 * in the Summary), one line of text per row, so search and the table keys
 * work on it (the project's report details its first 200 mailboxes; the
 * totals count all).  x (or :export PATH) writes the text to a file; m
 * (or :mail ADDRESS) e-mails it (template report.txt) in a task of its
 * own, as `mailferry report --email` does: sending waits on the network.  Esc or q
 * goes back.  The report is read once when the view opens: the store is
 * queried per mailbox, which for a big project is a moment's work, not
 * something to repeat every second. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "task.h"
#include "ui.h"

/* Mailboxes shown in full on the screen (the totals count all). */
#define REPORT_SCREEN_DETAILS 200

/* Of the report shown: how many mailboxes, when it was made (for m). */
static size_t mailboxes;
static int64_t made;

struct line {
	int64_t id;
	char *text;
};

static int64_t line_id(const void *r) { return ((const struct line *)r)->id; }
static void line_free(void *r) { free(((struct line *)r)->text); }
static void col_text(const void *r, char *b, size_t n) { snprintf(b, n, "%s", ((const struct line *)r)->text); }

static const struct tbl_col cols[] = {
	{ "", "text", 0, false, col_text, NULL, false },
};

static const struct tbl_ops ops = { cols, 1, sizeof(struct line), line_id, line_free, NULL, -1 };

static void report_open(struct ui *u, struct view *v)
{
	if (!v->has_tbl) {
		tbl_init(&v->tbl, &ops);
		v->has_tbl = true;
	}
	tbl_clear(&v->tbl);
	free(v->priv);
	v->priv = NULL;
	struct report r;
	struct err e;
	if (report_load(u->st, u->report_job ? REPORT_JOB : REPORT_ALL, u->report_job, NULL, REPORT_SCREEN_DETAILS, &r, &e)) {
		ui_error(u, "%s", e.msg);
		return;
	}
	char *text = report_text(&r);
	int64_t id = 0;
	for (char *p = text, *nl; p && *p; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		struct line *l = tbl_upsert(&v->tbl, id);
		*l = (struct line){ id++, nl ? x_strndup(p, (size_t)(nl - p)) : x_strdup(p) };
	}
	v->priv = text;         /* kept for x (export) and m (mail) */
	mailboxes = r.n;
	made = r.made;
	if (u->report_job)
		snprintf(v->title, sizeof v->title, "Report of job %lld (x: save to a file; m: e-mail it; Esc: back)",
		         (long long)u->report_job);
	else
		snprintf(v->title, sizeof v->title, "Report of the project: %zu mailboxes (x: save to a file; m: e-mail it; "
		         "Esc: back)", r.n);
	report_free(&r);
}

static void export_fn(struct ui *u, const char *path, bool done, bool cancelled, void *ctx)
{
	struct view *v = ctx;
	if (cancelled || !done || !v->priv)
		return;
	if (!path || !*path) {
		ui_error(u, "no file given: nothing saved");
		return;
	}
	FILE *f = fopen(path, "w");
	if (!f) {
		ui_error(u, "cannot write %s: %s", path, strerror(errno));
		return;
	}
	fputs(v->priv, f);
	if (fclose(f) != 0)
		ui_error(u, "writing %s: %s", path, strerror(errno));
	else
		ui_say(u, "report saved to %s", path);
}

/* --- m: e-mail it, in the background -------------------------------------------- */

struct mail {
	const struct cfg *cfg;
	char *text, to[320], answer[256];
	size_t mailboxes;
	int64_t made;
	enum st st;
	struct err e;
};

static void mail_run(struct ui_task *t)
{
	struct mail *m = t->ctx;
	m->st = report_email(m->cfg, m->text, m->mailboxes, m->made, m->to, m->answer, sizeof m->answer, &m->e);
}

static void mail_finish(struct ui *u, struct ui_task *t)
{
	struct mail *m = t->ctx;
	if (m->st)
		ui_error(u, "report not sent to %s: %s", m->to, m->e.msg);
	else
		ui_say(u, "report sent to %s%s%s", m->to, m->answer[0] ? "; the server said: " : "", m->answer);
}

static void mail_free(struct ui_task *t)
{
	struct mail *m = t->ctx;
	free(m->text);
	free(m);
}

static void mail_fn(struct ui *u, const char *to, bool done, bool cancelled, void *ctx)
{
	struct view *v = ctx;
	if (cancelled || !done || !v->priv)
		return;
	if (!to || !strchr(to, '@')) {
		ui_error(u, "\"%s\" is not an address (name@domain): nothing sent", to ? to : "");
		return;
	}
	struct mail *m = x_calloc(1, sizeof *m);
	*m = (struct mail){ .cfg = u->o->cfg, .text = x_strdup(v->priv), .mailboxes = mailboxes, .made = made };
	snprintf(m->to, sizeof m->to, "%s", to);
	struct ui_task *t = x_calloc(1, sizeof *t);
	*t = (struct ui_task){ .run = mail_run, .finish = mail_finish, .free_fn = mail_free, .ctx = m };
	if (ui_task_start(u, t))
		ui_say(u, "sending the report to %s in the background\xe2\x80\xa6", m->to);
}

static bool report_act(struct ui *u, struct view *v, enum action a, const char *arg)
{
	if (a == ACT_MAIL) {
		if (!u->o->cfg)
			ui_error(u, "no configuration: nothing sent");
		else if (arg && *arg)
			mail_fn(u, arg, true, false, v);
		else
			ui_prompt(u, "E-mail the report to: ", u->o->cfg->admin_email ? u->o->cfg->admin_email : "", false,
			          mail_fn, v);
		return true;
	}
	if (a != ACT_SAVE)
		return false;
	if (arg && *arg)
		export_fn(u, arg, true, false, v);
	else
		ui_prompt(u, "Save the report to: ", "mailferry-report.txt", false, export_fn, v);
	return true;
}

static void report_close(struct ui *u, struct view *v)
{
	(void)u;
	free(v->priv);
	v->priv = NULL;
}

const struct view_ops view_report_ops = {
	.open = report_open, .act = report_act, .close = report_close,
	.empty = "Nothing to report: no job has been queued yet.",
};
