/* smtpd_cmd - the SMTP commands: one table, then one action each.
 *
 * A command line goes through the same steps in smtpd_cmd_dispatch:
 * line-level refusals (too long, bare CR/LF, NUL, no verb), the table
 * lookup, 8-bit data, RFC 2920 pipelining rules, the states the command
 * is allowed in, its syntax check (which parses the arguments into
 * struct cmd_args), then its action. So validation and action stay apart
 * and the state machine reads from the table:
 *
 *   CONNECT --HELO/EHLO--> HELO --MAIL--> MAIL --RCPT ok--> RCPT
 *   RCPT --DATA--> (content) --> HELO        RCPT --BDAT--> BDAT --BDAT LAST--> HELO
 *   RSET: back to HELO (or stays CONNECT); HELO/EHLO: HELO from anywhere.
 *
 * STARTTLS (smtpd_tls.c) and AUTH (smtpd_sasl.c) are table rows like the
 * others; ehlo_keywords() asks each whether to announce itself.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "maildrop.h"
#include "mem.h"
#include "msg.h"
#include "smtpd.h"

#define CMD_LAST	(1 << 0)	/* must be the last of a pipelined group (RFC 2920) */
#define CMD_JUNK	(1 << 1)	/* counts against smtpd_junk_command_limit */
#define CMD_8BIT	(1 << 2)	/* may carry UTF-8 (SMTPUTF8 addresses) */

#define HELO_MAX	255

/* What a syntax check leaves for the action. */
struct cmd_args {
	struct smtpd_addr addr;
	struct argv keys, values;
	long long size;			/* MAIL SIZE=, BDAT count */
	int last;			/* BDAT LAST */
};

struct smtpd_cmd {
	const char *verb;
	const char *counter;		/* name in the disconnect line */
	unsigned states;		/* SMTPD_ST_* where allowed */
	int flags;
	int (*syntax)(struct smtpd_session *s, const char *args, struct cmd_args *a);
	int (*action)(struct smtpd_session *s, const char *args, struct cmd_args *a);
};

/* ---- helpers ---------------------------------------------------------- */

static int no_args(struct smtpd_session *s, const char *args, const char *usage)
{
	if (*args == 0)
		return 0;
	smtpd_reply(s, "501 5.5.4 Syntax: %s", usage);
	return -1;
}

/* ---- HELO, EHLO --------------------------------------------------------- */

static int syn_helo(struct smtpd_session *s, const char *args, struct cmd_args *a)
{
	(void)a;
	if (*args == 0) {
		smtpd_reply(s, "501 5.5.4 Syntax: %s hostname", s->where);
		return -1;
	}
	if (strlen(args) > HELO_MAX) {
		smtpd_reply(s, "501 5.5.4 Error: %s hostname too long", s->where);
		return -1;
	}
	return 0;
}

/* helo_refused - smtpd_delay_reject = no: smtpd_helo_restrictions now */
static int helo_refused(struct smtpd_session *s, const char *args)
{
	size_t len = strlen(args);
	char *name;
	int ret;

	if (conf_bool("smtpd_delay_reject"))
		return 0;
	while (len > 0 && args[len - 1] == ' ')
		len--;
	name = xstrndup(args, len);
	ret = smtpd_restrict_reply(s, SMTPD_RC_HELO, name) < 0;
	free(name);
	return ret;
}

static void greeted(struct smtpd_session *s, const char *args, int esmtp)
{
	size_t len = strlen(args);

	smtpd_txn_reset(s);
	while (len > 0 && args[len - 1] == ' ')
		len--;
	free(s->helo);
	s->helo = xstrndup(args, len);
	s->esmtp = esmtp;
	s->state = SMTPD_ST_HELO;
}

static int act_helo(struct smtpd_session *s, const char *args, struct cmd_args *a)
{
	(void)a;
	if (helo_refused(s, args))
		return -1;
	greeted(s, args, 0);
	smtpd_reply(s, "250 %s", conf_str("myhostname"));
	return 0;
}

