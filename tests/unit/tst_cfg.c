/* tst_cfg.c - unit tests for src/cfg.c.
 *
 * cfg.c is included (not linked) so the test can walk the static key table
 * and check data/mailferry.conf.example against it: every key documented
 * with the table's one-line doc, no unknown key, values equal to the
 * defaults.  libmf.a's cfg.o is then never pulled in, so there is no clash. */
#include "cfg.c"

#include <stdarg.h>
#include <sys/stat.h>

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
	for (size_t i = 0; i < countof(cfg_keys); i++) {
		const struct cfg_key *k = &cfg_keys[i];
		if (k->type == CFG_STRING) {
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
	   c.retry_max == 5 && c.bad_item_limit == 50 && c.verify_after_copy == 1,
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
	bool seen[countof(cfg_keys)] = { false };
	bool doc_ok[countof(cfg_keys)] = { false };
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
			const struct cfg_key *k = find_key(name);
			if (!k) {
				printf("# example mentions unknown key %s\n", name);
				unknown++;
			} else {
				size_t i = (size_t)(k - cfg_keys);
				seen[i] = true;
				doc_ok[i] = strstr(comments.data, k->doc) != NULL;
				if (!doc_ok[i])
					printf("# doc of %s differs from cfg.c: \"%s\"\n",
					       name, k->doc);
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
	for (size_t i = 0; i < countof(cfg_keys); i++)
		ok(seen[i] && doc_ok[i], "example: documents %s", cfg_keys[i].name);
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
	expect_error("\n\nworkers = \"4\";\n", 3, "workers must be an integer");
	expect_error("log_level = 3;\n", 1, "log_level must be a string");
	expect_error("workers = 0;\n", 1, "between 1 and 256");
	expect_error("timeout_s = 99999999999L;\n", 1, "timeout_s must be between");
	expect_error("log_level = \"verbose\";\n", 1, "verbose");
	expect_error("separator_char = \"ab\";\n", 1, "separator_char");
	expect_error("separator_char = \"*\";\n", 1, "separator_char");
	expect_error("separator_char = \"\";\n", 1, "separator_char");
	expect_error("verify_after_copy = 2;\n", 1, "true or false");
	expect_error("verify_after_copy = \"yes\";\n", 1, "true or false");
	expect_error("workers = true;\n", 1, "integer");
	expect_error("workers = 2.5;\n", 1, "integer");
	expect_error("store_path = \"\";\n", 1, "must not be empty");
	expect_error("workers = { a = 1; };\n", 1, "integer");
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

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	test_defaults();
	test_missing();
	test_example();
	test_errors();
	test_values();
	cleanup();

	printf("1..%d\n", n_run);
	printf("# %d passed, %d failed\n", n_run - n_fail, n_fail);
	return n_fail ? 1 : 0;
}
