/* cmd_check - `postern check`: validate the configuration, repair the queue.
 *
 * Reports every problem in main.cf and master.cf with file and line, checks
 * that each service's program is there, that mail_owner and setgid_group
 * exist (as root, creates them when missing, as an install would), and
 * creates the queue tree or repairs its ownership and modes:
 *
 *   queue_directory, pid/    root (the instance owner when not root), 0755
 *   private/                 mail_owner, 0700
 *   public/                  mail_owner:setgid_group, 0710
 *   maildrop/                mail_owner:setgid_group, 1770 (see below)
 *   incoming/ active/ deferred/ hold/ corrupt/ bounce/ defer/ trace/
 *                            mail_owner, 0700
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "mastercf.h"
#include "mem.h"
#include "msg.h"
#include "postern.h"

enum owner { OWN_ROOT, OWN_MAIL, OWN_MAIL_GROUP };

static const struct queue_dir {
	const char *name;
	enum owner owner;
	mode_t mode;
} queue_dirs[] = {
	{"private", OWN_MAIL, 0700},
	{"public", OWN_MAIL_GROUP, 0710},
	/* Group read, unlike Postfix's 1730: postdrop (set-gid, never root)
	 * must open the directory to fsync it before it reports success.
	 * The sticky bit keeps one user's postdrop off another's files. */
	{"maildrop", OWN_MAIL_GROUP, 01770},
	{"incoming", OWN_MAIL, 0700},
	{"active", OWN_MAIL, 0700},
	{"deferred", OWN_MAIL, 0700},
	{"hold", OWN_MAIL, 0700},
	{"corrupt", OWN_MAIL, 0700},
	{"bounce", OWN_MAIL, 0700},
	{"defer", OWN_MAIL, 0700},
	{"trace", OWN_MAIL, 0700},
};

struct ids {
	uid_t root_uid, mail_uid;
	gid_t root_gid, mail_gid, drop_gid;
};

/* ensure_account - as root, create a missing mail_owner or setgid_group */
static int ensure_account(const char *user, const char *group)
{
	if (getgrnam(group) == NULL) {
		char *av[] = {"groupadd", "--system", (char *)group, NULL};

		msg_info("creating group %s", group);
		if (admin_run(av) != 0)
			return -1;
	}
	if (getpwnam(user) == NULL) {
		char *av[] = {"useradd", "--system", "--user-group", "--no-create-home",
			      "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
			      "--comment", "postern mail system", (char *)user, NULL};

		msg_info("creating user %s", user);
		if (admin_run(av) != 0)
			return -1;
	}
	return 0;
}

static int lookup_ids(struct ids *ids)
{
	const char *user = conf_str("mail_owner"), *group = conf_str("setgid_group");
	struct passwd *pw;
	struct group *gr;

	ids->root_uid = getuid();
	ids->root_gid = getgid();
	if (getuid() != 0) {
		ids->mail_uid = getuid();
		ids->mail_gid = ids->drop_gid = getgid();
		return 0;
	}
	if (ensure_account(user, group) < 0) {
		msg_warn("mail_owner %s or setgid_group %s is missing and could not be created", user, group);
		return -1;
	}
	if ((pw = getpwnam(user)) == NULL || (gr = getgrnam(group)) == NULL)
		return -1;
	if (pw->pw_uid == 0) {
		msg_warn("mail_owner %s has uid 0: it must be an unprivileged account", user);
		return -1;
	}
	if (gr->gr_gid == pw->pw_gid) {
		msg_warn("setgid_group %s is mail_owner's primary group: it must be a group of its own", group);
		return -1;
	}
	ids->mail_uid = pw->pw_uid;
	ids->mail_gid = pw->pw_gid;
	ids->drop_gid = gr->gr_gid;
	return 0;
}

