/* showq_format - the queue listing: reading, protocol, text and JSON; see
 * showq_format.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attr.h"
#include "dsnlog.h"
#include "htable.h"
#include "ipc.h"
#include "mem.h"
#include "msg.h"
#include "qread.h"
#include "rec.h"
#include "showq_format.h"

/* The queues in listing order, as Postfix's showq lists them. */
static const struct showq_queue {
	const char *name;
	int hashed;		/* one level of subdirectories */
	mode_t mode;		/* the committed mode */
} showq_queues[] = {
	{"maildrop", 0, QFILE_MODE_MAILDROP},
	{"active", 0, QFILE_MODE_QUEUED},
	{"incoming", 0, QFILE_MODE_QUEUED},
	{"deferred", 1, QFILE_MODE_QUEUED},
	{"hold", 0, QFILE_MODE_QUEUED},
};

#define NQUEUES	(sizeof(showq_queues) / sizeof(showq_queues[0]))

/* Messages. */

void showq_msg_init(struct showq_msg *m)
{
	memset(m, 0, sizeof(*m));
}

void showq_msg_add_rcpt(struct showq_msg *m, const char *address, const char *orig,
			const char *reason)
{
	struct showq_rcpt *r;

	if (m->nrcpt == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 8;
		m->rcpt = xreallocarray(m->rcpt, m->cap, sizeof(*m->rcpt));
	}
	r = &m->rcpt[m->nrcpt++];
	r->address = xstrdup(address);
	r->orig = xstrdup(orig ? orig : "");
	r->reason = xstrdup(reason ? reason : "");
}

void showq_msg_clear(struct showq_msg *m)
{
	for (size_t i = 0; i < m->nrcpt; i++) {
		free(m->rcpt[i].address);
		free(m->rcpt[i].orig);
		free(m->rcpt[i].reason);
	}
	free(m->rcpt);
	free(m->sender);
	showq_msg_init(m);
}

/* UTF-8. */

/* utf8_seq - the length of the valid UTF-8 sequence at s (1..4) with its
 * code point in *cp, or 0 when the bytes at s do not start one */
static size_t utf8_seq(const unsigned char *s, size_t len, unsigned *cp)
{
	unsigned c = s[0], min;
	size_t n;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2, min = 0x80, *cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3, min = 0x800, *cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4, min = 0x10000, *cp = c & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (s[i] & 0x3f);
	}
	if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return n;
}

void showq_json_quote(vstr *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	unsigned cp;
	size_t n;

	while (p < end) {
		if ((n = utf8_seq(p, (size_t)(end - p), &cp)) == 0) {
			vstr_cat(out, "\xef\xbf\xbd");	/* U+FFFD */
			p++;
			continue;
		}
		switch (cp) {
		case '"': vstr_cat(out, "\\\""); break;
		case '\\': vstr_cat(out, "\\\\"); break;
		case '\b': vstr_cat(out, "\\b"); break;
		case '\f': vstr_cat(out, "\\f"); break;
		case '\n': vstr_cat(out, "\\n"); break;
		case '\r': vstr_cat(out, "\\r"); break;
		case '\t': vstr_cat(out, "\\t"); break;
		default:
			if (cp < 0x20 || cp == 0x7f)
				vstr_catf(out, "\\u%04X", cp);
			else
				vstr_ncat(out, p, n);
		}
		p += n;
	}
}

void showq_printable(vstr *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
	unsigned cp;
	size_t n;

	while (p < end) {
		if ((n = utf8_seq(p, (size_t)(end - p), &cp)) == 0) {
			vstr_catc(out, '?');
			p++;
			continue;
		}
		if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
			vstr_catc(out, '?');
		else
			vstr_ncat(out, p, n);
		p += n;
	}
}

/* clamp_reason - a copy of reason cut to SHOWQ_REASON_MAX bytes, not
 * inside a UTF-8 sequence */
