/* bounce - the delivery status notification service (bounce(8)).
 *
 * qmgr asks, over private/bounce, for a notification about one message:
 * request=notify (the recipients in bounce/ID failed), request=delay (the
 * recipients in defer/ID are still being retried) or request=success (the
 * recipients in trace/ID with NOTIFY=SUCCESS were delivered). bounce reads
 * the status log and the original queue file, builds the RFC 3464 report
 * (dsn.c) and queues it through cleanup with the null sender, then replies
 * status=0; when cleanup cannot take it, status=4 and qmgr asks again
 * later. It never removes the logs or the queue file: that is qmgr's step
 * after a status=0 (docs/QUEUE.md row 7), so a crash in between costs at
 * worst a second notification, never a lost one.
 *
 * Loops: nothing is ever sent to the null sender. A failure of null-sender
 * mail becomes a double bounce to 2bounce_notice_recipient, queued with
 * dsn_kind=double; a failure of that is logged and dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "attr.h"
#include "cleanup_client.h"
#include "config.h"
#include "dsn.h"
#include "dsnlog.h"
#include "ipc.h"
#include "mem.h"
#include "msg.h"
#include "qfile.h"
#include "qmgr_proto.h"
#include "qread.h"
#include "server.h"

#define BOUNCE_VERSION		1
#define BOUNCE_FRAME_MAX	65536	/* a request is a few short attributes */

/* One request, from the log entries to the queued notification. */
struct job {
	enum dsn_type type;
	const char *queue_id;
	const char *queue_name;
	struct dsn_entry *log;		/* the status log */
	int nlog;
	struct qenvelope env;
	int have_env;
	int fd;				/* the queue file */
};

/* ipc_timeout_ms - ipc_timeout for one exchange, in milliseconds */
static int ipc_timeout_ms(void)
{
	long long t = conf_time("ipc_timeout");

	return t > INT_MAX / 1000 ? INT_MAX : (int)(t * 1000);
}

/* log_dir - the status log a request reads */
static const char *log_dir(enum dsn_type type)
{
	return type == DSN_TYPE_FAILURE ? "bounce" : type == DSN_TYPE_DELAY ? "defer" : "trace";
}

/* queue_name_ok - whether a request may name this queue */
static int queue_name_ok(const char *queue_name)
{
	static const char *const names[] = {"active", "incoming", "deferred", "hold", "corrupt"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(queue_name, names[i]) == 0)
			return 1;
	return 0;
}

/* queue_path - where queue_name keeps ID (deferred/ is hashed) */
static char *queue_path(const char *queue_name, const char *id)
{
	if (strcmp(queue_name, "deferred") == 0)
		return xasprintf("deferred/%c/%s", qid_hash_char(id), id);
	return xasprintf("%s/%s", queue_name, id);
}

