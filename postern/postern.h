/* postern - the admin command: shared declarations of its modules.
 *
 * postern.c        option parsing and dispatch
 * cmd_init.c       init: a self-contained instance in a directory
 * cmd_conf.c       conf: show and edit main.cf parameters
 * cmd_check.c      check: validate the configuration, repair the queue tree
 * cmd_control.c    start, start-fg, stop, reload, status
 * cmd_map.c        map: build and query lookup tables (postmap)
 * cmd_alias.c      alias: build alias tables (postalias, newaliases)
 */
#ifndef POSTERN_ADMIN_H
#define POSTERN_ADMIN_H

#include <sys/types.h>

extern const char *admin_config_dir;	/* -c DIR, or resolved default */
extern const char template_main_cf[];
extern const char template_master_cf[];

int cmd_init(int argc, char **argv);
int cmd_conf(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_start_fg(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_reload(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_queue(int argc, char **argv);
int cmd_map(int argc, char **argv);
int cmd_alias(int argc, char **argv);

/* Table building, shared by map and alias (cmd_map.c). A source function
 * reads path and hands each entry to admin_map_put; it returns 0, or -1
 * with *err when the file cannot be read. Problems with lines go to b->dl
 * (an error keeps the old table). */
struct dict_db_writer;
struct diaglist;
struct admin_map_build {
	struct dict_db_writer *writer;
	const char *source;		/* the source file, for messages */
	struct diaglist *dl;
	int failed;			/* a write failed; the rest is skipped */
};
typedef int admin_map_source_fn(const char *path, struct admin_map_build *b, char **err);
void admin_map_put(struct admin_map_build *b, const char *key, const char *value, int lineno);
/* admin_map_build - builds "[type:]file" (type hash or btree) from file;
 * 0, or 1 after reporting errors. */
int admin_map_build(const char *spec, int flags, admin_map_source_fn *source);
/* admin_map_query - prints key's value from the first table that has it
 * ("-": keys from stdin); 0 found, 1 not found, 2 error. */
int admin_map_query(const char *key, int nspecs, char **specs, int flags);
/* admin_map_options - parses -N -f -q KEY; the index of the first
 * argument after them, or -1 on a bad option. */
int admin_map_options(int argc, char **argv, int *flags, const char **query);

/* admin_load_config - reads main.cf of admin_config_dir; fatal if unreadable.
 * With report, prints every problem and returns the error count. */
int admin_load_config(int report);

/* admin_check_all - what `postern check` does; returns the error count. */
int admin_check_all(int repair, int quiet);

/* admin_running - pid of the running master, 0 when none holds the lock. */
pid_t admin_running(void);

/* admin_self_dir - directory of this executable, e.g. /usr/sbin. */
char *admin_self_dir(void);

/* admin_run - runs argv (no shell), waits, returns its exit status or -1. */
int admin_run(char *const argv[]);

#endif
