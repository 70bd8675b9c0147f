/* cfg.c - mailferry.conf via libconfig.
 *
 * cfg_keys[] below is the single description of the configuration: name,
 * type, default, limits and a one-line doc per key.  Defaults, validation
 * and error messages all come from it, and tests/unit/tst_cfg.c checks that
 * data/mailferry.conf.example documents exactly these keys with these docs
 * and defaults, so adding a key here without documenting it fails the
 * tests. */
#include "cfg.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libconfig.h>

enum cfg_type { CFG_STRING, CFG_INT, CFG_BOOL };

/* Extra checks a string key needs beyond its type. */
enum cfg_check {
	CHK_NONE,
	CHK_PATH,        /* "~/" and "$XDG_DATA_HOME" are expanded; not empty */
	CHK_PATH_OPT,    /* same, but "" means "none" (NULL) */
	CHK_LOG_LEVEL,   /* one of log_level_names */
	CHK_SEPARATOR,   /* exactly one usable ASCII character */
};

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t offset;          /* of the field in struct cfg */
	const char *def_str;    /* CFG_STRING; NULL allowed for CHK_PATH_OPT */
	long long def_int;      /* CFG_INT, CFG_BOOL */
	long long min, max;     /* CFG_INT */
	enum cfg_check check;
	const char *doc;        /* one line, also the comment in the example */
};

#define F(field) offsetof(struct cfg, field)

static const struct cfg_key cfg_keys[] = {
	{ "store_path", CFG_STRING, F(store_path),
	  "$XDG_DATA_HOME/mailferry/mailferry.db", 0, 0, 0, CHK_PATH,
	  "SQLite database holding endpoints, jobs, progress and events." },
	{ "log_path", CFG_STRING, F(log_path),
	  NULL, 0, 0, 0, CHK_PATH_OPT,
	  "Diagnostic log file; unset or \"\" for none." },
	{ "log_level", CFG_STRING, F(log_level),
	  "info", 0, 0, 0, CHK_LOG_LEVEL,
	  "Detail of the diagnostic log: error, warn, info, debug or trace." },
	{ "secrets_path", CFG_STRING, F(secrets_path),
	  "$XDG_DATA_HOME/mailferry/secrets", 0, 0, 0, CHK_PATH,
	  "File (mode 0600) keeping passwords given with --password-stdin." },
	{ "workers", CFG_INT, F(workers),
	  NULL, 4, 1, 256, CHK_NONE,
	  "Mailboxes migrated in parallel by \"mailferry run\"." },
	{ "max_connections_per_server", CFG_INT, F(max_connections_per_server),
	  NULL, 10, 1, 1000, CHK_NONE,
	  "Default limit of simultaneous connections to one endpoint." },
	{ "batch_messages", CFG_INT, F(batch_messages),
	  NULL, 256, 1, 100000, CHK_NONE,
	  "Messages fetched and appended per copy batch." },
	{ "batch_bytes_mb", CFG_INT, F(batch_bytes_mb),
	  NULL, 16, 1, 4096, CHK_NONE,
	  "Megabytes of message data in flight per batch." },
	{ "timeout_s", CFG_INT, F(timeout_s),
	  NULL, 60, 1, 86400, CHK_NONE,
	  "Seconds without any network progress before a connection is dropped." },
	{ "retry_max", CFG_INT, F(retry_max),
	  NULL, 5, 0, 1000, CHK_NONE,
	  "Reconnect attempts per pass after transient errors." },
	{ "bad_item_limit", CFG_INT, F(bad_item_limit),
	  NULL, 50, 0, 1000000, CHK_NONE,
	  "A job fails when more items than this could not be copied." },
	{ "separator_char", CFG_STRING, F(separator_char),
	  "_", 0, 0, 0, CHK_SEPARATOR,
	  "Replaces the target's hierarchy separator inside source folder names." },
	{ "verify_after_copy", CFG_BOOL, F(verify_after_copy),
	  NULL, 1, 0, 1, CHK_NONE,
	  "Compare source and target after each full or delta pass (true/false)." },
};

#undef F

static const char *const log_level_names[] = {
	"error", "warn", "info", "debug", "trace",
};

static char **str_field(struct cfg *c, const struct cfg_key *k)
{
	return (char **)(void *)((char *)c + k->offset);
}

static int *int_field(struct cfg *c, const struct cfg_key *k)
{
	return (int *)(void *)((char *)c + k->offset);
}

/* --- default locations ------------------------------------------------------ */

static const char *home_dir(void)
{
	const char *h = getenv("HOME");
	if (h && *h)
		return h;
	/* Services and cron jobs may run without HOME. */
	struct passwd *pw = getpwuid(getuid());
	if (pw && pw->pw_dir && *pw->pw_dir)
		return pw->pw_dir;
	return ".";
}

/* $VAR if set to an absolute path (the XDG spec says relative values are
 * invalid and must be ignored), else ~/FALLBACK. */
