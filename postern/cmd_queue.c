/* cmd_queue - `postern queue`: list, show, hold, release, delete, requeue,
 * flush (Postfix's mailq, postcat -q, postsuper -h/-H/-d/-r, postqueue -f).
 *
 *   queue list [--json]     the mailq listing (lib/showq_format.h); read
 *                           directly when the queue is readable (root, the
 *                           instance owner), else through showq(8)
 *   queue show ID           envelope and content
 *   queue hold ID...|ALL    incoming/active/deferred -> hold/
 *   queue release ID...|ALL hold/ -> incoming/, wake qmgr
 *   queue requeue ID...|ALL deferred/hold -> incoming/ with the retry time
 *                           cleared (mtime = now), wake qmgr
 *   queue delete ID...|ALL  unlink the queue file and its bounce/defer/trace
 *                           logs; ALL = incoming, active, deferred, hold
 *   queue flush             wake qmgr with "FAD" (every deferred message is due)
 *
 * Every ID is checked with qid_valid before a path is built from it. A
 * message in active/ may be held or deleted while qmgr delivers it: the
 * rename or unlink is atomic, and qmgr treats a queue file that vanished
 * from active/ as gone (docs/QUEUE.md row 12); at worst a delivery that
 * was already under way completes once. Exit status 1 when an ID is
 * invalid or in no queue.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "argv.h"
#include "config.h"
#include "dsnlog.h"
#include "ipc.h"
#include "mem.h"
#include "msg.h"
#include "postern.h"
#include "qfile.h"
#include "qmgr_proto.h"
#include "qread.h"
#include "rec.h"
#include "showq_format.h"
#include "vstr.h"

#define QUEUE_USAGE	"queue list [--json] | show ID | hold|release|requeue|delete ID...|ALL | flush"

static const char *qdir;

/* What each operation takes from where, and where it puts it. */
enum op_kind { OP_HOLD, OP_RELEASE, OP_REQUEUE, OP_DELETE };

static const struct queue_op {
	const char *name;
	enum op_kind kind;
	const char *from[7];		/* queues it acts on, NULL-terminated */
	const char *all[5];		/* queues ALL walks */
	const char *to;			/* NULL: unlink */
	const char *done;		/* "ID: placed on hold" */
	const char *summary;		/* "Placed on hold: N messages" */
} queue_ops[] = {
	{"hold", OP_HOLD, {"incoming", "active", "deferred"}, {"incoming", "active", "deferred"},
	 "hold", "placed on hold", "Placed on hold"},
	{"release", OP_RELEASE, {"hold"}, {"hold"}, "incoming", "released from hold", "Released from hold"},
	{"requeue", OP_REQUEUE, {"deferred", "hold"}, {"deferred", "hold"}, "incoming", "requeued", "Requeued"},
	{"delete", OP_DELETE, {"incoming", "active", "deferred", "hold", "maildrop", "corrupt"},
	 {"incoming", "active", "deferred", "hold"}, NULL, "removed", "Deleted"},
};

/* Every queue a message can be in, for lookups by ID. */
static const char *const every_queue[] = {
	"incoming", "active", "deferred", "hold", "maildrop", "corrupt", NULL
};

/* queue_path - the file of id in queue (id already validated) */
static char *queue_path(const char *queue, const char *id)
{
	if (strcmp(queue, "deferred") == 0)
		return xasprintf("%s/deferred/%c/%s", qdir, qid_hash_char(id), id);
	return xasprintf("%s/%s/%s", qdir, queue, id);
}

/* queue_dir_of - the directory that holds id in queue */
static char *queue_dir_of(const char *queue, const char *id)
{
	if (strcmp(queue, "deferred") == 0)
		return xasprintf("%s/deferred/%c", qdir, qid_hash_char(id));
	return xasprintf("%s/%s", qdir, queue);
}

