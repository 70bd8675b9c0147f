/* form.c - dialog fields, editing and validation; see form.h. */
#include "config.h"

#include "form.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "textout.h"

static bool focusable(const struct form_field *f)
{
	return !f->hidden && f->kind != FF_LABEL;
}

int form_next_focus(const struct form *fm, int i, int dir)
{
	for (int k = 0; k < fm->n; k++) {
		i = (i + dir + fm->n) % fm->n;
		if (focusable(&fm->f[i]))
			return i;
	}
	return fm->focus;
}

void form_init(struct form *fm, const char *title, struct form_field *f, int n)
{
	*fm = (struct form){ .title = title, .f = f, .n = n, .focus = 0, .error_field = -1 };
	for (int i = 0; i < n; i++)
		f[i].cur = strlen(f[i].value);
	if (n && !focusable(&f[0]))
		fm->focus = form_next_focus(fm, 0, 1);
}

void form_set(struct form_field *f, const char *text)
{
	snprintf(f->value, sizeof f->value, "%s", text ? text : "");
	f->cur = strlen(f->value);
}

long form_int(const struct form_field *f)
{
	return strtol(f->value, NULL, 10);
}

const char *form_choice(const struct form_field *f)
{
	return f->choices ? f->choices[f->choice] : "";
}

void form_set_choice(struct form_field *f, const char *name)
{
	for (int i = 0; f->choices && f->choices[i]; i++)
		if (name && strcmp(f->choices[i], name) == 0)
			f->choice = i;
}

static int nchoices(const struct form_field *f)
{
	int n = 0;
	while (f->choices && f->choices[n])
		n++;
	return n;
}

/* --- text editing, UTF-8 aware -------------------------------------------- */

static size_t prev_char(const char *s, size_t i)
{
	if (i == 0)
		return 0;
	i--;
	while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
		i--;
	return i;
}

static size_t next_char(const char *s, size_t i)
{
	if (!s[i])
		return i;
	i++;
	while (s[i] && ((unsigned char)s[i] & 0xC0) == 0x80)
		i++;
	return i;
}

