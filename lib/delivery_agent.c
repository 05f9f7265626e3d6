/* delivery_agent - the agent side of qmgr's delivery protocol: request
 * parsing, the serve loop, and the per-recipient bookkeeping in the order
 * of docs/QUEUE.md (see delivery_agent.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "delivery_agent.h"
#include "dsnlog.h"
#include "ipc.h"
#include "mem.h"
#include "msg.h"
#include "qfile.h"
#include "qmgr_proto.h"
#include "rec.h"
#include "server.h"

#define DA_WRITE_MS	30000

static const char *opt_line(const struct attr_list *l, const char *name)
{
	const char *v = "";

	attr_get_line(l, name, &v);
	return v;
}

static int parse_times(const char *s, struct delivery_times *t)
{
	memset(t, 0, sizeof(*t));
	return sscanf(s, "%lf %lf %lf", &t->arrival, &t->active, &t->dispatch) == 3 ? 0 : -1;
}

/* parse_rcpt - the rI_* attributes of recipient i */
static int parse_rcpt(const struct attr_list *l, size_t i, struct da_rcpt *r)
{
	char key[40];
	long long off = 0;

	snprintf(key, sizeof(key), "r%zu_addr", i);
	if (attr_get_line(l, key, &r->addr) < 0)
		return -1;
	snprintf(key, sizeof(key), "r%zu_orig", i);
	r->orig = opt_line(l, key);
	snprintf(key, sizeof(key), "r%zu_notify", i);
	r->notify = opt_line(l, key);
	snprintf(key, sizeof(key), "r%zu_offset", i);
	if (attr_get_int(l, key, &off) < 0 || off <= 0)
		return -1;
	r->offset = (off_t)off;
	r->status = DA_UNDECIDED;
	return 0;
}

int da_request_parse(const struct attr_list *l, struct da_request *req, const char **err)
{
	long long count = 0, off = 0, size = 0;

	memset(req, 0, sizeof(*req));
	req->fd = -1;
	if (attr_get_line(l, "queue_id", &req->queue_id) < 0 || !qid_valid(req->queue_id))
		return *err = "bad queue_id", -1;
	if (attr_get_line(l, "sender", &req->sender) < 0 || attr_get_line(l, "nexthop", &req->nexthop) < 0)
		return *err = "missing sender or nexthop", -1;
	if (attr_get_int(l, "content_offset", &off) < 0 || off <= 0
	    || attr_get_int(l, "content_size", &size) < 0 || size < 0)
		return *err = "bad content_offset or content_size", -1;
	if (attr_get_int(l, "rcpt_count", &count) < 0 || count < 1 || count > DA_MAX_RCPT)
		return *err = "bad rcpt_count", -1;
	req->queue_name = opt_line(l, "queue_name");
	req->envid = opt_line(l, "envid");
	req->ret = opt_line(l, "ret");
	req->dsn_kind = opt_line(l, "dsn_kind");
	req->body_type = opt_line(l, "body_type");
	req->smtputf8 = strcmp(opt_line(l, "smtputf8"), "1") == 0;
	parse_times(opt_line(l, "times"), &req->times);
	req->content_offset = (off_t)off;
	req->content_size = size;
	req->rcpt = xcalloc((size_t)count, sizeof(*req->rcpt));
	req->nrcpt = (size_t)count;
	for (size_t i = 0; i < req->nrcpt; i++)
		if (parse_rcpt(l, i, &req->rcpt[i]) < 0) {
			da_request_free(req);
			return *err = "bad recipient attributes", -1;
		}
	return 0;
}

void da_request_free(struct da_request *req)
{
	free(req->rcpt);
	req->rcpt = NULL;
	req->nrcpt = 0;
	if (req->fd >= 0)
		close(req->fd);
	req->fd = -1;
	attr_list_clear(&req->reply);
}

size_t da_pending(const struct da_request *req)
{
	size_t n = 0;

	for (size_t i = 0; i < req->nrcpt; i++)
		n += req->rcpt[i].status == DA_UNDECIDED;
	return n;
}

static const char *status_word(enum da_status s)
{
	return s == DA_SENT ? "sent" : s == DA_BOUNCED ? "bounced" : "deferred";
}

/* log_status_file - the dsnlog entry the outcome calls for; -1 on error */
static int log_status_file(const struct da_request *req, const struct da_rcpt *r,
			   const struct da_outcome *o)
{
	struct dsn_entry e = {(char *)r->addr, (char *)r->orig, (char *)o->dsn, "failed",
			      (char *)r->notify, (char *)(o->remote_mta ? o->remote_mta : ""),
			      (char *)(o->diagnostic ? o->diagnostic : ""), (char *)o->reason};

	if (o->status == DA_DEFERRED) {
		e.action = "delayed";
		if (dsnlog_append("defer", req->queue_id, &e) < 0)
			msg_warn("%s: cannot append to defer log: %m", req->queue_id);
		return 0;	/* the recipient stays R either way */
	}
	if (o->status == DA_BOUNCED)
		return dsnlog_append("bounce", req->queue_id, &e);
	if (strstr(r->notify, "SUCCESS")) {
		e.action = "delivered";
		if (dsnlog_append("trace", req->queue_id, &e) < 0)
			msg_warn("%s: cannot append to trace log: %m", req->queue_id);
	}
	return 0;
}

