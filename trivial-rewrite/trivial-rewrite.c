/* trivial-rewrite - canonical addresses and where each one goes.
 *
 * Clients (qmgr; later smtpd and cleanup) keep a connection open and send
 * requests one after another:
 *   request=rewrite address=A          -> address=CANONICAL
 *   request=resolve address=A          -> transport= nexthop= recipient=
 *                                         class=local|default|error
 *                                         [dsn= reason=] for class=error
 * Address classes so far: local ($mydestination -> $local_transport) and
 * default (everything else -> $default_transport, next hop $relayhost or
 * the recipient's domain). Relay domains, transport_maps and virtual
 * domains come with the outbound work.
 *
 * master.cf: rewrite unix - - n - - trivial-rewrite
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "attr.h"
#include "config.h"
#include "ipc.h"
#include "mem.h"
#include "msg.h"
#include "rewrite.h"
#include "server.h"

#define REWRITE_PROTOCOL	"trivial_rewrite"
#define REWRITE_MAX_FRAME	8192
#define REWRITE_IDLE_MS		(3600 * 1000)

/* split_transport - "transport:nexthop" (nexthop may be empty) */
static void split_transport(const char *spec, char **transport, char **nexthop)
{
	const char *colon = strchr(spec, ':');

	*transport = colon ? xstrndup(spec, (size_t)(colon - spec)) : xstrdup(spec);
	*nexthop = xstrdup(colon ? colon + 1 : "");
}

/* resolve_error - class=error: qmgr bounces (5.x.x) or defers (4.x.x) */
static void resolve_error(struct attr_list *out, const char *canon, const char *dsn,
			  const char *reason)
{
	attr_add_str(out, "class", "error");
	attr_add_str(out, "dsn", dsn);
	attr_add_str(out, "reason", reason);
	attr_add_str(out, "transport", "error");
	attr_add_str(out, "nexthop", "");
	attr_add_str(out, "recipient", canon);
}

static void resolve(const char *addr, struct attr_list *out)
{
	char *canon = rewrite_canonical(addr), *transport, *nexthop;
	const char *domain = rewrite_domain(canon);
	int local = *domain ? rewrite_is_local_domain(domain) : 0;

	if (*canon == 0 || *domain == 0 || local < 0) {
		if (local < 0)
			resolve_error(out, canon, "4.3.0", "mydestination lookup failure");
		else
			resolve_error(out, canon, "5.1.3", "bad address syntax");
		free(canon);
		return;
	}
	switch (local) {
	case 1:
		split_transport(conf_str("local_transport"), &transport, &nexthop);
		attr_add_str(out, "class", "local");
		break;
	default:
		split_transport(conf_str("default_transport"), &transport, &nexthop);
		if (*nexthop == 0) {
			free(nexthop);
			nexthop = xstrdup(*conf_str("relayhost") ? conf_str("relayhost") : domain);
		}
		attr_add_str(out, "class", "default");
		break;
	}
	attr_add_str(out, "transport", transport);
	attr_add_str(out, "nexthop", nexthop);
	attr_add_str(out, "recipient", canon);
	free(transport);
	free(nexthop);
	free(canon);
}

static void serve(int fd)
{
	struct attr_list req = ATTR_LIST_INIT, rep = ATTR_LIST_INIT;
	const char *what, *addr;

	if (ipc_send_greeting(fd, REWRITE_PROTOCOL, 1, 10000) < 0)
		return;
	while (attr_read(fd, &req, REWRITE_MAX_FRAME, REWRITE_IDLE_MS) == 0) {
		server_watchdog_reset();	/* qmgr's connection lasts for hours */
		if (attr_get_str(&req, "request", &what) < 0 || attr_get_line(&req, "address", &addr) < 0) {
			msg_warn("malformed request from client: dropping it");
			break;
		}
		if (strcmp(what, "resolve") == 0) {
			resolve(addr, &rep);
		} else if (strcmp(what, "rewrite") == 0) {
			char *canon = rewrite_canonical(addr);

			attr_add_str(&rep, "address", canon);
			free(canon);
		} else {
			msg_warn("unknown request \"%s\": dropping client", what);
			break;
		}
		if (attr_write(fd, &rep, 10000) < 0)
			break;
		attr_list_clear(&rep);
	}
	attr_list_clear(&req);
	attr_list_clear(&rep);
}

static const struct server_ops rewrite_ops = {
	.mode = SERVER_SINGLE,
	.single = serve,
};

int main(int argc, char **argv)
{
	server_main(argc, argv, &rewrite_ops);
}
