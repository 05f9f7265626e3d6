/* local - final delivery on this host: shared state of its modules.
 *
 * local.c          service: requests from qmgr, marks, logs, replies
 * local_expand.c   aliases, .forward, loops: which deliveries a recipient means
 * local_deliver.c  mailbox, file and command deliveries with the right ids
 */
#ifndef POSTERN_LOCAL_H
#define POSTERN_LOCAL_H

#include <sys/types.h>

#include "argv.h"
#include "delivery_log.h"

/* One message being delivered. */
struct local_msg {
	const char *queue_id;
	const char *sender;
	int fd;			/* the queue file */
	off_t content_offset;
	long long arrival;
	struct delivery_times times;
	char *delivered_to;	/* the Delivered-To: values already in the message, "\n"-joined, lower case */
};

/* What one recipient's expansion came to. */
struct local_result {
	int status;		/* 0 sent, 4 deferred, 5 bounced */
	char dsn[16];
	char reason[512];
	int leaves;		/* deliveries made (mailboxes, files, commands, forwards) */
};

/* Who a file or command delivery runs as. */
#define LOCAL_MAX_GROUPS	64

struct local_privs {
	uid_t uid;
	gid_t gid;
	const char *user;	/* for $USER */
	const char *home;
	gid_t groups[LOCAL_MAX_GROUPS];	/* supplementary groups, looked up by the parent */
	int ngroups;
};

/* local_expand.c */
void local_deliver_rcpt(struct local_msg *msg, const char *rcpt, const char *orig,
			const char *notify, struct local_result *res);

/* local_deliver.c */
int local_privs_for_user(const char *user, struct local_privs *p, char *buf, size_t size);
void local_mailbox(struct local_msg *msg, const char *rcpt, const char *orig,
		   const struct local_privs *p, struct local_result *res);
void local_file(struct local_msg *msg, const char *rcpt, const char *orig, const char *path,
		const struct local_privs *p, struct local_result *res);
void local_command(struct local_msg *msg, const char *rcpt, const char *orig, const char *cmd,
		   const struct local_privs *p, struct local_result *res);
void local_forward(struct local_msg *msg, const char *rcpt, const struct argv *to,
		   struct local_result *res);
ssize_t local_read_as(const struct local_privs *p, const char *path, char *buf, size_t size,
		      char *why, size_t whysize);
void local_result_set(struct local_result *res, int status, const char *dsn,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
