/* qmgr_scan - finding mail to deliver and bringing it into active/.
 *
 * incoming/ holds new mail (cleanup wakes us with 'I'); deferred/X/ holds
 * mail whose file mtime is its next attempt time, scanned every
 * queue_run_delay or on request ('D', with 'A' ignoring the times). A file
 * is taken only when it is complete (mode 0700), moved to active/ by
 * rename, and its envelope read; one that does not parse goes to corrupt/.
 * At start, whatever is in active/ was left by a qmgr that died: it goes
 * back to incoming/ (docs/QUEUE.md row 3).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "delivery_log.h"
#include "mem.h"
#include "msg.h"
#include "qmgr.h"

#define STALE_SECONDS	(24 * 3600)

int qmgr_active_count;
static int scanning_all;	/* qmgr_scan_deferred(1) is running */

void qmgr_recover_active(void)
{
	DIR *dir = opendir("active");
	struct dirent *de;
	char from[512], to[512];
	int n = 0;

	if (dir == NULL)
		msg_fatal("open active: %m");
	while ((de = readdir(dir)) != NULL) {
		if (!qid_valid(de->d_name))
			continue;
		snprintf(from, sizeof(from), "active/%s", de->d_name);
		snprintf(to, sizeof(to), "incoming/%s", de->d_name);
		if (rename(from, to) == 0)
			n++;
		else
			msg_warn("rename %s to %s: %m", from, to);
	}
	closedir(dir);
	if (n)
		msg_info("recovered %d message%s left in the active queue", n, n == 1 ? "" : "s");
}

static void to_corrupt(const char *id, const char *why)
{
	char from[512], to[512];

	snprintf(from, sizeof(from), "active/%s", id);
	snprintf(to, sizeof(to), "corrupt/%s", id);
	msg_warn("%s: queue file is corrupt (%s): moved to corrupt/", id, why);
	if (rename(from, to) < 0)
		msg_warn("rename %s to %s: %m", from, to);
}

/* ends_with_end_record - the last two bytes are an empty E record */
static int ends_with_end_record(int fd)
{
	struct stat st;
	char tail[2];

	return fstat(fd, &st) == 0 && st.st_size >= 2
	    && pread(fd, tail, 2, st.st_size - 2) == 2 && tail[0] == REC_END && tail[1] == 0;
}

/* activate - moves dir/id to active/ and starts its deliveries */
static void activate(const char *dir, const char *id)
{
	struct qmgr_msg *m;
	const char *err = "cannot open";
	char from[512], path[512];
	int fd;

	snprintf(from, sizeof(from), "%s/%s", dir, id);
	snprintf(path, sizeof(path), "active/%s", id);
	if (rename(from, path) < 0) {
		if (errno != ENOENT)
			msg_warn("rename %s to %s: %m", from, path);
		return;
	}
	m = xcalloc(1, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", id);
	m->active_time = delivery_now();
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || !ends_with_end_record(fd) || qread_envelope(fd, &m->env, 0, &err) < 0) {
		if (fd >= 0 && !ends_with_end_record(fd))
			err = "no end record";
		to_corrupt(id, err);
		if (fd >= 0)
			close(fd);
		free(m);
		return;
	}
	close(fd);
	qmgr_active_count++;
	m->flushed = scanning_all;
	msg_info("%s: from=<%s>, size=%lld, nrcpt=%zu (queue active)", id, m->env.sender,
		 m->env.content_size, m->env.nrcpt);
	qmgr_deliver_message(m);
}

/* room - the active queue can take another message */
static int room(void)
{
	return qmgr_active_count < conf_int("qmgr_message_active_limit");
}

/* take - a directory entry that is a committed queue file, due at now */
static int take(const char *dir, const char *name, time_t due_by)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!qid_valid(name)) {
		/* cleanup's temporary name of a file it never finished */
		if (strncmp(name, "tmp.", 4) == 0 && lstat(path, &st) == 0 && S_ISREG(st.st_mode)
		    && time(NULL) - st.st_mtime > STALE_SECONDS && unlink(path) == 0)
			msg_info("removed unfinished queue file %s", name);
		return 0;
	}
	if (lstat(path, &st) < 0)
		return 0;
	if (!queue_file_complete(&st, QFILE_MODE_QUEUED)) {
		/* cleanup died while writing it: nobody was told it was queued */
		if (S_ISREG(st.st_mode) && time(NULL) - st.st_mtime > STALE_SECONDS && unlink(path) == 0)
			msg_info("%s: removed unfinished queue file", name);
		return 0;
	}
	return due_by == 0 || st.st_mtime <= due_by;
}

static void scan_dir(const char *dir, time_t due_by)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL) {
		msg_warn("open %s: %m", dir);
		return;
	}
	while (room() && (de = readdir(d)) != NULL)
		if (take(dir, de->d_name, due_by))
			activate(dir, de->d_name);
	closedir(d);
}

void qmgr_scan_incoming(void)
{
	scan_dir("incoming", 0);
	qmgr_deliver_kick();
}

void qmgr_scan_deferred(int all)
{
	DIR *d = opendir("deferred");
	struct dirent *de;
	char sub[512];

	if (d == NULL) {
		msg_warn("open deferred: %m");
		return;
	}
	while (room() && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strlen(de->d_name) != 1)
			continue;
		snprintf(sub, sizeof(sub), "deferred/%s", de->d_name);
		scanning_all = all;
		scan_dir(sub, all ? 0 : time(NULL));
		scanning_all = 0;
	}
	closedir(d);
	qmgr_deliver_kick();
}
