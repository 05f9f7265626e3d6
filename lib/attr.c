/* attr - the attribute-list codec; see attr.h for the wire format.
 *
 * Everything that parses bytes from a peer goes through attr_decode_body,
 * which checks each length against what is left of the body before using
 * it, so a hostile frame can at worst be rejected. The incremental decoder
 * looks at a frame's 4-byte length as soon as it arrives and refuses an
 * oversized frame before its body is kept. Blocking I/O uses ipc.c's
 * deadline helpers, so one deadline covers the whole frame.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attr.h"
#include "events.h"
#include "ipc.h"
#include "mem.h"
#include "msg.h"

#define ATTR_HDR	4		/* frame length */

/* attr_name_ok - is name[0..len) a valid attribute name? */
static int attr_name_ok(const char *name, size_t len)
{
	if (len == 0 || len > ATTR_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

/* attr_push - appends a copy of name and value; nothing is checked here */
static void attr_push(struct attr_list *l, const char *name, size_t nlen,
		      const void *value, size_t vlen)
{
	struct attr *a;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	a = &l->v[l->n++];
	a->name = xstrndup(name, nlen);
	a->value = xmalloc(size_add(vlen, 1));
	if (vlen)
		memcpy(a->value, value, vlen);
	a->value[vlen] = 0;
	a->len = vlen;
}

void attr_add_data(struct attr_list *l, const char *name, const void *data, size_t len)
{
	size_t nlen = strnlen(name, ATTR_NAME_MAX + 1);

	if (!attr_name_ok(name, nlen))
		msg_panic("attr_add: bad attribute name \"%.*s\"", ATTR_NAME_MAX, name);
	if (len > UINT32_MAX)
		msg_panic("attr_add: value of \"%s\" too long (%zu bytes)", name, len);
	attr_push(l, name, nlen, data, len);
}

void attr_add_str(struct attr_list *l, const char *name, const char *value)
{
	attr_add_data(l, name, value, strlen(value));
}

void attr_add_int(struct attr_list *l, const char *name, long long value)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%lld", value);

	attr_add_data(l, name, buf, (size_t)n);
}

void attr_list_clear(struct attr_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].value);
	}
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

const struct attr *attr_find(const struct attr_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return &l->v[i];
	return NULL;
}

int attr_get_data(const struct attr_list *l, const char *name, const void **out, size_t *len)
{
	const struct attr *a = attr_find(l, name);

	if (a == NULL)
		return -1;
	*out = a->value;
	*len = a->len;
	return 0;
}

int attr_get_str(const struct attr_list *l, const char *name, const char **out)
{
	const struct attr *a = attr_find(l, name);

	if (a == NULL || memchr(a->value, 0, a->len) != NULL)
		return -1;
	*out = a->value;
	return 0;
}

int attr_get_line(const struct attr_list *l, const char *name, const char **out)
{
	const char *s;

	if (attr_get_str(l, name, &s) < 0 || strpbrk(s, "\r\n") != NULL)
		return -1;
	*out = s;
	return 0;
}

int attr_get_int(const struct attr_list *l, const char *name, long long *out)
{
	const char *s, *p;
	char *end;
	long long v;

	if (attr_get_str(l, name, &s) < 0)
		return -1;
	p = s + (*s == '-');
	if (*p == 0 || strspn(p, "0123456789") != strlen(p))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != 0)
		return -1;
	*out = v;
	return 0;
}

/* attr_put_u32 / attr_get_u32 / attr_get_u16 - big-endian integers */
static void attr_put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t attr_get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static size_t attr_get_u16(const unsigned char *p)
{
	return (size_t)p[0] << 8 | p[1];
}

/* attr_body_len - the encoded body length of l; panics above 4 GiB */
static uint32_t attr_body_len(const struct attr_list *l)
{
	size_t total = 0;

	for (size_t i = 0; i < l->n; i++) {
		total = size_add(total, 2 + strlen(l->v[i].name) + 4);
		total = size_add(total, l->v[i].len);
	}
	if (total > UINT32_MAX)
		msg_panic("attr_encode: frame too large (%zu bytes)", total);
	return (uint32_t)total;
}

/* attr_cat - appends to out; a limited vstr that overflows is a caller bug */
static void attr_cat(vstr *out, const void *data, size_t len)
{
	if (vstr_ncat(out, data, len) < 0)
		msg_panic("attr_encode: output buffer limit reached");
}

void attr_encode(const struct attr_list *l, vstr *out)
{
	unsigned char hdr[ATTR_HDR];

	attr_put_u32(hdr, attr_body_len(l));
	attr_cat(out, hdr, sizeof(hdr));
	for (size_t i = 0; i < l->n; i++) {
		size_t nlen = strlen(l->v[i].name);
		unsigned char n2[2] = { (unsigned char)(nlen >> 8), (unsigned char)nlen };

		attr_cat(out, n2, 2);
		attr_cat(out, l->v[i].name, nlen);
		attr_put_u32(hdr, (uint32_t)l->v[i].len);
		attr_cat(out, hdr, sizeof(hdr));
		attr_cat(out, l->v[i].value, l->v[i].len);
	}
}

/* attr_decode_one - parses the attribute at body[*pos], advancing *pos.
 * Returns NULL or the reason it is malformed. */
