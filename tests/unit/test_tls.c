/* test_tls - unit tests for the pure parts of lib/tls.c: Postfix protocol
 * lists (include, exclude, bounds, separators, unknown names, nothing
 * left), security level names, smtp_tls_policy_maps entries (level,
 * match= lists, protocols=, bad attributes and limits, every prefix of
 * an entry), and the fingerprint format (colons, upper case, truncation
 * to the buffer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tls.h"

static unsigned protos(const char *text)
{
	const char *why = NULL;
	unsigned p = 0;

	assert_int_equal(tls_protocols_parse(text, &p, &why), 0);
	return p;
}

static void test_protocols(void **state)
{
	const unsigned tls12up = TLS_PROTO_TLSv1_2 | TLS_PROTO_TLSv1_3;
	const char *why = NULL;
	unsigned p;

	(void)state;
	assert_int_equal(protos(">=TLSv1.2"), tls12up);
	assert_int_equal(protos("!SSLv2, !SSLv3, !TLSv1, !TLSv1.1"), tls12up);
	assert_int_equal(protos("!SSLv2:!SSLv3:!TLSv1:!TLSv1.1"), tls12up);
	assert_int_equal(protos("!SSLv2 !SSLv3"), TLS_PROTO_ALL & ~(TLS_PROTO_SSLv2 | TLS_PROTO_SSLv3));
	assert_int_equal(protos(""), TLS_PROTO_ALL);
	assert_int_equal(protos("TLSv1.3"), TLS_PROTO_TLSv1_3);
	assert_int_equal(protos("TLSv1.2, TLSv1.3"), tls12up);
	assert_int_equal(protos(">=TLSv1 <=TLSv1.2"),
			 TLS_PROTO_TLSv1 | TLS_PROTO_TLSv1_1 | TLS_PROTO_TLSv1_2);
	assert_int_equal(protos(">=TLSv1.1, !TLSv1.2"), TLS_PROTO_TLSv1_1 | TLS_PROTO_TLSv1_3);
	assert_int_equal(protos("tlsv1.2"), TLS_PROTO_TLSv1_2);	/* case-insensitive */
	assert_int_equal(tls_protocols_parse("TLSv1.4", &p, &why), -1);
	assert_non_null(why);
	assert_int_equal(tls_protocols_parse(">=TLSv1.3 !TLSv1.3", &p, &why), -1);
	assert_int_equal(tls_protocols_parse("=>TLSv1.2", &p, &why), -1);
	assert_int_equal(tls_protocols_parse("!", &p, &why), -1);
}

static void test_levels(void **state)
{
	enum tls_level l;

	(void)state;
	assert_int_equal(tls_level_parse("may", &l), 0);
	assert_int_equal(l, TLS_LEV_MAY);
	assert_int_equal(tls_level_parse("SECURE", &l), 0);
	assert_int_equal(l, TLS_LEV_SECURE);
	assert_int_equal(tls_level_parse("", &l), 0);
	assert_int_equal(l, TLS_LEV_NONE);
	assert_int_equal(tls_level_parse("dane", &l), -1);
	assert_int_equal(tls_level_parse("mayx", &l), -1);
	assert_string_equal(tls_level_name(TLS_LEV_VERIFY), "verify");
}

static void test_policy(void **state)
{
	struct tls_policy p;
	const char *why = NULL;

	(void)state;
	assert_int_equal(tls_policy_parse("encrypt", &p, &why), 0);
	assert_int_equal(p.level, TLS_LEV_ENCRYPT);
	assert_int_equal(p.nmatch, 0);
	assert_string_equal(p.protocols, "");

	assert_int_equal(tls_policy_parse("  secure match=relay.example:.example.net  ", &p, &why), 0);
	assert_int_equal(p.level, TLS_LEV_SECURE);
	assert_int_equal(p.nmatch, 2);
	assert_string_equal(p.match[0], "relay.example");
	assert_string_equal(p.match[1], ".example.net");

	assert_int_equal(tls_policy_parse("verify protocols=!SSLv2:!SSLv3:!TLSv1 ciphers=high", &p, &why), 0);
	assert_int_equal(p.level, TLS_LEV_VERIFY);
	assert_string_equal(p.protocols, "!SSLv2:!SSLv3:!TLSv1");
	assert_string_equal(p.ciphers, "high");

	assert_int_equal(tls_policy_parse("secure match=a::b:", &p, &why), 0);
	assert_int_equal(p.nmatch, 2);
	assert_string_equal(p.match[1], "b");

	assert_int_equal(tls_policy_parse("", &p, &why), -1);
	assert_int_equal(tls_policy_parse("dane-only", &p, &why), -1);
	assert_int_equal(tls_policy_parse("encrypt bogus", &p, &why), -1);
	assert_int_equal(tls_policy_parse("encrypt foo=bar", &p, &why), -1);
	assert_int_equal(tls_policy_parse("encrypt protocols=TLSv9", &p, &why), -1);
	assert_int_equal(tls_policy_parse("secure match=a:b:c:d:e:f:g:h:i", &p, &why), -1);
}

/* every prefix of an entry parses or fails cleanly (ASan watches) */
static void test_policy_prefixes(void **state)
{
	const char *entry = "secure match=mx1.example.com:.example.com protocols=>=TLSv1.2 ciphers=high";
	char buf[128];
	struct tls_policy p;
	const char *why;

	(void)state;
	for (size_t n = 0; n <= strlen(entry); n++) {
		memcpy(buf, entry, n);
		buf[n] = 0;
		(void)tls_policy_parse(buf, &p, &why);
	}
	assert_int_equal(tls_policy_parse(entry, &p, &why), 0);
}

static void test_fingerprint(void **state)
{
	const unsigned char md[] = {0x00, 0x0f, 0xa0, 0xff};
	char out[32], small[6];

	(void)state;
	tls_fingerprint_format(md, sizeof(md), out, sizeof(out));
	assert_string_equal(out, "00:0F:A0:FF");
	tls_fingerprint_format(md, 1, out, sizeof(out));
	assert_string_equal(out, "00");
	tls_fingerprint_format(md, 0, out, sizeof(out));
	assert_string_equal(out, "");
	tls_fingerprint_format(md, sizeof(md), small, sizeof(small));	/* "00:0F" fits exactly */
	assert_string_equal(small, "00:0F");
	tls_fingerprint_format(md, sizeof(md), small, 5);
	assert_string_equal(small, "00");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_protocols),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_policy_prefixes),
		cmocka_unit_test(test_fingerprint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
