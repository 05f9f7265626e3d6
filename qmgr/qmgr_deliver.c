/* qmgr_deliver - transports, destination queues, and delivery agents.
 *
 * Each recipient is resolved to (transport, next hop). Recipients of one
 * message for one destination are batched into entries of at most
 * TRANSPORT_destination_recipient_limit; with a limit of 1 (local) the
 * destination is the recipient itself, so concurrency is per mailbox, as in
 * Postfix. A transport runs at most default_process_limit deliveries at
 * once and a destination at most TRANSPORT_destination_concurrency_limit;
 * destinations of a transport are served round robin, so one busy mailbox
 * or domain cannot starve the others.
 *
 * A delivery is an event-driven conversation with private/TRANSPORT:
 * greeting, one request, one reply (lib/qmgr_proto.h). A transport that
 * cannot be reached is marked dead for transport_retry_time and its mail
 * deferred without trying; an agent that dies mid-request has its
 * recipients deferred (the ones it had finished are already marked done).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attr.h"
#include "config.h"
#include "events.h"
#include "ipc.h"
#include "mem.h"
#include "msg.h"
#include "qmgr.h"
#include "qmgr_proto.h"
#include "server.h"

struct qentry;

struct qqueue {
	char *nexthop;
	struct qtransport *t;
	struct qentry *head, *tail;
	int busy;
	struct qqueue *next;
};

struct qtransport {
	char *name;
	int busy;
	time_t dead_until;
	struct qqueue *queues;
	struct qqueue *cursor;		/* round robin */
	struct qtransport *next;
};

struct qentry {
	struct qmgr_msg *m;
	struct qqueue *q;
	size_t *idx, n, cap;
	struct qentry *next;
};

struct qconn {
	int fd;
	struct qentry *e;
	struct attr_decoder dec;
	int greeted;
	uint64_t timer;
};

static struct qtransport *transports;

/* limit - TRANSPORT_NAME if set, else default_NAME; at least 1 */
static long long limit(const char *transport, const char *name)
{
	char key[256];
	long long n;

	snprintf(key, sizeof(key), "%s_%s", transport, name);
	if (!conf_raw(key) && !param_find(key))
		snprintf(key, sizeof(key), "default_%s", name);
	n = conf_int(key);
	return n < 1 ? 1 : n;
}

static struct qtransport *transport_get(const char *name)
{
	struct qtransport *t;

	for (t = transports; t; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	t = xcalloc(1, sizeof(*t));
	t->name = xstrdup(name);
	t->next = transports;
	transports = t;
	return t;
}

static struct qqueue *queue_get(struct qtransport *t, const char *nexthop)
{
	struct qqueue *q;

	for (q = t->queues; q; q = q->next)
		if (strcmp(q->nexthop, nexthop) == 0)
			return q;
	q = xcalloc(1, sizeof(*q));
	q->nexthop = xstrdup(nexthop);
	q->t = t;
	q->next = t->queues;
	t->queues = q;
	return q;
}

/* queue_drop_if_idle - forget a destination with nothing to do */
static void queue_drop_if_idle(struct qqueue *q)
{
	struct qqueue **pp;

	if (q->head || q->busy)
		return;
	for (pp = &q->t->queues; *pp; pp = &(*pp)->next) {
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	}
	if (q->t->cursor == q)
		q->t->cursor = NULL;
	free(q->nexthop);
	free(q);
}

static void entry_add_rcpt(struct qentry *e, size_t i)
{
	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 4;
		e->idx = xreallocarray(e->idx, e->cap, sizeof(*e->idx));
	}
	e->idx[e->n++] = i;
}

static void entry_free(struct qentry *e)
{
	free(e->idx);
	free(e);
}

/* enqueue - recipient i of m goes to (transport, nexthop) */
static void enqueue(struct qmgr_msg *m, size_t i, const char *transport, const char *nexthop)
{
	long long rcpt_limit = limit(transport, "destination_recipient_limit");
	struct qqueue *q = queue_get(transport_get(transport),
				     rcpt_limit == 1 ? m->env.rcpt[i].address : nexthop);
	struct qentry *e = q->tail;

	if (e == NULL || e->m != m || (long long)e->n >= rcpt_limit) {
		e = xcalloc(1, sizeof(*e));
		e->m = m;
		e->q = q;
		if (q->tail)
			q->tail->next = e;
		else
			q->head = e;
		q->tail = e;
		m->undispatched++;
	}
	entry_add_rcpt(e, i);
}

/* message_check - the message is done when nothing is queued or running */
static void message_check(struct qmgr_msg *m)
{
	if (m->pending == 0 && m->undispatched == 0)
		qmgr_message_done(m);
}

