/* rec - typed records: the format of queue files and maildrop files.
 *
 * A record is one type byte, the payload length as a varint (7 bits per
 * byte, least significant group first, high bit set on every byte but the
 * last, at most REC_LEN_BYTES bytes), then the payload (any bytes). Every
 * reader states the largest payload it accepts; a longer one, a varint that
 * does not end, or a file that ends inside a record is an error, never a
 * crash or an unbounded allocation.
 *
 * Writers append through a buffer and learn the file offset of each record
 * they write, so one byte of a recipient record can later be rewritten in
 * place (rec_mark: R -> D when the recipient is done).
 */
#ifndef POSTERN_REC_H
#define POSTERN_REC_H

#include <stddef.h>
#include <sys/types.h>

#include "vstr.h"

#define REC_LEN_BYTES	5		/* up to 2^35-1 */
#define REC_CHUNK	65536		/* content chunk size (B records) */

/* Record types. Queue files and maildrop files share them (docs/QUEUE.md). */
#define REC_VERSION	'V'	/* format name and version, always first */
#define REC_SIZE	'C'	/* fixed-width "content_size content_offset nrcpt" */
#define REC_TIME	'T'	/* arrival "seconds microseconds" */
#define REC_ATTR	'A'	/* "name=value" */
#define REC_WARN	'W'	/* fixed-width delay warning time, 0 = none or sent */
#define REC_FULLNAME	'F'	/* sender full name (maildrop only) */
#define REC_SENDER	'S'	/* envelope sender, "" = null sender */
#define REC_ORCPT	'O'	/* original recipient of the next R */
#define REC_NOTIFY	'N'	/* DSN NOTIFY of the next R */
#define REC_RCPT	'R'	/* recipient, not yet done */
#define REC_DONE	'D'	/* recipient, done (was R) */
#define REC_MESSAGE	'M'	/* start of content (empty payload) */
#define REC_BODY	'B'	/* content bytes, LF line ends, <= REC_CHUNK */
#define REC_END		'E'	/* end of file (empty payload) */

/* Writing. */
struct rec_writer {
	int fd;
	off_t offset;		/* file offset of the next byte written */
	vstr buf;
	int error;		/* errno of the first failed write, sticky */
};

void rec_writer_init(struct rec_writer *w, int fd, off_t offset);
/* rec_put - buffers one record; returns its file offset. */
off_t rec_put(struct rec_writer *w, int type, const void *data, size_t len);
off_t rec_puts(struct rec_writer *w, int type, const char *str);
off_t rec_putf(struct rec_writer *w, int type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* rec_flush - writes out the buffer; 0, or -1 with errno (also sticky). */
int rec_flush(struct rec_writer *w);
void rec_writer_free(struct rec_writer *w);

/* rec_encode - appends one record to a buffer (no file). */
void rec_encode(vstr *out, int type, const void *data, size_t len);

/* Reading. */
struct rec_reader {
	int fd;
	off_t offset;		/* file offset of the next unread byte */
	char buf[8192];
	size_t pos, len;
};

enum { REC_OK = 0, REC_EOF = 1, REC_ERR = -1 };

void rec_reader_init(struct rec_reader *r, int fd, off_t offset);
/* rec_get - reads one record into payload (replaced; NUL-terminated in
 * memory). Returns REC_OK with *type and *where (offset of the type byte),
 * REC_EOF at a clean end of file, or REC_ERR with *err: "truncated
 * record", "record too long", "bad record length", or an I/O error text. */
int rec_get(struct rec_reader *r, int *type, vstr *payload, size_t max_len,
	    off_t *where, const char **err);

/* rec_decode - one record from memory (same checks): returns the bytes
 * used, 0 when more input is needed, or -1 when malformed. */
ssize_t rec_decode(const char *buf, size_t len, int *type, const char **data,
		   size_t *dlen, size_t max_len);

/* rec_mark - rewrites the type byte at offset (R -> D). 0 or -1 (errno). */
int rec_mark(int fd, off_t offset, int type);

#endif
