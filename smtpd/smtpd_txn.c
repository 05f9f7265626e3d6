/* smtpd_txn - one mail transaction on its way into the queue.
 *
 * At DATA (or the first BDAT) the envelope goes to cleanup(8), which
 * creates the queue file and answers with its ID; the recipients follow,
 * then the Received: line naming that ID, then the content as the
 * parser of smtpd_data.c turns it into LF lines, in chunks of up to
 * CLEANUP_CHUNK bytes. Content that will be refused (too big, bare CR or
 * LF) is still read to its end but no longer sent. The reply to the end
 * of the message is 250 only when cleanup_finish() reports the queue
 * file committed; everything else aborts the file, so nothing half-done
 * is ever queued.
 *
 * In stand-alone mode (smtpd -S, for sendmail -bs) the caller is an
 * ordinary user who cannot reach cleanup: the message goes through
 * postdrop(1), set-gid like for sendmail, as a maildrop record stream,
 * and 250 means postdrop committed it to maildrop/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sysexits.h>

#include "cleanup_client.h"
#include "rec.h"
#include "config.h"
#include "mem.h"
#include "msg.h"
#include "smtpd.h"

const char *smtpd_proto(const struct smtpd_session *s)
{
	return s->esmtp ? "ESMTP" : "SMTP";
}

void smtpd_log_action(const struct smtpd_session *s, const char *action, const char *stage,
		      const char *text, const char *rcpt)
{
	vstr line = VSTR_INIT;

	vstr_catf(&line, "%s: %s: %s from %s: %s;", *s->queue_id ? s->queue_id : "NOQUEUE",
		  action, stage, s->namaddr, text);
	if (s->sender)
		vstr_catf(&line, " from=<%s>", s->sender);
	if (rcpt)
		vstr_catf(&line, " to=<%s>", rcpt);
	vstr_catf(&line, " proto=%s", smtpd_proto(s));
	if (s->helo)
		vstr_catf(&line, " helo=<%s>", s->helo);
	msg_info("%s", vstr_str(&line));
	vstr_release(&line);
}

void smtpd_log_reject(const struct smtpd_session *s, const char *stage, const char *reply,
		       const char *rcpt)
{
	smtpd_log_action(s, "reject", stage, reply, rcpt);
}

static void rfc5322_date(char *buf, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(buf, size, "%a, %d %b %Y %H:%M:%S %z (%Z)", &tm);
}

/* received_header - the trace line of this hop (RFC 5321 4.4) */
static void received_header(struct smtpd_session *s)
{
	char date[64], with[16];

	/* RFC 3848: S for TLS, A for AUTH */
	snprintf(with, sizeof(with), "%s%s%s", s->smtputf8 ? "UTF8SMTP" : smtpd_proto(s),
		 s->tls_active ? "S" : "", s->sasl_username ? "A" : "");
	rfc5322_date(date, sizeof(date));
	vstr_catf(&s->content, "Received: from %s (%s [%s])\n", s->helo ? s->helo : s->name,
		  s->name, s->rfc_addr);
	if (s->tls_active)
		vstr_catf(&s->content, "\t(using %s with cipher %s (%d/%d bits))\n", s->tls_info.protocol,
			  s->tls_info.cipher, s->tls_info.bits, s->tls_info.alg_bits);
	if (s->sasl_username && conf_bool("smtpd_sasl_authenticated_header"))
		vstr_catf(&s->content, "\t(Authenticated sender: %s)\n", s->sasl_username);
	if (s->rcpt.n == 1)
		vstr_catf(&s->content, "\tby %s (%s) with %s id %s\n\tfor <%s>; %s\n",
			  conf_str("myhostname"), conf_str("mail_name"), with, s->queue_id,
			  s->rcpt.v[0], date);
	else
		vstr_catf(&s->content, "\tby %s (%s) with %s id %s;\n\t%s\n",
			  conf_str("myhostname"), conf_str("mail_name"), with, s->queue_id, date);
}