static char *clamp_reason(const char *reason)
{
	size_t len = strlen(reason);

	if (len <= SHOWQ_REASON_MAX)
		return xstrdup(reason);
	len = SHOWQ_REASON_MAX;
	while (len > 0 && ((unsigned char)reason[len] & 0xc0) == 0x80)
		len--;
	return xstrndup(reason, len);
}

/* Reading the queue. */

/* reason_index - recipient -> its last defer reason, from qdir/defer/ID */
static int reason_index(const char *qdir, const char *id, struct htable *h,
			struct dsn_entry **log)
{
	char *dir = xasprintf("%s/defer", qdir);
	int n = dsnlog_read(dir, id, log);

	free(dir);
	/* Walk backwards: the first entry entered wins, so the last one does. */
	for (int i = n - 1; i >= 0; i--)
		htable_enter(h, (*log)[i].recipient, (*log)[i].reason);
	return n;
}

/* rcpt_order - a pending recipient's place: its reason group, then index */
struct rcpt_order {
	size_t group;		/* reasonless recipients: after every group */
	size_t index;
	const char *reason;
};

static int rcpt_order_cmp(const void *a, const void *b)
{
	const struct rcpt_order *x = a, *y = b;

	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* add_grouped - the pending recipients of env, grouped by reason in order
 * of first appearance, those without a reason last (Postfix's order) */
static void add_grouped(struct showq_msg *m, const struct qenvelope *env,
			const struct htable *reasons)
{
	struct htable groups = HTABLE_INIT;
	struct rcpt_order *o = xcalloc(env->nrcpt ? env->nrcpt : 1, sizeof(*o));
	size_t n = 0, ngroups = 0;

	for (size_t i = 0; i < env->nrcpt; i++) {
		const char *r;
		struct htable_ent *e;

		if (env->rcpt[i].done)
			continue;
		r = htable_find(reasons, env->rcpt[i].address);
		o[n].index = i;
		o[n].reason = r ? r : "";
		if (*o[n].reason == 0)
			o[n].group = SIZE_MAX;
		else if ((e = htable_locate(&groups, r)) != NULL)
			o[n].group = (size_t)e->value;
		else {
			htable_enter(&groups, r, (void *)ngroups);
			o[n].group = ngroups++;
		}
		n++;
	}
	qsort(o, n, sizeof(*o), rcpt_order_cmp);
	for (size_t k = 0; k < n; k++) {
		const struct qrcpt *q = &env->rcpt[o[k].index];
		char *reason = clamp_reason(o[k].reason);

		showq_msg_add_rcpt(m, q->address, q->orig, reason);
		free(reason);
	}
	htable_free(&groups, NULL);
	free(o);
}

/* read_queue_file - a queue file's entry */
static int read_queue_file(const char *qdir, int fd, const struct stat *st,
			   struct showq_msg *m, const char **err)
{
	struct qenvelope env;
	struct htable reasons = HTABLE_INIT;
	struct dsn_entry *log = NULL;
	int nlog = 0;

	if (qread_envelope(fd, &env, 0, err) < 0)
		return -1;
	m->arrival = env.arrival > 0 ? env.arrival : (long long)st->st_mtime;
	m->size = env.content_size;
	m->sender = xstrdup(env.sender);
	if (env.pending > 0)
		nlog = reason_index(qdir, m->queue_id, &reasons, &log);
	add_grouped(m, &env, &reasons);
	htable_free(&reasons, NULL);
	if (nlog > 0)
		dsnlog_free(log, nlog);
	qenvelope_free(&env);
	return 0;
}

/* read_maildrop_file - a maildrop file's entry: what postdrop wrote, up
 * to the content; no sizes or reasons there, so the size is the file's
 * bytes from the M record on */
static int read_maildrop_file(int fd, const struct stat *st, struct showq_msg *m,
			      const char **err)
{
	struct rec_reader r;
	vstr p = VSTR_INIT;
	int type, ret, seen_version = 0;
	off_t where;

	rec_reader_init(&r, fd, 0);
	while ((ret = rec_get(&r, &type, &p, QREAD_MAX_FIELD, &where, err)) == REC_OK) {
		const char *s = vstr_str(&p);

		if (!seen_version && (type != REC_VERSION || strncmp(s, "postern-maildrop ", 17) != 0)) {
			*err = "not a maildrop file";
			ret = REC_ERR;
			break;
		}
		seen_version = 1;
		if (type == REC_TIME)
			m->arrival = atoll(s);
		else if (type == REC_SENDER) {
			free(m->sender);
			m->sender = xstrdup(s);
		} else if (type == REC_RCPT)
			showq_msg_add_rcpt(m, s, "", "");
		else if (type == REC_MESSAGE) {
			m->size = (long long)(st->st_size - where);
			break;
		}
	}
	vstr_release(&p);
	if (ret == REC_EOF)
		*err = "no content";
	if (ret != REC_OK)
		return -1;
	if (m->sender == NULL)
		m->sender = xstrdup("");
	if (m->arrival <= 0)
		m->arrival = (long long)st->st_mtime;
	return 0;
}

int showq_read_file(const char *qdir, const char *queue_name, const char *id,
		    const char *path, struct showq_msg *m, const char **err)
{
	mode_t mode = strcmp(queue_name, "maildrop") == 0 ? QFILE_MODE_MAILDROP : QFILE_MODE_QUEUED;
	struct stat st;
	int fd, ret;

	showq_msg_clear(m);
	snprintf(m->queue_name, sizeof(m->queue_name), "%s", queue_name);
	snprintf(m->queue_id, sizeof(m->queue_id), "%s", id);
	/* O_NONBLOCK: a FIFO planted in a queue directory must not hang us. */
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0) {
		if (errno == ENOENT || errno == ELOOP)
			return 1;
		*err = strerror(errno);
		return -1;
	}
	if (fstat(fd, &st) < 0 || !queue_file_complete(&st, mode)) {
		close(fd);
		return 1;
	}
	if (mode == QFILE_MODE_MAILDROP)
		ret = read_maildrop_file(fd, &st, m, err);
	else
		ret = read_queue_file(qdir, fd, &st, m, err);
	close(fd);
	if (ret < 0)
		showq_msg_clear(m);
	return ret;
}

/* scan_dir - lists every queue file in dir; -1 when fn said stop */
static int scan_dir(const char *qdir, const char *queue, const char *dir,
		    showq_fn fn, void *ctx, struct showq_msg *m)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	const char *err;
	int ret = 0;

	if (d == NULL) {
		if (errno != ENOENT)
			msg_warn("open %s: %m", dir);
		return 0;
	}
	while (ret == 0 && (e = readdir(d)) != NULL) {
		char *path;
		int r;

		if (!qid_valid(e->d_name))
			continue;	/* tmp.* files being written, junk */
		path = xasprintf("%s/%s", dir, e->d_name);
		r = showq_read_file(qdir, queue, e->d_name, path, m, &err);
		if (r < 0)
			msg_warn("%s: %s -- skipped", path, err);
		else if (r == 0 && fn(m, ctx) < 0)
			ret = -1;
		showq_msg_clear(m);
		free(path);
	}
	closedir(d);
	return ret;
}

