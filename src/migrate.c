/* migrate.c - copy, delta, reconcile and verify one mailbox; see migrate.h. */
#include "config.h"

#include "migrate.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "folder_map.h"
#include "imap.h"
#include "imap_utf7.h"
#include "log.h"

/* bsearch and qsort must not be given a NULL array, even when empty. */
static void *bsearch_n(const void *key, const void *base, size_t n, size_t size,
                       int (*cmp)(const void *, const void *))
{
	return n ? bsearch(key, base, n, size, cmp) : NULL;
}

static void qsort_n(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

/* Fetches in flight on the source at once. */
#define FETCH_WINDOW 48

/* ------------------------------------------------------------------------ */
/* Connecting                                                               */

static char *expand_template(const char *tpl, const char *user)
{
	struct sbuf b;
	sb_init(&b);
	for (const char *p = tpl; *p; p++) {
		if (p[0] == '%' && p[1] == 'u') {
			sb_adds(&b, user);
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			sb_addc(&b, '%');
			p++;
		} else {
			sb_addc(&b, *p);
		}
	}
	return b.data ? b.data : x_strdup("");
}

enum st mig_connect(const struct endpoint *ep, const char *secret, const char *user,
                    const char *role, int timeout_s, struct imap **out, struct err *e)
{
	char label[160];
	snprintf(label, sizeof label, "%s %s (%s)", role, user ? user : "", ep->name);
	struct imap_login l = {
		.url = ep->url, .password = secret, .insecure = ep->insecure,
		.timeout_s = timeout_s, .label = label, .mech = ep->auth_mech,
	};
	char *login = NULL;
	if (ep->login_template && *ep->login_template) {
		login = expand_template(ep->login_template, user);
		l.user = login;
	} else if (ep->admin_user && *ep->admin_user) {
		l.user = ep->admin_user;
		if (user && strcmp(user, ep->admin_user) != 0)
			l.authzid = user;
	} else {
		l.user = user;
	}
	if (ep->auth_mech && !strcasecmp(ep->auth_mech, "xoauth2")) {
		l.bearer = secret;
		l.password = NULL;
	}
	enum st s = imap_open(&l, out, e);
	free(login);
	return s;
}

/* ------------------------------------------------------------------------ */
/* Folder lists                                                             */

struct mfolder {
	char *name;          /* UTF-8 */
	enum fm_special special;
	bool noselect;
	bool subscribed;
	char *dst;           /* mapped target name */
	char *note;          /* why dst differs from the name, when a rule changed it */
};

struct flist {
	struct mfolder *v;
	size_t n;
	char delim;
	bool delim_known;
	char *prefix;        /* personal namespace prefix ("" or e.g. "INBOX.") */
};

static void flist_free(struct flist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].dst);
		free(l->v[i].note);
	}
	free(l->v);
	free(l->prefix);
	memset(l, 0, sizeof *l);
}

/* A folder name without the personal namespace prefix: "INBOX.Sent" on a
 * server whose prefix is "INBOX." is "Sent" to the rules and the target. */
static const char *strip_prefix(const struct flist *l, const char *name)
{
	size_t n = l->prefix ? strlen(l->prefix) : 0;
	if (n && !strncmp(name, l->prefix, n) && name[n])
		return name + n;
	return name;
}

/* "* NAMESPACE (("INBOX." ".")) NIL NIL": the first personal namespace. */
static void on_namespace(void *ctx, const struct imap_resp *r)
{
	struct flist *l = ctx;
	if (!r->kw || strcmp(r->kw, "NAMESPACE") != 0 || r->nargs < 1 || r->args[0].type != IV_LIST ||
	    r->args[0].n < 1 || r->args[0].items[0].type != IV_LIST || r->args[0].items[0].n < 1)
		return;
	const struct imap_val *p = &r->args[0].items[0].items[0];
	if (p->type != IV_STRING)
		return;
	free(l->prefix);
	char *raw = x_strndup(p->s, p->len);
	l->prefix = imap_utf7_decode(raw);
	if (l->prefix)
		free(raw);
	else
		l->prefix = raw;
}

static struct mfolder *flist_find(struct flist *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].name, name) ||
		    (!strcasecmp(name, "INBOX") && !strcasecmp(l->v[i].name, "INBOX")))
			return &l->v[i];
	return NULL;
}

static char *val_dup(const struct imap_val *v)
{
	return x_strndup(v->s, v->len);
}

static void on_list(void *ctx, const struct imap_resp *r)
{
	struct flist *l = ctx;
	bool lsub = r->kw && !strcmp(r->kw, "LSUB");
	if (!r->kw || (strcmp(r->kw, "LIST") != 0 && !lsub) || r->nargs < 3)
		return;
	const struct imap_val *attrs = &r->args[0], *delim = &r->args[1], *name = &r->args[2];
	if (attrs->type != IV_LIST || name->type == IV_LIST || name->type == IV_NIL)
		return;
	char *raw = val_dup(name);
	char *utf8 = imap_utf7_decode(raw);
	if (utf8)
		free(raw);
	else
		utf8 = raw;
	if (!l->delim_known && delim->type == IV_STRING && delim->len == 1) {
		l->delim = delim->s[0];
		l->delim_known = true;
	}
	struct mfolder *f = flist_find(l, utf8);
	if (!f) {
		if (lsub) {
			/* A subscription to a folder not listed: nothing to copy. */
			free(utf8);
			return;
		}
		l->v = x_realloc(l->v, (l->n + 1) * sizeof *l->v);
		f = &l->v[l->n++];
		memset(f, 0, sizeof *f);
		f->name = utf8;
	} else {
		free(utf8);
	}
	if (lsub) {
		f->subscribed = true;
		return;
	}
	for (size_t i = 0; i < attrs->n; i++) {
		const struct imap_val *a = &attrs->items[i];
		if (a->type != IV_ATOM)
			continue;
		char word[32];
		snprintf(word, sizeof word, "%.*s", (int)a->len, a->s);
		if (!strcasecmp(word, "\\Noselect") || !strcasecmp(word, "\\NonExistent"))
			f->noselect = true;
		else if (!strcasecmp(word, "\\Subscribed"))
			f->subscribed = true;
		else if (fm_special_of(word) != SU_NONE && f->special == SU_NONE)
			f->special = fm_special_of(word);
	}
}

static enum st list_folders(struct imap *im, struct flist *l, struct err *e)
{
	memset(l, 0, sizeof *l);
	enum st s;
	if (imap_has_cap(im, "NAMESPACE") && (s = imap_simple(im, "NAMESPACE", NULL, on_namespace, l, e)))
		return s;
	bool ext = imap_has_cap(im, "LIST-EXTENDED");
	if (ext && imap_has_cap(im, "SPECIAL-USE"))
		s = imap_simple(im, "LIST", "\"\" \"*\" RETURN (SPECIAL-USE SUBSCRIBED)", on_list, l, e);
	else if (ext)
		s = imap_simple(im, "LIST", "\"\" \"*\" RETURN (SUBSCRIBED)", on_list, l, e);
	else {
		s = imap_simple(im, "LIST", "\"\" \"*\"", on_list, l, e);
		if (!s)
			s = imap_simple(im, "LSUB", "\"\" \"*\"", on_list, l, e);
	}
	if (!s && !flist_find(l, "INBOX")) {
		l->v = x_realloc(l->v, (l->n + 1) * sizeof *l->v);
		memset(&l->v[l->n], 0, sizeof l->v[0]);
		l->v[l->n++].name = x_strdup("INBOX");
	}
	return s;
}

/* ------------------------------------------------------------------------ */
/* Message lists                                                            */

struct smsg {
	uint32_t uid;
	uint32_t seq;        /* message sequence number when listed */
	uint64_t size;
	int64_t idate;
	char *idate_raw;
	char *flags;         /* normalized: sorted, no \Recent */
	unsigned char hash[32];
	bool have_hash;
};

struct mlist {
	struct smsg *v;
	size_t n, cap;
};

static void mlist_free(struct mlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].idate_raw);
		free(l->v[i].flags);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}

static int cmp_flag(const void *a, const void *b)
{
	return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/* Flags as one canonical string: sorted, without \Recent (which no client
 * can set). */
static char *norm_flags(const struct imap_val *list)
{
	if (!list || list->type != IV_LIST || list->n == 0)
		return x_strdup("");
	char **v = x_malloc(list->n * sizeof *v);
	size_t n = 0;
	for (size_t i = 0; i < list->n; i++) {
		const struct imap_val *f = &list->items[i];
		if (f->type != IV_ATOM || (f->len == 7 && !strncasecmp(f->s, "\\Recent", 7)))
			continue;
		v[n++] = x_strndup(f->s, f->len);
	}
	qsort_n(v, n, sizeof *v, cmp_flag);
	struct sbuf b;
	sb_init(&b);
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_addc(&b, ' ');
		sb_adds(&b, v[i]);
		free(v[i]);
	}
	free(v);
	return b.data ? b.data : x_strdup("");
}

static void on_fetch_meta(void *ctx, const struct imap_resp *r)
{
	struct mlist *l = ctx;
	if (!r->kw || strcmp(r->kw, "FETCH") != 0 || r->nargs < 1)
		return;
	const struct imap_val *att = &r->args[0];
	uint64_t uid, size;
	if (!imap_val_u64(imap_fetch_item(att, "UID"), UINT32_MAX, &uid))
		return;
	const struct imap_val *sz = imap_fetch_item(att, "RFC822.SIZE");
	const struct imap_val *fl = imap_fetch_item(att, "FLAGS");
	const struct imap_val *dt = imap_fetch_item(att, "INTERNALDATE");
	if (!imap_val_u64(sz, UINT64_MAX, &size) || !fl || !dt || dt->type != IV_STRING)
		return;   /* an unsolicited flag update: not a listing row */
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->v = x_realloc(l->v, l->cap * sizeof *l->v);
	}
	struct smsg *m = &l->v[l->n++];
	memset(m, 0, sizeof *m);
	m->uid = (uint32_t)uid;
	m->seq = r->has_num ? r->num : 0;
	m->size = size;
	m->flags = norm_flags(fl);
	m->idate_raw = val_dup(dt);
	if (!imap_parse_date(dt->s, dt->len, &m->idate))
		m->idate = 0;
}

