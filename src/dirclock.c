/* dirclock.c - see dirclock.h. */
#include "dirclock.h"

#include <ctype.h>
#include <string.h>

/* n digits at *p as a number, advancing *p; -1 when they are not digits. */
static int digits(const char **p, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
	}
	return v;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (timegm is not C11; this needs no time zone either). */
static long long days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	long long yoe = y - era * 400;
	long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

bool dirclock_parse(const char *gt, time_t *out)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char *p = gt ? gt : "";
	int y = digits(&p, 4), mo = digits(&p, 2), d = digits(&p, 2), h = digits(&p, 2), mi = 0, s = 0;
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23)
		return false;
	if (d > mdays[mo - 1] + (mo == 2 && leap(y)))
		return false;
	if (isdigit((unsigned char)*p) && ((mi = digits(&p, 2)) < 0 || mi > 59))
		return false;
	if (isdigit((unsigned char)*p) && ((s = digits(&p, 2)) < 0 || s > 60))   /* 60: a leap second */
		return false;
	if (*p == '.' || *p == ',') {
		p++;
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
	}
	long long offset = 0;
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh = digits(&p, 2), om = isdigit((unsigned char)*p) ? digits(&p, 2) : 0;
		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return false;
		offset = sign * (oh * 3600LL + om * 60LL);
	} else {
		return false;
	}
	if (*p)
		return false;
	long long t = days_from_civil(y, mo, d) * 86400 + h * 3600LL + mi * 60LL + s - offset;
	*out = (time_t)t;
	return true;
}

enum dirclock_verdict dirclock_judge(const char *current_time, time_t now, long long *skew_s)
{
	if (skew_s)
		*skew_s = 0;
	if (!current_time || !*current_time)
		return DIRCLOCK_UNPUBLISHED;
	time_t t;
	if (!dirclock_parse(current_time, &t))
		return DIRCLOCK_UNREADABLE;
	long long skew = (long long)t - (long long)now;
	if (skew_s)
		*skew_s = skew;
	return (skew < 0 ? -skew : skew) > DIRCLOCK_TOLERANCE_S ? DIRCLOCK_SKEWED : DIRCLOCK_OK;
}
