"""TLS end to end (issue 6), both directions.

Server: swaks --tls/--tlsc and smtplib starttls() deliver with `with
ESMTPS` and Postfix's (using ...) comment and log line; `openssl s_client
-starttls smtp` shows the chain and protocol; TLS 1.0/1.1 are refused by
default; STARTTLS is offered only when enabled and not active; level
encrypt refuses MAIL before STARTTLS; the CVE-2011-0411 class (commands
in the same packet as STARTTLS are never answered inside TLS); wrapper
mode on another port; check_ccert_access by fingerprint; session
resumption across two connections (two smtpd processes).

Client: postern -> aiosmtpd with STARTTLS at may/encrypt/verify/secure,
per-destination policy, certificate failures deferred and never sent in
clear, no STARTTLS under encrypt, STARTTLS response injection. Real
Postfix in both directions where it is installed.

Certificates come from the session's tls_ca fixture (conftest.py).
"""
import os
import re
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from conftest import (ensure_user, myhostname, needs_root, read_bytes, wait_for, wait_mail)

pytestmark = needs_root

SERVER_NAME = "mx.tls.test"


def tls_server(inst, tls_ca, *conf, init=True, start=True):
    """inst with a server certificate for SERVER_NAME (and 127.0.0.1) and
    conf; returns myhostname."""
    cert, key = tls_ca.issue(SERVER_NAME, "localhost", "127.0.0.1")
    if init:
        inst.init()
    inst.cmd("conf", "-e", f"smtpd_tls_cert_file={cert}", f"smtpd_tls_key_file={key}",
             "smtpd_tls_security_level=may", *conf)
    if start:
        inst.start()
    return myhostname(inst)


def client_ctx(tls_ca, **kw):
    ctx = ssl.create_default_context(cafile=tls_ca.ca)
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


def raw_reply(sock):
    """One SMTP reply from a plain or TLS socket: (code, text)."""
    buf = b""
    while True:
        while not buf.endswith(b"\r\n"):
            d = sock.recv(65536)
            if not d:
                raise EOFError(f"closed; pending {buf!r}")
            buf += d
        last = buf.split(b"\r\n")[-2]
        if last[3:4] != b"-":
            return int(last[:3]), buf.decode(errors="replace")


# ---- server -----------------------------------------------------------------

def test_swaks_starttls_received_and_log(inst, tls_ca):
    ensure_user("pt-alice")
    host = tls_server(inst, tls_ca)
    r = subprocess.run(["swaks", "--server", f"127.0.0.1:{inst.port}", "--tls", "--helo", "c.example",
                        "--from", "s@example.org", "--to", f"pt-alice@{host}",
                        "--header", "Subject: over tls", "--timeout", "15"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "250-STARTTLS" in r.stdout or "250 STARTTLS" in r.stdout, r.stdout
    [path] = wait_mail(inst, "pt-alice")
    msg = read_bytes(path)
    assert re.search(rb"\nReceived: from c\.example \(localhost \[127\.0\.0\.1\]\)\n"
                     rb"\t\(using TLSv1\.3 with cipher TLS_\w+ \(\d+/\d+ bits\)\)\n"
                     rb"\tby \S+ \(postern\) with ESMTPS id \w+\n", msg), msg
    inst.wait_log("disconnect from localhost[127.0.0.1]")
    assert re.search(r"postern/smtpd\[\d+\]: Anonymous TLS connection established from "
                     r"localhost\[127\.0\.0\.1\]: TLSv1\.3 with cipher TLS_\w+ \(\d+/\d+ bits\)$",
                     inst.log(), re.M), inst.log()
    assert re.search(r"disconnect from localhost\[127\.0\.0\.1\] ehlo=2 starttls=1 mail=1 rcpt=1 "
                     r"data=1 quit=1 commands=7", inst.log()), inst.log()


def test_smtplib_starttls_resets_session_and_ehlo_changes(inst, tls_ca):
    ensure_user("pt-alice")
    host = tls_server(inst, tls_ca)
    s = smtplib.SMTP("127.0.0.1", inst.port, local_hostname="c.example", timeout=15)
    s.ehlo()
    assert s.has_extn("starttls")
    # STARTTLS inside a transaction is refused
    assert s.mail("a@example.org")[0] == 250
    assert s.docmd("STARTTLS")[0] == 503
    assert s.rset()[0] == 250
    assert s.starttls(context=client_ctx(tls_ca, check_hostname=False))[0] == 220
    # the session starts over: MAIL needs a new EHLO (RFC 3207)
    assert s.docmd("MAIL FROM:<a@example.org>")[0] == 503
    code, text = s.ehlo()
    assert code == 250 and b"STARTTLS" not in text, text
    assert s.docmd("STARTTLS")[0] == 554
    assert s.mail("a@example.org")[0] == 250
    assert s.rcpt(f"pt-alice@{host}")[0] == 250
    assert s.data(b"Subject: x\r\n\r\nbody\r\n")[0] == 250
    s.quit()
    [path] = wait_mail(inst, "pt-alice")
    assert b"with ESMTPS id" in read_bytes(path)


def test_no_starttls_without_level(inst, tls_ca):
    tls_server(inst, tls_ca, "smtpd_tls_security_level=none")
    s = smtplib.SMTP("127.0.0.1", inst.port, local_hostname="c.example", timeout=15)
    s.ehlo()
    assert not s.has_extn("starttls")
    code, text = s.docmd("STARTTLS")
    assert code == 502 and b"STARTTLS is not enabled" in text, text
    s.quit()


def test_openssl_s_client_shows_chain_and_protocol(inst, tls_ca):
    tls_server(inst, tls_ca)
    r = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect", f"127.0.0.1:{inst.port}",
                        "-CAfile", tls_ca.ca, "-showcerts", "-verify_return_error",
                        "-verify_hostname", SERVER_NAME],
                       input="QUIT\n", capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"0 s:CN ?= ?mx\.tls\.test", r.stdout), r.stdout
    assert re.search(r"1 s:CN ?= ?postern test CA", r.stdout), r.stdout
    assert "Verify return code: 0 (ok)" in r.stdout, r.stdout
    assert re.search(r"Protocol *: TLSv1\.3|New, TLSv1\.3", r.stdout), r.stdout


