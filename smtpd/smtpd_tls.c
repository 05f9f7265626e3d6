/* smtpd_tls - TLS in smtpd: the context made before the jail, STARTTLS
 * and wrapper mode, and what the rest of smtpd asks about TLS.
 *
 * STARTTLS (RFC 3207): the 220 reply is sent, then every byte the client
 * sent after the STARTTLS line and that is already buffered is thrown
 * away before the handshake (CVE-2011-0411: plaintext must never be taken
 * as if it had come over TLS; bytes still in the kernel go into the
 * handshake and make it fail). After the handshake the session starts
 * over: no HELO/EHLO, no transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "events.h"
#include "msg.h"
#include "smtpd.h"
#include "tls.h"

struct tls_ctx *smtpd_tls_ctx;

enum tls_level smtpd_tls_level(void)
{
	enum tls_level level;
	const char *v = conf_str("smtpd_tls_security_level");

	if (tls_level_parse(v, &level) < 0 || level > TLS_LEV_ENCRYPT) {
		msg_warn("smtpd_tls_security_level = %s: unknown (server levels: none, may, encrypt), using encrypt", v);
		return TLS_LEV_ENCRYPT;
	}
	return level;
}

void smtpd_tls_init(void)
{
	int wrapper = conf_bool("smtpd_tls_wrappermode");
	enum tls_level level = smtpd_tls_level();

	if (level == TLS_LEV_NONE && !wrapper)
		return;
	if (strcasecmp(conf_str("smtpd_tls_fingerprint_digest"), "sha256") != 0)
		msg_warn("smtpd_tls_fingerprint_digest = %s: only sha256 is supported, using it",
			 conf_str("smtpd_tls_fingerprint_digest"));
	/* "encrypt" (and wrapper mode, where TLS is the only way in) uses the
	 * mandatory protocols and ciphers, as in Postfix */
	smtpd_tls_ctx = tls_ctx_create("smtpd", TLS_ROLE_SERVER, level == TLS_LEV_ENCRYPT || wrapper);
	if (smtpd_tls_ctx == NULL) {
		msg_warn("TLS is not available in this smtpd (see the warnings above)");
		return;
	}
	tls_ticket_keys_load(smtpd_tls_ctx, TLS_TICKET_KEY_FILE);
}

int smtpd_tls_offered(const struct smtpd_session *s)
{
	return smtpd_tls_ctx != NULL && !s->tls_active && !s->stand_alone;
}

int smtpd_tls_required(const struct smtpd_session *s)
{
	return !s->tls_active && !s->stand_alone && smtpd_tls_level() == TLS_LEV_ENCRYPT;
}

/* log_established - "Anonymous TLS connection established from X: ..." */
static void log_established(const struct smtpd_session *s)
{
	const struct tls_info *i = &s->tls_info;
	const char *trust = !i->peer_cert ? "Anonymous" : i->peer_trusted ? "Trusted" : "Untrusted";

	msg_info("%s TLS connection established from %s: %s with cipher %s (%d/%d bits)%s",
		 trust, s->namaddr, i->protocol, i->cipher, i->bits, i->alg_bits,
		 i->reused ? " (session reused)" : "");
	if (i->peer_cert)
		msg_info("%s: client certificate: subject_CN=%s, issuer_CN=%s, fingerprint=%s%s%s",
			 s->namaddr, i->peer_cn, i->issuer_cn, i->fingerprint,
			 i->peer_trusted ? "" : ", untrusted: ", i->peer_trusted ? "" : i->verify_error);
}

int smtpd_tls_start(struct smtpd_session *s)
{
	long long deadline = ev_now_ms() + 1000 * conf_time("smtpd_starttls_timeout");
	char why[256];

	/* the plaintext after STARTTLS is never used (CVE-2011-0411) */
	s->ipos = s->ilen = 0;
	s->tls = tls_conn_new(smtpd_tls_ctx, s->in_fd, NULL);
	if (tls_handshake(s->tls, deadline, why, sizeof(why)) < 0) {
		msg_info("SSL_accept error from %s: %s", s->namaddr, why);
		tls_conn_free(s->tls);
		s->tls = NULL;
		s->io_error = SMTPD_IO_ERROR;
		return -1;
	}
	s->tls_active = 1;
	tls_conn_info(s->tls, &s->tls_info);
	log_established(s);
	return 0;
}

void smtpd_tls_reset_session(struct smtpd_session *s)
{
	smtpd_txn_reset(s);
	free(s->helo);
	s->helo = NULL;
	s->esmtp = 0;
	s->state = SMTPD_ST_CONNECT;
	smtpd_sasl_reset(s);	/* a login made before TLS does not count */
}
