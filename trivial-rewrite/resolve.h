/* resolve - where an address goes: trivial-rewrite's "resolve" request.
 *
 * resolve_addr puts the address into canonical form (rewrite.h) and
 * decides, as Postfix's trivial-rewrite does:
 *   class      local    $mydestination, or user@[address] naming one of
 *                       this host's addresses (inet_interfaces,
 *                       proxy_interfaces)       -> $local_transport
 *              relay    $relay_domains          -> $relay_transport
 *              default  everything else         -> $default_transport
 *              error    bad syntax (5.1.3), a table that cannot be read
 *                       (4.3.0), or an error:/retry: route
 *   nexthop    the transport's ":nexthop" if it has one; else, for relay
 *              and default, $relayhost if set, else the recipient domain
 *              ("[1.2.3.4]" or "[2001:db8::1]" for an address literal)
 *   then transport_maps (transport(5)) may replace transport, nexthop or
 *              both, for every class.
 * Nothing here is cached but the open tables (maps.h): a table that
 * changes is seen within a second.
 */
#ifndef POSTERN_RESOLVE_H
#define POSTERN_RESOLVE_H

#define RESOLVE_FLAG_ROUTED	(1 << 0)	/* transport_maps or relayhost chose the nexthop */
#define RESOLVE_FLAG_LITERAL	(1 << 1)	/* the domain is an address literal */

struct resolved {
	char *klass;		/* "local", "relay", "default", "error" */
	char *transport;
	char *nexthop;
	char *recipient;	/* the canonical address */
	char *dsn;		/* class error: X.Y.Z; else "" */
	char *reason;		/* class error: text; else "" */
	int flags;		/* RESOLVE_FLAG_* */
};

/* resolve_addr - fills r (every field malloc'ed; free with resolved_free) */
void resolve_addr(const char *addr, struct resolved *r);
void resolved_free(struct resolved *r);

/* resolve_flags_text - "routed literal", "" for none (malloc'ed) */
char *resolve_flags_text(int flags);

#endif
