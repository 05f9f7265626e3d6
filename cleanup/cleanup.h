/* cleanup - the only writer of queue files: shared state of its modules.
 *
 * cleanup.c           the service: protocol loop (cleanup_client.h)
 * cleanup_message.c   envelope, recipients, the queue file, commit
 * cleanup_headers.c   the header block: drop, count, add missing headers
 */
#ifndef POSTERN_CLEANUP_H
#define POSTERN_CLEANUP_H

#include <stddef.h>
#include <sys/time.h>

#include "argv.h"
#include "qfile.h"
#include "rec.h"
#include "vstr.h"

struct cleanup_state {
	/* envelope as received */
	char *sender;
	char *origin;
	long uid;
	char *fullname;
	int flags;
	struct argv attrs;		/* "name=value" for A records */
	struct argv rcpt, orig, notify;	/* parallel */
	/* the queue file */
	int fd;
	char id[QID_MAX];
	char *dir;			/* "incoming" or "hold" */
	struct timeval arrival;
	struct rec_writer w;
	off_t size_offset;		/* of the C record */
	off_t content_offset;		/* of the M record */
	long long content_size;		/* bytes of content written */
	long long received;		/* bytes of content received */
	/* content state */
	int in_body;			/* header block finished */
	vstr header;			/* header block being collected */
	char *message_id;
	/* the verdict */
	int status;			/* 0, 4 or 5 */
	char dsn[16];
	char reason[256];
};

/* cleanup_message.c */
void cleanup_state_init(struct cleanup_state *st);
void cleanup_state_free(struct cleanup_state *st);
void cleanup_fail(struct cleanup_state *st, int status, const char *dsn, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int cleanup_open_file(struct cleanup_state *st);
void cleanup_add_rcpt(struct cleanup_state *st, const char *addr, const char *orig, const char *notify);
void cleanup_content(struct cleanup_state *st, const char *buf, size_t len);
void cleanup_write_body(struct cleanup_state *st, const char *buf, size_t len);
void cleanup_to_hold(struct cleanup_state *st);	/* commit into hold/ instead */
void cleanup_message_finish(struct cleanup_state *st);
void cleanup_message_abort(struct cleanup_state *st);

/* cleanup_headers.c */
/* cleanup_header_split - how many bytes of text (a prefix of the content)
 * form the header block, including the empty line that ends it; -1 when
 * the block has not ended yet. *body_sep is set when a blank line must be
 * inserted (the body started without one). */
long cleanup_header_split(const char *text, size_t len, int at_end, int *body_sep);
/* cleanup_headers_process - the header block as it goes into the queue
 * file: dropped headers removed, missing ones added; sets st->message_id
 * or fails st (hop count). */
void cleanup_headers_process(struct cleanup_state *st, const char *hdr, size_t len,
			     int body_sep, vstr *out);

#endif
