/* main.c - the mailferry command line: start-up order (locale, arguments,
 * configuration, libcurl, store), then one command.  See docs/CLI.md and
 * mailferry(1); `mailferry --help` prints the same summary. */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "about.h"
#include "cfg.h"
#include "cmd_sched.h"
#include "cmd_metrics.h"
#include "cmd_report.h"
#include "cmd_schedule.h"
#include "common.h"
#include "console.h"
#include "csv.h"
#include "directory.h"
#include "dirmap.h"
#include "dns.h"
#include "driver.h"
#include "engine.h"
#include "health.h"
#include "cmd_checklist.h"
#include "cmd_common.h"
#include "imap.h"
#include "log.h"
#include "match.h"
#include "measure.h"
#include "migrate.h"
#include "cmd_notice.h"
#include "notify.h"
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
	"  -h, --help            this text (also: mailferry help);  -V, --version  the version\n"
	"                        (with -v: as 'about')\n"
	"\n"
	"Endpoints:\n"
	"  endpoint add NAME URL --user ADMIN PASSWORD-SOURCE [--insecure] [--auth plain|login|xoauth2]\n"
	"               [--login-template T] [--max-connections N] [--forest NAME]\n"
	"      URL is imap://host[:port] (STARTTLS when offered) or imaps://host[:port].\n"
	"      PASSWORD-SOURCE: --password-file FILE (mode 600) | --password-env VAR |\n"
	"                       --password-cmd CMD | --password-stdin (kept in the secrets file)\n"
	"  endpoint list | endpoint remove NAME | endpoint test NAME [--mailbox USER]\n"
	"\n"
	"Forests, mailboxes, blackout times:\n"
	"  forest add NAME --role source|target|tenant [--directory URL] [--bind-dn DN]\n"
	"             [--base-dn DN] [--filter F] [--scope OU]... [--blackout-mode entire|initial|final]\n"
	"             [--attr FIELD=ATTRIBUTE]... [--allow-postpone | --no-allow-postpone]\n"
	"             [--bind-password-file F | --bind-password-env V | --bind-password-cmd C |\n"
	"              --bind-password-stdin]\n"
	"      URL is ldaps://host[:port] (TLS) or ldap://host[:port] (StartTLS except on loopback);\n"
	"      several URLs separated by spaces are tried in order (the first that answers).\n"
	"      Without --base-dn the root DSE's defaultNamingContext or namingContexts is used.\n"
	"      --scope group:DN discovers only the members of that group (memberOf).\n"
	"      --attr FIELD=ATTRIBUTE (may repeat; FIELD= removes) maps a directory attribute to\n"
	"      login, address, name, site, database, key or upn instead of the default.\n"
	"      --allow-postpone lets the forest's users postpone their own migration (mailbox\n"
	"      postpone); --no-allow-postpone takes it back.\n"
	"  forest set NAME [options of forest add]  changes only the options given\n"
	"  forest discover NAME [--full] [--endpoint NAME]   mailboxes from the directory (paged;\n"
	"             after a complete run only changes; removed entries marked vanished)\n"
	"  forest match SOURCE TARGET [--by address|proxy|upn|login|key]... [--all]   match each source\n"
	"      mailbox to one target mailbox by primary address, any SMTP address, UPN (default:\n"
	"      all three), login or directory key (see --attr); lists conflicts and unmatched ones with their keys, never\n"
	"      guesses; stores the result; exit 0 all matched, 1 otherwise\n"
	"  forest list | forest remove NAME --yes   (removes its endpoints, mailboxes and jobs)\n"
	"  forest check NAME           health of every endpoint: DNS, TCP, TLS certificate expiry,\n"
	"      admin login, a sample mailbox through the admin, APPENDLIMIT, clock; one line per\n"
	"      check (✓ ok, i info, ! warning, ✗ failed) with the fix; exit 0 ok, 1 warnings,\n"
	"      78 failures\n"
	"  forest checklist NAME       preparation checklist: source and target forests, mail\n"
	"      endpoints, admin login, a user's mailbox through the admin, the largest source\n"
	"      message against the target's APPENDLIMIT (10 mailboxes read), directory\n"
	"      read, password file modes, store disk space, clock, notification server; [✓] [!]\n"
	"      [✗] or [ ] (check by hand) with the fix; exit 0 ok, 1 warnings, 78 failures\n"
	"  detect DOMAIN               global catalogs and domain controllers (_gc._tcp,\n"
	"      _ldap._tcp.dc._msdcs) and IMAP servers (_imaps._tcp, _imap._tcp) from DNS SRV\n"
	"      records, best first; dns_server sets the DNS server; exit 0 found, 78 none, 75 no DNS\n"
	"  mailbox import FILE.csv [--endpoint NAME] | mailbox list [--forest NAME]\n"
	"      CSV header: login,address,display_name,site,database,kind,size_bytes,items,folders,\n"
	"      delegates (';'-separated LOGIN or LOGIN=RIGHTS),upn,proxy_addresses (';'-separated);\n"
	"      any subset with login; all or nothing\n"
	"  mailbox postpone LOGIN --until 'YYYY-MM-DD HH:MM' [--tz ZONE] | --clear\n"
	"      the user's own postponement (forests with --allow-postpone): a blackout for that\n"
	"      mailbox until then, replacing an earlier one; a running job stops at a checkpoint\n"
	"  mailbox measure [--endpoint NAME | --forest NAME] [--workers N] [LOGIN...]\n"
	"      folders, messages and size of each mailbox from its server (STATUS SIZE, else the\n"
	"      quota), and delegates from IMAP ACLs (origin acl); all folders in one round trip;\n"
	"      exit 0, or 1 when some mailboxes could not be measured\n"
	"  blackout add NAME --start 'YYYY-MM-DD HH:MM' --end 'YYYY-MM-DD HH:MM' [--tz ZONE]\n"
	"               [--site S] [--mailbox LOGIN] [--weekly] [--mode entire|initial|final]\n"
	"      refused when it overlaps a window of the same mailbox, site or everyone\n"
	"  blackout list | blackout remove ID\n"
	"\n"
	"Jobs (MAILBOX is user or source_user=target_user):\n"
	"  queue SRC DST MAILBOX... [PASS-OPTIONS] [--priority N] [--start-at 'YYYY-MM-DD HH:MM']\n"
	"        [--suspend-when-ready] [--notify-user]\n"
	"  queue SRC DST --matched [options of queue]   every mailbox of SRC that forest match\n"
	"        matched to a mailbox on DST, with that mailbox's login (not twice)\n"
	"  run [--workers N] [--follow]   run every job that can run now (a due incremental sync\n"
	"        or cutover too) until none can; says what still waits (a start time, a blackout,\n"
	"        ready to complete); --follow keeps waiting for them until Ctrl-C; meanwhile\n"
	"        checks the forests whose health check is due (health_interval_min)\n"
	"  migrate SRC DST MAILBOX [PASS-OPTIONS]   one mailbox in the foreground\n"
	"  verify SRC DST MAILBOX [--deep]          compare source and target\n"
	"  jobs [--all] | job show ID | events [--job ID] [--limit N] | skipped [--job ID]\n"
	"        (skipped marks each item: failed, copied again by retry; or skipped for good)\n"
	"  pause JOB...   queued: paused now; running: stops at its next checkpoint, then paused\n"
	"  resume JOB...  paused -> where it waited (queued, ready or completing; same place)\n"
	"  resume --endpoint NAME   jobs paused because NAME refused the admin's login\n"
	"  cutover JOB...|--all [--at 'YYYY-MM-DD HH:MM']   a job queued --suspend-when-ready that\n"
	"        is ready to complete runs its final delta pass (now or from that local time)\n"
	"  retry JOB... [--full]   a partial job copies only its failed items again; a failed or\n"
	"        cancelled one resumes its pass; --full: the whole pass\n"
	"  console [--workers N] [--no-engine]      full-screen console; runs the queue meanwhile\n"
	"  console --keys              every key and \":\" command of the console, by view\n"
	"\n"
	"Schedule:\n"
	"  schedule [--workers N] [--csv]   forecast start and end of every queued and running job:\n"
	"      workers, connection limits (per endpoint, max_connections_per_host), start-after times,\n"
	"      blackout windows (a job stops at one and resumes after it), sizes (unknown: the\n"
	"      average), throughput measured per target over the last hour, else\n"
	"      forecast_default_rate; ready jobs' next incremental sync, completing jobs' final pass\n"
	"      (deltas as the job's earlier syncs, else 1% of the mailbox), a cutover after the\n"
	"      initial sync; prints the basis; records the forecast\n"
	"  schedule --actual [--csv]   jobs that ran: the last forecast made before each started\n"
	"      beside its real start and end\n"
	"\n"
	"Metrics and reports:\n"
	"  metrics [--period minute|hour|day] [--last N] [--endpoint NAME | --by-endpoint] [--csv]\n"
	"      throughput the engine sampled (messages, bytes, per minute rates) and mailboxes\n"
	"      completed, per period of local time (default: the last 72 hours), all endpoints\n"
	"      together, one target endpoint, or a row per endpoint\n"
	"  report [--job ID | --mailbox LOGIN | --all] [--email ADDRESS]   statistics: per mailbox\n"
	"      (its latest job) messages and bytes per folder, skipped items with reasons, verify\n"
	"      verdict, duration, average rate; project totals; --email sends it (template report)\n"
	"\n"
	"Settings (in the configuration file in use, -c or the default):\n"
	"  config show [--tab TAB]     every setting: value, default, what it does, by tab\n"
	"                              (TAB: general, activities, mailboxes, workers, scripts, notifications)\n"
	"  config get KEY | config set KEY VALUE   one setting; set checks it and saves the file\n"
	"  Scripts tab: script_before_first_pass (a failure holds the job: resume retries),\n"
	"    script_after_completion, script_on_failure, script_at_cutover, script_timeout_s;\n"
	"    run directly with MAILFERRY_* job facts, never a password (mailferry(1), SCRIPTS)\n"
	"  about                       version, build, libraries and files in use\n"
	"\n"
	"Notifications (smtp_url and friends in the configuration, Notifications tab):\n"
	"  notify test ADDRESS         send a test message; prints the server's answer\n"
	"  notify preview TEMPLATE [--job ID]   a template filled in (before, start, complete, failed)\n"
	"  notify summary [--send]     the admins' daily summary: print it, or send it to admin_email now\n"
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
	char *config_path;     /* the file in use: -c, MAILFERRY_CONFIG or the default */
	char *store_path;
	struct store *st;
	int verbose;
};

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

/* A password source given on the command line (--password-file and the
 * like, or --bind-password-* for a directory): at most one.  ref is owned. */
struct pw_source { char *ref; bool from_stdin; int count; };

/* kind: "file", "env", "cmd" or "stdin". */
static void pw_source_set(struct pw_source *p, const char *kind, const char *value)
{
	p->count++;
	if (!strcmp(kind, "stdin")) {
		p->from_stdin = true;
		return;
	}
	free(p->ref);
	p->ref = x_asprintf("%s:%s", kind, value);
}

/* Turns the source into a reference to store: a password on standard input
 * goes to the secrets file under secret_name; a file is checked now, so a
 * bad mode is found at once. */