/* locate - the first queue in list that has a file for id, or NULL */
static const char *locate(const char *const *list, const char *id)
{
	struct stat st;

	for (; *list; list++) {
		char *path = queue_path(*list, id);
		int found = lstat(path, &st) == 0 && S_ISREG(st.st_mode);

		free(path);
		if (found)
			return *list;
	}
	return NULL;
}

static int timeout_ms(void)
{
	long long t = conf_time("trigger_timeout");

	return t > 86400 ? 86400000 : (int)(t * 1000);
}

/* wake_qmgr - sends a trigger; a qmgr that is not running finds the
 * message at its first scan, so this only warns */
static int wake_qmgr(const char *what)
{
	char *path = xasprintf("%s/%s", qdir, QMGR_SERVICE);
	int ret = ipc_trigger(path, 0, what, strlen(what), timeout_ms());

	if (ret < 0)
		msg_warn("cannot wake the queue manager (%s: %m); the mail system is down?", path);
	free(path);
	return ret;
}

/* Touched directories are fsynced once at the end of a batch, so a hold
 * or release survives a crash. */
static struct argv touched;

static void touch_dir(char *dir)
{
	for (size_t i = 0; i < touched.n; i++)
		if (strcmp(touched.v[i], dir) == 0) {
			free(dir);
			return;
		}
	argv_add(&touched, dir);
	free(dir);
}

static void sync_touched(void)
{
	for (size_t i = 0; i < touched.n; i++)
		if (fsync_dir(touched.v[i]) < 0 && errno != ENOENT)
			msg_warn("fsync %s: %m", touched.v[i]);
	argv_free(&touched);
}

/* remove_logs - the bounce, defer and trace logs of id */
static void remove_logs(const char *id)
{
	static const char *const logs[] = {"bounce", "defer", "trace"};

	for (int i = 0; i < 3; i++) {
		char *dir = xasprintf("%s/%s", qdir, logs[i]);

		dsnlog_remove(dir, id);
		free(dir);
	}
}

/* apply - does op to id found in queue. 1 done, 0 failed (reported), -1
 * the file was no longer there (qmgr moved it meanwhile). */
static int apply(const struct queue_op *op, const char *queue, const char *id)
{
	char *from = queue_path(queue, id), *to = op->to ? queue_path(op->to, id) : NULL;
	int ret = 1;

	if (to == NULL ? unlink(from) < 0 : rename(from, to) < 0) {
		ret = errno == ENOENT ? -1 : 0;
		if (ret == 0)
			msg_warn("%s: %s %s: %m", id, to ? "rename" : "remove", from);
	} else {
		if (to == NULL)
			remove_logs(id);
		else
			touch_dir(queue_dir_of(op->to, id));
		if (op->kind == OP_REQUEUE && utimes(to, NULL) < 0)
			msg_warn("%s: clear the retry time of %s: %m", id, to);
		touch_dir(queue_dir_of(queue, id));
		msg_info("%s: %s", id, op->done);
	}
	free(from);
	free(to);
	return ret;
}

/* apply_id - one ID from the command line; 0, or 1 when it is invalid,
 * unknown, or could not be moved */
static int apply_id(const struct queue_op *op, const char *id, int *count)
{
	const char *queue;
	int r = -1;

	if (!qid_valid(id)) {
		msg_warn("%s: invalid queue ID", id);
		return 1;
	}
	/* A message may move (incoming -> active -> deferred) while we look:
	 * look again a few times before saying it is not there. */
	for (int tries = 0; r < 0 && tries < 5 && (queue = locate(op->from, id)) != NULL; tries++)
		if ((r = apply(op, queue, id)) > 0)
			(*count)++;
	if (r >= 0)
		return r == 0;		/* failed: reported by apply */
	if ((queue = locate(every_queue, id)) != NULL) {
		/* Known, but not where this operation acts: nothing to do. */
		if (op->kind == OP_HOLD && strcmp(queue, "hold") == 0)
			msg_info("%s: already on hold", id);
		else if (op->kind == OP_RELEASE)
			msg_info("%s: not on hold (%s queue)", id, queue);
		else if (op->kind == OP_REQUEUE && strcmp(queue, "active") == 0)
			msg_info("%s: being delivered (active queue), not requeued", id);
		else if (!(op->kind == OP_REQUEUE && strcmp(queue, "incoming") == 0))
			msg_info("%s: in the %s queue, left alone", id, queue);
		return 0;
	}
	msg_warn("%s: no such message in the queue", id);
	return 1;
}

