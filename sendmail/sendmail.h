/* sendmail - the sendmail(1)-compatible front end: shared declarations.
 *
 * sendmail.c is main(): standard descriptors, configuration, logging,
 * and the choice of mode. The modules below it are free of process-wide
 * effects so that tests/unit/test_sendmail.c can drive them directly:
 *   sendmail_args.c     command line -> struct sm_opts (no exit, no I/O)
 *   sendmail_input.c    stdin bytes -> message content (LF line ends,
 *                       lone-dot end, mbox From_ line dropped)
 *   sendmail_headers.c  the header block and -t recipient extraction
 *   sendmail_drop.c     the maildrop record stream and the postdrop child
 *   sendmail_enqueue.c  -bm: sender, recipients, input -> postdrop
 *   sendmail_exec.c     the other modes: which command to run
 * Failures are returned as sysexits codes with a message, and main()
 * turns them into "sendmail: fatal: ..." on stderr and in the log.
 */
#ifndef POSTERN_SENDMAIL_H
#define POSTERN_SENDMAIL_H

#include <stddef.h>
#include <sys/types.h>

#include "argv.h"
#include "maildrop_client.h"
#include "vstr.h"

enum sm_mode {
	SM_ENQUEUE,		/* -bm (default): read a message and queue it */
	SM_MAILQ,		/* -bp, mailq */
	SM_NEWALIAS,		/* -bi, -I, newaliases */
	SM_DAEMON,		/* -bd, -bl: start the mail system */
	SM_FLUSH,		/* -q, -qR site, -qI id */
	SM_SMTP,		/* -bs: SMTP on stdin/stdout */
	SM_IGNORE,		/* -bh, -bH, -q<interval>: nothing to do */
};

#define SM_NOTIFY_MAX	32	/* "SUCCESS,FAILURE,DELAY" and its NUL */

struct sm_opts {
	enum sm_mode mode;
	int extract;		/* -t */
	int ignore_dots;	/* -i, -oi: a lone "." is content */
	int verbose;		/* -v count */
	const char *sender;	/* -f, -r value as given; NULL if none */
	const char *fullname;	/* -F value; NULL if none */
	const char *body_type;	/* -B: "7BIT" or "8BITMIME"; NULL if none */
	const char *ret;	/* -R: "FULL" or "HDRS"; NULL if none */
	const char *envid;	/* -V; NULL if none */
	char notify[SM_NOTIFY_MAX]; /* -N in RFC 3461 form; "" if none */
	const char *config_dir;	/* -C as given; NULL if none */
	const char *alias_map;	/* -oA type:name; NULL if none */
	const char *flush_site;	/* -qR */
	const char *flush_id;	/* -qI */
	int queue_interval;	/* -q<interval> seen */
	struct argv rcpts;	/* recipient arguments, as given */
	struct argv warnings;	/* to log once the log is open */
};

/* sendmail_args.c */

/* sm_args_parse - parses argv (argv[0]'s basename picks mailq and
 * newaliases) into o. Returns 0, or EX_USAGE or EX_DATAERR with a
 * message in *err (malloc'ed). o must be released with sm_opts_free. */
int sm_args_parse(int argc, char **argv, struct sm_opts *o, char **err);
void sm_opts_free(struct sm_opts *o);

/* sm_has_crlf - 1 when s holds CR or LF */
int sm_has_crlf(const char *s);

/* sm_sender_address - the envelope sender for a -f value: "" for '' and
 * "<>", else the address in it. NULL with *err (malloc'ed) if malformed. */
char *sm_sender_address(const char *value, char **err);

/* sm_recipient_args - the addresses of the recipient arguments appended
 * to out ("a, b" is two; "Name <a@b>" is a@b). Returns 0, or EX_DATAERR
 * with *err (malloc'ed) for an argument that holds no sane address. */
int sm_recipient_args(const struct argv *args, struct argv *out, char **err);

/* sendmail_input.c */

struct sm_input {
	int dots;		/* a lone "." line ends the input */
	int state;
	char head[5];		/* start of the first line, while deciding From_ */
	size_t head_len;
};

void sm_input_init(struct sm_input *in, int lone_dot_ends);
/* sm_input_feed - converts len bytes of input and appends the content to
 * out: CRLF and LF line ends become LF, a first line "From ..." is
 * dropped, and (lone_dot_ends) a line "." ends the input. Returns 1 once
 * the input has ended (further bytes are ignored), else 0. */
int sm_input_feed(struct sm_input *in, const char *buf, size_t len, vstr *out);
/* sm_input_finish - end of input: a last line without LF gets one. */
void sm_input_finish(struct sm_input *in, vstr *out);

/* sendmail_headers.c */

/* Bytes of header block looked at for -t recipients. Postfix's
 * header_size_limit default; cleanup enforces its own limit later. */
#define SM_HEADER_SCAN_MAX	102400

struct sm_headers {
	size_t next;		/* offset of the first line not yet looked at */
	size_t end;		/* length of the header block, once known */
	int done;
	int truncated;		/* stopped at SM_HEADER_SCAN_MAX */
};

void sm_headers_init(struct sm_headers *h);
/* sm_headers_scan - looks at the complete lines of content (LF line
 * ends) not seen before; 1 once the end of the header block is known
 * (at_eof: content is all there is), else 0. */
int sm_headers_scan(struct sm_headers *h, const char *content, size_t len, int at_eof);

/* sm_headers_recipients - appends the addresses of To, Cc and Bcc of the
 * header block to out, or those of Resent-To, Resent-Cc and Resent-Bcc
 * when there is any Resent- header (RFC 5322 3.6.6). Returns the ADDR_ERR
 * bits of the headers that were malformed (their sane addresses are
 * still appended). */
int sm_headers_recipients(const char *block, size_t len, struct argv *out);

/* sendmail_enqueue.c */

struct sm_identity {
	uid_t uid;
	const char *login;	/* NULL when the uid has no passwd entry */
	const char *gecos;	/* full name from the passwd entry, or NULL */
	const char *config_dir;
	const char *postdrop;	/* path of postdrop */
};

/* sm_enqueue - reads the message from in_fd and hands it to postdrop.
 * Returns 0 only when postdrop committed the file; else a sysexits code
 * with *err (malloc'ed; NULL when postdrop already said why). */
int sm_enqueue(const struct sm_opts *o, const struct sm_identity *id, int in_fd,
	       char **err);

/* sm_gecos_name - the full name from a GECOS field ("&" = capitalised
 * login), malloc'ed; NULL when empty or unusable. */
char *sm_gecos_name(const char *gecos, const char *login);

/* sendmail_exec.c */

/* sm_command_argv - the program and arguments that carry out a mode
 * other than SM_ENQUEUE and SM_IGNORE. Returns 0, or EX_USAGE with *err
 * (malloc'ed) when recipients were given to such a mode. */
int sm_command_argv(const struct sm_opts *o, const char *config_dir,
		    const char *command_dir, const char *daemon_dir,
		    struct argv *out, char **err);

#endif
