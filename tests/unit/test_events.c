/* test_events - unit tests for lib/events.c: timer order and cancellation,
 * fd dispatch, callbacks that remove watches during a dispatch, ev_stop,
 * and signals delivered through the self-pipe. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "events.h"

/* Timers record the order they fired in. */
struct order {
	int seq[16];
	int n;
};

struct tick {
	struct order *o;
	int tag;
};

static void tick_cb(void *ctx)
{
	struct tick *t = ctx;

	t->o->seq[t->o->n++] = t->tag;
}

/* run_until - runs the loop until *count reaches want or 2 s pass */
static void run_until(struct ev_loop *loop, const int *count, int want)
{
	long long end = ev_now_ms() + 2000;

	while (*count < want && ev_now_ms() < end)
		assert_true(ev_run_once(loop, 100) >= 0);
}

static void test_timers_fire_in_order(void **state)
{
	struct ev_loop *loop = ev_new();
	struct order o = { {0}, 0 };
	struct tick t[5] = { {&o, 30}, {&o, 10}, {&o, 20}, {&o, 1}, {&o, 2} };

	(void)state;
	assert_int_not_equal(ev_timer_add(loop, 30, tick_cb, &t[0]), 0);
	assert_int_not_equal(ev_timer_add(loop, 10, tick_cb, &t[1]), 0);
	assert_int_not_equal(ev_timer_add(loop, 20, tick_cb, &t[2]), 0);
	/* Same due time: in the order added. */
	assert_int_not_equal(ev_timer_add(loop, 0, tick_cb, &t[3]), 0);
	assert_int_not_equal(ev_timer_add(loop, 0, tick_cb, &t[4]), 0);
	run_until(loop, &o.n, 5);
	assert_int_equal(o.n, 5);
	assert_int_equal(o.seq[0], 1);
	assert_int_equal(o.seq[1], 2);
	assert_int_equal(o.seq[2], 10);
	assert_int_equal(o.seq[3], 20);
	assert_int_equal(o.seq[4], 30);
	ev_free(loop);
}

static void test_timer_cancel(void **state)
{
	struct ev_loop *loop = ev_new();
	struct order o = { {0}, 0 };
	struct tick t[4] = { {&o, 1}, {&o, 2}, {&o, 3}, {&o, 4} };
	uint64_t id1, id2, id3, id4;

	(void)state;
	id1 = ev_timer_add(loop, 5, tick_cb, &t[0]);
	id2 = ev_timer_add(loop, 10, tick_cb, &t[1]);
	id3 = ev_timer_add(loop, 1, tick_cb, &t[2]);
	id4 = ev_timer_add(loop, 15, tick_cb, &t[3]);
	assert_true(id1 && id2 && id3 && id4);
	assert_true(id1 != id2 && id2 != id3 && id3 != id4);
	assert_int_equal(ev_timer_cancel(loop, id1), 0);
	assert_int_equal(ev_timer_cancel(loop, id1), -1);
	assert_int_equal(ev_timer_cancel(loop, id3), 0);
	assert_int_equal(ev_timer_cancel(loop, 0), -1);
	run_until(loop, &o.n, 2);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.seq[0], 2);
	assert_int_equal(o.seq[1], 4);
	assert_int_equal(ev_timer_cancel(loop, id2), -1);	/* already fired */
	/* Nothing left: a bounded wait returns with nothing run. */
	assert_int_equal(ev_run_once(loop, 20), 0);
	ev_free(loop);
}

/* A timer left pending at ev_free is freed with the loop (LeakSanitizer). */
static void test_free_with_pending_timers(void **state)
{
	struct ev_loop *loop = ev_new();
	struct order o = { {0}, 0 };
	struct tick t = { &o, 1 };

	(void)state;
	for (int i = 0; i < 40; i++)
		ev_timer_add(loop, 100000 + i, tick_cb, &t);
	ev_free(loop);
	assert_int_equal(o.n, 0);
}

