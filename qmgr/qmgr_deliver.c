/* qmgr_deliver - transports, destination queues, and delivery agents.
 *
 * Each recipient is resolved to (transport, next hop). Recipients of one
 * message for one destination are batched into entries of at most
 * TRANSPORT_destination_recipient_limit; with a limit of 1 (local) the
 * destination is the recipient itself, so concurrency is per mailbox, as in
 * Postfix. Destinations of a transport are served round robin, so one busy
 * mailbox or domain cannot starve the others.
 *
 * Limits: a transport holds at most its master.cf maxproc agent
 * connections (- = default_process_limit, 0 = no limit). A destination
 * runs at most `window' deliveries at once: the window starts at
 * initial_destination_concurrency and grows by one with each delivery that
 * reached the destination, up to TRANSPORT_destination_concurrency_limit;
 * each delivery whose agent reports hop_status=failed (no server could be
 * reached or the handshake failed) shrinks it by one and adds 1/window to
 * the failed cohort. When the cohort passes
 * TRANSPORT_destination_concurrency_failed_cohort_limit the destination is
 * dead for minimal_backoff_time: its mail is deferred without an attempt
 * ("delivery temporarily suspended: REASON") until then, or until a flush.
 * A recipient's own 4xx/5xx is not a hop failure.
 *
 * Agents: a connection to private/TRANSPORT carries one request at a time
 * and, after each reply, the next entry of the same destination
 * (lib/qmgr_proto.h), so an smtp agent keeps its SMTP session. With nothing
 * to send, the connection waits smtp_connection_cache_time_limit for more
 * mail to that destination, then is closed. A transport whose agents
 * cannot be reached is marked dead for transport_retry_time; an agent that
 * dies mid-request has its unfinished recipients deferred.
 *
 * defer_transports: mail for those transports waits in the deferred queue
 * until a flush (sendmail -q, postern queue flush) brings it in.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "argv.h"
#include "attr.h"
#include "config.h"
#include "events.h"
#include "ipc.h"
#include "mastercf.h"
#include "mem.h"
#include "msg.h"
#include "qmgr.h"
#include "qmgr_proto.h"
#include "server.h"

struct qentry;
struct qconn;

struct qqueue {
	char *nexthop;
	struct qtransport *t;
	struct qentry *head, *tail;
	int busy;			/* requests in flight */
	double window;			/* how many may be in flight */
	double failed_cohort;
	time_t dead_until;
	char *dead_reason;
	struct qconn *idle;		/* agent connections waiting for work */
	struct qqueue *next;
};

struct qtransport {
	char *name;
	int conns;			/* open agent connections, busy or idle */
	long long maxproc;		/* 0 = no limit */
	long long dest_limit;		/* TRANSPORT_destination_concurrency_limit */
	long long rcpt_limit;		/* TRANSPORT_destination_recipient_limit */
	long long cohort_limit;		/* ..._concurrency_failed_cohort_limit */
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
	struct qqueue *q;
	struct qentry *e;		/* the request in flight; NULL when idle */
	struct attr_decoder dec;
	int greeted;
	uint64_t timer;
	struct qconn *next_idle;
};

static struct qtransport *transports;
int qmgr_draining;		/* reload: finish what runs, start nothing */
static int in_flight;		/* requests sent and not answered */

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

/* master_maxproc - the maxproc column of service name in master.cf */
static long long master_maxproc(const char *name)
{
	struct mcf mcf = MCF_INIT;
	struct diaglist dl = DIAGLIST_INIT;
	long long n = conf_int("default_process_limit");
	char *path = xasprintf("%s/master.cf", conf_str("config_directory"));

	if (mcf_parse_file(path, &mcf, &dl) == 0) {
		for (size_t i = 0; i < mcf.n; i++)
			if (mcf.v[i].type == MCF_UNIX && strcmp(mcf.v[i].name, name) == 0)
				n = mcf.v[i].maxproc < 0 ? conf_int("default_process_limit") : mcf.v[i].maxproc;
	}
	mcf_free(&mcf);
	diag_clear(&dl);
	free(path);
	return n;
}

