/* fuzz_smtpd_addr - libFuzzer harness for the RFC 5321 path parser
 * (quoted strings, source routes, address literals, SMTPUTF8). The first
 * byte picks the flags. A parsed address must be internally consistent:
 * its domain is the tail of its external form. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtpd_addr a;
	const char *end, *why;
	char *text;
	int flags;

	if (size == 0)
		return 0;
	flags = data[0] & (SMTPD_PATH_NULL_OK | SMTPD_PATH_UTF8_OK);
	if ((text = malloc(size)) == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = 0;
	memset(&a, 0, sizeof(a));
	if (smtpd_parse_path(text, flags, &a, &end, &why) == 0) {
		size_t al = strlen(a.addr), dl = strlen(a.domain);

		if (end < text || end > text + strlen(text) || dl > al
		    || strcmp(a.addr + al - dl, a.domain) != 0)
			__builtin_trap();
		smtpd_addr_free(&a);
	}
	free(text);
	return 0;
}
