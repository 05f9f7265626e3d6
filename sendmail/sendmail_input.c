/* sendmail_input - the message on stdin, turned into queue content.
 *
 * What callers send: LF line ends, CRLF (PHP 8 headers), or a mixture;
 * raw 8-bit and UTF-8; sometimes an mbox "From " line first; without -i,
 * a line holding a single "." as end of input (also ".\r\n"). What the
 * queue holds: the same bytes with every line ending in a lone LF, the
 * From_ line gone, and a LF after a last line that had none. A CR that
 * is not followed by LF is content and stays.
 *
 * The converter is a small state machine fed any number of bytes at a
 * time, so it never needs the whole message in memory and gives the same
 * result however the input is split (the unit test feeds every split).
 */
#include <string.h>

#include "sendmail.h"

enum {
	ST_FIRST,		/* collecting the first bytes: a "From " line? */
	ST_BOL,			/* at the beginning of a line */
	ST_MID,			/* inside a line */
	ST_CR,			/* inside a line, a CR is pending */
	ST_DOT,			/* a line began with "." (lone-dot mode only) */
	ST_DOTCR,		/* a line began with ".\r" */
	ST_SKIP,		/* dropping the From_ line */
	ST_DONE,		/* a lone "." ended the input */
};

static const char from_[] = "From ";

void sm_input_init(struct sm_input *in, int lone_dot_ends)
{
	in->dots = lone_dot_ends;
	in->state = ST_FIRST;
	in->head_len = 0;
}

/* step - consumes at most one byte (0 when only the state changed) */
static size_t step(struct sm_input *in, const char *buf, size_t len, vstr *out)
{
	char c = buf[0];

	switch (in->state) {
	case ST_BOL:
		if (in->dots && c == '.') {
			in->state = ST_DOT;
			return 1;
		}
		in->state = ST_MID;
		return 0;
	case ST_MID:
		if (c != '\n' && c != '\r')
			return vstr_cat_to_eol(out, buf, len);
		in->state = c == '\r' ? ST_CR : ST_BOL;
		if (c == '\n')
			vstr_catc(out, '\n');
		return 1;
	case ST_CR:
		if (c == '\n') {
			vstr_catc(out, '\n');
			in->state = ST_BOL;
			return 1;
		}
		vstr_catc(out, '\r');		/* a bare CR is content */
		in->state = c == '\r' ? ST_CR : ST_MID;
		return c == '\r';
	case ST_DOT:
		if (c == '\n' || c == '\r') {
			in->state = c == '\n' ? ST_DONE : ST_DOTCR;
			return 1;
		}
		vstr_catc(out, '.');
		in->state = ST_MID;
		return 0;
	case ST_DOTCR:
		if (c == '\n') {
			in->state = ST_DONE;
			return 1;
		}
		vstr_catc(out, '.');
		in->state = ST_CR;
		return 0;
	case ST_SKIP:
		if (c == '\n')
			in->state = ST_BOL;
		return 1;
	default:			/* ST_DONE */
		return len;
	}
}

/* convert - runs bytes through the states after ST_FIRST */
static void convert(struct sm_input *in, const char *buf, size_t len, vstr *out)
{
	size_t pos = 0;

	while (pos < len && in->state != ST_DONE)
		pos += step(in, buf + pos, len - pos, out);
}

/* first_line - collects up to 5 bytes to recognise "From "; returns the
 * bytes consumed. On a mismatch the collected bytes are converted as an
 * ordinary first line. */
static size_t first_line(struct sm_input *in, const char *buf, size_t len, vstr *out)
{
	size_t used = 0;
	char head[sizeof(in->head)];

	while (used < len && in->head_len < sizeof(in->head)) {
		in->head[in->head_len++] = buf[used++];
		if (memcmp(in->head, from_, in->head_len) != 0)
			break;
	}
	if (in->head_len == sizeof(in->head) && memcmp(in->head, from_, sizeof(in->head)) == 0) {
		in->state = ST_SKIP;
	} else if (memcmp(in->head, from_, in->head_len) != 0) {
		memcpy(head, in->head, in->head_len);
		in->state = ST_BOL;
		convert(in, head, in->head_len, out);
	}
	return used;
}

int sm_input_feed(struct sm_input *in, const char *buf, size_t len, vstr *out)
{
	size_t used = 0;

	if (in->state == ST_FIRST)
		used = first_line(in, buf, len, out);
	if (in->state != ST_FIRST)
		convert(in, buf + used, len - used, out);
	return in->state == ST_DONE;
}

void sm_input_finish(struct sm_input *in, vstr *out)
{
	char head[sizeof(in->head)];

	if (in->state == ST_FIRST) {	/* shorter than "From ": ordinary */
		memcpy(head, in->head, in->head_len);
		in->state = ST_BOL;
		convert(in, head, in->head_len, out);
	}
	switch (in->state) {
	case ST_MID:
	case ST_CR:			/* "text\r" at the end: a CRLF line */
		vstr_catc(out, '\n');
		break;
	case ST_DOT:
	case ST_DOTCR:			/* "." at the end ends the input */
		in->state = ST_DONE;
		break;
	default:
		break;
	}
	if (in->state != ST_DONE)
		in->state = ST_BOL;
}
