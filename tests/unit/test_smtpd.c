/* test_smtpd - unit tests for smtpd/: the command-line helpers, the RFC
 * 5321 path parser (quoted local parts, source routes, SMTPUTF8, address
 * literals, limits, garbage), ESMTP parameters and xtext, the DATA/BDAT
 * content parser fed at every split point and a byte at a time (dot
 * unstuffing, bare CR/LF, the smuggling sequences, CRLF.CRLF as the only
 * end), and whole dialogues through the command table on a socketpair
 * (everything before DATA: states, syntax, relay control, limits), and
 * the restriction lists: each restriction, each access table result,
 * smtpd_delay_reject on and off, first-match order, configuration errors,
 * with the log lines they write. */
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "mem.h"
#include "msg.h"
#include "../../smtpd/smtpd.h"
#include "vstr.h"

/* ---- command lines --------------------------------------------------- */

static void test_split_verb(void **state)
{
	char verb[SMTPD_VERB_MAX + 1];
	const char *args;

	(void)state;
	assert_int_equal(smtpd_split_verb("mail FROM:<a@b>", verb, &args), 0);
	assert_string_equal(verb, "MAIL");
	assert_string_equal(args, "FROM:<a@b>");
	assert_int_equal(smtpd_split_verb("QUIT", verb, &args), 0);
	assert_string_equal(verb, "QUIT");
	assert_string_equal(args, "");
	assert_int_equal(smtpd_split_verb("EHLO   host", verb, &args), 0);
	assert_string_equal(args, "host");
	assert_int_equal(smtpd_split_verb("", verb, &args), -1);
	assert_int_equal(smtpd_split_verb(" NOOP", verb, &args), -1);
	assert_int_equal(smtpd_split_verb("NOOP\tx", verb, &args), -1);
	assert_int_equal(smtpd_split_verb("MAIL:FROM", verb, &args), -1);
	assert_int_equal(smtpd_split_verb("ABCDEFGHIJKLMNOPQ", verb, &args), -1);
	assert_int_equal(smtpd_split_verb("ABCDEFGHIJKLMNOP", verb, &args), 0);
}

static void test_line_scan(void **state)
{
	(void)state;
	assert_int_equal(smtpd_line_scan("NOOP", 4), 0);
	assert_int_equal(smtpd_line_scan("NO\rOP", 5), SMTPD_LINE_BARE_CR);
	assert_int_equal(smtpd_line_scan("NO\0OP", 5), SMTPD_LINE_NUL);
	assert_int_equal(smtpd_line_scan("N\xc3\xa9", 3), SMTPD_LINE_8BIT);
}

/* ---- paths ------------------------------------------------------------ */

struct path_case {
	const char *in;
	int flags;
	const char *addr;		/* NULL: must fail */
	const char *local, *domain;
	int literal;
	const char *rest;		/* what follows the path */
};

static const struct path_case path_cases[] = {
	{"<user@Example.COM>", 0, "user@example.com", "user", "example.com", 0, ""},
	{"<USER@OTHER.EXAMPLE>", 0, "USER@other.example", "USER", "other.example", 0, ""},
	{"<user@other.example.>", 0, "user@other.example", "user", "other.example", 0, ""},
	{"user@example.com", 0, "user@example.com", "user", "example.com", 0, ""},
	{"  <a@b.example> SIZE=10", 0, "a@b.example", "a", "b.example", 0, " SIZE=10"},
	{"<>", SMTPD_PATH_NULL_OK, "", "", "", 0, ""},
	{"<> BODY=8BITMIME", SMTPD_PATH_NULL_OK, "", "", "", 0, " BODY=8BITMIME"},
	{"<>", 0, NULL, NULL, NULL, 0, NULL},
	{"<postmaster>", 0, "postmaster", "postmaster", "", 0, ""},
	/* the open relay tricks: the final domain is the one after the last '@' */
	{"<user%other.example@ourdomain>", 0, "user%other.example@ourdomain", "user%other.example",
	 "ourdomain", 0, ""},
	{"<other.example!user@ourdomain>", 0, "other.example!user@ourdomain", "other.example!user",
	 "ourdomain", 0, ""},
	{"<@ourdomain:user@other.example>", 0, "user@other.example", "user", "other.example", 0, ""},
	{"<@ourdomain,@other.example:user@third.example>", 0, "user@third.example", "user",
	 "third.example", 0, ""},
	{"<@[192.0.2.1],@a.example:u@b.example>", 0, "u@b.example", "u", "b.example", 0, ""},
	{"<\"user@other.example\"@ourdomain>", 0, "\"user@other.example\"@ourdomain",
	 "user@other.example", "ourdomain", 0, ""},
	{"<\"user%other.example\"@ourdomain>", 0, "user%other.example@ourdomain",
	 "user%other.example", "ourdomain", 0, ""},
	{"<\"a\\\"b c\"@x.example>", 0, "\"a\\\"b c\"@x.example", "a\"b c", "x.example", 0, ""},
	{"<\"\\@\"@x.example>", 0, "\"@\"@x.example", "@", "x.example", 0, ""},
	{"<user@other.example@ourdomain>", 0, NULL, NULL, NULL, 0, NULL},
	{"<user@[1.2.3.4]>", 0, "user@[1.2.3.4]", "user", "[1.2.3.4]", 1, ""},
	{"<user@[IPv6:2001:db8::1]>", 0, "user@[IPv6:2001:db8::1]", "user", "[IPv6:2001:db8::1]", 1, ""},
	{"<user@[1.2.3.256]>", 0, NULL, NULL, NULL, 0, NULL},
	{"<user@[IPv6:1.2.3.4]>", 0, NULL, NULL, NULL, 0, NULL},
	{"<user@[x]>", 0, NULL, NULL, NULL, 0, NULL},
	{"<user@[tag:some-text]>", 0, "user@[tag:some-text]", "user", "[tag:some-text]", 1, ""},
	{"<user@[127.0.0.1]:25>", 0, NULL, NULL, NULL, 0, NULL},
	{"<[127.0.0.1]:25>", 0, NULL, NULL, NULL, 0, NULL},
	{"<a..b@x.example>", 0, "a..b@x.example", "a..b", "x.example", 0, ""},
	{"<.!>", 0, ".!", ".!", "", 0, ""},
	{"<a@x..example>", 0, NULL, NULL, NULL, 0, NULL},
	{"<a@.example>", 0, NULL, NULL, NULL, 0, NULL},
	{"<a@x.example..>", 0, NULL, NULL, NULL, 0, NULL},
	{"<a@>", 0, NULL, NULL, NULL, 0, NULL},
	{"<@>", 0, NULL, NULL, NULL, 0, NULL},
	{"<@x.example>", 0, NULL, NULL, NULL, 0, NULL},
	{"<@x.example:>", 0, NULL, NULL, NULL, 0, NULL},
	{"<\"\">", 0, NULL, NULL, NULL, 0, NULL},
	{"<\"\"@x.example>", 0, NULL, NULL, NULL, 0, NULL},
	{"<\"a@x.example>", 0, NULL, NULL, NULL, 0, NULL},
	{"<\\>", 0, NULL, NULL, NULL, 0, NULL},
	{"<<a@b>>", 0, NULL, NULL, NULL, 0, NULL},
	{"<a@b", 0, NULL, NULL, NULL, 0, NULL},
	{"<a@b>x", 0, NULL, NULL, NULL, 0, NULL},
	{"< a@b>", 0, NULL, NULL, NULL, 0, NULL},
	{"<a b@c>", 0, NULL, NULL, NULL, 0, NULL},
	{"<a@b c>", 0, NULL, NULL, NULL, 0, NULL},
	{"<a,b@c>", 0, NULL, NULL, NULL, 0, NULL},
	{"", 0, NULL, NULL, NULL, 0, NULL},
	{"<", 0, NULL, NULL, NULL, 0, NULL},
	/* SMTPUTF8 */
	{"<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.example>", SMTPD_PATH_UTF8_OK,
	 "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.example", "\xe7\x94\xa8\xe6\x88\xb7",
	 "\xe4\xbe\x8b\xe5\xad\x90.example", 0, ""},
	{"<\xe7\x94\xa8\xe6\x88\xb7@x.example>", 0, NULL, NULL, NULL, 0, NULL},
	{"<a@\xe4\xbe\x8b.example>", 0, NULL, NULL, NULL, 0, NULL},
	{"<\"caf\xc3\xa9\"@x.example>", SMTPD_PATH_UTF8_OK, "caf\xc3\xa9@x.example", "caf\xc3\xa9",
	 "x.example", 0, ""},
	{"<\"caf\xc3\xa9\"@x.example>", 0, NULL, NULL, NULL, 0, NULL},
	{"<a\xc3\x28@x.example>", SMTPD_PATH_UTF8_OK, NULL, NULL, NULL, 0, NULL},
	{"<a\xc0\xaf@x.example>", SMTPD_PATH_UTF8_OK, NULL, NULL, NULL, 0, NULL},
	{"<a\xed\xa0\x80@x.example>", SMTPD_PATH_UTF8_OK, NULL, NULL, NULL, 0, NULL},
};

