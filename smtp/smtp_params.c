/* smtp_params - the MAIL FROM and RCPT TO commands with their ESMTP
 * parameters: SIZE, BODY, SMTPUTF8, RET, ENVID, NOTIFY, ORCPT, each sent
 * only when the server announced the extension. xtext is RFC 3461's:
 * "+", "=" and bytes outside 33..126 become +HH. smtpd(8) stores ORCPT
 * decoded as "type;address", which is what is encoded here again. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "smtp.h"

void smtp_xtext_encode(const char *in, vstr *out)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if (*p < 33 || *p > 126 || *p == '+' || *p == '=') {
			char enc[3] = {'+', hex[*p >> 4], hex[*p & 15]};

			vstr_ncat(out, enc, 3);
		} else {
			vstr_catc(out, *p);
		}
	}
}

/* addr_type_len - length of an RFC 3461 addr-type before ';', or 0 */
static size_t addr_type_len(const char *s)
{
	size_t n = 0;

	while (isalnum((unsigned char)s[n]) || s[n] == '-')
		n++;
	return n > 0 && s[n] == ';' ? n : 0;
}

void smtp_orcpt_param(const char *orig, vstr *out)
{
	size_t tl;

	if (*orig == 0)
		return;
	tl = addr_type_len(orig);
	vstr_cat(out, " ORCPT=");
	if (tl) {
		vstr_ncat(out, orig, tl + 1);
		smtp_xtext_encode(orig + tl + 1, out);
	} else {
		vstr_cat(out, "rfc822;");
		smtp_xtext_encode(orig, out);
	}
}

int smtp_needs_utf8(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s > 127)
			return 1;
	return 0;
}

void smtp_mail_cmd(const struct da_request *req, unsigned features, int utf8, vstr *out)
{
	vstr_reset(out);
	vstr_catf(out, "MAIL FROM:<%s>", req->sender);
	if (features & SMTP_FEAT_SIZE)
		vstr_catf(out, " SIZE=%lld", req->content_size);
	if ((features & SMTP_FEAT_8BITMIME) && strcmp(req->body_type, "8BITMIME") == 0)
		vstr_cat(out, " BODY=8BITMIME");
	if (utf8 && (features & SMTP_FEAT_SMTPUTF8))
		vstr_cat(out, " SMTPUTF8");
	if (features & SMTP_FEAT_DSN) {
		if (*req->ret)
			vstr_catf(out, " RET=%s", req->ret);
		if (*req->envid) {
			vstr_cat(out, " ENVID=");
			smtp_xtext_encode(req->envid, out);
		}
	}
	vstr_ncat(out, "\r\n", 2);
}

void smtp_rcpt_cmd(const struct da_rcpt *r, unsigned features, vstr *out)
{
	vstr_catf(out, "RCPT TO:<%s>", r->addr);
	if (features & SMTP_FEAT_DSN) {
		if (*r->notify)
			vstr_catf(out, " NOTIFY=%s", r->notify);
		smtp_orcpt_param(r->orig, out);
	}
	vstr_ncat(out, "\r\n", 2);
}
