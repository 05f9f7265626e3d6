/* cleanup_headers - the header block of a new message.
 *
 * The header block ends at the first empty line, or at the first line that
 * is neither a header ("name:" with a printable name) nor a continuation,
 * or when it would exceed header_size_limit; then the rest is body and a
 * blank line is inserted before it. Headers named in message_drop_headers
 * (Bcc among them) are removed; Received: and Delivered-To: are counted
 * against hopcount_limit. Local submissions get a Received: line and, when
 * missing, From:, Date:, Message-Id: and the undisclosed-recipients To:.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "argv.h"
#include "cleanup.h"
#include "cleanup_client.h"
#include "config.h"
#include "mem.h"
#include "msg.h"

/* header_name_len - length of "name" when line starts "name:", else 0 */
static size_t header_name_len(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c == ':')
			return i;
		if (c <= 32 || c >= 127)
			return 0;
	}
	return 0;
}

long cleanup_header_split(const char *text, size_t len, int at_end, int *body_sep)
{
	size_t pos = 0, limit = (size_t)conf_int("header_size_limit");
	const char *nl;
	size_t llen;

	*body_sep = 0;
	while (pos < len) {
		nl = memchr(text + pos, '\n', len - pos);
		if (nl == NULL && !at_end) {
			if (len <= limit)
				return -1;	/* wait for the rest of the line */
			*body_sep = 1;		/* a header block that long is body */
			return (long)pos;
		}
		llen = nl ? (size_t)(nl - (text + pos)) : len - pos;
		if (llen == 0)
			return (long)pos + 1;			/* the empty line */
		if (pos + llen > limit
		    || (pos == 0 && (text[0] == ' ' || text[0] == '\t'))
		    || (text[pos] != ' ' && text[pos] != '\t' && header_name_len(text + pos, llen) == 0)) {
			*body_sep = 1;
			return (long)pos;
		}
		pos += llen + (nl != NULL);
	}
	return at_end ? (long)pos : -1;
}

struct header_facts {
	int from, date, message_id, to_cc, hops;
};

static int in_list(const char *name, size_t nlen, const char *param)
{
	struct argv list = ARGV_INIT;
	int hit = 0;

	argv_split(&list, conf_str(param), ", \t\r\n");
	for (size_t i = 0; i < list.n && !hit; i++)
		hit = strlen(list.v[i]) == nlen && strncasecmp(list.v[i], name, nlen) == 0;
	argv_free(&list);
	return hit;
}

static int name_is(const char *name, size_t nlen, const char *want)
{
	return strlen(want) == nlen && strncasecmp(name, want, nlen) == 0;
}

/* note_message_id - remembers the Message-Id value for the log */
static void note_message_id(struct cleanup_state *st, const char *value, size_t len)
{
	while (len > 0 && isspace((unsigned char)*value)) {
		value++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)value[len - 1]))
		len--;
	free(st->message_id);
	st->message_id = xstrndup(value, len);
}

/* one_header - a logical header (with continuation lines): keep or drop */
static void one_header(struct cleanup_state *st, const char *h, size_t len,
		       struct header_facts *f, vstr *out)
{
	size_t nlen = header_name_len(h, len);

	if (name_is(h, nlen, "received") || name_is(h, nlen, "delivered-to"))
		f->hops++;
	if (in_list(h, nlen, "message_drop_headers"))
		return;
	if (name_is(h, nlen, "from") || name_is(h, nlen, "resent-from"))
		f->from = 1;
	else if (name_is(h, nlen, "date") || name_is(h, nlen, "resent-date"))
		f->date = 1;
	else if (name_is(h, nlen, "to") || name_is(h, nlen, "cc"))
		f->to_cc = 1;
	else if (name_is(h, nlen, "message-id") || name_is(h, nlen, "resent-message-id")) {
		f->message_id = 1;
		if (name_is(h, nlen, "message-id"))
			note_message_id(st, h + nlen + 1, len - nlen - 1);
	}
	vstr_ncat(out, h, len);
}

static void rfc5322_date(char *buf, size_t size, time_t when)
{
	struct tm tm;

	localtime_r(&when, &tm);
	strftime(buf, size, "%a, %d %b %Y %H:%M:%S %z (%Z)", &tm);
}

/* from_header - "From: Full Name <addr>", quoting the name when needed */
static void from_header(const struct cleanup_state *st, vstr *out)
{
	const char *addr = *st->sender ? st->sender : "MAILER-DAEMON";
	const char *name = st->fullname;

	if (name == NULL || *name == 0) {
		vstr_catf(out, "From: %s\n", addr);
		return;
	}
	if (strpbrk(name, "()<>[]:;@\\,.\"") == NULL) {
		vstr_catf(out, "From: %s <%s>\n", name, addr);
		return;
	}
	vstr_cat(out, "From: \"");
	for (const char *p = name; *p; p++) {
		if (*p == '"' || *p == '\\')
			vstr_catc(out, '\\');
		vstr_catc(out, *p);
	}
	vstr_catf(out, "\" <%s>\n", addr);
}

static void add_missing(struct cleanup_state *st, const struct header_facts *f, vstr *out)
{
	char date[64], stamp[32];
	struct tm tm;

	rfc5322_date(date, sizeof(date), st->arrival.tv_sec);
	if (!f->from)
		from_header(st, out);
	if (!f->date)
		vstr_catf(out, "Date: %s\n", date);
	if (!f->message_id) {
		gmtime_r(&st->arrival.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
		free(st->message_id);
		st->message_id = xasprintf("<%s.%s@%s>", stamp, st->id, conf_str("myhostname"));
		vstr_catf(out, "Message-Id: %s\n", st->message_id);
	}
	if (!f->to_cc && *conf_str("undisclosed_recipients_header"))
		vstr_catf(out, "%s\n", conf_str("undisclosed_recipients_header"));
}

static void received_header(const struct cleanup_state *st, vstr *out)
{
	char date[64];

	rfc5322_date(date, sizeof(date), st->arrival.tv_sec);
	vstr_catf(out, "Received: by %s (postern, from userid %ld)\n\tid %s; %s\n",
		  conf_str("myhostname"), st->uid, st->id, date);
}

void cleanup_headers_process(struct cleanup_state *st, const char *hdr, size_t len,
			     int body_sep, vstr *out)
{
	struct header_facts f = {0, 0, 0, 0, 0};
	int local = (st->flags & CLEANUP_FLAG_LOCAL) != 0, blank = 0;
	size_t pos = 0, start, end;

	if (len > 0 && hdr[len - 1] == '\n' && (len == 1 || hdr[len - 2] == '\n')) {
		blank = 1;
		len--;			/* the empty line; written back below */
	}
	if (local)
		received_header(st, out);
	while (pos < len) {
		start = pos;
		do {			/* a header and its continuation lines */
			const char *nl = memchr(hdr + pos, '\n', len - pos);

			end = nl ? (size_t)(nl - hdr) + 1 : len;
			pos = end;
		} while (pos < len && (hdr[pos] == ' ' || hdr[pos] == '\t'));
		one_header(st, hdr + start, end - start, &f, out);
		if (vstr_len(out) && vstr_str(out)[vstr_len(out) - 1] != '\n')
			vstr_catc(out, '\n');
	}
	if (f.hops > conf_int("hopcount_limit"))
		cleanup_fail(st, 5, "5.4.6", "too many hops (%d Received/Delivered-To headers)", f.hops);
	if (local)
		add_missing(st, &f, out);
	if (blank || body_sep)
		vstr_catc(out, '\n');
}
