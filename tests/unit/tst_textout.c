/* tst_textout.c - the text the CLI's reports and the console's cells share:
 * times in each style (local time pinned to UTC and to a zone with DST),
 * the special "never" and "-", durations at each unit's boundary and
 * negative, sizes in powers of 1000, and RFC 4180 CSV fields. */
#include "textout.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tap.h"

static int is(const char *got, const char *want)
{
	if (strcmp(got, want))
		printf("# got '%s', want '%s'\n", got, want);
	return !strcmp(got, want);
}

static char buf[64];

static const char *dur(int64_t s) { txt_duration(s, buf, sizeof buf); return buf; }
static const char *bytes(int64_t b) { txt_bytes(b, buf, sizeof buf); return buf; }

static void test_times(void)
{
	/* 2026-11-25 13:05:00 UTC */
	const int64_t t = 1795611900;
	setenv("TZ", "UTC", 1);
	tzset();
	txt_stamp(t, TXT_UTC_ISO, buf, sizeof buf);
	check(is(buf, "2026-11-25T13:05:00Z"), "UTC ISO for CSV");
	txt_stamp(t, TXT_LOCAL, buf, sizeof buf);
	check(is(buf, "2026-11-25 13:05"), "local time (TZ=UTC)");
	txt_stamp(t, TXT_LOCAL_SHORT, buf, sizeof buf);
	check(is(buf, "11-25 13:05"), "the Schedule view's short form");
	setenv("TZ", "Europe/Paris", 1);
	tzset();
	txt_time(t, buf, sizeof buf);
	check(is(buf, "2026-11-25 14:05"), "local time in Paris, winter (+1)");
	txt_time(t - 150 * 86400, buf, sizeof buf);
	check(is(buf, "2026-06-28 15:05"), "and summer (+2)");
	txt_time(INT64_MAX, buf, sizeof buf);
	check(is(buf, "never"), "INT64_MAX is never");
	txt_time(0, buf, sizeof buf);
	check(is(buf, "-"), "0 is -");
	txt_time_iso(0, buf, sizeof buf);
	check(is(buf, ""), "no time: an empty CSV field");
	txt_time_iso(INT64_MAX, buf, sizeof buf);
	check(is(buf, ""), "never: an empty CSV field too");
	txt_time_iso(t, buf, sizeof buf);
	check(is(buf, "2026-11-25T13:05:00Z"), "ISO stays UTC whatever TZ says");
}

static void test_durations_sizes(void)
{
	check(is(dur(0), "0s") && is(dur(59), "59s"), "seconds");
	check(is(dur(60), "1m00s") && is(dur(200), "3m20s") && is(dur(3599), "59m59s"), "minutes");
	check(is(dur(3600), "1h00m") && is(dur(7500), "2h05m"), "hours");
	check(is(dur(86400), "1d00h") && is(dur(3 * 86400 + 4 * 3600 + 59), "3d04h"), "days");
	check(is(dur(-200), "-3m20s"), "negative: a leading minus");
	check(is(bytes(-1), "-") && is(bytes(0), "0 B") && is(bytes(999), "999 B"), "bytes and unknown");
	check(is(bytes(1000), "1.0 KB") && is(bytes(1234567), "1.2 MB") && is(bytes(1500000000), "1.5 GB"),
	      "powers of 1000");
	check(is(bytes(INT64_C(7) * 1000000000000000), "7000.0 TB"), "TB is the largest unit");
	char small[4];
	txt_bytes(1234567, small, sizeof small);
	check(strlen(small) == 3, "a short buffer is cut, not overrun ('%s')", small);
}

static void test_csv(void)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	const char *fields[] = { "plain", "a,b", "say \"hi\"", "two\nlines", "", NULL, "zoë" };
	for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
		if (i)
			fputc(',', f);
		txt_csv_field(f, fields[i]);
	}
	fclose(f);
	check(is(out, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",,,zoë"),
	      "RFC 4180: quoted only when needed, quotes doubled, NULL empty, UTF-8 kept");
	free(out);
}

int main(void)
{
	test_times();
	test_durations_sizes();
	test_csv();
	return tap_done();
}
