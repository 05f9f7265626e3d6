/* resolve - address class, transport and nexthop for one address; see
 * resolve.h and transport(5). */
#include <arpa/inet.h>
#include <ctype.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "argv.h"
#include "config.h"
#include "maps.h"
#include "mem.h"
#include "msg.h"
#include "resolve.h"
#include "rewrite.h"
#include "vstr.h"

/* An IPv4 or IPv6 address in binary, for comparing. */
struct ipaddr {
	int family;
	unsigned char a[16];
};

static void set_str(char **field, const char *value)
{
	free(*field);
	*field = xstrdup(value);
}

static void set_strn(char **field, const char *value, size_t len)
{
	free(*field);
	*field = xstrndup(value, len);
}

/* set_error - class error: qmgr bounces (5.X.Y) or defers (4.X.Y) */
static void set_error(struct resolved *r, const char *dsn, const char *reason)
{
	set_str(&r->klass, "error");
	set_str(&r->transport, "error");
	set_str(&r->nexthop, "");
	set_str(&r->dsn, dsn);
	set_str(&r->reason, reason);
}

/* ipaddr_parse - numeric text of family (AF_UNSPEC: either) */
static int ipaddr_parse(const char *text, int family, struct ipaddr *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (family != AF_INET6 && inet_pton(AF_INET, text, ip->a) == 1) {
		ip->family = AF_INET;
		return 0;
	}
	if (family != AF_INET && inet_pton(AF_INET6, text, ip->a) == 1) {
		ip->family = AF_INET6;
		return 0;
	}
	return -1;
}

static int ipaddr_same(const struct ipaddr *x, const struct ipaddr *y)
{
	return x->family == y->family
	    && memcmp(x->a, y->a, x->family == AF_INET ? 4 : 16) == 0;
}

/* literal_parse - "[1.2.3.4]" or "[ipv6:2001:db8::1]" (lower-cased by
 * rewrite_canonical): the address, and the nexthop "[address]" */
static int literal_parse(const char *domain, struct ipaddr *ip, char **nexthop)
{
	size_t len = strlen(domain);
	const char *p = domain + 1;
	int family = AF_INET;
	char *text;
	int ret;

	if (len < 3 || domain[0] != '[' || domain[len - 1] != ']')
		return -1;
	if (strncasecmp(p, "ipv6:", 5) == 0) {
		p += 5;
		family = AF_INET6;
	}
	text = xstrndup(p, (size_t)(domain + len - 1 - p));
	ret = ipaddr_parse(text, family, ip);
	if (ret == 0)
		*nexthop = xasprintf("[%s]", text);
	free(text);
	return ret;
}

/* interface_has - one of this host's interfaces has the address:
 * 1, 0, or -1 when the interfaces cannot be read */