def test_one_session_ticket_per_handshake(inst, tls_ca):
    # two tickets go out as two segments and Nagle then holds the reply to
    # the next command for the client's delayed ACK (~40 ms per session)
    tls_server(inst, tls_ca)
    p = subprocess.Popen(["openssl", "s_client", "-starttls", "smtp", "-connect", f"127.0.0.1:{inst.port}",
                          "-tls1_3", "-msg", "-nocommands"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    p.stdin.write("EHLO client.test\n")
    p.stdin.flush()
    time.sleep(1)		# the tickets and the EHLO reply arrive meanwhile
    out, _ = p.communicate("QUIT\n", timeout=30)
    assert "New, TLSv1.3" in out or "Protocol  : TLSv1.3" in out, out
    assert out.count("NewSessionTicket") == 1, out


@pytest.mark.parametrize("flag", ["-tls1", "-tls1_1"])
def test_old_protocols_refused_by_default(inst, tls_ca, flag):
    tls_server(inst, tls_ca)
    r = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect", f"127.0.0.1:{inst.port}",
                        flag, "-cipher", "DEFAULT:@SECLEVEL=0"],
                       input="QUIT\n", capture_output=True, text=True, timeout=30)
    assert r.returncode != 0, r.stdout
    assert "Cipher is (NONE)" in r.stdout or "no protocols available" in r.stderr + r.stdout \
        or "alert" in r.stderr, r.stdout + r.stderr
    # and TLS 1.2 works
    r = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect", f"127.0.0.1:{inst.port}",
                        "-tls1_2"], input="QUIT\n", capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "TLSv1.2" in r.stdout, r.stdout + r.stderr


def test_encrypt_level_requires_starttls(inst, tls_ca):
    host = tls_server(inst, tls_ca, "smtpd_tls_security_level=encrypt")
    s = smtplib.SMTP("127.0.0.1", inst.port, local_hostname="c.example", timeout=15)
    s.ehlo()
    assert s.mail("a@example.org") == (530, b"5.7.0 Must issue a STARTTLS command first")
    s.starttls(context=client_ctx(tls_ca, check_hostname=False))
    s.ehlo()
    assert s.mail("a@example.org")[0] == 250
    assert s.rcpt(f"postmaster@{host}")[0] == 250
    s.quit()


def starttls_with_trailing(inst, trailing):
    """STARTTLS followed in the same packet by trailing; returns the socket
    after the 220, or None when the server refused (closed)."""
    sock = socket.create_connection(("127.0.0.1", inst.port), timeout=15)
    raw_reply(sock)
    sock.sendall(b"EHLO c.example\r\n")
    raw_reply(sock)
    sock.sendall(b"STARTTLS\r\n" + trailing)
    code, text = raw_reply(sock)
    return sock, code, text


