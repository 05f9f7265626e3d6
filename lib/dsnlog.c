/* dsnlog - per-message recipient status logs; see dsnlog.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dsnlog.h"
#include "mem.h"
#include "vstr.h"

#define DSNLOG_FIELDS	8
#define DSNLOG_MAX	(1024 * 1024 * 16)

/* put_field - the field with tabs and control characters made spaces */
static void put_field(vstr *v, const char *s, int last)
{
	for (; s && *s; s++)
		vstr_catc(v, (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s);
	vstr_catc(v, last ? '\n' : '\t');
}

/* give_to_dir_owner - local(8) runs as root: the log must stay readable
 * by bounce and qmgr, which run as the owner of the log directory */
static void give_to_dir_owner(int fd, const char *logdir)
{
	struct stat dst, fst;

	if (stat(logdir, &dst) == 0 && fstat(fd, &fst) == 0
	    && (fst.st_uid != dst.st_uid || fst.st_gid != dst.st_gid)
	    && fchown(fd, dst.st_uid, dst.st_gid) < 0)
		return;		/* the append still works; bounce will report it */
}

static char *log_path(const char *logdir, const char *queue_id)
{
	return xasprintf("%s/%s", logdir, queue_id);
}

int dsnlog_append(const char *logdir, const char *queue_id, const struct dsn_entry *e)
{
	const char *f[DSNLOG_FIELDS] = {e->recipient, e->orig, e->dsn, e->action,
					e->notify, e->remote_mta, e->diagnostic, e->reason};
	vstr line = VSTR_INIT;
	char *path = log_path(logdir, queue_id);
	int fd, ret = -1, saved;

	for (int i = 0; i < DSNLOG_FIELDS; i++)
		put_field(&line, f[i], i == DSNLOG_FIELDS - 1);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0 && geteuid() == 0)
		give_to_dir_owner(fd, logdir);
	if (fd >= 0 && write(fd, vstr_str(&line), vstr_len(&line)) == (ssize_t)vstr_len(&line)
	    && fsync(fd) == 0)
		ret = 0;
	saved = errno;
	if (fd >= 0)
		close(fd);
	vstr_release(&line);
	free(path);
	errno = saved;
	return ret;
}

static void parse_line(char *line, struct dsn_entry *e)
{
	char *f[DSNLOG_FIELDS];
	int i;

	for (i = 0; i < DSNLOG_FIELDS; i++) {
		f[i] = line;
		if (line && (line = strchr(line, '\t')) != NULL)
			*line++ = 0;
		if (f[i] == NULL)
			f[i] = "";
	}
	e->recipient = xstrdup(f[0]);
	e->orig = xstrdup(f[1]);
	e->dsn = xstrdup(f[2]);
	e->action = xstrdup(f[3]);
	e->notify = xstrdup(f[4]);
	e->remote_mta = xstrdup(f[5]);
	e->diagnostic = xstrdup(f[6]);
	e->reason = xstrdup(f[7]);
}

int dsnlog_read(const char *logdir, const char *queue_id, struct dsn_entry **out)
{
	char *path = log_path(logdir, queue_id), *line = NULL;
	FILE *fp = fopen(path, "re");
	size_t cap = 0, total = 0;
	ssize_t n;
	int count = 0;

	free(path);
	*out = NULL;
	if (fp == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((n = getline(&line, &cap, fp)) > 0 && total < DSNLOG_MAX) {
		total += (size_t)n;
		if (line[n - 1] != '\n')
			break;		/* a torn last line: the writer died mid-append */
		line[n - 1] = 0;
		*out = xreallocarray(*out, (size_t)count + 1, sizeof(**out));
		parse_line(line, &(*out)[count++]);
	}
	free(line);
	fclose(fp);
	return count;
}

void dsnlog_free(struct dsn_entry *v, int n)
{
	for (int i = 0; i < n; i++) {
		free(v[i].recipient);
		free(v[i].orig);
		free(v[i].dsn);
		free(v[i].action);
		free(v[i].notify);
		free(v[i].remote_mta);
		free(v[i].diagnostic);
		free(v[i].reason);
	}
	free(v);
}

char *dsnlog_last_reason(const char *logdir, const char *queue_id, const char *recipient)
{
	struct dsn_entry *v;
	char *reason = NULL;
	int n = dsnlog_read(logdir, queue_id, &v);

	for (int i = n - 1; i >= 0 && reason == NULL; i--)
		if (strcmp(v[i].recipient, recipient) == 0)
			reason = xstrdup(v[i].reason);
	if (n > 0)
		dsnlog_free(v, n);
	return reason;
}

void dsnlog_remove(const char *logdir, const char *queue_id)
{
	char *path = log_path(logdir, queue_id);

	unlink(path);
	free(path);
}
