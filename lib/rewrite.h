/* rewrite - addresses in canonical form, and the local-domain test.
 *
 * canonical form (trivial-rewrite's "rewrite" in Postfix, local context):
 * a bare "user" becomes "user@$myorigin"; the domain is lower-cased and
 * loses a trailing dot; the local part is kept as written (it may be
 * case-sensitive). "" (the null sender) stays "".
 *
 * rewrite_is_local_domain: is the domain one of $mydestination (whose
 * default lists $myhostname and localhost)? Names are compared
 * case-insensitively; entries that are lookup tables (type:name) are
 * looked up with the domain as key; when such a table cannot be read the
 * answer is -1 ("don't know": callers defer rather than guess).
 *
 * rewrite_is_relay_domain: is the domain one of $relay_domains? The one
 * matcher that smtpd (reject_unauth_destination) and trivial-rewrite (the
 * relay address class) share, so both always agree: an entry "name"
 * matches that domain exactly, ".name" its subdomains only, a type:name
 * table is looked up with the domain as key; case-insensitive; -1 when a
 * table cannot be read. Address literals are the caller's business (never
 * relay domains).
 */
#ifndef POSTERN_REWRITE_H
#define POSTERN_REWRITE_H

char *rewrite_canonical(const char *addr);		/* malloc'ed */
const char *rewrite_domain(const char *addr);		/* after the last '@', or "" */
char *rewrite_localpart(const char *addr);		/* before the last '@', malloc'ed */
int rewrite_is_local_domain(const char *domain);
int rewrite_is_relay_domain(const char *domain);
int rewrite_is_local(const char *addr);			/* its domain is local */

#endif
