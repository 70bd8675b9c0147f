/* tz.c - a TZif reader and wall-clock conversions; see tz.h for why the
 * process-wide TZ variable is left alone. */
#include "config.h"

#include "tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

/* One local-time type of the file: offset from UTC and abbreviation. */
struct tz_type {
	int32_t utoff;
	char abbr[8];
};

/* The footer's POSIX rule ("CET-1CEST,M3.5.0,M10.5.0/3"), used after the
 * file's last transition.  A rule day is Mm.w.d (month, week 1-5 where 5 is
 * the last, weekday), Jn (1-365, no leap day) or n (0-365). */
struct tz_rule_day {
	char kind;              /* 'M', 'J' or 'n' */
	int m, w, d, n;
	int32_t secs;           /* local time of day of the change */
};

struct tz_rule {
	bool present, has_dst;
	struct tz_type std, dst;
	struct tz_rule_day start, end;
};

struct tzone {
	bool local;
	int64_t *trans;         /* transition times, ascending */
	unsigned char *idx;     /* the type from each transition on */
	size_t ntrans;
	struct tz_type *types;
	size_t ntypes;
	struct tz_rule rule;
};

/* --- calendar arithmetic (proleptic Gregorian, UTC) ----------------------- */

int64_t tz_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* --- the POSIX rule --------------------------------------------------------- */

static const char *parse_name(const char *p, char *out, size_t n)
{
	size_t k = 0;
	if (*p == '<') {
		for (p++; *p && *p != '>'; p++)
			if (k + 1 < n)
				out[k++] = *p;
		if (*p != '>')
			return NULL;
		p++;
	} else {
		for (; (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'); p++)
			if (k + 1 < n)
				out[k++] = *p;
	}
	out[k] = '\0';
	return k >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] into seconds. */
static const char *parse_hms(const char *p, int32_t *out)
{
	int sign = 1;
	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if (*p < '0' || *p > '9')
		return NULL;
	long h = strtol(p, (char **)&p, 10), m = 0, s = 0;
	if (*p == ':') {
		m = strtol(p + 1, (char **)&p, 10);
		if (*p == ':')
			s = strtol(p + 1, (char **)&p, 10);
	}
	*out = (int32_t)(sign * (h * 3600 + m * 60 + s));
	return p;
}

static const char *parse_rule_day(const char *p, struct tz_rule_day *r)
{
	r->secs = 7200;
	if (*p == 'M') {
		r->kind = 'M';
		if (sscanf(p + 1, "%d.%d.%d", &r->m, &r->w, &r->d) != 3)
			return NULL;
		p++;
		while ((*p >= '0' && *p <= '9') || *p == '.')
			p++;
	} else {
		r->kind = *p == 'J' ? 'J' : 'n';
		if (*p == 'J')
			p++;
		if (*p < '0' || *p > '9')
			return NULL;
		r->n = (int)strtol(p, (char **)&p, 10);
	}
	if (*p == '/' && !(p = parse_hms(p + 1, &r->secs)))
		return NULL;
	return p;
}

static bool parse_rule(const char *p, struct tz_rule *r)
{
	int32_t off;
	memset(r, 0, sizeof *r);
	if (!(p = parse_name(p, r->std.abbr, sizeof r->std.abbr)) || !(p = parse_hms(p, &off)))
		return false;
	r->std.utoff = -off;     /* POSIX counts west of Greenwich as positive */
	r->present = true;
	if (!*p)
		return true;
	if (!(p = parse_name(p, r->dst.abbr, sizeof r->dst.abbr)))
		return false;
	r->dst.utoff = r->std.utoff + 3600;
	if (*p && *p != ',') {
		if (!(p = parse_hms(p, &off)))
			return false;
		r->dst.utoff = -off;
	}
	if (*p++ != ',' || !(p = parse_rule_day(p, &r->start)) || *p++ != ',' ||
	    !(p = parse_rule_day(p, &r->end)))
		return false;
	r->has_dst = true;
	return true;
}

/* Days since the epoch of a rule day in year y. */
static int64_t rule_day(const struct tz_rule_day *r, int y)
{
	if (r->kind == 'J')     /* 1..365, February 29 never counted */
		return tz_days_from_civil(y, 1, 1) + r->n - 1 + (is_leap(y) && r->n >= 60);
	if (r->kind == 'n')
		return tz_days_from_civil(y, 1, 1) + r->n;
	int64_t first = tz_days_from_civil(y, r->m, 1);
	int wd = (int)((first % 7 + 11) % 7);        /* 1970-01-01 was a Thursday (4) */
	int64_t day = first + (r->d - wd + 7) % 7 + (int64_t)(r->w - 1) * 7;
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int len = mdays[r->m - 1] + (r->m == 2 && is_leap(y));
	while (day >= first + len)
		day -= 7;
	return day;
}

static const struct tz_type *rule_type(const struct tz_rule *r, int64_t t)
{
	if (!r->has_dst)
		return &r->std;
	int y, m, d;
	civil_from_days(floor_div(t + r->std.utoff, 86400), &y, &m, &d);
	/* The change to DST happens at a standard-time hour, the change back at
	 * a DST hour. */
	int64_t start = rule_day(&r->start, y) * 86400 + r->start.secs - r->std.utoff;
	int64_t end = rule_day(&r->end, y) * 86400 + r->end.secs - r->dst.utoff;
	bool dst = start < end ? t >= start && t < end : !(t >= end && t < start);
	return dst ? &r->dst : &r->std;
}

/* --- the file ---------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* Reads one data block (v1: 4-byte times, v2+: 8-byte) at p; returns the
 * bytes used or 0 when the file is cut short. */
static size_t read_block(struct tzone *z, const unsigned char *p, size_t len, int tsize)
{
	if (len < 44 || memcmp(p, "TZif", 4) != 0)
		return 0;
	uint32_t isut = be32(p + 20), isstd = be32(p + 24), leap = be32(p + 28), timecnt = be32(p + 32),
	         typecnt = be32(p + 36), charcnt = be32(p + 40);
	size_t need = 44 + (size_t)timecnt * ((size_t)tsize + 1) + (size_t)typecnt * 6 + charcnt +
	              (size_t)leap * ((size_t)tsize + 4) + isstd + isut;
	if (need > len || typecnt == 0 || typecnt > 256)
		return 0;
	const unsigned char *q = p + 44;
	free(z->trans);
	free(z->idx);
	free(z->types);
	z->ntrans = timecnt;
	z->trans = x_calloc(timecnt + 1, sizeof *z->trans);
	z->idx = x_calloc(timecnt + 1, 1);
	for (uint32_t i = 0; i < timecnt; i++, q += tsize)
		z->trans[i] = tsize == 8 ? be64(q) : (int64_t)(int32_t)be32(q);
	for (uint32_t i = 0; i < timecnt; i++)
		z->idx[i] = (unsigned char)(*q++ < typecnt ? q[-1] : 0);
	z->ntypes = typecnt;
	z->types = x_calloc(typecnt, sizeof *z->types);
	const unsigned char *chars = q + typecnt * 6;
	for (uint32_t i = 0; i < typecnt; i++, q += 6) {
		z->types[i].utoff = (int32_t)be32(q);
		unsigned di = q[5];
		if (di < charcnt)
			snprintf(z->types[i].abbr, sizeof z->types[i].abbr, "%.*s", (int)(charcnt - di),
			         (const char *)chars + di);
	}
	return need;
}

static bool zone_name_ok(const char *name)
{
	if (name[0] == '/' || strstr(name, ".."))
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      strchr("/_-+", *p)))
			return false;
	return true;
}

