/* store.c - SQLite store; see store.h. */
#include "config.h"

#include "store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lifecycle.h"
#include "tz.h"
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
	/* 1 -> 2: forests, delegation, scheduling fields, and a store-wide
	 * revision so the console re-reads only what changed. */
	"CREATE TABLE forests("
	"  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	"  role TEXT NOT NULL CHECK(role IN ('source','target','tenant')),"
	"  dir_url TEXT, dir_bind_dn TEXT, dir_secret_ref TEXT, dir_base_dn TEXT, dir_filter TEXT,"
	"  scope TEXT, allow_postpone INTEGER NOT NULL DEFAULT 0,"
	"  blackout_mode TEXT NOT NULL DEFAULT 'entire' CHECK(blackout_mode IN ('entire','initial','final')),"
	"  created INTEGER NOT NULL);"
	/* Backstop for the check in code (which gives the friendlier message). */
	"CREATE UNIQUE INDEX forests_one_target ON forests(role) WHERE role IN ('target','tenant');"
	"ALTER TABLE endpoints ADD COLUMN forest_id INTEGER REFERENCES forests(id) ON DELETE CASCADE;"
	"CREATE INDEX endpoints_forest ON endpoints(forest_id);"
	/* Listing by endpoint uses the UNIQUE(endpoint_id, login) index. */
	"ALTER TABLE mailboxes ADD COLUMN site TEXT;"
	"ALTER TABLE mailboxes ADD COLUMN database TEXT;"
	"ALTER TABLE mailboxes ADD COLUMN kind TEXT;"
	"ALTER TABLE mailboxes ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX mailboxes_rev ON mailboxes(rev);"
	"ALTER TABLE jobs ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE jobs ADD COLUMN pos INTEGER;"          /* second key of the queue order */
	"ALTER TABLE jobs ADD COLUMN start_after INTEGER;"
	"ALTER TABLE jobs ADD COLUMN suspend_ready INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE jobs ADD COLUMN notify_user INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE jobs ADD COLUMN paused_by TEXT;"
	"CREATE INDEX jobs_rev ON jobs(rev);"
	"CREATE INDEX jobs_order ON jobs(priority, pos);"
	"CREATE INDEX jobs_queue ON jobs(state, priority, pos);"
	/* Foreign-key children need an index or every cascade scans them. */
	"CREATE INDEX jobs_pair ON jobs(pair_id);"
	"CREATE INDEX passes_job ON passes(job_id);"
	"CREATE INDEX pairs_dst ON pairs(dst_ep, dst_user);"
	/* The source mailbox's row, kept by the job triggers: the console's
	 * job list joins it by rowid instead of by (endpoint, login). */
	"ALTER TABLE pairs ADD COLUMN src_mailbox_id INTEGER;"
	"CREATE INDEX commands_pending ON commands(done, verb);"
	"CREATE TABLE delegates("
	"  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,"
	"  delegate_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,"
	"  rights TEXT, origin TEXT, PRIMARY KEY(mailbox_id, delegate_id)) WITHOUT ROWID;"
	"CREATE INDEX delegates_delegate ON delegates(delegate_id);"
	"ALTER TABLE blackouts ADD COLUMN name TEXT;"
	"CREATE TABLE revs(id INTEGER PRIMARY KEY CHECK(id = 1), rev INTEGER NOT NULL);"
	"INSERT INTO revs VALUES(1, 0);"
	/* Every insert or update of a job or mailbox takes the next revision.
	 * The inner UPDATE changes rev, so the WHEN stops the recursion. */
	"CREATE TRIGGER jobs_rev_ins AFTER INSERT ON jobs BEGIN"
	"  UPDATE revs SET rev = rev + 1 WHERE id = 1;"
	"  UPDATE jobs SET rev = (SELECT rev FROM revs WHERE id = 1), pos = coalesce(NEW.pos, NEW.id)"
	"    WHERE id = NEW.id;"
	"END;"
	"CREATE TRIGGER jobs_rev_upd AFTER UPDATE ON jobs WHEN NEW.rev = OLD.rev BEGIN"
	"  UPDATE revs SET rev = rev + 1 WHERE id = 1;"
	"  UPDATE jobs SET rev = (SELECT rev FROM revs WHERE id = 1) WHERE id = NEW.id;"
	"END;"
	"CREATE TRIGGER mailboxes_rev_ins AFTER INSERT ON mailboxes BEGIN"
	"  UPDATE revs SET rev = rev + 1 WHERE id = 1;"
	"  UPDATE mailboxes SET rev = (SELECT rev FROM revs WHERE id = 1) WHERE id = NEW.id;"
	"END;"
	"CREATE TRIGGER mailboxes_rev_upd AFTER UPDATE ON mailboxes WHEN NEW.rev = OLD.rev BEGIN"
	"  UPDATE revs SET rev = rev + 1 WHERE id = 1;"
	"  UPDATE mailboxes SET rev = (SELECT rev FROM revs WHERE id = 1) WHERE id = NEW.id;"
	"END;"
	/* A mailbox's delegate count is part of its row: a no-op update gives
	 * it a new revision. */
	"CREATE TRIGGER delegates_ins AFTER INSERT ON delegates BEGIN"
	"  UPDATE mailboxes SET kind = kind WHERE id = NEW.mailbox_id;"
	"END;"
	"CREATE TRIGGER delegates_del AFTER DELETE ON delegates BEGIN"
	"  UPDATE mailboxes SET kind = kind WHERE id = OLD.mailbox_id;"
	"END;"
	/* The source mailbox shows its latest job's state (and exists as soon
	 * as a job for it is queued).  The job's own timestamps come from
	 * clock_now(), so tests faking the clock see consistent times. */
	"CREATE TRIGGER jobs_mailbox_ins AFTER INSERT ON jobs BEGIN"
	"  INSERT INTO mailboxes(endpoint_id, login, status, last_pass)"
	"    SELECT src_ep, src_user, NEW.state, NEW.created FROM pairs WHERE id = NEW.pair_id"
	"    ON CONFLICT(endpoint_id, login) DO UPDATE SET status = excluded.status,"
	"      last_pass = excluded.last_pass;"
	"  UPDATE pairs SET src_mailbox_id = (SELECT id FROM mailboxes m"
	"    WHERE m.endpoint_id = pairs.src_ep AND m.login = pairs.src_user) WHERE id = NEW.pair_id;"
	"END;"
	"CREATE TRIGGER jobs_mailbox_upd AFTER UPDATE OF state ON jobs"
	"  WHEN NEW.state IS NOT OLD.state BEGIN"
	"  INSERT INTO mailboxes(endpoint_id, login, status, last_pass)"
	"    SELECT src_ep, src_user, NEW.state,"
	"      max(NEW.created, coalesce(NEW.started, 0), coalesce(NEW.finished, 0))"
	"    FROM pairs WHERE id = NEW.pair_id"
	"    ON CONFLICT(endpoint_id, login) DO UPDATE SET status = excluded.status,"
	"      last_pass = excluded.last_pass;"
	"  UPDATE pairs SET src_mailbox_id = (SELECT id FROM mailboxes m"
	"    WHERE m.endpoint_id = pairs.src_ep AND m.login = pairs.src_user) WHERE id = NEW.pair_id;"
	"END;"
	/* Existing rows: a position and a revision each (the triggers above),
	 * and a mailbox row for every job's source with its latest state. */
	"UPDATE jobs SET pos = id;"
	"UPDATE mailboxes SET kind = kind;"
	"INSERT INTO mailboxes(endpoint_id, login, status, last_pass)"
	"  SELECT p.src_ep, p.src_user, j.state,"
	"    max(j.created, coalesce(j.started, 0), coalesce(j.finished, 0))"
	"  FROM jobs j JOIN pairs p ON p.id = j.pair_id"
	"  WHERE j.id IN (SELECT max(id) FROM jobs GROUP BY pair_id) ORDER BY j.id"
	"  ON CONFLICT(endpoint_id, login) DO UPDATE SET status = excluded.status,"
	"    last_pass = excluded.last_pass;"
	"UPDATE pairs SET src_mailbox_id = (SELECT id FROM mailboxes m"
	"  WHERE m.endpoint_id = pairs.src_ep AND m.login = pairs.src_user);",
	/* 2 -> 3: directory discovery.  A forest's high-water mark of its
	 * last complete discovery ("usn:N" or "ts:GENERALIZEDTIME"); a
	 * mailbox's directory key (objectGUID, entryUUID or DN) and whether the
	 * directory no longer returns it (kept, never deleted). */
	"ALTER TABLE forests ADD COLUMN dir_hwm TEXT;"
	"ALTER TABLE mailboxes ADD COLUMN vanished INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE mailboxes ADD COLUMN dir_key TEXT;",
	/* 3 -> 4: identity matching.  A mailbox's user principal name and
	 * every SMTP address it has (both lower case; addresses newline-
	 * separated), and the outcome of the last `forest match` for a source
	 * mailbox: its target mailbox (matched only), the state and the key
	 * that decided it.  Discovery's mark is forgotten so that the next run
	 * is a full one and fills the new columns. */
	"ALTER TABLE mailboxes ADD COLUMN upn TEXT;"
	"ALTER TABLE mailboxes ADD COLUMN proxy_addresses TEXT;"
	"ALTER TABLE mailboxes ADD COLUMN match_id INTEGER REFERENCES mailboxes(id) ON DELETE SET NULL;"
	"ALTER TABLE mailboxes ADD COLUMN match_state TEXT"
	"  CHECK(match_state IN ('matched','conflict','unmatched'));"
	"ALTER TABLE mailboxes ADD COLUMN match_key TEXT;"
	"CREATE INDEX mailboxes_match ON mailboxes(match_id);"
	"UPDATE forests SET dir_hwm = NULL;",
	/* 4 -> 5: forest alerts, the latest health check of each forest. */
	"CREATE TABLE alerts("
	"  id INTEGER PRIMARY KEY, forest_id INTEGER NOT NULL REFERENCES forests(id) ON DELETE CASCADE,"
	"  endpoint TEXT, check_name TEXT NOT NULL, level INTEGER NOT NULL, detail TEXT, fix TEXT,"
	"  ts INTEGER NOT NULL);"
	"CREATE INDEX alerts_forest ON alerts(forest_id, id);",
	/* 5 -> 6: notices sent once (a job's "before" mail, the admins' daily
	 * summary); the unique index is what makes "once" hold across
	 * processes.  job_id 0 and day '' when not about a job or a day. */
	"CREATE TABLE notices("
	"  id INTEGER PRIMARY KEY, kind TEXT NOT NULL, job_id INTEGER NOT NULL DEFAULT 0,"
	"  day TEXT NOT NULL DEFAULT '', sent_ts INTEGER NOT NULL);"
	"CREATE UNIQUE INDEX notices_once ON notices(kind, job_id, day);"
	"CREATE TRIGGER notices_job_gone AFTER DELETE ON jobs BEGIN"
	"  DELETE FROM notices WHERE job_id=old.id; END;",
	/* 6 -> 7: a forest's directory attribute map ("field=attribute" lines,
	 * dirmap.h), which directory attribute gives a mailbox's login,
	 * address, name, site, database, key or UPN; */
	"ALTER TABLE forests ADD COLUMN dir_attrs TEXT;"
	/* and discovery finds a renamed entry's row by its key. */
	"CREATE INDEX mailboxes_dir_key ON mailboxes(endpoint_id, dir_key);",
	/* 7 -> 8: the job lifecycle (lifecycle.h).  The phase a job is in
	 * (initial pass, incremental syncs while ready, the final pass), when
	 * its next incremental sync is due, when its cutover may start (NULL:
	 * none asked for), when it became ready, and whether its next pass
	 * retries only its failed items. */
	"ALTER TABLE jobs ADD COLUMN phase TEXT NOT NULL DEFAULT 'initial'"
	"  CHECK(phase IN ('initial','incremental','final'));"
	"ALTER TABLE jobs ADD COLUMN next_sync INTEGER;"
	"ALTER TABLE jobs ADD COLUMN cutover_at INTEGER;"
	"ALTER TABLE jobs ADD COLUMN ready_at INTEGER;"
	"ALTER TABLE jobs ADD COLUMN retry_errors INTEGER NOT NULL DEFAULT 0;"
	/* A skipped row for an item that failed (retried by retry-errors), not
	 * one skipped for good (too big). */
	"ALTER TABLE skipped ADD COLUMN failed INTEGER NOT NULL DEFAULT 0;",
	/* 8 -> 9: the schedule forecast of each job as last made while it was
	 * still queued (forecast.c), kept to compare with when it really ran;
	 * samples by time, as the forecast and the Metrics read recent ones. */
	"CREATE TABLE forecasts("
	"  job_id INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE, made INTEGER NOT NULL,"
	"  est_start INTEGER NOT NULL, est_end INTEGER NOT NULL, rate REAL NOT NULL, basis TEXT NOT NULL);"
	"CREATE INDEX samples_ts ON samples(ts);",
};

/* Every static SQL string of this file fits (x_die says so otherwise). */
#define STMT_CACHE 160

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

_Static_assert(countof(steps) == STORE_SCHEMA_VERSION, "one schema step per version");

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

/* mf_url_host(url): the host of "imap://Host:993/..." in lower case
 * ("host"; "[::1]" keeps its brackets), for limits per server. */
