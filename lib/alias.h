/* alias - the aliases(5) source format, and splitting an alias value.
 *
 * A file holds entries "name: value, value, ..." (see aliases(5)):
 *   - logical lines as in every Postfix source file: a line that starts
 *     with white space continues the previous one; lines whose first
 *     non-blank character is '#', and blank lines, are skipped and do not
 *     end a logical line (dict_source_lines in dict.h);
 *   - the name ends at the first ':' outside double quotes; it may be
 *     quoted ("name with space": ...), in which case the quotes go and a
 *     backslash takes the next character literally. An unquoted name may
 *     not contain white space. Names are handed out as written; the table
 *     builder folds them to lower case;
 *   - the value is the rest of the logical line, trimmed, and must not be
 *     empty. It is stored as written and split when it is used, so the
 *     table holds what the admin wrote.
 * A bad line is an error (DIAG_ERROR) naming the file and line, and is
 * skipped; a name seen before (compared folded) is a warning, and the
 * first entry wins, as postalias keeps the first of duplicate keys.
 *
 * Values are split with alias_value_split: items are separated by commas
 * outside double quotes; each is trimmed; an item that is entirely one
 * quoted string loses the quotes (so "|cmd a, b" is one item, a command
 * with a comma); other quotes stay (an address "a b"@example.com keeps
 * its quoting). Empty items are dropped.
 */
#ifndef POSTERN_ALIAS_H
#define POSTERN_ALIAS_H

#include "argv.h"
#include "diag.h"

/* What an alias item is, by its first characters, as local(8) decides. */
enum alias_kind {
	ALIAS_ADDRESS,		/* user, user@domain */
	ALIAS_FILE,		/* /path (append to a file; ends in '/' = Maildir) */
	ALIAS_COMMAND,		/* |command */
	ALIAS_INCLUDE,		/* :include:/path (case-insensitive) */
};

/* alias_entry_fn - receives one good entry; line is its first line. */
typedef void alias_entry_fn(void *ctx, const char *name, const char *value, int line);

/* alias_parse_file - reads path and calls fn for each good entry, first
 * ones first, duplicates left out. Problems go to dl. Returns 0 (even when
 * there were bad lines: see diag_errors), or -1 when the file cannot be
 * opened or read, with a message naming it in *err (malloc'ed). */
int alias_parse_file(const char *path, alias_entry_fn *fn, void *ctx,
		     struct diaglist *dl, char **err);

/* alias_value_split - appends the items of value to out. Returns 0, or -1
 * when a double quote is not closed (the items are still appended, the
 * last one running to the end of the value). */
int alias_value_split(const char *value, struct argv *out);

/* alias_item_kind - what an item from alias_value_split is. */
enum alias_kind alias_item_kind(const char *item);

/* alias_include_path - for an ALIAS_INCLUDE item, the path after
 * ":include:" (leading white space skipped); NULL for other items. */
const char *alias_include_path(const char *item);

#endif