/* scan_hashed - the one-character subdirectories of dir */
static int scan_hashed(const char *qdir, const char *queue, const char *dir,
		       showq_fn fn, void *ctx, struct showq_msg *m)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int ret = 0;

	if (d == NULL) {
		if (errno != ENOENT)
			msg_warn("open %s: %m", dir);
		return 0;
	}
	while (ret == 0 && (e = readdir(d)) != NULL) {
		char *sub;

		if (e->d_name[0] == '.' || e->d_name[1] != 0)
			continue;
		sub = xasprintf("%s/%s", dir, e->d_name);
		ret = scan_dir(qdir, queue, sub, fn, ctx, m);
		free(sub);
	}
	closedir(d);
	return ret;
}

int showq_scan(const char *qdir, showq_fn fn, void *ctx)
{
	struct showq_msg m;
	int ret = 0;

	showq_msg_init(&m);
	for (size_t i = 0; i < NQUEUES && ret == 0; i++) {
		const struct showq_queue *q = &showq_queues[i];
		char *dir = xasprintf("%s/%s", qdir, q->name);

		ret = q->hashed ? scan_hashed(qdir, q->name, dir, fn, ctx, &m)
			: scan_dir(qdir, q->name, dir, fn, ctx, &m);
		free(dir);
	}
	showq_msg_clear(&m);
	return ret;
}

