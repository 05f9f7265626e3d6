/* test_trivial_rewrite - unit tests for trivial-rewrite/resolve.c: every
 * address class (local, relay, default, error), each relayhost form,
 * address literals (ours by inet_interfaces, proxy_interfaces or the
 * interfaces themselves, and remote), every transport_maps result form,
 * the lookup order (user@domain, domain, .parent, *), error: and retry:,
 * tables that cannot be read (4.3.0, never a guess), and a table that is
 * reopened when its file changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "config.h"
#include "mem.h"
#include "../../trivial-rewrite/resolve.h"
#include "testutil.h"

static const char base_conf[] =
	"myhostname = mx.example\n"
	"mydestination = mx.example, localhost\n"
	"relay_domains = relay.example, .sub.relay.example\n"
	"inet_interfaces = 127.0.0.1\n";

static char *scratch;

/* conf - base_conf plus extra lines (later settings win) */
static void conf(const char *extra)
{
	char *text = xasprintf("%s%s", base_conf, extra);

	assert_int_equal(conf_load_string(text, "main.cf", NULL), 0);
	free(text);
}

/* table - writes a texthash source file NAME in the scratch directory;
 * returns "texthash:PATH" (malloc'ed) */
static char *table(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", scratch, name), *tmp = xasprintf("%s.tmp", path);
	char *spec = xasprintf("texthash:%s", path);
	FILE *f = fopen(tmp, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);	/* a new inode, as editors and postern map do */
	free(path);
	free(tmp);
	return spec;
}

/* conf_maps - base_conf, extra, and transport_maps = spec */
static void conf_maps(const char *spec, const char *extra)
{
	char *text = xasprintf("%stransport_maps = %s\n", extra, spec);

	conf(text);
	free(text);
}

/* route_is - addr resolves to this class, transport, nexthop, flags */
static void route_is(const char *addr, const char *klass, const char *transport,
		     const char *nexthop, const char *flags)
{
	struct resolved r;
	char *f;

	resolve_addr(addr, &r);
	f = resolve_flags_text(r.flags);
	if (strcmp(r.klass, klass) || strcmp(r.transport, transport) || strcmp(r.nexthop, nexthop)
	    || strcmp(f, flags))
		fail_msg("%s: got class=%s transport=%s nexthop=%s flags=\"%s\" (%s %s); "
			 "want class=%s transport=%s nexthop=%s flags=\"%s\"", addr, r.klass,
			 r.transport, r.nexthop, f, r.dsn, r.reason, klass, transport, nexthop, flags);
	assert_string_equal(r.dsn, "");
	free(f);
	resolved_free(&r);
}

/* error_is - addr resolves to class error with this status and reason */
static void error_is(const char *addr, const char *dsn, const char *reason)
{
	struct resolved r;

	resolve_addr(addr, &r);
	if (strcmp(r.klass, "error") || strcmp(r.dsn, dsn) || strcmp(r.reason, reason))
		fail_msg("%s: got class=%s transport=%s nexthop=%s dsn=%s reason=\"%s\"; "
			 "want error %s \"%s\"", addr, r.klass, r.transport, r.nexthop, r.dsn,
			 r.reason, dsn, reason);
	assert_string_equal(r.transport, "error");
	resolved_free(&r);
}

static void recipient_is(const char *addr, const char *want)
{
	struct resolved r;

	resolve_addr(addr, &r);
	assert_string_equal(r.recipient, want);
	resolved_free(&r);
}

/* ---- classes ------------------------------------------------------------ */

static void test_class_local(void **state)
{
	(void)state;
	conf("");
	route_is("user@mx.example", "local", "local", "mx.example", "");
	route_is("user@LOCALHOST.", "local", "local", "mx.example", "");
	route_is("user", "local", "local", "mx.example", "");	/* @$myorigin */
	recipient_is("User@LocalHost.", "User@localhost");
	conf("local_transport = mylocal:elsewhere.example\nrelayhost = [gw.example]\n");
	route_is("user@mx.example", "local", "mylocal", "elsewhere.example", "");
	conf("local_transport = mylocal\nrelayhost = [gw.example]\n");
	route_is("user@mx.example", "local", "mylocal", "mx.example", "");	/* never relayhost */
}

