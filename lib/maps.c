/* maps - a list of lookup tables, opened once, reopened when their files
 * change; see maps.h. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "argv.h"
#include "config.h"
#include "maps.h"
#include "mem.h"
#include "msg.h"

/* What a file looked like when its table was opened. */
struct file_sig {
	int present;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

#define MAPS_FILES	2	/* NAME and NAME.db */

struct maps_entry {
	char *spec;			/* type:name */
	struct dict *dict;		/* NULL when it could not be opened */
	struct file_sig sig[MAPS_FILES];
};

struct maps {
	char *what;
	char *text;
	int flags;
	struct maps_entry *v;
	size_t n;
	time_t checked;			/* second of the last change check */
};

/* file_sig_get - the signature of path now (present = 0 if absent) */
static void file_sig_get(const char *path, struct file_sig *s)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	if (stat(path, &st) < 0)
		return;
	s->present = 1;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->size = st.st_size;
	s->mtime = st.st_mtim;
}

static int file_sig_same(const struct file_sig *a, const struct file_sig *b)
{
	return a->present == b->present && a->dev == b->dev && a->ino == b->ino
	    && a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec
	    && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* entry_sigs - the signatures of the files behind a type:/path table;
 * all absent for tables without a file (inline:, static:) */
static void entry_sigs(const char *spec, struct file_sig sig[MAPS_FILES])
{
	const char *name = strchr(spec, ':');
	char *db;

	memset(sig, 0, MAPS_FILES * sizeof(*sig));
	if (name == NULL || name[1] != '/')
		return;
	file_sig_get(name + 1, &sig[0]);
	db = xasprintf("%s.db", name + 1);
	file_sig_get(db, &sig[1]);
	free(db);
}

/* entry_open - (re)opens one table, taking its files' signatures first
 * so that a change during the open is seen at the next check */
static void entry_open(struct maps *m, struct maps_entry *e)
{
	char *err = NULL;

	dict_close(e->dict);
	entry_sigs(e->spec, e->sig);
	e->dict = dict_open(e->spec, m->flags, &err);
	if (e->dict == NULL) {
		msg_warn("%s: %s", m->what, err);
		free(err);
		return;
	}
	diag_log(&e->dict->diags);
}

/* entry_changed - a file behind the table is not what was opened */
static int entry_changed(const struct maps_entry *e)
{
	struct file_sig now[MAPS_FILES];

	entry_sigs(e->spec, now);
	for (size_t i = 0; i < MAPS_FILES; i++)
		if (!file_sig_same(&now[i], &e->sig[i]))
			return 1;
	return 0;
}

/* maps_check - once a second: reopen what changed or failed to open */
static void maps_check(struct maps *m)
{
	time_t now = time(NULL);

	if (now == m->checked)
		return;
	m->checked = now;
	for (size_t i = 0; i < m->n; i++) {
		struct maps_entry *e = &m->v[i];

		if (e->dict == NULL || entry_changed(e)) {
			if (e->dict != NULL)
				msg_info("%s: %s changed, reopening it", m->what, e->spec);
			entry_open(m, e);
		}
	}
}

struct maps *maps_create(const char *what, const char *text, int flags)
{
	struct maps *m = xcalloc(1, sizeof(*m));
	struct argv list = ARGV_INIT;
	char *err = NULL;

	m->what = xstrdup(what);
	m->text = xstrdup(text);
	m->flags = flags;
	if (argv_split_braces(&list, text, ", \t\r\n", &err) < 0) {
		/* one entry that can never open: every search is DICT_RETRY */
		msg_warn("%s: %s", what, err);
		free(err);
		argv_free(&list);
		argv_add(&list, text);
	}
	m->v = xcalloc(list.n ? list.n : 1, sizeof(*m->v));
	for (size_t i = 0; i < list.n; i++) {
		m->v[i].spec = xstrdup(list.v[i]);
		entry_open(m, &m->v[i]);
	}
	m->n = list.n;
	m->checked = time(NULL);
	argv_free(&list);
	return m;
}

enum dict_status maps_find(struct maps *m, const char *key, const char **value)
{
	maps_check(m);
	for (size_t i = 0; i < m->n; i++) {
		enum dict_status st;

		if (m->v[i].dict == NULL)
			return DICT_RETRY;
		st = dict_lookup(m->v[i].dict, key, value);
		if (st != DICT_NOTFOUND)
			return st;
	}
	return DICT_NOTFOUND;
}

const char *maps_text(const struct maps *m)
{
	return m->text;
}

/* Tables by parameter, for maps_param. A process reads few parameters
 * this way (transport_maps, the SASL tables): a short list does. */
struct maps_by_param {
	char *param;
	struct maps *m;
	struct maps_by_param *next;
};

static struct maps_by_param *by_param;

struct maps *maps_param(const char *param)
{
	const char *text = conf_str(param);
	struct maps_by_param *p;

	for (p = by_param; p; p = p->next)
		if (strcmp(p->param, param) == 0)
			break;
	if (p == NULL) {
		p = xcalloc(1, sizeof(*p));
		p->param = xstrdup(param);
		p->next = by_param;
		by_param = p;
	}
	if (p->m == NULL || strcmp(maps_text(p->m), text) != 0) {
		maps_free(p->m);
		p->m = maps_create(param, text, 0);
	}
	return p->m;
}

void maps_free(struct maps *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++) {
		dict_close(m->v[i].dict);
		free(m->v[i].spec);
	}
	free(m->v);
	free(m->what);
	free(m->text);
	free(m);
}
