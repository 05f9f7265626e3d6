/* dict_static - "static:value": every key maps to value.
 *
 * As in Postfix, "static:{ text with spaces }" loses the braces and the
 * white space just inside them, so a value can hold spaces or commas in a
 * list parameter. The key is not looked at, so folding does not matter.
 */
#include <stdlib.h>
#include <string.h>

#include "dict.h"
#include "mem.h"
#include "vstr.h"

struct dict_static {
	struct dict head;	/* first */
	char *value;
};

static enum dict_status dict_static_lookup(struct dict *d, const char *key, const char **value)
{
	(void)key;
	*value = ((struct dict_static *)d)->value;
	return DICT_FOUND;
}

static void dict_static_close(struct dict *d)
{
	struct dict_static *s = (struct dict_static *)d;

	free(s->value);
	dict_fini(d);
	free(s);
}

static const struct dict_ops dict_static_ops = { dict_static_lookup, dict_static_close };

struct dict *dict_static_open(const char *name, int flags, char **err)
{
	char *value = dict_unbrace(name, strlen(name));
	struct dict_static *s;

	if (value == NULL) {
		*err = xasprintf("bad table \"static:%s\": missing '}'", name);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	dict_init(&s->head, &dict_static_ops, "static", name, flags);
	s->value = value;
	return &s->head;
}
