/* test_mastercf - unit tests for lib/mastercf.c: every column with its
 * "-" default, wakeup and maxproc forms, -o in both forms, { } arguments,
 * continuation and comment lines, each bad-line diagnostic with its line
 * number, and the replacement of duplicate services. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mastercf.h"

/* parse - text as "master.cf" into a fresh m; dl gets the diagnostics */
static void parse(const char *text, struct mcf *m, struct diaglist *dl)
{
	assert_int_equal(mcf_parse_string(text, "master.cf", m, dl), 0);
}

/* parse_one - text must give exactly one entry and no diagnostics */
static void parse_one(const char *text, struct mcf *m)
{
	struct diaglist dl = DIAGLIST_INIT;

	parse(text, m, &dl);
	for (size_t i = 0; i < dl.n; i++)
		print_message("unexpected: line %d: %s\n", dl.v[i].line, dl.v[i].text);
	assert_int_equal(dl.n, 0);
	assert_int_equal(m->n, 1);
	diag_clear(&dl);
}

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

/* assert_one_error - text gives no entry and one error at line with s */
static void assert_one_error(const char *text, int line, const char *s)
{
	struct mcf m = MCF_INIT;
	struct diaglist dl = DIAGLIST_INIT;

	parse(text, &m, &dl);
	if (dl.n != 1 || dl.v[0].severity != DIAG_ERROR || dl.v[0].line != line
	    || strstr(dl.v[0].text, s) == NULL) {
		for (size_t i = 0; i < dl.n; i++)
			print_message("have: line %d: %s\n", dl.v[i].line, dl.v[i].text);
		fail_msg("%s: want one error at line %d with \"%s\"", text, line, s);
	}
	assert_string_equal(dl.v[0].file, "master.cf");
	assert_int_equal(m.n, 0);
	mcf_free(&m);
	diag_clear(&dl);
}

/* --------------------------------------------------------------- columns */

static void test_every_column(void **state)
{
	struct mcf m = MCF_INIT;
	const struct mcf_entry *e;

	(void)state;
	parse_one("smtp      inet  n       n       y       60      10      smtpd -v\n", &m);
	e = &m.v[0];
	assert_string_equal(e->name, "smtp");
	assert_int_equal(e->type, MCF_INET);
	assert_int_equal(e->private_, 0);
	assert_int_equal(e->unpriv, 0);
	assert_int_equal(e->chroot, 1);
	assert_int_equal(e->wakeup, 60);
	assert_int_equal(e->wakeup_after_use, 0);
	assert_int_equal(e->maxproc, 10);
	assert_argv(&e->args, (const char *const[]){"smtpd", "-v", NULL});
	assert_int_equal(e->overrides.n, 0);
	assert_string_equal(e->file, "master.cf");
	assert_int_equal(e->line, 1);
	mcf_free(&m);
	assert_int_equal(m.n, 0);
	assert_null(m.v);
}

static void test_dash_defaults(void **state)
{
	struct mcf m = MCF_INIT;
	const struct mcf_entry *e;

	(void)state;
	parse_one("cleanup unix - - - - - cleanup\n", &m);
	e = &m.v[0];
	assert_int_equal(e->type, MCF_UNIX);
	assert_int_equal(e->private_, 1);
	assert_int_equal(e->unpriv, 1);
	assert_int_equal(e->chroot, 0);
	assert_int_equal(e->wakeup, 0);
	assert_int_equal(e->wakeup_after_use, 0);
	assert_int_equal(e->maxproc, -1);
	mcf_free(&m);

	/* inet services are never private. */
	parse_one("2525 inet - - - - - smtpd\n", &m);
	assert_int_equal(m.v[0].private_, 0);
	mcf_free(&m);

	/* Explicit y and n. */
	parse_one("local unix n y n - - local\n", &m);
	assert_int_equal(m.v[0].private_, 0);
	assert_int_equal(m.v[0].unpriv, 1);
	assert_int_equal(m.v[0].chroot, 0);
	mcf_free(&m);
	parse_one("local unix y n y - - local\n", &m);
	assert_int_equal(m.v[0].private_, 1);
	assert_int_equal(m.v[0].unpriv, 0);
	assert_int_equal(m.v[0].chroot, 1);
	mcf_free(&m);
}