static void test_class_relay(void **state)
{
	(void)state;
	conf("");
	route_is("user@relay.example", "relay", "relay", "relay.example", "");
	route_is("user@RELAY.example", "relay", "relay", "relay.example", "");
	route_is("user@a.sub.relay.example", "relay", "relay", "a.sub.relay.example", "");
	/* ".sub.relay.example" is its subdomains only, as in smtpd */
	route_is("user@sub.relay.example", "default", "smtp", "sub.relay.example", "");
	route_is("user@evil-relay.example", "default", "smtp", "evil-relay.example", "");
	route_is("user@relay.example.evil", "default", "smtp", "relay.example.evil", "");
	conf("relay_transport = inward:[inner.example]\n");
	route_is("user@relay.example", "relay", "inward", "[inner.example]", "");
	conf("relay_domains = inline:{relay.example=yes}\n");
	route_is("user@relay.example", "relay", "relay", "relay.example", "");
	route_is("user@other.example", "default", "smtp", "other.example", "");
}

static void test_class_default(void **state)
{
	(void)state;
	conf("");
	route_is("user@remote.example", "default", "smtp", "remote.example", "");
	conf("default_transport = outward\n");
	route_is("user@remote.example", "default", "outward", "remote.example", "");
	/* a nexthop in the transport spec beats relayhost */
	conf("default_transport = smtp:[gw.example]:587\nrelayhost = other.example\n");
	route_is("user@remote.example", "default", "smtp", "[gw.example]:587", "");
}

static void test_relayhost_forms(void **state)
{
	static const char *forms[] = {
		"host.example", "[host.example]", "[host.example]:587", "host.example:2525",
		"[192.0.2.1]", "[192.0.2.1]:25",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		char *line = xasprintf("relayhost = %s\n", forms[i]);

		conf(line);
		route_is("user@remote.example", "default", "smtp", forms[i], "routed");
		route_is("user@relay.example", "relay", "relay", forms[i], "routed");
		route_is("user@mx.example", "local", "local", "mx.example", "");
		free(line);
	}
}

static void test_error_syntax(void **state)
{
	static const char *bad[] = {
		"", "@remote.example", "user@", "user@[1.2.3]", "user@[1.2.3.4", "user@[]",
		"user@[ipv6:1.2.3.4]", "user@[2001:db8::1]", "user@[ipv6:2001:db8::g]",
		"user@[300.1.1.1]",
	};

	(void)state;
	conf("");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		error_is(bad[i], "5.1.3", "bad address syntax");
}

static void test_error_tables(void **state)
{
	(void)state;
	conf("mydestination = mx.example, texthash:/nonexistent/postern-test\n");
	error_is("user@remote.example", "4.3.0", "mydestination lookup failure");
	conf("relay_domains = texthash:/nonexistent/postern-test\n");
	error_is("user@remote.example", "4.3.0", "relay_domains lookup failure");
	route_is("user@mx.example", "local", "local", "mx.example", "");
}

/* ---- address literals --------------------------------------------------- */

static void test_literal_local(void **state)
{
	(void)state;
	conf("proxy_interfaces = 192.0.2.7, [2001:db8::7]\n");
	route_is("user@[127.0.0.1]", "local", "local", "mx.example", "literal");
	route_is("user@[192.0.2.7]", "local", "local", "mx.example", "literal");
	route_is("user@[IPv6:2001:DB8:0::7]", "local", "local", "mx.example", "literal");
	route_is("user@[IPv6:::1]", "default", "smtp", "[::1]", "literal");
	conf("inet_interfaces = loopback-only\n");
	route_is("user@[IPv6:::1]", "local", "local", "mx.example", "literal");
	route_is("user@[127.0.0.1]", "local", "local", "mx.example", "literal");
	conf("inet_interfaces = [::1]\n");
	route_is("user@[IPv6:::1]", "local", "local", "mx.example", "literal");
	route_is("user@[127.0.0.1]", "default", "smtp", "[127.0.0.1]", "literal");
}

/* first_interface_address - an IPv4 address of this host, or 0 */
static int first_interface_address(char *buf, size_t len)
{
	struct ifaddrs *list, *i;
	int found = 0;

	if (getifaddrs(&list) < 0)
		return 0;
	for (i = list; i && !found; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET)
			found = inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr,
					  buf, (socklen_t)len) != NULL;
	freeifaddrs(list);
	return found;
}

