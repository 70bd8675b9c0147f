/* textout.c - report formatting; see textout.h. */
#include "config.h"

#include "textout.h"

#include <string.h>
#include <time.h>

void txt_stamp(int64_t t, enum txt_stamp style, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (style == TXT_UTC_ISO)
		gmtime_r(&tt, &tm);
	else
		localtime_r(&tt, &tm);
	/* Literal formats, one per style, so the compiler checks each. */
	switch (style) {
	case TXT_LOCAL: strftime(buf, n, "%Y-%m-%d %H:%M", &tm); break;
	case TXT_LOCAL_SHORT: strftime(buf, n, "%m-%d %H:%M", &tm); break;
	case TXT_UTC_ISO: strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm); break;
	}
}

void txt_time(int64_t t, char *buf, size_t n)
{
	if (t == INT64_MAX)
		snprintf(buf, n, "never");
	else if (t == 0)
		snprintf(buf, n, "-");
	else
		txt_stamp(t, TXT_LOCAL, buf, n);
}

void txt_time_iso(int64_t t, char *buf, size_t n)
{
	if (t == 0 || t == INT64_MAX) {
		if (n)
			buf[0] = '\0';
		return;
	}
	txt_stamp(t, TXT_UTC_ISO, buf, n);
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
