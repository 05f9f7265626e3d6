"""smtpd end to end: real clients (swaks, Python's smtplib, raw sockets)
against an instance's SMTP listener on 127.0.0.1, mail delivered to
Maildirs, and the dialogue's hostile cases: the open-relay tricks from a
client outside mynetworks (the socket bound to 127.0.0.2), SMTP smuggling
sequences, pipelining violations, NUL and 8-bit commands, overlong lines,
thousands of recipients, timeouts and slow or vanishing clients; the
restriction lists (access tables with REJECT/HOLD/DISCARD/4xx, client
access by address, HELO syntax). Also sendmail -bs (smtpd -S) driven over
a pipe.
"""
import os
import re
import select
import signal
import smtplib
import socket
import subprocess
import time

import pytest

from conftest import (ensure_user, maildir_files, myhostname, needs_root, processes_with_env,
                      read_bytes, spool_maildir, wait_for, wait_mail)

pytestmark = needs_root

OUTSIDE = "127.0.0.2"		# a client address outside mynetworks = 127.0.0.1/32


def started(inst, *conf):
    """Starts inst with conf settings; returns myhostname."""
    inst.init()
    if conf:
        inst.cmd("conf", "-e", *conf)
    inst.start()
    return myhostname(inst)


class Client:
    """A raw SMTP client: bytes out, parsed replies in."""

    def __init__(self, port, source="127.0.0.1", timeout=15):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                          source_address=(source, 0))
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError(f"connection closed; pending {self.buf!r}")
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        """One reply: (code, all its lines as text)."""
        lines = []
        while True:
            line = self.line()
            lines.append(line.decode(errors="replace"))
            if line[3:4] != b"-":
                return int(line[:3]), "\n".join(lines)

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def cmd(self, text):
        self.send(text if isinstance(text, bytes) else text.encode() + b"\r\n")
        return self.reply()

    def closed(self, timeout=10):
        """True when the server closes the connection (after any replies)."""
        self.s.settimeout(timeout)
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return True
                self.buf += d
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


def greeted(inst, source="127.0.0.1", helo="client.example"):
    c = Client(inst.port, source)
    code, text = c.reply()
    assert code == 220, text
    code, text = c.cmd(f"EHLO {helo}")
    assert code == 250, text
    return c


def queue_files(inst):
    return [f for d in ("incoming", "active", "deferred", "hold")
            for _, _, fs in os.walk(os.path.join(inst.queue, d)) for f in fs]


def daemon_pids(inst, name):
    """The instance's processes running program name."""
    pids = []
    for pid in processes_with_env("POSTERN_CONFIG_DIR", inst.dir):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == name:
                    pids.append(pid)
        except OSError:
            pass
    return pids


def signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def messages(inst, user):
    return [read_bytes(p) for p in maildir_files(spool_maildir(inst, user))]


# -- the normal path -------------------------------------------------------

def test_smtplib_delivers_locally_with_received_and_log_lines(inst):
    ensure_user("pt-alice")
    host = started(inst)
    s = smtplib.SMTP(local_hostname="client.example", timeout=15)
    assert s.connect("127.0.0.1", inst.port) == (220, f"{host} ESMTP postern".encode())
    s.ehlo("client.example")
    assert s.mail("sender@example.org") == (250, b"2.1.0 Ok")
    assert s.rcpt(f"pt-alice@{host}") == (250, b"2.1.5 Ok")
    code, text = s.data(b"Subject: hello\r\n\r\nline one\r\n.dot line\r\nlast\r\n")
    assert code == 250, text
    m = re.fullmatch(rb"2\.0\.0 Ok: queued as (\w+)", text)
    assert m, text
    qid = m.group(1).decode()
    s.quit()
    [path] = wait_mail(inst, "pt-alice")
    msg = read_bytes(path)
    assert re.search(rf"\nReceived: from client\.example \(localhost \[127\.0\.0\.1\]\)\n"
                     rf"\tby {re.escape(host)} \(postern\) with ESMTP id {qid}\n"
                     rf"\tfor <pt-alice@{re.escape(host)}>; \w{{3}}, \d\d \w{{3}} \d{{4}} "
                     rf"\d\d:\d\d:\d\d [+-]\d{{4}} \(\w+\)\n".encode(), msg), msg
    assert msg.startswith(b"Return-Path: <sender@example.org>\n")
    assert msg.endswith(b"\nSubject: hello\n\nline one\n.dot line\nlast\n"), msg
    inst.wait_log("disconnect from localhost[127.0.0.1]")
    log = inst.log()
    assert re.search(r"postern/smtpd\[\d+\]: connect from localhost\[127\.0\.0\.1\]$", log, re.M), log
    assert re.search(rf"postern/smtpd\[\d+\]: {qid}: client=localhost\[127\.0\.0\.1\]$", log, re.M)
    assert re.search(r"postern/smtpd\[\d+\]: disconnect from localhost\[127\.0\.0\.1\] "
                     r"ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5$", log, re.M), log
    assert queue_files(inst) == []


