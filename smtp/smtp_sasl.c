/* smtp_sasl - SMTP AUTH from the smtp client (Postfix's smtp_sasl_*).
 *
 * After EHLO, when smtp_sasl_auth_enable is on and the server offers
 * AUTH, the password comes from smtp_sasl_password_maps: first under the
 * nexthop as written ("[relay.example]:587"), then the server's host
 * name, then the nexthop's domain or host without brackets and port. No
 * entry: the client talks to the server as a stranger, without AUTH, and
 * the server decides. With an entry, authentication is taken to be
 * required, and a failure tries the next server and in the end defers
 * (as Postfix's smtp_sasl_auth_soft_bounce = yes): "SASL authentication
 * failed; server X said: 535 ...". The security options are
 * smtp_sasl_security_options, or smtp_sasl_tls_security_options inside
 * TLS; the default noplaintext keeps PLAIN and LOGIN, and so the
 * password, off connections without TLS ("cannot authenticate to server
 * X: no mechanism available", no AUTH command sent).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "maps.h"
#include "mem.h"
#include "msg.h"
#include "sasl.h"
#include "smtp.h"

/* passwd_find - the user:password entry for the session; DICT_* */
static enum dict_status passwd_find(const struct smtp_session *s, char **value)
{
	struct maps *m = maps_param("smtp_sasl_password_maps");
	const char *keys[3], *v;
	char *bare = NULL;
	enum dict_status st = DICT_NOTFOUND;
	size_t n = 0;

	if (s->nexthop && *s->nexthop) {
		const char *h = s->nexthop + (*s->nexthop == '[');
		size_t len = *s->nexthop == '[' ? strcspn(h, "]") : strcspn(h, ":");

		keys[n++] = s->nexthop;
		bare = xstrndup(h, len);
	}
	keys[n++] = s->srv.host;
	if (bare)
		keys[n++] = bare;
	for (size_t i = 0; i < n && st == DICT_NOTFOUND; i++)
		if ((st = maps_find(m, keys[i], &v)) == DICT_FOUND)
			*value = xstrdup(v);
	free(bare);
	return st;
}

/* auth_failed - the server said no (or broke off): defer, try the next */
static enum smtp_try auth_failed(struct smtp_session *s, const struct smtp_reply *r,
				 struct smtp_fail *f)
{
	vstr one = VSTR_INIT;
	char dsn[16];

	smtp_reply_oneline(r, &one);
	snprintf(dsn, sizeof(dsn), "4%s", r->code >= 400 ? r->dsn + 1 : ".7.0");
	smtp_fail_set(f, 4, dsn, "SASL authentication failed; server %s said: %s", s->name,
		      vstr_str(&one));
	f->hop_ok = 1;
	vstr_release(&one);
	return SMTP_TRY_NEXT;
}

/* exchange - AUTH and the 334 round trips */
static enum smtp_try exchange(struct smtp_session *s, struct xsasl_client *x, const char *mech,
			      vstr *out, const struct smtp_timeouts *t, struct smtp_fail *f)
{
	struct smtp_reply r;
	vstr why = VSTR_INIT;
	enum smtp_try ret = SMTP_TRY_NEXT;
	enum xsasl_status st;
	int io;

	smtp_reply_init(&r);
	vstr_reset(&s->wbuf);
	vstr_catf(&s->wbuf, "AUTH %s%s%s\r\n", mech, vstr_len(out) ? " " : "", vstr_str(out));
	for (;;) {
		io = smtp_flush(s, t->helo);
		if (io == SMTP_IO_OK)
			io = smtp_read_reply(s, &r, t->helo);
		if (io != SMTP_IO_OK) {
			smtp_fail_set(f, 4, "4.4.2", "%s with %s while authenticating",
				      io == SMTP_IO_TIMEOUT ? "conversation timed out" : "lost connection",
				      s->name);
			break;
		}
		if (r.code == 235) {
			ret = SMTP_TRY_DONE;
			break;
		}
		if (r.code != 334) {
			ret = auth_failed(s, &r, f);
			break;
		}
		st = xsasl_client_next(x, vstr_len(&r.text) > 4 ? vstr_str(&r.text) + 4 : "", out, &why);
		if (st > XSASL_CONTINUE) {
			smtp_fail_set(f, 4, "4.7.0", "SASL authentication failed; "
				      "cannot authenticate to server %s: %s", s->name, vstr_str(&why));
			f->hop_ok = 1;
			break;
		}
		vstr_reset(&s->wbuf);
		vstr_catf(&s->wbuf, "%s\r\n", vstr_str(out));
	}
	/* the answers held the password */
	if (s->wbuf.buf)
		memset(s->wbuf.buf, 0, s->wbuf.len);
	vstr_reset(&s->wbuf);
	smtp_reply_free(&r);
	vstr_release(&why);
	return ret;
}

