/* cidr - IPv4/IPv6 network lists: mynetworks and cidr: tables.
 *
 * A list is built from text in Postfix's mynetworks syntax: entries
 * separated by commas and/or white space, each an address ("192.0.2.1",
 * "::1", "[::1]"), a network ("192.0.2.0/24", "[2001:db8::]/32"), or
 * "!" before either to exclude it (first match wins); "/file" reads more
 * entries from a file (one or more per line, '#' comments). Host bits
 * set in a network ("192.0.2.1/24") are an error, as in Postfix.
 * IPv4-mapped IPv6 addresses (::ffff:192.0.2.1) match IPv4 entries.
 * Nothing is ever looked up in DNS: a name is an error.
 */
#ifndef POSTERN_CIDR_H
#define POSTERN_CIDR_H

#include "diag.h"

struct cidr_list;

/* cidr_list_parse - problems (bad entries, unreadable files) go to dl with
 * the name of the parameter or file; bad entries are skipped. Never NULL. */
struct cidr_list *cidr_list_parse(const char *text, const char *what, struct diaglist *dl);
void cidr_list_free(struct cidr_list *l);

/* cidr_list_match - 1 when addr (numeric text, v4 or v6, brackets allowed)
 * matches a positive entry before any negative one, 0 otherwise, -1 when
 * addr is not a valid address. */
int cidr_list_match(const struct cidr_list *l, const char *addr);

/* cidr_mynetworks_default - the default for mynetworks from
 * mynetworks_style: "host" (the machine's own addresses: 127.0.0.0/8 and
 * [::1]/128 plus the addresses of the interfaces), "subnet" (the
 * interfaces' subnets), "class" (their class A/B/C networks). Returns a
 * malloc'ed list text. Reads interfaces with getifaddrs(), never DNS. */
char *cidr_mynetworks_default(const char *style);

/* For cidr: tables (dict_cidr.c), whose entries are single networks with
 * a result each. cidr_list_new - an empty list. cidr_list_add - appends
 * one network (no "!", no "/file", no separators) as entry number
 * cidr_list_count() - 1: 0, or -1 with a message in *err (malloc'ed).
 * cidr_list_find - 1 with *index of the first entry (negated or not)
 * that addr falls in, 0 when none does, -1 when addr is not valid. */
struct cidr_list *cidr_list_new(void);
int cidr_list_add(struct cidr_list *l, const char *network, char **err);
size_t cidr_list_count(const struct cidr_list *l);
int cidr_list_find(const struct cidr_list *l, const char *addr, size_t *index);

#endif