/* drop_open - stand-alone: the envelope to a postdrop child */
static int drop_open(struct smtpd_session *s)
{
	char *path = xasprintf("%s/postdrop", conf_str("command_directory")), *err = NULL, *kv;
	const char *attrs[][2] = {{"envid", s->envid}, {"ret", s->ret}, {"body_type", s->body_type},
				  {"smtputf8", s->smtputf8 ? "1" : NULL}};
	vstr out = VSTR_INIT;

	if (postdrop_start(&s->drop, path, conf_dir(), 0, &err) < 0) {
		msg_warn("%s", err);
		free(err);
		free(path);
		return -1;
	}
	free(path);
	s->dropping = 1;
	rec_encode(&out, REC_SENDER, s->sender, strlen(s->sender));
	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		if (attrs[i][1] == NULL || *attrs[i][1] == 0)
			continue;
		kv = xasprintf("%s=%s", attrs[i][0], attrs[i][1]);
		rec_encode(&out, REC_ATTR, kv, strlen(kv));
		free(kv);
	}
	for (size_t i = 0; i < s->rcpt.n; i++) {
		if (*s->notify.v[i])
			rec_encode(&out, REC_NOTIFY, s->notify.v[i], strlen(s->notify.v[i]));
		rec_encode(&out, REC_RCPT, s->rcpt.v[i], strlen(s->rcpt.v[i]));
	}
	rec_encode(&out, REC_MESSAGE, "", 0);
	postdrop_write(&s->drop, &out);
	vstr_release(&out);
	return 0;
}

/* drop_close - stand-alone: E and postdrop's verdict (sysexits), or
 * without E, which makes postdrop throw the file away */
static int drop_close(struct smtpd_session *s, int commit)
{
	vstr out = VSTR_INIT;
	int status;

	if (!s->dropping)
		return EX_SOFTWARE;
	if (commit) {
		rec_encode(&out, REC_END, "", 0);
		postdrop_write(&s->drop, &out);
	}
	vstr_release(&out);
	status = postdrop_finish(&s->drop);
	s->dropping = 0;
	return commit && s->drop.error == 0 ? status : EX_TEMPFAIL;
}

int smtpd_txn_open(struct smtpd_session *s, enum smtpd_data_mode mode)
{
	struct cleanup_envelope env;
	struct cleanup_result res;
	char *err = NULL;

	smtpd_data_init(&s->data, mode);
	vstr_reset(&s->content);
	s->msg_size = 0;
	s->too_big = 0;
	if (s->stand_alone)
		return drop_open(s);
	s->cleanup = cleanup_open(NULL, &err);
	if (s->cleanup == NULL) {
		msg_warn("%s", err);
		free(err);
		return -1;
	}
	memset(&env, 0, sizeof(env));
	env.sender = s->sender;
	env.origin = "smtp";
	env.uid = s->uid;
	env.flags = 0;
	if (s->hold)
		env.flags |= CLEANUP_FLAG_HOLD;
	env.envid = s->envid;
	env.ret = s->ret;
	env.body_type = s->body_type;
	env.smtputf8 = s->smtputf8 ? "1" : NULL;
	if (cleanup_envelope(s->cleanup, &env) < 0 || *cleanup_queue_id(s->cleanup) == 0) {
		cleanup_finish(s->cleanup, &res);
		s->cleanup = NULL;
		msg_warn("cleanup refused the envelope: %s", res.reason);
		return -1;
	}
	snprintf(s->queue_id, sizeof(s->queue_id), "%s", cleanup_queue_id(s->cleanup));
	if (s->sasl_username)
		msg_info("%s: client=%s, sasl_method=%s, sasl_username=%s%s%s", s->queue_id,
			 s->namaddr, s->sasl_method, s->sasl_username,
			 s->sasl_sender ? ", sasl_sender=" : "", s->sasl_sender ? s->sasl_sender : "");
	else
		msg_info("%s: client=%s", s->queue_id, s->namaddr);
	for (size_t i = 0; i < s->rcpt.n; i++)
		cleanup_rcpt(s->cleanup, s->rcpt.v[i], s->orcpt.v[i], s->notify.v[i]);
	received_header(s);
	s->msg_size = (long long)vstr_len(&s->content);
	return 0;
}

/* refusing - the content will be refused: stop sending it to cleanup */
static int refusing(const struct smtpd_session *s)
{
	return s->too_big || (s->bare == SMTPD_BARE_REJECT && s->data.flags != 0);
}

static void content_ship(struct smtpd_session *s, int all)
{
	if (vstr_len(&s->content) == 0 || (!all && vstr_len(&s->content) < CLEANUP_CHUNK))
		return;
	if (!refusing(s) && s->cleanup)
		cleanup_data(s->cleanup, vstr_str(&s->content), vstr_len(&s->content));
	if (!refusing(s) && s->dropping) {
		vstr out = VSTR_INIT;

		maildrop_content_encode(&out, &s->content, all);
		postdrop_write(&s->drop, &out);
		vstr_release(&out);
	}
	vstr_reset(&s->content);
}

