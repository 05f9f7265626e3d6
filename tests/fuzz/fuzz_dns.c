/* fuzz_dns - libFuzzer harness for the DNS reply parsers (lib/dns.c):
 * a reply comes from the network, so any bytes must parse or be refused. */
#include <arpa/nameser.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_mx_list mx;
	struct dns_addr_list addr;
	unsigned char *copy = malloc(size ? size : 1);	/* exact size: ASan sees overreads */
	char *why = NULL;

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	memset(&mx, 0, sizeof(mx));
	dns_parse_mx(copy, size, &mx, &why);
	dns_mx_list_free(&mx);
	free(why);
	why = NULL;
	memset(&addr, 0, sizeof(addr));
	dns_parse_addr(copy, size, ns_t_a, &addr, &why);
	free(why);
	why = NULL;
	dns_parse_addr(copy, size, ns_t_aaaa, &addr, &why);
	dns_addr_list_free(&addr);
	free(why);
	free(copy);
	return 0;
}
