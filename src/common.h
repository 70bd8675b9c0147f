/* common.h - base definitions shared by every module of mailferry.
 *
 * Error model: functions return an `enum st` (ST_OK == 0) and fill a
 * caller-provided `struct err` with a message a person can act on.  Every
 * status code carries a retry class in one table (status.c), so the scheduler
 * decides "retry now / later / never" from a single place.
 *
 * Memory: x_* allocators never return NULL; they abort through a hook (the
 * console restores the terminal first).  Strings returned by functions in
 * this project are owned by the caller unless the header says otherwise.
 *
 * Threads: everything here is thread-safe. */
#ifndef MF_COMMON_H
#define MF_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef ENABLE_NLS
#include <libintl.h>
#define _(s) gettext(s)
#else
#define _(s) (s)
#endif
#define N_(s) (s)

#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define countof(a) (sizeof(a) / sizeof((a)[0]))

/* Retry classes: what the scheduler does with a failure. */
enum retry_class {
	RETRY_NONE,      /* success, nothing to retry */
	RETRY_NOW,       /* transient: reconnect and retry immediately */
	RETRY_LATER,     /* server asked us to back off: retry after a delay */
	RETRY_ITEM,      /* this one item failed; the mailbox goes on */
	RETRY_MAILBOX,   /* this mailbox cannot go on (quota, permissions) */
	RETRY_ENDPOINT,  /* configuration/auth: stop every job of the endpoint */
};

/* code, default message, retry class, CLI exit code */
#define STATUS_INFO(_) \
	_(ST_OK,        "ok",                               RETRY_NONE,     0)  \
	_(ST_PARTIAL,   "completed with skipped items",     RETRY_NONE,     1)  \
	_(ST_USAGE,     "invalid command line",             RETRY_ENDPOINT, 64) \
	_(ST_CONFIG,    "configuration error",              RETRY_ENDPOINT, 78) \
	_(ST_AUTH,      "authentication failed",            RETRY_ENDPOINT, 77) \
	_(ST_NET,       "network error",                    RETRY_NOW,      75) \
	_(ST_TIMEOUT,   "the server did not answer in time", RETRY_NOW,     75) \
	_(ST_UNAVAIL,   "server temporarily unavailable",   RETRY_LATER,    75) \
	_(ST_PROTO,     "unexpected answer from the server", RETRY_NOW,     75) \
	_(ST_TOOBIG,    "message exceeds the target's size limit", RETRY_ITEM, 1) \
	_(ST_ITEM,      "item could not be copied",         RETRY_ITEM,     1)  \
	_(ST_QUOTA,     "target mailbox is over quota",     RETRY_MAILBOX,  75) \
	_(ST_MAILBOX,   "mailbox cannot be migrated",       RETRY_MAILBOX,  70) \
	_(ST_STORE,     "local store error",                RETRY_ENDPOINT, 70) \
	_(ST_CANCELED,  "canceled",                         RETRY_NONE,     75) \
	_(ST_INTERNAL,  "internal error",                   RETRY_MAILBOX,  70)

enum st {
#define ST_ENUM(code, msg, rc, ex) code,
	STATUS_INFO(ST_ENUM)
#undef ST_ENUM
	ST__COUNT
};

const char *st_message(enum st code);
enum retry_class st_retry_class(enum st code);
int st_exit_code(enum st code);
const char *st_name(enum st code);

/* Error detail, filled by the callee.  msg is always NUL-terminated. */
struct err {
	enum st code;
	int retry_after_s;      /* server's hint, 0 when none */
	char msg[512];
};

/* Sets e (if not NULL) and returns code, so callers can `return err_set(...)`. */
enum st err_set(struct err *e, enum st code, const char *fmt, ...) PRINTF_LIKE(3, 4);
void err_clear(struct err *e);
/* Prefixes the existing message: "context: old message". */
void err_prefix(struct err *e, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* Allocation that aborts on failure (through x_fatal_hook if set). */
extern void (*x_fatal_hook)(void);
void *x_malloc(size_t n);
void *x_calloc(size_t n, size_t size);
void *x_realloc(void *p, size_t n);
char *x_strdup(const char *s);
/* Room for element n of the array p (capacity *cap elements of elem bytes):
 * grows it geometrically from `first` when full; returns the array. */
void *x_grow(void *p, size_t n, size_t *cap, size_t elem, size_t first);
char *x_strndup(const char *s, size_t n);
char *x_asprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);
_Noreturn void x_die(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* Growable byte buffer; always NUL-terminated for convenience.
 * The struct owns data; sb_free releases it. */
struct sbuf {
	char *data;
	size_t len;
	size_t cap;
};
void sb_init(struct sbuf *b);
void sb_free(struct sbuf *b);
void sb_reset(struct sbuf *b);
void sb_add(struct sbuf *b, const void *p, size_t n);
void sb_adds(struct sbuf *b, const char *s);
void sb_addc(struct sbuf *b, char c);
void sb_printf(struct sbuf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
void sb_consume(struct sbuf *b, size_t n);   /* drop n bytes from the front */

/* Calls fn with each line of text (NULL: none) that is not blank, without
 * its leading and trailing blanks (space, tab, CR); line lives for the call. */
void text_each_line(const char *text, void (*fn)(void *ctx, const char *line), void *ctx);

/* Monotonic milliseconds, and the wall clock through one settable source so
 * tests can inject time: clock_set_fake in unit tests, and for whole
 * processes the file named by MAILFERRY_TEST_CLOCK (a unix time; the clock
 * runs on from it at the real rate, from the file's modification time). */
int64_t clock_mono_ms(void);
int64_t clock_now(void);            /* seconds since the epoch */
void clock_set_fake(int64_t epoch_s); /* 0 restores the real clock */

#endif
