/* tst_cfg.c - unit tests for src/cfg.c.
 *
 * cfg.c is included (not linked) so the test can walk the static key table
 * and check data/mailferry.conf.example against it: every key documented
 * with the table's one-line doc, no unknown key, values equal to the
 * defaults.  libmf.a's cfg.o is then never pulled in, so there is no clash. */
#include "cfg.c"

#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>

static int n_run, n_fail;

PRINTF_LIKE(2, 3)
static void ok(bool pass, const char *fmt, ...)
{
	va_list ap;

	n_run++;
	if (!pass)
		n_fail++;
	printf("%s %d - ", pass ? "ok" : "not ok", n_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static char tmpdir[] = "/tmp/mf-tst-cfg-XXXXXX";

static char *write_conf(const char *name, const char *text)
{
	char *path = x_asprintf("%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
	return path;
}

static bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool cfg_equal(const struct cfg *a, const struct cfg *b)
{
	for (size_t i = 0; i < countof(key_table); i++) {
		const struct cfg_key *k = &key_table[i];
		if (is_text_type(k->type)) {
			if (!str_eq(*str_field((struct cfg *)a, k), *str_field((struct cfg *)b, k)))
				return false;
		} else if (*int_field((struct cfg *)a, k) != *int_field((struct cfg *)b, k)) {
			return false;
		}
	}
	return true;
}

static void test_defaults(void)
{
	struct cfg c;
	struct err e;

	setenv("HOME", "/home/tester", 1);
	unsetenv("XDG_DATA_HOME");
	unsetenv("XDG_CONFIG_HOME");
	ok(cfg_load(&c, NULL, false, &e) == ST_OK, "defaults: load without a file");
	ok(str_eq(c.store_path, "/home/tester/.local/share/mailferry/mailferry.db"),
	   "defaults: store_path without XDG_DATA_HOME (%s)", c.store_path);
	ok(str_eq(c.secrets_path, "/home/tester/.local/share/mailferry/secrets"),
	   "defaults: secrets_path without XDG_DATA_HOME (%s)", c.secrets_path);
	ok(c.log_path == NULL && str_eq(c.log_level, "info"), "defaults: log_path, log_level");
	ok(c.workers == 4 && c.max_connections_per_server == 10 &&
	   c.batch_messages == 256 && c.batch_bytes_mb == 16 && c.timeout_s == 60 &&
	   c.retry_max == 5 && c.bad_item_limit == 50 && c.verify_after_copy == 1 &&
	   c.incremental_interval_h == 24 && c.max_connections_per_host == 0,
	   "defaults: integers");
	ok(str_eq(c.separator_char, "_"), "defaults: separator_char");
	cfg_free(&c);
	ok(c.store_path == NULL && c.workers == 0, "cfg_free clears the struct");
	cfg_free(&c);
	ok(true, "cfg_free twice is harmless");

	setenv("XDG_DATA_HOME", "/xdg/data", 1);
	cfg_load(&c, NULL, false, &e);
	ok(str_eq(c.store_path, "/xdg/data/mailferry/mailferry.db") &&
	   str_eq(c.secrets_path, "/xdg/data/mailferry/secrets"),
	   "defaults: XDG_DATA_HOME honoured");
	cfg_free(&c);

	setenv("XDG_DATA_HOME", "relative/dir", 1);
	char *d = cfg_default_data_dir();
	ok(str_eq(d, "/home/tester/.local/share/mailferry"),
	   "defaults: relative XDG_DATA_HOME ignored (%s)", d);
	free(d);
	unsetenv("XDG_DATA_HOME");

	char *p = cfg_default_path();
	ok(str_eq(p, "/home/tester/.config/mailferry/mailferry.conf"),
	   "cfg_default_path without XDG_CONFIG_HOME (%s)", p);
	free(p);
	setenv("XDG_CONFIG_HOME", "/xdg/config", 1);
	p = cfg_default_path();
	ok(str_eq(p, "/xdg/config/mailferry/mailferry.conf"),
	   "cfg_default_path with XDG_CONFIG_HOME (%s)", p);
	free(p);
	unsetenv("XDG_CONFIG_HOME");
}

static void test_missing(void)
{
	struct cfg c;
	struct err e;
	char *path = x_asprintf("%s/absent.conf", tmpdir);

	err_clear(&e);
	ok(cfg_load(&c, path, false, &e) == ST_OK && c.workers == 4,
	   "missing file, not required: defaults");
	cfg_free(&c);
	ok(cfg_load(&c, path, true, &e) == ST_CONFIG && strstr(e.msg, path) &&
	   c.store_path == NULL,
	   "missing file, required: ST_CONFIG naming the file (%s)", e.msg);
	cfg_free(&c);
	ok(cfg_load(&c, tmpdir, true, &e) == ST_CONFIG,
	   "a directory is a configuration error (%s)", e.msg);
	cfg_free(&c);
	free(path);
}

static void test_example(void)
{
	const char *src = getenv("MF_SRCDIR");
	char *path = x_asprintf("%s/data/mailferry.conf.example",
				src && *src ? src : MF_TOP_SRCDIR);
	struct cfg c, def;
	struct err e;

	err_clear(&e);
	ok(cfg_load(&c, path, true, &e) == ST_OK, "example: loads (%s)", e.msg);
	cfg_load(&def, NULL, false, &e);
	ok(cfg_equal(&c, &def), "example: values equal the defaults");
	cfg_free(&c);
	cfg_free(&def);

	/* Text checks: "key = value;" lines, commented out or not, and the
	 * doc line of the table somewhere in the comment block above. */
	FILE *f = fopen(path, "r");
	if (!f) {
		ok(false, "example: open %s", path);
		free(path);
		return;
	}
	struct sbuf comments;
	bool seen[countof(key_table)] = { false };
	bool doc_ok[countof(key_table)] = { false };
	int unknown = 0;
	char line[1024];
	sb_init(&comments);
	while (fgets(line, sizeof(line), f)) {
		char *s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		bool commented = *s == '#';
		if (commented) {
			s++;
			while (*s == ' ')
				s++;
		}
		size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz_");
		char *after = s + n;
		while (*after == ' ')
			after++;
		if (n > 0 && *after == '=') {
			char name[64];
			snprintf(name, sizeof(name), "%.*s", (int)n, s);
			const struct cfg_key *k = cfg_key_find(name);
			if (!k) {
				printf("# example mentions unknown key %s\n", name);
				unknown++;
			} else {
				size_t i = (size_t)(k - key_table);
				seen[i] = true;
				doc_ok[i] = strstr(comments.data, k->help) != NULL;
				if (!doc_ok[i])
					printf("# doc of %s differs from cfg.c: \"%s\"\n",
					       name, k->help);
			}
			sb_reset(&comments);
		} else if (commented) {
			sb_adds(&comments, s);
		} else if (*s == '\n' || *s == '\0') {
			/* blank line: keep the block, a doc may span lines */
		}
	}
	fclose(f);
	sb_free(&comments);
	ok(unknown == 0, "example: no unknown keys");
	for (size_t i = 0; i < countof(key_table); i++)
		ok(seen[i] && doc_ok[i], "example: documents %s", key_table[i].name);
	free(path);
}

/* Loads text, expects failure mentioning "file:line" and a fragment. */
static void expect_error(const char *text, int line, const char *fragment)
{
	struct cfg c;
	struct err e;
	char *path = write_conf("bad.conf", text);
	char *where_s = x_asprintf("%s:%d:", path, line);

	err_clear(&e);
	enum st rc = cfg_load(&c, path, true, &e);
	ok(rc == ST_CONFIG && strstr(e.msg, where_s) && strstr(e.msg, fragment) &&
	   c.store_path == NULL,
	   "error at line %d containing \"%s\" (%s)", line, fragment, e.msg);
	cfg_free(&c);
	free(where_s);
	free(path);
}

static void test_errors(void)
{
	expect_error("workers = 4;\nretry_max = 3\ntimeout_s = ;\n", 3, "syntax error");
	expect_error("# comment\nworkers = 2;\nwrokers = 3;\n", 3,
		     "unknown setting \"wrokers\" (did you mean \"workers\"?)");
	expect_error("completely_unrelated = 1;\n", 1, "unknown setting");
	expect_error("\n\nworkers = \"4\";\n", 3, "workers must be a whole number from 1 to 256, written without quotes");
	expect_error("log_level = 3;\n", 1, "log_level must be one of error, warn, info, debug, trace, written in double quotes");
	expect_error("workers = 0;\n", 1, "workers must be a whole number from 1 to 256, not 0");
	expect_error("timeout_s = 99999999999L;\n", 1, "timeout_s must be a whole number from 1 to 86400, not 99999999999");
	expect_error("log_level = \"verbose\";\n", 1, "verbose");
	expect_error("separator_char = \"ab\";\n", 1, "separator_char");
	expect_error("separator_char = \"*\";\n", 1, "separator_char");
	expect_error("separator_char = \"\";\n", 1, "separator_char");
	expect_error("verify_after_copy = 2;\n", 1, "true or false");
	expect_error("incremental_interval_h = 0;\n", 1, "incremental_interval_h must be a whole number from 1 to 8760");
	expect_error("max_connections_per_host = -1;\n", 1, "max_connections_per_host must be a whole number from 0 to 100000");
	expect_error("verify_after_copy = \"yes\";\n", 1, "true or false");
	expect_error("workers = true;\n", 1, "without quotes");
	expect_error("workers = 2.5;\n", 1, "without quotes");
	expect_error("store_path = \"\";\n", 1, "store_path must be a file path (not empty)");
	expect_error("workers = { a = 1; };\n", 1, "without quotes");
	expect_error("workers = 1;\nworkers = 2;\n", 2, "duplicate");
}

static void test_values(void)
{
	struct cfg c;
	struct err e;

	setenv("HOME", "/home/tester", 1);
	setenv("XDG_DATA_HOME", "/xdg", 1);
	char *path = write_conf("good.conf",
		"# all keys set\n"
		"store_path = \"~/mf/store.db\";\n"
		"log_path = \"$XDG_DATA_HOME/mf.log\";\n"
		"log_level = \"trace\";\n"
		"secrets_path = \"/etc/mailferry/secrets\";\n"
		"workers = 8;\n"
		"max_connections_per_server = 3;\n"
		"batch_messages = 50;\n"
		"batch_bytes_mb = 1;\n"
		"timeout_s = 5;\n"
		"retry_max = 0;\n"
		"bad_item_limit = 0;\n"
		"separator_char = \".\";\n"
		"verify_after_copy = false;\n");
	err_clear(&e);
	ok(cfg_load(&c, path, true, &e) == ST_OK, "values: load (%s)", e.msg);
	ok(str_eq(c.store_path, "/home/tester/mf/store.db"), "values: ~ expanded (%s)",
	   c.store_path);
	ok(str_eq(c.log_path, "/xdg/mf.log"), "values: $XDG_DATA_HOME expanded (%s)",
	   c.log_path);
	ok(str_eq(c.log_level, "trace") && str_eq(c.secrets_path, "/etc/mailferry/secrets") &&
	   c.workers == 8 && c.max_connections_per_server == 3 &&
	   c.batch_messages == 50 && c.batch_bytes_mb == 1 && c.timeout_s == 5 &&
	   c.retry_max == 0 && c.bad_item_limit == 0 &&
	   str_eq(c.separator_char, ".") && c.verify_after_copy == 0,
	   "values: every key read");
	cfg_free(&c);
	free(path);

	path = write_conf("empty.conf", "log_path = \"\";\nverify_after_copy = 0;\n");
	ok(cfg_load(&c, path, true, &e) == ST_OK && c.log_path == NULL &&
	   c.verify_after_copy == 0, "values: log_path \"\" means none, bool as 0");
	cfg_free(&c);
	free(path);

	path = write_conf("inc2.conf", "workers = 7;\n\nbogus = 1;\n");
	free(path);
	path = write_conf("inc.conf", "retry_max = 2;\n@include \"inc2.conf\"\n");
	char *inc_where = x_asprintf("%s/inc2.conf:3:", tmpdir);
	ok(cfg_load(&c, path, true, &e) == ST_CONFIG && strncmp(e.msg, inc_where,
	   strlen(inc_where)) == 0,
	   "@include: relative to the file, errors name the included file (%s)", e.msg);
	cfg_free(&c);
	free(path);
	path = write_conf("inc3.conf", "workers = 2;\n@include \"inc4.conf\"\n");
	free(write_conf("inc4.conf", "\nretry_max = ;\n"));
	free(inc_where);
	inc_where = x_asprintf("%s/inc4.conf:2:", tmpdir);
	ok(cfg_load(&c, path, true, &e) == ST_CONFIG && strncmp(e.msg, inc_where,
	   strlen(inc_where)) == 0,
	   "@include: syntax errors name the included file (%s)", e.msg);
	free(inc_where);
	cfg_free(&c);
	free(path);
	unsetenv("XDG_DATA_HOME");
}

/* --- metadata, cfg_set, cfg_get_text ------------------------------------- */

static void test_metadata(void)
{
	size_t n;
	const struct cfg_key *keys = cfg_keys(&n);
	int bad = 0;

	ok(keys == key_table && n == countof(key_table), "cfg_keys: the table (%zu keys)", n);
	for (size_t i = 0; i < n; i++) {
		const struct cfg_key *k = &keys[i];
		bool good = k->name && *k->name && k->help && *k->help &&
			    (unsigned)k->tab < CFG_TAB__COUNT && cfg_key_find(k->name) == k;
		if (k->type == CFG_INT || k->type == CFG_BOOL)
			good = good && k->min <= k->def_int && k->def_int <= k->max;
		if (is_text_type(k->type) && k->def_str)
			good = good && value_ok(k, k->def_str, 0);
		if (k->type == CFG_ENUM)
			good = good && k->values && in_list(k->values, k->def_str);
		if (k->type == CFG_STRING && k->valid)
			good = good && k->rule;
		if (!good) {
			printf("# key %zu (%s) is inconsistent\n", i, k->name);
			bad++;
		}
	}
	ok(bad == 0, "metadata: every key has a name, tab, help and a valid default");

	enum cfg_tab t = CFG_TAB_GENERAL;
	ok(cfg_tab_from_name("workers", &t) && t == CFG_TAB_WORKERS &&
	   cfg_tab_from_name("NOTIFICATIONS", &t) && t == CFG_TAB_NOTIFICATIONS &&
	   !cfg_tab_from_name("licenses", &t), "tabs: names, case-insensitive");
	ok(str_eq(cfg_tab_name(CFG_TAB_SCRIPTS), "Scripts") &&
	   str_eq(cfg_tab_name(CFG_TAB__COUNT), "?"), "tabs: cfg_tab_name");

	char buf[256];
	cfg_allowed_text(cfg_key_find("workers"), buf, sizeof(buf));
	ok(str_eq(buf, "a whole number from 1 to 256"), "allowed: int (%s)", buf);
	cfg_allowed_text(cfg_key_find("log_level"), buf, sizeof(buf));
	ok(str_eq(buf, "one of error, warn, info, debug, trace"), "allowed: enum (%s)", buf);
	cfg_default_text(cfg_key_find("store_path"), buf, sizeof(buf));
	ok(str_eq(buf, "$XDG_DATA_HOME/mailferry/mailferry.db"), "default text: path as written");
	cfg_default_text(cfg_key_find("verify_after_copy"), buf, sizeof(buf));
	ok(str_eq(buf, "true"), "default text: bool");
	ok(cfg_key_find("workers")->flags & CFG_RESTART, "workers needs a restart");
	ok(!(cfg_key_find("timeout_s")->flags & CFG_RESTART), "timeout_s does not");
}

/* cfg_set must fail with exactly msg and leave key's text as it was. */
static void expect_reject(struct cfg *c, const char *key, const char *value,
			  const char *msg)
{
	struct err e;
	char before[PATH_MAX + 1], after[PATH_MAX + 1];

	err_clear(&e);
	cfg_get_text(c, key, before, sizeof(before));
	enum st rc = cfg_set(c, key, value, &e);
	cfg_get_text(c, key, after, sizeof(after));
	ok(rc == ST_CONFIG && str_eq(e.msg, msg) && str_eq(before, after),
	   "set %s \"%s\" rejected: %s", key, value, e.msg);
}

static void expect_set(struct cfg *c, const char *key, const char *value,
		       const char *text)
{
	struct err e;
	char buf[PATH_MAX + 1];

	err_clear(&e);
	enum st rc = cfg_set(c, key, value, &e);
	cfg_get_text(c, key, buf, sizeof(buf));
	ok(rc == ST_OK && str_eq(buf, text), "set %s \"%s\" -> \"%s\" (%s)",
	   key, value, buf, e.msg);
}

static void test_set(void)
{
	struct cfg c;
	struct err e;
	char buf[64];

	setenv("HOME", "/home/tester", 1);
	unsetenv("XDG_DATA_HOME");
	cfg_load(&c, NULL, false, &e);
	ok(!cfg_get_text(&c, "nope", buf, sizeof(buf)) && buf[0] == '\0',
	   "get: unknown key");
	ok(cfg_get_text(&c, "log_path", buf, sizeof(buf)) && buf[0] == '\0',
	   "get: unset path is \"\"");
	ok(cfg_get_text(&c, "verify_after_copy", buf, sizeof(buf)) && str_eq(buf, "true"),
	   "get: bool as true");
	ok(cfg_get_text(&c, "workers", buf, 2) && str_eq(buf, "4"), "get: truncates like snprintf");

	expect_set(&c, "workers", "64", "64");
	expect_set(&c, "retry_max", "0", "0");
	expect_set(&c, "verify_after_copy", "no", "false");
	expect_set(&c, "verify_after_copy", "ON", "true");
	expect_set(&c, "log_level", "trace", "trace");
	expect_set(&c, "separator_char", ".", ".");
	expect_set(&c, "store_path", "~/mf.db", "/home/tester/mf.db");
	expect_set(&c, "log_path", "/var/log/mf.log", "/var/log/mf.log");
	expect_set(&c, "log_path", "", "");
	ok(c.log_path == NULL, "set log_path \"\": none (NULL)");

	expect_reject(&c, "workers", "0", "workers: must be a whole number from 1 to 256, not \"0\"");
	expect_reject(&c, "workers", "257", "workers: must be a whole number from 1 to 256, not \"257\"");
	expect_set(&c, "forecast_default_rate", "3600", "3600");
	ok(c.forecast_default_rate == 3600, "forecast_default_rate: MB per hour, as set");
	expect_reject(&c, "forecast_default_rate", "0",
		      "forecast_default_rate: must be a whole number from 1 to 3600000, not \"0\"");
	expect_reject(&c, "workers", "abc", "workers: must be a whole number from 1 to 256, not \"abc\"");
	expect_reject(&c, "workers", "12k", "workers: must be a whole number from 1 to 256, not \"12k\"");
	expect_reject(&c, "workers", " 5", "workers: must be a whole number from 1 to 256, not \" 5\"");
	expect_reject(&c, "workers", "", "workers: must be a whole number from 1 to 256, not \"\"");
	expect_reject(&c, "timeout_s", "99999999999999999999",
		      "timeout_s: must be a whole number from 1 to 86400, not \"99999999999999999999\"");
	expect_reject(&c, "log_level", "verbose",
		      "log_level: must be one of error, warn, info, debug, trace, not \"verbose\"");
	expect_reject(&c, "verify_after_copy", "maybe",
		      "verify_after_copy: must be true or false, not \"maybe\"");
	expect_reject(&c, "separator_char", "ab",
		      "separator_char: must be a single printable ASCII character other than space, '*' and '%', not \"ab\"");
	expect_reject(&c, "separator_char", "*",
		      "separator_char: must be a single printable ASCII character other than space, '*' and '%', not \"*\"");
	expect_reject(&c, "store_path", "", "store_path: must be a file path (not empty), not \"\"");
	expect_reject(&c, "wrokers", "3", "unknown setting \"wrokers\" (did you mean \"workers\"?)");
	expect_reject(&c, "colour", "3", "unknown setting \"colour\"");
	cfg_free(&c);
}

/* --- cfg_save ----------------------------------------------------------------- */

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	struct sbuf b;
	char chunk[4096];
	size_t n;

	sb_init(&b);
	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		sb_add(&b, chunk, n);
	fclose(f);
	sb_adds(&b, "");
	return b.data;
}

/* A valid value different from the key's default, whatever its type, so
 * that a key added later is covered without touching this test. */
static char *other_value(const struct cfg_key *k, const char *dir)
{
	static const char *const strings[] = { ".", "-", "x", "other", "smtp://127.0.0.1:25", "file:/etc/pw",
	                                       "admin@example.org", "127.0.0.1:5353" };

	switch (k->type) {
	case CFG_INT:
		return x_asprintf("%lld", k->def_int == k->max ? k->min : k->max);
	case CFG_BOOL:
		return x_strdup(k->def_int ? "false" : "true");
	case CFG_ENUM:
		for (const char *const *v = k->values; *v; v++)
			if (strcmp(*v, k->def_str) != 0)
				return x_strdup(*v);
		break;
	case CFG_PATH:
		/* Quote, backslash, tab and UTF-8: the writer must escape. */
		return x_asprintf("%s/d\"q\\b\tt-\xc3\xb6/%s", dir, k->name);
	case CFG_STRING:
		for (size_t i = 0; i < countof(strings); i++)
			if (value_ok(k, strings[i], 0) &&
			    (!k->def_str || strcmp(strings[i], k->def_str) != 0))
				return x_strdup(strings[i]);
		break;
	}
	return NULL;
}

static bool no_temp_left(const char *dir)
{
	char *cmd = x_asprintf("ls -A '%s' | grep -q '^\\.[^.].*\\.conf\\.'", dir);
	int rc = system(cmd);
	free(cmd);
	return rc != 0;
}

static void test_save_round_trip(void)
{
	struct cfg c, back;
	struct err e;
	size_t n;
	const struct cfg_key *keys = cfg_keys(&n);
	char *path = x_asprintf("%s/new/sub/rt.conf", tmpdir);
	char *dir = x_asprintf("%s/new/sub", tmpdir);
	int set_fail = 0;

	setenv("HOME", "/home/tester", 1);
	unsetenv("XDG_DATA_HOME");
	cfg_load(&c, NULL, false, &e);
	for (size_t i = 0; i < n; i++) {
		char *v = other_value(&keys[i], tmpdir);
		err_clear(&e);
		if (!v || cfg_set(&c, keys[i].name, v, &e) != ST_OK || cfg_is_default(&c, &keys[i])) {
			printf("# cannot give %s a non-default value (%s)\n", keys[i].name, e.msg);
			set_fail++;
		}
		free(v);
	}
	ok(set_fail == 0, "round trip: every key set to a non-default value");

	err_clear(&e);
	ok(cfg_save(&c, path, &e) == ST_OK, "save: into missing directories (%s)", e.msg);
	struct stat st;
	ok(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700, "save: directories made 0700");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "save: new file is 0600");
	err_clear(&e);
	ok(cfg_load(&back, path, true, &e) == ST_OK, "round trip: loads (%s)", e.msg);
	ok(cfg_equal(&c, &back), "round trip: every value identical");
	cfg_free(&back);

	char *text = read_text(path);
	ok(text && strstr(text, "saved by mailferry") &&
	   strstr(text, "mailferry.conf.example") && strstr(text, "not kept"),
	   "save: header says who wrote it, what is lost, where the example is");
	ok(text && strstr(text, "# --- Workers ---") && strstr(text, "\nworkers = 256;\n"),
	   "save: grouped by tab, values uncommented");
	free(text);

	/* Back to defaults: everything commented out, still the same values. */
	chmod(path, 0640);
	cfg_free(&c);
	cfg_load(&c, NULL, false, &e);
	ok(cfg_save(&c, path, &e) == ST_OK, "save: defaults");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640, "save: file keeps its mode");
	text = read_text(path);
	ok(text && strstr(text, "\n# workers = 4;\n") &&
	   strstr(text, "\n# store_path = \"$XDG_DATA_HOME/mailferry/mailferry.db\";\n") &&
	   strstr(text, "\n# log_path = \"\";\n"),
	   "save: keys at their default are commented out, as written");
	free(text);
	ok(cfg_load(&back, path, true, &e) == ST_OK && cfg_equal(&c, &back),
	   "save: defaults load back equal");
	cfg_free(&back);

	/* Through a symbolic link: the link stays, its target changes. */
	char *link = x_asprintf("%s/link.conf", tmpdir);
	ok(symlink(path, link) == 0, "symlink made");
	cfg_set(&c, "workers", "9", &e);
	ok(cfg_save(&c, link, &e) == ST_OK, "save: through a symbolic link (%s)", e.msg);
	ok(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "save: the link is still a link");
	ok(cfg_load(&back, path, true, &e) == ST_OK && back.workers == 9,
	   "save: the link's target was written");
	cfg_free(&back);
	ok(no_temp_left(dir), "save: no temporary file left");

	ok(cfg_save(&c, tmpdir, &e) == ST_CONFIG && strstr(e.msg, "is a directory"),
	   "save: onto a directory refused (%s)", e.msg);

	unlink(link);
	free(link);
	unlink(path);
	rmdir(dir);
	char *parent = x_asprintf("%s/new", tmpdir);
	rmdir(parent);
	free(parent);
	cfg_free(&c);
	free(path);
	free(dir);
}

