/* local_deliver - the deliveries themselves, each with the right ids.
 *
 * Mailboxes, files and commands are written in a child process that has
 * switched to the recipient (or, for alias files and commands, to
 * default_privs): all supplementary groups, gid and uid, so no delivery
 * runs as root. .forward and :include: files are read the same way. A non-root instance delivers as its
 * own user. The child reports a mailbox_result through a pipe; a child that
 * dies without one is a temporary failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup_client.h"
#include "config.h"
#include "local.h"
#include "mailbox.h"
#include "mem.h"
#include "msg.h"
#include "qread.h"
#include "vstr.h"

#define OUTPUT_MAX	400

void local_result_set(struct local_result *res, int status, const char *dsn, const char *fmt, ...)
{
	va_list ap;

	res->status = status;
	snprintf(res->dsn, sizeof(res->dsn), "%s", dsn);
	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
}

int local_privs_for_user(const char *user, struct local_privs *p, char *buf, size_t size)
{
	struct passwd pw, *hit = NULL;

	if (getpwnam_r(user, &pw, buf, size, &hit) != 0 || hit == NULL)
		return -1;
	p->uid = pw.pw_uid;
	p->gid = pw.pw_gid;
	p->user = pw.pw_name;
	p->home = pw.pw_dir;
	/* Looked up here, in the long-lived parent, so that each delivery
	 * child only calls setgroups() (no NSS work per delivery). */
	p->ngroups = LOCAL_MAX_GROUPS;
	if (getgrouplist(pw.pw_name, pw.pw_gid, p->groups, &p->ngroups) < 0) {
		p->groups[0] = pw.pw_gid;	/* more than LOCAL_MAX_GROUPS: primary only */
		p->ngroups = 1;
	}
	return 0;
}

/* Content of the queued message, for mailbox_src. */
struct content_ctx {
	struct qcontent c;
};

static ssize_t content_read(void *ctx, const char **buf)
{
	return qcontent_next(&((struct content_ctx *)ctx)->c, buf);
}

static void content_open(struct content_ctx *cc, const struct local_msg *msg)
{
	struct qenvelope env;

	memset(&env, 0, sizeof(env));
	env.content_offset = msg->content_offset;
	qcontent_open(&cc->c, msg->fd, &env);
}

/* become - the child takes p's identity for good; fatal if it cannot */
static void become(const struct local_privs *p)
{
	if (geteuid() != 0)
		return;			/* a non-root instance delivers as itself */
	if (setgroups((size_t)p->ngroups, p->groups) < 0 || setgid(p->gid) < 0 || setuid(p->uid) < 0
	    || (p->uid != 0 && setuid(0) == 0)) {
		static const char text[] = "cannot switch to the recipient's uid\n";
		ssize_t ignored = write(2, text, sizeof(text) - 1);

		(void)ignored;
		_exit(75);
	}
	if (p->home && chdir(p->home) < 0 && chdir("/") < 0)
		_exit(75);
}

typedef void child_fn(void *ctx, struct mailbox_result *r);

/* run_as - fn in a child with p's identity; its result comes back in r */
static void run_as(const struct local_privs *p, child_fn *fn, void *ctx, struct mailbox_result *r)
{
	int pfd[2], status;
	pid_t pid;
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		mailbox_fail(r, "4.3.0", "cannot start a delivery process: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		close(pfd[0]);
		signal(SIGPIPE, SIG_DFL);
		become(p);
		fn(ctx, r);
		n = write(pfd[1], r, sizeof(*r));
		_exit(n == (ssize_t)sizeof(*r) ? 0 : 75);
	}
	close(pfd[1]);
	n = read(pfd[0], r, sizeof(*r));
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(*r))
		mailbox_fail(r, "4.3.0", "delivery process for %s died", p->user);
	r->text[sizeof(r->text) - 1] = 0;
}

/* local_read_as - up to size-1 bytes of path, read by a child with p's
 * identity (so a .forward or :include: can name only what its owner may
 * read), NUL-terminated. The file must be a regular file with one link,
 * owned by p or root, not writable by group or others. Returns the length,
 * or -1 when the file is absent or unsafe (*why says which). */
