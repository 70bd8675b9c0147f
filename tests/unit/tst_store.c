/* tst_store.c - the store: schema creation, endpoints, job claim, maps,
 * journal, and that a newer schema is refused. */
#include "store.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"

/* The structs take owned (non-const) strings; these tests lend literals. */
#define S(lit) ((char *)(lit))

int main(void)
{
	char dir[] = "/tmp/tst_store.XXXXXX";
	if (!mkdtemp(dir))
		return 99;
	char *path = x_asprintf("%s/sub/mf.db", dir);
	struct store *s = NULL;
	struct err e;
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
	folder_row_free(&f);
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
	char *cmd = x_asprintf("rm -rf %s", dir);
	if (system(cmd) != 0)
		check(0, "cleanup");
	free(cmd);
	free(junk);
	free(path);
	return tap_done();
}
