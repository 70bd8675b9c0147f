/* store.c - SQLite store; see store.h. */
#include "config.h"

#include "store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

/* Schema steps: steps[i] brings a store from version i to i+1. */
static const char *const steps[] = {
	/* 0 -> 1 */
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
	/* The message map: src_id/dst_id are text so EWS and Graph item ids fit
	 * beside IMAP UIDs later; for IMAP the UID columns are used. */
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
	"  end_ts INTEGER, weekly INTEGER NOT NULL DEFAULT 0, mode TEXT);",
};

#define STMT_CACHE 64

struct store {
	sqlite3 *db;
	char *path;
	struct {
		const char *sql;   /* static string: identity is the pointer */
		sqlite3_stmt *st;
	} cache[STMT_CACHE];
	int ncache;
};

const char *store_path(const struct store *s) { return s->path; }

static enum st db_err(struct store *s, struct err *e, const char *what)
{
	return err_set(e, ST_STORE, "store %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

/* Prepared statements are cached by their (static) SQL text. */
static sqlite3_stmt *prep(struct store *s, const char *sql, struct err *e)
{
	for (int i = 0; i < s->ncache; i++)
		if (s->cache[i].sql == sql) {
			sqlite3_reset(s->cache[i].st);
			sqlite3_clear_bindings(s->cache[i].st);
			return s->cache[i].st;
		}
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		db_err(s, e, "prepare");
		return NULL;
	}
	if (s->ncache < STMT_CACHE) {
		s->cache[s->ncache].sql = sql;
		s->cache[s->ncache].st = st;
		s->ncache++;
	} else {
		x_die("store: statement cache too small");
	}
	return st;
}

static enum st exec_sql(struct store *s, const char *sql, struct err *e)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		err_set(e, ST_STORE, "store %s: %s", s->path, msg ? msg : "error");
		sqlite3_free(msg);
		return ST_STORE;
	}
	return ST_OK;
}

static enum st migrate_schema(struct store *s, struct err *e)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return db_err(s, e, "read schema version");
	int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	if (version > STORE_SCHEMA_VERSION)
		return err_set(e, ST_STORE, "store %s has schema version %d, newer than this mailferry "
		               "understands (%d): upgrade mailferry", s->path, version, STORE_SCHEMA_VERSION);
	if (version == STORE_SCHEMA_VERSION)
		return ST_OK;
	enum st r = exec_sql(s, "BEGIN IMMEDIATE", e);
	if (r)
		return r;
	for (int v = version; v < STORE_SCHEMA_VERSION; v++) {
		r = exec_sql(s, steps[v], e);
		if (r) {
			exec_sql(s, "ROLLBACK", NULL);
			err_prefix(e, "upgrading the store from version %d", v);
			return r;
		}
	}
	char pragma[64];
	snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", STORE_SCHEMA_VERSION);
	if ((r = exec_sql(s, pragma, e)) || (r = exec_sql(s, "COMMIT", e))) {
		exec_sql(s, "ROLLBACK", NULL);
		return r;
	}
	return ST_OK;
}

/* Creates the parent folder of path (one level is enough for XDG dirs;
 * deeper ones are created recursively). */
static void make_parent_dirs(const char *path)
{
	char *dir = x_strdup(path);
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(dir, 0700);
		*p = '/';
	}
	free(dir);
}

enum st store_open(const char *path, struct store **out, struct err *e)
{
	*out = NULL;
	make_parent_dirs(path);
	struct store *s = x_calloc(1, sizeof *s);
	s->path = x_strdup(path);
	int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                         SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		err_set(e, ST_STORE, "cannot open store %s: %s", path,
		        s->db ? sqlite3_errmsg(s->db) : "out of memory");
		store_close(&s);
		return ST_STORE;
	}
	/* The store holds mail metadata (subjects, addresses): owner only. */
	chmod(path, 0600);
	sqlite3_busy_timeout(s->db, 30000);
	enum st r = exec_sql(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	                        " PRAGMA foreign_keys=ON;", e);
	if (!r)
		r = migrate_schema(s, e);
	if (r) {
		if (!strstr(e->msg, path))
			err_prefix(e, "store %s", path);
		store_close(&s);
		return r;
	}
	*out = s;
	return ST_OK;
}

void store_close(struct store **p)
{
	struct store *s = *p;
	if (!s)
		return;
	for (int i = 0; i < s->ncache; i++)
		sqlite3_finalize(s->cache[i].st);
	sqlite3_close(s->db);
	free(s->path);
	free(s);
	*p = NULL;
}

enum st store_begin(struct store *s, struct err *e) { return exec_sql(s, "BEGIN IMMEDIATE", e); }
enum st store_commit(struct store *s, struct err *e) { return exec_sql(s, "COMMIT", e); }
void store_rollback(struct store *s) { exec_sql(s, "ROLLBACK", NULL); }

