/* dns.h - DNS SRV and address look-ups for auto-detection (RFC 2782, RFC
 * 6186) through libresolv.
 *
 * The resolver is the system's (/etc/resolv.conf) unless a server is given:
 * "IPv4[:PORT]" (the dns_server setting, port 53 by default), which is then
 * the only one asked.  Nothing here edits the machine's configuration.
 *
 * Order: SRV answers are sorted by priority (lowest first), then by weight
 * (highest first), then by host name and port.  RFC 2782 asks for a
 * weighted random choice among records of equal priority; this order is its
 * deterministic form (the heaviest record is the likeliest choice), so the
 * same DNS data always gives the same list.  A target of "." (the service
 * is decidedly not available) is left out.
 *
 * Memory: lists returned through out-parameters belong to the caller and are
 * freed with dns_srv_free / dns_addrs_free.
 * Threads: each call uses its own resolver state; safe from any thread. */
#ifndef MF_DNS_H
#define MF_DNS_H

#include "common.h"

struct dns_srv {
	char *host;              /* target host name, without the final dot */
	int port;
	int priority;
	int weight;
};

struct dns_srv_list {
	struct dns_srv *v;
	size_t n;
};
void dns_srv_free(struct dns_srv_list *l);

/* True when s is a usable dns_server value: "" or IPv4[:PORT]. */
bool dns_server_valid(const char *s);

/* SRV records of name ("_imaps._tcp.example.org"), sorted as above.
 * ST_OK with l->n == 0 when the name has none (NXDOMAIN or no SRV data);
 * ST_NET when the DNS server did not answer or failed (SERVFAIL, refused),
 * ST_CONFIG for an unusable server setting.  server: "" or NULL for the
 * system resolver. */
enum st dns_srv_lookup(const char *server, const char *name, struct dns_srv_list *l,
                       struct err *e);

/* IPv4 addresses of host, as text, through the same resolver (A records).
 * ST_OK with *n == 0 when there are none. *addrs and its strings belong to
 * the caller (dns_addrs_free). */
enum st dns_addr_lookup(const char *server, const char *host, char ***addrs, size_t *n,
                        struct err *e);
void dns_addrs_free(char **addrs, size_t n);

#endif
