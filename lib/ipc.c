/* ipc - listeners, unix connects, the service greeting, triggers, and
 * the deadline-bounded read/write helpers that attr.c builds on.
 *
 * Every wait goes through ipc_wait with an absolute monotonic deadline, so
 * a caller's timeout bounds a whole exchange, not each system call. TCP
 * listeners never consult DNS: hosts are numeric (or "localhost"), so
 * master cannot hang on a resolver at startup.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "attr.h"
#include "events.h"
#include "ipc.h"
#include "mem.h"

#define IPC_GREETING_MAX	4096	/* bytes; a greeting is two short attributes */
#define IPC_RETRY_MS		10	/* unix connect while the backlog is full */

/* ipc_fail - sets *err (when err is not NULL) and returns -1; keeps errno.
 * One vsnprintf into a buffer, so "%m" is expanded exactly once. */
static int ipc_fail(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ipc_fail(char **err, const char *fmt, ...)
{
	int saved = errno;
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (err)
		*err = xstrdup(buf);
	errno = saved;
	return -1;
}

/* ipc_close - closes fd keeping errno; returns -1 for the caller's failure */
static int ipc_close(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
	return -1;
}

static long long ipc_deadline(int timeout_ms)
{
	return timeout_ms > 0 ? ev_now_ms() + timeout_ms : LLONG_MAX;
}

int ipc_wait(int fd, short events, long long deadline_ms)
{
	struct pollfd p;

	for (;;) {
		long long now = ev_now_ms();
		long long left = deadline_ms > now ? deadline_ms - now : 0;
		int ms = left > INT_MAX ? INT_MAX : (int)left;
		int n;

		p.fd = fd;
		p.events = events;
		p.revents = 0;
		n = poll(&p, 1, ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n > 0 && (p.revents & POLLNVAL)) {
			errno = EBADF;
			return -1;
		}
		if (n > 0)
			return 1;
		if (ms == 0)
			return 0;
	}
}

/* ipc_pipe_write - write(2) with SIGPIPE blocked, so a reader that went
 * away is EPIPE here too; a SIGPIPE we caused is consumed, not delivered */
static ssize_t ipc_pipe_write(int fd, const void *buf, size_t len)
{
	sigset_t pipe_set, old, pending;
	static const struct timespec zero = { 0, 0 };
	int was_pending, saved;
	ssize_t n;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipe_set, &old);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	n = write(fd, buf, len);
	saved = errno;
	if (n < 0 && errno == EPIPE && !was_pending)
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return n;
}

/* ipc_write_some - one non-blocking attempt; *is_sock learns the fd type.
 * Pipes are written at most PIPE_BUF bytes at a time after poll said
 * writable, which cannot block even on a blocking pipe. */
static ssize_t ipc_write_some(int fd, const char *p, size_t len, int *is_sock,
			      long long deadline)
{
	ssize_t n;
	int r;

	if (*is_sock) {
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0 || errno != ENOTSOCK)
			return n;
		*is_sock = 0;
	}
	if ((r = ipc_wait(fd, POLLOUT, deadline)) <= 0) {
		if (r == 0)
			errno = ETIMEDOUT;
		return -2;
	}
	return ipc_pipe_write(fd, p, len > PIPE_BUF ? PIPE_BUF : len);
}

int ipc_write_all(int fd, const void *buf, size_t len, long long deadline_ms)
{
	const char *p = buf;
	int is_sock = 1, r;

	while (len > 0) {
		ssize_t n = ipc_write_some(fd, p, len, &is_sock, deadline_ms);

		if (n == -2)
			return -1;
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (is_sock && (r = ipc_wait(fd, POLLOUT, deadline_ms)) <= 0) {
			if (r == 0)
				errno = ETIMEDOUT;
			return -1;
		}
	}
	return 0;
}

ssize_t ipc_read_all(int fd, void *buf, size_t len, long long deadline_ms)
{
	char *p = buf;
	size_t got = 0;

	if (len > SSIZE_MAX) {
		errno = EINVAL;
		return -1;
	}
	while (got < len) {
		int r = ipc_wait(fd, POLLIN, deadline_ms);
		ssize_t n;

		if (r <= 0) {
			if (r == 0)
				errno = ETIMEDOUT;
			return -1;
		}
		n = read(fd, p + got, len - got);
		if (n == 0)
			break;
		if (n > 0)
			got += (size_t)n;
		else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
	}
	return (ssize_t)got;
}