/* --- small binding helpers --------------------------------------------- */
static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? x_strdup((const char *)t) : NULL;
}

static enum st step_done(struct store *s, sqlite3_stmt *st, struct err *e, const char *what)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return db_err(s, e, what);
	return ST_OK;
}

/* Runs a statement whose parameters are all integers (deletes and the
 * like); what names it in errors. */
static enum st exec_ints(struct store *s, const char *sql, const int64_t *args, int nargs,
                         const char *what, struct err *e)
{
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	for (int i = 0; i < nargs; i++)
		sqlite3_bind_int64(st, i + 1, args[i]);
	return step_done(s, st, e, what);
}

/* Steps a bound statement and collects column 0, in query order, as
 * uint32 values into *out (caller frees). */
static enum st collect_u32(struct store *s, sqlite3_stmt *st, uint32_t **out, size_t *n,
                           const char *what, struct err *e)
{
	size_t cap = 0;
	int rc;
	*out = NULL;
	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = x_grow(*out, *n, &cap, sizeof **out, 16);
		(*out)[(*n)++] = (uint32_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? ST_OK : db_err(s, e, what);
}

/* --- endpoints ----------------------------------------------------------- */
void endpoint_free(struct endpoint *ep)
{
	free(ep->name);
	free(ep->url);
	free(ep->admin_user);
	free(ep->secret_ref);
	free(ep->auth_mech);
	free(ep->login_template);
	memset(ep, 0, sizeof *ep);
}

enum st store_endpoint_add(struct store *s, const struct endpoint *ep, struct err *e)
{
	static const char sql[] =
		"INSERT INTO endpoints(name,url,admin_user,secret_ref,auth_mech,login_template,"
		"insecure,max_connections,created) VALUES(?,?,?,?,?,?,?,?,?)";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	bind_text(st, 1, ep->name);
	bind_text(st, 2, ep->url);
	bind_text(st, 3, ep->admin_user);
	bind_text(st, 4, ep->secret_ref);
	bind_text(st, 5, ep->auth_mech);
	bind_text(st, 6, ep->login_template);
	sqlite3_bind_int(st, 7, ep->insecure);
	sqlite3_bind_int(st, 8, ep->max_connections > 0 ? ep->max_connections : 10);
	sqlite3_bind_int64(st, 9, clock_now());
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT)
		return err_set(e, ST_CONFIG, "an endpoint named '%s' exists already", ep->name);
	if (rc != SQLITE_DONE)
		return db_err(s, e, "add endpoint");
	return ST_OK;
}

#define EP_COLS "id,name,url,admin_user,secret_ref,auth_mech,login_template,insecure,max_connections"

static void endpoint_from_row(sqlite3_stmt *st, struct endpoint *ep)
{
	ep->id = sqlite3_column_int64(st, 0);
	ep->name = col_text(st, 1);
	ep->url = col_text(st, 2);
	ep->admin_user = col_text(st, 3);
	ep->secret_ref = col_text(st, 4);
	ep->auth_mech = col_text(st, 5);
	ep->login_template = col_text(st, 6);
	ep->insecure = sqlite3_column_int(st, 7) != 0;
	ep->max_connections = sqlite3_column_int(st, 8);
}

enum st store_endpoint_get(struct store *s, const char *name, struct endpoint *out, struct err *e)
{
	static const char sql[] = "SELECT " EP_COLS " FROM endpoints WHERE name=?";
	memset(out, 0, sizeof *out);
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	bind_text(st, 1, name);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		endpoint_from_row(st, out);
		sqlite3_reset(st);
		return ST_OK;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_err(s, e, "read endpoint");
	return err_set(e, ST_CONFIG, "no endpoint named '%s' (see 'mailferry endpoint list')", name);
}

enum st store_endpoint_get_id(struct store *s, int64_t id, struct endpoint *out, struct err *e)
{
	static const char sql[] = "SELECT " EP_COLS " FROM endpoints WHERE id=?";
	memset(out, 0, sizeof *out);
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		endpoint_from_row(st, out);
		sqlite3_reset(st);
		return ST_OK;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? err_set(e, ST_CONFIG, "endpoint %lld no longer exists", (long long)id)
	                         : db_err(s, e, "read endpoint");
}

enum st store_endpoint_remove(struct store *s, const char *name, struct err *e)
{
	static const char sql[] = "DELETE FROM endpoints WHERE name=?";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	bind_text(st, 1, name);
	enum st r = step_done(s, st, e, "remove endpoint");
	if (!r && sqlite3_changes(s->db) == 0)
		return err_set(e, ST_CONFIG, "no endpoint named '%s'", name);
	return r;
}

