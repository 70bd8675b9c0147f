/* measure.c - mailbox sizes, item counts and folders from the mail server,
 * and delegate links from IMAP ACLs; see measure.h. */
#include "config.h"

#include "measure.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "driver.h"
#include "imap.h"
#include "imap_utf7.h"
#include "log.h"
#include "secret.h"
#include "store.h"

const char *measure_size_src_name(enum measure_size_src s)
{
	switch (s) {
	case SIZE_SRC_STATUS: return "status";
	case SIZE_SRC_QUOTA: return "quota";
	case SIZE_SRC_NONE: break;
	}
	return "none";
}

static void result_free(struct measure_result *r)
{
	free(r->endpoint);
	free(r->login);
	free(r->error);
	free(r->acl_error);
	for (size_t i = 0; i < r->ndelegates; i++) {
		free(r->delegates[i].who);
		free(r->delegates[i].rights);
	}
	free(r->delegates);
}

void measure_report_free(struct measure_report *r)
{
	for (size_t i = 0; i < r->n; i++)
		result_free(&r->v[i]);
	free(r->v);
	memset(r, 0, sizeof *r);
}

/* --- one mailbox: the IMAP conversation --------------------------------------- */

enum cmd_kind { CK_LIST, CK_ACL, CK_QUOTA, CK_STATUS };

/* One command of a pipelined round: its tag and, once answered, its outcome. */
struct cmd {
	enum cmd_kind kind;
	unsigned tag;
	bool answered;
	enum st st;
	char *why;               /* the refusal, when st is not ST_OK; owned */
};

struct folder {
	char *name;              /* UTF-8 (or the server's bytes when not modified UTF-7) */
	bool noselect;
	bool counted;            /* its STATUS answer arrived */
};

/* The state of one mailbox's session; owns everything it points to except
 * ep and login. */
struct probe {
	struct imap *im;
	const struct endpoint *ep;
	const char *login;
	struct folder *f;
	size_t nf, fcap;
	int64_t messages, bytes;
	bool got_size;
	int64_t quota_kib;       /* largest STORAGE usage of INBOX's quota roots, -1 none */
	struct measure_delegate *d;
	size_t nd, dcap;
	struct cmd *cmds;
	size_t ncmds, ccap;
};

static void probe_free(struct probe *p)
{
	imap_free(&p->im);
	for (size_t i = 0; i < p->nf; i++)
		free(p->f[i].name);
	free(p->f);
	for (size_t i = 0; i < p->nd; i++) {
		free(p->d[i].who);
		free(p->d[i].rights);
	}
	free(p->d);
	for (size_t i = 0; i < p->ncmds; i++)
		free(p->cmds[i].why);
	free(p->cmds);
}

static char *decode_name(const struct imap_val *v)
{
	char *raw = x_strndup(v->s, v->len);
	char *utf8 = imap_utf7_decode(raw);
	if (!utf8)
		return raw;
	free(raw);
	return utf8;
}

static bool is_inbox(const char *name) { return !strcasecmp(name, "INBOX"); }

static struct folder *find_folder(struct probe *p, const char *name)
{
	for (size_t i = 0; i < p->nf; i++)
		if (!strcmp(p->f[i].name, name) || (is_inbox(name) && is_inbox(p->f[i].name)))
			return &p->f[i];
	return NULL;
}

static struct folder *add_folder(struct probe *p, char *name)
{
	p->f = x_grow(p->f, p->nf, &p->fcap, sizeof *p->f, 16);
	struct folder *f = &p->f[p->nf++];
	memset(f, 0, sizeof *f);
	f->name = name;
	return f;
}

static bool atom_is_word(const struct imap_val *a, const char *word)
{
	return a->type == IV_ATOM && a->len == strlen(word) && !strncasecmp(a->s, word, a->len);
}

