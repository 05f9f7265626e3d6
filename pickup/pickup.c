/* pickup - moves local submissions from maildrop/ into the queue.
 *
 * postdrop leaves committed files (mode 0444) in maildrop/; on each wakeup
 * pickup reads every one, re-validating it as untrusted input (the
 * submitting user wrote it through sendmail), hands it to cleanup, and
 * removes it only after cleanup has committed the queue file
 * (docs/QUEUE.md row 2: a crash in between means a duplicate, never a
 * loss). A file that does not parse goes to corrupt/. A message that
 * cleanup refuses for good (too big, too many hops) is removed after the
 * sender has been sent a notice, so it cannot block the queue.
 *
 * master.cf: pickup unix n - n 60 1 pickup
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup_client.h"
#include "config.h"
#include "mem.h"
#include "msg.h"
#include "qfile.h"
#include "rec.h"
#include "server.h"

#define MAILDROP		"maildrop"
#define STALE_SECONDS		(24 * 3600)
#define MAX_FIELD		4096

struct dropped {
	char *sender, *fullname;
	long uid;
	long long arrival;
	struct cleanup_envelope env;
	char *envid, *ret, *body_type, *smtputf8;
};

/* field_ok - envelope text must be one line */
static int field_ok(const vstr *p)
{
	return memchr(vstr_str(p), '\r', vstr_len(p)) == NULL
	    && memchr(vstr_str(p), '\n', vstr_len(p)) == NULL
	    && strlen(vstr_str(p)) == vstr_len(p);
}

/* take_attr - the A records postdrop and sendmail may write */
static void take_attr(struct dropped *d, const char *kv)
{
	if (strncmp(kv, "uid=", 4) == 0)
		d->uid = atol(kv + 4);
	else if (strncmp(kv, "envid=", 6) == 0)
		d->envid = xstrdup(kv + 6);
	else if (strncmp(kv, "ret=", 4) == 0)
		d->ret = xstrdup(kv + 4);
	else if (strncmp(kv, "body_type=", 10) == 0)
		d->body_type = xstrdup(kv + 10);
	else if (strncmp(kv, "smtputf8=", 9) == 0 && d->smtputf8 == NULL)
		d->smtputf8 = xstrdup(kv + 9);
}

static void dropped_free(struct dropped *d)
{
	free(d->sender);
	free(d->fullname);
	free(d->envid);
	free(d->ret);
	free(d->body_type);
	free(d->smtputf8);
}

/* relay_file - reads the maildrop file and streams it to cleanup.
 * Returns 0 with *res filled, -1 when the file is corrupt (*why set). */
static int relay_file(int fd, struct cleanup_client **cp, struct dropped *d,
		      struct cleanup_result *res, const char **why)
{
	struct rec_reader r;
	vstr p = VSTR_INIT, notify = VSTR_INIT;
	int type, ret, stage = 0, nrcpt = 0;
	char *err = NULL;

	rec_reader_init(&r, fd, 0);
	while ((ret = rec_get(&r, &type, &p, stage == 2 ? REC_CHUNK : MAX_FIELD, NULL, why)) == REC_OK) {
		if (stage == 0 && (type != REC_VERSION || strcmp(vstr_str(&p), "postern-maildrop 1") != 0)) {
			*why = "not a maildrop file";
			break;
		}
		if (stage < 2 && type != REC_BODY && type != REC_MESSAGE && !field_ok(&p)) {
			*why = "bad envelope field";
			break;
		}
		if (stage != 1 && type != REC_VERSION && type != REC_MESSAGE && type != REC_BODY
		    && type != REC_END) {
			*why = "envelope record inside the content";
			break;
		}
		if (type == REC_VERSION && stage != 0) {
			*why = "second version record";
			break;
		}
		switch (type) {
		case REC_VERSION: stage = 1; continue;
		case REC_TIME: d->arrival = atoll(vstr_str(&p)); continue;
		case REC_ATTR: take_attr(d, vstr_str(&p)); continue;
		case REC_FULLNAME: free(d->fullname); d->fullname = xstrdup(vstr_str(&p)); continue;
		case REC_SENDER: free(d->sender); d->sender = xstrdup(vstr_str(&p)); continue;
		case REC_NOTIFY: vstr_cpy(&notify, vstr_str(&p)); continue;
		default: break;
		}
		if (type == REC_RCPT && stage == 1) {
			if (*cp == NULL) {
				d->env.sender = d->sender ? d->sender : "";
				d->env.origin = "local";
				d->env.uid = d->uid;
				d->env.fullname = d->fullname;
				d->env.arrival = d->arrival;
				d->env.flags = CLEANUP_FLAG_LOCAL;
				d->env.envid = d->envid;
				d->env.ret = d->ret;
				d->env.body_type = d->body_type;
				d->env.smtputf8 = d->smtputf8;
				if ((*cp = cleanup_open(NULL, &err)) == NULL) {
					res->status = 4;
					snprintf(res->reason, sizeof(res->reason), "%s", err);
					free(err);
					vstr_release(&p);
					vstr_release(&notify);
					return 0;
				}
				cleanup_envelope(*cp, &d->env);
			}
			cleanup_rcpt(*cp, vstr_str(&p), NULL, vstr_len(&notify) ? vstr_str(&notify) : NULL);
			vstr_reset(&notify);
			nrcpt++;
		} else if (type == REC_MESSAGE && stage == 1 && nrcpt > 0) {
			stage = 2;
		} else if (type == REC_BODY && stage == 2) {
			cleanup_data(*cp, vstr_str(&p), vstr_len(&p));
		} else if (type == REC_END && stage == 2) {
			stage = 3;
			break;
		} else {
			*why = "record out of order";
			break;
		}
	}
	vstr_release(&p);
	vstr_release(&notify);
	if (stage != 3) {
		if (ret == REC_EOF)
			*why = "no end record";
		return -1;
	}
	cleanup_finish(*cp, res);
	*cp = NULL;
	return 0;
}