enum st store_endpoint_each(struct store *s, void (*fn)(void *ctx, const struct endpoint *ep),
                            void *ctx, struct err *e)
{
	static const char sql[] = "SELECT " EP_COLS " FROM endpoints ORDER BY name";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct endpoint ep;
		endpoint_from_row(st, &ep);
		fn(ctx, &ep);
		endpoint_free(&ep);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? ST_OK : db_err(s, e, "list endpoints");
}

/* --- jobs ---------------------------------------------------------------- */
static const char *const pass_names[] = { "full", "delta", "prestage", "trial", "verify-credentials" };
static const char *const state_names[] = { "queued", "running", "completed", "partial", "failed",
                                           "paused", "cancelled" };

const char *pass_kind_name(enum pass_kind k) { return pass_names[k]; }
const char *job_state_name(enum job_state s) { return state_names[s]; }

bool pass_kind_parse(const char *s, enum pass_kind *out)
{
	for (size_t i = 0; i < countof(pass_names); i++)
		if (!strcmp(s, pass_names[i])) {
			*out = (enum pass_kind)i;
			return true;
		}
	return false;
}

static enum job_state state_parse(const char *s)
{
	for (size_t i = 0; s && i < countof(state_names); i++)
		if (!strcmp(s, state_names[i]))
			return (enum job_state)i;
	return JOB_FAILED;
}

void job_free(struct job *j)
{
	free(j->src_user);
	free(j->dst_user);
	free(j->o.include);
	free(j->o.exclude);
	free(j->o.folder_map);
	free(j->error);
	memset(j, 0, sizeof *j);
}

enum st store_pair_get(struct store *s, int64_t src_ep, const char *src_user, int64_t dst_ep,
                       const char *dst_user, int64_t *pair_id, struct err *e)
{
	static const char ins[] =
		"INSERT OR IGNORE INTO pairs(src_ep,src_user,dst_ep,dst_user) VALUES(?,?,?,?)";
	static const char sel[] =
		"SELECT id FROM pairs WHERE src_ep=? AND src_user=? AND dst_ep=? AND dst_user=?";
	const char *sqls[2] = { ins, sel };
	for (int k = 0; k < 2; k++) {
		sqlite3_stmt *st = prep(s, sqls[k], e);
		if (!st)
			return ST_STORE;
		sqlite3_bind_int64(st, 1, src_ep);
		bind_text(st, 2, src_user);
		sqlite3_bind_int64(st, 3, dst_ep);
		bind_text(st, 4, dst_user);
		int rc = sqlite3_step(st);
		if (k == 1 && rc == SQLITE_ROW)
			*pair_id = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE && rc != SQLITE_ROW)
			return db_err(s, e, "mailbox pair");
	}
	return ST_OK;
}

enum st store_job_add(struct store *s, struct job *j, struct err *e)
{
	static const char sql[] =
		"INSERT INTO jobs(pair_id,state,priority,pass,prestage_days,trial_items,include_re,"
		"exclude_re,folder_map,max_size,bad_item_limit,sep_char,created) "
		"VALUES(?,'queued',?,?,?,?,?,?,?,?,?,?,?)";
	enum st r = store_pair_get(s, j->src_ep, j->src_user, j->dst_ep, j->dst_user, &j->pair_id, e);
	if (r)
		return r;
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	char sep[2] = { j->o.sep_char ? j->o.sep_char : '_', 0 };
	sqlite3_bind_int64(st, 1, j->pair_id);
	sqlite3_bind_int(st, 2, j->priority);
	bind_text(st, 3, pass_kind_name(j->o.pass));
	sqlite3_bind_int(st, 4, j->o.prestage_days);
	sqlite3_bind_int(st, 5, j->o.trial_items);
	bind_text(st, 6, j->o.include);
	bind_text(st, 7, j->o.exclude);
	bind_text(st, 8, j->o.folder_map);
	sqlite3_bind_int64(st, 9, j->o.max_size);
	sqlite3_bind_int(st, 10, j->o.bad_item_limit);
	bind_text(st, 11, sep);
	sqlite3_bind_int64(st, 12, clock_now());
	r = step_done(s, st, e, "add job");
	if (!r)
		j->id = sqlite3_last_insert_rowid(s->db);
	j->state = JOB_QUEUED;
	return r;
}

#define JOB_COLS "j.id,j.pair_id,p.src_ep,p.dst_ep,p.src_user,p.dst_user,j.state,j.priority," \
	"j.pass,j.prestage_days,j.trial_items,j.include_re,j.exclude_re,j.folder_map,j.max_size," \
	"j.bad_item_limit,j.sep_char,j.items_done,j.bytes_done,j.items_skipped,j.items_failed," \
	"j.flags_updated,j.attempts,j.error"

