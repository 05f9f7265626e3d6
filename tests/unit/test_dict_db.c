/* test_dict_db - unit tests for lib/dict_db.c (hash: and btree: tables)
 * and for the source-file reader that `postern map` builds them from:
 * building and reading both types, key folding at build and at lookup,
 * keys stored without a NUL (checked in the raw file) and with one (-N),
 * duplicates keeping the first value, values that stay valid until close,
 * a missing or mistyped .db as an open error, atomic replacement (an open
 * reader keeps the old table; an aborted build changes nothing), the
 * permission bits surviving a rebuild, two builders one after the other,
 * and close-on-exec on the library's descriptor.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <db.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dict.h"
#include "dict_db.h"
#include "mem.h"
#include "testutil.h"

static char *topdir;

static char *path_of(const char *name)
{
	return xasprintf("%s/%s", topdir, name);
}

static int setup(void **state)
{
	(void)state;
	topdir = tu_scratch_dir("test_dict_db");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_remove_tree(topdir);
	free(topdir);
	return 0;
}

static void build(const char *type, const char *path, const char *const *keys,
		  const char *const *values, size_t n, int flags)
{
	char *err = NULL;

	if (dict_db_build(type, path, keys, values, n, flags, &err) < 0)
		fail_msg("dict_db_build %s:%s: %s", type, path, err);
}

static struct dict *open_ok(const char *type, const char *path, int flags)
{
	char *spec = xasprintf("%s:%s", type, path), *err = NULL;
	struct dict *d = dict_open(spec, flags, &err);

	if (d == NULL)
		fail_msg("dict_open(%s): %s", spec, err);
	free(spec);
	return d;
}

static void open_err(const char *spec, const char *want)
{
	char *err = NULL;
	struct dict *d = dict_open(spec, 0, &err);

	assert_null(d);
	assert_non_null(err);
	if (strstr(err, want) == NULL)
		fail_msg("dict_open(%s): \"%s\" lacks \"%s\"", spec, err, want);
	free(err);
}

static const char *const keys[] = { "Alice", "bob@Example.COM", "postmaster" };
static const char *const values[] = { "alice@example.org, |/bin/true", "Bob Smith", "root" };

static void test_build_and_read(void **state)
{
	static const char *const types[] = { "hash", "btree" };

	(void)state;
	assert_non_null(dict_type_find("hash"));
	assert_non_null(dict_type_find("btree"));
	for (size_t t = 0; t < 2; t++) {
		char *path = path_of(types[t]);
		struct dict *d;
		const char *v1, *v2;

		build(types[t], path, keys, values, 3, 0);
		d = open_ok(types[t], path, 0);
		assert_string_equal(d->type, types[t]);
		assert_string_equal(d->name, path);
		tu_assert_found(d, "alice", "alice@example.org, |/bin/true");
		tu_assert_found(d, "ALICE", "alice@example.org, |/bin/true");
		tu_assert_found(d, "bob@example.com", "Bob Smith");
		tu_assert_found(d, "PostMaster", "root");
		tu_assert_notfound(d, "carol");
		tu_assert_notfound(d, "");
		/* a value stays valid (and the same) across other lookups */
		assert_int_equal(dict_lookup(d, "alice", &v1), DICT_FOUND);
		tu_assert_found(d, "postmaster", "root");
		assert_int_equal(dict_lookup(d, "ALICE", &v2), DICT_FOUND);
		assert_ptr_equal(v1, v2);
		assert_string_equal(v1, "alice@example.org, |/bin/true");
		dict_close(d);
		free(path);
	}
}

static void test_nofold(void **state)
{
	char *path = path_of("nofold");
	struct dict *d;

	(void)state;
	build("hash", path, keys, values, 3, DICT_FLAG_NOFOLD);
	d = open_ok("hash", path, DICT_FLAG_NOFOLD);
	tu_assert_found(d, "Alice", "alice@example.org, |/bin/true");
	tu_assert_notfound(d, "alice");
	dict_close(d);
	/* opened folding, a key stored with capitals cannot be found */
	d = open_ok("hash", path, 0);
	tu_assert_notfound(d, "Alice");
	tu_assert_found(d, "postmaster", "root");
	dict_close(d);
	free(path);
}

/* raw_sizes - the stored size of key's record and of its value, read with
 * the library directly; -1 when there is no such record */
