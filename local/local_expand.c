/* local_expand - what delivering to one local recipient means.
 *
 * In Postfix's order: alias_maps (by lower-cased local part), then the
 * user's ~/.forward, then the mailbox. An alias or .forward item is an
 * address (local ones are expanded again, others forwarded as a new
 * message), a /file, a |command or an :include: file. Files and commands
 * are allowed from aliases and .forward (allow_mail_to_files,
 * allow_mail_to_commands), never from :include: unless listed there too.
 * An alias that names itself ("user: user, other") or "\user" in a
 * .forward means that user's mailbox.
 *
 * Loops end: an address met again on the current expansion path, an
 * address already in a Delivered-To: header of the message, or more than
 * LOCAL_MAX_DEPTH nested expansions bounce with 5.4.6.
 *
 * Every leaf (mailbox, file, command, forward, bounce) is logged here with
 * orig_to=<the queue recipient>; bounced leaves get their own bounce/ID
 * entry. The recipient as a whole is deferred if any leaf was.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alias.h"
#include "config.h"
#include "dict.h"
#include "dsnlog.h"
#include "local.h"
#include "mem.h"
#include "msg.h"
#include "rewrite.h"
#include "vstr.h"

#define LOCAL_MAX_DEPTH		20
#define FORWARD_FILE_MAX	(64 * 1024)

enum origin { FROM_ALIAS, FROM_FORWARD, FROM_INCLUDE };

struct expand {
	struct local_msg *msg;
	const char *top, *top_orig, *notify;
	struct argv chain;		/* addresses being expanded */
	struct argv forward;		/* non-local targets */
	struct local_result *res;	/* the recipient as a whole */
	int sent, bounced;
};

static void deliver_address(struct expand *x, const char *addr, int depth);

/* leaf - logs one delivery outcome and folds it into the whole */
static void leaf(struct expand *x, const char *addr, const struct local_result *r)
{
	const char *status = r->status == 0 ? "sent" : r->status == 4 ? "deferred" : "bounced";
	const char *orig = strcmp(addr, x->top) == 0 ? x->top_orig : x->top;
	struct dsn_entry e = {(char *)addr, (char *)orig, (char *)r->dsn, "failed", (char *)x->notify,
			      "", "", (char *)r->reason};

	if (r->status == 5 && dsnlog_append("bounce", x->msg->queue_id, &e) < 0) {
		struct local_result tmp = *r;

		local_result_set(&tmp, 4, "4.3.0", "cannot append to bounce log: %s", strerror(errno));
		leaf(x, addr, &tmp);
		return;
	}
	if (r->status == 0 && strstr(x->notify, "SUCCESS")) {
		e.action = "delivered";
		dsnlog_append("trace", x->msg->queue_id, &e);
	}
	delivery_log(x->msg->queue_id, addr, orig, "local", &x->msg->times, r->dsn, status, r->reason);
	if (r->status == 4 && x->res->status != 4)
		*x->res = *r;
	x->sent += r->status == 0;
	x->bounced += r->status == 5;
}

static void leaf_fail(struct expand *x, const char *addr, int status, const char *dsn, const char *why)
{
	struct local_result r = {0};

	local_result_set(&r, status, dsn, "%s", why);
	leaf(x, addr, &r);
}

static int allowed(const char *param, enum origin from)
{
	static const char *names[] = {"alias", "forward", "include"};
	struct argv list = ARGV_INIT;
	int hit = 0;

	argv_split(&list, conf_str(param), ", \t\r\n");
	for (size_t i = 0; i < list.n && !hit; i++)
		hit = strcasecmp(list.v[i], names[from]) == 0;
	argv_free(&list);
	return hit;
}

/* alias_lookup - the first alias_maps table that has name; malloc'ed */
static char *alias_lookup(const char *name, int *retry)
{
	struct argv maps = ARGV_INIT;
	char *found = NULL, *err = NULL;

	*retry = 0;
	argv_split(&maps, conf_str("alias_maps"), ", \t\r\n");
	for (size_t i = 0; i < maps.n && found == NULL && !*retry; i++) {
		struct dict *d = dict_open(maps.v[i], 0, &err);
		const char *value;

		if (d == NULL) {
			/* Delivering to the mailbox could skip a redirection: wait. */
			msg_warn("alias_maps: %s", err);
			free(err);
			err = NULL;
			*retry = 1;
			break;
		}
		switch (dict_lookup(d, name, &value)) {
		case DICT_FOUND: found = xstrdup(value); break;
		case DICT_RETRY: *retry = 1; break;
		default: break;
		}
		dict_close(d);
	}
	argv_free(&maps);
	return found;
}