static void check_path(const struct path_case *c)
{
	struct smtpd_addr a;
	const char *end = NULL, *why = NULL;
	int r = smtpd_parse_path(c->in, c->flags, &a, &end, &why);

	if ((r == 0) != (c->addr != NULL))
		fail_msg("%s: got %d (%s)", c->in, r, why ? why : "-");
	if (r < 0) {
		assert_non_null(why);
		return;
	}
	assert_string_equal(a.addr, c->addr);
	assert_string_equal(a.local, c->local);
	assert_string_equal(a.domain, c->domain);
	assert_int_equal(a.literal, c->literal);
	assert_string_equal(end, c->rest);
	assert_int_equal(a.utf8, strpbrk(c->addr, "\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b"
					 "\x8c\x8d\x8e\x8f\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b"
					 "\x9c\x9d\x9e\x9f\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8\xa9\xaa\xab"
					 "\xac\xad\xae\xaf\xb0\xb1\xb2\xb3\xb4\xb5\xb6\xb7\xb8\xb9\xba\xbb"
					 "\xbc\xbd\xbe\xbf\xc3\xe4\xe6\xe7\xe5") != NULL);
	smtpd_addr_free(&a);
}

static void test_paths(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++)
		check_path(&path_cases[i]);
}

/* long_path - "<" local "@" labels ">" with the given sizes */
static int long_path(size_t local_len, size_t label_len, size_t labels)
{
	vstr v = VSTR_INIT;
	struct smtpd_addr a;
	const char *end, *why;
	int r;

	vstr_catc(&v, '<');
	for (size_t i = 0; i < local_len; i++)
		vstr_catc(&v, 'l');
	vstr_catc(&v, '@');
	for (size_t n = 0; n < labels; n++) {
		for (size_t i = 0; i < label_len; i++)
			vstr_catc(&v, 'd');
		vstr_catc(&v, n + 1 < labels ? '.' : '>');
	}
	r = smtpd_parse_path(vstr_str(&v), 0, &a, &end, &why);
	if (r == 0)
		smtpd_addr_free(&a);
	vstr_release(&v);
	return r;
}

static void test_path_limits(void **state)
{
	(void)state;
	assert_int_equal(long_path(64, 63, 3), 0);
	assert_int_equal(long_path(200, 63, 3), 0);		/* long local parts exist (SRS) */
	assert_int_equal(long_path(1, 64, 1), -1);		/* a label of 64 */
	assert_int_equal(long_path(1, 63, 4), 0);		/* 255 bytes of domain */
	assert_int_equal(long_path(1, 63, 5), -1);		/* 319 */
	assert_int_equal(long_path(600, 10, 1), -1);		/* past SMTPD_PATH_MAX */
	assert_int_equal(long_path(100000, 10, 1), -1);
}

static void test_params(void **state)
{
	struct argv k = ARGV_INIT, v = ARGV_INIT;
	const char *why;

	(void)state;
	assert_int_equal(smtpd_parse_params(" SIZE=100  BODY=8BITMIME SMTPUTF8", &k, &v, &why), 0);
	assert_int_equal(k.n, 3);
	assert_string_equal(k.v[0], "SIZE");
	assert_string_equal(v.v[0], "100");
	assert_string_equal(k.v[2], "SMTPUTF8");
	assert_string_equal(v.v[2], "");
	argv_free(&k);
	argv_free(&v);
	assert_int_equal(smtpd_parse_params("", &k, &v, &why), 0);
	assert_int_equal(k.n, 0);
	assert_int_equal(smtpd_parse_params("SIZE=", &k, &v, &why), -1);
	assert_int_equal(smtpd_parse_params("=1", &k, &v, &why), -1);
	assert_int_equal(smtpd_parse_params("A=b=c", &k, &v, &why), -1);
	assert_int_equal(smtpd_parse_params("-A=b", &k, &v, &why), -1);
	assert_int_equal(smtpd_parse_params("A_B=1", &k, &v, &why), -1);
	assert_int_equal(smtpd_parse_params("A=\x01", &k, &v, &why), -1);
	argv_free(&k);
	argv_free(&v);
}

static void test_xtext_size_utf8(void **state)
{
	vstr out = VSTR_INIT;

	(void)state;
	assert_int_equal(smtpd_xtext_decode("a+2Bb+3Dc", &out), 0);
	assert_string_equal(vstr_str(&out), "a+b=c");
	assert_int_equal(smtpd_xtext_decode("+2", &out), -1);
	assert_int_equal(smtpd_xtext_decode("+zz", &out), -1);
	assert_int_equal(smtpd_xtext_decode("+2b", &out), -1);	/* upper-case hex only */
	assert_int_equal(smtpd_xtext_decode("a+0Ab", &out), -1);	/* no line ends */
	assert_int_equal(smtpd_xtext_decode("a+00", &out), -1);
	assert_int_equal(smtpd_xtext_decode("a=b", &out), -1);
	vstr_release(&out);
	assert_int_equal(smtpd_parse_size("0"), 0);
	assert_int_equal(smtpd_parse_size("10240000"), 10240000);
	assert_int_equal(smtpd_parse_size("999999999999999999"), 999999999999999999LL);
	assert_int_equal(smtpd_parse_size("18446744073709551616"), -1);
	assert_int_equal(smtpd_parse_size("-1"), -1);
	assert_int_equal(smtpd_parse_size(""), -1);
	assert_int_equal(smtpd_parse_size("12a"), -1);
	assert_true(smtpd_utf8_valid("caf\xc3\xa9 \xf0\x9f\x98\x80", 10));
	assert_false(smtpd_utf8_valid("\xc0\xaf", 2));
	assert_false(smtpd_utf8_valid("\xe0\x80\xaf", 3));
	assert_false(smtpd_utf8_valid("\xed\xa0\x80", 3));
	assert_false(smtpd_utf8_valid("\xf4\x90\x80\x80", 4));
	assert_false(smtpd_utf8_valid("\xc3", 1));
	assert_false(smtpd_utf8_valid("\xff", 1));
}

/* ---- content ------------------------------------------------------------ */

struct fed {
	vstr out;
	unsigned flags;
	int done;
	size_t taken;
};

/* feed_pieces - input in pieces cut at the given offsets; stops feeding
 * once the parser says done, as the session does */
static void feed_pieces(enum smtpd_data_mode mode, const char *in, size_t len,
			const size_t *cuts, size_t ncuts, struct fed *f)
{
	struct smtpd_data d;
	size_t pos = 0;

	smtpd_data_init(&d, mode);
	vstr_init(&f->out);
	f->taken = 0;
	for (size_t i = 0; i <= ncuts && !d.done; i++) {
		size_t end = i < ncuts ? cuts[i] : len, n;

		n = smtpd_data_feed(&d, in + pos, end - pos, &f->out);
		f->taken += n;
		if (!d.done)
			assert_int_equal(n, end - pos);	/* all of it until the end */
		pos = end;
	}
	if (mode == SMTPD_DATA_RAW)
		smtpd_data_finish(&d, &f->out);
	f->flags = d.flags;
	f->done = d.done;
	assert_int_equal(d.out_bytes, (long long)vstr_len(&f->out));
	assert_int_equal(d.in_bytes, (long long)f->taken);
}

