/* fuzz_smtpd_data - libFuzzer harness for the DATA/BDAT content parser.
 * Beyond "no crash": feeding the input in two pieces (split where the first
 * byte says) must give exactly what feeding it whole gives, in both modes:
 * a split point never changes the message (the smuggling class). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "smtpd.h"
#include "vstr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* run - feeds buf, split at cut; returns bytes taken, output in out */
static size_t run(enum smtpd_data_mode mode, const char *buf, size_t len, size_t cut,
		  vstr *out, unsigned *flags)
{
	struct smtpd_data d;
	size_t taken;

	smtpd_data_init(&d, mode);
	taken = smtpd_data_feed(&d, buf, cut, out);
	if (taken == cut && !d.done)
		taken += smtpd_data_feed(&d, buf + cut, len - cut, out);
	if (mode == SMTPD_DATA_RAW)
		smtpd_data_finish(&d, out);
	*flags = d.flags;
	return taken;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data + 1;
	size_t len, cut;
	unsigned f1, f2;

	if (size == 0)
		return 0;
	len = size - 1;
	cut = data[0] % (len + 1);
	for (int m = 0; m < 2; m++) {
		enum smtpd_data_mode mode = m ? SMTPD_DATA_RAW : SMTPD_DATA_DOT;
		vstr whole = VSTR_INIT, split = VSTR_INIT;
		size_t t1 = run(mode, buf, len, len, &whole, &f1);
		size_t t2 = run(mode, buf, len, cut, &split, &f2);

		if (t1 != t2 || f1 != f2 || vstr_len(&whole) != vstr_len(&split)
		    || memcmp(vstr_str(&whole), vstr_str(&split), vstr_len(&whole)) != 0)
			__builtin_trap();
		vstr_release(&whole);
		vstr_release(&split);
	}
	return 0;
}
