/* maildrop_client - handing a message to postdrop(1), the set-gid
 * program that commits it into maildrop/ (docs/QUEUE.md).
 *
 * Used by sendmail and by smtpd -S (sendmail -bs): neither is
 * privileged, so neither can reach public/cleanup; postdrop can. The
 * caller runs postdrop with fork and execv (no shell) and writes the
 * record stream of one message to its stdin: the envelope (S, F?, A*,
 * (N? R)+, M), the content as B records, then E. Only postdrop's exit
 * status says whether the file is safely in maildrop/.
 */
#ifndef POSTERN_MAILDROP_CLIENT_H
#define POSTERN_MAILDROP_CLIENT_H

#include <sys/types.h>

#include "argv.h"
#include "vstr.h"

struct maildrop_envelope {
	const char *sender;		/* "" = null sender */
	const char *fullname;		/* NULL = none */
	const char *notify;		/* "" or NULL = none */
	const char *ret;
	const char *envid;
	const char *body_type;
	const struct argv *rcpts;
};

/* maildrop_envelope_encode - the records before the content:
 * S, F?, A*, (N? R)+, M. */
void maildrop_envelope_encode(vstr *out, const struct maildrop_envelope *env);
/* maildrop_content_encode - content as B records of at most REC_CHUNK bytes;
 * with final, all of it, else only whole chunks. Consumes what it
 * encodes from content. */
void maildrop_content_encode(vstr *out, vstr *content, int final);

struct postdrop_pipe {
	pid_t pid;
	int fd;			/* postdrop's stdin */
	int error;		/* errno of the first failed write */
};

/* postdrop_start - runs path ("postdrop") with "-c config_dir" (and -v
 * verbose times) on a pipe. 0, or -1 with *err (malloc'ed). */
int postdrop_start(struct postdrop_pipe *d, const char *path, const char *config_dir,
		  int verbose, char **err);
/* postdrop_write - writes and empties buf; errors stick in d->error. */
void postdrop_write(struct postdrop_pipe *d, vstr *buf);
/* postdrop_finish - closes the pipe and waits: postdrop's exit status as
 * a sysexits code (EX_TEMPFAIL when it died by a signal). */
int postdrop_finish(struct postdrop_pipe *d);

#endif
