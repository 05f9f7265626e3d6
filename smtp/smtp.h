/* smtp - the SMTP and LMTP client: shared state of its modules.
 *
 * smtp.c          service: requests from qmgr, session reuse, main()
 * smtp_nexthop.c  nexthop text -> what to look up and where (pure)
 * smtp_reply.c    the server reply parser and EHLO keywords (pure)
 * smtp_content.c  queue content -> SMTP DATA: CRLF, dot-stuffing, long lines (pure)
 * smtp_params.c   MAIL/RCPT parameters: xtext, ORCPT, NOTIFY, SIZE, BODY
 * smtp_addr.c     DNS: the list of servers to try for a nexthop
 * smtp_conn.c     sockets: connect, buffered I/O with deadlines
 * smtp_proto.c    the dialogue for one message, per-recipient outcomes
 * smtp_sasl.c     SMTP AUTH to the server after EHLO (lib/sasl)

 * smtp_tls.c      TLS policy per nexthop, STARTTLS
 */
#ifndef POSTERN_SMTP_H
#define POSTERN_SMTP_H

#include <stddef.h>
#include <sys/types.h>

#include "delivery_agent.h"
#include "tls.h"
#include "vstr.h"

/* --- nexthop --- */
enum smtp_nh_kind {
	SMTP_NH_DOMAIN,		/* MX lookup, then A/AAAA */
	SMTP_NH_HOST,		/* A/AAAA only, or an address literal */
	SMTP_NH_UNIX,		/* LMTP over a Unix-domain socket */
};

#define SMTP_HOST_MAX	256
#define SMTP_PATH_MAX	1024
#define SMTP_RELAY_MAX	(SMTP_PATH_MAX + SMTP_HOST_MAX + 16)

struct smtp_nexthop {
	enum smtp_nh_kind kind;
	char host[SMTP_PATH_MAX];	/* name, address text, or socket path */
	unsigned port;
	int literal;			/* host is an IPv4/IPv6 address */
};

/* smtp_nexthop_parse - domain, domain:port, [host], [host]:port, [addr];
 * with lmtp also unix:/path, inet:host:port and host:port (no MX lookup in
 * LMTP mode). Default port 25 (SMTP) or 24 (LMTP). 0, or -1 with *err. */
int smtp_nexthop_parse(const char *text, int lmtp, struct smtp_nexthop *nh, const char **err);

/* --- replies --- */
#define SMTP_REPLY_MAX		8192	/* bytes of text kept per reply */
#define SMTP_REPLY_LINES	1000	/* lines per reply before it is malformed */

struct smtp_reply {
	int code;		/* 100..599, or 0 for a malformed reply */
	char dsn[16];		/* enhanced status, or C.0.0 from the code */
	vstr text;		/* the lines, "\n"-separated, capped */
	/* parser state */
	vstr line;
	size_t line_len;	/* bytes of the current line seen (may exceed kept) */
	size_t lines;
};

void smtp_reply_init(struct smtp_reply *r);
void smtp_reply_reset(struct smtp_reply *r);
void smtp_reply_free(struct smtp_reply *r);

/* smtp_reply_feed - consumes bytes up to the end of one reply. Returns 1
 * when a whole reply is in r (*used bytes were taken), 0 when every byte
 * was taken and more are needed. Never fails: garbage is a reply with
 * code 0. */
int smtp_reply_feed(struct smtp_reply *r, const char *buf, size_t len, size_t *used);

/* smtp_reply_oneline - the reply as one line, lines joined by spaces */
void smtp_reply_oneline(const struct smtp_reply *r, vstr *out);

#define SMTP_FEAT_PIPELINING	(1u << 0)
#define SMTP_FEAT_SIZE		(1u << 1)
#define SMTP_FEAT_8BITMIME	(1u << 2)
#define SMTP_FEAT_SMTPUTF8	(1u << 3)
#define SMTP_FEAT_DSN		(1u << 4)
#define SMTP_FEAT_STARTTLS	(1u << 5)
#define SMTP_FEAT_AUTH		(1u << 6)

/* smtp_ehlo_features - the keywords of an EHLO/LHLO reply text; SIZE's
 * limit in *size_limit (0 = none given). */
unsigned smtp_ehlo_features(const char *text, long long *size_limit);

/* smtp_ehlo_auth_mechs - the mechanisms of the AUTH (and old AUTH=)
 * keywords of an EHLO reply text, space-separated, each once */
void smtp_ehlo_auth_mechs(const char *text, vstr *out);

/* --- content --- */
struct smtp_conv {
	int bol;		/* at the beginning of a line */
	size_t col;		/* bytes on the current output line */
	size_t limit;		/* smtp_line_length_limit; 0 = none */
};

void smtp_conv_init(struct smtp_conv *c, size_t limit);
/* smtp_conv_feed - appends the SMTP form of in (LF line ends) to out */
void smtp_conv_feed(struct smtp_conv *c, const char *in, size_t len, vstr *out);
/* smtp_conv_end - ends the last line and appends ".\r\n" */
void smtp_conv_end(struct smtp_conv *c, vstr *out);

/* --- parameters --- */
void smtp_xtext_encode(const char *in, vstr *out);
/* smtp_orcpt_param - " ORCPT=type;xtext" for a stored original recipient
 * ("rfc822;addr" from smtpd, or a bare address); nothing for "". */
void smtp_orcpt_param(const char *orig, vstr *out);
/* smtp_needs_utf8 - 1 when s has a byte above 127 */
int smtp_needs_utf8(const char *s);
/* smtp_mail_cmd / smtp_rcpt_cmd - the commands, CRLF-terminated */
void smtp_mail_cmd(const struct da_request *req, unsigned features, int utf8, vstr *out);
void smtp_rcpt_cmd(const struct da_rcpt *r, unsigned features, vstr *out);

