/* dict_inline - "inline:{ key=value, { key = value with spaces }, ... }".
 *
 * Postfix syntax: the whole table is in braces; entries are separated by
 * commas and/or white space; an entry that must hold white space or
 * commas is itself wrapped in braces, and then white space around its key
 * and value is dropped. Any bad entry makes the open fail, since an inline
 * table is typed by hand into main.cf where a silent gap would surprise.
 * A repeated key keeps its first value, with a warning in d->diags.
 */
#include <stdlib.h>
#include <string.h>

#include "dict.h"
#include "mem.h"
#include "vstr.h"

#define INLINE_SEP	", \t\r\n"

/* inline_space - white space as the separators define it (no comma) */
static int inline_space(char c)
{
	return c != ',' && c != 0 && strchr(INLINE_SEP, c) != NULL;
}

/* inline_next - finds the next entry at *cp: 1 with tok/len set, 0 at the
 * end, -1 for unbalanced braces. Separators inside braces do not split. */
static int inline_next(const char **cp, const char **tok, size_t *len)
{
	const char *p = *cp + strspn(*cp, INLINE_SEP);
	int depth = 0;

	if (*p == 0)
		return 0;
	*tok = p;
	for (; *p; p++) {
		if (*p == '{') {
			depth++;
		} else if (*p == '}') {
			if (depth == 0)
				return -1;
			depth--;
		} else if (depth == 0 && strchr(INLINE_SEP, *p)) {
			break;
		}
	}
	if (depth != 0)
		return -1;
	*len = (size_t)(p - *tok);
	*cp = p;
	return 1;
}

/* inline_trim - drops white space at both ends of s[0..*len) */
static const char *inline_trim(const char *s, size_t *len)
{
	while (*len > 0 && inline_space(*s)) {
		s++;
		(*len)--;
	}
	while (*len > 0 && inline_space(s[*len - 1]))
		(*len)--;
	return s;
}

/* inline_entry - adds one entry; NULL or an error message (malloc'ed) */
static char *inline_entry(struct dict *d, const char *tok, size_t len)
{
	char *text = dict_unbrace(tok, len), *eq, *key, *value, *err = NULL;
	const char *k, *v;
	size_t klen, vlen;

	if (text == NULL || (eq = strchr(text, '=')) == NULL) {
		err = xasprintf("\"%.*s\": need \"key=value\"", (int)len, tok);
		free(text);
		return err;
	}
	klen = (size_t)(eq - text);
	vlen = strlen(eq + 1);
	k = inline_trim(text, &klen);
	v = inline_trim(eq + 1, &vlen);
	if (klen == 0)
		err = xasprintf("\"%.*s\": missing key before '='", (int)len, tok);
	key = xstrndup(k, klen);
	value = xstrndup(v, vlen);
	if (err == NULL && dict_mem_add(d, key, value) < 0)
		diag_add(&d->diags, DIAG_WARNING, "", 0, "inline:%s: duplicate entry: \"%s\"",
			 d->name, key);
	free(key);
	free(value);
	free(text);
	return err;
}

/* inline_fill - adds every entry of the text between the outer braces */
static char *inline_fill(struct dict *d, const char *cp)
{
	const char *tok;
	size_t len;
	int r;
	char *err;

	while ((r = inline_next(&cp, &tok, &len)) > 0)
		if ((err = inline_entry(d, tok, len)) != NULL)
			return err;
	if (r < 0)
		return xstrdup("unbalanced braces");
	if (dict_mem_count(d) == 0)
		return xstrdup("empty table");
	return NULL;
}

struct dict *dict_inline_open(const char *name, int flags, char **err)
{
	size_t len = strlen(name);
	const char *s = inline_trim(name, &len);
	char *body = NULL, *why;
	struct dict *d;

	if (len < 2 || s[0] != '{' || s[len - 1] != '}') {
		*err = xasprintf("bad table \"inline:%s\": need inline:{ key=value, ... }", name);
		return NULL;
	}
	body = xstrndup(s + 1, len - 2);
	d = dict_mem_new("inline", name, flags);
	why = inline_fill(d, body);
	free(body);
	if (why != NULL) {
		*err = xasprintf("bad table \"inline:%s\": %s", name, why);
		free(why);
		dict_close(d);
		return NULL;
	}
	return d;
}
