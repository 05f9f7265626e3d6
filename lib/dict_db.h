/* dict_db - Berkeley DB lookup tables: "hash:/path" and "btree:/path".
 *
 * Reading (through dict_open, see dict.h): "hash:/etc/aliases" opens
 * /etc/aliases.db read-only, as Postfix does. Keys are stored folded to
 * lower case (unless built with DICT_FLAG_NOFOLD) and without a trailing
 * NUL; a lookup folds its key unless the table was opened with
 * DICT_FLAG_NOFOLD, and also tries the key with a trailing NUL, so tables
 * built by other tools (postmap -N, makemap) read too. A missing file is
 * an open error naming it; a database error during a lookup is DICT_RETRY.
 * Values handed out stay valid until the table is closed (dict.h), so a
 * table keeps a copy of every value it returned.
 *
 * Writing (for `postern map` and `postern alias`): a table is built into
 * PATH.db.tmp and renamed over PATH.db only at commit, after the data and
 * the directory entry are on disk, so a reader never sees half a table and
 * a failed build leaves the old one in place. PATH.db.tmp is also the
 * builders' lock (flock), so two builds of one table run one after the
 * other. The new file takes the old PATH.db's permission bits (and, when
 * allowed, its owner and group), so a `chmod 600` on a table survives a
 * rebuild.
 */
#ifndef POSTERN_DICT_DB_H
#define POSTERN_DICT_DB_H

#include <stddef.h>

/* Build flag: store keys and values with their terminating NUL (postmap -N).
 * DICT_FLAG_NOFOLD (dict.h) keeps keys as given. */
#define DICT_DB_FLAG_NUL	(1 << 8)

struct dict_db_writer;

/* dict_db_create - starts building type ("hash" or "btree") at path
 * (without ".db"): waits for any other builder of the same table, then
 * opens an empty PATH.db.tmp. NULL with a message in *err (malloc'ed). */
struct dict_db_writer *dict_db_create(const char *type, const char *path, int flags,
				      char **err);

/* dict_db_put - adds key -> value: 0 when added, 1 when the (folded) key
 * is already there (the first value is kept, as postmap does), -1 with
 * *err on a write error (the caller then aborts). */
int dict_db_put(struct dict_db_writer *w, const char *key, const char *value, char **err);

/* dict_db_commit - closes and fsyncs the new table, renames it over
 * PATH.db and fsyncs the directory. 0, or -1 with *err, in which case the
 * old PATH.db is untouched. Frees w either way. */
int dict_db_commit(struct dict_db_writer *w, char **err);

/* dict_db_abort - throws the new table away; PATH.db is untouched. */
void dict_db_abort(struct dict_db_writer *w);

/* dict_db_build - the whole build from arrays: keys[i] -> values[i] for
 * i < n (a duplicate key keeps the first value). 0, or -1 with *err. */
int dict_db_build(const char *type, const char *path, const char *const *keys,
		  const char *const *values, size_t n, int flags, char **err);

#endif
