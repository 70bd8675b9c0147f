/* cfg.h - mailferry.conf (libconfig) read once, at start-up, into plain
 * structs.  libconfig is not thread-safe: only main() calls cfg_load, before
 * any thread starts; afterwards the struct is read-only and shared.
 *
 * Every key is described in the table in cfg.c (exposed below through
 * cfg_keys), from which come the defaults, validation, messages, the
 * Settings view and "mailferry config"; tests/unit/tst_cfg.c checks the
 * documented example (data/mailferry.conf.example) against it.
 *
 * cfg_set and cfg_save are for a single owner of a struct cfg (the CLI, or
 * the console's Settings view on its own copy): they do not lock. */
#ifndef MF_CFG_H
#define MF_CFG_H

#include "common.h"

struct cfg {
	char *store_path;          /* SQLite store; owned */
	char *log_path;            /* diagnostic log file, NULL for none; owned */
	char *log_level;           /* "error".."trace"; owned */
	char *secrets_path;        /* typed-in credentials, mode 0600; owned */
	int workers;               /* parallel mailboxes */
	int max_connections_per_server; /* default per endpoint */
	int batch_messages;        /* messages per copy batch */
	int batch_bytes_mb;        /* bytes in flight per batch */
	int timeout_s;             /* network inactivity timeout */
	int retry_max;             /* reconnect attempts per pass */
	int bad_item_limit;        /* failed items before a job fails */
	char *separator_char;      /* replaces a target separator in a source name; owned */
	int verify_after_copy;     /* run verify after each full/delta pass */
	char *dns_server;          /* "IPv4[:PORT]" for SRV look-ups, "" = system resolver; owned */
	int health_interval_min;   /* forests' health checks by the idle engine; 0: never */
	int max_connections_per_host; /* connections to one host over all its endpoints; 0: no limit */
	int incremental_interval_h; /* hours between incremental syncs of a ready job */
	int forecast_default_rate; /* MB per hour a job copies when nothing was measured */
	/* Notifications (notify.h); strings owned, "" when unset. */
	char *smtp_url;            /* smtp:// or smtps://; "" sends nothing */
	char *smtp_user;
	char *smtp_password;       /* a password reference (secret.h), never the password */
	char *smtp_from;
	int smtp_insecure;         /* TLS verification off (explicit) */
	char *admin_email;         /* where failures go; "" for nobody */
	int notify_days_before;
	char *templates_dir;       /* NULL: the installed templates */
	int summary_hour;          /* local hour of the daily admin summary; -1: none */
	/* Scripts at job events (script.h); paths owned, NULL when unset. */
	char *script_before_first_pass;
	char *script_after_completion;
	char *script_on_failure;
	char *script_at_cutover;
	int script_timeout_s;      /* time limit of one script run */
};

/* --- key metadata (the Settings view and "mailferry config") --------------
 *
 * One row per key in a static table in cfg.c; adding a key is one row there
 * plus a field in struct cfg (and its documentation in
 * data/mailferry.conf.example, which tests/unit/tst_cfg.c enforces). */

/* The tab of the console's Settings view a key is shown on. */
enum cfg_tab {
	CFG_TAB_GENERAL,
	CFG_TAB_ACTIVITIES,     /* what a pass does: checks, failure limits */
	CFG_TAB_MAILBOXES,      /* how a mailbox is copied: batches, folder names */
	CFG_TAB_WORKERS,        /* parallelism, connections, timeouts */
	CFG_TAB_SCRIPTS,
	CFG_TAB_NOTIFICATIONS,
	CFG_TAB__COUNT
};

enum cfg_type {
	CFG_STRING,   /* char *; optional extra rule (valid, rule) */
	CFG_INT,      /* int within [min, max] */
	CFG_BOOL,     /* int 0 or 1; written true/false */
	CFG_ENUM,     /* char *, one of values[] */
	CFG_PATH,     /* char *; "~/" and "$XDG_DATA_HOME" expanded when set */
};

/* struct cfg_key.flags */
#define CFG_RESTART  0x1u  /* taken when the engine starts (threads, store,
                            * log): a running console or "run" must restart.
                            * Other keys are read per job or pass, or when
                            * something is created. */