static int cmp_smsg(const void *a, const void *b)
{
	uint32_t x = ((const struct smsg *)a)->uid, y = ((const struct smsg *)b)->uid;
	return x < y ? -1 : x > y;
}

/* UID FETCH range (UID FLAGS INTERNALDATE RFC822.SIZE) on the selected folder. */
static enum st list_messages(struct imap *im, const char *range, struct mlist *l, struct err *e)
{
	memset(l, 0, sizeof *l);
	char args[96];
	snprintf(args, sizeof args, "%s (UID FLAGS INTERNALDATE RFC822.SIZE)", range);
	enum st s = imap_simple(im, "UID FETCH", args, on_fetch_meta, l, e);
	if (!s)
		qsort_n(l->v, l->n, sizeof *l->v, cmp_smsg);
	return s;
}

/* ------------------------------------------------------------------------ */
/* Selecting and status                                                     */

struct boxinfo {
	uint32_t uidvalidity, uidnext, exists;
	uint64_t modseq;
	bool nomodseq;
};

static void on_select(void *ctx, const struct imap_resp *r)
{
	struct boxinfo *b = ctx;
	if (r->kw && !strcmp(r->kw, "EXISTS") && r->has_num)
		b->exists = r->num;
	if (!r->code)
		return;
	uint64_t v = strtoull(r->code_arg, NULL, 10);
	if (!strcmp(r->code, "UIDVALIDITY"))
		b->uidvalidity = (uint32_t)v;
	else if (!strcmp(r->code, "UIDNEXT"))
		b->uidnext = (uint32_t)v;
	else if (!strcmp(r->code, "HIGHESTMODSEQ"))
		b->modseq = v;
	else if (!strcmp(r->code, "NOMODSEQ"))
		b->nomodseq = true;
}

static enum st select_box(struct imap *im, const char *verb, const char *name, bool condstore,
                          struct boxinfo *b, struct err *e)
{
	memset(b, 0, sizeof *b);
	unsigned tag = imap_cmd_begin(im, verb);
	imap_arg_mailbox(im, name);
	if (condstore)
		imap_arg_raw(im, "(CONDSTORE)");
	imap_cmd_end(im);
	enum st s = imap_wait(im, tag, on_select, b, e);
	if (s)
		err_prefix(e, "%s \"%s\"", verb, name);
	return s;
}

static void on_status(void *ctx, const struct imap_resp *r)
{
	struct boxinfo *b = ctx;
	if (!r->kw || strcmp(r->kw, "STATUS") != 0 || r->nargs < 2 || r->args[1].type != IV_LIST)
		return;
	const struct imap_val *l = &r->args[1];
	uint64_t v;
	if (imap_val_u64(imap_fetch_item(l, "UIDNEXT"), UINT32_MAX, &v))
		b->uidnext = (uint32_t)v;
	if (imap_val_u64(imap_fetch_item(l, "UIDVALIDITY"), UINT32_MAX, &v))
		b->uidvalidity = (uint32_t)v;
	if (imap_val_u64(imap_fetch_item(l, "MESSAGES"), UINT32_MAX, &v))
		b->exists = (uint32_t)v;
}

static enum st status_box(struct imap *im, const char *name, struct boxinfo *b, struct err *e)
{
	memset(b, 0, sizeof *b);
	unsigned tag = imap_cmd_begin(im, "STATUS");
	imap_arg_mailbox(im, name);
	imap_arg_raw(im, "(MESSAGES UIDNEXT UIDVALIDITY)");
	imap_cmd_end(im);
	enum st s = imap_wait(im, tag, on_status, b, e);
	if (s)
		err_prefix(e, "STATUS \"%s\"", name);
	return s;
}

/* Which message a streamed FETCH body belongs to.  Servers may run
 * pipelined FETCH commands concurrently (Dovecot does), so answers can come
 * in any order: the UID in the response prefix decides, or, when the server
 * puts UID after the body, the sequence number.  msgs is sorted by UID. */
