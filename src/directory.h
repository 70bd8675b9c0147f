/* directory.h - mailbox discovery from a forest's LDAP directory (Active
 * Directory or a plain LDAP server such as OpenLDAP or 389-DS), with libldap.
 *
 * Servers: forest.dir_url holds one LDAP URL or several separated by white
 * space (not commas: a DN in a URL may hold them): replicas tried in order until
 * one answers and takes the bind.  Only an unreachable or silent server
 * (ST_NET, ST_TIMEOUT) moves on to the next; a refused bind or a bad
 * setting would be the same everywhere and stops at once.
 *
 * Connection rule (each URL):
 *   ldaps://host[:port]   TLS from the start, certificate and host name
 *                         verified (CA: the system store, or ldap.conf /
 *                         LDAPTLS_CACERT as libldap reads them);
 *   ldap://host[:port]    StartTLS, required and verified, unless the host
 *                         is a loopback address (127.0.0.0/8, ::1,
 *                         localhost), which is used in clear;
 *   ldap://host/????!StartTLS   (RFC 4516 extension) StartTLS even on
 *                         loopback.
 * So the bind password never crosses a network in clear.  Simple bind with
 * forest.dir_bind_dn and the secret forest.dir_secret_ref names (secret.h);
 * the password is never logged or stored.
 *
 * Referrals are never followed (that would bind with the forest's password
 * on a server nobody configured, and a loop could go round for ever): a
 * search base that is a referral is ST_CONFIG naming it ("referral loop"
 * when it leads back to one of the forest's servers); continuation
 * references inside the tree are counted and named (dir_report.referrals,
 * referral, referral_loop) and the run, knowing only part of the tree,
 * marks nothing vanished.
 *
 * Base DN: forest.dir_base_dn, or when it is empty the directory's own,
 * read from the root DSE after the bind: defaultNamingContext (AD: the
 * domain partition) else the first namingContexts value; the report says
 * which (dir_report.base_from).
 *
 * Search: forest.dir_filter (default DIR_DEFAULT_FILTER) under each OU of
 * forest.scope (a line with '=' is a DN; a bare name N means OU=N,BASE;
 * a line "group:DN" instead limits the search to members of that group,
 * (memberOf=DN) ORed over the group lines and ANDed to the filter), or
 * under the base DN when the scope is empty; subtree, RFC 2696 paged
 * results, DIR_PAGE_SIZE entries a page.  An entry is read the Active
 * Directory way when it carries objectGUID or sAMAccountName, else the
 * inetOrgPerson way:
 *   login     sAMAccountName (AD) | uid (LDAP) | mail when neither
 *   address   the primary "SMTP:" proxyAddress (AD) | mail
 *   name      displayName | cn
 *   site      the OU just below the base DN in the entry's DN (LDAP: the ou
 *             attribute first)
 *   database  first RDN value of homeMDB
 *   kind      msExchRecipientTypeDetails 4 shared, 16 room, 32 equipment,
 *             anything else user
 *   key       objectGUID (AD, as text) | entryUUID | the DN
 *   upn       userPrincipalName, lower case (for matching, match.h)
 *   proxies   every SMTP address, lower case without the prefix: the
 *             "SMTP:" primary and "smtp:" aliases of proxyAddresses (other
 *             types such as X500: dropped) | every mail value
 *   delegates publicDelegates (DNs of the users who may send on behalf of
 *             the mailbox): rights "SendOnBehalf"; msExchDelegateListLink
 *             (users with full access whose Outlook auto-maps it):
 *             "FullAccess"; both for one user: "FullAccess;SendOnBehalf";
 *             origin "directory"
 * The forest's attribute map (forest.dir_attrs, dirmap.h) replaces any of
 * login, address, name, site, database, key, upn by another attribute.
 * msExchHideFromAddressLists is counted (hidden mailboxes are still
 * discovered: they still have mail to migrate).
 *
 * Renames: an entry whose login changed but whose key did not (objectGUID,
 * entryUUID, or the mapped key) updates its mailbox in place: same id, so
 * its jobs, history, delegations and match stay; the jobs' pairs take the
 * new login (store_mailbox_discovered); counted in changed and renamed.
 *
 * Incremental: a complete run records a high-water mark in the forest:
 * the highest uSNChanged seen when the entries carry it (AD), else the
 * highest modifyTimestamp.  The next run (without full) asks only for
 * entries with uSNChanged > mark (modifyTimestamp >= mark: same-second
 * changes are read again and compare equal), then walks every entry again
 * asking for its key only, to find mailboxes the directory no longer
 * returns: those are marked vanished, never deleted; and entries the walk
 * finds that are not stored (or stored vanished) are read in full, since
 * some changes do not move an entry's counter (AD's memberOf is a
 * back-link: joining a group changes the group, not the user).
 * memberOf is not stored on the mailbox: it only scopes discovery, and a
 * stored copy would go stale for that same reason.  A run that fails
 * keeps every page committed before the failure (one store transaction per
 * page) and leaves the mark and the vanished flags as they were.
 *
 * Memory: entries are held one page at a time; what grows with the
 * directory is the DN and key of every entry (and of every stored
 * mailbox), for removals and delegate DNs: about 0.9 KB an entry in all,
 * 112 MB peak RSS at 100 000 entries (make bench-directory).
 *
 * Threads: one call uses its own LDAP connection and the caller's store. */
