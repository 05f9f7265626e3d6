/* test_dns - unit tests for lib/dns.c without a server: name validation,
 * the MX order (preference, then a shuffle within equal preferences driven
 * by a scripted random source), and the reply parsers on hand-built
 * packets: MX with a CNAME in front, null MX, hostile targets, address
 * records, and every truncation of a good reply (each a heap copy of
 * exactly its size, so ASan sees any overread), plus a compression loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/nameser.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "dns.h"
#include "mem.h"

/* -- names ---------------------------------------------------------------- */

static void test_name_valid(void **state)
{
	char buf[300];

	(void)state;
	assert_true(dns_name_valid("example.com"));
	assert_true(dns_name_valid("example.com."));
	assert_true(dns_name_valid("a"));
	assert_true(dns_name_valid("_dmarc.x-1.example"));
	assert_false(dns_name_valid(NULL));
	assert_false(dns_name_valid(""));
	assert_false(dns_name_valid("."));
	assert_false(dns_name_valid("a..b"));
	assert_false(dns_name_valid(".a"));
	assert_false(dns_name_valid("a.b.."));
	assert_false(dns_name_valid("a b"));
	assert_false(dns_name_valid("a\\.b"));
	assert_false(dns_name_valid("a\r\nX: y"));
	assert_false(dns_name_valid("caf\xc3\xa9.example"));

	memset(buf, 'a', 63);
	strcpy(buf + 63, ".b");
	assert_true(dns_name_valid(buf));
	memset(buf, 'a', 64);
	strcpy(buf + 64, ".b");
	assert_false(dns_name_valid(buf));

	/* 255 bytes is the limit, with or without the trailing dot */
	for (size_t i = 0; i < 255; i++)
		buf[i] = i % 2 ? '.' : 'a';
	buf[255] = '\0';
	assert_true(dns_name_valid(buf));
	buf[255] = '.';
	buf[256] = '\0';
	assert_true(dns_name_valid(buf));
	buf[255] = 'a';
	assert_false(dns_name_valid(buf));
	memset(buf, 'a', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	assert_false(dns_name_valid(buf));
}

static void test_families(void **state)
{
	(void)state;
	assert_int_equal(dns_families_from_protocols("all"), DNS_FAMILY_V4 | DNS_FAMILY_V6);
	assert_int_equal(dns_families_from_protocols("ipv4"), DNS_FAMILY_V4);
	assert_int_equal(dns_families_from_protocols("ipv6"), DNS_FAMILY_V6);
	assert_int_equal(dns_families_from_protocols("ipv4, ipv6"), DNS_FAMILY_V4 | DNS_FAMILY_V6);
	assert_int_equal(dns_families_from_protocols("ipv5"), 0);
	assert_int_equal(dns_families_from_protocols(""), 0);
	assert_string_equal(dns_status_str(DNS_RETRY), "temporary failure");
	assert_string_equal(dns_status_str((enum dns_status)99), "unknown");
}

/* -- MX order ------------------------------------------------------------- */

static size_t script[64], script_pos;

/* scripted_rnd - returns the scripted values in turn (0 after the end) */
static size_t scripted_rnd(size_t n)
{
	size_t v = script_pos < sizeof(script) / sizeof(script[0]) ? script[script_pos++] : 0;

	assert_true(n > 1);
	return v % n;
}

static void fill(struct dns_mx *mx, const unsigned *pref, const char *const *host, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		mx[i].pref = pref[i];
		mx[i].host = (char *)host[i];
	}
}

static void test_mx_sort_by_pref(void **state)
{
	static const unsigned pref[] = { 30, 10, 20, 0, 65535 };
	static const char *const host[] = { "c", "a", "b", "z", "last" };
	struct dns_mx mx[5];

	(void)state;
	fill(mx, pref, host, 5);
	script_pos = 0;
	dns_mx_sort(mx, 5, scripted_rnd);
	assert_int_equal(script_pos, 0);	/* no ties: no random numbers */
	assert_string_equal(mx[0].host, "z");
	assert_string_equal(mx[1].host, "a");
	assert_string_equal(mx[2].host, "b");
	assert_string_equal(mx[3].host, "c");
	assert_string_equal(mx[4].host, "last");
	dns_mx_sort(mx, 0, scripted_rnd);
}

/* with every scripted choice, equal preferences stay together and only
 * permute among themselves; all 3! orders of the tie are reachable */