static enum st pw_source_ref(struct app *a, struct pw_source *p, const char *secret_name,
                             struct err *e)
{
	enum st s = ST_OK;
	if (p->from_stdin) {
		char line[4096];
		if (!fgets(line, sizeof line, stdin))
			return err_set(e, ST_USAGE, "no password on standard input");
		line[strcspn(line, "\r\n")] = '\0';
		free(p->ref);
		p->ref = NULL;
		s = secret_save(a->cfg.secrets_path, secret_name, line, &p->ref, e);
		memset(line, 0, sizeof line);
	} else if (p->ref && !strncmp(p->ref, "file:", 5)) {
		char *secret = NULL;
		s = secret_resolve(p->ref, a->cfg.secrets_path, &secret, e);
		secret_free(secret);
	}
	return s;
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
		{ "forest", required_argument, NULL, 'F' },
		{ 0 }
	};
	const char *forest = NULL;
	struct endpoint ep = { .max_connections = a->cfg.max_connections_per_server };
	struct pw_source pw = { 0 };
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "u:", opts, NULL)) != -1) {
		switch (c) {
		case 'u': ep.admin_user = optarg; break;
		case 'f': pw_source_set(&pw, "file", optarg); break;
		case 'E': pw_source_set(&pw, "env", optarg); break;
		case 'C': pw_source_set(&pw, "cmd", optarg); break;
		case 'S': pw_source_set(&pw, "stdin", NULL); break;
		case 'k': ep.insecure = true; break;
		case 'a': ep.auth_mech = optarg; break;
		case 't': ep.login_template = optarg; break;
		case 'm': ep.max_connections = atoi(optarg); break;
		case 'F': forest = optarg; break;
		default: free(pw.ref); return st_exit_code(ST_USAGE);
		}
	}
	char *ref = pw.ref;
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
		return cmd_fail(&e);
	}
	if (pw.count != 1) {
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
	if (!s && forest) {
		struct forest f;
		if (!(s = store_forest_get(a->st, forest, &f, &e)))
			ep.forest_id = f.id;
		forest_free(&f);
	}
	if (!s) {
		char *name = x_asprintf("endpoint:%s", ep.name);
		s = pw_source_ref(a, &pw, name, &e);
		ref = pw.ref;
		free(name);
	}
	if (!s) {
		ep.secret_ref = ref;
		s = store_endpoint_add(a->st, &ep, &e);
	}
	free(ref);
	if (s)
		return cmd_fail(&e);
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
		return cmd_fail(&e);
	if (!strcmp(sub, "list")) {
		if (argc > 2)
			return usage_error("unexpected argument '%s' for endpoint list", argv[2]);
		if (store_endpoint_each(a->st, print_endpoint, NULL, &e))
			return cmd_fail(&e);
		return 0;
	}
	if (!strcmp(sub, "remove")) {
		if (argc != 3)
			return usage_error("%s", "endpoint remove needs NAME");
		if (store_endpoint_remove(a->st, argv[2], &e))
			return cmd_fail(&e);
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
		return s ? cmd_fail(&e) : 0;
	}
	return usage_error("unknown endpoint subcommand '%s'", sub);
}

/* --- jobs ------------------------------------------------------------- */

struct pass_args {
	struct job_opts o;
	int priority;
	int64_t start_after;
	bool suspend_ready, notify_user;
	bool deep;
	int workers;
	bool all;
	bool matched;           /* queue --matched */
	bool follow;            /* run --follow */
	int64_t job_id;
	int limit;
	struct sbuf include, exclude, folder_map;
};

enum { O_PASS = 1000, O_PRESTAGE, O_TRIAL, O_INCLUDE, O_EXCLUDE, O_MAXSIZE, O_BADLIMIT, O_SEPCHAR,
       O_FOLDERMAP, O_PRIORITY, O_DEEP, O_WORKERS, O_ALL, O_JOB, O_LIMIT, O_START_AT, O_SUSPEND,
       O_NOTIFY, O_MATCHED, O_FOLLOW };

static bool parse_when(const char *s, const char *tz, int64_t *out);
static const char *fmt_when(int64_t ts, const char *tz, char buf[32]);

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
		{ "start-at", required_argument, NULL, O_START_AT },
		{ "suspend-when-ready", no_argument, NULL, O_SUSPEND },
		{ "notify-user", no_argument, NULL, O_NOTIFY },
		{ "matched", no_argument, NULL, O_MATCHED },
		{ "follow", no_argument, NULL, O_FOLLOW },
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
		case O_START_AT:
			if (!parse_when(optarg, NULL, &p->start_after))
				return usage_error("bad --start-at '%s' (YYYY-MM-DD HH:MM, local time)", optarg);
			break;
		case O_SUSPEND: p->suspend_ready = true; break;
		case O_NOTIFY: p->notify_user = true; break;
		case O_MATCHED: p->matched = true; break;
		case O_FOLLOW: p->follow = true; break;
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
	j->start_after = p->start_after;
	j->suspend_ready = p->suspend_ready;
	j->notify_user = p->notify_user;
	j->o = p->o;
	j->o.include = p->o.include ? x_strdup(p->o.include) : NULL;
	j->o.exclude = p->o.exclude ? x_strdup(p->o.exclude) : NULL;
	j->o.folder_map = p->o.folder_map ? x_strdup(p->o.folder_map) : NULL;
	/* Validate the folder rules now rather than at run time. */
	return ST_OK;
}

/* --- queue --matched ------------------------------------------------------- */

/* A matched source mailbox and its target's login (both owned). */
struct mq_item { char *src, *dst; };

/* What queue --matched found on the source endpoint. */
struct mq_scan {
	int64_t dst_ep;
	struct mq_item *items;
	size_t n, cap;
	int elsewhere;              /* matched to a mailbox on another endpoint */
	int conflict, unmatched, never;
};

static void mq_note(void *ctx, const char *login, const char *state, int64_t dst_ep,
                    const char *dst_login)
{
	struct mq_scan *q = ctx;
	if (!state)
		q->never++;
	else if (!strcmp(state, "conflict"))
		q->conflict++;
	else if (!dst_login || strcmp(state, "matched"))
		q->unmatched++;
	else if (dst_ep != q->dst_ep)
		q->elsewhere++;
	else {
		q->items = x_grow(q->items, q->n, &q->cap, sizeof *q->items, 64);
		q->items[q->n++] = (struct mq_item){ x_strdup(login), x_strdup(dst_login) };
	}
}

static void mq_free(struct mq_scan *q)
{
	for (size_t i = 0; i < q->n; i++)
		free(q->items[i].src), free(q->items[i].dst);
	free(q->items);
}

/* Queues one matched mailbox unless its pair already has a job waiting or
 * running; *queued says which. */
static enum st mq_queue_one(struct app *a, const char *src, const char *dst, const struct mq_item *it,
                            const struct pass_args *p, bool *queued, struct err *e)
{
	char *spec = x_asprintf("%s=%s", it->src, it->dst);
	struct job j;
	bool active = false;
	enum st s = make_job(a, src, dst, spec, p, &j, e);
	free(spec);
	if (!s)
		s = store_pair_active(a->st, j.src_ep, j.src_user, j.dst_ep, j.dst_user, &active, e);
	*queued = !s && !active;
	if (*queued && !(s = store_job_add(a->st, &j, e)))
		printf("job %lld queued: %s -> %s (%s pass)\n", (long long)j.id, j.src_user, j.dst_user,
		       pass_kind_name(j.o.pass));
	else if (!s)
		printf("%s -> %s already has a job queued, running or paused: not queued again\n",
		       j.src_user, j.dst_user);
	job_free(&j);
	return s;
}

/* queue SRC DST --matched: every mailbox of SRC that `forest match` matched
 * to a mailbox on DST, with that mailbox's login, in one transaction. */
static int queue_matched(struct app *a, const char *src, const char *dst, struct pass_args *p)
{
	struct err e;
	err_clear(&e);
	struct mq_scan q = { 0 };
	struct endpoint se = { 0 }, de = { 0 };
	int queued = 0, already = 0;
	enum st s = open_store(a, &e);
	if (!s)
		s = store_endpoint_get(a->st, src, &se, &e);
	if (!s)
		s = store_endpoint_get(a->st, dst, &de, &e);
	q.dst_ep = de.id;
	if (!s)
		s = store_matched_each(a->st, se.id, mq_note, &q, &e);
	if (!s)
		s = store_begin(a->st, &e);
	for (size_t i = 0; !s && i < q.n; i++) {
		bool done = false;
		s = mq_queue_one(a, src, dst, &q.items[i], p, &done, &e);
		queued += done;
		already += !s && !done;
	}
	if (!s)
		s = store_commit(a->st, &e);
	else if (a->st)
		store_rollback(a->st);
	if (!s)
		printf("%d matched mailboxes of %s queued to %s (%d already queued); not queued: %d "
		       "conflicts, %d unmatched, %d never matched, %d matched to another endpoint\n",
		       queued, src, dst, already, q.conflict, q.unmatched, q.never, q.elsewhere);
	mq_free(&q);
	endpoint_free(&se);
	endpoint_free(&de);
	pass_args_free(p);
	return s ? cmd_fail(&e) : 0;
}

static int cmd_queue(struct app *a, int argc, char **argv)
{
	struct pass_args p;
	int rc = parse_cmd(a, argc, argv, &p, 2, -1, "queue needs SRC DST MAILBOX... (or SRC DST --matched)");
	if (rc)
		return rc;
	if (p.matched && argc - optind != 2) {
		pass_args_free(&p);
		return usage_error("%s", "queue SRC DST --matched takes no MAILBOX (it queues every "
		                   "matched one)");
	}
	if (p.matched)
		return queue_matched(a, argv[optind], argv[optind + 1], &p);
	if (argc - optind < 3) {
		pass_args_free(&p);
		return usage_error("%s", "queue needs SRC DST MAILBOX... (or SRC DST --matched)");
	}
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
			char when[32];
			printf("job %lld queued: %s -> %s (%s pass)%s%s\n", (long long)j.id, j.src_user,
			       j.dst_user, pass_kind_name(j.o.pass), j.start_after ? ", not before " : "",
			       j.start_after ? fmt_when(j.start_after, NULL, when) : "");
			queued++;
		}
		job_free(&j);
	}
	if (!s)
		s = store_commit(a->st, &e);
	else if (a->st)
		store_rollback(a->st);
	pass_args_free(&p);
	return s ? cmd_fail(&e) : 0;
}

static int cmd_run(struct app *a, int argc, char **argv)
{
	struct pass_args p;
	int rc = parse_cmd(a, argc, argv, &p, 0, 0, "unexpected arguments");
	if (rc)
		return rc;
	struct engine_opts o = { .cfg = &a->cfg, .store_path = a->store_path, .workers = p.workers,
	                         .progress = true, .cancel = &g_cancel, .health = true, .follow = p.follow };
	struct err e;
	err_clear(&e);
	enum st s = engine_run_queue(&o, &e);
	pass_args_free(&p);
	struct err oe;
	if (s != ST_UNAVAIL && !open_store(a, &oe))
		sched_print_waiting(a->st);
	if (s == ST_PARTIAL) {
		fprintf(stderr, "mailferry: done; some items were skipped: see 'mailferry skipped'\n");
		return st_exit_code(s);
	}
	return s ? cmd_fail(&e) : 0;
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
		return cmd_fail(&e);
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
	return s ? cmd_fail(&e) : 0;
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
		return cmd_fail(&e);
	return vr.missing || vr.differ ? 1 : 0;
}