/* "* LIST (\HasNoChildren) "/" INBOX" */
static void on_list(struct probe *p, const struct imap_resp *r)
{
	if (r->nargs < 3 || r->args[0].type != IV_LIST || r->args[2].type == IV_LIST ||
	    r->args[2].type == IV_NIL)
		return;
	char *name = decode_name(&r->args[2]);
	if (find_folder(p, name)) {
		free(name);
		return;
	}
	struct folder *f = add_folder(p, name);
	const struct imap_val *attrs = &r->args[0];
	for (size_t i = 0; i < attrs->n; i++)
		if (atom_is_word(&attrs->items[i], "\\Noselect") ||
		    atom_is_word(&attrs->items[i], "\\NonExistent"))
			f->noselect = true;
}

/* "* STATUS name (MESSAGES 3 SIZE 1234)": counted once per listed folder. */
static void on_status(struct probe *p, const struct imap_resp *r)
{
	if (r->nargs < 2 || r->args[1].type != IV_LIST || r->args[0].type == IV_LIST)
		return;
	char *name = decode_name(&r->args[0]);
	struct folder *f = find_folder(p, name);
	free(name);
	if (!f || f->counted)
		return;
	uint64_t v;
	if (!imap_val_u64(imap_fetch_item(&r->args[1], "MESSAGES"), INT64_MAX, &v))
		return;
	f->counted = true;
	p->messages += (int64_t)v;
	if (imap_val_u64(imap_fetch_item(&r->args[1], "SIZE"), INT64_MAX, &v)) {
		p->bytes += (int64_t)v;
		p->got_size = true;
	}
}

/* "* QUOTA "User quota" (STORAGE 10 1024 MESSAGE 3 100)": usage in KiB. */
static void on_quota(struct probe *p, const struct imap_resp *r)
{
	if (r->nargs < 2 || r->args[1].type != IV_LIST)
		return;
	const struct imap_val *l = &r->args[1];
	for (size_t i = 0; i + 2 < l->n; i += 3) {   /* name usage limit */
		uint64_t used;
		if (atom_is_word(&l->items[i], "STORAGE") &&
		    imap_val_u64(&l->items[i + 1], INT64_MAX / 1024, &used) &&
		    (int64_t)used > p->quota_kib)
			p->quota_kib = (int64_t)used;
	}
}

/* Identifiers that never name a delegate: the owner, everyone, the admin
 * who reads the ACL on the owner's behalf, and negative rights. */
static bool acl_skip(const struct probe *p, const char *who)
{
	if (!*who || *who == '-')
		return true;
	static const char *const special[] = { "anyone", "authenticated", "owner", "anonymous" };
	for (size_t i = 0; i < countof(special); i++)
		if (!strcasecmp(who, special[i]))
			return true;
	if (!strcasecmp(who, p->login))
		return true;
	return p->ep->admin_user && !strcasecmp(who, p->ep->admin_user);
}

static struct measure_delegate *delegate_for(struct probe *p, const char *who)
{
	for (size_t i = 0; i < p->nd; i++)
		if (!strcasecmp(p->d[i].who, who))
			return &p->d[i];
	p->d = x_grow(p->d, p->nd, &p->dcap, sizeof *p->d, 4);
	struct measure_delegate *d = &p->d[p->nd++];
	memset(d, 0, sizeof *d);
	d->who = x_strdup(who);
	return d;
}

/* Adds "rights" (INBOX) or "Folder:rights" to the delegate's rights. */
static void delegate_note(struct measure_delegate *d, const char *folder, const char *rights)
{
	char *piece = is_inbox(folder) ? x_strdup(rights) : x_asprintf("%s:%s", folder, rights);
	if (!d->rights) {
		d->rights = piece;
		return;
	}
	char *joined = x_asprintf("%s;%s", d->rights, piece);
	free(d->rights);
	free(piece);
	d->rights = joined;
}

/* "* ACL INBOX user002 lrs user001 lrwstipekxacd" */
static void on_acl(struct probe *p, const struct imap_resp *r)
{
	if (r->nargs < 1 || r->args[0].type == IV_LIST || r->args[0].type == IV_NIL)
		return;
	char *folder = decode_name(&r->args[0]);
	for (size_t i = 1; i + 1 < r->nargs; i += 2) {
		const struct imap_val *id = &r->args[i], *rv = &r->args[i + 1];
		if (id->type == IV_LIST || id->type == IV_NIL || rv->type == IV_LIST || rv->type == IV_NIL)
			continue;
		char *who = x_strndup(id->s, id->len);
		char *rights = x_strndup(rv->s, rv->len);
		if (!acl_skip(p, who) && strchr(rights, 'l') && strchr(rights, 'r'))
			delegate_note(delegate_for(p, who), folder, rights);
		free(who);
		free(rights);
	}
	free(folder);
}

