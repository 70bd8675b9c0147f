/* notify.c - notification templates and SMTP sending; see notify.h. */
#include "config.h"

#include "notify.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "secret.h"

#ifndef MF_TEMPLATESDIR
#define MF_TEMPLATESDIR "/usr/share/mailferry/templates"
#endif

const char *const notify_placeholders[] = {
	"user", "address", "display_name", "job", "state", "pass", "source", "target", "items", "data",
	"skipped", "failed", "start", "started", "finished", "days", "error", "date", "admin", "host",
	/* the daily summary (notice.h) */
	"since", "counts", "completed", "completed_count", "failures", "failure_count",
	/* the statistics report (report.h) */
	"report", "mailboxes", NULL,
};

void notify_set(struct notify_vars *v, const char *name, const char *value)
{
	for (int i = 0; i < v->n; i++)
		if (!strcmp(v->name[i], name)) {
			v->value[i] = value ? value : "";
			return;
		}
	if (v->n < NOTIFY_MAX_VARS) {
		v->name[v->n] = name;
		v->value[v->n++] = value ? value : "";
	}
}

char *notify_templates_dir(const struct cfg *c)
{
	return x_strdup(c->templates_dir && c->templates_dir[0] ? c->templates_dir : MF_TEMPLATESDIR);
}

/* --- templates -------------------------------------------------------------- */

static bool known_placeholder(const char *name, size_t len)
{
	for (const char *const *p = notify_placeholders; *p; p++)
		if (strlen(*p) == len && !strncmp(*p, name, len))
			return true;
	return false;
}

static const char *value_of(const struct notify_vars *v, const char *name, size_t len)
{
	for (int i = 0; i < v->n; i++)
		if (strlen(v->name[i]) == len && !strncmp(v->name[i], name, len))
			return v->value[i];
	return "";
}

/* Expands the placeholders of one piece of text; line counts from first
 * for the error message. */
static enum st expand(const char *text, const struct notify_vars *v, const char *file, int first_line,
                      struct sbuf *out, struct err *e)
{
	int line = first_line;
	for (const char *p = text; *p; p++) {
		if (*p == '\n')
			line++;
		if (*p != '{') {
			sb_addc(out, *p);
			continue;
		}
		if (p[1] == '{') {
			sb_addc(out, '{');
			p++;
			continue;
		}
		const char *end = strchr(p, '}');
		size_t len = end ? (size_t)(end - p - 1) : 0;
		if (!end || !known_placeholder(p + 1, len) || memchr(p + 1, '\n', len)) {
			char known[400] = "";
			for (const char *const *k = notify_placeholders; *k; k++)
				snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
				         k == notify_placeholders ? "" : ", ", *k);
			return err_set(e, ST_CONFIG, "%s:%d: unknown placeholder {%.*s} (known: %s; {{ writes {)", file,
			               line, end ? (int)len : 12, p + 1, known);
		}
		sb_adds(out, value_of(v, p + 1, len));
		p = end;
	}
	return ST_OK;
}

static char *read_file(const char *path, struct err *e)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		err_set(e, ST_CONFIG, "notification template %s: %s", path, strerror(errno));
		return NULL;
	}
	struct sbuf b;
	sb_init(&b);
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		sb_add(&b, buf, n);
	fclose(f);
	return b.data ? b.data : x_strdup("");
}

enum st notify_render(const char *dir, const char *name, const struct notify_vars *v, char **subject,
                      char **body, struct err *e)
{
	*subject = *body = NULL;
	char *path = x_asprintf("%s/%s.txt", dir, name);
	char *text = read_file(path, e);
	enum st s = ST_OK;
	if (!text) {
		free(path);
		return ST_CONFIG;
	}
	/* "Subject: ..." then an empty line, then the body. */
	char *eol = strchr(text, '\n');
	if (strncmp(text, "Subject:", 8) != 0 || !eol) {
		s = err_set(e, ST_CONFIG, "%s:1: a template starts with a \"Subject: ...\" line, then an empty line", path);
	} else {
		*eol = '\0';
		const char *rest = eol + 1;
		int body_line = 2;
		if (*rest == '\n') {
			rest++;
			body_line = 3;
		}
		struct sbuf sb, bb;
		sb_init(&sb);
		sb_init(&bb);
		s = expand(text + 8 + strspn(text + 8, " \t"), v, path, 1, &sb, e);
		if (!s)
			s = expand(rest, v, path, body_line, &bb, e);
		if (s) {
			sb_free(&sb);
			sb_free(&bb);
		} else {
			*subject = sb.data ? sb.data : x_strdup("");
			*body = bb.data ? bb.data : x_strdup("");
		}
	}
	free(text);
	free(path);
	return s;
}