/* ehlo_keywords - the extensions, in Postfix's order */
static void ehlo_keywords(struct smtpd_session *s, struct argv *kw)
{
	long long limit = conf_int("message_size_limit");
	char size[40];

	argv_add(kw, "PIPELINING");
	snprintf(size, sizeof(size), limit > 0 ? "SIZE %lld" : "SIZE", limit);
	argv_add(kw, size);
	if (!conf_bool("disable_vrfy_command"))
		argv_add(kw, "VRFY");
	if (smtpd_tls_offered(s))
		argv_add(kw, "STARTTLS");
	smtpd_sasl_ehlo_keywords(s, kw);
	argv_add(kw, "ENHANCEDSTATUSCODES");
	argv_add(kw, "8BITMIME");
	argv_add(kw, "DSN");
	if (conf_bool("smtputf8_enable"))
		argv_add(kw, "SMTPUTF8");
	argv_add(kw, "CHUNKING");
}

static int act_ehlo(struct smtpd_session *s, const char *args, struct cmd_args *a)
{
	struct argv kw = ARGV_INIT;

	(void)a;
	if (helo_refused(s, args))
		return -1;
	greeted(s, args, 1);
	ehlo_keywords(s, &kw);
	smtpd_reply(s, "250-%s", conf_str("myhostname"));
	for (size_t i = 0; i < kw.n; i++)
		smtpd_reply(s, "250%c%s", i + 1 < kw.n ? '-' : ' ', kw.v[i]);
	argv_free(&kw);
	return 0;
}

/* ---- MAIL --------------------------------------------------------------- */

/* path_arg - "FROM:" or "TO:" then a path; -1 after the reply */
static int path_arg(struct smtpd_session *s, const char *args, const char *word, int flags,
		    struct cmd_args *a, const char *usage, int sender)
{
	size_t wl = strlen(word);
	const char *end, *why;

	if (strncasecmp(args, word, wl) != 0) {
		smtpd_reply(s, "501 5.5.4 Syntax: %s", usage);
		return -1;
	}
	if (smtpd_parse_path(args + wl, flags, &a->addr, &end, &why) < 0) {
		smtpd_reply(s, "501 %s Bad %s address syntax", sender ? "5.1.7" : "5.1.3",
			    sender ? "sender" : "recipient");
		msg_debug("%s: %s", s->namaddr, why);
		return -1;
	}
	if (smtpd_parse_params(end, &a->keys, &a->values, &why) < 0) {
		smtpd_reply(s, "501 5.5.4 Error: %s", why);
		return -1;
	}
	return 0;
}

/* find_key - the index of the parameter, -1 when absent, -2 repeated */
static int find_key(const struct cmd_args *a, const char *key)
{
	int found = -1;

	for (size_t i = 0; i < a->keys.n; i++) {
		if (strcasecmp(a->keys.v[i], key) != 0)
			continue;
		if (found >= 0)
			return -2;
		found = (int)i;
	}
	return found;
}

/* utf8_ok - 8-bit in the line only as SMTPUTF8 allows */
static int utf8_ok(struct smtpd_session *s, const char *args, int smtputf8)
{
	int eight = 0;

	for (const char *p = args; *p && !eight; p++)
		eight = (unsigned char)*p >= 0x80;
	if (!eight)
		return 0;
	if (!smtputf8) {
		smtpd_reply(s, "553 5.6.7 Must declare SMTPUTF8 to send unicode address");
		return -1;
	}
	if (!smtpd_utf8_valid(args, strlen(args))) {
		smtpd_reply(s, "501 5.6.7 Error: malformed UTF-8 in command");
		return -1;
	}
	return 0;
}

static int syn_mail(struct smtpd_session *s, const char *args, struct cmd_args *a)
{
	int utf8 = conf_bool("smtputf8_enable") ? SMTPD_PATH_UTF8_OK : 0;

	if (path_arg(s, args, "FROM:", SMTPD_PATH_NULL_OK | utf8, a,
		     "MAIL FROM:<address>", 1) < 0)
		return -1;
	for (size_t i = 0; i < a->keys.n; i++)
		if (find_key(a, a->keys.v[i]) == -2) {
			smtpd_reply(s, "501 5.5.4 Error: duplicate parameter %s", a->keys.v[i]);
			return -1;
		}
	return utf8_ok(s, args, utf8 && find_key(a, "SMTPUTF8") >= 0);
}

