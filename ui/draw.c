/* draw.c - curses drawing shared by the views: cells that respect the
 * display width of UTF-8 text, tables with a header and group lines,
 * dialogs and menus.  See ui.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#include "ui.h"

/* Width of the character at s (its byte length in *len); invalid bytes
 * count as one column each so nothing is lost on screen. */
static int char_width(const char *s, size_t *len)
{
	mbstate_t ps = { 0 };
	wchar_t wc;
	size_t k = mbrtowc(&wc, s, MB_CUR_MAX, &ps);
	if (k == (size_t)-1 || k == (size_t)-2 || k == 0) {
		*len = 1;
		return 1;
	}
	*len = k;
	int w = wcwidth(wc);
	return w < 0 ? 1 : w;
}

int draw_width(const char *s)
{
	int w = 0;
	size_t len;
	while (*s) {
		w += char_width(s, &len);
		s += len;
	}
	return w;
}

void draw_cell(int y, int x, int w, const char *s, bool right)
{
	if (w <= 0)
		return;
	if (!s)
		s = "";
	/* How many bytes fit in w columns. */
	int used = 0;
	size_t bytes = 0, len;
	while (s[bytes]) {
		int cw = char_width(s + bytes, &len);
		if (used + cw > w)
			break;
		used += cw;
		bytes += len;
	}
	int pad = w - used;
	move(y, x);
	if (right)
		for (int i = 0; i < pad; i++)
			addch(' ');
	addnstr(s, (int)bytes);
	if (!right)
		for (int i = 0; i < pad; i++)
			addch(' ');
}

void draw_bar(int y, int x, int len)
{
	move(y, x);
	for (int i = 0; i < len; i++)
		addch(ACS_CKBOARD);
}

/* --- tables ----------------------------------------------------------------- */

/* Widths: fixed columns as asked; a 0-width column takes what is left.
 * On a narrow screen the last columns are cut. */
static void col_widths(const struct tbl *t, int w, int *out)
{
	int fixed = 0, flex = -1;
	for (int c = 0; c < t->ops->ncols; c++) {
		out[c] = t->ops->cols[c].width;
		if (out[c] == 0)
			flex = c;
		else
			fixed += out[c] + 1;
	}
	if (flex >= 0)
		out[flex] = w - fixed - 1 > 8 ? w - fixed - 1 : 8;
}

static void draw_header(struct ui *u, const struct tbl *t, int y, int w, int x0, const int *cw)
{
	attron(ui_attr(u, C_HEADER));
	mvhline(y, 0, ' ', w);
	int x = x0;
	for (int c = 0; c < t->ops->ncols && x < w; c++) {
		const struct tbl_col *col = &t->ops->cols[c];
		char title[64];
		snprintf(title, sizeof title, "%s%s", col->title,
		         c == t->sort_col ? (t->sort_desc ? "\xe2\x96\xbc" : "\xe2\x96\xb2") : "");
		int cwid = cw[c] < w - x ? cw[c] : w - x;
		draw_cell(y, x, cwid, title, col->right);
		x += cw[c] + 1;
	}
	attroff(ui_attr(u, C_HEADER));
}

static void draw_row(struct ui *u, const struct tbl *t, const void *row, int y, int w, int x0,
                     const int *cw)
{
	char buf[512];
	int x = x0;
	for (int c = 0; c < t->ops->ncols && x < w; c++) {
		tbl_cell(t, row, c, buf, sizeof buf);
		int cwid = cw[c] < w - x ? cw[c] : w - x;
		draw_cell(y, x, cwid, buf, t->ops->cols[c].right);
		x += cw[c] + 1;
	}
	(void)u;
}

void draw_table(struct ui *u, struct tbl *t, int y0, int h, int w, bool select_marks)
{
	int cw[32];
	int x0 = select_marks ? 2 : 0;
	col_widths(t, w - x0, cw);
	draw_header(u, t, y0, w, x0, cw);
	int rows = h - 1;
	if (rows < 1)
		return;
	if (t->cursor < t->top)
		t->top = t->cursor;
	if (t->cursor >= t->top + (size_t)rows)
		t->top = t->cursor - (size_t)rows + 1;
	if (t->top + (size_t)rows > t->nvis)
		t->top = t->nvis > (size_t)rows ? t->nvis - (size_t)rows : 0;
	for (int r = 0; r < rows && t->top + (size_t)r < t->nvis; r++) {
		size_t i = t->top + (size_t)r;
		int y = y0 + 1 + r;
		const struct tbl_group *g = NULL;
		const void *row = tbl_vis_row(t, i, &g);
		bool cur = i == t->cursor;
		bool sel = row && select_marks && tbl_selected(t, t->ops->id(row));
		attr_t a = cur ? ui_attr(u, C_CURSOR) : sel ? ui_attr(u, C_SELECTED) : !row ? ui_attr(u, C_GROUP) : 0;
		attron(a);
		mvhline(y, 0, ' ', w);
		if (!row) {
			char head[300];
			snprintf(head, sizeof head, "\xe2\x96\xb8 %s: %s (%zu)", t->ops->cols[t->group_col].title,
			         g->key[0] ? g->key : "(none)", g->count);
			draw_cell(y, x0, w - x0, head, false);
		} else {
			if (select_marks)
				mvaddstr(y, 0, sel ? "* " : "  ");
			draw_row(u, t, row, y, w, x0, cw);
		}
		attroff(a);
	}
}

