/* mastercf - master.cf: the services master runs.
 *
 * Each logical line (config.h's reader: continuation and comment lines as
 * in main.cf) is one service. The first seven columns are split at white
 * space; the command and its arguments also honor "{ text }" grouping.
 * A bad line is reported once, with the number of its first physical line,
 * and skipped, so `postern check` can show every problem at once.
 *
 * The -o overrides are found the way a daemon's getopt would find them:
 * among the options that follow the command, up to the first argument that
 * is not an option, so "argv=/bin/filter -o x" in a pipe entry stays the
 * filter's own argument. Nothing here resolves host or service names.
 */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "mastercf.h"
#include "mem.h"
#include "msg.h"
#include "vstr.h"

#define MCF_BLANKS	" \t\r\n\v\f"

/* Daemon options that take a value (Postfix's single/multi/trigger server
 * options): the word after them is their value, not the end of options. */
#define MCF_VALUE_OPTIONS	"imnost"

static const struct {
	const char *name;
	enum mcf_type type;
} mcf_types[] = {
	{"inet", MCF_INET},
	{"unix", MCF_UNIX},
	{"unix-dgram", MCF_UNIX_DGRAM},
	{"fifo", MCF_FIFO},
	{"pass", MCF_PASS},
};

#define NTYPES (sizeof(mcf_types) / sizeof(mcf_types[0]))

const char *mcf_type_name(enum mcf_type t)
{
	for (size_t i = 0; i < NTYPES; i++)
		if (mcf_types[i].type == t)
			return mcf_types[i].name;
	return "unknown";
}

int mcf_type_parse(const char *s, enum mcf_type *t)
{
	for (size_t i = 0; i < NTYPES; i++) {
		if (strcmp(s, mcf_types[i].name) == 0) {
			*t = mcf_types[i].type;
			return 0;
		}
	}
	return -1;
}

char *mcf_entry_id(const struct mcf_entry *e)
{
	return xasprintf("%s/%s", e->name, mcf_type_name(e->type));
}

static void entry_free(struct mcf_entry *e)
{
	free(e->name);
	free(e->file);
	argv_free(&e->args);
	argv_free(&e->overrides);
}

void mcf_free(struct mcf *m)
{
	for (size_t i = 0; i < m->n; i++)
		entry_free(&m->v[i]);
	free(m->v);
	m->v = NULL;
	m->n = m->cap = 0;
}

/* note - diag_add that accepts a NULL list */
static void note(struct diaglist *dl, enum diag_severity sev, const char *file,
		 int line, const char *text)
{
	if (dl)
		diag_add(dl, sev, file, line, "%s", text);
}

/* ---------------------------------------------------------------- columns */

/* parse_count - a decimal number of at most INT_MAX in s[0..len); -1 if not */
static int parse_count(const char *s, size_t len, int *v)
{
	long long n = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		n = n * 10 + (s[i] - '0');
		if (n > INT_MAX)
			return -1;
	}
	*v = (int)n;
	return 0;
}

/* parse_flag - y, n, or - (def); -1 otherwise */
static int parse_flag(const char *s, int def)
{
	if (strcmp(s, "-") == 0)
		return def;
	if (strcmp(s, "y") == 0)
		return 1;
	if (strcmp(s, "n") == 0)
		return 0;
	return -1;
}

/* parse_wakeup - N, N? or - */
static int parse_wakeup(const char *s, struct mcf_entry *e)
{
	size_t len = strlen(s);
	int after = len > 0 && s[len - 1] == '?';

	if (strcmp(s, "-") == 0) {
		e->wakeup = 0;
	} else if (parse_count(s, len - (size_t)after, &e->wakeup) < 0) {
		return -1;
	}
	e->wakeup_after_use = after && e->wakeup > 0;
	return 0;
}

static int parse_maxproc(const char *s, int *maxproc)
{
	if (strcmp(s, "-") == 0) {
		*maxproc = -1;
		return 0;
	}
	return parse_count(s, strlen(s), maxproc);
}

/* port_ok - a port number 1..65535 or a service name */
static int port_ok(const char *port)
{
	size_t len = strlen(port);
	int n, digits_only = 1;

	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (!isalnum((unsigned char)port[i]) && port[i] != '-')
			return 0;
		digits_only &= isdigit((unsigned char)port[i]) != 0;
	}
	if (!digits_only)
		return 1;
	return parse_count(port, len, &n) == 0 && n >= 1 && n <= 65535;
}

/* inet_port - the port part of [host:]port or [v6addr]:port, NULL if the
 * host part is malformed */
