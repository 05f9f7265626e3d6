/* addr - RFC 5322 addresses reduced to addr-specs.
 *
 * Shared by sendmail (-t and command-line recipients), cleanup and local.
 * addr_list_parse takes the value of an address-list header (To, Cc, Bcc,
 * Resent-*, From) and appends every addr-spec it finds: display names and
 * comments (nested too) are dropped, "Name <a@b>" gives a@b, groups give
 * their members ("undisclosed-recipients:;" gives nothing), and obsolete
 * source routes are dropped ("<@a,@b:user@c>" gives user@c). Folded
 * values may be passed as they are: CR and LF count as white space.
 *
 * Output is the canonical external form: white space and comments
 * removed, the local part unquoted when it consists of atext and dots
 * only (bytes >= 0x80 count as atext, RFC 6532), else quoted with '\'
 * before '"' and '\'; the domain as written (dot-atoms or a [literal]). A
 * local part without a domain ("root") is an address too: cleanup
 * qualifies it. No output ever holds CR, LF or NUL.
 *
 * The parser reads the string and nothing past its NUL, allocates in
 * proportion to its length, and never recurses. Bad syntax (an unclosed
 * quote, comment, literal or angle address, a group without ';', words
 * that do not form an address) never stops it: it appends what is sane
 * and reports the trouble as ADDR_ERR_* bits.
 */
#ifndef POSTERN_ADDR_H
#define POSTERN_ADDR_H

#include "argv.h"

#define ADDR_ERR_QUOTE		(1 << 0)	/* quoted string not closed */
#define ADDR_ERR_COMMENT	(1 << 1)	/* comment not closed, stray ')' */
#define ADDR_ERR_LITERAL	(1 << 2)	/* [domain literal] not closed */
#define ADDR_ERR_ANGLE		(1 << 3)	/* '<' without '>', stray '>' */
#define ADDR_ERR_GROUP		(1 << 4)	/* group without ';', nested group */
#define ADDR_ERR_SYNTAX		(1 << 5)	/* something else was skipped */

/* addr_list_parse - appends the addr-specs of value to out; returns 0, or
 * the ADDR_ERR_* bits of what was wrong (the sane addresses are still
 * appended). */
int addr_list_parse(const char *value, struct argv *out);

/* addr_strip - the one address in a command-line argument ("Name <a@b>",
 * "<a@b>", "a@b" all give "a@b"), malloc'ed; NULL when arg holds no
 * address, more than one, or bad syntax. */
char *addr_strip(const char *arg);

/* addr_error_text - a short description of the first bit set in errors. */
const char *addr_error_text(int errors);

#endif
