/* vstr - growable byte strings; see vstr.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "msg.h"
#include "vstr.h"

void vstr_init(vstr *v)
{
	v->buf = NULL;
	v->len = v->cap = v->limit = 0;
}

vstr *vstr_new(size_t initial)
{
	vstr *v = xmalloc(sizeof(*v));

	vstr_init(v);
	v->cap = size_add(initial, 1);
	v->buf = xmalloc(v->cap);
	v->buf[0] = 0;
	return v;
}

void vstr_release(vstr *v)
{
	free(v->buf);
	vstr_init(v);
}

void vstr_free(vstr *v)
{
	if (v == NULL)
		return;
	free(v->buf);
	free(v);
}

void vstr_set_limit(vstr *v, size_t limit)
{
	v->limit = limit;
}

/* vstr_room - makes room for len more bytes plus the NUL; -1 past the limit */
static int vstr_room(vstr *v, size_t more)
{
	size_t need = size_add(size_add(v->len, more), 1);
	size_t cap;

	if (v->limit && v->len + more > v->limit)
		return -1;
	if (need <= v->cap)
		return 0;
	cap = v->cap ? v->cap : 16;
	while (cap < need)
		cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
	v->buf = xrealloc(v->buf, cap);
	v->cap = cap;
	return 0;
}

void vstr_reset(vstr *v)
{
	v->len = 0;
	if (v->buf)
		v->buf[0] = 0;
}

void vstr_truncate(vstr *v, size_t len)
{
	if (len > v->len)
		msg_panic("vstr_truncate: %zu > %zu", len, v->len);
	v->len = len;
	if (v->buf)
		v->buf[len] = 0;
}

int vstr_ncat(vstr *v, const void *data, size_t len)
{
	if (vstr_room(v, len) < 0)
		return -1;
	if (len)
		memcpy(v->buf + v->len, data, len);
	v->len += len;
	v->buf[v->len] = 0;
	return 0;
}

int vstr_cat(vstr *v, const char *s)
{
	return vstr_ncat(v, s, strlen(s));
}

int vstr_catc(vstr *v, int c)
{
	char ch = (char)c;

	return vstr_ncat(v, &ch, 1);
}

int vstr_vcatf(vstr *v, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		msg_panic("vstr_vcatf: bad format \"%s\"", fmt);
	if (vstr_room(v, (size_t)n) < 0)
		return -1;
	vsnprintf(v->buf + v->len, (size_t)n + 1, fmt, ap);
	v->len += (size_t)n;
	return 0;
}

int vstr_catf(vstr *v, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vstr_vcatf(v, fmt, ap);
	va_end(ap);
	return ret;
}

int vstr_cpy(vstr *v, const char *s)
{
	vstr_reset(v);
	return vstr_cat(v, s);
}

int vstr_cpyf(vstr *v, const char *fmt, ...)
{
	va_list ap;
	int ret;

	vstr_reset(v);
	va_start(ap, fmt);
	ret = vstr_vcatf(v, fmt, ap);
	va_end(ap);
	return ret;
}

void vstr_consume(vstr *v, size_t n)
{
	if (n > v->len)
		msg_panic("vstr_consume: %zu > %zu", n, v->len);
	memmove(v->buf, v->buf + n, v->len - n);
	vstr_truncate(v, v->len - n);
}

char *vstr_steal(vstr *v)
{
	char *p;

	if (v->buf == NULL)
		return xstrdup("");
	p = v->buf;
	vstr_init(v);
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	vstr v = VSTR_INIT;
	va_list ap;

	va_start(ap, fmt);
	vstr_vcatf(&v, fmt, ap);
	va_end(ap);
	return vstr_steal(&v);
}

size_t vstr_cat_to_eol(vstr *v, const char *buf, size_t len)
{
	size_t n = 0;

	while (n < len && buf[n] != '\r' && buf[n] != '\n')
		n++;
	vstr_ncat(v, buf, n);
	return n;
}
