/*
 * tls-source - SMTP load generator with STARTTLS, for bench/run-relay.
 *
 *	tls-source -s SESSIONS -m N -l SIZE -f FROM -t TO [-R] host:port
 *
 * Like Postfix's smtp-source, but every session upgrades to TLS: it reads
 * the greeting, sends EHLO and STARTTLS, does the handshake (TLS 1.2 or
 * later, no certificate verification, no SNI), sends EHLO again and then
 * one message (MAIL, RCPT, DATA, a SIZE-byte body of X lines, ".") and
 * QUIT. One message per connection, no pipelining.
 *
 * SESSIONS worker processes share the N messages through a counter in
 * shared memory. Without -R every connection makes a full handshake (the
 * worst case); with -R a worker offers the session of its previous
 * connection for resumption.
 *
 * Exit status 0 when every message got a 250 after the final dot;
 * otherwise 1 and the number that did not on stderr. Usage errors exit 2.
 *
 * Not part of postern: bench/run-relay compiles it into its temporary
 * directory with cc -O2 -Wall -Wextra ... -lssl -lcrypto.
 */
#define _DEFAULT_SOURCE		/* MAP_ANONYMOUS */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define IO_TIMEOUT	60		/* seconds per read or write */
#define LINE_MAX_LEN	1024		/* longest reply line kept */
#define BODY_LINE	78		/* X characters per body line */

/* The shared part: which message is next, and how they went. */
struct tally {
	atomic_long next;
	atomic_long ok;
	atomic_long failed;
};

/* One connection: the socket, TLS once started, and a read buffer. */
struct conn {
	int fd;
	SSL *ssl;
	char buf[4096];
	size_t pos, len;
};

/* The options. */
struct opts {
	long sessions, messages, size;
	const char *from, *to, *host, *port;
	int resume;
};

static const char *progname = "tls-source";

/* Prints a message about one failed session to stderr. */
static void warnx_(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s[%ld]: ", progname, (long) getpid());
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Prints the usage and exits 2. */
static void usage(void)
{
	fprintf(stderr, "usage: %s -s SESSIONS -m N -l SIZE -f FROM -t TO [-R] host:port\n",
		progname);
	exit(2);
}

/* A positive number from an option argument, or usage(). */
static long positive(const char *arg)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v <= 0)
		usage();
	return v;
}

/* Connects to host:port; a socket with read and write timeouts, or -1. */
static int conn_open(const struct opts *o)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *ai;
	struct timeval tv = { .tv_sec = IO_TIMEOUT };
	int fd = -1, err;

	if ((err = getaddrinfo(o->host, o->port, &hints, &res)) != 0) {
		warnx_("%s:%s: %s", o->host, o->port, gai_strerror(err));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol)) < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		warnx_("connect %s:%s: %s", o->host, o->port, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Fills the read buffer, over TLS once it is on; 0 on success. */
static int conn_fill(struct conn *c)
{
	int n;

	if (c->ssl)
		n = SSL_read(c->ssl, c->buf, sizeof(c->buf));
	else
		n = (int) read(c->fd, c->buf, sizeof(c->buf));
	if (n <= 0)
		return -1;
	c->pos = 0;
	c->len = (size_t) n;
	return 0;
}

/* Reads one line (CRLF or LF removed, truncated to size - 1); 0 on success. */
static int conn_getline(struct conn *c, char *line, size_t size)
{
	size_t n = 0;

	for (;;) {
		if (c->pos == c->len && conn_fill(c) < 0)
			return -1;
		char ch = c->buf[c->pos++];

		if (ch == '\n')
			break;
		if (n + 1 < size)
			line[n++] = ch;
	}
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = 0;
	return 0;
}

/* Reads a reply, multi-line or not; its code, or -1. The last line stays in line. */
static int conn_reply(struct conn *c, char *line, size_t size)
{
	do {
		if (conn_getline(c, line, size) < 0)
			return -1;
		if (strlen(line) < 3)
			return -1;
	} while (line[3] == '-');
	return atoi(line);
}

/* Writes len bytes, over TLS once it is on; 0 on success. */
static int conn_write(struct conn *c, const char *data, size_t len)
{
	while (len > 0) {
		int chunk = len > 65536 ? 65536 : (int) len;
		int n = c->ssl ? SSL_write(c->ssl, data, chunk) : (int) write(c->fd, data, (size_t) chunk);

		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t) n;
	}
	return 0;
}