static void sql_url_host(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	const char *url = (const char *)sqlite3_value_text(argv[0]);
	if (!url) {
		sqlite3_result_null(ctx);
		return;
	}
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	const char *at = strchr(p, '@');
	const char *slash = strchr(p, '/');
	if (at && (!slash || at < slash))
		p = at + 1;
	size_t n = 0;
	if (*p == '[') {
		const char *close = strchr(p, ']');
		n = close ? (size_t)(close - p) + 1 : strlen(p);
	} else {
		n = strcspn(p, ":/?");
	}
	char host[256];
	if (n >= sizeof host)
		n = sizeof host - 1;
	for (size_t i = 0; i < n; i++)
		host[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
	sqlite3_result_text(ctx, host, (int)n, SQLITE_TRANSIENT);
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
	sqlite3_create_function(s->db, "mf_url_host", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
	                        sql_url_host, NULL, NULL);
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

static const char *col_str(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
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

/* prep, with parameters 1 to nargs bound to args; NULL (e set) when the
 * statement does not prepare. */
static sqlite3_stmt *prep_ints(struct store *s, const char *sql, const int64_t *args, int nargs, struct err *e)
{
	sqlite3_stmt *st = prep(s, sql, e);
	for (int i = 0; st && i < nargs; i++)
		sqlite3_bind_int64(st, i + 1, args[i]);
	return st;
}

/* Ends a loop over a statement's rows, rc the last sqlite3_step's: resets
 * the statement; an error unless the rows ran out. */
static enum st rows_end(struct store *s, sqlite3_stmt *st, int rc, const char *what, struct err *e)
{
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? ST_OK : db_err(s, e, what);
}

/* Runs a statement whose parameters are all integers (deletes and the
 * like); what names it in errors. */
static enum st exec_ints(struct store *s, const char *sql, const int64_t *args, int nargs,
                         const char *what, struct err *e)
{
	sqlite3_stmt *st = prep_ints(s, sql, args, nargs, e);
	return st ? step_done(s, st, e, what) : ST_STORE;
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
	return rows_end(s, st, rc, what, e);
}

/* Like collect_u32, for int64 values. */
static enum st collect_i64(struct store *s, sqlite3_stmt *st, int64_t **out, size_t *n,
                           const char *what, struct err *e)
{
	size_t cap = 0;
	int rc;
	*out = NULL;
	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = x_grow(*out, *n, &cap, sizeof **out, 16);
		(*out)[(*n)++] = sqlite3_column_int64(st, 0);
	}
	return rows_end(s, st, rc, what, e);
}

/* Binds an id where 0 means "none" (SQL NULL), as for optional references. */
static void bind_id(sqlite3_stmt *st, int i, int64_t id)
{
	if (id)
		sqlite3_bind_int64(st, i, id);
	else
		sqlite3_bind_null(st, i);
}

/* Makes a group of writes atomic whether or not the caller has a
 * transaction open: BEGIN IMMEDIATE at top level (so the write lock is
 * taken up front and the busy timeout applies), a savepoint inside the
 * caller's transaction.  tx_end commits, or rolls back when r != ST_OK, and
 * returns r (or the commit's error). */
static enum st tx_begin(struct store *s, bool *outer, struct err *e)
{
	*outer = sqlite3_get_autocommit(s->db) != 0;
	return exec_sql(s, *outer ? "BEGIN IMMEDIATE" : "SAVEPOINT mf_tx", e);
}

static enum st tx_end(struct store *s, bool outer, enum st r, struct err *e)
{
	if (r) {
		exec_sql(s, outer ? "ROLLBACK" : "ROLLBACK TO mf_tx; RELEASE mf_tx", NULL);
		return r;
	}
	r = exec_sql(s, outer ? "COMMIT" : "RELEASE mf_tx", e);
	if (r)
		exec_sql(s, outer ? "ROLLBACK" : "ROLLBACK TO mf_tx; RELEASE mf_tx", NULL);
	return r;
}

/* A value of a small fixed vocabulary (NULL-terminated list)? */
static bool one_of(const char *v, const char *const *set)
{
	for (; v && *set; set++)
		if (!strcmp(v, *set))
			return true;
	return false;
}

/* Reads one integer (column 0) of a one-row query, its parameter (if it
 * has one) bound to arg; *found false when there is no row. */
static enum st query_int(struct store *s, const char *sql, int64_t arg, int64_t *out, bool *found,
                         const char *what, struct err *e)
{
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	if (sqlite3_bind_parameter_count(st) > 0)
		sqlite3_bind_int64(st, 1, arg);
	int rc = sqlite3_step(st);
	*found = rc == SQLITE_ROW;
	if (*found)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? ST_OK : db_err(s, e, what);
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

/* Parameters 1-8 of an endpoint INSERT or UPDATE: the fields the admin sets. */
static void bind_endpoint(sqlite3_stmt *st, const struct endpoint *ep)
{
	bind_text(st, 1, ep->name);
	bind_text(st, 2, ep->url);
	bind_text(st, 3, ep->admin_user);
	bind_text(st, 4, ep->secret_ref);
	bind_text(st, 5, ep->auth_mech);
	bind_text(st, 6, ep->login_template);
	sqlite3_bind_int(st, 7, ep->insecure);
	sqlite3_bind_int(st, 8, ep->max_connections > 0 ? ep->max_connections : 10);
}

/* The outcome of an endpoint write, in words for the admin. */
static enum st endpoint_written(struct store *s, int rc, const struct endpoint *ep, const char *what,
                                struct err *e)
{
	if (rc == SQLITE_CONSTRAINT && sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
		return err_set(e, ST_CONFIG, "endpoint %s: forest %lld does not exist", ep->name,
		               (long long)ep->forest_id);
	if (rc == SQLITE_CONSTRAINT)
		return err_set(e, ST_CONFIG, "an endpoint named '%s' exists already", ep->name);
	if (rc != SQLITE_DONE)
		return db_err(s, e, what);
	return ST_OK;
}

enum st store_endpoint_add(struct store *s, const struct endpoint *ep, struct err *e)
{
	static const char sql[] =
		"INSERT INTO endpoints(name,url,admin_user,secret_ref,auth_mech,login_template,"
		"insecure,max_connections,created,forest_id) VALUES(?,?,?,?,?,?,?,?,?,?)";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	bind_endpoint(st, ep);
	sqlite3_bind_int64(st, 9, clock_now());
	bind_id(st, 10, ep->forest_id);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return endpoint_written(s, rc, ep, "add endpoint", e);
}

/* Same checks and messages as add; the id (and so the jobs, maps and
 * history that hang off it) stays. */
enum st store_endpoint_update(struct store *s, const struct endpoint *ep, struct err *e)
{
	static const char sql[] =
		"UPDATE endpoints SET name=?, url=?, admin_user=?, secret_ref=?, auth_mech=?, login_template=?,"
		" insecure=?, max_connections=?, forest_id=? WHERE id=?";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	bind_endpoint(st, ep);
	bind_id(st, 9, ep->forest_id);
	sqlite3_bind_int64(st, 10, ep->id);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	enum st r = endpoint_written(s, rc, ep, "update endpoint", e);
	if (!r && sqlite3_changes(s->db) == 0)
		return err_set(e, ST_CONFIG, "no endpoint %lld", (long long)ep->id);
	return r;
}

#define EP_COLS "id,name,url,admin_user,secret_ref,auth_mech,login_template,insecure,max_connections," \
	"coalesce(forest_id,0)"

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
	ep->forest_id = sqlite3_column_int64(st, 9);
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
static const char *const state_names[JOB__COUNT] = { "queued", "running", "completed", "partial",
                                                     "failed", "paused", "cancelled", "ready",
                                                     "completing" };
static const char *const phase_names[] = { "initial", "incremental", "final" };

const char *pass_kind_name(enum pass_kind k) { return pass_names[k]; }
const char *job_state_name(enum job_state s) { return (unsigned)s < JOB__COUNT ? state_names[s] : "?"; }
const char *job_state_label(enum job_state s) { return s == JOB_READY ? "ready to complete" : job_state_name(s); }
const char *job_phase_name(enum job_phase p) { return (unsigned)p < countof(phase_names) ? phase_names[p] : "?"; }

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

static enum job_phase phase_parse(const char *s)
{
	for (size_t i = 0; s && i < countof(phase_names); i++)
		if (!strcmp(s, phase_names[i]))
			return (enum job_phase)i;
	return PHASE_INITIAL;
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

enum st store_pair_active(struct store *s, int64_t src_ep, const char *src_user, int64_t dst_ep,
                          const char *dst_user, bool *active, struct err *e)
{
	static const char sql[] =
		"SELECT 1 FROM pairs p JOIN jobs j ON j.pair_id=p.id WHERE p.src_ep=? AND p.src_user=? "
		"AND p.dst_ep=? AND p.dst_user=? AND j.state IN ('queued','running','paused','ready',"
		"'completing') LIMIT 1";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, src_ep);
	bind_text(st, 2, src_user);
	sqlite3_bind_int64(st, 3, dst_ep);
	bind_text(st, 4, dst_user);
	int rc = sqlite3_step(st);
	*active = rc == SQLITE_ROW;
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? ST_OK : db_err(s, e, "read jobs of a pair");
}

enum st store_job_add(struct store *s, struct job *j, struct err *e)
{
	static const char sql[] =
		"INSERT INTO jobs(pair_id,state,priority,pass,prestage_days,trial_items,include_re,"
		"exclude_re,folder_map,max_size,bad_item_limit,sep_char,created,start_after,"
		"suspend_ready,notify_user) VALUES(?,'queued',?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
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
	bind_id(st, 13, j->start_after);
	sqlite3_bind_int(st, 14, j->suspend_ready);
	sqlite3_bind_int(st, 15, j->notify_user);
	r = step_done(s, st, e, "add job");
	if (!r)
		j->id = sqlite3_last_insert_rowid(s->db);
	j->state = JOB_QUEUED;
	return r;
}

#define JOB_COLS "j.id,j.pair_id,p.src_ep,p.dst_ep,p.src_user,p.dst_user,j.state,j.priority," \
	"j.pass,j.prestage_days,j.trial_items,j.include_re,j.exclude_re,j.folder_map,j.max_size," \
	"j.bad_item_limit,j.sep_char,j.items_done,j.bytes_done,j.items_skipped,j.items_failed," \
	"j.flags_updated,j.attempts,j.error,coalesce(j.start_after,0),j.suspend_ready,j.notify_user," \
	"j.phase,coalesce(j.next_sync,0),coalesce(j.cutover_at,0),j.retry_errors"
#define JOB_NCOLS 31

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
	j->start_after = sqlite3_column_int64(st, 24);
	j->suspend_ready = sqlite3_column_int(st, 25) != 0;
	j->notify_user = sqlite3_column_int(st, 26) != 0;
	j->phase = phase_parse((const char *)sqlite3_column_text(st, 27));
	j->next_sync = sqlite3_column_int64(st, 28);
	j->cutover_at = sqlite3_column_int64(st, 29);
	j->retry_errors = sqlite3_column_int(st, 30) != 0;
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

/* Claim candidates of one waiting state, in queue order: the time has come
 * (start_after for queued jobs, next_sync for ready ones, cutover_at for
 * completing ones), the mailbox pair is not running, and both endpoints
 * have a connection to spare: each running job holds one on each of its
 * endpoints (busy, counted once per claim, not once per candidate), and
 * with a host limit (?3 > 0) one on each endpoint's server (hosts). */
static const char claim_candidates[] =
	"WITH busy(ep, n) AS MATERIALIZED (SELECT e, count(*) FROM ("
	"    SELECT rp.src_ep AS e FROM jobs r JOIN pairs rp ON rp.id=r.pair_id WHERE r.state='running' "
	"    UNION ALL "
	"    SELECT rp.dst_ep FROM jobs r JOIN pairs rp ON rp.id=r.pair_id WHERE r.state='running') "
	"  GROUP BY e), "
	"hosts(h, n) AS MATERIALIZED (SELECT mf_url_host(en.url), sum(b.n) FROM busy b "
	"  JOIN endpoints en ON en.id=b.ep WHERE ?3 > 0 GROUP BY 1) "
	"SELECT j.id, p.src_ep, p.src_user, j.suspend_ready, j.priority, j.pos FROM jobs j "
	"JOIN pairs p ON p.id=j.pair_id "
	"JOIN endpoints es ON es.id=p.src_ep JOIN endpoints ed ON ed.id=p.dst_ep "
	"WHERE j.state=?2 AND CASE ?2 WHEN 'queued' THEN coalesce(j.start_after,0)<=?1 "
	"  WHEN 'ready' THEN j.next_sync IS NOT NULL AND j.next_sync<=?1 "
	"  ELSE coalesce(j.cutover_at,0)<=?1 END "
	"  AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.pair_id=j.pair_id AND r.state='running') "
	"  AND coalesce((SELECT n FROM busy WHERE ep=es.id), 0) < es.max_connections "
	"  AND coalesce((SELECT n FROM busy WHERE ep=ed.id), 0) < ed.max_connections "
	"  AND (?3 <= 0 OR coalesce((SELECT n FROM hosts WHERE h=mf_url_host(es.url)), 0) + 1 + "
	"       (mf_url_host(es.url)=mf_url_host(ed.url)) <= ?3) "
	"  AND (?3 <= 0 OR coalesce((SELECT n FROM hosts WHERE h=mf_url_host(ed.url)), 0) + 1 + "
	"       (mf_url_host(es.url)=mf_url_host(ed.url)) <= ?3) "
	"ORDER BY j.priority, j.pos LIMIT ?4";

struct claim_cand {
	int64_t id, src_ep, priority, pos;
	char *src_user;
	bool suspend_ready;
	enum job_state state;
};

static int cmp_cand(const void *a, const void *b)
{
	const struct claim_cand *x = a, *y = b;
	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Appends the candidates of state `waiting` to *v. */
/* Appends up to limit candidates of state `waiting` to *v; *full says
 * whether there may be more. */
static enum st claim_collect(struct store *s, enum job_state waiting, int64_t now, int host_limit, int limit,
                             struct claim_cand **v, size_t *n, size_t *cap, bool *full, struct err *e)
{
	sqlite3_stmt *st = prep(s, claim_candidates, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, now);
	bind_text(st, 2, job_state_name(waiting));
	sqlite3_bind_int(st, 3, host_limit);
	sqlite3_bind_int(st, 4, limit);
	size_t before = *n;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*v = x_grow(*v, *n, cap, sizeof **v, 16);
		(*v)[(*n)++] = (struct claim_cand){
			.id = sqlite3_column_int64(st, 0), .src_ep = sqlite3_column_int64(st, 1),
			.src_user = col_text(st, 2), .suspend_ready = sqlite3_column_int(st, 3) != 0,
			.priority = sqlite3_column_int64(st, 4), .pos = sqlite3_column_int64(st, 5),
			.state = waiting,
		};
	}
	sqlite3_reset(st);
	if (*n - before >= (size_t)limit)
		*full = true;
	return rc == SQLITE_DONE ? ST_OK : db_err(s, e, "claim job");
}

/* Sets job id running in phase p. */
static enum st claim_one(struct store *s, int64_t id, enum job_phase p, int64_t now, struct err *e)
{
	static const char sql[] =
		"UPDATE jobs SET state='running', phase=?, started=?, attempts=attempts+1, error=NULL, "
		"paused_by=NULL WHERE id=?";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	bind_text(st, 1, job_phase_name(p));
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, id);
	return step_done(s, st, e, "claim job");
}

enum st store_job_claim_unheld(struct store *s, store_hold_fn held, void *ctx, int host_limit,
                               struct job *out, bool *found, struct err *e)
{
	static const enum job_state waiting[] = { JOB_QUEUED, JOB_READY, JOB_COMPLETING };
	*found = false;
	int64_t now = clock_now(), id = 0;
	bool outer;
	/* One write transaction from the first read: no other worker can
	 * claim between our choice and our update. */
	enum st r = tx_begin(s, &outer, e);
	if (r)
		return r;
	/* A few candidates of each state usually do; only when blackouts hold
	 * all of them is a longer look needed.  With every endpoint at its
	 * limit there is nothing to look at (a queue of 100 000 jobs would be
	 * walked for nothing each time a waiting worker looks). */
	static const int limits[] = { 16, 5000 };
	static const char room[] =
		"SELECT count(*) FROM endpoints x WHERE x.max_connections > (SELECT count(*) FROM jobs r "
		"JOIN pairs rp ON rp.id=r.pair_id WHERE r.state='running' AND (rp.src_ep=x.id OR rp.dst_ep=x.id))";
	int64_t with_room = 0;
	bool full, any;
	r = query_int(s, room, 1, &with_room, &any, "claim job", e);
	full = !r && with_room > 0;
	for (size_t l = 0; !r && !id && full && l < countof(limits); l++) {
		struct claim_cand *v = NULL;
		size_t n = 0, cap = 0;
		full = false;
		for (size_t k = 0; !r && k < countof(waiting); k++)
			r = claim_collect(s, waiting[k], now, host_limit, limits[l], &v, &n, &cap, &full, e);
		if (!r && n > 1)
			qsort(v, n, sizeof *v, cmp_cand);
		for (size_t i = 0; !r && !id && i < n; i++) {
			enum job_phase p = lc_phase_for_claim(v[i].state);
			if (held && held(ctx, v[i].src_ep, v[i].src_user, p, v[i].suspend_ready))
				continue;
			r = claim_one(s, v[i].id, p, now, e);
			if (!r)
				id = v[i].id;
		}
		for (size_t i = 0; i < n; i++)
			free(v[i].src_user);
		free(v);
	}
	r = tx_end(s, outer, r, e);
	if (r || !id)
		return r;
	*found = true;
	return store_job_get(s, id, out, e);
}

enum st store_job_claim(struct store *s, struct job *out, bool *found, struct err *e)
{
	return store_job_claim_unheld(s, NULL, NULL, 0, out, found, e);
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

static enum st job_state_of(struct store *s, int64_t id, enum job_state *state, struct err *e);

/* Reads job id's state and phase; ST_CONFIG when there is no such job. */
static enum st job_state_phase(struct store *s, int64_t id, enum job_state *state, enum job_phase *phase,
                               struct err *e)
{
	static const char sql[] = "SELECT state, phase FROM jobs WHERE id=?";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*state = state_parse(col_str(st, 0));
		*phase = phase_parse(col_str(st, 1));
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return ST_OK;
	return rc == SQLITE_DONE ? err_set(e, ST_CONFIG, "no job %lld", (long long)id)
	                         : db_err(s, e, "read job");
}

/* The one place a job's state changes outside a claim: refuses a move the
 * lifecycle (lifecycle.h) does not allow, with what the admin asked for. */
static enum st job_set_state(struct store *s, int64_t id, enum job_state from, enum job_state to,
                             const char *what, struct err *e)
{
	static const char sql[] = "UPDATE jobs SET state=? WHERE id=?";
	enum st r = lc_check(id, from, to, what, e);
	sqlite3_stmt *st = r ? NULL : prep(s, sql, e);
	if (r || !st)
		return r ? r : ST_STORE;
	bind_text(st, 1, job_state_name(to));
	sqlite3_bind_int64(st, 2, id);
	return step_done(s, st, e, what);
}

enum st store_job_cancel(struct store *s, int64_t id, struct err *e)
{
	bool outer;
	enum job_state state = JOB_QUEUED;
	enum job_phase phase;
	enum st r = tx_begin(s, &outer, e);
	if (!r)
		r = job_state_phase(s, id, &state, &phase, e);
	if (!r)
		r = job_set_state(s, id, state, JOB_CANCELLED, "be cancelled", e);
	return tx_end(s, outer, r, e);
}

enum st store_job_retry_pass(struct store *s, int64_t id, bool full, bool *errors_only, struct err *e)
{
	static const char set[] =
		"UPDATE jobs SET error=NULL, retry_errors=?2, next_sync=CASE WHEN phase='incremental' "
		"THEN ?3 ELSE next_sync END WHERE id=?1";
	bool outer;
	enum job_state state = JOB_QUEUED;
	enum job_phase phase = PHASE_INITIAL;
	enum st r = tx_begin(s, &outer, e);
	if (!r)
		r = job_state_phase(s, id, &state, &phase, e);
	/* A partial job finished its pass: only its failed items need another
	 * go.  A failed or cancelled one resumes its pass (the map skips what
	 * is on the target already). */
	bool only = !full && state == JOB_PARTIAL;
	if (!r)
		r = job_set_state(s, id, state, lc_waiting_state(phase), "be retried", e);
	const int64_t args[] = { id, only, clock_now() };
	if (!r)
		r = exec_ints(s, set, args, 3, "retry job", e);
	if (!r)
		store_event(s, EV_INFO, id, "retry by admin: %s", only ? "only the failed items" :
		            "the pass resumes where it stopped");
	if (errors_only)
		*errors_only = only;
	return tx_end(s, outer, r, e);
}

enum st store_job_retry(struct store *s, int64_t id, struct err *e)
{
	return store_job_retry_pass(s, id, false, NULL, e);
}

enum st store_job_cutover(struct store *s, int64_t id, int64_t at, enum job_state *now_state,
                          struct err *e)
{
	static const char ask[] =
		"UPDATE jobs SET cutover_at=?, phase=CASE state WHEN 'completing' THEN 'final' ELSE phase END WHERE id=?";
	static const char suspended[] = "SELECT suspend_ready FROM jobs WHERE id=?";
	bool outer, found;
	enum job_state state = JOB_QUEUED;
	enum job_phase phase;
	int64_t sr = 0;
	enum st r = tx_begin(s, &outer, e);
	if (!r)
		r = job_state_phase(s, id, &state, &phase, e);
	if (!r)
		r = query_int(s, suspended, id, &sr, &found, "read job", e);
	/* Ready: completing now.  Completing: a new time.  Queued, running or
	 * paused: remembered, it completes after its current pass.  Else
	 * (over, or failed: retry it first) refused. */
	bool remembered = state == JOB_QUEUED || state == JOB_RUNNING || state == JOB_PAUSED;
	if (!r && !sr && state != JOB_READY && state != JOB_COMPLETING)
		r = err_set(e, ST_CONFIG, "job %lld has no cutover: it was not queued with "
		            "--suspend-when-ready, so it completes by itself", (long long)id);
	else if (!r && state == JOB_READY)
		r = job_set_state(s, id, state, JOB_COMPLETING, "cut over", e);
	else if (!r && state != JOB_COMPLETING && !remembered)
		r = err_set(e, ST_CONFIG, "job %lld cannot cut over: it is %s%s", (long long)id, job_state_label(state),
		            state == JOB_COMPLETED ? "" : " (retry it first)");
	const int64_t args[] = { at > 0 ? at : clock_now(), id };
	if (!r)
		r = exec_ints(s, ask, args, 2, "cut over", e);
	if (!r) {
		char when[32];
		time_t t = (time_t)args[0];
		struct tm tm;
		localtime_r(&t, &tm);
		strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
		store_event(s, EV_INFO, id, "cutover asked for by admin: the final pass %s%s",
		            state == JOB_READY || state == JOB_COMPLETING ? "runs from " :
		            "follows the job's current pass, from ", when);
	}
	if (now_state)
		*now_state = state == JOB_READY ? JOB_COMPLETING : state;
	return tx_end(s, outer, r, e);
}

enum st store_job_cutover_at(struct store *s, int64_t id, int64_t *at, struct err *e)
{
	static const char sql[] = "SELECT coalesce(cutover_at,0) FROM jobs WHERE id=?";
	bool found;
	*at = 0;
	return query_int(s, sql, id, at, &found, "read job", e);
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
	return exec_sql(s, "UPDATE jobs SET state=CASE phase WHEN 'incremental' THEN 'ready' "
	                "WHEN 'final' THEN 'completing' ELSE 'queued' END WHERE state='running'", e);
}

enum st store_job_finish(struct store *s, const struct job *j, enum job_state state,
                         const char *error, struct err *e)
{
	static const char sql[] =
		"UPDATE jobs SET state=?, error=?, finished=?, items_done=?, bytes_done=?, "
		"items_skipped=?, items_failed=?, flags_updated=?, current_folder=NULL, "
		/* a job waiting ready or completing is in the phase of its next
		 * pass, so a pause, a retry or a lost process brings it back there */
		"phase=CASE ?1 WHEN 'ready' THEN 'incremental' WHEN 'completing' THEN 'final' ELSE ? END, "
		"next_sync=nullif(?,0), retry_errors=?, "
		"ready_at=CASE WHEN ?1='ready' THEN coalesce(ready_at, ?3) ELSE ready_at END WHERE id=?";
	bool outer;
	enum job_state from = JOB_RUNNING;
	enum st r = tx_begin(s, &outer, e);
	if (!r)
		r = job_state_of(s, j->id, &from, e);
	if (!r) {
		char what[48];
		snprintf(what, sizeof what, "end as %s", job_state_name(state));
		r = lc_check(j->id, from, state, what, e);
	}
	sqlite3_stmt *st = r ? NULL : prep(s, sql, e);
	if (!r && !st)
		r = ST_STORE;
	if (!r) {
		bind_text(st, 1, job_state_name(state));
		bind_text(st, 2, error);
		sqlite3_bind_int64(st, 3, clock_now());
		sqlite3_bind_int64(st, 4, j->items_done);
		sqlite3_bind_int64(st, 5, j->bytes_done);
		sqlite3_bind_int64(st, 6, j->items_skipped);
		sqlite3_bind_int64(st, 7, j->items_failed);
		sqlite3_bind_int64(st, 8, j->flags_updated);
		bind_text(st, 9, job_phase_name(j->phase));
		sqlite3_bind_int64(st, 10, j->next_sync);
		sqlite3_bind_int(st, 11, j->retry_errors);
		sqlite3_bind_int64(st, 12, j->id);
		r = step_done(s, st, e, "finish job");
	}
	return tx_end(s, outer, r, e);
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

enum st store_job_counts(struct store *s, int64_t counts[JOB__COUNT], struct err *e)
{
	static const char sql[] = "SELECT state, count(*) FROM jobs GROUP BY state";
	memset(counts, 0, JOB__COUNT * sizeof counts[0]);
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		counts[state_parse((const char *)sqlite3_column_text(st, 0))] += sqlite3_column_int64(st, 1);
	return rows_end(s, st, rc, "count jobs", e);
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
		"WHERE ? OR j.state IN ('queued','running','paused','failed','ready','completing') "
		"ORDER BY j.id";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int(st, 1, all);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct job j;
		job_from_row(st, &j);
		fn(ctx, &j, (const char *)sqlite3_column_text(st, JOB_NCOLS),
		   (const char *)sqlite3_column_text(st, JOB_NCOLS + 1));
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
/* One row of skipped, bound the same way for a skipped and a failed item:
 * 1 job, 2 folder id, 3 folder, 4 uid, 5 subject, 6 size, 7 reason, 8 now. */
static enum st skipped_put(struct store *s, const char *sql, int64_t job_id, int64_t folder_id, const char *folder,
                           uint32_t src_uid, const char *subject, uint64_t size, const char *reason,
                           const char *what, struct err *e)
{
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
	return step_done(s, st, e, what);
}

enum st store_skipped_add(struct store *s, int64_t job_id, int64_t folder_id, const char *folder,
                          uint32_t src_uid, const char *subject, uint64_t size,
                          const char *reason, struct err *e)
{
	static const char sql[] =
		"INSERT OR REPLACE INTO skipped(job_id,folder_id,folder,src_uid,subject,size,reason,ts) "
		"VALUES(?1,?2,?3,?4,?5,?6,?7,?8)";
	return skipped_put(s, sql, job_id, folder_id, folder, src_uid, subject, size, reason, "record skipped item",
	                   e);
}

enum st store_item_failed_add(struct store *s, int64_t job_id, int64_t folder_id, const char *folder,
                              uint32_t src_uid, uint64_t size, const char *reason, struct err *e)
{
	/* The subject a skip recorded before stays (the failure has none). */
	static const char sql[] =
		"INSERT OR REPLACE INTO skipped(job_id,folder_id,folder,src_uid,subject,size,reason,ts,failed) "
		"VALUES(?1,?2,?3,?4,coalesce(?5,(SELECT subject FROM skipped WHERE job_id=?1 AND folder_id=?2 "
		"AND src_uid=?4)),?6,?7,?8,1)";
	return skipped_put(s, sql, job_id, folder_id, folder, src_uid, NULL, size, reason, "record failed item", e);
}

enum st store_failed_uids(struct store *s, int64_t job_id, int64_t folder_id, uint32_t **out, size_t *n,
                          struct err *e)
{
	static const char sql[] =
		"SELECT src_uid FROM skipped WHERE job_id=? AND folder_id=? AND failed=1 ORDER BY src_uid";
	const int64_t args[] = { job_id, folder_id };
	sqlite3_stmt *st = prep_ints(s, sql, args, 2, e);
	return st ? collect_u32(s, st, out, n, "read failed items", e) : ST_STORE;
}

enum st store_failed_done(struct store *s, int64_t job_id, int64_t folder_id, uint32_t src_uid,
                          struct err *e)
{
	static const char sql[] = "DELETE FROM skipped WHERE job_id=? AND folder_id=? AND src_uid=? AND failed=1";
	const int64_t args[] = { job_id, folder_id, src_uid };
	return exec_ints(s, sql, args, 3, "forget a failed item", e);
}

enum st store_failed_count(struct store *s, int64_t job_id, int64_t *n, struct err *e)
{
	static const char sql[] = "SELECT count(*) FROM skipped WHERE job_id=? AND failed=1";
	bool found;
	*n = 0;
	return query_int(s, sql, job_id, n, &found, "count failed items", e);
}

enum st store_skipped_rows(struct store *s, int64_t job_id, void (*fn)(void *ctx, const struct skipped_row *r),
                           void *ctx, struct err *e)
{
	static const char sql[] =
		"SELECT job_id,folder,src_uid,subject,size,reason,failed FROM skipped "
		"WHERE ?=0 OR job_id=? ORDER BY job_id, folder, src_uid";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, job_id);
	sqlite3_bind_int64(st, 2, job_id);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct skipped_row r = {
			.job = sqlite3_column_int64(st, 0), .folder = (const char *)sqlite3_column_text(st, 1),
			.uid = (uint32_t)sqlite3_column_int64(st, 2), .subject = (const char *)sqlite3_column_text(st, 3),
			.size = (uint64_t)sqlite3_column_int64(st, 4), .reason = (const char *)sqlite3_column_text(st, 5),
			.failed = sqlite3_column_int(st, 6) != 0,
		};
		fn(ctx, &r);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? ST_OK : db_err(s, e, "list skipped items");
}

struct skipped_each {
	void (*fn)(void *ctx, int64_t job, const char *folder, uint32_t uid, const char *subject, uint64_t size,
	           const char *reason);
	void *ctx;
};

static void skipped_each_row(void *ctx, const struct skipped_row *r)
{
	struct skipped_each *x = ctx;
	x->fn(x->ctx, r->job, r->folder, r->uid, r->subject, r->size, r->reason);
}

enum st store_skipped_each(struct store *s, int64_t job_id,
                           void (*fn)(void *ctx, int64_t job, const char *folder, uint32_t uid,
                                      const char *subject, uint64_t size, const char *reason),
                           void *ctx, struct err *e)
{
	struct skipped_each x = { fn, ctx };
	return store_skipped_rows(s, job_id, skipped_each_row, &x, e);
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

enum st store_sample_endpoints(struct store *s, int64_t since,
                               void (*fn)(void *ctx, int64_t endpoint_id, int64_t items, int64_t bytes,
                                          int64_t minutes),
                               void *ctx, struct err *e)
{
	static const char sql[] =
		"SELECT coalesce(endpoint_id, 0), sum(items), sum(bytes), count(DISTINCT ts/60) FROM samples "
		"WHERE ts >= ? GROUP BY 1 ORDER BY 1";
	const int64_t args[] = { since };
	sqlite3_stmt *st = prep_ints(s, sql, args, 1, e);
	if (!st)
		return ST_STORE;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
		   sqlite3_column_int64(st, 3));
	return rows_end(s, st, rc, "throughput per endpoint", e);
}

enum st store_sample_history(struct store *s, int64_t since, int64_t endpoint_id,
                             void (*fn)(void *ctx, int64_t minute, int64_t endpoint_id, int64_t items,
                                        int64_t bytes),
                             void *ctx, struct err *e)
{
	static const char sql[] =
		"SELECT ts/60*60 AS m, coalesce(endpoint_id, 0) AS ep, sum(items), sum(bytes) FROM samples "
		"WHERE ts >= ?1 AND (?2 = 0 OR endpoint_id = ?2) GROUP BY m, ep ORDER BY m, ep";
	const int64_t args[] = { since, endpoint_id };
	sqlite3_stmt *st = prep_ints(s, sql, args, 2, e);
	if (!st)
		return ST_STORE;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
		   sqlite3_column_int64(st, 3));
	return rows_end(s, st, rc, "throughput history", e);
}

enum st store_finished_each(struct store *s, int64_t since,
                            void (*fn)(void *ctx, int64_t finished, int64_t dst_ep), void *ctx, struct err *e)
{
	static const char sql[] =
		"SELECT j.finished, p.dst_ep FROM jobs j JOIN pairs p ON p.id=j.pair_id "
		"WHERE j.state IN ('completed','partial') AND j.finished >= ? ORDER BY j.finished";
	const int64_t args[] = { since };
	sqlite3_stmt *st = prep_ints(s, sql, args, 1, e);
	if (!st)
		return ST_STORE;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1));
	return rows_end(s, st, rc, "finished jobs", e);
}

enum st store_folder_stats(struct store *s, int64_t pair_id, int64_t job_id,
                           void (*fn)(void *ctx, const char *src_name, const char *dst_name, int64_t items,
                                      int64_t bytes, int64_t skipped),
                           void *ctx, struct err *e)
{
	static const char sql[] =
		"SELECT f.src_name, f.dst_name,"
		"  (SELECT count(*) FROM messages m WHERE m.folder_id=f.id),"
		"  (SELECT coalesce(sum(m.size), 0) FROM messages m WHERE m.folder_id=f.id),"
		"  (SELECT count(*) FROM skipped k WHERE k.folder_id=f.id AND k.job_id=?2) "
		"FROM folders f WHERE f.pair_id=?1 ORDER BY f.src_name";
	const int64_t args[] = { pair_id, job_id };
	sqlite3_stmt *st = prep_ints(s, sql, args, 2, e);
	if (!st)
		return ST_STORE;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(ctx, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
		   sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4));
	return rows_end(s, st, rc, "folder statistics", e);
}

enum st store_verify_verdict(struct store *s, int64_t job_id, const char *login, int64_t since, char **out,
                             struct err *e)
{
	/* LIKE: '%' and '_' in a login only widen the match to similar
	 * logins' verdicts of the same message shape, and the job's own
	 * verdict (job_id) wins by recency anyway. */
	static const char sql[] =
		"SELECT message FROM events WHERE (job_id=?1 OR (job_id IS NULL AND ts >= ?3)) "
		"AND message LIKE '% messages of ' || ?2 || ' are on the target%' ORDER BY id DESC LIMIT 1";
	*out = NULL;
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, job_id);
	bind_text(st, 2, login);
	sqlite3_bind_int64(st, 3, since);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = x_strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? ST_OK : db_err(s, e, "verify verdict");
}

