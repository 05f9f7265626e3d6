/* maildrop_client - the maildrop record stream, and the postdrop child.
 *
 * sendmail is not privileged. It runs postdrop (set-gid when installed)
 * with fork and execv, no shell, and writes the records of one message
 * to its stdin over a pipe: the envelope (S, F?, A*, (N? R)+, M), the
 * content as B records, then E; postdrop/postdrop.c describes the
 * sequence and checks all of it again. Only postdrop's exit status says
 * whether the file is safely in maildrop/: 0 after it committed, else a
 * sysexits code that sendmail passes on. A sendmail that stops early
 * (bad input) closes the pipe without E, and postdrop throws the file
 * away.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "mem.h"
#include "rec.h"
#include "argv.h"
#include "maildrop_client.h"

void maildrop_envelope_encode(vstr *out, const struct maildrop_envelope *env)
{
	const char *attrs[][2] = {
		{"notify", env->notify}, {"ret", env->ret},
		{"envid", env->envid}, {"body_type", env->body_type},
	};
	char *attr;
	int notify = env->notify && *env->notify;

	rec_encode(out, REC_SENDER, env->sender, strlen(env->sender));
	if (env->fullname && *env->fullname)
		rec_encode(out, REC_FULLNAME, env->fullname, strlen(env->fullname));
	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		if (attrs[i][1] == NULL || *attrs[i][1] == 0)
			continue;
		attr = xasprintf("%s=%s", attrs[i][0], attrs[i][1]);
		rec_encode(out, REC_ATTR, attr, strlen(attr));
		free(attr);
	}
	for (size_t i = 0; i < env->rcpts->n; i++) {
		if (notify)
			rec_encode(out, REC_NOTIFY, env->notify, strlen(env->notify));
		rec_encode(out, REC_RCPT, env->rcpts->v[i], strlen(env->rcpts->v[i]));
	}
	rec_encode(out, REC_MESSAGE, "", 0);
}

void maildrop_content_encode(vstr *out, vstr *content, int final)
{
	size_t n;

	while (vstr_len(content) >= REC_CHUNK || (final && vstr_len(content) > 0)) {
		n = vstr_len(content) < REC_CHUNK ? vstr_len(content) : REC_CHUNK;
		rec_encode(out, REC_BODY, vstr_str(content), n);
		vstr_consume(content, n);
	}
}

/* exec_child - in the child: stdin from the pipe, then postdrop */
static void exec_child(int in_fd, int report_fd, char **argv)
{
	int e;

	if (dup2(in_fd, 0) < 0) {
		e = errno;
	} else {
		signal(SIGPIPE, SIG_DFL);
		execv(argv[0], argv);
		e = errno;
	}
	if (write(report_fd, &e, sizeof(e)) < 0)
		_exit(EX_OSERR);
	_exit(EX_TEMPFAIL);
}

/* exec_failed - the child's report on the close-on-exec pipe: 0 when
 * exec succeeded (EOF), else its errno */
static int exec_failed(int report_fd)
{
	int e = 0;
	ssize_t n;

	do {
		n = read(report_fd, &e, sizeof(e));
	} while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(e) ? (e ? e : EIO) : 0;
}

/* spawn - forks the child; its pid, or -1 with *what and errno */
static pid_t spawn(char **argv, int data[2], const char **what)
{
	int report[2], e;
	pid_t pid;

	*what = "pipe";
	if (pipe2(report, O_CLOEXEC) < 0)
		return -1;
	*what = "fork";
	if ((pid = fork()) == 0)
		exec_child(data[0], report[1], argv);
	e = errno;
	close(report[1]);
	if (pid > 0 && (e = exec_failed(report[0])) != 0) {
		waitpid(pid, NULL, 0);
		*what = "execute";
		pid = -1;
	}
	close(report[0]);
	errno = e;
	return pid;
}

int postdrop_start(struct postdrop_pipe *d, const char *path, const char *config_dir,
		  int verbose, char **err)
{
	struct argv args = ARGV_INIT;
	const char *what = "pipe";
	int data[2], e = 0;

	argv_add(&args, path);
	argv_add(&args, "-c");
	argv_add(&args, config_dir);
	for (int i = 0; i < verbose; i++)
		argv_add(&args, "-v");
	d->pid = -1;
	d->fd = -1;
	d->error = 0;
	if (pipe2(data, O_CLOEXEC) < 0) {
		e = errno;
	} else {
		d->pid = spawn(args.v, data, &what);
		e = errno;
		close(data[0]);
		if (d->pid > 0)
			d->fd = data[1];
		else
			close(data[1]);
	}
	if (d->pid < 0)
		*err = xasprintf("%s %s: %s", what, path, strerror(e));
	argv_free(&args);
	return d->pid < 0 ? -1 : 0;
}

void postdrop_write(struct postdrop_pipe *d, vstr *buf)
{
	const char *p = vstr_str(buf);
	size_t left = vstr_len(buf);
	ssize_t n;

	while (left > 0 && d->error == 0) {
		n = write(d->fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			d->error = n < 0 ? errno : EIO;
			break;
		}
		p += n;
		left -= (size_t)n;
	}
	vstr_reset(buf);
}

int postdrop_finish(struct postdrop_pipe *d)
{
	int status;
	pid_t r;

	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	if (d->pid < 0)
		return EX_TEMPFAIL;
	do {
		r = waitpid(d->pid, &status, 0);
	} while (r < 0 && errno == EINTR);
	d->pid = -1;
	if (r < 0 || !WIFEXITED(status))
		return EX_TEMPFAIL;
	status = WEXITSTATUS(status);
	/* Anything that is not a sysexits code is a run-time failure. */
	if (status != 0 && (status < EX__BASE || status > EX__MAX))
		return EX_TEMPFAIL;
	return status;
}