/* Printing. */

#define TEXT_FORMAT	"%-17s %8s %-19s %s\n"
#define TEXT_RCPT_INDENT	(17 + 1 + 8 + 1 + 19 + 1)
#define TEXT_REASON_WIDTH	76	/* "(reason)" lines end in this column */

void showq_text_begin(struct showq_text *t)
{
	t->count = 0;
	t->bytes = 0;
}

static void text_sender(vstr *out, const char *sender)
{
	showq_printable(out, *sender ? sender : SHOWQ_NULL_SENDER);
	vstr_catc(out, '\n');
}

/* text_reason - the right-aligned "(reason)" line */
static void text_reason(vstr *out, const char *reason)
{
	vstr p = VSTR_INIT;
	int pad;

	showq_printable(&p, *reason ? reason : "reason unavailable");
	pad = vstr_len(&p) < TEXT_REASON_WIDTH ? TEXT_REASON_WIDTH - (int)vstr_len(&p) : 0;
	vstr_catf(out, "%*s(%s)\n", pad, "", vstr_str(&p));
	vstr_release(&p);
}

void showq_text_message(struct showq_text *t, const struct showq_msg *m, vstr *out)
{
	char idcol[QID_MAX + 2], when[64];
	const char *saved = "";
	time_t at = (time_t)m->arrival;
	struct tm tm;
	int mark = strcmp(m->queue_name, "active") == 0 ? '*'
		: strcmp(m->queue_name, "hold") == 0 ? '!' : ' ';

	if (t->count == 0)
		vstr_catf(out, TEXT_FORMAT, "----Queue ID-----", "--Size--",
			  "---Arrival Time----", "--Sender/Recipient------");
	else
		vstr_catc(out, '\n');
	snprintf(idcol, sizeof(idcol), "%s%c", m->queue_id, mark);
	if (localtime_r(&at, &tm) == NULL || strftime(when, sizeof(when), "%a %b %e %H:%M:%S", &tm) == 0)
		snprintf(when, sizeof(when), "%lld", m->arrival);
	vstr_catf(out, "%-17s %8lld %19.19s ", idcol, m->size, when);
	text_sender(out, m->sender ? m->sender : "");
	for (size_t i = 0; i < m->nrcpt; i++) {
		/* A reason line when it differs from the previous recipient's. */
		if (strcmp(saved, m->rcpt[i].reason) != 0) {
			saved = m->rcpt[i].reason;
			text_reason(out, saved);
		}
		vstr_catf(out, "%*s", TEXT_RCPT_INDENT, "");
		showq_printable(out, m->rcpt[i].address);
		vstr_catc(out, '\n');
	}
	t->count++;
	t->bytes += m->size > 0 ? (unsigned long long)m->size : 0;
}

void showq_text_end(const struct showq_text *t, vstr *out)
{
	if (t->count == 0)
		vstr_cat(out, "Mail queue is empty\n");
	else
		vstr_catf(out, "\n-- %llu Kbytes in %lu Request%s.\n", t->bytes / 1024, t->count,
			  t->count == 1 ? "" : "s");
}

static void json_str(vstr *out, const char *name, const char *value, const char *after)
{
	vstr_catf(out, "\"%s\": \"", name);
	showq_json_quote(out, value, strlen(value));
	vstr_catf(out, "\"%s", after);
}

