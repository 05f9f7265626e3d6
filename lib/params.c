/* params - the table of every parameter postern knows.
 *
 * One row per parameter: its type, its default as written in main.cf
 * syntax (expanded when read, like a main.cf value), the range a number
 * must fall in, and one line of documentation. `postern conf -d` and the
 * unknown-parameter warning are both generated from this table, so a new
 * parameter is added here and nowhere else. Rows are sorted by name so
 * that param_find can binary-search them (a unit test checks the order).
 *
 * Three defaults depend on the host and are computed: myhostname comes from
 * gethostname() alone (never from DNS: a mail server must start without a
 * resolver, and tests must not send packets), mydomain from the
 * effective myhostname, and mynetworks from mynetworks_style and the
 * network interfaces (cidr.h; getifaddrs(), never DNS).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cidr.h"
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

/* default_mynetworks - cidr_mynetworks_default for the effective
 * mynetworks_style. Computed once per style in a process (interfaces do
 * not come and go during a daemon's life), and kept: the table's defaults
 * must stay valid. */
static const char *default_mynetworks(void)
{
	static const char *styles[] = { "host", "subnet", "class" };
	static char *computed[3];
	static int busy;
	const char *style;
	size_t slot = 0;

	/* mynetworks_style = $mynetworks would bring us back here: no loop. */
	if (busy)
		return "127.0.0.0/8 [::1]/128";
	busy = 1;
	style = conf_str("mynetworks_style");
	busy = 0;
	for (size_t i = 1; i < sizeof(styles) / sizeof(styles[0]); i++)
		if (strcasecmp(style, styles[i]) == 0)
			slot = i;
	if (computed[slot] == NULL)
		computed[slot] = cidr_mynetworks_default(styles[slot]);
	return computed[slot];
}

#define STR(n, d, doc)		{ n, d, PARAM_STR, 0, 0, 0, NULL, doc }
#define LIST(n, d, doc)		{ n, d, PARAM_LIST, 0, 0, 0, NULL, doc }
#define INT(n, d, lo, hi, doc)	{ n, d, PARAM_INT, lo, hi, 0, NULL, doc }
#define TIME(n, d, lo, hi, u, doc) { n, d, PARAM_TIME, lo, hi, u, NULL, doc }
#define BOOL(n, d, doc)		{ n, d, PARAM_BOOL, 0, 0, 0, NULL, doc }
#define COMPUTED(n, fn, doc)	{ n, NULL, PARAM_STR, 0, 0, 0, fn, doc }