static void on_untagged(struct probe *p, const struct imap_resp *r)
{
	if (!r->kw)
		return;
	if (!strcmp(r->kw, "LIST"))
		on_list(p, r);
	else if (!strcmp(r->kw, "STATUS"))
		on_status(p, r);
	else if (!strcmp(r->kw, "ACL"))
		on_acl(p, r);
	else if (!strcmp(r->kw, "QUOTA"))
		on_quota(p, r);
}

/* Starts a command of the current round; returns it for the arguments. */
static struct cmd *cmd_begin(struct probe *p, enum cmd_kind kind, const char *verb)
{
	p->cmds = x_grow(p->cmds, p->ncmds, &p->ccap, sizeof *p->cmds, 16);
	struct cmd *c = &p->cmds[p->ncmds++];
	memset(c, 0, sizeof *c);
	c->kind = kind;
	c->tag = imap_cmd_begin(p->im, verb);
	return c;
}

static void round_reset(struct probe *p)
{
	for (size_t i = 0; i < p->ncmds; i++)
		free(p->cmds[i].why);
	p->ncmds = 0;
}

/* Sends the round's commands and reads until every one is answered
 * (servers may answer pipelined commands in any order).  A refused command
 * is recorded in its struct cmd; only a lost connection or a BYE fails. */
static enum st round_run(struct probe *p, struct err *e)
{
	size_t left = p->ncmds;
	struct imap_resp r = { 0 };
	enum st s = ST_OK;
	while (left > 0 && !s) {
		s = imap_read(p->im, &r, NULL, e);
		if (s)
			break;
		if (r.kind == RESP_UNTAGGED && r.cond == COND_BYE) {
			s = imap_status_of(&r, "the session", e);
			err_prefix(e, "%s", imap_label(p->im));
			break;
		}
		if (r.kind == RESP_UNTAGGED) {
			on_untagged(p, &r);
			continue;
		}
		if (r.kind != RESP_TAGGED || p->ncmds == 0)
			continue;
		unsigned n = imap_tag_num(&r), first = p->cmds[0].tag;
		if (n < first || n - first >= p->ncmds || p->cmds[n - first].answered)
			continue;
		struct cmd *c = &p->cmds[n - first];
		struct err ce;
		c->answered = true;
		c->st = imap_status_of(&r, "the command", &ce);
		if (c->st)
			c->why = x_strdup(ce.msg);
		left--;
	}
	imap_resp_free(&r);
	return s;
}

static const struct cmd *round_find(const struct probe *p, enum cmd_kind kind)
{
	for (size_t i = 0; i < p->ncmds; i++)
		if (p->cmds[i].kind == kind)
			return &p->cmds[i];
	return NULL;
}

/* Round 1: the folders, INBOX's ACL, and INBOX's quota when STATUS has no
 * SIZE.  A refused LIST fails the mailbox; the others are notes. */
static enum st round_one(struct probe *p, struct measure_result *r, struct err *e)
{
	bool quota = !imap_has_cap(p->im, "STATUS=SIZE") && imap_has_cap(p->im, "QUOTA");
	round_reset(p);
	cmd_begin(p, CK_LIST, "LIST");
	imap_arg_raw(p->im, "\"\" \"*\"");
	imap_cmd_end(p->im);
	if (r->acl_offered) {
		cmd_begin(p, CK_ACL, "GETACL");
		imap_arg_raw(p->im, "INBOX");
		imap_cmd_end(p->im);
	}
	if (quota) {
		cmd_begin(p, CK_QUOTA, "GETQUOTAROOT");
		imap_arg_raw(p->im, "INBOX");
		imap_cmd_end(p->im);
	}
	enum st s = round_run(p, e);
	if (s)
		return s;
	const struct cmd *c = round_find(p, CK_LIST);
	if (c->st)
		return err_set(e, c->st, "%s: LIST: %s", imap_label(p->im), c->why);
	if ((c = round_find(p, CK_ACL)) != NULL) {
		r->acl_read = c->st == ST_OK;
		if (c->st)
			r->acl_error = x_asprintf("GETACL INBOX: %s", c->why);
	}
	if (!find_folder(p, "INBOX"))
		add_folder(p, x_strdup("INBOX"));
	return ST_OK;
}

