/* msg - diagnostics and logging; see msg.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "msg.h"

#define MSG_LINE_MAX	4096

int msg_verbose;

enum sink { SINK_NONE, SINK_SYSLOG, SINK_POSTLOG, SINK_FILE };

static const char *progname = "postern";
static char tag[256] = "postern";	/* syslog_name/progname */
static enum sink sink = SINK_NONE;
static int sink_fd = -1;
static int to_stderr;
static char stderr_name[64];	/* "" = the tag */
static int stderr_min;		/* least severity copied to stderr */
static int fatal_status = 1;
static void (*exit_hook)(void);
static char hostname[256];
static char *fallback_path;	/* postlog send failures append here */

void msg_init(const char *name)
{
	const char *slash = strrchr(name, '/');

	progname = slash ? slash + 1 : name;
	snprintf(tag, sizeof(tag), "postern/%s", progname);
}

/* short_hostname - the host name as syslog writes it, looked up once */
static const char *short_hostname(void)
{
	if (*hostname == 0) {
		if (gethostname(hostname, sizeof(hostname) - 1) < 0 || *hostname == 0)
			snprintf(hostname, sizeof(hostname), "localhost");
		hostname[strcspn(hostname, ".")] = 0;
	}
	return hostname;
}

const char *msg_progname(void)
{
	return progname;
}

void msg_set_tag(const char *syslog_name)
{
	if (syslog_name && *syslog_name)
		snprintf(tag, sizeof(tag), "%s/%s", syslog_name, progname);
}

static void close_sink(void)
{
	if (sink == SINK_SYSLOG)
		closelog();
	if (sink_fd >= 0)
		close(sink_fd);
	sink_fd = -1;
	sink = SINK_NONE;
}

static const struct { const char *name; int value; } facilities[] = {
	{"mail", LOG_MAIL}, {"daemon", LOG_DAEMON}, {"user", LOG_USER},
	{"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
	{"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
	{"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
};

int msg_to_syslog(const char *syslog_name, const char *facility)
{
	int fac = -1;

	for (size_t i = 0; facility && i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcmp(facility, facilities[i].name) == 0)
			fac = facilities[i].value;
	close_sink();
	msg_set_tag(syslog_name);
	/* LOG_NDELAY: connect now, so logging still works after chroot. */
	openlog(tag, LOG_PID | LOG_NDELAY, fac < 0 ? LOG_MAIL : fac);
	sink = SINK_SYSLOG;
	if (fac < 0)
		msg_warn("unknown syslog_facility \"%s\": using mail", facility ? facility : "");
	return 0;
}

int msg_to_postlog(const char *syslog_name, const char *socket_path)
{
	struct sockaddr_un sun;
	struct timeval tv = {2, 0};
	int fd;

	if (strlen(socket_path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, socket_path, strlen(socket_path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	/* A full postlogd queue must not wedge a daemon forever. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	close_sink();
	msg_set_tag(syslog_name);
	sink_fd = fd;
	sink = SINK_POSTLOG;
	return 0;
}

int msg_to_file(const char *syslog_name, const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);

	if (fd < 0)
		return -1;
	close_sink();
	msg_set_tag(syslog_name);
	sink_fd = fd;
	sink = SINK_FILE;
	return 0;
}

void msg_stderr(int on)
{
	to_stderr = on;
}

void msg_stderr_as(const char *name, int min_severity)
{
	snprintf(stderr_name, sizeof(stderr_name), "%s", name ? name : "");
	stderr_min = min_severity;
	to_stderr = 1;
}

void msg_set_fatal_status(int status)
{
	fatal_status = status;
}

void msg_set_exit_hook(void (*hook)(void))
{
	exit_hook = hook;
}

size_t msg_format_line(char *buf, size_t size, time_t when, const char *t,
		       long pid, const char *text)
{
	struct tm tm;
	char stamp[32];
	int n;

	localtime_r(&when, &tm);
	strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
	n = snprintf(buf, size, "%s %s %s[%ld]: %s\n", stamp, short_hostname(), t, pid, text);
	if (n < 0)
		n = 0;
	if ((size_t)n >= size) {
		n = (int)size - 1;
		buf[n - 1] = '\n';
	}
	return (size_t)n;
}

/* sanitize - replaces control characters so data cannot forge a line */
static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static const char *severity_prefix[] = {"", "", "warning: ", "error: ", "fatal: ", "panic: "};
static const int severity_syslog[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR, LOG_CRIT, LOG_CRIT};

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/* postlog_failed - postlogd is not reading: append directly or use stderr */
static void postlog_failed(const char *line, size_t len, const char *text)
{
	int fd;

	if (fallback_path
	    && (fd = open(fallback_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644)) >= 0) {
		write_all(fd, line, len);
		close(fd);
	} else if (!to_stderr) {
		fprintf(stderr, "%s[%ld]: %s\n", tag, (long)getpid(), text);
	}
}

void msg_postlog_fallback(const char *path)
{
	free(fallback_path);
	fallback_path = path ? strdup(path) : NULL;
}

void msg_vlog(int severity, const char *fmt, va_list ap)
{
	char text[MSG_LINE_MAX], line[MSG_LINE_MAX + 512];
	int saved_errno = errno;
	size_t len;
	int n;

	n = snprintf(text, sizeof(text), "%s", severity_prefix[severity]);
	vsnprintf(text + n, sizeof(text) - (size_t)n, fmt, ap);
	sanitize(text);
	if (sink == SINK_SYSLOG) {
		syslog(severity_syslog[severity], "%s", text);
	} else if (sink == SINK_POSTLOG || sink == SINK_FILE) {
		len = msg_format_line(line, sizeof(line), time(NULL), tag, (long)getpid(), text);
		if (sink == SINK_FILE)
			write_all(sink_fd, line, len);
		else if (send(sink_fd, line, len, fallback_path ? MSG_DONTWAIT : 0) < 0)
			postlog_failed(line, len, text);
	}
	if (to_stderr ? severity >= stderr_min : sink == SINK_NONE)
		fprintf(stderr, "%s: %s\n", *stderr_name ? stderr_name : tag, text);
	errno = saved_errno;
}

#define MSG_WRAPPER(fn, sev) \
void fn(const char *fmt, ...) \
{ \
	va_list ap; \
	va_start(ap, fmt); \
	msg_vlog(sev, fmt, ap); \
	va_end(ap); \
}

void msg_debug(const char *fmt, ...)
{
	va_list ap;

	if (msg_verbose <= 0)
		return;
	va_start(ap, fmt);
	msg_vlog(MSG_DEBUG, fmt, ap);
	va_end(ap);
}

MSG_WRAPPER(msg_info, MSG_INFO)
MSG_WRAPPER(msg_warn, MSG_WARN)
MSG_WRAPPER(msg_error, MSG_ERROR)

static void run_exit_hook(void)
{
	void (*hook)(void) = exit_hook;

	exit_hook = NULL;		/* a fatal error inside the hook must not loop */
	if (hook)
		hook();
}

void msg_fatal_status(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vlog(MSG_FATAL, fmt, ap);
	va_end(ap);
	run_exit_hook();
	exit(status);
}

void msg_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vlog(MSG_FATAL, fmt, ap);
	va_end(ap);
	run_exit_hook();
	exit(fatal_status);
}

void msg_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vlog(MSG_PANIC, fmt, ap);
	va_end(ap);
	abort();
}
