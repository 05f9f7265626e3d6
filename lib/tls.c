/* tls - TLS for both directions on OpenSSL (see tls.h).
 *
 * Choices, and why:
 * - Protocols become OpenSSL's min/max versions: the lowest and highest
 *   enabled one (a hole in the middle cannot be expressed and is filled).
 *   SSLv2 does not exist in OpenSSL 3, so it only ever disables.
 * - Key exchange: ECDHE with OpenSSL's group list X25519, P-256, X448,
 *   P-384, P-521; finite-field DHE with smtpd_tls_dh1024_param_file when
 *   one is given, else OpenSSL's automatic (2048 bits or more) groups.
 * - Renegotiation and compression are off (CVE-2009-3555, CRIME); the
 *   server's cipher order wins.
 * - Session tickets: one 80-byte key (name, HMAC, AES) shared through a
 *   file that every smtpd reads when it makes its context; see
 *   tls_ticket_keys_load. There is no server-side session cache to share.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "argv.h"
#include "config.h"
#include "ipc.h"
#include "mem.h"
#include "msg.h"
#include "tls.h"

/* ---- pure parsers -------------------------------------------------------- */

static const struct {
	const char *name;
	unsigned bit;
} proto_names[] = {
	{"SSLv2", TLS_PROTO_SSLv2}, {"SSLv3", TLS_PROTO_SSLv3}, {"TLSv1", TLS_PROTO_TLSv1},
	{"TLSv1.1", TLS_PROTO_TLSv1_1}, {"TLSv1.2", TLS_PROTO_TLSv1_2}, {"TLSv1.3", TLS_PROTO_TLSv1_3},
};

#define NPROTO	(sizeof(proto_names) / sizeof(proto_names[0]))

static int proto_bit(const char *name, size_t len, unsigned *bit)
{
	for (size_t i = 0; i < NPROTO; i++)
		if (strlen(proto_names[i].name) == len && strncasecmp(proto_names[i].name, name, len) == 0) {
			*bit = proto_names[i].bit;
			return 0;
		}
	return -1;
}

int tls_protocols_parse(const char *text, unsigned *protos, const char **why)
{
	unsigned include = 0, exclude = 0, lo = TLS_PROTO_ALL, hi = TLS_PROTO_ALL, bit;
	const char *p = text;

	while (*p) {
		size_t n;
		int op = 0;	/* 0 include, '!' exclude, '>' at least, '<' at most */

		p += strspn(p, " \t,:");
		n = strcspn(p, " \t,:");
		if (n == 0)
			break;
		if (*p == '!') {
			op = '!';
			p++, n--;
		} else if (n >= 2 && (p[0] == '>' || p[0] == '<') && p[1] == '=') {
			op = p[0];
			p += 2, n -= 2;
		}
		if (proto_bit(p, n, &bit) < 0) {
			*why = "unknown TLS protocol name";
			return -1;
		}
		if (op == 0)
			include |= bit;
		else if (op == '!')
			exclude |= bit;
		else if (op == '>')
			lo = TLS_PROTO_ALL & ~(bit - 1);	/* bit and above */
		else
			hi = (bit << 1) - 1;			/* bit and below */
		p += n;
	}
	*protos = (include ? include : TLS_PROTO_ALL) & ~exclude & lo & hi;
	if (*protos == 0) {
		*why = "no TLS protocol is left enabled";
		return -1;
	}
	return 0;
}

static const char *const level_names[] = {
	[TLS_LEV_NONE] = "none", [TLS_LEV_MAY] = "may", [TLS_LEV_ENCRYPT] = "encrypt",
	[TLS_LEV_VERIFY] = "verify", [TLS_LEV_SECURE] = "secure",
};

int tls_level_parse(const char *text, enum tls_level *level)
{
	if (*text == 0) {	/* Postfix: empty means none */
		*level = TLS_LEV_NONE;
		return 0;
	}
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(text, level_names[i]) == 0) {
			*level = (enum tls_level)i;
			return 0;
		}
	return -1;
}

const char *tls_level_name(enum tls_level level)
{
	return level_names[level];
}

/* policy_match - "a:b:c" into p->match */
static int policy_match(const char *v, size_t len, struct tls_policy *p, const char **why)
{
	while (len > 0) {
		size_t n = 0;

		while (n < len && v[n] != ':')
			n++;
		if (n > 0) {
			if (p->nmatch >= TLS_POLICY_MATCH_MAX || n >= TLS_POLICY_NAME_MAX) {
				*why = "too many or too long match= names";
				return -1;
			}
			memcpy(p->match[p->nmatch], v, n);
			p->match[p->nmatch++][n] = 0;
		}
		v += n, len -= n;
		if (len > 0)
			v++, len--;
	}
	return 0;
}