static void test_all_types(void **state)
{
	static const struct {
		const char *line;
		enum mcf_type type;
	} cases[] = {
		{"s inet n - - - - cmd", MCF_INET},
		{"s unix - - - - - cmd", MCF_UNIX},
		{"s unix-dgram - - - - - cmd", MCF_UNIX_DGRAM},
		{"s fifo - - - 60 1 cmd", MCF_FIFO},
		{"s pass - - - - - cmd", MCF_PASS},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mcf m = MCF_INIT;

		parse_one(cases[i].line, &m);
		assert_int_equal(m.v[0].type, cases[i].type);
		mcf_free(&m);
	}
}

static void test_wakeup_forms(void **state)
{
	struct mcf m = MCF_INIT;

	(void)state;
	parse_one("pickup unix n - n 60 1 pickup\n", &m);
	assert_int_equal(m.v[0].wakeup, 60);
	assert_int_equal(m.v[0].wakeup_after_use, 0);
	mcf_free(&m);
	parse_one("flush unix n - n 1000? 0 flush\n", &m);
	assert_int_equal(m.v[0].wakeup, 1000);
	assert_int_equal(m.v[0].wakeup_after_use, 1);
	mcf_free(&m);
	parse_one("x unix n - n 0 0 x\n", &m);
	assert_int_equal(m.v[0].wakeup, 0);
	mcf_free(&m);
	/* "0?" is no wakeup at all. */
	parse_one("x unix n - n 0? 0 x\n", &m);
	assert_int_equal(m.v[0].wakeup, 0);
	assert_int_equal(m.v[0].wakeup_after_use, 0);
	mcf_free(&m);
	/* Wakeup works for inet and fifo services too. */
	parse_one("25 inet n - n 300 1 x\n", &m);
	assert_int_equal(m.v[0].wakeup, 300);
	mcf_free(&m);
}

static void test_maxproc_forms(void **state)
{
	struct mcf m = MCF_INIT;

	(void)state;
	parse_one("cleanup unix n - n - 0 cleanup\n", &m);
	assert_int_equal(m.v[0].maxproc, 0);
	mcf_free(&m);
	parse_one("qmgr unix n - n 300 1 qmgr\n", &m);
	assert_int_equal(m.v[0].maxproc, 1);
	mcf_free(&m);
	parse_one("smtp unix - - n - - smtp\n", &m);
	assert_int_equal(m.v[0].maxproc, -1);
	mcf_free(&m);
}

static void test_inet_names(void **state)
{
	static const char *const good[] = {
		"25", "65535", "smtp", "submission", "x-y-z1",
		"127.0.0.1:2525", "localhost:smtp", "[::1]:25", "[2001:db8::1]:submission",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct mcf m = MCF_INIT;
		char line[128];

		snprintf(line, sizeof(line), "%s inet n - n - - smtpd", good[i]);
		parse_one(line, &m);
		assert_string_equal(m.v[0].name, good[i]);
		mcf_free(&m);
	}
}

/* ----------------------------------------------------- command and args */

static void test_overrides_both_forms(void **state)
{
	struct mcf m = MCF_INIT;
	const struct mcf_entry *e;

	(void)state;
	parse_one("submission inet n - n - - smtpd\n"
		  "  -o syslog_name=postern/submission\n"
		  "  -o { smtpd_banner = hello   world  }\n"
		  "  -o empty=\n"
		  "  -oattached=1 -vo bundled=2\n", &m);
	e = &m.v[0];
	assert_argv(&e->overrides, (const char *const[]){
		"syslog_name=postern/submission", "smtpd_banner=hello   world",
		"empty=", "attached=1", "bundled=2", NULL});
	/* The arguments keep the -o options, braces removed. */
	assert_argv(&e->args, (const char *const[]){
		"smtpd", "-o", "syslog_name=postern/submission", "-o",
		"smtpd_banner = hello   world", "-o", "empty=", "-oattached=1", "-vo",
		"bundled=2", NULL});
	mcf_free(&m);
}

