/* postdrop - put one message into maildrop/; see postdrop(1).
 *
 * Usage: postdrop [-c config_dir] [-v] < record-stream
 *
 * Installed set-gid setgid_group, the only group that may write into
 * queue_directory/maildrop (mode 1770). It runs with the caller's uid in
 * a hostile environment: any user can start it with any stdin,
 * environment, umask, rlimits and signals. So it trusts nothing it reads,
 * and what it writes about the caller (uid, gid, time) it finds out
 * itself.
 *
 * INPUT (from sendmail, over a pipe). Records as in lib/rec.h: one type
 * byte, the payload length as a varint, the payload. Exactly this order:
 *
 *   S           envelope sender; "" is the null sender
 *   F           optional: sender full name (-F or the GECOS name)
 *   A*          optional, each name at most once, "name=value":
 *                 notify=NEVER | SUCCESS,FAILURE,DELAY (subset, this order)
 *                 ret=FULL | HDRS
 *                 envid=1..100 printable ASCII characters
 *                 body_type=7BIT | 8BITMIME
 *   (N? R)+     one or more recipients, each optionally preceded by its
 *               DSN NOTIFY (same syntax as notify= above)
 *   M           start of content; empty payload
 *   B*          content bytes, LF line ends, each at most REC_CHUNK bytes;
 *               opaque (8-bit, NUL, anything)
 *   E           end; empty payload; nothing may follow
 *
 * S, F, A, N and R payloads are at most MAILDROP_FIELD_MAX (2048) bytes
 * and never contain CR, LF or NUL; R is never empty. Anything else (an
 * unknown type, a record out of order, a bad value, a truncated stream,
 * bytes after E) is malformed input: EX_DATAERR, and no file remains.
 *
 * OUTPUT (maildrop/ID, read by pickup). The same records, with
 * postdrop's own first:
 *
 *   V           "postern-maildrop 1" (MAILDROP_VERSION)
 *   T           arrival time "seconds microseconds"
 *   A           "uid=N"  getuid() of the caller
 *   A           "gid=N"  getgid() of the caller
 *   S F? A* (N? R)+ M B* E   as read and checked
 *
 * The file is created mode 0600 by queue_file_create, written, then made
 * 0444 (the "complete" mark pickup checks), fsynced, and its directory
 * fsynced by queue_file_commit. Exit 0 only after that; then pickup is
 * woken, best effort: mail is accepted while the daemons are stopped.
 * On any failure the file is removed: malformed input is EX_DATAERR;
 * write errors (full disk, quota, RLIMIT_FSIZE), signals and every
 * run-time failure are EX_TEMPFAIL; an unauthorised configuration
 * directory is EX_NOPERM.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sysexits.h>
#include <unistd.h>

#include "confdir.h"
#include "config.h"
#include "ipc.h"
#include "maildrop.h"
#include "mem.h"
#include "msg.h"
#include "qfile.h"
#include "rec.h"
#include "vstr.h"

#define MAILDROP_DIR	"maildrop"
#define PICKUP_TRIGGER	"public/pickup"
#define READ_SIZE	65536

/* The file to remove if we die before commit; set with signals blocked. */
static char cleanup_path[sizeof(MAILDROP_DIR) + QID_MAX + 1];

static void remove_partial(void)
{
	if (cleanup_path[0])
		unlink(cleanup_path);
	cleanup_path[0] = 0;
}

static void on_signal(int sig)
{
	(void)sig;
	if (cleanup_path[0])
		unlink(cleanup_path);
	_exit(EX_TEMPFAIL);
}

/* block_signals - with how = SIG_BLOCK or SIG_SETMASK (restore old) */
static void block_signals(int how, sigset_t *old)
{
	sigset_t set;

	if (how == SIG_BLOCK) {
		sigemptyset(&set);
		sigaddset(&set, SIGHUP);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGQUIT);
		sigaddset(&set, SIGTERM);
		sigprocmask(SIG_BLOCK, &set, old);
	} else {
		sigprocmask(SIG_SETMASK, old, NULL);
	}
}

