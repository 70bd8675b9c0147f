/* tst_dirmap.c - the directory attribute map: parse, apply (add, replace,
 * remove, comma-separated), the text form in field order, and refusals
 * (unknown field, not an attribute name, no '=') that leave the map as it
 * was. */
#include "dirmap.h"

#include <stdlib.h>
#include <string.h>

#include "tap.h"

static bool apply_is(char **map, const char *assign, const char *want)
{
	struct err e;
	err_clear(&e);
	enum st s = dirmap_apply(map, assign, &e);
	bool ok = !s && (want ? *map && !strcmp(*map, want) : !*map);
	if (!ok)
		printf("# '%s' -> %d '%s' (%s), not '%s'\n", assign, s, *map ? *map : "(null)", e.msg,
		       want ? want : "(null)");
	return ok;
}

static bool refused(char **map, const char *assign, const char *msg_part)
{
	struct err e;
	err_clear(&e);
	char *before = *map ? x_strdup(*map) : NULL;
	enum st s = dirmap_apply(map, assign, &e);
	bool same = before ? *map && !strcmp(before, *map) : !*map;
	bool ok = s == ST_CONFIG && strstr(e.msg, msg_part) && same;
	if (!ok)
		printf("# '%s' -> %d '%s'\n", assign, s, e.msg);
	free(before);
	return ok;
}

int main(void)
{
	char *map = NULL;
	check(apply_is(&map, "address=mail\nlogin=uid", "login=uid\naddress=mail"), "two fields, in field order");
	check(apply_is(&map, "Login = sAMAccountName , key=employeeNumber",
	               "login=sAMAccountName\naddress=mail\nkey=employeeNumber"),
	      "comma-separated, trimmed, a field replaced, field names in any case");
	check(apply_is(&map, "upn=1.2.840.113556.1.4.656;binary", "login=sAMAccountName\naddress=mail\n"
	               "key=employeeNumber\nupn=1.2.840.113556.1.4.656;binary"), "numeric OID with an option");
	check(apply_is(&map, "address=", "login=sAMAccountName\nkey=employeeNumber\nupn=1.2.840.113556.1.4.656;binary"),
	      "FIELD= removes");
	check(refused(&map, "colour=blue", "unknown attribute map field 'colour' (login, address, name, site, "
	              "database, key, upn)"), "unknown field refused, named with the list");
	check(refused(&map, "login=u id", "is not an LDAP attribute name") &&
	      refused(&map, "login=9abc", "is not an LDAP attribute name") &&
	      refused(&map, "login=-x", "is not an LDAP attribute name"), "bad attribute names refused");
	check(refused(&map, "name=cn,login", "give FIELD=ATTRIBUTE"), "an item without '=' refused, nothing applied");
	check(apply_is(&map, "login=,key=,upn=", NULL), "every field removed: no map");

	struct dirmap m;
	struct err e;
	check(dirmap_parse("site=l\ndatabase=msExchHomeServerName", &m, &e) == ST_OK && m.attr[DM_SITE] &&
	      !strcmp(m.attr[DM_SITE], "l") && !m.attr[DM_LOGIN], "parse fills the fields");
	char *t = dirmap_text(&m);
	check(t && !strcmp(t, "site=l\ndatabase=msExchHomeServerName"), "text form round trip");
	free(t);
	dirmap_free(&m);
	check(dirmap_parse("nope=x", &m, &e) == ST_CONFIG, "a stored map with a bad line is refused");
	check(!strcmp(dirmap_field_name(DM_KEY), "key"), "field names");
	free(map);
	return tap_done();
}
