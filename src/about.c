/* about.c - implementation of about.h.  Versions are asked of the
 * libraries at run time where they can say (a distribution may update a
 * shared library under an unchanged binary); otherwise the headers'
 * version, the one built against, is shown and labelled so. */
#include "about.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <ldap.h>
#include <libconfig.h>
#include <libxml/xmlversion.h>
#include <openssl/crypto.h>
#include <sqlite3.h>

#include "common.h"

#ifndef MF_BUILD_OPTIONS
#define MF_BUILD_OPTIONS ""
#endif

/* Sanitizers are visible to the compiler whichever way they were asked
 * for (configure --enable-asan or CFLAGS). */
#if defined(__SANITIZE_ADDRESS__)
#define MF_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MF_ASAN 1
#endif
#endif

/* gcc's __VERSION__ is the bare number; clang's names itself. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__VERSION__)
#define MF_COMPILER "gcc " __VERSION__
#elif defined(__VERSION__)
#define MF_COMPILER __VERSION__
#else
#define MF_COMPILER "unknown"
#endif

static void build_line(about_line_fn *fn, void *ctx)
{
	char buf[256];
	const char *opts = MF_BUILD_OPTIONS;
	bool asan = false;
#ifdef MF_ASAN
	asan = true;
#endif
	/* "asan" also when it came through CFLAGS rather than configure. */
	snprintf(buf, sizeof(buf), "%s%s; compiler %s; C %ld",
		 *opts ? opts : "default options",
		 asan && !strstr(opts, "asan") ? ", asan" : "",
		 MF_COMPILER, (long)__STDC_VERSION__);
	fn(ctx, "build", buf);
}

static void sqlite_line(about_line_fn *fn, void *ctx)
{
	char buf[128];
	const char *run = sqlite3_libversion();
	if (strcmp(run, SQLITE_VERSION) == 0)
		snprintf(buf, sizeof(buf), "%s", run);
	else
		snprintf(buf, sizeof(buf), "%s (built with %s)", run, SQLITE_VERSION);
	fn(ctx, "SQLite", buf);
}

/* The TLS backend matters as much as the version: it decides which
 * certificates and protocol versions an IMAPS server may use. */
static void curl_line(about_line_fn *fn, void *ctx)
{
	char buf[256];
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	snprintf(buf, sizeof(buf), "%s, TLS %s", v->version,
		 v->ssl_version ? v->ssl_version : "none");
	fn(ctx, "libcurl", buf);
}

/* The API info is the only run-time version OpenLDAP gives; it allocates
 * the vendor name and extension list, which are ours to free. */
static void ldap_line(about_line_fn *fn, void *ctx)
{
	char buf[128];
	LDAPAPIInfo info;
	memset(&info, 0, sizeof(info));
	info.ldapai_info_version = LDAP_API_INFO_VERSION;
	if (ldap_get_option(NULL, LDAP_OPT_API_INFO, &info) == LDAP_OPT_SUCCESS) {
		int v = info.ldapai_vendor_version;
		snprintf(buf, sizeof(buf), "%s %d.%d.%d",
			 info.ldapai_vendor_name ? info.ldapai_vendor_name : "?",
			 v / 10000, v / 100 % 100, v % 100);
		if (info.ldapai_extensions)
			ldap_memvfree((void **)info.ldapai_extensions);
		ldap_memfree(info.ldapai_vendor_name);
	} else {
		snprintf(buf, sizeof(buf), "%s %d.%d.%d (headers)", LDAP_VENDOR_NAME,
			 LDAP_VENDOR_VERSION_MAJOR, LDAP_VENDOR_VERSION_MINOR,
			 LDAP_VENDOR_VERSION_PATCH);
	}
	fn(ctx, "LDAP", buf);
}

static void path_line(about_line_fn *fn, void *ctx, const char *label,
		      const char *path, const char *missing)
{
	char buf[4200];
	struct stat st;
	if (!path)
		return;
	if (stat(path, &st) == 0)
		snprintf(buf, sizeof(buf), "%s", path);
	else
		snprintf(buf, sizeof(buf), "%s (%s)", path, missing);
	fn(ctx, label, buf);
}

void about_lines(const char *config_path, const char *store_path,
		 about_line_fn *fn, void *ctx)
{
	char buf[128];

	fn(ctx, "mailferry", PACKAGE_VERSION);
	build_line(fn, ctx);
	sqlite_line(fn, ctx);
	curl_line(fn, ctx);
	/* libxml2 and libconfig: reading their run-time version needs parser
	 * state (libxml2) or is not offered (libconfig). */
	fn(ctx, "libxml2", LIBXML_DOTTED_VERSION " (headers)");
	snprintf(buf, sizeof(buf), "%d.%d.%d (headers)", LIBCONFIG_VER_MAJOR,
		 LIBCONFIG_VER_MINOR, LIBCONFIG_VER_REVISION);
	fn(ctx, "libconfig", buf);
	fn(ctx, "libcrypto", OpenSSL_version(OPENSSL_VERSION));
	ldap_line(fn, ctx);
	path_line(fn, ctx, "configuration", config_path,
		  _("not found: built-in defaults in use"));
	path_line(fn, ctx, "store", store_path, _("not created yet"));
}
