/* attr - the attribute-list codec that postern programs talk to each other in.
 *
 * A request or reply is one frame: a 4-byte big-endian body length, then the
 * body, a sequence of attributes, each
 *     u16 BE name length (1..ATTR_NAME_MAX), name ([a-z0-9_]),
 *     u32 BE value length, value bytes (any bytes).
 * Nothing is parsed from free text: every length is explicit and checked
 * against hard caps (the frame size given by the reader, ATTR_COUNT_MAX
 * attributes), and a body with missing or trailing bytes is malformed.
 *
 * Readers ask for attributes by name with typed getters that fail on a
 * missing or ill-typed value. attr_get_line additionally refuses CR, LF and
 * NUL, for envelope fields that must never become a record boundary.
 */
#ifndef POSTERN_ATTR_H
#define POSTERN_ATTR_H

#include <stddef.h>

#include "vstr.h"

#define ATTR_NAME_MAX		64
#define ATTR_COUNT_MAX		4096
#define ATTR_FRAME_MAX		(1024 * 1024)	/* default cap for readers */

struct attr {
	char *name;
	char *value;		/* NUL-terminated in memory; may contain NUL */
	size_t len;		/* value length */
};

struct attr_list {
	struct attr *v;
	size_t n, cap;
};

#define ATTR_LIST_INIT { NULL, 0, 0 }

/* Building. Names must match [a-z0-9_]{1,ATTR_NAME_MAX}: a bad name is a
 * programming error (msg_panic). */
void attr_add_str(struct attr_list *l, const char *name, const char *value);
void attr_add_int(struct attr_list *l, const char *name, long long value);
void attr_add_data(struct attr_list *l, const char *name, const void *data, size_t len);
void attr_list_clear(struct attr_list *l);	/* frees contents; l reusable */

/* Reading. Each returns 0 and sets *out, or -1 when the attribute is missing
 * or does not have the type asked for. The first attribute with the name is
 * used. attr_get_str refuses NUL in the value; attr_get_line also CR and LF;
 * attr_get_int takes a decimal integer that fits long long, nothing else. */
const struct attr *attr_find(const struct attr_list *l, const char *name);
int attr_get_str(const struct attr_list *l, const char *name, const char **out);
int attr_get_line(const struct attr_list *l, const char *name, const char **out);
int attr_get_int(const struct attr_list *l, const char *name, long long *out);
int attr_get_data(const struct attr_list *l, const char *name, const void **out, size_t *len);

/* attr_encode - appends one frame for l to out. */
void attr_encode(const struct attr_list *l, vstr *out);

/* attr_decode_body - parses one frame body (without the 4-byte length).
 * Returns 0, or -1 with a static reason in *err. l is cleared first. */
int attr_decode_body(const void *body, size_t len, struct attr_list *l, const char **err);

/* Incremental decoding for event-driven readers: feed bytes as they come,
 * then take whole frames out. Bytes of the next frame stay buffered. */
struct attr_decoder {
	vstr buf;
	size_t max_frame;
};

enum { ATTR_DEC_MORE = 1, ATTR_DEC_FRAME = 0, ATTR_DEC_ERROR = -1 };

void attr_decoder_init(struct attr_decoder *d, size_t max_frame);
void attr_decoder_free(struct attr_decoder *d);
void attr_decoder_feed(struct attr_decoder *d, const void *data, size_t len);
/* attr_decoder_next - ATTR_DEC_FRAME with l filled, ATTR_DEC_MORE when no
 * whole frame is buffered yet, ATTR_DEC_ERROR with *err for a frame over
 * max_frame or a malformed body (the stream is then unusable). */
int attr_decoder_next(struct attr_decoder *d, struct attr_list *l, const char **err);
size_t attr_decoder_pending(const struct attr_decoder *d);	/* buffered bytes */

/* Blocking I/O with a deadline for the whole frame (timeout_ms > 0).
 * attr_write returns 0 or -1 (errno; ETIMEDOUT on deadline).
 * attr_read returns 0 with l filled, 1 on a clean EOF before the first
 * byte, or -1 with errno: ETIMEDOUT, EMSGSIZE (frame over max_frame),
 * EBADMSG (malformed or truncated: EOF inside a frame), or an I/O errno. */
int attr_write(int fd, const struct attr_list *l, int timeout_ms);
int attr_read(int fd, struct attr_list *l, size_t max_frame, int timeout_ms);

#endif