/* authenticate - as user with pass, among the server's mechanisms */
static enum smtp_try authenticate(struct smtp_session *s, const char *mechs, const char *user,
				  const char *pass, const struct smtp_timeouts *t, struct smtp_fail *f)
{
	const char *opts = conf_str(s->tls_active ? "smtp_sasl_tls_security_options"
				    : "smtp_sasl_security_options");
	struct xsasl_client *x;
	vstr out = VSTR_INIT, why = VSTR_INIT;
	const char *mech = NULL;
	enum smtp_try ret = SMTP_TRY_NEXT;
	char *err = NULL;

	if ((x = xsasl_client_new(s->srv.host, opts, user, pass, &err)) == NULL) {
		msg_warn("%s", err);
		smtp_fail_set(f, 4, "4.7.0", "SASL authentication failed; cannot authenticate to "
			      "server %s: %s", s->name, err);
		free(err);
		return SMTP_TRY_NEXT;
	}
	if (xsasl_client_first(x, mechs, &mech, &out, &why) > XSASL_CONTINUE) {
		smtp_fail_set(f, 4, "4.7.0", "SASL authentication failed; cannot authenticate to "
			      "server %s: %s", s->name, vstr_str(&why));
		f->hop_ok = 1;
	} else {
		ret = exchange(s, x, mech, &out, t, f);
	}
	if (out.buf)
		memset(out.buf, 0, out.len);
	vstr_release(&out);
	vstr_release(&why);
	xsasl_client_free(x);
	return ret;
}

enum smtp_try smtp_sasl_login(struct smtp_session *s, const char *ehlo,
			      const struct smtp_timeouts *t, struct smtp_fail *f)
{
	vstr offered = VSTR_INIT, mechs = VSTR_INIT;
	char *value = NULL, *user = NULL, *pass = NULL, *err = NULL;
	enum smtp_try ret = SMTP_TRY_DONE;

	if (s->lmtp || !conf_bool("smtp_sasl_auth_enable") || !(s->features & SMTP_FEAT_AUTH))
		return SMTP_TRY_DONE;
	switch (passwd_find(s, &value)) {
	case DICT_NOTFOUND:
		return SMTP_TRY_DONE;	/* strangers: no AUTH */
	case DICT_FOUND:
		break;
	default:
		smtp_fail_set(f, 4, "4.3.0", "smtp_sasl_password_maps lookup error for %s", s->name);
		return SMTP_TRY_NEXT;
	}
	if (xsasl_passwd_split(value, &user, &pass) < 0) {
		msg_warn("smtp_sasl_password_maps: entry for %s has no user name", s->name);
		smtp_fail_set(f, 4, "4.3.5", "SASL authentication failed; bad password map entry "
			      "for server %s", s->name);
		ret = SMTP_TRY_NEXT;
	} else if (xsasl_client_setup(&err) < 0) {
		msg_warn("%s", err);
		smtp_fail_set(f, 4, "4.3.5", "%s", err);
		ret = SMTP_TRY_NEXT;
	} else {
		smtp_ehlo_auth_mechs(ehlo, &offered);
		if (xsasl_mech_filter(vstr_str(&offered), conf_str("smtp_sasl_mechanism_filter"), &mechs) == 0)
			msg_warn("%s offered no supported AUTH mechanisms: '%s'", s->name, vstr_str(&offered));
		else
			ret = authenticate(s, vstr_str(&mechs), user, pass, t, f);
	}
	free(err);
	free(user);
	if (pass)
		memset(pass, 0, strlen(pass));
	free(pass);
	if (value)
		memset(value, 0, strlen(value));
	free(value);
	vstr_release(&offered);
	vstr_release(&mechs);
	return ret;
}
