/* postern - the admin command.
 *
 * Usage: postern [-c config_dir] [-v] COMMAND [args]
 * The configuration directory is -c DIR (before or after the command),
 * else $POSTERN_CONFIG_DIR, else /etc/postern. See postern(1).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "mem.h"
#include "msg.h"
#include "postern.h"

const char *admin_config_dir;

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
} commands[] = {
	{"init", cmd_init, "init [--port N] [--force]   create an instance in the config directory"},
	{"start", cmd_start, "start                      start the mail system"},
	{"start-fg", cmd_start_fg, "start-fg                   run the mail system in the foreground"},
	{"stop", cmd_stop, "stop                       stop the mail system"},
	{"reload", cmd_reload, "reload                     re-read main.cf and master.cf"},
	{"status", cmd_status, "status                     is it running? which services?"},
	{"check", cmd_check, "check                      validate the configuration, repair the queue tree"},
	{"conf", cmd_conf, "conf [-n|-d] [-h] [-x] [NAME...] | -e NAME=VALUE... | -X NAME...\n"
	 "                             show or edit main.cf parameters"},
	{"queue", cmd_queue, "queue list [--json] | show ID | hold|release|requeue|delete ID...|ALL | flush\n"
	 "                             list and manage the mail queue"},
	{"map", cmd_map, "map [-N] [-f] [type:]file... | -q KEY [type:]table...\n"
	 "                             build lookup tables (postmap), or query one"},
	{"alias", cmd_alias, "alias [-N] [-f] [type:]file... | -q KEY [type:]table...\n"
	 "                             build alias tables (postalias; none: alias_database)"},
};

static void usage(void)
{
	fprintf(stderr, "usage: postern [-c config_dir] [-v] command [args]\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(stderr, "  %s\n", commands[i].usage);
	exit(2);
}

/* take_config_option - removes "-c DIR" anywhere in argv (before "--") */
static void take_config_option(int *argc, char **argv)
{
	int i, j;

	for (i = 1; i < *argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < *argc) {
			admin_config_dir = argv[i + 1];
			for (j = i; j + 2 <= *argc; j++)
				argv[j] = argv[j + 2];
			*argc -= 2;
			i--;
		} else if (strncmp(argv[i], "-c", 2) == 0 && argv[i][2] && argv[i][2] != '-') {
			admin_config_dir = argv[i] + 2;
			for (j = i; j + 1 <= *argc; j++)
				argv[j] = argv[j + 1];
			*argc -= 1;
			i--;
		}
	}
}

int admin_load_config(int report)
{
	struct diaglist dl = DIAGLIST_INIT;
	int errors;

	if (conf_load(admin_config_dir, &dl) < 0)
		msg_fatal("read %s/main.cf: %m", admin_config_dir);
	if (!report) {
		diag_clear(&dl);
		return 0;
	}
	conf_validate(&dl);
	diag_log(&dl);
	errors = (int)diag_errors(&dl);
	diag_clear(&dl);
	return errors;
}

char *admin_self_dir(void)
{
	char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	char *slash;

	if (n <= 0)
		return xstrdup(".");
	buf[n] = 0;
	if ((slash = strrchr(buf, '/')) != NULL)
		*slash = 0;
	return xstrdup(buf);
}

int admin_run(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "postern: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* absolute_dir - daemons chdir elsewhere, so the directory must be absolute */
static const char *absolute_dir(const char *dir)
{
	char cwd[4096];

	if (dir[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		return dir;
	return xasprintf("%s/%s", cwd, dir);
}

int main(int argc, char **argv)
{
	msg_init("postern");
	msg_stderr(1);
	take_config_option(&argc, argv);
	while (argc > 1 && strcmp(argv[1], "-v") == 0) {
		msg_verbose++;
		argv++;
		argc--;
	}
	if (argc < 2 || argv[1][0] == '-')
		usage();
	admin_config_dir = absolute_dir(conf_resolve_dir(admin_config_dir));
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "postern: unknown command \"%s\"\n", argv[1]);
	usage();
}
