/* confdir - which configuration directories an unprivileged caller may use.
 *
 * sendmail -C and the set-gid postdrop read main.cf from a directory the
 * caller names. Anyone may point them at a main.cf of their own making, so
 * a directory other than the default is honoured for a caller other than
 * root only when the DEFAULT main.cf lists it in
 * alternate_config_directories (Postfix's rule since 3.2, which closed the
 * "sendmail -C /tmp/evil" class of attacks).
 */
#ifndef POSTERN_CONFDIR_H
#define POSTERN_CONFDIR_H

/* conf_dir_authorized - 1 when dir is default_dir or is listed in
 * alternate_config_directories of default_dir/main.cf, else 0. Trailing
 * slashes do not matter. Loads default_dir/main.cf: call it before
 * loading the configuration that is to be used. */
int conf_dir_authorized(const char *dir, const char *default_dir);

/* conf_dir_of_arg - "-C" accepts a directory or the path of its main.cf;
 * the directory, malloc'ed. */
char *conf_dir_of_arg(const char *arg);

#endif
