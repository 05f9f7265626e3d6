/* test_bounce - bounce(8)'s notification builder (bounce/dsn.c): who gets
 * a notification, which log entries go into it, what of the original
 * message it returns, and the exact MIME structure of the message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../bounce/dsn.h"
#include "rec.h"
#include "vstr.h"

#define QID	"6LkKJd0Bf4z3QP"
#define HOST	"mx.example.test"
#define NOW	1795000000	/* Wed, 18 Nov 2026 11:06:40 UTC */

static struct dsn_entry entry(char *rcpt, char *orig, char *dsn, char *action, char *notify,
			      char *mta, char *diag, char *reason)
{
	struct dsn_entry e = {rcpt, orig, dsn, action, notify, mta, diag, reason};

	return e;
}

/* queue_file - a temporary queue file with content, its envelope read */
static int queue_file(const char *content, size_t len, struct qenvelope *env)
{
	char path[] = "/tmp/test_bounce.XXXXXX";
	vstr v = VSTR_INIT;
	const char *err;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	rec_encode(&v, REC_VERSION, "postern-queue 1", 15);
	rec_encode(&v, REC_SIZE, "0 0 1", 5);
	rec_encode(&v, REC_TIME, "1794990000 0", 12);
	rec_encode(&v, REC_ATTR, "ret=hdrs", 8);
	rec_encode(&v, REC_SENDER, "alice@example.org", 17);
	rec_encode(&v, REC_RCPT, "bob@example.test", 16);
	rec_encode(&v, REC_MESSAGE, "", 0);
	/* Split the content over B records at an awkward point. */
	rec_encode(&v, REC_BODY, content, len / 3);
	rec_encode(&v, REC_BODY, content + len / 3, len - len / 3);
	rec_encode(&v, REC_END, "", 0);
	assert_int_equal(write(fd, vstr_str(&v), vstr_len(&v)), (ssize_t)vstr_len(&v));
	vstr_release(&v);
	assert_int_equal(qread_envelope(fd, env, 1, &err), 0);
	return fd;
}

static const char message[] =
	"From: alice@example.org\n"
	"To: bob@example.test\n"
	"Subject: hello\n"
	"\n"
	"body line 1\n"
	"body line 2\n";

/* report - a failure report about two recipients, one with an orig */
static struct dsn_entry two[2];

static struct dsn_report report(void)
{
	struct dsn_report r;

	two[0] = entry("bob@example.test", "", "5.1.1", "failed", "", "", "",
		       "unknown user: \"bob\"");
	two[1] = entry("carol@example.test", "rfc822;team@example.test", "5.2.2", "failed",
		       "FAILURE", "mx.example.net", "smtp; 552 5.2.2 mailbox full",
		       "host mx.example.net[192.0.2.1] said: 552 5.2.2 mailbox full");
	memset(&r, 0, sizeof(r));
	r.type = DSN_TYPE_FAILURE;
	r.queue_id = QID;
	r.myhostname = HOST;
	r.to = "alice@example.org";
	r.sender = "alice@example.org";
	r.now = NOW;
	r.arrival = NOW - 3600;
	r.rcpt = two;
	r.nrcpt = 2;
	r.original = message;
	r.original_len = strlen(message);
	return r;
}

