/* vstr - growable, always NUL-terminated byte strings.
 *
 * A vstr holds arbitrary bytes (NULs included) plus a terminating NUL that is
 * not counted in its length, so vstr_str() can be handed to C string
 * functions when the content is text. Growth is overflow-checked and never
 * fails (see mem.h). An optional hard limit makes appends past it fail with
 * -1 instead of growing, for buffers that hold untrusted input.
 */
#ifndef POSTERN_VSTR_H
#define POSTERN_VSTR_H

#include <stdarg.h>
#include <stddef.h>

typedef struct vstr {
	char *buf;
	size_t len;		/* bytes in use, excluding the NUL */
	size_t cap;		/* bytes allocated, including room for the NUL */
	size_t limit;		/* 0 = unlimited; else max len */
} vstr;

#define VSTR_INIT { 0, 0, 0, 0 }

vstr *vstr_new(size_t initial);
void vstr_free(vstr *v);		/* NULL is fine */
void vstr_init(vstr *v);		/* for embedded or stack vstrs */
void vstr_release(vstr *v);		/* frees the contents of an embedded vstr */

void vstr_set_limit(vstr *v, size_t limit);
void vstr_reset(vstr *v);		/* len = 0, keeps the buffer */
void vstr_truncate(vstr *v, size_t len);	/* len must be <= current len */

/* Appends return 0, or -1 when the limit would be exceeded (v unchanged). */
int vstr_cat(vstr *v, const char *s);
int vstr_ncat(vstr *v, const void *data, size_t len);
int vstr_catc(vstr *v, int c);
int vstr_catf(vstr *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int vstr_vcatf(vstr *v, const char *fmt, va_list ap);

/* vstr_cpy and vstr_cpyf replace the contents. */
int vstr_cpy(vstr *v, const char *s);
int vstr_cpyf(vstr *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* vstr_cat_to_eol - appends the bytes of buf before its first CR or LF;
 * returns how many (line parsers copy text runs with it). */
size_t vstr_cat_to_eol(vstr *v, const char *buf, size_t len);

/* vstr_consume - drops the first n bytes (n <= len). */
void vstr_consume(vstr *v, size_t n);

/* vstr_steal - returns the malloc'ed buffer and leaves v empty. */
char *vstr_steal(vstr *v);

static inline const char *vstr_str(const vstr *v) { return v->buf ? v->buf : ""; }
static inline size_t vstr_len(const vstr *v) { return v->len; }

/* xasprintf - formats into a new malloc'ed string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
