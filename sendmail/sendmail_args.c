/* sendmail_args - the sendmail command line, parsed as real callers need.
 *
 * Callers glue values to their option or pass them separately (-fuser@x
 * and -f user@x, -B8BITMIME and -B 8BITMIME), cluster flags (-ti), and
 * pass a zoo of old options. Every option Postfix's sendmail accepts is
 * accepted here; the ones that mean nothing to postern are ignored, -X
 * included (its argument, a log file in Sendmail, is never opened: the
 * CVE-2016-10033 path). A truly unknown option is a usage error, so that
 * a typo does not silently change what happens.
 *
 * Options end at "--" or at the first argument that does not start with
 * '-': everything after is a recipient, even "-x@y". This is Postfix's
 * rule, and the one that lets a wrapper write "sendmail -- $user_input".
 *
 * The parser has no side effects: it fills struct sm_opts and returns a
 * sysexits code with a message, and main() decides what to do with it.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "addr.h"
#include "maildrop.h"
#include "mem.h"
#include "sendmail.h"

int sm_has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

/* mode_of_name - the mode that argv[0] implies */
static enum sm_mode mode_of_name(const char *argv0)
{
	const char *slash = argv0 ? strrchr(argv0, '/') : NULL;
	const char *base = slash ? slash + 1 : (argv0 ? argv0 : "");

	if (strcmp(base, "mailq") == 0)
		return SM_MAILQ;
	if (strcmp(base, "newaliases") == 0)
		return SM_NEWALIAS;
	return SM_ENQUEUE;
}

/* opt_b - -bX: the mode of operation */
static int opt_b(struct sm_opts *o, const char *value, char **err)
{
	switch (*value) {
	case 'm':
		o->mode = SM_ENQUEUE;
		return 0;
	case 'p':
		o->mode = SM_MAILQ;
		return 0;
	case 'i':
		o->mode = SM_NEWALIAS;
		return 0;
	case 'd':
	case 'l':
		o->mode = SM_DAEMON;
		return 0;
	case 's':
		o->mode = SM_SMTP;
		return 0;
	case 'h':
	case 'H':
		o->mode = SM_IGNORE;
		return 0;
	default:
		*err = xasprintf("unsupported: -b%.1s", value);
		return EX_USAGE;
	}
}

/* opt_o - -oX...: only -oi and -oA mean something */
static int opt_o(struct sm_opts *o, const char *value, char **err)
{
	if (*value == 'i') {
		o->ignore_dots = 1;
	} else if (*value == 'A') {
		if (value[1] == 0) {
			*err = xasprintf("-oA requires pathname");
			return EX_USAGE;
		}
		o->alias_map = value + 1;
	}
	return 0;
}

/* opt_dsn - -N, -R, -V: a bad value is ignored with a warning (Postfix) */
static void opt_dsn(struct sm_opts *o, int c, const char *value)
{
	if (c == 'N') {
		if (maildrop_notify_canon(value, strlen(value), o->notify, sizeof(o->notify)) < 0) {
			o->notify[0] = 0;
			argv_add(&o->warnings, "bad -N option value -- ignored");
		}
	} else if (c == 'R') {
		if (strcasecmp(value, "full") == 0)
			o->ret = "FULL";
		else if (strcasecmp(value, "hdrs") == 0)
			o->ret = "HDRS";
		else
			argv_add(&o->warnings, "bad -R option value -- ignored");
	} else if (maildrop_envid_ok(value, strlen(value))) {
		o->envid = value;
	} else {
		argv_add(&o->warnings, "bad -V option value -- ignored");
	}
}

/* opt_value - an option that takes a value */
static int opt_value(struct sm_opts *o, int c, const char *value, char **err)
{
	switch (c) {
	case 'B':
		if (strcasecmp(value, "8BITMIME") == 0)
			o->body_type = "8BITMIME";
		else if (strcasecmp(value, "7BIT") == 0)
			o->body_type = "7BIT";
		else {
			*err = xasprintf("-B option needs 8BITMIME or 7BIT");
			return EX_USAGE;
		}
		return 0;
	case 'C':
		o->config_dir = value;
		return 0;
	case 'F':
		if (sm_has_crlf(value) || strlen(value) > MAILDROP_FIELD_MAX) {
			*err = xasprintf("-F: full name contains CR or LF, or is too long");
			return EX_DATAERR;
		}
		o->fullname = value;
		return 0;
	case 'f':
	case 'r':
		if (sm_has_crlf(value)) {
			*err = xasprintf("-%c: sender address contains CR or LF", c);
			return EX_DATAERR;
		}
		o->sender = value;
		return 0;
	case 'N':
	case 'R':
	case 'V':
		opt_dsn(o, c, value);
		return 0;
	case 'b':
		return opt_b(o, value, err);
	case 'o':
		return opt_o(o, value, err);
	default:		/* A L O X e h p: accepted, ignored, never opened */
		return 0;
	}
}

/* opt_flag - an option without a value; 0 if c is not one */
static int opt_flag(struct sm_opts *o, int c)
{
	switch (c) {
	case 't':
		o->extract = 1;
		return 1;
	case 'i':
		o->ignore_dots = 1;
		return 1;
	case 'v':
		o->verbose++;
		return 1;
	case 'I':
		o->mode = SM_NEWALIAS;
		return 1;
	case 'E': case 'G': case 'U': case 'c': case 'm': case 'n': case 'x':
		return 1;
	default:
		return 0;
	}
}

