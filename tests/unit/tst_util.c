/* tst_util.c - unit tests for src/util.c (common.h) and src/log.c.
 * Prints one "ok N - ..." / "not ok N - ..." line per case; exits 1 on any
 * failure. */
#include "common.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

static bool valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		size_t n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 :
			   (*p & 0xF0) == 0xE0 ? 2 : (*p & 0xF8) == 0xF0 ? 3 : 9;
		if (n == 9)
			return false;
		for (size_t i = 1; i <= n; i++)
			if ((p[i] & 0xC0) != 0x80)
				return false;
		p += n + 1;
	}
	return true;
}

/* --- status table ------------------------------------------------------------ */

static void test_status(void)
{
	static const struct {
		enum st code;
		const char *name;
		enum retry_class rc;
		int exit_code;
	} cases[] = {
		{ ST_OK, "ST_OK", RETRY_NONE, 0 },
		{ ST_PARTIAL, "ST_PARTIAL", RETRY_NONE, 1 },
		{ ST_USAGE, "ST_USAGE", RETRY_ENDPOINT, 64 },
		{ ST_CONFIG, "ST_CONFIG", RETRY_ENDPOINT, 78 },
		{ ST_AUTH, "ST_AUTH", RETRY_ENDPOINT, 77 },
		{ ST_NET, "ST_NET", RETRY_NOW, 75 },
		{ ST_TIMEOUT, "ST_TIMEOUT", RETRY_NOW, 75 },
		{ ST_UNAVAIL, "ST_UNAVAIL", RETRY_LATER, 75 },
		{ ST_PROTO, "ST_PROTO", RETRY_NOW, 75 },
		{ ST_TOOBIG, "ST_TOOBIG", RETRY_ITEM, 1 },
		{ ST_ITEM, "ST_ITEM", RETRY_ITEM, 1 },
		{ ST_QUOTA, "ST_QUOTA", RETRY_MAILBOX, 75 },
		{ ST_MAILBOX, "ST_MAILBOX", RETRY_MAILBOX, 70 },
		{ ST_STORE, "ST_STORE", RETRY_ENDPOINT, 70 },
		{ ST_CANCELED, "ST_CANCELED", RETRY_NONE, 75 },
		{ ST_INTERNAL, "ST_INTERNAL", RETRY_MAILBOX, 70 },
	};

	ok(countof(cases) == ST__COUNT, "status: every code is in the test table (%d)",
	   (int)ST__COUNT);
	for (size_t i = 0; i < countof(cases); i++) {
		enum st c = cases[i].code;
		ok(strcmp(st_name(c), cases[i].name) == 0 &&
		   st_retry_class(c) == cases[i].rc &&
		   st_exit_code(c) == cases[i].exit_code &&
		   st_message(c) && st_message(c)[0],
		   "status: %s -> retry %d, exit %d, \"%s\"", st_name(c),
		   (int)st_retry_class(c), st_exit_code(c), st_message(c));
	}
	ok(strcmp(st_message(ST_AUTH), "authentication failed") == 0,
	   "status: ST_AUTH message");
	ok(strcmp(st_name((enum st)ST__COUNT), "ST_UNKNOWN") == 0 &&
	   st_exit_code((enum st)999) == 70 &&
	   st_retry_class((enum st)-1) == RETRY_MAILBOX,
	   "status: out-of-range code answers like ST_INTERNAL");
}

/* --- struct err ---------------------------------------------------------------- */

