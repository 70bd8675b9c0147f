/* log.c - diagnostic log: one line per message, ISO-8601 UTC timestamps,
 * written to a file and/or echoed on stderr.  One mutex serialises the sink
 * so lines from worker threads never interleave. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {
	[LOG_ERROR] = "error",
	[LOG_WARN] = "warn",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
	[LOG_TRACE] = "trace",
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_file;              /* guarded by log_lock */
static bool log_stderr = true;      /* guarded by log_lock */
/* Read on every log_debug() call from every thread, so atomic rather than
 * under the mutex.  Before log_open, warnings and errors still reach stderr
 * so that early failures are not lost. */
static atomic_int log_level = LOG_WARN;

static const char *level_name(enum log_level level)
{
	if ((unsigned)level >= countof(level_names))
		return "?";
	return level_names[level];
}

int log_open(const char *path, enum log_level level, bool to_stderr)
{
	FILE *f = NULL;

	if (path) {
		/* 0600: mailbox and folder names are personal data even though
		 * credentials never reach the log.  O_APPEND keeps several runs
		 * (and several processes) from overwriting each other. */
		int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd < 0)
			return -1;
		f = fdopen(fd, "a");
		if (!f) {
			int saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		setvbuf(f, NULL, _IOLBF, 0);
	}

	pthread_mutex_lock(&log_lock);
	if (log_file)
		fclose(log_file);
	log_file = f;
	log_stderr = to_stderr;
	pthread_mutex_unlock(&log_lock);
	log_set_level(level);
	return 0;
}

void log_close(void)
{
	pthread_mutex_lock(&log_lock);
	if (log_file)
		fclose(log_file);
	log_file = NULL;
	log_stderr = true;
	pthread_mutex_unlock(&log_lock);
	log_set_level(LOG_WARN);
}

void log_set_level(enum log_level level)
{
	if ((int)level < LOG_ERROR)
		level = LOG_ERROR;
	if ((int)level > LOG_TRACE)
		level = LOG_TRACE;
	atomic_store(&log_level, (int)level);
}

bool log_enabled(enum log_level level)
{
	return (int)level <= atomic_load(&log_level);
}

/* Server answers and folder names end up in messages; escape control bytes
 * so one message stays one line and cannot forge other log lines or send
 * terminal escape sequences to whoever reads the log. */
static void sanitize(struct sbuf *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\t' || (c >= 0x20 && c != 0x7f)) {
			sb_addc(out, (char)c);
		} else {
			switch (c) {
			case '\n': sb_adds(out, "\\n"); break;
			case '\r': sb_adds(out, "\\r"); break;
			default: sb_printf(out, "\\x%02x", c); break;
			}
		}
	}
}

static void timestamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;

	/* The real wall clock, not clock_now(): a faked clock in tests must
	 * not make the diagnostic log lie about when things happened. */
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (!log_enabled(level))
		return;

	/* Keep errno intact: callers often log and then report strerror(errno). */
	int saved_errno = errno;

	char raw[1024];
	char *text = raw;
	va_list ap, ap2;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	int n = vsnprintf(raw, sizeof(raw), fmt, ap);
	if (n < 0) {
		snprintf(raw, sizeof(raw), "(bad log format \"%s\")", fmt);
	} else if ((size_t)n >= sizeof(raw)) {
		text = x_malloc((size_t)n + 1);
		vsnprintf(text, (size_t)n + 1, fmt, ap2);
	}
	va_end(ap2);
	va_end(ap);

	struct sbuf line;
	sb_init(&line);
	sanitize(&line, text);
	if (text != raw)
		free(text);

	char ts[40];
	timestamp(ts, sizeof(ts));

	pthread_mutex_lock(&log_lock);
	if (log_file)
		fprintf(log_file, "%s [%s] %s\n", ts, level_name(level), line.data);
	if (log_stderr)
		fprintf(stderr, "%s [%s] %s\n", ts, level_name(level), line.data);
	pthread_mutex_unlock(&log_lock);

	sb_free(&line);
	errno = saved_errno;
}
