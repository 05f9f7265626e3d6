/* test_attr - unit tests for lib/attr.c: round trips, typed getters, the
 * incremental decoder at every split point, malformed and oversized
 * frames, and blocking attr_read/attr_write over sockets and pipes. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "attr.h"
#include "events.h"
#include "mem.h"
#include "vstr.h"

/* sample - a list with every kind of value, including the awkward ones */
static void sample(struct attr_list *l)
{
	attr_add_str(l, "protocol", "cleanup");
	attr_add_int(l, "count", -42);
	attr_add_int(l, "min", LLONG_MIN);
	attr_add_int(l, "max", LLONG_MAX);
	attr_add_data(l, "blob", "a\0b\0", 4);
	attr_add_str(l, "empty", "");
	attr_add_data(l, "nodata", NULL, 0);
	attr_add_str(l, "name_with_64_chars_0123456789_0123456789_0123456789_012345678901", "x");
}

static void assert_lists_equal(const struct attr_list *a, const struct attr_list *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		assert_string_equal(a->v[i].name, b->v[i].name);
		assert_int_equal(a->v[i].len, b->v[i].len);
		assert_memory_equal(a->v[i].value, b->v[i].value, a->v[i].len + 1);
	}
}

/* encode - the frame for l as a new vstr */
static void encode(const struct attr_list *l, vstr *out)
{
	vstr_init(out);
	attr_encode(l, out);
}

static uint32_t be32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

