/* master_status - reads what children report on their service's status pipe.
 *
 * Reports from an older generation (children started before a reload) are
 * ignored: those children are counted as busy until they exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "master.h"
#include "master_proto.h"
#include "mem.h"
#include "msg.h"

static void status_record(struct master_service *s, const struct master_status *st)
{
	struct master_proc *p = master_proc_find(st->pid);

	if (p == NULL || p->serv != s || st->generation != s->generation
	    || p->generation != s->generation)
		return;
	switch (st->status) {
	case MASTER_STAT_READY:
		p->ready = 1;
		break;
	case MASTER_STAT_TAKEN:
		p->ready = 1;
		p->use_count++;
		master_proc_avail(p, 0);
		if (!s->used) {
			s->used = 1;
			master_wakeup_start(s);
		}
		break;
	case MASTER_STAT_AVAIL:
		master_proc_avail(p, 1);
		break;
	default:
		msg_warn("%s: pid %ld sent bad status %d", s->id, (long)st->pid, st->status);
	}
}

static void status_readable(int fd, int events, void *ctx)
{
	struct master_service *s = ctx;
	struct master_status st[64];
	ssize_t n;

	(void)events;
	n = read(fd, st, sizeof(st));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || n % (ssize_t)sizeof(st[0]) != 0) {
		msg_warn("%s: status pipe: %s", s->id, n < 0 ? strerror(errno) : "short read");
		return;
	}
	for (ssize_t i = 0; i < n / (ssize_t)sizeof(st[0]); i++)
		status_record(s, &st[i]);
	master_listen_update(s);
}

int master_status_open(struct master_service *s, char **err)
{
	if (pipe2(s->status_fd, O_CLOEXEC) < 0) {
		*err = xasprintf("%s: pipe: %s", s->id, strerror(errno));
		return -1;
	}
	fcntl(s->status_fd[0], F_SETFL, O_NONBLOCK);
	ev_fd_set(master_loop, s->status_fd[0], EV_READ, status_readable, s);
	return 0;
}

void master_status_close(struct master_service *s)
{
	if (s->status_fd[0] >= 0) {
		ev_fd_del(master_loop, s->status_fd[0]);
		close(s->status_fd[0]);
		close(s->status_fd[1]);
	}
	s->status_fd[0] = s->status_fd[1] = -1;
}
