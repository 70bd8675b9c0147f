/* tst_folder_map.c - folder name mapping rules. */
#include "folder_map.h"

#include <stdlib.h>
#include <string.h>

#include "tap.h"

static void expect(const struct fm_rules *r, const char *src, const char *want, int want_note)
{
	char *dst = NULL, *note = NULL;
	bool kept = fm_map(r, src, &dst, &note);
	if (!want) {
		check(!kept, "'%s' excluded", src);
	} else {
		check(kept && !strcmp(dst, want) && (note != NULL) == want_note, "'%s' -> '%s' (got '%s'%s)",
		      src, want, dst ? dst : "(excluded)", note ? ", noted" : "");
	}
	free(dst);
	free(note);
}

int main(void)
{
	struct fm_rules r;
	struct err e;
	/* Source '/' (LAYOUT=fs), target '.' (maildir++). */
	check(fm_rules_init(&r, '/', '.', '_', NULL, "^Junk$\n^Archive/20[01]", "Old/Stuff=Kept", &e) == 0,
	      "rules compile");
	fm_add_prefix(&r, "Sent Items", "Sent");
	expect(&r, "INBOX", "INBOX", 0);
	expect(&r, "a/b/c", "a.b.c", 0);
	expect(&r, "v1.2", "v1_2", 1);
	expect(&r, "Projects/v1.2/x", "Projects.v1_2.x", 1);
	expect(&r, "Sent Items", "Sent", 0);
	expect(&r, "Sent Items/2020", "Sent.2020", 0);
	expect(&r, "Junk", NULL, 0);
	expect(&r, "Junk/keep", "Junk.keep", 0);
	expect(&r, "Archive/2005", NULL, 0);
	expect(&r, "Archive/2021", "Archive.2021", 0);
	expect(&r, "Old/Stuff/x", "Kept.x", 0);
	expect(&r, "Réunions/日本語", "Réunions.日本語", 0);
	expect(&r, "Say \"hi\"", "Say \"hi\"", 0);
	char *p = fm_path(&r, "a/b");
	check(!strcmp(p, "a/b"), "path of a/b");
	free(p);
	fm_rules_free(&r);

	check(fm_rules_init(&r, '.', '/', '-', "^INBOX", NULL, NULL, &e) == 0, "include-only rules");
	expect(&r, "INBOX.sub", "INBOX/sub", 0);
	expect(&r, "Other", NULL, 0);
	expect(&r, "INBOX.a/b", "INBOX/a-b", 1);
	fm_rules_free(&r);

	check(fm_rules_init(&r, '.', '/', '_', "([", NULL, NULL, &e) != 0 && strstr(e.msg, "--include"),
	      "bad regex names the option: %s", e.msg);
	check(fm_rules_init(&r, '.', '/', '_', NULL, NULL, "novalue", &e) != 0, "bad rename rule rejected");
	check(fm_special_of("\\sent") == SU_SENT && fm_special_of("\\Foo") == SU_NONE, "special-use names");
	return tap_done();
}
