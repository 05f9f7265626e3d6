/* smtpd_check - who may send mail where: relay control and local users.
 *
 * Until the restriction lists (smtpd_*_restrictions) exist, one fixed
 * evaluation stands for Postfix's defaults
 *     smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
 *     smtpd_reject_unlisted_recipient = yes (local_recipient_maps = passwd
 *         and $alias_maps)
 * so that with an empty main.cf postern relays for nobody but itself.
 *
 * The destination is the domain after the final '@' of the parsed path
 * (a source route is already gone, a quoted local part is a local part),
 * lower-cased, without trailing dots, compared whole: "ours.example" never
 * matches "evil-ours.example" or "ours.example.evil". An address literal
 * is never a local destination. '%' and '!' are not routing here, but a
 * local part that holds '@', '%' or '!' is not relayed to $relay_domains
 * from outside $mynetworks (Postfix's allow_untrusted_routing = no): the
 * inner server might read them as routing.
 */
#include <ctype.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "argv.h"
#include "cidr.h"
#include "config.h"
#include "dict.h"
#include "mem.h"
#include "msg.h"
#include "rewrite.h"
#include "smtpd.h"

/* parse_list - a CIDR list from text, problems logged */
static struct cidr_list *parse_list(const char *text, const char *what)
{
	struct diaglist dl = DIAGLIST_INIT;
	struct cidr_list *l = cidr_list_parse(text, what, &dl);

	diag_log(&dl);
	diag_clear(&dl);
	return l;
}

int smtpd_check_mynetworks(const char *addr)
{
	static struct cidr_list *list;

	if (list == NULL)
		list = parse_list(conf_str("mynetworks"), "mynetworks");
	return cidr_list_match(list, addr);
}

int smtpd_check_list(const char *text, const char *what, const char *addr)
{
	struct cidr_list *l;
	int hit;

	/* the common case, $mynetworks, is parsed once */
	if (strcmp(text, conf_str("mynetworks")) == 0)
		return smtpd_check_mynetworks(addr);
	l = parse_list(text, what);
	hit = cidr_list_match(l, addr);
	cidr_list_free(l);
	return hit;
}

/* table_has - a type:name entry lists key: 1, 0, or -1 (unreadable) */
static int table_has(const char *spec, const char *key, const char *what)
{
	char *err = NULL;
	struct dict *d = dict_open(spec, 0, &err);
	const char *value;
	enum dict_status st;

	if (d == NULL) {
		msg_warn("%s: %s", what, err);
		free(err);
		return -1;
	}
	st = dict_lookup(d, key, &value);
	dict_close(d);
	return st == DICT_FOUND ? 1 : st == DICT_NOTFOUND ? 0 : -1;
}

int smtpd_check_relay_domain(const char *domain)
{
	struct argv list = ARGV_INIT;
	int hit = 0;

	argv_split(&list, conf_str("relay_domains"), ", \t\r\n");
	for (size_t i = 0; i < list.n && hit == 0; i++) {
		const char *e = list.v[i];
		size_t el = strlen(e), dl = strlen(domain);

		if (strchr(e, ':'))
			hit = table_has(e, domain, "relay_domains");
		else if (e[0] == '.')	/* ".example.com": its subdomains */
			hit = dl > el && strcasecmp(domain + dl - el, e) == 0;
		else
			hit = strcasecmp(domain, e) == 0;
	}
	argv_free(&list);
	return hit;
}

/* alias_known - the name is a key of an $alias_maps table: 1, 0, -1 */
static int alias_known(const char *name)
{
	struct argv maps = ARGV_INIT;
	int hit = 0;

	argv_split(&maps, conf_str("alias_maps"), ", \t\r\n");
	for (size_t i = 0; i < maps.n && hit == 0; i++)
		hit = table_has(maps.v[i], name, "alias_maps");
	argv_free(&maps);
	return hit;
}

/* local_user_known - local_recipient_maps as Postfix's default: the
 * passwd file, then $alias_maps, by the lower-cased local part */
static int local_user_known(const char *local)
{
	char *name = xstrdup(local);
	int hit;

	for (char *p = name; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	hit = getpwnam(name) != NULL ? 1 : alias_known(name);
	free(name);
	return hit;
}

/* routing_chars - a local part an inner server might route on */
static int routing_chars(const char *local)
{
	return strpbrk(local, "@%!") != NULL;
}

int smtpd_check_rcpt(const struct smtpd_session *s, const struct smtpd_addr *a, vstr *reply)
{
	const char *domain = *a->domain ? a->domain : conf_str("myorigin");
	int local = a->literal ? 0 : rewrite_is_local_domain(domain);

	vstr_reset(reply);
	if (local < 0) {
		vstr_cpyf(reply, "451 4.3.0 <%s>: Temporary lookup failure", a->addr);
		return -1;
	}
	if (!local && !s->in_mynetworks) {
		int relay = a->literal ? 0 : smtpd_check_relay_domain(domain);

		if (relay < 0) {
			vstr_cpyf(reply, "451 4.3.0 <%s>: Temporary lookup failure", a->addr);
			return -1;
		}
		if (relay == 0 || routing_chars(a->local)) {
			vstr_cpyf(reply, "554 5.7.1 <%s>: Relay access denied", a->addr);
			return -1;
		}
	}
	if (local) {
		switch (local_user_known(a->local)) {
		case 1:
			break;
		case 0:
			vstr_cpyf(reply, "550 5.1.1 <%s>: Recipient address rejected: "
				  "User unknown in local recipient table", a->addr);
			return -1;
		default:
			vstr_cpyf(reply, "451 4.3.0 <%s>: Temporary lookup failure", a->addr);
			return -1;
		}
	}
	return 0;
}
