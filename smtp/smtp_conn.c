/* smtp_conn - the socket side of a session: a non-blocking connect that
 * gives up after smtp_connect_timeout, replies read through a buffer with
 * a deadline per reply, and commands written from one buffer with a
 * deadline, so a stalled server never holds the agent longer than the
 * stage's timeout. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "events.h"
#include "ipc.h"
#include "smtp.h"

void smtp_relay_name(const struct smtp_server *srv, char *buf, size_t size)
{
	if (srv->family == AF_UNIX)
		snprintf(buf, size, "%s[%s]", srv->host, srv->path);
	else
		snprintf(buf, size, "%s[%s]:%u", srv->host, srv->addr_text, srv->port);
}

void smtp_host_name(const struct smtp_server *srv, char *buf, size_t size)
{
	snprintf(buf, size, "%s[%s]", srv->host, srv->family == AF_UNIX ? srv->path : srv->addr_text);
}

static socklen_t fill_sockaddr(const struct smtp_server *srv, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (srv->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((unsigned short)srv->port);
		memcpy(&sin->sin_addr, srv->addr, 4);
		return sizeof(*sin);
	}
	if (srv->family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((unsigned short)srv->port);
		memcpy(&sin6->sin6_addr, srv->addr, 16);
		return sizeof(*sin6);
	}
	struct sockaddr_un *sun = (struct sockaddr_un *)ss;

	sun->sun_family = AF_UNIX;
	if (strlen(srv->path) >= sizeof(sun->sun_path))
		return 0;
	memcpy(sun->sun_path, srv->path, strlen(srv->path) + 1);
	return sizeof(*sun);
}

/* wait_connected - the result of a connect in progress, by the deadline */
static int wait_connected(int fd, int timeout_s)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (ipc_wait(fd, POLLOUT, ev_now_ms() + 1000LL * timeout_s) <= 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -1;
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

int smtp_connect(const struct smtp_server *srv, int timeout_s, char *why, size_t whysize)
{
	struct sockaddr_storage ss;
	socklen_t len = fill_sockaddr(srv, &ss);
	char relay[SMTP_RELAY_MAX];
	int fd;

	smtp_relay_name(srv, relay, sizeof(relay));
	if (len == 0) {
		snprintf(why, whysize, "connect to %s: socket path too long", relay);
		return -1;
	}
	fd = socket(srv->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || (connect(fd, (struct sockaddr *)&ss, len) < 0
		       && (errno != EINPROGRESS || wait_connected(fd, timeout_s) < 0))) {
		snprintf(why, whysize, "connect to %s: %s", relay,
			 errno == ETIMEDOUT ? "Connection timed out" : strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* fill - more bytes into the read buffer by the deadline */
static int fill(struct smtp_session *s, long long deadline)
{
	ssize_t n;

	s->rpos = s->rlen = 0;
	if (s->tls) {
		long got = tls_read(s->tls, s->rbuf, sizeof(s->rbuf), deadline);

		if (got > 0) {
			s->rlen = (size_t)got;
			return SMTP_IO_OK;
		}
		return got < 0 && errno == ETIMEDOUT ? SMTP_IO_TIMEOUT : SMTP_IO_LOST;
	}
	for (;;) {
		int w = ipc_wait(s->fd, POLLIN, deadline);

		if (w == 0)
			return SMTP_IO_TIMEOUT;
		if (w < 0)
			return SMTP_IO_LOST;
		n = read(s->fd, s->rbuf, sizeof(s->rbuf));
		if (n > 0) {
			s->rlen = (size_t)n;
			return SMTP_IO_OK;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			return SMTP_IO_LOST;
	}
}

int smtp_read_reply(struct smtp_session *s, struct smtp_reply *r, int timeout_s)
{
	long long deadline = ev_now_ms() + 1000LL * timeout_s;
	size_t used;
	int ret;

	smtp_reply_reset(r);
	for (;;) {
		if (s->rpos < s->rlen) {
			int done = smtp_reply_feed(r, s->rbuf + s->rpos, s->rlen - s->rpos, &used);

			s->rpos += used;
			if (done)
				return SMTP_IO_OK;
		}
		if ((ret = fill(s, deadline)) != SMTP_IO_OK)
			return ret;
	}
}

int smtp_flush(struct smtp_session *s, int timeout_s)
{
	long long deadline = ev_now_ms() + 1000LL * timeout_s;
	int ret = 0;

	if (vstr_len(&s->wbuf) > 0)
		ret = s->tls ? tls_write_all(s->tls, vstr_str(&s->wbuf), vstr_len(&s->wbuf), deadline)
			: ipc_write_all(s->fd, vstr_str(&s->wbuf), vstr_len(&s->wbuf), deadline);
	vstr_reset(&s->wbuf);
	if (ret == 0)
		return SMTP_IO_OK;
	return errno == ETIMEDOUT ? SMTP_IO_TIMEOUT : SMTP_IO_LOST;
}

void smtp_session_close(struct smtp_session *s, int quit_timeout)
{
	if (s->fd >= 0 && quit_timeout > 0) {
		struct smtp_reply r;

		smtp_reply_init(&r);
		vstr_reset(&s->wbuf);
		vstr_cat(&s->wbuf, "QUIT\r\n");
		if (smtp_flush(s, quit_timeout) == SMTP_IO_OK)
			smtp_read_reply(s, &r, quit_timeout);
		smtp_reply_free(&r);
	}
	tls_conn_free(s->tls);
	s->tls = NULL;
	s->tls_active = 0;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->rpos = s->rlen = 0;
	vstr_release(&s->wbuf);
}