/* Unix-domain listeners. */

/* ipc_sun - fills a sockaddr_un; -1 when path does not fit */
static int ipc_sun(struct sockaddr_un *sun, const char *path)
{
	size_t len = strlen(path);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (len == 0 || len >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun->sun_path, path, len + 1);
	return 0;
}

/* ipc_unlink_stale - removes an old socket at path; refuses anything else */
static int ipc_unlink_stale(const char *path, char **err)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : ipc_fail(err, "stat %s: %m", path);
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return ipc_fail(err, "%s exists and is not a socket", path);
	}
	if (unlink(path) < 0 && errno != ENOENT)
		return ipc_fail(err, "remove stale socket %s: %m", path);
	return 0;
}

/* ipc_listen_unix_type - socket, bind, chmod and (for streams) listen */
static int ipc_listen_unix_type(const char *path, int type, int backlog,
				mode_t mode, char **err)
{
	struct sockaddr_un sun;
	int fd;

	if (ipc_sun(&sun, path) < 0)
		return ipc_fail(err, "bad socket path \"%s\": too long or empty", path);
	if (ipc_unlink_stale(path, err) < 0)
		return -1;
	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ipc_fail(err, "socket: %m");
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		ipc_fail(err, "bind %s: %m", path);
		return ipc_close(fd);
	}
	if (chmod(path, mode) < 0) {
		ipc_fail(err, "chmod %s: %m", path);
		return ipc_close(fd);
	}
	if (type == SOCK_STREAM && listen(fd, backlog) < 0) {
		ipc_fail(err, "listen %s: %m", path);
		return ipc_close(fd);
	}
	return fd;
}

int ipc_listen_unix(const char *path, int backlog, mode_t mode, char **err)
{
	return ipc_listen_unix_type(path, SOCK_STREAM, backlog, mode, err);
}

int ipc_listen_unix_dgram(const char *path, mode_t mode, char **err)
{
	return ipc_listen_unix_type(path, SOCK_DGRAM, 0, mode, err);
}

int ipc_listen_fifo(const char *path, mode_t mode, char **err)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) == 0 && !S_ISFIFO(st.st_mode)) {
		errno = EEXIST;
		return ipc_fail(err, "%s exists and is not a FIFO", path);
	}
	if (mkfifo(path, mode) < 0 && errno != EEXIST)
		return ipc_fail(err, "mkfifo %s: %m", path);
	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return ipc_fail(err, "open %s: %m", path);
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		errno = EEXIST;
		ipc_fail(err, "%s exists and is not a FIFO", path);
		return ipc_close(fd);
	}
	if (fchmod(fd, mode) < 0) {
		ipc_fail(err, "chmod %s: %m", path);
		return ipc_close(fd);
	}
	return fd;
}

/* TCP listeners. */

/* ipc_tcp_port - a port number from digits or a services(5) name */
static int ipc_tcp_port(const char *port, char *buf, size_t size, char **err)
{
	struct servent *se;

	if (port == NULL || *port == 0)
		return ipc_fail(err, "missing TCP port");
	if (strspn(port, "0123456789") == strlen(port)) {
		unsigned long v = strlen(port) > 5 ? 65536 : strtoul(port, NULL, 10);

		if (v > 65535)
			return ipc_fail(err, "bad TCP port \"%s\"", port);
		snprintf(buf, size, "%u", (unsigned)v & 0xffffu);
		return 0;
	}
	if ((se = getservbyname(port, "tcp")) == NULL)
		return ipc_fail(err, "unknown TCP service \"%s\"", port);
	snprintf(buf, size, "%u", (unsigned)ntohs((uint16_t)se->s_port));
	return 0;
}

/* ipc_tcp_host - the numeric host to bind: brackets stripped, localhost
 * mapped; NULL for all addresses. *copy is what the caller frees. */
