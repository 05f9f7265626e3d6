/* config - main.cf: the file parser, $name expansion, -o overrides, typed
 * getters, validation, and in-place editing (postconf -e style).
 *
 * The configuration is process-global. Values are stored as written; each
 * name holds its main.cf value (the last setting wins) and its override,
 * and the effective raw value is override, else main.cf, else the table's
 * default (params.c). conf_str expands that lazily and caches the result
 * until the next conf_override or conf_load. Strings handed out are never
 * freed before the next conf_load: replaced ones are kept on a "retired"
 * list, so a daemon may hold a conf_str pointer across a conf_override.
 *
 * Expansion never loops: a name already being expanded is reported as a
 * loop, nesting is capped at CONF_EXPAND_DEPTH, and the number of
 * references one expansion may follow is capped (a = $b$b$b..., b =
 * $c$c$c... would otherwise take exponential time).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "argv.h"
#include "config.h"
#include "mem.h"
#include "msg.h"
#include "vstr.h"

#define EXPAND_REF_BUDGET	100000	/* $name references one expansion follows */
#define EXPAND_NOTE_MAX		10	/* diagnostics one expansion records */

struct setting {
	char *name;
	char *value;		/* as written in main.cf, or NULL */
	int line;		/* of value */
	char *override;		/* from conf_override, or NULL */
};

struct cached {
	char *name;
	char *value;		/* expanded */
};

static struct {
	char *dir;		/* given to conf_load; NULL after conf_load_string */
	char *file;		/* main.cf path, for diagnostics */
	struct setting *set;	/* in order of first appearance: main.cf, -o */
	size_t nset, capset;
	struct cached *cache;
	size_t ncache, capcache;
	char **retired;		/* replaced strings, freed by the next conf_load */
	size_t nretired, capretired;
} conf;

/* grow - makes room for element n in an array of *cap elements */
static void *grow(void *v, size_t *cap, size_t n, size_t size)
{
	size_t c;

	if (n < *cap)
		return v;
	c = *cap ? *cap : 16;
	while (c <= n) {
		if (c > SIZE_MAX / 2)
			msg_fatal("config: too many entries");
		c *= 2;
	}
	*cap = c;
	return xreallocarray(v, c, size);
}

/* note - diag_add that accepts a NULL list */
static void note(struct diaglist *dl, enum diag_severity sev, const char *file,
		 int line, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void note(struct diaglist *dl, enum diag_severity sev, const char *file,
		 int line, const char *fmt, ...)
{
	vstr text = VSTR_INIT;
	va_list ap;

	if (dl == NULL)
		return;
	va_start(ap, fmt);
	vstr_vcatf(&text, fmt, ap);
	va_end(ap);
	diag_add(dl, sev, file, line, "%s", vstr_str(&text));
	vstr_release(&text);
}

/* ---------------------------------------------------------------- storage */

/* retire - keeps s valid until the next conf_load */
static void retire(char *s)
{
	if (s == NULL)
		return;
	conf.retired = grow(conf.retired, &conf.capretired, conf.nretired,
			    sizeof(*conf.retired));
	conf.retired[conf.nretired++] = s;
}

/* cache_clear - forgets every expanded value (pointers stay valid) */
static void cache_clear(void)
{
	for (size_t i = 0; i < conf.ncache; i++) {
		free(conf.cache[i].name);
		retire(conf.cache[i].value);
	}
	conf.ncache = 0;
}

static const char *cache_find(const char *name)
{
	for (size_t i = 0; i < conf.ncache; i++)
		if (strcmp(conf.cache[i].name, name) == 0)
			return conf.cache[i].value;
	return NULL;
}

/* cache_add - caches value (taking it), unless a nested lookup already did */
static const char *cache_add(const char *name, char *value)
{
	const char *old = cache_find(name);

	if (old) {
		free(value);
		return old;
	}
	conf.cache = grow(conf.cache, &conf.capcache, conf.ncache, sizeof(*conf.cache));
	conf.cache[conf.ncache].name = xstrdup(name);
	conf.cache[conf.ncache].value = value;
	return conf.cache[conf.ncache++].value;
}

static struct setting *find_setting(const char *name)
{
	for (size_t i = 0; i < conf.nset; i++)
		if (strcmp(conf.set[i].name, name) == 0)
			return &conf.set[i];
	return NULL;
}

/* add_setting - a new, empty entry for name (taking name) */
static struct setting *add_setting(char *name)
{
	struct setting *s;

	conf.set = grow(conf.set, &conf.capset, conf.nset, sizeof(*conf.set));
	s = &conf.set[conf.nset++];
	s->name = name;
	s->value = s->override = NULL;
	s->line = 0;
	return s;
}

/* conf_reset - frees everything a previous load left */
static void conf_reset(void)
{
	cache_clear();
	free(conf.cache);
	for (size_t i = 0; i < conf.nset; i++) {
		free(conf.set[i].name);
		free(conf.set[i].value);
		free(conf.set[i].override);
	}
	free(conf.set);
	for (size_t i = 0; i < conf.nretired; i++)
		free(conf.retired[i]);
	free(conf.retired);
	free(conf.dir);
	free(conf.file);
	memset(&conf, 0, sizeof(conf));
}

/* --------------------------------------------------------- logical lines */

enum line_kind { LINE_BLANK, LINE_COMMENT, LINE_START, LINE_CONT };

static enum line_kind line_kind(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && isspace((unsigned char)s[i]))
		i++;
	if (i == len)
		return LINE_BLANK;
	if (s[i] == '#')
		return LINE_COMMENT;
	return i > 0 ? LINE_CONT : LINE_START;
}

