/* cmd_common.c - helpers shared by the CLI commands; see cmd_common.h. */
#include "config.h"

#include "cmd_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int cmd_fail(const struct err *e)
{
	fprintf(stderr, "mailferry: %s\n", e->msg[0] ? e->msg : st_message(e->code));
	return st_exit_code(e->code);
}

int cmd_usage(const char *what)
{
	fprintf(stderr, "mailferry: %s (see 'mailferry --help')\n", what);
	return st_exit_code(ST_USAGE);
}

bool cmd_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (end == s || *end || errno || v < min || v > max)
		return false;
	*out = v;
	return true;
}

int cmd_store_open(const char *path, struct store **st, struct err *e)
{
	err_clear(e);
	*st = NULL;
	if (store_open(path, st, e))
		return cmd_fail(e);
	return 0;
}