/* open_queue_file - reads the envelope of the original message */
static int open_queue_file(struct job *j, char **why)
{
	char *path = queue_path(j->queue_name, j->queue_id);
	const char *err;

	if ((j->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		*why = xasprintf("open queue file %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	if (qread_envelope(j->fd, &j->env, 0, &err) < 0) {
		*why = xasprintf("queue file %s: %s", path, err);
		free(path);
		return -1;
	}
	j->have_env = 1;
	free(path);
	return 0;
}

/* fill_notify - gives log entries without NOTIFY the recipient's NOTIFY
 * from the queue file (an agent may not have recorded it) */
static void fill_notify(struct job *j)
{
	for (int i = 0; i < j->nlog; i++) {
		struct dsn_entry *e = &j->log[i];

		if (*e->notify)
			continue;
		for (size_t k = 0; k < j->env.nrcpt; k++) {
			const struct qrcpt *r = &j->env.rcpt[k];

			if (*r->notify && strcmp(r->address, e->recipient) == 0
			    && strcmp(r->orig, e->orig) == 0) {
				free(e->notify);
				e->notify = xstrdup(r->notify);
				break;
			}
		}
	}
}

/* submit - queues the notification through cleanup; 0 with the new queue
 * ID in new_id, or 4 with *why */
static int submit(const struct job *j, const char *to, const char *kind, const vstr *msg,
		  int eightbit, char *new_id, size_t size, char **why)
{
	struct cleanup_envelope e;
	struct cleanup_result res;
	struct cleanup_client *c;
	char *err;

	if ((c = cleanup_open(NULL, &err)) == NULL) {
		*why = err;
		return 4;
	}
	memset(&e, 0, sizeof(e));
	e.sender = "";
	e.origin = "bounce";
	e.uid = -1;
	e.body_type = eightbit ? "8BITMIME" : NULL;
	e.dsn_kind = kind;
	e.log_ident = j->queue_id;
	cleanup_envelope(c, &e);
	cleanup_rcpt(c, to, NULL, NULL);
	cleanup_data(c, vstr_str(msg), vstr_len(msg));
	if (cleanup_finish(c, &res) == 5) {
		/* refused for good: retrying would loop; the log keeps the trace */
		msg_warn("%s: cleanup refused the notification for good: %s %s -- dropped",
			 j->queue_id, res.dsn, res.reason);
		snprintf(new_id, size, "(dropped)");
		return 0;
	}
	if (res.status != 0) {
		*why = xasprintf("cleanup: %s%s%s", res.dsn, *res.dsn ? " " : "", res.reason);
		return 4;
	}
	snprintf(new_id, size, "%s", res.queue_id);
	return 0;
}

/* log_dropped - the end of the loop: a double bounce that failed */
static void log_dropped(const struct job *j, const struct dsn_entry *sel, size_t n)
{
	for (size_t i = 0; i < n; i++)
		msg_info("%s: double bounce dropped: <%s>: %s", j->queue_id, sel[i].recipient,
			 *sel[i].reason ? sel[i].reason : sel[i].dsn);
}

/* type_name - what a notification is called in the log */
static const char *type_name(enum dsn_type type)
{
	return type == DSN_TYPE_FAILURE ? "non-delivery notification"
		: type == DSN_TYPE_DELAY ? "delay notification" : "delivery status notification";
}

/* log_queued - Postfix's line for a queued notification */
static void log_queued(const struct job *j, enum dsn_route route, const char *new_id)
{
	msg_info("%s: %s %s: %s", j->queue_id, route == DSN_ROUTE_POSTMASTER ? "postmaster" : "sender",
		 type_name(j->type), new_id);
}

/* lifetime - maximal_queue_lifetime when this build knows it, else 0 */
static long long lifetime(void)
{
	return param_find("maximal_queue_lifetime") ? conf_time("maximal_queue_lifetime") : 0;
}

/* notify - builds and queues the notification for the selected entries */
static int notify(struct job *j, enum dsn_route route, const struct dsn_entry *sel, size_t n,
		  char **why)
{
	const char *ret = qenvelope_attr(&j->env, "ret");
	long long limit = conf_int("bounce_size_limit");
	struct dsn_report r;
	vstr original = VSTR_INIT, msg = VSTR_INIT;
	char new_id[QID_MAX];
	int headers_only, eightbit, status;
	/* RFC 3461 4.3: only a failure returns the whole message. */
	int want_full = j->type == DSN_TYPE_FAILURE && !(ret && strcasecmp(ret, "hdrs") == 0);

	if (dsn_original(j->fd, &j->env, want_full, (size_t)limit, &original, &headers_only) < 0) {
		*why = xasprintf("queue file %s/%s: cannot read the content", j->queue_name, j->queue_id);
		vstr_release(&original);
		return 4;
	}
	memset(&r, 0, sizeof(r));
	r.type = j->type;
	r.postmaster = route == DSN_ROUTE_POSTMASTER;
	r.queue_id = j->queue_id;
	r.myhostname = conf_str("myhostname");
	r.to = r.postmaster ? conf_str("2bounce_notice_recipient") : j->env.sender;
	r.sender = j->env.sender;
	r.envid = qenvelope_attr(&j->env, "envid");
	r.now = time(NULL);
	r.arrival = j->env.arrival;
	r.lifetime = j->type == DSN_TYPE_DELAY ? lifetime() : 0;
	r.rcpt = sel;
	r.nrcpt = n;
	r.original = vstr_str(&original);
	r.original_len = vstr_len(&original);
	r.headers_only = headers_only;
	eightbit = dsn_build(&r, &msg);
	status = submit(j, r.to, dsn_type_kind(j->type, route), &msg, eightbit, new_id,
			sizeof(new_id), why);
	if (status == 0)
		log_queued(j, route, new_id);
	vstr_release(&original);
	vstr_release(&msg);
	return status;
}

/* run_job - the whole request; 0, or 4 with *why */
static int run_job(struct job *j, char **why)
{
	struct dsn_entry *sel;
	enum dsn_route route;
	size_t n;
	int status = 0;

	if ((j->nlog = dsnlog_read(log_dir(j->type), j->queue_id, &j->log)) < 0) {
		*why = xasprintf("read %s/%s: %s", log_dir(j->type), j->queue_id, strerror(errno));
		return 4;
	}
	sel = xcalloc((size_t)j->nlog + 1, sizeof(*sel));
	if (dsn_select(j->log, (size_t)j->nlog, j->type, 1, sel) == 0)
		goto done;		/* nothing of this kind was logged */
	if (open_queue_file(j, why) < 0) {
		status = 4;
		goto done;
	}
	fill_notify(j);
	route = dsn_route_for(j->type, j->env.sender, qenvelope_attr(&j->env, "dsn_kind"));
	if (route == DSN_ROUTE_POSTMASTER && *conf_str("2bounce_notice_recipient") == 0)
		route = DSN_ROUTE_DROP;	/* nobody to tell */
	/* A postmaster copy reports every recipient; NOTIFY is the sender's. */
	n = dsn_select(j->log, (size_t)j->nlog, j->type, route != DSN_ROUTE_SENDER, sel);
	if (route == DSN_ROUTE_DROP)
		log_dropped(j, sel, n);
	else if (route != DSN_ROUTE_NONE && n > 0)
		status = notify(j, route, sel, n, why);
	else
		msg_debug("%s: no %s notification wanted", j->queue_id, log_dir(j->type));
done:
	free(sel);
	return status;
}

/* parse_type - the request name */
static int parse_type(const char *request, enum dsn_type *type)
{
	if (strcmp(request, "notify") == 0)
		*type = DSN_TYPE_FAILURE;
	else if (strcmp(request, "delay") == 0)
		*type = DSN_TYPE_DELAY;
	else if (strcmp(request, "success") == 0)
		*type = DSN_TYPE_SUCCESS;
	else
		return -1;
	return 0;
}

/* bounce_request - one request frame to one reply frame */
static void bounce_request(const struct attr_list *req, struct attr_list *reply)
{
	struct job j;
	const char *request;
	char *why = NULL;
	int status;

	memset(&j, 0, sizeof(j));
	j.fd = -1;
	j.queue_name = "active";
	if (attr_get_line(req, "request", &request) < 0 || parse_type(request, &j.type) < 0
	    || attr_get_line(req, "queue_id", &j.queue_id) < 0 || !qid_valid(j.queue_id)
	    || (attr_find(req, "queue_name") && attr_get_line(req, "queue_name", &j.queue_name) < 0)
	    || !queue_name_ok(j.queue_name)) {
		msg_warn("malformed request from qmgr");
		why = xstrdup("malformed bounce request");
		status = 4;
	} else if ((status = run_job(&j, &why)) != 0) {
		msg_warn("%s: %s not sent: %s", j.queue_id, type_name(j.type), why);
	}
	attr_add_int(reply, "status", status);
	if (status != 0)
		attr_add_str(reply, "reason", why);
	if (j.have_env)
		qenvelope_free(&j.env);
	if (j.fd >= 0)
		close(j.fd);
	if (j.nlog > 0)
		dsnlog_free(j.log, j.nlog);
	free(why);
}

/* serve - one client: the greeting, then requests until it hangs up */
static void serve(int fd)
{
	struct attr_list req = ATTR_LIST_INIT, reply = ATTR_LIST_INIT;
	int timeout = ipc_timeout_ms(), ret;

	if (ipc_send_greeting(fd, BOUNCE_PROTOCOL, BOUNCE_VERSION, timeout) < 0) {
		msg_warn("send greeting: %s", strerror(errno));
		return;
	}
	while ((ret = attr_read(fd, &req, BOUNCE_FRAME_MAX, timeout)) == 0) {
		bounce_request(&req, &reply);
		if (attr_write(fd, &reply, timeout) < 0) {
			msg_warn("send reply: %s", strerror(errno));
			break;
		}
		attr_list_clear(&reply);
		attr_list_clear(&req);
	}
	if (ret < 0 && errno != ETIMEDOUT)
		msg_warn("read request: %s", strerror(errno));
	attr_list_clear(&req);
	attr_list_clear(&reply);
}

static const struct server_ops ops = {
	.mode = SERVER_SINGLE,
	.single = serve,
};

int main(int argc, char **argv)
{
	server_main(argc, argv, &ops);
}
