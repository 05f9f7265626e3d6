/* sendmail_exec - the modes that sendmail carries out by running another
 * program (with execv, never a shell):
 *   -bp, mailq          postqueue -c DIR -p
 *   -q                  postqueue -c DIR -f
 *   -qR site            postqueue -c DIR -s site
 *   -qI id              postqueue -c DIR -i id
 *   -bi, -I, newaliases postern -c DIR alias [TABLE from -oA]
 *   -bd                 postern -c DIR start
 *   -bs                 $daemon_directory/smtpd -S (SMTP on stdin/stdout)
 * postqueue and postern live in command_directory; each -v is passed on.
 * The queue goes through postqueue, as in Postfix: it is set-gid and asks
 * showq(8), so mailq and sendmail -q work for every user without reading
 * the queue directory.
 */
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "mem.h"
#include "sendmail.h"

/* no_recipients - these modes take no recipient (Postfix's wording) */
static int no_recipients(const struct sm_opts *o, char **err)
{
	static const char *const what[SM_IGNORE + 1] = {
		[SM_MAILQ] = "display queue mode",
		[SM_NEWALIAS] = "alias initialization mode",
		[SM_DAEMON] = "daemon mode",
		[SM_FLUSH] = "flush queue mode",
		[SM_SMTP] = "stand-alone mode",
	};

	if (o->rcpts.n == 0)
		return 0;
	*err = xasprintf("%s requires no recipient", what[o->mode] ? what[o->mode] : "this mode");
	return EX_USAGE;
}

/* command_argv - "DIR/PROGRAM -c CONFIG [-v...]" */
static void command_argv(struct argv *out, const char *program, const struct sm_opts *o,
			 const char *config_dir, const char *command_dir)
{
	char *path = xasprintf("%s/%s", command_dir, program);

	argv_add(out, path);
	free(path);
	argv_add(out, "-c");
	argv_add(out, config_dir);
	for (int i = 0; i < o->verbose; i++)
		argv_add(out, "-v");
}

/* queue_argv - the postqueue options of -bp and the -q family */
static void queue_argv(struct argv *out, const struct sm_opts *o)
{
	if (o->mode == SM_MAILQ) {
		argv_add(out, "-p");
	} else if (o->flush_site) {
		argv_add(out, "-s");
		argv_add(out, o->flush_site);
	} else if (o->flush_id) {
		argv_add(out, "-i");
		argv_add(out, o->flush_id);
	} else {
		argv_add(out, "-f");
	}
}

int sm_command_argv(const struct sm_opts *o, const char *config_dir,
		    const char *command_dir, const char *daemon_dir,
		    struct argv *out, char **err)
{
	char *path;
	int status;

	*err = NULL;
	if ((status = no_recipients(o, err)) != 0)
		return status;
	if (o->mode == SM_SMTP) {
		path = xasprintf("%s/smtpd", daemon_dir);
		argv_add(out, path);
		free(path);
		argv_add(out, "-S");
		for (int i = 0; i < o->verbose; i++)
			argv_add(out, "-v");
		return 0;
	}
	if (o->mode == SM_MAILQ || o->mode == SM_FLUSH) {
		command_argv(out, "postqueue", o, config_dir, command_dir);
		queue_argv(out, o);
		return 0;
	}
	command_argv(out, "postern", o, config_dir, command_dir);
	if (o->mode == SM_DAEMON) {
		argv_add(out, "start");
	} else {		/* SM_NEWALIAS */
		argv_add(out, "alias");
		if (o->alias_map)
			argv_add(out, o->alias_map);
	}
	return 0;
}
