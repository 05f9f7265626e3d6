/* qfile - queue IDs and the create/commit protocol; see qfile.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qfile.h"

/* Digits and consonants without 'z': 10 + 21 + 20 = 51 characters. */
static const char alphabet[] = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxy";
#define BASE	51

/* put_base - value in base 51, at least width digits, most significant first */
static size_t put_base(char *out, unsigned long long value, size_t width)
{
	char tmp[32];
	size_t n = 0;

	do {
		tmp[n++] = alphabet[value % BASE];
		value /= BASE;
	} while (value && n < sizeof(tmp));
	while (n < width)
		tmp[n++] = '0';
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

char *qid_format(char *buf, size_t size, const struct timeval *tv, ino_t ino)
{
	char tmp[64];
	size_t n = 0;

	n += put_base(tmp + n, (unsigned long long)tv->tv_sec, 6);
	n += put_base(tmp + n, (unsigned long long)tv->tv_usec, 4);
	tmp[n++] = 'z';
	n += put_base(tmp + n, (unsigned long long)ino, 1);
	tmp[n] = 0;
	snprintf(buf, size, "%s", tmp);
	return buf;
}

int qid_valid(const char *name)
{
	const char *z = strchr(name, 'z');
	size_t len = strlen(name);

	if (z == NULL || z - name < 10 || z[1] == 0 || len >= QID_MAX)
		return 0;
	for (const char *p = name; *p; p++)
		if (p != z && strchr(alphabet, *p) == NULL)
			return 0;
	return strchr(z + 1, 'z') == NULL;
}

char qid_hash_char(const char *id)
{
	const char *z = strchr(id, 'z');

	/* The last microseconds digit: the fastest-changing part of the time. */
	return z && z > id ? z[-1] : '0';
}

int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret, saved;

	if (fd < 0)
		return -1;
	ret = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return ret;
}

int queue_file_create(const char *dir, char *id, struct timeval *tv)
{
	char tmp[4096], final[4096];
	struct stat st;
	int fd;

	for (int attempt = 0; attempt < 10; attempt++) {
		gettimeofday(tv, NULL);
		snprintf(tmp, sizeof(tmp), "%s/tmp.%ld.%ld.%d", dir, (long)getpid(),
			 (long)tv->tv_usec, attempt);
		fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, QFILE_MODE_WRITING);
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0)
			return -1;
		if (fstat(fd, &st) < 0)
			break;
		qid_format(id, QID_MAX, tv, st.st_ino);
		snprintf(final, sizeof(final), "%s/%s", dir, id);
		if (rename(tmp, final) < 0)
			break;
		return fd;
	}
	if (fd >= 0) {
		int saved = errno;

		unlink(tmp);
		close(fd);
		errno = saved;
	}
	return -1;
}

int queue_file_commit(int fd, const char *dir, mode_t mode)
{
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0)
		return -1;
	return fsync_dir(dir);
}

int queue_file_complete(const struct stat *st, mode_t mode)
{
	return S_ISREG(st->st_mode) && (st->st_mode & 07777) == mode;
}
