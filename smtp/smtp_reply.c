/* smtp_reply - the parser of what an SMTP/LMTP server says, and of the
 * EHLO keywords. Pure functions over bytes from the network: any input
 * gives a reply (a malformed one has code 0), memory per reply is bounded
 * by SMTP_REPLY_MAX, and bytes may arrive split at any point. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "smtp.h"

void smtp_reply_init(struct smtp_reply *r)
{
	memset(r, 0, sizeof(*r));
	vstr_init(&r->text);
	vstr_init(&r->line);
}

void smtp_reply_reset(struct smtp_reply *r)
{
	r->code = 0;
	r->dsn[0] = 0;
	vstr_reset(&r->text);
	vstr_reset(&r->line);
	r->line_len = 0;
	r->lines = 0;
}

void smtp_reply_free(struct smtp_reply *r)
{
	vstr_release(&r->text);
	vstr_release(&r->line);
}

/* line_code - the code of a line "DDD", "DDD text" or "DDD-text"; 0 if bad.
 * *more is set for a continuation line. */
static int line_code(const char *s, size_t len, int *more)
{
	*more = 0;
	if (len < 3 || s[0] < '1' || s[0] > '5' || !isdigit((unsigned char)s[1])
	    || !isdigit((unsigned char)s[2]))
		return 0;
	if (len > 3 && s[3] != ' ' && s[3] != '-')
		return 0;
	*more = len > 3 && s[3] == '-';
	return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
}

/* set_dsn - the enhanced status code at the start of the text, if its
 * class matches the reply code; else the class default C.0.0 */
static void set_dsn(struct smtp_reply *r)
{
	const char *t = vstr_str(&r->text), *p;
	char cls = (char)('0' + r->code / 100);

	r->dsn[0] = 0;
	if (r->code == 0)
		return;
	t = strlen(t) > 4 ? t + 4 : "";
	p = t;
	if (*p == cls && p[1] == '.') {
		size_t n = 2 + strspn(p + 2, "0123456789");

		if (n > 2 && n <= 5 && p[n] == '.') {
			size_t m = strspn(p + n + 1, "0123456789");

			if (m >= 1 && m <= 3 && (p[n + 1 + m] == 0 || p[n + 1 + m] == ' ' || p[n + 1 + m] == '\n')) {
				memcpy(r->dsn, p, n + 1 + m);
				r->dsn[n + 1 + m] = 0;
				return;
			}
		}
	}
	r->dsn[0] = cls;
	memcpy(r->dsn + 1, ".0.0", 5);
}

/* end_line - a whole line is in r->line; 1 when it ends the reply */
static int end_line(struct smtp_reply *r)
{
	const char *s = vstr_str(&r->line);
	size_t len = vstr_len(&r->line);
	int more, code;

	if (len && s[len - 1] == '\r')
		len--;
	code = line_code(s, len, &more);
	if (vstr_len(&r->text) && vstr_len(&r->text) < SMTP_REPLY_MAX)
		vstr_catc(&r->text, '\n');
	if (vstr_len(&r->text) < SMTP_REPLY_MAX)
		vstr_ncat(&r->text, s, len < SMTP_REPLY_MAX - vstr_len(&r->text)
			  ? len : SMTP_REPLY_MAX - vstr_len(&r->text));
	vstr_reset(&r->line);
	r->line_len = 0;
	r->lines++;
	if (code == 0 || (r->code && code != r->code && more)) {
		r->code = 0;		/* malformed: ends the reply */
		return 1;
	}
	r->code = code;
	if (more && r->lines < SMTP_REPLY_LINES)
		return 0;
	if (more)
		r->code = 0;
	set_dsn(r);
	return 1;
}