static void print_job(void *ctx, const struct job *j, const char *src_ep, const char *dst_ep)
{
	(void)ctx;
	char when[32], next[64] = "";
	if (j->state == JOB_READY && j->next_sync)
		snprintf(next, sizeof next, "  next sync %s", fmt_when(j->next_sync, NULL, when));
	else if (j->state == JOB_COMPLETING && j->cutover_at > clock_now())
		snprintf(next, sizeof next, "  cutover at %s", fmt_when(j->cutover_at, NULL, when));
	printf("%-5lld %-10s %-18s %s:%s -> %s:%s  %lld msgs %.1f MB, %lld skipped, %lld failed%s%s%s\n",
	       (long long)j->id, job_state_name(j->state), pass_kind_name(j->o.pass), src_ep, j->src_user,
	       dst_ep, j->dst_user, (long long)j->items_done, (double)j->bytes_done / 1e6,
	       (long long)j->items_skipped, (long long)j->items_failed, next, j->error ? "  error: " : "",
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

/* "failed": retry (retry-errors) copies it again; "skipped": for good. */
static const char *skipped_mark(const struct skipped_row *r)
{
	return r->failed ? "failed" : "skipped";
}

static void print_skipped(void *ctx, const struct skipped_row *r)
{
	(void)ctx;
	printf("job %lld  %-7s  folder \"%s\"  UID %u  %llu bytes  subject \"%s\"  %s\n", (long long)r->job,
	       skipped_mark(r), r->folder, r->uid, (unsigned long long)r->size, r->subject ? r->subject : "",
	       r->reason);
}

static int cmd_console(struct app *a, int argc, char **argv)
{
	int workers = a->cfg.workers;
	bool engine = true;
	for (int i = 1; i < argc; i++) {
		long long v;
		if (!strcmp(argv[i], "--no-engine"))
			engine = false;
		else if (!strcmp(argv[i], "--keys")) {
			if (argc > 2)   /* --keys prints and exits: anything beside it is a mistake */
				return usage_error("unexpected argument '%s' for console --keys", argv[i == 1 ? 2 : 1]);
			console_print_keys(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--workers") && i + 1 < argc && parse_int(argv[i + 1], 1, 256, &v))
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
		s = store_skipped_rows(a->st, p.job_id, print_skipped, NULL, &e);
	pass_args_free(&p);
	return s ? cmd_fail(&e) : 0;
}

/* --- config and about ---------------------------------------------------- */

static void show_key(const struct cfg *c, const struct cfg_key *k)
{
	char value[PATH_MAX + 1], def[PATH_MAX + 1], allowed[256];
	cfg_get_text(c, k->name, value, sizeof value);
	cfg_default_text(k, def, sizeof def);
	cfg_allowed_text(k, allowed, sizeof allowed);
	printf("  %s = %s%s\n", k->name, *value ? value : "(none)",
	       cfg_is_default(c, k) ? "   [default]" : "");
	printf("      %s\n", k->help);
	printf("      Allowed: %s.  Default: %s.%s\n", allowed, *def ? def : "(none)",
	       (k->flags & CFG_RESTART) ? "  Needs an engine restart." : "");
}

/* Prints the keys of one tab; false when it has none. */
static bool show_tab(const struct cfg *c, enum cfg_tab t, bool always)
{
	size_t n;
	const struct cfg_key *keys = cfg_keys(&n);
	bool any = false;
	for (size_t i = 0; i < n; i++) {
		if (keys[i].tab != t)
			continue;
		if (!any)
			printf("\n%s\n", cfg_tab_name(t));
		any = true;
		show_key(c, &keys[i]);
	}
	if (!any && always)
		printf("\n%s\n  (no settings yet)\n", cfg_tab_name(t));
	return any;
}

static int config_show(struct app *a, int argc, char **argv)
{
	enum cfg_tab only = CFG_TAB__COUNT;
	if (argc == 4 && !strcmp(argv[2], "--tab")) {
		if (!cfg_tab_from_name(argv[3], &only))
			return usage_error("unknown tab '%s' (general, activities, mailboxes, workers, "
			                   "scripts or notifications)", argv[3]);
	} else if (argc != 2) {
		return usage_error("%s", "config show takes only --tab TAB");
	}
	bool exists = access(a->config_path, F_OK) == 0;
	printf("Settings from %s%s\n", a->config_path,
	       exists ? "" : " (not found: built-in defaults)");
	for (int t = 0; t < CFG_TAB__COUNT; t++)
		if (only == CFG_TAB__COUNT || only == (enum cfg_tab)t)
			show_tab(&a->cfg, (enum cfg_tab)t, only != CFG_TAB__COUNT);
	return 0;
}

static int config_set(struct app *a, const char *key, const char *value)
{
	struct err e;
	err_clear(&e);
	enum st s = cfg_set(&a->cfg, key, value, &e);
	if (!s)
		s = cfg_save(&a->cfg, a->config_path, &e);
	if (s)
		return cmd_fail(&e);
	char text[PATH_MAX + 1];
	cfg_get_text(&a->cfg, key, text, sizeof text);
	printf("%s = %s (saved in %s)\n", key, text, a->config_path);
	return 0;
}

static int cmd_config(struct app *a, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	if (!strcmp(sub, "show"))
		return config_show(a, argc, argv);
	if (!strcmp(sub, "set") && argc == 4)
		return config_set(a, argv[2], argv[3]);
	if (!strcmp(sub, "get") && argc == 3) {
		char text[PATH_MAX + 1];
		struct err e;
		err_clear(&e);
		if (!cfg_key_lookup(argv[2], &e))
			return cmd_fail(&e);
		cfg_get_text(&a->cfg, argv[2], text, sizeof text);
		printf("%s\n", text);
		return 0;
	}
	return usage_error("%s", "use config show [--tab TAB], config get KEY or config set KEY VALUE");
}

/* ncurses' own version call, declared here rather than by including
 * <curses.h>, whose macros (clear, move, timeout, ...) would leak into the
 * whole command line.  The binary links ncurses for the console; libmf
 * (about.c) does not, so this line is added here. */
extern const char *curses_version(void);

static void print_about_line(void *ctx, const char *label, const char *value)
{
	(void)ctx;
	printf("%-14s %s\n", label, value);
}

static int cmd_about(struct app *a, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return usage_error("%s", "about takes no arguments");
	about_lines(a->config_path, a->store_path, print_about_line, NULL);
	print_about_line(NULL, "ncurses", curses_version());
	return 0;
}


/* --- times ------------------------------------------------------------------ */

/* Runs mktime/localtime in zone tz (NULL: the local zone) by switching TZ
 * for the call; the CLI is single-threaded. */
static char *tz_push(const char *tz)
{
	const char *cur = getenv("TZ");
	char *saved = cur ? x_strdup(cur) : NULL;
	if (tz) {
		setenv("TZ", tz, 1);
		tzset();
	}
	return saved;
}

static void tz_pop(const char *tz, char *saved)
{
	if (tz) {
		if (saved)
			setenv("TZ", saved, 1);
		else
			unsetenv("TZ");
		tzset();
	}
	free(saved);
}

/* 'YYYY-MM-DD HH:MM' in zone tz -> unix time. */
static bool parse_when(const char *s, const char *tz, int64_t *out)
{
	struct tm tm = { 0 };
	const char *end = strptime(s, "%Y-%m-%d %H:%M", &tm);
	if (!end || *end)
		return false;
	tm.tm_isdst = -1;
	char *saved = tz_push(tz);
	time_t t = mktime(&tm);
	tz_pop(tz, saved);
	if (t == (time_t)-1)
		return false;
	*out = (int64_t)t;
	return true;
}

/* Unix time -> 'YYYY-MM-DD HH:MM' in zone tz; "-" for 0. */
static const char *fmt_when(int64_t ts, const char *tz, char buf[32])
{
	if (!ts)
		return "-";
	time_t t = (time_t)ts;
	struct tm tm;
	char *saved = tz_push(tz);
	localtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%d %H:%M", &tm);
	tz_pop(tz, saved);
	return buf;
}

static bool parse_id(const char *s, int64_t *id)
{
	long long v;
	if (!parse_int(s, 1, INT64_MAX, &v))
		return false;
	*id = v;
	return true;
}

/* --- pause / resume ------------------------------------------------------- */

/* cutover and retry (src/cmd_sched.c). */
static int cmd_lifecycle(struct app *a, int argc, char **argv)
{
	struct err e;
	err_clear(&e);
	if (open_store(a, &e))
		return cmd_fail(&e);
	return !strcmp(argv[0], "cutover") ? cmd_cutover(a->st, argc, argv) : cmd_retry(a->st, argc, argv);
}

static int cmd_pause_resume(struct app *a, int argc, char **argv, bool pause)
{
	if (argc < 2)
		return usage_error("%s", pause ? "pause needs JOB..." : "resume needs JOB... or --endpoint NAME");
	struct err e;
	err_clear(&e);
	if (open_store(a, &e))
		return cmd_fail(&e);
	if (!pause && !strcmp(argv[1], "--endpoint"))
		return argc == 3 ? cmd_resume_endpoint(a->st, argv[2])
		                 : usage_error("%s", "resume --endpoint needs NAME");
	int rc = 0;
	for (int i = 1; i < argc; i++) {
		int64_t id;
		if (!parse_id(argv[i], &id))
			return usage_error("bad job id '%s'", argv[i]);
		enum st s = pause ? store_job_pause(a->st, id, &e) : store_job_resume(a->st, id, &e);
		struct job j;
		if (!s)
			s = store_job_get(a->st, id, &j, &e);
		if (s) {
			rc = cmd_fail(&e);
			continue;
		}
		if (pause && j.state == JOB_RUNNING)
			printf("job %lld: pause requested; it stops at its next checkpoint\n", (long long)id);
		else if (pause)
			printf("job %lld paused\n", (long long)id);
		else if (j.state == JOB_RUNNING)
			printf("job %lld: pending pause withdrawn; it keeps running\n", (long long)id);
		else
			printf("job %lld resumed (queued)\n", (long long)id);
		job_free(&j);
	}
	return rc;
}

/* --- forest ----------------------------------------------------------------- */

/* The options of forest add and forest set; pointers into argv, the scope
 * and the password source owned by the struct. */
struct forest_args {
	struct forest f;            /* fields given (NULL when not) */
	struct sbuf scope;
	struct sbuf attrs;          /* --attr FIELD=ATTRIBUTE, one a line */
	bool scope_given, postpone_given;
	struct pw_source pw;
};

static void forest_args_free(struct forest_args *fa)
{
	sb_free(&fa->scope);
	sb_free(&fa->attrs);
	free(fa->pw.ref);
}

/* Parses argv into fa; returns an exit code (0: go on). */
static int forest_parse(int argc, char **argv, struct forest_args *fa)
{
	enum { F_ROLE = 1, F_DIR, F_BIND, F_BASE, F_FILTER, F_SCOPE, F_MODE, F_POSTPONE, F_NOPOSTPONE, F_PWFILE,
	       F_PWENV, F_PWCMD, F_PWSTDIN, F_ATTR };
	static const struct option opts[] = {
		{ "role", required_argument, NULL, F_ROLE },
		{ "directory", required_argument, NULL, F_DIR },
		{ "bind-dn", required_argument, NULL, F_BIND },
		{ "base-dn", required_argument, NULL, F_BASE },
		{ "filter", required_argument, NULL, F_FILTER },
		{ "scope", required_argument, NULL, F_SCOPE },
		{ "blackout-mode", required_argument, NULL, F_MODE },
		{ "allow-postpone", no_argument, NULL, F_POSTPONE },
		{ "no-allow-postpone", no_argument, NULL, F_NOPOSTPONE },
		{ "bind-password-file", required_argument, NULL, F_PWFILE },
		{ "bind-password-env", required_argument, NULL, F_PWENV },
		{ "bind-password-cmd", required_argument, NULL, F_PWCMD },
		{ "bind-password-stdin", no_argument, NULL, F_PWSTDIN },
		{ "attr", required_argument, NULL, F_ATTR },
		{ 0 }
	};
	memset(fa, 0, sizeof *fa);
	sb_init(&fa->scope);
	sb_init(&fa->attrs);
	struct forest *f = &fa->f;
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case F_ROLE: f->role = optarg; break;
		case F_DIR: f->dir_url = optarg; break;
		case F_BIND: f->dir_bind_dn = optarg; break;
		case F_BASE: f->dir_base_dn = optarg; break;
		case F_FILTER: f->dir_filter = optarg; break;
		case F_SCOPE:
			sb_printf(&fa->scope, "%s%s", fa->scope.len ? "\n" : "", optarg);
			fa->scope_given = true;
			break;
		case F_MODE: f->blackout_mode = optarg; break;
		case F_POSTPONE: f->allow_postpone = fa->postpone_given = true; break;
		case F_NOPOSTPONE: f->allow_postpone = false, fa->postpone_given = true; break;
		case F_PWFILE: pw_source_set(&fa->pw, "file", optarg); break;
		case F_PWENV: pw_source_set(&fa->pw, "env", optarg); break;
		case F_PWCMD: pw_source_set(&fa->pw, "cmd", optarg); break;
		case F_PWSTDIN: pw_source_set(&fa->pw, "stdin", NULL); break;
		case F_ATTR: sb_printf(&fa->attrs, "%s%s", fa->attrs.len ? "\n" : "", optarg); break;
		default: return st_exit_code(ST_USAGE);
		}
	}
	if (argc - optind != 1)
		return usage_error("%s", "forest add and forest set need one NAME");
	if (fa->pw.count > 1)
		return usage_error("%s", "give at most one bind password source: --bind-password-file, "
		                   "--bind-password-env, --bind-password-cmd or --bind-password-stdin");
	f->name = argv[optind];
	f->scope = fa->scope.data;
	return 0;
}

/* Checks the directory URL and stores the bind password source. */
static enum st forest_directory(struct app *a, struct forest_args *fa, const char *name,
                                struct err *e)
{
	if (fa->f.dir_url && *fa->f.dir_url) {
		enum st s = directory_url_check(fa->f.dir_url, e);
		if (s) {
			err_prefix(e, "forest %s", name);
			return s;
		}
	}
	if (!fa->pw.count)
		return ST_OK;
	char *secret_name = x_asprintf("forest:%s", name);
	enum st s = pw_source_ref(a, &fa->pw, secret_name, e);
	free(secret_name);
	fa->f.dir_secret_ref = fa->pw.ref;
	return s;
}

/* The attribute map with fa's --attr applied to *map (dirmap.h). */
static enum st forest_attrs(struct forest_args *fa, char **map, struct err *e)
{
	enum st s = dirmap_apply(map, fa->attrs.data, e);
	if (s)
		err_prefix(e, "forest %s", fa->f.name);
	return s;
}

static int cmd_forest_add(struct app *a, int argc, char **argv)
{
	struct forest_args fa;
	int rc = forest_parse(argc, argv, &fa);
	if (!rc && !fa.f.role)
		rc = usage_error("%s", "forest add needs NAME and --role source|target|tenant");
	if (rc) {
		forest_args_free(&fa);
		return rc;
	}
	struct err e;
	err_clear(&e);
	char *attrs = NULL;
	enum st s = open_store(a, &e);
	if (!s)
		s = forest_directory(a, &fa, fa.f.name, &e);
	if (!s && fa.attrs.len)
		s = forest_attrs(&fa, &attrs, &e);
	if (!s)
		s = store_forest_add(a->st, &fa.f, &e);
	if (!s && attrs)
		s = store_forest_set_attrs(a->st, fa.f.id, attrs, &e);
	if (!s)
		printf("forest %s added (%s)\n", fa.f.name, fa.f.role);
	free(attrs);
	forest_args_free(&fa);
	return s ? cmd_fail(&e) : 0;
}

/* Strings of the update: the new value if given, else a copy of the old. */
static void forest_merge(struct forest *old, const struct forest *given)
{
	char **dst[] = { &old->role, &old->dir_url, &old->dir_bind_dn, &old->dir_secret_ref,
	                 &old->dir_base_dn, &old->dir_filter, &old->scope, &old->blackout_mode };
	const char *src[] = { given->role, given->dir_url, given->dir_bind_dn, given->dir_secret_ref,
	                      given->dir_base_dn, given->dir_filter, given->scope, given->blackout_mode };
	for (size_t i = 0; i < countof(dst); i++) {
		if (!src[i])
			continue;
		free(*dst[i]);
		*dst[i] = *src[i] ? x_strdup(src[i]) : NULL;   /* "" clears */
	}
}

static int cmd_forest_set(struct app *a, int argc, char **argv)
{
	struct forest_args fa;
	int rc = forest_parse(argc, argv, &fa);
	if (rc) {
		forest_args_free(&fa);
		return rc;
	}
	struct err e;
	err_clear(&e);
	struct forest f = { 0 };
	enum st s = open_store(a, &e);
	if (!s)
		s = store_forest_get(a->st, fa.f.name, &f, &e);
	if (!s)
		s = forest_directory(a, &fa, fa.f.name, &e);
	if (!s && fa.attrs.len)
		s = forest_attrs(&fa, &f.dir_attrs, &e);
	if (!s) {
		if (!fa.scope_given)
			fa.f.scope = NULL;
		forest_merge(&f, &fa.f);
		if (fa.postpone_given)
			f.allow_postpone = fa.f.allow_postpone;
		s = store_forest_update(a->st, &f, &e);
	}
	if (!s && fa.attrs.len)
		s = store_forest_set_attrs(a->st, f.id, f.dir_attrs, &e);
	if (!s)
		printf("forest %s updated\n", f.name);
	forest_free(&f);
	forest_args_free(&fa);
	return s ? cmd_fail(&e) : 0;
}

/* The endpoint discovered mailboxes go to: the one named, or the forest's
 * only endpoint. */
struct forest_ep { int64_t forest_id; int n; int64_t id; };

static void count_forest_endpoint(void *ctx, const struct endpoint *ep)
{
	struct forest_ep *p = ctx;
	if (ep->forest_id == p->forest_id) {
		p->n++;
		p->id = ep->id;
	}
}

static enum st discover_endpoint(struct app *a, const struct forest *f, const char *name,
                                 int64_t *id, struct err *e)
{
	if (name) {
		struct endpoint ep;
		enum st s = store_endpoint_get(a->st, name, &ep, e);
		if (!s && ep.forest_id != f->id)
			s = err_set(e, ST_CONFIG, "endpoint %s is not in forest %s", name, f->name);
		*id = ep.id;
		endpoint_free(&ep);
		return s;
	}
	struct forest_ep p = { f->id, 0, 0 };
	enum st s = store_endpoint_each(a->st, count_forest_endpoint, &p, e);
	if (!s && p.n != 1)
		return err_set(e, ST_CONFIG, "forest %s has %d mail endpoints: say which one gets the "
		               "mailboxes with --endpoint NAME (endpoint add ... --forest %s)", f->name,
		               p.n, f->name);
	*id = p.id;
	return s;
}

static void print_discovery(const struct forest *f, const struct dir_report *r)
{
	printf("forest %s: %s discovery: %lld added, %lld changed, %lld vanished, %lld total "
	       "(%lld entries read in %d pages, %.1f s)\n", f->name, r->full ? "full" : "incremental",
	       (long long)r->added, (long long)r->changed, (long long)r->vanished,
	       (long long)r->total, (long long)r->seen, r->pages, (double)r->elapsed_ms / 1000.0);
	printf("  %lld hidden from address lists, %lld delegations, %lld delegates not found, "
	       "%lld entries without a login, %lld renamed\n", (long long)r->hidden,
	       (long long)r->delegates, (long long)r->unresolved, (long long)r->skipped,
	       (long long)r->renamed);
	if (r->referrals)
		printf("  %lld referrals not followed (the first to %s)%s: nothing marked vanished\n",
		       (long long)r->referrals, r->referral,
		       r->referral_loop ? ", one back to this directory (a referral loop)" : "");
	printf("  directory server %s, base DN %s%s%s%s\n", r->server[0] ? r->server : "-",
	       r->base_dn[0] ? r->base_dn : "-", r->base_from ? " (from the root DSE's " : "",
	       r->base_from ? r->base_from : "", r->base_from ? ")" : "");
}

static int cmd_forest_discover(struct app *a, int argc, char **argv)
{
	const char *name = NULL, *endpoint = NULL;
	bool full = false;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--full"))
			full = true;
		else if (!strcmp(argv[i], "--endpoint") && i + 1 < argc)
			endpoint = argv[++i];
		else if (!name && argv[i][0] != '-')
			name = argv[i];
		else
			return usage_error("unexpected argument '%s'", argv[i]);
	}
	if (!name)
		return usage_error("%s", "forest discover needs NAME");
	struct err e;
	err_clear(&e);
	struct forest f = { 0 };
	struct dir_report rep;
	int64_t ep = 0;
	enum st s = open_store(a, &e);
	if (!s)
		s = store_forest_get(a->st, name, &f, &e);
	if (!s)
		s = discover_endpoint(a, &f, endpoint, &ep, &e);
	if (!s) {
		s = directory_discover(a->st, &f, ep, a->cfg.secrets_path, a->cfg.timeout_s, full, &rep, &e);
		store_event(a->st, s ? EV_ERROR : EV_INFO, 0, "forest %s: discovery %s: %lld added, "
		            "%lld changed, %lld vanished%s%s", f.name, s ? "failed" : "done",
		            (long long)rep.added, (long long)rep.changed, (long long)rep.vanished,
		            s ? ": " : "", s ? e.msg : "");
	}
	if (!s)
		print_discovery(&f, &rep);
	forest_free(&f);
	return s ? cmd_fail(&e) : 0;
}

/* --- forest match ------------------------------------------------------------ */

struct match_print { bool all; };

/* "login on ENDPOINT (Display Name)" of a mailbox. */
static void print_box(const struct match_box *b)
{
	printf("%s on %s%s%s%s", b->login, b->endpoint, b->display_name ? " (" : "",
	       b->display_name ? b->display_name : "", b->display_name ? ")" : "");
}

/* The keys an unmatched mailbox had: address, proxy addresses, UPN. */
static void print_keys(const struct match_box *b)
{
	printf("      keys: address %s; proxy addresses ", b->address ? b->address : "-");
	for (const char *p = b->proxies ? b->proxies : "-"; *p; p++) {
		if (*p == '\n')
			fputs(", ", stdout);
		else
			putchar(*p);
	}
	printf("; upn %s; login %s; key %s\n", b->upn ? b->upn : "-", b->login, b->key ? b->key : "-");
}

static void print_match(void *ctx, const struct match_result *r)
{
	const struct match_print *mp = ctx;
	if (r->state == MATCH_MATCHED && !mp->all)
		return;
	printf("%-10s ", match_state_name(r->state));
	print_box(r->src);
	if (r->state == MATCH_MATCHED) {
		printf(" -> %s on %s by %s %s\n", r->targets[0].box->login, r->targets[0].box->endpoint,
		       match_by_name(r->targets[0].by), r->targets[0].key);
		return;
	}
	printf("\n");
	for (size_t i = 0; i < r->ntargets; i++) {
		printf("      %s %s -> ", match_by_name(r->targets[i].by), r->targets[i].key);
		print_box(r->targets[i].box);
		printf("\n");
	}
	for (size_t i = 0; i < r->nrivals; i++) {
		printf("      also claimed by ");
		print_box(r->rivals[i].box);
		printf(" through %s %s\n", match_by_name(r->rivals[i].by), r->rivals[i].key);
	}
	if (r->state == MATCH_UNMATCHED)
		print_keys(r->src);
}

/* Parses --by VALUE (may repeat, or comma-separated) into by[]. */
static int match_by_arg(const char *arg, enum match_by *by, size_t *nby)
{
	char *copy = x_strdup(arg), *save = NULL;
	int rc = 0;
	for (char *t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
		enum match_by b;
		if (!match_by_parse(t, &b))
			rc = usage_error("unknown --by '%s' (address, proxy, upn, login, key)", t);
		bool dup = false;
		for (size_t i = 0; !rc && i < *nby; i++)
			dup |= by[i] == b;
		if (!rc && !dup)
			by[(*nby)++] = b;
	}
	free(copy);
	return rc;
}

/* forest match SOURCE TARGET [--by C]... [--all]: exit 0 when every source
 * mailbox is matched, 1 when conflicts or unmatched ones are listed. */
static int cmd_forest_match(struct app *a, int argc, char **argv)
{
	const char *names[2] = { NULL, NULL };
	enum match_by by[MATCH__COUNT];
	size_t nby = 0;
	struct match_print mp = { false };
	for (int i = 2; i < argc; i++) {
		int rc = 0;
		if (!strcmp(argv[i], "--by") && i + 1 < argc)
			rc = match_by_arg(argv[++i], by, &nby);
		else if (!strcmp(argv[i], "--all"))
			mp.all = true;
		else if (argv[i][0] != '-' && (!names[0] || !names[1]))
			names[names[0] ? 1 : 0] = argv[i];
		else
			rc = usage_error("unexpected argument '%s'", argv[i]);
		if (rc)
			return rc;
	}
	if (!names[1])
		return usage_error("%s", "forest match needs SOURCE and TARGET forests");
	struct err e;
	err_clear(&e);
	struct forest sf = { 0 }, tf = { 0 };
	struct match_counts c;
	enum st s = open_store(a, &e);
	if (!s)
		s = store_forest_get(a->st, names[0], &sf, &e);
	if (!s)
		s = store_forest_get(a->st, names[1], &tf, &e);
	if (!s)
		s = match_forests(a->st, sf.id, tf.id, by, nby, print_match, &mp, &c, &e);
	if (!s) {
		printf("forest match %s -> %s: %lld matched, %lld conflicts, %lld unmatched (%lld source, "
		       "%lld target mailboxes; by ", sf.name, tf.name, (long long)c.matched,
		       (long long)c.conflicts, (long long)c.unmatched, (long long)c.sources,
		       (long long)c.targets);
		for (size_t i = 0; i < (nby ? nby : 3); i++)
			printf("%s%s", i ? ", " : "", match_by_name(nby ? by[i] : (enum match_by)i));
		printf(")\n");
		store_event(a->st, EV_INFO, 0, "forest match %s -> %s: %lld matched, %lld conflicts, "
		            "%lld unmatched", sf.name, tf.name, (long long)c.matched,
		            (long long)c.conflicts, (long long)c.unmatched);
	}
	forest_free(&sf);
	forest_free(&tf);
	if (s)
		return cmd_fail(&e);
	return c.conflicts || c.unmatched ? 1 : 0;
}

static void print_forest(void *ctx, const struct forest *f)
{
	(void)ctx;
	printf("%-20s %-7s %-30s base=%s%s%s%s", f->name, f->role, f->dir_url ? f->dir_url : "-",
	       f->dir_base_dn ? f->dir_base_dn : "-", f->allow_postpone ? " postpone-allowed" : "",
	       f->dir_hwm ? " discovered-up-to=" : "", f->dir_hwm ? f->dir_hwm : "");
	if (f->dir_attrs) {
		fputs(" attrs=", stdout);
		for (const char *p = f->dir_attrs; *p; p++)
			putchar(*p == '\n' ? ',' : *p);
	}
	putchar('\n');
}

static int cmd_forest_check(struct app *a, int argc, char **argv);

static int cmd_forest(struct app *a, int argc, char **argv)
{
	struct err e;
	err_clear(&e);
	if (argc < 2)
		return usage_error("%s", "forest needs a subcommand: add, set, list, discover, match, check, checklist, remove");
	const char *sub = argv[1];
	if (!strcmp(sub, "add"))
		return cmd_forest_add(a, argc - 1, argv + 1);
	if (!strcmp(sub, "set"))
		return cmd_forest_set(a, argc - 1, argv + 1);
	if (!strcmp(sub, "discover"))
		return cmd_forest_discover(a, argc, argv);
	if (!strcmp(sub, "match"))
		return cmd_forest_match(a, argc, argv);
	if (!strcmp(sub, "check"))
		return cmd_forest_check(a, argc - 1, argv + 1);
	if (!strcmp(sub, "checklist"))
		return open_store(a, &e) ? cmd_fail(&e) : cmd_forest_checklist(a->st, &a->cfg, argc - 1, argv + 1);
	if (!strcmp(sub, "list")) {
		if (argc != 2)
			return usage_error("%s", "forest list takes no arguments");
		if (open_store(a, &e) || store_forest_each(a->st, print_forest, NULL, &e))
			return cmd_fail(&e);
		return 0;
	}
	if (strcmp(sub, "remove"))
		return usage_error("unknown forest subcommand '%s'", sub);
	const char *name = NULL;
	bool yes = false;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--yes"))
			yes = true;
		else if (!name)
			name = argv[i];
		else
			return usage_error("unexpected argument '%s'", argv[i]);
	}
	if (!name)
		return usage_error("%s", "forest remove needs NAME");
	struct forest f;
	if (open_store(a, &e) || store_forest_get(a->st, name, &f, &e))
		return cmd_fail(&e);
	enum st s = ST_OK;
	if (strcmp(f.role, "target") && !yes)
		s = err_set(&e, ST_USAGE, "forest remove %s deletes its endpoints, mailboxes, jobs and "
		            "their history: add --yes to confirm", name);
	else
		s = store_forest_remove(a->st, f.id, &e);
	forest_free(&f);
	if (s)
		return cmd_fail(&e);
	printf("forest %s removed with its endpoints, mailboxes and jobs\n", name);
	return 0;
}

/* --- forest check, detect --------------------------------------------------- */

struct check_tally { int n[4]; };

static void print_health(void *ctx, const struct health_result *r)
{
	struct check_tally *t = ctx;
	t->n[r->level]++;
	printf("%s %-10s %-16s %s\n", health_mark(r->level), r->check,
	       r->endpoint ? r->endpoint : "-", r->detail);
	if (r->fix && r->level != HEALTH_OK)
		printf("    fix: %s\n", r->fix);
}

/* forest check NAME: exit 0 all fine, 1 warnings, 78 failures. */
static int cmd_forest_check(struct app *a, int argc, char **argv)
{
	if (argc != 2)
		return usage_error("%s", "forest check needs NAME");
	struct err e;
	err_clear(&e);
	struct check_tally t = { { 0 } };
	enum health_level worst = HEALTH_OK;
	if (open_store(a, &e) ||
	    health_check_and_keep(a->st, &a->cfg, argv[1], print_health, &t, &worst, &e))
		return cmd_fail(&e);
	printf("forest %s: %d ok, %d info, %d warning%s, %d failed\n", argv[1], t.n[HEALTH_OK],
	       t.n[HEALTH_INFO], t.n[HEALTH_WARN], t.n[HEALTH_WARN] == 1 ? "" : "s",
	       t.n[HEALTH_FAIL]);
	if (worst == HEALTH_FAIL)
		return st_exit_code(ST_CONFIG);
	return worst == HEALTH_WARN ? 1 : 0;
}

/* Prints the SRV records of prefix.domain; *found counts them. */
static enum st detect_one(struct app *a, const char *title, const char *prefix,
                          const char *domain, int *found, struct err *e)
{
	char *name = x_asprintf("%s.%s", prefix, domain);
	struct dns_srv_list l;
	enum st s = dns_srv_lookup(a->cfg.dns_server, name, &l, e);
	if (!s) {
		printf("%s (%s):%s\n", title, name, l.n ? "" : " none");
		for (size_t i = 0; i < l.n; i++) {
			char **addrs = NULL;
			size_t na = 0;
			struct err ae;
			printf("  %zu. %s:%d  priority %d weight %d  address", i + 1, l.v[i].host,
			       l.v[i].port, l.v[i].priority, l.v[i].weight);
			if (!dns_addr_lookup(a->cfg.dns_server, l.v[i].host, &addrs, &na, &ae) && na)
				for (size_t k = 0; k < na; k++)
					printf("%s%s", k ? ", " : " ", addrs[k]);
			else
				printf(" unknown (no A record)");
			printf("\n");
			dns_addrs_free(addrs, na);
		}
		*found += (int)l.n;
		dns_srv_free(&l);
	}
	free(name);
	return s;
}

/* detect DOMAIN: global catalogs, domain controllers and IMAP servers from
 * DNS SRV records; exit 0 found, 78 nothing, 75 DNS unreachable. */
static int cmd_detect(struct app *a, int argc, char **argv)
{
	if (argc != 2 || !*argv[1] || argv[1][0] == '-')
		return usage_error("%s", "detect needs DOMAIN");
	static const char *const what[][2] = {
		{ "Global catalog", "_gc._tcp" },
		{ "Domain controllers", "_ldap._tcp.dc._msdcs" },
		{ "IMAP servers, TLS", "_imaps._tcp" },
		{ "IMAP servers, STARTTLS", "_imap._tcp" },
	};
	struct err e;
	err_clear(&e);
	int found = 0;
	const char *dom = argv[1];
	printf("DNS server: %s\n", a->cfg.dns_server && *a->cfg.dns_server ? a->cfg.dns_server
	                                                                   : "system resolver");
	for (size_t i = 0; i < countof(what); i++)
		if (detect_one(a, what[i][0], what[i][1], dom, &found, &e))
			return cmd_fail(&e);
	if (!found) {
		err_set(&e, ST_CONFIG, "no SRV records for %s (_gc._tcp, _ldap._tcp.dc._msdcs, "
		        "_imaps._tcp, _imap._tcp): add them to its DNS zone or add endpoints by hand "
		        "(mailferry endpoint add)", dom);
		return cmd_fail(&e);
	}
	return 0;
}

/* --- mailbox ---------------------------------------------------------------- */

/* The endpoint of an import: the one named, or the only one there is. */
struct ep_pick { int n; int64_t id; };

static void pick_endpoint(void *ctx, const struct endpoint *ep)
{
	struct ep_pick *p = ctx;
	p->n++;
	p->id = ep->id;
}

static enum st import_endpoint(struct app *a, const char *name, int64_t *id, struct err *e)
{
	if (name) {
		struct endpoint ep;
		enum st s = store_endpoint_get(a->st, name, &ep, e);
		*id = ep.id;
		endpoint_free(&ep);
		return s;
	}
	struct ep_pick p = { 0 };
	enum st s = store_endpoint_each(a->st, pick_endpoint, &p, e);
	if (!s && p.n != 1)
		return err_set(e, ST_USAGE, "there are %d endpoints: say which one the mailboxes are on "
		               "with --endpoint NAME", p.n);
	*id = p.id;
	return s;
}

enum col { C_LOGIN, C_ADDRESS, C_DISPLAY, C_SITE, C_DATABASE, C_KIND, C_SIZE, C_ITEMS, C_FOLDERS,
           C_DELEGATES, C_UPN, C_PROXIES, C__COUNT };
static const char *const col_names[C__COUNT] = { "login", "address", "display_name", "site",
	"database", "kind", "size_bytes", "items", "folders", "delegates", "upn", "proxy_addresses" };

struct import {
	const char *file;
	int64_t endpoint_id;
	int col[C__COUNT];          /* field index of each known column, -1 when absent */
	size_t ncols;
	/* Delegations are resolved after every row is in, so a row may name a
	 * delegate that comes later in the file. */
	struct pending { int line; int64_t mailbox; char *delegates; } *pend;
	size_t npend, cap;
	int rows, links;
};

static enum st import_header(struct import *im, char **f, size_t n, struct err *e)
{
	for (int k = 0; k < C__COUNT; k++)
		im->col[k] = -1;
	for (size_t i = 0; i < n; i++) {
		int k = 0;
		while (k < C__COUNT && strcasecmp(f[i], col_names[k]))
			k++;
		if (k == C__COUNT)
			return err_set(e, ST_CONFIG, "%s:1: unknown column '%s' (known: login, address, "
			               "display_name, site, database, kind, size_bytes, items, folders, "
			               "delegates, upn, proxy_addresses)", im->file, f[i]);
		if (im->col[k] >= 0)
			return err_set(e, ST_CONFIG, "%s:1: column '%s' appears twice", im->file, f[i]);
		im->col[k] = (int)i;
	}
	if (im->col[C_LOGIN] < 0)
		return err_set(e, ST_CONFIG, "%s:1: the header has no 'login' column", im->file);
	im->ncols = n;
	return ST_OK;
}

/* A field of the row, NULL when the column is absent or the field empty. */
static const char *field(const struct import *im, char **f, enum col k)
{
	return im->col[k] >= 0 && *f[im->col[k]] ? f[im->col[k]] : NULL;
}

static enum st import_count(const struct import *im, char **f, enum col k, int line, int64_t *out,
                            struct err *e)
{
	const char *v = field(im, f, k);
	long long n;
	*out = -1;
	if (v && !parse_int(v, 0, INT64_MAX, &n))
		return err_set(e, ST_CONFIG, "%s:%d: %s '%s' is not a whole number", im->file, line,
		               col_names[k], v);
	if (v)
		*out = n;
	return ST_OK;
}

static enum st import_row(struct app *a, struct import *im, char **f, size_t n, int line,
                          struct err *e)
{
	if (n != im->ncols)
		return err_set(e, ST_CONFIG, "%s:%d: %zu fields, but the header has %zu", im->file, line,
		               n, im->ncols);
	struct mailbox_row m = { .endpoint_id = im->endpoint_id, .login = field(im, f, C_LOGIN),
	                         .address = field(im, f, C_ADDRESS), .display_name = field(im, f, C_DISPLAY),
	                         .site = field(im, f, C_SITE), .database = field(im, f, C_DATABASE),
	                         .kind = field(im, f, C_KIND) };
	if (!m.login)
		return err_set(e, ST_CONFIG, "%s:%d: the login is empty", im->file, line);
	enum st s = import_count(im, f, C_SIZE, line, &m.size_bytes, e);
	if (!s)
		s = import_count(im, f, C_ITEMS, line, &m.items, e);
	if (!s)
		s = import_count(im, f, C_FOLDERS, line, &m.folders, e);
	/* Matching keys, lower case; proxy addresses ';'-separated in the file. */
	char *upn = match_lower(field(im, f, C_UPN));
	char *proxies = match_addresses_norm(field(im, f, C_PROXIES), ";");
	m.upn = upn;
	m.proxy_addresses = proxies;
	int64_t id = 0;
	if (!s && (s = store_mailbox_upsert(a->st, &m, &id, e)))
		err_prefix(e, "%s:%d", im->file, line);
	free(upn);
	free(proxies);
	const char *dl = field(im, f, C_DELEGATES);
	if (!s && dl) {
		im->pend = x_grow(im->pend, im->npend, &im->cap, sizeof *im->pend, 16);
		im->pend[im->npend++] = (struct pending){ line, id, x_strdup(dl) };
	}
	im->rows += !s;
	return s;
}

static enum st import_delegates(struct app *a, struct import *im, const struct pending *p,
                                struct err *e)
{
	char *save = NULL;
	for (char *tok = strtok_r(p->delegates, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		tok += strspn(tok, " \t");
		size_t len = strlen(tok);
		while (len && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
			tok[--len] = '\0';
		if (!len)
			continue;
		/* LOGIN or LOGIN=RIGHTS (e.g. bob=FullAccess+SendAs). */
		char *rights = strchr(tok, '=');
		if (rights)
			*rights++ = '\0';
		int64_t id;
		if (store_mailbox_id(a->st, im->endpoint_id, tok, &id, e))
			return err_set(e, ST_CONFIG, "%s:%d: delegate '%s' is not a known mailbox (not in "
			               "the file nor in the store)", im->file, p->line, tok);
		enum st s = store_delegate_add(a->st, p->mailbox, id, rights && *rights ? rights : NULL, "csv", e);
		if (s) {
			err_prefix(e, "%s:%d", im->file, p->line);
			return s;
		}
		im->links++;
	}
	return ST_OK;
}

static enum st import_text(struct app *a, struct import *im, const char *text, size_t len,
                           struct err *e)
{
	struct csv c;
	char **f;
	size_t n;
	int line, r;
	csv_init(&c, text, len);
	r = csv_next(&c, &f, &n, &line, e);
	if (r == 0)
		return err_set(e, ST_CONFIG, "%s: empty file (a header row is needed)", im->file);
	enum st s = r < 0 ? ST_CONFIG : import_header(im, f, n, e);
	csv_fields_free(f, n);
	while (!s && (r = csv_next(&c, &f, &n, &line, e)) != 0) {
		s = r < 0 ? ST_CONFIG : import_row(a, im, f, n, line, e);
		csv_fields_free(f, n);
	}
	if (s && r < 0)
		err_prefix(e, "%s:%d", im->file, line);
	for (size_t i = 0; !s && i < im->npend; i++)
		s = import_delegates(a, im, &im->pend[i], e);
	return s;
}

static bool read_file(const char *path, struct sbuf *out)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return false;
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, fp)) > 0)
		sb_add(out, buf, n);
	bool ok = !ferror(fp);
	fclose(fp);
	return ok;
}

