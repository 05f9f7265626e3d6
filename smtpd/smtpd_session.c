/* smtpd_session - one SMTP session from greeting to disconnect.
 *
 * Input is read into one buffer with a deadline on every wait
 * (smtpd_timeout; with smtpd_per_record_deadline the time limit covers a
 * whole command line or content read, so one byte at a time cannot hold a
 * session). Replies are collected and written when the session next waits
 * for input, so that a pipelined group of commands gets its replies in one
 * write (RFC 2920). The loop reads a line, hands it to the command table
 * (smtpd_cmd.c), and ends at QUIT, a hangup, the hard error limit, a
 * timeout or the client going away; each ending is logged in Postfix's
 * words.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "events.h"
#include "ipc.h"
#include "mem.h"
#include "msg.h"
#include "smtpd.h"

void smtpd_session_init(struct smtpd_session *s, int in_fd, int out_fd, int stand_alone)
{
	memset(s, 0, sizeof(*s));
	s->in_fd = in_fd;
	s->out_fd = out_fd;
	s->stand_alone = stand_alone;
	s->uid = -1;
	s->ibuf = xmalloc(SMTPD_INBUF);
	vstr_init(&s->out);
	vstr_init(&s->content);
	s->timeout_ms = 1000 * conf_time("smtpd_timeout");
	s->state = SMTPD_ST_CONNECT;
	s->where = "CONNECT";
}

/* bare_mode - smtpd_forbid_bare_newline, and its exclusions for this client */
static enum smtpd_bare bare_mode(const struct smtpd_session *s)
{
	static const char *const normalize[] = {"normalize", "yes", "note", "no"};
	const char *v = conf_str("smtpd_forbid_bare_newline");

	/* Postfix 3.9's values; "yes" is its alias for normalize. postern
	 * never ends DATA at anything but CRLF.CRLF, so "no" is normalize too. */
	for (size_t i = 0; i < sizeof(normalize) / sizeof(normalize[0]); i++)
		if (strcasecmp(v, normalize[i]) == 0)
			return SMTPD_BARE_NORMALIZE;
	if (strcasecmp(v, "reject") != 0)
		msg_warn("smtpd_forbid_bare_newline = %s: unknown value, using reject", v);
	if (smtpd_check_list(conf_str("smtpd_forbid_bare_newline_exclusions"),
			     "smtpd_forbid_bare_newline_exclusions", s->addr) == 1)
		return SMTPD_BARE_NORMALIZE;
	return SMTPD_BARE_REJECT;
}

void smtpd_session_client(struct smtpd_session *s, const char *name, const char *addr,
			  const char *port)
{
	s->name = xstrdup(name);
	s->addr = xstrdup(addr);
	s->port = xstrdup(port);
	s->namaddr = xasprintf("%s[%s]", name, addr);
	s->rfc_addr = strchr(addr, ':') ? xasprintf("IPv6:%s", addr) : xstrdup(addr);
	s->in_mynetworks = smtpd_check_mynetworks(addr) == 1;
	s->bare = bare_mode(s);
}

void smtpd_session_free(struct smtpd_session *s)
{
	smtpd_txn_reset(s);
	free(s->name);
	free(s->addr);
	free(s->port);
	free(s->namaddr);
	free(s->rfc_addr);
	free(s->helo);
	smtpd_sasl_reset(s);
	free(s->access_denied);
	free(s->ibuf);
	tls_conn_free(s->tls);
	vstr_release(&s->out);
	vstr_release(&s->content);
	memset(s, 0, sizeof(*s));
}

/* ---- output ---------------------------------------------------------- */

void smtpd_reply(struct smtpd_session *s, const char *fmt, ...)
{
	size_t start = vstr_len(&s->out);
	char *line;
	va_list ap;

	va_start(ap, fmt);
	vstr_vcatf(&s->out, fmt, ap);
	va_end(ap);
	line = s->out.buf + start;
	/* Client text in a reply (an address) can hold no line end: make sure. */
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 32)
			*p = '?';
	msg_debug("> %s: %s", s->namaddr ? s->namaddr : "client", line);
	/* Postfix: past the soft error limit every error reply is slowed down */
	if ((line[0] == '4' || line[0] == '5') && s->error_count >= conf_int("smtpd_soft_error_limit")
	    && conf_time("smtpd_error_sleep_time") > 0) {
		vstr_cat(&s->out, "\r\n");
		smtpd_flush(s);
		sleep((unsigned)conf_time("smtpd_error_sleep_time"));
		return;
	}
	vstr_cat(&s->out, "\r\n");
}

