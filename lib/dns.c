/* dns - MX and address lookups through the system resolver (see dns.h).
 *
 * The network part (dns_query) is small; the reply parsers and the MX
 * ordering are pure functions so the unit tests and fuzzers reach them
 * without a server.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <netdb.h>
#include <resolv.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "mem.h"

static const char *const status_names[] = {
	[DNS_OK] = "ok",
	[DNS_NOTFOUND] = "no such record",
	[DNS_NXDOMAIN] = "no such domain",
	[DNS_NULLMX] = "null MX",
	[DNS_RETRY] = "temporary failure",
	[DNS_INVALID] = "invalid",
};

/* dns_status_str - a short English name of status for log lines */
const char *dns_status_str(enum dns_status status)
{
	if ((unsigned)status < sizeof(status_names) / sizeof(status_names[0]))
		return status_names[status];
	return "unknown";
}

/* fail - sets *why (when wanted) and returns status */
__attribute__((format(printf, 3, 4)))
static enum dns_status fail(char **why, enum dns_status status, const char *fmt, ...)
{
	va_list ap;
	char *text;

	if (why == NULL)
		return status;
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	*why = text ? text : xstrdup(dns_status_str(status));
	return status;
}

/* label_char_ok - letters, digits, hyphen and underscore (SRV-style names) */
static int label_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* dns_name_valid - see dns.h */
int dns_name_valid(const char *name)
{
	size_t len, label = 0, i;

	if (name == NULL)
		return 0;
	len = strnlen(name, DNS_NAME_MAX + 2);
	if (len > 0 && name[len - 1] == '.')
		len--;			/* one trailing dot: fully qualified */
	if (len == 0 || len > DNS_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if (name[i] == '.') {
			if (label == 0)
				return 0;	/* empty label: "..", leading dot */
			label = 0;
		} else if (!label_char_ok((unsigned char)name[i])) {
			return 0;
		} else if (++label > DNS_LABEL_MAX) {
			return 0;
		}
	}
	return label > 0;
}

/* default_rnd - uniform in [0, n) from the libc CSPRNG (no seeding needed) */
static size_t default_rnd(size_t n)
{
	return n > 1 ? (size_t)arc4random_uniform((uint32_t)n) : 0;
}

/* mx_pref_cmp - qsort order: preference only (ties are shuffled later) */
static int mx_pref_cmp(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;

	return (x->pref > y->pref) - (x->pref < y->pref);
}

/* shuffle - Fisher-Yates over mx[0..n) */
static void shuffle(struct dns_mx *mx, size_t n, size_t (*rnd)(size_t))
{
	size_t i, j;
	struct dns_mx t;

	for (i = n; i > 1; i--) {
		j = rnd(i);
		if (j >= i)
			j = i - 1;	/* a broken rnd must not index out of range */
		t = mx[i - 1];
		mx[i - 1] = mx[j];
		mx[j] = t;
	}
}

/* dns_mx_sort - see dns.h */
void dns_mx_sort(struct dns_mx *mx, size_t count, size_t (*rnd)(size_t n))
{
	size_t start, end;

	if (count == 0)
		return;
	if (rnd == NULL)
		rnd = default_rnd;
	qsort(mx, count, sizeof(*mx), mx_pref_cmp);
	for (start = 0; start < count; start = end) {
		for (end = start + 1; end < count && mx[end].pref == mx[start].pref; end++)
			;
		shuffle(mx + start, end - start, rnd);
	}
}

void dns_mx_list_free(struct dns_mx_list *list)
{
	size_t i;

	for (i = 0; i < list->count; i++)
		free(list->mx[i].host);
	free(list->mx);
	list->mx = NULL;
	list->count = 0;
}

void dns_addr_list_free(struct dns_addr_list *list)
{
	free(list->addr);
	list->addr = NULL;
	list->count = 0;
}

/* mx_rdata - the preference and target of one MX record; 1 for the root
 * ("."), 0 for a valid host name, -1 when malformed or not a host name */
static int mx_rdata(const ns_msg *msg, const ns_rr *rr, unsigned *pref, char *host, size_t size)
{
	const unsigned char *rd = ns_rr_rdata(*rr);
	int n;

	if (ns_rr_rdlen(*rr) < 3)
		return -1;
	*pref = ns_get16(rd);
	n = ns_name_uncompress(ns_msg_base(*msg), ns_msg_end(*msg), rd + 2, host, size);
	if (n < 0 || (size_t)n != (size_t)ns_rr_rdlen(*rr) - 2)
		return -1;
	if (strcmp(host, ".") == 0)
		return 1;
	return dns_name_valid(host) ? 0 : -1;
}