/* --- forecasts ---------------------------------------------------------------- */

enum st store_forecast_put(struct store *s, int64_t job_id, int64_t made, int64_t est_start, int64_t est_end,
                           double rate, const char *basis, struct err *e)
{
	/* Only while the job waits: once it started, the forecast it started
	 * under stays. */
	static const char sql[] =
		"INSERT INTO forecasts(job_id, made, est_start, est_end, rate, basis) "
		"SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM jobs WHERE id=?1 AND state='queued') "
		"ON CONFLICT(job_id) DO UPDATE SET made=excluded.made, est_start=excluded.est_start, "
		"est_end=excluded.est_end, rate=excluded.rate, basis=excluded.basis";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, job_id);
	sqlite3_bind_int64(st, 2, made);
	sqlite3_bind_int64(st, 3, est_start);
	sqlite3_bind_int64(st, 4, est_end);
	sqlite3_bind_double(st, 5, rate);
	bind_text(st, 6, basis);
	return step_done(s, st, e, "record a forecast");
}

enum st store_forecast_each(struct store *s, int64_t job_id,
                            void (*fn)(void *ctx, const struct forecast_row *r), void *ctx, struct err *e)
{
	static const char sql[] =
		"SELECT f.job_id, f.made, f.est_start, f.est_end, f.rate, f.basis, j.state, coalesce(j.started, 0),"
		"  coalesce(j.finished, 0), p.src_user, p.dst_user, es.name, ed.name "
		"FROM forecasts f JOIN jobs j ON j.id=f.job_id JOIN pairs p ON p.id=j.pair_id "
		"JOIN endpoints es ON es.id=p.src_ep JOIN endpoints ed ON ed.id=p.dst_ep "
		"WHERE ?1 = 0 OR f.job_id = ?1 ORDER BY f.job_id";
	const int64_t args[] = { job_id };
	sqlite3_stmt *st = prep_ints(s, sql, args, 1, e);
	if (!st)
		return ST_STORE;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct forecast_row r = {
			.job_id = sqlite3_column_int64(st, 0), .made = sqlite3_column_int64(st, 1),
			.est_start = sqlite3_column_int64(st, 2), .est_end = sqlite3_column_int64(st, 3),
			.rate = sqlite3_column_double(st, 4), .basis = (const char *)sqlite3_column_text(st, 5),
			.started = sqlite3_column_int64(st, 7), .finished = sqlite3_column_int64(st, 8),
			.src_user = (const char *)sqlite3_column_text(st, 9),
			.dst_user = (const char *)sqlite3_column_text(st, 10),
			.src_ep = (const char *)sqlite3_column_text(st, 11),
			.dst_ep = (const char *)sqlite3_column_text(st, 12),
		};
		r.state = state_parse((const char *)sqlite3_column_text(st, 6));
		fn(ctx, &r);
	}
	return rows_end(s, st, rc, "forecasts", e);
}

