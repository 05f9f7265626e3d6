/* sendmail - the sendmail(1)-compatible front end; see sendmail(1).
 *
 * Usage: sendmail [option ...] [recipient ...]; mailq; newaliases.
 *
 * Not set-uid: it runs as whoever calls it (cron, PHP, mutt, a shell
 * script), possibly with stdin, stdout or stderr closed, possibly from a
 * shell that PHP's mail() starts. main() makes that environment sane before anything else
 * (descriptors 0-2 open, no inherited descriptors past them, SIGPIPE
 * ignored, set-uid root dropped), reads the configuration that -C or
 * POSTERN_CONFIG_DIR names (a -C directory only when authorised), opens
 * the log, and then either queues a message through postdrop or runs the
 * program that carries out the requested mode. Every failure is one
 * "sendmail: fatal: ..." line on stderr, the same line in the log, and a
 * sysexits code; library run-time failures exit EX_TEMPFAIL.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "confdir.h"
#include "config.h"
#include "mem.h"
#include "msg.h"
#include "sendmail.h"

/* std_fds - 0, 1 and 2 open (on /dev/null if closed), nothing else */
static void std_fds(void)
{
	struct stat st;
	int fd;

	for (fd = 0; fd < 3; fd++) {
		if (fstat(fd, &st) == 0)
			continue;
		if (open("/dev/null", O_RDWR) != fd)
			_exit(EX_OSERR);
	}
	/* A descriptor leaked by the caller would be held open by the mail
	 * system it starts (-bd) and hang a caller waiting for EOF on it. */
	close_range(3, ~0U, 0);
}

/* drop_setuid - a set-uid root install is a mistake; run as the caller */
static void drop_setuid(void)
{
	if (geteuid() != 0 || getuid() == 0)
		return;
	msg_warn("sendmail must not be installed set-uid root; dropping privileges");
	if (setgid(getgid()) < 0 || setuid(getuid()) < 0)
		msg_fatal_status(EX_OSERR, "drop privileges: %m");
}

/* config_directory - -C when authorised, else POSTERN_CONFIG_DIR or the
 * default; loads it */
static char *config_directory(const struct sm_opts *o)
{
	char *dir;

	if (o->config_dir) {
		dir = conf_dir_of_arg(o->config_dir);
		if (getuid() != 0 && !conf_dir_authorized(dir, DEF_CONFIG_DIR)) {
			msg_open_log(1);
			msg_fatal_status(EX_NOPERM, "-C %s: not an authorized configuration directory"
					 " (alternate_config_directories in %s/main.cf)",
					 dir, DEF_CONFIG_DIR);
		}
	} else {
		dir = xstrdup(conf_resolve_dir(NULL));
	}
	if (conf_load(dir, NULL) < 0)
		msg_fatal_status(EX_TEMPFAIL, "read %s/main.cf: %m", dir);
	return dir;
}

/* run_command - carries out a mode by running another program */
static void run_command(const struct sm_opts *o, const char *config_dir)
{
	struct argv cmd = ARGV_INIT;
	char *err;
	int status;

	status = sm_command_argv(o, config_dir, conf_str("command_directory"),
				 conf_str("daemon_directory"), &cmd, &err);
	if (status)
		msg_fatal_status(status, "%s", err);
	if (setenv("POSTERN_CONFIG_DIR", config_dir, 1) < 0)
		msg_fatal_status(EX_TEMPFAIL, "setenv: %m");
	msg_debug("running %s", cmd.v[0]);
	execv(cmd.v[0], cmd.v);
	if (o->mode == SM_SMTP && errno == ENOENT)
		msg_fatal_status(EX_UNAVAILABLE, "sendmail -bs: smtpd is not installed");
	msg_fatal_status(EX_UNAVAILABLE, "execute %s: %m", cmd.v[0]);
}

/* enqueue - -bm: the message on stdin into maildrop/ through postdrop */
static int enqueue(const struct sm_opts *o, const char *config_dir)
{
	struct passwd *pw = getpwuid(getuid());
	struct sm_identity id;
	char *login = pw ? xstrdup(pw->pw_name) : NULL;
	char *gecos = pw && pw->pw_gecos ? xstrdup(pw->pw_gecos) : NULL;
	char *postdrop = xasprintf("%s/postdrop", conf_str("command_directory"));
	char *err;
	int status;

	id.uid = getuid();
	id.login = login;
	id.gecos = gecos;
	id.config_dir = config_dir;
	id.postdrop = postdrop;
	status = sm_enqueue(o, &id, 0, &err);
	if (status && err)
		msg_fatal_status(status, "%s", err);
	free(login);
	free(gecos);
	free(postdrop);
	return status;
}

int main(int argc, char **argv)
{
	const char *slash = argc > 0 ? strrchr(argv[0], '/') : NULL;
	const char *name = slash ? slash + 1 : (argc > 0 ? argv[0] : "sendmail");
	struct sm_opts o;
	char *err, *config_dir;
	int status;

	std_fds();
	msg_init("sendmail");
	msg_stderr_as(name, MSG_WARN);
	msg_set_fatal_status(EX_TEMPFAIL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);	/* a log write past ulimit -f is an error, not death */
	umask(022);
	drop_setuid();
	status = sm_args_parse(argc, argv, &o, &err);
	if (o.verbose) {
		msg_verbose = o.verbose;
		msg_stderr_as(name, MSG_DEBUG);
	}
	config_dir = config_directory(&o);
	msg_open_log(1);
	for (size_t i = 0; i < o.warnings.n; i++)
		msg_warn("%s", o.warnings.v[i]);
	if (status)
		msg_fatal_status(status, "%s", err);
	switch (o.mode) {
	case SM_ENQUEUE:
		status = enqueue(&o, config_dir);
		break;
	case SM_IGNORE:
		status = 0;
		break;
	default:
		run_command(&o, config_dir);
	}
	sm_opts_free(&o);
	free(config_dir);
	return status;
}