void showq_json_message(const struct showq_msg *m, vstr *out)
{
	const char *sender = m->sender && *m->sender ? m->sender : SHOWQ_NULL_SENDER;

	vstr_cat(out, "{");
	json_str(out, "queue_name", m->queue_name, ", ");
	json_str(out, "queue_id", m->queue_id, ", ");
	vstr_catf(out, "\"arrival_time\": %lld, \"message_size\": %lld, \"forced_expire\": false, ",
		  m->arrival, m->size);
	json_str(out, "sender", sender, ", ");
	vstr_cat(out, "\"recipients\": [");
	for (size_t i = 0; i < m->nrcpt; i++) {
		vstr_cat(out, i ? ", {" : "{");
		json_str(out, "address", m->rcpt[i].address, ", ");
		json_str(out, "orig_address", m->rcpt[i].orig, ", ");
		json_str(out, "delay_reason", m->rcpt[i].reason, "}");
	}
	vstr_cat(out, "]}\n");
}

/* The protocol. */

static void add_rcpt_attrs(struct attr_list *l, size_t k, const struct showq_rcpt *r)
{
	char name[32];

	snprintf(name, sizeof(name), "r%zu_addr", k);
	attr_add_str(l, name, r->address);
	snprintf(name, sizeof(name), "r%zu_orig", k);
	attr_add_str(l, name, r->orig);
	snprintf(name, sizeof(name), "r%zu_reason", k);
	attr_add_str(l, name, r->reason);
}

int showq_send_msg(int fd, const struct showq_msg *m, int timeout_ms)
{
	struct attr_list l = ATTR_LIST_INIT;
	size_t i = 0, n;
	int ret = 0, saved;

	do {
		attr_list_clear(&l);
		if (i == 0) {
			attr_add_str(&l, "queue_name", m->queue_name);
			attr_add_str(&l, "queue_id", m->queue_id);
			attr_add_int(&l, "arrival_time", m->arrival);
			attr_add_int(&l, "message_size", m->size);
			attr_add_str(&l, "sender", m->sender ? m->sender : "");
		} else {
			attr_add_str(&l, "queue_id", m->queue_id);
		}
		n = m->nrcpt - i < SHOWQ_RCPT_PER_FRAME ? m->nrcpt - i : SHOWQ_RCPT_PER_FRAME;
		attr_add_int(&l, "rcpt_count", (long long)n);
		for (size_t k = 0; k < n; k++)
			add_rcpt_attrs(&l, k, &m->rcpt[i + k]);
		i += n;
		if (i < m->nrcpt)
			attr_add_int(&l, "more", 1);
		ret = attr_write(fd, &l, timeout_ms);
	} while (ret == 0 && i < m->nrcpt);
	saved = errno;
	attr_list_clear(&l);
	errno = saved;
	return ret;
}

int showq_send_end(int fd, int timeout_ms)
{
	struct attr_list l = ATTR_LIST_INIT;
	int ret, saved;

	attr_add_int(&l, "end", 1);
	ret = attr_write(fd, &l, timeout_ms);
	saved = errno;
	attr_list_clear(&l);
	errno = saved;
	return ret;
}

/* recv_rcpts - the rI_ fields of one frame; *more set when more follow */
static int recv_rcpts(const struct attr_list *l, struct showq_msg *m, int *more)
{
	long long n, flag;
	char name[32];
	const char *addr, *orig, *reason;

	if (attr_get_int(l, "rcpt_count", &n) < 0 || n < 0 || n > SHOWQ_RCPT_PER_FRAME)
		return -1;
	for (long long k = 0; k < n; k++) {
		snprintf(name, sizeof(name), "r%lld_addr", k);
		if (attr_get_str(l, name, &addr) < 0)
			return -1;
		snprintf(name, sizeof(name), "r%lld_orig", k);
		if (attr_get_str(l, name, &orig) < 0)
			return -1;
		snprintf(name, sizeof(name), "r%lld_reason", k);
		if (attr_get_str(l, name, &reason) < 0)
			return -1;
		showq_msg_add_rcpt(m, addr, orig, reason);
	}
	*more = attr_get_int(l, "more", &flag) == 0 && flag != 0;
	return 0;
}

