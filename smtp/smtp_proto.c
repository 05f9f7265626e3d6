/* smtp_proto - the SMTP/LMTP dialogue: the greeting and EHLO/LHLO of a
 * new session, then for each message MAIL, RCPT, DATA (pipelined when the
 * server offers PIPELINING), the content, and the per-recipient verdicts.
 *
 * A failure before MAIL (connect, greeting, EHLO, 421) moves on to the next
 * server; after that, recipients are decided here: RCPT 2xx waits for the
 * end of DATA, 4xx defers, 5xx bounces with the server's words quoted, and
 * a lost connection defers what is still open. Reasons have Postfix's
 * shapes ("host X said: ... (in reply to RCPT TO command)", "lost
 * connection with X while sending message body").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "events.h"
#include "mem.h"
#include "msg.h"
#include "qread.h"
#include "smtp.h"

#define SMTP_WRITE_CHUNK	(256 * 1024)

/* The parameters an lmtp_ name overrides in LMTP mode. */
static const char *const lmtp_names[][2] = {
	{"smtp_connect_timeout", "lmtp_connect_timeout"},
	{"smtp_data_done_timeout", "lmtp_data_done_timeout"},
	{"smtp_data_init_timeout", "lmtp_data_init_timeout"},
	{"smtp_data_xfer_timeout", "lmtp_data_xfer_timeout"},
	{"smtp_helo_timeout", "lmtp_lhlo_timeout"},
	{"smtp_helo_name", "lmtp_lhlo_name"},
	{"smtp_mail_timeout", "lmtp_mail_timeout"},
	{"smtp_quit_timeout", "lmtp_quit_timeout"},
	{"smtp_rcpt_timeout", "lmtp_rcpt_timeout"},
};

const char *smtp_param(const char *name, int lmtp)
{
	for (size_t i = 0; lmtp && i < sizeof(lmtp_names) / sizeof(lmtp_names[0]); i++)
		if (strcmp(lmtp_names[i][0], name) == 0 && conf_raw(lmtp_names[i][1]))
			return lmtp_names[i][1];
	return name;
}

static int timeout(const char *name, int lmtp)
{
	long long v = conf_time(smtp_param(name, lmtp));

	return v > 0 && v < 86400 ? (int)v : 86400;
}

void smtp_timeouts_load(struct smtp_timeouts *t, int lmtp)
{
	t->connect = timeout("smtp_connect_timeout", lmtp);
	t->helo = timeout("smtp_helo_timeout", lmtp);
	t->mail = timeout("smtp_mail_timeout", lmtp);
	t->rcpt = timeout("smtp_rcpt_timeout", lmtp);
	t->data_init = timeout("smtp_data_init_timeout", lmtp);
	t->data_xfer = timeout("smtp_data_xfer_timeout", lmtp);
	t->data_done = timeout("smtp_data_done_timeout", lmtp);
	t->quit = timeout("smtp_quit_timeout", lmtp);
	t->starttls = timeout("smtp_starttls_timeout", lmtp);
}

/* io_fail - the reason for a lost or timed-out conversation */
static void io_fail(struct smtp_fail *f, const struct smtp_session *s, int io, const char *stage)
{
	if (io == SMTP_IO_TIMEOUT)
		smtp_fail_set(f, 4, "4.4.2", "conversation with %s timed out while %s", s->name, stage);
	else
		smtp_fail_set(f, 4, "4.4.2", "lost connection with %s while %s", s->name, stage);
}

/* said - "host X said: REPLY (in reply to CMD command)" with the reply's class */
static void said(struct smtp_fail *f, const struct smtp_session *s, const struct smtp_reply *r,
		 const char *cmd)
{
	vstr one = VSTR_INIT;

	smtp_reply_oneline(r, &one);
	smtp_fail_set(f, r->code >= 500 ? 5 : 4, r->code >= 400 ? r->dsn : "4.5.0",
		      "host %s said: %s (in reply to %s)", s->name, vstr_str(&one), cmd);
	vstr_release(&one);
}

