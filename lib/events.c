/* events - a single-threaded epoll event loop with timers and signals.
 *
 * See events.h for the contract. How callbacks stay safe while they change
 * the loop under its own feet:
 *  - Watched fds live in a table indexed by fd. Every time a watch is
 *    (re)created it gets a fresh generation number, which epoll hands back
 *    with each event; before every callback the record is looked up again
 *    and an event whose fd was removed (or removed and re-added) meanwhile
 *    is dropped. Events are also masked with the record's current interest.
 *  - Timers sit in a binary min-heap keyed by (due time, id); ids grow
 *    monotonically, so they double as the tie-break that keeps timers due
 *    at the same time in the order they were added. A second array, sorted
 *    by id, finds a timer for ev_timer_cancel. A dispatch round fires only
 *    timers that existed and were due when it began, so a callback that
 *    re-arms itself with 0 ms cannot starve the loop.
 *  - Signals: the handler sets a pending flag and writes the signal number
 *    to a non-blocking self-pipe whose read end is an ordinary watched fd.
 *    The flags make delivery robust even if the pipe is full. Only one loop
 *    per process can own signals (the handler needs a global pipe).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "events.h"
#include "mem.h"
#include "msg.h"

#define EV_BATCH	64

struct ev_fdrec {
	ev_fd_cb cb;
	void *ctx;
	int events;		/* EV_READ|EV_WRITE; 0 = not watched */
	uint32_t gen;
};

struct ev_timer {
	uint64_t id;
	long long due;
	size_t heap_pos;
	ev_timer_cb cb;
	void *ctx;
};

struct ev_sigrec {
	ev_signal_cb cb;
	void *ctx;
	struct sigaction old;
};

struct ev_loop {
	int epfd;
	int stop;
	uint32_t gen_next;
	struct ev_fdrec *fds;	/* indexed by fd */
	size_t nfds;
	struct ev_timer **heap;	/* min-heap by (due, id) */
	struct ev_timer **byid;	/* sorted by id, same timers */
	size_t ntimers, tcap;
	uint64_t id_next;
	int sig_r;		/* self-pipe read end, -1 when none */
	struct ev_sigrec sigs[NSIG];
};

/* The self-pipe's write end and pending flags, for the signal handler. */
static int ev_sig_w = -1;
static struct ev_loop *ev_sig_owner;
static volatile sig_atomic_t ev_sig_pending[NSIG];

long long ev_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		msg_fatal("clock_gettime: %m");
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct ev_loop *ev_new(void)
{
	struct ev_loop *loop = xcalloc(1, sizeof(*loop));

	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		msg_fatal("epoll_create1: %m");
	loop->gen_next = 1;
	loop->id_next = 1;
	loop->sig_r = -1;
	return loop;
}

/* ev_sig_restore - puts back the disposition found by ev_signal, or SIG_DFL */
static void ev_sig_restore(struct ev_loop *loop, int to_default)
{
	struct sigaction dfl;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	for (int s = 1; s < NSIG; s++) {
		if (loop->sigs[s].cb == NULL)
			continue;
		sigaction(s, to_default ? &dfl : &loop->sigs[s].old, NULL);
		loop->sigs[s].cb = NULL;
	}
}

/* ev_sig_close - closes the self-pipe without touching epoll (see below) */
static void ev_sig_close(struct ev_loop *loop)
{
	if (ev_sig_owner != loop)
		return;
	if (loop->sig_r >= 0 && (size_t)loop->sig_r < loop->nfds)
		loop->fds[loop->sig_r].events = 0;
	if (loop->sig_r >= 0)
		close(loop->sig_r);
	if (ev_sig_w >= 0)
		close(ev_sig_w);
	loop->sig_r = ev_sig_w = -1;
	ev_sig_owner = NULL;
}

void ev_free(struct ev_loop *loop)
{
	if (loop == NULL)
		return;
	if (ev_sig_owner == loop) {
		ev_sig_restore(loop, 0);
		ev_sig_close(loop);
	}
	for (size_t i = 0; i < loop->ntimers; i++)
		free(loop->heap[i]);
	free(loop->heap);
	free(loop->byid);
	free(loop->fds);
	close(loop->epfd);
	free(loop);
}