static struct smsg *body_owner(struct smsg **msgs, size_t n, const char *prefix, size_t plen)
{
	uint32_t seq = 0, uid = 0;
	if (plen > 2 && prefix[0] == '*')
		seq = (uint32_t)strtoul(prefix + 2, NULL, 10);
	const char *paren = memchr(prefix, '(', plen);
	for (const char *p = paren; p && p + 4 < prefix + plen; p++) {
		if ((p[0] == '(' || p[0] == ' ') && !strncasecmp(p + 1, "UID ", 4)) {
			uid = (uint32_t)strtoul(p + 5, NULL, 10);
			break;
		}
	}
	size_t lo = 0, hi = n;
	while (uid && lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (msgs[mid]->uid == uid)
			return msgs[mid];
		if (msgs[mid]->uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (uid)
		return NULL;
	for (size_t i = 0; seq && i < n; i++)
		if (msgs[i]->seq == seq)
			return msgs[i];
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Hashing messages (reconcile, identity matching, deep verify)             */

struct hash_sink {
	EVP_MD_CTX *md;
	struct smsg **msgs;      /* the messages asked for, sorted by UID */
	size_t n;
	struct smsg *cur;
};

static enum st hs_begin(void *ctx, const char *prefix, size_t plen, uint64_t size, struct err *e)
{
	(void)size;
	struct hash_sink *h = ctx;
	h->cur = body_owner(h->msgs, h->n, prefix, plen);
	if (!h->cur)
		return err_set(e, ST_PROTO, "message body for a message that was not asked for");
	EVP_DigestInit_ex(h->md, EVP_sha256(), NULL);
	return ST_OK;
}

static enum st hs_data(void *ctx, const char *p, size_t n, struct err *e)
{
	(void)e;
	struct hash_sink *h = ctx;
	EVP_DigestUpdate(h->md, p, n);
	return ST_OK;
}

static enum st hs_end(void *ctx, struct err *e)
{
	(void)e;
	struct hash_sink *h = ctx;
	unsigned int len = 32;
	EVP_DigestFinal_ex(h->md, h->cur->hash, &len);
	h->cur->have_hash = true;
	return ST_OK;
}

/* Index of tag in tags[0..n), or n. */
static size_t tag_index(const unsigned *tags, size_t n, unsigned tag)
{
	size_t lo = 0, hi = n;   /* tags increase */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (tags[mid] == tag)
			return mid;
		if (tags[mid] < tag)
			lo = mid + 1;
		else
			hi = mid;
	}
	return n;
}

/* Hashes msgs[i] for every i with want[i] (want NULL: all), pipelined;
 * msgs is sorted by UID. */
static enum st hash_messages(struct imap *im, struct smsg *msgs, size_t n, const bool *want,
                             struct err *e)
{
	struct smsg **sel = x_malloc((n ? n : 1) * sizeof *sel);
	size_t count = 0;
	for (size_t i = 0; i < n; i++)
		if (!want || want[i])
			sel[count++] = &msgs[i];
	struct hash_sink h = { .md = EVP_MD_CTX_new(), .msgs = sel, .n = count };
	struct imap_sink sink = { hs_begin, hs_data, hs_end, &h, 0 };
	unsigned *tags = x_malloc((count ? count : 1) * sizeof *tags);
	enum st s = ST_OK;
	size_t sent = 0, done = 0;
	struct imap_resp r = { 0 };
	while (done < count && !s) {
		while (sent < count && sent - done < FETCH_WINDOW) {
			char args[48];
			snprintf(args, sizeof args, "%u (UID BODY.PEEK[])", sel[sent]->uid);
			tags[sent] = imap_cmd_begin(im, "UID FETCH");
			imap_arg_raw(im, args);
			imap_cmd_end(im);
			sent++;
		}
		s = imap_read(im, &r, &sink, e);
		if (s)
			break;
		if (r.kind == RESP_UNTAGGED && r.cond == COND_BYE)
			s = err_set(e, ST_NET, "%s: server closed the connection", imap_label(im));
		else if (r.kind == RESP_TAGGED && tag_index(tags, sent, imap_tag_num(&r)) < sent) {
			struct err fe;
			enum st fs = imap_status_of(&r, "UID FETCH", &fe);
			if (fs && st_retry_class(fs) != RETRY_ITEM) {
				s = fs;
				*e = fe;
			}
			done++;
		}
	}
	imap_resp_free(&r);
	free(sel);
	free(tags);
	EVP_MD_CTX_free(h.md);
	return s;
}

/* ------------------------------------------------------------------------ */
/* The copy pipeline                                                        */

struct pending {
	unsigned tag;
	bool answered;
	size_t msg;              /* index into the todo list */
	unsigned char hash[32];
	uint64_t bytes;
};

/* Folder-level facts the result handler needs. */
struct folder_ctx {
	int64_t folder_id;
	const char *src_name;
	uint32_t dst_uidvalidity;
	/* Lowest UID the next batch's copies can get: from STATUS before the
	 * first batch, then one past the highest APPENDUID seen.  Another
	 * client appending meanwhile only makes the real value higher, which
	 * merely widens what a reconcile examines. */
	uint32_t dst_uidnext;
};

struct copier {
	struct mig_ctx *m;
	struct folder_ctx *fc;
	struct imap *src, *dst;
	const char *dst_name;
	struct smsg **todo;
	size_t n;
	bool literal_plus;
	/* source side */
	unsigned *fetch_tags;
	size_t fetch_sent, fetch_done;   /* commands sent, answered */
	bool *received;          /* todo[i]'s body has arrived */
	bool *answered;          /* todo[i]'s FETCH has its tagged answer */
	/* target side */
	struct pending *pend;
	size_t npend, pend_done, pend_cap;
	EVP_MD_CTX *md;
	uint64_t cur_bytes;
	/* results, written to the store in one short transaction per batch */
	struct map_entry *ok;
	size_t nok;
	uint32_t *drop;          /* journal rows to delete without a map row */
	size_t ndrop;
	enum st hard;            /* first error that stops the folder */
	struct err hard_err;
};

static enum st wait_continuation(struct copier *c, struct err *e);

/* Position of msg in the batch (todo is sorted by UID). */
static size_t bsearch_todo(const struct copier *c, const struct smsg *msg)
{
	size_t lo = 0, hi = c->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (c->todo[mid] == msg)
			return mid;
		if (c->todo[mid]->uid < msg->uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return c->n;
}
static enum st handle_dst_response(struct copier *c, const struct imap_resp *r, struct err *e);

static enum st cp_begin(void *ctx, const char *prefix, size_t plen, uint64_t size, struct err *e)
{
	struct copier *c = ctx;
	struct smsg *msg = body_owner(c->todo, c->n, prefix, plen);
	size_t idx = msg ? (size_t)(bsearch_todo(c, msg)) : c->n;
	if (!msg || idx >= c->fetch_sent || c->received[idx])
		return err_set(e, ST_PROTO, "%s: message body that was not asked for", imap_label(c->src));
	c->received[idx] = true;
	if (c->pend_done >= 4096 && c->pend_done * 2 >= c->npend) {
		/* Keep memory proportional to what is in flight, not to the folder. */
		memmove(c->pend, c->pend + c->pend_done, (c->npend - c->pend_done) * sizeof *c->pend);
		c->npend -= c->pend_done;
		c->pend_done = 0;
	}
	if (c->npend == c->pend_cap) {
		c->pend_cap = c->pend_cap ? c->pend_cap * 2 : 256;
		c->pend = x_realloc(c->pend, c->pend_cap * sizeof *c->pend);
	}
	struct pending *p = &c->pend[c->npend];
	memset(p, 0, sizeof *p);
	p->msg = idx;
	p->bytes = size;
	p->tag = imap_cmd_begin(c->dst, "APPEND");
	imap_arg_mailbox(c->dst, c->dst_name);
	char lit[48];
	snprintf(lit, sizeof lit, "{%llu%s}", (unsigned long long)size, c->literal_plus ? "+" : "");
	imap_arg_raw(c->dst, "(");
	imap_append_raw(c->dst, msg->flags);
	imap_append_raw(c->dst, ")");
	imap_arg_quoted(c->dst, msg->idate_raw);
	imap_arg_raw(c->dst, lit);
	imap_cmd_end(c->dst);
	c->npend++;
	EVP_DigestInit_ex(c->md, EVP_sha256(), NULL);
	if (!c->literal_plus)
		return wait_continuation(c, e);
	return ST_OK;
}

static enum st cp_data(void *ctx, const char *p, size_t n, struct err *e)
{
	struct copier *c = ctx;
	EVP_DigestUpdate(c->md, p, n);
	return imap_write(c->dst, p, n, e);
}

static enum st cp_end(void *ctx, struct err *e)
{
	struct copier *c = ctx;
	unsigned int len = 32;
	EVP_DigestFinal_ex(c->md, c->pend[c->npend - 1].hash, &len);
	return imap_write(c->dst, "\r\n", 2, e);
}

/* Without LITERAL+ the target must invite each literal: read its answers
 * until the "+" (tagged answers of earlier APPENDs may come first). */
static enum st wait_continuation(struct copier *c, struct err *e)
{
	struct imap_resp r = { 0 };
	enum st s;
	for (;;) {
		s = imap_read(c->dst, &r, NULL, e);
		if (s)
			break;
		if (r.kind == RESP_CONTINUATION)
			break;
		if (r.kind == RESP_TAGGED && imap_tag_num(&r) == c->pend[c->npend - 1].tag) {
			/* Refused before the literal was sent (e.g. too big). */
			s = imap_status_of(&r, "APPEND", e);
			if (!s)
				s = err_set(e, ST_PROTO, "%s: APPEND finished without its literal", imap_label(c->dst));
			break;
		}
		s = handle_dst_response(c, &r, e);
		if (s)
			break;
	}
	imap_resp_free(&r);
	return s;
}

static void record_item_failure(struct copier *c, struct smsg *msg, const char *reason)
{
	struct mig_ctx *m = c->m;
	m->job->items_failed++;
	store_event(m->store, EV_WARN, m->job->id, "message UID %u in \"%s\" (%llu bytes) not copied: %s",
	            msg->uid, c->dst_name, (unsigned long long)msg->size, reason);
}


/* Handles one response from the target during a batch. */
static enum st handle_dst_response(struct copier *c, const struct imap_resp *r, struct err *e)
{
	if (r->kind == RESP_UNTAGGED && r->cond == COND_BYE)
		return imap_status_of(r, "target connection", e);
	if (r->kind != RESP_TAGGED)
		return ST_OK;
	unsigned tag = imap_tag_num(r);
	size_t k = c->pend_done;
	while (k < c->npend && (c->pend[k].tag != tag || c->pend[k].answered))
		k++;
	if (k >= c->npend)
		return err_set(e, ST_PROTO, "%s: answer to an unknown command", imap_label(c->dst));
	struct pending *p = &c->pend[k];
	p->answered = true;
	while (c->pend_done < c->npend && c->pend[c->pend_done].answered)
		c->pend_done++;

	struct smsg *msg = c->todo[p->msg];
	struct mig_ctx *m = c->m;
	struct folder_ctx *fc = c->fc;
	struct err ie;
	enum st s = imap_status_of(r, "APPEND", &ie);
	if (s == ST_OK) {
		uint32_t v = 0, uid = 0;
		if (r->code && !strcmp(r->code, "APPENDUID") &&
		    sscanf(r->code_arg, "%u %u", &v, &uid) == 2 && v == fc->dst_uidvalidity) {
			c->ok = x_realloc(c->ok, (c->nok + 1) * sizeof *c->ok);
			struct map_entry *me = &c->ok[c->nok++];
			memset(me, 0, sizeof *me);
			me->src_uid = msg->uid;
			me->dst_uid = uid;
			if (uid >= fc->dst_uidnext)
				fc->dst_uidnext = uid + 1;
			me->size = p->bytes;
			me->flags = msg->flags;   /* borrowed from the listing */
			memcpy(me->hash, p->hash, 32);
		} else {
			/* No UIDPLUS answer: the journal row stays and the reconcile
			 * after the batch finds the message by its hash. */
			memcpy(msg->hash, p->hash, 32);
			msg->have_hash = true;
		}
		m->job->items_done++;
		m->job->bytes_done += (int64_t)p->bytes;
		return ST_OK;
	}
	/* Refused: the message is not on the target. */
	c->drop = x_realloc(c->drop, (c->ndrop + 1) * sizeof *c->drop);
	c->drop[c->ndrop++] = msg->uid;
	enum retry_class rc = st_retry_class(s);
	if (s == ST_TOOBIG) {
		m->job->items_skipped++;
		store_skipped_add(m->store, m->job->id, fc->folder_id, fc->src_name, msg->uid, NULL,
		                  msg->size, ie.msg, e);
		return ST_OK;
	}
	if (rc == RETRY_ITEM) {
		record_item_failure(c, msg, ie.msg);
		store_skipped_add(m->store, m->job->id, fc->folder_id, fc->src_name, msg->uid, NULL,
		                  msg->size, ie.msg, e);
		return ST_OK;
	}
	/* Quota, unavailable, throttled: finish the batch, then stop. */
	if (!c->hard) {
		c->hard = s;
		c->hard_err = ie;
	}
	return ST_OK;
}

static enum st drain_dst(struct copier *c, bool all, struct err *e)
{
	struct imap_resp r = { 0 };
	enum st s = ST_OK;
	if (all)
		s = imap_flush(c->dst, e);
	while (!s && c->pend_done < c->npend && (all || imap_readable(c->dst))) {
		s = imap_read(c->dst, &r, NULL, e);
		if (!s)
			s = handle_dst_response(c, &r, e);
	}
	imap_resp_free(&r);
	return s;
}

static void send_fetches(struct copier *c)
{
	while (c->fetch_sent < c->n && c->fetch_sent - c->fetch_done < FETCH_WINDOW) {
		char args[48];
		snprintf(args, sizeof args, "%u (UID BODY.PEEK[])", c->todo[c->fetch_sent]->uid);
		c->fetch_tags[c->fetch_sent] = imap_cmd_begin(c->src, "UID FETCH");
		imap_arg_raw(c->src, args);
		imap_cmd_end(c->src);
		c->fetch_sent++;
	}
}


static int64_t sample_bytes(const struct copier *c)
{
	int64_t b = 0;
	for (size_t i = 0; i < c->nok; i++)
		b += (int64_t)c->ok[i].size;
	return b;
}

/* Writes what a batch learned: map rows for stored messages, journal rows
 * dropped for refused or vanished ones, and the job's counters. */
static enum st commit_batch(struct copier *c, struct err *e)
{
	struct mig_ctx *m = c->m;
	if (c->nok == 0 && c->ndrop == 0)
		return ST_OK;
	enum st s = store_begin(m->store, e);
	for (size_t i = 0; !s && i < c->nok; i++) {
		s = store_map_put(m->store, c->fc->folder_id, &c->ok[i], e);
		if (!s)
			s = store_journal_del(m->store, c->fc->folder_id, c->ok[i].src_uid, e);
	}
	for (size_t i = 0; !s && i < c->ndrop; i++)
		s = store_journal_del(m->store, c->fc->folder_id, c->drop[i], e);
	if (!s)
		s = store_job_progress(m->store, m->job, c->fc->src_name, e);
	if (!s && c->nok)  /* throughput history for the Metrics view */
		s = store_sample(m->store, m->dst->id, (int64_t)c->nok, sample_bytes(c), e);
	if (!s)
		s = store_commit(m->store, e);
	else
		store_rollback(m->store);
	c->nok = c->ndrop = 0;
	return s;
}

/* Journals todo[from..to) in one committed transaction: after this, copies
 * of these messages may reach the target. */
static enum st journal_chunk(struct copier *c, size_t from, size_t to, struct err *e)
{
	struct mig_ctx *m = c->m;
	enum st s = store_begin(m->store, e);
	for (size_t i = from; !s && i < to; i++) {
		struct journal_entry j = { c->todo[i]->uid, c->fc->dst_uidvalidity, c->fc->dst_uidnext,
		                           c->todo[i]->size };
		s = store_journal_add(m->store, c->fc->folder_id, &j, e);
	}
	if (s) {
		store_rollback(m->store);
		return s;
	}
	return store_commit(m->store, e);
}

/* Copies todo[0..n) (sorted by UID) into dst_name.  The pipeline never
 * drains between chunks: the next chunk is journaled while the previous
 * one's answers are still arriving, so source, target and mailferry all stay
 * busy.  Results are committed every chunk's worth of answers. */
static enum st copy_messages(struct mig_ctx *m, struct imap *src, struct imap *dst,
                             struct folder_ctx *fc, const char *dst_name, struct smsg **todo,
                             size_t n, struct err *e)
{
	enum st s = ST_OK;
	if (n == 0)
		return ST_OK;
	if (!fc->dst_uidnext) {
		struct boxinfo bi;
		if ((s = status_box(dst, dst_name, &bi, e)))
			return s;
		if (bi.uidvalidity != fc->dst_uidvalidity)
			return err_set(e, ST_NET, "target folder \"%s\" changed UIDVALIDITY during the pass; "
			               "it will be matched again", dst_name);
		fc->dst_uidnext = bi.uidnext ? bi.uidnext : 1;
	}
	size_t chunk_max = m->cfg->batch_messages > 0 ? (size_t)m->cfg->batch_messages : 256;
	uint64_t chunk_bytes = (uint64_t)(m->cfg->batch_bytes_mb > 0 ? m->cfg->batch_bytes_mb : 16) << 20;

	struct copier c = {
		.m = m, .fc = fc, .src = src, .dst = dst, .dst_name = dst_name, .todo = todo, .n = n,
		.literal_plus = imap_has_cap(dst, "LITERAL+"),
		.md = EVP_MD_CTX_new(),
	};
	c.fetch_tags = x_malloc(n * sizeof *c.fetch_tags);
	c.received = x_calloc(n, sizeof *c.received);
	c.answered = x_calloc(n, sizeof *c.answered);
	struct imap_sink sink = { cp_begin, cp_data, cp_end, &c, 0 };
	struct imap_resp r = { 0 };
	size_t journaled = 0;
	while (!s && c.fetch_done < n) {
		if (m->cancel && *m->cancel && c.fetch_sent == c.fetch_done) {
			s = err_set(e, ST_CANCELED, "stopped at a checkpoint");
			break;
		}
		/* Keep half a chunk journaled ahead of the fetches. */
		if (journaled < n && journaled - c.fetch_sent < chunk_max / 2 &&
		    !(m->cancel && *m->cancel)) {
			size_t k = journaled;
			uint64_t bytes = 0;
			while (k < n && k - journaled < chunk_max && (k == journaled || bytes + todo[k]->size <= chunk_bytes))
				bytes += todo[k++]->size;
			if ((s = journal_chunk(&c, journaled, k, e)))
				break;
			journaled = k;
		}
		size_t limit = c.n;
		c.n = journaled;      /* fetch only what is journaled */
		send_fetches(&c);
		c.n = limit;
		if (c.fetch_sent == c.fetch_done)
			break;        /* canceled before anything more was journaled */
		s = imap_read(src, &r, &sink, e);
		if (s)
			break;
		if (r.kind == RESP_UNTAGGED && r.cond == COND_BYE) {
			s = imap_status_of(&r, "source connection", e);
			break;
		}
		if (r.kind != RESP_TAGGED)
			continue;
		size_t k = tag_index(c.fetch_tags, c.fetch_sent, imap_tag_num(&r));
		if (k >= c.fetch_sent || c.answered[k]) {
			s = err_set(e, ST_PROTO, "%s: answer to an unknown command", imap_label(src));
			break;
		}
		c.answered[k] = true;
		struct smsg *msg = todo[k];
		struct err fe;
		enum st fs = imap_status_of(&r, "UID FETCH", &fe);
		if (fs && st_retry_class(fs) != RETRY_ITEM) {
			s = fs;
			*e = fe;
			break;
		}
		if (fs || !c.received[k]) {
			/* Expunged on the source meanwhile, or unreadable there. */
			c.drop = x_realloc(c.drop, (c.ndrop + 1) * sizeof *c.drop);
			c.drop[c.ndrop++] = msg->uid;
			if (fs)
				record_item_failure(&c, msg, fe.msg);
		}
		c.fetch_done++;
		if (c.fetch_sent - c.fetch_done < FETCH_WINDOW / 2 || imap_pending_out(src) > 4096)
			s = imap_flush(src, e);
		if (!s)
			s = drain_dst(&c, false, e);
		if (!s && c.nok + c.ndrop >= chunk_max) {
			s = commit_batch(&c, e);
			if (!s && c.hard)
				break;
		}
	}
	if (!s)
		s = drain_dst(&c, true, e);
	imap_resp_free(&r);
	struct err ce;
	enum st cs = commit_batch(&c, &ce);
	if (!s && cs) {
		s = cs;
		*e = ce;
	}
	if (!s && c.hard) {
		s = c.hard;
		*e = c.hard_err;
	}
	free(c.fetch_tags);
	free(c.received);
	free(c.answered);
	free(c.pend);
	free(c.ok);
	free(c.drop);
	EVP_MD_CTX_free(c.md);
	return s;
}

/* ------------------------------------------------------------------------ */
/* Reconcile: find in-doubt or pre-existing copies on the target by hash    */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static bool size_in(const struct smsg *v, size_t n, const bool *sel, uint64_t size)
{
	for (size_t i = 0; i < n; i++)
		if ((!sel || sel[i]) && v[i].size == size)
			return true;
	return false;
}

/* pending[i]: source message i is not on the target as far as the map
 * knows and may be there (journal) or may have been copied before the map
 * was lost (identity).  Candidates are target messages with uid >= from_uid
 * that no map row claims. */
static enum st reconcile(struct mig_ctx *m, struct imap *src, struct imap *dst,
                         struct folder_ctx *fc, const char *dst_name, struct mlist *sl,
                         const bool *pending, uint32_t from_uid, const struct map_entry *map,
                         size_t nmap, bool target_empty, struct err *e)
{
	/* The caller has dst_name selected. */
	(void)dst_name;
	enum st s = ST_OK;
	struct mlist tl = { 0 };
	if (!target_empty) {
		char range[32];
		snprintf(range, sizeof range, "%u:*", from_uid ? from_uid : 1);
		s = list_messages(dst, range, &tl, e);
		if (s)
			return s;
	}
	uint32_t *claimed = x_malloc((nmap ? nmap : 1) * sizeof *claimed);
	for (size_t i = 0; i < nmap; i++)
		claimed[i] = map[i].dst_uid;
	qsort_n(claimed, nmap, sizeof *claimed, cmp_u32);
	bool *cand = x_calloc(tl.n ? tl.n : 1, sizeof *cand);
	for (size_t i = 0; i < tl.n; i++)
		cand[i] = tl.v[i].uid >= from_uid &&
		          !bsearch_n(&tl.v[i].uid, claimed, nmap, sizeof *claimed, cmp_u32);
	/* Hash only where a size matches on the other side. */
	bool *want_src = x_calloc(sl->n ? sl->n : 1, sizeof *want_src);
	bool *want_dst = x_calloc(tl.n ? tl.n : 1, sizeof *want_dst);
	size_t nsrc = 0, ndst = 0;
	for (size_t i = 0; i < sl->n; i++)
		if (pending[i] && size_in(tl.v, tl.n, cand, sl->v[i].size)) {
			want_src[i] = true;
			nsrc++;
		}
	for (size_t i = 0; i < tl.n; i++)
		if (cand[i] && size_in(sl->v, sl->n, want_src, tl.v[i].size)) {
			want_dst[i] = true;
			ndst++;
		}
	if (ndst)
		s = hash_messages(dst, tl.v, tl.n, want_dst, e);
	if (!s && nsrc)
		s = hash_messages(src, sl->v, sl->n, want_src, e);
	size_t matched = 0;
	if (!s) {
		s = store_begin(m->store, e);
		for (size_t i = 0; !s && i < sl->n; i++) {
			if (!pending[i])
				continue;
			if (want_src[i] && sl->v[i].have_hash) {
				for (size_t k = 0; k < tl.n; k++) {
					if (!want_dst[k] || !tl.v[k].have_hash ||
					    memcmp(tl.v[k].hash, sl->v[i].hash, 32) != 0)
						continue;
					want_dst[k] = false; /* each target copy matches once */
					struct map_entry me = { .src_uid = sl->v[i].uid, .dst_uid = tl.v[k].uid,
					                        .size = tl.v[k].size, .flags = tl.v[k].flags };
					memcpy(me.hash, tl.v[k].hash, 32);
					s = store_map_put(m->store, fc->folder_id, &me, e);
					matched++;
					break;
				}
			}
			if (!s)
				s = store_journal_del(m->store, fc->folder_id, sl->v[i].uid, e);
		}
		if (!s)
			s = store_commit(m->store, e);
		else
			store_rollback(m->store);
	}
	if (!s && (nsrc || ndst))
		store_event(m->store, EV_INFO, m->job->id,
		            "folder \"%s\": %zu message(s) already on the target were matched by content; "
		            "%zu candidate(s) examined", fc->src_name, matched, ndst);
	free(claimed);
	free(cand);
	free(want_src);
	free(want_dst);
	mlist_free(&tl);
	return s;
}

/* ------------------------------------------------------------------------ */
/* One folder                                                               */

static const struct map_entry *map_find(const struct map_entry *map, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (map[mid].src_uid == uid)
			return &map[mid];
		if (map[mid].src_uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct subj_ctx {
	struct mig_ctx *m;
	struct folder_ctx *fc;
	struct smsg **msgs;
	size_t n;
	const char *reason;
};

/* Records an oversize message as skipped, with its subject. */
static void on_subject(void *ctx, const struct imap_resp *r)
{
	struct subj_ctx *sc = ctx;
	if (!r->kw || strcmp(r->kw, "FETCH") != 0 || r->nargs < 1)
		return;
	uint64_t uid;
	if (!imap_val_u64(imap_fetch_item(&r->args[0], "UID"), UINT32_MAX, &uid))
		return;
	const struct imap_val *h = imap_fetch_item(&r->args[0], "BODY[HEADER.FIELDS (SUBJECT)]");
	char subject[256] = "";
	if (h && h->type == IV_STRING) {
		size_t k = 0;
		const char *p = h->s;
		size_t n = h->len;
		if (n > 8 && !strncasecmp(p, "Subject:", 8)) {
			p += 8;
			n -= 8;
		}
		for (size_t i = 0; i < n && k + 1 < sizeof subject; i++) {
			char ch = p[i];
			if (ch == '\r' || ch == '\n' || ch == '\t')
				ch = ' ';
			if (ch == ' ' && (k == 0 || subject[k - 1] == ' '))
				continue;
			subject[k++] = ch;
		}
		while (k > 0 && subject[k - 1] == ' ')
			k--;
		subject[k] = '\0';
	}
	for (size_t i = 0; i < sc->n; i++) {
		if (sc->msgs[i]->uid != uid)
			continue;
		struct err e;
		store_skipped_add(sc->m->store, sc->m->job->id, sc->fc->folder_id, sc->fc->src_name,
		                  (uint32_t)uid, subject, sc->msgs[i]->size, sc->reason, &e);
	}
}

static enum st record_oversize(struct mig_ctx *m, struct imap *src, struct folder_ctx *fc,
                               struct smsg **big, size_t n, uint64_t limit, struct err *e)
{
	if (n == 0)
		return ST_OK;
	struct sbuf set;
	sb_init(&set);
	for (size_t i = 0; i < n; i++)
		sb_printf(&set, "%s%u", i ? "," : "", big[i]->uid);
	char reason[128];
	snprintf(reason, sizeof reason, "larger than the size limit (%llu bytes)",
	         (unsigned long long)limit);
	struct subj_ctx sc = { m, fc, big, n, reason };
	unsigned tag = imap_cmd_begin(src, "UID FETCH");
	imap_arg_raw(src, set.data);
	imap_arg_raw(src, "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
	imap_cmd_end(src);
	sb_free(&set);
	enum st s = imap_wait(src, tag, on_subject, &sc, e);
	for (size_t i = 0; i < n; i++)
		store_event(m->store, EV_WARN, m->job->id, "skipped message UID %u in \"%s\": %llu bytes, %s",
		            big[i]->uid, fc->src_name, (unsigned long long)big[i]->size, reason);
	m->job->items_skipped += (int64_t)n;
	return s;
}

/* Brings the target's flags in line with the source's for mapped messages. */
static enum st sync_flags(struct mig_ctx *m, struct imap *dst, struct folder_ctx *fc,
                          const char *dst_name, struct smsg **msgs, const struct map_entry **ents,
                          size_t n, struct err *e)
{
	if (n == 0)
		return ST_OK;
	(void)dst_name; /* selected by the caller */
	enum st s = ST_OK;
	unsigned *tags = x_malloc(n * sizeof *tags);
	for (size_t i = 0; i < n; i++) {
		char args[64];
		snprintf(args, sizeof args, "%u FLAGS.SILENT", ents[i]->dst_uid);
		tags[i] = imap_cmd_begin(dst, "UID STORE");
		imap_arg_raw(dst, args);
		struct sbuf f;
		sb_init(&f);
		sb_printf(&f, "(%s)", msgs[i]->flags);
		imap_arg_raw(dst, f.data);
		sb_free(&f);
		imap_cmd_end(dst);
	}
	/* All stores are in flight; collect the answers in order. */
	for (size_t i = 0; i < n && !s; i++) {
		struct err ie;
		enum st r = imap_wait(dst, tags[i], NULL, NULL, &ie);
		if (r && st_retry_class(r) != RETRY_ITEM) {
			s = r;
			*e = ie;
		} else if (r) {
			store_event(m->store, EV_WARN, m->job->id, "flags of UID %u in \"%s\" not updated: %s",
			            msgs[i]->uid, fc->src_name, ie.msg);
			ents[i] = NULL;
		}
	}
	free(tags);
	if (s)
		return s;
	s = store_begin(m->store, e);
	for (size_t i = 0; i < n && !s; i++)
		if (ents[i]) {
			s = store_map_set_flags(m->store, fc->folder_id, msgs[i]->uid, msgs[i]->flags, e);
			m->job->flags_updated++;
		}
	if (!s)
		s = store_commit(m->store, e);
	else
		store_rollback(m->store);
	return s;
}

static void on_search(void *ctx, const struct imap_resp *r)
{
	struct sbuf *uids = ctx;   /* array of uint32_t */
	if (!r->kw || strcmp(r->kw, "SEARCH") != 0)
		return;
	for (size_t i = 0; i < r->nargs; i++) {
		uint64_t v;
		if (imap_val_u64(&r->args[i], UINT32_MAX, &v)) {
			uint32_t u = (uint32_t)v;
			sb_add(uids, &u, sizeof u);
		}
	}
}

/* Map rows whose target copy is gone (deleted on the target) are dropped,
 * so that this full pass copies those messages again.  The target folder
 * is selected. */
static enum st forget_vanished_copies(struct mig_ctx *m, struct imap *dst, int64_t folder_id,
                                      const char *name, uint32_t exists, struct map_entry **map,
                                      size_t *nmap, struct err *e)
{
	struct sbuf buf;
	sb_init(&buf);
	enum st s = ST_OK;
	if (exists > 0)
		s = imap_simple(dst, "UID SEARCH", "ALL", on_search, &buf, e);
	if (s) {
		sb_free(&buf);
		return s;
	}
	uint32_t *uids = (uint32_t *)(void *)buf.data;
	size_t n = buf.len / sizeof *uids;
	qsort_n(uids, n, sizeof *uids, cmp_u32);
	size_t gone = 0;
	s = store_begin(m->store, e);
	for (size_t i = 0; !s && i < *nmap; i++) {
		if (bsearch_n(&(*map)[i].dst_uid, uids, n, sizeof *uids, cmp_u32))
			continue;
		s = store_map_del(m->store, folder_id, (*map)[i].src_uid, e);
		gone++;
	}
	if (!s)
		s = store_commit(m->store, e);
	else
		store_rollback(m->store);
	sb_free(&buf);
	if (s || gone == 0)
		return s;
	store_event(m->store, EV_WARN, m->job->id, "folder \"%s\": %zu copied message(s) are no longer "
	            "on the target (deleted there?); they are copied again", name, gone);
	map_free(*map, *nmap);
	return store_map_load(m->store, folder_id, map, nmap, e);
}

/* Waits until the selected target folder's UIDNEXT stops moving (checked
 * every 300 ms, at most about 15 s), then reselects it into *dbi. */
static enum st wait_target_settled(struct mig_ctx *m, struct imap *dst, const char *name,
                                   struct boxinfo *dbi, struct err *e)
{
	uint32_t last = dbi->uidnext;
	for (int i = 0; i < 50; i++) {
		usleep(300000);
		struct boxinfo bi;
		enum st s = status_box(dst, name, &bi, e);
		if (s)
			return s;
		if (bi.uidnext == last)
			break;
		log_debug("target folder %s still growing (UIDNEXT %u -> %u)", name, last, bi.uidnext);
		last = bi.uidnext;
	}
	(void)m;
	return select_box(dst, "SELECT", name, false, dbi, e);
}

/* After a pass that resumed a cut-off run: a copy the server stored after
 * the match (the dead connection's last APPENDs can land late) would now
 * exist twice.  Unclaimed target messages at or above from_uid whose bytes
 * equal a mapped message are such copies, made by us: they are removed, and
 * the removal is logged.  The target folder is selected. */
static enum st sweep_duplicates(struct mig_ctx *m, struct imap *src, struct imap *dst,
                                struct folder_ctx *fc, uint32_t from_uid, struct err *e)
{
	(void)src;
	struct map_entry *map = NULL;
	size_t nmap = 0;
	struct mlist tl = { 0 };
	char range[32];
	snprintf(range, sizeof range, "%u:*", from_uid ? from_uid : 1);
	enum st s = store_map_load(m->store, fc->folder_id, &map, &nmap, e);
	if (!s)
		s = list_messages(dst, range, &tl, e);
	if (s || tl.n == 0 || nmap == 0)
		goto out;
	uint32_t *claimed = x_malloc(nmap * sizeof *claimed);
	for (size_t i = 0; i < nmap; i++)
		claimed[i] = map[i].dst_uid;
	qsort_n(claimed, nmap, sizeof *claimed, cmp_u32);
	bool *want = x_calloc(tl.n, sizeof *want);
	size_t nwant = 0;
	for (size_t i = 0; i < tl.n; i++) {
		if (tl.v[i].uid < from_uid || bsearch_n(&tl.v[i].uid, claimed, nmap, sizeof *claimed, cmp_u32))
			continue;
		for (size_t k = 0; k < nmap; k++)
			if (map[k].size == tl.v[i].size) {
				want[i] = true;
				nwant++;
				break;
			}
	}
	free(claimed);
	struct sbuf set;
	sb_init(&set);
	size_t dups = 0;
	if (nwant)
		s = hash_messages(dst, tl.v, tl.n, want, e);
	for (size_t i = 0; !s && i < tl.n; i++) {
		if (!want[i] || !tl.v[i].have_hash)
			continue;
		for (size_t k = 0; k < nmap; k++)
			if (map[k].size == tl.v[i].size && !memcmp(map[k].hash, tl.v[i].hash, 32)) {
				sb_printf(&set, "%s%u", dups ? "," : "", tl.v[i].uid);
				dups++;
				break;
			}
	}
	free(want);
	if (!s && dups) {
		unsigned t1 = imap_cmd_begin(dst, "UID STORE");
		imap_arg_raw(dst, set.data);
		imap_arg_raw(dst, "+FLAGS.SILENT (\\Deleted)");
		imap_cmd_end(dst);
		s = imap_wait(dst, t1, NULL, NULL, e);
		if (!s && imap_has_cap(dst, "UIDPLUS")) {
			unsigned t2 = imap_cmd_begin(dst, "UID EXPUNGE");
			imap_arg_raw(dst, set.data);
			imap_cmd_end(dst);
			s = imap_wait(dst, t2, NULL, NULL, e);
		}
		if (!s)
			store_event(m->store, EV_WARN, m->job->id, "folder \"%s\": removed %zu duplicate "
			            "cop%s that the interrupted run's last uploads left on the target (UIDs %s)",
			            fc->src_name, dups, dups == 1 ? "y" : "ies", set.data);
	}
	sb_free(&set);
out:
	map_free(map, nmap);
	mlist_free(&tl);
	return s;
}

static enum st copy_folder(struct mig_ctx *m, struct imap *src, struct imap *dst,
                           const struct mfolder *sf, struct err *e)
{
	struct job *job = m->job;
	struct folder_row fr;
	enum st s = store_folder_get(m->store, job->pair_id, sf->name, &fr, e);
	if (s)
		return s;
	struct boxinfo sbi, dbi;
	bool condstore = imap_has_cap(src, "CONDSTORE");
	struct mlist sl = { 0 };
	struct map_entry *map = NULL;
	size_t nmap = 0;
	struct journal_entry *jr = NULL;
	size_t njr = 0;
	struct smsg **todo = NULL, **big = NULL, **reflag = NULL;
	const struct map_entry **reflag_ent = NULL;
	size_t ntodo = 0, nbig = 0, nreflag = 0;
	bool *pending = NULL;

	if (!fr.dst_name && sf->note)
		store_event(m->store, EV_WARN, job->id, "%s", sf->note); /* first mapping only */
	if ((s = select_box(src, "EXAMINE", sf->name, condstore, &sbi, e)))
		goto out;
	/* The target folder stays selected for the whole folder: servers such
	 * as Dovecot open and close an unselected mailbox for every APPEND. */
	if ((s = select_box(dst, "SELECT", sf->dst, false, &dbi, e)))
		goto out;
	bool identity = false;
	if (fr.src_uidvalidity && fr.src_uidvalidity != sbi.uidvalidity) {
		store_event(m->store, EV_WARN, job->id, "source folder \"%s\" has a new UIDVALIDITY; "
		            "its messages are matched again by content", sf->name);
		identity = true;
	}
	if (fr.dst_uidvalidity && fr.dst_uidvalidity != dbi.uidvalidity) {
		store_event(m->store, EV_WARN, job->id, "target folder \"%s\" has a new UIDVALIDITY; "
		            "its messages are matched again by content", sf->dst);
		identity = true;
	}
	if (identity && (s = store_map_clear(m->store, fr.id, e)))
		goto out;
	if ((s = store_journal_load(m->store, fr.id, &jr, &njr, e)))
		goto out;
	bool recovering = njr > 0;
	uint32_t sweep_from = UINT32_MAX;
	for (size_t i = 0; i < njr; i++)
		if (jr[i].dst_uidnext < sweep_from)
			sweep_from = jr[i].dst_uidnext;
	if (njr > 0) {
		/* A previous run was cut off.  The server may still be storing
		 * the APPENDs that were in its input buffer when the connection
		 * died; matching before they land would copy them twice. */
		if ((s = wait_target_settled(m, dst, sf->dst, &dbi, e)))
			goto out;
	}
	bool complete_pass = job->o.pass == PASS_FULL || job->o.pass == PASS_DELTA;
	/* Only a delta pass trusts the map alone; a full pass also checks that
	 * every mapped copy is still on the target. */
	if (!identity && njr == 0 && job->o.pass == PASS_DELTA && condstore && sbi.modseq &&
	    fr.src_uidvalidity == sbi.uidvalidity && fr.src_uidnext == sbi.uidnext &&
	    fr.src_modseq == sbi.modseq && fr.dst_uidvalidity == dbi.uidvalidity &&
	    fr.dst_name && !strcmp(fr.dst_name, sf->dst)) {
		log_debug("folder %s unchanged since the last pass", sf->name);
		goto out; /* nothing changed since the last complete pass */
	}
	if (sbi.exists > 0 && (s = list_messages(src, "1:*", &sl, e)))
		goto out;
	if ((s = store_map_load(m->store, fr.id, &map, &nmap, e)))
		goto out;
	if (nmap == 0 && dbi.exists > 0)
		identity = true; /* the map is gone but the target has mail: match first */
	if (job->o.pass != PASS_DELTA && nmap > 0 && !identity &&
	    (s = forget_vanished_copies(m, dst, fr.id, sf->name, dbi.exists, &map, &nmap, e)))
		goto out;

	struct folder_ctx fc = { fr.id, sf->name, dbi.uidvalidity, dbi.uidnext };
	if ((identity || njr > 0) && sl.n > 0) {
		pending = x_calloc(sl.n, sizeof *pending);
		uint32_t from_uid = UINT32_MAX;
		for (size_t i = 0; i < njr; i++)
			if (jr[i].dst_uidvalidity == dbi.uidvalidity && jr[i].dst_uidnext < from_uid)
				from_uid = jr[i].dst_uidnext;
		if (identity || from_uid == UINT32_MAX)
			from_uid = 1;
		size_t k = 0;
		for (size_t i = 0; i < sl.n; i++) {
			if (map_find(map, nmap, sl.v[i].uid))
				continue;
			if (identity) {
				pending[i] = true;
				continue;
			}
			while (k < njr && jr[k].src_uid < sl.v[i].uid)
				k++;
			pending[i] = k < njr && jr[k].src_uid == sl.v[i].uid;
		}
		if ((s = reconcile(m, src, dst, &fc, sf->dst, &sl, pending, from_uid, map, nmap,
		                   dbi.exists == 0, e)))
			goto out;
		map_free(map, nmap);
		if ((s = store_map_load(m->store, fr.id, &map, &nmap, e)))
			goto out;
	}
	if (njr > 0 && sl.n == 0) {
		/* Source folder emptied: the journal rows have nothing to match. */
		s = store_begin(m->store, e);
		for (size_t i = 0; !s && i < njr; i++)
			s = store_journal_del(m->store, fr.id, jr[i].src_uid, e);
		if (!s)
			s = store_commit(m->store, e);
		if (s)
			goto out;
	}

	/* What to copy, what to skip, what to re-flag. */
	uint64_t limit = imap_appendlimit(dst);
	if (job->o.max_size > 0 && (limit == 0 || (uint64_t)job->o.max_size < limit))
		limit = (uint64_t)job->o.max_size;
	int64_t cutoff = clock_now() - (int64_t)job->o.prestage_days * 86400;
	todo = x_malloc((sl.n ? sl.n : 1) * sizeof *todo);
	big = x_malloc((sl.n ? sl.n : 1) * sizeof *big);
	reflag = x_malloc((sl.n ? sl.n : 1) * sizeof *reflag);
	reflag_ent = x_malloc((sl.n ? sl.n : 1) * sizeof *reflag_ent);
	size_t trial_left = job->o.pass == PASS_TRIAL ?
	                    (nmap >= (size_t)job->o.trial_items ? 0 : (size_t)job->o.trial_items - nmap) : SIZE_MAX;
	bool undone = false;
	for (size_t i = 0; i < sl.n; i++) {
		struct smsg *msg = &sl.v[i];
		const struct map_entry *me = map_find(map, nmap, msg->uid);
		if (me) {
			if (strcmp(me->flags ? me->flags : "", msg->flags) != 0) {
				reflag[nreflag] = msg;
				reflag_ent[nreflag++] = me;
			}
			continue;
		}
		if (job->o.pass == PASS_PRESTAGE && msg->idate >= cutoff) {
			undone = true;
			continue;
		}
		if (limit && msg->size > limit) {
			big[nbig++] = msg;
			continue;
		}
		if (trial_left == 0) {
			undone = true;
			continue;
		}
		if (trial_left != SIZE_MAX)
			trial_left--;
		todo[ntodo++] = msg;
	}
	if ((s = record_oversize(m, src, &fc, big, nbig, limit, e)))
		goto out;

	s = copy_messages(m, src, dst, &fc, sf->dst, todo, ntodo, e);
	/* Without UIDPLUS no copy was mapped from the answers: match them by
	 * hash now (the journal still lists them). */
	if (!s && ntodo && !imap_has_cap(dst, "UIDPLUS")) {
		bool *pend = x_calloc(sl.n, sizeof *pend);
		for (size_t t = 0; t < ntodo; t++)
			pend[todo[t] - sl.v] = true;
		map_free(map, nmap);
		map = NULL;
		nmap = 0;
		s = store_map_load(m->store, fr.id, &map, &nmap, e);
		if (!s)
			s = reconcile(m, src, dst, &fc, sf->dst, &sl, pend, 1, map, nmap, false, e);
		free(pend);
	}
	if (!s)
		s = sync_flags(m, dst, &fc, sf->dst, reflag, reflag_ent, nreflag, e);
	if (!s && recovering)
		s = sweep_duplicates(m, src, dst, &fc, sweep_from, e);
	if (!s) {
		free(fr.dst_name);
		fr.dst_name = x_strdup(sf->dst);
		fr.src_uidvalidity = sbi.uidvalidity;
		fr.dst_uidvalidity = dbi.uidvalidity;
		/* Only a pass that left nothing undone may skip the folder next time. */
		bool all_done = complete_pass && !undone && nbig == 0;
		fr.src_uidnext = all_done ? sbi.uidnext : 0;
		fr.src_modseq = all_done ? sbi.modseq : 0;
		s = store_folder_update(m->store, &fr, e);
	}
out:
	if (s)
		err_prefix(e, "folder \"%s\"", sf->name);
	free(todo);
	free(big);
	free(reflag);
	free(reflag_ent);
	free(pending);
	free(jr);
	map_free(map, nmap);
	mlist_free(&sl);
	folder_row_free(&fr);
	return s;
}

/* ------------------------------------------------------------------------ */
/* The mailbox                                                              */

struct session {
	struct imap *src, *dst;
	struct flist sf, df;
	struct fm_rules rules;
	bool rules_ready;
};

static void session_end(struct session *ss)
{
	imap_free(&ss->src);
	imap_free(&ss->dst);
	flist_free(&ss->sf);
	flist_free(&ss->df);
	if (ss->rules_ready)
		fm_rules_free(&ss->rules);
}

/* Connects both sides, lists folders and maps every source folder. */
static enum st session_start(struct mig_ctx *m, struct session *ss, struct err *e)
{
	memset(ss, 0, sizeof *ss);
	int to = m->cfg->timeout_s;
	enum st s = mig_connect(m->src, m->src_secret, m->job->src_user, "source", to, &ss->src, e);
	if (!s)
		s = mig_connect(m->dst, m->dst_secret, m->job->dst_user, "target", to, &ss->dst, e);
	if (!s) {
		m->connected = true;
		s = list_folders(ss->src, &ss->sf, e);
	}
	if (!s)
		s = list_folders(ss->dst, &ss->df, e);
	if (s)
		return s;
	s = fm_rules_init(&ss->rules, ss->sf.delim, ss->df.delim, m->job->o.sep_char,
	                  m->job->o.include, m->job->o.exclude, m->job->o.folder_map, e);
	if (s)
		return s;
	ss->rules_ready = true;
	for (size_t i = 0; i < ss->sf.n; i++) {
		const struct mfolder *f = &ss->sf.v[i];
		if (f->special == SU_NONE)
			continue;
		for (size_t k = 0; k < ss->df.n; k++)
			if (ss->df.v[k].special == f->special) {
				fm_add_prefix(&ss->rules, strip_prefix(&ss->sf, f->name),
				              strip_prefix(&ss->df, ss->df.v[k].name));
				break;
			}
	}
	for (size_t i = 0; i < ss->sf.n; i++) {
		char *note = NULL, *rel = NULL;
		if (!fm_map(&ss->rules, strip_prefix(&ss->sf, ss->sf.v[i].name), &rel, &note))
			continue;
		ss->sf.v[i].note = note;
		const char *pfx = ss->df.prefix && strcasecmp(rel, "INBOX") ? ss->df.prefix : "";
		ss->sf.v[i].dst = x_asprintf("%s%s", pfx, rel);
		free(rel);
	}
	return ST_OK;
}

static enum st ensure_target_folder(struct mig_ctx *m, struct session *ss, const struct mfolder *f,
                                    struct err *e)
{
	struct mfolder *have = flist_find(&ss->df, f->dst);
	if (!have) {
		unsigned tag = imap_cmd_begin(ss->dst, "CREATE");
		imap_arg_mailbox(ss->dst, f->dst);
		imap_cmd_end(ss->dst);
		struct err ce;
		enum st s = imap_wait(ss->dst, tag, NULL, NULL, &ce);
		if (s && !strstr(ce.msg, "ALREADYEXISTS")) {
			*e = ce;
			err_prefix(e, "creating target folder \"%s\"", f->dst);
			return st_retry_class(s) == RETRY_ITEM ? ST_MAILBOX : s;
		}
		ss->df.v = x_realloc(ss->df.v, (ss->df.n + 1) * sizeof *ss->df.v);
		have = &ss->df.v[ss->df.n++];
		memset(have, 0, sizeof *have);
		have->name = x_strdup(f->dst);
		store_event(m->store, EV_INFO, m->job->id, "created target folder \"%s\"", f->dst);
	}
	if (f->subscribed && !have->subscribed) {
		unsigned tag = imap_cmd_begin(ss->dst, "SUBSCRIBE");
		imap_arg_mailbox(ss->dst, f->dst);
		imap_cmd_end(ss->dst);
		struct err ce;
		if (imap_wait(ss->dst, tag, NULL, NULL, &ce) == ST_OK)
			have->subscribed = true;
	}
	return ST_OK;
}

enum st mig_run(struct mig_ctx *m, struct err *e)
{
	struct session ss;
	struct job *job = m->job;
	enum st s = session_start(m, &ss, e);
	if (s) {
		session_end(&ss);
		return s;
	}
	if (job->o.pass == PASS_VERIFY_CREDENTIALS) {
		store_event(m->store, EV_INFO, job->id, "credentials verified: source lists %zu folder(s), "
		            "target lists %zu", ss.sf.n, ss.df.n);
		session_end(&ss);
		return ST_OK;
	}
	int64_t items_before = job->items_done, skipped_before = job->items_skipped,
	        failed_before = job->items_failed, flags_before = job->flags_updated,
	        bytes_before = job->bytes_done;
	int64_t pass_id = 0;
	struct err pe;
	if (store_pass_begin(m->store, job->id, pass_kind_name(job->o.pass), &pass_id, &pe))
		log_warn("%s", pe.msg);
	for (size_t i = 0; i < ss.sf.n && !s; i++) {
		const struct mfolder *f = &ss.sf.v[i];
		if (!f->dst)
			continue; /* excluded by the rules */
		if (m->cancel && *m->cancel) {
			s = err_set(e, ST_CANCELED, "stopped at a checkpoint");
			break;
		}
		s = ensure_target_folder(m, &ss, f, e);
		if (!s && !f->noselect) {
			if (!m->quiet)
				log_info("%s: folder \"%s\" -> \"%s\"", job->src_user, f->name, f->dst);
			s = copy_folder(m, ss.src, ss.dst, f, e);
		}
		if (s && (st_retry_class(s) == RETRY_ITEM || s == ST_MAILBOX) && s != ST_QUOTA) {
			/* One folder that cannot be read or created: report, go on. */
			store_event(m->store, EV_ERROR, job->id, "%s", e->msg);
			job->items_failed++;
			s = ST_OK;
		}
		if (job->o.bad_item_limit >= 0 && job->items_failed > job->o.bad_item_limit) {
			s = err_set(e, ST_MAILBOX, "%lld items failed, more than the bad-item limit (%d)",
			            (long long)job->items_failed, job->o.bad_item_limit);
		}
	}
	store_job_progress(m->store, job, NULL, &pe);
	if (pass_id)
		store_pass_end(m->store, pass_id, s ? st_name(s) : "ok", job->items_done - items_before,
		               job->bytes_done - bytes_before, job->items_skipped - skipped_before,
		               job->items_failed - failed_before, job->flags_updated - flags_before, &pe);
	store_event(m->store, s ? EV_WARN : EV_INFO, job->id,
	            "%s pass %s: %lld copied, %lld re-flagged, %lld skipped, %lld failed",
	            pass_kind_name(job->o.pass), s ? "stopped" : "finished",
	            (long long)(job->items_done - items_before), (long long)(job->flags_updated - flags_before),
	            (long long)(job->items_skipped - skipped_before),
	            (long long)(job->items_failed - failed_before));
	session_end(&ss);
	if (!s && (job->items_skipped > 0 || job->items_failed > 0))
		return err_set(e, ST_PARTIAL, "%lld item(s) skipped and %lld failed: see 'mailferry skipped --job %lld'",
		               (long long)job->items_skipped, (long long)job->items_failed, (long long)job->id);
	return s;
}

enum st mig_run_with_retries(struct mig_ctx *m, struct err *e)
{
	int max = m->cfg->retry_max > 0 ? m->cfg->retry_max : 0;
	for (int attempt = 0;; attempt++) {
		enum st s = mig_run(m, e);
		enum retry_class rc = st_retry_class(s);
		if (s == ST_OK || s == ST_PARTIAL || (rc != RETRY_NOW && rc != RETRY_LATER) ||
		    attempt >= max || (m->cancel && *m->cancel))
			return s;
		/* A server that never answered is down or misconfigured: say so
		 * now (exit 75, run again later) instead of retrying blindly. */
		if (!m->connected && (s == ST_NET || s == ST_TIMEOUT))
			return s;
		int wait = rc == RETRY_LATER ? 5 << (attempt < 4 ? attempt : 4) : 1 << (attempt < 3 ? attempt : 3);
		if (e->retry_after_s > 0)
			wait = e->retry_after_s;
		if (rc == RETRY_NOW && attempt == 0)
			wait = 0;
		store_event(m->store, EV_WARN, m->job->id, "%s; retrying in %d s (attempt %d of %d)", e->msg,
		            wait, attempt + 1, max);
		for (int t = 0; t < wait * 10 && !(m->cancel && *m->cancel); t++)
			usleep(100000);
	}
}

/* ------------------------------------------------------------------------ */
/* Verify                                                                   */

/* qsort has no context argument: the list being sorted, for cmp_size_date
 * (verify runs one folder at a time on one thread). */
static _Thread_local const struct smsg *g_sort_list;

static int cmp_size_date(const void *a, const void *b)
{
	const struct smsg *x = &g_sort_list[*(const size_t *)a], *y = &g_sort_list[*(const size_t *)b];
	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	if (x->idate != y->idate)
		return x->idate < y->idate ? -1 : 1;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static enum st verify_folder(struct mig_ctx *m, struct session *ss, const struct mfolder *f,
                             bool deep, struct verify_result *vr, struct err *e)
{
	struct folder_row fr;
	enum st s = store_folder_get(m->store, m->job->pair_id, f->name, &fr, e);
	if (s)
		return s;
	struct boxinfo bi;
	struct mlist sl = { 0 }, tl = { 0 };
	struct map_entry *map = NULL;
	size_t nmap = 0;
	uint32_t *skipped = NULL;
	size_t nskipped = 0;
	const char *dst = fr.dst_name ? fr.dst_name : f->dst;
	if ((s = select_box(ss->src, "EXAMINE", f->name, false, &bi, e)))
		goto out;
	if (bi.exists && (s = list_messages(ss->src, "1:*", &sl, e)))
		goto out;
	if (!flist_find(&ss->df, dst)) {
		vr->missing += (int64_t)sl.n;
		vr->source += (int64_t)sl.n;
		store_event(m->store, EV_WARN, m->job->id, "verify: target folder \"%s\" does not exist", dst);
		goto out;
	}
	if ((s = select_box(ss->dst, "EXAMINE", dst, false, &bi, e)))
		goto out;
	if (bi.exists && (s = list_messages(ss->dst, "1:*", &tl, e)))
		goto out;
	if ((s = store_map_load(m->store, fr.id, &map, &nmap, e)))
		goto out;
	if ((s = store_skipped_uids(m->store, fr.id, &skipped, &nskipped, e)))
		goto out;
	bool *used = x_calloc(tl.n ? tl.n : 1, sizeof *used);
	bool *want = deep ? x_calloc(tl.n ? tl.n : 1, sizeof *want) : NULL;
	const struct map_entry **for_t = x_calloc(tl.n ? tl.n : 1, sizeof *for_t);
	size_t *unmatched = x_malloc((sl.n ? sl.n : 1) * sizeof *unmatched), nunmatched = 0;
	bool *want_src = deep ? x_calloc(sl.n ? sl.n : 1, sizeof *want_src) : NULL;
	size_t *pair_of = deep ? x_calloc(tl.n ? tl.n : 1, sizeof *pair_of) : NULL; /* src index + 1 */
	vr->folders++;
	vr->source += (int64_t)sl.n;
	vr->target += (int64_t)tl.n;
	for (size_t i = 0; i < sl.n; i++) {
		const struct smsg *sm = &sl.v[i];
		const struct map_entry *me = map_find(map, nmap, sm->uid);
		struct smsg key = { .uid = me ? me->dst_uid : 0 };
		struct smsg *tm = me ? bsearch_n(&key, tl.v, tl.n, sizeof *tl.v, cmp_smsg) : NULL;
		if (!tm) {
			if (bsearch_n(&sm->uid, skipped, nskipped, sizeof *skipped, cmp_u32)) {
				vr->skipped++;
			} else {
				vr->missing++;
				unmatched[nunmatched++] = i;
			}
			continue;
		}
		size_t ti = (size_t)(tm - tl.v);
		used[ti] = true;
		if (tm->size != sm->size || strcmp(tm->flags, sm->flags) != 0 || tm->idate != sm->idate) {
			vr->differ++;
			store_event(m->store, EV_WARN, m->job->id,
			            "verify: \"%s\" UID %u differs on the target (UID %u): size %llu/%llu, "
			            "flags (%s)/(%s)", f->name, sm->uid, tm->uid, (unsigned long long)sm->size,
			            (unsigned long long)tm->size, sm->flags, tm->flags);
			continue;
		}
		if (deep) {
			want[ti] = true;
			for_t[ti] = me;
		}
	}
	/* Messages the map does not know (migrated through another endpoint
	 * name, by another tool, or before the store was lost) are matched by
	 * size and arrival time; --deep then compares their bytes too. */
	if (nunmatched > 0) {
		size_t *order = x_malloc((tl.n ? tl.n : 1) * sizeof *order);
		size_t no = 0;
		for (size_t k = 0; k < tl.n; k++)
			if (!used[k])
				order[no++] = k;
		g_sort_list = tl.v;
		qsort_n(order, no, sizeof *order, cmp_size_date);
		for (size_t u = 0; u < nunmatched; u++) {
			const struct smsg *sm = &sl.v[unmatched[u]];
			size_t lo = 0, hi = no;
			while (lo < hi) {   /* first candidate >= (size, date) */
				size_t mid = (lo + hi) / 2;
				const struct smsg *t = &tl.v[order[mid]];
				if (t->size < sm->size || (t->size == sm->size && t->idate < sm->idate))
					lo = mid + 1;
				else
					hi = mid;
			}
			for (; lo < no; lo++) {
				const struct smsg *t = &tl.v[order[lo]];
				if (t->size != sm->size || t->idate != sm->idate)
					break;
				if (used[order[lo]])
					continue;
				used[order[lo]] = true;
				vr->missing--;
				if (strcmp(t->flags, sm->flags) != 0)
					vr->differ++;
				else if (deep) {
					want[order[lo]] = true;
					want_src[unmatched[u]] = true;
					pair_of[order[lo]] = unmatched[u] + 1;
				}
				break;
			}
		}
		free(order);
	}
	for (size_t k = 0; k < tl.n; k++)
		if (!used[k])
			vr->extra++;
	if (deep && tl.n) {
		s = hash_messages(ss->dst, tl.v, tl.n, want, e);
		if (!s && sl.n)
			s = hash_messages(ss->src, sl.v, sl.n, want_src, e);
		for (size_t k = 0; !s && k < tl.n; k++) {
			if (!want[k])
				continue;
			const unsigned char *expect = pair_of[k] ? sl.v[pair_of[k] - 1].hash : for_t[k]->hash;
			if (!tl.v[k].have_hash || memcmp(tl.v[k].hash, expect, 32) != 0)
				vr->differ++;
		}
	}
	free(used);
	free(want);
	free(for_t);
	free(unmatched);
	free(want_src);
	free(pair_of);
out:
	free(skipped);
	map_free(map, nmap);
	mlist_free(&sl);
	mlist_free(&tl);
	folder_row_free(&fr);
	return s;
}

enum st mig_verify(struct mig_ctx *m, bool deep, struct verify_result *vr, struct err *e)
{
	memset(vr, 0, sizeof *vr);
	struct session ss;
	enum st s = session_start(m, &ss, e);
	for (size_t i = 0; !s && i < ss.sf.n; i++) {
		const struct mfolder *f = &ss.sf.v[i];
		if (!f->dst || f->noselect)
			continue;
		s = verify_folder(m, &ss, f, deep, vr, e);
	}
	session_end(&ss);
	if (!s) {
		char *v = mig_verdict(m, vr);
		store_event(m->store, vr->missing || vr->differ ? EV_WARN : EV_INFO, m->job->id, "%s", v);
		free(v);
	}
	return s;
}

/* 5412 -> "5 412", as people read large counts. */
static void group_digits(int64_t v, char *buf, size_t cap)
{
	char raw[32];
	snprintf(raw, sizeof raw, "%lld", (long long)v);
	size_t len = strlen(raw), o = 0;
	for (size_t i = 0; i < len && o + 2 < cap; i++) {
		if (i && (len - i) % 3 == 0 && raw[i - 1] != '-')
			buf[o++] = ' ';
		buf[o++] = raw[i];
	}
	buf[o] = '\0';
}

char *mig_verdict(const struct mig_ctx *m, const struct verify_result *vr)
{
	char total[32], on[32];
	group_digits(vr->source, total, sizeof total);
	group_digits(vr->source - vr->missing - vr->skipped, on, sizeof on);
	const char *grade = vr->missing == 0 && vr->differ == 0 ? (vr->skipped ? "B" : "A")
	                    : (vr->missing + vr->differ) * 100 < vr->source ? "C" : "F";
	struct sbuf b;
	sb_init(&b);
	if (vr->missing == 0 && vr->skipped == 0)
		sb_printf(&b, "all %s messages of %s are on the target", total, m->job->src_user);
	else
		sb_printf(&b, "%s of %s messages of %s are on the target", on, total, m->job->src_user);
	sb_printf(&b, "; %lld missing, %lld extra, %lld differ", (long long)vr->missing,
	          (long long)vr->extra, (long long)vr->differ);
	if (vr->skipped)
		sb_printf(&b, ", %lld skipped (see 'mailferry skipped')", (long long)vr->skipped);
	sb_printf(&b, " (%d folders; consistency grade %s)", vr->folders, grade);
	return b.data;
}
