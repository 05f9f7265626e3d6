/* smtpd_restrict - Postfix's restriction lists (smtpd_*_restrictions).
 *
 * A list is evaluated left to right; the first restriction that decides
 * (permit, or a reject/defer reply) ends the list, DUNNO goes on to the
 * next one, and the end of the list permits. The lists are independent:
 * "permit" in smtpd_client_restrictions ends that list only. At RCPT,
 * with smtpd_delay_reject = yes, the client, helo and sender lists are
 * evaluated first, then smtpd_relay_restrictions and then
 * smtpd_recipient_restrictions; all must pass, and then the unlisted
 * recipient check (smtpd_check.c) runs, as Postfix's
 * smtpd_reject_unlisted_recipient = yes.
 *
 * Restrictions are a table {name, takes a table, function}. A restriction
 * whose information is not there yet (a recipient restriction in the
 * client list evaluated at CONNECT) says DUNNO, as in Postfix. A reply
 * names the thing the restriction looked at ("<u@x>: Sender address
 * rejected: ..."); plain reject and defer name the thing of the list.
 * Access table results OK, DUNNO, REJECT, DEFER, HOLD, DISCARD and
 * "4xx/5xx text" follow access(5); a result that names a restriction
 * without arguments (e.g. permit_mynetworks) is evaluated as that one.
 * An unknown restriction or result is a configuration error: logged
 * with the parameter name, and the client gets 451 4.3.5.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "argv.h"
#include "config.h"
#include "dict.h"
#include "mem.h"
#include "msg.h"
#include "rewrite.h"
#include "smtpd.h"

enum { R_DUNNO, R_OK, R_REJECT };

struct rctx {
	struct smtpd_session *s;
	const char *param;		/* the list, for configuration errors */
	enum smtpd_rclass cls;		/* what the list is about */
	const char *helo;		/* NULL: no HELO/EHLO */
	const char *sender;		/* NULL: no MAIL */
	const struct smtpd_addr *rcpt;	/* NULL: not at RCPT/VRFY */
	vstr *reply;
	int depth;			/* access results naming restrictions */
};

typedef int restriction_fn(struct rctx *c, const char *table);

struct restriction {
	const char *name;
	int table;			/* takes a type:name argument */
	restriction_fn *fn;
};

static const char *const class_text[] = {
	[SMTPD_RC_CLIENT] = "Client host", [SMTPD_RC_HELO] = "Helo command",
	[SMTPD_RC_SENDER] = "Sender address", [SMTPD_RC_RECIPIENT] = "Recipient address",
	[SMTPD_RC_DATA] = "Data command", [SMTPD_RC_EOD] = "End-of-data",
};

/* reply_name - what a reply of class cls names */
static const char *reply_name(const struct rctx *c, enum smtpd_rclass cls)
{
	switch (cls) {
	case SMTPD_RC_CLIENT:
		return c->s->namaddr;
	case SMTPD_RC_HELO:
		return c->helo ? c->helo : "";
	case SMTPD_RC_SENDER:
		return c->sender ? c->sender : "";
	case SMTPD_RC_RECIPIENT:
		return c->rcpt ? c->rcpt->addr : "";
	case SMTPD_RC_DATA:
		return "DATA";
	default:
		return "END-OF-MESSAGE";
	}
}

/* reject_as - "CODE DSN <name>: Class rejected: text"; text may start
 * with its own X.Y.Z, which replaces dsn */
static int reject_as(struct rctx *c, enum smtpd_rclass cls, int code, const char *dsn,
		     const char *text)
{
	char own[16];
	size_t n = strspn(text, "0123456789.");

	if (n >= 5 && n < sizeof(own) && text[0] == (char)('0' + code / 100) && text[1] == '.'
	    && (text[n] == ' ' || text[n] == 0)) {
		memcpy(own, text, n);
		own[n] = 0;
		dsn = own;
		text += n;
		while (*text == ' ')
			text++;
	}
	vstr_cpyf(c->reply, "%d %s <%s>: %s rejected: %s", code, dsn, reply_name(c, cls),
		  class_text[cls], *text ? text : "Access denied");
	return R_REJECT;
}

