/* sasl - SMTP AUTH through Cyrus libsasl2, for both directions.
 *
 * One module holds all the Cyrus glue so that smtpd and smtp never see
 * a sasl_conn_t: smtpd gets a server exchange that takes and gives
 * base64 text as it travels in AUTH and 334 lines, smtp gets a client
 * exchange fed by a user name and password from smtp_sasl_password_maps.
 * The pure parts (security options, the password-map value, the
 * mechanism filter, base64) are separate functions with unit tests.
 *
 * Passwords are never logged; nothing in here logs what a client sent.
 */
#ifndef POSTERN_SASL_H
#define POSTERN_SASL_H

#include <stddef.h>

#include "vstr.h"

/* ---- pure helpers --------------------------------------------------- */

/* xsasl_secflags - Postfix's security option words (noplaintext,
 * noactive, nodictionary, noanonymous, mutual_auth, forward_secrecy;
 * commas or white space) as Cyrus SASL_SEC_* bits. -1 with the first
 * unknown word in *bad (malloc'ed). */
int xsasl_secflags(const char *text, unsigned *flags, char **bad);

/* xsasl_passwd_split - a smtp_sasl_password_maps value "user:password"
 * (split at the first colon; no colon: an empty password, as in
 * Postfix). -1 when the user name is empty. */
int xsasl_passwd_split(const char *value, char **user, char **pass);

/* xsasl_mech_filter - the mechanisms of offered (a server's AUTH
 * keyword list) that filter (a list; "" = all) names, case-insensitive,
 * space-separated in out in the server's order; their number. */
size_t xsasl_mech_filter(const char *offered, const char *filter, vstr *out);

/* xsasl_b64_encode / _decode - RFC 4648 base64 of binary data. Decoding
 * is strict (padding required, no white space, no other bytes); out may
 * then hold NUL bytes. -1 on malformed input. */
void xsasl_b64_encode(const void *data, size_t len, vstr *out);
int xsasl_b64_decode(const char *text, vstr *out);

/* ---- server --------------------------------------------------------- */

/* xsasl_server_setup - once per process, before chroot: the Cyrus server
 * library with application name app (smtpd_sasl_path: it reads app.conf)
 * from config_path (cyrus_sasl_config_path; "" = Cyrus's default). 0, or
 * -1 with *err (malloc'ed). */
int xsasl_server_setup(const char *app, const char *config_path, char **err);

enum xsasl_status {
	XSASL_DONE,		/* authenticated */
	XSASL_CONTINUE,		/* send "334 challenge", feed the answer */
	XSASL_FAIL,		/* refused: 535, why says why */
	XSASL_TEMP,		/* the back end failed: 454 */
	XSASL_FORM,		/* the client's text was not base64: 501 */
};

struct xsasl_server;

/* xsasl_server_new - one exchange (a new one for every AUTH command, so
 * an aborted exchange leaves nothing behind). NULL with *err. */
struct xsasl_server *xsasl_server_new(const char *server_fqdn, const char *user_realm,
				      const char *secopts, const char *local_addr,
				      const char *remote_addr, char **err);
/* xsasl_server_mechs - the mechanisms it offers, space-separated */
int xsasl_server_mechs(struct xsasl_server *x, vstr *out);
/* xsasl_server_first - starts mech with the initial response (base64,
 * "=" for empty; NULL for none). The challenge (base64) goes to out. */
enum xsasl_status xsasl_server_first(struct xsasl_server *x, const char *mech, const char *init,
				     vstr *out, vstr *why);
/* xsasl_server_next - the client's answer (base64) to a challenge */
enum xsasl_status xsasl_server_next(struct xsasl_server *x, const char *answer, vstr *out,
				    vstr *why);
/* xsasl_server_username - after XSASL_DONE: the authenticated name */
const char *xsasl_server_username(struct xsasl_server *x);
void xsasl_server_free(struct xsasl_server *x);

/* ---- client --------------------------------------------------------- */

/* xsasl_client_setup - once per process: the Cyrus client library */
int xsasl_client_setup(char **err);

struct xsasl_client;

/* xsasl_client_new - an exchange with server host as user with pass
 * under the security options secopts. NULL with *err. */
struct xsasl_client *xsasl_client_new(const char *host, const char *secopts, const char *user,
				      const char *pass, char **err);
/* xsasl_client_first - picks a mechanism of mechs: *mech, and the
 * initial response (base64, "=" when empty) in out, or out empty when
 * the mechanism has none. XSASL_FAIL with why ("no mechanism available"). */
enum xsasl_status xsasl_client_first(struct xsasl_client *x, const char *mechs, const char **mech,
				     vstr *out, vstr *why);
/* xsasl_client_next - the answer (base64) to a challenge (base64) */
enum xsasl_status xsasl_client_next(struct xsasl_client *x, const char *challenge, vstr *out,
				    vstr *why);
void xsasl_client_free(struct xsasl_client *x);

#endif
