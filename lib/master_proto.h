/* master_proto - what master and the services it starts agree on.
 *
 * master starts each service process with:
 *   fd 3 (MASTER_STATUS_FD): the write end of the service's status pipe;
 *   fd 4.. (MASTER_LISTEN_FD): the service's listening sockets, -s N of them;
 *   argv: COMMAND -n SERVICE -t TYPE [-u] [-c] -s N [args from master.cf];
 *   environment: only import_environment, POSTERN_CONFIG_DIR and
 *   POSTERN_GENERATION.
 * A child reports on the status pipe with fixed-size records, written in
 * one write() (smaller than PIPE_BUF, so never interleaved): READY once it
 * has dropped privileges and is about to serve, TAKEN when it accepted a
 * client, AVAIL when it is idle again. master forks a new child only when
 * no child of the service is available. A child that exits before READY
 * is a bad startup and the service is throttled.
 * When the status pipe breaks (master exited, or a reload started a new
 * generation), the child finishes its current client and exits.
 */
#ifndef POSTERN_MASTER_PROTO_H
#define POSTERN_MASTER_PROTO_H

#include <sys/types.h>

#define MASTER_STATUS_FD	3
#define MASTER_LISTEN_FD	4
#define MASTER_ENV_GENERATION	"POSTERN_GENERATION"
#define MASTER_ENV_CONFIG	"POSTERN_CONFIG_DIR"

enum master_stat { MASTER_STAT_TAKEN = 0, MASTER_STAT_AVAIL = 1, MASTER_STAT_READY = 2 };

struct master_status {
	pid_t pid;
	unsigned generation;
	int status;		/* enum master_stat */
};

/* The control socket under queue_directory/pid, for `postern status` and
 * `postern reload` (root or the instance owner only). */
#define MASTER_CTL_SOCKET	"master.ctl"
#define MASTER_PID_FILE		"master.pid"
#define MASTER_CTL_PROTOCOL	"master_control"

#endif