/* mail_param - one MAIL parameter into the transaction; -1 after a reply */
static int mail_param(struct smtpd_session *s, const char *key, const char *value)
{
	long long limit = conf_int("message_size_limit"), size;
	vstr dec = VSTR_INIT;
	int ret = 0;

	if (strcasecmp(key, "SIZE") == 0) {
		if ((size = smtpd_parse_size(value)) < 0) {
			smtpd_reply(s, "501 5.5.4 Bad message size syntax");
			ret = -1;
		} else if (limit > 0 && size > limit) {
			smtpd_reply(s, "552 5.3.4 Message size exceeds fixed limit");
			ret = -1;
		}
	} else if (strcasecmp(key, "BODY") == 0) {
		if (strcasecmp(value, "7BIT") == 0 || strcasecmp(value, "8BITMIME") == 0) {
			s->body_type = xstrdup(toupper((unsigned char)value[0]) == '7' ? "7BIT" : "8BITMIME");
		} else if (strcasecmp(value, "BINARYMIME") == 0) {
			s->body_type = xstrdup("8BITMIME");	/* the queue knows two kinds */
			s->binarymime = 1;
		} else {
			smtpd_reply(s, "501 5.5.4 Unsupported BODY parameter value");
			ret = -1;
		}
	} else if (strcasecmp(key, "SMTPUTF8") == 0 && *value == 0 && conf_bool("smtputf8_enable")) {
		s->smtputf8 = 1;
	} else if (strcasecmp(key, "RET") == 0) {
		if (strcasecmp(value, "FULL") == 0 || strcasecmp(value, "HDRS") == 0) {
			s->ret = xstrdup(toupper((unsigned char)value[0]) == 'F' ? "FULL" : "HDRS");
		} else {
			smtpd_reply(s, "501 5.5.4 Bad RET parameter syntax");
			ret = -1;
		}
	} else if (strcasecmp(key, "ENVID") == 0) {
		if (smtpd_xtext_decode(value, &dec) < 0 || !maildrop_envid_ok(vstr_str(&dec), vstr_len(&dec))) {
			smtpd_reply(s, "501 5.5.4 Bad ENVID parameter syntax");
			ret = -1;
		} else {
			s->envid = xstrdup(vstr_str(&dec));
		}
	} else if (strcasecmp(key, "AUTH") == 0) {
		ret = smtpd_sasl_mail_param(s, value);
	} else {
		smtpd_reply(s, "555 5.5.4 Unsupported option: %s", key);
		ret = -1;
	}
	vstr_release(&dec);
	return ret;
}

static int act_mail(struct smtpd_session *s, const char *args, struct cmd_args *a)
{
	(void)args;
	if (smtpd_tls_required(s)) {
		smtpd_reply(s, "530 5.7.0 Must issue a STARTTLS command first");
		return -1;
	}
	if (s->tls_active && conf_bool("smtpd_tls_req_ccert") && smtpd_tls_level() == TLS_LEV_ENCRYPT
	    && !(s->tls_info.peer_cert && s->tls_info.peer_trusted)) {
		smtpd_reply(s, "530 5.7.0 Client certificate required");
		return -1;
	}
	for (size_t i = 0; i < a->keys.n; i++) {
		if (mail_param(s, a->keys.v[i], a->values.v[i]) < 0) {
			smtpd_txn_reset(s);
			return -1;
		}
	}
	s->sender = xstrdup(a->addr.addr);
	if (!conf_bool("smtpd_delay_reject")
	    && smtpd_restrict_reply(s, SMTPD_RC_SENDER, s->sender) < 0) {
		smtpd_txn_reset(s);
		return -1;
	}
	s->state = SMTPD_ST_MAIL;
	smtpd_reply(s, "250 2.1.0 Ok");
	return 0;
}

/* ---- RCPT --------------------------------------------------------------- */

static int syn_rcpt(struct smtpd_session *s, const char *args, struct cmd_args *a)
{
	/* UTF-8 is parsed when enabled, so that without SMTPUTF8 the reply
	 * says why (553 5.6.7) rather than "bad syntax" */
	int utf8 = conf_bool("smtputf8_enable") ? SMTPD_PATH_UTF8_OK : 0;

	if (path_arg(s, args, "TO:", utf8, a, "RCPT TO:<address>", 0) < 0)
		return -1;
	return utf8_ok(s, args, s->smtputf8);
}

