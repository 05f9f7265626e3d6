/* qread - reading a queue file: the envelope, then the content.
 *
 * qmgr, the delivery agents, bounce and the queue tools all read queue
 * files through this, so there is one parser of the format in
 * docs/QUEUE.md. A file that does not parse (bad record, missing V, C or E,
 * records out of order) is reported as corrupt; the caller moves it to
 * corrupt/ and goes on.
 */
#ifndef POSTERN_QREAD_H
#define POSTERN_QREAD_H

#include <stddef.h>
#include <sys/types.h>

#include "argv.h"
#include "rec.h"

#define QREAD_MAX_FIELD	4096		/* envelope record payload limit */

struct qrcpt {
	char *address;
	char *orig;		/* "" if none */
	char *notify;		/* "" if none */
	off_t offset;		/* of its R/D record, for rec_mark */
	int done;		/* D record */
};

struct qenvelope {
	long long arrival;	/* seconds */
	long arrival_usec;
	long long content_size;
	off_t content_offset;	/* offset of the M record */
	long long warn_time;	/* send a delay warning at this time; 0 = no */
	off_t warn_offset;	/* of the W record, 0 if none */
	char *sender;
	struct argv attrs;	/* "name=value" */
	struct qrcpt *rcpt;
	size_t nrcpt, cap;
	size_t pending;		/* recipients not done */
};

/* qread_envelope - reads records from the start of fd up to M. Returns 0,
 * or -1 with a reason in *err (static text). When check_end is set, the
 * content is walked to E too (corruption check; costs a read of the file). */
int qread_envelope(int fd, struct qenvelope *env, int check_end, const char **err);
void qenvelope_free(struct qenvelope *env);

/* qenvelope_attr - the value of name in the A records, or NULL. */
const char *qenvelope_attr(const struct qenvelope *env, const char *name);

/* Content: B records from content_offset on, to E. */
struct qcontent {
	struct rec_reader r;
	vstr chunk;
	int done;
};

void qcontent_open(struct qcontent *c, int fd, const struct qenvelope *env);
/* qcontent_next - next chunk: >0 bytes in *buf, 0 at E, -1 corrupt. */
ssize_t qcontent_next(struct qcontent *c, const char **buf);
void qcontent_close(struct qcontent *c);

#endif