void qmgr_deliver_message(struct qmgr_msg *m)
{
	struct qmgr_resolved r;

	m->undispatched++;		/* hold the message while we queue it */
	for (size_t i = 0; i < m->env.nrcpt; i++) {
		if (m->env.rcpt[i].done)
			continue;
		if (qmgr_resolve(m->env.rcpt[i].address, &r) < 0) {
			qmgr_defer_rcpt(m, i, "4.3.0", "address resolver failure", "none");
			continue;
		}
		if (strcmp(r.klass, "error") == 0 && r.dsn[0] == '4')
			qmgr_defer_rcpt(m, i, r.dsn, r.reason, "none");
		else if (strcmp(r.klass, "error") == 0)
			qmgr_bounce_rcpt(m, i, *r.dsn ? r.dsn : "5.1.3", r.reason);
		else
			enqueue(m, i, r.transport, r.nexthop);
		qmgr_resolved_free(&r);
	}
	m->undispatched--;
	message_check(m);
}

/* entry_defer - every recipient of e is deferred for reason */
static void entry_defer(struct qentry *e, const char *dsn, const char *reason)
{
	for (size_t k = 0; k < e->n; k++)
		qmgr_defer_rcpt(e->m, e->idx[k], dsn, reason, "none");
}

static void add_request_attrs(struct attr_list *l, const struct qentry *e)
{
	const struct qmgr_msg *m = e->m;
	struct delivery_times t;
	char key[32], num[64];
	static const char *pass[] = {"envid", "ret", "dsn_kind", "body_type", "smtputf8"};

	qmgr_times(m, &t);
	attr_add_str(l, "queue_id", m->id);
	attr_add_str(l, "queue_name", "active");
	attr_add_str(l, "sender", m->env.sender);
	attr_add_str(l, "nexthop", e->q->nexthop);
	snprintf(num, sizeof(num), "%.6f %.6f %.6f", t.arrival, t.active, t.dispatch);
	attr_add_str(l, "times", num);
	attr_add_int(l, "content_offset", (long long)m->env.content_offset);
	attr_add_int(l, "content_size", m->env.content_size);
	for (size_t k = 0; k < sizeof(pass) / sizeof(pass[0]); k++) {
		const char *v = qenvelope_attr(&m->env, pass[k]);

		if (v)
			attr_add_str(l, pass[k], v);
	}
	attr_add_int(l, "rcpt_count", (long long)e->n);
	for (size_t k = 0; k < e->n; k++) {
		const struct qrcpt *r = &m->env.rcpt[e->idx[k]];

		snprintf(key, sizeof(key), "r%zu_addr", k);
		attr_add_str(l, key, r->address);
		snprintf(key, sizeof(key), "r%zu_orig", k);
		attr_add_str(l, key, r->orig);
		snprintf(key, sizeof(key), "r%zu_notify", k);
		attr_add_str(l, key, r->notify);
		snprintf(key, sizeof(key), "r%zu_offset", k);
		attr_add_int(l, key, (long long)r->offset);
	}
}

/* apply_reply - the agent's per-recipient verdicts */
static void apply_reply(struct qentry *e, const struct attr_list *l)
{
	char key[32];
	const char *status;

	for (size_t k = 0; k < e->n; k++) {
		snprintf(key, sizeof(key), "r%zu_status", k);
		if (attr_get_str(l, key, &status) < 0) {
			qmgr_defer_rcpt(e->m, e->idx[k], "4.3.0", "no status from the delivery agent", "none");
		} else if (strcmp(status, "deferred") == 0) {
			e->m->deferred = 1;
		} else if (strcmp(status, "sent") == 0 || strcmp(status, "bounced") == 0) {
			e->m->env.rcpt[e->idx[k]].done = 1;
		} else {
			qmgr_defer_rcpt(e->m, e->idx[k], "4.3.0", "bad status from the delivery agent", "none");
		}
	}
}

static void conn_close(struct qconn *c, const char *failure)
{
	struct qentry *e = c->e;
	struct qqueue *q = e->q;
	struct qmgr_msg *m = e->m;

	if (failure) {
		msg_warn("%s: delivery via %s: %s", m->id, q->t->name, failure);
		entry_defer(e, "4.3.0", failure);
	}
	ev_fd_del(server_loop(), c->fd);
	if (c->timer)
		ev_timer_cancel(server_loop(), c->timer);
	close(c->fd);
	attr_decoder_free(&c->dec);
	free(c);
	q->busy--;
	q->t->busy--;
	m->pending--;
	entry_free(e);
	queue_drop_if_idle(q);
	message_check(m);
	qmgr_deliver_kick();
}

static void conn_timeout(void *ctx)
{
	struct qconn *c = ctx;

	c->timer = 0;
	conn_close(c, "delivery agent timed out");
}

