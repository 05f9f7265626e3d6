/* dict_db - Berkeley DB tables hash: and btree: (reading and building).
 *
 * See dict_db.h for the contract. Berkeley DB 5.3 is used without an
 * environment: each handle gets a private one. Its messages go to a
 * buffer (never to stderr) and are added to our own error text. Every file
 * descriptor the library opens is made close-on-exec, because local(8)
 * runs commands while its alias tables are open.
 */
#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dict.h"
#include "dict_db.h"
#include "htable.h"
#include "mem.h"
#include "msg.h"

/* How often a builder re-opens PATH.db.tmp after finding that the file it
 * locked was renamed away by the builder before it. */
#define DICT_DB_LOCK_TRIES	100

/* The last message Berkeley DB reported (programs are single-threaded). */
static char dict_db_errtext[256];

/* dict_db_errcall - keeps the library's message instead of printing it */
static void dict_db_errcall(const DB_ENV *env, const char *prefix, const char *text)
{
	(void)env;
	(void)prefix;
	/* A long library message is cut: it is only a hint after our text. */
	snprintf(dict_db_errtext, sizeof(dict_db_errtext), "%s", text);
}

/* dict_db_why - db_strerror(ret), plus the library's own message if any */
static char *dict_db_why(int ret)
{
	char *s;

	if (dict_db_errtext[0])
		s = xasprintf("%s (%s)", db_strerror(ret), dict_db_errtext);
	else
		s = xstrdup(db_strerror(ret));
	dict_db_errtext[0] = 0;
	return s;
}

/* dict_db_type - DB_HASH or DB_BTREE for a table type name; DB_UNKNOWN */
static DBTYPE dict_db_type(const char *type)
{
	if (strcmp(type, "hash") == 0)
		return DB_HASH;
	if (strcmp(type, "btree") == 0)
		return DB_BTREE;
	return DB_UNKNOWN;
}

/* dict_db_handle - a new DB handle that reports into dict_db_errtext */
static DB *dict_db_handle(int *ret)
{
	DB *db = NULL;

	dict_db_errtext[0] = 0;
	if ((*ret = db_create(&db, NULL, 0)) != 0)
		return NULL;
	db->set_errcall(db, dict_db_errcall);
	return db;
}

