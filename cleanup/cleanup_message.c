/* cleanup_message - one message: envelope, recipients, content, commit.
 *
 * The queue file is created in incoming/ (hold/ with the HOLD flag) when
 * the envelope arrives, so its queue ID can go into the Received: header;
 * the envelope records are written when the first content arrives (all
 * recipients have come by then); the commit (docs/QUEUE.md) happens in
 * cleanup_finish, and only a committed file survives: on any failure the
 * file is unlinked and the client is told why.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "cleanup_client.h"
#include "config.h"
#include "ipc.h"
#include "mem.h"
#include "msg.h"
#include "qmgr_proto.h"
#include "rewrite.h"

#define SIZE_RECORD_FORMAT	"%15lld %15lld %15lld"
#define WARN_RECORD_FORMAT	"%15lld"

void cleanup_state_init(struct cleanup_state *st)
{
	memset(st, 0, sizeof(*st));
	st->fd = -1;
	st->uid = -1;
	vstr_init(&st->header);
}

void cleanup_state_free(struct cleanup_state *st)
{
	free(st->sender);
	free(st->origin);
	free(st->fullname);
	free(st->message_id);
	argv_free(&st->attrs);
	argv_free(&st->rcpt);
	argv_free(&st->orig);
	argv_free(&st->notify);
	vstr_release(&st->header);
	if (st->fd >= 0)
		close(st->fd);
	rec_writer_free(&st->w);
	memset(st, 0, sizeof(*st));
	st->fd = -1;
}

void cleanup_fail(struct cleanup_state *st, int status, const char *dsn, const char *fmt, ...)
{
	va_list ap;

	if (st->status)
		return;			/* the first failure is the one reported */
	st->status = status;
	snprintf(st->dsn, sizeof(st->dsn), "%s", dsn);
	va_start(ap, fmt);
	vsnprintf(st->reason, sizeof(st->reason), fmt, ap);
	va_end(ap);
}

int cleanup_open_file(struct cleanup_state *st)
{
	st->dir = (st->flags & CLEANUP_FLAG_HOLD) ? "hold" : "incoming";
	st->fd = queue_file_create(st->dir, st->id, &st->arrival);
	if (st->fd < 0) {
		cleanup_fail(st, 4, "4.3.0", "cannot create queue file: %s", strerror(errno));
		return -1;
	}
	rec_writer_init(&st->w, st->fd, 0);
	return 0;
}

void cleanup_add_rcpt(struct cleanup_state *st, const char *addr, const char *orig,
		      const char *notify)
{
	char *canon = rewrite_canonical(addr);

	for (size_t i = 0; i < st->rcpt.n; i++) {
		if (strcmp(st->rcpt.v[i], canon) == 0) {	/* duplicate */
			free(canon);
			return;
		}
	}
	argv_add(&st->rcpt, canon);
	argv_add(&st->orig, orig ? orig : "");
	argv_add(&st->notify, notify ? notify : "");
	free(canon);
}

/* write_envelope - everything before the content, once */
static void write_envelope(struct cleanup_state *st)
{
	rec_puts(&st->w, REC_VERSION, "postern-queue 1");
	st->size_offset = rec_putf(&st->w, REC_SIZE, SIZE_RECORD_FORMAT, 0LL, 0LL, 0LL);
	rec_putf(&st->w, REC_TIME, "%lld %ld", (long long)st->arrival.tv_sec, (long)st->arrival.tv_usec);
	rec_putf(&st->w, REC_WARN, WARN_RECORD_FORMAT, conf_time("delay_warning_time") > 0
		 ? (long long)st->arrival.tv_sec + conf_time("delay_warning_time") : 0LL);
	for (size_t i = 0; i < st->attrs.n; i++)
		rec_puts(&st->w, REC_ATTR, st->attrs.v[i]);
	rec_puts(&st->w, REC_SENDER, st->sender);
	for (size_t i = 0; i < st->rcpt.n; i++) {
		if (*st->orig.v[i])
			rec_puts(&st->w, REC_ORCPT, st->orig.v[i]);
		if (*st->notify.v[i])
			rec_puts(&st->w, REC_NOTIFY, st->notify.v[i]);
		rec_puts(&st->w, REC_RCPT, st->rcpt.v[i]);
	}
	st->content_offset = rec_put(&st->w, REC_MESSAGE, "", 0);
}

