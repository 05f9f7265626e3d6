/* dict - the lookup-table registry and the helpers every table type uses.
 *
 * dict_open splits "type:name", finds the type in the registry and lets
 * its open function build the table. Built-in types are registered the
 * first time the registry is used, so programs need no setup call; a type
 * registered later under the same name replaces the earlier one.
 */
#include <stdlib.h>
#include <string.h>

#include "dict.h"
#include "mem.h"
#include "msg.h"
#include "vstr.h"

static const struct dict_type dict_builtin_types[] = {
	{ "inline", dict_inline_open },
	{ "static", dict_static_open },
	{ "texthash", dict_texthash_open },
	{ "hash", dict_hash_open },
	{ "btree", dict_btree_open },
	{ "cidr", dict_cidr_open },
};

static const struct dict_type **dict_types;
static size_t dict_ntypes, dict_types_cap;
static int dict_builtins_done;

/* dict_type_add - appends or replaces a registry entry */
static void dict_type_add(const struct dict_type *type)
{
	for (size_t i = 0; i < dict_ntypes; i++) {
		if (strcmp(dict_types[i]->name, type->name) == 0) {
			dict_types[i] = type;
			return;
		}
	}
	if (dict_ntypes == dict_types_cap) {
		dict_types_cap = dict_types_cap ? dict_types_cap * 2 : 8;
		dict_types = xreallocarray(dict_types, dict_types_cap, sizeof(*dict_types));
	}
	dict_types[dict_ntypes++] = type;
}

/* dict_builtins - registers the built-in types once, before anything else */
static void dict_builtins(void)
{
	size_t n = sizeof(dict_builtin_types) / sizeof(dict_builtin_types[0]);

	if (dict_builtins_done)
		return;
	dict_builtins_done = 1;
	for (size_t i = 0; i < n; i++)
		dict_type_add(&dict_builtin_types[i]);
}

void dict_register(const struct dict_type *type)
{
	if (type == NULL || type->name == NULL || *type->name == 0 || type->open == NULL)
		msg_panic("dict_register: incomplete table type");
	dict_builtins();
	dict_type_add(type);
}

const struct dict_type *dict_type_find(const char *name)
{
	dict_builtins();
	for (size_t i = 0; i < dict_ntypes; i++)
		if (strcmp(dict_types[i]->name, name) == 0)
			return dict_types[i];
	return NULL;
}

struct dict *dict_open(const char *spec, int flags, char **err)
{
	const char *colon = strchr(spec, ':');
	const struct dict_type *t;
	char *type;

	if (colon == NULL || colon == spec) {
		*err = xasprintf("bad table name \"%s\": need type:name", spec);
		return NULL;
	}
	type = xstrndup(spec, (size_t)(colon - spec));
	t = dict_type_find(type);
	if (t == NULL) {
		*err = xasprintf("unsupported dictionary type: %s", type);
		free(type);
		return NULL;
	}
	free(type);
	return t->open(colon + 1, flags, err);
}

enum dict_status dict_lookup(struct dict *d, const char *key, const char **value)
{
	return d->ops->lookup(d, key, value);
}

void dict_close(struct dict *d)
{
	if (d != NULL)
		d->ops->close(d);
}

void dict_init(struct dict *d, const struct dict_ops *ops, const char *type,
	       const char *name, int flags)
{
	d->ops = ops;
	d->type = xstrdup(type);
	d->name = xstrdup(name);
	d->flags = flags;
	d->diags.v = NULL;
	d->diags.n = d->diags.cap = 0;
}

void dict_fini(struct dict *d)
{
	free(d->type);
	free(d->name);
	d->type = d->name = NULL;
	diag_clear(&d->diags);
}

/* ASCII only: table keys are addresses and domains, and the result must
 * not depend on the locale a daemon happens to run in. */
char *dict_fold_key(const struct dict *d, const char *key)
{
	char *k = xstrdup(key);

	if ((d->flags & DICT_FLAG_NOFOLD) == 0)
		for (char *p = k; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
	return k;
}

/* dict_space - Postfix's white space in table syntax */
static int dict_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

char *dict_unbrace(const char *s, size_t len)
{
	size_t start, end;

	if (len == 0 || s[0] != '{')
		return xstrndup(s, len);
	if (len < 2 || s[len - 1] != '}')
		return NULL;
	start = 1;
	end = len - 1;
	while (start < end && dict_space(s[start]))
		start++;
	while (end > start && dict_space(s[end - 1]))
		end--;
	return xstrndup(s + start, end - start);
}

int dict_has_key(const char *spec, const char *key, const char *what)
{
	char *err = NULL;
	struct dict *d = dict_open(spec, 0, &err);
	const char *value;
	enum dict_status st;

	if (d == NULL) {
		msg_warn("%s: %s", what, err);
		free(err);
		return -1;
	}
	st = dict_lookup(d, key, &value);
	dict_close(d);
	return st == DICT_FOUND ? 1 : st == DICT_NOTFOUND ? 0 : -1;
}