/* dict_db_cloexec - marks the library's descriptor for db close-on-exec */
static void dict_db_cloexec(DB *db)
{
	int fd;

	if (db->fd(db, &fd) == 0 && fd >= 0)
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* dict_db_dbt - a DBT for s, with its NUL when nul is set */
static DBT dict_db_dbt(const char *s, int nul)
{
	DBT t;

	memset(&t, 0, sizeof(t));
	t.data = (void *)s;
	t.size = (u_int32_t)(strlen(s) + (nul ? 1 : 0));
	return t;
}

/* ---- reading ---------------------------------------------------------- */

struct dict_db {
	struct dict head;	/* first */
	DB *db;
	char *file;		/* NAME.db */
	struct htable values;	/* folded key -> value handed out */
};

/* dict_db_get - one DB lookup of key (len bytes): 0, DB_NOTFOUND or error */
static int dict_db_get(struct dict_db *t, const char *key, size_t len, DBT *val)
{
	DBT k;

	memset(&k, 0, sizeof(k));
	memset(val, 0, sizeof(*val));
	k.data = (void *)key;
	k.size = (u_int32_t)len;
	return t->db->get(t->db, NULL, &k, val, 0);
}

/* dict_db_keep - a NUL-terminated copy of val (one stored NUL dropped),
 * remembered under key so that it lives until close */
static const char *dict_db_keep(struct dict_db *t, const char *key, const DBT *val)
{
	size_t len = val->size;
	char *v;

	if (len > 0 && ((const char *)val->data)[len - 1] == 0)
		len--;
	v = xstrndup(val->data, len);
	if (htable_enter(&t->values, key, v) < 0)
		msg_panic("dict_db: %s: value of \"%s\" kept twice", t->file, key);
	return v;
}

static enum dict_status dict_db_lookup(struct dict *d, const char *key, const char **value)
{
	struct dict_db *t = (struct dict_db *)d;
	char *k = dict_fold_key(d, key);
	const char *kept = htable_find(&t->values, k);
	size_t len = strlen(k);
	DBT val;
	int ret;

	if (kept != NULL) {
		free(k);
		*value = kept;
		return DICT_FOUND;
	}
	ret = dict_db_get(t, k, len, &val);
	if (ret == DB_NOTFOUND)
		ret = dict_db_get(t, k, len + 1, &val);
	if (ret == 0)
		*value = dict_db_keep(t, k, &val);
	else if (ret != DB_NOTFOUND) {
		char *why = dict_db_why(ret);

		msg_warn("%s:%s: lookup of \"%s\" in %s: %s", d->type, d->name, k, t->file, why);
		free(why);
	}
	free(k);
	return ret == 0 ? DICT_FOUND : ret == DB_NOTFOUND ? DICT_NOTFOUND : DICT_RETRY;
}

static void dict_db_close(struct dict *d)
{
	struct dict_db *t = (struct dict_db *)d;

	(void)t->db->close(t->db, 0);
	htable_free(&t->values, free);
	free(t->file);
	dict_fini(d);
	free(t);
}

static const struct dict_ops dict_db_ops = { dict_db_lookup, dict_db_close };

/* dict_db_open - opens NAME.db of the given type read-only */
static struct dict *dict_db_open(const char *type, const char *name, int flags, char **err)
{
	struct dict_db *t;
	char *file, *why;
	DB *db;
	int ret;

	if (*name == 0) {
		*err = xasprintf("bad table \"%s:\": need %s:/path", type, type);
		return NULL;
	}
	file = xasprintf("%s.db", name);
	if ((db = dict_db_handle(&ret)) == NULL
	    || (ret = db->open(db, NULL, file, NULL, dict_db_type(type), DB_RDONLY, 0)) != 0) {
		why = dict_db_why(ret);
		*err = xasprintf("open database %s: %s", file, why);
		free(why);
		if (db != NULL)
			(void)db->close(db, 0);
		free(file);
		return NULL;
	}
	dict_db_cloexec(db);
	t = xcalloc(1, sizeof(*t));
	dict_init(&t->head, &dict_db_ops, type, name, flags);
	t->db = db;
	t->file = file;
	htable_init(&t->values);
	return &t->head;
}

struct dict *dict_hash_open(const char *name, int flags, char **err)
{
	return dict_db_open("hash", name, flags, err);
}

struct dict *dict_btree_open(const char *name, int flags, char **err)
{
	return dict_db_open("btree", name, flags, err);
}

/* ---- building --------------------------------------------------------- */

struct dict_db_writer {
	DB *db;
	int fd;			/* PATH.db.tmp, flock'ed: the builders' lock */
	int flags;
	char *path;		/* PATH.db */
	char *tmp;		/* PATH.db.tmp */
};

/* dict_db_writer_free - releases what w holds (files are left as they are) */
static void dict_db_writer_free(struct dict_db_writer *w)
{
	if (w->fd >= 0)
		(void)close(w->fd);	/* releases the lock */
	free(w->path);
	free(w->tmp);
	free(w);
}

/* dict_db_lock_tmp - opens and locks PATH.db.tmp, making sure the file
 * locked is still the one under that name (a builder before us renames it
 * away when it commits). 0, or -1 with errno. */
static int dict_db_lock_tmp(struct dict_db_writer *w)
{
	struct stat fst, lst;

	for (int tries = 0; tries < DICT_DB_LOCK_TRIES; tries++) {
		w->fd = open(w->tmp, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (w->fd < 0)
			return -1;
		if (flock(w->fd, LOCK_EX) < 0 || fstat(w->fd, &fst) < 0)
			return -1;
		if (lstat(w->tmp, &lst) == 0 && lst.st_dev == fst.st_dev
		    && lst.st_ino == fst.st_ino)
			return ftruncate(w->fd, 0);
		(void)close(w->fd);
		w->fd = -1;
	}
	errno = EAGAIN;
	return -1;
}

/* dict_db_keep_mode - gives the new file the old table's mode, owner and
 * group. Best effort: a non-root builder cannot give a file away, and the
 * permission bits alone still keep a private table private. */
static void dict_db_keep_mode(struct dict_db_writer *w)
{
	struct stat st;

	if (stat(w->path, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	(void)fchown(w->fd, st.st_uid, st.st_gid);
	(void)fchmod(w->fd, st.st_mode & 07777);
}

struct dict_db_writer *dict_db_create(const char *type, const char *path, int flags,
				      char **err)
{
	struct dict_db_writer *w;
	DBTYPE dbtype = dict_db_type(type);
	char *why;
	int ret;

	if (dbtype == DB_UNKNOWN) {
		*err = xasprintf("unsupported database type: %s", type);
		return NULL;
	}
	if (*path == 0) {
		*err = xasprintf("bad table \"%s:\": need %s:/path", type, type);
		return NULL;
	}
	w = xcalloc(1, sizeof(*w));
	w->fd = -1;
	w->flags = flags;
	w->path = xasprintf("%s.db", path);
	w->tmp = xasprintf("%s.db.tmp", path);
	if (dict_db_lock_tmp(w) < 0) {
		*err = xasprintf("create %s: %s", w->tmp, strerror(errno));
		dict_db_writer_free(w);
		return NULL;
	}
	dict_db_keep_mode(w);
	/* PATH.db.tmp is empty now, which Berkeley DB takes as a new database. */
	if ((w->db = dict_db_handle(&ret)) == NULL
	    || (ret = w->db->open(w->db, NULL, w->tmp, NULL, dbtype, DB_CREATE, 0644)) != 0) {
		why = dict_db_why(ret);
		*err = xasprintf("create database %s: %s", w->tmp, why);
		free(why);
		dict_db_abort(w);
		return NULL;
	}
	dict_db_cloexec(w->db);
	return w;
}

int dict_db_put(struct dict_db_writer *w, const char *key, const char *value, char **err)
{
	int nul = (w->flags & DICT_DB_FLAG_NUL) != 0;
	char *k = xstrdup(key), *why;
	DBT kt, vt;
	int ret;

	if ((w->flags & DICT_FLAG_NOFOLD) == 0)
		for (char *p = k; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
	kt = dict_db_dbt(k, nul);
	vt = dict_db_dbt(value, nul);
	ret = w->db->put(w->db, NULL, &kt, &vt, DB_NOOVERWRITE);
	free(k);
	if (ret == 0 || ret == DB_KEYEXIST)
		return ret == 0 ? 0 : 1;
	why = dict_db_why(ret);
	*err = xasprintf("write %s: %s", w->tmp, why);
	free(why);
	return -1;
}

/* dict_db_fsync_dir - fsyncs the directory that holds path */
static int dict_db_fsync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash == NULL ? xstrdup(".")
	    : xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = -1, saved;

	if (fd >= 0) {
		ret = fsync(fd);
		saved = errno;
		(void)close(fd);
		errno = saved;
	}
	free(dir);
	return ret;
}

int dict_db_commit(struct dict_db_writer *w, char **err)
{
	DB *db = w->db;
	char *why;
	int ret;

	w->db = NULL;
	if ((ret = db->close(db, 0)) != 0) {
		why = dict_db_why(ret);
		*err = xasprintf("write %s: %s", w->tmp, why);
		free(why);
		dict_db_abort(w);
		return -1;
	}
	if (fsync(w->fd) < 0 || rename(w->tmp, w->path) < 0) {
		*err = xasprintf("commit %s: %s", w->path, strerror(errno));
		dict_db_abort(w);
		return -1;
	}
	if (dict_db_fsync_dir(w->path) < 0) {
		/* The new table is in place but perhaps not yet durable: say so;
		 * the old one is gone, so there is nothing to undo. */
		*err = xasprintf("fsync directory of %s: %s", w->path, strerror(errno));
		dict_db_writer_free(w);
		return -1;
	}
	dict_db_writer_free(w);
	return 0;
}

void dict_db_abort(struct dict_db_writer *w)
{
	if (w->db != NULL)
		(void)w->db->close(w->db, DB_NOSYNC);
	/* Still holding the lock: the file under the name is ours. */
	if (w->fd >= 0)
		(void)unlink(w->tmp);
	dict_db_writer_free(w);
}

int dict_db_build(const char *type, const char *path, const char *const *keys,
		  const char *const *values, size_t n, int flags, char **err)
{
	struct dict_db_writer *w = dict_db_create(type, path, flags, err);

	if (w == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (dict_db_put(w, keys[i], values[i], err) < 0) {
			dict_db_abort(w);
			return -1;
		}
	}
	return dict_db_commit(w, err);
}
