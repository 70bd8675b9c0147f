/* drv_imap.c - the mailbox driver for IMAP servers; see driver.h.
 *
 * Built on imap.c (one pipelined connection).  Fetches are one UID FETCH per
 * message, many in flight; the server may answer them in any order, so the
 * UID in each response says which message a body belongs to.  Appends use
 * non-synchronizing literals (LITERAL+) when offered, so a message streams
 * in without waiting for the server; without it, each literal waits for the
 * server's "+" (one round trip per message, the protocol's own limit). */
#include "config.h"

#include "driver.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap.h"
#include "imap_utf7.h"
#include "log.h"

/* Fetches in flight at once. */
#define FETCH_WINDOW 48

struct pending_append {
	unsigned tag;
	size_t token;
};

struct drv {
	struct imap *im;
	bool condstore;
	/* fetch pipeline */
	struct drv_msg **freq;         /* requested, in request order */
	unsigned *ftag;
	bool *fgot;                    /* body received */
	size_t fhead, ftail, fcap;     /* [fhead, ftail) in flight or queued */
	size_t fsent;                  /* requests [fhead, fsent) are on the wire */
	size_t fdone;                  /* answered among the in-flight (for the window) */
	bool *fans;                    /* answered */
	/* append pipeline */
	char *afolder;
	drv_append_done afn;
	void *actx;
	struct pending_append *ap;
	size_t atail, acap;
	bool multi;                    /* MULTIAPPEND with LITERAL+ in use */
	bool batch_open;               /* a MULTIAPPEND command awaits more messages */
	unsigned batch_tag;
	size_t batch_count;
	uint64_t batch_bytes;
	unsigned waiting_tag;          /* APPEND waiting for "+" (no LITERAL+) */
	bool waiting_refused;
	/* A CREATE (and SUBSCRIBE) sent but not yet answered: it shares a
	 * round trip with the SELECT that follows it. */
	unsigned create_tag, subscribe_tag;
	char *create_name;
	bool literal_plus;
	bool literal_minus;            /* non-synchronizing literals up to 4096 bytes */
};

/* --- shared helpers --------------------------------------------------------- */

void drv_folders_free(struct drv_folders *l)
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

struct drv_folder *drv_folders_find(struct drv_folders *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].name, name) ||
		    (!strcasecmp(name, "INBOX") && !strcasecmp(l->v[i].name, "INBOX")))
			return &l->v[i];
	return NULL;
}

const char *drv_strip_prefix(const struct drv_folders *l, const char *name)
{
	size_t n = l->prefix ? strlen(l->prefix) : 0;
	if (n && !strncmp(name, l->prefix, n) && name[n])
		return name + n;
	return name;
}

void drv_msgs_free(struct drv_msgs *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].date_raw);
		free(l->v[i].flags);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}

const struct drv_ops *drv_for_endpoint(const struct endpoint *ep)
{
	if (!strncasecmp(ep->url, "imap://", 7) || !strncasecmp(ep->url, "imaps://", 8))
		return &drv_imap_ops;
	return NULL;
}

/* --- connecting ------------------------------------------------------------- */

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
	return b.data;
}

