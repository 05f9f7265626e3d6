/* showq - lists the mail queue for unprivileged users; see showq(8).
 *
 * master.cf:  showq  unix  n  -  n  -  -  showq
 *
 * public/showq is reachable by members of setgid_group (postqueue(1) is
 * setgid to it), so every client is untrusted: one request frame, read
 * with a short deadline and a small size cap; anything malformed drops
 * that client only. Runs as mail_owner, which may read the queue and may
 * wake qmgr on private/qmgr: that is why flush requests come here rather
 * than from postqueue itself.
 *
 * A listing streams one message at a time (showq_format.h), so memory does
 * not grow with the queue.
 */
#include <errno.h>
#include <string.h>

#include "attr.h"
#include "config.h"
#include "ipc.h"
#include "msg.h"
#include "qmgr_proto.h"
#include "server.h"
#include "showq_format.h"

#define SHOWQ_REQUEST_TIMEOUT_MS	30000	/* an idle client holds a showq process */
#define SHOWQ_SITE_MAX			255	/* a domain name */

static int reply_timeout_ms(void)
{
	long long t = conf_time("ipc_timeout");

	return t > 86400 ? 86400000 : (int)(t * 1000);
}

/* send_listed - showq_scan callback: one message to the client */
static int send_listed(const struct showq_msg *m, void *ctx)
{
	int fd = *(int *)ctx;

	if (showq_send_msg(fd, m, reply_timeout_ms()) < 0) {
		if (errno != EPIPE && errno != ECONNRESET)
			msg_warn("send listing: %m");
		return -1;
	}
	return 0;
}

static void serve_list(int fd)
{
	if (showq_scan(".", send_listed, &fd) == 0 && showq_send_end(fd, reply_timeout_ms()) < 0)
		msg_warn("send listing end: %m");
}

static void reply_status(int fd, int status, const char *reason)
{
	struct attr_list l = ATTR_LIST_INIT;

	attr_add_int(&l, "status", status);
	if (reason)
		attr_add_str(&l, "reason", reason);
	if (attr_write(fd, &l, reply_timeout_ms()) < 0)
		msg_warn("send reply: %m");
	attr_list_clear(&l);
}

/* serve_flush - checks the optional fields, then wakes qmgr. Per-site and
 * per-message flushes are full flushes until a flush service exists. */
static void serve_flush(int fd, const struct attr_list *req)
{
	const char *id = NULL, *site = NULL;

	if (attr_find(req, "queue_id") && (attr_get_line(req, "queue_id", &id) < 0 || !qid_valid(id))) {
		msg_warn("flush request with a malformed queue_id");
		reply_status(fd, 5, "malformed queue ID");
		return;
	}
	if (attr_find(req, "site") && (attr_get_line(req, "site", &site) < 0
				       || strlen(site) > SHOWQ_SITE_MAX)) {
		msg_warn("flush request with a malformed site");
		reply_status(fd, 5, "malformed site name");
		return;
	}
	if (ipc_trigger(QMGR_SERVICE, 0, QMGR_FLUSH, strlen(QMGR_FLUSH),
			(int)(1000 * conf_time("trigger_timeout"))) < 0) {
		msg_warn("flush: cannot wake qmgr on %s: %m", QMGR_SERVICE);
		reply_status(fd, 4, "the queue manager is not running");
		return;
	}
	msg_info("flush requested%s%s%s%s", id ? " for " : "", id ? id : "",
		 site ? " for site " : "", site ? site : "");
	reply_status(fd, 0, NULL);
}

static void serve(int fd)
{
	struct attr_list req = ATTR_LIST_INIT;
	const char *what;
	int r;

	if (ipc_send_greeting(fd, SHOWQ_PROTOCOL, SHOWQ_VERSION, reply_timeout_ms()) < 0)
		return;
	r = attr_read(fd, &req, SHOWQ_REQUEST_MAX, SHOWQ_REQUEST_TIMEOUT_MS);
	if (r == 1)
		return;			/* connected and went away */
	if (r < 0) {
		msg_warn("read request: %s", errno == EBADMSG || errno == EMSGSIZE
			 ? "malformed request" : strerror(errno));
	} else if (attr_get_line(&req, "request", &what) < 0) {
		msg_warn("request without a request attribute");
	} else if (strcmp(what, "list") == 0) {
		serve_list(fd);
	} else if (strcmp(what, "flush") == 0) {
		serve_flush(fd, &req);
	} else {
		msg_warn("unknown request \"%.40s\"", what);
	}
	attr_list_clear(&req);
}

static void check_args(void)
{
	if (server_args()->n > 0)
		msg_fatal("unexpected command-line argument: %s", server_args()->v[0]);
}

static const struct server_ops ops = {
	.mode = SERVER_SINGLE,
	.post_jail = check_args,
	.single = serve,
};

int main(int argc, char **argv)
{
	server_main(argc, argv, &ops);
}
