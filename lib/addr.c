/* addr - RFC 5322 address lists reduced to addr-specs; see addr.h.
 *
 * Two passes, neither recursive. The tokenizer turns the value into
 * atoms, quoted strings, domain literals and the specials < > @ , ; : .
 * (comments and white space vanish; escapes are undone into one text
 * buffer). The list parser then walks the tokens item by item: an angle
 * address wins over everything else in its item, a ':' outside angle
 * brackets opens a group and ';' closes it, and an item without angle
 * brackets must itself be an addr-spec. Each token and each byte of text
 * is bounded by the input length, so a hostile value costs linear time
 * and memory.
 */
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "mem.h"
#include "vstr.h"

enum { TOK_ATOM = 'a', TOK_QSTR = 'q', TOK_LIT = 'l' };

struct tok {
	int type;		/* TOK_* or the special character itself */
	int bad;		/* not closed: never part of an address */
	size_t off, len;	/* text of atoms, quoted strings, literals */
};

struct toks {
	struct tok *v;
	size_t n, cap;
	vstr text;		/* unescaped token texts, back to back */
	int errors;
};

/* is_atext - may appear in an atom (RFC 5322 atext, and UTF-8 bytes) */
static int is_atext(unsigned char c)
{
	if (c >= 0x80)
		return 1;
	if (c <= 0x20 || c == 0x7f)
		return 0;
	return strchr("()<>[]:;@\\,.\"", c) == NULL;
}

/* is_fws - white space, including the line breaks of folded values */
static int is_fws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* tok_add - appends a token whose text starts at off and ends here */
static void tok_add(struct toks *t, int type, size_t off)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? size_add(t->cap, t->cap) : 16;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	t->v[t->n].type = type;
	t->v[t->n].bad = 0;
	t->v[t->n].off = off;
	t->v[t->n].len = vstr_len(&t->text) - off;
	t->n++;
}

/* scan_comment - skips "(...)" with nesting and quoted pairs */
static const char *scan_comment(struct toks *t, const char *p)
{
	size_t depth = 1;

	for (p++; *p && depth > 0; p++) {
		if (*p == '\\' && p[1])
			p++;
		else if (*p == '(')
			depth++;
		else if (*p == ')')
			depth--;
	}
	if (depth > 0)
		t->errors |= ADDR_ERR_COMMENT;
	return p;
}

/* scan_quoted - a quoted string; the text keeps its content unescaped.
 * Line breaks are folding and vanish; other controls but TAB are dropped. */
static const char *scan_quoted(struct toks *t, const char *p)
{
	size_t off = vstr_len(&t->text);
	unsigned char c;

	for (p++; *p && *p != '"'; p++) {
		if (*p == '\\' && p[1])
			p++;
		c = (unsigned char)*p;
		if (c == '\r' || c == '\n')
			continue;
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			t->errors |= ADDR_ERR_SYNTAX;
			continue;
		}
		vstr_catc(&t->text, c);
	}
	tok_add(t, TOK_QSTR, off);
	if (*p == '"')
		return p + 1;
	t->errors |= ADDR_ERR_QUOTE;
	t->v[t->n - 1].bad = 1;
	return p;
}

/* scan_literal - "[...]"; the text is the content without white space,
 * quoted pairs kept as written */
static const char *scan_literal(struct toks *t, const char *p)
{
	size_t off = vstr_len(&t->text);
	unsigned char c;

	for (p++; *p && *p != ']'; p++) {
		c = (unsigned char)*p;
		if (c == '\\' && p[1] && !is_fws((unsigned char)p[1])) {
			vstr_ncat(&t->text, p, 2);
			p++;
		} else if (is_fws(c) || c == '\\') {
			continue;
		} else if (c < 0x20 || c == 0x7f || c == '[') {
			t->errors |= ADDR_ERR_LITERAL;
		} else {
			vstr_catc(&t->text, c);
		}
	}
	tok_add(t, TOK_LIT, off);
	if (*p == ']')
		return p + 1;
	t->errors |= ADDR_ERR_LITERAL;
	t->v[t->n - 1].bad = 1;
	return p;
}

