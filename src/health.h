/* health.h - forest health checks (the console's and the CLI's "forest
 * alerts"): for every endpoint of a forest, in order,
 *
 *   dns        the host name in the URL resolves (the system resolver, as
 *              the connection itself will use)
 *   tcp        its port accepts a connection
 *   tls        the server's certificate: trusted (unless the endpoint is
 *              --insecure), valid now, days to expiry (imaps://, or
 *              STARTTLS on imap://)
 *   login      the admin logs in with the endpoint's password source
 *   mailbox    the admin opens a sample user's INBOX (the forest's first
 *              mailbox on that endpoint in the store), through the SASL
 *              authzid or the login template
 *   size-limit the server's APPENDLIMIT against the largest item known to
 *              be bound for it (copied or skipped), from the store
 *   clock      skew against the server's clock, when the server tells it
 *
 * and, for a forest with a directory (directory.h's directory_check):
 *
 *   directory  the bind and every search base readable; a warning when a
 *              server listed before the one that answered did not (a dead
 *              replica: the fix names it and the URLs without it)
 *   dir-clock  skew against the root DSE's currentTime (dirclock.h): a
 *              warning past 5 minutes (Kerberos' default tolerance); "not
 *              checked" when the directory does not publish its time
 *
 * A check that cannot run because an earlier one failed is not reported
 * (the earlier failure says why).  Results are handed to a callback, one at
 * a time; health_check_and_keep also keeps them as the forest's alerts.
 *
 * Memory: the strings of a struct health_result are valid only during the
 * callback.  Nothing here prints or logs a password: fixes name the
 * password *source* (file path, variable, command), never its content.
 * Threads: one call uses its store connection only; it blocks on the network
 * (each step bounded by the configured timeout, at most 15 s). */
#ifndef MF_HEALTH_H
#define MF_HEALTH_H

#include "cfg.h"
#include "common.h"
#include "store.h"

enum health_level {
	HEALTH_OK,      /* ✓ */
	HEALTH_INFO,    /* i: nothing wrong, something to know (not checked, no data) */
	HEALTH_WARN,    /* ! */
	HEALTH_FAIL,    /* ✗ */
};

struct health_result {
	const char *check;      /* "dns", "tcp", "tls", "login", "mailbox", "size-limit", "clock", "forest",
	                         * "directory", "dir-clock" */
	const char *endpoint;   /* the endpoint concerned, NULL for the forest itself */
	enum health_level level;
	const char *detail;     /* what was found, one line */
	const char *fix;        /* the command or setting to change; NULL when none */
};

typedef void (*health_fn)(void *ctx, const struct health_result *r);

/* Runs every check of forest_name and reports each to fn.  *worst (may be
 * NULL) gets the worst level reported.  Returns ST_OK when the checks ran
 * (whatever they found); ST_CONFIG for an unknown forest, ST_STORE when the
 * store cannot be read. */
enum st health_check_forest(struct store *s, const struct cfg *c, const char *forest_name,
                            health_fn fn, void *ctx, enum health_level *worst, struct err *e);

/* The same, and the results replace the forest's alerts in the store
 * (store_alert_each reads them back: the console's marks, later runs). */
enum st health_check_and_keep(struct store *s, const struct cfg *c, const char *forest_name, health_fn fn,
                              void *ctx, enum health_level *worst, struct err *e);

/* "✓", "i", "!", "✗". */
const char *health_mark(enum health_level l);

#endif
