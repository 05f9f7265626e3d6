/* msg_open - choose the log sink from main.cf (syslog_name, maillog_file).
 *
 * Kept apart from msg.c so that the logging core does not depend on the
 * configuration module.
 */
#include <stdio.h>

#include "config.h"
#include "msg.h"

void msg_open_log(int direct_ok)
{
	const char *name = conf_str("syslog_name");
	const char *file = conf_str("maillog_file");
	char path[1024];

	if (*file == 0) {
		msg_to_syslog(name, conf_str("syslog_facility"));
		return;
	}
	snprintf(path, sizeof(path), "%s/public/postlog", conf_str("queue_directory"));
	if (msg_to_postlog(name, path) == 0) {
		msg_postlog_fallback(direct_ok ? file : NULL);
		return;
	}
	if (direct_ok && msg_to_file(name, file) == 0)
		return;
	/* No sink reachable: lines go to stderr (a terminal, or /dev/null
	 * for a detached daemon). */
	msg_set_tag(name);
	msg_stderr(1);
}