static int cmd_mailbox_import(struct app *a, int argc, char **argv)
{
	const char *file = NULL, *endpoint = NULL;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--endpoint") && i + 1 < argc)
			endpoint = argv[++i];
		else if (!file)
			file = argv[i];
		else
			return usage_error("unexpected argument '%s'", argv[i]);
	}
	if (!file)
		return usage_error("%s", "mailbox import needs FILE.csv");
	struct err e;
	err_clear(&e);
	struct sbuf text;
	sb_init(&text);
	if (!read_file(file, &text)) {
		sb_free(&text);
		err_set(&e, ST_CONFIG, "cannot read %s: %s", file, strerror(errno));
		return cmd_fail(&e);
	}
	struct import im = { .file = file };
	enum st s = open_store(a, &e);
	if (!s)
		s = import_endpoint(a, endpoint, &im.endpoint_id, &e);
	/* One transaction: a bad line leaves nothing of the file behind. */
	if (!s && !(s = store_begin(a->st, &e))) {
		s = import_text(a, &im, text.data ? text.data : "", text.len, &e);
		if (!s)
			s = store_commit(a->st, &e);
		else
			store_rollback(a->st);
	}
	for (size_t i = 0; i < im.npend; i++)
		free(im.pend[i].delegates);
	free(im.pend);
	sb_free(&text);
	if (s)
		return cmd_fail(&e);
	printf("%d mailboxes imported from %s (%d delegations)\n", im.rows, file, im.links);
	return 0;
}

