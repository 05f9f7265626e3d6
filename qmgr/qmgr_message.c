/* qmgr_message - the end of a delivery pass for one message.
 *
 * When every delivery request of a message has been answered:
 *  - some recipient deferred: past its lifetime the message expires (each
 *    remaining recipient gets a bounce entry and is marked done, then as
 *    below); otherwise the recipients that failed in this pass are
 *    reported to the sender now, and the file goes to deferred/X/ with its mtime set to
 *    the next attempt: the message's age clamped to [minimal_backoff_time,
 *    maximal_backoff_time], with +-10% jitter so a backlog does not come
 *    back all at once;
 *  - nothing left: bounce(8) turns bounce/ID entries into a DSN (queued
 *    before anything is removed), then the file and its logs go
 *    (docs/QUEUE.md rows 7, 8, 10).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "attr.h"
#include "config.h"
#include "dsnlog.h"
#include "ipc.h"
#include "mem.h"
#include "msg.h"
#include "qmgr.h"
#include "qmgr_proto.h"
#include "rec.h"

#define BOUNCE_TIMEOUT_MS	60000

static int bounce_request(const char *what, const char *id);

void qmgr_times(const struct qmgr_msg *m, struct delivery_times *t)
{
	t->arrival = (double)m->env.arrival + (double)m->env.arrival_usec / 1e6;
	t->active = m->active_time;
	t->dispatch = delivery_now();
	t->connected = 0;
}

void qmgr_message_free(struct qmgr_msg *m)
{
	int was_full = qmgr_active_count >= conf_int("qmgr_message_active_limit");

	qenvelope_free(&m->env);
	free(m);
	qmgr_active_count--;
	if (was_full)
		qmgr_scan_soon();	/* what waited for room can come in now */
}

void qmgr_defer_rcpt(struct qmgr_msg *m, size_t i, const char *dsn, const char *reason,
		     const char *relay)
{
	struct qrcpt *r = &m->env.rcpt[i];
	struct dsn_entry e = {r->address, r->orig, (char *)dsn, "delayed", r->notify, "", "",
			      (char *)reason};
	struct delivery_times t;

	if (dsnlog_append("defer", m->id, &e) < 0)
		msg_warn("%s: cannot append to defer log: %m", m->id);
	qmgr_times(m, &t);
	delivery_log(m->id, r->address, r->orig, relay, &t, dsn, "deferred", reason);
	m->deferred = 1;
}

/* mark_done - R -> D in the queue file */
static void mark_done(struct qmgr_msg *m, size_t i)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "active/%s", m->id);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) < 0
	    || rec_mark(fd, m->env.rcpt[i].offset, REC_DONE) < 0)
		msg_warn("%s: cannot mark recipient done: %m", m->id);
	if (fd >= 0)
		close(fd);
	m->env.rcpt[i].done = 1;
}

int qmgr_bounce_rcpt(struct qmgr_msg *m, size_t i, const char *dsn, const char *reason)
{
	struct qrcpt *r = &m->env.rcpt[i];
	struct dsn_entry e = {r->address, r->orig, (char *)dsn, "failed", r->notify, "", "",
			      (char *)reason};
	struct delivery_times t;

	if (dsnlog_append("bounce", m->id, &e) < 0) {
		qmgr_defer_rcpt(m, i, "4.3.0", "cannot append to bounce log", "none");
		return -1;
	}
	mark_done(m, i);
	qmgr_times(m, &t);
	delivery_log(m->id, r->address, r->orig, "none", &t, dsn, "bounced", reason);
	return 0;
}

/* expire - every pending recipient is returned with its last defer
 * reason; -1 when one of them could not be (the file must stay) */
static int expire(struct qmgr_msg *m)
{
	int failed = 0;

	for (size_t i = 0; i < m->env.nrcpt; i++) {
		struct qrcpt *r = &m->env.rcpt[i];
		char *why;

		if (r->done)
			continue;
		why = dsnlog_last_reason("defer", m->id, r->address);
		failed |= qmgr_bounce_rcpt(m, i, "4.4.7", why ? why : "message expired") < 0;
		free(why);
	}
	if (failed)
		return -1;
	msg_info("%s: from=<%s>, status=expired, returned to sender", m->id, m->env.sender);
	return 0;
}

static int expired(const struct qmgr_msg *m)
{
	long long lifetime = conf_time(*m->env.sender ? "maximal_queue_lifetime" : "bounce_queue_lifetime");

	return time(NULL) - m->env.arrival >= lifetime;
}

/* next_attempt - now + the age clamped to the backoff range, with jitter */
static time_t next_attempt(const struct qmgr_msg *m, int short_retry)
{
	long long min = conf_time("minimal_backoff_time"), max = conf_time("maximal_backoff_time");
	long long age = time(NULL) - m->env.arrival, delay;

	delay = short_retry ? min : age < min ? min : age > max ? max : age;
	delay += (long long)((double)delay * 0.1 * ((double)random() / RAND_MAX * 2 - 1));
	return time(NULL) + (delay > 0 ? delay : 1);
}

