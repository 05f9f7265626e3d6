/* smtpd_data - message content from DATA and BDAT, one byte state machine.
 *
 * The parser keeps its whole state in struct smtpd_data, so it gives the
 * same output for any split of its input (the unit test feeds every split
 * point). In DATA mode a line that starts with '.' loses that dot, and
 * the message ends only at CR LF "." CR LF: the SMTP smuggling sequences
 * (LF "." LF, CR "." CR, LF "." CR LF, CR LF "." LF, ...) end nothing and
 * are content. In BDAT mode there are no dots and the caller knows where
 * the content ends. Either way CR LF becomes LF (queue files hold LF line
 * ends); a CR not followed by LF and an LF without CR before it are passed
 * on and noted, so the session can refuse the message
 * (smtpd_forbid_bare_newline) or keep it.
 */
#include <string.h>

#include "smtpd.h"

enum {
	S_BOL,			/* at the start of a line */
	S_DOT,			/* DATA: "." at the start of a line */
	S_DOT_CR,		/* DATA: "." CR at the start of a line */
	S_TEXT,			/* inside a line */
	S_CR,			/* CR inside a line */
};

void smtpd_data_init(struct smtpd_data *d, enum smtpd_data_mode mode)
{
	memset(d, 0, sizeof(*d));
	d->mode = mode;
	d->state = S_BOL;
	d->bol_crlf = 1;
}

/* line_end - a line ended (crlf: properly) */
static void line_end(struct smtpd_data *d, int crlf, vstr *out)
{
	vstr_catc(out, '\n');
	if (!crlf)
		d->flags |= SMTPD_DATA_BARE_LF;
	d->bol_crlf = crlf;
	d->state = S_BOL;
	d->lines++;
}

/* step - one byte c; returns 1 when c was taken, 0 to see it again in the
 * new state */
static int step(struct smtpd_data *d, int c, vstr *out)
{
	switch (d->state) {
	case S_BOL:
		d->state = S_TEXT;
		if (c == '.' && d->mode == SMTPD_DATA_DOT) {
			d->state = S_DOT;
			return 1;
		}
		return 0;
	case S_DOT:
		if (c == '\r') {
			d->state = S_DOT_CR;
			return 1;
		}
		if (c == '\n') {
			line_end(d, 0, out);
			return 1;
		}
		d->state = S_TEXT;	/* the dot was stuffing */
		return 0;
	case S_DOT_CR:
		if (c == '\n') {
			if (d->bol_crlf)
				d->done = 1;
			else
				line_end(d, 1, out);
			return 1;
		}
		d->flags |= SMTPD_DATA_BARE_CR;
		vstr_catc(out, '\r');
		d->state = S_TEXT;
		return 0;
	case S_CR:
		if (c == '\n') {
			line_end(d, 1, out);
			return 1;
		}
		d->flags |= SMTPD_DATA_BARE_CR;
		vstr_catc(out, '\r');
		d->state = S_TEXT;
		return 0;
	default:		/* S_TEXT */
		if (c == '\r')
			d->state = S_CR;
		else if (c == '\n')
			line_end(d, 0, out);
		else
			vstr_catc(out, c);
		return 1;
	}
}

size_t smtpd_data_feed(struct smtpd_data *d, const char *buf, size_t len, vstr *out)
{
	size_t i = 0, before = vstr_len(out);

	while (i < len && !d->done) {
		if (d->state == S_TEXT && buf[i] != '\r' && buf[i] != '\n') {
			i += vstr_cat_to_eol(out, buf + i, len - i);
			continue;
		}
		i += (size_t)step(d, (unsigned char)buf[i], out);
	}
	d->in_bytes += (long long)i;
	d->out_bytes += (long long)(vstr_len(out) - before);
	return i;
}

void smtpd_data_finish(struct smtpd_data *d, vstr *out)
{
	size_t before = vstr_len(out);

	if (d->state == S_CR || d->state == S_DOT_CR) {
		d->flags |= SMTPD_DATA_BARE_CR;
		vstr_catc(out, '\r');
	}
	d->state = S_BOL;
	d->out_bytes += (long long)(vstr_len(out) - before);
}
