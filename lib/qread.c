/* qread - reading queue files; see qread.h and docs/QUEUE.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "qread.h"

static void add_rcpt(struct qenvelope *env, const char *addr, const char *orig,
		     const char *notify, off_t offset, int done)
{
	struct qrcpt *r;

	if (env->nrcpt == env->cap) {
		env->cap = env->cap ? env->cap * 2 : 8;
		env->rcpt = xreallocarray(env->rcpt, env->cap, sizeof(*env->rcpt));
	}
	r = &env->rcpt[env->nrcpt++];
	r->address = xstrdup(addr);
	r->orig = xstrdup(orig);
	r->notify = xstrdup(notify);
	r->offset = offset;
	r->done = done;
	env->pending += !done;
}

/* parse_size - the fixed-width C record */
static int parse_size(struct qenvelope *env, const char *s)
{
	long long size, offset, n;

	if (sscanf(s, "%lld %lld %lld", &size, &offset, &n) != 3 || size < 0 || offset < 0)
		return -1;
	env->content_size = size;
	return 0;
}

/* walk_content - checks that B records run to E */
static int walk_content(int fd, off_t offset, const char **err)
{
	struct rec_reader r;
	vstr p = VSTR_INIT;
	int type, ret;

	rec_reader_init(&r, fd, offset);
	while ((ret = rec_get(&r, &type, &p, REC_CHUNK, NULL, err)) == REC_OK) {
		if (type == REC_END)
			break;
		if (type != REC_BODY && type != REC_MESSAGE) {
			*err = "unexpected record in content";
			ret = REC_ERR;
			break;
		}
	}
	if (ret == REC_EOF)
		*err = "no end record";
	vstr_release(&p);
	return ret == REC_OK ? 0 : -1;
}

int qread_envelope(int fd, struct qenvelope *env, int check_end, const char **err)
{
	struct rec_reader r;
	vstr p = VSTR_INIT, orig = VSTR_INIT, notify = VSTR_INIT;
	int type, ret, seen_version = 0, seen_size = 0;
	off_t where;

	memset(env, 0, sizeof(*env));
	rec_reader_init(&r, fd, 0);
	while ((ret = rec_get(&r, &type, &p, QREAD_MAX_FIELD, &where, err)) == REC_OK) {
		const char *s = vstr_str(&p);

		if (!seen_version && type != REC_VERSION) {
			*err = "not a queue file";
			goto bad;
		}
		switch (type) {
		case REC_VERSION:
			if (seen_version || strncmp(s, "postern-queue ", 14) != 0) {
				*err = "bad version record";
				goto bad;
			}
			seen_version = 1;
			break;
		case REC_SIZE:
			if (parse_size(env, s) < 0) {
				*err = "bad size record";
				goto bad;
			}
			seen_size = 1;
			break;
		case REC_TIME:
			if (sscanf(s, "%lld %ld", &env->arrival, &env->arrival_usec) < 1) {
				*err = "bad time record";
				goto bad;
			}
			break;
		case REC_ATTR:
			argv_add(&env->attrs, s);
			break;
		case REC_WARN:
			env->warn_time = atoll(s);
			env->warn_offset = where;
			break;
		case REC_SENDER:
			free(env->sender);
			env->sender = xstrdup(s);
			break;
		case REC_ORCPT:
			vstr_cpy(&orig, s);
			break;
		case REC_NOTIFY:
			vstr_cpy(&notify, s);
			break;
		case REC_RCPT:
		case REC_DONE:
			add_rcpt(env, s, vstr_str(&orig), vstr_str(&notify), where, type == REC_DONE);
			vstr_reset(&orig);
			vstr_reset(&notify);
			break;
		case REC_MESSAGE:
			env->content_offset = where;
			if (!seen_size || env->sender == NULL) {
				*err = "incomplete envelope";
				goto bad;
			}
			vstr_release(&p);
			vstr_release(&orig);
			vstr_release(&notify);
			return check_end ? walk_content(fd, r.offset, err) : 0;
		default:
			*err = "unknown envelope record";
			goto bad;
		}
	}
	if (ret == REC_EOF)
		*err = "no content";
bad:
	vstr_release(&p);
	vstr_release(&orig);
	vstr_release(&notify);
	qenvelope_free(env);
	return -1;
}

void qenvelope_free(struct qenvelope *env)
{
	for (size_t i = 0; i < env->nrcpt; i++) {
		free(env->rcpt[i].address);
		free(env->rcpt[i].orig);
		free(env->rcpt[i].notify);
	}
	free(env->rcpt);
	free(env->sender);
	argv_free(&env->attrs);
	memset(env, 0, sizeof(*env));
}

const char *qenvelope_attr(const struct qenvelope *env, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < env->attrs.n; i++)
		if (strncmp(env->attrs.v[i], name, len) == 0 && env->attrs.v[i][len] == '=')
			return env->attrs.v[i] + len + 1;
	return NULL;
}

void qcontent_open(struct qcontent *c, int fd, const struct qenvelope *env)
{
	rec_reader_init(&c->r, fd, env->content_offset);
	vstr_init(&c->chunk);
	c->done = 0;
}

ssize_t qcontent_next(struct qcontent *c, const char **buf)
{
	const char *err;
	int type;

	while (!c->done) {
		if (rec_get(&c->r, &type, &c->chunk, REC_CHUNK, NULL, &err) != REC_OK)
			return -1;
		if (type == REC_END) {
			c->done = 1;
			break;
		}
		if (type == REC_MESSAGE)
			continue;
		if (type != REC_BODY)
			return -1;
		if (vstr_len(&c->chunk) == 0)
			continue;
		*buf = vstr_str(&c->chunk);
		return (ssize_t)vstr_len(&c->chunk);
	}
	return 0;
}

void qcontent_close(struct qcontent *c)
{
	vstr_release(&c->chunk);
}