static struct qtransport *transport_get(const char *name)
{
	struct qtransport *t;

	for (t = transports; t; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	t = xcalloc(1, sizeof(*t));
	t->name = xstrdup(name);
	t->maxproc = master_maxproc(name);
	t->dest_limit = limit(name, "destination_concurrency_limit");
	t->rcpt_limit = limit(name, "destination_recipient_limit");
	t->cohort_limit = limit(name, "destination_concurrency_failed_cohort_limit");
	t->next = transports;
	transports = t;
	return t;
}

static int queue_dead(const struct qqueue *q)
{
	return q->dead_until > time(NULL);
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
	q->window = (double)conf_int("initial_destination_concurrency");
	if (q->window < 1)
		q->window = 1;
	q->next = t->queues;
	t->queues = q;
	return q;
}

/* queue_drop_if_idle - forget a destination with nothing to do (a dead
 * one is kept until its time is up: that is what remembers it) */
static void queue_drop_if_idle(struct qqueue *q)
{
	struct qqueue **pp;

	if (q->head || q->busy || q->idle || queue_dead(q))
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
	free(q->dead_reason);
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

/* entry_defer - every recipient of e is deferred for reason */
static void entry_defer(struct qentry *e, const char *dsn, const char *reason)
{
	for (size_t k = 0; k < e->n; k++)
		qmgr_defer_rcpt(e->m, e->idx[k], dsn, reason, "none");
}

/* message_check - the message is done when nothing is queued or running */
static void message_check(struct qmgr_msg *m)
{
	if (m->pending == 0 && m->undispatched == 0)
		qmgr_message_done(m);
}

/* suspended_reason - what a dead destination's mail is deferred with */
static char *suspended_reason(const struct qqueue *q)
{
	return xasprintf("delivery temporarily suspended: %s",
			 q->dead_reason ? q->dead_reason : "destination unreachable");
}

/* enqueue - recipient i of m goes to (transport, nexthop) */
static void enqueue(struct qmgr_msg *m, size_t i, const char *transport, const char *nexthop)
{
	struct qtransport *t = transport_get(transport);
	long long rcpt_limit = t->rcpt_limit;
	struct qqueue *q = queue_get(t, rcpt_limit == 1 ? m->env.rcpt[i].address : nexthop);
	struct qentry *e = q->tail;

	if (queue_dead(q)) {
		char *why = suspended_reason(q);

		qmgr_defer_rcpt(m, i, "4.4.1", why, "none");
		free(why);
		return;
	}
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

/* deferred_transport - defer_transports names it and no flush asked for it */
static int deferred_transport(const struct qmgr_msg *m, const char *transport)
{
	struct argv list = ARGV_INIT;
	int hit = 0;

	if (m->flushed || *conf_str("defer_transports") == 0)
		return 0;
	argv_split(&list, conf_str("defer_transports"), ", \t\r\n");
	for (size_t i = 0; i < list.n && !hit; i++)
		hit = strcmp(list.v[i], transport) == 0;
	argv_free(&list);
	return hit;
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
		else if (deferred_transport(m, r.transport))
			qmgr_defer_rcpt(m, i, "4.3.2", "deferred transport", "none");
		else
			enqueue(m, i, r.transport, r.nexthop);
		qmgr_resolved_free(&r);
	}
	m->undispatched--;
	message_check(m);
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

/* apply_reply - the agent's per-recipient verdicts; the reason of the
 * first deferred recipient goes to *why (for a dead destination) */
static void apply_reply(struct qentry *e, const struct attr_list *l, const char **why)
{
	char key[32];
	const char *status;

	*why = NULL;
	for (size_t k = 0; k < e->n; k++) {
		snprintf(key, sizeof(key), "r%zu_status", k);
		if (attr_get_str(l, key, &status) < 0) {
			qmgr_defer_rcpt(e->m, e->idx[k], "4.3.0", "no status from the delivery agent", "none");
		} else if (strcmp(status, "deferred") == 0) {
			e->m->deferred = 1;
			snprintf(key, sizeof(key), "r%zu_reason", k);
			if (*why == NULL)
				attr_get_line(l, key, why);
		} else if (strcmp(status, "sent") == 0 || strcmp(status, "bounced") == 0) {
			e->m->env.rcpt[e->idx[k]].done = 1;
		} else {
			qmgr_defer_rcpt(e->m, e->idx[k], "4.3.0", "bad status from the delivery agent", "none");
		}
	}
}

/* queue_kill - the destination is dead: defer what waits for it */
static void queue_kill(struct qqueue *q, const char *reason)
{
	long long backoff = conf_time("minimal_backoff_time");
	char *why;

	q->dead_until = time(NULL) + backoff;
	free(q->dead_reason);
	q->dead_reason = xstrdup(reason && *reason ? reason : "destination unreachable");
	msg_warn("%s destination %s is unreachable (%s): deferring its mail for %lld seconds",
		 q->t->name, q->nexthop, q->dead_reason, backoff);
	why = suspended_reason(q);
	while (q->head) {
		struct qentry *e = q->head;
		struct qmgr_msg *m = e->m;

		q->head = e->next;
		entry_defer(e, "4.4.1", why);
		m->undispatched--;
		entry_free(e);
		message_check(m);
	}
	q->tail = NULL;
	free(why);
}

/* feedback - concurrency window and failed cohort after one delivery */
static void feedback(struct qqueue *q, int hop_failed, const char *reason)
{
	double cap = (double)q->t->dest_limit;
	double initial = (double)conf_int("initial_destination_concurrency");

	if (!hop_failed) {
		q->failed_cohort = 0;
		if (q->window < cap && q->window < q->busy + initial)
			q->window += 1;
		if (q->window > cap)
			q->window = cap;
		return;
	}
	q->failed_cohort += 1.0 / (q->window < 1 ? 1 : q->window);
	if (q->window > 1)
		q->window -= 1;
	if (q->failed_cohort > (double)q->t->cohort_limit
	    && !queue_dead(q))
		queue_kill(q, reason);
}

static int queue_ready(const struct qqueue *q)
{
	return q->head && !queue_dead(q) && q->busy < (int)q->window && q->busy < q->t->dest_limit;
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

static void unlink_idle(struct qconn *c)
{
	for (struct qconn **pp = &c->q->idle; *pp; pp = &(*pp)->next_idle) {
		if (*pp == c) {
			*pp = c->next_idle;
			break;
		}
	}
	c->next_idle = NULL;
}

/* entry_finished - the accounting of one answered or failed request */
static void entry_finished(struct qconn *c)
{
	struct qentry *e = c->e;
	struct qmgr_msg *m = e->m;

	c->e = NULL;
	c->q->busy--;
	in_flight--;
	m->pending--;
	entry_free(e);
	message_check(m);
	if (qmgr_draining && in_flight == 0)
		server_drained();	/* what is left in active/ is the new qmgr's */
}

static void conn_close(struct qconn *c, const char *failure)
{
	struct qqueue *q = c->q;

	if (c->e) {
		msg_warn("%s: delivery via %s: %s", c->e->m->id, q->t->name, failure);
		entry_defer(c->e, "4.3.0", failure);
		entry_finished(c);
	} else {
		unlink_idle(c);
	}
	ev_fd_del(server_loop(), c->fd);
	if (c->timer)
		ev_timer_cancel(server_loop(), c->timer);
	close(c->fd);
	attr_decoder_free(&c->dec);
	free(c);
	q->t->conns--;
	queue_drop_if_idle(q);
	qmgr_deliver_kick();
}

static void conn_timeout(void *ctx)
{
	struct qconn *c = ctx;

	c->timer = 0;
	conn_close(c, c->e ? "delivery agent timed out" : NULL);
}

/* conn_send - the request for entry e on c; -1 when c is broken */
static int conn_send(struct qconn *c, struct qentry *e)
{
	struct attr_list req = ATTR_LIST_INIT;
	int failed;

	c->e = e;
	add_request_attrs(&req, e);
	failed = attr_write(c->fd, &req, 30000) < 0;
	attr_list_clear(&req);
	if (c->timer)
		ev_timer_cancel(server_loop(), c->timer);
	c->timer = ev_timer_add(server_loop(), 1000 * conf_time("ipc_timeout"), conn_timeout, c);
	return failed ? -1 : 0;
}

/* dispatch - e is counted as in flight on q */
static void dispatch_account(struct qentry *e)
{
	in_flight++;
	e->q->busy++;
	e->m->pending++;
	e->m->undispatched--;
}

/* conn_next - after a reply: the next entry of the destination, or wait.
 * c may be gone when this returns. */
static void conn_next(struct qconn *c)
{
	struct qqueue *q = c->q;
	long long linger = conf_time("smtp_connection_cache_time_limit");

	if (qmgr_draining) {
		conn_close(c, NULL);
		return;
	}
	if (queue_ready(q)) {
		struct qentry *e = pop(q);

		dispatch_account(e);
		if (conn_send(c, e) < 0)
			conn_close(c, "cannot send the request to the delivery agent");
		else
			qmgr_deliver_kick();	/* a grown window may start another */
		return;
	}
	if (linger <= 0 || queue_dead(q)) {
		conn_close(c, NULL);
		return;
	}
	if (c->timer)
		ev_timer_cancel(server_loop(), c->timer);
	c->timer = ev_timer_add(server_loop(), 1000 * linger, conn_timeout, c);
	c->next_idle = q->idle;
	q->idle = c;
	queue_drop_if_idle(q);
	qmgr_deliver_kick();
}

/* conn_reply - one reply frame: verdicts, feedback, then what comes next
 * (c may be gone afterwards) */
static void conn_reply(struct qconn *c, const struct attr_list *l)
{
	const char *hop = "ok", *why = NULL;

	apply_reply(c->e, l, &why);
	attr_get_str(l, "hop_status", &hop);
	feedback(c->q, strcmp(hop, "failed") == 0, why);
	entry_finished(c);
	conn_next(c);
}

/* conn_frame - the greeting, then replies; 1 when c was closed */
static int conn_frame(struct qconn *c, const struct attr_list *l)
{
	const char *proto;

	if (c->e == NULL) {
		conn_close(c, NULL);		/* nothing was asked: a confused agent */
		return 1;
	}
	if (c->greeted) {
		/* Nothing else can be in this read: the agent answers one
		 * request at a time. Stop here, c may be gone. */
		conn_reply(c, l);
		return 1;
	}
	if (attr_get_str(l, "protocol", &proto) < 0 || strcmp(proto, DELIVERY_PROTOCOL) != 0) {
		conn_close(c, "delivery agent does not speak the delivery protocol");
		return 1;
	}
	c->greeted = 1;
	if (conn_send(c, c->e) < 0) {
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
		conn_close(c, c->e ? "delivery agent exited before it replied" : NULL);
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

/* conn_start - a new agent connection for entry e; -1 when the transport
 * is down (nothing was changed) */
static int conn_start(struct qentry *e)
{
	char path[256];
	struct qconn *c;
	int fd;

	snprintf(path, sizeof(path), "private/%s", e->q->t->name);
	if ((fd = ipc_connect_unix(path, 1000)) < 0)
		return -1;
	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->q = e->q;
	c->e = e;
	attr_decoder_init(&c->dec, ATTR_FRAME_MAX);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	ev_fd_set(server_loop(), fd, EV_READ, conn_event, c);
	c->timer = ev_timer_add(server_loop(), 1000 * conf_time("ipc_timeout"), conn_timeout, c);
	e->q->t->conns++;
	dispatch_account(e);
	return 0;
}

/* transport_down - defer everything queued for a transport */
static void transport_down(struct qtransport *t, const char *why)
{
	struct qqueue *q, *next;

	if (t->dead_until <= time(NULL))
		msg_warn("transport %s: %s: deferring its mail for %lld seconds", t->name, why,
			 conf_time("transport_retry_time"));
	t->dead_until = time(NULL) + conf_time("transport_retry_time");
	for (q = t->queues; q; q = next) {
		next = q->next;
		while (q->head) {
			struct qentry *e = pop(q);
			struct qmgr_msg *m = e->m;

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
	struct qqueue *q = t->cursor ? t->cursor->next : NULL;

	for (int pass = 0; pass < 2; pass++, q = t->queues) {
		for (; q; q = q->next)
			if (queue_ready(q))
				return t->cursor = q;
	}
	return NULL;
}

/* free_a_process - closes an idle connection of another destination so a
 * waiting one can have the process; 0 when there was one */
static int free_a_process(struct qtransport *t)
{
	for (struct qqueue *q = t->queues; q; q = q->next) {
		if (q->idle) {
			conn_close(q->idle, NULL);
			return 0;
		}
	}
	return -1;
}

/* push_back - e returns to the head of its queue */
static void push_back(struct qentry *e)
{
	struct qqueue *q = e->q;

	e->next = q->head;
	q->head = e;
	if (q->tail == NULL)
		q->tail = e;
}

/* send_idle - the next entry of q on one of its idle connections */
static void send_idle(struct qqueue *q)
{
	struct qconn *c = q->idle;
	struct qentry *e = pop(q);

	unlink_idle(c);
	dispatch_account(e);
	if (conn_send(c, e) == 0)
		return;
	/* the agent went away while idle: e waits for another connection */
	in_flight--;
	q->busy--;
	e->m->pending--;
	e->m->undispatched++;
	push_back(e);
	c->e = NULL;
	conn_close(c, NULL);
}

static void kick_transport(struct qtransport *t)
{
	struct qqueue *q;

	if (t->dead_until > time(NULL)) {
		transport_down(t, "still unavailable");
		return;
	}
	while ((q = next_queue(t)) != NULL) {
		struct qentry *e;

		if (q->idle) {
			send_idle(q);
			continue;
		}
		if (t->maxproc > 0 && t->conns >= t->maxproc && free_a_process(t) < 0)
			return;
		e = pop(q);
		if (conn_start(e) < 0) {
			char why[256];

			snprintf(why, sizeof(why), "cannot connect to private/%s: %s", t->name, strerror(errno));
			push_back(e);	/* so transport_down defers it with the rest */
			transport_down(t, why);
			return;
		}
	}
}

static int kicking, kick_again;

void qmgr_deliver_kick(void)
{
	if (qmgr_draining)
		return;
	/* conn_close and message_check call back in here: run once at a time */
	if (kicking) {
		kick_again = 1;
		return;
	}
	kicking = 1;
	do {
		kick_again = 0;
		for (struct qtransport *t = transports; t; t = t->next)
			kick_transport(t);
	} while (kick_again);
	kicking = 0;
}

int qmgr_deliver_drain(void)
{
	qmgr_draining = 1;
	if (in_flight)
		msg_info("reload: waiting for %d deliver%s in flight", in_flight, in_flight == 1 ? "y" : "ies");
	return in_flight > 0;
}

void qmgr_forget_dead(void)
{
	for (struct qtransport *t = transports; t; t = t->next) {
		t->dead_until = 0;
		for (struct qqueue *q = t->queues; q; q = q->next) {
			q->dead_until = 0;
			q->failed_cohort = 0;
		}
	}
}