/* policy_attr - one "name=value" of a policy entry */
static int policy_attr(const char *w, size_t n, struct tls_policy *p, const char **why)
{
	const char *eq = memchr(w, '=', n);
	size_t kl, vl;

	if (eq == NULL) {
		*why = "attribute without '='";
		return -1;
	}
	kl = (size_t)(eq - w);
	vl = n - kl - 1;
#define KEY(k) (kl == strlen(k) && strncasecmp(w, k, kl) == 0)
	if (KEY("match"))
		return policy_match(eq + 1, vl, p, why);
	if (KEY("protocols") || KEY("ciphers")) {
		char *dst = KEY("ciphers") ? p->ciphers : p->protocols;
		size_t size = KEY("ciphers") ? sizeof(p->ciphers) : sizeof(p->protocols);

		if (vl >= size) {
			*why = "attribute value too long";
			return -1;
		}
		memcpy(dst, eq + 1, vl);
		dst[vl] = 0;
		return 0;
	}
#undef KEY
	*why = "unknown attribute";
	return -1;
}

int tls_policy_parse(const char *value, struct tls_policy *p, const char **why)
{
	const char *s = value + strspn(value, " \t");
	size_t n = strcspn(s, " \t");
	char level[16];

	memset(p, 0, sizeof(*p));
	if (n == 0 || n >= sizeof(level)) {
		*why = "no security level";
		return -1;
	}
	memcpy(level, s, n);
	level[n] = 0;
	if (tls_level_parse(level, &p->level) < 0) {
		*why = "unknown or unsupported security level";
		return -1;
	}
	for (s += n; *(s += strspn(s, " \t")); s += n) {
		n = strcspn(s, " \t");
		if (policy_attr(s, n, p, why) < 0)
			return -1;
	}
	/* protocols= in a table separates with ':' or ',' (Postfix) */
	if (p->protocols[0]) {
		unsigned protos;

		if (tls_protocols_parse(p->protocols, &protos, why) < 0)
			return -1;
	}
	return 0;
}

void tls_fingerprint_format(const unsigned char *md, size_t len, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (size == 0)
		return;
	for (size_t i = 0; i < len && o + 3 <= size; i++) {
		if (i > 0) {
			if (o + 4 > size)
				break;
			out[o++] = ':';
		}
		out[o++] = hex[md[i] >> 4];
		out[o++] = hex[md[i] & 15];
	}
	out[o] = 0;
}

/* ---- contexts -------------------------------------------------------------- */

struct tls_ctx {
	SSL_CTX *ssl;
	enum tls_role role;
	char prefix[8];
};

struct tls_conn {
	SSL *ssl;
	int fd;
	int broken;		/* no close_notify: the connection failed */
	int chain_error;	/* first certificate error but a name mismatch */
	int name_error;		/* the certificate names none of the expected names */
};

static int conn_index = -1;	/* SSL ex_data slot of the struct tls_conn */

/* ssl_error - OpenSSL's error queue as one line into buf (and emptied) */
static const char *ssl_error(char *buf, size_t size)
{
	unsigned long e, last = 0;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (last == 0)
		snprintf(buf, size, "%s", "unknown error");
	else
		ERR_error_string_n(last, buf, size);
	return buf;
}

static const char *param(const struct tls_ctx *c, const char *suffix)
{
	char name[80];

	snprintf(name, sizeof(name), "%s_%s", c->prefix, suffix);
	return conf_str(name);
}

static int proto_version(unsigned bit)
{
	switch (bit) {
	case TLS_PROTO_TLSv1: return TLS1_VERSION;
	case TLS_PROTO_TLSv1_1: return TLS1_1_VERSION;
	case TLS_PROTO_TLSv1_2: return TLS1_2_VERSION;
	case TLS_PROTO_TLSv1_3: return TLS1_3_VERSION;
	default: return SSL3_VERSION;
	}
}

/* min_max - the OpenSSL version bounds of a protocol set; SSLv2 is never */
static void min_max(unsigned protos, int *min, int *max)
{
	unsigned lo = 0, hi = 0;

	protos &= ~TLS_PROTO_SSLv2;
	for (unsigned b = TLS_PROTO_SSLv3; b <= TLS_PROTO_TLSv1_3; b <<= 1)
		if (protos & b) {
			if (!lo)
				lo = b;
			hi = b;
		}
	*min = lo ? proto_version(lo) : TLS1_3_VERSION + 1;	/* nothing: fails */
	*max = hi ? proto_version(hi) : TLS1_3_VERSION;
}