static const char *inet_port(const char *name)
{
	const char *colon;

	if (name[0] == '[') {
		const char *close = strchr(name, ']');

		if (close == NULL || close == name + 1 || close[1] != ':')
			return NULL;
		return close + 2;
	}
	if ((colon = strrchr(name, ':')) == NULL)
		return name;
	/* An IPv6 address must be in brackets; an empty host is a typo. */
	if (colon == name || memchr(name, ':', (size_t)(colon - name)) != NULL)
		return NULL;
	return colon + 1;
}

/* check_name - the service name against its type; NULL or a message */
static char *check_name(const char *name, enum mcf_type type)
{
	const char *port;

	if (type == MCF_INET) {
		if ((port = inet_port(name)) == NULL)
			return xasprintf("bad inet service \"%s\": expected [host:]port", name);
		if (!port_ok(port))
			return xasprintf("bad port \"%s\" in inet service \"%s\"", port, name);
		return NULL;
	}
	if (strchr(name, '/') || strstr(name, ".."))
		return xasprintf("bad %s service name \"%s\": must not contain \"/\" or \"..\"",
				 mcf_type_name(type), name);
	return NULL;
}

/* --------------------------------------------------------------- command */

/* add_override - "name=value" or "name = value" (from braces) */
static char *add_override(struct mcf_entry *e, const char *text)
{
	const char *name = text + strspn(text, MCF_BLANKS);
	const char *eq = strchr(text, '=');
	size_t n = conf_name_len(name);
	const char *p = name + n + strspn(name + n, MCF_BLANKS);
	const char *value;
	size_t vlen;
	vstr v = VSTR_INIT;

	if (eq == NULL || n == 0 || p != eq)
		return xasprintf("bad -o argument \"%s\": expected name=value", text);
	value = eq + 1 + strspn(eq + 1, MCF_BLANKS);
	vlen = strlen(value);
	while (vlen > 0 && isspace((unsigned char)value[vlen - 1]))
		vlen--;
	vstr_ncat(&v, name, n);
	vstr_catc(&v, '=');
	vstr_ncat(&v, value, vlen);
	argv_add(&e->overrides, vstr_str(&v));
	vstr_release(&v);
	return NULL;
}

/* option_value - the value of the option letter at args[*i][j]: the rest of
 * that word or the next word; NULL at the end of the command */
static const char *option_value(const struct argv *args, size_t *i, size_t j)
{
	const char *word = args->v[*i];

	if (word[j + 1])
		return word + j + 1;
	if (*i + 1 < args->n)
		return args->v[++*i];
	return NULL;
}

/* parse_overrides - every -o among the options after the command */
static char *parse_overrides(struct mcf_entry *e)
{
	char *err = NULL;

	for (size_t i = 1; i < e->args.n && err == NULL; i++) {
		const char *word = e->args.v[i];

		if (word[0] != '-' || word[1] == 0 || strcmp(word, "--") == 0)
			break;
		for (size_t j = 1; word[j]; j++) {
			const char *value;

			if (strchr(MCF_VALUE_OPTIONS, word[j]) == NULL)
				continue;
			value = option_value(&e->args, &i, j);
			if (word[j] != 'o')
				break;
			if (value == NULL)
				err = xstrdup("-o at the end of the command: expected name=value");
			else
				err = add_override(e, value);
			break;
		}
	}
	return err;
}

/* parse_command - the command, its arguments, and the overrides in them */
static char *parse_command(struct mcf_entry *e, const char *text)
{
	char *err = NULL;

	if (argv_split_braces(&e->args, text, MCF_BLANKS, &err) < 0)
		return err;
	if (e->args.n == 0 || e->args.v[0][0] == 0)
		return xstrdup("missing command");
	return parse_overrides(e);
}

/* ------------------------------------------------------------------ lines */

#define MCF_COLUMNS 7		/* before the command */

/* split_columns - the first seven columns; returns how many there were
 * and sets *rest to the command and what follows */
static size_t split_columns(const char *text, char **col, const char **rest)
{
	size_t n = 0;

	while (n < MCF_COLUMNS) {
		size_t len;

		text += strspn(text, MCF_BLANKS);
		if ((len = strcspn(text, MCF_BLANKS)) == 0)
			break;
		col[n++] = xstrndup(text, len);
		text += len;
	}
	*rest = text + strspn(text, MCF_BLANKS);
	return n;
}

/* parse_flags - the private, unpriv and chroot columns */
static char *parse_flags(struct mcf_entry *e, char **col)
{
	static const char *const what[] = {"private", "unpriv", "chroot"};
	int def[] = {e->type != MCF_INET, 1, 0};
	int *dst[] = {&e->private_, &e->unpriv, &e->chroot};

	for (size_t i = 0; i < 3; i++)
		if ((*dst[i] = parse_flag(col[2 + i], def[i])) < 0)
			return xasprintf("bad %s field \"%s\": expected y, n or -",
					 what[i], col[2 + i]);
	if (e->type == MCF_INET && e->private_)
		return xstrdup("inet service cannot be private");
	return NULL;
}

