/* imap_parse.c - tokenizer and response parser; see imap_parse.h. */
#include "config.h"

#include "imap_parse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "tz.h"

/* Nesting deeper than this is treated as malformed: bounds the recursion
 * whatever a hostile server sends. */
#define MAX_DEPTH 64

struct cursor {
	char *p;
	char *end;
	int depth;
};

static bool at_end(const struct cursor *c) { return c->p >= c->end; }

static void skip_spaces(struct cursor *c)
{
	while (!at_end(c) && *c->p == ' ')
		c->p++;
}

/* Reads a run of characters up to a delimiter.  Square brackets group, so
 * "BODY[HEADER.FIELDS (DATE)]" and "BODY[]<0>" are one atom. */
static int read_atom(struct cursor *c, struct imap_val *v)
{
	char *start = c->p;
	int brackets = 0;
	while (!at_end(c)) {
		char ch = *c->p;
		if (ch == '[')
			brackets++;
		else if (ch == ']' && brackets > 0)
			brackets--;
		else if (brackets == 0 && (ch == ' ' || ch == '(' || ch == ')' || ch == '\r' || ch == '\n'))
			break;
		else if (ch == '\0')
			return -1;
		c->p++;
	}
	if (c->p == start || brackets != 0)
		return -1;
	v->type = IV_ATOM;
	v->s = start;
	v->len = (size_t)(c->p - start);
	if (v->len == 3 && strncasecmp(start, "NIL", 3) == 0)
		v->type = IV_NIL;
	return 0;
}

/* A quoted string is unescaped in place; the result is shorter than the
 * input, so the closing quote can be overwritten with NUL. */
static int read_quoted(struct cursor *c, struct imap_val *v)
{
	char *out = ++c->p;
	v->s = out;
	while (!at_end(c)) {
		char ch = *c->p++;
		if (ch == '"') {
			v->len = (size_t)(out - v->s);
			*out = '\0';
			v->type = IV_STRING;
			return 0;
		}
		if (ch == '\\') {
			if (at_end(c))
				return -1;
			ch = *c->p++;
		}
		if (ch == '\r' || ch == '\n' || ch == '\0')
			return -1;
		*out++ = ch;
	}
	return -1;
}

/* "{N}" or "{N+}" CRLF then N bytes (literal8 "~{N}" accepted as well). */
static int read_literal(struct cursor *c, struct imap_val *v)
{
	if (*c->p == '~')
		c->p++;
	if (at_end(c) || *c->p != '{')
		return -1;
	c->p++;
	uint64_t n = 0;
	int digits = 0;
	while (!at_end(c) && isdigit((unsigned char)*c->p)) {
		if (n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*c->p - '0');
		c->p++;
		digits++;
	}
	if (digits == 0)
		return -1;
	if (!at_end(c) && *c->p == '+')
		c->p++;
	if (c->end - c->p < 3 || c->p[0] != '}' || c->p[1] != '\r' || c->p[2] != '\n')
		return -1;
	c->p += 3;
	if ((uint64_t)(c->end - c->p) < n)
		return -1;
	v->type = IV_STRING;
	v->s = c->p;
	v->len = (size_t)n;
	c->p += n;
	return 0;
}

static int read_value(struct cursor *c, struct imap_val *v);

static int read_list(struct cursor *c, struct imap_val *v)
{
	if (++c->depth > MAX_DEPTH)
		return -1;
	c->p++; /* '(' */
	size_t cap = 0;
	v->type = IV_LIST;
	v->items = NULL;
	v->n = 0;
	for (;;) {
		skip_spaces(c);
		if (at_end(c))
			return -1;
		if (*c->p == ')') {
			c->p++;
			c->depth--;
			return 0;
		}
		if (v->n == cap) {
			cap = cap ? cap * 2 : 8;
			struct imap_val *grown = realloc(v->items, cap * sizeof *grown);
			if (!grown)
				return -1;
			v->items = grown;
		}
		struct imap_val *item = &v->items[v->n];
		memset(item, 0, sizeof *item);
		v->n++;
		if (read_value(c, item) < 0)
			return -1;
	}
}

static int read_value(struct cursor *c, struct imap_val *v)
{
	memset(v, 0, sizeof *v);
	switch (*c->p) {
	case '(':
		return read_list(c, v);
	case '"':
		return read_quoted(c, v);
	case '{':
	case '~':
		return read_literal(c, v);
	default:
		return read_atom(c, v);
	}
}

static void free_val(struct imap_val *v)
{
	if (v->type != IV_LIST)
		return;
	for (size_t i = 0; i < v->n; i++)
		free_val(&v->items[i]);
	free(v->items);
	v->items = NULL;
	v->n = 0;
}

void imap_resp_free(struct imap_resp *r)
{
	for (size_t i = 0; i < r->nargs; i++)
		free_val(&r->args[i]);
	free(r->args);
	r->args = NULL;
	r->nargs = 0;
}

