/* cmd_metrics.h - `mailferry metrics`: the throughput history (metrics.h)
 * as a table or CSV. */
#ifndef MF_CMD_METRICS_H
#define MF_CMD_METRICS_H

#include "cfg.h"

/* argv[0] is "metrics".  Opens store_path itself.  Returns an exit status. */
int cmd_metrics(const struct cfg *cfg, const char *store_path, int argc, char **argv);

#endif