enum st drv_imap_login(const struct endpoint *ep, const char *secret, const char *user,
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
			l.authzid = user;   /* the admin acts for the user */
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

static enum st di_connect(const struct endpoint *ep, const char *secret, const char *user,
                          const char *role, int timeout_s, struct drv **out, struct err *e)
{
	struct imap *im = NULL;
	enum st s = drv_imap_login(ep, secret, user, role, timeout_s, &im, e);
	if (s)
		return s;
	struct drv *d = x_calloc(1, sizeof *d);
	d->im = im;
	d->condstore = imap_has_cap(im, "CONDSTORE");
	d->literal_plus = imap_has_cap(im, "LITERAL+");
	d->literal_minus = imap_has_cap(im, "LITERAL-");
	d->multi = d->literal_plus && imap_has_cap(im, "MULTIAPPEND");
	*out = d;
	return ST_OK;
}

static void di_close(struct drv **p)
{
	struct drv *d = *p;
	if (!d)
		return;
	imap_free(&d->im);
	free(d->freq);
	free(d->ftag);
	free(d->fgot);
	free(d->fans);
	free(d->afolder);
	free(d->ap);
	free(d->create_name);
	free(d);
	*p = NULL;
}

static bool di_has(struct drv *d, enum drv_feature f)
{
	switch (f) {
	case DRV_APPEND_IDS: return imap_has_cap(d->im, "UIDPLUS");
	case DRV_CHANGE_COUNTER: return d->condstore;
	}
	return false;
}

static uint64_t di_size_limit(struct drv *d) { return imap_appendlimit(d->im); }
static const char *di_label(struct drv *d) { return imap_label(d->im); }

/* --- folders ---------------------------------------------------------------- */

static char *val_dup(const struct imap_val *v)
{
	return x_strndup(v->s, v->len);
}

/* Mailbox names arrive in modified UTF-7; a server that sends raw 8-bit
 * names gets them back unchanged. */
static char *decode_name(const struct imap_val *v)
{
	char *raw = val_dup(v);
	char *utf8 = imap_utf7_decode(raw);
	if (!utf8)
		return raw;
	free(raw);
	return utf8;
}

/* "* NAMESPACE (("INBOX." ".")) NIL NIL": the first personal namespace. */
static void on_namespace(void *ctx, const struct imap_resp *r)
{
	struct drv_folders *l = ctx;
	if (!r->kw || strcmp(r->kw, "NAMESPACE") != 0 || r->nargs < 1 || r->args[0].type != IV_LIST ||
	    r->args[0].n < 1 || r->args[0].items[0].type != IV_LIST || r->args[0].items[0].n < 1)
		return;
	const struct imap_val *p = &r->args[0].items[0].items[0];
	if (p->type != IV_STRING)
		return;
	free(l->prefix);
	l->prefix = decode_name(p);
}

static void on_list(void *ctx, const struct imap_resp *r)
{
	struct drv_folders *l = ctx;
	bool lsub = r->kw && !strcmp(r->kw, "LSUB");
	if (!r->kw || (strcmp(r->kw, "LIST") != 0 && !lsub) || r->nargs < 3)
		return;
	const struct imap_val *attrs = &r->args[0], *delim = &r->args[1], *name = &r->args[2];
	if (attrs->type != IV_LIST || name->type == IV_LIST || name->type == IV_NIL)
		return;
	char *utf8 = decode_name(name);
	if (!l->delim && delim->type == IV_STRING && delim->len == 1)
		l->delim = delim->s[0];
	struct drv_folder *f = drv_folders_find(l, utf8);
	if (!f) {
		if (lsub) {
			free(utf8);   /* a subscription to a folder not listed */
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

static void on_list_or_namespace(void *ctx, const struct imap_resp *r)
{
	if (r->kw && !strcmp(r->kw, "NAMESPACE"))
		on_namespace(ctx, r);
	else
		on_list(ctx, r);
}

static enum st di_list_folders(struct drv *d, struct drv_folders *l, struct err *e)
{
	struct imap *im = d->im;
	memset(l, 0, sizeof *l);
	/* Every command goes out at once: one round trip for the lot. */
	unsigned tags[3], n = 0;
	if (imap_has_cap(im, "NAMESPACE")) {
		tags[n++] = imap_cmd_begin(im, "NAMESPACE");
		imap_cmd_end(im);
	}
	bool ext = imap_has_cap(im, "LIST-EXTENDED");
	tags[n++] = imap_cmd_begin(im, "LIST");
	if (ext && imap_has_cap(im, "SPECIAL-USE"))
		imap_arg_raw(im, "\"\" \"*\" RETURN (SPECIAL-USE SUBSCRIBED)");
	else if (ext)
		imap_arg_raw(im, "\"\" \"*\" RETURN (SUBSCRIBED)");
	else
		imap_arg_raw(im, "\"\" \"*\"");
	imap_cmd_end(im);
	if (!ext) {
		tags[n++] = imap_cmd_begin(im, "LSUB");
		imap_arg_raw(im, "\"\" \"*\"");
		imap_cmd_end(im);
	}
	enum st s = ST_OK;
	for (unsigned i = 0; i < n && !s; i++)
		s = imap_wait(im, tags[i], on_list_or_namespace, l, e);
	if (!s && !drv_folders_find(l, "INBOX")) {
		l->v = x_realloc(l->v, (l->n + 1) * sizeof *l->v);
		memset(&l->v[l->n], 0, sizeof l->v[0]);
		l->v[l->n++].name = x_strdup("INBOX");
	}
	if (!l->prefix)
		l->prefix = x_strdup("");
	return s;
}

static enum st settle_create(struct drv *d, struct err *e);

static enum st di_create_folder(struct drv *d, const char *name, bool subscribe, struct err *e)
{
	/* At most one CREATE in the air: the previous one (a parent folder
	 * that is never opened, say) is answered first. */
	enum st s = settle_create(d, e);
	if (s)
		return s;
	d->create_tag = imap_cmd_begin(d->im, "CREATE");
	imap_arg_mailbox(d->im, name);
	imap_cmd_end(d->im);
	d->subscribe_tag = 0;
	if (subscribe) {
		d->subscribe_tag = imap_cmd_begin(d->im, "SUBSCRIBE");
		imap_arg_mailbox(d->im, name);
		imap_cmd_end(d->im);
	}
	free(d->create_name);
	d->create_name = x_strdup(name);
	return ST_OK;
}

/* Collects the answer to a pending CREATE (already on its way with the
 * commands sent after it).  "Already exists" is fine. */
static enum st settle_create(struct drv *d, struct err *e)
{
	if (!d->create_tag)
		return ST_OK;
	struct err ce;
	enum st s = imap_wait(d->im, d->create_tag, NULL, NULL, &ce);
	d->create_tag = 0;
	if (s && strstr(ce.msg, "ALREADYEXISTS"))
		s = ST_OK;
	if (s) {
		*e = ce;
		err_prefix(e, "creating folder \"%s\"", d->create_name);
	}
	if (d->subscribe_tag) {
		struct err se;   /* a subscription is a nicety */
		enum st ss = imap_wait(d->im, d->subscribe_tag, NULL, NULL, &se);
		if (ss == ST_NET || ss == ST_TIMEOUT) {
			s = ss;
			*e = se;
		}
		d->subscribe_tag = 0;
	}
	return s;
}

static void on_select(void *ctx, const struct imap_resp *r)
{
	struct drv_box *b = ctx;
	if (r->kw && !strcmp(r->kw, "EXISTS") && r->has_num)
		b->count = r->num;
	if (!r->code)
		return;
	uint64_t v = strtoull(r->code_arg, NULL, 10);
	if (!strcmp(r->code, "UIDVALIDITY"))
		b->validity = (uint32_t)v;
	else if (!strcmp(r->code, "UIDNEXT"))
		b->next_id = (uint32_t)v;
	else if (!strcmp(r->code, "HIGHESTMODSEQ"))
		b->modseq = v;
}

static enum st di_open_folder(struct drv *d, const char *name, bool writable, bool track,
                              struct drv_box *b, struct err *e)
{
	memset(b, 0, sizeof *b);
	const char *verb = writable ? "SELECT" : "EXAMINE";
	unsigned tag = imap_cmd_begin(d->im, verb);
	imap_arg_mailbox(d->im, name);
	if (track && d->condstore)
		imap_arg_raw(d->im, "(CONDSTORE)");
	imap_cmd_end(d->im);
	enum st s = settle_create(d, e);
	if (s) {
		struct err ignored;
		(void)imap_wait(d->im, tag, NULL, NULL, &ignored);
		return s;
	}
	s = imap_wait(d->im, tag, on_select, b, e);
	if (s)
		err_prefix(e, "%s \"%s\"", verb, name);
	return s;
}

static void on_status(void *ctx, const struct imap_resp *r)
{
	struct drv_box *b = ctx;
	if (!r->kw || strcmp(r->kw, "STATUS") != 0 || r->nargs < 2 || r->args[1].type != IV_LIST)
		return;
	const struct imap_val *l = &r->args[1];
	uint64_t v;
	if (imap_val_u64(imap_fetch_item(l, "UIDNEXT"), UINT32_MAX, &v))
		b->next_id = (uint32_t)v;
	if (imap_val_u64(imap_fetch_item(l, "UIDVALIDITY"), UINT32_MAX, &v))
		b->validity = (uint32_t)v;
	if (imap_val_u64(imap_fetch_item(l, "MESSAGES"), UINT32_MAX, &v))
		b->count = (uint32_t)v;
}

static enum st di_folder_status(struct drv *d, const char *name, struct drv_box *b, struct err *e)
{
	memset(b, 0, sizeof *b);
	enum st cs = settle_create(d, e);
	if (cs)
		return cs;
	unsigned tag = imap_cmd_begin(d->im, "STATUS");
	imap_arg_mailbox(d->im, name);
	imap_arg_raw(d->im, "(MESSAGES UIDNEXT UIDVALIDITY)");
	imap_cmd_end(d->im);
	enum st s = imap_wait(d->im, tag, on_status, b, e);
	if (s)
		err_prefix(e, "STATUS \"%s\"", name);
	return s;
}

/* --- message lists ------------------------------------------------------------ */

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
	if (n > 1)
		qsort(v, n, sizeof *v, cmp_flag);
	struct sbuf b;
	sb_init(&b);
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_addc(&b, ' ');
		sb_adds(&b, v[i]);
		free(v[i]);
	}
	free(v);
	return b.data;
}

static void on_fetch_meta(void *ctx, const struct imap_resp *r)
{
	struct drv_msgs *l = ctx;
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
	l->v = x_grow(l->v, l->n, &l->cap, sizeof *l->v, 256);
	struct drv_msg *m = &l->v[l->n++];
	memset(m, 0, sizeof *m);
	m->id = (uint32_t)uid;
	m->seq = r->has_num ? r->num : 0;
	m->size = size;
	m->flags = norm_flags(fl);
	m->date_raw = val_dup(dt);
	if (!imap_parse_date(dt->s, dt->len, &m->date))
		m->date = 0;
}

static int cmp_msg(const void *a, const void *b)
{
	uint32_t x = ((const struct drv_msg *)a)->id, y = ((const struct drv_msg *)b)->id;
	return x < y ? -1 : x > y;
}

static enum st di_list_messages(struct drv *d, uint32_t from_id, struct drv_msgs *l, struct err *e)
{
	memset(l, 0, sizeof *l);
	char args[96];
	snprintf(args, sizeof args, "%u:* (UID FLAGS INTERNALDATE RFC822.SIZE)", from_id ? from_id : 1);
	enum st s = imap_simple(d->im, "UID FETCH", args, on_fetch_meta, l, e);
	if (s)
		return s;
	if (l->n > 1)
		qsort(l->v, l->n, sizeof *l->v, cmp_msg);
	/* "n:*" names the last message even when its UID is below n. */
	size_t k = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].id >= from_id) {
			l->v[k++] = l->v[i];
		} else {
			free(l->v[i].date_raw);
			free(l->v[i].flags);
		}
	}
	l->n = k;
	return ST_OK;
}