static void test_overrides_only_among_options(void **state)
{
	struct mcf m = MCF_INIT;

	(void)state;
	/* pipe's own arguments are not daemon options. */
	parse_one("filter unix - n n - 10 pipe flags=Rq user=f\n"
		  "  argv=/usr/bin/filter -o notours=1\n", &m);
	assert_int_equal(m.v[0].overrides.n, 0);
	assert_int_equal(m.v[0].args.n, 6);
	mcf_free(&m);
	/* A value option's value is not the end of the options. */
	parse_one("x unix - - - - - x -n name -t unix -o a=b -- -o c=d\n", &m);
	assert_argv(&m.v[0].overrides, (const char *const[]){"a=b", NULL});
	mcf_free(&m);
	parse_one("x unix - - - - - x -v -o a=b plain -o c=d\n", &m);
	assert_argv(&m.v[0].overrides, (const char *const[]){"a=b", NULL});
	mcf_free(&m);
}

static void test_brace_arguments(void **state)
{
	struct mcf m = MCF_INIT;

	(void)state;
	parse_one("x unix - n n - - pipe flags=q { argv=/bin/x -a } {} {  two  words }\n", &m);
	assert_argv(&m.v[0].args, (const char *const[]){
		"pipe", "flags=q", "argv=/bin/x -a", "", "two  words", NULL});
	mcf_free(&m);
}

static void test_continuations_and_comments(void **state)
{
	struct mcf m = MCF_INIT;
	struct diaglist dl = DIAGLIST_INIT;

	(void)state;
	parse("# ==========================================================\n"
	      "# service type  private unpriv  chroot  wakeup  maxproc command\n"
	      "\n"
	      "smtp      inet  n       -       n       -       -       smtpd\n"
	      "  # a comment inside an entry does not end it\n"
	      "\n"
	      "    -o smtpd_x=1\n"
	      "#pickup    unix  n       -       n       60      1       pickup\n"
	      "pickup    unix  n       -       n       60      1       pickup\n"
	      "\t-o a=b", &m, &dl);
	assert_int_equal(dl.n, 0);
	assert_int_equal(m.n, 2);
	assert_string_equal(m.v[0].name, "smtp");
	assert_int_equal(m.v[0].line, 4);
	assert_argv(&m.v[0].overrides, (const char *const[]){"smtpd_x=1", NULL});
	assert_string_equal(m.v[1].name, "pickup");
	assert_int_equal(m.v[1].line, 9);
	assert_argv(&m.v[1].args, (const char *const[]){"pickup", "-o", "a=b", NULL});
	mcf_free(&m);
}

/* ------------------------------------------------------------- bad lines */

