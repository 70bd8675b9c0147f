/* tap.h - the few lines every unit test shares: one "ok N - ..." or
 * "not ok N - ..." line per check, and an exit status for automake. */
#ifndef MF_TAP_H
#define MF_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_run, tap_fail;

__attribute__((format(printf, 2, 3)))
static void check(int pass, const char *fmt, ...)
{
	va_list ap;
	tap_run++;
	if (!pass)
		tap_fail++;
	printf("%s %d - ", pass ? "ok" : "not ok", tap_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static int tap_done(void)
{
	printf("%d passed, %d failed\n", tap_run - tap_fail, tap_fail);
	return tap_fail ? 1 : 0;
}

#endif