static int config_error(struct rctx *c)
{
	vstr_cpy(c->reply, "451 4.3.5 Server configuration error");
	return R_REJECT;
}

static int lookup_failure(struct rctx *c, enum smtpd_rclass cls)
{
	vstr_cpyf(c->reply, "451 4.3.0 <%s>: Temporary lookup failure", reply_name(c, cls));
	return R_REJECT;
}

/* ---- simple restrictions --------------------------------------------- */

static int r_permit(struct rctx *c, const char *t)
{
	(void)c, (void)t;
	return R_OK;
}

static int r_reject(struct rctx *c, const char *t)
{
	(void)t;
	return reject_as(c, c->cls, 554, "5.7.1", "");
}

static int r_defer(struct rctx *c, const char *t)
{
	(void)t;
	return reject_as(c, c->cls, 450, "4.7.1", "");
}

static int r_permit_mynetworks(struct rctx *c, const char *t)
{
	(void)t;
	return c->s->in_mynetworks ? R_OK : R_DUNNO;
}

static int unauth_destination(struct rctx *c, int code, const char *dsn)
{
	if (c->rcpt == NULL)
		return R_DUNNO;
	switch (smtpd_check_destination(c->rcpt)) {
	case 0:
		return R_DUNNO;
	case 1:
		vstr_cpyf(c->reply, "%d %s <%s>: Relay access denied", code, dsn, c->rcpt->addr);
		return R_REJECT;
	default:
		return lookup_failure(c, SMTPD_RC_RECIPIENT);
	}
}

static int r_reject_unauth_destination(struct rctx *c, const char *t)
{
	(void)t;
	return unauth_destination(c, 554, "5.7.1");
}

static int r_defer_unauth_destination(struct rctx *c, const char *t)
{
	(void)t;
	return unauth_destination(c, 450, "4.7.1");
}

/* r_reject_unauth_pipelining - commands sent ahead without PIPELINING
 * (no EHLO), or anything sent ahead of DATA's reply */
static int r_reject_unauth_pipelining(struct rctx *c, const char *t)
{
	struct smtpd_session *s = c->s;

	(void)t;
	if (s->stand_alone || !smtpd_input_pending(s))
		return R_DUNNO;
	if (s->esmtp && strcmp(s->where, "DATA") != 0)
		return R_DUNNO;
	return reject_as(c, c->cls, 503, "5.5.0", "Improper use of SMTP command pipelining");
}

static int r_reject_unlisted_recipient(struct rctx *c, const char *t)
{
	(void)t;
	if (c->rcpt == NULL)
		return R_DUNNO;
	return smtpd_check_unlisted(c->rcpt, c->reply) < 0 ? R_REJECT : R_DUNNO;
}

/* ---- host names and addresses ---------------------------------------- */

static int r_reject_invalid_helo_hostname(struct rctx *c, const char *t)
{
	(void)t;
	if (c->helo == NULL || smtpd_valid_helo(c->helo))
		return R_DUNNO;
	return reject_as(c, SMTPD_RC_HELO, 501, "5.5.2", "Invalid name");
}

/* fqdn - a name with a dot in it (address literals count) */
static int fqdn(const char *name)
{
	return *name == '[' || (strchr(name, '.') != NULL && smtpd_valid_helo(name));
}

static int r_reject_non_fqdn_helo_hostname(struct rctx *c, const char *t)
{
	(void)t;
	if (c->helo == NULL || fqdn(c->helo))
		return R_DUNNO;
	return reject_as(c, SMTPD_RC_HELO, 504, "5.5.2", "need fully-qualified hostname");
}

/* addr_domain - the domain of an external-form address, "" if none */
static const char *addr_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at ? at + 1 : "";
}

static int r_reject_non_fqdn_sender(struct rctx *c, const char *t)
{
	(void)t;
	if (c->sender == NULL || *c->sender == 0 || fqdn(addr_domain(c->sender)))
		return R_DUNNO;
	return reject_as(c, SMTPD_RC_SENDER, 504, "5.5.2", "need fully-qualified address");
}

