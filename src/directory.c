/* directory.c - mailbox discovery from LDAP / Active Directory; see directory.h. */
#include "config.h"

#include "directory.h"

#include <ctype.h>
#include <inttypes.h>
#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "dirmap.h"
#include "log.h"
#include "match.h"
#include "secret.h"

#define ORIGIN "directory"
/* Rights a directory delegate attribute gives, as flags of a pending row. */
enum { RIGHT_SEND_ON_BEHALF = 1, RIGHT_FULL_ACCESS = 2 };

/* Attributes read with every entry of a discovery search. */
static const char *const full_attrs[] = {
	"mail", "proxyAddresses", "userPrincipalName", "displayName", "cn", "sAMAccountName", "uid",
	"ou", "objectGUID", "entryUUID", "homeMDB", "msExchRecipientTypeDetails",
	"msExchHideFromAddressLists", "publicDelegates", "msExchDelegateListLink", "uSNChanged",
	"modifyTimestamp", NULL
};
/* The key-only walk that finds removals: what makes an entry's key. */
static const char *const key_attrs[] = { "objectGUID", "entryUUID", NULL };

/* A directory entry's normalised DN and key (both owned). */
struct dir_key { char *dn; char *key; };
/* A mailbox read in this run and one delegate DN (NULL: it has none); owned. */
struct pending { int64_t mailbox_id; char *dn; unsigned rights; };
/* A stored mailbox with a directory key (key owned). */
struct known { int64_t id; char *key; bool vanished; };

/* One discovery run: the connection, what was read, the report. */
struct run {
	struct store *st;
	const struct forest *f;
	int64_t endpoint_id;
	LDAP *ld;
	char **urls;                /* the forest's directory URLs, in order */
	size_t nurls;
	const char *url;            /* the one in use (one of urls) */
	size_t silent;              /* how many URLs before it did not answer */
	char *base;                 /* the base DN: the forest's, or the root DSE's */
	struct dirmap map;          /* the forest's attribute map */
	const char **attrs;         /* full_attrs and the mapped ones (strings not owned) */
	const char *kattrs[4];      /* key_attrs and the mapped key */
	int timeout_s;
	const char *typed_password; /* the wizard's, instead of the secret source (not owned) */
	struct dir_report *rep;
	struct dir_key *keys;       /* every entry the complete search returned */
	size_t nkeys, capkeys;
	struct pending *pend;
	size_t npend, cappend;
	struct known *known;
	size_t nknown, capknown;
	bool keys_complete;         /* keys holds the whole directory (scope) */
	uint64_t max_usn;           /* 0: no entry carried uSNChanged */
	char max_ts[32];            /* "" : none carried modifyTimestamp */
};

/* --- URLs and errors ------------------------------------------------------ */

static bool is_loopback(const char *host)
{
	return !host || !*host || !strcasecmp(host, "localhost") || !strncmp(host, "127.", 4) ||
	       !strcmp(host, "::1");
}

/* Parses one url; *starttls says whether StartTLS must be used; server
 * (may be NULL) gets "scheme://host:port", what ldap_initialize takes (it
 * refuses a URL with a DN or filter; the base DN is the forest's). */
static enum st url_parse(const char *url, bool *starttls, char *server, size_t server_len,
                         struct err *e)
{
	LDAPURLDesc *lud = NULL;
	int rc = ldap_url_parse(url, &lud);
	if (rc != LDAP_URL_SUCCESS)
		return err_set(e, ST_CONFIG, "directory URL '%s' is not a valid LDAP URL "
		               "(ldap://HOST[:PORT] or ldaps://HOST[:PORT])", url);
	enum st r = ST_OK;
	bool ext_tls = false;
	for (char **x = lud->lud_exts; x && *x; x++) {
		const char *name = **x == '!' ? *x + 1 : *x;
		if (!strcasecmp(name, "StartTLS"))
			ext_tls = true;
		else if (**x == '!')
			r = err_set(e, ST_CONFIG, "directory URL '%s': unknown critical extension '%s'", url, *x);
	}
	bool ldaps = !strcasecmp(lud->lud_scheme, "ldaps");
	if (!r && strcasecmp(lud->lud_scheme, "ldap") && !ldaps)
		r = err_set(e, ST_CONFIG, "directory URL '%s': scheme '%s' is not ldap or ldaps", url,
		            lud->lud_scheme);
	else if (!r && (!lud->lud_host || !*lud->lud_host))
		r = err_set(e, ST_CONFIG, "directory URL '%s' names no host", url);
	else if (!r && ldaps && ext_tls)
		r = err_set(e, ST_CONFIG, "directory URL '%s': StartTLS on ldaps:// makes no sense", url);
	if (starttls)
		*starttls = !ldaps && (ext_tls || !is_loopback(lud->lud_host));
	if (server && !r) {
		bool v6 = strchr(lud->lud_host, ':') != NULL;
		snprintf(server, server_len, "%s://%s%s%s:%d", lud->lud_scheme, v6 ? "[" : "", lud->lud_host,
		         v6 ? "]" : "", lud->lud_port);
	}
	ldap_free_urldesc(lud);
	return r;
}

/* Splits a list of URLs separated by white space (not commas, which a DN
 * in a URL may hold); *n gets how many.  Caller frees each and the array. */
static char **url_split(const char *list, size_t *n)
{
	static const char seps[] = " \t\r\n";
	char **out = NULL;
	size_t cap = 0;
	*n = 0;
	for (const char *p = list ? list : ""; *p;) {
		p += strspn(p, seps);
		size_t len = strcspn(p, seps);
		if (len) {
			out = x_grow(out, *n, &cap, sizeof *out, 4);
			out[(*n)++] = x_strndup(p, len);
		}
		p += len;
	}
	return out;
}

static void urls_free(char **urls, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(urls[i]);
	free(urls);
}

enum st directory_url_check(const char *url, struct err *e)
{
	size_t n = 0;
	char **urls = url_split(url, &n);
	enum st s = n ? ST_OK : err_set(e, ST_CONFIG, "no directory URL (--directory "
	                                "'ldap[s]://HOST[:PORT] [ldap[s]://HOST2 ...]')");
	for (size_t i = 0; i < n && !s; i++)
		s = url_parse(urls[i], NULL, NULL, 0, e);
	urls_free(urls, n);
	return s;
}

/* The server's own words about the last error, if any (owned). */
static char *diagnostic(LDAP *ld)
{
	char *msg = NULL;
	if (ld)
		ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg);
	if (msg && !*msg) {
		ldap_memfree(msg);
		msg = NULL;
	}
	return msg;
}

/* Maps an LDAP result code to a status with a message naming the forest,
 * the server and what was being done. */