/* apply_dir - op to every message file in dir, a queue directory or a
 * hashed subdirectory. Files in a wrong hash directory are left alone:
 * locate() would not find them by ID either. */
static void apply_dir(const struct queue_op *op, const char *queue, const char *dir, int *count)
{
	const char *const here[] = {queue, NULL};
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL) {
		if (errno != ENOENT)
			msg_warn("open %s: %m", dir);
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (qid_valid(e->d_name) && locate(here, e->d_name) && apply(op, queue, e->d_name) > 0)
			(*count)++;
	closedir(d);
}

/* apply_all - op to every message of queue */
static void apply_all(const struct queue_op *op, const char *queue, int *count)
{
	char *dir = xasprintf("%s/%s", qdir, queue);
	struct dirent *e;
	DIR *d;

	if (strcmp(queue, "deferred") != 0) {
		apply_dir(op, queue, dir, count);
	} else if ((d = opendir(dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] != '.' && e->d_name[1] == 0) {
				char *sub = xasprintf("%s/%s", dir, e->d_name);

				apply_dir(op, queue, sub, count);
				free(sub);
			}
		}
		closedir(d);
	} else if (errno != ENOENT) {
		msg_warn("open %s: %m", dir);
	}
	free(dir);
}

static int run_op(const struct queue_op *op, int argc, char **argv)
{
	int count = 0, errors = 0;

	if (argc < 1)
		msg_fatal("usage: postern [-c DIR] queue %s ID...|ALL", op->name);
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "ALL") == 0) {
			for (int q = 0; op->all[q]; q++)
				apply_all(op, op->all[q], &count);
		} else {
			errors += apply_id(op, argv[i], &count);
		}
	}
	sync_touched();
	msg_info("%s: %d message%s", op->summary, count, count == 1 ? "" : "s");
	if (count > 0 && (op->kind == OP_RELEASE || op->kind == OP_REQUEUE))
		wake_qmgr((char[]){QMGR_TRIGGER_INCOMING, 0});
	return errors ? 1 : 0;
}

/* list. */

struct printer {
	int json;
	struct showq_text text;
	vstr out;
};

static void print_msg(struct printer *p, const struct showq_msg *m)
{
	vstr_reset(&p->out);
	if (p->json)
		showq_json_message(m, &p->out);
	else
		showq_text_message(&p->text, m, &p->out);
	fwrite(vstr_str(&p->out), 1, vstr_len(&p->out), stdout);
}

static int print_cb(const struct showq_msg *m, void *ctx)
{
	print_msg(ctx, m);
	return 0;
}

/* list_via_showq - for an admin who may not read the queue directly */
static int list_via_showq(struct printer *p)
{
	struct showq_msg m;
	const char *why;
	char *err;
	int fd, r;

	if ((fd = showq_connect(qdir, "list", NULL, NULL, 1000 * (int)conf_time("trigger_timeout"), &err)) < 0) {
		msg_warn("cannot read %s/incoming and showq is not reachable: %s", qdir, err);
		free(err);
		return -1;
	}
	showq_msg_init(&m);
	while ((r = showq_recv_msg(fd, &m, 1000 * (int)conf_time("trigger_timeout"), &why)) == 1)
		print_msg(p, &m);
	showq_msg_clear(&m);
	close(fd);
	if (r < 0) {
		msg_warn("malformed showq server response: %s", why);
		return -1;
	}
	return 0;
}

