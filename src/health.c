/* health.c - forest health checks (see health.h). */
#include "health.h"

#include "directory.h"
#include "dirclock.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "driver.h"
#include "imap.h"
#include "secret.h"

#define HEALTH_TIMEOUT_MAX_S 15
#define CERT_WARN_DAYS 14

struct health {
	struct store *st;
	const struct cfg *cfg;
	const struct forest *forest;
	health_fn fn;
	void *ctx;
	enum health_level worst;
	int timeout_s;
};

/* One endpoint under check: where it is and what the earlier steps found. */
struct target {
	const struct endpoint *ep;
	bool tls;               /* imaps:// */
	char host[256];
	int port;
};

const char *health_mark(enum health_level l)
{
	switch (l) {
	case HEALTH_OK: return "\xe2\x9c\x93";     /* ✓ */
	case HEALTH_INFO: return "i";
	case HEALTH_WARN: return "!";
	case HEALTH_FAIL: return "\xe2\x9c\x97";   /* ✗ */
	}
	return "?";
}

static void report(struct health *h, const char *check, const struct endpoint *ep,
                   enum health_level level, const char *fix, const char *fmt, ...)
	PRINTF_LIKE(6, 7);

static void report(struct health *h, const char *check, const struct endpoint *ep,
                   enum health_level level, const char *fix, const char *fmt, ...)
{
	char detail[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	if (level > h->worst)
		h->worst = level;
	struct health_result r = { check, ep ? ep->name : NULL, level, detail,
	                           fix && *fix ? fix : NULL };
	h->fn(h->ctx, &r);
}

/* The command that re-creates an endpoint with another URL (there is no
 * "endpoint set"): remove, then add with the same options. */
static void readd_hint(const struct health *h, const struct endpoint *ep, const char *url,
                       char *buf, size_t n)
{
	snprintf(buf, n, "mailferry endpoint remove %s && mailferry endpoint add %s %s --user %s "
	         "PASSWORD-SOURCE --forest %s%s", ep->name, ep->name, url,
	         ep->admin_user ? ep->admin_user : "ADMIN", h->forest->name,
	         ep->insecure ? " --insecure" : "");
}

/* --- url, dns, tcp --------------------------------------------------------- */

static bool parse_target(const struct endpoint *ep, struct target *t)
{
	memset(t, 0, sizeof *t);
	t->ep = ep;
	t->tls = !strncasecmp(ep->url, "imaps://", 8);
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL;
	bool ok = u && !curl_url_set(u, CURLUPART_URL, ep->url, 0) &&
	          !curl_url_get(u, CURLUPART_HOST, &host, 0) &&
	          !curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
	if (ok) {
		size_t hl = strlen(host);
		const char *hp = host;
		if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
			hp++;
			hl -= 2;
		}
		snprintf(t->host, sizeof t->host, "%.*s", (int)hl, hp);
		t->port = atoi(port);
		ok = t->port > 0 && *t->host;
	}
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return ok;
}

static bool check_dns(struct health *h, const struct target *t, struct addrinfo **res)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
	char port[16];
	snprintf(port, sizeof port, "%d", t->port);
	int rc = getaddrinfo(t->host, port, &hints, res);
	if (rc == 0) {
		char addr[NI_MAXHOST] = "?";
		getnameinfo((*res)->ai_addr, (*res)->ai_addrlen, addr, sizeof addr, NULL, 0,
		            NI_NUMERICHOST);
		if (!strcmp(addr, t->host))
			report(h, "dns", t->ep, HEALTH_OK, NULL, "%s is an address (no look-up needed)",
			       t->host);
		else
			report(h, "dns", t->ep, HEALTH_OK, NULL, "%s resolves to %s", t->host, addr);
		return true;
	}
	char fix[2048], cmd[768];
	readd_hint(h, t->ep, t->tls ? "imaps://HOST:PORT" : "imap://HOST:PORT", cmd, sizeof cmd);
	snprintf(fix, sizeof fix, "add an A/AAAA record for %s in DNS, or correct the host of "
	         "the endpoint: %s", t->host, cmd);
	report(h, "dns", t->ep, HEALTH_FAIL, fix, "%s does not resolve: %s (later checks skipped)",
	       t->host, gai_strerror(rc));
	return false;
}