/* line_len - length of the physical line at s, without its newline */
static size_t line_len(const char *s)
{
	return strcspn(s, "\n");
}

/* append_trimmed - appends s without its surrounding white space, after
 * one space when out already holds text */
static void append_trimmed(vstr *out, const char *s, size_t len)
{
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (vstr_len(out))
		vstr_catc(out, ' ');
	vstr_ncat(out, s, len);
}

void conf_reader_init(struct conf_reader *r, const char *text)
{
	r->pos = text;
	r->line = 0;
}

int conf_reader_next(struct conf_reader *r, vstr *out, int *first_line, int *orphan)
{
	int have = 0;

	vstr_reset(out);
	*first_line = *orphan = 0;
	while (*r->pos) {
		size_t len = line_len(r->pos);
		enum line_kind kind = line_kind(r->pos, len);

		if (kind == LINE_START && have)
			break;
		r->line++;
		if (kind == LINE_START || kind == LINE_CONT) {
			if (!have) {
				have = 1;
				*first_line = r->line;
				*orphan = kind == LINE_CONT;
			}
			append_trimmed(out, r->pos, len);
		}
		r->pos += len + (r->pos[len] == '\n');
	}
	return have;
}

char *conf_read_file(const char *path)
{
	vstr text = VSTR_INIT;
	char buf[8192];
	ssize_t n;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			saved = errno;
			close(fd);
			vstr_release(&text);
			errno = saved;
			return NULL;
		}
		vstr_ncat(&text, buf, (size_t)n);
	}
	close(fd);
	return vstr_steal(&text);
}

static int is_name_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	    || (c >= '0' && c <= '9') || c == '_';
}

/* name_len_n - conf_name_len within the first len bytes of s */
static size_t name_len_n(const char *s, size_t len)
{
	size_t n = 0;

	while (n < len && is_name_char((unsigned char)s[n]))
		n++;
	return n;
}

size_t conf_name_len(const char *s)
{
	return name_len_n(s, strlen(s));
}

/* --------------------------------------------------------------- parsing */

/* split_setting - "name = value": the name's length and where the value
 * starts; -1 when text is not a setting */
static int split_setting(const char *text, size_t *name_len, const char **value)
{
	size_t n = conf_name_len(text);
	const char *p = text + n;

	p += strspn(p, " \t");
	if (n == 0 || *p != '=')
		return -1;
	p++;
	while (isspace((unsigned char)*p))
		p++;
	*name_len = n;
	*value = p;
	return 0;
}

/* store_setting - records a main.cf setting; a later one wins */
static void store_setting(const char *name, size_t len, const char *value, int line)
{
	char *key = xstrndup(name, len);
	struct setting *s = find_setting(key);

	if (s)
		free(key);
	else
		s = add_setting(key);
	free(s->value);
	s->value = xstrdup(value);
	s->line = line;
}