struct read_reply {
	int status;		/* 0 read, 1 absent, 4 unsafe or error */
	size_t len;		/* bytes that follow on the pipe */
	char why[200];
};

static void read_child(const char *path, char *buf, size_t size, struct read_reply *rr)
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	rr->status = 4;
	if (fd < 0) {
		rr->status = errno == ENOENT ? 1 : 4;
		snprintf(rr->why, sizeof(rr->why), "%s", strerror(errno));
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1
	    || (st.st_uid != getuid() && st.st_uid != 0) || (st.st_mode & 022)) {
		snprintf(rr->why, sizeof(rr->why), "not a regular file owned by its user, or writable by others");
	} else if ((n = read(fd, buf, size - 1)) < 0) {
		snprintf(rr->why, sizeof(rr->why), "%s", strerror(errno));
	} else {
		rr->status = 0;
		rr->len = (size_t)n;
	}
	close(fd);
}

ssize_t local_read_as(const struct local_privs *p, const char *path, char *buf, size_t size,
		      char *why, size_t whysize)
{
	struct read_reply rr;
	int pfd[2], status;
	ssize_t len = -1, n;
	size_t got = 0;
	pid_t pid;

	*why = 0;
	if (size < 2 || pipe2(pfd, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		snprintf(why, whysize, "cannot start a reader: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		close(pfd[0]);
		become(p);
		memset(&rr, 0, sizeof(rr));
		read_child(path, buf, size, &rr);
		if (write(pfd[1], &rr, sizeof(rr)) != (ssize_t)sizeof(rr)
		    || (rr.status == 0 && write(pfd[1], buf, rr.len) != (ssize_t)rr.len))
			_exit(75);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &rr, sizeof(rr)) != (ssize_t)sizeof(rr)) {
		snprintf(why, whysize, "reader process died");
	} else if (rr.status != 0) {
		rr.why[sizeof(rr.why) - 1] = 0;
		if (rr.status != 1)
			snprintf(why, whysize, "%s", rr.why);
	} else {
		while (got < rr.len && got < size - 1 && (n = read(pfd[0], buf + got, rr.len - got)) > 0)
			got += (size_t)n;
		buf[got] = 0;
		len = (ssize_t)got;
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return len;
}

struct box_job {
	const struct local_msg *msg;
	const char *path, *prefix;
};

static int is_maildir(const char *path)
{
	size_t len = strlen(path);

	return len > 0 && path[len - 1] == '/';
}

static void box_child(void *ctx, struct mailbox_result *r)
{
	struct box_job *j = ctx;
	struct content_ctx cc;
	struct mailbox_src src = {content_read, &cc};
	struct mailbox_opts opts = MAILBOX_OPTS_DEFAULT;

	opts.size_limit = (off_t)conf_int("mailbox_size_limit");
	content_open(&cc, j->msg);
	if (is_maildir(j->path))
		maildir_deliver_opts(j->path, j->prefix, &src, r, &opts);
	else
		mbox_deliver_opts(j->path, j->msg->sender, (time_t)j->msg->arrival, j->prefix, &src, r, &opts);
	qcontent_close(&cc.c);
}

static char *prefix_headers(const struct local_msg *msg, const char *rcpt, const char *orig)
{
	vstr v = VSTR_INIT;

	vstr_catf(&v, "Return-Path: <%s>\n", msg->sender);
	vstr_catf(&v, "Delivered-To: %s\n", rcpt);
	if (orig && *orig && strcmp(orig, rcpt) != 0)
		vstr_catf(&v, "X-Original-To: %s\n", orig);
	return vstr_steal(&v);
}

/* write_box - one mailbox or file delivery as p */
static void write_box(struct local_msg *msg, const char *rcpt, const char *orig, const char *path,
		      const struct local_privs *p, const char *what, struct local_result *res)
{
	struct mailbox_result r;
	char *prefix = prefix_headers(msg, rcpt, orig);
	struct box_job j = {msg, path, prefix};

	memset(&r, 0, sizeof(r));
	run_as(p, box_child, &j, &r);
	free(prefix);
	if (r.status == 0)
		local_result_set(res, 0, "2.0.0", "delivered to %s %s", is_maildir(path) ? "maildir" : what, path);
	else
		local_result_set(res, r.status, r.dsn, "%s", r.text);
	res->leaves++;
}

/* spool_prepare - as root, the recipient's spool mailbox exists and is theirs */
static void spool_prepare(const char *path, const struct local_privs *p)
{
	struct stat st;
	int fd;

	if (geteuid() != 0 || lstat(path, &st) == 0)
		return;
	if (is_maildir(path)) {
		char *dir = xstrndup(path, strlen(path) - 1);

		if (mkdir(dir, 0700) == 0 && chown(dir, p->uid, p->gid) < 0)
			msg_warn("chown %s: %m", dir);
		free(dir);
	} else if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) >= 0) {
		if (fchown(fd, p->uid, p->gid) < 0)
			msg_warn("chown %s: %m", path);
		close(fd);
	}
}

