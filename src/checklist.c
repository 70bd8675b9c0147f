/* checklist.c - a forest's preparation checklist (see checklist.h).  The
 * endpoint and directory items are health.c's checks, renamed into the
 * checklist's words; this file adds what a health check does not look at
 * (the forests, the files, the disk, the clock, the notification server). */
#include "config.h"

#include "checklist.h"

#include <curl/curl.h>
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/timex.h>

#include "driver.h"
#include "health.h"
#include "secret.h"

#define CL_TIMEOUT_MAX_S 15
/* What the store keeps per message copied (its journal row and indexes),
 * rounded up; the store never holds message bodies. */
#define STORE_BYTES_PER_MESSAGE 512
#define STORE_MIN_FREE (64LL << 20)
/* Source mailboxes whose every message size is read for largest-message. */
#define SAMPLE_MAILBOXES 10

/* One health result, kept until the checklist is written in its order. */
struct hres {
	char *check, *endpoint, *detail, *fix;
	enum health_level level;
};

/* An endpoint the checklist covers, with the role of its forest. */
struct cl_ep {
	char *name, *secret_ref;
	bool target;
};

struct ck {
	struct store *st;
	const struct cfg *cfg;
	cl_fn fn;
	void *ctx;
	enum cl_state worst;
	struct hres *r;
	size_t nr, capr;
	struct cl_ep *eps;
	size_t neps, capeps;
	/* the forests */
	int64_t forest_id, target_id;
	char *target_name;
	bool is_target;
};

const char *checklist_mark(enum cl_state st)
{
	switch (st) {
	case CL_PASS: return "[\xe2\x9c\x93]";     /* [✓] */
	case CL_MANUAL: return "[ ]";
	case CL_WARN: return "[!]";
	case CL_FAIL: return "[\xe2\x9c\x97]";     /* [✗] */
	}
	return "[?]";
}

static void emit(struct ck *k, const char *item, const char *title, const char *endpoint, enum cl_state state,
                 const char *fix, const char *fmt, ...) PRINTF_LIKE(7, 8);