/* cipher_list - Postfix's grade names as OpenSSL cipher lists (TLS 1.2 and
 * below; TLS 1.3 suites are all strong and stay OpenSSL's) */
static const char *cipher_list(const char *grade)
{
	if (strcasecmp(grade, "high") == 0)
		return "HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES:!CAMELLIA:!ARIA:!PSK:!SRP:!DSS";
	if (strcasecmp(grade, "medium") == 0)
		return "HIGH:MEDIUM:!aNULL:!eNULL:!MD5:!RC4:!3DES:!SEED:!IDEA:!PSK:!SRP:!DSS";
	if (strcasecmp(grade, "low") == 0 || strcasecmp(grade, "export") == 0)
		return "ALL:!aNULL:!eNULL";
	return NULL;
}

/* set_protocols - the prefix's [mandatory_]protocols and ciphers */
static int set_protocols(struct tls_ctx *c, int mandatory)
{
	const char *protocols = param(c, mandatory ? "tls_mandatory_protocols" : "tls_protocols");
	const char *grade = param(c, mandatory ? "tls_mandatory_ciphers" : "tls_ciphers");
	const char *list = cipher_list(grade), *why;
	unsigned protos;
	int min, max;

	if (tls_protocols_parse(protocols, &protos, &why) < 0) {
		msg_warn("%s_tls_%sprotocols = %s: %s", c->prefix, mandatory ? "mandatory_" : "",
			 protocols, why);
		return -1;
	}
	min_max(protos, &min, &max);
	if (!SSL_CTX_set_min_proto_version(c->ssl, min) || !SSL_CTX_set_max_proto_version(c->ssl, max)) {
		msg_warn("%s_tls_protocols = %s: not supported by this OpenSSL", c->prefix, protocols);
		return -1;
	}
	if (list == NULL) {
		msg_warn("%s_tls_%sciphers = %s: unknown grade, using medium", c->prefix,
			 mandatory ? "mandatory_" : "", grade);
		list = cipher_list("medium");
	}
	if (!SSL_CTX_set_cipher_list(c->ssl, list)) {
		msg_warn("%s: cannot set the cipher list", c->prefix);
		return -1;
	}
	return 0;
}

/* load_dh - smtpd_tls_dh1024_param_file, else OpenSSL's automatic groups */
static int load_dh(struct tls_ctx *c)
{
	const char *file = param(c, "tls_dh1024_param_file");
	EVP_PKEY *dh = NULL;
	BIO *bio;
	char err[256];

	if (*file == 0) {
		SSL_CTX_set_dh_auto(c->ssl, 1);
		return 0;
	}
	if ((bio = BIO_new_file(file, "r")) == NULL
	    || (dh = PEM_read_bio_Parameters(bio, NULL)) == NULL
	    || !SSL_CTX_set0_tmp_dh_pkey(c->ssl, dh)) {
		msg_warn("%s_tls_dh1024_param_file = %s: %s", c->prefix, file, ssl_error(err, sizeof(err)));
		EVP_PKEY_free(dh);
		BIO_free(bio);
		return -1;
	}
	BIO_free(bio);
	return 0;
}

/* load_certs - chain files (key and certificates in one or more files),
 * else cert_file and key_file; nothing for a client without them */
static int load_certs(struct tls_ctx *c)
{
	const char *chain = param(c, "tls_chain_files");
	const char *cert = param(c, "tls_cert_file"), *key = param(c, "tls_key_file");
	struct argv files = ARGV_INIT;
	char err[256];
	int ret = 0;

	if (*chain) {
		/* Postfix: each file has a key followed by its certificates; the
		 * first certificate of a file is the leaf. */
		argv_split(&files, chain, ", \t");
		for (size_t i = 0; i < files.n && ret == 0; i++)
			if (!SSL_CTX_use_PrivateKey_file(c->ssl, files.v[i], SSL_FILETYPE_PEM)
			    || !SSL_CTX_use_certificate_chain_file(c->ssl, files.v[i])) {
				msg_warn("%s_tls_chain_files: %s: %s", c->prefix, files.v[i],
					 ssl_error(err, sizeof(err)));
				ret = -1;
			}
		argv_free(&files);
	} else if (*cert) {
		if (!SSL_CTX_use_certificate_chain_file(c->ssl, cert)) {
			msg_warn("%s_tls_cert_file = %s: %s", c->prefix, cert, ssl_error(err, sizeof(err)));
			ret = -1;
		} else if (!SSL_CTX_use_PrivateKey_file(c->ssl, *key ? key : cert, SSL_FILETYPE_PEM)) {
			msg_warn("%s_tls_key_file = %s: %s", c->prefix, *key ? key : cert,
				 ssl_error(err, sizeof(err)));
			ret = -1;
		}
	} else if (c->role == TLS_ROLE_SERVER) {
		msg_warn("%s: no smtpd_tls_cert_file or smtpd_tls_chain_files: TLS is off", c->prefix);
		return -1;
	}
	if (ret == 0 && (*chain || *cert) && !SSL_CTX_check_private_key(c->ssl)) {
		msg_warn("%s: the private key does not match the certificate", c->prefix);
		ret = -1;
	}
	return ret;
}

