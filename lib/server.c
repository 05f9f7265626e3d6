/* server - the skeleton every postern daemon runs in; see server.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "ipc.h"
#include "master_proto.h"
#include "mem.h"
#include "msg.h"
#include "server.h"

#define SERVER_MAX_LISTEN	16
#define TRIGGER_BUF		1024
#define DGRAM_BUF		8192

static const struct server_ops *ops;
static struct ev_loop *loop;
static char *service_name = "";
static char *service_type = "";
static struct argv extra_args;
static int listen_fds[SERVER_MAX_LISTEN];
static int listen_count;
static int want_chroot, want_unpriv;
static unsigned generation;
static long use_count, max_use;
static long long max_idle_ms;
static uint64_t idle_timer;
static int clients;			/* SERVER_MULTI */
static int master_gone;

struct ev_loop *server_loop(void) { return loop; }
const char *server_name(void) { return service_name; }
const char *server_type(void) { return service_type; }
const struct argv *server_args(void) { return &extra_args; }

/* server_report - tells master what this process is doing */
static void server_report(enum master_stat status)
{
	struct master_status st = {getpid(), generation, (int)status};

	if (master_gone)
		return;
	if (write(MASTER_STATUS_FD, &st, sizeof(st)) != (ssize_t)sizeof(st))
		master_gone = 1;
}

static void server_exit(int status) __attribute__((noreturn));
static void server_exit(int status)
{
	if (ops->pre_exit)
		ops->pre_exit();
	exit(status);
}

static void idle_expired(void *ctx)
{
	(void)ctx;
	msg_debug("idle timeout -- exiting");
	server_exit(0);
}

/* server_idle - arms the idle timer, or exits when this process is done */
static void server_idle(void)
{
	if (master_gone) {
		msg_debug("master went away or reloaded -- exiting");
		server_exit(0);
	}
	if (ops->flags & SERVER_FLAG_RESIDENT)
		return;
	if (use_count >= max_use) {
		msg_debug("served %ld clients -- exiting", use_count);
		server_exit(0);
	}
	if (idle_timer)
		ev_timer_cancel(loop, idle_timer);
	idle_timer = ev_timer_add(loop, max_idle_ms, idle_expired, NULL);
}

static void server_busy(void)
{
	if (idle_timer) {
		ev_timer_cancel(loop, idle_timer);
		idle_timer = 0;
	}
	use_count++;
	server_report(MASTER_STAT_TAKEN);
	alarm((unsigned)conf_time("daemon_timeout"));
}

static void server_done(void)
{
	alarm(0);
	server_report(MASTER_STAT_AVAIL);
	server_idle();
}

void server_watchdog_reset(void)
{
	alarm((unsigned)conf_time("daemon_timeout"));
}

void server_client_done(void)
{
	if (clients > 0 && --clients == 0)
		server_done();
}

/* accept_client - accepts on a listener; -1 when another child won */
static int accept_client(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
	    && errno != ECONNABORTED)
		msg_warn("accept: %m");
	return fd;
}

