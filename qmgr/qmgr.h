/* qmgr - the queue manager: shared state of its modules.
 *
 * qmgr.c           service, triggers, timers, recovery at start
 * qmgr_scan.c      moving files into active/ and loading their envelopes
 * qmgr_message.c   what happens to a message when its deliveries are done
 * qmgr_deliver.c   transports, destination queues, delivery agents
 * qmgr_resolve.c   asking trivial-rewrite where a recipient goes (cached)
 */
#ifndef POSTERN_QMGR_H
#define POSTERN_QMGR_H

#include <stddef.h>

#include "qfile.h"
#include "qread.h"

struct qmgr_msg {
	char id[QID_MAX];
	struct qenvelope env;
	int pending;		/* delivery requests not yet answered */
	int undispatched;	/* entries not yet sent */
	int deferred;		/* some recipient was deferred this pass */
	int flushed;		/* brought in by a flush: defer_transports do not apply */
	double active_time;	/* when it entered the active queue */
	struct qmgr_msg *next;
};

struct qmgr_resolved {
	char *transport, *nexthop, *klass, *dsn, *reason;
};

/* qmgr_scan.c */
void qmgr_recover_active(void);
void qmgr_scan_incoming(void);
void qmgr_scan_deferred(int all);
void qmgr_scan_soon(void);		/* incoming and due deferred, from the loop */
extern int qmgr_active_count;

/* qmgr_message.c */
void qmgr_message_done(struct qmgr_msg *m);	/* every entry answered */
void qmgr_message_free(struct qmgr_msg *m);
void qmgr_defer_rcpt(struct qmgr_msg *m, size_t i, const char *dsn, const char *reason,
		     const char *relay);

/* qmgr_deliver.c */
void qmgr_deliver_message(struct qmgr_msg *m);	/* queue its recipients */
void qmgr_deliver_kick(void);			/* start what may start */
void qmgr_forget_dead(void);
/* qmgr_deliver_drain - no new deliveries from now on; 1 when some are in
 * flight (server_drained() follows when the last one answered) */
int qmgr_deliver_drain(void);
extern int qmgr_draining;

/* qmgr_resolve.c */
int qmgr_resolve(const char *addr, struct qmgr_resolved *out);	/* 0 or -1 (temporary) */
void qmgr_resolved_free(struct qmgr_resolved *r);
void qmgr_resolve_forget(void);		/* drop the cache */

/* qmgr_times - the delivery_log times of m, dispatched now */
#include "delivery_log.h"
void qmgr_times(const struct qmgr_msg *m, struct delivery_times *t);
int qmgr_bounce_rcpt(struct qmgr_msg *m, size_t i, const char *dsn, const char *reason);

#endif