/* notify_sender - cleanup refused the message for good: tell the sender */
static int notify_sender(const struct dropped *d, const struct cleanup_result *res, const char *name)
{
	struct cleanup_envelope env = {"", "bounce", -1, NULL, 0, 0, NULL, NULL, NULL, "bounce", name, NULL};
	struct cleanup_result r2;
	struct cleanup_client *c;
	char *err = NULL, *text;

	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	if (d->sender == NULL || *d->sender == 0)
		return 0;		/* nobody to tell */
	if ((c = cleanup_open(NULL, &err)) == NULL) {
		free(err);
		return -1;
	}
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z (%Z)", &tm);
	cleanup_envelope(c, &env);
	cleanup_rcpt(c, d->sender, NULL, NULL);
	text = xasprintf("Date: %s\nMessage-Id: <%ld.%s.notice@%s>\n"
			 "From: MAILER-DAEMON@%s (Mail Delivery System)\nTo: %s\n"
			 "Subject: Undelivered Mail Returned to Sender\nAuto-Submitted: auto-replied\n\n"
			 "Your message could not be queued at %s:\n\n    %s %s\n",
			 date, (long)now, name, conf_str("myhostname"), conf_str("myhostname"), d->sender,
			 conf_str("myhostname"), res->dsn, res->reason);
	cleanup_data(c, text, strlen(text));
	free(text);
	return cleanup_finish(c, &r2) == 0 ? 0 : -1;
}

static void move_to_corrupt(const char *name, const char *why)
{
	char from[512], to[512];

	snprintf(from, sizeof(from), MAILDROP "/%s", name);
	snprintf(to, sizeof(to), "corrupt/%s", name);
	msg_warn("%s: maildrop file is corrupt (%s): moved to corrupt/", name, why);
	if (rename(from, to) < 0)
		msg_warn("rename %s to %s: %m", from, to);
}

/* pickup_file - one maildrop file; -1 when pickup should stop this round */
static int pickup_file(const char *name)
{
	struct dropped d = {.uid = -1};
	struct cleanup_client *c = NULL;
	struct cleanup_result res = {0};
	char path[512];
	const char *why = NULL;
	int fd, ret = 0;

	snprintf(path, sizeof(path), MAILDROP "/%s", name);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return 0;	/* gone meanwhile */
	if (relay_file(fd, &c, &d, &res, &why) < 0) {
		if (c)
			cleanup_abort(c);	/* cleanup discards what it got */
		move_to_corrupt(name, why);
	} else if (res.status == 0) {
		msg_info("%s: uid=%ld from=<%s>", res.queue_id, d.uid, d.sender ? d.sender : "");
		unlink(path);
	} else if (res.status == 5) {
		msg_warn("%s: uid=%ld from=<%s>: rejected: %s %s", name, d.uid, d.sender ? d.sender : "",
			 res.dsn, res.reason);
		if (notify_sender(&d, &res, name) == 0)
			unlink(path);
		else
			ret = -1;	/* keep it until the sender can be told */
	} else {
		msg_warn("%s: cannot queue it now, will retry: %s", name, res.reason);
		ret = -1;
	}
	close(fd);
	dropped_free(&d);
	return ret;
}

/* stale - an unfinished postdrop file old enough to be abandoned */
static int stale(const struct stat *st)
{
	return time(NULL) - st->st_mtime > STALE_SECONDS;
}

static void scan_maildrop(const char *buf, size_t len)
{
	DIR *dir = opendir(MAILDROP);
	struct dirent *de;
	struct stat st;
	char path[512];

	(void)buf;
	(void)len;
	if (dir == NULL) {
		msg_warn("open %s: %m", MAILDROP);
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), MAILDROP "/%s", de->d_name);
		if (lstat(path, &st) < 0)
			continue;
		if (!queue_file_complete(&st, QFILE_MODE_MAILDROP)) {
			if (S_ISREG(st.st_mode) && stale(&st) && unlink(path) == 0)
				msg_info("removed stale unfinished maildrop file %s", de->d_name);
			continue;
		}
		if (pickup_file(de->d_name) < 0)
			break;
	}
	closedir(dir);
}

static const struct server_ops pickup_ops = {
	.mode = SERVER_TRIGGER,
	.trigger = scan_maildrop,
};

int main(int argc, char **argv)
{
	server_main(argc, argv, &pickup_ops);
}