static void add_reply(struct da_request *req, size_t i, const char *status, const char *dsn,
		      const char *reason)
{
	char key[40];

	snprintf(key, sizeof(key), "r%zu_status", i);
	attr_add_str(&req->reply, key, status);
	snprintf(key, sizeof(key), "r%zu_dsn", i);
	attr_add_str(&req->reply, key, dsn);
	snprintf(key, sizeof(key), "r%zu_reason", i);
	attr_add_str(&req->reply, key, reason);
}

void da_record(struct da_request *req, size_t i, const struct da_outcome *o)
{
	struct da_rcpt *r = &req->rcpt[i];
	char relay[600];

	if (r->status != DA_UNDECIDED)
		msg_panic("%s: recipient %zu decided twice", req->queue_id, i);
	if (log_status_file(req, r, o) < 0) {
		char why[300];
		struct da_outcome d = *o;

		snprintf(why, sizeof(why), "cannot append to bounce log: %s", strerror(errno));
		d.status = DA_DEFERRED, d.dsn = "4.3.0", d.reason = why;
		da_record(req, i, &d);
		return;
	}
	if (o->status != DA_DEFERRED && rec_mark(req->fd, r->offset, REC_DONE) < 0)
		msg_warn("%s: cannot mark %s done: %m", req->queue_id, r->addr);
	r->status = o->status;
	/* Postfix puts conn_use right after relay=; delivery_log has no field for it. */
	if (o->conn_use > 1)
		snprintf(relay, sizeof(relay), "%s, conn_use=%d", o->relay, o->conn_use);
	else
		snprintf(relay, sizeof(relay), "%s", o->relay);
	delivery_log(req->queue_id, r->addr, r->orig, relay, &req->times, o->dsn,
		     status_word(o->status), o->reason);
	add_reply(req, i, status_word(o->status), o->dsn, o->reason);
}

void da_decided(struct da_request *req, size_t i, enum da_status status, const char *dsn,
		const char *reason)
{
	if (req->rcpt[i].status != DA_UNDECIDED)
		msg_panic("%s: recipient %zu decided twice", req->queue_id, i);
	req->rcpt[i].status = status;
	add_reply(req, i, status_word(status), dsn, reason);
}

/* open_queue_file - the active queue file, or every recipient deferred */
static int open_queue_file(struct da_request *req)
{
	char path[256];
	const char *qname = *req->queue_name ? req->queue_name : "active";

	if (strcmp(qname, "active") != 0) {
		errno = EINVAL;
	} else {
		snprintf(path, sizeof(path), "active/%s", req->queue_id);
		req->fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (req->fd >= 0)
			return 0;
	}
	msg_warn("%s: cannot open queue file: %m", req->queue_id);
	return -1;
}

/* finish - defers what the handler left undecided and writes the reply */
static int finish(int fd, struct da_request *req, int opened)
{
	struct da_outcome o = {DA_DEFERRED, "4.3.0", "delivery agent did not decide", "none", "", "", 0};

	for (size_t i = 0; i < req->nrcpt; i++) {
		if (req->rcpt[i].status != DA_UNDECIDED)
			continue;
		if (opened)
			da_record(req, i, &o);
		else
			add_reply(req, i, "deferred", "4.3.0", "cannot open queue file");
	}
	attr_add_str(&req->reply, "hop_status", req->hop_failed ? "failed" : "ok");
	if (attr_write(fd, &req->reply, DA_WRITE_MS) < 0) {
		msg_warn("%s: cannot reply to qmgr: %m", req->queue_id);
		return -1;
	}
	return 0;
}

/* one_request - parse, deliver, reply; -1 ends the conversation */
static int one_request(int fd, const struct attr_list *l, const struct da_ops *ops, void *ctx)
{
	struct da_request req;
	const char *err = "";
	int opened, ret;

	if (da_request_parse(l, &req, &err) < 0) {
		msg_warn("malformed delivery request: %s", err);
		return -1;
	}
	attr_add_int(&req.reply, "status", 0);
	opened = open_queue_file(&req) == 0;
	if (opened)
		ops->deliver(&req, ctx);
	ret = finish(fd, &req, opened);
	da_request_free(&req);
	return ret;
}

void da_serve(int fd, const struct da_ops *ops, void *ctx)
{
	struct attr_list l = ATTR_LIST_INIT;
	int r;

	if (ipc_send_greeting(fd, DELIVERY_PROTOCOL, 1, 10000) < 0) {
		msg_warn("cannot greet qmgr: %m");
	} else {
		while ((r = attr_read(fd, &l, DA_MAX_FRAME, DELIVERY_IDLE_MS)) == 0) {
			server_watchdog_reset();	/* one connection may last long */
			if (one_request(fd, &l, ops, ctx) < 0)
				break;
			attr_list_clear(&l);
		}
		if (r < 0 && errno != ETIMEDOUT)
			msg_warn("reading a delivery request: %m");
	}
	attr_list_clear(&l);
	if (ops->done)
		ops->done(ctx);
}