static void session_init(struct smtp_session *s, const struct smtp_server *srv, int lmtp, int fd)
{
	s->fd = fd;
	s->lmtp = lmtp;
	s->srv = *srv;
	smtp_relay_name(srv, s->relay, sizeof(s->relay));
	smtp_host_name(srv, s->name, sizeof(s->name));
	s->features = 0;
	s->size_limit = 0;
	s->uses = 0;
	s->clean = 1;
	s->born_ms = ev_now_ms();
	s->rpos = s->rlen = 0;
	s->tls = NULL;
	s->tls_active = 0;
	s->tls_plain_retry = 0;
	vstr_init(&s->wbuf);
}

/* command - writes buf's command and reads the reply; an SMTP_IO_* */
static int command(struct smtp_session *s, const char *cmd, struct smtp_reply *r, int t)
{
	int io;

	vstr_reset(&s->wbuf);
	vstr_cat(&s->wbuf, cmd);
	if ((io = smtp_flush(s, t)) != SMTP_IO_OK)
		return io;
	return smtp_read_reply(s, r, t);
}

/* greets_as_me - the server's EHLO name is ours: mail would loop */
static int greets_as_me(const struct smtp_reply *r)
{
	const char *t = vstr_str(&r->text);
	const char *me = conf_str("myhostname");
	size_t n;

	if (strlen(t) < 4)
		return 0;
	t += 4;
	n = strcspn(t, " \n");
	return n == strlen(me) && strncasecmp(t, me, n) == 0;
}

/* hello - EHLO (LHLO), falling back to HELO when EHLO is refused */
static enum smtp_try hello(struct smtp_session *s, const struct smtp_timeouts *t, struct smtp_reply *r,
			   struct smtp_fail *f)
{
	const char *name = conf_str(smtp_param("smtp_helo_name", s->lmtp));
	char cmd[600];
	int io;

	snprintf(cmd, sizeof(cmd), "%s %s\r\n", s->lmtp ? "LHLO" : "EHLO", name);
	if ((io = command(s, cmd, r, t->helo)) != SMTP_IO_OK)
		return io_fail(f, s, io, s->lmtp ? "performing the LHLO handshake"
			       : "performing the EHLO handshake"), SMTP_TRY_NEXT;
	if (r->code / 100 == 2) {
		s->features = smtp_ehlo_features(vstr_str(&r->text), &s->size_limit);
		if (smtp_tls_starttls(s, t, r, f) != SMTP_TRY_DONE)
			return SMTP_TRY_NEXT;
		if (s->tls_active) {
			/* RFC 3207: forget what the server said before TLS, ask again */
			s->features = 0;
			s->size_limit = 0;
			if ((io = command(s, cmd, r, t->helo)) != SMTP_IO_OK)
				return io_fail(f, s, io, "performing the EHLO handshake"), SMTP_TRY_NEXT;
			if (r->code / 100 != 2)
				return said(f, s, r, "EHLO command"), SMTP_TRY_NEXT;
			s->features = smtp_ehlo_features(vstr_str(&r->text), &s->size_limit);
		}
		return smtp_sasl_login(s, vstr_str(&r->text), t, f);
	}
	if (s->lmtp || r->code == 421)
		return said(f, s, r, s->lmtp ? "LHLO command" : "EHLO command"), SMTP_TRY_NEXT;
	if (s->tlsp.level >= TLS_LEV_ENCRYPT) {	/* no EHLO, no STARTTLS */
		smtp_fail_set(f, 4, "4.7.4", "TLS is required, but was not offered by host %s", s->name);
		return SMTP_TRY_NEXT;
	}
	snprintf(cmd, sizeof(cmd), "HELO %s\r\n", name);
	if ((io = command(s, cmd, r, t->helo)) != SMTP_IO_OK)
		return io_fail(f, s, io, "performing the HELO handshake"), SMTP_TRY_NEXT;
	if (r->code / 100 != 2)
		return said(f, s, r, "HELO command"), SMTP_TRY_NEXT;
	return SMTP_TRY_DONE;
}

