/* msg - diagnostics and logging for every postern program.
 *
 * Lines go to one sink chosen after the configuration is read: syslog
 * (facility mail by default), or the postlog datagram socket that postlogd
 * serves when maillog_file is set, or a file opened directly (only the admin
 * command does that, before master runs). Before a sink is chosen, and
 * whenever msg_stderr(1) is set, lines also go to stderr.
 *
 * Each line is tagged "SYSLOG_NAME/PROGRAM[PID]: " like Postfix's, with a
 * "warning: ", "fatal: " or "panic: " prefix by severity. Control characters
 * in the text are replaced by '?', so nothing that came from the network can
 * forge a log line.
 *
 * msg_fatal logs and exits with status 1 (master restarts the daemon);
 * msg_panic is for broken internal invariants and aborts.
 */
#ifndef POSTERN_MSG_H
#define POSTERN_MSG_H

#include <stdarg.h>

extern int msg_verbose;		/* -v count; msg_debug prints only when > 0 */

void msg_init(const char *progname);	/* before anything else; stderr only */
const char *msg_progname(void);

/* Sinks. Each replaces the previous one. Return 0, or -1 with errno. */
int msg_to_syslog(const char *syslog_name, const char *facility);
int msg_to_postlog(const char *syslog_name, const char *socket_path);
int msg_to_file(const char *syslog_name, const char *path);

/* msg_open_log - picks the sink from main.cf: syslog, or postlog when
 * maillog_file is set. With direct_ok, a maillog_file whose postlog socket
 * is not there is opened directly (admin command, master before it runs). */
void msg_open_log(int direct_ok);

/* msg_set_tag - "SYSLOG_NAME/PROGRAM" from now on (keeps the sink). */
void msg_set_tag(const char *syslog_name);
/* msg_postlog_fallback - with a path, postlog sends never wait: when
 * postlogd is not keeping up (or not running), the line is appended to path
 * directly. For master, which must never block on logging. */
void msg_postlog_fallback(const char *path);
void msg_stderr(int on);		/* also copy every line to stderr */
/* msg_stderr_as - for commands run by users (sendmail, postdrop): copy to
 * stderr only lines of at least min_severity, as "name: fatal: text"
 * (Postfix's style on a terminal) instead of the log tag. */
void msg_stderr_as(const char *name, int min_severity);
/* msg_set_fatal_status - exit status of msg_fatal (default 1); sendmail
 * and postdrop make library failures EX_TEMPFAIL, as callers expect. */
void msg_set_fatal_status(int status);
void msg_set_exit_hook(void (*hook)(void)); /* runs before a fatal exit */

void msg_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void msg_fatal_status(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
void msg_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void msg_vlog(int severity, const char *fmt, va_list ap);

enum { MSG_DEBUG, MSG_INFO, MSG_WARN, MSG_ERROR, MSG_FATAL, MSG_PANIC };

/* msg_format_line - the maillog_file line for text (timestamped, tagged);
 * exposed for postlogd and the unit tests. Returns the length written into
 * buf (at most size - 1), always NUL-terminated. */
#include <stddef.h>
#include <time.h>
size_t msg_format_line(char *buf, size_t size, time_t when, const char *tag,
		       long pid, const char *text);

#endif
