/* showq_format - the queue listing: reading it, sending it, printing it.
 *
 * One implementation for everything that lists the queue: showq(8) reads
 * the queue directories and streams the listing to postqueue(1) (mailq for
 * unprivileged users) over public/showq; `postern queue list` reads the
 * queue directly when it may, else asks showq; both print through the same
 * text and JSON formatters here, so every path prints the same bytes.
 *
 * A listing is a sequence of messages (struct showq_msg), one in memory at
 * a time: queue name, queue ID, arrival time, size, sender, and the
 * recipients that are not done, each with its last defer reason.
 *
 * Queues are read in Postfix's showq order: maildrop, active, incoming,
 * deferred (hashed one level), hold. Only committed files are listed (mode
 * 0700 queue files, 0444 maildrop files, qfile.h); a file that vanishes
 * between readdir and open was moved by qmgr and is skipped.
 *
 * The showq protocol (stream socket public/showq): the server greets with
 * protocol=showq version=1; the client sends one request frame:
 *   request=list
 *   request=flush [queue_id=ID] [site=DOMAIN]
 * A list reply is one or more frames per message:
 *   queue_name= queue_id= arrival_time= message_size= sender= rcpt_count=N
 *   rI_addr= rI_orig= rI_reason= (I = 0..N-1)  [more=1]
 * where more=1 says the next frame carries further recipients of the same
 * message (queue_id= and rcpt_count= again, and the rI_ fields), so that no
 * frame exceeds ATTR_FRAME_MAX however many recipients a message has; then
 * a last frame end=1. A flush reply is status=0, or status=4 reason=TEXT.
 */
#ifndef POSTERN_SHOWQ_FORMAT_H
#define POSTERN_SHOWQ_FORMAT_H

#include <stddef.h>

#include "qfile.h"
#include "vstr.h"

#define SHOWQ_SERVICE		"public/showq"
#define SHOWQ_PROTOCOL		"showq"
#define SHOWQ_VERSION		1
#define SHOWQ_REQUEST_MAX	4096	/* request frame size cap (server side) */
#define SHOWQ_REASON_MAX	1000	/* a defer reason is cut to this many bytes */
#define SHOWQ_RCPT_PER_FRAME	64	/* recipients per frame: 64 * ~9 KB < 1 MiB */
#define SHOWQ_NULL_SENDER	"MAILER-DAEMON"	/* how the null sender is shown */

struct showq_rcpt {
	char *address;
	char *orig;		/* "" when none */
	char *reason;		/* last defer reason, "" when none */
};

struct showq_msg {
	char queue_name[16];	/* "maildrop", "active", "incoming", "deferred", "hold" */
	char queue_id[QID_MAX];
	long long arrival;	/* seconds since the epoch */
	long long size;		/* content size in bytes */
	char *sender;		/* as in the queue file: "" = null sender */
	struct showq_rcpt *rcpt;	/* pending recipients only */
	size_t nrcpt, cap;
};

/* Messages. */
void showq_msg_init(struct showq_msg *m);
void showq_msg_add_rcpt(struct showq_msg *m, const char *address, const char *orig,
			const char *reason);
void showq_msg_clear(struct showq_msg *m);	/* frees contents; m reusable */

/* Reading the queue. qdir is the queue directory ("." in a daemon). */

/* showq_read_file - the listing entry for the file at path (in the queue
 * named queue_name, with ID id): its envelope, pending recipients, and
 * their reasons from qdir/defer/ID. Recipients are grouped as Postfix
 * shows them: those with a reason first, grouped by reason in order of
 * first appearance, then those without. Returns 0, 1 when the file is not
 * a committed queue file (skip it quietly; vanished is the same), or -1
 * with *err (static text) when it does not parse. */
int showq_read_file(const char *qdir, const char *queue_name, const char *id,
		    const char *path, struct showq_msg *m, const char **err);

/* showq_scan - calls fn for each listed message, in queue order. fn
 * returns 0 to go on, -1 to stop (then showq_scan returns -1). A file that
 * does not parse is reported with msg_warn and skipped. An unreadable
 * queue directory is reported and skipped. */
typedef int (*showq_fn)(const struct showq_msg *m, void *ctx);
int showq_scan(const char *qdir, showq_fn fn, void *ctx);

/* Printing. Text is Postfix's mailq format for long queue IDs: columns of
 * 17 (ID and status mark), 8 (size), 19 (arrival), sender; fits IDs of up
 * to 16 characters, a longer one shifts the rest of its line. Control
 * characters and invalid UTF-8 become '?'. */
struct showq_text {
	unsigned long count;
	unsigned long long bytes;
};

void showq_text_begin(struct showq_text *t);
void showq_text_message(struct showq_text *t, const struct showq_msg *m, vstr *out);
void showq_text_end(const struct showq_text *t, vstr *out);	/* trailer or "Mail queue is empty" */

/* showq_json_message - one JSON object and a newline:
 * {"queue_name": .., "queue_id": .., "arrival_time": N, "message_size": N,
 *  "forced_expire": false, "sender": .., "recipients": [{"address": ..,
 *  "orig_address": .., "delay_reason": ..}, ..]} */
void showq_json_message(const struct showq_msg *m, vstr *out);

/* showq_json_quote - appends s (len bytes) as the inside of a JSON string:
 * '"' and '\\' escaped, \b \f \n \r \t, other control characters and DEL
 * as \u00XX, valid UTF-8 passed through, each byte of an invalid sequence
 * (overlong, surrogate, above U+10FFFF, truncated) as U+FFFD. */
void showq_json_quote(vstr *out, const char *s, size_t len);

/* showq_printable - appends s for a terminal: valid UTF-8 passed through
 * except C0/C1 controls and DEL, which become '?', as does each byte of an
 * invalid sequence. */
void showq_printable(vstr *out, const char *s);

/* The protocol. */

/* showq_send_msg - writes m as one or more list frames. 0 or -1 (errno). */
int showq_send_msg(int fd, const struct showq_msg *m, int timeout_ms);
int showq_send_end(int fd, int timeout_ms);

/* showq_recv_msg - reads the next message into m (cleared first).
 * Returns 1 with a message, 0 at the end frame, or -1 with *err (static
 * text) for a malformed stream, a timeout or EOF. */
int showq_recv_msg(int fd, struct showq_msg *m, int timeout_ms, const char **err);

/* showq_connect - connects to qdir/public/showq, checks the greeting, and
 * sends a request (request=REQUEST, plus queue_id= and site= when not
 * NULL). Returns the fd, or -1 with a message in *err (malloc'ed) and
 * errno (ENOENT/ECONNREFUSED when the mail system is down). */
int showq_connect(const char *qdir, const char *request, const char *queue_id,
		  const char *site, int timeout_ms, char **err);

#endif
