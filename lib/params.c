/* params - the table of every parameter postern knows.
 *
 * One row per parameter: its type, its default as written in main.cf
 * syntax (expanded when read, like a main.cf value), the range a number
 * must fall in, and one line of documentation. `postern conf -d` and the
 * unknown-parameter warning are both generated from this table, so a new
 * parameter is added here and nowhere else. Rows are sorted by name so
 * that param_find can binary-search them (a unit test checks the order).
 *
 * Two defaults depend on the host and are computed: myhostname comes from
 * gethostname() alone (never from DNS: a mail server must start without a
 * resolver, and tests must not send packets), and mydomain from the
 * effective myhostname.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#ifndef DEF_COMMAND_DIR
#define DEF_COMMAND_DIR "/usr/sbin"
#endif
#ifndef DEF_DAEMON_DIR
#define DEF_DAEMON_DIR "/usr/libexec/postern"
#endif
#ifndef DEF_QUEUE_DIR
#define DEF_QUEUE_DIR "/var/spool/postern"
#endif

/* A DNS name is at most 253 bytes; room for that plus ".localdomain". */
#define HOSTNAME_BUF	300

/* default_myhostname - gethostname(), made fully qualified if it is not */
static const char *default_myhostname(void)
{
	static char name[HOSTNAME_BUF];
	char host[256];

	if (name[0])
		return name;
	if (gethostname(host, sizeof(host)) < 0 || host[0] == 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = 0;
	if (strchr(host, '.'))
		snprintf(name, sizeof(name), "%s", host);
	else
		snprintf(name, sizeof(name), "%s.localdomain", host);
	return name;
}

/* default_mydomain - the effective myhostname minus its first label */
static const char *default_mydomain(void)
{
	static char domain[HOSTNAME_BUF];
	static int busy;
	const char *host, *dot;

	/* myhostname = $mydomain would bring us back here: no loop. */
	if (busy)
		return "localdomain";
	busy = 1;
	host = conf_str("myhostname");
	busy = 0;
	dot = strchr(host, '.');
	/* A longer name is not a valid DNS name; do not truncate it. */
	if (dot == NULL || dot[1] == 0 || strlen(dot + 1) >= sizeof(domain))
		return "localdomain";
	snprintf(domain, sizeof(domain), "%s", dot + 1);
	return domain;
}

#define STR(n, d, doc)		{ n, d, PARAM_STR, 0, 0, 0, NULL, doc }
#define LIST(n, d, doc)		{ n, d, PARAM_LIST, 0, 0, 0, NULL, doc }
#define INT(n, d, lo, hi, doc)	{ n, d, PARAM_INT, lo, hi, 0, NULL, doc }
#define TIME(n, d, lo, hi, u, doc) { n, d, PARAM_TIME, lo, hi, u, NULL, doc }
#define COMPUTED(n, fn, doc)	{ n, NULL, PARAM_STR, 0, 0, 0, fn, doc }

static const struct param_def params[] = {
	STR("command_directory", DEF_COMMAND_DIR,
	    "where the postern administrative command is installed"),
	STR("config_directory", DEF_CONFIG_DIR,
	    "where main.cf and master.cf are (set by -c or POSTERN_CONFIG_DIR)"),
	STR("daemon_directory", DEF_DAEMON_DIR,
	    "where the daemon programs that master runs are installed"),
	TIME("daemon_timeout", "18000s", 1, INT_MAX, 's',
	     "how long a daemon may work on one request before it gives up"),
	INT("default_process_limit", "100", 0, 100000,
	    "process limit of a master.cf service whose maxproc is \"-\""),
	LIST("import_environment", "TZ LANG=C",
	     "environment variables (or name=value settings) daemons keep"),
	LIST("inet_interfaces", "all",
	     "addresses inet services listen on when master.cf names no host"),
	LIST("inet_protocols", "all",
	     "IP versions to use: ipv4, ipv6, or all"),
	TIME("ipc_timeout", "3600s", 1, INT_MAX, 's',
	     "time limit for one exchange with another postern process"),
	STR("mail_owner", "postern",
	    "the user that owns the queue and runs unprivileged daemons"),
	STR("mail_spool_directory", "/var/mail",
	    "directory of the users' mailbox files"),
	STR("maillog_file", "",
	    "log to this file through postlogd instead of syslog (\"\" = syslog)"),
	LIST("master_service_disable", "",
	     "master.cf services (name/type, or a type such as inet) that master does not run"),
	TIME("max_idle", "100s", 1, INT_MAX, 's',
	     "how long an idle daemon waits for a request before it exits"),
	INT("max_use", "100", 1, INT_MAX,
	    "requests a daemon serves before it exits and master starts a new one"),
	LIST("mydestination", "$myhostname, localhost.$mydomain, localhost",
	     "domains delivered locally"),
	COMPUTED("mydomain", default_mydomain,
		 "the local Internet domain (default: $myhostname minus its first label)"),
	COMPUTED("myhostname", default_myhostname,
		 "the fully qualified name of this host (default: gethostname())"),
	STR("myorigin", "$myhostname",
	    "domain that locally posted mail appears to come from"),
	STR("process_id_directory", "pid",
	    "directory for process id and lock files, relative to queue_directory"),
	STR("queue_directory", DEF_QUEUE_DIR,
	    "the root of the mail queue"),
	TIME("service_throttle_time", "60s", 1, INT_MAX, 's',
	     "how long master waits before restarting a service that fails at start"),
	STR("setgid_group", "postdrop",
	    "group that owns the mail submission drop and its setgid program"),
	STR("syslog_facility", "mail",
	    "syslog facility of postern's log lines"),
	STR("syslog_name", "postern",
	    "prefix of every log line's program name"),
	TIME("trigger_timeout", "10s", 1, INT_MAX, 's',
	     "time limit for reading a trigger request in a trigger service"),
};

#define NPARAMS (sizeof(params) / sizeof(params[0]))

/* param_cmp - bsearch comparison of a name with a table row */
static int param_cmp(const void *key, const void *row)
{
	return strcmp((const char *)key, ((const struct param_def *)row)->name);
}

const struct param_def *param_find(const char *name)
{
	return bsearch(name, params, NPARAMS, sizeof(params[0]), param_cmp);
}

const struct param_def *param_all(size_t *count)
{
	*count = NPARAMS;
	return params;
}

const char *param_default(const struct param_def *p)
{
	if (p->defval)
		return p->defval;
	if (p->default_fn)
		return p->default_fn();
	return "";
}
