/* cmd_init - `postern init`: a self-contained instance in one directory.
 *
 * Writes DIR/main.cf and DIR/master.cf, creates the queue tree in
 * DIR/queue and the mailboxes' parent DIR/mail/, and points the log at
 * DIR/maillog. The daemons are the ones next to this postern binary
 * (../libexec), so an instance works from a build tree or an install.
 * Run by a non-root user, the instance belongs to that user and every
 * service runs as that user.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "mem.h"
#include "msg.h"
#include "postern.h"
#include "vstr.h"

#define DEFAULT_PORT	2525

/* daemon_dir - libexec/ (build tree) or libexec/postern (install) next to us */
static char *daemon_dir(void)
{
	char *self = admin_self_dir();
	char *candidates[3], *found = NULL;

	candidates[0] = xasprintf("%s/../libexec", self);
	candidates[1] = xasprintf("%s/../libexec/postern", self);
	candidates[2] = NULL;
	for (int i = 0; candidates[i]; i++) {
		char *master = xasprintf("%s/master", candidates[i]);

		if (found == NULL && access(master, X_OK) == 0)
			found = realpath(candidates[i], NULL);
		free(master);
	}
	for (int i = 0; candidates[i]; i++)
		free(candidates[i]);
	free(self);
	if (found == NULL)
		msg_fatal("cannot find the postern daemons (libexec/master) next to this program");
	return found;
}

static char *instance_main_cf(const char *dir)
{
	vstr v = VSTR_INIT;
	char *ddir = daemon_dir(), *self = admin_self_dir();
	char stamp[64];
	time_t now = time(NULL);

	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", localtime(&now));
	vstr_catf(&v, "# Instance settings written by `postern init` on %s.\n", stamp);
	vstr_catf(&v, "queue_directory = %s/queue\n", dir);
	vstr_catf(&v, "daemon_directory = %s\n", ddir);
	vstr_catf(&v, "command_directory = %s\n", self);
	vstr_catf(&v, "mail_spool_directory = %s/mail/\n", dir);
	vstr_catf(&v, "maillog_file = %s/maillog\n", dir);
	vstr_catf(&v, "alias_maps = hash:%s/aliases\n", dir);
	vstr_catf(&v, "alias_database = hash:%s/aliases\n", dir);
	if (getuid() != 0) {
		struct passwd *pw = getpwuid(getuid());
		struct group *gr = getgrgid(getgid());

		if (pw == NULL || gr == NULL)
			msg_fatal("cannot look up the current user and group");
		vstr_catf(&v, "# Not root: every service runs as %s.\n", pw->pw_name);
		vstr_catf(&v, "mail_owner = %s\n", pw->pw_name);
		vstr_catf(&v, "setgid_group = %s\n", gr->gr_name);
	}
	vstr_cat(&v, "\n");
	vstr_cat(&v, template_main_cf);
	free(ddir);
	free(self);
	return vstr_steal(&v);
}

/* instance_master_cf - the template with the SMTP listener filled in */
static char *instance_master_cf(int port)
{
	vstr v = VSTR_INIT;
	const char *mark = "@SMTP_LISTEN@", *p = template_master_cf, *hit;
	char listen[64];

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	while ((hit = strstr(p, mark)) != NULL) {
		vstr_ncat(&v, p, (size_t)(hit - p));
		vstr_catf(&v, "%-13s", listen);
		p = hit + strlen(mark);
	}
	vstr_cat(&v, p);
	return vstr_steal(&v);
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL)
		msg_fatal("create %s: %m", path);
	if (fputs(text, fp) == EOF || fflush(fp) == EOF || fsync(fileno(fp)) < 0 || fclose(fp) == EOF)
		msg_fatal("write %s: %m", path);
}

static void make_dir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		msg_fatal("mkdir %s: %m", path);
}

/* build_aliases - the instance's alias table, as `postern alias` builds it */
static int build_aliases(void)
{
	char *self = xasprintf("%s/postern", admin_self_dir());
	char *av[] = {self, "-c", (char *)admin_config_dir, "alias", NULL};
	int status = admin_run(av);

	free(self);
	return status;
}

static int parse_port(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);

	if (*s == 0 || *end || n < 1 || n > 65535)
		msg_fatal("bad port \"%s\": need 1..65535", s);
	return (int)n;
}

int cmd_init(int argc, char **argv)
{
	const char *dir = admin_config_dir;
	int port = DEFAULT_PORT, force = 0;
	char *path, *text;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
			port = parse_port(argv[++i]);
		else if (strncmp(argv[i], "--port=", 7) == 0)
			port = parse_port(argv[i] + 7);
		else if (strcmp(argv[i], "--force") == 0)
			force = 1;
		else
			msg_fatal("usage: postern [-c DIR] init [--port N] [--force]");
	}
	make_dir(dir, 0755);
	path = xasprintf("%s/main.cf", dir);
	if (!force && access(path, F_OK) == 0)
		msg_fatal("%s exists: not overwriting it (use --force)", path);
	free(path);
	path = xasprintf("%s/master.cf", dir);
	if (!force && access(path, F_OK) == 0)
		msg_fatal("%s exists: not overwriting it (use --force)", path);
	free(path);
	path = xasprintf("%s/main.cf", dir);
	text = instance_main_cf(dir);
	write_file(path, text);
	free(text);
	free(path);
	path = xasprintf("%s/master.cf", dir);
	text = instance_master_cf(port);
	write_file(path, text);
	free(text);
	free(path);
	path = xasprintf("%s/mail", dir);
	make_dir(path, 0755);
	free(path);
	path = xasprintf("%s/aliases", dir);
	if (force || access(path, F_OK) < 0)
		write_file(path, "# aliases(5) of this instance: run `postern -c DIR alias` after editing.\n"
			   "postmaster: root\nMAILER-DAEMON: postmaster\n");
	free(path);
	admin_load_config(0);
	if (admin_check_all(1, 1) > 0 || build_aliases() != 0)
		return 1;
	printf("postern: created an instance in %s (SMTP on 127.0.0.1:%d)\n", dir, port);
	printf("postern: start it with: postern -c %s start\n", dir);
	return 0;
}
