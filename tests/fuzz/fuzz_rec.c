/* fuzz_rec - libFuzzer harness for the record decoder (lib/rec.c) that
 * postdrop runs on what any local user's sendmail sends it. */
#include <stddef.h>
#include <stdint.h>

#include "rec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data, *payload;
	size_t dlen, used = 0;
	ssize_t n;
	int type;

	while (used < size && (n = rec_decode(buf + used, size - used, &type, &payload, &dlen, 4096)) > 0)
		used += (size_t)n;
	return 0;
}