static size_t encode_utf8(int c, char out[4])
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xC0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xE0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		out[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (c >> 18));
	out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
	out[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

static void insert_char(struct form_field *f, int c)
{
	char enc[4];
	size_t k = encode_utf8(c, enc), len = strlen(f->value);
	if (f->kind == FF_INT && !(c >= '0' && c <= '9') && !(c == '-' && f->cur == 0))
		return;
	if (len + k + 1 > sizeof f->value)
		return;
	memmove(f->value + f->cur + k, f->value + f->cur, len - f->cur + 1);
	memcpy(f->value + f->cur, enc, k);
	f->cur += k;
}

static void delete_range(struct form_field *f, size_t from, size_t to)
{
	size_t len = strlen(f->value);
	memmove(f->value + from, f->value + to, len - to + 1);
	f->cur = from;
}

static bool edit_text(struct form_field *f, int key)
{
	switch (key) {
	case FK_LEFT: f->cur = prev_char(f->value, f->cur); return true;
	case FK_RIGHT: f->cur = next_char(f->value, f->cur); return true;
	case FK_HOME: f->cur = 0; return true;
	case FK_END: f->cur = strlen(f->value); return true;
	case FK_BACKSPACE:
		if (f->cur)
			delete_range(f, prev_char(f->value, f->cur), f->cur);
		return true;
	case FK_DELETE:
		delete_range(f, f->cur, next_char(f->value, f->cur));
		return true;
	case FK_KILL_LINE:
		f->value[0] = '\0';
		f->cur = 0;
		return true;
	default:
		if (key >= 0x20 && key < 0x110000 && key != 0x7F) {
			insert_char(f, key);
			return true;
		}
		return false;
	}
}

int form_key(struct form *fm, int key)
{
	if (fm->n == 0)
		return key == FK_ESC ? FORM_CANCEL : FORM_NONE;
	struct form_field *f = &fm->f[fm->focus];
	switch (key) {
	case FK_ESC:
		return FORM_CANCEL;
	case FK_TAB:
	case FK_DOWN:
		fm->focus = form_next_focus(fm, fm->focus, 1);
		return FORM_NONE;
	case FK_BTAB:
	case FK_UP:
		fm->focus = form_next_focus(fm, fm->focus, -1);
		return FORM_NONE;
	case FK_ENTER:
		if (f->kind == FF_BUTTON)
			return f->button;
		fm->focus = form_next_focus(fm, fm->focus, 1);
		return FORM_NONE;
	default:
		break;
	}
	switch (f->kind) {
	case FF_BUTTON:
		if (key == ' ')
			return f->button;
		if (key == FK_LEFT || key == FK_RIGHT)
			fm->focus = form_next_focus(fm, fm->focus, key == FK_LEFT ? -1 : 1);
		return FORM_NONE;
	case FF_BOOL:
		if (key == ' ' || key == 'x' || key == 'X')
			f->checked = !f->checked;
		else if (key == 'y' || key == 'Y')
			f->checked = true;
		else if (key == 'n' || key == 'N')
			f->checked = false;
		return FORM_NONE;
	case FF_CHOICE: {
		int n = nchoices(f);
		if (n && (key == FK_RIGHT || key == ' '))
			f->choice = (f->choice + 1) % n;
		else if (n && key == FK_LEFT)
			f->choice = (f->choice + n - 1) % n;
		return FORM_NONE;
	}
	default:
		edit_text(f, key);
		if (fm->error_field == fm->focus) {
			fm->error[0] = '\0';     /* the admin is fixing it */
			fm->error_field = -1;
		}
		return FORM_NONE;
	}
}

/* --- validation ------------------------------------------------------------ */

void form_fail(struct form *fm, int i, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = snprintf(fm->error, sizeof fm->error, "%s: ", fm->f[i].label);
	vsnprintf(fm->error + k, sizeof fm->error - (size_t)k, fmt, ap);
	va_end(ap);
	fm->error_field = i;
	fm->focus = i;
}

void form_format_datetime(int64_t t, char *buf, size_t n)
{
	if (t <= 0) {
		buf[0] = '\0';
		return;
	}
	txt_stamp(t, TXT_LOCAL, buf, n);
}

bool form_parse_datetime(const char *s, int64_t *out, char *why, size_t whylen)
{
	while (*s == ' ')
		s++;
	if (!*s) {
		*out = 0;
		return true;
	}
	int y, mo, d, h = 0, mi = 0;
	char tail;
	int k = sscanf(s, "%4d-%2d-%2d %2d:%2d%c", &y, &mo, &d, &h, &mi, &tail);
	if (k != 3 && k != 5) {
		snprintf(why, whylen, "write the date as YYYY-MM-DD HH:MM, e.g. 2026-12-05 22:00");
		return false;
	}
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !leap)) {
		snprintf(why, whylen, "%04d-%02d-%02d is not a date", y, mo, d);
		return false;
	}
	if (h < 0 || h > 23 || mi < 0 || mi > 59) {
		snprintf(why, whylen, "%02d:%02d is not a time of day (00:00 to 23:59)", h, mi);
		return false;
	}
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi,
	                 .tm_isdst = -1 };
	*out = (int64_t)mktime(&tm);
	return true;
}

static bool check_field(struct form *fm, int i)
{
	struct form_field *f = &fm->f[i];
	if (f->hidden || f->kind == FF_LABEL || f->kind == FF_BUTTON || f->kind == FF_BOOL ||
	    f->kind == FF_CHOICE)
		return true;
	const char *v = f->value;
	while (*v == ' ')
		v++;
	if (!*v) {
		if (f->required || f->kind == FF_INT) {
			form_fail(fm, i, "%s", f->kind == FF_INT ? "enter a number" : "can't be empty");
			return false;
		}
		return true;
	}
	if (f->kind == FF_INT) {
		char *end;
		long x = strtol(v, &end, 10);
		while (*end == ' ')
			end++;
		if (*end || x < f->min || x > f->max) {
			form_fail(fm, i, "must be a whole number from %ld to %ld", f->min, f->max);
			return false;
		}
	}
	if (f->kind == FF_DATETIME) {
		int64_t t;
		char why[160];
		if (!form_parse_datetime(v, &t, why, sizeof why)) {
			form_fail(fm, i, "%s", why);
			return false;
		}
	}
	return true;
}

bool form_check(struct form *fm)
{
	fm->error[0] = '\0';
	fm->error_field = -1;
	for (int i = 0; i < fm->n; i++)
		if (!check_field(fm, i))
			return false;
	return true;
}
