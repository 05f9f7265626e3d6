/* mem - allocation that never returns NULL; see mem.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "msg.h"

static void out_of_memory(size_t len)
{
	msg_fatal("out of memory allocating %zu bytes", len);
}

void *xmalloc(size_t len)
{
	void *p = malloc(len ? len : 1);

	if (p == NULL)
		out_of_memory(len);
	return p;
}

void *xcalloc(size_t count, size_t size)
{
	void *p;

	if (size && count > SIZE_MAX / size)
		msg_fatal("xcalloc: size overflow (%zu x %zu)", count, size);
	p = calloc(count ? count : 1, size ? size : 1);
	if (p == NULL)
		out_of_memory(count * size);
	return p;
}

void *xrealloc(void *ptr, size_t len)
{
	void *p = realloc(ptr, len ? len : 1);

	if (p == NULL)
		out_of_memory(len);
	return p;
}

void *xreallocarray(void *ptr, size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size)
		msg_fatal("xreallocarray: size overflow (%zu x %zu)", count, size);
	return xrealloc(ptr, count * size);
}

char *xstrdup(const char *str)
{
	return xmemdup(str, strlen(str) + 1);
}

char *xstrndup(const char *str, size_t len)
{
	size_t n = strnlen(str, len);
	char *p = xmalloc(size_add(n, 1));

	memcpy(p, str, n);
	p[n] = 0;
	return p;
}

void *xmemdup(const void *ptr, size_t len)
{
	void *p = xmalloc(len);

	memcpy(p, ptr, len);
	return p;
}

size_t size_add(size_t a, size_t b)
{
	if (a > SIZE_MAX - b)
		msg_fatal("size overflow (%zu + %zu)", a, b);
	return a + b;
}