static void print_mailbox(void *ctx, const struct mailbox_row *m)
{
	(void)ctx;
	char when[32], size[32] = "-", items[32] = "-";
	if (m->size_bytes >= 1000000)
		snprintf(size, sizeof size, "%.1f MB", (double)m->size_bytes / 1e6);
	else if (m->size_bytes >= 0)
		snprintf(size, sizeof size, "%.1f kB", (double)m->size_bytes / 1e3);
	if (m->items >= 0)
		snprintf(items, sizeof items, "%lld", (long long)m->items);
	printf("%-12s %-24s %-9s %-10s %10s %8s %-10s %-16s %lld delegates  %s\n", m->endpoint, m->login,
	       m->kind ? m->kind : "-", m->site ? m->site : "-", size, items,
	       m->vanished ? "vanished" : m->status ? m->status : "-", fmt_when(m->last_pass, NULL, when),
	       (long long)m->delegates, m->display_name ? m->display_name : "");
}

static int cmd_mailbox_measure(struct app *a, int argc, char **argv);
static int cmd_mailbox_postpone(struct app *a, int argc, char **argv);

static int cmd_mailbox(struct app *a, int argc, char **argv)
{
	struct err e;
	err_clear(&e);
	if (argc < 2)
		return usage_error("%s", "mailbox needs a subcommand: import, list, measure, postpone");
	if (!strcmp(argv[1], "postpone"))
		return cmd_mailbox_postpone(a, argc, argv);
	if (!strcmp(argv[1], "import"))
		return cmd_mailbox_import(a, argc, argv);
	if (!strcmp(argv[1], "measure"))
		return cmd_mailbox_measure(a, argc, argv);
	if (strcmp(argv[1], "list"))
		return usage_error("unknown mailbox subcommand '%s'", argv[1]);
	const char *forest = NULL;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--forest") && i + 1 < argc)
			forest = argv[++i];
		else
			return usage_error("unexpected argument '%s'", argv[i]);
	}
	if (open_store(a, &e))
		return cmd_fail(&e);
	int64_t fid = 0;
	if (forest) {
		struct forest f;
		if (store_forest_get(a->st, forest, &f, &e))
			return cmd_fail(&e);
		fid = f.id;
		forest_free(&f);
	}
	if (store_mailbox_rows(a->st, fid, 0, print_mailbox, NULL, NULL, &e))
		return cmd_fail(&e);
	return 0;
}

