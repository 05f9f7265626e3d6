/* dict_cidr - "cidr:/path": Postfix's cidr_table(5), read into memory at
 * open.
 *
 * Each logical line is "network result": a network as cidr.h parses one
 * ("192.0.2.0/24", "192.0.2.1", "2001:db8::/32", "[2001:db8::]/32"),
 * white space, and the result (the rest of the line, trimmed). Lines are
 * read by the Postfix source-file reader (dict_texthash.c): '#' comment
 * lines and blank lines are skipped, and a line that starts with white
 * space continues the previous one. A key looked up is a client address;
 * the first line whose network contains it gives the result, so order
 * matters and a repeated network is allowed (the later line never wins).
 * A key that is not an address is simply not found.
 *
 * Postfix 3.2's "!network" and if/endif are not supported: such a line is
 * a bad line. A bad line (no result, a bad network, host bits set) is an
 * error in d->diags with the file and line, and is skipped; a file that
 * cannot be read makes the table fail to open.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "dict.h"
#include "mem.h"

struct dict_cidr {
	struct dict head;	/* first */
	struct cidr_list *nets;
	char **results;		/* results[i] belongs to network entry i */
	size_t nresults, cap;
};

/* dict_cidr_result - keeps value as the result of the newest entry */
static void dict_cidr_result(struct dict_cidr *c, const char *value)
{
	if (c->nresults == c->cap) {
		c->cap = c->cap ? size_add(c->cap, c->cap) : 16;
		c->results = xreallocarray(c->results, c->cap, sizeof(*c->results));
	}
	c->results[c->nresults++] = xstrdup(value);
}

/* dict_cidr_entry - one "network result" line */
static void dict_cidr_entry(void *ctx, const char *key, const char *value, int lineno)
{
	struct dict_cidr *c = ctx;
	char *err = NULL;

	if (cidr_list_add(c->nets, key, &err) < 0) {
		diag_add(&c->head.diags, DIAG_ERROR, c->head.name, lineno,
			 "%s; line skipped", err);
		free(err);
		return;
	}
	dict_cidr_result(c, value);
}

static enum dict_status dict_cidr_lookup(struct dict *d, const char *key, const char **value)
{
	struct dict_cidr *c = (struct dict_cidr *)d;
	size_t i;

	if (cidr_list_find(c->nets, key, &i) != 1 || i >= c->nresults)
		return DICT_NOTFOUND;
	*value = c->results[i];
	return DICT_FOUND;
}

static void dict_cidr_close(struct dict *d)
{
	struct dict_cidr *c = (struct dict_cidr *)d;

	for (size_t i = 0; i < c->nresults; i++)
		free(c->results[i]);
	free(c->results);
	cidr_list_free(c->nets);
	dict_fini(d);
	free(c);
}

static const struct dict_ops dict_cidr_ops = { dict_cidr_lookup, dict_cidr_close };

struct dict *dict_cidr_open(const char *path, int flags, char **err)
{
	struct dict_cidr *c;
	char *why = NULL;
	int ret;

	if (*path == 0) {
		*err = xstrdup("bad table \"cidr:\": need cidr:/path");
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	dict_init(&c->head, &dict_cidr_ops, "cidr", path, flags);
	c->nets = cidr_list_new();
	ret = dict_source_entries(path, DIAG_ERROR, dict_cidr_entry, c, &c->head.diags, &why);
	if (ret < 0) {
		*err = xasprintf("%s cidr:%s: %s", ret == -1 ? "open" : "read",
				 path, strerror(errno));
		free(why);
		dict_close(&c->head);
		return NULL;
	}
	return &c->head;
}
