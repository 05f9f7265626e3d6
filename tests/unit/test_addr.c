/* test_addr - unit tests for lib/addr.c: exact addr-specs for the forms
 * real headers and command lines use (display names, quoting, comments,
 * groups, routes, folding, UTF-8), the error bits for broken input, and
 * robustness: every prefix and suffix of a list of hostile values parses
 * without reading past its end (the strings are heap copies of exactly
 * their size, so ASan sees any overread), and everything it returns is a
 * fixed point of the parser with no CR, LF or NUL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "argv.h"
#include "mem.h"

/* check_parse - value gives exactly want (NULL-terminated) and errors */
static void check_parse(const char *value, const char *const *want, int want_errors)
{
	struct argv a = ARGV_INIT;
	int errors = addr_list_parse(value, &a);
	size_t n = 0;

	while (want[n])
		n++;
	if (a.n != n || errors != want_errors) {
		fprintf(stderr, "value: [%s] errors %#x (want %#x)\n", value, errors, want_errors);
		for (size_t i = 0; i < a.n; i++)
			fprintf(stderr, "  got [%s]\n", a.v[i]);
	}
	assert_int_equal(errors, want_errors);
	assert_int_equal(a.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(a.v[i], want[i]);
	argv_free(&a);
}

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE ((const char *const[]){NULL})

static void test_plain_forms(void **state)
{
	(void)state;
	check_parse("a@b.example", LIST("a@b.example"), 0);
	check_parse("  a@b.example  ", LIST("a@b.example"), 0);
	check_parse("root", LIST("root"), 0);
	check_parse("a@b, c@d,e@f", LIST("a@b", "c@d", "e@f"), 0);
	check_parse("first.last@sub.example.org", LIST("first.last@sub.example.org"), 0);
	check_parse("-foo@x", LIST("-foo@x"), 0);
	check_parse("a+tag@x", LIST("a+tag@x"), 0);
	check_parse("user@[192.0.2.1]", LIST("user@[192.0.2.1]"), 0);
	check_parse("user@[IPv6:2001:db8::1]", LIST("user@[IPv6:2001:db8::1]"), 0);
	check_parse("", NONE, 0);
	check_parse(" , ,, ", NONE, 0);
	check_parse("<>", NONE, 0);
}

static void test_display_names(void **state)
{
	(void)state;
	check_parse("John Doe <jd@x.org>", LIST("jd@x.org"), 0);
	check_parse("<jd@x.org>", LIST("jd@x.org"), 0);
	check_parse("\"Doe, John\" <jd@x>, other@y", LIST("jd@x", "other@y"), 0);
	check_parse("John Q. Public <jqp@x>", LIST("jqp@x"), 0);
	check_parse("a@b <c@d>", LIST("c@d"), 0);
	check_parse("\"<fake@evil>\" <real@x>", LIST("real@x"), 0);
	check_parse("J\xc3\xb6rg <j\xc3\xb6rg@ex\xc3\xa4mple.de>",
		    LIST("j\xc3\xb6rg@ex\xc3\xa4mple.de"), 0);
	check_parse("=?utf-8?q?J=C3=B6rg?= <j@x>", LIST("j@x"), 0);
}

static void test_comments(void **state)
{
	(void)state;
	check_parse("a@b (Real Name)", LIST("a@b"), 0);
	check_parse("a@b (Comment (nested (deeper)) here), c@d", LIST("a@b", "c@d"), 0);
	check_parse("(lead)a(mid)@(x)b.c(trail)", LIST("a@b.c"), 0);
	check_parse("a@b (with \\) escaped paren), c@d", LIST("a@b", "c@d"), 0);
	check_parse("Name (a, b) <x@y>", LIST("x@y"), 0);
}

static void test_quoting(void **state)
{
	(void)state;
	check_parse("\"john smith\"@x", LIST("\"john smith\"@x"), 0);
	check_parse("\"joe\"@x", LIST("joe@x"), 0);
	check_parse("\"a\\\"b\"@x", LIST("\"a\\\"b\"@x"), 0);
	check_parse("\"a\\\\b\"@x", LIST("\"a\\\\b\"@x"), 0);
	check_parse("\"\"@x", LIST("\"\"@x"), 0);
	check_parse("\"a@b\"@x", LIST("\"a@b\"@x"), 0);
	check_parse("a\\ b@x", LIST("\"a b\"@x"), 0);
	check_parse("\"a\".\"b\"@x", LIST("a.b@x"), 0);
	check_parse("a . b @ x . y", LIST("a.b@x.y"), 0);
	check_parse("a..b@x", LIST("a..b@x"), 0);
	check_parse(".a.@x", LIST(".a.@x"), 0);
}

static void test_groups(void **state)
{
	(void)state;
	check_parse("undisclosed-recipients:;", NONE, 0);
	check_parse("undisclosed-recipients: ;", NONE, 0);
	check_parse("list: a@b, c@d;", LIST("a@b", "c@d"), 0);
	check_parse("list: a@b, c@d;, e@f", LIST("a@b", "c@d", "e@f"), 0);
	check_parse("x@y, team: A <a@b>, \"C, D\" <c@d>; , z@w",
		    LIST("x@y", "a@b", "c@d", "z@w"), 0);
	check_parse("list: a@b", LIST("a@b"), ADDR_ERR_GROUP);
	check_parse("a: b: c@d;", LIST("c@d"), ADDR_ERR_GROUP);
}

static void test_routes(void **state)
{
	(void)state;
	check_parse("<@a,@b:user@c>", LIST("user@c"), 0);
	check_parse("Name <@a.example:user@c>", LIST("user@c"), 0);
	check_parse("<@a,@b:user@c>, d@e", LIST("user@c", "d@e"), 0);
	check_parse("<@a>", NONE, ADDR_ERR_SYNTAX);
}

static void test_folding(void **state)
{
	(void)state;
	check_parse("a@b,\r\n c@d", LIST("a@b", "c@d"), 0);
	check_parse("a@b,\n\tc@d", LIST("a@b", "c@d"), 0);
	check_parse("\"John\r\n Smith\" <js@x>", LIST("js@x"), 0);
	check_parse("\"a\r\n b\"@x", LIST("\"a b\"@x"), 0);
}

static void test_errors(void **state)
{
	(void)state;
	check_parse("John Smith", NONE, ADDR_ERR_SYNTAX);
	/* obs-local-part: words and dots with white space between */
	check_parse("Mr. Smith", LIST("Mr.Smith"), 0);
	check_parse("a@b@c", NONE, ADDR_ERR_SYNTAX);
	check_parse("a@", NONE, ADDR_ERR_SYNTAX);
	check_parse("@b", NONE, ADDR_ERR_SYNTAX);
	check_parse("a@b c@d", NONE, ADDR_ERR_SYNTAX);
	check_parse("a@b, \"unclosed@x", LIST("a@b"), ADDR_ERR_QUOTE | ADDR_ERR_SYNTAX);
	check_parse("a@b (unclosed, c@d", LIST("a@b"), ADDR_ERR_COMMENT);
	check_parse("a@b), c@d", LIST("a@b", "c@d"), ADDR_ERR_COMMENT);
	check_parse("a@[1.2.3.4", NONE, ADDR_ERR_LITERAL | ADDR_ERR_SYNTAX);
	check_parse("a@b, <c@d", LIST("a@b", "c@d"), ADDR_ERR_ANGLE);
	check_parse("Name <a@b, c@d", LIST("a@b", "c@d"), ADDR_ERR_ANGLE);
	check_parse("<a@b> junk, c@d", LIST("a@b", "c@d"), ADDR_ERR_SYNTAX);
	check_parse("a@b>", NONE, ADDR_ERR_ANGLE | ADDR_ERR_SYNTAX);
	check_parse("a@b;", LIST("a@b"), ADDR_ERR_SYNTAX);
	check_parse("a\x01@b", LIST("a@b"), ADDR_ERR_SYNTAX);
	check_parse("a@b\\", LIST("a@b"), ADDR_ERR_SYNTAX);
	assert_string_equal(addr_error_text(ADDR_ERR_QUOTE | ADDR_ERR_SYNTAX),
			    "unterminated quoted string");
	assert_string_equal(addr_error_text(0), "no error");
}

/* check_strip - addr_strip(arg) is want (NULL: refused) */
static void check_strip(const char *arg, const char *want)
{
	char *got = addr_strip(arg);

	if (want == NULL) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_strip(void **state)
{
	(void)state;
	check_strip("a@b", "a@b");
	check_strip("<a@b>", "a@b");
	check_strip("Name <a@b>", "a@b");
	check_strip("\"Full Name\" <a@b>", "a@b");
	check_strip("a@b (comment)", "a@b");
	check_strip("root", "root");
	check_strip("-dash@x", "-dash@x");
	check_strip("a@b, c@d", NULL);
	check_strip("", NULL);
	check_strip("<>", NULL);
	check_strip("Name", "Name");
	check_strip("Two Words", NULL);
	check_strip("<a@b", NULL);
	check_strip("\"a", NULL);
}

static const char *const hard_inputs[] = {
	"\"Doe, John\" (the \\(real\\) one) <@r1,@r2:jd@[10.0.0.1]>, list: a@b, \"c d\"@e;, f@g",
	"((((((((((deep))))))))))a@b",
	"((((((((((unclosed",
	"\"\\\"\\\\\\",
	"[\\]\\[\\\\",
	"<<<<a@b>>>>",
	"a:b:c:d;;;;,,,,<>@@@...",
	"Name <a@b, c@d>, e@f (x",
	"\\\\\\\\\\",
	"undisclosed-recipients:;,\r\n\t<@a,@b,@c:",
	"J\xc3\xb6rg \xff\xfe <\xc3\xa4@\xc3\xb6.de>, \x7f\x01\x02",
	"\"a\r\nb\" <x@y>\r\n",
	"a@b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z",
};

/* check_sane - every output is a fixed point with no CR, LF or NUL */
static void check_sane(const struct argv *a)
{
	for (size_t i = 0; i < a->n; i++) {
		struct argv again = ARGV_INIT;

		assert_null(strpbrk(a->v[i], "\r\n"));
		assert_true(a->v[i][0] != 0);
		assert_int_equal(addr_list_parse(a->v[i], &again), 0);
		assert_int_equal(again.n, 1);
		assert_string_equal(again.v[0], a->v[i]);
		argv_free(&again);
	}
}

/* parse_exact - parses len bytes of s from a heap copy of exactly len + 1 */
static void parse_exact(const char *s, size_t len)
{
	struct argv a = ARGV_INIT;
	char *copy = xmalloc(len + 1);
	char *one;

	memcpy(copy, s, len);
	copy[len] = 0;
	addr_list_parse(copy, &a);
	check_sane(&a);
	argv_free(&a);
	one = addr_strip(copy);
	free(one);
	free(copy);
}

static void test_every_prefix_and_suffix(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(hard_inputs) / sizeof(hard_inputs[0]); k++) {
		const char *s = hard_inputs[k];
		size_t len = strlen(s);

		for (size_t cut = 0; cut <= len; cut++) {
			parse_exact(s, cut);
			parse_exact(s + cut, len - cut);
		}
	}
}

static void test_every_byte_pair(void **state)
{
	char buf[8];

	(void)state;
	/* Every two-byte value around "a@b": specials, escapes, 8-bit. */
	for (int x = 1; x < 256; x++) {
		for (int y = 1; y < 256; y += 7) {
			buf[0] = (char)x;
			buf[1] = 'a';
			buf[2] = '@';
			buf[3] = (char)y;
			buf[4] = 'b';
			parse_exact(buf, 5);
		}
	}
}

static void test_long_input(void **state)
{
	struct argv a = ARGV_INIT;
	size_t n = 200000;
	char *s = xmalloc(n * 4 + 1);

	(void)state;
	for (size_t i = 0; i < n; i++)
		memcpy(s + 4 * i, "a@b,", 4);
	s[n * 4] = 0;
	assert_int_equal(addr_list_parse(s, &a), 0);
	assert_int_equal(a.n, n);
	argv_free(&a);
	/* One deep comment: no recursion, no stack growth. */
	memset(s, '(', n * 4);
	assert_int_equal(addr_list_parse(s, &a), ADDR_ERR_COMMENT);
	assert_int_equal(a.n, 0);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_forms),
		cmocka_unit_test(test_display_names),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_folding),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_strip),
		cmocka_unit_test(test_every_prefix_and_suffix),
		cmocka_unit_test(test_every_byte_pair),
		cmocka_unit_test(test_long_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
