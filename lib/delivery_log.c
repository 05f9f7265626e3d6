/* delivery_log - the to=<...> status= line; see delivery_log.h. */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "delivery_log.h"
#include "msg.h"

double delivery_now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

void delivery_fmt_time(char *buf, unsigned long size, double s)
{
	if (s < 0)
		s = 0;
	if (s < 0.01 && s > 0)
		snprintf(buf, size, "0.01");
	else if (s < 10)
		snprintf(buf, size, "%.2g", s);
	else
		snprintf(buf, size, "%.0f", s);
}

void delivery_log(const char *queue_id, const char *rcpt, const char *orig,
		  const char *relay, const struct delivery_times *t,
		  const char *dsn, const char *status, const char *reason)
{
	double now = delivery_now();
	double connected = t->connected > 0 ? t->connected : t->dispatch;
	char total[16], a[16], b[16], c[16], d[16], orig_part[1100] = "";

	delivery_fmt_time(total, sizeof(total), now - t->arrival);
	delivery_fmt_time(a, sizeof(a), t->active - t->arrival);
	delivery_fmt_time(b, sizeof(b), t->dispatch - t->active);
	delivery_fmt_time(c, sizeof(c), connected - t->dispatch);
	delivery_fmt_time(d, sizeof(d), now - connected);
	if (orig && *orig && strcmp(orig, rcpt) != 0)
		snprintf(orig_part, sizeof(orig_part), ", orig_to=<%s>", orig);
	msg_info("%s: to=<%s>%s, relay=%s, delay=%s, delays=%s/%s/%s/%s, dsn=%s, status=%s (%s)",
		 queue_id, rcpt, orig_part, relay, total, a, b, c, d, dsn, status, reason);
}