static void same(const struct fed *a, const struct fed *b)
{
	assert_int_equal(vstr_len(&a->out), vstr_len(&b->out));
	assert_memory_equal(vstr_str(&a->out), vstr_str(&b->out), vstr_len(&a->out));
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->done, b->done);
	assert_int_equal(a->taken, b->taken);
}

/* feed_all_ways - one piece, every 2-way split, every 3-way split of short
 * input, and one byte at a time must agree; returns the one-piece result */
static void feed_all_ways(enum smtpd_data_mode mode, const char *in, size_t len, struct fed *whole)
{
	struct fed f;
	size_t *cuts = xcalloc(len + 2, sizeof(size_t));

	feed_pieces(mode, in, len, NULL, 0, whole);
	for (size_t i = 0; i <= len; i++) {
		cuts[0] = i;
		feed_pieces(mode, in, len, cuts, 1, &f);
		same(whole, &f);
		vstr_release(&f.out);
	}
	if (len <= 40) {
		for (size_t i = 0; i <= len; i++)
			for (size_t j = i; j <= len; j++) {
				cuts[0] = i;
				cuts[1] = j;
				feed_pieces(mode, in, len, cuts, 2, &f);
				same(whole, &f);
				vstr_release(&f.out);
			}
	}
	for (size_t i = 0; i < len; i++)
		cuts[i] = i + 1;
	feed_pieces(mode, in, len, cuts, len, &f);
	same(whole, &f);
	vstr_release(&f.out);
	free(cuts);
}

#define FEED(mode, lit, f) feed_all_ways(mode, lit, sizeof(lit) - 1, f)

static void expect_n(const struct fed *f, const char *out, size_t outlen, unsigned flags, int done,
		     size_t taken)
{
	if (vstr_len(&f->out) != outlen || memcmp(vstr_str(&f->out), out, outlen) != 0)
		fail_msg("content \"%s\", want \"%s\"", vstr_str(&f->out), out);
	assert_int_equal(f->flags, flags);
	assert_int_equal(f->done, done);
	assert_int_equal(f->taken, taken);
}

static void expect(const struct fed *f, const char *out, unsigned flags, int done, size_t taken)
{
	expect_n(f, out, strlen(out), flags, done, taken);
}

static void test_data_basic(void **state)
{
	static const char msg[] = "Subject: x\r\n\r\nbody\r\n..dot\r\n...\r\n.\r\nMAIL FROM:<a@b>\r\n";
	struct fed f;

	(void)state;
	FEED(SMTPD_DATA_DOT, msg, &f);
	expect(&f, "Subject: x\n\nbody\n.dot\n..\n", 0, 1, strlen(msg) - strlen("MAIL FROM:<a@b>\r\n"));
	vstr_release(&f.out);
	/* an empty message: the CRLF of the DATA command counts */
	FEED(SMTPD_DATA_DOT, ".\r\nQUIT\r\n", &f);
	expect(&f, "", 0, 1, 3);
	vstr_release(&f.out);
	/* no end yet */
	FEED(SMTPD_DATA_DOT, "line\r\n.", &f);
	expect(&f, "line\n", 0, 0, 7);
	vstr_release(&f.out);
	FEED(SMTPD_DATA_DOT, "a line without end", &f);
	expect(&f, "a line without end", 0, 0, 18);
	vstr_release(&f.out);
	/* ". " and ".x" lines are stuffed lines, not ends */
	FEED(SMTPD_DATA_DOT, ". \r\n.x\r\n.\r\n", &f);
	expect(&f, " \nx\n", 0, 1, 11);
	vstr_release(&f.out);
	/* NUL and 8-bit are content */
	FEED(SMTPD_DATA_DOT, "a\0b\xff\r\n.\r\n", &f);
	expect_n(&f, "a\0b\xff\n", 5, 0, 1, 9);
	vstr_release(&f.out);
}

static void test_data_bare(void **state)
{
	struct fed f;

	(void)state;
	FEED(SMTPD_DATA_DOT, "a\nb\r\n.\r\n", &f);
	expect(&f, "a\nb\n", SMTPD_DATA_BARE_LF, 1, 8);
	vstr_release(&f.out);
	FEED(SMTPD_DATA_DOT, "a\rb\r\n.\r\n", &f);
	expect(&f, "a\rb\n", SMTPD_DATA_BARE_CR, 1, 8);
	vstr_release(&f.out);
	FEED(SMTPD_DATA_DOT, "a\r\r\nb\r\n.\r\n", &f);
	expect(&f, "a\r\nb\n", SMTPD_DATA_BARE_CR, 1, 10);
	vstr_release(&f.out);
	/* a stuffed line after a bare LF loses its dot too */
	FEED(SMTPD_DATA_DOT, "a\n..b\r\n.\r\n", &f);
	expect(&f, "a\n.b\n", SMTPD_DATA_BARE_LF, 1, 10);
	vstr_release(&f.out);
}

/* The SMTP smuggling end-of-data candidates (security.md 1.1): inside
 * DATA each ends nothing, so the smuggled commands are content and the
 * only end is the real CRLF.CRLF after them. */
static void test_data_smuggling(void **state)
{
	static const struct {
		const char *seq;
		size_t len;
		unsigned flags;
	} seqs[] = {
		{"\n.\n", 3, SMTPD_DATA_BARE_LF},
		{"\n.\r", 3, SMTPD_DATA_BARE_LF | SMTPD_DATA_BARE_CR},
		{"\r.\n", 3, SMTPD_DATA_BARE_LF | SMTPD_DATA_BARE_CR},
		{"\r.\r", 3, SMTPD_DATA_BARE_CR},
		{"\n.\r\n", 4, SMTPD_DATA_BARE_LF},
		{"\r.\r\n", 4, SMTPD_DATA_BARE_CR},
		{"\r\n.\n", 4, SMTPD_DATA_BARE_LF},
		{"\r\n.\r", 4, SMTPD_DATA_BARE_CR},
		{"\r\n\0.\r\n", 6, 0},
		{"\r\n.\0\r\n", 6, 0},
		{"\r\n.\r\r\n", 6, SMTPD_DATA_BARE_CR},
		{"\r\r\n.\r\r\n", 7, SMTPD_DATA_BARE_CR},
	};
	static const char smuggled[] = "MAIL FROM:<evil@dom.test>\r\nRCPT TO:<u@dom.test>\r\nDATA\r\n"
				       "Subject: smuggled\r\n\r\nx\r\n";
	static const char end[] = ".\r\nQUIT\r\n";

	(void)state;
	for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		vstr in = VSTR_INIT;
		struct fed f;

		vstr_cat(&in, "Subject: one\r\n\r\nbody");
		vstr_ncat(&in, seqs[i].seq, seqs[i].len);
		vstr_cat(&in, smuggled);
		vstr_cat(&in, end);
		feed_all_ways(SMTPD_DATA_DOT, vstr_str(&in), vstr_len(&in), &f);
		/* one message, ending at the last CRLF.CRLF only */
		assert_int_equal(f.done, 1);
		assert_int_equal(f.taken, vstr_len(&in) - strlen("QUIT\r\n"));
		if (f.flags != seqs[i].flags)
			fail_msg("sequence %zu: flags %u, want %u", i, f.flags, seqs[i].flags);
		assert_non_null(memmem(vstr_str(&f.out), vstr_len(&f.out), "Subject: smuggled", 17));
		vstr_release(&f.out);
		vstr_release(&in);
	}
}

static void test_bdat_content(void **state)
{
	struct fed f;

	(void)state;
	/* no dots, no end: everything is content */
	FEED(SMTPD_DATA_RAW, "a\r\n.\r\n..b\r\nc", &f);
	expect(&f, "a\n.\n..b\nc", 0, 0, 12);
	vstr_release(&f.out);
	FEED(SMTPD_DATA_RAW, "a\nb\rc\r", &f);
	expect(&f, "a\nb\rc\r", SMTPD_DATA_BARE_LF | SMTPD_DATA_BARE_CR, 0, 6);
	vstr_release(&f.out);
	FEED(SMTPD_DATA_RAW, "", &f);
	expect(&f, "", 0, 0, 0);
	vstr_release(&f.out);
}

