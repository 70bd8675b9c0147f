/* textout.c - report formatting; see textout.h. */
#include "config.h"

#include "textout.h"

#include <string.h>
#include <time.h>

void txt_time(int64_t t, char *buf, size_t n)
{
	if (t == INT64_MAX) {
		snprintf(buf, n, "never");
		return;
	}
	if (t == 0) {
		snprintf(buf, n, "-");
		return;
	}
	time_t tt = (time_t)t;
	struct tm tm;
	localtime_r(&tt, &tm);
	strftime(buf, n, "%Y-%m-%d %H:%M", &tm);
}

void txt_time_iso(int64_t t, char *buf, size_t n)
{
	if (t == 0 || t == INT64_MAX) {
		if (n)
			buf[0] = '\0';
		return;
	}
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void txt_duration(int64_t secs, char *buf, size_t n)
{
	const char *sign = secs < 0 ? "-" : "";
	int64_t s = secs < 0 ? -secs : secs;
	if (s >= 86400)
		snprintf(buf, n, "%s%lldd%02lldh", sign, (long long)(s / 86400), (long long)(s % 86400 / 3600));
	else if (s >= 3600)
		snprintf(buf, n, "%s%lldh%02lldm", sign, (long long)(s / 3600), (long long)(s % 3600 / 60));
	else if (s >= 60)
		snprintf(buf, n, "%s%lldm%02llds", sign, (long long)(s / 60), (long long)(s % 60));
	else
		snprintf(buf, n, "%s%llds", sign, (long long)s);
}

void txt_bytes(int64_t b, char *buf, size_t n)
{
	static const char *const unit[] = { "B", "KB", "MB", "GB", "TB" };
	if (b < 0) {
		snprintf(buf, n, "-");
		return;
	}
	double v = (double)b;
	int i = 0;
	while (v >= 1000 && i < 4) {
		v /= 1000;
		i++;
	}
	snprintf(buf, n, i == 0 ? "%.0f %s" : "%.1f %s", v, unit[i]);
}

void txt_csv_field(FILE *f, const char *s)
{
	if (!s)
		return;
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}
