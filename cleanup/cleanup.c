/* cleanup - builds queue files: the only program that writes them.
 *
 * One client at a time (pickup, bounce, local when forwarding, smtpd):
 * the protocol of lib/cleanup_client.h. The reply comes only after the
 * queue file is committed (docs/QUEUE.md), so a client that hears status=0
 * may report the message as accepted. After an error, cleanup keeps
 * reading until request=end, so the client is never blocked writing.
 *
 * master.cf: cleanup unix n - n - 0 cleanup
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attr.h"
#include "cleanup.h"
#include "cleanup_client.h"
#include "config.h"
#include "ipc.h"
#include "mem.h"
#include "msg.h"
#include "rewrite.h"
#include "server.h"

#define CLEANUP_MAX_FRAME	(CLEANUP_CHUNK + 4096)
#define CLEANUP_MAX_RCPT	100000

static int timeout_ms(void)
{
	long long t = conf_time("ipc_timeout") * 1000;

	return t > 0 && t < 3600000 ? (int)t : 3600000;
}

/* opt_attr - copies an optional envelope attribute into the A records */
static void opt_attr(struct cleanup_state *st, const struct attr_list *l, const char *name)
{
	const char *v;
	char *kv;

	if (attr_get_line(l, name, &v) < 0 || *v == 0)
		return;
	kv = xasprintf("%s=%s", name, v);
	argv_add(&st->attrs, kv);
	free(kv);
}

/* envelope_reply - the queue ID, so that smtpd can write Received: */
static void envelope_reply(int fd, const struct cleanup_state *st)
{
	struct attr_list l = ATTR_LIST_INIT;

	attr_add_int(&l, "status", st->status);
	attr_add_str(&l, "queue_id", st->status == 0 && st->fd >= 0 ? st->id : "");
	if (attr_write(fd, &l, timeout_ms()) < 0)
		msg_warn("%s: cannot send envelope reply to client: %m", *st->id ? st->id : "NOQUEUE");
	attr_list_clear(&l);
}

static void do_envelope(struct cleanup_state *st, const struct attr_list *l)
{
	static const char *optional[] = {"envid", "ret", "body_type", "smtputf8", "dsn_kind", "log_ident"};
	const char *sender, *origin = "local", *fullname;
	long long uid = -1, flags = 0;
	char *kv;

	if (st->sender) {
		cleanup_fail(st, 5, "5.5.1", "protocol error: second envelope");
		return;
	}
	if (attr_get_line(l, "sender", &sender) < 0) {
		cleanup_fail(st, 5, "5.1.7", "bad or missing sender address");
		sender = "";
	}
	attr_get_line(l, "origin", &origin);
	attr_get_int(l, "uid", &uid);
	attr_get_int(l, "flags", &flags);
	st->sender = rewrite_canonical(sender);
	st->origin = xstrdup(origin);
	st->uid = (long)uid;
	st->flags = (int)flags;
	if (attr_get_line(l, "fullname", &fullname) == 0)
		st->fullname = xstrdup(fullname);
	kv = xasprintf("origin=%s", origin);
	argv_add(&st->attrs, kv);
	free(kv);
	if (uid >= 0) {
		kv = xasprintf("uid=%lld", uid);
		argv_add(&st->attrs, kv);
		free(kv);
	}
	for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++)
		opt_attr(st, l, optional[i]);
	if (st->status == 0 && cleanup_open_file(st) == 0) {
		long long when = 0;

		/* pickup passes the time postdrop took the message */
		if (attr_get_int(l, "time", &when) == 0 && when > 0 && when <= st->arrival.tv_sec) {
			st->arrival.tv_sec = (time_t)when;
			st->arrival.tv_usec = 0;
		}
	}
}