static enum smtp_try session_open(struct smtp_session *s, const struct smtp_server *srv, int lmtp,
				  const struct smtp_timeouts *t, struct smtp_fail *f)
{
	struct smtp_reply r;
	enum smtp_try ret = SMTP_TRY_NEXT;
	char why[sizeof(f->reason)];
	int fd, io, talking = 0;

	if ((fd = smtp_connect(srv, t->connect, why, sizeof(why))) < 0) {
		smtp_fail_set(f, 4, "4.4.1", "%s", why);
		return SMTP_TRY_NEXT;
	}
	session_init(s, srv, lmtp, fd);
	smtp_reply_init(&r);
	if ((io = smtp_read_reply(s, &r, t->helo)) != SMTP_IO_OK) {
		io_fail(f, s, io, "receiving the initial server greeting");
	} else if (r.code / 100 != 2) {
		vstr one = VSTR_INIT;

		talking = 1;
		smtp_reply_oneline(&r, &one);
		smtp_fail_set(f, r.code / 100 == 5 && !conf_bool("smtp_skip_5xx_greeting") ? 5 : 4,
			      r.code / 100 == 5 && !conf_bool("smtp_skip_5xx_greeting") ? r.dsn : "4.3.0",
			      "host %s refused to talk to me: %s", s->name, vstr_str(&one));
		vstr_release(&one);
	} else if ((ret = hello(s, t, &r, f)) == SMTP_TRY_DONE && greets_as_me(&r)) {
		talking = 1;
		smtp_fail_set(f, 5, "5.4.6", "host %s greeted me with my own hostname %s",
			      s->name, conf_str("myhostname"));
		ret = SMTP_TRY_NEXT;
	}
	smtp_reply_free(&r);
	if (ret != SMTP_TRY_DONE)
		smtp_session_close(s, talking ? t->quit : 0);
	return ret;
}

/* smtp_session_open - with level may, a failed handshake is tried again
 * without TLS on a new connection, as Postfix does */
enum smtp_try smtp_session_open(struct smtp_session *s, const struct smtp_server *srv, int lmtp,
				const struct smtp_timeouts *t, struct smtp_fail *f)
{
	enum smtp_try ret = session_open(s, srv, lmtp, t, f);

	if (ret != SMTP_TRY_DONE && s->tls_plain_retry) {
		msg_info("%s: TLS handshake failed, trying again without TLS", s->relay);
		s->tlsp.level = TLS_LEV_NONE;
		ret = session_open(s, srv, lmtp, t, f);
	}
	return ret;
}

void smtp_fail_all(struct da_request *req, const struct smtp_fail *f, const char *relay,
		   const char *remote_mta, int conn_use)
{
	struct da_outcome o = {f->status == 5 ? DA_BOUNCED : DA_DEFERRED, f->dsn, f->reason,
			       relay, remote_mta, "", conn_use};

	for (size_t i = 0; i < req->nrcpt; i++)
		if (req->rcpt[i].status == DA_UNDECIDED)
			da_record(req, i, &o);
}

/* A message in progress over one session. */
struct txn {
	struct smtp_session *s;
	struct da_request *req;
	const struct smtp_timeouts *t;
	size_t *idx;		/* undecided recipients sent, in RCPT order */
	size_t n;
	size_t *ok;		/* accepted by RCPT */
	size_t nok;
	size_t decided;		/* decided in this attempt */
	struct smtp_reply r;
	char remote_mta[SMTP_HOST_MAX + 8];
	char diag[SMTP_REPLY_MAX + 16];
};

/* decide - one recipient from the server's reply, or a local reason */
static void decide(struct txn *x, size_t i, const struct smtp_reply *r, const char *reason,
		   int status, const char *dsn)
{
	struct da_outcome o = {status == 2 ? DA_SENT : status == 5 ? DA_BOUNCED : DA_DEFERRED, dsn, reason,
			       x->s->relay, x->remote_mta, "", x->s->uses};
	vstr one = VSTR_INIT;

	if (r) {
		smtp_reply_oneline(r, &one);
		snprintf(x->diag, sizeof(x->diag), "%s; %s", x->s->lmtp ? "lmtp" : "smtp", vstr_str(&one));
		o.diagnostic = x->diag;
	}
	da_record(x->req, i, &o);
	x->decided++;
	vstr_release(&one);
}