static void job_from_row(sqlite3_stmt *st, struct job *j)
{
	memset(j, 0, sizeof *j);
	j->id = sqlite3_column_int64(st, 0);
	j->pair_id = sqlite3_column_int64(st, 1);
	j->src_ep = sqlite3_column_int64(st, 2);
	j->dst_ep = sqlite3_column_int64(st, 3);
	j->src_user = col_text(st, 4);
	j->dst_user = col_text(st, 5);
	j->state = state_parse((const char *)sqlite3_column_text(st, 6));
	j->priority = sqlite3_column_int(st, 7);
	const char *pass = (const char *)sqlite3_column_text(st, 8);
	if (!pass || !pass_kind_parse(pass, &j->o.pass))
		j->o.pass = PASS_FULL;
	j->o.prestage_days = sqlite3_column_int(st, 9);
	j->o.trial_items = sqlite3_column_int(st, 10);
	j->o.include = col_text(st, 11);
	j->o.exclude = col_text(st, 12);
	j->o.folder_map = col_text(st, 13);
	j->o.max_size = sqlite3_column_int64(st, 14);
	j->o.bad_item_limit = sqlite3_column_int(st, 15);
	const char *sep = (const char *)sqlite3_column_text(st, 16);
	j->o.sep_char = sep && *sep ? sep[0] : '_';
	j->items_done = sqlite3_column_int64(st, 17);
	j->bytes_done = sqlite3_column_int64(st, 18);
	j->items_skipped = sqlite3_column_int64(st, 19);
	j->items_failed = sqlite3_column_int64(st, 20);
	j->flags_updated = sqlite3_column_int64(st, 21);
	j->attempts = sqlite3_column_int(st, 22);
	j->error = col_text(st, 23);
}

enum st store_job_get(struct store *s, int64_t id, struct job *out, struct err *e)
{
	static const char sql[] = "SELECT " JOB_COLS " FROM jobs j JOIN pairs p ON p.id=j.pair_id WHERE j.id=?";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		job_from_row(st, out);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return ST_OK;
	return rc == SQLITE_DONE ? err_set(e, ST_CONFIG, "no job %lld", (long long)id)
	                         : db_err(s, e, "read job");
}

enum st store_job_claim(struct store *s, struct job *out, bool *found, struct err *e)
{
	/* One statement, so two workers can never claim the same job. */
	static const char sql[] =
		"UPDATE jobs SET state='running', started=?, attempts=attempts+1, error=NULL "
		"WHERE id=(SELECT j.id FROM jobs j JOIN pairs p ON p.id=j.pair_id "
		"  JOIN endpoints es ON es.id=p.src_ep JOIN endpoints ed ON ed.id=p.dst_ep "
		"  WHERE j.state='queued' "
		/* never two jobs of one mailbox pair at once */
		"  AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.pair_id=j.pair_id AND r.state='running') "
		/* each running job holds one connection on each endpoint */
		"  AND (SELECT count(*) FROM jobs r JOIN pairs rp ON rp.id=r.pair_id WHERE r.state='running' "
		"       AND (rp.src_ep=es.id OR rp.dst_ep=es.id)) < es.max_connections "
		"  AND (SELECT count(*) FROM jobs r JOIN pairs rp ON rp.id=r.pair_id WHERE r.state='running' "
		"       AND (rp.src_ep=ed.id OR rp.dst_ep=ed.id)) < ed.max_connections "
		"  ORDER BY j.priority, j.id LIMIT 1) "
		"RETURNING id";
	*found = false;
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, clock_now());
	int rc = sqlite3_step(st);
	int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	if (rc == SQLITE_ROW)
		rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_err(s, e, "claim job");
	if (!id)
		return ST_OK;
	*found = true;
	return store_job_get(s, id, out, e);
}

enum st store_job_close_interrupted(struct store *s, int64_t pair_id, int64_t except_id,
                                    const char *reason, struct err *e)
{
	static const char sql[] =
		"UPDATE jobs SET state='failed', error=?, finished=? WHERE pair_id=? AND id<>? AND state='running'";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	bind_text(st, 1, reason);
	sqlite3_bind_int64(st, 2, clock_now());
	sqlite3_bind_int64(st, 3, pair_id);
	sqlite3_bind_int64(st, 4, except_id);
	return step_done(s, st, e, "close interrupted jobs");
}

enum st store_job_start(struct store *s, struct job *j, struct err *e)
{
	static const char sql[] =
		"UPDATE jobs SET state='running', started=?, attempts=attempts+1, error=NULL WHERE id=?";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, clock_now());
	sqlite3_bind_int64(st, 2, j->id);
	enum st r = step_done(s, st, e, "start job");
	if (!r)
		j->state = JOB_RUNNING;
	return r;
}

/* Runs a one-job UPDATE guarded by state; explains a refusal. */
static enum st job_update(struct store *s, const char *sql, int64_t id, const char *what,
                          const char *allowed, struct err *e)
{
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, id);
	enum st r = step_done(s, st, e, what);
	if (!r && sqlite3_changes(s->db) == 0)
		return err_set(e, ST_CONFIG, "job %lld cannot be %s: only %s jobs can", (long long)id, what,
		               allowed);
	return r;
}

