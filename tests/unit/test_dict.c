/* test_dict - unit tests for lib/dict*.c: the registry and dict_open's
 * errors, inline:, static:, texthash: (continuations, comments, bad and
 * duplicate lines with their line numbers, a missing file), key folding,
 * and the in-memory table that inline and texthash share. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dict.h"
#include "mem.h"
#include "vstr.h"
#include "testutil.h"

/* open_ok - dict_open that must succeed */
static struct dict *open_ok(const char *spec, int flags)
{
	char *err = NULL;
	struct dict *d = dict_open(spec, flags, &err);

	if (d == NULL)
		fail_msg("dict_open(%s): %s", spec, err);
	assert_null(err);
	return d;
}

/* open_err - dict_open that must fail with a message containing want */
static void open_err(const char *spec, int flags, const char *want)
{
	char *err = NULL;
	struct dict *d = dict_open(spec, flags, &err);

	assert_null(d);
	assert_non_null(err);
	if (strstr(err, want) == NULL)
		fail_msg("dict_open(%s): \"%s\" lacks \"%s\"", spec, err, want);
	free(err);
}

static void test_bad_specs(void **state)
{
	(void)state;
	open_err("nocolon", 0, "bad table name \"nocolon\": need type:name");
	open_err(":name", 0, "need type:name");
	open_err("", 0, "need type:name");
	open_err("bogus:x", 0, "unsupported dictionary type: bogus");
	assert_non_null(dict_type_find("inline"));
	assert_non_null(dict_type_find("static"));
	assert_non_null(dict_type_find("texthash"));
	assert_null(dict_type_find("bogus"));
	dict_close(NULL);
}

static void test_inline(void **state)
{
	struct dict *d;

	(void)state;
	d = open_ok("inline:{ key=value, { key2 = value with spaces }, Key3=V3 }", 0);
	assert_string_equal(d->type, "inline");
	assert_string_equal(d->name, "{ key=value, { key2 = value with spaces }, Key3=V3 }");
	tu_assert_found(d, "key", "value");
	tu_assert_found(d, "KEY", "value");
	tu_assert_found(d, "key2", "value with spaces");
	tu_assert_found(d, "key3", "V3");		/* values keep their case */
	tu_assert_found(d, "kEy3", "V3");
	tu_assert_notfound(d, "key4");
	tu_assert_notfound(d, "value");
	assert_int_equal(d->diags.n, 0);
	dict_close(d);

	/* Separators: commas and/or any white space; values may be empty;
	 * braces inside an entry keep separators in it. */
	d = open_ok("inline:{a=1 b=2,c=3,,\n\td=4 , e= ,f=x{y, z}}", 0);
	tu_assert_found(d, "a", "1");
	tu_assert_found(d, "b", "2");
	tu_assert_found(d, "c", "3");
	tu_assert_found(d, "d", "4");
	tu_assert_found(d, "e", "");
	tu_assert_found(d, "f", "x{y, z}");
	dict_close(d);
	/* White space around the outer braces is fine. */
	d = open_ok("inline: \t{x=y} ", 0);
	tu_assert_found(d, "x", "y");
	dict_close(d);
}

static void test_inline_nofold(void **state)
{
	struct dict *d;

	(void)state;
	d = open_ok("inline:{ Key=Value, { Other Key = x } }", DICT_FLAG_NOFOLD);
	tu_assert_found(d, "Key", "Value");
	tu_assert_notfound(d, "key");
	tu_assert_found(d, "Other Key", "x");
	tu_assert_notfound(d, "other key");
	dict_close(d);
	/* Folded: both spellings are the same key; the first value wins. */
	d = open_ok("inline:{ a=1, A=2 }", 0);
	tu_assert_found(d, "a", "1");
	assert_int_equal(d->diags.n, 1);
	assert_non_null(strstr(d->diags.v[0].text, "duplicate entry"));
	dict_close(d);
	d = open_ok("inline:{ a=1, A=2 }", DICT_FLAG_NOFOLD);
	tu_assert_found(d, "a", "1");
	tu_assert_found(d, "A", "2");
	assert_int_equal(d->diags.n, 0);
	dict_close(d);
}