/* rcpt_params - NOTIFY and ORCPT; -1 after a reply */
static int rcpt_params(struct smtpd_session *s, const struct cmd_args *a, char *notify,
		       size_t nsize, vstr *orcpt)
{
	vstr dec = VSTR_INIT;
	int ret = 0;

	for (size_t i = 0; i < a->keys.n && ret == 0; i++) {
		const char *k = a->keys.v[i], *v = a->values.v[i], *semi = strchr(v, ';');

		if (find_key(a, k) == -2) {
			smtpd_reply(s, "501 5.5.4 Error: duplicate parameter %s", k);
			ret = -1;
		} else if (strcasecmp(k, "NOTIFY") == 0) {
			if (maildrop_notify_canon(v, strlen(v), notify, nsize) < 0) {
				smtpd_reply(s, "501 5.5.4 Bad NOTIFY parameter syntax");
				ret = -1;
			}
		} else if (strcasecmp(k, "ORCPT") == 0) {
			if (semi == NULL || semi == v || smtpd_xtext_decode(semi + 1, &dec) < 0
			    || vstr_len(&dec) == 0 || vstr_len(&dec) > MAILDROP_FIELD_MAX) {
				smtpd_reply(s, "501 5.5.4 Bad ORCPT parameter syntax");
				ret = -1;
			} else {
				vstr_cpyf(orcpt, "%.*s;%s", (int)(semi - v), v, vstr_str(&dec));
			}
		} else {
			smtpd_reply(s, "555 5.5.4 Unsupported option: %s", k);
			ret = -1;
		}
	}
	vstr_release(&dec);
	return ret;
}

static int act_rcpt(struct smtpd_session *s, const char *args, struct cmd_args *a)
{
	char notify[64] = "";
	vstr orcpt = VSTR_INIT, reply = VSTR_INIT;
	int ret = -1;

	(void)args;
	if (s->rcpt.n >= (size_t)conf_int("smtpd_recipient_limit")) {
		smtpd_reply(s, "452 4.5.3 Error: too many recipients");
		return s->rcpt_overshoot++ < conf_int("smtpd_recipient_overshoot_limit") ? 0 : -1;
	}
	if (rcpt_params(s, a, notify, sizeof(notify), &orcpt) < 0)
		goto out;
	if (smtpd_check_rcpt(s, &a->addr, &reply) < 0) {
		smtpd_log_reject(s, "RCPT", vstr_str(&reply), a->addr.addr);
		smtpd_reply(s, "%s", vstr_str(&reply));
		goto out;
	}
	argv_add(&s->rcpt, a->addr.addr);
	argv_add(&s->orcpt, vstr_str(&orcpt));
	argv_add(&s->notify, notify);
	s->state = SMTPD_ST_RCPT;
	smtpd_reply(s, "250 2.1.5 Ok");
	ret = 0;
out:
	vstr_release(&orcpt);
	vstr_release(&reply);
	return ret;
}

/* ---- DATA --------------------------------------------------------------- */

static int syn_data(struct smtpd_session *s, const char *args, struct cmd_args *a)
{
	(void)a;
	return no_args(s, args, "DATA");
}

/* need_rcpt - DATA/BDAT in MAIL state: every recipient was refused */
static int need_rcpt(struct smtpd_session *s)
{
	if (s->state == SMTPD_ST_RCPT || s->state == SMTPD_ST_BDAT)
		return 0;
	if (s->state == SMTPD_ST_MAIL)
		smtpd_reply(s, "554 5.5.1 Error: no valid recipients");
	else if (s->state == SMTPD_ST_CONNECT)
		smtpd_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
	else
		smtpd_reply(s, "503 5.5.1 Error: need RCPT command");
	return -1;
}

