/* ipc - sockets between postern programs, and the service greeting.
 *
 * Services listen on Unix-domain stream sockets under the queue directory
 * (private/NAME, public/NAME), on unix-dgram sockets (postlog), on FIFOs
 * (triggers) and on TCP ([host:]port). Master creates all listeners; a
 * client connects to a service by path. Every stream service first sends a
 * greeting frame "protocol=NAME version=N" (attr.h) that the client checks,
 * so a mismatched peer is detected before any request is sent.
 */
#ifndef POSTERN_IPC_H
#define POSTERN_IPC_H

#include <stddef.h>
#include <sys/types.h>

/* Listeners return a non-blocking, close-on-exec fd, or -1 with a message
 * in *err (malloc'ed). A stale socket file at path is replaced. */
int ipc_listen_unix(const char *path, int backlog, mode_t mode, char **err);
int ipc_listen_unix_dgram(const char *path, mode_t mode, char **err);
int ipc_listen_fifo(const char *path, mode_t mode, char **err);	/* opened O_RDWR */

/* ipc_listen_tcp - binds host:port (host NULL or "" = all addresses;
 * "[::1]" and "::1" are IPv6). May produce one fd per address family:
 * stores up to maxfds fds and returns their count, or -1 with *err. */
int ipc_listen_tcp(const char *host, const char *port, int backlog,
		   int *fds, int maxfds, char **err);

/* ipc_connect_unix - connects to a stream socket within timeout_ms.
 * Returns a blocking, close-on-exec fd, or -1 with errno. */
int ipc_connect_unix(const char *path, int timeout_ms);

/* ipc_send_greeting / ipc_expect_greeting - the first frame of a service.
 * expect returns 0, or -1 with a message in *err (malloc'ed) for a missing,
 * wrong or older-than-min_version greeting, a timeout or EOF. */
int ipc_send_greeting(int fd, const char *protocol, int version, int timeout_ms);
int ipc_expect_greeting(int fd, const char *protocol, int min_version,
			int timeout_ms, char **err);

/* ipc_trigger - wakes a trigger service: connects to a unix socket (or
 * opens a FIFO, when is_fifo) at path and writes the bytes, within
 * timeout_ms, without ever blocking longer. Returns 0 or -1 (errno). */
int ipc_trigger(const char *path, int is_fifo, const void *buf, size_t len, int timeout_ms);

/* ipc_wait - poll one fd for events (POLLIN/POLLOUT) until the deadline
 * (absolute ev_now_ms() milliseconds). 1 ready, 0 timed out, -1 error. */
int ipc_wait(int fd, short events, long long deadline_ms);

/* ipc_write_all - writes all len bytes by the deadline (absolute
 * ev_now_ms() milliseconds; LLONG_MAX = no deadline), never blocking past
 * it even on a blocking fd. Sockets are written with MSG_NOSIGNAL, so a
 * closed peer is EPIPE, not SIGPIPE; other fds (pipes) with write(2).
 * Returns 0 or -1 with errno (ETIMEDOUT on deadline). */
int ipc_write_all(int fd, const void *buf, size_t len, long long deadline_ms);

/* ipc_read_all - reads exactly len bytes by the deadline, stopping early
 * only at EOF. Returns the count read (less than len only at EOF), or -1
 * with errno (ETIMEDOUT on deadline). Never reads past len. */
ssize_t ipc_read_all(int fd, void *buf, size_t len, long long deadline_ms);

#endif
