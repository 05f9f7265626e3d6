/* sasl - SMTP AUTH through Cyrus libsasl2 (see sasl.h).
 *
 * The server side follows Postfix's xsasl_cyrus_server: the application
 * name selects APP.conf in cyrus_sasl_config_path (pwcheck_method,
 * auxprop_plugin, mech_list, ...), no SASL security layer is offered
 * (max_ssf 0: TLS is the way to encrypt), and the error texts are
 * Cyrus's own ("authentication failure"), which is what fail2ban reads.
 * The client side hands Cyrus the user name and password through
 * callbacks and lets it choose among the server's mechanisms under the
 * security options.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sasl/sasl.h>

#include "argv.h"
#include "mem.h"
#include "msg.h"
#include "sasl.h"

/* ---- pure helpers --------------------------------------------------- */

static const struct {
	const char *name;
	unsigned flag;
} secopts[] = {
	{"noplaintext", SASL_SEC_NOPLAINTEXT},
	{"noactive", SASL_SEC_NOACTIVE},
	{"nodictionary", SASL_SEC_NODICTIONARY},
	{"noanonymous", SASL_SEC_NOANONYMOUS},
	{"mutual_auth", SASL_SEC_MUTUAL_AUTH},
	{"forward_secrecy", SASL_SEC_FORWARD_SECRECY},
};

int xsasl_secflags(const char *text, unsigned *flags, char **bad)
{
	struct argv words = ARGV_INIT;
	int ret = 0;

	*flags = 0;
	argv_split(&words, text, ", \t\r\n");
	for (size_t i = 0; i < words.n && ret == 0; i++) {
		size_t k;

		for (k = 0; k < sizeof(secopts) / sizeof(secopts[0]); k++)
			if (strcasecmp(words.v[i], secopts[k].name) == 0)
				break;
		if (k < sizeof(secopts) / sizeof(secopts[0])) {
			*flags |= secopts[k].flag;
		} else {
			*bad = xstrdup(words.v[i]);
			ret = -1;
		}
	}
	argv_free(&words);
	return ret;
}

int xsasl_passwd_split(const char *value, char **user, char **pass)
{
	const char *colon = strchr(value, ':');
	size_t ulen = colon ? (size_t)(colon - value) : strlen(value);

	/* as Postfix: no colon is an empty password */
	if (ulen == 0)
		return -1;
	*user = xstrndup(value, ulen);
	*pass = xstrdup(colon ? colon + 1 : "");
	return 0;
}

size_t xsasl_mech_filter(const char *offered, const char *filter, vstr *out)
{
	struct argv have = ARGV_INIT, want = ARGV_INIT;
	size_t n = 0;

	vstr_reset(out);
	argv_split(&have, offered, " \t");
	argv_split(&want, filter, ", \t\r\n");
	for (size_t i = 0; i < have.n; i++) {
		int keep = want.n == 0;

		for (size_t k = 0; k < want.n && !keep; k++)
			keep = strcasecmp(have.v[i], want.v[k]) == 0;
		if (!keep)
			continue;
		if (n++)
			vstr_catc(out, ' ');
		vstr_cat(out, have.v[i]);
	}
	argv_free(&have);
	argv_free(&want);
	return n;
}

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void xsasl_b64_encode(const void *data, size_t len, vstr *out)
{
	const unsigned char *p = data;

	vstr_reset(out);
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		size_t left = len - i;

		if (left > 1)
			v |= (unsigned)p[i + 1] << 8;
		if (left > 2)
			v |= p[i + 2];
		vstr_catc(out, b64chars[(v >> 18) & 63]);
		vstr_catc(out, b64chars[(v >> 12) & 63]);
		vstr_catc(out, left > 1 ? b64chars[(v >> 6) & 63] : '=');
		vstr_catc(out, left > 2 ? b64chars[v & 63] : '=');
	}
}

static int b64val(int c)
{
	const char *p = c ? strchr(b64chars, c) : NULL;

	return p ? (int)(p - b64chars) : -1;
}

