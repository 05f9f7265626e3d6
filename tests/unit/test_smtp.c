/* test_smtp - unit tests for smtp/: nexthop forms (SMTP and LMTP), the
 * server reply parser fed whole, at every split point and as garbage,
 * enhanced status codes, EHLO keywords, the content conversion (CRLF,
 * dot-stuffing, long lines; any chunking gives the same bytes), xtext and
 * the MAIL/RCPT parameters, and lib/delivery_agent: the request parser
 * and the per-recipient bookkeeping in a scratch queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "attr.h"
#include "config.h"
#include <sys/socket.h>
#include "delivery_agent.h"
#include "dsnlog.h"
#include "rec.h"
#include "testutil.h"
#include "mem.h"
#include "vstr.h"
#include "../../smtp/smtp.h"

/* ---- nexthops ---------------------------------------------------------- */

static void nh_ok(const char *text, int lmtp, enum smtp_nh_kind kind, const char *host,
		  unsigned port, int literal)
{
	struct smtp_nexthop nh;
	const char *err = NULL;

	if (smtp_nexthop_parse(text, lmtp, &nh, &err) != 0)
		fail_msg("%s: %s", text, err);
	assert_int_equal(nh.kind, kind);
	assert_string_equal(nh.host, host);
	assert_int_equal(nh.port, port);
	assert_int_equal(nh.literal, literal);
}

static void nh_bad(const char *text, int lmtp)
{
	struct smtp_nexthop nh;
	const char *err = NULL;

	if (smtp_nexthop_parse(text, lmtp, &nh, &err) == 0)
		fail_msg("%s parsed", text);
	assert_non_null(err);
}

static void test_nexthop_smtp(void **state)
{
	(void)state;
	nh_ok("example.test", 0, SMTP_NH_DOMAIN, "example.test", 25, 0);
	nh_ok("example.test:2525", 0, SMTP_NH_DOMAIN, "example.test", 2525, 0);
	nh_ok("[mx.example.test]", 0, SMTP_NH_HOST, "mx.example.test", 25, 0);
	nh_ok("[mx.example.test]:587", 0, SMTP_NH_HOST, "mx.example.test", 587, 0);
	nh_ok("[192.0.2.1]", 0, SMTP_NH_HOST, "192.0.2.1", 25, 1);
	nh_ok("[192.0.2.1]:2525", 0, SMTP_NH_HOST, "192.0.2.1", 2525, 1);
	nh_ok("[2001:db8::1]", 0, SMTP_NH_HOST, "2001:db8::1", 25, 1);
	nh_ok("[2001:db8::1]:26", 0, SMTP_NH_HOST, "2001:db8::1", 26, 1);
	nh_ok("[ipv6:2001:db8::1]", 0, SMTP_NH_HOST, "2001:db8::1", 25, 1);
	nh_ok("192.0.2.7", 0, SMTP_NH_HOST, "192.0.2.7", 25, 1);
	nh_ok("example.test:smtp", 0, SMTP_NH_DOMAIN, "example.test", 25, 0);
	nh_bad("", 0);
	nh_bad("[192.0.2.1", 0);
	nh_bad("[192.0.2.1]x", 0);
	nh_bad("[192.0.2.1]:0", 0);
	nh_bad("[192.0.2.1]:65536", 0);
	nh_bad("example.test:", 0);
	nh_bad("example.test:port", 0);
	nh_bad("2001:db8::1", 0);
	nh_bad("bad name.test", 0);
	nh_bad("[]", 0);
	nh_bad("unix:/run/lmtp", 0);
}

static void test_nexthop_lmtp(void **state)
{
	(void)state;
	nh_ok("unix:/var/run/dovecot/lmtp", 1, SMTP_NH_UNIX, "/var/run/dovecot/lmtp", 24, 0);
	nh_ok("unix:private/dovecot-lmtp", 1, SMTP_NH_UNIX, "private/dovecot-lmtp", 24, 0);
	nh_ok("inet:mail.test:2424", 1, SMTP_NH_HOST, "mail.test", 2424, 0);
	nh_ok("inet:mail.test", 1, SMTP_NH_HOST, "mail.test", 24, 0);
	nh_ok("inet:[192.0.2.5]:24", 1, SMTP_NH_HOST, "192.0.2.5", 24, 1);
	nh_ok("inet:192.0.2.5:24", 1, SMTP_NH_HOST, "192.0.2.5", 24, 1);
	nh_ok("mail.test:24", 1, SMTP_NH_HOST, "mail.test", 24, 0);
	nh_ok("[2001:db8::5]", 1, SMTP_NH_HOST, "2001:db8::5", 24, 1);
	nh_bad("unix:", 1);
	nh_bad("inet:", 1);
}