/* Cuts the next space-delimited word, NUL-terminating it in place. */
static char *cut_word(struct cursor *c)
{
	skip_spaces(c);
	if (at_end(c))
		return NULL;
	char *start = c->p;
	while (!at_end(c) && *c->p != ' ')
		c->p++;
	if (!at_end(c))
		*c->p++ = '\0';
	else if (c->p == c->end) {
		/* word ends at the buffer end: it is NUL-terminated only if the
		 * caller's buffer has room, which imap.c guarantees; the fuzzer
		 * harness does the same. */
		*c->end = '\0';
	}
	return start;
}

static void upcase(char *s)
{
	for (; *s; s++)
		*s = (char)toupper((unsigned char)*s);
}

static enum imap_cond cond_of(const char *w)
{
	if (!strcasecmp(w, "OK")) return COND_OK;
	if (!strcasecmp(w, "NO")) return COND_NO;
	if (!strcasecmp(w, "BAD")) return COND_BAD;
	if (!strcasecmp(w, "BYE")) return COND_BYE;
	if (!strcasecmp(w, "PREAUTH")) return COND_PREAUTH;
	return COND_NONE;
}

/* Status text: optional "[CODE args]" then free text. */
static int parse_status_text(struct cursor *c, struct imap_resp *r)
{
	skip_spaces(c);
	r->text = "";
	if (!at_end(c) && *c->p == '[') {
		char *start = ++c->p;
		int depth = 1;
		while (!at_end(c) && depth > 0) {
			if (*c->p == '[')
				depth++;
			else if (*c->p == ']')
				depth--;
			if (depth > 0)
				c->p++;
		}
		if (at_end(c))
			return -1;
		*c->p++ = '\0';
		char *sp = strchr(start, ' ');
		if (sp) {
			*sp = '\0';
			r->code_arg = sp + 1;
		} else {
			r->code_arg = "";
		}
		upcase(start);
		r->code = start;
		skip_spaces(c);
	}
	r->text = c->p;
	*c->end = '\0';
	return 0;
}

static int parse_args(struct cursor *c, struct imap_resp *r)
{
	size_t cap = 0;
	for (;;) {
		skip_spaces(c);
		if (at_end(c))
			return 0;
		if (r->nargs == cap) {
			cap = cap ? cap * 2 : 4;
			struct imap_val *grown = realloc(r->args, cap * sizeof *grown);
			if (!grown)
				return -1;
			r->args = grown;
		}
		struct imap_val *v = &r->args[r->nargs];
		memset(v, 0, sizeof *v);
		r->nargs++;
		if (read_value(c, v) < 0)
			return -1;
	}
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* The caller's buffer must have one writable byte at buf[len] (for the
 * terminating NUL); imap.c keeps one spare byte in its receive buffer. */
int imap_parse_response(char *buf, size_t len, struct imap_resp *r)
{
	memset(r, 0, sizeof *r);
	struct cursor c = { buf, buf + len, 0 };
	if (len == 0)
		goto bad;
	if (buf[0] == '+') {
		r->kind = RESP_CONTINUATION;
		c.p++;
		if (parse_status_text(&c, r) < 0)
			goto bad;
		return 0;
	}
	char *first = cut_word(&c);
	if (!first)
		goto bad;
	if (strcmp(first, "*") != 0) {
		r->kind = RESP_TAGGED;
		r->tag = first;
		char *w = cut_word(&c);
		if (!w || (r->cond = cond_of(w)) == COND_NONE || r->cond == COND_PREAUTH)
			goto bad;
		if (parse_status_text(&c, r) < 0)
			goto bad;
		return 0;
	}
	r->kind = RESP_UNTAGGED;
	char *w = cut_word(&c);
	if (!w)
		goto bad;
	if (all_digits(w)) {
		unsigned long long n = strtoull(w, NULL, 10);
		if (n > UINT32_MAX)
			goto bad;
		r->has_num = true;
		r->num = (uint32_t)n;
		w = cut_word(&c);
		if (!w)
			goto bad;
	}
	upcase(w);
	r->kw = w;
	r->cond = cond_of(w);
	if (r->cond != COND_NONE && !r->has_num) {
		if (parse_status_text(&c, r) < 0)
			goto bad;
		return 0;
	}
	r->cond = COND_NONE;
	if (parse_args(&c, r) < 0)
		goto bad;
	return 0;
bad:
	imap_resp_free(r);
	memset(r, 0, sizeof *r);
	return -1;
}

const struct imap_val *imap_fetch_item(const struct imap_val *list, const char *name)
{
	if (!list || list->type != IV_LIST)
		return NULL;
	size_t nlen = strlen(name);
	for (size_t i = 0; i + 1 < list->n; i += 2) {
		const struct imap_val *k = &list->items[i];
		if (k->type == IV_ATOM && k->len == nlen && strncasecmp(k->s, name, nlen) == 0)
			return &list->items[i + 1];
	}
	return NULL;
}

