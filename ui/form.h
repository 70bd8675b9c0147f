/* form.h - dialogs and wizard pages as data: labelled fields (text,
 * password, number, yes/no, choice, date and time), buttons, validation with
 * a message that names the field.  Keys come in as form keys (FK_* or a
 * Unicode character), so forms are unit-tested without a terminal; ui/draw.c
 * draws them.
 *
 * Memory: a form points at its fields (an array the caller owns, usually on
 * the stack); field values are inline buffers.  Thread: UI only. */
#ifndef MF_FORM_H
#define MF_FORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ff_kind {
	FF_TEXT,
	FF_SECRET,      /* shown as stars, never drawn in clear */
	FF_INT,         /* whole number from min to max */
	FF_BOOL,        /* [x] */
	FF_CHOICE,      /* < one of choices > */
	FF_DATETIME,    /* YYYY-MM-DD HH:MM, local time */
	FF_LABEL,       /* read-only text (results, summaries) */
	FF_BUTTON,
};

/* Form keys beyond Unicode characters. */
enum {
	FK_LEFT = 0x110000, FK_RIGHT, FK_UP, FK_DOWN, FK_HOME, FK_END, FK_BACKSPACE, FK_DELETE,
	FK_TAB, FK_BTAB, FK_ENTER, FK_ESC, FK_PGUP, FK_PGDN, FK_KILL_LINE,
};

#define FORM_VALUE_MAX 256

struct form_field {
	const char *label;
	enum ff_kind kind;
	char value[FORM_VALUE_MAX];     /* UTF-8 text; FF_INT and FF_DATETIME too */
	size_t cur;                     /* text cursor, a byte offset */
	long min, max;                  /* FF_INT */
	const char *const *choices;     /* FF_CHOICE: NULL-terminated */
	int choice;
	bool checked;                   /* FF_BOOL */
	bool required;                  /* text/date may not be empty */
	bool hidden;                    /* neither drawn nor focused */
	const char *help;               /* shown while focused */
	int button;                     /* FF_BUTTON: what form_key returns */
};

struct form {
	const char *title;
	struct form_field *f;
	int n;
	int focus;                      /* index into f */
	char error[256];                /* the last validation error, "" for none */
	int error_field;                /* -1 for none */
};

enum { FORM_CANCEL = -1, FORM_NONE = 0 };

void form_init(struct form *fm, const char *title, struct form_field *f, int n);
/* One key: edits the focused field or moves the focus.  Returns the
 * button id of a button activated with Enter or Space, FORM_CANCEL on Esc,
 * FORM_NONE otherwise. */
int form_key(struct form *fm, int key);
/* Validates every shown field (required, number range, date); on failure
 * sets fm->error ("Port: must be a whole number from 1 to 65535"), moves
 * the focus to the field and returns false. */
bool form_check(struct form *fm);
/* Puts a message on the form as if field i failed validation. */
void form_fail(struct form *fm, int i, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

void form_set(struct form_field *f, const char *text);
long form_int(const struct form_field *f);
const char *form_choice(const struct form_field *f);
void form_set_choice(struct form_field *f, const char *name);
/* Parses "YYYY-MM-DD HH:MM" (local time) or "" (0).  False with why set
 * when it is not a real date. */
bool form_parse_datetime(const char *s, int64_t *out, char *why, size_t whylen);
void form_format_datetime(int64_t t, char *buf, size_t n);
/* The first focusable field from i on in direction dir (+1/-1). */
int form_next_focus(const struct form *fm, int i, int dir);

#endif
