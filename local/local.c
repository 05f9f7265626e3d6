/* local - delivers to users of this host: mailboxes, aliases, .forward.
 *
 * Runs as root (master.cf unpriv n) only to switch to each recipient;
 * every write into a mailbox, file or command happens in a child with the
 * recipient's (or default_privs') identity. Requests from qmgr come one
 * after another on a connection (lib/qmgr_proto.h). For each recipient, in the order of
 * docs/QUEUE.md: deliver (the mailbox write is fsynced), then record a
 * deferral in defer/ID or mark the recipient done, then reply.
 *
 * master.cf: local unix - n n - - local
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "delivery_agent.h"
#include "dsnlog.h"
#include "local.h"
#include "mem.h"
#include "msg.h"
#include "qfile.h"
#include "qread.h"
#include "rec.h"
#include "server.h"
#include "vstr.h"

#define HEADER_SCAN_MAX		(256 * 1024)

/* delivered_to_headers - the Delivered-To: values in the header block */
static char *delivered_to_headers(int fd, off_t content_offset)
{
	struct qenvelope env;
	struct qcontent c;
	vstr hdr = VSTR_INIT, out = VSTR_INIT;
	const char *buf, *p, *end;
	ssize_t n;

	memset(&env, 0, sizeof(env));
	env.content_offset = content_offset;
	qcontent_open(&c, fd, &env);
	while (vstr_len(&hdr) < HEADER_SCAN_MAX && strstr(vstr_str(&hdr), "\n\n") == NULL
	       && (n = qcontent_next(&c, &buf)) > 0)
		vstr_ncat(&hdr, buf, (size_t)n);
	qcontent_close(&c);
	end = strstr(vstr_str(&hdr), "\n\n");
	for (p = vstr_str(&hdr); p && *p && (end == NULL || p < end); p = strchr(p, '\n'), p = p ? p + 1 : p) {
		if (strncasecmp(p, "Delivered-To:", 13) == 0) {
			const char *v = p + 13, *nl = strchr(v, '\n');
			size_t len = nl ? (size_t)(nl - v) : strlen(v);

			while (len && isspace((unsigned char)*v))
				v++, len--;
			while (len && isspace((unsigned char)v[len - 1]))
				len--;
			vstr_ncat(&out, v, len);
			vstr_catc(&out, '\n');
		}
	}
	vstr_release(&hdr);
	return vstr_steal(&out);
}

/* one_rcpt - deliver, then record the outcome in the queue file's order:
 * the leaves (mailboxes, files, commands, forwards) logged and entered in
 * bounce/ and trace/ themselves; here the recipient as a whole */
static void one_rcpt(struct local_msg *msg, struct da_request *req, size_t k)
{
	const struct da_rcpt *r = &req->rcpt[k];
	struct local_result res;
	enum da_status status;

	local_deliver_rcpt(msg, r->addr, r->orig, r->notify, &res);
	if (res.status == 4) {
		struct dsn_entry e = {(char *)r->addr, (char *)r->orig, res.dsn, "delayed", (char *)r->notify,
				      "", "", res.reason};

		if (dsnlog_append("defer", msg->queue_id, &e) < 0)
			msg_warn("%s: cannot append to defer log: %m", msg->queue_id);
		status = DA_DEFERRED;
	} else {
		if (r->offset <= 0 || rec_mark(msg->fd, r->offset, REC_DONE) < 0)
			msg_warn("%s: cannot mark %s done: %m", msg->queue_id, r->addr);
		status = res.status == 0 ? DA_SENT : DA_BOUNCED;
	}
	da_decided(req, k, status, res.dsn, res.reason);
}

static void deliver(struct da_request *req, void *ctx)
{
	struct local_msg msg;

	(void)ctx;
	memset(&msg, 0, sizeof(msg));
	msg.queue_id = req->queue_id;
	msg.sender = req->sender;
	msg.fd = req->fd;
	msg.content_offset = req->content_offset;
	msg.times = req->times;
	msg.arrival = (long long)msg.times.arrival;
	msg.delivered_to = delivered_to_headers(msg.fd, msg.content_offset);
	for (size_t k = 0; k < req->nrcpt; k++)
		one_rcpt(&msg, req, k);
	free(msg.delivered_to);
}

static void serve(int fd)
{
	static const struct da_ops ops = {deliver, NULL};

	da_serve(fd, &ops, NULL);
}

static const struct server_ops local_ops = {
	.mode = SERVER_SINGLE,
	.single = serve,
};

int main(int argc, char **argv)
{
	server_main(argc, argv, &local_ops);
}
