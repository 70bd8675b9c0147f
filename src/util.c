/* util.c - implementation of common.h: status table, struct err, aborting
 * allocators, growable buffers and the (fakeable) clock. */
#include "common.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* --- status table ---------------------------------------------------------- */

struct st_info {
	const char *name;
	const char *msg;
	enum retry_class retry;
	int exit_code;
};

/* Built from the one STATUS_INFO list so names, messages, retry classes and
 * exit codes cannot drift apart. */
static const struct st_info st_table[ST__COUNT] = {
#define ST_ROW(code, msg, rc, ex) [code] = { #code, msg, rc, ex },
	STATUS_INFO(ST_ROW)
#undef ST_ROW
};

/* An out-of-range code is a bug in the caller; answer like ST_INTERNAL so
 * that the scheduler and the exit code still do something safe. */
static const struct st_info *st_row(enum st code)
{
	if ((unsigned)code >= (unsigned)ST__COUNT)
		return &st_table[ST_INTERNAL];
	return &st_table[code];
}

const char *st_message(enum st code)
{
	return _(st_row(code)->msg);
}

enum retry_class st_retry_class(enum st code)
{
	return st_row(code)->retry;
}

int st_exit_code(enum st code)
{
	return st_row(code)->exit_code;
}

const char *st_name(enum st code)
{
	if ((unsigned)code >= (unsigned)ST__COUNT)
		return "ST_UNKNOWN";
	return st_row(code)->name;
}

/* --- struct err ------------------------------------------------------------ */

/* vsnprintf truncates at a byte boundary; cut back to the last complete
 * UTF-8 sequence so a truncated message never ends in a broken character
 * (it is shown in the console and stored as TEXT in SQLite). */
static void trim_partial_utf8(char *s, size_t len)
{
	size_t i = len;
	size_t cont = 0;

	while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80 && cont < 3) {
		i--;
		cont++;
	}
	if (i == 0)
		return;
	unsigned char lead = (unsigned char)s[i - 1];
	size_t need;
	if (lead < 0x80)
		return;                 /* ASCII: nothing partial */
	else if ((lead & 0xE0) == 0xC0)
		need = 1;
	else if ((lead & 0xF0) == 0xE0)
		need = 2;
	else if ((lead & 0xF8) == 0xF0)
		need = 3;
	else
		return;                 /* not UTF-8 anyway: leave it */
	if (cont < need)
		s[i - 1] = '\0';
}

/* Formats into a fixed buffer; returns the length written. */
__attribute__((format(printf, 3, 0)))
static size_t vfmt_fixed(char *buf, size_t size, const char *fmt, va_list ap)
{
	int n = vsnprintf(buf, size, fmt, ap);

	if (n < 0) {
		buf[0] = '\0';
		return 0;
	}
	if ((size_t)n >= size) {
		trim_partial_utf8(buf, size - 1);
		return strlen(buf);
	}
	return (size_t)n;
}

enum st err_set(struct err *e, enum st code, const char *fmt, ...)
{
	if (!e)
		return code;

	/* Format into a scratch buffer first: callers may legitimately pass
	 * e->msg as an argument ("%s", e->msg). */
	char tmp[sizeof(e->msg)];
	if (fmt && *fmt) {
		va_list ap;
		va_start(ap, fmt);
		vfmt_fixed(tmp, sizeof(tmp), fmt, ap);
		va_end(ap);
	} else {
		snprintf(tmp, sizeof(tmp), "%s", st_message(code));
	}
	memcpy(e->msg, tmp, sizeof(tmp));
	e->code = code;
	/* A new error must not inherit the back-off hint of an older one;
	 * callers that have a hint set it after err_set. */
	e->retry_after_s = 0;
	return code;
}

void err_clear(struct err *e)
{
	if (!e)
		return;
	e->code = ST_OK;
	e->retry_after_s = 0;
	e->msg[0] = '\0';
}

void err_prefix(struct err *e, const char *fmt, ...)
{
	if (!e || !fmt)
		return;

	char prefix[sizeof(e->msg)];
	va_list ap;
	va_start(ap, fmt);
	vfmt_fixed(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);

	char tmp[sizeof(e->msg)];
	int n;
	if (e->msg[0])
		n = snprintf(tmp, sizeof(tmp), "%s: %s", prefix, e->msg);
	else
		n = snprintf(tmp, sizeof(tmp), "%s", prefix);
	if (n >= 0 && (size_t)n >= sizeof(tmp))
		trim_partial_utf8(tmp, sizeof(tmp) - 1);
	memcpy(e->msg, tmp, sizeof(tmp));
}

/* --- allocation ------------------------------------------------------------ */

void (*x_fatal_hook)(void);

/* The hook restores the terminal; run it at most once even if it (or another
 * thread) fails again while we are already dying. */
static atomic_flag fatal_once = ATOMIC_FLAG_INIT;

static void run_fatal_hook(void)
{
	if (!atomic_flag_test_and_set(&fatal_once) && x_fatal_hook)
		x_fatal_hook();
}

_Noreturn void x_die(const char *fmt, ...)
{
	run_fatal_hook();
	/* No allocation here: we may be dying of memory exhaustion. */
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vfmt_fixed(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "mailferry: fatal: %s\n", buf);
	fflush(stderr);
	abort();
}

static _Noreturn void oom(size_t n)
{
	x_die("out of memory (allocating %zu bytes)", n);
}

