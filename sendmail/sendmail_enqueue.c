/* sendmail_enqueue - sendmail -bm: read a message, hand it to postdrop.
 *
 * The steps, each of which can only fail before postdrop commits:
 *   1. sender (-f, else the login name), full name (-F, else the GECOS
 *      name when no -f was given), command-line recipients;
 *   2. with -t, read until the header block is complete and add the
 *      recipients of its To/Cc/Bcc (or Resent-*) headers;
 *   3. no recipient at all -> EX_USAGE, before postdrop ever runs;
 *   4. run postdrop, write the envelope, then stream the content as it
 *      is read (only the header block is ever held whole), then E;
 *   5. postdrop's exit status is ours.
 * Input that cannot be read ends the stream without E: postdrop removes
 * the partial file, and sendmail exits EX_NOINPUT.
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "addr.h"
#include "maildrop.h"
#include "mem.h"
#include "msg.h"
#include "rec.h"
#include "sendmail.h"

#define SM_READ_SIZE	65536

struct sm_reader {
	int fd;
	int eof;		/* end of input (EOF or lone dot) */
	struct sm_input conv;
	vstr content;		/* converted, not yet sent */
};

/* read_more - one read of the input into r->content; -1 with errno */
static int read_more(struct sm_reader *r)
{
	char buf[SM_READ_SIZE];
	struct pollfd pfd = {r->fd, POLLIN, 0};
	ssize_t n;

	for (;;) {
		n = read(r->fd, buf, sizeof(buf));
		if (n >= 0 || (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK))
			break;
		if (errno != EINTR)	/* a caller left stdin non-blocking */
			poll(&pfd, 1, -1);
	}
	if (n < 0)
		return -1;
	if (n == 0) {
		sm_input_finish(&r->conv, &r->content);
		r->eof = 1;
	} else if (sm_input_feed(&r->conv, buf, (size_t)n, &r->content)) {
		r->eof = 1;
	}
	return 0;
}

char *sm_gecos_name(const char *gecos, const char *login)
{
	vstr v = VSTR_INIT;
	size_t len;

	if (gecos == NULL)
		return NULL;
	len = strcspn(gecos, ",");
	for (size_t i = 0; i < len; i++) {
		if (gecos[i] != '&') {
			vstr_catc(&v, gecos[i]);
		} else if (login && *login) {
			vstr_catc(&v, toupper((unsigned char)login[0]));
			vstr_cat(&v, login + 1);
		}
	}
	if (vstr_len(&v) == 0 || !maildrop_field_ok(vstr_str(&v), vstr_len(&v))) {
		vstr_release(&v);
		return NULL;
	}
	return vstr_steal(&v);
}

struct sm_job {
	char *sender;
	char *fullname;
	char *who;		/* "sender(uid)" for messages */
	struct argv rcpts;
	struct sm_reader in;
};

/* job_envelope - step 1: sender, full name, command-line recipients */
static int job_envelope(struct sm_job *job, const struct sm_opts *o,
			const struct sm_identity *id, char **err)
{
	int status;

	if (o->sender) {
		if ((job->sender = sm_sender_address(o->sender, err)) == NULL)
			return EX_DATAERR;
	} else if (id->login == NULL) {
		*err = xasprintf("no login name found for user ID %ld", (long)id->uid);
		return EX_OSERR;
	} else {
		job->sender = xstrdup(id->login);
	}
	job->who = xasprintf("%s(%ld)", job->sender, (long)id->uid);
	if (o->fullname)
		job->fullname = xstrdup(o->fullname);
	else if (o->sender == NULL)
		job->fullname = sm_gecos_name(id->gecos, id->login);
	if ((status = sm_recipient_args(&o->rcpts, &job->rcpts, err)) != 0)
		return status;
	if (!o->extract && job->rcpts.n == 0) {
		*err = xasprintf("%s: Recipient addresses must be specified on the "
				 "command line or via the -t option", job->who);
		return EX_USAGE;
	}
	return 0;
}

/* add_header_rcpts - the -t recipients of the header block */
static void add_header_rcpts(struct sm_job *job, const char *block, size_t len)
{
	struct argv found = ARGV_INIT;
	int errors = sm_headers_recipients(block, len, &found);

	if (errors)
		msg_warn("%s: malformed address in message header: %s", job->who,
			 addr_error_text(errors));
	for (size_t i = 0; i < found.n; i++) {
		if (strlen(found.v[i]) > MAILDROP_FIELD_MAX)
			msg_warn("%s: recipient address in message header too long -- ignored",
				 job->who);
		else
			argv_add(&job->rcpts, found.v[i]);
	}
	argv_free(&found);
}

/* job_extract - step 2 and 3 for -t */
static int job_extract(struct sm_job *job, char **err)
{
	struct sm_headers h;

	sm_headers_init(&h);
	while (!sm_headers_scan(&h, vstr_str(&job->in.content), vstr_len(&job->in.content),
				job->in.eof)) {
		if (read_more(&job->in) < 0) {
			*err = xasprintf("%s: error reading input: %s", job->who, strerror(errno));
			return EX_NOINPUT;
		}
	}
	if (h.truncated)
		msg_warn("%s: header block longer than %d bytes: recipients after that are ignored",
			 job->who, SM_HEADER_SCAN_MAX);
	add_header_rcpts(job, vstr_str(&job->in.content), h.end);
	if (job->rcpts.n == 0) {
		*err = xasprintf("%s: No recipient addresses found in message header", job->who);
		return EX_USAGE;
	}
	return 0;
}

/* job_send - step 4: the records, streamed while input arrives */
static int job_send(struct sm_job *job, struct postdrop_pipe *d, const struct sm_opts *o)
{
	struct maildrop_envelope env = {job->sender, job->fullname, o->notify, o->ret,
				  o->envid, o->body_type, &job->rcpts};
	vstr out = VSTR_INIT;
	int read_errno = 0;

	maildrop_envelope_encode(&out, &env);
	for (;;) {
		maildrop_content_encode(&out, &job->in.content, job->in.eof);
		postdrop_write(d, &out);
		if (d->error || job->in.eof)
			break;
		if (read_more(&job->in) < 0) {
			read_errno = errno;
			break;
		}
	}
	if (read_errno == 0 && d->error == 0) {
		rec_encode(&out, REC_END, "", 0);
		postdrop_write(d, &out);
	}
	vstr_release(&out);
	return read_errno;
}

int sm_enqueue(const struct sm_opts *o, const struct sm_identity *id, int in_fd,
	       char **err)
{
	struct sm_job job;
	struct postdrop_pipe d;
	int status, read_errno;

	memset(&job, 0, sizeof(job));	/* empty strings, argv and vstr */
	job.in.fd = in_fd;
	*err = NULL;
	sm_input_init(&job.in.conv, !o->ignore_dots);
	if ((status = job_envelope(&job, o, id, err)) == 0
	    && (!o->extract || (status = job_extract(&job, err)) == 0)) {
		if (postdrop_start(&d, id->postdrop, id->config_dir, o->verbose, err) < 0) {
			status = EX_TEMPFAIL;
		} else {
			read_errno = job_send(&job, &d, o);
			status = postdrop_finish(&d);
			if (read_errno) {
				*err = xasprintf("%s: error reading input: %s", job.who,
						 strerror(read_errno));
				status = EX_NOINPUT;
			} else if (status != 0) {
				*err = xasprintf("%s: postdrop failed (exit status %d): message not queued",
						 job.who, status);
			}
		}
	}
	free(job.sender);
	free(job.fullname);
	free(job.who);
	argv_free(&job.rcpts);
	vstr_release(&job.in.content);
	return status;
}