/* parse_logical_line - one main.cf logical line */
static void parse_logical_line(const char *text, int orphan, const char *file,
			       int line, struct diaglist *dl)
{
	const char *value;
	size_t len;

	if (orphan)
		note(dl, DIAG_ERROR, file, line,
		     "continuation line without a parameter to continue: %s", text);
	else if (split_setting(text, &len, &value) < 0)
		note(dl, DIAG_ERROR, file, line, "bad parameter syntax: %s", text);
	else
		store_setting(text, len, value, line);
}

/* collect_refs - every name that s refers to as $name, ${name}, $(name) */
static void collect_refs(const char *s, struct argv *refs)
{
	size_t n;

	while ((s = strchr(s, '$')) != NULL) {
		s++;
		if (*s == '$') {
			s++;
			continue;
		}
		if (*s == '{' || *s == '(')
			s++;
		if ((n = conf_name_len(s)) > 0)
			argv_addn(refs, s, n);
		s += n;
	}
}

static int argv_has(const struct argv *a, const char *s)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], s) == 0)
			return 1;
	return 0;
}

/* warn_unknown - names not in the table and not used as $name elsewhere */
static void warn_unknown(const char *file, struct diaglist *dl)
{
	struct argv refs = ARGV_INIT;

	for (size_t i = 0; i < conf.nset; i++) {
		if (conf.set[i].value)
			collect_refs(conf.set[i].value, &refs);
		if (conf.set[i].override)
			collect_refs(conf.set[i].override, &refs);
	}
	for (size_t i = 0; i < conf.nset; i++) {
		const struct setting *s = &conf.set[i];

		if (s->value && param_find(s->name) == NULL && !argv_has(&refs, s->name)
		    && !param_is_per_transport(s->name))
			note(dl, DIAG_WARNING, file, s->line,
			     "unknown parameter \"%s\" (ignored)", s->name);
	}
	argv_free(&refs);
}

/* conf_parse - reads main.cf text into the (empty) configuration */
static void conf_parse(const char *text, const char *file, struct diaglist *dl)
{
	struct conf_reader r;
	vstr line = VSTR_INIT;
	int first, orphan;

	conf_reader_init(&r, text);
	while (conf_reader_next(&r, &line, &first, &orphan))
		parse_logical_line(vstr_str(&line), orphan, file, first, dl);
	vstr_release(&line);
	warn_unknown(file, dl);
}

const char *conf_resolve_dir(const char *arg)
{
	const char *env;

	if (arg)
		return arg;
	env = getenv("POSTERN_CONFIG_DIR");
	if (env && *env)
		return env;
	return DEF_CONFIG_DIR;
}

int conf_load(const char *dir, struct diaglist *dl)
{
	char *text;

	conf_reset();
	conf.dir = xstrdup(dir);
	conf.file = xasprintf("%s/main.cf", dir);
	if ((text = conf_read_file(conf.file)) == NULL)
		return errno == ENOENT ? 0 : -1;
	conf_parse(text, conf.file, dl);
	free(text);
	return 0;
}

int conf_load_string(const char *text, const char *file, struct diaglist *dl)
{
	conf_reset();
	conf.file = xstrdup(file ? file : "");
	conf_parse(text, conf.file, dl);
	return 0;
}

const char *conf_dir(void)
{
	return conf.dir ? conf.dir : conf_resolve_dir(NULL);
}

/* ------------------------------------------------------------- overrides */

void conf_override(const char *name, const char *value)
{
	struct setting *s = find_setting(name);

	if (s == NULL)
		s = add_setting(xstrdup(name));
	retire(s->override);
	s->override = xstrdup(value);
	cache_clear();
}

