/* main.c - the mailferry command line: start-up order (locale, arguments,
 * configuration, libcurl, store), then one command.  See docs/CLI.md and
 * mailferry(1); `mailferry --help` prints the same summary. */
#include "config.h"

#include <curl/curl.h>
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "common.h"
#include "console.h"
#include "driver.h"
#include "engine.h"
#include "imap.h"
#include "log.h"
#include "migrate.h"
#include "secret.h"
#include "store.h"

static const char usage_text[] = N_(
	"Usage: mailferry [-c FILE] [-s STORE] [-v] COMMAND [ARGS]\n"
	"\n"
	"Mailbox migration, IMAP to IMAP: every folder and message, flags and dates kept,\n"
	"resumable, without duplicates.\n"
	"\n"
	"Global options:\n"
	"  -c, --config FILE     configuration file (default: $XDG_CONFIG_HOME/mailferry/mailferry.conf)\n"
	"  -s, --store FILE      SQLite store (default: store_path from the configuration)\n"
	"  -v, --verbose         more diagnostics on stderr (repeat for more)\n"
	"  -h, --help            this text;  -V, --version  the version\n"
	"\n"
	"Endpoints:\n"
	"  endpoint add NAME URL --user ADMIN PASSWORD-SOURCE [--insecure] [--auth plain|login|xoauth2]\n"
	"               [--login-template T] [--max-connections N]\n"
	"      URL is imap://host[:port] (STARTTLS when offered) or imaps://host[:port].\n"
	"      PASSWORD-SOURCE: --password-file FILE (mode 600) | --password-env VAR |\n"
	"                       --password-cmd CMD | --password-stdin (kept in the secrets file)\n"
	"  endpoint list | endpoint remove NAME | endpoint test NAME [--mailbox USER]\n"
	"\n"
	"Jobs (MAILBOX is user or source_user=target_user):\n"
	"  queue SRC DST MAILBOX... [PASS-OPTIONS] [--priority N]\n"
	"  run [--workers N]           run the queue until it is empty\n"
	"  migrate SRC DST MAILBOX [PASS-OPTIONS]   one mailbox in the foreground\n"
	"  verify SRC DST MAILBOX [--deep]          compare source and target\n"
	"  jobs [--all] | events [--job ID] [--limit N] | skipped [--job ID]\n"
	"  console [--workers N] [--no-engine]      full-screen console; runs the queue meanwhile\n"
	"\n"
	"Pass options:\n"
	"  --pass full|delta|prestage|trial|verify-credentials   (default full)\n"
	"  --prestage-days N   --trial N   --include REGEX   --exclude REGEX   --max-size BYTES\n"
	"  --bad-item-limit N  --separator-char C  --folder-map SRC=DST\n"
	"\n"
	"Exit status: 0 done, 1 done with skipped items, 64 usage, 70 internal or store error,\n"
	"75 temporary failure (run again), 77 authentication failed, 78 configuration error.\n");

static volatile int g_cancel;

static void on_signal(int sig)
{
	(void)sig;
	g_cancel = 1;
}

struct app {
	struct cfg cfg;
	char *store_path;
	struct store *st;
	int verbose;
};

static int fail(const struct err *e)
{
	fprintf(stderr, "mailferry: %s\n", e->msg[0] ? e->msg : st_message(e->code));
	return st_exit_code(e->code);
}

/* fmt has exactly one %s, for arg. */
static int usage_error(const char *fmt, const char *arg)
{
	const char *at = strstr(fmt, "%s");
	fprintf(stderr, "mailferry: %.*s%s%s (see 'mailferry --help')\n",
	        at ? (int)(at - fmt) : (int)strlen(fmt), fmt, at ? arg : "", at ? at + 2 : "");
	return st_exit_code(ST_USAGE);
}

static enum st open_store(struct app *a, struct err *e)
{
	if (a->st)
		return ST_OK;
	return store_open(a->store_path, &a->st, e);
}