bool imap_val_u64(const struct imap_val *v, uint64_t max, uint64_t *out)
{
	if (!v || v->type != IV_ATOM || v->len == 0 || v->len > 20)
		return false;
	uint64_t n = 0;
	for (size_t i = 0; i < v->len; i++) {
		if (!isdigit((unsigned char)v->s[i]))
			return false;
		uint64_t d = (uint64_t)(v->s[i] - '0');
		if (n > (max - d) / 10)
			return false;
		n = n * 10 + d;
	}
	*out = n;
	return true;
}

bool imap_val_is(const struct imap_val *v, const char *s)
{
	size_t n = strlen(s);
	return v && v->type == IV_ATOM && v->len == n && strncasecmp(v->s, s, n) == 0;
}

static const char months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

static bool take_num(const char **p, const char *end, int width_min, int width_max, int *out)
{
	int n = 0, w = 0;
	while (*p < end && isdigit((unsigned char)**p) && w < width_max) {
		n = n * 10 + (**p - '0');
		(*p)++;
		w++;
	}
	*out = n;
	return w >= width_min;
}

bool imap_parse_date(const char *s, size_t len, int64_t *out)
{
	const char *p = s, *end = s + len;
	int day, year, hh, mm, ss, tzh, tzm;
	while (p < end && *p == ' ')
		p++;
	if (!take_num(&p, end, 1, 2, &day) || p >= end || *p++ != '-')
		return false;
	if (end - p < 4)
		return false;
	int mon = -1;
	for (int i = 0; i < 12; i++)
		if (strncasecmp(p, months[i], 3) == 0)
			mon = i + 1;
	if (mon < 0 || p[3] != '-')
		return false;
	p += 4;
	if (!take_num(&p, end, 4, 4, &year) || p >= end || *p++ != ' ')
		return false;
	if (!take_num(&p, end, 2, 2, &hh) || p >= end || *p++ != ':' ||
	    !take_num(&p, end, 2, 2, &mm) || p >= end || *p++ != ':' ||
	    !take_num(&p, end, 2, 2, &ss) || p >= end || *p++ != ' ')
		return false;
	if (p >= end || (*p != '+' && *p != '-'))
		return false;
	int sign = *p++ == '-' ? -1 : 1;
	if (!take_num(&p, end, 2, 2, &tzh) || !take_num(&p, end, 2, 2, &tzm) || p != end)
		return false;
	if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || tzm > 59)
		return false;
	int64_t t = tz_days_from_civil(year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss;
	t -= sign * (tzh * 3600 + tzm * 60);
	*out = t;
	return true;
}

void imap_format_date(int64_t t, int tz_min, char *buf)
{
	time_t local = (time_t)(t + (int64_t)tz_min * 60);
	struct tm tm;
	gmtime_r(&local, &tm);
	int a = (tz_min < 0 ? -tz_min : tz_min) % (24 * 60);
	snprintf(buf, 64, "%02d-%s-%04d %02d:%02d:%02d %c%02d%02d", tm.tm_mday,
	         months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         tz_min < 0 ? '-' : '+', a / 60, a % 60);
}

bool imap_line_literal(const char *line, size_t len, uint64_t *size)
{
	if (len < 3 || line[len - 1] != '}')
		return false;
	size_t i = len - 1;
	if (i > 0 && line[i - 1] == '+')
		i--;
	size_t digits_end = i;
	while (i > 0 && isdigit((unsigned char)line[i - 1]))
		i--;
	if (i == digits_end || i == 0 || line[i - 1] != '{')
		return false;
	if (digits_end - i > 19)
		return false;
	uint64_t n = 0;
	for (size_t k = i; k < digits_end; k++)
		n = n * 10 + (uint64_t)(line[k] - '0');
	*size = n;
	return true;
}

uint32_t imap_uidset_next(const char **p, uint32_t *cur, uint32_t *last)
{
	if (*cur && *cur < *last)
		return ++*cur;
	const char *q = *p;
	if (*q == ',')
		q++;
	if (!isdigit((unsigned char)*q))
		return 0;
	char *end;
	unsigned long a = strtoul(q, &end, 10);
	unsigned long b = a;
	if (*end == ':') {
		const char *r = end + 1;
		if (!isdigit((unsigned char)*r))
			return 0;
		b = strtoul(r, &end, 10);
	}
	if (a == 0 || b == 0 || a > UINT32_MAX || b > UINT32_MAX)
		return 0;
	*p = end;
	*cur = (uint32_t)(a < b ? a : b);
	*last = (uint32_t)(a < b ? b : a);
	return *cur;
}
