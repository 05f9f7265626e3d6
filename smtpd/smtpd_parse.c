/* smtpd_parse - command lines, RFC 5321 paths and ESMTP parameters.
 *
 * Everything here reads untrusted bytes and nothing past the NUL that ends
 * them (the session refuses lines with NUL before parsing). The path
 * parser follows RFC 5321 section 4.1.2 with two Postfix-compatible
 * leniencies: a mailbox without angle brackets, and dots anywhere in an
 * unquoted local part ("john..doe", real addresses have that). A source
 * route is parsed and dropped, so the address is always the final
 * mailbox; '%' and '!' in a local part are ordinary characters; a quoted
 * local part may hold '@' and stays a local part. UTF-8 is taken only when
 * the caller says SMTPUTF8 was given, and must be well-formed.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "smtpd.h"

#define LABEL_MAX	63
#define DOMAIN_MAX	255

unsigned smtpd_line_scan(const char *line, size_t len)
{
	unsigned flags = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c == '\r')
			flags |= SMTPD_LINE_BARE_CR;
		else if (c == 0)
			flags |= SMTPD_LINE_NUL;
		else if (c >= 0x80)
			flags |= SMTPD_LINE_8BIT;
	}
	return flags;
}

int smtpd_split_verb(const char *line, char *verb, const char **args)
{
	size_t n = 0;

	while (isalpha((unsigned char)line[n])) {
		if (n >= SMTPD_VERB_MAX)
			return -1;
		verb[n] = (char)toupper((unsigned char)line[n]);
		n++;
	}
	verb[n] = 0;
	if (n == 0 || (line[n] != 0 && line[n] != ' '))
		return -1;
	line += n;
	while (*line == ' ')
		line++;
	*args = line;
	return 0;
}

/* is_atext - RFC 5321 atext; UTF-8 bytes when utf8 */
static int is_atext(unsigned char c, int utf8)
{
	if (c >= 0x80)
		return utf8;
	if (isalnum(c))
		return 1;
	return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* needs_quotes - the local part must be a quoted string in external form;
 * the same rule as lib/addr.c, so both paths into the queue agree */
static int needs_quotes(const char *s, size_t len)
{
	if (len == 0)
		return 1;
	for (size_t i = 0; i < len; i++)
		if (!is_atext((unsigned char)s[i], 1) && s[i] != '.')
			return 1;
	return 0;
}

int smtpd_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		unsigned c = *p++;
		unsigned need, cp, min;

		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, cp = c & 0x1f, min = 0x80;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, cp = c & 0x0f, min = 0x800;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, cp = c & 0x07, min = 0x10000;
		else
			return 0;
		if ((size_t)(end - p) < need)
			return 0;
		for (unsigned i = 0; i < need; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		p += need;
	}
	return 1;
}

/* scan_domain - a domain name at p: labels of letters, digits, '-' and
 * '_' (and UTF-8 when utf8) separated by single dots, at most one
 * trailing dot. Returns its length, 0 if there is none. */
static size_t scan_domain(const char *p, int utf8)
{
	size_t i = 0, label = 0, labels = 0;

	for (;;) {
		unsigned char c = (unsigned char)p[i];

		if (isalnum(c) || c == '-' || c == '_' || (c >= 0x80 && utf8)) {
			if (++label > LABEL_MAX)
				return 0;
			i++;
		} else if (c == '.' && label > 0) {
			labels++;
			label = 0;
			i++;
		} else {
			break;
		}
	}
	if (label > 0)
		labels++;
	if (labels == 0 || i > DOMAIN_MAX + 1 || (i > DOMAIN_MAX && p[i - 1] != '.'))
		return 0;
	return i;
}

/* scan_literal - "[...]" at p: an IPv4 address, "IPv6:" and an IPv6
 * address, or a standardized tag "tag:text" (RFC 5321 4.1.3). Returns
 * its length, 0 if malformed. */
