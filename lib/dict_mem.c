/* dict_mem - an in-memory lookup table, filled once at open.
 *
 * inline: and texthash: parse their source into one of these; it owns a
 * hash table of folded keys to values (htable.h). Lookups fold the key the
 * same way, so a table opened without DICT_FLAG_NOFOLD is case-blind.
 */
#include <stdlib.h>

#include "dict.h"
#include "htable.h"
#include "mem.h"
#include "msg.h"

struct dict_mem {
	struct dict head;	/* first: a struct dict * is a struct dict_mem * */
	struct htable table;
};

static enum dict_status dict_mem_lookup(struct dict *d, const char *key, const char **value)
{
	struct dict_mem *m = (struct dict_mem *)d;
	char *k = dict_fold_key(d, key);
	const char *v = htable_find(&m->table, k);

	free(k);
	if (v == NULL)
		return DICT_NOTFOUND;
	*value = v;
	return DICT_FOUND;
}

static void dict_mem_close(struct dict *d)
{
	struct dict_mem *m = (struct dict_mem *)d;

	htable_free(&m->table, free);
	dict_fini(d);
	free(m);
}

static const struct dict_ops dict_mem_ops = { dict_mem_lookup, dict_mem_close };

/* dict_mem_of - d as a dict_mem; anything else is a caller bug */
static struct dict_mem *dict_mem_of(const struct dict *d)
{
	if (d->ops != &dict_mem_ops)
		msg_panic("dict_mem: %s:%s is not an in-memory table", d->type, d->name);
	return (struct dict_mem *)d;
}

struct dict *dict_mem_new(const char *type, const char *name, int flags)
{
	struct dict_mem *m = xcalloc(1, sizeof(*m));

	dict_init(&m->head, &dict_mem_ops, type, name, flags);
	htable_init(&m->table);
	return &m->head;
}

int dict_mem_add(struct dict *d, const char *key, const char *value)
{
	struct dict_mem *m = dict_mem_of(d);
	char *k = dict_fold_key(d, key), *v = xstrdup(value);
	int ret = htable_enter(&m->table, k, v);

	if (ret < 0)
		free(v);
	free(k);
	return ret;
}

size_t dict_mem_count(const struct dict *d)
{
	return dict_mem_of(d)->table.used;
}