/* read_trigger - reads what a trigger client sent, with a deadline */
static size_t read_trigger(int fd, char *buf, size_t size)
{
	long long deadline = ev_now_ms() + 1000 * conf_time("trigger_timeout");
	size_t len = 0;
	ssize_t n;

	while (len < size) {
		n = read(fd, buf + len, size - len);
		if (n > 0) {
			len += (size_t)n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			break;
		if (ipc_wait(fd, POLLIN, deadline) <= 0)
			break;
	}
	return len;
}

static void listener_ready(int lfd, int events, void *ctx)
{
	char buf[DGRAM_BUF];
	ssize_t n;
	int fd;

	(void)events;
	(void)ctx;
	if (ops->mode == SERVER_DGRAM || (ops->mode == SERVER_TRIGGER && strcmp(service_type, "fifo") == 0)) {
		n = read(lfd, buf, ops->mode == SERVER_DGRAM ? sizeof(buf) : TRIGGER_BUF);
		if (n <= 0)
			return;
		server_busy();
		if (ops->mode == SERVER_DGRAM)
			ops->dgram(buf, (size_t)n);
		else
			ops->trigger(buf, (size_t)n);
		server_done();
		return;
	}
	if ((fd = accept_client(lfd)) < 0)
		return;
	server_busy();
	switch (ops->mode) {
	case SERVER_SINGLE:
		ops->single(fd);
		close(fd);
		server_done();
		break;
	case SERVER_TRIGGER:
		n = (ssize_t)read_trigger(fd, buf, TRIGGER_BUF);
		close(fd);
		ops->trigger(buf, (size_t)n);
		server_done();
		break;
	case SERVER_MULTI:
		clients++;
		ops->multi(fd);
		break;
	case SERVER_DGRAM:
		break;
	}
}

/* drain_datagrams - a datagram service takes what is queued before it
 * exits, so lines sent just before a stop or reload are not lost */
static void drain_datagrams(void)
{
	char buf[DGRAM_BUF];
	ssize_t n;

	if (ops->mode != SERVER_DGRAM)
		return;
	for (int i = 0; i < listen_count; i++)
		while ((n = recv(listen_fds[i], buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			ops->dgram(buf, (size_t)n);
}

/* status_pipe_event - the pipe to master broke: finish and exit (a
 * daemon with a drain hook first finishes what it has in flight, taking
 * no new clients: they belong to the new generation) */
static void status_pipe_event(int fd, int events, void *ctx)
{
	(void)ctx;
	(void)events;
	ev_fd_del(loop, fd);
	master_gone = 1;
	drain_datagrams();
	if (ops->drain) {
		for (int i = 0; i < listen_count; i++)
			ev_fd_del(loop, listen_fds[i]);
		if (ops->drain())
			return;
		server_exit(0);
	}
	if (clients == 0)
		server_idle();
}

void server_drained(void)
{
	msg_debug("work in flight done after master went away or reloaded -- exiting");
	server_exit(0);
}

static void on_term(int sig, void *ctx)
{
	(void)sig;
	(void)ctx;
	drain_datagrams();
	server_exit(0);
}

static void watchdog(int sig)
{
	(void)sig;
	/* Async-signal-safe: no msg_* here. */
	static const char text[] = "fatal: watchdog timeout\n";
	ssize_t ignored = write(2, text, sizeof(text) - 1);
	(void)ignored;
	_exit(1);
}

static void parse_options(int argc, char **argv)
{
	int c;

	opterr = 0;
	while ((c = getopt(argc, argv, "+n:t:ucs:o:v")) != -1) {
		switch (c) {
		case 'n': service_name = optarg; break;
		case 't': service_type = optarg; break;
		case 'u': want_unpriv = 1; break;
		case 'c': want_chroot = 1; break;
		case 's': listen_count = atoi(optarg); break;
		case 'o':
			if (conf_override_arg(optarg) < 0)
				msg_fatal("bad -o argument: %s", optarg);
			break;
		case 'v': msg_verbose++; break;
		default: msg_fatal("unknown option -%c", optopt);
		}
	}
	if (listen_count < 0 || listen_count > SERVER_MAX_LISTEN)
		msg_fatal("bad listener count: %d", listen_count);
	for (; optind < argc; optind++)
		argv_add(&extra_args, argv[optind]);
}

void server_drop_privileges(const char *user, const char *chroot_dir)
{
	struct passwd *pw = NULL;

	if (user && (pw = getpwnam(user)) == NULL)
		msg_fatal("mail_owner %s: no such user", user);
	if (pw && pw->pw_uid == 0)
		msg_fatal("mail_owner %s has uid 0: refusing to run services as root", user);
	if (chroot_dir) {
		if (chroot(chroot_dir) < 0 || chdir("/") < 0)
			msg_fatal("chroot %s: %m", chroot_dir);
	}
	if (pw == NULL)
		return;
	if (setgroups(1, &pw->pw_gid) < 0)
		msg_fatal("setgroups: %m");
	if (setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0)
		msg_fatal("setresgid %ld: %m", (long)pw->pw_gid);
	if (setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		msg_fatal("setresuid %ld: %m", (long)pw->pw_uid);
	if (setuid(0) == 0 || seteuid(0) == 0)
		msg_fatal("could regain root after dropping privileges");
}

/* server_jail - chroot and drop privileges as master.cf says */
static void server_jail(void)
{
	const char *qdir = conf_str("queue_directory");

	if (getuid() != 0 && geteuid() != 0)
		return;			/* a non-root instance: already the owner */
	server_drop_privileges(want_unpriv ? conf_str("mail_owner") : NULL,
			       want_chroot ? qdir : NULL);
}

static void check_fd(int fd, const char *what)
{
	if (fcntl(fd, F_GETFD) < 0)
		msg_fatal("%s fd %d is not open: this program is started by master(8)", what, fd);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
}

void server_main(int argc, char **argv, const struct server_ops *server_ops)
{
	const char *gen;

	ops = server_ops;
	msg_init(argv[0]);
	parse_options(argc, argv);
	if (conf_load(conf_resolve_dir(NULL), NULL) < 0)
		msg_fatal("read %s/main.cf: %m", conf_resolve_dir(NULL));
	/* -o overrides were recorded before the load; apply them again. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			conf_override_arg(argv[++i]);
	msg_open_log(0);
	check_fd(MASTER_STATUS_FD, "status");
	for (int i = 0; i < listen_count; i++) {
		listen_fds[i] = MASTER_LISTEN_FD + i;
		check_fd(listen_fds[i], "listener");
	}
	gen = getenv(MASTER_ENV_GENERATION);
	generation = gen ? (unsigned)strtoul(gen, NULL, 10) : 0;
	max_use = conf_int("max_use");
	max_idle_ms = 1000 * conf_time("max_idle");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, watchdog);
	if (chdir(conf_str("queue_directory")) < 0)
		msg_fatal("chdir %s: %m", conf_str("queue_directory"));
	if (ops->pre_jail)
		ops->pre_jail();
	server_jail();
	if (ops->post_jail)
		ops->post_jail();
	loop = ev_new();
	for (int i = 0; i < listen_count; i++)
		ev_fd_set(loop, listen_fds[i], EV_READ, listener_ready, NULL);
	ev_fd_set(loop, MASTER_STATUS_FD, EV_READ, status_pipe_event, NULL);
	if (ops->mode == SERVER_DGRAM)
		ev_signal(loop, SIGTERM, on_term, NULL);
	server_report(MASTER_STAT_READY);
	if (ops->ready)
		ops->ready();
	server_idle();
	ev_run(loop);
	server_exit(0);
}
