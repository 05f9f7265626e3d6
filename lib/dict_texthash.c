/* dict_texthash - "texthash:/path": a Postfix source-map file read into
 * memory at open, so no postmap step is needed; and the source-file
 * reader that `postern map` (and, for logical lines, the aliases(5)
 * parser) share with it, so there is one parser of the format.
 *
 * Format (as postmap reads it): one entry per logical line, "key" then
 * white space then "value". A line that starts with white space continues
 * the logical line before it; blank lines and lines whose first non-blank
 * character is '#' are skipped and do not end a logical line. A line with
 * a key but no value is reported with the severity the caller chose (a
 * warning for texthash:, which still opens; an error for `postern map`,
 * which then keeps the old table). For texthash:, a key seen before (the
 * first value is kept) is a warning in d->diags naming the file and the
 * logical line's first line. A file that cannot be read is an open error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dict.h"
#include "mem.h"
#include "vstr.h"

struct source_reader {
	const char *path;
	enum diag_severity sev;	/* of problems with a line */
	struct diaglist *dl;
	dict_source_line_fn *fn;
	void *ctx;
	vstr logical;		/* the logical line being collected */
	int first;		/* its first physical line number; 0 = none */
};

static int source_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* source_flush - hands the collected logical line to the caller */
static void source_flush(struct source_reader *r)
{
	if (r->first == 0)
		return;
	r->fn(r->ctx, r->logical.buf, r->first);
	vstr_reset(&r->logical);
	r->first = 0;
}

/* source_line - takes one physical line (newline removed) */
static void source_line(struct source_reader *r, const char *line, int lineno)
{
	const char *p = line;

	while (*p && source_space(*p))
		p++;
	if (*p == 0 || *p == '#')
		return;
	if (p != line && r->first == 0) {
		diag_add(r->dl, r->sev, r->path, lineno,
			 "logical line must not start with white space; line skipped");
		return;
	}
	if (p == line) {
		source_flush(r);
		r->first = lineno;
	}
	vstr_cat(&r->logical, line);
}

/* source_read - reads fp to the end; 0, or -1 with errno on a read error */
static int source_read(struct source_reader *r, FILE *fp)
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
			diag_add(r->dl, r->sev, r->path, lineno,
				 "NUL byte in line; line skipped");
		else
			source_line(r, buf, lineno);
	}
	free(buf);
	source_flush(r);
	return ferror(fp) ? -1 : 0;
}

int dict_source_lines(const char *path, enum diag_severity sev, dict_source_line_fn *fn,
		      void *ctx, struct diaglist *dl, char **err)
{
	struct source_reader r;
	FILE *fp;
	int ret = 0, saved = 0;

	if ((fp = fopen(path, "re")) == NULL) {
		saved = errno;
		*err = xasprintf("open %s: %s", path, strerror(saved));
		errno = saved;
		return -1;
	}
	r.path = path;
	r.sev = sev;
	r.dl = dl;
	r.fn = fn;
	r.ctx = ctx;
	vstr_init(&r.logical);
	r.first = 0;
	if (source_read(&r, fp) < 0) {
		saved = errno;
		*err = xasprintf("read %s: %s", path, strerror(saved));
		ret = -2;
	}
	vstr_release(&r.logical);
	fclose(fp);
	if (ret < 0)
		errno = saved;
	return ret;
}

struct source_entries {
	const char *path;
	enum diag_severity sev;
	struct diaglist *dl;
	dict_source_entry_fn *fn;
	void *ctx;
};

/* source_entry - splits a logical line into key and value */
static void source_entry(void *ctx, char *line, int lineno)
{
	struct source_entries *e = ctx;
	char *key_end = line, *value, *end;

	while (*key_end && !source_space(*key_end))
		key_end++;
	value = key_end;
	while (*value && source_space(*value))
		value++;
	end = value + strlen(value);
	while (end > value && source_space(end[-1]))
		*--end = 0;
	*key_end = 0;
	if (*value == 0)
		diag_add(e->dl, e->sev, e->path, lineno,
			 "expected format: key whitespace value; line skipped");
	else
		e->fn(e->ctx, line, value, lineno);
}

int dict_source_entries(const char *path, enum diag_severity sev, dict_source_entry_fn *fn,
			void *ctx, struct diaglist *dl, char **err)
{
	struct source_entries e = { path, sev, dl, fn, ctx };

	return dict_source_lines(path, sev, source_entry, &e, dl, err);
}

/* texthash_add - one entry into the in-memory table */
static void texthash_add(void *ctx, const char *key, const char *value, int lineno)
{
	struct dict *d = ctx;

	if (dict_mem_add(d, key, value) < 0)
		diag_add(&d->diags, DIAG_WARNING, d->name, lineno,
			 "duplicate entry: \"%s\"; keeping the first", key);
}

struct dict *dict_texthash_open(const char *path, int flags, char **err)
{
	struct dict *d;
	char *why = NULL;
	int ret;

	if (*path == 0) {
		*err = xstrdup("bad table \"texthash:\": need texthash:/path");
		return NULL;
	}
	d = dict_mem_new("texthash", path, flags);
	ret = dict_source_entries(path, DIAG_WARNING, texthash_add, d, &d->diags, &why);
	if (ret < 0) {
		*err = xasprintf("%s texthash:%s: %s", ret == -1 ? "open" : "read",
				 path, strerror(errno));
		free(why);
		dict_close(d);
		return NULL;
	}
	return d;
}