int conf_override_arg(const char *arg)
{
	const char *name = arg + strspn(arg, " \t");
	const char *eq = strchr(arg, '=');
	size_t n = conf_name_len(name);
	const char *value, *p = name + n;
	size_t vlen;
	char *key, *val;

	p += strspn(p, " \t");
	if (eq == NULL || n == 0 || p != eq)
		return -1;
	value = eq + 1;
	while (isspace((unsigned char)*value))
		value++;
	vlen = strlen(value);
	while (vlen > 0 && isspace((unsigned char)value[vlen - 1]))
		vlen--;
	key = xstrndup(name, n);
	val = xstrndup(value, vlen);
	conf_override(key, val);
	free(key);
	free(val);
	return 0;
}

const char *conf_raw(const char *name)
{
	const struct setting *s = find_setting(name);

	if (s == NULL)
		return NULL;
	return s->override ? s->override : s->value;
}

int conf_raw_line(const char *name)
{
	const struct setting *s = find_setting(name);

	if (s == NULL || s->override || s->value == NULL)
		return 0;
	return s->line;
}

const char *conf_set_name(size_t i)
{
	return i < conf.nset ? conf.set[i].name : NULL;
}

/* effective_raw - the unexpanded value in force: override, the directory
 * given to conf_load (for config_directory), main.cf, default; NULL when
 * the name is neither set nor known */
static const char *effective_raw(const char *name);

const char *conf_value_raw(const char *name)
{
	return effective_raw(name);
}

static const char *effective_raw(const char *name)
{
	const struct setting *s = find_setting(name);
	const struct param_def *p;

	if (s && s->override)
		return s->override;
	if (conf.dir && strcmp(name, "config_directory") == 0)
		return conf.dir;
	if (s && s->value)
		return s->value;
	p = param_find(name);
	return p ? param_default(p) : NULL;
}

/* ------------------------------------------------------------- expansion */

struct expand {
	struct diaglist *dl;
	const char *file;	/* where diagnostics point */
	int line;
	const char *top;	/* parameter being expanded, for messages */
	int report_undefined;	/* warn about $name that is nowhere defined */
	const char *stack[CONF_EXPAND_DEPTH + 1]; /* names being expanded */
	size_t depth;
	size_t nest;		/* ${name?...} nesting */
	size_t refs;		/* against EXPAND_REF_BUDGET */
	size_t notes;		/* against EXPAND_NOTE_MAX */
	int stop;		/* the reference budget ran out */
};

static void expand_init(struct expand *x, struct diaglist *dl, const char *file,
			int line, const char *top)
{
	memset(x, 0, sizeof(*x));
	x->dl = dl;
	x->file = file;
	x->line = line;
	x->top = top;
}

static void expand_note(struct expand *x, enum diag_severity sev, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void expand_note(struct expand *x, enum diag_severity sev, const char *fmt, ...)
{
	vstr text = VSTR_INIT;
	va_list ap;

	if (x->notes++ >= EXPAND_NOTE_MAX)
		return;
	if (x->top)
		vstr_catf(&text, "parameter \"%s\": ", x->top);
	va_start(ap, fmt);
	vstr_vcatf(&text, fmt, ap);
	va_end(ap);
	note(x->dl, sev, x->file, x->line, "%s", vstr_str(&text));
	vstr_release(&text);
}

static void expand_text(struct expand *x, const char *s, size_t len, vstr *out);

/* report_loop - "$a -> $b -> $a" from the stack */
static void report_loop(struct expand *x, const char *name)
{
	vstr chain = VSTR_INIT;
	size_t i = 0;

	while (strcmp(x->stack[i], name) != 0)
		i++;
	for (; i < x->depth; i++)
		vstr_catf(&chain, "$%s -> ", x->stack[i]);
	vstr_catf(&chain, "$%s", name);
	expand_note(x, DIAG_ERROR, "expansion loop: %s", vstr_str(&chain));
	vstr_release(&chain);
}

static int in_stack(const struct expand *x, const char *name)
{
	for (size_t i = 0; i < x->depth; i++)
		if (strcmp(x->stack[i], name) == 0)
			return 1;
	return 0;
}

/* expand_name - appends the expanded value of name; with quiet, a name
 * that is nowhere defined is not reported (it is only being tested) */
static void expand_name(struct expand *x, const char *name, size_t len, vstr *out,
			int quiet)
{
	char *key = xstrndup(name, len);
	const char *raw;

	if (++x->refs > EXPAND_REF_BUDGET) {
		expand_note(x, DIAG_ERROR, "more than %d parameter references",
			    EXPAND_REF_BUDGET);
		x->stop = 1;
	} else if (in_stack(x, key)) {
		report_loop(x, key);
	} else if (x->depth >= CONF_EXPAND_DEPTH) {
		expand_note(x, DIAG_ERROR, "expansion nested deeper than %d levels at $%s",
			    CONF_EXPAND_DEPTH, key);
	} else if ((raw = effective_raw(key)) == NULL) {
		if (x->report_undefined && !quiet)
			expand_note(x, DIAG_WARNING, "undefined parameter $%s", key);
	} else {
		x->stack[x->depth++] = key;
		expand_text(x, raw, strlen(raw), out);
		x->depth--;
	}
	free(key);
}

/* match_close - index in s of the bracket closing s[0], or len */
static size_t match_close(const char *s, size_t len, char open, char close)
{
	size_t depth = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == open)
			depth++;
		else if (s[i] == close && --depth == 0)
			return i;
	}
	return len;
}