/* --- forests ---------------------------------------------------------------- */
static const char *const forest_roles[] = { "source", "target", "tenant", NULL };
static const char *const blackout_modes[] = { "entire", "initial", "final", NULL };

void forest_free(struct forest *f)
{
	free(f->name);
	free(f->role);
	free(f->dir_url);
	free(f->dir_bind_dn);
	free(f->dir_secret_ref);
	free(f->dir_base_dn);
	free(f->dir_filter);
	free(f->scope);
	free(f->blackout_mode);
	free(f->dir_hwm);
	free(f->dir_attrs);
	memset(f, 0, sizeof *f);
}

/* What the schema's CHECKs would refuse, said so an admin can fix it, and
 * the one-target/one-tenant rule naming the forest that is in the way. */
static enum st forest_check(struct store *s, const struct forest *f, struct err *e)
{
	static const char sql[] = "SELECT name FROM forests WHERE role=? AND id<>?";
	if (!f->name || !*f->name)
		return err_set(e, ST_CONFIG, "a forest needs a name");
	if (!one_of(f->role, forest_roles))
		return err_set(e, ST_CONFIG, "forest %s: role '%s' is not source, target or tenant",
		               f->name, f->role ? f->role : "");
	if (f->blackout_mode && !one_of(f->blackout_mode, blackout_modes))
		return err_set(e, ST_CONFIG, "forest %s: blackout mode '%s' is not entire, initial or final",
		               f->name, f->blackout_mode);
	if (!strcmp(f->role, "source"))
		return ST_OK;
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	bind_text(st, 1, f->role);
	sqlite3_bind_int64(st, 2, f->id);
	int rc = sqlite3_step(st);
	char *other = rc == SQLITE_ROW ? col_text(st, 0) : NULL;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_err(s, e, "read forests");
	if (!other)
		return ST_OK;
	err_set(e, ST_CONFIG, "there is already a %s forest, %s", f->role, other);
	free(other);
	return ST_CONFIG;
}

/* Binds the fields shared by add and update as parameters 1..10. */
static void forest_bind(sqlite3_stmt *st, const struct forest *f)
{
	bind_text(st, 1, f->name);
	bind_text(st, 2, f->role);
	bind_text(st, 3, f->dir_url);
	bind_text(st, 4, f->dir_bind_dn);
	bind_text(st, 5, f->dir_secret_ref);
	bind_text(st, 6, f->dir_base_dn);
	bind_text(st, 7, f->dir_filter);
	bind_text(st, 8, f->scope);
	sqlite3_bind_int(st, 9, f->allow_postpone);
	bind_text(st, 10, f->blackout_mode ? f->blackout_mode : "entire");
}

static enum st forest_write_result(struct store *s, const struct forest *f, int rc, struct err *e)
{
	if (rc == SQLITE_CONSTRAINT)
		return err_set(e, ST_CONFIG, "a forest named '%s' exists already", f->name);
	return rc == SQLITE_DONE ? ST_OK : db_err(s, e, "write forest");
}

enum st store_forest_add(struct store *s, struct forest *f, struct err *e)
{
	static const char sql[] =
		"INSERT INTO forests(name,role,dir_url,dir_bind_dn,dir_secret_ref,dir_base_dn,dir_filter,"
		"scope,allow_postpone,blackout_mode,created) VALUES(?,?,?,?,?,?,?,?,?,?,?)";
	f->id = 0;
	enum st r = forest_check(s, f, e);
	if (r)
		return r;
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	forest_bind(st, f);
	sqlite3_bind_int64(st, 11, clock_now());
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	r = forest_write_result(s, f, rc, e);
	if (!r)
		f->id = sqlite3_last_insert_rowid(s->db);
	return r;
}

enum st store_forest_update(struct store *s, const struct forest *f, struct err *e)
{
	static const char sql[] =
		"UPDATE forests SET dir_hwm=CASE WHEN dir_url IS ?3 AND dir_base_dn IS ?6 AND "
		"dir_filter IS ?7 AND scope IS ?8 THEN dir_hwm END, "
		"name=?1,role=?2,dir_url=?3,dir_bind_dn=?4,dir_secret_ref=?5,dir_base_dn=?6,"
		"dir_filter=?7,scope=?8,allow_postpone=?9,blackout_mode=?10 WHERE id=?11";
	enum st r = forest_check(s, f, e);
	if (r)
		return r;
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	forest_bind(st, f);
	sqlite3_bind_int64(st, 11, f->id);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	r = forest_write_result(s, f, rc, e);
	if (!r && sqlite3_changes(s->db) == 0)
		return err_set(e, ST_CONFIG, "forest %lld no longer exists", (long long)f->id);
	return r;
}

#define FOREST_COLS "id,name,role,dir_url,dir_bind_dn,dir_secret_ref,dir_base_dn,dir_filter,scope," \
	"allow_postpone,blackout_mode,dir_hwm,dir_attrs"

static void forest_from_row(sqlite3_stmt *st, struct forest *f)
{
	f->id = sqlite3_column_int64(st, 0);
	f->name = col_text(st, 1);
	f->role = col_text(st, 2);
	f->dir_url = col_text(st, 3);
	f->dir_bind_dn = col_text(st, 4);
	f->dir_secret_ref = col_text(st, 5);
	f->dir_base_dn = col_text(st, 6);
	f->dir_filter = col_text(st, 7);
	f->scope = col_text(st, 8);
	f->allow_postpone = sqlite3_column_int(st, 9) != 0;
	f->blackout_mode = col_text(st, 10);
	f->dir_hwm = col_text(st, 11);
	f->dir_attrs = col_text(st, 12);
}

enum st store_forest_set_hwm(struct store *s, int64_t id, const char *hwm, struct err *e)
{
	static const char sql[] = "UPDATE forests SET dir_hwm=? WHERE id=?";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	bind_text(st, 1, hwm);
	sqlite3_bind_int64(st, 2, id);
	return step_done(s, st, e, "write forest high-water mark");
}

