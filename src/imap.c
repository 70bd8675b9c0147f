/* imap.c - IMAP connection: login through libcurl, then pipelined commands
 * and a streaming response reader.  See imap.h for the model. */
#include "config.h"

#include "imap.h"

#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_utf7.h"
#include "log.h"

/* Output is sent once this much is buffered: few syscalls, steady flow. */
#define OUT_FLUSH_AT (128 * 1024)
/* Bytes of input kept while a write is blocked; beyond it we only write. */
#define IN_SOFT_CAP (64u * 1024 * 1024)
#define READ_CHUNK (256 * 1024)

struct imap {
	CURL *curl;
	curl_socket_t fd;
	struct sbuf in;
	size_t in_pos;
	struct sbuf out;
	struct sbuf resp;
	unsigned next_tag;
	char *caps;          /* " CAP1 CAP2 " upper-case, for word search */
	uint64_t appendlimit;
	int timeout_ms;
	bool dead;
	char label[160];
	uint64_t bytes_in, bytes_out;
};

const char *imap_label(const struct imap *im) { return im->label; }
uint64_t imap_bytes_in(const struct imap *im) { return im->bytes_in; }
uint64_t imap_bytes_out(const struct imap *im) { return im->bytes_out; }
size_t imap_pending_out(const struct imap *im) { return im->out.len; }

/* Server text in our messages: printable ASCII only, bounded. */
static void sanitize(char *dst, size_t cap, const char *src, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		unsigned char ch = (unsigned char)src[i];
		dst[o++] = (ch >= 32 && ch < 127) ? (char)ch : '?';
	}
	dst[o] = '\0';
}

