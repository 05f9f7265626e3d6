/* dsnlog - the per-message recipient status logs bounce/ID and defer/ID.
 *
 * A delivery agent appends one entry per recipient it bounced (bounce/ID)
 * or deferred (defer/ID) and fsyncs before it marks the recipient done or
 * replies (docs/QUEUE.md rows 5 and 6). bounce(8) reads bounce/ID to build
 * the DSN; `postern queue list` shows the last defer reason. Each entry is
 * one line of tab-separated fields, with tabs and control characters in the
 * fields replaced by spaces:
 *   recipient  orig_recipient  dsn(X.Y.Z)  action(failed|delayed|delivered)
 *   notify  remote_mta  diagnostic  reason
 * The path is relative to queue_directory (every daemon's cwd).
 */
#ifndef POSTERN_DSNLOG_H
#define POSTERN_DSNLOG_H

#include <stddef.h>

struct dsn_entry {
	char *recipient;
	char *orig;		/* "" if none */
	char *dsn;		/* "5.1.1" */
	char *action;		/* "failed", "delayed", "delivered", "expanded" */
	char *notify;		/* DSN NOTIFY of the recipient, "" = default */
	char *remote_mta;	/* "" for local */
	char *diagnostic;	/* "smtp; 550 ..." or "x-unix; ..." or "" */
	char *reason;		/* the text for the log and the DSN */
};

/* dsnlog_append - appends one entry to LOGDIR/ID ("bounce", "defer",
 * "trace") and fsyncs it. 0, or -1 with errno. */
int dsnlog_append(const char *logdir, const char *queue_id, const struct dsn_entry *e);

/* dsnlog_read - every entry of LOGDIR/ID. Returns the count (entries in
 * *out, malloc'ed), 0 when the log does not exist, -1 on error (errno). */
int dsnlog_read(const char *logdir, const char *queue_id, struct dsn_entry **out);
void dsnlog_free(struct dsn_entry *v, int n);

/* dsnlog_last_reason - the reason of the last entry for recipient in
 * LOGDIR/ID, malloc'ed, or NULL. */
char *dsnlog_last_reason(const char *logdir, const char *queue_id, const char *recipient);

/* dsnlog_remove - unlinks LOGDIR/ID (missing is fine). */
void dsnlog_remove(const char *logdir, const char *queue_id);

#endif
