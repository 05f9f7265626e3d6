/* smtpd - the SMTP server: state and interfaces shared by its modules.
 *
 * smtpd.c           main(): the master(8) service, and stand-alone mode
 *                   (smtpd -S, for sendmail -bs) on stdin/stdout
 * smtpd_session.c   one session: input with deadlines, reply buffering,
 *                   the command loop, connect/disconnect logging
 * smtpd_cmd.c       the command table {verb, states, flags, syntax, action}
 *                   and the action of each command
 * smtpd_txn.c       the transaction: cleanup, Received:, content, commit
 * smtpd_parse.c     command lines, RFC 5321 paths, ESMTP parameters
 * smtpd_data.c      DATA and BDAT content: an incremental parser that
 *                   takes any split of its input
 * smtpd_restrict.c  the restriction lists (smtpd_*_restrictions): a
 *                   table of restrictions and the evaluator
 * smtpd_check.c     relay control, the local recipient check, HELO syntax
 * smtpd_dns.c       does a domain exist (reject_unknown_*_domain)
 * smtpd_peer.c      the client's address and forward-confirmed name
 * smtpd_sasl.c      SMTP AUTH (RFC 4954) through lib/sasl, sender login maps

 * smtpd_tls.c       the TLS context, STARTTLS and wrapper mode
 *
 * Everything but smtpd.c links into tests/unit/test_smtpd.c.
 */
#ifndef POSTERN_SMTPD_H
#define POSTERN_SMTPD_H

#include <stddef.h>

#include "argv.h"
#include "maildrop_client.h"
#include "qfile.h"
#include "tls.h"
#include "vstr.h"

struct cleanup_client;

/* ---- smtpd_parse.c -------------------------------------------------- */

/* smtpd_line_flags - what a command line held besides text */
#define SMTPD_LINE_TOO_LONG	(1 << 0)	/* longer than line_length_limit */
#define SMTPD_LINE_BARE_LF	(1 << 1)	/* ended in LF without CR */
#define SMTPD_LINE_BARE_CR	(1 << 2)	/* a CR not followed by LF */
#define SMTPD_LINE_NUL		(1 << 3)
#define SMTPD_LINE_8BIT		(1 << 4)	/* a byte >= 0x80 */

/* smtpd_line_scan - the SMTPD_LINE_* bits (but TOO_LONG and BARE_LF,
 * which only the reader knows) of a line without its line end. */
unsigned smtpd_line_scan(const char *line, size_t len);

/* smtpd_split_verb - the verb (letters up to the first space, at most
 * SMTPD_VERB_MAX) into verb, upper-cased; *args points past the spaces
 * after it. -1 when the line does not start with a verb. */
#define SMTPD_VERB_MAX	16
int smtpd_split_verb(const char *line, char *verb, const char **args);

/* An RFC 5321 path, parsed. */
struct smtpd_addr {
	char *addr;		/* external form: local part quoted when it must be,
				 * "@", the domain lower-cased without a trailing
				 * dot; "" for the null path <> */
	char *local;		/* the local part, unquoted */
	char *domain;		/* as in addr; "" when there was none */
	int literal;		/* the domain is an [address literal] */
	int utf8;		/* the address has bytes >= 0x80 */
};

#define SMTPD_PATH_NULL_OK	(1 << 0)	/* <> is allowed (MAIL FROM) */
#define SMTPD_PATH_UTF8_OK	(1 << 1)	/* SMTPUTF8: UTF-8 local part and domain */
#define SMTPD_PATH_MAX		512		/* bytes between < and > */

/* smtpd_parse_path - the path that starts text (leading spaces skipped):
 * "<" [source route ":"] mailbox ">", "<>", or a mailbox without angle
 * brackets. A source route is checked and dropped (the final mailbox is
 * the address). '%' and '!' mean nothing. *end is set past the path. 0,
 * or -1 with a reason in *why (static text). */
int smtpd_parse_path(const char *text, int flags, struct smtpd_addr *out,
		     const char **end, const char **why);
void smtpd_addr_free(struct smtpd_addr *a);

