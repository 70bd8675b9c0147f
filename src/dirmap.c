/* dirmap.c - a forest's directory attribute map; see dirmap.h. */
#include "config.h"

#include "dirmap.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const field_names[DM__COUNT] = {
	"login", "address", "name", "site", "database", "key", "upn"
};

const char *dirmap_field_name(enum dirmap_field f)
{
	return f < DM__COUNT ? field_names[f] : "?";
}

/* RFC 4512 1.4: descr (keystring) or numericoid, then ";option"s. */
static bool attr_name_ok(const char *a)
{
	size_t n = strcspn(a, ";");
	if (!n)
		return false;
	bool oid = isdigit((unsigned char)a[0]);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)a[i];
		if (oid ? !(isdigit(c) || c == '.') : !(isalnum(c) || c == '-') || (!i && !isalpha(c)))
			return false;
	}
	for (const char *p = a + n; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '-' || *p == ';'))
			return false;
	return true;
}

static char *trimmed(const char *s, size_t len)
{
	while (len && isspace((unsigned char)*s))
		s++, len--;
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	return x_strndup(s, len);
}

/* Applies one "field=attribute" (attribute "" removes) to m. */
static enum st assign(struct dirmap *m, const char *item, struct err *e)
{
	const char *eq = strchr(item, '=');
	if (!eq)
		return err_set(e, ST_CONFIG, "attribute map '%s': give FIELD=ATTRIBUTE (fields: %s)", item,
		               DIRMAP_FIELDS);
	char *field = trimmed(item, (size_t)(eq - item));
	char *attr = trimmed(eq + 1, strlen(eq + 1));
	enum st s = ST_OK;
	int f = 0;
	while (f < DM__COUNT && strcasecmp(field, field_names[f]))
		f++;
	if (f == DM__COUNT)
		s = err_set(e, ST_CONFIG, "unknown attribute map field '%s' (%s)", field, DIRMAP_FIELDS);
	else if (*attr && !attr_name_ok(attr))
		s = err_set(e, ST_CONFIG, "attribute map %s=%s: '%s' is not an LDAP attribute name", field,
		            attr, attr);
	if (!s) {
		free(m->attr[f]);
		m->attr[f] = NULL;
		if (*attr) {            /* "" removes the field: attr is freed below */
			m->attr[f] = attr;
			attr = NULL;
		}
	}
	free(field);
	free(attr);
	return s;
}

/* Applies every item of list separated by any of seps. */
static enum st assign_all(struct dirmap *m, const char *list, const char *seps, struct err *e)
{
	enum st s = ST_OK;
	for (const char *p = list ? list : ""; *p && !s;) {
		size_t len = strcspn(p, seps);
		char *item = trimmed(p, len);
		if (*item)
			s = assign(m, item, e);
		free(item);
		p += len + (p[len] != '\0');
	}
	return s;
}

enum st dirmap_parse(const char *text, struct dirmap *m, struct err *e)
{
	memset(m, 0, sizeof *m);
	enum st s = assign_all(m, text, "\n", e);
	if (s)
		dirmap_free(m);
	return s;
}

enum st dirmap_apply(char **text, const char *assignments, struct err *e)
{
	struct dirmap m;
	enum st s = dirmap_parse(*text, &m, e);
	if (!s)
		s = assign_all(&m, assignments, "\n,", e);
	if (!s) {
		free(*text);
		*text = dirmap_text(&m);
	}
	dirmap_free(&m);
	return s;
}

char *dirmap_text(const struct dirmap *m)
{
	struct sbuf b;
	sb_init(&b);
	for (int f = 0; f < DM__COUNT; f++)
		if (m->attr[f])
			sb_printf(&b, "%s%s=%s", b.len ? "\n" : "", field_names[f], m->attr[f]);
	if (!b.len) {
		sb_free(&b);
		return NULL;
	}
	return b.data;
}

void dirmap_free(struct dirmap *m)
{
	for (int f = 0; f < DM__COUNT; f++)
		free(m->attr[f]);
	memset(m, 0, sizeof *m);
}