static void test_inline_errors(void **state)
{
	(void)state;
	open_err("inline:a=b", 0, "need inline:{");
	open_err("inline:{a=b", 0, "need inline:{");
	open_err("inline:", 0, "need inline:{");
	open_err("inline:{a}", 0, "\"a\": need \"key=value\"");
	open_err("inline:{a=b, c}", 0, "\"c\"");
	open_err("inline:{ key = value }", 0, "need \"key=value\"");	/* unbraced spaces */
	open_err("inline:{}", 0, "empty table");
	open_err("inline:{ , }", 0, "empty table");
	open_err("inline:{ {a=b }", 0, "unbalanced");
	open_err("inline:{ a=b} }", 0, "unbalanced");
	open_err("inline:{=x}", 0, "missing key");
	open_err("inline:{ { = x } }", 0, "missing key");
	open_err("inline:{ {a=b}c }", 0, "need \"key=value\"");
}

static void test_static(void **state)
{
	struct dict *d;

	(void)state;
	d = open_ok("static:OK", 0);
	assert_string_equal(d->type, "static");
	tu_assert_found(d, "anything", "OK");
	tu_assert_found(d, "", "OK");
	dict_close(d);
	d = open_ok("static:{ text with spaces, and commas }", 0);
	tu_assert_found(d, "x", "text with spaces, and commas");
	dict_close(d);
	d = open_ok("static:", 0);
	tu_assert_found(d, "x", "");
	dict_close(d);
	d = open_ok("static:{}", 0);
	tu_assert_found(d, "x", "");
	dict_close(d);
	open_err("static:{abc", 0, "missing '}'");
}

/* write_bytes - a temporary file holding len bytes of text; the caller
 * unlinks and frees the name */
