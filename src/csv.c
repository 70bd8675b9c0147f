/* csv.c - comma-separated records; see csv.h. */
#include "csv.h"

#include <stdlib.h>
#include <string.h>

void csv_init(struct csv *c, const char *text, size_t len)
{
	c->p = text;
	c->end = text + len;
	c->line = 1;
	/* A UTF-8 byte order mark (spreadsheets write one) is not data. */
	if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
		c->p += 3;
}

void csv_fields_free(char **fields, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(fields[i]);
	free(fields);
}

static bool at_eol(const struct csv *c)
{
	return c->p == c->end || *c->p == '\n' || (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n');
}

static void skip_eol(struct csv *c)
{
	if (c->p < c->end && *c->p == '\r')
		c->p++;
	if (c->p < c->end && *c->p == '\n') {
		c->p++;
		c->line++;
	}
}

/* A quoted field, c->p on the opening quote; the value goes to out. */
static int quoted_field(struct csv *c, struct sbuf *out, struct err *e)
{
	int start_line = c->line;
	c->p++;
	for (;;) {
		if (c->p == c->end) {
			err_set(e, ST_CONFIG, "a quoted field opened on line %d is never closed",
			        start_line);
			return -1;
		}
		char ch = *c->p++;
		if (ch == '"' && c->p < c->end && *c->p == '"') {
			sb_addc(out, '"');
			c->p++;
		} else if (ch == '"') {
			break;
		} else {
			if (ch == '\n')
				c->line++;
			sb_addc(out, ch);
		}
	}
	if (!at_eol(c) && *c->p != ',') {
		err_set(e, ST_CONFIG, "text after a closing quote (a quote inside a quoted field "
		        "must be doubled)");
		return -1;
	}
	return 0;
}

/* A plain field up to the next comma or line end. */
static int plain_field(struct csv *c, struct sbuf *out, struct err *e)
{
	while (!at_eol(c) && *c->p != ',') {
		if (*c->p == '"') {
			err_set(e, ST_CONFIG, "a quote inside an unquoted field (quote the whole "
			        "field and double the quote)");
			return -1;
		}
		if (*c->p == '\r') {
			err_set(e, ST_CONFIG, "a carriage return inside a field");
			return -1;
		}
		sb_addc(out, *c->p++);
	}
	return 0;
}

int csv_next(struct csv *c, char ***fields, size_t *n, int *line, struct err *e)
{
	*fields = NULL;
	*n = 0;
	/* Blank lines between records are skipped. */
	while (c->p < c->end && (*c->p == '\n' || (*c->p == '\r' && at_eol(c))))
		skip_eol(c);
	*line = c->line;
	if (c->p >= c->end)
		return 0;
	size_t cap = 0;
	struct sbuf f;
	sb_init(&f);
	for (;;) {
		sb_reset(&f);
		int r = c->p < c->end && *c->p == '"' ? quoted_field(c, &f, e) : plain_field(c, &f, e);
		if (r < 0) {
			sb_free(&f);
			csv_fields_free(*fields, *n);
			*fields = NULL;
			*n = 0;
			return -1;
		}
		*fields = x_grow(*fields, *n, &cap, sizeof **fields, 8);
		(*fields)[(*n)++] = x_strndup(f.data ? f.data : "", f.len);
		if (at_eol(c))
			break;
		c->p++;   /* the comma */
	}
	skip_eol(c);
	sb_free(&f);
	return 1;
}
