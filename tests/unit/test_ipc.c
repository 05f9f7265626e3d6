/* test_ipc - unit tests for lib/ipc.c: unix stream, dgram, FIFO and TCP
 * listeners, unix connects with a timeout, the service greeting, and
 * triggers. Everything lives in a mkdtemp directory removed afterwards. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "events.h"
#include "ipc.h"
#include "mem.h"
#include "vstr.h"

struct fixture {
	char dir[64];
	char *paths[8];
	int npaths;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_ipc.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < f->npaths; i++) {
		unlink(f->paths[i]);
		free(f->paths[i]);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* path - a file name inside the fixture directory, removed at teardown */
static const char *path(struct fixture *f, const char *name)
{
	char *p = xasprintf("%s/%s", f->dir, name);

	assert_true(f->npaths < 8);
	f->paths[f->npaths++] = p;
	return p;
}

static void assert_nonblock_cloexec(int fd, int want_nonblock)
{
	int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);

	assert_true(fl >= 0 && fdfl >= 0);
	assert_int_equal(!!(fl & O_NONBLOCK), want_nonblock);
	assert_true(fdfl & FD_CLOEXEC);
}

/* accept_one - waits for and accepts one connection on a listener */
static int accept_one(int lfd)
{
	assert_int_equal(ipc_wait(lfd, POLLIN, ev_now_ms() + 1000), 1);
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/* greeting_result - server sends (proto, version) or nothing (proto NULL,
 * closing when close_it); client expects (want, min). Returns the client's
 * result and its message in *err. */
static int greeting_result(const char *sock, const char *proto, int version, int close_it,
			   const char *want, int min, char **err)
{
	int lfd, cfd, sfd, ret;

	*err = NULL;
	lfd = ipc_listen_unix(sock, 16, 0600, err);
	assert_true(lfd >= 0);
	cfd = ipc_connect_unix(sock, 1000);
	assert_true(cfd >= 0);
	sfd = accept_one(lfd);
	assert_true(sfd >= 0);
	if (proto)
		assert_int_equal(ipc_send_greeting(sfd, proto, version, 1000), 0);
	if (close_it)
		close(sfd);
	ret = ipc_expect_greeting(cfd, want, min, 100, err);
	if (!close_it)
		close(sfd);
	close(cfd);
	close(lfd);
	return ret;
}

static void test_greeting(void **state)
{
	struct fixture *f = *state;
	const char *sock = path(f, "cleanup");
	char *err = NULL;
	struct stat st;
	int lfd, cfd, sfd;

	/* Listener and client properties. */
	lfd = ipc_listen_unix(sock, 16, 0620, &err);
	assert_true(lfd >= 0);
	assert_null(err);
	assert_nonblock_cloexec(lfd, 1);
	assert_int_equal(stat(sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0620);
	cfd = ipc_connect_unix(sock, 1000);
	assert_true(cfd >= 0);
	assert_nonblock_cloexec(cfd, 0);
	sfd = accept_one(lfd);
	assert_int_equal(ipc_send_greeting(sfd, "cleanup", 2, 1000), 0);
	assert_int_equal(ipc_expect_greeting(cfd, "cleanup", 2, 1000, &err), 0);
	assert_null(err);
	close(sfd);
	close(cfd);
	close(lfd);

	/* A newer peer is fine. */
	assert_int_equal(greeting_result(sock, "cleanup", 3, 0, "cleanup", 2, &err), 0);
	assert_null(err);
	/* Wrong protocol: the message names both. */
	assert_int_equal(greeting_result(sock, "qmgr", 1, 0, "cleanup", 1, &err), -1);
	assert_non_null(strstr(err, "\"cleanup\""));
	assert_non_null(strstr(err, "\"qmgr\""));
	free(err);
	/* Too old: the message names what was received and what is needed. */
	assert_int_equal(greeting_result(sock, "cleanup", 1, 0, "cleanup", 2, &err), -1);
	assert_non_null(strstr(err, "version 1"));
	assert_non_null(strstr(err, "need 2"));
	free(err);
	/* No greeting at all: EOF, and a timeout. */
	assert_int_equal(greeting_result(sock, NULL, 0, 1, "cleanup", 1, &err), -1);
	assert_non_null(strstr(err, "closed"));
	free(err);
	assert_int_equal(greeting_result(sock, NULL, 0, 0, "cleanup", 1, &err), -1);
	assert_non_null(strstr(err, "timed out"));
	free(err);
}

static void test_stale_socket(void **state)
{
	struct fixture *f = *state;
	const char *sock = path(f, "stale"), *plain = path(f, "plain");
	char *err = NULL;
	int lfd, cfd, fd;

	/* A socket left behind by a dead listener refuses connections... */
	lfd = ipc_listen_unix(sock, 16, 0666, &err);
	assert_true(lfd >= 0);
	close(lfd);
	assert_int_equal(ipc_connect_unix(sock, 1000), -1);
	assert_int_equal(errno, ECONNREFUSED);
	/* ...and is replaced by the next listener. */
	lfd = ipc_listen_unix(sock, 16, 0666, &err);
	assert_true(lfd >= 0);
	cfd = ipc_connect_unix(sock, 1000);
	assert_true(cfd >= 0);
	close(cfd);
	close(lfd);
	/* Anything else at the path is left alone. */
	fd = open(plain, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(ipc_listen_unix(plain, 16, 0666, &err), -1);
	assert_non_null(strstr(err, "not a socket"));
	free(err);
	assert_int_equal(access(plain, F_OK), 0);
	/* Nothing there at all. */
	assert_int_equal(ipc_connect_unix(path(f, "nothing"), 100), -1);
	assert_int_equal(errno, ENOENT);
}

/* A listener whose backlog is full and never accepts: connects time out. */
static void test_connect_timeout(void **state)
{
	struct fixture *f = *state;
	const char *sock = path(f, "busy");
	char *err = NULL;
	int lfd, fds[16], n = 0, ret = 0;
	long long start = 0;

	lfd = ipc_listen_unix(sock, 0, 0666, &err);
	assert_true(lfd >= 0);
	while (n < 16) {
		start = ev_now_ms();
		if ((ret = ipc_connect_unix(sock, 100)) < 0)
			break;
		fds[n++] = ret;
	}
	assert_int_equal(ret, -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(ev_now_ms() - start >= 99);
	assert_true(ev_now_ms() - start < 1000);
	while (n > 0)
		close(fds[--n]);
	close(lfd);
}

static void test_dgram(void **state)
{
	struct fixture *f = *state;
	const char *sock = path(f, "postlog");
	struct sockaddr_un sun;
	char *err = NULL, buf[64];
	int lfd, cfd;

	lfd = ipc_listen_unix_dgram(sock, 0622, &err);
	assert_true(lfd >= 0);
	assert_nonblock_cloexec(lfd, 1);
	cfd = socket(AF_UNIX, SOCK_DGRAM, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	assert_int_equal(sendto(cfd, "log line", 8, 0, (struct sockaddr *)&sun, sizeof(sun)), 8);
	assert_int_equal(sendto(cfd, "second", 6, 0, (struct sockaddr *)&sun, sizeof(sun)), 6);
	assert_int_equal(ipc_wait(lfd, POLLIN, ev_now_ms() + 1000), 1);
	assert_int_equal(recv(lfd, buf, sizeof(buf), 0), 8);
	assert_memory_equal(buf, "log line", 8);
	assert_int_equal(recv(lfd, buf, sizeof(buf), 0), 6);
	assert_memory_equal(buf, "second", 6);
	assert_int_equal(recv(lfd, buf, sizeof(buf), 0), -1);	/* non-blocking */
	assert_int_equal(errno, EAGAIN);
	close(cfd);
	close(lfd);
}

static void test_fifo_trigger(void **state)
{
	struct fixture *f = *state;
	const char *fifo = path(f, "qmgr"), *lonely = path(f, "lonely");
	const char *plain = path(f, "notfifo");
	char *err = NULL, buf[16];
	struct stat st;
	int fd, fd2;

	fd = ipc_listen_fifo(fifo, 0622, &err);
	assert_true(fd >= 0);
	assert_nonblock_cloexec(fd, 1);
	assert_int_equal(stat(fifo, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0622);
	assert_int_equal(ipc_trigger(fifo, 1, "W", 1, 1000), 0);
	assert_int_equal(ipc_trigger(fifo, 1, "ID", 2, 1000), 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "WID", 3);
	/* Opening an existing FIFO again works. */
	fd2 = ipc_listen_fifo(fifo, 0622, &err);
	assert_true(fd2 >= 0);
	close(fd2);
	close(fd);
	/* Nobody reading: ENXIO, at once. */
	assert_int_equal(mkfifo(lonely, 0600), 0);
	assert_int_equal(ipc_trigger(lonely, 1, "W", 1, 1000), -1);
	assert_int_equal(errno, ENXIO);
	/* A regular file is not a FIFO, for the listener or a trigger. */
	fd = open(plain, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(ipc_listen_fifo(plain, 0622, &err), -1);
	assert_non_null(strstr(err, "not a FIFO"));
	free(err);
	assert_int_equal(ipc_trigger(plain, 1, "W", 1, 1000), -1);
	assert_int_equal(stat(plain, &st), 0);
	assert_int_equal(st.st_size, 0);
}

static void test_unix_trigger(void **state)
{
	struct fixture *f = *state;
	const char *sock = path(f, "pickup");
	char *err = NULL, buf[16];
	int lfd, sfd;

	lfd = ipc_listen_unix(sock, 16, 0622, &err);
	assert_true(lfd >= 0);
	assert_int_equal(ipc_trigger(sock, 0, "W", 1, 1000), 0);
	sfd = accept_one(lfd);
	assert_true(sfd >= 0);
	assert_int_equal(ipc_wait(sfd, POLLIN, ev_now_ms() + 1000), 1);
	assert_int_equal(read(sfd, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'W');
	assert_int_equal(read(sfd, buf, sizeof(buf)), 0);	/* and closed */
	close(sfd);
	close(lfd);
	/* The socket is gone: an error, not a hang. */
	unlink(sock);
	assert_int_equal(ipc_trigger(sock, 0, "W", 1, 1000), -1);
	assert_int_equal(errno, ENOENT);
}

/* tcp_port - the port a socket is bound to */
static int tcp_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* tcp_roundtrip - connects to 127.0.0.1:port and accepts on lfd */
static void tcp_roundtrip(int lfd, int port)
{
	struct sockaddr_in sin;
	int cfd = socket(AF_INET, SOCK_STREAM, 0), sfd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(cfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	sfd = accept_one(lfd);
	assert_true(sfd >= 0);
	assert_int_equal(write(cfd, "hi", 2), 2);
	assert_int_equal(ipc_wait(sfd, POLLIN, ev_now_ms() + 1000), 1);
	close(sfd);
	close(cfd);
}

static void test_tcp(void **state)
{
	char *err = NULL;
	int fds[4], n, port;

	(void)state;
	n = ipc_listen_tcp("127.0.0.1", "0", 16, fds, 4, &err);
	assert_int_equal(n, 1);
	assert_nonblock_cloexec(fds[0], 1);
	port = tcp_port(fds[0]);
	assert_true(port > 0);
	tcp_roundtrip(fds[0], port);
	/* The port is taken: the message says which address. */
	{
		char portstr[16];
		int busy[1];

		snprintf(portstr, sizeof(portstr), "%d", port);
		assert_int_equal(ipc_listen_tcp("127.0.0.1", portstr, 16, busy, 1, &err), -1);
		assert_non_null(strstr(err, "127.0.0.1"));
		assert_non_null(strstr(err, portstr));
		free(err);
	}
	close(fds[0]);

	n = ipc_listen_tcp("localhost", "0", 16, fds, 4, &err);
	assert_int_equal(n, 1);
	tcp_roundtrip(fds[0], tcp_port(fds[0]));
	close(fds[0]);

	/* All addresses: IPv4 always, IPv6 too when the host has it, on one port. */
	n = ipc_listen_tcp(NULL, "0", 16, fds, 4, &err);
	assert_true(n == 1 || n == 2);
	if (n == 2)
		assert_int_equal(tcp_port(fds[0]), tcp_port(fds[1]));
	for (int i = 0; i < n; i++)
		close(fds[i]);

	/* Bracketed IPv6, where IPv6 exists. */
	n = ipc_listen_tcp("[::1]", "0", 16, fds, 4, &err);
	if (n == 1)
		close(fds[0]);
	else
		free(err);

	/* Never DNS. */
	err = NULL;
	assert_int_equal(ipc_listen_tcp("mail.example.com", "25", 16, fds, 4, &err), -1);
	assert_non_null(strstr(err, "numeric"));
	free(err);
	assert_int_equal(ipc_listen_tcp("127.0.0.1", "99999", 16, fds, 4, &err), -1);
	free(err);
	assert_int_equal(ipc_listen_tcp("127.0.0.1", "no-such-service-xyz", 16, fds, 4, &err), -1);
	free(err);
	assert_int_equal(ipc_listen_tcp("127.0.0.1", "", 16, fds, 4, &err), -1);
	free(err);
	assert_int_equal(ipc_listen_tcp("127.0.0.1", "0", 16, fds, 0, &err), -1);
	free(err);
}

static void test_wait_and_io(void **state)
{
	long long start;
	char buf[8];
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	start = ev_now_ms();
	assert_int_equal(ipc_wait(p[0], POLLIN, start + 50), 0);
	assert_true(ev_now_ms() - start >= 49);
	assert_int_equal(ipc_wait(p[1], POLLOUT, start - 10), 1);	/* past deadline, but ready */
	assert_int_equal(ipc_write_all(p[1], "abc", 3, ev_now_ms() + 1000), 0);
	assert_int_equal(ipc_wait(p[0], POLLIN, ev_now_ms() + 1000), 1);
	/* read_all stops at EOF with what it got. */
	close(p[1]);
	assert_int_equal(ipc_read_all(p[0], buf, sizeof(buf), ev_now_ms() + 1000), 3);
	assert_memory_equal(buf, "abc", 3);
	close(p[0]);
	assert_int_equal(ipc_wait(p[0], POLLIN, ev_now_ms() + 10), -1);
	assert_int_equal(errno, EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_greeting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dgram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_trigger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unix_trigger, setup, teardown),
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_wait_and_io),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