/* Round 2: STATUS of every selectable folder and, when INBOX's ACL could be
 * read, the ACL of every other folder, all in one round trip. */
static enum st round_two(struct probe *p, struct measure_result *r, struct err *e)
{
	const char *items = imap_has_cap(p->im, "STATUS=SIZE") ? "(MESSAGES SIZE)" : "(MESSAGES)";
	round_reset(p);
	for (size_t i = 0; i < p->nf; i++) {
		if (p->f[i].noselect)
			continue;
		cmd_begin(p, CK_STATUS, "STATUS");
		imap_arg_mailbox(p->im, p->f[i].name);
		imap_arg_raw(p->im, items);
		imap_cmd_end(p->im);
		if (r->acl_read && !is_inbox(p->f[i].name)) {
			cmd_begin(p, CK_ACL, "GETACL");
			imap_arg_mailbox(p->im, p->f[i].name);
			imap_cmd_end(p->im);
		}
	}
	return round_run(p, e);
}

/* Moves what the session learnt into the result. */
static void probe_result(struct probe *p, struct measure_result *r)
{
	r->folders = 0;
	r->unreadable = 0;
	for (size_t i = 0; i < p->nf; i++) {
		if (p->f[i].counted)
			r->folders++;
		else if (!p->f[i].noselect)
			r->unreadable++;
	}
	r->messages = p->messages;
	if (p->got_size) {
		r->size_bytes = p->bytes;
		r->size_src = SIZE_SRC_STATUS;
	} else if (p->quota_kib >= 0) {
		r->size_bytes = p->quota_kib * 1024;
		r->size_src = SIZE_SRC_QUOTA;
	}
	r->delegates = p->d;
	r->ndelegates = p->nd;
	p->d = NULL;
	p->nd = p->dcap = 0;
}

static enum st probe_mailbox(const struct endpoint *ep, const char *secret, int timeout_s,
                             struct measure_result *r, struct err *e)
{
	struct probe p = { .ep = ep, .login = r->login, .quota_kib = -1 };
	enum st s = drv_imap_login(ep, secret, r->login, "measure", timeout_s, &p.im, e);
	if (!s) {
		r->acl_offered = imap_has_cap(p.im, "ACL");
		s = round_one(&p, r, e);
	}
	if (!s)
		s = round_two(&p, r, e);
	if (!s)
		probe_result(&p, r);
	probe_free(&p);
	return s;
}

/* --- the run: mailboxes, endpoints, workers ------------------------------------ */

/* A mailbox known in the store (a possible delegate), and whether it is
 * one of those to measure. */
struct known {
	int64_t id, endpoint_id;
	char *endpoint, *login, *address;
	bool vanished;
};

struct ep_info {
	int64_t id;
	struct endpoint ep;
	char *secret;            /* NULL when it could not be resolved (why in err) */
	struct err err;
	int limit, active;       /* max_connections, measurements running now */
};

struct run {
	const struct measure_opts *o;
	struct known *k;          /* every mailbox of the selected endpoints */
	size_t nk, kcap;
	struct known **by_login, **by_address;   /* sorted views of k for delegates */
	size_t naddr;
	struct ep_info *eps;
	size_t neps, epcap;
	size_t *todo;             /* indexes in k of the mailboxes to measure */
	size_t *todo_ep;          /* their endpoint's index in eps */
	bool *taken;
	size_t ntodo, head, left;
	struct measure_report *rep;   /* rep->v parallel to todo */
	pthread_mutex_t lock;
	pthread_cond_t cv;
};