size_t smtpd_txn_content(struct smtpd_session *s, const char *p, size_t len)
{
	long long lines = s->data.lines, before = s->data.out_bytes;
	long long limit = conf_int("message_size_limit");
	size_t n = smtpd_data_feed(&s->data, p, len, &s->content);

	s->msg_size += s->data.out_bytes - before;
	if (limit > 0 && s->msg_size > limit)
		s->too_big = 1;
	if (s->data.lines != lines && s->deadline)
		smtpd_record_deadline(s);
	content_ship(s, 0);
	return n;
}

/* bare_reply - the reply to content with bare CR or LF */
static void bare_reply(struct smtpd_session *s, vstr *reply)
{
	int code = (int)conf_int("smtpd_forbid_bare_newline_reject_code");

	vstr_cpyf(reply, "%d 5.5.2 Error: bare <%s> received", code,
		  (s->data.flags & SMTPD_DATA_BARE_LF) ? "LF" : "CR");
	if (code == 521)
		s->hangup = 1;
}

int smtpd_txn_finish(struct smtpd_session *s)
{
	struct cleanup_result res;
	vstr reply = VSTR_INIT;
	int ret = -1;

	content_ship(s, 1);
	if (s->too_big) {
		vstr_cpy(&reply, "552 5.3.4 Error: message file too big");
	} else if (refusing(s)) {
		bare_reply(s, &reply);
	} else if (smtpd_restrict(s, SMTPD_RC_EOD, NULL, &reply) < 0) {
		;	/* the reply says why */
	} else if (s->discard) {
		/* DISCARD: the client hears "queued", the file is aborted */
		vstr_cpyf(&reply, "250 2.0.0 Ok: queued as %s", s->queue_id);
		ret = 0;
	} else if (s->dropping) {
		int status = drop_close(s, 1);

		if (status == 0) {
			vstr_cpy(&reply, "250 2.0.0 Ok: queued");
			ret = 0;
		} else if (status == EX_TEMPFAIL) {
			vstr_cpy(&reply, "451 4.3.0 Error: queue file write error");
		} else {
			vstr_cpyf(&reply, "554 5.3.0 Error: postdrop refused the message (status %d)", status);
		}
	} else {
		if (s->hold)	/* a HOLD from smtpd_end_of_data_restrictions */
			cleanup_hold(s->cleanup);
		cleanup_finish(s->cleanup, &res);
		s->cleanup = NULL;
		if (res.status == 0) {
			vstr_cpyf(&reply, "250 2.0.0 Ok: queued as %s", res.queue_id);
			ret = 0;
		} else if (res.status == 4) {
			msg_warn("%s: cleanup: %s %s", s->queue_id, res.dsn, res.reason);
			vstr_cpyf(&reply, "451 4.3.0 Error: %s", res.reason);
		} else {
			vstr_cpyf(&reply, "%s %s Error: %s", strcmp(res.dsn, "5.3.4") == 0 ? "552" : "550",
				  *res.dsn == '5' ? res.dsn : "5.0.0", res.reason);
		}
	}
	if (ret < 0)
		smtpd_log_reject(s, "END-OF-MESSAGE", vstr_str(&reply), s->rcpt.n == 1 ? s->rcpt.v[0] : NULL);
	smtpd_reply(s, "%s", vstr_str(&reply));
	vstr_release(&reply);
	smtpd_txn_reset(s);
	return ret;
}

void smtpd_txn_reset(struct smtpd_session *s)
{
	if (s->cleanup) {
		cleanup_abort(s->cleanup);
		s->cleanup = NULL;
	}
	if (s->dropping)
		drop_close(s, 0);
	free(s->sender);
	free(s->envid);
	free(s->ret);
	free(s->body_type);
	free(s->bdat_reply);
	free(s->sasl_sender);
	s->sasl_sender = NULL;
	s->sender = s->envid = s->ret = s->body_type = s->bdat_reply = NULL;
	argv_free(&s->rcpt);
	argv_free(&s->orcpt);
	argv_free(&s->notify);
	s->smtputf8 = s->binarymime = 0;
	s->rcpt_overshoot = 0;
	s->queue_id[0] = 0;
	s->msg_size = 0;
	s->too_big = 0;
	s->bdat_failed = 0;
	s->hold = s->discard = 0;
	vstr_reset(&s->content);
	if (s->state & (SMTPD_ST_MAIL | SMTPD_ST_RCPT | SMTPD_ST_BDAT))
		s->state = SMTPD_ST_HELO;
}
