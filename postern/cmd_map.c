/* cmd_map - `postern map` (postmap): build Berkeley DB tables from
 * "key value" source files, and query any table.
 *
 *   map [-N] [-f] [type:]file...     build type:file.db from file
 *   map [-f] -q KEY [type:]table...  print KEY's value from the first
 *                                    table that has it (-q -: keys from
 *                                    standard input, "key value" out)
 * type is hash (the default) or btree for building; a query opens any
 * table type. -N stores keys and values with a terminating NUL; -f keeps
 * keys as written instead of folding them to lower case.
 *
 * A build reads the source with the reader texthash: uses, so both agree
 * on the format. It streams into FILE.db.tmp and replaces FILE.db only
 * when the whole source was read without an error (a malformed line is an
 * error here, naming file and line); a duplicate key is a warning and the
 * first value is kept. Run as root on a source file owned by someone else,
 * the build runs with that owner's uid and gid, as Postfix's postmap does,
 * so the table belongs to whoever owns the source.
 *
 * The build and query steps are shared with cmd_alias.c (postern.h).
 * Exit status: 0 done / found; 1 a build error / not found; 2 a query
 * could not be answered (a table failed to open or to look up).
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dict.h"
#include "dict_db.h"
#include "mem.h"
#include "msg.h"
#include "postern.h"

#define MAP_DEFAULT_TYPE	"hash"
#define MAP_MAX_GROUPS		1024

/* ---- running as the owner of the source file -------------------------- */

struct map_ids {
	int switched;
	gid_t egid;
	int ngroups;
	gid_t groups[MAP_MAX_GROUPS];
};

/* map_become_owner - as root, takes the source owner's uid and gid (and
 * only that group); a no-op for other users or a root-owned source */
static int map_become_owner(const struct stat *st, struct map_ids *ids)
{
	ids->switched = 0;
	if (geteuid() != 0 || st->st_uid == 0)
		return 0;
	ids->egid = getegid();
	if ((ids->ngroups = getgroups(MAP_MAX_GROUPS, ids->groups)) < 0)
		return -1;
	if (setgroups(1, &st->st_gid) < 0 || setegid(st->st_gid) < 0 || seteuid(st->st_uid) < 0)
		return -1;
	ids->switched = 1;
	return 0;
}

/* map_restore_ids - back to root after map_become_owner */
static void map_restore_ids(const struct map_ids *ids)
{
	if (!ids->switched)
		return;
	if (seteuid(0) < 0 || setegid(ids->egid) < 0
	    || setgroups((size_t)ids->ngroups, ids->groups) < 0)
		msg_fatal("cannot restore privileges: %m");
}

/* ---- building ------------------------------------------------------- */

/* map_split_spec - "type:file" into type and file (malloc'ed); plain
 * "file" means the default type */
static void map_split_spec(const char *spec, char **type, char **file)
{
	const char *colon = strchr(spec, ':'), *slash = strchr(spec, '/');

	if (colon == NULL || colon == spec || (slash != NULL && slash < colon)) {
		*type = xstrdup(MAP_DEFAULT_TYPE);
		*file = xstrdup(spec);
	} else {
		*type = xstrndup(spec, (size_t)(colon - spec));
		*file = xstrdup(colon + 1);
	}
}

void admin_map_put(struct admin_map_build *b, const char *key, const char *value, int lineno)
{
	char *err = NULL;
	int ret;

	if (b->failed)
		return;
	ret = dict_db_put(b->writer, key, value, &err);
	if (ret > 0)
		diag_add(b->dl, DIAG_WARNING, b->source, lineno,
			 "duplicate entry: \"%s\"; keeping the first", key);
	if (ret < 0) {
		diag_add(b->dl, DIAG_ERROR, b->source, 0, "%s", err);
		free(err);
		b->failed = 1;
	}
}

/* map_build_as - the build proper, with the right ids already in place */
static int map_build_as(const char *type, const char *file, int flags, admin_map_source_fn *source)
{
	struct diaglist dl = DIAGLIST_INIT;
	struct admin_map_build b = { NULL, file, &dl, 0 };
	char *err = NULL;
	int ret;

	if ((b.writer = dict_db_create(type, file, flags, &err)) == NULL) {
		msg_warn("%s", err);
		free(err);
		return 1;
	}
	ret = source(file, &b, &err);
	diag_log(&dl);
	if (ret < 0 || diag_errors(&dl) > 0) {
		if (ret < 0)
			msg_warn("%s", err);
		else
			msg_warn("%s: %zu error(s); %s.db left unchanged", file, diag_errors(&dl), file);
		dict_db_abort(b.writer);
		ret = 1;
	} else if (dict_db_commit(b.writer, &err) < 0) {
		msg_warn("%s", err);
		ret = 1;
	}
	free(err);
	diag_clear(&dl);
	return ret == 0 ? 0 : 1;
}