/* a larger message: 2-way splits and bytes agree (the fast path of long
 * text runs against the byte path) */
static void test_data_large(void **state)
{
	vstr in = VSTR_INIT, want = VSTR_INIT;
	struct fed f;

	(void)state;
	for (int i = 0; i < 300; i++) {
		vstr_catf(&in, "%sline %d %s\r\n", i % 7 == 0 ? "." : "", i, i % 5 ? "xxxxxxxxxx" : "");
		vstr_catf(&want, "line %d %s\n", i, i % 5 ? "xxxxxxxxxx" : "");
	}
	vstr_cat(&in, ".\r\n");
	feed_all_ways(SMTPD_DATA_DOT, vstr_str(&in), vstr_len(&in), &f);
	expect(&f, vstr_str(&want), 0, 1, vstr_len(&in));
	vstr_release(&f.out);
	vstr_release(&in);
	vstr_release(&want);
}

/* ---- dialogues through the command table ------------------------------- */

static const char test_conf[] =
	"myhostname = mx.example\n"
	"mydestination = mx.example, localhost\n"
	"mynetworks = 127.0.0.0/8\n"
	"relay_domains = relay.example, .sub.example\n"
	"alias_maps = inline:{postmaster=root}\n"
	"smtpd_forbid_unauth_pipelining = no\n"
	"smtpd_error_sleep_time = 0\n";

static int setup(void **state)
{
	(void)state;
	assert_int_equal(conf_load_string(test_conf, "main.cf", NULL), 0);
	return 0;
}

/* dialogue_named - plays script to a session for a client name[addr];
 * returns the replies (malloc'ed) */
static char *dialogue_named(const char *name, const char *addr, const char *script, size_t len)
{
	struct smtpd_session s;
	int sv[2];
	vstr out = VSTR_INIT;
	char buf[4096];
	ssize_t n;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[0], script, len), (ssize_t)len);
	shutdown(sv[0], SHUT_WR);
	smtpd_session_init(&s, sv[1], sv[1], 0);
	smtpd_session_client(&s, name, addr, "1234");
	smtpd_session_run(&s);
	smtpd_session_free(&s);
	close(sv[1]);
	while ((n = read(sv[0], buf, sizeof(buf))) > 0)
		vstr_ncat(&out, buf, (size_t)n);
	close(sv[0]);
	return vstr_steal(&out);
}

static char *dialogue(const char *addr, const char *script, size_t len)
{
	return dialogue_named("client.example", addr, script, len);
}

#define DIALOGUE(addr, lit) dialogue(addr, lit, sizeof(lit) - 1)

/* replies_are - the reply lines (multi-line ones by their last line) have
 * these prefixes, in order, and nothing else */
static void replies_are(const char *replies, ...)
{
	const char *p = replies, *want;
	va_list ap;

	va_start(ap, replies);
	while ((want = va_arg(ap, const char *)) != NULL) {
		const char *eol;

		while (strncmp(p, "250-", 4) == 0 && (eol = strstr(p, "\r\n")) != NULL)
			p = eol + 2;	/* EHLO continuation lines */
		if (strncmp(p, want, strlen(want)) != 0)
			fail_msg("want \"%s\" at: %s\nall replies:\n%s", want, p, replies);
		eol = strstr(p, "\r\n");
		assert_non_null(eol);
		p = eol + 2;
	}
	va_end(ap);
	if (*p)
		fail_msg("unexpected replies: %s", p);
}

static void test_dialogue_sequence(void **state)
{
	char *r;

	(void)state;
	r = DIALOGUE("192.0.2.1",
		     "MAIL FROM:<a@b.example>\r\n"
		     "RCPT TO:<root@mx.example>\r\n"
		     "DATA\r\n"
		     "EHLO client.example\r\n"
		     "RCPT TO:<root@mx.example>\r\n"
		     "DATA\r\n"
		     "MAIL FROM:<a@b.example>\r\n"
		     "MAIL FROM:<c@d.example>\r\n"
		     "DATA\r\n"
		     "RCPT TO:<root@mx.example>\r\n"
		     "RSET\r\n"
		     "RCPT TO:<root@mx.example>\r\n"
		     "HELO again.example\r\n"
		     "NOOP\r\n"
		     "QUIT\r\n"
		     "NOOP\r\n");
	replies_are(r, "220 mx.example ESMTP postern\r\n",
		    "503 5.5.1 Error: send HELO/EHLO first",
		    "503 5.5.1 Error: send HELO/EHLO first",
		    "503 5.5.1 Error: send HELO/EHLO first",
		    "250 CHUNKING",
		    "503 5.5.1 Error: need MAIL command",
		    "503 5.5.1 Error: need RCPT command",
		    "250 2.1.0 Ok",
		    "503 5.5.1 Error: nested MAIL command",
		    "554 5.5.1 Error: no valid recipients",
		    "250 2.1.5 Ok",
		    "250 2.0.0 Ok",
		    "503 5.5.1 Error: need MAIL command",
		    "250 mx.example",
		    "250 2.0.0 Ok",
		    "221 2.0.0 Bye", NULL);
	free(r);
}

static void test_dialogue_ehlo(void **state)
{
	char *r;

	(void)state;
	r = DIALOGUE("192.0.2.1", "EHLO c.example\r\nQUIT\r\n");
	assert_non_null(strstr(r, "\r\n250-mx.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
			       "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n"
			       "250 CHUNKING\r\n221 2.0.0 Bye\r\n"));
	assert_null(strstr(r, "VRFY"));
	free(r);
	conf_override("disable_vrfy_command", "no");
	conf_override("smtputf8_enable", "no");
	conf_override("message_size_limit", "0");
	r = DIALOGUE("192.0.2.1", "EHLO c.example\r\nVRFY root@mx.example\r\nVRFY nobody-here@mx.example\r\n"
		     "MAIL FROM:<a@b.example> SMTPUTF8\r\n");
	assert_non_null(strstr(r, "250-SIZE\r\n250-VRFY\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
			       "250-DSN\r\n250 CHUNKING\r\n"));
	assert_non_null(strstr(r, "\r\n252 2.0.0 root@mx.example\r\n550 5.1.1 <nobody-here@mx.example>: "));
	assert_non_null(strstr(r, "\r\n555 5.5.4 Unsupported option: SMTPUTF8\r\n"));
	free(r);
}

static void test_dialogue_syntax(void **state)
{
	char *r;

	(void)state;
	r = DIALOGUE("192.0.2.1",
		     "EHLO\r\n"
		     "EHLO c.example\r\n"
		     "MAIL <a@b.example>\r\n"
		     "MAIL FROM:<a@b.example\r\n"
		     "MAIL FROM:<a@b.example> SIZE=99999999999\r\n"
		     "MAIL FROM:<a@b.example> SIZE=x\r\n"
		     "MAIL FROM:<a@b.example> BODY=9BIT\r\n"
		     "MAIL FROM:<a@b.example> FOO=1\r\n"
		     "MAIL FROM:<a@b.example> RET=FULL RET=HDRS\r\n"
		     "MAIL FROM:<a@b.example> ENVID=a+0Ab\r\n"
		     "MAIL FROM:<a@b.example> RET=SOME\r\n"
		     "MAIL FROM: <a@b.example> SIZE=100 BODY=8bitmime RET=hdrs ENVID=q+2Bx\r\n"
		     "RCPT TO:<root@mx.example> NOTIFY=BOGUS\r\n"
		     "RCPT TO:<root@mx.example> ORCPT=x\r\n"
		     "RCPT TO:<root@mx.example> XYZ\r\n"
		     "RCPT TO:<>\r\n"
		     "RCPT TO:root@mx.example\r\n"
		     "RCPT TO:<postmaster> NOTIFY=success,failure ORCPT=rfc822;postmaster+40mx.example\r\n"
		     "RSET x\r\n"
		     "VRFY root\r\n"
		     "FOO bar\r\n"
		     "\r\n"
		     "QUIT\r\n");
	replies_are(r, "220 ",
		    "501 5.5.4 Syntax: EHLO hostname",
		    "250 CHUNKING",
		    "501 5.5.4 Syntax: MAIL FROM:<address>",
		    "501 5.1.7 Bad sender address syntax",
		    "552 5.3.4 Message size exceeds fixed limit",
		    "501 5.5.4 Bad message size syntax",
		    "501 5.5.4 Unsupported BODY parameter value",
		    "555 5.5.4 Unsupported option: FOO",
		    "501 5.5.4 Error: duplicate parameter RET",
		    "501 5.5.4 Bad ENVID parameter syntax",
		    "501 5.5.4 Bad RET parameter syntax",
		    "250 2.1.0 Ok",
		    "501 5.5.4 Bad NOTIFY parameter syntax",
		    "501 5.5.4 Bad ORCPT parameter syntax",
		    "555 5.5.4 Unsupported option: XYZ",
		    "501 5.1.3 Bad recipient address syntax",
		    "250 2.1.5 Ok",
		    "250 2.1.5 Ok",
		    "501 5.5.4 Syntax: RSET",
		    "502 5.5.1 VRFY command is disabled",
		    "502 5.5.2 Error: command not recognized",
		    "500 5.5.2 Error: bad syntax",
		    "221 2.0.0 Bye", NULL);
	free(r);
}

