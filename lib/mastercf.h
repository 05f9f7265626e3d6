/* mastercf - master.cf: the services master runs.
 *
 * Postfix's syntax: one service per logical line (a line starting with
 * white space continues the previous one; '#' lines are comments) with eight
 * columns:  service type private unpriv chroot wakeup maxproc command [args]
 *   type     inet (name is [host:]port), unix (name is a path under the
 *            queue directory's private/ or public/, chosen by the private
 *            column), unix-dgram, fifo, pass
 *   private  y/n/- (default y; inet services are never private)
 *   unpriv   y/n/- (default y: runs as mail_owner; n keeps root)
 *   chroot   y/n/- (default n: chroot into queue_directory when y)
 *   wakeup   N, N? (only after first use), 0 or - (none)
 *   maxproc  N, 0 = unlimited, - = $default_process_limit
 * Arguments may group white space with "{ text }"; "-o name=value" and
 * "-o { name = value }" override main.cf for that service only.
 * A later entry with the same service and type replaces an earlier one.
 */
#ifndef POSTERN_MASTERCF_H
#define POSTERN_MASTERCF_H

#include "argv.h"
#include "diag.h"

enum mcf_type { MCF_INET, MCF_UNIX, MCF_UNIX_DGRAM, MCF_FIFO, MCF_PASS };

struct mcf_entry {
	char *name;		/* service column as written */
	enum mcf_type type;
	int private_;		/* 0/1 after defaults */
	int unpriv;		/* 0/1 after defaults */
	int chroot;		/* 0/1 after defaults */
	int wakeup;		/* seconds; 0 = none */
	int wakeup_after_use;	/* the trailing '?' */
	int maxproc;		/* -1 = "-" ($default_process_limit); 0 = unlimited */
	struct argv args;	/* command and arguments, braces removed, -o kept */
	struct argv overrides;	/* "name=value" from every -o, in order */
	char *file;
	int line;
};

struct mcf {
	struct mcf_entry *v;
	size_t n, cap;
};

#define MCF_INIT { NULL, 0, 0 }

/* Parsing appends valid entries to out and records each bad line in dl
 * with file and line (the line is skipped). mcf_parse_file returns -1 with
 * errno when the file cannot be read, else 0. */
int mcf_parse_file(const char *path, struct mcf *out, struct diaglist *dl);
int mcf_parse_string(const char *text, const char *file, struct mcf *out,
		     struct diaglist *dl);
void mcf_free(struct mcf *m);

/* mcf_check_overrides - a warning for each -o NAME that is neither a
 * known parameter nor set in main.cf (a typo would be a silent no-op). */
void mcf_check_overrides(const struct mcf *m, struct diaglist *dl);

const char *mcf_type_name(enum mcf_type t);	/* "inet", "unix", ... */
int mcf_type_parse(const char *s, enum mcf_type *t);	/* 0 or -1 */

/* mcf_entry_id - "name/type" as Postfix names services in logs. */
char *mcf_entry_id(const struct mcf_entry *e);	/* malloc'ed */

#endif