static int is_self(const char *item, const char *addr)
{
	char *canon;
	int same;

	if (item[0] == '\\')
		item++;
	canon = rewrite_canonical(item);
	same = strcasecmp(canon, addr) == 0;
	free(canon);
	return same;
}

static void mailbox_of(struct expand *x, const char *addr, const char *user)
{
	struct local_privs p;
	struct local_result r = {0};
	char buf[4096];

	if (local_privs_for_user(user, &p, buf, sizeof(buf)) < 0) {
		leaf_fail(x, addr, 5, "5.1.1", "unknown user");
		return;
	}
	local_mailbox(x->msg, addr, strcmp(addr, x->top) == 0 ? x->top_orig : x->top, &p, &r);
	leaf(x, addr, &r);
}

static void expand_items(struct expand *x, const char *addr, const char *user, const char *value,
			 enum origin from, const struct local_privs *p, int depth);

/* include_file - the items of an :include: file, read with p's rights */
static void include_file(struct expand *x, const char *addr, const char *path,
			 const struct local_privs *p, int depth)
{
	struct argv lines = ARGV_INIT;
	char buf[FORWARD_FILE_MAX + 1], why[256] = "", text[512];

	if (local_read_as(p, path, buf, sizeof(buf), why, sizeof(why)) < 0) {
		snprintf(text, sizeof(text), "cannot read include file %s%s%s", path, *why ? ": " : "", why);
		leaf_fail(x, addr, 4, "4.3.0", text);
		return;
	}
	argv_split(&lines, buf, "\n");
	for (size_t i = 0; i < lines.n; i++)
		if (lines.v[i][strspn(lines.v[i], " \t")] != '#')
			expand_items(x, addr, NULL, lines.v[i], FROM_INCLUDE, p, depth);
	argv_free(&lines);
}

static void expand_items(struct expand *x, const char *addr, const char *user, const char *value,
			 enum origin from, const struct local_privs *p, int depth)
{
	struct argv items = ARGV_INIT;
	struct local_result r = {0};

	alias_value_split(value, &items);
	for (size_t i = 0; i < items.n; i++) {
		const char *item = items.v[i];
		enum alias_kind kind = alias_item_kind(item);

		if (kind == ALIAS_ADDRESS && user && is_self(item, addr)) {
			mailbox_of(x, addr, user);
		} else if (kind == ALIAS_ADDRESS) {
			char *canon = rewrite_canonical(item[0] == '\\' ? item + 1 : item);

			deliver_address(x, canon, depth + 1);
			free(canon);
		} else if (kind == ALIAS_FILE && allowed("allow_mail_to_files", from)) {
			local_file(x->msg, addr, x->top, item, p, &r);
			leaf(x, addr, &r);
		} else if (kind == ALIAS_COMMAND && allowed("allow_mail_to_commands", from)) {
			local_command(x->msg, addr, x->top, item + 1, p, &r);
			leaf(x, addr, &r);
		} else if (kind == ALIAS_INCLUDE && depth < LOCAL_MAX_DEPTH) {
			include_file(x, addr, alias_include_path(item), p, depth + 1);
		} else {
			leaf_fail(x, addr, 5, "5.7.1", kind == ALIAS_FILE ? "mail to files is not allowed here"
				  : kind == ALIAS_COMMAND ? "mail to commands is not allowed here"
				  : "include nesting too deep");
		}
	}
	argv_free(&items);
}

/* read_forward - the user's ~/.forward, read as the user, when it is safe
 * to trust ('#' lines are comments); malloc'ed, NULL if none */