/* load_cas - CAfile and CApath for verifying the peer */
static int load_cas(struct tls_ctx *c)
{
	const char *file = param(c, "tls_CAfile"), *path = param(c, "tls_CApath");
	char err[256];

	if ((*file || *path)
	    && !SSL_CTX_load_verify_locations(c->ssl, *file ? file : NULL, *path ? path : NULL)) {
		msg_warn("%s_tls_CAfile/CApath = %s/%s: %s", c->prefix, file, path,
			 ssl_error(err, sizeof(err)));
		return -1;
	}
	if (c->role == TLS_ROLE_SERVER && *file) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(file);

		if (names)
			SSL_CTX_set_client_CA_list(c->ssl, names);
	}
	return 0;
}

/* accept_any - the handshake never fails on the peer's certificate here:
 * the errors are noted, and the caller decides (so "may" and "encrypt"
 * work with any certificate and the log can say why one is untrusted).
 * A name mismatch is kept apart from chain errors: OpenSSL's one verify
 * result holds only the last error, which would hide the other kind. */
static int accept_any(int ok, X509_STORE_CTX *store)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls_conn *c = ssl ? SSL_get_ex_data(ssl, conn_index) : NULL;
	int err = X509_STORE_CTX_get_error(store);

	if (!ok && c) {
		if (err == X509_V_ERR_HOSTNAME_MISMATCH)
			c->name_error = 1;
		else if (c->chain_error == 0)
			c->chain_error = err;
	}
	return 1;
}

struct tls_ctx *tls_ctx_create(const char *prefix, enum tls_role role, int mandatory)
{
	struct tls_ctx *c = xmalloc(sizeof(*c));
	static const unsigned char sid_ctx[] = "postern-smtpd";

	if (conn_index < 0)
		conn_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	memset(c, 0, sizeof(*c));
	snprintf(c->prefix, sizeof(c->prefix), "%s", prefix);
	c->role = role;
	c->ssl = SSL_CTX_new(role == TLS_ROLE_SERVER ? TLS_server_method() : TLS_client_method());
	if (c->ssl == NULL) {
		msg_warn("%s: cannot make a TLS context", prefix);
		free(c);
		return NULL;
	}
	SSL_CTX_set_options(c->ssl, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION
			    | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set1_groups_list(c->ssl, "X25519:P-256:X448:P-384:P-521");
	if (set_protocols(c, mandatory) < 0 || load_certs(c) < 0 || load_cas(c) < 0
	    || (role == TLS_ROLE_SERVER && load_dh(c) < 0)) {
		tls_ctx_free(c);
		return NULL;
	}
	if (role == TLS_ROLE_SERVER) {
		int mode = SSL_VERIFY_NONE;

		SSL_CTX_set_session_id_context(c->ssl, sid_ctx, sizeof(sid_ctx) - 1);
		SSL_CTX_set_timeout(c->ssl, 3600);
		/* One TLS 1.3 ticket, not OpenSSL's two: the second goes out as
		 * its own segment, and Nagle then holds the reply to the
		 * client's next command until the client's delayed ACK (~40 ms
		 * per session). An SMTP client resumes one session at a time. */
		SSL_CTX_set_num_tickets(c->ssl, 1);
		if (conf_bool("smtpd_tls_ask_ccert") || conf_bool("smtpd_tls_req_ccert"))
			mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
		SSL_CTX_set_verify(c->ssl, mode, accept_any);
	} else {
		SSL_CTX_set_verify(c->ssl, SSL_VERIFY_NONE, accept_any);
		SSL_CTX_set_session_cache_mode(c->ssl, SSL_SESS_CACHE_OFF);
	}
	return c;
}

void tls_ctx_free(struct tls_ctx *c)
{
	if (c == NULL)
		return;
	SSL_CTX_free(c->ssl);
	free(c);
}

/* ---- the shared ticket key ------------------------------------------------ */

#define TICKET_KEY_LEN		80	/* name 16, HMAC 32, AES 32 (OpenSSL 1.1+ layout) */
#define TICKET_KEY_MAX_AGE	86400

/* read_key - the key file, when it is ours, fresh and whole; -1 if not */
static int read_key(const char *path, unsigned char *key)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()
	    || (st.st_mode & 077) || st.st_size != TICKET_KEY_LEN
	    || time(NULL) - st.st_mtime > TICKET_KEY_MAX_AGE || time(NULL) < st.st_mtime - 60) {
		close(fd);
		return -1;
	}
	n = read(fd, key, TICKET_KEY_LEN);
	close(fd);
	return n == TICKET_KEY_LEN ? 0 : -1;
}

