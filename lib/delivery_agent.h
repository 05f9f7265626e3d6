/* delivery_agent - the agent side of qmgr's delivery protocol.
 *
 * A delivery agent (smtp, lmtp, local) plugs a handler into
 * da_serve(), which sends the greeting, reads request frames until qmgr
 * closes the connection (or DELIVERY_IDLE_MS pass), parses each into a
 * struct da_request, opens the queue file, calls the handler, and writes
 * the reply (lib/qmgr_proto.h). The handler decides each recipient with
 * da_record(), which does the bookkeeping of docs/QUEUE.md in its order:
 *
 *   deferred: append to defer/ID
 *   bounced:  append to bounce/ID (fsynced), then mark the recipient done
 *   sent:     a trace/ID entry when NOTIFY has SUCCESS, then mark it done
 *   then the to=<...> log line, then the reply attributes.
 *
 * A recipient the handler leaves undecided is deferred by da_serve with
 * 4.3.0, so no reply ever lacks a status.
 */
#ifndef POSTERN_DELIVERY_AGENT_H
#define POSTERN_DELIVERY_AGENT_H

#include <stddef.h>
#include <sys/types.h>

#include "attr.h"
#include "delivery_log.h"

#define DA_MAX_FRAME	(4 * 1024 * 1024)
#define DA_MAX_RCPT	100000

enum da_status { DA_UNDECIDED, DA_SENT, DA_DEFERRED, DA_BOUNCED };

struct da_rcpt {
	const char *addr;
	const char *orig;	/* "" if none */
	const char *notify;	/* canonical NOTIFY, "" = default */
	off_t offset;		/* of its R record in the queue file */
	enum da_status status;
};

struct da_request {
	const char *queue_id;
	const char *queue_name;
	const char *sender;
	const char *nexthop;
	const char *envid;	/* "" if none */
	const char *ret;	/* "FULL", "HDRS" or "" */
	const char *dsn_kind;
	const char *body_type;	/* "7BIT", "8BITMIME" or "" */
	int smtputf8;
	struct delivery_times times;	/* the agent sets times.connected */
	off_t content_offset;
	long long content_size;
	struct da_rcpt *rcpt;
	size_t nrcpt;
	int fd;			/* the queue file, O_RDWR (da_serve opens it) */
	int hop_failed;		/* the handler sets it: no server was reachable */
	struct attr_list reply;
};

/* What happened to one recipient. */
struct da_outcome {
	enum da_status status;
	const char *dsn;	/* "2.0.0", "4.4.1", "5.1.1" */
	const char *reason;	/* for the log, the reply and the DSN */
	const char *relay;	/* log relay= field: "local", "host[addr]:port" */
	const char *remote_mta;	/* "dns; host" or "" */
	const char *diagnostic;	/* "smtp; 550 5.1.1 ..." or "" */
	int conn_use;		/* logged as conn_use=N when > 1 */
};

/* da_request_parse - fills req from a request frame; the strings point
 * into l. Returns 0, or -1 with a static reason in *err. */
int da_request_parse(const struct attr_list *l, struct da_request *req, const char **err);
void da_request_free(struct da_request *req);

/* da_record - records recipient i's outcome (see above). A bounce that
 * cannot be logged becomes a deferral (4.3.0). */
void da_record(struct da_request *req, size_t i, const struct da_outcome *o);

/* da_decided - for an agent that did the bookkeeping itself (local logs
 * and records each alias or .forward leaf on its own): only the status
 * and the reply attributes of recipient i. */
void da_decided(struct da_request *req, size_t i, enum da_status status, const char *dsn,
		const char *reason);

/* da_pending - recipients not decided yet. */
size_t da_pending(const struct da_request *req);

struct da_ops {
	void (*deliver)(struct da_request *req, void *ctx);
	void (*done)(void *ctx);	/* qmgr closed the connection */
};

/* da_serve - the whole conversation with qmgr on fd. */
void da_serve(int fd, const struct da_ops *ops, void *ctx);

#endif