/* --- dialogs and menus ---------------------------------------------------------- */

static void box_at(struct ui *u, int y, int x, int h, int w, const char *title)
{
	attron(ui_attr(u, C_BAR));
	for (int r = 0; r < h; r++)
		mvhline(y + r, x, ' ', w);
	mvhline(y, x, ACS_HLINE, w);
	mvhline(y + h - 1, x, ACS_HLINE, w);
	mvvline(y, x, ACS_VLINE, h);
	mvvline(y, x + w - 1, ACS_VLINE, h);
	mvaddch(y, x, ACS_ULCORNER);
	mvaddch(y, x + w - 1, ACS_URCORNER);
	mvaddch(y + h - 1, x, ACS_LLCORNER);
	mvaddch(y + h - 1, x + w - 1, ACS_LRCORNER);
	if (title) {
		char t[200];
		snprintf(t, sizeof t, " %s ", title);
		draw_cell(y, x + 2, draw_width(t) < w - 4 ? draw_width(t) : w - 4, t, false);
	}
	attroff(ui_attr(u, C_BAR));
}

/* Lines of the note, wrapped at width w; returns how many. */
static int note_lines(const char *note, int w, const char **starts, int *lens, int max)
{
	int n = 0;
	const char *p = note;
	while (*p && n < max) {
		int len = 0, last_space = -1;
		while (p[len] && p[len] != '\n' && len < w) {
			if (p[len] == ' ')
				last_space = len;
			len++;
		}
		if (p[len] && p[len] != '\n' && last_space > 0)
			len = last_space;
		starts[n] = p;
		lens[n++] = len;
		p += len;
		if (*p == '\n' || *p == ' ')
			p++;
	}
	return n;
}

static void field_text(const struct form_field *f, char *buf, size_t n)
{
	switch (f->kind) {
	case FF_SECRET: {
		size_t k = 0, len = strlen(f->value);
		for (; k < len && k + 1 < n && k < 40; k++)
			buf[k] = '*';
		buf[k] = '\0';
		break;
	}
	case FF_BOOL: snprintf(buf, n, "[%c]", f->checked ? 'x' : ' '); break;
	case FF_CHOICE: snprintf(buf, n, "< %s >", f->choices ? f->choices[f->choice] : ""); break;
	default: snprintf(buf, n, "%s", f->value); break;
	}
}

/* Field i is the dialog's panel, shown. */
static bool is_panel(const struct ui_dialog *d, int i)
{
	return d->panel_draw && i == d->panel_field && !d->form.f[i].hidden;
}