/* A timer that re-arms itself with 0 ms fires once per round, not forever. */
struct rearm {
	struct ev_loop *loop;
	int fired;
};

static void rearm_cb(void *ctx)
{
	struct rearm *r = ctx;

	r->fired++;
	ev_timer_add(r->loop, 0, rearm_cb, r);
}

static void test_timer_rearm_zero(void **state)
{
	struct rearm r;

	(void)state;
	r.loop = ev_new();
	r.fired = 0;
	ev_timer_add(r.loop, 0, rearm_cb, &r);
	assert_int_equal(ev_run_once(r.loop, 0), 1);
	assert_int_equal(r.fired, 1);
	assert_int_equal(ev_run_once(r.loop, 0), 1);
	assert_int_equal(r.fired, 2);
	ev_free(r.loop);
}

/* Timers cancelled out of the middle of the heap keep it ordered. */
static void test_timer_heap_cancel_many(void **state)
{
	struct ev_loop *loop = ev_new();
	struct order o = { {0}, 0 };
	struct tick t[10];
	uint64_t ids[10];
	int delays[10] = { 9, 3, 7, 1, 8, 2, 6, 4, 5, 0 };
	static const int want[6] = { 1, 2, 4, 5, 7, 9 };

	(void)state;
	for (int i = 0; i < 10; i++) {
		t[i].o = &o;
		t[i].tag = delays[i];
		ids[i] = ev_timer_add(loop, delays[i] * 3, tick_cb, &t[i]);
	}
	/* cancel delays 3, 8, 6, 0 */
	assert_int_equal(ev_timer_cancel(loop, ids[1]), 0);
	assert_int_equal(ev_timer_cancel(loop, ids[4]), 0);
	assert_int_equal(ev_timer_cancel(loop, ids[6]), 0);
	assert_int_equal(ev_timer_cancel(loop, ids[9]), 0);
	run_until(loop, &o.n, 6);
	assert_int_equal(o.n, 6);
	for (int i = 0; i < 6; i++)
		assert_int_equal(o.seq[i], want[i]);
	ev_free(loop);
}

/* Fd readiness. */

struct fdseen {
	int fd, events, calls;
};

static void fd_cb(int fd, int events, void *ctx)
{
	struct fdseen *s = ctx;
	char c;

	s->fd = fd;
	s->events = events;
	s->calls++;
	if (events & EV_READ)
		(void)!read(fd, &c, 1);
}

static void test_fd_dispatch(void **state)
{
	struct ev_loop *loop = ev_new();
	struct fdseen r = { -1, 0, 0 }, w = { -1, 0, 0 };
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(ev_fd_set(loop, p[0], EV_READ, fd_cb, &r), 0);
	assert_int_equal(ev_run_once(loop, 20), 0);	/* nothing readable */
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(ev_run_once(loop, 1000), 1);
	assert_int_equal(r.fd, p[0]);
	assert_int_equal(r.events, EV_READ);
	assert_int_equal(r.calls, 1);

	/* The write end is writable at once. */
	assert_int_equal(ev_fd_set(loop, p[1], EV_WRITE, fd_cb, &w), 0);
	assert_int_equal(ev_run_once(loop, 1000), 1);
	assert_int_equal(w.fd, p[1]);
	assert_int_equal(w.events, EV_WRITE);
	/* Replacing the watch: now read interest on the write end, which never fires. */
	assert_int_equal(ev_fd_set(loop, p[1], EV_READ, fd_cb, &w), 0);
	assert_int_equal(ev_run_once(loop, 20), 0);
	ev_fd_del(loop, p[1]);

	/* Hangup: the writer goes away, the reader sees EV_READ|EV_ERROR. */
	close(p[1]);
	assert_int_equal(ev_run_once(loop, 1000), 1);
	assert_int_equal(r.events & EV_READ, EV_READ);
	assert_int_equal(r.events & EV_ERROR, EV_ERROR);
	/* events == 0 removes the watch. */
	assert_int_equal(ev_fd_set(loop, p[0], 0, NULL, NULL), 0);
	assert_int_equal(ev_run_once(loop, 20), 0);
	assert_int_equal(ev_fd_set(loop, -1, EV_READ, fd_cb, &r), -1);
	close(p[0]);
	ev_free(loop);
}