static void test_bad_lines(void **state)
{
	(void)state;
	assert_one_error("x foo - - - - - cmd", 1, "unknown service type \"foo\"");
	assert_one_error("x unix x - - - - cmd", 1, "bad private field \"x\"");
	assert_one_error("x unix - yes - - - cmd", 1, "bad unpriv field \"yes\"");
	assert_one_error("x unix - - Y - - cmd", 1, "bad chroot field \"Y\"");
	assert_one_error("25 inet y - - - - smtpd", 1, "inet service cannot be private");
	assert_one_error("x unix - - - x - cmd", 1, "bad wakeup time \"x\"");
	assert_one_error("x unix - - - ? - cmd", 1, "bad wakeup time");
	assert_one_error("x unix - - - -1 - cmd", 1, "bad wakeup time");
	assert_one_error("x unix - - - 99999999999 - cmd", 1, "bad wakeup time");
	assert_one_error("x unix-dgram - - - 60 - cmd", 1, "wakeup time is not supported");
	assert_one_error("x pass - - - 60? - cmd", 1, "wakeup time is not supported");
	assert_one_error("x unix - - - - many cmd", 1, "bad maxproc \"many\"");
	assert_one_error("x unix - - - - -1 cmd", 1, "bad maxproc");
	assert_one_error("x unix - - - - -", 1, "missing command");
	assert_one_error("x unix", 1, "missing command");
	assert_one_error("x", 1, "missing command");
	assert_one_error("x unix - - - - - {}", 1, "missing command");
	assert_one_error("x unix - - - - - cmd -o", 1, "-o at the end");
	assert_one_error("x unix - - - - - cmd -o novalue", 1, "bad -o argument \"novalue\"");
	assert_one_error("x unix - - - - - cmd -o =v", 1, "bad -o argument");
	assert_one_error("x unix - - - - - cmd -o bad-name=v", 1, "bad -o argument");
	assert_one_error("x unix - - - - - cmd -o { a b = c }", 1, "bad -o argument");
	assert_one_error("x unix - - - - - cmd -o { a=b", 1, "missing '}'");
	assert_one_error("x unix - - - - - cmd a}", 1, "unbalanced '}'");
	assert_one_error("a/b unix - - - - - cmd", 1, "bad unix service name \"a/b\"");
	assert_one_error("a..b fifo - - - - - cmd", 1, "bad fifo service name");
	assert_one_error("0 inet n - - - - cmd", 1, "bad port \"0\"");
	assert_one_error("65536 inet n - - - - cmd", 1, "bad port");
	assert_one_error("host: inet n - - - - cmd", 1, "bad port");
	assert_one_error("sm_tp inet n - - - - cmd", 1, "bad port");
	assert_one_error(":25 inet n - - - - cmd", 1, "bad inet service");
	assert_one_error("::1:25 inet n - - - - cmd", 1, "bad inet service");
	assert_one_error("[::1]25 inet n - - - - cmd", 1, "bad inet service");
	assert_one_error("[]:25 inet n - - - - cmd", 1, "bad inet service");
	assert_one_error("  x unix - - - - - cmd", 1, "continuation line");
}

static void test_bad_lines_numbered_and_skipped(void **state)
{
	struct mcf m = MCF_INIT;
	struct diaglist dl = DIAGLIST_INIT;

	(void)state;
	parse("# comment\n"
	      "good1 unix - - - - - a\n"
	      "bad1 nope - - - - - a\n"
	      "   -o still=bad1\n"
	      "\n"
	      "good2 unix - - - - - b\n"
	      "bad2 unix - - - - x b\n"
	      "bad3 unix - - - - -\n"
	      "good3 unix - - - - - c\n"
	      "  -o x=y", &m, &dl);
	assert_int_equal(dl.n, 3);
	assert_int_equal(diag_errors(&dl), 3);
	assert_int_equal(dl.v[0].line, 3);
	assert_non_null(strstr(dl.v[0].text, "unknown service type"));
	assert_int_equal(dl.v[1].line, 7);
	assert_non_null(strstr(dl.v[1].text, "bad maxproc"));
	assert_int_equal(dl.v[2].line, 8);
	assert_non_null(strstr(dl.v[2].text, "missing command"));
	assert_int_equal(m.n, 3);
	assert_string_equal(m.v[0].name, "good1");
	assert_string_equal(m.v[1].name, "good2");
	assert_string_equal(m.v[2].name, "good3");
	assert_int_equal(m.v[2].line, 9);
	mcf_free(&m);
	diag_clear(&dl);
}

/* ------------------------------------------------------------ duplicates */

