/* dsn - building delivery status notifications; see dsn.h.
 *
 * The message follows Postfix's bounce(8) closely (the human text, the
 * part descriptions, the field order of the delivery report), so that
 * people and the tools that parse Postfix bounces read ours the same way.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dsn.h"
#include "htable.h"

#define DSN_INDENT	"    "	/* continuation lines of wrapped text */
#define DSN_INDENT_LEN	4

enum dsn_route dsn_route_for(enum dsn_type type, const char *sender, const char *kind)
{
	if (sender && *sender)
		return DSN_ROUTE_SENDER;
	if (type != DSN_TYPE_FAILURE)
		return DSN_ROUTE_NONE;	/* no delay or success notice goes anywhere */
	if (kind && strcmp(kind, "double") == 0)
		return DSN_ROUTE_DROP;	/* a bounce of a bounce of a bounce: stop */
	return DSN_ROUTE_POSTMASTER;
}

const char *dsn_type_kind(enum dsn_type type, enum dsn_route route)
{
	if (route == DSN_ROUTE_POSTMASTER)
		return "double";
	switch (type) {
	case DSN_TYPE_DELAY:
		return "delay";
	case DSN_TYPE_SUCCESS:
		return "success";
	case DSN_TYPE_FAILURE:
		break;
	}
	return "bounce";
}

int dsn_action_matches(enum dsn_type type, const char *action)
{
	switch (type) {
	case DSN_TYPE_FAILURE:
		return strcmp(action, "failed") == 0;
	case DSN_TYPE_DELAY:
		return strcmp(action, "delayed") == 0;
	case DSN_TYPE_SUCCESS:
		return strcmp(action, "delivered") == 0 || strcmp(action, "relayed") == 0
		    || strcmp(action, "expanded") == 0;
	}
	return 0;
}

int dsn_notify_wants(const char *notify, enum dsn_type type)
{
	static const char *const words[] = {"FAILURE", "DELAY", "SUCCESS"};
	const char *want = words[type];
	const char *p = notify;

	if (notify == NULL || notify[strspn(notify, ", \t")] == 0)
		return type != DSN_TYPE_SUCCESS;	/* RFC 3461 4.1: the default */
	while (*p) {
		size_t len;

		p += strspn(p, ", \t");
		len = strcspn(p, ", \t");
		if (len == strlen(want) && strncasecmp(p, want, len) == 0)
			return 1;
		p += len;
	}
	return 0;			/* NEVER, or a list without it */
}

/* wanted - whether dsn_select takes entry e */
static int wanted(const struct dsn_entry *e, enum dsn_type type, int ignore_notify)
{
	return dsn_action_matches(type, e->action)
	    && (ignore_notify || dsn_notify_wants(e->notify, type));
}

size_t dsn_select(const struct dsn_entry *log, size_t n, enum dsn_type type,
		  int ignore_notify, struct dsn_entry *out)
{
	struct htable last = HTABLE_INIT;	/* recipient TAB orig -> index + 1 */
	struct htable_ent *ent;
	vstr key = VSTR_INIT;
	size_t count = 0;

	/* Log fields never contain a tab (dsnlog.h), so the key is unique. */
	for (size_t i = 0; i < n; i++) {
		if (!wanted(&log[i], type, ignore_notify))
			continue;
		vstr_cpyf(&key, "%s\t%s", log[i].recipient, log[i].orig);
		if ((ent = htable_locate(&last, vstr_str(&key))) != NULL)
			ent->value = (void *)(uintptr_t)(i + 1);
		else
			htable_enter(&last, vstr_str(&key), (void *)(uintptr_t)(i + 1));
	}
	for (size_t i = 0; i < n; i++) {
		if (!wanted(&log[i], type, ignore_notify))
			continue;
		vstr_cpyf(&key, "%s\t%s", log[i].recipient, log[i].orig);
		ent = htable_locate(&last, vstr_str(&key));
		if (ent && ent->value) {
			out[count++] = log[(uintptr_t)ent->value - 1];
			ent->value = NULL;	/* emitted */
		}
	}
	htable_free(&last, NULL);
	vstr_release(&key);
	return count;
}

