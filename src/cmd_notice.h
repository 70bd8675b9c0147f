/* cmd_notice.h - "mailferry notify summary [--send]": the admins' daily
 * summary (notice.h) printed, or sent to admin_email now. */
#ifndef MF_CMD_NOTICE_H
#define MF_CMD_NOTICE_H

#include "cfg.h"
#include "store.h"

/* argv[0] is "summary"; st is an open store.  Returns the exit code
 * (errors printed as "mailferry: ..." on stderr). */
int cmd_notice_summary(struct store *st, const struct cfg *c, int argc, char **argv);

#endif
