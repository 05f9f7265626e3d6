/* test_sasl - unit tests for the pure parts of SMTP AUTH: lib/sasl.c's
 * security options, password-map values, mechanism filter and base64
 * (every length, binary data, malformed input), smtp's AUTH keyword
 * parser, and the client's choice of mechanism under the security
 * options (Cyrus's PLAIN/LOGIN plugins, no server needed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sasl/sasl.h>

#include "sasl.h"
#include "../../smtp/smtp.h"

static void test_secflags(void **state)
{
	unsigned f;
	char *bad = NULL;

	(void)state;
	assert_int_equal(xsasl_secflags("noplaintext, noanonymous", &f, &bad), 0);
	assert_int_equal(f, SASL_SEC_NOPLAINTEXT | SASL_SEC_NOANONYMOUS);
	assert_int_equal(xsasl_secflags("", &f, &bad), 0);
	assert_int_equal(f, 0);
	assert_int_equal(xsasl_secflags("NOACTIVE\tnodictionary,mutual_auth forward_secrecy", &f, &bad), 0);
	assert_int_equal(f, SASL_SEC_NOACTIVE | SASL_SEC_NODICTIONARY | SASL_SEC_MUTUAL_AUTH
			 | SASL_SEC_FORWARD_SECRECY);
	assert_int_equal(xsasl_secflags("noanonymous, noplain", &f, &bad), -1);
	assert_string_equal(bad, "noplain");
	free(bad);
}

static void expect_split(const char *value, const char *user, const char *pass)
{
	char *u = NULL, *p = NULL;

	if (user == NULL) {
		assert_int_equal(xsasl_passwd_split(value, &u, &p), -1);
		return;
	}
	assert_int_equal(xsasl_passwd_split(value, &u, &p), 0);
	assert_string_equal(u, user);
	assert_string_equal(p, pass);
	free(u);
	free(p);
}

static void test_passwd_split(void **state)
{
	(void)state;
	expect_split("user:secret", "user", "secret");
	expect_split("relay@example.test:a:b c", "relay@example.test", "a:b c");
	expect_split("user:", "user", "");
	expect_split("user", "user", "");	/* Postfix: an empty password */
	expect_split(":secret", NULL, NULL);
	expect_split("", NULL, NULL);
}

static void expect_filter(const char *offered, const char *filter, const char *want, size_t n)
{
	vstr out = VSTR_INIT;

	assert_int_equal(xsasl_mech_filter(offered, filter, &out), n);
	assert_string_equal(vstr_str(&out), want);
	vstr_release(&out);
}

static void test_mech_filter(void **state)
{
	(void)state;
	expect_filter("PLAIN LOGIN CRAM-MD5", "", "PLAIN LOGIN CRAM-MD5", 3);
	expect_filter("PLAIN LOGIN CRAM-MD5", "login, plain", "PLAIN LOGIN", 2);
	expect_filter("PLAIN LOGIN", "gssapi", "", 0);
	expect_filter("", "plain", "", 0);
}

static void test_b64_known(void **state)
{
	vstr out = VSTR_INIT;

	(void)state;
	xsasl_b64_encode("\0u\0p", 4, &out);
	assert_string_equal(vstr_str(&out), "AHUAcA==");
	xsasl_b64_encode("Username:", 9, &out);
	assert_string_equal(vstr_str(&out), "VXNlcm5hbWU6");
	xsasl_b64_encode("", 0, &out);
	assert_string_equal(vstr_str(&out), "");
	assert_int_equal(xsasl_b64_decode("AHUAcABx", &out), 0);
	assert_int_equal(vstr_len(&out), 6);
	assert_memory_equal(out.buf, "\0u\0p\0q", 6);
	assert_int_equal(xsasl_b64_decode("", &out), 0);
	assert_int_equal(vstr_len(&out), 0);
	vstr_release(&out);
}