enum st store_job_cancel(struct store *s, int64_t id, struct err *e)
{
	static const char sql[] =
		"UPDATE jobs SET state='cancelled' WHERE id=? AND state IN ('queued','paused')";
	return job_update(s, sql, id, "cancelled", "queued or paused", e);
}

enum st store_job_retry(struct store *s, int64_t id, struct err *e)
{
	static const char sql[] =
		"UPDATE jobs SET state='queued', error=NULL WHERE id=? AND state IN ('failed','partial','cancelled')";
	return job_update(s, sql, id, "retried", "failed, partial or cancelled", e);
}

enum st store_job_move(struct store *s, int64_t id, bool to_top, struct err *e)
{
	static const char top[] =
		"UPDATE jobs SET priority=(SELECT coalesce(min(priority),100)-1 FROM jobs WHERE state='queued') "
		"WHERE id=? AND state='queued'";
	static const char bottom[] =
		"UPDATE jobs SET priority=(SELECT coalesce(max(priority),100)+1 FROM jobs WHERE state='queued') "
		"WHERE id=? AND state='queued'";
	return job_update(s, to_top ? top : bottom, id, "moved", "queued", e);
}

enum st store_job_requeue_orphans(struct store *s, struct err *e)
{
	return exec_sql(s, "UPDATE jobs SET state='queued' WHERE state='running'", e);
}

enum st store_job_finish(struct store *s, const struct job *j, enum job_state state,
                         const char *error, struct err *e)
{
	static const char sql[] =
		"UPDATE jobs SET state=?, error=?, finished=?, items_done=?, bytes_done=?, "
		"items_skipped=?, items_failed=?, flags_updated=?, current_folder=NULL WHERE id=?";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	bind_text(st, 1, job_state_name(state));
	bind_text(st, 2, error);
	sqlite3_bind_int64(st, 3, clock_now());
	sqlite3_bind_int64(st, 4, j->items_done);
	sqlite3_bind_int64(st, 5, j->bytes_done);
	sqlite3_bind_int64(st, 6, j->items_skipped);
	sqlite3_bind_int64(st, 7, j->items_failed);
	sqlite3_bind_int64(st, 8, j->flags_updated);
	sqlite3_bind_int64(st, 9, j->id);
	return step_done(s, st, e, "finish job");
}

enum st store_job_progress(struct store *s, const struct job *j, const char *folder, struct err *e)
{
	static const char sql[] =
		"UPDATE jobs SET items_done=?, bytes_done=?, items_skipped=?, items_failed=?, "
		"flags_updated=?, current_folder=? WHERE id=?";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, j->items_done);
	sqlite3_bind_int64(st, 2, j->bytes_done);
	sqlite3_bind_int64(st, 3, j->items_skipped);
	sqlite3_bind_int64(st, 4, j->items_failed);
	sqlite3_bind_int64(st, 5, j->flags_updated);
	bind_text(st, 6, folder);
	sqlite3_bind_int64(st, 7, j->id);
	return step_done(s, st, e, "job progress");
}

enum st store_job_counts(struct store *s, int64_t counts[7], struct err *e)
{
	static const char sql[] = "SELECT state, count(*) FROM jobs GROUP BY state";
	memset(counts, 0, 7 * sizeof counts[0]);
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		counts[state_parse((const char *)sqlite3_column_text(st, 0))] += sqlite3_column_int64(st, 1);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? ST_OK : db_err(s, e, "count jobs");
}

enum st store_queue_conn_limit(struct store *s, int *limit, char **endpoint, struct err *e)
{
	static const char sql[] =
		"SELECT max_connections, name FROM endpoints WHERE id IN ("
		"  SELECT p.src_ep FROM jobs j JOIN pairs p ON p.id=j.pair_id WHERE j.state='queued' UNION "
		"  SELECT p.dst_ep FROM jobs j JOIN pairs p ON p.id=j.pair_id WHERE j.state='queued') "
		"ORDER BY max_connections LIMIT 1";
	*limit = 0;
	*endpoint = NULL;
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*limit = sqlite3_column_int(st, 0);
		*endpoint = col_text(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? ST_OK : db_err(s, e, "connection limits");
}

enum st store_run_totals(struct store *s, int64_t since, int64_t *items, int64_t *bytes,
                         struct err *e)
{
	static const char sql[] =
		"SELECT coalesce(sum(items_done),0), coalesce(sum(bytes_done),0) FROM jobs WHERE started>=?";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, since);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*items = sqlite3_column_int64(st, 0);
		*bytes = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? ST_OK : db_err(s, e, "totals");
}