/* ---- replies ----------------------------------------------------------- */

/* feed_all - the whole input as one reply; returns the bytes used */
static size_t feed(struct smtp_reply *r, const char *in, size_t len, int *done)
{
	size_t used = 0;

	*done = smtp_reply_feed(r, in, len, &used);
	return used;
}

static void test_reply_single(void **state)
{
	struct smtp_reply r;
	int done;
	const char *in = "250 2.1.0 Ok\r\nextra";

	(void)state;
	smtp_reply_init(&r);
	assert_int_equal(feed(&r, in, strlen(in), &done), 14);
	assert_true(done);
	assert_int_equal(r.code, 250);
	assert_string_equal(r.dsn, "2.1.0");
	assert_string_equal(vstr_str(&r.text), "250 2.1.0 Ok");
	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, "450 mailbox busy\n", 17, &done), 17);
	assert_true(done);
	assert_string_equal(r.dsn, "4.0.0");	/* no enhanced code: the class default */
	smtp_reply_reset(&r);
	feed(&r, "550 4.1.1 wrong class\r\n", 23, &done);
	assert_string_equal(r.dsn, "5.0.0");
	smtp_reply_reset(&r);
	feed(&r, "220\r\n", 5, &done);
	assert_true(done);
	assert_int_equal(r.code, 220);
	smtp_reply_free(&r);
}

static void test_reply_multiline_splits(void **state)
{
	const char *in = "250-mx.test Hello\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 DSN\r\n";
	size_t len = strlen(in);

	(void)state;
	for (size_t cut = 0; cut <= len; cut++) {
		struct smtp_reply r;
		size_t used1 = 0, used2 = 0;
		int done;

		smtp_reply_init(&r);
		done = smtp_reply_feed(&r, in, cut, &used1);
		assert_int_equal(done, cut == len);
		if (!done) {
			assert_int_equal(used1, cut);
			assert_int_equal(smtp_reply_feed(&r, in + cut, len - cut, &used2), 1);
		}
		assert_int_equal(used1 + used2, len);
		assert_int_equal(r.code, 250);
		assert_string_equal(vstr_str(&r.text), "250-mx.test Hello\n250-PIPELINING\n250-SIZE 1000\n250 DSN");
		smtp_reply_free(&r);
	}
}

static void test_reply_bytewise(void **state)
{
	const char *in = "550-5.1.1 first\r\n550 5.1.1 second\r\n";
	struct smtp_reply r;
	vstr one = VSTR_INIT;
	size_t used;
	int done = 0;

	(void)state;
	smtp_reply_init(&r);
	for (size_t i = 0; i < strlen(in); i++) {
		assert_false(done);
		done = smtp_reply_feed(&r, in + i, 1, &used);
		assert_int_equal(used, 1);
	}
	assert_true(done);
	assert_int_equal(r.code, 550);
	assert_string_equal(r.dsn, "5.1.1");
	smtp_reply_oneline(&r, &one);
	assert_string_equal(vstr_str(&one), "550-5.1.1 first 550 5.1.1 second");
	vstr_release(&one);
	smtp_reply_free(&r);
}

static void test_reply_malformed(void **state)
{
	static const char *bad[] = {"hello\r\n", "25\r\n", "2500 x\r\n", "099 x\r\n", "650 x\r\n",
				    "250x\r\n", "\r\n", "250-a\r\n251 b\r\n" /* differs: last wins */,
				    "250-a\r\n550-b\r\n"};
	struct smtp_reply r;
	int done;

	(void)state;
	smtp_reply_init(&r);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		smtp_reply_reset(&r);
		feed(&r, bad[i], strlen(bad[i]), &done);
		assert_true(done);
		if (i == 7)
			assert_int_equal(r.code, 251);
		else
			assert_int_equal(r.code, 0);
	}
	smtp_reply_free(&r);
}

