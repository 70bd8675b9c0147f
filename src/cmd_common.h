/* cmd_common.h - what the CLI commands (main.c and src/cmd_*.c) share:
 * how a failure and a usage mistake are told on stderr and turned into an
 * exit status, the whole-number options, and opening the store. */
#ifndef MF_CMD_COMMON_H
#define MF_CMD_COMMON_H

#include "store.h"

/* Prints e's message (or the generic one for its code) on stderr; returns
 * the exit status for e->code. */
int cmd_fail(const struct err *e);

/* Prints what is wrong with the command line, pointing to --help; returns
 * the exit status for ST_USAGE. */
int cmd_usage(const char *what);

/* True when s is a whole number from min to max, stored in *out. */
bool cmd_parse_long(const char *s, long min, long max, long *out);

/* Opens the store at path into *st, e cleared for the command's own use.
 * Returns 0, or the exit status after telling why on stderr (then *st is
 * NULL).  The caller closes *st. */
int cmd_store_open(const char *path, struct store **st, struct err *e);

#endif
