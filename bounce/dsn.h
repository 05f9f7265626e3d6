/* dsn - the delivery status notifications that bounce(8) sends.
 *
 * Everything here decides or formats; nothing talks to another process,
 * so the unit tests link it without the daemon (bounce.c has main()).
 *
 *   dsn_route_for    who gets a notification: the sender, the postmaster
 *                    (a double bounce), nobody, or nobody with a log line
 *   dsn_select       which status log entries go into it (action, NOTIFY,
 *                    one entry per recipient)
 *   dsn_original     the part of the original message it returns
 *   dsn_build        the whole message, RFC 3464 multipart/report
 *
 * The message has LF line ends (cleanup stores LF), no line longer than
 * DSN_LINE_MAX bytes, and text from the status logs with control
 * characters and 8-bit bytes replaced, so only the returned message can
 * make it 8-bit.
 */
#ifndef POSTERN_BOUNCE_DSN_H
#define POSTERN_BOUNCE_DSN_H

#include <stddef.h>
#include <time.h>

#include "dsnlog.h"
#include "qread.h"
#include "vstr.h"

#define DSN_LINE_MAX	998	/* RFC 5322 2.1.1, without the CRLF */
#define DSN_WRAP	76	/* where text lines are wrapped when spaces allow */

enum dsn_type {
	DSN_TYPE_FAILURE,	/* request=notify: bounce/ID, action failed */
	DSN_TYPE_DELAY,		/* request=delay: defer/ID, action delayed */
	DSN_TYPE_SUCCESS,	/* request=success: trace/ID, action delivered */
};

enum dsn_route {
	DSN_ROUTE_NONE,		/* nothing to send, nothing to say */
	DSN_ROUTE_SENDER,	/* to the original sender */
	DSN_ROUTE_POSTMASTER,	/* double bounce, to 2bounce_notice_recipient */
	DSN_ROUTE_DROP,		/* a failed double bounce: log and drop */
};

/* dsn_route_for - where a notification of type goes for a message from
 * sender ("" = null sender) whose dsn_kind attribute is kind (NULL when
 * it has none). Never to the null sender: a failure of null-sender mail
 * goes to the postmaster, unless it already was a double bounce. */
enum dsn_route dsn_route_for(enum dsn_type type, const char *sender, const char *kind);

/* dsn_type_kind - the dsn_kind cleanup records for the notification:
 * "bounce", "delay", "success", or "double" for a postmaster copy. */
const char *dsn_type_kind(enum dsn_type type, enum dsn_route route);

/* dsn_action_matches - 1 when a log entry's action belongs in a
 * notification of type (failed; delayed; delivered, relayed, expanded). */
int dsn_action_matches(enum dsn_type type, const char *action);

/* dsn_notify_wants - 1 when a recipient's DSN NOTIFY asks for type:
 * "" is the default (failure and delay), "NEVER" asks for nothing, else
 * a comma-separated list of SUCCESS, FAILURE, DELAY (any case). */
int dsn_notify_wants(const char *notify, enum dsn_type type);

/* dsn_select - the entries of log (n of them) for a notification of type:
 * action matches and, unless ignore_notify (postmaster copies), NOTIFY asks
 * for it. A log may name a recipient twice (an agent that crashed between
 * its append and its mark tries again): the last entry per recipient and
 * original recipient wins, in the order of first appearance. Stores
 * shallow copies in out (room for n) and returns their count. */
size_t dsn_select(const struct dsn_entry *log, size_t n, enum dsn_type type,
		  int ignore_notify, struct dsn_entry *out);

/* dsn_original - what a notification returns of the original message,
 * read from the queue file fd (envelope env): the whole content when
 * want_full and it is at most limit bytes, else only the header block (at
 * most limit bytes, cut at a line end). Replaces out; sets *headers_only.
 * Reads no more than limit + 1 content bytes. 0, or -1 when the content
 * cannot be read (corrupt file, I/O error). */
int dsn_original(int fd, const struct qenvelope *env, int want_full, size_t limit,
		 vstr *out, int *headers_only);

/* A notification to build. Strings are as found in the queue file and the
 * logs; dsn_build cleans them. */
struct dsn_report {
	enum dsn_type type;
	int postmaster;			/* a double bounce (postmaster copy) */
	const char *queue_id;		/* of the original message */
	const char *myhostname;
	const char *to;			/* who gets the notification */
	const char *sender;		/* original envelope sender, "" = <> */
	const char *envid;		/* DSN ENVID, NULL or "" when none */
	time_t now;			/* Date: */
	long long arrival;		/* of the original message, seconds */
	long long lifetime;		/* maximal_queue_lifetime (delay notices); 0 unknown */
	const struct dsn_entry *rcpt;	/* what dsn_select chose */
	size_t nrcpt;
	const char *original;		/* what dsn_original read */
	size_t original_len;
	int headers_only;
};

/* dsn_build - the whole notification message into out (replaced).
 * Returns 1 when it contains 8-bit bytes (the returned message did: the
 * caller submits it as 8BITMIME), else 0. */
int dsn_build(const struct dsn_report *r, vstr *out);

/* dsn_boundary - the MIME boundary for a notification about queue_id:
 * "ID/myhostname" (at most DSN_BOUNDARY_BASE bytes), with ".N" appended
 * until no line of parts (the text of all parts) starts with "--" and it.
 * Replaces out. */
#define DSN_BOUNDARY_BASE	60	/* RFC 2046 allows 70 */
void dsn_boundary(const char *queue_id, const char *myhostname, const char *parts,
		  size_t len, vstr *out);

#endif