static int r_reject_non_fqdn_recipient(struct rctx *c, const char *t)
{
	(void)t;
	if (c->rcpt == NULL || fqdn(addr_domain(c->rcpt->addr)))
		return R_DUNNO;
	return reject_as(c, SMTPD_RC_RECIPIENT, 504, "5.5.2", "need fully-qualified address");
}

/* unknown_domain - the domain of addr has no MX, A or AAAA record. A DNS
 * failure is temporary (450) as a missing domain is by Postfix's default
 * unknown_address_reject_code = 450; local domains are known. */
static int unknown_domain(struct rctx *c, enum smtpd_rclass cls, const char *addr,
			  const char *dsn)
{
	const char *domain = addr_domain(addr);

	if (*domain == 0 || *domain == '[' || rewrite_is_local_domain(domain) == 1)
		return R_DUNNO;
	if (smtpd_dns_domain(domain) == 1)
		return R_DUNNO;
	return reject_as(c, cls, 450, dsn, "Domain not found");
}

static int r_reject_unknown_sender_domain(struct rctx *c, const char *t)
{
	(void)t;
	if (c->sender == NULL || *c->sender == 0)
		return R_DUNNO;
	return unknown_domain(c, SMTPD_RC_SENDER, c->sender, "4.1.8");
}

static int r_reject_unknown_recipient_domain(struct rctx *c, const char *t)
{
	(void)t;
	if (c->rcpt == NULL)
		return R_DUNNO;
	return unknown_domain(c, SMTPD_RC_RECIPIENT, c->rcpt->addr, "4.1.2");
}

/* ---- access tables ---------------------------------------------------- */

static int evaluate_one(struct rctx *c, const char *name, const char *table);
static const struct restriction *restriction_find(const char *name);

/* action - HOLD and DISCARD: log them, mark the transaction */
static void action(struct rctx *c, enum smtpd_rclass cls, const char *what, const char *text)
{
	vstr line = VSTR_INIT;

	if (*text)
		vstr_cpyf(&line, "<%s>: %s %s", reply_name(c, cls), class_text[cls], text);
	else
		vstr_cpyf(&line, "<%s>: %s triggers %s action", reply_name(c, cls), class_text[cls],
			  strcmp(what, "hold") == 0 ? "HOLD" : "DISCARD");
	smtpd_log_action(c->s, what, c->s->where, vstr_str(&line), c->rcpt ? c->rcpt->addr : NULL);
	vstr_release(&line);
}

/* access_result - what an access table's value says */
static int access_result(struct rctx *c, enum smtpd_rclass cls, const char *table,
			 const char *value)
{
	size_t wl = strcspn(value, " \t");
	const char *text = value + wl;

	while (*text == ' ' || *text == '\t')
		text++;
#define IS(w) (wl == strlen(w) && strncasecmp(value, w, wl) == 0)
	if (IS("OK"))
		return R_OK;
	if (IS("DUNNO"))
		return R_DUNNO;
	if (IS("REJECT"))
		return reject_as(c, cls, 554, "5.7.1", text);
	if (IS("DEFER"))
		return reject_as(c, cls, 450, "4.7.1", text);
	if (IS("HOLD")) {
		action(c, cls, "hold", text);
		c->s->hold = 1;
		return R_DUNNO;
	}
	if (IS("DISCARD")) {
		action(c, cls, "discard", text);
		c->s->discard = 1;
		return R_OK;
	}
#undef IS
	if (wl == 3 && (value[0] == '4' || value[0] == '5') && isdigit((unsigned char)value[1])
	    && isdigit((unsigned char)value[2]))
		return reject_as(c, cls, atoi(value), value[0] == '4' ? "4.7.1" : "5.7.1", text);
	if (*text == 0 && c->depth < 1) {
		char *name = xstrndup(value, wl);
		const struct restriction *r = restriction_find(name);
		int ret = -1;

		if (r && !r->table) {
			c->depth++;
			ret = evaluate_one(c, name, NULL);
			c->depth--;
		}
		free(name);
		if (ret >= 0)
			return ret;
	}
	msg_warn("%s: %s: unknown access result \"%s\"", c->param, table, value);
	return config_error(c);
}

