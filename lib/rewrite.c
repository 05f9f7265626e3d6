/* rewrite - canonical addresses and local domains; see rewrite.h. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "argv.h"
#include "config.h"
#include "dict.h"
#include "mem.h"
#include "msg.h"
#include "rewrite.h"

const char *rewrite_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at ? at + 1 : "";
}

char *rewrite_localpart(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at ? xstrndup(addr, (size_t)(at - addr)) : xstrdup(addr);
}

char *rewrite_canonical(const char *addr)
{
	const char *at = strrchr(addr, '@');
	char *out, *p;
	size_t len;

	if (*addr == 0)
		return xstrdup("");
	if (at == NULL)
		return xasprintf("%s@%s", addr, conf_str("myorigin"));
	out = xstrdup(addr);
	p = out + (at - addr) + 1;
	len = strlen(p);
	while (len > 0 && p[len - 1] == '.')
		p[--len] = 0;
	for (; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return out;
}

int rewrite_is_local_domain(const char *domain)
{
	struct argv list = ARGV_INIT;
	int hit = 0;

	if (*domain == 0)
		return 0;
	argv_split(&list, conf_str("mydestination"), ", \t\r\n");
	for (size_t i = 0; i < list.n && !hit; i++) {
		if (strchr(list.v[i], ':') && list.v[i][0] != '[')
			hit = dict_has_key(list.v[i], domain, "mydestination");
		else
			hit = strcasecmp(list.v[i], domain) == 0;
	}
	argv_free(&list);
	return hit;
}

int rewrite_is_relay_domain(const char *domain)
{
	struct argv list = ARGV_INIT;
	size_t dl = strlen(domain);
	int hit = 0;

	if (*domain == 0)
		return 0;
	argv_split(&list, conf_str("relay_domains"), ", \t\r\n");
	for (size_t i = 0; i < list.n && hit == 0; i++) {
		const char *e = list.v[i];
		size_t el = strlen(e);

		if (strchr(e, ':'))
			hit = dict_has_key(e, domain, "relay_domains");
		else if (e[0] == '.')	/* ".example.com": its subdomains */
			hit = dl > el && strcasecmp(domain + dl - el, e) == 0;
		else
			hit = strcasecmp(domain, e) == 0;
	}
	argv_free(&list);
	return hit;
}

int rewrite_is_local(const char *addr)
{
	return rewrite_is_local_domain(rewrite_domain(addr));
}