/* Sends a command (CRLF added) and reads the reply; its code, or -1. */
static int conn_cmd(struct conn *c, char *line, size_t size, const char *fmt, ...)
{
	char cmd[LINE_MAX_LEN];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t) n >= sizeof(cmd) - 2)
		return -1;
	memcpy(cmd + n, "\r\n", 2);
	if (conn_write(c, cmd, (size_t) n + 2) < 0)
		return -1;
	return conn_reply(c, line, size);
}

/*
 * The message: headers and a body of X lines, size bytes of body, then the
 * final dot. Built once per worker; the Message-Id is not unique (nothing
 * downstream checks).
 */
static char *message_build(const struct opts *o, size_t *lenp)
{
	size_t body = (size_t) o->size, lines = body / (BODY_LINE + 2) + 1;
	size_t cap = 512 + strlen(o->from) + strlen(o->to) + body + 2 * lines + 8;
	char *msg = malloc(cap), *p;
	int n;

	if (msg == NULL)
		return NULL;
	n = snprintf(msg, cap, "From: <%s>\r\nTo: <%s>\r\nSubject: tls-source\r\n"
		     "Message-Id: <tls-source.%ld@bench.client>\r\n\r\n",
		     o->from, o->to, (long) getpid());
	if (n < 0 || (size_t) n >= cap) {
		free(msg);
		return NULL;
	}
	p = msg + n;
	for (; body >= BODY_LINE + 2; body -= BODY_LINE + 2) {
		memset(p, 'X', BODY_LINE);
		memcpy(p + BODY_LINE, "\r\n", 2);
		p += BODY_LINE + 2;
	}
	if (body > 0) {		/* the last line: at least one X */
		size_t x = body > 2 ? body - 2 : 1;

		memset(p, 'X', x);
		memcpy(p + x, "\r\n", 2);
		p += x + 2;
	}
	memcpy(p, ".\r\n", 3);
	p += 3;
	*lenp = (size_t) (p - msg);
	return msg;
}

/* The TLS handshake on c; 0 on success. *sess is offered and replaced (with -R). */
static int conn_starttls(struct conn *c, SSL_CTX *ctx, SSL_SESSION **sess)
{
	char err[256];

	if ((c->ssl = SSL_new(ctx)) == NULL || !SSL_set_fd(c->ssl, c->fd))
		return -1;
	if (sess && *sess)
		SSL_set_session(c->ssl, *sess);
	if (SSL_connect(c->ssl) != 1) {
		ERR_error_string_n(ERR_get_error(), err, sizeof(err));
		warnx_("TLS handshake: %s", err);
		return -1;
	}
	return 0;
}

