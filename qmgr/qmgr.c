/* qmgr - the queue manager: finds mail to deliver and drives delivery.
 *
 * One resident process (master.cf maxproc 1). It wakes on triggers
 * (lib/qmgr_proto.h: 'I' from cleanup after each new message, 'D'/'A'/'F'
 * for a flush, 'W' from master), scans deferred/ every queue_run_delay,
 * keeps at most qmgr_message_active_limit messages in active/, and hands
 * recipients to the delivery agents through its event loop: it waits for
 * their replies without blocking, though connecting, sending a request, a
 * trivial-rewrite lookup and a bounce request are short blocking calls
 * with deadlines.
 *
 * Reload: the old qmgr starts no new delivery and exits when the ones in
 * flight have answered (at most QMGR_DRAIN_SECONDS); the new one waits
 * for the old one's lock on private/qmgr.lock before it takes over
 * active/, so a reload does not deliver the same mail twice.
 *
 * master.cf: qmgr unix - - n 60 1 qmgr
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "events.h"
#include "msg.h"
#include "qmgr.h"
#include "qmgr_proto.h"
#include "server.h"

static uint64_t deferred_timer;

static void deferred_tick(void *ctx)
{
	(void)ctx;
	if (qmgr_draining)
		return;
	deferred_timer = ev_timer_add(server_loop(), 1000 * conf_time("queue_run_delay"),
				      deferred_tick, NULL);
	qmgr_scan_deferred(0);
}

static uint64_t soon_timer;

static void scan_now(void *ctx)
{
	(void)ctx;
	soon_timer = 0;
	if (qmgr_draining)
		return;
	qmgr_scan_incoming();
	qmgr_scan_deferred(0);
}

void qmgr_scan_soon(void)
{
	if (soon_timer == 0)
		soon_timer = ev_timer_add(server_loop(), 0, scan_now, NULL);
}

/* triggered - one or more trigger bytes; F and A apply before D and I */
static void triggered(const char *buf, size_t len)
{
	int incoming = 0, deferred = 0, all = 0;

	for (size_t i = 0; i < len; i++) {
		switch (buf[i]) {
		case QMGR_TRIGGER_INCOMING: incoming = 1; break;
		case QMGR_TRIGGER_DEFERRED: deferred = 1; break;
		case QMGR_TRIGGER_ALL: all = 1; break;
		case QMGR_TRIGGER_FORGET: qmgr_forget_dead(); qmgr_resolve_forget(); break;
		case QMGR_TRIGGER_WAKEUP: incoming = deferred = 1; break;
		default: msg_warn("ignoring unknown trigger byte 0x%02x", (unsigned char)buf[i]);
		}
	}
	if (deferred)
		qmgr_scan_deferred(all);
	if (incoming)
		qmgr_scan_incoming();
}

#define QMGR_LOCK		"private/qmgr.lock"
#define QMGR_DRAIN_SECONDS	120

/* take_lock - waits (polling) until no older qmgr works on active/; the
 * lock is held for the life of this process */
static void take_lock(void)
{
	int fd = open(QMGR_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	int said = 0;

	if (fd < 0) {
		msg_warn("open %s: %m: not waiting for an older qmgr", QMGR_LOCK);
		return;
	}
	for (int waited = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; waited++) {
		if (errno != EWOULDBLOCK || waited > 10 * (QMGR_DRAIN_SECONDS + 10)) {
			msg_warn("lock %s: %m: going ahead", QMGR_LOCK);
			return;
		}
		if (!said++)
			msg_info("waiting for the previous qmgr to finish its deliveries");
		usleep(100000);
	}
}

static void drain_timeout(void *ctx)
{
	(void)ctx;
	msg_warn("deliveries still running %d seconds after a reload: exiting; the new qmgr "
		 "will try their recipients again", QMGR_DRAIN_SECONDS);
	server_drained();
}

/* drain - master reloaded or went away: finish what is in flight */
static int drain(void)
{
	if (!qmgr_deliver_drain())
		return 0;
	ev_timer_add(server_loop(), 1000LL * QMGR_DRAIN_SECONDS, drain_timeout, NULL);
	return 1;
}

static void qmgr_start(void)
{
	srandom((unsigned)(time(NULL) ^ getpid()));
	take_lock();
	qmgr_recover_active();
	/* what the recovery moved, and mail whose 'I' trigger died with the
	 * previous qmgr, is in incoming/ now: do not wait for a trigger */
	qmgr_scan_soon();
	deferred_timer = ev_timer_add(server_loop(), 1000 * conf_time("queue_run_delay"),
				      deferred_tick, NULL);
}

static const struct server_ops qmgr_ops = {
	.mode = SERVER_TRIGGER,
	.flags = SERVER_FLAG_RESIDENT,
	.ready = qmgr_start,
	.drain = drain,
	.trigger = triggered,
};

int main(int argc, char **argv)
{
	server_main(argc, argv, &qmgr_ops);
}