static void test_b64_round_trip(void **state)
{
	unsigned char data[64];
	vstr enc = VSTR_INIT, dec = VSTR_INIT;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 37 + 11);
	data[3] = 0;
	for (size_t len = 0; len <= sizeof(data); len++) {
		xsasl_b64_encode(data, len, &enc);
		assert_int_equal(vstr_len(&enc), (len + 2) / 3 * 4);
		assert_int_equal(xsasl_b64_decode(vstr_str(&enc), &dec), 0);
		assert_int_equal(vstr_len(&dec), len);
		assert_memory_equal(dec.buf ? dec.buf : "", data, len);
	}
	vstr_release(&enc);
	vstr_release(&dec);
}

static void test_b64_malformed(void **state)
{
	static const char *const bad[] = {
		"****", "AHUAcA=", "AHUAcA", "AH=AcA==", "AHUAcA=x", "AHUA cA==", "AHUAcA==AAAA",
		"=AAA", "A===", "AHUAcA==\n", "AHU\0",
	};
	vstr out = VSTR_INIT;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(xsasl_b64_decode(bad[i], &out), -1);
	vstr_release(&out);
}

static void expect_mechs(const char *ehlo, const char *want)
{
	vstr out = VSTR_INIT;

	smtp_ehlo_auth_mechs(ehlo, &out);
	assert_string_equal(vstr_str(&out), want);
	vstr_release(&out);
}

static void test_ehlo_auth_mechs(void **state)
{
	(void)state;
	expect_mechs("250-relay.test\n250-PIPELINING\n250-AUTH PLAIN LOGIN\n250-AUTH=LOGIN CRAM-MD5\n250 8BITMIME",
		     "PLAIN LOGIN CRAM-MD5");
	expect_mechs("250-relay.test\n250 AUTH   LOGIN", "LOGIN");
	expect_mechs("250-relay.test\n250-AUTHX PLAIN\n250 SIZE 10", "");
	expect_mechs("250 AUTH PLAIN", "");	/* the first line is the greeting */
}

/* Cyrus's client picks among the offered mechanisms under the options */
static void test_client_security_options(void **state)
{
	struct xsasl_client *x;
	const char *mech;
	vstr out = VSTR_INIT, why = VSTR_INIT, dec = VSTR_INIT;
	char *err = NULL;

	(void)state;
	assert_int_equal(xsasl_client_setup(&err), 0);
	x = xsasl_client_new("relay.test", "noplaintext, noanonymous", "u", "p", &err);
	assert_non_null(x);
	assert_int_equal(xsasl_client_first(x, "PLAIN LOGIN", &mech, &out, &why), XSASL_FAIL);
	assert_string_equal(vstr_str(&why), "no mechanism available");
	xsasl_client_free(x);

	x = xsasl_client_new("relay.test", "noanonymous", "u", "p", &err);
	assert_non_null(x);
	assert_true(xsasl_client_first(x, "PLAIN", &mech, &out, &why) <= XSASL_CONTINUE);
	assert_string_equal(mech, "PLAIN");
	assert_int_equal(xsasl_b64_decode(vstr_str(&out), &dec), 0);
	/* authzid = authcid, as Postfix's client sends it */
	assert_int_equal(vstr_len(&dec), 5);
	assert_memory_equal(dec.buf, "u\0u\0p", 5);
	xsasl_client_free(x);

	assert_null(xsasl_client_new("relay.test", "noanonymous, bogus", "u", "p", &err));
	assert_string_equal(err, "unknown SASL security option \"bogus\"");
	free(err);
	vstr_release(&out);
	vstr_release(&why);
	vstr_release(&dec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secflags),
		cmocka_unit_test(test_passwd_split),
		cmocka_unit_test(test_mech_filter),
		cmocka_unit_test(test_b64_known),
		cmocka_unit_test(test_b64_round_trip),
		cmocka_unit_test(test_b64_malformed),
		cmocka_unit_test(test_ehlo_auth_mechs),
		cmocka_unit_test(test_client_security_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