/* header_block_len - bytes of buf that are the header block, through the
 * LF of its last line (0 when the content starts with the empty line);
 * -1 when buf holds no empty line */
static ssize_t header_block_len(const char *buf, size_t len)
{
	const char *p;

	if (len > 0 && buf[0] == '\n')
		return 0;
	if ((p = memmem(buf, len, "\n\n", 2)) == NULL)
		return -1;
	return p - buf + 1;
}

int dsn_original(int fd, const struct qenvelope *env, int want_full, size_t limit,
		 vstr *out, int *headers_only)
{
	struct qcontent c;
	const char *buf;
	ssize_t n, hlen;
	int over;

	vstr_reset(out);
	qcontent_open(&c, fd, env);
	while ((n = qcontent_next(&c, &buf)) > 0) {
		size_t room = limit + 1 - vstr_len(out);

		vstr_ncat(out, buf, (size_t)n < room ? (size_t)n : room);
		if (vstr_len(out) > limit)
			break;		/* too big to return whole: no need for more */
	}
	qcontent_close(&c);
	if (n < 0)
		return -1;
	over = vstr_len(out) > limit;
	*headers_only = !want_full || over;
	if (!*headers_only)
		return 0;
	hlen = header_block_len(vstr_str(out), vstr_len(out));
	if (hlen < 0 && over) {
		/* The header block alone is over the limit: whole lines of it. */
		const char *nl = memrchr(vstr_str(out), '\n', limit);

		hlen = nl ? nl - vstr_str(out) + 1 : 0;
	}
	if (hlen >= 0)
		vstr_truncate(out, (size_t)hlen);
	return 0;
}

/* put_clean - s with control characters made spaces and 8-bit bytes '?':
 * the text and report parts stay 7-bit, and log text cannot break a line */
static void put_clean(vstr *out, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		vstr_catc(out, c < 0x20 ? ' ' : c >= 0x7f ? '?' : (int)c);
	}
}

/* put_wrapped - one logical line, wrapped at spaces near DSN_WRAP with
 * indented continuation lines (valid folding in a header-like field), and
 * split hard where a word would pass DSN_LINE_MAX */
static void put_wrapped(vstr *out, const char *text)
{
	const char *p = text;
	size_t col = 0;
	int on_line = 0;		/* a word is on the current line */

	while (*p) {
		size_t sp = strspn(p, " ");
		const char *w = p + sp;
		size_t wl = strcspn(w, " ");

		if (wl == 0)
			break;		/* trailing spaces */
		if (on_line && col + sp + wl > DSN_WRAP) {
			vstr_cat(out, "\n" DSN_INDENT);
			col = DSN_INDENT_LEN;
		} else {
			if (col + sp > DSN_LINE_MAX - 1)
				sp = DSN_LINE_MAX - 1 - col;
			vstr_ncat(out, p, sp);
			col += sp;
		}
		while (col + wl > DSN_LINE_MAX) {
			size_t room = DSN_LINE_MAX - col;

			vstr_ncat(out, w, room);
			vstr_cat(out, "\n" DSN_INDENT);
			col = DSN_INDENT_LEN;
			w += room;
			wl -= room;
		}
		vstr_ncat(out, w, wl);
		col += wl;
		on_line = 1;
		p = w + wl;
	}
	vstr_catc(out, '\n');
}

/* put_field - "Name: prefixvalue", cleaned and wrapped */
static void put_field(vstr *out, const char *name, const char *prefix, const char *value)
{
	vstr line = VSTR_INIT;

	vstr_catf(&line, "%s: %s", name, prefix);
	put_clean(&line, value);
	put_wrapped(out, vstr_str(&line));
	vstr_release(&line);
}