/* mx_result - the status for what the answer section held */
static enum dns_status mx_result(struct dns_mx_list *out, size_t nulls, size_t bad,
				 char **why)
{
	if (out->count > 0) {
		dns_mx_sort(out->mx, out->count, NULL);
		return DNS_OK;
	}
	/* Only "." targets: RFC 7505 wants one record of preference 0, but
	 * any set of nothing-but-root says the same: no mail here. */
	if (nulls > 0 && bad == 0)
		return fail(why, DNS_NULLMX, "domain publishes a null MX (RFC 7505)");
	if (bad > 0)
		return fail(why, DNS_INVALID, "malformed MX record");
	return fail(why, DNS_NOTFOUND, "no MX record");
}

/* dns_parse_mx - see dns.h */
enum dns_status dns_parse_mx(const unsigned char *reply, size_t len,
			     struct dns_mx_list *out, char **why)
{
	ns_msg msg;
	ns_rr rr;
	char host[NS_MAXDNAME];
	unsigned pref;
	size_t nulls = 0, bad = 0;
	int i, count, r;

	out->mx = NULL;
	out->count = 0;
	if (why)
		*why = NULL;
	if (len > DNS_REPLY_MAX || ns_initparse(reply, (int)len, &msg) < 0)
		return fail(why, DNS_INVALID, "malformed DNS reply");
	count = ns_msg_count(msg, ns_s_an);
	for (i = 0; i < count && out->count < DNS_MAX_RR; i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0) {
			dns_mx_list_free(out);
			return fail(why, DNS_INVALID, "malformed DNS reply");
		}
		if (ns_rr_class(rr) != ns_c_in || ns_rr_type(rr) != ns_t_mx)
			continue;	/* the CNAME chain the server followed */
		r = mx_rdata(&msg, &rr, &pref, host, sizeof(host));
		if (r < 0) {
			bad++;		/* one hostile target spoils only itself */
			continue;
		}
		if (r == 1) {
			nulls++;
			continue;
		}
		if (out->count == 0)
			out->mx = xcalloc(DNS_MAX_RR, sizeof(*out->mx));
		out->mx[out->count].pref = pref;
		out->mx[out->count].host = xstrdup(host);
		out->count++;
	}
	return mx_result(out, nulls, bad, why);
}

/* dns_parse_addr - see dns.h */
enum dns_status dns_parse_addr(const unsigned char *reply, size_t len, int type,
			       struct dns_addr_list *out, char **why)
{
	ns_msg msg;
	ns_rr rr;
	size_t want = type == ns_t_a ? 4 : 16, added = 0;
	int i, count;

	if (why)
		*why = NULL;
	if (len > DNS_REPLY_MAX || ns_initparse(reply, (int)len, &msg) < 0)
		return fail(why, DNS_INVALID, "malformed DNS reply");
	count = ns_msg_count(msg, ns_s_an);
	for (i = 0; i < count && out->count < DNS_MAX_RR; i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			return fail(why, DNS_INVALID, "malformed DNS reply");
		if (ns_rr_class(rr) != ns_c_in || (int)ns_rr_type(rr) != type)
			continue;
		if (ns_rr_rdlen(rr) != want)
			return fail(why, DNS_INVALID, "malformed address record");
		if (out->addr == NULL)
			out->addr = xcalloc(DNS_MAX_RR, sizeof(*out->addr));
		out->addr[out->count].family = type == ns_t_a ? AF_INET : AF_INET6;
		memcpy(out->addr[out->count].addr, ns_rr_rdata(rr), want);
		out->count++;
		added++;
	}
	if (added == 0)
		return fail(why, DNS_NOTFOUND, "no %s record", type == ns_t_a ? "A" : "AAAA");
	return DNS_OK;
}

/* herrno_status - the resolver's verdict when res_nquery gave no reply.
 * NO_RECOVERY (FORMERR, REFUSED, NOTIMP) says nothing about the name, only
 * about the server, so it is temporary like SERVFAIL. */
static enum dns_status herrno_status(int herr)
{
	switch (herr) {
	case HOST_NOT_FOUND:
		return DNS_NXDOMAIN;
	case NO_DATA:
		return DNS_NOTFOUND;
	default:
		return DNS_RETRY;
	}
}

/* type_name - the query types this module asks for, for log text */
static const char *type_name(int type)
{
	return type == ns_t_mx ? "MX" : type == ns_t_a ? "A" : type == ns_t_aaaa ? "AAAA" : "DNS";
}

/* dns_query - one query of type for name; on DNS_OK *reply (allocated,
 * DNS_REPLY_MAX bytes) holds *len bytes of answer */