static void decide_fail(struct txn *x, size_t i, const struct smtp_fail *f, const struct smtp_reply *r)
{
	decide(x, i, r, f->reason, f->status, f->dsn);
}

/* decide_reply - a recipient by a 2xx/4xx/5xx reply to cmd */
static void decide_reply(struct txn *x, size_t i, const struct smtp_reply *r, const char *cmd)
{
	struct smtp_fail f;

	if (r->code / 100 == 2) {
		vstr one = VSTR_INIT;

		smtp_reply_oneline(r, &one);
		decide(x, i, r, vstr_str(&one), 2, r->dsn);
		vstr_release(&one);
		return;
	}
	said(&f, x->s, r, cmd);
	decide_fail(x, i, &f, r);
}

/* needs_utf8 - SMTPUTF8 was asked for and an address needs it */
static int needs_utf8(const struct da_request *req)
{
	if (!req->smtputf8)
		return 0;
	if (smtp_needs_utf8(req->sender))
		return 1;
	for (size_t i = 0; i < req->nrcpt; i++)
		if (req->rcpt[i].status == DA_UNDECIDED && smtp_needs_utf8(req->rcpt[i].addr))
			return 1;
	return 0;
}

/* precheck - what can be decided before MAIL: SIZE and SMTPUTF8 */
static int precheck(struct txn *x)
{
	struct smtp_fail f;

	if (x->s->size_limit > 0 && x->req->content_size > x->s->size_limit) {
		smtp_fail_set(&f, 5, "5.3.4", "message size %lld exceeds size limit %lld of server %s",
			      x->req->content_size, x->s->size_limit, x->s->name);
	} else if (needs_utf8(x->req) && !(x->s->features & SMTP_FEAT_SMTPUTF8)) {
		smtp_fail_set(&f, 5, "5.6.7", "SMTPUTF8 is required, but was not offered by host %s",
			      x->s->name);
	} else {
		return 0;
	}
	for (size_t k = 0; k < x->n; k++)
		decide_fail(x, x->idx[k], &f, NULL);
	return -1;
}

/* defer_open - every recipient still open gets f; the session is over */
static void defer_open(struct txn *x, const struct smtp_fail *f)
{
	for (size_t k = 0; k < x->n; k++)
		if (x->req->rcpt[x->idx[k]].status == DA_UNDECIDED)
			decide_fail(x, x->idx[k], f, NULL);
	smtp_session_close(x->s, 0);
}

/* lost - an I/O failure at stage; SMTP_TRY_NEXT if nothing was decided */
static enum smtp_try lost(struct txn *x, int io, const char *stage, struct smtp_fail *f)
{
	io_fail(f, x->s, io, stage);
	if (x->decided == 0) {
		smtp_session_close(x->s, 0);
		return SMTP_TRY_NEXT;
	}
	defer_open(x, f);
	return SMTP_TRY_DONE;
}

/* send_envelope - MAIL, the RCPTs, and with PIPELINING also DATA */
static int send_envelope(struct txn *x, int utf8, int pipelined)
{
	smtp_mail_cmd(x->req, x->s->features, utf8, &x->s->wbuf);
	if (!pipelined)
		return smtp_flush(x->s, x->t->mail);
	for (size_t k = 0; k < x->n; k++)
		smtp_rcpt_cmd(&x->req->rcpt[x->idx[k]], x->s->features, &x->s->wbuf);
	vstr_cat(&x->s->wbuf, "DATA\r\n");
	return smtp_flush(x->s, x->t->mail);
}

/* read_rcpts - the RCPT replies (sending each first when not pipelined) */
static int read_rcpts(struct txn *x, int pipelined)
{
	int io;

	for (size_t k = 0; k < x->n; k++) {
		if (!pipelined) {
			smtp_rcpt_cmd(&x->req->rcpt[x->idx[k]], x->s->features, &x->s->wbuf);
			if ((io = smtp_flush(x->s, x->t->rcpt)) != SMTP_IO_OK)
				return io;
		}
		if ((io = smtp_read_reply(x->s, &x->r, x->t->rcpt)) != SMTP_IO_OK)
			return io;
		if (x->r.code / 100 == 2)
			x->ok[x->nok++] = x->idx[k];
		else
			decide_reply(x, x->idx[k], &x->r, "RCPT TO command");
	}
	return SMTP_IO_OK;
}

