/* cmd_control - start, start-fg, stop, reload and status.
 *
 * A master is running when something holds the lock on pid/master.pid;
 * the file holds its pid. status and reload talk to master over its
 * control socket (master_ctl.c); stop sends SIGTERM and waits until master
 * has stopped every child and released the lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "attr.h"
#include "config.h"
#include "ipc.h"
#include "master_proto.h"
#include "mem.h"
#include "msg.h"
#include "postern.h"

#define STOP_WAIT_SECONDS	30
#define CTL_TIMEOUT_MS		10000

static char *pid_dir_file(const char *name)
{
	return xasprintf("%s/%s/%s", conf_str("queue_directory"),
			 conf_str("process_id_directory"), name);
}

pid_t admin_running(void)
{
	char *path = pid_dir_file(MASTER_PID_FILE), buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	pid_t pid = 0;
	ssize_t n;

	free(path);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = 0;
		pid = (pid_t)atol(buf);
		if (pid <= 0)
			pid = -1;	/* locked, but no pid written yet */
	}
	close(fd);
	return pid;
}

static int no_args(int argc, const char *usage)
{
	if (argc > 1)
		msg_fatal("usage: postern [-c DIR] %s", usage);
	return 0;
}

static char *master_path(void)
{
	return xasprintf("%s/master", conf_str("daemon_directory"));
}

/* prepare_start - validate and repair as `postern check`; -1 if not fit */
static int prepare_start(void)
{
	pid_t pid;

	if (admin_check_all(1, 0) > 0) {
		fprintf(stderr, "postern: fix the errors above and start again\n");
		return -1;
	}
	if ((pid = admin_running()) != 0) {
		fprintf(stderr, "postern: the postern mail system is already running (pid %ld)\n", (long)pid);
		return -1;
	}
	return 0;
}

int cmd_start(int argc, char **argv)
{
	char *prog, *av[5];
	int status;

	(void)argv;
	no_args(argc, "start");
	if (prepare_start() < 0)
		return 1;
	prog = master_path();
	av[0] = prog;
	av[1] = "-c";
	av[2] = (char *)admin_config_dir;
	av[3] = NULL;
	printf("postern: starting the postern mail system\n");
	fflush(stdout);
	status = admin_run(av);
	free(prog);
	return status == 0 ? 0 : 1;
}

int cmd_start_fg(int argc, char **argv)
{
	char *prog;

	(void)argv;
	no_args(argc, "start-fg");
	if (prepare_start() < 0)
		return 1;
	prog = master_path();
	execl(prog, "master", "-c", admin_config_dir, "-f", (char *)NULL);
	msg_fatal("exec %s: %m", prog);
}

int cmd_stop(int argc, char **argv)
{
	pid_t pid;
	time_t deadline = time(NULL) + STOP_WAIT_SECONDS;

	(void)argv;
	no_args(argc, "stop");
	admin_load_config(0);
	if ((pid = admin_running()) == 0) {
		fprintf(stderr, "postern: the postern mail system is not running\n");
		return 1;
	}
	if (pid < 0)
		msg_fatal("master holds the lock but has not written its pid yet: try again");
	if (kill(pid, SIGTERM) < 0)
		msg_fatal("cannot signal master (pid %ld): %m", (long)pid);
	printf("postern: stopping the postern mail system\n");
	while (admin_running() != 0) {
		if (time(NULL) > deadline)
			msg_fatal("master (pid %ld) did not stop within %d seconds", (long)pid, STOP_WAIT_SECONDS);
		usleep(20000);
	}
	return 0;
}

/* ctl_request - connects to master, sends request=what, returns the fd */
static int ctl_request(const char *what)
{
	char *path = pid_dir_file(MASTER_CTL_SOCKET), *err = NULL;
	struct attr_list req = ATTR_LIST_INIT;
	int fd = ipc_connect_unix(path, CTL_TIMEOUT_MS);

	if (fd < 0)
		msg_fatal("connect to master at %s: %m", path);
	if (ipc_expect_greeting(fd, MASTER_CTL_PROTOCOL, 1, CTL_TIMEOUT_MS, &err) < 0)
		msg_fatal("master control socket %s: %s", path, err);
	attr_add_str(&req, "request", what);
	if (attr_write(fd, &req, CTL_TIMEOUT_MS) < 0)
		msg_fatal("send %s request to master: %m", what);
	attr_list_clear(&req);
	free(path);
	return fd;
}

static void read_reply(int fd, struct attr_list *l, const char *what)
{
	if (attr_read(fd, l, ATTR_FRAME_MAX, CTL_TIMEOUT_MS) != 0)
		msg_fatal("no %s reply from master: %m", what);
}

int cmd_reload(int argc, char **argv)
{
	struct attr_list rep = ATTR_LIST_INIT;
	long long status = 1;
	const char *reason = "no reason given";
	int fd;

	(void)argv;
	no_args(argc, "reload");
	if (admin_check_all(0, 0) > 0) {
		fprintf(stderr, "postern: not reloading: fix the errors above first\n");
		return 1;
	}
	if (admin_running() == 0) {
		fprintf(stderr, "postern: the postern mail system is not running\n");
		return 1;
	}
	fd = ctl_request("reload");
	read_reply(fd, &rep, "reload");
	close(fd);
	attr_get_int(&rep, "status", &status);
	attr_get_str(&rep, "reason", &reason);
	if (status != 0)
		fprintf(stderr, "postern: reload failed: %s\n", reason);
	else
		printf("postern: refreshing the postern mail system\n");
	attr_list_clear(&rep);
	return status == 0 ? 0 : 1;
}

static void print_service(const struct attr_list *l)
{
	const char *name = "?", *type = "?", *state = "?", *reason = "";
	long long maxproc = 0, procs = 0, idle = 0;
	char limit[16];

	attr_get_str(l, "name", &name);
	attr_get_str(l, "type", &type);
	attr_get_str(l, "state", &state);
	attr_get_str(l, "reason", &reason);
	attr_get_int(l, "maxproc", &maxproc);
	attr_get_int(l, "processes", &procs);
	attr_get_int(l, "idle", &idle);
	if (maxproc == 0)
		snprintf(limit, sizeof(limit), "-");
	else
		snprintf(limit, sizeof(limit), "%lld", maxproc);
	printf("%-20s %-10s %7s %9lld %5lld  %s%s%s\n", name, type, limit, procs, idle, state,
	       *reason ? ": " : "", reason);
}

int cmd_status(int argc, char **argv)
{
	struct attr_list l = ATTR_LIST_INIT;
	long long pid = 0, nserv = 0, nproc = 0;
	int fd;

	(void)argv;
	no_args(argc, "status");
	admin_load_config(0);
	if (admin_running() == 0) {
		printf("postern: the postern mail system is not running\n");
		return 1;
	}
	fd = ctl_request("status");
	read_reply(fd, &l, "status");
	attr_get_int(&l, "pid", &pid);
	attr_get_int(&l, "services", &nserv);
	attr_get_int(&l, "processes", &nproc);
	printf("postern: the postern mail system is running: PID: %lld, %lld service processes\n", pid, nproc);
	printf("%-20s %-10s %7s %9s %5s  %s\n", "SERVICE", "TYPE", "MAXPROC", "PROCESSES", "IDLE", "STATE");
	for (long long i = 0; i < nserv; i++) {
		read_reply(fd, &l, "status");
		print_service(&l);
	}
	attr_list_clear(&l);
	close(fd);
	return 0;
}
