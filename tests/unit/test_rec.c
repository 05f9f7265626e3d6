/* test_rec - record format round trips, truncation at every byte, limits,
 * in-place marking, and queue IDs and the create/commit protocol. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "qfile.h"
#include "rec.h"
#include "vstr.h"

static char dir[] = "/tmp/test_rec.XXXXXX";

static int tmpfile_fd(void)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "%s/f.XXXXXX", dir);
	fd = mkstemp(path);
	unlink(path);
	return fd;
}

static void sample(vstr *out)
{
	char big[70000];

	memset(big, 'b', sizeof(big));
	rec_encode(out, REC_VERSION, "postern-queue 1", 15);
	rec_encode(out, REC_SENDER, "", 0);
	rec_encode(out, REC_RCPT, "a@b", 3);
	rec_encode(out, REC_BODY, "x\0y\n", 4);
	rec_encode(out, REC_BODY, big, sizeof(big));
	rec_encode(out, REC_END, "", 0);
}

static void test_writer_reader_round_trip(void **state)
{
	struct rec_writer w;
	struct rec_reader r;
	vstr p = VSTR_INIT;
	const char *err;
	off_t where, rcpt;
	int fd = tmpfile_fd(), type;

	(void)state;
	rec_writer_init(&w, fd, 0);
	assert_int_equal(rec_puts(&w, REC_VERSION, "v1"), 0);
	rec_put(&w, REC_SENDER, "", 0);
	rcpt = rec_puts(&w, REC_RCPT, "user@example.com");
	rec_putf(&w, REC_ATTR, "size=%d", 42);
	rec_put(&w, REC_BODY, "a\0b", 3);
	rec_put(&w, REC_END, "", 0);
	assert_int_equal(rec_flush(&w), 0);
	rec_writer_free(&w);

	rec_reader_init(&r, fd, 0);
	assert_int_equal(rec_get(&r, &type, &p, 100, &where, &err), REC_OK);
	assert_int_equal(type, REC_VERSION);
	assert_string_equal(vstr_str(&p), "v1");
	assert_int_equal(rec_get(&r, &type, &p, 100, &where, &err), REC_OK);
	assert_int_equal(type, REC_SENDER);
	assert_int_equal(vstr_len(&p), 0);
	assert_int_equal(rec_get(&r, &type, &p, 100, &where, &err), REC_OK);
	assert_int_equal(where, rcpt);
	assert_int_equal(rec_mark(fd, where, REC_DONE), 0);
	assert_int_equal(rec_get(&r, &type, &p, 100, &where, &err), REC_OK);
	assert_string_equal(vstr_str(&p), "size=42");
	assert_int_equal(rec_get(&r, &type, &p, 100, &where, &err), REC_OK);
	assert_memory_equal(vstr_str(&p), "a\0b", 3);
	assert_int_equal(rec_get(&r, &type, &p, 100, &where, &err), REC_OK);
	assert_int_equal(type, REC_END);
	assert_int_equal(rec_get(&r, &type, &p, 100, &where, &err), REC_EOF);
	/* the mark is seen by a new reader */
	rec_reader_init(&r, fd, rcpt);
	assert_int_equal(rec_get(&r, &type, &p, 100, &where, &err), REC_OK);
	assert_int_equal(type, REC_DONE);
	assert_string_equal(vstr_str(&p), "user@example.com");
	vstr_release(&p);
	close(fd);
}

/* Every prefix of a valid file is either whole records or a clean error. */
static void test_truncated_at_every_byte(void **state)
{
	vstr whole = VSTR_INIT, p = VSTR_INIT;
	const char *err;
	int type, ret;

	(void)state;
	sample(&whole);
	for (size_t cut = 0; cut < vstr_len(&whole); cut += cut < 64 ? 1 : 997) {
		int fd = tmpfile_fd();
		struct rec_reader r;
		int records = 0;

		assert_int_equal(write(fd, vstr_str(&whole), cut), (ssize_t)cut);
		rec_reader_init(&r, fd, 0);
		while ((ret = rec_get(&r, &type, &p, 100000, NULL, &err)) == REC_OK)
			records++;
		assert_true(records < 6);
		if (ret == REC_ERR)
			assert_string_equal(err, "truncated record");
		close(fd);
	}
	vstr_release(&whole);
	vstr_release(&p);
}

