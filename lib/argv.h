/* argv - growable NULL-terminated arrays of strings, and list splitting.
 *
 * Used for command lines built by master, for parameter lists ("a, b c"),
 * and for master.cf's column splitting with Postfix's { ... } grouping.
 */
#ifndef POSTERN_ARGV_H
#define POSTERN_ARGV_H

#include <stddef.h>

struct argv {
	char **v;		/* v[n] is always NULL once anything was added */
	size_t n, cap;
};

#define ARGV_INIT { NULL, 0, 0 }

void argv_add(struct argv *a, const char *s);		/* copies s */
void argv_addn(struct argv *a, const char *s, size_t len);
void argv_free(struct argv *a);				/* frees contents, a reusable */

/* argv_split - splits s at any of the delimiter bytes, dropping empty
 * fields. Postfix lists use ", \t\r\n". Appends to a. */
void argv_split(struct argv *a, const char *s, const char *delims);

/* argv_split_braces - like argv_split, but "{ text }" is one field with the
 * braces and the white space just inside them removed (Postfix 3.0 syntax).
 * Returns 0, or -1 with a message in *err (malloc'ed) for unbalanced braces. */
int argv_split_braces(struct argv *a, const char *s, const char *delims, char **err);

#endif
