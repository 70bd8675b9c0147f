/* script.c - admin scripts at job events; see script.h. */
#include "config.h"

#include "script.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

extern char **environ;

/* Output kept in the events; the rest is read and dropped so that the
 * script never blocks on a full pipe. */
#define SCRIPT_OUTPUT_MAX (64 * 1024)
/* Between SIGTERM and SIGKILL when the time limit is reached. */
#define SCRIPT_KILL_GRACE_MS 5000
/* After the script exits, how long a child it left behind may keep the
 * output pipe open before we stop reading. */
#define SCRIPT_DRAIN_MS 1000
/* Longest line kept in one event. */
#define SCRIPT_LINE_MAX 1000

static const char *const event_names[SCRIPT__COUNT] = {
	[SCRIPT_BEFORE_FIRST_PASS] = "before_first_pass",
	[SCRIPT_AFTER_COMPLETION] = "after_completion",
	[SCRIPT_ON_FAILURE] = "on_failure",
	[SCRIPT_AT_CUTOVER] = "at_cutover",
};

const char *script_event_name(enum script_event ev)
{
	return (unsigned)ev < SCRIPT__COUNT ? event_names[ev] : "?";
}

const char *script_path(const struct cfg *c, enum script_event ev)
{
	const char *p = NULL;
	switch (ev) {
	case SCRIPT_BEFORE_FIRST_PASS: p = c->script_before_first_pass; break;
	case SCRIPT_AFTER_COMPLETION: p = c->script_after_completion; break;
	case SCRIPT_ON_FAILURE: p = c->script_on_failure; break;
	case SCRIPT_AT_CUTOVER: p = c->script_at_cutover; break;
	case SCRIPT__COUNT: break;
	}
	return p && p[0] ? p : NULL;
}

/* --- the environment ------------------------------------------------------------ */

struct env {
	char *v[64];
	int n;
};

static void env_put(struct env *en, const char *name, const char *value)
{
	if (en->n < (int)countof(en->v) - 1)
		en->v[en->n++] = x_asprintf("%s=%s", name, value ? value : "");
}

static void env_put_int(struct env *en, const char *name, int64_t value)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%lld", (long long)value);
	env_put(en, name, buf);
}

static void env_free(struct env *en)
{
	for (int i = 0; i < en->n; i++)
		free(en->v[i]);
	en->n = 0;
}

/* The few variables a program needs to behave normally (where to find
 * commands, whose home, which language and zone).  Anything else may hold
 * a secret (an endpoint's "env:VAR" password source), so it stays out. */
static bool base_variable(const char *entry)
{
	static const char *const names[] = { "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR" };
	size_t len = strcspn(entry, "=");
	if (!entry[len])
		return false;
	if (len > 3 && !strncmp(entry, "LC_", 3))
		return true;
	for (size_t i = 0; i < countof(names); i++)
		if (strlen(names[i]) == len && !strncmp(entry, names[i], len))
			return true;
	return false;
}

static void env_base(struct env *en)
{
	bool path = false;
	for (char **p = environ; p && *p && en->n < 24; p++)
		if (base_variable(*p)) {
			en->v[en->n++] = x_strdup(*p);
			path = path || !strncmp(*p, "PATH=", 5);
		}
	if (!path)
		env_put(en, "PATH", "/usr/bin:/bin");
}

struct facts {
	struct env *en;
	bool found;
};

static void put_row(void *ctx, const struct job_row *r)
{
	struct facts *f = ctx;
	struct env *en = f->en;
	f->found = true;
	env_put_int(en, "MAILFERRY_JOB_ID", r->id);
	env_put(en, "MAILFERRY_PASS", pass_kind_name(r->pass));
	env_put(en, "MAILFERRY_STATE", job_state_name(r->state));
	env_put(en, "MAILFERRY_SOURCE_ENDPOINT", r->src_endpoint);
	env_put(en, "MAILFERRY_SOURCE_USER", r->src_user);
	env_put(en, "MAILFERRY_TARGET_ENDPOINT", r->dst_endpoint);
	env_put(en, "MAILFERRY_TARGET_USER", r->dst_user);
	env_put_int(en, "MAILFERRY_ITEMS", r->items_done);
	env_put_int(en, "MAILFERRY_BYTES", r->bytes_done);
	env_put_int(en, "MAILFERRY_SKIPPED", r->items_skipped);
	env_put_int(en, "MAILFERRY_FAILED", r->items_failed);
	env_put(en, "MAILFERRY_ERROR", r->error);
	env_put_int(en, "MAILFERRY_START_AFTER", r->start_after);
	env_put_int(en, "MAILFERRY_STARTED", r->started);
	env_put_int(en, "MAILFERRY_FINISHED", r->finished);
}

/* The job's facts as MAILFERRY_* variables (never its endpoints' secret
 * references: only names and counts are read). */