static int act_data(struct smtpd_session *s, const char *args, struct cmd_args *a)
{
	const char *p;
	size_t len;

	(void)args;
	(void)a;
	if (need_rcpt(s) < 0)
		return -1;
	if (s->binarymime) {
		smtpd_reply(s, "503 5.5.1 Error: BODY=BINARYMIME requires BDAT");
		return -1;
	}
	if (smtpd_restrict_reply(s, SMTPD_RC_DATA, NULL) < 0)
		return -1;
	if (smtpd_txn_open(s, SMTPD_DATA_DOT) < 0) {
		smtpd_reply(s, "451 4.3.0 Error: queue file write error");
		return -1;
	}
	smtpd_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	smtpd_record_deadline(s);
	while (!s->data.done) {
		if (smtpd_input(s, &p, &len) < 0) {
			char detail[64];

			snprintf(detail, sizeof(detail), " (%lld bytes)", s->data.in_bytes);
			smtpd_log_lost(s, detail);
			s->deadline = 0;
			smtpd_txn_reset(s);
			return -1;
		}
		smtpd_consume(s, smtpd_txn_content(s, p, len));
	}
	s->deadline = 0;
	s->where = "END-OF-MESSAGE";
	return smtpd_txn_finish(s);
}

/* ---- BDAT --------------------------------------------------------------- */

static int syn_bdat(struct smtpd_session *s, const char *args, struct cmd_args *a)
{
	char num[24];
	size_t n = strspn(args, "0123456789");
	const char *rest = args + n;

	while (*rest == ' ')
		rest++;
	if (n > 0 && n < sizeof(num)) {
		memcpy(num, args, n);
		num[n] = 0;
		a->size = smtpd_parse_size(num);
		a->last = strcasecmp(rest, "LAST") == 0;
		if (a->size >= 0 && (*rest == 0 || a->last) && (args[n] == 0 || args[n] == ' '))
			return 0;
	}
	/* The chunk cannot be skipped without its size: end the session. */
	smtpd_reply(s, "501 5.5.4 Syntax: BDAT count [LAST]");
	s->hangup = 1;
	return -1;
}

/* bdat_read - takes the chunk into the content (or drops it); -1 when the
 * client went away */
static int bdat_read(struct smtpd_session *s, long long size, int keep)
{
	const char *p;
	size_t len;

	smtpd_record_deadline(s);
	while (size > 0) {
		if (smtpd_input(s, &p, &len) < 0) {
			smtpd_log_lost(s, "");
			s->deadline = 0;
			smtpd_txn_reset(s);
			return -1;
		}
		if ((long long)len > size)
			len = (size_t)size;
		if (keep)
			smtpd_txn_content(s, p, len);
		smtpd_consume(s, len);
		size -= (long long)len;
	}
	s->deadline = 0;
	return 0;
}

/* bdat_refuse - drops the chunk and gives the transaction's error */
static int bdat_refuse(struct smtpd_session *s, const struct cmd_args *a, const char *reply)
{
	if (bdat_read(s, a->size, 0) < 0)
		return -1;
	if (reply)
		smtpd_reply(s, "%s", reply);
	if (a->last && (s->state & (SMTPD_ST_RCPT | SMTPD_ST_BDAT)))
		smtpd_txn_reset(s);
	return -1;
}

/* bdat_data_restrictions - smtpd_data_restrictions at the first BDAT, as
 * Postfix applies them: a refusal is logged now and becomes the reply to
 * this and every later chunk of the transaction (after each is read) */
static int bdat_data_restrictions(struct smtpd_session *s)
{
	vstr reply = VSTR_INIT;
	int ret = smtpd_restrict(s, SMTPD_RC_DATA, NULL, &reply);

	if (ret < 0) {
		smtpd_log_reject(s, s->where, vstr_str(&reply), s->rcpt.n == 1 ? s->rcpt.v[0] : NULL);
		s->bdat_failed = 1;
		s->bdat_reply = vstr_steal(&reply);
	}
	vstr_release(&reply);
	return ret;
}