/* Connects to one address within timeout_s; -1 and errno on failure.  The
 * socket is blocking on return, with send/receive timeouts set. */
static int connect_addr(const struct addrinfo *ai, int timeout_s)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -1;
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	if (rc < 0 && errno == EINPROGRESS) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		rc = poll(&p, 1, timeout_s * 1000);
		if (rc == 0) {
			errno = ETIMEDOUT;
			rc = -1;
		} else if (rc > 0) {
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
			rc = soerr ? (errno = soerr, -1) : 0;
		}
	}
	if (rc < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	fcntl(fd, F_SETFL, fl);
	struct timeval tv = { .tv_sec = timeout_s };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return fd;
}

/* First address of res that accepts a connection; -1 with errno. */
static int connect_any(const struct addrinfo *res, int timeout_s)
{
	int fd = -1;
	for (const struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
		fd = connect_addr(ai, timeout_s);
	return fd;
}

static bool check_tcp(struct health *h, const struct target *t, const struct addrinfo *res)
{
	int fd = connect_any(res, h->timeout_s);
	if (fd >= 0) {
		close(fd);
		report(h, "tcp", t->ep, HEALTH_OK, NULL, "%s port %d accepts connections", t->host,
		       t->port);
		return true;
	}
	int why = errno;
	char fix[2048], cmd[768];
	readd_hint(h, t->ep, t->tls ? "imaps://HOST:PORT" : "imap://HOST:PORT", cmd, sizeof cmd);
	snprintf(fix, sizeof fix, "start the IMAP service on %s port %d or open that port to this "
	         "machine in the firewall; if the URL is wrong: %s", t->host, t->port, cmd);
	report(h, "tcp", t->ep, HEALTH_FAIL, fix, "cannot connect to %s port %d: %s "
	       "(later checks skipped)", t->host, t->port, strerror(why));
	return false;
}

/* --- tls ------------------------------------------------------------------- */

/* One line (CRLF stripped) from fd, read byte by byte so nothing after it
 * (the TLS handshake) is consumed. */
static bool read_line(int fd, char *buf, size_t n)
{
	size_t len = 0;
	for (;;) {
		char c;
		if (read(fd, &c, 1) != 1)
			return false;
		if (c == '\n')
			break;
		if (len + 1 < n && c != '\r')
			buf[len++] = c;
	}
	buf[len] = '\0';
	return true;
}

/* imap:// asks for STARTTLS; true when the server agreed. */
static bool starttls(int fd)
{
	char line[1024];
	if (!read_line(fd, line, sizeof line) || strncasecmp(line, "* OK", 4))
		return false;
	static const char cmd[] = "H1 STARTTLS\r\n";
	if (write(fd, cmd, sizeof cmd - 1) != (ssize_t)(sizeof cmd - 1))
		return false;
	while (read_line(fd, line, sizeof line))
		if (!strncmp(line, "H1 ", 3))
			return !strncasecmp(line + 3, "OK", 2);
	return false;
}

static void fmt_asn1_time(const ASN1_TIME *t, char *buf, size_t n)
{
	struct tm tm;
	if (!ASN1_TIME_to_tm(t, &tm) || !strftime(buf, n, "%Y-%m-%d %H:%M UTC", &tm))
		snprintf(buf, n, "?");
}

/* Seconds from now to t (negative: in the past). */
static long long secs_until(const ASN1_TIME *t)
{
	int days = 0, secs = 0;
	if (!ASN1_TIME_diff(&days, &secs, NULL, t))
		return 0;
	return (long long)days * 86400 + secs;
}

static void judge_cert(struct health *h, const struct target *t, X509 *cert, long verify)
{
	char until[64], from[64], fix[2048];
	fmt_asn1_time(X509_get0_notAfter(cert), until, sizeof until);
	fmt_asn1_time(X509_get0_notBefore(cert), from, sizeof from);
	long long left = secs_until(X509_get0_notAfter(cert));
	long long days = left >= 0 ? (left + 86399) / 86400 : (-left + 86399) / 86400;
	if (left <= 0) {
		snprintf(fix, sizeof fix, "renew the TLS certificate of %s port %d (it expired on %s) "
		         "and reload the IMAP server", t->host, t->port, until);
		report(h, "tls", t->ep, HEALTH_FAIL, fix, "certificate of %s expired %lld day%s ago "
		       "(%s)", t->host, days, days == 1 ? "" : "s", until);
		return;
	}
	if (secs_until(X509_get0_notBefore(cert)) > 0) {
		snprintf(fix, sizeof fix, "install a certificate valid now on %s port %d, or correct "
		         "this machine's clock (timedatectl; it is checked against its own time)",
		         t->host, t->port);
		report(h, "tls", t->ep, HEALTH_FAIL, fix, "certificate of %s is not valid before %s",
		       t->host, from);
		return;
	}
	bool trusted = verify == X509_V_OK;
	if (!trusted && !t->ep->insecure) {
		char cmd[768];
		readd_hint(h, t->ep, t->ep->url, cmd, sizeof cmd);
		snprintf(fix, sizeof fix, "install a certificate for %s signed by a CA this machine "
		         "trusts (or add its CA: cp CA.crt /usr/local/share/ca-certificates/ && "
		         "update-ca-certificates); for a test server only: %s --insecure", t->host, cmd);
		report(h, "tls", t->ep, HEALTH_FAIL, fix, "certificate of %s is not trusted: %s",
		       t->host, X509_verify_cert_error_string(verify));
		return;
	}
	const char *how = trusted ? "trusted" : "not verified (endpoint added with --insecure)";
	if (days <= CERT_WARN_DAYS) {
		snprintf(fix, sizeof fix, "renew the TLS certificate of %s port %d before %s and "
		         "reload the IMAP server", t->host, t->port, until);
		report(h, "tls", t->ep, HEALTH_WARN, fix, "certificate of %s expires in %lld day%s (%s), "
		       "%s", t->host, days, days == 1 ? "" : "s", until, how);
		return;
	}
	report(h, "tls", t->ep, HEALTH_OK, NULL, "certificate of %s valid until %s (%lld days), %s",
	       t->host, until, days, how);
}

/* The handshake on fd; returns the peer certificate (caller frees) and the
 * verification result, or NULL with why. */
static X509 *tls_peer(const struct target *t, int fd, long *verify, char *why, size_t n)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = ctx ? SSL_new(ctx) : NULL;
	X509 *cert = NULL;
	if (!ssl) {
		snprintf(why, n, "cannot initialise OpenSSL");
		goto out;
	}
	SSL_CTX_set_default_verify_paths(ctx);
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);   /* judged below, not refused */
	X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
	if (X509_VERIFY_PARAM_set1_ip_asc(vp, t->host) != 1) {
		X509_VERIFY_PARAM_set1_host(vp, t->host, 0);
		SSL_set_tlsext_host_name(ssl, t->host);
	}
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		unsigned long ec = ERR_get_error();
		snprintf(why, n, "TLS handshake failed: %s",
		         ec ? ERR_reason_error_string(ec) : "connection closed");
		goto out;
	}
	cert = SSL_get1_peer_certificate(ssl);
	*verify = SSL_get_verify_result(ssl);
	if (!cert)
		snprintf(why, n, "the server sent no certificate");
	SSL_shutdown(ssl);