/* ev_fd_grow - makes loop->fds[fd] exist */
static void ev_fd_grow(struct ev_loop *loop, int fd)
{
	size_t want = (size_t)fd + 1, n = loop->nfds ? loop->nfds : 16;

	if (want <= loop->nfds)
		return;
	while (n < want)
		n *= 2;
	loop->fds = xreallocarray(loop->fds, n, sizeof(*loop->fds));
	memset(loop->fds + loop->nfds, 0, (n - loop->nfds) * sizeof(*loop->fds));
	loop->nfds = n;
}

/* ev_epoll_ctl - add or modify; an fd that was closed behind our back (so
 * epoll forgot it) or was added by an earlier owner is handled either way */
static int ev_epoll_ctl(struct ev_loop *loop, int fd, struct ev_fdrec *r, int events)
{
	struct epoll_event ee;
	int op = r->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	uint32_t gen = r->events ? r->gen : loop->gen_next++;

	for (int attempt = 0; attempt < 2; attempt++) {
		memset(&ee, 0, sizeof(ee));
		ee.events = ((events & EV_READ) ? EPOLLIN : 0) | ((events & EV_WRITE) ? EPOLLOUT : 0);
		ee.data.u64 = ((uint64_t)gen << 32) | (uint32_t)fd;
		if (epoll_ctl(loop->epfd, op, fd, &ee) == 0) {
			r->gen = gen;
			return 0;
		}
		if (op == EPOLL_CTL_MOD && errno == ENOENT) {
			op = EPOLL_CTL_ADD;
			gen = loop->gen_next++;
		} else if (op == EPOLL_CTL_ADD && errno == EEXIST) {
			op = EPOLL_CTL_MOD;
		} else {
			return -1;
		}
	}
	return -1;
}

int ev_fd_set(struct ev_loop *loop, int fd, int events, ev_fd_cb cb, void *ctx)
{
	struct ev_fdrec *r;

	if (fd < 0 || (events & ~(EV_READ | EV_WRITE)) || (events && cb == NULL)) {
		errno = EINVAL;
		return -1;
	}
	if (events == 0) {
		ev_fd_del(loop, fd);
		return 0;
	}
	ev_fd_grow(loop, fd);
	r = &loop->fds[fd];
	if (ev_epoll_ctl(loop, fd, r, events) < 0)
		return -1;
	r->events = events;
	r->cb = cb;
	r->ctx = ctx;
	return 0;
}