/* mailbox measure: one line per mailbox, then the totals. */
static void print_measured(const struct measure_result *r)
{
	if (r->status) {
		printf("%s@%s  FAILED (%s): %s\n", r->login, r->endpoint, st_message(r->status),
		       r->error ? r->error : "");
		return;
	}
	char human[32] = "?";
	if (r->size_bytes >= 0)
		snprintf(human, sizeof human, "%.1f MB", (double)r->size_bytes / 1e6);
	printf("%s@%s  folders=%lld messages=%lld size=%lld (%s) source=%s", r->login, r->endpoint,
	       (long long)r->folders, (long long)r->messages, (long long)r->size_bytes, human,
	       measure_size_src_name(r->size_src));
	if (r->unreadable)
		printf(" unreadable-folders=%lld", (long long)r->unreadable);
	printf(" delegates=");
	int shown = 0;
	for (size_t i = 0; i < r->ndelegates; i++)
		if (r->delegates[i].mailbox_id)
			printf("%s%s:%s%s", shown++ ? "," : "", r->delegates[i].who, r->delegates[i].rights,
			       r->delegates[i].kept ? "(kept)" : "");
	if (!shown)
		printf("%s", !r->acl_offered ? "-(no ACL)" : r->acl_read ? "-" : "-(ACL unreadable)");
	shown = 0;
	for (size_t i = 0; i < r->ndelegates; i++)
		if (!r->delegates[i].mailbox_id)
			printf("%s%s:%s", shown++ ? "," : " unknown=", r->delegates[i].who,
			       r->delegates[i].rights);
	printf(" time=%.2fs\n", (double)r->elapsed_ms / 1000.0);
	if (r->acl_error)
		printf("    acl: %s\n", r->acl_error);
}

