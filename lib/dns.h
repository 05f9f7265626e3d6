/* dns - MX and address lookups through the system resolver, typed results.
 *
 * Queries go through glibc's resolver (res_ninit/res_nquery, a private
 * state per lookup, no search list) to the servers of /etc/resolv.conf;
 * retries, timeouts (resolv.conf "options timeout:N attempts:N", default
 * RES_TIMEOUT seconds times RES_DFLRETRY) and the fall-back to TCP on a
 * truncated UDP reply are the resolver's. Nothing is cached here.
 *
 * Every failure says whether it is temporary: SERVFAIL, timeouts, no
 * server and resolver errors are DNS_RETRY (defer, never bounce); only
 * NXDOMAIN, NODATA and a null MX are definite answers. Replies are parsed
 * with ns_initparse/ns_parserr and bounded: at most DNS_MAX_RR records are
 * kept, every name is checked with dns_name_valid, replies up to 64 KiB.
 */
#ifndef POSTERN_DNS_H
#define POSTERN_DNS_H

#include <stddef.h>

enum dns_status {
	DNS_OK,			/* records in *out */
	DNS_NOTFOUND,		/* the name exists, no record of that type (NODATA) */
	DNS_NXDOMAIN,		/* the name does not exist */
	DNS_NULLMX,		/* RFC 7505: the domain accepts no mail */
	DNS_RETRY,		/* temporary: SERVFAIL, timeout, no server */
	DNS_INVALID,		/* malformed name or reply */
};

#define DNS_MAX_RR	100	/* records kept from one reply */
#define DNS_NAME_MAX	255	/* text form, without the trailing dot */
#define DNS_LABEL_MAX	63
#define DNS_REPLY_MAX	65536

struct dns_mx {
	unsigned pref;
	char *host;		/* no trailing dot */
};

struct dns_mx_list {
	struct dns_mx *mx;
	size_t count;
};

#define DNS_FAMILY_V4	1
#define DNS_FAMILY_V6	2

struct dns_addr {
	int family;		/* AF_INET or AF_INET6 */
	unsigned char addr[16];	/* network order; 4 bytes used for AF_INET */
};

struct dns_addr_list {
	struct dns_addr *addr;
	size_t count;
};

#define DNS_MX_LIST_INIT { NULL, 0 }
#define DNS_ADDR_LIST_INIT { NULL, 0 }

/* dns_lookup_mx - the MX records of domain, sorted by preference with
 * equal preferences in random order. DNS_NOTFOUND means "use the domain's
 * A/AAAA records" (RFC 5321 5.1); DNS_NULLMX a single "." of preference 0.
 * CNAMEs are followed by the server. On failure *why (if why is not NULL)
 * gets an allocated reason for the log; the caller frees it. */
enum dns_status dns_lookup_mx(const char *domain, struct dns_mx_list *out, char **why);

/* dns_lookup_addr - the A (DNS_FAMILY_V4) and/or AAAA (DNS_FAMILY_V6)
 * records of host, IPv4 first. With both families, one family's answer is
 * enough: the other's NODATA or failure is dropped; when neither has
 * records the more temporary status wins (RETRY over NOTFOUND). */
enum dns_status dns_lookup_addr(const char *host, int families,
				struct dns_addr_list *out, char **why);

/* dns_families_from_protocols - inet_protocols ("all", "ipv4", "ipv6",
 * "ipv4, ipv6") as DNS_FAMILY_* bits, or 0 for an unknown word. */
int dns_families_from_protocols(const char *value);

/* dns_name_valid - 1 when name is a usable domain name: 1..255 bytes, an
 * optional single trailing dot, labels of 1..63 bytes, no NUL, no
 * whitespace or control characters. */
int dns_name_valid(const char *name);

/* dns_mx_sort - sorts mx by preference, then shuffles each run of equal
 * preference with rnd(n) (uniform in [0, n)); rnd NULL uses
 * arc4random_uniform (no seeding, differs per process and per call). */
void dns_mx_sort(struct dns_mx *mx, size_t count, size_t (*rnd)(size_t n));

/* dns_parse_mx / dns_parse_addr - the answer records of one reply: MX
 * (sorted as by dns_mx_sort; a target that is not a valid host name is
 * dropped, DNS_INVALID when nothing else is left; only "." targets give
 * DNS_NULLMX), or those of type (ns_t_a or ns_t_aaaa) appended to out.
 * Records of other types (the CNAME chain) are skipped. Pure functions of
 * the reply bytes, for tests and fuzzing; the lookups use them. */
enum dns_status dns_parse_mx(const unsigned char *reply, size_t len,
			     struct dns_mx_list *out, char **why);
enum dns_status dns_parse_addr(const unsigned char *reply, size_t len, int type,
			       struct dns_addr_list *out, char **why);

const char *dns_status_str(enum dns_status status);

void dns_mx_list_free(struct dns_mx_list *list);
void dns_addr_list_free(struct dns_addr_list *list);

#endif
