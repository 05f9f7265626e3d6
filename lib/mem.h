/* mem - allocation that never returns NULL.
 *
 * Every allocation in postern goes through these. Out of memory is a fatal
 * condition for a daemon (it logs and exits; master restarts it), which keeps
 * the error paths of the callers short. Sizes are checked for overflow.
 */
#ifndef POSTERN_MEM_H
#define POSTERN_MEM_H

#include <stddef.h>

void *xmalloc(size_t len);
void *xcalloc(size_t count, size_t size);		/* overflow-checked */
void *xrealloc(void *ptr, size_t len);
void *xreallocarray(void *ptr, size_t count, size_t size); /* overflow-checked */
char *xstrdup(const char *str);
char *xstrndup(const char *str, size_t len);	/* copies at most len bytes, NUL-terminates */
void *xmemdup(const void *ptr, size_t len);

/* xasprintf - formats into a new string (defined in vstr.c). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* size_add - a + b, fatal on overflow */
size_t size_add(size_t a, size_t b);

#endif
