/* trivial-rewrite - canonical addresses and where each one goes.
 *
 * Clients (qmgr; later smtpd and cleanup) keep a connection open and send
 * requests one after another:
 *   request=rewrite address=A          -> address=CANONICAL
 *   request=resolve address=A          -> class=local|relay|default|error
 *                                         transport= nexthop= recipient=
 *                                         flags=[routed] [literal]
 *                                         [dsn= reason=] for class=error
 * The decision (address classes, relayhost, transport_maps) is resolve.c;
 * this file is the service around it. Virtual domains come later.
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
#include "resolve.h"
#include "rewrite.h"
#include "server.h"

#define REWRITE_PROTOCOL	"trivial_rewrite"
#define REWRITE_MAX_FRAME	8192
#define REWRITE_IDLE_MS		(3600 * 1000)

/* resolve - the resolve reply for addr (resolve.h) */
static void resolve(const char *addr, struct attr_list *out)
{
	struct resolved r;
	char *flags;

	resolve_addr(addr, &r);
	flags = resolve_flags_text(r.flags);
	attr_add_str(out, "class", r.klass);
	attr_add_str(out, "transport", r.transport);
	attr_add_str(out, "nexthop", r.nexthop);
	attr_add_str(out, "recipient", r.recipient);
	attr_add_str(out, "flags", flags);
	if (strcmp(r.klass, "error") == 0) {
		attr_add_str(out, "dsn", r.dsn);
		attr_add_str(out, "reason", r.reason);
	}
	free(flags);
	resolved_free(&r);
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
