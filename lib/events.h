/* events - a single-threaded epoll event loop with timers and signals.
 *
 * Every postern daemon is one of these loops. File descriptors are watched
 * for readability/writability; one-shot timers fire at a monotonic time;
 * signals are turned into ordinary events through a self-pipe, so handlers
 * run in the loop, never in signal context. Callbacks may add or remove any
 * fd or timer, their own included, while the loop is dispatching.
 */
#ifndef POSTERN_EVENTS_H
#define POSTERN_EVENTS_H

#include <stdint.h>

struct ev_loop;

enum { EV_READ = 1, EV_WRITE = 2, EV_ERROR = 4 };	/* EV_ERROR: reported only */

typedef void (*ev_fd_cb)(int fd, int events, void *ctx);
typedef void (*ev_timer_cb)(void *ctx);
typedef void (*ev_signal_cb)(int signo, void *ctx);

struct ev_loop *ev_new(void);
void ev_free(struct ev_loop *loop);	/* closes the loop's own fds, not watched ones */

/* ev_fd_set - watch fd for events (EV_READ|EV_WRITE), replacing any earlier
 * watch of fd; events == 0 removes it. Error/hangup is reported to the
 * callback as EV_ERROR together with EV_READ. Returns 0 or -1 (errno). */
int ev_fd_set(struct ev_loop *loop, int fd, int events, ev_fd_cb cb, void *ctx);
void ev_fd_del(struct ev_loop *loop, int fd);

/* ev_timer_add - one-shot timer after ms milliseconds; returns an id that
 * is never 0. ev_timer_cancel returns 0, or -1 when the id already fired
 * or was cancelled. Timers due at the same time fire in the order added. */
uint64_t ev_timer_add(struct ev_loop *loop, long long ms, ev_timer_cb cb, void *ctx);
int ev_timer_cancel(struct ev_loop *loop, uint64_t id);

/* ev_signal - run cb from the loop when signo arrives (SA_RESTART). At most
 * one callback per signal. ev_signal_reset_child undoes every ev_signal
 * disposition and closes the self-pipe; call it in a forked child. */
int ev_signal(struct ev_loop *loop, int signo, ev_signal_cb cb, void *ctx);
void ev_signal_reset_child(struct ev_loop *loop);

/* ev_run_once - waits at most max_wait_ms (-1 = until something happens)
 * and dispatches what is ready and every due timer. Returns the number of
 * callbacks run, or -1 on an epoll error other than EINTR. */
int ev_run_once(struct ev_loop *loop, long long max_wait_ms);

/* ev_run - runs until ev_stop is called from a callback. */
void ev_run(struct ev_loop *loop);
void ev_stop(struct ev_loop *loop);

long long ev_now_ms(void);		/* CLOCK_MONOTONIC in milliseconds */

#endif
