/* test-trigger - a trigger service for master's system tests.
 *
 * Appends one line per trigger it receives, "PID BYTES", to the file named
 * by its first argument (a path under the queue directory works chrooted).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "msg.h"
#include "server.h"

static int out_fd = -1;

static void open_out(void)
{
	const struct argv *a = server_args();

	if (a->n < 1)
		msg_fatal("usage: test-trigger FILE");
	out_fd = open(a->v[0], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (out_fd < 0)
		msg_fatal("open %s: %m", a->v[0]);
}

static void triggered(const char *buf, size_t len)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "%ld %.*s\n", (long)getpid(), (int)(len > 16 ? 16 : len), buf);

	if (write(out_fd, line, (size_t)n) != n)
		msg_warn("write: %m");
}

static const struct server_ops ops = {
	.mode = SERVER_TRIGGER,
	.pre_jail = open_out,
	.trigger = triggered,
};

int main(int argc, char **argv)
{
	server_main(argc, argv, &ops);
}