static void test_reply_long_lines_capped(void **state)
{
	size_t n = 100000;
	char *big = xmalloc(n + 16);
	struct smtp_reply r;
	int done;

	(void)state;
	memcpy(big, "250-", 4);
	memset(big + 4, 'x', n - 4);
	memcpy(big + n, "\r\n250 end\r\n", 11);
	smtp_reply_init(&r);
	assert_int_equal(feed(&r, big, n + 11, &done), n + 11);
	assert_true(done);
	assert_int_equal(r.code, 250);
	assert_true(vstr_len(&r.text) <= SMTP_REPLY_MAX);
	/* endless continuation lines end as malformed, not as a hang */
	smtp_reply_reset(&r);
	done = 0;
	for (size_t i = 0; i < SMTP_REPLY_LINES + 5 && !done; i++)
		feed(&r, "250-x\r\n", 7, &done);
	assert_true(done);
	assert_int_equal(r.code, 0);
	smtp_reply_free(&r);
	free(big);
}

static void test_ehlo_features(void **state)
{
	long long size = -1;
	unsigned f;

	(void)state;
	f = smtp_ehlo_features("250-mx.test Hi\n250-PIPELINING\n250-SIZE 10240000\n250-8BITMIME\n"
			       "250-smtputf8\n250-DSN\n250-STARTTLS\n250 AUTH PLAIN LOGIN", &size);
	assert_int_equal(f, SMTP_FEAT_PIPELINING | SMTP_FEAT_SIZE | SMTP_FEAT_8BITMIME | SMTP_FEAT_SMTPUTF8
			 | SMTP_FEAT_DSN | SMTP_FEAT_STARTTLS | SMTP_FEAT_AUTH);
	assert_int_equal(size, 10240000);
	f = smtp_ehlo_features("250-PIPELINING\n250 SIZE", &size);	/* first line is the greeting */
	assert_int_equal(f, SMTP_FEAT_SIZE);
	assert_int_equal(size, 0);
	f = smtp_ehlo_features("250 mx.test", &size);
	assert_int_equal(f, 0);
	f = smtp_ehlo_features("250-x\n250-PIPELININGX\n250-DSNX\n250 SIZE abc", &size);
	assert_int_equal(f, SMTP_FEAT_SIZE);
	assert_int_equal(size, 0);
}

/* ---- content ------------------------------------------------------------ */

static char *convert(const char *in, size_t limit, size_t chunk)
{
	struct smtp_conv c;
	vstr out = VSTR_INIT;
	size_t len = strlen(in);

	smtp_conv_init(&c, limit);
	for (size_t i = 0; i < len; i += chunk)
		smtp_conv_feed(&c, in + i, len - i < chunk ? len - i : chunk, &out);
	smtp_conv_end(&c, &out);
	return vstr_steal(&out);
}

static void conv_eq(const char *in, size_t limit, const char *want)
{
	size_t len = strlen(in);

	for (size_t chunk = 1; chunk <= len + 1; chunk++) {
		char *got = convert(in, limit, chunk);

		if (strcmp(got, want) != 0)
			fail_msg("chunk %zu: got %s", chunk, got);
		free(got);
	}
}

static void test_content(void **state)
{
	(void)state;
	conv_eq("", 998, ".\r\n");
	conv_eq("a\nb\n", 998, "a\r\nb\r\n.\r\n");
	conv_eq("no newline", 998, "no newline\r\n.\r\n");
	conv_eq(".\n..\n.x\nx.\n\n.", 998, "..\r\n...\r\n..x\r\nx.\r\n\r\n..\r\n.\r\n");
	conv_eq("abcdefgh\n", 3, "abc\r\n de\r\n fg\r\n h\r\n.\r\n");
	conv_eq("abc\n", 3, "abc\r\n.\r\n");
	conv_eq("abcd\n", 0, "abcd\r\n.\r\n");
	conv_eq(".abcdef\n", 3, "..ab\r\n cd\r\n ef\r\n.\r\n");	/* the stuffed dot is not counted */
}

static void test_content_998(void **state)
{
	char *in = xmalloc(2001), *out;

	(void)state;
	memset(in, 'y', 2000);
	in[2000] = 0;
	out = convert(in, 998, 4096);
	assert_int_equal(strlen(out), 998 + 3 + 997 + 3 + 5 + 2 + 3);
	assert_memory_equal(out + 998, "\r\n y", 4);
	assert_memory_equal(out + 998 + 3 + 997, "\r\n y", 4);
	free(in);
	free(out);
}