/* Two ready fds; whichever callback runs first removes and closes both,
 * then puts a new pipe's read end at the other one's number and watches it
 * with another callback: the other's stale event must reach nobody. */
struct killer {
	struct ev_loop *loop;
	int a[2], b[2], fresh[2], reused;
	int calls, fresh_calls;
};

static void fresh_cb(int fd, int events, void *ctx)
{
	struct killer *k = ctx;
	char c;

	(void)events;
	k->fresh_calls++;
	(void)!read(fd, &c, 1);
}

static void killer_cb(int fd, int events, void *ctx)
{
	struct killer *k = ctx;

	(void)events;
	k->calls++;
	k->reused = fd == k->a[0] ? k->b[0] : k->a[0];
	assert_int_equal(pipe2(k->fresh, O_NONBLOCK), 0);
	ev_fd_del(k->loop, k->a[0]);
	ev_fd_del(k->loop, k->b[0]);
	close(k->a[0]);
	close(k->b[0]);
	assert_int_equal(dup2(k->fresh[0], k->reused), k->reused);
	assert_int_equal(ev_fd_set(k->loop, k->reused, EV_READ, fresh_cb, k), 0);
}

static void test_delete_during_dispatch(void **state)
{
	struct killer k;

	(void)state;
	memset(&k, 0, sizeof(k));
	k.loop = ev_new();
	assert_int_equal(pipe(k.a), 0);
	assert_int_equal(pipe(k.b), 0);
	assert_int_equal(ev_fd_set(k.loop, k.a[0], EV_READ, killer_cb, &k), 0);
	assert_int_equal(ev_fd_set(k.loop, k.b[0], EV_READ, killer_cb, &k), 0);
	assert_int_equal(write(k.a[1], "x", 1), 1);
	assert_int_equal(write(k.b[1], "y", 1), 1);
	assert_int_equal(ev_run_once(k.loop, 1000), 1);
	assert_int_equal(k.calls, 1);
	assert_int_equal(k.fresh_calls, 0);
	/* And the loop goes on: the new pipe works. */
	assert_int_equal(write(k.fresh[1], "z", 1), 1);
	assert_int_equal(ev_run_once(k.loop, 1000), 1);
	assert_int_equal(k.fresh_calls, 1);
	ev_fd_del(k.loop, k.reused);
	close(k.reused);
	close(k.a[1]);
	close(k.b[1]);
	close(k.fresh[0]);
	close(k.fresh[1]);
	ev_free(k.loop);
}

/* A callback that cancels a timer due in the same round. */
struct canceller {
	struct ev_loop *loop;
	uint64_t victim;
	struct order o;
};

static void cancel_cb(void *ctx)
{
	struct canceller *c = ctx;

	c->o.seq[c->o.n++] = 1;
	assert_int_equal(ev_timer_cancel(c->loop, c->victim), 0);
}

static void victim_cb(void *ctx)
{
	struct canceller *c = ctx;

	c->o.seq[c->o.n++] = 2;
}

static void test_cancel_during_dispatch(void **state)
{
	struct canceller c;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.loop = ev_new();
	ev_timer_add(c.loop, 0, cancel_cb, &c);
	c.victim = ev_timer_add(c.loop, 0, victim_cb, &c);
	usleep(2000);
	assert_int_equal(ev_run_once(c.loop, 0), 1);
	assert_int_equal(c.o.n, 1);
	assert_int_equal(ev_run_once(c.loop, 20), 0);
	ev_free(c.loop);
}

/* ev_stop from a timer ends ev_run. */
static void stop_cb(void *ctx)
{
	ev_stop(ctx);
}

static void count_cb(void *ctx)
{
	(*(int *)ctx)++;
}