int admin_map_build(const char *spec, int flags, admin_map_source_fn *source)
{
	struct map_ids ids;
	struct stat st;
	char *type, *file;
	int ret = 1;

	map_split_spec(spec, &type, &file);
	if (strcmp(type, "hash") != 0 && strcmp(type, "btree") != 0)
		msg_warn("%s: cannot build a %s: table (hash: and btree: can be built)", spec, type);
	else if (stat(file, &st) < 0)
		msg_warn("open %s: %m", file);
	else if (map_become_owner(&st, &ids) < 0)
		msg_warn("%s: cannot take the uid and gid of its owner: %m", file);
	else {
		ret = map_build_as(type, file, flags, source);
		map_restore_ids(&ids);
	}
	free(type);
	free(file);
	return ret;
}

/* map_entry - one "key value" entry of a postmap source */
static void map_entry(void *ctx, const char *key, const char *value, int lineno)
{
	admin_map_put(ctx, key, value, lineno);
}

/* map_source - reads a postmap source file into the build */
static int map_source(const char *path, struct admin_map_build *b, char **err)
{
	return dict_source_entries(path, DIAG_ERROR, map_entry, b, b->dl, err) < 0 ? -1 : 0;
}

/* ---- querying --------------------------------------------------------- */

/* map_query_one - looks key up in each table in turn: 0 found (printed,
 * after the key when with_key), 1 not found, 2 error */
static int map_query_one(const char *key, struct dict **tables, int n, int with_key)
{
	const char *value;

	for (int i = 0; i < n; i++) {
		switch (dict_lookup(tables[i], key, &value)) {
		case DICT_FOUND:
			if (with_key)
				printf("%s\t%s\n", key, value);
			else
				printf("%s\n", value);
			return 0;
		case DICT_RETRY:
			msg_warn("%s:%s: lookup of \"%s\" failed", tables[i]->type, tables[i]->name, key);
			return 2;
		case DICT_NOTFOUND:
			break;
		}
	}
	return 1;
}

/* map_query_stdin - "-q -": every line of standard input is a key */
static int map_query_stdin(struct dict **tables, int n)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int ret, found = 0, failed = 0;

	while ((len = getline(&line, &cap, stdin)) >= 0) {
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = 0;
		if (len == 0)
			continue;
		ret = map_query_one(line, tables, n, 1);
		found |= ret == 0;
		failed |= ret == 2;
	}
	free(line);
	return failed ? 2 : found ? 0 : 1;
}

int admin_map_query(const char *key, int nspecs, char **specs, int flags)
{
	struct dict **tables = xcalloc((size_t)nspecs, sizeof(*tables));
	char *err = NULL, *type, *file, *full;
	int n, ret = 2;

	for (n = 0; n < nspecs; n++) {
		map_split_spec(specs[n], &type, &file);
		full = xasprintf("%s:%s", type, file);
		tables[n] = dict_open(full, flags, &err);
		free(type);
		free(file);
		free(full);
		if (tables[n] == NULL) {
			msg_warn("%s", err);
			free(err);
			break;
		}
	}
	if (n == nspecs)
		ret = strcmp(key, "-") == 0 ? map_query_stdin(tables, n)
		    : map_query_one(key, tables, n, 0);
	while (n > 0)
		dict_close(tables[--n]);
	free(tables);
	fflush(stdout);
	return ret;
}

/* ---- the command ------------------------------------------------------ */

/* admin_map_options - the options map and alias share: -N -f -q KEY;
 * returns the index of the first table, or -1 after a usage message */
int admin_map_options(int argc, char **argv, int *flags, const char **query)
{
	int c;

	*flags = 0;
	*query = NULL;
	optind = 1;
	while ((c = getopt(argc, argv, "Nfq:")) != -1) {
		switch (c) {
		case 'N':
			*flags |= DICT_DB_FLAG_NUL;
			break;
		case 'f':
			*flags |= DICT_FLAG_NOFOLD;
			break;
		case 'q':
			*query = optarg;
			break;
		default:
			return -1;
		}
	}
	return optind;
}

int cmd_map(int argc, char **argv)
{
	const char *query;
	int flags, first, errors = 0;

	first = admin_map_options(argc, argv, &flags, &query);
	if (first < 0 || first >= argc) {
		fprintf(stderr, "usage: postern map [-N] [-f] [type:]file...\n"
			"       postern map [-f] -q key|- [type:]table...\n");
		return 2;
	}
	if (query != NULL)
		return admin_map_query(query, argc - first, argv + first, flags);
	for (int i = first; i < argc; i++)
		errors += admin_map_build(argv[i], flags, map_source);
	return errors ? 1 : 0;
}
