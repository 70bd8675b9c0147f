/* directory.h - mailbox discovery from a forest's LDAP directory (Active
 * Directory or a plain LDAP server such as OpenLDAP or 389-DS), with libldap.
 *
 * Connection rule (forest.dir_url, one LDAP URL):
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
 * the password is never logged or stored.  Referrals are not chased.
 *
 * Search: forest.dir_filter (default DIR_DEFAULT_FILTER) under each OU of
 * forest.scope (a line with '=' is a DN; a bare name N means OU=N,BASE), or
 * under forest.dir_base_dn when the scope is empty; subtree, RFC 2696 paged
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
 *   delegates publicDelegates (DNs of the mailboxes that may act for it),
 *             origin "directory", rights "SendOnBehalf"
 * msExchHideFromAddressLists is counted (hidden mailboxes are still
 * discovered: they still have mail to migrate).
 *
 * Incremental: a complete run records a high-water mark in the forest:
 * the highest uSNChanged seen when the entries carry it (AD), else the
 * highest modifyTimestamp.  The next run (without full) asks only for
 * entries with uSNChanged > mark (modifyTimestamp >= mark: same-second
 * changes are read again and compare equal), then walks every entry again
 * asking for its key only, to find mailboxes the directory no longer
 * returns: those are marked vanished, never deleted.  A run that fails
 * keeps every page committed before the failure (one store transaction per
 * page) and leaves the mark and the vanished flags as they were.
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
	int64_t total;          /* mailboxes of the endpoint known to the directory, not vanished */
	int64_t hidden;         /* entries hidden from address lists */
	int64_t skipped;        /* entries without a usable login */
	int64_t delegates;      /* delegations written */
	int64_t unresolved;     /* delegate DNs that are not a discovered mailbox */
	int pages;              /* pages read, both searches */
	int64_t elapsed_ms;
	char hwm[64];           /* the mark recorded ("" when none) */
};

/* Checks that url is one LDAP URL this module can use (ST_CONFIG naming
 * it otherwise). */
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

/* For the health checks: connects and binds as the discovery would, and
 * reads the base entry of every search base of the scope (search
 * permission).  detail gets "bound to URL as DN; N search bases readable".
 * Errors as directory_discover's. */
enum st directory_check(const struct forest *f, const char *secrets_path, int timeout_s, char *detail,
                        size_t detail_len, struct err *e);

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