static bool login_selected(const struct measure_opts *o, const char *login)
{
	if (!o->logins)
		return true;
	for (const char *const *l = o->logins; *l; l++)
		if (!strcmp(*l, login))
			return true;
	return false;
}

static void collect_row(void *ctx, const struct mailbox_row *m)
{
	struct run *run = ctx;
	if (run->o->endpoint_id && m->endpoint_id != run->o->endpoint_id)
		return;
	run->k = x_grow(run->k, run->nk, &run->kcap, sizeof *run->k, 256);
	struct known *k = &run->k[run->nk++];
	k->id = m->id;
	k->endpoint_id = m->endpoint_id;
	k->endpoint = x_strdup(m->endpoint ? m->endpoint : "?");
	k->login = x_strdup(m->login);
	k->address = m->address && *m->address ? x_strdup(m->address) : NULL;
	k->vanished = m->vanished;
}

static int cmp_login(const void *a, const void *b)
{
	const struct known *x = *(struct known *const *)a, *y = *(struct known *const *)b;
	if (x->endpoint_id != y->endpoint_id)
		return x->endpoint_id < y->endpoint_id ? -1 : 1;
	return strcasecmp(x->login, y->login);
}

static int cmp_address(const void *a, const void *b)
{
	const struct known *x = *(struct known *const *)a, *y = *(struct known *const *)b;
	if (x->endpoint_id != y->endpoint_id)
		return x->endpoint_id < y->endpoint_id ? -1 : 1;
	return strcasecmp(x->address, y->address);
}

static void index_known(struct run *run)
{
	run->by_login = x_malloc((run->nk ? run->nk : 1) * sizeof *run->by_login);
	run->by_address = x_malloc((run->nk ? run->nk : 1) * sizeof *run->by_address);
	for (size_t i = 0; i < run->nk; i++) {
		run->by_login[i] = &run->k[i];
		if (run->k[i].address)
			run->by_address[run->naddr++] = &run->k[i];
	}
	qsort(run->by_login, run->nk, sizeof *run->by_login, cmp_login);
	qsort(run->by_address, run->naddr, sizeof *run->by_address, cmp_address);
}

/* The mailbox on endpoint_id whose login, else address, is who; 0 if none. */
static int64_t known_lookup(const struct run *run, int64_t endpoint_id, const char *who)
{
	struct known key = { .endpoint_id = endpoint_id, .login = (char *)who, .address = (char *)who };
	struct known *kp = &key, **hit;
	hit = bsearch(&kp, run->by_login, run->nk, sizeof *run->by_login, cmp_login);
	if (!hit)
		hit = bsearch(&kp, run->by_address, run->naddr, sizeof *run->by_address, cmp_address);
	return hit ? (*hit)->id : 0;
}

static size_t ep_index(struct run *run, struct store *st, int64_t id)
{
	for (size_t i = 0; i < run->neps; i++)
		if (run->eps[i].id == id)
			return i;
	run->eps = x_grow(run->eps, run->neps, &run->epcap, sizeof *run->eps, 4);
	struct ep_info *ep = &run->eps[run->neps];
	memset(ep, 0, sizeof *ep);
	ep->id = id;
	enum st s = store_endpoint_get_id(st, id, &ep->ep, &ep->err);
	if (!s)
		s = secret_resolve(ep->ep.secret_ref, run->o->cfg->secrets_path, &ep->secret, &ep->err);
	if (s)
		ep->secret = NULL;
	ep->limit = !s && ep->ep.max_connections > 0 ? ep->ep.max_connections : 10;
	return run->neps++;
}