static const char expect_failure[] =
	"Date: Wed, 18 Nov 2026 11:06:40 +0000\n"
	"From: Mail Delivery System <MAILER-DAEMON@mx.example.test>\n"
	"To: alice@example.org\n"
	"Subject: Undelivered Mail Returned to Sender\n"
	"Message-ID: <20261118110640." QID ".bounce@mx.example.test>\n"
	"Auto-Submitted: auto-replied\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/report; report-type=delivery-status;\n"
	"\tboundary=\"" QID "/mx.example.test\"\n"
	"\n"
	"This is a MIME-encapsulated message.\n"
	"\n"
	"--" QID "/mx.example.test\n"
	"Content-Description: Notification\n"
	"Content-Type: text/plain; charset=us-ascii\n"
	"\n"
	"This is the mail system at host mx.example.test.\n"
	"\n"
	"I'm sorry to have to inform you that your message could not\n"
	"be delivered to one or more recipients. It's attached below.\n"
	"\n"
	"For further assistance, please send mail to postmaster.\n"
	"\n"
	"If you do so, please include this problem report. You can\n"
	"delete your own text from the attached returned message.\n"
	"\n"
	"                   The mail system\n"
	"\n"
	"<bob@example.test>: unknown user: \"bob\"\n"
	"\n"
	"<carol@example.test> (expanded from <team@example.test>): host\n"
	"    mx.example.net[192.0.2.1] said: 552 5.2.2 mailbox full\n"
	"--" QID "/mx.example.test\n"
	"Content-Description: Delivery report\n"
	"Content-Type: message/delivery-status\n"
	"\n"
	"Reporting-MTA: dns; mx.example.test\n"
	"X-Postern-Queue-ID: " QID "\n"
	"X-Postern-Sender: rfc822; alice@example.org\n"
	"Arrival-Date: Wed, 18 Nov 2026 10:06:40 +0000\n"
	"\n"
	"Final-Recipient: rfc822; bob@example.test\n"
	"Action: failed\n"
	"Status: 5.1.1\n"
	"Diagnostic-Code: X-Postern; unknown user: \"bob\"\n"
	"\n"
	"Final-Recipient: rfc822; carol@example.test\n"
	"Original-Recipient: rfc822;team@example.test\n"
	"Action: failed\n"
	"Status: 5.2.2\n"
	"Remote-MTA: dns; mx.example.net\n"
	"Diagnostic-Code: smtp; 552 5.2.2 mailbox full\n"
	"\n"
	"--" QID "/mx.example.test\n"
	"Content-Description: Undelivered Message\n"
	"Content-Type: message/rfc822\n"
	"\n"
	"From: alice@example.org\n"
	"To: bob@example.test\n"
	"Subject: hello\n"
	"\n"
	"body line 1\n"
	"body line 2\n"
	"--" QID "/mx.example.test--\n";

static void test_failure_two_recipients(void **state)
{
	struct dsn_report r = report();
	vstr out = VSTR_INIT;

	(void)state;
	assert_int_equal(dsn_build(&r, &out), 0);
	assert_string_equal(vstr_str(&out), expect_failure);
	vstr_release(&out);
}

/* count_lines - lines of text equal to line */
static int count_lines(const char *text, const char *line)
{
	size_t len = strlen(line);
	int n = 0;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, line, len) == 0 && (p[len] == '\n' || p[len] == 0))
			n++;
	return n;
}

/* longest_line - the length of the longest line of text */
static size_t longest_line(const char *text)
{
	size_t max = 0;

	for (const char *p = text; *p;) {
		size_t len = strcspn(p, "\n");

		if (len > max)
			max = len;
		p += len + (p[len] == '\n');
	}
	return max;
}

static void test_ret_hdrs_returns_header_block(void **state)
{
	struct dsn_report r = report();
	struct qenvelope env;
	vstr orig = VSTR_INIT, out = VSTR_INIT;
	int headers_only = -1;
	int fd = queue_file(message, strlen(message), &env);

	(void)state;
	/* want_full = 0: RET=HDRS */
	assert_int_equal(dsn_original(fd, &env, 0, 50000, &orig, &headers_only), 0);
	assert_int_equal(headers_only, 1);
	assert_string_equal(vstr_str(&orig),
			    "From: alice@example.org\nTo: bob@example.test\nSubject: hello\n");
	r.original = vstr_str(&orig);
	r.original_len = vstr_len(&orig);
	r.headers_only = headers_only;
	dsn_build(&r, &out);
	assert_non_null(strstr(vstr_str(&out),
			       "--" QID "/mx.example.test\n"
			       "Content-Description: Undelivered Message Headers\n"
			       "Content-Type: text/rfc822-headers\n"
			       "\n"
			       "From: alice@example.org\n"
			       "To: bob@example.test\n"
			       "Subject: hello\n"
			       "--" QID "/mx.example.test--\n"));
	assert_null(strstr(vstr_str(&out), "body line"));
	assert_null(strstr(vstr_str(&out), "message/rfc822"));

	/* want_full = 1: the whole message */
	assert_int_equal(dsn_original(fd, &env, 1, 50000, &orig, &headers_only), 0);
	assert_int_equal(headers_only, 0);
	assert_string_equal(vstr_str(&orig), message);
	qenvelope_free(&env);
	close(fd);
	vstr_release(&orig);
	vstr_release(&out);
}