static void test_literal_all(void **state)
{
	char ip[INET_ADDRSTRLEN], *addr;

	(void)state;
	if (!first_interface_address(ip, sizeof(ip)))
		skip();
	addr = xasprintf("user@[%s]", ip);
	conf("inet_interfaces = all\n");
	route_is(addr, "local", "local", "mx.example", "literal");
	route_is("user@[192.0.2.200]", "default", "smtp", "[192.0.2.200]", "literal");
	free(addr);
}

static void test_literal_remote(void **state)
{
	(void)state;
	conf("");
	route_is("user@[192.0.2.8]", "default", "smtp", "[192.0.2.8]", "literal");
	route_is("user@[IPv6:2001:DB8::1]", "default", "smtp", "[2001:db8::1]", "literal");
	/* relayhost overrides an address literal too, as in Postfix */
	conf("relayhost = [gw.example]:587\n");
	route_is("user@[192.0.2.8]", "default", "smtp", "[gw.example]:587", "routed literal");
	/* never a relay domain, even when listed */
	conf("relay_domains = [192.0.2.8]\n");
	route_is("user@[192.0.2.8]", "default", "smtp", "[192.0.2.8]", "literal");
}

/* ---- transport_maps ----------------------------------------------------- */

static const char forms_table[] =
	"both.example      lmtp:[10.0.0.1]:24\n"
	"tonly.example     special:\n"
	"honly.example     :[hop.example]\n"
	"bare.example      bare\n"
	"nochange.example  :\n"
	"err.example       error:no mail here\n"
	"err2.example      error:5.1.2 bad destination\n"
	"err3.example      error:4.1.2 made permanent\n"
	"err4.example      error:\n"
	"retry.example     retry:try later\n"
	"retry2.example    retry:4.4.1 link down\n"
	"retry3.example    retry:5.4.1 made temporary\n"
	"relay.example     :[inner.example]:2525\n"
	"mx.example        local2:\n"
	"[192.0.2.9]       smtp:[192.0.2.10]\n";

static void test_maps_forms(void **state)
{
	char *spec = table("forms", forms_table);

	(void)state;
	conf_maps(spec, "");
	route_is("u@both.example", "default", "lmtp", "[10.0.0.1]:24", "routed");
	route_is("u@tonly.example", "default", "special", "tonly.example", "");
	route_is("u@honly.example", "default", "smtp", "[hop.example]", "routed");
	route_is("u@bare.example", "default", "bare", "bare.example", "");
	route_is("u@nochange.example", "default", "smtp", "nochange.example", "");
	error_is("u@err.example", "5.0.0", "no mail here");
	error_is("u@err2.example", "5.1.2", "bad destination");
	error_is("u@err3.example", "5.1.2", "made permanent");
	error_is("u@err4.example", "5.0.0", "mail for this address is not deliverable");
	error_is("u@retry.example", "4.0.0", "try later");
	error_is("u@retry2.example", "4.4.1", "link down");
	error_is("u@retry3.example", "4.4.1", "made temporary");
	/* every class: relay and local too */
	route_is("u@relay.example", "relay", "relay", "[inner.example]:2525", "routed");
	route_is("u@mx.example", "local", "local2", "mx.example", "");
	/* literals are looked up as written, and not walked up as .parents */
	route_is("u@[192.0.2.9]", "default", "smtp", "[192.0.2.10]", "routed literal");
	route_is("u@[192.0.2.11]", "default", "smtp", "[192.0.2.11]", "literal");
	/* no entry: the class decides */
	route_is("u@other.example", "default", "smtp", "other.example", "");
	/* "transport:" keeps the nexthop relayhost gave */
	conf_maps(spec, "relayhost = [gw.example]\n");
	route_is("u@tonly.example", "default", "special", "[gw.example]", "routed");
	free(spec);
}

static const char order_table[] =
	"user@order.example   t-full:full.hop\n"
	"order.example        t-domain:domain.hop\n"
	".order.example       t-parent:parent.hop\n"
	".only.example        t-only:only.hop\n"
	".example             t-top:top.hop\n"
	"*                    t-star:star.hop\n";