static enum st ldap_fail(struct run *r, int rc, const char *what, struct err *e)
{
	char *diag = diagnostic(r->ld);
	char detail[300];
	snprintf(detail, sizeof detail, "%s%s%s", ldap_err2string(rc), diag ? ": " : "", diag ? diag : "");
	if (diag)
		ldap_memfree(diag);
	const char *fn = r->f->name, *url = r->url;
	switch (rc) {
	case LDAP_SERVER_DOWN:
	case LDAP_CONNECT_ERROR:
		return err_set(e, ST_NET, "forest %s: directory server %s: %s: %s", fn, url, what, detail);
	case LDAP_TIMEOUT:
		return err_set(e, ST_TIMEOUT, "forest %s: directory server %s did not answer within %d s "
		               "(%s)", fn, url, r->timeout_s, what);
	case LDAP_INVALID_CREDENTIALS:
		return err_set(e, ST_AUTH, "forest %s: directory server %s refused the bind as '%s': %s "
		               "(check the bind DN and its password source)", fn, url,
		               r->f->dir_bind_dn ? r->f->dir_bind_dn : "(anonymous)", detail);
	case LDAP_INSUFFICIENT_ACCESS:
	case LDAP_INAPPROPRIATE_AUTH:
	case LDAP_STRONG_AUTH_REQUIRED:
	case LDAP_CONFIDENTIALITY_REQUIRED:
		return err_set(e, ST_AUTH, "forest %s: directory server %s: %s as '%s': %s", fn, url, what,
		               r->f->dir_bind_dn ? r->f->dir_bind_dn : "(anonymous)", detail);
	case LDAP_FILTER_ERROR:
		return err_set(e, ST_CONFIG, "forest %s: filter '%s' is not valid (%s)", fn,
		               r->f->dir_filter ? r->f->dir_filter : DIR_DEFAULT_FILTER, detail);
	case LDAP_REFERRAL:
		return err_set(e, ST_CONFIG, "forest %s: directory server %s: %s: the server refers elsewhere "
		               "(referrals are not followed): %s", fn, url, what, detail);
	case LDAP_NO_SUCH_OBJECT:
	case LDAP_INVALID_DN_SYNTAX:
		return err_set(e, ST_CONFIG, "forest %s: directory server %s: %s: %s", fn, url, what, detail);
	case LDAP_SIZELIMIT_EXCEEDED:
		return err_set(e, ST_CONFIG, "forest %s: directory server %s stopped at its size limit "
		               "(%s) without honouring the paged results control: %s", fn, url, what, detail);
	case LDAP_BUSY:
	case LDAP_UNAVAILABLE:
	case LDAP_TIMELIMIT_EXCEEDED:
	case LDAP_ADMINLIMIT_EXCEEDED:
		return err_set(e, ST_UNAVAIL, "forest %s: directory server %s: %s: %s", fn, url, what, detail);
	default:
		return err_set(e, ST_PROTO, "forest %s: directory server %s: %s: %s", fn, url, what, detail);
	}
}

/* --- connecting ------------------------------------------------------------ */

static enum st set_opt(struct run *r, int opt, const void *v, const char *name, struct err *e)
{
	if (ldap_set_option(r->ld, opt, v) != LDAP_OPT_SUCCESS)
		return err_set(e, ST_INTERNAL, "forest %s: libldap refused option %s", r->f->name, name);
	return ST_OK;
}

static enum st connect_opts(struct run *r, struct err *e)
{
	int v3 = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, zero = 0;
	struct timeval tv = { .tv_sec = r->timeout_s > 0 ? r->timeout_s : 30 };
	enum st s = set_opt(r, LDAP_OPT_PROTOCOL_VERSION, &v3, "protocol version", e);
	if (!s)
		s = set_opt(r, LDAP_OPT_REFERRALS, LDAP_OPT_OFF, "referrals", e);
	if (!s)
		s = set_opt(r, LDAP_OPT_NETWORK_TIMEOUT, &tv, "network timeout", e);
	if (!s)
		s = set_opt(r, LDAP_OPT_TIMEOUT, &tv, "timeout", e);
	/* Verification is on whatever ldap.conf says; the new context takes it. */
	if (!s)
		s = set_opt(r, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand, "TLS verification", e);
	if (!s)
		s = set_opt(r, LDAP_OPT_X_TLS_NEWCTX, &zero, "TLS context", e);
	return s;
}