#ifndef MF_DIRECTORY_H
#define MF_DIRECTORY_H

#include "common.h"
#include "store.h"

#define DIR_DEFAULT_FILTER "(&(mail=*)(|(objectClass=user)(objectClass=inetOrgPerson)))"
#define DIR_PAGE_SIZE 500

struct dir_report {
	bool full;              /* a full search (no mark, or asked for) */
	int64_t seen;           /* entries read with their attributes */
	int64_t added, changed, vanished;
	int64_t renamed;        /* of changed: a new login for a known key */
	int64_t total;          /* mailboxes of the endpoint known to the directory, not vanished */
	int64_t hidden;         /* entries hidden from address lists */
	int64_t skipped;        /* entries without a usable login */
	int64_t delegates;      /* delegations written */
	int64_t unresolved;     /* delegate DNs that are not a discovered mailbox */
	int64_t referrals;      /* continuation references met (not followed; then
	                         * nothing is marked vanished) */
	char referral[256];     /* the first of them ("" none) */
	bool referral_loop;     /* one of them leads back to the forest's own servers */
	int pages;              /* pages read, both searches */
	int64_t elapsed_ms;
	char hwm[64];           /* the mark recorded ("" when none) */
	char server[256];       /* the URL of the server that answered ("" none) */
	char base_dn[512];      /* the base DN searched ("" none) */
	const char *base_from;  /* static: the root DSE attribute base_dn came from
	                         * ("defaultNamingContext", "namingContexts"), NULL:
	                         * the forest's own */
};

/* Checks that url holds one or more LDAP URLs (separated by white space)
 * this module can use (ST_CONFIG naming the first bad one otherwise). */
enum st directory_url_check(const char *url, struct err *e);

/* Discovers the mailboxes of forest f into endpoint endpoint_id of st.
 * secrets_path is the secrets file for "secret:" references; timeout_s
 * bounds connecting and each LDAP operation.  full ignores the forest's
 * mark.  Errors name the forest and the server: ST_CONFIG (URL, base DN,
 * filter, missing settings), ST_AUTH (bind refused, naming the DN), ST_NET
 * (server unreachable or gone mid-search), ST_STORE. */
enum st directory_discover(struct store *st, const struct forest *f, int64_t endpoint_id,
                           const char *secrets_path, int timeout_s, bool full,
                           struct dir_report *out, struct err *e);

/* For the health checks and the Add Forest wizard's connection test:
 * connects and binds as the discovery would (dir_connect: every URL in
 * turn), reads the root DSE's currentTime when the server publishes it
 * (Active Directory does, OpenLDAP does not), and reads the base entry of
 * every search base of the scope (search permission).  typed_password
 * (NULL: the forest's password source) is one typed in the wizard.
 * Errors as directory_discover's. */
struct dir_check {
	char detail[768];       /* "bound to URL as DN; N search bases readable", then
	                         * where the base DN came from when from the root DSE */
	char server[256];       /* the URL that answered */
	char dead[512];         /* the URLs tried before it that did not answer,
	                         * separated by spaces ("" none) */
	size_t ndead;
	char alive[512];        /* the forest's URLs less the dead ones, in order */
	char current_time[40];  /* the root DSE's currentTime ("" not published) */
};
enum st directory_check(const struct forest *f, const char *typed_password, const char *secrets_path,
                        int timeout_s, struct dir_check *out, struct err *e);

/* --- the OU tree (the Add Forest wizard's scope step) ------------------------
 * The organizational units and containers under the base DN, read one level
 * at a time (one paged one-level search per OU, breadth first), at most max
 * of them (out->truncated then).  Each knows its parent's index (-1: right
 * under the base DN), so the list is a tree.  typed_password (NULL: the
 * forest's dir_secret_ref, or an anonymous bind without a bind DN) is a
 * password typed in the wizard and not stored yet.  Errors as
 * directory_discover's.  Memory: dir_ou_list_free frees the list. */
struct dir_ou {
	char *dn;       /* as the server returns it */
	char *name;     /* the value of its first RDN ("Sales") */
	int parent;     /* index of the parent in the list, -1: the base DN */
};
struct dir_ou_list {
	struct dir_ou *v;
	size_t n, cap;
	bool truncated; /* more than max: the rest is not listed */
};
enum st directory_list_ous(const struct forest *f, const char *typed_password, const char *secrets_path,
                           int timeout_s, size_t max, struct dir_ou_list *out, struct err *e);
void dir_ou_list_free(struct dir_ou_list *l);

#endif
