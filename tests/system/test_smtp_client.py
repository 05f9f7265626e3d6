"""smtp(8), the SMTP/LMTP client, against scripted remote servers on the
remote_net fixture's addresses (a dummy interface inside the test
namespace) with MX/A records from the dns_server fixture.

Remote servers are aiosmtpd with a scripted handler (per-recipient replies,
greeting, DATA reply, delays, a dropped connection during DATA), recording
each session's commands and messages and counting simultaneous sessions;
an aiosmtpd LMTP server for the lmtp route. Mail enters the instance with
sendmail or over SMTP with smtplib; bounces go to a local user, whose
Maildir holds the DSN.
"""
import asyncio
import email
import email.policy
import os
import re
import smtplib
import threading
import time

import pytest

from conftest import (ensure_user, maildir_files, myhostname, read_bytes, sendmail, wait_for,
                      wait_mail)

from aiosmtpd.controller import Controller, UnixSocketController
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP

SENDER_USER = "pt-smtpc"


class Remote:
    """One scripted server at (addr, port). Behaviour knobs (change them
    at any time): greeting ("421 4.3.2 busy" ends the session), greeting_delay,
    rcpt {local part: reply}, rcpt_delay, data_reply, data_drop (close the
    connection instead of answering the final dot, keeping nothing),
    ehlo_extra, ehlo_drop (keywords), utf8, size_limit."""

    def __init__(self, addr, port=25, lmtp=False, utf8=True, size_limit=33554432, unix=None, **knobs):
        self.addr, self.port, self.lmtp = addr, port, lmtp
        self.greeting = None
        self.greeting_delay = 0
        self.rcpt = {}
        self.rcpt_delay = 0
        self.data_reply = None
        self.data_drop = False
        self.ehlo_extra = ["PIPELINING", "DSN"]
        self.ehlo_drop = []
        self.__dict__.update(knobs)
        self.lock = threading.Lock()
        self.sessions = 0
        self.open = 0
        self.max_open = 0
        self.messages = []	# dicts: mail_from, rcpt_tos, data, mail_args, rcpt_args
        self.commands = []
        self.ready = False
        handler = Handler(self)
        kwargs = {"enable_SMTPUTF8": utf8, "data_size_limit": size_limit,
                  "server_hostname": "remote.test", "ident": "scripted"}
        if unix:
            self.ctl = ScriptedUnixController(self, handler, unix_socket=unix, **kwargs)
            self.ctl.start()
            os.chmod(unix, 0o666)
        else:
            self.ctl = ScriptedController(self, handler, hostname=addr, port=port, **kwargs)
            self.ctl.start()
        with self.lock:
            self.sessions = 0
        self.ready = True

    def session_open(self, delta):
        with self.lock:
            self.open += delta
            if delta > 0:
                self.sessions += self.ready
                self.max_open = max(self.max_open, self.open)

    def stop(self):
        self.ctl.stop()


class ScriptedMixin:
    def connection_made(self, transport):
        self.remote.session_open(1)
        super().connection_made(transport)

    def connection_lost(self, exc):
        self.remote.session_open(-1)
        super().connection_lost(exc)

    async def _handle_client(self):
        r = self.remote
        if r.ready and r.greeting_delay:
            await asyncio.sleep(r.greeting_delay)
        if r.ready and r.greeting:
            await self.push(r.greeting)
            self.transport.close()
            return
        await super()._handle_client()

    async def smtp_MAIL(self, arg):
        self.remote.commands.append("MAIL " + (arg or ""))
        self.mail_args = arg or ""
        keep = [w for w in (arg or "").split() if not w.upper().startswith(("RET=", "ENVID="))]
        await super().smtp_MAIL(" ".join(keep))

    async def smtp_RCPT(self, arg):
        self.remote.commands.append("RCPT " + (arg or ""))
        if self.remote.rcpt_delay:
            await asyncio.sleep(self.remote.rcpt_delay)
        self.rcpt_args = getattr(self, "rcpt_args", []) + [arg or ""]
        keep = [w for w in (arg or "").split() if not w.upper().startswith(("NOTIFY=", "ORCPT="))]
        await super().smtp_RCPT(" ".join(keep))

    async def smtp_RSET(self, arg):
        self.remote.commands.append("RSET")
        self.rcpt_args = []
        await super().smtp_RSET(arg)