void local_mailbox(struct local_msg *msg, const char *rcpt, const char *orig,
		   const struct local_privs *p, struct local_result *res)
{
	const char *home_mailbox = conf_str("home_mailbox"), *spool = conf_str("mail_spool_directory");
	char *path;

	if (*home_mailbox) {
		path = xasprintf("%s/%s", p->home, home_mailbox);
	} else {
		size_t len = strlen(spool);

		path = xasprintf("%s%s%s%s", spool, len && spool[len - 1] == '/' ? "" : "/", p->user,
				 len && spool[len - 1] == '/' ? "/" : "");
		spool_prepare(path, p);
	}
	write_box(msg, rcpt, orig, path, p, "mailbox", res);
	free(path);
}

void local_file(struct local_msg *msg, const char *rcpt, const char *orig, const char *path,
		const struct local_privs *p, struct local_result *res)
{
	if (strcmp(path, "/dev/null") == 0) {	/* the classic way to drop mail */
		local_result_set(res, 0, "2.0.0", "delivered to file: /dev/null");
		res->leaves++;
		return;
	}
	write_box(msg, rcpt, orig, path, p, "file", res);
}

static volatile sig_atomic_t timed_out;	/* command_time_limit passed */

struct cmd_job {
	const struct local_msg *msg;
	const char *cmd, *rcpt, *prefix;
};

/* feed - the message to the command's stdin */
static void feed(int fd, const struct cmd_job *j)
{
	struct content_ctx cc;
	const char *buf;
	ssize_t n;

	signal(SIGPIPE, SIG_IGN);
	if (write(fd, j->prefix, strlen(j->prefix)) < 0)
		return;
	content_open(&cc, j->msg);
	while (!timed_out && (n = qcontent_next(&cc.c, &buf)) > 0)
		if (write(fd, buf, (size_t)n) != n)
			break;
	qcontent_close(&cc.c);
}

static void exec_command(const struct cmd_job *j, int in, int out)
{
	char *env[] = {NULL, NULL, NULL, "PATH=/usr/bin:/bin", NULL, NULL};
	struct passwd *pw = getpwuid(getuid());

	env[0] = xasprintf("SENDER=%s", j->msg->sender);
	env[1] = xasprintf("RECIPIENT=%s", j->rcpt);
	env[2] = xasprintf("HOME=%s", pw ? pw->pw_dir : "/");
	env[4] = xasprintf("USER=%s", pw ? pw->pw_name : "nobody");
	setpgid(0, 0);		/* its own group: the time limit kills all of it */
	dup2(in, 0);
	dup2(out, 1);
	dup2(out, 2);
	closefrom(3);
	/* The command line is the admin's (aliases, .forward): the shell
	 * sees no message data, which arrives on stdin and in the env. */
	execle("/bin/sh", "sh", "-c", j->cmd, (char *)NULL, env);
	_exit(126);
}

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

/* drain - the command's output: the first OUTPUT_MAX bytes are kept for
 * the reason, the rest read and dropped so the command never blocks */