/* access_lookup - looks up each key in turn: the first found decides */
static int access_lookup(struct rctx *c, enum smtpd_rclass cls, const char *table,
			 const struct argv *keys)
{
	char *err = NULL;
	struct dict *d = dict_open(table, 0, &err);
	const char *value;
	int r = R_DUNNO;

	if (d == NULL) {
		msg_warn("%s: %s", c->param, err);
		free(err);
		return config_error(c);
	}
	for (size_t i = 0; i < keys->n; i++) {
		enum dict_status st = dict_lookup(d, keys->v[i], &value);

		if (st == DICT_RETRY) {
			r = lookup_failure(c, cls);
			break;
		}
		if (st == DICT_FOUND) {
			r = access_result(c, cls, table, value);
			break;
		}
	}
	dict_close(d);
	return r;
}

/* domain_keys - the domain, then each parent as "parent" and ".parent" */
static void domain_keys(struct argv *keys, const char *domain)
{
	argv_add(keys, domain);
	for (const char *p = strchr(domain, '.'); p && p[1]; p = strchr(p + 1, '.')) {
		argv_add(keys, p + 1);
		argv_add(keys, p);
	}
}

/* address_keys - Postfix's order: user@domain, domain and parents, user@ */
static void address_keys(struct argv *keys, const char *addr, const char *null_key)
{
	const char *at = strrchr(addr, '@');

	if (*addr == 0) {
		argv_add(keys, null_key);
		return;
	}
	argv_add(keys, addr);
	if (at == NULL)
		return;
	if (at[1] && at[1] != '[')
		domain_keys(keys, at + 1);
	else if (at[1])
		argv_add(keys, at + 1);
	argv_addn(keys, addr, (size_t)(at - addr) + 1);
}

/* client_keys - the address, the name, then the address with trailing
 * octets (IPv6: groups) removed */
static void client_keys(struct argv *keys, const struct smtpd_session *s)
{
	int sep = strchr(s->addr, ':') ? ':' : '.';
	char *a = xstrdup(s->addr), *p;

	argv_add(keys, s->addr);
	if (strcmp(s->name, "unknown") != 0)
		domain_keys(keys, s->name);
	while ((p = strrchr(a, sep)) != NULL) {
		*p = 0;
		if (*a)
			argv_add(keys, a);
	}
	free(a);
}

static int access_check(struct rctx *c, enum smtpd_rclass cls, const char *table,
			const char *subject)
{
	struct argv keys = ARGV_INIT;
	int r;

	if (cls == SMTPD_RC_CLIENT)
		client_keys(&keys, c->s);
	else if (cls == SMTPD_RC_HELO)
		domain_keys(&keys, subject);
	else
		address_keys(&keys, subject, "<>");
	r = access_lookup(c, cls, table, &keys);
	argv_free(&keys);
	return r;
}

static int r_check_client_access(struct rctx *c, const char *t)
{
	return access_check(c, SMTPD_RC_CLIENT, t, c->s->addr);
}

static int r_check_helo_access(struct rctx *c, const char *t)
{
	return c->helo ? access_check(c, SMTPD_RC_HELO, t, c->helo) : R_DUNNO;
}

static int r_check_sender_access(struct rctx *c, const char *t)
{
	return c->sender ? access_check(c, SMTPD_RC_SENDER, t, c->sender) : R_DUNNO;
}

static int r_check_recipient_access(struct rctx *c, const char *t)
{
	return c->rcpt ? access_check(c, SMTPD_RC_RECIPIENT, t, c->rcpt->addr) : R_DUNNO;
}

/* ---- SASL ---------------------------------------------------------------- */

static int r_permit_sasl_authenticated(struct rctx *c, const char *t)
{
	(void)t;
	return c->s->sasl_username ? R_OK : R_DUNNO;
}

/* login_mismatch - smtpd_sender_login_maps against the login: an
 * authenticated client must own the sender (auth), an unauthenticated
 * one may not use an owned sender (unauth). The null sender is anyone's. */