int xsasl_b64_decode(const char *text, vstr *out)
{
	size_t len = strlen(text);

	vstr_reset(out);
	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int last = i + 4 == len;
		int a = b64val(text[i]), b = b64val(text[i + 1]);
		int c = text[i + 2] == '=' && last ? 0 : b64val(text[i + 2]);
		int d = text[i + 3] == '=' && last ? 0 : b64val(text[i + 3]);
		unsigned v;

		if (a < 0 || b < 0 || c < 0 || d < 0)
			return -1;
		if (text[i + 2] == '=' && text[i + 3] != '=')
			return -1;
		v = (unsigned)a << 18 | (unsigned)b << 12 | (unsigned)c << 6 | (unsigned)d;
		vstr_catc(out, (int)(v >> 16) & 255);
		if (text[i + 2] != '=')
			vstr_catc(out, (int)(v >> 8) & 255);
		if (text[i + 3] != '=')
			vstr_catc(out, (int)v & 255);
	}
	return 0;
}

/* ---- Cyrus glue shared by both sides -------------------------------- */

/* CB - a callback as Cyrus stores it (through void (*)(void), the
 * generic function pointer that GCC lets any function cast to) */
#define CB(f)	((int (*)(void))(void (*)(void))(f))

/* cyrus_log - Cyrus's own messages into our log ("No worthy mechs found") */
static int cyrus_log(void *context, int level, const char *message)
{
	(void)context;
	if (message == NULL)
		return SASL_OK;
	if (level <= SASL_LOG_ERR)
		msg_warn("SASL authentication problem: %s", message);
	else if (level <= SASL_LOG_WARN)
		msg_warn("SASL authentication failure: %s", message);
	else if (level <= SASL_LOG_NOTE)
		msg_info("SASL: %s", message);
	else
		msg_debug("SASL: %s", message);
	return SASL_OK;
}

/* why_set - Cyrus's text for a status ("authentication failure") */
static void why_set(vstr *why, int status)
{
	vstr_cpy(why, sasl_errstring(status, NULL, NULL));
}

/* secprops - the security options as Cyrus properties; -1 logged */
static int secprops(sasl_conn_t *conn, const char *text, char **err)
{
	sasl_security_properties_t p;
	unsigned flags;
	char *bad = NULL;

	if (xsasl_secflags(text, &flags, &bad) < 0) {
		*err = xasprintf("unknown SASL security option \"%s\"", bad);
		free(bad);
		return -1;
	}
	memset(&p, 0, sizeof(p));
	p.min_ssf = 0;
	p.max_ssf = 0;		/* no SASL security layer */
	p.maxbufsize = 0;
	p.security_flags = flags;
	if (sasl_setprop(conn, SASL_SEC_PROPS, &p) != SASL_OK) {
		*err = xasprintf("cannot set SASL security properties: %s", sasl_errdetail(conn));
		return -1;
	}
	return 0;
}

/* status_of - a Cyrus step result as ours; the output encoded into out */
static enum xsasl_status status_of(int r, const char *data, unsigned len, vstr *out, vstr *why)
{
	vstr_reset(out);
	if (r == SASL_OK || r == SASL_CONTINUE) {
		if (data && len)
			xsasl_b64_encode(data, len, out);
		return r == SASL_OK ? XSASL_DONE : XSASL_CONTINUE;
	}
	why_set(why, r);
	if (r == SASL_NOMEM || r == SASL_UNAVAIL || r == SASL_TRYAGAIN)
		return XSASL_TEMP;
	return XSASL_FAIL;
}

/* ---- server --------------------------------------------------------- */

static char *server_conf_path;

static int server_getconfpath(void *context, char **path)
{
	(void)context;
	*path = strdup(server_conf_path);
	return *path ? SASL_OK : SASL_NOMEM;
}