/* --- endpoint -------------------------------------------------------- */

static bool url_ok(const char *url)
{
	const char *host = NULL;
	if (!strncasecmp(url, "imap://", 7))
		host = url + 7;
	else if (!strncasecmp(url, "imaps://", 8))
		host = url + 8;
	return host && *host && *host != '/' && *host != ':';
}

static int cmd_endpoint_add(struct app *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "password-file", required_argument, NULL, 'f' },
		{ "password-env", required_argument, NULL, 'E' },
		{ "password-cmd", required_argument, NULL, 'C' },
		{ "password-stdin", no_argument, NULL, 'S' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "auth", required_argument, NULL, 'a' },
		{ "login-template", required_argument, NULL, 't' },
		{ "max-connections", required_argument, NULL, 'm' },
		{ 0 }
	};
	struct endpoint ep = { .max_connections = a->cfg.max_connections_per_server };
	char *ref = NULL;
	int sources = 0, c;
	bool from_stdin = false;
	optind = 0;
	while ((c = getopt_long(argc, argv, "u:", opts, NULL)) != -1) {
		switch (c) {
		case 'u': ep.admin_user = optarg; break;
		case 'f': free(ref); ref = x_asprintf("file:%s", optarg); sources++; break;
		case 'E': free(ref); ref = x_asprintf("env:%s", optarg); sources++; break;
		case 'C': free(ref); ref = x_asprintf("cmd:%s", optarg); sources++; break;
		case 'S': from_stdin = true; sources++; break;
		case 'k': ep.insecure = true; break;
		case 'a': ep.auth_mech = optarg; break;
		case 't': ep.login_template = optarg; break;
		case 'm': ep.max_connections = atoi(optarg); break;
		default: free(ref); return st_exit_code(ST_USAGE);
		}
	}
	if (argc - optind != 2) {
		free(ref);
		return usage_error("%s", "endpoint add needs NAME and URL");
	}
	ep.name = argv[optind];
	ep.url = argv[optind + 1];
	struct err e;
	err_clear(&e);
	if (!url_ok(ep.url)) {
		free(ref);
		err_set(&e, ST_CONFIG, "bad URL '%s' for endpoint %s: use imap://host[:port] or "
		        "imaps://host[:port]", ep.url, ep.name);
		return fail(&e);
	}
	if (sources != 1) {
		free(ref);
		return usage_error("%s", "give exactly one password source: --password-file, "
		                   "--password-env, --password-cmd or --password-stdin");
	}
	if (ep.auth_mech && strcasecmp(ep.auth_mech, "plain") && strcasecmp(ep.auth_mech, "login") &&
	    strcasecmp(ep.auth_mech, "xoauth2")) {
		free(ref);
		return usage_error("unknown --auth '%s' (plain, login or xoauth2)", ep.auth_mech);
	}
	enum st s = open_store(a, &e);
	if (!s && from_stdin) {
		char line[4096];
		if (!fgets(line, sizeof line, stdin)) {
			err_set(&e, ST_USAGE, "no password on standard input");
			return fail(&e);
		}
		line[strcspn(line, "\r\n")] = '\0';
		char *name = x_asprintf("endpoint:%s", ep.name);
		s = secret_save(a->cfg.secrets_path, name, line, &ref, &e);
		memset(line, 0, sizeof line);
		free(name);
	}
	if (!s) {
		struct err ve;
		if (!strncmp(ref, "file:", 5)) {
			/* Check the file now, so a bad mode is found at once. */
			char *secret = NULL;
			s = secret_resolve(ref, a->cfg.secrets_path, &secret, &ve);
			secret_free(secret);
			if (s)
				e = ve;
		}
	}
	if (!s) {
		ep.secret_ref = ref;
		s = store_endpoint_add(a->st, &ep, &e);
	}
	free(ref);
	if (s)
		return fail(&e);
	printf("endpoint %s added (%s%s)\n", ep.name, ep.url, ep.insecure ? ", TLS NOT verified" : "");
	return 0;
}

