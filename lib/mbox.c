/* mbox - deliver one message by appending it to an mbox file; see
 * mailbox.h for the contract.
 *
 * Straight-line: dotlock, open safely, fcntl lock, remember the size,
 * append, fsync; any failure after the size is known truncates back to it.
 * The order of the locks is Postfix's (dotlock first, then the kernel
 * lock), and so are the checks of the opened file (Postfix safe_open):
 * lstat before, fstat after, same device and inode, a regular file with
 * one link owned by us. These stop the symlink and hard-link attacks on
 * mail spools (CVE-2008-2936 and relatives).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mailbox.h"
#include "mem.h"
#include "msg.h"

/* How often to start over when the mailbox appears or disappears between
 * lstat and open (someone else creating or removing it). */
#define MBOX_OPEN_TRIES	3

struct mbox {
	const char *path;
	int fd;
	char *dotlock;		/* PATH.lock while we hold it */
	off_t orig_size;	/* size before we wrote; -1 = not known yet */
};

/* mbox_dotlock_stale - removes lock when it is older than stale seconds */
static int mbox_dotlock_stale(const char *lock, int stale)
{
	struct stat st;

	if (lstat(lock, &st) < 0 || st.st_mtime + stale > time(NULL))
		return 0;
	msg_warn("removing stale lock file %s", lock);
	return unlink(lock) == 0;
}

/* mbox_dotlock - creates PATH.lock; fine without one when the directory
 * does not let us create it; -1 with res filled when it stays taken */
static int mbox_dotlock(struct mbox *mb, const struct mailbox_opts *opts, struct mailbox_result *res)
{
	char *lock = xasprintf("%s.lock", mb->path);
	int fd, attempts = opts->lock_attempts > 0 ? opts->lock_attempts : 1;

	for (int attempt = 0; attempt < attempts; attempt++) {
		fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0) {
			(void)close(fd);
			mb->dotlock = lock;
			return 0;
		}
		if (errno != EEXIST) {
			free(lock);	/* not writable by us (a root spool): fcntl only */
			return 0;
		}
		if (mbox_dotlock_stale(lock, opts->stale_lock_time))
			continue;
		if (attempt + 1 < attempts)
			sleep((unsigned)opts->lock_delay);
	}
	mailbox_fail(res, "4.2.0", "unable to lock mailbox %s: lock file %s exists", mb->path, lock);
	free(lock);
	return -1;
}

/* mbox_unsafe - why the open file must not be written, or NULL */
static const char *mbox_unsafe(const struct stat *st, char *buf, size_t size)
{
	if (!S_ISREG(st->st_mode))
		return "is not a regular file";
	if (st->st_nlink != 1) {
		snprintf(buf, size, "has %lu hard links", (unsigned long)st->st_nlink);
		return buf;
	}
	if (st->st_uid != geteuid()) {
		snprintf(buf, size, "is owned by uid %ld, not by uid %ld", (long)st->st_uid,
			 (long)geteuid());
		return buf;
	}
	return NULL;
}

/* mbox_open_existing - opens the file lstat'ed as lst; fd, -1 with res
 * filled, or -2 when it went away (start over) */
static int mbox_open_existing(struct mbox *mb, const struct stat *lst, struct mailbox_result *res)
{
	struct stat st;
	int fd;

	if (S_ISLNK(lst->st_mode))
		return mailbox_fail(res, "4.2.0", "mailbox %s is a symlink", mb->path);
	if (!S_ISREG(lst->st_mode))
		return mailbox_fail(res, "4.2.0", "mailbox %s is not a regular file", mb->path);
	/* O_NONBLOCK: if a FIFO was swapped in, do not hang on it */
	fd = open(mb->path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return -2;
	if (fd < 0 && errno == ELOOP)
		return mailbox_fail(res, "4.2.0", "mailbox %s is a symlink", mb->path);
	if (fd < 0)
		return mailbox_fail(res, mailbox_errno_dsn(errno, "4.2.0"), "cannot open mailbox %s: %s",
				    mb->path, strerror(errno));
	if (fstat(fd, &st) < 0 || st.st_dev != lst->st_dev || st.st_ino != lst->st_ino) {
		(void)close(fd);
		return mailbox_fail(res, "4.2.0", "mailbox %s was replaced while being opened",
				    mb->path);
	}
	return fd;
}

/* mbox_open_new - creates the mailbox; fd, -1 with res, -2 if it appeared */
static int mbox_open_new(struct mbox *mb, struct mailbox_result *res)
{
	int fd = open(mb->path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0 && errno == EEXIST)
		return -2;
	if (fd < 0)
		return mailbox_fail(res, mailbox_errno_dsn(errno, "4.2.0"), "cannot create mailbox %s: %s",
				    mb->path, strerror(errno));
	return fd;
}

/* mbox_open - opens (or creates) the mailbox and checks it is safe */
static int mbox_open(struct mbox *mb, struct mailbox_result *res)
{
	struct stat lst, st;
	const char *why;
	char buf[80];
	int fd = -2;

	for (int tries = 0; fd == -2 && tries < MBOX_OPEN_TRIES; tries++) {
		if (lstat(mb->path, &lst) == 0)
			fd = mbox_open_existing(mb, &lst, res);
		else if (errno == ENOENT)
			fd = mbox_open_new(mb, res);
		else
			return mailbox_fail(res, "4.2.0", "cannot access mailbox %s: %s", mb->path,
					    strerror(errno));
	}
	if (fd == -2)
		return mailbox_fail(res, "4.2.0", "mailbox %s keeps changing", mb->path);
	if (fd < 0)
		return -1;
	mb->fd = fd;
	if (fstat(fd, &st) < 0)
		return mailbox_fail(res, "4.2.0", "cannot stat mailbox %s: %s", mb->path,
				    strerror(errno));
	if ((why = mbox_unsafe(&st, buf, sizeof(buf))) != NULL)
		return mailbox_fail(res, "4.2.0", "mailbox %s %s", mb->path, why);
	return 0;
}

/* mbox_lock - an fcntl write lock on the whole file, retried */
static int mbox_lock(struct mbox *mb, const struct mailbox_opts *opts, struct mailbox_result *res)
{
	struct flock fl;
	int attempts = opts->lock_attempts > 0 ? opts->lock_attempts : 1;

	for (int attempt = 0; attempt < attempts; attempt++) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(mb->fd, F_SETLK, &fl) == 0)
			return 0;
		if (errno != EAGAIN && errno != EACCES && errno != EINTR)
			return mailbox_fail(res, "4.2.0", "cannot lock mailbox %s: %s", mb->path,
					    strerror(errno));
		if (attempt + 1 < attempts)
			sleep((unsigned)opts->lock_delay);
	}
	return mailbox_fail(res, "4.2.0", "unable to lock mailbox %s: locked by another process",
			    mb->path);
}

