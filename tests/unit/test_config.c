/* test_config - unit tests for lib/config.c and lib/params.c: main.cf
 * syntax (continuations, comments, bad lines), unknown-name warnings,
 * every expansion form and its loops, overrides, typed getters, validation,
 * conf_edit_file, and the parameter table's defaults. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "vstr.h"

/* ---------------------------------------------------------------- helpers */

/* find_diag - the diagnostic at line (0 = any) whose text holds s */
static const struct diag *find_diag(const struct diaglist *dl, enum diag_severity sev,
				    int line, const char *s)
{
	for (size_t i = 0; i < dl->n; i++)
		if (dl->v[i].severity == sev && (line == 0 || dl->v[i].line == line)
		    && strstr(dl->v[i].text, s))
			return &dl->v[i];
	return NULL;
}

static void assert_diag(const struct diaglist *dl, enum diag_severity sev, int line,
			const char *s)
{
	const struct diag *d = find_diag(dl, sev, line, s);

	if (d == NULL) {
		for (size_t i = 0; i < dl->n; i++)
			print_message("have: %d line %d: %s\n", dl->v[i].severity,
				      dl->v[i].line, dl->v[i].text);
		fail_msg("no diagnostic at line %d containing \"%s\"", line, s);
	}
}

/* load - loads text as "main.cf"; expects no errors (tests that use
 * names of their own get unknown-name warnings, checked elsewhere) */
static void load(const char *text)
{
	struct diaglist dl = DIAGLIST_INIT;

	assert_int_equal(conf_load_string(text, "main.cf", &dl), 0);
	for (size_t i = 0; i < dl.n; i++)
		if (dl.v[i].severity == DIAG_ERROR)
			print_message("unexpected: line %d: %s\n", dl.v[i].line, dl.v[i].text);
	assert_int_equal(diag_errors(&dl), 0);
	diag_clear(&dl);
}

/* expand - conf_expand of text, compared with want; no diagnostics */
static void assert_expands(const char *text, const char *want)
{
	struct diaglist dl = DIAGLIST_INIT;
	char *got = conf_expand(text, &dl);

	assert_string_equal(got, want);
	assert_int_equal(dl.n, 0);
	free(got);
}

static char tmpdir[64];

static int make_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_config.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

/* remove_tmpdir - removes tmpdir and the files in it */
static int remove_tmpdir(void **state)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char path[PATH_MAX];

	(void)state;
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
			unlink(path);
		}
	}
	closedir(d);
	conf_load_string("", "", NULL);	/* the configuration pointed there */
	return rmdir(tmpdir);
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/* read_text - the file at path (malloc'ed) */
static char *read_text(const char *path)
{
	char *text = conf_read_file(path);

	assert_non_null(text);
	return text;
}

/* count_files - entries in tmpdir other than . and .. */
static int count_files(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* child_exit_status - runs fn(name) in a child; its exit status, or -1
 * when it returned normally */
static int child_exit_status(long long (*fn)(const char *), const char *name)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 2);
		fn(name);
		_exit(100);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status) == 100 ? -1 : WEXITSTATUS(status);
}

static long long call_bool(const char *name)
{
	return conf_bool(name);
}

/* ----------------------------------------------------------------- syntax */

static void test_basic_settings(void **state)
{
	(void)state;
	load("myorigin = example.com\n"
	     "mail_owner=mailer\n"
	     "syslog_name   =   spaced out   \n"
	     "maillog_file =\n");
	assert_string_equal(conf_raw("myorigin"), "example.com");
	assert_string_equal(conf_raw("mail_owner"), "mailer");
	assert_string_equal(conf_raw("syslog_name"), "spaced out");
	assert_string_equal(conf_raw("maillog_file"), "");
	assert_int_equal(conf_raw_line("mail_owner"), 2);
	assert_null(conf_raw("queue_directory"));
	assert_int_equal(conf_raw_line("queue_directory"), 0);
}

static void test_continuation_lines(void **state)
{
	(void)state;
	load("mydestination = a,\n"
	     "    b,\n"
	     "\tc\n"
	     "myorigin = x\n");
	assert_string_equal(conf_raw("mydestination"), "a, b, c");
	assert_int_equal(conf_raw_line("mydestination"), 1);
	assert_int_equal(conf_raw_line("myorigin"), 4);
}

static void test_comments_and_blank_lines(void **state)
{
	(void)state;
	load("# a comment\n"
	     "\n"
	     "mydestination = a,\n"
	     "    # an indented comment is a comment, not a continuation\n"
	     "\n"
	     "  b\n"
	     "   \t \n"
	     "#myorigin = commented.out\n"
	     "mail_owner = x # not a comment\n"
	     "syslog_name = a#b\n");
	/* Comment and blank lines neither end nor join a logical line. */
	assert_string_equal(conf_raw("mydestination"), "a, b");
	assert_null(conf_raw("myorigin"));
	assert_string_equal(conf_raw("mail_owner"), "x # not a comment");
	assert_string_equal(conf_raw("syslog_name"), "a#b");
	assert_int_equal(conf_raw_line("mail_owner"), 9);
}

