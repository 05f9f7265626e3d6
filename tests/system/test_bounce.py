"""bounce(8): drives the real bounce service over private/bounce with a
queue file, a status log and a fake cleanup written by the test, and checks
the notification that reaches cleanup (with Python's email parser, which
must see a proper RFC 3464 multipart/report) and bounce's reply and log.

The fake cleanup listens on queue/public/cleanup, speaks the attr frame
protocol (lib/attr.h), records every frame and answers status=0
queue_id=TESTID unless told otherwise. The instance runs only postlog and
bounce, so no other daemon touches the files the test writes.
"""
import email
import email.policy
import os
import socket
import struct
import threading
import time

import pytest

from conftest import connect_unix

QID = "6LkKJd0Bf4z3QP"
BOUNCE_LINE = "bounce unix - - n - 0 bounce"


# -- attr frames (lib/attr.h) ---------------------------------------------
def encode(attrs):
    body = b""
    for name, value in attrs:
        n = name.encode()
        v = value if isinstance(value, bytes) else str(value).encode()
        body += struct.pack(">H", len(n)) + n + struct.pack(">I", len(v)) + v
    return struct.pack(">I", len(body)) + body


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def read_frame(sock):
    """One frame as a list of (name, bytes), or None at EOF."""
    head = read_exact(sock, 4)
    if head is None:
        return None
    body = read_exact(sock, struct.unpack(">I", head)[0])
    assert body is not None, "EOF inside a frame"
    attrs, pos = [], 0
    while pos < len(body):
        nlen = struct.unpack(">H", body[pos:pos + 2])[0]
        name = body[pos + 2:pos + 2 + nlen].decode()
        pos += 2 + nlen
        vlen = struct.unpack(">I", body[pos:pos + 4])[0]
        attrs.append((name, body[pos + 4:pos + 4 + vlen]))
        pos += 4 + vlen
    return attrs


def as_dict(frame):
    return {k: v.decode("utf-8", "replace") for k, v in frame}


# -- queue files (lib/rec.h, docs/QUEUE.md) -------------------------------
def record(rtype, payload=b""):
    if isinstance(payload, str):
        payload = payload.encode()
    n, length = len(payload), b""
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            length += bytes([byte | 0x80])
        else:
            length += bytes([byte])
            break
    return rtype.encode() + length + payload


def queue_file(sender, rcpts, content, attrs=(), arrival=None):
    """rcpts: list of (address, orig, notify)."""
    arrival = int(arrival or time.time() - 60)
    out = record("V", "postern-queue 1")
    out += record("C", "%15d %15d %15d" % (len(content), 0, len(rcpts)))
    out += record("T", f"{arrival} 0")
    for a in attrs:
        out += record("A", a)
    out += record("S", sender)
    for addr, orig, notify in rcpts:
        if orig:
            out += record("O", orig)
        if notify:
            out += record("N", notify)
        out += record("D", addr)
    out += record("M")
    for i in range(0, len(content), 65536):
        out += record("B", content[i:i + 65536])
    out += record("E")
    return out


def log_line(rcpt, orig="", dsn="5.1.1", action="failed", notify="", mta="",
             diag="", reason="unknown user"):
    return "\t".join([rcpt, orig, dsn, action, notify, mta, diag, reason]) + "\n"


MESSAGE = (b"From: alice@example.org\n"
           b"To: bob@example.test, carol@example.test\n"
           b"Subject: lunch\n"
           b"Message-ID: <lunch.1@example.org>\n"
           b"\n"
           b"Shall we?\n")