static char *write_bytes(const char *text, size_t len)
{
	char *path = xstrdup("/tmp/test_dict.XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

static char *write_file(const char *text)
{
	return write_bytes(text, strlen(text));
}

/* assert_diag - diag i is a warning at line with text containing want */
static void assert_diag(const struct dict *d, size_t i, const char *path, int line,
			const char *want)
{
	assert_true(i < d->diags.n);
	assert_int_equal(d->diags.v[i].severity, DIAG_WARNING);
	assert_string_equal(d->diags.v[i].file, path);
	assert_int_equal(d->diags.v[i].line, line);
	if (strstr(d->diags.v[i].text, want) == NULL)
		fail_msg("diag \"%s\" lacks \"%s\"", d->diags.v[i].text, want);
}

static const char texthash_sample[] =
	"# leading comment\n"			/* 1 */
	"Alice\talice@example.com\n"		/* 2 */
	"\n"					/* 3 */
	"multi first\n"				/* 4 */
	"  second part\n"			/* 5 */
	"# a comment does not end it\n"		/* 6 */
	"\tthird\n"				/* 7 */
	"lonelykey\n"				/* 8 */
	"alice duplicate@example.com\n"		/* 9 */
	"trail   value, trailing space   \n"	/* 10 */
	"   # indented comment\n"		/* 11 */
	"   \t  \n"				/* 12 */
	"lonely2   \n"				/* 13 */
	"crlf value\r\n"			/* 14 */
	"last no-newline";			/* 15 */

static void test_texthash(void **state)
{
	char *path = write_file(texthash_sample), *spec = xasprintf("texthash:%s", path);
	struct dict *d;

	(void)state;
	d = open_ok(spec, 0);
	assert_string_equal(d->type, "texthash");
	assert_string_equal(d->name, path);
	tu_assert_found(d, "alice", "alice@example.com");
	tu_assert_found(d, "ALICE", "alice@example.com");
	tu_assert_found(d, "multi", "first  second part\tthird");
	tu_assert_found(d, "trail", "value, trailing space");
	tu_assert_found(d, "crlf", "value");
	tu_assert_found(d, "last", "no-newline");
	tu_assert_notfound(d, "lonelykey");
	tu_assert_notfound(d, "lonely2");
	tu_assert_notfound(d, "#");
	tu_assert_notfound(d, "second");
	tu_assert_notfound(d, "third");
	assert_int_equal(d->diags.n, 3);
	assert_diag(d, 0, path, 8, "expected format: key whitespace value");
	assert_diag(d, 1, path, 9, "duplicate entry: \"alice\"");
	assert_diag(d, 2, path, 13, "expected format");
	dict_close(d);

	/* Without folding, "Alice" and "alice" are different keys. */
	d = open_ok(spec, DICT_FLAG_NOFOLD);
	tu_assert_found(d, "Alice", "alice@example.com");
	tu_assert_found(d, "alice", "duplicate@example.com");
	tu_assert_notfound(d, "ALICE");
	assert_int_equal(d->diags.n, 2);
	assert_diag(d, 0, path, 8, "expected format");
	assert_diag(d, 1, path, 13, "expected format");
	dict_close(d);
	unlink(path);
	free(path);
	free(spec);
}

static void test_texthash_edges(void **state)
{
	static const char text[] = "  orphan continuation\nkey value\n"
		"multi\n  line value\nbad\0nul value\nafter ok\n";
	char *path = write_bytes(text, sizeof(text) - 1);
	char *spec = xasprintf("texthash:%s", path);
	struct dict *d;

	(void)state;
	d = open_ok(spec, 0);
	tu_assert_found(d, "key", "value");
	tu_assert_found(d, "multi", "line value");	/* key alone on the first line */
	tu_assert_found(d, "after", "ok");
	tu_assert_notfound(d, "bad");
	tu_assert_notfound(d, "orphan");
	assert_int_equal(d->diags.n, 2);
	assert_diag(d, 0, path, 1, "white space");
	assert_diag(d, 1, path, 5, "NUL");
	dict_close(d);
	unlink(path);
	free(path);
	free(spec);

	/* An empty file is an empty table, not an error. */
	path = write_file("");
	spec = xasprintf("texthash:%s", path);
	d = open_ok(spec, 0);
	tu_assert_notfound(d, "x");
	assert_int_equal(d->diags.n, 0);
	dict_close(d);
	unlink(path);
	free(path);
	free(spec);
}

static void test_texthash_missing(void **state)
{
	(void)state;
	open_err("texthash:/nonexistent/dir/aliases", 0, "/nonexistent/dir/aliases");
	open_err("texthash:/nonexistent/dir/aliases", 0, "No such file or directory");
	open_err("texthash:", 0, "need texthash:/path");
	open_err("texthash:/", 0, "Is a directory");
}

/* A type registered at run time, and one replacing it. */
static struct dict *fake_open(const char *name, int flags, char **err)
{
	struct dict *d = dict_mem_new("fake", name, flags);

	(void)err;
	dict_mem_add(d, "who", "fake1");
	return d;
}

static struct dict *fake2_open(const char *name, int flags, char **err)
{
	(void)flags;
	*err = xasprintf("fake2 refuses %s", name);
	return NULL;
}

static void test_register(void **state)
{
	static const struct dict_type fake = { "fake", fake_open };
	static const struct dict_type fake2 = { "fake", fake2_open };
	struct dict *d;

	(void)state;
	dict_register(&fake);
	assert_ptr_equal(dict_type_find("fake"), &fake);
	d = open_ok("fake:thing", 0);
	assert_string_equal(d->name, "thing");
	tu_assert_found(d, "WHO", "fake1");
	dict_close(d);
	dict_register(&fake2);
	assert_ptr_equal(dict_type_find("fake"), &fake2);
	open_err("fake:thing", 0, "fake2 refuses thing");
	assert_non_null(dict_type_find("inline"));
}

/* The shared in-memory table, past several hash-table growths. */
static void test_mem_table(void **state)
{
	struct dict *d = dict_mem_new("mem", "test", 0);
	char key[32], val[32];

	(void)state;
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "Key%d", i);
		snprintf(val, sizeof(val), "v%d", i);
		assert_int_equal(dict_mem_add(d, key, val), 0);
	}
	assert_int_equal(dict_mem_count(d), 5000);
	assert_int_equal(dict_mem_add(d, "KEY17", "other"), -1);
	assert_int_equal(dict_mem_count(d), 5000);
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "kEY%d", i);
		snprintf(val, sizeof(val), "v%d", i);
		tu_assert_found(d, key, val);
	}
	tu_assert_notfound(d, "key5000");
	tu_assert_notfound(d, "");
	dict_close(d);
}

static void test_unbrace(void **state)
{
	char *s;

	(void)state;
	s = dict_unbrace("{ a b }", 7);
	assert_string_equal(s, "a b");
	free(s);
	s = dict_unbrace("plain", 5);
	assert_string_equal(s, "plain");
	free(s);
	s = dict_unbrace("{}", 2);
	assert_string_equal(s, "");
	free(s);
	s = dict_unbrace("{ \t }", 5);
	assert_string_equal(s, "");
	free(s);
	assert_null(dict_unbrace("{", 1));
	assert_null(dict_unbrace("{a} ", 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_specs),
		cmocka_unit_test(test_inline),
		cmocka_unit_test(test_inline_nofold),
		cmocka_unit_test(test_inline_errors),
		cmocka_unit_test(test_static),
		cmocka_unit_test(test_texthash),
		cmocka_unit_test(test_texthash_edges),
		cmocka_unit_test(test_texthash_missing),
		cmocka_unit_test(test_register),
		cmocka_unit_test(test_mem_table),
		cmocka_unit_test(test_unbrace),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