void ev_fd_del(struct ev_loop *loop, int fd)
{
	if (fd < 0 || (size_t)fd >= loop->nfds || loop->fds[fd].events == 0)
		return;
	/* Fails harmlessly when fd was already closed. */
	(void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	loop->fds[fd].events = 0;
	loop->fds[fd].cb = NULL;
	loop->fds[fd].ctx = NULL;
}

/* Timers: heap helpers. */

static int ev_timer_before(const struct ev_timer *a, const struct ev_timer *b)
{
	return a->due < b->due || (a->due == b->due && a->id < b->id);
}

static void ev_heap_put(struct ev_loop *loop, size_t i, struct ev_timer *t)
{
	loop->heap[i] = t;
	t->heap_pos = i;
}

static void ev_heap_up(struct ev_loop *loop, size_t i)
{
	struct ev_timer *t = loop->heap[i];

	while (i > 0 && ev_timer_before(t, loop->heap[(i - 1) / 2])) {
		ev_heap_put(loop, i, loop->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	ev_heap_put(loop, i, t);
}

static void ev_heap_down(struct ev_loop *loop, size_t i)
{
	struct ev_timer *t = loop->heap[i];
	size_t n = loop->ntimers;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && ev_timer_before(loop->heap[c + 1], loop->heap[c]))
			c++;
		if (!ev_timer_before(loop->heap[c], t))
			break;
		ev_heap_put(loop, i, loop->heap[c]);
		i = c;
	}
	ev_heap_put(loop, i, t);
}

/* ev_byid_find - index of id in loop->byid, or ntimers when absent */
static size_t ev_byid_find(const struct ev_loop *loop, uint64_t id)
{
	size_t lo = 0, hi = loop->ntimers;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (loop->byid[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < loop->ntimers && loop->byid[lo]->id == id ? lo : loop->ntimers;
}

/* ev_timer_remove - takes t out of both arrays (byid index k) and frees it */
static void ev_timer_remove(struct ev_loop *loop, size_t k)
{
	struct ev_timer *t = loop->byid[k];
	size_t pos = t->heap_pos, last = --loop->ntimers;

	memmove(loop->byid + k, loop->byid + k + 1, (last - k) * sizeof(*loop->byid));
	if (pos != last) {
		ev_heap_put(loop, pos, loop->heap[last]);
		ev_heap_down(loop, pos);
		ev_heap_up(loop, pos);
	}
	free(t);
}

uint64_t ev_timer_add(struct ev_loop *loop, long long ms, ev_timer_cb cb, void *ctx)
{
	struct ev_timer *t = xmalloc(sizeof(*t));
	long long now = ev_now_ms();

	if (ms < 0)
		ms = 0;
	if (ms > LLONG_MAX - now)
		ms = LLONG_MAX - now;
	if (loop->ntimers == loop->tcap) {
		loop->tcap = loop->tcap ? loop->tcap * 2 : 16;
		loop->heap = xreallocarray(loop->heap, loop->tcap, sizeof(*loop->heap));
		loop->byid = xreallocarray(loop->byid, loop->tcap, sizeof(*loop->byid));
	}
	t->id = loop->id_next++;
	t->due = now + ms;
	t->cb = cb;
	t->ctx = ctx;
	loop->byid[loop->ntimers] = t;	/* ids only grow: stays sorted */
	loop->heap[loop->ntimers] = t;
	ev_heap_up(loop, loop->ntimers++);
	return t->id;
}

int ev_timer_cancel(struct ev_loop *loop, uint64_t id)
{
	size_t k = ev_byid_find(loop, id);

	if (k == loop->ntimers)
		return -1;
	ev_timer_remove(loop, k);
	return 0;
}

/* ev_timers_run - fires timers due at now that were added before the
 * round began (id < id_limit); returns how many ran */
static int ev_timers_run(struct ev_loop *loop)
{
	long long now = ev_now_ms();
	uint64_t id_limit = loop->id_next;
	int ran = 0;

	while (loop->ntimers > 0) {
		struct ev_timer *t = loop->heap[0];
		ev_timer_cb cb = t->cb;
		void *ctx = t->ctx;

		if (t->due > now || t->id >= id_limit)
			break;
		ev_timer_remove(loop, ev_byid_find(loop, t->id));
		cb(ctx);
		ran++;
	}
	return ran;
}

/* Signals. */

static void ev_sig_handler(int signo)
{
	int saved = errno;
	unsigned char b = (unsigned char)signo;

	if (signo > 0 && signo < NSIG)
		ev_sig_pending[signo] = 1;
	if (ev_sig_w >= 0)
		(void)!write(ev_sig_w, &b, 1);
	errno = saved;
}

/* ev_sig_dispatch - drains the self-pipe and runs pending callbacks */
static int ev_sig_dispatch(struct ev_loop *loop)
{
	unsigned char buf[256];
	int ran = 0;

	while (read(loop->sig_r, buf, sizeof(buf)) > 0)
		;
	for (int s = 1; s < NSIG; s++) {
		if (!ev_sig_pending[s])
			continue;
		ev_sig_pending[s] = 0;
		if (loop->sigs[s].cb) {
			loop->sigs[s].cb(s, loop->sigs[s].ctx);
			ran++;
		}
	}
	return ran;
}

/* ev_sig_pipe_cb - placeholder callback; ev_dispatch_fd special-cases sig_r */
static void ev_sig_pipe_cb(int fd, int events, void *ctx)
{
	(void)fd;
	(void)events;
	(void)ctx;
}

/* ev_sig_open - creates the self-pipe and watches its read end */
static int ev_sig_open(struct ev_loop *loop)
{
	int p[2];

	if (ev_sig_owner == loop)
		return 0;
	if (ev_sig_owner != NULL) {
		errno = EBUSY;
		return -1;
	}
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	if (ev_fd_set(loop, p[0], EV_READ, ev_sig_pipe_cb, NULL) < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	loop->sig_r = p[0];
	ev_sig_w = p[1];
	ev_sig_owner = loop;
	return 0;
}

int ev_signal(struct ev_loop *loop, int signo, ev_signal_cb cb, void *ctx)
{
	struct sigaction sa;
	struct ev_sigrec *s;

	if (signo <= 0 || signo >= NSIG || cb == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (ev_sig_open(loop) < 0)
		return -1;
	s = &loop->sigs[signo];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = ev_sig_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(signo, &sa, s->cb ? NULL : &s->old) < 0)
		return -1;
	s->cb = cb;
	s->ctx = ctx;
	return 0;
}

/* In a forked child the epoll instance is shared with the parent, so
 * nothing here may call epoll_ctl: that would change the parent's loop. */
void ev_signal_reset_child(struct ev_loop *loop)
{
	if (ev_sig_owner != loop)
		return;
	ev_sig_restore(loop, 1);
	ev_sig_close(loop);
	for (int s = 1; s < NSIG; s++)
		ev_sig_pending[s] = 0;
}

/* Dispatch. */

/* ev_dispatch_fd - runs the callback for one epoll event if the watch that
 * produced it still exists; returns the number of callbacks run */
static int ev_dispatch_fd(struct ev_loop *loop, const struct epoll_event *ee)
{
	int fd = (int)(uint32_t)ee->data.u64;
	uint32_t gen = (uint32_t)(ee->data.u64 >> 32);
	struct ev_fdrec *r;
	int ev = 0;

	if ((size_t)fd >= loop->nfds)
		return 0;
	r = &loop->fds[fd];
	if (r->events == 0 || r->gen != gen)
		return 0;
	if (fd == loop->sig_r)
		return ev_sig_dispatch(loop);
	if (ee->events & EPOLLIN)
		ev |= EV_READ;
	if (ee->events & EPOLLOUT)
		ev |= EV_WRITE;
	ev &= r->events;
	if (ee->events & (EPOLLERR | EPOLLHUP))
		ev |= EV_ERROR | EV_READ;
	if (ev == 0)
		return 0;
	r->cb(fd, ev, r->ctx);
	return 1;
}

/* ev_wait_ms - the epoll timeout: until the next timer, capped by max */
static int ev_wait_ms(const struct ev_loop *loop, long long max_wait_ms)
{
	long long wait = max_wait_ms < 0 ? -1 : max_wait_ms;

	if (loop->ntimers > 0) {
		long long left = loop->heap[0]->due - ev_now_ms();

		if (left < 0)
			left = 0;
		if (wait < 0 || left < wait)
			wait = left;
	}
	return wait > INT_MAX ? INT_MAX : (int)wait;
}

int ev_run_once(struct ev_loop *loop, long long max_wait_ms)
{
	struct epoll_event evs[EV_BATCH];
	int n, ran = 0;

	n = epoll_wait(loop->epfd, evs, EV_BATCH, ev_wait_ms(loop, max_wait_ms));
	if (n < 0 && errno != EINTR)
		return -1;
	for (int i = 0; i < n; i++)
		ran += ev_dispatch_fd(loop, &evs[i]);
	ran += ev_timers_run(loop);
	return ran;
}

void ev_run(struct ev_loop *loop)
{
	loop->stop = 0;
	while (!loop->stop)
		if (ev_run_once(loop, -1) < 0)
			msg_fatal("epoll_wait: %m");
}

void ev_stop(struct ev_loop *loop)
{
	loop->stop = 1;
}