static void test_later_setting_wins(void **state)
{
	(void)state;
	load("myorigin = first\n"
	     "mail_owner = x\n"
	     "myorigin = second\n");
	assert_string_equal(conf_raw("myorigin"), "second");
	assert_int_equal(conf_raw_line("myorigin"), 3);
	assert_string_equal(conf_str("myorigin"), "second");
}

static void test_no_final_newline_and_crlf(void **state)
{
	(void)state;
	load("mail_owner = a\r\nmyorigin = b");
	assert_string_equal(conf_raw("mail_owner"), "a");
	assert_string_equal(conf_raw("myorigin"), "b");
}

static void test_bad_lines_reported(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;

	(void)state;
	assert_int_equal(conf_load_string("  orphan = continuation\n"
					  "mail_owner = ok\n"
					  "no equals sign here\n"
					  "\n"
					  "bad-name = x\n"
					  "= nothing\n"
					  "myorigin = fine\n", "/etc/x/main.cf", &dl), 0);
	assert_int_equal(diag_errors(&dl), 4);
	assert_diag(&dl, DIAG_ERROR, 1, "continuation line");
	assert_diag(&dl, DIAG_ERROR, 3, "bad parameter syntax: no equals sign here");
	assert_diag(&dl, DIAG_ERROR, 5, "bad parameter syntax: bad-name = x");
	assert_diag(&dl, DIAG_ERROR, 6, "bad parameter syntax");
	assert_string_equal(dl.v[0].file, "/etc/x/main.cf");
	/* The good lines around them still count. */
	assert_string_equal(conf_raw("mail_owner"), "ok");
	assert_string_equal(conf_raw("myorigin"), "fine");
	diag_clear(&dl);
}

static void test_bad_line_with_continuation_is_one_error(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;

	(void)state;
	conf_load_string("mail_owner = ok\nbroken\n  still broken\nmyorigin = y\n",
			 "main.cf", &dl);
	assert_int_equal(dl.n, 1);
	assert_diag(&dl, DIAG_ERROR, 2, "broken still broken");
	diag_clear(&dl);
}

static void test_unknown_names_warned(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;

	(void)state;
	conf_load_string("mail_owner = x\n"
			 "\n"
			 "no_such_parameter = 1\n"
			 "myorigin = y\n", "main.cf", &dl);
	assert_int_equal(dl.n, 1);
	assert_int_equal(diag_errors(&dl), 0);
	assert_diag(&dl, DIAG_WARNING, 3, "unknown parameter \"no_such_parameter\"");
	diag_clear(&dl);
}

static void test_user_defined_variables_not_warned(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;

	(void)state;
	/* Referenced in all three forms, before or after their definition. */
	conf_load_string("myorigin = $plain.${braced}.$(paren)\n"
			 "plain = p\n"
			 "braced = b\n"
			 "paren = q\n"
			 "tested = t\n"
			 "mail_owner = ${tested?{x}}\n"
			 "unused = u\n", "main.cf", &dl);
	assert_int_equal(dl.n, 1);
	assert_diag(&dl, DIAG_WARNING, 7, "unknown parameter \"unused\"");
	assert_string_equal(conf_str("myorigin"), "p.b.q");
	diag_clear(&dl);
}

static void test_dollar_dollar_is_not_a_reference(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;

	(void)state;
	conf_load_string("myorigin = $$literal\nliteral = x\n", "main.cf", &dl);
	assert_diag(&dl, DIAG_WARNING, 2, "unknown parameter \"literal\"");
	diag_clear(&dl);
}

/* -------------------------------------------------------------- expansion */

static void test_expand_simple_forms(void **state)
{
	(void)state;
	load("a = A\nb = B\nab = [$a$b]\n");
	assert_expands("$a", "A");
	assert_expands("${a}", "A");
	assert_expands("$(a)", "A");
	assert_expands("x$a.${b}-$(a)y", "xA.B-Ay");
	/* A name ends at the first byte that is not [A-Za-z0-9_]. */
	assert_expands("$a-$b.", "A-B.");
	assert_expands("$ab", "[AB]");
	assert_string_equal(conf_str("ab"), "[AB]");
	/* Undefined names expand to nothing. */
	assert_expands("<$undefined_name>", "<>");
	assert_expands("<${undefined_name}>", "<>");
}

static void test_expand_literal_dollars(void **state)
{
	(void)state;
	load("a = A\n");
	assert_expands("$$", "$");
	assert_expands("$$a", "$a");
	assert_expands("$$$a", "$A");
	assert_expands("cost: 5$", "cost: 5$");
	assert_expands("$ a", "$ a");
	assert_expands("$-x $.", "$-x $.");
	assert_expands("", "");
}

