/* sendmail_headers - the header block of a message, for sendmail -t.
 *
 * The header block is the lines from the start of the content up to the
 * first empty line, or up to the first line that is neither a header
 * ("Name:" with a printable name, white space allowed before the colon)
 * nor a continuation of one (starting with a space or a tab); a message
 * without headers has an empty block. Recipients come from To, Cc and
 * Bcc, or, when any Resent- header is present, only from Resent-To,
 * Resent-Cc and Resent-Bcc (a resent message goes to the new recipients,
 * not again to the original ones; Postfix and Sendmail do the same).
 * Bcc stays in the message: cleanup removes it from every message.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "mem.h"
#include "sendmail.h"

void sm_headers_init(struct sm_headers *h)
{
	memset(h, 0, sizeof(*h));
}

/* name_len - length of the field name of a header line, up to and
 * including its colon; 0 if the line is not a header line */
static size_t name_len(const char *line, size_t len)
{
	size_t n = 0;

	while (n < len && line[n] > 32 && line[n] < 127 && line[n] != ':')
		n++;
	if (n == 0)
		return 0;
	while (n < len && (line[n] == ' ' || line[n] == '\t'))
		n++;
	return n < len && line[n] == ':' ? n + 1 : 0;
}

/* is_header_line - a header, or a continuation that has one to continue */
static int is_header_line(const char *line, size_t len, int first)
{
	if (len > 0 && (line[0] == ' ' || line[0] == '\t'))
		return !first;
	return name_len(line, len) > 0;
}

int sm_headers_scan(struct sm_headers *h, const char *content, size_t len, int at_eof)
{
	const char *line, *nl;
	size_t llen;

	while (!h->done && h->next < len) {
		line = content + h->next;
		if ((nl = memchr(line, '\n', len - h->next)) == NULL)
			break;
		llen = (size_t)(nl - line);
		if (llen == 0 || !is_header_line(line, llen, h->next == 0)) {
			h->end = h->next;
			h->done = 1;
		} else {
			h->next += llen + 1;
		}
	}
	if (!h->done && (at_eof || len >= SM_HEADER_SCAN_MAX)) {
		h->truncated = !at_eof;
		h->end = h->next;
		h->done = 1;
	}
	return h->done;
}

enum { HDR_OTHER, HDR_RCPT, HDR_RESENT_RCPT, HDR_RESENT_OTHER };

/* header_kind - what a field name (without colon and white space) is */
static int header_kind(const char *name, size_t len)
{
	static const char *const rcpt[] = {"To", "Cc", "Bcc"};
	int resent = len >= 7 && strncasecmp(name, "Resent-", 7) == 0;

	if (resent) {
		name += 7;
		len -= 7;
	}
	for (size_t i = 0; i < sizeof(rcpt) / sizeof(rcpt[0]); i++)
		if (strlen(rcpt[i]) == len && strncasecmp(name, rcpt[i], len) == 0)
			return resent ? HDR_RESENT_RCPT : HDR_RCPT;
	return resent ? HDR_RESENT_OTHER : HDR_OTHER;
}

/* logical_end - end of the header that starts at pos: past its
 * continuation lines */
static size_t logical_end(const char *block, size_t len, size_t pos)
{
	const char *nl;

	for (;;) {
		nl = memchr(block + pos, '\n', len - pos);
		pos = nl ? (size_t)(nl - block) + 1 : len;
		if (pos >= len || (block[pos] != ' ' && block[pos] != '\t'))
			return pos;
	}
}

int sm_headers_recipients(const char *block, size_t len, struct argv *out)
{
	struct argv plain = ARGV_INIT, resent = ARGV_INIT;
	size_t pos = 0, end, nlen, flen;
	int errors = 0, resent_seen = 0, kind;
	char *value;

	while (pos < len) {
		end = logical_end(block, len, pos);
		flen = name_len(block + pos, end - pos);
		if (flen > 0) {
			for (nlen = 0; block[pos + nlen] > 32 && block[pos + nlen] != ':'; nlen++)
				;
			kind = header_kind(block + pos, nlen);
			resent_seen |= kind == HDR_RESENT_RCPT || kind == HDR_RESENT_OTHER;
			if (kind == HDR_RCPT || kind == HDR_RESENT_RCPT) {
				value = xstrndup(block + pos + flen, end - pos - flen);
				errors |= addr_list_parse(value, kind == HDR_RCPT ? &plain : &resent);
				free(value);
			}
		}
		pos = end;
	}
	for (size_t i = 0; i < (resent_seen ? resent.n : plain.n); i++)
		argv_add(out, resent_seen ? resent.v[i] : plain.v[i]);
	argv_free(&plain);
	argv_free(&resent);
	return errors;
}