static void test_maps_order(void **state)
{
	char *spec = table("order", order_table);

	(void)state;
	conf_maps(spec, "");
	route_is("user@order.example", "default", "t-full", "full.hop", "routed");
	route_is("User@ORDER.example", "default", "t-full", "full.hop", "routed");
	route_is("other@order.example", "default", "t-domain", "domain.hop", "routed");
	route_is("user@a.order.example", "default", "t-parent", "parent.hop", "routed");
	route_is("user@a.b.order.example", "default", "t-parent", "parent.hop", "routed");
	/* ".only.example" is not "only.example" itself */
	route_is("user@only.example", "default", "t-top", "top.hop", "routed");
	route_is("user@x.only.example", "default", "t-only", "only.hop", "routed");
	route_is("user@zzz.example", "default", "t-top", "top.hop", "routed");
	route_is("user@nothing.test", "default", "t-star", "star.hop", "routed");
	route_is("user@mx.example", "local", "t-top", "top.hop", "routed");
	free(spec);
	/* the first table with the key wins */
	conf_maps("inline:{a.example=first:one}, inline:{a.example=second:two, b.example=second:two}", "");
	route_is("u@a.example", "default", "first", "one", "routed");
	route_is("u@b.example", "default", "second", "two", "routed");
}

static void test_maps_failure(void **state)
{
	(void)state;
	conf_maps("texthash:/nonexistent/postern-transport", "");
	error_is("user@remote.example", "4.3.0", "transport_maps lookup failure");
	error_is("user@mx.example", "4.3.0", "transport_maps lookup failure");
	/* a hit in an earlier table stands; a search that reaches the
	 * unreadable table does not guess, even when a later key (the
	 * domain) would have been found in a readable table */
	conf_maps("inline:{u@a.example=x:y, a.example=z:w}, texthash:/nonexistent/postern-transport", "");
	route_is("u@a.example", "default", "x", "y", "routed");
	error_is("v@a.example", "4.3.0", "transport_maps lookup failure");
	conf_maps("hash:/nonexistent/postern-transport", "");
	error_is("user@remote.example", "4.3.0", "transport_maps lookup failure");
	/* a syntax error still wins: it is permanent */
	error_is("user@", "5.1.3", "bad address syntax");
}

static void test_maps_reopen(void **state)
{
	char *spec = table("reopen", "a.example  one:hop1\n"), *path;

	(void)state;
	conf_maps(spec, "");
	route_is("u@a.example", "default", "one", "hop1", "routed");
	free(table("reopen", "a.example  two:hop2\n"));
	sleep(1);	/* changes are looked for at most once a second */
	route_is("u@a.example", "default", "two", "hop2", "routed");
	/* a table that goes away: defer; when it is back, use it */
	path = xasprintf("%s/reopen", scratch);
	assert_int_equal(unlink(path), 0);
	sleep(1);
	error_is("u@a.example", "4.3.0", "transport_maps lookup failure");
	free(table("reopen", "a.example  three:hop3\n"));
	sleep(1);
	route_is("u@a.example", "default", "three", "hop3", "routed");
	free(path);
	free(spec);
}

static void test_error_transport(void **state)
{
	(void)state;
	conf("default_transport = error:5.7.1 no outbound mail\n");
	error_is("user@remote.example", "5.7.1", "no outbound mail");
	route_is("user@mx.example", "local", "local", "mx.example", "");
	conf("relay_transport = retry:inner host down\n");
	error_is("user@relay.example", "4.0.0", "inner host down");
}

static void test_flags_text(void **state)
{
	char *t;

	(void)state;
	t = resolve_flags_text(0);
	assert_string_equal(t, "");
	free(t);
	t = resolve_flags_text(RESOLVE_FLAG_ROUTED | RESOLVE_FLAG_LITERAL);
	assert_string_equal(t, "routed literal");
	free(t);
}

static int group_setup(void **state)
{
	(void)state;
	scratch = tu_scratch_dir("test_trivial_rewrite");
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	tu_remove_tree(scratch);
	free(scratch);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_class_local),
		cmocka_unit_test(test_class_relay),
		cmocka_unit_test(test_class_default),
		cmocka_unit_test(test_relayhost_forms),
		cmocka_unit_test(test_error_syntax),
		cmocka_unit_test(test_error_tables),
		cmocka_unit_test(test_literal_local),
		cmocka_unit_test(test_literal_all),
		cmocka_unit_test(test_literal_remote),
		cmocka_unit_test(test_maps_forms),
		cmocka_unit_test(test_maps_order),
		cmocka_unit_test(test_maps_failure),
		cmocka_unit_test(test_maps_reopen),
		cmocka_unit_test(test_error_transport),
		cmocka_unit_test(test_flags_text),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