static void test_ev_stop(void **state)
{
	struct ev_loop *loop = ev_new();
	int before = 0, after = 0;
	long long start = ev_now_ms();

	(void)state;
	ev_timer_add(loop, 5, count_cb, &before);
	ev_timer_add(loop, 20, stop_cb, loop);
	ev_timer_add(loop, 5000, count_cb, &after);
	ev_run(loop);
	assert_int_equal(before, 1);
	assert_int_equal(after, 0);
	assert_true(ev_now_ms() - start >= 20);
	assert_true(ev_now_ms() - start < 2000);
	ev_free(loop);
}

/* A bounded wait with a far timer returns after about max_wait_ms. */
static void test_run_once_waits(void **state)
{
	struct ev_loop *loop = ev_new();
	int n = 0;
	long long start;

	(void)state;
	ev_timer_add(loop, 10000, count_cb, &n);
	start = ev_now_ms();
	assert_int_equal(ev_run_once(loop, 50), 0);
	assert_true(ev_now_ms() - start >= 49);
	assert_true(ev_now_ms() - start < 1000);
	/* With -1 the next timer bounds the wait. */
	ev_timer_add(loop, 30, count_cb, &n);
	start = ev_now_ms();
	while (n == 0)
		assert_true(ev_run_once(loop, -1) >= 0);
	assert_true(ev_now_ms() - start >= 29);
	assert_true(ev_now_ms() - start < 1000);
	ev_free(loop);
}

/* Signals. */

struct sigseen {
	int signo, calls;
};

static void sig_cb(int signo, void *ctx)
{
	struct sigseen *s = ctx;

	s->signo = signo;
	s->calls++;
}

static void test_signal(void **state)
{
	struct ev_loop *loop = ev_new(), *other = ev_new();
	struct sigseen s = { 0, 0 }, t = { 0, 0 };
	struct sigaction sa;

	(void)state;
	assert_int_equal(ev_signal(loop, SIGUSR1, sig_cb, &s), 0);
	assert_int_equal(ev_signal(loop, SIGUSR2, sig_cb, &t), 0);
	assert_int_equal(ev_signal(loop, 0, sig_cb, &s), -1);
	/* Only one loop can own signals. */
	assert_int_equal(ev_signal(other, SIGHUP, sig_cb, &s), -1);
	assert_int_equal(raise(SIGUSR1), 0);
	assert_int_equal(s.calls, 0);		/* not in signal context */
	run_until(loop, &s.calls, 1);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.signo, SIGUSR1);
	assert_int_equal(t.calls, 0);
	assert_int_equal(raise(SIGUSR2), 0);
	run_until(loop, &t.calls, 1);
	assert_int_equal(t.signo, SIGUSR2);
	assert_int_equal(s.calls, 1);

	/* As a forked child would: dispositions back to default. */
	ev_signal_reset_child(loop);
	assert_int_equal(sigaction(SIGUSR1, NULL, &sa), 0);
	assert_ptr_equal(sa.sa_handler, SIG_DFL);
	assert_int_equal(sigaction(SIGUSR2, NULL, &sa), 0);
	assert_ptr_equal(sa.sa_handler, SIG_DFL);
	ev_free(loop);
	/* Ownership is released with the loop. */
	assert_int_equal(ev_signal(other, SIGUSR1, sig_cb, &s), 0);
	ev_free(other);
	assert_int_equal(sigaction(SIGUSR1, NULL, &sa), 0);
	assert_ptr_equal(sa.sa_handler, SIG_DFL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_fire_in_order),
		cmocka_unit_test(test_timer_cancel),
		cmocka_unit_test(test_free_with_pending_timers),
		cmocka_unit_test(test_timer_rearm_zero),
		cmocka_unit_test(test_timer_heap_cancel_many),
		cmocka_unit_test(test_fd_dispatch),
		cmocka_unit_test(test_delete_during_dispatch),
		cmocka_unit_test(test_cancel_during_dispatch),
		cmocka_unit_test(test_ev_stop),
		cmocka_unit_test(test_run_once_waits),
		cmocka_unit_test(test_signal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
