/* textout.h - formatting shared by the reports of the command line
 * (schedule, metrics, report): times, durations, sizes and CSV fields.
 * All write into the caller's buffer (or FILE); nothing is allocated. */
#ifndef MF_TEXTOUT_H
#define MF_TEXTOUT_H

#include <stdio.h>

#include "common.h"

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