static int act_bdat(struct smtpd_session *s, const char *args, struct cmd_args *a)
{
	(void)args;
	if (need_rcpt(s) < 0)	/* replied already */
		return bdat_refuse(s, a, NULL);
	if (s->bdat_failed)
		return bdat_refuse(s, a, s->bdat_reply);
	if (s->state == SMTPD_ST_RCPT) {
		if (bdat_data_restrictions(s) < 0) {
			s->state = SMTPD_ST_BDAT;
			return bdat_refuse(s, a, s->bdat_reply);
		}
		if (smtpd_txn_open(s, SMTPD_DATA_RAW) < 0) {
			s->bdat_failed = 1;
			s->bdat_reply = xstrdup("451 4.3.0 Error: queue file write error");
			s->state = SMTPD_ST_BDAT;
			return bdat_refuse(s, a, s->bdat_reply);
		}
		s->state = SMTPD_ST_BDAT;
	}
	if (bdat_read(s, a->size, 1) < 0)
		return -1;
	if (a->last) {
		smtpd_data_finish(&s->data, &s->content);
		s->where = "END-OF-MESSAGE";
		return smtpd_txn_finish(s);
	}
	if (s->too_big) {
		s->bdat_failed = 1;
		s->bdat_reply = xstrdup("552 5.3.4 Error: message file too big");
		smtpd_reply(s, "%s", s->bdat_reply);
		return -1;
	}
	smtpd_reply(s, "250 2.0.0 Ok: %lld bytes", a->size);
	return 0;
}

/* ---- STARTTLS ----------------------------------------------------------- */

static int syn_starttls(struct smtpd_session *s, const char *args, struct cmd_args *a)
{
	(void)a;
	return no_args(s, args, "STARTTLS");
}

static int act_starttls(struct smtpd_session *s, const char *args, struct cmd_args *a)
{
	(void)args;
	(void)a;
	if (s->tls_active) {
		smtpd_reply(s, "554 5.5.1 Error: TLS already active");
		return -1;
	}
	if (!smtpd_tls_offered(s)) {
		if (!s->stand_alone && smtpd_tls_level() != TLS_LEV_NONE)	/* no usable certificate */
			smtpd_reply(s, "454 4.7.0 TLS not available due to local problem");
		else
			smtpd_reply(s, "502 5.5.1 Error: STARTTLS is not enabled here");
		return -1;
	}
	smtpd_reply(s, "220 2.0.0 Ready to start TLS");
	if (smtpd_flush(s) < 0 || smtpd_tls_start(s) < 0) {
		smtpd_log_lost(s, "");	/* "lost connection after STARTTLS from ..." */
		return -1;
	}
	smtpd_tls_reset_session(s);
	return 0;
}

/* ---- RSET, NOOP, VRFY, QUIT ----------------------------------------------- */

static int syn_rset(struct smtpd_session *s, const char *args, struct cmd_args *a)
{
	(void)a;
	return no_args(s, args, "RSET");
}

static int act_rset(struct smtpd_session *s, const char *args, struct cmd_args *a)
{
	(void)args;
	(void)a;
	smtpd_txn_reset(s);
	smtpd_reply(s, "250 2.0.0 Ok");
	return 0;
}

static int syn_any(struct smtpd_session *s, const char *args, struct cmd_args *a)
{
	(void)s;
	(void)args;
	(void)a;
	return 0;
}

static int act_noop(struct smtpd_session *s, const char *args, struct cmd_args *a)
{
	(void)args;
	(void)a;
	smtpd_reply(s, "250 2.0.0 Ok");
	return 0;
}

static int syn_vrfy(struct smtpd_session *s, const char *args, struct cmd_args *a)
{
	const char *end, *why;

	if (conf_bool("disable_vrfy_command"))
		return 0;	/* the action says no */
	if (*args == 0) {
		smtpd_reply(s, "501 5.5.4 Syntax: VRFY address");
		return -1;
	}
	if (smtpd_parse_path(args, 0, &a->addr, &end, &why) < 0 || *end) {
		smtpd_reply(s, "501 5.1.3 Bad recipient address syntax");
		return -1;
	}
	return 0;
}

static int act_vrfy(struct smtpd_session *s, const char *args, struct cmd_args *a)
{
	vstr reply = VSTR_INIT;
	int ret = 0;

	(void)args;
	if (conf_bool("disable_vrfy_command")) {
		smtpd_reply(s, "502 5.5.1 VRFY command is disabled");
		return -1;
	}
	if (smtpd_check_rcpt(s, &a->addr, &reply) < 0) {
		smtpd_log_reject(s, "VRFY", vstr_str(&reply), a->addr.addr);
		smtpd_reply(s, "%s", vstr_str(&reply));
		ret = -1;
	} else {
		smtpd_reply(s, "252 2.0.0 %s", a->addr.addr);
	}
	vstr_release(&reply);
	return ret;
}

