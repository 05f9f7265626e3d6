/* smtp_tls - TLS in the smtp client: the policy of a nexthop, and
 * STARTTLS after the first EHLO.
 *
 * The level comes from smtp_tls_policy_maps (the nexthop as qmgr gives
 * it, "example.com" or "[relay]:587", then for a domain each parent as
 * ".parent"), else smtp_tls_security_level. Levels:
 *   none     never STARTTLS
 *   may      STARTTLS when offered; a failed handshake is retried in
 *            plaintext on a new connection (Postfix's behaviour)
 *   encrypt  STARTTLS must be offered and succeed; any certificate
 *   verify   ... and the certificate chains to smtp_tls_CAfile/CApath and
 *            names the server's (MX) host name
 *   secure   ... and names the nexthop domain or ".domain" (or the
 *            policy's match= names): the MX name from DNS is not trusted
 * Where TLS is required and fails the session ends before MAIL and the
 * recipients are deferred with the reason: the mail never goes in clear.
 *
 * Response injection (bytes after the 220 reply to STARTTLS, before the
 * handshake, which a man in the middle would have added to be read as
 * replies after it) ends the session: the mail is deferred.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "events.h"
#include "maps.h"
#include "msg.h"
#include "smtp.h"
#include "tls.h"

static struct tls_ctx *ctx_may, *ctx_mandatory;
static struct maps *policy_maps;

void smtp_tls_init(void)
{
	enum tls_level level;

	if (tls_level_parse(conf_str("smtp_tls_security_level"), &level) < 0)
		msg_warn("smtp_tls_security_level = %s: unknown level (none, may, encrypt, verify, secure)",
			 conf_str("smtp_tls_security_level"));
	/* contexts are made even at level none: a policy table may ask for TLS */
	ctx_may = tls_ctx_create("smtp", TLS_ROLE_CLIENT, 0);
	ctx_mandatory = tls_ctx_create("smtp", TLS_ROLE_CLIENT, 1);
	if (*conf_str("smtp_tls_policy_maps"))
		policy_maps = maps_create("smtp_tls_policy_maps", conf_str("smtp_tls_policy_maps"), 0);
}

/* policy_lookup - the policy table's entry for nexthop; 1 found, 0 not, -1 error */
static int policy_lookup(const char *nexthop, const struct smtp_nexthop *nh, struct tls_policy *p,
			 const char **why)
{
	const char *value;
	enum dict_status st;

	if (policy_maps == NULL)
		return 0;
	st = maps_find(policy_maps, nexthop, &value);
	if (st == DICT_NOTFOUND && nh->kind == SMTP_NH_DOMAIN)
		for (const char *d = strchr(nh->host, '.'); d && st == DICT_NOTFOUND; d = strchr(d + 1, '.'))
			st = maps_find(policy_maps, d, &value);
	if (st == DICT_RETRY) {
		*why = "smtp_tls_policy_maps lookup failed";
		return -1;
	}
	if (st == DICT_NOTFOUND)
		return 0;
	if (tls_policy_parse(value, p, why) < 0) {
		msg_warn("smtp_tls_policy_maps: %s: \"%s\": %s", nexthop, value, *why);
		*why = "invalid smtp_tls_policy_maps entry";
		return -1;
	}
	return 1;
}

int smtp_tls_policy_find(const char *nexthop, int lmtp, struct smtp_tls_policy *tp, struct smtp_fail *f)
{
	struct smtp_nexthop nh;
	const char *why = "";
	int found;

	memset(tp, 0, sizeof(*tp));
	tp->level = TLS_LEV_NONE;
	if (lmtp || smtp_nexthop_parse(nexthop, lmtp, &nh, &why) < 0)
		return 0;	/* LMTP: no TLS; a bad nexthop fails elsewhere */
	snprintf(tp->domain, sizeof(tp->domain), "%s", nh.host);
	if ((found = policy_lookup(nexthop, &nh, &tp->p, &why)) < 0) {
		smtp_fail_set(f, 4, "4.3.0", "TLS policy for %s: %s", nexthop, why);
		return -1;
	}
	if (found)
		tp->level = tp->p.level;
	else if (tls_level_parse(conf_str("smtp_tls_security_level"), &tp->level) < 0)
		tp->level = TLS_LEV_ENCRYPT;	/* unknown: fail safe */
	if (tp->level > TLS_LEV_MAY && (ctx_mandatory == NULL)) {
		smtp_fail_set(f, 4, "4.7.5", "TLS is required, but our TLS engine is unavailable");
		return -1;
	}
	return 0;
}

/* servername - the SNI for this server (smtp_tls_servername) */
static const char *servername(const struct smtp_session *s)
{
	const char *v = conf_str("smtp_tls_servername");

	if (strcasecmp(v, "hostname") == 0)
		return strcmp(s->srv.host, s->srv.addr_text) == 0 ? NULL : s->srv.host;
	if (strcasecmp(v, "nexthop") == 0)
		return s->tlsp.domain;
	return *v ? v : NULL;
}