static const char *attr_decode_one(const unsigned char *body, size_t len,
				   size_t *pos, struct attr_list *l)
{
	size_t left = len - *pos, nlen, vlen;
	const unsigned char *p = body + *pos;

	if (left < 2)
		return "trailing bytes after the last attribute";
	nlen = attr_get_u16(p);
	if (nlen == 0)
		return "zero-length attribute name";
	if (nlen > ATTR_NAME_MAX)
		return "attribute name too long";
	if (left - 2 < nlen + 4)
		return "attribute name overruns the frame";
	if (!attr_name_ok((const char *)p + 2, nlen))
		return "bad byte in attribute name";
	vlen = attr_get_u32(p + 2 + nlen);
	if (left - 2 - nlen - 4 < vlen)
		return "attribute value overruns the frame";
	if (l->n >= ATTR_COUNT_MAX)
		return "too many attributes";
	attr_push(l, (const char *)p + 2, nlen, p + 2 + nlen + 4, vlen);
	*pos += 2 + nlen + 4 + vlen;
	return NULL;
}

int attr_decode_body(const void *body, size_t len, struct attr_list *l, const char **err)
{
	size_t pos = 0;
	const char *why;

	attr_list_clear(l);
	while (pos < len) {
		if ((why = attr_decode_one(body, len, &pos, l)) != NULL) {
			attr_list_clear(l);
			*err = why;
			return -1;
		}
	}
	return 0;
}

/* Incremental decoder. */

void attr_decoder_init(struct attr_decoder *d, size_t max_frame)
{
	vstr_init(&d->buf);
	d->max_frame = max_frame;
}

void attr_decoder_free(struct attr_decoder *d)
{
	vstr_release(&d->buf);
}

/* attr_decoder_cut - walks the buffered frames and drops everything after
 * the length of the first oversized one, so its body is never kept */
static void attr_decoder_cut(struct attr_decoder *d)
{
	const unsigned char *b = (const unsigned char *)d->buf.buf;
	size_t off = 0;

	while (d->buf.len - off >= ATTR_HDR) {
		uint32_t flen = attr_get_u32(b + off);

		if (flen > d->max_frame) {
			vstr_truncate(&d->buf, off + ATTR_HDR);
			return;
		}
		if (d->buf.len - off - ATTR_HDR < flen)
			return;
		off += ATTR_HDR + flen;
	}
}

void attr_decoder_feed(struct attr_decoder *d, const void *data, size_t len)
{
	if (len == 0)
		return;
	vstr_ncat(&d->buf, data, len);	/* unlimited: cannot fail */
	attr_decoder_cut(d);
}

int attr_decoder_next(struct attr_decoder *d, struct attr_list *l, const char **err)
{
	const unsigned char *b = (const unsigned char *)d->buf.buf;
	uint32_t flen;

	if (d->buf.len < ATTR_HDR)
		return ATTR_DEC_MORE;
	flen = attr_get_u32(b);
	if (flen > d->max_frame) {
		*err = "frame too large";
		return ATTR_DEC_ERROR;
	}
	if (d->buf.len - ATTR_HDR < flen)
		return ATTR_DEC_MORE;
	if (attr_decode_body(b + ATTR_HDR, flen, l, err) < 0)
		return ATTR_DEC_ERROR;
	vstr_consume(&d->buf, ATTR_HDR + flen);
	return ATTR_DEC_FRAME;
}

size_t attr_decoder_pending(const struct attr_decoder *d)
{
	return d->buf.len;
}

/* Blocking I/O. */

/* attr_deadline - absolute deadline for timeout_ms; <= 0 means none */
static long long attr_deadline(int timeout_ms)
{
	return timeout_ms > 0 ? ev_now_ms() + timeout_ms : LLONG_MAX;
}

int attr_write(int fd, const struct attr_list *l, int timeout_ms)
{
	vstr out = VSTR_INIT;
	int ret, saved;

	attr_encode(l, &out);
	ret = ipc_write_all(fd, out.buf, out.len, attr_deadline(timeout_ms));
	saved = errno;
	vstr_release(&out);
	errno = saved;
	return ret;
}

/* attr_read_body - reads and decodes a body of flen bytes */
static int attr_read_body(int fd, uint32_t flen, struct attr_list *l, long long deadline)
{
	unsigned char *body = xmalloc(flen);
	ssize_t got = ipc_read_all(fd, body, flen, deadline);
	const char *why;
	int ret = -1, saved;

	if (got >= 0 && (size_t)got < flen)
		errno = EBADMSG;
	else if (got >= 0 && attr_decode_body(body, flen, l, &why) < 0)
		errno = EBADMSG;
	else if (got >= 0)
		ret = 0;
	saved = errno;
	free(body);
	errno = saved;
	return ret;
}

int attr_read(int fd, struct attr_list *l, size_t max_frame, int timeout_ms)
{
	long long deadline = attr_deadline(timeout_ms);
	unsigned char hdr[ATTR_HDR];
	ssize_t got;
	uint32_t flen;

	attr_list_clear(l);
	got = ipc_read_all(fd, hdr, sizeof(hdr), deadline);
	if (got < 0)
		return -1;
	if (got == 0)
		return 1;
	if ((size_t)got < sizeof(hdr)) {
		errno = EBADMSG;
		return -1;
	}
	flen = attr_get_u32(hdr);
	if (flen > max_frame) {
		errno = EMSGSIZE;
		return -1;
	}
	return attr_read_body(fd, flen, l, deadline);
}