out:
	ERR_clear_error();
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return cert;
}

static void check_tls(struct health *h, const struct target *t, const struct addrinfo *res)
{
	int fd = connect_any(res, h->timeout_s);
	if (fd < 0) {
		report(h, "tls", t->ep, HEALTH_FAIL, NULL, "cannot connect to %s port %d again: %s",
		       t->host, t->port, strerror(errno));
		return;
	}
	if (!t->tls && !starttls(fd)) {
		close(fd);
		char fix[1024], url[300];
		snprintf(url, sizeof url, "imaps://%s", t->host);
		readd_hint(h, t->ep, url, fix, sizeof fix);
		report(h, "tls", t->ep, HEALTH_WARN, fix, "%s offers no STARTTLS: the admin password "
		       "crosses the network in clear (enable TLS on the server, then use imaps://)",
		       t->host);
		return;
	}
	long verify = 0;
	char why[300] = "";
	X509 *cert = tls_peer(t, fd, &verify, why, sizeof why);
	close(fd);
	if (!cert) {
		report(h, "tls", t->ep, HEALTH_FAIL, "check the TLS settings of the IMAP server "
		       "(certificate, key, protocols) and its log", "%s port %d: %s", t->host,
		       t->port, why);
		return;
	}
	judge_cert(h, t, cert, verify);
	X509_free(cert);
}

