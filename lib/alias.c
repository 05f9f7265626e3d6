/* alias - aliases(5) parsing and alias value splitting; see alias.h.
 *
 * The file is read as logical lines by the reader every Postfix source
 * file shares (dict_source_lines), so continuation and comment rules are
 * the same as for `postern map`. Here each logical line is split into a
 * name and a value, and the value is checked by splitting it the way
 * local(8) will, so that a mistake is reported when the table is built
 * rather than when mail arrives.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alias.h"
#include "dict.h"
#include "htable.h"
#include "mem.h"
#include "vstr.h"

#define ALIAS_INCLUDE_PREFIX	":include:"

struct alias_parser {
	const char *path;
	alias_entry_fn *fn;
	void *ctx;
	struct diaglist *dl;
	struct htable seen;	/* folded names already entered */
};

static int alias_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* ---- splitting values ------------------------------------------------- */

/* alias_quoted_end - for s[0] == '"', the index of the closing quote, or
 * len when there is none; a backslash protects the character after it */
static size_t alias_quoted_end(const char *s, size_t len)
{
	size_t i;

	for (i = 1; i < len && s[i] != '"'; i++)
		if (s[i] == '\\' && i + 1 < len)
			i++;
	return i;
}

/* alias_item_add - adds s[0..len) trimmed; a wholly quoted item unquoted */
static void alias_item_add(struct argv *out, const char *s, size_t len)
{
	vstr item = VSTR_INIT;

	while (len > 0 && alias_space(*s)) {
		s++;
		len--;
	}
	while (len > 0 && alias_space(s[len - 1]))
		len--;
	if (len == 0)
		return;
	if (len < 2 || s[0] != '"' || alias_quoted_end(s, len) != len - 1) {
		argv_addn(out, s, len);
		return;
	}
	for (size_t i = 1; i < len - 1; i++) {
		if (s[i] == '\\' && i + 1 < len - 1)
			i++;
		vstr_catc(&item, s[i]);
	}
	argv_add(out, vstr_str(&item));
	vstr_release(&item);
}

int alias_value_split(const char *value, struct argv *out)
{
	const char *p = value, *start;
	int quoted, ret = 0;

	while (*p) {
		start = p;
		for (quoted = 0; *p && (quoted || *p != ','); p++) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				quoted = !quoted;
		}
		if (quoted)
			ret = -1;
		alias_item_add(out, start, (size_t)(p - start));
		if (*p == ',')
			p++;
	}
	return ret;
}

enum alias_kind alias_item_kind(const char *item)
{
	if (item[0] == '|')
		return ALIAS_COMMAND;
	if (item[0] == '/')
		return ALIAS_FILE;
	if (strncasecmp(item, ALIAS_INCLUDE_PREFIX, strlen(ALIAS_INCLUDE_PREFIX)) == 0)
		return ALIAS_INCLUDE;
	return ALIAS_ADDRESS;
}

const char *alias_include_path(const char *item)
{
	const char *p;

	if (alias_item_kind(item) != ALIAS_INCLUDE)
		return NULL;
	for (p = item + strlen(ALIAS_INCLUDE_PREFIX); alias_space(*p); p++)
		;
	return p;
}

/* ---- parsing entries -------------------------------------------------- */

/* alias_quoted_name - "name" at line into name; returns the text after
 * the quotes, or NULL with *why when the quote is not closed */
static const char *alias_quoted_name(const char *line, vstr *name, const char **why)
{
	const char *p;

	for (p = line + 1; *p && *p != '"'; p++) {
		if (*p == '\\' && p[1])
			p++;
		vstr_catc(name, *p);
	}
	if (*p != '"') {
		*why = "missing closing quote in alias name";
		return NULL;
	}
	return p + 1;
}