/* write_key - a new random key, replacing the file atomically (another
 * smtpd doing the same at the same moment only means two keys for a
 * moment: a ticket of the other is a full handshake, not an error) */
static int write_key(const char *path)
{
	unsigned char key[TICKET_KEY_LEN];
	char tmp[512];
	int fd, ok;

	if (RAND_bytes(key, sizeof(key)) != 1)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return -1;
	ok = write(fd, key, sizeof(key)) == (ssize_t)sizeof(key) && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	OPENSSL_cleanse(key, sizeof(key));
	if (!ok || rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

int tls_ticket_keys_load(struct tls_ctx *c, const char *path)
{
	unsigned char key[TICKET_KEY_LEN];
	int ret = -1;

	if (read_key(path, key) < 0 && (write_key(path) < 0 || read_key(path, key) < 0))
		msg_warn("TLS session ticket key %s: %m: tickets work with this process only", path);
	else if (SSL_CTX_set_tlsext_ticket_keys(c->ssl, key, sizeof(key)) != 1)
		msg_warn("TLS session ticket key: OpenSSL refused it");
	else
		ret = 0;
	OPENSSL_cleanse(key, sizeof(key));
	return ret;
}

/* ---- connections ------------------------------------------------------------ */

struct tls_conn *tls_conn_new(struct tls_ctx *ctx, int fd, const char *servername)
{
	struct tls_conn *c = xmalloc(sizeof(*c));
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	if ((c->ssl = SSL_new(ctx->ssl)) == NULL)
		msg_fatal("SSL_new: out of memory");
	SSL_set_ex_data(c->ssl, conn_index, c);
	SSL_set_fd(c->ssl, fd);
	if (ctx->role == TLS_ROLE_SERVER) {
		SSL_set_accept_state(c->ssl);
	} else {
		SSL_set_connect_state(c->ssl);
		if (servername && *servername && strlen(servername) < 256)
			SSL_set_tlsext_host_name(c->ssl, servername);
	}
	return c;
}

int tls_conn_protocols(struct tls_conn *c, unsigned protos)
{
	int min, max;

	min_max(protos, &min, &max);
	return SSL_set_min_proto_version(c->ssl, min) && SSL_set_max_proto_version(c->ssl, max) ? 0 : -1;
}

void tls_conn_expect_names(struct tls_conn *c, const char *const *names, size_t n)
{
	X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);

	X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	for (size_t i = 0; i < n; i++)
		X509_VERIFY_PARAM_add1_host(vp, names[i], 0);
}

/* wait_io - what SSL_get_error asks for, by the deadline; 0 go on, -1 fail */
static int wait_io(struct tls_conn *c, int ret, long long deadline, char *why, size_t whysize)
{
	int err = SSL_get_error(c->ssl, ret), w;

	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
		w = ipc_wait(c->fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
		if (w > 0)
			return 0;
		if (w == 0)
			errno = ETIMEDOUT;
		if (why)
			snprintf(why, whysize, "%s", w == 0 ? "timed out" : strerror(errno));
		c->broken = 1;
		return -1;
	}
	c->broken = 1;
	if (err == SSL_ERROR_ZERO_RETURN) {
		errno = 0;
		if (why)
			snprintf(why, whysize, "connection closed");
		return -1;
	}
	if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
		if (why)
			snprintf(why, whysize, "%s", errno ? strerror(errno) : "lost connection");
		if (errno == 0)
			errno = ECONNRESET;
		return -1;
	}
	if (why) {
		ssl_error(why, whysize);
	} else {
		char buf[256];

		msg_debug("TLS: %s", ssl_error(buf, sizeof(buf)));
	}
	errno = EPROTO;
	return -1;
}