static void test_limits(void **state)
{
	vstr whole = VSTR_INIT, p = VSTR_INIT;
	const char *err;
	struct rec_reader r;
	int fd = tmpfile_fd(), type;
	static const char bad_len[] = {'R', (char)0xff, (char)0xff, (char)0xff, (char)0xff, (char)0xff, 1};

	(void)state;
	sample(&whole);
	assert_int_equal(write(fd, vstr_str(&whole), vstr_len(&whole)), (ssize_t)vstr_len(&whole));
	rec_reader_init(&r, fd, 0);
	while (rec_get(&r, &type, &p, 1000, NULL, &err) == REC_OK)
		;
	assert_string_equal(err, "record too long");
	close(fd);
	fd = tmpfile_fd();
	assert_int_equal(write(fd, bad_len, sizeof(bad_len)), (ssize_t)sizeof(bad_len));
	rec_reader_init(&r, fd, 0);
	assert_int_equal(rec_get(&r, &type, &p, 1 << 30, NULL, &err), REC_ERR);
	assert_string_equal(err, "bad record length");
	close(fd);
	vstr_release(&whole);
	vstr_release(&p);
}

static void test_decode_every_split(void **state)
{
	vstr whole = VSTR_INIT;
	const char *data;
	size_t dlen, used = 0;
	int type, n = 0;
	ssize_t r;

	(void)state;
	sample(&whole);
	for (size_t avail = 0; avail <= vstr_len(&whole) - used; avail++) {
		r = rec_decode(vstr_str(&whole) + used, avail, &type, &data, &dlen, 100000);
		assert_true(r >= 0);
		if (r > 0) {
			used += (size_t)r;
			n++;
			avail = 0;
		}
		if (used == vstr_len(&whole))
			break;
	}
	assert_int_equal(n, 6);
	assert_int_equal(rec_decode(vstr_str(&whole), vstr_len(&whole), &type, &data, &dlen, 3), -1);
	vstr_release(&whole);
}

static void test_qid(void **state)
{
	struct timeval a = {1700000000, 999999}, b = {1700000000, 1};
	char x[QID_MAX], y[QID_MAX];

	(void)state;
	qid_format(x, sizeof(x), &a, 123456);
	qid_format(y, sizeof(y), &b, 123456);
	assert_true(qid_valid(x));
	assert_string_not_equal(x, y);
	assert_non_null(strchr(x, 'z'));
	for (const char *p = x; *p; p++)
		assert_true((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'));
	assert_false(qid_valid("tmp.123.4.0"));
	assert_false(qid_valid("../etc/passwd"));
	assert_false(qid_valid(""));
	assert_true(qid_hash_char(x) != 0);
}

static void test_create_commit(void **state)
{
	char id[QID_MAX], path[128];
	struct timeval tv;
	struct stat st;
	int fd;

	(void)state;
	fd = queue_file_create(dir, id, &tv);
	assert_true(fd >= 0);
	assert_true(qid_valid(id));
	snprintf(path, sizeof(path), "%s/%s", dir, id);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, QFILE_MODE_WRITING);
	assert_false(queue_file_complete(&st, QFILE_MODE_QUEUED));
	assert_int_equal(queue_file_commit(fd, dir, QFILE_MODE_QUEUED), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(queue_file_complete(&st, QFILE_MODE_QUEUED));
	close(fd);
	unlink(path);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_writer_reader_round_trip),
		cmocka_unit_test(test_truncated_at_every_byte),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_decode_every_split),
		cmocka_unit_test(test_qid),
		cmocka_unit_test(test_create_commit),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