static void test_expand_conditionals(void **state)
{
	(void)state;
	load("set = yes\nempty =\nname = N\n");
	assert_expands("${set?text}", "text");
	assert_expands("${empty?text}", "");
	assert_expands("${unset?text}", "");
	assert_expands("${set:text}", "");
	assert_expands("${empty:text}", "text");
	assert_expands("${unset:text}", "text");
	assert_expands("$(set?paren)", "paren");
	/* The text is expanded too. */
	assert_expands("${set?[$name]}", "[N]");
	assert_expands("${set?${name?{$name$name}}}", "NN");
	/* Brace forms. */
	assert_expands("${set?{with braces}}", "with braces");
	assert_expands("${empty?{with braces}}", "");
	assert_expands("${set:{with braces}}", "");
	assert_expands("${empty:{with braces}}", "with braces");
	assert_expands("${set?{a}:{b}}", "a");
	assert_expands("${empty?{a}:{b}}", "b");
	assert_expands("${unset?{a}:{b}}", "b");
	assert_expands("${set?{ $name }:{b}}s", "Ns");
	assert_expands("${empty?{a} : {$name}}", "N");
}

static void test_expand_condition_tests_expanded_value(void **state)
{
	(void)state;
	/* "indirect" is written non-empty but expands to nothing. */
	load("indirect = $empty\nempty =\n");
	assert_expands("${indirect?yes}", "");
	assert_expands("${indirect:no}", "no");
}

static void test_expand_syntax_errors(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;
	char *got;

	(void)state;
	load("a = A\n");
	got = conf_expand("x${a", &dl);
	assert_string_equal(got, "x${a");
	assert_diag(&dl, DIAG_ERROR, 0, "missing '}'");
	free(got);
	diag_clear(&dl);

	got = conf_expand("${a b} $a", &dl);
	assert_string_equal(got, "${a b} A");
	assert_diag(&dl, DIAG_ERROR, 0, "bad parameter reference");
	free(got);
	diag_clear(&dl);

	got = conf_expand("${a?{x}y}", &dl);
	assert_diag(&dl, DIAG_ERROR, 0, "bad conditional");
	free(got);
	diag_clear(&dl);
}

static void test_direct_loop_terminates(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;
	char *got;

	(void)state;
	load("myorigin = x$myorigin.y\n");
	/* conf_str logs the loop and returns what it has. */
	assert_string_equal(conf_str("myorigin"), "x.y");
	got = conf_expand("$myorigin", &dl);
	assert_string_equal(got, "x.y");
	assert_diag(&dl, DIAG_ERROR, 0, "expansion loop");
	assert_diag(&dl, DIAG_ERROR, 0, "$myorigin -> $myorigin");
	free(got);
	diag_clear(&dl);
	/* Testing itself in a conditional is a loop too; the test fails. */
	load("myorigin = ${myorigin?{yes}:{no}}\n");
	got = conf_expand("$myorigin", &dl);
	assert_string_equal(got, "no");
	assert_diag(&dl, DIAG_ERROR, 0, "expansion loop");
	free(got);
	diag_clear(&dl);
}

static void test_indirect_loop_terminates(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;

	(void)state;
	load("a = 1$b\nb = 2$c\nc = 3$a\n");
	assert_string_equal(conf_str("a"), "123");
	assert_string_equal(conf_str("b"), "231");
	assert_int_equal(conf_validate(&dl), 3);
	assert_diag(&dl, DIAG_ERROR, 1, "parameter \"a\": expansion loop: $a -> $b -> $c -> $a");
	assert_diag(&dl, DIAG_ERROR, 2, "parameter \"b\"");
	assert_diag(&dl, DIAG_ERROR, 3, "parameter \"c\"");
	diag_clear(&dl);
}

static void test_deep_chain_is_cut(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;
	vstr text = VSTR_INIT;
	char *got;

	(void)state;
	/* p0 = $p1, p1 = $p2, ..., p149 = end: deeper than the limit. */
	for (int i = 0; i < 150; i++)
		vstr_catf(&text, "p%d = $p%d\n", i, i + 1);
	vstr_cat(&text, "p150 = end\n");
	load(vstr_str(&text));
	got = conf_expand("$p0", &dl);
	assert_string_equal(got, "");
	assert_diag(&dl, DIAG_ERROR, 0, "deeper than 100");
	free(got);
	diag_clear(&dl);
	/* Within the limit it works. */
	assert_string_equal(conf_str("p60"), "end");
	vstr_release(&text);
}

static void test_exponential_expansion_is_cut(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;
	vstr text = VSTR_INIT;
	char *got;

	(void)state;
	/* Each level refers to the next one ten times: 10^20 references. */
	for (int i = 0; i < 20; i++) {
		vstr_catf(&text, "q%d = ", i);
		for (int j = 0; j < 10; j++)
			vstr_catf(&text, "$q%d", i + 1);
		vstr_cat(&text, "\n");
	}
	vstr_cat(&text, "q20 =\n");
	load(vstr_str(&text));
	got = conf_expand("$q0", &dl);
	assert_diag(&dl, DIAG_ERROR, 0, "parameter references");
	free(got);
	diag_clear(&dl);
	vstr_release(&text);
}