static void emit(struct ck *k, const char *item, const char *title, const char *endpoint, enum cl_state state,
                 const char *fix, const char *fmt, ...)
{
	char detail[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	if (state > k->worst)
		k->worst = state;
	struct cl_item it = { item, title, endpoint, state, detail, fix && *fix ? fix : NULL };
	k->fn(k->ctx, &it);
}

/* --- the forests -------------------------------------------------------------- */

struct forest_scan {
	int64_t self_id;
	char *sources, *target;     /* names, owned */
	int64_t target_id;
	int nsources;
};

static void scan_forest(void *ctx, const struct forest *f)
{
	struct forest_scan *fs = ctx;
	if (!strcmp(f->role, "source")) {
		char *s = x_asprintf("%s%s%s", fs->sources ? fs->sources : "", fs->sources ? ", " : "", f->name);
		free(fs->sources);
		fs->sources = s;
		fs->nsources++;
	} else if (!fs->target) {     /* the store allows one target or tenant */
		fs->target = x_strdup(f->name);
		fs->target_id = f->id;
	}
}

static void note_ep(void *ctx, const struct endpoint *ep)
{
	struct ck *k = ctx;
	bool mine = ep->forest_id == k->forest_id, target = ep->forest_id == k->target_id && k->target_id;
	if (!mine && !target)
		return;
	k->eps = x_grow(k->eps, k->neps, &k->capeps, sizeof *k->eps, 4);
	k->eps[k->neps++] = (struct cl_ep){ x_strdup(ep->name), ep->secret_ref ? x_strdup(ep->secret_ref) : NULL,
	                                    target };
}

static size_t target_endpoints(const struct ck *k)
{
	size_t n = 0;
	for (size_t i = 0; i < k->neps; i++)
		n += k->eps[i].target;
	return n;
}

static enum st check_forests(struct ck *k, const struct forest *f, struct err *e)
{
	struct forest_scan fs = { .self_id = f->id };
	enum st s = store_forest_each(k->st, scan_forest, &fs, e);
	if (!s) {
		k->target_id = fs.target_id;
		k->target_name = fs.target ? x_strdup(fs.target) : NULL;
		k->is_target = fs.target_id == f->id;
		s = store_endpoint_each(k->st, note_ep, k, e);
	}
	if (s) {
		free(fs.sources);
		free(fs.target);
		return s;
	}
	const char *title = "a source forest and a target forest";
	if (!fs.target)
		emit(k, "forests", title, NULL, CL_FAIL, "mailferry forest add NAME --role target (or add it in the "
		     "console's Forests view, key n)", "no target forest: the mailboxes have nowhere to go");
	else if (!fs.nsources)
		emit(k, "forests", title, NULL, CL_FAIL, "mailferry forest add NAME --role source --directory URL ...",
		     "no source forest: nothing to migrate into %s", fs.target);
	else
		emit(k, "forests", title, NULL, CL_PASS, NULL, "source%s %s; target %s", fs.nsources == 1 ? "" : "s",
		     fs.sources, fs.target);
	title = "the target forest has a mail endpoint";
	if (fs.target && !target_endpoints(k)) {
		char *fix = x_asprintf("mailferry endpoint add NAME imaps://HOST --user ADMIN --password-file FILE "
		                       "--forest %s", fs.target);
		emit(k, "target-endpoint", title, NULL, CL_FAIL, fix, "target forest %s has no mail endpoint",
		     fs.target);
		free(fix);
	} else if (fs.target) {
		emit(k, "target-endpoint", title, NULL, CL_PASS, NULL, "target forest %s has %zu mail endpoint%s",
		     fs.target, target_endpoints(k), target_endpoints(k) == 1 ? "" : "s");
	}
	free(fs.sources);
	free(fs.target);
	return ST_OK;
}

/* --- mailboxes and the store's disk --------------------------------------------- */

struct box_count { int64_t n, from_dir, items, unknown; };

static void count_box(void *ctx, const struct mailbox_row *r)
{
	struct box_count *b = ctx;
	if (r->vanished)
		return;
	b->n++;
	b->from_dir += r->dir_key != NULL;
	if (r->items >= 0)
		b->items += r->items;
	else
		b->unknown++;
}

static void check_mailboxes(struct ck *k, const struct forest *f, const struct box_count *b)
{
	const char *title = "the forest's mailboxes are known (directory discovery or CSV import)";
	if (b->n) {
		emit(k, "mailboxes", title, NULL, CL_PASS, NULL, "%lld mailbox%s in the store", (long long)b->n,
		     b->n == 1 ? "" : "es");
		return;
	}
	char *fix = x_asprintf("%s%s%smailferry mailbox import USERS.csv --endpoint ENDPOINT",
	                       f->dir_url ? "mailferry forest discover " : "", f->dir_url ? f->name : "",
	                       f->dir_url ? ", or " : "");
	if (k->is_target)
		emit(k, "mailboxes", title, NULL, CL_WARN, fix, "no mailbox of %s in the store: forest match "
		     "has no target mailbox to find", f->name);
	else
		emit(k, "mailboxes", title, NULL, CL_FAIL, fix, "no mailbox of %s in the store: nothing to queue",
		     f->name);
	free(fix);
}

static void check_disk(struct ck *k, const struct box_count *b)
{
	const char *title = "free disk space for the store";
	char *path = x_strdup(store_path(k->st));
	const char *dir = dirname(path);
	struct statvfs v;
	if (statvfs(dir, &v) != 0) {
		emit(k, "store-disk", title, NULL, CL_MANUAL, "df -h on the store's folder", "not checked: cannot "
		     "read the free space of %s: %s", dir, strerror(errno));
		free(path);
		return;
	}
	long long avail = (long long)v.f_bavail * (long long)v.f_frsize;
	long long need = (long long)b->items * STORE_BYTES_PER_MESSAGE;
	if (need < STORE_MIN_FREE)
		need = STORE_MIN_FREE;
	char note[160] = "";
	if (b->unknown)
		snprintf(note, sizeof note, "; %lld mailbox%s not measured yet (mailferry mailbox measure)",
		         (long long)b->unknown, b->unknown == 1 ? "" : "es");
	char *fix = x_asprintf("free space on the file system of %s, or move the store elsewhere (store_path, or "
	                       "-s FILE) and copy it there while nothing runs", dir);
	enum cl_state state = avail < need ? CL_FAIL : avail < 2 * need ? CL_WARN : CL_PASS;
	emit(k, "store-disk", title, NULL, state, state == CL_PASS ? NULL : fix, "%.1f GB free in %s; the store "
	     "needs about %.1f GB for the %lld known messages%s", (double)avail / 1e9, dir, (double)need / 1e9,
	     (long long)b->items, note);
	free(fix);
	free(path);
}

/* --- health checks, in the checklist's words ---------------------------------------- */

static void keep_result(void *ctx, const struct health_result *r)
{
	struct ck *k = ctx;
	k->r = x_grow(k->r, k->nr, &k->capr, sizeof *k->r, 16);
	k->r[k->nr++] = (struct hres){ x_strdup(r->check), r->endpoint ? x_strdup(r->endpoint) : NULL,
	                               x_strdup(r->detail ? r->detail : ""), r->fix ? x_strdup(r->fix) : NULL,
	                               r->level };
}

static const struct hres *result_of(const struct ck *k, const char *check, const char *endpoint)
{
	for (size_t i = 0; i < k->nr; i++)
		if (!strcmp(k->r[i].check, check) && (endpoint ? k->r[i].endpoint && !strcmp(k->r[i].endpoint, endpoint)
		                                               : !k->r[i].endpoint))
			return &k->r[i];
	return NULL;
}

static enum cl_state state_of(enum health_level l)
{
	return l == HEALTH_OK ? CL_PASS : l == HEALTH_INFO ? CL_MANUAL : l == HEALTH_WARN ? CL_WARN : CL_FAIL;
}

static void check_directory(struct ck *k, const struct forest *f)
{
	const char *title = "the directory's bind account reads every search base of the scope";
	const struct hres *r = result_of(k, "directory", NULL);
	if (r) {
		emit(k, "directory-read", title, NULL, state_of(r->level), r->fix, "%s", r->detail);
		return;
	}
	char *fix = x_asprintf("to read the mailboxes from LDAP: mailferry forest set %s --directory URL "
	                       "--bind-dn DN --bind-password-file FILE --base-dn DN", f->name);
	emit(k, "directory-read", title, NULL, CL_MANUAL, fix, "not checked: forest %s has no directory "
	     "(its mailboxes come from a CSV import)", f->name);
	free(fix);
}

static void check_has_endpoint(struct ck *k, const struct forest *f)
{
	size_t n = 0;
	for (size_t i = 0; i < k->neps; i++)
		n += !k->eps[i].target || k->is_target;
	if (n)
		return;     /* each endpoint's items follow */
	const struct hres *r = result_of(k, "forest", NULL);
	emit(k, "mail-endpoint", "the forest has a mail endpoint", NULL, CL_FAIL, r ? r->fix : NULL,
	     "forest %s has no mail endpoint: its mailboxes cannot be read", f->name);
}

/* The endpoint checks of health.h, one checklist item each. */
static const struct { const char *check, *item, *title; } ep_items[] = {
	{ "url", "mail-url", "the mail server URL is valid" },
	{ "dns", "mail-dns", "the mail server's name resolves" },
	{ "tcp", "mail-port", "the mail server accepts connections" },
	{ "tls", "tls", "the mail server's TLS certificate is trusted and valid" },
	{ "login", "admin-login", "the admin account logs in to the mail server" },
	{ "mailbox", "admin-mailbox", "the admin opens a user's mailbox (SASL authzid or a master user)" },
	{ "size-limit", "append-limit", "the target accepts APPEND of the largest message (APPENDLIMIT)" },
};

static void check_endpoint_items(struct ck *k, const struct cl_ep *ep)
{
	bool failed = false;
	for (size_t i = 0; i < countof(ep_items); i++) {
		bool url = !strcmp(ep_items[i].check, "url");
		/* Nothing is appended to a source; a source's checklist has
		 * largest-message for the target instead. */
		if (!strcmp(ep_items[i].check, "size-limit") && (!ep->target || !k->is_target))
			continue;
		const struct hres *r = result_of(k, ep_items[i].check, ep->name);
		if (r) {
			emit(k, ep_items[i].item, ep_items[i].title, ep->name, state_of(r->level), r->fix, "%s", r->detail);
			failed = failed || r->level == HEALTH_FAIL;
		} else if (!url) {
			emit(k, ep_items[i].item, ep_items[i].title, ep->name, CL_MANUAL, NULL,
			     failed ? "not checked: an earlier check of %s failed" : "not checked (%s)", ep->name);
		}
	}
}

static enum st run_health(struct ck *k, const struct forest *f, struct err *e)
{
	enum st s = health_check_forest(k->st, k->cfg, f->name, keep_result, k, NULL, e);
	if (!s && k->target_name && !k->is_target) {
		/* The target's endpoints too: every source migrates into them. */
		size_t before = k->nr;
		s = health_check_forest(k->st, k->cfg, k->target_name, keep_result, k, NULL, e);
		for (size_t i = before; i < k->nr; i++)
			if (!k->r[i].endpoint) {    /* the target's directory is not this forest's */
				free(k->r[i].check);
				k->r[i].check = x_strdup("target-forest");
			}
	}
	return s;
}

/* --- the largest source message against the target's limit ------------------------------- */

struct sample_box { int64_t endpoint_id; char *login; };
struct sample { struct sample_box v[SAMPLE_MAILBOXES]; int n; int64_t total; };

static void pick_sample(void *ctx, const struct mailbox_row *r)
{
	struct sample *s = ctx;
	if (r->vanished)
		return;
	s->total++;
	if (s->n < SAMPLE_MAILBOXES)
		s->v[s->n++] = (struct sample_box){ r->endpoint_id, x_strdup(r->login) };
}

/* Connects to endpoint id as user (NULL: its admin) with its password
 * source; the driver and its ops, or a failure. */
static enum st connect_as(struct ck *k, int64_t ep_id, const char *user, const struct drv_ops **ops, struct drv **d,
                          char *ep_name, size_t n, struct err *e)
{
	struct endpoint ep;
	enum st s = store_endpoint_get_id(k->st, ep_id, &ep, e);
	if (s)
		return s;
	snprintf(ep_name, n, "%s", ep.name);
	char *secret = NULL;
	*ops = drv_for_endpoint(&ep);
	if (!*ops)
		s = err_set(e, ST_CONFIG, "endpoint %s: no driver for %s", ep.name, ep.url);
	if (!s)
		s = secret_resolve(ep.secret_ref, k->cfg->secrets_path, &secret, e);
	int timeout = k->cfg->timeout_s > 0 && k->cfg->timeout_s < CL_TIMEOUT_MAX_S ? k->cfg->timeout_s : CL_TIMEOUT_MAX_S;
	if (!s)
		s = (*ops)->connect(&ep, secret, user ? user : ep.admin_user, "checklist", timeout, d, e);
	secret_free(secret);
	endpoint_free(&ep);
	return s;
}

/* The largest message of one mailbox, every folder (sizes only). */
static enum st largest_of(const struct drv_ops *ops, struct drv *d, uint64_t *largest, int64_t *messages,
                          struct err *e)
{
	struct drv_folders fl = { 0 };
	enum st s = ops->list_folders(d, &fl, e);
	for (size_t i = 0; !s && i < fl.n; i++) {
		if (fl.v[i].noselect)
			continue;
		struct drv_box box;
		struct drv_msgs ml = { 0 };
		s = ops->open_folder(d, fl.v[i].name, false, false, &box, e);
		if (!s && box.count)
			s = ops->list_messages(d, 1, &ml, e);
		for (size_t m = 0; !s && m < ml.n; m++)
			if (ml.v[m].size > *largest)
				*largest = ml.v[m].size;
		*messages += (int64_t)ml.n;
		drv_msgs_free(&ml);
	}
	drv_folders_free(&fl);
	return s;
}

/* The target's limit: what its first endpoint announces (0: none). */
static enum st target_limit(struct ck *k, uint64_t *limit, char *ep_name, size_t n, struct err *e)
{
	int64_t id = 0;
	for (size_t i = 0; i < k->neps && !id; i++)
		if (k->eps[i].target) {
			struct endpoint ep;
			if (!store_endpoint_get(k->st, k->eps[i].name, &ep, e)) {
				id = ep.id;
				endpoint_free(&ep);
			}
		}
	if (!id)
		return err_set(e, ST_CONFIG, "the target forest has no mail endpoint");
	const struct drv_ops *ops = NULL;
	struct drv *d = NULL;
	enum st s = connect_as(k, id, NULL, &ops, &d, ep_name, n, e);
	if (!s)
		*limit = ops->size_limit(d);
	if (d)
		ops->close(&d);
	return s;
}

/* Reads every message size of up to SAMPLE_MAILBOXES source mailboxes and
 * compares the largest with the size limit the target announces. */
static void check_largest(struct ck *k, const struct forest *f)
{
	const char *title = "the target accepts the largest source message (APPENDLIMIT)";
	char tname[200] = "", why[600] = "";
	uint64_t limit = 0;
	struct err e;
	err_clear(&e);
	if (target_limit(k, &limit, tname, sizeof tname, &e)) {
		emit(k, "largest-message", title, NULL, CL_MANUAL, NULL, "not checked: %s", e.msg);
		return;
	}
	if (!limit) {
		emit(k, "largest-message", title, tname, CL_MANUAL, "ask the target's administrator for its message "
		     "size limit (a larger message is skipped and listed by mailferry skipped)",
		     "not checked: %s announces no APPENDLIMIT", tname);
		return;
	}
	struct sample sm = { .n = 0 };
	store_mailbox_rows(k->st, f->id, 0, pick_sample, &sm, NULL, &e);
	uint64_t largest = 0;
	int64_t messages = 0;
	int read = 0, over = 0;
	char over_names[300] = "";
	for (int i = 0; i < sm.n; i++) {
		const struct drv_ops *ops = NULL;
		struct drv *d = NULL;
		char epn[200];
		uint64_t big = 0;
		err_clear(&e);
		enum st s = connect_as(k, sm.v[i].endpoint_id, sm.v[i].login, &ops, &d, epn, sizeof epn, &e);
		if (!s)
			s = largest_of(ops, d, &big, &messages, &e);
		if (d)
			ops->close(&d);
		if (s && !why[0])
			snprintf(why, sizeof why, "%s: %s", sm.v[i].login, e.msg);
		read += !s;
		if (big > largest)
			largest = big;
		if (big > limit && strlen(over_names) + strlen(sm.v[i].login) + 3 < sizeof over_names)
			snprintf(over_names + strlen(over_names), sizeof over_names - strlen(over_names), "%s%s",
			         over++ ? ", " : "", sm.v[i].login);
		free(sm.v[i].login);
	}
	char sampled[160];
	snprintf(sampled, sizeof sampled, "%d of the %lld mailbox%s read (%lld messages)", read, (long long)sm.total,
	         sm.total == 1 ? "" : "es", (long long)messages);
	if (!read) {
		emit(k, "largest-message", title, tname, CL_MANUAL, NULL, "not checked: no source mailbox could be read%s%s",
		     why[0] ? ": " : "", why);
		return;
	}
	if (over) {
		char *fix = x_asprintf("raise the message size limit behind %s to at least %llu bytes (Dovecot: "
		                       "quota_max_mail_size; Exchange Online: up to 150 MB), or accept that larger messages "
		                       "are skipped (mailferry skipped lists them)", tname, (unsigned long long)largest);
		emit(k, "largest-message", title, tname, CL_WARN, fix, "a message of %llu bytes is over the APPENDLIMIT of "
		     "%llu bytes of %s (in %s; %s)", (unsigned long long)largest, (unsigned long long)limit, tname,
		     over_names, sampled);
		free(fix);
		return;
	}
	emit(k, "largest-message", title, tname, CL_PASS, NULL, "the largest message, %llu bytes, is within the "
	     "APPENDLIMIT of %llu bytes of %s (%s%s%s)", (unsigned long long)largest, (unsigned long long)limit, tname,
	     sampled, why[0] ? "; not read: " : "", why);
}

/* --- files, clock, notification server ---------------------------------------------------- */

/* One password file (or the secrets file): it exists and only its owner
 * may read it.  False when it failed (an item was written). */
static bool check_file_mode(struct ck *k, const char *path, const char *what, bool must_exist)
{
	const char *title = "password files and the secrets file are readable by their owner only";
	struct stat sb;
	if (stat(path, &sb) != 0) {
		if (errno == ENOENT && !must_exist)
			return true;
		char *fix = x_asprintf("write the password to %s (chmod 600 %s) or change the password source of %s",
		                       path, path, what);
		emit(k, "secrets-mode", title, NULL, CL_FAIL, fix, "%s of %s: %s", path, what, strerror(errno));
		free(fix);
		return false;
	}
	if (sb.st_mode & 077) {
		char *fix = x_asprintf("chmod 600 %s", path);
		emit(k, "secrets-mode", title, NULL, CL_FAIL, fix, "%s (%s) has mode %03o: others on this machine can "
		     "read it (mailferry refuses to use it)", path, what, (unsigned)(sb.st_mode & 0777));
		free(fix);
		return false;
	}
	return true;
}

static void check_files(struct ck *k, const struct forest *f)
{
	int ok = 0, bad = 0;
	bool secrets_used = false;
	for (size_t i = 0; i < k->neps; i++) {
		const char *ref = k->eps[i].secret_ref ? k->eps[i].secret_ref : "";
		if (!strncmp(ref, "file:", 5)) {
			char *what = x_asprintf("endpoint %s", k->eps[i].name);
			check_file_mode(k, ref + 5, what, true) ? ok++ : bad++;
			free(what);
		}
		secrets_used = secrets_used || !strncmp(ref, "secret:", 7);
	}
	const char *dref = f->dir_secret_ref ? f->dir_secret_ref : "";
	if (!strncmp(dref, "file:", 5)) {
		char *what = x_asprintf("the directory of forest %s", f->name);
		check_file_mode(k, dref + 5, what, true) ? ok++ : bad++;
		free(what);
	}
	secrets_used = secrets_used || !strncmp(dref, "secret:", 7);
	if (k->cfg->secrets_path && *k->cfg->secrets_path) {
		if (check_file_mode(k, k->cfg->secrets_path, "the secrets file", secrets_used))
			ok += secrets_used;
		else
			bad++;
	}
	if (!bad)
		emit(k, "secrets-mode", "password files and the secrets file are readable by their owner only", NULL,
		     CL_PASS, NULL, "%d password file%s in use, each mode 600 or stricter%s", ok, ok == 1 ? "" : "s",
		     secrets_used ? " (the secrets file included)" : "");
}

static void check_clock(struct ck *k)
{
	const char *title = "this machine's clock is right (NTP)";
	struct timex tx = { 0 };
	int rc = ntp_adjtime(&tx);
	if (rc != -1 && rc != TIME_ERROR && !(tx.status & STA_UNSYNC))
		emit(k, "clock", title, NULL, CL_PASS, NULL, "synchronised by NTP (estimated error %ld us); the mail "
		     "servers' clocks cannot be read over IMAP: keep them on NTP too", tx.esterror);
	else
		emit(k, "clock", title, NULL, CL_MANUAL, "timedatectl set-ntp true (or chrony) here and on the mail "
		     "servers; 'timedatectl' should say 'System clock synchronized: yes'", "not checked: the kernel "
		     "says this clock is not NTP-synchronised, and IMAP does not tell a server's time");
}

static void check_smtp(struct ck *k)
{
	const char *title = "the notification mail server accepts connections";
	const struct cfg *c = k->cfg;
	if (!c->smtp_url || !*c->smtp_url) {
		emit(k, "notify-smtp", title, NULL, CL_MANUAL, NULL, "not checked: no notification server is set "
		     "(smtp_url empty: no e-mail is sent)");
		return;
	}
	CURL *h = curl_easy_init();
	if (!h) {
		emit(k, "notify-smtp", title, NULL, CL_MANUAL, NULL, "not checked: cannot initialise libcurl");
		return;
	}
	long timeout = c->timeout_s > 0 && c->timeout_s < CL_TIMEOUT_MAX_S ? c->timeout_s : CL_TIMEOUT_MAX_S;
	char why[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(h, CURLOPT_URL, c->smtp_url);
	curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);     /* greeting and EHLO, no mail */
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, timeout);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, why);
	curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->smtp_insecure ? 0L : 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->smtp_insecure ? 0L : 2L);
	CURLcode rc = curl_easy_perform(h);
	curl_easy_cleanup(h);
	if (rc == CURLE_OK) {
		emit(k, "notify-smtp", title, NULL, CL_PASS, NULL, "%s answers (mailferry notify test ADDRESS sends a "
		     "message)", c->smtp_url);
		return;
	}
	char *fix = x_asprintf("start the mail server behind %s or correct it: mailferry config set smtp_url "
	                       "smtp://HOST:PORT (empty: no notifications)", c->smtp_url);
	emit(k, "notify-smtp", title, NULL, CL_FAIL, fix, "%s: %s", c->smtp_url, why[0] ? why : curl_easy_strerror(rc));
	free(fix);
}