def test_cve_2011_0411_pipelined_command_refused(inst, tls_ca):
    # default smtpd_forbid_unauth_pipelining = yes: the session ends
    tls_server(inst, tls_ca)
    sock, code, text = starttls_with_trailing(inst, b"RSET\r\n")
    assert code == 554, text
    sock.settimeout(10)
    assert sock.recv(100) == b""


def test_cve_2011_0411_plaintext_discarded(inst, tls_ca):
    """With pipelining tolerated, the RSET sent in plaintext with STARTTLS
    is thrown away: the first reply inside TLS is the NOOP's only."""
    tls_server(inst, tls_ca, "smtpd_forbid_unauth_pipelining=no")
    sock, code, text = starttls_with_trailing(inst, b"RSET\r\n")
    assert code == 220, text
    t = client_ctx(tls_ca, check_hostname=False).wrap_socket(sock, server_hostname=SERVER_NAME)
    t.sendall(b"NOOP\r\n")
    code, text = raw_reply(t)
    assert (code, text) == (250, "250 2.0.0 Ok\r\n")
    t.sendall(b"QUIT\r\n")
    code, text = raw_reply(t)
    assert code == 221, text    # not the RSET's 250 first
    inst.wait_log("disconnect from localhost[127.0.0.1]")
    assert "rset=" not in inst.log().split("disconnect from")[-1]


def test_plaintext_before_clienthello_breaks_handshake(inst, tls_ca):
    """T-TLS-2: bytes sent after the 220 but before the ClientHello go into
    the handshake, which fails; never a reply inside TLS to them."""
    tls_server(inst, tls_ca, "smtpd_forbid_unauth_pipelining=no")
    sock, code, _ = starttls_with_trailing(inst, b"")
    assert code == 220
    sock.sendall(b"MAIL FROM:<x@example.org>\r\n")
    time.sleep(0.1)
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        t = client_ctx(tls_ca, check_hostname=False).wrap_socket(sock, server_hostname=SERVER_NAME)
        t.sendall(b"NOOP\r\n")
        raw_reply(t)
    inst.wait_log("SSL_accept error from localhost[127.0.0.1]")
    inst.wait_log("lost connection after STARTTLS from localhost[127.0.0.1]")