static void test_err(void)
{
	struct err e;

	err_clear(&e);
	ok(e.code == ST_OK && e.msg[0] == '\0' && e.retry_after_s == 0, "err: clear");

	ok(err_set(&e, ST_NET, "connect %s:%d: %s", "imap.example", 993,
		   "refused") == ST_NET &&
	   e.code == ST_NET &&
	   strcmp(e.msg, "connect imap.example:993: refused") == 0,
	   "err: set formats and returns the code");

	ok(err_set(NULL, ST_AUTH, "x") == ST_AUTH, "err: set with NULL err");

	ok(err_set(&e, ST_QUOTA, NULL) == ST_QUOTA &&
	   strcmp(e.msg, st_message(ST_QUOTA)) == 0,
	   "err: NULL format uses the status message");

	e.retry_after_s = 30;
	err_set(&e, ST_UNAVAIL, "busy");
	ok(e.retry_after_s == 0, "err: set resets retry_after_s");

	err_set(&e, ST_PROTO, "bad tag");
	err_set(&e, ST_PROTO, "%s (again)", e.msg);
	ok(strcmp(e.msg, "bad tag (again)") == 0, "err: set may use its own msg");

	err_set(&e, ST_AUTH, "LOGIN rejected");
	err_prefix(&e, "endpoint %s", "src");
	ok(strcmp(e.msg, "endpoint src: LOGIN rejected") == 0 && e.code == ST_AUTH,
	   "err: prefix keeps code, adds context");

	err_clear(&e);
	err_prefix(&e, "ctx");
	ok(strcmp(e.msg, "ctx") == 0, "err: prefix of an empty message");
	err_prefix(NULL, "ctx");
	ok(true, "err: prefix with NULL err");

	char big[2000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	err_set(&e, ST_ITEM, "%s", big);
	ok(strlen(e.msg) == sizeof(e.msg) - 1, "err: long message truncated to %zu",
	   sizeof(e.msg) - 1);

	/* 2-byte characters at an odd offset: truncation must not split one. */
	struct sbuf b;
	sb_init(&b);
	sb_addc(&b, 'x');
	for (int i = 0; i < 600; i++)
		sb_adds(&b, "ä");
	err_set(&e, ST_ITEM, "%s", b.data);
	ok(valid_utf8(e.msg) && strlen(e.msg) >= sizeof(e.msg) - 4,
	   "err: truncation keeps UTF-8 valid (len %zu)", strlen(e.msg));
	err_set(&e, ST_ITEM, "%s", "short");
	err_prefix(&e, "%s", b.data);
	ok(valid_utf8(e.msg), "err: prefix truncation keeps UTF-8 valid");
	for (int i = 0; i < 600; i++)
		sb_adds(&b, "😀");
	err_set(&e, ST_ITEM, "%s", b.data);
	ok(valid_utf8(e.msg), "err: truncation keeps 4-byte UTF-8 valid");
	sb_free(&b);
}

/* --- allocators ------------------------------------------------------------------ */

static int hook_fd = -1;

static void fatal_hook(void)
{
	if (write(hook_fd, "H", 1) != 1)
		_exit(3);
}

static void test_alloc(void)
{
	char *s = x_strdup("mailferry");
	ok(strcmp(s, "mailferry") == 0, "x_strdup");
	free(s);

	s = x_strndup("mailferry", 4);
	ok(strcmp(s, "mail") == 0, "x_strndup shorter");
	free(s);
	s = x_strndup("ab", 10);
	ok(strcmp(s, "ab") == 0, "x_strndup longer than the string");
	free(s);

	s = x_asprintf("%s-%05d-%c", "job", 42, 'z');
	ok(strcmp(s, "job-00042-z") == 0, "x_asprintf");
	free(s);
	s = x_asprintf("%s", "");
	ok(s && s[0] == '\0', "x_asprintf empty");
	free(s);

	int *v = x_calloc(100, sizeof(*v));
	bool zero = true;
	for (int i = 0; i < 100; i++)
		zero = zero && v[i] == 0;
	ok(zero, "x_calloc zeroes");
	v = x_realloc(v, 1000 * sizeof(*v));
	v[999] = 7;
	ok(v[0] == 0 && v[999] == 7, "x_realloc keeps contents");
	free(v);

	void *p = x_malloc(0);
	ok(p != NULL, "x_malloc(0) is not NULL");
	free(p);

	/* x_die: runs the hook once, prints, aborts.  In a child, since it
	 * does not return. */
	int pfd[2], efd[2];
	if (pipe(pfd) != 0 || pipe(efd) != 0) {
		ok(false, "pipe: %s", strerror(errno));
		return;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		close(efd[0]);
		dup2(efd[1], 2);
		hook_fd = pfd[1];
		x_fatal_hook = fatal_hook;
		/* Keep a sanitizer build from turning the abort into a report. */
		signal(SIGABRT, SIG_DFL);
		x_die("test %d", 7);
	}
	close(pfd[1]);
	close(efd[1]);
	char hook[8] = "", msg[256] = "";
	ssize_t hn = read(pfd[0], hook, sizeof(hook) - 1);
	ssize_t mn = 0, r;
	while ((r = read(efd[0], msg + mn, sizeof(msg) - 1 - (size_t)mn)) > 0)
		mn += r;
	msg[mn > 0 ? mn : 0] = '\0';
	close(pfd[0]);
	close(efd[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	ok(hn == 1 && hook[0] == 'H', "x_die runs x_fatal_hook once");
	ok(strstr(msg, "test 7") != NULL, "x_die prints its message");
	ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "x_die aborts");
}

/* --- sbuf ------------------------------------------------------------------------- */

static void test_sbuf(void)
{
	struct sbuf b;

	sb_init(&b);
	ok(b.data && b.data[0] == '\0' && b.len == 0, "sb: init is empty, not NULL");

	sb_adds(&b, "hello");
	sb_addc(&b, ' ');
	sb_add(&b, "world!!", 5);
	ok(b.len == 11 && strcmp(b.data, "hello world") == 0, "sb: add/adds/addc");

	sb_printf(&b, " %d+%d=%s", 2, 2, "4");
	ok(strcmp(b.data, "hello world 2+2=4") == 0, "sb: printf appends");

	/* Longer than the initial capacity and the first vsnprintf attempt. */
	char big[300];
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	sb_reset(&b);
	sb_printf(&b, "<%s>", big);
	ok(b.len == 301 && b.data[0] == '<' && b.data[300] == '>' &&
	   b.data[301] == '\0', "sb: printf grows the buffer");

	sb_reset(&b);
	ok(b.len == 0 && b.data[0] == '\0', "sb: reset");

	sb_add(&b, "a\0b", 3);
	ok(b.len == 3 && memcmp(b.data, "a\0b", 4) == 0, "sb: binary data with NUL");

	sb_reset(&b);
	sb_adds(&b, "* OK ready\r\n* BYE\r\n");
	sb_consume(&b, 12);
	ok(strcmp(b.data, "* BYE\r\n") == 0 && b.len == 7, "sb: consume part");
	sb_consume(&b, 100);
	ok(b.len == 0 && b.data[0] == '\0', "sb: consume more than len");

	for (int i = 0; i < 10000; i++)
		sb_addc(&b, (char)('a' + i % 26));
	ok(b.len == 10000 && b.data[9999] == 'a' + 9999 % 26 &&
	   b.data[10000] == '\0' && b.cap > b.len, "sb: many appends");
	sb_free(&b);
	ok(b.data == NULL && b.len == 0 && b.cap == 0, "sb: free");

	struct sbuf z = { 0 };
	sb_printf(&z, "%s", "zero-initialised");
	sb_adds(&z, "!");
	ok(strcmp(z.data, "zero-initialised!") == 0, "sb: zero-initialised struct works");
	sb_free(&z);

	struct sbuf e = { 0 };
	sb_add(&e, "", 0);
	ok(e.data && e.data[0] == '\0', "sb: empty add on zero struct terminates");
	sb_free(&e);
}

/* --- clock ------------------------------------------------------------------------ */

static void *set_fake_thread(void *arg)
{
	clock_set_fake(*(int64_t *)arg);
	return NULL;
}

/* Whether MAILFERRY_TEST_CLOCK is set is decided at a process's first
 * clock_now, so this runs first, in a child: the
 * file's time, then time moved by rewriting the file. */
static void test_env_clock(void)
{
	char path[] = "/tmp/tst_clockXXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) {
		ok(0, "env clock: mkstemp: %s", strerror(errno));
		return;
	}
	close(fd);
	FILE *f = fopen(path, "w");
	fprintf(f, "1900000000\n");
	fclose(f);
	pid_t pid = fork();
	if (pid == 0) {
		setenv("MAILFERRY_TEST_CLOCK", path, 1);
		int64_t a = clock_now();
		if (a < 1900000000 || a > 1900000002)
			_exit(1);
		FILE *g = fopen(path, "w");
		fprintf(g, "1700000000\n");
		fclose(g);
		usleep(60000);          /* past the 50 ms re-read interval */
		int64_t b = clock_now();
		_exit(b >= 1700000000 && b <= 1700000002 ? 0 : 2);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "env clock: MAILFERRY_TEST_CLOCK sets the time and a rewrite moves it (child exit %d)",
	   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	unlink(path);
}

static void test_clock(void)
{
	int64_t real = clock_now();
	ok(real > 1600000000, "clock: real time looks sane (%lld)", (long long)real);

	clock_set_fake(1000000000);
	ok(clock_now() == 1000000000, "clock: fake time");

	int64_t t = 1234567890;
	pthread_t th;
	pthread_create(&th, NULL, set_fake_thread, &t);
	pthread_join(th, NULL);
	ok(clock_now() == 1234567890, "clock: fake time set from another thread");

	clock_set_fake(0);
	int64_t again = clock_now();
	ok(again >= real && again < real + 60, "clock: 0 restores the real clock");

	int64_t m1 = clock_mono_ms();
	usleep(20000);
	int64_t m2 = clock_mono_ms();
	ok(m2 - m1 >= 15 && m2 - m1 < 5000, "clock: monotonic ms advance (%lld)",
	   (long long)(m2 - m1));
}

/* --- log -------------------------------------------------------------------------- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	struct sbuf b;
	char buf[4096];
	size_t n;

	sb_init(&b);
	if (!f)
		return b.data;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		sb_add(&b, buf, n);
	fclose(f);
	return b.data;
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

#define LOG_THREADS 4
#define LOG_PER_THREAD 250

static void *log_thread(void *arg)
{
	int id = (int)(intptr_t)arg;
	for (int i = 0; i < LOG_PER_THREAD; i++)
		log_info("thread %d line %d %s", id, i,
			 "padding-padding-padding-padding-padding-padding");
	return NULL;
}

static void test_log(void)
{
	char dir[] = "/tmp/mf-tst-util-XXXXXX";
	if (!mkdtemp(dir)) {
		ok(false, "mkdtemp: %s", strerror(errno));
		return;
	}
	char *path = x_asprintf("%s/test.log", dir);

	ok(log_open(path, LOG_INFO, false) == 0, "log: open file");
	struct stat st;
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "log: file mode 0600");
	ok(log_enabled(LOG_INFO) && log_enabled(LOG_ERROR) && !log_enabled(LOG_DEBUG),
	   "log: enabled follows the level");

	errno = EACCES;
	log_info("hello %s", "world");
	ok(errno == EACCES, "log: errno preserved");
	log_debug("hidden %d", 1);
	log_warn("line1\nline2\r\x1b[31m");
	log_error("err");
	log_set_level(LOG_TRACE);
	log_trace("trace now visible");
	log_set_level(LOG_ERROR);
	log_info("not visible");

	char longmsg[3000];
	memset(longmsg, 'L', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = '\0';
	log_error("%s", longmsg);
	log_close();

	char *text = slurp(path);
	ok(count_lines(text) == 5, "log: 5 lines written (got %d)", count_lines(text));

	regex_t re;
	regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
		"\\[info\\] hello world$", REG_EXTENDED | REG_NEWLINE);
	ok(regexec(&re, text, 0, NULL, 0) == 0, "log: ISO-8601 UTC timestamp and level");
	regfree(&re);
	ok(strstr(text, "hidden") == NULL && strstr(text, "not visible") == NULL,
	   "log: messages below the level dropped");
	ok(strstr(text, "[warn] line1\\nline2\\r\\x1b[31m\n") != NULL,
	   "log: control characters escaped");
	ok(strstr(text, "[error] err\n") != NULL && strstr(text, "[trace] trace now visible\n"),
	   "log: error and trace level names");
	ok(strstr(text, longmsg) != NULL, "log: long message kept whole");
	free(text);

	/* Append, and concurrent writers produce whole lines. */
	ok(log_open(path, LOG_INFO, false) == 0, "log: reopen appends");
	pthread_t th[LOG_THREADS];
	for (int i = 0; i < LOG_THREADS; i++)
		pthread_create(&th[i], NULL, log_thread, (void *)(intptr_t)i);
	for (int i = 0; i < LOG_THREADS; i++)
		pthread_join(th[i], NULL);
	log_close();
	text = slurp(path);
	int lines = count_lines(text);
	regcomp(&re, "^[0-9T:.Z-]+ \\[info\\] thread [0-9] line [0-9]+ (padding-){5}padding$",
		REG_EXTENDED | REG_NOSUB);
	int good = 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		good += regexec(&re, line, 0, NULL, 0) == 0;
	regfree(&re);
	ok(lines == 5 + LOG_THREADS * LOG_PER_THREAD && good == LOG_THREADS * LOG_PER_THREAD,
	   "log: %d threads wrote whole lines (%d lines, %d well-formed)",
	   LOG_THREADS, lines, good);
	free(text);

	char *bad = x_asprintf("%s/no/such/dir/log", dir);
	ok(log_open(bad, LOG_INFO, false) == -1 && errno == ENOENT,
	   "log: open of an impossible path fails with errno");
	free(bad);
	ok(!log_enabled(LOG_INFO) && log_enabled(LOG_WARN),
	   "log: after close, warnings still reach stderr by default");

	unlink(path);
	rmdir(dir);
	free(path);
}

static void test_grow(void)
{
	int *v = NULL;
	size_t cap = 0;
	for (size_t i = 0; i < 1000; i++) {
		v = x_grow(v, i, &cap, sizeof *v, 4);
		v[i] = (int)i;
	}
	bool same = true;
	for (size_t i = 0; i < 1000; i++)
		same = same && v[i] == (int)i;
	ok(same && cap >= 1000 && cap < 2048, "x_grow keeps contents and grows geometrically (cap %zu)", cap);
	size_t before = cap;
	v = x_grow(v, 10, &cap, sizeof *v, 4);
	ok(cap == before, "x_grow leaves a roomy array alone");
	free(v);
}

static void join_line(void *ctx, const char *line)
{
	sb_printf(ctx, "[%s]", line);
}

static void test_each_line(void)
{
	struct sbuf b;
	sb_init(&b);
	text_each_line("  OU=Sales \r\n\n\t\ngroup:CN=x,DC=y\t\nlast", join_line, &b);
	sb_addc(&b, '\0');
	ok(!strcmp(b.data, "[OU=Sales][group:CN=x,DC=y][last]"), "text_each_line: blank lines left out, blanks trimmed (%s)",
	   b.data);
	sb_reset(&b);
	text_each_line(NULL, join_line, &b);
	text_each_line("", join_line, &b);
	ok(b.len == 0, "text_each_line: NULL and \"\" have no line");
	sb_free(&b);
}

int main(void)
{
	test_env_clock();        /* first: a process reads MAILFERRY_TEST_CLOCK once */
	test_grow();
	test_status();
	test_err();
	test_alloc();
	test_sbuf();
	test_clock();
	test_log();
	test_each_line();

	printf("1..%d\n", n_run);
	printf("# %d passed, %d failed\n", n_run - n_fail, n_fail);
	return n_fail ? 1 : 0;
}