/* --- login, mailbox, size limit, clock -------------------------------------- */

/* What to change when the admin's password is refused or unreadable. */
static void password_fix(const struct endpoint *ep, char *buf, size_t n)
{
	const char *ref = ep->secret_ref ? ep->secret_ref : "";
	const char *val = strchr(ref, ':') ? strchr(ref, ':') + 1 : ref;
	const char *admin = ep->admin_user ? ep->admin_user : "the admin";
	if (!strncmp(ref, "file:", 5))
		snprintf(buf, n, "write the current password of %s as the first line of %s "
		         "(chmod 600 %s), or reset that account's password on the server", admin, val,
		         val);
	else if (!strncmp(ref, "env:", 4))
		snprintf(buf, n, "set the environment variable %s to the current password of %s",
		         val, admin);
	else if (!strncmp(ref, "cmd:", 4))
		snprintf(buf, n, "make the password command of endpoint %s print the current password "
		         "of %s", ep->name, admin);
	else
		snprintf(buf, n, "store the current password of %s again: mailferry endpoint remove %s "
		         "&& mailferry endpoint add %s %s --user %s --password-stdin", admin, ep->name,
		         ep->name, ep->url, admin);
}

static bool check_login(struct health *h, const struct target *t, const char *secret,
                        struct imap **im)
{
	struct err e;
	err_clear(&e);
	const struct endpoint *ep = t->ep;
	enum st s = drv_imap_login(ep, secret, ep->admin_user, "health", h->timeout_s, im, &e);
	if (!s) {
		report(h, "login", ep, HEALTH_OK, NULL, "%s logs in to %s",
		       ep->admin_user ? ep->admin_user : "the admin", ep->url);
		return true;
	}
	char fix[1024];
	if (s == ST_AUTH)
		password_fix(ep, fix, sizeof fix);
	else
		snprintf(fix, sizeof fix, "see the message; 'mailferry -vv endpoint test %s' shows the "
		         "conversation (without the password)", ep->name);
	report(h, "login", ep, HEALTH_FAIL, fix, "%s (later checks skipped)",
	       e.msg[0] ? e.msg : st_message(s));
	return false;
}

struct first_mailbox { int64_t endpoint_id; char *login; };

static void pick_first(void *ctx, const struct mailbox_row *r)
{
	struct first_mailbox *f = ctx;
	if (!f->login && r->endpoint_id == f->endpoint_id && r->login)
		f->login = x_strdup(r->login);
}