static const struct param_def params[] = {
	STR("2bounce_notice_recipient", "postmaster",
	    "who gets a double bounce: the failure report of mail from the null sender"),
	LIST("alias_database", "hash:/etc/aliases",
	     "alias tables that `postern alias` (newaliases) builds when given none"),
	LIST("alias_maps", "hash:/etc/aliases",
	     "alias tables local delivery looks local recipients up in"),
	LIST("allow_mail_to_commands", "alias, forward",
	     "where |command deliveries are allowed: alias, forward, include"),
	LIST("allow_mail_to_files", "alias, forward",
	     "where /file deliveries are allowed: alias, forward, include"),
	LIST("alternate_config_directories", "",
	     "configuration directories besides the default that sendmail -C and postdrop accept from users other than root"),
	TIME("bounce_queue_lifetime", "5d", 0, INT_MAX, 'd',
	     "maximal_queue_lifetime for messages with the null sender (bounces)"),
	INT("bounce_size_limit", "50000", 1, INT_MAX,
	    "bytes of the original message a notification returns; a larger one returns its headers only"),
	BOOL("broken_sasl_auth_clients", "no",
	     "smtpd also announces AUTH=mechanisms for clients that know only that old form"),
	STR("command_directory", DEF_COMMAND_DIR,
	    "where the postern administrative command is installed"),
	TIME("command_time_limit", "1000s", 1, INT_MAX, 's',
	     "time limit for a delivery to a |command"),
	STR("config_directory", DEF_CONFIG_DIR,
	    "where main.cf and master.cf are (set by -c or POSTERN_CONFIG_DIR)"),
	STR("cyrus_sasl_config_path", "",
	    "directory where Cyrus SASL finds APP.conf (smtpd_sasl_path); \"\" = its default"),
	STR("daemon_directory", DEF_DAEMON_DIR,
	    "where the daemon programs that master runs are installed"),
	TIME("daemon_timeout", "18000s", 1, INT_MAX, 's',
	     "how long a daemon may work on one request before it gives up"),
	INT("default_destination_concurrency_failed_cohort_limit", "1", 1, INT_MAX,
	    "failed deliveries (each counting 1/concurrency) after which a destination is dead for minimal_backoff_time"),
	INT("default_destination_concurrency_limit", "20", 1, INT_MAX,
	    "parallel deliveries to one destination, unless TRANSPORT_destination_concurrency_limit says otherwise"),
	INT("default_destination_recipient_limit", "50", 1, INT_MAX,
	    "recipients per delivery request, unless TRANSPORT_destination_recipient_limit says otherwise"),
	STR("default_privs", "nobody",
	    "the user alias file and command deliveries run as"),
	INT("default_process_limit", "100", 0, 100000,
	    "process limit of a master.cf service whose maxproc is \"-\""),
	STR("default_transport", "smtp",
	    "transport[:nexthop] for domains that are not local (used by trivial-rewrite)"),
	LIST("defer_transports", "",
	     "transports whose mail waits in the deferred queue until a flush (sendmail -q)"),
	TIME("delay_warning_time", "0h", 0, INT_MAX, 'h',
	     "send the sender a delay warning after a message waited this long (0 = never)"),
	BOOL("disable_vrfy_command", "yes",
	     "refuse the SMTP VRFY command (502 5.5.1) and do not announce it"),
	INT("header_size_limit", "102400", 1, INT_MAX,
	    "largest header block cleanup processes as headers; the rest is body"),
	STR("home_mailbox", "",
	    "mailbox relative to the home directory (ending in / = Maildir); \"\" = mail_spool_directory"),
	INT("hopcount_limit", "50", 1, INT_MAX,
	    "Received: and Delivered-To: headers a message may carry before it bounces"),
	LIST("import_environment", "TZ LANG=C",
	     "environment variables (or name=value settings) daemons keep"),
	LIST("inet_interfaces", "all",
	     "addresses inet services listen on when master.cf names no host"),
	LIST("inet_protocols", "all",
	     "IP versions to use: ipv4, ipv6, or all"),
	INT("initial_destination_concurrency", "5", 1, INT_MAX,
	    "parallel deliveries a destination starts with (it grows while deliveries succeed)"),
	TIME("ipc_timeout", "3600s", 1, INT_MAX, 's',
	     "time limit for one exchange with another postern process"),
	INT("line_length_limit", "2048", 512, INT_MAX,
	    "longest SMTP command line smtpd takes (500 5.5.2 beyond it)"),
	TIME("lmtp_connect_timeout", "$smtp_connect_timeout", 1, INT_MAX, 's',
	     "LMTP mode: smtp_connect_timeout"),
	TIME("lmtp_connection_reuse_time_limit", "$smtp_connection_reuse_time_limit", 1, INT_MAX, 's',
	     "LMTP mode: smtp_connection_reuse_time_limit"),
	TIME("lmtp_data_done_timeout", "$smtp_data_done_timeout", 1, INT_MAX, 's',
	     "LMTP mode: smtp_data_done_timeout"),
	TIME("lmtp_data_init_timeout", "$smtp_data_init_timeout", 1, INT_MAX, 's',
	     "LMTP mode: smtp_data_init_timeout"),
	TIME("lmtp_data_xfer_timeout", "$smtp_data_xfer_timeout", 1, INT_MAX, 's',
	     "LMTP mode: smtp_data_xfer_timeout"),
	STR("lmtp_lhlo_name", "$smtp_helo_name",
	    "LMTP mode: the name sent with LHLO"),
	TIME("lmtp_lhlo_timeout", "$smtp_helo_timeout", 1, INT_MAX, 's',
	     "LMTP mode: smtp_helo_timeout (greeting and LHLO)"),
	TIME("lmtp_mail_timeout", "$smtp_mail_timeout", 1, INT_MAX, 's',
	     "LMTP mode: smtp_mail_timeout"),
	TIME("lmtp_quit_timeout", "$smtp_quit_timeout", 1, INT_MAX, 's',
	     "LMTP mode: smtp_quit_timeout"),
	TIME("lmtp_rcpt_timeout", "$smtp_rcpt_timeout", 1, INT_MAX, 's',
	     "LMTP mode: smtp_rcpt_timeout"),
	INT("local_destination_concurrency_limit", "2", 1, INT_MAX,
	    "parallel local deliveries to one recipient"),
	INT("local_destination_recipient_limit", "1", 1, INT_MAX,
	    "recipients per local delivery request"),
	STR("local_transport", "local:$myhostname",
	    "transport[:nexthop] for the domains in $mydestination"),
	STR("mail_name", "postern",
	    "the mail system's name in the SMTP greeting and Received: headers"),
	STR("mail_owner", "postern",
	    "the user that owns the queue and runs unprivileged daemons"),
	STR("mail_spool_directory", "/var/mail",
	    "directory of the users' mailbox files"),
	INT("mailbox_size_limit", "51200000", 0, INT_MAX,
	    "largest mbox file (or Maildir message) local will write; 0 = no limit"),
	STR("maillog_file", "",
	    "log to this file through postlogd instead of syslog (\"\" = syslog)"),
	LIST("master_service_disable", "",
	     "master.cf services (name/type, or a type such as inet) that master does not run"),
	TIME("max_idle", "100s", 1, INT_MAX, 's',
	     "how long an idle daemon waits for a request before it exits"),
	INT("max_use", "100", 1, INT_MAX,
	    "requests a daemon serves before it exits and master starts a new one"),
	TIME("maximal_backoff_time", "4000s", 1, INT_MAX, 's',
	     "longest time before a deferred message is tried again"),
	TIME("maximal_queue_lifetime", "5d", 0, INT_MAX, 'd',
	     "how long a message may stay deferred before it is returned to the sender"),
	LIST("message_drop_headers", "bcc, content-length, resent-bcc, return-path",
	     "headers cleanup removes from every message"),
	INT("message_size_limit", "10240000", 0, INT_MAX,
	    "largest message content in bytes that cleanup accepts"),
	TIME("minimal_backoff_time", "300s", 1, INT_MAX, 's',
	     "shortest time before a deferred message is tried again"),
	LIST("mydestination", "$myhostname, localhost.$mydomain, localhost",
	     "domains delivered locally"),
	COMPUTED("mydomain", default_mydomain,
		 "the local Internet domain (default: $myhostname minus its first label)"),
	COMPUTED("myhostname", default_myhostname,
		 "the fully qualified name of this host (default: gethostname())"),
	COMPUTED("mynetworks", default_mynetworks,
		 "trusted client networks: addresses, net/prefix, !exclusions, /file (default: computed from mynetworks_style and the interfaces)"),
	STR("mynetworks_style", "host",
	    "how the mynetworks default is computed: host (this machine's addresses), subnet (its interfaces' subnets), class (their class A/B/C networks)"),
	STR("myorigin", "$myhostname",
	    "domain that locally posted mail appears to come from"),
	STR("process_id_directory", "pid",
	    "directory for process id and lock files, relative to queue_directory"),
	LIST("proxy_interfaces", "",
	     "addresses (numeric) this host receives mail on through a proxy or NAT; user@[address] for them is local"),
	INT("qmgr_message_active_limit", "20000", 1, INT_MAX,
	    "messages qmgr holds in the active queue at once"),
	STR("queue_directory", DEF_QUEUE_DIR,
	    "the root of the mail queue"),
	TIME("queue_run_delay", "300s", 1, INT_MAX, 's',
	     "how often qmgr scans the deferred queue"),
	LIST("relay_domains", "",
	     "domains (and .subdomains, type:table) smtpd accepts mail for from anyone, to relay onwards"),
	STR("relay_transport", "relay",
	    "transport[:nexthop] for the domains in $relay_domains (used by trivial-rewrite)"),
	STR("relayhost", "",
	    "next hop for relay and default class mail instead of the recipient domain (\"\" = the domain)"),
	TIME("service_throttle_time", "60s", 1, INT_MAX, 's',
	     "how long master waits before restarting a service that fails at start"),
	STR("setgid_group", "postdrop",
	    "group that owns the mail submission drop and its setgid program"),
	TIME("smtp_connect_timeout", "30s", 1, INT_MAX, 's',
	     "how long the smtp client waits for a TCP connection to a server"),
	TIME("smtp_connection_cache_time_limit", "2s", 0, INT_MAX, 's',
	     "how long qmgr keeps an idle delivery agent connection (and its SMTP session) for more mail to the same destination"),
	TIME("smtp_connection_reuse_time_limit", "300s", 1, INT_MAX, 's',
	     "how long an SMTP session may be reused for further messages to the same nexthop"),
	TIME("smtp_data_done_timeout", "600s", 1, INT_MAX, 's',
	     "how long the smtp client waits for the reply to the final dot"),
	TIME("smtp_data_init_timeout", "120s", 1, INT_MAX, 's',
	     "how long the smtp client waits for the reply to DATA"),
	TIME("smtp_data_xfer_timeout", "180s", 1, INT_MAX, 's',
	     "how long the smtp client may take to write each chunk of message content"),
	STR("smtp_helo_name", "$myhostname",
	    "the name the smtp client sends with EHLO and HELO"),
	TIME("smtp_helo_timeout", "300s", 1, INT_MAX, 's',
	     "how long the smtp client waits for the greeting and the EHLO/HELO reply"),
	INT("smtp_line_length_limit", "998", 0, INT_MAX,
	    "longest content line the smtp client sends; longer ones are broken with CRLF SPACE (0 = no limit)"),
	TIME("smtp_mail_timeout", "300s", 1, INT_MAX, 's',
	     "how long the smtp client waits for the reply to MAIL FROM (and RSET)"),
	INT("smtp_mx_address_limit", "5", 0, INT_MAX,
	    "server addresses the smtp client tries per delivery, over all MX hosts (0 = no limit)"),
	INT("smtp_mx_session_limit", "2", 0, INT_MAX,
	    "SMTP sessions (handshake done) the smtp client tries per delivery (0 = no limit)"),
	TIME("smtp_quit_timeout", "300s", 1, INT_MAX, 's',
	     "how long the smtp client waits for the reply to QUIT"),
	TIME("smtp_rcpt_timeout", "300s", 1, INT_MAX, 's',
	     "how long the smtp client waits for each RCPT TO reply"),
	BOOL("smtp_sasl_auth_enable", "no",
	     "the smtp client authenticates (SMTP AUTH) with a password from smtp_sasl_password_maps"),
	LIST("smtp_sasl_mechanism_filter", "",
	     "SASL mechanisms of the server the smtp client may use (\"\" = all)"),
	LIST("smtp_sasl_password_maps", "",
	     "tables of [host]:port, host or domain -> user:password for SMTP AUTH"),
	LIST("smtp_sasl_security_options", "noplaintext, noanonymous",
	     "SASL mechanisms the smtp client refuses outside TLS: noplaintext, noactive, nodictionary, noanonymous, mutual_auth"),
	LIST("smtp_sasl_tls_security_options", "noanonymous",
	     "smtp_sasl_security_options for a TLS session (default: plaintext mechanisms allowed inside TLS)"),
	BOOL("smtp_skip_5xx_greeting", "yes",
	     "a server that greets with 5xx is skipped for the next one instead of bouncing the mail"),
	TIME("smtp_starttls_timeout", "300s", 1, INT_MAX, 's',
	     "how long the smtp client waits for the STARTTLS reply and the TLS handshake"),
	STR("smtp_tls_CAfile", "",
	    "file of trusted CA certificates (PEM) for verifying servers (verify, secure)"),
	STR("smtp_tls_CApath", "",
	    "directory of trusted CA certificates (c_rehash form) for verifying servers"),
	STR("smtp_tls_cert_file", "",
	    "client certificate (PEM, with its chain) the smtp client offers; \"\" = none"),
	STR("smtp_tls_chain_files", "",
	    "files of a private key followed by its certificate chain, for the smtp client"),
	STR("smtp_tls_ciphers", "medium",
	    "cipher grade (high, medium, low) for opportunistic TLS (may)"),
	STR("smtp_tls_key_file", "$smtp_tls_cert_file",
	    "private key of smtp_tls_cert_file"),
	STR("smtp_tls_mandatory_ciphers", "medium",
	    "cipher grade for mandatory TLS (encrypt, verify, secure)"),
	STR("smtp_tls_mandatory_protocols", ">=TLSv1.2",
	    "TLS protocols for mandatory TLS (encrypt, verify, secure)"),
	LIST("smtp_tls_policy_maps", "",
	     "tables of nexthop -> \"level [match=name:...] [protocols=...] [ciphers=...]\""),
	STR("smtp_tls_protocols", ">=TLSv1.2",
	    "TLS protocols for opportunistic TLS (may)"),
	STR("smtp_tls_secure_cert_match", "nexthop, dot-nexthop",
	    "names the server certificate must match at level secure"),
	STR("smtp_tls_security_level", "may",
	    "TLS for delivery: none, may (opportunistic), encrypt, verify (CA and MX name), secure (CA and nexthop name)"),
	STR("smtp_tls_servername", "hostname",
	    "SNI the smtp client sends: hostname (the server's name), nexthop, a fixed name, or \"\" for none"),
	STR("smtp_tls_verify_cert_match", "hostname",
	    "names the server certificate must match at level verify"),
	STR("smtpd_banner", "$myhostname ESMTP $mail_name",
	    "text after 220 in the SMTP greeting; must start with $myhostname"),
	LIST("smtpd_client_restrictions", "",
	     "restrictions on the client (at CONNECT, or RCPT with smtpd_delay_reject)"),
	LIST("smtpd_data_restrictions", "",
	     "restrictions at DATA"),
	BOOL("smtpd_delay_reject", "yes",
	     "apply client, helo and sender restrictions at RCPT, not at CONNECT, HELO and MAIL"),
	LIST("smtpd_end_of_data_restrictions", "",
	     "restrictions at the end of the message content"),
	TIME("smtpd_error_sleep_time", "1s", 0, INT_MAX, 's',
	     "delay before each error reply once a client made smtpd_soft_error_limit errors"),
	STR("smtpd_forbid_bare_newline", "reject",
	    "bare CR or LF in SMTP commands and content: reject, or normalize (yes, note, no: the same)"),
	LIST("smtpd_forbid_bare_newline_exclusions", "$mynetworks",
	     "clients (CIDR list) for whom smtpd_forbid_bare_newline = reject means normalize"),
	INT("smtpd_forbid_bare_newline_reject_code", "550", 400, 599,
	    "SMTP reply code for bare CR or LF (521: and disconnect)"),
	BOOL("smtpd_forbid_unauth_pipelining", "yes",
	     "disconnect clients that talk before the greeting or pipeline against RFC 2920"),
	INT("smtpd_hard_error_limit", "20", 1, INT_MAX,
	    "errors after which smtpd says 421 and disconnects"),
	LIST("smtpd_helo_restrictions", "",
	     "restrictions on the HELO/EHLO name (at HELO, or RCPT with smtpd_delay_reject)"),
	INT("smtpd_junk_command_limit", "100", 1, INT_MAX,
	    "HELO/EHLO/NOOP/RSET/VRFY commands a session may send before each counts as an error"),
	BOOL("smtpd_peername_lookup", "yes",
	     "look up SMTP client names (reverse, confirmed by forward); no: every client is unknown"),
	BOOL("smtpd_per_record_deadline", "no",
	     "smtpd_timeout limits each whole line or content line, not each read"),
	INT("smtpd_recipient_limit", "1000", 1, INT_MAX,
	    "recipients per SMTP transaction (452 4.5.3 beyond)"),
	INT("smtpd_recipient_overshoot_limit", "1000", 0, INT_MAX,
	    "recipients past smtpd_recipient_limit before each counts as an error"),
	LIST("smtpd_recipient_restrictions", "",
	     "restrictions at RCPT, after smtpd_relay_restrictions"),
	LIST("smtpd_relay_restrictions", "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
	     "relay control at RCPT: who may send mail to which destinations"),
	BOOL("smtpd_sasl_auth_enable", "no",
	     "offer and accept SMTP AUTH (Cyrus SASL)"),
	BOOL("smtpd_sasl_authenticated_header", "no",
	     "Received: names the authenticated user (\"Authenticated sender: name\")"),
	STR("smtpd_sasl_local_domain", "",
	    "SASL realm of users who give no realm (\"\" = Cyrus's default, the server's name)"),
	STR("smtpd_sasl_path", "smtpd",
	    "Cyrus SASL application name: it reads NAME.conf in cyrus_sasl_config_path"),
	LIST("smtpd_sasl_security_options", "noanonymous",
	     "SASL mechanisms smtpd does not offer outside TLS: noplaintext, noactive, nodictionary, noanonymous, mutual_auth"),
	LIST("smtpd_sasl_tls_security_options", "$smtpd_sasl_security_options",
	     "smtpd_sasl_security_options for a TLS session"),
	LIST("smtpd_sender_login_maps", "",
	     "tables of sender address (or @domain, user) -> the SASL login names that own it"),
	LIST("smtpd_sender_restrictions", "",
	     "restrictions on the sender (at MAIL, or RCPT with smtpd_delay_reject)"),
	INT("smtpd_soft_error_limit", "10", 0, INT_MAX,
	    "errors after which smtpd waits smtpd_error_sleep_time before each error reply"),
	TIME("smtpd_starttls_timeout", "300s", 1, INT_MAX, 's',
	     "time limit for the TLS handshake after STARTTLS (or on a wrapper-mode connection)"),
	TIME("smtpd_timeout", "300s", 1, INT_MAX, 's',
	     "how long smtpd waits for the client to send or take data"),
	STR("smtpd_tls_CAfile", "",
	    "file of CA certificates (PEM) for verifying client certificates, and names sent in the request"),
	STR("smtpd_tls_CApath", "",
	    "directory of CA certificates for verifying client certificates"),
	BOOL("smtpd_tls_ask_ccert", "no",
	     "ask TLS clients for a certificate"),
	BOOL("smtpd_tls_auth_only", "no",
	     "offer and accept AUTH only inside TLS (538 5.7.11 outside)"),
	STR("smtpd_tls_cert_file", "",
	    "server certificate (PEM, followed by its chain)"),
	STR("smtpd_tls_chain_files", "",
	    "files each holding a private key followed by its certificate chain (instead of cert_file/key_file)"),
	STR("smtpd_tls_ciphers", "medium",
	    "cipher grade (high, medium, low) for opportunistic TLS (may)"),
	STR("smtpd_tls_dh1024_param_file", "",
	    "DH parameters (PEM) for DHE; \"\" = OpenSSL's automatic groups of 2048 bits and more"),
	STR("smtpd_tls_fingerprint_digest", "sha256",
	    "digest of client certificate fingerprints for check_ccert_access (only sha256)"),
	STR("smtpd_tls_key_file", "$smtpd_tls_cert_file",
	    "private key of smtpd_tls_cert_file"),
	STR("smtpd_tls_mandatory_ciphers", "medium",
	    "cipher grade with smtpd_tls_security_level = encrypt"),
	STR("smtpd_tls_mandatory_protocols", ">=TLSv1.2",
	    "TLS protocols with smtpd_tls_security_level = encrypt"),
	STR("smtpd_tls_protocols", ">=TLSv1.2",
	    "TLS protocols with smtpd_tls_security_level = may"),
	BOOL("smtpd_tls_req_ccert", "no",
	     "with level encrypt: a client without a verified certificate may not send mail"),
	STR("smtpd_tls_security_level", "",
	    "STARTTLS in smtpd: none (\"\"), may (offered), encrypt (required before MAIL)"),
	BOOL("smtpd_tls_wrappermode", "no",
	     "TLS from the first byte (port 465, submissions) instead of STARTTLS"),
	BOOL("smtputf8_enable", "yes",
	     "announce SMTPUTF8 and accept UTF-8 addresses with it (RFC 6531)"),
	STR("syslog_facility", "mail",
	    "syslog facility of postern's log lines"),
	STR("syslog_name", "postern",
	    "prefix of every log line's program name"),
	LIST("transport_maps", "",
	     "tables of address or domain -> transport:nexthop that override every address class (transport(5))"),
	TIME("transport_retry_time", "60s", 1, INT_MAX, 's',
	     "how long qmgr waits before it tries a delivery transport that failed"),
	TIME("trigger_timeout", "10s", 1, INT_MAX, 's',
	     "time limit for reading a trigger request in a trigger service"),
	STR("undisclosed_recipients_header", "To: undisclosed-recipients:;",
	    "header cleanup adds to local submissions without To: or Cc:"),
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

int param_is_per_transport(const char *name)
{
	static const char *suffixes[] = {"_destination_concurrency_limit", "_destination_recipient_limit",
					 "_destination_concurrency_failed_cohort_limit"};
	size_t len = strlen(name);

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t sl = strlen(suffixes[i]);

		if (len > sl && strcmp(name + len - sl, suffixes[i]) == 0)
			return 1;
	}
	return 0;
}