class ScriptedSMTP(ScriptedMixin, SMTP):
    pass


class ScriptedLMTP(ScriptedMixin, LMTP):
    pass


class ScriptedController(Controller):
    def __init__(self, remote, handler, **kw):
        self.remote = remote
        super().__init__(handler, **kw)

    def factory(self):
        cls = ScriptedLMTP if self.remote.lmtp else ScriptedSMTP
        s = cls(self.handler, **self.SMTP_kwargs)
        s.remote = self.remote
        return s


class ScriptedUnixController(UnixSocketController):
    def __init__(self, remote, handler, **kw):
        self.remote = remote
        super().__init__(handler, **kw)

    factory = ScriptedController.factory


class Handler:
    def __init__(self, remote):
        self.remote = remote

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        r = self.remote
        middle = [x for x in responses[1:-1] if x[4:].split(" ")[0] not in r.ehlo_drop]
        middle += [f"250-{k}" for k in r.ehlo_extra if k not in r.ehlo_drop]
        return [responses[0]] + middle + [responses[-1]]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.remote.rcpt.get(address.split("@")[0])
        if reply and not reply.startswith("2"):
            return reply
        envelope.rcpt_tos.append(address)
        return reply or "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        r = self.remote
        if r.data_drop:
            server.transport.close()
            return "421 gone"
        r.messages.append({"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
                           "data": envelope.original_content, "mail_args": server.mail_args,
                           "rcpt_args": list(getattr(server, "rcpt_args", []))})
        server.rcpt_args = []
        n = len(r.messages)
        if r.lmtp:
            return "\r\n".join(r.rcpt.get("lmtp:" + a.split("@")[0], f"250 2.0.0 <{a}> delivered as L{n}")
                               for a in envelope.rcpt_tos)
        return r.data_reply or f"250 2.0.0 Ok: queued as REMOTE{n}"


@pytest.fixture
def remotes(remote_net):
    started = []

    def start(addr, **kw):
        r = Remote(addr, **kw)
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop()


BASE_CONF = ("import_environment=TZ LANG=C RES_OPTIONS=timeout:1",
             "smtp_connect_timeout=1s", "smtp_helo_timeout=2s", "smtp_rcpt_timeout=2s",
             "smtp_data_done_timeout=3s", "minimal_backoff_time=300s", "queue_run_delay=300s")


def start_inst(inst, *conf):
    ensure_user(SENDER_USER)
    inst.init()
    inst.cmd("conf", "-e", *BASE_CONF, *conf)
    inst.start()
    return myhostname(inst)


def send(inst, host, *rcpts, body="Subject: test\n\nhello\n", sender=None):
    r = sendmail(inst, "-f", sender or f"{SENDER_USER}@{host}", *rcpts, data=body)
    assert r.returncode == 0, r.stderr
    return r


def log_has(inst, pattern, timeout=20):
    def found():
        return re.search(pattern, inst.log())
    try:
        return wait_for(found, timeout, what=pattern)
    except AssertionError as e:
        raise AssertionError(f"{e}\n--- log:\n{inst.log()}") from None


def flush(inst):
    inst.cmd("queue", "flush")


def dsn_of(inst, count=1):
    """The parsed DSN messages in the sender's Maildir."""
    paths = wait_mail(inst, SENDER_USER, count)
    return [email.message_from_bytes(read_bytes(p), policy=email.policy.default) for p in paths]


def dsn_text(msg):
    return msg.as_bytes().decode(errors="replace")


MX_RECORDS = [
    ("MX", "mx.test", 10, "a.mx.test"), ("MX", "mx.test", 20, "b.mx.test"),
    ("A", "a.mx.test", "192.0.2.10"), ("A", "b.mx.test", "192.0.2.11"),
]


# -- MX order and fallback ---------------------------------------------------

