/* fuzz_sasl - libFuzzer harness for the SASL input that comes from the
 * network: a client's base64 AUTH responses (smtpd) and a server's AUTH
 * mechanism list (the smtp client's filter). Checks: decoding never
 * overruns, and what it decoded survives an encode/decode round trip
 * (non-zero pad bits are accepted, as RFC 4648 allows); the filter only
 * ever returns mechanisms that the server offered. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sasl.h"
#include "vstr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_b64(const char *text)
{
	vstr dec = VSTR_INIT, enc = VSTR_INIT, again = VSTR_INIT;

	if (xsasl_b64_decode(text, &dec) == 0) {
		xsasl_b64_encode(vstr_str(&dec), vstr_len(&dec), &enc);
		if (vstr_len(&enc) != strlen(text) || xsasl_b64_decode(vstr_str(&enc), &again) < 0
		    || vstr_len(&again) != vstr_len(&dec)
		    || memcmp(vstr_str(&again), vstr_str(&dec), vstr_len(&dec)) != 0)
			abort();
	}
	vstr_release(&dec);
	vstr_release(&enc);
	vstr_release(&again);
}

/* offered - word is one of the space-separated words of list */
static int offered(const char *list, const char *word, size_t len)
{
	for (const char *p = list; *p;) {
		size_t n;

		p += strspn(p, " \t");
		n = strcspn(p, " \t");
		if (n == len && strncasecmp(p, word, n) == 0)
			return 1;
		p += n;
	}
	return 0;
}

static void check_filter(const char *offer)
{
	vstr out = VSTR_INIT;
	const char *p;

	xsasl_mech_filter(offer, "", &out);
	for (p = vstr_str(&out); *p;) {
		size_t n = strcspn(p, " ");

		if (n && !offered(offer, p, n))
			abort();
		p += n + (p[n] == ' ');
	}
	vstr_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	memcpy(text, data, size);
	text[size] = 0;
	check_b64(text);
	check_filter(text);
	free(text);
	return 0;
}
