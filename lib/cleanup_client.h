/* cleanup_client - hands a new message to cleanup(8), the only program that
 * writes queue files.
 *
 * pickup, bounce, local (forwarding) and smtpd all submit through this:
 *   c = cleanup_open(&err);                  connects to public/cleanup
 *   cleanup_envelope(c, &env);               sender, attributes; the
 *                                            queue ID is then cleanup_queue_id(c)
 *   cleanup_rcpt(c, "user@example", NULL, NULL);  once per recipient
 *   cleanup_data(c, buf, len);               content, LF line ends, any splits
 *   status = cleanup_finish(c, &result);     waits for the commit
 * cleanup answers only after the queue file and its directory entry are on
 * stable storage; status 0 means the message is queued as result.queue_id.
 *
 * Protocol (attr frames after the greeting "protocol=cleanup version=2"):
 *   request=envelope  sender= origin= [uid=] [fullname=] [time=] [flags=]
 *                     [envid=] [ret=] [body_type=] [smtputf8=] [dsn_kind=] [log_ident=]
 *        reply:       status=0|4|5 queue_id=ID ("" when no file was made)
 *                     (smtpd needs the ID for its Received: header before
 *                     it sends any content)
 *   request=rcpt      address= [orig=] [notify=]        (repeated)
 *   request=data      data=<at most CLEANUP_CHUNK bytes>  (repeated)
 *   request=end [hold=1]                (or request=abort: discard it all)
 * reply: status=0|4|5 dsn=X.Y.Z reason=TEXT queue_id=ID
 * After an error cleanup keeps reading until request=end, so neither side
 * blocks; the client sees the error in the final reply.
 */
#ifndef POSTERN_CLEANUP_CLIENT_H
#define POSTERN_CLEANUP_CLIENT_H

#include <stddef.h>

#include "qfile.h"

#define CLEANUP_PROTOCOL	"cleanup"
#define CLEANUP_VERSION		2
#define CLEANUP_CHUNK		65536
#define CLEANUP_SERVICE		"public/cleanup"	/* relative to queue_directory */

/* flags= bits */
#define CLEANUP_FLAG_LOCAL	(1 << 0)	/* local submission: add missing headers, Received */
#define CLEANUP_FLAG_HOLD	(1 << 1)	/* queue into hold/ */

struct cleanup_envelope {
	const char *sender;		/* "" = null sender */
	const char *origin;		/* "local", "smtp", "bounce", "forward" */
	long uid;			/* submitting uid, -1 unknown */
	const char *fullname;		/* NULL or the -F name */
	long long arrival;		/* seconds; 0 = now */
	int flags;			/* CLEANUP_FLAG_* */
	const char *envid, *ret, *body_type;	/* DSN ENVID, RET, 8BITMIME; NULL = none */
	const char *dsn_kind;		/* "bounce", "double", "delay": set by bounce(8) */
	const char *log_ident;		/* original queue id for the log, or NULL */
	const char *smtputf8;		/* "1": MAIL FROM had SMTPUTF8; NULL = no */
};

struct cleanup_result {
	int status;			/* 0 queued, 4 temporary, 5 permanent */
	char dsn[16];
	char reason[512];
	char queue_id[QID_MAX];
};

struct cleanup_client;

/* cleanup_open - connects (path NULL = CLEANUP_SERVICE relative to the
 * current directory, which every daemon has set to queue_directory).
 * NULL with *err (malloc'ed) when cleanup cannot be reached. */
struct cleanup_client *cleanup_open(const char *path, char **err);

/* The senders return 0, or -1 once the connection failed (later calls are
 * no-ops; cleanup_finish then reports status 4). */
int cleanup_envelope(struct cleanup_client *c, const struct cleanup_envelope *env);

/* cleanup_queue_id - the ID cleanup gave the queue file in its answer to
 * the envelope; "" before that, or when it could not create one (the
 * reason comes with cleanup_finish). */
const char *cleanup_queue_id(const struct cleanup_client *c);
int cleanup_rcpt(struct cleanup_client *c, const char *address, const char *orig,
		 const char *notify);
int cleanup_data(struct cleanup_client *c, const void *buf, size_t len);

/* cleanup_finish - sends end, reads the reply, closes, frees c; returns
 * result->status. */
int cleanup_finish(struct cleanup_client *c, struct cleanup_result *result);

/* cleanup_hold - the message is to go to hold/ after all (a HOLD decided
 * at the end of the content); sent with request=end as hold=1. */
void cleanup_hold(struct cleanup_client *c);

/* cleanup_abort - tells cleanup to discard what it got; closes, frees c. */
void cleanup_abort(struct cleanup_client *c);

#endif
