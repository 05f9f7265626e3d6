/* fuzz_smtp_reply - libFuzzer harness for the smtp client's reply parser
 * and EHLO keyword scan on whatever a server sends. Differential: the
 * input fed in two pieces (split at the first byte's value) must give the
 * same replies as fed whole; the text never exceeds SMTP_REPLY_MAX. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"
#include "vstr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* replies - every whole reply in data, codes and texts appended to out */
static void replies(const char *data, size_t size, size_t cut, vstr *out)
{
	struct smtp_reply r;
	size_t pos = 0, used, end = cut < size ? cut : size;
	long long limit;

	smtp_reply_init(&r);
	while (pos < size) {
		size_t stop = pos < end ? end : size;

		if (smtp_reply_feed(&r, data + pos, stop - pos, &used)) {
			if (vstr_len(&r.text) > SMTP_REPLY_MAX)
				abort();
			vstr_catf(out, "%d %s|", r.code, r.dsn);
			vstr_ncat(out, vstr_str(&r.text), vstr_len(&r.text));
			vstr_catc(out, '\n');
			smtp_ehlo_features(vstr_str(&r.text), &limit);
			smtp_reply_reset(&r);
		}
		pos += used;
	}
	smtp_reply_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vstr whole = VSTR_INIT, split = VSTR_INIT;
	size_t cut = size ? data[0] : 0;

	replies((const char *)data, size, size + 1, &whole);
	replies((const char *)data, size, cut, &split);
	if (vstr_len(&whole) != vstr_len(&split) || memcmp(vstr_str(&whole), vstr_str(&split), vstr_len(&whole)) != 0)
		abort();
	vstr_release(&whole);
	vstr_release(&split);
	return 0;
}
