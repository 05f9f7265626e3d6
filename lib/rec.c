/* rec - typed records for queue and maildrop files; see rec.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"
#include "msg.h"
#include "rec.h"

#define REC_FLUSH_AT	(256 * 1024)

/* varint_put - the length as 7-bit groups, least significant first */
static size_t varint_put(unsigned char *out, size_t len)
{
	size_t n = 0;

	do {
		out[n] = len & 0x7f;
		len >>= 7;
		if (len)
			out[n] |= 0x80;
		n++;
	} while (len);
	return n;
}

void rec_encode(vstr *out, int type, const void *data, size_t len)
{
	unsigned char hdr[1 + REC_LEN_BYTES + 2];
	size_t n;

	if (len >> (7 * REC_LEN_BYTES))
		msg_panic("rec_encode: record of %zu bytes", len);
	hdr[0] = (unsigned char)type;
	n = 1 + varint_put(hdr + 1, len);
	vstr_ncat(out, hdr, n);
	vstr_ncat(out, data, len);
}

void rec_writer_init(struct rec_writer *w, int fd, off_t offset)
{
	w->fd = fd;
	w->offset = offset;
	vstr_init(&w->buf);
	w->error = 0;
}

int rec_flush(struct rec_writer *w)
{
	const char *p = vstr_str(&w->buf);
	size_t left = vstr_len(&w->buf);
	off_t at = w->offset - (off_t)left;
	ssize_t n;

	while (left > 0 && w->error == 0) {
		n = pwrite(w->fd, p, left, at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			w->error = n < 0 ? errno : EIO;
			break;
		}
		p += n;
		at += n;
		left -= (size_t)n;
	}
	vstr_reset(&w->buf);
	if (w->error) {
		errno = w->error;
		return -1;
	}
	return 0;
}

off_t rec_put(struct rec_writer *w, int type, const void *data, size_t len)
{
	off_t where = w->offset;
	size_t before = vstr_len(&w->buf);

	rec_encode(&w->buf, type, data, len);
	w->offset += (off_t)(vstr_len(&w->buf) - before);
	if (vstr_len(&w->buf) >= REC_FLUSH_AT)
		rec_flush(w);
	return where;
}

off_t rec_puts(struct rec_writer *w, int type, const char *str)
{
	return rec_put(w, type, str, strlen(str));
}

off_t rec_putf(struct rec_writer *w, int type, const char *fmt, ...)
{
	vstr v = VSTR_INIT;
	va_list ap;
	off_t where;

	va_start(ap, fmt);
	vstr_vcatf(&v, fmt, ap);
	va_end(ap);
	where = rec_put(w, type, vstr_str(&v), vstr_len(&v));
	vstr_release(&v);
	return where;
}

void rec_writer_free(struct rec_writer *w)
{
	vstr_release(&w->buf);
}

void rec_reader_init(struct rec_reader *r, int fd, off_t offset)
{
	r->fd = fd;
	r->offset = offset;
	r->pos = r->len = 0;
}

/* fill - makes at least one unread byte available; 1, 0 at EOF, -1 error */
static int fill(struct rec_reader *r)
{
	ssize_t n;

	if (r->pos < r->len)
		return 1;
	do {
		n = pread(r->fd, r->buf, sizeof(r->buf), r->offset);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	r->pos = 0;
	r->len = (size_t)n;
	return n > 0;
}

static int next_byte(struct rec_reader *r, unsigned char *c)
{
	int ret = fill(r);

	if (ret <= 0)
		return ret;
	*c = (unsigned char)r->buf[r->pos++];
	r->offset++;
	return 1;
}

/* read_len - the varint; 0 ok, -1 with *err */
static int read_len(struct rec_reader *r, size_t *len, const char **err)
{
	unsigned char c;
	size_t v = 0;
	int ret;

	for (int i = 0; i < REC_LEN_BYTES; i++) {
		if ((ret = next_byte(r, &c)) <= 0) {
			*err = ret < 0 ? strerror(errno) : "truncated record";
			return -1;
		}
		v |= (size_t)(c & 0x7f) << (7 * i);
		if ((c & 0x80) == 0) {
			*len = v;
			return 0;
		}
	}
	*err = "bad record length";
	return -1;
}

int rec_get(struct rec_reader *r, int *type, vstr *payload, size_t max_len,
	    off_t *where, const char **err)
{
	unsigned char c;
	size_t len, take;
	int ret;

	if (where)
		*where = r->offset;
	if ((ret = next_byte(r, &c)) <= 0) {
		if (ret == 0)
			return REC_EOF;
		*err = strerror(errno);
		return REC_ERR;
	}
	*type = c;
	if (read_len(r, &len, err) < 0)
		return REC_ERR;
	if (len > max_len) {
		*err = "record too long";
		return REC_ERR;
	}
	vstr_reset(payload);
	while (len > 0) {
		if ((ret = fill(r)) <= 0) {
			*err = ret < 0 ? strerror(errno) : "truncated record";
			return REC_ERR;
		}
		take = r->len - r->pos < len ? r->len - r->pos : len;
		vstr_ncat(payload, r->buf + r->pos, take);
		r->pos += take;
		r->offset += (off_t)take;
		len -= take;
	}
	return REC_OK;
}

ssize_t rec_decode(const char *buf, size_t len, int *type, const char **data,
		   size_t *dlen, size_t max_len)
{
	size_t v = 0, i;

	if (len < 2)
		return 0;
	for (i = 1; i <= REC_LEN_BYTES; i++) {
		if (i >= len)
			return 0;
		v |= (size_t)((unsigned char)buf[i] & 0x7f) << (7 * (i - 1));
		if (((unsigned char)buf[i] & 0x80) == 0)
			break;
	}
	if (i > REC_LEN_BYTES || v > max_len)
		return -1;
	if (len - (i + 1) < v)
		return 0;
	*type = (unsigned char)buf[0];
	*data = buf + i + 1;
	*dlen = v;
	return (ssize_t)(i + 1 + v);
}

int rec_mark(int fd, off_t offset, int type)
{
	char c = (char)type;
	ssize_t n;

	do {
		n = pwrite(fd, &c, 1, offset);
	} while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -1;
}
