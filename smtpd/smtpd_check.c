/* smtpd_check - who may send mail where: the tests behind the
 * restrictions of smtpd_restrict.c (reject_unauth_destination and the
 * unlisted recipient check, Postfix's smtpd_reject_unlisted_recipient =
 * yes with local_recipient_maps = passwd and $alias_maps), and HELO name
 * syntax. With the default smtpd_relay_restrictions (permit_mynetworks,
 * reject_unauth_destination) and an empty main.cf postern relays for
 * nobody but itself.
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

/* alias_known - the name is a key of an $alias_maps table: 1, 0, -1 */
static int alias_known(const char *name)
{
	struct argv maps = ARGV_INIT;
	int hit = 0;

	argv_split(&maps, conf_str("alias_maps"), ", \t\r\n");
	for (size_t i = 0; i < maps.n && hit == 0; i++)
		hit = dict_has_key(maps.v[i], name, "alias_maps");
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

int smtpd_check_destination(const struct smtpd_addr *a)
{
	const char *domain = *a->domain ? a->domain : conf_str("myorigin");
	int local = a->literal ? 0 : rewrite_is_local_domain(domain), relay;

	if (local != 0)
		return local < 0 ? -1 : 0;
	relay = a->literal ? 0 : rewrite_is_relay_domain(domain);
	if (relay < 0)
		return -1;
	return relay == 0 || routing_chars(a->local) ? 1 : 0;
}

int smtpd_check_unlisted(const struct smtpd_addr *a, vstr *reply)
{
	const char *domain = *a->domain ? a->domain : conf_str("myorigin");
	int local = a->literal ? 0 : rewrite_is_local_domain(domain);

	if (local == 0)
		return 0;
	switch (local < 0 ? -1 : local_user_known(a->local)) {
	case 1:
		return 0;
	case 0:
		vstr_cpyf(reply, "550 5.1.1 <%s>: Recipient address rejected: "
			  "User unknown in local recipient table", a->addr);
		return -1;
	default:
		vstr_cpyf(reply, "451 4.3.0 <%s>: Temporary lookup failure", a->addr);
		return -1;
	}
}

/* label_ok - one DNS label: letters, digits, '-' and '_', no '-' at
 * either end, 1..63 bytes */
static int label_ok(const char *p, size_t n)
{
	if (n == 0 || n > 63 || p[0] == '-' || p[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)p[i]) && p[i] != '-' && p[i] != '_')
			return 0;
	return 1;
}

int smtpd_valid_helo(const char *name)
{
	size_t len = strlen(name);
	const char *end;
	struct smtpd_addr a;
	const char *why;
	char *path;
	int ok;

	if (name[0] == '[') {	/* an address literal: parse it as a path would */
		path = xasprintf("<x@%s>", name);
		ok = smtpd_parse_path(path, 0, &a, &end, &why) == 0 && *end == 0 && a.literal;
		if (ok)
			smtpd_addr_free(&a);
		free(path);
		return ok;
	}
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > 255)
		return 0;
	for (const char *p = name, *stop = name + len; p < stop;) {
		const char *dot = memchr(p, '.', (size_t)(stop - p));
		size_t n = dot ? (size_t)(dot - p) : (size_t)(stop - p);

		if (!label_ok(p, n))
			return 0;
		p += n + (dot != NULL);
		if (dot && p == stop)
			return 0;
	}
	return 1;
}

int smtpd_check_rcpt(struct smtpd_session *s, const struct smtpd_addr *a, vstr *reply)
{
	return smtpd_restrict_rcpt(s, a, reply);
}
