/* dict_texthash - "texthash:/path": a Postfix source-map file read into
 * memory at open, so no postmap step is needed.
 *
 * Format (as postmap reads it): one entry per logical line, "key" then
 * white space then "value". A line that starts with white space continues
 * the logical line before it; blank lines and lines whose first non-blank
 * character is '#' are skipped and do not end a logical line. A line with
 * a key but no value, or a key seen before (the first value is kept), is a
 * warning in d->diags naming the file and the logical line's first line;
 * the table still opens. A file that cannot be read is an open error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dict.h"
#include "mem.h"
#include "vstr.h"

struct texthash_reader {
	struct dict *d;
	const char *path;
	vstr logical;		/* the logical line being collected */
	int first;		/* its first physical line number; 0 = none */
};

static int texthash_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* texthash_entry - turns the collected logical line into an entry */
static void texthash_entry(struct texthash_reader *r)
{
	char *line = r->logical.buf, *key_end, *value, *end;

	if (r->first == 0)
		return;
	key_end = line;
	while (*key_end && !texthash_space(*key_end))
		key_end++;
	value = key_end;
	while (*value && texthash_space(*value))
		value++;
	end = value + strlen(value);
	while (end > value && texthash_space(end[-1]))
		*--end = 0;
	*key_end = 0;
	if (*value == 0)
		diag_add(&r->d->diags, DIAG_WARNING, r->path, r->first,
			 "expected format: key whitespace value; line skipped");
	else if (dict_mem_add(r->d, line, value) < 0)
		diag_add(&r->d->diags, DIAG_WARNING, r->path, r->first,
			 "duplicate entry: \"%s\"; keeping the first", line);
	vstr_reset(&r->logical);
	r->first = 0;
}

/* texthash_line - takes one physical line (newline removed) */
static void texthash_line(struct texthash_reader *r, const char *line, int lineno)
{
	const char *p = line;

	while (*p && texthash_space(*p))
		p++;
	if (*p == 0 || *p == '#')
		return;
	if (p != line && r->first == 0) {
		diag_add(&r->d->diags, DIAG_WARNING, r->path, lineno,
			 "logical line must not start with white space; line skipped");
		return;
	}
	if (p == line) {
		texthash_entry(r);
		r->first = lineno;
	}
	vstr_cat(&r->logical, line);
}

/* texthash_read - reads fp to the end; 0, or -1 with errno on a read error */
static int texthash_read(struct texthash_reader *r, FILE *fp)
{
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0;

	while ((n = getline(&buf, &cap, fp)) >= 0) {
		lineno++;
		if (n > 0 && buf[n - 1] == '\n')
			buf[--n] = 0;
		if (memchr(buf, 0, (size_t)n) != NULL)
			diag_add(&r->d->diags, DIAG_WARNING, r->path, lineno,
				 "NUL byte in line; line skipped");
		else
			texthash_line(r, buf, lineno);
	}
	free(buf);
	texthash_entry(r);
	return ferror(fp) ? -1 : 0;
}

struct dict *dict_texthash_open(const char *path, int flags, char **err)
{
	struct texthash_reader r;
	FILE *fp;
	int saved;

	if (*path == 0) {
		*err = xstrdup("bad table \"texthash:\": need texthash:/path");
		return NULL;
	}
	if ((fp = fopen(path, "re")) == NULL) {
		*err = xasprintf("open texthash:%s: %s", path, strerror(errno));
		return NULL;
	}
	r.d = dict_mem_new("texthash", path, flags);
	r.path = path;
	vstr_init(&r.logical);
	r.first = 0;
	if (texthash_read(&r, fp) < 0) {
		saved = errno;
		*err = xasprintf("read texthash:%s: %s", path, strerror(saved));
		dict_close(r.d);
		r.d = NULL;
	}
	vstr_release(&r.logical);
	fclose(fp);
	return r.d;
}