/* trim_span - drops white space around s[0..*len) */
static const char *trim_span(const char *s, size_t *len)
{
	while (*len > 0 && isspace((unsigned char)*s)) {
		s++;
		(*len)--;
	}
	while (*len > 0 && isspace((unsigned char)s[*len - 1]))
		(*len)--;
	return s;
}

struct branches {
	const char *a, *b;	/* b is NULL without the {a}:{b} form */
	size_t alen, blen;
};

/* brace_group - "{ text }" filling all of s: the text, trimmed; -1 if not */
static int brace_group(const char *s, size_t len, const char **text, size_t *tlen)
{
	if (len < 2 || s[0] != '{' || match_close(s, len, '{', '}') != len - 1)
		return -1;
	*tlen = len - 2;
	*text = trim_span(s + 1, tlen);
	return 0;
}

/* parse_branches - the text after '?' or ':': plain text, {text}, or (for
 * '?') {a}:{b}. Returns -1 on bad syntax. */
static int parse_branches(const char *s, size_t len, char op, struct branches *br)
{
	size_t end, rlen;
	const char *rest;

	memset(br, 0, sizeof(*br));
	if (len == 0 || s[0] != '{') {
		br->a = s;
		br->alen = len;
		return 0;
	}
	if ((end = match_close(s, len, '{', '}')) == len)
		return -1;
	if (brace_group(s, end + 1, &br->a, &br->alen) < 0)
		return -1;
	rlen = len - end - 1;
	rest = trim_span(s + end + 1, &rlen);
	if (rlen == 0)
		return 0;
	if (op != '?' || rest[0] != ':')
		return -1;
	rlen--;
	rest = trim_span(rest + 1, &rlen);
	return brace_group(rest, rlen, &br->b, &br->blen);
}

/* expand_cond - ${name?text}, ${name:text} and their brace forms */
static void expand_cond(struct expand *x, const char *name, size_t nlen, char op,
			const char *text, size_t tlen, vstr *out)
{
	struct branches br;
	vstr val = VSTR_INIT;
	int set;

	if (parse_branches(text, tlen, op, &br) < 0) {
		expand_note(x, DIAG_ERROR, "bad conditional syntax after \"$%.*s%c\"",
			    (int)nlen, name, op);
		return;
	}
	if (x->nest >= CONF_EXPAND_DEPTH) {
		expand_note(x, DIAG_ERROR, "conditionals nested deeper than %d levels",
			    CONF_EXPAND_DEPTH);
		return;
	}
	x->nest++;
	expand_name(x, name, nlen, &val, 1);
	set = vstr_len(&val) > 0;
	vstr_release(&val);
	if ((op == '?') == set)
		expand_text(x, br.a, br.alen, out);
	else if (br.b)
		expand_text(x, br.b, br.blen, out);
	x->nest--;
}

