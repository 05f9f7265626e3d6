/* master - the postern supervisor: shared state of its modules.
 *
 * master.c         options, lock file, daemon mode, signals, main loop
 * master_conf.c    reads main.cf and master.cf into services; reload
 * master_listen.c  opens and closes each service's listeners
 * master_spawn.c   forks children, reaps them, throttles bad services
 * master_status.c  the status pipes: which children are idle
 * master_wakeup.c  periodic wakeup triggers
 * master_ctl.c     the control socket: status and reload requests
 */
#ifndef POSTERN_MASTER_H
#define POSTERN_MASTER_H

#include <stdint.h>
#include <sys/types.h>

#include "argv.h"
#include "events.h"
#include "mastercf.h"

#define MASTER_MAX_LISTEN	16

struct master_service {
	char *id;		/* "name/type", for logs */
	char *name;
	enum mcf_type type;
	int private_, unpriv, chroot;
	int wakeup, wakeup_after_use;
	int maxproc;		/* resolved: 0 = unlimited */
	char *path;		/* executable */
	struct argv args;	/* master.cf arguments after the command */
	char *listen_key;	/* what the listeners are bound to; equal keys share them on reload */
	int listen_fds[MASTER_MAX_LISTEN];
	int listen_count;
	int listening;		/* listeners watched by the loop */
	int status_fd[2];	/* pipe: [0] master reads, [1] children write (fd 3) */
	unsigned generation;
	int total;		/* live children of this generation or older */
	int avail;		/* idle children of the current generation */
	int used;		/* some child took a client: for "wakeup N?" */
	int throttled;
	uint64_t throttle_timer;
	uint64_t wakeup_timer;
	char *disabled;		/* reason the service does not run, or NULL */
	char *file;		/* master.cf position, for messages */
	int line;
	struct master_service *next;
};

struct master_proc {
	pid_t pid;
	struct master_service *serv;	/* NULL once the service was removed */
	unsigned generation;
	int avail;		/* counted in serv->avail */
	int ready;		/* reported READY: started properly */
	long use_count;
	struct master_proc *next;
};

extern struct ev_loop *master_loop;
extern struct master_service *master_services;
extern int master_foreground;
extern unsigned master_generation;	/* bumped by every reload */
extern int master_stopping;		/* SIGTERM received: children are told to stop */

/* master_conf.c */
int master_config_load(int reload, char **err);	/* 0, or -1 with *err */
void master_config_free_all(void);
void master_service_free(struct master_service *s);

/* master_listen.c */
int master_listen_open(struct master_service *s, char **err);
void master_listen_close(struct master_service *s);
void master_listen_update(struct master_service *s);	/* watch iff a child is needed */
void master_listen_close_watch(struct master_service *s);	/* stop watching, keep fds */

/* master_spawn.c */
void master_spawn(struct master_service *s);
void master_reap(void);
void master_throttle(struct master_service *s, const char *why);
void master_kill_children(struct master_service *s, int sig);	/* NULL = all */
int master_child_count(void);
void master_detach_children(struct master_service *s);	/* children forget s */
void master_move_children(struct master_service *from, struct master_service *to);
struct master_proc *master_proc_find(pid_t pid);
void master_proc_avail(struct master_proc *p, int avail);

/* master_status.c */
int master_status_open(struct master_service *s, char **err);
void master_status_close(struct master_service *s);

/* master_wakeup.c */
void master_wakeup_start(struct master_service *s);
void master_wakeup_stop(struct master_service *s);
void master_wakeup_soon(struct master_service *s);	/* a child died: wake it in 1 s */

/* master_ctl.c */
int master_ctl_open(char **err);
void master_ctl_close(void);

/* master.c */
int master_reload(char **err);

#endif