static void drain(int fd, char *output)
{
	char sink[4096];
	size_t got = 0;
	ssize_t n;

	while (!timed_out) {
		n = read(fd, got < OUTPUT_MAX ? output + got : sink,
			 got < OUTPUT_MAX ? OUTPUT_MAX - got : sizeof(sink));
		if (n <= 0)
			break;
		if (got < OUTPUT_MAX)
			got += (size_t)n;
	}
	output[got] = 0;
	output[strcspn(output, "\n")] = 0;
}

static void cmd_child(void *ctx, struct mailbox_result *r)
{
	struct cmd_job *j = ctx;
	struct sigaction sa;
	int in[2], out[2], status;
	char output[OUTPUT_MAX + 1];
	pid_t pid;

	if (pipe(in) < 0 || pipe(out) < 0 || (pid = fork()) < 0) {
		mailbox_fail(r, "4.3.0", "cannot run command: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		close(in[1]);
		close(out[0]);
		exec_command(j, in[0], out[1]);
	}
	setpgid(pid, pid);	/* also here: no race with the child's own call */
	close(in[0]);
	close(out[1]);
	/* No SA_RESTART: the alarm interrupts a blocked write or read. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	alarm((unsigned)conf_time("command_time_limit"));
	feed(in[1], j);
	close(in[1]);
	drain(out[0], output);
	if (timed_out)
		kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		if (timed_out)
			kill(-pid, SIGKILL);
	alarm(0);
	if (timed_out)
		mailbox_fail(r, "4.3.0", "command exceeded command_time_limit (%lld s)",
			     conf_time("command_time_limit"));
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		mailbox_ok(r);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 75)
		mailbox_fail(r, "4.3.0", "command temporarily failed: %s", *output ? output : "exit status 75");
	else if (WIFSIGNALED(status))
		mailbox_fail(r, "4.3.0", "command killed by signal %d", WTERMSIG(status));
	else
		mailbox_fail(r, "5.3.0", "command died with status %d: %s", WEXITSTATUS(status),
			     *output ? output : "no output");
}

void local_command(struct local_msg *msg, const char *rcpt, const char *orig, const char *cmd,
		   const struct local_privs *p, struct local_result *res)
{
	struct mailbox_result r;
	char *prefix = prefix_headers(msg, rcpt, orig);
	struct cmd_job j = {msg, cmd, rcpt, prefix};

	memset(&r, 0, sizeof(r));
	run_as(p, cmd_child, &j, &r);
	free(prefix);
	if (r.status == 0)
		local_result_set(res, 0, "2.0.0", "delivered to command: %s", cmd);
	else
		local_result_set(res, r.status, r.dsn, "%s", r.text);
	res->leaves++;
}

/* local_forward - a new message to addresses outside this host, with a
 * Delivered-To: for rcpt on top so a loop back here is caught */
void local_forward(struct local_msg *msg, const char *rcpt, const struct argv *to,
		   struct local_result *res)
{
	struct cleanup_envelope env = {msg->sender, "forward", -1, NULL, 0, 0, NULL, NULL, NULL, NULL,
				       msg->queue_id, NULL};
	struct cleanup_result cr;
	struct content_ctx cc;
	struct cleanup_client *c;
	char *err = NULL, *hdr;
	const char *buf;
	ssize_t n;

	if ((c = cleanup_open(NULL, &err)) == NULL) {
		local_result_set(res, 4, "4.3.0", "cannot forward: %s", err);
		free(err);
		return;
	}
	cleanup_envelope(c, &env);
	for (size_t i = 0; i < to->n; i++)
		cleanup_rcpt(c, to->v[i], rcpt, NULL);
	hdr = xasprintf("Delivered-To: %s\n", rcpt);
	cleanup_data(c, hdr, strlen(hdr));
	free(hdr);
	content_open(&cc, msg);
	while ((n = qcontent_next(&cc.c, &buf)) > 0)
		cleanup_data(c, buf, (size_t)n);
	qcontent_close(&cc.c);
	if (cleanup_finish(c, &cr) == 0) {
		local_result_set(res, 0, "2.0.0", "forwarded as %s", cr.queue_id);
		res->leaves++;
	} else {
		local_result_set(res, cr.status, cr.dsn, "cannot forward: %s", cr.reason);
	}
}