static int queue_list(int argc, char **argv)
{
	struct printer p = {.out = VSTR_INIT};
	char *incoming = xasprintf("%s/incoming", qdir);
	int ret = 0;

	if (argc > 1 || (argc == 1 && strcmp(argv[0], "--json") != 0))
		msg_fatal("usage: postern [-c DIR] queue list [--json]");
	p.json = argc == 1;
	showq_text_begin(&p.text);
	if (faccessat(AT_FDCWD, incoming, R_OK | X_OK, AT_EACCESS) == 0)
		showq_scan(qdir, print_cb, &p);
	else
		ret = list_via_showq(&p);
	free(incoming);
	if (ret == 0 && !p.json) {
		vstr_reset(&p.out);
		showq_text_end(&p.text, &p.out);
		fwrite(vstr_str(&p.out), 1, vstr_len(&p.out), stdout);
	}
	vstr_release(&p.out);
	if (fflush(stdout) == EOF)
		msg_fatal("write standard output: %m");
	return ret < 0 ? 1 : 0;
}

/* show. */

static void print_field(const char *name, const char *value)
{
	vstr v = VSTR_INIT;

	showq_printable(&v, value);
	printf("%s: %s\n", name, vstr_str(&v));
	vstr_release(&v);
}

static void print_time(long long sec, long usec)
{
	time_t t = (time_t)sec;
	struct tm tm;
	char buf[64];

	if (localtime_r(&t, &tm) == NULL || strftime(buf, sizeof(buf), "%a %b %e %H:%M:%S %Y", &tm) == 0)
		buf[0] = 0;
	printf("arrival_time: %s (%lld.%06ld)\n", buf, sec, usec);
}