static void test_mx_shuffle_ties(void **state)
{
	static const unsigned pref[] = { 10, 5, 10, 10, 20 };
	static const char *const host[] = { "x", "first", "y", "z", "end" };
	struct dns_mx mx[5];
	int seen[6] = { 0 }, distinct = 0;

	(void)state;
	for (size_t a = 0; a < 3; a++) {
		for (size_t b = 0; b < 2; b++) {
			char order[4];

			fill(mx, pref, host, 5);
			script[0] = a;
			script[1] = b;
			script_pos = 0;
			dns_mx_sort(mx, 5, scripted_rnd);
			assert_int_equal(script_pos, 2);	/* one run of 3 */
			assert_string_equal(mx[0].host, "first");
			assert_string_equal(mx[4].host, "end");
			for (size_t i = 1; i < 4; i++) {
				assert_int_equal(mx[i].pref, 10);
				order[i - 1] = mx[i].host[0];
			}
			order[3] = '\0';
			assert_true(strchr(order, 'x') && strchr(order, 'y') && strchr(order, 'z'));
			int code = (order[0] - 'x') * 2 + (order[1] > order[2]);
			seen[code]++;
		}
	}
	for (size_t i = 0; i < 6; i++)
		distinct += seen[i] == 1;
	assert_int_equal(distinct, 6);
}

/* the default random source: both orders of a tie appear */
static void test_mx_shuffle_default(void **state)
{
	static const unsigned pref[] = { 10, 10 };
	static const char *const host[] = { "p", "q" };
	struct dns_mx mx[2];
	int first_p = 0, first_q = 0;

	(void)state;
	for (int i = 0; i < 200 && !(first_p && first_q); i++) {
		fill(mx, pref, host, 2);
		dns_mx_sort(mx, 2, NULL);
		if (mx[0].host[0] == 'p')
			first_p++;
		else
			first_q++;
	}
	assert_true(first_p > 0 && first_q > 0);
}

/* -- reply packets -------------------------------------------------------- */

struct pkt {
	unsigned char b[4096];
	size_t len;
};

static void put8(struct pkt *p, unsigned v)
{
	assert_true(p->len < sizeof(p->b));
	p->b[p->len++] = (unsigned char)v;
}

static void put16(struct pkt *p, unsigned v)
{
	put8(p, v >> 8);
	put8(p, v & 0xff);
}

/* put_name - dotted name as labels ("." is the root) */
static void put_name(struct pkt *p, const char *name)
{
	while (*name && strcmp(name, ".") != 0) {
		size_t n = strcspn(name, ".");

		put8(p, (unsigned)n);
		for (size_t i = 0; i < n; i++)
			put8(p, (unsigned char)name[i]);
		name += n;
		if (*name == '.')
			name++;
	}
	put8(p, 0);
}

/* pkt_start - a reply header and the question qname/qtype; ancount answers */
static void pkt_start(struct pkt *p, const char *qname, unsigned qtype, unsigned ancount)
{
	p->len = 0;
	put16(p, 0x1234);
	put16(p, 0x8180);	/* response, RD, RA, NOERROR */
	put16(p, 1);
	put16(p, ancount);
	put16(p, 0);
	put16(p, 0);
	put_name(p, qname);
	put16(p, qtype);
	put16(p, ns_c_in);
}

/* rr_start - an answer's owner, type, class, TTL; returns where the
 * rdlength goes (rr_end fills it in) */
static size_t rr_start(struct pkt *p, const char *owner, unsigned type)
{
	size_t at;

	put_name(p, owner);
	put16(p, type);
	put16(p, ns_c_in);
	put16(p, 0);
	put16(p, 300);
	at = p->len;
	put16(p, 0);
	return at;
}

static void rr_end(struct pkt *p, size_t at)
{
	size_t rdlen = p->len - at - 2;

	p->b[at] = (unsigned char)(rdlen >> 8);
	p->b[at + 1] = (unsigned char)(rdlen & 0xff);
}

static void add_mx(struct pkt *p, const char *owner, unsigned pref, const char *host)
{
	size_t at = rr_start(p, owner, ns_t_mx);

	put16(p, pref);
	put_name(p, host);
	rr_end(p, at);
}