static int interface_has(const struct ipaddr *want)
{
	struct ifaddrs *list, *i;
	int hit = 0;

	if (getifaddrs(&list) < 0) {
		msg_warn("getifaddrs: %m");
		return -1;
	}
	for (i = list; i != NULL && !hit; i = i->ifa_next) {
		struct ipaddr ip = { 0, { 0 } };

		if (i->ifa_addr == NULL)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			ip.family = AF_INET;
			memcpy(ip.a, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, 4);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			ip.family = AF_INET6;
			memcpy(ip.a, &((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr, 16);
		}
		hit = ip.family != 0 && ipaddr_same(&ip, want);
	}
	freeifaddrs(list);
	return hit;
}

/* list_has - a parameter's list of addresses ("[::1]" or "::1") names
 * the address; "all" asks the interfaces, "loopback-only" means
 * 127.0.0.1 and ::1. Host names are skipped: no DNS here. */
static int list_has(const char *param, const struct ipaddr *want)
{
	struct argv list = ARGV_INIT;
	int hit = 0;

	argv_split(&list, conf_str(param), ", \t\r\n");
	for (size_t i = 0; i < list.n && hit == 0; i++) {
		char *e = list.v[i];
		size_t len = strlen(e);
		struct ipaddr ip;

		if (strcasecmp(e, "all") == 0) {
			hit = interface_has(want);
			continue;
		}
		if (strcasecmp(e, "loopback-only") == 0) {
			hit = (ipaddr_parse("127.0.0.1", AF_UNSPEC, &ip) == 0 && ipaddr_same(&ip, want))
			    || (ipaddr_parse("::1", AF_UNSPEC, &ip) == 0 && ipaddr_same(&ip, want));
			continue;
		}
		if (len > 2 && e[0] == '[' && e[len - 1] == ']') {
			e[len - 1] = 0;
			e++;
		}
		hit = ipaddr_parse(e, AF_UNSPEC, &ip) == 0 && ipaddr_same(&ip, want);
	}
	argv_free(&list);
	return hit;
}

/* own_address - the address is this host's, as Postfix decides for
 * user@[address]: inet_interfaces, then proxy_interfaces */
static int own_address(const struct ipaddr *ip)
{
	int hit = list_has("inet_interfaces", ip);

	return hit != 0 ? hit : list_has("proxy_interfaces", ip);
}

/* class_route - transport and nexthop from the class's transport spec;
 * an empty nexthop becomes $myhostname (local) or $relayhost, else the
 * destination (relay, default) */
static void class_route(struct resolved *r, const char *klass, const char *spec,
			const char *destination)
{
	const char *colon = strchr(spec, ':');

	set_str(&r->klass, klass);
	set_strn(&r->transport, spec, colon ? (size_t)(colon - spec) : strlen(spec));
	set_str(&r->nexthop, colon ? colon + 1 : "");
	if (*r->nexthop)
		return;
	if (strcmp(klass, "local") == 0) {
		set_str(&r->nexthop, conf_str("myhostname"));
	} else if (*conf_str("relayhost")) {
		set_str(&r->nexthop, conf_str("relayhost"));
		r->flags |= RESOLVE_FLAG_ROUTED;
	} else {
		set_str(&r->nexthop, destination);
	}
}

/* dsn_prefix - length of a leading "D.X.Y" status (D 4 or 5, X and Y 1-3
 * digits) followed by white space or the end; 0 if there is none */
static size_t dsn_prefix(const char *s)
{
	size_t n = 0;

	if (s[0] != '4' && s[0] != '5')
		return 0;
	n = 1;
	for (int part = 0; part < 2; part++) {
		size_t digits = 0;

		if (s[n++] != '.')
			return 0;
		while (isdigit((unsigned char)s[n]) && digits < 4) {
			n++;
			digits++;
		}
		if (digits == 0 || digits > 3)
			return 0;
	}
	return s[n] == 0 || isspace((unsigned char)s[n]) ? n : 0;
}

/* error_route - transport "error" or "retry" with its text: class error
 * with a 5.X.Y (error) or 4.X.Y (retry) status; a leading status in the
 * text is used, its first digit made to agree with the transport */
static int error_route(struct resolved *r, const char *transport, const char *text)
{
	int retry = strcmp(transport, "retry") == 0;
	size_t n;
	char *dsn, *reason;

	if (!retry && strcmp(transport, "error") != 0)
		return 0;
	n = dsn_prefix(text);
	dsn = n ? xstrndup(text, n) : xstrdup("X.0.0");
	dsn[0] = retry ? '4' : '5';
	text += n;
	while (isspace((unsigned char)*text))
		text++;
	if (*text == 0)
		text = retry ? "delivery temporarily suspended" : "mail for this address is not deliverable";
	reason = xstrdup(text);		/* text may be r->nexthop, which set_error frees */
	set_error(r, dsn, reason);
	free(dsn);
	free(reason);
	return 1;
}

/* transport_lookup - transport(5) order: user@domain, domain, each
 * parent as .parent (not for address literals), then "*" */
static enum dict_status transport_lookup(struct maps *m, const char *rcpt, const char *domain,
					 int literal, const char **value)
{
	enum dict_status st;

	if ((st = maps_find(m, rcpt, value)) != DICT_NOTFOUND)
		return st;
	if ((st = maps_find(m, domain, value)) != DICT_NOTFOUND)
		return st;
	for (const char *p = literal ? NULL : strchr(domain, '.'); p; p = strchr(p + 1, '.'))
		if ((st = maps_find(m, p, value)) != DICT_NOTFOUND)
			return st;
	return maps_find(m, "*", value);
}

/* table_route - applies a transport_maps entry: "transport:nexthop",
 * "transport:", ":nexthop", "transport", ":" */
static void table_route(struct resolved *r, const char *value)
{
	const char *colon = strchr(value, ':');
	size_t tlen = colon ? (size_t)(colon - value) : strlen(value);
	const char *nexthop = colon ? colon + 1 : "";
	char *transport = xstrndup(value, tlen);

	if (error_route(r, tlen ? transport : r->transport, nexthop)) {
		free(transport);
		return;
	}
	if (tlen)
		set_str(&r->transport, transport);
	if (*nexthop) {
		set_str(&r->nexthop, nexthop);
		r->flags |= RESOLVE_FLAG_ROUTED;
	}
	free(transport);
}

/* resolve_class - the class and its route; 0, or -1 when r is already
 * class error */
static int resolve_class(struct resolved *r, const char *domain)
{
	struct ipaddr ip;
	char *literal_hop = NULL;
	int local, relay = 0;

	if (*domain == '[') {
		if (literal_parse(domain, &ip, &literal_hop) < 0) {
			set_error(r, "5.1.3", "bad address syntax");
			return -1;
		}
		r->flags |= RESOLVE_FLAG_LITERAL;
		local = own_address(&ip);
	} else {
		local = rewrite_is_local_domain(domain);
		relay = local == 0 ? rewrite_is_relay_domain(domain) : 0;
	}
	if (local < 0 || relay < 0) {
		set_error(r, "4.3.0", local < 0 ? (literal_hop ? "interface address lookup failure"
						   : "mydestination lookup failure")
			  : "relay_domains lookup failure");
		free(literal_hop);
		return -1;
	}
	if (local)
		class_route(r, "local", conf_str("local_transport"), domain);
	else if (relay)
		class_route(r, "relay", conf_str("relay_transport"), domain);
	else
		class_route(r, "default", conf_str("default_transport"), literal_hop ? literal_hop : domain);
	free(literal_hop);
	return 0;
}

void resolve_addr(const char *addr, struct resolved *r)
{
	struct maps *maps;
	const char *domain, *value;
	enum dict_status st;

	memset(r, 0, sizeof(*r));
	r->recipient = rewrite_canonical(addr);
	r->dsn = xstrdup("");
	r->reason = xstrdup("");
	domain = rewrite_domain(r->recipient);
	if (*r->recipient == 0 || *r->recipient == '@' || *domain == 0) {
		set_error(r, "5.1.3", "bad address syntax");
		return;
	}
	if (resolve_class(r, domain) < 0)
		return;
	if (error_route(r, r->transport, r->nexthop))	/* default_transport = error:... */
		return;
	if (*conf_str("transport_maps") == 0)
		return;
	maps = maps_param("transport_maps");
	st = transport_lookup(maps, r->recipient, domain, (r->flags & RESOLVE_FLAG_LITERAL) != 0,
			      &value);
	if (st == DICT_RETRY)
		set_error(r, "4.3.0", "transport_maps lookup failure");
	else if (st == DICT_FOUND)
		table_route(r, value);
}

void resolved_free(struct resolved *r)
{
	free(r->klass);
	free(r->transport);
	free(r->nexthop);
	free(r->recipient);
	free(r->dsn);
	free(r->reason);
	memset(r, 0, sizeof(*r));
}

char *resolve_flags_text(int flags)
{
	vstr out = VSTR_INIT;

	if (flags & RESOLVE_FLAG_ROUTED)
		vstr_cat(&out, "routed ");
	if (flags & RESOLVE_FLAG_LITERAL)
		vstr_cat(&out, "literal ");
	if (vstr_len(&out))
		vstr_truncate(&out, vstr_len(&out) - 1);
	return vstr_steal(&out);
}