static char toupper_ascii(char c)
{
	return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

/* --- socket I/O ---------------------------------------------------------- */

static enum st conn_lost(struct imap *im, struct err *e, const char *what)
{
	im->dead = true;
	return err_set(e, ST_NET, "%s: connection lost while %s", im->label, what);
}

/* One non-blocking receive into the input buffer.  Returns 1 when bytes
 * arrived, 0 when none are available now, -1 on EOF/error. */
static int recv_some(struct imap *im)
{
	if (im->in_pos > 0 && im->in_pos == im->in.len) {
		sb_reset(&im->in);
		im->in_pos = 0;
	} else if (im->in_pos > (1u << 20) && im->in_pos * 2 > im->in.len) {
		sb_consume(&im->in, im->in_pos);
		im->in_pos = 0;
	}
	if (im->in.cap - im->in.len < READ_CHUNK + 1) {
		size_t cap = im->in.cap ? im->in.cap : READ_CHUNK + 1;
		while (cap - im->in.len < READ_CHUNK + 1)
			cap *= 2;
		im->in.data = x_realloc(im->in.data, cap);
		im->in.cap = cap;
	}
	size_t got = 0;
	CURLcode rc = curl_easy_recv(im->curl, im->in.data + im->in.len, READ_CHUNK, &got);
	if (rc == CURLE_AGAIN)
		return 0;
	if (rc != CURLE_OK || got == 0)
		return -1;
	im->in.len += got;
	im->in.data[im->in.len] = '\0';
	im->bytes_in += got;
	return 1;
}

static int wait_fd(struct imap *im, short events, short *revents)
{
	struct pollfd p = { .fd = im->fd, .events = events };
	/* While we only wait for answers, ACK at once: a server that sends its
	 * small answers under Nagle's rule would otherwise stall on our
	 * delayed ACKs (40 ms each) at every pipeline drain.  Linux clears the
	 * flag after use, so it is set again before each wait. */
	if (events & POLLIN) {
		int one = 1;
		(void)setsockopt(im->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
	}
	int n;
	do
		n = poll(&p, 1, im->timeout_ms);
	while (n < 0 && errno == EINTR);
	*revents = n > 0 ? p.revents : 0;
	return n;
}

static enum st send_all(struct imap *im, const char *p, size_t n, struct err *e)
{
	while (n > 0) {
		size_t sent = 0;
		CURLcode rc = curl_easy_send(im->curl, p, n, &sent);
		if (rc == CURLE_OK) {
			p += sent;
			n -= sent;
			im->bytes_out += sent;
			continue;
		}
		if (rc != CURLE_AGAIN)
			return conn_lost(im, e, "sending");
		/* Blocked: keep accepting what the server sends meanwhile, so
		 * neither side can wait on the other forever. */
		bool want_in = im->in.len - im->in_pos < IN_SOFT_CAP;
		short rev;
		int ready = wait_fd(im, POLLOUT | (want_in ? POLLIN : 0), &rev);
		if (ready == 0)
			return err_set(e, ST_TIMEOUT, "%s: the server accepted no data for %d s",
			               im->label, im->timeout_ms / 1000);
		if (ready < 0)
			return conn_lost(im, e, "sending");
		if (want_in && (rev & (POLLIN | POLLHUP | POLLERR))) {
			if (recv_some(im) < 0 && !(rev & POLLOUT))
				return conn_lost(im, e, "sending");
		}
	}
	return ST_OK;
}

enum st imap_flush(struct imap *im, struct err *e)
{
	if (im->dead)
		return err_set(e, ST_NET, "%s: connection is closed", im->label);
	if (im->out.len == 0)
		return ST_OK;
	enum st s = send_all(im, im->out.data, im->out.len, e);
	sb_reset(&im->out);
	return s;
}

/* Makes at least one more byte of input available, flushing first. */
static enum st fill(struct imap *im, struct err *e)
{
	enum st s = imap_flush(im, e);
	if (s)
		return s;
	for (;;) {
		int r = recv_some(im);
		if (r > 0)
			return ST_OK;
		if (r < 0)
			return conn_lost(im, e, "reading");
		short rev;
		int ready = wait_fd(im, POLLIN, &rev);
		if (ready == 0)
			return err_set(e, ST_TIMEOUT, "%s: no answer from the server for %d s",
			               im->label, im->timeout_ms / 1000);
		if (ready < 0)
			return conn_lost(im, e, "reading");
	}
}

bool imap_readable(struct imap *im)
{
	if (im->in.len > im->in_pos)
		return true;
	if (im->dead)
		return false;
	int r = recv_some(im);
	return r != 0; /* data, or EOF the reader should see */
}

enum st imap_write(struct imap *im, const void *p, size_t n, struct err *e)
{
	if (im->out.len + n > OUT_FLUSH_AT && im->out.len > 0) {
		enum st s = imap_flush(im, e);
		if (s)
			return s;
	}
	if (n >= OUT_FLUSH_AT)
		return im->dead ? err_set(e, ST_NET, "%s: connection is closed", im->label)
		                : send_all(im, p, n, e);
	sb_add(&im->out, p, n);
	return ST_OK;
}

/* --- commands ------------------------------------------------------------ */

unsigned imap_cmd_begin(struct imap *im, const char *verb)
{
	unsigned tag = ++im->next_tag;
	sb_printf(&im->out, "M%u %s", tag, verb);
	return tag;
}

void imap_arg_raw(struct imap *im, const char *text)
{
	sb_addc(&im->out, ' ');
	sb_adds(&im->out, text);
}

void imap_append_raw(struct imap *im, const char *text)
{
	sb_adds(&im->out, text);
}

static void add_quoted(struct sbuf *b, const char *s)
{
	sb_addc(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sb_addc(b, '\\');
		sb_addc(b, *s);
	}
	sb_addc(b, '"');
}

void imap_arg_quoted(struct imap *im, const char *s)
{
	sb_addc(&im->out, ' ');
	add_quoted(&im->out, s);
}

void imap_arg_mailbox(struct imap *im, const char *utf8)
{
	char *enc = strcasecmp(utf8, "INBOX") == 0 ? x_strdup("INBOX") : imap_utf7_encode(utf8);
	sb_addc(&im->out, ' ');
	/* A name that is not valid UTF-8 came from a server that sent raw
	 * 8-bit names; send it back as it was. */
	add_quoted(&im->out, enc ? enc : utf8);
	free(enc);
}

void imap_cmd_end(struct imap *im)
{
	sb_add(&im->out, "\r\n", 2);
}

/* --- responses ----------------------------------------------------------- */

static const char *find_crlf(const struct imap *im)
{
	const char *start = im->in.data + im->in_pos;
	size_t n = im->in.len - im->in_pos;
	const char *lf = memchr(start, '\n', n);
	return lf;
}

static enum st stream_literal(struct imap *im, uint64_t size, const struct imap_sink *sink,
                              struct err *e)
{
	enum st s = sink->begin(sink->ctx, im->resp.data, im->resp.len, size, e);
	while (s == ST_OK && size > 0) {
		size_t avail = im->in.len - im->in_pos;
		if (avail == 0) {
			s = fill(im, e);
			continue;
		}
		size_t n = avail < size ? avail : (size_t)size;
		s = sink->data(sink->ctx, im->in.data + im->in_pos, n, e);
		im->in_pos += n;
		size -= n;
	}
	if (s == ST_OK)
		s = sink->end(sink->ctx, e);
	if (s != ST_OK && size > 0)
		im->dead = true; /* the stream is out of step: this connection is done */
	return s;
}

enum st imap_read(struct imap *im, struct imap_resp *r, const struct imap_sink *sink, struct err *e)
{
	imap_resp_free(r);
	memset(r, 0, sizeof *r);
	if (im->dead)
		return err_set(e, ST_NET, "%s: connection is closed", im->label);
	sb_reset(&im->resp);
	for (;;) {
		const char *lf = find_crlf(im);
		if (!lf) {
			enum st s = fill(im, e);
			if (s)
				return s;
			continue;
		}
		const char *line = im->in.data + im->in_pos;
		size_t len = (size_t)(lf - line);
		size_t consumed = len + 1;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		uint64_t lit;
		if (!imap_line_literal(line, len, &lit)) {
			sb_add(&im->resp, line, len);
			im->in_pos += consumed;
			break;
		}
		if (sink && lit >= sink->min_size) {
			/* Replace the marker by an empty literal, stream the bytes. */
			const char *brace = line + len;
			while (brace > line && *brace != '{')
				brace--;
			sb_add(&im->resp, line, (size_t)(brace - line));
			sb_adds(&im->resp, "{0}\r\n");
			im->in_pos += consumed;
			enum st s = stream_literal(im, lit, sink, e);
			if (s)
				return s;
			continue;
		}
		if (lit > SIZE_MAX / 2)
			return err_set(e, ST_PROTO, "%s: literal too large", im->label);
		sb_add(&im->resp, line, len);
		sb_add(&im->resp, "\r\n", 2);
		im->in_pos += consumed;
		while (im->in.len - im->in_pos < lit) {
			enum st s = fill(im, e);
			if (s)
				return s;
		}
		sb_add(&im->resp, im->in.data + im->in_pos, (size_t)lit);
		im->in_pos += (size_t)lit;
	}
	log_trace("%s S: %.200s", im->label, im->resp.data);
	if (imap_parse_response(im->resp.data, im->resp.len, r) < 0) {
		char shown[120];
		sanitize(shown, sizeof shown, im->resp.data, im->resp.len);
		im->dead = true;
		return err_set(e, ST_PROTO, "%s: unparsable response from the server: %s", im->label, shown);
	}
	return ST_OK;
}

unsigned imap_tag_num(const struct imap_resp *r)
{
	if (r->kind != RESP_TAGGED || !r->tag || r->tag[0] != 'M')
		return 0;
	return (unsigned)strtoul(r->tag + 1, NULL, 10);
}

enum st imap_status_of(const struct imap_resp *r, const char *what, struct err *e)
{
	if (r->cond == COND_OK)
		return ST_OK;
	enum st code = r->cond == COND_BAD ? ST_PROTO : ST_ITEM;
	const char *c = r->code ? r->code : "";
	if (r->cond == COND_BYE)
		code = ST_NET;
	else if (!strcmp(c, "UNAVAILABLE") || !strcmp(c, "SERVERBUG") || !strcmp(c, "INUSE") ||
	         !strcmp(c, "THROTTLED"))
		code = ST_UNAVAIL;
	else if (!strcmp(c, "OVERQUOTA"))
		code = ST_QUOTA;
	else if (!strcmp(c, "TOOBIG") || !strcmp(c, "LIMIT"))
		code = ST_TOOBIG;
	else if (!strcmp(c, "AUTHENTICATIONFAILED") || !strcmp(c, "AUTHORIZATIONFAILED") ||
	         !strcmp(c, "EXPIRED") || !strcmp(c, "PRIVACYREQUIRED"))
		code = ST_AUTH;
	else if (!strcmp(c, "NOPERM"))
		code = ST_MAILBOX;
	char text[200];
	sanitize(text, sizeof text, r->text ? r->text : "", r->text ? strlen(r->text) : 0);
	const char *word = r->cond == COND_BAD ? "BAD" : r->cond == COND_BYE ? "BYE" : "NO";
	err_set(e, code, "%s refused: %s%s%s%s %s", what, word, *c ? " [" : "", c, *c ? "]" : "",
	        text);
	return code;
}

enum st imap_wait(struct imap *im, unsigned tag, imap_untagged_fn fn, void *ctx, struct err *e)
{
	struct imap_resp r = { 0 };
	enum st s;
	for (;;) {
		s = imap_read(im, &r, NULL, e);
		if (s)
			break;
		if (r.kind == RESP_TAGGED && imap_tag_num(&r) == tag) {
			s = imap_status_of(&r, "command", e);
			if (s)
				err_prefix(e, "%s", im->label);
			break;
		}
		if (r.kind == RESP_UNTAGGED && r.cond == COND_BYE) {
			s = imap_status_of(&r, "connection", e);
			err_prefix(e, "%s", im->label);
			im->dead = true;
			break;
		}
		if (r.kind == RESP_UNTAGGED && fn)
			fn(ctx, &r);
	}
	imap_resp_free(&r);
	return s;
}

enum st imap_simple(struct imap *im, const char *verb, const char *args,
                    imap_untagged_fn fn, void *ctx, struct err *e)
{
	unsigned tag = imap_cmd_begin(im, verb);
	if (args)
		imap_arg_raw(im, args);
	imap_cmd_end(im);
	return imap_wait(im, tag, fn, ctx, e);
}

/* --- login and capabilities ---------------------------------------------- */

static void on_capability(void *ctx, const struct imap_resp *r)
{
	struct imap *im = ctx;
	if (!r->kw || strcmp(r->kw, "CAPABILITY") != 0)
		return;
	struct sbuf b;
	sb_init(&b);
	sb_addc(&b, ' ');
	for (size_t i = 0; i < r->nargs; i++) {
		const struct imap_val *v = &r->args[i];
		if (v->type != IV_ATOM)
			continue;
		for (size_t k = 0; k < v->len; k++)
			sb_addc(&b, (char)toupper_ascii(v->s[k]));
		sb_addc(&b, ' ');
		if (v->len > 12 && strncasecmp(v->s, "APPENDLIMIT=", 12) == 0)
			im->appendlimit = strtoull(v->s + 12, NULL, 10);
	}
	free(im->caps);
	im->caps = b.data;
}

bool imap_has_cap(const struct imap *im, const char *cap)
{
	if (!im->caps)
		return false;
	char word[64];
	snprintf(word, sizeof word, " %s ", cap);
	for (char *p = word; *p; p++)
		*p = (char)toupper_ascii(*p);
	return strstr(im->caps, word) != NULL;
}

uint64_t imap_appendlimit(const struct imap *im) { return im->appendlimit; }

static enum st curl_to_status(CURLcode rc, const char *detail, const struct imap_login *l,
                              struct err *e)
{
	const char *lbl = l->label ? l->label : l->url;
	const char *msg = detail && *detail ? detail : curl_easy_strerror(rc);
	switch (rc) {
	case CURLE_LOGIN_DENIED:
		return err_set(e, ST_AUTH, "%s: login refused for %s%s%s (check the admin user and password)",
		               lbl, l->user ? l->user : "?", l->authzid ? " acting as " : "",
		               l->authzid ? l->authzid : "");
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return err_set(e, ST_CONFIG, "%s: bad URL %s: %s", lbl, l->url, msg);
	case CURLE_PEER_FAILED_VERIFICATION:
#if LIBCURL_VERSION_NUM < 0x073e00
	case CURLE_SSL_CACERT:
#endif
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		return err_set(e, ST_CONFIG, "%s: TLS certificate of the server could not be verified "
		               "(%s); install its CA or, if you trust this network, set the endpoint "
		               "insecure", lbl, msg);
	case CURLE_USE_SSL_FAILED:
	case CURLE_SSL_CONNECT_ERROR:
		return err_set(e, ST_NET, "%s: TLS handshake failed: %s", lbl, msg);
	case CURLE_OPERATION_TIMEDOUT:
		return err_set(e, ST_TIMEOUT, "%s: timed out connecting: %s", lbl, msg);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return err_set(e, ST_NET, "%s: cannot connect: %s", lbl, msg);
	default:
		return err_set(e, ST_NET, "%s: %s", lbl, msg);
	}
}

enum st imap_open(const struct imap_login *l, struct imap **out, struct err *e)
{
	*out = NULL;
	if (!l->url || (strncasecmp(l->url, "imap://", 7) != 0 && strncasecmp(l->url, "imaps://", 8) != 0))
		return err_set(e, ST_CONFIG, "bad URL '%s': use imap://host[:port] or imaps://host[:port]",
		               l->url ? l->url : "");
	struct imap *im = x_calloc(1, sizeof *im);
	sb_init(&im->in);
	sb_init(&im->out);
	sb_init(&im->resp);
	im->timeout_ms = (l->timeout_s > 0 ? l->timeout_s : 60) * 1000;
	snprintf(im->label, sizeof im->label, "%s", l->label ? l->label : l->url);

	CURL *c = curl_easy_init();
	if (!c) {
		free(im);
		return err_set(e, ST_INTERNAL, "cannot initialise libcurl");
	}
	im->curl = c;
	char errbuf[CURL_ERROR_SIZE] = "";
	/* libcurl needs a path to accept the URL; "/" selects no mailbox. */
	char *url = x_asprintf("%s%s", l->url, l->url[strlen(l->url) - 1] == '/' ? "" : "/");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)(im->timeout_ms / 1000));
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)(im->timeout_ms / 1000));
	if (strncasecmp(l->url, "imap://", 7) == 0)
		curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
	if (l->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (l->user)
		curl_easy_setopt(c, CURLOPT_USERNAME, l->user);
	if (l->bearer) {
		curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, l->bearer);
		curl_easy_setopt(c, CURLOPT_LOGIN_OPTIONS, "AUTH=XOAUTH2");
	} else {
		if (l->password)
			curl_easy_setopt(c, CURLOPT_PASSWORD, l->password);
		if (l->authzid) {
			curl_easy_setopt(c, CURLOPT_SASL_AUTHZID, l->authzid);
			curl_easy_setopt(c, CURLOPT_LOGIN_OPTIONS, "AUTH=PLAIN");
		} else if (l->mech && !strcasecmp(l->mech, "LOGIN")) {
			curl_easy_setopt(c, CURLOPT_LOGIN_OPTIONS, "AUTH=LOGIN");
		} else if (l->mech && !strcasecmp(l->mech, "PLAIN")) {
			curl_easy_setopt(c, CURLOPT_LOGIN_OPTIONS, "AUTH=PLAIN");
		}
	}
	CURLcode rc = curl_easy_perform(c);
	/* The password was only needed for the login: drop libcurl's copy. */
	curl_easy_setopt(c, CURLOPT_PASSWORD, "");
	free(url);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	if (rc != CURLE_OK) {
		enum st s = curl_to_status(rc, errbuf, l, e);
		curl_easy_cleanup(c);
		sb_free(&im->in);
		sb_free(&im->out);
		sb_free(&im->resp);
		free(im);
		return s;
	}
	curl_socket_t fd;
	if (curl_easy_getinfo(c, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK || fd == CURL_SOCKET_BAD) {
		imap_free(&im);
		return err_set(e, ST_NET, "%s: no connection after login", l->label ? l->label : l->url);
	}
	im->fd = fd;
	/* libcurl keeps the post-login capabilities to itself: ask again.  ID
	 * (RFC 2971: say who we are; some servers tune limits for known
	 * clients) goes in the same round trip; a server without it answers
	 * BAD, which changes nothing. */
	unsigned cap_tag = imap_cmd_begin(im, "CAPABILITY");
	imap_cmd_end(im);
	unsigned id_tag = imap_cmd_begin(im, "ID");
	imap_arg_raw(im, "(\"name\" \"mailferry\" \"version\" \"" PACKAGE_VERSION "\")");
	imap_cmd_end(im);
	enum st s = imap_wait(im, cap_tag, on_capability, im, e);
	if (!s) {
		struct err ie;
		enum st is = imap_wait(im, id_tag, NULL, NULL, &ie);
		if (is == ST_NET || is == ST_TIMEOUT) {   /* not a BAD: the line died */
			s = is;
			*e = ie;
		}
	}
	if (s) {
		imap_free(&im);
		return s;
	}
	*out = im;
	log_debug("%s: connected", im->label);
	return ST_OK;
}

void imap_free(struct imap **p)
{
	struct imap *im = *p;
	if (!im)
		return;
	if (!im->dead && im->fd) {
		struct err e;
		sb_reset(&im->out);
		imap_cmd_begin(im, "LOGOUT");
		imap_cmd_end(im);
		(void)imap_flush(im, &e);
	}
	curl_easy_cleanup(im->curl);
	sb_free(&im->in);
	sb_free(&im->out);
	sb_free(&im->resp);
	free(im->caps);
	free(im);
	*p = NULL;
}
