/* tst_blackout.c - blackout windows applied to mailboxes: weekly windows in
 * two zones across their daylight-saving changes, sites and mailboxes,
 * the entire/initial/final modes (window's own and the forest's), chained
 * windows, the next hold of a running job, bad zones and modes, and a set
 * loaded from a real store. */
#include "blackout.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "tz.h"
#include "wall.h"

static struct blackout win(const char *name, const char *tz, const char *site, int64_t mb, int64_t s,
                           int64_t e, bool weekly, const char *mode)
{
	return (struct blackout){ .name = (char *)name, .tz = (char *)tz, .site = (char *)site, .mailbox_id = mb,
	                          .start_ts = s, .end_ts = e, .weekly = weekly, .mode = (char *)mode };
}

static void add(struct bo_set *b, struct blackout w)
{
	struct err e;
	if (bo_add_window(b, &w, &e))
		printf("# %s\n", e.msg);
}

static void test_dst(void)
{
	struct bo_set *b = bo_set_new();
	/* Saturday 22:00 to Sunday 06:00 every week, Paris, first on 6 March
	 * 2027; Paris springs forward on 28 March 2027 at 02:00. */
	add(b, win("paris-nights", "Europe/Paris", "Paris", 0, wall_time("Europe/Paris", 2027, 3, 6, 22, 0),
	           wall_time("Europe/Paris", 2027, 3, 7, 6, 0), true, NULL));
	/* Friday 20:00 to 23:00, New York; New York springs forward on 14
	 * March 2027. */
	add(b, win("ny-evenings", "America/New_York", "NY", 0, wall_time("America/New_York", 2027, 3, 5, 20, 0),
	           wall_time("America/New_York", 2027, 3, 5, 23, 0), true, NULL));
	bo_add_mailbox(b, 1, "pierre", 10, "Paris");
	bo_add_mailbox(b, 1, "nancy", 11, "NY");
	bo_add_mailbox(b, 1, "nobody", 12, NULL);
	struct bo_subject paris, ny, none;
	bo_subject_of(b, 1, "pierre", &paris);
	bo_subject_of(b, 1, "nancy", &ny);
	bo_subject_of(b, 1, "nobody", &none);
	check(paris.mailbox_id == 10 && paris.site && !strcmp(paris.site, "Paris") && ny.mailbox_id == 11,
	      "subjects found by endpoint and login");

	int64_t until = 0;
	const char *name = NULL;
	bool held = bo_held(b, &paris, BO_PHASE_WHOLE, wall_time("Europe/Paris", 2027, 3, 27, 23, 0), &until, &name);
	check(held && until == wall_time("Europe/Paris", 2027, 3, 28, 6, 0) && name && !strcmp(name, "paris-nights"),
	      "Paris, the night of the clock change: held until 06:00 CEST");
	check(until - wall_time("Europe/Paris", 2027, 3, 27, 22, 0) == 7 * 3600,
	      "that night's window lasts 7 hours of real time");
	check(until == wall_time("UTC", 2027, 3, 28, 4, 0),
	      "06:00 CEST is 04:00 UTC");
	check(bo_held(b, &paris, BO_PHASE_WHOLE, wall_time("Europe/Paris", 2027, 3, 20, 22, 30), &until, NULL) &&
	      until == wall_time("UTC", 2027, 3, 21, 5, 0), "the week before (CET): until 05:00 UTC");
	check(!bo_held(b, &paris, BO_PHASE_WHOLE, wall_time("Europe/Paris", 2027, 3, 28, 6, 0), NULL, NULL),
	      "free at the window's end");
	check(!bo_held(b, &ny, BO_PHASE_WHOLE, wall_time("Europe/Paris", 2027, 3, 27, 23, 0), NULL, NULL) &&
	      !bo_held(b, &none, BO_PHASE_WHOLE, wall_time("Europe/Paris", 2027, 3, 27, 23, 0), NULL, NULL),
	      "a site's window holds only that site");

	check(bo_held(b, &ny, BO_PHASE_WHOLE, wall_time("America/New_York", 2027, 3, 19, 21, 0), &until, NULL) &&
	      until == wall_time("America/New_York", 2027, 3, 19, 23, 0) && until == wall_time("UTC", 2027, 3, 20, 3, 0),
	      "New York after its change: 20:00-23:00 EDT (03:00 UTC)");
	check(bo_held(b, &ny, BO_PHASE_WHOLE, wall_time("America/New_York", 2027, 3, 12, 22, 59), &until, NULL) &&
	      until == wall_time("UTC", 2027, 3, 13, 4, 0), "and before it: 23:00 EST is 04:00 UTC");
	check(!bo_held(b, &ny, BO_PHASE_WHOLE, wall_time("America/New_York", 2027, 3, 19, 19, 30), NULL, NULL),
	      "not held before the window");
	check(bo_next_hold(b, &ny, BO_PHASE_WHOLE, wall_time("America/New_York", 2027, 3, 19, 19, 30), &name) ==
	      wall_time("America/New_York", 2027, 3, 19, 20, 0) && name && !strcmp(name, "ny-evenings"),
	      "next hold: the coming Friday 20:00");
	check(bo_next_hold(b, &none, BO_PHASE_WHOLE, wall_time("UTC", 2027, 3, 19, 0, 0), NULL) == INT64_MAX,
	      "no window ever holds a mailbox of no site");
	bo_free(b);
}

