/* smtpd_sasl - SMTP AUTH (RFC 4954) in smtpd, and who owns a sender.
 *
 * AUTH is offered when smtpd_sasl_auth_enable is on, the session is not
 * stand-alone (sendmail -bs), and, with smtpd_tls_auth_only, only inside
 * TLS; the mechanisms are whatever Cyrus offers under the security
 * options (smtpd_sasl_path.conf's mech_list). Every AUTH command gets a
 * new Cyrus exchange that is disposed of afterwards, so an aborted or
 * failed exchange leaves no state behind (the CVE-2011-1720 class).
 *
 * A failure is logged in Postfix's words, which fail2ban's postfix
 * filter reads ("warning: NAME[ADDR]: SASL LOGIN authentication failed:
 * authentication failure"), counts as an error toward the soft and hard
 * error limits, and is answered only after smtpd_error_sleep_time (below
 * the soft limit too, where Postfix does not wait: a password guesser
 * gets one try per second per connection from the first).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "maps.h"
#include "mem.h"
#include "msg.h"
#include "rewrite.h"
#include "sasl.h"
#include "smtpd.h"

#define MECH_MAX	40	/* RFC 4422: 20; room for what clients send */

void smtpd_sasl_setup(void)
{
	char *err = NULL;

	if (!conf_bool("smtpd_sasl_auth_enable"))
		return;
	if (xsasl_server_setup(conf_str("smtpd_sasl_path"), conf_str("cyrus_sasl_config_path"),
			       &err) < 0)
		msg_fatal("%s", err);
}

int smtpd_sasl_offered(const struct smtpd_session *s)
{
	return conf_bool("smtpd_sasl_auth_enable") && !s->stand_alone
	       && (s->tls_active || !conf_bool("smtpd_tls_auth_only"));
}

/* server_new - a Cyrus exchange for this session; NULL logged */
static struct xsasl_server *server_new(const struct smtpd_session *s)
{
	const char *opts = conf_str(s->tls_active ? "smtpd_sasl_tls_security_options"
				    : "smtpd_sasl_security_options");
	struct xsasl_server *x;
	char *err = NULL;

	smtpd_sasl_setup();	/* once; normally done before the jail */
	x = xsasl_server_new(conf_str("myhostname"), conf_str("smtpd_sasl_local_domain"), opts,
			     NULL, NULL, &err);
	if (x == NULL) {
		msg_warn("%s: %s", s->namaddr, err);
		free(err);
	}
	return x;
}

void smtpd_sasl_ehlo_keywords(struct smtpd_session *s, struct argv *kw)
{
	struct xsasl_server *x;
	vstr mechs = VSTR_INIT;

	if (!smtpd_sasl_offered(s) || (x = server_new(s)) == NULL)
		return;
	if (xsasl_server_mechs(x, &mechs) > 0) {
		char *line = xasprintf("AUTH %s", vstr_str(&mechs));

		argv_add(kw, line);
		free(line);
		if (conf_bool("broken_sasl_auth_clients")) {
			line = xasprintf("AUTH=%s", vstr_str(&mechs));
			argv_add(kw, line);
			free(line);
		}
	} else {
		msg_warn("%s: no SASL authentication mechanisms", s->namaddr);
	}
	vstr_release(&mechs);
	xsasl_server_free(x);
}

/* auth_refused - what the session state says before any exchange; 1
 * after a reply */
static int auth_refused(struct smtpd_session *s)
{
	if (!conf_bool("smtpd_sasl_auth_enable") || s->stand_alone)
		smtpd_reply(s, "503 5.5.1 Error: authentication not enabled");
	else if (s->state == SMTPD_ST_CONNECT)
		smtpd_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
	else if (!smtpd_sasl_offered(s))
		smtpd_reply(s, "538 5.7.11 Encryption required for requested authentication mechanism");
	else if (s->sasl_username)
		smtpd_reply(s, "503 5.5.1 Error: already authenticated");
	else if (s->state != SMTPD_ST_HELO)
		smtpd_reply(s, "503 5.5.1 Error: MAIL transaction in progress");
	else
		return 0;
	return 1;
}

/* auth_args - "mechanism [initial-response]"; -1 after a reply */
static int auth_args(struct smtpd_session *s, const char *args, char *mech, const char **init)
{
	size_t n = strcspn(args, " ");
	const char *rest = args + n;

	while (*rest == ' ')
		rest++;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)args[i]) && args[i] != '-' && args[i] != '_')
			n = 0;
	if (n == 0 || n >= MECH_MAX || strchr(rest, ' ')) {
		smtpd_reply(s, "501 5.5.4 Syntax: AUTH mechanism");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		mech[i] = (char)toupper((unsigned char)args[i]);
	mech[n] = 0;
	*init = *rest ? rest : NULL;
	return 0;
}

/* exchange - 334 challenges and the client's answers until Cyrus decides;
 * -1 when the client cancelled, went away or sent too long a line (after
 * the reply or the log) */
static int exchange(struct smtpd_session *s, struct xsasl_server *x, const char *mech,
		    enum xsasl_status *st, vstr *out, vstr *why)
{
	vstr line = VSTR_INIT;
	unsigned flags;
	int ret = 0;