static enum dns_status dns_query(const char *name, int type, unsigned char **reply,
				 size_t *len, char **why)
{
	struct __res_state res;
	unsigned char *buf;
	enum dns_status status;
	int n;

	*reply = NULL;
	if (!dns_name_valid(name))
		return fail(why, DNS_INVALID, "invalid domain name");
	memset(&res, 0, sizeof(res));
	if (res_ninit(&res) != 0)
		return fail(why, DNS_RETRY, "cannot initialize the resolver");
	res.options &= ~(RES_DNSRCH | RES_DEFNAMES);	/* the name as given */
	buf = xmalloc(DNS_REPLY_MAX);
	n = res_nquery(&res, name, ns_c_in, type, buf, DNS_REPLY_MAX);
	if (n < 0) {
		status = herrno_status(res.res_h_errno);
		fail(why, status, "%s lookup for %s: %s", type_name(type), name,
		     hstrerror(res.res_h_errno));
	} else if (n > DNS_REPLY_MAX) {
		status = fail(why, DNS_INVALID, "%s lookup for %s: reply longer than %d bytes",
			      type_name(type), name, DNS_REPLY_MAX);
	} else {
		status = DNS_OK;
		*reply = buf;
		*len = (size_t)n;
		buf = NULL;
	}
	res_nclose(&res);
	free(buf);
	return status;
}

/* dns_lookup_mx - see dns.h */
enum dns_status dns_lookup_mx(const char *domain, struct dns_mx_list *out, char **why)
{
	unsigned char *reply;
	size_t len;
	enum dns_status status;

	out->mx = NULL;
	out->count = 0;
	if (why)
		*why = NULL;
	status = dns_query(domain, ns_t_mx, &reply, &len, why);
	if (status != DNS_OK)
		return status;
	status = dns_parse_mx(reply, len, out, why);
	free(reply);
	return status;
}

/* lookup_one_family - appends host's records of type to out */
static enum dns_status lookup_one_family(const char *host, int type,
					 struct dns_addr_list *out, char **why)
{
	unsigned char *reply;
	size_t len;
	enum dns_status status;

	status = dns_query(host, type, &reply, &len, why);
	if (status != DNS_OK)
		return status;
	status = dns_parse_addr(reply, len, type, out, why);
	free(reply);
	return status;
}

/* worse - of two failures, the one a caller must heed: temporary first */
static enum dns_status worse(enum dns_status a, enum dns_status b)
{
	static const int rank[] = {
		[DNS_OK] = 0, [DNS_NOTFOUND] = 1, [DNS_NULLMX] = 1,
		[DNS_NXDOMAIN] = 2, [DNS_INVALID] = 3, [DNS_RETRY] = 4,
	};

	return rank[b] > rank[a] ? b : a;
}

/* dns_lookup_addr - see dns.h */
enum dns_status dns_lookup_addr(const char *host, int families,
				struct dns_addr_list *out, char **why)
{
	enum dns_status s4 = DNS_NOTFOUND, s6 = DNS_NOTFOUND, status;
	char *why4 = NULL, *why6 = NULL;

	out->addr = NULL;
	out->count = 0;
	if (why)
		*why = NULL;
	if ((families & (DNS_FAMILY_V4 | DNS_FAMILY_V6)) == 0)
		return fail(why, DNS_INVALID, "no address family enabled");
	if (families & DNS_FAMILY_V4)
		s4 = lookup_one_family(host, ns_t_a, out, &why4);
	if ((families & DNS_FAMILY_V6) && s4 != DNS_NXDOMAIN && s4 != DNS_INVALID)
		s6 = lookup_one_family(host, ns_t_aaaa, out, &why6);
	if (out->count > 0) {
		status = DNS_OK;
	} else {
		status = (families & DNS_FAMILY_V4) ? s4 : s6;
		if ((families & DNS_FAMILY_V4) && (families & DNS_FAMILY_V6))
			status = worse(s4, s6);
		if (status == DNS_OK)
			status = DNS_NOTFOUND;
		if (why) {
			const char *w = status == s4 && why4 ? why4 : why6 ? why6 : why4;

			*why = xstrdup(w ? w : dns_status_str(status));
		}
	}
	if (status != DNS_OK)
		dns_addr_list_free(out);
	free(why4);
	free(why6);
	return status;
}

/* dns_families_from_protocols - see dns.h */
int dns_families_from_protocols(const char *value)
{
	char word[16];
	int families = 0;
	size_t n;

	while (*value) {
		value += strspn(value, ", \t");
		n = strcspn(value, ", \t");
		if (n == 0)
			break;
		if (n >= sizeof(word))
			return 0;
		memcpy(word, value, n);
		word[n] = '\0';
		value += n;
		if (strcmp(word, "all") == 0)
			families |= DNS_FAMILY_V4 | DNS_FAMILY_V6;
		else if (strcmp(word, "ipv4") == 0)
			families |= DNS_FAMILY_V4;
		else if (strcmp(word, "ipv6") == 0)
			families |= DNS_FAMILY_V6;
		else
			return 0;
	}
	return families;
}