void *x_malloc(size_t n)
{
	/* malloc(0) may return NULL legitimately; never hand that out. */
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *x_calloc(size_t n, size_t size)
{
	if (n == 0 || size == 0)
		n = size = 1;
	void *p = calloc(n, size);   /* calloc checks n * size for overflow */
	if (!p)
		oom(size > 0 && n > SIZE_MAX / size ? SIZE_MAX : n * size);
	return p;
}

void *x_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

void *x_grow(void *p, size_t n, size_t *cap, size_t elem, size_t first)
{
	if (n < *cap)
		return p;
	size_t want = *cap ? *cap * 2 : first;
	while (want <= n)
		want *= 2;
	*cap = want;
	return x_realloc(p, want * elem);
}

char *x_strdup(const char *s)
{
	size_t n = strlen(s);
	char *d = x_malloc(n + 1);
	memcpy(d, s, n + 1);
	return d;
}

char *x_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = x_malloc(len + 1);
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

char *x_asprintf(const char *fmt, ...)
{
	va_list ap, ap2;

	/* Measure, then format: one exact allocation. */
	va_start(ap, fmt);
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		x_die("x_asprintf: invalid format \"%s\"", fmt);
	char *s = x_malloc((size_t)n + 1);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* --- sbuf ------------------------------------------------------------------ */

#define SB_MIN_CAP 64

/* sb_init allocates so that data is never NULL: callers can print it or
 * take ownership of it (even when empty) without special cases. */
void sb_init(struct sbuf *b)
{
	b->data = x_malloc(SB_MIN_CAP);
	b->data[0] = '\0';
	b->len = 0;
	b->cap = SB_MIN_CAP;
}

void sb_free(struct sbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void sb_reset(struct sbuf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* Makes room for n more bytes plus the terminating NUL.  Also works on a
 * zero-initialised struct that never went through sb_init. */
static void sb_grow(struct sbuf *b, size_t n)
{
	if (n > SIZE_MAX - 1 - b->len)
		x_die("sbuf: size overflow");
	size_t need = b->len + n + 1;
	if (need <= b->cap && b->data)
		return;
	size_t cap = b->cap ? b->cap : SB_MIN_CAP;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	b->data = x_realloc(b->data, cap);
	b->cap = cap;
}

void sb_add(struct sbuf *b, const void *p, size_t n)
{
	sb_grow(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void sb_adds(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

void sb_addc(struct sbuf *b, char c)
{
	sb_add(b, &c, 1);
}

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap, ap2;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	sb_grow(b, 0);
	size_t room = b->cap - b->len;
	int n = vsnprintf(b->data + b->len, room, fmt, ap);
	if (n < 0)
		x_die("sb_printf: invalid format \"%s\"", fmt);
	if ((size_t)n >= room) {
		sb_grow(b, (size_t)n);
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
	}
	b->len += (size_t)n;
	va_end(ap2);
	va_end(ap);
}

void sb_consume(struct sbuf *b, size_t n)
{
	if (n >= b->len) {
		sb_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

/* --- lines ----------------------------------------------------------------- */

void text_each_line(const char *text, void (*fn)(void *ctx, const char *line), void *ctx)
{
	for (const char *p = text ? text : ""; *p;) {
		size_t len = strcspn(p, "\n");
		char *line = x_strndup(p, len);
		char *t = line + strspn(line, " \t");
		size_t tl = strlen(t);
		while (tl && (t[tl - 1] == ' ' || t[tl - 1] == '\t' || t[tl - 1] == '\r'))
			t[--tl] = '\0';
		if (tl)
			fn(ctx, t);
		free(line);
		p += len + (p[len] == '\n');
	}
}

/* --- clock ----------------------------------------------------------------- */

/* 0 means "use the real clock"; atomic because tests set it while worker
 * threads read it. */
static _Atomic int64_t fake_now;

int64_t clock_mono_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		x_die("clock_gettime(CLOCK_MONOTONIC): %s", strerror(errno));
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The test clock of MAILFERRY_TEST_CLOCK (a file holding a unix time T):
 * the clock read T when the file was last written and runs on from there at
 * the real rate, so a test moves time by rewriting the file while mailferry
 * runs.  Re-read at most every 50 ms.  Returns 0 when unset or unreadable. */
static int64_t test_clock_now(void)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static int64_t checked_ms, base, written;
	static _Atomic int state;       /* 0 unknown, 1 unset, 2 set */
	if (atomic_load_explicit(&state, memory_order_relaxed) == 1)
		return 0;
	pthread_mutex_lock(&mu);
	const char *path = getenv("MAILFERRY_TEST_CLOCK");
	if (!path || !*path) {
		state = 1;
		pthread_mutex_unlock(&mu);
		return 0;
	}
	state = 2;
	int64_t now_ms = clock_mono_ms();
	if (checked_ms == 0 || now_ms - checked_ms >= 50) {
		checked_ms = now_ms;
		struct stat sb;
		FILE *f = fopen(path, "r");
		long long t;
		if (f && fstat(fileno(f), &sb) == 0 && fscanf(f, "%lld", &t) == 1) {
			base = t;
			written = (int64_t)sb.st_mtime;
		}
		if (f)
			fclose(f);
	}
	int64_t r = base ? base + ((int64_t)time(NULL) - written) : 0;
	pthread_mutex_unlock(&mu);
	return r;
}

int64_t clock_now(void)
{
	int64_t f = atomic_load_explicit(&fake_now, memory_order_relaxed);
	if (f != 0)
		return f;
	f = test_clock_now();
	if (f != 0)
		return f;
	return (int64_t)time(NULL);
}

void clock_set_fake(int64_t epoch_s)
{
	atomic_store_explicit(&fake_now, epoch_s, memory_order_relaxed);
}