static void test_dialogue_bad_bytes(void **state)
{
	static const char script[] = "EHLO c.example\r\n"
				     "NOOP\0x\r\n"
				     "NOOP \xff\r\n"
				     "MAIL FROM:<\xc3\xa9@b.example>\r\n"
				     "MAIL FROM:<e@b.example>\r\n"
				     "RCPT TO:<r\xc3\xa9@mx.example>\r\n"
				     "RSET\r\n"
				     "MAIL FROM:<\xc3\xa9@b.example> SMTPUTF8\r\n"
				     "RCPT TO:<r\xc3\xa9@mx.example>\r\n"
				     "NOOP\n"
				     "NO\rOP\r\n"
				     "QUIT\r\n";
	char *r;
	vstr long_line = VSTR_INIT;

	(void)state;
	r = dialogue("192.0.2.1", script, sizeof(script) - 1);
	replies_are(r, "220 ", "250 CHUNKING",
		    "500 5.5.2 Error: NUL character in command",
		    "500 5.5.2 Error: 8-bit data in command",
		    "553 5.6.7 Must declare SMTPUTF8 to send unicode address",
		    "250 2.1.0 Ok",
		    "553 5.6.7 Must declare SMTPUTF8 to send unicode address",
		    "250 2.0.0 Ok",
		    "250 2.1.0 Ok",
		    "550 5.1.1 <r\xc3\xa9@mx.example>: Recipient address rejected",
		    "550 5.5.2 Error: bare <LF> received",
		    "550 5.5.2 Error: bare <CR> received",
		    "221 ", NULL);
	free(r);
	/* from mynetworks (the exclusions), bare LF is normalized */
	r = DIALOGUE("127.0.0.1", "NOOP\nQUIT\n");
	replies_are(r, "220 ", "250 2.0.0 Ok", "221 ", NULL);
	free(r);
	/* a 10 KB line: one 500, then the session goes on */
	vstr_cat(&long_line, "NOOP ");
	for (int i = 0; i < 10000; i++)
		vstr_catc(&long_line, 'x');
	vstr_cat(&long_line, "\r\nNOOP\r\nQUIT\r\n");
	r = dialogue("192.0.2.1", vstr_str(&long_line), vstr_len(&long_line));
	replies_are(r, "220 ", "500 5.5.2 Error: line too long", "250 2.0.0 Ok", "221 ", NULL);
	free(r);
	vstr_release(&long_line);
}

/* relay control from a client outside mynetworks, and from inside */
static void test_dialogue_relay(void **state)
{
	static const char *const refused[] = {
		"user@other.example", "@mx.example:user@other.example",
		"@mx.example,@other.example:user@third.example", "user@[1.2.3.4]",
		"user@[IPv6:2001:db8::1]", "user@[127.0.0.1]", "user@mx.example.other.example",
		"user@evilmx.example", "user@other.example.", "USER@OTHER.EXAMPLE",
		"user%other.example@relay.example", "other.example!user@relay.example",
		"\"user@other.example\"@relay.example", "user@relay.example.evil",
		"user@sub.example",
	};
	static const char *const unknown[] = {
		"user%other.example@mx.example", "other.example!user@mx.example",
		"\"user@other.example\"@mx.example", "\"user%other.example\"@mx.example",
		"nosuchuser@MX.EXAMPLE.", "root%x@localhost",
	};
	static const char *const accepted[] = {
		"root@mx.example", "ROOT@Mx.Example.", "postmaster@mx.example", "Postmaster@localhost",
		"postmaster", "anyone@relay.example", "x@deep.sub.example",
	};
	vstr script = VSTR_INIT;
	char *r, *p;

	(void)state;
	vstr_cat(&script, "EHLO c.example\r\nMAIL FROM:<postmaster@mx.example>\r\n");
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		vstr_catf(&script, "RCPT TO:<%s>\r\n", refused[i]);
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		vstr_catf(&script, "RCPT TO:<%s>\r\n", unknown[i]);
	for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++)
		vstr_catf(&script, "RCPT TO:<%s>\r\n", accepted[i]);
	vstr_cat(&script, "QUIT\r\n");
	conf_override("smtpd_hard_error_limit", "100");
	r = dialogue("192.0.2.1", vstr_str(&script), vstr_len(&script));
	p = strstr(r, "250 CHUNKING\r\n250 2.1.0 Ok\r\n");
	assert_non_null(p);
	p += strlen("250 CHUNKING\r\n250 2.1.0 Ok\r\n");
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (strncmp(p, "554 5.7.1 <", 11) != 0 || strstr(p, ">: Relay access denied\r\n") == NULL)
			fail_msg("%s: %s", refused[i], p);
		p = strstr(p, "\r\n") + 2;
	}
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		if (strncmp(p, "550 5.1.1 <", 11) != 0)
			fail_msg("%s: %s", unknown[i], p);
		p = strstr(p, "\r\n") + 2;
	}
	for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		if (strncmp(p, "250 2.1.5 Ok\r\n", 14) != 0)
			fail_msg("%s: %s", accepted[i], p);
		p += 14;
	}
	assert_string_equal(p, "221 2.0.0 Bye\r\n");
	free(r);
	/* from mynetworks: relaying is allowed, unknown local users are not */
	r = DIALOGUE("127.0.0.1", "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<user@other.example>\r\n"
		     "RCPT TO:<u%v@[192.0.2.9]>\r\nRCPT TO:<nosuchuser@mx.example>\r\nQUIT\r\n");
	replies_are(r, "220 ", "250 CHUNKING", "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok",
		    "550 5.1.1 <nosuchuser@mx.example>: Recipient address rejected: "
		    "User unknown in local recipient table", "221 ", NULL);
	free(r);
	vstr_release(&script);
}