static int login_mismatch(struct rctx *c, int auth, int unauth)
{
	const char *user = c->s->sasl_username;
	int owned;

	if (c->sender == NULL || *c->sender == 0 || *conf_str("smtpd_sender_login_maps") == 0)
		return R_DUNNO;
	if (user ? !auth : !unauth)
		return R_DUNNO;
	owned = smtpd_sasl_login_owned(c->sender, user);
	if (owned == -1)
		return lookup_failure(c, SMTPD_RC_SENDER);
	if (user && owned != 1) {
		char *text = xasprintf("not owned by user %s", user);

		reject_as(c, SMTPD_RC_SENDER, 553, "5.7.1", text);
		free(text);
		return R_REJECT;
	}
	if (!user && owned == 0)
		return reject_as(c, SMTPD_RC_SENDER, 553, "5.7.1", "not logged in");
	return R_DUNNO;
}

static int r_reject_sender_login_mismatch(struct rctx *c, const char *t)
{
	(void)t;
	return login_mismatch(c, 1, 1);
}

static int r_reject_authenticated_sender_login_mismatch(struct rctx *c, const char *t)
{
	(void)t;
	return login_mismatch(c, 1, 0);
}

static int r_reject_unauthenticated_sender_login_mismatch(struct rctx *c, const char *t)
{
	(void)t;
	return login_mismatch(c, 0, 1);
}

/* r_check_ccert_access - the client certificate's fingerprint, then its
 * public key's (smtpd_tls_fingerprint_digest, AB:CD:.. form); DUNNO
 * without TLS or without a certificate */
static int r_check_ccert_access(struct rctx *c, const char *t)
{
	struct argv keys = ARGV_INIT;
	int r;

	if (!c->s->tls_active || !c->s->tls_info.peer_cert)
		return R_DUNNO;
	argv_add(&keys, c->s->tls_info.fingerprint);
	argv_add(&keys, c->s->tls_info.pkey_fingerprint);
	r = access_lookup(c, SMTPD_RC_CLIENT, t, &keys);
	argv_free(&keys);
	return r;
}

/* ---- the table and the evaluator ---------------------------------------- */

static const struct restriction restrictions[] = {
	{"permit", 0, r_permit},
	{"reject", 0, r_reject},
	{"defer", 0, r_defer},
	{"permit_mynetworks", 0, r_permit_mynetworks},
	{"reject_unauth_destination", 0, r_reject_unauth_destination},
	{"defer_unauth_destination", 0, r_defer_unauth_destination},
	{"reject_unauth_pipelining", 0, r_reject_unauth_pipelining},
	{"reject_non_fqdn_helo_hostname", 0, r_reject_non_fqdn_helo_hostname},
	{"reject_invalid_helo_hostname", 0, r_reject_invalid_helo_hostname},
	{"reject_non_fqdn_sender", 0, r_reject_non_fqdn_sender},
	{"reject_non_fqdn_recipient", 0, r_reject_non_fqdn_recipient},
	{"reject_unknown_sender_domain", 0, r_reject_unknown_sender_domain},
	{"reject_unknown_recipient_domain", 0, r_reject_unknown_recipient_domain},
	{"reject_unlisted_recipient", 0, r_reject_unlisted_recipient},
	{"check_client_access", 1, r_check_client_access},
	{"check_helo_access", 1, r_check_helo_access},
	{"check_sender_access", 1, r_check_sender_access},
	{"check_recipient_access", 1, r_check_recipient_access},
	{"permit_sasl_authenticated", 0, r_permit_sasl_authenticated},
	{"reject_sender_login_mismatch", 0, r_reject_sender_login_mismatch},
	{"reject_authenticated_sender_login_mismatch", 0, r_reject_authenticated_sender_login_mismatch},
	{"reject_unauthenticated_sender_login_mismatch", 0, r_reject_unauthenticated_sender_login_mismatch},
	{"check_ccert_access", 1, r_check_ccert_access},
};

static const struct restriction *restriction_find(const char *name)
{
	for (size_t i = 0; i < sizeof(restrictions) / sizeof(restrictions[0]); i++)
		if (strcasecmp(restrictions[i].name, name) == 0)
			return &restrictions[i];
	return NULL;
}

/* evaluate_one - one restriction by name (table: its argument) */
static int evaluate_one(struct rctx *c, const char *name, const char *table)
{
	const struct restriction *r = restriction_find(name);

	if (r == NULL || (r->table && table == NULL)) {
		msg_warn("%s: %s restriction \"%s\"", c->param,
			 r ? "missing table after" : "unknown", name);
		return config_error(c);
	}
	return r->fn(c, table);
}