static void test_size_limit_returns_headers(void **state)
{
	struct qenvelope env;
	vstr content = VSTR_INIT, orig = VSTR_INIT;
	int headers_only = -1, fd;

	(void)state;
	vstr_cat(&content, "Subject: big\nX-A: 1\n\n");
	for (int i = 0; i < 2000; i++)
		vstr_cat(&content, "0123456789012345678901234567890123456789\n");
	fd = queue_file(vstr_str(&content), vstr_len(&content), &env);
	/* Over the limit: the header block only, even when full was asked. */
	assert_int_equal(dsn_original(fd, &env, 1, 50000, &orig, &headers_only), 0);
	assert_int_equal(headers_only, 1);
	assert_string_equal(vstr_str(&orig), "Subject: big\nX-A: 1\n");
	/* A limit inside the header block: whole header lines only. */
	assert_int_equal(dsn_original(fd, &env, 1, 16, &orig, &headers_only), 0);
	assert_int_equal(headers_only, 1);
	assert_string_equal(vstr_str(&orig), "Subject: big\n");
	/* At the limit exactly: whole. */
	assert_int_equal(dsn_original(fd, &env, 1, vstr_len(&content), &orig, &headers_only), 0);
	assert_int_equal(headers_only, 0);
	assert_int_equal(vstr_len(&orig), vstr_len(&content));
	qenvelope_free(&env);
	close(fd);

	/* A message with no empty line is all header. */
	fd = queue_file("Subject: x\n", 11, &env);
	assert_int_equal(dsn_original(fd, &env, 0, 50000, &orig, &headers_only), 0);
	assert_string_equal(vstr_str(&orig), "Subject: x\n");
	qenvelope_free(&env);
	close(fd);
	vstr_release(&content);
	vstr_release(&orig);
}

static void test_envid_is_first_field(void **state)
{
	struct dsn_report r = report();
	vstr out = VSTR_INIT;

	(void)state;
	r.envid = "QQ314159";
	dsn_build(&r, &out);
	assert_non_null(strstr(vstr_str(&out),
			       "Content-Type: message/delivery-status\n"
			       "\n"
			       "Original-Envelope-Id: QQ314159\n"
			       "Reporting-MTA: dns; mx.example.test\n"));
	vstr_release(&out);
}

static void test_routes(void **state)
{
	(void)state;
	assert_int_equal(dsn_route_for(DSN_TYPE_FAILURE, "a@b", NULL), DSN_ROUTE_SENDER);
	/* null sender: a double bounce to the postmaster ... */
	assert_int_equal(dsn_route_for(DSN_TYPE_FAILURE, "", NULL), DSN_ROUTE_POSTMASTER);
	assert_int_equal(dsn_route_for(DSN_TYPE_FAILURE, "", "bounce"), DSN_ROUTE_POSTMASTER);
	assert_int_equal(dsn_route_for(DSN_TYPE_FAILURE, "", "delay"), DSN_ROUTE_POSTMASTER);
	/* ... once: a failed double bounce is dropped */
	assert_int_equal(dsn_route_for(DSN_TYPE_FAILURE, "", "double"), DSN_ROUTE_DROP);
	/* never a delay or success notice to <> */
	assert_int_equal(dsn_route_for(DSN_TYPE_DELAY, "", NULL), DSN_ROUTE_NONE);
	assert_int_equal(dsn_route_for(DSN_TYPE_SUCCESS, "", NULL), DSN_ROUTE_NONE);
	assert_int_equal(dsn_route_for(DSN_TYPE_DELAY, "a@b", NULL), DSN_ROUTE_SENDER);
	assert_string_equal(dsn_type_kind(DSN_TYPE_FAILURE, DSN_ROUTE_SENDER), "bounce");
	assert_string_equal(dsn_type_kind(DSN_TYPE_FAILURE, DSN_ROUTE_POSTMASTER), "double");
	assert_string_equal(dsn_type_kind(DSN_TYPE_DELAY, DSN_ROUTE_SENDER), "delay");
	assert_string_equal(dsn_type_kind(DSN_TYPE_SUCCESS, DSN_ROUTE_SENDER), "success");
}