static size_t scan_literal(const char *p)
{
	const char *close = strchr(p, ']');
	char buf[64];
	unsigned char bin[16];
	size_t len;

	if (*p != '[' || close == NULL)
		return 0;
	len = (size_t)(close - p - 1);
	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, p + 1, len);
	buf[len] = 0;
	if (strncasecmp(buf, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, buf + 5, bin) == 1 ? len + 2 : 0;
	if (isdigit((unsigned char)buf[0]))
		return inet_pton(AF_INET, buf, bin) == 1 ? len + 2 : 0;
	/* General-address-literal: Standardized-tag ":" 1*dcontent */
	{
		const char *colon = strchr(buf, ':');

		if (colon == NULL || colon == buf || colon[1] == 0)
			return 0;
		for (const char *q = buf; q < colon; q++)
			if (!isalnum((unsigned char)*q) && *q != '-')
				return 0;
		for (const char *q = colon + 1; *q; q++)
			if (*q < 33 || *q > 126 || *q == '[' || *q == '\\' || *q == ']')
				return 0;
	}
	return len + 2;
}

/* scan_route - "@dom,@dom:" at p; its length, 0 if malformed */
static size_t scan_route(const char *p, int utf8)
{
	size_t i = 0, n;

	for (;;) {
		if (p[i] != '@')
			return 0;
		i++;
		n = p[i] == '[' ? scan_literal(p + i) : scan_domain(p + i, utf8);
		if (n == 0)
			return 0;
		i += n;
		if (p[i] == ':')
			return i + 1;
		if (p[i] != ',')
			return 0;
		i++;
	}
}

/* scan_local - a dot-string or quoted string at p; the unquoted local
 * part into local. Returns its length in p, 0 if malformed. */
static size_t scan_local(const char *p, int utf8, vstr *local)
{
	size_t i = 0;

	if (p[0] != '"') {
		while (is_atext((unsigned char)p[i], utf8) || p[i] == '.')
			i++;
		vstr_ncat(local, p, i);
		return i;
	}
	for (i = 1;; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '"')
			return vstr_len(local) > 0 ? i + 1 : 0;	/* "" is no local part */
		if (c == '\\') {
			c = (unsigned char)p[++i];
			if (c < 32 || c > 126)
				return 0;
		} else if ((c < 32 || c > 126) && !(c >= 0x80 && utf8)) {
			return 0;
		}
		vstr_catc(local, c);
	}
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* build - fills out from the unquoted local part and the domain text */
static void build(struct smtpd_addr *out, const vstr *local, const char *dom, size_t dlen,
		  int literal)
{
	vstr a = VSTR_INIT;
	const char *l = vstr_str(local);
	size_t llen = vstr_len(local);

	while (dlen > 0 && dom[dlen - 1] == '.')
		dlen--;
	out->local = xstrndup(l, llen);
	out->domain = xstrndup(dom, dlen);
	if (!literal)
		lower(out->domain);
	out->literal = literal;
	if (needs_quotes(l, llen)) {
		vstr_catc(&a, '"');
		for (size_t i = 0; i < llen; i++) {
			if (l[i] == '"' || l[i] == '\\')
				vstr_catc(&a, '\\');
			vstr_catc(&a, l[i]);
		}
		vstr_catc(&a, '"');
	} else {
		vstr_ncat(&a, l, llen);
	}
	if (dlen > 0) {
		vstr_catc(&a, '@');
		vstr_cat(&a, out->domain);
	}
	out->addr = vstr_steal(&a);
	out->utf8 = 0;
	for (const char *s = out->addr; *s; s++)
		if ((unsigned char)*s >= 0x80)
			out->utf8 = 1;
}

/* path_end - the byte after a path must end the argument or start params */
static int path_end_ok(const char *p)
{
	return *p == 0 || *p == ' ';
}

/* null_path - "<>" (p is at the '>') */
static int null_path(const char *p, int flags, struct smtpd_addr *out, const char **end,
		     const char **why)
{
	if (!(flags & SMTPD_PATH_NULL_OK)) {
		*why = "empty address";
		return -1;
	}
	if (!path_end_ok(p + 1)) {
		*why = "bad address syntax";
		return -1;
	}
	out->addr = xstrdup("");
	out->local = xstrdup("");
	out->domain = xstrdup("");
	*end = p + 1;
	return 0;
}

/* mailbox - local part ["@" domain] at p, the domain in *dom and *dlen;
 * returns its length, 0 with *why when malformed */
