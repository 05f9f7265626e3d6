/* test_alias - unit tests for lib/alias.c: the aliases(5) parser (names,
 * quoted names, continuation lines, comments, every kind of value, bad
 * lines as errors with their line numbers, duplicates as warnings keeping
 * the first) and the value splitter local(8) uses (commas inside quotes,
 * unquoting of whole items, empty items, unclosed quotes), with the kind
 * of each item.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alias.h"
#include "mem.h"
#include "vstr.h"

/* write_file - text into a new temporary file; returns its path */
static char *write_file(const char *text)
{
	char tmpl[] = "/tmp/test_alias.XXXXXX";
	int fd = mkstemp(tmpl);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return xstrdup(tmpl);
}

/* collect - "LINE:name=value\n" for each entry */
static void collect(void *ctx, const char *name, const char *value, int line)
{
	vstr_catf(ctx, "%d:%s=%s\n", line, name, value);
}

/* parse - entries of text as collect writes them; problems into dl */
static char *parse(const char *text, struct diaglist *dl)
{
	char *path = write_file(text), *err = NULL;
	vstr out = VSTR_INIT;

	if (alias_parse_file(path, collect, &out, dl, &err) < 0)
		fail_msg("alias_parse_file: %s", err);
	unlink(path);
	free(path);
	return out.buf ? vstr_steal(&out) : xstrdup("");
}

/* diag_text - "SEVERITY LINE text\n" for each problem */
static char *diag_text(const struct diaglist *dl)
{
	vstr out = VSTR_INIT;

	for (size_t i = 0; i < dl->n; i++)
		vstr_catf(&out, "%c %d %s\n", dl->v[i].severity == DIAG_ERROR ? 'E' : 'W',
			  dl->v[i].line, dl->v[i].text);
	return out.buf ? vstr_steal(&out) : xstrdup("");
}

static const char good[] =
    "# The system aliases\n"
    "\n"
    "postmaster: root\n"
    "root:\talice, bob@example.com\n"
    "team : alice,\n"
    "  bob,\n"
    "\n"
    "# a comment inside the continued entry\n"
    "\tcarol\n"
    "\"with space\": alice\n"
    "\"odd:name\\\"q\": bob\n"
    "log: /var/log/mail.copy\n"
    "box: /home/alice/Maildir/\n"
    "prog: \"|/usr/bin/procmail -a x, y\", |/bin/cat\n"
    "list: :include:/etc/mail/list.txt\n"
    "MixedCase: Root\n"
    "tabs:\t\tx  \t\n";

static void test_parse_good(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;
	char *got = parse(good, &dl);

	(void)state;
	assert_string_equal(got,
			    "3:postmaster=root\n"
			    "4:root=alice, bob@example.com\n"
			    "5:team=alice,  bob,\tcarol\n"
			    "10:with space=alice\n"
			    "11:odd:name\"q=bob\n"
			    "12:log=/var/log/mail.copy\n"
			    "13:box=/home/alice/Maildir/\n"
			    "14:prog=\"|/usr/bin/procmail -a x, y\", |/bin/cat\n"
			    "15:list=:include:/etc/mail/list.txt\n"
			    "16:MixedCase=Root\n"
			    "17:tabs=x\n");
	assert_int_equal(dl.n, 0);
	free(got);
}

static const char bad[] =
    "  starts with space: x\n"		/* 1: continuation of nothing */
    "good: one\n"			/* 2 */
    "no colon here\n"			/* 3 */
    "empty:\n"				/* 4 */
    "two words: x\n"			/* 5 */
    "\"unclosed: x\n"			/* 6 */
    "\"quoted\" junk: x\n"		/* 7 */
    "openquote: \"a, b\n"		/* 8 */
    "cmd: |\n"				/* 9 */
    "inc: :include:relative\n"		/* 10 */
    ": novalue\n"			/* 11 */
    "GOOD: two\n"			/* 12: duplicate of line 2 */
    "commas: , ,\n"			/* 13 */
    "last: fine\n";			/* 14 */

