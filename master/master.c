/* master - the postern supervisor.
 *
 * Reads main.cf and master.cf, opens every service's listeners while still
 * privileged, and forks service processes on demand: a child is started
 * when a listener has work and no child of that service is idle, up to the
 * service's maxproc. Children are restarted when they exit, and a service
 * whose children die before they start properly is throttled instead of
 * being forked in a loop. SIGHUP (or `postern reload`) re-reads both files;
 * SIGTERM stops every child and exits. A lock on pid/master.pid keeps a
 * second master off the same queue.
 *
 * Usage: master [-c config_dir] [-f] [-v]
 *   -f  stay in the foreground (start-fg); otherwise detach, and return to
 *       the caller only when the listeners are open (exit status says so).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "master.h"
#include "master_proto.h"
#include "mem.h"
#include "msg.h"

#define MASTER_STOP_WAIT_MS	10000

struct ev_loop *master_loop;
int master_foreground;
static int lock_fd = -1;
static char *pid_path;
static int ready_fd = -1;		/* tells the waiting parent we are up */
int master_stopping;

/* lock_master - takes the instance lock; fatal if another master has it */
static void lock_master(void)
{
	const char *qdir = conf_str("queue_directory");
	char buf[32] = "";
	ssize_t n;

	pid_path = xasprintf("%s/%s/%s", qdir, conf_str("process_id_directory"), MASTER_PID_FILE);
	lock_fd = open(pid_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (lock_fd < 0)
		msg_fatal("open lock file %s: %m (run `postern check` to create the queue tree)", pid_path);
	if (flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
		n = pread(lock_fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = 0;
		buf[strcspn(buf, "\n")] = 0;
		msg_fatal("the postern mail system is already running (pid %s, lock %s)",
			  *buf ? buf : "unknown", pid_path);
	}
}

static void write_pid(void)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (ftruncate(lock_fd, 0) < 0 || pwrite(lock_fd, buf, (size_t)len, 0) != len)
		msg_fatal("write %s: %m", pid_path);
}

/* detach - forks; the parent waits until the child says it is up */
static void detach(void)
{
	int pfd[2];
	char c;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		msg_fatal("pipe: %m");
	if ((pid = fork()) < 0)
		msg_fatal("fork: %m");
	if (pid > 0) {
		close(pfd[1]);
		/* EOF without a byte: the child failed and said why on stderr. */
		_exit(read(pfd[0], &c, 1) == 1 ? 0 : 1);
	}
	close(pfd[0]);
	ready_fd = pfd[1];
	setsid();
}

/* announce_ready - release a waiting parent; stdio no longer needed */
static void announce_ready(void)
{
	int fd;

	if (ready_fd < 0)
		return;
	if (write(ready_fd, "", 1) != 1)
		msg_warn("cannot tell the starting process we are up: %m");
	close(ready_fd);
	ready_fd = -1;
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	msg_stderr(0);
}

static void on_child(int sig, void *ctx)
{
	(void)sig;
	(void)ctx;
	master_reap();
}

static void on_hup(int sig, void *ctx)
{
	char *err = NULL;

	(void)sig;
	(void)ctx;
	if (master_reload(&err) < 0) {
		msg_warn("reload failed, keeping the running configuration: %s", err);
		free(err);
	}
}

static void on_term(int sig, void *ctx)
{
	(void)ctx;
	msg_info("terminating on signal %d", sig);
	master_stopping = 1;
	ev_stop(master_loop);
}

/* stop_children - SIGTERM every child, wait, then SIGKILL stragglers */
static void stop_children(void)
{
	long long deadline = ev_now_ms() + MASTER_STOP_WAIT_MS;

	master_kill_children(NULL, SIGTERM);
	while (master_child_count() > 0 && ev_now_ms() < deadline) {
		usleep(20000);
		master_reap();
	}
	if (master_child_count() > 0) {
		msg_warn("%d children did not stop in time: killing them", master_child_count());
		master_kill_children(NULL, SIGKILL);
		while (master_child_count() > 0 && waitpid(-1, NULL, 0) >= 0)
			master_reap();
		master_reap();
	}
}

int master_reload(char **err)
{
	if (master_config_load(1, err) < 0)
		return -1;
	msg_info("reload -- version %s, configuration %s", POSTERN_VERSION, conf_dir());
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: master [-c config_dir] [-f] [-v]\n");
	exit(2);
}

static void start_message(void)
{
	if (getuid() != 0) {
		struct passwd *pw = getpwuid(getuid());

		msg_info("running as non-root user %s: every service runs as this user, without chroot",
			 pw ? pw->pw_name : "(unknown)");
	}
	msg_info("daemon started -- version %s, configuration %s", POSTERN_VERSION, conf_dir());
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	char *err = NULL;
	int c;

	msg_init("master");
	msg_stderr(1);
	while ((c = getopt(argc, argv, "c:fv")) != -1) {
		switch (c) {
		case 'c': dir = optarg; break;
		case 'f': master_foreground = 1; break;
		case 'v': msg_verbose++; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	umask(022);
	signal(SIGPIPE, SIG_IGN);
	dir = conf_resolve_dir(dir);
	setenv(MASTER_ENV_CONFIG, dir, 1);
	if (conf_load(dir, NULL) < 0)
		msg_fatal("read %s/main.cf: %m", dir);
	msg_open_log(1);
	lock_master();
	if (!master_foreground)
		detach();
	write_pid();
	master_loop = ev_new();
	if (master_config_load(0, &err) < 0)
		msg_fatal("%s", err);
	if (master_ctl_open(&err) < 0)
		msg_fatal("%s", err);
	start_message();
	ev_signal(master_loop, SIGCHLD, on_child, NULL);
	ev_signal(master_loop, SIGHUP, on_hup, NULL);
	ev_signal(master_loop, SIGTERM, on_term, NULL);
	ev_signal(master_loop, SIGINT, on_term, NULL);
	ev_signal(master_loop, SIGQUIT, on_term, NULL);
	announce_ready();
	while (!master_stopping)
		ev_run(master_loop);
	master_ctl_close();
	for (struct master_service *s = master_services; s; s = s->next)
		master_listen_close(s);
	stop_children();
	master_config_free_all();
	unlink(pid_path);
	msg_info("stopped");
	return 0;
}