static size_t mailbox(const char *p, int utf8, vstr *local, const char **dom, size_t *dlen,
		      int *literal, const char **why)
{
	size_t n = scan_local(p, utf8, local);

	if (n == 0) {
		*why = "bad local part";
		return 0;
	}
	if (p[n] != '@')
		return n;
	*dom = p + n + 1;
	*literal = **dom == '[';
	*dlen = *literal ? scan_literal(*dom) : scan_domain(*dom, utf8);
	if (*dlen == 0) {
		*why = "bad domain";
		return 0;
	}
	return n + 1 + *dlen;
}

int smtpd_parse_path(const char *text, int flags, struct smtpd_addr *out,
		     const char **end, const char **why)
{
	int utf8 = (flags & SMTPD_PATH_UTF8_OK) != 0, angle, literal = 0;
	const char *p = text, *start, *dom = "";
	vstr local = VSTR_INIT;
	size_t n, dlen = 0;

	memset(out, 0, sizeof(*out));
	while (*p == ' ')
		p++;
	angle = *p == '<';
	p += angle;
	start = p;
	if (angle && *p == '>')
		return null_path(p, flags, out, end, why);
	if (angle && *p == '@') {
		if ((n = scan_route(p, utf8)) == 0) {
			*why = "bad source route";
			return -1;
		}
		p += n;	/* the route is dropped: the final mailbox counts */
	}
	if ((n = mailbox(p, utf8, &local, &dom, &dlen, &literal, why)) == 0)
		goto bad;
	p += n;
	*why = "bad address syntax";
	if ((size_t)(p - start) > SMTPD_PATH_MAX)
		*why = "address too long";
	else if ((!angle || *p++ == '>') && path_end_ok(p))
		*why = NULL;
	if (*why == NULL && utf8 && !smtpd_utf8_valid(start, (size_t)(p - start)))
		*why = "malformed UTF-8 in address";
	if (*why)
		goto bad;
	build(out, &local, dom, dlen, literal);
	vstr_release(&local);
	*end = p;
	return 0;
bad:
	vstr_release(&local);
	return -1;
}

void smtpd_addr_free(struct smtpd_addr *a)
{
	free(a->addr);
	free(a->local);
	free(a->domain);
	memset(a, 0, sizeof(*a));
}

int smtpd_parse_params(const char *text, struct argv *keys, struct argv *values,
		       const char **why)
{
	const char *p = text;

	for (;;) {
		const char *k, *eq = NULL, *v;

		while (*p == ' ')
			p++;
		if (*p == 0)
			return 0;
		for (k = p; isalnum((unsigned char)*p) || (*p == '-' && p > k); p++)
			;
		if (p == k || (*p != '=' && *p != ' ' && *p != 0)) {
			*why = "bad parameter syntax";
			return -1;
		}
		if (*p == '=')
			eq = p++;
		for (v = p; *p && *p != ' '; p++) {
			if (*p == '=' || (unsigned char)*p < 33 || *p == 127) {
				*why = "bad parameter value";
				return -1;
			}
		}
		if (eq && p == v) {
			*why = "empty parameter value";
			return -1;
		}
		argv_addn(keys, k, (size_t)((eq ? eq : p) - k));
		argv_addn(values, eq ? v : "", eq ? (size_t)(p - v) : 0);
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int smtpd_xtext_decode(const char *in, vstr *out)
{
	vstr_reset(out);
	for (const char *p = in; *p; p++) {
		int c = (unsigned char)*p;

		if (c == '+') {
			int hi = hexval((unsigned char)p[1]), lo = hi < 0 ? -1 : hexval((unsigned char)p[2]);

			if (lo < 0)
				return -1;
			c = hi * 16 + lo;
			p += 2;
		} else if (c < 33 || c > 126 || c == '=') {
			return -1;
		}
		if (c < 32 || c > 126)
			return -1;
		vstr_catc(out, c);
	}
	return 0;
}

long long smtpd_parse_size(const char *s)
{
	long long v = 0;
	size_t n = 0;

	for (; isdigit((unsigned char)s[n]); n++) {
		if (n >= 18)
			return -1;
		v = v * 10 + (s[n] - '0');
	}
	return n > 0 && s[n] == 0 ? v : -1;
}
