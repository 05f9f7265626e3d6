/* maildrop - the record stream from sendmail to postdrop, and the files
 * postdrop leaves in maildrop/ for pickup.
 *
 * The full sequence is described at the top of postdrop/postdrop.c. This
 * header holds what the writer (sendmail), the gatekeeper (postdrop) and
 * the reader (pickup) must agree on: the version string, the caps on
 * envelope fields, and the checks of the values that are not free text.
 */
#ifndef POSTERN_MAILDROP_H
#define POSTERN_MAILDROP_H

#include <stddef.h>

#define MAILDROP_VERSION	"postern-maildrop 1"

/* Envelope records (S F A N R) carry at most this many bytes, and never
 * CR, LF or NUL. 2048 is Postfix's line_length_limit. */
#define MAILDROP_FIELD_MAX	2048

/* RFC 3461 ENVID, as Postfix's sendmail -V: printable, at most 100. */
#define MAILDROP_ENVID_MAX	100

/* maildrop_field_ok - 1 when data may be an envelope field */
int maildrop_field_ok(const char *data, size_t len);

/* maildrop_notify_canon - "success,failure" (any case, commas and
 * spaces) as RFC 3461 NOTIFY in canonical form ("SUCCESS,FAILURE",
 * always in the order SUCCESS, FAILURE, DELAY; or "NEVER") into out.
 * Returns 0, or -1 for an unknown word, NEVER with another word, or no
 * word at all. */
int maildrop_notify_canon(const char *in, size_t len, char *out, size_t size);

/* maildrop_envid_ok - printable ASCII without spaces, 1..100 bytes */
int maildrop_envid_ok(const char *data, size_t len);

/* maildrop_attr_ok - 1 when "name=value" is an attribute sendmail may
 * send: notify (canonical), ret (FULL, HDRS), envid, body_type (7BIT,
 * 8BITMIME). *name_index gets which one (0..3), so each can be counted. */
int maildrop_attr_ok(const char *data, size_t len, int *name_index);

#endif