/* smtpd_parse_params - "KEY[=VALUE] ..." after a path into keys and values
 * (parallel; values "" when absent). -1 with *why on bad syntax. */
int smtpd_parse_params(const char *text, struct argv *keys, struct argv *values,
		       const char **why);

/* smtpd_xtext_decode - RFC 3461 xtext into out; -1 when malformed or when
 * it decodes to a byte outside printable ASCII. */
int smtpd_xtext_decode(const char *in, vstr *out);

/* smtpd_utf8_valid - well-formed UTF-8 (no overlongs, no surrogates) */
int smtpd_utf8_valid(const char *s, size_t len);

/* smtpd_parse_size - a decimal number of at most 18 digits; -1 if not */
long long smtpd_parse_size(const char *s);

/* ---- smtpd_data.c --------------------------------------------------- */

/* smtpd_data_flags - what the content held */
#define SMTPD_DATA_BARE_LF	(1 << 0)
#define SMTPD_DATA_BARE_CR	(1 << 1)

enum smtpd_data_mode {
	SMTPD_DATA_DOT,		/* DATA: dot-stuffed, ends at CRLF.CRLF */
	SMTPD_DATA_RAW,		/* BDAT: no dots, ends where the caller says */
};

struct smtpd_data {
	enum smtpd_data_mode mode;
	int state;		/* where in a line the parser is */
	int bol_crlf;		/* the current line began after CRLF (or at the start) */
	unsigned flags;		/* SMTPD_DATA_* seen so far */
	int done;		/* DATA: CRLF.CRLF was seen */
	long long lines;	/* lines ended so far */
	long long in_bytes;	/* bytes taken */
	long long out_bytes;	/* bytes produced */
};

void smtpd_data_init(struct smtpd_data *d, enum smtpd_data_mode mode);

/* smtpd_data_feed - takes bytes of buf (all of them, or in DATA mode up
 * to and including the end-of-data line) and appends the content to out
 * with LF line ends, dots unstuffed. Bare CR and bare LF are noted in
 * flags and passed on as they are (a bare LF ends a line). Only
 * CR LF "." CR LF ends DATA, with the CR LF before it counted as the
 * start (so ".\r\n" right after DATA is an empty message). Returns the
 * number of bytes taken. */
size_t smtpd_data_feed(struct smtpd_data *d, const char *buf, size_t len, vstr *out);

/* smtpd_data_finish - BDAT LAST: the content ends here (a pending CR is
 * a bare one). */
void smtpd_data_finish(struct smtpd_data *d, vstr *out);

/* ---- the session ---------------------------------------------------- */

/* states: a command lists the states it is allowed in */
#define SMTPD_ST_CONNECT	(1 << 0)	/* no HELO/EHLO yet */
#define SMTPD_ST_HELO		(1 << 1)	/* greeted, no transaction */
#define SMTPD_ST_MAIL		(1 << 2)	/* MAIL accepted, no recipient yet */
#define SMTPD_ST_RCPT		(1 << 3)	/* at least one recipient */
#define SMTPD_ST_BDAT		(1 << 4)	/* BDAT chunks are coming */
/* STARTTLS and AUTH (later) are allowed in SMTPD_ST_HELO and reset to it */
#define SMTPD_ST_ANY		0x1f

/* what bare CR/LF get */
enum smtpd_bare { SMTPD_BARE_REJECT, SMTPD_BARE_NORMALIZE };

/* io_error */
enum smtpd_io { SMTPD_IO_OK, SMTPD_IO_EOF, SMTPD_IO_TIMEOUT, SMTPD_IO_ERROR };

#define SMTPD_NCMD		16	/* room in the command counters */
#define SMTPD_INBUF		(64 * 1024)

struct smtpd_session {
	/* the client */
	char *name;			/* verified name or "unknown" */
	char *addr;			/* numeric address */
	char *port;
	char *namaddr;			/* "name[addr]" for the log */
	char *rfc_addr;			/* addr, or "IPv6:addr", for Received: */
	int in_mynetworks;
	enum smtpd_bare bare;		/* smtpd_forbid_bare_newline for this client */
	int stand_alone;		/* smtpd -S: local user on stdin/stdout */
	long uid;			/* stand-alone: the user */

