/* master_listen - each service's listening sockets.
 *
 * master opens every listener itself (so port 25 can be bound while root)
 * and watches a service's listeners only while the service needs another
 * child: no child is idle and maxproc is not reached. Then a readable
 * listener makes master fork one; the child accepts the connection itself.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ipc.h"
#include "master.h"
#include "mem.h"
#include "msg.h"

#define UNIX_SOCKET_MODE	0666	/* the private/ and public/ directories control access */
#define FIFO_MODE		0622

static int backlog(const struct master_service *s)
{
	return s->maxproc > 0 && s->maxproc < 1000 ? 100 + s->maxproc : 1024;
}

/* split_inet - "port", "host:port" or "[v6]:port" */
static void split_inet(const char *name, char **host, char **port)
{
	const char *colon = strrchr(name, ':');

	if (colon == NULL) {
		*host = NULL;
		*port = xstrdup(name);
		return;
	}
	*host = xstrndup(name, (size_t)(colon - name));
	*port = xstrdup(colon + 1);
	if ((*host)[0] == '[') {
		memmove(*host, *host + 1, strlen(*host));
		(*host)[strcspn(*host, "]")] = 0;
	}
}

/* inet_hosts - what an inet service without a host binds: inet_interfaces */
static void inet_hosts(struct argv *hosts)
{
	const char *ifaces = conf_str("inet_interfaces");
	const char *protos = conf_str("inet_protocols");
	int v4 = strstr(protos, "ipv4") || strstr(protos, "all");
	int v6 = strstr(protos, "ipv6") || strstr(protos, "all");

	if (strcmp(ifaces, "all") == 0) {
		if (v4 && v6)
			argv_add(hosts, "");
		else
			argv_add(hosts, v6 ? "::" : "0.0.0.0");
	} else if (strcmp(ifaces, "loopback-only") == 0) {
		if (v4)
			argv_add(hosts, "127.0.0.1");
		if (v6)
			argv_add(hosts, "::1");
	} else {
		argv_split(hosts, ifaces, ", \t\r\n");
	}
}

static int open_inet(struct master_service *s, char **err)
{
	struct argv hosts = ARGV_INIT;
	char *host, *port;
	int n;

	split_inet(s->name, &host, &port);
	if (host)
		argv_add(&hosts, host);
	else
		inet_hosts(&hosts);
	for (size_t i = 0; i < hosts.n; i++) {
		n = ipc_listen_tcp(hosts.v[i], port, backlog(s), s->listen_fds + s->listen_count,
				   MASTER_MAX_LISTEN - s->listen_count, err);
		if (n < 0)
			break;
		s->listen_count += n;
	}
	free(host);
	free(port);
	argv_free(&hosts);
	return *err ? -1 : 0;
}

static char *unix_path(const struct master_service *s)
{
	return xasprintf("%s/%s/%s", conf_str("queue_directory"),
			 s->private_ ? "private" : "public", s->name);
}

int master_listen_open(struct master_service *s, char **err)
{
	char *path;
	int fd = -1;

	*err = NULL;
	if (s->type == MCF_INET)
		return open_inet(s, err);
	path = unix_path(s);
	switch (s->type) {
	case MCF_UNIX: fd = ipc_listen_unix(path, backlog(s), UNIX_SOCKET_MODE, err); break;
	case MCF_UNIX_DGRAM: fd = ipc_listen_unix_dgram(path, UNIX_SOCKET_MODE, err); break;
	case MCF_FIFO: fd = ipc_listen_fifo(path, FIFO_MODE, err); break;
	default: *err = xasprintf("%s: unsupported service type", s->id); break;
	}
	free(path);
	if (fd < 0)
		return -1;
	s->listen_fds[s->listen_count++] = fd;
	return 0;
}

void master_listen_close_watch(struct master_service *s)
{
	if (!s->listening)
		return;
	for (int i = 0; i < s->listen_count; i++)
		ev_fd_del(master_loop, s->listen_fds[i]);
	s->listening = 0;
}

void master_listen_close(struct master_service *s)
{
	master_listen_close_watch(s);
	for (int i = 0; i < s->listen_count; i++)
		close(s->listen_fds[i]);
	s->listen_count = 0;
}

static void listener_readable(int fd, int events, void *ctx)
{
	(void)fd;
	(void)events;
	master_spawn(ctx);
}

void master_listen_update(struct master_service *s)
{
	int want = !s->disabled && !s->throttled && s->listen_count > 0 && s->avail == 0
		&& (s->maxproc == 0 || s->total < s->maxproc);

	if (want == s->listening)
		return;
	for (int i = 0; i < s->listen_count; i++) {
		if (want)
			ev_fd_set(master_loop, s->listen_fds[i], EV_READ, listener_readable, s);
		else
			ev_fd_del(master_loop, s->listen_fds[i]);
	}
	s->listening = want;
}