/* expect_names - what the certificate must name at verify and secure */
static void expect_names(struct smtp_session *s, struct tls_conn *c)
{
	const char *names[TLS_POLICY_MATCH_MAX + 2];
	char dot[SMTP_PATH_MAX + 2];
	size_t n = 0;

	if (s->tlsp.p.nmatch > 0) {
		for (size_t i = 0; i < s->tlsp.p.nmatch; i++)
			names[n++] = s->tlsp.p.match[i];
	} else if (s->tlsp.level == TLS_LEV_VERIFY) {
		names[n++] = s->srv.host;	/* verify trusts the MX name from DNS */
	} else {
		snprintf(dot, sizeof(dot), ".%s", s->tlsp.domain);
		names[n++] = s->tlsp.domain;
		names[n++] = dot;
	}
	tls_conn_expect_names(c, names, n);
}

static void log_established(const struct smtp_session *s, const struct tls_info *i, int named)
{
	const char *trust = !i->peer_cert ? "Anonymous"
		: !i->peer_trusted ? "Untrusted" : named && i->peer_matched ? "Verified" : "Trusted";

	msg_info("%s TLS connection established to %s: %s with cipher %s (%d/%d bits)%s",
		 trust, s->relay, i->protocol, i->cipher, i->bits, i->alg_bits,
		 i->reused ? " (session reused)" : "");
}

/* handshake - TLS on the session's socket; SMTP_TRY_DONE or _NEXT with f */
static enum smtp_try handshake(struct smtp_session *s, const struct smtp_timeouts *t, struct smtp_fail *f)
{
	int mandatory = s->tlsp.level >= TLS_LEV_ENCRYPT;
	int named = s->tlsp.level >= TLS_LEV_VERIFY;
	struct tls_conn *c;
	struct tls_info info;
	char why[256];
	unsigned protos;
	const char *perr;

	c = tls_conn_new(mandatory ? ctx_mandatory : ctx_may, s->fd, servername(s));
	if (s->tlsp.p.protocols[0] && tls_protocols_parse(s->tlsp.p.protocols, &protos, &perr) == 0)
		tls_conn_protocols(c, protos);
	if (named)
		expect_names(s, c);
	if (tls_handshake(c, ev_now_ms() + 1000LL * t->starttls, why, sizeof(why)) < 0) {
		tls_conn_free(c);
		msg_info("SSL_connect error to %s: %s", s->relay, why);
		smtp_fail_set(f, 4, "4.7.5", "Cannot start TLS: handshake failure with %s: %s", s->name, why);
		s->tls_plain_retry = !mandatory;
		return SMTP_TRY_NEXT;
	}
	s->tls = c;
	tls_conn_info(c, &info);
	log_established(s, &info, named);
	if (named && !(info.peer_trusted && info.peer_matched)) {
		msg_info("server certificate verification failed for %s: %s", s->relay,
			 info.peer_cert ? info.verify_error : "no certificate");
		smtp_fail_set(f, 4, "4.7.5", "Server certificate not verified: host %s: %s", s->name,
			      info.peer_cert ? info.verify_error : "no certificate");
		return SMTP_TRY_NEXT;
	}
	s->tls_active = 1;
	return SMTP_TRY_DONE;
}

enum smtp_try smtp_tls_starttls(struct smtp_session *s, const struct smtp_timeouts *t,
				struct smtp_reply *r, struct smtp_fail *f)
{
	int required = s->tlsp.level >= TLS_LEV_ENCRYPT;
	vstr one = VSTR_INIT;
	int io;

	if (s->tlsp.level == TLS_LEV_NONE || s->tls_active || s->lmtp)
		return SMTP_TRY_DONE;
	if ((required ? ctx_mandatory : ctx_may) == NULL) {	/* logged at start */
		if (!required)
			return SMTP_TRY_DONE;
		smtp_fail_set(f, 4, "4.7.5", "TLS is required, but our TLS engine is unavailable");
		return SMTP_TRY_NEXT;
	}
	if (!(s->features & SMTP_FEAT_STARTTLS)) {
		if (!required)
			return SMTP_TRY_DONE;
		smtp_fail_set(f, 4, "4.7.4", "TLS is required, but was not offered by host %s", s->name);
		return SMTP_TRY_NEXT;
	}
	vstr_reset(&s->wbuf);
	vstr_cat(&s->wbuf, "STARTTLS\r\n");
	if ((io = smtp_flush(s, t->starttls)) != SMTP_IO_OK || (io = smtp_read_reply(s, r, t->starttls)) != SMTP_IO_OK) {
		smtp_fail_set(f, 4, "4.4.2", "%s with %s while sending STARTTLS",
			      io == SMTP_IO_TIMEOUT ? "conversation timed out" : "lost connection", s->name);
		return SMTP_TRY_NEXT;
	}
	if (r->code != 220) {
		if (!required)
			return SMTP_TRY_DONE;	/* may: go on in plaintext, as Postfix */
		smtp_reply_oneline(r, &one);
		smtp_fail_set(f, 4, "4.7.5", "TLS is required, but host %s refused to start TLS: %s",
			      s->name, vstr_str(&one));
		vstr_release(&one);
		return SMTP_TRY_NEXT;
	}
	if (s->rpos < s->rlen) {
		msg_warn("%s: %zu bytes after the STARTTLS reply: possible response injection; session dropped",
			 s->relay, s->rlen - s->rpos);
		smtp_fail_set(f, 4, "4.7.0", "host %s sent data after the STARTTLS reply "
			      "(response injection?)", s->name);
		return SMTP_TRY_NEXT;
	}
	return handshake(s, t, f);
}
