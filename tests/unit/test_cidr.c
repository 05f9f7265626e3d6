/* test_cidr - unit tests for lib/cidr.c and lib/dict_cidr.c: matches and
 * non-matches at the prefix boundaries (/0, /1, /31, /32, /127, /128),
 * "!" and first-match order, brackets, IPv4-mapped clients and entries,
 * Postfix's host-bits message, names and malformed entries refused,
 * "/file" includes (comments, nesting limit, a file that includes
 * itself, a missing file, the limit on files read), invalid client addresses, the mynetworks
 * default and its parameters, the cidr: table and its diagnostics, a
 * differential check against a plain bit-mask reference, and every
 * prefix of a set of tricky strings fed to the parser and the matcher. */
#include <arpa/inet.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cidr.h"
#include "config.h"
#include "dict.h"
#include "mem.h"
#include "vstr.h"
#include "testutil.h"

static char tmpdir[] = "/tmp/test_cidr.XXXXXX";

/* ------------------------------------------------------------- helpers */

/* parse_clean - a list that must parse without any diagnostic */
static struct cidr_list *parse_clean(const char *text)
{
	struct diaglist dl = DIAGLIST_INIT;
	struct cidr_list *l = cidr_list_parse(text, "mynetworks", &dl);

	for (size_t i = 0; i < dl.n; i++)
		print_message("unexpected: %s: %s\n", dl.v[i].file, dl.v[i].text);
	assert_int_equal(dl.n, 0);
	diag_clear(&dl);
	return l;
}

/* expect - cidr_list_match(text, addr) == want */
static void expect(const char *text, const char *addr, int want)
{
	struct cidr_list *l = parse_clean(text);
	int got = cidr_list_match(l, addr);

	if (got != want)
		fail_msg("\"%s\" vs \"%s\": got %d, want %d", text, addr, got, want);
	cidr_list_free(l);
}

/* diag_has - some diagnostic at file/line has text containing want */
static int diag_has(const struct diaglist *dl, const char *file, int line, const char *want)
{
	for (size_t i = 0; i < dl->n; i++)
		if (dl->v[i].severity == DIAG_ERROR && strcmp(dl->v[i].file, file) == 0
		    && dl->v[i].line == line && strstr(dl->v[i].text, want) != NULL)
			return 1;
	return 0;
}

static void print_diags(const struct diaglist *dl)
{
	for (size_t i = 0; i < dl->n; i++)
		print_message("diag: %s, line %d: %s\n", dl->v[i].file, dl->v[i].line,
			      dl->v[i].text);
}

/* refused - text gives exactly one error containing want, and no entry */
static void refused(const char *text, const char *want)
{
	struct diaglist dl = DIAGLIST_INIT;
	struct cidr_list *l = cidr_list_parse(text, "mynetworks", &dl);

	if (dl.n != 1 || !diag_has(&dl, "mynetworks", 0, want)) {
		print_diags(&dl);
		fail_msg("\"%s\": want one error with \"%s\"", text, want);
	}
	assert_int_equal(cidr_list_count(l), 0);
	cidr_list_free(l);
	diag_clear(&dl);
}

/* write_tmp - a file named name in tmpdir with text; malloc'ed path */
static char *write_tmp(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	return path;
}

/* ------------------------------------------------------------ prefixes */

static void test_v4_boundaries(void **state)
{
	(void)state;
	expect("0.0.0.0/0", "0.0.0.0", 1);
	expect("0.0.0.0/0", "255.255.255.255", 1);
	expect("0.0.0.0/0", "::1", 0);
	expect("0.0.0.0/0", "2001:db8::1", 0);
	expect("128.0.0.0/1", "128.0.0.0", 1);
	expect("128.0.0.0/1", "255.255.255.255", 1);
	expect("128.0.0.0/1", "127.255.255.255", 0);
	expect("0.0.0.0/1", "127.255.255.255", 1);
	expect("0.0.0.0/1", "128.0.0.0", 0);
	expect("192.0.2.0/31", "192.0.2.0", 1);
	expect("192.0.2.0/31", "192.0.2.1", 1);
	expect("192.0.2.0/31", "192.0.2.2", 0);
	expect("192.0.2.0/31", "192.0.1.255", 0);
	expect("192.0.2.1/32", "192.0.2.1", 1);
	expect("192.0.2.1/32", "192.0.2.0", 0);
	expect("192.0.2.1/32", "192.0.2.2", 0);
	expect("192.0.2.1", "192.0.2.1", 1);
	expect("192.0.2.1", "192.0.2.3", 0);
	expect("10.0.0.0/8", "10.255.255.255", 1);
	expect("10.0.0.0/8", "11.0.0.0", 0);
	expect("172.16.0.0/12", "172.31.255.255", 1);
	expect("172.16.0.0/12", "172.32.0.0", 0);
	expect("192.0.2.0/024", "192.0.2.9", 1);	/* leading zero, 3 digits */
	expect("", "192.0.2.1", 0);
}