	while (*st == XSASL_CONTINUE) {
		smtpd_reply(s, "334 %s", vstr_str(out));
		if (smtpd_read_line(s, &line, &flags) < 0) {
			smtpd_log_lost(s, "");
			ret = -1;
			break;
		}
		if (flags & SMTPD_LINE_TOO_LONG) {
			smtpd_reply(s, "500 5.5.6 Authentication exchange line is too long");
			ret = -1;
			break;
		}
		if (strcmp(vstr_str(&line), "*") == 0) {
			msg_warn("%s: SASL %s authentication aborted", s->namaddr, mech);
			smtpd_reply(s, "501 5.7.0 Authentication aborted");
			ret = -1;
			break;
		}
		*st = xsasl_server_next(x, vstr_str(&line), out, why);
	}
	if (line.buf)
		memset(line.buf, 0, line.len);	/* it may have held a password */
	vstr_release(&line);
	return ret;
}

/* failed - the log line fail2ban reads, the delay, the reply */
static void failed(struct smtpd_session *s, const char *mech, enum xsasl_status st, const char *why)
{
	long long pause = conf_time("smtpd_error_sleep_time");

	msg_warn("%s: SASL %s authentication failed: %s", s->namaddr, mech, why);
	/* past the soft limit smtpd_reply waits already */
	if (pause > 0 && s->error_count < conf_int("smtpd_soft_error_limit")) {
		smtpd_flush(s);
		sleep((unsigned)pause);
	}
	if (st == XSASL_TEMP)
		smtpd_reply(s, "454 4.7.0 Temporary authentication failure: %s", why);
	else
		smtpd_reply(s, "535 5.7.8 Error: authentication failed: %s", why);
}

int smtpd_sasl_auth_cmd(struct smtpd_session *s, const char *args)
{
	char mech[MECH_MAX];
	const char *init, *user;
	struct xsasl_server *x;
	enum xsasl_status st;
	vstr out = VSTR_INIT, why = VSTR_INIT;
	int ret = -1;

	if (auth_refused(s) || auth_args(s, args, mech, &init) < 0)
		return -1;
	if ((x = server_new(s)) == NULL) {
		smtpd_reply(s, "454 4.7.0 Temporary authentication failure: server error");
		return -1;
	}
	st = xsasl_server_first(x, mech, init, &out, &why);
	if (exchange(s, x, mech, &st, &out, &why) < 0) {
		/* cancelled or gone: replied or logged */
	} else if (st == XSASL_FORM) {
		/* not a password guess: no fail2ban line (Postfix's reply) */
		msg_info("%s: SASL %s: cannot decode response", s->namaddr, mech);
		smtpd_reply(s, "501 5.5.2 Cannot decode response");
	} else if (st != XSASL_DONE) {
		failed(s, mech, st, vstr_str(&why));
	} else if ((user = xsasl_server_username(x)) == NULL) {
		failed(s, mech, XSASL_TEMP, "no user name");
	} else {
		s->sasl_username = xstrdup(user);
		s->sasl_method = xstrdup(mech);
		smtpd_reply(s, "235 2.7.0 Authentication successful");
		ret = 0;
	}
	vstr_release(&out);
	vstr_release(&why);
	xsasl_server_free(x);
	return ret;
}

void smtpd_sasl_reset(struct smtpd_session *s)
{
	free(s->sasl_username);
	free(s->sasl_method);
	s->sasl_username = s->sasl_method = NULL;
}

int smtpd_sasl_mail_param(struct smtpd_session *s, const char *value)
{
	if (!smtpd_sasl_offered(s)) {
		smtpd_reply(s, "503 5.5.4 Error: authentication disabled");
		return -1;
	}
	if (*value == 0) {
		smtpd_reply(s, "501 5.5.4 Bad AUTH parameter syntax");
		return -1;
	}
	/* <> says the submitter is unknown: nothing to keep */
	if (strcmp(value, "<>") != 0) {
		free(s->sasl_sender);
		s->sasl_sender = xstrdup(value);
	}
	return 0;
}

/* ---- smtpd_sender_login_maps ------------------------------------------ */

/* owners_of - Postfix's order: user@domain, user (a local domain), @domain */
static enum dict_status owners_of(const char *sender, const char **owners)
{
	struct maps *m = maps_param("smtpd_sender_login_maps");
	const char *at = strrchr(sender, '@');
	enum dict_status st;
	char *key;

	if ((st = maps_find(m, sender, owners)) != DICT_NOTFOUND || at == NULL)
		return st;
	if (rewrite_is_local_domain(at + 1) == 1) {
		key = xstrndup(sender, (size_t)(at - sender));
		st = maps_find(m, key, owners);
		free(key);
		if (st != DICT_NOTFOUND)
			return st;
	}
	return maps_find(m, at, owners);
}

int smtpd_sasl_login_owned(const char *sender, const char *user)
{
	const char *owners;
	struct argv names = ARGV_INIT;
	int ret = 0;

	switch (owners_of(sender, &owners)) {
	case DICT_NOTFOUND:
		return -2;
	case DICT_FOUND:
		break;
	default:
		return -1;
	}
	if (user == NULL)
		return 0;
	argv_split(&names, owners, ", \t");
	for (size_t i = 0; i < names.n && !ret; i++)
		ret = strcasecmp(names.v[i], user) == 0;
	argv_free(&names);
	return ret;
}