static void on_search(void *ctx, const struct imap_resp *r)
{
	struct sbuf *ids = ctx;   /* array of uint32_t */
	if (!r->kw || strcmp(r->kw, "SEARCH") != 0)
		return;
	for (size_t i = 0; i < r->nargs; i++) {
		uint64_t v;
		if (imap_val_u64(&r->args[i], UINT32_MAX, &v)) {
			uint32_t u = (uint32_t)v;
			sb_add(ids, &u, sizeof u);
		}
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static enum st di_list_ids(struct drv *d, uint32_t **ids, size_t *n, struct err *e)
{
	struct sbuf buf;
	sb_init(&buf);
	enum st s = imap_simple(d->im, "UID SEARCH", "ALL", on_search, &buf, e);
	*n = s ? 0 : buf.len / sizeof **ids;
	*ids = x_malloc((*n ? *n : 1) * sizeof **ids);
	if (*n)
		memcpy(*ids, buf.data, *n * sizeof **ids);
	sb_free(&buf);
	if (*n > 1)
		qsort(*ids, *n, sizeof **ids, cmp_u32);
	return s;
}

/* --- fetching bodies -------------------------------------------------------- */

/* Which requested message a streamed FETCH body belongs to: the UID in the
 * response prefix, or, when the server puts UID after the body, the
 * sequence number.  Searches the requests in flight. */
static struct drv_msg *body_owner(struct drv *d, const char *prefix, size_t plen, size_t *slot)
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
	for (size_t i = d->fhead; i < d->fsent; i++) {
		struct drv_msg *m = d->freq[i];
		if (d->fans[i] || d->fgot[i])
			continue;
		if ((uid && m->id == uid) || (!uid && seq && m->seq == seq)) {
			*slot = i;
			return m;
		}
	}
	return NULL;
}

static void di_fetch_request(struct drv *d, struct drv_msg *msg)
{
	if (d->fhead == d->ftail) {
		d->fhead = d->ftail = d->fsent = 0;
	} else if (d->fhead > 1024 && d->fhead * 2 > d->ftail) {
		/* Slide the window down so memory follows what is in flight. */
		size_t n = d->ftail - d->fhead;
		memmove(d->freq, d->freq + d->fhead, n * sizeof *d->freq);
		memmove(d->ftag, d->ftag + d->fhead, n * sizeof *d->ftag);
		memmove(d->fgot, d->fgot + d->fhead, n * sizeof *d->fgot);
		memmove(d->fans, d->fans + d->fhead, n * sizeof *d->fans);
		d->fsent -= d->fhead;
		d->ftail = n;
		d->fhead = 0;
	}
	if (d->ftail == d->fcap) {
		d->fcap = d->fcap ? d->fcap * 2 : 256;
		d->freq = x_realloc(d->freq, d->fcap * sizeof *d->freq);
		d->ftag = x_realloc(d->ftag, d->fcap * sizeof *d->ftag);
		d->fgot = x_realloc(d->fgot, d->fcap * sizeof *d->fgot);
		d->fans = x_realloc(d->fans, d->fcap * sizeof *d->fans);
	}
	d->freq[d->ftail] = msg;
	d->fgot[d->ftail] = false;
	d->fans[d->ftail] = false;
	d->ftail++;
}

static size_t di_fetch_pending(struct drv *d) { return d->ftail - d->fhead; }

/* Puts requests on the wire up to the window; returns how many are in
 * flight. */
static size_t send_fetches(struct drv *d)
{
	size_t in_flight = 0;
	for (size_t i = d->fhead; i < d->fsent; i++)
		in_flight += !d->fans[i];
	while (d->fsent < d->ftail && in_flight < FETCH_WINDOW) {
		char args[48];
		snprintf(args, sizeof args, "%u (UID BODY.PEEK[])", d->freq[d->fsent]->id);
		d->ftag[d->fsent] = imap_cmd_begin(d->im, "UID FETCH");
		imap_arg_raw(d->im, args);
		imap_cmd_end(d->im);
		d->fsent++;
		in_flight++;
	}
	return in_flight;
}

struct body_relay {
	struct drv *d;
	const struct drv_sink *sink;
};

static enum st relay_begin(void *ctx, const char *prefix, size_t plen, uint64_t size, struct err *e)
{
	struct body_relay *br = ctx;
	size_t slot;
	struct drv_msg *m = body_owner(br->d, prefix, plen, &slot);
	if (!m)
		return err_set(e, ST_PROTO, "%s: message body that was not asked for", imap_label(br->d->im));
	br->d->fgot[slot] = true;
	return br->sink->begin(br->sink->ctx, m, size, e);
}

static enum st relay_data(void *ctx, const char *p, size_t n, struct err *e)
{
	struct body_relay *br = ctx;
	return br->sink->data(br->sink->ctx, p, n, e);
}

static enum st relay_end(void *ctx, struct err *e)
{
	struct body_relay *br = ctx;
	return br->sink->end(br->sink->ctx, e);
}

static enum st di_fetch_next(struct drv *d, const struct drv_sink *sink, struct drv_msg **done,
                             enum st *item, struct err *e)
{
	*done = NULL;
	*item = ST_OK;
	if (d->fhead == d->ftail)
		return err_set(e, ST_INTERNAL, "fetch_next without a request");
	send_fetches(d);
	struct body_relay br = { d, sink };
	struct imap_sink isink = { relay_begin, relay_data, relay_end, &br, 0 };
	struct imap_resp r = { 0 };
	enum st s;
	for (;;) {
		s = imap_read(d->im, &r, &isink, e);
		if (s)
			break;
		if (r.kind == RESP_UNTAGGED && r.cond == COND_BYE) {
			s = imap_status_of(&r, "connection", e);
			err_prefix(e, "%s", imap_label(d->im));
			break;
		}
		if (r.kind != RESP_TAGGED)
			continue;
		unsigned tag = imap_tag_num(&r);
		size_t k = d->fhead;
		while (k < d->fsent && (d->ftag[k] != tag || d->fans[k]))
			k++;
		if (k >= d->fsent) {
			s = err_set(e, ST_PROTO, "%s: answer to an unknown command", imap_label(d->im));
			break;
		}
		d->fans[k] = true;
		struct err fe;
		enum st fs = imap_status_of(&r, "UID FETCH", &fe);
		if (fs && st_retry_class(fs) != RETRY_ITEM) {
			s = fs;
			*e = fe;
			err_prefix(e, "%s", imap_label(d->im));
			break;
		}
		*done = d->freq[k];
		*item = fs;
		if (fs)
			*e = fe;
		break;
	}
	imap_resp_free(&r);
	/* Retire answered requests at the head, and refill the window. */
	while (d->fhead < d->fsent && d->fans[d->fhead])
		d->fhead++;
	/* New requests go out in small batches: fewer writes, and the server
	 * never runs dry (a read that must wait flushes them anyway). */
	if (!s && (send_fetches(d) < FETCH_WINDOW / 2 || imap_pending_out(d->im) > 4096))
		s = imap_flush(d->im, e);
	return s;
}

/* Hashing is a fetch whose sink is SHA-256. */
struct hash_sink {
	EVP_MD_CTX *md;
	struct drv_msg *cur;
};

static enum st hs_begin(void *ctx, struct drv_msg *msg, uint64_t size, struct err *e)
{
	(void)size, (void)e;
	struct hash_sink *h = ctx;
	h->cur = msg;
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

static enum st di_hash_messages(struct drv *d, struct drv_msg **msgs, size_t n, struct err *e)
{
	struct hash_sink h = { .md = EVP_MD_CTX_new() };
	struct drv_sink sink = { hs_begin, hs_data, hs_end, &h };
	for (size_t i = 0; i < n; i++) {
		msgs[i]->have_hash = false;
		di_fetch_request(d, msgs[i]);
	}
	enum st s = ST_OK;
	for (size_t i = 0; i < n && !s; i++) {
		struct drv_msg *done;
		enum st item;
		s = di_fetch_next(d, &sink, &done, &item, e);
	}
	EVP_MD_CTX_free(h.md);
	if (s) {
		d->fhead = d->ftail = d->fsent = 0; /* the connection is unusable now */
	}
	return s;
}

struct subj_ctx {
	struct drv_msg **msgs;
	size_t n;
	char **out;
};

static void on_subject(void *ctx, const struct imap_resp *r)
{
	struct subj_ctx *sc = ctx;
	if (!r->kw || strcmp(r->kw, "FETCH") != 0 || r->nargs < 1)
		return;
	uint64_t uid;
	if (!imap_val_u64(imap_fetch_item(&r->args[0], "UID"), UINT32_MAX, &uid))
		return;
	const struct imap_val *h = imap_fetch_item(&r->args[0], "BODY[HEADER.FIELDS (SUBJECT)]");
	if (!h || h->type != IV_STRING)
		return;
	const char *p = h->s;
	size_t n = h->len;
	if (n > 8 && !strncasecmp(p, "Subject:", 8)) {
		p += 8;
		n -= 8;
	}
	/* Unfold and trim: a one-line subject for reports. */
	char *s = x_malloc(n + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];
		if (ch == '\r' || ch == '\n' || ch == '\t')
			ch = ' ';
		if (ch == ' ' && (k == 0 || s[k - 1] == ' '))
			continue;
		s[k++] = ch;
	}
	while (k > 0 && s[k - 1] == ' ')
		k--;
	s[k] = '\0';
	for (size_t i = 0; i < sc->n; i++)
		if (sc->msgs[i]->id == uid && !sc->out[i]) {
			sc->out[i] = s;
			return;
		}
	free(s);
}

static enum st di_subjects(struct drv *d, struct drv_msg **msgs, size_t n, char **subjects,
                           struct err *e)
{
	for (size_t i = 0; i < n; i++)
		subjects[i] = NULL;
	if (n == 0)
		return ST_OK;
	struct sbuf set;
	sb_init(&set);
	for (size_t i = 0; i < n; i++)
		sb_printf(&set, "%s%u", i ? "," : "", msgs[i]->id);
	struct subj_ctx sc = { msgs, n, subjects };
	unsigned tag = imap_cmd_begin(d->im, "UID FETCH");
	imap_arg_raw(d->im, set.data);
	imap_arg_raw(d->im, "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
	imap_cmd_end(d->im);
	sb_free(&set);
	return imap_wait(d->im, tag, on_subject, &sc, e);
}

/* --- appending -------------------------------------------------------------- */

/* With MULTIAPPEND (RFC 3502) and LITERAL+, up to this many messages (and
 * bytes) travel in one APPEND command: the server stores them in one
 * transaction, which for Dovecot costs a fraction of one per message. */
#define MULTI_MAX 64
#define MULTI_BYTES (8u << 20)
/* Larger messages travel alone: a refusal (an unannounced size limit, say)
 * then concerns one message, and batching gains nothing for them anyway.
 * Empty messages too, which some servers refuse. */
#define MULTI_MSG_MAX (256u << 10)

static void di_append_start(struct drv *d, const char *folder, drv_append_done fn, void *ctx)
{
	free(d->afolder);
	d->afolder = x_strdup(folder);
	d->afn = fn;
	d->actx = ctx;
	d->atail = 0;
	d->batch_open = false;
}

static size_t di_append_pending(struct drv *d) { return d->atail; }

/* Ends an open MULTIAPPEND command: the CRLF after its last message. */
static enum st close_batch(struct drv *d, struct err *e)
{
	if (!d->batch_open)
		return ST_OK;
	d->batch_open = false;
	return imap_write(d->im, "\r\n", 2, e);
}

/* Delivers the outcome of one answered APPEND command (one message, or a
 * MULTIAPPEND batch); false if r answers no APPEND. */
static bool deliver_append(struct drv *d, const struct imap_resp *r)
{
	unsigned tag = imap_tag_num(r);
	size_t first = 0;
	while (first < d->atail && d->ap[first].tag != tag)
		first++;
	if (first >= d->atail)
		return false;
	size_t last = first;
	while (last < d->atail && d->ap[last].tag == tag)
		last++;
	if (tag == d->waiting_tag)
		d->waiting_refused = true;
	struct err ie;
	enum st s = imap_status_of(r, "APPEND", &ie);
	uint32_t v = 0;
	const char *set = NULL;
	if (s == ST_OK && r->code && !strcmp(r->code, "APPENDUID")) {
		char *end;
		v = (uint32_t)strtoul(r->code_arg, &end, 10);
		set = *end == ' ' ? end + 1 : NULL;
	}
	bool batch = last - first > 1;
	if (s && batch && st_retry_class(s) == RETRY_ITEM) {
		/* One message spoiled the batch (too big, say): none was stored.
		 * Send them again one by one, which finds the culprit. */
		d->multi = false;
		s = ST_CANCELED;
	}
	uint32_t cur = 0, top = 0;
	for (size_t k = first; k < last; k++) {
		uint32_t uid = set ? imap_uidset_next(&set, &cur, &top) : 0;
		d->afn(d->actx, d->ap[k].token, s, uid ? v : 0, uid, s ? ie.msg : "");
	}
	memmove(d->ap + first, d->ap + last, (d->atail - last) * sizeof *d->ap);
	d->atail -= last - first;
	return true;
}

/* Reads one target response and handles it; *cont set on a "+". */
static enum st read_append_response(struct drv *d, bool *cont, struct err *e)
{
	struct imap_resp r = { 0 };
	enum st s = imap_read(d->im, &r, NULL, e);
	if (!s) {
		if (r.kind == RESP_CONTINUATION) {
			if (cont)
				*cont = true;
		} else if (r.kind == RESP_UNTAGGED && r.cond == COND_BYE) {
			s = imap_status_of(&r, "connection", e);
			err_prefix(e, "%s", imap_label(d->im));
		} else if (r.kind == RESP_TAGGED && !deliver_append(d, &r)) {
			s = err_set(e, ST_PROTO, "%s: answer to an unknown command", imap_label(d->im));
		}
	}
	imap_resp_free(&r);
	return s;
}

/* " (flags) "date" {size+}" for one message of an APPEND command. */
static void append_message_head(struct drv *d, const struct drv_msg *meta, uint64_t size,
                                bool nonsync)
{
	char lit[48];
	snprintf(lit, sizeof lit, "{%llu%s}", (unsigned long long)size, nonsync ? "+" : "");
	imap_arg_raw(d->im, "(");
	imap_append_raw(d->im, meta->flags);
	imap_append_raw(d->im, ")");
	if (meta->date_raw)
		imap_arg_quoted(d->im, meta->date_raw);
	imap_arg_raw(d->im, lit);
	imap_cmd_end(d->im);
}

static enum st di_append_begin(struct drv *d, const struct drv_msg *meta, uint64_t size,
                               size_t token, struct err *e)
{
	d->ap = x_grow(d->ap, d->atail, &d->acap, sizeof *d->ap, 256);
	bool batchable = d->multi && size > 0 && size <= MULTI_MSG_MAX;
	if (batchable && d->batch_open && d->batch_count < MULTI_MAX &&
	    d->batch_bytes + size <= MULTI_BYTES) {
		/* Another message of the open MULTIAPPEND command. */
		d->ap[d->atail].tag = d->batch_tag;
		d->ap[d->atail].token = token;
		d->atail++;
		d->batch_count++;
		d->batch_bytes += size;
		append_message_head(d, meta, size, true);
		return ST_OK;
	}
	enum st s = close_batch(d, e);
	if (s)
		return s;
	unsigned tag = imap_cmd_begin(d->im, "APPEND");
	d->ap[d->atail].tag = tag;
	d->ap[d->atail].token = token;
	d->atail++;
	imap_arg_mailbox(d->im, d->afolder);
	/* RFC 7888: LITERAL+ allows any size without waiting, LITERAL- up to
	 * 4096 bytes; anything else waits for the server's "+". */
	bool nonsync = d->literal_plus || (d->literal_minus && size <= 4096);
	append_message_head(d, meta, size, nonsync);
	if (batchable) {
		d->batch_open = true;
		d->batch_tag = tag;
		d->batch_count = 1;
		d->batch_bytes = size;
	}
	if (nonsync)
		return ST_OK;
	/* Without LITERAL+ the server must invite the literal. */
	d->waiting_tag = tag;
	d->waiting_refused = false;
	for (;;) {
		bool cont = false;
		s = read_append_response(d, &cont, e);
		if (s || cont)
			break;
		if (d->waiting_refused) {
			/* Refused before the literal (e.g. too big): already reported. */
			s = err_set(e, ST_ITEM, "APPEND refused before its data was sent");
			break;
		}
	}
	d->waiting_tag = 0;
	return s;
}

static enum st di_append_data(struct drv *d, const char *p, size_t n, struct err *e)
{
	return imap_write(d->im, p, n, e);
}

static enum st di_append_end(struct drv *d, struct err *e)
{
	/* In a MULTIAPPEND batch the command goes on with the next message;
	 * the batch's CRLF comes when it is closed. */
	if (d->batch_open)
		return ST_OK;
	return imap_write(d->im, "\r\n", 2, e);
}

static enum st di_append_wait(struct drv *d, bool wait, struct err *e)
{
	enum st s = ST_OK;
	if (wait) {
		s = close_batch(d, e);
		if (!s)
			s = imap_flush(d->im, e);
	}
	while (!s && d->atail > 0 && (wait || imap_readable(d->im)))
		s = read_append_response(d, NULL, e);
	return s;
}

/* --- flags and removal ------------------------------------------------------------ */

static enum st di_set_flags(struct drv *d, const uint32_t *ids, char *const *flags, size_t n,
                            bool *ok, struct err *e)
{
	unsigned *tags = x_malloc((n ? n : 1) * sizeof *tags);
	for (size_t i = 0; i < n; i++) {
		char args[64];
		snprintf(args, sizeof args, "%u FLAGS.SILENT (", ids[i]);
		tags[i] = imap_cmd_begin(d->im, "UID STORE");
		imap_arg_raw(d->im, args);
		imap_append_raw(d->im, flags[i]);
		imap_append_raw(d->im, ")");
		imap_cmd_end(d->im);
	}
	/* All stores are in flight; collect the answers in order. */
	enum st s = ST_OK;
	for (size_t i = 0; i < n && !s; i++) {
		struct err ie;
		enum st r = imap_wait(d->im, tags[i], NULL, NULL, &ie);
		ok[i] = r == ST_OK;
		if (r && st_retry_class(r) != RETRY_ITEM) {
			s = r;
			*e = ie;
		}
	}
	free(tags);
	return s;
}

static enum st di_remove(struct drv *d, const uint32_t *ids, size_t n, struct err *e)
{
	if (n == 0)
		return ST_OK;
	struct sbuf set;
	sb_init(&set);
	for (size_t i = 0; i < n; i++)
		sb_printf(&set, "%s%u", i ? "," : "", ids[i]);
	unsigned t1 = imap_cmd_begin(d->im, "UID STORE");
	imap_arg_raw(d->im, set.data);
	imap_arg_raw(d->im, "+FLAGS.SILENT (\\Deleted)");
	imap_cmd_end(d->im);
	enum st s = imap_wait(d->im, t1, NULL, NULL, e);
	/* Only UID EXPUNGE removes exactly these; without UIDPLUS they stay
	 * marked \Deleted rather than expunging anything else. */
	if (!s && imap_has_cap(d->im, "UIDPLUS")) {
		unsigned t2 = imap_cmd_begin(d->im, "UID EXPUNGE");
		imap_arg_raw(d->im, set.data);
		imap_cmd_end(d->im);
		s = imap_wait(d->im, t2, NULL, NULL, e);
	}
	sb_free(&set);
	return s;
}

const struct drv_ops drv_imap_ops = {
	.name = "imap",
	.connect = di_connect,
	.close = di_close,
	.has = di_has,
	.size_limit = di_size_limit,
	.label = di_label,
	.list_folders = di_list_folders,
	.create_folder = di_create_folder,
	.open_folder = di_open_folder,
	.folder_status = di_folder_status,
	.list_messages = di_list_messages,
	.list_ids = di_list_ids,
	.hash_messages = di_hash_messages,
	.subjects = di_subjects,
	.fetch_request = di_fetch_request,
	.fetch_pending = di_fetch_pending,
	.fetch_next = di_fetch_next,
	.append_start = di_append_start,
	.append_begin = di_append_begin,
	.append_data = di_append_data,
	.append_end = di_append_end,
	.append_wait = di_append_wait,
	.append_pending = di_append_pending,
	.set_flags = di_set_flags,
	.remove = di_remove,
};