static enum st dir_bind(struct run *r, const char *secrets_path, struct err *e)
{
	const struct forest *f = r->f;
	char *pw = NULL;
	if (r->typed_password) {
		/* The wizard's password, not in any secret source yet. */
		const char *dn = f->dir_bind_dn && *f->dir_bind_dn ? f->dir_bind_dn : NULL;
		struct berval cred = { .bv_val = (char *)r->typed_password, .bv_len = strlen(r->typed_password) };
		int rc = ldap_sasl_bind_s(r->ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
		return rc == LDAP_SUCCESS ? ST_OK : ldap_fail(r, rc, "bind", e);
	}
	if (f->dir_bind_dn && *f->dir_bind_dn) {
		if (!f->dir_secret_ref || !*f->dir_secret_ref)
			return err_set(e, ST_CONFIG, "forest %s: bind DN '%s' has no password source "
			               "(--bind-password-file and the like)", f->name, f->dir_bind_dn);
		enum st s = secret_resolve(f->dir_secret_ref, secrets_path, &pw, e);
		if (s) {
			err_prefix(e, "forest %s: password of bind DN '%s'", f->name, f->dir_bind_dn);
			return s;
		}
	}
	struct berval cred = { .bv_val = pw, .bv_len = pw ? strlen(pw) : 0 };
	log_info("forest %s: binding to %s as %s", f->name, r->url,
	         f->dir_bind_dn ? f->dir_bind_dn : "(anonymous)");
	int rc = ldap_sasl_bind_s(r->ld, pw ? f->dir_bind_dn : NULL, LDAP_SASL_SIMPLE, &cred, NULL,
	                          NULL, NULL);
	secret_free(pw);
	return rc == LDAP_SUCCESS ? ST_OK : ldap_fail(r, rc, "bind", e);
}

/* Connects to one URL (r->url) and binds. */
static enum st connect_one(struct run *r, const char *secrets_path, struct err *e)
{
	bool starttls = false;
	char server[300];
	enum st s = url_parse(r->url, &starttls, server, sizeof server, e);
	if (s) {
		err_prefix(e, "forest %s", r->f->name);
		return s;
	}
	int rc = ldap_initialize(&r->ld, server);
	if (rc != LDAP_SUCCESS)
		return ldap_fail(r, rc, "initialise", e);
	if ((s = connect_opts(r, e)))
		return s;
	if (starttls && (rc = ldap_start_tls_s(r->ld, NULL, NULL)) != LDAP_SUCCESS)
		return ldap_fail(r, rc, "StartTLS", e);
	return dir_bind(r, secrets_path, e);
}

/* Tries the forest's URLs in order until one answers and takes the bind.
 * Only an unreachable or silent server moves on to the next: a refused
 * bind or a bad setting would be the same on every replica. */
static enum st dir_connect(struct run *r, const char *secrets_path, struct err *e)
{
	r->urls = url_split(r->f->dir_url, &r->nurls);
	if (!r->nurls)
		return err_set(e, ST_CONFIG, "forest %s has no directory URL", r->f->name);
	enum st s = ST_NET;
	for (size_t i = 0; i < r->nurls && (s == ST_NET || s == ST_TIMEOUT); i++) {
		if (r->ld)
			ldap_unbind_ext_s(r->ld, NULL, NULL);
		r->ld = NULL;
		r->url = r->urls[i];
		s = connect_one(r, secrets_path, e);
		if ((s == ST_NET || s == ST_TIMEOUT) && i + 1 < r->nurls) {
			log_warn("%s; trying %s", e->msg, r->urls[i + 1]);
			r->silent++;
		}
	}
	if (!s && r->nurls > 1)
		log_info("forest %s: directory server %s answered", r->f->name, r->url);
	if ((s == ST_NET || s == ST_TIMEOUT) && r->nurls > 1) {
		size_t len = strlen(e->msg);
		snprintf(e->msg + len, sizeof e->msg - len, " (none of the forest's %zu directory servers "
		         "answered: %s", r->nurls, r->urls[0]);
		for (size_t i = 1; i < r->nurls; i++) {
			len = strlen(e->msg);
			snprintf(e->msg + len, sizeof e->msg - len, ", %s", r->urls[i]);
		}
		len = strlen(e->msg);
		snprintf(e->msg + len, sizeof e->msg - len, ")");
	}
	return s;
}

/* --- reading entries ----------------------------------------------------------- */

/* First value of attr as a string (owned), NULL when absent or empty. */
static char *first_value(LDAP *ld, LDAPMessage *en, const char *attr)
{
	struct berval **v = ldap_get_values_len(ld, en, attr);
	char *out = v && v[0] && v[0]->bv_len ? x_strndup(v[0]->bv_val, v[0]->bv_len) : NULL;
	ldap_value_free_len(v);
	return out;
}

static void lower_ascii(char *s)
{
	for (; s && *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* A DN in one form for comparisons (owned): normalised, ASCII lower case. */
static char *dn_norm(const char *dn)
{
	char *out = NULL;
	if (ldap_dn_normalize(dn, LDAP_DN_FORMAT_LDAP, &out, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS ||
	    !out) {
		char *copy = x_strdup(dn);
		lower_ascii(copy);
		return copy;
	}
	char *copy = x_strdup(out);
	ldap_memfree(out);
	lower_ascii(copy);
	return copy;
}

/* AD's text form of a GUID: the first three groups little-endian. */
static char *guid_text(const struct berval *b)
{
	const unsigned char *g = (const unsigned char *)b->bv_val;
	if (b->bv_len != 16) {
		char *hex = x_malloc(b->bv_len * 2 + 1);
		for (size_t i = 0; i < b->bv_len; i++)
			snprintf(hex + 2 * i, 3, "%02x", g[i]);
		return hex;
	}
	return x_asprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	                  g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11],
	                  g[12], g[13], g[14], g[15]);
}

/* The entry's key (owned): the mapped attribute, else objectGUID or
 * entryUUID; its normalised DN when it has none of them. */
static char *entry_key(const struct dirmap *map, LDAP *ld, LDAPMessage *en, const char *dn)
{
	const char *mapped = map->attr[DM_KEY];
	if (mapped && strcasecmp(mapped, "objectGUID")) {
		char *k = first_value(ld, en, mapped);
		return k ? k : dn_norm(dn);
	}
	struct berval **v = ldap_get_values_len(ld, en, "objectGUID");
	char *key = v && v[0] && v[0]->bv_len ? guid_text(v[0]) : NULL;
	ldap_value_free_len(v);
	if (!key)
		key = first_value(ld, en, "entryUUID");
	return key ? key : dn_norm(dn);
}

/* Value of the first RDN of dn (owned), NULL when dn does not parse. */
static char *first_rdn_value(const char *dn)
{
	LDAPDN ldn = NULL;
	char *out = NULL;
	if (ldap_str2dn(dn, &ldn, LDAP_DN_FORMAT_LDAPV3) == LDAP_SUCCESS && ldn && ldn[0] && ldn[0][0])
		out = x_strndup(ldn[0][0]->la_value.bv_val, ldn[0][0]->la_value.bv_len);
	ldap_dnfree(ldn);
	return out;
}

static int dn_depth(LDAPDN ldn)
{
	int n = 0;
	while (ldn && ldn[n])
		n++;
	return n;
}

/* The site: the outermost OU of dn below base (owned), NULL when none. */
static char *site_of(const char *dn, const char *base)
{
	LDAPDN ldn = NULL, lbase = NULL;
	char *out = NULL;
	if (ldap_str2dn(dn, &ldn, LDAP_DN_FORMAT_LDAPV3) == LDAP_SUCCESS &&
	    ldap_str2dn(base, &lbase, LDAP_DN_FORMAT_LDAPV3) == LDAP_SUCCESS) {
		for (int i = dn_depth(ldn) - dn_depth(lbase) - 1; i >= 1 && !out; i--) {
			LDAPAVA *ava = ldn[i][0];
			if (ava->la_attr.bv_len == 2 && !strncasecmp(ava->la_attr.bv_val, "ou", 2))
				out = x_strndup(ava->la_value.bv_val, ava->la_value.bv_len);
		}
	}
	ldap_dnfree(ldn);
	ldap_dnfree(lbase);
	return out;
}

/* The primary SMTP address among proxyAddresses ("SMTP:" in capitals). */
static char *primary_smtp(LDAP *ld, LDAPMessage *en)
{
	struct berval **v = ldap_get_values_len(ld, en, "proxyAddresses");
	char *out = NULL;
	for (size_t i = 0; v && v[i] && !out; i++)
		if (v[i]->bv_len > 5 && !strncmp(v[i]->bv_val, "SMTP:", 5))
			out = x_strndup(v[i]->bv_val + 5, v[i]->bv_len - 5);
	ldap_value_free_len(v);
	return out;
}

/* Every value of attr joined by newlines (owned), NULL when absent. */
static char *all_values(LDAP *ld, LDAPMessage *en, const char *attr)
{
	struct berval **v = ldap_get_values_len(ld, en, attr);
	struct sbuf b;
	sb_init(&b);
	for (size_t i = 0; v && v[i]; i++) {
		if (b.len)
			sb_addc(&b, '\n');
		sb_add(&b, v[i]->bv_val, v[i]->bv_len);
	}
	ldap_value_free_len(v);
	return b.data;
}

/* Every SMTP address of the entry, lower case, newline-separated (owned):
 * the SMTP proxyAddresses (primary and aliases), else the mail values. */
static char *smtp_addresses(LDAP *ld, LDAPMessage *en)
{
	char *raw = all_values(ld, en, "proxyAddresses");
	char *out = match_addresses_norm(raw, "\n");
	free(raw);
	if (!out) {
		raw = all_values(ld, en, "mail");
		out = match_addresses_norm(raw, "\n");
		free(raw);
	}
	return out;
}

static const char *kind_of(const char *details)
{
	unsigned long long v = details ? strtoull(details, NULL, 10) : 1;
	return v == 4 ? "shared" : v == 16 ? "room" : v == 32 ? "equipment" : "user";
}

/* What one entry gives a mailbox row (all owned). */
struct fields { char *login, *address, *display, *site, *database, *key, *kind_raw, *hidden, *upn,
                *proxies; };

static void fields_free(struct fields *x)
{
	free(x->login), free(x->address), free(x->display), free(x->site);
	free(x->database), free(x->key), free(x->kind_raw), free(x->hidden);
	free(x->upn), free(x->proxies);
}

/* Replaces *field by the first value of the mapped attribute, if any. */
static bool mapped(struct run *r, LDAPMessage *en, enum dirmap_field f, char **field)
{
	if (!r->map.attr[f])
		return false;
	free(*field);
	*field = first_value(r->ld, en, r->map.attr[f]);
	return true;
}

/* The forest's attribute map over the defaults (dirmap.h); the key is
 * entry_key's. */
static void apply_map(struct run *r, LDAPMessage *en, struct fields *x)
{
	mapped(r, en, DM_LOGIN, &x->login);
	if (mapped(r, en, DM_ADDRESS, &x->address) && x->address && !strncasecmp(x->address, "smtp:", 5))
		memmove(x->address, x->address + 5, strlen(x->address + 5) + 1);
	mapped(r, en, DM_NAME, &x->display);
	mapped(r, en, DM_SITE, &x->site);
	if (mapped(r, en, DM_DATABASE, &x->database) && x->database && strchr(x->database, '=')) {
		char *rdn = first_rdn_value(x->database);
		if (rdn) {
			free(x->database);
			x->database = rdn;
		}
	}
	if (mapped(r, en, DM_UPN, &x->upn)) {
		char *low = match_lower(x->upn);
		free(x->upn);
		x->upn = low;
	}
}

static void read_fields(struct run *r, LDAPMessage *en, const char *dn, struct fields *x)
{
	LDAP *ld = r->ld;
	memset(x, 0, sizeof *x);
	char *sam = first_value(ld, en, "sAMAccountName");
	struct berval **guid = ldap_get_values_len(ld, en, "objectGUID");
	bool ad = sam || guid;
	ldap_value_free_len(guid);
	x->login = ad ? sam : first_value(ld, en, "uid");
	x->address = ad ? primary_smtp(ld, en) : NULL;
	if (!x->address)
		x->address = first_value(ld, en, "mail");
	if (!x->login && x->address)
		x->login = x_strdup(x->address);
	x->display = first_value(ld, en, "displayName");
	if (!x->display)
		x->display = first_value(ld, en, "cn");
	x->site = ad ? NULL : first_value(ld, en, "ou");
	if (!x->site && r->base)
		x->site = site_of(dn, r->base);
	char *mdb = first_value(ld, en, "homeMDB");
	x->database = mdb ? first_rdn_value(mdb) : NULL;
	free(mdb);
	x->kind_raw = first_value(ld, en, "msExchRecipientTypeDetails");
	x->hidden = first_value(ld, en, "msExchHideFromAddressLists");
	x->key = entry_key(&r->map, ld, en, dn);
	char *upn = first_value(ld, en, "userPrincipalName");
	x->upn = match_lower(upn);
	free(upn);
	x->proxies = smtp_addresses(ld, en);
	apply_map(r, en, x);
}

/* Keeps the highest uSNChanged and modifyTimestamp seen. */
static void note_mark(struct run *r, LDAP *ld, LDAPMessage *en)
{
	char *usn = first_value(ld, en, "uSNChanged");
	if (usn) {
		uint64_t v = strtoull(usn, NULL, 10);
		if (v > r->max_usn)
			r->max_usn = v;
		free(usn);
	}
	char *ts = first_value(ld, en, "modifyTimestamp");
	if (ts && strlen(ts) < sizeof r->max_ts && strcmp(ts, r->max_ts) > 0)
		strcpy(r->max_ts, ts);
	free(ts);
}

static void add_key(struct run *r, const char *dn, char *key)
{
	r->keys = x_grow(r->keys, r->nkeys, &r->capkeys, sizeof *r->keys, 1024);
	r->keys[r->nkeys++] = (struct dir_key){ dn_norm(dn), key };
}

static void add_pending(struct run *r, int64_t mailbox_id, char *dn, unsigned rights)
{
	r->pend = x_grow(r->pend, r->npend, &r->cappend, sizeof *r->pend, 1024);
	r->pend[r->npend++] = (struct pending){ mailbox_id, dn, rights };
}

/* Adds the DNs of attr as delegates with rights; a DN already noted for
 * this mailbox (from index first on) gets the rights added instead. */
static void note_delegate_attr(struct run *r, LDAPMessage *en, int64_t mailbox_id, size_t first,
                               const char *attr, unsigned rights)
{
	struct berval **v = ldap_get_values_len(r->ld, en, attr);
	for (size_t i = 0; v && v[i]; i++) {
		char *raw = x_strndup(v[i]->bv_val, v[i]->bv_len);
		char *dn = dn_norm(raw);
		free(raw);
		size_t k = first;
		while (k < r->npend && strcmp(r->pend[k].dn, dn))
			k++;
		if (k < r->npend) {
			r->pend[k].rights |= rights;
			free(dn);
		} else {
			add_pending(r, mailbox_id, dn, rights);
		}
	}
	ldap_value_free_len(v);
}

/* Remembers the entry's delegates for after the last page:
 * publicDelegates may send on behalf of the mailbox (MS-ADA: the
 * "Send on behalf" list); msExchDelegateListLink have full access and
 * the mailbox auto-mapped in their Outlook (Exchange sets it with the
 * FullAccess permission). */
static void note_delegates(struct run *r, LDAPMessage *en, int64_t mailbox_id)
{
	add_pending(r, mailbox_id, NULL, 0);   /* its directory delegates are replaced */
	size_t first = r->npend;
	note_delegate_attr(r, en, mailbox_id, first, "publicDelegates", RIGHT_SEND_ON_BEHALF);
	note_delegate_attr(r, en, mailbox_id, first, "msExchDelegateListLink", RIGHT_FULL_ACCESS);
}

/* Upserts one entry's mailbox. */
static enum st take_entry(struct run *r, LDAPMessage *en, const char *dn, struct err *e)
{
	struct fields x;
	read_fields(r, en, dn, &x);
	note_mark(r, r->ld, en);
	r->rep->seen++;
	enum st s = ST_OK;
	if (!x.login) {
		r->rep->skipped++;
		log_warn("forest %s: entry %s has no login (%s): skipped", r->f->name, dn,
		         r->map.attr[DM_LOGIN] ? r->map.attr[DM_LOGIN] : "sAMAccountName, uid or mail");
		fields_free(&x);
		return ST_OK;
	}
	if (x.hidden && !strcasecmp(x.hidden, "TRUE"))
		r->rep->hidden++;
	struct mailbox_row m = { .endpoint_id = r->endpoint_id, .login = x.login, .address = x.address,
	                         .display_name = x.display, .site = x.site, .database = x.database,
	                         .kind = kind_of(x.kind_raw), .size_bytes = -1, .items = -1,
	                         .folders = -1, .dir_key = x.key, .upn = x.upn,
	                         .proxy_addresses = x.proxies };
	int64_t id = 0;
	enum discovered out = DISC_SAME;
	char *old = NULL;
	if ((s = store_mailbox_discovered(r->st, &m, &id, &out, &old, e)))
		err_prefix(e, "forest %s: entry %s", r->f->name, dn);
	if (old) {
		log_info("forest %s: %s renamed to %s in the directory (key %s): same mailbox", r->f->name,
		         old, x.login, x.key);
		free(old);
	}
	if (!s) {
		r->rep->added += out == DISC_ADDED;
		r->rep->changed += out == DISC_CHANGED || out == DISC_RENAMED;
		r->rep->renamed += out == DISC_RENAMED;
		note_delegates(r, en, id);
		if (r->rep->full)
			add_key(r, dn, x.key), x.key = NULL;
	}
	fields_free(&x);
	return s;
}

/* --- paged searches ------------------------------------------------------------ */

typedef enum st (*entry_fn)(struct run *r, LDAPMessage *en, const char *dn, struct err *e);

/* Hands every entry of one page to fn, in one store transaction. */
static enum st take_page(struct run *r, LDAPMessage *res, entry_fn fn, struct err *e)
{
	enum st s = store_begin(r->st, e);
	for (LDAPMessage *en = ldap_first_entry(r->ld, res); en && !s; en = ldap_next_entry(r->ld, en)) {
		char *dn = ldap_get_dn(r->ld, en);
		if (dn)
			s = fn(r, en, dn, e);
		ldap_memfree(dn);
	}
	if (!s)
		return store_commit(r->st, e);
	store_rollback(r->st);
	return s;
}

/* host:port of an LDAP URL, lower case, into out ("" when it does not parse). */
static void url_host_port(const char *url, char *out, size_t len)
{
	LDAPURLDesc *lud = NULL;
	out[0] = '\0';
	if (ldap_url_parse(url, &lud) != LDAP_URL_SUCCESS)
		return;
	snprintf(out, len, "%s:%d", lud->lud_host ? lud->lud_host : "", lud->lud_port);
	lower_ascii(out);
	ldap_free_urldesc(lud);
}

/* Whether a referral URL leads back to one of the forest's own servers. */
static bool refers_back(const struct run *r, const char *ref)
{
	char a[300], b[300];
	url_host_port(ref, a, sizeof a);
	for (size_t i = 0; a[0] && i < r->nurls; i++) {
		url_host_port(r->urls[i], b, sizeof b);
		if (!strcmp(a, b))
			return true;
	}
	return false;
}

/* Referrals are never followed: following them would bind with the
 * forest's password on a server nobody configured, and a referral that
 * leads back (a loop) could send discovery round for ever.  A search base
 * that is itself a referral is an error naming it. */
static enum st referral_fail(struct run *r, char **refs, const char *what, struct err *e)
{
	const char *ref = refs && refs[0] ? refs[0] : "(no URL given)";
	if (refers_back(r, ref))
		return err_set(e, ST_CONFIG, "forest %s: directory server %s: %s: referral loop: the server "
		               "refers back to itself (%s); referrals are not followed: check the referral "
		               "entry on the server, or give a base DN the server holds", r->f->name, r->url,
		               what, ref);
	return err_set(e, ST_CONFIG, "forest %s: directory server %s: %s: the server refers to %s, which "
	               "is not followed: give that server with --directory, or a base DN this one holds",
	               r->f->name, r->url, what, ref);
}

/* Continuation references in a page (parts of the subtree held elsewhere):
 * counted, named once each in the log, not followed.  The run then knows
 * only part of the tree, so it marks nothing vanished. */
static void note_references(struct run *r, LDAPMessage *res, const char *base)
{
	for (LDAPMessage *m = ldap_first_reference(r->ld, res); m; m = ldap_next_reference(r->ld, m)) {
		char **refs = NULL;
		if (ldap_parse_reference(r->ld, m, &refs, NULL, 0) != LDAP_SUCCESS)
			continue;
		const char *ref = refs && refs[0] ? refs[0] : "(no URL)";
		r->rep->referrals++;
		if (!r->rep->referral[0])
			snprintf(r->rep->referral, sizeof r->rep->referral, "%s", ref);
		bool loop = refers_back(r, ref);
		r->rep->referral_loop |= loop;
		log_warn("forest %s: under %s the directory server %s refers to %s%s: not followed, and no "
		         "mailbox is marked vanished in this run", r->f->name, base, r->url, ref,
		         loop ? " (back to this server: a referral loop)" : "");
		ber_memvfree((void **)refs);
	}
}

/* The result code and the next page's cookie of one page's answer. */
static enum st page_result(struct run *r, LDAPMessage *res, const char *what, struct berval *cookie,
                           struct err *e)
{
	int code = LDAP_SUCCESS;
	LDAPControl **ctrls = NULL;
	char **refs = NULL;
	int rc = ldap_parse_result(r->ld, res, &code, NULL, NULL, &refs, &ctrls, 0);
	if (rc != LDAP_SUCCESS)
		return ldap_fail(r, rc, what, e);
	enum st s = code == LDAP_SUCCESS ? ST_OK
	            : code == LDAP_REFERRAL ? referral_fail(r, refs, what, e) : ldap_fail(r, code, what, e);
	ber_memvfree((void **)refs);
	LDAPControl *pc = ctrls ? ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, ctrls, NULL) : NULL;
	ber_int_t estimate = 0;
	if (!s && pc && (rc = ldap_parse_pageresponse_control(r->ld, pc, &estimate, cookie)) != LDAP_SUCCESS)
		s = ldap_fail(r, rc, what, e);
	ldap_controls_free(ctrls);
	return s;
}

/* What a paged search does with one page's answer res; clearing *more ends
 * the search after this page. */
typedef enum st (*page_fn)(struct run *r, const char *base, LDAPMessage *res, void *ctx, bool *more,
                           struct err *e);

/* A search under base in scope, DIR_PAGE_SIZE entries a page (RFC 2696),
 * each page handed to fn; what names the search in errors. */
static enum st paged_walk(struct run *r, const char *base, int scope, const char *filter,
                          const char *const *attrs, const char *what, page_fn fn, void *ctx, struct err *e)
{
	struct berval cookie = { 0 };
	struct timeval tv = { .tv_sec = r->timeout_s > 0 ? r->timeout_s : 30 };
	enum st s = ST_OK;
	bool more = true;
	do {
		LDAPControl *pc = NULL;
		int rc = ldap_create_page_control(r->ld, DIR_PAGE_SIZE, &cookie, 0, &pc);
		ber_memfree(cookie.bv_val);
		cookie = (struct berval){ 0 };
		if (rc != LDAP_SUCCESS)
			return ldap_fail(r, rc, what, e);
		LDAPControl *ctrls[2] = { pc, NULL };
		LDAPMessage *res = NULL;
		rc = ldap_search_ext_s(r->ld, base, scope, filter, (char **)attrs, 0, ctrls, NULL, &tv, LDAP_NO_LIMIT,
		                       &res);
		ldap_control_free(pc);
		if (!res || (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED && rc != LDAP_REFERRAL &&
		             ldap_count_entries(r->ld, res) <= 0))
			s = ldap_fail(r, rc, what, e);
		else if (!(s = page_result(r, res, what, &cookie, e)))
			s = fn(r, base, res, ctx, &more, e);
		ldap_msgfree(res);
		r->rep->pages += !s;
		log_debug("forest %s: page %d under %s: %s", r->f->name, r->rep->pages, base,
		          s ? e->msg : "ok");
	} while (!s && more && cookie.bv_len > 0);
	ber_memfree(cookie.bv_val);
	return s;
}

/* paged_search's page: every entry to fn (in struct entry_page). */
struct entry_page {
	entry_fn fn;
};

static enum st entries_of_page(struct run *r, const char *base, LDAPMessage *res, void *ctx, bool *more,
                               struct err *e)
{
	(void)more;
	entry_fn fn = ((const struct entry_page *)ctx)->fn;
	enum st s = take_page(r, res, fn, e);
	if (!s && fn == take_entry)
		note_references(r, res, base);
	return s;
}

/* A subtree search under base, every entry handed to fn. */
static enum st paged_search(struct run *r, const char *base, const char *filter,
                            const char *const *attrs, entry_fn fn, struct err *e)
{
	char what[600];
	snprintf(what, sizeof what, "search under '%s'", base);
	struct entry_page ctx = { fn };
	return paged_walk(r, base, LDAP_SCOPE_SUBTREE, filter, attrs, what, entries_of_page, &ctx, e);
}

/* --- the base DN ------------------------------------------------------------------ */

/* First value of attr in the root DSE entry res (owned), NULL when none. */
static char *root_dse_value(LDAP *ld, LDAPMessage *res, const char *attr)
{
	LDAPMessage *en = ldap_first_entry(ld, res);
	return en ? first_value(ld, en, attr) : NULL;
}

/* r->base: the forest's base DN, or when it has none the directory's own
 * from its root DSE (RFC 4512 5.1): AD's defaultNamingContext (the
 * domain, not the configuration or schema partitions), else the first
 * namingContexts value. */
static enum st resolve_base(struct run *r, struct err *e)
{
	if (r->f->dir_base_dn && *r->f->dir_base_dn) {
		r->base = x_strdup(r->f->dir_base_dn);
		return ST_OK;
	}
	char *attrs[] = { (char *)"defaultNamingContext", (char *)"namingContexts", NULL };
	struct timeval tv = { .tv_sec = r->timeout_s > 0 ? r->timeout_s : 30 };
	LDAPMessage *res = NULL;
	int rc = ldap_search_ext_s(r->ld, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL, &tv,
	                           1, &res);
	enum st s = ST_OK;
	if (rc != LDAP_SUCCESS) {
		s = ldap_fail(r, rc, "read the root DSE for the base DN", e);
	} else if ((r->base = root_dse_value(r->ld, res, attrs[0]))) {
		r->rep->base_from = attrs[0];
	} else if ((r->base = root_dse_value(r->ld, res, attrs[1]))) {
		r->rep->base_from = attrs[1];
	} else {
		s = err_set(e, ST_CONFIG, "forest %s has no base DN and the root DSE of %s names none "
		            "(no defaultNamingContext or namingContexts readable): forest set %s --base-dn DN",
		            r->f->name, r->url, r->f->name);
	}
	ldap_msgfree(res);
	if (!s && r->rep->base_from)
		log_info("forest %s: base DN %s from the root DSE's %s", r->f->name, r->base, r->rep->base_from);
	return s;
}

/* --- scopes, filters, marks ----------------------------------------------------- */

#define GROUP_PREFIX "group:"

/* A scope line "group:DN" limits discovery to the members of the group. */
static bool is_group_line(const char *t)
{
	return !strncasecmp(t, GROUP_PREFIX, strlen(GROUP_PREFIX));
}

/* Calls fn with each non-empty trimmed line of the scope. */
static void scope_lines(const struct forest *f, void (*fn)(void *ctx, const char *line), void *ctx)
{
	text_each_line(f->scope, fn, ctx);
}

struct bases { const char *base; char **v; size_t n, cap; };

static void add_base(void *ctx, const char *t)
{
	struct bases *b = ctx;
	if (is_group_line(t))
		return;
	b->v = x_grow(b->v, b->n, &b->cap, sizeof *b->v, 4);
	b->v[b->n++] = strchr(t, '=') ? x_strdup(t) : x_asprintf("OU=%s,%s", t, b->base);
}

/* "(memberOf=G)" for each group line of the scope, in an OR (owned);
 * NULL when the scope names no group. */
static void add_group(void *ctx, const char *t)
{
	struct sbuf *b = ctx;
	if (!is_group_line(t))
		return;
	const char *dn = t + strlen(GROUP_PREFIX);
	dn += strspn(dn, " \t");
	struct berval in = { .bv_val = (char *)dn, .bv_len = strlen(dn) }, esc = { 0 };
	if (ldap_bv2escaped_filter_value(&in, &esc) != 0)
		return;
	sb_printf(b, "(memberOf=%s)", esc.bv_val);
	ber_memfree(esc.bv_val);
}

static char *group_clause(const struct forest *f)
{
	struct sbuf b;
	sb_init(&b);
	scope_lines(f, add_group, &b);
	if (!b.len) {
		sb_free(&b);
		return NULL;
	}
	char *out = x_asprintf("(|%s)", b.data);
	sb_free(&b);
	return out;
}

/* The search bases: each line of the scope (a DN, or an OU name under the
 * base), or the base DN.  Caller frees each and the array. */
static char **search_bases(const struct forest *f, const char *base, size_t *n)
{
	struct bases b = { .base = base };
	scope_lines(f, add_base, &b);
	if (!b.n) {
		b.v = x_grow(b.v, 0, &b.cap, sizeof *b.v, 1);
		b.v[b.n++] = x_strdup(base);
	}
	*n = b.n;
	return b.v;
}

/* The configured filter, parenthesised; with mark, only entries changed
 * since (owned). */
static char *make_filter(const struct forest *f, const char *mark)
{
	const char *base = f->dir_filter && *f->dir_filter ? f->dir_filter : DIR_DEFAULT_FILTER;
	char *paren = base[0] == '(' ? x_strdup(base) : x_asprintf("(%s)", base);
	char *groups = group_clause(f);
	if (groups) {
		char *both = x_asprintf("(&%s%s)", paren, groups);
		free(paren);
		free(groups);
		paren = both;
	}
	if (!mark)
		return paren;
	char *out = NULL;
	if (!strncmp(mark, "usn:", 4))
		out = x_asprintf("(&%s(uSNChanged>=%llu))", paren, strtoull(mark + 4, NULL, 10) + 1);
	else if (!strncmp(mark, "ts:", 3))
		out = x_asprintf("(&%s(modifyTimestamp>=%s))", paren, mark + 3);
	if (!out)
		return paren;
	free(paren);
	return out;
}

/* The mark after a complete run: the highest change seen, else the old one. */
static void new_mark(struct run *r, const char *old)
{
	if (r->max_usn)
		snprintf(r->rep->hwm, sizeof r->rep->hwm, "usn:%" PRIu64, r->max_usn);
	else if (r->max_ts[0])
		snprintf(r->rep->hwm, sizeof r->rep->hwm, "ts:%s", r->max_ts);
	else
		snprintf(r->rep->hwm, sizeof r->rep->hwm, "%s", old ? old : "");
	/* An incremental run that saw fewer changes keeps the higher mark. */
	if (old && !r->rep->full && !strncmp(old, "usn:", 4) && r->max_usn &&
	    strtoull(old + 4, NULL, 10) > r->max_usn)
		snprintf(r->rep->hwm, sizeof r->rep->hwm, "%s", old);
	if (old && !r->rep->full && !strncmp(old, "ts:", 3) && r->max_ts[0] && strcmp(old + 3, r->max_ts) > 0)
		snprintf(r->rep->hwm, sizeof r->rep->hwm, "%s", old);
}

/* --- after the searches: removals and delegates ------------------------------------ */

static int cmp_key_dn(const void *a, const void *b)
{
	return strcmp(((const struct dir_key *)a)->dn, ((const struct dir_key *)b)->dn);
}

static int cmp_key_key(const void *a, const void *b)
{
	return strcmp(((const struct dir_key *)a)->key, ((const struct dir_key *)b)->key);
}

static int cmp_known(const void *a, const void *b)
{
	return strcmp(((const struct known *)a)->key, ((const struct known *)b)->key);
}

static enum st take_key(struct run *r, LDAPMessage *en, const char *dn, struct err *e)
{
	(void)e;
	add_key(r, dn, entry_key(&r->map, r->ld, en, dn));
	return ST_OK;
}

static void note_known(void *ctx, int64_t id, const char *key, bool vanished)
{
	struct run *r = ctx;
	r->known = x_grow(r->known, r->nknown, &r->capknown, sizeof *r->known, 1024);
	r->known[r->nknown++] = (struct known){ id, x_strdup(key), vanished };
}

static struct dir_key *key_in_directory(struct run *r, const char *key)
{
	struct dir_key probe = { NULL, (char *)key };
	return bsearch(&probe, r->keys, r->nkeys, sizeof *r->keys, cmp_key_key);
}

/* The stored mailboxes of the endpoint that have a key, sorted by key. */
static enum st load_known(struct run *r, struct err *e)
{
	for (size_t i = 0; i < r->nknown; i++)
		free(r->known[i].key);
	r->nknown = 0;
	enum st s = store_mailbox_dir_keys(r->st, r->endpoint_id, note_known, r, e);
	if (!s)
		qsort(r->known, r->nknown, sizeof *r->known, cmp_known);
	return s;
}

static struct known *known_key(struct run *r, const char *key)
{
	struct known probe = { 0, (char *)key, false };
	return bsearch(&probe, r->known, r->nknown, sizeof *r->known, cmp_known);
}

/* Reads one entry by its DN with every attribute, if the filter still
 * takes it. */
static enum st read_entry(struct run *r, const char *dn, const char *filter, struct err *e)
{
	struct timeval tv = { .tv_sec = r->timeout_s > 0 ? r->timeout_s : 30 };
	LDAPMessage *res = NULL;
	int rc = ldap_search_ext_s(r->ld, dn, LDAP_SCOPE_BASE, filter, (char **)r->attrs, 0, NULL, NULL,
	                           &tv, 1, &res);
	enum st s = ST_OK;
	if (rc == LDAP_SUCCESS)
		s = take_page(r, res, take_entry, e);
	else if (rc != LDAP_NO_SUCH_OBJECT)   /* gone since the walk: it stays unknown */
		s = ldap_fail(r, rc, dn, e);
	ldap_msgfree(res);
	return s;
}

/* An incremental run finds only entries whose change counter moved.  Some
 * changes do not move it: AD's memberOf is a back-link, so adding a user
 * to a group of the scope changes the group, not the user.  The key walk
 * sees such entries; those not stored yet (or stored vanished) are read
 * in full here. */
static enum st read_missed(struct run *r, struct err *e)
{
	char *filter = make_filter(r->f, NULL);
	int64_t before = r->rep->seen;
	enum st s = ST_OK;
	for (size_t i = 0; i < r->nkeys && !s; i++) {
		struct known *k = known_key(r, r->keys[i].key);
		if (!k || k->vanished)
			s = read_entry(r, r->keys[i].dn, filter, e);
	}
	free(filter);
	if (!s && r->rep->seen > before) {
		log_info("forest %s: %lld entries the change counter missed read in full", r->f->name,
		         (long long)(r->rep->seen - before));
		s = load_known(r, e);
	}
	return s;
}

/* Marks the stored mailboxes whose key the directory no longer has. */
static enum st mark_vanished(struct run *r, struct err *e)
{
	qsort(r->keys, r->nkeys, sizeof *r->keys, cmp_key_key);
	enum st s = store_begin(r->st, e);
	for (size_t i = 0; i < r->nknown && !s; i++) {
		struct known *k = &r->known[i];
		bool present = key_in_directory(r, k->key) != NULL;
		if (!present && !k->vanished && !r->rep->referrals) {
			s = store_mailbox_set_vanished(r->st, k->id, e);
			r->rep->vanished++;
			k->vanished = true;
			log_info("forest %s: mailbox %lld no longer in the directory: marked vanished",
			         r->f->name, (long long)k->id);
		}
		r->rep->total += present;
	}
	if (!s)
		return store_commit(r->st, e);
	store_rollback(r->st);
	return s;
}

/* The mailbox id of a delegate DN, 0 when it is not a discovered mailbox. */
static int64_t delegate_id(struct run *r, const char *dn)
{
	struct dir_key probe = { (char *)dn, NULL };
	struct dir_key *k = bsearch(&probe, r->keys, r->nkeys, sizeof *r->keys, cmp_key_dn);
	if (!k)
		return 0;
	struct known kp = { 0, k->key, false };
	struct known *m = bsearch(&kp, r->known, r->nknown, sizeof *r->known, cmp_known);
	return m ? m->id : 0;
}

/* Replaces the directory delegates of every mailbox read in this run. */
static enum st write_delegates(struct run *r, struct err *e)
{
	qsort(r->keys, r->nkeys, sizeof *r->keys, cmp_key_dn);
	enum st s = store_begin(r->st, e);
	for (size_t i = 0; i < r->npend && !s; i++) {
		const struct pending *p = &r->pend[i];
		if (!p->dn) {
			s = store_delegate_clear(r->st, p->mailbox_id, ORIGIN, e);
			continue;
		}
		int64_t id = delegate_id(r, p->dn);
		if (!id || id == p->mailbox_id) {
			r->rep->unresolved++;
			log_warn("forest %s: delegate %s of mailbox %lld is not a discovered mailbox",
			         r->f->name, p->dn, (long long)p->mailbox_id);
			continue;
		}
		/* Full access first, the store's "A;B" form (store.h). */
		const char *rights = p->rights == (RIGHT_FULL_ACCESS | RIGHT_SEND_ON_BEHALF)
		                     ? "FullAccess;SendOnBehalf"
		                     : p->rights == RIGHT_FULL_ACCESS ? "FullAccess" : "SendOnBehalf";
		s = store_delegate_add(r->st, p->mailbox_id, id, rights, ORIGIN, e);
		r->rep->delegates += !s;
	}
	if (!s)
		return store_commit(r->st, e);
	store_rollback(r->st);
	return s;
}

/* --- the run ------------------------------------------------------------------ */

static void run_free(struct run *r)
{
	for (size_t i = 0; i < r->nkeys; i++)
		free(r->keys[i].dn), free(r->keys[i].key);
	for (size_t i = 0; i < r->npend; i++)
		free(r->pend[i].dn);
	for (size_t i = 0; i < r->nknown; i++)
		free(r->known[i].key);
	free(r->keys);
	free(r->pend);
	free(r->known);
	if (r->ld)
		ldap_unbind_ext_s(r->ld, NULL, NULL);
	urls_free(r->urls, r->nurls);
	free(r->base);
	free(r->attrs);
	dirmap_free(&r->map);
}

/* The forest's attribute map and the attributes to ask for with it. */
static enum st run_map(struct run *r, struct err *e)
{
	enum st s = dirmap_parse(r->f->dir_attrs, &r->map, e);
	if (s) {
		err_prefix(e, "forest %s", r->f->name);
		return s;
	}
	size_t n = 0;
	r->attrs = x_malloc((countof(full_attrs) + DM__COUNT) * sizeof *r->attrs);
	for (const char *const *a = full_attrs; *a; a++)
		r->attrs[n++] = *a;
	for (int f = 0; f < DM__COUNT; f++)
		if (r->map.attr[f])
			r->attrs[n++] = r->map.attr[f];
	r->attrs[n] = NULL;
	r->kattrs[0] = key_attrs[0];
	r->kattrs[1] = key_attrs[1];
	r->kattrs[2] = r->map.attr[DM_KEY];
	r->kattrs[3] = NULL;
	return ST_OK;
}

/* Searches every base with fn; all or nothing for keys_complete. */
static enum st search_all(struct run *r, const char *filter, const char *const *attrs, entry_fn fn,
                          struct err *e)
{
	size_t nb = 0;
	char **bases = search_bases(r->f, r->base, &nb);
	enum st s = ST_OK;
	for (size_t i = 0; i < nb && !s; i++)
		s = paged_search(r, bases[i], filter, attrs, fn, e);
	for (size_t i = 0; i < nb; i++)
		free(bases[i]);
	free(bases);
	return s;
}

static enum st check_forest(const struct forest *f, struct err *e)
{
	if (!f->dir_url || !*f->dir_url)
		return err_set(e, ST_CONFIG, "forest %s has no directory (forest add %s --directory "
		               "ldap[s]://HOST ...)", f->name, f->name);
	return ST_OK;
}

static enum st discover(struct run *r, const char *secrets_path, struct err *e)
{
	const char *mark = r->rep->full ? NULL : r->f->dir_hwm;
	enum st s = dir_connect(r, secrets_path, e);
	if (!s)
		s = resolve_base(r, e);
	char *filter = make_filter(r->f, mark);
	log_info("forest %s: %s search with %s", r->f->name, mark ? "incremental" : "full", filter);
	if (!s)
		s = search_all(r, filter, r->attrs, take_entry, e);
	free(filter);
	if (!s && mark) {
		char *all = make_filter(r->f, NULL);
		s = search_all(r, all, r->kattrs, take_key, e);
		free(all);
	}
	if (!s)
		s = load_known(r, e);
	if (!s && mark)
		s = read_missed(r, e);
	if (!s)
		s = mark_vanished(r, e);
	if (!s)
		s = write_delegates(r, e);
	if (!s) {
		new_mark(r, r->f->dir_hwm);
		s = store_forest_set_hwm(r->st, r->f->id, r->rep->hwm[0] ? r->rep->hwm : NULL, e);
	}
	return s;
}

enum st directory_discover(struct store *st, const struct forest *f, int64_t endpoint_id,
                           const char *secrets_path, int timeout_s, bool full,
                           struct dir_report *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	int64_t t0 = clock_mono_ms();
	enum st s = check_forest(f, e);
	if (s)
		return s;
	struct run r = { .st = st, .f = f, .endpoint_id = endpoint_id, .url = f->dir_url,
	                 .timeout_s = timeout_s, .rep = out };
	out->full = full || !f->dir_hwm || !*f->dir_hwm;
	s = run_map(&r, e);
	if (!s)
		s = discover(&r, secrets_path, e);
	if (r.ld)
		snprintf(out->server, sizeof out->server, "%s", r.url);
	if (r.base)
		snprintf(out->base_dn, sizeof out->base_dn, "%s", r.base);
	run_free(&r);
	out->elapsed_ms = clock_mono_ms() - t0;
	return s;
}

/* --- health: bind and read each base of the scope ---------------------------- */

/* The root DSE's currentTime into out ("" when the server does not
 * publish it or the root DSE cannot be read: the caller says "not
 * checked", a missing clock is no failure of the directory). */
static void read_current_time(struct run *r, char *out, size_t len)
{
	char *attrs[] = { (char *)"currentTime", NULL };
	struct timeval tv = { .tv_sec = r->timeout_s > 0 ? r->timeout_s : 30 };
	LDAPMessage *res = NULL;
	*out = '\0';
	int rc = ldap_search_ext_s(r->ld, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL, &tv, 1, &res);
	char *v = rc == LDAP_SUCCESS ? root_dse_value(r->ld, res, attrs[0]) : NULL;
	if (v)
		snprintf(out, len, "%s", v);
	free(v);
	ldap_msgfree(res);
}

/* Each base of the scope must be readable: one entry of it, nothing more. */
static enum st check_bases(struct run *r, char **bases, size_t nb, struct err *e)
{
	enum st s = ST_OK;
	for (size_t i = 0; !s && i < nb; i++) {
		LDAPMessage *res = NULL;
		struct timeval tv = { r->timeout_s, 0 };
		char *attrs[] = { (char *)"1.1", NULL };
		int rc = ldap_search_ext_s(r->ld, bases[i], LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL,
		                           &tv, 1, &res);
		if (rc != LDAP_SUCCESS)
			s = ldap_fail(r, rc, bases[i], e);
		else if (ldap_count_entries(r->ld, res) != 1)
			s = err_set(e, ST_CONFIG, "forest %s: %s on %s is not readable by %s (no entry comes back)",
			            r->f->name, bases[i], r->url, r->f->dir_bind_dn ? r->f->dir_bind_dn : "an anonymous bind");
		ldap_msgfree(res);
	}
	return s;
}

/* The servers that did not answer (the first r->silent URLs) and the rest. */
static void note_dead(const struct run *r, struct dir_check *out)
{
	size_t kd = 0, ka = 0;
	for (size_t i = 0; i < r->nurls; i++) {
		bool dead = i < r->silent;
		char *buf = dead ? out->dead : out->alive;
		size_t *k = dead ? &kd : &ka, cap = dead ? sizeof out->dead : sizeof out->alive;
		if (*k < cap)
			*k += (size_t)snprintf(buf + *k, cap - *k, "%s%s", *k ? " " : "", r->urls[i]);
	}
	out->ndead = r->silent;
}

enum st directory_check(const struct forest *f, const char *typed_password, const char *secrets_path,
                        int timeout_s, struct dir_check *out, struct err *e)
{
	*out = (struct dir_check){ 0 };
	struct dir_report rep = { 0 };
	struct run r = { .f = f, .url = f->dir_url, .timeout_s = timeout_s > 0 ? timeout_s : 30, .rep = &rep,
	                 .typed_password = typed_password };
	if (!f->dir_url || !*f->dir_url)
		return err_set(e, ST_CONFIG, "forest %s has no directory URL", f->name);
	enum st s = dir_connect(&r, secrets_path, e);
	if (r.nurls)
		note_dead(&r, out);
	if (!s) {
		snprintf(out->server, sizeof out->server, "%s", r.url);
		read_current_time(&r, out->current_time, sizeof out->current_time);
		s = resolve_base(&r, e);
	}
	size_t nb = 0;
	char **bases = s ? NULL : search_bases(f, r.base, &nb);
	if (!s)
		s = check_bases(&r, bases, nb, e);
	if (!s)
		snprintf(out->detail, sizeof out->detail, "bound to %s as %s; %zu search base%s readable%s%s%s", r.url,
		         f->dir_bind_dn && *f->dir_bind_dn ? f->dir_bind_dn : "(anonymous)", nb, nb == 1 ? "" : "s",
		         rep.base_from ? "; base DN " : "", rep.base_from ? r.base : "",
		         rep.base_from ? " from the root DSE" : "");
	for (size_t i = 0; i < nb; i++)
		free(bases[i]);
	free(bases);
	run_free(&r);
	return s;
}

/* --- the OU tree (the wizard's scope step) ------------------------------------ */

#define OU_FILTER "(|(objectClass=organizationalUnit)(objectClass=container))"

void dir_ou_list_free(struct dir_ou_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].dn);
		free(l->v[i].name);
	}
	free(l->v);
	*l = (struct dir_ou_list){ 0 };
}