static void test_str_of_unknown_and_defaults(void **state)
{
	(void)state;
	load("myhostname = mail.example.com\n");
	assert_string_equal(conf_str("no_such_thing"), "");
	assert_string_equal(conf_str("mail_owner"), "postern");
	assert_string_equal(conf_str("myorigin"), "mail.example.com");
	assert_string_equal(conf_str("mydomain"), "example.com");
	assert_string_equal(conf_str("mydestination"),
			    "mail.example.com, localhost.example.com, localhost");
	assert_string_equal(conf_str("daemon_timeout"), "18000s");
}

static void test_str_is_cached_and_stable(void **state)
{
	const char *first, *second;

	(void)state;
	load("myorigin = $mail_owner.example\n");
	first = conf_str("myorigin");
	assert_ptr_equal(conf_str("myorigin"), first);
	conf_override("mail_owner", "changed");
	second = conf_str("myorigin");
	assert_string_equal(second, "changed.example");
	/* The old pointer is still readable (ASan would object otherwise). */
	assert_string_equal(first, "postern.example");
	/* So is a replaced override's raw value. */
	first = conf_raw("mail_owner");
	conf_override("mail_owner", "third");
	assert_string_equal(first, "changed");
	assert_string_equal(conf_raw("mail_owner"), "third");
}

/* -------------------------------------------------------------- overrides */

static void test_override_precedence(void **state)
{
	(void)state;
	load("mail_owner = from_file\nmyorigin = $mail_owner\n");
	assert_string_equal(conf_str("myorigin"), "from_file");
	conf_override("mail_owner", "from_override");
	assert_string_equal(conf_raw("mail_owner"), "from_override");
	assert_int_equal(conf_raw_line("mail_owner"), 0);
	assert_string_equal(conf_str("mail_owner"), "from_override");
	assert_string_equal(conf_str("myorigin"), "from_override");
	conf_override("mail_owner", "again");
	assert_string_equal(conf_str("myorigin"), "again");
	/* conf_load forgets overrides. */
	load("");
	assert_null(conf_raw("mail_owner"));
	assert_string_equal(conf_str("mail_owner"), "postern");
}

static void test_override_arg(void **state)
{
	(void)state;
	load("");
	assert_int_equal(conf_override_arg("max_use=5"), 0);
	assert_int_equal(conf_override_arg(" max_idle = 7s "), 0);
	assert_int_equal(conf_override_arg("maillog_file="), 0);
	assert_int_equal(conf_override_arg("myorigin=a=b"), 0);
	assert_string_equal(conf_raw("max_use"), "5");
	assert_string_equal(conf_raw("max_idle"), "7s");
	assert_string_equal(conf_raw("maillog_file"), "");
	assert_string_equal(conf_raw("myorigin"), "a=b");
	assert_int_equal(conf_override_arg("no_equals"), -1);
	assert_int_equal(conf_override_arg("=value"), -1);
	assert_int_equal(conf_override_arg("bad name=value"), -1);
	assert_int_equal(conf_override_arg("bad-name=value"), -1);
	assert_int_equal(conf_override_arg(""), -1);
}

static void test_set_names_in_order(void **state)
{
	(void)state;
	load("myorigin = a\nmail_owner = b\nmyorigin = c\n");
	conf_override("max_use", "3");
	conf_override("mail_owner", "d");
	conf_override("user_var", "e");
	assert_string_equal(conf_set_name(0), "myorigin");
	assert_string_equal(conf_set_name(1), "mail_owner");
	assert_string_equal(conf_set_name(2), "max_use");
	assert_string_equal(conf_set_name(3), "user_var");
	assert_null(conf_set_name(4));
	assert_null(conf_set_name(1000));
}

/* ------------------------------------------------------------ typed values */

static void test_parse_time(void **state)
{
	(void)state;
	assert_int_equal(conf_parse_time("30", 's'), 30);
	assert_int_equal(conf_parse_time("30", 'm'), 1800);
	assert_int_equal(conf_parse_time("30s", 'h'), 30);
	assert_int_equal(conf_parse_time("5m", 's'), 300);
	assert_int_equal(conf_parse_time("2h", 's'), 7200);
	assert_int_equal(conf_parse_time("1d", 's'), 86400);
	assert_int_equal(conf_parse_time("1w", 's'), 604800);
	assert_int_equal(conf_parse_time("0", 's'), 0);
	assert_int_equal(conf_parse_time("", 's'), -1);
	assert_int_equal(conf_parse_time("s", 's'), -1);
	assert_int_equal(conf_parse_time("-5", 's'), -1);
	assert_int_equal(conf_parse_time("5x", 's'), -1);
	assert_int_equal(conf_parse_time("5ss", 's'), -1);
	assert_int_equal(conf_parse_time("5 s", 's'), -1);
	assert_int_equal(conf_parse_time(" 5", 's'), -1);
	assert_int_equal(conf_parse_time("99999999999999999999", 's'), -1);
	assert_int_equal(conf_parse_time("9223372036854775807w", 's'), -1);
}