enum st store_forest_set_attrs(struct store *s, int64_t id, const char *attrs, struct err *e)
{
	static const char sql[] =
		"UPDATE forests SET dir_hwm=CASE WHEN dir_attrs IS ?1 THEN dir_hwm END, dir_attrs=?1 WHERE id=?2";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	bind_text(st, 1, attrs && *attrs ? attrs : NULL);
	sqlite3_bind_int64(st, 2, id);
	return step_done(s, st, e, "write forest attribute map");
}

/* Runs a forest query bound to either a name or an id; one row or none. */
static enum st forest_get(struct store *s, const char *sql, const char *name, int64_t id,
                          struct forest *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	if (name)
		bind_text(st, 1, name);
	else
		sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		forest_from_row(st, out);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return ST_OK;
	if (rc != SQLITE_DONE)
		return db_err(s, e, "read forest");
	if (name)
		return err_set(e, ST_CONFIG, "no forest named '%s' (see 'mailferry forest list')", name);
	return err_set(e, ST_CONFIG, "forest %lld does not exist", (long long)id);
}

enum st store_forest_get(struct store *s, const char *name, struct forest *out, struct err *e)
{
	static const char sql[] = "SELECT " FOREST_COLS " FROM forests WHERE name=?";
	return forest_get(s, sql, name, 0, out, e);
}

enum st store_forest_get_id(struct store *s, int64_t id, struct forest *out, struct err *e)
{
	static const char sql[] = "SELECT " FOREST_COLS " FROM forests WHERE id=?";
	return forest_get(s, sql, NULL, id, out, e);
}

enum st store_forest_each(struct store *s, void (*fn)(void *ctx, const struct forest *f),
                          void *ctx, struct err *e)
{
	static const char sql[] = "SELECT " FOREST_COLS " FROM forests ORDER BY name";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct forest f;
		forest_from_row(st, &f);
		fn(ctx, &f);
		forest_free(&f);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? ST_OK : db_err(s, e, "list forests");
}

/* Rows that refer to a forest's endpoints, mailboxes or jobs without a
 * foreign key (history tables): deleted before the forest, whose own
 * delete cascades through endpoints, mailboxes, delegates, pairs, jobs,
 * passes, skipped items, folders, maps and the journal. */
static const char *const forest_history_sql[] = {
	"DELETE FROM events WHERE job_id IN (SELECT j.id FROM jobs j JOIN pairs p ON p.id=j.pair_id "
	"  WHERE p.src_ep IN (SELECT id FROM endpoints WHERE forest_id=?1) "
	"     OR p.dst_ep IN (SELECT id FROM endpoints WHERE forest_id=?1))",
	"DELETE FROM commands WHERE job_id IN (SELECT j.id FROM jobs j JOIN pairs p ON p.id=j.pair_id "
	"  WHERE p.src_ep IN (SELECT id FROM endpoints WHERE forest_id=?1) "
	"     OR p.dst_ep IN (SELECT id FROM endpoints WHERE forest_id=?1))",
	"DELETE FROM samples WHERE endpoint_id IN (SELECT id FROM endpoints WHERE forest_id=?1)",
	/* (Parentheses: one element made of two literals, as clang likes it.) */
	("DELETE FROM blackouts WHERE mailbox_id IN (SELECT m.id FROM mailboxes m "
	 "  JOIN endpoints e ON e.id=m.endpoint_id WHERE e.forest_id=?1)"),
	"DELETE FROM forests WHERE id=?1",
};

enum st store_forest_remove(struct store *s, int64_t id, struct err *e)
{
	struct forest f;
	enum st r = store_forest_get_id(s, id, &f, e);
	if (r)
		return r;
	bool target = !strcmp(f.role, "target");
	forest_free(&f);
	if (target)
		return err_set(e, ST_CONFIG, "the target forest can't be deleted");
	bool outer;
	if ((r = tx_begin(s, &outer, e)))
		return r;
	for (size_t i = 0; !r && i < countof(forest_history_sql); i++)
		r = exec_ints(s, forest_history_sql[i], &id, 1, "remove forest", e);
	return tx_end(s, outer, r, e);
}

enum st store_endpoint_set_forest(struct store *s, const char *endpoint_name, int64_t forest_id,
                                  struct err *e)
{
	static const char sql[] = "UPDATE endpoints SET forest_id=? WHERE name=?";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	bind_id(st, 1, forest_id);
	bind_text(st, 2, endpoint_name);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT)
		return err_set(e, ST_CONFIG, "endpoint %s: forest %lld does not exist", endpoint_name,
		               (long long)forest_id);
	if (rc != SQLITE_DONE)
		return db_err(s, e, "set endpoint forest");
	if (sqlite3_changes(s->db) == 0)
		return err_set(e, ST_CONFIG, "no endpoint named '%s'", endpoint_name);
	return ST_OK;
}

/* --- job rows, queue order, pause and resume ---------------------------------- */
/* Endpoint names are not joined per row (the console lists 100 000 jobs
 * and SQLite's per-row cost is what limits it): see struct ep_names. */
#define JOB_ROW_COLS \
	"SELECT j.id, j.state, j.pass, j.priority, j.pos, p.src_ep, p.src_user, p.dst_ep, p.dst_user," \
	" j.items_done, j.bytes_done, j.items_skipped, j.items_failed, j.current_folder," \
	" coalesce(j.started,0), coalesce(j.finished,0), j.created, coalesce(j.start_after,0)," \
	" j.error, j.paused_by, j.attempts, j.suspend_ready, j.notify_user, j.rev," \
	" coalesce(m.size_bytes,-1), coalesce(m.items,-1), j.phase, coalesce(j.next_sync,0)," \
	" coalesce(j.cutover_at,0), coalesce(j.ready_at,0), j.retry_errors " \
	"FROM jobs j JOIN pairs p ON p.id=j.pair_id LEFT JOIN mailboxes m ON m.id=p.src_mailbox_id "

/* Endpoint id -> name for one listing, read once (there are few). */
struct ep_names {
	int64_t *ids;
	char **names;
	size_t n;
};

static enum st ep_names_load(struct store *s, struct ep_names *t, struct err *e)
{
	static const char sql[] = "SELECT id, name FROM endpoints ORDER BY id";
	size_t cap_i = 0, cap_n = 0;
	memset(t, 0, sizeof *t);
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		t->ids = x_grow(t->ids, t->n, &cap_i, sizeof *t->ids, 8);
		t->names = x_grow(t->names, t->n, &cap_n, sizeof *t->names, 8);
		t->ids[t->n] = sqlite3_column_int64(st, 0);
		t->names[t->n++] = col_text(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? ST_OK : db_err(s, e, "list endpoints");
}

static const char *ep_name(const struct ep_names *t, int64_t id)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->ids[mid] == id)
			return t->names[mid];
		if (t->ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return "?";
}

static void ep_names_free(struct ep_names *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->names[i]);
	free(t->names);
	free(t->ids);
}


static void job_row_from(sqlite3_stmt *st, const struct ep_names *eps, struct job_row *r)
{
	r->id = sqlite3_column_int64(st, 0);
	r->state = state_parse(col_str(st, 1));
	const char *pass = col_str(st, 2);
	if (!pass || !pass_kind_parse(pass, &r->pass))
		r->pass = PASS_FULL;
	r->priority = sqlite3_column_int(st, 3);
	r->queue_pos = sqlite3_column_int64(st, 4);
	r->src_ep_id = sqlite3_column_int64(st, 5);
	r->dst_ep_id = sqlite3_column_int64(st, 7);
	r->src_endpoint = ep_name(eps, sqlite3_column_int64(st, 5));
	r->src_user = col_str(st, 6);
	r->dst_endpoint = ep_name(eps, sqlite3_column_int64(st, 7));
	r->dst_user = col_str(st, 8);
	r->items_done = sqlite3_column_int64(st, 9);
	r->bytes_done = sqlite3_column_int64(st, 10);
	r->items_skipped = sqlite3_column_int64(st, 11);
	r->items_failed = sqlite3_column_int64(st, 12);
	r->current_folder = col_str(st, 13);
	r->started = sqlite3_column_int64(st, 14);
	r->finished = sqlite3_column_int64(st, 15);
	r->created = sqlite3_column_int64(st, 16);
	r->start_after = sqlite3_column_int64(st, 17);
	r->error = col_str(st, 18);
	r->paused_by = col_str(st, 19);
	r->attempts = sqlite3_column_int(st, 20);
	r->suspend_ready = sqlite3_column_int(st, 21) != 0;
	r->notify_user = sqlite3_column_int(st, 22) != 0;
	r->rev = sqlite3_column_int64(st, 23);
	r->src_size_bytes = sqlite3_column_int64(st, 24);
	r->src_items = sqlite3_column_int64(st, 25);
	r->phase = phase_parse(col_str(st, 26));
	r->next_sync = sqlite3_column_int64(st, 27);
	r->cutover_at = sqlite3_column_int64(st, 28);
	r->ready_at = sqlite3_column_int64(st, 29);
	r->retry_errors = sqlite3_column_int(st, 30) != 0;
}

enum st store_rev(struct store *s, int64_t *rev, struct err *e)
{
	static const char sql[] = "SELECT rev FROM revs WHERE id=?";
	bool found;
	*rev = 0;
	return query_int(s, sql, 1, rev, &found, "read revision", e);
}

enum st store_job_rows(struct store *s, int64_t since_rev,
                       void (*fn)(void *ctx, const struct job_row *r), void *ctx,
                       int64_t *max_rev, struct err *e)
{
	/* Two statements: a full read walks the queue-order index; a refresh
	 * finds the few changed rows through the revision index and sorts them. */
	static const char all[] = JOB_ROW_COLS "ORDER BY j.priority, j.pos";
	static const char changed[] = JOB_ROW_COLS "WHERE j.rev>? ORDER BY +j.priority, +j.pos";
	/* The revision is read first: a change landing during the walk is then
	 * seen again next time rather than missed. */
	int64_t rev = 0;
	struct ep_names eps;
	enum st r = store_rev(s, &rev, e);
	if (r || (r = ep_names_load(s, &eps, e)))
		return r;
	sqlite3_stmt *st = prep(s, since_rev > 0 ? changed : all, e);
	if (!st) {
		ep_names_free(&eps);
		return ST_STORE;
	}
	if (since_rev > 0)
		sqlite3_bind_int64(st, 1, since_rev);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct job_row row;
		job_row_from(st, &eps, &row);
		fn(ctx, &row);
	}
	sqlite3_reset(st);
	ep_names_free(&eps);
	if (rc != SQLITE_DONE)
		return db_err(s, e, "list jobs");
	if (max_rev)
		*max_rev = rev;
	return ST_OK;
}

enum st store_job_total(struct store *s, int64_t *n, struct err *e)
{
	static const char sql[] = "SELECT count(*) FROM jobs";
	bool found;
	*n = 0;
	return query_int(s, sql, 0, n, &found, "count jobs", e);
}

enum st store_job_row(struct store *s, int64_t id, void (*fn)(void *ctx, const struct job_row *r),
                      void *ctx, struct err *e)
{
	static const char sql[] = JOB_ROW_COLS "WHERE j.id=?";
	struct ep_names eps;
	enum st r = ep_names_load(s, &eps, e);
	if (r)
		return r;
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st) {
		ep_names_free(&eps);
		return ST_STORE;
	}
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		struct job_row row;
		job_row_from(st, &eps, &row);
		fn(ctx, &row);
		rc = sqlite3_step(st);
	}
	sqlite3_reset(st);
	ep_names_free(&eps);
	return rc == SQLITE_DONE ? ST_OK : db_err(s, e, "read job");
}

/* The state of job id; ST_CONFIG when there is no such job. */
static enum st job_state_of(struct store *s, int64_t id, enum job_state *state, struct err *e)
{
	static const char sql[] = "SELECT state FROM jobs WHERE id=?";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*state = state_parse(col_str(st, 0));
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return ST_OK;
	return rc == SQLITE_DONE ? err_set(e, ST_CONFIG, "no job %lld", (long long)id)
	                         : db_err(s, e, "read job");
}

/* Swaps the queue places (priority, position) of two jobs. */
static enum st job_swap_places(struct store *s, int64_t a, int64_t b, struct err *e)
{
	static const char sql[] =
		"UPDATE jobs SET priority=o.priority, pos=o.pos FROM (SELECT id, priority, pos FROM jobs "
		"WHERE id IN (?1,?2)) AS o WHERE jobs.id IN (?1,?2) AND o.id<>jobs.id";
	const int64_t args[] = { a, b };
	return exec_ints(s, sql, args, 2, "move job", e);
}

enum st store_job_move_step(struct store *s, int64_t id, bool up, struct err *e)
{
	static const char before[] =
		"SELECT n.id FROM jobs j, jobs n WHERE j.id=? AND n.state='queued' "
		"AND (n.priority, n.pos) < (j.priority, j.pos) ORDER BY n.priority DESC, n.pos DESC LIMIT 1";
	static const char after[] =
		"SELECT n.id FROM jobs j, jobs n WHERE j.id=? AND n.state='queued' "
		"AND (n.priority, n.pos) > (j.priority, j.pos) ORDER BY n.priority, n.pos LIMIT 1";
	bool outer, found = false;
	enum job_state state = JOB_QUEUED;
	enum st r = tx_begin(s, &outer, e);
	if (r)
		return r;
	r = job_state_of(s, id, &state, e);
	if (!r && state != JOB_QUEUED)
		r = err_set(e, ST_CONFIG, "job %lld cannot be moved: it is %s, and only queued jobs can",
		            (long long)id, job_state_name(state));
	int64_t other = 0;
	if (!r)
		r = query_int(s, up ? before : after, id, &other, &found, "move job", e);
	if (!r && found)
		r = job_swap_places(s, id, other, e);
	return tx_end(s, outer, r, e);
}

/* Is a pause command for job id still waiting for its engine? */
static enum st pause_pending(struct store *s, int64_t id, bool *pending, struct err *e)
{
	static const char sql[] = "SELECT id FROM commands WHERE done=0 AND verb='pause' AND job_id=?";
	int64_t cmd;
	return query_int(s, sql, id, &cmd, pending, "read commands", e);
}