static void print_endpoint(void *ctx, const struct endpoint *ep)
{
	(void)ctx;
	const char *kind = ep->secret_ref ? ep->secret_ref : "?";
	char src[64];
	/* Show where the password comes from, never the password. */
	snprintf(src, sizeof src, "%.*s", (int)strcspn(kind, ":"), kind);
	printf("%-16s %-40s admin=%-12s password=%-7s tls=%s\n", ep->name, ep->url,
	       ep->admin_user ? ep->admin_user : "-", src, ep->insecure ? "UNVERIFIED" : "verified");
}

static int cmd_endpoint(struct app *a, int argc, char **argv)
{
	struct err e;
	err_clear(&e);
	if (argc < 2)
		return usage_error("%s", "endpoint needs a subcommand: add, list, remove, test");
	const char *sub = argv[1];
	if (!strcmp(sub, "add"))
		return cmd_endpoint_add(a, argc - 1, argv + 1);
	if (open_store(a, &e))
		return fail(&e);
	if (!strcmp(sub, "list")) {
		if (store_endpoint_each(a->st, print_endpoint, NULL, &e))
			return fail(&e);
		return 0;
	}
	if (!strcmp(sub, "remove")) {
		if (argc != 3)
			return usage_error("%s", "endpoint remove needs NAME");
		if (store_endpoint_remove(a->st, argv[2], &e))
			return fail(&e);
		printf("endpoint %s removed\n", argv[2]);
		return 0;
	}
	if (!strcmp(sub, "test")) {
		const char *mailbox = NULL;
		const char *name = NULL;
		for (int i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--mailbox") && i + 1 < argc)
				mailbox = argv[++i];
			else if (!name)
				name = argv[i];
			else
				return usage_error("unexpected argument '%s'", argv[i]);
		}
		if (!name)
			return usage_error("%s", "endpoint test needs NAME");
		struct endpoint ep;
		char *secret = NULL;
		struct imap *im = NULL;
		enum st s = store_endpoint_get(a->st, name, &ep, &e);
		if (!s)
			s = secret_resolve(ep.secret_ref, a->cfg.secrets_path, &secret, &e);
		if (!s)
			s = drv_imap_login(&ep, secret, mailbox ? mailbox : ep.admin_user, "endpoint",
			                   a->cfg.timeout_s, &im, &e);
		secret_free(secret);
		if (!s) {
			static const char *const caps[] = { "LITERAL+", "UIDPLUS", "MULTIAPPEND", "CONDSTORE",
			                                    "QRESYNC", "SPECIAL-USE", "NAMESPACE", "ID",
			                                    "COMPRESS=DEFLATE", "ACL" };
			printf("ok: logged in to %s (%s)%s%s\ncapabilities:", ep.name, ep.url,
			       mailbox ? " for " : "", mailbox ? mailbox : "");
			for (size_t i = 0; i < countof(caps); i++)
				if (imap_has_cap(im, caps[i]))
					printf(" %s", caps[i]);
			if (imap_appendlimit(im))
				printf(" APPENDLIMIT=%llu", (unsigned long long)imap_appendlimit(im));
			printf("\n");
			imap_free(&im);
		}
		endpoint_free(&ep);
		return s ? fail(&e) : 0;
	}
	return usage_error("unknown endpoint subcommand '%s'", sub);
}

/* --- jobs ------------------------------------------------------------- */

struct pass_args {
	struct job_opts o;
	int priority;
	bool deep;
	int workers;
	bool all;
	int64_t job_id;
	int limit;
	struct sbuf include, exclude, folder_map;
};

enum { O_PASS = 1000, O_PRESTAGE, O_TRIAL, O_INCLUDE, O_EXCLUDE, O_MAXSIZE, O_BADLIMIT, O_SEPCHAR,
       O_FOLDERMAP, O_PRIORITY, O_DEEP, O_WORKERS, O_ALL, O_JOB, O_LIMIT };