static const char *ipc_tcp_host(const char *host, char **copy)
{
	size_t len;

	*copy = NULL;
	if (host == NULL || *host == 0)
		return NULL;
	len = strlen(host);
	if (host[0] == '[' && len >= 2 && host[len - 1] == ']')
		host = *copy = xstrndup(host + 1, len - 2);
	if (strcmp(host, "localhost") == 0)
		return "127.0.0.1";
	return host;
}

/* ipc_ai_text - "[addr]:port" for messages */
static void ipc_ai_text(const struct addrinfo *ai, char *buf, size_t size)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host), serv,
			sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(buf, size, "(unknown address)");
	else
		snprintf(buf, size, "[%s]:%s", host, serv);
}

/* ipc_tcp_bind - one listening socket for ai; -1 with *err */
static int ipc_tcp_bind(const struct addrinfo *ai, int backlog, char **err)
{
	char where[NI_MAXHOST + NI_MAXSERV + 4];
	int fd, on = 1;

	ipc_ai_text(ai, where, sizeof(where));
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0)
		return ipc_fail(err, "socket for %s: %m", where);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0
	    || (ai->ai_family == AF_INET6
		&& setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) < 0)) {
		ipc_fail(err, "setsockopt for %s: %m", where);
		return ipc_close(fd);
	}
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		ipc_fail(err, "bind %s: %m", where);
		return ipc_close(fd);
	}
	if (listen(fd, backlog) < 0) {
		ipc_fail(err, "listen %s: %m", where);
		return ipc_close(fd);
	}
	return fd;
}

/* ipc_v6_missing - is this error IPv6 not being available on the host? */
static int ipc_v6_missing(const struct addrinfo *ai, int wildcard)
{
	return wildcard && ai->ai_family == AF_INET6
	    && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL || errno == EPROTONOSUPPORT);
}

/* ipc_tcp_bind_all - binds every address; with port 0 the later ones reuse
 * the port the first got, so all families share one ephemeral port */
