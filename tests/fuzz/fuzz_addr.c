/* fuzz_addr - libFuzzer harness for RFC 5322 address-list parsing
 * (lib/addr.c), which reads headers written by anyone who sends mail. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "argv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct argv out = ARGV_INIT;
	char *text = malloc(size + 1);

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	addr_list_parse(text, &out);
	argv_free(&out);
	free(addr_strip(text));
	free(text);
	return 0;
}
