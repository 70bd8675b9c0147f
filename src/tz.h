/* tz.h - wall-clock time in a named IANA zone (Blackout Times, Schedule).
 *
 * Why not setenv("TZ") + tzset + mktime: the environment is process-wide,
 * and the engine thread (libcurl reads proxy variables, the log formats
 * times) would race with it; setenv can even move the environment array
 * under a reader.  So the zone file (TZif, RFC 8536) under /usr/share/zoneinfo
 * ($TZDIR) is read here, transitions and the footer's POSIX rule included,
 * and conversions are plain arithmetic: thread-safe and without side
 * effects.  The empty zone name is the console's local time (localtime_r
 * and mktime, which are thread-safe).
 *
 * Memory: tz_open returns a zone the caller frees with tz_close. */
#ifndef MF_TZ_H
#define MF_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tzone;

/* The zone called name ("Europe/Paris"), or local time for NULL or "".
 * NULL with why set ("unknown time zone ...") when there is no such zone. */
struct tzone *tz_open(const char *name, char *why, size_t whylen);
void tz_close(struct tzone *z);

/* Wall clock of unix time t in z: "YYYY-MM-DD HH:MM" into buf and the
 * zone's abbreviation ("CEST", "+03") into abbr (may be NULL). */
void tz_format(const struct tzone *z, int64_t t, char *buf, size_t n, char *abbr, size_t abbrlen);
/* The unix time of a wall-clock time in z.  A time skipped by a clock
 * change (02:30 on a spring-forward night) gives the moment after the gap;
 * a repeated one (autumn) the first of the two. */
int64_t tz_mktime(const struct tzone *z, int year, int mon, int day, int hour, int min);
/* Parses "YYYY-MM-DD HH:MM" (or "YYYY-MM-DD") as wall time in z; false with
 * why set when it is not a real date ("2026-13-01 is not a date"). */
bool tz_parse(const struct tzone *z, const char *s, int64_t *out, char *why, size_t whylen);
/* t plus k weeks of wall-clock time in z (a weekly 22:00 stays at 22:00
 * across a clock change). */
int64_t tz_add_weeks(const struct tzone *z, int64_t t, int64_t k);
/* Days from 1970-01-01 to y-m-d (m 1-12) in the proleptic Gregorian
 * calendar, negative before; no zone involved. */
int64_t tz_days_from_civil(int64_t y, int m, int d);

/* The occurrence of a window [start, end) (repeating every week of wall
 * time in z when weekly) that contains t, else the next one after t:
 * *ws and *we.  False when there is none (a one-off window that is over). */
bool tz_window(const struct tzone *z, int64_t start, int64_t end, bool weekly, int64_t t, int64_t *ws,
               int64_t *we);

#endif