def test_wrappermode_service(inst, tls_ca):
    ensure_user("pt-alice")
    inst.init()
    port2 = inst.port + 1 if inst.port < 65000 else inst.port - 1
    inst.add_service(f"127.0.0.1:{port2} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes "
                     f"-o syslog_name=postern/submissions")
    host = tls_server(inst, tls_ca, init=False)
    s = smtplib.SMTP_SSL("127.0.0.1", port2, local_hostname="c.example", timeout=15,
                         context=client_ctx(tls_ca, check_hostname=False))
    code, text = s.ehlo()
    assert code == 250 and b"STARTTLS" not in text
    assert s.sendmail("a@example.org", [f"pt-alice@{host}"], b"Subject: 465\r\n\r\nx\r\n") == {}
    s.quit()
    # swaks --tlsc: TLS on connect
    r = subprocess.run(["swaks", "--server", f"127.0.0.1:{port2}", "--tlsc", "--helo", "c.example",
                        "--from", "s@example.org", "--to", f"pt-alice@{host}", "--timeout", "15"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    for path in wait_mail(inst, "pt-alice", count=2):
        assert b"with ESMTPS id" in read_bytes(path)
    # and the STARTTLS port is still plaintext first
    s = smtplib.SMTP("127.0.0.1", inst.port, local_hostname="c.example", timeout=15)
    assert s.ehlo()[0] == 250 and s.has_extn("starttls")
    s.quit()
    assert re.search(r"postern/submissions/smtpd\[\d+\]: Anonymous TLS connection established",
                     inst.log()), inst.log()


def test_swaks_client_cert_and_check_ccert_access(inst, tls_ca):
    ensure_user("pt-alice")
    ccert, ckey = tls_ca.issue("client.tls.test", client=True)
    other, okey = tls_ca.issue("other.tls.test", client=True)
    fp = tls_ca.fingerprint(ccert)
    inst.init()
    inst.write("ccerts", f"{fp} OK\n")
    host = tls_server(inst, tls_ca, "smtpd_tls_ask_ccert=yes", f"smtpd_tls_CAfile={tls_ca.ca}",
                      f"smtpd_relay_restrictions=check_ccert_access texthash:{inst.dir}/ccerts, "
                      "reject_unauth_destination", init=False)

    def swaks(cert, key):
        return subprocess.run(["swaks", "--server", f"127.0.0.1:{inst.port}", "--tls",
                               "--tls-cert", cert, "--tls-key", key, "--helo", "c.example",
                               "--from", "s@example.org", "--to", "someone@elsewhere.example",
                               "--timeout", "15"],
                              capture_output=True, text=True, timeout=60)
    # 127.0.0.1 is in mynetworks but relay_restrictions has no permit_mynetworks:
    # only the listed certificate may relay
    r = swaks(other, okey)
    assert r.returncode != 0 and "Relay access denied" in r.stdout, r.stdout
    r = swaks(ccert, ckey)
    assert r.returncode == 0, r.stdout + r.stderr
    inst.wait_log("Trusted TLS connection established from localhost[127.0.0.1]")
    assert f"fingerprint={fp}" in inst.log()


def test_untrusted_client_cert_logged(inst, tls_ca):
    ccert, ckey = tls_ca.issue("client.tls.test", client=True)
    tls_server(inst, tls_ca, "smtpd_tls_ask_ccert=yes")    # no CAfile: nothing is trusted
    ctx = client_ctx(tls_ca, check_hostname=False)
    ctx.load_cert_chain(ccert, ckey)
    s = smtplib.SMTP("127.0.0.1", inst.port, local_hostname="c.example", timeout=15)
    s.starttls(context=ctx)
    s.ehlo()
    s.quit()
    inst.wait_log("Untrusted TLS connection established from localhost[127.0.0.1]")


def test_session_resumption_across_connections(inst, tls_ca):
    """A ticket from the first connection resumes the second: the key
    comes from the shared file, so it works whichever smtpd takes it."""
    tls_server(inst, tls_ca)
    ctx = client_ctx(tls_ca, check_hostname=False)

    def connect(session=None):
        sock = socket.create_connection(("127.0.0.1", inst.port), timeout=15)
        raw_reply(sock)
        sock.sendall(b"EHLO c.example\r\n")
        raw_reply(sock)
        sock.sendall(b"STARTTLS\r\n")
        assert raw_reply(sock)[0] == 220
        t = ctx.wrap_socket(sock, server_hostname=SERVER_NAME, session=session)
        t.sendall(b"EHLO c.example\r\n")    # TLS 1.3 tickets come after the handshake
        raw_reply(t)
        reused, sess = t.session_reused, t.session
        t.sendall(b"QUIT\r\n")
        raw_reply(t)
        t.close()
        return reused, sess

    reused, sess = connect()
    assert not reused
    reused, sess = connect(sess)    # (a TLS 1.3 ticket is for one use: take the new one)
    assert reused
    inst.wait_log("(session reused)")
    key = os.path.join(inst.queue, "private", "tls_ticket_keys")
    st = os.stat(key)
    assert st.st_size == 80 and st.st_mode & 0o777 == 0o600
    # a new smtpd (the first exits) still resumes: the key is shared
    inst.stop()
    inst.start()
    reused, _ = connect(sess)
    assert reused


def test_session_resumption_with_openssl_sess_out(inst, tls_ca, tmp_path):
    """Two openssl s_client runs: the second offers the first's session
    (a ticket) and the server, maybe another smtpd process, resumes it."""
    tls_server(inst, tls_ca)
    sess = str(tmp_path / "sess.pem")
    base = ["openssl", "s_client", "-starttls", "smtp", "-connect", f"127.0.0.1:{inst.port}",
            "-CAfile", tls_ca.ca]
    # keep stdin open a moment so that the post-handshake tickets are read
    r = subprocess.run(["sh", "-c", f"(sleep 1; echo QUIT) | {' '.join(base)} -sess_out {sess}"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run(["sh", "-c", f"(sleep 1; echo QUIT) | {' '.join(base)} -sess_in {sess}"],
                       capture_output=True, text=True, timeout=30)
    assert "Reused, TLSv1.3" in r.stdout, r.stdout


# ---- client -------------------------------------------------------------------

import threading     # noqa: E402  (client-side helpers below)

from test_smtp_client import (Handler, Remote, ScriptedController, log_has, remotes,  # noqa: E402,F401
                              send, start_inst)

MX_IP = "192.0.2.12"
TLS_RECORDS = [("MX", "tls.test", 10, "mx.tls.test"), ("A", "mx.tls.test", MX_IP)]


class TlsController(ScriptedController):
    def __init__(self, remote, handler, **kw):
        if remote.tls_context is not None:
            kw["tls_context"] = remote.tls_context
        kw.update(getattr(remote, "controller_kw", {}))	# e.g. AUTH (test_tls_sasl.py)
        super().__init__(remote, handler, **kw)


class TlsRemote(Remote):
    """Remote (test_smtp_client) that offers STARTTLS with cert/key when
    given; messages record whether they came over TLS."""

    def __init__(self, addr, cert=None, key=None, **knobs):
        self.tls_context = None
        if cert:
            self.tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls_context.load_cert_chain(cert, key)
        self.addr, self.port, self.lmtp = addr, 25, False
        self.greeting, self.greeting_delay, self.rcpt, self.rcpt_delay = None, 0, {}, 0
        self.data_reply, self.data_drop = None, False
        self.ehlo_extra, self.ehlo_drop = ["PIPELINING"], []
        self.__dict__.update(knobs)
        self.lock = threading.Lock()
        self.sessions = self.open = self.max_open = 0
        self.messages, self.commands = [], []
        self.ready = False
        self.ctl = TlsController(self, TlsHandler(self), hostname=addr, port=25,
                                 enable_SMTPUTF8=True, data_size_limit=33554432,
                                 server_hostname="remote.test", ident="scripted")
        self.ctl.start()
        self.ready = True


class TlsHandler(Handler):
    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        self.remote.messages[-1]["tls"] = server.transport.get_extra_info("sslcontext") is not None
        return reply


@pytest.fixture
def tls_remote(remote_net):
    started = []

    def start(addr=MX_IP, **kw):
        r = TlsRemote(addr, **kw)
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop()


def client_inst(inst, tls_ca, *conf):
    return start_inst(inst, f"smtp_tls_CAfile={tls_ca.ca}", "smtp_starttls_timeout=5s", *conf)


def test_client_may_uses_starttls(inst, tls_ca, dns_server, tls_remote):
    dns_server(TLS_RECORDS)
    cert, key = tls_ca.issue("mx.tls.test")
    r = tls_remote(cert=cert, key=key)
    host = client_inst(inst, tls_ca)     # default level: may
    send(inst, host, "x@tls.test")
    log_has(inst, r"to=<x@tls\.test>, relay=mx\.tls\.test\[192\.0\.2\.12\]:25, .*status=sent")
    assert r.messages[0]["tls"] is True
    assert re.search(r"smtp\[\d+\]: Trusted TLS connection established to mx\.tls\.test\[192\.0\.2\.12\]:25: "
                     r"TLSv1\.3 with cipher \S+ \(\d+/\d+ bits\)", inst.log()), inst.log()
    # (aiosmtpd forgets EHLO at STARTTLS and refuses MAIL without a new one:
    # the delivery shows that the client said EHLO again)


def test_client_may_without_starttls_sends_in_clear(inst, tls_ca, dns_server, tls_remote):
    dns_server(TLS_RECORDS)
    r = tls_remote()
    host = client_inst(inst, tls_ca)
    send(inst, host, "x@tls.test")
    log_has(inst, r"to=<x@tls\.test>, .*status=sent")
    assert r.messages[0]["tls"] is False


def test_client_may_falls_back_to_plaintext_after_failed_handshake(inst, tls_ca, dns_server,
                                                                 tls_remote):
    dns_server(TLS_RECORDS)
    cert, key = tls_ca.issue("mx.tls.test")
    r = tls_remote(cert=cert, key=key)
    r.tls_context.minimum_version = ssl.TLSVersion.TLSv1_3
    # our side offers TLS 1.2 only: the handshake fails
    host = client_inst(inst, tls_ca, "smtp_tls_protocols=TLSv1.2")
    send(inst, host, "x@tls.test")
    log_has(inst, r"to=<x@tls\.test>, .*status=sent")
    assert r.messages[0]["tls"] is False
    assert "TLS handshake failed, trying again without TLS" in inst.log()


def test_client_encrypt_without_starttls_defers(inst, tls_ca, dns_server, tls_remote):
    dns_server(TLS_RECORDS)
    r = tls_remote()
    host = client_inst(inst, tls_ca, "smtp_tls_security_level=encrypt")
    send(inst, host, "x@tls.test")
    log_has(inst, r"to=<x@tls\.test>, .*dsn=4\.7\.4, status=deferred \(TLS is required, but was not "
                  r"offered by host mx\.tls\.test\[192\.0\.2\.12\]\)")
    assert r.messages == [] and not any(c.startswith("MAIL") for c in r.commands)


@pytest.mark.parametrize("level", ["verify", "secure"])
def test_client_verify_wrong_name_defers(inst, tls_ca, dns_server, tls_remote, level):
    dns_server(TLS_RECORDS)
    cert, key = tls_ca.issue("wrong.example")
    r = tls_remote(cert=cert, key=key)
    host = client_inst(inst, tls_ca, f"smtp_tls_security_level={level}")
    send(inst, host, "x@tls.test")
    log_has(inst, r"to=<x@tls\.test>, .*dsn=4\.7\.5, status=deferred \(Server certificate not verified: "
                  r"host mx\.tls\.test\[192\.0\.2\.12\]: certificate name does not match\)")
    assert r.messages == [] and not any(c.startswith("MAIL") for c in r.commands)


def test_client_verify_expired_defers_then_good_cert_delivers(inst, tls_ca, dns_server, tls_remote):
    dns_server(TLS_RECORDS)
    cert, key = tls_ca.issue("mx.tls.test", expired=True)
    r = tls_remote(cert=cert, key=key)
    host = client_inst(inst, tls_ca, "smtp_tls_security_level=verify")
    send(inst, host, "x@tls.test")
    log_has(inst, r"to=<x@tls\.test>, .*status=deferred \(Server certificate not verified: .*expired")
    assert r.messages == []
    good, gkey = tls_ca.issue("mx.tls.test")
    r.tls_context.load_cert_chain(good, gkey)
    inst.cmd("queue", "flush")
    log_has(inst, r"to=<x@tls\.test>, .*status=sent")
    assert r.messages[0]["tls"] is True
    assert re.search(r"Verified TLS connection established to mx\.tls\.test", inst.log()), inst.log()


def test_client_secure_matches_nexthop_domain(inst, tls_ca, dns_server, tls_remote):
    """secure: the MX name is not trusted, the nexthop domain is: a cert
    for mx.tls.test matches .tls.test; with match= naming another name it
    does not."""
    dns_server(TLS_RECORDS)
    cert, key = tls_ca.issue("mx.tls.test")
    r = tls_remote(cert=cert, key=key)
    host = client_inst(inst, tls_ca)
    inst.write("tls_policy", "tls.test secure\n")
    inst.cmd("conf", "-e", f"smtp_tls_policy_maps=texthash:{inst.dir}/tls_policy")
    inst.cmd("reload")
    send(inst, host, "x@tls.test")
    log_has(inst, r"to=<x@tls\.test>, .*status=sent")
    assert r.messages[0]["tls"] is True
    inst.write("tls_policy", "tls.test secure match=relay.example\n")
    inst.stop()     # (no kept session from the first delivery)
    inst.start()
    send(inst, host, "y@tls.test")
    log_has(inst, r"to=<y@tls\.test>, .*status=deferred \(Server certificate not verified")
    assert len(r.messages) == 1


def test_client_policy_map_encrypt_per_destination(inst, tls_ca, dns_server, tls_remote):
    dns_server(TLS_RECORDS + [("A", "plain.test", "192.0.2.13")])
    plain = tls_remote("192.0.2.13")
    host = client_inst(inst, tls_ca, "smtp_tls_security_level=none")
    inst.write("tls_policy", "tls.test encrypt\n")
    inst.cmd("conf", "-e", f"smtp_tls_policy_maps=texthash:{inst.dir}/tls_policy")
    inst.cmd("reload")
    tls_remote()     # no STARTTLS at mx.tls.test
    send(inst, host, "x@tls.test", "y@plain.test")
    log_has(inst, r"to=<x@tls\.test>, .*status=deferred \(TLS is required, but was not offered")
    log_has(inst, r"to=<y@plain\.test>, .*status=sent")
    assert plain.messages[0]["tls"] is False


def injecting_server(addr, port=25):
    """A fake MX: STARTTLS is answered with extra replies in the same
    segment (T-TLS-3). Returns (thread, result dict): result["after"] is
    what the client sent after that reply before closing."""
    result = {}
    ls = socket.create_server((addr, port))
    ls.settimeout(20)

    def run():
        try:
            c, _ = ls.accept()
            c.settimeout(10)
            c.sendall(b"220 evil.test ESMTP\r\n")
            f = c.makefile("rb")
            f.readline()
            c.sendall(b"250-evil.test\r\n250-STARTTLS\r\n250 PIPELINING\r\n")
            result["starttls"] = f.readline()
            c.sendall(b"220 2.0.0 go ahead\r\n250-EVIL\r\n250 AUTH PLAIN\r\n")
            data = b""
            try:
                while True:
                    d = c.recv(4096)
                    if not d:
                        break
                    data += d
            except socket.timeout:
                data += b"<timeout>"
            result["after"] = data
            c.close()
        finally:
            ls.close()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, result


def test_client_starttls_response_injection_dropped(inst, tls_ca, dns_server, remote_net):
    dns_server(TLS_RECORDS)
    t, result = injecting_server(MX_IP)
    host = client_inst(inst, tls_ca)
    send(inst, host, "x@tls.test")
    log_has(inst, r"to=<x@tls\.test>, .*status=deferred \(host mx\.tls\.test\[192\.0\.2\.12\] sent data "
                  r"after the STARTTLS reply")
    t.join(15)
    assert result["starttls"] == b"STARTTLS\r\n"
    assert result["after"] == b"", result    # no handshake, no command: dropped
    assert "possible response injection" in inst.log()


# ---- real Postfix on the other side ---------------------------------------------

def test_real_postfix_client_sends_over_starttls(inst, tls_ca):
    """Postfix with smtp_tls_security_level = encrypt relays into postern."""
    from test_postfix_relay import PF_HOST, PrivatePostfix, postfix_missing
    if postfix_missing():
        pytest.skip(postfix_missing())
    with open("/proc/sys/net/unix/max_dgram_qlen", "w") as f:
        f.write("512\n")
    ensure_user("pt-relay")
    host = tls_server(inst, tls_ca)
    pf = PrivatePostfix(inst.port, main_extra="smtp_tls_security_level = encrypt\n"
                        f"smtp_tls_CAfile = {tls_ca.ca}\nsmtp_tls_loglevel = 1\n")
    try:
        r = pf.sendmail("-i", "-f", f"sender@{PF_HOST}", f"pt-relay@{host}",
                        data=b"Subject: postfix over tls\n\nhello\n")
        assert r.returncode == 0, r.stderr
        try:
            [path] = wait_mail(inst, "pt-relay", timeout=60)
        except AssertionError as e:
            raise AssertionError(f"{e}\n--- postfix log:\n{pf.log()}") from None
        got = read_bytes(path)
        assert re.search(rb"\(using TLSv1\.3 with cipher \S+ \(\d+/\d+ bits\)\)\n"
                         rb"\tby \S+ \(postern\) with ESMTPS id", got), got
        wait_for(lambda: "TLS connection established to 127.0.0.1" in pf.log(), 10,
                 what="Postfix's TLS line")
        assert re.search(r"Anonymous TLS connection established from localhost\[127\.0\.0\.1\]",
                         inst.log()), inst.log()
    finally:
        pf.cleanup()


@pytest.mark.parametrize("level", ["encrypt", "verify"])
def test_real_postfix_as_tls_next_hop(inst, tls_ca, dns_server, remote_net, level):
    """postern delivers to a Postfix smtpd with STARTTLS: encrypt, and
    verify (the certificate names the MX host)."""
    import shutil
    from test_postfix_relay import PrivatePostfix, postfix_missing
    from conftest import maildir_files
    from test_smtp_client import SENDER_USER
    if postfix_missing():
        pytest.skip(postfix_missing())
    with open("/proc/sys/net/unix/max_dgram_qlen", "w") as f:
        f.write("512\n")
    dns_server([("MX", "pf.test", 10, "mx.pf.test"), ("A", "mx.pf.test", "192.0.2.16")])
    cert, key = tls_ca.issue("mx.pf.test")
    user = ensure_user(SENDER_USER)
    maildir = os.path.join(user.pw_dir, "Maildir")
    shutil.rmtree(maildir, ignore_errors=True)
    pf = PrivatePostfix(25, main_extra="inet_interfaces = 192.0.2.16\nmydestination = pf.test\n"
                        "mynetworks = 127.0.0.0/8 192.0.2.0/24\nrelayhost =\nhome_mailbox = Maildir/\n"
                        "smtpd_peername_lookup = no\nsmtpd_tls_security_level = may\n"
                        f"smtpd_tls_cert_file = {cert}\nsmtpd_tls_key_file = {key}\n"
                        "smtpd_tls_received_header = yes\n",
                        master_extra="192.0.2.16:25 inet n - n - - smtpd\n")
    try:
        host = client_inst(inst, tls_ca, f"smtp_tls_security_level={level}", "smtp_helo_timeout=30s")
        send(inst, host, f"{SENDER_USER}@pf.test")
        try:
            log_has(inst, r"to=<pt-smtpc@pf\.test>, relay=mx\.pf\.test\[192\.0\.2\.16\]:25, .*status=sent",
                    timeout=30)
            [path] = wait_for(lambda: maildir_files(maildir), 30, what="Postfix delivery")
        except AssertionError as e:
            raise AssertionError(f"{e}\n--- postfix log:\n{pf.log()}") from None
        assert b"with ESMTPS id" in read_bytes(path)
        word = "Verified" if level == "verify" else "Trusted"
        assert re.search(rf"{word} TLS connection established to mx\.pf\.test\[192\.0\.2\.16\]:25: TLSv1\.3",
                         inst.log()), inst.log()
    finally:
        pf.cleanup()
        shutil.rmtree(maildir, ignore_errors=True)


def test_req_ccert_with_encrypt(inst, tls_ca):
    ccert, ckey = tls_ca.issue("client.tls.test", client=True)
    host = tls_server(inst, tls_ca, "smtpd_tls_security_level=encrypt", "smtpd_tls_req_ccert=yes",
                      f"smtpd_tls_CAfile={tls_ca.ca}")
    for with_cert in (False, True):
        ctx = client_ctx(tls_ca, check_hostname=False)
        if with_cert:
            ctx.load_cert_chain(ccert, ckey)
        s = smtplib.SMTP("127.0.0.1", inst.port, local_hostname="c.example", timeout=15)
        s.starttls(context=ctx)
        s.ehlo()
        code, text = s.mail("a@example.org")
        if with_cert:
            assert code == 250, text
            assert s.rcpt(f"postmaster@{host}")[0] == 250
        else:
            assert (code, text) == (530, b"5.7.0 Client certificate required")
        s.quit()


def test_missing_certificate_means_no_starttls(inst, tls_ca):
    inst.init()
    inst.cmd("conf", "-e", "smtpd_tls_security_level=may", "smtpd_tls_cert_file=/nonexistent/cert.pem")
    inst.start()
    s = smtplib.SMTP("127.0.0.1", inst.port, local_hostname="c.example", timeout=15)
    s.ehlo()
    assert not s.has_extn("starttls")
    assert s.docmd("STARTTLS")[0] == 454
    s.quit()
    inst.wait_log("smtpd_tls_cert_file = /nonexistent/cert.pem")


def test_client_renegotiation_refused(inst, tls_ca):
    """T-TLS-5: a client-initiated renegotiation (TLS 1.2) fails. (OpenSSL 3
    refuses it by default too; postern also sets SSL_OP_NO_RENEGOTIATION.)"""
    tls_server(inst, tls_ca)
    r = subprocess.run(["sh", "-c", f"(sleep 1; echo R; sleep 1; echo NOOP; sleep 1) | openssl s_client "
                        f"-starttls smtp -connect 127.0.0.1:{inst.port} -tls1_2"],
                       capture_output=True, text=True, timeout=30)
    assert "RENEGOTIATING" in r.stdout + r.stderr, r.stdout + r.stderr
    assert "250 2.0.0 Ok" not in r.stdout, r.stdout     # the session did not go on
    assert re.search(r"no renegotiation|alert", r.stdout + r.stderr), r.stdout + r.stderr


def test_dhe_with_dh_param_file_and_auto(inst, tls_ca, tmp_path):
    """DHE suites work with OpenSSL's automatic groups and with
    smtpd_tls_dh1024_param_file; ECDHE is what a default client gets."""
    dh = str(tmp_path / "dh.pem")
    subprocess.run(["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt",
                    "dh_param:ffdhe3072", "-out", dh], check=True, capture_output=True)
    os.chmod(dh, 0o644)
    os.chmod(str(tmp_path), 0o755)
    tls_server(inst, tls_ca)

    def s_client(*args):
        return subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect",
                               f"127.0.0.1:{inst.port}", *args],
                              input="QUIT\n", capture_output=True, text=True, timeout=30)
    r = s_client("-tls1_2")
    assert re.search(r"Cipher is ECDHE-", r.stdout), r.stdout
    r = s_client("-tls1_2", "-cipher", "DHE-RSA-AES256-GCM-SHA384")
    assert "Cipher is DHE-RSA-AES256-GCM-SHA384" in r.stdout, r.stdout + r.stderr
    inst.cmd("conf", "-e", f"smtpd_tls_dh1024_param_file={dh}")
    inst.cmd("reload")
    time.sleep(0.5)
    r = s_client("-tls1_2", "-cipher", "DHE-RSA-AES256-GCM-SHA384")
    assert "Cipher is DHE-RSA-AES256-GCM-SHA384" in r.stdout, r.stdout + r.stderr
    assert re.search(r"Server Temp Key: DH, 3072 bits", r.stdout), r.stdout    # auto: 2048


def test_client_verify_wildcard_certificate(inst, tls_ca, dns_server, tls_remote):
    dns_server(TLS_RECORDS)
    cert, key = tls_ca.issue("*.tls.test")
    r = tls_remote(cert=cert, key=key)
    host = client_inst(inst, tls_ca, "smtp_tls_security_level=verify")
    send(inst, host, "x@tls.test")
    log_has(inst, r"to=<x@tls\.test>, .*status=sent")
    assert r.messages[0]["tls"] is True
    assert "Verified TLS connection established to mx.tls.test" in inst.log()
