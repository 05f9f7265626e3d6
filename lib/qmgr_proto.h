/* qmgr_proto - how other programs talk to qmgr(8) and the delivery agents.
 *
 * Triggers: one or more bytes written to private/qmgr (ipc_trigger):
 *   'I'  scan incoming/ (cleanup, after each commit)
 *   'D'  scan deferred/ for messages that are due
 *   'A'  with D: ignore retry times (treat every deferred message as due)
 *   'F'  forget dead destinations
 *   'W'  master's periodic wakeup (incoming and due deferred)
 * A full flush (`postern queue flush`, sendmail -q) sends "FAD".
 *
 * Delivery requests: qmgr connects to private/TRANSPORT, expects the
 * greeting protocol=delivery version=1, sends one frame:
 *   queue_id= queue_name=active sender= nexthop= times="ARRIVAL ACTIVE DISPATCH" content_offset=
 *   content_size= [envid=] [ret=] [dsn_kind=] [body_type=] [smtputf8=1] rcpt_count=N
 *   and for i in 0..N-1:  rI_addr= rI_orig= rI_notify= rI_offset=
 * and reads one reply frame: status=0 and for each i
 *   rI_status= sent|deferred|bounced   rI_dsn= X.Y.Z   rI_reason= text
 * and hop_status= ok|failed: failed when the agent could not reach the
 * next hop at all (no server answered the connect and handshake, or its
 * DNS lookup failed temporarily), so the destination looks down and qmgr
 * may hold back further requests for it; per-recipient 4xx/5xx replies
 * are not hop failures. Agents without a next hop (local) say ok.
 * One connection may carry several requests, one after another: after
 * each reply qmgr either sends the next request (always for the same
 * transport and next hop, so an smtp agent can reuse its SMTP session) or
 * closes the connection. An agent reads requests until EOF, waiting at
 * most DELIVERY_IDLE_MS for the next one.
 * The agent itself logs to=<...> status= lines, appends bounce/defer log
 * entries (dsnlog.h) and marks done recipients in the queue file, in the
 * order of docs/QUEUE.md, before it replies.
 */
#ifndef POSTERN_QMGR_PROTO_H
#define POSTERN_QMGR_PROTO_H

#define QMGR_SERVICE		"private/qmgr"
#define QMGR_TRIGGER_INCOMING	'I'
#define QMGR_TRIGGER_DEFERRED	'D'
#define QMGR_TRIGGER_ALL	'A'
#define QMGR_TRIGGER_FORGET	'F'
#define QMGR_TRIGGER_WAKEUP	'W'
#define QMGR_FLUSH		"FAD"

#define DELIVERY_PROTOCOL	"delivery"
#define DELIVERY_IDLE_MS	(300 * 1000)	/* agent: wait for the next request */

/* bounce(8): private/bounce, greeting protocol=bounce version=1, one frame
 *   request=notify queue_id= [queue_name=active]   DSN for bounce/ID entries
 *   request=delay  queue_id=                        delay warning from defer/ID
 *   request=success queue_id=                       NOTIFY=SUCCESS DSNs
 * reply: status=0 (the DSN is queued, or none was needed) | 4 reason= */
#define BOUNCE_SERVICE		"private/bounce"
#define BOUNCE_PROTOCOL		"bounce"

#endif
