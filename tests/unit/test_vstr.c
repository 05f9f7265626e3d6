/* test_vstr - growable strings: growth, limits, formatting, consumption. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mem.h"
#include "vstr.h"

static void test_grows_and_stays_terminated(void **state)
{
	vstr v = VSTR_INIT;

	(void)state;
	assert_string_equal(vstr_str(&v), "");
	for (int i = 0; i < 1000; i++)
		assert_int_equal(vstr_catc(&v, 'a' + i % 26), 0);
	assert_int_equal(vstr_len(&v), 1000);
	assert_int_equal(strlen(vstr_str(&v)), 1000);
	assert_int_equal(vstr_str(&v)[25], 'z');
	vstr_release(&v);
}

static void test_binary_content(void **state)
{
	vstr v = VSTR_INIT;

	(void)state;
	assert_int_equal(vstr_ncat(&v, "a\0b", 3), 0);
	assert_int_equal(vstr_len(&v), 3);
	assert_memory_equal(vstr_str(&v), "a\0b", 4);
	vstr_release(&v);
}

static void test_limit_refuses_without_change(void **state)
{
	vstr v = VSTR_INIT;

	(void)state;
	vstr_set_limit(&v, 5);
	assert_int_equal(vstr_cat(&v, "abc"), 0);
	assert_int_equal(vstr_cat(&v, "def"), -1);
	assert_string_equal(vstr_str(&v), "abc");
	assert_int_equal(vstr_catf(&v, "%d", 12345), -1);
	assert_int_equal(vstr_cat(&v, "de"), 0);
	assert_int_equal(vstr_catc(&v, 'x'), -1);
	assert_string_equal(vstr_str(&v), "abcde");
	vstr_release(&v);
}

static void test_format_copy_consume(void **state)
{
	vstr v = VSTR_INIT;
	char *s;

	(void)state;
	vstr_cpyf(&v, "%s-%05d", "id", 42);
	assert_string_equal(vstr_str(&v), "id-00042");
	vstr_consume(&v, 3);
	assert_string_equal(vstr_str(&v), "00042");
	vstr_truncate(&v, 2);
	assert_string_equal(vstr_str(&v), "00");
	vstr_cpy(&v, "x");
	assert_string_equal(vstr_str(&v), "x");
	s = vstr_steal(&v);
	assert_string_equal(s, "x");
	assert_int_equal(vstr_len(&v), 0);
	free(s);
	s = xasprintf("%s %zu", "n", (size_t)7);
	assert_string_equal(s, "n 7");
	free(s);
}

static void test_new_and_free(void **state)
{
	vstr *v = vstr_new(0);

	(void)state;
	assert_string_equal(vstr_str(v), "");
	vstr_catf(v, "%0500d", 1);
	assert_int_equal(vstr_len(v), 500);
	vstr_free(v);
	vstr_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grows_and_stays_terminated),
		cmocka_unit_test(test_binary_content),
		cmocka_unit_test(test_limit_refuses_without_change),
		cmocka_unit_test(test_format_copy_consume),
		cmocka_unit_test(test_new_and_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
