/* cmd_report.h - `mailferry report`: the statistics report (report.h)
 * printed, or e-mailed with the template report.txt. */
#ifndef MF_CMD_REPORT_H
#define MF_CMD_REPORT_H

#include "cfg.h"

/* argv[0] is "report".  Opens store_path itself.  Returns an exit status. */
int cmd_report_stats(const struct cfg *cfg, const char *store_path, int argc, char **argv);

#endif
