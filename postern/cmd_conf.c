/* cmd_conf - `postern conf`: show and edit main.cf parameters (postconf).
 *
 *   conf [-x] [-h]          every parameter with its effective value
 *   conf -n                 only the ones set in main.cf
 *   conf -d                 the defaults
 *   conf NAME...            just those (unknown names are an error)
 *   conf -e NAME=VALUE...   set, in place, keeping the rest of main.cf
 *   conf -X NAME...         remove
 * Values are shown as written ($name unexpanded) unless -x; -h prints the
 * value alone, for scripts.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "mem.h"
#include "msg.h"
#include "postern.h"

enum conf_mode { SHOW_ALL, SHOW_SET, SHOW_DEFAULT, EDIT, REMOVE };

struct conf_opts {
	enum conf_mode mode;
	int expand, value_only;
};

/* shown_value - raw or expanded value of name in the mode asked for */
static char *shown_value(const char *name, const struct conf_opts *o)
{
	const struct param_def *p = param_find(name);
	const char *raw;

	if (o->mode == SHOW_DEFAULT)
		raw = p ? param_default(p) : "";
	else if ((raw = conf_value_raw(name)) == NULL)
		raw = "";
	return o->expand ? conf_expand(raw, NULL) : xstrdup(raw);
}

static void show(const char *name, const struct conf_opts *o)
{
	char *value = shown_value(name, o);

	if (o->value_only)
		printf("%s\n", value);
	else
		printf("%s =%s%s\n", name, *value ? " " : "", value);
	free(value);
}

static int show_named(int argc, char **argv, const struct conf_opts *o)
{
	int errors = 0;

	for (int i = 0; i < argc; i++) {
		if (param_find(argv[i]) == NULL && conf_raw(argv[i]) == NULL) {
			msg_warn("%s: unknown parameter", argv[i]);
			errors++;
			continue;
		}
		show(argv[i], o);
	}
	return errors ? 1 : 0;
}

static int show_list(const struct conf_opts *o)
{
	size_t n;
	const struct param_def *all = param_all(&n);
	const char *name;

	if (o->mode == SHOW_SET) {
		for (size_t i = 0; (name = conf_set_name(i)) != NULL; i++)
			show(name, o);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		show(all[i].name, o);
	return 0;
}

/* edit - conf -e NAME=VALUE... and conf -X NAME... */
static int edit(int argc, char **argv, const struct conf_opts *o)
{
	char *path = xasprintf("%s/main.cf", admin_config_dir), *err = NULL;
	int status = 0;

	for (int i = 0; i < argc && status == 0; i++) {
		char *name = xstrdup(argv[i]), *value = NULL, *eq;

		if (o->mode == EDIT) {
			if ((eq = strchr(name, '=')) == NULL)
				msg_fatal("-e %s: need NAME=VALUE", argv[i]);
			value = eq + 1;
			while (eq > name && (eq[-1] == ' ' || eq[-1] == '\t'))
				eq--;
			*eq = 0;
			value += strspn(value, " \t");
		}
		if (*name == 0 || name[strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")])
			msg_fatal("bad parameter name in \"%s\"", argv[i]);
		if (o->mode == EDIT && param_find(name) == NULL)
			msg_warn("%s: unknown parameter (setting it anyway)", name);
		if (conf_edit_file(path, name, value, &err) < 0) {
			msg_warn("%s", err);
			free(err);
			status = 1;
		}
		free(name);
	}
	free(path);
	return status;
}

int cmd_conf(int argc, char **argv)
{
	struct conf_opts o = {SHOW_ALL, 0, 0};
	int c;

	optind = 1;
	while ((c = getopt(argc, argv, "ndxheX")) != -1) {
		switch (c) {
		case 'n': o.mode = SHOW_SET; break;
		case 'd': o.mode = SHOW_DEFAULT; break;
		case 'x': o.expand = 1; break;
		case 'h': o.value_only = 1; break;
		case 'e': o.mode = EDIT; break;
		case 'X': o.mode = REMOVE; break;
		default: msg_fatal("usage: postern [-c DIR] conf [-n|-d] [-h] [-x] [NAME...] | -e NAME=VALUE... | -X NAME...");
		}
	}
	argc -= optind;
	argv += optind;
	admin_load_config(0);
	if (o.mode == EDIT || o.mode == REMOVE) {
		if (argc == 0)
			msg_fatal("conf -%c: nothing to do", o.mode == EDIT ? 'e' : 'X');
		return edit(argc, argv, &o);
	}
	if (argc > 0)
		return show_named(argc, argv, &o);
	return show_list(&o);
}