static void raw_sizes(const char *file, const char *key, size_t keylen, long *vsize)
{
	DB *db;
	DBT k, v;

	assert_int_equal(db_create(&db, NULL, 0), 0);
	assert_int_equal(db->open(db, NULL, file, NULL, DB_HASH, DB_RDONLY, 0), 0);
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)key;
	k.size = (u_int32_t)keylen;
	*vsize = db->get(db, NULL, &k, &v, 0) == 0 ? (long)v.size : -1;
	db->close(db, 0);
}

static void test_stored_form(void **state)
{
	char *path = path_of("raw"), *file = xasprintf("%s.db", path);
	struct dict *d;
	long vsize;

	(void)state;
	build("hash", path, keys, values, 3, 0);
	raw_sizes(file, "postmaster", 10, &vsize);
	assert_int_equal(vsize, 4);			/* "root", no NUL */
	raw_sizes(file, "postmaster", 11, &vsize);
	assert_int_equal(vsize, -1);
	raw_sizes(file, "Alice", 5, &vsize);
	assert_int_equal(vsize, -1);			/* folded at build */
	/* -N: keys and values with their NUL; the reader finds them too */
	build("hash", path, keys, values, 3, DICT_DB_FLAG_NUL);
	raw_sizes(file, "postmaster", 11, &vsize);
	assert_int_equal(vsize, 5);
	d = open_ok("hash", path, 0);
	tu_assert_found(d, "POSTMASTER", "root");
	dict_close(d);
	free(file);
	free(path);
}

static void test_duplicates_keep_first(void **state)
{
	char *path = path_of("dups"), *err = NULL;
	struct dict_db_writer *w = dict_db_create("btree", path, 0, &err);
	struct dict *d;

	(void)state;
	assert_non_null(w);
	assert_int_equal(dict_db_put(w, "key", "first", &err), 0);
	assert_int_equal(dict_db_put(w, "KEY", "second", &err), 1);
	assert_int_equal(dict_db_put(w, "other", "x", &err), 0);
	assert_int_equal(dict_db_commit(w, &err), 0);
	d = open_ok("btree", path, 0);
	tu_assert_found(d, "key", "first");
	dict_close(d);
	free(path);
}

static void test_open_errors(void **state)
{
	char *path = path_of("absent"), *spec = xasprintf("hash:%s", path);
	char *want = xasprintf("%s.db", path), *bt = path_of("isbtree"), *err = NULL;

	(void)state;
	open_err(spec, want);
	open_err(spec, "No such file or directory");
	open_err("hash:", "need hash:/path");
	open_err("btree:", "need btree:/path");
	/* a btree file opened as hash: */
	build("btree", bt, keys, values, 1, 0);
	free(spec);
	spec = xasprintf("hash:%s", bt);
	open_err(spec, "open database");
	/* building a type that is not a database */
	assert_null(dict_db_create("texthash", bt, 0, &err));
	assert_non_null(strstr(err, "unsupported database type: texthash"));
	free(err);
	free(spec);
	free(want);
	free(path);
	free(bt);
}

/* assert_no_tmp - no PATH.db.tmp is left */
static void assert_no_tmp(const char *path)
{
	char *tmp = xasprintf("%s.db.tmp", path);

	assert_int_equal(access(tmp, F_OK), -1);
	free(tmp);
}

static void test_atomic_replace(void **state)
{
	static const char *const k2[] = { "alice", "new" };
	static const char *const v2[] = { "changed", "entry" };
	char *path = path_of("atomic"), *file = xasprintf("%s.db", path), *err = NULL;
	struct dict *old, *cur;
	struct dict_db_writer *w;
	struct stat st;

	(void)state;
	build("hash", path, keys, values, 3, 0);
	assert_int_equal(chmod(file, 0640), 0);
	old = open_ok("hash", path, 0);
	build("hash", path, k2, v2, 2, 0);
	assert_no_tmp(path);
	/* the reader that was open keeps the table it opened */
	tu_assert_found(old, "alice", "alice@example.org, |/bin/true");
	tu_assert_notfound(old, "new");
	cur = open_ok("hash", path, 0);
	tu_assert_found(cur, "alice", "changed");
	tu_assert_found(cur, "new", "entry");
	tu_assert_notfound(cur, "postmaster");
	dict_close(cur);
	dict_close(old);
	/* the permission bits of the old table survive the rebuild */
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	/* an aborted build leaves the table as it was */
	w = dict_db_create("hash", path, 0, &err);
	assert_non_null(w);
	assert_int_equal(dict_db_put(w, "alice", "aborted", &err), 0);
	dict_db_abort(w);
	assert_no_tmp(path);
	cur = open_ok("hash", path, 0);
	tu_assert_found(cur, "alice", "changed");
	dict_close(cur);
	free(file);
	free(path);
}