static void test_duplicate_replaces(void **state)
{
	struct mcf m = MCF_INIT;
	struct diaglist dl = DIAGLIST_INIT;

	(void)state;
	parse("smtp inet n - n - - smtpd -o first=1\n"
	      "smtp unix - - n - - smtp\n"
	      "other unix - - n - - other\n"
	      "smtp inet n - n - 5 smtpd -o second=2\n", &m, &dl);
	assert_int_equal(dl.n, 1);
	assert_int_equal(dl.v[0].severity, DIAG_WARNING);
	assert_int_equal(dl.v[0].line, 4);
	assert_non_null(strstr(dl.v[0].text, "duplicate service smtp/inet"));
	/* Same name, other type: a different service. */
	assert_int_equal(m.n, 3);
	assert_int_equal(m.v[0].type, MCF_INET);
	assert_int_equal(m.v[0].maxproc, 5);
	assert_int_equal(m.v[0].line, 4);
	assert_argv(&m.v[0].overrides, (const char *const[]){"second=2", NULL});
	assert_int_equal(m.v[1].type, MCF_UNIX);
	assert_string_equal(m.v[2].name, "other");
	mcf_free(&m);
	diag_clear(&dl);
}

static void test_parse_appends_across_calls(void **state)
{
	struct mcf m = MCF_INIT;
	struct diaglist dl = DIAGLIST_INIT;

	(void)state;
	parse("a unix - - - - - a\n", &m, &dl);
	assert_int_equal(mcf_parse_string("b unix - - - - - b\na unix - - - - 3 a\n",
					  "other.cf", &m, &dl), 0);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.v[0].maxproc, 3);
	assert_string_equal(m.v[0].file, "other.cf");
	assert_int_equal(dl.n, 1);
	mcf_free(&m);
	diag_clear(&dl);
	/* A NULL diagnostic list is allowed. */
	assert_int_equal(mcf_parse_string("bad\na unix - - - - - a\na unix - - - - - a\n",
					  "x", &m, NULL), 0);
	assert_int_equal(m.n, 1);
	mcf_free(&m);
}

/* ------------------------------------------------------------- the rest */

static void test_parse_file(void **state)
{
	char path[] = "/tmp/test_mastercf.XXXXXX";
	struct mcf m = MCF_INIT;
	struct diaglist dl = DIAGLIST_INIT;
	int fd = mkstemp(path);
	const char *text = "a unix - - - - - a\nb nope - - - - - b\n";

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(mcf_parse_file(path, &m, &dl), 0);
	assert_int_equal(m.n, 1);
	assert_string_equal(m.v[0].file, path);
	assert_int_equal(dl.n, 1);
	assert_string_equal(dl.v[0].file, path);
	assert_int_equal(dl.v[0].line, 2);
	mcf_free(&m);
	diag_clear(&dl);
	unlink(path);
	errno = 0;
	assert_int_equal(mcf_parse_file(path, &m, &dl), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(m.n, 0);
}

static void test_types_and_ids(void **state)
{
	static const char *const names[] = {"inet", "unix", "unix-dgram", "fifo", "pass"};
	struct mcf m = MCF_INIT;
	enum mcf_type t;
	char *id;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(mcf_type_parse(names[i], &t), 0);
		assert_string_equal(mcf_type_name(t), names[i]);
	}
	assert_int_equal(mcf_type_parse("Unix", &t), -1);
	assert_int_equal(mcf_type_parse("", &t), -1);
	parse_one("127.0.0.1:25 inet n - n - - smtpd", &m);
	id = mcf_entry_id(&m.v[0]);
	assert_string_equal(id, "127.0.0.1:25/inet");
	free(id);
	mcf_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_column),
		cmocka_unit_test(test_dash_defaults),
		cmocka_unit_test(test_all_types),
		cmocka_unit_test(test_wakeup_forms),
		cmocka_unit_test(test_maxproc_forms),
		cmocka_unit_test(test_inet_names),
		cmocka_unit_test(test_overrides_both_forms),
		cmocka_unit_test(test_overrides_only_among_options),
		cmocka_unit_test(test_brace_arguments),
		cmocka_unit_test(test_continuations_and_comments),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_bad_lines_numbered_and_skipped),
		cmocka_unit_test(test_duplicate_replaces),
		cmocka_unit_test(test_parse_appends_across_calls),
		cmocka_unit_test(test_parse_file),
		cmocka_unit_test(test_types_and_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