@pytest.mark.parametrize("first", ["refused", "timeout", "greet421", "greet554", "stall"])
def test_second_mx_when_the_first_fails(inst, dns_server, remotes, first):
    records = list(MX_RECORDS)
    if first == "timeout":
        records[2] = ("A", "a.mx.test", "192.0.2.99")	# in the subnet, nobody there
    dns_server(records)
    if first == "greet421":
        remotes("192.0.2.10", greeting="421 4.3.2 busy, go away")
    elif first == "greet554":	# smtp_skip_5xx_greeting = yes
        remotes("192.0.2.10", greeting="554 5.7.1 no mail from you")
    elif first == "stall":
        remotes("192.0.2.10", greeting_delay=10)
    b = remotes("192.0.2.11")
    host = start_inst(inst)
    t = time.monotonic()
    send(inst, host, "rcpt@mx.test")
    log_has(inst, r"smtp\[\d+\]: \w+: to=<rcpt@mx\.test>, relay=b\.mx\.test\[192\.0\.2\.11\]:25, "
                  r"delay=[\d.]+, delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+, dsn=2\.0\.0, "
                  r"status=sent \(250 2\.0\.0 Ok: queued as REMOTE1\)")
    assert time.monotonic() - t < 15
    [m] = b.messages
    assert m["rcpt_tos"] == ["rcpt@mx.test"] and b"\r\n\r\nhello\r\n" in m["data"]


def test_all_mx_fail_defers_with_last_error(inst, dns_server, remotes):
    dns_server(MX_RECORDS)
    remotes("192.0.2.11", greeting="421 4.3.2 busy")
    host = start_inst(inst)
    send(inst, host, "rcpt@mx.test")
    log_has(inst, r"to=<rcpt@mx\.test>, relay=b\.mx\.test\[192\.0\.2\.11\]:25, .*dsn=4\.3\.0, "
                  r"status=deferred \(host b\.mx\.test\[192\.0\.2\.11\] refused to talk to me: "
                  r"421 4\.3\.2 busy\)")


def test_no_mx_uses_the_address(inst, dns_server, remotes):
    dns_server([("A", "nomx.test", "192.0.2.12")])
    r = remotes("192.0.2.12")
    host = start_inst(inst)
    send(inst, host, "x@nomx.test")
    log_has(inst, r"to=<x@nomx\.test>, relay=nomx\.test\[192\.0\.2\.12\]:25, .*status=sent")
    assert len(r.messages) == 1


def test_ipv6_only_mx(inst, dns_server, remotes):
    dns_server([("MX", "v6.test", 10, "mx6.v6.test"), ("AAAA", "mx6.v6.test", "2001:db8::11")])
    r = remotes("2001:db8::11")
    host = start_inst(inst)
    send(inst, host, "x@v6.test")
    log_has(inst, r"to=<x@v6\.test>, relay=mx6\.v6\.test\[2001:db8::11\]:25, .*status=sent")
    assert len(r.messages) == 1


def test_5xx_greeting_bounces_when_not_skipped(inst, dns_server, remotes):
    dns_server(MX_RECORDS)
    remotes("192.0.2.10", greeting="554 5.7.1 no mail from you")
    b = remotes("192.0.2.11")
    host = start_inst(inst, "smtp_skip_5xx_greeting=no")
    send(inst, host, "x@mx.test")
    log_has(inst, r"to=<x@mx\.test>, relay=a\.mx\.test\[192\.0\.2\.10\]:25, .*dsn=5\.7\.1, status=bounced "
                  r"\(host a\.mx\.test\[192\.0\.2\.10\] refused to talk to me: 554 5\.7\.1 no mail from you\)")
    assert b.sessions == 0


def test_null_mx_and_nxdomain_bounce(inst, dns_server, remote_net):
    dns_server([("NULLMX", "nullmx.test"), ("A", "other.test", "192.0.2.12")])
    host = start_inst(inst)
    send(inst, host, "x@nullmx.test")
    log_has(inst, r"to=<x@nullmx\.test>, relay=none, .*dsn=5\.1\.10, status=bounced "
                  r"\(Domain nullmx\.test does not accept mail \(nullMX\)\)")
    send(inst, host, "y@missing.test")
    log_has(inst, r"to=<y@missing\.test>, relay=none, .*dsn=5\.4\.4, status=bounced \(Host or domain "
                  r"name not found\. Name service error for name=missing\.test type=MX: Host not found\)")
    texts = [dsn_text(m) for m in dsn_of(inst, 2)]
    assert any("Status: 5.1.10" in t and "x@nullmx.test" in t for t in texts)
    assert any("Status: 5.4.4" in t and "y@missing.test" in t for t in texts)


