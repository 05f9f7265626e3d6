/* test_mailbox - unit tests for lib/mailbox.c, maildir.c and mbox.c:
 * Maildir delivery (exact content in new/, nothing in tmp/, unique
 * names, host name escaping, symlinked or foreign maildirs refused),
 * mbox delivery (From_ line, ">From " quoting at every split point of the
 * content, final empty line, appending), the mailbox attacks (symlink,
 * hard link, foreign owner, FIFO), locking (dotlock, stale dotlock, fcntl
 * held by another process), failures that must leave nothing behind (a
 * source read error, the size limit, a full file system on a 16 KB
 * tmpfs), and the errno-to-DSN mapping.
 *
 * Tests that need root (chown to another uid, mounting a tmpfs, setting
 * the host name in a UTS namespace of our own) are skipped otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mailbox.h"
#include "mem.h"
#include "vstr.h"
#include "testutil.h"

#define PREFIX		"Return-Path: <alice@example.com>\nDelivered-To: bob@example.com\n"
#define ARRIVAL		((time_t)1700000000)

static char *topdir;		/* this run's scratch directory */

/* ---- message sources -------------------------------------------------- */

/* A source made of fixed chunks; fail_at >= 0 makes that read fail. */
struct chunks {
	const char *const *part;
	size_t n, next;
	long fail_at;
	size_t lens[64];	/* lens[i] when part[i] holds NULs; 0 = strlen */
};

static ssize_t chunks_read(void *ctx, const char **buf)
{
	struct chunks *c = ctx;
	size_t i;

	if (c->fail_at >= 0 && (long)c->next == c->fail_at) {
		errno = EIO;
		return -1;
	}
	if (c->next >= c->n)
		return 0;
	i = c->next++;
	*buf = c->part[i];
	return (ssize_t)(c->lens[i] ? c->lens[i] : strlen(c->part[i]));
}

static struct mailbox_src chunks_src(struct chunks *c, const char *const *part, size_t n)
{
	struct mailbox_src src = { chunks_read, c };

	memset(c, 0, sizeof(*c));
	c->part = part;
	c->n = n;
	c->fail_at = -1;
	return src;
}

/* A source of size bytes of 64-byte lines, in 4 KB reads. */
struct big {
	size_t left;
	char block[4096];
};

static ssize_t big_read(void *ctx, const char **buf)
{
	struct big *b = ctx;
	size_t n = b->left < sizeof(b->block) ? b->left : sizeof(b->block);

	b->left -= n;
	*buf = b->block;
	return (ssize_t)n;
}

static struct mailbox_src big_src(struct big *b, size_t size)
{
	struct mailbox_src src = { big_read, b };

	b->left = size;
	for (size_t i = 0; i < sizeof(b->block); i++)
		b->block[i] = (char)(i % 64 == 63 ? '\n' : 'a' + i % 26);
	return src;
}

/* ---- file helpers ----------------------------------------------------- */

static char *path_of(const char *name)
{
	return xasprintf("%s/%s", topdir, name);
}

/* read_all - the contents of path (NUL-terminated), or NULL */
static char *read_all(const char *path, size_t *len)
{
	vstr v = VSTR_INIT;
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		vstr_ncat(&v, buf, (size_t)n);
	close(fd);
	if (len)
		*len = vstr_len(&v);
	if (v.buf == NULL)
		return xstrdup("");
	return vstr_steal(&v);
}

static void write_all(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static off_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* dir_count - entries in dir/sub other than . and .. (-1 if no dir);
 * with name, the last one's name is copied there */
static int dir_count(const char *dir, const char *sub, char *name, size_t size)
{
	char *p = xasprintf("%s/%s", dir, sub);
	DIR *d = opendir(p);
	struct dirent *e;
	int n = 0;

	free(p);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		n++;
		if (name)
			snprintf(name, size, "%s", e->d_name);
	}
	closedir(d);
	return n;
}

/* maildir_message - the contents of the one message in dir/new */
static char *maildir_message(const char *dir)
{
	char name[512], *p, *text;

	assert_int_equal(dir_count(dir, "new", name, sizeof(name)), 1);
	p = xasprintf("%s/new/%s", dir, name);
	text = read_all(p, NULL);
	free(p);
	return text;
}