	/* I/O */
	int in_fd, out_fd;
	char *ibuf;
	size_t ipos, ilen;
	vstr out;			/* replies not sent yet */
	long long timeout_ms;
	long long deadline;		/* per-record deadline, or 0 */
	enum smtpd_io io_error;
	int tls_active;			/* STARTTLS or wrapper mode: the session is encrypted */
	struct tls_conn *tls;		/* when tls_active: all I/O goes through it */
	struct tls_info tls_info;	/* protocol, cipher, client certificate */
	char *sasl_username;		/* after a successful AUTH, else NULL */
	char *sasl_method;		/* its mechanism (PLAIN, LOGIN) */

	/* dialogue */
	unsigned state;			/* SMTPD_ST_* */
	char *helo;
	int esmtp;			/* EHLO was used */
	const char *where;		/* "CONNECT", "EHLO", ... for the log */
	int error_count, junk_count;
	int quit, hangup;
	int ill_pipelining;		/* improper pipelining was logged */
	unsigned cmd_ok[SMTPD_NCMD], cmd_total[SMTPD_NCMD];
	unsigned unknown_total;

	/* the transaction */
	char *sender;			/* NULL: no MAIL yet */
	char *envid, *ret, *body_type;
	char *sasl_sender;		/* MAIL AUTH=<addr>, for the log; NULL for <> */
	int smtputf8, binarymime;
	struct argv rcpt, orcpt, notify;
	int rcpt_overshoot;
	struct cleanup_client *cleanup;
	struct postdrop_pipe drop;	/* -S: the message goes to postdrop */
	int dropping;		/* drop is running */
	char queue_id[QID_MAX];

	/* content (DATA or BDAT) */
	int hold;			/* a HOLD result: queue into hold/ */
	int discard;			/* a DISCARD result: accept and drop */
	char *access_denied;		/* smtpd_delay_reject = no: the client's reject */

	struct smtpd_data data;
	vstr content;			/* parsed content not yet sent to cleanup */
	long long msg_size;		/* content bytes so far */
	int too_big;
	int bdat_failed;		/* a BDAT of this transaction was refused */
	char *bdat_reply;		/* ... with this reply */
};

/* smtpd_session_init - a session on in_fd/out_fd (the same socket, or
 * stdin/stdout in stand-alone mode); the caller fills in the client
 * fields with smtpd_peer_* or by hand, then calls smtpd_session_run. */
void smtpd_session_init(struct smtpd_session *s, int in_fd, int out_fd, int stand_alone);
void smtpd_session_client(struct smtpd_session *s, const char *name, const char *addr,
			  const char *port);
void smtpd_session_run(struct smtpd_session *s);
void smtpd_session_free(struct smtpd_session *s);

/* Replies: one line each, CRLF added; sent when the session next waits
 * for input (so pipelined commands get their replies in one write). */