static void test_parse_bad_lines(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;
	char *got = parse(bad, &dl), *diags = diag_text(&dl);

	(void)state;
	assert_string_equal(got, "2:good=one\n14:last=fine\n");
	assert_string_equal(diags,
			    "E 1 logical line must not start with white space; line skipped\n"
			    "E 3 expected format: name: value; line skipped\n"
			    "E 4 empty alias value; line skipped\n"
			    "E 5 white space or '\"' in an unquoted alias name; line skipped\n"
			    "E 6 missing closing quote in alias name; line skipped\n"
			    "E 7 expected format: name: value; line skipped\n"
			    "E 8 missing closing quote in alias value; line skipped\n"
			    "E 9 empty |command; line skipped\n"
			    "E 10 :include: needs an absolute path; line skipped\n"
			    "E 11 empty alias name; line skipped\n"
			    "W 12 duplicate entry: \"GOOD\"; keeping the first\n"
			    "E 13 no destination in alias value; line skipped\n");
	assert_int_equal(diag_errors(&dl), 11);
	for (size_t i = 0; i < dl.n; i++)
		assert_non_null(strstr(dl.v[i].file, "/tmp/test_alias."));
	diag_clear(&dl);
	free(got);
	free(diags);
}

static void test_parse_missing_file(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;
	vstr out = VSTR_INIT;
	char *err = NULL;

	(void)state;
	assert_int_equal(alias_parse_file("/nonexistent/aliases", collect, &out, &dl, &err), -1);
	assert_non_null(strstr(err, "/nonexistent/aliases"));
	assert_non_null(strstr(err, "No such file or directory"));
	free(err);
}

/* split - the items of value joined with '|' between brackets */
static char *split(const char *value, int want_ret)
{
	struct argv items = ARGV_INIT;
	vstr out = VSTR_INIT;

	assert_int_equal(alias_value_split(value, &items), want_ret);
	for (size_t i = 0; i < items.n; i++)
		vstr_catf(&out, "[%s]", items.v[i]);
	argv_free(&items);
	return out.buf ? vstr_steal(&out) : xstrdup("");
}

static void assert_split(const char *value, const char *want)
{
	char *got = split(value, 0);

	if (strcmp(got, want) != 0)
		fail_msg("split(%s) = %s, want %s", value, got, want);
	free(got);
}

static void test_value_split(void **state)
{
	char *got;

	(void)state;
	assert_split("alice", "[alice]");
	assert_split("a, b,c ,\td", "[a][b][c][d]");
	assert_split(",, a ,, ", "[a]");
	assert_split("", "");
	assert_split("\"|/usr/bin/procmail -a x, y\", |/bin/cat",
		     "[|/usr/bin/procmail -a x, y][|/bin/cat]");
	assert_split("\"/path/with, comma\"", "[/path/with, comma]");
	assert_split("\"a\\\"b\"", "[a\"b]");
	/* quotes that are part of an address stay */
	assert_split("\"john smith\"@example.com, x", "[\"john smith\"@example.com][x]");
	assert_split("|cmd \"quoted, arg\" tail", "[|cmd \"quoted, arg\" tail]");
	assert_split("a\\,b, c", "[a\\,b][c]");
	assert_split("alice,  bob,\tcarol", "[alice][bob][carol]");
	/* an unclosed quote runs to the end, and says so */
	got = split("a, \"b, c", -1);
	assert_string_equal(got, "[a][\"b, c]");
	free(got);
}

static void test_item_kind(void **state)
{
	(void)state;
	assert_int_equal(alias_item_kind("alice"), ALIAS_ADDRESS);
	assert_int_equal(alias_item_kind("bob@example.com"), ALIAS_ADDRESS);
	assert_int_equal(alias_item_kind("/var/mail/x"), ALIAS_FILE);
	assert_int_equal(alias_item_kind("/home/a/Maildir/"), ALIAS_FILE);
	assert_int_equal(alias_item_kind("|/bin/cat"), ALIAS_COMMAND);
	assert_int_equal(alias_item_kind(":include:/etc/list"), ALIAS_INCLUDE);
	assert_int_equal(alias_item_kind(":INCLUDE:/etc/list"), ALIAS_INCLUDE);
	assert_int_equal(alias_item_kind(":includes"), ALIAS_ADDRESS);
	assert_string_equal(alias_include_path(":include:/etc/list"), "/etc/list");
	assert_string_equal(alias_include_path(":Include:  /etc/list"), "/etc/list");
	assert_null(alias_include_path("alice"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad_lines),
		cmocka_unit_test(test_parse_missing_file),
		cmocka_unit_test(test_value_split),
		cmocka_unit_test(test_item_kind),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