static void setup_signals(void)
{
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigfillset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* Write errors must come back as errors: EPIPE, EFBIG (ulimit -f). */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The input stream: records decoded from a buffer filled with read(2)
 * (rec_reader uses pread, which a pipe does not support). */
struct input {
	int fd;
	vstr buf;
	size_t pos;		/* first unread byte in buf */
};

/* input_get - the next record; 1, 0 at a clean EOF, or -1 with *err */
static int input_get(struct input *in, int *type, const char **data, size_t *len,
		     const char **err)
{
	char chunk[READ_SIZE];
	ssize_t used, n;

	for (;;) {
		used = rec_decode(vstr_str(&in->buf) + in->pos, vstr_len(&in->buf) - in->pos,
				  type, data, len, REC_CHUNK);
		if (used < 0) {
			*err = "bad record length";
			return -1;
		}
		if (used > 0) {
			in->pos += (size_t)used;
			return 1;
		}
		vstr_consume(&in->buf, in->pos);	/* keep only the partial record */
		in->pos = 0;
		do {
			n = read(in->fd, chunk, sizeof(chunk));
		} while (n < 0 && errno == EINTR);
		if (n < 0) {
			*err = strerror(errno);
			return -1;
		}
		if (n == 0) {
			*err = "truncated record";
			return vstr_len(&in->buf) == 0 ? 0 : -1;
		}
		vstr_ncat(&in->buf, chunk, (size_t)n);
	}
}

/* Where in the sequence we are: what the next record may be. */
enum { PH_SENDER, PH_AFTER_S, PH_ATTRS, PH_NOTIFIED, PH_RCPTS, PH_CONTENT, PH_END };

/* next_phase - the phase after a record of type in phase ph; -1 if the
 * record may not come here */
static int next_phase(int ph, int type)
{
	switch (type) {
	case REC_SENDER:
		return ph == PH_SENDER ? PH_AFTER_S : -1;
	case REC_FULLNAME:
		return ph == PH_AFTER_S ? PH_ATTRS : -1;
	case REC_ATTR:
		return ph == PH_AFTER_S || ph == PH_ATTRS ? PH_ATTRS : -1;
	case REC_NOTIFY:
		return ph == PH_AFTER_S || ph == PH_ATTRS || ph == PH_RCPTS ? PH_NOTIFIED : -1;
	case REC_RCPT:
		return ph >= PH_AFTER_S && ph <= PH_RCPTS ? PH_RCPTS : -1;
	case REC_MESSAGE:
		return ph == PH_RCPTS ? PH_CONTENT : -1;
	case REC_BODY:
		return ph == PH_CONTENT ? PH_CONTENT : -1;
	case REC_END:
		return ph == PH_CONTENT ? PH_END : -1;
	default:
		return -1;
	}
}

/* payload_ok - the value checks of one record; attrs_seen counts names */
static int payload_ok(int type, const char *data, size_t len, int *attrs_seen)
{
	char canon[64];
	int which;

	switch (type) {
	case REC_SENDER:
	case REC_FULLNAME:
		return maildrop_field_ok(data, len);
	case REC_RCPT:
		return len > 0 && maildrop_field_ok(data, len);
	case REC_NOTIFY:
		return maildrop_field_ok(data, len)
		    && maildrop_notify_canon(data, len, canon, sizeof(canon)) == 0
		    && strlen(canon) == len && memcmp(canon, data, len) == 0;
	case REC_ATTR:
		if (!maildrop_attr_ok(data, len, &which) || (*attrs_seen & (1 << which)))
			return 0;
		*attrs_seen |= 1 << which;
		return 1;
	case REC_MESSAGE:
	case REC_END:
		return len == 0;
	default:		/* REC_BODY: opaque */
		return 1;
	}
}

/* copy_records - checks the input and writes it to w; 0, or EX_DATAERR
 * (bad input) or EX_TEMPFAIL (write error) with *err. The sender goes to
 * *sender for the log. */
static int copy_records(struct input *in, struct rec_writer *w, char **sender,
			const char **err)
{
	int phase = PH_SENDER, attrs_seen = 0, type, ret;
	static char what[64];
	const char *data;
	size_t len;

	while (phase != PH_END) {
		if ((ret = input_get(in, &type, &data, &len, err)) <= 0) {
			if (ret == 0)
				*err = "input ends before the end record";
			return EX_DATAERR;
		}
		if ((phase = next_phase(phase, type)) < 0
		    || !payload_ok(type, data, len, &attrs_seen)) {
			snprintf(what, sizeof(what), "unexpected or malformed record type %d", type);
			*err = what;
			return EX_DATAERR;
		}
		if (type == REC_SENDER)
			*sender = xstrndup(data, len);
		rec_put(w, type, data, len);
		if (w->error) {		/* stop now: the disk is full */
			*err = strerror(w->error);
			return EX_TEMPFAIL;
		}
	}
	if ((ret = input_get(in, &type, &data, &len, err)) != 0) {
		*err = "data after the end record";
		return EX_DATAERR;
	}
	return 0;
}

/* config_directory - -c or POSTERN_CONFIG_DIR; when set-gid, a
 * non-default directory only for root or when authorised */
static char *config_directory(const char *arg)
{
	char *dir = xstrdup(conf_resolve_dir(arg));
	int privileged = getegid() != getgid() || geteuid() != getuid();

	if (!privileged)
		return dir;
	/* Nothing of the caller's environment reaches our run-time. */
	clearenv();
	if (getuid() != 0 && !conf_dir_authorized(dir, DEF_CONFIG_DIR)) {
		msg_open_log(1);
		msg_fatal_status(EX_NOPERM, "-c %s: not an authorized configuration directory", dir);
	}
	return dir;
}

/* parse_args - "-c DIR" and "-v"; returns the -c value or NULL */
static const char *parse_args(int argc, char **argv)
{
	const char *dir = NULL;
	int c;

	while ((c = getopt(argc, argv, "+c:v")) != -1) {
		if (c == 'c')
			dir = optarg;
		else if (c == 'v')
			msg_verbose++;
		else
			msg_fatal_status(EX_USAGE, "usage: postdrop [-c config_dir] [-v]");
	}
	if (optind != argc)
		msg_fatal_status(EX_USAGE, "usage: postdrop [-c config_dir] [-v]");
	return dir;
}

int main(int argc, char **argv)
{
	struct input in = {0, VSTR_INIT, 0};
	struct rec_writer w;
	struct timeval tv;
	char id[QID_MAX], *dir, *sender = NULL;
	const char *err = NULL;
	sigset_t saved;
	int fd, status;

	/* 1. A sane process: descriptors, signals, umask, configuration. */
	for (fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", fd ? O_WRONLY : O_RDONLY) != fd)
			_exit(EX_OSERR);
	msg_init("postdrop");
	msg_stderr_as("postdrop", MSG_WARN);
	msg_set_fatal_status(EX_TEMPFAIL);
	msg_set_exit_hook(remove_partial);
	setup_signals();
	umask(077);
	dir = config_directory(parse_args(argc, argv));
	if (conf_load(dir, NULL) < 0)
		msg_fatal_status(EX_TEMPFAIL, "read %s/main.cf: %m", dir);
	msg_open_log(1);
	if (chdir(conf_str("queue_directory")) < 0)
		msg_fatal_status(EX_TEMPFAIL, "chdir %s: %m", conf_str("queue_directory"));

	/* 2. Create maildrop/ID (mode 0600: not yet complete). */
	block_signals(SIG_BLOCK, &saved);
	if ((fd = queue_file_create(MAILDROP_DIR, id, &tv)) < 0)
		msg_fatal_status(EX_TEMPFAIL, "create file in %s/%s: %m",
				 conf_str("queue_directory"), MAILDROP_DIR);
	snprintf(cleanup_path, sizeof(cleanup_path), "%s/%s", MAILDROP_DIR, id);
	block_signals(SIG_SETMASK, &saved);

	/* 3. Our own records, then the caller's, checked one by one. */
	rec_writer_init(&w, fd, 0);
	rec_puts(&w, REC_VERSION, MAILDROP_VERSION);
	rec_putf(&w, REC_TIME, "%lld %ld", (long long)tv.tv_sec, (long)tv.tv_usec);
	rec_putf(&w, REC_ATTR, "uid=%ld", (long)getuid());
	rec_putf(&w, REC_ATTR, "gid=%ld", (long)getgid());
	if ((status = copy_records(&in, &w, &sender, &err)) != 0)
		msg_fatal_status(status, "uid=%ld: %s: %s", (long)getuid(),
				 status == EX_DATAERR ? "malformed input" : "write", err);
	if (rec_flush(&w) < 0)
		msg_fatal_status(EX_TEMPFAIL, "write %s: %m", cleanup_path);

	/* 4. Commit: final mode, fsync file, fsync directory. */
	block_signals(SIG_BLOCK, &saved);
	if (queue_file_commit(fd, MAILDROP_DIR, QFILE_MODE_MAILDROP) < 0)
		msg_fatal_status(EX_TEMPFAIL, "commit %s: %m", cleanup_path);
	cleanup_path[0] = 0;
	block_signals(SIG_SETMASK, &saved);
	close(fd);
	msg_info("%s: uid=%ld from=<%s>", id, (long)getuid(), sender);

	/* 5. Wake pickup; if the mail system is down, pickup finds it later. */
	if (ipc_trigger(PICKUP_TRIGGER, 0, "W", 1, 1000) < 0)
		msg_debug("trigger %s: %m", PICKUP_TRIGGER);
	free(sender);
	free(dir);
	rec_writer_free(&w);
	vstr_release(&in.buf);
	return 0;
}