static void test_v6_boundaries(void **state)
{
	(void)state;
	expect("::/0", "::", 1);
	expect("::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1);
	expect("::/0", "192.0.2.1", 0);
	expect("[8000::]/1", "8000::", 1);
	expect("[8000::]/1", "ffff::1", 1);
	expect("[8000::]/1", "7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0);
	expect("2001:db8::/127", "2001:db8::", 1);
	expect("2001:db8::/127", "2001:db8::1", 1);
	expect("2001:db8::/127", "2001:db8::2", 0);
	expect("2001:db8::/127", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", 0);
	expect("2001:db8::1/128", "2001:db8::1", 1);
	expect("2001:db8::1/128", "2001:db8::", 0);
	expect("2001:db8::1/128", "2001:db8::3", 0);
	expect("::1", "::1", 1);
	expect("::1", "::2", 0);
	expect("2001:db8::/32", "2001:DB8:ffff::1", 1);
	expect("2001:db8::/32", "2001:db9::", 0);
	expect("2001:db8::/33", "2001:db8:7fff::", 1);
	expect("2001:db8::/33", "2001:db8:8000::", 0);
	/* A link-local client with a zone still matches. */
	expect("fe80::/10", "fe80::1%eth0", 1);
}

/* --------------------------------------------------- negation, brackets */

static void test_negation_order(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;
	struct cidr_list *l;

	(void)state;
	expect("!192.0.2.1, 192.0.2.0/24", "192.0.2.1", 0);
	expect("!192.0.2.1, 192.0.2.0/24", "192.0.2.2", 1);
	expect("192.0.2.0/24 !192.0.2.1", "192.0.2.1", 1);
	expect("!192.0.2.0/24", "192.0.2.1", 0);
	expect("!192.0.2.0/24", "198.51.100.1", 0);
	expect("!!192.0.2.1", "192.0.2.1", 1);
	expect("![2001:db8::1] [2001:db8::]/32", "2001:db8::1", 0);
	expect("![2001:db8::1] [2001:db8::]/32", "2001:db8::2", 1);
	expect("!10.0.0.0/8,\t0.0.0.0/0\n::/0", "10.1.1.1", 0);
	expect("!10.0.0.0/8,\t0.0.0.0/0\n::/0", "11.1.1.1", 1);
	expect("!10.0.0.0/8,\t0.0.0.0/0\n::/0", "::1", 1);
	refused("!", "without a network");
	refused("!!", "without a network");
	l = cidr_list_parse("! 192.0.2.1", "mynetworks", &dl);
	assert_int_equal(dl.n, 1);
	assert_true(diag_has(&dl, "mynetworks", 0, "without a network"));
	assert_int_equal(cidr_list_match(l, "192.0.2.1"), 1);	/* kept */
	cidr_list_free(l);
	diag_clear(&dl);
	l = cidr_list_parse("!/etc/postern/nets", "mynetworks", &dl);
	assert_true(diag_has(&dl, "mynetworks", 0, "cannot be negated"));
	cidr_list_free(l);
	diag_clear(&dl);
}

static void test_brackets(void **state)
{
	(void)state;
	expect("[::1]", "::1", 1);
	expect("[::1]/128", "::1", 1);
	expect("[2001:db8::]/32", "2001:db8::5", 1);
	expect("[2001:db8::]/32", "[2001:db8::5]", 1);
	expect("[192.0.2.1]", "192.0.2.1", 1);
	expect("[192.0.2.0]/24", "[192.0.2.77]", 1);
	expect("192.0.2.0/24", "[192.0.2.77]", 1);
	expect("[::1]", "[::2]", 0);
	refused("[::1", "missing ']'");
	refused("[::1]x", "unexpected text after ']'");
	refused("[::1]]", "unexpected text after ']'");
	refused("[::1]/", "bad prefix length");
	refused("[::1]/129", "must be 0..128");
	refused("[]", "bad network");
	refused("[[::1]]", "unexpected text after ']'");
	refused("[::1/128]", "bad network");
}

static void test_mapped(void **state)
{
	(void)state;
	expect("192.0.2.0/24", "::ffff:192.0.2.7", 1);
	expect("192.0.2.0/24", "[::ffff:192.0.2.7]", 1);
	expect("192.0.2.0/24", "::FFFF:c000:0207", 1);
	expect("192.0.2.0/24", "::ffff:192.0.3.7", 0);
	expect("0.0.0.0/0", "::ffff:0.0.0.0", 1);
	expect("!192.0.2.7 192.0.2.0/24", "::ffff:192.0.2.7", 0);
	/* Mapped clients are IPv4: they no longer fall in IPv6 networks... */
	expect("::/0", "::ffff:192.0.2.7", 0);
	/* ... and a mapped entry stands for its IPv4 network. */
	expect("[::ffff:192.0.2.0]/120", "192.0.2.5", 1);
	expect("[::ffff:192.0.2.0]/120", "::ffff:192.0.2.5", 1);
	expect("[::ffff:192.0.2.0]/120", "192.0.3.5", 0);
	expect("[::ffff:0.0.0.0]/96", "203.0.113.1", 1);
	/* Not mapped: IPv4-compatible and NAT64 addresses stay IPv6. */
	expect("192.0.2.0/24", "::192.0.2.7", 0);
	expect("192.0.2.0/24", "64:ff9b::192.0.2.7", 0);
}

/* ---------------------------------------------------------------- errors */

static void test_host_bits(void **state)
{
	(void)state;
	refused("192.0.2.1/24",
		"non-null host address bits in \"192.0.2.1/24\", perhaps you should use "
		"\"192.0.2.0/24\" instead");
	refused("192.0.2.255/31",
		"non-null host address bits in \"192.0.2.255/31\", perhaps you should use "
		"\"192.0.2.254/31\" instead");
	refused("1.2.3.4/0",
		"non-null host address bits in \"1.2.3.4/0\", perhaps you should use "
		"\"0.0.0.0/0\" instead");
	refused("[2001:db8::1]/32",
		"non-null host address bits in \"[2001:db8::1]/32\", perhaps you should use "
		"\"[2001:db8::]/32\" instead");
	refused("2001:db8::1/127",
		"non-null host address bits in \"2001:db8::1/127\", perhaps you should use "
		"\"2001:db8::/127\" instead");
	refused("[::ffff:192.0.2.1]/120", "\"[::ffff:192.0.2.0]/120\" instead");
}

static void test_names_refused(void **state)
{
	static const char *bad[] = {
		"localhost", "example.com", "mail.example.com/24", "[localhost]",
		"hash:/etc/postern/nets", "1.2.3", "1.2.3.4.5", "01.2.3.4", "256.1.1.1",
		"0x7f.0.0.1", "127.1", "1.2.3.4]", ":::1", "2001:db8::g", "::1%lo",
		"1.2.3.4%x", "#comment",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(bad[i], "host names are not looked up");
	refused("192.0.2.0/33", "must be 0..32");
	refused("192.0.2.0/-1", "must be 0..32");
	refused("192.0.2.0/+8", "must be 0..32");
	refused("192.0.2.0/0x8", "must be 0..32");
	refused("192.0.2.0/0008", "must be 0..32");
	refused("192.0.2.0/", "must be 0..32");
	refused("192.0.2.0/24/8", "must be 0..32");
	refused("2001:db8::/129", "must be 0..128");
	refused("2001:db8::/999", "must be 0..128");
}

/* Good entries around bad ones are kept; every bad one is reported. */
static void test_partial(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;
	struct cidr_list *l;

	(void)state;
	l = cidr_list_parse("192.0.2.0/24, localhost, 10.0.0.1/8 [::1]", "smtpd_x", &dl);
	assert_int_equal(dl.n, 2);
	assert_true(diag_has(&dl, "smtpd_x", 0, "\"localhost\""));
	assert_true(diag_has(&dl, "smtpd_x", 0, "\"10.0.0.0/8\" instead"));
	assert_int_equal(cidr_list_count(l), 2);
	assert_int_equal(cidr_list_match(l, "192.0.2.3"), 1);
	assert_int_equal(cidr_list_match(l, "::1"), 1);
	assert_int_equal(cidr_list_match(l, "10.0.0.1"), 0);
	cidr_list_free(l);
	diag_clear(&dl);
}

static void test_invalid_client(void **state)
{
	static const char *bad[] = {
		"", "localhost", "1.2.3", "1.2.3.4.5", "[1.2.3.4", "1.2.3.4]", "[]", "[",
		"]", "::g", "1.2.3.4/32", "::1/128", "1.2.3.4%eth0", " 1.2.3.4", "1.2.3.4 ",
		"01.2.3.4", "[[::1]]",
		"1111:2222:3333:4444:5555:6666:7777:8888:9999",
		"0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0001",
	};
	struct cidr_list *l = parse_clean("0.0.0.0/0 ::/0");

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cidr_list_match(l, bad[i]) != -1)
			fail_msg("\"%s\" accepted as a client address", bad[i]);
	assert_int_equal(cidr_list_match(l, "0000:0000:0000:0000:0000:0000:0000:0001"), 1);
	cidr_list_free(l);
	l = parse_clean("");
	assert_int_equal(cidr_list_match(l, "nonsense"), -1);
	assert_int_equal(cidr_list_match(l, "192.0.2.1"), 0);
	cidr_list_free(l);
}

/* ----------------------------------------------------------------- files */

static void test_file_include(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;
	char *inner = write_tmp("inner", "# inner networks\n2001:db8::/32\n");
	char *text = xasprintf("# office networks\n"			/* 1 */
			       "192.0.2.0/24, 198.51.100.0/24  # two\n"	/* 2 */
			       "\n"						/* 3 */
			       "   # indented comment\n"			/* 4 */
			       "  !203.0.113.7 203.0.113.0/24\n"		/* 5 */
			       "bogus.example\n"				/* 6 */
			       "%s\n"						/* 7 */
			       "10.0.0.1/8#tight comment\n",			/* 8 */
			       inner);
	char *outer = write_tmp("outer", text);
	char *spec = xasprintf("127.0.0.1 %s [::1]", outer);
	struct cidr_list *l;

	(void)state;
	l = cidr_list_parse(spec, "mynetworks", &dl);
	if (dl.n != 2)
		print_diags(&dl);
	assert_int_equal(dl.n, 2);
	assert_true(diag_has(&dl, outer, 6, "\"bogus.example\""));
	assert_true(diag_has(&dl, outer, 8, "\"10.0.0.0/8\" instead"));
	assert_int_equal(cidr_list_match(l, "127.0.0.1"), 1);
	assert_int_equal(cidr_list_match(l, "192.0.2.9"), 1);
	assert_int_equal(cidr_list_match(l, "198.51.100.9"), 1);
	assert_int_equal(cidr_list_match(l, "203.0.113.7"), 0);
	assert_int_equal(cidr_list_match(l, "203.0.113.8"), 1);
	assert_int_equal(cidr_list_match(l, "2001:db8::8"), 1);
	assert_int_equal(cidr_list_match(l, "::1"), 1);
	assert_int_equal(cidr_list_match(l, "10.0.0.1"), 0);
	assert_int_equal(cidr_list_match(l, "198.51.101.1"), 0);
	cidr_list_free(l);
	diag_clear(&dl);
	free(spec);
	free(text);
	free(outer);
	free(inner);
}

static void test_file_missing(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;
	struct cidr_list *l;

	(void)state;
	l = cidr_list_parse("192.0.2.1 /nonexistent/cidr/file", "mynetworks", &dl);
	assert_int_equal(dl.n, 1);
	assert_true(diag_has(&dl, "mynetworks", 0,
			     "open /nonexistent/cidr/file: No such file or directory"));
	assert_int_equal(cidr_list_match(l, "192.0.2.1"), 1);
	cidr_list_free(l);
	diag_clear(&dl);
}

static void test_file_loop(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;
	char *path = xasprintf("%s/loop", tmpdir);
	char *text = xasprintf("192.0.2.9\n%s  # me again\n192.0.2.10\n", path);
	struct cidr_list *l;

	(void)state;
	free(write_tmp("loop", text));
	l = cidr_list_parse(path, "mynetworks", &dl);
	if (dl.n != 1)
		print_diags(&dl);
	assert_int_equal(dl.n, 1);
	assert_true(diag_has(&dl, path, 2, "includes itself"));
	assert_int_equal(cidr_list_count(l), 2);
	assert_int_equal(cidr_list_match(l, "192.0.2.10"), 1);
	cidr_list_free(l);
	diag_clear(&dl);
	free(text);
	free(path);
}

/* A chain f1 -> f2 -> ... -> f7 is read 5 files deep, no further. */
static void test_file_depth(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;
	char *first = NULL, *f5 = xasprintf("%s/chain5", tmpdir);
	struct cidr_list *l;

	(void)state;
	for (int i = 7; i >= 1; i--) {
		char *name = xasprintf("chain%d", i);
		char *text = xasprintf("192.0.2.%d\n%s/chain%d\n", i, tmpdir, i + 1);

		if (i == 7) {
			free(text);
			text = xstrdup("192.0.2.7\n");
		}
		free(first);
		first = write_tmp(name, text);
		free(name);
		free(text);
	}
	l = cidr_list_parse(first, "mynetworks", &dl);
	if (dl.n != 1)
		print_diags(&dl);
	assert_int_equal(dl.n, 1);
	assert_true(diag_has(&dl, f5, 2, "nested too deeply"));
	for (int i = 1; i <= 5; i++) {
		char *addr = xasprintf("192.0.2.%d", i);

		assert_int_equal(cidr_list_match(l, addr), 1);
		free(addr);
	}
	assert_int_equal(cidr_list_match(l, "192.0.2.6"), 0);
	assert_int_equal(cidr_list_match(l, "192.0.2.7"), 0);
	cidr_list_free(l);
	diag_clear(&dl);
	free(first);
	free(f5);
}

/* Two files that include each other are each read once. */
static void test_file_mutual(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;
	char *a = xasprintf("%s/ping", tmpdir), *b = xasprintf("%s/pong", tmpdir);
	char *ta = xasprintf("192.0.2.1 %s\n", b), *tb = xasprintf("%s 192.0.2.2\n", a);
	struct cidr_list *l;

	(void)state;
	free(write_tmp("ping", ta));
	free(write_tmp("pong", tb));
	l = cidr_list_parse(a, "mynetworks", &dl);
	assert_int_equal(dl.n, 1);
	assert_true(diag_has(&dl, b, 1, "includes itself"));
	assert_int_equal(cidr_list_count(l), 2);
	cidr_list_free(l);
	diag_clear(&dl);
	free(a);
	free(b);
	free(ta);
	free(tb);
}

/* One parse opens at most 1000 files, however they are arranged. */
static void test_file_many(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;
	char *leaf = write_tmp("leaf", "192.0.2.1\n");
	vstr text = VSTR_INIT;
	char *fan;
	struct cidr_list *l;

	(void)state;
	for (int i = 0; i < 1005; i++)
		vstr_catf(&text, "%s\n", leaf);
	fan = write_tmp("fan", vstr_str(&text));
	l = cidr_list_parse(fan, "mynetworks", &dl);
	assert_int_equal(dl.n, 6);	/* fan and 999 leaves read; 6 refused */
	assert_true(diag_has(&dl, fan, 1000, "too many /file includes"));
	assert_true(diag_has(&dl, fan, 1005, "too many /file includes"));
	assert_int_equal(cidr_list_count(l), 999);
	cidr_list_free(l);
	diag_clear(&dl);
	vstr_release(&text);
	free(fan);
	free(leaf);
}

/* ---------------------------------------------------------- mynetworks */

static void test_mynetworks_default(void **state)
{
	static const char *styles[] = { "host", "subnet", "class", "bogus", "" };
	char *host = cidr_mynetworks_default("host");

	(void)state;
	assert_true(strncmp(host, "127.0.0.0/8 [::1]/128", 21) == 0);
	for (size_t i = 0; i < sizeof(styles) / sizeof(styles[0]); i++) {
		char *text = cidr_mynetworks_default(styles[i]);
		struct cidr_list *l = parse_clean(text);

		print_message("mynetworks_style %s: %s\n", styles[i], text);
		if (i != 1 && i != 2)
			assert_string_equal(text, host);	/* unknown style: host */
		assert_int_equal(cidr_list_match(l, "198.51.100.200"), 0);
		cidr_list_free(l);
		free(text);
	}
	free(host);
}

static void test_mynetworks_params(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;
	char *subnet = cidr_mynetworks_default("subnet");
	const struct param_def *p;

	(void)state;
	p = param_find("mynetworks");
	assert_non_null(p);
	assert_non_null(param_find("mynetworks_style"));
	assert_string_equal(param_default(param_find("mynetworks_style")), "host");
	assert_int_equal(conf_load_string("", "main.cf", &dl), 0);
	assert_true(strncmp(conf_str("mynetworks"), "127.0.0.0/8 [::1]/128", 21) == 0);
	assert_int_equal(conf_load_string("mynetworks_style = subnet\n", "main.cf", &dl), 0);
	assert_string_equal(conf_str("mynetworks"), subnet);
	assert_int_equal(conf_load_string("mynetworks_style = $mynetworks\n", "main.cf", &dl), 0);
	assert_true(strncmp(conf_str("mynetworks"), "127.0.0.0/8 [::1]/128", 21) == 0);
	assert_int_equal(conf_load_string("mynetworks = 192.0.2.0/24 $extra\nextra = [::1]\n",
					  "main.cf", &dl), 0);
	assert_string_equal(conf_str("mynetworks"), "192.0.2.0/24 [::1]");
	assert_int_equal(conf_validate(&dl), 0);
	assert_int_equal(dl.n, 0);
	conf_load_string("", "main.cf", NULL);
	free(subnet);
}

/* ------------------------------------------------------------ cidr: table */

static const char cidr_table[] =
	"# client networks\n"			/* 1 */
	"192.0.2.0/24\tOK\n"			/* 2 */
	"192.0.2.0/25\tnever reached\n"		/* 3 */
	"10.0.0.0/8 REJECT go away\n"		/* 4 */
	"   and stay away  \n"			/* 5 */
	"[2001:db8::]/32   v6 result\n"		/* 6 */
	"2001:db8:1::/48 shadowed\n"		/* 7 */
	"192.0.2.1/24 bad\n"			/* 8 */
	"mail.example.com\tOK\n"		/* 9 */
	"lonely\n"				/* 10 */
	"!198.51.100.0/24 x\n"			/* 11 */
	"\n"					/* 12 */
	"198.51.100.7 the host\n"		/* 13 */
	"0.0.0.0/0 DUNNO\n";			/* 14 */

static void test_dict_cidr(void **state)
{
	char *path = write_tmp("table", cidr_table), *spec = xasprintf("cidr:%s", path);
	char *err = NULL;
	const char *v = NULL;
	struct dict *d;

	(void)state;
	assert_non_null(dict_type_find("cidr"));
	d = dict_open(spec, 0, &err);
	assert_non_null(d);
	assert_null(err);
	if (d->diags.n != 4)
		print_diags(&d->diags);
	assert_int_equal(d->diags.n, 4);
	assert_true(diag_has(&d->diags, path, 8, "perhaps you should use \"192.0.2.0/24\""));
	assert_true(diag_has(&d->diags, path, 9, "host names are not looked up"));
	assert_true(diag_has(&d->diags, path, 10, "expected format"));
	assert_true(diag_has(&d->diags, path, 11, "\"!198.51.100.0/24\""));
	assert_int_equal(dict_lookup(d, "192.0.2.200", &v), DICT_FOUND);
	assert_string_equal(v, "OK");
	assert_int_equal(dict_lookup(d, "192.0.2.1", &v), DICT_FOUND);
	assert_string_equal(v, "OK");
	assert_int_equal(dict_lookup(d, "10.9.8.7", &v), DICT_FOUND);
	assert_string_equal(v, "REJECT go away   and stay away");
	assert_int_equal(dict_lookup(d, "::ffff:10.0.0.1", &v), DICT_FOUND);
	assert_string_equal(v, "REJECT go away   and stay away");
	assert_int_equal(dict_lookup(d, "2001:db8:1::5", &v), DICT_FOUND);
	assert_string_equal(v, "v6 result");
	assert_int_equal(dict_lookup(d, "[2001:DB8::1]", &v), DICT_FOUND);
	assert_string_equal(v, "v6 result");
	assert_int_equal(dict_lookup(d, "198.51.100.7", &v), DICT_FOUND);
	assert_string_equal(v, "the host");
	assert_int_equal(dict_lookup(d, "198.51.100.8", &v), DICT_FOUND);
	assert_string_equal(v, "DUNNO");
	assert_int_equal(dict_lookup(d, "2001:db9::1", &v), DICT_NOTFOUND);
	assert_int_equal(dict_lookup(d, "mail.example.com", &v), DICT_NOTFOUND);
	assert_int_equal(dict_lookup(d, "", &v), DICT_NOTFOUND);
	dict_close(d);
	free(spec);
	free(path);
}

static void test_dict_cidr_errors(void **state)
{
	char *err = NULL, *path = write_tmp("empty", "# nothing\n");
	char *spec = xasprintf("cidr:%s", path);
	const char *v = NULL;
	struct dict *d;

	(void)state;
	assert_null(dict_open("cidr:/nonexistent/table", 0, &err));
	assert_non_null(err);
	assert_string_equal(err, "open cidr:/nonexistent/table: No such file or directory");
	free(err);
	err = NULL;
	assert_null(dict_open("cidr:", 0, &err));
	assert_non_null(strstr(err, "need cidr:/path"));
	free(err);
	err = NULL;
	d = dict_open(spec, 0, &err);
	assert_non_null(d);
	assert_int_equal(d->diags.n, 0);
	assert_int_equal(dict_lookup(d, "192.0.2.1", &v), DICT_NOTFOUND);
	dict_close(d);
	free(spec);
	free(path);
}

/* ---------------------------------------------------- differential check */

/* rng - a small fixed-seed generator, so failures repeat */
static uint32_t rng(void)
{
	static uint32_t x = 2463534242u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

/* ref_in_net - bit by bit, the obvious way */
static int ref_in_net(const unsigned char *a, const unsigned char *net, int plen)
{
	for (int bit = 0; bit < plen; bit++) {
		int shift = 7 - bit % 8;

		if (((a[bit / 8] >> shift) & 1) != ((net[bit / 8] >> shift) & 1))
			return 0;
	}
	return 1;
}

/* random_net - a random network of family (4 or 6) in text, host bits clear */
static char *random_net(int family, unsigned char *net, int *plen)
{
	char buf[64];
	int bytes = family == 4 ? 4 : 16;

	*plen = (int)(rng() % (unsigned)(bytes * 8 + 1));
	for (int i = 0; i < bytes; i++) {
		int keep = *plen - 8 * i;

		net[i] = (unsigned char)rng();
		if (keep <= 0)
			net[i] = 0;
		else if (keep < 8)
			net[i] &= (unsigned char)(0xff << (8 - keep));
	}
	inet_ntop(family == 4 ? AF_INET : AF_INET6, net, buf, sizeof(buf));
	return family == 4 ? xasprintf("%s/%d", buf, *plen) : xasprintf("[%s]/%d", buf, *plen);
}

/* near_addr - an address that shares a random number of leading bits with net */
static void near_addr(int bytes, const unsigned char *net, unsigned char *a)
{
	int same = (int)(rng() % (unsigned)(bytes * 8 + 1));

	for (int i = 0; i < bytes; i++)
		a[i] = (unsigned char)rng();
	for (int bit = 0; bit < same; bit++) {
		int shift = 7 - bit % 8;

		a[bit / 8] = (unsigned char)((a[bit / 8] & ~(1 << shift)) | (net[bit / 8] & (1 << shift)));
	}
}

static void test_differential(void **state)
{
	(void)state;
	for (int round = 0; round < 4000; round++) {
		int family = round % 2 ? 6 : 4, bytes = family == 4 ? 4 : 16, plen;
		unsigned char net[16], a[16];
		char buf[64];
		char *text = random_net(family, net, &plen);
		struct cidr_list *l = parse_clean(text);
		int want, got;

		near_addr(bytes, net, a);
		if (family == 6 && memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
			a[0] ^= 0x80;	/* a mapped client would be IPv4 */
		inet_ntop(family == 4 ? AF_INET : AF_INET6, a, buf, sizeof(buf));
		want = ref_in_net(a, net, plen);
		if (family == 6 && plen >= 96 && memcmp(net, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
			want = 0;	/* the entry became IPv4 */
		got = cidr_list_match(l, buf);
		if (got != want)
			fail_msg("%s vs %s: got %d, want %d", text, buf, got, want);
		cidr_list_free(l);
		free(text);
	}
}

/* ------------------------------------------------------------ robustness */

static const char *tricky[] = {
	"192.0.2.0/24", "[2001:db8::]/32", "!![::ffff:192.0.2.0]/120,,", "!/", "/",
	"[", "]", "[]/", "[::1]/1289", "255.255.255.255/32", "0.0.0.0/0000",
	"1:2:3:4:5:6:7:8/128", "1:2:3:4:5:6:1.2.3.4", "::ffff:1.2.3.4/128",
	"fe80::1%eth0/64", "[fe80::1%eth0]", "::/", "/0", "!", "#", "\t\r\n, !",
	"[1.2.3.4/24]", "1.2.3.4/24/24", "01:02::0003/16", "::::", "[::]:25",
	"2001:db8::/32 !2001:db8::1 10.0.0.0/8, localhost /nonexistent",
	"0000:0000:0000:0000:0000:0000:0000:0000:0000/1",
	"999.999.999.999/999", "1.2.3.4/18446744073709551617", "[::1]]]]]",
	"%%%%", "[%]", "::ffff:", "::ffff:1.2.3", "1.2.3.4.", ".1.2.3.4",
};

/* feed - parse text; match it, and a few addresses, against the result */
static void feed(const char *text)
{
	struct diaglist dl = DIAGLIST_INIT;
	struct cidr_list *l = cidr_list_parse(text, "fuzz", &dl);
	int m;

	assert_non_null(l);
	m = cidr_list_match(l, text);
	assert_true(m >= -1 && m <= 1);
	assert_true(cidr_list_match(l, "192.0.2.1") >= 0);
	assert_true(cidr_list_match(l, "::ffff:192.0.2.1") >= 0);
	assert_true(cidr_list_match(l, "2001:db8::1") >= 0);
	cidr_list_free(l);
	diag_clear(&dl);
}

static void test_every_prefix(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(tricky) / sizeof(tricky[0]); i++) {
		size_t len = strlen(tricky[i]);

		for (size_t n = 0; n <= len; n++) {
			char *prefix = xstrndup(tricky[i], n);
			char *suffix = xstrdup(tricky[i] + n);

			feed(prefix);
			feed(suffix);
			free(prefix);
			free(suffix);
		}
	}
}

/* Random strings over the bytes that matter to the parser. */
static void test_random_strings(void **state)
{
	static const char alphabet[] = "0123456789abcdefABCDEF:.[]/!%, \t\nx#-+";
	char buf[64];

	(void)state;
	for (int round = 0; round < 20000; round++) {
		size_t len = rng() % (sizeof(buf) - 1);

		for (size_t i = 0; i < len; i++)
			buf[i] = alphabet[rng() % (sizeof(alphabet) - 1)];
		buf[len] = 0;
		feed(buf);
	}
}

/* Long input: no fixed buffer may be overrun. */
static void test_long_input(void **state)
{
	vstr v = VSTR_INIT;

	(void)state;
	for (int i = 0; i < 5000; i++)
		vstr_cat(&v, "1:");
	feed(vstr_str(&v));
	vstr_reset(&v);
	vstr_cat(&v, "[");
	for (int i = 0; i < 5000; i++)
		vstr_cat(&v, "0");
	vstr_cat(&v, "]/");
	for (int i = 0; i < 5000; i++)
		vstr_cat(&v, "9");
	feed(vstr_str(&v));
	vstr_release(&v);
}

/* -------------------------------------------------------------- setup */

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	return tu_remove_tree(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_boundaries),
		cmocka_unit_test(test_v6_boundaries),
		cmocka_unit_test(test_negation_order),
		cmocka_unit_test(test_brackets),
		cmocka_unit_test(test_mapped),
		cmocka_unit_test(test_host_bits),
		cmocka_unit_test(test_names_refused),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_invalid_client),
		cmocka_unit_test(test_file_include),
		cmocka_unit_test(test_file_missing),
		cmocka_unit_test(test_file_loop),
		cmocka_unit_test(test_file_depth),
		cmocka_unit_test(test_file_mutual),
		cmocka_unit_test(test_file_many),
		cmocka_unit_test(test_mynetworks_default),
		cmocka_unit_test(test_mynetworks_params),
		cmocka_unit_test(test_dict_cidr),
		cmocka_unit_test(test_dict_cidr_errors),
		cmocka_unit_test(test_differential),
		cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_random_strings),
		cmocka_unit_test(test_long_input),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