/* conn_frame - the greeting, then the reply; 1 when c was closed */
static int conn_frame(struct qconn *c, const struct attr_list *l)
{
	struct attr_list req = ATTR_LIST_INIT;
	const char *proto;
	int failed;

	if (c->greeted) {
		apply_reply(c->e, l);
		conn_close(c, NULL);
		return 1;
	}
	if (attr_get_str(l, "protocol", &proto) < 0 || strcmp(proto, DELIVERY_PROTOCOL) != 0) {
		conn_close(c, "delivery agent does not speak the delivery protocol");
		return 1;
	}
	c->greeted = 1;
	add_request_attrs(&req, c->e);
	failed = attr_write(c->fd, &req, 30000) < 0;
	attr_list_clear(&req);
	if (failed) {
		conn_close(c, "cannot send the request to the delivery agent");
		return 1;
	}
	return 0;
}

static void conn_event(int fd, int events, void *ctx)
{
	struct qconn *c = ctx;
	struct attr_list l = ATTR_LIST_INIT;
	char buf[8192];
	const char *err;
	ssize_t n;
	int ret;

	(void)events;
	n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c, "delivery agent exited before it replied");
		return;
	}
	attr_decoder_feed(&c->dec, buf, (size_t)n);
	while ((ret = attr_decoder_next(&c->dec, &l, &err)) == ATTR_DEC_FRAME) {
		int closed = conn_frame(c, &l);

		attr_list_clear(&l);
		if (closed)
			return;
	}
	attr_list_clear(&l);
	if (ret == ATTR_DEC_ERROR)
		conn_close(c, "malformed reply from the delivery agent");
}

/* start - connects to the agent for entry e; -1 when the transport is down */
static int start(struct qentry *e)
{
	char path[256];
	struct qconn *c;
	int fd;

	snprintf(path, sizeof(path), "private/%s", e->q->t->name);
	if ((fd = ipc_connect_unix(path, 1000)) < 0)
		return -1;
	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->e = e;
	attr_decoder_init(&c->dec, ATTR_FRAME_MAX);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	ev_fd_set(server_loop(), fd, EV_READ, conn_event, c);
	c->timer = ev_timer_add(server_loop(), 1000 * conf_time("ipc_timeout"), conn_timeout, c);
	e->q->busy++;
	e->q->t->busy++;
	e->m->pending++;
	e->m->undispatched--;
	return 0;
}

static struct qentry *pop(struct qqueue *q)
{
	struct qentry *e = q->head;

	q->head = e->next;
	if (q->head == NULL)
		q->tail = NULL;
	e->next = NULL;
	return e;
}

/* transport_down - defer everything queued for a transport */
static void transport_down(struct qtransport *t, const char *why)
{
	struct qqueue *q, *next;
	struct qentry *e;

	if (t->dead_until <= time(NULL))
		msg_warn("transport %s: %s: deferring its mail for %lld seconds", t->name, why,
			 conf_time("transport_retry_time"));
	t->dead_until = time(NULL) + conf_time("transport_retry_time");
	for (q = t->queues; q; q = next) {
		next = q->next;
		while (q->head) {
			struct qmgr_msg *m;

			e = pop(q);
			m = e->m;
			entry_defer(e, "4.3.0", "mail transport unavailable");
			m->undispatched--;
			entry_free(e);
			message_check(m);
		}
		queue_drop_if_idle(q);
	}
}

/* next_queue - round robin over destinations that may take one more */
static struct qqueue *next_queue(struct qtransport *t)
{
	long long dest_limit = limit(t->name, "destination_concurrency_limit");
	struct qqueue *q = t->cursor ? t->cursor->next : NULL;

	for (int pass = 0; pass < 2; pass++, q = t->queues) {
		for (; q; q = q->next)
			if (q->head && q->busy < dest_limit)
				return t->cursor = q;
	}
	return NULL;
}

static void kick_transport(struct qtransport *t)
{
	long long procs = conf_int("default_process_limit");
	struct qqueue *q;

	if (t->dead_until > time(NULL)) {
		transport_down(t, "still unavailable");
		return;
	}
	while ((procs == 0 || t->busy < procs) && (q = next_queue(t)) != NULL) {
		struct qentry *e = pop(q);

		if (start(e) < 0) {
			char why[256];

			snprintf(why, sizeof(why), "cannot connect to private/%s: %s", t->name, strerror(errno));
			/* put it back so transport_down defers it with the rest */
			e->next = q->head;
			q->head = e;
			if (q->tail == NULL)
				q->tail = e;
			transport_down(t, why);
			return;
		}
	}
}

void qmgr_deliver_kick(void)
{
	for (struct qtransport *t = transports; t; t = t->next)
		kick_transport(t);
}

void qmgr_forget_dead(void)
{
	for (struct qtransport *t = transports; t; t = t->next)
		t->dead_until = 0;
}
