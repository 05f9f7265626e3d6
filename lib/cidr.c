/* cidr - IPv4/IPv6 network lists: mynetworks and cidr: tables; see cidr.h.
 *
 * An entry is a network kept as (family, prefix length, address bytes),
 * parsed with inet_pton() alone, so a host name can never cause a DNS
 * query: it is simply not an address, and is reported. Matching walks
 * the entries in order; the first one that contains the address decides.
 *
 * An IPv4-mapped client (::ffff:192.0.2.1) is turned into its IPv4
 * address before matching, as Postfix's smtpd does when a client
 * connects; for the same reason an entry inside ::ffff:0:0/96 is kept as
 * the IPv4 network it stands for, so "[::ffff:192.0.2.0]/120" and
 * "192.0.2.0/24" mean the same.
 *
 * "/file" entries are read line by line; a '#' starts a comment that runs
 * to the end of the line (no address contains '#'). Includes nest at most
 * CIDR_MAX_DEPTH deep, a file that is already being read is not read again
 * (an include loop is an error, not a hang), and one parse opens at most
 * CIDR_MAX_FILES files, so a list cannot make a daemon read forever.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "argv.h"
#include "cidr.h"
#include "mem.h"
#include "msg.h"
#include "vstr.h"

#define CIDR_MAX_DEPTH	5	/* nested "/file" includes */
#define CIDR_MAX_FILES	1000	/* files opened by one cidr_list_parse */
#define CIDR_LIST_DELIMS ", \t\r\n"
#define CIDR_LOOPBACK	"127.0.0.0/8 [::1]/128"

/* An address: family 4 uses the first 4 bytes of a. */
struct cidr_addr {
	int family;		/* 4 or 6 */
	unsigned char a[16];
};

struct cidr_entry {
	struct cidr_addr net;	/* host bits are zero */
	int plen;		/* prefix length */
	int negate;
};

struct cidr_list {
	struct cidr_entry *v;
	size_t n, cap;
};

static const unsigned char cidr_mapped_prefix[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* ------------------------------------------------------------ addresses */

/* cidr_addr_parse - numeric text of exactly len bytes; 0 or -1 */
static int cidr_addr_parse(const char *s, size_t len, struct cidr_addr *out)
{
	char buf[INET6_ADDRSTRLEN + 1];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = 0;
	memset(out, 0, sizeof(*out));
	if (memchr(buf, ':', len) != NULL) {
		out->family = 6;
		return inet_pton(AF_INET6, buf, out->a) == 1 ? 0 : -1;
	}
	out->family = 4;
	return inet_pton(AF_INET, buf, out->a) == 1 ? 0 : -1;
}

/* cidr_addr_text - inet_ntop of a into buf (INET6_ADDRSTRLEN bytes) */
static const char *cidr_addr_text(const struct cidr_addr *a, char *buf, size_t size)
{
	if (inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->a, buf, (socklen_t)size) == NULL)
		return "?";
	return buf;
}

/* cidr_max_plen - 32 or 128 */
static int cidr_max_plen(int family)
{
	return family == 4 ? 32 : 128;
}

/* cidr_is_mapped - whether a v6 address lies in ::ffff:0:0/96 */
static int cidr_is_mapped(const struct cidr_addr *a)
{
	return a->family == 6 && memcmp(a->a, cidr_mapped_prefix, 12) == 0;
}

/* cidr_unmap - ::ffff:a.b.c.d becomes a.b.c.d */
static void cidr_unmap(struct cidr_addr *a)
{
	unsigned char v4[4];

	memcpy(v4, a->a + 12, 4);
	memset(a->a, 0, sizeof(a->a));
	memcpy(a->a, v4, 4);
	a->family = 4;
}