static void to_deferred(struct qmgr_msg *m, int short_retry)
{
	char from[256], dir[64], to[256];
	time_t when = next_attempt(m, short_retry);
	struct timeval tv[2] = {{when, 0}, {when, 0}};

	snprintf(from, sizeof(from), "active/%s", m->id);
	snprintf(dir, sizeof(dir), "deferred/%c", qid_hash_char(m->id));
	snprintf(to, sizeof(to), "%s/%s", dir, m->id);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		msg_warn("mkdir %s: %m", dir);
	if (utimes(from, tv) < 0 || rename(from, to) < 0)
		msg_warn("%s: cannot move to %s: %m", m->id, dir);
}

/* bounce_request - asks bounce(8) for a notice; 0 done or not needed */
static int bounce_request(const char *what, const char *id)
{
	struct attr_list l = ATTR_LIST_INIT;
	long long status = 4;
	char *err = NULL;
	int fd;

	if ((fd = ipc_connect_unix(BOUNCE_SERVICE, 10000)) < 0) {
		msg_warn("%s: connect to %s: %m", id, BOUNCE_SERVICE);
		return -1;
	}
	if (ipc_expect_greeting(fd, BOUNCE_PROTOCOL, 1, 10000, &err) == 0) {
		attr_add_str(&l, "request", what);
		attr_add_str(&l, "queue_id", id);
		if (attr_write(fd, &l, BOUNCE_TIMEOUT_MS) == 0
		    && attr_read(fd, &l, ATTR_FRAME_MAX, BOUNCE_TIMEOUT_MS) == 0)
			attr_get_int(&l, "status", &status);
	} else {
		msg_warn("%s: %s", id, err);
		free(err);
	}
	attr_list_clear(&l);
	close(fd);
	return status == 0 ? 0 : -1;
}

static int log_exists(const char *dir, const char *id)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, id);
	return access(path, F_OK) == 0;
}

/* gone - the active file is not there any more */
static int gone(const struct qmgr_msg *m)
{
	char path[256];

	snprintf(path, sizeof(path), "active/%s", m->id);
	return access(path, F_OK) < 0 && errno == ENOENT;
}

/* finish - nothing is pending: notices first, then remove everything */
static void finish(struct qmgr_msg *m)
{
	char path[256];

	if (log_exists("bounce", m->id) && bounce_request("notify", m->id) < 0) {
		msg_warn("%s: cannot send the non-delivery notice now: will try again", m->id);
		to_deferred(m, 1);
		return;
	}
	if (log_exists("trace", m->id) && bounce_request("success", m->id) < 0)
		msg_warn("%s: delivery status notification not sent", m->id);
	dsnlog_remove("bounce", m->id);
	dsnlog_remove("defer", m->id);
	dsnlog_remove("trace", m->id);
	snprintf(path, sizeof(path), "active/%s", m->id);
	if (unlink(path) < 0 && errno != ENOENT)
		msg_warn("%s: remove: %m", m->id);
	else
		msg_info("%s: removed", m->id);
}

/* delay_warning - once, when the message has waited delay_warning_time */
static void delay_warning(struct qmgr_msg *m)
{
	char path[256], blank[16];
	int fd;

	if (m->env.warn_time <= 0 || time(NULL) < m->env.warn_time || m->env.warn_offset <= 0)
		return;
	if (bounce_request("delay", m->id) < 0)
		return;			/* tried again after the next attempt */
	snprintf(blank, sizeof(blank), "%15lld", 0LL);
	snprintf(path, sizeof(path), "active/%s", m->id);
	/* type byte + one length byte, then the 15-digit payload */
	if ((fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) < 0
	    || pwrite(fd, blank, 15, m->env.warn_offset + 2) != 15)
		msg_warn("%s: cannot clear the delay warning time: %m", m->id);
	if (fd >= 0)
		close(fd);
}

/* notify_bounced_now - the recipients that failed in this pass are
 * reported now, not when the deferred ones are finished (as Postfix
 * does); once the notice is queued their entries go, so the next pass
 * does not report them again. A failed request leaves them for the next
 * pass; a crash between the two steps may report them twice, never not. */
static void notify_bounced_now(struct qmgr_msg *m)
{
	if (log_exists("bounce", m->id) && bounce_request("notify", m->id) == 0)
		dsnlog_remove("bounce", m->id);
}

void qmgr_message_done(struct qmgr_msg *m)
{
	if (gone(m)) {
		/* held or deleted by the admin while it was being delivered */
		msg_info("%s: moved out of the active queue by the admin", m->id);
		qmgr_message_free(m);
		return;
	}
	if (m->deferred) {
		int late = expired(m);

		if (!late || expire(m) < 0) {
			if (!late)
				delay_warning(m);
			notify_bounced_now(m);
			to_deferred(m, late);
			qmgr_message_free(m);
			return;
		}
	}
	finish(m);
	qmgr_message_free(m);
}