static void test_parse_bool(void **state)
{
	(void)state;
	assert_int_equal(conf_parse_bool("yes"), 1);
	assert_int_equal(conf_parse_bool("YES"), 1);
	assert_int_equal(conf_parse_bool("true"), 1);
	assert_int_equal(conf_parse_bool("on"), 1);
	assert_int_equal(conf_parse_bool("1"), 1);
	assert_int_equal(conf_parse_bool("no"), 0);
	assert_int_equal(conf_parse_bool("False"), 0);
	assert_int_equal(conf_parse_bool("off"), 0);
	assert_int_equal(conf_parse_bool("0"), 0);
	assert_int_equal(conf_parse_bool(""), -1);
	assert_int_equal(conf_parse_bool("maybe"), -1);
	assert_int_equal(conf_parse_bool("yes "), -1);
}

static void test_typed_getters(void **state)
{
	(void)state;
	load("max_use = 42\n"
	     "max_idle = 5m\n"
	     "ipc_timeout = 2h\n"
	     "trigger_timeout = 7\n"
	     "base = 30\n"
	     "daemon_timeout = ${base}0s\n"
	     "flag = yes\n"
	     "off_flag = off\n"
	     "users = $flag $off_flag\n");
	assert_int_equal(conf_int("max_use"), 42);
	assert_int_equal(conf_int("default_process_limit"), 100);
	assert_int_equal(conf_time("max_idle"), 300);
	assert_int_equal(conf_time("ipc_timeout"), 7200);
	assert_int_equal(conf_time("trigger_timeout"), 7);
	assert_int_equal(conf_time("daemon_timeout"), 300);
	assert_int_equal(conf_time("service_throttle_time"), 60);
	assert_int_equal(conf_bool("flag"), 1);
	assert_int_equal(conf_bool("off_flag"), 0);
}

static long long call_int(const char *name)
{
	return conf_int(name);
}

static long long call_time(const char *name)
{
	return conf_time(name);
}

static void test_bad_values_are_fatal(void **state)
{
	(void)state;
	load("max_use = lots\n"
	     "default_process_limit = 100001\n"
	     "max_idle = 10x\n"
	     "trigger_timeout = 0\n"
	     "flag = maybe\n"
	     "good = 1\n");
	assert_int_equal(child_exit_status(call_int, "max_use"), 1);
	assert_int_equal(child_exit_status(call_int, "default_process_limit"), 1);
	assert_int_equal(child_exit_status(call_int, "no_such_parameter"), 1);
	assert_int_equal(child_exit_status(call_time, "max_idle"), 1);
	assert_int_equal(child_exit_status(call_time, "trigger_timeout"), 1);
	assert_int_equal(child_exit_status(call_bool, "flag"), 1);
	/* And the harness itself sees a normal return. */
	assert_int_equal(child_exit_status(call_int, "good"), -1);
}

/* ------------------------------------------------------------- validation */

static void test_validate_defaults_are_clean(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;

	(void)state;
	load("");
	assert_int_equal(conf_validate(&dl), 0);
	for (size_t i = 0; i < dl.n; i++)
		print_message("unexpected: %s\n", dl.v[i].text);
	assert_int_equal(dl.n, 0);
	assert_int_equal(conf_validate(NULL), 0);
}

static void test_validate_reports_bad_values_with_lines(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;

	(void)state;
	load("# comment\n"
	     "max_use = ten\n"
	     "max_idle = 3 days\n"
	     "default_process_limit = -1\n"
	     "daemon_timeout = 0\n"
	     "ipc_timeout = 5m\n"
	     "myorigin = $nowhere_defined\n");
	assert_int_equal(conf_validate(&dl), 4);
	assert_diag(&dl, DIAG_ERROR, 2, "max_use = ten");
	assert_diag(&dl, DIAG_ERROR, 3, "max_idle = 3 days");
	assert_diag(&dl, DIAG_ERROR, 4, "default_process_limit = -1");
	assert_diag(&dl, DIAG_ERROR, 5, "daemon_timeout = 0");
	assert_diag(&dl, DIAG_WARNING, 7, "undefined parameter $nowhere_defined");
	assert_string_equal(find_diag(&dl, DIAG_ERROR, 2, "max_use")->file, "main.cf");
	diag_clear(&dl);
}

static void test_validate_checks_expanded_values(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;

	(void)state;
	load("n = 12\nmax_use = $n\nmax_idle = ${n}q\n");
	assert_int_equal(conf_validate(&dl), 1);
	assert_diag(&dl, DIAG_ERROR, 3, "max_idle = 12q");
	diag_clear(&dl);
	/* An override is checked too (it has no line). */
	conf_override("max_idle", "1m");
	conf_override("max_use", "0");
	assert_int_equal(conf_validate(&dl), 1);
	assert_diag(&dl, DIAG_ERROR, 0, "max_use = 0");
	assert_int_equal(dl.v[0].line, 0);
	diag_clear(&dl);
}

static void test_validate_does_not_warn_for_tested_names(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;

	(void)state;
	/* "stress" is set by master at run time; testing it is normal. */
	load("max_idle = ${stress?{10}:{100}}s\n");
	assert_int_equal(conf_validate(&dl), 0);
	assert_int_equal(dl.n, 0);
	assert_int_equal(conf_time("max_idle"), 100);
	conf_override("stress", "yes");
	assert_int_equal(conf_time("max_idle"), 10);
}