void smtpd_reply(struct smtpd_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int smtpd_flush(struct smtpd_session *s);

/* Input. smtpd_read_line: 0 with the line (no line end) and its
 * SMTPD_LINE_* flags, or -1 (s->io_error says why). smtpd_input: 0 with
 * the buffered bytes at *p, *len (reading more when none are buffered),
 * or -1; smtpd_consume drops n of them. smtpd_input_pending: bytes are
 * buffered or waiting on the connection. */
int smtpd_read_line(struct smtpd_session *s, vstr *line, unsigned *flags);
int smtpd_input(struct smtpd_session *s, const char **p, size_t *len);
void smtpd_consume(struct smtpd_session *s, size_t n);
int smtpd_input_pending(struct smtpd_session *s);

/* smtpd_record_deadline - with smtpd_per_record_deadline, starts one time
 * limit for the next line (content readers call it at the start and after
 * each complete line); else clears s->deadline (a limit per read). */
void smtpd_record_deadline(struct smtpd_session *s);

/* smtpd_log_lost - "lost connection after X from ..." or "timeout after
 * ..." (with the 421 reply) for the current s->io_error. */
void smtpd_log_lost(struct smtpd_session *s, const char *detail);

/* ---- smtpd_txn.c ---------------------------------------------------- */

/* smtpd_txn_open - hands envelope and recipients to cleanup, writes
 * Received: (network clients), and readies the content parser in mode.
 * 0, or -1 (cleanup unreachable or refusing; logged). */
int smtpd_txn_open(struct smtpd_session *s, enum smtpd_data_mode mode);

/* smtpd_txn_content - feeds bytes to the content parser and on to
 * cleanup; returns how many were taken (DATA stops at its end). */
size_t smtpd_txn_content(struct smtpd_session *s, const char *p, size_t len);

/* smtpd_txn_finish - the content is complete: commit or refuse, reply,
 * reset the transaction. 0 when the reply was 250. */
int smtpd_txn_finish(struct smtpd_session *s);

/* smtpd_txn_reset - forgets the transaction (aborts cleanup if open). */
void smtpd_txn_reset(struct smtpd_session *s);

/* smtpd_log_reject - "NOQUEUE: reject: RCPT from name[addr]: REPLY;
 * from=<s> to=<r> proto=ESMTP helo=<h>" (the queue ID when there is one;
 * rcpt may be NULL) */
void smtpd_log_reject(const struct smtpd_session *s, const char *stage, const char *reply,
		      const char *rcpt);
/* smtpd_log_action - the same with another action ("hold", "discard") */
void smtpd_log_action(const struct smtpd_session *s, const char *action, const char *stage,
		      const char *text, const char *rcpt);
const char *smtpd_proto(const struct smtpd_session *s);	/* "SMTP" or "ESMTP" */

/* ---- smtpd_cmd.c ---------------------------------------------------- */

/* smtpd_cmd_dispatch - one command line: checks, action, counters. */
void smtpd_cmd_dispatch(struct smtpd_session *s, const char *line, size_t len, unsigned flags);

/* smtpd_cmd_counts - " ehlo=1 mail=1 ... commands=N" for disconnect */
void smtpd_cmd_counts(const struct smtpd_session *s, vstr *out);

/* ---- smtpd_check.c -------------------------------------------------- */

/* smtpd_check_mynetworks - 1 when addr is in $mynetworks (the list is
 * parsed once per process) */
int smtpd_check_mynetworks(const char *addr);

/* smtpd_check_list - 1 when addr is in a CIDR list given as text (for
 * smtpd_forbid_bare_newline_exclusions) */
int smtpd_check_list(const char *text, const char *what, const char *addr);

/* smtpd_check_rcpt - the restrictions at RCPT (and VRFY): 0 when the
 * recipient is accepted; else the reply ("554 5.7.1 <a>: Relay access
 * denied") in reply. */
int smtpd_check_rcpt(struct smtpd_session *s, const struct smtpd_addr *a, vstr *reply);

/* smtpd_check_destination - reject_unauth_destination's test: 0 the
 * domain is local or relayed for anyone, 1 it is not, -1 lookup failure */
int smtpd_check_destination(const struct smtpd_addr *a);

/* smtpd_check_unlisted - a recipient in a local domain must be a known
 * user: 0 yes (or not local), -1 with the 550 5.1.1 (or 451) in reply */
int smtpd_check_unlisted(const struct smtpd_addr *a, vstr *reply);

/* smtpd_valid_helo - a syntactically valid host name or address literal */
int smtpd_valid_helo(const char *name);

/* ---- smtpd_restrict.c ----------------------------------------------- */

/* what a restriction list is about (and what its replies name) */
enum smtpd_rclass {
	SMTPD_RC_CLIENT, SMTPD_RC_HELO, SMTPD_RC_SENDER, SMTPD_RC_RECIPIENT,
	SMTPD_RC_DATA, SMTPD_RC_EOD,
};

/* smtpd_restrict - evaluates the list of cls (not RECIPIENT): subject is
 * the HELO name or sender being offered (else unused). 0 permitted, -1
 * with the reply (reject, defer, configuration error) in reply. HOLD and
 * DISCARD results are logged and set s->hold and s->discard. */
int smtpd_restrict(struct smtpd_session *s, enum smtpd_rclass cls, const char *subject,
		   vstr *reply);

/* smtpd_restrict_reply - smtpd_restrict, and when it refuses: the reject
 * logged at stage s->where, the reply sent, and for the client list
 * s->access_denied set (every later command but QUIT gets 503). */
int smtpd_restrict_reply(struct smtpd_session *s, enum smtpd_rclass cls, const char *subject);

/* smtpd_restrict_rcpt - at RCPT: with smtpd_delay_reject the client,
 * helo and sender lists, then smtpd_relay_restrictions, then
 * smtpd_recipient_restrictions, then the unlisted recipient check. */
int smtpd_restrict_rcpt(struct smtpd_session *s, const struct smtpd_addr *rcpt, vstr *reply);

/* ---- smtpd_dns.c ------------------------------------------------------ */

/* smtpd_dns_domain - the domain has an MX, A or AAAA record: 1, 0 not,
 * -1 the DNS failed. smtpd_dns_hook, when set, answers instead. */
int smtpd_dns_domain(const char *domain);
extern int (*smtpd_dns_hook)(const char *domain);

/* ---- smtpd_sasl.c --------------------------------------------------- */

/* smtpd_sasl_setup - once per process, before chroot: the Cyrus server
 * library, when smtpd_sasl_auth_enable (fatal when it cannot start) */
void smtpd_sasl_setup(void);

/* smtpd_sasl_offered - AUTH is offered and accepted in this session now */
int smtpd_sasl_offered(const struct smtpd_session *s);

/* smtpd_sasl_ehlo_keywords - "AUTH mechs" (and "AUTH=mechs" with
 * broken_sasl_auth_clients) when AUTH is offered */
void smtpd_sasl_ehlo_keywords(struct smtpd_session *s, struct argv *kw);

/* smtpd_sasl_auth_cmd - the AUTH command: the whole exchange; 0 after
 * 235, -1 after any other reply (an error for the error limits) */
int smtpd_sasl_auth_cmd(struct smtpd_session *s, const char *args);

/* smtpd_sasl_reset - forgets the login (STARTTLS must: RFC 3207 4.2) */
void smtpd_sasl_reset(struct smtpd_session *s);

/* smtpd_sasl_mail_param - MAIL AUTH=<addr>: 0, or -1 after a reply */
int smtpd_sasl_mail_param(struct smtpd_session *s, const char *value);

/* smtpd_sasl_login_owned - smtpd_sender_login_maps: 1 the sender has
 * owners and user is one of them, 0 it has owners but not user, -2 it
 * has no owner, -1 lookup failure. user NULL: only whether it has one. */
int smtpd_sasl_login_owned(const char *sender, const char *user);

/* ---- smtpd_tls.c ---------------------------------------------------- */

/* the server context (NULL: no TLS), made by smtpd_tls_init before the jail */
extern struct tls_ctx *smtpd_tls_ctx;
void smtpd_tls_init(void);
enum tls_level smtpd_tls_level(void);	/* none, may or encrypt */
/* smtpd_tls_offered - STARTTLS goes in the EHLO reply */
int smtpd_tls_offered(const struct smtpd_session *s);
/* smtpd_tls_required - level encrypt and no TLS yet: MAIL gets 530 */
int smtpd_tls_required(const struct smtpd_session *s);
/* smtpd_tls_start - drops buffered plaintext, handshakes (logged); 0, or
 * -1 with io_error set (the session must end) */
int smtpd_tls_start(struct smtpd_session *s);
/* smtpd_tls_reset_session - RFC 3207: forget HELO/EHLO and the transaction */
void smtpd_tls_reset_session(struct smtpd_session *s);

/* ---- smtpd_peer.c --------------------------------------------------- */

/* smtpd_peer_lookup - the client of socket fd: numeric address and port
 * (IPv4-mapped IPv6 addresses as IPv4), and with lookup the name from a
 * reverse lookup that a forward lookup confirms, else "unknown". -1 when
 * fd is not a connected inet socket. Strings are malloc'ed. */
int smtpd_peer_lookup(int fd, int lookup, char **name, char **addr, char **port);

#endif
