/* htable - a hash table from strings to pointers.
 *
 * Used by the in-memory lookup tables (inline:, texthash:) and by anything
 * else that needs a string-keyed index. Chaining with FNV-1a; the table
 * doubles when it holds more entries than buckets, so lookups stay O(1).
 * Keys are copied; values belong to the caller (htable_free can free them).
 */
#ifndef POSTERN_HTABLE_H
#define POSTERN_HTABLE_H

#include <stddef.h>
#include <stdint.h>

struct htable_ent {
	struct htable_ent *next;
	char *key;
	void *value;
	uint64_t hash;
};

struct htable {
	struct htable_ent **buckets;
	size_t size;		/* bucket count, a power of two, or 0 */
	size_t used;		/* entries */
};

#define HTABLE_INIT { NULL, 0, 0 }

void htable_init(struct htable *h);

/* htable_enter - adds key -> value and returns 0, or returns -1 and leaves
 * the table unchanged when key is already present (the first one wins). */
int htable_enter(struct htable *h, const char *key, void *value);

/* htable_locate / htable_find - the entry or value for key, or NULL. */
struct htable_ent *htable_locate(const struct htable *h, const char *key);
void *htable_find(const struct htable *h, const char *key);

/* htable_free - frees every entry (and value, with free_value unless it is
 * NULL); h is then empty and reusable. */
void htable_free(struct htable *h, void (*free_value)(void *));

#endif
