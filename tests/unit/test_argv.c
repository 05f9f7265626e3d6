/* test_argv - unit tests for lib/argv.c: growth and NULL termination,
 * list splitting with empty fields dropped, and Postfix's "{ text }"
 * grouping with its error cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "argv.h"

/* assert_argv - a holds exactly the strings in want (NULL-terminated) */
static void assert_argv(const struct argv *a, const char *const *want)
{
	size_t n = 0;

	while (want[n])
		n++;
	assert_int_equal(a->n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(a->v[i], want[i]);
	if (a->v)
		assert_null(a->v[n]);
}

static void test_add_grows_and_terminates(void **state)
{
	struct argv a = ARGV_INIT;
	char buf[16];

	(void)state;
	for (int i = 0; i < 100; i++) {
		snprintf(buf, sizeof(buf), "s%d", i);
		argv_add(&a, buf);
		assert_null(a.v[a.n]);
	}
	assert_int_equal(a.n, 100);
	assert_string_equal(a.v[0], "s0");
	assert_string_equal(a.v[99], "s99");
	argv_addn(&a, "abcdef", 3);
	assert_string_equal(a.v[100], "abc");
	argv_free(&a);
	assert_int_equal(a.n, 0);
	assert_null(a.v);
	/* Reusable after argv_free. */
	argv_add(&a, "again");
	assert_argv(&a, (const char *const[]){"again", NULL});
	argv_free(&a);
}

static void test_add_copies(void **state)
{
	struct argv a = ARGV_INIT;
	char buf[] = "original";

	(void)state;
	argv_add(&a, buf);
	buf[0] = 'X';
	assert_string_equal(a.v[0], "original");
	argv_free(&a);
}

static void test_split_list(void **state)
{
	struct argv a = ARGV_INIT;

	(void)state;
	argv_split(&a, "a, b c,,d\t\te\n", ", \t\r\n");
	assert_argv(&a, (const char *const[]){"a", "b", "c", "d", "e", NULL});
	/* Appends to what is there. */
	argv_split(&a, ",f,", ",");
	assert_argv(&a, (const char *const[]){"a", "b", "c", "d", "e", "f", NULL});
	argv_free(&a);
}

static void test_split_empty(void **state)
{
	struct argv a = ARGV_INIT;

	(void)state;
	argv_split(&a, "", ", ");
	assert_int_equal(a.n, 0);
	argv_split(&a, " , ,, ", ", ");
	assert_int_equal(a.n, 0);
	argv_free(&a);
}

static void test_split_other_delims(void **state)
{
	struct argv a = ARGV_INIT;

	(void)state;
	/* Only the given delimiters split: space stays inside fields. */
	argv_split(&a, "a b:c d::e", ":");
	assert_argv(&a, (const char *const[]){"a b", "c d", "e", NULL});
	argv_free(&a);
}

static void test_braces_group_white_space(void **state)
{
	struct argv a = ARGV_INIT;
	char *err = NULL;

	(void)state;
	assert_int_equal(argv_split_braces(&a, "cmd -o { name = value with spaces } x",
					   " \t", &err), 0);
	assert_null(err);
	assert_argv(&a, (const char *const[]){"cmd", "-o", "name = value with spaces",
					      "x", NULL});
	argv_free(&a);
}

static void test_braces_nested_and_empty(void **state)
{
	struct argv a = ARGV_INIT;
	char *err = NULL;

	(void)state;
	assert_int_equal(argv_split_braces(&a, "{ a {b c} d } {} {\tx\t}", " \t", &err), 0);
	assert_argv(&a, (const char *const[]){"a {b c} d", "", "x", NULL});
	argv_free(&a);
}

static void test_braces_inside_field_kept(void **state)
{
	struct argv a = ARGV_INIT;
	char *err = NULL;

	(void)state;
	/* Braces that do not start a field protect delimiters but stay. */
	assert_int_equal(argv_split_braces(&a, "inline:{a=1, b=2} next", " ,", &err), 0);
	assert_argv(&a, (const char *const[]){"inline:{a=1, b=2}", "next", NULL});
	argv_free(&a);
}

static void test_braces_plain_fields_like_split(void **state)
{
	struct argv a = ARGV_INIT;
	char *err = NULL;

	(void)state;
	assert_int_equal(argv_split_braces(&a, "  a,, b  ", " ,", &err), 0);
	assert_argv(&a, (const char *const[]){"a", "b", NULL});
	argv_free(&a);
}

/* expect_brace_error - s fails, with a message, and leaves a unchanged */
static void expect_brace_error(const char *s, const char *in_message)
{
	struct argv a = ARGV_INIT;
	char *err = NULL;

	argv_add(&a, "before");
	assert_int_equal(argv_split_braces(&a, s, " ", &err), -1);
	assert_non_null(err);
	assert_non_null(strstr(err, in_message));
	assert_argv(&a, (const char *const[]){"before", NULL});
	free(err);
	argv_free(&a);
}

static void test_braces_errors(void **state)
{
	(void)state;
	expect_brace_error("ok { unclosed", "missing '}'");
	expect_brace_error("ok {a {b}", "missing '}'");
	expect_brace_error("ok a} b", "unbalanced '}'");
	expect_brace_error("ok {a}b", "text after '}'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_grows_and_terminates),
		cmocka_unit_test(test_add_copies),
		cmocka_unit_test(test_split_list),
		cmocka_unit_test(test_split_empty),
		cmocka_unit_test(test_split_other_delims),
		cmocka_unit_test(test_braces_group_white_space),
		cmocka_unit_test(test_braces_nested_and_empty),
		cmocka_unit_test(test_braces_inside_field_kept),
		cmocka_unit_test(test_braces_plain_fields_like_split),
		cmocka_unit_test(test_braces_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