static void check_mailbox(struct health *h, const struct target *t, const char *secret)
{
	const struct endpoint *ep = t->ep;
	struct first_mailbox f = { ep->id, NULL };
	struct err e;
	err_clear(&e);
	if (store_mailbox_rows(h->st, h->forest->id, 0, pick_first, &f, NULL, &e)) {
		report(h, "mailbox", ep, HEALTH_FAIL, NULL, "%s", e.msg);
		return;
	}
	if (!f.login) {
		char fix[512];
		snprintf(fix, sizeof fix, "mailferry mailbox import USERS.csv --endpoint %s", ep->name);
		report(h, "mailbox", ep, HEALTH_INFO, fix, "not checked: no mailbox of forest %s on "
		       "this endpoint in the store", h->forest->name);
		return;
	}
	struct imap *im = NULL;
	enum st s = drv_imap_login(ep, secret, f.login, "health", h->timeout_s, &im, &e);
	if (!s)
		s = imap_simple(im, "EXAMINE", "INBOX", NULL, NULL, &e);
	imap_free(&im);
	const char *how = ep->login_template && *ep->login_template ? "the login template"
	                                                            : "SASL authorization (authzid)";
	if (!s) {
		report(h, "mailbox", ep, HEALTH_OK, NULL, "%s opens the INBOX of %s through %s",
		       ep->admin_user ? ep->admin_user : "the admin", f.login, how);
	} else {
		char fix[1024];
		snprintf(fix, sizeof fix, "give %s the right to act for every user (Dovecot: a master "
		         "passdb with auth_master_user_separator; Exchange: ApplicationImpersonation or "
		         "FullAccess), or set the endpoint's --login-template to the server's "
		         "admin-for-user login form", ep->admin_user ? ep->admin_user : "the admin");
		report(h, "mailbox", ep, HEALTH_FAIL, fix, "%s cannot open the INBOX of %s through %s: %s",
		       ep->admin_user ? ep->admin_user : "the admin", f.login, how,
		       e.msg[0] ? e.msg : st_message(s));
	}
	free(f.login);
}

static void check_size_limit(struct health *h, const struct target *t, struct imap *im)
{
	const struct endpoint *ep = t->ep;
	uint64_t limit = imap_appendlimit(im);
	int64_t largest = 0;
	struct err e;
	err_clear(&e);
	if (store_largest_item(h->st, ep->id, &largest, &e)) {
		report(h, "size-limit", ep, HEALTH_FAIL, NULL, "%s", e.msg);
		return;
	}
	if (!limit) {
		report(h, "size-limit", ep, HEALTH_INFO, NULL, "the server announces no APPENDLIMIT: "
		       "a message over its hidden limit is skipped when refused (mailferry skipped)");
		return;
	}
	if (largest <= 0) {
		report(h, "size-limit", ep, HEALTH_INFO, NULL, "APPENDLIMIT is %llu bytes; no item "
		       "bound for this endpoint is known yet", (unsigned long long)limit);
		return;
	}
	if ((uint64_t)largest > limit) {
		char fix[768];
		snprintf(fix, sizeof fix, "raise the message size limit of the server behind %s to at "
		         "least %lld bytes (Dovecot: quota_max_mail_size; Exchange: MaxReceiveSize), or "
		         "accept that such items are skipped (mailferry skipped lists them)", ep->name,
		         (long long)largest);
		report(h, "size-limit", ep, HEALTH_WARN, fix, "the largest known item bound for it "
		       "(%lld bytes) is over its APPENDLIMIT of %llu bytes", (long long)largest,
		       (unsigned long long)limit);
		return;
	}
	report(h, "size-limit", ep, HEALTH_OK, NULL, "APPENDLIMIT %llu bytes holds the largest "
	       "known item bound for it (%lld bytes)", (unsigned long long)limit, (long long)largest);
}

/* IMAP has no command that tells the server's time before anything is
 * written (only INTERNALDATE of a stored message); say so instead of
 * guessing. */
static void check_clock(struct health *h, const struct target *t)
{
	report(h, "clock", t->ep, HEALTH_INFO, NULL, "not checked: the IMAP server does not tell "
	       "its time without storing a message (keep both clocks on NTP: timedatectl)");
}

/* --- per endpoint, per forest ---------------------------------------------- */

static void check_endpoint(struct health *h, const struct endpoint *ep)
{
	struct target t;
	if (!parse_target(ep, &t)) {
		report(h, "url", ep, HEALTH_FAIL, "mailferry endpoint remove NAME && mailferry "
		       "endpoint add NAME imaps://HOST[:PORT] ...", "cannot read the URL %s", ep->url);
		return;
	}
	struct addrinfo *res = NULL;
	if (!check_dns(h, &t, &res))
		return;
	bool reach = check_tcp(h, &t, res);
	if (reach)
		check_tls(h, &t, res);
	freeaddrinfo(res);
	if (!reach)
		return;
	char *secret = NULL;
	struct err e;
	err_clear(&e);
	if (secret_resolve(ep->secret_ref, h->cfg->secrets_path, &secret, &e)) {
		char fix[1024];
		password_fix(ep, fix, sizeof fix);
		report(h, "login", ep, HEALTH_FAIL, fix, "%s (later checks skipped)", e.msg);
		return;
	}
	struct imap *im = NULL;
	if (check_login(h, &t, secret, &im)) {
		check_size_limit(h, &t, im);
		imap_free(&im);
		check_mailbox(h, &t, secret);
		check_clock(h, &t);
	}
	secret_free(secret);
}

