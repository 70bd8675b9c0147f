/* wall.h - a wall-clock time in a named zone (tz.h) as a unix time, for
 * the unit tests that set blackout windows and schedules by local time. */
#ifndef MF_WALL_H
#define MF_WALL_H

#include <stdint.h>
#include <stdio.h>

#include "tz.h"

/* y-mo-d h:mi in zone; 0, after a "# why" TAP comment, when the zone does
 * not open (the checks that use it then fail and say so). */
static inline int64_t wall_time(const char *zone, int y, int mo, int d, int h, int mi)
{
	char why[128];
	struct tzone *z = tz_open(zone, why, sizeof why);
	if (!z) {
		printf("# %s\n", why);
		return 0;
	}
	int64_t t = tz_mktime(z, y, mo, d, h, mi);
	tz_close(z);
	return t;
}

#endif