struct tzone *tz_open(const char *name, char *why, size_t whylen)
{
	struct tzone *z = x_calloc(1, sizeof *z);
	if (!name || !*name) {
		z->local = true;
		return z;
	}
	const char *dir = getenv("TZDIR");
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
	unsigned char *buf = NULL;
	size_t len = 0;
	FILE *f = zone_name_ok(name) ? fopen(path, "rb") : NULL;
	if (f) {
		buf = x_malloc(1 << 17);
		len = fread(buf, 1, 1 << 17, f);
		fclose(f);
	}
	size_t used = buf ? read_block(z, buf, len, 4) : 0;
	if (used && buf[4] >= '2') {
		size_t used2 = read_block(z, buf + used, len - used, 8);
		/* The footer: "\nRULE\n" after the v2 block. */
		const unsigned char *p = buf + used + used2;
		if (used2 && p < buf + len && *p == '\n') {
			const unsigned char *e = memchr(p + 1, '\n', (size_t)(buf + len - p - 1));
			if (e) {
				char rule[128];
				snprintf(rule, sizeof rule, "%.*s", (int)(e - p - 1), (const char *)p + 1);
				if (rule[0] && !parse_rule(rule, &z->rule))
					z->rule.present = false;
			}
		}
		used = used2;
	}
	free(buf);
	if (!used) {
		snprintf(why, whylen, "no zone \"%s\" (an IANA name, e.g. Europe/Paris)", name);
		tz_close(z);
		return NULL;
	}
	return z;
}

void tz_close(struct tzone *z)
{
	if (!z)
		return;
	free(z->trans);
	free(z->idx);
	free(z->types);
	free(z);
}