enum st store_job_each(struct store *s, bool all, void (*fn)(void *ctx, const struct job *j,
                       const char *src_ep, const char *dst_ep), void *ctx, struct err *e)
{
	static const char sql[] =
		"SELECT " JOB_COLS ", es.name, ed.name FROM jobs j JOIN pairs p ON p.id=j.pair_id "
		"JOIN endpoints es ON es.id=p.src_ep JOIN endpoints ed ON ed.id=p.dst_ep "
		"WHERE ? OR j.state IN ('queued','running','paused','failed') ORDER BY j.id";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int(st, 1, all);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct job j;
		job_from_row(st, &j);
		fn(ctx, &j, (const char *)sqlite3_column_text(st, 24), (const char *)sqlite3_column_text(st, 25));
		job_free(&j);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? ST_OK : db_err(s, e, "list jobs");
}

/* --- folders and maps --------------------------------------------------- */
void folder_row_free(struct folder_row *f)
{
	free(f->src_name);
	free(f->dst_name);
	memset(f, 0, sizeof *f);
}

enum st store_folder_get(struct store *s, int64_t pair_id, const char *src_name,
                         struct folder_row *out, struct err *e)
{
	static const char ins[] = "INSERT OR IGNORE INTO folders(pair_id, src_name) VALUES(?,?)";
	static const char sel[] =
		"SELECT id,src_name,dst_name,src_uidvalidity,dst_uidvalidity,src_uidnext,src_modseq "
		"FROM folders WHERE pair_id=? AND src_name=?";
	memset(out, 0, sizeof *out);
	sqlite3_stmt *st = prep(s, ins, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, pair_id);
	bind_text(st, 2, src_name);
	enum st r = step_done(s, st, e, "add folder");
	if (r)
		return r;
	st = prep(s, sel, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, pair_id);
	bind_text(st, 2, src_name);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->id = sqlite3_column_int64(st, 0);
		out->src_name = col_text(st, 1);
		out->dst_name = col_text(st, 2);
		out->src_uidvalidity = (uint32_t)sqlite3_column_int64(st, 3);
		out->dst_uidvalidity = (uint32_t)sqlite3_column_int64(st, 4);
		out->src_uidnext = (uint32_t)sqlite3_column_int64(st, 5);
		out->src_modseq = (uint64_t)sqlite3_column_int64(st, 6);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? ST_OK : db_err(s, e, "read folder");
}

enum st store_folder_update(struct store *s, const struct folder_row *f, struct err *e)
{
	static const char sql[] =
		"UPDATE folders SET dst_name=?, src_uidvalidity=?, dst_uidvalidity=?, src_uidnext=?, "
		"src_modseq=? WHERE id=?";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	bind_text(st, 1, f->dst_name);
	sqlite3_bind_int64(st, 2, f->src_uidvalidity);
	sqlite3_bind_int64(st, 3, f->dst_uidvalidity);
	sqlite3_bind_int64(st, 4, f->src_uidnext);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)f->src_modseq);
	sqlite3_bind_int64(st, 6, f->id);
	return step_done(s, st, e, "update folder");
}

enum st store_map_load(struct store *s, int64_t folder_id, struct map_entry **out, size_t *n,
                       struct err *e)
{
	static const char sql[] =
		"SELECT src_uid,dst_uid,size,flags,hash FROM messages WHERE folder_id=? ORDER BY src_uid";
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, folder_id);
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = x_grow(*out, *n, &cap, sizeof **out, 256);
		struct map_entry *m = &(*out)[(*n)++];
		memset(m, 0, sizeof *m);
		m->src_uid = (uint32_t)sqlite3_column_int64(st, 0);
		m->dst_uid = (uint32_t)sqlite3_column_int64(st, 1);
		m->size = (uint64_t)sqlite3_column_int64(st, 2);
		m->flags = col_text(st, 3);
		if (sqlite3_column_bytes(st, 4) == 32)
			memcpy(m->hash, sqlite3_column_blob(st, 4), 32);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		map_free(*out, *n);
		*out = NULL;
		*n = 0;
		return db_err(s, e, "load message map");
	}
	return ST_OK;
}

void map_free(struct map_entry *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(m[i].flags);
	free(m);
}

enum st store_map_put(struct store *s, int64_t folder_id, const struct map_entry *m, struct err *e)
{
	static const char sql[] =
		"INSERT OR REPLACE INTO messages(folder_id,src_uid,dst_uid,size,flags,hash) VALUES(?,?,?,?,?,?)";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, m->src_uid);
	sqlite3_bind_int64(st, 3, m->dst_uid);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)m->size);
	bind_text(st, 5, m->flags ? m->flags : "");
	sqlite3_bind_blob(st, 6, m->hash, 32, SQLITE_TRANSIENT);
	return step_done(s, st, e, "record copied message");
}

enum st store_map_set_flags(struct store *s, int64_t folder_id, uint32_t src_uid,
                            const char *flags, struct err *e)
{
	static const char sql[] = "UPDATE messages SET flags=? WHERE folder_id=? AND src_uid=?";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	bind_text(st, 1, flags);
	sqlite3_bind_int64(st, 2, folder_id);
	sqlite3_bind_int64(st, 3, src_uid);
	return step_done(s, st, e, "update flags");
}