/* expand_bracket - ${...} or $(...) at s; returns the bytes consumed */
static size_t expand_bracket(struct expand *x, const char *s, size_t len, vstr *out)
{
	char open = s[1], close = open == '{' ? '}' : ')';
	size_t end = match_close(s + 1, len - 1, open, close);
	const char *body = s + 2;
	size_t blen, n;

	if (end == len - 1) {
		expand_note(x, DIAG_ERROR, "missing '%c' in \"%.*s\"", close,
			    (int)(len > 200 ? 200 : len), s);
		vstr_ncat(out, s, len);
		return len;
	}
	blen = end - 1;
	n = name_len_n(body, blen);
	if (n > 0 && n == blen)
		expand_name(x, body, n, out, 0);
	else if (n > 0 && (body[n] == '?' || body[n] == ':'))
		expand_cond(x, body, n, body[n], body + n + 1, blen - n - 1, out);
	else {
		expand_note(x, DIAG_ERROR, "bad parameter reference \"%.*s\"",
			    (int)(end + 2 > 200 ? 200 : end + 2), s);
		vstr_ncat(out, s, end + 2);
	}
	return end + 2;
}

/* expand_dollar - the '$' construct at s; returns the bytes consumed */
static size_t expand_dollar(struct expand *x, const char *s, size_t len, vstr *out)
{
	size_t n;

	if (len >= 2 && s[1] == '$') {
		vstr_catc(out, '$');
		return 2;
	}
	if (len >= 2 && (s[1] == '{' || s[1] == '('))
		return expand_bracket(x, s, len, out);
	n = name_len_n(s + 1, len - 1);
	if (n == 0) {
		vstr_catc(out, '$');	/* not a reference: literal */
		return 1;
	}
	expand_name(x, s + 1, n, out, 0);
	return 1 + n;
}

static void expand_text(struct expand *x, const char *s, size_t len, vstr *out)
{
	size_t i = 0;

	while (i < len && !x->stop) {
		const char *dollar = memchr(s + i, '$', len - i);
		size_t run = dollar ? (size_t)(dollar - (s + i)) : len - i;

		vstr_ncat(out, s + i, run);
		i += run;
		if (i < len)
			i += expand_dollar(x, s + i, len - i, out);
	}
}

/* expand_param - the expanded effective value of name (malloc'ed) */
static char *expand_param(struct expand *x, const char *name)
{
	const char *raw = effective_raw(name);
	vstr out = VSTR_INIT;

	if (raw) {
		x->stack[x->depth++] = name;
		expand_text(x, raw, strlen(raw), &out);
		x->depth--;
	}
	return vstr_steal(&out);
}

char *conf_expand(const char *text, struct diaglist *dl)
{
	struct expand x;
	vstr out = VSTR_INIT;

	expand_init(&x, dl, NULL, 0, NULL);
	expand_text(&x, text, strlen(text), &out);
	return vstr_steal(&out);
}

const char *conf_str(const char *name)
{
	struct diaglist dl = DIAGLIST_INIT;
	struct expand x;
	const char *cached = cache_find(name);
	char *value;
	int line;

	if (cached)
		return cached;
	if (effective_raw(name) == NULL)
		return "";
	line = conf_raw_line(name);
	expand_init(&x, &dl, line ? conf.file : NULL, line, name);
	value = expand_param(&x, name);
	diag_log(&dl);
	diag_clear(&dl);
	return cache_add(name, value);
}

/* ------------------------------------------------------------ typed values */

