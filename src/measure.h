/* measure.h - sizes, item counts and folders of the mailboxes known in the
 * store, read from their mail server, and delegate links from IMAP ACLs
 * (RFC 4314).
 *
 * For each mailbox the endpoint's admin logs in acting for the user
 * (drv_imap_login: SASL PLAIN authzid or the login template, as a migration
 * does).  After the login, two round trips do the work whatever the number
 * of folders:
 *   1. LIST "" "*", pipelined with GETACL INBOX (when the server offers ACL)
 *      and, when it lacks STATUS=SIZE but offers QUOTA, GETQUOTAROOT INBOX;
 *   2. STATUS f (MESSAGES SIZE) (RFC 8438; MESSAGES alone without
 *      STATUS=SIZE) for every selectable folder, pipelined with GETACL f for
 *      the other folders (ACL).
 * The size comes from STATUS SIZE (the sum of the messages' sizes), else
 * from the quota root's STORAGE usage (KiB, so rounded), else it stays
 * unknown; each result says which (enum measure_size_src).
 *
 * ACL: every identifier with both "l" and "r" on a folder, other than the
 * owner, "anyone", "authenticated", "owner", the endpoint's admin, groups
 * and negative rights, is a delegate.  One that is the login (or address)
 * of a mailbox on the same endpoint becomes a delegate link in the store
 * (origin "acl"; links learnt elsewhere, the directory or a CSV, are left
 * as they are); the others are reported as unknown.
 *
 * Results are written to the store as each mailbox finishes: size_bytes,
 * items, folders (store_mailbox_upsert) and the "acl" delegate links
 * (cleared and learnt again when the ACL was read).  A mailbox that fails
 * (no such user, login refused, connection lost) is reported in its result
 * and does not stop the others.
 *
 * Threads: measure_run starts up to `workers` threads, each with its own
 * store connection and one IMAP connection at a time; a mailbox starts only
 * while its endpoint has fewer than max_connections measurements running.
 * Memory: the report and everything in it belong to the caller
 * (measure_report_free).  No password is ever logged or reported. */
#ifndef MF_MEASURE_H
#define MF_MEASURE_H

#include "cfg.h"
#include "common.h"

enum measure_size_src {
	SIZE_SRC_NONE,          /* neither STATUS=SIZE nor QUOTA: size unknown */
	SIZE_SRC_STATUS,        /* STATUS SIZE (RFC 8438): exact */
	SIZE_SRC_QUOTA,         /* quota root STORAGE (RFC 2087): KiB, rounded */
};
/* "status", "quota" or "none". */
const char *measure_size_src_name(enum measure_size_src s);

struct measure_delegate {
	char *who;              /* the ACL identifier as the server gave it */
	char *rights;           /* INBOX rights ("lrs"), then "Folder:rights" items, ';'-separated */
	int64_t mailbox_id;     /* the delegate's mailbox; 0: not a known mailbox (unknown) */
	bool kept;              /* a link learnt elsewhere (directory, csv) was left as it was */
};

struct measure_result {
	int64_t mailbox_id;
	char *endpoint;         /* endpoint name */
	char *login;
	enum st status;         /* ST_OK, or why this mailbox could not be measured */
	char *error;            /* NULL when status is ST_OK */
	int64_t folders, messages, size_bytes;   /* -1 = unknown */
	enum measure_size_src size_src;
	int64_t unreadable;     /* folders listed whose STATUS was refused (not counted) */
	bool acl_offered;       /* the server offers ACL */
	bool acl_read;          /* GETACL INBOX answered: delegates below are complete */
	char *acl_error;        /* why the ACL could not be read, NULL when read or not offered */
	struct measure_delegate *delegates;
	size_t ndelegates;
	int64_t elapsed_ms;     /* login to last answer */
};

struct measure_opts {
	const struct cfg *cfg;
	const char *store_path;
	int64_t endpoint_id;    /* only this endpoint; 0: every endpoint (of the forest) */
	int64_t forest_id;      /* only endpoints of this forest; 0: any */
	const char *const *logins;   /* only these logins (NULL-terminated); NULL: all */
	int workers;            /* parallel mailboxes, >= 1 */
	volatile int *cancel;   /* set: no further mailbox starts (may be NULL) */
};

struct measure_report {
	struct measure_result *v;   /* in store order: endpoint name, login */
	size_t n;
	int64_t measured, failed, not_started;
	int64_t folders, messages, bytes;   /* sums over measured mailboxes */
	int64_t links, unknown;     /* delegates linked, identifiers not known */
	int64_t elapsed_ms;
};
void measure_report_free(struct measure_report *r);

/* Measures the selected mailboxes (vanished ones are left out).  ST_OK
 * when the run took place, even if some mailboxes failed (r->failed);
 * ST_CONFIG when nothing matches the selection, ST_STORE when the store
 * cannot be read.  *r is always initialised. */
enum st measure_run(const struct measure_opts *o, struct measure_report *r, struct err *e);

#endif
