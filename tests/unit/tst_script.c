/* tst_script.c - src/script.c with real /bin/sh scripts on a real store: the
 * job's facts and nothing else in the environment, exit codes and signals
 * reported with the last output line, the time limit on the whole process
 * group, a cancel, the 64 KiB output bound, and scripts that cannot run. */
#include "script.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"

#define S(lit) ((char *)(lit))

static char dir[] = "/tmp/tst_script.XXXXXX";

static char *script(const char *name, const char *body)
{
	char *path = x_asprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	fprintf(f, "#!/bin/sh\n%s", body);
	fclose(f);
	chmod(path, 0755);
	return path;
}

/* Sets a configured script path, freeing the one before (cfg_free frees
 * the last). */
static void put(char **slot, char *path)
{
	free(*slot);
	*slot = path;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	struct sbuf b;
	sb_init(&b);
	char buf[4096];
	size_t n;
	while (f && (n = fread(buf, 1, sizeof buf, f)) > 0)
		sb_add(&b, buf, n);
	if (f)
		fclose(f);
	sb_adds(&b, "");
	return b.data;
}

struct events {
	struct sbuf all;
	int n;
};

static void take_event(void *ctx, int64_t ts, int level, int64_t job, const char *msg)
{
	(void)ts, (void)level, (void)job;
	struct events *ev = ctx;
	sb_printf(&ev->all, "%s\n", msg);
	ev->n++;
}

/* The job's events, newest first, as one text (caller frees). */
static char *events_of(struct store *st, int64_t job, int *n)
{
	struct events ev = { .n = 0 };
	struct err e;
	sb_init(&ev.all);
	store_event_each(st, job, 5000, take_event, &ev, &e);
	sb_adds(&ev.all, "");
	*n = ev.n;
	return ev.all.data;
}

static bool process_gone(pid_t pid)
{
	for (int i = 0; i < 50; i++) {
		if (kill(pid, 0) < 0)
			return true;
		usleep(100000);
	}
	return false;
}