static int ipc_tcp_bind_all(struct addrinfo *res, int wildcard, int backlog,
			    int *fds, int maxfds, char **err)
{
	int n = 0, fd;
	uint16_t port = 0;

	for (struct addrinfo *ai = res; ai && n < maxfds; ai = ai->ai_next) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char *why = NULL;

		if (port && ai->ai_family == AF_INET)
			((struct sockaddr_in *)ai->ai_addr)->sin_port = port;
		if (port && ai->ai_family == AF_INET6)
			((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = port;
		if ((fd = ipc_tcp_bind(ai, backlog, &why)) < 0) {
			if (ipc_v6_missing(ai, wildcard)) {
				free(why);
				continue;
			}
			while (n > 0)
				close(fds[--n]);
			*err = why;
			return -1;
		}
		fds[n++] = fd;
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
			port = ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
			    : ((struct sockaddr_in *)&ss)->sin_port;
	}
	if (n == 0)
		return ipc_fail(err, "no address to listen on");
	return n;
}

int ipc_listen_tcp(const char *host, const char *port, int backlog,
		   int *fds, int maxfds, char **err)
{
	struct addrinfo hints, *res = NULL;
	char portbuf[16], *copy;
	const char *h;
	int gai, n;

	if (maxfds < 1)
		return ipc_fail(err, "ipc_listen_tcp: no room for a descriptor");
	if (ipc_tcp_port(port, portbuf, sizeof(portbuf), err) < 0)
		return -1;
	h = ipc_tcp_host(host, &copy);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	gai = getaddrinfo(h, portbuf, &hints, &res);
	if (gai != 0) {
		n = ipc_fail(err, "bad listen address \"%s\": %s", host ? host : "",
			     gai == EAI_NONAME ? "not a numeric address" : gai_strerror(gai));
	} else {
		n = ipc_tcp_bind_all(res, h == NULL, backlog, fds, maxfds, err);
		freeaddrinfo(res);
	}
	free(copy);
	return n;
}

/* Clients. */

/* ipc_connect_finish - waits out an in-progress connect; 0 or -1 errno */
static int ipc_connect_finish(int fd, long long deadline)
{
	int r = ipc_wait(fd, POLLOUT, deadline), soerr = 0;
	socklen_t len = sizeof(soerr);

	if (r <= 0) {
		if (r == 0)
			errno = ETIMEDOUT;
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		return -1;
	if (soerr) {
		errno = soerr;
		return -1;
	}
	return 0;
}

/* ipc_connect_try - connect, retrying while the listener's backlog is full
 * (a non-blocking unix connect then fails with EAGAIN and cannot be polled) */
static int ipc_connect_try(int fd, const struct sockaddr_un *sun, long long deadline)
{
	for (;;) {
		long long left;

		if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0)
			return 0;
		if (errno == EINPROGRESS || errno == EINTR)
			return ipc_connect_finish(fd, deadline);
		if (errno != EAGAIN)
			return -1;
		left = deadline - ev_now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		poll(NULL, 0, left < IPC_RETRY_MS ? (int)left : IPC_RETRY_MS);
	}
}

/* ipc_connect_deadline - ipc_connect_unix with an absolute deadline */
static int ipc_connect_deadline(const char *path, long long deadline)
{
	struct sockaddr_un sun;
	int fd, fl;

	if (ipc_sun(&sun, path) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (ipc_connect_try(fd, &sun, deadline) < 0)
		return ipc_close(fd);
	if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return ipc_close(fd);
	return fd;
}

int ipc_connect_unix(const char *path, int timeout_ms)
{
	return ipc_connect_deadline(path, ipc_deadline(timeout_ms));
}

/* Greeting. */

int ipc_send_greeting(int fd, const char *protocol, int version, int timeout_ms)
{
	struct attr_list l = ATTR_LIST_INIT;
	int ret, saved;

	attr_add_str(&l, "protocol", protocol);
	attr_add_int(&l, "version", version);
	ret = attr_write(fd, &l, timeout_ms);
	saved = errno;
	attr_list_clear(&l);
	errno = saved;
	return ret;
}

/* ipc_check_greeting - compares a received greeting with what is expected */
static int ipc_check_greeting(const struct attr_list *l, const char *protocol,
			      int min_version, char **err)
{
	const char *got;
	long long version;

	if (attr_get_line(l, "protocol", &got) < 0)
		return ipc_fail(err, "bad greeting: no protocol attribute (expected \"%s\")",
				protocol);
	if (strcmp(got, protocol) != 0)
		return ipc_fail(err, "protocol mismatch: expected \"%s\", received \"%.100s\"",
				protocol, got);
	if (attr_get_int(l, "version", &version) < 0)
		return ipc_fail(err, "bad greeting for protocol \"%s\": no valid version", protocol);
	if (version < min_version)
		return ipc_fail(err, "protocol \"%s\": peer has version %lld, need %d or later",
				protocol, version, min_version);
	return 0;
}

int ipc_expect_greeting(int fd, const char *protocol, int min_version,
			int timeout_ms, char **err)
{
	struct attr_list l = ATTR_LIST_INIT;
	int r = attr_read(fd, &l, IPC_GREETING_MAX, timeout_ms);

	if (r == 1) {
		errno = ECONNRESET;
		r = ipc_fail(err, "connection closed before the \"%s\" greeting", protocol);
	} else if (r < 0) {
		r = ipc_fail(err, "reading the \"%s\" greeting: %m", protocol);
	} else {
		r = ipc_check_greeting(&l, protocol, min_version, err);
		if (r < 0)
			errno = EPROTO;
	}
	attr_list_clear(&l);
	return r;
}

/* Triggers. */

/* ipc_open_fifo_writer - a FIFO opened for writing without blocking;
 * ENXIO when nobody has it open for reading */
static int ipc_open_fifo_writer(const char *path)
{
	struct stat st;
	int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		return ipc_close(fd);
	if (!S_ISFIFO(st.st_mode)) {
		errno = EINVAL;
		return ipc_close(fd);
	}
	return fd;
}

int ipc_trigger(const char *path, int is_fifo, const void *buf, size_t len, int timeout_ms)
{
	long long deadline = ipc_deadline(timeout_ms);
	int fd, ret, saved;

	fd = is_fifo ? ipc_open_fifo_writer(path) : ipc_connect_deadline(path, deadline);
	if (fd < 0)
		return -1;
	ret = ipc_write_all(fd, buf, len, deadline);
	saved = errno;
	close(fd);
	errno = saved;
	return ret;
}
