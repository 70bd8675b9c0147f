/* textout.h - formatting shared by the reports of the command line
 * (schedule, metrics, report) and the console's cells (ui/): times,
 * durations, sizes and CSV fields.  All write into the caller's buffer (or
 * FILE); nothing is allocated.  Thread-safe. */
#ifndef MF_TEXTOUT_H
#define MF_TEXTOUT_H

#include <stdio.h>

#include "common.h"

/* How txt_stamp writes a time: the reports' and the console's own, the
 * Schedule view's short one, and UTC for CSV. */
enum txt_stamp {
	TXT_LOCAL,       /* "2026-11-25 14:05", local time */
	TXT_LOCAL_SHORT, /* "11-25 14:05", local time */
	TXT_UTC_ISO,     /* "2026-11-25T13:05:00Z" */
};
/* t (seconds since the epoch) as style says, with no special values. */
void txt_stamp(int64_t t, enum txt_stamp style, char *buf, size_t n);
/* "2026-11-25 14:05" in local time; "never" for INT64_MAX, "-" for 0. */
void txt_time(int64_t t, char *buf, size_t n);
/* "2026-11-25T13:05:00Z" (UTC, for CSV); "" for 0 and INT64_MAX. */
void txt_time_iso(int64_t t, char *buf, size_t n);
/* "2h05m", "3m20s", "45s", "3d04h"; a leading '-' when negative. */
void txt_duration(int64_t secs, char *buf, size_t n);
/* "1.2 GB" (powers of 1000), "-" for < 0. */
void txt_bytes(int64_t b, char *buf, size_t n);
/* A CSV field (RFC 4180): quoted when it holds a comma, quote or line
 * break; NULL is the empty field. */
void txt_csv_field(FILE *f, const char *s);

#endif