int main(void)
{
	if (!mkdtemp(dir))
		return 99;
	char *path = x_asprintf("%s/mf.db", dir);
	struct store *st = NULL;
	struct err e;
	check(store_open(path, &st, &e) == 0, "store");
	struct endpoint ep = { .name = S("src"), .url = S("imap://127.0.0.1:1"), .admin_user = S("admin"),
	                       .secret_ref = S("env:TST_SCRIPT_PASSWORD") };
	store_endpoint_add(st, &ep, &e);
	ep.name = S("dst");
	ep.secret_ref = S("file:/etc/tst-script-secret");
	store_endpoint_add(st, &ep, &e);
	struct job j = { .src_ep = 1, .dst_ep = 2, .src_user = S("alice"), .dst_user = S("alice.new") };
	check(store_job_add(st, &j, &e) == 0, "a job");
	setenv("TST_SCRIPT_PASSWORD", "hunter2-not-for-scripts", 1);
	setenv("LC_TIME", "C", 1);

	struct cfg c;
	cfg_load(&c, NULL, false, &e);
	struct script_result r;
	check(script_run(st, &c, j.id, SCRIPT_ON_FAILURE, &r, &e) == ST_OK && !r.ran, "no script set: nothing runs");

	/* The environment: the job's facts, a few base variables, no secret. */
	char *envfile = x_asprintf("%s/env.out", dir);
	char *body = x_asprintf("env > %s\necho hello\necho to-stderr >&2\nprintf 'no newline'\n", envfile);
	put(&c.script_after_completion, script("env.sh", body));
	free(body);
	check(script_run(st, &c, j.id, SCRIPT_AFTER_COMPLETION, &r, &e) == ST_OK && r.ran && r.exit_code == 0 &&
	      r.lines == 3, "a script that exits 0: ST_OK, 3 lines of output (%s)", e.msg);
	char *env = slurp(envfile);
	check(strstr(env, "MAILFERRY_EVENT=after_completion\n") && strstr(env, "MAILFERRY_SOURCE_USER=alice\n") &&
	      strstr(env, "MAILFERRY_TARGET_USER=alice.new\n") && strstr(env, "MAILFERRY_SOURCE_ENDPOINT=src\n") &&
	      strstr(env, "MAILFERRY_TARGET_ENDPOINT=dst\n") && strstr(env, "MAILFERRY_STATE=queued\n") &&
	      strstr(env, "MAILFERRY_ITEMS=0\n") && strstr(env, "MAILFERRY_ERROR=\n") && strstr(env, "LC_TIME=C\n") &&
	      strstr(env, "PATH="), "the job's facts and the base variables");
	check(!strstr(env, "hunter2") && !strstr(env, "TST_SCRIPT_PASSWORD") && !strstr(env, "tst-script-secret"),
	      "no password, no password source");
	free(env);
	int n;
	char *evs = events_of(st, j.id, &n);
	check(strstr(evs, "script after_completion: hello\n") && strstr(evs, "script after_completion: to-stderr\n") &&
	      strstr(evs, "script after_completion: no newline\n") && strstr(evs, "succeeded"),
	      "stdout, stderr and an unterminated last line are events");
	free(evs);

	/* Exit status and signals, with the last line. */
	put(&c.script_on_failure, script("fail.sh", "echo first\necho 'the reason'\nexit 3\n"));
	check(script_run(st, &c, j.id, SCRIPT_ON_FAILURE, &r, &e) == ST_MAILBOX && r.exit_code == 3 &&
	      strstr(e.msg, "fail.sh (on_failure) exited with status 3: the reason"), "exit 3: %s", e.msg);
	put(&c.script_on_failure, script("kill.sh", "kill -9 $$\n"));
	check(script_run(st, &c, j.id, SCRIPT_ON_FAILURE, &r, &e) == ST_MAILBOX && r.signal == 9 &&
	      strstr(e.msg, "killed by signal 9"), "a signal: %s", e.msg);

	/* The time limit reaches what the script started. */
	char *pidfile = x_asprintf("%s/child.pid", dir);
	body = x_asprintf("sleep 300 &\necho $! > %s\nwait\n", pidfile);
	put(&c.script_before_first_pass, script("hang.sh", body));
	free(body);
	c.script_timeout_s = 1;
	int64_t t0 = clock_mono_ms();
	enum st s = script_run(st, &c, j.id, SCRIPT_BEFORE_FIRST_PASS, &r, &e);
	int64_t ms = clock_mono_ms() - t0;
	char *pid = slurp(pidfile);
	check(s == ST_TIMEOUT && r.timed_out && strstr(e.msg, "timed out after 1 s") && ms >= 1000 && ms < 4000,
	      "a hanging script is stopped after 1 s (%lld ms): %s", (long long)ms, e.msg);
	check(atoi(pid) > 0 && process_gone((pid_t)atoi(pid)), "its child too");
	free(pid);

	/* SIGTERM ignored: SIGKILL after the grace. */
	put(&c.script_before_first_pass, script("stubborn.sh", "trap '' TERM\nwhile :; do sleep 1; done\n"));
	t0 = clock_mono_ms();
	s = script_run(st, &c, j.id, SCRIPT_BEFORE_FIRST_PASS, &r, &e);
	ms = clock_mono_ms() - t0;
	check(s == ST_TIMEOUT && r.signal == SIGKILL && ms >= 5500 && ms < 9000,
	      "one that ignores SIGTERM gets SIGKILL 5 s later (%lld ms)", (long long)ms);

	/* A cancel stops it at once. */
	volatile int cancel = 1;
	c.script_timeout_s = 300;
	put(&c.script_before_first_pass, script("long.sh", "sleep 300\n"));
	t0 = clock_mono_ms();
	s = script_run_cancellable(st, &c, j.id, SCRIPT_BEFORE_FIRST_PASS, &cancel, &r, &e);
	ms = clock_mono_ms() - t0;
	check(s == ST_CANCELED && ms < 2000 && strstr(e.msg, "mailferry is stopping"), "a cancel stops it: %s", e.msg);

	/* Output is bounded. */
	put(&c.script_after_completion, script("chatty.sh", "i=0; while [ $i -lt 3000 ]; do "
	                                       "echo \"line $i: 0123456789012345678901234567890123456789\"; "
	                                       "i=$((i+1)); done\n"));
	struct job j2 = { .src_ep = 1, .dst_ep = 2, .src_user = S("bob"), .dst_user = S("bob") };
	store_job_add(st, &j2, &e);
	s = script_run(st, &c, j2.id, SCRIPT_AFTER_COMPLETION, &r, &e);
	check(s == ST_OK && r.lines > 1000 && r.lines < 1700,
	      "3000 lines of ~50 bytes: only the first 64 KiB kept (%d lines)", r.lines);
	evs = events_of(st, j2.id, &n);
	check(strstr(evs, "output beyond 64 KiB was not kept") != NULL, "and the events say so");
	free(evs);

	/* Scripts that cannot run. */
	put(&c.script_on_failure, x_strdup("relative/x.sh"));
	check(script_run(st, &c, j.id, SCRIPT_ON_FAILURE, &r, &e) == ST_CONFIG && !r.ran &&
	      strstr(e.msg, "script_on_failure") && strstr(e.msg, "absolute path"), "relative: %s", e.msg);
	char *plain = x_asprintf("%s/plain.txt", dir);
	fclose(fopen(plain, "w"));
	put(&c.script_on_failure, plain);
	check(script_run(st, &c, j.id, SCRIPT_ON_FAILURE, &r, &e) == ST_CONFIG && strstr(e.msg, "not executable"),
	      "not executable: %s", e.msg);
	char *missing = x_asprintf("%s/missing.sh", dir);
	put(&c.script_on_failure, missing);
	check(script_run(st, &c, j.id, SCRIPT_ON_FAILURE, &r, &e) == ST_CONFIG && strstr(e.msg, "No such file"),
	      "missing: %s", e.msg);

	store_close(&st);
	cfg_free(&c);
	free(path);
	free(envfile);
	free(pidfile);
	char *cmd = x_asprintf("rm -rf %s", dir);
	if (system(cmd) != 0)
		check(0, "cleanup");
	free(cmd);
	return tap_done();
}