int smtpd_flush(struct smtpd_session *s)
{
	long long deadline;

	if (vstr_len(&s->out) == 0)
		return 0;
	if (s->io_error == SMTPD_IO_ERROR) {
		vstr_reset(&s->out);
		return -1;
	}
	deadline = ev_now_ms() + s->timeout_ms;
	if ((s->tls ? tls_write_all(s->tls, vstr_str(&s->out), vstr_len(&s->out), deadline)
	     : ipc_write_all(s->out_fd, vstr_str(&s->out), vstr_len(&s->out), deadline)) < 0) {
		if (s->io_error == SMTPD_IO_OK)
			s->io_error = errno == ETIMEDOUT ? SMTPD_IO_TIMEOUT : SMTPD_IO_ERROR;
		vstr_reset(&s->out);
		return -1;
	}
	vstr_reset(&s->out);
	return 0;
}

/* ---- input ----------------------------------------------------------- */

/* fill - reads more input after what is buffered; 0, or -1 (io_error) */
static int fill(struct smtpd_session *s)
{
	long long deadline;
	ssize_t n;

	if (smtpd_flush(s) < 0)
		return -1;
	if (s->ipos > 0) {
		memmove(s->ibuf, s->ibuf + s->ipos, s->ilen - s->ipos);
		s->ilen -= s->ipos;
		s->ipos = 0;
	}
	deadline = s->deadline ? s->deadline : ev_now_ms() + s->timeout_ms;
	for (;;) {
		/* wait first: the socket (or stdin) may be blocking; TLS waits
		 * inside tls_read, which knows when it has bytes buffered */
		int ready = s->tls ? 1 : ipc_wait(s->in_fd, POLLIN, deadline);

		if (ready == 0) {
			s->io_error = SMTPD_IO_TIMEOUT;
			return -1;
		}
		if (ready < 0 && errno != EINTR) {
			s->io_error = SMTPD_IO_ERROR;
			return -1;
		}
		if (s->tls)
			n = tls_read(s->tls, s->ibuf + s->ilen, SMTPD_INBUF - s->ilen, deadline);
		else
			n = read(s->in_fd, s->ibuf + s->ilen, SMTPD_INBUF - s->ilen);
		if (n > 0) {
			s->ilen += (size_t)n;
			return 0;
		}
		if (n == 0) {
			s->io_error = SMTPD_IO_EOF;
			return -1;
		}
		if (s->tls || (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) {
			s->io_error = errno == ETIMEDOUT ? SMTPD_IO_TIMEOUT
				: errno == ECONNRESET ? SMTPD_IO_EOF : SMTPD_IO_ERROR;
			return -1;
		}
	}
}

void smtpd_record_deadline(struct smtpd_session *s)
{
	s->deadline = conf_bool("smtpd_per_record_deadline") ? ev_now_ms() + s->timeout_ms : 0;
}

int smtpd_read_line(struct smtpd_session *s, vstr *line, unsigned *flags)
{
	size_t limit = (size_t)conf_int("line_length_limit");
	int last = 0;

	vstr_reset(line);
	*flags = 0;
	smtpd_record_deadline(s);
	for (;;) {
		char *start = s->ibuf + s->ipos, *nl;
		size_t avail = s->ilen - s->ipos, take;

		nl = memchr(start, '\n', avail);
		take = nl ? (size_t)(nl - start) : avail;
		if (take > 0)
			last = (unsigned char)start[take - 1];
		if (vstr_len(line) + take > limit + 1) {	/* room for a CR */
			*flags |= SMTPD_LINE_TOO_LONG;
			if (vstr_len(line) < limit + 1)
				vstr_ncat(line, start, limit + 1 - vstr_len(line));
		} else {
			vstr_ncat(line, start, take);
		}
		s->ipos += take;
		if (nl) {
			s->ipos++;
			break;
		}
		if (fill(s) < 0)
			return -1;
	}
	s->deadline = 0;
	if (last == '\r' && vstr_len(line) > 0 && vstr_str(line)[vstr_len(line) - 1] == '\r')
		vstr_truncate(line, vstr_len(line) - 1);
	else if (last != '\r')
		*flags |= SMTPD_LINE_BARE_LF;
	if (vstr_len(line) > limit) {
		*flags |= SMTPD_LINE_TOO_LONG;
		vstr_truncate(line, limit);
	}
	*flags |= smtpd_line_scan(vstr_str(line), vstr_len(line));
	msg_debug("< %s: %s", s->namaddr, vstr_str(line));
	return 0;
}

int smtpd_input(struct smtpd_session *s, const char **p, size_t *len)
{
	if (s->ipos == s->ilen && fill(s) < 0)
		return -1;
	*p = s->ibuf + s->ipos;
	*len = s->ilen - s->ipos;
	return 0;
}

void smtpd_consume(struct smtpd_session *s, size_t n)
{
	s->ipos += n;
}

int smtpd_input_pending(struct smtpd_session *s)
{
	char c;

	if (s->ipos < s->ilen || (s->tls && tls_pending(s->tls)))
		return 1;
	return recv(s->in_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* ---- the session ----------------------------------------------------- */

void smtpd_log_lost(struct smtpd_session *s, const char *detail)
{
	switch (s->io_error) {
	case SMTPD_IO_TIMEOUT:
		s->io_error = SMTPD_IO_OK;	/* the reply may still go out */
		smtpd_reply(s, "421 4.4.2 %s Error: timeout exceeded", conf_str("myhostname"));
		smtpd_flush(s);
		msg_info("timeout after %s%s from %s", s->where, detail, s->namaddr);
		s->io_error = SMTPD_IO_TIMEOUT;
		break;
	case SMTPD_IO_OK:
		break;
	default:
		msg_info("lost connection after %s%s from %s", s->where, detail, s->namaddr);
		break;
	}
	s->hangup = 1;
}

/* early_talker - input before the greeting: a client that does not wait
 * (smtpd_forbid_unauth_pipelining) */
static int early_talker(struct smtpd_session *s)
{
	if (s->stand_alone || !conf_bool("smtpd_forbid_unauth_pipelining"))
		return 0;
	if (!smtpd_input_pending(s))
		return 0;
	msg_info("improper command pipelining after CONNECT from %s", s->namaddr);
	smtpd_reply(s, "554 5.5.0 Error: SMTP protocol synchronization");
	return 1;
}

/* drain - reads what the client already sent before the connection is
 * closed: closing a socket with unread input sends a reset, which can
 * destroy the last reply before the client reads it */
static void drain(struct smtpd_session *s)
{
	char buf[4096];

	if (s->stand_alone)
		return;
	for (int i = 0; i < 64 && recv(s->in_fd, buf, sizeof(buf), MSG_DONTWAIT) > 0; i++)
		;
}

void smtpd_session_run(struct smtpd_session *s)
{
	vstr line = VSTR_INIT, counts = VSTR_INIT;
	unsigned flags;

	msg_info("connect from %s", s->namaddr);
	if (!s->stand_alone && conf_bool("smtpd_tls_wrappermode")) {
		if (smtpd_tls_ctx == NULL)
			s->hangup = 1;	/* wrapper mode without TLS: nothing to say */
		else if (smtpd_tls_start(s) < 0)
			smtpd_log_lost(s, "");	/* sets hangup */
	}
	if (s->hangup) {
		;
	} else if (early_talker(s)) {
		s->hangup = 1;
	} else if (!conf_bool("smtpd_delay_reject")
		   && smtpd_restrict_reply(s, SMTPD_RC_CLIENT, NULL) < 0) {
		s->error_count++;	/* the reject replaces the greeting */
	} else {
		smtpd_reply(s, "220 %s", conf_str("smtpd_banner"));
	}
	while (!s->quit && !s->hangup) {
		if (s->error_count >= conf_int("smtpd_hard_error_limit")) {
			smtpd_reply(s, "421 4.7.0 %s Error: too many errors", conf_str("myhostname"));
			msg_info("too many errors after %s from %s", s->where, s->namaddr);
			break;
		}
		if (smtpd_read_line(s, &line, &flags) < 0) {
			smtpd_log_lost(s, "");
			break;
		}
		smtpd_cmd_dispatch(s, vstr_str(&line), vstr_len(&line), flags);
	}
	smtpd_flush(s);
	drain(s);
	smtpd_txn_reset(s);
	smtpd_cmd_counts(s, &counts);
	msg_info("disconnect from %s%s", s->namaddr, vstr_str(&counts));
	vstr_release(&line);
	vstr_release(&counts);
}