/* ---- parameters ----------------------------------------------------------- */

static void test_xtext(void **state)
{
	vstr v = VSTR_INIT;

	(void)state;
	smtp_xtext_encode("a+b=c d\x01\xc3\xa9~!", &v);
	assert_string_equal(vstr_str(&v), "a+2Bb+3Dc+20d+01+C3+A9~!");
	vstr_reset(&v);
	smtp_orcpt_param("rfc822;user+x@test", &v);
	assert_string_equal(vstr_str(&v), " ORCPT=rfc822;user+2Bx@test");
	vstr_reset(&v);
	smtp_orcpt_param("orig@test", &v);
	assert_string_equal(vstr_str(&v), " ORCPT=rfc822;orig@test");
	vstr_reset(&v);
	smtp_orcpt_param("utf-8;j\xc3\xb6@test", &v);
	assert_string_equal(vstr_str(&v), " ORCPT=utf-8;j+C3+B6@test");
	vstr_reset(&v);
	smtp_orcpt_param("", &v);
	assert_string_equal(vstr_str(&v), "");
	vstr_release(&v);
	assert_int_equal(smtp_needs_utf8("plain@test"), 0);
	assert_int_equal(smtp_needs_utf8("j\xc3\xb6@test"), 1);
}

static void test_commands(void **state)
{
	struct da_request req;
	struct da_rcpt r = {"to@test", "rfc822;orig@test", "SUCCESS,FAILURE", 10, DA_UNDECIDED};
	vstr v = VSTR_INIT;

	(void)state;
	memset(&req, 0, sizeof(req));
	req.sender = "s@test", req.envid = "id+1", req.ret = "HDRS", req.body_type = "8BITMIME";
	req.content_size = 1234;
	smtp_mail_cmd(&req, 0, 1, &v);
	assert_string_equal(vstr_str(&v), "MAIL FROM:<s@test>\r\n");
	smtp_mail_cmd(&req, SMTP_FEAT_SIZE | SMTP_FEAT_8BITMIME | SMTP_FEAT_SMTPUTF8 | SMTP_FEAT_DSN, 1, &v);
	assert_string_equal(vstr_str(&v),
			    "MAIL FROM:<s@test> SIZE=1234 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+2B1\r\n");
	req.body_type = "7BIT", req.envid = "", req.ret = "";
	smtp_mail_cmd(&req, SMTP_FEAT_8BITMIME | SMTP_FEAT_DSN, 0, &v);
	assert_string_equal(vstr_str(&v), "MAIL FROM:<s@test>\r\n");
	vstr_reset(&v);
	smtp_rcpt_cmd(&r, 0, &v);
	assert_string_equal(vstr_str(&v), "RCPT TO:<to@test>\r\n");
	vstr_reset(&v);
	smtp_rcpt_cmd(&r, SMTP_FEAT_DSN, &v);
	assert_string_equal(vstr_str(&v), "RCPT TO:<to@test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;orig@test\r\n");
	vstr_release(&v);
}

/* ---- delivery_agent ------------------------------------------------------- */

static void test_request_parse(void **state)
{
	struct attr_list l = ATTR_LIST_INIT;
	struct da_request req;
	const char *err = NULL;

	(void)state;
	attr_add_str(&l, "queue_id", "6LkKJd0Bf4z3QP");
	attr_add_str(&l, "queue_name", "active");
	attr_add_str(&l, "sender", "s@test");
	attr_add_str(&l, "nexthop", "[192.0.2.1]:2525");
	attr_add_str(&l, "times", "100.5 101 102.25");
	attr_add_int(&l, "content_offset", 200);
	attr_add_int(&l, "content_size", 3000);
	attr_add_str(&l, "smtputf8", "1");
	attr_add_int(&l, "rcpt_count", 2);
	attr_add_str(&l, "r0_addr", "a@test");
	attr_add_str(&l, "r0_orig", "");
	attr_add_str(&l, "r0_notify", "");
	attr_add_int(&l, "r0_offset", 50);
	attr_add_str(&l, "r1_addr", "b@test");
	attr_add_str(&l, "r1_orig", "rfc822;B@test");
	attr_add_str(&l, "r1_notify", "NEVER");
	assert_int_equal(da_request_parse(&l, &req, &err), -1);	/* r1_offset missing */
	attr_add_int(&l, "r1_offset", 80);
	assert_int_equal(da_request_parse(&l, &req, &err), 0);
	assert_string_equal(req.nexthop, "[192.0.2.1]:2525");
	assert_int_equal(req.nrcpt, 2);
	assert_int_equal(req.smtputf8, 1);
	assert_string_equal(req.body_type, "");
	assert_int_equal(req.rcpt[1].offset, 80);
	assert_string_equal(req.rcpt[1].orig, "rfc822;B@test");
	assert_true(req.times.dispatch > 102.2 && req.times.dispatch < 102.3);
	assert_int_equal(da_pending(&req), 2);
	da_request_free(&req);
	attr_list_clear(&l);
}