/* dir_connect (every URL in turn) with a password typed in the wizard
 * instead of the forest's password source. */
static enum st connect_typed(struct run *r, const char *typed_password, struct err *e)
{
	r->typed_password = typed_password;
	return dir_connect(r, NULL, e);
}

/* ou_level's page: its OUs appended to out, up to max. */
struct ou_page {
	struct dir_ou_list *out;
	int parent;
	size_t max;
};

static enum st ous_of_page(struct run *r, const char *base, LDAPMessage *res, void *ctx, bool *more,
                           struct err *e)
{
	(void)base;
	(void)e;
	struct ou_page *p = ctx;
	struct dir_ou_list *out = p->out;
	for (LDAPMessage *en = ldap_first_entry(r->ld, res); en; en = ldap_next_entry(r->ld, en)) {
		if (out->n >= p->max) {
			out->truncated = true;
			break;
		}
		char *dn = ldap_get_dn(r->ld, en);
		char *name = dn ? first_rdn_value(dn) : NULL;
		if (dn && name) {
			out->v = x_grow(out->v, out->n, &out->cap, sizeof *out->v, 32);
			out->v[out->n++] = (struct dir_ou){ x_strdup(dn), name, p->parent };
		} else
			free(name);
		ldap_memfree(dn);
	}
	*more = !out->truncated;
	return ST_OK;
}