static int print_measure_report(const struct measure_report *rep)
{
	for (size_t i = 0; i < rep->n; i++)
		print_measured(&rep->v[i]);
	printf("measured %lld of %zu mailboxes in %.1f s: %lld folders, %lld messages, %lld bytes "
	       "(%.1f MB); %lld delegate links from ACLs, %lld unknown identifiers\n",
	       (long long)rep->measured, rep->n, (double)rep->elapsed_ms / 1000.0,
	       (long long)rep->folders, (long long)rep->messages, (long long)rep->bytes,
	       (double)rep->bytes / 1e6, (long long)rep->links, (long long)rep->unknown);
	if (rep->failed + rep->not_started == 0)
		return 0;
	printf("%lld failed, %lld not started:\n", (long long)rep->failed,
	       (long long)rep->not_started);
	for (size_t i = 0; i < rep->n; i++)
		if (rep->v[i].status)
			printf("  %s@%s: %s\n", rep->v[i].login, rep->v[i].endpoint, rep->v[i].error);
	return 1;
}

static int cmd_mailbox_measure(struct app *a, int argc, char **argv)
{
	const char *endpoint = NULL, *forest = NULL;
	long long workers = a->cfg.workers > 0 ? a->cfg.workers : 4;
	const char **logins = x_calloc((size_t)argc + 1, sizeof *logins);
	size_t nlogins = 0;
	int rc = -1;
	for (int i = 2; i < argc && rc < 0; i++) {
		if (!strcmp(argv[i], "--endpoint") && i + 1 < argc)
			endpoint = argv[++i];
		else if (!strcmp(argv[i], "--forest") && i + 1 < argc)
			forest = argv[++i];
		else if (!strcmp(argv[i], "--workers") && i + 1 < argc) {
			if (!parse_int(argv[++i], 1, 256, &workers))
				rc = usage_error("bad --workers '%s' (1 to 256)", argv[i]);
		} else if (argv[i][0] != '-')
			logins[nlogins++] = argv[i];
		else
			rc = usage_error("unexpected argument '%s'", argv[i]);
	}
	if (rc < 0 && endpoint && forest)
		rc = usage_error("%s", "give --endpoint or --forest, not both");
	if (rc >= 0) {
		free(logins);
		return rc;
	}
	struct err e;
	err_clear(&e);
	struct measure_opts o = { .cfg = &a->cfg, .store_path = a->store_path, .workers = (int)workers,
	                          .cancel = &g_cancel, .logins = nlogins ? logins : NULL };
	enum st s = open_store(a, &e);
	if (!s && endpoint) {
		struct endpoint ep;
		s = store_endpoint_get(a->st, endpoint, &ep, &e);
		o.endpoint_id = s ? 0 : ep.id;
		if (!s)
			endpoint_free(&ep);
	}
	if (!s && forest) {
		struct forest f;
		s = store_forest_get(a->st, forest, &f, &e);
		o.forest_id = s ? 0 : f.id;
		if (!s)
			forest_free(&f);
	}
	struct measure_report rep;
	if (!s)
		s = measure_run(&o, &rep, &e);
	free(logins);
	if (s)
		return cmd_fail(&e);
	store_event(a->st, rep.failed ? EV_WARN : EV_INFO, 0, "mailbox measure: %lld of %zu mailboxes "
	            "measured, %lld failed; %lld delegate links from ACLs", (long long)rep.measured,
	            rep.n, (long long)rep.failed, (long long)rep.links);
	rc = print_measure_report(&rep);
	measure_report_free(&rep);
	return rc;
}

/* --- blackout --------------------------------------------------------------- */

struct mb_find { struct app *a; const char *login; int64_t id, endpoint_id; int n; };

static void find_mailbox(void *ctx, const struct endpoint *ep)
{
	struct mb_find *f = ctx;
	int64_t id;
	struct err e;
	if (!store_mailbox_id(f->a->st, ep->id, f->login, &id, &e)) {
		f->id = id;
		f->endpoint_id = ep->id;
		f->n++;
	}
}

/* LOGIN on whichever endpoint has it (it must be only one). */
static enum st mailbox_by_login_ep(struct app *a, const char *login, int64_t *id, int64_t *endpoint_id,
                                   struct err *e)
{
	struct mb_find f = { a, login, 0, 0, 0 };
	enum st s = store_endpoint_each(a->st, find_mailbox, &f, e);
	if (!s && f.n == 0)
		s = err_set(e, ST_CONFIG, "no mailbox '%s' (see 'mailferry mailbox list')", login);
	if (!s && f.n > 1)
		s = err_set(e, ST_CONFIG, "mailbox '%s' exists on %d endpoints", login, f.n);
	*id = f.id;
	if (endpoint_id)
		*endpoint_id = f.endpoint_id;
	return s;
}

static enum st mailbox_by_login(struct app *a, const char *login, int64_t *id, struct err *e)
{
	return mailbox_by_login_ep(a, login, id, NULL, e);
}

/* The user's own postponement, when the forest lets users postpone (the
 * seed's self-service "postpone my migration"): a blackout for that one
 * mailbox, named "postpone LOGIN", from now until --until, replacing an
 * earlier one; --clear removes it.  A running job of the mailbox stops at
 * its next checkpoint (as for any blackout) and resumes after it. */
static enum st postpone_allowed(struct app *a, int64_t endpoint_id, const char *login, struct err *e)
{
	struct endpoint ep = { 0 };
	struct forest f = { 0 };
	enum st s = store_endpoint_get_id(a->st, endpoint_id, &ep, e);
	if (!s && !ep.forest_id)
		s = err_set(e, ST_CONFIG, "mailbox %s: its endpoint %s is in no forest, so no forest lets its "
		            "users postpone (use 'blackout add --mailbox %s' as an admin)", login, ep.name, login);
	if (!s)
		s = store_forest_get_id(a->st, ep.forest_id, &f, e);
	if (!s && !f.allow_postpone)
		s = err_set(e, ST_CONFIG, "forest %s does not let its users postpone their migration "
		            "(forest set %s --allow-postpone; or, as an admin, blackout add --mailbox %s)",
		            f.name, f.name, login);
	endpoint_free(&ep);
	forest_free(&f);
	return s;
}

struct named_find { const char *name; int64_t id; };

static void find_named_blackout(void *ctx, const struct blackout *b)
{
	struct named_find *f = ctx;
	if (b->name && !strcmp(b->name, f->name))
		f->id = b->id;
}

static int cmd_mailbox_postpone(struct app *a, int argc, char **argv)
{
	const char *login = NULL, *until = NULL, *tz = NULL;
	bool clear = false;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--until") && i + 1 < argc)
			until = argv[++i];
		else if (!strcmp(argv[i], "--tz") && i + 1 < argc)
			tz = argv[++i];
		else if (!strcmp(argv[i], "--clear"))
			clear = true;
		else if (argv[i][0] != '-' && !login)
			login = argv[i];
		else
			return usage_error("unexpected argument '%s' for mailbox postpone", argv[i]);
	}
	if (!login || (!until == !clear))
		return usage_error("%s", "mailbox postpone needs LOGIN and --until 'YYYY-MM-DD HH:MM' (or --clear)");
	struct blackout b = { .tz = (char *)tz, .mode = (char *)"entire", .start_ts = clock_now() };
	if (until && !parse_when(until, tz, &b.end_ts))
		return usage_error("bad --until '%s' (YYYY-MM-DD HH:MM)", until);
	struct err e;
	err_clear(&e);
	char *name = x_asprintf("postpone %s", login);
	struct named_find nf = { name, 0 };
	enum st s = open_store(a, &e);
	int64_t endpoint_id = 0;
	if (!s)
		s = mailbox_by_login_ep(a, login, &b.mailbox_id, &endpoint_id, &e);
	if (!s && !clear)
		s = postpone_allowed(a, endpoint_id, login, &e);
	if (!s)
		s = store_blackout_each(a->st, find_named_blackout, &nf, &e);
	if (!s && !clear && b.end_ts <= b.start_ts)
		s = err_set(&e, ST_CONFIG, "mailbox postpone %s: --until '%s' is not in the future",
		            login, until);
	b.name = name;
	b.id = nf.id;
	if (!s && clear)
		s = nf.id ? store_blackout_remove(a->st, nf.id, &e)
		          : err_set(&e, ST_CONFIG, "mailbox %s has no postponement", login);
	else if (!s)
		s = nf.id ? store_blackout_update(a->st, &b, &e) : store_blackout_add(a->st, &b, &e);
	if (!s && clear)
		printf("mailbox %s: postponement removed\n", login);
	else if (!s) {
		char when[32];
		printf("mailbox %s postponed until %s (blackout %lld)\n", login, fmt_when(b.end_ts, tz, when),
		       (long long)b.id);
		store_event(a->st, EV_INFO, 0, "mailbox %s postponed until %s", login, when);
	}
	free(name);
	return s ? cmd_fail(&e) : 0;
}

static int cmd_blackout_add(struct app *a, int argc, char **argv)
{
	enum { B_START = 1, B_END, B_TZ, B_SITE, B_MAILBOX, B_WEEKLY, B_MODE };
	static const struct option opts[] = {
		{ "start", required_argument, NULL, B_START },
		{ "end", required_argument, NULL, B_END },
		{ "tz", required_argument, NULL, B_TZ },
		{ "site", required_argument, NULL, B_SITE },
		{ "mailbox", required_argument, NULL, B_MAILBOX },
		{ "weekly", no_argument, NULL, B_WEEKLY },
		{ "mode", required_argument, NULL, B_MODE },
		{ 0 }
	};
	struct blackout b = { 0 };
	const char *start = NULL, *end = NULL, *login = NULL;
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case B_START: start = optarg; break;
		case B_END: end = optarg; break;
		case B_TZ: b.tz = optarg; break;
		case B_SITE: b.site = optarg; break;
		case B_MAILBOX: login = optarg; break;
		case B_WEEKLY: b.weekly = true; break;
		case B_MODE: b.mode = optarg; break;
		default: return st_exit_code(ST_USAGE);
		}
	}
	if (argc - optind != 1 || !start || !end)
		return usage_error("%s", "blackout add needs NAME, --start 'YYYY-MM-DD HH:MM' and --end "
		                   "'YYYY-MM-DD HH:MM'");
	b.name = argv[optind];
	if (!parse_when(start, b.tz, &b.start_ts))
		return usage_error("bad --start '%s' (YYYY-MM-DD HH:MM)", start);
	if (!parse_when(end, b.tz, &b.end_ts))
		return usage_error("bad --end '%s' (YYYY-MM-DD HH:MM)", end);
	struct err e;
	err_clear(&e);
	enum st s = open_store(a, &e);
	if (!s && login)
		s = mailbox_by_login(a, login, &b.mailbox_id, &e);
	if (!s)
		s = store_blackout_add(a->st, &b, &e);
	if (s)
		return cmd_fail(&e);
	printf("blackout %lld added: %s\n", (long long)b.id, b.name);
	return 0;
}

static void print_blackout(void *ctx, const struct blackout *b)
{
	(void)ctx;
	char from[32], to[32];
	printf("%-4lld %-20s %s .. %s %-16s site=%s mailbox=%s%s%s%s\n", (long long)b->id,
	       b->name ? b->name : "-", fmt_when(b->start_ts, b->tz, from), fmt_when(b->end_ts, b->tz, to),
	       b->tz ? b->tz : "local", b->site ? b->site : "*", b->login ? b->login : "*",
	       b->weekly ? " weekly" : "", b->mode ? " mode=" : "", b->mode ? b->mode : "");
}

static int cmd_blackout(struct app *a, int argc, char **argv)
{
	struct err e;
	err_clear(&e);
	if (argc < 2)
		return usage_error("%s", "blackout needs a subcommand: add, list, remove");
	if (!strcmp(argv[1], "add"))
		return cmd_blackout_add(a, argc - 1, argv + 1);
	if (!strcmp(argv[1], "list")) {
		if (argc != 2)
			return usage_error("%s", "blackout list takes no arguments");
		if (open_store(a, &e) || store_blackout_each(a->st, print_blackout, NULL, &e))
			return cmd_fail(&e);
		return 0;
	}
	if (strcmp(argv[1], "remove"))
		return usage_error("unknown blackout subcommand '%s'", argv[1]);
	int64_t id;
	if (argc != 3 || !parse_id(argv[2], &id))
		return usage_error("%s", "blackout remove needs ID (see 'mailferry blackout list')");
	if (open_store(a, &e) || store_blackout_remove(a->st, id, &e))
		return cmd_fail(&e);
	printf("blackout %lld removed\n", (long long)id);
	return 0;
}

