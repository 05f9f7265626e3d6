/* fuzz_smtpd_cmd - libFuzzer harness for smtpd's command-line parsing:
 * the line scan, the verb split, MAIL/RCPT paths and ESMTP parameters
 * (with xtext and SIZE) on whatever a client sends. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "argv.h"
#include "smtpd.h"
#include "vstr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void params(const char *text)
{
	struct argv keys = ARGV_INIT, values = ARGV_INIT;
	vstr x = VSTR_INIT;
	const char *why;

	if (smtpd_parse_params(text, &keys, &values, &why) == 0)
		for (size_t i = 0; i < values.n; i++) {
			smtpd_xtext_decode(values.v[i], &x);
			smtpd_parse_size(values.v[i]);
			vstr_reset(&x);
		}
	vstr_release(&x);
	argv_free(&keys);
	argv_free(&values);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char verb[SMTPD_VERB_MAX + 1], *line = malloc(size + 1);
	const char *args, *end, *why;
	struct smtpd_addr a;

	if (line == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = 0;
	smtpd_line_scan(line, size);
	if (smtpd_split_verb(line, verb, &args) == 0) {
		const char *colon = strchr(args, ':');

		memset(&a, 0, sizeof(a));
		if (colon && smtpd_parse_path(colon + 1, SMTPD_PATH_NULL_OK | SMTPD_PATH_UTF8_OK,
					     &a, &end, &why) == 0) {
			params(end);
			smtpd_addr_free(&a);
		}
	}
	free(line);
	return 0;
}
