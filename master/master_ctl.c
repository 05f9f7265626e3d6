/* master_ctl - the control socket that `postern status` and `postern reload`
 * talk to.
 *
 * The socket is queue_directory/pid/master.ctl, mode 0600: only root or the
 * instance owner reach it. One request per connection, in attribute frames
 * (attr.h): "request=status" is answered with a header frame (pid,
 * generation, service count) and one frame per service; "request=reload"
 * re-reads the configuration and answers status=0, or status=1 with a
 * reason. The client is trusted but may be slow: every read and write has a
 * deadline, so master is never held up for long.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "attr.h"
#include "config.h"
#include "ipc.h"
#include "master.h"
#include "master_proto.h"
#include "mem.h"
#include "msg.h"

#define CTL_TIMEOUT_MS	2000
#define CTL_MAX_FRAME	4096

static int ctl_fd = -1;
static char *ctl_path;

static const char *service_state(const struct master_service *s)
{
	if (s->disabled)
		return "disabled";
	if (s->throttled)
		return "throttled";
	return "running";
}

static int reply_status(int fd)
{
	struct attr_list l = ATTR_LIST_INIT;
	int count = 0, ret;

	for (struct master_service *s = master_services; s; s = s->next)
		count++;
	attr_add_int(&l, "status", 0);
	attr_add_int(&l, "pid", getpid());
	attr_add_int(&l, "generation", master_generation);
	attr_add_int(&l, "services", count);
	attr_add_int(&l, "processes", master_child_count());
	ret = attr_write(fd, &l, CTL_TIMEOUT_MS);
	for (struct master_service *s = master_services; s && ret == 0; s = s->next) {
		attr_list_clear(&l);
		attr_add_str(&l, "name", s->name);
		attr_add_str(&l, "type", mcf_type_name(s->type));
		attr_add_str(&l, "path", s->path);
		attr_add_int(&l, "maxproc", s->maxproc);
		attr_add_int(&l, "processes", s->total);
		attr_add_int(&l, "idle", s->avail);
		attr_add_int(&l, "wakeup", s->wakeup);
		attr_add_str(&l, "state", service_state(s));
		attr_add_str(&l, "reason", s->disabled ? s->disabled : "");
		ret = attr_write(fd, &l, CTL_TIMEOUT_MS);
	}
	attr_list_clear(&l);
	return ret;
}

static int reply_reload(int fd)
{
	struct attr_list l = ATTR_LIST_INIT;
	char *err = NULL;
	int ret;

	if (master_reload(&err) < 0) {
		attr_add_int(&l, "status", 1);
		attr_add_str(&l, "reason", err);
		free(err);
	} else {
		attr_add_int(&l, "status", 0);
		attr_add_int(&l, "generation", master_generation);
	}
	ret = attr_write(fd, &l, CTL_TIMEOUT_MS);
	attr_list_clear(&l);
	return ret;
}

static void ctl_serve(int fd)
{
	struct attr_list req = ATTR_LIST_INIT;
	const char *what;

	if (ipc_send_greeting(fd, MASTER_CTL_PROTOCOL, 1, CTL_TIMEOUT_MS) < 0
	    || attr_read(fd, &req, CTL_MAX_FRAME, CTL_TIMEOUT_MS) != 0)
		goto done;
	if (attr_get_str(&req, "request", &what) < 0)
		msg_warn("control request without request attribute");
	else if (strcmp(what, "status") == 0)
		reply_status(fd);
	else if (strcmp(what, "reload") == 0)
		reply_reload(fd);
	else
		msg_warn("unknown control request \"%s\"", what);
done:
	attr_list_clear(&req);
}

static void ctl_readable(int lfd, int events, void *ctx)
{
	int fd;

	(void)events;
	(void)ctx;
	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		return;
	ctl_serve(fd);
	close(fd);
}

int master_ctl_open(char **err)
{
	ctl_path = xasprintf("%s/%s/%s", conf_str("queue_directory"),
			     conf_str("process_id_directory"), MASTER_CTL_SOCKET);
	if ((ctl_fd = ipc_listen_unix(ctl_path, 16, 0600, err)) < 0)
		return -1;
	ev_fd_set(master_loop, ctl_fd, EV_READ, ctl_readable, NULL);
	return 0;
}

void master_ctl_close(void)
{
	if (ctl_fd < 0)
		return;
	ev_fd_del(master_loop, ctl_fd);
	close(ctl_fd);
	unlink(ctl_path);
	free(ctl_path);
	ctl_fd = -1;
}
