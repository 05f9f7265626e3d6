/* qfile - queue file names and the commit protocol (docs/QUEUE.md).
 *
 * A queue ID is made from the arrival time and the inode of the file, so it
 * never repeats: seconds (base 51, at least 6 characters), microseconds
 * (base 51, 4 characters), 'z', inode (base 51). The alphabet is digits and
 * consonants without 'z', so IDs are alphanumeric, case-sensitive, and never
 * spell words; 'z' separates the inode.
 *
 * queue_file_create makes DIR/ID with mode 0600 ("being written"):
 * created under a temporary name with O_EXCL, then renamed to its ID.
 * queue_file_commit makes it final: fchmod to the final mode (0700 for queue
 * files, 0444 for maildrop files: the mode is the "complete" mark readers
 * check), fsync the file, fsync the directory. Only after that may anyone
 * be told the mail is accepted.
 */
#ifndef POSTERN_QFILE_H
#define POSTERN_QFILE_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>

#define QID_MAX		32	/* buffer size for an ID */
#define QFILE_MODE_WRITING	0600
#define QFILE_MODE_QUEUED	0700
#define QFILE_MODE_MAILDROP	0444

/* qid_format - the ID for an arrival time and inode; returns buf. */
char *qid_format(char *buf, size_t size, const struct timeval *tv, ino_t ino);

/* qid_valid - 1 when name looks like an ID (what qid_format makes). */
int qid_valid(const char *name);

/* qid_hash_dir - the subdirectory name (one character) for hashed queues. */
char qid_hash_char(const char *id);

/* queue_file_create - creates dir/ID (mode 0600, O_RDWR) and returns its
 * fd with the ID in id (QID_MAX bytes), arrival time in *tv; -1 with errno. */
int queue_file_create(const char *dir, char *id, struct timeval *tv);

/* queue_file_commit - fchmod(mode), fsync file, fsync dir. 0 or -1 (errno). */
int queue_file_commit(int fd, const char *dir, mode_t mode);

/* fsync_dir - opens and fsyncs a directory. 0 or -1 (errno). */
int fsync_dir(const char *dir);

/* queue_file_complete - 1 when st is a regular file whose mode is the
 * given final mode (a committed file), 0 otherwise. */
int queue_file_complete(const struct stat *st, mode_t mode);

#endif