static void assert_result(const struct mailbox_result *res, int status, const char *dsn,
			  const char *text_part)
{
	if (res->status != status || strcmp(res->dsn, dsn) != 0
	    || (text_part && strstr(res->text, text_part) == NULL))
		fail_msg("got %d %s \"%s\"; want %d %s \"%s\"", res->status, res->dsn, res->text,
			 status, dsn, text_part ? text_part : "");
}

static int setup(void **state)
{
	(void)state;
	topdir = tu_scratch_dir("test_mailbox");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_remove_tree(topdir);
	free(topdir);
	return 0;
}

/* ---- Maildir ---------------------------------------------------------- */

static void test_maildir_delivers(void **state)
{
	static const char *const body[] = { "Subject: hi\n\n", "From the body\n", "last line\n" };
	struct mailbox_result res;
	struct chunks c;
	struct mailbox_src src = chunks_src(&c, body, 3);
	char *dir = path_of("Maildir"), *slash = xasprintf("%s/", dir), *text, name[512], want[64];
	struct stat st;

	(void)state;
	assert_int_equal(maildir_deliver(slash, PREFIX, &src, &res), 0);
	assert_result(&res, 0, "2.0.0", NULL);
	text = maildir_message(dir);
	assert_string_equal(text, PREFIX "Subject: hi\n\nFrom the body\nlast line\n");
	free(text);
	assert_int_equal(dir_count(dir, "tmp", NULL, 0), 0);
	assert_int_equal(dir_count(dir, "cur", NULL, 0), 0);
	for (size_t i = 0; i < 3; i++) {
		char *p = xasprintf("%s/%s", dir, (const char *[]){ "tmp", "new", "cur" }[i]);

		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0700);
		free(p);
	}
	/* the name: TIME.M<usec>P<pid>R<hex>.HOST, the file 0600 */
	assert_int_equal(dir_count(dir, "new", name, sizeof(name)), 1);
	snprintf(want, sizeof(want), "P%ldR", (long)getpid());
	assert_non_null(strstr(name, ".M"));
	assert_non_null(strstr(name, want));
	text = xasprintf("%s/new/%s", dir, name);
	assert_int_equal(stat(text, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	free(text);
	/* a second delivery, path without the slash, gets its own name */
	src = chunks_src(&c, body, 1);
	assert_int_equal(maildir_deliver(dir, "", &src, &res), 0);
	assert_int_equal(dir_count(dir, "new", NULL, 0), 2);
	free(dir);
	free(slash);
}

static void test_maildir_creates_parents(void **state)
{
	static const char *const body[] = { "x\n" };
	struct mailbox_result res;
	struct chunks c;
	struct mailbox_src src = chunks_src(&c, body, 1);
	char *dir = path_of("home/user/Mail/box/"), *text;

	(void)state;
	assert_int_equal(maildir_deliver(dir, PREFIX, &src, &res), 0);
	text = maildir_message(dir);
	assert_string_equal(text, PREFIX "x\n");
	free(text);
	free(dir);
}

static void test_maildir_symlinks_refused(void **state)
{
	static const char *const body[] = { "x\n" };
	struct mailbox_result res;
	struct chunks c;
	struct mailbox_src src = chunks_src(&c, body, 1);
	char *real = path_of("realdir"), *sym = path_of("linkdir"), *other = path_of("elsewhere");
	char *tmp;

	(void)state;
	/* the maildir itself a symlink to a good maildir */
	assert_int_equal(maildir_deliver(real, "", &src, &res), 0);
	assert_int_equal(symlink(real, sym), 0);
	src = chunks_src(&c, body, 1);
	assert_int_equal(maildir_deliver(sym, "", &src, &res), 4);
	assert_result(&res, 4, "4.2.0", "is a symlink");
	assert_int_equal(dir_count(real, "new", NULL, 0), 1);
	/* tmp/ a symlink to a directory of the attacker's choice */
	assert_int_equal(mkdir(other, 0700), 0);
	tmp = xasprintf("%s/tmp", real);
	assert_int_equal(rmdir(tmp), 0);
	assert_int_equal(symlink(other, tmp), 0);
	src = chunks_src(&c, body, 1);
	assert_int_equal(maildir_deliver(real, "", &src, &res), 4);
	assert_result(&res, 4, "4.2.0", "tmp is a symlink");
	assert_int_equal(dir_count(other, ".", NULL, 0), 0);
	assert_int_equal(dir_count(real, "new", NULL, 0), 1);
	free(tmp);
	free(real);
	free(sym);
	free(other);
}

static void test_maildir_foreign_owner(void **state)
{
	static const char *const body[] = { "x\n" };
	struct mailbox_result res;
	struct chunks c;
	struct mailbox_src src = chunks_src(&c, body, 1);
	char *dir;

	(void)state;
	if (geteuid() != 0)
		skip();
	dir = path_of("foreign");
	assert_int_equal(maildir_deliver(dir, "", &src, &res), 0);
	assert_int_equal(chown(dir, 12345, 12345), 0);
	src = chunks_src(&c, body, 1);
	assert_int_equal(maildir_deliver(dir, "", &src, &res), 4);
	assert_result(&res, 4, "4.2.0", "not owned by uid 0");
	assert_int_equal(dir_count(dir, "new", NULL, 0), 1);
	assert_int_equal(dir_count(dir, "tmp", NULL, 0), 0);
	free(dir);
}

static char *big_text(void);

static void test_maildir_read_error(void **state)
{
	char *big = big_text();
	const char *const body[] = { "Subject: x\n\n", big, "half of it\n", "never\n" };
	struct mailbox_result res;
	struct chunks c;
	struct mailbox_src src = chunks_src(&c, body, 4);
	char *dir = path_of("readerr");

	(void)state;
	c.fail_at = 3;
	assert_int_equal(maildir_deliver(dir, PREFIX, &src, &res), 4);
	assert_result(&res, 4, "4.3.0", "cannot read message content");
	assert_int_equal(dir_count(dir, "new", NULL, 0), 0);
	assert_int_equal(dir_count(dir, "tmp", NULL, 0), 0);
	free(big);
	free(dir);
}

static void test_maildir_size_limit(void **state)
{
	struct mailbox_opts opts = MAILBOX_OPTS_DEFAULT;
	struct mailbox_result res;
	struct big b;
	struct mailbox_src src = big_src(&b, 10000);
	char *dir = path_of("limited");

	(void)state;
	opts.size_limit = 5000;
	assert_int_equal(maildir_deliver_opts(dir, PREFIX, &src, &res, &opts), 5);
	assert_result(&res, 5, "5.2.2", "File too large");
	assert_int_equal(dir_count(dir, "new", NULL, 0), 0);
	assert_int_equal(dir_count(dir, "tmp", NULL, 0), 0);
	/* exactly at the limit is fine */
	src = big_src(&b, 5000 - strlen(PREFIX));
	assert_int_equal(maildir_deliver_opts(dir, PREFIX, &src, &res, &opts), 0);
	free(dir);
}

/* The host name in a Maildir file name has '/' and ':' escaped. Needs a
 * UTS namespace of our own, so only as root. */
static void test_maildir_host_escaped(void **state)
{
	static const char *const body[] = { "x\n" };
	static const char host[] = "mx/1:a.example";
	struct mailbox_result res;
	struct chunks c;
	struct mailbox_src src = chunks_src(&c, body, 1);
	char *dir, name[512];

	(void)state;
	if (geteuid() != 0 || unshare(CLONE_NEWUTS) < 0)
		skip();
	dir = path_of("hostname");
	assert_int_equal(sethostname(host, strlen(host)), 0);
	assert_int_equal(maildir_deliver(dir, "", &src, &res), 0);
	assert_int_equal(dir_count(dir, "new", name, sizeof(name)), 1);
	assert_non_null(strstr(name, ".mx\\0571\\072a.example"));
	assert_null(strchr(name, ':'));
	free(dir);
}

/* ---- mbox ------------------------------------------------------------- */

/* from_line - what mbox_deliver writes first for sender */
static char *from_line(const char *sender)
{
	time_t t = ARRIVAL;
	char date[64];

	assert_non_null(ctime_r(&t, date));
	return xasprintf("From %s %s", sender, date);
}

static int deliver_chunks(const char *path, const char *sender, const char *const *parts,
			  size_t n, struct mailbox_result *res)
{
	struct chunks c;
	struct mailbox_src src = chunks_src(&c, parts, n);

	return mbox_deliver(path, sender, ARRIVAL, PREFIX, &src, res);
}

static void test_mbox_delivers_and_appends(void **state)
{
	static const char *const one[] = { "Subject: one\n\nbody\n" };
	static const char *const two[] = { "Subject: two\n\nno newline at the end" };
	struct mailbox_result res;
	char *path = path_of("mbox"), *text, *f1 = from_line("alice@example.com");
	char *f2 = from_line("MAILER-DAEMON"), *want;
	struct stat st;

	(void)state;
	assert_int_equal(deliver_chunks(path, "alice@example.com", one, 1, &res), 0);
	assert_result(&res, 0, "2.0.0", NULL);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(deliver_chunks(path, "", two, 1, &res), 0);
	text = read_all(path, NULL);
	want = xasprintf("%s" PREFIX "Subject: one\n\nbody\n\n%s" PREFIX
			 "Subject: two\n\nno newline at the end\n\n", f1, f2);
	assert_string_equal(text, want);
	free(text);
	free(want);
	free(f1);
	free(f2);
	/* no dotlock left behind */
	want = xasprintf("%s.lock", path);
	assert_int_equal(access(want, F_OK), -1);
	free(want);
	free(path);
}

/* quoted - what the quoting should make of body */
static char *quoted(const char *body)
{
	vstr v = VSTR_INIT;
	int bol = 1;

	for (const char *p = body; *p; p++) {
		if (bol && strncmp(p, "From ", 5) == 0)
			vstr_catc(&v, '>');
		vstr_catc(&v, *p);
		bol = *p == '\n';
	}
	return v.buf ? vstr_steal(&v) : xstrdup("");
}

/* mbox_body - delivers body in the given chunks into a fresh mbox and
 * returns what follows the From_ line and prefix */
static char *mbox_body(const char *const *parts, const size_t *lens, size_t n)
{
	struct mailbox_result res;
	struct chunks c;
	struct mailbox_src src = chunks_src(&c, parts, n);
	char *path = path_of("split"), *text, *body;
	size_t skip;

	memcpy(c.lens, lens, n * sizeof(*lens));
	unlink(path);
	assert_int_equal(mbox_deliver(path, "a@b", ARRIVAL, PREFIX, &src, &res), 0);
	text = read_all(path, NULL);
	skip = strcspn(text, "\n") + 1 + strlen(PREFIX);
	body = xstrdup(text + skip);
	free(text);
	free(path);
	return body;
}

static void test_mbox_from_quoting_every_split(void **state)
{
	static const char body[] = "From x\nSubject: From here\n\nFrom me\n>From quoted\n"
	    "Fromage\nFrom\nFrom \nfrom lower\n From indented\nFrom";
	char *want = quoted(body), *got, *tail;
	size_t len = strlen(body);

	(void)state;
	tail = xasprintf("%s\n\n", want);
	/* one chunk, then every split into two, then one byte at a time */
	got = mbox_body((const char *const[]){ body }, (const size_t[]){ 0 }, 1);
	assert_string_equal(got, tail);
	free(got);
	for (size_t cut = 1; cut < len; cut++) {
		const char *parts[2] = { body, body + cut };
		size_t lens[2] = { cut, len - cut };

		got = mbox_body(parts, lens, 2);
		if (strcmp(got, tail) != 0)
			fail_msg("split at %zu: got \"%s\"", cut, got);
		free(got);
	}
	{
		const char *parts[64];
		size_t lens[64], n = len < 64 ? len : 64;

		/* the first 63 bytes one at a time, then the rest */
		for (size_t i = 0; i < n; i++) {
			parts[i] = body + i;
			lens[i] = i + 1 < n ? 1 : len - i;
		}
		got = mbox_body(parts, lens, n);
		assert_string_equal(got, tail);
		free(got);
	}
	free(want);
	free(tail);
}

static void test_mbox_empty_and_partial_from(void **state)
{
	char *got;

	(void)state;
	/* no content at all: the prefix ends in a newline, so one empty line */
	got = mbox_body((const char *const[]){ "" }, (const size_t[]){ 0 }, 0);
	assert_string_equal(got, "\n");
	free(got);
	/* content that stops in the middle of "From " is written as it is */
	got = mbox_body((const char *const[]){ "x\n", "Fro" }, (const size_t[]){ 0, 0 }, 2);
	assert_string_equal(got, "x\nFro\n\n");
	free(got);
}

static void test_mbox_symlink_refused(void **state)
{
	static const char *const body[] = { "evil\n" };
	struct mailbox_result res;
	char *target = path_of("passwd"), *sym = path_of("symbox"), *text;
	char *dangling = path_of("dangling"), *nowhere = path_of("created-by-attack");

	(void)state;
	write_all(target, "root:x:0:0\n");
	assert_int_equal(symlink(target, sym), 0);
	assert_int_equal(deliver_chunks(sym, "a@b", body, 1, &res), 4);
	assert_result(&res, 4, "4.2.0", "is a symlink");
	text = read_all(target, NULL);
	assert_string_equal(text, "root:x:0:0\n");
	free(text);
	/* a dangling symlink must not create its target */
	assert_int_equal(symlink(nowhere, dangling), 0);
	assert_int_equal(deliver_chunks(dangling, "a@b", body, 1, &res), 4);
	assert_result(&res, 4, "4.2.0", "is a symlink");
	assert_int_equal(access(nowhere, F_OK), -1);
	free(target);
	free(sym);
	free(dangling);
	free(nowhere);
}

static void test_mbox_hardlink_refused(void **state)
{
	static const char *const body[] = { "evil\n" };
	struct mailbox_result res;
	char *target = path_of("shadow"), *hard = path_of("hardbox"), *text;

	(void)state;
	write_all(target, "secret\n");
	assert_int_equal(link(target, hard), 0);
	assert_int_equal(deliver_chunks(hard, "a@b", body, 1, &res), 4);
	assert_result(&res, 4, "4.2.0", "has 2 hard links");
	text = read_all(target, NULL);
	assert_string_equal(text, "secret\n");
	free(text);
	free(target);
	free(hard);
}

static void test_mbox_foreign_owner_refused(void **state)
{
	static const char *const body[] = { "x\n" };
	struct mailbox_result res;
	char *path, *text;

	(void)state;
	if (geteuid() != 0)
		skip();
	path = path_of("otherbox");
	write_all(path, "theirs\n");
	assert_int_equal(chown(path, 12345, 12345), 0);
	assert_int_equal(deliver_chunks(path, "a@b", body, 1, &res), 4);
	assert_result(&res, 4, "4.2.0", "is owned by uid 12345, not by uid 0");
	text = read_all(path, NULL);
	assert_string_equal(text, "theirs\n");
	free(text);
	free(path);
}

static void test_mbox_not_regular_refused(void **state)
{
	static const char *const body[] = { "x\n" };
	struct mailbox_result res;
	char *fifo = path_of("fifo"), *dir = path_of("adir");

	(void)state;
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(deliver_chunks(fifo, "a@b", body, 1, &res), 4);
	assert_result(&res, 4, "4.2.0", "not a regular file");
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(deliver_chunks(dir, "a@b", body, 1, &res), 4);
	assert_result(&res, 4, "4.2.0", "not a regular file");
	free(fifo);
	free(dir);
}

/* big_text - more than the writer's buffer, so part of it reaches the file */
static char *big_text(void)
{
	size_t len = 3 * MAILBOX_BUFSIZE;
	char *text = xmalloc(len + 1);

	for (size_t i = 0; i < len; i++)
		text[i] = (char)(i % 64 == 63 ? '\n' : 'x');
	text[len] = 0;
	return text;
}

static void test_mbox_read_error_truncates(void **state)
{
	static const char *const first[] = { "Subject: first\n\nok\n" };
	char *big = big_text();
	const char *const body[] = { "Subject: x\n\n", big, "From half\n", "never\n" };
	struct mailbox_result res;
	struct chunks c;
	struct mailbox_src src = chunks_src(&c, body, 4);
	char *path = path_of("truncbox"), *before, *after, *lock = xasprintf("%s.lock", path);

	(void)state;
	assert_int_equal(deliver_chunks(path, "a@b", first, 1, &res), 0);
	before = read_all(path, NULL);
	c.fail_at = 3;
	assert_int_equal(mbox_deliver(path, "a@b", ARRIVAL, PREFIX, &src, &res), 4);
	assert_result(&res, 4, "4.3.0", "cannot read message content");
	after = read_all(path, NULL);
	assert_string_equal(after, before);
	assert_int_equal(access(lock, F_OK), -1);
	free(big);
	free(before);
	free(after);
	free(lock);
	free(path);
}

static void test_mbox_size_limit(void **state)
{
	struct mailbox_opts opts = MAILBOX_OPTS_DEFAULT;
	struct mailbox_result res;
	struct big b;
	struct mailbox_src src = big_src(&b, 1000);
	char *path = path_of("limitbox");
	off_t size;

	(void)state;
	opts.size_limit = 3000;
	assert_int_equal(mbox_deliver_opts(path, "a@b", ARRIVAL, "", &src, &res, &opts), 0);
	size = file_size(path);
	src = big_src(&b, 5000);
	assert_int_equal(mbox_deliver_opts(path, "a@b", ARRIVAL, "", &src, &res, &opts), 5);
	assert_result(&res, 5, "5.2.2", "File too large");
	assert_int_equal(file_size(path), size);
	free(path);
}

static void test_mbox_dotlock(void **state)
{
	static const char *const body[] = { "x\n" };
	struct mailbox_opts opts = MAILBOX_OPTS_DEFAULT;
	struct mailbox_result res;
	struct chunks c;
	struct mailbox_src src = chunks_src(&c, body, 1);
	char *path = path_of("lockedbox"), *lock = xasprintf("%s.lock", path);
	struct timespec old[2];

	(void)state;
	opts.lock_attempts = 2;
	opts.lock_delay = 0;
	write_all(lock, "");
	assert_int_equal(mbox_deliver_opts(path, "a@b", ARRIVAL, "", &src, &res, &opts), 4);
	assert_result(&res, 4, "4.2.0", "lock file");
	assert_int_equal(access(lock, F_OK), 0);	/* someone else's: kept */
	assert_int_equal(access(path, F_OK), -1);	/* and nothing written */
	/* older than stale_lock_time: removed, and delivery goes ahead */
	old[0].tv_sec = old[1].tv_sec = time(NULL) - 501;
	old[0].tv_nsec = old[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, lock, old, 0), 0);
	src = chunks_src(&c, body, 1);
	assert_int_equal(mbox_deliver_opts(path, "a@b", ARRIVAL, "", &src, &res, &opts), 0);
	assert_int_equal(access(lock, F_OK), -1);
	free(lock);
	free(path);
}