/* parse_ll - a whole decimal integer; -1 if s is anything else */
static int parse_ll(const char *s, long long *v)
{
	char *end;

	if (*s != '-' && !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return errno || *end ? -1 : 0;
}

/* param_range - the range of a number parameter, any number if unknown */
static void param_range(const struct param_def *p, long long *lo, long long *hi)
{
	*lo = LLONG_MIN;
	*hi = LLONG_MAX;
	if (p && (p->type == PARAM_INT || p->type == PARAM_TIME) && p->min < p->max) {
		*lo = p->min;
		*hi = p->max;
	}
}

static int check_int(const struct param_def *p, const char *value, long long *v)
{
	long long lo, hi;

	param_range(p, &lo, &hi);
	return parse_ll(value, v) < 0 || *v < lo || *v > hi ? -1 : 0;
}

static int check_time(const struct param_def *p, const char *value, long long *v)
{
	long long lo, hi;

	param_range(p, &lo, &hi);
	*v = conf_parse_time(value, p && p->unit ? p->unit : 's');
	return *v < 0 || *v < lo || *v > hi ? -1 : 0;
}

long long conf_int(const char *name)
{
	const char *value = conf_str(name);
	long long v;

	if (check_int(param_find(name), value, &v) < 0)
		msg_fatal("bad numerical configuration: %s = %s", name, value);
	return v;
}

int conf_bool(const char *name)
{
	const char *value = conf_str(name);
	int v = conf_parse_bool(value);

	if (v < 0)
		msg_fatal("bad boolean configuration: %s = %s", name, value);
	return v;
}

long long conf_time(const char *name)
{
	const char *value = conf_str(name);
	long long v;

	if (check_time(param_find(name), value, &v) < 0)
		msg_fatal("bad numerical configuration: %s = %s", name, value);
	return v;
}

/* unit_seconds - seconds in a time unit, 0 for an unknown unit */
static long long unit_seconds(char unit)
{
	switch (unit) {
	case 's':
		return 1;
	case 'm':
		return 60;
	case 'h':
		return 3600;
	case 'd':
		return 86400;
	case 'w':
		return 604800;
	default:
		return 0;
	}
}

long long conf_parse_time(const char *text, char unit)
{
	long long n, mult;
	char *end;

	if (!isdigit((unsigned char)*text))
		return -1;
	errno = 0;
	n = strtoll(text, &end, 10);
	if (errno)
		return -1;
	if (*end && end[1] == 0)
		unit = *end;
	else if (*end)
		return -1;
	if ((mult = unit_seconds(unit)) == 0 || n > LLONG_MAX / mult)
		return -1;
	return n * mult;
}

int conf_parse_bool(const char *text)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(text, yes[i]) == 0)
			return 1;
		if (strcasecmp(text, no[i]) == 0)
			return 0;
	}
	return -1;
}

/* ------------------------------------------------------------- validation */

/* check_type - records a value that does not fit the parameter's type */
static void check_type(const struct param_def *p, const char *value,
		       const char *file, int line, struct diaglist *dl)
{
	long long v, lo, hi;

	param_range(p, &lo, &hi);
	if (p->type == PARAM_INT && check_int(p, value, &v) < 0)
		note(dl, DIAG_ERROR, file, line,
		     "bad numerical configuration: %s = %s (must be an integer in %lld..%lld)",
		     p->name, value, lo, hi);
	else if (p->type == PARAM_BOOL && conf_parse_bool(value) < 0)
		note(dl, DIAG_ERROR, file, line,
		     "bad boolean configuration: %s = %s (must be yes or no)",
		     p->name, value);
	else if (p->type == PARAM_TIME && check_time(p, value, &v) < 0)
		note(dl, DIAG_ERROR, file, line,
		     "bad numerical configuration: %s = %s (must be a time in %llds..%llds; "
		     "units s m h d w)", p->name, value, lo, hi);
}

/* validate_one - expansion problems of name, and its type if known */
static void validate_one(const char *name, const struct param_def *p,
			 struct diaglist *dl)
{
	int line = conf_raw_line(name);
	const char *file = line ? conf.file : NULL;
	struct expand x;
	char *value;

	expand_init(&x, dl, file, line, name);
	x.report_undefined = 1;
	value = expand_param(&x, name);
	if (p)
		check_type(p, value, file, line, dl);
	free(value);
}

size_t conf_validate(struct diaglist *dl)
{
	struct diaglist local = DIAGLIST_INIT;
	size_t count, before, n;
	const struct param_def *all = param_all(&n);

	if (dl == NULL)
		dl = &local;
	before = diag_errors(dl);
	for (size_t i = 0; i < n; i++)
		validate_one(all[i].name, &all[i], dl);
	for (size_t i = 0; i < conf.nset; i++)
		if (param_find(conf.set[i].name) == NULL)
			validate_one(conf.set[i].name, NULL, dl);
	count = diag_errors(dl) - before;
	diag_clear(&local);
	return count;
}

/* ---------------------------------------------------------------- editing */