/* test_record - da_record's bookkeeping in a scratch queue: a bounce is
 * logged with the remote MTA and diagnostic and marked done, a deferral
 * is logged and stays R, a success with NOTIFY=SUCCESS leaves a trace
 * entry and is marked done; the reply carries status, dsn and reason. */
static void test_record(void **state)
{
	char *dir = tu_scratch_dir("test_smtp"), cwd[4096];
	struct da_request req;
	struct da_rcpt r[3] = {
		{"bad@test", "", "", 0, DA_UNDECIDED},
		{"later@test", "", "", 0, DA_UNDECIDED},
		{"ok@test", "", "SUCCESS", 0, DA_UNDECIDED},
	};
	struct da_outcome bounce = {DA_BOUNCED, "5.1.1", "host mx[192.0.2.1] said: 550 5.1.1 no",
				    "mx[192.0.2.1]:25", "dns; mx", "smtp; 550 5.1.1 no", 0};
	struct da_outcome defer = {DA_DEFERRED, "4.2.0", "host mx said: 450", "mx[192.0.2.1]:25", "", "", 0};
	struct da_outcome sent = {DA_SENT, "2.0.0", "250 2.0.0 Ok", "mx[192.0.2.1]:25", "dns; mx", "", 2};
	struct dsn_entry *e;
	struct rec_writer w;
	const struct attr *a;
	char byte;

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	for (const char *d = "bounce\0defer\0trace\0active\0"; *d; d += strlen(d) + 1)
		assert_int_equal(mkdir(d, 0700), 0);
	memset(&req, 0, sizeof(req));
	req.queue_id = "6LkKJd0Bf4z3QP";
	req.fd = open("active/6LkKJd0Bf4z3QP", O_RDWR | O_CREAT, 0600);
	assert_true(req.fd >= 0);
	rec_writer_init(&w, req.fd, 0);
	for (int i = 0; i < 3; i++)
		r[i].offset = rec_puts(&w, REC_RCPT, r[i].addr);
	assert_int_equal(rec_flush(&w), 0);
	rec_writer_free(&w);
	req.rcpt = r, req.nrcpt = 3;
	da_record(&req, 0, &bounce);
	da_record(&req, 1, &defer);
	da_record(&req, 2, &sent);
	assert_int_equal(da_pending(&req), 0);
	assert_int_equal(dsnlog_read("bounce", req.queue_id, &e), 1);
	assert_string_equal(e[0].recipient, "bad@test");
	assert_string_equal(e[0].remote_mta, "dns; mx");
	assert_string_equal(e[0].diagnostic, "smtp; 550 5.1.1 no");
	assert_string_equal(e[0].action, "failed");
	dsnlog_free(e, 1);
	assert_int_equal(dsnlog_read("defer", req.queue_id, &e), 1);
	assert_string_equal(e[0].action, "delayed");
	dsnlog_free(e, 1);
	assert_int_equal(dsnlog_read("trace", req.queue_id, &e), 1);
	assert_string_equal(e[0].action, "delivered");
	dsnlog_free(e, 1);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pread(req.fd, &byte, 1, r[i].offset), 1);
		assert_int_equal(byte, i == 1 ? REC_RCPT : REC_DONE);
	}
	assert_non_null(a = attr_find(&req.reply, "r0_status"));
	assert_string_equal(a->value, "bounced");
	assert_non_null(a = attr_find(&req.reply, "r1_dsn"));
	assert_string_equal(a->value, "4.2.0");
	assert_non_null(a = attr_find(&req.reply, "r2_reason"));
	assert_string_equal(a->value, "250 2.0.0 Ok");
	req.rcpt = NULL, req.nrcpt = 0;
	da_request_free(&req);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(tu_remove_tree(dir), 0);
	free(dir);
}

