/* smtpd_dns - does a domain exist in the DNS (for reject_unknown_*_domain).
 *
 * A domain is known when it has an MX, an A or an AAAA record. The
 * resolver is asked with a short time limit (two tries of two seconds) so
 * a dead name server cannot hold a session; any failure other than "no
 * such domain" or "no such record" is a temporary one. Tests replace the
 * lookup with smtpd_dns_hook so that no query leaves the machine.
 */
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <string.h>

#include "smtpd.h"

int (*smtpd_dns_hook)(const char *domain);

int smtpd_dns_domain(const char *domain)
{
	static const int types[] = {ns_t_mx, ns_t_a, ns_t_aaaa};
	struct __res_state res;
	unsigned char answer[1024];
	int temp = 0, found = 0;

	if (smtpd_dns_hook)
		return smtpd_dns_hook(domain);
	memset(&res, 0, sizeof(res));
	if (res_ninit(&res) < 0)
		return -1;
	res.retrans = 2;
	res.retry = 2;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]) && !found; i++) {
		if (res_nquery(&res, domain, ns_c_in, types[i], answer, sizeof(answer)) >= 0) {
			found = 1;
		} else if (res.res_h_errno == HOST_NOT_FOUND) {
			break;		/* NXDOMAIN: no type will do */
		} else if (res.res_h_errno != NO_DATA) {
			temp = 1;
			break;
		}
	}
	res_nclose(&res);
	return found ? 1 : temp ? -1 : 0;
}