/* cidr_clear_host - zeroes the bits after plen; 1 if any was set */
static int cidr_clear_host(struct cidr_addr *a, int plen)
{
	int bytes = cidr_max_plen(a->family) / 8, changed = 0;

	for (int i = 0; i < bytes; i++) {
		int keep = plen - 8 * i;
		unsigned char mask;

		mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
		changed |= (a->a[i] & ~mask) != 0;
		a->a[i] &= mask;
	}
	return changed;
}

/* cidr_in_net - whether a falls in net/plen (same family) */
static int cidr_in_net(const struct cidr_addr *a, const struct cidr_addr *net, int plen)
{
	int full = plen / 8, rest = plen % 8;
	unsigned char mask;

	if (a->family != net->family)
		return 0;
	if (memcmp(a->a, net->a, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a->a[full] & mask) == (net->a[full] & mask);
}

/* cidr_client_parse - a client address: brackets and a v6 zone ("%eth0")
 * dropped, a mapped v4 address unmapped; 0 or -1 */
static int cidr_client_parse(const char *text, struct cidr_addr *out)
{
	size_t len = strlen(text);
	const char *pct;

	if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
		text++;
		len -= 2;
	}
	pct = memchr(text, '%', len);
	if (pct != NULL && memchr(text, ':', (size_t)(pct - text)) != NULL)
		len = (size_t)(pct - text);
	if (cidr_addr_parse(text, len, out) < 0)
		return -1;
	if (cidr_is_mapped(out))
		cidr_unmap(out);
	return 0;
}

/* -------------------------------------------------------------- entries */

/* cidr_prefix_parse - "N" (1 to 3 digits) at most max; 0 or -1 */
static int cidr_prefix_parse(const char *s, int max, int *plen)
{
	size_t len = strlen(s);
	int v = 0;

	if (len == 0 || len > 3 || strspn(s, "0123456789") != len)
		return -1;
	for (size_t i = 0; i < len; i++)
		v = v * 10 + (s[i] - '0');
	if (v > max)
		return -1;
	*plen = v;
	return 0;
}

/* cidr_split - network text into its address part and its prefix text
 * (NULL when there is none); 0, or -1 with *err */
static int cidr_split(const char *text, const char **addr, size_t *alen,
		      const char **prefix, char **err)
{
	const char *close, *slash;

	if (text[0] == '[') {
		if ((close = strchr(text, ']')) == NULL) {
			*err = xasprintf("missing ']' in \"%s\"", text);
			return -1;
		}
		if (close[1] != 0 && close[1] != '/') {
			*err = xasprintf("unexpected text after ']' in \"%s\"", text);
			return -1;
		}
		*addr = text + 1;
		*alen = (size_t)(close - text - 1);
		*prefix = close[1] == '/' ? close + 2 : NULL;
		return 0;
	}
	slash = strchr(text, '/');
	*addr = text;
	*alen = slash ? (size_t)(slash - text) : strlen(text);
	*prefix = slash ? slash + 1 : NULL;
	return 0;
}

/* cidr_host_bits_error - Postfix's message, with the network meant */
static char *cidr_host_bits_error(const char *text, const struct cidr_entry *e)
{
	char buf[INET6_ADDRSTRLEN];
	const char *net = cidr_addr_text(&e->net, buf, sizeof(buf));

	return xasprintf("non-null host address bits in \"%s\", perhaps you should use "
			 "\"%s%s%s/%d\" instead", text, text[0] == '[' ? "[" : "", net,
			 text[0] == '[' ? "]" : "", e->plen);
}

/* cidr_entry_parse - "addr", "addr/N", "[addr]", "[addr]/N"; 0, or -1
 * with a message in *err (malloc'ed) */