/* ---- whole dialogues over a socketpair ------------------------------------ */
/* The server's replies are written before the client runs (they fit in
 * the socket buffer); afterwards the test reads what the client sent. */

struct dialogue {
	char *dir, cwd[4096];
	int sv[2];
	struct da_request req;
	struct da_rcpt r[2];
	struct smtp_session s;
	struct smtp_timeouts t;
};

static void dialogue_start(struct dialogue *d, unsigned features, const char *replies)
{
	struct rec_writer w;
	static const char content[] = "Subject: t\n\n.dot\nbody\n";

	memset(d, 0, sizeof(*d));
	assert_int_equal(conf_load_string("", "main.cf", NULL), 0);
	d->dir = tu_scratch_dir("test_smtp");
	assert_non_null(getcwd(d->cwd, sizeof(d->cwd)));
	assert_int_equal(chdir(d->dir), 0);
	for (const char *p = "bounce\0defer\0trace\0"; *p; p += strlen(p) + 1)
		assert_int_equal(mkdir(p, 0700), 0);
	d->req.fd = open("qfile", O_RDWR | O_CREAT, 0600);
	rec_writer_init(&w, d->req.fd, 0);
	d->r[0] = (struct da_rcpt){"a@test", "", "", 0, DA_UNDECIDED};
	d->r[1] = (struct da_rcpt){"b@test", "", "", 0, DA_UNDECIDED};
	d->r[0].offset = rec_puts(&w, REC_RCPT, "a@test");
	d->r[1].offset = rec_puts(&w, REC_RCPT, "b@test");
	d->req.content_offset = rec_put(&w, REC_MESSAGE, "", 0);
	rec_put(&w, REC_BODY, content, strlen(content));
	rec_put(&w, REC_END, "", 0);
	assert_int_equal(rec_flush(&w), 0);
	rec_writer_free(&w);
	d->req.queue_id = "6LkKJd0Bf4z3QP", d->req.sender = "s@test", d->req.envid = "";
	d->req.ret = "", d->req.body_type = "", d->req.content_size = 20;
	d->req.rcpt = d->r, d->req.nrcpt = 2;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, d->sv), 0);
	assert_int_equal(write(d->sv[1], replies, strlen(replies)), (ssize_t)strlen(replies));
	d->s.fd = d->sv[0];
	d->s.features = features;
	d->s.clean = 1;
	snprintf(d->s.srv.host, sizeof(d->s.srv.host), "mx.test");
	snprintf(d->s.relay, sizeof(d->s.relay), "mx.test[192.0.2.1]:25");
	snprintf(d->s.name, sizeof(d->s.name), "mx.test[192.0.2.1]");
	d->t = (struct smtp_timeouts){1, 1, 1, 1, 1, 1, 1, 1, 1};
}

/* dialogue_sent - what the client wrote (after it closed or stopped) */
static char *dialogue_sent(struct dialogue *d)
{
	vstr v = VSTR_INIT;
	char buf[4096];
	ssize_t n;

	shutdown(d->sv[0] >= 0 ? d->sv[0] : d->sv[1], SHUT_WR);
	fcntl(d->sv[1], F_SETFL, O_NONBLOCK);
	while ((n = read(d->sv[1], buf, sizeof(buf))) > 0)
		vstr_ncat(&v, buf, (size_t)n);
	return vstr_steal(&v);
}

static void dialogue_end(struct dialogue *d)
{
	if (d->s.fd >= 0)
		close(d->s.fd);
	vstr_release(&d->s.wbuf);
	close(d->sv[1]);
	d->req.rcpt = NULL, d->req.nrcpt = 0;
	da_request_free(&d->req);
	assert_int_equal(chdir(d->cwd), 0);
	assert_int_equal(tu_remove_tree(d->dir), 0);
	free(d->dir);
}