/* --- job show --------------------------------------------------------------- */

static void print_pass(void *ctx, int64_t id, const char *kind, int64_t started, int64_t finished,
                       const char *result, int64_t copied, int64_t bytes, int64_t skipped,
                       int64_t failed, int64_t reflagged)
{
	(void)ctx;
	char from[32], to[32];
	printf("  pass %-4lld %-9s %s .. %s  %-12s %lld copied (%.1f MB), %lld re-flagged, "
	       "%lld skipped, %lld failed\n", (long long)id, kind, fmt_when(started, NULL, from),
	       fmt_when(finished, NULL, to), result ? result : "running", (long long)copied,
	       (double)bytes / 1e6, (long long)reflagged, (long long)skipped, (long long)failed);
}

static void print_job_skipped(void *ctx, const struct skipped_row *r)
{
	(void)ctx;
	printf("  %-7s \"%s\" UID %u, %llu bytes, \"%s\": %s\n", skipped_mark(r), r->folder, r->uid,
	       (unsigned long long)r->size, r->subject ? r->subject : "", r->reason);
}

static void print_job_event(void *ctx, int64_t ts, int level, int64_t job, const char *msg)
{
	(void)ctx, (void)job;
	static const char *const lv[] = { "ERROR", "WARN", "INFO" };
	char when[32];
	printf("  %s %-5s %s\n", fmt_when(ts, NULL, when), lv[level < 0 || level > 2 ? 2 : level], msg);
}

/* The job_row of one job, for its names and times. */
struct one_row { int64_t id; bool found; };

static void print_job_row(void *ctx, const struct job_row *r)
{
	struct one_row *o = ctx;
	if (r->id != o->id)
		return;
	o->found = true;
	char t1[32], t2[32], t3[32], t4[32];
	printf("job %lld: %s\n", (long long)r->id, job_state_label(r->state));
	printf("  mailbox      %s:%s -> %s:%s\n", r->src_endpoint, r->src_user, r->dst_endpoint,
	       r->dst_user);
	printf("  pass         %s, priority %d, attempts %d\n", pass_kind_name(r->pass), r->priority,
	       r->attempts);
	printf("  created      %s   start after %s\n", fmt_when(r->created, NULL, t1),
	       fmt_when(r->start_after, NULL, t2));
	printf("  started      %s   finished %s\n", fmt_when(r->started, NULL, t3),
	       fmt_when(r->finished, NULL, t4));
	printf("  progress     %lld messages, %.1f MB, %lld skipped, %lld failed%s%s\n",
	       (long long)r->items_done, (double)r->bytes_done / 1e6, (long long)r->items_skipped,
	       (long long)r->items_failed, r->current_folder ? ", in " : "",
	       r->current_folder ? r->current_folder : "");
	if (r->src_items >= 0 || r->src_size_bytes >= 0)
		printf("  source size  %lld messages, %.1f MB\n", (long long)r->src_items,
		       (double)r->src_size_bytes / 1e6);
	printf("  options      suspend when ready: %s, notify user: %s\n", r->suspend_ready ? "yes" : "no",
	       r->notify_user ? "yes" : "no");
	printf("  phase        %s%s\n", job_phase_name(r->phase),
	       r->retry_errors ? " (next pass: only the failed items)" : "");
	if (r->ready_at || r->next_sync || r->cutover_at)
		printf("  ready since  %s   next sync %s   cutover %s\n", fmt_when(r->ready_at, NULL, t1),
		       fmt_when(r->state == JOB_READY ? r->next_sync : 0, NULL, t2), fmt_when(r->cutover_at, NULL, t3));
	if (r->paused_by)
		printf("  paused by    %s\n", r->paused_by);
	if (r->error)
		printf("  error        %s\n", r->error);
}

static int cmd_job(struct app *a, int argc, char **argv)
{
	int64_t id;
	if (argc != 3 || strcmp(argv[1], "show") || !parse_id(argv[2], &id))
		return usage_error("%s", "job needs 'show ID'");
	struct err e;
	err_clear(&e);
	struct one_row o = { id, false };
	struct job j;
	enum st s = open_store(a, &e);
	if (!s && !(s = store_job_get(a->st, id, &j, &e)))
		job_free(&j);
	if (!s)
		s = store_job_row(a->st, id, print_job_row, &o, &e);
	if (!s) {
		printf("passes:\n");
		s = store_pass_each(a->st, id, print_pass, NULL, &e);
	}
	if (!s) {
		printf("skipped items:\n");
		s = store_skipped_rows(a->st, id, print_job_skipped, NULL, &e);
	}
	if (!s) {
		printf("last events:\n");
		s = store_event_each(a->st, id, 15, print_job_event, NULL, &e);
	}
	return s ? cmd_fail(&e) : 0;
}

/* --- notifications --------------------------------------------------------- */

/* notify test ADDRESS: the seed's "send test email": success, or exactly
 * what the server answered. */
static int notify_test(struct app *a, const char *to)
{
	struct notify_vars v = { .n = 0 };
	char host[256] = "localhost", date[64];
	gethostname(host, sizeof host - 1);
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(date, sizeof date, "%Y-%m-%d %H:%M", &tm);
	notify_set(&v, "host", host);
	notify_set(&v, "date", date);
	notify_set(&v, "admin", to);
	struct err e;
	err_clear(&e);
	char *dir = notify_templates_dir(&a->cfg), *subject = NULL, *body = NULL, answer[256];
	enum st s = notify_render(dir, "test", &v, &subject, &body, &e);
	if (!s)
		s = notify_send(&a->cfg, to, subject, body, answer, sizeof answer, &e);
	free(dir);
	free(subject);
	free(body);
	if (s)
		return cmd_fail(&e);
	printf("test message sent to %s through %s%s%s\n", to, a->cfg.smtp_url, answer[0] ? "; the server said: " : "",
	       answer);
	return 0;
}

/* notify preview TEMPLATE [--job ID]: the message as it would go out. */
static int notify_preview(struct app *a, const char *name, int64_t job)
{
	struct err e;
	err_clear(&e);
	struct notify_job nj;
	memset(&nj, 0, sizeof nj);
	enum st s = ST_OK;
	if (job && !(s = open_store(a, &e)))
		s = notify_job_load(a->st, &a->cfg, job, &nj, &e);
	char *dir = notify_templates_dir(&a->cfg), *subject = NULL, *body = NULL;
	if (!s)
		s = notify_render(dir, name, &nj.v, &subject, &body, &e);
	if (!s)
		printf("To: %s\nSubject: %s\n\n%s", job ? (nj.address ? nj.address : "(no address known)") : "-",
		       subject, body);
	free(dir);
	free(subject);
	free(body);
	notify_job_free(&nj);
	return s ? cmd_fail(&e) : 0;
}

static int cmd_notify(struct app *a, int argc, char **argv)
{
	int64_t job = 0;
	if (argc == 3 && !strcmp(argv[1], "test"))
		return notify_test(a, argv[2]);
	if ((argc == 3 || (argc == 5 && !strcmp(argv[3], "--job") && parse_id(argv[4], &job))) &&
	    !strcmp(argv[1], "preview"))
		return notify_preview(a, argv[2], job);
	struct err e;
	if (argc >= 2 && !strcmp(argv[1], "summary"))
		return open_store(a, &e) ? cmd_fail(&e) : cmd_notice_summary(a->st, &a->cfg, argc - 1, argv + 1);
	return usage_error("%s", "notify needs 'test ADDRESS', 'preview TEMPLATE [--job ID]' or 'summary [--send]'");
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
	bool want_version = false;
	int c;
	/* "+": stop at the command; its own options are parsed later. */
	while ((c = getopt_long(argc, argv, "+c:s:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; config_given = true; break;
		case 's': store_path = optarg; break;
		case 'v': a.verbose++; break;
		case 'h': fputs(_(usage_text), stdout); return 0;
		case 'V': want_version = true; break;
		default: return st_exit_code(ST_USAGE);
		}
	}
	/* -V alone answers at once; with -v it becomes "about", which needs
	 * the configuration to name the files in use. */
	if (want_version && !a.verbose) {
		printf("mailferry %s (%s)\n", PACKAGE_VERSION, curl_version());
		return 0;
	}
	static char about_cmd[] = "about";
	char *about_argv[] = { about_cmd, NULL };
	if (want_version) {
		argv = about_argv;
		argc = 1;
		optind = 0;
		a.verbose = 0;   /* no diagnostics on stderr for a version query */
	}
	if (optind >= argc)
		return usage_error("%s", "no command given");
	struct err e;
	err_clear(&e);
	a.config_path = config_path ? x_strdup(config_path) : cfg_default_path();
	/* "config set" creates a file given with -c that does not exist yet. */
	bool creating = optind + 1 < argc && !strcmp(argv[optind], "config") &&
	                !strcmp(argv[optind + 1], "set");
	enum st s = cfg_load(&a.cfg, a.config_path, config_given && !creating, &e);
	if (s) {
		free(a.config_path);
		return cmd_fail(&e);
	}
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
	else if (!strcmp(cmd, "pause") || !strcmp(cmd, "resume"))
		rc = cmd_pause_resume(&a, sub_argc, sub_argv, !strcmp(cmd, "pause"));
	else if (!strcmp(cmd, "cutover") || !strcmp(cmd, "retry"))
		rc = cmd_lifecycle(&a, sub_argc, sub_argv);
	else if (!strcmp(cmd, "forest"))
		rc = cmd_forest(&a, sub_argc, sub_argv);
	else if (!strcmp(cmd, "detect"))
		rc = cmd_detect(&a, sub_argc, sub_argv);
	else if (!strcmp(cmd, "mailbox"))
		rc = cmd_mailbox(&a, sub_argc, sub_argv);
	else if (!strcmp(cmd, "blackout"))
		rc = cmd_blackout(&a, sub_argc, sub_argv);
	else if (!strcmp(cmd, "job"))
		rc = cmd_job(&a, sub_argc, sub_argv);
	else if (!strcmp(cmd, "console"))
		rc = cmd_console(&a, sub_argc, sub_argv);
	else if (!strcmp(cmd, "config"))
		rc = cmd_config(&a, sub_argc, sub_argv);
	else if (!strcmp(cmd, "about"))
		rc = cmd_about(&a, sub_argc, sub_argv);
	else if (!strcmp(cmd, "notify"))
		rc = cmd_notify(&a, sub_argc, sub_argv);
	else if (!strcmp(cmd, "schedule"))
		rc = cmd_schedule(&a.cfg, a.store_path, sub_argc, sub_argv);
	else if (!strcmp(cmd, "metrics"))
		rc = cmd_metrics(&a.cfg, a.store_path, sub_argc, sub_argv);
	else if (!strcmp(cmd, "report"))
		rc = cmd_report_stats(&a.cfg, a.store_path, sub_argc, sub_argv);
	else if (!strcmp(cmd, "help"))
		rc = (fputs(_(usage_text), stdout), 0);
	else
		rc = usage_error("unknown command '%s'", cmd);
	store_close(&a.st);
	curl_global_cleanup();
	cfg_free(&a.cfg);
	free(a.config_path);
	free(a.store_path);
	log_close();
	return rc;
}
