/* server - the skeleton every postern daemon runs in.
 *
 * A daemon's main() fills in a struct server_ops and calls server_main(),
 * which does everything that is not the daemon's own job: parses the
 * options master passes (master_proto.h), reads main.cf and -o overrides,
 * opens the log, changes to the queue directory, runs the pre_jail hook
 * (still privileged: open keys and log files here), chroots when asked,
 * drops to mail_owner (uid, gid and supplementary groups, real, effective
 * and saved, and checks that root cannot be regained), runs post_jail, then
 * serves clients from the inherited listeners in an event loop until
 * max_use clients were served, max_idle passed without one, or master went
 * away.
 *
 * Modes:
 *   SERVER_SINGLE   one client at a time: single(fd) serves it to the end
 *   SERVER_MULTI    many clients: multi(fd) registers fd in server_loop()
 *                   and calls server_client_done() when it closes it
 *   SERVER_TRIGGER  trigger(buf, len) for each wakeup (unix socket or FIFO)
 *   SERVER_DGRAM    dgram(buf, len) for each datagram
 */
#ifndef POSTERN_SERVER_H
#define POSTERN_SERVER_H

#include <stddef.h>

#include "argv.h"
#include "events.h"

enum server_mode { SERVER_SINGLE, SERVER_MULTI, SERVER_TRIGGER, SERVER_DGRAM };

#define SERVER_FLAG_RESIDENT	(1 << 0)	/* ignore max_use and max_idle */

struct server_ops {
	enum server_mode mode;
	int flags;
	void (*pre_jail)(void);
	void (*post_jail)(void);
	void (*single)(int fd);
	void (*multi)(int fd);
	void (*trigger)(const char *buf, size_t len);
	void (*dgram)(const char *buf, size_t len);
	void (*pre_exit)(void);		/* before a voluntary exit */
	void (*ready)(void);		/* the loop exists: add timers, start work */
	/* drain - master went away or reloaded: the listeners are closed to
	 * this process; return 1 to keep running until the work in flight is
	 * done (then call server_drained()), 0 to exit now (the default) */
	int (*drain)(void);
};

/* server_main - never returns. */
void server_main(int argc, char **argv, const struct server_ops *ops)
	__attribute__((noreturn));

struct ev_loop *server_loop(void);
const char *server_name(void);		/* master.cf service column (-n) */
const char *server_type(void);		/* master.cf type column (-t) */
const struct argv *server_args(void);	/* arguments left after the options */
void server_client_done(void);		/* SERVER_MULTI: a client went away */
void server_watchdog_reset(void);	/* a long-lived client made progress */
void server_drained(void) __attribute__((noreturn));	/* after drain() returned 1 */

/* server_drop_privileges - the privilege drop server_main does, exposed for
 * programs that are not run by master (and for tests). user NULL keeps the
 * current uid. Fatal on any failure. */
void server_drop_privileges(const char *user, const char *chroot_dir);

#endif