def test_ehlo_keywords_and_greeting(inst):
    host = started(inst)
    s = smtplib.SMTP("127.0.0.1", inst.port, local_hostname="client.example", timeout=15)
    code, text = s.ehlo()
    assert code == 250 and text.decode().splitlines()[0] == host
    f = s.esmtp_features
    for kw in ("pipelining", "size", "enhancedstatuscodes", "8bitmime", "smtputf8", "dsn", "chunking"):
        assert kw in f, (kw, f)
    assert f["size"] == "10240000"
    for kw in ("vrfy", "starttls", "auth"):
        assert kw not in f, (kw, f)
    assert s.helo("client.example") == (250, host.encode())
    assert s.noop() == (250, b"2.0.0 Ok")
    assert s.rset() == (250, b"2.0.0 Ok")
    assert s.verify("root") == (502, b"5.5.1 VRFY command is disabled")
    assert s.docmd("HELP") == (502, b"5.5.2 Error: command not recognized")
    assert s.quit() == (221, b"2.0.0 Bye")


def test_swaks_with_pipelining_and_dsn(inst):
    ensure_user("pt-alice")
    host = started(inst)
    r = subprocess.run(["swaks", "--server", f"127.0.0.1:{inst.port}", "--helo", "swaks.example",
                        "--from", "someone@example.org", "--to", f"pt-alice@{host}", "--pipeline",
                        "--header", "Subject: via swaks", "--body", "swaks body",
                        "--timeout", "15"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"<[-~]*\s+250 2\.0\.0 Ok: queued as \w+", r.stdout), r.stdout
    [path] = wait_mail(inst, "pt-alice")
    assert b"Subject: via swaks" in read_bytes(path)
    # DSN parameters end up in the queue file's envelope; a NOTIFY=SUCCESS
    # recipient gets a success notice
    s = smtplib.SMTP("127.0.0.1", inst.port, local_hostname="c.example", timeout=15)
    s.ehlo()
    assert s.mail(f"pt-alice@{host}", ["RET=HDRS", "ENVID=env+2Bid"])[0] == 250
    assert s.rcpt(f"pt-alice@{host}", ["NOTIFY=SUCCESS", f"ORCPT=rfc822;orig+40{host}"])[0] == 250
    assert s.data(b"Subject: dsn\r\n\r\nx\r\n")[0] == 250
    s.quit()
    msgs = wait_mail(inst, "pt-alice", count=3)
    dsn = [read_bytes(p) for p in msgs if b"report-type=delivery-status" in read_bytes(p)]
    assert dsn, [read_bytes(p)[:300] for p in msgs]
    assert b"Original-Envelope-Id: env+id" in dsn[0], dsn[0]
    assert f"Original-Recipient: rfc822;orig@{host}".encode() in dsn[0], dsn[0]


# -- pipelining ------------------------------------------------------------

def test_pipelined_transaction_in_one_write(inst):
    ensure_user("pt-alice")
    ensure_user("pt-bob")
    host = started(inst)
    c = greeted(inst)
    c.send(f"MAIL FROM:<a@example.org>\r\nRCPT TO:<pt-alice@{host}>\r\nRCPT TO:<pt-bob@{host}>\r\n"
           f"RCPT TO:<nobody-here@{host}>\r\nDATA\r\n")
    assert [c.reply()[0] for _ in range(5)] == [250, 250, 250, 550, 354]
    c.send(b"Subject: piped\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    code, text = c.reply()
    assert code == 250 and "queued as" in text, text
    assert c.reply()[0] == 221
    wait_mail(inst, "pt-alice")
    [path] = wait_mail(inst, "pt-bob")
    # two recipients: no "for <...>" in Received:
    assert re.search(rb"\n\tby \S+ \(postern\) with ESMTP id \w+;\n\t\w{3}, ", read_bytes(path))
    inst.wait_log("disconnect from localhost[127.0.0.1]")
    log = inst.log()
    assert f"NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 550 5.1.1 <nobody-here@{host}>: " \
           f"Recipient address rejected: User unknown in local recipient table; from=<a@example.org> " \
           f"to=<nobody-here@{host}> proto=ESMTP helo=<client.example>" in log, log
    assert "ehlo=1 mail=1 rcpt=2/3 data=1 quit=1 commands=6/7" in log


def test_pipelining_violations_disconnect(inst):
    ensure_user("pt-alice")
    host = started(inst)
    # content sent with DATA, before the 354
    c = greeted(inst)
    c.send(f"MAIL FROM:<a@example.org>\r\nRCPT TO:<pt-alice@{host}>\r\nDATA\r\nSubject: x\r\n\r\nx\r\n.\r\n")
    assert [c.reply()[0] for _ in range(3)] == [250, 250, 554]
    assert c.closed()
    inst.wait_log("improper command pipelining after DATA from localhost[127.0.0.1]: Subject: x")
    # pipelining after HELO (PIPELINING was not offered)
    c = Client(inst.port)
    c.reply()
    c.cmd("HELO client.example")
    c.send(f"MAIL FROM:<a@example.org>\r\nRCPT TO:<pt-alice@{host}>\r\n")
    code, text = c.reply()
    assert (code, text) == (554, "554 5.5.0 Error: SMTP protocol synchronization")
    assert c.closed()
    # talking before the greeting: the idle smtpd processes are stopped
    # while the client connects and talks, so its input is there before
    # one of them greets (if master forks a new one, that one is slower)
    pids = wait_for(lambda: daemon_pids(inst, "smtpd"), what="an idle smtpd")
    signal_all(pids, signal.SIGSTOP)
    try:
        c = Client(inst.port)
        c.send(b"EHLO early.example\r\n")
        time.sleep(0.1)
    finally:
        signal_all(pids, signal.SIGCONT)
    code, text = c.reply()
    assert code == 554, text
    assert c.closed()
    inst.wait_log("improper command pipelining after CONNECT from localhost[127.0.0.1]")
    assert queue_files(inst) == []
    assert messages(inst, "pt-alice") == []


def test_bdat_chunks(inst):
    ensure_user("pt-alice")
    host = started(inst)
    c = greeted(inst)
    one = b"Subject: chunked\r\n\r\nfirst part\r\n.\r\nMAIL FROM:<evil@example.org>\r\n"
    two = b"RCPT TO:<root@x>\r\nDATA\r\n.. two dots\r\nend\r\n"
    c.send(f"MAIL FROM:<a@example.org> BODY=8BITMIME\r\nRCPT TO:<pt-alice@{host}>\r\n".encode()
           + b"BDAT %d\r\n" % len(one) + one + b"BDAT %d LAST\r\n" % len(two) + two + b"QUIT\r\n")
    replies = [c.reply() for _ in range(5)]
    assert [r[0] for r in replies] == [250, 250, 250, 250, 221], replies
    assert replies[2][1] == f"250 2.0.0 Ok: {len(one)} bytes"
    assert re.fullmatch(r"250 2\.0\.0 Ok: queued as \w+", replies[3][1]), replies
    [path] = wait_mail(inst, "pt-alice")
    msg = read_bytes(path)
    # chunk bytes are content, never commands; no dot-unstuffing in BDAT
    assert msg.endswith(b"\nSubject: chunked\n\nfirst part\n.\nMAIL FROM:<evil@example.org>\n"
                        b"RCPT TO:<root@x>\nDATA\n.. two dots\nend\n"), msg
    inst.wait_log("bdat=2 quit=1 commands=6")
    # BDAT 0 LAST ends an empty message; a BDAT without recipients is read and dropped
    c = greeted(inst)
    assert c.cmd("MAIL FROM:<>")[0] == 250
    code, text = c.cmd(b"BDAT 6 LAST\r\nQUIT\r\n")
    assert code == 554, text
    assert c.cmd("RCPT TO:<pt-alice@%s>" % host)[0] == 250
    code, text = c.cmd("BDAT 0 LAST")
    assert code == 250 and "queued as" in text, text
    wait_mail(inst, "pt-alice", count=2)


def test_data_restrictions_apply_to_bdat(inst):
    # as Postfix: smtpd_data_restrictions are evaluated at the first BDAT;
    # the refusal answers that chunk and every later one, each read first
    ensure_user("pt-alice")
    host = started(inst, "smtpd_data_restrictions=check_sender_access inline:{ nodata@example.org=REJECT }")
    c = greeted(inst)
    one, two = b"Subject: x\r\n\r\n", b"body\r\n"
    c.send(f"MAIL FROM:<nodata@example.org>\r\nRCPT TO:<pt-alice@{host}>\r\n".encode()
           + b"BDAT %d\r\n" % len(one) + one + b"BDAT %d LAST\r\n" % len(two) + two + b"NOOP\r\n")
    replies = [c.reply() for _ in range(5)]
    assert [r[0] for r in replies] == [250, 250, 554, 554, 250], replies
    assert "rejected" in replies[2][1], replies[2]
    inst.wait_log("reject: BDAT from")
    assert queue_files(inst) == []
    # the same client with another sender goes through
    assert c.cmd("MAIL FROM:<fine@example.org>")[0] == 250
    assert c.cmd(f"RCPT TO:<pt-alice@{host}>")[0] == 250
    code, text = c.cmd(b"BDAT 9 LAST\r\nSubject:\r\n")
    assert code == 250 and "queued as" in text, text


# -- relay control ---------------------------------------------------------

RELAY_TRICKS = [
    # (RCPT address, expected reply code)
    ("user@other.example", 554),
    ("user%other.example@{dom}", 550),
    ("other.example!user@{dom}", 550),
    ("@{dom}:user@other.example", 554),
    ("@{dom},@other.example:user@third.example", 554),
    ('"user@other.example"@{dom}', 550),
    ('"user%other.example"@{dom}', 550),
    ('"other.example!user"@{dom}', 550),
    ('"user\\@other.example"@{dom}', 550),
    ("user@other.example@{dom}", 501),
    ("user@[1.2.3.4]", 554),
    ("user@[IPv6:2001:db8::1]", 554),
    ("user@[127.0.0.1]", 554),
    ("user%other.example@[127.0.0.1]", 554),
    ("user@{dom}.other.example", 554),
    ("user@evil{dom}", 554),
    ("user@other.example.", 554),
    ("USER@OTHER.EXAMPLE", 554),
    ("user%other.example@relay.example", 554),
    ("other.example!user@relay.example", 554),
    ('"user@other.example"@relay.example', 554),
]


def test_open_relay_tricks_refused_from_outside(inst):
    host = started(inst, "mynetworks=127.0.0.1/32", "relay_domains=relay.example",
                   "smtpd_error_sleep_time=0", "smtpd_hard_error_limit=100")
    c = greeted(inst, source=OUTSIDE)
    # a local sender grants nothing
    assert c.cmd(f"MAIL FROM:<postmaster@{host}>")[0] == 250
    for trick, want in RELAY_TRICKS:
        addr = trick.format(dom=host)
        code, text = c.cmd(f"RCPT TO:<{addr}>")
        assert code == want, (addr, text)
        if want == 554:
            assert re.fullmatch(r"554 5\.7\.1 <.*>: Relay access denied", text), text
    code, text = c.cmd("DATA")
    assert (code, text) == (554, "554 5.5.1 Error: no valid recipients")
    # relay_domains itself is fine from outside; so is a local user
    assert c.cmd("RCPT TO:<someone@relay.example>")[0] == 250
    assert c.cmd(f"RCPT TO:<root@{host}>")[0] == 250
    assert c.cmd("QUIT")[0] == 221
    inst.wait_log(f"disconnect from unknown[{OUTSIDE}]")
    log = inst.log()
    assert f"NOQUEUE: reject: RCPT from unknown[{OUTSIDE}]: 554 5.7.1 <user@other.example>: " \
           f"Relay access denied; from=<postmaster@{host}> to=<user@other.example> proto=ESMTP " \
           f"helo=<client.example>" in log, log
    assert queue_files(inst) == []


def test_relay_from_mynetworks_is_queued(inst):
    host = started(inst, "mynetworks=127.0.0.1/32")
    c = greeted(inst)
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<user@other.example>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    code, text = c.cmd(b"Subject: relayed\r\n\r\nx\r\n.\r\n")
    assert code == 250 and "queued as" in text, text
    c.cmd("QUIT")
    # no smtp client yet: it waits in the queue
    wait_for(lambda: queue_files(inst), what="the relayed message in the queue")


def test_unknown_local_user_and_sequence_errors(inst):
    host = started(inst)
    c = Client(inst.port)
    c.reply()
    assert c.cmd("MAIL FROM:<a@example.org>") == (503, "503 5.5.1 Error: send HELO/EHLO first")
    c.cmd("EHLO client.example")
    assert c.cmd(f"RCPT TO:<root@{host}>") == (503, "503 5.5.1 Error: need MAIL command")
    assert c.cmd("DATA") == (503, "503 5.5.1 Error: need RCPT command")
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd(f"RCPT TO:<no-such-user@{host}>") == (
        550, f"550 5.1.1 <no-such-user@{host}>: Recipient address rejected: "
             "User unknown in local recipient table")
    assert c.cmd("DATA") == (554, "554 5.5.1 Error: no valid recipients")
    assert c.cmd("QUIT")[0] == 221
    inst.wait_log("disconnect from localhost[127.0.0.1]")
    log = inst.log()
    assert "ehlo=1 mail=1/2 rcpt=0/2 data=0/2 quit=1 commands=3/8" in log, log


# -- bad input -------------------------------------------------------------

def test_nul_8bit_and_long_lines(inst):
    started(inst)
    c = greeted(inst)
    assert c.cmd(b"NOOP\x00\r\n") == (500, "500 5.5.2 Error: NUL character in command")
    assert c.cmd(b"NOOP \xe9t\xe9\r\n") == (500, "500 5.5.2 Error: 8-bit data in command")
    assert c.cmd(b"MAIL FROM:<\xc3\xa9@example.org>\r\n")[0] == 553
    assert c.cmd(b"NOOP " + b"x" * 100000 + b"\r\n") == (500, "500 5.5.2 Error: line too long")
    assert c.cmd("NOOP") == (250, "250 2.0.0 Ok")
    assert c.cmd("QUIT")[0] == 221


def test_thousands_of_recipients(inst):
    host = started(inst)
    c = greeted(inst)
    n = 1005
    c.send(b"MAIL FROM:<a@example.org>\r\n" + f"RCPT TO:<root@{host}>\r\n".encode() * n)
    codes = [c.reply() for _ in range(n + 1)]
    assert [x[0] for x in codes[:1001]] == [250] * 1001
    assert codes[1001:] == [(452, "452 4.5.3 Error: too many recipients")] * 5
    assert c.cmd("QUIT")[0] == 221


def test_message_size_limit(inst):
    ensure_user("pt-alice")
    host = started(inst, "message_size_limit=2000")
    c = greeted(inst)
    assert c.cmd("MAIL FROM:<a@example.org> SIZE=5000") == (
        552, "552 5.3.4 Message size exceeds fixed limit")
    assert c.cmd("MAIL FROM:<a@example.org> SIZE=1000")[0] == 250
    assert c.cmd(f"RCPT TO:<pt-alice@{host}>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    assert c.cmd(b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 100 + b".\r\n") == (
        552, "552 5.3.4 Error: message file too big")
    assert c.cmd("QUIT")[0] == 221
    # cleanup removes the file it had started when smtpd aborts
    wait_for(lambda: queue_files(inst) == [], timeout=5, what="an empty queue")
    assert messages(inst, "pt-alice") == []


SMUGGLING = [b"\n.\n", b"\n.\r", b"\r.\n", b"\r.\r", b"\n.\r\n", b"\r.\r\n", b"\r\n.\n",
             b"\r\n.\r", b"\r\n\x00.\r\n", b"\r\n.\x00\r\n", b"\r\n.\r\r\n", b"\r\r\n.\r\r\n"]


def smuggle(inst, host, seq, source):
    c = greeted(inst, source=source)
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd(f"RCPT TO:<pt-alice@{host}>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send(b"Subject: one\r\n\r\nbody" + seq + b"MAIL FROM:<evil@example.org>\r\n"
           + f"RCPT TO:<pt-alice@{host}>\r\n".encode() + b"DATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n")
    code, text = c.reply()
    c.send(b"QUIT\r\n")
    rest = []
    try:
        while True:
            rest.append(c.reply()[0])
    except (EOFError, ConnectionResetError):
        pass
    c.close()
    return code, text, rest


def test_smtp_smuggling_sequences(inst):
    ensure_user("pt-alice")
    host = started(inst, "mynetworks=127.0.0.1/32")
    accepted = 0
    for seq in SMUGGLING:
        code, text, rest = smuggle(inst, host, seq, OUTSIDE)
        # one final reply for the one transaction, then QUIT's
        assert rest == [221], (seq, rest)
        if b"\x00" in seq:
            assert code == 250, (seq, text)	# NUL is content: one message
            accepted += 1
        else:
            assert code == 550 and re.fullmatch(r"550 5\.5\.2 Error: bare <(LF|CR)> received", text), \
                (seq, text)
    msgs = wait_mail(inst, "pt-alice", count=accepted)
    time.sleep(0.5)
    msgs = messages(inst, "pt-alice")
    assert len(msgs) == accepted
    for m in msgs:
        head = m.split(b"\n\n", 1)[0]
        assert b"Subject: smuggled" not in head and b"Subject: one" in head, m
        assert b"Subject: smuggled" in m	# the smuggled text is only body
    # from mynetworks bare LF is normalized: still one message, never two
    code, text, rest = smuggle(inst, host, b"\n.\n", "127.0.0.1")
    assert code == 250 and rest == [221], (text, rest)
    wait_mail(inst, "pt-alice", count=accepted + 1)
    assert len(re.findall(r"reject: END-OF-MESSAGE from unknown\[127\.0\.0\.2\]: 550 5\.5\.2",
                          inst.log())) == len(SMUGGLING) - accepted


def test_smuggling_inside_bdat(inst):
    ensure_user("pt-alice")
    host = started(inst, "mynetworks=127.0.0.1/32")
    c = greeted(inst, source=OUTSIDE)
    chunk = b"Subject: one\r\n\r\nbody\n.\nMAIL FROM:<evil@example.org>\r\n.\r\n"
    c.send(f"MAIL FROM:<a@example.org>\r\nRCPT TO:<pt-alice@{host}>\r\n".encode()
           + b"BDAT %d LAST\r\n" % len(chunk) + chunk + b"QUIT\r\n")
    replies = [c.reply() for _ in range(4)]
    assert replies[2] == (550, "550 5.5.2 Error: bare <LF> received"), replies
    assert replies[3][0] == 221
    time.sleep(0.5)
    assert messages(inst, "pt-alice") == [] and queue_files(inst) == []


def test_bare_lf_in_commands(inst):
    started(inst, "mynetworks=127.0.0.1/32")
    c = Client(inst.port, OUTSIDE)
    c.reply()
    assert c.cmd(b"EHLO x\n") == (550, "550 5.5.2 Error: bare <LF> received")
    assert c.cmd(b"EHLO x\r\n")[0] == 250
    c.close()
    c = Client(inst.port)	# mynetworks: normalized
    c.reply()
    assert c.cmd(b"EHLO x\n")[0] == 250
    c.close()


# -- slow, silent and vanishing clients ---------------------------------------

def test_timeout_and_slow_client(inst):
    started(inst, "smtpd_timeout=2s")
    c = Client(inst.port)
    c.reply()
    # one byte every half second is slow but within smtpd_timeout per read
    for b in b"NOOP\r\n":
        c.send(bytes([b]))
        time.sleep(0.5)
    assert c.reply() == (250, "250 2.0.0 Ok")
    # then silence
    t0 = time.monotonic()
    code, text = c.reply()
    assert (code, text) == (421, f"421 4.4.2 {myhostname(inst)} Error: timeout exceeded")
    assert 1.5 < time.monotonic() - t0 < 6
    assert c.closed()
    inst.wait_log("timeout after NOOP from localhost[127.0.0.1]")


def test_per_record_deadline_stops_trickle(inst):
    started(inst, "smtpd_timeout=2s", "smtpd_per_record_deadline=yes")
    c = Client(inst.port)
    c.reply()
    t0 = time.monotonic()
    for _ in range(40):		# one byte every quarter second, never a whole line
        if select.select([c.s], [], [], 0)[0]:
            break
        c.send(b"x")
        time.sleep(0.25)
    code, text = c.reply()
    assert code == 421 and text.endswith("Error: timeout exceeded"), text
    assert time.monotonic() - t0 < 5
    inst.wait_log("timeout after CONNECT from localhost[127.0.0.1]")


def test_disconnect_mid_data_queues_nothing(inst):
    ensure_user("pt-alice")
    host = started(inst)
    c = greeted(inst)
    c.cmd("MAIL FROM:<a@example.org>")
    c.cmd(f"RCPT TO:<pt-alice@{host}>")
    assert c.cmd("DATA")[0] == 354
    c.send(b"Subject: cut\r\n\r\n" + b"half a message\r\n" * 100)
    time.sleep(0.2)
    c.close()
    inst.wait_log("lost connection after DATA (1616 bytes) from localhost[127.0.0.1]")
    inst.wait_log("disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=0/1 commands=3/4")
    wait_for(lambda: queue_files(inst) == [], timeout=5, what="an empty queue")
    assert messages(inst, "pt-alice") == []
    # the server is fine afterwards
    s = smtplib.SMTP("127.0.0.1", inst.port, timeout=15)
    s.sendmail("a@example.org", [f"pt-alice@{host}"], b"Subject: whole\r\n\r\nx\r\n")
    s.quit()
    wait_mail(inst, "pt-alice")




def test_cleanup_failure_is_451_never_250(inst):
    ensure_user("pt-alice")
    host = started(inst)
    # cleanup cannot create the queue file: DATA itself is refused
    incoming = os.path.join(inst.queue, "incoming")
    os.chmod(incoming, 0)
    try:
        c = greeted(inst)
        c.cmd("MAIL FROM:<a@example.org>")
        c.cmd(f"RCPT TO:<pt-alice@{host}>")
        assert c.cmd("DATA") == (451, "451 4.3.0 Error: queue file write error")
        assert c.cmd("QUIT")[0] == 221
    finally:
        os.chmod(incoming, 0o700)
    # cleanup dies while the content arrives: 451, and nothing is queued
    c = greeted(inst)
    c.cmd("MAIL FROM:<a@example.org>")
    c.cmd(f"RCPT TO:<pt-alice@{host}>")
    assert c.cmd("DATA")[0] == 354
    c.send(b"Subject: doomed\r\n\r\n" + b"y" * 100 + b"\r\n")
    signal_all(wait_for(lambda: daemon_pids(inst, "cleanup"), what="a cleanup process"),
               signal.SIGKILL)
    c.send((b"z" * 998 + b"\r\n") * 200 + b".\r\n")
    code, text = c.reply()
    assert code == 451 and text.startswith("451 4.3.0 Error: "), text
    assert c.cmd("QUIT")[0] == 221
    time.sleep(0.5)
    committed = [f for d in ("incoming", "active", "deferred")
                 for root, _, fs in os.walk(os.path.join(inst.queue, d)) for f in fs
                 if os.stat(os.path.join(root, f)).st_mode & 0o777 == 0o700]
    assert committed == []
    assert messages(inst, "pt-alice") == []


def test_hard_error_limit(inst):
    started(inst, "smtpd_error_sleep_time=0")
    c = greeted(inst)
    for _ in range(20):
        assert c.cmd("BOGUS")[0] == 502
    code, text = c.reply()
    assert code == 421 and text.endswith("Error: too many errors"), text
    assert c.closed()
    inst.wait_log("too many errors after UNKNOWN from localhost[127.0.0.1]")


# -- sendmail -bs ----------------------------------------------------------

class Pipe:
    """An SMTP dialogue with sendmail -bs over its stdin and stdout."""

    def __init__(self, inst, user=None, groups=None):
        argv = [os.path.join(inst.stage, "bin", "sendmail"), "-bs"]
        if user:
            import pwd
            pw = pwd.getpwnam(user)
            grp_opt = f"--groups={','.join(str(g) for g in groups)}" if groups else "--clear-groups"
            argv = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", grp_opt, *argv]
        env = {k: v for k, v in os.environ.items() if k != "POSTERN_CONFIG_DIR"}
        env["POSTERN_CONFIG_DIR"] = inst.dir
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env, cwd="/")

    def reply(self):
        lines = []
        while True:
            line = self.p.stdout.readline()
            assert line.endswith(b"\r\n"), (line, lines)
            lines.append(line[:-2].decode())
            if line[3:4] != b"-":
                return int(line[:3]), "\n".join(lines)

    def cmd(self, text):
        self.p.stdin.write(text.encode() + b"\r\n")
        self.p.stdin.flush()
        return self.reply()

    def finish(self):
        self.p.stdin.close()
        rc = self.p.wait(timeout=30)
        return rc, self.p.stderr.read()


def test_sendmail_bs_delivers_locally(inst):
    ensure_user("pt-alice")
    host = started(inst)
    p = Pipe(inst)
    code, text = p.reply()
    assert code == 220 and text == f"220 {host} ESMTP postern", text
    assert p.cmd("EHLO localhost")[0] == 250
    assert p.cmd("MAIL FROM:<root>")[0] == 250
    assert p.cmd(f"RCPT TO:<pt-alice@{host}>")[0] == 250
    assert p.cmd("DATA")[0] == 354
    # local: bare LF is a line end (normalize); only CRLF.CRLF ends the message
    p.p.stdin.write(b"Subject: over a pipe\r\n\r\nbare LF\n.\nis fine here\r\n.\r\n")
    p.p.stdin.flush()
    code, text = p.reply()
    assert code == 250 and "queued" in text, text
    assert p.cmd("QUIT")[0] == 221
    rc, err = p.finish()
    assert rc == 0, err
    [path] = wait_mail(inst, "pt-alice")
    msg = read_bytes(path)
    assert re.search(rb"\nReceived: by \S+ \(postern, from userid 0\)\n\tid \w+; ", msg), msg
    assert f"\nFrom: root@{host}\n".encode() in msg and b"\nMessage-Id: <" in msg
    assert msg.endswith(b"\n\nbare LF\n\nis fine here\n"), msg
    assert b"\nSubject: over a pipe\n" in msg


def test_sendmail_bs_as_an_ordinary_user(inst):
    """Symfony, Laravel and Alpine run sendmail -bs as the web or mail user:
    the message goes through postdrop (set-gid setgid_group when installed;
    here the group is given with setpriv), never through public/cleanup."""
    import grp
    ensure_user("pt-alice")
    host = started(inst)
    drop_gid = grp.getgrnam("postdrop").gr_gid
    p = Pipe(inst, user="nobody", groups=[drop_gid])
    assert p.reply()[0] == 220
    assert p.cmd("EHLO localhost")[0] == 250
    assert p.cmd("MAIL FROM:<nobody>")[0] == 250
    assert p.cmd(f"RCPT TO:<pt-alice@{host}> NOTIFY=NEVER")[0] == 250
    assert p.cmd("DATA")[0] == 354
    p.p.stdin.write(b"Subject: from php\r\n\r\nhello\r\n.\r\n")
    p.p.stdin.flush()
    code, text = p.reply()
    assert code == 250, text
    assert p.cmd("QUIT")[0] == 221
    rc, err = p.finish()
    assert rc == 0, err
    [path] = wait_mail(inst, "pt-alice")
    msg = read_bytes(path)
    uid = __import__("pwd").getpwnam("nobody").pw_uid
    assert re.search(rb"\nReceived: by \S+ \(postern, from userid %d\)\n" % uid, msg), msg
    assert msg.endswith(b"\n\nhello\n")
    # without the group, postdrop cannot write maildrop/: a clear 451
    p = Pipe(inst, user="nobody")
    assert p.reply()[0] == 220
    assert p.cmd("HELO localhost")[0] == 250
    assert p.cmd("MAIL FROM:<nobody>")[0] == 250
    assert p.cmd(f"RCPT TO:<pt-alice@{host}>")[0] == 250
    assert p.cmd("DATA")[0] == 354
    p.p.stdin.write(b"Subject: x\r\n\r\nx\r\n.\r\n")
    p.p.stdin.flush()
    assert p.reply()[0] == 451
    assert p.cmd("QUIT")[0] == 221
    p.finish()


# -- restriction lists -------------------------------------------------------

ACCESS = """reject@far.example   REJECT go away
hold@far.example     HOLD
discard@far.example  DISCARD
busy@far.example     451 4.7.0 try again later
"""


def send_one(c, rcpt, body=b"Subject: t\r\n\r\nx\r\n.\r\n"):
    """MAIL, RCPT and DATA on a greeted client; returns the final reply."""
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    code, text = c.cmd(f"RCPT TO:<{rcpt}>")
    assert code == 250, text
    assert c.cmd("DATA")[0] == 354
    return c.cmd(body)


def files_in(inst, d):
    return [f for _, _, fs in os.walk(os.path.join(inst.queue, d)) for f in fs]


@pytest.mark.parametrize("typ", ["hash", "texthash"])
def test_check_recipient_access(inst, typ):
    inst.init()
    inst.write("access", ACCESS)
    path = os.path.join(inst.dir, "access")
    if typ == "hash":
        inst.cmd("map", f"hash:{path}")
    inst.cmd("conf", "-e", "mynetworks=127.0.0.1/32", "smtpd_error_sleep_time=0",
             f"smtpd_recipient_restrictions=check_recipient_access {typ}:{path}")
    inst.start()
    c = greeted(inst)
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<reject@far.example>") == (
        554, "554 5.7.1 <reject@far.example>: Recipient address rejected: go away")
    assert c.cmd("RCPT TO:<busy@far.example>") == (
        451, "451 4.7.0 <busy@far.example>: Recipient address rejected: try again later")
    assert c.cmd("RSET")[0] == 250
    # DISCARD: the client hears "queued", nothing is
    code, text = send_one(c, "discard@far.example")
    assert code == 250 and "queued as" in text, text
    # HOLD: the message waits in hold/
    code, text = send_one(c, "hold@far.example")
    assert code == 250 and "queued as" in text, text
    qid = text.rsplit(" ", 1)[1]
    assert c.cmd("QUIT")[0] == 221
    inst.wait_log("disconnect from localhost[127.0.0.1]")
    wait_for(lambda: files_in(inst, "hold"), what="the held message")
    assert files_in(inst, "hold") == [qid]
    time.sleep(0.5)
    assert queue_files(inst) == [qid], queue_files(inst)
    log = inst.log()
    assert "NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 554 5.7.1 <reject@far.example>: " \
           "Recipient address rejected: go away; from=<a@example.org> to=<reject@far.example> " \
           "proto=ESMTP helo=<client.example>" in log, log
    assert "NOQUEUE: discard: RCPT from localhost[127.0.0.1]: <discard@far.example>: Recipient " \
           "address triggers DISCARD action; from=<a@example.org> to=<discard@far.example>" in log, log
    assert "NOQUEUE: hold: RCPT from localhost[127.0.0.1]: <hold@far.example>: Recipient " \
           "address triggers HOLD action;" in log, log


