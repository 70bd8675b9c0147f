/* tst_dirclock.c - the directory's clock: GeneralizedTime as Active
 * Directory's root DSE publishes it (with a fraction, Z), with offsets,
 * leap years; values refused (no zone, a 13th month, trailing text); and
 * the verdict at, just past and far past the 5-minute tolerance, either
 * way, and when nothing is published. */
#include "dirclock.h"

#include "tap.h"

static bool parses_to(const char *gt, long long want)
{
	time_t t = 0;
	bool ok = dirclock_parse(gt, &t) && (long long)t == want;
	if (!ok)
		printf("# '%s' -> %lld, not %lld\n", gt, (long long)t, want);
	return ok;
}

int main(void)
{
	time_t t;
	/* 2026-11-25 04:00:00 UTC = 1795579200 (date -u -d @1795579200). */
	const long long base = 1795579200;
	check(parses_to("20261125040000.0Z", base), "AD's form: fraction and Z");
	check(parses_to("20261125040000Z", base) && parses_to("202611250400Z", base) && parses_to("2026112504Z", base),
	      "seconds and minutes optional");
	check(parses_to("20261125060000+0200", base) && parses_to("20261124230000-05", base) &&
	      parses_to("20261125040000,123Z", base), "offsets with and without minutes, comma fraction");
	check(parses_to("19700101000000Z", 0) && parses_to("20240229120000Z", 1709208000),
	      "the epoch and a leap day");
	check(!dirclock_parse("20261125040000", &t), "no zone (local time by the RFC): refused");
	check(!dirclock_parse("20261325040000Z", &t) && !dirclock_parse("20230229000000Z", &t) &&
	      !dirclock_parse("20261125246000Z", &t), "a 13th month, 29 February of a common year, hour 24: refused");
	check(!dirclock_parse("20261125040000Zjunk", &t) && !dirclock_parse("2026Z", &t) && !dirclock_parse("", &t) &&
	      !dirclock_parse(NULL, &t) && !dirclock_parse("20261125040000.Z", &t), "trailing text, short, empty, NULL, "
	      "an empty fraction: refused");

	long long skew = 1;
	check(dirclock_judge(NULL, base, &skew) == DIRCLOCK_UNPUBLISHED && skew == 0 &&
	      dirclock_judge("", base, NULL) == DIRCLOCK_UNPUBLISHED, "nothing published: not checked");
	check(dirclock_judge("not a time", base, NULL) == DIRCLOCK_UNREADABLE, "garbage: unreadable");
	check(dirclock_judge("20261125040500Z", base, &skew) == DIRCLOCK_OK && skew == 300,
	      "5 minutes ahead: within the tolerance");
	check(dirclock_judge("20261125040501Z", base, &skew) == DIRCLOCK_SKEWED && skew == 301,
	      "5 minutes 1 second ahead: skewed");
	check(dirclock_judge("20261125033000Z", base, &skew) == DIRCLOCK_SKEWED && skew == -1800,
	      "30 minutes behind: skewed, negative");
	check(dirclock_judge("20261125035959.9Z", base, &skew) == DIRCLOCK_OK && skew == -1,
	      "a second behind: fine");
	return tap_done();
}