/* print_content - the B records from offset on, verbatim; -1 if corrupt */
static int print_content(int fd, off_t offset)
{
	struct qenvelope env = {.content_offset = offset};
	struct qcontent c;
	const char *buf;
	ssize_t n;

	qcontent_open(&c, fd, &env);
	while ((n = qcontent_next(&c, &buf)) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	qcontent_close(&c);
	return n < 0 ? -1 : 0;
}

static void print_recipients(const char *id, const struct qenvelope *env)
{
	char *dir = xasprintf("%s/defer", qdir);

	for (size_t i = 0; i < env->nrcpt; i++) {
		const struct qrcpt *r = &env->rcpt[i];
		vstr v = VSTR_INIT;

		showq_printable(&v, r->address);
		printf("recipient: %s (%s)\n", vstr_str(&v), r->done ? "done" : "pending");
		vstr_release(&v);
		if (*r->orig)
			print_field("  orig_address", r->orig);
		if (*r->notify)
			print_field("  notify", r->notify);
		if (!r->done) {
			char *why = dsnlog_last_reason(dir, id, r->address);

			if (why)
				print_field("  delay_reason", why);
			free(why);
		}
	}
	free(dir);
}

/* show_queue_file - a queue file's envelope and content */
static int show_queue_file(int fd, const char *where, const char *id)
{
	struct qenvelope env;
	const char *err;

	if (qread_envelope(fd, &env, 0, &err) < 0) {
		msg_warn("%s: %s", where, err);
		return 1;
	}
	printf("*** ENVELOPE %s ***\n", where);
	print_time(env.arrival, env.arrival_usec);
	printf("message_size: %lld\n", env.content_size);
	print_field("sender", *env.sender ? env.sender : "<>");
	for (size_t i = 0; i < env.attrs.n; i++)
		print_field("attribute", env.attrs.v[i]);
	print_recipients(id, &env);
	printf("*** CONTENT %s ***\n", where);
	fflush(stdout);
	if (print_content(fd, env.content_offset) < 0) {
		qenvelope_free(&env);
		fflush(stdout);
		msg_warn("%s: corrupt content", where);
		return 1;
	}
	printf("*** END %s ***\n", where);
	qenvelope_free(&env);
	return 0;
}

/* show_maildrop_file - what postdrop wrote: the records up to M by name */
static int show_maildrop_file(int fd, const char *where)
{
	static const struct { int type; const char *name; } names[] = {
		{REC_TIME, "arrival_time"}, {REC_ATTR, "attribute"}, {REC_SENDER, "sender"},
		{REC_FULLNAME, "full_name"}, {REC_NOTIFY, "notify"}, {REC_RCPT, "recipient"},
	};
	struct rec_reader r;
	vstr p = VSTR_INIT;
	const char *err = "no content";
	off_t at;
	int type, ret;

	printf("*** ENVELOPE %s ***\n", where);
	rec_reader_init(&r, fd, 0);
	while ((ret = rec_get(&r, &type, &p, QREAD_MAX_FIELD, &at, &err)) == REC_OK && type != REC_MESSAGE)
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (names[i].type == type)
				print_field(names[i].name, vstr_str(&p));
	vstr_release(&p);
	if (ret != REC_OK) {
		fflush(stdout);
		msg_warn("%s: %s", where, err);
		return 1;
	}
	printf("*** CONTENT %s ***\n", where);
	fflush(stdout);
	if (print_content(fd, at) < 0) {
		fflush(stdout);
		msg_warn("%s: corrupt content", where);
		return 1;
	}
	printf("*** END %s ***\n", where);
	return 0;
}

static int queue_show(int argc, char **argv)
{
	const char *id = argv[0], *queue;
	char *path, *where;
	struct stat st;
	int fd, ret;

	if (argc != 1)
		msg_fatal("usage: postern [-c DIR] queue show ID");
	if (!qid_valid(id)) {
		msg_warn("%s: invalid queue ID", id);
		return 1;
	}
	if ((queue = locate(every_queue, id)) == NULL) {
		msg_warn("%s: no such message in the queue", id);
		return 1;
	}
	path = queue_path(queue, id);
	where = xasprintf("%s/%s", queue, id);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		msg_warn("open %s: %m", path);
		ret = 1;
	} else if (!S_ISREG(st.st_mode) || (st.st_mode & 07777) == QFILE_MODE_WRITING) {
		msg_warn("%s: the file is still being written", where);
		ret = 1;
	} else if (strcmp(queue, "maildrop") == 0) {
		ret = show_maildrop_file(fd, where);
	} else {
		ret = show_queue_file(fd, where, id);
	}
	if (fd >= 0)
		close(fd);
	if (fflush(stdout) == EOF)
		msg_fatal("write standard output: %m");
	free(path);
	free(where);
	return ret;
}

static int queue_flush(int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		msg_fatal("usage: postern [-c DIR] queue flush");
	return wake_qmgr(QMGR_FLUSH) < 0 ? 1 : 0;
}

int cmd_queue(int argc, char **argv)
{
	if (argc < 2)
		msg_fatal("usage: postern [-c DIR] " QUEUE_USAGE);
	admin_load_config(0);
	/* Postfix's postsuper style on stderr: "postern: ID: placed on hold". */
	msg_stderr_as("postern", MSG_INFO);
	qdir = conf_str("queue_directory");
	if (strcmp(argv[1], "list") == 0)
		return queue_list(argc - 2, argv + 2);
	if (strcmp(argv[1], "show") == 0)
		return queue_show(argc - 2, argv + 2);
	if (strcmp(argv[1], "flush") == 0)
		return queue_flush(argc - 2, argv + 2);
	for (size_t i = 0; i < sizeof(queue_ops) / sizeof(queue_ops[0]); i++)
		if (strcmp(argv[1], queue_ops[i].name) == 0)
			return run_op(&queue_ops[i], argc - 2, argv + 2);
	msg_fatal("unknown queue command \"%s\"; usage: postern [-c DIR] " QUEUE_USAGE, argv[1]);
}
