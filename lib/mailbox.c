/* mailbox - what the Maildir and mbox writers share: the result type's
 * helpers, the errno-to-DSN mapping, a buffered writer with a size limit,
 * and the copy loop with mbox "From " quoting. See mailbox.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mailbox.h"

void mailbox_ok(struct mailbox_result *res)
{
	res->status = 0;
	snprintf(res->dsn, sizeof(res->dsn), "2.0.0");
	snprintf(res->text, sizeof(res->text), "delivered");
}

int mailbox_fail(struct mailbox_result *res, const char *dsn, const char *fmt, ...)
{
	va_list ap;

	res->status = dsn[0] == '5' ? 5 : 4;
	snprintf(res->dsn, sizeof(res->dsn), "%s", dsn);
	va_start(ap, fmt);
	/* The reason is for people; a very long path may cut it short. */
	vsnprintf(res->text, sizeof(res->text), fmt, ap);
	va_end(ap);
	return -1;
}

const char *mailbox_errno_dsn(int err, const char *def)
{
	switch (err) {
	case EDQUOT:
		return "4.2.2";		/* mailbox full: defer (Postfix bounces) */
	case ENOSPC:
		return "4.3.1";		/* mail system full */
	case EFBIG:
		return "5.2.2";		/* over mailbox_size_limit, as Postfix */
	default:
		return def;
	}
}

/* ---- the writer ------------------------------------------------------- */

void mailbox_out_init(struct mailbox_out *o, int fd, off_t limit)
{
	o->fd = fd;
	o->written = 0;
	o->limit = limit;
	o->last = -1;
	o->len = 0;
}

/* mailbox_write_all - write(2) until done; 0, or -1 with errno */
static int mailbox_write_all(int fd, const char *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int mailbox_out_flush(struct mailbox_out *o)
{
	size_t len = o->len;

	o->len = 0;
	return mailbox_write_all(o->fd, o->buf, len);
}

int mailbox_out_put(struct mailbox_out *o, const char *data, size_t len)
{
	if (len == 0)
		return 0;
	/* written <= limit always holds, so the subtraction cannot overflow */
	if (o->limit > 0 && (len > (size_t)(o->limit - o->written))) {
		errno = EFBIG;
		return -1;
	}
	o->written += (off_t)len;
	o->last = (unsigned char)data[len - 1];
	if (len > sizeof(o->buf) - o->len) {
		if (mailbox_out_flush(o) < 0)
			return -1;
		if (len >= sizeof(o->buf))
			return mailbox_write_all(o->fd, data, len);
	}
	memcpy(o->buf + o->len, data, len);
	o->len += len;
	return 0;
}

/* ---- copying, with mbox From_ quoting --------------------------------- */

#define FROM_LINE	"From "
#define FROM_LEN	(sizeof(FROM_LINE) - 1)

/* Quoting state: at the start of a line, how much of "From " was seen. */
struct from_quote {
	int bol;		/* at the start of a line */
	size_t seen;		/* bytes of "From " matched and held back */
};

/* quote_line_start - matches the start of a line against "From " from
 * buf[*i] on, holding matched bytes back and advancing *i; once the line
 * start is decided it is written and q->bol cleared. 0, or -1 with errno */
static int quote_line_start(struct mailbox_out *o, struct from_quote *q, const char *buf,
			    size_t len, size_t *i)
{
	while (*i < len && q->seen < FROM_LEN && buf[*i] == FROM_LINE[q->seen]) {
		q->seen++;
		(*i)++;
	}
	if (q->seen == FROM_LEN) {
		q->seen = 0;
		q->bol = 0;
		return mailbox_out_put(o, ">" FROM_LINE, FROM_LEN + 1);
	}
	if (*i == len)
		return 0;		/* undecided: the next chunk tells */
	q->bol = 0;
	len = q->seen;
	q->seen = 0;
	return mailbox_out_put(o, FROM_LINE, len);
}

/* quote_chunk - writes one chunk of content with From_ quoting */
static int quote_chunk(struct mailbox_out *o, struct from_quote *q, const char *buf, size_t len)
{
	const char *nl;
	size_t i = 0, end;

	while (i < len) {
		if (q->bol) {
			if (quote_line_start(o, q, buf, len, &i) < 0)
				return -1;
			if (q->bol)
				break;
			continue;
		}
		nl = memchr(buf + i, '\n', len - i);
		end = nl ? (size_t)(nl - buf) + 1 : len;
		if (mailbox_out_put(o, buf + i, end - i) < 0)
			return -1;
		i = end;
		q->bol = nl != NULL;
	}
	return 0;
}

int mailbox_copy(struct mailbox_out *o, struct mailbox_src *src, int quote_from)
{
	struct from_quote q = { 1, 0 };
	const char *buf;
	ssize_t n;
	int ret;

	while ((n = src->read(src->ctx, &buf)) > 0) {
		if (quote_from)
			ret = quote_chunk(o, &q, buf, (size_t)n);
		else
			ret = mailbox_out_put(o, buf, (size_t)n);
		if (ret < 0)
			return -1;
	}
	if (n < 0)
		return -2;
	/* A last line that is a prefix of "From " and nothing more. */
	return mailbox_out_put(o, FROM_LINE, q.seen) < 0 ? -1 : 0;
}
