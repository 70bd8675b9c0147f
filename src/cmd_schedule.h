/* cmd_schedule.h - `mailferry schedule`: the queue's forecast (forecast.h)
 * as a table or CSV, and, with --actual, the recorded forecasts of jobs
 * that ran beside what happened. */
#ifndef MF_CMD_SCHEDULE_H
#define MF_CMD_SCHEDULE_H

#include "cfg.h"

/* argv[0] is "schedule".  Opens store_path itself.  Returns an exit status. */
int cmd_schedule(const struct cfg *cfg, const char *store_path, int argc, char **argv);

#endif
