/* testutil - helpers shared by the cmocka tests: a scratch directory for
 * a run (removed with everything in it) and lookup-table assertions.
 * Include after <cmocka.h> and the lib headers. */
#ifndef POSTERN_TESTUTIL_H
#define POSTERN_TESTUTIL_H

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "dict.h"
#include "mem.h"

/* tu_scratch_dir - a new /tmp/NAME.XXXXXX directory (malloc'ed path) */
static inline char *tu_scratch_dir(const char *name)
{
	char *tmpl = xasprintf("/tmp/%s.XXXXXX", name);

	assert_non_null(mkdtemp(tmpl));
	return tmpl;
}

static inline int tu_remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* tu_remove_tree - path and everything below it; 0 or -1 */
static inline int tu_remove_tree(const char *path)
{
	return nftw(path, tu_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void tu_assert_found(struct dict *d, const char *key, const char *want)
{
	const char *v = NULL;

	if (dict_lookup(d, key, &v) != DICT_FOUND)
		fail_msg("%s:%s: \"%s\" not found", d->type, d->name, key);
	assert_string_equal(v, want);
}

static inline void tu_assert_notfound(struct dict *d, const char *key)
{
	const char *v = NULL;

	assert_int_equal(dict_lookup(d, key, &v), DICT_NOTFOUND);
}

#endif