static void test_notify(void **state)
{
	(void)state;
	assert_true(dsn_notify_wants("", DSN_TYPE_FAILURE));
	assert_true(dsn_notify_wants("", DSN_TYPE_DELAY));
	assert_false(dsn_notify_wants("", DSN_TYPE_SUCCESS));
	assert_false(dsn_notify_wants("NEVER", DSN_TYPE_FAILURE));
	assert_false(dsn_notify_wants("never", DSN_TYPE_DELAY));
	assert_true(dsn_notify_wants("SUCCESS,FAILURE", DSN_TYPE_FAILURE));
	assert_true(dsn_notify_wants("success, failure", DSN_TYPE_SUCCESS));
	assert_false(dsn_notify_wants("SUCCESS,FAILURE", DSN_TYPE_DELAY));
	assert_false(dsn_notify_wants("DELAY", DSN_TYPE_FAILURE));
	assert_false(dsn_notify_wants("FAILURES", DSN_TYPE_FAILURE));
	assert_true(dsn_notify_wants("delay", DSN_TYPE_DELAY));
}

static void test_select(void **state)
{
	struct dsn_entry log[6], out[6];
	size_t n;

	(void)state;
	log[0] = entry("a@x", "", "5.1.1", "failed", "", "", "", "first try");
	log[1] = entry("b@x", "", "5.1.1", "failed", "NEVER", "", "", "no notice");
	log[2] = entry("c@x", "", "4.4.1", "delayed", "", "", "", "still trying");
	log[3] = entry("d@x", "", "5.1.1", "failed", "SUCCESS", "", "", "no failure notice");
	log[4] = entry("a@x", "", "5.1.1", "failed", "", "", "", "second try");
	log[5] = entry("a@x", "a-list@x", "5.1.1", "failed", "", "", "", "via the list");
	n = dsn_select(log, 6, DSN_TYPE_FAILURE, 0, out);
	assert_int_equal(n, 2);
	/* one per recipient and orig, the last entry, in first-seen order */
	assert_string_equal(out[0].recipient, "a@x");
	assert_string_equal(out[0].reason, "second try");
	assert_string_equal(out[1].orig, "a-list@x");
	/* a postmaster copy ignores NOTIFY */
	n = dsn_select(log, 6, DSN_TYPE_FAILURE, 1, out);
	assert_int_equal(n, 4);
	assert_string_equal(out[1].recipient, "b@x");
	assert_string_equal(out[2].recipient, "d@x");
	n = dsn_select(log, 6, DSN_TYPE_DELAY, 0, out);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].recipient, "c@x");
	n = dsn_select(log, 6, DSN_TYPE_SUCCESS, 0, out);
	assert_int_equal(n, 0);

	/* NOTIFY=NEVER for everyone: no notification */
	log[0].notify = "NEVER";
	log[4].notify = "NEVER";
	log[5].notify = "NEVER";
	log[3].notify = "NEVER";
	assert_int_equal(dsn_select(log, 6, DSN_TYPE_FAILURE, 0, out), 0);
}