enum st store_map_del(struct store *s, int64_t folder_id, uint32_t src_uid, struct err *e)
{
	static const char sql[] = "DELETE FROM messages WHERE folder_id=? AND src_uid=?";
	const int64_t args[] = { folder_id, src_uid };
	return exec_ints(s, sql, args, 2, "forget copied message", e);
}

enum st store_map_clear(struct store *s, int64_t folder_id, struct err *e)
{
	static const char sql[] = "DELETE FROM messages WHERE folder_id=?";
	return exec_ints(s, sql, &folder_id, 1, "clear message map", e);
}

enum st store_journal_add(struct store *s, int64_t folder_id, const struct journal_entry *j,
                          struct err *e)
{
	static const char sql[] =
		"INSERT OR REPLACE INTO journal(folder_id,src_uid,dst_uidvalidity,dst_uidnext,size,created) "
		"VALUES(?,?,?,?,?,?)";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, j->src_uid);
	sqlite3_bind_int64(st, 3, j->dst_uidvalidity);
	sqlite3_bind_int64(st, 4, j->dst_uidnext);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)j->size);
	sqlite3_bind_int64(st, 6, clock_now());
	return step_done(s, st, e, "journal");
}

enum st store_journal_del(struct store *s, int64_t folder_id, uint32_t src_uid, struct err *e)
{
	static const char sql[] = "DELETE FROM journal WHERE folder_id=? AND src_uid=?";
	const int64_t args[] = { folder_id, src_uid };
	return exec_ints(s, sql, args, 2, "journal", e);
}

enum st store_journal_load(struct store *s, int64_t folder_id, struct journal_entry **out,
                           size_t *n, struct err *e)
{
	static const char sql[] =
		"SELECT src_uid,dst_uidvalidity,dst_uidnext,size FROM journal WHERE folder_id=? ORDER BY src_uid";
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, folder_id);
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = x_grow(*out, *n, &cap, sizeof **out, 64);
		struct journal_entry *j = &(*out)[(*n)++];
		j->src_uid = (uint32_t)sqlite3_column_int64(st, 0);
		j->dst_uidvalidity = (uint32_t)sqlite3_column_int64(st, 1);
		j->dst_uidnext = (uint32_t)sqlite3_column_int64(st, 2);
		j->size = (uint64_t)sqlite3_column_int64(st, 3);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? ST_OK : db_err(s, e, "load journal");
}

/* --- reports ------------------------------------------------------------ */
enum st store_skipped_add(struct store *s, int64_t job_id, int64_t folder_id, const char *folder,
                          uint32_t src_uid, const char *subject, uint64_t size,
                          const char *reason, struct err *e)
{
	static const char sql[] =
		"INSERT OR REPLACE INTO skipped(job_id,folder_id,folder,src_uid,subject,size,reason,ts) "
		"VALUES(?,?,?,?,?,?,?,?)";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, job_id);
	sqlite3_bind_int64(st, 2, folder_id);
	bind_text(st, 3, folder);
	sqlite3_bind_int64(st, 4, src_uid);
	bind_text(st, 5, subject);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)size);
	bind_text(st, 7, reason);
	sqlite3_bind_int64(st, 8, clock_now());
	return step_done(s, st, e, "record skipped item");
}

enum st store_skipped_each(struct store *s, int64_t job_id,
                           void (*fn)(void *ctx, int64_t job, const char *folder, uint32_t uid,
                                      const char *subject, uint64_t size, const char *reason),
                           void *ctx, struct err *e)
{
	static const char sql[] =
		"SELECT job_id,folder,src_uid,subject,size,reason FROM skipped "
		"WHERE ?=0 OR job_id=? ORDER BY job_id, folder, src_uid";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, job_id);
	sqlite3_bind_int64(st, 2, job_id);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(ctx, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
		   (uint32_t)sqlite3_column_int64(st, 2), (const char *)sqlite3_column_text(st, 3),
		   (uint64_t)sqlite3_column_int64(st, 4), (const char *)sqlite3_column_text(st, 5));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? ST_OK : db_err(s, e, "list skipped items");
}

enum st store_skipped_without_subject(struct store *s, int64_t job_id, int64_t folder_id,
                                      uint32_t **out, size_t *n, struct err *e)
{
	static const char sql[] =
		"SELECT src_uid FROM skipped WHERE job_id=? AND folder_id=? AND subject IS NULL ORDER BY src_uid";
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, job_id);
	sqlite3_bind_int64(st, 2, folder_id);
	return collect_u32(s, st, out, n, "list skipped items", e);
}