/* --- servers to try --- */
struct smtp_server {
	char host[SMTP_HOST_MAX];	/* MX host name, or the literal */
	int family;			/* AF_INET, AF_INET6, AF_UNIX */
	unsigned char addr[16];
	char addr_text[64];		/* 192.0.2.1, 2001:db8::1 */
	unsigned port;
	char path[SMTP_PATH_MAX];	/* AF_UNIX */
};

struct smtp_servers {
	struct smtp_server *v;
	size_t n;
};

/* An outcome for every recipient at once (DNS, loops). */
struct smtp_fail {
	int status;		/* 4 or 5 */
	char dsn[16];
	char reason[600];
	int hop_ok;		/* the server answered (AUTH failed): the hop is not dead */
};

/* smtp_servers_find - the servers for nh, in order. 0, or -1 with f
 * filled (bounce or defer every recipient). */
int smtp_servers_find(const struct smtp_nexthop *nh, struct smtp_servers *out, struct smtp_fail *f);
void smtp_servers_free(struct smtp_servers *s);

/* --- TLS policy of a nexthop --- */
struct smtp_tls_policy {
	enum tls_level level;
	struct tls_policy p;		/* the policy table's entry (match=, protocols=) */
	char domain[SMTP_PATH_MAX];	/* the nexthop host or domain, for secure and SNI */
};

/* --- sessions --- */
struct smtp_session {
	int fd;
	int lmtp;
	struct smtp_server srv;
	char relay[SMTP_RELAY_MAX];	/* host[addr]:port, for relay= */
	char name[SMTP_RELAY_MAX];	/* host[addr], for reasons (Postfix's shapes) */
	char *nexthop;		/* the request nexthop it serves */
	unsigned features;
	long long size_limit;
	int uses;		/* messages sent in this session */
	int clean;		/* the last transaction ended cleanly */
	int tls_active;		/* STARTTLS done: the session is encrypted */
	struct tls_conn *tls;	/* when tls_active: all I/O goes through it */
	struct smtp_tls_policy tlsp;	/* set before smtp_session_open */
	int tls_plain_retry;	/* may: the handshake failed, retry without TLS */
	long long born_ms;
	char rbuf[16384];
	size_t rpos, rlen;
	vstr wbuf;
};

/* smtp_conn.c */
enum { SMTP_IO_OK = 0, SMTP_IO_TIMEOUT = -1, SMTP_IO_LOST = -2 };
int smtp_connect(const struct smtp_server *srv, int timeout_s, char *why, size_t whysize);
int smtp_read_reply(struct smtp_session *s, struct smtp_reply *r, int timeout_s);
int smtp_flush(struct smtp_session *s, int timeout_s);
void smtp_session_close(struct smtp_session *s, int quit);
void smtp_relay_name(const struct smtp_server *srv, char *buf, size_t size);
void smtp_host_name(const struct smtp_server *srv, char *buf, size_t size);

/* smtp_proto.c */
struct smtp_timeouts {
	int connect, helo, mail, rcpt, data_init, data_xfer, data_done, quit, starttls;
};
void smtp_timeouts_load(struct smtp_timeouts *t, int lmtp);
const char *smtp_param(const char *name, int lmtp);	/* lmtp_X when set, else smtp_X */

/* What a session attempt came to. */
enum smtp_try {
	SMTP_TRY_DONE,		/* every recipient this server could decide was decided */
	SMTP_TRY_NEXT,		/* this server failed before MAIL: try the next */
};

/* smtp_session_open - connect and greet; SMTP_TRY_NEXT with the reason
 * in f on failure. *s is ready for smtp_deliver on success. */
enum smtp_try smtp_session_open(struct smtp_session *s, const struct smtp_server *srv, int lmtp,
				const struct smtp_timeouts *t, struct smtp_fail *f);
/* smtp_deliver - one message over an open session. Returns SMTP_TRY_NEXT
 * when the session failed before any recipient was decided (f says why). */
enum smtp_try smtp_deliver(struct smtp_session *s, struct da_request *req,
			   const struct smtp_timeouts *t, struct smtp_fail *f);
/* smtp_fail_all - decides every undecided recipient with f */
void smtp_fail_all(struct da_request *req, const struct smtp_fail *f, const char *relay,
		   const char *remote_mta, int conn_use);
void smtp_fail_set(struct smtp_fail *f, int status, const char *dsn, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* smtp_sasl.c: smtp_sasl_login - after EHLO (reply text ehlo): with
 * smtp_sasl_auth_enable, an AUTH offer and a password for this server in
 * smtp_sasl_password_maps, authenticate. SMTP_TRY_DONE to go on (also
 * when there is nothing to do), SMTP_TRY_NEXT with f when it failed. */
enum smtp_try smtp_sasl_login(struct smtp_session *s, const char *ehlo,
			      const struct smtp_timeouts *t, struct smtp_fail *f);

/* smtp_tls.c */
void smtp_tls_init(void);	/* contexts and the policy table, before the jail */
/* smtp_tls_policy_find - the TLS policy of nexthop; -1 with f (defer) */
int smtp_tls_policy_find(const char *nexthop, int lmtp, struct smtp_tls_policy *tp, struct smtp_fail *f);
/* smtp_tls_starttls - after EHLO: STARTTLS as the policy says.
 * SMTP_TRY_DONE (TLS now active, or not needed), or SMTP_TRY_NEXT with
 * f; the caller sends EHLO again when tls_active became set. */
enum smtp_try smtp_tls_starttls(struct smtp_session *s, const struct smtp_timeouts *t,
				struct smtp_reply *r, struct smtp_fail *f);

#endif
