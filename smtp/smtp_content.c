/* smtp_content - the queue file's content as SMTP DATA: LF becomes CRLF,
 * a line that starts with "." gets another (RFC 5321 4.5.2), and a line
 * longer than smtp_line_length_limit is broken by inserting CRLF SPACE, as
 * Postfix does, to minimise the damage to MIME. Pure: the caller hands in
 * chunks of any size and writes out the buffer when it has grown. Copies
 * runs of bytes at once; no per-byte appends on the common path. */
#include <string.h>

#include "smtp.h"

void smtp_conv_init(struct smtp_conv *c, size_t limit)
{
	c->bol = 1;
	c->col = 0;
	c->limit = limit;
}

/* put_run - bytes of one line without its LF, breaking long lines */
static void put_run(struct smtp_conv *c, const char *p, size_t n, vstr *out)
{
	while (n > 0) {
		size_t take = n;

		if (c->bol && *p == '.')
			vstr_catc(out, '.');
		c->bol = 0;
		if (c->limit && c->col + take > c->limit)
			take = c->limit - c->col;
		vstr_ncat(out, p, take);
		c->col += take;
		p += take;
		n -= take;
		if (n > 0) {
			vstr_ncat(out, "\r\n ", 3);
			c->col = 1;
		}
	}
}

void smtp_conv_feed(struct smtp_conv *c, const char *in, size_t len, vstr *out)
{
	while (len > 0) {
		const char *nl = memchr(in, '\n', len);
		size_t n = nl ? (size_t)(nl - in) : len;

		put_run(c, in, n, out);
		if (nl == NULL)
			return;
		vstr_ncat(out, "\r\n", 2);
		c->bol = 1;
		c->col = 0;
		in += n + 1;
		len -= n + 1;
	}
}

void smtp_conv_end(struct smtp_conv *c, vstr *out)
{
	if (!c->bol)
		vstr_ncat(out, "\r\n", 2);
	vstr_ncat(out, ".\r\n", 3);
	c->bol = 1;
	c->col = 0;
}
