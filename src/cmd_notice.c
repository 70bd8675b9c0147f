/* cmd_notice.c - mailferry notify summary; see cmd_notice.h. */
#include "config.h"

#include "cmd_notice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_common.h"
#include "notice.h"

int cmd_notice_summary(struct store *st, const struct cfg *c, int argc, char **argv)
{
	bool send = argc == 2 && !strcmp(argv[1], "--send");
	if (argc > 2 || (argc == 2 && !send))
		return cmd_usage("notify summary takes only --send");
	struct err e;
	err_clear(&e);
	if (send) {
		if (notice_send_summary(st, c, &e))
			return cmd_fail(&e);
		printf("summary sent to %s through %s\n", c->admin_email, c->smtp_url);
		return 0;
	}
	char *subject, *body;
	if (notice_summary(st, c, &subject, &body, &e))
		return cmd_fail(&e);
	printf("To: %s\nSubject: %s\n\n%s", c->admin_email && c->admin_email[0] ? c->admin_email : "(admin_email not set)",
	       subject, body);
	free(subject);
	free(body);
	return 0;
}