static bool parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static void pass_args_free(struct pass_args *p);
static int parse_pass_args_inner(struct app *a, int argc, char **argv, struct pass_args *p);

/* Parses options shared by queue/migrate/verify/run/jobs/events; leaves the
 * positional arguments in argv[optind..argc).  On error p is already freed. */
static int parse_pass_args(struct app *a, int argc, char **argv, struct pass_args *p)
{
	int rc = parse_pass_args_inner(a, argc, argv, p);
	if (rc)
		pass_args_free(p);
	return rc;
}

static int parse_pass_args_inner(struct app *a, int argc, char **argv, struct pass_args *p)
{
	static const struct option opts[] = {
		{ "pass", required_argument, NULL, O_PASS },
		{ "prestage-days", required_argument, NULL, O_PRESTAGE },
		{ "trial", required_argument, NULL, O_TRIAL },
		{ "include", required_argument, NULL, O_INCLUDE },
		{ "exclude", required_argument, NULL, O_EXCLUDE },
		{ "max-size", required_argument, NULL, O_MAXSIZE },
		{ "bad-item-limit", required_argument, NULL, O_BADLIMIT },
		{ "separator-char", required_argument, NULL, O_SEPCHAR },
		{ "folder-map", required_argument, NULL, O_FOLDERMAP },
		{ "priority", required_argument, NULL, O_PRIORITY },
		{ "deep", no_argument, NULL, O_DEEP },
		{ "workers", required_argument, NULL, O_WORKERS },
		{ "all", no_argument, NULL, O_ALL },
		{ "job", required_argument, NULL, O_JOB },
		{ "limit", required_argument, NULL, O_LIMIT },
		{ 0 }
	};
	memset(p, 0, sizeof *p);
	p->o.pass = PASS_FULL;
	p->o.bad_item_limit = a->cfg.bad_item_limit;
	p->o.sep_char = a->cfg.separator_char && *a->cfg.separator_char ? a->cfg.separator_char[0] : '_';
	p->priority = 100;
	p->workers = a->cfg.workers;
	p->limit = 50;
	sb_init(&p->include);
	sb_init(&p->exclude);
	sb_init(&p->folder_map);
	int c;
	long long v;
	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_PASS:
			if (!pass_kind_parse(optarg, &p->o.pass))
				return usage_error("unknown pass '%s' (full, delta, prestage, trial, "
				                   "verify-credentials)", optarg);
			break;
		case O_PRESTAGE:
			if (!parse_int(optarg, 0, 36500, &v))
				return usage_error("bad --prestage-days '%s'", optarg);
			p->o.prestage_days = (int)v;
			if (p->o.pass == PASS_FULL)
				p->o.pass = PASS_PRESTAGE;
			break;
		case O_TRIAL:
			if (!parse_int(optarg, 1, 1000000, &v))
				return usage_error("bad --trial '%s'", optarg);
			p->o.trial_items = (int)v;
			if (p->o.pass == PASS_FULL)
				p->o.pass = PASS_TRIAL;
			break;
		case O_INCLUDE: sb_printf(&p->include, "%s\n", optarg); break;
		case O_EXCLUDE: sb_printf(&p->exclude, "%s\n", optarg); break;
		case O_FOLDERMAP: sb_printf(&p->folder_map, "%s\n", optarg); break;
		case O_MAXSIZE:
			if (!parse_int(optarg, 1, INT64_MAX, &v))
				return usage_error("bad --max-size '%s' (bytes)", optarg);
			p->o.max_size = v;
			break;
		case O_BADLIMIT:
			if (!parse_int(optarg, 0, 100000000, &v))
				return usage_error("bad --bad-item-limit '%s'", optarg);
			p->o.bad_item_limit = (int)v;
			break;
		case O_SEPCHAR:
			if (strlen(optarg) != 1 || optarg[0] < 33 || optarg[0] > 126 || optarg[0] == '"' ||
			    optarg[0] == '\\' || optarg[0] == '*' || optarg[0] == '%')
				return usage_error("bad --separator-char '%s' (one printable character)", optarg);
			p->o.sep_char = optarg[0];
			break;
		case O_PRIORITY:
			if (!parse_int(optarg, 0, 1000000, &v))
				return usage_error("bad --priority '%s'", optarg);
			p->priority = (int)v;
			break;
		case O_DEEP: p->deep = true; break;
		case O_WORKERS:
			if (!parse_int(optarg, 1, 256, &v))
				return usage_error("bad --workers '%s' (1 to 256)", optarg);
			p->workers = (int)v;
			break;
		case O_ALL: p->all = true; break;
		case O_JOB:
			if (!parse_int(optarg, 1, INT64_MAX, &v))
				return usage_error("bad --job '%s'", optarg);
			p->job_id = v;
			break;
		case O_LIMIT:
			if (!parse_int(optarg, 1, 1000000, &v))
				return usage_error("bad --limit '%s'", optarg);
			p->limit = (int)v;
			break;
		default:
			return st_exit_code(ST_USAGE);
		}
	}
	if (p->o.pass == PASS_PRESTAGE && p->o.prestage_days == 0)
		return usage_error("%s", "--pass prestage needs --prestage-days N");
	if (p->o.pass == PASS_TRIAL && p->o.trial_items == 0)
		p->o.trial_items = 10;
	p->o.include = p->include.data;
	p->o.exclude = p->exclude.data;
	p->o.folder_map = p->folder_map.data;
	return 0;
}