/* fix_dir - creates path or repairs its owner and mode; -1 on failure */
static int fix_dir(const char *path, uid_t uid, gid_t gid, mode_t mode, int repair)
{
	struct stat st;
	int created = 0;

	if (lstat(path, &st) < 0) {
		if (!repair) {
			msg_warn("%s is missing", path);
			return -1;
		}
		if (mkdir(path, mode) < 0) {
			msg_warn("mkdir %s: %m", path);
			return -1;
		}
		if (lstat(path, &st) < 0)
			return -1;
		created = 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		msg_warn("%s is not a directory", path);
		return -1;
	}
	if ((st.st_uid != uid || st.st_gid != gid) && geteuid() == 0) {
		if (!repair || chown(path, uid, gid) < 0) {
			msg_warn("%s: owner %ld:%ld, should be %ld:%ld", path, (long)st.st_uid,
				 (long)st.st_gid, (long)uid, (long)gid);
			return -1;
		}
		if (!created)
			msg_info("%s: owner set to %ld:%ld", path, (long)uid, (long)gid);
	}
	if ((st.st_mode & 07777) != mode) {
		if (!repair || chmod(path, mode) < 0) {
			msg_warn("%s: mode %04o, should be %04o", path, st.st_mode & 07777, mode);
			return -1;
		}
	}
	return 0;
}

static int check_queue_tree(int repair)
{
	const char *qdir = conf_str("queue_directory");
	struct ids ids;
	int errors = 0;

	if (lookup_ids(&ids) < 0)
		return 1;
	errors += fix_dir(qdir, ids.root_uid, ids.root_gid, 0755, repair) < 0;
	if (errors)
		return errors;
	{
		char *piddir = xasprintf("%s/%s", qdir, conf_str("process_id_directory"));

		errors += fix_dir(piddir, ids.root_uid, ids.root_gid, 0755, repair) < 0;
		free(piddir);
	}
	for (size_t i = 0; i < sizeof(queue_dirs) / sizeof(queue_dirs[0]); i++) {
		const struct queue_dir *d = &queue_dirs[i];
		char *path = xasprintf("%s/%s", qdir, d->name);
		uid_t uid = d->owner == OWN_ROOT ? ids.root_uid : ids.mail_uid;
		gid_t gid = d->owner == OWN_ROOT ? ids.root_gid
			: d->owner == OWN_MAIL_GROUP ? ids.drop_gid : ids.mail_gid;

		errors += fix_dir(path, uid, gid, d->mode, repair) < 0;
		free(path);
	}
	return errors;
}

/* check_master_cf - syntax, and every service's program */
static int check_master_cf(int quiet)
{
	struct diaglist dl = DIAGLIST_INIT;
	struct mcf mcf = MCF_INIT;
	char *path = xasprintf("%s/master.cf", conf_dir());
	int errors;

	if (mcf_parse_file(path, &mcf, &dl) < 0) {
		msg_warn("read %s: %m", path);
		free(path);
		return 1;
	}
	mcf_check_overrides(&mcf, &dl);
	for (size_t i = 0; i < mcf.n; i++) {
		const char *cmd = mcf.v[i].args.v[0];
		char *prog = cmd[0] == '/' ? xstrdup(cmd) : xasprintf("%s/%s", conf_str("daemon_directory"), cmd);

		if (!quiet && access(prog, X_OK) < 0)
			diag_add(&dl, DIAG_WARNING, path, mcf.v[i].line,
				 "service %s/%s will not run: %s: %s", mcf.v[i].name,
				 mcf_type_name(mcf.v[i].type), prog, strerror(errno));
		free(prog);
	}
	diag_log(&dl);
	errors = (int)diag_errors(&dl);
	diag_clear(&dl);
	mcf_free(&mcf);
	free(path);
	return errors;
}

int admin_check_all(int repair, int quiet)
{
	char *main_cf = xasprintf("%s/main.cf", admin_config_dir);
	int errors;

	if (access(main_cf, R_OK) < 0) {
		msg_error("%s: %m (wrong -c directory? `postern -c DIR init` creates one)", main_cf);
		free(main_cf);
		return 1;
	}
	free(main_cf);
	errors = admin_load_config(1);

	errors += check_master_cf(quiet);
	errors += check_queue_tree(repair);
	return errors;
}

int cmd_check(int argc, char **argv)
{
	int errors;

	(void)argv;
	if (argc > 1)
		msg_fatal("usage: postern [-c DIR] check");
	errors = admin_check_all(1, 0);
	if (errors) {
		fprintf(stderr, "postern: check found %d error%s\n", errors, errors == 1 ? "" : "s");
		return 1;
	}
	return 0;
}
