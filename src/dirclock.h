/* dirclock.h - the directory's clock against this machine's: the root
 * DSE's currentTime (an RFC 4517 GeneralizedTime, e.g. Active Directory's
 * "20261125040000.0Z") parsed and compared.  Kerberos refuses tickets past
 * 5 minutes of skew by default, so that is where a warning starts.
 * Pure; no I/O. */
#ifndef MF_DIRCLOCK_H
#define MF_DIRCLOCK_H

#include <stdbool.h>
#include <time.h>

#define DIRCLOCK_TOLERANCE_S 300

enum dirclock_verdict {
	DIRCLOCK_UNPUBLISHED,   /* no currentTime: not checked */
	DIRCLOCK_UNREADABLE,    /* a value that is not a GeneralizedTime */
	DIRCLOCK_OK,            /* within the tolerance */
	DIRCLOCK_SKEWED,        /* past it */
};

/* Parses a GeneralizedTime: YYYYMMDDHH[MM[SS]][(.|,)FRACTION](Z|+HH[MM]|-HH[MM]);
 * the fraction is dropped.  false when gt is not one (a value without a
 * zone is local time by the RFC, unknowable here: refused too). */
bool dirclock_parse(const char *gt, time_t *out);

/* Judges current_time (NULL or "": unpublished) against now; *skew_s
 * (may be NULL) gets directory minus here, in seconds. */
enum dirclock_verdict dirclock_judge(const char *current_time, time_t now, long long *skew_s);

#endif
