/* cleanup_client - submitting a message to cleanup(8); see cleanup_client.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attr.h"
#include "cleanup_client.h"
#include "config.h"
#include "ipc.h"
#include "mem.h"
#include "msg.h"

#define CLEANUP_TIMEOUT_MS	(1000 * 3600)	/* ipc_timeout: cleanup may wait on disks */

struct cleanup_client {
	int fd;
	int failed;
	int hold;
	char why[256];
	char queue_id[QID_MAX];
};

static int timeout_ms(void)
{
	long long t = conf_time("ipc_timeout") * 1000;

	return t > 0 && t < CLEANUP_TIMEOUT_MS ? (int)t : CLEANUP_TIMEOUT_MS;
}

struct cleanup_client *cleanup_open(const char *path, char **err)
{
	struct cleanup_client *c;
	int fd;

	if (path == NULL)
		path = CLEANUP_SERVICE;
	if ((fd = ipc_connect_unix(path, 10000)) < 0) {
		*err = xasprintf("connect to cleanup service %s: %s", path, strerror(errno));
		return NULL;
	}
	if (ipc_expect_greeting(fd, CLEANUP_PROTOCOL, CLEANUP_VERSION, 10000, err) < 0) {
		close(fd);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	return c;
}

/* send - writes one frame and clears it; remembers the first failure */
static int send_frame(struct cleanup_client *c, struct attr_list *l)
{
	if (!c->failed && attr_write(c->fd, l, timeout_ms()) < 0) {
		c->failed = 1;
		snprintf(c->why, sizeof(c->why), "lost connection to cleanup: %s", strerror(errno));
	}
	attr_list_clear(l);
	return c->failed ? -1 : 0;
}

static void add_opt(struct attr_list *l, const char *name, const char *value)
{
	if (value && *value)
		attr_add_str(l, name, value);
}

/* read_envelope_reply - the queue ID; a refusal is reported by finish */
static void read_envelope_reply(struct cleanup_client *c)
{
	struct attr_list l = ATTR_LIST_INIT;
	const char *id = "";

	if (attr_read(c->fd, &l, ATTR_FRAME_MAX, timeout_ms()) != 0) {
		c->failed = 1;
		snprintf(c->why, sizeof(c->why), "no reply from cleanup: %s",
			 errno ? strerror(errno) : "connection closed");
	} else if (attr_get_line(&l, "queue_id", &id) == 0 && qid_valid(id)) {
		snprintf(c->queue_id, sizeof(c->queue_id), "%s", id);
	}
	attr_list_clear(&l);
}

int cleanup_envelope(struct cleanup_client *c, const struct cleanup_envelope *env)
{
	struct attr_list l = ATTR_LIST_INIT;

	attr_add_str(&l, "request", "envelope");
	attr_add_str(&l, "sender", env->sender ? env->sender : "");
	attr_add_str(&l, "origin", env->origin ? env->origin : "local");
	attr_add_int(&l, "uid", env->uid);
	attr_add_int(&l, "flags", env->flags);
	if (env->arrival)
		attr_add_int(&l, "time", env->arrival);
	add_opt(&l, "fullname", env->fullname);
	add_opt(&l, "envid", env->envid);
	add_opt(&l, "ret", env->ret);
	add_opt(&l, "body_type", env->body_type);
	add_opt(&l, "smtputf8", env->smtputf8);
	add_opt(&l, "dsn_kind", env->dsn_kind);
	add_opt(&l, "log_ident", env->log_ident);
	if (send_frame(c, &l) < 0)
		return -1;
	read_envelope_reply(c);
	return c->failed ? -1 : 0;
}

const char *cleanup_queue_id(const struct cleanup_client *c)
{
	return c->queue_id;
}

int cleanup_rcpt(struct cleanup_client *c, const char *address, const char *orig,
		 const char *notify)
{
	struct attr_list l = ATTR_LIST_INIT;

	attr_add_str(&l, "request", "rcpt");
	attr_add_str(&l, "address", address);
	add_opt(&l, "orig", orig);
	add_opt(&l, "notify", notify);
	return send_frame(c, &l);
}

int cleanup_data(struct cleanup_client *c, const void *buf, size_t len)
{
	struct attr_list l = ATTR_LIST_INIT;
	const char *p = buf;

	while (len > 0 && !c->failed) {
		size_t n = len < CLEANUP_CHUNK ? len : CLEANUP_CHUNK;

		attr_add_str(&l, "request", "data");
		attr_add_data(&l, "data", p, n);
		send_frame(c, &l);
		p += n;
		len -= n;
	}
	return c->failed ? -1 : 0;
}

void cleanup_hold(struct cleanup_client *c)
{
	c->hold = 1;
}

void cleanup_abort(struct cleanup_client *c)
{
	struct attr_list l = ATTR_LIST_INIT;

	attr_add_str(&l, "request", "abort");
	send_frame(c, &l);
	close(c->fd);
	free(c);
}

static void copy_str(char *dst, size_t size, const struct attr_list *l, const char *name)
{
	const char *v = "";

	attr_get_str(l, name, &v);
	snprintf(dst, size, "%s", v);
}

int cleanup_finish(struct cleanup_client *c, struct cleanup_result *res)
{
	struct attr_list l = ATTR_LIST_INIT;
	long long status = 4;

	memset(res, 0, sizeof(*res));
	attr_add_str(&l, "request", "end");
	if (c->hold)
		attr_add_int(&l, "hold", 1);
	send_frame(c, &l);
	if (!c->failed && attr_read(c->fd, &l, ATTR_FRAME_MAX, timeout_ms()) != 0) {
		c->failed = 1;
		snprintf(c->why, sizeof(c->why), "no reply from cleanup: %s",
			 errno ? strerror(errno) : "connection closed");
	}
	if (c->failed) {
		res->status = 4;
		snprintf(res->dsn, sizeof(res->dsn), "4.3.0");
		snprintf(res->reason, sizeof(res->reason), "%s", c->why);
	} else {
		attr_get_int(&l, "status", &status);
		res->status = (int)status;
		copy_str(res->dsn, sizeof(res->dsn), &l, "dsn");
		copy_str(res->reason, sizeof(res->reason), &l, "reason");
		copy_str(res->queue_id, sizeof(res->queue_id), &l, "queue_id");
	}
	attr_list_clear(&l);
	close(c->fd);
	free(c);
	return res->status;
}