/* parse_columns - the seven columns into e */
static char *parse_columns(struct mcf_entry *e, char **col)
{
	char *err;

	if (mcf_type_parse(col[1], &e->type) < 0)
		return xasprintf("unknown service type \"%s\"", col[1]);
	if ((err = check_name(col[0], e->type)) != NULL)
		return err;
	e->name = xstrdup(col[0]);
	if ((err = parse_flags(e, col)) != NULL)
		return err;
	if (parse_wakeup(col[5], e) < 0)
		return xasprintf("bad wakeup time \"%s\": expected N, N? or -", col[5]);
	if (e->wakeup > 0 && (e->type == MCF_UNIX_DGRAM || e->type == MCF_PASS))
		return xasprintf("wakeup time is not supported for %s services",
				 mcf_type_name(e->type));
	if (parse_maxproc(col[6], &e->maxproc) < 0)
		return xasprintf("bad maxproc \"%s\": expected a number or -", col[6]);
	return NULL;
}

/* parse_entry - one logical line into e; NULL or the problem */
static char *parse_entry(const char *text, struct mcf_entry *e)
{
	char *col[MCF_COLUMNS];
	const char *rest;
	size_t n = split_columns(text, col, &rest);
	char *err;

	if (n < MCF_COLUMNS || *rest == 0)
		err = xasprintf("missing command (expected 8 columns, found %zu)",
				n + (*rest != 0));
	else if ((err = parse_columns(e, col)) == NULL)
		err = parse_command(e, rest);
	for (size_t i = 0; i < n; i++)
		free(col[i]);
	return err;
}

/* add_entry - appends e (taking it), replacing an earlier same name/type */
static void add_entry(struct mcf *m, struct mcf_entry *e, struct diaglist *dl)
{
	for (size_t i = 0; i < m->n; i++) {
		if (m->v[i].type == e->type && strcmp(m->v[i].name, e->name) == 0) {
			char *id = mcf_entry_id(e);
			char *text = xasprintf("duplicate service %s: the later entry wins", id);

			note(dl, DIAG_WARNING, e->file, e->line, text);
			free(text);
			free(id);
			entry_free(&m->v[i]);
			m->v[i] = *e;
			return;
		}
	}
	if (m->n == m->cap) {
		if (m->cap > SIZE_MAX / 2)
			msg_fatal("master.cf: too many services");
		m->cap = m->cap ? m->cap * 2 : 16;
		m->v = xreallocarray(m->v, m->cap, sizeof(*m->v));
	}
	m->v[m->n++] = *e;
}

/* parse_line - one logical line: an entry added, or a problem recorded */
static void parse_line(const char *text, int orphan, const char *file, int line,
		       struct mcf *out, struct diaglist *dl)
{
	struct mcf_entry e = {0};
	char *err;

	e.args = (struct argv)ARGV_INIT;
	e.overrides = (struct argv)ARGV_INIT;
	if (orphan)
		err = xasprintf("continuation line without a service to continue: %s", text);
	else
		err = parse_entry(text, &e);
	if (err) {
		note(dl, DIAG_ERROR, file, line, err);
		free(err);
		entry_free(&e);
		return;
	}
	e.file = xstrdup(file);
	e.line = line;
	add_entry(out, &e, dl);
}

int mcf_parse_string(const char *text, const char *file, struct mcf *out,
		     struct diaglist *dl)
{
	struct conf_reader r;
	vstr line = VSTR_INIT;
	int first, orphan;

	if (file == NULL)
		file = "";
	conf_reader_init(&r, text);
	while (conf_reader_next(&r, &line, &first, &orphan))
		parse_line(vstr_str(&line), orphan, file, first, out, dl);
	vstr_release(&line);
	return 0;
}

int mcf_parse_file(const char *path, struct mcf *out, struct diaglist *dl)
{
	char *text = conf_read_file(path);

	if (text == NULL)
		return -1;
	mcf_parse_string(text, path, out, dl);
	free(text);
	return 0;
}

void mcf_check_overrides(const struct mcf *m, struct diaglist *dl)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct mcf_entry *e = &m->v[i];

		for (size_t j = 0; j < e->overrides.n; j++) {
			const char *kv = e->overrides.v[j];
			size_t len = strcspn(kv, "=");
			char *name = xstrndup(kv, len);

			if (param_find(name) == NULL && conf_raw(name) == NULL && !param_is_per_transport(name))
				diag_add(dl, DIAG_WARNING, e->file, e->line,
					 "service %s: -o %s: unknown parameter", e->name, name);
			free(name);
		}
	}
}