/* parse_mx_copy - dns_parse_mx on an exact-size heap copy */
static enum dns_status parse_mx_copy(const unsigned char *b, size_t len, struct dns_mx_list *out)
{
	unsigned char *copy = xmemdup(b, len ? len : 1);
	char *why = NULL;
	enum dns_status s = dns_parse_mx(copy, len, out, &why);

	if (s == DNS_OK)
		assert_null(why);
	else
		assert_non_null(why);
	free(why);
	free(copy);
	return s;
}

static void test_parse_mx_cname(void **state)
{
	struct pkt p;
	struct dns_mx_list l;
	size_t at;

	(void)state;
	pkt_start(&p, "alias.test", ns_t_mx, 3);
	at = rr_start(&p, "alias.test", ns_t_cname);
	put_name(&p, "mx.test");
	rr_end(&p, at);
	add_mx(&p, "mx.test", 20, "b.mx.test");
	add_mx(&p, "mx.test", 10, "a.mx.test");
	assert_int_equal(parse_mx_copy(p.b, p.len, &l), DNS_OK);
	assert_int_equal(l.count, 2);
	assert_int_equal(l.mx[0].pref, 10);
	assert_string_equal(l.mx[0].host, "a.mx.test");
	assert_string_equal(l.mx[1].host, "b.mx.test");
	dns_mx_list_free(&l);
	assert_null(l.mx);

	/* only the CNAME: no MX at the end of the chain */
	pkt_start(&p, "alias.test", ns_t_mx, 1);
	at = rr_start(&p, "alias.test", ns_t_cname);
	put_name(&p, "mx.test");
	rr_end(&p, at);
	assert_int_equal(parse_mx_copy(p.b, p.len, &l), DNS_NOTFOUND);
	assert_int_equal(l.count, 0);
}

static void test_parse_mx_null(void **state)
{
	struct pkt p;
	struct dns_mx_list l;

	(void)state;
	pkt_start(&p, "nullmx.test", ns_t_mx, 1);
	add_mx(&p, "nullmx.test", 0, ".");
	assert_int_equal(parse_mx_copy(p.b, p.len, &l), DNS_NULLMX);
	assert_int_equal(l.count, 0);

	/* a "." beside a real host is ignored, the host is used */
	pkt_start(&p, "mixed.test", ns_t_mx, 2);
	add_mx(&p, "mixed.test", 0, ".");
	add_mx(&p, "mixed.test", 10, "mx.mixed.test");
	assert_int_equal(parse_mx_copy(p.b, p.len, &l), DNS_OK);
	assert_int_equal(l.count, 1);
	assert_string_equal(l.mx[0].host, "mx.mixed.test");
	dns_mx_list_free(&l);
}

static void test_parse_mx_hostile(void **state)
{
	struct pkt p;
	struct dns_mx_list l;
	size_t at;

	(void)state;
	/* a target with CR LF is dropped; the good one stays */
	pkt_start(&p, "h.test", ns_t_mx, 2);
	add_mx(&p, "h.test", 10, "a\r\nX: y.test");
	add_mx(&p, "h.test", 20, "good.test");
	assert_int_equal(parse_mx_copy(p.b, p.len, &l), DNS_OK);
	assert_int_equal(l.count, 1);
	assert_string_equal(l.mx[0].host, "good.test");
	dns_mx_list_free(&l);

	/* only bad targets: invalid */
	pkt_start(&p, "h.test", ns_t_mx, 1);
	add_mx(&p, "h.test", 10, "bad name.test");
	assert_int_equal(parse_mx_copy(p.b, p.len, &l), DNS_INVALID);

	/* rdlength shorter than the name in it */
	pkt_start(&p, "h.test", ns_t_mx, 1);
	at = rr_start(&p, "h.test", ns_t_mx);
	put16(&p, 10);
	put_name(&p, "x.test");
	rr_end(&p, at);
	p.b[at + 1] -= 2;
	assert_int_equal(parse_mx_copy(p.b, p.len, &l), DNS_INVALID);

	/* a compression pointer to itself */
	pkt_start(&p, "h.test", ns_t_mx, 1);
	at = rr_start(&p, "h.test", ns_t_mx);
	put16(&p, 10);
	put16(&p, 0xc000 | (unsigned)p.len);
	rr_end(&p, at);
	assert_int_equal(parse_mx_copy(p.b, p.len, &l), DNS_INVALID);

	/* more answers claimed than present */
	pkt_start(&p, "h.test", ns_t_mx, 5);
	add_mx(&p, "h.test", 10, "x.test");
	assert_int_equal(parse_mx_copy(p.b, p.len, &l), DNS_INVALID);
	assert_null(l.mx);
}