/* ---------------------------------------------------------------- loading */

static void test_load_from_directory(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;
	char path[PATH_MAX];

	(void)state;
	/* No main.cf: all defaults, and config_directory is the directory. */
	assert_int_equal(conf_load(tmpdir, &dl), 0);
	assert_int_equal(dl.n, 0);
	assert_string_equal(conf_dir(), tmpdir);
	assert_string_equal(conf_str("config_directory"), tmpdir);
	assert_string_equal(conf_str("mail_owner"), "postern");

	snprintf(path, sizeof(path), "%s/main.cf", tmpdir);
	write_file(path, "mail_owner = m\nmyorigin = $config_directory/x\nbogus = 1\n");
	assert_int_equal(conf_load(tmpdir, &dl), 0);
	assert_string_equal(conf_str("mail_owner"), "m");
	snprintf(path, sizeof(path), "%s/x", tmpdir);
	assert_string_equal(conf_str("myorigin"), path);
	snprintf(path, sizeof(path), "%s/main.cf", tmpdir);
	assert_diag(&dl, DIAG_WARNING, 3, "unknown parameter \"bogus\"");
	assert_string_equal(dl.v[0].file, path);
	diag_clear(&dl);

	/* Loading again starts from scratch (ASan checks nothing leaks). */
	for (int i = 0; i < 3; i++) {
		conf_override("max_use", "1");
		(void)conf_str("myorigin");
		assert_int_equal(conf_load(tmpdir, NULL), 0);
		assert_null(conf_raw("max_use"));
	}
	unlink(path);
}

static void test_load_unreadable_fails(void **state)
{
	char path[PATH_MAX];

	(void)state;
	snprintf(path, sizeof(path), "%s/main.cf", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);
	errno = 0;
	assert_int_equal(conf_load(tmpdir, NULL), -1);
	assert_int_equal(errno, EISDIR);
	rmdir(path);
}

static void test_resolve_dir(void **state)
{
	(void)state;
	assert_string_equal(conf_resolve_dir("/given"), "/given");
	setenv("POSTERN_CONFIG_DIR", "/from/env", 1);
	assert_string_equal(conf_resolve_dir(NULL), "/from/env");
	assert_string_equal(conf_resolve_dir("/given"), "/given");
	setenv("POSTERN_CONFIG_DIR", "", 1);
	assert_string_equal(conf_resolve_dir(NULL), DEF_CONFIG_DIR);
	unsetenv("POSTERN_CONFIG_DIR");
	assert_string_equal(conf_resolve_dir(NULL), DEF_CONFIG_DIR);
}

/* ------------------------------------------------------------ the table */

static void test_param_table(void **state)
{
	size_t n;
	const struct param_def *all = param_all(&n);
	const struct param_def *p;

	(void)state;
	assert_true(n >= 26);
	assert_non_null(param_find("queue_directory"));
	for (size_t i = 1; i < n; i++)
		assert_true(strcmp(all[i - 1].name, all[i].name) < 0);
	for (size_t i = 0; i < n; i++) {
		assert_ptr_equal(param_find(all[i].name), &all[i]);
		assert_non_null(all[i].doc);
		assert_true(all[i].defval != NULL || all[i].default_fn != NULL);
	}
	assert_null(param_find("no_such_parameter"));
	assert_null(param_find(""));
	p = param_find("max_use");
	assert_int_equal(p->type, PARAM_INT);
	assert_string_equal(param_default(p), "100");
	p = param_find("daemon_timeout");
	assert_int_equal(p->type, PARAM_TIME);
	assert_int_equal(p->unit, 's');
	assert_string_equal(param_default(param_find("mydestination")),
			    "$myhostname, localhost.$mydomain, localhost");
	assert_string_equal(param_default(param_find("import_environment")), "TZ LANG=C");
	assert_string_equal(param_default(param_find("config_directory")), DEF_CONFIG_DIR);
}

static void test_computed_defaults(void **state)
{
	const char *host, *domain;

	(void)state;
	load("");
	host = param_default(param_find("myhostname"));
	domain = param_default(param_find("mydomain"));
	assert_true(*host != 0);
	assert_non_null(strchr(host, '.'));
	assert_true(*domain != 0);
	assert_string_equal(conf_str("myhostname"), host);
	/* mydomain is myhostname minus its first label. */
	assert_string_equal(strchr(host, '.') + 1, conf_str("mydomain"));
	assert_true(*conf_str("mydestination") != 0);

	/* Derived from the effective myhostname. */
	load("myhostname = a.b.c.example\n");
	assert_string_equal(conf_str("mydomain"), "b.c.example");
	load("myhostname = nodots\n");
	assert_string_equal(conf_str("mydomain"), "localdomain");
	/* A loop through the computed default ends. */
	load("myhostname = $mydomain\n");
	assert_string_equal(conf_str("myhostname"), "localdomain");
	assert_string_equal(conf_str("mydomain"), "localdomain");
}