/* parse_pass_args, then between min and max positional arguments (max < 0:
 * no upper bound); on error p is freed and the exit code returned. */
static int parse_cmd(struct app *a, int argc, char **argv, struct pass_args *p, int min, int max,
                     const char *usage)
{
	int rc = parse_pass_args(a, argc, argv, p);
	if (rc)
		return rc;
	int npos = argc - optind;
	if (npos < min || (max >= 0 && npos > max)) {
		pass_args_free(p);
		return usage_error("%s", usage);
	}
	return 0;
}

static void pass_args_free(struct pass_args *p)
{
	sb_free(&p->include);
	sb_free(&p->exclude);
	sb_free(&p->folder_map);
}

/* Builds a job from SRC DST "user[=target]". */
static enum st make_job(struct app *a, const char *src, const char *dst, const char *mailbox,
                        const struct pass_args *p, struct job *j, struct err *e)
{
	memset(j, 0, sizeof *j);
	struct endpoint se, de;
	enum st s = store_endpoint_get(a->st, src, &se, e);
	if (s)
		return s;
	s = store_endpoint_get(a->st, dst, &de, e);
	if (s) {
		endpoint_free(&se);
		return s;
	}
	j->src_ep = se.id;
	j->dst_ep = de.id;
	endpoint_free(&se);
	endpoint_free(&de);
	const char *eq = strchr(mailbox, '=');
	if (eq == mailbox || (eq && !eq[1]) || !*mailbox)
		return err_set(e, ST_USAGE, "bad mailbox '%s': use user or source_user=target_user", mailbox);
	j->src_user = eq ? x_strndup(mailbox, (size_t)(eq - mailbox)) : x_strdup(mailbox);
	j->dst_user = x_strdup(eq ? eq + 1 : mailbox);
	j->priority = p->priority;
	j->o = p->o;
	j->o.include = p->o.include ? x_strdup(p->o.include) : NULL;
	j->o.exclude = p->o.exclude ? x_strdup(p->o.exclude) : NULL;
	j->o.folder_map = p->o.folder_map ? x_strdup(p->o.folder_map) : NULL;
	/* Validate the folder rules now rather than at run time. */
	return ST_OK;
}