int smtp_reply_feed(struct smtp_reply *r, const char *buf, size_t len, size_t *used)
{
	size_t i = 0;

	while (i < len) {
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (buf + i)) : len - i;
		size_t room = r->line_len < SMTP_REPLY_MAX ? SMTP_REPLY_MAX - r->line_len : 0;

		vstr_ncat(&r->line, buf + i, n < room ? n : room);
		r->line_len += n;
		i += n;
		if (nl == NULL)
			break;
		i++;
		if (end_line(r)) {
			*used = i;
			return 1;
		}
	}
	*used = i;
	return 0;
}

void smtp_reply_oneline(const struct smtp_reply *r, vstr *out)
{
	const char *t = vstr_str(&r->text);

	vstr_reset(out);
	for (; *t; t++)
		vstr_catc(out, *t == '\n' || (unsigned char)*t < 32 ? ' ' : *t);
}

/* keyword - 1 when the EHLO line (after "250-") starts with kw as a word */
static int keyword(const char *line, size_t len, const char *kw, const char **arg)
{
	size_t k = strlen(kw);

	if (len < k || strncasecmp(line, kw, k) != 0 || (len > k && line[k] != ' ' && line[k] != '='))
		return 0;
	*arg = len > k ? line + k + 1 : "";
	return 1;
}

/* word_in - w is one of the space-separated words of list (any case) */
static int word_in(const char *list, const char *w)
{
	size_t n = strlen(w);

	for (const char *p = list; *p; p += strcspn(p, " "), p += *p == ' ')
		if (strncasecmp(p, w, n) == 0 && (p[n] == ' ' || p[n] == 0))
			return 1;
	return 0;
}

static unsigned ehlo_line(const char *s, size_t len, long long *size_limit)
{
	static const struct { const char *kw; unsigned bit; } kws[] = {
		{"PIPELINING", SMTP_FEAT_PIPELINING}, {"SIZE", SMTP_FEAT_SIZE},
		{"8BITMIME", SMTP_FEAT_8BITMIME}, {"SMTPUTF8", SMTP_FEAT_SMTPUTF8},
		{"DSN", SMTP_FEAT_DSN}, {"STARTTLS", SMTP_FEAT_STARTTLS}, {"AUTH", SMTP_FEAT_AUTH},
	};
	const char *arg;

	for (size_t i = 0; i < sizeof(kws) / sizeof(kws[0]); i++) {
		if (!keyword(s, len, kws[i].kw, &arg))
			continue;
		if (kws[i].bit == SMTP_FEAT_SIZE) {
			char *end;
			long long v = strtoll(arg, &end, 10);

			*size_limit = (arg < s + len && isdigit((unsigned char)*arg) && v > 0) ? v : 0;
		}
		return kws[i].bit;
	}
	return 0;
}

void smtp_ehlo_auth_mechs(const char *text, vstr *out)
{
	const char *line = strchr(text, '\n');	/* the first line greets */
	const char *arg;

	vstr_reset(out);
	for (; line; line = strchr(line + 1, '\n')) {
		const char *s = line + 1, *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);

		if (len <= 4 || !keyword(s + 4, len - 4, "AUTH", &arg))
			continue;
		while (arg < s + len) {
			size_t n = strcspn(arg, " \n");
			char *mech;

			if (n > (size_t)(s + len - arg))
				n = (size_t)(s + len - arg);
			mech = xstrndup(arg, n);
			if (n > 0 && !word_in(vstr_str(out), mech)) {
				if (vstr_len(out))
					vstr_catc(out, ' ');
				vstr_cat(out, mech);
			}
			free(mech);
			arg += n;
			while (arg < s + len && *arg == ' ')
				arg++;
		}
	}
}

unsigned smtp_ehlo_features(const char *text, long long *size_limit)
{
	unsigned f = 0;
	const char *line = strchr(text, '\n');	/* the first line greets */

	*size_limit = 0;
	while (line) {
		const char *s = line + 1, *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);

		if (len > 4)
			f |= ehlo_line(s + 4, len - 4, size_limit);
		line = nl;
	}
	return f;
}