/* The OUs right under base (index parent in out), paged. */
static enum st ou_level(struct run *r, const char *base, int parent, size_t max, struct dir_ou_list *out,
                        struct err *e)
{
	char what[600];
	snprintf(what, sizeof what, "list the OUs under '%s'", base);
	static const char *const attrs[] = { "1.1", NULL };
	struct ou_page ctx = { out, parent, max };
	return paged_walk(r, base, LDAP_SCOPE_ONELEVEL, OU_FILTER, attrs, what, ous_of_page, &ctx, e);
}

enum st directory_list_ous(const struct forest *f, const char *typed_password, const char *secrets_path,
                           int timeout_s, size_t max, struct dir_ou_list *out, struct err *e)
{
	*out = (struct dir_ou_list){ 0 };
	struct dir_report rep = { 0 };
	struct run r = { .f = f, .url = f->dir_url, .timeout_s = timeout_s > 0 ? timeout_s : 30, .rep = &rep };
	if (!f->dir_url || !*f->dir_url)
		return err_set(e, ST_CONFIG, "forest %s has no directory URL", f->name);
	enum st s = typed_password ? connect_typed(&r, typed_password, e) : dir_connect(&r, secrets_path, e);
	/* No base DN given: the root DSE's, as discovery does. */
	if (!s)
		s = resolve_base(&r, e);
	/* Breadth first: the list itself is the queue of OUs still to read. */
	if (!s)
		s = ou_level(&r, r.base, -1, max, out, e);
	for (size_t i = 0; !s && i < out->n && !out->truncated; i++)
		s = ou_level(&r, out->v[i].dn, (int)i, max, out, e);
	if (r.ld)
		ldap_unbind_ext_s(r.ld, NULL, NULL);
	urls_free(r.urls, r.nurls);
	free(r.base);
	if (s)
		dir_ou_list_free(out);
	return s;
}