class FakeCleanup:
    """A cleanup(8) stand-in on queue/public/cleanup."""

    def __init__(self, queue, status=0, reason=""):
        self.path = os.path.join(queue, "public", "cleanup")
        self.status, self.reason = status, reason
        self.sessions = []          # one list of frames per connection
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                self.serve(conn)

    def serve(self, conn):
        frames = []
        self.sessions.append(frames)
        conn.sendall(encode([("protocol", "cleanup"), ("version", "2")]))
        while True:
            f = read_frame(conn)
            if f is None:
                return
            frames.append(f)
            if dict(f).get("request") == b"envelope":    # version 2: the queue ID
                conn.sendall(encode([("status", 0), ("queue_id", "TESTID")]))
            if dict(f).get("request") == b"end":
                break
        conn.sendall(encode([("status", self.status), ("dsn", "4.3.0" if self.status else "2.0.0"),
                             ("reason", self.reason), ("queue_id", "TESTID")]))

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()

    # -- what bounce sent, from the last session
    def last(self):
        assert self.sessions, "bounce never connected to cleanup"
        frames = self.sessions[-1]
        env = as_dict(frames[0])
        rcpts = [as_dict(f) for f in frames if dict(f).get("request") == b"rcpt"]
        data = b"".join(dict(f)["data"] for f in frames if dict(f).get("request") == b"data")
        assert dict(frames[-1]).get("request") == b"end"
        return env, rcpts, data


class Bounce:
    """An instance running only postlog and bounce, plus the fake cleanup."""

    def __init__(self, inst, **cleanup_args):
        self.inst = inst
        inst.init()
        self.keep_only_postlog()
        inst.add_service(BOUNCE_LINE)
        inst.start()
        st = os.stat(os.path.join(inst.queue, "active"))
        self.uid, self.gid = st.st_uid, st.st_gid
        self.cleanup = FakeCleanup(inst.queue, **cleanup_args)

    def keep_only_postlog(self):
        """Drops every template service but postlog (the pipeline's own
        cleanup, qmgr and friends must not touch the test's files)."""
        kept, keep = [], True
        for line in self.inst.read("master.cf").splitlines():
            if line.strip() == "" or line.lstrip().startswith("#"):
                kept.append(line)
            elif line[0].isspace():
                if keep:
                    kept.append(line)
            else:
                keep = line.split()[0] == "postlog"
                if keep:
                    kept.append(line)
        self.inst.write("master.cf", "\n".join(kept) + "\n")

    def put(self, rel, data, mode=0o600):
        path = os.path.join(self.inst.queue, rel)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        os.chown(path, self.uid, self.gid)
        os.chmod(path, mode)

    def message(self, sender, rcpts, content=MESSAGE, attrs=(), qid=QID, arrival=None):
        self.put(f"active/{qid}", queue_file(sender, rcpts, content, attrs, arrival), 0o700)

    def log(self, logdir, lines, qid=QID):
        self.put(f"{logdir}/{qid}", "".join(lines))

    def request(self, request, qid=QID, **extra):
        s = connect_unix(os.path.join(self.inst.queue, "private", "bounce"), timeout=30)
        try:
            greeting = as_dict(read_frame(s))
            assert greeting == {"protocol": "bounce", "version": "1"}
            s.sendall(encode([("request", request), ("queue_id", qid), *extra.items()]))
            reply = read_frame(s)
            assert reply is not None, "bounce closed the connection without a reply"
            return as_dict(reply)
        finally:
            s.close()


@pytest.fixture
def bounce(inst):
    b = Bounce(inst)
    yield b
    b.cleanup.close()


def parse(data):
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    parts = msg.get_payload()
    assert isinstance(parts, list) and len(parts) == 3, data.decode(errors="replace")
    return msg, parts


def status_groups(part):
    """The delivery-status part as [per-message dict, per-recipient dicts...]."""
    assert part.get_content_type() == "message/delivery-status"
    return [dict(g.items()) for g in part.get_payload()]


def no_long_lines(data):
    assert max(len(line) for line in data.split(b"\n")) <= 998
    assert b"\r" not in data


