/* cfg.c - mailferry.conf via libconfig.
 *
 * key_table[] below is the single description of the configuration: name,
 * Settings tab, type, default, limits, restart flag and a one-line help per
 * key.  Defaults, validation (the same for a file and for cfg_set), error
 * messages, the saved file and "mailferry config show" all come from it,
 * and tests/unit/tst_cfg.c checks that data/mailferry.conf.example
 * documents exactly these keys with these help lines and defaults, so
 * adding a key here without documenting it fails the tests. */
#include "cfg.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libconfig.h>

#include "dns.h"

static bool separator_ok(const char *v);
static bool smtp_url_ok(const char *v);
static bool address_ok(const char *v);
static bool secret_ref_ok(const char *v);

static const char *const log_level_names[] = {
	"error", "warn", "info", "debug", "trace", NULL,
};

/* One row per key: KEY_<TYPE>(name, tab, flags, ..., help).  The help text
 * must also appear in data/mailferry.conf.example (tst_cfg checks it). */
#define F(field) offsetof(struct cfg, field)
#define KEY_INT(name, tab, fl, def, lo, hi, help) \
	{ #name, CFG_TAB_##tab, CFG_INT, fl, F(name), NULL, def, lo, hi, NULL, NULL, NULL, help }
#define KEY_BOOL(name, tab, fl, def, help) \
	{ #name, CFG_TAB_##tab, CFG_BOOL, fl, F(name), NULL, def, 0, 1, NULL, NULL, NULL, help }
#define KEY_PATH(name, tab, fl, def, help) \
	{ #name, CFG_TAB_##tab, CFG_PATH, fl, F(name), def, 0, 0, 0, NULL, NULL, NULL, help }
#define KEY_ENUM(name, tab, fl, def, values, help) \
	{ #name, CFG_TAB_##tab, CFG_ENUM, fl, F(name), def, 0, 0, 0, values, NULL, NULL, help }
#define KEY_STRING(name, tab, fl, def, valid, rule, help) \
	{ #name, CFG_TAB_##tab, CFG_STRING, fl, F(name), def, 0, 0, 0, NULL, valid, rule, help }

static const struct cfg_key key_table[] = {
	KEY_PATH(store_path, GENERAL, CFG_RESTART, "$XDG_DATA_HOME/mailferry/mailferry.db",
		 "SQLite database holding endpoints, jobs, progress and events."),
	KEY_PATH(log_path, GENERAL, CFG_RESTART | CFG_OPTIONAL, NULL,
		 "Diagnostic log file; unset or \"\" for none."),
	KEY_ENUM(log_level, GENERAL, CFG_RESTART, "info", log_level_names,
		 "Detail of the diagnostic log: error, warn, info, debug or trace."),
	KEY_PATH(secrets_path, GENERAL, 0, "$XDG_DATA_HOME/mailferry/secrets",
		 "File (mode 0600) keeping passwords given with --password-stdin."),
	KEY_STRING(dns_server, GENERAL, 0, "", dns_server_valid,
		   N_("an IPv4 address with an optional :PORT (\"127.0.0.1:5353\"), or \"\""),
		   "DNS server for auto-detection (SRV records); \"\" for the system resolver."),
	KEY_INT(workers, WORKERS, CFG_RESTART, 4, 1, 256,
		"Mailboxes migrated in parallel by \"mailferry run\"."),
	KEY_INT(max_connections_per_server, WORKERS, 0, 10, 1, 1000,
		"Default limit of simultaneous connections to one endpoint."),
	KEY_INT(max_connections_per_host, WORKERS, 0, 0, 0, 100000,
		"Limit of simultaneous connections to one server, shared by its endpoints (0: none)."),
	KEY_INT(timeout_s, WORKERS, 0, 60, 1, 86400,
		"Seconds without any network progress before a connection is dropped."),
	KEY_INT(retry_max, WORKERS, 0, 5, 0, 1000,
		"Reconnect attempts per pass after transient errors."),
	KEY_INT(batch_messages, MAILBOXES, 0, 256, 1, 100000,
		"Messages fetched and appended per copy batch."),
	KEY_INT(batch_bytes_mb, MAILBOXES, 0, 16, 1, 4096,
		"Megabytes of message data in flight per batch."),
	KEY_STRING(separator_char, MAILBOXES, 0, "_", separator_ok,
		   N_("a single printable ASCII character other than space, '*' and '%'"),
		   "Replaces the target's hierarchy separator inside source folder names."),
	KEY_INT(bad_item_limit, ACTIVITIES, 0, 50, 0, 1000000,
		"A job fails when more items than this could not be copied."),
	KEY_BOOL(verify_after_copy, ACTIVITIES, 0, 1,
		 "Compare source and target after each full or delta pass (true/false)."),
	KEY_INT(incremental_interval_h, ACTIVITIES, 0, 24, 1, 8760,
		"Hours between the incremental syncs of a job that is ready to complete, until its cutover."),
	KEY_INT(health_interval_min, ACTIVITIES, 0, 60, 0, 10080,
		"Minutes between a forest's health checks run by 'run' and the console's engine (0: only on demand)."),
	KEY_INT(forecast_default_rate, WORKERS, 0, 18000, 1, 3600000,
		"MB per hour a job is expected to copy when the schedule forecast has no measured throughput for its target (18000 = 5 MB/s)."),
	KEY_STRING(smtp_url, NOTIFICATIONS, 0, "", smtp_url_ok, N_("empty, or smtp://HOST[:PORT] or smtps://HOST[:PORT]"),
		   "Mail server for notifications (STARTTLS when offered); empty: no e-mail is sent."),
	KEY_STRING(smtp_user, NOTIFICATIONS, 0, "", NULL, NULL,
		   "User name for the mail server; empty: no authentication."),
	KEY_STRING(smtp_password, NOTIFICATIONS, 0, "", secret_ref_ok,
		   N_("empty, or a password source: file:PATH, env:VAR, cmd:COMMAND or secret:NAME"),
		   "Where the mail server's password comes from (never the password itself)."),
	KEY_STRING(smtp_from, NOTIFICATIONS, 0, "mailferry@localhost", address_ok, N_("an e-mail address"),
		   "Sender address of notifications."),
	KEY_BOOL(smtp_insecure, NOTIFICATIONS, 0, 0,
		 "Skip the mail server's TLS certificate check (true/false)."),
	KEY_STRING(admin_email, NOTIFICATIONS, 0, "", address_ok, N_("empty, or e-mail addresses separated by commas"),
		   "Admins told about failed jobs; empty: nobody."),
	KEY_INT(notify_days_before, NOTIFICATIONS, 0, 3, 0, 60,
		"Days before a scheduled migration its owner is told (0: not at all)."),
	KEY_PATH(templates_dir, NOTIFICATIONS, CFG_OPTIONAL, NULL,
		 "Folder of the notification templates; unset: the ones installed with mailferry."),
	KEY_INT(summary_hour, NOTIFICATIONS, 0, -1, -1, 23,
		"Hour (0-23, local time) of the daily summary to admin_email; -1: no summary."),
	KEY_PATH(script_before_first_pass, SCRIPTS, CFG_OPTIONAL, NULL,
		 "Program run before a job's first pass; a non-zero exit holds the job (paused)."),
	KEY_PATH(script_after_completion, SCRIPTS, CFG_OPTIONAL, NULL,
		 "Program run after a job completes (also with skipped items)."),
	KEY_PATH(script_on_failure, SCRIPTS, CFG_OPTIONAL, NULL,
		 "Program run after a job fails."),
	KEY_PATH(script_at_cutover, SCRIPTS, CFG_OPTIONAL, NULL,
		 "Program run at a mailbox's cutover, before anything is switched over."),
	KEY_INT(script_timeout_s, SCRIPTS, 0, 300, 1, 86400,
		"Seconds a script may run before it is stopped (SIGTERM, then SIGKILL)."),
};

#undef F

static const char *const tab_names[CFG_TAB__COUNT] = {
	[CFG_TAB_GENERAL] = "General",
	[CFG_TAB_ACTIVITIES] = "Activities",
	[CFG_TAB_MAILBOXES] = "Mailboxes",
	[CFG_TAB_WORKERS] = "Workers",
	[CFG_TAB_SCRIPTS] = "Scripts",
	[CFG_TAB_NOTIFICATIONS] = "Notifications",
};

/* One printable ASCII byte: it is spliced into IMAP folder names, where '*'
 * and '%' are LIST wildcards and a space or a multi-byte character would be
 * a surprising rename. */
static bool separator_ok(const char *v)
{
	return strlen(v) == 1 && v[0] > ' ' && v[0] <= '~' &&
	       v[0] != '*' && v[0] != '%';
}

static bool smtp_url_ok(const char *v)
{
	return !v[0] || ((!strncmp(v, "smtp://", 7) || !strncmp(v, "smtps://", 8)) && v[strcspn(v, ":") + 3]);
}

/* Empty, or addresses separated by commas, each with something on both
 * sides of its '@' (the server has the last word). */
static bool address_ok(const char *v)
{
	for (const char *p = v; *p;) {
		size_t n = strcspn(p, ",");
		const char *at = memchr(p, '@', n);
		while (n && p[0] == ' ')
			p++, n--;
		if (!at || at == p || at + 1 >= p + n || memchr(p, ' ', n))
			return false;
		p += n;
		if (*p == ',')
			p++;
	}
	return true;
}

static bool secret_ref_ok(const char *v)
{
	return !v[0] || !strncmp(v, "file:", 5) || !strncmp(v, "env:", 4) || !strncmp(v, "cmd:", 4) ||
	       !strncmp(v, "secret:", 7);
}

static bool is_text_type(enum cfg_type t)
{
	return t == CFG_STRING || t == CFG_ENUM || t == CFG_PATH;
}

static char **str_field(struct cfg *c, const struct cfg_key *k)
{
	return (char **)(void *)((char *)c + k->offset);
}

static int *int_field(struct cfg *c, const struct cfg_key *k)
{
	return (int *)(void *)((char *)c + k->offset);
}

static const char *str_value(const struct cfg *c, const struct cfg_key *k)
{
	return *(char *const *)(const void *)((const char *)c + k->offset);
}

static int int_value(const struct cfg *c, const struct cfg_key *k)
{
	return *(const int *)(const void *)((const char *)c + k->offset);
}

const struct cfg_key *cfg_keys(size_t *n)
{
	*n = countof(key_table);
	return key_table;
}

const char *cfg_tab_name(enum cfg_tab t)
{
	if ((unsigned)t >= (unsigned)CFG_TAB__COUNT)
		return "?";
	return tab_names[t];
}

bool cfg_tab_from_name(const char *name, enum cfg_tab *t)
{
	for (size_t i = 0; i < countof(tab_names); i++)
		if (strcasecmp(name, tab_names[i]) == 0) {
			*t = (enum cfg_tab)i;
			return true;
		}
	return false;
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

/* --- values: the one place that validates and stores ------------------------ */

void cfg_free(struct cfg *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < countof(key_table); i++) {
		if (is_text_type(key_table[i].type)) {
			char **p = str_field(c, &key_table[i]);
			free(*p);
			*p = NULL;
		}
	}
	memset(c, 0, sizeof(*c));
}

/* v has passed value_ok (or is a default). */
static void set_string(struct cfg *c, const struct cfg_key *k, const char *v)
{
	char **p = str_field(c, k);
	free(*p);
	if (!v || (k->type == CFG_PATH && (k->flags & CFG_OPTIONAL) && !*v))
		*p = NULL;
	else if (k->type == CFG_PATH)
		*p = expand_path(v);
	else
		*p = x_strdup(v);
}

static void set_defaults(struct cfg *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < countof(key_table); i++) {
		const struct cfg_key *k = &key_table[i];
		if (is_text_type(k->type))
			set_string(c, k, k->def_str);
		else
			*int_field(c, k) = (int)k->def_int;
	}
}

static bool in_list(const char *const *list, const char *v)
{
	for (; list && *list; list++)
		if (strcmp(*list, v) == 0)
			return true;
	return false;
}

/* Whether a value of the key's type is allowed: text s for text types,
 * number i for CFG_INT and CFG_BOOL. */
static bool value_ok(const struct cfg_key *k, const char *s, long long i)
{
	switch (k->type) {
	case CFG_INT:
	case CFG_BOOL:
		return i >= k->min && i <= k->max;
	case CFG_PATH:
		return *s || (k->flags & CFG_OPTIONAL);
	case CFG_ENUM:
		return in_list(k->values, s);
	case CFG_STRING:
		return !k->valid || k->valid(s);
	}
	return false;
}

void cfg_allowed_text(const struct cfg_key *k, char *buf, size_t n)
{
	struct sbuf b;

	sb_init(&b);
	switch (k->type) {
	case CFG_INT:
		sb_printf(&b, _("a whole number from %lld to %lld"), k->min, k->max);
		break;
	case CFG_BOOL:
		sb_adds(&b, _("true or false"));
		break;
	case CFG_PATH:
		sb_adds(&b, (k->flags & CFG_OPTIONAL) ? _("a file path, or \"\" for none")
						      : _("a file path (not empty)"));
		break;
	case CFG_ENUM:
		sb_adds(&b, _("one of "));
		for (const char *const *v = k->values; v && *v; v++)
			sb_printf(&b, "%s%s", v == k->values ? "" : ", ", *v);
		break;
	case CFG_STRING:
		sb_adds(&b, k->rule ? _(k->rule) : _("a string"));
		break;
	}
	snprintf(buf, n, "%s", b.data ? b.data : "");
	sb_free(&b);
}

void cfg_default_text(const struct cfg_key *k, char *buf, size_t n)
{
	if (is_text_type(k->type))
		snprintf(buf, n, "%s", k->def_str ? k->def_str : "");
	else if (k->type == CFG_BOOL)
		snprintf(buf, n, "%s", k->def_int ? "true" : "false");
	else
		snprintf(buf, n, "%lld", k->def_int);
}

const struct cfg_key *cfg_key_find(const char *name)
{
	for (size_t i = 0; i < countof(key_table); i++)
		if (strcmp(key_table[i].name, name) == 0)
			return &key_table[i];
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
	for (size_t i = 0; i < countof(key_table); i++) {
		size_t d = edit_distance(name, key_table[i].name);
		if (d < best_d) {
			best_d = d;
			best = key_table[i].name;
		}
	}
	return best;
}

/* "LOC: unknown setting "x" (did you mean "y"?)"; loc is a file:line or
 * empty. */
static enum st unknown_key(const char *loc, const char *name, struct err *e)
{
	const char *hint = suggest_key(name);
	const char *sep = *loc ? ": " : "";
	if (hint)
		return err_set(e, ST_CONFIG,
			       _("%s%sunknown setting \"%s\" (did you mean \"%s\"?)"),
			       loc, sep, name, hint);
	return err_set(e, ST_CONFIG, _("%s%sunknown setting \"%s\""), loc, sep, name);
}

const struct cfg_key *cfg_key_lookup(const char *name, struct err *e)
{
	const struct cfg_key *k = cfg_key_find(name);
	if (!k)
		unknown_key("", name, e);
	return k;
}

/* How a value of the type is written in the file, for type mismatches. */
static const char *syntax_hint(enum cfg_type t)
{
	return is_text_type(t) ? _("written in double quotes") : _("written without quotes");
}

/* --- loading ---------------------------------------------------------------- */

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

/* Reads the setting's value if its libconfig type fits the key: text into
 * *s, numbers into *i.  0 and 1 are accepted for booleans: the documented
 * default of verify_after_copy used to be 1 and people copy it that way. */
static bool setting_value(const struct cfg_key *k, const config_setting_t *s,
			  const char **str, long long *i)
{
	int t = config_setting_type(s);

	if (is_text_type(k->type)) {
		if (t != CONFIG_TYPE_STRING)
			return false;
		*str = config_setting_get_string(s);
		return true;
	}
	if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
		*i = config_setting_get_int64(s);
	else if (t == CONFIG_TYPE_BOOL && k->type == CFG_BOOL)
		*i = config_setting_get_bool(s);
	else
		return false;
	return true;
}

static enum st apply_setting(struct cfg *c, const config_setting_t *s,
			     const char *path, struct err *e)
{
	char loc[PATH_MAX + 32], allowed[256];
	const char *name = config_setting_name(s);
	where(s, path, loc, sizeof(loc));

	if (!name)
		return err_set(e, ST_CONFIG, _("%s: expected \"name = value;\""), loc);
	const struct cfg_key *k = cfg_key_find(name);
	if (!k)
		return unknown_key(loc, name, e);

	const char *str = "";
	long long i = 0;
	cfg_allowed_text(k, allowed, sizeof(allowed));
	if (!setting_value(k, s, &str, &i))
		return err_set(e, ST_CONFIG, _("%s: %s must be %s, %s"),
			       loc, k->name, allowed, syntax_hint(k->type));
	if (!value_ok(k, str, i)) {
		if (is_text_type(k->type))
			return err_set(e, ST_CONFIG, _("%s: %s must be %s, not \"%s\""),
				       loc, k->name, allowed, str);
		return err_set(e, ST_CONFIG, _("%s: %s must be %s, not %lld"),
			       loc, k->name, allowed, i);
	}
	if (is_text_type(k->type))
		set_string(c, k, str);
	else
		*int_field(c, k) = (int)i;
	return ST_OK;
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

/* --- reading and editing values ------------------------------------------- */

bool cfg_get_text(const struct cfg *c, const char *key, char *buf, size_t n)
{
	const struct cfg_key *k = cfg_key_find(key);

	if (n)
		buf[0] = '\0';
	if (!k)
		return false;
	if (is_text_type(k->type)) {
		const char *v = str_value(c, k);
		snprintf(buf, n, "%s", v ? v : "");
	} else if (k->type == CFG_BOOL) {
		snprintf(buf, n, "%s", int_value(c, k) ? "true" : "false");
	} else {
		snprintf(buf, n, "%d", int_value(c, k));
	}
	return true;
}

bool cfg_is_default(const struct cfg *c, const struct cfg_key *k)
{
	if (!is_text_type(k->type))
		return int_value(c, k) == k->def_int;

	const char *v = str_value(c, k);
	if (!k->def_str || !v)
		return !k->def_str && !v;
	if (k->type != CFG_PATH)
		return strcmp(v, k->def_str) == 0;
	char *def = expand_path(k->def_str);
	bool same = strcmp(v, def) == 0;
	free(def);
	return same;
}

/* A whole decimal number and nothing else ("12", "-3"; not "12k", " 12",
 * "0x10"): a typo in a setting must not turn into a surprising value. */
static bool parse_whole(const char *s, long long *out)
{
	const char *p = s + (*s == '-' || *s == '+');
	if (!*p || strspn(p, "0123456789") != strlen(p))
		return false;
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return false;
	*out = v;
	return true;
}

static bool parse_bool(const char *s, long long *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < countof(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return true;
		}
	}
	return false;
}

enum st cfg_set(struct cfg *c, const char *key, const char *value, struct err *e)
{
	const struct cfg_key *k = cfg_key_lookup(key, e);
	if (!k)
		return ST_CONFIG;

	long long i = 0;
	bool parsed = true;
	if (k->type == CFG_INT)
		parsed = parse_whole(value, &i);
	else if (k->type == CFG_BOOL)
		parsed = parse_bool(value, &i);
	if (!parsed || !value_ok(k, value, i)) {
		char allowed[256];
		cfg_allowed_text(k, allowed, sizeof(allowed));
		return err_set(e, ST_CONFIG, _("%s: must be %s, not \"%s\""),
			       k->name, allowed, value);
	}
	if (is_text_type(k->type))
		set_string(c, k, value);
	else
		*int_field(c, k) = (int)i;
	return ST_OK;
}

/* --- saving ----------------------------------------------------------------- */

#ifndef DOCDIR
#define DOCDIR "/usr/share/doc/mailferry"
#endif

/* A libconfig string literal.  Control bytes become \xNN escapes (which
 * libconfig reads back); other bytes, UTF-8 included, go through as they
 * are. */
static void add_quoted(struct sbuf *b, const char *s)
{
	sb_addc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			sb_printf(b, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			sb_printf(b, "\\x%02x", *p);
		else
			sb_addc(b, (char)*p);
	}
	sb_addc(b, '"');
}

static void add_setting(struct sbuf *b, const struct cfg *c, const struct cfg_key *k)
{
	bool def = cfg_is_default(c, k);

	/* At its default a key is left commented out, so that a later change
	 * of the built-in default (or of $XDG_DATA_HOME) still applies. */
	sb_printf(b, "\n# %s\n%s%s = ", k->help, def ? "# " : "", k->name);
	if (is_text_type(k->type)) {
		const char *v = def ? k->def_str : str_value(c, k);
		add_quoted(b, v ? v : "");
	} else if (k->type == CFG_BOOL) {
		sb_adds(b, int_value(c, k) ? "true" : "false");
	} else {
		sb_printf(b, "%d", int_value(c, k));
	}
	sb_adds(b, ";\n");
}

static void render(const struct cfg *c, struct sbuf *b)
{
	sb_printf(b,
		"# mailferry.conf - saved by mailferry %s.\n"
		"#\n"
		"# Written by \"mailferry config set\" or the console's Settings view,\n"
		"# which rewrite the whole file: comments and @include lines added by\n"
		"# hand are not kept.  Settings at their default are commented out.\n"
		"# Every setting is explained in %s/mailferry.conf.example\n"
		"# and in mailferry(1); \"mailferry config show\" lists them.\n",
		PACKAGE_VERSION, DOCDIR);
	for (int t = 0; t < CFG_TAB__COUNT; t++) {
		bool header = false;
		for (size_t i = 0; i < countof(key_table); i++) {
			if (key_table[i].tab != (enum cfg_tab)t)
				continue;
			if (!header)
				sb_printf(b, "\n# --- %s ---\n", tab_names[t]);
			header = true;
			add_setting(b, c, &key_table[i]);
		}
	}
}

static enum st save_error(struct err *e, const char *path, const char *what,
			  const char *obj, int errnum)
{
	return err_set(e, ST_CONFIG, _("%s: cannot save the configuration: %s %s: %s"),
		       path, what, obj, strerror(errnum));
}

/* mkdir -p with mode 0700 (the configuration directory is private). */
static enum st make_dirs(const char *dir, const char *path, struct err *e)
{
	char *p = x_strdup(dir);
	enum st rc = ST_OK;

	for (char *s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char saved = *s;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			rc = save_error(e, path, _("cannot create the directory"), p, errno);
			break;
		}
		*s = saved;
		if (!saved)
			break;
	}
	free(p);
	return rc;
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Writes text to a new file next to target with target's permissions (and
 * owner, when allowed), fsync'ed; *tmp receives its name (caller frees). */
static enum st write_temp(const char *dir, const char *target, const char *text,
			  size_t len, char **tmp, struct err *e)
{
	struct stat st;
	bool exists = stat(target, &st) == 0;
	if (exists && S_ISDIR(st.st_mode))
		return err_set(e, ST_CONFIG, _("%s: is a directory"), target);

	const char *base = strrchr(target, '/');
	*tmp = x_asprintf("%s/.%s.XXXXXX", dir, base ? base + 1 : target);
	int fd = mkstemp(*tmp);
	if (fd < 0) {
		enum st rc = save_error(e, target, _("cannot create a file in"), dir, errno);
		free(*tmp);
		*tmp = NULL;
		return rc;
	}
	/* mkstemp makes 0600, which also suits a new file: the configuration
	 * names where the secrets are. */
	int errnum = 0;
	if (exists) {
		if (fchown(fd, st.st_uid, st.st_gid) != 0) {
			/* Only root may give a file away; others keep their own. */
		}
		if (fchmod(fd, st.st_mode & 07777) != 0)
			errnum = errno;
	}
	if (!errnum && (!write_all(fd, text, len) || fsync(fd) != 0))
		errnum = errno;
	if (close(fd) != 0 && !errnum)
		errnum = errno;
	if (errnum) {
		unlink(*tmp);
		free(*tmp);
		*tmp = NULL;
		return save_error(e, target, _("cannot write a file in"), dir, errnum);
	}
	return ST_OK;
}

/* After a rename, the directory entry is durable only once the directory
 * itself is synced.  Some file systems refuse fsync on a directory; the
 * rename has happened by then, so that is not reported as a failure. */
static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* The file to replace: path itself, or what a symbolic link at path points
 * to (renaming over the link would replace the link by a file). */
static char *save_target(const char *path)
{
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		char *real = realpath(path, NULL);
		if (real)
			return real;
	}
	return x_strdup(path);
}

enum st cfg_save(const struct cfg *c, const char *path, struct err *e)
{
	char *target = save_target(path);
	const char *slash = strrchr(target, '/');
	char *dir = !slash ? x_strdup(".") :
		    slash == target ? x_strdup("/") :
		    x_strndup(target, (size_t)(slash - target));
	struct sbuf text;
	char *tmp = NULL;

	sb_init(&text);
	render(c, &text);
	enum st rc = make_dirs(dir, target, e);
	if (rc == ST_OK)
		rc = write_temp(dir, target, text.data, text.len, &tmp, e);
	if (rc == ST_OK && rename(tmp, target) != 0) {
		rc = save_error(e, target, _("cannot replace the file in"), dir, errno);
		unlink(tmp);
	}
	if (rc == ST_OK)
		sync_dir(dir);
	free(tmp);
	sb_free(&text);
	free(dir);
	free(target);
	return rc;
}