void draw_dialog(struct ui *u, const struct ui_dialog *d)
{
	const struct form *fm = &d->form;
	int w = d->width ? d->width : 74;
	if (w > u->w - 2)
		w = u->w - 2;
	const char *starts[12];
	int lens[12];
	int nn = d->note[0] ? note_lines(d->note, w - 4, starts, lens, 12) : 0;
	int shown = 0, nbuttons = 0;
	for (int i = 0; i < fm->n; i++)
		if (is_panel(d, i))
			shown += d->panel_rows;
		else if (!fm->f[i].hidden)
			fm->f[i].kind == FF_BUTTON ? nbuttons++ : shown++;
	int h = 2 + nn + (nn ? 1 : 0) + shown + 1 + (nbuttons ? 2 : 0) + 2;
	if (h > u->h - 2)
		h = u->h - 2;
	int y0 = (u->h - h) / 2, x0 = (u->w - w) / 2;
	box_at(u, y0, x0, h, w, fm->title);
	int y = y0 + 1;
	attron(ui_attr(u, C_BAR));
	for (int i = 0; i < nn && y < y0 + h - 1; i++, y++) {
		char line[512];
		snprintf(line, sizeof line, "%.*s", lens[i], starts[i]);
		draw_cell(y, x0 + 2, w - 4, line, false);
	}
	if (nn)
		y++;
	int labw = 22 < w / 3 ? 22 : w / 3;
	int cur_x = -1, cur_y = -1;
	for (int i = 0; i < fm->n && y < y0 + h - 4; i++) {
		const struct form_field *f = &fm->f[i];
		if (is_panel(d, i)) {
			int rows = d->panel_rows < y0 + h - 4 - y ? d->panel_rows : y0 + h - 4 - y;
			draw_cell(y, x0 + 2, labw, f->label, false);
			attroff(ui_attr(u, C_BAR));
			d->panel_draw(u, d, y, x0 + 3 + labw, rows, w - labw - 5, i == fm->focus);
			attron(ui_attr(u, C_BAR));
			y += rows;
			continue;
		}
		if (f->hidden || f->kind == FF_BUTTON)
			continue;
		char val[FORM_VALUE_MAX + 8];
		field_text(f, val, sizeof val);
		draw_cell(y, x0 + 2, labw, f->label, false);
		bool focus = i == fm->focus;
		attr_t a = focus ? ui_attr(u, C_CURSOR) : f->kind == FF_LABEL ? 0 : A_UNDERLINE;
		attroff(ui_attr(u, C_BAR));
		attron(a | (f->kind == FF_LABEL ? ui_attr(u, C_BAR) : 0));
		draw_cell(y, x0 + 3 + labw, w - labw - 5, val, false);
		attroff(a | (f->kind == FF_LABEL ? ui_attr(u, C_BAR) : 0));
		attron(ui_attr(u, C_BAR));
		if (focus && (f->kind == FF_TEXT || f->kind == FF_INT || f->kind == FF_DATETIME || f->kind == FF_SECRET)) {
			char before[FORM_VALUE_MAX];
			snprintf(before, sizeof before, "%.*s", (int)f->cur, f->value);
			cur_x = x0 + 3 + labw + (f->kind == FF_SECRET ? (int)strlen(before) : draw_width(before));
			cur_y = y;
		}
		y++;
	}
	/* Buttons on one row, then the error or the focused field's help. */
	int by = y0 + h - 4, bx = x0 + 2;
	for (int i = 0; i < fm->n; i++) {
		const struct form_field *f = &fm->f[i];
		if (f->hidden || f->kind != FF_BUTTON || is_panel(d, i))
			continue;
		char b[64];
		snprintf(b, sizeof b, "[ %s ]", f->label);
		bool focus = i == fm->focus;
		if (focus) {
			attroff(ui_attr(u, C_BAR));
			attron(ui_attr(u, C_CURSOR));
		}
		mvaddstr(by, bx, b);
		if (focus) {
			attroff(ui_attr(u, C_CURSOR));
			attron(ui_attr(u, C_BAR));
		}
		bx += (int)strlen(b) + 1;
	}
	const char *msg = fm->error[0] ? fm->error : fm->f[fm->focus].help;
	if (msg) {
		attr_t a = fm->error[0] ? ui_attr(u, C_ERROR) : ui_attr(u, C_BAR);
		attroff(ui_attr(u, C_BAR));
		attron(a);
		draw_cell(y0 + h - 2, x0 + 2, w - 4, msg, false);
		attroff(a);
		attron(ui_attr(u, C_BAR));
	}
	attroff(ui_attr(u, C_BAR));
	if (cur_x >= 0 && cur_x < x0 + w - 2) {
		curs_set(1);
		move(cur_y, cur_x);
	}
}

void draw_menu(struct ui *u, const struct ui_menu *m)
{
	int w = draw_width(m->title) + 6;
	for (int i = 0; i < m->n; i++)
		if (draw_width(m->items[i]) + 6 > w)
			w = draw_width(m->items[i]) + 6;
	if (w > u->w - 2)
		w = u->w - 2;
	int h = m->n + 2;
	if (h > u->h - 2)
		h = u->h - 2;
	int y0 = (u->h - h) / 2, x0 = (u->w - w) / 2;
	box_at(u, y0, x0, h, w, m->title);
	int first = m->cur >= h - 2 ? m->cur - (h - 3) : 0;
	for (int r = 0; r < h - 2 && first + r < m->n; r++) {
		int i = first + r;
		attr_t a = i == m->cur ? ui_attr(u, C_CURSOR) : ui_attr(u, C_BAR);
		attron(a);
		draw_cell(y0 + 1 + r, x0 + 2, w - 4, m->items[i], false);
		attroff(a);
	}
}

/* --- cell formats ------------------------------------------------------------------ */

void fmt_count(int64_t c, char *buf, size_t n)
{
	if (c < 0) {
		snprintf(buf, n, "-");
		return;
	}
	char raw[32];
	int len = snprintf(raw, sizeof raw, "%lld", (long long)c);
	size_t k = 0;
	for (int i = 0; i < len && k + 2 < n; i++) {
		if (i && (len - i) % 3 == 0)
			buf[k++] = ',';
		buf[k++] = raw[i];
	}
	buf[k] = '\0';
}

void fmt_time(int64_t t, char *buf, size_t n)
{
	if (t <= 0) {
		snprintf(buf, n, "-");
		return;
	}
	form_format_datetime(t, buf, n);
}

void fmt_duration(int64_t s, char *buf, size_t n)
{
	if (s < 0)
		snprintf(buf, n, "-");
	else
		txt_duration(s, buf, n);
}
