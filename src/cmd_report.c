/* cmd_report.c - `mailferry report [--job ID | --mailbox LOGIN | --all]
 * [--email ADDRESS]`; see cmd_report.h. */
#include "config.h"

#include "cmd_report.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "cmd_common.h"
#include "textout.h"

int cmd_report_stats(const struct cfg *cfg, const char *store_path, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "job", required_argument, NULL, 'j' },
		{ "mailbox", required_argument, NULL, 'm' },
		{ "all", no_argument, NULL, 'a' },
		{ "email", required_argument, NULL, 'e' },
		{ 0 }
	};
	enum report_scope scope = REPORT_ALL;
	int64_t job = 0;
	const char *login = NULL, *to = NULL;
	int scopes = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'j':
			job = strtoll(optarg, &end, 10);
			if (*end || job < 1)
				return cmd_usage("--job needs a job number");
			scope = REPORT_JOB;
			scopes++;
			break;
		case 'm': login = optarg; scope = REPORT_MAILBOX; scopes++; break;
		case 'a': scope = REPORT_ALL; scopes++; break;
		case 'e': to = optarg; break;
		default: return st_exit_code(ST_USAGE);
		}
	}
	if (optind < argc)
		return cmd_usage("report takes only --job ID, --mailbox LOGIN, --all and --email ADDRESS");
	if (scopes > 1)
		return cmd_usage("report takes one of --job ID, --mailbox LOGIN and --all");
	if (to && !strchr(to, '@'))
		return cmd_usage("--email needs an address (name@domain)");
	struct store *st;
	struct err e;
	int rc = cmd_store_open(store_path, &st, &e);
	if (rc)
		return rc;
	struct report r;
	enum st s = report_load(st, scope, job, login, 0, &r, &e);
	store_close(&st);
	if (s)
		return cmd_fail(&e);
	char *text = report_text(&r);
	if (to) {
		char answer[256] = "";
		if (report_email(cfg, text, r.n, r.made, to, answer, sizeof answer, &e))
			rc = cmd_fail(&e);
		else
			printf("report on %zu mailbox%s sent to %s%s%s\n", r.n, r.n == 1 ? "" : "es", to,
			       answer[0] ? "; the server said: " : "", answer);
	} else {
		fputs(text, stdout);
	}
	free(text);
	report_free(&r);
	return rc;
}