/* ---------------------------------------------------------------- editing */

/* edit - writes before to main.cf, edits, and compares with after */
static void assert_edit(const char *before, const char *name, const char *value,
			const char *after)
{
	char path[PATH_MAX];
	char *err = NULL, *text;

	snprintf(path, sizeof(path), "%s/main.cf", tmpdir);
	write_file(path, before);
	assert_int_equal(conf_edit_file(path, name, value, &err), 0);
	assert_null(err);
	text = read_text(path);
	assert_string_equal(text, after);
	free(text);
	/* No temporary file left behind. */
	assert_int_equal(count_files(), 1);
	unlink(path);
}

static void test_edit_replace(void **state)
{
	(void)state;
	assert_edit("# header comment\n"
		    "mail_owner = old   \n"
		    "\n"
		    "myorigin = keep\n",
		    "mail_owner", "new",
		    "# header comment\n"
		    "mail_owner = new\n"
		    "\n"
		    "myorigin = keep\n");
	/* A name that is only a prefix of another is not touched. */
	assert_edit("mail_owner_x = a\nmail_owner=b\n", "mail_owner", "c",
		    "mail_owner_x = a\nmail_owner = c\n");
}

static void test_edit_replace_with_continuations(void **state)
{
	(void)state;
	assert_edit("mydestination = a,\n"
		    "    b,\n"
		    "  # a comment among the continuation lines stays\n"
		    "\tc\n"
		    "myorigin = x\n"
		    "    y\n",
		    "mydestination", "d",
		    "mydestination = d\n"
		    "  # a comment among the continuation lines stays\n"
		    "myorigin = x\n"
		    "    y\n");
	/* The '=' may even be on a continuation line. */
	assert_edit("myorigin\n  = x\nmail_owner = y\n", "myorigin", "z",
		    "myorigin = z\nmail_owner = y\n");
}

static void test_edit_deletes_later_duplicates(void **state)
{
	(void)state;
	assert_edit("myorigin = 1\n"
		    "mail_owner = a\n"
		    "myorigin = 2\n"
		    "   continued\n"
		    "# end\n"
		    "myorigin=3",
		    "myorigin", "new",
		    "myorigin = new\n"
		    "mail_owner = a\n"
		    "# end\n");
}

static void test_edit_appends(void **state)
{
	(void)state;
	assert_edit("# only a comment\n", "max_use", "5",
		    "# only a comment\nmax_use = 5\n");
	/* A missing final newline is added first. */
	assert_edit("mail_owner = a", "max_use", "5",
		    "mail_owner = a\nmax_use = 5\n");
	assert_edit("", "max_use", "5", "max_use = 5\n");
	/* A commented-out setting is a comment, not a setting. */
	assert_edit("#max_use = 1\n", "max_use", "2", "#max_use = 1\nmax_use = 2\n");
}

static void test_edit_removes(void **state)
{
	(void)state;
	assert_edit("# keep me\n"
		    "myorigin = 1\n"
		    "  more\n"
		    "mail_owner = a\n"
		    "myorigin = 2\n",
		    "myorigin", NULL,
		    "# keep me\n"
		    "mail_owner = a\n");
	assert_edit("mail_owner = a\n", "myorigin", NULL, "mail_owner = a\n");
}

static void test_edit_preserves_other_bytes(void **state)
{
	const char *rest =
	    "#\tTabs,   odd    spacing and trailing blanks   \n"
	    "   \n"
	    "mail_owner   =\tx   # not a comment\n"
	    "\t\tcontinued\t\n"
	    "   # indented comment\n"
	    "\r\n";
	vstr before = VSTR_INIT, after = VSTR_INIT;

	(void)state;
	vstr_cat(&before, rest);
	vstr_cat(&before, "max_use = 1\n");
	vstr_cat(&before, rest);
	vstr_cat(&after, rest);
	vstr_cat(&after, "max_use = 2\n");
	vstr_cat(&after, rest);
	assert_edit(vstr_str(&before), "max_use", "2", vstr_str(&after));
	vstr_release(&before);
	vstr_release(&after);
}

static void test_edit_missing_file(void **state)
{
	char path[PATH_MAX];
	char *err = NULL, *text;
	struct stat st;
	mode_t old = umask(077);

	(void)state;
	snprintf(path, sizeof(path), "%s/main.cf", tmpdir);
	/* Removing from a missing file creates nothing. */
	assert_int_equal(conf_edit_file(path, "max_use", NULL, &err), 0);
	assert_int_equal(count_files(), 0);
	assert_int_equal(conf_edit_file(path, "max_use", "3", &err), 0);
	umask(old);
	text = read_text(path);
	assert_string_equal(text, "max_use = 3\n");
	free(text);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	unlink(path);
}