/* test_mbox_fcntl_lock - a child holds an fcntl lock on the mailbox */
static void test_mbox_fcntl_lock(void **state)
{
	static const char *const body[] = { "x\n" };
	struct mailbox_opts opts = MAILBOX_OPTS_DEFAULT;
	struct mailbox_result res;
	struct chunks c;
	struct mailbox_src src = chunks_src(&c, body, 1);
	char *path = path_of("fcntlbox"), *lock = xasprintf("%s.lock", path), ready;
	int pipefd[2], status;
	pid_t pid;

	(void)state;
	write_all(path, "");
	assert_int_equal(pipe(pipefd), 0);
	if ((pid = fork()) == 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int fd = open(path, O_RDWR);

		if (fd < 0 || fcntl(fd, F_SETLK, &fl) < 0 || write(pipefd[1], "k", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(read(pipefd[0], &ready, 1), 1);
	opts.lock_attempts = 2;
	opts.lock_delay = 0;
	assert_int_equal(mbox_deliver_opts(path, "a@b", ARRIVAL, "", &src, &res, &opts), 4);
	assert_result(&res, 4, "4.2.0", "locked by another process");
	assert_int_equal(file_size(path), 0);
	assert_int_equal(access(lock, F_OK), -1);	/* our dotlock is gone again */
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	src = chunks_src(&c, body, 1);
	assert_int_equal(mbox_deliver_opts(path, "a@b", ARRIVAL, "", &src, &res, &opts), 0);
	close(pipefd[0]);
	close(pipefd[1]);
	free(lock);
	free(path);
}

/* ---- a full file system ---------------------------------------------- */

/* full_fs - a 16 KB tmpfs at topdir/full in a mount namespace of our own
 * (it goes away with the process); NULL when that cannot be done */
static char *full_fs(void)
{
	char *dir;

	if (geteuid() != 0)
		return NULL;
	dir = path_of("full");
	if (mkdir(dir, 0700) < 0 || unshare(CLONE_NEWNS) < 0
	    || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0
	    || mount("tmpfs", dir, "tmpfs", 0, "size=16k") < 0) {
		free(dir);
		return NULL;
	}
	return dir;
}

static void test_full_file_system(void **state)
{
	struct mailbox_result res;
	struct big b;
	struct mailbox_src src = big_src(&b, 64 * 1024);
	char *dir = full_fs(), *maildir, *mbox, *text;

	(void)state;
	if (dir == NULL)
		skip();
	maildir = xasprintf("%s/Maildir/", dir);
	assert_int_equal(maildir_deliver(maildir, PREFIX, &src, &res), 4);
	assert_result(&res, 4, "4.3.1", "No space left on device");
	assert_int_equal(dir_count(maildir, "new", NULL, 0), 0);
	assert_int_equal(dir_count(maildir, "tmp", NULL, 0), 0);

	mbox = xasprintf("%s/mbox", dir);
	write_all(mbox, "old mail\n");
	src = big_src(&b, 64 * 1024);
	assert_int_equal(mbox_deliver(mbox, "a@b", ARRIVAL, PREFIX, &src, &res), 4);
	assert_result(&res, 4, "4.3.1", "No space left on device");
	text = read_all(mbox, NULL);
	assert_string_equal(text, "old mail\n");
	free(text);
	free(mbox);
	/* and once there is room again, both work */
	src = big_src(&b, 1024);
	assert_int_equal(maildir_deliver(maildir, PREFIX, &src, &res), 0);
	umount2(dir, MNT_DETACH);
	free(maildir);
	free(dir);
}

static void test_errno_dsn(void **state)
{
	(void)state;
	assert_string_equal(mailbox_errno_dsn(EDQUOT, "4.3.0"), "4.2.2");
	assert_string_equal(mailbox_errno_dsn(ENOSPC, "4.3.0"), "4.3.1");
	assert_string_equal(mailbox_errno_dsn(EFBIG, "4.3.0"), "5.2.2");
	assert_string_equal(mailbox_errno_dsn(EIO, "4.3.0"), "4.3.0");
	assert_string_equal(mailbox_errno_dsn(EACCES, "4.2.0"), "4.2.0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maildir_delivers),
		cmocka_unit_test(test_maildir_creates_parents),
		cmocka_unit_test(test_maildir_symlinks_refused),
		cmocka_unit_test(test_maildir_foreign_owner),
		cmocka_unit_test(test_maildir_read_error),
		cmocka_unit_test(test_maildir_size_limit),
		cmocka_unit_test(test_maildir_host_escaped),
		cmocka_unit_test(test_mbox_delivers_and_appends),
		cmocka_unit_test(test_mbox_from_quoting_every_split),
		cmocka_unit_test(test_mbox_empty_and_partial_from),
		cmocka_unit_test(test_mbox_symlink_refused),
		cmocka_unit_test(test_mbox_hardlink_refused),
		cmocka_unit_test(test_mbox_foreign_owner_refused),
		cmocka_unit_test(test_mbox_not_regular_refused),
		cmocka_unit_test(test_mbox_read_error_truncates),
		cmocka_unit_test(test_mbox_size_limit),
		cmocka_unit_test(test_mbox_dotlock),
		cmocka_unit_test(test_mbox_fcntl_lock),
		cmocka_unit_test(test_full_file_system),
		cmocka_unit_test(test_errno_dsn),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
