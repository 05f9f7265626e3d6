/* diag - a list of problems found while reading a file.
 *
 * Parsers of admin-written files (main.cf, master.cf, lookup tables) do not
 * stop at the first bad line: they record each problem with its file and
 * line and go on, so `postern check` can report them all and a daemon can
 * log them all before deciding whether to run.
 */
#ifndef POSTERN_DIAG_H
#define POSTERN_DIAG_H

#include <stddef.h>

enum diag_severity { DIAG_WARNING, DIAG_ERROR };

struct diag {
	enum diag_severity severity;
	char *file;			/* may be "" */
	int line;			/* 0 = not tied to a line */
	char *text;
};

struct diaglist {
	struct diag *v;
	size_t n, cap;
};

#define DIAGLIST_INIT { NULL, 0, 0 }

void diag_add(struct diaglist *dl, enum diag_severity sev, const char *file,
	      int line, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
size_t diag_errors(const struct diaglist *dl);	/* count of DIAG_ERROR */
void diag_log(const struct diaglist *dl);	/* msg_error/msg_warn each, "file, line N: text" */
void diag_clear(struct diaglist *dl);		/* frees the entries, keeps dl usable */

/* diag_format - "FILE, line N: text" (Postfix's shape) into a new string */
char *diag_format(const struct diag *d);

#endif
