/* delivery_log - the per-recipient log line every delivery logs, in
 * Postfix's shape, which pflogsumm, fail2ban and postfix_exporter parse:
 *
 *   QID: to=<rcpt>[, orig_to=<orig>], relay=RELAY, delay=D,
 *        delays=a/b/c/d, dsn=X.Y.Z, status=sent|deferred|bounced (reason)
 *
 * delay is the time since arrival; delays splits it into a = before the
 * active queue, b = in qmgr, c = connection setup, d = transmission.
 * Times are printed with two significant digits as Postfix does.
 */
#ifndef POSTERN_DELIVERY_LOG_H
#define POSTERN_DELIVERY_LOG_H

struct delivery_times {
	double arrival;		/* epoch seconds, with fraction */
	double active;		/* moved to the active queue */
	double dispatch;	/* handed to the delivery agent */
	double connected;	/* connection/mailbox ready (0 = same as dispatch) */
};

double delivery_now(void);	/* epoch seconds with microseconds */

void delivery_log(const char *queue_id, const char *rcpt, const char *orig,
		  const char *relay, const struct delivery_times *t,
		  const char *dsn, const char *status, const char *reason);

/* delivery_fmt_time - Postfix's %.2g-like rendering: 0.01, 0.5, 12, 340 */
void delivery_fmt_time(char *buf, unsigned long size, double seconds);

#endif
