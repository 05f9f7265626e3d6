/* test-echo - a service for master's system tests, on the real skeleton.
 *
 * SERVER_SINGLE: for each client, sends "SERVICE PID GENERATION\n", then
 * echoes each line back until EOF or "quit", logging "echo: LINE" for
 * each line when started with "log" (for the log tests). Argument "crash-after-accept"
 * makes it abort after sending the banner; "exit-at-start" makes it exit
 * with status 1 before it is ready (a bad startup); "sleep N" makes it
 * sleep N seconds before serving (a busy child).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msg.h"
#include "server.h"

static int crash_after_accept;
static int sleep_seconds;
static int log_lines;

static void serve(int fd)
{
	char buf[512];
	FILE *in;
	int n;
	const char *gen = getenv("POSTERN_GENERATION");

	n = snprintf(buf, sizeof(buf), "%s %ld %s\n", server_name(), (long)getpid(), gen ? gen : "-");
	if (write(fd, buf, (size_t)n) != n)
		return;
	if (crash_after_accept)
		abort();
	if (sleep_seconds)
		sleep((unsigned)sleep_seconds);
	if ((in = fdopen(dup(fd), "r")) == NULL)
		return;
	while (fgets(buf, sizeof(buf), in)) {
		if (strncmp(buf, "quit", 4) == 0)
			break;
		if (log_lines)
			msg_info("echo: %.*s", (int)strcspn(buf, "\n"), buf);
		if (write(fd, buf, strlen(buf)) < 0)
			break;
	}
	fclose(in);
}

static void options(void)
{
	const struct argv *a = server_args();

	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->v[i], "crash-after-accept") == 0)
			crash_after_accept = 1;
		else if (strcmp(a->v[i], "log") == 0)
			log_lines = 1;
		else if (strcmp(a->v[i], "exit-at-start") == 0)
			exit(1);
		else if (strcmp(a->v[i], "sleep") == 0 && i + 1 < a->n)
			sleep_seconds = atoi(a->v[++i]);
	}
}

static const struct server_ops ops = {
	.mode = SERVER_SINGLE,
	.post_jail = options,
	.single = serve,
};

int main(int argc, char **argv)
{
	server_main(argc, argv, &ops);
}