static void do_rcpt(struct cleanup_state *st, const struct attr_list *l)
{
	const char *addr, *orig = "", *notify = "";

	if (st->status)
		return;
	if (st->sender == NULL || st->in_body || vstr_len(&st->header)) {
		cleanup_fail(st, 5, "5.5.1", "protocol error: recipient out of order");
		return;
	}
	if (attr_get_line(l, "address", &addr) < 0 || *addr == 0) {
		cleanup_fail(st, 5, "5.1.3", "bad recipient address");
		return;
	}
	if (st->rcpt.n >= CLEANUP_MAX_RCPT) {
		cleanup_fail(st, 5, "5.5.3", "too many recipients");
		return;
	}
	attr_get_line(l, "orig", &orig);
	attr_get_line(l, "notify", &notify);
	cleanup_add_rcpt(st, addr, orig, notify);
}

static void do_data(struct cleanup_state *st, const struct attr_list *l)
{
	const void *data;
	size_t len;

	if (st->status)
		return;
	if (st->sender == NULL || attr_get_data(l, "data", &data, &len) < 0) {
		cleanup_fail(st, 5, "5.5.1", "protocol error: data without envelope");
		return;
	}
	cleanup_content(st, data, len);
}

static void reply(int fd, const struct cleanup_state *st)
{
	struct attr_list l = ATTR_LIST_INIT;

	attr_add_int(&l, "status", st->status);
	attr_add_str(&l, "dsn", st->status ? st->dsn : "2.0.0");
	attr_add_str(&l, "reason", st->status ? st->reason : "queued");
	attr_add_str(&l, "queue_id", st->status ? "" : st->id);
	if (attr_write(fd, &l, timeout_ms()) < 0)
		msg_warn("%s: cannot send reply to client: %m", *st->id ? st->id : "NOQUEUE");
	attr_list_clear(&l);
}

/* serve - one client, one message */
static void serve(int fd)
{
	struct cleanup_state st;
	struct attr_list l = ATTR_LIST_INIT;
	const char *req;
	int ret;

	cleanup_state_init(&st);
	if (ipc_send_greeting(fd, CLEANUP_PROTOCOL, CLEANUP_VERSION, 10000) < 0)
		goto out;
	while ((ret = attr_read(fd, &l, CLEANUP_MAX_FRAME, timeout_ms())) == 0) {
		if (attr_get_str(&l, "request", &req) < 0)
			req = "";
		if (strcmp(req, "envelope") == 0) {
			do_envelope(&st, &l);
			envelope_reply(fd, &st);
		}
		else if (strcmp(req, "rcpt") == 0)
			do_rcpt(&st, &l);
		else if (strcmp(req, "data") == 0)
			do_data(&st, &l);
		else if (strcmp(req, "end") == 0) {
			long long hold = 0;

			if (attr_get_int(&l, "hold", &hold) == 0 && hold)
				cleanup_to_hold(&st);
			break;
		}
		else if (strcmp(req, "abort") == 0) {
			ret = 1;	/* as if the client went away: nothing is kept */
			break;
		}
		else
			cleanup_fail(&st, 5, "5.5.1", "protocol error: unknown request");
	}
	if (ret != 0) {
		/* The client went away or sent garbage: nobody was told anything. */
		if (ret < 0)
			msg_warn("%s: client: %s", *st.id ? st.id : "NOQUEUE",
				 errno == EBADMSG ? "malformed request" : strerror(errno));
		cleanup_message_abort(&st);
		goto out;
	}
	if (st.sender == NULL)
		cleanup_fail(&st, 5, "5.5.1", "protocol error: no envelope");
	cleanup_message_finish(&st);
	if (st.status) {
		cleanup_message_abort(&st);
		msg_info("%s: reject: %s %s; from=<%s>", *st.id ? st.id : "NOQUEUE", st.dsn, st.reason,
			 st.sender ? st.sender : "");
	}
	reply(fd, &st);
out:
	attr_list_clear(&l);
	cleanup_state_free(&st);
}

static const struct server_ops cleanup_ops = {
	.mode = SERVER_SINGLE,
	.single = serve,
};

int main(int argc, char **argv)
{
	server_main(argc, argv, &cleanup_ops);
}