static int cmd_queue(struct app *a, int argc, char **argv)
{
	struct pass_args p;
	int rc = parse_cmd(a, argc, argv, &p, 3, -1, "queue needs SRC DST MAILBOX...");
	if (rc)
		return rc;
	struct err e;
	err_clear(&e);
	enum st s = open_store(a, &e);
	const char *src = argv[optind], *dst = argv[optind + 1];
	if (!s)
		s = store_begin(a->st, &e);
	int queued = 0;
	for (int i = optind + 2; !s && i < argc; i++) {
		struct job j;
		s = make_job(a, src, dst, argv[i], &p, &j, &e);
		if (!s)
			s = store_job_add(a->st, &j, &e);
		if (!s) {
			printf("job %lld queued: %s -> %s (%s pass)\n", (long long)j.id, j.src_user,
			       j.dst_user, pass_kind_name(j.o.pass));
			queued++;
		}
		job_free(&j);
	}
	if (!s)
		s = store_commit(a->st, &e);
	else if (a->st)
		store_rollback(a->st);
	pass_args_free(&p);
	return s ? fail(&e) : 0;
}

static int cmd_run(struct app *a, int argc, char **argv)
{
	struct pass_args p;
	int rc = parse_cmd(a, argc, argv, &p, 0, 0, "unexpected arguments");
	if (rc)
		return rc;
	struct engine_opts o = { .cfg = &a->cfg, .store_path = a->store_path, .workers = p.workers,
	                         .progress = true, .cancel = &g_cancel };
	struct err e;
	err_clear(&e);
	enum st s = engine_run_queue(&o, &e);
	pass_args_free(&p);
	if (s == ST_PARTIAL) {
		fprintf(stderr, "mailferry: done; some items were skipped: see 'mailferry skipped'\n");
		return st_exit_code(s);
	}
	return s ? fail(&e) : 0;
}

static int cmd_migrate(struct app *a, int argc, char **argv)
{
	struct pass_args p;
	int rc = parse_cmd(a, argc, argv, &p, 3, 3, "migrate needs SRC DST MAILBOX");
	if (rc)
		return rc;
	struct err e;
	err_clear(&e);
	struct job j = { 0 };
	enum st s = open_store(a, &e);
	if (!s)
		s = make_job(a, argv[optind], argv[optind + 1], argv[optind + 2], &p, &j, &e);
	if (!s)
		s = store_job_add(a->st, &j, &e);
	if (!s)
		s = store_job_start(a->st, &j, &e);
	pass_args_free(&p);
	if (s) {
		job_free(&j);
		return fail(&e);
	}
	int64_t t0 = clock_mono_ms();
	s = engine_run_job(a->st, &a->cfg, &j, &g_cancel, &e);
	double secs = (double)(clock_mono_ms() - t0) / 1000.0;
	printf("job %lld: %lld copied (%.1f MB), %lld re-flagged, %lld skipped, %lld failed in %.1f s\n",
	       (long long)j.id, (long long)j.items_done, (double)j.bytes_done / 1e6,
	       (long long)j.flags_updated, (long long)j.items_skipped, (long long)j.items_failed, secs);
	job_free(&j);
	if (s == ST_PARTIAL) {
		fprintf(stderr, "mailferry: %s\n", e.msg);
		return st_exit_code(s);
	}
	return s ? fail(&e) : 0;
}

