/* cmd_alias - `postern alias` (postalias, newaliases): build alias tables
 * from aliases(5) source files.
 *
 *   alias [-N] [-f] [type:]file...   build type:file.db from file
 *   alias                            build every table in alias_database
 *   alias [-f] -q KEY [type:]table   print an alias's value
 *
 * The source is parsed by lib/alias.c; a bad line is an error naming file
 * and line, and then the old FILE.db stays as it was. Names are folded to
 * lower case (unless -f); values are stored as written, to be split by
 * local(8) when it uses them. Building, ownership and exit status are as
 * for `postern map` (cmd_map.c).
 */
#include <stdio.h>
#include <stdlib.h>

#include "alias.h"
#include "argv.h"
#include "config.h"
#include "msg.h"
#include "postern.h"

/* alias_entry - one alias into the table being built */
static void alias_entry(void *ctx, const char *name, const char *value, int lineno)
{
	admin_map_put(ctx, name, value, lineno);
}

/* alias_source - reads an aliases(5) file into the build */
static int alias_source(const char *path, struct admin_map_build *b, char **err)
{
	return alias_parse_file(path, alias_entry, b, b->dl, err);
}

/* alias_build_default - every table named by alias_database */
static int alias_build_default(int flags)
{
	struct argv tables = ARGV_INIT;
	int errors = 0;

	admin_load_config(0);
	argv_split(&tables, conf_str("alias_database"), ", \t\r\n");
	if (tables.n == 0)
		msg_warn("alias_database is empty: no alias table to build");
	for (size_t i = 0; i < tables.n; i++)
		errors += admin_map_build(tables.v[i], flags, alias_source);
	argv_free(&tables);
	return errors ? 1 : 0;
}

int cmd_alias(int argc, char **argv)
{
	const char *query;
	int flags, first, errors = 0;

	first = admin_map_options(argc, argv, &flags, &query);
	if (first < 0 || (query != NULL && first >= argc)) {
		fprintf(stderr, "usage: postern alias [-N] [-f] [[type:]file...]\n"
			"       postern alias [-f] -q key|- [type:]table...\n");
		return 2;
	}
	if (query != NULL)
		return admin_map_query(query, argc - first, argv + first, flags);
	if (first >= argc)
		return alias_build_default(flags);
	for (int i = first; i < argc; i++)
		errors += admin_map_build(argv[i], flags, alias_source);
	return errors ? 1 : 0;
}
