/* maildir - deliver one message into a Maildir (qmail's tmp/ then new/
 * protocol, with fsync of the file and of new/); see mailbox.h.
 *
 * Straight-line on purpose: open the directories, write the tmp/ file,
 * link it into new/, and on any failure undo exactly what was created.
 * Every directory is held open (O_NOFOLLOW) and files are made with *at()
 * calls relative to it, so nothing swapped in after the checks is
 * followed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "mailbox.h"
#include "mem.h"

/* How many names to try when one is taken (a name is never reused in
 * practice: it holds the time, the pid and 64 random bits). */
#define MAILDIR_NAME_TRIES	10

struct maildir {
	char *path;		/* without trailing '/' */
	int dfd, tmpfd, newfd;
	char tmpname[NAME_MAX + 1];	/* the file in tmp/, "" when none */
	char newname[NAME_MAX + 1];	/* its name in new/, "" when none */
};

/* maildir_host - the host name with '/' and ':' escaped as \057 and \072 */
static void maildir_host(char *out, size_t size)
{
	char host[256];
	size_t n = 0;

	if (gethostname(host, sizeof(host)) < 0 || host[0] == 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = 0;
	for (const char *p = host; *p && n + 5 < size; p++) {
		if (*p == '/' || *p == ':') {
			memcpy(out + n, *p == '/' ? "\\057" : "\\072", 4);
			n += 4;
		} else {
			out[n++] = *p;
		}
	}
	out[n] = 0;
}

/* maildir_unique - TIME.M<usec>P<pid>R<random hex>.HOST into name */
static int maildir_unique(char *name, size_t size)
{
	char host[4 * 256 + 1];
	unsigned long long rnd = 0;
	struct timeval tv;
	int n;

	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
		rnd ^= (unsigned long long)random() << 32 ^ (unsigned long long)random();
	gettimeofday(&tv, NULL);
	maildir_host(host, sizeof(host));
	n = snprintf(name, size, "%lld.M%ldP%ldR%016llx.%s", (long long)tv.tv_sec,
		     (long)tv.tv_usec, (long)getpid(), rnd, host);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* maildir_mkdirs - creates the missing directories above path (as mkdir -p;
 * errors are left for the open of path itself to report) */
static void maildir_mkdirs(const char *path)
{
	char *p = xstrdup(path);

	for (char *s = strchr(p + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
		*s = 0;
		(void)mkdir(p, 0700);
		*s = '/';
	}
	free(p);
}

/* maildir_opendir - opens name (relative to dfd) as a directory of ours,
 * creating it when missing; -1 with res filled */
static int maildir_opendir(int dfd, const char *name, const char *shown, struct mailbox_result *res)
{
	struct stat st;
	int fd, err;

	if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST)
		return mailbox_fail(res, mailbox_errno_dsn(errno, "4.2.0"),
				    "cannot create maildir %s: %s", shown, strerror(errno));
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			mailbox_fail(res, "4.2.0", "maildir %s is a symlink", shown);
		else
			mailbox_fail(res, "4.2.0", "cannot open maildir %s: %s", shown, strerror(err));
		return -1;
	}
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid()) {
		mailbox_fail(res, "4.2.0", "maildir %s is not owned by uid %ld", shown,
			     (long)geteuid());
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* maildir_open - the maildir, tmp/ and new/ open and checked; cur/ made */
static int maildir_open(struct maildir *md, const char *maildir, struct mailbox_result *res)
{
	size_t len = strlen(maildir);
	char *shown;

	while (len > 1 && maildir[len - 1] == '/')
		len--;
	if (len == 0)
		return mailbox_fail(res, "4.3.5", "empty maildir name");
	md->path = xstrndup(maildir, len);
	maildir_mkdirs(md->path);
	if ((md->dfd = maildir_opendir(AT_FDCWD, md->path, md->path, res)) < 0)
		return -1;
	shown = xasprintf("%s/tmp", md->path);
	md->tmpfd = maildir_opendir(md->dfd, "tmp", shown, res);
	free(shown);
	if (md->tmpfd < 0)
		return -1;
	shown = xasprintf("%s/new", md->path);
	md->newfd = maildir_opendir(md->dfd, "new", shown, res);
	free(shown);
	if (md->newfd < 0)
		return -1;
	if (mkdirat(md->dfd, "cur", 0700) < 0 && errno != EEXIST)
		return mailbox_fail(res, mailbox_errno_dsn(errno, "4.2.0"),
				    "cannot create maildir %s/cur: %s", md->path, strerror(errno));
	return 0;
}

/* maildir_create - a new file in tmp/ under a unique name; fd or -1 */
static int maildir_create(struct maildir *md, struct mailbox_result *res)
{
	int fd = -1;

	for (int tries = 0; fd < 0 && tries < MAILDIR_NAME_TRIES; tries++) {
		if (maildir_unique(md->tmpname, sizeof(md->tmpname)) < 0)
			break;
		fd = openat(md->tmpfd, md->tmpname,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		mailbox_fail(res, mailbox_errno_dsn(errno, "4.2.0"),
			     "cannot create maildir file in %s/tmp: %s", md->path, strerror(errno));
		md->tmpname[0] = 0;
	}
	return fd;
}

/* maildir_write - prefix and content into a new tmp/ file, fsync'ed and
 * closed; -1 with res filled (the caller removes the file) */
static int maildir_write(struct maildir *md, const char *prefix, struct mailbox_src *src,
			 const struct mailbox_opts *opts, struct mailbox_result *res)
{
	struct mailbox_out *o;
	int fd, ret, err;

	if ((fd = maildir_create(md, res)) < 0)
		return -1;
	o = xmalloc(sizeof(*o));
	mailbox_out_init(o, fd, opts->size_limit);
	ret = mailbox_out_put(o, prefix, strlen(prefix));
	if (ret == 0)
		ret = mailbox_copy(o, src, 0);
	if (ret == 0)
		ret = mailbox_out_flush(o) < 0 || fsync(fd) < 0 ? -1 : 0;
	err = errno;
	free(o);
	/* close is checked: some file systems report write errors only here */
	if (close(fd) < 0 && ret == 0) {
		ret = -1;
		err = errno;
	}
	if (ret == -2)
		mailbox_fail(res, "4.3.0", "cannot read message content: %s", strerror(err));
	else if (ret < 0)
		mailbox_fail(res, mailbox_errno_dsn(err, "4.3.0"), "cannot write maildir file %s/tmp/%s: %s",
			     md->path, md->tmpname, strerror(err));
	return ret < 0 ? -1 : 0;
}

/* maildir_commit - tmp/NAME linked into new/ and new/ fsync'ed */
static int maildir_commit(struct maildir *md, struct mailbox_result *res)
{
	int ret = -1, err;

	memcpy(md->newname, md->tmpname, sizeof(md->newname));
	for (int tries = 0; tries < MAILDIR_NAME_TRIES; tries++) {
		if ((ret = linkat(md->tmpfd, md->tmpname, md->newfd, md->newname, 0)) == 0
		    || errno != EEXIST || maildir_unique(md->newname, sizeof(md->newname)) < 0)
			break;
	}
	if (ret < 0) {
		err = errno;
		md->newname[0] = 0;
		return mailbox_fail(res, mailbox_errno_dsn(err, "4.3.0"),
				    "cannot link %s/tmp/%s into new/: %s", md->path, md->tmpname,
				    strerror(err));
	}
	if (fsync(md->newfd) < 0)
		return mailbox_fail(res, mailbox_errno_dsn(errno, "4.3.0"), "cannot fsync %s/new: %s",
				    md->path, strerror(errno));
	return 0;
}

/* maildir_finish - removes the tmp/ name, and on failure the new/ one too
 * (a failure was reported, so the message will be delivered again) */
static void maildir_finish(struct maildir *md, int failed)
{
	if (md->tmpname[0])
		(void)unlinkat(md->tmpfd, md->tmpname, 0);
	if (failed && md->newname[0])
		(void)unlinkat(md->newfd, md->newname, 0);
	if (md->newfd >= 0)
		(void)close(md->newfd);
	if (md->tmpfd >= 0)
		(void)close(md->tmpfd);
	if (md->dfd >= 0)
		(void)close(md->dfd);
	free(md->path);
}

int maildir_deliver_opts(const char *maildir, const char *prefix, struct mailbox_src *src,
			 struct mailbox_result *res, const struct mailbox_opts *opts)
{
	struct maildir md = { NULL, -1, -1, -1, "", "" };
	int failed;

	failed = maildir_open(&md, maildir, res) < 0
	    || maildir_write(&md, prefix, src, opts, res) < 0
	    || maildir_commit(&md, res) < 0;
	if (!failed)
		mailbox_ok(res);
	maildir_finish(&md, failed);
	return res->status;
}

int maildir_deliver(const char *maildir, const char *prefix, struct mailbox_src *src,
		    struct mailbox_result *res)
{
	static const struct mailbox_opts opts = MAILBOX_OPTS_DEFAULT;

	return maildir_deliver_opts(maildir, prefix, src, res, &opts);
}