/* recv_header - the message fields of a first frame */
static int recv_header(const struct attr_list *l, struct showq_msg *m)
{
	const char *name, *id, *sender;

	if (attr_get_line(l, "queue_name", &name) < 0 || strlen(name) >= sizeof(m->queue_name)
	    || attr_get_line(l, "queue_id", &id) < 0 || !qid_valid(id)
	    || attr_get_int(l, "arrival_time", &m->arrival) < 0
	    || attr_get_int(l, "message_size", &m->size) < 0
	    || attr_get_str(l, "sender", &sender) < 0)
		return -1;
	snprintf(m->queue_name, sizeof(m->queue_name), "%s", name);
	snprintf(m->queue_id, sizeof(m->queue_id), "%s", id);
	m->sender = xstrdup(sender);
	return 0;
}

/* read_frame - one frame, with a static reason on failure */
static int read_frame(int fd, struct attr_list *l, int timeout_ms, const char **err)
{
	int r = attr_read(fd, l, ATTR_FRAME_MAX, timeout_ms);

	if (r == 1)
		*err = "unexpected end of the listing";
	else if (r < 0)
		*err = errno == ETIMEDOUT ? "timed out" : errno == EBADMSG || errno == EMSGSIZE
			? "malformed reply" : strerror(errno);
	return r == 0 ? 0 : -1;
}

int showq_recv_msg(int fd, struct showq_msg *m, int timeout_ms, const char **err)
{
	struct attr_list l = ATTR_LIST_INIT;
	long long end;
	const char *id;
	int more = 0, ret = -1;

	showq_msg_clear(m);
	if (read_frame(fd, &l, timeout_ms, err) < 0)
		goto out;
	if (attr_get_int(&l, "end", &end) == 0 && end == 1) {
		ret = 0;
		goto out;
	}
	*err = "malformed reply";
	if (recv_header(&l, m) < 0 || recv_rcpts(&l, m, &more) < 0)
		goto out;
	while (more) {
		if (read_frame(fd, &l, timeout_ms, err) < 0)
			goto out;
		*err = "malformed reply";
		if (attr_get_line(&l, "queue_id", &id) < 0 || strcmp(id, m->queue_id) != 0
		    || recv_rcpts(&l, m, &more) < 0)
			goto out;
	}
	ret = 1;
out:
	attr_list_clear(&l);
	if (ret < 0)
		showq_msg_clear(m);
	return ret;
}

int showq_connect(const char *qdir, const char *request, const char *queue_id,
		  const char *site, int timeout_ms, char **err)
{
	char *path = xasprintf("%s/%s", qdir, SHOWQ_SERVICE);
	struct attr_list l = ATTR_LIST_INIT;
	int fd, saved;

	*err = NULL;
	if ((fd = ipc_connect_unix(path, timeout_ms)) < 0) {
		saved = errno;
		*err = xasprintf("connect to %s: %s", path, strerror(saved));
		free(path);
		errno = saved;
		return -1;
	}
	free(path);
	if (ipc_expect_greeting(fd, SHOWQ_PROTOCOL, SHOWQ_VERSION, timeout_ms, err) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	attr_add_str(&l, "request", request);
	if (queue_id)
		attr_add_str(&l, "queue_id", queue_id);
	if (site)
		attr_add_str(&l, "site", site);
	if (attr_write(fd, &l, timeout_ms) < 0) {
		saved = errno;
		*err = xasprintf("send request to %s: %s", SHOWQ_SERVICE, strerror(saved));
		attr_list_clear(&l);
		close(fd);
		errno = saved;
		return -1;
	}
	attr_list_clear(&l);
	return fd;
}
