/* master_spawn - starting, reaping and throttling service processes.
 *
 * A child gets a scrubbed environment (import_environment plus the two
 * variables of master_proto.h), the status pipe on fd 3 and the listeners
 * from fd 4, and nothing else open. A child that exits before it reported
 * READY did not start properly: its service is throttled for
 * service_throttle_time instead of being forked again at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "master.h"
#include "master_proto.h"
#include "mem.h"
#include "msg.h"

static struct master_proc *procs;
static int nprocs;

struct master_proc *master_proc_find(pid_t pid)
{
	for (struct master_proc *p = procs; p; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

int master_child_count(void)
{
	return nprocs;
}

/* master_proc_avail - keeps serv->avail equal to the idle current children */
void master_proc_avail(struct master_proc *p, int avail)
{
	if (p->avail == avail)
		return;
	p->avail = avail;
	if (p->serv)
		p->serv->avail += avail ? 1 : -1;
}

/* child_env - import_environment ("NAME" or "NAME=value") plus ours */
static void child_env(struct argv *env, const struct master_service *s)
{
	struct argv names = ARGV_INIT;
	const char *val;
	char *kv;

	argv_split(&names, conf_str("import_environment"), ", \t\r\n");
	for (size_t i = 0; i < names.n; i++) {
		if (strchr(names.v[i], '=')) {
			argv_add(env, names.v[i]);
		} else if ((val = getenv(names.v[i])) != NULL) {
			kv = xasprintf("%s=%s", names.v[i], val);
			argv_add(env, kv);
			free(kv);
		}
	}
	argv_free(&names);
	kv = xasprintf("%s=%s", MASTER_ENV_CONFIG, conf_dir());
	argv_add(env, kv);
	free(kv);
	kv = xasprintf("%s=%u", MASTER_ENV_GENERATION, s->generation);
	argv_add(env, kv);
	free(kv);
}

static void child_argv(struct argv *av, const struct master_service *s)
{
	const char *base = strrchr(s->path, '/');
	char num[16];

	argv_add(av, base ? base + 1 : s->path);
	argv_add(av, "-n");
	argv_add(av, s->name);
	argv_add(av, "-t");
	argv_add(av, mcf_type_name(s->type));
	if (s->unpriv)
		argv_add(av, "-u");
	if (s->chroot)
		argv_add(av, "-c");
	snprintf(num, sizeof(num), "%d", s->listen_count);
	argv_add(av, "-s");
	argv_add(av, num);
	for (size_t i = 0; i < s->args.n; i++)
		argv_add(av, s->args.v[i]);
}

/* child_fds - status pipe to fd 3, listeners from fd 4, close the rest */
static void child_fds(const struct master_service *s)
{
	int high[1 + MASTER_MAX_LISTEN], n = 1 + s->listen_count;

	/* Move everything above the target range first, so dup2 never
	 * overwrites a source that is still needed. */
	high[0] = fcntl(s->status_fd[1], F_DUPFD, 64);
	for (int i = 0; i < s->listen_count; i++)
		high[1 + i] = fcntl(s->listen_fds[i], F_DUPFD, 64);
	for (int i = 0; i < n; i++) {
		if (high[i] < 0 || dup2(high[i], MASTER_STATUS_FD + i) < 0) {
			msg_warn("%s: cannot pass descriptors: %m", s->id);
			_exit(126);
		}
	}
	closefrom(MASTER_STATUS_FD + n);
}

static void child_exec(struct master_service *s) __attribute__((noreturn));
static void child_exec(struct master_service *s)
{
	struct argv av = ARGV_INIT, env = ARGV_INIT;

	ev_signal_reset_child(master_loop);
	signal(SIGPIPE, SIG_DFL);
	child_argv(&av, s);
	child_env(&env, s);
	child_fds(s);
	execve(s->path, av.v, env.v);
	msg_warn("%s: exec %s: %m", s->id, s->path);
	_exit(127);
}

void master_spawn(struct master_service *s)
{
	struct master_proc *p;
	pid_t pid;

	if (s->disabled || s->throttled)
		return;
	if ((pid = fork()) < 0) {
		msg_warn("%s: fork: %m", s->id);
		master_throttle(s, "fork failed");
		return;
	}
	if (pid == 0)
		child_exec(s);
	p = xcalloc(1, sizeof(*p));
	p->pid = pid;
	p->serv = s;
	p->generation = s->generation;
	p->next = procs;
	procs = p;
	nprocs++;
	s->total++;
	master_proc_avail(p, 1);	/* a new child will accept */
	msg_debug("%s: started pid %ld", s->id, (long)pid);
	master_listen_update(s);
}

static void unthrottle(void *ctx)
{
	struct master_service *s = ctx;

	s->throttle_timer = 0;
	s->throttled = 0;
	msg_debug("%s: throttle released", s->id);
	master_listen_update(s);
}

void master_throttle(struct master_service *s, const char *why)
{
	long long secs = conf_time("service_throttle_time");

	if (s->throttled)
		return;
	msg_warn("%s: %s -- throttling for %lld seconds", s->id, why, secs);
	s->throttled = 1;
	s->throttle_timer = ev_timer_add(master_loop, secs * 1000, unthrottle, s);
	master_listen_update(s);
}

static void log_exit(const struct master_proc *p, int status)
{
	const char *path = p->serv ? p->serv->path : "service";

	/* SIGTERM is what master sends at stop and when a service is removed. */
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM && (master_stopping || p->serv == NULL))
		return;
	if (WIFSIGNALED(status))
		msg_warn("process %s pid %ld killed by signal %d", path, (long)p->pid, WTERMSIG(status));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		msg_warn("process %s pid %ld exit status %d", path, (long)p->pid, WEXITSTATUS(status));
}

static void proc_gone(struct master_proc *p, int status)
{
	struct master_service *s = p->serv;

	log_exit(p, status);
	master_proc_avail(p, 0);
	if (s) {
		s->total--;
		/* A child of an older generation may exit before READY only
		 * because a reload closed its status pipe: not a bad startup. */
		if (!p->ready && p->generation == s->generation)
			master_throttle(s, "bad command startup");
		if (p->generation == s->generation && !master_stopping && WIFSIGNALED(status))
			master_wakeup_soon(s);	/* killed or crashed: qmgr must not wait */
		master_listen_update(s);
	}
}

void master_reap(void)
{
	struct master_proc **pp, *p;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (pp = &procs; (p = *pp) != NULL; pp = &p->next)
			if (p->pid == pid)
				break;
		if (p == NULL)
			continue;
		*pp = p->next;
		nprocs--;
		proc_gone(p, status);
		free(p);
	}
}

void master_kill_children(struct master_service *s, int sig)
{
	for (struct master_proc *p = procs; p; p = p->next)
		if (s == NULL || p->serv == s)
			kill(p->pid, sig);
}

void master_move_children(struct master_service *from, struct master_service *to)
{
	for (struct master_proc *p = procs; p; p = p->next) {
		if (p->serv != from)
			continue;
		master_proc_avail(p, 0);
		from->total--;
		p->serv = to;
		if (to)
			to->total++;
	}
}

void master_detach_children(struct master_service *s)
{
	master_move_children(s, NULL);
}