/* check_structure - parts delimiter lines, one close delimiter, last */
static void check_structure(const char *msg, const char *b, int parts)
{
	char line[128];

	snprintf(line, sizeof(line), "--%s", b);
	assert_int_equal(count_lines(msg, line), parts);
	snprintf(line, sizeof(line), "--%s--", b);
	assert_int_equal(count_lines(msg, line), 1);
	/* the close delimiter is the last line */
	strcat(line, "\n");
	assert_string_equal(msg + strlen(msg) - strlen(line), line);
}

static void test_double_bounce(void **state)
{
	struct dsn_report r = report();
	vstr out = VSTR_INIT;

	(void)state;
	r.postmaster = 1;
	r.sender = "";
	r.to = "postmaster";
	dsn_build(&r, &out);
	assert_non_null(strstr(vstr_str(&out), "\nTo: postmaster\n"));
	assert_non_null(strstr(vstr_str(&out), "\nSubject: Postmaster Copy: Undelivered Mail\n"));
	assert_non_null(strstr(vstr_str(&out), ".double@mx.example.test>\n"));
	assert_non_null(strstr(vstr_str(&out), "\nX-Postern-Sender: rfc822;\n"));
	assert_non_null(strstr(vstr_str(&out), "null sender (<>)"));
	check_structure(vstr_str(&out), QID "/mx.example.test", 3);
	vstr_release(&out);
}

static void test_delay_and_success(void **state)
{
	struct dsn_report r = report();
	struct dsn_entry e[1];
	vstr out = VSTR_INIT;

	(void)state;
	e[0] = entry("bob@example.test", "", "4.4.1", "delayed", "", "", "",
		     "connect to mx.example.test[192.0.2.2]:25: Connection refused");
	r.type = DSN_TYPE_DELAY;
	r.rcpt = e;
	r.nrcpt = 1;
	r.arrival = NOW - 5 * 3600 - 10;
	r.lifetime = 5 * 86400;
	r.headers_only = 1;
	r.original = "Subject: hello\n";
	r.original_len = 15;
	dsn_build(&r, &out);
	assert_non_null(strstr(vstr_str(&out), "\nSubject: Delayed Mail (still being retried)\n"));
	assert_non_null(strstr(vstr_str(&out), "# THIS IS A WARNING ONLY."));
	assert_non_null(strstr(vstr_str(&out), "delivered for more than 5 hour(s).\n"
			       "It will be retried until it is 5 day(s) old.\n"));
	assert_non_null(strstr(vstr_str(&out), "\nAction: delayed\nStatus: 4.4.1\n"));
	assert_non_null(strstr(vstr_str(&out), "\nWill-Retry-Until: Mon, 23 Nov 2026 06:06:30 +0000\n"));
	assert_non_null(strstr(vstr_str(&out), "Content-Type: text/rfc822-headers\n"));
	check_structure(vstr_str(&out), QID "/mx.example.test", 3);

	e[0] = entry("bob@example.test", "", "2.0.0", "delivered", "SUCCESS", "", "",
		     "delivered to mailbox");
	r.type = DSN_TYPE_SUCCESS;
	dsn_build(&r, &out);
	assert_non_null(strstr(vstr_str(&out), "\nSubject: Successful Mail Delivery Report\n"));
	assert_non_null(strstr(vstr_str(&out), "\n<bob@example.test>: delivered to mailbox\n"));
	assert_non_null(strstr(vstr_str(&out), "\nAction: delivered\nStatus: 2.0.0\n"));
	assert_non_null(strstr(vstr_str(&out), "Content-Description: Delivered Message Headers\n"));
	/* a bad status is replaced by the class default */
	e[0].dsn = "2.x.0\n5.1.1";
	dsn_build(&r, &out);
	assert_non_null(strstr(vstr_str(&out), "\nStatus: 2.0.0\n"));
	vstr_release(&out);
}

