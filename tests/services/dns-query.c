/* dns-query - prints what lib/dns returns, for tests/system/test_dns.py.
 *
 * Usage: dns-query mx DOMAIN
 *        dns-query addr HOST [all|ipv4|ipv6]
 * The first line is the status name (OK, NOTFOUND, NXDOMAIN, NULLMX,
 * RETRY, INVALID); then one "PREF HOST" line per MX record in the order
 * dns_lookup_mx gives, or one address per line. A failure reason goes to
 * stderr. Exit status 0 unless the usage is wrong (2).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "dns.h"

static const char *status_word(enum dns_status s)
{
	switch (s) {
	case DNS_OK: return "OK";
	case DNS_NOTFOUND: return "NOTFOUND";
	case DNS_NXDOMAIN: return "NXDOMAIN";
	case DNS_NULLMX: return "NULLMX";
	case DNS_RETRY: return "RETRY";
	case DNS_INVALID: return "INVALID";
	}
	return "?";
}

static void print_mx(const char *domain)
{
	struct dns_mx_list mx = DNS_MX_LIST_INIT;
	char *why = NULL;
	enum dns_status s = dns_lookup_mx(domain, &mx, &why);
	size_t i;

	printf("%s\n", status_word(s));
	for (i = 0; i < mx.count; i++)
		printf("%u %s\n", mx.mx[i].pref, mx.mx[i].host);
	if (why)
		fprintf(stderr, "dns-query: %s\n", why);
	free(why);
	dns_mx_list_free(&mx);
}

static void print_addr(const char *host, int families)
{
	struct dns_addr_list a = DNS_ADDR_LIST_INIT;
	char *why = NULL, text[INET6_ADDRSTRLEN];
	enum dns_status s = dns_lookup_addr(host, families, &a, &why);
	size_t i;

	printf("%s\n", status_word(s));
	for (i = 0; i < a.count; i++)
		if (inet_ntop(a.addr[i].family, a.addr[i].addr, text, sizeof(text)))
			printf("%s\n", text);
	if (why)
		fprintf(stderr, "dns-query: %s\n", why);
	free(why);
	dns_addr_list_free(&a);
}

int main(int argc, char **argv)
{
	int families;

	if (argc == 3 && strcmp(argv[1], "mx") == 0) {
		print_mx(argv[2]);
		return 0;
	}
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "addr") == 0) {
		families = dns_families_from_protocols(argc == 4 ? argv[3] : "all");
		if (families == 0)
			goto usage;
		print_addr(argv[2], families);
		return 0;
	}
usage:
	fprintf(stderr, "usage: dns-query mx DOMAIN | addr HOST [all|ipv4|ipv6]\n");
	return 2;
}
