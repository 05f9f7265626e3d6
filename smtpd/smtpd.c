/* smtpd - the SMTP server.
 *
 * As a master(8) service ("smtp inet n - n - - smtpd"): one session per
 * process at a time, on the connection master's listener accepted, as
 * mail_owner. The client is named by its address and a forward-confirmed
 * reverse lookup.
 *
 * Stand-alone (smtpd -S, what sendmail -bs runs): one session on stdin
 * and stdout, as the invoking user, without master. The client is the
 * local user: "localhost[127.0.0.1]" for mynetworks and the log, and the
 * message goes to cleanup as a local submission with the user's uid, so
 * cleanup writes the Received: line ("by HOST (postern, from userid N)")
 * and the missing headers exactly as for sendmail. cleanup must be
 * running and reachable (as root, or as a member of setgid_group, which
 * owns public/); otherwise the DATA command gets 451 4.3.0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "mem.h"
#include "msg.h"
#include "server.h"
#include "smtpd.h"

static void serve(int fd)
{
	struct smtpd_session s;
	char *name = NULL, *addr = NULL, *port = NULL;

	smtpd_session_init(&s, fd, fd, 0);
	if (smtpd_peer_lookup(fd, conf_bool("smtpd_peername_lookup"), &name, &addr, &port) < 0)
		smtpd_session_client(&s, "localhost", "127.0.0.1", "0");	/* a unix socket */
	else
		smtpd_session_client(&s, name, addr, port);
	free(name);
	free(addr);
	free(port);
	smtpd_session_run(&s);
	smtpd_session_free(&s);
}

/* pre_jail - the TLS context (key files may be readable by root only)
 * and the Cyrus server library (it loads its plugins here) */
static void pre_jail(void)
{
	smtpd_tls_init();
	smtpd_sasl_setup();
}

static const struct server_ops smtpd_ops = {
	.mode = SERVER_SINGLE,
	.pre_jail = pre_jail,
	.single = serve,
};

static void usage(void) __attribute__((noreturn));
static void usage(void)
{
	msg_fatal("usage: smtpd -S [-c config_dir] [-o name=value] [-v]");
}

/* stand_alone - smtpd -S: SMTP on stdin/stdout for sendmail -bs */
static void stand_alone(int argc, char **argv) __attribute__((noreturn));
static void stand_alone(int argc, char **argv)
{
	struct smtpd_session s;
	const char *dir = NULL;
	int c;

	while ((c = getopt(argc, argv, "Sc:o:v")) != -1) {
		switch (c) {
		case 'S': break;
		case 'c': dir = optarg; break;
		case 'o':
			if (conf_override_arg(optarg) < 0)
				usage();
			break;
		case 'v': msg_verbose++; break;
		default: usage();
		}
	}
	if (conf_load(conf_resolve_dir(dir), NULL) < 0) {
		printf("421 4.3.0 Error: cannot read the configuration\r\n");
		msg_fatal("read %s/main.cf: %m", conf_resolve_dir(dir));
	}
	for (int i = 1; i < argc; i++)	/* the load forgot them */
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			conf_override_arg(argv[++i]);
	msg_open_log(0);
	/* the caller's terminal gets the warnings (cleanup unreachable), as
	 * from sendmail, not the connect/disconnect lines */
	msg_stderr_as("smtpd", MSG_WARN);
	signal(SIGPIPE, SIG_IGN);
	smtpd_session_init(&s, 0, 1, 1);
	s.uid = (long)getuid();
	smtpd_session_client(&s, "localhost", "127.0.0.1", "0");
	smtpd_session_run(&s);
	smtpd_session_free(&s);
	exit(0);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-S") == 0) {
			msg_init(argc > 0 ? argv[0] : "smtpd");
			stand_alone(argc, argv);
		}
	server_main(argc, argv, &smtpd_ops);
}