static const struct tz_type *type_at(const struct tzone *z, int64_t t)
{
	if (z->ntrans == 0 || t < z->trans[0])
		return z->ntrans == 0 && z->rule.present ? rule_type(&z->rule, t) : &z->types[0];
	if (t >= z->trans[z->ntrans - 1] && z->rule.present)
		return rule_type(&z->rule, t);
	size_t lo = 0, hi = z->ntrans;      /* last transition <= t */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return &z->types[z->idx[lo]];
}

void tz_format(const struct tzone *z, int64_t t, char *buf, size_t n, char *abbr, size_t abbrlen)
{
	if (z->local) {
		time_t tt = (time_t)t;
		struct tm tm;
		localtime_r(&tt, &tm);
		strftime(buf, n, "%Y-%m-%d %H:%M", &tm);
		if (abbr)
			strftime(abbr, abbrlen, "%Z", &tm);
		return;
	}
	const struct tz_type *ty = type_at(z, t);
	int64_t l = t + ty->utoff;
	int y, m, d;
	civil_from_days(floor_div(l, 86400), &y, &m, &d);
	int64_t sod = l - floor_div(l, 86400) * 86400;
	snprintf(buf, n, "%04d-%02d-%02d %02d:%02d", y, m, d, (int)(sod / 3600), (int)(sod % 3600 / 60));
	if (abbr)
		snprintf(abbr, abbrlen, "%s", ty->abbr);
}

int64_t tz_mktime(const struct tzone *z, int year, int mon, int day, int hour, int min)
{
	if (z->local) {
		struct tm tm = { .tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day, .tm_hour = hour,
		                 .tm_min = min, .tm_isdst = -1 };
		return (int64_t)mktime(&tm);
	}
	int64_t l = tz_days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60;
	/* The offsets a day before and after: a wall time is valid under an
	 * offset o when the instant l - o really has offset o. */
	int32_t before = type_at(z, l - 86400)->utoff, after = type_at(z, l + 86400)->utoff;
	int64_t t1 = l - before, t2 = l - after;
	bool ok1 = type_at(z, t1)->utoff == before, ok2 = type_at(z, t2)->utoff == after;
	if (ok1 && ok2)
		return t1 < t2 ? t1 : t2;
	if (ok1 || ok2)
		return ok1 ? t1 : t2;
	return t1;      /* in the gap: the old offset lands after it */
}

bool tz_parse(const struct tzone *z, const char *s, int64_t *out, char *why, size_t whylen)
{
	int y, mo, d, h = 0, mi = 0;
	char tail;
	while (*s == ' ')
		s++;
	int k = sscanf(s, "%4d-%2d-%2d %2d:%2d %c", &y, &mo, &d, &h, &mi, &tail);
	if (k != 3 && k != 5) {
		snprintf(why, whylen, "write the date as YYYY-MM-DD HH:MM, e.g. 2026-12-05 22:00");
		return false;
	}
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !is_leap(y))) {
		snprintf(why, whylen, "%04d-%02d-%02d is not a date", y, mo, d);
		return false;
	}
	if (h < 0 || h > 23 || mi < 0 || mi > 59) {
		snprintf(why, whylen, "%02d:%02d is not a time of day (00:00 to 23:59)", h, mi);
		return false;
	}
	*out = tz_mktime(z, y, mo, d, h, mi);
	return true;
}

int64_t tz_add_weeks(const struct tzone *z, int64_t t, int64_t k)
{
	if (k == 0)
		return t;
	char wall[32];
	int y, mo, d, h, mi;
	tz_format(z, t, wall, sizeof wall, NULL, 0);
	if (sscanf(wall, "%d-%d-%d %d:%d", &y, &mo, &d, &h, &mi) != 5)
		return t + k * 7 * 86400;
	civil_from_days(tz_days_from_civil(y, mo, d) + k * 7, &y, &mo, &d);
	return tz_mktime(z, y, mo, d, h, mi);
}

bool tz_window(const struct tzone *z, int64_t start, int64_t end, bool weekly, int64_t t, int64_t *ws,
               int64_t *we)
{
	if (!weekly || t < start) {
		*ws = start;
		*we = end;
		return t < end;
	}
	/* The week count in plain seconds is off by at most an hour across a
	 * clock change: look at the neighbours too. */
	int64_t k = (t - start) / (7 * 86400);
	for (int64_t i = k > 0 ? k - 1 : 0; i <= k + 1; i++) {
		int64_t s = tz_add_weeks(z, start, i), e = tz_add_weeks(z, end, i);
		if (t < e) {
			*ws = s;
			*we = e;
			return true;
		}
	}
	*ws = tz_add_weeks(z, start, k + 2);
	*we = tz_add_weeks(z, end, k + 2);
	return true;
}
