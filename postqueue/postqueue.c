/* postqueue - the queue listing and flush for every user; see postqueue(1).
 *
 * Usage: postqueue [-c DIR] [-v] -p | -j | -f | -s SITE | -i QUEUE_ID
 *
 * Installed setgid setgid_group: public/ is mode 0710 mail_owner:
 * setgid_group, so the group is what lets any user reach public/showq,
 * and nothing else. postqueue never reads the queue itself on behalf of an
 * unprivileged user: showq(8), running as mail_owner, does the reading and
 * the waking of qmgr. Only when showq cannot be reached and the real user
 * is root or mail_owner does postqueue read the queue directly (through
 * the same code), so mailq still works while the mail system is down.
 *
 * With -c DIR or POSTERN_CONFIG_DIR naming a configuration other than the
 * default, the setgid privilege is dropped first: a user's own main.cf
 * must not choose which queue the group opens.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "attr.h"
#include "config.h"
#include "mem.h"
#include "msg.h"
#include "qfile.h"
#include "showq_format.h"
#include "vstr.h"

enum mode { MODE_NONE, MODE_LIST, MODE_JSON, MODE_FLUSH };

static enum mode mode = MODE_NONE;
static int json;

static void usage(void)
{
	fprintf(stderr, "usage: postqueue [-c config_dir] [-v] -p | -j | -f | -s site | -i queue_id\n");
	exit(EX_USAGE);
}

/* stdio_open - fds 0, 1 and 2 exist, so no socket or file we open becomes
 * "stdout" of a setgid program */
static void stdio_open(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

/* drop_for_foreign_config - the setgid group serves only the default
 * configuration's queue */
static void drop_for_foreign_config(const char *arg)
{
	if (getegid() == getgid())
		return;
	if (strcmp(conf_resolve_dir(arg), DEF_CONFIG_DIR) == 0)
		return;
	if (setgid(getgid()) < 0 || getegid() != getgid())
		msg_fatal_status(EX_OSERR, "cannot drop the setgid privilege: %m");
}

static int timeout_ms(void)
{
	long long t = conf_time("ipc_timeout");

	return t > 86400 ? 86400000 : (int)(t * 1000);
}

/* privileged - root or mail_owner may read the queue directly */
static int privileged(void)
{
	struct passwd *pw;

	if (getuid() == 0)
		return 1;
	pw = getpwnam(conf_str("mail_owner"));
	return pw != NULL && pw->pw_uid == getuid();
}

struct printer {
	struct showq_text text;
	vstr out;
};

static void print_one(struct printer *p, const struct showq_msg *m)
{
	vstr_reset(&p->out);
	if (json)
		showq_json_message(m, &p->out);
	else
		showq_text_message(&p->text, m, &p->out);
	if (fwrite(vstr_str(&p->out), 1, vstr_len(&p->out), stdout) != vstr_len(&p->out))
		msg_fatal_status(EX_IOERR, "write standard output: %m");
}

static int print_direct(const struct showq_msg *m, void *ctx)
{
	print_one(ctx, m);
	return 0;
}

static void finish(struct printer *p)
{
	vstr_reset(&p->out);
	if (!json)
		showq_text_end(&p->text, &p->out);
	fwrite(vstr_str(&p->out), 1, vstr_len(&p->out), stdout);
	if (fflush(stdout) == EOF || ferror(stdout))
		msg_fatal_status(EX_IOERR, "write standard output: %m");
	vstr_release(&p->out);
}

static void list_queue(void)
{
	const char *qdir = conf_str("queue_directory");
	struct printer p = {.out = VSTR_INIT};
	struct showq_msg m;
	const char *why;
	char *err;
	int fd, r;

	showq_text_begin(&p.text);
	if ((fd = showq_connect(qdir, "list", NULL, NULL, timeout_ms(), &err)) < 0) {
		if (!privileged())
			msg_fatal_status(EX_UNAVAILABLE, "Queue report unavailable - mail system is down (%s)", err);
		msg_warn("Mail system is down -- accessing queue directly (%s)", err);
		free(err);
		showq_scan(qdir, print_direct, &p);
		finish(&p);
		return;
	}
	showq_msg_init(&m);
	while ((r = showq_recv_msg(fd, &m, timeout_ms(), &why)) == 1)
		print_one(&p, &m);
	showq_msg_clear(&m);
	close(fd);
	if (r < 0) {
		fflush(stdout);
		msg_fatal_status(EX_SOFTWARE, "malformed showq server response: %s", why);
	}
	finish(&p);
}

static void flush_queue(const char *id, const char *site)
{
	struct attr_list l = ATTR_LIST_INIT;
	long long status;
	const char *reason = "unknown error";
	char *err;
	int fd;

	if ((fd = showq_connect(conf_str("queue_directory"), "flush", id, site, timeout_ms(), &err)) < 0)
		msg_fatal_status(EX_UNAVAILABLE, "Cannot flush mail queue - mail system is down (%s)", err);
	if (attr_read(fd, &l, SHOWQ_REQUEST_MAX, timeout_ms()) != 0
	    || attr_get_int(&l, "status", &status) < 0)
		msg_fatal_status(EX_SOFTWARE, "malformed showq server response");
	close(fd);
	if (status != 0) {
		attr_get_line(&l, "reason", &reason);
		msg_fatal_status(EX_UNAVAILABLE, "Cannot flush mail queue - %s", reason);
	}
	attr_list_clear(&l);
}

static void set_mode(enum mode m)
{
	if (mode != MODE_NONE)
		usage();
	mode = m;
}

int main(int argc, char **argv)
{
	const char *config = NULL, *site = NULL, *id = NULL;
	int c;

	stdio_open();
	msg_init("postqueue");
	msg_stderr_as("postqueue", MSG_INFO);
	while ((c = getopt(argc, argv, "c:fi:js:pv")) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'f': set_mode(MODE_FLUSH); break;
		case 'i': set_mode(MODE_FLUSH); id = optarg; break;
		case 's': set_mode(MODE_FLUSH); site = optarg; break;
		case 'j': set_mode(MODE_JSON); break;
		case 'p': set_mode(MODE_LIST); break;
		case 'v': msg_verbose++; break;
		default: usage();
		}
	}
	if (optind != argc || mode == MODE_NONE)
		usage();
	drop_for_foreign_config(config);
	if (conf_load(conf_resolve_dir(config), NULL) < 0)
		msg_fatal_status(EX_CONFIG, "read %s/main.cf: %m", conf_resolve_dir(config));
	if (id && !qid_valid(id))
		msg_fatal_status(EX_USAGE, "invalid queue ID: \"%.40s\"", id);
	if (site && (strlen(site) > 255 || strpbrk(site, "\r\n") != NULL))
		msg_fatal_status(EX_USAGE, "invalid site name");
	switch (mode) {
	case MODE_JSON:
		json = 1;
		/* FALLTHROUGH */
	case MODE_LIST:
		list_queue();
		break;
	case MODE_FLUSH:
		flush_queue(id, site);
		break;
	case MODE_NONE:
		usage();
	}
	return EX_OK;
}