static void test_dialogue_limits(void **state)
{
	vstr script = VSTR_INIT;
	char *r;

	(void)state;
	conf_override("smtpd_recipient_limit", "2");
	conf_override("smtpd_recipient_overshoot_limit", "1");
	r = DIALOGUE("192.0.2.1", "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<root@mx.example>\r\n"
		     "RCPT TO:<postmaster@mx.example>\r\nRCPT TO:<root@localhost>\r\n"
		     "RCPT TO:<root@localhost>\r\nQUIT\r\n");
	replies_are(r, "220 ", "250 CHUNKING", "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok",
		    "452 4.5.3 Error: too many recipients", "452 4.5.3 Error: too many recipients",
		    "221 ", NULL);
	free(r);
	/* the hard error limit: 421 and the end of the session */
	conf_override("smtpd_hard_error_limit", "5");
	vstr_cat(&script, "EHLO c\r\n");
	for (int i = 0; i < 10; i++)
		vstr_cat(&script, "BOGUS\r\n");
	r = dialogue("192.0.2.1", vstr_str(&script), vstr_len(&script));
	replies_are(r, "220 ", "250 CHUNKING", "502 ", "502 ", "502 ", "502 ", "502 ",
		    "421 4.7.0 mx.example Error: too many errors", NULL);
	free(r);
	/* junk commands past smtpd_junk_command_limit count as errors */
	conf_override("smtpd_junk_command_limit", "2");
	r = DIALOGUE("192.0.2.1", "NOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\n");
	replies_are(r, "220 ", "250 ", "250 ", "250 ", "250 ", "250 ", "250 ", "250 ",
		    "421 4.7.0 mx.example Error: too many errors", NULL);
	free(r);
	/* BDAT with a size that cannot be skipped ends the session */
	r = DIALOGUE("192.0.2.1", "EHLO c\r\nBDAT 18446744073709551616\r\nNOOP\r\n");
	replies_are(r, "220 ", "250 CHUNKING", "501 5.5.4 Syntax: BDAT count [LAST]", NULL);
	free(r);
	/* BDAT without recipients: the chunk is read and dropped, never a command */
	r = DIALOGUE("192.0.2.1", "EHLO c\r\nMAIL FROM:<>\r\nBDAT 6 LAST\r\nQUIT\r\nNOOP\r\n");
	replies_are(r, "220 ", "250 CHUNKING", "250 2.1.0 Ok", "554 5.5.1 Error: no valid recipients",
		    "250 2.0.0 Ok", NULL);
	free(r);
	vstr_release(&script);
}

/* pipelining rules: DATA and EHLO end a group; without EHLO nothing may
 * be pipelined; input before the greeting */
static void test_dialogue_pipelining(void **state)
{
	char *r;

	(void)state;
	conf_override("smtpd_forbid_unauth_pipelining", "yes");
	r = DIALOGUE("192.0.2.1", "EHLO c\r\n");
	replies_are(r, "554 5.5.0 Error: SMTP protocol synchronization", NULL);
	free(r);
}

static void test_dialogue_lost(void **state)
{
	char *r;

	(void)state;
	r = DIALOGUE("192.0.2.1", "EHLO c\r\nMAIL FROM:<>");
	replies_are(r, "220 ", "250 CHUNKING", NULL);
	free(r);
}

/* ---- restriction lists ------------------------------------------------- */

static char table_path[] = "/tmp/test_smtpd_access.XXXXXX";
static char log_path[] = "/tmp/test_smtpd_log.XXXXXX";

static const char access_table[] =
	"reject@x.example REJECT go away\n"
	"defer@x.example DEFER try later\n"
	"dunno@x.example DUNNO\n"
	"ok@x.example OK\n"
	"hold@x.example HOLD\n"
	"discard@x.example DISCARD\n"
	"code@x.example 451 4.7.0 busy\n"
	"code5@x.example 553 nope\n"
	"weird@x.example FROB\n"
	"blocked.example REJECT\n"
	".sub2.example REJECT subdomain\n"
	"user@ REJECT by localpart\n"
	"mynets.example permit_mynetworks\n"
	"192.0.2.1 REJECT by address\n"
	"192.0.2 REJECT by net\n"
	"named.example OK\n"
	"helo.bad.example REJECT bad helo\n"
	"badparent.example REJECT\n"
	"<> REJECT null sender\n";

/* dns_fake - the DNS for reject_unknown_*_domain: no query leaves */
static int dns_fake(const char *domain)
{
	if (strcmp(domain, "good.example") == 0)
		return 1;
	return strcmp(domain, "fail.example") == 0 ? -1 : 0;
}

static int setup_restrict(void **state)
{
	int fd;

	setup(state);
	fd = mkstemp(table_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, access_table, sizeof(access_table) - 1),
			 (ssize_t)sizeof(access_table) - 1);
	close(fd);
	fd = mkstemp(log_path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(msg_to_file("test_smtpd", log_path), 0);
	smtpd_dns_hook = dns_fake;
	conf_override("smtpd_hard_error_limit", "100");
	return 0;
}

static int teardown_restrict(void **state)
{
	(void)state;
	msg_init("test_smtpd");
	unlink(table_path);
	unlink(log_path);
	memcpy(table_path + strlen(table_path) - 6, "XXXXXX", 6);
	memcpy(log_path + strlen(log_path) - 6, "XXXXXX", 6);
	smtpd_dns_hook = NULL;
	return 0;
}

/* logged - the log has a line containing text */
static void logged(const char *text)
{
	FILE *f = fopen(log_path, "r");
	char line[2048];
	int found = 0;

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, text) != NULL;
	fclose(f);
	if (!found)
		fail_msg("not logged: %s", text);
}

/* with - sets a restriction list, the table's name written for the word "T" */
static void with(const char *param, const char *value)
{
	vstr v = VSTR_INIT;

	for (const char *p = value; *p; p++)
		if (*p == 'T' && (p[1] == 0 || p[1] == ',') && p > value && p[-1] == ' ')
			vstr_catf(&v, "texthash:%s", table_path);
		else
			vstr_catc(&v, *p);
	conf_override(param, vstr_str(&v));
	vstr_release(&v);
}

#define RCPT_DIALOGUE(addr, rcpt) DIALOGUE(addr, "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\n" \
					   "RCPT TO:<" rcpt ">\r\nQUIT\r\n")

/* rcpt_reply - the reply to one RCPT from 192.0.2.1 starts with want */
static void rcpt_reply(const char *addr, const char *rcpt, const char *want)
{
	vstr script = VSTR_INIT;
	char *r;

	vstr_catf(&script, "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<%s>\r\nQUIT\r\n", rcpt);
	r = dialogue(addr, vstr_str(&script), vstr_len(&script));
	replies_are(r, "220 ", "250 CHUNKING", "250 2.1.0 Ok", want, "221 ", NULL);
	free(r);
	vstr_release(&script);
}

static void test_restrict_basic(void **state)
{
	(void)state;
	/* the defaults: relay for mynetworks only; recipient list "permit"
	 * cannot override the relay list */
	with("smtpd_recipient_restrictions", "permit");
	rcpt_reply("192.0.2.1", "u@other.example", "554 5.7.1 <u@other.example>: Relay access denied");
	rcpt_reply("127.0.0.1", "u@other.example", "250 2.1.5 Ok");
	with("smtpd_relay_restrictions", "permit");
	rcpt_reply("192.0.2.1", "u@other.example", "250 2.1.5 Ok");
	rcpt_reply("192.0.2.1", "nosuch@mx.example", "550 5.1.1 <nosuch@mx.example>: Recipient address "
		   "rejected: User unknown in local recipient table");
	with("smtpd_relay_restrictions", "reject");
	rcpt_reply("127.0.0.1", "root@mx.example",
		   "554 5.7.1 <root@mx.example>: Recipient address rejected: Access denied");
	logged("NOQUEUE: reject: RCPT from client.example[127.0.0.1]: 554 5.7.1 <root@mx.example>: "
	       "Recipient address rejected: Access denied; from=<a@b.example> to=<root@mx.example> "
	       "proto=ESMTP helo=<c.example>");
	with("smtpd_relay_restrictions", "defer");
	rcpt_reply("127.0.0.1", "root@mx.example",
		   "450 4.7.1 <root@mx.example>: Recipient address rejected: Access denied");
	with("smtpd_relay_restrictions", "defer_unauth_destination");
	rcpt_reply("192.0.2.1", "u@other.example", "450 4.7.1 <u@other.example>: Relay access denied");
	rcpt_reply("192.0.2.1", "root@mx.example", "250 2.1.5 Ok");
	/* first match wins */
	with("smtpd_relay_restrictions", "permit, reject");
	rcpt_reply("192.0.2.1", "u@other.example", "250 2.1.5 Ok");
	with("smtpd_relay_restrictions", "reject, permit");
	rcpt_reply("192.0.2.1", "root@mx.example", "554 5.7.1 <root@mx.example>: Recipient address rejected");
	with("smtpd_relay_restrictions", "reject_unlisted_recipient, reject");
	rcpt_reply("127.0.0.1", "nosuch@mx.example", "550 5.1.1 <nosuch@mx.example>: ");
	rcpt_reply("127.0.0.1", "root@mx.example", "554 5.7.1 <root@mx.example>: ");
	with("smtpd_relay_restrictions", "reject_non_fqdn_recipient, permit");
	rcpt_reply("192.0.2.1", "u@nodot", "504 5.5.2 <u@nodot>: Recipient address rejected: "
		   "need fully-qualified address");
	rcpt_reply("192.0.2.1", "u@[192.0.2.9]", "250 2.1.5 Ok");
	with("smtpd_relay_restrictions", "reject_unknown_recipient_domain, permit");
	rcpt_reply("192.0.2.1", "u@good.example", "250 2.1.5 Ok");
	rcpt_reply("192.0.2.1", "u@bad.example", "450 4.1.2 <u@bad.example>: Recipient address rejected: "
		   "Domain not found");
	rcpt_reply("192.0.2.1", "u@fail.example", "450 4.1.2 <u@fail.example>: ");
	rcpt_reply("192.0.2.1", "root@mx.example", "250 2.1.5 Ok");
}