def test_servfail_defers_then_delivers(inst, dns_server, remotes):
    dns = dns_server([("SERVFAIL", "flaky.test")])
    r = remotes("192.0.2.12")
    host = start_inst(inst)
    send(inst, host, "x@flaky.test")
    log_has(inst, r"to=<x@flaky\.test>, relay=none, .*dsn=4\.4\.3, status=deferred \(Host or domain "
                  r"name not found\. Name service error for name=flaky\.test type=MX: Host not found, "
                  r"try again\)")
    dns.stop()
    dns_server([("A", "flaky.test", "192.0.2.12")])
    flush(inst)
    log_has(inst, r"to=<x@flaky\.test>, relay=flaky\.test\[192\.0\.2\.12\]:25, .*status=sent")
    assert len(r.messages) == 1


def test_mx_that_is_myself_loops(inst, dns_server, remote_net):
    inst.init()
    host = myhostname(inst)
    dns_server([("MX", "loop.test", 10, host)])
    inst.cmd("conf", "-e", *BASE_CONF)
    ensure_user(SENDER_USER)
    inst.start()
    send(inst, host, "x@loop.test")
    log_has(inst, r"to=<x@loop\.test>, relay=none, .*dsn=5\.4\.6, status=bounced "
                  r"\(mail for loop\.test loops back to myself\)")


# -- per-recipient outcomes -----------------------------------------------------

def test_rcpt_4xx_deferred_then_delivered(inst, dns_server, remotes):
    dns_server(MX_RECORDS)
    a = remotes("192.0.2.10", rcpt={"busy": "450 4.2.0 Mailbox busy, try later"})
    host = start_inst(inst)
    send(inst, host, "busy@mx.test")
    log_has(inst, r"to=<busy@mx\.test>, relay=a\.mx\.test\[192\.0\.2\.10\]:25, .*dsn=4\.2\.0, "
                  r"status=deferred \(host a\.mx\.test\[192\.0\.2\.10\] said: 450 4\.2\.0 Mailbox busy, "
                  r"try later \(in reply to RCPT TO command\)\)")
    assert a.messages == []
    a.rcpt = {}
    flush(inst)
    log_has(inst, r"to=<busy@mx\.test>, relay=a\.mx\.test\[192\.0\.2\.10\]:25, .*status=sent")
    assert [m["rcpt_tos"] for m in a.messages] == [["busy@mx.test"]]


def test_mixed_replies_in_one_message(inst, dns_server, remotes):
    dns_server(MX_RECORDS)
    a = remotes("192.0.2.10", rcpt={"later": "450 4.2.1 try later",
                                    "gone": "550 5.1.1 <gone@mx.test>: Recipient address rejected"})
    host = start_inst(inst)
    send(inst, host, "ok@mx.test", "later@mx.test", "gone@mx.test")
    log_has(inst, r"to=<ok@mx\.test>, .*dsn=2\.0\.0, status=sent")
    log_has(inst, r"to=<later@mx\.test>, .*dsn=4\.2\.1, status=deferred")
    log_has(inst, r"to=<gone@mx\.test>, .*dsn=5\.1\.1, status=bounced \(host a\.mx\.test\[192\.0\.2\.10\] "
                  r"said: 550 5\.1\.1 <gone@mx\.test>: Recipient address rejected \(in reply to RCPT TO command\)\)")
    assert [m["rcpt_tos"] for m in a.messages] == [["ok@mx.test"]]
    # the failed recipient is reported at once, while "later" still waits
    [dsn] = dsn_of(inst)
    text = dsn_text(dsn)
    assert "later@mx.test" not in text
    del a.rcpt["later"]
    flush(inst)
    log_has(inst, r"to=<later@mx\.test>, .*status=sent")
    log_has(inst, r"removed")
    assert [m["rcpt_tos"] for m in a.messages] == [["ok@mx.test"], ["later@mx.test"]]
    time.sleep(0.5)
    assert len(dsn_of(inst)) == 1		# not reported a second time
    assert "gone@mx.test" in text and "ok@mx.test" not in text
    assert "Remote-MTA: dns; a.mx.test" in text
    assert "Diagnostic-Code: smtp; 550 5.1.1 <gone@mx.test>: Recipient address rejected" in text
    assert "Action: failed" in text and "Status: 5.1.1" in text