#define CFG_OPTIONAL 0x2u  /* CFG_PATH: "" means none (the field is NULL) */

struct cfg_key {
	const char *name;
	enum cfg_tab tab;
	enum cfg_type type;
	unsigned flags;            /* CFG_RESTART | CFG_OPTIONAL */
	size_t offset;             /* of the field in struct cfg (char * or int) */
	const char *def_str;       /* STRING, ENUM, PATH, as written in a file;
	                            * NULL: unset (CFG_OPTIONAL paths) */
	long long def_int;         /* INT, BOOL */
	long long min, max;        /* INT */
	const char *const *values; /* ENUM: allowed values, NULL-terminated */
	bool (*valid)(const char *v); /* STRING: extra rule, or NULL */
	const char *rule;          /* STRING with valid: what is allowed, for messages */
	const char *help;          /* one line; also its comment in the example */
};

/* The table, in display order; *n receives its length.  Static, read-only. */
const struct cfg_key *cfg_keys(size_t *n);
/* The key called name, or NULL. */
const struct cfg_key *cfg_key_find(const char *name);
/* The same, but when there is none, e says so (ST_CONFIG) and suggests a
 * key close to name: "unknown setting "wrokers" (did you mean "workers"?)". */
const struct cfg_key *cfg_key_lookup(const char *name, struct err *e);
/* "General", "Activities", ...; and back, case-insensitively (false when
 * name is no tab). */
const char *cfg_tab_name(enum cfg_tab t);
bool cfg_tab_from_name(const char *name, enum cfg_tab *t);

/* What a key accepts, as the end of "must be ...": "a whole number from 1
 * to 256", "true or false", "one of error, warn, ...".  Truncated to n. */
void cfg_allowed_text(const struct cfg_key *k, char *buf, size_t n);
/* The default as a person writes it ("$XDG_DATA_HOME/...", "4", "true";
 * "" when unset).  Truncated to n. */
void cfg_default_text(const struct cfg_key *k, char *buf, size_t n);
/* The current value of key as text, in the form cfg_set accepts: paths
 * expanded, "" for an unset path, integers in decimal, booleans
 * true/false.  Truncated like snprintf (PATH_MAX + 1 bytes always suffice).
 * False (and buf "") when key is unknown. */
bool cfg_get_text(const struct cfg *c, const char *key, char *buf, size_t n);
/* True when the field holds the key's default (paths compared expanded). */
bool cfg_is_default(const struct cfg *c, const struct cfg_key *k);

/* Validates value for key and stores it in c (strings copied; the old value
 * freed).  On error c is unchanged and e says "KEY: must be ..., not ..."
 * (ST_CONFIG), or names the unknown key and suggests a close one.
 * Booleans accept true/false, yes/no, on/off, 1/0.  Not thread-safe: the
 * caller owns c exclusively while it changes. */
enum st cfg_set(struct cfg *c, const char *key, const char *value, struct err *e);

/* Writes c to path as a libconfig file that cfg_load reads back to the same
 * values: keys at their default are written commented out, the others as
 * "name = value;", grouped by tab, each under its help line.  The file is
 * rewritten whole, so comments and @include directives written by hand are
 * not kept (the header says so and points to the annotated example).
 * Atomic: a temporary file in the same directory is written, fsync'ed and
 * renamed over path (a symbolic link is followed, so the link stays), then
 * the directory is fsync'ed; on any error path is untouched.  Missing parent
 * directories are created (mode 0700).  The file keeps its permissions; a
 * new one gets 0600.  Errors are ST_CONFIG naming the path and the cause. */
enum st cfg_save(const struct cfg *c, const char *path, struct err *e);

/* Fills c with defaults, then reads path (if not NULL and it exists, or if
 * required is true).  Errors name the file and line. */
enum st cfg_load(struct cfg *c, const char *path, bool required, struct err *e);
void cfg_free(struct cfg *c);
/* Default locations (XDG): caller frees. */
char *cfg_default_path(void);
char *cfg_default_data_dir(void);

#endif