/* logical_sets - whether the logical line starting at s sets name */
static int logical_sets(const char *s, const char *name)
{
	struct conf_reader r;
	vstr text = VSTR_INIT;
	const char *value;
	size_t len;
	int first, orphan, ret;

	conf_reader_init(&r, s);
	ret = conf_reader_next(&r, &text, &first, &orphan) && !orphan
	    && split_setting(vstr_str(&text), &len, &value) == 0
	    && len == strlen(name) && strncmp(vstr_str(&text), name, len) == 0;
	vstr_release(&text);
	return ret;
}

/* edit_text - text with name's settings replaced by one (or removed) */
static void edit_text(const char *text, const char *name, const char *value, vstr *out)
{
	int in_target = 0, done = 0;

	while (*text) {
		size_t len = line_len(text);
		size_t full = len + (text[len] == '\n');
		enum line_kind kind = line_kind(text, len);

		if (kind == LINE_START) {
			in_target = logical_sets(text, name);
			if (in_target && value && !done)
				vstr_catf(out, "%s = %s\n", name, value);
			done |= in_target;
		}
		/* Comments and blank lines inside a setting's lines stay. */
		if (!in_target || kind == LINE_BLANK || kind == LINE_COMMENT)
			vstr_ncat(out, text, full);
		text += full;
	}
	if (!done && value) {
		if (vstr_len(out) && vstr_str(out)[vstr_len(out) - 1] != '\n')
			vstr_catc(out, '\n');
		vstr_catf(out, "%s = %s\n", name, value);
	}
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsync_parent - makes a rename in path's directory durable */
static int fsync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash == NULL ? xstrdup(".")
	    : xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = fd < 0 || fsync(fd) < 0 ? -1 : 0;
	int saved = errno;

	if (fd >= 0)
		close(fd);
	free(dir);
	errno = saved;
	return ret;
}

/* write_tmp - data into a new file tmp with the mode (and, where allowed,
 * owner) of st, or 0644; fsynced */
static int write_tmp(const char *tmp, const char *data, size_t len,
		     const struct stat *st, char **err)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0) {
		*err = xasprintf("create %s: %s", tmp, strerror(errno));
		return -1;
	}
	if (st && fchown(fd, st->st_uid, st->st_gid) < 0) {
		/* Not ours to give away: the file becomes the editor's. */
	}
	if (fchmod(fd, st ? st->st_mode & 07777 : 0644) < 0
	    || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		*err = xasprintf("write %s: %s", tmp, strerror(errno));
		close(fd);
		return -1;
	}
	if (close(fd) < 0) {
		*err = xasprintf("write %s: %s", tmp, strerror(errno));
		return -1;
	}
	return 0;
}

/* replace_file - atomically replaces path with data */
static int replace_file(const char *path, const char *data, size_t len, char **err)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	struct stat st;
	int have_st = stat(path, &st) == 0;
	int ret = -1;

	if (write_tmp(tmp, data, len, have_st ? &st : NULL, err) < 0) {
		unlink(tmp);
	} else if (rename(tmp, path) < 0) {
		*err = xasprintf("rename %s to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
	} else if (fsync_parent(path) < 0) {
		/* The new file is in place but may not survive a crash. */
		*err = xasprintf("fsync directory of %s: %s", path, strerror(errno));
	} else {
		ret = 0;
	}
	free(tmp);
	return ret;
}

int conf_edit_file(const char *path, const char *name, const char *value, char **err)
{
	vstr out = VSTR_INIT;
	char *text;
	int ret;

	*err = NULL;
	if (conf_name_len(name) == 0 || name[conf_name_len(name)] != 0) {
		*err = xasprintf("bad parameter name \"%s\"", name);
		return -1;
	}
	if (value && strpbrk(value, "\r\n")) {
		*err = xasprintf("value of %s contains a line break", name);
		return -1;
	}
	if ((text = conf_read_file(path)) == NULL) {
		if (errno != ENOENT) {
			*err = xasprintf("read %s: %s", path, strerror(errno));
			return -1;
		}
		if (value == NULL)
			return 0;	/* nothing to remove */
		text = xstrdup("");
	}
	edit_text(text, name, value, &out);
	ret = replace_file(path, vstr_str(&out), vstr_len(&out), err);
	free(text);
	vstr_release(&out);
	return ret;
}