static int cmd_verify(struct app *a, int argc, char **argv)
{
	struct pass_args p;
	int rc = parse_cmd(a, argc, argv, &p, 3, 3, "verify needs SRC DST MAILBOX");
	if (rc)
		return rc;
	struct err e;
	err_clear(&e);
	struct job j = { 0 };
	struct endpoint se = { 0 }, de = { 0 };
	char *ss = NULL, *ds = NULL;
	enum st s = open_store(a, &e);
	if (!s)
		s = make_job(a, argv[optind], argv[optind + 1], argv[optind + 2], &p, &j, &e);
	if (!s)
		s = store_pair_get(a->st, j.src_ep, j.src_user, j.dst_ep, j.dst_user, &j.pair_id, &e);
	if (!s)
		s = store_endpoint_get_id(a->st, j.src_ep, &se, &e);
	if (!s)
		s = store_endpoint_get_id(a->st, j.dst_ep, &de, &e);
	if (!s)
		s = secret_resolve(se.secret_ref, a->cfg.secrets_path, &ss, &e);
	if (!s)
		s = secret_resolve(de.secret_ref, a->cfg.secrets_path, &ds, &e);
	struct verify_result vr;
	if (!s) {
		struct mig_ctx m = { .store = a->st, .cfg = &a->cfg, .job = &j, .src = &se, .dst = &de,
		                     .src_secret = ss, .dst_secret = ds, .cancel = &g_cancel, .quiet = true };
		s = mig_verify(&m, p.deep, &vr, &e);
		if (!s) {
			char *v = mig_verdict(&m, &vr);
			printf("%s\n", v);
			free(v);
		}
	}
	secret_free(ss);
	secret_free(ds);
	endpoint_free(&se);
	endpoint_free(&de);
	job_free(&j);
	pass_args_free(&p);
	if (s)
		return fail(&e);
	return vr.missing || vr.differ ? 1 : 0;
}

static void print_job(void *ctx, const struct job *j, const char *src_ep, const char *dst_ep)
{
	(void)ctx;
	printf("%-5lld %-10s %-18s %s:%s -> %s:%s  %lld msgs %.1f MB, %lld skipped, %lld failed%s%s\n",
	       (long long)j->id, job_state_name(j->state), pass_kind_name(j->o.pass), src_ep, j->src_user,
	       dst_ep, j->dst_user, (long long)j->items_done, (double)j->bytes_done / 1e6,
	       (long long)j->items_skipped, (long long)j->items_failed, j->error ? "  error: " : "",
	       j->error ? j->error : "");
}

static void print_event(void *ctx, int64_t ts, int level, int64_t job, const char *msg)
{
	(void)ctx;
	static const char *const lv[] = { "ERROR", "WARN", "INFO" };
	time_t t = (time_t)ts;
	struct tm tm;
	char when[32];
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%SZ", &tm);
	printf("%s %-5s job %-4lld %s\n", when, lv[level < 0 || level > 2 ? 2 : level], (long long)job, msg);
}

static void print_skipped(void *ctx, int64_t job, const char *folder, uint32_t uid,
                          const char *subject, uint64_t size, const char *reason)
{
	(void)ctx;
	printf("job %lld  folder \"%s\"  UID %u  %llu bytes  subject \"%s\"  %s\n", (long long)job, folder,
	       uid, (unsigned long long)size, subject ? subject : "", reason);
}

static int cmd_console(struct app *a, int argc, char **argv)
{
	int workers = a->cfg.workers;
	bool engine = true;
	for (int i = 1; i < argc; i++) {
		long long v;
		if (!strcmp(argv[i], "--no-engine"))
			engine = false;
		else if (!strcmp(argv[i], "--workers") && i + 1 < argc && parse_int(argv[i + 1], 1, 256, &v))
			workers = (int)v, i++;
		else
			return usage_error("unexpected argument '%s' for console", argv[i]);
	}
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		return usage_error("%s", "the console needs a terminal (use the other commands in scripts)");
	/* The engine's diagnostics must not write over the screen. */
	log_close();
	log_open(a->cfg.log_path, LOG_INFO, false);
	struct console_opts o = { .cfg = &a->cfg, .config_path = a->config_path, .store_path = a->store_path,
	                          .workers = workers, .run_engine = engine };
	return console_run(&o);
}

static int cmd_report(struct app *a, int argc, char **argv, const char *what)
{
	struct pass_args p;
	int rc = parse_cmd(a, argc, argv, &p, 0, 0, "unexpected arguments");
	if (rc)
		return rc;
	struct err e;
	err_clear(&e);
	enum st s = open_store(a, &e);
	if (!s && !strcmp(what, "jobs"))
		s = store_job_each(a->st, p.all, print_job, NULL, &e);
	else if (!s && !strcmp(what, "events"))
		s = store_event_each(a->st, p.job_id, p.limit, print_event, NULL, &e);
	else if (!s)
		s = store_skipped_each(a->st, p.job_id, print_skipped, NULL, &e);
	pass_args_free(&p);
	return s ? fail(&e) : 0;
}