/* --- the whole list --------------------------------------------------------------------- */

static void ck_free(struct ck *k)
{
	for (size_t i = 0; i < k->nr; i++) {
		free(k->r[i].check);
		free(k->r[i].endpoint);
		free(k->r[i].detail);
		free(k->r[i].fix);
	}
	free(k->r);
	for (size_t i = 0; i < k->neps; i++) {
		free(k->eps[i].name);
		free(k->eps[i].secret_ref);
	}
	free(k->eps);
	free(k->target_name);
}

enum st checklist_run(struct store *s, const struct cfg *c, const char *forest_name, cl_fn fn, void *ctx,
                      enum cl_state *worst, struct err *e)
{
	struct forest f;
	enum st r = store_forest_get(s, forest_name, &f, e);
	if (r)
		return r;
	struct ck k = { .st = s, .cfg = c, .fn = fn, .ctx = ctx, .worst = CL_PASS, .forest_id = f.id };
	struct box_count boxes = { 0 };
	r = check_forests(&k, &f, e);
	if (!r)
		r = store_mailbox_rows(s, f.id, 0, count_box, &boxes, NULL, e);
	if (!r)
		r = run_health(&k, &f, e);
	if (!r) {
		check_mailboxes(&k, &f, &boxes);
		check_directory(&k, &f);
		check_has_endpoint(&k, &f);
		for (size_t i = 0; i < k.neps; i++)
			if (!k.eps[i].target || k.is_target)
				check_endpoint_items(&k, &k.eps[i]);
		for (size_t i = 0; i < k.neps; i++)
			if (k.eps[i].target && !k.is_target)
				check_endpoint_items(&k, &k.eps[i]);
		if (!k.is_target && k.target_name && boxes.n)
			check_largest(&k, &f);
		check_files(&k, &f);
		check_disk(&k, &boxes);
		check_clock(&k);
		check_smtp(&k);
	}
	if (worst)
		*worst = k.worst;
	ck_free(&k);
	forest_free(&f);
	return r;
}
