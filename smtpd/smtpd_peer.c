/* smtpd_peer - who is on the other end of the connection.
 *
 * The numeric address comes from getpeername(); an IPv4-mapped IPv6
 * address (a dual-stack listener) is shown as IPv4, so mynetworks and the
 * log see one form. The name is the reverse lookup (getnameinfo with
 * NI_NAMEREQD) only when a forward lookup of that name gives the address
 * back; otherwise "unknown", as in Postfix. Time limits are the
 * resolver's (resolv.conf timeout/attempts): this runs once per session,
 * before the greeting.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "mem.h"
#include "msg.h"
#include "smtpd.h"

/* unmap - ::ffff:a.b.c.d as a plain IPv4 address */
static void unmap(struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in s4;

	if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return;
	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	s4.sin_port = s6->sin6_port;
	memcpy(&s4.sin_addr, s6->sin6_addr.s6_addr + 12, 4);
	memcpy(ss, &s4, sizeof(s4));
	*len = sizeof(s4);
}

/* same_addr - does the addrinfo address equal ss (address only) */
static int same_addr(const struct sockaddr *sa, const struct sockaddr_storage *ss)
{
	if (sa->sa_family != ss->ss_family)
		return 0;
	if (sa->sa_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)sa)->sin_addr,
			      &((const struct sockaddr_in *)ss)->sin_addr, 4) == 0;
	if (sa->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr,
			      &((const struct sockaddr_in6 *)ss)->sin6_addr, 16) == 0;
	return 0;
}

/* verified_name - the reverse name if its forward lookup confirms it */
static char *verified_name(const struct sockaddr_storage *ss, socklen_t len, const char *addr)
{
	char host[NI_MAXHOST];
	struct addrinfo hints, *res, *ai;
	int ok = 0;

	if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof(host), NULL, 0, NI_NAMEREQD) != 0)
		return xstrdup("unknown");
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = ss->ss_family;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, NULL, &hints, &res) != 0) {
		msg_warn("hostname %s does not resolve to address %s", host, addr);
		return xstrdup("unknown");
	}
	for (ai = res; ai && !ok; ai = ai->ai_next)
		ok = same_addr(ai->ai_addr, ss);
	freeaddrinfo(res);
	if (!ok) {
		msg_warn("hostname %s does not resolve to address %s", host, addr);
		return xstrdup("unknown");
	}
	return xstrdup(host);
}

int smtpd_peer_lookup(int fd, int lookup, char **name, char **addr, char **port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0
	    || (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
		return -1;
	unmap(&ss, &len);
	if (getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return -1;
	*addr = xstrdup(host);
	*port = xstrdup(serv);
	*name = lookup ? verified_name(&ss, len, host) : xstrdup("unknown");
	return 0;
}