enum st store_job_pause(struct store *s, int64_t id, struct err *e)
{
	static const char pause_now[] =
		"UPDATE jobs SET state='paused', paused_by='admin' WHERE id=? "
		"AND state IN ('queued','ready','completing')";
	static const char ask[] = "INSERT INTO commands(job_id, ts, verb) VALUES(?,?,'pause')";
	bool outer, pending = false;
	enum job_state state = JOB_QUEUED;
	enum st r = tx_begin(s, &outer, e);
	if (r)
		return r;
	r = job_state_of(s, id, &state, e);
	if (!r && (state == JOB_QUEUED || state == JOB_READY || state == JOB_COMPLETING)) {
		r = exec_ints(s, pause_now, &id, 1, "pause job", e);
		if (!r)
			store_event(s, EV_INFO, id, "paused by admin");
	} else if (!r && state == JOB_RUNNING) {
		r = pause_pending(s, id, &pending, e);
		const int64_t args[] = { id, clock_now() };
		if (!r && !pending)
			r = exec_ints(s, ask, args, 2, "pause job", e);
		if (!r && !pending)
			store_event(s, EV_INFO, id, "pause requested by admin: the job stops at its next "
			            "checkpoint");
	} else if (!r && state == JOB_PAUSED) {
		r = err_set(e, ST_CONFIG, "job %lld is already paused", (long long)id);
	} else if (!r) {
		r = err_set(e, ST_CONFIG, "job %lld cannot be paused: it is %s, and only queued, running, "
		            "ready or completing jobs can", (long long)id, job_state_label(state));
	}
	return tx_end(s, outer, r, e);
}

enum st store_job_resume(struct store *s, int64_t id, struct err *e)
{
	/* Back to where it waited: queued, ready or completing, by its phase. */
	static const char resume[] =
		"UPDATE jobs SET state=CASE phase WHEN 'incremental' THEN 'ready' WHEN 'final' THEN "
		"'completing' ELSE 'queued' END, paused_by=NULL WHERE id=? AND state='paused'";
	static const char withdraw[] =
		"UPDATE commands SET done=1 WHERE done=0 AND verb='pause' AND job_id=?";
	bool outer, pending = false;
	enum job_state state = JOB_QUEUED;
	enum st r = tx_begin(s, &outer, e);
	if (r)
		return r;
	r = job_state_of(s, id, &state, e);
	if (!r && state == JOB_RUNNING)
		r = pause_pending(s, id, &pending, e);
	if (!r && state == JOB_PAUSED) {
		r = exec_ints(s, resume, &id, 1, "resume job", e);
		if (!r)
			store_event(s, EV_INFO, id, "resumed by admin");
	} else if (!r && pending) {
		r = exec_ints(s, withdraw, &id, 1, "resume job", e);
		if (!r)
			store_event(s, EV_INFO, id, "pause withdrawn by admin before it took effect");
	} else if (!r) {
		r = err_set(e, ST_CONFIG, "job %lld cannot be resumed: it is %s, not paused",
		            (long long)id, job_state_label(state));
	}
	return tx_end(s, outer, r, e);
}

enum st store_endpoint_pause_jobs(struct store *s, int64_t endpoint_id, const char *by, int64_t *n,
                                  int64_t *already, struct err *e)
{
	static const char sql[] =
		"UPDATE jobs SET state='paused', paused_by=?1 WHERE state IN ('queued','ready','completing') "
		"AND pair_id IN (SELECT id FROM pairs WHERE src_ep=?2 OR dst_ep=?2)";
	static const char before[] =
		"SELECT count(*) FROM jobs WHERE state='paused' AND paused_by LIKE 'endpoint %' "
		"AND pair_id IN (SELECT id FROM pairs WHERE src_ep=?1 OR dst_ep=?1)";
	*n = *already = 0;
	bool outer, found;
	enum st r = tx_begin(s, &outer, e);
	if (!r)
		r = query_int(s, before, endpoint_id, already, &found, "read the jobs of an endpoint", e);
	sqlite3_stmt *st = r ? NULL : prep(s, sql, e);
	if (!r && !st)
		r = ST_STORE;
	if (!r) {
		bind_text(st, 1, by);
		sqlite3_bind_int64(st, 2, endpoint_id);
		r = step_done(s, st, e, "pause the jobs of an endpoint");
	}
	if (!r)
		*n = sqlite3_changes(s->db);
	return tx_end(s, outer, r, e);
}

enum st store_endpoint_resume_jobs(struct store *s, int64_t endpoint_id, int64_t *n, struct err *e)
{
	static const char sql[] =
		"UPDATE jobs SET state=CASE phase WHEN 'incremental' THEN 'ready' WHEN 'final' THEN "
		"'completing' ELSE 'queued' END, paused_by=NULL WHERE state='paused' "
		"AND paused_by LIKE 'endpoint %' "
		"AND pair_id IN (SELECT id FROM pairs WHERE src_ep=?1 OR dst_ep=?1)";
	*n = 0;
	enum st r = exec_ints(s, sql, &endpoint_id, 1, "resume the jobs of an endpoint", e);
	if (!r)
		*n = sqlite3_changes(s->db);
	return r;
}

enum st store_blackout_signature(struct store *s, int64_t *sig, struct err *e)
{
	/* Any change of a window or of a forest's mode moves the sum (a
	 * change that keeps it exactly is not worth a full read). */
	static const char sql[] =
		"SELECT (SELECT count(*) * 1000003 + coalesce(sum(id * 31 + coalesce(start_ts,0) * 7 + "
		"coalesce(end_ts,0) * 3 + weekly + coalesce(mailbox_id,0) * 11 + length(coalesce(mode,'')) * 13 + "
		"length(coalesce(site,'')) * 17 + length(coalesce(tz,'')) * 19 + length(coalesce(name,'')) * 23), 0) "
		"FROM blackouts) + (SELECT coalesce(sum(id * length(blackout_mode)), 0) FROM forests)";
	bool found;
	*sig = 0;
	return query_int(s, sql, 0, sig, &found, "read blackout times", e);
}

enum st store_job_finish_paused(struct store *s, const struct job *j, const char *by,
                                struct err *e)
{
	return store_job_hold(s, j, by, NULL, e);
}

enum st store_job_hold(struct store *s, const struct job *j, const char *by, const char *reason,
                       struct err *e)
{
	static const char sql[] = "UPDATE jobs SET paused_by=? WHERE id=?";
	bool outer;
	enum st r = tx_begin(s, &outer, e);
	if (r)
		return r;
	r = store_job_finish(s, j, JOB_PAUSED, reason, e);
	sqlite3_stmt *st = r ? NULL : prep(s, sql, e);
	if (!r && !st)
		r = ST_STORE;
	if (!r) {
		bind_text(st, 1, by);
		sqlite3_bind_int64(st, 2, j->id);
		r = step_done(s, st, e, "pause job");
	}
	return tx_end(s, outer, r, e);
}

enum st store_pass_each(struct store *s, int64_t job_id,
                        void (*fn)(void *ctx, int64_t id, const char *kind, int64_t started,
                                   int64_t finished, const char *result, int64_t copied,
                                   int64_t bytes, int64_t skipped, int64_t failed,
                                   int64_t reflagged),
                        void *ctx, struct err *e)
{
	static const char sql[] =
		"SELECT id, kind, started, coalesce(finished,0), result, coalesce(copied,0), "
		"coalesce(bytes,0), coalesce(skipped,0), coalesce(failed,0), coalesce(reflagged,0) "
		"FROM passes WHERE job_id=? ORDER BY id";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, job_id);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(ctx, sqlite3_column_int64(st, 0), col_str(st, 1), sqlite3_column_int64(st, 2),
		   sqlite3_column_int64(st, 3), col_str(st, 4), sqlite3_column_int64(st, 5),
		   sqlite3_column_int64(st, 6), sqlite3_column_int64(st, 7), sqlite3_column_int64(st, 8),
		   sqlite3_column_int64(st, 9));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? ST_OK : db_err(s, e, "list passes");
}

/* --- commands ------------------------------------------------------------------ */
enum st store_command_pending(struct store *s, const char *verb, struct command **out, size_t *n,
                              struct err *e)
{
	static const char sql[] =
		"SELECT id, ts, coalesce(job_id,0) FROM commands WHERE done=0 AND verb=? ORDER BY id";
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	bind_text(st, 1, verb);
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = x_grow(*out, *n, &cap, sizeof **out, 8);
		struct command *c = &(*out)[(*n)++];
		c->id = sqlite3_column_int64(st, 0);
		c->ts = sqlite3_column_int64(st, 1);
		c->job_id = sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return ST_OK;
	free(*out);
	*out = NULL;
	*n = 0;
	return db_err(s, e, "read commands");
}

enum st store_command_done(struct store *s, int64_t id, struct err *e)
{
	static const char sql[] = "UPDATE commands SET done=1 WHERE id=?";
	return exec_ints(s, sql, &id, 1, "close command", e);
}

/* Pause commands whose job is no longer running: the job either left its
 * worker as queued (stopped by a cancel, or its process died and it was
 * requeued) and is paused now, or it ended and there is nothing to pause. */
static const char *const settle_sql[] = {
	"INSERT INTO events(ts, level, job_id, message) SELECT ?1, 2, id, 'paused by admin' "
	"FROM jobs WHERE state IN ('queued','ready','completing') AND id IN (SELECT job_id FROM commands "
	"WHERE done=0 AND verb='pause')",
	"UPDATE jobs SET state='paused', paused_by='admin' WHERE state IN ('queued','ready','completing') AND id IN "
	"(SELECT job_id FROM commands WHERE done=0 AND verb='pause')",
	"UPDATE commands SET done=1 WHERE done=0 AND verb='pause' AND NOT EXISTS "
	"(SELECT 1 FROM jobs j WHERE j.id=commands.job_id AND j.state='running')",
};

enum st store_command_settle(struct store *s, struct err *e)
{
	static const char any[] = "SELECT count(*) FROM commands WHERE done=0";
	int64_t n = 0, now = clock_now();
	bool found, outer;
	/* The common case, nothing pending, stays a read. */
	enum st r = query_int(s, any, 0, &n, &found, "read commands", e);
	if (r || n == 0)
		return r;
	if ((r = tx_begin(s, &outer, e)))
		return r;
	for (size_t i = 0; !r && i < countof(settle_sql); i++)
		r = exec_ints(s, settle_sql[i], &now, 1, "settle commands", e);
	return tx_end(s, outer, r, e);
}

/* --- mailboxes --------------------------------------------------------------- */
static const char *const mailbox_kinds[] = { "user", "shared", "room", "equipment", NULL };

/* Binds a count where -1 (unknown) is SQL NULL. */
static void bind_count(sqlite3_stmt *st, int i, int64_t v)
{
	if (v >= 0)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

enum st store_mailbox_upsert(struct store *s, const struct mailbox_row *m, int64_t *id,
                             struct err *e)
{
	static const char sql[] =
		"INSERT INTO mailboxes(endpoint_id,login,address,display_name,site,database,kind,"
		"size_bytes,items,folders,upn,proxy_addresses) VALUES(?,?,?,?,?,?,?,?,?,?,?,?) "
		"ON CONFLICT(endpoint_id, login) DO UPDATE SET "
		"address=coalesce(excluded.address,address), "
		"upn=coalesce(excluded.upn,upn), "
		"proxy_addresses=coalesce(excluded.proxy_addresses,proxy_addresses), "
		"display_name=coalesce(excluded.display_name,display_name), "
		"site=coalesce(excluded.site,site), database=coalesce(excluded.database,database), "
		"kind=coalesce(excluded.kind,kind), size_bytes=coalesce(excluded.size_bytes,size_bytes), "
		"items=coalesce(excluded.items,items), folders=coalesce(excluded.folders,folders) "
		"RETURNING id";
	if (!m->login || !*m->login)
		return err_set(e, ST_CONFIG, "a mailbox needs a login");
	if (m->kind && !one_of(m->kind, mailbox_kinds))
		return err_set(e, ST_CONFIG, "mailbox %s: kind '%s' is not user, shared, room or equipment",
		               m->login, m->kind);
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, m->endpoint_id);
	bind_text(st, 2, m->login);
	bind_text(st, 3, m->address);
	bind_text(st, 4, m->display_name);
	bind_text(st, 5, m->site);
	bind_text(st, 6, m->database);
	bind_text(st, 7, m->kind);
	bind_count(st, 8, m->size_bytes);
	bind_count(st, 9, m->items);
	bind_count(st, 10, m->folders);
	bind_text(st, 11, m->upn);
	bind_text(st, 12, m->proxy_addresses);
	int rc = sqlite3_step(st);
	int64_t got = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	if (rc == SQLITE_ROW)
		rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT)
		return err_set(e, ST_CONFIG, "mailbox %s: endpoint %lld does not exist", m->login,
		               (long long)m->endpoint_id);
	if (rc != SQLITE_DONE)
		return db_err(s, e, "write mailbox");
	if (id)
		*id = got;
	return ST_OK;
}

enum st store_mailbox_counts(struct store *s, void (*fn)(void *ctx, int64_t endpoint_id, int64_t mailboxes),
                             void *ctx, struct err *e)
{
	/* Walks the UNIQUE(endpoint_id, login) index only. */
	static const char sql[] = "SELECT endpoint_id, count(*) FROM mailboxes GROUP BY endpoint_id";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? ST_OK : db_err(s, e, "count mailboxes");
}

enum st store_mailbox_summary(struct store *s, void (*fn)(void *ctx, const char *site, const char *status,
                              int64_t mailboxes, int64_t items, int64_t bytes),
                              void *ctx, struct err *e)
{
	static const char sql[] =
		"SELECT site, status, count(*), sum(max(coalesce(items,0),0)), sum(max(coalesce(size_bytes,0),0)) "
		"FROM mailboxes GROUP BY site, status ORDER BY site, status";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(ctx, col_str(st, 0), col_str(st, 1), sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
		   sqlite3_column_int64(st, 4));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? ST_OK : db_err(s, e, "summarise mailboxes");
}

#define MAILBOX_ROW_COLS \
	"SELECT m.id, m.endpoint_id, e.name, coalesce(e.forest_id,0), m.login, m.address," \
	" m.display_name, m.site, m.database, m.kind, coalesce(m.size_bytes,-1)," \
	" coalesce(m.items,-1), coalesce(m.folders,-1), m.status, coalesce(m.last_pass,0)," \
	" (SELECT count(*) FROM delegates d WHERE d.mailbox_id=m.id), m.rev, m.vanished, m.dir_key," \
	" m.upn, m.proxy_addresses, coalesce(m.match_id,0), m.match_state, m.match_key " \
	"FROM mailboxes m JOIN endpoints e ON e.id=m.endpoint_id "

