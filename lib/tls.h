/* tls - TLS for smtpd (server) and smtp (client), on OpenSSL.
 *
 * One module for both sides. tls_ctx_create() builds a context from the
 * parameters of one prefix ("smtpd" reads smtpd_tls_*, "smtp" reads
 * smtp_tls_*): protocols in Postfix's syntax (">=TLSv1.2",
 * "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1"), the cipher grade, certificate,
 * key and chain files, CA file/path, DH parameters (or OpenSSL's
 * automatic ones) and the ECDHE groups. Call it before the chroot and
 * the privilege drop (pre_jail): key files are often readable by root
 * only.
 *
 * A connection (struct tls_conn) wraps a connected socket: the handshake,
 * reads and writes each take an absolute deadline (ev_now_ms() based) and
 * never block past it. After the handshake tls_conn_info() gives what the
 * log, Received: and check_ccert_access need.
 *
 * Session resumption on the server side uses session tickets whose keys
 * all smtpd processes share: a key file (TLS_TICKET_KEY_FILE, relative to
 * the queue directory, mode 0600) made at first use and replaced when it
 * is older than a day (tls_ticket_keys_load). Every process reads it when
 * it makes its context, so a client that got a ticket from one smtpd
 * resumes with any other.
 *
 * The pure parts (protocol lists, policy entries, fingerprints) have no
 * OpenSSL state and are unit-tested.
 */
#ifndef POSTERN_TLS_H
#define POSTERN_TLS_H

#include <stddef.h>

/* ---- pure parsers -------------------------------------------------------- */

/* protocol bits, in ascending order */
#define TLS_PROTO_SSLv2		(1u << 0)
#define TLS_PROTO_SSLv3		(1u << 1)
#define TLS_PROTO_TLSv1		(1u << 2)
#define TLS_PROTO_TLSv1_1	(1u << 3)
#define TLS_PROTO_TLSv1_2	(1u << 4)
#define TLS_PROTO_TLSv1_3	(1u << 5)
#define TLS_PROTO_ALL		0x3fu

/* tls_protocols_parse - Postfix's protocol list (names separated by
 * space, comma or colon): "NAME" enables, "!NAME" disables, ">=NAME" and
 * "<=NAME" bound. With no plain name every protocol starts enabled. The
 * result is the set of enabled protocols (bits above); -1 with *why for
 * an unknown name or an empty result. */
int tls_protocols_parse(const char *text, unsigned *protos, const char **why);

/* the levels of smtpd_tls_security_level / smtp_tls_security_level */
enum tls_level {
	TLS_LEV_NONE, TLS_LEV_MAY, TLS_LEV_ENCRYPT, TLS_LEV_VERIFY, TLS_LEV_SECURE,
};

/* tls_level_parse - "none", "may", ...; -1 when unknown (dane, fingerprint
 * levels do not exist in postern: they are unknown words here) */
int tls_level_parse(const char *text, enum tls_level *level);
const char *tls_level_name(enum tls_level level);

#define TLS_POLICY_MATCH_MAX	8
#define TLS_POLICY_NAME_MAX	256

/* One smtp_tls_policy_maps entry: "level [match=a:b] [protocols=...]
 * [ciphers=...]" (other attributes are ignored with a warning by the
 * caller). */
struct tls_policy {
	enum tls_level level;
	size_t nmatch;
	char match[TLS_POLICY_MATCH_MAX][TLS_POLICY_NAME_MAX];
	char protocols[128];		/* "" = smtp_tls_mandatory_protocols */
	char ciphers[32];		/* "" = smtp_tls_mandatory_ciphers */
};

/* tls_policy_parse - the value of a policy table entry; 0, or -1 with
 * *why (static text). */
int tls_policy_parse(const char *value, struct tls_policy *p, const char **why);

/* tls_fingerprint_format - "AB:CD:..." (Postfix's form) of a digest into
 * out; truncated to what fits, always terminated. */
void tls_fingerprint_format(const unsigned char *md, size_t len, char *out, size_t size);

/* ---- contexts and connections --------------------------------------------- */

enum tls_role { TLS_ROLE_SERVER, TLS_ROLE_CLIENT };

struct tls_ctx;
struct tls_conn;

/* tls_ctx_create - from the prefix's parameters; NULL with the reason
 * logged (a missing or unreadable certificate or key, bad protocols).
 * mandatory: the context for mandatory TLS (encrypt and above), which
 * uses *_tls_mandatory_protocols and *_tls_mandatory_ciphers. */
struct tls_ctx *tls_ctx_create(const char *prefix, enum tls_role role, int mandatory);
void tls_ctx_free(struct tls_ctx *ctx);

#define TLS_TICKET_KEY_FILE	"private/tls_ticket_keys"

/* tls_ticket_keys_load - the shared ticket key of the file path (made or
 * renewed when missing or older than a day) into a server context; -1
 * (logged) when it cannot be had: then each process has its own key. */
int tls_ticket_keys_load(struct tls_ctx *ctx, const char *path);

/* tls_conn_new - a connection on fd (made non-blocking). servername: the
 * client's SNI, NULL for none. */
struct tls_conn *tls_conn_new(struct tls_ctx *ctx, int fd, const char *servername);

/* tls_conn_protocols - replaces the context's protocols for this
 * connection (a policy table's protocols=); -1 when OpenSSL refuses */
int tls_conn_protocols(struct tls_conn *c, unsigned protos);

/* tls_conn_expect_names - client: names one of which the server
 * certificate must carry (X509_check_host rules: wildcards in the
 * certificate; a name starting with "." matches any subdomain). */
void tls_conn_expect_names(struct tls_conn *c, const char *const *names, size_t n);

/* tls_handshake - by deadline_ms; 0, or -1 with the reason in why */
int tls_handshake(struct tls_conn *c, long long deadline_ms, char *why, size_t whysize);

/* tls_read - up to len bytes by the deadline: > 0 bytes read, 0 the
 * peer closed, -1 error (errno ETIMEDOUT on timeout) */
long tls_read(struct tls_conn *c, void *buf, size_t len, long long deadline_ms);

/* tls_write_all - all len bytes by the deadline; 0, or -1 (errno) */
int tls_write_all(struct tls_conn *c, const void *buf, size_t len, long long deadline_ms);

/* tls_pending - decrypted bytes are buffered inside the TLS layer */
int tls_pending(struct tls_conn *c);

/* tls_conn_free - sends close_notify (without waiting) unless the
 * connection broke, then frees; the fd stays open. */
void tls_conn_free(struct tls_conn *c);

/* What the log, Received: and access checks need. */
struct tls_info {
	char protocol[16];		/* "TLSv1.3" */
	char cipher[64];		/* "TLS_AES_256_GCM_SHA384" */
	int bits, alg_bits;
	int peer_cert;			/* the peer sent a certificate */
	int peer_trusted;		/* ... and it chains to a trusted CA */
	int peer_matched;		/* client: ... and it names an expected name */
	char verify_error[128];		/* why not trusted / matched */
	char peer_cn[256];		/* subject CN, or "" */
	char issuer_cn[256];		/* issuer CN, or "" */
	char fingerprint[100];		/* sha256 of the certificate, AB:CD:.. */
	char pkey_fingerprint[100];	/* sha256 of its public key */
	int reused;			/* the session was resumed */
};

void tls_conn_info(struct tls_conn *c, struct tls_info *info);

#endif