/* send_content - the queue file's content, converted, in large writes */
static int send_content(struct txn *x, struct smtp_fail *f)
{
	struct qenvelope env;
	struct qcontent c;
	struct smtp_conv conv;
	const char *buf;
	ssize_t n;
	int io = SMTP_IO_OK;

	memset(&env, 0, sizeof(env));
	env.content_offset = x->req->content_offset;
	qcontent_open(&c, x->req->fd, &env);
	smtp_conv_init(&conv, (size_t)conf_int("smtp_line_length_limit"));
	vstr_reset(&x->s->wbuf);
	while (io == SMTP_IO_OK && (n = qcontent_next(&c, &buf)) > 0) {
		smtp_conv_feed(&conv, buf, (size_t)n, &x->s->wbuf);
		if (vstr_len(&x->s->wbuf) >= SMTP_WRITE_CHUNK)
			io = smtp_flush(x->s, x->t->data_xfer);
	}
	qcontent_close(&c);
	if (io != SMTP_IO_OK)
		return io;
	if (n < 0) {
		smtp_fail_set(f, 4, "4.3.0", "error reading the queue file");
		return 1;
	}
	smtp_conv_end(&conv, &x->s->wbuf);
	return smtp_flush(x->s, x->t->data_xfer);
}

/* end_of_data - the verdicts after the final dot: one reply (SMTP) or
 * one per accepted recipient (LMTP) */
static int end_of_data(struct txn *x)
{
	size_t replies = x->s->lmtp ? x->nok : 1;
	int io;

	for (size_t k = 0; k < replies; k++) {
		if ((io = smtp_read_reply(x->s, &x->r, x->t->data_done)) != SMTP_IO_OK)
			return io;
		for (size_t j = x->s->lmtp ? k : 0; j < (x->s->lmtp ? k + 1 : x->nok); j++)
			decide_reply(x, x->ok[j], &x->r, "end of DATA command");
	}
	return SMTP_IO_OK;
}

/* data_phase - DATA's 354, the content, the verdicts */
static enum smtp_try data_phase(struct txn *x, int pipelined, struct smtp_fail *f)
{
	int io;

	if (!pipelined) {
		vstr_cat(&x->s->wbuf, "DATA\r\n");
		if ((io = smtp_flush(x->s, x->t->data_init)) != SMTP_IO_OK)
			return lost(x, io, "sending DATA command", f);
	}
	if ((io = smtp_read_reply(x->s, &x->r, x->t->data_init)) != SMTP_IO_OK)
		return lost(x, io, "sending DATA command", f);
	if (x->r.code != 354) {
		for (size_t k = 0; k < x->nok; k++)
			decide_reply(x, x->ok[k], &x->r, "DATA command");
		x->s->clean = 0;
		return SMTP_TRY_DONE;
	}
	if ((io = send_content(x, f)) == 1) {
		defer_open(x, f);
		return SMTP_TRY_DONE;
	}
	if (io != SMTP_IO_OK) {
		io_fail(f, x->s, io, "sending message body");
		defer_open(x, f);
		return SMTP_TRY_DONE;
	}
	if ((io = end_of_data(x)) != SMTP_IO_OK) {
		io_fail(f, x->s, io, "sending end of data -- message may be sent more than once");
		defer_open(x, f);
		return SMTP_TRY_DONE;
	}
	x->s->clean = 1;
	return SMTP_TRY_DONE;
}

/* end_354 - a pipelined DATA got 354 though nothing was accepted: send
 * the empty message's dot and ignore the reply */
static void end_354(struct txn *x)
{
	vstr_reset(&x->s->wbuf);
	vstr_cat(&x->s->wbuf, ".\r\n");
	if (smtp_flush(x->s, x->t->data_done) != SMTP_IO_OK
	    || smtp_read_reply(x->s, &x->r, x->t->data_done) != SMTP_IO_OK)
		smtp_session_close(x->s, 0);
}

