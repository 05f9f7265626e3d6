/* fuzz_attr - libFuzzer harness for the attribute frame decoder (lib/attr.c):
 * whatever bytes a peer sends, fed in two pieces, must decode cleanly or be
 * refused, never crash or read out of bounds. */
#include <stddef.h>
#include <stdint.h>

#include "attr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct attr_decoder d;
	struct attr_list l = ATTR_LIST_INIT;
	const char *err, *s;
	long long n;
	size_t cut = size ? data[0] % (size + 1) : 0;

	attr_decoder_init(&d, 65536);
	attr_decoder_feed(&d, data, cut);
	attr_decoder_feed(&d, data + cut, size - cut);
	while (attr_decoder_next(&d, &l, &err) == ATTR_DEC_FRAME) {
		attr_get_str(&l, "request", &s);
		attr_get_line(&l, "address", &s);
		attr_get_int(&l, "status", &n);
		attr_list_clear(&l);
	}
	attr_list_clear(&l);
	attr_decoder_free(&d);
	return 0;
}
