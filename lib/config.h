/* config - main.cf: the parameter table, the file parser, and lookups.
 *
 * main.cf has Postfix's syntax: "name = value"; a line that starts with white
 * space continues the previous logical line; a line whose first non-blank
 * character is '#' is a comment; blank lines are ignored; a later setting of
 * the same name wins. Values are stored as written and expanded lazily when
 * read: $name, ${name}, $(name), ${name?text}, ${name:text},
 * ${name?{text}}, ${name:{text}}, ${name?{a}:{b}}, and $$ for a literal '$'.
 * Expansion depth is limited (CONF_EXPAND_DEPTH); a loop is reported, not
 * followed.
 *
 * Every parameter postern knows is in one table (params.c) with its type
 * and default, so `postern conf -d` is generated from it. A name set in
 * main.cf that is not in the table, and not referenced as $name by another
 * setting (a user-defined variable), is reported as a warning naming it.
 *
 * The configuration is process-global: a daemon loads it once at start (and
 * master again on reload). Precedence: -o overrides, then main.cf, then the
 * table's default.
 */
#ifndef POSTERN_CONFIG_H
#define POSTERN_CONFIG_H

#include "diag.h"

#ifndef DEF_CONFIG_DIR
#define DEF_CONFIG_DIR "/etc/postern"
#endif

#define CONF_EXPAND_DEPTH	100

enum param_type {
	PARAM_STR,		/* free text */
	PARAM_LIST,		/* comma/white space separated list */
	PARAM_INT,		/* integer in [min, max] */
	PARAM_BOOL,		/* yes/no (also true/false, on/off, 1/0) */
	PARAM_TIME,		/* integer with optional unit s m h d w */
};

struct param_def {
	const char *name;
	const char *defval;	/* unexpanded; NULL when default_fn computes it */
	enum param_type type;
	long long min, max;	/* PARAM_INT and PARAM_TIME (in seconds) */
	char unit;		/* PARAM_TIME: unit of a bare number: 's', 'm', 'h', 'd', 'w' */
	const char *(*default_fn)(void); /* for host-dependent defaults (myhostname) */
	const char *doc;	/* one line, for `postern conf -d -v` and man pages */
};

/* The parameter table, sorted by name. */
const struct param_def *param_find(const char *name);

/* param_is_per_transport - TRANSPORT_destination_concurrency_limit and
 * TRANSPORT_destination_recipient_limit: per master.cf transport, as in
 * Postfix; read by qmgr with default_* as the fallback. */
int param_is_per_transport(const char *name);
const struct param_def *param_all(size_t *count);
const char *param_default(const struct param_def *p);	/* unexpanded default */

/* conf_resolve_dir - the configuration directory to use: arg if not NULL,
 * else $POSTERN_CONFIG_DIR if set and non-empty, else DEF_CONFIG_DIR. */
const char *conf_resolve_dir(const char *arg);

/* conf_load - forgets any previous configuration (overrides included) and
 * reads DIR/main.cf. Problems (bad lines, unknown names) go to dl, which may
 * be NULL to discard them. A missing main.cf is not an error (all defaults);
 * an unreadable one returns -1 with errno set. Sets config_directory. */
int conf_load(const char *dir, struct diaglist *dl);

/* conf_load_string - as conf_load but from text, for tests; file names the
 * text in diagnostics. */
int conf_load_string(const char *text, const char *file, struct diaglist *dl);

const char *conf_dir(void);		/* directory given to conf_load */

/* conf_override - sets name=value above main.cf (master.cf -o, -o on a
 * command line). conf_override_arg parses "name=value"; -1 if malformed. */
void conf_override(const char *name, const char *value);
int conf_override_arg(const char *arg);

/* conf_raw - the value as written (override or main.cf), or NULL when the
 * name is not set there. conf_raw_line - its main.cf line, 0 if none. */
const char *conf_raw(const char *name);
/* conf_value_raw - the unexpanded value in force (override, main.cf or
 * default; config_directory is the directory loaded), NULL if unknown. */
const char *conf_value_raw(const char *name);
int conf_raw_line(const char *name);

/* conf_str - the expanded effective value (override, main.cf, default);
 * "" for a name that is neither set nor known. The pointer stays valid
 * until the next conf_load. */
const char *conf_str(const char *name);

/* conf_expand - expands text against the current configuration. Returns a
 * malloc'ed string; on a loop or syntax error, records it in dl (may be
 * NULL) and returns what could be expanded. */
char *conf_expand(const char *text, struct diaglist *dl);

/* Typed getters. A value that does not parse or is out of range is fatal
 * in a daemon: "bad numerical configuration: NAME = VALUE". Run
 * conf_validate first where fatal is not wanted. */
long long conf_int(const char *name);
int conf_bool(const char *name);
long long conf_time(const char *name);		/* seconds */

/* conf_parse_time - "30", "30s", "5m", "2h", "1d", "1w" with bare numbers
 * in unit; -1 if malformed. conf_parse_bool - 1, 0, or -1 if malformed. */
long long conf_parse_time(const char *text, char unit);
int conf_parse_bool(const char *text);

/* conf_validate - checks every set and default value: types and ranges,
 * expansion loops, undefined $names. Appends to dl; returns error count. */
size_t conf_validate(struct diaglist *dl);

/* Iteration over names set in main.cf or by override (for conf -n), in
 * file order; returns NULL past the end. */
const char *conf_set_name(size_t i);

/* conf_edit_file - sets name = value in the main.cf at path, in place:
 * replaces the first logical line that sets name (and deletes later ones,
 * which would otherwise win), keeps every comment and other line as it
 * was, or appends the setting at the end. value NULL removes the setting.
 * Writes a temporary file, fsyncs it and renames it over path. Returns 0,
 * or -1 with a message in *err (malloc'ed). */
int conf_edit_file(const char *path, const char *name, const char *value, char **err);

/* Logical lines in Postfix's syntax, shared by main.cf and master.cf.
 * conf_reader_next puts the next logical line into out: the first physical
 * line with its continuation lines appended, each trimmed of white space
 * and joined with one space. Comment and blank lines are skipped and do not
 * end a logical line. *first_line is the number of its first physical line;
 * *orphan is set when it starts with a continuation line (nothing to
 * continue: an error in both files). Returns 1, or 0 at the end. */
struct vstr;
struct conf_reader {
	const char *pos;	/* next physical line */
	int line;		/* number of the last line read */
};
void conf_reader_init(struct conf_reader *r, const char *text);
int conf_reader_next(struct conf_reader *r, struct vstr *out, int *first_line,
		     int *orphan);

/* conf_read_file - the whole file at path as a string (malloc'ed), or NULL
 * with errno. */
char *conf_read_file(const char *path);

/* conf_name_len - the length of the parameter name ([A-Za-z0-9_]+) that
 * starts s; 0 when there is none. */
size_t conf_name_len(const char *s);

#endif
