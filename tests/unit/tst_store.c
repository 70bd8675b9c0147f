/* tst_store.c - the store: schema creation and the v1 -> v2 upgrade,
 * endpoints, forests, job claim and queue order, pause/resume commands,
 * revisions and row listings, mailboxes, delegation, blackouts, maps,
 * journal, and that a newer schema is refused. */
#include "store.h"
#include "tz.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "wall.h"

/* The structs take owned (non-const) strings; these tests lend literals. */
#define S(lit) ((char *)(lit))

/* The v1 schema as mailferry created it before v2 (steps[0] of store.c),
 * to check that such a store upgrades in place. */
static const char v1_sql[] =
	"CREATE TABLE endpoints("
	"  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL DEFAULT 'imap',"
	"  url TEXT NOT NULL, admin_user TEXT, secret_ref TEXT, auth_mech TEXT,"
	"  login_template TEXT, insecure INTEGER NOT NULL DEFAULT 0,"
	"  max_connections INTEGER NOT NULL DEFAULT 10, created INTEGER NOT NULL);"
	"CREATE TABLE mailboxes("
	"  id INTEGER PRIMARY KEY, endpoint_id INTEGER NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,"
	"  login TEXT NOT NULL, address TEXT, display_name TEXT, size_bytes INTEGER, items INTEGER,"
	"  folders INTEGER, status TEXT, last_pass INTEGER, UNIQUE(endpoint_id, login));"
	"CREATE TABLE pairs("
	"  id INTEGER PRIMARY KEY, src_ep INTEGER NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,"
	"  src_user TEXT NOT NULL, dst_ep INTEGER NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,"
	"  dst_user TEXT NOT NULL, UNIQUE(src_ep, src_user, dst_ep, dst_user));"
	"CREATE TABLE jobs("
	"  id INTEGER PRIMARY KEY, pair_id INTEGER NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,"
	"  state TEXT NOT NULL, priority INTEGER NOT NULL DEFAULT 100, pass TEXT NOT NULL,"
	"  prestage_days INTEGER NOT NULL DEFAULT 0, trial_items INTEGER NOT NULL DEFAULT 0,"
	"  include_re TEXT, exclude_re TEXT, folder_map TEXT, max_size INTEGER NOT NULL DEFAULT 0,"
	"  bad_item_limit INTEGER NOT NULL DEFAULT 50, sep_char TEXT NOT NULL DEFAULT '_',"
	"  items_done INTEGER NOT NULL DEFAULT 0, bytes_done INTEGER NOT NULL DEFAULT 0,"
	"  items_skipped INTEGER NOT NULL DEFAULT 0, items_failed INTEGER NOT NULL DEFAULT 0,"
	"  flags_updated INTEGER NOT NULL DEFAULT 0, current_folder TEXT, attempts INTEGER NOT NULL DEFAULT 0,"
	"  error TEXT, created INTEGER NOT NULL, started INTEGER, finished INTEGER);"
	"CREATE INDEX jobs_state ON jobs(state, priority, id);"
	"CREATE TABLE passes("
	"  id INTEGER PRIMARY KEY, job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
	"  kind TEXT NOT NULL, started INTEGER NOT NULL, finished INTEGER, result TEXT,"
	"  copied INTEGER, bytes INTEGER, skipped INTEGER, failed INTEGER, reflagged INTEGER);"
	"CREATE TABLE folders("
	"  id INTEGER PRIMARY KEY, pair_id INTEGER NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,"
	"  src_name TEXT NOT NULL, dst_name TEXT, src_uidvalidity INTEGER NOT NULL DEFAULT 0,"
	"  dst_uidvalidity INTEGER NOT NULL DEFAULT 0, src_uidnext INTEGER NOT NULL DEFAULT 0,"
	"  src_modseq INTEGER NOT NULL DEFAULT 0, UNIQUE(pair_id, src_name));"
	"CREATE TABLE messages("
	"  folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,"
	"  src_uid INTEGER NOT NULL, dst_uid INTEGER NOT NULL, size INTEGER NOT NULL,"
	"  flags TEXT NOT NULL DEFAULT '', hash BLOB, src_id TEXT, dst_id TEXT,"
	"  PRIMARY KEY(folder_id, src_uid)) WITHOUT ROWID;"
	"CREATE TABLE journal("
	"  folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,"
	"  src_uid INTEGER NOT NULL, dst_uidvalidity INTEGER NOT NULL, dst_uidnext INTEGER NOT NULL,"
	"  size INTEGER NOT NULL, created INTEGER NOT NULL, PRIMARY KEY(folder_id, src_uid)) WITHOUT ROWID;"
	"CREATE TABLE skipped("
	"  id INTEGER PRIMARY KEY, job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
	"  folder_id INTEGER NOT NULL, folder TEXT NOT NULL, src_uid INTEGER NOT NULL, subject TEXT,"
	"  size INTEGER, reason TEXT NOT NULL, ts INTEGER NOT NULL, UNIQUE(job_id, folder_id, src_uid));"
	"CREATE TABLE events("
	"  id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, level INTEGER NOT NULL, job_id INTEGER,"
	"  message TEXT NOT NULL);"
	"CREATE INDEX events_job ON events(job_id, id);"
	"CREATE TABLE samples("
	"  ts INTEGER NOT NULL, endpoint_id INTEGER, items INTEGER NOT NULL, bytes INTEGER NOT NULL);"
	"CREATE TABLE commands("
	"  id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, verb TEXT NOT NULL, job_id INTEGER,"
	"  arg TEXT, done INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE blackouts("
	"  id INTEGER PRIMARY KEY, site TEXT, mailbox_id INTEGER, tz TEXT, start_ts INTEGER,"
	"  end_ts INTEGER, weekly INTEGER NOT NULL DEFAULT 0, mode TEXT);";

static void tz_env(void) { unsetenv("TZDIR"); }

struct seen {
	int n;
	int64_t ids[32];
	int64_t size[32];
	char status[32][16];
	int64_t delegates[32];
};

static void see_job(void *ctx, const struct job_row *r)
{
	struct seen *v = ctx;
	if (v->n < 32) {
		v->ids[v->n] = r->id;
		v->size[v->n] = r->src_size_bytes;
		snprintf(v->status[v->n], sizeof v->status[0], "%s", job_state_name(r->state));
	}
	v->n++;
}

static void see_mailbox(void *ctx, const struct mailbox_row *r)
{
	struct seen *v = ctx;
	if (v->n < 32) {
		v->ids[v->n] = r->id;
		v->size[v->n] = r->size_bytes;
		snprintf(v->status[v->n], sizeof v->status[0], "%s", r->status ? r->status : "-");
		v->delegates[v->n] = r->delegates;
	}
	v->n++;
}

static struct seen job_rows(struct store *s, int64_t since, int64_t *max_rev)
{
	struct seen v = { 0 };
	struct err e;
	if (store_job_rows(s, since, see_job, &v, max_rev, &e))
		v.n = -1;
	return v;
}

static struct seen mailbox_rows(struct store *s, int64_t forest, int64_t since, int64_t *max_rev)
{
	struct seen v = { 0 };
	struct err e;
	if (store_mailbox_rows(s, forest, since, see_mailbox, &v, max_rev, &e))
		v.n = -1;
	return v;
}