static void mailbox_row_from(sqlite3_stmt *st, struct mailbox_row *r)
{
	r->id = sqlite3_column_int64(st, 0);
	r->endpoint_id = sqlite3_column_int64(st, 1);
	r->endpoint = col_str(st, 2);
	r->forest_id = sqlite3_column_int64(st, 3);
	r->login = col_str(st, 4);
	r->address = col_str(st, 5);
	r->display_name = col_str(st, 6);
	r->site = col_str(st, 7);
	r->database = col_str(st, 8);
	r->kind = col_str(st, 9);
	r->size_bytes = sqlite3_column_int64(st, 10);
	r->items = sqlite3_column_int64(st, 11);
	r->folders = sqlite3_column_int64(st, 12);
	r->status = col_str(st, 13);
	r->last_pass = sqlite3_column_int64(st, 14);
	r->delegates = sqlite3_column_int64(st, 15);
	r->rev = sqlite3_column_int64(st, 16);
	r->vanished = sqlite3_column_int(st, 17) != 0;
	r->dir_key = col_str(st, 18);
	r->upn = col_str(st, 19);
	r->proxy_addresses = col_str(st, 20);
	r->match_id = sqlite3_column_int64(st, 21);
	r->match_state = col_str(st, 22);
	r->match_key = col_str(st, 23);
}

enum st store_mailbox_rows(struct store *s, int64_t forest_id, int64_t since_rev,
                           void (*fn)(void *ctx, const struct mailbox_row *r), void *ctx,
                           int64_t *max_rev, struct err *e)
{
	static const char sql[] = MAILBOX_ROW_COLS
		"WHERE (?1=0 OR e.forest_id=?1) AND m.rev>?2 ORDER BY e.name, m.login";
	int64_t rev = 0;
	enum st r = store_rev(s, &rev, e);
	if (r)
		return r;
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, forest_id);
	sqlite3_bind_int64(st, 2, since_rev);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct mailbox_row row;
		mailbox_row_from(st, &row);
		fn(ctx, &row);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_err(s, e, "list mailboxes");
	if (max_rev)
		*max_rev = rev;
	return ST_OK;
}

enum st store_mailbox_total(struct store *s, int64_t *n, struct err *e)
{
	static const char sql[] = "SELECT count(*) FROM mailboxes";
	bool found;
	*n = 0;
	return query_int(s, sql, 0, n, &found, "count mailboxes", e);
}

enum st store_mailbox_id(struct store *s, int64_t endpoint_id, const char *login, int64_t *id,
                         struct err *e)
{
	static const char sql[] = "SELECT id FROM mailboxes WHERE endpoint_id=? AND login=?";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, endpoint_id);
	bind_text(st, 2, login);
	int rc = sqlite3_step(st);
	*id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return ST_OK;
	return rc == SQLITE_DONE ? err_set(e, ST_CONFIG, "no mailbox '%s' on endpoint %lld", login,
	                                   (long long)endpoint_id)
	                         : db_err(s, e, "read mailbox");
}

enum st store_mailbox_contact(struct store *s, int64_t endpoint_id, const char *login, char **address,
                              char **display_name, struct err *e)
{
	static const char sql[] = "SELECT address, display_name FROM mailboxes WHERE endpoint_id=? AND login=?";
	*address = *display_name = NULL;
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, endpoint_id);
	bind_text(st, 2, login);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*address = col_text(st, 0);
		*display_name = col_text(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? ST_OK : db_err(s, e, "read mailbox");
}

/* --- directory discovery ---------------------------------------------------- */

/* A text field the directory gave (non-NULL) that differs from the stored one. */
static bool field_differs(sqlite3_stmt *st, int col, const char *v)
{
	const char *old = col_str(st, col);
	return v && (!old || strcmp(old, v));
}

/* What discovery would change in the stored row of (endpoint, login):
 * *found false when there is none. */
static enum st discovered_diff(struct store *s, const struct mailbox_row *m, bool *found,
                               bool *differs, struct err *e)
{
	static const char sql[] =
		"SELECT address, display_name, site, database, kind, dir_key, vanished, upn, "
		"proxy_addresses FROM mailboxes WHERE endpoint_id=? AND login=?";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, m->endpoint_id);
	bind_text(st, 2, m->login);
	int rc = sqlite3_step(st);
	*found = rc == SQLITE_ROW;
	*differs = false;
	if (*found)
		*differs = field_differs(st, 0, m->address) || field_differs(st, 1, m->display_name) ||
		           field_differs(st, 2, m->site) || field_differs(st, 3, m->database) ||
		           field_differs(st, 4, m->kind) || field_differs(st, 5, m->dir_key) ||
		           sqlite3_column_int(st, 6) != 0 || field_differs(st, 7, m->upn) ||
		           field_differs(st, 8, m->proxy_addresses);
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? ST_OK : db_err(s, e, "read mailbox");
}

/* The row of the endpoint with m's key under another login (0: none);
 * *old gets its login (owned). */
static enum st row_by_key(struct store *s, const struct mailbox_row *m, int64_t *id, char **old,
                          struct err *e)
{
	static const char sql[] =
		"SELECT id, login FROM mailboxes WHERE endpoint_id=? AND dir_key=? AND login<>? LIMIT 1";
	*id = 0;
	*old = NULL;
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, m->endpoint_id);
	bind_text(st, 2, m->dir_key);
	bind_text(st, 3, m->login);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		*old = col_text(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? ST_OK : db_err(s, e, "read mailbox by key");
}

/* Renames row id from old to m->login with the pairs that name it, all or
 * nothing; *done false (and nothing changed) when a pair is in the way. */
static enum st rename_row(struct store *s, const struct mailbox_row *m, int64_t id, const char *old,
                          bool *done, struct err *e)
{
	static const char *const sql[] = {
		"UPDATE mailboxes SET login=?1 WHERE id=?2",
		"UPDATE pairs SET src_user=?1 WHERE src_ep=?3 AND src_user=?4",
		"UPDATE pairs SET dst_user=?1 WHERE dst_ep=?3 AND dst_user=?4",
	};
	bool outer;
	*done = false;
	enum st r = tx_begin(s, &outer, e);
	if (r)
		return r;
	bool clash = false;
	for (size_t i = 0; i < countof(sql) && !r && !clash; i++) {
		sqlite3_stmt *st = prep(s, sql[i], e);
		if (!st) {
			r = ST_STORE;
			break;
		}
		bind_text(st, 1, m->login);
		sqlite3_bind_int64(st, 2, id);
		sqlite3_bind_int64(st, 3, m->endpoint_id);
		bind_text(st, 4, old);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		clash = rc == SQLITE_CONSTRAINT;
		if (rc != SQLITE_DONE && !clash)
			r = db_err(s, e, "rename mailbox");
	}
	if (clash)
		return tx_end(s, outer, ST_CONFIG, NULL) == ST_CONFIG ? ST_OK : ST_STORE;
	r = tx_end(s, outer, r, e);
	*done = !r;
	return r;
}

enum st store_mailbox_discovered(struct store *s, const struct mailbox_row *m, int64_t *id,
                                 enum discovered *outcome, char **old_login, struct err *e)
{
	static const char sql[] = "UPDATE mailboxes SET dir_key=?, vanished=0 WHERE id=?";
	bool found, differs, renamed = false;
	char *old = NULL;
	if (old_login)
		*old_login = NULL;
	enum st r = discovered_diff(s, m, &found, &differs, e);
	if (!r && !found && m->dir_key) {
		int64_t kid;
		r = row_by_key(s, m, &kid, &old, e);
		if (!r && kid)
			r = rename_row(s, m, kid, old, &renamed, e);
		if (!r && renamed)
			r = discovered_diff(s, m, &found, &differs, e);
	}
	if (!r && (found ? differs : true))
		r = store_mailbox_upsert(s, m, id, e);
	else if (!r)
		r = store_mailbox_id(s, m->endpoint_id, m->login, id, e);
	if (r) {
		free(old);
		return r;
	}
	*outcome = renamed ? DISC_RENAMED : !found ? DISC_ADDED : differs ? DISC_CHANGED : DISC_SAME;
	if (renamed && old_login)
		*old_login = old;
	else
		free(old);
	if (*outcome == DISC_SAME)
		return ST_OK;
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	bind_text(st, 1, m->dir_key);
	sqlite3_bind_int64(st, 2, *id);
	return step_done(s, st, e, "write mailbox directory key");
}

enum st store_mailbox_dir_keys(struct store *s, int64_t endpoint_id,
                               void (*fn)(void *ctx, int64_t id, const char *dir_key, bool vanished),
                               void *ctx, struct err *e)
{
	static const char sql[] =
		"SELECT id, dir_key, vanished FROM mailboxes WHERE endpoint_id=? AND dir_key IS NOT NULL";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, endpoint_id);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(ctx, sqlite3_column_int64(st, 0), col_str(st, 1), sqlite3_column_int(st, 2) != 0);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? ST_OK : db_err(s, e, "read directory keys");
}

enum st store_mailbox_set_vanished(struct store *s, int64_t id, struct err *e)
{
	static const char sql[] = "UPDATE mailboxes SET vanished=1 WHERE id=? AND vanished=0";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, id);
	return step_done(s, st, e, "mark mailbox vanished");
}

enum st store_delegate_clear(struct store *s, int64_t mailbox_id, const char *origin, struct err *e)
{
	static const char sql[] = "DELETE FROM delegates WHERE mailbox_id=? AND origin=?";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, mailbox_id);
	bind_text(st, 2, origin);
	return step_done(s, st, e, "clear delegates");
}

/* --- identity matching ------------------------------------------------------ */

enum st store_match_set(struct store *s, int64_t src_id, int64_t dst_id, const char *state,
                        const char *key, struct err *e)
{
	/* Rows whose result did not change keep their revision. */
	static const char sql[] =
		"UPDATE mailboxes SET match_id=?2, match_state=?3, match_key=?4 WHERE id=?1 AND "
		"(match_id IS NOT ?2 OR match_state IS NOT ?3 OR match_key IS NOT ?4)";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, src_id);
	bind_id(st, 2, dst_id);
	bind_text(st, 3, state);
	bind_text(st, 4, key);
	return step_done(s, st, e, "write match");
}

enum st store_matched_each(struct store *s, int64_t src_ep,
                           void (*fn)(void *ctx, const char *src_login, const char *match_state,
                                      int64_t dst_ep, const char *dst_login),
                           void *ctx, struct err *e)
{
	static const char sql[] =
		"SELECT m.login, m.match_state, coalesce(t.endpoint_id,0), t.login FROM mailboxes m "
		"LEFT JOIN mailboxes t ON t.id=m.match_id AND m.match_state='matched' "
		"WHERE m.endpoint_id=? AND m.vanished=0 ORDER BY m.login";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, src_ep);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(ctx, col_str(st, 0), col_str(st, 1), sqlite3_column_int64(st, 2), col_str(st, 3));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? ST_OK : db_err(s, e, "read matches");
}

/* --- delegation ------------------------------------------------------------- */
enum st store_delegate_add(struct store *s, int64_t mailbox_id, int64_t delegate_id,
                           const char *rights, const char *origin, struct err *e)
{
	static const char sql[] =
		"INSERT INTO delegates(mailbox_id,delegate_id,rights,origin) VALUES(?,?,?,?) "
		"ON CONFLICT(mailbox_id,delegate_id) DO UPDATE SET rights=excluded.rights, "
		"origin=excluded.origin";
	if (mailbox_id == delegate_id)
		return err_set(e, ST_CONFIG, "mailbox %lld cannot be its own delegate", (long long)mailbox_id);
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, delegate_id);
	bind_text(st, 3, rights);
	bind_text(st, 4, origin);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT)
		return err_set(e, ST_CONFIG, "delegation %lld -> %lld: no such mailbox",
		               (long long)mailbox_id, (long long)delegate_id);
	return rc == SQLITE_DONE ? ST_OK : db_err(s, e, "add delegate");
}

enum st store_delegate_each(struct store *s, int64_t forest_id,
                            void (*fn)(void *ctx, int64_t mailbox_id, const char *login,
                                       const char *display, int64_t delegate_id,
                                       const char *delegate_login, const char *delegate_display,
                                       const char *rights),
                            void *ctx, struct err *e)
{
	static const char sql[] =
		"SELECT m.id, m.login, m.display_name, g.id, g.login, g.display_name, d.rights "
		"FROM delegates d JOIN mailboxes m ON m.id=d.mailbox_id "
		"JOIN mailboxes g ON g.id=d.delegate_id JOIN endpoints e ON e.id=m.endpoint_id "
		"WHERE ?1=0 OR e.forest_id=?1 ORDER BY m.login, g.login";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, forest_id);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(ctx, sqlite3_column_int64(st, 0), col_str(st, 1), col_str(st, 2),
		   sqlite3_column_int64(st, 3), col_str(st, 4), col_str(st, 5), col_str(st, 6));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? ST_OK : db_err(s, e, "list delegates");
}

enum st store_delegate_set(struct store *s, int64_t mailbox_id, int64_t **ids, size_t *n,
                           struct err *e)
{
	/* UNION (not UNION ALL) drops ids already reached, so cycles end. */
	static const char sql[] =
		"WITH RECURSIVE linked(id) AS (SELECT ?1 UNION "
		"  SELECT d.delegate_id FROM delegates d JOIN linked l ON d.mailbox_id=l.id UNION "
		"  SELECT d.mailbox_id FROM delegates d JOIN linked l ON d.delegate_id=l.id) "
		"SELECT id FROM linked ORDER BY id";
	*ids = NULL;
	*n = 0;
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, mailbox_id);
	return collect_i64(s, st, ids, n, "delegation set", e);
}

/* --- blackouts ----------------------------------------------------------------- */
void blackout_free(struct blackout *b)
{
	free(b->name);
	free(b->site);
	free(b->login);
	free(b->tz);
	free(b->mode);
	memset(b, 0, sizeof *b);
}

/* An IANA zone name that exists in the system's database; no absolute
 * paths or "..", so the name cannot point outside it. */
static bool tz_exists(const char *tz)
{
	if (!*tz || tz[0] == '/' || strstr(tz, ".."))
		return false;
	const char *dir = getenv("TZDIR");
	char *path = x_asprintf("%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", tz);
	struct stat sb;
	bool ok = stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
	free(path);
	return ok;
}

