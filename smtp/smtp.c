/* smtp - delivers mail over SMTP to other hosts, or over LMTP (when the
 * master.cf service is named "lmtp") to a mailbox server.
 *
 * One qmgr connection at a time (SERVER_SINGLE); each connection may carry
 * several requests for the same transport and nexthop, and the SMTP
 * session of one request is kept open for the next while qmgr's
 * connection lasts (smtp_connection_reuse_time_limit), then QUIT. For a
 * new session the servers of the nexthop are tried in order (smtp_addr.c)
 * until one completes the handshake; when none does, every recipient is
 * deferred with the last error and the reply says hop_status=failed.
 * Recipients are recorded through lib/delivery_agent in docs/QUEUE.md's
 * order before the reply.
 *
 * master.cf: smtp unix - - n - - smtp
 *            lmtp unix - - n - - smtp
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "delivery_agent.h"
#include "events.h"
#include "mem.h"
#include "msg.h"
#include "server.h"
#include "smtp.h"

/* The session kept open between requests of one qmgr connection. */
static struct smtp_session cached = {.fd = -1};

static int lmtp_mode(void)
{
	return strcmp(server_name(), "lmtp") == 0;
}

static void cache_drop(int quit_timeout)
{
	if (cached.fd >= 0)
		smtp_session_close(&cached, quit_timeout);
	free(cached.nexthop);
	cached.nexthop = NULL;
}

/* try_cached - the kept session, when it serves this nexthop and is young */
static int try_cached(struct da_request *req, const struct smtp_timeouts *t)
{
	long long limit = conf_time(lmtp_mode() ? "lmtp_connection_reuse_time_limit"
				    : "smtp_connection_reuse_time_limit");
	struct smtp_fail f;

	if (cached.fd < 0 || strcmp(cached.nexthop, req->nexthop) != 0
	    || ev_now_ms() - cached.born_ms > limit * 1000) {
		cache_drop(t->quit);
		return 0;
	}
	req->times.connected = delivery_now();
	if (smtp_deliver(&cached, req, t, &f) == SMTP_TRY_DONE) {
		if (cached.fd < 0)
			cache_drop(0);
		return 1;
	}
	cache_drop(0);		/* broke before anything was decided: start afresh */
	return 0;
}

/* keep - the session of this request stays for the next one */
static void keep(struct smtp_session *s, const char *nexthop)
{
	if (s->fd < 0)
		return;
	cached = *s;
	cached.nexthop = xstrdup(nexthop);
}

/* try_servers - sessions with each server in turn until one decides */
static void try_servers(struct da_request *req, const struct smtp_servers *sv, int lmtp,
			const struct smtp_timeouts *t)
{
	long long session_limit = conf_int("smtp_mx_session_limit");
	struct smtp_session s;
	struct smtp_tls_policy tlsp;
	struct smtp_fail f;
	char relay[sizeof(s.relay)] = "none";
	int sessions = 0;

	smtp_fail_set(&f, 4, "4.4.1", "no server to try");
	memset(&s, 0, sizeof(s));
	if (smtp_tls_policy_find(req->nexthop, lmtp, &tlsp, &f) < 0) {
		smtp_fail_all(req, &f, relay, "", 0);
		return;
	}
	for (size_t i = 0; i < sv->n && (session_limit <= 0 || sessions < session_limit); i++) {
		memset(&s, 0, sizeof(s));
		s.nexthop = xstrdup(req->nexthop);	/* for smtp_sasl_password_maps */
		s.tlsp = tlsp;
		smtp_relay_name(&sv->v[i], relay, sizeof(relay));
		if (smtp_session_open(&s, &sv->v[i], lmtp, t, &f) != SMTP_TRY_DONE) {
			free(s.nexthop);
			if (f.status == 5)
				break;	/* a definite no (5xx, a loop): other servers are not asked */
			continue;
		}
		sessions++;
		req->times.connected = delivery_now();
		if (smtp_deliver(&s, req, t, &f) == SMTP_TRY_DONE) {
			keep(&s, req->nexthop);
			free(s.nexthop);
			return;
		}
		smtp_session_close(&s, 0);
		free(s.nexthop);
	}
	req->hop_failed = f.status == 4 && !f.hop_ok;
	smtp_fail_all(req, &f, relay, "", 0);
}

/* is_relayhost - nexthop is $relayhost (as trivial-rewrite passes it) */
static int is_relayhost(const char *nexthop)
{
	const char *relayhost = conf_str("relayhost");

	return *relayhost && strcmp(nexthop, relayhost) == 0;
}

static void deliver(struct da_request *req, void *ctx)
{
	int lmtp = lmtp_mode();
	struct smtp_timeouts t;
	struct smtp_nexthop nh;
	struct smtp_servers sv;
	struct smtp_fail f;
	const char *err;

	(void)ctx;
	smtp_timeouts_load(&t, lmtp);
	if (try_cached(req, &t))
		return;
	if (smtp_nexthop_parse(req->nexthop, lmtp, &nh, &err) < 0) {
		smtp_fail_set(&f, 4, "4.3.5", "bad nexthop \"%s\": %s", req->nexthop, err);
		smtp_fail_all(req, &f, "none", "", 0);
		return;
	}
	if (smtp_servers_find(&nh, &sv, &f) < 0) {
		/* A relayhost that does not resolve is a configuration or DNS
		 * problem, not the recipients' fault: defer, as Postfix does,
		 * rather than bounce all outgoing mail. */
		if (f.status == 5 && is_relayhost(req->nexthop) && strcmp(f.dsn, "5.1.10") != 0) {
			f.status = 4;
			f.dsn[0] = '4';
		}
		req->hop_failed = f.status == 4;
		smtp_fail_all(req, &f, "none", "", 0);
	} else {
		try_servers(req, &sv, lmtp, &t);
	}
	smtp_servers_free(&sv);
}

static void qmgr_gone(void *ctx)
{
	struct smtp_timeouts t;

	(void)ctx;
	smtp_timeouts_load(&t, lmtp_mode());
	cache_drop(t.quit);
}

static void serve(int fd)
{
	static const struct da_ops ops = {deliver, qmgr_gone};

	da_serve(fd, &ops, NULL);
}

/* pre_jail - TLS contexts (CA and key files) before the chroot */
static void pre_jail(void)
{
	if (!lmtp_mode())
		smtp_tls_init();
}

static const struct server_ops smtp_ops = {
	.mode = SERVER_SINGLE,
	.pre_jail = pre_jail,
	.single = serve,
};

/* main - as the lmtp service the program logs as postern/lmtp, the way
 * Postfix's lmtp (a link to its smtp) does: log parsers key on it. */
int main(int argc, char **argv)
{
	static char lmtp_name[] = "lmtp";

	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "-n") == 0 && strcmp(argv[i + 1], "lmtp") == 0)
			argv[0] = lmtp_name;
	server_main(argc, argv, &smtp_ops);
}
