/* postlogd - writes the log when maillog_file is set.
 *
 * Every postern program sends its log lines, already formatted and
 * timestamped, as datagrams to public/postlog; this one process appends
 * them to maillog_file, one write() per line, so lines from different
 * processes never interleave. The file is opened before privileges are
 * dropped, so it may live where only root can create files. maillog_file =
 * /dev/stdout writes to master's standard output (`postern start-fg`, for
 * containers).
 *
 * Anyone who may write to public/ can send a datagram, so each one is
 * checked: control characters become '?', a missing newline is added, and
 * a datagram is never more than one line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "msg.h"
#include "server.h"

#define POSTLOG_LINE_MAX	8192

static int log_fd = -1;
static int write_failed;	/* report a failing disk once, not per line */

static void postlogd_open(void)
{
	const char *path = conf_str("maillog_file");

	if (*path == 0)
		msg_fatal("maillog_file is empty: postlogd has nothing to write to");
	log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	if (log_fd < 0)
		msg_fatal("open maillog_file %s: %m", path);
}

static void postlogd_line(const char *buf, size_t len)
{
	char line[POSTLOG_LINE_MAX + 1];
	size_t n = len < POSTLOG_LINE_MAX ? len : POSTLOG_LINE_MAX;

	if (n > 0 && buf[n - 1] == '\n')
		n--;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];

		line[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	line[n++] = '\n';
	if (write(log_fd, line, n) != (ssize_t)n && !write_failed) {
		/* Not msg_warn: that would come back here through the socket. */
		write_failed = 1;
		fprintf(stderr, "postlogd: write %s: %s\n", conf_str("maillog_file"), strerror(errno));
	} else {
		write_failed = 0;
	}
}

static const struct server_ops postlogd_ops = {
	.mode = SERVER_DGRAM,
	.flags = SERVER_FLAG_RESIDENT,
	.pre_jail = postlogd_open,
	.dgram = postlogd_line,
};

int main(int argc, char **argv)
{
	server_main(argc, argv, &postlogd_ops);
}