enum st store_skipped_set_subject(struct store *s, int64_t job_id, int64_t folder_id,
                                  uint32_t src_uid, const char *subject, struct err *e)
{
	static const char sql[] =
		"UPDATE skipped SET subject=? WHERE job_id=? AND folder_id=? AND src_uid=?";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	bind_text(st, 1, subject);
	sqlite3_bind_int64(st, 2, job_id);
	sqlite3_bind_int64(st, 3, folder_id);
	sqlite3_bind_int64(st, 4, src_uid);
	return step_done(s, st, e, "skipped item subject");
}

enum st store_skipped_uids(struct store *s, int64_t folder_id, uint32_t **out, size_t *n,
                           struct err *e)
{
	static const char sql[] = "SELECT DISTINCT src_uid FROM skipped WHERE folder_id=? ORDER BY src_uid";
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, folder_id);
	return collect_u32(s, st, out, n, "list skipped items", e);
}

void store_event(struct store *s, enum event_level lvl, int64_t job_id, const char *fmt, ...)
{
	static const char sql[] = "INSERT INTO events(ts,level,job_id,message) VALUES(?,?,?,?)";
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_msg(lvl == EV_ERROR ? LOG_ERROR : lvl == EV_WARN ? LOG_WARN : LOG_INFO, "job %lld: %s",
	        (long long)job_id, msg);
	struct err e;
	sqlite3_stmt *st = prep(s, sql, &e);
	if (!st)
		return;
	sqlite3_bind_int64(st, 1, clock_now());
	sqlite3_bind_int(st, 2, (int)lvl);
	if (job_id)
		sqlite3_bind_int64(st, 3, job_id);
	else
		sqlite3_bind_null(st, 3);
	bind_text(st, 4, msg);
	if (step_done(s, st, &e, "event"))
		log_warn("%s", e.msg);
}

enum st store_event_each(struct store *s, int64_t job_id, int limit,
                         void (*fn)(void *ctx, int64_t ts, int level, int64_t job, const char *msg),
                         void *ctx, struct err *e)
{
	static const char sql[] =
		"SELECT ts,level,job_id,message FROM (SELECT * FROM events WHERE ?=0 OR job_id=? "
		"ORDER BY id DESC LIMIT ?) ORDER BY id";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, job_id);
	sqlite3_bind_int64(st, 2, job_id);
	sqlite3_bind_int(st, 3, limit > 0 ? limit : -1);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int(st, 1), sqlite3_column_int64(st, 2),
		   (const char *)sqlite3_column_text(st, 3));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? ST_OK : db_err(s, e, "list events");
}

enum st store_pass_begin(struct store *s, int64_t job_id, const char *kind, int64_t *pass_id,
                         struct err *e)
{
	static const char sql[] = "INSERT INTO passes(job_id,kind,started) VALUES(?,?,?)";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, job_id);
	bind_text(st, 2, kind);
	sqlite3_bind_int64(st, 3, clock_now());
	enum st r = step_done(s, st, e, "record pass");
	*pass_id = r ? 0 : sqlite3_last_insert_rowid(s->db);
	return r;
}

enum st store_pass_end(struct store *s, int64_t pass_id, const char *result, int64_t copied,
                       int64_t bytes, int64_t skipped, int64_t failed, int64_t reflagged,
                       struct err *e)
{
	static const char sql[] =
		"UPDATE passes SET finished=?, result=?, copied=?, bytes=?, skipped=?, failed=?, "
		"reflagged=? WHERE id=?";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, clock_now());
	bind_text(st, 2, result);
	sqlite3_bind_int64(st, 3, copied);
	sqlite3_bind_int64(st, 4, bytes);
	sqlite3_bind_int64(st, 5, skipped);
	sqlite3_bind_int64(st, 6, failed);
	sqlite3_bind_int64(st, 7, reflagged);
	sqlite3_bind_int64(st, 8, pass_id);
	return step_done(s, st, e, "record pass");
}

enum st store_sample_minutes(struct store *s, int limit,
                             void (*fn)(void *ctx, int64_t minute, int64_t items, int64_t bytes),
                             void *ctx, struct err *e)
{
	static const char sql[] =
		"SELECT m, i, b FROM (SELECT ts/60*60 AS m, sum(items) AS i, sum(bytes) AS b FROM samples "
		"GROUP BY m ORDER BY m DESC LIMIT ?) ORDER BY m";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int(st, 1, limit);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? ST_OK : db_err(s, e, "throughput history");
}

enum st store_sample(struct store *s, int64_t endpoint_id, int64_t items, int64_t bytes,
                     struct err *e)
{
	static const char sql[] = "INSERT INTO samples(ts,endpoint_id,items,bytes) VALUES(?,?,?,?)";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, clock_now());
	sqlite3_bind_int64(st, 2, endpoint_id);
	sqlite3_bind_int64(st, 3, items);
	sqlite3_bind_int64(st, 4, bytes);
	return step_done(s, st, e, "sample");
}
