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

#include "attr.h"
#include "config.h"
#include "dsnlog.h"
#include "ipc.h"
#include "local.h"
#include "mem.h"
#include "msg.h"
#include "qfile.h"
#include "qmgr_proto.h"
#include "qread.h"
#include "rec.h"
#include "server.h"
#include "vstr.h"

#define LOCAL_MAX_FRAME		(4 * 1024 * 1024)
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

static const char *get(const struct attr_list *l, const char *name)
{
	const char *v = "";

	attr_get_line(l, name, &v);
	return v;
}

/* one_rcpt - deliver, then record the outcome in the queue file's order */
static const char *one_rcpt(struct local_msg *msg, const struct attr_list *req, size_t k,
			    struct attr_list *rep, char *key, size_t keysize)
{
	long long offset = -1;
	struct local_result res;
	const char *rcpt, *orig, *notify;

	snprintf(key, keysize, "r%zu_addr", k);
	rcpt = get(req, key);
	snprintf(key, keysize, "r%zu_orig", k);
	orig = get(req, key);
	snprintf(key, keysize, "r%zu_notify", k);
	notify = get(req, key);
	snprintf(key, keysize, "r%zu_offset", k);
	attr_get_int(req, key, &offset);
	local_deliver_rcpt(msg, rcpt, orig, notify, &res);
	if (res.status == 4) {
		struct dsn_entry e = {(char *)rcpt, (char *)orig, res.dsn, "delayed", (char *)notify, "", "",
				      res.reason};

		if (dsnlog_append("defer", msg->queue_id, &e) < 0)
			msg_warn("%s: cannot append to defer log: %m", msg->queue_id);
	} else if (offset <= 0 || rec_mark(msg->fd, (off_t)offset, REC_DONE) < 0) {
		msg_warn("%s: cannot mark %s done: %m", msg->queue_id, rcpt);
	}
	snprintf(key, keysize, "r%zu_dsn", k);
	attr_add_str(rep, key, res.dsn);
	snprintf(key, keysize, "r%zu_reason", k);
	attr_add_str(rep, key, res.reason);
	return res.status == 0 ? "sent" : res.status == 4 ? "deferred" : "bounced";
}

static int parse_times(const char *s, struct delivery_times *t)
{
	memset(t, 0, sizeof(*t));
	return sscanf(s, "%lf %lf %lf", &t->arrival, &t->active, &t->dispatch) == 3 ? 0 : -1;
}

static void handle(int fd, const struct attr_list *req)
{
	struct attr_list rep = ATTR_LIST_INIT;
	struct local_msg msg;
	long long count = 0, offset = 0;
	char path[256], key[32];
	const char *id = get(req, "queue_id");

	memset(&msg, 0, sizeof(msg));
	msg.queue_id = id;
	msg.sender = get(req, "sender");
	attr_get_int(req, "content_offset", &offset);
	attr_get_int(req, "rcpt_count", &count);
	msg.content_offset = (off_t)offset;
	parse_times(get(req, "times"), &msg.times);
	msg.arrival = (long long)msg.times.arrival;
	snprintf(path, sizeof(path), "active/%s", id);
	attr_add_int(&rep, "status", 0);
	if (!qid_valid(id) || (msg.fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		msg_warn("%s: cannot open queue file: %m", id);
		for (long long k = 0; k < count; k++) {
			snprintf(key, sizeof(key), "r%lld_status", k);
			attr_add_str(&rep, key, "deferred");
		}
	} else {
		msg.delivered_to = delivered_to_headers(msg.fd, msg.content_offset);
		for (long long k = 0; k < count && k < 100000; k++) {
			const char *status = one_rcpt(&msg, req, (size_t)k, &rep, key, sizeof(key));

			snprintf(key, sizeof(key), "r%lld_status", k);
			attr_add_str(&rep, key, status);
		}
		close(msg.fd);
		free(msg.delivered_to);
	}
	if (attr_write(fd, &rep, 30000) < 0)
		msg_warn("%s: cannot reply to qmgr: %m", id);
	attr_list_clear(&rep);
}

static void serve(int fd)
{
	struct attr_list req = ATTR_LIST_INIT;

	if (ipc_send_greeting(fd, DELIVERY_PROTOCOL, 1, 10000) < 0)
		return;
	/* requests one after another until qmgr closes the connection */
	while (attr_read(fd, &req, LOCAL_MAX_FRAME, DELIVERY_IDLE_MS) == 0) {
		server_watchdog_reset();
		handle(fd, &req);
		attr_list_clear(&req);
	}
	attr_list_clear(&req);
}

static const struct server_ops local_ops = {
	.mode = SERVER_SINGLE,
	.single = serve,
};

int main(int argc, char **argv)
{
	server_main(argc, argv, &local_ops);
}
