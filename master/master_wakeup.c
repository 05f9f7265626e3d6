/* master_wakeup - periodic "W" triggers for services with a wakeup time.
 *
 * The first wakeup goes out at once (so a resident service such as qmgr
 * starts with master), then every N seconds; "N?" services are woken only
 * after their first real use. A wakeup never blocks master: the trigger
 * lands in the listener's queue, which then makes master start a child.
 * When a child of such a service is killed or crashes, the next wakeup
 * comes after a second instead of the full period, so a resident qmgr is
 * back at once rather than after up to N seconds; while the service is
 * throttled the wakeup is retried every second.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ipc.h"
#include "master.h"
#include "mem.h"
#include "msg.h"

#define WAKEUP_TRIGGER_TIMEOUT_MS	100

static void wakeup_send(void *ctx)
{
	struct master_service *s = ctx;
	char *path;

	if (s->throttled || s->disabled) {
		s->wakeup_timer = ev_timer_add(master_loop, s->throttled ? 1000 : 1000LL * s->wakeup,
					       wakeup_send, s);
		return;
	}
	s->wakeup_timer = ev_timer_add(master_loop, 1000LL * s->wakeup, wakeup_send, s);
	path = xasprintf("%s/%s/%s", conf_str("queue_directory"),
			 s->private_ ? "private" : "public", s->name);
	if (ipc_trigger(path, s->type == MCF_FIFO, "W", 1, WAKEUP_TRIGGER_TIMEOUT_MS) < 0)
		msg_debug("%s: wakeup: %m", s->id);
	free(path);
}

void master_wakeup_start(struct master_service *s)
{
	if (s->wakeup <= 0 || s->wakeup_timer || s->disabled)
		return;
	if (s->type != MCF_UNIX && s->type != MCF_FIFO)
		return;
	if (s->wakeup_after_use && !s->used)
		return;
	s->wakeup_timer = ev_timer_add(master_loop, 0, wakeup_send, s);
}

void master_wakeup_soon(struct master_service *s)
{
	if (s->wakeup_timer == 0)
		return;			/* no wakeups for this service (yet) */
	ev_timer_cancel(master_loop, s->wakeup_timer);
	s->wakeup_timer = ev_timer_add(master_loop, 1000, wakeup_send, s);
}

void master_wakeup_stop(struct master_service *s)
{
	if (s->wakeup_timer)
		ev_timer_cancel(master_loop, s->wakeup_timer);
	s->wakeup_timer = 0;
}