struct ep_ids { int64_t forest_id; int64_t *v; size_t n, cap; };

static void collect_endpoint(void *ctx, const struct endpoint *ep)
{
	struct ep_ids *l = ctx;
	if (ep->forest_id != l->forest_id)
		return;
	l->v = x_grow(l->v, l->n, &l->cap, sizeof *l->v, 4);
	l->v[l->n++] = ep->id;
}

static enum st check_endpoints(struct health *h, struct err *e)
{
	struct ep_ids ids = { h->forest->id, NULL, 0, 0 };
	enum st s = store_endpoint_each(h->st, collect_endpoint, &ids, e);
	if (!s && ids.n == 0) {
		char fix[512];
		snprintf(fix, sizeof fix, "mailferry endpoint add NAME imaps://HOST --user ADMIN "
		         "--password-file FILE --forest %s", h->forest->name);
		report(h, "forest", NULL, HEALTH_FAIL, fix, "forest %s has no endpoint to check",
		       h->forest->name);
	}
	for (size_t i = 0; !s && i < ids.n; i++) {
		struct endpoint ep;
		s = store_endpoint_get_id(h->st, ids.v[i], &ep, e);
		if (!s) {
			check_endpoint(h, &ep);
			endpoint_free(&ep);
		}
	}
	free(ids.v);
	return s;
}

/* A replica that did not answer while a later one did: the forest works,
 * but on one server fewer than the admin thinks (a warning, with the list
 * of the others as the fix). */
static void report_dead_replicas(struct health *h, const struct dir_check *dc)
{
	char *fix = x_asprintf("check %s or remove it from the forest's directory URLs: mailferry forest set %s "
	                       "--directory '%s'", dc->dead, h->forest->name, dc->alive);
	report(h, "directory", NULL, HEALTH_WARN, fix, "%s; %s did not answer", dc->detail, dc->dead);
	free(fix);
}

/* The directory's clock against this one, when its root DSE tells it. */
static void check_directory_clock(struct health *h, const struct dir_check *dc)
{
	long long skew = 0;
	static const char fix[] = "set both clocks from the same NTP source (here: timedatectl; on a domain "
	                          "controller: w32tm /resync): Kerberos refuses more than 5 minutes of skew";
	switch (dirclock_judge(dc->current_time, time(NULL), &skew)) {
	case DIRCLOCK_UNPUBLISHED:
		report(h, "dir-clock", NULL, HEALTH_INFO, NULL, "not checked (the directory %s does not publish "
		       "its time)", dc->server);
		break;
	case DIRCLOCK_UNREADABLE:
		report(h, "dir-clock", NULL, HEALTH_INFO, NULL, "not checked: the currentTime '%s' of %s is not "
		       "a GeneralizedTime", dc->current_time, dc->server);
		break;
	case DIRCLOCK_OK:
		report(h, "dir-clock", NULL, HEALTH_OK, NULL, "the directory %s is %lld s %s this machine's clock "
		       "(tolerance %d s)", dc->server, skew < 0 ? -skew : skew, skew < 0 ? "behind" : "ahead of",
		       DIRCLOCK_TOLERANCE_S);
		break;
	case DIRCLOCK_SKEWED:
		report(h, "dir-clock", NULL, HEALTH_WARN, fix, "the directory %s is %lld min %s this machine's clock "
		       "(its currentTime %s; more than %d min)", dc->server, (skew < 0 ? -skew : skew) / 60,
		       skew < 0 ? "behind" : "ahead of", dc->current_time, DIRCLOCK_TOLERANCE_S / 60);
		break;
	}
}

