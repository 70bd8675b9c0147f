/* cmd_checklist.h - the CLI's "forest checklist NAME" (checklist.h).
 * Thread: the main thread; st is the CLI's open store. */
#ifndef MF_CMD_CHECKLIST_H
#define MF_CMD_CHECKLIST_H

#include "cfg.h"
#include "store.h"

/* argv[0] is "checklist".  Prints one item a line with what was found and
 * the fix; returns the exit status: 0 nothing failed (warnings and items
 * to check by hand allowed), 1 warnings, 78 failures, 64 usage. */
int cmd_forest_checklist(struct store *st, const struct cfg *cfg, int argc, char **argv);

#endif
