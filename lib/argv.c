/* argv - growable NULL-terminated arrays of strings, and list splitting.
 *
 * argv_add* copy their argument, so an argv owns every string in it and
 * argv_free releases them all. argv_split is for Postfix parameter lists;
 * argv_split_braces adds Postfix 3.0's "{ text }" grouping, used for
 * master.cf arguments, where braces protect white space inside a field.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "argv.h"
#include "mem.h"
#include "msg.h"
#include "vstr.h"

/* argv_room - makes room for one more string plus the NULL terminator */
static void argv_room(struct argv *a)
{
	size_t need = size_add(a->n, 2);
	size_t cap;

	if (need <= a->cap)
		return;
	cap = a->cap ? a->cap : 8;
	while (cap < need) {
		if (cap > SIZE_MAX / 2)
			msg_fatal("argv: too many strings");
		cap *= 2;
	}
	a->v = xreallocarray(a->v, cap, sizeof(*a->v));
	a->cap = cap;
}

void argv_addn(struct argv *a, const char *s, size_t len)
{
	argv_room(a);
	a->v[a->n++] = xstrndup(s, len);
	a->v[a->n] = NULL;
}

void argv_add(struct argv *a, const char *s)
{
	argv_addn(a, s, strlen(s));
}

void argv_free(struct argv *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}

/* argv_truncate - drops the strings from index n on */
static void argv_truncate(struct argv *a, size_t n)
{
	while (a->n > n)
		free(a->v[--a->n]);
	if (a->v)
		a->v[a->n] = NULL;
}

void argv_split(struct argv *a, const char *s, const char *delims)
{
	while (*s) {
		size_t len;

		s += strspn(s, delims);
		len = strcspn(s, delims);
		if (len)
			argv_addn(a, s, len);
		s += len;
	}
}

/* clamp_len - a length for "%.*s" in a message: at most 200 bytes */
static int clamp_len(size_t len)
{
	return len > 200 ? 200 : (int)len;
}

/* brace_field_end - the length of the field at s: up to a delimiter outside
 * braces. Returns -1 with *err set when braces do not balance. */
static int brace_field_end(const char *s, const char *delims, size_t *len, char **err)
{
	size_t depth = 0, i;

	for (i = 0; s[i] && (depth > 0 || strchr(delims, s[i]) == NULL); i++) {
		if (s[i] == '{') {
			depth++;
		} else if (s[i] == '}') {
			if (depth == 0) {
				*err = xasprintf("unbalanced '}' in \"%.*s\"", clamp_len(i + 1), s);
				return -1;
			}
			depth--;
		}
	}
	if (depth > 0) {
		*err = xasprintf("missing '}' in \"%.*s\"", clamp_len(i), s);
		return -1;
	}
	*len = i;
	return 0;
}

/* brace_closing - index of the '}' that closes the '{' at s[0] */
static size_t brace_closing(const char *s, size_t len)
{
	size_t depth = 0, i;

	for (i = 0; i < len; i++) {
		if (s[i] == '{')
			depth++;
		else if (s[i] == '}' && --depth == 0)
			break;
	}
	return i;
}

/* add_braced - adds "{ text }" as "text"; -1 when something follows '}' */
static int add_braced(struct argv *a, const char *s, size_t len, char **err)
{
	size_t close = brace_closing(s, len);
	size_t start = 1, end = close;

	if (close != len - 1) {
		*err = xasprintf("text after '}' in \"%.*s\"", clamp_len(len), s);
		return -1;
	}
	while (start < end && isspace((unsigned char)s[start]))
		start++;
	while (end > start && isspace((unsigned char)s[end - 1]))
		end--;
	argv_addn(a, s + start, end - start);
	return 0;
}

int argv_split_braces(struct argv *a, const char *s, const char *delims, char **err)
{
	size_t first = a->n;

	*err = NULL;
	while (*s) {
		size_t len = 0;
		int ret = 0;

		s += strspn(s, delims);
		if (*s == 0)
			break;
		if (brace_field_end(s, delims, &len, err) < 0)
			ret = -1;
		else if (*s == '{')
			ret = add_braced(a, s, len, err);
		else
			argv_addn(a, s, len);
		if (ret < 0) {
			argv_truncate(a, first);
			return -1;
		}
		s += len;
	}
	return 0;
}
