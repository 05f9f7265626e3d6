/* test_msg - log line shape, sanitizing, and the file and postlog sinks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "diag.h"
#include "msg.h"

static char dir[] = "/tmp/test_msg.XXXXXX";

static char *slurp(const char *path)
{
	static char buf[1 << 20];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

static void assert_matches(const char *text, const char *re)
{
	regex_t r;

	assert_int_equal(regcomp(&r, re, REG_EXTENDED | REG_NEWLINE), 0);
	int rc = regexec(&r, text, 0, NULL, 0);

	regfree(&r);
	if (rc != 0)
		fail_msg("\"%s\" does not match /%s/", text, re);
}

static void test_format_line_shape(void **state)
{
	char buf[256];
	size_t n;

	(void)state;
	n = msg_format_line(buf, sizeof(buf), 0, "postern/smtpd", 42, "connect from x[1.2.3.4]");
	assert_int_equal(n, strlen(buf));
	assert_matches(buf, "^[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [^ ]+ "
		       "postern/smtpd\\[42\\]: connect from x\\[1\\.2\\.3\\.4\\]\n$");
}

static void test_format_line_truncates_with_newline(void **state)
{
	char buf[40], text[200];

	(void)state;
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = 0;
	msg_format_line(buf, sizeof(buf), 0, "t", 1, text);
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
	assert_int_equal(buf[sizeof(buf) - 2], '\n');
}

static void test_file_sink_tags_and_sanitizes(void **state)
{
	char path[64];

	(void)state;
	snprintf(path, sizeof(path), "%s/log", dir);
	msg_init("/usr/libexec/postern/tester");
	assert_int_equal(msg_to_file("mylog", path), 0);
	msg_info("evil\r\nNov 1 00:00:00 host postern/fake[1]: forged");
	msg_warn("careful %d", 7);
	assert_matches(slurp(path), " mylog/tester\\[[0-9]+\\]: evil\\?\\?Nov 1 00:00:00 host postern/fake\\[1\\]: forged\n");
	assert_matches(slurp(path), " mylog/tester\\[[0-9]+\\]: warning: careful 7\n");
	/* exactly two lines: the CR LF did not start a new one */
	assert_int_equal(strchr(strchr(slurp(path), '\n') + 1, '\n')[1], 0);
}

static void test_postlog_sink_sends_datagrams(void **state)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char buf[1024];
	ssize_t n;
	int fd;

	(void)state;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/postlog", dir);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	msg_init("tester");
	assert_int_equal(msg_to_postlog("postern", sun.sun_path), 0);
	msg_info("hello %s", "world");
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = 0;
	assert_matches(buf, " postern/tester\\[[0-9]+\\]: hello world\n$");
	close(fd);
	unlink(sun.sun_path);
}

static void test_postlog_fallback_when_nobody_reads(void **state)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char path[64];
	int fd;

	(void)state;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/full", dir);
	snprintf(path, sizeof(path), "%s/fallback", dir);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	msg_init("master");
	assert_int_equal(msg_to_postlog("postern", sun.sun_path), 0);
	msg_postlog_fallback(path);
	/* Fill the receive queue: sends must not block, lines must not vanish. */
	for (int i = 0; i < 3000; i++)
		msg_info("line %d", i);
	assert_non_null(strstr(slurp(path), ": line 2999\n"));
	msg_postlog_fallback(NULL);
	close(fd);
	unlink(sun.sun_path);
}

static void test_diag_format_and_count(void **state)
{
	struct diaglist dl = DIAGLIST_INIT;
	char *s;

	(void)state;
	diag_add(&dl, DIAG_WARNING, "/etc/x/main.cf", 3, "unknown parameter \"%s\"", "foo");
	diag_add(&dl, DIAG_ERROR, "/etc/x/master.cf", 0, "cannot read");
	diag_add(&dl, DIAG_ERROR, NULL, 0, "plain");
	assert_int_equal(dl.n, 3);
	assert_int_equal(diag_errors(&dl), 2);
	s = diag_format(&dl.v[0]);
	assert_string_equal(s, "/etc/x/main.cf, line 3: unknown parameter \"foo\"");
	free(s);
	s = diag_format(&dl.v[1]);
	assert_string_equal(s, "/etc/x/master.cf: cannot read");
	free(s);
	s = diag_format(&dl.v[2]);
	assert_string_equal(s, "plain");
	free(s);
	diag_clear(&dl);
	assert_int_equal(dl.n, 0);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "%s/log", dir);
	unlink(cmd);
	snprintf(cmd, sizeof(cmd), "%s/fallback", dir);
	unlink(cmd);
	snprintf(cmd, sizeof(cmd), "%s/full", dir);
	unlink(cmd);
	snprintf(cmd, sizeof(cmd), "%s/postlog", dir);
	unlink(cmd);
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_line_shape),
		cmocka_unit_test(test_format_line_truncates_with_newline),
		cmocka_unit_test(test_file_sink_tags_and_sanitizes),
		cmocka_unit_test(test_postlog_sink_sends_datagrams),
		cmocka_unit_test(test_postlog_fallback_when_nobody_reads),
		cmocka_unit_test(test_diag_format_and_count),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
