/* diag - a list of problems found while reading a file; see diag.h. */
#include <stdarg.h>
#include <stdlib.h>

#include "diag.h"
#include "mem.h"
#include "msg.h"
#include "vstr.h"

void diag_add(struct diaglist *dl, enum diag_severity sev, const char *file,
	      int line, const char *fmt, ...)
{
	vstr text = VSTR_INIT;
	va_list ap;
	struct diag *d;

	if (dl->n == dl->cap) {
		dl->cap = dl->cap ? dl->cap * 2 : 8;
		dl->v = xreallocarray(dl->v, dl->cap, sizeof(*dl->v));
	}
	va_start(ap, fmt);
	vstr_vcatf(&text, fmt, ap);
	va_end(ap);
	d = &dl->v[dl->n++];
	d->severity = sev;
	d->file = xstrdup(file ? file : "");
	d->line = line;
	d->text = vstr_steal(&text);
}

size_t diag_errors(const struct diaglist *dl)
{
	size_t n = 0;

	for (size_t i = 0; i < dl->n; i++)
		n += dl->v[i].severity == DIAG_ERROR;
	return n;
}

char *diag_format(const struct diag *d)
{
	if (*d->file && d->line)
		return xasprintf("%s, line %d: %s", d->file, d->line, d->text);
	if (*d->file)
		return xasprintf("%s: %s", d->file, d->text);
	return xstrdup(d->text);
}

void diag_log(const struct diaglist *dl)
{
	for (size_t i = 0; i < dl->n; i++) {
		char *s = diag_format(&dl->v[i]);

		if (dl->v[i].severity == DIAG_ERROR)
			msg_error("%s", s);
		else
			msg_warn("%s", s);
		free(s);
	}
}

void diag_clear(struct diaglist *dl)
{
	for (size_t i = 0; i < dl->n; i++) {
		free(dl->v[i].file);
		free(dl->v[i].text);
	}
	free(dl->v);
	dl->v = NULL;
	dl->n = dl->cap = 0;
}