static enum st env_job(struct store *st, int64_t job_id, enum script_event ev, struct env *en, struct err *e)
{
	env_put(en, "MAILFERRY_EVENT", script_event_name(ev));
	env_put(en, "MAILFERRY_STORE", store_path(st));
	struct facts f = { en, false };
	enum st s = store_job_row(st, job_id, put_row, &f, e);
	if (!s && !f.found)
		return err_set(e, ST_CONFIG, "no job %lld", (long long)job_id);
	struct job j;
	char *address = NULL, *display = NULL;
	if (!s && !store_job_get(st, job_id, &j, e)) {
		if (!store_mailbox_contact(st, j.src_ep, j.src_user, &address, &display, e))
			env_put(en, "MAILFERRY_SOURCE_ADDRESS", address);
		job_free(&j);
	}
	free(address);
	free(display);
	return s;
}

/* --- output into the job's events ------------------------------------------------- */

struct output {
	struct store *st;
	int64_t job_id;
	const char *event;
	struct sbuf line;
	size_t kept;            /* bytes of output kept so far */
	bool dropped;           /* some output went beyond SCRIPT_OUTPUT_MAX */
	int lines;
	char last[200];         /* the last non-empty line, for the error message */
};

static void output_line(struct output *o)
{
	sb_addc(&o->line, '\0');      /* so that data is never NULL */
	char *s = o->line.data;
	size_t n = o->line.len - 1;
	if (n && s[n - 1] == '\r')
		s[--n] = '\0';
	/* Control characters would upset the console's event list. */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
			s[i] = '?';
	store_event(o->st, EV_INFO, o->job_id, "script %s: %s", o->event, s);
	o->lines++;
	if (n)
		snprintf(o->last, sizeof o->last, "%s", s);
	sb_reset(&o->line);
}

static void output_feed(struct output *o, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (o->kept >= SCRIPT_OUTPUT_MAX) {
			o->dropped = true;
			return;
		}
		o->kept++;
		if (buf[i] == '\n')
			output_line(o);
		else if (o->line.len < SCRIPT_LINE_MAX)
			sb_addc(&o->line, buf[i]);
	}
}

static void output_end(struct output *o)
{
	if (o->line.len)
		output_line(o);
	if (o->dropped)
		store_event(o->st, EV_WARN, o->job_id, "script %s: output beyond %d KiB was not kept", o->event,
		            SCRIPT_OUTPUT_MAX / 1024);
	sb_free(&o->line);
}

/* --- running it --------------------------------------------------------------------- */

static enum st check_runnable(const char *path, const char *key, struct err *e)
{
	struct stat sb;
	if (path[0] != '/')
		return err_set(e, ST_CONFIG, "%s: script %s must be an absolute path", key, path);
	if (stat(path, &sb) < 0)
		return err_set(e, ST_CONFIG, "%s: script %s: %s", key, path, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return err_set(e, ST_CONFIG, "%s: script %s is not a regular file", key, path);
	if (access(path, X_OK) < 0)
		return err_set(e, ST_CONFIG, "%s: script %s is not executable (chmod +x %s)", key, path, path);
	return ST_OK;
}

/* Starts path in its own process group with stdin from /dev/null and
 * stdout+stderr into out_fd; every other descriptor closed. */
static int spawn(const char *path, char *const envp[], int out_fd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out_fd, STDERR_FILENO);
	/* Descriptors other threads open without O_CLOEXEC (a socket in a
	 * library) must not leak into the script either. */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
#endif
	posix_spawnattr_init(&at);
	/* Its own process group, so the time limit reaches whatever it starts;
	 * signals as a fresh program expects them (mailferry ignores SIGPIPE
	 * and catches SIGINT/SIGTERM; ignored signals would stay ignored). */
	sigset_t none, dflt;
	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGPIPE);
	sigaddset(&dflt, SIGINT);
	sigaddset(&dflt, SIGTERM);
	sigaddset(&dflt, SIGHUP);
	sigaddset(&dflt, SIGQUIT);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dflt);
	char *argv[] = { (char *)path, NULL };
	int rc = posix_spawn(pid, path, &fa, &at, argv, envp);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

struct outcome {
	int status;
	bool timed_out;
	bool canceled;          /* stopped because mailferry is stopping */
};

/* Reads the script's output until it exits and its pipe closes, enforcing
 * the time limit on the whole process group. */