def test_dropped_during_data_then_delivered_once(inst, dns_server, remotes):
    dns_server(MX_RECORDS)
    a = remotes("192.0.2.10", data_drop=True)
    host = start_inst(inst)
    send(inst, host, "x@mx.test", body="Subject: drop\n\n" + "line\n" * 2000)
    log_has(inst, r"to=<x@mx\.test>, relay=a\.mx\.test\[192\.0\.2\.10\]:25, .*dsn=4\.4\.2, "
                  r"status=deferred \(lost connection with a\.mx\.test\[192\.0\.2\.10\] while sending "
                  r"end of data -- message may be sent more than once\)")
    a.data_drop = False
    flush(inst)
    log_has(inst, r"to=<x@mx\.test>, .*status=sent")
    time.sleep(0.5)
    assert len(a.messages) == 1
    assert a.messages[0]["data"].count(b"line\r\n") == 2000


def test_slow_server_times_out_then_retry(inst, dns_server, remotes):
    dns_server([("A", "slow.test", "192.0.2.12")])
    r = remotes("192.0.2.12", rcpt_delay=5)
    host = start_inst(inst)
    send(inst, host, "x@slow.test")
    log_has(inst, r"to=<x@slow\.test>, .*dsn=4\.4\.2, status=deferred \(conversation with "
                  r"slow\.test\[192\.0\.2\.12\] timed out while sending RCPT TO\)")
    r.rcpt_delay = 0
    flush(inst)
    log_has(inst, r"to=<x@slow\.test>, .*status=sent")


# -- routes ---------------------------------------------------------------------

def test_relayhost_with_port(inst, remotes):
    r = remotes("192.0.2.13", port=2525)
    host = start_inst(inst, "relayhost=[192.0.2.13]:2525")
    send(inst, host, "x@anywhere.test")
    log_has(inst, r"to=<x@anywhere\.test>, relay=192\.0\.2\.13\[192\.0\.2\.13\]:2525, .*status=sent")
    assert r.messages[0]["rcpt_tos"] == ["x@anywhere.test"]


def test_ipv6_literal_relayhost(inst, remotes):
    r = remotes("2001:db8::10", port=2525)
    host = start_inst(inst, "relayhost=[2001:db8::10]:2525")
    send(inst, host, "x@anywhere.test")
    log_has(inst, r"to=<x@anywhere\.test>, relay=2001:db8::10\[2001:db8::10\]:2525, .*status=sent")
    assert len(r.messages) == 1


def test_lmtp_inet_per_recipient_replies(inst, remotes):
    r = remotes("192.0.2.14", port=24, lmtp=True, rcpt={"lmtp:full": "552 5.2.2 Mailbox full"})
    host = start_inst(inst, "default_transport=lmtp:inet:192.0.2.14:24")
    send(inst, host, "a@box.test", "full@box.test")
    log_has(inst, r"lmtp\[\d+\]: \w+: to=<a@box\.test>, relay=192\.0\.2\.14\[192\.0\.2\.14\]:24, "
                  r".*dsn=2\.0\.0, status=sent \(250 2\.0\.0 <a@box\.test> delivered as L1\)")
    log_has(inst, r"to=<full@box\.test>, relay=192\.0\.2\.14\[192\.0\.2\.14\]:24, .*dsn=5\.2\.2, "
                  r"status=bounced \(host 192\.0\.2\.14\[192\.0\.2\.14\] said: 552 5\.2\.2 Mailbox full "
                  r"\(in reply to end of DATA command\)\)")
    assert r.messages[0]["rcpt_tos"] == ["a@box.test", "full@box.test"]
    assert any(c.startswith("MAIL") for c in r.commands)


def test_lmtp_unix_socket_relative_to_the_queue(inst, remotes):
    host = start_inst(inst, "default_transport=lmtp:unix:private/test-lmtp")
    r = remotes(None, lmtp=True, unix=os.path.join(inst.queue, "private", "test-lmtp"))
    send(inst, host, "u@box.test")
    log_has(inst, rf"lmtp\[\d+\]: \w+: to=<u@box\.test>, relay={re.escape(host)}\[private/test-lmtp\], "
                  r".*dsn=2\.0\.0, status=sent \(250 2\.0\.0 <u@box\.test> delivered as L1\)")
    assert r.messages[0]["rcpt_tos"] == ["u@box.test"]