static enum st blackout_check(const struct blackout *b, struct err *e)
{
	if (!b->name || !*b->name)
		return err_set(e, ST_CONFIG, "blackout: the name is empty");
	if (b->end_ts <= b->start_ts)
		return err_set(e, ST_CONFIG, "blackout %s: the end must be after the start", b->name);
	if (b->tz && !tz_exists(b->tz))
		return err_set(e, ST_CONFIG, "blackout %s: time zone '%s' is unknown (an IANA name such "
		               "as Europe/Paris)", b->name, b->tz);
	if (b->mode && !one_of(b->mode, blackout_modes))
		return err_set(e, ST_CONFIG, "blackout %s: mode '%s' is not entire, initial or final",
		               b->name, b->mode);
	if (b->weekly && b->end_ts - b->start_ts > 7 * 86400)
		return err_set(e, ST_CONFIG, "blackout %s: a weekly window cannot last more than a week",
		               b->name);
	return ST_OK;
}

static void blackout_bind(sqlite3_stmt *st, const struct blackout *b)
{
	bind_text(st, 1, b->name);
	bind_text(st, 2, b->site);
	bind_id(st, 3, b->mailbox_id);
	bind_text(st, 4, b->tz);
	sqlite3_bind_int64(st, 5, b->start_ts);
	sqlite3_bind_int64(st, 6, b->end_ts);
	sqlite3_bind_int(st, 7, b->weekly);
	bind_text(st, 8, b->mode);
}

/* The mailbox a blackout names must exist (blackouts have no foreign key:
 * v1 created the table without one). */
static enum st blackout_mailbox_check(struct store *s, const struct blackout *b, struct err *e)
{
	static const char sql[] = "SELECT id FROM mailboxes WHERE id=?";
	int64_t id;
	bool found;
	if (!b->mailbox_id)
		return ST_OK;
	enum st r = query_int(s, sql, b->mailbox_id, &id, &found, "read mailbox", e);
	if (!r && !found)
		r = err_set(e, ST_CONFIG, "blackout %s: mailbox %lld does not exist", b->name,
		            (long long)b->mailbox_id);
	return r;
}

/* Whether windows a and b (each once or weekly, in its own zone) are ever
 * in force at the same time; *at gets the first such moment found.  An
 * occurrence of b overlaps one of a, [ws, we), when b's occurrence holding
 * ws, or the next one, starts before we.  A year of a's occurrences covers
 * both daylight-saving changes. */
static bool windows_overlap(const struct blackout *a, const struct blackout *b, int64_t *at)
{
	if (!a->weekly && b->weekly) {
		const struct blackout *t = a;
		a = b;
		b = t;
	}
	char why[160];
	struct tzone *za = tz_open(a->tz, why, sizeof why), *zb = tz_open(b->tz, why, sizeof why);
	bool hit = false;
	int64_t t = a->weekly && b->start_ts > a->start_ts ? b->start_ts - 7 * 86400 : a->start_ts;
	for (int k = 0; za && zb && !hit && k < (a->weekly ? 54 : 1); k++) {
		int64_t ws, we, bs, be;
		if (!tz_window(za, a->start_ts, a->end_ts, a->weekly, t, &ws, &we))
			break;
		if (tz_window(zb, b->start_ts, b->end_ts, b->weekly, ws, &bs, &be) && bs < we) {
			hit = true;
			*at = bs > ws ? bs : ws;
		}
		t = we;
	}
	tz_close(za);
	tz_close(zb);
	return hit;
}

struct overlap_ctx {
	const struct blackout *b;
	char other[160];
	int64_t at;
	bool found;
};

static void find_overlap(void *ctx, const struct blackout *o)
{
	struct overlap_ctx *c = ctx;
	const struct blackout *b = c->b;
	bool same_scope = o->mailbox_id == b->mailbox_id && !strcmp(o->site ? o->site : "", b->site ? b->site : "");
	if (c->found || o->id == b->id || !same_scope || !windows_overlap(b, o, &c->at))
		return;
	c->found = true;
	snprintf(c->other, sizeof c->other, "%s", o->name ? o->name : "?");
}

/* Two windows for the same mailbox, site or everyone that are in force at
 * once say the same thing twice, or one was mistyped: refused, naming the
 * other window and when they meet. */
static enum st blackout_overlap_check(struct store *s, const struct blackout *b, struct err *e)
{
	struct overlap_ctx c = { .b = b };
	enum st r = store_blackout_each(s, find_overlap, &c, e);
	if (r || !c.found)
		return r;
	char when[32], abbr[16];
	char why[160];
	struct tzone *z = tz_open(b->tz, why, sizeof why);
	if (z)
		tz_format(z, c.at, when, sizeof when, abbr, sizeof abbr);
	tz_close(z);
	return err_set(e, ST_CONFIG, "blackout %s overlaps blackout %s (same %s), first on %s %s: change the times "
	               "or make them one window", b->name, c.other, b->mailbox_id ? "mailbox" : b->site && *b->site ?
	               "site" : "scope, everyone", z ? when : "?", z ? abbr : "");
}

enum st store_blackout_add(struct store *s, struct blackout *b, struct err *e)
{
	static const char sql[] =
		"INSERT INTO blackouts(name,site,mailbox_id,tz,start_ts,end_ts,weekly,mode) "
		"VALUES(?,?,?,?,?,?,?,?)";
	enum st r = blackout_check(b, e);
	if (!r)
		r = blackout_mailbox_check(s, b, e);
	if (!r)
		r = blackout_overlap_check(s, b, e);
	if (r)
		return r;
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	blackout_bind(st, b);
	r = step_done(s, st, e, "add blackout");
	if (!r)
		b->id = sqlite3_last_insert_rowid(s->db);
	return r;
}

enum st store_blackout_update(struct store *s, const struct blackout *b, struct err *e)
{
	static const char sql[] =
		"UPDATE blackouts SET name=?,site=?,mailbox_id=?,tz=?,start_ts=?,end_ts=?,weekly=?,mode=? "
		"WHERE id=?";
	enum st r = blackout_check(b, e);
	if (!r)
		r = blackout_mailbox_check(s, b, e);
	if (!r)
		r = blackout_overlap_check(s, b, e);
	if (r)
		return r;
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	blackout_bind(st, b);
	sqlite3_bind_int64(st, 9, b->id);
	r = step_done(s, st, e, "update blackout");
	if (!r && sqlite3_changes(s->db) == 0)
		return err_set(e, ST_CONFIG, "no blackout %lld", (long long)b->id);
	return r;
}

enum st store_blackout_remove(struct store *s, int64_t id, struct err *e)
{
	static const char sql[] = "DELETE FROM blackouts WHERE id=?";
	enum st r = exec_ints(s, sql, &id, 1, "remove blackout", e);
	if (!r && sqlite3_changes(s->db) == 0)
		return err_set(e, ST_CONFIG, "no blackout %lld (see 'mailferry blackout list')", (long long)id);
	return r;
}

#define BLACKOUT_COLS \
	"SELECT b.id, b.name, b.site, coalesce(b.mailbox_id,0), m.login, b.tz, b.start_ts, b.end_ts," \
	" b.weekly, b.mode FROM blackouts b LEFT JOIN mailboxes m ON m.id=b.mailbox_id "

static void blackout_from_row(sqlite3_stmt *st, struct blackout *b)
{
	b->id = sqlite3_column_int64(st, 0);
	b->name = col_text(st, 1);
	b->site = col_text(st, 2);
	b->mailbox_id = sqlite3_column_int64(st, 3);
	b->login = col_text(st, 4);
	b->tz = col_text(st, 5);
	b->start_ts = sqlite3_column_int64(st, 6);
	b->end_ts = sqlite3_column_int64(st, 7);
	b->weekly = sqlite3_column_int(st, 8) != 0;
	b->mode = col_text(st, 9);
}

enum st store_blackout_get(struct store *s, int64_t id, struct blackout *out, struct err *e)
{
	static const char sql[] = BLACKOUT_COLS "WHERE b.id=?";
	memset(out, 0, sizeof *out);
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		blackout_from_row(st, out);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return ST_OK;
	return rc == SQLITE_DONE ? err_set(e, ST_CONFIG, "no blackout %lld", (long long)id)
	                         : db_err(s, e, "read blackout");
}

enum st store_blackout_each(struct store *s, void (*fn)(void *ctx, const struct blackout *b),
                            void *ctx, struct err *e)
{
	static const char sql[] = BLACKOUT_COLS "ORDER BY b.start_ts, b.id";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct blackout b;
		blackout_from_row(st, &b);
		fn(ctx, &b);
		blackout_free(&b);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? ST_OK : db_err(s, e, "list blackouts");
}

/* --- health checks (read only) ---------------------------------------------- */

enum st store_largest_item(struct store *s, int64_t dst_ep, int64_t *size, struct err *e)
{
	static const char sql[] =
		"SELECT max(sz) FROM ("
		" SELECT max(m.size) AS sz FROM messages m JOIN folders f ON f.id=m.folder_id"
		"  JOIN pairs p ON p.id=f.pair_id WHERE p.dst_ep=?1"
		" UNION ALL SELECT max(k.size) FROM skipped k JOIN jobs j ON j.id=k.job_id"
		"  JOIN pairs p ON p.id=j.pair_id WHERE p.dst_ep=?1)";
	bool found;
	*size = 0;
	return query_int(s, sql, dst_ep, size, &found, "find the largest item", e);
}

/* --- measure (read only) ------------------------------------------------------
 * Added for mailbox measure (src/measure.c); schema unchanged. */

enum st store_delegate_origin(struct store *s, int64_t mailbox_id, int64_t delegate_id,
                              char **origin, struct err *e)
{
	static const char sql[] =
		"SELECT coalesce(origin,'') FROM delegates WHERE mailbox_id=? AND delegate_id=?";
	*origin = NULL;
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, delegate_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*origin = col_text(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? ST_OK : db_err(s, e, "read a delegation");
}

/* --- forest alerts ------------------------------------------------------------ */

enum st store_alerts_clear(struct store *s, int64_t forest_id, struct err *e)
{
	static const char sql[] = "DELETE FROM alerts WHERE forest_id=?";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, forest_id);
	return step_done(s, st, e, "clear alerts");
}

enum st store_alert_add(struct store *s, int64_t forest_id, const char *endpoint, const char *check, int level,
                        const char *detail, const char *fix, struct err *e)
{
	static const char sql[] =
		"INSERT INTO alerts(forest_id,endpoint,check_name,level,detail,fix,ts) VALUES(?,?,?,?,?,?,?)";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, forest_id);
	bind_text(st, 2, endpoint);
	bind_text(st, 3, check);
	sqlite3_bind_int(st, 4, level);
	bind_text(st, 5, detail);
	bind_text(st, 6, fix);
	sqlite3_bind_int64(st, 7, clock_now());
	return step_done(s, st, e, "record alert");
}

enum st store_alert_each(struct store *s, int64_t forest_id,
                         void (*fn)(void *ctx, int64_t forest_id, const char *endpoint, const char *check,
                                    int level, const char *detail, const char *fix, int64_t ts),
                         void *ctx, struct err *e)
{
	static const char sql[] =
		"SELECT forest_id, endpoint, check_name, level, detail, fix, ts FROM alerts "
		"WHERE ?1=0 OR forest_id=?1 ORDER BY forest_id, id";
	sqlite3_stmt *st = prep(s, sql, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 1, forest_id);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(ctx, sqlite3_column_int64(st, 0), col_str(st, 1), col_str(st, 2), sqlite3_column_int(st, 3),
		   col_str(st, 4), col_str(st, 5), sqlite3_column_int64(st, 6));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? ST_OK : db_err(s, e, "list alerts");
}

/* --- notices sent once -------------------------------------------------------- */

/* prep, with a notice's key bound to parameters 1 to 3 (no day: ""). */
static sqlite3_stmt *notice_prep(struct store *s, const char *sql, const char *kind, int64_t job_id,
                                 const char *day, struct err *e)
{
	sqlite3_stmt *st = prep(s, sql, e);
	if (st) {
		bind_text(st, 1, kind);
		sqlite3_bind_int64(st, 2, job_id);
		bind_text(st, 3, day ? day : "");
	}
	return st;
}

enum st store_notice_claim(struct store *s, const char *kind, int64_t job_id, const char *day, bool *claimed,
                           struct err *e)
{
	static const char sql[] = "INSERT OR IGNORE INTO notices(kind,job_id,day,sent_ts) VALUES(?,?,?,?)";
	*claimed = false;
	sqlite3_stmt *st = notice_prep(s, sql, kind, job_id, day, e);
	if (!st)
		return ST_STORE;
	sqlite3_bind_int64(st, 4, clock_now());
	enum st r = step_done(s, st, e, "record a notice");
	if (!r)
		*claimed = sqlite3_changes(s->db) == 1;
	return r;
}

enum st store_notice_release(struct store *s, const char *kind, int64_t job_id, const char *day, struct err *e)
{
	static const char sql[] = "DELETE FROM notices WHERE kind=? AND job_id=? AND day=?";
	sqlite3_stmt *st = notice_prep(s, sql, kind, job_id, day, e);
	if (!st)
		return ST_STORE;
	return step_done(s, st, e, "forget a notice");
}

enum st store_notice_sent(struct store *s, const char *kind, int64_t job_id, const char *day, int64_t *sent_ts,
                          struct err *e)
{
	static const char sql[] = "SELECT sent_ts FROM notices WHERE kind=? AND job_id=? AND day=?";
	*sent_ts = 0;
	sqlite3_stmt *st = notice_prep(s, sql, kind, job_id, day, e);
	if (!st)
		return ST_STORE;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*sent_ts = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? ST_OK : db_err(s, e, "read a notice");
}

/* --- sites (read only) ------------------------------------------------------------ */

enum st store_site_each(struct store *s, int64_t forest_id, void (*fn)(void *ctx, const struct site_row *r),
                        void *ctx, struct err *e)
{
	static const char sql[] =
		"SELECT coalesce(m.site,''), count(*), sum(max(coalesce(m.size_bytes,0),0)),"
		" sum(m.kind IS NULL OR m.kind='user'), sum(m.kind='shared'), sum(m.kind='room'),"
		" sum(m.kind='equipment')"
		" FROM mailboxes m JOIN endpoints e ON e.id=m.endpoint_id"
		" WHERE e.forest_id=? AND m.vanished=0 GROUP BY 1 ORDER BY 1";
	sqlite3_stmt *st = prep_ints(s, sql, &forest_id, 1, e);
	if (!st)
		return ST_STORE;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct site_row r = { col_str(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
		                      sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4),
		                      sqlite3_column_int64(st, 5), sqlite3_column_int64(st, 6) };
		fn(ctx, &r);
	}
	return rows_end(s, st, rc, "list the sites", e);
}