void cleanup_write_body(struct cleanup_state *st, const char *buf, size_t len)
{
	while (len > 0) {
		size_t n = len < REC_CHUNK ? len : REC_CHUNK;

		rec_put(&st->w, REC_BODY, buf, n);
		st->content_size += (long long)n;
		buf += n;
		len -= n;
	}
}

/* end_headers - the header block is complete: process and write it */
static void end_headers(struct cleanup_state *st, int at_end)
{
	vstr out = VSTR_INIT;
	const char *h = vstr_str(&st->header);
	size_t hlen = vstr_len(&st->header);
	int sep;
	long n = cleanup_header_split(h, hlen, at_end, &sep);

	if (n < 0)
		return;
	write_envelope(st);
	cleanup_headers_process(st, h, (size_t)n, sep, &out);
	cleanup_write_body(st, vstr_str(&out), vstr_len(&out));
	cleanup_write_body(st, h + n, hlen - (size_t)n);
	vstr_release(&out);
	vstr_release(&st->header);
	st->in_body = 1;
}

void cleanup_to_hold(struct cleanup_state *st)
{
	char from[QID_MAX + 16], to[QID_MAX + 16];

	if (st->fd < 0 || (st->flags & CLEANUP_FLAG_HOLD))
		return;
	snprintf(from, sizeof(from), "%s/%s", st->dir, st->id);
	snprintf(to, sizeof(to), "hold/%s", st->id);
	/* Not committed yet (mode 0600): qmgr never looked at it. */
	if (rename(from, to) < 0) {
		cleanup_fail(st, 4, "4.3.0", "cannot move the queue file to hold/: %s", strerror(errno));
		return;
	}
	st->dir = "hold";
	st->flags |= CLEANUP_FLAG_HOLD;
}

void cleanup_content(struct cleanup_state *st, const char *buf, size_t len)
{
	if (st->status)
		return;
	st->received += (long long)len;
	if (conf_int("message_size_limit") > 0 && st->received > conf_int("message_size_limit")) {
		cleanup_fail(st, 5, "5.3.4", "message file too big (over message_size_limit %lld bytes)",
			     conf_int("message_size_limit"));
		return;
	}
	if (st->in_body) {
		cleanup_write_body(st, buf, len);
		return;
	}
	vstr_ncat(&st->header, buf, len);
	end_headers(st, 0);
}

/* fill_size - the C record now that the sizes are known */
static int fill_size(struct cleanup_state *st)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), SIZE_RECORD_FORMAT, st->content_size,
			 (long long)st->content_offset, (long long)st->rcpt.n);

	/* type byte + one length byte: the payload is 47 bytes */
	return pwrite(st->fd, buf, (size_t)n, st->size_offset + 2) == n ? 0 : -1;
}

void cleanup_message_finish(struct cleanup_state *st)
{
	if (st->status == 0 && st->rcpt.n == 0)
		cleanup_fail(st, 5, "5.1.3", "no recipients specified");
	if (st->status == 0 && !st->in_body)
		end_headers(st, 1);
	if (st->status)
		return;
	rec_put(&st->w, REC_END, "", 0);
	if (rec_flush(&st->w) < 0 || fill_size(st) < 0
	    || queue_file_commit(st->fd, st->dir, QFILE_MODE_QUEUED) < 0) {
		cleanup_fail(st, 4, "4.3.0", "queue file write error: %s", strerror(errno));
		return;
	}
	if (st->message_id)
		msg_info("%s: message-id=%s", st->id, st->message_id);
	if (st->flags & CLEANUP_FLAG_HOLD)
		msg_info("%s: hold: %s", st->id, "placed on hold by request");
	else if (ipc_trigger(QMGR_SERVICE, 0, "I", 1, 1000) < 0)
		msg_debug("%s: cannot wake qmgr: %m", st->id);
}

void cleanup_message_abort(struct cleanup_state *st)
{
	char path[QID_MAX + 16];

	if (st->fd < 0 || *st->id == 0)
		return;
	snprintf(path, sizeof(path), "%s/%s", st->dir, st->id);
	unlink(path);
}