static void test_modes(void)
{
	struct bo_set *b = bo_set_new();
	int64_t s = wall_time("UTC", 2027, 5, 1, 10, 0), e = wall_time("UTC", 2027, 5, 1, 12, 0);
	add(b, win("initial-only", "UTC", NULL, 0, s, e, false, "initial"));
	add(b, win("forest-mode", "UTC", NULL, 0, e + 3600, e + 7200, false, NULL));
	bo_set_endpoint_mode(b, 1, "final");
	bo_set_endpoint_mode(b, 2, NULL);
	struct bo_subject m1, m2;
	bo_subject_of(b, 1, "x", &m1);
	bo_subject_of(b, 2, "y", &m2);
	int64_t t = s + 60;
	check(bo_held(b, &m1, BO_PHASE_INITIAL, t, NULL, NULL) && bo_held(b, &m1, BO_PHASE_WHOLE, t, NULL, NULL) &&
	      !bo_held(b, &m1, BO_PHASE_FINAL, t, NULL, NULL),
	      "mode initial: holds the initial sync and a one-pass job, not the cutover");
	t = e + 3600 + 60;
	check(bo_held(b, &m1, BO_PHASE_FINAL, t, NULL, NULL) && !bo_held(b, &m1, BO_PHASE_INITIAL, t, NULL, NULL),
	      "no mode of its own: the forest's (final) holds the cutover only");
	check(bo_held(b, &m2, BO_PHASE_FINAL, t, NULL, NULL) && bo_held(b, &m2, BO_PHASE_INITIAL, t, NULL, NULL),
	      "a forest without a mode: entire");
	check(bo_next_hold(b, &m1, BO_PHASE_FINAL, s, NULL) == e + 3600,
	      "next hold of the cutover skips the initial-only window");
	check(bo_mode_phases("entire") > 0 && bo_mode_phases("weekly") == -1 && bo_mode_phases(NULL) == 0,
	      "mode names");
	bo_free(b);
}

