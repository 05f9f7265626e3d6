"""SMTP AUTH in both directions with Cyrus SASL.

Server side: a sasldb2 made by saslpasswd2 and a private smtpd.conf
(auxprop/sasldb, mech_list PLAIN LOGIN) that cyrus_sasl_config_path
points at; swaks --auth PLAIN/LOGIN, smtplib login() and raw dialogues
for the protocol's corners (initial responses, "*" cancel, 503/538), the
fail2ban log line, the error limits, permit_sasl_authenticated relaying
and smtpd_sender_login_maps.

Client side: postern relays through an aiosmtpd relayhost on the
remote_net addresses that requires AUTH, with the password from
smtp_sasl_password_maps keyed by the nexthop as written.
"""
import base64
import os
import re
import smtplib
import subprocess
import threading
import time

import pytest

from conftest import ensure_user, free_port, myhostname, needs_root, read_bytes, sendmail, wait_for, wait_mail
from test_smtpd import OUTSIDE, Client

pytestmark = [needs_root, pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")]

USER = "pt-sasl"		# local mailbox owner that the tests mail to
PASSWORDS = {"alice": "alice-secret", "bob": "bob-secret"}


def make_sasldb(inst, realm, users=PASSWORDS):
    """A sasldb2 with users in realm and an smtpd.conf using it; returns
    the directory for cyrus_sasl_config_path."""
    d = os.path.join(inst.top, "sasl")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    db = os.path.join(d, "sasldb2")
    for user, password in users.items():
        subprocess.run(["saslpasswd2", "-f", db, "-u", realm, "-a", "smtpd", "-p", "-c", user],
                       input=password.encode(), check=True, capture_output=True, timeout=30)
    os.chmod(db, 0o644)
    with open(os.path.join(d, "smtpd.conf"), "w") as f:
        f.write(f"pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: {db}\n"
                "mech_list: PLAIN LOGIN\n")
    return d


def start_auth(inst, *conf, enable=True, realm=None):
    """An instance with AUTH enabled against a fresh sasldb; returns
    myhostname (the users' realm unless realm is given)."""
    ensure_user(USER)
    inst.init()
    host = myhostname(inst)
    d = make_sasldb(inst, realm or host)
    inst.cmd("conf", "-e", f"cyrus_sasl_config_path={d}", "mynetworks=127.0.0.1/32",
             "smtpd_error_sleep_time=0", f"smtpd_sasl_auth_enable={'yes' if enable else 'no'}",
             *conf)
    inst.start()
    return host


def b64(text):
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def plain(user, password):
    return b64(f"\0{user}\0{password}")


def ehlo(inst, source="127.0.0.1"):
    c = Client(inst.port, source)
    assert c.reply()[0] == 220
    code, text = c.cmd("EHLO client.example")
    assert code == 250, text
    return c, text


def swaks(inst, host, mech, password, *extra):
    return subprocess.run(["swaks", "--server", f"127.0.0.1:{inst.port}", "--helo", "swaks.example",
                           "--from", f"alice@{host}", "--to", f"{USER}@{host}",
                           "--auth", mech, "--auth-user", "alice", "--auth-password", password,
                           "--timeout", "15", *extra],
                          capture_output=True, text=True, timeout=60)


# -- server: the good path -----------------------------------------------------

@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_swaks_auth(inst, mech):
    host = start_auth(inst)
    r = swaks(inst, host, mech, PASSWORDS["alice"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "235 2.7.0 Authentication successful" in r.stdout
    [path] = wait_mail(inst, USER)
    msg = read_bytes(path).decode(errors="replace")
    # RFC 3848; no user name in Received: unless smtpd_sasl_authenticated_header
    assert re.search(r"with ESMTPA id \w+", msg), msg
    assert "Authenticated sender" not in msg
    inst.wait_log(f"client=localhost[127.0.0.1], sasl_method={mech}, sasl_username=alice")
    inst.wait_log("auth=1")
    assert PASSWORDS["alice"] not in inst.log()


def test_ehlo_offers_auth_only_when_enabled(inst):
    start_auth(inst, enable=False)
    c, text = ehlo(inst)
    assert "AUTH" not in text
    assert c.cmd("AUTH PLAIN " + plain("alice", PASSWORDS["alice"])) == (
        503, "503 5.5.1 Error: authentication not enabled")
    c.cmd("QUIT")
    inst.stop()
    inst.cmd("conf", "-e", "smtpd_sasl_auth_enable=yes")
    inst.start()
    c, text = ehlo(inst)
    assert "250-AUTH PLAIN LOGIN" in text or "250-AUTH LOGIN PLAIN" in text, text
    assert "AUTH=" not in text
    c.cmd("QUIT")
    inst.stop()
    inst.cmd("conf", "-e", "broken_sasl_auth_clients=yes")
    inst.start()
    c, text = ehlo(inst)
    assert re.search(r"250-AUTH=(PLAIN LOGIN|LOGIN PLAIN)", text), text
    c.cmd("QUIT")


def test_smtplib_login_and_authenticated_header(inst):
    host = start_auth(inst, "smtpd_sasl_authenticated_header=yes")
    s = smtplib.SMTP("127.0.0.1", inst.port, local_hostname="c.example", timeout=15)
    s.ehlo()
    assert s.login("alice", PASSWORDS["alice"])[0] == 235
    s.sendmail(f"alice@{host}", [f"{USER}@{host}"], b"Subject: smtplib\r\n\r\nhi\r\n")
    s.quit()
    [path] = wait_mail(inst, USER)
    msg = read_bytes(path).decode(errors="replace")
    assert re.search(r"Received: from c\.example \(localhost \[127\.0\.0\.1\]\)\n"
                     r"\t\(Authenticated sender: alice\)\n\tby ", msg), msg


def test_initial_response_challenges_and_realm(inst):
    host = start_auth(inst)
    # PLAIN without an initial response: an empty 334, then the answer
    c, _ = ehlo(inst)
    assert c.cmd("AUTH PLAIN") == (334, "334 ")
    assert c.cmd(plain("alice", PASSWORDS["alice"]))[0] == 235
    assert c.cmd("AUTH PLAIN " + plain("alice", PASSWORDS["alice"])) == (
        503, "503 5.5.1 Error: already authenticated")
    c.cmd("QUIT")
    # LOGIN: Username: and Password: prompts; user@realm works as well
    c, _ = ehlo(inst)
    assert c.cmd("AUTH LOGIN " + b64(f"bob@{host}")) == (334, "334 " + b64("Password:"))
    assert c.cmd(b64(PASSWORDS["bob"]))[0] == 235
    c.cmd("QUIT")
    c, _ = ehlo(inst)
    assert c.cmd("AUTH LOGIN") == (334, "334 " + b64("Username:"))
    assert c.cmd(b64("bob")) == (334, "334 " + b64("Password:"))
    assert c.cmd(b64(PASSWORDS["bob"]))[0] == 235
    c.cmd("QUIT")


def test_local_domain_is_the_realm(inst):
    start_auth(inst, "smtpd_sasl_local_domain=example.test", realm="example.test")
    c, _ = ehlo(inst)
    assert c.cmd("AUTH PLAIN " + plain("alice", PASSWORDS["alice"]))[0] == 235
    c.cmd("QUIT")


def test_submission_service_from_master_cf(inst):
    """The template's submission lines: AUTH enabled by -o for one service
    only, and nothing but a login may send there."""
    host = start_auth(inst, enable=False)
    assert "#submission   inet" in inst.read("master.cf")
    inst.stop()
    port = free_port()
    inst.add_service(f"127.0.0.1:{port} inet n - n - - smtpd\n"
                     "  -o syslog_name=postern/submission\n  -o smtpd_sasl_auth_enable=yes\n"
                     "  -o smtpd_client_restrictions=permit_sasl_authenticated,reject\n"
                     "  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject")
    inst.start()
    c, text = ehlo(inst)		# port 25's service: no AUTH
    assert "AUTH" not in text
    c.cmd("QUIT")
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="c.example", timeout=15)
    s.ehlo()
    assert s.has_extn("auth")
    code, _ = s.docmd("MAIL", f"FROM:<alice@{host}>")
    assert code == 250
    assert s.docmd("RCPT", f"TO:<{USER}@{host}>")[0] == 554
    s.rset()
    s.login("alice", PASSWORDS["alice"])
    s.sendmail(f"alice@{host}", [f"{USER}@{host}"], b"Subject: submitted\r\n\r\nx\r\n")
    s.quit()
    wait_mail(inst, USER)
    assert re.search(r"postern/submission/smtpd\[\d+\]: \w+: client=localhost\[127\.0\.0\.1\], "
                     r"sasl_method=PLAIN, sasl_username=alice", inst.log()), inst.log()


def test_protocol_errors(inst):
    start_auth(inst)
    c = Client(inst.port)
    assert c.reply()[0] == 220
    assert c.cmd("AUTH PLAIN") == (503, "503 5.5.1 Error: send HELO/EHLO first")
    assert c.cmd("EHLO client.example")[0] == 250
    assert c.cmd("AUTH") == (501, "501 5.5.4 Syntax: AUTH mechanism")
    # "*" cancels
    assert c.cmd("AUTH LOGIN")[0] == 334
    assert c.cmd("*") == (501, "501 5.7.0 Authentication aborted")
    # not base64 (RFC 4954 4: 501)
    assert c.cmd("AUTH PLAIN ****") == (501, "501 5.5.2 Cannot decode response")
    assert c.cmd("AUTH LOGIN")[0] == 334
    assert c.cmd("dXNlcg") == (501, "501 5.5.2 Cannot decode response")
    # security.md 1.10's vectors: empty, one NUL, three NULs, another authzid
    for resp in ("=", "dQBw", "AHUAcABx", b64(f"admin\0alice\0{PASSWORDS['alice']}")):
        code, text = c.cmd("AUTH PLAIN " + resp)
        assert code == 535, (resp, text)
    assert c.cmd("AUTH PLAIN " + "A" * 100000)[0] == 500
    # AUTH inside a transaction
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd("AUTH PLAIN " + plain("alice", PASSWORDS["alice"])) == (
        503, "503 5.5.1 Error: MAIL transaction in progress")
    assert c.cmd("RSET")[0] == 250
    # a mechanism that mech_list does not allow
    assert c.cmd("AUTH CRAM-MD5")[0] == 535
    # after all that, a good one still works
    assert c.cmd("AUTH PLAIN " + plain("alice", PASSWORDS["alice"]))[0] == 235
    c.cmd("QUIT")
    inst.wait_log("warning: localhost[127.0.0.1]: SASL LOGIN authentication aborted")


# -- server: failures -------------------------------------------------------------

def test_wrong_password_logs_for_fail2ban(inst):
    start_auth(inst)
    c, _ = ehlo(inst, OUTSIDE)
    assert c.cmd("AUTH LOGIN " + b64("alice")) == (334, "334 " + b64("Password:"))
    code, text = c.cmd(b64("wrong-password"))
    assert code == 535 and text.startswith("535 5.7.8 "), text
    code, text = c.cmd("AUTH PLAIN " + plain("alice", "wrong-password"))
    assert code == 535 and text.startswith("535 5.7.8 "), text
    c.cmd("QUIT")
    inst.wait_log("disconnect from")
    log = inst.log()
    # the shape of fail2ban's filter.d/postfix.conf [mode=auth]
    assert re.search(r"postern/smtpd\[\d+\]: warning: unknown\[127\.0\.0\.2\]: "
                     r"SASL LOGIN authentication failed: authentication failure$", log, re.M), log
    assert re.search(r"warning: unknown\[127\.0\.0\.2\]: SASL PLAIN authentication failed: "
                     r"authentication failure$", log, re.M), log
    assert re.search(r"disconnect from unknown\[127\.0\.0\.2\] ehlo=1 auth=0/2 quit=1", log), log
    assert "wrong-password" not in log


def test_failures_hit_the_error_limit(inst):
    start_auth(inst, "smtpd_hard_error_limit=3")
    c, _ = ehlo(inst, OUTSIDE)
    for _ in range(3):
        assert c.cmd("AUTH PLAIN " + plain("alice", "guess"))[0] == 535
    code, text = c.cmd("AUTH PLAIN " + plain("alice", PASSWORDS["alice"]))
    assert code == 421 and "too many errors" in text, text
    assert c.closed()
    inst.wait_log("too many errors after AUTH from unknown[127.0.0.2]")


def test_failure_is_slowed_down(inst):
    start_auth(inst, "smtpd_error_sleep_time=1s")
    c, _ = ehlo(inst, OUTSIDE)
    t0 = time.monotonic()
    assert c.cmd("AUTH PLAIN " + plain("alice", PASSWORDS["alice"]))[0] == 235
    assert time.monotonic() - t0 < 0.8
    c.cmd("QUIT")
    c, _ = ehlo(inst, OUTSIDE)
    t0 = time.monotonic()
    assert c.cmd("AUTH PLAIN " + plain("alice", "guess"))[0] == 535
    assert time.monotonic() - t0 >= 0.9
    c.cmd("QUIT")


def test_tls_auth_only_without_tls(inst):
    start_auth(inst, "smtpd_tls_auth_only=yes")
    c, text = ehlo(inst)
    assert "AUTH" not in text
    assert c.cmd("AUTH PLAIN " + plain("alice", PASSWORDS["alice"])) == (
        538, "538 5.7.11 Encryption required for requested authentication mechanism")
    assert c.cmd("MAIL FROM:<a@example.org> AUTH=<>") == (
        503, "503 5.5.4 Error: authentication disabled")
    c.cmd("QUIT")


# -- server: what a login permits -----------------------------------------------------

def test_permit_sasl_authenticated_relays(inst):
    start_auth(inst, "default_transport=error:no outbound mail in this test")
    c, _ = ehlo(inst, OUTSIDE)
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<user@other.example>") == (
        554, "554 5.7.1 <user@other.example>: Relay access denied")
    assert c.cmd("RSET")[0] == 250
    assert c.cmd("AUTH PLAIN " + plain("alice", PASSWORDS["alice"]))[0] == 235
    assert c.cmd("MAIL FROM:<alice@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<user@other.example>")[0] == 250
    c.cmd("QUIT")
    # and with the submission-style list, nothing but a login passes
    inst.stop()
    inst.cmd("conf", "-e", "smtpd_client_restrictions=permit_sasl_authenticated, reject")
    inst.start()
    c, _ = ehlo(inst, "127.0.0.1")
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    code, text = c.cmd("RCPT TO:<user@other.example>")
    assert code == 554 and "Client host rejected" in text, text
    c.cmd("QUIT")


def test_sender_login_maps(inst):
    path = os.path.join(inst.top, "senders")
    with open(path, "w") as f:
        f.write("alice@example.test alice\nbob@example.test bob, alice2\n@shared.test alice bob\n")
    host = start_auth(inst, f"smtpd_sender_login_maps=texthash:{path}",
                      "smtpd_sender_restrictions=reject_sender_login_mismatch")
    c, _ = ehlo(inst)

    def sender_ok(addr):
        assert c.cmd(f"MAIL FROM:<{addr}>")[0] == 250
        code, text = c.cmd(f"RCPT TO:<{USER}@{host}>")
        c.cmd("RSET")
        return code, text

    # not logged in: an owned address is refused, an unowned one is fine
    assert sender_ok("alice@example.test") == (
        553, "553 5.7.1 <alice@example.test>: Sender address rejected: not logged in")
    assert sender_ok("nobody@example.org")[0] == 250
    assert c.cmd("AUTH PLAIN " + plain("alice", PASSWORDS["alice"]))[0] == 235
    assert sender_ok("alice@example.test")[0] == 250
    assert sender_ok("anyone@shared.test")[0] == 250
    assert sender_ok("bob@example.test") == (
        553, "553 5.7.1 <bob@example.test>: Sender address rejected: not owned by user alice")
    assert sender_ok("nobody@example.org") == (
        553, "553 5.7.1 <nobody@example.org>: Sender address rejected: not owned by user alice")
    assert sender_ok("")[0] == 250
    c.cmd("QUIT")
    inst.wait_log("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 553 5.7.1 <bob@example.test>: "
                  "Sender address rejected: not owned by user alice;")


def test_mail_auth_parameter(inst):
    host = start_auth(inst)
    c, _ = ehlo(inst)
    assert c.cmd("AUTH PLAIN " + plain("alice", PASSWORDS["alice"]))[0] == 235
    for param in ("AUTH=<>", f"AUTH=alice@{host}"):
        assert c.cmd(f"MAIL FROM:<alice@{host}> {param}")[0] == 250
        assert c.cmd(f"RCPT TO:<{USER}@{host}>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        assert c.cmd("Subject: auth param\r\n\r\nx\r\n.")[0] == 250
    c.cmd("QUIT")
    wait_mail(inst, USER, 2)
    inst.wait_log(f"sasl_method=PLAIN, sasl_username=alice, sasl_sender=alice@{host}")


# -- client: postern authenticates to a relayhost ---------------------------------------

RELAY = "192.0.2.10"
RELAY_USER, RELAY_PASS = "relay-user@example.test", "relay:pass word"


class AuthRelay:
    """An aiosmtpd server at RELAY:587 that requires AUTH (PLAIN, LOGIN,
    no TLS needed) and records the credentials it was given."""

    def __init__(self, good=(RELAY_USER, RELAY_PASS)):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.good = good
        self.seen = []		# (mechanism, login, password)
        self.messages = []
        self.commands = []
        relay = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                relay.messages.append((envelope.mail_from, list(envelope.rcpt_tos)))
                return "250 2.0.0 Ok: queued as RELAYED"

        def authenticator(server, session, envelope, mechanism, auth_data):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            self.seen.append((mechanism, login, password))
            ok = (login, password) == self.good
            return AuthResult(success=ok, handled=ok)

        self.ctl = Controller(Handler(), hostname=RELAY, port=587, authenticator=authenticator,
                              auth_require_tls=False, auth_required=True,
                              server_hostname="relay.test")
        self.ctl.start()

    def stop(self):
        self.ctl.stop()


@pytest.fixture
def relay(remote_net):
    r = AuthRelay()
    yield r
    r.stop()


def start_client(inst, passwd, *conf):
    ensure_user(USER)
    inst.init()
    path = os.path.join(inst.top, "sasl_passwd")
    with open(path, "w") as f:
        f.write(passwd)
    os.chmod(path, 0o600)
    pw = subprocess.run(["id", "-u", inst.cmd("conf", "-h", "mail_owner").stdout.strip()],
                        capture_output=True, text=True)
    if pw.returncode == 0:
        os.chown(path, int(pw.stdout), -1)
    inst.cmd("conf", "-e", "import_environment=TZ LANG=C RES_OPTIONS=timeout:1",
             f"relayhost=[{RELAY}]:587", "smtp_sasl_auth_enable=yes",
             f"smtp_sasl_password_maps=texthash:{path}", "smtp_connect_timeout=2s",
             "smtp_helo_timeout=5s", "minimal_backoff_time=300s", "queue_run_delay=300s", *conf)
    inst.start()
    host = myhostname(inst)
    r = sendmail(inst, "-f", f"{USER}@{host}", "someone@example.org",
                 data=b"Subject: via relay\n\nhello\n")
    assert r.returncode == 0, r.stderr


def log_has(inst, pattern, timeout=20):
    try:
        return wait_for(lambda: re.search(pattern, inst.log()), timeout, what=pattern)
    except AssertionError as e:
        raise AssertionError(f"{e}\n--- log:\n{inst.log()}") from None


def test_client_authenticates_with_the_nexthop_key(inst, relay):
    # the entry for another host must not be used; the exact nexthop form is
    start_client(inst, f"[192.0.2.11]:587 wrong:wrong\n[{RELAY}]:587 {RELAY_USER}:{RELAY_PASS}\n",
                 "smtp_sasl_security_options=noanonymous")
    log_has(inst, r"to=<someone@example\.org>, relay=192\.0\.2\.10\[192\.0\.2\.10\]:587, .*status=sent")
    assert relay.messages and relay.messages[0][1] == ["someone@example.org"]
    assert relay.seen and relay.seen[0][1:] == (RELAY_USER, RELAY_PASS)
    assert RELAY_PASS not in inst.log()


def test_client_mechanism_filter_and_host_key(inst, relay):
    # key by the host without brackets and port; only LOGIN allowed
    start_client(inst, f"{RELAY} {RELAY_USER}:{RELAY_PASS}\n",
                 "smtp_sasl_security_options=noanonymous", "smtp_sasl_mechanism_filter=login")
    log_has(inst, r"to=<someone@example\.org>, relay=.*status=sent")
    assert relay.seen[0] == ("LOGIN", RELAY_USER, RELAY_PASS)


def test_client_wrong_password_defers(inst, relay):
    # (concurrency 1: two connection failures would make the relay dead)
    start_client(inst, f"[{RELAY}]:587 {RELAY_USER}:not-it\n",
                 "smtp_sasl_security_options=noanonymous", "initial_destination_concurrency=1")
    log_has(inst, r"to=<someone@example\.org>, relay=.*status=deferred \(SASL authentication "
                  r"failed; server 192\.0\.2\.10\[192\.0\.2\.10\] said: 535 5\.7\.8 "
                  r"Authentication credentials invalid\)")
    assert len(relay.seen) == 1 and not relay.messages
    assert "not-it" not in inst.log()
    # the server answered: the destination is not dead, the next message
    # is tried at once rather than "delivery temporarily suspended"
    host = myhostname(inst)
    for n in (2, 3):
        assert sendmail(inst, "-f", f"{USER}@{host}", f"n{n}@example.org",
                        data=b"Subject: n\n\nx\n").returncode == 0
        log_has(inst, rf"to=<n{n}@example\.org>, relay=.*status=deferred \((SASL|delivery)")
    assert len(relay.seen) == 3
    assert "temporarily suspended" not in inst.log()


def test_client_no_plaintext_without_tls_by_default(inst, relay):
    # smtp_sasl_security_options = noplaintext, noanonymous: PLAIN/LOGIN are
    # not used outside TLS, so the password never travels in clear
    start_client(inst, f"[{RELAY}]:587 {RELAY_USER}:{RELAY_PASS}\n")
    log_has(inst, r"to=<someone@example\.org>, relay=.*status=deferred \(SASL authentication "
                  r"failed; cannot authenticate to server 192\.0\.2\.10\[192\.0\.2\.10\]: "
                  r"no mechanism available\)")
    assert relay.seen == [] and relay.messages == []


def test_client_without_password_sends_unauthenticated(inst, relay):
    # no entry for this server: no AUTH, the server decides (here: 530 to MAIL)
    start_client(inst, "[192.0.2.11]:587 other:secret\n", "smtp_sasl_security_options=noanonymous")
    log_has(inst, r"to=<someone@example\.org>, relay=.*status=bounced \(host 192\.0\.2\.10\["
                  r"192\.0\.2\.10\] said: 530 5\.7\.0 Authentication required")
    assert relay.seen == []