/* format_date - RFC 5322 date-time in local time */
static void format_date(char *buf, size_t size, time_t when)
{
	struct tm tm;

	if (localtime_r(&when, &tm) == NULL || strftime(buf, size, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		snprintf(buf, size, "Thu, 01 Jan 1970 00:00:00 +0000");
}

/* status_valid - X.Y.Z with class 2, 4 or 5 (RFC 3463) */
static int status_valid(const char *s)
{
	size_t a, b;

	if ((s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	a = strspn(s + 2, "0123456789");
	if (a < 1 || a > 3 || s[2 + a] != '.')
		return 0;
	b = strspn(s + 3 + a, "0123456789");
	return b >= 1 && b <= 3 && s[3 + a + b] == 0;
}

/* bare_address - orig without an "addr-type;" prefix, for the text */
static const char *bare_address(const char *orig)
{
	const char *semi = strchr(orig, ';');

	if (semi == NULL)
		return orig;
	semi++;
	return semi + strspn(semi, " ");
}

/* has_orig - whether e has an original recipient worth reporting */
static int has_orig(const struct dsn_entry *e)
{
	return *e->orig && strcmp(bare_address(e->orig), e->recipient) != 0;
}

static const char *const intro_failure =
	"I'm sorry to have to inform you that your message could not\n"
	"be delivered to one or more recipients. It's attached below.\n\n"
	"For further assistance, please send mail to postmaster.\n\n"
	"If you do so, please include this problem report. You can\n"
	"delete your own text from the attached returned message.\n\n";
static const char *const intro_postmaster =
	"A message from the null sender (<>) could not be delivered to one\n"
	"or more recipients. A null-sender message cannot be returned to\n"
	"its sender, so this report goes to the postmaster. The message is\n"
	"attached below.\n\n";
static const char *const intro_delay_banner =
	"####################################################################\n"
	"# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
	"####################################################################\n\n";
static const char *const intro_delay_help =
	"For further assistance, please send mail to postmaster.\n\n"
	"If you do so, please include this problem report. You can\n"
	"delete your own text from the attached returned message.\n\n";
static const char *const intro_success =
	"Your message was successfully delivered to the destination(s)\n"
	"listed below. If the message was delivered to mailbox you will\n"
	"receive no further notifications. Otherwise you may still receive\n"
	"notifications of mail delivery errors from other systems.\n\n";

/* put_delay_intro - how long the message has waited, and how long more */
static void put_delay_intro(const struct dsn_report *r, vstr *out)
{
	long long age = (long long)r->now - r->arrival;

	if (age < 0)
		age = 0;
	vstr_cat(out, intro_delay_banner);
	if (age >= 3600)
		vstr_catf(out, "Your message could not be delivered for more than %lld hour(s).\n",
			  age / 3600);
	else
		vstr_catf(out, "Your message could not be delivered for %lld minute(s).\n", age / 60);
	if (r->lifetime > 0)
		vstr_catf(out, "It will be retried until it is %lld day(s) old.\n",
			  (r->lifetime + 86399) / 86400);
	vstr_catc(out, '\n');
	vstr_cat(out, intro_delay_help);
}

/* put_text_part - the human-readable explanation */
static void put_text_part(const struct dsn_report *r, vstr *out)
{
	vstr line = VSTR_INIT;

	vstr_cat(out, "This is the mail system at host ");
	put_clean(out, r->myhostname);
	vstr_cat(out, ".\n\n");
	if (r->postmaster)
		vstr_cat(out, intro_postmaster);
	else if (r->type == DSN_TYPE_FAILURE)
		vstr_cat(out, intro_failure);
	else if (r->type == DSN_TYPE_DELAY)
		put_delay_intro(r, out);
	else
		vstr_cat(out, intro_success);
	vstr_cat(out, "                   The mail system\n");
	for (size_t i = 0; i < r->nrcpt; i++) {
		const struct dsn_entry *e = &r->rcpt[i];

		vstr_cpy(&line, "<");
		put_clean(&line, e->recipient);
		vstr_cat(&line, ">");
		if (has_orig(e)) {
			vstr_cat(&line, " (expanded from <");
			put_clean(&line, bare_address(e->orig));
			vstr_cat(&line, ">)");
		}
		vstr_cat(&line, ": ");
		put_clean(&line, *e->reason ? e->reason : "(no reason given)");
		vstr_catc(out, '\n');
		put_wrapped(out, vstr_str(&line));
	}
	vstr_release(&line);
}

/* default_status - the status for an entry whose dsn field is unusable */
static const char *default_status(enum dsn_type type)
{
	return type == DSN_TYPE_FAILURE ? "5.0.0" : type == DSN_TYPE_DELAY ? "4.0.0" : "2.0.0";
}

/* put_recipient_fields - one per-recipient group of the delivery report */
static void put_recipient_fields(const struct dsn_report *r, const struct dsn_entry *e, vstr *out)
{
	char date[64];

	vstr_catc(out, '\n');
	put_field(out, "Final-Recipient", "rfc822; ", e->recipient);
	if (has_orig(e))
		put_field(out, "Original-Recipient", strchr(e->orig, ';') ? "" : "rfc822; ", e->orig);
	put_field(out, "Action", "", e->action);
	put_field(out, "Status", "", status_valid(e->dsn) ? e->dsn : default_status(r->type));
	if (*e->remote_mta)
		put_field(out, "Remote-MTA", strchr(e->remote_mta, ';') ? "" : "dns; ", e->remote_mta);
	if (*e->diagnostic)
		put_field(out, "Diagnostic-Code", strchr(e->diagnostic, ';') ? "" : "X-Postern; ",
			  e->diagnostic);
	else if (*e->reason)
		put_field(out, "Diagnostic-Code", "X-Postern; ", e->reason);
	if (r->type == DSN_TYPE_DELAY && r->lifetime > 0) {
		format_date(date, sizeof(date), (time_t)(r->arrival + r->lifetime));
		put_field(out, "Will-Retry-Until", "", date);
	}
}

/* put_status_part - the message/delivery-status body (RFC 3464 2.1) */
static void put_status_part(const struct dsn_report *r, vstr *out)
{
	char date[64];

	if (r->envid && *r->envid)
		put_field(out, "Original-Envelope-Id", "", r->envid);
	put_field(out, "Reporting-MTA", "dns; ", r->myhostname);
	put_field(out, "X-Postern-Queue-ID", "", r->queue_id);
	put_field(out, "X-Postern-Sender", "rfc822; ", r->sender);
	format_date(date, sizeof(date), (time_t)r->arrival);
	put_field(out, "Arrival-Date", "", date);
	for (size_t i = 0; i < r->nrcpt; i++)
		put_recipient_fields(r, &r->rcpt[i], out);
	vstr_catc(out, '\n');	/* the last field's line end is not the delimiter's */
}

/* put_original_part - the returned message, every line at most
 * DSN_LINE_MAX bytes (a longer header line is folded, a body line split),
 * ending in LF; returns 1 when it has 8-bit bytes */
static int put_original_part(const struct dsn_report *r, vstr *out)
{
	const char *p = r->original, *end = p + r->original_len;
	int in_header = 1, eightbit = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t left = nl ? (size_t)(nl - p) : (size_t)(end - p);
		size_t room = DSN_LINE_MAX;

		if (left == 0)
			in_header = 0;
		for (size_t i = 0; i < left && !eightbit; i++)
			eightbit = (unsigned char)p[i] >= 0x80;
		while (left > room) {
			vstr_ncat(out, p, room);
			p += room;
			left -= room;
			if (in_header) {
				vstr_cat(out, "\n ");
				room = DSN_LINE_MAX - 1;
			} else {
				vstr_catc(out, '\n');
			}
		}
		vstr_ncat(out, p, left);
		vstr_catc(out, '\n');
		p += left + (nl != NULL);
	}
	return eightbit;
}

/* starts_a_line - whether "--" b occurs at the start of a line of text */
static int starts_a_line(const char *text, size_t len, const char *b, size_t blen)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t linelen = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (linelen >= blen + 2 && p[0] == '-' && p[1] == '-' && memcmp(p + 2, b, blen) == 0)
			return 1;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return 0;
}

void dsn_boundary(const char *queue_id, const char *myhostname, const char *parts,
		  size_t len, vstr *out)
{
	vstr base = VSTR_INIT;

	vstr_catf(&base, "%s/", queue_id);
	put_clean(&base, myhostname);
	for (size_t i = 0; i < vstr_len(&base); i++)
		if (base.buf[i] == '"' || base.buf[i] == '\\' || base.buf[i] == ' ')
			base.buf[i] = '_';	/* keep the quoted parameter simple */
	if (vstr_len(&base) > DSN_BOUNDARY_BASE)
		vstr_truncate(&base, DSN_BOUNDARY_BASE);
	vstr_cpy(out, vstr_str(&base));
	for (unsigned n = 1; starts_a_line(parts, len, vstr_str(out), vstr_len(out)); n++)
		vstr_cpyf(out, "%s.%u", vstr_str(&base), n);
	vstr_release(&base);
}

/* put_headers - the notification's own header block */
static void put_headers(const struct dsn_report *r, const char *boundary, int eightbit, vstr *out)
{
	static const char *const subjects[] = {
		"Undelivered Mail Returned to Sender",
		"Delayed Mail (still being retried)",
		"Successful Mail Delivery Report",
	};
	char date[64], stamp[32];
	struct tm tm;

	format_date(date, sizeof(date), r->now);
	if (gmtime_r(&r->now, &tm) == NULL || strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm) == 0)
		snprintf(stamp, sizeof(stamp), "0");
	vstr_catf(out, "Date: %s\n", date);
	vstr_cat(out, "From: Mail Delivery System <MAILER-DAEMON@");
	put_clean(out, r->myhostname);
	vstr_cat(out, ">\nTo: ");
	put_clean(out, r->to);
	vstr_catf(out, "\nSubject: %s\n",
		  r->postmaster ? "Postmaster Copy: Undelivered Mail" : subjects[r->type]);
	vstr_catf(out, "Message-ID: <%s.%s.%s@", stamp, r->queue_id,
		  dsn_type_kind(r->type, r->postmaster ? DSN_ROUTE_POSTMASTER : DSN_ROUTE_SENDER));
	put_clean(out, r->myhostname);
	vstr_cat(out, ">\n");
	vstr_cat(out, "Auto-Submitted: auto-replied\n");
	vstr_cat(out, "MIME-Version: 1.0\n");
	vstr_catf(out, "Content-Type: multipart/report; report-type=delivery-status;\n"
		  "\tboundary=\"%s\"\n", boundary);
	if (eightbit)
		vstr_cat(out, "Content-Transfer-Encoding: 8bit\n");
	vstr_catc(out, '\n');
}

/* put_part - one body part: delimiter, part headers, empty line, body */
static void put_part(vstr *out, const char *boundary, const char *description,
		     const char *type, int eightbit, const vstr *body)
{
	vstr_catf(out, "--%s\nContent-Description: %s\nContent-Type: %s\n", boundary,
		  description, type);
	if (eightbit)
		vstr_cat(out, "Content-Transfer-Encoding: 8bit\n");
	vstr_catc(out, '\n');
	vstr_ncat(out, vstr_str(body), vstr_len(body));
}

int dsn_build(const struct dsn_report *r, vstr *out)
{
	vstr text = VSTR_INIT, status = VSTR_INIT, orig = VSTR_INIT, all = VSTR_INIT;
	vstr boundary = VSTR_INIT;
	const char *what = r->type == DSN_TYPE_SUCCESS ? "Delivered Message" : "Undelivered Message";
	char description[64];
	int eightbit;

	put_text_part(r, &text);
	put_status_part(r, &status);
	eightbit = put_original_part(r, &orig);
	vstr_ncat(&all, vstr_str(&text), vstr_len(&text));
	vstr_ncat(&all, vstr_str(&status), vstr_len(&status));
	vstr_ncat(&all, vstr_str(&orig), vstr_len(&orig));
	dsn_boundary(r->queue_id, r->myhostname, vstr_str(&all), vstr_len(&all), &boundary);

	vstr_reset(out);
	put_headers(r, vstr_str(&boundary), eightbit, out);
	vstr_cat(out, "This is a MIME-encapsulated message.\n\n");
	put_part(out, vstr_str(&boundary), "Notification", "text/plain; charset=us-ascii", 0, &text);
	put_part(out, vstr_str(&boundary), "Delivery report", "message/delivery-status", 0, &status);
	snprintf(description, sizeof(description), "%s%s", what, r->headers_only ? " Headers" : "");
	put_part(out, vstr_str(&boundary), description,
		 r->headers_only ? "text/rfc822-headers" : "message/rfc822", eightbit, &orig);
	vstr_catf(out, "--%s--\n", vstr_str(&boundary));

	vstr_release(&text);
	vstr_release(&status);
	vstr_release(&orig);
	vstr_release(&all);
	vstr_release(&boundary);
	return eightbit;
}