static void test_long_lines_and_control_characters(void **state)
{
	struct dsn_report r = report();
	struct dsn_entry e[1];
	vstr orig = VSTR_INIT, reason = VSTR_INIT, out = VSTR_INIT;
	const char *p;

	(void)state;
	vstr_cat(&orig, "Subject: ");
	for (int i = 0; i < 1500; i++)
		vstr_catc(&orig, 'h');
	vstr_cat(&orig, "\n\n");
	for (int i = 0; i < 2500; i++)
		vstr_catc(&orig, 'b');
	/* no final LF */
	vstr_cat(&reason, "bad\r\nInjected: header\ttab\x01 and \xc3\xa9 ");
	for (int i = 0; i < 1200; i++)
		vstr_catc(&reason, 'r');
	e[0] = entry("bob@example.test", "", "5.0.0", "failed", "", "", "", (char *)vstr_str(&reason));
	r.rcpt = e;
	r.nrcpt = 1;
	r.original = vstr_str(&orig);
	r.original_len = vstr_len(&orig);
	assert_int_equal(dsn_build(&r, &out), 0);
	assert_true(longest_line(vstr_str(&out)) <= DSN_LINE_MAX);
	assert_null(strchr(vstr_str(&out), '\r'));
	/* the only tab is the one folding Content-Type */
	assert_true(strchr(vstr_str(&out), '\t') == strrchr(vstr_str(&out), '\t'));
	assert_null(strstr(vstr_str(&out), "\nInjected:"));
	assert_non_null(strstr(vstr_str(&out), "bad  Injected: header tab  and ??\n    rrr"));
	/* the long header line is folded, the body line split */
	p = strstr(vstr_str(&out), "Subject: hhh");
	assert_non_null(p);
	assert_int_equal(strcspn(p, "\n"), DSN_LINE_MAX);
	assert_int_equal(p[DSN_LINE_MAX + 1], ' ');
	assert_int_equal(strspn(p + DSN_LINE_MAX + 2, "h"), 1500 + 9 - DSN_LINE_MAX);
	p = strstr(vstr_str(&out), "\n\nbbb");
	assert_non_null(p);
	assert_int_equal(strspn(p + 2, "b"), DSN_LINE_MAX);
	check_structure(vstr_str(&out), QID "/mx.example.test", 3);
	vstr_release(&orig);
	vstr_release(&reason);
	vstr_release(&out);
}

static void test_eightbit_and_boundary_collision(void **state)
{
	struct dsn_report r = report();
	vstr out = VSTR_INIT;
	const char *evil = "Subject: caf\xc3\xa9\n\n--" QID "/mx.example.test\n--" QID
		"/mx.example.test.1--\n";

	(void)state;
	r.original = evil;
	r.original_len = strlen(evil);
	assert_int_equal(dsn_build(&r, &out), 1);
	assert_non_null(strstr(vstr_str(&out), "\tboundary=\"" QID "/mx.example.test.2\"\n"
			       "Content-Transfer-Encoding: 8bit\n"));
	assert_non_null(strstr(vstr_str(&out), "Content-Type: message/rfc822\n"
			       "Content-Transfer-Encoding: 8bit\n\n"));
	check_structure(vstr_str(&out), QID "/mx.example.test.2", 3);
	vstr_release(&out);
}

static void test_boundary_is_short(void **state)
{
	vstr b = VSTR_INIT;
	char host[300];

	(void)state;
	memset(host, 'a', sizeof(host) - 1);
	host[sizeof(host) - 1] = 0;
	dsn_boundary(QID, host, "", 0, &b);
	assert_int_equal(vstr_len(&b), DSN_BOUNDARY_BASE);
	dsn_boundary(QID, "we\"ird host", "", 0, &b);
	assert_string_equal(vstr_str(&b), QID "/we_ird_host");
	vstr_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failure_two_recipients),
		cmocka_unit_test(test_ret_hdrs_returns_header_block),
		cmocka_unit_test(test_size_limit_returns_headers),
		cmocka_unit_test(test_envid_is_first_field),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_notify),
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_double_bounce),
		cmocka_unit_test(test_delay_and_success),
		cmocka_unit_test(test_long_lines_and_control_characters),
		cmocka_unit_test(test_eightbit_and_boundary_collision),
		cmocka_unit_test(test_boundary_is_short),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
