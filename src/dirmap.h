/* dirmap.h - a forest's directory attribute map: which LDAP attribute gives
 * each field of a discovered mailbox, overriding directory.c's defaults
 * (e.g. login from uid on an LDAP tree whose entries also carry
 * sAMAccountName, or a key from employeeNumber).
 *
 * Text form (forest.dir_attrs): one "field=attribute" line per mapped
 * field, in the order of enum dirmap_field.  Fields:
 *   login     the mailbox login          (default sAMAccountName | uid | mail)
 *   address   the primary SMTP address   (default the SMTP: proxyAddress | mail;
 *             a mapped value loses an "SMTP:" prefix)
 *   name      the display name           (default displayName | cn)
 *   site      the site                   (default the OU path | ou)
 *   database  the mailbox database       (default homeMDB's first RDN value; a
 *             mapped value that is a DN gives its first RDN value too)
 *   key       the key that follows an entry across renames (default objectGUID
 *             | entryUUID | the DN; objectGUID mapped is read as AD's GUID text)
 *   upn       the user principal name    (default userPrincipalName)
 * A mapped attribute replaces the default chain: an entry without it has
 * no such field (no login: skipped and counted; no key: its DN).
 * Attribute names are LDAP descriptors (letter, then letters, digits and
 * '-') or numeric OIDs, with optional ";options".  Pure; no I/O. */
#ifndef MF_DIRMAP_H
#define MF_DIRMAP_H

#include "common.h"

enum dirmap_field { DM_LOGIN, DM_ADDRESS, DM_NAME, DM_SITE, DM_DATABASE, DM_KEY, DM_UPN, DM__COUNT };

#define DIRMAP_FIELDS "login, address, name, site, database, key, upn"

/* The attribute of each field, NULL when not mapped; strings owned. */
struct dirmap { char *attr[DM__COUNT]; };

const char *dirmap_field_name(enum dirmap_field f);

/* Parses the text form (NULL or "": empty map) into m.  ST_CONFIG naming
 * the bad line: an unknown field ("unknown attribute map field 'x'
 * (login, ...)"), or an attribute name that is not one. */
enum st dirmap_parse(const char *text, struct dirmap *m, struct err *e);
/* Applies assignments ("field=attribute" separated by newlines or commas;
 * "field=" removes the field) to the map *text, which is replaced by the
 * result (owned by the caller, NULL when empty).  Same errors as parse;
 * *text is untouched on error. */
enum st dirmap_apply(char **text, const char *assignments, struct err *e);
/* The text form (owned), NULL when the map is empty. */
char *dirmap_text(const struct dirmap *m);
void dirmap_free(struct dirmap *m);

#endif