int xsasl_server_setup(const char *app, const char *config_path, char **err)
{
	static sasl_callback_t with_path[] = {
		{SASL_CB_LOG, CB(cyrus_log), NULL},
		{SASL_CB_GETCONFPATH, CB(server_getconfpath), NULL},
		{SASL_CB_LIST_END, NULL, NULL},
	};
	static sasl_callback_t without[] = {
		{SASL_CB_LOG, CB(cyrus_log), NULL},
		{SASL_CB_LIST_END, NULL, NULL},
	};
	static int done;
	int r;

	if (done)
		return 0;
	if (config_path && *config_path)
		server_conf_path = xstrdup(config_path);
	if ((r = sasl_server_init(server_conf_path ? with_path : without, app)) != SASL_OK) {
		*err = xasprintf("SASL per-process initialization failed: %s",
				 sasl_errstring(r, NULL, NULL));
		return -1;
	}
	done = 1;
	return 0;
}

struct xsasl_server {
	sasl_conn_t *conn;
	vstr in;
};

struct xsasl_server *xsasl_server_new(const char *server_fqdn, const char *user_realm,
				      const char *secopts_text, const char *local_addr,
				      const char *remote_addr, char **err)
{
	struct xsasl_server *x = xcalloc(1, sizeof(*x));
	int r;

	r = sasl_server_new("smtp", server_fqdn, user_realm && *user_realm ? user_realm : NULL,
			    local_addr, remote_addr, NULL, 0, &x->conn);
	if (r != SASL_OK) {
		*err = xasprintf("SASL per-connection server initialization: %s",
				 sasl_errstring(r, NULL, NULL));
		free(x);
		return NULL;
	}
	if (secprops(x->conn, secopts_text, err) < 0) {
		sasl_dispose(&x->conn);
		free(x);
		return NULL;
	}
	vstr_init(&x->in);
	return x;
}

int xsasl_server_mechs(struct xsasl_server *x, vstr *out)
{
	const char *list;
	unsigned len;
	int count;

	vstr_reset(out);
	if (sasl_listmech(x->conn, NULL, "", " ", "", &list, &len, &count) != SASL_OK)
		return -1;
	vstr_ncat(out, list, len);
	return count;
}

/* decode_in - the client's base64 into x->in; -1 with why */
static int decode_in(struct xsasl_server *x, const char *text, vstr *why)
{
	if (strcmp(text, "=") == 0) {
		vstr_reset(&x->in);
		return 0;
	}
	if (xsasl_b64_decode(text, &x->in) < 0) {
		vstr_cpy(why, "malformed BASE64 input");
		return -1;
	}
	return 0;
}

enum xsasl_status xsasl_server_first(struct xsasl_server *x, const char *mech, const char *init,
				     vstr *out, vstr *why)
{
	const char *data = NULL;
	unsigned len = 0;
	int r;

	if (init && decode_in(x, init, why) < 0)
		return XSASL_FORM;
	r = sasl_server_start(x->conn, mech, init ? vstr_str(&x->in) : NULL,
			      init ? (unsigned)vstr_len(&x->in) : 0, &data, &len);
	return status_of(r, data, len, out, why);
}

enum xsasl_status xsasl_server_next(struct xsasl_server *x, const char *answer, vstr *out,
				    vstr *why)
{
	const char *data = NULL;
	unsigned len = 0;
	int r;

	if (decode_in(x, answer, why) < 0)
		return XSASL_FORM;
	r = sasl_server_step(x->conn, vstr_str(&x->in), (unsigned)vstr_len(&x->in), &data, &len);
	return status_of(r, data, len, out, why);
}

const char *xsasl_server_username(struct xsasl_server *x)
{
	const void *user = NULL;

	if (sasl_getprop(x->conn, SASL_USERNAME, &user) != SASL_OK)
		return NULL;
	return user;
}

void xsasl_server_free(struct xsasl_server *x)
{
	if (x == NULL)
		return;
	sasl_dispose(&x->conn);
	/* the decoded answers held the password */
	if (x->in.buf)
		memset(x->in.buf, 0, x->in.len);
	vstr_release(&x->in);
	free(x);
}

/* ---- client --------------------------------------------------------- */

