/* cmd_sched.h - the CLI side of the job lifecycle (lifecycle.h): cutover,
 * retry, resume --endpoint, and what a finished `run` leaves waiting.
 * Each command gets an open store (owned by the caller) and its arguments
 * with argv[0] the command's name; it returns the exit status. */
#ifndef MF_CMD_SCHED_H
#define MF_CMD_SCHED_H

#include "store.h"

/* cutover JOB...|--all [--at 'YYYY-MM-DD HH:MM'] */
int cmd_cutover(struct store *st, int argc, char **argv);
/* retry JOB... [--full] */
int cmd_retry(struct store *st, int argc, char **argv);
/* resume --endpoint NAME */
int cmd_resume_endpoint(struct store *st, const char *endpoint);
/* After `run`: one line to stderr per kind of job still waiting (a later
 * start, a blackout, ready to complete, a cutover time), nothing when none. */
void sched_print_waiting(struct store *st);

#endif