/* alias_plain_name - an unquoted name ending at ':' (or at the end) */
static const char *alias_plain_name(const char *line, vstr *name, const char **why)
{
	size_t len = strcspn(line, ":");

	if (line[len] != ':') {
		*why = "expected format: name: value";
		return NULL;
	}
	while (len > 0 && alias_space(line[len - 1]))
		len--;
	for (size_t i = 0; i < len; i++) {
		if (alias_space(line[i]) || line[i] == '"') {
			*why = "white space or '\"' in an unquoted alias name";
			return NULL;
		}
	}
	vstr_ncat(name, line, len);
	return line + len;
}

/* alias_split_line - name into name; returns the value (trimmed, in
 * line), or NULL with *why */
static char *alias_split_line(char *line, vstr *name, const char **why)
{
	const char *p;
	char *value, *end;

	p = line[0] == '"' ? alias_quoted_name(line, name, why) : alias_plain_name(line, name, why);
	if (p == NULL)
		return NULL;
	while (alias_space(*p))
		p++;
	if (*p != ':') {
		*why = "expected format: name: value";
		return NULL;
	}
	if (vstr_len(name) == 0) {
		*why = "empty alias name";
		return NULL;
	}
	for (value = line + (p - line) + 1; alias_space(*value); value++)
		;
	end = value + strlen(value);
	while (end > value && alias_space(end[-1]))
		*--end = 0;
	return value;
}

/* alias_item_problem - what is wrong with one item of a value, or NULL */
static const char *alias_item_problem(const char *item)
{
	switch (alias_item_kind(item)) {
	case ALIAS_COMMAND:
		return item[1 + strspn(item + 1, " \t")] ? NULL : "empty |command";
	case ALIAS_INCLUDE:
		return *alias_include_path(item) == '/' ? NULL
		    : ":include: needs an absolute path";
	case ALIAS_FILE:
	case ALIAS_ADDRESS:
		break;
	}
	return NULL;
}

/* alias_value_problem - what is wrong with a value, or NULL */
static const char *alias_value_problem(const char *value)
{
	struct argv items = ARGV_INIT;
	const char *why = NULL;

	if (*value == 0)
		return "empty alias value";
	if (alias_value_split(value, &items) < 0)
		why = "missing closing quote in alias value";
	else if (items.n == 0)
		why = "no destination in alias value";
	for (size_t i = 0; why == NULL && i < items.n; i++)
		why = alias_item_problem(items.v[i]);
	argv_free(&items);
	return why;
}

/* alias_seen - 1 when name (folded) was entered before; else remembers it */
static int alias_seen(struct alias_parser *ap, const char *name)
{
	char *k = xstrdup(name);
	int seen;

	for (char *p = k; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	seen = htable_enter(&ap->seen, k, NULL) < 0;
	free(k);
	return seen;
}

/* alias_line - one logical line of the file */
static void alias_line(void *ctx, char *line, int lineno)
{
	struct alias_parser *ap = ctx;
	vstr name = VSTR_INIT;
	const char *why = NULL;
	char *value = alias_split_line(line, &name, &why);

	if (value != NULL && (why = alias_value_problem(value)) == NULL) {
		if (alias_seen(ap, vstr_str(&name)))
			diag_add(ap->dl, DIAG_WARNING, ap->path, lineno,
				 "duplicate entry: \"%s\"; keeping the first", vstr_str(&name));
		else
			ap->fn(ap->ctx, vstr_str(&name), value, lineno);
	}
	if (why != NULL)
		diag_add(ap->dl, DIAG_ERROR, ap->path, lineno, "%s; line skipped", why);
	vstr_release(&name);
}

int alias_parse_file(const char *path, alias_entry_fn *fn, void *ctx,
		     struct diaglist *dl, char **err)
{
	struct alias_parser ap = { path, fn, ctx, dl, HTABLE_INIT };
	int ret;

	htable_init(&ap.seen);
	ret = dict_source_lines(path, DIAG_ERROR, alias_line, &ap, dl, err);
	htable_free(&ap.seen, NULL);
	return ret < 0 ? -1 : 0;
}