# -- notify ---------------------------------------------------------------
def test_notify_returns_the_message_to_its_sender(bounce):
    bounce.message("alice@example.org",
                   [("bob@example.test", "", ""), ("carol@example.test", "team@example.test", "")])
    bounce.log("bounce", [
        log_line("bob@example.test", reason='unknown user: "bob"'),
        log_line("carol@example.test", "team@example.test", "5.2.2", mta="mx.example.net",
                 diag="smtp; 552 5.2.2 mailbox full",
                 reason="host mx.example.net[192.0.2.1] said: 552 5.2.2 mailbox full"),
    ])
    assert bounce.request("notify", queue_name="active") == {"status": "0"}

    env, rcpts, data = bounce.cleanup.last()
    assert env["request"] == "envelope"
    assert env["sender"] == ""
    assert env["origin"] == "bounce"
    assert env["dsn_kind"] == "bounce"
    assert env["log_ident"] == QID
    assert [r["address"] for r in rcpts] == ["alice@example.org"]
    no_long_lines(data)

    msg, (text, report, original) = parse(data)
    assert msg["To"] == "alice@example.org"
    assert msg["Subject"] == "Undelivered Mail Returned to Sender"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["From"].startswith("Mail Delivery System <MAILER-DAEMON@")
    assert msg["Date"] and msg["Message-ID"]

    body = text.get_payload()
    assert text.get_content_type() == "text/plain"
    assert "This is the mail system at host" in body
    assert '<bob@example.test>: unknown user: "bob"' in body
    assert "<carol@example.test> (expanded from <team@example.test>)" in body

    groups = status_groups(report)
    assert groups[0]["Reporting-MTA"].startswith("dns; ")
    assert groups[0]["X-Postern-Queue-ID"] == QID
    assert "Arrival-Date" in groups[0]
    bob, carol = groups[1:]
    assert bob["Final-Recipient"] == "rfc822; bob@example.test"
    assert bob["Action"] == "failed"
    assert bob["Status"] == "5.1.1"
    assert "Original-Recipient" not in bob
    assert carol["Original-Recipient"] == "rfc822; team@example.test"
    assert carol["Status"] == "5.2.2"
    assert carol["Remote-MTA"] == "dns; mx.example.net"
    assert carol["Diagnostic-Code"] == "smtp; 552 5.2.2 mailbox full"

    assert original.get_content_type() == "message/rfc822"
    returned = original.get_payload()[0]
    assert returned["Subject"] == "lunch"
    assert returned["Message-ID"] == "<lunch.1@example.org>"
    assert returned.get_payload().startswith("Shall we?")

    bounce.inst.wait_log(f"{QID}: sender non-delivery notification: TESTID")


def test_ret_hdrs_and_envid(bounce):
    bounce.message("alice@example.org", [("bob@example.test", "", "FAILURE")],
                   attrs=["ret=hdrs", "envid=QQ314159"])
    bounce.log("bounce", [log_line("bob@example.test", notify="FAILURE")])
    assert bounce.request("notify") == {"status": "0"}
    _, _, data = bounce.cleanup.last()
    _, (_, report, original) = parse(data)
    assert status_groups(report)[0]["Original-Envelope-Id"] == "QQ314159"
    assert original.get_content_type() == "text/rfc822-headers"
    assert original["Content-Description"] == "Undelivered Message Headers"
    assert b"Subject: lunch" in data
    assert b"Shall we?" not in data


def test_big_message_returns_headers_only(bounce):
    big = MESSAGE + b"x" * 70 + b"\n"
    big += (b"y" * 79 + b"\n") * 1000      # 80 KB, over bounce_size_limit
    bounce.message("alice@example.org", [("bob@example.test", "", "")], content=big)
    bounce.log("bounce", [log_line("bob@example.test")])
    assert bounce.request("notify") == {"status": "0"}
    _, _, data = bounce.cleanup.last()
    _, (_, _, original) = parse(data)
    assert original.get_content_type() == "text/rfc822-headers"
    assert len(data) < 10000