static int cidr_entry_parse(const char *text, struct cidr_entry *e, char **err)
{
	const char *addr, *prefix;
	size_t alen;

	memset(e, 0, sizeof(*e));
	if (cidr_split(text, &addr, &alen, &prefix, err) < 0)
		return -1;
	if (cidr_addr_parse(addr, alen, &e->net) < 0) {
		*err = xasprintf("bad network \"%s\": expected an IPv4 or IPv6 address, "
				 "optionally with /prefix (host names are not looked up)", text);
		return -1;
	}
	e->plen = cidr_max_plen(e->net.family);
	if (prefix && cidr_prefix_parse(prefix, e->plen, &e->plen) < 0) {
		*err = xasprintf("bad prefix length in \"%s\": must be 0..%d", text, e->plen);
		return -1;
	}
	if (cidr_clear_host(&e->net, e->plen)) {
		*err = cidr_host_bits_error(text, e);
		return -1;
	}
	if (cidr_is_mapped(&e->net) && e->plen >= 96) {
		cidr_unmap(&e->net);
		e->plen -= 96;
	}
	return 0;
}

/* cidr_list_append - adds a parsed entry */
static void cidr_list_append(struct cidr_list *l, const struct cidr_entry *e)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? size_add(l->cap, l->cap) : 16;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n++] = *e;
}

/* ------------------------------------------------------------- the list */

struct cidr_parse {
	struct cidr_list *l;
	struct diaglist *dl;
	const char *files[CIDR_MAX_DEPTH];	/* files being read, outermost first */
	int depth;
	size_t opened;
};

static void cidr_parse_text(struct cidr_parse *p, const char *text, const char *what, int line);

/* cidr_file_refused - 1, with the reason in p->dl, when path may not be
 * read now (included from what/line) */
static int cidr_file_refused(struct cidr_parse *p, const char *path,
			     const char *what, int line)
{
	for (int i = 0; i < p->depth; i++) {
		if (strcmp(p->files[i], path) == 0) {
			diag_add(p->dl, DIAG_ERROR, what, line,
				 "%s includes itself (include loop); not read again", path);
			return 1;
		}
	}
	if (p->depth >= CIDR_MAX_DEPTH) {
		diag_add(p->dl, DIAG_ERROR, what, line, "%s: /file includes nested too "
			 "deeply (more than %d levels); not read", path, CIDR_MAX_DEPTH);
		return 1;
	}
	if (p->opened >= CIDR_MAX_FILES) {
		diag_add(p->dl, DIAG_ERROR, what, line, "%s: too many /file includes "
			 "(%d files read already); not read", path, CIDR_MAX_FILES);
		return 1;
	}
	return 0;
}

/* cidr_file_line - one line of an included file, comment removed */
static void cidr_file_line(struct cidr_parse *p, char *buf, size_t n,
			   const char *path, int lineno)
{
	char *hash;

	if (memchr(buf, 0, n) != NULL) {
		diag_add(p->dl, DIAG_ERROR, path, lineno, "NUL byte in line; line skipped");
		return;
	}
	if ((hash = strchr(buf, '#')) != NULL)
		*hash = 0;
	cidr_parse_text(p, buf, path, lineno);
}

/* cidr_parse_file - the entries of the file at path, included from
 * what/line */
static void cidr_parse_file(struct cidr_parse *p, const char *path,
			    const char *what, int line)
{
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0;
	FILE *fp;

	if (cidr_file_refused(p, path, what, line))
		return;
	p->opened++;
	if ((fp = fopen(path, "re")) == NULL) {
		diag_add(p->dl, DIAG_ERROR, what, line, "open %s: %s", path, strerror(errno));
		return;
	}
	p->files[p->depth++] = path;
	while ((n = getline(&buf, &cap, fp)) >= 0)
		cidr_file_line(p, buf, (size_t)n, path, ++lineno);
	if (ferror(fp))
		diag_add(p->dl, DIAG_ERROR, path, 0, "read error: %s", strerror(errno));
	p->depth--;
	free(buf);
	fclose(fp);
}

