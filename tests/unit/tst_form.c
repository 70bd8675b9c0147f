/* tst_form.c - dialog fields (ui/form.c): editing UTF-8 text, numbers,
 * choices, validation messages that name the field, dates. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "../../ui/form.h"
#include "tap.h"

static void type(struct form *fm, const char *s)
{
	/* ASCII plus the 2- and 3-byte sequences used below, as code points. */
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int c = *p++;
		if (c >= 0xE0) {
			c = ((c & 0x0F) << 12) | ((p[0] & 0x3F) << 6) | (p[1] & 0x3F);
			p += 2;
		} else if (c >= 0xC0) {
			c = ((c & 0x1F) << 6) | (p[0] & 0x3F);
			p++;
		}
		form_key(fm, c);
	}
}

int main(void)
{
	static const char *const roles[] = { "source", "target", "tenant", NULL };
	struct form_field f[] = {
		{ .label = "Name", .kind = FF_TEXT, .required = true },
		{ .label = "Port", .kind = FF_INT, .min = 1, .max = 65535 },
		{ .label = "Role", .kind = FF_CHOICE, .choices = roles },
		{ .label = "Verify TLS", .kind = FF_BOOL, .checked = true },
		{ .label = "Start", .kind = FF_DATETIME },
		{ .label = "OK", .kind = FF_BUTTON, .button = 7 },
	};
	struct form fm;
	form_init(&fm, "t", f, 6);
	check(!form_check(&fm) && strcmp(fm.error, "Name: can't be empty") == 0 && fm.focus == 0,
	      "empty required name refused: %s", fm.error);
	type(&fm, "Zoë 山");
	check(strcmp(f[0].value, "Zoë 山") == 0, "UTF-8 typed in: %s", f[0].value);
	form_key(&fm, FK_BACKSPACE);
	form_key(&fm, FK_LEFT);
	form_key(&fm, FK_LEFT);
	form_key(&fm, FK_DELETE);
	check(strcmp(f[0].value, "Zo ") == 0, "backspace and delete remove whole characters: '%s'", f[0].value);
	form_key(&fm, FK_KILL_LINE);
	type(&fm, "paris");
	form_key(&fm, FK_TAB);
	type(&fm, "7a0000");
	check(strcmp(f[1].value, "70000") == 0, "number field takes digits only: %s", f[1].value);
	check(!form_check(&fm) && strcmp(fm.error, "Port: must be a whole number from 1 to 65535") == 0 && fm.focus == 1,
	      "port 70000 refused: %s", fm.error);
	form_key(&fm, FK_BACKSPACE);
	check(fm.error[0] == '\0', "editing the bad field clears its message");
	form_key(&fm, FK_ENTER);
	check(fm.focus == 2, "Enter moves to the next field");
	form_key(&fm, FK_RIGHT);
	check(strcmp(form_choice(&f[2]), "target") == 0, "Right picks the next choice");
	form_key(&fm, FK_LEFT);
	form_key(&fm, FK_LEFT);
	check(strcmp(form_choice(&f[2]), "tenant") == 0, "Left wraps around");
	form_key(&fm, FK_DOWN);
	form_key(&fm, ' ');
	check(!f[3].checked, "Space toggles a yes/no field");
	form_key(&fm, FK_TAB);
	type(&fm, "2026-02-30 10:00");
	check(!form_check(&fm) && strstr(fm.error, "Start: 2026-02-30 is not a date"), "30 February refused: %s", fm.error);
	form_key(&fm, FK_KILL_LINE);
	type(&fm, "2026-12-05 25:00");
	check(!form_check(&fm) && strstr(fm.error, "not a time of day"), "25:00 refused: %s", fm.error);
	form_key(&fm, FK_KILL_LINE);
	type(&fm, "tomorrow");
	check(!form_check(&fm) && strstr(fm.error, "YYYY-MM-DD HH:MM"), "free text refused with the format: %s", fm.error);
	form_key(&fm, FK_KILL_LINE);
	type(&fm, "2028-02-29 23:59");
	check(form_check(&fm), "29 February of a leap year accepted");
	int64_t t;
	char why[100], back[32];
	check(form_parse_datetime("2028-02-29 23:59", &t, why, sizeof why) && t > 0, "parsed to %lld", (long long)t);
	form_format_datetime(t, back, sizeof back);
	check(strcmp(back, "2028-02-29 23:59") == 0, "formats back the same: %s", back);
	check(form_parse_datetime("", &t, why, sizeof why) && t == 0, "empty date is 0 (now)");
	form_key(&fm, FK_TAB);
	check(form_key(&fm, FK_ENTER) == 7, "Enter on a button returns its id");
	check(form_key(&fm, FK_ESC) == FORM_CANCEL, "Esc cancels");
	return tap_done();
}
