/* dns.c - SRV and A look-ups through libresolv (see dns.h). */
#include "dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DNS_ANSWER_MAX 65536

void dns_srv_free(struct dns_srv_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].host);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void dns_addrs_free(char **addrs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(addrs[i]);
	free(addrs);
}

/* "a.b.c.d[:port]" into sa; false when it is not one. */
static bool parse_server(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strchr(s, ':');
	size_t hl = colon ? (size_t)(colon - s) : strlen(s);
	if (hl == 0 || hl >= sizeof host)
		return false;
	memcpy(host, s, hl);
	host[hl] = '\0';
	long port = 53;
	if (colon) {
		char *end;
		port = strtol(colon + 1, &end, 10);
		if (!colon[1] || *end || port < 1 || port > 65535)
			return false;
	}
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1;
}

bool dns_server_valid(const char *s)
{
	struct sockaddr_in sa;
	return !s || !*s || parse_server(s, &sa);
}

static const char *server_label(const char *server)
{
	return server && *server ? server : "the system resolver (/etc/resolv.conf)";
}

/* Sends one query; *len gets the answer's length, 0 when the name or the
 * data does not exist. */
static enum st query(const char *server, const char *name, int type, unsigned char *buf,
                     int *len, struct err *e)
{
	struct __res_state rs;
	memset(&rs, 0, sizeof rs);
	if (res_ninit(&rs) != 0)
		return err_set(e, ST_NET, "cannot initialise the DNS resolver");
	if (server && *server) {
		struct sockaddr_in sa;
		if (!parse_server(server, &sa)) {
			res_nclose(&rs);
			return err_set(e, ST_CONFIG, "dns_server \"%s\": must be an IPv4 address with "
			               "an optional :PORT", server);
		}
		rs.nsaddr_list[0] = sa;
		rs.nscount = 1;
	}
	rs.retrans = 2;   /* seconds per try */
	rs.retry = 2;
	*len = res_nquery(&rs, name, ns_c_in, type, buf, DNS_ANSWER_MAX);
	int herr = rs.res_h_errno;
	res_nclose(&rs);
	if (*len >= 0)
		return ST_OK;
	*len = 0;
	if (herr == HOST_NOT_FOUND || herr == NO_DATA)
		return ST_OK;
	return err_set(e, ST_NET, "DNS server %s did not answer for %s (%s): check that it runs "
	               "and is reachable, or the dns_server setting", server_label(server), name,
	               herr == TRY_AGAIN ? "no answer, refused or server failure" : "unusable answer");
}

static int srv_cmp(const void *pa, const void *pb)
{
	const struct dns_srv *a = pa, *b = pb;
	if (a->priority != b->priority)
		return a->priority < b->priority ? -1 : 1;
	if (a->weight != b->weight)
		return a->weight > b->weight ? -1 : 1;
	int c = strcmp(a->host, b->host);
	return c ? c : a->port - b->port;
}

/* One SRV rdata (priority, weight, port, target) into out; false when malformed. */
static bool parse_srv(const ns_msg *msg, const ns_rr *rr, struct dns_srv *out)
{
	const unsigned char *p = ns_rr_rdata(*rr);
	if (ns_rr_rdlen(*rr) < 7)
		return false;
	char target[NS_MAXDNAME];
	if (dn_expand(ns_msg_base(*msg), ns_msg_end(*msg), p + 6, target, sizeof target) < 0)
		return false;
	out->priority = ns_get16(p);
	out->weight = ns_get16(p + 2);
	out->port = ns_get16(p + 4);
	size_t tl = strlen(target);
	if (tl && target[tl - 1] == '.')
		target[--tl] = '\0';
	out->host = x_strdup(target);
	return true;
}

/* Calls fn for every answer record of type in buf[0..len). */
static enum st each_answer(const unsigned char *buf, int len, int type, const char *name,
                           bool (*fn)(void *ctx, const ns_msg *m, const ns_rr *rr), void *ctx,
                           struct err *e)
{
	ns_msg msg;
	if (ns_initparse(buf, len, &msg) < 0)
		return err_set(e, ST_PROTO, "malformed DNS answer for %s", name);
	int n = ns_msg_count(msg, ns_s_an);
	for (int i = 0; i < n; i++) {
		ns_rr rr;
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			return err_set(e, ST_PROTO, "malformed DNS record %d for %s", i + 1, name);
		if ((int)ns_rr_type(rr) == type && !fn(ctx, &msg, &rr))
			return err_set(e, ST_PROTO, "malformed DNS record %d for %s", i + 1, name);
	}
	return ST_OK;
}

struct srv_acc { struct dns_srv_list *l; size_t cap; };

static bool add_srv(void *ctx, const ns_msg *m, const ns_rr *rr)
{
	struct srv_acc *a = ctx;
	struct dns_srv s;
	if (!parse_srv(m, rr, &s))
		return false;
	if (!*s.host) {          /* "." : decidedly not available here */
		free(s.host);
		return true;
	}
	a->l->v = x_grow(a->l->v, a->l->n, &a->cap, sizeof *a->l->v, 4);
	a->l->v[a->l->n++] = s;
	return true;
}

enum st dns_srv_lookup(const char *server, const char *name, struct dns_srv_list *l,
                       struct err *e)
{
	l->v = NULL;
	l->n = 0;
	unsigned char *buf = x_malloc(DNS_ANSWER_MAX);
	int len;
	enum st s = query(server, name, ns_t_srv, buf, &len, e);
	struct srv_acc acc = { l, 0 };
	if (!s && len > 0)
		s = each_answer(buf, len, ns_t_srv, name, add_srv, &acc, e);
	free(buf);
	if (s)
		dns_srv_free(l);
	else if (l->n > 1)
		qsort(l->v, l->n, sizeof *l->v, srv_cmp);
	return s;
}

struct addr_acc { char **v; size_t n, cap; };

static bool add_addr(void *ctx, const ns_msg *m, const ns_rr *rr)
{
	(void)m;
	struct addr_acc *a = ctx;
	char text[INET_ADDRSTRLEN];
	if (ns_rr_rdlen(*rr) != 4 || !inet_ntop(AF_INET, ns_rr_rdata(*rr), text, sizeof text))
		return false;
	a->v = x_grow(a->v, a->n, &a->cap, sizeof *a->v, 4);
	a->v[a->n++] = x_strdup(text);
	return true;
}

enum st dns_addr_lookup(const char *server, const char *host, char ***addrs, size_t *n,
                        struct err *e)
{
	*addrs = NULL;
	*n = 0;
	unsigned char *buf = x_malloc(DNS_ANSWER_MAX);
	int len;
	enum st s = query(server, host, ns_t_a, buf, &len, e);
	struct addr_acc acc = { NULL, 0, 0 };
	if (!s && len > 0)
		s = each_answer(buf, len, ns_t_a, host, add_addr, &acc, e);
	free(buf);
	if (s) {
		dns_addrs_free(acc.v, acc.n);
		return s;
	}
	*addrs = acc.v;
	*n = acc.n;
	return ST_OK;
}