# -- extensions -------------------------------------------------------------------

def test_size_too_big_bounced_without_sending(inst, remotes):
    r = remotes("192.0.2.13", size_limit=1000)
    host = start_inst(inst, "relayhost=[192.0.2.13]")
    send(inst, host, "x@big.test", body="Subject: big\n\n" + "x" * 5000 + "\n")
    log_has(inst, r"to=<x@big\.test>, .*dsn=5\.3\.4, status=bounced \(message size \d+ exceeds size "
                  r"limit 1000 of server 192\.0\.2\.13\[192\.0\.2\.13\]\)")
    assert r.commands == []


def smtp_submit(inst, sender, rcpts, body, mail_options=(), rcpt_options=()):
    with smtplib.SMTP("127.0.0.1", inst.port, timeout=10) as s:
        s.ehlo("client.test")
        s.mail(sender, list(mail_options))
        for rc in rcpts:
            code, msg = s.rcpt(rc, list(rcpt_options))
            assert code == 250, msg
        code, msg = s.data(body)
        assert code == 250, msg


def test_smtputf8_required_but_not_offered(inst, remotes):
    remotes("192.0.2.13", utf8=False)
    host = start_inst(inst, "relayhost=[192.0.2.13]")
    smtp_submit(inst, f"{SENDER_USER}@{host}", ["j\u00f6rg@utf8.test"], b"Subject: u\r\n\r\nhi\r\n",
                mail_options=["SMTPUTF8"])
    log_has(inst, r"dsn=5\.6\.7, status=bounced \(SMTPUTF8 is required, but was not offered by host "
                  r"192\.0\.2\.13\[192\.0\.2\.13\]\)")


def test_smtputf8_passed_when_offered(inst, remotes):
    r = remotes("192.0.2.13", utf8=True)
    host = start_inst(inst, "relayhost=[192.0.2.13]")
    smtp_submit(inst, f"{SENDER_USER}@{host}", ["j\u00f6rg@utf8.test"], b"Subject: u\r\n\r\nhi\r\n",
                mail_options=["SMTPUTF8"])
    log_has(inst, r"status=sent")
    assert "SMTPUTF8" in r.messages[0]["mail_args"].upper()


def test_dsn_parameters_passed_through(inst, remotes):
    r = remotes("192.0.2.13")
    host = start_inst(inst, "relayhost=[192.0.2.13]")
    smtp_submit(inst, f"{SENDER_USER}@{host}", ["x@dsn.test"], b"Subject: d\r\n\r\nhi\r\n",
                mail_options=["RET=HDRS", "ENVID=env+2B1"],
                rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;orig+2Bx@dsn.test"])
    log_has(inst, r"to=<x@dsn\.test>, .*status=sent")
    m = r.messages[0]
    assert "RET=HDRS" in m["mail_args"] and "ENVID=env+2B1" in m["mail_args"]
    assert m["rcpt_args"] == ["TO:<x@dsn.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;orig+2Bx@dsn.test"]


def test_no_dsn_parameters_without_the_extension(inst, remotes):
    r = remotes("192.0.2.13", ehlo_extra=[])
    host = start_inst(inst, "relayhost=[192.0.2.13]")
    smtp_submit(inst, f"{SENDER_USER}@{host}", ["x@dsn.test"], b"Subject: d\r\n\r\nhi\r\n",
                mail_options=["RET=HDRS"], rcpt_options=["NOTIFY=FAILURE"])
    log_has(inst, r"to=<x@dsn\.test>, .*status=sent")
    m = r.messages[0]
    assert "RET=" not in m["mail_args"]
    assert m["rcpt_args"] == ["TO:<x@dsn.test>"]


def test_content_is_dot_stuffed_and_long_lines_broken(inst, remotes):
    r = remotes("192.0.2.13")
    host = start_inst(inst, "relayhost=[192.0.2.13]")
    body = "Subject: c\n\n.starts with a dot\n..two\n" + "z" * 1500 + "\nend\n"
    send(inst, host, "x@content.test", body=body)
    log_has(inst, r"to=<x@content\.test>, .*status=sent")
    data = r.messages[0]["data"]
    assert b"\r\n.starts with a dot\r\n..two\r\n" in data	# aiosmtpd removed the stuffing again
    assert b"z" * 998 + b"\r\n " + b"z" * 502 + b"\r\nend\r\n" in data


# -- the delivery protocol itself: session reuse and hop_status ---------------
# qmgr does not yet send several requests per connection, so these tests are
# qmgr: they write queue files into active/ (qmgr only looks there at start)
# and talk to private/smtp with attribute frames (lib/qmgr_proto.h).

from test_bounce import as_dict, encode, read_frame, record	# noqa: E402
from test_queue import make_id	# noqa: E402
from conftest import connect_unix	# noqa: E402


def active_file(inst, sender, rcpts, content=b"Subject: direct\n\nbody\n"):
    """Writes active/ID; returns (id, content_offset, size, [R offsets])."""
    qid = make_id()
    head = record("V", "postern-queue 1")
    c_at = len(head)
    head += record("C", "%15d %15d %15d" % (0, 0, 0)) + record("T", f"{int(time.time())} 0")
    head += record("S", sender)
    offsets = []
    for r in rcpts:
        offsets.append(len(head))
        head += record("R", r)
    content_offset = len(head)
    c = record("C", "%15d %15d %15d" % (len(content), content_offset, len(rcpts)))
    data = head[:c_at] + c + head[c_at + len(c):] + record("M") + record("B", content) + record("E")
    path = os.path.join(inst.queue, "active", qid)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o700)
    owner = inst.cmd("conf", "-h", "-x", "mail_owner").stdout.strip()
    try:
        import pwd
        pw = pwd.getpwnam(owner)
        os.chown(path, pw.pw_uid, pw.pw_gid)
    except KeyError:
        pass
    return qid, content_offset, len(content), offsets


