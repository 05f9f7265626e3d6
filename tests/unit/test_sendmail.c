/* test_sendmail - unit tests for sendmail/: the argv parser against the
 * command lines of real callers (cron, PHP, PHPMailer, mutt, Alpine, git
 * send-email, s-nail, logwatch, Python) and every option form; the input
 * converter (line ends, lone dot, From_ line, missing final newline,
 * 8-bit) fed at every split point and a byte at a time; the header block
 * and -t extraction, also incrementally; the record stream; the commands
 * of the other modes; and sm_enqueue end to end, with /bin/sh standing
 * in for postdrop (it is run as "PATH -c ARG", so "sh -c 'cat > file'"
 * records exactly what postdrop would read). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <cmocka.h>

#include "addr.h"
#include "argv.h"
#include "mem.h"
#include "rec.h"
#include "../../sendmail/sendmail.h"
#include "vstr.h"

/* ---- argv parsing --------------------------------------------------- */

/* parse - runs sm_args_parse on a NULL-terminated list; returns status */
static int parse_list(struct sm_opts *o, const char *const *args, char **err)
{
	int argc = 0;

	while (args[argc])
		argc++;
	return sm_args_parse(argc, (char **)args, o, err);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* parse_ok - parses args, which must succeed */
static void parse_ok(struct sm_opts *o, const char *const *args)
{
	char *err = NULL;
	int status = parse_list(o, args, &err);

	if (status)
		fprintf(stderr, "unexpected failure %d: %s\n", status, err);
	assert_int_equal(status, 0);
	assert_null(err);
}

/* parse_fails - parses args, which must fail with status */
static void parse_fails(const char *const *args, int want)
{
	struct sm_opts o;
	char *err = NULL;

	assert_int_equal(parse_list(&o, args, &err), want);
	assert_non_null(err);
	free(err);
	sm_opts_free(&o);
}

static void assert_rcpts(const struct sm_opts *o, const char *const *want)
{
	size_t n = 0;

	while (want[n])
		n++;
	assert_int_equal(o->rcpts.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(o->rcpts.v[i], want[i]);
}

#define NO_RCPTS ((const char *const[]){NULL})

static void test_cronie(void **state)
{
	struct sm_opts o;

	(void)state;
	parse_ok(&o, ARGS("/usr/sbin/sendmail", "-FCronDaemon", "-i", "-odi", "-oem", "-oi",
			  "-t", "-f", "root"));
	assert_int_equal(o.mode, SM_ENQUEUE);
	assert_true(o.extract);
	assert_true(o.ignore_dots);
	assert_string_equal(o.fullname, "CronDaemon");
	assert_string_equal(o.sender, "root");
	assert_rcpts(&o, NO_RCPTS);
	sm_opts_free(&o);
}

static void test_debian_cron(void **state)
{
	struct sm_opts o;

	(void)state;
	parse_ok(&o, ARGS("sendmail", "-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"));
	assert_false(o.extract);
	assert_true(o.ignore_dots);
	assert_string_equal(o.body_type, "8BITMIME");
	assert_string_equal(o.fullname, "CronDaemon");
	assert_null(o.sender);
	assert_rcpts(&o, ARGS("root"));
	sm_opts_free(&o);
}

static void test_systemd_cron(void **state)
{
	struct sm_opts o;

	(void)state;
	parse_ok(&o, ARGS("sendmail", "-i", "-B", "8BITMIME", "admin@example.org"));
	assert_true(o.ignore_dots);
	assert_string_equal(o.body_type, "8BITMIME");
	assert_rcpts(&o, ARGS("admin@example.org"));
	sm_opts_free(&o);
}

static void test_php(void **state)
{
	struct sm_opts o;

	(void)state;
	parse_ok(&o, ARGS("sendmail", "-t", "-i", "-fwebmaster@example.org"));
	assert_true(o.extract);
	assert_true(o.ignore_dots);
	assert_string_equal(o.sender, "webmaster@example.org");
	sm_opts_free(&o);
	/* PHPMailer */
	parse_ok(&o, ARGS("sendmail", "-oi", "-fsender@example.org", "-t"));
	assert_true(o.extract);
	assert_true(o.ignore_dots);
	assert_string_equal(o.sender, "sender@example.org");
	sm_opts_free(&o);
	parse_ok(&o, ARGS("sendmail", "-oi", "-t"));
	assert_null(o.sender);
	sm_opts_free(&o);
}

static void test_mutt(void **state)
{
	struct sm_opts o;

	(void)state;
	parse_ok(&o, ARGS("sendmail", "-oem", "-oi", "-B8BITMIME", "-f", "me@example.org",
			  "-N", "success,failure", "-R", "hdrs", "--", "you@example.org",
			  "-other@example.org"));
	assert_true(o.ignore_dots);
	assert_string_equal(o.body_type, "8BITMIME");
	assert_string_equal(o.sender, "me@example.org");
	assert_string_equal(o.notify, "SUCCESS,FAILURE");
	assert_string_equal(o.ret, "HDRS");
	assert_rcpts(&o, ARGS("you@example.org", "-other@example.org"));
	sm_opts_free(&o);
}

static void test_alpine(void **state)
{
	struct sm_opts o;

	(void)state;
	parse_ok(&o, ARGS("sendmail", "-bs", "-odb", "-oem"));
	assert_int_equal(o.mode, SM_SMTP);
	assert_rcpts(&o, NO_RCPTS);
	sm_opts_free(&o);
}

static void test_git_send_email(void **state)
{
	struct sm_opts o;

	(void)state;
	parse_ok(&o, ARGS("sendmail", "-i", "-f", "dev@example.org", "a@example.org",
			  "b@example.org"));
	assert_true(o.ignore_dots);
	assert_false(o.extract);
	assert_string_equal(o.sender, "dev@example.org");
	assert_rcpts(&o, ARGS("a@example.org", "b@example.org"));
	sm_opts_free(&o);
	/* Without an envelope sender configured. */
	parse_ok(&o, ARGS("sendmail", "-i", "a@example.org"));
	assert_rcpts(&o, ARGS("a@example.org"));
	sm_opts_free(&o);
}

static void test_snail_logwatch_python(void **state)
{
	struct sm_opts o;

	(void)state;
	parse_ok(&o, ARGS("sendmail", "-i", "-F", "Jane Doe", "-f", "jane@example.org", "--",
			  "bob@example.org"));
	assert_string_equal(o.fullname, "Jane Doe");
	assert_string_equal(o.sender, "jane@example.org");
	assert_rcpts(&o, ARGS("bob@example.org"));
	sm_opts_free(&o);
	/* mailx with metoo and verbose */
	parse_ok(&o, ARGS("sendmail", "-i", "-m", "-v", "-r", "jane@example.org", "bob"));
	assert_string_equal(o.sender, "jane@example.org");
	assert_int_equal(o.verbose, 1);
	sm_opts_free(&o);
	parse_ok(&o, ARGS("/usr/sbin/sendmail", "-t"));
	assert_true(o.extract);
	assert_false(o.ignore_dots);
	sm_opts_free(&o);
	parse_ok(&o, ARGS("/usr/sbin/sendmail", "-t", "-oi"));
	assert_true(o.extract);
	assert_true(o.ignore_dots);
	sm_opts_free(&o);
}

static void test_glued_and_separate(void **state)
{
	struct sm_opts o;

	(void)state;
	parse_ok(&o, ARGS("sendmail", "-F", "Cron Daemon", "-B", "7BIT", "-r", "x@y", "-V", "id1"));
	assert_string_equal(o.fullname, "Cron Daemon");
	assert_string_equal(o.body_type, "7BIT");
	assert_string_equal(o.sender, "x@y");
	assert_string_equal(o.envid, "id1");
	sm_opts_free(&o);
	parse_ok(&o, ARGS("sendmail", "-FCron", "-B7bit", "-rx@y", "-Vid2", "-Nnever", "-Rfull"));
	assert_string_equal(o.fullname, "Cron");
	assert_string_equal(o.body_type, "7BIT");
	assert_string_equal(o.envid, "id2");
	assert_string_equal(o.notify, "NEVER");
	assert_string_equal(o.ret, "FULL");
	sm_opts_free(&o);
	/* Clusters of flags, a flag cluster ending in an option with value. */
	parse_ok(&o, ARGS("sendmail", "-ti", "-vvf", "a@b"));
	assert_true(o.extract);
	assert_true(o.ignore_dots);
	assert_int_equal(o.verbose, 2);
	assert_string_equal(o.sender, "a@b");
	sm_opts_free(&o);
	/* -o with a separate value; -oA for newaliases. */
	parse_ok(&o, ARGS("newaliases", "-o", "i", "-oAhash:/etc/aliases"));
	assert_int_equal(o.mode, SM_NEWALIAS);
	assert_true(o.ignore_dots);
	assert_string_equal(o.alias_map, "hash:/etc/aliases");
	sm_opts_free(&o);
}

static void test_every_listed_flag(void **state)
{
	struct sm_opts o;

	(void)state;
	parse_ok(&o, ARGS("sendmail", "-bm", "-oem", "-oep", "-oeq", "-odq", "-odd", "-om", "-o7",
			  "-o8", "-oQ/tmp", "-O", "QueueDirectory=/tmp", "-Orequiretls=yes",
			  "-L", "label", "-Llabel", "-h", "5", "-h5", "-n", "-U", "-G", "-m",
			  "-Am", "-A", "c", "-x", "-E", "-c", "-e", "m", "-p", "smtp", "-X",
			  "/tmp/log", "-X/tmp/log2", "-XV", "-i", "r@x"));
	assert_int_equal(o.mode, SM_ENQUEUE);
	assert_rcpts(&o, ARGS("r@x"));
	sm_opts_free(&o);
	/* -X's separate argument is consumed, never a recipient. */
	parse_ok(&o, ARGS("sendmail", "-X", "/var/www/shell.php", "-t"));
	assert_true(o.extract);
	assert_rcpts(&o, NO_RCPTS);
	sm_opts_free(&o);
	parse_ok(&o, ARGS("sendmail", "-I"));
	assert_int_equal(o.mode, SM_NEWALIAS);
	sm_opts_free(&o);
	parse_ok(&o, ARGS("sendmail", "-bi"));
	assert_int_equal(o.mode, SM_NEWALIAS);
	sm_opts_free(&o);
	parse_ok(&o, ARGS("sendmail", "-bp"));
	assert_int_equal(o.mode, SM_MAILQ);
	sm_opts_free(&o);
	parse_ok(&o, ARGS("sendmail", "-bd", "-q30m"));
	assert_int_equal(o.mode, SM_DAEMON);
	sm_opts_free(&o);
	parse_ok(&o, ARGS("sendmail", "-bh"));
	assert_int_equal(o.mode, SM_IGNORE);
	sm_opts_free(&o);
	parse_ok(&o, ARGS("sendmail", "-C", "/etc/postern"));
	assert_string_equal(o.config_dir, "/etc/postern");
	sm_opts_free(&o);
	parse_ok(&o, ARGS("sendmail", "-C/etc/postern/main.cf"));
	assert_string_equal(o.config_dir, "/etc/postern/main.cf");
	sm_opts_free(&o);
}

static void test_names_and_queue(void **state)
{
	struct sm_opts o;

	(void)state;
	parse_ok(&o, ARGS("/usr/bin/mailq"));
	assert_int_equal(o.mode, SM_MAILQ);
	sm_opts_free(&o);
	parse_ok(&o, ARGS("newaliases"));
	assert_int_equal(o.mode, SM_NEWALIAS);
	sm_opts_free(&o);
	parse_ok(&o, ARGS("sendmail", "-q"));
	assert_int_equal(o.mode, SM_FLUSH);
	sm_opts_free(&o);
	parse_ok(&o, ARGS("sendmail", "-q1h"));
	assert_int_equal(o.mode, SM_IGNORE);
	sm_opts_free(&o);
	parse_ok(&o, ARGS("sendmail", "-qRexample.org"));
	assert_int_equal(o.mode, SM_FLUSH);
	assert_string_equal(o.flush_site, "example.org");
	sm_opts_free(&o);
	parse_ok(&o, ARGS("sendmail", "-qR", "example.org"));
	assert_string_equal(o.flush_site, "example.org");
	assert_rcpts(&o, NO_RCPTS);
	sm_opts_free(&o);
	parse_ok(&o, ARGS("sendmail", "-qI", "5BMVgw4Cv5z1bYmK"));
	assert_string_equal(o.flush_id, "5BMVgw4Cv5z1bYmK");
	sm_opts_free(&o);
	parse_fails(ARGS("sendmail", "-qR"), EX_USAGE);
	parse_fails(ARGS("sendmail", "-qI", "-x"), EX_USAGE);
	parse_fails(ARGS("sendmail", "-qS", "x"), EX_USAGE);
}

static void test_double_dash_and_recipients(void **state)
{
	struct sm_opts o;

	(void)state;
	parse_ok(&o, ARGS("sendmail", "--", "-t", "-fevil@x", "--"));
	assert_false(o.extract);
	assert_null(o.sender);
	assert_rcpts(&o, ARGS("-t", "-fevil@x", "--"));
	sm_opts_free(&o);
	/* Options end at the first recipient (Postfix's getopt "+"). */
	parse_ok(&o, ARGS("sendmail", "a@b", "-t"));
	assert_false(o.extract);
	assert_rcpts(&o, ARGS("a@b", "-t"));
	sm_opts_free(&o);
	parse_ok(&o, ARGS("sendmail", "-", "x"));
	assert_rcpts(&o, ARGS("-", "x"));
	sm_opts_free(&o);
}

static void test_refusals(void **state)
{
	(void)state;
	parse_fails(ARGS("sendmail", "-f", "a@b\nX-Injected: 1"), EX_DATAERR);
	parse_fails(ARGS("sendmail", "-fa@b\r"), EX_DATAERR);
	parse_fails(ARGS("sendmail", "-F", "Eve\nBcc: x@ext.test", "-t"), EX_DATAERR);
	parse_fails(ARGS("sendmail", "--", "a@b\nBcc: c@d"), EX_DATAERR);
	parse_fails(ARGS("sendmail", "-B", "9BIT"), EX_USAGE);
	parse_fails(ARGS("sendmail", "-f"), EX_USAGE);
	parse_fails(ARGS("sendmail", "-i", "-X"), EX_USAGE);
	parse_fails(ARGS("sendmail", "-K"), EX_USAGE);
	parse_fails(ARGS("sendmail", "-d0.1"), EX_USAGE);
	parse_fails(ARGS("sendmail", "-bv", "a@b"), EX_USAGE);
	parse_fails(ARGS("sendmail", "-bp", "-t"), EX_USAGE);
	parse_fails(ARGS("sendmail", "-oA"), EX_USAGE);
}

static void test_bad_dsn_values_warn(void **state)
{
	struct sm_opts o;

	(void)state;
	parse_ok(&o, ARGS("sendmail", "-N", "sometimes", "-R", "most", "-V", "has space", "x"));
	assert_string_equal(o.notify, "");
	assert_null(o.ret);
	assert_null(o.envid);
	assert_int_equal(o.warnings.n, 3);
	sm_opts_free(&o);
	parse_ok(&o, ARGS("sendmail", "-N", "never,success", "x"));
	assert_string_equal(o.notify, "");
	sm_opts_free(&o);
	parse_ok(&o, ARGS("sendmail", "-N", "delay, Failure,success", "x"));
	assert_string_equal(o.notify, "SUCCESS,FAILURE,DELAY");
	sm_opts_free(&o);
}

static void test_sender_address(void **state)
{
	char *err, *s;

	(void)state;
	for (const char *const *v = ARGS("", "<>", " < > "); *v; v++) {
		s = sm_sender_address(*v, &err);
		assert_non_null(s);
		assert_string_equal(s, "");
		free(s);
	}
	s = sm_sender_address("Web Master <wm@example.org>", &err);
	assert_string_equal(s, "wm@example.org");
	free(s);
	s = sm_sender_address("root", &err);
	assert_string_equal(s, "root");
	free(s);
	for (const char *const *v = ARGS("a@b, c@d", "<a@b", "a@b\nX: y", "\"x"); *v; v++) {
		assert_null(sm_sender_address(*v, &err));
		assert_non_null(err);
		free(err);
	}
}

static void test_recipient_args(void **state)
{
	struct argv in = ARGV_INIT, out = ARGV_INIT;
	char *err;

	(void)state;
	argv_add(&in, "Bob <bob@example.org>");
	argv_add(&in, "a@b, c@d");
	argv_add(&in, "-dash@x");
	argv_add(&in, "root");
	assert_int_equal(sm_recipient_args(&in, &out, &err), 0);
	assert_int_equal(out.n, 5);
	assert_string_equal(out.v[0], "bob@example.org");
	assert_string_equal(out.v[1], "a@b");
	assert_string_equal(out.v[2], "c@d");
	assert_string_equal(out.v[3], "-dash@x");
	assert_string_equal(out.v[4], "root");
	argv_free(&out);
	argv_free(&in);
	for (const char *const *v = ARGS("", "<>", "John Smith", "a@b\r\n"); *v; v++) {
		argv_add(&in, *v);
		assert_int_equal(sm_recipient_args(&in, &out, &err), EX_DATAERR);
		free(err);
		argv_free(&in);
		argv_free(&out);
	}
}

/* ---- input conversion ------------------------------------------------ */

/* convert_split - converts input fed as [0, cut) and [cut, len) */
static void convert_split(const char *input, size_t len, size_t cut, int dots, vstr *out)
{
	struct sm_input in;

	sm_input_init(&in, dots);
	vstr_reset(out);
	if (!sm_input_feed(&in, input, cut, out)
	    && !sm_input_feed(&in, input + cut, len - cut, out))
		sm_input_finish(&in, out);
}

/* convert_bytes - converts input fed one byte at a time */
static void convert_bytes(const char *input, size_t len, int dots, vstr *out)
{
	struct sm_input in;
	size_t i;

	sm_input_init(&in, dots);
	vstr_reset(out);
	for (i = 0; i < len; i++)
		if (sm_input_feed(&in, input + i, 1, out))
			return;
	sm_input_finish(&in, out);
}

/* check_convert - input gives want however it is split */
static void check_convert(const char *input, size_t len, int dots, const char *want, size_t want_len)
{
	vstr out = VSTR_INIT;

	for (size_t cut = 0; cut <= len; cut++) {
		convert_split(input, len, cut, dots, &out);
		if (vstr_len(&out) != want_len || memcmp(vstr_str(&out), want, want_len) != 0)
			fprintf(stderr, "input [%.*s] cut %zu: got [%.*s]\n", (int)len, input, cut,
				(int)vstr_len(&out), vstr_str(&out));
		assert_int_equal(vstr_len(&out), want_len);
		assert_memory_equal(vstr_str(&out), want, want_len);
	}
	convert_bytes(input, len, dots, &out);
	assert_int_equal(vstr_len(&out), want_len);
	assert_memory_equal(vstr_str(&out), want, want_len);
	vstr_release(&out);
}

#define CONVERT(in, dots, want) check_convert(in, sizeof(in) - 1, dots, want, sizeof(want) - 1)

static void test_line_ends(void **state)
{
	(void)state;
	CONVERT("a\nb\n", 0, "a\nb\n");
	CONVERT("a\r\nb\r\n", 0, "a\nb\n");
	CONVERT("Subject: x\r\nTo: y\r\n\r\nbody\nmore\r\n", 0,
		"Subject: x\nTo: y\n\nbody\nmore\n");
	CONVERT("bare\rcr\r\r\n", 0, "bare\rcr\r\n");
	CONVERT("\r\n\r\n", 0, "\n\n");
	CONVERT("", 0, "");
	CONVERT("no newline", 0, "no newline\n");
	CONVERT("cr at end\r", 0, "cr at end\n");
	CONVERT("x", 1, "x\n");
}

static void test_lone_dot(void **state)
{
	(void)state;
	/* Without -i a lone dot ends the input, also with CRLF and at EOF. */
	CONVERT("a\n.\nb\n", 1, "a\n");
	CONVERT("a\r\n.\r\nb\r\n", 1, "a\n");
	CONVERT(".\n", 1, "");
	CONVERT("a\n.", 1, "a\n");
	CONVERT("a\n.\r", 1, "a\n");
	CONVERT("a\n..\n.x\n. \n", 1, "a\n..\n.x\n. \n");
	CONVERT("a\n.\rb\n", 1, "a\n.\rb\n");
	CONVERT("a\n.\r\rb\n", 1, "a\n.\r\rb\n");
	CONVERT("a.\nb\n", 1, "a.\nb\n");
	/* With -i it is content. */
	CONVERT("a\n.\nb\n", 0, "a\n.\nb\n");
	CONVERT("a\n.", 0, "a\n.\n");
}

static void test_from_line(void **state)
{
	(void)state;
	CONVERT("From me@x Sat Jan  1 00:00:00 2000\nSubject: s\n\nb\n", 0, "Subject: s\n\nb\n");
	CONVERT("From me@x Sat Jan  1 00:00:00 2000\r\nSubject: s\r\n", 1, "Subject: s\n");
	CONVERT("From \n", 0, "");
	CONVERT("From x", 0, "");
	/* Only the first line, only "From " exactly. */
	CONVERT("Subject: s\nFrom x\n", 0, "Subject: s\nFrom x\n");
	CONVERT("From x\nFrom y\n", 0, "From y\n");
	CONVERT("From: a@b\n", 0, "From: a@b\n");
	CONVERT("Fro", 0, "Fro\n");
	CONVERT("Frommage\n", 0, "Frommage\n");
	CONVERT("from x\n", 0, "from x\n");
	CONVERT(".\n", 0, ".\n");
	CONVERT("Fr\r\n.\r\n", 1, "Fr\n");
}

static void test_eight_bit(void **state)
{
	static const char in[] = "Subject: \xc3\xa4\xc3\xb6\n\n\x80\x81\xfe\xff\x00\x01 caf\xc3\xa9\n";
	vstr out = VSTR_INIT;

	(void)state;
	check_convert(in, sizeof(in) - 1, 1, in, sizeof(in) - 1);
	vstr_release(&out);
}

/* ---- header block and -t --------------------------------------------- */

/* scan_incrementally - the header block end found with content arriving
 * in two parts split at cut; returns its length */
static size_t scan_split(const char *content, size_t len, size_t cut)
{
	struct sm_headers h;

	sm_headers_init(&h);
	if (sm_headers_scan(&h, content, cut, 0))
		return h.end;
	assert_int_equal(sm_headers_scan(&h, content, len, 1), 1);
	return h.end;
}

static void check_block(const char *content, size_t want)
{
	size_t len = strlen(content);

	for (size_t cut = 0; cut <= len; cut++)
		assert_int_equal(scan_split(content, len, cut), want);
}

static void test_header_block(void **state)
{
	(void)state;
	check_block("To: a@b\nSubject: x\n\nbody\n", 19);
	check_block("To: a@b,\n c@d\nSubject: x\n\nTo: not@header\n", 25);
	check_block("To: a@b\nnot a header line\nCc: c@d\n", 8);
	check_block("body without headers\n", 0);
	check_block(" continuation first\n", 0);
	check_block("\nTo: a@b\n", 0);
	check_block("To: a@b\nSubject: no body\n", 25);
	check_block("Weird-Name  : v\nX:\n\n", 19);
}

static void test_header_block_limit(void **state)
{
	struct sm_headers h;
	size_t len = SM_HEADER_SCAN_MAX + 10;
	char *content = xmalloc(len);

	(void)state;
	memset(content, 'x', len);
	memcpy(content, "To: a@b\nX: ", 11);
	sm_headers_init(&h);
	assert_int_equal(sm_headers_scan(&h, content, len, 0), 1);
	assert_true(h.truncated);
	assert_int_equal(h.end, 8);
	free(content);
}

/* check_rcpts - the -t recipients of a header block */
static void check_rcpts(const char *block, const char *const *want, int want_errors)
{
	struct argv out = ARGV_INIT;
	size_t n = 0;

	assert_int_equal(sm_headers_recipients(block, strlen(block), &out), want_errors);
	while (want[n])
		n++;
	assert_int_equal(out.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(out.v[i], want[i]);
	argv_free(&out);
}

static void test_extract(void **state)
{
	(void)state;
	check_rcpts("From: me@x\nTo: a@b\nCc: C <c@d>, e@f\nBcc: hidden@g\nSubject: s\n",
		    ARGS("a@b", "c@d", "e@f", "hidden@g"), 0);
	check_rcpts("to: a@b\nCC : c@d\nbcc:x@y\n", ARGS("a@b", "c@d", "x@y"), 0);
	check_rcpts("To: a@b,\n\t\"Doe, J\" <j@d>,\r\n (comment) k@l\nSubject: s\n",
		    ARGS("a@b", "j@d", "k@l"), 0);
	check_rcpts("To: undisclosed-recipients:;\nBcc: secret@x\n", ARGS("secret@x"), 0);
	check_rcpts("To: team: a@b, c@d;\n", ARGS("a@b", "c@d"), 0);
	check_rcpts("From: a@b\nSubject: none\n", NO_RCPTS, 0);
	check_rcpts("To: John Smith\nCc: ok@x\n", ARGS("ok@x"), ADDR_ERR_SYNTAX);
	/* Resent- headers: only the Resent-* recipients count. */
	check_rcpts("To: orig@x\nResent-From: me@y\nResent-To: new@z\nResent-Bcc: nb@z\n",
		    ARGS("new@z", "nb@z"), 0);
	check_rcpts("To: orig@x\nResent-Date: today\n", NO_RCPTS, 0);
	check_rcpts("X-To: no@x\nTo-Do: no@y\nTo: yes@z\n", ARGS("yes@z"), 0);
}

/* ---- records and commands -------------------------------------------- */

/* next_rec - decodes the record at *pos of buf */
static int next_rec(const vstr *buf, size_t *pos, const char **data, size_t *len)
{
	int type;
	ssize_t n = rec_decode(vstr_str(buf) + *pos, vstr_len(buf) - *pos, &type, data, len,
			       REC_CHUNK);

	assert_true(n > 0);
	*pos += (size_t)n;
	return type;
}

static void expect_rec(const vstr *buf, size_t *pos, int type, const char *payload)
{
	const char *data;
	size_t len;

	assert_int_equal(next_rec(buf, pos, &data, &len), type);
	assert_int_equal(len, strlen(payload));
	assert_memory_equal(data, payload, len);
}

static void test_envelope_records(void **state)
{
	struct argv rcpts = ARGV_INIT;
	struct maildrop_envelope env = {"me@x", "Full Name", "SUCCESS,FAILURE", "HDRS", "id1",
				  "8BITMIME", &rcpts};
	vstr out = VSTR_INIT;
	size_t pos = 0;

	(void)state;
	argv_add(&rcpts, "a@b");
	argv_add(&rcpts, "c@d");
	maildrop_envelope_encode(&out, &env);
	expect_rec(&out, &pos, REC_SENDER, "me@x");
	expect_rec(&out, &pos, REC_FULLNAME, "Full Name");
	expect_rec(&out, &pos, REC_ATTR, "notify=SUCCESS,FAILURE");
	expect_rec(&out, &pos, REC_ATTR, "ret=HDRS");
	expect_rec(&out, &pos, REC_ATTR, "envid=id1");
	expect_rec(&out, &pos, REC_ATTR, "body_type=8BITMIME");
	expect_rec(&out, &pos, REC_NOTIFY, "SUCCESS,FAILURE");
	expect_rec(&out, &pos, REC_RCPT, "a@b");
	expect_rec(&out, &pos, REC_NOTIFY, "SUCCESS,FAILURE");
	expect_rec(&out, &pos, REC_RCPT, "c@d");
	expect_rec(&out, &pos, REC_MESSAGE, "");
	assert_int_equal(pos, vstr_len(&out));
	/* The null sender, nothing optional. */
	vstr_reset(&out);
	pos = 0;
	env = (struct maildrop_envelope){"", NULL, "", NULL, NULL, NULL, &rcpts};
	maildrop_envelope_encode(&out, &env);
	expect_rec(&out, &pos, REC_SENDER, "");
	expect_rec(&out, &pos, REC_RCPT, "a@b");
	expect_rec(&out, &pos, REC_RCPT, "c@d");
	expect_rec(&out, &pos, REC_MESSAGE, "");
	assert_int_equal(pos, vstr_len(&out));
	vstr_release(&out);
	argv_free(&rcpts);
}

static void test_content_chunks(void **state)
{
	vstr content = VSTR_INIT, out = VSTR_INIT;
	const char *data;
	size_t pos = 0, len, total = 0;

	(void)state;
	for (int i = 0; i < REC_CHUNK * 2 + 100; i++)
		vstr_catc(&content, (char)('a' + i % 26));
	maildrop_content_encode(&out, &content, 0);
	assert_int_equal(vstr_len(&content), 100);
	maildrop_content_encode(&out, &content, 1);
	assert_int_equal(vstr_len(&content), 0);
	while (pos < vstr_len(&out)) {
		assert_int_equal(next_rec(&out, &pos, &data, &len), REC_BODY);
		assert_true(len <= REC_CHUNK);
		assert_int_equal(data[0], 'a' + (int)(total % 26));
		total += len;
	}
	assert_int_equal(total, REC_CHUNK * 2 + 100);
	vstr_release(&content);
	vstr_release(&out);
}

/* check_command - the argv of a mode */
static void check_command(const char *const *args, const char *const *want)
{
	struct sm_opts o;
	struct argv cmd = ARGV_INIT;
	char *err;
	size_t n = 0;

	parse_ok(&o, args);
	assert_int_equal(sm_command_argv(&o, "/cf", "/cmd", "/daemon", &cmd, &err), 0);
	while (want[n])
		n++;
	assert_int_equal(cmd.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(cmd.v[i], want[i]);
	argv_free(&cmd);
	sm_opts_free(&o);
}

static void test_commands(void **state)
{
	struct sm_opts o;
	struct argv cmd = ARGV_INIT;
	char *err;

	(void)state;
	check_command(ARGS("mailq"), ARGS("/cmd/postqueue", "-c", "/cf", "-p"));
	check_command(ARGS("sendmail", "-bp", "-v"), ARGS("/cmd/postqueue", "-c", "/cf", "-v", "-p"));
	check_command(ARGS("newaliases"), ARGS("/cmd/postern", "-c", "/cf", "alias"));
	check_command(ARGS("sendmail", "-bi", "-oAhash:/x/aliases"),
		      ARGS("/cmd/postern", "-c", "/cf", "alias", "hash:/x/aliases"));
	check_command(ARGS("sendmail", "-q"), ARGS("/cmd/postqueue", "-c", "/cf", "-f"));
	check_command(ARGS("sendmail", "-qRexample.org"),
		      ARGS("/cmd/postqueue", "-c", "/cf", "-s", "example.org"));
	check_command(ARGS("sendmail", "-qI", "ID1"), ARGS("/cmd/postqueue", "-c", "/cf", "-i", "ID1"));
	check_command(ARGS("sendmail", "-bd"), ARGS("/cmd/postern", "-c", "/cf", "start"));
	check_command(ARGS("sendmail", "-bs", "-odb", "-oem"), ARGS("/daemon/smtpd", "-S"));
	parse_ok(&o, ARGS("mailq", "someone"));
	assert_int_equal(sm_command_argv(&o, "/cf", "/cmd", "/daemon", &cmd, &err), EX_USAGE);
	free(err);
	sm_opts_free(&o);
}

static void test_gecos(void **state)
{
	char *s;

	(void)state;
	s = sm_gecos_name("Jane Doe,Room 1,555,", "jane");
	assert_string_equal(s, "Jane Doe");
	free(s);
	s = sm_gecos_name("& Smith", "bob");
	assert_string_equal(s, "Bob Smith");
	free(s);
	assert_null(sm_gecos_name("", "x"));
	assert_null(sm_gecos_name(",,,", "x"));
	assert_null(sm_gecos_name(NULL, "x"));
	assert_null(sm_gecos_name("Evil\nBcc: x", "x"));
}

/* ---- sm_enqueue with sh standing in for postdrop ---------------------- */

struct fixture {
	char dir[64];
	char input[96], output[96], script[128];
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_sendmail.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->input, sizeof(f->input), "%s/in", f->dir);
	snprintf(f->output, sizeof(f->output), "%s/out", f->dir);
	snprintf(f->script, sizeof(f->script), "cat > %s", f->output);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unlink(f->input);
	unlink(f->output);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void read_file(const char *path, vstr *out)
{
	char buf[8192];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	vstr_reset(out);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		vstr_ncat(out, buf, (size_t)n);
	close(fd);
}

/* enqueue - runs sm_enqueue on input with args and postdrop = sh -c cmd */
static int enqueue(struct fixture *f, const char *const *args, const char *input,
		   size_t len, const char *cmd, char **err)
{
	struct sm_identity id = {1000, "jane", "Jane Doe,,,", cmd, "/bin/sh"};
	struct sm_opts o;
	int fd, status;

	write_file(f->input, input, len);
	parse_ok(&o, args);
	fd = open(f->input, O_RDONLY);
	assert_true(fd >= 0);
	status = sm_enqueue(&o, &id, fd, err);
	close(fd);
	sm_opts_free(&o);
	return status;
}

static void test_enqueue_stream(void **state)
{
	struct fixture *f = *state;
	static const char msg[] = "From x\r\nTo: t@x,\r\n u@y\r\nBcc: b@z\r\n\r\nbody\r\n.\r\nrest";
	vstr out = VSTR_INIT;
	size_t pos = 0;
	char *err;

	assert_int_equal(enqueue(f, ARGS("sendmail", "-t", "-N", "delay", "extra@w"), msg,
				 sizeof(msg) - 1, f->script, &err), 0);
	read_file(f->output, &out);
	expect_rec(&out, &pos, REC_SENDER, "jane");
	expect_rec(&out, &pos, REC_FULLNAME, "Jane Doe");
	expect_rec(&out, &pos, REC_ATTR, "notify=DELAY");
	for (const char *const *r = ARGS("extra@w", "t@x", "u@y", "b@z"); *r; r++) {
		expect_rec(&out, &pos, REC_NOTIFY, "DELAY");
		expect_rec(&out, &pos, REC_RCPT, *r);
	}
	expect_rec(&out, &pos, REC_MESSAGE, "");
	expect_rec(&out, &pos, REC_BODY, "To: t@x,\n u@y\nBcc: b@z\n\nbody\n");
	expect_rec(&out, &pos, REC_END, "");
	assert_int_equal(pos, vstr_len(&out));
	vstr_release(&out);
}

static void test_enqueue_large(void **state)
{
	struct fixture *f = *state;
	size_t n = 3 * REC_CHUNK + 17, pos = 0, total = 0, len;
	char *msg = xmalloc(n);
	vstr out = VSTR_INIT;
	const char *data;
	char *err;
	int type;

	for (size_t i = 0; i < n; i++)
		msg[i] = i % 80 == 79 ? '\n' : (char)(0x80 + i % 100);
	msg[n - 1] = '\n';
	assert_int_equal(enqueue(f, ARGS("sendmail", "-i", "-f", "<>", "r@x"), msg, n,
				 f->script, &err), 0);
	read_file(f->output, &out);
	expect_rec(&out, &pos, REC_SENDER, "");
	expect_rec(&out, &pos, REC_RCPT, "r@x");
	expect_rec(&out, &pos, REC_MESSAGE, "");
	while ((type = next_rec(&out, &pos, &data, &len)) == REC_BODY) {
		assert_memory_equal(data, msg + total, len);
		total += len;
	}
	assert_int_equal(type, REC_END);
	assert_int_equal(total, n);
	free(msg);
	vstr_release(&out);
}

static void test_enqueue_failures(void **state)
{
	struct fixture *f = *state;
	char *err = NULL;

	/* No recipients: refused before postdrop runs. */
	assert_int_equal(enqueue(f, ARGS("sendmail", "-i"), "x\n", 2, f->script, &err), EX_USAGE);
	assert_non_null(strstr(err, "Recipient addresses must be specified"));
	free(err);
	assert_int_equal(access(f->output, F_OK), -1);
	assert_int_equal(enqueue(f, ARGS("sendmail", "-t"), "Subject: x\n\nTo: a@b\n", 21,
				 f->script, &err), EX_USAGE);
	assert_non_null(strstr(err, "No recipient addresses found in message header"));
	free(err);
	assert_int_equal(access(f->output, F_OK), -1);
	/* postdrop's status is ours; a signal is a temporary failure. */
	assert_int_equal(enqueue(f, ARGS("sendmail", "a@b"), "x\n", 2, "cat >/dev/null; exit 75",
				 &err), EX_TEMPFAIL);
	free(err);
	assert_int_equal(enqueue(f, ARGS("sendmail", "a@b"), "x\n", 2, "exit 65", &err), EX_DATAERR);
	free(err);
	assert_int_equal(enqueue(f, ARGS("sendmail", "a@b"), "x\n", 2, "kill -9 $$", &err),
			 EX_TEMPFAIL);
	free(err);
	assert_int_equal(enqueue(f, ARGS("sendmail", "a@b"), "x\n", 2, "exit 1", &err), EX_TEMPFAIL);
	free(err);
	assert_int_equal(enqueue(f, ARGS("sendmail", "-f", "a@b, c@d", "x@y"), "x\n", 2, f->script,
				 &err), EX_DATAERR);
	free(err);
}

static void test_enqueue_unreadable_input(void **state)
{
	struct fixture *f = *state;
	struct sm_identity id = {0, "root", NULL, f->script, "/bin/sh"};
	struct sm_opts o;
	char *err;
	int fd;

	parse_ok(&o, ARGS("sendmail", "r@x"));
	fd = open(f->dir, O_RDONLY | O_DIRECTORY);	/* read() gives EISDIR */
	assert_int_equal(sm_enqueue(&o, &id, fd, &err), EX_NOINPUT);
	assert_non_null(strstr(err, "error reading input"));
	free(err);
	close(fd);
	sm_opts_free(&o);
	/* A postdrop that is not there. */
	id.postdrop = "/nonexistent/postdrop";
	parse_ok(&o, ARGS("sendmail", "r@x"));
	assert_int_equal(sm_enqueue(&o, &id, 0, &err), EX_TEMPFAIL);
	assert_non_null(strstr(err, "execute /nonexistent/postdrop"));
	free(err);
	sm_opts_free(&o);
	/* A uid without a passwd entry and no -f. */
	id.login = NULL;
	parse_ok(&o, ARGS("sendmail", "r@x"));
	assert_int_equal(sm_enqueue(&o, &id, 0, &err), EX_OSERR);
	free(err);
	sm_opts_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cronie),
		cmocka_unit_test(test_debian_cron),
		cmocka_unit_test(test_systemd_cron),
		cmocka_unit_test(test_php),
		cmocka_unit_test(test_mutt),
		cmocka_unit_test(test_alpine),
		cmocka_unit_test(test_git_send_email),
		cmocka_unit_test(test_snail_logwatch_python),
		cmocka_unit_test(test_glued_and_separate),
		cmocka_unit_test(test_every_listed_flag),
		cmocka_unit_test(test_names_and_queue),
		cmocka_unit_test(test_double_dash_and_recipients),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_bad_dsn_values_warn),
		cmocka_unit_test(test_sender_address),
		cmocka_unit_test(test_recipient_args),
		cmocka_unit_test(test_line_ends),
		cmocka_unit_test(test_lone_dot),
		cmocka_unit_test(test_from_line),
		cmocka_unit_test(test_eight_bit),
		cmocka_unit_test(test_header_block),
		cmocka_unit_test(test_header_block_limit),
		cmocka_unit_test(test_extract),
		cmocka_unit_test(test_envelope_records),
		cmocka_unit_test(test_content_chunks),
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_gecos),
		cmocka_unit_test_setup_teardown(test_enqueue_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enqueue_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enqueue_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enqueue_unreadable_input, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);	/* as sendmail does: postdrop may die early */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