/* --- the message ------------------------------------------------------------ */

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* RFC 2047 B-encoding of a UTF-8 header value, in words of whole
 * characters so that no encoded word splits one. */
static void add_encoded(struct sbuf *b, const char *s)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	if (is_ascii(s)) {
		sb_adds(b, s);
		return;
	}
	size_t len = strlen(s), i = 0;
	bool first = true;
	while (i < len) {
		size_t n = 0;
		while (i + n < len && n < 42) {     /* 42 bytes -> 56 base64 characters */
			size_t k = 1;
			while (i + n + k < len && ((unsigned char)s[i + n + k] & 0xC0) == 0x80)
				k++;
			if (n + k > 42 && n)
				break;
			n += k;
		}
		sb_adds(b, first ? "=?UTF-8?B?" : "\r\n =?UTF-8?B?");
		first = false;
		const unsigned char *p = (const unsigned char *)s + i;
		for (size_t j = 0; j < n; j += 3) {
			unsigned v = (unsigned)p[j] << 16 | (j + 1 < n ? (unsigned)p[j + 1] << 8 : 0) |
			             (j + 2 < n ? p[j + 2] : 0);
			sb_addc(b, b64[v >> 18 & 63]);
			sb_addc(b, b64[v >> 12 & 63]);
			sb_addc(b, j + 1 < n ? b64[v >> 6 & 63] : '=');
			sb_addc(b, j + 2 < n ? b64[v & 63] : '=');
		}
		sb_adds(b, "?=");
		i += n;
	}
}

/* The whole message, CRLF line ends (libcurl stuffs leading dots). */
static char *build_message(const struct cfg *c, const char *to, const char *subject, const char *body)
{
	struct sbuf b;
	sb_init(&b);
	char date[64];
	time_t now = (time_t)clock_now();
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm);
	sb_printf(&b, "Date: %s\r\nFrom: %s\r\nTo: %s\r\nSubject: ", date, c->smtp_from, to);
	add_encoded(&b, subject);
	char host[256] = "localhost";
	gethostname(host, sizeof host - 1);
	sb_printf(&b, "\r\nMessage-ID: <%lld.%ld.%u@%s>\r\nMIME-Version: 1.0\r\n"
	          "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n"
	          "Auto-Submitted: auto-generated\r\n\r\n",
	          (long long)now, (long)getpid(), (unsigned)rand(), host);
	for (const char *p = body; *p; p++) {
		if (*p == '\n' && (p == body || p[-1] != '\r'))
			sb_addc(&b, '\r');
		sb_addc(&b, *p);
	}
	if (b.len < 2 || b.data[b.len - 1] != '\n')
		sb_adds(&b, "\r\n");
	return b.data;
}

/* --- sending ----------------------------------------------------------------- */

struct upload {
	const char *data;
	size_t len, off;
};

static size_t read_cb(char *buf, size_t size, size_t n, void *ctx)
{
	struct upload *u = ctx;
	size_t k = size * n;
	if (k > u->len - u->off)
		k = u->len - u->off;
	memcpy(buf, u->data + u->off, k);
	u->off += k;
	return k;
}

/* The server's replies worth repeating: the last one, and the first
 * refusal (4xx/5xx; libcurl says QUIT after it, and "221 Bye" is not news). */
struct replies {
	char last[256];
	char refusal[256];
};

static void copy_line(char *dst, const char *data, size_t size)
{
	size_t n = size;
	while (n && (data[n - 1] == '\n' || data[n - 1] == '\r'))
		n--;
	if (n >= 256)
		n = 255;
	memcpy(dst, data, n);
	dst[n] = '\0';
}

static int debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *ctx)
{
	(void)h;
	struct replies *r = ctx;
	if (type != CURLINFO_HEADER_IN || size == 0)
		return 0;
	copy_line(r->last, data, size);
	if ((data[0] == '4' || data[0] == '5') && !r->refusal[0])
		copy_line(r->refusal, data, size);
	return 0;
}

static struct curl_slist *recipients(const char *to)
{
	struct curl_slist *l = NULL;
	for (const char *p = to; *p;) {
		p += strspn(p, " ,");
		size_t n = strcspn(p, ",");
		while (n && p[n - 1] == ' ')
			n--;
		if (n) {
			char *r = x_asprintf("<%.*s>", (int)n, p);
			l = curl_slist_append(l, r);
			free(r);
		}
		p += strcspn(p, ",");
	}
	return l;
}