/* cidr_parse_item - one list item: [!...]network, or /file */
static void cidr_parse_item(struct cidr_parse *p, const char *item, const char *what, int line)
{
	struct cidr_entry e;
	int negate = 0;
	char *err = NULL;

	for (; *item == '!'; item++)
		negate = !negate;
	if (*item == 0) {
		diag_add(p->dl, DIAG_ERROR, what, line, "\"!\" without a network after it");
		return;
	}
	if (*item == '/') {
		if (negate)
			diag_add(p->dl, DIAG_ERROR, what, line,
				 "\"!%s\": a /file cannot be negated; ignored", item);
		else
			cidr_parse_file(p, item, what, line);
		return;
	}
	if (cidr_entry_parse(item, &e, &err) < 0) {
		diag_add(p->dl, DIAG_ERROR, what, line, "%s", err);
		free(err);
		return;
	}
	e.negate = negate;
	cidr_list_append(p->l, &e);
}

/* cidr_parse_text - items separated by commas and white space */
static void cidr_parse_text(struct cidr_parse *p, const char *text, const char *what, int line)
{
	struct argv items = ARGV_INIT;

	argv_split(&items, text, CIDR_LIST_DELIMS);
	for (size_t i = 0; i < items.n; i++)
		cidr_parse_item(p, items.v[i], what, line);
	argv_free(&items);
}

struct cidr_list *cidr_list_new(void)
{
	return xcalloc(1, sizeof(struct cidr_list));
}

struct cidr_list *cidr_list_parse(const char *text, const char *what, struct diaglist *dl)
{
	struct cidr_parse p;

	memset(&p, 0, sizeof(p));
	p.l = cidr_list_new();
	p.dl = dl;
	cidr_parse_text(&p, text ? text : "", what ? what : "", 0);
	return p.l;
}

void cidr_list_free(struct cidr_list *l)
{
	if (l == NULL)
		return;
	free(l->v);
	free(l);
}

int cidr_list_add(struct cidr_list *l, const char *network, char **err)
{
	struct cidr_entry e;

	if (cidr_entry_parse(network, &e, err) < 0)
		return -1;
	cidr_list_append(l, &e);
	return 0;
}

size_t cidr_list_count(const struct cidr_list *l)
{
	return l->n;
}

int cidr_list_find(const struct cidr_list *l, const char *addr, size_t *index)
{
	struct cidr_addr a;

	if (cidr_client_parse(addr, &a) < 0)
		return -1;
	for (size_t i = 0; i < l->n; i++) {
		if (cidr_in_net(&a, &l->v[i].net, l->v[i].plen)) {
			*index = i;
			return 1;
		}
	}
	return 0;
}

int cidr_list_match(const struct cidr_list *l, const char *addr)
{
	size_t i;
	int found = cidr_list_find(l, addr, &i);

	if (found <= 0)
		return found;
	return l->v[i].negate ? 0 : 1;
}

/* ------------------------------------------------------------ mynetworks */

enum cidr_style { CIDR_STYLE_HOST, CIDR_STYLE_SUBNET, CIDR_STYLE_CLASS };