def test_check_client_access_by_address(inst):
    inst.init()
    inst.write("clients", f"{OUTSIDE}  REJECT no mail from you\n")
    path = os.path.join(inst.dir, "clients")
    inst.cmd("conf", "-e", "mynetworks=127.0.0.1/32", "smtpd_error_sleep_time=0",
             f"smtpd_client_restrictions=check_client_access texthash:{path}")
    inst.start()
    host = myhostname(inst)
    c = greeted(inst, source=OUTSIDE)
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd(f"RCPT TO:<root@{host}>") == (
        554, f"554 5.7.1 <unknown[{OUTSIDE}]>: Client host rejected: no mail from you")
    c.cmd("QUIT")
    c = greeted(inst)
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd(f"RCPT TO:<root@{host}>")[0] == 250
    c.cmd("QUIT")
    inst.wait_log("disconnect from localhost[127.0.0.1]")
    assert f"NOQUEUE: reject: RCPT from unknown[{OUTSIDE}]: 554 5.7.1 <unknown[{OUTSIDE}]>: " \
           f"Client host rejected: no mail from you; from=<a@example.org> to=<root@{host}> " \
           f"proto=ESMTP helo=<client.example>" in inst.log()


def test_helo_restrictions_invalid_hostname(inst):
    host = started(inst, "smtpd_error_sleep_time=0",
                   "smtpd_helo_restrictions=reject_invalid_helo_hostname")
    c = greeted(inst, helo="bad_host!")
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd(f"RCPT TO:<root@{host}>") == (
        501, "501 5.5.2 <bad_host!>: Helo command rejected: Invalid name")
    c.cmd("QUIT")
    c = greeted(inst, helo="good.example")
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd(f"RCPT TO:<root@{host}>")[0] == 250
    c.cmd("QUIT")
    # smtpd_delay_reject = no: refused at EHLO itself
    inst.stop()
    inst.cmd("conf", "-e", "smtpd_delay_reject=no")
    inst.start()
    c = Client(inst.port)
    assert c.reply()[0] == 220
    assert c.cmd("EHLO bad_host!") == (501, "501 5.5.2 <bad_host!>: Helo command rejected: Invalid name")
    c.cmd("QUIT")


