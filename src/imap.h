/* imap.h - one IMAP client connection (RFC 3501/9051) with pipelining.
 *
 * libcurl does the connection work (TCP, proxies, TLS and certificate
 * checks, STARTTLS, SASL login) in CONNECT_ONLY mode; from then on this
 * module speaks IMAP itself on the connection, so that many commands can be
 * in flight at once (never one round trip per message).
 *
 * Model: commands are appended to an output buffer (imap_cmd_*), sent by
 * imap_flush or implicitly when the buffer is large or when a read has to
 * wait.  Responses are read one at a time with imap_read; literals larger
 * than the caller's threshold are streamed to a sink in chunks so that a
 * 40 MB message costs a fixed amount of memory.  While a write would block,
 * incoming data is buffered (bounded) so that two peers can never deadlock.
 *
 * Threads: a connection belongs to one thread at a time.
 * Credentials: passed in struct imap_login, handed to libcurl, never copied
 * into logs or error messages. */
#ifndef MF_IMAP_H
#define MF_IMAP_H

#include "common.h"
#include "imap_parse.h"

struct imap;

struct imap_login {
	const char *url;        /* imap://host[:port] (STARTTLS if offered) or imaps:// */
	const char *user;       /* authentication identity */
	const char *authzid;    /* act as this user (SASL PLAIN), NULL for none */
	const char *password;   /* borrowed for the duration of imap_open */
	const char *bearer;     /* XOAUTH2 token instead of a password, or NULL */
	const char *mech;       /* "PLAIN", "LOGIN", "XOAUTH2"; NULL: libcurl picks */
	bool insecure;          /* skip TLS certificate verification (explicit) */
	int timeout_s;          /* connect and inactivity timeout */
	const char *label;      /* for messages: "source user001" */
};

/* Connects and logs in; on success *out owns the connection. */
enum st imap_open(const struct imap_login *l, struct imap **out, struct err *e);
/* Sends LOGOUT (best effort, no wait) and frees; sets *p to NULL. */
void imap_free(struct imap **p);

/* Capability test after login, e.g. imap_has_cap(im, "LITERAL+"). */
bool imap_has_cap(const struct imap *im, const char *cap);
/* APPENDLIMIT from CAPABILITY, 0 when unknown. */
uint64_t imap_appendlimit(const struct imap *im);
const char *imap_label(const struct imap *im);

/* --- Building commands -------------------------------------------------- */
/* Starts a command in the output buffer; returns its tag number.  Arguments
 * are appended with the imap_arg_* helpers and the command is finished by
 * imap_cmd_end, which adds CRLF. */
unsigned imap_cmd_begin(struct imap *im, const char *verb);
void imap_arg_raw(struct imap *im, const char *text);            /* " text" */
void imap_append_raw(struct imap *im, const char *text);         /* "text", no space */
void imap_arg_quoted(struct imap *im, const char *s);             /* " \"...\"" */
/* A mailbox name in UTF-8, sent as quoted modified UTF-7 (INBOX as is). */
void imap_arg_mailbox(struct imap *im, const char *utf8);
void imap_cmd_end(struct imap *im);
/* Appends raw bytes (literal data) to the output buffer. */
enum st imap_write(struct imap *im, const void *p, size_t n, struct err *e);
/* Sends everything buffered. */
enum st imap_flush(struct imap *im, struct err *e);
/* Bytes waiting in the output buffer. */
size_t imap_pending_out(const struct imap *im);

/* --- Reading responses -------------------------------------------------- */
struct imap_sink {
	/* A literal of size bytes starts; prefix is the response so far. */
	enum st (*begin)(void *ctx, const char *prefix, size_t plen, uint64_t size, struct err *e);
	enum st (*data)(void *ctx, const char *p, size_t n, struct err *e);
	enum st (*end)(void *ctx, struct err *e);
	void *ctx;
	uint64_t min_size;      /* literals >= this go to the sink */
};

/* Reads and parses the next response.  r stays valid until the next call.
 * sink may be NULL (everything buffered).  Streamed literals appear in r as
 * empty strings.  Returns ST_NET/ST_TIMEOUT/ST_PROTO on failure; a BYE is
 * returned as a response (the caller decides). */
enum st imap_read(struct imap *im, struct imap_resp *r, const struct imap_sink *sink, struct err *e);
/* True when a complete response (or more bytes) can be read without
 * waiting: data already buffered or the socket readable now. */
bool imap_readable(struct imap *im);

/* Handler for untagged responses while waiting for a tagged one. */
typedef void (*imap_untagged_fn)(void *ctx, const struct imap_resp *r);

/* Flushes, then reads until the tagged response for tag; untagged responses
 * go to fn.  Maps NO/BAD and response codes to a status (imap_status_of). */
enum st imap_wait(struct imap *im, unsigned tag, imap_untagged_fn fn, void *ctx, struct err *e);
/* Convenience: simple command with raw argument text, then imap_wait. */
enum st imap_simple(struct imap *im, const char *verb, const char *args,
                    imap_untagged_fn fn, void *ctx, struct err *e);

/* The one table from a tagged NO/BAD (or untagged BYE) to a status with a
 * retry class: [UNAVAILABLE] -> ST_UNAVAIL, [OVERQUOTA] -> ST_QUOTA,
 * [TOOBIG]/[LIMIT] -> ST_TOOBIG, [AUTHENTICATIONFAILED] -> ST_AUTH, ... */
enum st imap_status_of(const struct imap_resp *r, const char *what, struct err *e);

/* Tag number of a tagged response (tags are "M<number>"), 0 when foreign. */
unsigned imap_tag_num(const struct imap_resp *r);

/* Counters for the benchmark and the metrics view. */
uint64_t imap_bytes_in(const struct imap *im);
uint64_t imap_bytes_out(const struct imap *im);

#endif