static int64_t user_version(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;
	sqlite3_open(path, &db);
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

static void test_upgrade(const char *dir)
{
	char *path = x_asprintf("%s/v1.db", dir);
	sqlite3 *db;
	sqlite3_open(path, &db);
	int rc = sqlite3_exec(db, v1_sql, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "PRAGMA user_version=1;"
			"INSERT INTO endpoints(id,name,url,created) VALUES(1,'src','imap://a',0),(2,'dst','imap://b',0);"
			"INSERT INTO pairs(id,src_ep,src_user,dst_ep,dst_user) VALUES(1,1,'u1',2,'u1'),(2,1,'u2',2,'u2');"
			"INSERT INTO jobs(id,pair_id,state,pass,created,started,finished) VALUES"
			"  (1,1,'completed','full',100,110,120),(2,2,'failed','full',130,135,136),"
			"  (3,1,'queued','delta',140,NULL,NULL);"
			"INSERT INTO mailboxes(endpoint_id,login,size_bytes,items) VALUES(1,'u1',5000,50);"
			"INSERT INTO blackouts(site,start_ts,end_ts) VALUES('HQ',1,2);",
			NULL, NULL, NULL);
	sqlite3_close(db);
	check(rc == SQLITE_OK, "a v1 store with jobs, a mailbox and a blackout");
	struct store *s = NULL;
	struct err e;
	check(store_open(path, &s, &e) == 0, "v1 store opens (upgrading): %s", e.msg);
	check(user_version(path) == STORE_SCHEMA_VERSION, "upgraded to the current schema version");
	int64_t max_rev = 0, n = 0;
	struct seen v = job_rows(s, 0, &max_rev);
	check(v.n == 3 && v.ids[0] == 1 && v.ids[2] == 3 && max_rev > 0,
	      "old jobs listed in queue order with a revision (%d rows, rev %lld)", v.n, (long long)max_rev);
	check(v.size[0] == 5000 && v.size[1] == -1, "job rows carry the source mailbox size (-1 unknown)");
	v = mailbox_rows(s, 0, 0, NULL);
	check(v.n == 2 && !strcmp(v.status[0], "queued") && !strcmp(v.status[1], "failed"),
	      "mailboxes backfilled with their latest job's state (%s, %s)", v.status[0], v.status[1]);
	check(store_mailbox_total(s, &n, &e) == 0 && n == 2, "two mailboxes");
	struct blackout b;
	check(store_blackout_get(s, 1, &b, &e) == 0 && !strcmp(b.site, "HQ") && !b.name,
	      "old blackout kept (no name yet)");
	blackout_free(&b);
	struct forest f = { .name = S("t"), .role = S("target") };
	check(store_forest_add(s, &f, &e) == 0, "forests usable after the upgrade");
	struct job c;
	bool found;
	check(store_job_claim(s, &c, &found, &e) == 0 && found && c.id == 3, "old queued job claimable");
	job_free(&c);
	store_close(&s);
	check(store_open(path, &s, &e) == 0 && user_version(path) == STORE_SCHEMA_VERSION, "reopening does not upgrade again");
	store_close(&s);
	free(path);
}

struct fcount { int n; int64_t last_forest; };

static void count_forest(void *ctx, const struct forest *f)
{
	struct fcount *c = ctx;
	c->n++;
	c->last_forest = f->id;
}

static void count_endpoint(void *ctx, const struct endpoint *ep)
{
	struct fcount *c = ctx;
	c->n++;
	if (!strcmp(ep->name, "src"))
		c->last_forest = ep->forest_id;
}

struct acount { int n, worst, forest_level; };

static void count_alert(void *ctx, int64_t forest_id, const char *endpoint, const char *check_name, int level,
                        const char *detail, const char *fix, int64_t ts)
{
	(void)forest_id, (void)check_name, (void)detail, (void)fix, (void)ts;
	struct acount *a = ctx;
	a->n++;
	if (endpoint && level > a->worst)
		a->worst = level;
	if (!endpoint)
		a->forest_level = level;
}

static void test_forests(struct store *s, int64_t *old_id, int64_t *new_id)
{
	struct err e;
	struct forest t = { .name = S("corp-new"), .role = S("target") };
	check(store_forest_add(s, &t, &e) == 0 && t.id > 0, "target forest added");
	struct forest t2 = { .name = S("other"), .role = S("target") };
	check(store_forest_add(s, &t2, &e) == ST_CONFIG &&
	      strstr(e.msg, "there is already a target forest, corp-new"), "second target refused: %s", e.msg);
	struct forest ten = { .name = S("cloud"), .role = S("tenant") };
	check(store_forest_add(s, &ten, &e) == 0, "one tenant forest");
	ten.name = S("cloud2");
	check(store_forest_add(s, &ten, &e) == ST_CONFIG && strstr(e.msg, "tenant forest, cloud"),
	      "second tenant refused");
	struct forest bad = { .name = S("x"), .role = S("boss") };
	check(store_forest_add(s, &bad, &e) == ST_CONFIG && strstr(e.msg, "role"), "unknown role refused");
	bad.role = S("source");
	bad.blackout_mode = S("sometimes");
	check(store_forest_add(s, &bad, &e) == ST_CONFIG && strstr(e.msg, "blackout mode"),
	      "unknown blackout mode refused");
	struct forest o = { .name = S("corp-old"), .role = S("source"), .dir_url = S("ldap://dc1"),
	                    .scope = S("OU=Paris\nOU=Lyon"), .allow_postpone = true };
	check(store_forest_add(s, &o, &e) == 0, "source forest added");
	struct forest dup = o;
	check(store_forest_add(s, &dup, &e) == ST_CONFIG && strstr(e.msg, "exists"), "duplicate name refused");
	struct forest g;
	check(store_forest_get(s, "corp-old", &g, &e) == 0 && !strcmp(g.scope, "OU=Paris\nOU=Lyon") &&
	      g.allow_postpone && !strcmp(g.blackout_mode, "entire"), "forest read back, default mode entire");
	free(g.dir_filter);
	g.dir_filter = x_strdup("(objectClass=user)");
	check(store_forest_update(s, &g, &e) == 0, "forest updated");
	forest_free(&g);
	check(store_forest_get_id(s, o.id, &g, &e) == 0 && !strcmp(g.dir_filter, "(objectClass=user)"),
	      "update stored");
	free(g.role);
	g.role = x_strdup("target");
	check(store_forest_update(s, &g, &e) == ST_CONFIG && strstr(e.msg, "corp-new"),
	      "update to a second target refused");
	forest_free(&g);
	check(store_forest_get(s, "nope", &g, &e) == ST_CONFIG && strstr(e.msg, "nope"), "missing forest named");
	struct fcount fc = { 0 };
	check(store_forest_each(s, count_forest, &fc, &e) == 0 && fc.n == 3, "three forests listed");
	check(store_forest_remove(s, t.id, &e) == ST_CONFIG &&
	      strstr(e.msg, "the target forest can't be deleted"), "target forest cannot be removed");

	struct endpoint ep = { .name = S("src"), .url = S("imap://127.0.0.1:1"), .secret_ref = S("env:PW"),
	                       .forest_id = o.id };
	check(store_endpoint_add(s, &ep, &e) == 0, "endpoint added in a forest");
	ep.name = S("dst");
	ep.forest_id = 0;
	check(store_endpoint_add(s, &ep, &e) == 0, "endpoint without a forest");
	check(store_endpoint_set_forest(s, "dst", t.id, &e) == 0, "endpoint moved into the target forest");
	check(store_endpoint_set_forest(s, "nope", t.id, &e) == ST_CONFIG, "unknown endpoint named");
	check(store_endpoint_set_forest(s, "dst", 999, &e) == ST_CONFIG && strstr(e.msg, "999"),
	      "unknown forest refused");
	ep.name = S("bad");
	ep.forest_id = 999;
	check(store_endpoint_add(s, &ep, &e) == ST_CONFIG && strstr(e.msg, "forest"),
	      "endpoint add with an unknown forest refused: %s", e.msg);
	fc = (struct fcount){ 0 };
	check(store_endpoint_each(s, count_endpoint, &fc, &e) == 0 && fc.n == 2 && fc.last_forest == o.id,
	      "endpoint list gives the forest");
	/* Update keeps the id; same refusals as add. */
	struct endpoint got;
	check(store_endpoint_get(s, "dst", &got, &e) == 0, "endpoint read back");
	int64_t dst_id = got.id;
	struct endpoint up = got;
	up.url = S("imaps://mail.example:993");
	up.max_connections = 25;
	up.insecure = true;
	check(store_endpoint_update(s, &up, &e) == 0, "endpoint updated");
	endpoint_free(&got);
	check(store_endpoint_get(s, "dst", &got, &e) == 0 && got.id == dst_id && got.max_connections == 25 &&
	      got.insecure && strcmp(got.url, "imaps://mail.example:993") == 0 && got.forest_id == t.id,
	      "update kept the id and the forest, changed URL, TLS and connections");
	up = got;
	up.name = S("src");
	check(store_endpoint_update(s, &up, &e) == ST_CONFIG && strstr(e.msg, "exists already"),
	      "renaming onto another endpoint's name refused: %s", e.msg);
	up.name = S("dst");
	up.id = 9999;
	check(store_endpoint_update(s, &up, &e) == ST_CONFIG && strstr(e.msg, "9999"), "unknown endpoint id named");
	endpoint_free(&got);
	/* Alerts: the last check of a forest, replaced as a whole. */
	check(store_alert_add(s, o.id, "src", "login", 3, "refused", "fix it", &e) == 0 &&
	      store_alert_add(s, o.id, NULL, "directory", 0, "bound", NULL, &e) == 0, "alerts recorded");
	struct acount ac = { 0 };
	check(store_alert_each(s, o.id, count_alert, &ac, &e) == 0 && ac.n == 2 && ac.worst == 3 && ac.forest_level == 0,
	      "alerts read back in order: the endpoint's failure, the forest's directory");
	check(store_alerts_clear(s, o.id, &e) == 0 && store_alert_add(s, o.id, "src", "login", 0, "ok", NULL, &e) == 0,
	      "a new check replaces them");
	ac = (struct acount){ 0 };
	check(store_alert_each(s, 0, count_alert, &ac, &e) == 0 && ac.n == 1 && ac.worst == 0, "one alert left");
	*old_id = o.id;
	*new_id = t.id;
}

struct deleg { int n; char pair[64]; };

static void see_delegate(void *ctx, int64_t mailbox_id, const char *login, const char *display,
                         int64_t delegate_id, const char *delegate_login,
                         const char *delegate_display, const char *rights)
{
	(void)mailbox_id, (void)display, (void)delegate_id, (void)delegate_display;
	struct deleg *d = ctx;
	if (d->n++ == 0)
		snprintf(d->pair, sizeof d->pair, "%s<-%s:%s", login, delegate_login, rights ? rights : "");
}

struct summ { int groups; int64_t mailboxes, items, bytes; char site[32]; bool null_status; };

static void see_summary(void *ctx, const char *site, const char *status, int64_t m, int64_t i, int64_t b)
{
	struct summ *s = ctx;
	s->groups++;
	s->mailboxes += m;
	s->items += i;
	s->bytes += b;
	snprintf(s->site, sizeof s->site, "%s", site ? site : "");
	s->null_status = status == NULL;
}

struct sites { int n; char first[32]; int64_t mailboxes, user, room, paris_bytes; };

static void see_site(void *ctx, const struct site_row *r)
{
	struct sites *s = ctx;
	if (s->n++ == 0)
		snprintf(s->first, sizeof s->first, "%s", r->site);
	s->mailboxes += r->mailboxes;
	s->user += r->user;
	s->room += r->room;
	if (!strcmp(r->site, "Paris"))
		s->paris_bytes = r->bytes;
}

/* alice, bob, carol, dave on endpoint 1 (src); returns their ids. */
static void test_mailboxes(struct store *s, int64_t forest, int64_t target, int64_t ids[4])
{
	struct err e;
	const char *logins[] = { "alice", "bob", "carol", "dave" };
	for (int i = 0; i < 4; i++) {
		struct mailbox_row m = { .endpoint_id = 1, .login = logins[i], .display_name = "Ann Ñandú",
		                         .kind = "user", .size_bytes = 1000 * (i + 1), .items = 10,
		                         .folders = -1, .site = "Paris" };
		check(store_mailbox_upsert(s, &m, &ids[i], &e) == 0 && ids[i] > 0, "mailbox %s stored", logins[i]);
	}
	struct mailbox_row bad = { .endpoint_id = 1, .login = "x", .kind = "robot", .size_bytes = -1,
	                           .items = -1, .folders = -1 };
	check(store_mailbox_upsert(s, &bad, NULL, &e) == ST_CONFIG && strstr(e.msg, "robot"), "unknown kind refused");
	bad.kind = NULL;
	bad.endpoint_id = 77;
	check(store_mailbox_upsert(s, &bad, NULL, &e) == ST_CONFIG, "unknown endpoint refused");
	int64_t rev = 0, n = 0;
	struct seen v = mailbox_rows(s, 0, 0, &rev);
	check(v.n == 4 && v.size[0] == 1000 && rev > 0, "four mailbox rows, rev %lld", (long long)rev);
	check(mailbox_rows(s, forest, 0, NULL).n == 4 && mailbox_rows(s, target, 0, NULL).n == 0,
	      "mailbox rows filtered by forest");
	check(mailbox_rows(s, 0, rev, NULL).n == 0, "nothing changed since the last revision");
	struct mailbox_row upd = { .endpoint_id = 1, .login = "alice", .size_bytes = 5555, .items = -1,
	                           .folders = 3 };
	int64_t again = 0;
	check(store_mailbox_upsert(s, &upd, &again, &e) == 0 && again == ids[0], "upsert keeps the row id");
	v = mailbox_rows(s, 0, rev, &rev);
	check(v.n == 1 && v.ids[0] == ids[0] && v.size[0] == 5555, "only the changed mailbox is re-read");
	check(store_mailbox_total(s, &n, &e) == 0 && n == 4, "mailbox total");
	int64_t id;
	check(store_mailbox_id(s, 1, "carol", &id, &e) == 0 && id == ids[2], "mailbox id by login");

	check(store_delegate_add(s, ids[0], ids[1], "FullAccess", "csv", &e) == 0 &&
	      store_delegate_add(s, ids[2], ids[1], "SendAs", "csv", &e) == 0, "delegations added");
	check(store_delegate_add(s, ids[0], ids[0], NULL, NULL, &e) == ST_CONFIG, "self-delegation refused");
	check(store_delegate_add(s, ids[0], 9999, NULL, NULL, &e) == ST_CONFIG, "unknown delegate refused");
	v = mailbox_rows(s, 0, rev, &rev);
	check(v.n == 2 && v.delegates[0] == 1, "delegated mailboxes get a new revision and a count");
	int64_t *set;
	size_t k;
	check(store_delegate_set(s, ids[0], &set, &k, &e) == 0 && k == 3 && set[0] == ids[0] &&
	      set[2] == ids[2], "alice's delegation-linked set is alice, bob, carol (through bob)");
	free(set);
	check(store_delegate_set(s, ids[3], &set, &k, &e) == 0 && k == 1 && set[0] == ids[3],
	      "dave stands alone");
	free(set);
	struct deleg d = { 0 };
	check(store_delegate_each(s, forest, see_delegate, &d, &e) == 0 && d.n == 2 &&
	      !strcmp(d.pair, "alice<-bob:FullAccess"), "delegations listed (%s)", d.pair);
	d = (struct deleg){ 0 };
	check(store_delegate_each(s, target, see_delegate, &d, &e) == 0 && d.n == 0, "none in the target");
	struct summ sm = { 0 };
	enum st sr = store_mailbox_summary(s, see_summary, &sm, &e);
	check(sr == 0 && sm.groups == 1 && sm.mailboxes == 4 &&
	      sm.bytes == 5555 + 2000 + 3000 + 4000 && sm.items == 40 && !strcmp(sm.site, "Paris") && sm.null_status,
	      "summary: one group (Paris, not queued), 4 mailboxes, 40 items, %lld bytes", (long long)sm.bytes);
	struct sites st = { 0 };
	check(store_site_each(s, forest, see_site, &st, &e) == 0 && st.n == 1 && !strcmp(st.first, "Paris") &&
	      st.room == 0 && st.user == 4 && st.paris_bytes == 5555 + 2000 + 3000 + 4000 && st.mailboxes == 4,
	      "sites of the forest: Paris, 4 user mailboxes, their bytes");
	st = (struct sites){ 0 };
	check(store_site_each(s, target, see_site, &st, &e) == 0 && st.n == 0, "no site in the target");
}

static int64_t queue(struct store *s, const char *user, int64_t start_after)
{
	struct job j = { .src_ep = 1, .dst_ep = 2, .src_user = S(user), .dst_user = S(user),
	                 .priority = 100, .start_after = start_after, .notify_user = true };
	struct err e;
	return store_job_add(s, &j, &e) ? -1 : j.id;
}

struct pass_seen { int n; int64_t copied; char result[16]; };

static void see_pass(void *ctx, int64_t id, const char *kind, int64_t started, int64_t finished,
                     const char *result, int64_t copied, int64_t bytes, int64_t skipped,
                     int64_t failed, int64_t reflagged)
{
	(void)id, (void)kind, (void)started, (void)finished, (void)bytes, (void)skipped, (void)failed,
	(void)reflagged;
	struct pass_seen *p = ctx;
	p->n++;
	p->copied = copied;
	snprintf(p->result, sizeof p->result, "%s", result ? result : "");
}

static void test_jobs(struct store *s, const int64_t mb[4])
{
	struct err e;
	(void)mb;
	clock_set_fake(1000000);
	int64_t a = queue(s, "alice", 0), x = queue(s, "erin", 0);
	int64_t rev = 0, n = 0;
	struct seen v = job_rows(s, 0, &rev);
	check(v.n == 2 && v.ids[0] == a && v.size[0] == 5555 && v.size[1] == -1,
	      "job rows with the source mailbox's size");
	check(store_job_total(s, &n, &e) == 0 && n == 2, "job total");
	v = mailbox_rows(s, 0, 0, NULL);
	check(v.n == 5 && !strcmp(v.status[0], "queued") && !strcmp(v.status[4], "queued"),
	      "queued mailboxes show up (erin created), status queued");
	struct job c;
	bool found;
	check(store_job_claim(s, &c, &found, &e) == 0 && found && c.id == a && c.notify_user, "alice claimed");
	v = job_rows(s, rev, &rev);
	check(v.n == 1 && v.ids[0] == a && !strcmp(v.status[0], "running"), "only the claimed job re-read");
	v = mailbox_rows(s, 0, 0, NULL);
	check(!strcmp(v.status[0], "running"), "alice's mailbox is running");

	/* start_after: not before its time (fake clock). */
	int64_t later = queue(s, "dave", 1000000 + 3600);
	struct job c2;
	check(store_job_claim(s, &c2, &found, &e) == 0 && found && c2.id == x, "erin claimed");
	job_free(&c2);
	check(store_job_claim(s, &c2, &found, &e) == 0 && !found, "dave not claimed before start_after");
	clock_set_fake(1000000 + 3600);
	check(store_job_claim(s, &c2, &found, &e) == 0 && found && c2.id == later && c2.start_after > 0,
	      "dave claimed at start_after");
	job_free(&c2);

	/* Pause and resume. */
	check(store_job_pause(s, a, &e) == 0, "pause of a running job accepted");
	struct job g;
	store_job_get(s, a, &g, &e);
	check(g.state == JOB_RUNNING, "running job keeps running until its checkpoint");
	job_free(&g);
	struct command *cmds;
	size_t k;
	check(store_job_pause(s, a, &e) == 0 && store_command_pending(s, "pause", &cmds, &k, &e) == 0 &&
	      k == 1 && cmds[0].job_id == a, "one pending pause command");
	int64_t cmd = k ? cmds[0].id : 0;
	free(cmds);
	check(store_job_resume(s, a, &e) == 0 && store_command_pending(s, "pause", &cmds, &k, &e) == 0 &&
	      k == 0, "resume withdraws a pending pause");
	free(cmds);
	check(store_job_pause(s, a, &e) == 0 && store_command_pending(s, "pause", &cmds, &k, &e) == 0 && k == 1,
	      "paused again");
	cmd = k ? cmds[0].id : 0;
	free(cmds);
	check(store_command_settle(s, &e) == 0 && store_command_pending(s, "pause", &cmds, &k, &e) == 0 &&
	      k == 1, "settle leaves a running job's pause to its engine");
	free(cmds);
	c.items_done = 5;
	check(store_job_finish_paused(s, &c, "admin", &e) == 0 && store_command_done(s, cmd, &e) == 0,
	      "engine ends it paused");
	v = job_rows(s, rev, &rev);
	bool seen_paused = false;
	for (int i = 0; i < v.n && i < 32; i++)
		seen_paused |= v.ids[i] == a && !strcmp(v.status[i], "paused");
	check(seen_paused, "paused job re-read (%d rows since %lld)", v.n, (long long)rev);
	store_job_get(s, a, &g, &e);
	check(g.state == JOB_PAUSED && g.items_done == 5, "job paused with its counts");
	job_free(&g);
	check(store_job_pause(s, a, &e) == ST_CONFIG && strstr(e.msg, "already paused"), "pause twice: %s", e.msg);
	check(store_job_resume(s, a, &e) == 0, "resume");
	store_job_get(s, a, &g, &e);
	check(g.state == JOB_QUEUED, "resumed job queued");
	job_free(&g);
	check(store_job_resume(s, a, &e) == ST_CONFIG && strstr(e.msg, "not paused"),
	      "resume of a queued job refused: %s", e.msg);
	check(store_job_pause(s, a, &e) == 0, "pause a queued job");
	store_job_get(s, a, &g, &e);
	check(g.state == JOB_PAUSED, "queued job paused at once");
	job_free(&g);
	check(store_job_finish(s, &c, JOB_COMPLETED, NULL, &e) == ST_CONFIG &&
	      !strcmp(e.msg, "job 1 cannot end as completed: it is paused"),
	      "the lifecycle refuses paused -> completed: %s", e.msg);
	store_job_resume(s, a, &e);
	store_job_start(s, &c, &e);
	check(store_job_finish(s, &c, JOB_COMPLETED, NULL, &e) == 0, "running -> completed");
	check(store_job_pause(s, a, &e) == ST_CONFIG && strstr(e.msg, "completed"),
	      "completed job cannot be paused: %s", e.msg);
	check(store_job_pause(s, 424242, &e) == ST_CONFIG && strstr(e.msg, "424242"), "unknown job named");
	job_free(&c);

	/* A pause that raced with its job leaving the worker (requeued). */
	check(store_job_pause(s, x, &e) == 0, "pause erin (running)");
	store_job_get(s, x, &g, &e);
	store_job_finish(s, &g, JOB_QUEUED, NULL, &e);   /* stopped by a cancel, say */
	job_free(&g);
	check(store_command_settle(s, &e) == 0, "settle");
	store_job_get(s, x, &g, &e);
	check(g.state == JOB_PAUSED && store_command_pending(s, "pause", &cmds, &k, &e) == 0 && k == 0,
	      "a requeued job with a pending pause is paused and the command closed");
	free(cmds);
	job_free(&g);

	/* Queue order, one step at a time. */
	int64_t q1 = queue(s, "q1", 0), q2 = queue(s, "q2", 0), q3 = queue(s, "q3", 0);
	check(store_job_move_step(s, q3, true, &e) == 0, "q3 up");
	v = job_rows(s, 0, NULL);
	int i1 = -1, i2 = -1, i3 = -1;
	for (int i = 0; i < v.n && i < 32; i++) {
		if (v.ids[i] == q1) i1 = i;
		if (v.ids[i] == q2) i2 = i;
		if (v.ids[i] == q3) i3 = i;
	}
	check(i1 < i3 && i3 < i2, "order q1, q3, q2");
	check(store_job_move_step(s, q1, true, &e) == 0 && store_job_move_step(s, q2, false, &e) == 0,
	      "moving past either end changes nothing");
	check(store_job_move_step(s, q1, false, &e) == 0, "q1 down");
	v = job_rows(s, 0, NULL);
	for (int i = 0; i < v.n && i < 32; i++) {
		if (v.ids[i] == q1) i1 = i;
		if (v.ids[i] == q3) i3 = i;
	}
	check(i3 < i1, "q3 now before q1");
	check(store_job_move_step(s, later, true, &e) == ST_CONFIG && strstr(e.msg, "only queued"),
	      "a running job cannot be moved");

	/* Passes. */
	int64_t pass;
	check(store_pass_begin(s, later, "full", &pass, &e) == 0 &&
	      store_pass_end(s, pass, "ok", 42, 4200, 1, 0, 3, &e) == 0, "pass recorded");
	struct pass_seen ps = { 0 };
	check(store_pass_each(s, later, see_pass, &ps, &e) == 0 && ps.n == 1 && ps.copied == 42 &&
	      !strcmp(ps.result, "ok"), "pass listed");
	clock_set_fake(0);
}

struct bcount { int n; char login[16]; };

static void see_blackout(void *ctx, const struct blackout *b)
{
	struct bcount *c = ctx;
	if (b->login)
		snprintf(c->login, sizeof c->login, "%s", b->login);
	c->n++;
}

static void test_blackouts(struct store *s, const int64_t mb[4])
{
	struct err e;
	tz_env();
	struct blackout b = { .name = S("month end"), .site = S("Paris"), .tz = S("Europe/Paris"),
	                      .start_ts = 1000, .end_ts = 2000, .weekly = true };
	check(store_blackout_add(s, &b, &e) == 0 && b.id > 0, "blackout added: %s", e.msg);
	struct blackout m = { .name = S("ceo"), .mailbox_id = mb[3], .start_ts = 500, .end_ts = 600,
	                      .mode = S("final") };
	check(store_blackout_add(s, &m, &e) == 0, "blackout for one mailbox");
	struct blackout bad = b;
	bad.tz = S("Mars/Olympus");
	check(store_blackout_add(s, &bad, &e) == ST_CONFIG && strstr(e.msg, "time zone"), "unknown zone: %s", e.msg);
	bad.tz = S("../../etc/passwd");
	check(store_blackout_add(s, &bad, &e) == ST_CONFIG, "zone outside the database refused");
	bad = b;
	bad.end_ts = bad.start_ts;
	check(store_blackout_add(s, &bad, &e) == ST_CONFIG && strstr(e.msg, "end"), "end not after start");
	bad = b;
	bad.name = S("");
	check(store_blackout_add(s, &bad, &e) == ST_CONFIG && strstr(e.msg, "name"), "empty name");
	bad = b;
	bad.mailbox_id = 99999;
	check(store_blackout_add(s, &bad, &e) == ST_CONFIG && strstr(e.msg, "mailbox"), "unknown mailbox");
	bad = b;
	bad.mode = S("half");
	check(store_blackout_add(s, &bad, &e) == ST_CONFIG && strstr(e.msg, "mode"), "unknown mode");
	struct bcount c = { 0 };
	check(store_blackout_each(s, see_blackout, &c, &e) == 0 && c.n == 2 && !strcmp(c.login, "dave"),
	      "blackouts listed with the mailbox login");
	b.end_ts = 3000;
	b.tz = NULL;
	check(store_blackout_update(s, &b, &e) == 0, "blackout updated");
	struct blackout g;
	check(store_blackout_get(s, b.id, &g, &e) == 0 && g.end_ts == 3000 && !g.tz && g.weekly &&
	      !strcmp(g.name, "month end"), "update stored");
	blackout_free(&g);
	check(store_blackout_remove(s, b.id, &e) == 0, "blackout removed");
	check(store_blackout_remove(s, b.id, &e) == ST_CONFIG, "removing it twice is an error");
}

static int64_t count_rows(struct store *s, const char *path, const char *sql)
{
	(void)s;
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;
	sqlite3_open(path, &db);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

/* Discovery: added / changed / same, the key, vanished and back, the mark. */
struct dkeys { int n, vanished; int64_t last; };

static void see_dir_key(void *ctx, int64_t id, const char *key, bool vanished)
{
	struct dkeys *k = ctx;
	k->n += key != NULL;
	k->vanished += vanished;
	k->last = id;
}

static void test_discovered(struct store *s, int64_t forest)
{
	struct err e;
	struct mailbox_row m = { .endpoint_id = 1, .login = "frank", .display_name = "Frank",
	                         .site = "Lyon", .kind = "room", .size_bytes = -1, .items = -1,
	                         .folders = -1, .dir_key = "guid-frank" };
	int64_t id = 0, again = 0;
	enum discovered out = DISC_SAME;
	check(store_mailbox_discovered(s, &m, &id, &out, NULL, &e) == 0 && out == DISC_ADDED && id > 0,
	      "discovered mailbox added");
	check(store_mailbox_discovered(s, &m, &again, &out, NULL, &e) == 0 && out == DISC_SAME && again == id,
	      "the same entry again: same");
	m.display_name = "Frank B.";
	check(store_mailbox_discovered(s, &m, &again, &out, NULL, &e) == 0 && out == DISC_CHANGED,
	      "a new display name: changed");
	struct dkeys k = { 0 };
	check(store_mailbox_dir_keys(s, 1, see_dir_key, &k, &e) == 0 && k.n == 1 && k.last == id,
	      "the directory key is listed");
	check(store_mailbox_set_vanished(s, id, &e) == 0, "marked vanished");
	k = (struct dkeys){ 0 };
	store_mailbox_dir_keys(s, 1, see_dir_key, &k, &e);
	check(k.vanished == 1, "listed as vanished, still there");
	check(store_mailbox_discovered(s, &m, &again, &out, NULL, &e) == 0 && out == DISC_CHANGED,
	      "back in the directory: changed, no longer vanished");
	k = (struct dkeys){ 0 };
	store_mailbox_dir_keys(s, 1, see_dir_key, &k, &e);
	check(k.vanished == 0, "vanished flag cleared");
	/* Renamed in the directory: same key, new login. */
	char *old = NULL;
	m.login = "frank.b";
	check(store_mailbox_discovered(s, &m, &again, &out, &old, &e) == 0 && out == DISC_RENAMED &&
	      again == id && old && !strcmp(old, "frank"), "same key, new login: renamed in place");
	free(old);
	check(store_mailbox_id(s, 1, "frank.b", &again, &e) == 0 && again == id &&
	      store_mailbox_id(s, 1, "frank", &again, &e) == ST_CONFIG, "only the new login is known");
	check(store_mailbox_discovered(s, &m, &again, &out, &old, &e) == 0 && out == DISC_SAME && !old,
	      "the renamed entry again: same");
	m.login = "frank";
	m.dir_key = "guid-other";
	check(store_mailbox_discovered(s, &m, &again, &out, NULL, &e) == 0 && out == DISC_ADDED && again != id,
	      "the old login with another key: a new mailbox");
	m.login = "frank.b";
	m.dir_key = "guid-frank";
	check(store_delegate_add(s, id, 1, NULL, "directory", &e) == 0, "directory delegate");
	check(store_delegate_clear(s, id, "directory", &e) == 0, "directory delegates cleared");

	struct forest f;
	check(store_forest_set_hwm(s, forest, "usn:42", &e) == 0 &&
	      store_forest_get_id(s, forest, &f, &e) == 0 && f.dir_hwm && !strcmp(f.dir_hwm, "usn:42"),
	      "high-water mark stored");
	check(store_forest_update(s, &f, &e) == 0, "forest rewritten unchanged");
	forest_free(&f);
	check(store_forest_get_id(s, forest, &f, &e) == 0 && f.dir_hwm, "an unchanged directory keeps the mark");
	free(f.dir_filter);
	f.dir_filter = x_strdup("(uid=*)");
	check(store_forest_update(s, &f, &e) == 0, "new filter");
	forest_free(&f);
	check(store_forest_get_id(s, forest, &f, &e) == 0 && !f.dir_hwm, "a new filter forgets the mark");
	forest_free(&f);

	/* The attribute map: its own writer, which update leaves alone. */
	check(store_forest_set_hwm(s, forest, "usn:43", &e) == 0 &&
	      store_forest_set_attrs(s, forest, "login=uid\naddress=mail", &e) == 0 &&
	      store_forest_get_id(s, forest, &f, &e) == 0 && f.dir_attrs &&
	      !strcmp(f.dir_attrs, "login=uid\naddress=mail") && !f.dir_hwm,
	      "attribute map stored; a new map forgets the mark");
	check(store_forest_set_hwm(s, forest, "usn:44", &e) == 0, "mark again");
	free(f.dir_attrs);
	f.dir_attrs = NULL;     /* as a copy that does not know the map (the console) */
	check(store_forest_update(s, &f, &e) == 0, "forest rewritten without the map");
	forest_free(&f);
	check(store_forest_get_id(s, forest, &f, &e) == 0 && f.dir_attrs && !strcmp(f.dir_attrs, "login=uid\naddress=mail") &&
	      f.dir_hwm, "update keeps the map and, unchanged, the mark");
	forest_free(&f);
	check(store_forest_set_attrs(s, forest, "login=uid\naddress=mail", &e) == 0 &&
	      store_forest_get_id(s, forest, &f, &e) == 0 && f.dir_hwm, "the same map keeps the mark");
	forest_free(&f);
	check(store_forest_set_attrs(s, forest, "", &e) == 0 &&
	      store_forest_get_id(s, forest, &f, &e) == 0 && !f.dir_attrs, "an empty map clears it");
	forest_free(&f);
}

static void test_forest_remove(struct store *s, const char *path, int64_t forest)
{
	struct err e;
	store_event(s, EV_INFO, 1, "history of job 1");
	int64_t n;
	check(store_forest_remove(s, forest, &e) == 0, "source forest removed");
	check(store_job_total(s, &n, &e) == 0 && n == 0, "its jobs are gone");
	check(store_mailbox_total(s, &n, &e) == 0 && n == 0, "its mailboxes are gone");
	check(count_rows(s, path, "SELECT count(*) FROM endpoints") == 1, "the target's endpoint stays");
	check(count_rows(s, path, "SELECT count(*) FROM events WHERE job_id IS NOT NULL") == 0 &&
	      count_rows(s, path, "SELECT count(*) FROM passes") == 0 &&
	      count_rows(s, path, "SELECT count(*) FROM delegates") == 0 &&
	      count_rows(s, path, "SELECT count(*) FROM blackouts") == 0 &&
	      count_rows(s, path, "SELECT count(*) FROM commands") == 0 &&
	      count_rows(s, path, "SELECT count(*) FROM pairs") == 0,
	      "events, passes, delegations, blackouts, commands and pairs are gone too");
	check(store_forest_remove(s, forest, &e) == ST_CONFIG, "removing it twice is an error");
}

static void count_only(void *ctx, const struct job_row *r)
{
	int64_t *n = ctx;
	*n += r->id > 0;
}

/* 100 000 jobs: a full read for the console must stay far below its
 * 250 ms refresh; the numbers are printed for the record. */
static void test_rows_speed(const char *dir)
{
	char *path = x_asprintf("%s/big.db", dir);
	struct store *s = NULL;
	struct err e;
	check(store_open(path, &s, &e) == 0, "big store");
	struct endpoint ep = { .name = S("src"), .url = S("imap://h"), .secret_ref = S("env:PW") };
	store_endpoint_add(s, &ep, &e);
	ep.name = S("dst");
	store_endpoint_add(s, &ep, &e);
	int64_t t0 = clock_mono_ms();
	store_begin(s, &e);
	bool ok = true;
	for (int i = 0; i < 100000 && ok; i++) {
		char user[32];
		snprintf(user, sizeof user, "user%06d", i);
		struct job j = { .src_ep = 1, .dst_ep = 2, .src_user = user, .dst_user = user, .priority = 100 };
		ok = store_job_add(s, &j, &e) == 0;
	}
	ok = ok && store_commit(s, &e) == 0;
	int64_t t_seed = clock_mono_ms() - t0;
	check(ok, "100000 jobs seeded in one transaction (%lld ms)", (long long)t_seed);
	int64_t n = 0, rev = 0, best = 1 << 30;
	for (int round = 0; round < 3; round++) {
		n = 0;
		t0 = clock_mono_ms();
		store_job_rows(s, 0, count_only, &n, &rev, &e);
		int64_t t = clock_mono_ms() - t0;
		if (t < best)
			best = t;
	}
	check(n == 100000, "full read: %lld rows, best of 3: %lld ms", (long long)n, (long long)best);
	check(best < 500, "full read well within a refresh");
	struct job c;
	bool found;
	store_job_claim(s, &c, &found, &e);
	job_free(&c);
	n = 0;
	t0 = clock_mono_ms();
	store_job_rows(s, rev, count_only, &n, &rev, &e);
	check(n == 1, "refresh after one change: %lld row in %lld ms", (long long)n,
	      (long long)(clock_mono_ms() - t0));
	t0 = clock_mono_ms();
	store_job_total(s, &n, &e);
	check(n == 100000, "job total in %lld ms", (long long)(clock_mono_ms() - t0));
	/* A claim looks at a bounded number of candidates, however long the queue. */
	t0 = clock_mono_ms();
	int claimed = 0;
	for (int i = 0; i < 20; i++) {
		if (store_job_claim(s, &c, &found, &e) == 0 && found)
			claimed++;
		job_free(&c);
	}
	int64_t t_claim = clock_mono_ms() - t0;
	check(claimed == 9 && t_claim < 500, "claims with 100000 queued: 9 (the endpoints' limit of 10 "
	      "connections) in %lld ms for 20 tries", (long long)t_claim);
	store_close(&s);
	free(path);
}

static void test_v2(const char *dir)
{
	test_upgrade(dir);
	char *path = x_asprintf("%s/v2.db", dir);
	struct store *s = NULL;
	struct err e;
	check(store_open(path, &s, &e) == 0, "fresh v2 store");
	int64_t forest = 0, target = 0, mb[4] = { 0 };
	test_forests(s, &forest, &target);
	test_mailboxes(s, forest, target, mb);
	test_jobs(s, mb);
	test_blackouts(s, mb);
	struct blackout keep = { .name = S("dave's"), .mailbox_id = mb[3], .start_ts = 1, .end_ts = 2 };
	store_blackout_add(s, &keep, &e);
	int64_t running = queue(s, "carol", 0);
	store_job_pause(s, running, &e);
	test_discovered(s, forest);
	test_forest_remove(s, path, forest);
	store_close(&s);
	free(path);
	test_rows_speed(dir);
}

/* A job held by its script keeps the reason; a notice is claimed once. */
static void test_hold_and_notices(struct store *s, int64_t job_id)
{
	struct err e;
	struct job j;
	bool claimed = false;
	int64_t ts = 0;
	check(store_job_get(s, job_id, &j, &e) == 0, "job to hold");
	check(store_job_hold(s, &j, "script", "script /x exited with status 3", &e) == 0, "job held");
	job_free(&j);
	check(store_job_get(s, job_id, &j, &e) == 0 && j.state == JOB_PAUSED && j.error &&
	      !strcmp(j.error, "script /x exited with status 3"), "held: paused, with the reason");
	job_free(&j);
	check(store_job_resume(s, job_id, &e) == 0, "a held job resumes");

	check(store_notice_claim(s, "before", job_id, NULL, &claimed, &e) == 0 && claimed, "notice claimed");
	check(store_notice_claim(s, "before", job_id, NULL, &claimed, &e) == 0 && !claimed, "only once");
	check(store_notice_sent(s, "before", job_id, NULL, &ts, &e) == 0 && ts > 0, "and recorded");
	check(store_notice_claim(s, "summary", 0, "2026-11-25", &claimed, &e) == 0 && claimed, "a day's summary");
	check(store_notice_claim(s, "summary", 0, "2026-11-25", &claimed, &e) == 0 && !claimed, "once a day");
	check(store_notice_claim(s, "summary", 0, "2026-11-26", &claimed, &e) == 0 && claimed, "next day again");
	check(store_notice_release(s, "summary", 0, "2026-11-26", &e) == 0 &&
	      store_notice_sent(s, "summary", 0, "2026-11-26", &ts, &e) == 0 && ts == 0, "a released notice is gone");
	check(store_notice_claim(s, "summary", 0, "2026-11-26", &claimed, &e) == 0 && claimed,
	      "and can be claimed again");
}

/* Windows of one scope that meet are refused, across zones and a summer
 * time change; windows of different scopes may overlap (they chain). */
static void test_overlaps(struct store *s)
{
	struct err e;
	struct blackout nights = { .name = S("paris-nights"), .tz = S("Europe/Paris"), .weekly = true,
	                           .start_ts = wall_time("Europe/Paris", 2026, 3, 2, 22, 0),
	                           .end_ts = wall_time("Europe/Paris", 2026, 3, 3, 6, 0) };
	check(store_blackout_add(s, &nights, &e) == 0, "weekly Monday nights in Paris");
	struct blackout ny = { .name = S("ny-call"), .tz = S("America/New_York"),
	                       .start_ts = wall_time("America/New_York", 2026, 6, 1, 17, 0),
	                       .end_ts = wall_time("America/New_York", 2026, 6, 1, 17, 30) };
	check(store_blackout_add(s, &ny, &e) == ST_CONFIG && strstr(e.msg, "overlaps blackout paris-nights") &&
	      strstr(e.msg, "2026-06-01 17:00 EDT"),
	      "17:00 EDT on a Monday in June is 23:00 in Paris (summer time): refused: %s", e.msg);
	ny.start_ts = wall_time("America/New_York", 2026, 6, 1, 15, 0);
	ny.end_ts = wall_time("America/New_York", 2026, 6, 1, 15, 30);
	check(store_blackout_add(s, &ny, &e) == 0, "15:00 EDT (21:00 in Paris) does not meet it");
	ny.end_ts = wall_time("America/New_York", 2026, 6, 1, 16, 30);
	check(store_blackout_update(s, &ny, &e) == ST_CONFIG && strstr(e.msg, "paris-nights"),
	      "an edit that makes it meet is refused too");
	struct blackout site = { .name = S("site-night"), .site = S("Paris"),
	                         .start_ts = wall_time("Europe/Paris", 2026, 3, 2, 23, 0),
	                         .end_ts = wall_time("Europe/Paris", 2026, 3, 3, 1, 0) };
	check(store_blackout_add(s, &site, &e) == 0, "a site's window may overlap everyone's (they chain)");
}

static bool hold_bob(void *ctx, int64_t src_ep, const char *src_user, enum job_phase phase,
                     bool suspend_ready)
{
	(void)ctx, (void)src_ep, (void)phase, (void)suspend_ready;
	return !strcmp(src_user, "bob");
}

static enum job_state state_of(struct store *s, int64_t id)
{
	struct job j;
	struct err e;
	if (store_job_get(s, id, &j, &e))
		return JOB__COUNT;
	enum job_state st = j.state;
	job_free(&j);
	return st;
}

/* Skipped rows with their mark (store_skipped_rows). */
struct marks { int n; uint32_t uid[4]; bool failed[4]; };

static void put_mark(void *ctx, const struct skipped_row *r)
{
	struct marks *m = ctx;
	if (m->n < 4) {
		m->uid[m->n] = r->uid;
		m->failed[m->n++] = r->failed;
	}
}

/* The lifecycle in the store: holds skipped by the claim, ready jobs and
 * their incremental syncs, cutover, orphans by phase, endpoint-wide pause,
 * retry of failed items, the blackout signature. */
static void test_lifecycle(const char *dir)
{
	char *path = x_asprintf("%s/life.db", dir);
	struct store *s = NULL;
	struct err e;
	check(store_open(path, &s, &e) == 0, "lifecycle store");
	struct endpoint ep = { .name = S("src"), .url = S("imap://127.0.0.1:1"), .admin_user = S("admin"),
	                       .secret_ref = S("env:PW"), .max_connections = 10 };
	store_endpoint_add(s, &ep, &e);
	ep.name = S("dst");
	store_endpoint_add(s, &ep, &e);
	clock_set_fake(2000000);
	struct job bob = { .src_ep = 1, .dst_ep = 2, .src_user = S("bob"), .dst_user = S("bob") };
	struct job amy = { .src_ep = 1, .dst_ep = 2, .src_user = S("amy"), .dst_user = S("amy"),
	                   .suspend_ready = true };
	check(store_job_add(s, &bob, &e) == 0 && store_job_add(s, &amy, &e) == 0, "bob and amy queued");
	struct job c;
	bool found;
	check(store_job_claim_unheld(s, hold_bob, NULL, 0, &c, &found, &e) == 0 && found && c.id == amy.id &&
	      c.phase == PHASE_INITIAL && c.state == JOB_RUNNING,
	      "a held job is skipped: amy (behind bob) claimed, initial phase");
	check(store_job_cutover(s, bob.id, 0, NULL, &e) == ST_CONFIG && strstr(e.msg, "suspend-when-ready"),
	      "cutover of a job without suspend-when-ready refused: %s", e.msg);

	/* Initial pass done: ready, with the next incremental sync. */
	c.next_sync = 2000000 + 3600;
	check(store_job_finish(s, &c, JOB_READY, NULL, &e) == 0 && state_of(s, amy.id) == JOB_READY,
	      "running -> ready");
	job_free(&c);
	check(store_job_pause(s, amy.id, &e) == 0 && state_of(s, amy.id) == JOB_PAUSED &&
	      store_job_resume(s, amy.id, &e) == 0 && state_of(s, amy.id) == JOB_READY,
	      "a ready job paused and resumed is ready again (not queued for a new initial pass)");
	check(store_job_claim_unheld(s, hold_bob, NULL, 0, &c, &found, &e) == 0 && !found,
	      "a ready job waits for its incremental sync");
	clock_set_fake(2000000 + 3600);
	check(store_job_claim_unheld(s, hold_bob, NULL, 0, &c, &found, &e) == 0 && found && c.id == amy.id &&
	      c.phase == PHASE_INCREMENTAL, "at next_sync the incremental sync is claimed");
	check(store_job_requeue_orphans(s, &e) == 0 && state_of(s, amy.id) == JOB_READY,
	      "an orphaned incremental sync goes back to ready");
	job_free(&c);
	check(store_job_finish(s, &(struct job){ .id = amy.id }, JOB_COMPLETED, NULL, &e) == ST_CONFIG &&
	      strstr(e.msg, "ready to complete"), "ready -> completed refused: %s", e.msg);

	/* Cutover at a time: completing, claimed then as the final pass. */
	enum job_state now;
	check(store_job_cutover(s, amy.id, 2000000 + 7200, &now, &e) == 0 && now == JOB_COMPLETING &&
	      state_of(s, amy.id) == JOB_COMPLETING, "cutover: ready -> completing");
	check(store_job_claim_unheld(s, hold_bob, NULL, 0, &c, &found, &e) == 0 && !found,
	      "not before the cutover time");
	clock_set_fake(2000000 + 7200);
	check(store_job_claim_unheld(s, hold_bob, NULL, 0, &c, &found, &e) == 0 && found && c.phase == PHASE_FINAL,
	      "final pass claimed at the cutover time");
	check(store_job_pause(s, amy.id, &e) == 0, "pause asked for the final pass");
	check(store_job_finish_paused(s, &c, "admin", &e) == 0 && store_job_resume(s, amy.id, &e) == 0 &&
	      state_of(s, amy.id) == JOB_COMPLETING, "paused final pass resumes as completing");
	job_free(&c);
	check(store_job_claim_unheld(s, hold_bob, NULL, 0, &c, &found, &e) == 0 && found && c.phase == PHASE_FINAL,
	      "claimed again");
	c.items_failed = 1;
	check(store_job_finish(s, &c, JOB_PARTIAL, NULL, &e) == 0, "final pass partial");
	check(store_item_failed_add(s, c.id, 1, "INBOX", 42, 100, "refused", &e) == 0 &&
	      store_skipped_add(s, c.id, 1, "INBOX", 43, "big", 1 << 30, "too big", &e) == 0, "one failed, one skipped");
	check(store_skipped_add(s, c.id, 2, "Sent", 7, "Minutes", 10, "refused once", &e) == 0 &&
	      store_item_failed_add(s, c.id, 2, "Sent", 7, 10, "refused", &e) == 0 &&
	      count_rows(s, path, "SELECT count(*) FROM skipped WHERE folder_id=2 AND src_uid=7 AND failed=1 "
	                          "AND subject='Minutes' AND reason='refused'") == 1,
	      "an item that fails after a skip keeps the subject the skip recorded");
	store_failed_done(s, c.id, 2, 7, &e);      /* only uid 42 stays failed, for the checks below */
	check(count_rows(s, path, "SELECT count(*) FROM skipped WHERE folder_id=1 AND src_uid=42 AND failed=1 "
	                          "AND subject IS NULL AND size=100") == 1,
	      "a failed item with no skip before has no subject");
	uint32_t *uids;
	size_t nu;
	int64_t nf;
	check(store_failed_uids(s, c.id, 1, &uids, &nu, &e) == 0 && nu == 1 && uids[0] == 42 &&
	      store_failed_count(s, c.id, &nf, &e) == 0 && nf == 1, "only the failed item is retried");
	free(uids);
	struct marks m = { 0 };
	check(store_skipped_rows(s, c.id, put_mark, &m, &e) == 0 && m.n == 2 && m.uid[0] == 42 && m.failed[0] &&
	      m.uid[1] == 43 && !m.failed[1], "skipped rows: 42 marked failed, 43 skipped for good");
	bool only;
	check(store_job_retry_pass(s, c.id, false, &only, &e) == 0 && only && state_of(s, c.id) == JOB_COMPLETING,
	      "retry of a partial job: failed items only, back to completing");
	job_free(&c);
	check(store_job_claim_unheld(s, hold_bob, NULL, 0, &c, &found, &e) == 0 && found && c.retry_errors,
	      "claimed as retry-errors");
	check(store_failed_done(s, c.id, 1, 42, &e) == 0 && store_failed_count(s, c.id, &nf, &e) == 0 && nf == 0,
	      "a retried item that made it is no longer failed");
	c.retry_errors = false;
	check(store_job_finish(s, &c, JOB_COMPLETED, NULL, &e) == 0, "completed");
	check(store_job_retry(s, c.id, &e) == ST_CONFIG && strstr(e.msg, "completed"),
	      "a completed job cannot be retried: %s", e.msg);
	check(store_job_cutover(s, c.id, 0, NULL, &e) == ST_CONFIG &&
	      !strcmp(e.msg, "job 2 cannot cut over: it is completed"), "nor cut over: %s", e.msg);
	job_free(&c);

	/* Endpoint-wide pause and resume. */
	struct job cy = { .src_ep = 1, .dst_ep = 2, .src_user = S("cy"), .dst_user = S("cy") };
	store_job_add(s, &cy, &e);
	store_job_pause(s, bob.id, &e);    /* an admin's pause stays */
	int64_t n = 0, already = 0;
	check(store_endpoint_pause_jobs(s, 2, "endpoint dst: authentication failed", &n, &already, &e) == 0 &&
	      n == 1 && already == 0 && state_of(s, cy.id) == JOB_PAUSED,
	      "endpoint pause: the queued job of the endpoint");
	check(store_endpoint_pause_jobs(s, 2, "endpoint dst: authentication failed", &n, &already, &e) == 0 &&
	      n == 0 && already == 1, "a second refusal finds it paused already");
	check(store_endpoint_resume_jobs(s, 2, &n, &e) == 0 && n == 1 && state_of(s, cy.id) == JOB_QUEUED &&
	      state_of(s, bob.id) == JOB_PAUSED, "endpoint resume: only its own pauses");
	check(store_job_cancel(s, cy.id, &e) == 0 && store_job_cancel(s, cy.id, &e) == ST_CONFIG &&
	      strstr(e.msg, "cancelled"), "cancel twice: %s", e.msg);

	/* Both endpoints are on 127.0.0.1: a running job holds two connections
	 * to that host. */
	struct job d1 = { .src_ep = 1, .dst_ep = 2, .src_user = S("d1"), .dst_user = S("d1") };
	struct job d2 = { .src_ep = 1, .dst_ep = 2, .src_user = S("d2"), .dst_user = S("d2") };
	store_job_add(s, &d1, &e);
	store_job_add(s, &d2, &e);
	store_job_pause(s, bob.id, &e);
	struct job h1, h2;
	check(store_job_claim_unheld(s, NULL, NULL, 3, &h1, &found, &e) == 0 && found && h1.id == d1.id,
	      "host limit 3: the first job (2 connections to 127.0.0.1)");
	check(store_job_claim_unheld(s, NULL, NULL, 3, &h2, &found, &e) == 0 && !found,
	      "the second would need 4: it waits");
	check(store_job_claim_unheld(s, NULL, NULL, 4, &h2, &found, &e) == 0 && found && h2.id == d2.id,
	      "with a limit of 4 it runs");
	job_free(&h1);
	job_free(&h2);

	int64_t sig1, sig2;
	struct blackout b = { .name = S("night"), .start_ts = 10, .end_ts = 20 };
	check(store_blackout_signature(s, &sig1, &e) == 0 && store_blackout_add(s, &b, &e) == 0 &&
	      store_blackout_signature(s, &sig2, &e) == 0 && sig1 != sig2, "signature moves with a window");
	b.end_ts = 30;
	check(store_blackout_update(s, &b, &e) == 0 && store_blackout_signature(s, &sig1, &e) == 0 && sig1 != sig2,
	      "and with an edit");
	test_overlaps(s);
	clock_set_fake(0);
	store_close(&s);
	free(path);
}

struct sample_sum { int64_t ep[4], items[4], bytes[4], minutes[4]; int n; };
struct sample_hist { int64_t minute[8], ep[8], bytes[8]; int n; };

static void sample_sum_put(void *ctx, int64_t ep, int64_t items, int64_t bytes, int64_t minutes)
{
	struct sample_sum *c = ctx;
	if (c->n < 4) {
		c->ep[c->n] = ep;
		c->items[c->n] = items;
		c->bytes[c->n] = bytes;
		c->minutes[c->n++] = minutes;
	}
}

static void sample_hist_put(void *ctx, int64_t minute, int64_t ep, int64_t items, int64_t bytes)
{
	(void)items;
	struct sample_hist *c = ctx;
	if (c->n < 8) {
		c->minute[c->n] = minute;
		c->ep[c->n] = ep;
		c->bytes[c->n++] = bytes;
	}
}

struct forecast_got { int n; int64_t made, est_start, est_end, started; double rate; enum job_state state; bool login_ok; };

static void forecast_got_put(void *ctx, const struct forecast_row *r)
{
	struct forecast_got *g = ctx;
	g->n++;
	g->made = r->made;
	g->est_start = r->est_start;
	g->est_end = r->est_end;
	g->started = r->started;
	g->rate = r->rate;
	g->state = r->state;
	g->login_ok = !strcmp(r->src_user, "fc") && !strcmp(r->src_ep, "src") && !strcmp(r->dst_ep, "dst");
}

struct folder_stat { int n; char src[64]; int64_t items, bytes, skipped; };

static void folder_stat_put(void *ctx, const char *src, const char *dst, int64_t items, int64_t bytes,
                            int64_t skipped)
{
	(void)dst;
	struct folder_stat *f = ctx;
	f->n++;
	snprintf(f->src, sizeof f->src, "%s", src);
	f->items = items;
	f->bytes = bytes;
	f->skipped = skipped;
}

static void finished_put(void *ctx, int64_t finished, int64_t dst_ep)
{
	if (finished > 0 && dst_ep == 2)
		++*(int *)ctx;
}

int main(void)
{
	char dir[] = "/tmp/tst_store.XXXXXX";
	if (!mkdtemp(dir))
		return 99;
	char *path = x_asprintf("%s/sub/mf.db", dir);
	struct store *s = NULL;
	struct err e;
	test_lifecycle(dir);
	check(store_open(path, &s, &e) == 0, "store created in a new folder");
	struct endpoint ep = { .name = S("src"), .url = S("imap://127.0.0.1:1"), .admin_user = S("admin"),
	                       .secret_ref = S("env:PW") };
	check(store_endpoint_add(s, &ep, &e) == 0, "endpoint added");
	check(store_endpoint_add(s, &ep, &e) == ST_CONFIG && strstr(e.msg, "exists"), "duplicate refused");
	ep.name = S("dst");
	check(store_endpoint_add(s, &ep, &e) == 0, "second endpoint");
	struct endpoint got;
	check(store_endpoint_get(s, "src", &got, &e) == 0 && !strcmp(got.secret_ref, "env:PW"), "endpoint read");
	endpoint_free(&got);
	check(store_endpoint_get(s, "nope", &got, &e) == ST_CONFIG && strstr(e.msg, "nope"), "missing endpoint named");

	struct job j = { .src_ep = 1, .dst_ep = 2, .src_user = S("u1"), .dst_user = S("u1"), .priority = 5 };
	j.o.pass = PASS_DELTA;
	check(store_job_add(s, &j, &e) == 0 && j.id == 1, "job 1 queued");
	int64_t first_pair = j.pair_id;
	struct job j2 = { .src_ep = 1, .dst_ep = 2, .src_user = S("u1"), .dst_user = S("u1"), .priority = 1 };
	check(store_job_add(s, &j2, &e) == 0 && j2.pair_id == first_pair, "same mailbox pair reused");
	struct job c, c2;
	bool found;
	check(store_job_claim(s, &c, &found, &e) == 0 && found && c.id == j2.id, "priority order claim");
	check(store_job_claim(s, &c2, &found, &e) == 0 && !found,
	      "no second job of a mailbox pair while one runs");
	check(store_job_finish(s, &c, JOB_COMPLETED, NULL, &e) == 0, "job finished");
	job_free(&c);
	check(store_job_claim(s, &c, &found, &e) == 0 && found && c.id == 1 && c.o.pass == PASS_DELTA,
	      "then job 1 is claimed, with its pass");
	job_free(&c);
	check(store_job_claim(s, &c, &found, &e) == 0 && !found, "queue empty");
	check(store_job_requeue_orphans(s, &e) == 0 && store_job_claim(s, &c, &found, &e) == 0 && found,
	      "orphaned running jobs are queued again");
	job_free(&c);

	/* Connection limits: an endpoint allowing one connection runs one job. */
	struct endpoint one = { .name = S("one"), .url = S("imap://127.0.0.1:2"), .admin_user = S("a"),
	                        .secret_ref = S("env:PW"), .max_connections = 1 };
	check(store_endpoint_add(s, &one, &e) == 0, "endpoint with one connection");
	struct job ja = { .src_ep = 3, .dst_ep = 2, .src_user = S("a"), .dst_user = S("a") };
	struct job jb = { .src_ep = 3, .dst_ep = 2, .src_user = S("b"), .dst_user = S("b") };
	check(store_job_add(s, &ja, &e) == 0 && store_job_add(s, &jb, &e) == 0, "two jobs on it");
	check(store_job_claim(s, &c, &found, &e) == 0 && found && c.id == ja.id, "first runs");
	check(store_job_claim(s, &c2, &found, &e) == 0 && !found, "second waits for the connection");
	job_free(&c);

	/* Samples per endpoint: the forecast's rates and the Metrics history.
	 * Written straight into the table at chosen times. */
	{
		sqlite3 *sdb;
		sqlite3_open(path, &sdb);
		sqlite3_exec(sdb, "INSERT INTO samples VALUES(6000,2,10,1000),(6030,2,5,500),(6090,2,1,100),"
		             "(6010,1,3,300),(100,2,99,99)", NULL, NULL, NULL);
		sqlite3_close(sdb);
		struct sample_sum sum = { 0 };
		check(store_sample_endpoints(s, 5000, sample_sum_put, &sum, &e) == 0 && sum.n == 2 &&
		      sum.ep[0] == 1 && sum.bytes[0] == 300 && sum.minutes[0] == 1 &&
		      sum.ep[1] == 2 && sum.items[1] == 16 && sum.bytes[1] == 1600 && sum.minutes[1] == 2,
		      "samples per endpoint since a time: items, bytes, minutes with samples");
		struct sample_hist h = { 0 };
		check(store_sample_history(s, 5000, 0, sample_hist_put, &h, &e) == 0 && h.n == 3 &&
		      h.minute[0] == 6000 && h.ep[0] == 1 && h.bytes[0] == 300 && h.ep[1] == 2 && h.bytes[1] == 1500 &&
		      h.minute[2] == 6060 && h.bytes[2] == 100, "history by minute and endpoint, oldest first");
		memset(&h, 0, sizeof h);
		check(store_sample_history(s, 0, 2, sample_hist_put, &h, &e) == 0 && h.n == 3 && h.minute[0] == 60 &&
		      h.ep[1] == 2 && h.ep[2] == 2, "history of one endpoint");
	}

	/* Forecasts: kept up to date while the job is queued, then frozen. */
	{
		struct job jf = { .src_ep = 1, .dst_ep = 2, .src_user = S("fc"), .dst_user = S("fc") };
		check(store_job_add(s, &jf, &e) == 0, "a job to forecast");
		check(store_forecast_put(s, jf.id, 100, 1000, 2000, 5e6, "default", &e) == 0 &&
		      store_forecast_put(s, jf.id, 200, 1100, 2100, 2e6, "measured", &e) == 0, "forecast recorded twice");
		check(store_job_start(s, &jf, &e) == 0 &&
		      store_forecast_put(s, jf.id, 300, 9000, 9900, 1e6, "default", &e) == 0, "job started; put again");
		struct forecast_got fg = { 0 };
		check(store_forecast_each(s, jf.id, forecast_got_put, &fg, &e) == 0 && fg.n == 1 && fg.made == 200 &&
		      fg.est_start == 1100 && fg.est_end == 2100 && fg.rate == 2e6 && fg.started > 0 &&
		      fg.state == JOB_RUNNING && fg.login_ok,
		      "the forecast made while queued stays once the job runs");
		struct forecast_got all = { 0 };
		check(store_forecast_each(s, 0, forecast_got_put, &all, &e) == 0 && all.n == 1, "every forecast: one");
		check(store_job_finish(s, &jf, JOB_COMPLETED, NULL, &e) == 0, "forecast job done");
	}

	struct folder_row f;
	check(store_folder_get(s, first_pair, "INBOX", &f, &e) == 0 && f.id > 0, "folder row");
	struct map_entry m = { .src_uid = 7, .dst_uid = 70, .size = 123, .flags = S("\\Seen") };
	memset(m.hash, 0xab, 32);
	check(store_map_put(s, f.id, &m, &e) == 0, "map row");
	m.src_uid = 3;
	m.dst_uid = 30;
	check(store_map_put(s, f.id, &m, &e) == 0, "second map row");
	struct map_entry *ms;
	size_t n;
	check(store_map_load(s, f.id, &ms, &n, &e) == 0 && n == 2 && ms[0].src_uid == 3 &&
	      ms[1].dst_uid == 70 && ms[1].hash[31] == 0xab, "map loads sorted with hash");
	map_free(ms, n);
	struct journal_entry je = { 9, 111, 71, 500 };
	check(store_journal_add(s, f.id, &je, &e) == 0, "journal row");
	struct journal_entry *js;
	check(store_journal_load(s, f.id, &js, &n, &e) == 0 && n == 1 && js[0].dst_uidnext == 71,
	      "journal loads");
	free(js);
	check(store_journal_del(s, f.id, 9, &e) == 0 && store_journal_load(s, f.id, &js, &n, &e) == 0 && n == 0,
	      "journal row deleted");
	free(js);
	/* The report's per-folder counts, jobs finished, verify verdicts. */
	check(store_skipped_add(s, 1, f.id, "INBOX", 9, "Big one", 500, "too big", &e) == 0, "a skipped item");
	struct folder_stat fs = { 0 };
	check(store_folder_stats(s, first_pair, 1, folder_stat_put, &fs, &e) == 0 && fs.n == 1 &&
	      !strcmp(fs.src, "INBOX") && fs.items == 2 && fs.bytes == 246 && fs.skipped == 1,
	      "folder stats: INBOX with 2 messages, 246 bytes, 1 skipped by job 1");
	memset(&fs, 0, sizeof fs);
	check(store_folder_stats(s, first_pair, 2, folder_stat_put, &fs, &e) == 0 && fs.n == 1 && fs.skipped == 0,
	      "another job skipped nothing there");
	int finished = 0;
	check(store_finished_each(s, 0, finished_put, &finished, &e) == 0 && finished == 2,
	      "two jobs finished completed (%d), with their target endpoint", finished);
	store_event(s, EV_INFO, 1, "all 2 messages of u1 are on the target; 0 missing, 0 extra, 0 differ");
	char *verdict = NULL;
	check(store_verify_verdict(s, 1, "u1", INT64_MAX, &verdict, &e) == 0 && verdict &&
	      !strncmp(verdict, "all 2", 5), "the job's verdict");
	free(verdict);
	store_event(s, EV_INFO, 0, "1 of 2 messages of u1 are on the target; 1 missing, 0 extra, 0 differ");
	check(store_verify_verdict(s, 1, "u1", 0, &verdict, &e) == 0 && verdict && !strncmp(verdict, "1 of 2", 6),
	      "a later mailferry verify of the login wins");
	free(verdict);
	check(store_verify_verdict(s, 1, "u1", INT64_MAX, &verdict, &e) == 0 && verdict && !strncmp(verdict, "all", 3),
	      "but not one from before the job started");
	free(verdict);
	check(store_verify_verdict(s, 2, "zz", 0, &verdict, &e) == 0 && !verdict, "no verdict for another login");

	folder_row_free(&f);
	test_hold_and_notices(s, jb.id);
	store_close(&s);

	/* A store from a newer mailferry is refused, not damaged. */
	sqlite3 *db;
	sqlite3_open(path, &db);
	sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL);
	sqlite3_close(db);
	check(store_open(path, &s, &e) == ST_STORE && strstr(e.msg, "newer"), "newer schema refused: %s", e.msg);

	/* A file that is not a database gives a clear error. */
	char *junk = x_asprintf("%s/junk.db", dir);
	FILE *fp = fopen(junk, "w");
	fputs("this is not sqlite, just text that is long enough to be a header.........", fp);
	fclose(fp);
	check(store_open(junk, &s, &e) == ST_STORE && strstr(e.msg, junk), "corrupt store named: %s", e.msg);
	test_v2(dir);
	char *cmd = x_asprintf("rm -rf %s", dir);
	if (system(cmd) != 0)
		check(0, "cleanup");
	free(cmd);
	free(junk);
	free(path);
	return tap_done();
}