static void test_dialogue_pipelined(void **state)
{
	struct dialogue d;
	struct smtp_fail f;
	char *sent;

	(void)state;
	dialogue_start(&d, SMTP_FEAT_PIPELINING | SMTP_FEAT_SIZE,
		       "250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n354 go\r\n250 2.0.0 queued as X\r\n");
	assert_int_equal(smtp_deliver(&d.s, &d.req, &d.t, &f), SMTP_TRY_DONE);
	assert_int_equal(d.r[0].status, DA_SENT);
	assert_int_equal(d.r[1].status, DA_BOUNCED);
	assert_int_equal(d.s.clean, 1);
	sent = dialogue_sent(&d);
	assert_string_equal(sent, "MAIL FROM:<s@test> SIZE=20\r\nRCPT TO:<a@test>\r\nRCPT TO:<b@test>\r\n"
			    "DATA\r\nSubject: t\r\n\r\n..dot\r\nbody\r\n.\r\n");
	free(sent);
	dialogue_end(&d);
}

static void test_dialogue_nothing_accepted(void **state)
{
	struct dialogue d;
	struct smtp_fail f;
	char *sent;

	(void)state;
	/* not pipelined: no DATA at all, and the next transaction needs RSET */
	dialogue_start(&d, 0, "250 ok\r\n450 4.2.0 busy\r\n550 5.1.1 no\r\n");
	assert_int_equal(smtp_deliver(&d.s, &d.req, &d.t, &f), SMTP_TRY_DONE);
	assert_int_equal(d.r[0].status, DA_DEFERRED);
	assert_int_equal(d.r[1].status, DA_BOUNCED);
	assert_int_equal(d.s.clean, 0);
	sent = dialogue_sent(&d);
	assert_string_equal(sent, "MAIL FROM:<s@test>\r\nRCPT TO:<a@test>\r\nRCPT TO:<b@test>\r\n");
	free(sent);
	dialogue_end(&d);
}

static void test_dialogue_lmtp_and_hostile(void **state)
{
	struct dialogue d;
	struct smtp_fail f;

	(void)state;
	dialogue_start(&d, SMTP_FEAT_PIPELINING,
		       "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 2.0.0 a ok\r\n452 4.2.2 b full\r\n");
	d.s.lmtp = 1;
	assert_int_equal(smtp_deliver(&d.s, &d.req, &d.t, &f), SMTP_TRY_DONE);
	assert_int_equal(d.r[0].status, DA_SENT);
	assert_int_equal(d.r[1].status, DA_DEFERRED);
	dialogue_end(&d);
	/* garbage and a vanishing server: nothing decided, try the next server */
	dialogue_start(&d, SMTP_FEAT_PIPELINING, "250-ok\r\nxyz\r\n");
	assert_int_equal(smtp_deliver(&d.s, &d.req, &d.t, &f), SMTP_TRY_DONE);
	assert_int_equal(d.r[0].status, DA_DEFERRED);	/* MAIL got a malformed reply */
	assert_int_equal(d.r[1].status, DA_DEFERRED);
	dialogue_end(&d);
	dialogue_start(&d, 0, "250 ok\r\n");
	close(d.sv[1]);
	d.sv[1] = open("/dev/null", O_RDONLY);
	assert_int_equal(smtp_deliver(&d.s, &d.req, &d.t, &f), SMTP_TRY_NEXT);
	assert_string_equal(f.reason, "lost connection with mx.test[192.0.2.1] while sending MAIL FROM");
	assert_int_equal(da_pending(&d.req), 2);
	dialogue_end(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nexthop_smtp),
		cmocka_unit_test(test_nexthop_lmtp),
		cmocka_unit_test(test_reply_single),
		cmocka_unit_test(test_reply_multiline_splits),
		cmocka_unit_test(test_reply_bytewise),
		cmocka_unit_test(test_reply_malformed),
		cmocka_unit_test(test_reply_long_lines_capped),
		cmocka_unit_test(test_ehlo_features),
		cmocka_unit_test(test_content),
		cmocka_unit_test(test_content_998),
		cmocka_unit_test(test_xtext),
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_request_parse),
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_dialogue_pipelined),
		cmocka_unit_test(test_dialogue_nothing_accepted),
		cmocka_unit_test(test_dialogue_lmtp_and_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