static void test_edit_keeps_mode(void **state)
{
	char path[PATH_MAX];
	char *err = NULL;
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s/main.cf", tmpdir);
	write_file(path, "max_use = 1\n");
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(conf_edit_file(path, "max_use", "2", &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	unlink(path);
}

static void test_edit_errors(void **state)
{
	char path[PATH_MAX];
	char *err = NULL;

	(void)state;
	snprintf(path, sizeof(path), "%s/main.cf", tmpdir);
	assert_int_equal(conf_edit_file(path, "bad name", "x", &err), -1);
	assert_non_null(err);
	free(err);
	assert_int_equal(conf_edit_file(path, "", "x", &err), -1);
	free(err);
	assert_int_equal(conf_edit_file(path, "max_use", "1\nmail_owner = root", &err), -1);
	free(err);
	snprintf(path, sizeof(path), "%s/no/such/dir/main.cf", tmpdir);
	assert_int_equal(conf_edit_file(path, "max_use", "1", &err), -1);
	assert_non_null(err);
	free(err);
	assert_int_equal(count_files(), 0);
}

static void test_edited_file_reads_back(void **state)
{
	char path[PATH_MAX];
	char *err = NULL;

	(void)state;
	snprintf(path, sizeof(path), "%s/main.cf", tmpdir);
	write_file(path, "max_use = 1\n  # c\nmyorigin = a\n   b\nmax_use = 9\n");
	assert_int_equal(conf_edit_file(path, "max_use", "4", &err), 0);
	assert_int_equal(conf_edit_file(path, "mail_owner", "who", &err), 0);
	assert_int_equal(conf_load(tmpdir, NULL), 0);
	assert_int_equal(conf_int("max_use"), 4);
	assert_string_equal(conf_str("myorigin"), "a b");
	assert_string_equal(conf_str("mail_owner"), "who");
	unlink(path);
}

/* reset - each test starts from an empty configuration */
static int reset(void **state)
{
	(void)state;
	return conf_load_string("", "main.cf", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_basic_settings, reset),
		cmocka_unit_test_setup(test_continuation_lines, reset),
		cmocka_unit_test_setup(test_comments_and_blank_lines, reset),
		cmocka_unit_test_setup(test_later_setting_wins, reset),
		cmocka_unit_test_setup(test_no_final_newline_and_crlf, reset),
		cmocka_unit_test_setup(test_bad_lines_reported, reset),
		cmocka_unit_test_setup(test_bad_line_with_continuation_is_one_error, reset),
		cmocka_unit_test_setup(test_unknown_names_warned, reset),
		cmocka_unit_test_setup(test_user_defined_variables_not_warned, reset),
		cmocka_unit_test_setup(test_dollar_dollar_is_not_a_reference, reset),
		cmocka_unit_test_setup(test_expand_simple_forms, reset),
		cmocka_unit_test_setup(test_expand_literal_dollars, reset),
		cmocka_unit_test_setup(test_expand_conditionals, reset),
		cmocka_unit_test_setup(test_expand_condition_tests_expanded_value, reset),
		cmocka_unit_test_setup(test_expand_syntax_errors, reset),
		cmocka_unit_test_setup(test_direct_loop_terminates, reset),
		cmocka_unit_test_setup(test_indirect_loop_terminates, reset),
		cmocka_unit_test_setup(test_deep_chain_is_cut, reset),
		cmocka_unit_test_setup(test_exponential_expansion_is_cut, reset),
		cmocka_unit_test_setup(test_str_of_unknown_and_defaults, reset),
		cmocka_unit_test_setup(test_str_is_cached_and_stable, reset),
		cmocka_unit_test_setup(test_override_precedence, reset),
		cmocka_unit_test_setup(test_override_arg, reset),
		cmocka_unit_test_setup(test_set_names_in_order, reset),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_parse_bool),
		cmocka_unit_test_setup(test_typed_getters, reset),
		cmocka_unit_test_setup(test_bad_values_are_fatal, reset),
		cmocka_unit_test_setup(test_validate_defaults_are_clean, reset),
		cmocka_unit_test_setup(test_validate_reports_bad_values_with_lines, reset),
		cmocka_unit_test_setup(test_validate_checks_expanded_values, reset),
		cmocka_unit_test_setup(test_validate_does_not_warn_for_tested_names, reset),
		cmocka_unit_test_setup(test_load_from_directory, reset),
		cmocka_unit_test_setup(test_load_unreadable_fails, reset),
		cmocka_unit_test(test_resolve_dir),
		cmocka_unit_test(test_param_table),
		cmocka_unit_test_setup(test_computed_defaults, reset),
		cmocka_unit_test(test_edit_replace),
		cmocka_unit_test(test_edit_replace_with_continuations),
		cmocka_unit_test(test_edit_deletes_later_duplicates),
		cmocka_unit_test(test_edit_appends),
		cmocka_unit_test(test_edit_removes),
		cmocka_unit_test(test_edit_preserves_other_bytes),
		cmocka_unit_test(test_edit_missing_file),
		cmocka_unit_test(test_edit_keeps_mode),
		cmocka_unit_test(test_edit_errors),
		cmocka_unit_test_setup(test_edited_file_reads_back, reset),
	};
	int failed = cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);

	conf_load_string("", "", NULL);
	return failed;
}