/* AUTH: smtpd_sasl.c checks the state (503/538 replies of its own) */
static int act_auth(struct smtpd_session *s, const char *args, struct cmd_args *a)
{
	(void)a;
	return smtpd_sasl_auth_cmd(s, args);
}

static int act_quit(struct smtpd_session *s, const char *args, struct cmd_args *a)
{
	(void)args;
	(void)a;
	smtpd_reply(s, "221 2.0.0 Bye");
	s->quit = 1;
	return 0;
}

/* ---- the table ------------------------------------------------------------ */

#define ST_GREETED	(SMTPD_ST_HELO | SMTPD_ST_MAIL | SMTPD_ST_RCPT | SMTPD_ST_BDAT)

static const struct smtpd_cmd commands[] = {
	{"HELO", "helo", SMTPD_ST_ANY, CMD_LAST | CMD_JUNK, syn_helo, act_helo},
	{"EHLO", "ehlo", SMTPD_ST_ANY, CMD_LAST | CMD_JUNK, syn_helo, act_ehlo},
	{"STARTTLS", "starttls", SMTPD_ST_HELO, CMD_LAST, syn_starttls, act_starttls},
	{"AUTH", "auth", SMTPD_ST_ANY, 0, syn_any, act_auth},
	{"MAIL", "mail", SMTPD_ST_HELO, CMD_8BIT, syn_mail, act_mail},
	{"RCPT", "rcpt", SMTPD_ST_MAIL | SMTPD_ST_RCPT, CMD_8BIT, syn_rcpt, act_rcpt},
	{"DATA", "data", ST_GREETED & ~SMTPD_ST_BDAT, CMD_LAST, syn_data, act_data},
	/* BDAT skips its chunk whatever the state, so it checks that itself */
	{"BDAT", "bdat", SMTPD_ST_ANY, 0, syn_bdat, act_bdat},
	{"RSET", "rset", SMTPD_ST_ANY, CMD_JUNK, syn_rset, act_rset},
	{"NOOP", "noop", SMTPD_ST_ANY, CMD_LAST | CMD_JUNK, syn_any, act_noop},
	{"VRFY", "vrfy", SMTPD_ST_ANY, CMD_LAST | CMD_JUNK | CMD_8BIT, syn_vrfy, act_vrfy},
	{"QUIT", "quit", SMTPD_ST_ANY, 0, syn_any, act_quit},
};

#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

_Static_assert(NCOMMANDS <= SMTPD_NCMD, "SMTPD_NCMD too small");

static const struct smtpd_cmd *cmd_find(const char *verb)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].verb, verb) == 0)
			return &commands[i];
	return NULL;
}

/* state_error - the reply to a command out of sequence */
static void state_error(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
	if (s->state == SMTPD_ST_CONNECT)
		smtpd_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
	else if (strcmp(cmd->verb, "MAIL") == 0)
		smtpd_reply(s, "503 5.5.1 Error: nested MAIL command");
	else if (s->state == SMTPD_ST_BDAT)
		smtpd_reply(s, "503 5.5.1 Error: %s during BDAT transfer", cmd->verb);
	else if (strcmp(cmd->verb, "RCPT") == 0)
		smtpd_reply(s, "503 5.5.1 Error: need MAIL command");
	else
		smtpd_reply(s, "503 5.5.1 Error: need RCPT command");
}

/* pipelining_violation - RFC 2920: a command that must end a group has
 * input after it, or the client pipelines without PIPELINING (no EHLO).
 * Logged once; with smtpd_forbid_unauth_pipelining the session ends. */