def test_null_sender_failure_goes_to_postmaster_once(bounce):
    bounce.message("", [("bob@example.test", "", "NEVER")], attrs=["dsn_kind=bounce"])
    bounce.log("bounce", [log_line("bob@example.test", notify="NEVER")])
    assert bounce.request("notify") == {"status": "0"}
    env, rcpts, data = bounce.cleanup.last()
    assert env["sender"] == ""
    assert env["dsn_kind"] == "double"
    assert [r["address"] for r in rcpts] == ["postmaster"]
    msg, (_, report, _) = parse(data)
    assert msg["To"] == "postmaster"
    assert status_groups(report)[1]["Final-Recipient"] == "rfc822; bob@example.test"
    bounce.inst.wait_log(f"{QID}: postmaster non-delivery notification: TESTID")


def test_failed_double_bounce_is_dropped(bounce):
    bounce.message("", [("postmaster@example.test", "", "")], attrs=["dsn_kind=double"])
    bounce.log("bounce", [log_line("postmaster@example.test", reason="mailbox full")])
    assert bounce.request("notify") == {"status": "0"}
    bounce.inst.wait_log(f"{QID}: double bounce dropped: <postmaster@example.test>: mailbox full")
    assert bounce.cleanup.sessions == []


def test_notify_never_sends_nothing(bounce):
    bounce.message("alice@example.org", [("bob@example.test", "", "NEVER")])
    bounce.log("bounce", [log_line("bob@example.test", notify="NEVER")])
    assert bounce.request("notify") == {"status": "0"}
    # NOTIFY taken from the queue file when the log has none
    bounce.log("bounce", [log_line("bob@example.test", notify="")])
    assert bounce.request("notify") == {"status": "0"}
    assert bounce.cleanup.sessions == []


def test_no_log_entries_is_nothing_to_do(bounce):
    assert bounce.request("notify") == {"status": "0"}   # no log, no queue file
    bounce.log("bounce", [log_line("bob@example.test", action="delayed", dsn="4.4.1")])
    assert bounce.request("notify") == {"status": "0"}   # no failed entries
    assert bounce.cleanup.sessions == []


def test_missing_queue_file_is_a_temporary_error(bounce):
    bounce.log("bounce", [log_line("bob@example.test")])
    r = bounce.request("notify")
    assert r["status"] == "4"
    assert "active/" + QID in r["reason"]


def test_malformed_requests_get_a_temporary_error(bounce):
    assert bounce.request("notify", qid="../../etc/passwd")["status"] == "4"
    assert bounce.request("explode")["status"] == "4"
    assert bounce.request("notify", queue_name="../x")["status"] == "4"
    assert bounce.cleanup.sessions == []


def test_several_requests_on_one_connection(bounce):
    bounce.message("alice@example.org", [("bob@example.test", "", "")])
    bounce.log("bounce", [log_line("bob@example.test")])
    s = connect_unix(os.path.join(bounce.inst.queue, "private", "bounce"), timeout=30)
    read_frame(s)
    for _ in range(2):
        s.sendall(encode([("request", "notify"), ("queue_id", QID)]))
        assert as_dict(read_frame(s)) == {"status": "0"}
    s.close()
    assert len(bounce.cleanup.sessions) == 2


def test_cleanup_failure_is_reported_to_qmgr(inst):
    b = Bounce(inst, status=4, reason="queue file write error")
    try:
        b.message("alice@example.org", [("bob@example.test", "", "")])
        b.log("bounce", [log_line("bob@example.test")])
        r = b.request("notify")
        assert r["status"] == "4"
        assert "queue file write error" in r["reason"]
        # the log is kept for the next try
        assert os.path.exists(os.path.join(inst.queue, "bounce", QID))
        inst.wait_log(f"{QID}: non-delivery notification not sent: cleanup: ")
    finally:
        b.cleanup.close()
    # no cleanup at all
    os.unlink(b.cleanup.path)
    r = b.request("notify")
    assert r["status"] == "4"
    assert "cleanup" in r["reason"]