/* no_recipients - nothing accepted; the next transaction starts with RSET */
static enum smtp_try no_recipients(struct txn *x, int pipelined, struct smtp_fail *f)
{
	int io;

	x->s->clean = 0;
	if (!pipelined)
		return SMTP_TRY_DONE;
	if ((io = smtp_read_reply(x->s, &x->r, x->t->data_init)) != SMTP_IO_OK)
		return lost(x, io, "sending DATA command", f);
	if (x->r.code == 354)
		end_354(x);
	return SMTP_TRY_DONE;
}

/* mail_refused - MAIL got no 2xx: 421 tries the next server, else every
 * recipient gets the reply; pipelined replies are drained */
static enum smtp_try mail_refused(struct txn *x, int pipelined, struct smtp_fail *f)
{
	said(f, x->s, &x->r, "MAIL FROM command");
	if (x->r.code == 421 && x->decided == 0) {
		smtp_session_close(x->s, 0);
		return SMTP_TRY_NEXT;
	}
	for (size_t k = 0; k < x->n; k++)
		decide_fail(x, x->idx[k], f, &x->r);
	x->s->clean = 0;
	for (size_t k = 0; pipelined && k <= x->n; k++)
		if (smtp_read_reply(x->s, &x->r, x->t->rcpt) != SMTP_IO_OK) {
			smtp_session_close(x->s, 0);
			return SMTP_TRY_DONE;
		}
	if (pipelined && x->r.code == 354)
		end_354(x);
	return SMTP_TRY_DONE;
}

/* reset - RSET before reusing a session whose last transaction broke off */
static int reset(struct txn *x)
{
	if (x->s->clean)
		return SMTP_IO_OK;
	if (command(x->s, "RSET\r\n", &x->r, x->t->mail) != SMTP_IO_OK || x->r.code / 100 != 2)
		return SMTP_IO_LOST;
	x->s->clean = 1;
	return SMTP_IO_OK;
}

static enum smtp_try transaction(struct txn *x, struct smtp_fail *f)
{
	int pipelined = (x->s->features & SMTP_FEAT_PIPELINING) != 0;
	int io;

	if (reset(x) != SMTP_IO_OK)
		return lost(x, SMTP_IO_LOST, "sending RSET", f);
	if (precheck(x) < 0)
		return SMTP_TRY_DONE;
	if ((io = send_envelope(x, needs_utf8(x->req), pipelined)) != SMTP_IO_OK)
		return lost(x, io, "sending MAIL FROM", f);
	if ((io = smtp_read_reply(x->s, &x->r, x->t->mail)) != SMTP_IO_OK)
		return lost(x, io, "sending MAIL FROM", f);
	if (x->r.code / 100 != 2)
		return mail_refused(x, pipelined, f);
	x->s->clean = 0;
	if ((io = read_rcpts(x, pipelined)) != SMTP_IO_OK)
		return lost(x, io, "sending RCPT TO", f);
	if (x->nok == 0)
		return no_recipients(x, pipelined, f);
	return data_phase(x, pipelined, f);
}

enum smtp_try smtp_deliver(struct smtp_session *s, struct da_request *req,
			   const struct smtp_timeouts *t, struct smtp_fail *f)
{
	struct txn x;
	enum smtp_try ret;

	memset(&x, 0, sizeof(x));
	x.s = s, x.req = req, x.t = t;
	x.idx = xcalloc(req->nrcpt, sizeof(*x.idx));
	x.ok = xcalloc(req->nrcpt, sizeof(*x.ok));
	for (size_t i = 0; i < req->nrcpt; i++)
		if (req->rcpt[i].status == DA_UNDECIDED)
			x.idx[x.n++] = i;
	snprintf(x.remote_mta, sizeof(x.remote_mta), "dns; %s", s->srv.host);
	smtp_reply_init(&x.r);
	s->uses++;
	ret = x.n ? transaction(&x, f) : SMTP_TRY_DONE;
	smtp_reply_free(&x.r);
	free(x.idx);
	free(x.ok);
	return ret;
}