static void test_roundtrip(void **state)
{
	struct attr_list l = ATTR_LIST_INIT, back = ATTR_LIST_INIT;
	const char *err = NULL, *s;
	const void *data;
	size_t len;
	long long v;
	vstr f;

	(void)state;
	sample(&l);
	encode(&l, &f);
	assert_int_equal(be32(f.buf), f.len - 4);
	assert_int_equal(attr_decode_body(f.buf + 4, f.len - 4, &back, &err), 0);
	assert_lists_equal(&l, &back);
	assert_int_equal(attr_get_str(&back, "protocol", &s), 0);
	assert_string_equal(s, "cleanup");
	assert_int_equal(attr_get_int(&back, "count", &v), 0);
	assert_int_equal(v, -42);
	assert_int_equal(attr_get_int(&back, "min", &v), 0);
	assert_true(v == LLONG_MIN);
	assert_int_equal(attr_get_int(&back, "max", &v), 0);
	assert_true(v == LLONG_MAX);
	assert_int_equal(attr_get_data(&back, "blob", &data, &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(data, "a\0b\0", 4);
	assert_int_equal(attr_get_str(&back, "empty", &s), 0);
	assert_string_equal(s, "");
	assert_int_equal(attr_get_data(&back, "nodata", &data, &len), 0);
	assert_int_equal(len, 0);
	/* An empty list is a frame with an empty body. */
	attr_list_clear(&l);
	vstr_reset(&f);
	attr_encode(&l, &f);
	assert_int_equal(f.len, 4);
	assert_int_equal(be32(f.buf), 0);
	assert_int_equal(attr_decode_body(f.buf + 4, 0, &back, &err), 0);
	assert_int_equal(back.n, 0);
	vstr_release(&f);
	attr_list_clear(&back);
}

static void test_getters(void **state)
{
	struct attr_list l = ATTR_LIST_INIT;
	const char *s;
	const void *data;
	size_t len;
	long long v;
	static const char *bad_ints[] = {
		"", "-", "12a", " 12", "12 ", "+12", "0x10", "1.5", "--1",
		"9223372036854775808", "-9223372036854775809", "99999999999999999999",
	};

	(void)state;
	attr_add_data(&l, "nul", "a\0b", 3);
	attr_add_str(&l, "cr", "a\rb");
	attr_add_str(&l, "lf", "a\nb");
	attr_add_str(&l, "ok", "plain text");
	attr_add_str(&l, "dup", "first");
	attr_add_str(&l, "dup", "second");
	attr_add_str(&l, "zero", "-0");
	attr_add_str(&l, "lead", "007");
	for (size_t i = 0; i < sizeof(bad_ints) / sizeof(bad_ints[0]); i++)
		attr_add_str(&l, "int", bad_ints[i]);

	assert_null(attr_find(&l, "missing"));
	assert_int_equal(attr_get_str(&l, "missing", &s), -1);
	assert_int_equal(attr_get_line(&l, "missing", &s), -1);
	assert_int_equal(attr_get_int(&l, "missing", &v), -1);
	assert_int_equal(attr_get_data(&l, "missing", &data, &len), -1);

	assert_int_equal(attr_get_str(&l, "nul", &s), -1);
	assert_int_equal(attr_get_line(&l, "nul", &s), -1);
	assert_int_equal(attr_get_data(&l, "nul", &data, &len), 0);
	assert_int_equal(len, 3);
	assert_int_equal(attr_get_str(&l, "cr", &s), 0);
	assert_int_equal(attr_get_line(&l, "cr", &s), -1);
	assert_int_equal(attr_get_str(&l, "lf", &s), 0);
	assert_int_equal(attr_get_line(&l, "lf", &s), -1);
	assert_int_equal(attr_get_line(&l, "ok", &s), 0);
	assert_string_equal(s, "plain text");
	assert_int_equal(attr_get_str(&l, "dup", &s), 0);
	assert_string_equal(s, "first");
	assert_int_equal(attr_get_int(&l, "ok", &v), -1);
	assert_int_equal(attr_get_int(&l, "nul", &v), -1);
	assert_int_equal(attr_get_int(&l, "zero", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(attr_get_int(&l, "lead", &v), 0);
	assert_int_equal(v, 7);
	/* Each bad integer, one at a time, as the first "int". */
	for (size_t i = 0; i < sizeof(bad_ints) / sizeof(bad_ints[0]); i++) {
		struct attr_list one = ATTR_LIST_INIT;

		attr_add_str(&one, "int", bad_ints[i]);
		v = 12345;
		assert_int_equal(attr_get_int(&one, "int", &v), -1);
		assert_int_equal(v, 12345);
		attr_list_clear(&one);
	}
	attr_list_clear(&l);
	assert_int_equal(l.n, 0);
	attr_list_clear(&l);		/* twice is fine */
}

/* A bad name is a programming error: the process panics (abort). */
static void expect_panic(const char *name)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct attr_list l = ATTR_LIST_INIT;
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 2);
		attr_add_str(&l, name, "x");
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void test_bad_name_panics(void **state)
{
	(void)state;
	expect_panic("");
	expect_panic("Upper");
	expect_panic("has-dash");
	expect_panic("has space");
	expect_panic("name_with_65_chars_0123456789_0123456789_0123456789_0123456789012");
}

/* Incremental decoding. */

static void test_decoder_byte_at_a_time(void **state)
{
	struct attr_list l = ATTR_LIST_INIT, back = ATTR_LIST_INIT;
	struct attr_decoder d;
	const char *err = NULL;
	vstr f;

	(void)state;
	sample(&l);
	encode(&l, &f);
	attr_decoder_init(&d, ATTR_FRAME_MAX);
	for (size_t i = 0; i < f.len; i++) {
		assert_int_equal(attr_decoder_next(&d, &back, &err), ATTR_DEC_MORE);
		attr_decoder_feed(&d, f.buf + i, 1);
		assert_int_equal(attr_decoder_pending(&d), i + 1);
	}
	assert_int_equal(attr_decoder_next(&d, &back, &err), ATTR_DEC_FRAME);
	assert_lists_equal(&l, &back);
	assert_int_equal(attr_decoder_pending(&d), 0);
	assert_int_equal(attr_decoder_next(&d, &back, &err), ATTR_DEC_MORE);
	attr_decoder_free(&d);
	vstr_release(&f);
	attr_list_clear(&l);
	attr_list_clear(&back);
}

static void test_decoder_two_pieces(void **state)
{
	struct attr_list l = ATTR_LIST_INIT, back = ATTR_LIST_INIT;
	const char *err = NULL;
	vstr f;

	(void)state;
	sample(&l);
	encode(&l, &f);
	for (size_t i = 0; i <= f.len; i++) {
		struct attr_decoder d;

		attr_decoder_init(&d, ATTR_FRAME_MAX);
		attr_decoder_feed(&d, f.buf, i);
		if (i < f.len)
			assert_int_equal(attr_decoder_next(&d, &back, &err), ATTR_DEC_MORE);
		attr_decoder_feed(&d, f.buf + i, f.len - i);
		assert_int_equal(attr_decoder_next(&d, &back, &err), ATTR_DEC_FRAME);
		assert_lists_equal(&l, &back);
		assert_int_equal(attr_decoder_pending(&d), 0);
		attr_decoder_free(&d);
	}
	vstr_release(&f);
	attr_list_clear(&l);
	attr_list_clear(&back);
}

/* Three frames in one buffer, fed whole, then a byte at a time. */
static void test_decoder_back_to_back(void **state)
{
	struct attr_list a = ATTR_LIST_INIT, b = ATTR_LIST_INIT, back = ATTR_LIST_INIT;
	struct attr_decoder d;
	const char *err = NULL;
	vstr f, all = VSTR_INIT;

	(void)state;
	sample(&a);
	attr_add_str(&b, "request", "rewrite");
	attr_encode(&a, &all);
	attr_encode(&b, &all);
	attr_encode(&a, &all);
	encode(&b, &f);
	attr_decoder_init(&d, ATTR_FRAME_MAX);
	attr_decoder_feed(&d, all.buf, all.len);
	attr_decoder_feed(&d, f.buf, 3);	/* a partial fourth */
	assert_int_equal(attr_decoder_next(&d, &back, &err), ATTR_DEC_FRAME);
	assert_lists_equal(&a, &back);
	assert_int_equal(attr_decoder_next(&d, &back, &err), ATTR_DEC_FRAME);
	assert_lists_equal(&b, &back);
	assert_int_equal(attr_decoder_next(&d, &back, &err), ATTR_DEC_FRAME);
	assert_lists_equal(&a, &back);
	assert_int_equal(attr_decoder_next(&d, &back, &err), ATTR_DEC_MORE);
	assert_int_equal(attr_decoder_pending(&d), 3);
	attr_decoder_feed(&d, f.buf + 3, f.len - 3);
	assert_int_equal(attr_decoder_next(&d, &back, &err), ATTR_DEC_FRAME);
	assert_lists_equal(&b, &back);
	attr_decoder_free(&d);

	/* Byte at a time: frames come out in order, each as soon as complete. */
	attr_decoder_init(&d, ATTR_FRAME_MAX);
	{
		int got = 0;

		for (size_t i = 0; i < all.len; i++) {
			attr_decoder_feed(&d, all.buf + i, 1);
			while (attr_decoder_next(&d, &back, &err) == ATTR_DEC_FRAME) {
				assert_lists_equal(got == 1 ? &b : &a, &back);
				got++;
			}
		}
		assert_int_equal(got, 3);
	}
	attr_decoder_free(&d);
	vstr_release(&f);
	vstr_release(&all);
	attr_list_clear(&a);
	attr_list_clear(&b);
	attr_list_clear(&back);
}

static void put32(char *p, uint32_t v)
{
	p[0] = (char)(v >> 24);
	p[1] = (char)(v >> 16);
	p[2] = (char)(v >> 8);
	p[3] = (char)v;
}

static void test_decoder_oversized(void **state)
{
	struct attr_list l = ATTR_LIST_INIT;
	struct attr_decoder d;
	const char *err = NULL;
	char big[4 + 1000];
	vstr f;

	(void)state;
	memset(big, 'x', sizeof(big));
	put32(big, 33);
	/* The header alone is enough to refuse the frame. */
	attr_decoder_init(&d, 32);
	attr_decoder_feed(&d, big, 4);
	assert_int_equal(attr_decoder_next(&d, &l, &err), ATTR_DEC_ERROR);
	assert_non_null(err);
	attr_decoder_free(&d);
	/* Header and body in one feed: the body is not kept. */
	attr_decoder_init(&d, 32);
	attr_decoder_feed(&d, big, sizeof(big));
	assert_true(attr_decoder_pending(&d) <= 4);
	attr_decoder_feed(&d, big + 4, 500);
	assert_true(attr_decoder_pending(&d) <= 4);
	assert_int_equal(attr_decoder_next(&d, &l, &err), ATTR_DEC_ERROR);
	attr_decoder_free(&d);
	/* The same after a good frame in the same feed. */
	attr_add_str(&l, "a", "b");
	encode(&l, &f);
	vstr_ncat(&f, big, sizeof(big));
	attr_decoder_init(&d, 32);
	attr_decoder_feed(&d, f.buf, f.len);
	assert_true(attr_decoder_pending(&d) <= f.len - sizeof(big) + 4);
	assert_int_equal(attr_decoder_next(&d, &l, &err), ATTR_DEC_FRAME);
	assert_int_equal(attr_decoder_next(&d, &l, &err), ATTR_DEC_ERROR);
	attr_decoder_free(&d);
	/* Exactly max_frame is fine. */
	attr_list_clear(&l);
	attr_add_data(&l, "v", big, 32 - 7);
	vstr_reset(&f);
	attr_encode(&l, &f);
	assert_int_equal(f.len, 4 + 32);
	attr_decoder_init(&d, 32);
	attr_decoder_feed(&d, f.buf, f.len);
	assert_int_equal(attr_decoder_next(&d, &l, &err), ATTR_DEC_FRAME);
	attr_decoder_free(&d);
	vstr_release(&f);
	attr_list_clear(&l);
}

/* Malformed bodies, each checked directly and wrapped in a frame. */
struct bad_body {
	const char *what;
	const char *bytes;
	size_t len;
};

static void check_bad_body(const char *body, size_t len)
{
	struct attr_list l = ATTR_LIST_INIT;
	struct attr_decoder d;
	const char *err = NULL;
	char hdr[4];

	attr_add_str(&l, "stale", "x");		/* cleared by the decoder */
	assert_int_equal(attr_decode_body(body, len, &l, &err), -1);
	assert_non_null(err);
	assert_int_equal(l.n, 0);
	err = NULL;
	put32(hdr, (uint32_t)len);
	attr_decoder_init(&d, ATTR_FRAME_MAX);
	attr_decoder_feed(&d, hdr, 4);
	attr_decoder_feed(&d, body, len);
	assert_int_equal(attr_decoder_next(&d, &l, &err), ATTR_DEC_ERROR);
	assert_non_null(err);
	attr_decoder_free(&d);
	attr_list_clear(&l);
}

#define B(s) { #s, s, sizeof(s) - 1 }

static void test_malformed_bodies(void **state)
{
	static const struct bad_body bad[] = {
		B("\0\0\0\0\0\0"),			/* zero-length name */
		B("\0\1A\0\0\0\0"),			/* upper case */
		B("\0\1-\0\0\0\0"),			/* dash */
		B("\0\2a\0\0\0\0\0"),			/* NUL in name */
		B("\0\1\xff\0\0\0\0"),			/* high byte */
		B("\0\5ab"),				/* name overruns */
		B("\0\1a\0\0"),				/* value length truncated */
		B("\0\1a\0\0\0\5abc"),			/* value overruns */
		B("\0\1a\xff\xff\xff\xff"),		/* huge value length */
		B("\0\1a\0\0\0\1x\0"),			/* one trailing byte */
		B("\0\1a\0\0\0\1x\0\1"),		/* two trailing bytes */
		B("\0\1a\0\0\0\1x\0\1b\0\0\0"),		/* next attribute cut short */
		B("\0"),				/* lone byte */
	};
	char longname[2 + 65 + 4];
	struct attr_list l = ATTR_LIST_INIT;
	const char *err;
	vstr many = VSTR_INIT;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_bad_body(bad[i].bytes, bad[i].len);
	/* A 65-byte name. */
	memset(longname, 'a', sizeof(longname));
	longname[0] = 0;
	longname[1] = 65;
	memset(longname + 2 + 65, 0, 4);
	check_bad_body(longname, sizeof(longname));
	/* ATTR_COUNT_MAX attributes are fine, one more is not. */
	for (int i = 0; i < ATTR_COUNT_MAX; i++)
		vstr_ncat(&many, "\0\1a\0\0\0\0", 7);
	assert_int_equal(attr_decode_body(many.buf, many.len, &l, &err), 0);
	assert_int_equal(l.n, ATTR_COUNT_MAX);
	vstr_ncat(&many, "\0\1a\0\0\0\0", 7);
	check_bad_body(many.buf, many.len);
	vstr_release(&many);
	attr_list_clear(&l);
}

/* Blocking I/O. */

static void make_pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

static void test_rw_roundtrip(void **state)
{
	struct attr_list l = ATTR_LIST_INIT, m = ATTR_LIST_INIT, back = ATTR_LIST_INIT;
	int sv[2];

	(void)state;
	make_pair(sv);
	sample(&l);
	attr_add_str(&m, "second", "frame");
	assert_int_equal(attr_write(sv[0], &l, 1000), 0);
	assert_int_equal(attr_write(sv[0], &m, 1000), 0);
	/* Frames are read one at a time, without reading ahead. */
	assert_int_equal(attr_read(sv[1], &back, ATTR_FRAME_MAX, 1000), 0);
	assert_lists_equal(&l, &back);
	assert_int_equal(attr_read(sv[1], &back, ATTR_FRAME_MAX, 1000), 0);
	assert_lists_equal(&m, &back);
	/* Clean EOF before a frame. */
	close(sv[0]);
	assert_int_equal(attr_read(sv[1], &back, ATTR_FRAME_MAX, 1000), 1);
	assert_int_equal(back.n, 0);
	close(sv[1]);
	attr_list_clear(&l);
	attr_list_clear(&m);
	attr_list_clear(&back);
}

/* read_raw_errno - writes raw bytes, optionally closes, returns attr_read's errno */
static int read_raw_errno(const char *raw, size_t len, int do_close, size_t max, int timeout)
{
	struct attr_list back = ATTR_LIST_INIT;
	int sv[2], ret, err;

	make_pair(sv);
	assert_int_equal(write(sv[0], raw, len), (ssize_t)len);
	if (do_close)
		close(sv[0]);
	ret = attr_read(sv[1], &back, max, timeout);
	err = errno;
	assert_int_equal(ret, -1);
	assert_int_equal(back.n, 0);
	if (!do_close)
		close(sv[0]);
	close(sv[1]);
	return err;
}

static void test_read_errors(void **state)
{
	struct attr_list back = ATTR_LIST_INIT;
	char hdr[4 + 3];
	long long start;
	int sv[2];

	(void)state;
	/* EOF inside the length, and inside the body. */
	assert_int_equal(read_raw_errno("\0\0", 2, 1, ATTR_FRAME_MAX, 1000), EBADMSG);
	assert_int_equal(read_raw_errno("\0\0\0\x0b\0\1a\0", 8, 1, ATTR_FRAME_MAX, 1000), EBADMSG);
	/* A complete frame with a malformed body. */
	assert_int_equal(read_raw_errno("\0\0\0\2\0\0", 6, 1, ATTR_FRAME_MAX, 1000), EBADMSG);
	/* Nothing arrives, or half a frame does: the deadline. */
	start = ev_now_ms();
	assert_int_equal(read_raw_errno("", 0, 0, ATTR_FRAME_MAX, 100), ETIMEDOUT);
	assert_true(ev_now_ms() - start >= 99);
	assert_true(ev_now_ms() - start < 1000);
	start = ev_now_ms();
	assert_int_equal(read_raw_errno("\0\0\0\x0b\0\1a", 7, 0, ATTR_FRAME_MAX, 100), ETIMEDOUT);
	assert_true(ev_now_ms() - start < 1000);

	/* Oversized: refused from the length alone; the body stays unread. */
	make_pair(sv);
	put32(hdr, ATTR_FRAME_MAX + 1);
	memcpy(hdr + 4, "xyz", 3);
	assert_int_equal(write(sv[0], hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	assert_int_equal(attr_read(sv[1], &back, ATTR_FRAME_MAX, 1000), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(read(sv[1], hdr, 3), 3);
	assert_memory_equal(hdr, "xyz", 3);
	close(sv[0]);
	close(sv[1]);
}

static void test_write_errors(void **state)
{
	struct attr_list l = ATTR_LIST_INIT;
	size_t big = 8 * 1024 * 1024;
	char *data = xcalloc(1, big);
	int sv[2], sndbuf = 4096;
	long long start;

	(void)state;
	attr_add_data(&l, "data", data, big);
	/* Nobody reads: the deadline, even though the fd is blocking. */
	make_pair(sv);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	start = ev_now_ms();
	assert_int_equal(attr_write(sv[0], &l, 100), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(ev_now_ms() - start >= 99);
	assert_true(ev_now_ms() - start < 2000);
	/* The peer is gone: EPIPE, and no SIGPIPE kills us. */
	close(sv[1]);
	assert_int_equal(attr_write(sv[0], &l, 1000), -1);
	assert_int_equal(errno, EPIPE);
	close(sv[0]);
	attr_list_clear(&l);
	free(data);
}

/* Pipes take the write(2) path. */
static void test_pipe(void **state)
{
	struct attr_list l = ATTR_LIST_INIT, big = ATTR_LIST_INIT, back = ATTR_LIST_INIT;
	size_t len = 256 * 1024;
	char *data = xcalloc(1, len);
	long long start;
	int p[2];

	(void)state;
	sample(&l);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(attr_write(p[1], &l, 1000), 0);
	assert_int_equal(attr_read(p[0], &back, ATTR_FRAME_MAX, 1000), 0);
	assert_lists_equal(&l, &back);
	/* More than the pipe holds, nobody reading: a blocking pipe must not
	 * block past the deadline. */
	attr_add_data(&big, "data", data, len);
	start = ev_now_ms();
	assert_int_equal(attr_write(p[1], &big, 100), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(ev_now_ms() - start < 2000);
	/* Reader gone: EPIPE, no SIGPIPE. */
	close(p[0]);
	assert_int_equal(attr_write(p[1], &l, 1000), -1);
	assert_int_equal(errno, EPIPE);
	close(p[1]);
	free(data);
	attr_list_clear(&l);
	attr_list_clear(&big);
	attr_list_clear(&back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_getters),
		cmocka_unit_test(test_bad_name_panics),
		cmocka_unit_test(test_decoder_byte_at_a_time),
		cmocka_unit_test(test_decoder_two_pieces),
		cmocka_unit_test(test_decoder_back_to_back),
		cmocka_unit_test(test_decoder_oversized),
		cmocka_unit_test(test_malformed_bodies),
		cmocka_unit_test(test_rw_roundtrip),
		cmocka_unit_test(test_read_errors),
		cmocka_unit_test(test_write_errors),
		cmocka_unit_test(test_pipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