/* scan_atom - a run of atext; a backslash outside quotes escapes one byte */
static const char *scan_atom(struct toks *t, const char *p)
{
	size_t off = vstr_len(&t->text);

	for (; *p; p++) {
		if (is_atext((unsigned char)*p)) {
			vstr_catc(&t->text, *p);
		} else if (*p == '\\') {
			if (p[1] == 0 || p[1] == '\r' || p[1] == '\n') {
				t->errors |= ADDR_ERR_SYNTAX;
				continue;
			}
			vstr_catc(&t->text, *++p);
		} else {
			break;
		}
	}
	if (vstr_len(&t->text) > off)
		tok_add(t, TOK_ATOM, off);
	return p;
}

/* tokenize - the whole value into t */
static void tokenize(struct toks *t, const char *p)
{
	unsigned char c;

	while ((c = (unsigned char)*p) != 0) {
		if (is_fws(c)) {
			p++;
		} else if (c == '(') {
			p = scan_comment(t, p);
		} else if (c == '"') {
			p = scan_quoted(t, p);
		} else if (c == '[') {
			p = scan_literal(t, p);
		} else if (strchr("<>@,;:.", c)) {
			tok_add(t, c, vstr_len(&t->text));
			p++;
		} else if (is_atext(c) || c == '\\') {
			p = scan_atom(t, p);
		} else {
			/* stray ')' or ']', control characters */
			t->errors |= c == ')' ? ADDR_ERR_COMMENT : ADDR_ERR_SYNTAX;
			p++;
		}
	}
}

struct parse {
	struct toks *t;
	struct argv *out;
};

static const char *tok_text(const struct parse *ps, size_t i)
{
	return vstr_str(&ps->t->text) + ps->t->v[i].off;
}

/* local_quote - the local part in external form */
static void local_quote(vstr *dst, const char *s, size_t len)
{
	int bare = len > 0;

	for (size_t i = 0; i < len && bare; i++)
		if (!is_atext((unsigned char)s[i]) && s[i] != '.')
			bare = 0;
	if (bare) {
		vstr_ncat(dst, s, len);
		return;
	}
	vstr_catc(dst, '"');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			vstr_catc(dst, '\\');
		vstr_catc(dst, s[i]);
	}
	vstr_catc(dst, '"');
}

/* local_part - words and dots of [*i, b) up to '@'; 0 if not a local part.
 * Dots may lead, trail or repeat (real addresses do that); two words in a
 * row may not ("John Smith" is a name, not an address). */
static int local_part(struct parse *ps, size_t *i, size_t b, vstr *local)
{
	int words = 0, last_word = 0, type;

	for (; *i < b && (type = ps->t->v[*i].type) != '@'; (*i)++) {
		if (type == TOK_ATOM || type == TOK_QSTR) {
			if (last_word)
				return 0;
			vstr_ncat(local, tok_text(ps, *i), ps->t->v[*i].len);
			last_word = 1;
			words++;
		} else if (type == '.') {
			vstr_catc(local, '.');
			last_word = 0;
		} else {
			return 0;
		}
	}
	return words > 0;
}

/* domain_part - tokens [i, b) after '@': one literal, or atoms and dots */
static int domain_part(struct parse *ps, size_t i, size_t b, vstr *dst)
{
	int atoms = 0, last_atom = 0, type;

	if (i < b && ps->t->v[i].type == TOK_LIT) {
		if (i + 1 != b)
			return 0;
		vstr_catc(dst, '[');
		vstr_ncat(dst, tok_text(ps, i), ps->t->v[i].len);
		vstr_catc(dst, ']');
		return 1;
	}
	for (; i < b; i++) {
		type = ps->t->v[i].type;
		if (type == TOK_ATOM && !last_atom) {
			vstr_ncat(dst, tok_text(ps, i), ps->t->v[i].len);
			last_atom = 1;
			atoms++;
		} else if (type == '.') {
			vstr_catc(dst, '.');
			last_atom = 0;
		} else {
			return 0;
		}
	}
	return atoms > 0;
}