static void test_restrict_config_error(void **state)
{
	(void)state;
	with("smtpd_relay_restrictions", "permit_mynetworks, bogus_restriction");
	rcpt_reply("192.0.2.1", "root@mx.example", "451 4.3.5 Server configuration error");
	logged("warning: smtpd_relay_restrictions: unknown restriction \"bogus_restriction\"");
	logged("NOQUEUE: reject: RCPT from client.example[192.0.2.1]: 451 4.3.5 Server configuration error;");
	/* a list that decides before the bad name never reaches it */
	rcpt_reply("127.0.0.1", "root@mx.example", "250 2.1.5 Ok");
	with("smtpd_relay_restrictions", "check_recipient_access");
	rcpt_reply("127.0.0.1", "root@mx.example", "451 4.3.5 ");
	logged("smtpd_relay_restrictions: missing table after restriction \"check_recipient_access\"");
	with("smtpd_relay_restrictions", "check_recipient_access T");
	rcpt_reply("127.0.0.1", "weird@x.example", "451 4.3.5 ");
	logged("unknown access result \"FROB\"");
	with("smtpd_relay_restrictions", "check_recipient_access texthash:/nonexistent/table");
	rcpt_reply("127.0.0.1", "root@mx.example", "451 4.3.5 ");
}

static void test_restrict_recipient_access(void **state)
{
	(void)state;
	with("smtpd_relay_restrictions", "check_recipient_access T, defer");
	rcpt_reply("192.0.2.1", "reject@x.example", "554 5.7.1 <reject@x.example>: Recipient address "
		   "rejected: go away");
	rcpt_reply("192.0.2.1", "defer@x.example", "450 4.7.1 <defer@x.example>: Recipient address "
		   "rejected: try later");
	rcpt_reply("192.0.2.1", "dunno@x.example", "450 4.7.1 <dunno@x.example>: Recipient address "
		   "rejected: Access denied");
	rcpt_reply("192.0.2.1", "ok@x.example", "250 2.1.5 Ok");
	rcpt_reply("192.0.2.1", "OK@X.Example", "250 2.1.5 Ok");
	/* HOLD goes on to the next restriction; DISCARD permits */
	rcpt_reply("192.0.2.1", "hold@x.example", "450 4.7.1 <hold@x.example>:");
	logged("NOQUEUE: hold: RCPT from client.example[192.0.2.1]: <hold@x.example>: Recipient address "
	       "triggers HOLD action; from=<a@b.example> to=<hold@x.example> proto=ESMTP helo=<c.example>");
	rcpt_reply("192.0.2.1", "discard@x.example", "250 2.1.5 Ok");
	logged("NOQUEUE: discard: RCPT from client.example[192.0.2.1]: <discard@x.example>: Recipient "
	       "address triggers DISCARD action;");
	rcpt_reply("192.0.2.1", "code@x.example", "451 4.7.0 <code@x.example>: Recipient address rejected: busy");
	rcpt_reply("192.0.2.1", "code5@x.example", "553 5.7.1 <code5@x.example>: Recipient address "
		   "rejected: nope");
	rcpt_reply("192.0.2.1", "a@blocked.example", "554 5.7.1 <a@blocked.example>: Recipient address "
		   "rejected: Access denied");
	rcpt_reply("192.0.2.1", "a@deep.blocked.example", "554 5.7.1 <a@deep.blocked.example>:");
	rcpt_reply("192.0.2.1", "a@y.sub2.example", "554 5.7.1 <a@y.sub2.example>: Recipient address "
		   "rejected: subdomain");
	rcpt_reply("192.0.2.1", "a@sub2.example", "450 4.7.1 <a@sub2.example>:");
	rcpt_reply("192.0.2.1", "user@any.example", "554 5.7.1 <user@any.example>: Recipient address "
		   "rejected: by localpart");
	/* a result that names a restriction */
	rcpt_reply("127.0.0.1", "u@mynets.example", "250 2.1.5 Ok");
	rcpt_reply("192.0.2.1", "u@mynets.example", "450 4.7.1 <u@mynets.example>:");
}

static void test_restrict_client_helo_sender_access(void **state)
{
	static const char one_rcpt[] = "EHLO c.example\r\nMAIL FROM:<>\r\nRCPT TO:<root@mx.example>\r\n";
	char *r;

	(void)state;
	with("smtpd_client_restrictions", "check_client_access T");
	rcpt_reply("192.0.2.1", "root@mx.example", "554 5.7.1 <client.example[192.0.2.1]>: Client host "
		   "rejected: by address");
	r = dialogue_named("unknown", "192.0.2.9", one_rcpt, sizeof(one_rcpt) - 1);
	replies_are(r, "220 ", "250 CHUNKING", "250 2.1.0 Ok", "554 5.7.1 <unknown[192.0.2.9]>: "
		    "Client host rejected: by net", NULL);
	free(r);
	with("smtpd_client_restrictions", "check_client_access T, reject");
	r = dialogue_named("named.example", "198.51.100.1", one_rcpt, sizeof(one_rcpt) - 1);
	replies_are(r, "220 ", "250 CHUNKING", "250 2.1.0 Ok", "250 2.1.5 Ok", NULL);
	free(r);
	conf_override("smtpd_client_restrictions", "");
	with("smtpd_helo_restrictions", "check_helo_access T");
	r = DIALOGUE("192.0.2.1", "EHLO helo.bad.example\r\nMAIL FROM:<>\r\nRCPT TO:<root@mx.example>\r\n"
		     "EHLO x.badparent.example\r\nMAIL FROM:<>\r\nRCPT TO:<root@mx.example>\r\n");
	replies_are(r, "220 ", "250 CHUNKING", "250 2.1.0 Ok",
		    "554 5.7.1 <helo.bad.example>: Helo command rejected: bad helo",
		    "250 CHUNKING", "250 2.1.0 Ok",
		    "554 5.7.1 <x.badparent.example>: Helo command rejected: Access denied", NULL);
	free(r);
	conf_override("smtpd_helo_restrictions", "");
	with("smtpd_sender_restrictions", "check_sender_access T");
	r = DIALOGUE("192.0.2.1", "EHLO c.example\r\nMAIL FROM:<reject@x.example>\r\nRCPT TO:<root@mx.example>\r\n"
		     "RSET\r\nMAIL FROM:<>\r\nRCPT TO:<root@mx.example>\r\n"
		     "RSET\r\nMAIL FROM:<ok@x.example>\r\nRCPT TO:<root@mx.example>\r\n");
	replies_are(r, "220 ", "250 CHUNKING", "250 2.1.0 Ok",
		    "554 5.7.1 <reject@x.example>: Sender address rejected: go away", "250 2.0.0 Ok",
		    "250 2.1.0 Ok", "554 5.7.1 <>: Sender address rejected: null sender", "250 2.0.0 Ok",
		    "250 2.1.0 Ok", "250 2.1.5 Ok", NULL);
	free(r);
}