/* cfg_save into a directory the caller cannot write to.  Root writes
 * anywhere, so as root the save runs in a child that drops to nobody. */
static enum st save_unprivileged(const struct cfg *c, const char *path, struct err *e)
{
	if (geteuid() != 0)
		return cfg_save(c, path, e);

	int fds[2];
	if (pipe(fds) != 0)
		return err_set(e, ST_INTERNAL, "pipe: %s", strerror(errno));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		struct err ce;
		err_clear(&ce);
		enum st rc = ST_INTERNAL;
		if (setgid(65534) == 0 && setuid(65534) == 0)
			rc = cfg_save(c, path, &ce);
		else
			snprintf(ce.msg, sizeof(ce.msg), "cannot drop privileges");
		if (write(fds[1], ce.msg, strlen(ce.msg)) < 0)
			_exit(99);
		_exit((int)rc);
	}
	close(fds[1]);
	err_clear(e);
	ssize_t got = read(fds[0], e->msg, sizeof(e->msg) - 1);
	e->msg[got > 0 ? got : 0] = '\0';
	close(fds[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	e->code = WIFEXITED(status) ? (enum st)WEXITSTATUS(status) : ST_INTERNAL;
	return e->code;
}

static void test_save_readonly(void)
{
	struct cfg c;
	struct err e;
	char *dir = x_asprintf("%s/ro", tmpdir);
	char *path = x_asprintf("%s/ro/mailferry.conf", tmpdir);
	static const char old[] = "# written by hand\nworkers = 3;\n";

	mkdir(dir, 0755);
	FILE *f = fopen(path, "w");
	fputs(old, f);
	fclose(f);
	chmod(path, 0644);
	chmod(dir, 0555);
	chmod(tmpdir, 0755);     /* let "nobody" reach ro/ when run as root */

	cfg_load(&c, NULL, false, &e);
	cfg_set(&c, "workers", "7", &e);
	enum st rc = save_unprivileged(&c, path, &e);
	ok(rc == ST_CONFIG && strstr(e.msg, path) && strstr(e.msg, "cannot save") &&
	   strstr(e.msg, strerror(EACCES)),
	   "read-only directory: clear error (%s)", e.msg);
	char *text = read_text(path);
	ok(text && strcmp(text, old) == 0, "read-only directory: old file untouched");
	free(text);
	ok(no_temp_left(dir), "read-only directory: no temporary file");

	chmod(tmpdir, 0700);
	chmod(dir, 0755);
	unlink(path);
	rmdir(dir);
	cfg_free(&c);
	free(path);
	free(dir);
}

static void cleanup(void)
{
	static const char *const names[] = {
		"bad.conf", "good.conf", "empty.conf", "inc.conf", "inc2.conf",
		"inc3.conf", "inc4.conf",
	};
	for (size_t i = 0; i < countof(names); i++) {
		char *p = x_asprintf("%s/%s", tmpdir, names[i]);
		unlink(p);
		free(p);
	}
	rmdir(tmpdir);
}

/* The script keys and the summary hour (issue 5). */
static void test_scripts_and_summary(void)
{
	struct cfg c;
	struct err e;
	cfg_load(&c, NULL, false, &e);
	ok(c.summary_hour == -1 && c.script_timeout_s == 300 && !c.script_before_first_pass &&
	   !c.script_after_completion && !c.script_on_failure && !c.script_at_cutover,
	   "scripts and summary: none by default, 300 s limit");
	const char *scripts[] = { "script_before_first_pass", "script_after_completion", "script_on_failure",
	                          "script_at_cutover", "script_timeout_s" };
	for (size_t i = 0; i < countof(scripts); i++) {
		const struct cfg_key *k = cfg_key_find(scripts[i]);
		ok(k && k->tab == CFG_TAB_SCRIPTS, "%s is on the Scripts tab", scripts[i]);
	}
	ok(cfg_set(&c, "script_on_failure", "/usr/local/bin/x.sh", &e) == ST_OK &&
	   !strcmp(c.script_on_failure, "/usr/local/bin/x.sh"), "a script path is set");
	ok(cfg_set(&c, "script_on_failure", "", &e) == ST_OK && !c.script_on_failure, "\"\" clears it");
	ok(cfg_set(&c, "summary_hour", "7", &e) == ST_OK && c.summary_hour == 7, "summary_hour 7");
	ok(cfg_set(&c, "summary_hour", "24", &e) == ST_CONFIG && strstr(e.msg, "-1 to 23"),
	   "summary_hour 24 refused (%s)", e.msg);
	ok(cfg_set(&c, "script_timeout_s", "0", &e) == ST_CONFIG, "script_timeout_s 0 refused");
	cfg_free(&c);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	test_defaults();
	test_missing();
	test_example();
	test_scripts_and_summary();
	test_errors();
	test_values();
	test_metadata();
	test_set();
	test_save_round_trip();
	test_save_readonly();
	cleanup();

	printf("1..%d\n", n_run);
	printf("# %d passed, %d failed\n", n_run - n_fail, n_fail);
	return n_fail ? 1 : 0;
}