/* spec_emit - tokens [a, b) as local-part ["@" domain]; 0 if they are not */
static int spec_emit(struct parse *ps, size_t a, size_t b)
{
	vstr local = VSTR_INIT, spec = VSTR_INIT;
	size_t i = a;
	int ok;

	for (i = a; i < b; i++)
		if (ps->t->v[i].bad)
			return 0;
	i = a;
	ok = local_part(ps, &i, b, &local);
	if (ok) {
		local_quote(&spec, vstr_str(&local), vstr_len(&local));
		if (i < b) {
			vstr_catc(&spec, '@');
			ok = domain_part(ps, i + 1, b, &spec);
		}
	}
	if (ok)
		argv_addn(ps->out, vstr_str(&spec), vstr_len(&spec));
	vstr_release(&local);
	vstr_release(&spec);
	return ok;
}

/* parse_angle - the angle address starting at the '<' at i; returns the
 * index of the first token after it. Without '>', the address ends at the
 * next ',', '<' or ';' so that the rest of the list survives. */
static size_t parse_angle(struct parse *ps, size_t i)
{
	const struct tok *v = ps->t->v;
	size_t n = ps->t->n, j = i + 1, a;

	if (j < n && v[j].type == '@') {	/* obsolete route: @a,@b: */
		while (j < n && v[j].type != ':' && v[j].type != '>')
			j++;
		if (j >= n || v[j].type != ':') {
			ps->t->errors |= ADDR_ERR_SYNTAX | (j >= n ? ADDR_ERR_ANGLE : 0);
			return j < n ? j + 1 : n;
		}
		j++;
	}
	for (a = j; j < n && !strchr(">,<;", v[j].type); j++)
		;
	if (j > a && !spec_emit(ps, a, j))
		ps->t->errors |= ADDR_ERR_SYNTAX;
	if (j < n && v[j].type == '>')
		return j + 1;
	ps->t->errors |= ADDR_ERR_ANGLE;
	return j;
}

/* parse_list - every item of the token list */
static void parse_list(struct parse *ps)
{
	const struct tok *v = ps->t->v;
	size_t n = ps->t->n, i = 0, start = 0;
	int in_group = 0, angle = 0, type;

	while (i <= n) {
		type = i < n ? v[i].type : 0;
		if (type == '<') {
			i = parse_angle(ps, i);
			angle = 1;
			continue;
		}
		if (type == ':' && !angle) {		/* "name:" opens a group */
			if (in_group)
				ps->t->errors |= ADDR_ERR_GROUP;
			in_group = 1;
			start = ++i;
			continue;
		}
		if (type == ',' || type == ';' || type == 0) {
			if (!angle && i > start && !spec_emit(ps, start, i))
				ps->t->errors |= ADDR_ERR_SYNTAX;
			if (type == ';' && !in_group)
				ps->t->errors |= ADDR_ERR_SYNTAX;
			if (type == ';')
				in_group = 0;
			angle = 0;
			start = ++i;
			continue;
		}
		if (angle || type == '>')	/* junk after "<a@b>", stray '>' */
			ps->t->errors |= type == '>' ? ADDR_ERR_ANGLE : ADDR_ERR_SYNTAX;
		i++;
	}
	if (in_group)
		ps->t->errors |= ADDR_ERR_GROUP;
}

int addr_list_parse(const char *value, struct argv *out)
{
	struct toks t = {NULL, 0, 0, VSTR_INIT, 0};
	struct parse ps = {&t, out};

	tokenize(&t, value);
	parse_list(&ps);
	free(t.v);
	vstr_release(&t.text);
	return t.errors;
}

char *addr_strip(const char *arg)
{
	struct argv a = ARGV_INIT;
	char *result = NULL;

	if (addr_list_parse(arg, &a) == 0 && a.n == 1)
		result = xstrdup(a.v[0]);
	argv_free(&a);
	return result;
}

const char *addr_error_text(int errors)
{
	static const struct {
		int bit;
		const char *text;
	} texts[] = {
		{ADDR_ERR_QUOTE, "unterminated quoted string"},
		{ADDR_ERR_COMMENT, "unbalanced parentheses"},
		{ADDR_ERR_LITERAL, "malformed domain literal"},
		{ADDR_ERR_ANGLE, "unbalanced angle brackets"},
		{ADDR_ERR_GROUP, "malformed group"},
		{ADDR_ERR_SYNTAX, "malformed address"},
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (errors & texts[i].bit)
			return texts[i].text;
	return "no error";
}
