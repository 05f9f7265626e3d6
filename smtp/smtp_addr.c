/* smtp_addr - which servers to try for a nexthop, in order: the MX hosts
 * by preference (equal ones shuffled by lib/dns), each host's addresses
 * in the families of inet_protocols, at most smtp_mx_address_limit in
 * all; a host without MX records stands for itself. DNS answers that
 * mean "no" bounce, those that mean "not now" defer, with Postfix's
 * texts. An MX host that is this host ($myhostname) cuts the list at its
 * preference: mail to it would loop. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "config.h"
#include "dns.h"
#include "mem.h"
#include "smtp.h"

void smtp_fail_set(struct smtp_fail *f, int status, const char *dsn, const char *fmt, ...)
{
	va_list ap;

	f->status = status;
	f->hop_ok = 0;
	snprintf(f->dsn, sizeof(f->dsn), "%s", dsn);
	va_start(ap, fmt);
	vsnprintf(f->reason, sizeof(f->reason), fmt, ap);
	va_end(ap);
}

static void add_server(struct smtp_servers *out, const char *host, int family,
		       const unsigned char *addr, unsigned port)
{
	struct smtp_server *s;

	out->v = xreallocarray(out->v, out->n + 1, sizeof(*out->v));
	s = &out->v[out->n++];
	memset(s, 0, sizeof(*s));
	snprintf(s->host, sizeof(s->host), "%s", host);
	s->family = family;
	s->port = port;
	if (family == AF_UNIX) {
		snprintf(s->path, sizeof(s->path), "%s", (const char *)addr);
		return;
	}
	memcpy(s->addr, addr, family == AF_INET ? 4 : 16);
	inet_ntop(family, s->addr, s->addr_text, sizeof(s->addr_text));
}

static size_t address_limit(void)
{
	long long n = conf_int("smtp_mx_address_limit");

	return n <= 0 ? (size_t)-1 : (size_t)n;
}

static int families(void)
{
	int f = dns_families_from_protocols(conf_str("inet_protocols"));

	return f ? f : DNS_FAMILY_V4 | DNS_FAMILY_V6;
}

/* dns_fail - Postfix's words for a failed lookup of name/type */
static void dns_fail(struct smtp_fail *f, enum dns_status st, const char *name, const char *type)
{
	if (st == DNS_RETRY || st == DNS_INVALID)
		smtp_fail_set(f, 4, "4.4.3", "Host or domain name not found. Name service error for "
			      "name=%s type=%s: Host not found, try again", name, type);
	else if (st == DNS_NOTFOUND)
		smtp_fail_set(f, 5, "5.4.4", "Host or domain name not found. Name service error for "
			      "name=%s type=%s: Host found but no data record of requested type", name, type);
	else
		smtp_fail_set(f, 5, "5.4.4", "Host or domain name not found. Name service error for "
			      "name=%s type=%s: Host not found", name, type);
}

/* add_host - the addresses of host; the DNS status of the lookup */
static enum dns_status add_host(struct smtp_servers *out, const char *host, unsigned port)
{
	struct dns_addr_list al = DNS_ADDR_LIST_INIT;
	enum dns_status st = dns_lookup_addr(host, families(), &al, NULL);

	for (size_t i = 0; st == DNS_OK && i < al.count && out->n < address_limit(); i++)
		add_server(out, host, al.addr[i].family, al.addr[i].addr, port);
	dns_addr_list_free(&al);
	return st;
}

static int add_literal(struct smtp_servers *out, const char *text, unsigned port)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, text, a) == 1)
		add_server(out, text, AF_INET, a, port);
	else if (inet_pton(AF_INET6, text, a) == 1)
		add_server(out, text, AF_INET6, a, port);
	else
		return -1;
	return 0;
}

/* mx_hosts - servers for the MX list; -1 with f when none is usable */
static int mx_hosts(const char *domain, const struct dns_mx_list *mx, unsigned port,
		    struct smtp_servers *out, struct smtp_fail *f)
{
	const char *me = conf_str("myhostname");
	const char *type = families() & DNS_FAMILY_V4 ? "A" : "AAAA";
	size_t end = mx->count;

	for (size_t i = 0; i < mx->count; i++)
		if (strcasecmp(mx->mx[i].host, me) == 0) {
			while (end > 0 && mx->mx[end - 1].pref >= mx->mx[i].pref)
				end--;
			break;
		}
	if (end == 0) {
		smtp_fail_set(f, 5, "5.4.6", "mail for %s loops back to myself", domain);
		return -1;
	}
	f->status = 0;
	for (size_t i = 0; i < end && out->n < address_limit(); i++) {
		enum dns_status st = add_host(out, mx->mx[i].host, port);

		if (st != DNS_OK && (f->status == 0 || st == DNS_RETRY || st == DNS_INVALID))
			dns_fail(f, st, mx->mx[i].host, type);
	}
	return out->n ? 0 : -1;
}

int smtp_servers_find(const struct smtp_nexthop *nh, struct smtp_servers *out, struct smtp_fail *f)
{
	struct dns_mx_list mx = DNS_MX_LIST_INIT;
	enum dns_status st;
	int ret;

	memset(out, 0, sizeof(*out));
	if (nh->kind == SMTP_NH_UNIX) {
		add_server(out, conf_str("myhostname"), AF_UNIX, (const unsigned char *)nh->host, 0);
		return 0;
	}
	if (nh->literal)
		return add_literal(out, nh->host, nh->port);
	if (nh->kind == SMTP_NH_HOST) {
		if ((st = add_host(out, nh->host, nh->port)) == DNS_OK && out->n)
			return 0;
		dns_fail(f, st == DNS_OK ? DNS_NOTFOUND : st, nh->host, families() & DNS_FAMILY_V4 ? "A" : "AAAA");
		return -1;
	}
	st = dns_lookup_mx(nh->host, &mx, NULL);
	if (st == DNS_OK) {
		ret = mx_hosts(nh->host, &mx, nh->port, out, f);
	} else if (st == DNS_NOTFOUND) {
		struct smtp_nexthop h = *nh;

		h.kind = SMTP_NH_HOST;
		ret = smtp_servers_find(&h, out, f);
	} else if (st == DNS_NULLMX) {
		smtp_fail_set(f, 5, "5.1.10", "Domain %s does not accept mail (nullMX)", nh->host);
		ret = -1;
	} else {
		dns_fail(f, st, nh->host, "MX");
		ret = -1;
	}
	dns_mx_list_free(&mx);
	return ret;
}

void smtp_servers_free(struct smtp_servers *s)
{
	free(s->v);
	s->v = NULL;
	s->n = 0;
}