/* test_builders_take_turns - a second builder waits for the first */
static void test_builders_take_turns(void **state)
{
	static const char *const k1[] = { "who" };
	static const char *const v2[] = { "second" };
	char *path = path_of("turns"), *err = NULL;
	struct dict_db_writer *w = dict_db_create("hash", path, 0, &err);
	struct dict *d;
	int status;
	pid_t pid;

	(void)state;
	assert_non_null(w);
	assert_int_equal(dict_db_put(w, "who", "first", &err), 0);
	if ((pid = fork()) == 0) {
		/* Not our parent's copy of the lock: a builder is a process of
		 * its own. The alarm makes a broken lock fail, not hang. */
		alarm(10);
		for (int fd = 3; fd < 1024; fd++)
			(void)close(fd);
		_exit(dict_db_build("hash", path, k1, v2, 1, 0, &err) == 0 ? 0 : 1);
	}
	assert_true(pid > 0);
	usleep(200000);
	/* the child is waiting for our lock: our table goes in first */
	assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
	assert_int_equal(dict_db_commit(w, &err), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	d = open_ok("hash", path, 0);
	tu_assert_found(d, "who", "second");
	dict_close(d);
	assert_no_tmp(path);
	free(path);
}

/* test_cloexec - the library's descriptor for a table is close-on-exec */
static void test_cloexec(void **state)
{
	char *path = path_of("cloexec"), link[4096], *fdpath;
	struct dict *d;
	struct dirent *e;
	DIR *dir;
	int seen = 0;
	ssize_t n;

	(void)state;
	build("btree", path, keys, values, 3, 0);
	d = open_ok("btree", path, 0);
	assert_non_null(dir = opendir("/proc/self/fd"));
	while ((e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		fdpath = xasprintf("/proc/self/fd/%s", e->d_name);
		n = readlink(fdpath, link, sizeof(link) - 1);
		free(fdpath);
		if (n <= 0)
			continue;
		link[n] = 0;
		if (strstr(link, "cloexec.db") != NULL) {
			seen++;
			assert_true(fcntl(atoi(e->d_name), F_GETFD) & FD_CLOEXEC);
		}
	}
	closedir(dir);
	assert_true(seen > 0);
	dict_close(d);
	free(path);
}

/* ---- the source reader `postern map` uses ----------------------------- */

struct seen {
	char text[1024];
	size_t len;
};

static void collect(void *ctx, const char *key, const char *value, int lineno)
{
	struct seen *s = ctx;
	int n = snprintf(s->text + s->len, sizeof(s->text) - s->len, "%d:%s=%s;", lineno, key, value);

	assert_true(n > 0 && (size_t)n < sizeof(s->text) - s->len);
	s->len += (size_t)n;
}

static void test_source_entries(void **state)
{
	char *path = path_of("source");
	FILE *fp = fopen(path, "w");
	struct diaglist dl = DIAGLIST_INIT;
	struct seen s = { "", 0 };
	char *err = NULL;

	(void)state;
	assert_non_null(fp);
	fputs("  indented first\n# comment\nkey value\nlong first\n\n  second part\n"
	      "novalue\nlast   trailing   \n", fp);
	fclose(fp);
	assert_int_equal(dict_source_entries(path, DIAG_ERROR, collect, &s, &dl, &err), 0);
	assert_string_equal(s.text, "3:key=value;4:long=first  second part;8:last=trailing;");
	assert_int_equal(dl.n, 2);
	assert_int_equal(diag_errors(&dl), 2);
	assert_int_equal(dl.v[0].line, 1);
	assert_int_equal(dl.v[1].line, 7);
	assert_non_null(strstr(dl.v[1].text, "expected format"));
	diag_clear(&dl);
	free(path);
	path = path_of("no-such-source");
	assert_int_equal(dict_source_entries(path, DIAG_ERROR, collect, &s, &dl, &err), -1);
	assert_non_null(strstr(err, path));
	free(err);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_and_read),
		cmocka_unit_test(test_nofold),
		cmocka_unit_test(test_stored_form),
		cmocka_unit_test(test_duplicates_keep_first),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_atomic_replace),
		cmocka_unit_test(test_builders_take_turns),
		cmocka_unit_test(test_cloexec),
		cmocka_unit_test(test_source_entries),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
