/* maps - a list of lookup tables named by one parameter
 * ("transport_maps = texthash:/etc/postern/transport, hash:/x"), opened
 * once and kept open for the life of a daemon, searched in order.
 *
 * lib/dict opens a table and that is all: it never notices that the file
 * under an open table changed. A maps list does, cheaply: at most once a
 * second it stat()s the files each table was opened from (NAME and
 * NAME.db for a type:/path table; other tables have no file) and reopens
 * a table whose device, inode, size or mtime differ from what they were
 * at open. So `postern map` or an edited texthash file takes effect
 * within a second, without a stat per lookup.
 *
 * A table that cannot be opened makes a search that reaches it
 * DICT_RETRY (the open is tried again at the next check): the caller
 * defers rather than answer from the tables that did open.
 */
#ifndef POSTERN_MAPS_H
#define POSTERN_MAPS_H

#include "dict.h"

struct maps;

/* maps_create - the tables listed in text (commas and/or white space,
 * "{ }" grouping), opened with dict flags; what (a parameter name) names
 * the list in log messages. Open failures are logged, not fatal. */
struct maps *maps_create(const char *what, const char *text, int flags);

/* maps_find - the first table that has key: DICT_FOUND with *value
 * (valid until the next maps_find or maps_free), DICT_NOTFOUND when no
 * table has it, DICT_RETRY when a table before a hit could not be read. */
enum dict_status maps_find(struct maps *m, const char *key, const char **value);

const char *maps_text(const struct maps *m);	/* the text it was made from */

/* maps_param - the tables of parameter param (its current value), made on
 * first use and kept for the life of the process; made again when the
 * value is not the one they were made from. Never NULL. */
struct maps *maps_param(const char *param);
void maps_free(struct maps *m);

#endif
