/* test_showq_format - the queue listing: JSON escaping, terminal-safe
 * text, the mailq text format, the JSON line format, the showq protocol
 * (multi-frame messages, malformed streams), and reading a queue tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "attr.h"
#include "dsnlog.h"
#include "mem.h"
#include "qfile.h"
#include "rec.h"
#include "showq_format.h"
#include "vstr.h"

static void check_json(const char *in, size_t len, const char *want)
{
	vstr out = VSTR_INIT;

	showq_json_quote(&out, in, len);
	assert_string_equal(vstr_str(&out), want);
	vstr_release(&out);
}

#define JSON(in, want) check_json(in, sizeof(in) - 1, want)

static void test_json_quote(void **state)
{
	(void)state;
	JSON("plain@example.com", "plain@example.com");
	JSON("a\"b\\c", "a\\\"b\\\\c");
	JSON("\b\f\n\r\t", "\\b\\f\\n\\r\\t");
	JSON("\x01\x1b\x1f\x7f", "\\u0001\\u001B\\u001F\\u007F");
	JSON("a\0b", "a\\u0000b");
	/* valid UTF-8 passes: 2, 3 and 4 bytes */
	JSON("\xc3\xa9\xe2\x82\xac\xf0\x9f\x93\xa7", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x93\xa7");
	/* invalid: lone continuation, 0xff, overlong, surrogate, > U+10FFFF */
	JSON("\x80", "\xef\xbf\xbd");
	JSON("x\xffy", "x\xef\xbf\xbdy");
	JSON("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd");
	JSON("\xe0\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	JSON("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	JSON("\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	/* truncated at the end, and cut by an ASCII byte */
	JSON("ok\xe2\x82", "ok\xef\xbf\xbd\xef\xbf\xbd");
	JSON("\xe2(", "\xef\xbf\xbd(");
	/* C1 controls are valid UTF-8 and legal in JSON strings */
	JSON("\xc2\x9b", "\xc2\x9b");
}

static void check_printable(const char *in, const char *want)
{
	vstr out = VSTR_INIT;

	showq_printable(&out, in);
	assert_string_equal(vstr_str(&out), want);
	vstr_release(&out);
}

static void test_printable(void **state)
{
	(void)state;
	check_printable("user@example.com", "user@example.com");
	check_printable("a\x1b[31mb", "a?[31mb");
	check_printable("tab\there\r\n", "tab?here??");
	check_printable("\x7f\xc2\x9b", "??");		/* DEL, C1 CSI */
	check_printable("caf\xc3\xa9", "caf\xc3\xa9");
	check_printable("bad\xff\xc0\xaf" "end", "bad???end");
}

/* sample - three messages as a listing would carry them */
static void sample(struct showq_msg m[3])
{
	for (int i = 0; i < 3; i++)
		showq_msg_init(&m[i]);
	snprintf(m[0].queue_name, sizeof(m[0].queue_name), "active");
	snprintf(m[0].queue_id, sizeof(m[0].queue_id), "6LkKJd0Bf4z3QP");
	m[0].arrival = 1700000000;
	m[0].size = 1234;
	m[0].sender = xstrdup("");
	showq_msg_add_rcpt(&m[0], "root@localhost", "", "");

	snprintf(m[1].queue_name, sizeof(m[1].queue_name), "deferred");
	snprintf(m[1].queue_id, sizeof(m[1].queue_id), "6LkKJd0Bf5z3QQ");
	m[1].arrival = 1700003600;
	m[1].size = 100000;
	m[1].sender = xstrdup("alice@example.com");
	showq_msg_add_rcpt(&m[1], "bob@example.org", "Bob@example.org", "Connection refused");
	showq_msg_add_rcpt(&m[1], "carol@example.org", "", "Connection refused");
	showq_msg_add_rcpt(&m[1], "dave@example.org", "", "");
	showq_msg_add_rcpt(&m[1], "erin@example.org", "", "a reason that is much longer than the seventy-six columns that a mailq line has room for");

	snprintf(m[2].queue_name, sizeof(m[2].queue_name), "hold");
	snprintf(m[2].queue_id, sizeof(m[2].queue_id), "6LkKJd0Bf6z3QR");
	m[2].arrival = 1700090000;
	m[2].size = 2000;
	m[2].sender = xstrdup("x\x1b@example.com");
	showq_msg_add_rcpt(&m[2], "y@example.com", "", "");
}

static void test_text_format(void **state)
{
	struct showq_msg m[3];
	struct showq_text t;
	vstr out = VSTR_INIT;
	const char *want =
		"----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------\n"
		"6LkKJd0Bf4z3QP*       1234 Tue Nov 14 22:13:20 MAILER-DAEMON\n"
		"                                               root@localhost\n"
		"\n"
		"6LkKJd0Bf5z3QQ      100000 Tue Nov 14 23:13:20 alice@example.com\n"
		"                                                          (Connection refused)\n"
		"                                               bob@example.org\n"
		"                                               carol@example.org\n"
		"                                                          (reason unavailable)\n"
		"                                               dave@example.org\n"
		"(a reason that is much longer than the seventy-six columns that a mailq line has room for)\n"
		"                                               erin@example.org\n"
		"\n"
		"6LkKJd0Bf6z3QR!       2000 Wed Nov 15 23:13:20 x?@example.com\n"
		"                                               y@example.com\n"
		"\n"
		"-- 100 Kbytes in 3 Requests.\n";

	(void)state;
	sample(m);
	showq_text_begin(&t);
	showq_text_end(&t, &out);
	assert_string_equal(vstr_str(&out), "Mail queue is empty\n");
	vstr_reset(&out);
	for (int i = 0; i < 3; i++)
		showq_text_message(&t, &m[i], &out);
	showq_text_end(&t, &out);
	assert_string_equal(vstr_str(&out), want);

	/* one request, singular */
	vstr_reset(&out);
	showq_text_begin(&t);
	showq_text_message(&t, &m[2], &out);
	showq_text_end(&t, &out);
	assert_non_null(strstr(vstr_str(&out), "\n-- 1 Kbytes in 1 Request.\n"));
	for (int i = 0; i < 3; i++)
		showq_msg_clear(&m[i]);
	vstr_release(&out);
}

static void test_json_format(void **state)
{
	struct showq_msg m[3];
	vstr out = VSTR_INIT;

	(void)state;
	sample(m);
	showq_json_message(&m[0], &out);
	assert_string_equal(vstr_str(&out),
		"{\"queue_name\": \"active\", \"queue_id\": \"6LkKJd0Bf4z3QP\", "
		"\"arrival_time\": 1700000000, \"message_size\": 1234, \"forced_expire\": false, "
		"\"sender\": \"MAILER-DAEMON\", \"recipients\": [{\"address\": \"root@localhost\", "
		"\"orig_address\": \"\", \"delay_reason\": \"\"}]}\n");
	vstr_reset(&out);
	showq_json_message(&m[2], &out);
	assert_non_null(strstr(vstr_str(&out), "\"sender\": \"x\\u001B@example.com\""));
	vstr_reset(&out);
	showq_json_message(&m[1], &out);
	assert_non_null(strstr(vstr_str(&out), "{\"address\": \"bob@example.org\", "
			       "\"orig_address\": \"Bob@example.org\", \"delay_reason\": \"Connection refused\"}, "
			       "{\"address\": \"carol@example.org\""));
	for (int i = 0; i < 3; i++)
		showq_msg_clear(&m[i]);
	vstr_release(&out);
}

/* The protocol. */

static void test_protocol_round_trip(void **state)
{
	struct showq_msg m[3], got;
	const char *err;
	int sv[2];
	char addr[64];

	(void)state;
	sample(m);
	/* enough recipients for five frames */
	for (int i = 0; i < 4 * SHOWQ_RCPT_PER_FRAME + 3; i++) {
		snprintf(addr, sizeof(addr), "r%d@example.com", i);
		showq_msg_add_rcpt(&m[2], addr, i % 2 ? "o@x" : "", i % 3 ? "why" : "");
	}
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	if (fork() == 0) {
		close(sv[0]);
		for (int i = 0; i < 3; i++)
			if (showq_send_msg(sv[1], &m[i], 5000) < 0)
				_exit(1);
		_exit(showq_send_end(sv[1], 5000) < 0);
	}
	close(sv[1]);
	showq_msg_init(&got);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(showq_recv_msg(sv[0], &got, 5000, &err), 1);
		assert_string_equal(got.queue_name, m[i].queue_name);
		assert_string_equal(got.queue_id, m[i].queue_id);
		assert_int_equal(got.arrival, m[i].arrival);
		assert_int_equal(got.size, m[i].size);
		assert_string_equal(got.sender, m[i].sender);
		assert_int_equal(got.nrcpt, m[i].nrcpt);
		for (size_t k = 0; k < got.nrcpt; k++) {
			assert_string_equal(got.rcpt[k].address, m[i].rcpt[k].address);
			assert_string_equal(got.rcpt[k].orig, m[i].rcpt[k].orig);
			assert_string_equal(got.rcpt[k].reason, m[i].rcpt[k].reason);
		}
	}
	assert_int_equal(showq_recv_msg(sv[0], &got, 5000, &err), 0);
	/* after the end frame the stream ends: a reader asking again fails */
	assert_int_equal(showq_recv_msg(sv[0], &got, 5000, &err), -1);
	close(sv[0]);
	{
		int status;

		assert_true(wait(&status) > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	showq_msg_clear(&got);
	for (int i = 0; i < 3; i++)
		showq_msg_clear(&m[i]);
}

/* recv_one - what showq_recv_msg makes of frame l followed by EOF */
static int recv_one(const struct attr_list *l)
{
	struct showq_msg got;
	const char *err;
	int sv[2], r;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(attr_write(sv[1], l, 1000), 0);
	close(sv[1]);
	showq_msg_init(&got);
	r = showq_recv_msg(sv[0], &got, 1000, &err);
	showq_msg_clear(&got);
	close(sv[0]);
	return r;
}

static void header(struct attr_list *l, const char *id, long long count)
{
	attr_list_clear(l);
	attr_add_str(l, "queue_name", "incoming");
	attr_add_str(l, "queue_id", id);
	attr_add_int(l, "arrival_time", 1);
	attr_add_int(l, "message_size", 2);
	attr_add_str(l, "sender", "s@x");
	attr_add_int(l, "rcpt_count", count);
}

static void test_protocol_malformed(void **state)
{
	struct attr_list l = ATTR_LIST_INIT;

	(void)state;
	header(&l, "6LkKJd0Bf4z3QP", 0);
	assert_int_equal(recv_one(&l), 1);
	header(&l, "../etc/passwd", 0);			/* not an ID */
	assert_int_equal(recv_one(&l), -1);
	header(&l, "6LkKJd0Bf4z3QP", 1);			/* recipient missing */
	assert_int_equal(recv_one(&l), -1);
	header(&l, "6LkKJd0Bf4z3QP", SHOWQ_RCPT_PER_FRAME + 1);
	assert_int_equal(recv_one(&l), -1);
	header(&l, "6LkKJd0Bf4z3QP", -1);
	assert_int_equal(recv_one(&l), -1);
	header(&l, "6LkKJd0Bf4z3QP", 0);
	attr_add_int(&l, "more", 1);				/* continuation missing */
	assert_int_equal(recv_one(&l), -1);
	attr_list_clear(&l);
	attr_add_str(&l, "queue_name", "incoming");		/* fields missing */
	assert_int_equal(recv_one(&l), -1);
	attr_list_clear(&l);
	attr_add_int(&l, "end", 1);
	assert_int_equal(recv_one(&l), 0);
	attr_list_clear(&l);
}

/* Reading a queue tree. */

static char qdir[] = "/tmp/test_showq.XXXXXX";

static void mkdirs(void)
{
	const char *dirs[] = {"maildrop", "incoming", "active", "deferred", "deferred/f",
			      "hold", "defer", NULL};
	char path[256];

	for (int i = 0; dirs[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", qdir, dirs[i]);
		mkdir(path, 0700);
	}
}

struct rcpt_spec {
	const char *addr, *orig;
	int done;
};

/* write_queue_file - a queue file as cleanup writes one */
static void write_queue_file(const char *path, const char *sender, const struct rcpt_spec *r,
			     const char *content, mode_t mode)
{
	struct rec_writer w;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	rec_writer_init(&w, fd, 0);
	rec_puts(&w, REC_VERSION, "postern-queue 1");
	rec_putf(&w, REC_SIZE, "%15lld %15lld %15lld", (long long)strlen(content), 0LL, 0LL);
	rec_puts(&w, REC_TIME, "1700000000 5");
	rec_puts(&w, REC_ATTR, "origin=local");
	rec_puts(&w, REC_SENDER, sender);
	for (; r->addr; r++) {
		if (*r->orig)
			rec_puts(&w, REC_ORCPT, r->orig);
		rec_puts(&w, r->done ? REC_DONE : REC_RCPT, r->addr);
	}
	rec_put(&w, REC_MESSAGE, "", 0);
	rec_puts(&w, REC_BODY, content);
	rec_put(&w, REC_END, "", 0);
	assert_int_equal(rec_flush(&w), 0);
	rec_writer_free(&w);
	fchmod(fd, mode);
	close(fd);
}

static void write_maildrop_file(const char *path)
{
	struct rec_writer w;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	rec_writer_init(&w, fd, 0);
	rec_puts(&w, REC_VERSION, "postern-maildrop 1");
	rec_puts(&w, REC_TIME, "1700000300 0");
	rec_puts(&w, REC_ATTR, "uid=1000");
	rec_puts(&w, REC_SENDER, "user");
	rec_puts(&w, REC_FULLNAME, "A User");
	rec_puts(&w, REC_NOTIFY, "never");
	rec_puts(&w, REC_RCPT, "friend@example.com");
	rec_put(&w, REC_MESSAGE, "", 0);
	rec_puts(&w, REC_BODY, "Subject: hi\n\nhello\n");
	rec_put(&w, REC_END, "", 0);
	assert_int_equal(rec_flush(&w), 0);
	rec_writer_free(&w);
	fchmod(fd, QFILE_MODE_MAILDROP);
	close(fd);
}

static void defer(const char *id, const char *rcpt, const char *reason)
{
	char dir[256];
	struct dsn_entry e = {(char *)rcpt, "", "4.4.1", "delayed", "", "", "", (char *)reason};

	snprintf(dir, sizeof(dir), "%s/defer", qdir);
	assert_int_equal(dsnlog_append(dir, id, &e), 0);
}

struct collected {
	vstr text;
	int n;
};

static int collect(const struct showq_msg *m, void *ctx)
{
	struct collected *c = ctx;

	vstr_catf(&c->text, "%s %s %lld %lld <%s>", m->queue_name, m->queue_id, m->arrival,
		  m->size, m->sender);
	for (size_t i = 0; i < m->nrcpt; i++)
		vstr_catf(&c->text, " %s/%s/%s", m->rcpt[i].address, m->rcpt[i].orig,
			  m->rcpt[i].reason);
	vstr_catc(&c->text, '\n');
	return ++c->n == 100 ? -1 : 0;
}

static void test_scan_queue(void **state)
{
	const struct rcpt_spec one[] = {{"a@x", "", 0}, {NULL, NULL, 0}};
	const struct rcpt_spec many[] = {
		{"p@x", "P@x", 0}, {"q@x", "", 0}, {"r@x", "", 1}, {"s@x", "", 0}, {"t@x", "", 0},
		{NULL, NULL, 0}};
	struct collected c = {VSTR_INIT, 0};
	char path[256], long_reason[SHOWQ_REASON_MAX + 10];
	const char *want;

	(void)state;
	assert_non_null(mkdtemp(qdir));
	mkdirs();
	snprintf(path, sizeof(path), "%s/incoming/6LkKJd0Bf4z3QP", qdir);
	write_queue_file(path, "", one, "body\n", QFILE_MODE_QUEUED);
	snprintf(path, sizeof(path), "%s/incoming/6LkKJd0Bf4z3QQ", qdir);	/* being written */
	write_queue_file(path, "", one, "body\n", QFILE_MODE_WRITING);
	snprintf(path, sizeof(path), "%s/incoming/tmp.1.2.0", qdir);		/* not an ID */
	write_queue_file(path, "", one, "body\n", QFILE_MODE_QUEUED);
	snprintf(path, sizeof(path), "%s/active/6LkKJd0Bf4z3QR", qdir);		/* corrupt */
	close(open(path, O_CREAT | O_WRONLY, QFILE_MODE_QUEUED));
	chmod(path, QFILE_MODE_QUEUED);
	snprintf(path, sizeof(path), "%s/deferred/f/6LkKJd0Bf5z3QS", qdir);
	write_queue_file(path, "s@example.com", many, "0123456789", QFILE_MODE_QUEUED);
	snprintf(path, sizeof(path), "%s/hold/6LkKJd0Bf6z3QT", qdir);
	write_queue_file(path, "h@example.com", one, "x", QFILE_MODE_QUEUED);
	snprintf(path, sizeof(path), "%s/maildrop/6LkKJd0Bf7z3QV", qdir);
	write_maildrop_file(path);

	/* reasons: last entry wins; grouped by first appearance; cut at a
	 * UTF-8 boundary */
	defer("6LkKJd0Bf5z3QS", "t@x", "first");
	defer("6LkKJd0Bf5z3QS", "q@x", "second");
	defer("6LkKJd0Bf5z3QS", "t@x", "second");
	memset(long_reason, 'a', sizeof(long_reason));
	memcpy(long_reason + SHOWQ_REASON_MAX - 1, "\xc3\xa9", 2);
	long_reason[sizeof(long_reason) - 1] = 0;
	defer("6LkKJd0Bf5z3QS", "s@x", long_reason);
	defer("6LkKJd0Bf5z3QS", "r@x", "done recipients are not listed");

	assert_int_equal(showq_scan(qdir, collect, &c), 0);
	want = "maildrop 6LkKJd0Bf7z3QV 1700000300 ";
	assert_memory_equal(vstr_str(&c.text), want, strlen(want));
	assert_int_equal(c.n, 4);
	{
		const char *t = vstr_str(&c.text);
		char expect_long[SHOWQ_REASON_MAX + 200];

		assert_non_null(strstr(t, "<user> friend@example.com//\n"));
		assert_non_null(strstr(t, "\nincoming 6LkKJd0Bf4z3QP 1700000000 5 <> a@x//\n"));
		/* long reason: SHOWQ_REASON_MAX - 1 bytes, the é dropped whole */
		snprintf(expect_long, sizeof(expect_long), "\ndeferred 6LkKJd0Bf5z3QS 1700000000 10 "
			 "<s@example.com> q@x//second t@x//second s@x//%.*s p@x/P@x/\n",
			 SHOWQ_REASON_MAX - 1, long_reason);
		assert_non_null(strstr(t, expect_long));
		assert_non_null(strstr(t, "\nhold 6LkKJd0Bf6z3QT 1700000000 1 <h@example.com> a@x//\n"));
		assert_null(strstr(t, "3QQ"));
		assert_null(strstr(t, "3QR"));
		assert_null(strstr(t, "r@x"));
	}
	/* showq_read_file on one file */
	{
		struct showq_msg m;
		const char *err;

		showq_msg_init(&m);
		snprintf(path, sizeof(path), "%s/active/6LkKJd0Bf4z3QR", qdir);
		assert_int_equal(showq_read_file(qdir, "active", "6LkKJd0Bf4z3QR", path, &m, &err), -1);
		snprintf(path, sizeof(path), "%s/active/6LkKJd0Bf9z3QZ", qdir);
		assert_int_equal(showq_read_file(qdir, "active", "6LkKJd0Bf9z3QZ", path, &m, &err), 1);
		showq_msg_clear(&m);
	}
	vstr_release(&c.text);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", qdir);
		assert_int_equal(system(cmd), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_quote),
		cmocka_unit_test(test_printable),
		cmocka_unit_test(test_text_format),
		cmocka_unit_test(test_json_format),
		cmocka_unit_test(test_protocol_round_trip),
		cmocka_unit_test(test_protocol_malformed),
		cmocka_unit_test(test_scan_queue),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