/* The directory: bind as the discovery does, read every search base. */
static void check_directory(struct health *h)
{
	struct dir_check dc;
	struct err de;
	err_clear(&de);
	enum st ds = directory_check(h->forest, NULL, h->cfg->secrets_path, h->timeout_s, &dc, &de);
	if (!ds) {
		if (dc.ndead)
			report_dead_replicas(h, &dc);
		else
			report(h, "directory", NULL, HEALTH_OK, NULL, "%s", dc.detail);
		check_directory_clock(h, &dc);
		return;
	}
	char *fix = x_asprintf(ds == ST_AUTH ? "check the bind DN and its password source: mailferry forest set %s "
	                                       "--bind-dn DN --bind-password-file FILE"
	                       : ds == ST_NET ? "check that the directory server is up and reachable from here, "
	                                        "or point the forest elsewhere: mailferry forest set %s --directory URL"
	                                      : "give the bind account read access to the search bases, or change "
	                                        "them: mailferry forest set %s --base-dn DN --scope OU",
	                       h->forest->name);
	report(h, "directory", NULL, HEALTH_FAIL, fix, "%s", de.msg);
	free(fix);
}

enum st health_check_forest(struct store *s, const struct cfg *c, const char *forest_name,
                            health_fn fn, void *ctx, enum health_level *worst, struct err *e)
{
	struct forest f;
	enum st rc = store_forest_get(s, forest_name, &f, e);
	if (rc)
		return rc;
	int timeout = c->timeout_s > 0 && c->timeout_s < HEALTH_TIMEOUT_MAX_S ? c->timeout_s
	                                                                     : HEALTH_TIMEOUT_MAX_S;
	struct health h = { s, c, &f, fn, ctx, HEALTH_OK, timeout };
	if (f.dir_url && *f.dir_url)
		check_directory(&h);
	rc = check_endpoints(&h, e);
	if (worst)
		*worst = h.worst;
	forest_free(&f);
	return rc;
}

/* --- keeping the results ------------------------------------------------------ */

struct kept_result {
	char *endpoint, *check, *detail, *fix;
	int level;
};

struct keeper {
	health_fn fn;
	void *ctx;
	struct kept_result *v;
	size_t n, cap;
};

static void keep_one(void *ctx, const struct health_result *r)
{
	struct keeper *k = ctx;
	k->v = x_grow(k->v, k->n, &k->cap, sizeof *k->v, 16);
	k->v[k->n++] = (struct kept_result){
		r->endpoint ? x_strdup(r->endpoint) : NULL, x_strdup(r->check), r->detail ? x_strdup(r->detail) : NULL,
		r->fix ? x_strdup(r->fix) : NULL, (int)r->level,
	};
	if (k->fn)
		k->fn(k->ctx, r);
}

/* The results go in after the checks, in one short transaction: the store
 * is not held while the network is waited for. */
static enum st keep_all(struct store *s, int64_t forest_id, const struct keeper *k, struct err *e)
{
	enum st r = store_begin(s, e);
	if (!r)
		r = store_alerts_clear(s, forest_id, e);
	for (size_t i = 0; !r && i < k->n; i++)
		r = store_alert_add(s, forest_id, k->v[i].endpoint, k->v[i].check, k->v[i].level, k->v[i].detail,
		                    k->v[i].fix, e);
	if (!r)
		r = store_commit(s, e);
	else
		store_rollback(s);
	return r;
}

enum st health_check_and_keep(struct store *s, const struct cfg *c, const char *forest_name, health_fn fn,
                              void *ctx, enum health_level *worst, struct err *e)
{
	struct forest f;
	enum st r = store_forest_get(s, forest_name, &f, e);
	if (r)
		return r;
	int64_t id = f.id;
	forest_free(&f);
	struct keeper k = { fn, ctx, NULL, 0, 0 };
	r = health_check_forest(s, c, forest_name, keep_one, &k, worst, e);
	if (!r)
		r = keep_all(s, id, &k, e);
	for (size_t i = 0; i < k.n; i++) {
		free(k.v[i].endpoint);
		free(k.v[i].check);
		free(k.v[i].detail);
		free(k.v[i].fix);
	}
	free(k.v);
	return r;
}