int tls_handshake(struct tls_conn *c, long long deadline_ms, char *why, size_t whysize)
{
	int ret;

	ERR_clear_error();
	while ((ret = SSL_do_handshake(c->ssl)) != 1)
		if (wait_io(c, ret, deadline_ms, why, whysize) < 0)
			return -1;
	return 0;
}

long tls_read(struct tls_conn *c, void *buf, size_t len, long long deadline_ms)
{
	size_t got;
	int ret;

	ERR_clear_error();
	while ((ret = SSL_read_ex(c->ssl, buf, len, &got)) != 1) {
		if (SSL_get_error(c->ssl, ret) == SSL_ERROR_ZERO_RETURN)
			return 0;
		if (wait_io(c, ret, deadline_ms, NULL, 0) < 0)
			return errno == ECONNRESET ? 0 : -1;
	}
	return (long)got;
}

int tls_write_all(struct tls_conn *c, const void *buf, size_t len, long long deadline_ms)
{
	const char *p = buf;
	size_t done;
	int ret;

	ERR_clear_error();
	while (len > 0) {
		if ((ret = SSL_write_ex(c->ssl, p, len, &done)) == 1) {
			p += done;
			len -= done;
		} else if (wait_io(c, ret, deadline_ms, NULL, 0) < 0) {
			return -1;
		}
	}
	return 0;
}

int tls_pending(struct tls_conn *c)
{
	return SSL_pending(c->ssl) > 0;
}

void tls_conn_free(struct tls_conn *c)
{
	if (c == NULL)
		return;
	if (!c->broken)
		SSL_shutdown(c->ssl);	/* non-blocking: one try */
	SSL_free(c->ssl);
	free(c);
}

/* name_cn - the CN of an X509 name, "" when none; control bytes become '?' */
static void name_cn(X509_NAME *name, char *out, size_t size)
{
	out[0] = 0;
	if (name == NULL || X509_NAME_get_text_by_NID(name, NID_commonName, out, (int)size) < 0) {
		out[0] = 0;
		return;
	}
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 32 || (unsigned char)*p == 127)
			*p = '?';
}

void tls_conn_info(struct tls_conn *c, struct tls_info *info)
{
	const SSL_CIPHER *cipher = SSL_get_current_cipher(c->ssl);
	X509 *peer = SSL_get1_peer_certificate(c->ssl);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	long vr = SSL_get_verify_result(c->ssl);

	memset(info, 0, sizeof(*info));
	snprintf(info->protocol, sizeof(info->protocol), "%s", SSL_get_version(c->ssl));
	snprintf(info->cipher, sizeof(info->cipher), "%s", cipher ? SSL_CIPHER_get_name(cipher) : "none");
	info->bits = cipher ? SSL_CIPHER_get_bits(cipher, &info->alg_bits) : 0;
	info->reused = SSL_session_reused(c->ssl);
	if (peer == NULL)
		return;
	info->peer_cert = 1;
	name_cn(X509_get_subject_name(peer), info->peer_cn, sizeof(info->peer_cn));
	name_cn(X509_get_issuer_name(peer), info->issuer_cn, sizeof(info->issuer_cn));
	if (X509_digest(peer, EVP_sha256(), md, &mdlen))
		tls_fingerprint_format(md, mdlen, info->fingerprint, sizeof(info->fingerprint));
	if (X509_pubkey_digest(peer, EVP_sha256(), md, &mdlen))
		tls_fingerprint_format(md, mdlen, info->pkey_fingerprint, sizeof(info->pkey_fingerprint));
	/* a resumed session has no new verification: use its stored result */
	if (info->reused && vr != X509_V_OK && c->chain_error == 0 && vr != X509_V_ERR_HOSTNAME_MISMATCH)
		c->chain_error = (int)vr;
	info->peer_trusted = c->chain_error == 0;
	info->peer_matched = info->peer_trusted && !c->name_error && SSL_get0_peername(c->ssl) != NULL;
	if (c->chain_error)
		snprintf(info->verify_error, sizeof(info->verify_error), "%s",
			 X509_verify_cert_error_string(c->chain_error));
	else if (c->name_error || !info->peer_matched)
		snprintf(info->verify_error, sizeof(info->verify_error), "%s",
			 "certificate name does not match");
	X509_free(peer);
}
