/* master_conf - turns main.cf and master.cf into the services master runs.
 *
 * On reload, a service that is still there with the same listening address
 * keeps its listeners (no connection is refused during a reload) and its
 * running children, which finish their work as an older generation and
 * exit; new children get the new settings. A service that is gone has its
 * listeners closed and its children told to stop.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "master.h"
#include "mem.h"
#include "msg.h"

struct master_service *master_services;
unsigned master_generation;

/* service_disabled_by_param - master_service_disable names "name/type" or "type" */
static int service_disabled_by_param(const char *id, const char *type)
{
	struct argv list = ARGV_INIT;
	int hit = 0;

	argv_split(&list, conf_str("master_service_disable"), ", \t\r\n");
	for (size_t i = 0; i < list.n && !hit; i++)
		hit = strcmp(list.v[i], id) == 0 || strcmp(list.v[i], type) == 0;
	argv_free(&list);
	return hit;
}

static char *service_path(const char *command)
{
	if (command[0] == '/')
		return xstrdup(command);
	return xasprintf("%s/%s", conf_str("daemon_directory"), command);
}

/* listen_key - equal keys mean the same listeners can be kept on reload */
static char *listen_key(const struct mcf_entry *e)
{
	if (e->type == MCF_INET)
		return xasprintf("inet|%s|%s|%s", e->name, conf_str("inet_interfaces"),
				 conf_str("inet_protocols"));
	return xasprintf("%s|%s|%d", mcf_type_name(e->type), e->name, e->private_);
}

static struct master_service *service_new(const struct mcf_entry *e)
{
	struct master_service *s = xcalloc(1, sizeof(*s));

	s->id = mcf_entry_id(e);
	s->name = xstrdup(e->name);
	s->type = e->type;
	s->private_ = e->private_;
	s->unpriv = e->unpriv;
	s->chroot = e->chroot;
	s->wakeup = e->wakeup;
	s->wakeup_after_use = e->wakeup_after_use;
	s->maxproc = e->maxproc < 0 ? (int)conf_int("default_process_limit") : e->maxproc;
	s->path = service_path(e->args.v[0]);
	for (size_t i = 1; i < e->args.n; i++)
		argv_add(&s->args, e->args.v[i]);
	s->listen_key = listen_key(e);
	s->status_fd[0] = s->status_fd[1] = -1;
	s->file = xstrdup(e->file);
	s->line = e->line;
	s->generation = master_generation;
	if (service_disabled_by_param(s->id, mcf_type_name(s->type)))
		s->disabled = xstrdup("disabled by master_service_disable");
	else if (s->type == MCF_PASS)
		s->disabled = xstrdup("pass services are not supported by this version");
	else if (access(s->path, X_OK) < 0)
		s->disabled = xasprintf("%s: %s", s->path, strerror(errno));
	return s;
}

void master_service_free(struct master_service *s)
{
	master_wakeup_stop(s);
	master_listen_close(s);
	master_status_close(s);
	if (s->throttle_timer)
		ev_timer_cancel(master_loop, s->throttle_timer);
	free(s->id);
	free(s->name);
	free(s->path);
	argv_free(&s->args);
	free(s->listen_key);
	free(s->disabled);
	free(s->file);
	free(s);
}

void master_config_free_all(void)
{
	struct master_service *s, *next;

	for (s = master_services; s; s = next) {
		next = s->next;
		master_detach_children(s);
		master_service_free(s);
	}
	master_services = NULL;
}

/* read_files - main.cf and master.cf; diagnostics are logged */
static int read_files(int reload, struct mcf *mcf, char **err)
{
	char *dir = xstrdup(conf_dir());	/* conf_load frees the old one */
	struct diaglist dl = DIAGLIST_INIT;
	char *path;
	int ret = 0;

	if (conf_load(dir, &dl) < 0) {
		*err = xasprintf("read %s/main.cf: %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	conf_validate(&dl);
	path = xasprintf("%s/master.cf", dir);
	if (mcf_parse_file(path, mcf, &dl) < 0) {
		*err = xasprintf("read %s: %s", path, strerror(errno));
		ret = -1;
	}
	mcf_check_overrides(mcf, &dl);
	diag_log(&dl);
	if (ret == 0 && !reload && diag_errors(&dl) > 0) {
		*err = xasprintf("%zu configuration errors: fix them (see `postern check`) and start again",
				 diag_errors(&dl));
		ret = -1;
	}
	diag_clear(&dl);
	free(path);
	free(dir);
	return ret;
}

/* take_over - moves what a kept service has from old to its new entry */
static void take_over(struct master_service *old, struct master_service *s)
{
	if (old->listen_count > 0 && strcmp(old->listen_key, s->listen_key) == 0) {
		master_listen_close_watch(old);
		memcpy(s->listen_fds, old->listen_fds, sizeof(s->listen_fds));
		s->listen_count = old->listen_count;
		old->listen_count = 0;
	}
	s->used = old->used;
	master_move_children(old, s);
}

static struct master_service *find_service(struct master_service *list, const char *id)
{
	for (; list; list = list->next)
		if (list->id && strcmp(list->id, id) == 0)
			return list;
	return NULL;
}

/* start_service - listeners, status pipe, wakeups, then maybe a child */
static void start_service(struct master_service *s)
{
	char *err = NULL;

	if (s->disabled) {
		/* Listeners kept from before a reload must go: with nobody to
		 * accept, clients would wait in the backlog instead of failing. */
		master_listen_close(s);
		msg_warn("%s, line %d: service %s not started: %s", s->file, s->line, s->id, s->disabled);
		return;
	}
	if ((s->listen_count == 0 && master_listen_open(s, &err) < 0)
	    || master_status_open(s, &err) < 0) {
		s->disabled = err;
		msg_warn("%s, line %d: service %s not started: %s", s->file, s->line, s->id, err);
		master_listen_close(s);
		return;
	}
	master_wakeup_start(s);
	master_listen_update(s);
}

int master_config_load(int reload, char **err)
{
	struct mcf mcf = MCF_INIT;
	struct master_service *old = master_services, *head = NULL, **tail = &head, *s, *o, *next;

	if (read_files(reload, &mcf, err) < 0) {
		mcf_free(&mcf);
		return -1;
	}
	master_generation++;
	for (size_t i = 0; i < mcf.n; i++) {
		*tail = s = service_new(&mcf.v[i]);
		tail = &s->next;
		if ((o = find_service(old, s->id)) != NULL) {
			take_over(o, s);
			free(o->id);
			o->id = NULL;	/* matched: not found again */
		}
	}
	mcf_free(&mcf);
	for (o = old; o; o = next) {
		next = o->next;
		if (o->id)
			msg_info("service %s removed", o->id);
		master_listen_close(o);
		master_kill_children(o, SIGTERM);
		master_detach_children(o);
		master_service_free(o);
	}
	master_services = head;
	for (s = master_services; s; s = s->next)
		start_service(s);
	msg_open_log(1);
	return 0;
}