/* One SMTP session with one message; 0 when the message got 250. */
static int session(const struct opts *o, SSL_CTX *ctx, const char *msg, size_t msglen,
		   SSL_SESSION **sess)
{
	struct conn c = { .fd = -1 };
	char line[LINE_MAX_LEN];
	int code, ret = -1;

	if ((c.fd = conn_open(o)) < 0)
		return -1;
	if ((code = conn_reply(&c, line, sizeof(line))) != 220)
		warnx_("greeting: %s", code < 0 ? "lost connection" : line);
	else if ((code = conn_cmd(&c, line, sizeof(line), "EHLO bench.client")) != 250)
		warnx_("EHLO: %s", code < 0 ? "lost connection" : line);
	else if ((code = conn_cmd(&c, line, sizeof(line), "STARTTLS")) != 220)
		warnx_("STARTTLS: %s", code < 0 ? "lost connection" : line);
	else if (c.pos != c.len)
		warnx_("STARTTLS: data after the 220 reply");
	else if (conn_starttls(&c, ctx, sess) < 0)
		;
	else if ((code = conn_cmd(&c, line, sizeof(line), "EHLO bench.client")) != 250)
		warnx_("EHLO after STARTTLS: %s", code < 0 ? "lost connection" : line);
	else if ((code = conn_cmd(&c, line, sizeof(line), "MAIL FROM:<%s>", o->from)) != 250)
		warnx_("MAIL: %s", code < 0 ? "lost connection" : line);
	else if ((code = conn_cmd(&c, line, sizeof(line), "RCPT TO:<%s>", o->to)) != 250)
		warnx_("RCPT: %s", code < 0 ? "lost connection" : line);
	else if ((code = conn_cmd(&c, line, sizeof(line), "DATA")) != 354)
		warnx_("DATA: %s", code < 0 ? "lost connection" : line);
	else if (conn_write(&c, msg, msglen) < 0
		 || (code = conn_reply(&c, line, sizeof(line))) < 0)
		warnx_("end of data: lost connection");
	else if (code != 250)
		warnx_("end of data: %s", line);
	else
		ret = 0;
	if (ret == 0)
		(void) conn_cmd(&c, line, sizeof(line), "QUIT");
	if (c.ssl) {
		if (ret == 0 && sess) {
			SSL_SESSION_free(*sess);
			*sess = SSL_get1_session(c.ssl);
		}
		SSL_shutdown(c.ssl);
		SSL_free(c.ssl);
	}
	close(c.fd);
	return ret;
}

/* A client context: TLS 1.2 or later, no verification, no SNI (none is set). */
static SSL_CTX *client_ctx(int resume)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (!resume)
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
}

/* A worker: takes messages from the shared counter until none is left. */
static int worker(const struct opts *o, struct tally *t)
{
	SSL_CTX *ctx = client_ctx(o->resume);
	SSL_SESSION *sess = NULL;
	size_t msglen = 0;
	char *msg = message_build(o, &msglen);

	if (ctx == NULL || msg == NULL) {
		warnx_("out of memory or no TLS context");
		return 1;
	}
	while (atomic_fetch_add(&t->next, 1) < o->messages) {
		if (session(o, ctx, msg, msglen, o->resume ? &sess : NULL) == 0) {
			atomic_fetch_add(&t->ok, 1);
		} else {
			atomic_fetch_add(&t->failed, 1);
		}
	}
	SSL_SESSION_free(sess);
	SSL_CTX_free(ctx);
	free(msg);
	return 0;
}

/* The options from argv, or usage(). */
static void parse_args(int argc, char **argv, struct opts *o)
{
	char *colon;
	int ch;

	while ((ch = getopt(argc, argv, "s:m:l:f:t:R")) != -1) {
		switch (ch) {
		case 's': o->sessions = positive(optarg); break;
		case 'm': o->messages = positive(optarg); break;
		case 'l': o->size = positive(optarg); break;
		case 'f': o->from = optarg; break;
		case 't': o->to = optarg; break;
		case 'R': o->resume = 1; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || (colon = strrchr(argv[optind], ':')) == NULL)
		usage();
	*colon = 0;
	o->host = argv[optind];
	o->port = colon + 1;
	if (o->size > 1 << 30 || strlen(o->from) > 256 || strlen(o->to) > 256)
		usage();
}

int main(int argc, char **argv)
{
	struct opts o = { .sessions = 1, .messages = 1, .size = 1024,
			  .from = "bench-sender@localhost", .to = "bench@relay.example" };
	struct tally *t;
	long i, failed;
	int status, bad = 0;

	parse_args(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);
	t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	atomic_init(&t->next, 0);
	atomic_init(&t->ok, 0);
	atomic_init(&t->failed, 0);
	if (o.sessions > o.messages)
		o.sessions = o.messages;
	for (i = 0; i < o.sessions; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			bad = 1;
			break;
		}
		if (pid == 0)
			_exit(worker(&o, t));
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bad = 1;
	failed = o.messages - atomic_load(&t->ok);
	if (failed > 0 || bad) {
		fprintf(stderr, "%s: %ld of %ld messages not accepted\n", progname, failed, o.messages);
		return 1;
	}
	return 0;
}