static char *read_forward(const struct local_privs *p)
{
	char *path = xasprintf("%s/.forward", p->home), buf[FORWARD_FILE_MAX + 1], why[256] = "";
	struct argv lines = ARGV_INIT;
	vstr out = VSTR_INIT;
	struct stat st;

	/* Most users have none: lstat (no content) spares a reader process. */
	if (lstat(path, &st) < 0 && errno == ENOENT) {
		free(path);
		return NULL;
	}
	if (local_read_as(p, path, buf, sizeof(buf), why, sizeof(why)) < 0) {
		if (*why)
			msg_warn("%s: ignored: %s", path, why);
		free(path);
		return NULL;
	}
	free(path);
	argv_split(&lines, buf, "\n");
	for (size_t i = 0; i < lines.n; i++) {
		if (lines.v[i][strspn(lines.v[i], " \t")] == '#')
			continue;
		vstr_catf(&out, "%s%s", vstr_len(&out) ? ", " : "", lines.v[i]);
	}
	argv_free(&lines);
	return vstr_steal(&out);
}

/* local_user - .forward, then the mailbox */
static void local_user(struct expand *x, const char *addr, const char *name, int depth)
{
	struct local_privs p;
	char buf[4096], *fwd;

	if (local_privs_for_user(name, &p, buf, sizeof(buf)) < 0) {
		leaf_fail(x, addr, 5, "5.1.1", "unknown user");
		return;
	}
	if ((fwd = read_forward(&p)) != NULL && strspn(fwd, " \t,") != strlen(fwd)) {
		expand_items(x, addr, p.user, fwd, FROM_FORWARD, &p, depth);
		free(fwd);
		return;
	}
	free(fwd);
	mailbox_of(x, addr, p.user);
}

static int in_delivered_to(const struct local_msg *msg, const char *addr)
{
	const char *p = msg->delivered_to;
	size_t len = strlen(addr);

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);

		if (l == len && strncasecmp(p, addr, len) == 0)
			return 1;
		p += l + (nl != NULL);
	}
	return 0;
}

static void deliver_address(struct expand *x, const char *addr, int depth)
{
	struct local_privs def;
	char *name, *value, buf[4096];
	int retry;

	for (size_t i = 0; i < x->chain.n; i++)
		if (strcasecmp(x->chain.v[i], addr) == 0) {
			leaf_fail(x, addr, 5, "5.4.6", "mail forwarding loop (alias or .forward refers back)");
			return;
		}
	if (depth > LOCAL_MAX_DEPTH || in_delivered_to(x->msg, addr)) {
		leaf_fail(x, addr, 5, "5.4.6", depth > LOCAL_MAX_DEPTH ? "alias expansion too deep"
			  : "mail forwarding loop (Delivered-To: already in the message)");
		return;
	}
	if (rewrite_is_local(addr) == 0) {
		argv_add(&x->forward, addr);
		return;
	}
	name = rewrite_localpart(addr);
	for (char *s = name; *s; s++)
		*s = (char)tolower((unsigned char)*s);
	argv_add(&x->chain, addr);
	if ((value = alias_lookup(name, &retry)) != NULL) {
		if (local_privs_for_user(conf_str("default_privs"), &def, buf, sizeof(buf)) < 0)
			leaf_fail(x, addr, 4, "4.3.0", "default_privs user does not exist");
		else
			expand_items(x, addr, getpwnam(name) ? name : NULL, value, FROM_ALIAS, &def, depth);
		free(value);
	} else if (retry) {
		leaf_fail(x, addr, 4, "4.3.0", "alias database unavailable");
	} else {
		local_user(x, addr, name, depth);
	}
	x->chain.n--;
	free(x->chain.v[x->chain.n]);
	x->chain.v[x->chain.n] = NULL;
	free(name);
}

void local_deliver_rcpt(struct local_msg *msg, const char *rcpt, const char *orig,
			const char *notify, struct local_result *res)
{
	struct expand x = {msg, rcpt, orig, notify, ARGV_INIT, ARGV_INIT, res, 0, 0};
	struct local_result fr = {0};

	memset(res, 0, sizeof(*res));
	deliver_address(&x, rcpt, 0);
	if (x.forward.n > 0) {
		local_forward(msg, rcpt, &x.forward, &fr);
		for (size_t i = 0; i < x.forward.n; i++)
			leaf(&x, x.forward.v[i], &fr);
	}
	if (res->status != 4) {
		if (x.sent > 0 || x.bounced == 0)
			local_result_set(res, 0, "2.0.0", "delivered");
		else
			local_result_set(res, 5, "5.0.0", "bounced");
	}
	argv_free(&x.chain);
	argv_free(&x.forward);
}