static void test_chains_and_errors(void)
{
	struct bo_set *b = bo_set_new();
	int64_t t0 = wall_time("UTC", 2027, 6, 1, 10, 0);
	add(b, win("a", "UTC", NULL, 0, t0, t0 + 7200, false, NULL));
	add(b, win("b", NULL, NULL, 0, t0 + 5400, t0 + 4 * 3600, false, NULL));     /* local time zone */
	add(b, win("mine", "UTC", NULL, 42, t0 + 5 * 3600, t0 + 6 * 3600, false, NULL));
	bo_add_mailbox(b, 3, "me", 42, NULL);
	bo_add_mailbox(b, 3, "you", 43, NULL);
	struct bo_subject me, you;
	bo_subject_of(b, 3, "me", &me);
	bo_subject_of(b, 3, "you", &you);
	int64_t until = 0;
	const char *name = NULL;
	check(bo_held(b, &you, BO_PHASE_WHOLE, t0 + 600, &until, &name) && until == t0 + 4 * 3600 &&
	      !strcmp(name, "a"), "overlapping windows chain: held until the later end");
	check(bo_held(b, &me, BO_PHASE_WHOLE, t0 + 5 * 3600, &until, NULL) && until == t0 + 6 * 3600 &&
	      !bo_held(b, &you, BO_PHASE_WHOLE, t0 + 5 * 3600, NULL, NULL), "a mailbox's own window");
	check(bo_next_hold(b, &you, BO_PHASE_WHOLE, t0 + 7 * 3600, NULL) == INT64_MAX &&
	      !bo_held(b, &you, BO_PHASE_WHOLE, t0 + 7 * 3600, NULL, NULL), "one-off windows that are over");
	check(bo_any(b) && !bo_any(NULL), "bo_any");
	check(bo_names_mailbox(b, 42) && !bo_names_mailbox(b, 43), "bo_names_mailbox: a window for 42, none for 43");

	struct err e;
	struct blackout bad = win("bad-zone", "Mars/Olympus", NULL, 0, t0, t0 + 1, false, NULL);
	check(bo_add_window(b, &bad, &e) == ST_CONFIG && strstr(e.msg, "bad-zone") && strstr(e.msg, "Mars/Olympus"),
	      "an unknown zone is refused, naming window and zone (%s)", e.msg);
	bad = win("bad-mode", "UTC", NULL, 0, t0, t0 + 1, false, "sometimes");
	check(bo_add_window(b, &bad, &e) == ST_CONFIG && strstr(e.msg, "sometimes"), "an unknown mode is refused");
	bo_free(b);
}

static void test_store(void)
{
	char dir[] = "/tmp/tst_blackoutXXXXXX";
	if (!mkdtemp(dir)) {
		check(0, "mkdtemp");
		return;
	}
	char *path = x_asprintf("%s/store.db", dir);
	struct store *s = NULL;
	struct err e;
	check(store_open(path, &s, &e) == 0, "store created");
	struct forest f = { .name = (char *)"old", .role = (char *)"source", .blackout_mode = (char *)"initial" };
	store_forest_add(s, &f, &e);
	struct endpoint en = { .name = (char *)"old-imap", .url = (char *)"imap://127.0.0.1:1",
	                       .secret_ref = (char *)"env:PW", .forest_id = f.id };
	store_endpoint_add(s, &en, &e);
	struct endpoint got = { 0 };
	store_endpoint_get(s, "old-imap", &got, &e);
	struct mailbox_row m = { .endpoint_id = got.id, .login = "ann", .site = "Lyon", .size_bytes = -1,
	                         .items = -1, .folders = -1 };
	int64_t mid = 0;
	store_mailbox_upsert(s, &m, &mid, &e);
	int64_t t0 = wall_time("UTC", 2027, 7, 1, 0, 0);
	struct blackout w = win("lyon", "Europe/Paris", "Lyon", 0, t0, t0 + 3600, true, NULL);
	check(store_blackout_add(s, &w, &e) == 0, "blackout stored");

	struct bo_set *b = NULL;
	check(bo_load(s, &b, &e) == 0 && b, "bo_load");
	struct bo_subject subj;
	bo_subject_of(b, got.id, "ann", &subj);
	check(subj.mailbox_id == mid && subj.site && !strcmp(subj.site, "Lyon"), "the mailbox's site from the store");
	check(bo_held(b, &subj, BO_PHASE_INITIAL, t0 + 7 * 86400 + 60, NULL, NULL) &&
	      !bo_held(b, &subj, BO_PHASE_FINAL, t0 + 7 * 86400 + 60, NULL, NULL),
	      "the forest's mode (initial) from the store; weekly a week later");
	bo_free(b);
	endpoint_free(&got);
	store_close(&s);
	unlink(path);
	char *wal = x_asprintf("%s-wal", path), *shm = x_asprintf("%s-shm", path);
	unlink(wal);
	unlink(shm);
	free(wal);
	free(shm);
	free(path);
	rmdir(dir);
}

int main(void)
{
	test_dst();
	test_modes();
	test_chains_and_errors();
	test_store();
	return tap_done();
}
