/* smtp_nexthop - what a request's nexthop text means: a domain to look
 * up MX records for, a host or address to connect to without MX lookup,
 * or (LMTP) a Unix-domain socket. A pure function, unit-tested. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns.h"
#include "smtp.h"

/* parse_port - a decimal port or a few well-known service names */
static int parse_port(const char *s, unsigned *port)
{
	static const struct { const char *name; unsigned port; } names[] = {
		{"smtp", 25}, {"lmtp", 24}, {"submission", 587}, {"submissions", 465},
	};
	char *end;
	unsigned long v;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(s, names[i].name) == 0)
			return *port = names[i].port, 0;
	if (*s < '0' || *s > '9')
		return -1;
	v = strtoul(s, &end, 10);
	if (*end || v == 0 || v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

static int is_address(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* parse_bracketed - "[host]" or "[host]:port" */
static int parse_bracketed(const char *text, struct smtp_nexthop *nh, const char **err)
{
	const char *close = strchr(text, ']');
	size_t len;

	if (close == NULL)
		return *err = "missing ]", -1;
	len = (size_t)(close - text - 1);
	if (len >= 5 && strncasecmp(text + 1, "ipv6:", 5) == 0)
		text += 5, len -= 5;
	if (len == 0 || len >= SMTP_HOST_MAX)
		return *err = "bad host name", -1;
	memcpy(nh->host, text + 1, len);
	nh->host[len] = 0;
	if (close[1] == ':' && parse_port(close + 2, &nh->port) < 0)
		return *err = "bad port", -1;
	if (close[1] && close[1] != ':')
		return *err = "garbage after ]", -1;
	nh->kind = SMTP_NH_HOST;
	nh->literal = is_address(nh->host);
	if (!nh->literal && !dns_name_valid(nh->host))
		return *err = "bad host name", -1;
	return 0;
}

/* parse_plain - "name" or "name:port" */
static int parse_plain(const char *text, int lmtp, struct smtp_nexthop *nh, const char **err)
{
	const char *colon = strrchr(text, ':');
	size_t len = colon ? (size_t)(colon - text) : strlen(text);

	if (colon && strchr(text, ':') != colon)
		return *err = "IPv6 addresses must be in [brackets]", -1;
	if (len == 0 || len >= SMTP_HOST_MAX)
		return *err = "bad host name", -1;
	memcpy(nh->host, text, len);
	nh->host[len] = 0;
	if (colon && parse_port(colon + 1, &nh->port) < 0)
		return *err = "bad port", -1;
	nh->literal = is_address(nh->host);
	nh->kind = lmtp || nh->literal ? SMTP_NH_HOST : SMTP_NH_DOMAIN;
	if (!nh->literal && !dns_name_valid(nh->host))
		return *err = "bad host name", -1;
	return 0;
}

int smtp_nexthop_parse(const char *text, int lmtp, struct smtp_nexthop *nh, const char **err)
{
	memset(nh, 0, sizeof(*nh));
	nh->port = lmtp ? 24 : 25;
	if (lmtp && strncasecmp(text, "unix:", 5) == 0) {
		if (text[5] == 0 || strlen(text + 5) >= SMTP_PATH_MAX)
			return *err = "bad socket path", -1;
		nh->kind = SMTP_NH_UNIX;
		snprintf(nh->host, sizeof(nh->host), "%s", text + 5);
		return 0;
	}
	if (lmtp && strncasecmp(text, "inet:", 5) == 0)
		text += 5;
	if (*text == 0)
		return *err = "empty nexthop", -1;
	if (*text == '[')
		return parse_bracketed(text, nh, err);
	return parse_plain(text, lmtp, nh, err);
}