# -- delay and success ----------------------------------------------------
def test_delay_warning(bounce):
    bounce.message("alice@example.org",
                   [("bob@example.test", "", ""), ("carol@example.test", "", "FAILURE")],
                   arrival=time.time() - 4 * 3600 - 30)
    bounce.log("defer", [
        log_line("bob@example.test", dsn="4.4.1", action="delayed",
                 reason="connect to mx.example.test[192.0.2.2]:25: Connection refused"),
        log_line("carol@example.test", dsn="4.4.1", action="delayed", notify="FAILURE",
                 reason="connect to mx.example.test[192.0.2.2]:25: Connection refused"),
    ])
    assert bounce.request("delay") == {"status": "0"}
    env, rcpts, data = bounce.cleanup.last()
    assert env["dsn_kind"] == "delay"
    assert [r["address"] for r in rcpts] == ["alice@example.org"]
    msg, (text, report, original) = parse(data)
    assert msg["Subject"] == "Delayed Mail (still being retried)"
    assert "THIS IS A WARNING ONLY" in text.get_payload()
    assert "for more than 4 hour(s)" in text.get_payload()
    groups = status_groups(report)
    assert len(groups) == 2              # carol asked for failures only
    assert groups[1]["Action"] == "delayed"
    assert groups[1]["Status"] == "4.4.1"
    assert original.get_content_type() == "text/rfc822-headers"
    assert b"Shall we?" not in data
    bounce.inst.wait_log(f"{QID}: sender delay notification: TESTID")


def test_no_delay_warning_to_the_null_sender(bounce):
    bounce.message("", [("bob@example.test", "", "")])
    bounce.log("defer", [log_line("bob@example.test", dsn="4.4.1", action="delayed")])
    assert bounce.request("delay") == {"status": "0"}
    assert bounce.cleanup.sessions == []


def test_success_notification(bounce):
    bounce.message("alice@example.org",
                   [("bob@example.test", "", "SUCCESS,FAILURE"), ("carol@example.test", "", "")])
    bounce.log("trace", [
        log_line("bob@example.test", dsn="2.0.0", action="delivered", notify="SUCCESS,FAILURE",
                 reason="delivered to mailbox"),
        log_line("carol@example.test", dsn="2.0.0", action="delivered",
                 reason="delivered to mailbox"),
    ])
    assert bounce.request("success") == {"status": "0"}
    env, _, data = bounce.cleanup.last()
    assert env["dsn_kind"] == "success"
    msg, (text, report, _) = parse(data)
    assert msg["Subject"] == "Successful Mail Delivery Report"
    assert "<bob@example.test>: delivered to mailbox" in text.get_payload()
    groups = status_groups(report)
    assert len(groups) == 2              # carol did not ask
    assert groups[1]["Action"] == "delivered"
    assert groups[1]["Status"] == "2.0.0"
    bounce.inst.wait_log(f"{QID}: sender delivery status notification: TESTID")


def test_bounce_runs_as_mail_owner(bounce):
    bounce.message("alice@example.org", [("bob@example.test", "", "")])
    bounce.log("bounce", [log_line("bob@example.test")])
    assert bounce.request("notify") == {"status": "0"}
    pids = [p for p in bounce.inst.children()
            if open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")[0].endswith(b"bounce")]
    assert pids
    uid = int(open(f"/proc/{pids[0]}/status").read().split("Uid:")[1].split()[0])
    assert uid == bounce.uid


def test_deferred_queue_file_is_found_in_its_hash_directory(bounce):
    hashdir = os.path.join(bounce.inst.queue, "deferred", QID[QID.index("z") - 1])
    os.makedirs(hashdir, exist_ok=True)
    os.chown(hashdir, bounce.uid, bounce.gid)
    bounce.put(os.path.join("deferred", os.path.basename(hashdir), QID),
               queue_file("alice@example.org", [("bob@example.test", "", "")], MESSAGE), 0o700)
    bounce.log("bounce", [log_line("bob@example.test")])
    assert bounce.request("notify", queue_name="deferred") == {"status": "0"}
    assert bounce.cleanup.last()[1][0]["address"] == "alice@example.org"