static int pipelining_violation(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
	size_t n;

	if (s->stand_alone || cmd->action == act_quit)
		return 0;
	if (!(cmd->flags & CMD_LAST) && s->esmtp)
		return 0;
	if (!smtpd_input_pending(s))
		return 0;
	if (!s->ill_pipelining) {
		n = s->ilen - s->ipos < 100 ? s->ilen - s->ipos : 100;
		msg_info("improper command pipelining after %s from %s: %.*s", cmd->verb, s->namaddr,
			 (int)n, s->ibuf + s->ipos);
		s->ill_pipelining = 1;
	}
	return conf_bool("smtpd_forbid_unauth_pipelining");
}

/* line_refused - problems of the line itself; 1 when it got a reply */
static int line_refused(struct smtpd_session *s, unsigned flags)
{
	if (flags & SMTPD_LINE_TOO_LONG) {
		smtpd_reply(s, "500 5.5.2 Error: line too long");
	} else if ((flags & (SMTPD_LINE_BARE_LF | SMTPD_LINE_BARE_CR)) && s->bare == SMTPD_BARE_REJECT) {
		int code = (int)conf_int("smtpd_forbid_bare_newline_reject_code");

		smtpd_reply(s, "%d 5.5.2 Error: bare <%s> received", code,
			    (flags & SMTPD_LINE_BARE_LF) ? "LF" : "CR");
		s->hangup = code == 521;
	} else if (flags & SMTPD_LINE_NUL) {
		smtpd_reply(s, "500 5.5.2 Error: NUL character in command");
	} else {
		return 0;
	}
	s->error_count++;
	return 1;
}

void smtpd_cmd_dispatch(struct smtpd_session *s, const char *line, size_t len, unsigned flags)
{
	const struct smtpd_cmd *cmd;
	struct cmd_args a;
	char verb[SMTPD_VERB_MAX + 1];
	const char *args;
	size_t idx;

	(void)len;
	if (line_refused(s, flags))
		return;
	if (smtpd_split_verb(line, verb, &args) < 0 || (cmd = cmd_find(verb)) == NULL) {
		s->unknown_total++;
		s->where = "UNKNOWN";
		smtpd_reply(s, *line ? "502 5.5.2 Error: command not recognized" : "500 5.5.2 Error: bad syntax");
		s->error_count++;
		return;
	}
	idx = (size_t)(cmd - commands);
	s->cmd_total[idx]++;
	s->where = cmd->verb;
	if ((flags & SMTPD_LINE_8BIT) && !(cmd->flags & CMD_8BIT)) {
		smtpd_reply(s, "500 5.5.2 Error: 8-bit data in command");
		s->error_count++;
		return;
	}
	if (pipelining_violation(s, cmd)) {
		smtpd_reply(s, "554 5.5.0 Error: SMTP protocol synchronization");
		s->hangup = 1;
		return;
	}
	if (s->access_denied && cmd->action != act_quit) {
		smtpd_reply(s, "503 5.7.0 Error: access denied for %s", s->namaddr);
		s->error_count++;
		return;
	}
	if (!(s->state & cmd->states)) {
		state_error(s, cmd);
		s->error_count++;
		return;
	}
	if ((cmd->flags & CMD_JUNK) && ++s->junk_count > conf_int("smtpd_junk_command_limit"))
		s->error_count++;
	memset(&a, 0, sizeof(a));
	if (cmd->syntax(s, args, &a) == 0 && cmd->action(s, args, &a) == 0)
		s->cmd_ok[idx]++;
	else
		s->error_count++;
	smtpd_addr_free(&a.addr);
	argv_free(&a.keys);
	argv_free(&a.values);
}

void smtpd_cmd_counts(const struct smtpd_session *s, vstr *out)
{
	unsigned ok = 0, total = s->unknown_total;

	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (s->cmd_total[i] == 0)
			continue;
		ok += s->cmd_ok[i];
		total += s->cmd_total[i];
		if (s->cmd_ok[i] == s->cmd_total[i])
			vstr_catf(out, " %s=%u", commands[i].counter, s->cmd_ok[i]);
		else
			vstr_catf(out, " %s=%u/%u", commands[i].counter, s->cmd_ok[i], s->cmd_total[i]);
	}
	if (s->unknown_total)
		vstr_catf(out, " unknown=0/%u", s->unknown_total);
	if (ok == total)
		vstr_catf(out, " commands=%u", ok);
	else
		vstr_catf(out, " commands=%u/%u", ok, total);
}