static char *xdg_dir(const char *var, const char *fallback)
{
	const char *v = getenv(var);
	if (v && v[0] == '/')
		return x_strdup(v);
	return x_asprintf("%s/%s", home_dir(), fallback);
}

char *cfg_default_data_dir(void)
{
	char *base = xdg_dir("XDG_DATA_HOME", ".local/share");
	char *dir = x_asprintf("%s/mailferry", base);
	free(base);
	return dir;
}

char *cfg_default_path(void)
{
	char *base = xdg_dir("XDG_CONFIG_HOME", ".config");
	char *path = x_asprintf("%s/mailferry/mailferry.conf", base);
	free(base);
	return path;
}

/* Expands a leading "~/" or "$XDG_DATA_HOME" so that the documented
 * defaults can be copied into a config file as they are written. */
static char *expand_path(const char *s)
{
	static const char xdg[] = "$XDG_DATA_HOME";

	if (s[0] == '~' && (s[1] == '/' || s[1] == '\0'))
		return x_asprintf("%s%s", home_dir(), s + 1);
	if (strncmp(s, xdg, sizeof(xdg) - 1) == 0 &&
	    (s[sizeof(xdg) - 1] == '/' || s[sizeof(xdg) - 1] == '\0')) {
		char *base = xdg_dir("XDG_DATA_HOME", ".local/share");
		char *p = x_asprintf("%s%s", base, s + sizeof(xdg) - 1);
		free(base);
		return p;
	}
	return x_strdup(s);
}

/* --- loading ---------------------------------------------------------------- */

void cfg_free(struct cfg *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < countof(cfg_keys); i++) {
		if (cfg_keys[i].type == CFG_STRING) {
			char **p = str_field(c, &cfg_keys[i]);
			free(*p);
			*p = NULL;
		}
	}
	memset(c, 0, sizeof(*c));
}

static void set_string(struct cfg *c, const struct cfg_key *k, const char *v)
{
	char **p = str_field(c, k);
	free(*p);
	if (!v || ((k->check == CHK_PATH_OPT) && !*v))
		*p = NULL;
	else if (k->check == CHK_PATH || k->check == CHK_PATH_OPT)
		*p = expand_path(v);
	else
		*p = x_strdup(v);
}

static void set_defaults(struct cfg *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < countof(cfg_keys); i++) {
		const struct cfg_key *k = &cfg_keys[i];
		if (k->type == CFG_STRING)
			set_string(c, k, k->def_str);
		else
			*int_field(c, k) = (int)k->def_int;
	}
}

static const struct cfg_key *find_key(const char *name)
{
	for (size_t i = 0; i < countof(cfg_keys); i++)
		if (strcmp(cfg_keys[i].name, name) == 0)
			return &cfg_keys[i];
	return NULL;
}

/* Levenshtein distance, capped: only used to suggest a key for a typo. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return SIZE_MAX;
	size_t row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static const char *suggest_key(const char *name)
{
	const char *best = NULL;
	size_t best_d = 3;   /* more than two edits is not a typo */
	for (size_t i = 0; i < countof(cfg_keys); i++) {
		size_t d = edit_distance(name, cfg_keys[i].name);
		if (d < best_d) {
			best_d = d;
			best = cfg_keys[i].name;
		}
	}
	return best;
}

static const char *type_name(enum cfg_type t)
{
	switch (t) {
	case CFG_STRING: return _("a string in double quotes");
	case CFG_INT: return _("an integer");
	case CFG_BOOL: return _("true or false");
	}
	return "?";
}

/* "file:line" for a message.  libconfig records the name of an @include'd
 * file as written in the directive; resolve a relative one against the
 * including file's directory, where it was looked up. */
static void fmt_where(const char *file, unsigned line, const char *path,
		      char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');

	if (!file || strcmp(file, path) == 0 || file[0] == '/' || !slash)
		snprintf(buf, size, "%s:%u", file ? file : path, line);
	else
		snprintf(buf, size, "%.*s/%s:%u", (int)(slash - path), path,
			 file, line);
}

static void where(const config_setting_t *s, const char *path,
		  char *buf, size_t size)
{
	fmt_where(config_setting_source_file(s),
		  (unsigned)config_setting_source_line(s), path, buf, size);
}

