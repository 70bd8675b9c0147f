/* match.h - matching the mailboxes of a source forest to those of a target
 * forest by identity, never by guess.
 *
 * Keys (compared in ASCII lower case; the store keeps upn and
 * proxy_addresses lower case already):
 *   address   the primary SMTP address (mailboxes.address)
 *   proxy     any SMTP address: the primary and every proxy address, on
 *             either side (source primary/proxy vs target primary/proxy)
 *   upn       the user principal name
 *   login     the mailbox login (asked for with --by login, never used
 *             by default; a forest's attribute map may take it from any
 *             attribute, dirmap.h)
 *   key       the directory key (asked for with --by key, never by
 *             default): objectGUID/entryUUID differ between forests, so
 *             this is for forests whose attribute maps take "key" from an
 *             attribute both share (e.g. employeeNumber): the issue's
 *             "configured attribute"
 * The criteria used are a list (default: address, proxy, upn).  Every one
 * of them is tried for every source mailbox, and each target reached
 * through any of them is a candidate:
 *   matched    exactly one candidate, and no other source mailbox has it as
 *              a candidate; the key reported is the first criterion (in
 *              the list's order) that links the two;
 *   conflict   several candidates (e.g. the primary address names one
 *              target and a proxy address another: the case), or
 *              the one candidate is also a candidate of another source
 *              mailbox (two sources claiming one target);
 *   unmatched  no candidate.
 * Vanished mailboxes take no part on either side (a vanished source's old
 * result is cleared).  The results are written to the store (mailboxes.
 * match_id, match_state, match_key of each source mailbox) in one
 * transaction, so `queue --matched` can use them.
 *
 * Threads: one call uses the caller's store connection. */
#ifndef MF_MATCH_H
#define MF_MATCH_H

#include "common.h"
#include "store.h"

enum match_by { MATCH_ADDRESS, MATCH_PROXY, MATCH_UPN, MATCH_LOGIN, MATCH_KEY, MATCH__COUNT };
/* "address", "proxy", "upn", "login", "key". */
const char *match_by_name(enum match_by b);
bool match_by_parse(const char *s, enum match_by *out);

enum match_state { MATCH_MATCHED, MATCH_CONFLICT, MATCH_UNMATCHED };
const char *match_state_name(enum match_state s);   /* "matched", "conflict", "unmatched" */

/* A mailbox as matching sees it; strings owned by the match run. */
struct match_box {
	int64_t id;
	const char *endpoint, *login, *display_name, *address, *upn;
	const char *key;            /* the directory key (mailboxes.dir_key); NULL none */
	const char *proxies;        /* newline-separated, lower case; NULL none */
};

/* One link from a source mailbox: the other mailbox (a target, or for a
 * rival a source) and the key that links them ("address", "a@b"). */
struct match_link {
	const struct match_box *box;
	enum match_by by;
	const char *key;
};

/* The outcome for one source mailbox.  targets: every candidate with the
 * first key that links it (one for matched, one or more for conflict, none
 * for unmatched).  rivals: other source mailboxes that have targets[0] as
 * a candidate (only when conflict has one target), each with its key.  All
 * pointers valid during the callback only. */
struct match_result {
	const struct match_box *src;
	enum match_state state;
	const struct match_link *targets;
	size_t ntargets;
	const struct match_link *rivals;
	size_t nrivals;
};

struct match_counts {
	int64_t sources, targets;   /* mailboxes taking part on each side */
	int64_t matched, conflicts, unmatched;
};

/* Matches forest src_forest to dst_forest with the criteria by[0..nby)
 * (nby 0: address, proxy, upn), writes the results to the store, then calls
 * fn (may be NULL) for every source mailbox ordered by endpoint and login.
 * ST_CONFIG when the two forests are one; ST_STORE. */
enum st match_forests(struct store *st, int64_t src_forest, int64_t dst_forest,
                      const enum match_by *by, size_t nby,
                      void (*fn)(void *ctx, const struct match_result *r), void *ctx,
                      struct match_counts *out, struct err *e);

/* Normalises a list of addresses separated by any of seps: trimmed, ASCII
 * lower case, a "smtp:" prefix (any case) removed, values of another type
 * ("X500:...", "SIP:...") and empty ones dropped, duplicates dropped, in
 * the order given.  Returns a newline-separated string owned by the caller
 * (free()), or NULL when nothing is left.  Pure. */
char *match_addresses_norm(const char *list, const char *seps);
/* A copy of s in ASCII lower case, trimmed; NULL for NULL or empty.  Caller frees. */
char *match_lower(const char *s);

#endif
