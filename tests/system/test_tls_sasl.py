"""TLS and SMTP AUTH together (issue 6): the submission setup and a
satellite host sending through a smarthost with a password.

Server: with smtpd_tls_auth_only = yes, AUTH is neither offered nor
accepted before STARTTLS, is offered after it, a login inside TLS relays
with `with ESMTPSA`, and a login made before STARTTLS does not survive it.
Client: with the default smtp_sasl_security_options (noplaintext) postern
authenticates to a relayhost only inside TLS.
"""
import base64
import os
import smtplib

import pytest
from aiosmtpd.smtp import AuthResult

from conftest import ensure_user, myhostname, needs_root, read_bytes, sendmail, wait_for, wait_mail
from test_sasl import PASSWORDS, USER, make_sasldb
from test_smtp_client import log_has
from test_tls import SERVER_NAME, TlsRemote, client_ctx

pytestmark = [needs_root, pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")]


def submission(inst, tls_ca):
    """TLS may + AUTH only inside TLS + relaying for authenticated clients
    only (mynetworks is just 127.0.0.1, clients connect from 127.0.0.2)."""
    ensure_user(USER)
    cert, key = tls_ca.issue(SERVER_NAME, "localhost", "127.0.0.1")
    inst.init()
    host = myhostname(inst)
    d = make_sasldb(inst, host)
    inst.cmd("conf", "-e", f"smtpd_tls_cert_file={cert}", f"smtpd_tls_key_file={key}",
             "smtpd_tls_security_level=may", "smtpd_sasl_auth_enable=yes", "smtpd_tls_auth_only=yes",
             f"cyrus_sasl_config_path={d}", "mynetworks=127.0.0.1/32", "smtpd_error_sleep_time=0",
             "default_transport=discard-test", "defer_transports=discard-test")
    inst.start()
    return host


def test_auth_only_after_starttls_and_esmtpsa(inst, tls_ca):
    host = submission(inst, tls_ca)
    with smtplib.SMTP("127.0.0.1", inst.port, source_address=("127.0.0.2", 0), timeout=20) as s:
        s.ehlo("client.test")
        assert "auth" not in s.esmtp_features and "starttls" in s.esmtp_features
        code, _ = s.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0alice\0alice-secret").decode())
        assert code == 538
        s.starttls(context=client_ctx(tls_ca))
        s.ehlo("client.test")
        assert "PLAIN" in s.esmtp_features.get("auth", "")
        s.login("alice", PASSWORDS["alice"])
        s.sendmail("alice@" + host, [f"{USER}@{host}", "friend@far.example"],
                   b"Subject: submitted\r\n\r\nover TLS with AUTH\r\n")
    [path] = wait_mail(inst, USER, 1)
    text = read_bytes(path).decode(errors="replace")
    assert " with ESMTPSA id " in text and "(using TLSv1." in text
    log_has(inst, r"client=unknown\[127\.0\.0\.2\], sasl_method=PLAIN, sasl_username=alice")
    # relayed for the authenticated client (held by defer_transports)
    log_has(inst, r"to=<friend@far\.example>, relay=none, .*status=deferred \(deferred transport\)")


def test_unauthenticated_client_may_not_relay_over_tls(inst, tls_ca):
    submission(inst, tls_ca)
    with smtplib.SMTP("127.0.0.1", inst.port, source_address=("127.0.0.2", 0), timeout=20) as s:
        s.starttls(context=client_ctx(tls_ca))
        s.ehlo("client.test")
        s.mail("someone@outside.test")
        code, text = s.rcpt("friend@far.example")
        assert code == 554 and b"Relay access denied" in text


class AuthTlsRemote(TlsRemote):
    """A relayhost on port 25 with STARTTLS that requires AUTH (and
    accepts it in clear too, so only postern's own policy keeps the
    password out of a plaintext session); records the credentials."""

    def __init__(self, addr, user, password, **kw):
        self.seen = []

        def authenticator(server, session, envelope, mechanism, auth_data):
            tls = server.transport.get_extra_info("sslcontext") is not None
            login, pw = auth_data.login.decode(), auth_data.password.decode()
            self.seen.append((mechanism, login, pw, tls))
            ok = (login, pw) == (user, password)
            return AuthResult(success=ok, handled=ok)

        self.controller_kw = {"authenticator": authenticator, "auth_require_tls": False,
                              "auth_required": True}
        super().__init__(addr, **kw)


def test_client_authenticates_to_smarthost_only_inside_tls(inst, tls_ca, remote_net, tmp_path):
    cert, key = tls_ca.issue("smarthost.test")
    r = AuthTlsRemote("192.0.2.13", "sat", "sat-secret", cert=cert, key=key)
    try:
        ensure_user(USER)
        inst.init()
        pw = os.path.join(inst.top, "sasl_passwd")
        with open(pw, "w") as f:
            f.write("[192.0.2.13] sat:sat-secret\n")
        inst.cmd("conf", "-e", "relayhost=[192.0.2.13]", "smtp_sasl_auth_enable=yes",
                 f"smtp_sasl_password_maps=texthash:{pw}", f"smtp_tls_CAfile={tls_ca.ca}",
                 "smtp_tls_security_level=may", "smtp_connect_timeout=2s")
        inst.start()
        host = myhostname(inst)
        r_send = sendmail(inst, "-f", f"{USER}@{host}", "far@away.example", data=b"Subject: sat\n\nhi\n")
        assert r_send.returncode == 0, r_send.stderr
        log_has(inst, r"to=<far@away\.example>, relay=192\.0\.2\.13\[192\.0\.2\.13\]:25, .*status=sent")
        wait_for(lambda: len(r.messages) == 1, 5, what="message at the smarthost")
        assert r.seen and all(tls for *_, tls in r.seen), r.seen
        assert r.seen[-1][1:3] == ("sat", "sat-secret")
        assert r.messages[0]["tls"]
    finally:
        r.stop()