/* evaluate_list - the list in parameter c->param */
static int evaluate_list(struct rctx *c)
{
	struct argv list = ARGV_INIT;
	char *err = NULL;
	int r = R_DUNNO;

	if (argv_split_braces(&list, conf_str(c->param), ", \t\r\n", &err) < 0) {
		msg_warn("%s: %s", c->param, err);
		free(err);
		argv_free(&list);
		return config_error(c);
	}
	for (size_t i = 0; i < list.n && r == R_DUNNO; i++) {
		const struct restriction *def = restriction_find(list.v[i]);
		const char *name = list.v[i], *table = NULL;

		if (def && def->table && i + 1 < list.n)
			table = list.v[++i];
		r = evaluate_one(c, name, table);
	}
	argv_free(&list);
	return r;
}

/* ---- the stages ---------------------------------------------------------- */

static const char *const list_param[] = {
	[SMTPD_RC_CLIENT] = "smtpd_client_restrictions",
	[SMTPD_RC_HELO] = "smtpd_helo_restrictions",
	[SMTPD_RC_SENDER] = "smtpd_sender_restrictions",
	[SMTPD_RC_RECIPIENT] = "smtpd_recipient_restrictions",
	[SMTPD_RC_DATA] = "smtpd_data_restrictions",
	[SMTPD_RC_EOD] = "smtpd_end_of_data_restrictions",
};

static void ctx_init(struct rctx *c, struct smtpd_session *s, vstr *reply)
{
	memset(c, 0, sizeof(*c));
	c->s = s;
	c->helo = s->helo;
	c->sender = s->sender;
	c->reply = reply;
	vstr_reset(reply);
}

static int run_list(struct rctx *c, enum smtpd_rclass cls, const char *param)
{
	c->cls = cls;
	c->param = param;
	return evaluate_list(c) == R_REJECT ? -1 : 0;
}

int smtpd_restrict(struct smtpd_session *s, enum smtpd_rclass cls, const char *subject,
		   vstr *reply)
{
	struct rctx c;

	ctx_init(&c, s, reply);
	if (cls == SMTPD_RC_HELO)
		c.helo = subject;
	else if (cls == SMTPD_RC_SENDER)
		c.sender = subject;
	return run_list(&c, cls, list_param[cls]);
}

int smtpd_restrict_rcpt(struct smtpd_session *s, const struct smtpd_addr *rcpt, vstr *reply)
{
	struct rctx c;

	ctx_init(&c, s, reply);
	c.rcpt = rcpt;
	if (conf_bool("smtpd_delay_reject")
	    && (run_list(&c, SMTPD_RC_CLIENT, list_param[SMTPD_RC_CLIENT]) < 0
		|| run_list(&c, SMTPD_RC_HELO, list_param[SMTPD_RC_HELO]) < 0
		|| run_list(&c, SMTPD_RC_SENDER, list_param[SMTPD_RC_SENDER]) < 0))
		return -1;
	if (run_list(&c, SMTPD_RC_RECIPIENT, "smtpd_relay_restrictions") < 0
	    || run_list(&c, SMTPD_RC_RECIPIENT, list_param[SMTPD_RC_RECIPIENT]) < 0)
		return -1;
	/* smtpd_reject_unlisted_recipient = yes */
	return smtpd_check_unlisted(rcpt, reply);
}

int smtpd_restrict_reply(struct smtpd_session *s, enum smtpd_rclass cls, const char *subject)
{
	vstr reply = VSTR_INIT;
	const char *rcpt = s->rcpt.n == 1 ? s->rcpt.v[0] : NULL;
	int ret = smtpd_restrict(s, cls, subject, &reply);

	if (ret < 0) {
		smtpd_log_reject(s, s->where, vstr_str(&reply), cls == SMTPD_RC_DATA ? rcpt : NULL);
		smtpd_reply(s, "%s", vstr_str(&reply));
		if (cls == SMTPD_RC_CLIENT) {
			free(s->access_denied);
			s->access_denied = vstr_steal(&reply);
		}
	}
	vstr_release(&reply);
	return ret;
}