enum st notify_send(const struct cfg *c, const char *to, const char *subject, const char *body, char *answer,
                    size_t answer_len, struct err *e)
{
	struct replies rp = { "", "" };
	if (answer && answer_len)
		answer[0] = '\0';
	if (!c->smtp_url || !c->smtp_url[0])
		return err_set(e, ST_CONFIG, "no mail server set: mailferry config set smtp_url smtp://HOST:PORT");
	struct curl_slist *rcpt = recipients(to ? to : "");
	if (!rcpt)
		return err_set(e, ST_CONFIG, "no recipient address");
	char *password = NULL;
	if (c->smtp_password && c->smtp_password[0] &&
	    secret_resolve(c->smtp_password, c->secrets_path, &password, e)) {
		curl_slist_free_all(rcpt);
		err_prefix(e, "mail server password");
		return ST_CONFIG;
	}
	char *msg = build_message(c, to, subject, body);
	struct upload up = { msg, strlen(msg), 0 };
	char from[300], errbuf[CURL_ERROR_SIZE] = "";
	snprintf(from, sizeof from, "<%s>", c->smtp_from);
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_URL, c->smtp_url);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(h, CURLOPT_READDATA, &up);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up.len);
	/* STARTTLS whenever the server offers it; verified unless told not to. */
	curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->smtp_insecure ? 0L : 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->smtp_insecure ? 0L : 2L);
	if (c->smtp_user && c->smtp_user[0])
		curl_easy_setopt(h, CURLOPT_USERNAME, c->smtp_user);
	if (password)
		curl_easy_setopt(h, CURLOPT_PASSWORD, password);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)(c->timeout_s > 0 ? c->timeout_s : 60));
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)(c->timeout_s > 0 ? c->timeout_s * 2 : 120));
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, debug_cb);
	curl_easy_setopt(h, CURLOPT_DEBUGDATA, &rp);
	curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);      /* for debug_cb: nothing is printed */
	CURLcode rc = curl_easy_perform(h);
	curl_easy_cleanup(h);
	curl_slist_free_all(rcpt);
	secret_free(password);
	free(msg);
	if (answer && answer_len)
		snprintf(answer, answer_len, "%s", rp.refusal[0] ? rp.refusal : rp.last);
	if (rc == CURLE_OK)
		return ST_OK;
	/* A refusal in the server's own words: 5xx is final (fix the address
	 * or the settings), 4xx is worth another try later. */
	if (rp.refusal[0])
		return err_set(e, rc == CURLE_LOGIN_DENIED ? ST_AUTH : rp.refusal[0] == '4' ? ST_NET : ST_CONFIG,
		               "%s refused the message: %s", c->smtp_url, rp.refusal);
	enum st s = rc == CURLE_LOGIN_DENIED ? ST_AUTH
	          : rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_OPERATION_TIMEDOUT ||
	            rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING ? ST_NET
	          : ST_CONFIG;
	return err_set(e, s, "%s: %s", c->smtp_url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

/* --- a job's facts ------------------------------------------------------------ */

static const char *keep(struct notify_job *nj, char *text)
{
	if (nj->ntext < (int)countof(nj->text))
		nj->text[nj->ntext++] = text;
	else
		x_die("notify: too many texts");
	return text;
}

static const char *time_text(struct notify_job *nj, int64_t t)
{
	if (t <= 0)
		return "-";
	time_t tt = (time_t)t;
	struct tm tm;
	localtime_r(&tt, &tm);
	char buf[64];
	strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
	return keep(nj, x_strdup(buf));
}

struct row_copy {
	struct notify_job *nj;
	bool found;
};

static void take_row(void *ctx, const struct job_row *r)
{
	struct row_copy *rc = ctx;
	struct notify_job *nj = rc->nj;
	struct notify_vars *v = &nj->v;
	rc->found = true;
	notify_set(v, "job", keep(nj, x_asprintf("%lld", (long long)r->id)));
	notify_set(v, "user", keep(nj, x_strdup(r->src_user ? r->src_user : "")));
	notify_set(v, "state", job_state_name(r->state));
	notify_set(v, "pass", pass_kind_name(r->pass));
	notify_set(v, "source", keep(nj, x_strdup(r->src_endpoint ? r->src_endpoint : "")));
	notify_set(v, "target", keep(nj, x_strdup(r->dst_endpoint ? r->dst_endpoint : "")));
	notify_set(v, "items", keep(nj, x_asprintf("%lld", (long long)r->items_done)));
	notify_set(v, "data", keep(nj, x_asprintf("%.1f MB", (double)r->bytes_done / 1e6)));
	notify_set(v, "skipped", keep(nj, x_asprintf("%lld", (long long)r->items_skipped)));
	notify_set(v, "failed", keep(nj, x_asprintf("%lld", (long long)r->items_failed)));
	int64_t start = r->start_after > 0 ? r->start_after : r->started;
	notify_set(v, "start", start > 0 ? time_text(nj, start) : "as soon as possible");
	notify_set(v, "started", time_text(nj, r->started));
	notify_set(v, "finished", time_text(nj, r->finished));
	int64_t days = r->start_after > clock_now() ? (r->start_after - clock_now() + 86399) / 86400 : 0;
	notify_set(v, "days", keep(nj, x_asprintf("%lld", (long long)days)));
	notify_set(v, "error", keep(nj, x_strdup(r->error ? r->error : "-")));
}

enum st notify_job_load(struct store *st, const struct cfg *c, int64_t job_id, struct notify_job *nj,
                        struct err *e)
{
	memset(nj, 0, sizeof *nj);
	struct row_copy rc = { nj, false };
	enum st s = store_job_row(st, job_id, take_row, &rc, e);
	if (!s && !rc.found)
		s = err_set(e, ST_CONFIG, "no job %lld", (long long)job_id);
	struct job j;
	if (!s && !(s = store_job_get(st, job_id, &j, e))) {
		char *display = NULL;
		s = store_mailbox_contact(st, j.src_ep, j.src_user, &nj->address, &display, e);
		if (!s) {
			notify_set(&nj->v, "display_name", display ? keep(nj, display) : j.src_user ? keep(nj, x_strdup(j.src_user)) : "");
			notify_set(&nj->v, "address", nj->address ? nj->address : "");
		} else
			free(display);
		job_free(&j);
	}
	char host[256] = "localhost";
	gethostname(host, sizeof host - 1);
	notify_set(&nj->v, "host", keep(nj, x_strdup(host)));
	notify_set(&nj->v, "date", time_text(nj, clock_now()));
	notify_set(&nj->v, "admin", c->admin_email);
	if (s)
		notify_job_free(nj);
	return s;
}

void notify_job_free(struct notify_job *nj)
{
	for (int i = 0; i < nj->ntext; i++)
		free(nj->text[i]);
	free(nj->address);
	memset(nj, 0, sizeof *nj);
}

void notify_job_event(struct store *st, const struct cfg *c, int64_t job_id, const char *event)
{
	struct err e;
	notify_job_send(st, c, job_id, event, &e);
}

enum st notify_job_send(struct store *st, const struct cfg *c, int64_t job_id, const char *event, struct err *e)
{
	err_clear(e);
	if (!c->smtp_url || !c->smtp_url[0])
		return ST_OK;
	struct job j;
	if (store_job_get(st, job_id, &j, e))
		return e->code;
	bool to_owner = j.notify_user && strcmp(event, "failed") != 0;
	job_free(&j);
	const char *admins = c->admin_email && c->admin_email[0] ? c->admin_email : NULL;
	if (!to_owner && !(admins && !strcmp(event, "failed")))
		return ST_OK;
	struct notify_job nj;
	if (notify_job_load(st, c, job_id, &nj, e)) {
		store_event(st, EV_WARN, job_id, "notification (%s) not sent: %s", event, e->msg);
		return e->code;
	}
	const char *to = to_owner ? nj.address : admins;
	char *dir = notify_templates_dir(c), *subject = NULL, *body = NULL;
	enum st s = ST_OK;
	if (!to || !to[0])
		s = err_set(e, ST_CONFIG, "the mailbox has no known address (mailbox import, address column)");
	if (!s)
		s = notify_render(dir, event, &nj.v, &subject, &body, e);
	if (!s)
		s = notify_send(c, to, subject, body, NULL, 0, e);
	if (s)
		store_event(st, EV_WARN, job_id, "notification (%s) to %s not sent: %s", event, to ? to : "-", e->msg);
	else
		store_event(st, EV_INFO, job_id, "notification (%s) sent to %s", event, to);
	free(subject);
	free(body);
	free(dir);
	notify_job_free(&nj);
	return s;
}