def test_default_restrictions_still_refuse_relay(inst):
    host = started(inst, "mynetworks=127.0.0.1/32", "smtpd_error_sleep_time=0")
    assert inst.cmd("conf", "-h", "smtpd_relay_restrictions").stdout.strip() == \
        "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination"
    c = greeted(inst, source=OUTSIDE)
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<user@other.example>") == (
        554, "554 5.7.1 <user@other.example>: Relay access denied")
    assert c.cmd(f"RCPT TO:<root@{host}>")[0] == 250
    c.cmd("QUIT")
    inst.wait_log(f"disconnect from unknown[{OUTSIDE}]")
    assert queue_files(inst) == []


def test_oversized_headers_are_bounded(inst):
    """A 300 KB header line and 20,000 header lines: accepted or refused with
    a clear reply, never a crash or a hang; what is delivered keeps its
    bytes, with the header block cut at header_size_limit (the rest is body)."""
    ensure_user("pt-alice")
    host = started(inst, "header_size_limit=10240")
    s = smtplib.SMTP("127.0.0.1", inst.port, local_hostname="client.example", timeout=30)
    long_line = b"X-Long: " + b"a" * 300000 + b"\r\n"
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(20000))
    for i, head in enumerate((long_line, many)):
        code, text = s.sendmail("sender@example.org", [f"pt-alice@{host}"],
                                head + b"Subject: big%d\r\n\r\nbody%d\r\n" % (i, i)) or (250, b"")
        assert code == 250
    s.quit()
    files = wait_mail(inst, "pt-alice", 2)
    for f in files:
        msg = read_bytes(f)
        hdr = msg.split(b"\n\n", 1)[0]
        assert len(hdr) <= 10240 + 4096, len(hdr)   # bounded header block
        assert re.search(rb"\nbody[01]\n$", msg)
    assert daemon_pids(inst, "smtpd") is not None


def test_hold_from_end_of_data_restrictions(inst):
    """HOLD decided at the end of the content still queues into hold/."""
    ensure_user("pt-alice")
    host = started(inst)
    inst.cmd("conf", "-e", "smtpd_end_of_data_restrictions=check_sender_access inline:{ holdme@example.org=HOLD }")
    inst.cmd("reload")
    s = smtplib.SMTP("127.0.0.1", inst.port, local_hostname="client.example", timeout=15)
    s.sendmail("holdme@example.org", [f"pt-alice@{host}"], b"Subject: held\r\n\r\nx\r\n")
    s.sendmail("other@example.org", [f"pt-alice@{host}"], b"Subject: free\r\n\r\nx\r\n")
    s.quit()
    wait_mail(inst, "pt-alice")
    time.sleep(1)
    assert len(maildir_files(os.path.join(inst.dir, "mail", "pt-alice"))) == 1
    held = os.listdir(os.path.join(inst.queue, "hold"))
    assert len(held) == 1
    assert b"Subject: held" in read_bytes(os.path.join(inst.queue, "hold", held[0]))
    inst.wait_log("hold: END-OF-MESSAGE")
