/* mailbox - deliver one message to a Maildir or to an mbox file.
 *
 * The building blocks of local(8)'s mailbox delivery. They run as the
 * CURRENT effective uid: the caller has already switched to the
 * recipient's uid, gid and groups, and nothing here changes ids. The
 * message is pulled from a source callback, so it can be streamed from the
 * queue file; its content has LF line ends. prefix is text written before
 * the content, normally the delivery headers ("Return-Path: <s>\n
 * Delivered-To: r\n"); it should end in a newline.
 *
 * maildir_deliver (qmail's protocol, maildir(5)): creates the maildir and
 * its tmp/ new/ cur/ (mode 0700) when missing, writes
 * tmp/TIME.M<usec>P<pid>R<random>.HOST with O_EXCL, fsyncs and closes it
 * (checked), links it into new/ (another name on EEXIST), removes the tmp/
 * name and fsyncs new/. Success means the message is on stable storage.
 * The maildir, tmp/ and new/ are opened with O_NOFOLLOW and used through
 * *at() calls, so a symlink swapped in meanwhile is never followed; a
 * maildir (or tmp/, new/) that is a symlink or is not owned by the
 * effective uid is refused. On failure nothing is left in tmp/ or new/.
 *
 * mbox_deliver: appends to path, creating it (0600) when missing. The file
 * is lstat'ed, opened with O_NOFOLLOW and fstat'ed; it must be the same
 * file, a regular file with one link, owned by the effective uid. It is
 * locked with a dotlock (PATH.lock, created with O_EXCL; one older than
 * stale_lock_time is removed; skipped when the directory is not writable
 * by us) and then with fcntl, each tried lock_attempts times lock_delay
 * seconds apart. Written: "From SENDER DATE\n" (MAILER-DAEMON for the
 * null sender, the date as ctime() of arrival), prefix, the content with
 * every line that starts with "From " quoted as ">From " (also when the
 * "From " is split between chunks), a newline if the content lacks a last
 * one, and an empty line. Then fsync. On any failure after the lock the
 * file is truncated back to its old size.
 *
 * Results (struct mailbox_result): status 0 (delivered, dsn 2.0.0), 4
 * (defer) or 5 (bounce), an RFC 3463 code and a reason for the log and
 * the bounce. As in Postfix an unsafe mailbox (symlink, hard links, wrong
 * owner, not a regular file) and a mailbox that cannot be opened or
 * locked are deferred: 4.2.0. Disk quota (EDQUOT): 4.2.2; file system full
 * (ENOSPC): 4.3.1; other I/O errors: 4.3.0; a message source read error:
 * 4.3.0. Only the size limit (mailbox_size_limit; EFBIG) is permanent:
 * 5.2.2, as in Postfix.
 */
#ifndef POSTERN_MAILBOX_H
#define POSTERN_MAILBOX_H

#include <sys/types.h>
#include <time.h>

/* The message content: read returns a byte count > 0 with *buf set (valid
 * until the next call), 0 at the end, or -1 on a read error with errno. */
struct mailbox_src {
	ssize_t (*read)(void *ctx, const char **buf);
	void *ctx;
};

struct mailbox_result {
	int status;		/* 0 ok, 4 temporary (defer), 5 permanent (bounce) */
	char dsn[16];		/* "2.0.0", "4.2.2", "5.2.2", ... */
	char text[256];		/* why, e.g. "cannot write mailbox /x: Disk quota exceeded" */
};

/* Lock styles (Postfix's mailbox_delivery_lock; Linux default both). */
#define MAILBOX_LOCK_FCNTL	(1 << 0)
#define MAILBOX_LOCK_DOTLOCK	(1 << 1)

struct mailbox_opts {
	int lock_attempts;	/* deliver_lock_attempts, Postfix default 20 */
	int lock_delay;		/* deliver_lock_delay in seconds, default 1 */
	int stale_lock_time;	/* stale_lock_time in seconds, default 500 */
	int lock_styles;	/* MAILBOX_LOCK_* (mbox only) */
	off_t size_limit;	/* mailbox_size_limit in bytes (mbox file, or one
				 * Maildir message); 0 = none. Postfix: 51200000 */
};

/* Postfix's defaults, except no size limit (local passes its own). */
#define MAILBOX_OPTS_DEFAULT { 20, 1, 500, MAILBOX_LOCK_FCNTL | MAILBOX_LOCK_DOTLOCK, 0 }

/* Both return res->status. maildir may end in '/' or not. */
int maildir_deliver(const char *maildir, const char *prefix, struct mailbox_src *src,
		    struct mailbox_result *res);
int maildir_deliver_opts(const char *maildir, const char *prefix, struct mailbox_src *src,
			 struct mailbox_result *res, const struct mailbox_opts *opts);

int mbox_deliver(const char *path, const char *sender, time_t arrival, const char *prefix,
		 struct mailbox_src *src, struct mailbox_result *res);
int mbox_deliver_opts(const char *path, const char *sender, time_t arrival, const char *prefix,
		      struct mailbox_src *src, struct mailbox_result *res,
		      const struct mailbox_opts *opts);

/* ---- shared by maildir.c and mbox.c (mailbox.c) ----------------------- */

#define MAILBOX_BUFSIZE	32768

/* A buffered writer that counts what it accepted against a limit. */
struct mailbox_out {
	int fd;
	off_t written;		/* bytes accepted */
	off_t limit;		/* most bytes accepted; 0 = no limit */
	int last;		/* the last byte accepted, or -1 */
	size_t len;		/* bytes in buf */
	char buf[MAILBOX_BUFSIZE];
};

void mailbox_out_init(struct mailbox_out *o, int fd, off_t limit);
/* mailbox_out_put - 0, or -1 with errno (EFBIG past the limit) */
int mailbox_out_put(struct mailbox_out *o, const char *data, size_t len);
int mailbox_out_flush(struct mailbox_out *o);	/* 0, or -1 with errno */

/* mailbox_copy - src to o; with quote_from, a line that starts with
 * "From " is written as ">From ". 0, -1 on a write error, -2 on a read
 * error of the source, with errno set. */
int mailbox_copy(struct mailbox_out *o, struct mailbox_src *src, int quote_from);

/* mailbox_ok / mailbox_fail - fill res (the status is taken from the
 * first digit of dsn); mailbox_fail returns -1, so that a step of a
 * delivery can end with "return mailbox_fail(...)". */
void mailbox_ok(struct mailbox_result *res);
int mailbox_fail(struct mailbox_result *res, const char *dsn, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* mailbox_errno_dsn - the code for a write or create error: quota,
 * full file system and size limit have their own; else def. */
const char *mailbox_errno_dsn(int err, const char *def);

#endif