static void supervise(pid_t pid, int fd, int timeout_s, const volatile int *cancel, struct output *o,
                      struct outcome *oc)
{
	int64_t start = clock_mono_ms(), deadline = start + (int64_t)timeout_s * 1000;
	int64_t kill_at = 0, exited_at = 0;
	bool exited = false, eof = false;
	while (!exited || !eof) {
		if (!exited) {
			pid_t w = waitpid(pid, &oc->status, WNOHANG);
			if (w == pid || (w < 0 && errno == ECHILD)) {
				exited = true;
				exited_at = clock_mono_ms();
			}
		}
		int64_t now = clock_mono_ms();
		if (exited && now - exited_at > SCRIPT_DRAIN_MS)
			break;      /* something it started still holds the pipe */
		if (!exited && !oc->timed_out && !oc->canceled && (now >= deadline || (cancel && *cancel))) {
			oc->timed_out = now >= deadline;
			oc->canceled = !oc->timed_out;
			kill(-pid, SIGTERM);
			kill_at = now + SCRIPT_KILL_GRACE_MS;
		}
		if (!exited && kill_at && now >= kill_at) {
			kill(-pid, SIGKILL);
			kill_at = 0;
		}
		if (eof) {
			usleep(20000);
			continue;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 100) > 0) {
			char buf[4096];
			ssize_t n = read(fd, buf, sizeof buf);
			if (n > 0)
				output_feed(o, buf, (size_t)n);
			else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				eof = true;
		}
	}
	if (oc->timed_out || oc->canceled)
		kill(-pid, SIGKILL);       /* what it left behind goes too */
}

static enum st report(struct store *st, int64_t job_id, const char *name, const char *path, int timeout_s,
                      const struct outcome *oc, const struct output *o, struct script_result *r, struct err *e)
{
	double secs = (double)r->ms / 1000.0;
	if (oc->timed_out || oc->canceled) {
		r->exit_code = -1;
		r->signal = WIFSIGNALED(oc->status) ? WTERMSIG(oc->status) : 0;
		if (oc->timed_out)
			err_set(e, ST_TIMEOUT, "script %s (%s) timed out after %d s and was stopped", path, name,
			        timeout_s);
		else
			err_set(e, ST_CANCELED, "script %s (%s) was stopped: mailferry is stopping", path, name);
	} else if (WIFSIGNALED(oc->status)) {
		r->exit_code = -1;
		r->signal = WTERMSIG(oc->status);
		err_set(e, ST_MAILBOX, "script %s (%s) was killed by signal %d%s%s", path, name, r->signal,
		        o->last[0] ? ": " : "", o->last);
	} else {
		r->exit_code = WEXITSTATUS(oc->status);
		if (r->exit_code == 0) {
			store_event(st, EV_INFO, job_id, "script %s (%s) succeeded in %.1f s", path, name, secs);
			return ST_OK;
		}
		err_set(e, ST_MAILBOX, "script %s (%s) exited with status %d%s%s", path, name, r->exit_code,
		        o->last[0] ? ": " : "", o->last);
	}
	store_event(st, EV_ERROR, job_id, "%s", e->msg);
	return e->code;
}

enum st script_run(struct store *st, const struct cfg *c, int64_t job_id, enum script_event ev,
                   struct script_result *r, struct err *e)
{
	return script_run_cancellable(st, c, job_id, ev, NULL, r, e);
}

enum st script_run_cancellable(struct store *st, const struct cfg *c, int64_t job_id, enum script_event ev,
                               const volatile int *cancel, struct script_result *r, struct err *e)
{
	memset(r, 0, sizeof *r);
	const char *path = script_path(c, ev);
	if (!path)
		return ST_OK;
	const char *name = script_event_name(ev);
	char key[48];
	snprintf(key, sizeof key, "script_%s", name);
	enum st s = check_runnable(path, key, e);
	struct env en = { .n = 0 };
	if (!s) {
		env_base(&en);
		s = env_job(st, job_id, ev, &en, e);
	}
	int pfd[2] = { -1, -1 };
	if (!s && pipe2(pfd, O_CLOEXEC) < 0)
		s = err_set(e, ST_INTERNAL, "script %s: cannot make a pipe: %s", path, strerror(errno));
	pid_t pid = 0;
	int64_t t0 = clock_mono_ms();
	if (!s) {
		en.v[en.n] = NULL;
		int rc = spawn(path, en.v, pfd[1], &pid);
		close(pfd[1]);
		if (rc)
			s = err_set(e, ST_CONFIG, "%s: cannot run script %s: %s", key, path, strerror(rc));
	}
	if (s) {
		if (pfd[0] >= 0)
			close(pfd[0]);
		env_free(&en);
		store_event(st, EV_ERROR, job_id, "%s", e->msg);
		return s;
	}
	r->ran = true;
	int timeout_s = c->script_timeout_s > 0 ? c->script_timeout_s : 300;
	store_event(st, EV_INFO, job_id, "script %s (%s) started, time limit %d s", path, name, timeout_s);
	log_info("job %lld: script %s (%s) started as pid %ld", (long long)job_id, path, name, (long)pid);
	struct output o = { .st = st, .job_id = job_id, .event = name };
	sb_init(&o.line);
	struct outcome oc = { 0, false, false };
	supervise(pid, pfd[0], timeout_s, cancel, &o, &oc);
	close(pfd[0]);
	r->timed_out = oc.timed_out;
	r->ms = clock_mono_ms() - t0;
	output_end(&o);
	r->lines = o.lines;
	env_free(&en);
	return report(st, job_id, name, path, timeout_s, &oc, &o, r, e);
}
