/* dict - lookup tables named "type:name", as in Postfix.
 *
 * A table maps a key to a value. Types register themselves in a table of
 * types, so hash:, btree:, lmdb:, pcre: and the rest slot in beside the
 * ones built now:
 *   inline:{ key=value, { key = value with spaces }, ... }
 *   static:value             (every key maps to value; static:{ a b })
 *   texthash:/path           (Postfix source-map format read into memory:
 *                             "key value" lines, '#' comments, lines that
 *                             start with white space continue the previous)
 *   hash:/path, btree:/path  (Berkeley DB file /path.db built by
 *                             `postern map` or `postern alias`; dict_db.h)
 *   cidr:/path               (Postfix's cidr_table(5): "network result"
 *                             lines, first match wins; dict_cidr.c)
 * Keys are folded to lower case unless the table was opened with
 * DICT_FLAG_NOFOLD. A lookup distinguishes "not found" from "could not
 * look up right now" (DICT_RETRY), which callers turn into a 4xx/defer
 * rather than a permanent answer.
 */
#ifndef POSTERN_DICT_H
#define POSTERN_DICT_H

#include "diag.h"

enum dict_status { DICT_FOUND = 0, DICT_NOTFOUND = 1, DICT_RETRY = -1 };

#define DICT_FLAG_NOFOLD	(1 << 0)

struct dict;

struct dict_ops {
	enum dict_status (*lookup)(struct dict *d, const char *key, const char **value);
	void (*close)(struct dict *d);
};

/* The common head of every table; a type embeds it first. */
struct dict {
	const struct dict_ops *ops;
	char *type;		/* "inline" */
	char *name;		/* what followed the colon */
	int flags;
	struct diaglist diags;	/* problems found while opening (bad lines) */
};

struct dict_type {
	const char *name;
	/* open returns a table or NULL with a message in *err (malloc'ed) */
	struct dict *(*open)(const char *name, int flags, char **err);
};

/* dict_register - adds a type (built-in ones are registered on first use). */
void dict_register(const struct dict_type *type);
const struct dict_type *dict_type_find(const char *name);

/* dict_open - opens "type:name". NULL with *err for an unknown type, a
 * missing colon, or a table that cannot be opened. Problems that do not
 * stop the table (a bad line in a texthash file) are in d->diags. */
struct dict *dict_open(const char *spec, int flags, char **err);

/* dict_lookup - DICT_FOUND with *value (valid until the table is closed),
 * DICT_NOTFOUND, or DICT_RETRY. */
enum dict_status dict_lookup(struct dict *d, const char *key, const char **value);
void dict_close(struct dict *d);

/* dict_has_key - opens spec, looks key up, closes it: 1 found, 0 not, -1
 * when the table cannot be opened or read (logged as "what: error"). For
 * a one-off question; a daemon asking often keeps tables open (maps.h). */
int dict_has_key(const char *spec, const char *key, const char *what);

/* Helpers for table implementations. */
void dict_init(struct dict *d, const struct dict_ops *ops, const char *type,
	       const char *name, int flags);
void dict_fini(struct dict *d);		/* frees the common head's fields */
char *dict_fold_key(const struct dict *d, const char *key);	/* malloc'ed */

/* dict_unbrace - for "{ text }", text without the braces and the white
 * space just inside them; other text is copied unchanged. Both malloc'ed.
 * NULL when a leading '{' has no matching '}' at the very end. */
char *dict_unbrace(const char *s, size_t len);

/* In-memory tables (inline:, texthash:, and any type that loads a whole
 * table at open): dict_mem_new makes an empty one; dict_mem_add folds the
 * key as d->flags say and adds a copy of key and value, returning 0, or
 * -1 when the key is already there (the first value is kept). */
struct dict *dict_mem_new(const char *type, const char *name, int flags);
int dict_mem_add(struct dict *d, const char *key, const char *value);
size_t dict_mem_count(const struct dict *d);

/* The built-in types' open functions (registered by dict.c). */
struct dict *dict_inline_open(const char *name, int flags, char **err);
struct dict *dict_static_open(const char *name, int flags, char **err);
struct dict *dict_texthash_open(const char *name, int flags, char **err);
struct dict *dict_hash_open(const char *name, int flags, char **err);
struct dict *dict_btree_open(const char *name, int flags, char **err);
struct dict *dict_cidr_open(const char *name, int flags, char **err);

/* Postfix source files (the texthash: and postmap format, and aliases(5)),
 * read by one reader (dict_texthash.c):
 * dict_source_lines calls fn for each logical line (continuation lines
 * joined, comments and blank lines dropped) with the number of its first
 * physical line; dict_source_entries splits each into key and value at
 * the first white space, trimming the value. Problems with a line (it
 * starts with white space, holds a NUL, has no value) go to dl with
 * severity sev, and the line is skipped. Both return 0, or -1 when the
 * file cannot be opened and -2 when it cannot be read, with errno set and
 * a message naming the file in *err (malloc'ed). */
typedef void dict_source_line_fn(void *ctx, char *line, int lineno);
typedef void dict_source_entry_fn(void *ctx, const char *key, const char *value, int lineno);
int dict_source_lines(const char *path, enum diag_severity sev, dict_source_line_fn *fn,
		      void *ctx, struct diaglist *dl, char **err);
int dict_source_entries(const char *path, enum diag_severity sev, dict_source_entry_fn *fn,
			void *ctx, struct diaglist *dl, char **err);

#endif
