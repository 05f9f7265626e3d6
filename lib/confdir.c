/* confdir - authorised configuration directories; see confdir.h. */
#include <stdlib.h>
#include <string.h>

#include "argv.h"
#include "config.h"
#include "confdir.h"
#include "mem.h"

/* dir_len - length of path without trailing slashes ("/" stays "/") */
static size_t dir_len(const char *path)
{
	size_t len = strlen(path);

	while (len > 1 && path[len - 1] == '/')
		len--;
	return len;
}

/* same_dir - equal as directory names */
static int same_dir(const char *a, const char *b)
{
	size_t la = dir_len(a), lb = dir_len(b);

	return la == lb && memcmp(a, b, la) == 0;
}

int conf_dir_authorized(const char *dir, const char *default_dir)
{
	struct argv list = ARGV_INIT;
	int ok = 0;

	if (*dir == 0)
		return 0;
	if (same_dir(dir, default_dir))
		return 1;
	if (conf_load(default_dir, NULL) < 0)
		return 0;
	argv_split(&list, conf_str("alternate_config_directories"), ", \t\r\n");
	for (size_t i = 0; i < list.n && !ok; i++)
		ok = same_dir(dir, list.v[i]);
	argv_free(&list);
	return ok;
}

char *conf_dir_of_arg(const char *arg)
{
	size_t len = dir_len(arg);
	const char *base;

	/* ".../main.cf" names the file: use its directory. */
	if (len >= 7 && strncmp(arg + len - 7, "main.cf", 7) == 0
	    && (len == 7 || arg[len - 8] == '/')) {
		base = arg + len - 7;
		if (base == arg)
			return xstrdup(".");
		len = (size_t)(base - arg);
		while (len > 1 && arg[len - 1] == '/')
			len--;
	}
	return xstrndup(arg, len);
}