/* mbox_from_line - "From SENDER DATE\n"; control characters in the
 * sender become '?' so it cannot break the line */
static char *mbox_from_line(const char *sender, time_t arrival)
{
	char date[64], *line, *p;

	if (ctime_r(&arrival, date) == NULL)
		snprintf(date, sizeof(date), "Thu Jan  1 00:00:00 1970\n");
	line = xasprintf("From %s %s", *sender ? sender : "MAILER-DAEMON", date);
	for (p = line + 5; p[1]; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return line;
}

/* mbox_append - From_ line, prefix, quoted content, end; 0, -1 (write),
 * -2 (read), errno set */
static int mbox_append(struct mailbox_out *o, const char *sender, time_t arrival,
		       const char *prefix, struct mailbox_src *src)
{
	char *from = mbox_from_line(sender, arrival);
	int ret = mailbox_out_put(o, from, strlen(from));

	free(from);
	if (ret == 0)
		ret = mailbox_out_put(o, prefix, strlen(prefix));
	if (ret == 0)
		ret = mailbox_copy(o, src, 1);
	if (ret == 0 && o->last != '\n')
		ret = mailbox_out_put(o, "\n", 1);
	if (ret == 0)
		ret = mailbox_out_put(o, "\n", 1);
	if (ret == 0)
		ret = mailbox_out_flush(o);
	return ret;
}

/* mbox_write - appends the message and fsyncs; -1 with res filled */
static int mbox_write(struct mbox *mb, const char *sender, time_t arrival, const char *prefix,
		      struct mailbox_src *src, const struct mailbox_opts *opts,
		      struct mailbox_result *res)
{
	struct mailbox_out *o;
	struct stat st;
	int ret, err;

	if (fstat(mb->fd, &st) < 0)
		return mailbox_fail(res, "4.2.0", "cannot stat mailbox %s: %s", mb->path,
				    strerror(errno));
	mb->orig_size = st.st_size;
	if (opts->size_limit > 0 && st.st_size >= opts->size_limit)
		return mailbox_fail(res, "5.2.2", "cannot write mailbox %s: %s", mb->path,
				    strerror(EFBIG));
	o = xmalloc(sizeof(*o));
	mailbox_out_init(o, mb->fd, opts->size_limit > 0 ? opts->size_limit - st.st_size : 0);
	ret = mbox_append(o, sender, arrival, prefix, src);
	if (ret == 0 && fsync(mb->fd) < 0)
		ret = -1;
	err = errno;
	free(o);
	if (ret == -2)
		mailbox_fail(res, "4.3.0", "cannot read message content: %s", strerror(err));
	else if (ret < 0)
		mailbox_fail(res, mailbox_errno_dsn(err, "4.3.0"), "cannot write mailbox %s: %s",
			     mb->path, strerror(err));
	return ret < 0 ? -1 : 0;
}

/* mbox_release - undoes a failed append, unlocks, closes */
static void mbox_release(struct mbox *mb, int failed)
{
	if (mb->fd >= 0 && failed && mb->orig_size >= 0 && ftruncate(mb->fd, mb->orig_size) < 0)
		msg_warn("cannot truncate mailbox %s back to %lld bytes: %m", mb->path,
			 (long long)mb->orig_size);
	if (mb->fd >= 0)
		(void)close(mb->fd);	/* also drops the fcntl lock */
	if (mb->dotlock) {
		(void)unlink(mb->dotlock);
		free(mb->dotlock);
	}
}

int mbox_deliver_opts(const char *path, const char *sender, time_t arrival, const char *prefix,
		      struct mailbox_src *src, struct mailbox_result *res,
		      const struct mailbox_opts *opts)
{
	struct mbox mb = { path, -1, NULL, -1 };
	int failed;

	failed = ((opts->lock_styles & MAILBOX_LOCK_DOTLOCK) && mbox_dotlock(&mb, opts, res) < 0)
	    || mbox_open(&mb, res) < 0
	    || ((opts->lock_styles & MAILBOX_LOCK_FCNTL) && mbox_lock(&mb, opts, res) < 0)
	    || mbox_write(&mb, sender, arrival, prefix, src, opts, res) < 0;
	if (!failed)
		mailbox_ok(res);
	mbox_release(&mb, failed);
	return res->status;
}

int mbox_deliver(const char *path, const char *sender, time_t arrival, const char *prefix,
		 struct mailbox_src *src, struct mailbox_result *res)
{
	static const struct mailbox_opts opts = MAILBOX_OPTS_DEFAULT;

	return mbox_deliver_opts(path, sender, arrival, prefix, src, res, &opts);
}
