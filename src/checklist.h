/* checklist.h - the preparation checklist of a forest: what a migration
 * needs before its first job, in our world (IMAP mail servers, an optional
 * LDAP directory), each item checked automatically where it can be:
 *
 *   forests          a source and a target (or tenant) forest exist
 *   target-endpoint  the target forest has a mail endpoint
 *   mailboxes        the forest has mailboxes in the store (discovered or imported)
 *   directory-read   the directory's bind account reads every search base
 *   mail-url, mail-dns, mail-port, tls, admin-login, admin-mailbox, append-limit
 *                    per mail endpoint (of the forest, and of the target
 *                    forest for a source): the health checks of health.h,
 *                    not repeated here; append-limit (the target's limit
 *                    against what the store knows) in a target's checklist
 *   largest-message  (a source's checklist) every message size of up to 10
 *                    of its mailboxes, read through its endpoint, against
 *                    the APPENDLIMIT the target's endpoint announces
 *   secrets-mode     the secrets file and every password file in use are
 *                    readable by their owner only (mode 600)
 *   store-disk       free space where the store lives, against what its
 *                    records of the forest's known messages will take
 *   clock            this machine's clock is NTP-synchronised (IMAP cannot
 *                    tell a server's time, so skew itself is not measured)
 *   notify-smtp      the notification server (smtp_url) accepts a connection
 *
 * Each item is passed, a warning, failed, or not checked (to be checked by
 * hand: the detail says why, the fix what to do).  An endpoint check that
 * could not run because an earlier one failed is listed as not checked.
 *
 * Memory: the strings of a struct cl_item are valid only during the
 * callback.  Nothing here prints a password (health.h's rule).  Threads:
 * one call uses the caller's store connection only; it blocks on the
 * network (each step bounded by the configured timeout, at most 15 s). */
#ifndef MF_CHECKLIST_H
#define MF_CHECKLIST_H

#include "cfg.h"
#include "common.h"
#include "store.h"

enum cl_state {
	CL_PASS,        /* [✓] */
	CL_MANUAL,      /* [ ] not checked: by hand */
	CL_WARN,        /* [!] */
	CL_FAIL,        /* [✗] */
};

struct cl_item {
	const char *item;       /* "forests", "admin-login", ... (see above) */
	const char *title;      /* what the migration needs, in words */
	const char *endpoint;   /* the endpoint concerned, NULL for the forest */
	enum cl_state state;
	const char *detail;     /* what was found, one line */
	const char *fix;        /* what to do; NULL when nothing */
};

typedef void (*cl_fn)(void *ctx, const struct cl_item *it);

/* Checks every item for forest_name and hands each to fn, in the order
 * above.  *worst (may be NULL) gets the worst state.  ST_OK when the
 * checklist ran (whatever it found); ST_CONFIG for an unknown forest,
 * ST_STORE when the store cannot be read. */
enum st checklist_run(struct store *s, const struct cfg *c, const char *forest_name, cl_fn fn, void *ctx,
                      enum cl_state *worst, struct err *e);

/* "[✓]", "[ ]", "[!]", "[✗]". */
const char *checklist_mark(enum cl_state st);

#endif
