/* folder_map.c - folder name mapping; see folder_map.h. */
#include "config.h"

#include "folder_map.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Splits s at delim into a malloc'd array of malloc'd components. */
static char **split(const char *s, char delim, size_t *n)
{
	size_t cap = 4;
	char **v = x_malloc(cap * sizeof *v);
	*n = 0;
	const char *start = s;
	for (const char *p = s;; p++) {
		if ((delim && *p == delim) || *p == '\0') {
			if (*n == cap) {
				cap *= 2;
				v = x_realloc(v, cap * sizeof *v);
			}
			v[(*n)++] = x_strndup(start, (size_t)(p - start));
			if (*p == '\0')
				break;
			start = p + 1;
		}
	}
	return v;
}

static void free_parts(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static char *join(char *const *v, size_t n, char delim)
{
	struct sbuf b;
	sb_init(&b);
	for (size_t i = 0; i < n; i++) {
		if (i && delim)
			sb_addc(&b, delim);
		sb_adds(&b, v[i]);
	}
	if (!b.data)
		return x_strdup("");
	return b.data;
}

static enum st compile_list(const char *lines, regex_t **out, size_t *n, const char *what,
                            struct err *e)
{
	*out = NULL;
	*n = 0;
	if (!lines || !*lines)
		return ST_OK;
	size_t count = 0;
	char **v = split(lines, '\n', &count);
	*out = x_calloc(count, sizeof **out);
	enum st r = ST_OK;
	for (size_t i = 0; i < count && !r; i++) {
		if (!*v[i])
			continue;
		int rc = regcomp(&(*out)[*n], v[i], REG_EXTENDED | REG_NOSUB);
		if (rc) {
			char msg[200];
			regerror(rc, &(*out)[*n], msg, sizeof msg);
			r = err_set(e, ST_USAGE, "bad %s pattern '%s': %s", what, v[i], msg);
		} else {
			(*n)++;
		}
	}
	free_parts(v, count);
	return r;
}

static void add_prefix_parts(struct fm_rules *r, char **from, size_t nfrom, char **to, size_t nto)
{
	r->prefixes = x_realloc(r->prefixes, (r->nprefixes + 1) * sizeof *r->prefixes);
	struct fm_prefix *p = &r->prefixes[r->nprefixes++];
	p->from = from;
	p->nfrom = nfrom;
	p->to = to;
	p->nto = nto;
}

enum st fm_rules_init(struct fm_rules *r, char src_delim, char dst_delim, char sep_char,
                      const char *include, const char *exclude, const char *renames,
                      struct err *e)
{
	memset(r, 0, sizeof *r);
	r->src_delim = src_delim;
	r->dst_delim = dst_delim;
	r->sep_char = sep_char ? sep_char : '_';
	enum st s = compile_list(include, &r->include, &r->ninclude, "--include", e);
	if (!s)
		s = compile_list(exclude, &r->exclude, &r->nexclude, "--exclude", e);
	if (!s && renames && *renames) {
		size_t count = 0;
		char **v = split(renames, '\n', &count);
		for (size_t i = 0; i < count && !s; i++) {
			if (!*v[i])
				continue;
			char *eq = strchr(v[i], '=');
			if (!eq || eq == v[i] || !eq[1]) {
				s = err_set(e, ST_USAGE, "bad folder rule '%s': use SOURCE/PATH=TARGET/PATH", v[i]);
				break;
			}
			*eq = '\0';
			size_t nf, nt;
			char **from = split(v[i], '/', &nf);
			char **to = split(eq + 1, '/', &nt);
			add_prefix_parts(r, from, nf, to, nt);
		}
		free_parts(v, count);
	}
	if (s)
		fm_rules_free(r);
	return s;
}

void fm_rules_free(struct fm_rules *r)
{
	for (size_t i = 0; i < r->ninclude; i++)
		regfree(&r->include[i]);
	for (size_t i = 0; i < r->nexclude; i++)
		regfree(&r->exclude[i]);
	free(r->include);
	free(r->exclude);
	for (size_t i = 0; i < r->nprefixes; i++) {
		free_parts(r->prefixes[i].from, r->prefixes[i].nfrom);
		free_parts(r->prefixes[i].to, r->prefixes[i].nto);
	}
	free(r->prefixes);
	memset(r, 0, sizeof *r);
}

void fm_add_prefix(struct fm_rules *r, const char *src_name, const char *dst_name)
{
	size_t nf, nt;
	char **from = split(src_name, r->src_delim, &nf);
	char **to = split(dst_name, r->dst_delim, &nt);
	add_prefix_parts(r, from, nf, to, nt);
}

enum fm_special fm_special_of(const char *attr)
{
	static const char *const names[SU__COUNT] = { "", "\\Sent", "\\Drafts", "\\Trash", "\\Junk",
	                                              "\\Archive", "\\All", "\\Flagged" };
	for (int i = 1; i < SU__COUNT; i++)
		if (!strcasecmp(attr, names[i]))
			return (enum fm_special)i;
	return SU_NONE;
}

char *fm_path(const struct fm_rules *r, const char *src_name)
{
	size_t n;
	char **parts = split(src_name, r->src_delim, &n);
	char *path = join(parts, n, '/');
	free_parts(parts, n);
	return path;
}

static bool matches_any(const regex_t *re, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (regexec(&re[i], path, 0, NULL, 0) == 0)
			return true;
	return false;
}

/* Component-wise prefix match: the first matching rule wins. */
static bool prefix_matches(const struct fm_prefix *p, char *const *parts, size_t n)
{
	if (p->nfrom > n)
		return false;
	for (size_t i = 0; i < p->nfrom; i++) {
		bool inbox = i == 0 && !strcasecmp(p->from[0], "INBOX");
		if (inbox ? strcasecmp(parts[i], "INBOX") : strcmp(parts[i], p->from[i]))
			return false;
	}
	return true;
}

bool fm_map(const struct fm_rules *r, const char *src_name, char **dst, char **note)
{
	*dst = NULL;
	*note = NULL;
	char *path = fm_path(r, src_name);
	bool keep = (r->ninclude == 0 || matches_any(r->include, r->ninclude, path)) &&
	            !matches_any(r->exclude, r->nexclude, path);
	free(path);
	if (!keep)
		return false;

	size_t n;
	char **parts = split(src_name, r->src_delim, &n);
	char **out = parts;
	size_t nout = n;
	char **mapped = NULL;
	for (size_t i = 0; i < r->nprefixes; i++) {
		const struct fm_prefix *p = &r->prefixes[i];
		if (!prefix_matches(p, parts, n))
			continue;
		nout = p->nto + (n - p->nfrom);
		mapped = x_malloc(nout * sizeof *mapped);
		for (size_t k = 0; k < p->nto; k++)
			mapped[k] = x_strdup(p->to[k]);
		for (size_t k = p->nfrom; k < n; k++)
			mapped[p->nto + k - p->nfrom] = x_strdup(parts[k]);
		out = mapped;
		break;
	}
	bool replaced = false;
	/* Components from a prefix rule's target side are target names already. */
	size_t first_src = mapped ? 0 : 0;
	for (size_t k = first_src; k < nout && r->dst_delim; k++)
		for (char *c = out[k]; *c; c++)
			if (*c == r->dst_delim && r->dst_delim != r->src_delim) {
				*c = r->sep_char;
				replaced = true;
			}
	*dst = join(out, nout, r->dst_delim);
	if (replaced)
		*note = x_asprintf("source folder '%s' contains the target's hierarchy separator '%c'; "
		                   "it is migrated as '%s'", src_name, r->dst_delim, *dst);
	if (mapped)
		free_parts(mapped, nout);
	free_parts(parts, n);
	return true;
}
