/* postern - the admin command: shared declarations of its modules.
 *
 * postern.c        option parsing and dispatch
 * cmd_init.c       init: a self-contained instance in a directory
 * cmd_conf.c       conf: show and edit main.cf parameters
 * cmd_check.c      check: validate the configuration, repair the queue tree
 * cmd_control.c    start, start-fg, stop, reload, status
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