static enum st check_string(const struct cfg_key *k, const char *v,
			    const char *loc, struct err *e)
{
	switch (k->check) {
	case CHK_NONE:
	case CHK_PATH_OPT:
		return ST_OK;
	case CHK_PATH:
		if (!*v)
			return err_set(e, ST_CONFIG, _("%s: %s must not be empty"),
				       loc, k->name);
		return ST_OK;
	case CHK_LOG_LEVEL:
		for (size_t i = 0; i < countof(log_level_names); i++)
			if (strcmp(v, log_level_names[i]) == 0)
				return ST_OK;
		return err_set(e, ST_CONFIG,
			       _("%s: %s must be error, warn, info, debug or trace, not \"%s\""),
			       loc, k->name, v);
	case CHK_SEPARATOR:
		/* One printable ASCII byte: it is spliced into IMAP folder
		 * names, where '*' and '%' are LIST wildcards and a space or a
		 * multi-byte character would be a surprising rename. */
		if (strlen(v) != 1 || v[0] <= ' ' || v[0] > '~' ||
		    v[0] == '*' || v[0] == '%')
			return err_set(e, ST_CONFIG,
				       _("%s: %s must be a single printable ASCII character other than space, '*' and '%%', not \"%s\""),
				       loc, k->name, v);
		return ST_OK;
	}
	return ST_OK;
}

static enum st apply_setting(struct cfg *c, const config_setting_t *s,
			     const char *path, struct err *e)
{
	char loc[PATH_MAX + 32];
	const char *name = config_setting_name(s);
	where(s, path, loc, sizeof(loc));

	if (!name)
		return err_set(e, ST_CONFIG, _("%s: expected \"name = value;\""), loc);
	const struct cfg_key *k = find_key(name);
	if (!k) {
		const char *hint = suggest_key(name);
		if (hint)
			return err_set(e, ST_CONFIG,
				       _("%s: unknown setting \"%s\" (did you mean \"%s\"?)"),
				       loc, name, hint);
		return err_set(e, ST_CONFIG, _("%s: unknown setting \"%s\""), loc, name);
	}

	int t = config_setting_type(s);
	switch (k->type) {
	case CFG_STRING: {
		if (t != CONFIG_TYPE_STRING)
			break;
		const char *v = config_setting_get_string(s);
		enum st rc = check_string(k, v, loc, e);
		if (rc != ST_OK)
			return rc;
		set_string(c, k, v);
		return ST_OK;
	}
	case CFG_INT:
	case CFG_BOOL: {
		long long v;
		if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
			v = config_setting_get_int64(s);
		else if (t == CONFIG_TYPE_BOOL && k->type == CFG_BOOL)
			v = config_setting_get_bool(s);
		else
			break;
		/* 0 and 1 are accepted for booleans: the documented default
		 * of verify_after_copy is 1 and people copy it that way. */
		if (v < k->min || v > k->max) {
			if (k->type == CFG_BOOL)
				return err_set(e, ST_CONFIG,
					       _("%s: %s must be true or false"),
					       loc, k->name);
			return err_set(e, ST_CONFIG,
				       _("%s: %s must be between %lld and %lld, not %lld"),
				       loc, k->name, k->min, k->max, v);
		}
		*int_field(c, k) = (int)v;
		return ST_OK;
	}
	}
	return err_set(e, ST_CONFIG, _("%s: %s must be %s"),
		       loc, k->name, type_name(k->type));
}

static enum st read_file(struct cfg *c, const char *path, struct err *e)
{
	config_t lc;
	enum st rc = ST_OK;

	config_init(&lc);
	/* Relative @include paths are relative to the including file. */
	char *dir = x_strdup(path);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		config_set_include_dir(&lc, *dir ? dir : "/");
	}

	if (config_read_file(&lc, path) != CONFIG_TRUE) {
		const char *file = config_error_file(&lc);
		if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
			rc = err_set(e, ST_CONFIG, _("%s: cannot read the file"),
				     file ? file : path);
		else {
			char loc[PATH_MAX + 32];
			fmt_where(file, (unsigned)config_error_line(&lc), path,
				  loc, sizeof(loc));
			rc = err_set(e, ST_CONFIG, "%s: %s", loc,
				     config_error_text(&lc));
		}
		goto out;
	}

	config_setting_t *root = config_root_setting(&lc);
	int n = config_setting_length(root);
	for (int i = 0; i < n; i++) {
		rc = apply_setting(c, config_setting_get_elem(root, (unsigned)i),
				   path, e);
		if (rc != ST_OK)
			goto out;
	}
out:
	config_destroy(&lc);
	free(dir);
	return rc;
}

enum st cfg_load(struct cfg *c, const char *path, bool required, struct err *e)
{
	set_defaults(c);
	if (!path)
		return ST_OK;

	/* Checked here rather than left to libconfig so that "missing" (fine
	 * for the default location) and "unreadable" (always an error) get
	 * distinct, actionable messages. */
	struct stat st;
	if (stat(path, &st) != 0) {
		if (errno == ENOENT && !required)
			return ST_OK;
		err_set(e, ST_CONFIG, "%s: %s", path, strerror(errno));
		cfg_free(c);
		return ST_CONFIG;
	}
	if (S_ISDIR(st.st_mode)) {
		err_set(e, ST_CONFIG, _("%s: is a directory"), path);
		cfg_free(c);
		return ST_CONFIG;
	}
	enum st rc = read_file(c, path, e);
	if (rc != ST_OK)
		cfg_free(c);   /* on error c is empty: nothing half-applied leaks */
	return rc;
}