/* opt_q - -q, -q<interval>, -qR<site>, -qI<id> (value may follow) */
static int opt_q(struct sm_opts *o, const char *rest, int argc, char **argv,
		 int *i, char **err)
{
	const char **target;

	if (*rest == 0) {
		if (o->mode != SM_DAEMON)
			o->mode = SM_FLUSH;
		return 0;
	}
	if (isdigit((unsigned char)*rest)) {
		o->queue_interval = 1;
		return 0;
	}
	if (*rest != 'R' && *rest != 'I') {
		*err = xasprintf("-q%.1s: flushing by sender is not supported (as in Postfix)", rest);
		return EX_USAGE;
	}
	target = *rest == 'R' ? &o->flush_site : &o->flush_id;
	if (rest[1])
		*target = rest + 1;
	else if (*i + 1 < argc)
		*target = argv[++*i];
	/* A site or queue ID never starts with '-': it would become an option. */
	if (*target == NULL || **target == 0 || **target == '-') {
		*err = xasprintf("specify: -q%s", *rest == 'R' ? "Rsitename" : "Iqueueid");
		return EX_USAGE;
	}
	o->mode = SM_FLUSH;
	return 0;
}

/* parse_cluster - one argument of options, "-ti" or "-fuser@x" or "-f" */
static int parse_cluster(struct sm_opts *o, int argc, char **argv, int *i, char **err)
{
	const char *p = argv[*i] + 1;
	int c;

	while ((c = (unsigned char)*p++) != 0) {
		if (opt_flag(o, c))
			continue;
		if (c == 'q')
			return opt_q(o, p, argc, argv, i, err);
		if (strchr("ABCFLNORVXbefhopr", c) == NULL) {
			*err = isprint(c) ? xasprintf("illegal option -- %c", c)
			    : xasprintf("illegal option -- \\%03o", (unsigned)c);
			return EX_USAGE;
		}
		if (*p == 0) {
			if (*i + 1 >= argc) {
				*err = xasprintf("option requires an argument -- %c", c);
				return EX_USAGE;
			}
			p = argv[++*i];
		}
		return opt_value(o, c, p, err);
	}
	return 0;
}

int sm_args_parse(int argc, char **argv, struct sm_opts *o, char **err)
{
	int i, ret;

	memset(o, 0, sizeof(*o));
	o->mode = mode_of_name(argc > 0 ? argv[0] : NULL);
	*err = NULL;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (argv[i][0] != '-' || argv[i][1] == 0)
			break;
		if ((ret = parse_cluster(o, argc, argv, &i, err)) != 0)
			return ret;
	}
	for (; i < argc; i++) {
		if (sm_has_crlf(argv[i])) {
			*err = xasprintf("recipient address contains CR or LF");
			return EX_DATAERR;
		}
		argv_add(&o->rcpts, argv[i]);
	}
	if (o->extract && o->mode != SM_ENQUEUE) {
		*err = xasprintf("-t can be used only in delivery mode");
		return EX_USAGE;
	}
	/* -q30m only means something to a daemon (Postfix ignores it). */
	if (o->queue_interval && o->mode != SM_DAEMON)
		o->mode = SM_IGNORE;
	return 0;
}

void sm_opts_free(struct sm_opts *o)
{
	argv_free(&o->rcpts);
	argv_free(&o->warnings);
}

char *sm_sender_address(const char *value, char **err)
{
	struct argv a = ARGV_INIT;
	char *result = NULL;
	int errors;

	*err = NULL;
	if (sm_has_crlf(value)) {
		*err = xasprintf("sender address contains CR or LF");
		return NULL;
	}
	errors = addr_list_parse(value, &a);
	if (errors)
		*err = xasprintf("bad sender address syntax: %s", addr_error_text(errors));
	else if (a.n > 1)
		*err = xasprintf("more than one sender address");
	else if (a.n == 1 && strlen(a.v[0]) > MAILDROP_FIELD_MAX)
		*err = xasprintf("sender address too long");
	else
		result = xstrdup(a.n == 1 ? a.v[0] : "");	/* '' and <> */
	argv_free(&a);
	return result;
}

int sm_recipient_args(const struct argv *args, struct argv *out, char **err)
{
	struct argv a = ARGV_INIT;
	int errors;

	*err = NULL;
	for (size_t i = 0; i < args->n; i++) {
		if (sm_has_crlf(args->v[i])) {
			*err = xasprintf("recipient address contains CR or LF");
			return EX_DATAERR;
		}
		errors = addr_list_parse(args->v[i], &a);
		if (errors || a.n == 0) {
			*err = xasprintf("bad recipient address syntax: %s",
					 errors ? addr_error_text(errors) : "no address");
			argv_free(&a);
			return EX_DATAERR;
		}
		for (size_t k = 0; k < a.n; k++) {
			if (strlen(a.v[k]) > MAILDROP_FIELD_MAX) {
				*err = xasprintf("recipient address too long");
				argv_free(&a);
				return EX_DATAERR;
			}
			argv_add(out, a.v[k]);
		}
		argv_free(&a);
	}
	return 0;
}