/* cidr_sockaddr - the address in sa, 0, or -1 for other families */
static int cidr_sockaddr(const struct sockaddr *sa, struct cidr_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET) {
		a->family = 4;
		memcpy(a->a, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		a->family = 6;
		memcpy(a->a, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
		return 0;
	}
	return -1;
}

/* cidr_mask_plen - the leading one bits of a netmask */
static int cidr_mask_plen(const struct cidr_addr *mask)
{
	int bytes = cidr_max_plen(mask->family) / 8, plen = 0;

	for (int i = 0; i < bytes; i++) {
		for (int bit = 7; bit >= 0; bit--) {
			if ((mask->a[i] & (1u << bit)) == 0)
				return plen;
			plen++;
		}
	}
	return plen;
}

/* cidr_class_plen - the classful prefix of an IPv4 address */
static int cidr_class_plen(const struct cidr_addr *a)
{
	if (a->a[0] < 128)
		return 8;		/* class A */
	if (a->a[0] < 192)
		return 16;		/* class B */
	if (a->a[0] < 224)
		return 24;		/* class C */
	if (a->a[0] < 240)
		return 4;		/* class D (multicast), as Postfix */
	return 32;			/* class E: just the address */
}

/* cidr_iface_plen - the prefix one interface address contributes */
static int cidr_iface_plen(const struct ifaddrs *ifa, const struct cidr_addr *a,
			   enum cidr_style style)
{
	struct cidr_addr mask;

	if (style == CIDR_STYLE_HOST)
		return cidr_max_plen(a->family);
	if (style == CIDR_STYLE_CLASS && a->family == 4)
		return cidr_class_plen(a);
	if (cidr_sockaddr(ifa->ifa_netmask, &mask) < 0 || mask.family != a->family)
		return cidr_max_plen(a->family);
	return cidr_mask_plen(&mask);
}

/* cidr_net_text - "192.0.2.0/24" or "[2001:db8::]/64" */
static char *cidr_net_text(const struct cidr_addr *net, int plen)
{
	char buf[INET6_ADDRSTRLEN];
	const char *t = cidr_addr_text(net, buf, sizeof(buf));

	if (net->family == 4)
		return xasprintf("%s/%d", t, plen);
	return xasprintf("[%s]/%d", t, plen);
}

/* cidr_add_unique - appends text to nets unless it is there already */
static void cidr_add_unique(struct argv *nets, char *text)
{
	for (size_t i = 0; i < nets->n; i++) {
		if (strcmp(nets->v[i], text) == 0) {
			free(text);
			return;
		}
	}
	argv_add(nets, text);
	free(text);
}

/* cidr_covered_by_loopback - in 127.0.0.0/8 or ::1 (host style lists
 * those as a whole) */
static int cidr_covered_by_loopback(const struct cidr_addr *a)
{
	static const unsigned char v6_loopback[16] = { [15] = 1 };

	if (a->family == 4)
		return a->a[0] == 127;
	return memcmp(a->a, v6_loopback, 16) == 0;
}

/* cidr_iface_nets - each interface address as style says, into nets */
static int cidr_iface_nets(enum cidr_style style, struct argv *nets)
{
	struct ifaddrs *list, *ifa;
	struct cidr_addr a;
	int plen;

	if (getifaddrs(&list) < 0)
		return -1;
	for (ifa = list; ifa != NULL; ifa = ifa->ifa_next) {
		if (cidr_sockaddr(ifa->ifa_addr, &a) < 0)
			continue;
		if (style == CIDR_STYLE_HOST && cidr_covered_by_loopback(&a))
			continue;
		plen = cidr_iface_plen(ifa, &a, style);
		cidr_clear_host(&a, plen);
		cidr_add_unique(nets, cidr_net_text(&a, plen));
	}
	freeifaddrs(list);
	return 0;
}

/* cidr_style_code - the style by name; anything else is host */
static enum cidr_style cidr_style_code(const char *style)
{
	if (style != NULL && strcasecmp(style, "subnet") == 0)
		return CIDR_STYLE_SUBNET;
	if (style != NULL && strcasecmp(style, "class") == 0)
		return CIDR_STYLE_CLASS;
	return CIDR_STYLE_HOST;
}

char *cidr_mynetworks_default(const char *style)
{
	enum cidr_style code = cidr_style_code(style);
	struct argv nets = ARGV_INIT;
	vstr out = VSTR_INIT;

	if (code == CIDR_STYLE_HOST)
		argv_split(&nets, CIDR_LOOPBACK, " ");
	if (cidr_iface_nets(code, &nets) < 0) {
		msg_warn("mynetworks: cannot list the network interfaces: %s; "
			 "using %s", strerror(errno), CIDR_LOOPBACK);
		argv_free(&nets);
		argv_split(&nets, CIDR_LOOPBACK, " ");
	}
	for (size_t i = 0; i < nets.n; i++) {
		if (i > 0)
			vstr_catc(&out, ' ');
		vstr_cat(&out, nets.v[i]);
	}
	argv_free(&nets);
	return vstr_steal(&out);
}