/* Chooses the mailboxes to measure and prepares their results. */
static enum st plan(struct run *run, struct store *st, struct err *e)
{
	const struct measure_opts *o = run->o;
	enum st s = store_mailbox_rows(st, o->forest_id, 0, collect_row, run, NULL, e);
	if (s)
		return s;
	index_known(run);
	run->todo = x_malloc((run->nk ? run->nk : 1) * sizeof *run->todo);
	run->todo_ep = x_malloc((run->nk ? run->nk : 1) * sizeof *run->todo_ep);
	for (size_t i = 0; i < run->nk; i++) {
		if (run->k[i].vanished || !login_selected(o, run->k[i].login))
			continue;
		run->todo_ep[run->ntodo] = ep_index(run, st, run->k[i].endpoint_id);
		run->todo[run->ntodo++] = i;
	}
	if (run->ntodo == 0)
		return err_set(e, ST_CONFIG, "no mailbox to measure: import or discover mailboxes first "
		               "(mailbox import, forest discover), or check --endpoint, --forest and "
		               "the logins given");
	struct measure_report *rep = run->rep;
	rep->v = x_calloc(run->ntodo, sizeof *rep->v);
	rep->n = run->ntodo;
	for (size_t i = 0; i < run->ntodo; i++) {
		const struct known *k = &run->k[run->todo[i]];
		struct measure_result *r = &rep->v[i];
		r->mailbox_id = k->id;
		r->endpoint = x_strdup(k->endpoint);
		r->login = x_strdup(k->login);
		r->folders = r->messages = r->size_bytes = -1;
		r->status = ST_CANCELED;
		r->error = x_strdup("not started (interrupted)");
	}
	run->taken = x_calloc(run->ntodo, sizeof *run->taken);
	run->left = run->ntodo;
	return ST_OK;
}

/* The next mailbox whose endpoint has a free connection; false when none
 * is left (or the run is cancelled).  Waits while all are at their limit. */
static bool take(struct run *run, size_t *out)
{
	pthread_mutex_lock(&run->lock);
	bool got = false;
	while (run->left > 0 && !(run->o->cancel && *run->o->cancel)) {
		while (run->head < run->ntodo && run->taken[run->head])
			run->head++;
		for (size_t i = run->head; i < run->ntodo && !got; i++) {
			struct ep_info *ep = &run->eps[run->todo_ep[i]];
			if (run->taken[i] || ep->active >= ep->limit)
				continue;
			run->taken[i] = true;
			ep->active++;
			run->left--;
			*out = i;
			got = true;
		}
		if (got)
			break;
		pthread_cond_wait(&run->cv, &run->lock);
	}
	pthread_mutex_unlock(&run->lock);
	return got;
}

static void release(struct run *run, size_t i)
{
	pthread_mutex_lock(&run->lock);
	run->eps[run->todo_ep[i]].active--;
	pthread_cond_broadcast(&run->cv);
	pthread_mutex_unlock(&run->lock);
}

/* Writes one measured mailbox: its counts, and its ACL delegates (links
 * learnt elsewhere are kept as they are). */
static enum st save(struct store *st, int64_t endpoint_id, struct measure_result *r, struct err *e)
{
	struct mailbox_row m = {
		.endpoint_id = endpoint_id, .login = r->login,
		.size_bytes = r->size_bytes, .items = r->messages, .folders = r->folders,
	};
	enum st s = store_begin(st, e);
	if (s)
		return s;
	s = store_mailbox_upsert(st, &m, NULL, e);
	if (!s && r->acl_read)
		s = store_delegate_clear(st, r->mailbox_id, "acl", e);
	for (size_t i = 0; i < r->ndelegates && !s && r->acl_read; i++) {
		struct measure_delegate *d = &r->delegates[i];
		char *origin = NULL;
		if (!d->mailbox_id)
			continue;
		s = store_delegate_origin(st, r->mailbox_id, d->mailbox_id, &origin, e);
		d->kept = !s && origin != NULL;
		if (!s && !d->kept)
			s = store_delegate_add(st, r->mailbox_id, d->mailbox_id, d->rights, "acl", e);
		free(origin);
	}
	if (s) {
		store_rollback(st);
		return s;
	}
	return store_commit(st, e);
}