/* --- start-up ------------------------------------------------------------ */

int main(int argc, char **argv)
{
	setlocale(LC_ALL, "");
#ifdef ENABLE_NLS
	bindtextdomain(PACKAGE, LOCALEDIR);
	textdomain(PACKAGE);
#endif
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "store", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	struct app a = { 0 };
	const char *config_path = getenv("MAILFERRY_CONFIG");
	const char *store_path = getenv("MAILFERRY_STORE");
	bool config_given = config_path != NULL;
	int c;
	/* "+": stop at the command; its own options are parsed later. */
	while ((c = getopt_long(argc, argv, "+c:s:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; config_given = true; break;
		case 's': store_path = optarg; break;
		case 'v': a.verbose++; break;
		case 'h': fputs(_(usage_text), stdout); return 0;
		case 'V': printf("mailferry %s (%s)\n", PACKAGE_VERSION, curl_version()); return 0;
		default: return st_exit_code(ST_USAGE);
		}
	}
	if (optind >= argc)
		return usage_error("%s", "no command given");
	struct err e;
	err_clear(&e);
	char *default_cfg = config_path ? NULL : cfg_default_path();
	enum st s = cfg_load(&a.cfg, config_path ? config_path : default_cfg, config_given, &e);
	free(default_cfg);
	if (s)
		return fail(&e);
	a.store_path = x_strdup(store_path ? store_path : a.cfg.store_path);
	enum log_level lvl = a.verbose >= 3 ? LOG_TRACE : a.verbose == 2 ? LOG_DEBUG :
	                     a.verbose == 1 ? LOG_INFO : LOG_WARN;
	/* With a log file and no -v, the file gets the configured level. */
	if (a.cfg.log_path && !a.verbose && a.cfg.log_level) {
		static const char *const names[] = { "error", "warn", "info", "debug", "trace" };
		for (int i = 0; i < 5; i++)
			if (!strcasecmp(a.cfg.log_level, names[i]))
				lvl = (enum log_level)i;
	}
	/* stderr gets diagnostics only with -v: without it a command prints its
	 * result and, on failure, one line saying what went wrong. */
	log_open(a.cfg.log_path, lvl, a.verbose > 0);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "mailferry: cannot initialise libcurl\n");
		return st_exit_code(ST_INTERNAL);
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	const char *cmd = argv[optind];
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	int rc;
	if (!strcmp(cmd, "endpoint"))
		rc = cmd_endpoint(&a, sub_argc, sub_argv);
	else if (!strcmp(cmd, "queue"))
		rc = cmd_queue(&a, sub_argc, sub_argv);
	else if (!strcmp(cmd, "run"))
		rc = cmd_run(&a, sub_argc, sub_argv);
	else if (!strcmp(cmd, "migrate"))
		rc = cmd_migrate(&a, sub_argc, sub_argv);
	else if (!strcmp(cmd, "verify"))
		rc = cmd_verify(&a, sub_argc, sub_argv);
	else if (!strcmp(cmd, "jobs") || !strcmp(cmd, "events") || !strcmp(cmd, "skipped"))
		rc = cmd_report(&a, sub_argc, sub_argv, cmd);
	else if (!strcmp(cmd, "console"))
		rc = cmd_console(&a, sub_argc, sub_argv);
	else if (!strcmp(cmd, "help"))
		rc = (fputs(_(usage_text), stdout), 0);
	else
		rc = usage_error("unknown command '%s'", cmd);
	store_close(&a.st);
	curl_global_cleanup();
	cfg_free(&a.cfg);
	free(a.store_path);
	log_close();
	return rc;
}