def request(qid, nexthop, rcpts, content_offset, size, offsets, sender="s@direct.test"):
    now = time.time()
    attrs = [("queue_id", qid), ("queue_name", "active"), ("sender", sender), ("nexthop", nexthop),
             ("times", f"{now:.6f} {now:.6f} {now:.6f}"), ("content_offset", content_offset),
             ("content_size", size), ("rcpt_count", len(rcpts))]
    for i, (r, off) in enumerate(zip(rcpts, offsets)):
        attrs += [(f"r{i}_addr", r), (f"r{i}_orig", ""), (f"r{i}_notify", ""), (f"r{i}_offset", off)]
    return encode(attrs)


class Agent:
    """A qmgr-side connection to private/SERVICE."""

    def __init__(self, inst, service="smtp"):
        self.sock = connect_unix(os.path.join(inst.queue, "private", service), timeout=30)
        greeting = as_dict(read_frame(self.sock))
        assert greeting["protocol"] == "delivery" and greeting["version"] == "1"

    def deliver(self, inst, nexthop, rcpts):
        qid, off, size, offs = active_file(inst, "s@direct.test", rcpts)
        self.sock.sendall(request(qid, nexthop, rcpts, off, size, offs))
        return qid, as_dict(read_frame(self.sock))

    def close(self):
        self.sock.close()