static void test_parse_mx_limit(void **state)
{
	static struct pkt p;
	struct dns_mx_list l;
	char host[32];

	(void)state;
	pkt_start(&p, "big.test", ns_t_mx, 150);
	for (unsigned i = 0; i < 150; i++) {
		snprintf(host, sizeof(host), "m%u.t", i);
		add_mx(&p, "b", i, host);
	}
	assert_int_equal(parse_mx_copy(p.b, p.len, &l), DNS_OK);
	assert_int_equal(l.count, DNS_MAX_RR);
	assert_int_equal(l.mx[0].pref, 0);
	assert_int_equal(l.mx[DNS_MAX_RR - 1].pref, DNS_MAX_RR - 1);
	dns_mx_list_free(&l);
}

/* every truncation of a good reply parses without overread and is either
 * the full answer (only at full length) or a failure */
static void test_parse_mx_truncated(void **state)
{
	struct pkt p;
	struct dns_mx_list l;

	(void)state;
	pkt_start(&p, "mx.test", ns_t_mx, 2);
	add_mx(&p, "mx.test", 10, "a.mx.test");
	add_mx(&p, "mx.test", 20, "b.mx.test");
	for (size_t n = 0; n < p.len; n++) {
		enum dns_status s = parse_mx_copy(p.b, n, &l);

		assert_int_not_equal(s, DNS_OK);
		assert_int_equal(l.count, 0);
	}
	assert_int_equal(parse_mx_copy(p.b, p.len, &l), DNS_OK);
	dns_mx_list_free(&l);
}

static void test_parse_addr(void **state)
{
	static const unsigned char v4[4] = { 192, 0, 2, 1 };
	static const unsigned char v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
	struct pkt p;
	struct dns_addr_list l = DNS_ADDR_LIST_INIT;
	char *why = NULL;
	size_t at;

	(void)state;
	pkt_start(&p, "h.test", ns_t_a, 1);
	at = rr_start(&p, "h.test", ns_t_a);
	for (size_t i = 0; i < 4; i++)
		put8(&p, v4[i]);
	rr_end(&p, at);
	assert_int_equal(dns_parse_addr(p.b, p.len, ns_t_a, &l, &why), DNS_OK);
	assert_null(why);

	pkt_start(&p, "h.test", ns_t_aaaa, 1);
	at = rr_start(&p, "h.test", ns_t_aaaa);
	for (size_t i = 0; i < 16; i++)
		put8(&p, v6[i]);
	rr_end(&p, at);
	assert_int_equal(dns_parse_addr(p.b, p.len, ns_t_aaaa, &l, &why), DNS_OK);
	assert_int_equal(l.count, 2);
	assert_int_equal(l.addr[0].family, AF_INET);
	assert_memory_equal(l.addr[0].addr, v4, 4);
	assert_int_equal(l.addr[1].family, AF_INET6);
	assert_memory_equal(l.addr[1].addr, v6, 16);

	/* an A record of the wrong size */
	pkt_start(&p, "h.test", ns_t_a, 1);
	at = rr_start(&p, "h.test", ns_t_a);
	put16(&p, 1);
	rr_end(&p, at);
	assert_int_equal(dns_parse_addr(p.b, p.len, ns_t_a, &l, &why), DNS_INVALID);
	free(why);
	why = NULL;

	/* an AAAA reply to an A question: nothing of the type asked for */
	pkt_start(&p, "h.test", ns_t_a, 0);
	assert_int_equal(dns_parse_addr(p.b, p.len, ns_t_a, &l, &why), DNS_NOTFOUND);
	free(why);
	assert_int_equal(l.count, 2);
	dns_addr_list_free(&l);
	assert_null(l.addr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_families),
		cmocka_unit_test(test_mx_sort_by_pref),
		cmocka_unit_test(test_mx_shuffle_ties),
		cmocka_unit_test(test_mx_shuffle_default),
		cmocka_unit_test(test_parse_mx_cname),
		cmocka_unit_test(test_parse_mx_null),
		cmocka_unit_test(test_parse_mx_hostile),
		cmocka_unit_test(test_parse_mx_limit),
		cmocka_unit_test(test_parse_mx_truncated),
		cmocka_unit_test(test_parse_addr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