static void test_restrict_delay_reject(void **state)
{
	char *r;

	(void)state;
	/* no: the client is refused at CONNECT, then only QUIT works */
	conf_override("smtpd_delay_reject", "no");
	with("smtpd_client_restrictions", "permit_mynetworks, reject");
	r = DIALOGUE("192.0.2.1", "EHLO c.example\r\nMAIL FROM:<>\r\nQUIT\r\n");
	replies_are(r, "554 5.7.1 <client.example[192.0.2.1]>: Client host rejected: Access denied",
		    "503 5.7.0 Error: access denied for client.example[192.0.2.1]",
		    "503 5.7.0 Error: access denied for client.example[192.0.2.1]", "221 ", NULL);
	free(r);
	logged("NOQUEUE: reject: CONNECT from client.example[192.0.2.1]: 554 5.7.1 "
	       "<client.example[192.0.2.1]>: Client host rejected: Access denied; proto=SMTP");
	r = DIALOGUE("127.0.0.1", "EHLO c.example\r\nQUIT\r\n");
	replies_are(r, "220 ", "250 CHUNKING", "221 ", NULL);
	free(r);
	conf_override("smtpd_client_restrictions", "");
	/* no: HELO and MAIL are refused when they are given */
	conf_override("smtpd_helo_restrictions", "reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname");
	conf_override("smtpd_sender_restrictions", "reject_non_fqdn_sender, reject_unknown_sender_domain");
	r = DIALOGUE("192.0.2.1", "EHLO bad!host\r\nHELO -x.example\r\nEHLO nodots\r\nEHLO [192.0.2.1]\r\n"
		     "EHLO good.example\r\nMAIL FROM:<a@nodot>\r\nMAIL FROM:<a@bad.example>\r\n"
		     "MAIL FROM:<a@fail.example>\r\nMAIL FROM:<a@mx.example>\r\nRSET\r\n"
		     "MAIL FROM:<a@good.example>\r\nRSET\r\nMAIL FROM:<>\r\nQUIT\r\n");
	replies_are(r, "220 ", "501 5.5.2 <bad!host>: Helo command rejected: Invalid name",
		    "501 5.5.2 <-x.example>: Helo command rejected: Invalid name",
		    "504 5.5.2 <nodots>: Helo command rejected: need fully-qualified hostname",
		    "250 CHUNKING", "250 CHUNKING",
		    "504 5.5.2 <a@nodot>: Sender address rejected: need fully-qualified address",
		    "450 4.1.8 <a@bad.example>: Sender address rejected: Domain not found",
		    "450 4.1.8 <a@fail.example>: Sender address rejected: Domain not found",
		    "250 2.1.0 Ok", "250 2.0.0 Ok", "250 2.1.0 Ok", "250 2.0.0 Ok", "250 2.1.0 Ok",
		    "221 ", NULL);
	free(r);
	logged("NOQUEUE: reject: EHLO from client.example[192.0.2.1]: 501 5.5.2 <bad!host>: Helo command "
	       "rejected: Invalid name; proto=SMTP");
	logged("NOQUEUE: reject: MAIL from client.example[192.0.2.1]: 504 5.5.2 <a@nodot>: Sender address "
	       "rejected: need fully-qualified address; from=<a@nodot> proto=ESMTP helo=<good.example>");
	/* yes (the default): the same refusals come at RCPT */
	conf_override("smtpd_delay_reject", "yes");
	r = DIALOGUE("192.0.2.1", "EHLO bad!host\r\nMAIL FROM:<a@nodot>\r\nRCPT TO:<root@mx.example>\r\n"
		     "EHLO good.example\r\nMAIL FROM:<a@nodot>\r\nRCPT TO:<root@mx.example>\r\n"
		     "RSET\r\nMAIL FROM:<a@good.example>\r\nRCPT TO:<root@mx.example>\r\n");
	replies_are(r, "220 ", "250 CHUNKING", "250 2.1.0 Ok",
		    "501 5.5.2 <bad!host>: Helo command rejected: Invalid name",
		    "250 CHUNKING", "250 2.1.0 Ok",
		    "504 5.5.2 <a@nodot>: Sender address rejected: need fully-qualified address",
		    "250 2.0.0 Ok", "250 2.1.0 Ok", "250 2.1.5 Ok", NULL);
	free(r);
	logged("NOQUEUE: reject: RCPT from client.example[192.0.2.1]: 501 5.5.2 <bad!host>: Helo command "
	       "rejected: Invalid name; from=<a@nodot> to=<root@mx.example> proto=ESMTP helo=<bad!host>");
	conf_override("smtpd_client_restrictions", "reject");
	r = RCPT_DIALOGUE("192.0.2.1", "root@mx.example");
	replies_are(r, "220 ", "250 CHUNKING", "250 2.1.0 Ok",
		    "554 5.7.1 <client.example[192.0.2.1]>: Client host rejected: Access denied", "221 ", NULL);
	free(r);
}

static void test_restrict_data_pipelining(void **state)
{
	char *r;

	(void)state;
	conf_override("smtpd_data_restrictions", "reject_unauth_pipelining");
	r = DIALOGUE("127.0.0.1", "EHLO c.example\r\nMAIL FROM:<>\r\nRCPT TO:<root@mx.example>\r\n"
		     "DATA\r\nQUIT\r\n");
	replies_are(r, "220 ", "250 CHUNKING", "250 2.1.0 Ok", "250 2.1.5 Ok",
		    "503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining",
		    "221 ", NULL);
	free(r);
	logged("NOQUEUE: reject: DATA from client.example[127.0.0.1]: 503 5.5.0 <DATA>: Data command "
	       "rejected: Improper use of SMTP command pipelining; from=<> to=<root@mx.example>");
	conf_override("smtpd_data_restrictions", "reject");
	r = DIALOGUE("127.0.0.1", "EHLO c.example\r\nMAIL FROM:<>\r\nRCPT TO:<root@mx.example>\r\n"
		     "DATA\r\nQUIT\r\n");
	replies_are(r, "220 ", "250 CHUNKING", "250 2.1.0 Ok", "250 2.1.5 Ok",
		    "554 5.7.1 <DATA>: Data command rejected: Access denied", "221 ", NULL);
	free(r);
	/* without EHLO, pipelined commands are refused where the list runs */
	conf_override("smtpd_data_restrictions", "");
	conf_override("smtpd_client_restrictions", "reject_unauth_pipelining");
	r = DIALOGUE("127.0.0.1", "HELO c.example\r\nMAIL FROM:<>\r\nRCPT TO:<root@mx.example>\r\nQUIT\r\n");
	replies_are(r, "220 ", "250 mx.example", "250 2.1.0 Ok",
		    "503 5.5.0 <client.example[127.0.0.1]>: Client host rejected: Improper use of SMTP "
		    "command pipelining", "221 ", NULL);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_verb),
		cmocka_unit_test(test_line_scan),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_path_limits),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_xtext_size_utf8),
		cmocka_unit_test(test_data_basic),
		cmocka_unit_test(test_data_bare),
		cmocka_unit_test(test_data_smuggling),
		cmocka_unit_test(test_bdat_content),
		cmocka_unit_test(test_data_large),
		cmocka_unit_test_setup(test_dialogue_sequence, setup),
		cmocka_unit_test_setup(test_dialogue_ehlo, setup),
		cmocka_unit_test_setup(test_dialogue_syntax, setup),
		cmocka_unit_test_setup(test_dialogue_bad_bytes, setup),
		cmocka_unit_test_setup(test_dialogue_relay, setup),
		cmocka_unit_test_setup(test_dialogue_limits, setup),
		cmocka_unit_test_setup(test_dialogue_pipelining, setup),
		cmocka_unit_test_setup(test_dialogue_lost, setup),
		cmocka_unit_test_setup_teardown(test_restrict_basic, setup_restrict, teardown_restrict),
		cmocka_unit_test_setup_teardown(test_restrict_config_error, setup_restrict, teardown_restrict),
		cmocka_unit_test_setup_teardown(test_restrict_recipient_access, setup_restrict,
						teardown_restrict),
		cmocka_unit_test_setup_teardown(test_restrict_client_helo_sender_access, setup_restrict,
						teardown_restrict),
		cmocka_unit_test_setup_teardown(test_restrict_delay_reject, setup_restrict, teardown_restrict),
		cmocka_unit_test_setup_teardown(test_restrict_data_pipelining, setup_restrict,
						teardown_restrict),
	};

	msg_init("test_smtpd");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