def test_session_reused_for_the_same_nexthop(inst, remotes):
    r = remotes("192.0.2.13", rcpt={"bad": "550 5.1.1 no such user"})
    other = remotes("192.0.2.15")
    start_inst(inst)
    agent = Agent(inst)
    q1, rep1 = agent.deliver(inst, "[192.0.2.13]", ["a@direct.test"])
    q2, rep2 = agent.deliver(inst, "[192.0.2.13]", ["bad@direct.test", "b@direct.test"])
    assert r.commands.count("RSET") == 0
    q2b, rep2b = agent.deliver(inst, "[192.0.2.13]", ["bad@direct.test"])	# nothing accepted
    q3, rep3 = agent.deliver(inst, "[192.0.2.13]", ["c@direct.test"])
    assert rep2b["r0_status"] == "bounced"
    assert r.commands.count("RSET") == 1	# the transaction before broke off
    q4, rep4 = agent.deliver(inst, "[192.0.2.15]", ["d@direct.test"])
    agent.close()
    assert rep1["r0_status"] == "sent" and rep1["hop_status"] == "ok"
    assert (rep2["r0_status"], rep2["r1_status"], rep2["hop_status"]) == ("bounced", "sent", "ok")
    assert rep2["r0_reason"] == ("host 192.0.2.13[192.0.2.13] said: 550 5.1.1 no such user "
                                 "(in reply to RCPT TO command)")
    assert rep3["r0_status"] == "sent" and rep4["r0_status"] == "sent"
    assert r.sessions == 1 and len(r.messages) == 3 and other.sessions == 1
    wait_for(lambda: r.open == 0, 10, what="QUIT of the first session")
    log_has(inst, rf"{q3}: to=<c@direct\.test>, relay=192\.0\.2\.13\[192\.0\.2\.13\]:25, conn_use=4, "
                  r"delay=[\d.]+, .*status=sent")
    log_has(inst, rf"{q1}: to=<a@direct\.test>, relay=192\.0\.2\.13\[192\.0\.2\.13\]:25, delay=")
    # the recipients are marked done in the queue files (R -> D)
    for qid in (q1, q2, q3):
        data = read_bytes(os.path.join(inst.queue, "active", qid))
        assert b"Ra@" not in data and b"Rb@" not in data and b"Rbad@" not in data
    assert os.path.exists(os.path.join(inst.queue, "bounce", q2))


def test_hop_status_failed_when_no_server_answers(inst, remote_net):
    start_inst(inst)
    agent = Agent(inst)
    qid, rep = agent.deliver(inst, "[192.0.2.99]", ["x@direct.test"])
    agent.close()
    assert rep["r0_status"] == "deferred" and rep["hop_status"] == "failed"
    assert rep["r0_reason"] == "connect to 192.0.2.99[192.0.2.99]:25: Connection timed out"
    with open(os.path.join(inst.queue, "defer", qid)) as f:
        assert "Connection timed out" in f.read()


# -- a real Postfix as the next hop ------------------------------------------

def test_real_postfix_as_next_hop(inst, remotes):
    import shutil
    from test_postfix_relay import PrivatePostfix, postfix_missing
    if postfix_missing():
        pytest.skip(postfix_missing())
    # Postfix's postlogd can deadlock on its unix-dgram socket when more than
    # net.unix.max_dgram_qlen (10 in a new namespace) lines queue up; the
    # setting belongs to this test's private namespace only.
    with open("/proc/sys/net/unix/max_dgram_qlen", "w") as f:
        f.write("512\n")
    user = ensure_user(SENDER_USER)
    maildir = os.path.join(user.pw_dir, "Maildir")
    shutil.rmtree(maildir, ignore_errors=True)
    pf = PrivatePostfix(25, main_extra="inet_interfaces = 192.0.2.16\nmydestination = pf.test\n"
                        "mynetworks = 127.0.0.0/8 192.0.2.0/24\nrelayhost =\nhome_mailbox = Maildir/\n"
                        "smtpd_peername_lookup = no\n",
                        master_extra="192.0.2.16:25 inet n - n - - smtpd\n")
    try:
        host = start_inst(inst, "relayhost=[192.0.2.16]", "smtp_helo_timeout=30s")
        body = "Subject: to postfix\n\n.dot line\n" + "p" * 1200 + "\nlast\n"
        send(inst, host, f"{SENDER_USER}@pf.test", body=body)
        try:
            log_has(inst, r"to=<pt-smtpc@pf\.test>, relay=192\.0\.2\.16\[192\.0\.2\.16\]:25, .*dsn=2\.0\.0, "
                          r"status=sent \(250 2\.0\.0 Ok: queued as \w+\)", timeout=30)
        except AssertionError as e:
            raise AssertionError(f"{e}\n--- postfix log:\n{pf.log()}") from None
        try:
            [path] = wait_for(lambda: maildir_files(maildir), 30, what="Postfix delivery")
        except AssertionError as e:
            raise AssertionError(f"{e}\n--- postfix log:\n{pf.log()}") from None
        got = read_bytes(path)
        assert b"\n.dot line\n" in got
        assert b"p" * 998 + b"\n " + b"p" * 202 + b"\nlast\n" in got
        assert re.search(r"postfix/smtpd\[\d+\]: \w+: client=\S+\[192\.0\.2\.1\d?\]", pf.log())
    finally:
        pf.cleanup()
        shutil.rmtree(maildir, ignore_errors=True)