static void measure_one(struct run *run, struct store *st, size_t i)
{
	struct measure_result *r = &run->rep->v[i];
	const struct ep_info *ep = &run->eps[run->todo_ep[i]];
	struct err e;
	err_clear(&e);
	int64_t t0 = clock_mono_ms();
	enum st s;
	if (ep->secret) {
		s = probe_mailbox(&ep->ep, ep->secret, run->o->cfg->timeout_s, r, &e);
	} else {
		e = ep->err;
		s = e.code ? e.code : ST_CONFIG;
	}
	r->elapsed_ms = clock_mono_ms() - t0;
	for (size_t k = 0; !s && k < r->ndelegates; k++)
		r->delegates[k].mailbox_id = known_lookup(run, ep->id, r->delegates[k].who);
	if (!s)
		s = save(st, ep->id, r, &e);
	free(r->error);
	r->error = NULL;
	r->status = s;
	if (s) {
		r->error = x_strdup(e.msg[0] ? e.msg : st_message(s));
		log_warn("measure %s@%s: %s", r->login, r->endpoint, r->error);
	} else {
		log_info("measure %s@%s: %lld folders, %lld messages, %lld bytes (%s)", r->login,
		         r->endpoint, (long long)r->folders, (long long)r->messages,
		         (long long)r->size_bytes, measure_size_src_name(r->size_src));
	}
}

static void *worker(void *arg)
{
	struct run *run = arg;
	struct store *st = NULL;
	struct err e;
	if (store_open(run->o->store_path, &st, &e)) {
		log_error("measure: %s", e.msg);
		return NULL;   /* the mailboxes it would have taken go to the others */
	}
	size_t i;
	while (take(run, &i)) {
		measure_one(run, st, i);
		release(run, i);
	}
	store_close(&st);
	return NULL;
}

static void tally(struct measure_report *rep)
{
	for (size_t i = 0; i < rep->n; i++) {
		const struct measure_result *r = &rep->v[i];
		if (r->status == ST_CANCELED) {
			rep->not_started++;
			continue;
		}
		if (r->status) {
			rep->failed++;
			continue;
		}
		rep->measured++;
		rep->folders += r->folders;
		rep->messages += r->messages;
		rep->bytes += r->size_bytes > 0 ? r->size_bytes : 0;
		for (size_t k = 0; k < r->ndelegates; k++) {
			if (r->delegates[k].mailbox_id)
				rep->links++;
			else
				rep->unknown++;
		}
	}
}

static void run_free(struct run *run)
{
	for (size_t i = 0; i < run->nk; i++) {
		free(run->k[i].endpoint);
		free(run->k[i].login);
		free(run->k[i].address);
	}
	free(run->k);
	free(run->by_login);
	free(run->by_address);
	for (size_t i = 0; i < run->neps; i++) {
		endpoint_free(&run->eps[i].ep);
		secret_free(run->eps[i].secret);
	}
	free(run->eps);
	free(run->todo);
	free(run->todo_ep);
	free(run->taken);
}

/* Starts the workers and waits for them; at least one must start. */
static enum st run_pool(struct run *run, struct err *e)
{
	size_t n = run->o->workers > 0 ? (size_t)run->o->workers : 1;
	if (n > run->ntodo)
		n = run->ntodo;
	pthread_t *th = x_calloc(n, sizeof *th);
	size_t started = 0;
	for (size_t i = 0; i < n; i++)
		if (pthread_create(&th[started], NULL, worker, run) == 0)
			started++;
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	free(th);
	return started ? ST_OK : err_set(e, ST_INTERNAL, "cannot start a measuring thread");
}

enum st measure_run(const struct measure_opts *o, struct measure_report *rep, struct err *e)
{
	memset(rep, 0, sizeof *rep);
	int64_t t0 = clock_mono_ms();
	struct run run = { .o = o, .rep = rep };
	pthread_mutex_init(&run.lock, NULL);
	pthread_cond_init(&run.cv, NULL);
	struct store *st = NULL;
	enum st s = store_open(o->store_path, &st, e);
	if (!s)
		s = plan(&run, st, e);
	store_close(&st);
	if (!s)
		s = run_pool(&run, e);
	tally(rep);
	rep->elapsed_ms = clock_mono_ms() - t0;
	run_free(&run);
	pthread_cond_destroy(&run.cv);
	pthread_mutex_destroy(&run.lock);
	return s;
}