int xsasl_client_setup(char **err)
{
	static sasl_callback_t callbacks[] = {
		{SASL_CB_LOG, CB(cyrus_log), NULL},
		{SASL_CB_LIST_END, NULL, NULL},
	};
	static int done;
	int r;

	if (done)
		return 0;
	if ((r = sasl_client_init(callbacks)) != SASL_OK) {
		*err = xasprintf("SASL per-process initialization failed: %s",
				 sasl_errstring(r, NULL, NULL));
		return -1;
	}
	done = 1;
	return 0;
}

struct xsasl_client {
	sasl_conn_t *conn;
	char *user;
	sasl_secret_t *secret;
	sasl_callback_t callbacks[4];
	vstr in;
};

static int client_user(void *context, int id, const char **result, unsigned *len)
{
	struct xsasl_client *x = context;

	if (id != SASL_CB_USER && id != SASL_CB_AUTHNAME)
		return SASL_FAIL;
	*result = x->user;
	if (len)
		*len = (unsigned)strlen(x->user);
	return SASL_OK;
}

static int client_pass(sasl_conn_t *conn, void *context, int id, sasl_secret_t **psecret)
{
	struct xsasl_client *x = context;

	(void)conn;
	if (id != SASL_CB_PASS)
		return SASL_FAIL;
	*psecret = x->secret;
	return SASL_OK;
}

struct xsasl_client *xsasl_client_new(const char *host, const char *secopts_text,
				      const char *user, const char *pass, char **err)
{
	struct xsasl_client *x = xcalloc(1, sizeof(*x));
	size_t plen = strlen(pass);
	int r;

	x->user = xstrdup(user);
	x->secret = xcalloc(1, sizeof(*x->secret) + plen + 1);
	x->secret->len = plen;
	memcpy(x->secret->data, pass, plen + 1);
	x->callbacks[0] = (sasl_callback_t){SASL_CB_USER, CB(client_user), x};
	x->callbacks[1] = (sasl_callback_t){SASL_CB_AUTHNAME, CB(client_user), x};
	x->callbacks[2] = (sasl_callback_t){SASL_CB_PASS, CB(client_pass), x};
	x->callbacks[3] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};
	vstr_init(&x->in);
	if ((r = sasl_client_new("smtp", host, NULL, NULL, x->callbacks, 0, &x->conn)) != SASL_OK) {
		*err = xasprintf("per-session SASL client initialization: %s",
				 sasl_errstring(r, NULL, NULL));
		xsasl_client_free(x);
		return NULL;
	}
	if (secprops(x->conn, secopts_text, err) < 0) {
		xsasl_client_free(x);
		return NULL;
	}
	return x;
}

enum xsasl_status xsasl_client_first(struct xsasl_client *x, const char *mechs, const char **mech,
				     vstr *out, vstr *why)
{
	const char *data = NULL;
	unsigned len = 0;
	enum xsasl_status st;
	int r;

	*mech = NULL;
	r = sasl_client_start(x->conn, mechs, NULL, &data, &len, mech);
	st = status_of(r, data, len, out, why);
	/* an initial response that is empty but present travels as "=" */
	if (st <= XSASL_CONTINUE && data != NULL && len == 0)
		vstr_cpy(out, "=");
	return st;
}

enum xsasl_status xsasl_client_next(struct xsasl_client *x, const char *challenge, vstr *out,
				    vstr *why)
{
	const char *data = NULL;
	unsigned len = 0;
	int r;

	if (xsasl_b64_decode(challenge, &x->in) < 0) {
		vstr_cpy(why, "malformed BASE64 challenge");
		return XSASL_FAIL;
	}
	r = sasl_client_step(x->conn, vstr_str(&x->in), (unsigned)vstr_len(&x->in), NULL, &data, &len);
	return status_of(r, data, len, out, why);
}

void xsasl_client_free(struct xsasl_client *x)
{
	if (x == NULL)
		return;
	if (x->conn)
		sasl_dispose(&x->conn);
	if (x->secret) {
		memset(x->secret->data, 0, x->secret->len);
		free(x->secret);
	}
	free(x->user);
	vstr_release(&x->in);
	free(x);
}
