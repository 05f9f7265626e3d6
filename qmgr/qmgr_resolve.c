/* qmgr_resolve - where each recipient goes, from trivial-rewrite.
 *
 * One persistent connection to private/rewrite, reopened when it breaks;
 * answers are cached by address. The cache is dropped when it grows past
 * RESOLVE_CACHE_MAX, when it is RESOLVE_CACHE_TTL seconds old (so an
 * edited transport_maps, which trivial-rewrite notices within a second,
 * applies to new deliveries within that time) and when qmgr is told to
 * forget (a flush).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attr.h"
#include "htable.h"
#include "ipc.h"
#include "mem.h"
#include "msg.h"
#include "qmgr.h"

#define REWRITE_SERVICE		"private/rewrite"
#define REWRITE_TIMEOUT_MS	10000
#define RESOLVE_CACHE_MAX	10000
#define RESOLVE_CACHE_TTL	10

static int rewrite_fd = -1;
static struct htable cache = HTABLE_INIT;
static time_t cache_born;

static int rewrite_connect(void)
{
	char *err = NULL;

	if (rewrite_fd >= 0)
		return 0;
	if ((rewrite_fd = ipc_connect_unix(REWRITE_SERVICE, REWRITE_TIMEOUT_MS)) < 0) {
		msg_warn("connect to %s: %m", REWRITE_SERVICE);
		return -1;
	}
	if (ipc_expect_greeting(rewrite_fd, "trivial_rewrite", 1, REWRITE_TIMEOUT_MS, &err) < 0) {
		msg_warn("%s: %s", REWRITE_SERVICE, err);
		free(err);
		close(rewrite_fd);
		rewrite_fd = -1;
		return -1;
	}
	return 0;
}

static char *get(const struct attr_list *l, const char *name)
{
	const char *v = "";

	attr_get_str(l, name, &v);
	return xstrdup(v);
}

static void copy_resolved(const struct qmgr_resolved *from, struct qmgr_resolved *to)
{
	to->transport = xstrdup(from->transport);
	to->nexthop = xstrdup(from->nexthop);
	to->klass = xstrdup(from->klass);
	to->dsn = xstrdup(from->dsn);
	to->reason = xstrdup(from->reason);
}

static void cache_free_value(void *v)
{
	qmgr_resolved_free(v);
	free(v);
}

/* ask - one request over the connection; -1 when it broke */
static int ask(const char *addr, struct qmgr_resolved *out)
{
	struct attr_list l = ATTR_LIST_INIT;
	int ret = -1;

	attr_add_str(&l, "request", "resolve");
	attr_add_str(&l, "address", addr);
	if (attr_write(rewrite_fd, &l, REWRITE_TIMEOUT_MS) == 0
	    && attr_read(rewrite_fd, &l, ATTR_FRAME_MAX, REWRITE_TIMEOUT_MS) == 0) {
		out->transport = get(&l, "transport");
		out->nexthop = get(&l, "nexthop");
		out->klass = get(&l, "class");
		out->dsn = get(&l, "dsn");
		out->reason = get(&l, "reason");
		ret = 0;
	}
	attr_list_clear(&l);
	return ret;
}

int qmgr_resolve(const char *addr, struct qmgr_resolved *out)
{
	struct qmgr_resolved *hit, *copy;

	if (time(NULL) - cache_born >= RESOLVE_CACHE_TTL) {
		htable_free(&cache, cache_free_value);
		cache_born = time(NULL);
	}
	if ((hit = htable_find(&cache, addr)) != NULL) {
		copy_resolved(hit, out);
		return 0;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		if (rewrite_connect() < 0)
			return -1;
		if (ask(addr, out) == 0)
			break;
		close(rewrite_fd);	/* the service went away (max_use): reconnect once */
		rewrite_fd = -1;
		if (attempt == 1)
			return -1;
	}
	if (cache.used >= RESOLVE_CACHE_MAX)
		htable_free(&cache, cache_free_value);
	copy = xcalloc(1, sizeof(*copy));
	copy_resolved(out, copy);
	htable_enter(&cache, addr, copy);
	return 0;
}

void qmgr_resolve_forget(void)
{
	htable_free(&cache, cache_free_value);
}

void qmgr_resolved_free(struct qmgr_resolved *r)
{
	free(r->transport);
	free(r->nexthop);
	free(r->klass);
	free(r->dsn);
	free(r->reason);
	memset(r, 0, sizeof(*r));
}
