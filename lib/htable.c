/* htable - a chained hash table from strings to pointers; see htable.h. */
#include <stdlib.h>
#include <string.h>

#include "htable.h"
#include "mem.h"

#define HTABLE_MIN	16

void htable_init(struct htable *h)
{
	h->buckets = NULL;
	h->size = h->used = 0;
}

/* htable_hash - 64-bit FNV-1a */
static uint64_t htable_hash(const char *key)
{
	uint64_t hash = 0xcbf29ce484222325ULL;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		hash ^= *p;
		hash *= 0x100000001b3ULL;
	}
	return hash;
}

/* htable_grow - doubles the bucket array and rehashes the chains */
static void htable_grow(struct htable *h)
{
	size_t size = h->size ? h->size : HTABLE_MIN / 2;
	struct htable_ent **b;

	if (size > ((size_t)-1) / 2 / sizeof(*b))
		return;			/* cannot double: chains just get longer */
	size *= 2;
	b = xcalloc(size, sizeof(*b));
	for (size_t i = 0; i < h->size; i++) {
		struct htable_ent *e = h->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (size - 1)];
			b[e->hash & (size - 1)] = e;
		}
	}
	free(h->buckets);
	h->buckets = b;
	h->size = size;
}

struct htable_ent *htable_locate(const struct htable *h, const char *key)
{
	uint64_t hash;

	if (h->size == 0)
		return NULL;
	hash = htable_hash(key);
	for (struct htable_ent *e = h->buckets[hash & (h->size - 1)]; e; e = e->next)
		if (e->hash == hash && strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

void *htable_find(const struct htable *h, const char *key)
{
	struct htable_ent *e = htable_locate(h, key);

	return e ? e->value : NULL;
}

int htable_enter(struct htable *h, const char *key, void *value)
{
	struct htable_ent *e;
	size_t i;

	if (htable_locate(h, key) != NULL)
		return -1;
	if (h->used >= h->size)
		htable_grow(h);
	e = xmalloc(sizeof(*e));
	e->key = xstrdup(key);
	e->value = value;
	e->hash = htable_hash(key);
	i = e->hash & (h->size - 1);
	e->next = h->buckets[i];
	h->buckets[i] = e;
	h->used++;
	return 0;
}

void htable_free(struct htable *h, void (*free_value)(void *))
{
	for (size_t i = 0; i < h->size; i++) {
		struct htable_ent *e = h->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			if (free_value)
				free_value(e->value);
			free(e->key);
			free(e);
		}
	}
	free(h->buckets);
	htable_init(h);
}
