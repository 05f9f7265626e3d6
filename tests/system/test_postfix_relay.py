"""A real Postfix relaying into postern, and Postfix's smtp-source as a client.

A private Postfix instance (Debian's package, run with `postfix -c DIR` from a
temporary directory, the way bench/run-local runs it) has relayhost =
[127.0.0.1]:PORT pointing at postern's smtpd. Mail submitted with Postfix's
`sendmail -C DIR` goes Postfix pickup -> cleanup -> qmgr -> smtp client ->
postern smtpd -> cleanup -> qmgr -> local -> Maildir, and arrives intact with
both hops' Received: headers. Then smtp-source sends 20 messages over 5
parallel sessions straight to postern's smtpd, and all 20 are delivered.

Skipped when Postfix (or its smtp-source) is not installed: tools/install-deps
test installs it non-interactively (debconf "No configuration", no system
instance configured).
"""
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import (ensure_user, maildir_files, myhostname, needs_root, read_bytes,
                      wait_for, wait_mail)

POSTFIX = "/usr/sbin/postfix"
PF_SENDMAIL = "/usr/sbin/sendmail"
SMTP_SOURCE = "/usr/sbin/smtp-source"
PF_HOST = "pf-relay.example"


def postfix_missing():
    """Why the Postfix tests cannot run, or None."""
    for prog in (POSTFIX, PF_SENDMAIL, "/usr/sbin/postdrop", SMTP_SOURCE):
        if not os.access(prog, os.X_OK):
            return f"Postfix is not installed ({prog} missing; tools/install-deps test adds it)"
    for prog in (PF_SENDMAIL, "/usr/sbin/postdrop"):
        with open(prog, "rb") as f:
            if b"libpostfix" not in f.read():
                return f"{prog} is not Postfix's (postern installed over it?)"
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        return "no postfix user"
    return None


pytestmark = [needs_root,
              pytest.mark.skipif(postfix_missing() is not None,
                                 reason=postfix_missing() or "")]


class PrivatePostfix:
    """A Postfix instance with its own configuration, queue and data
    directories in a temporary directory; no chroot, and no SMTP listener
    unless master_extra adds one (main_extra settings override earlier ones)."""

    def __init__(self, relay_port, main_extra="", master_extra=""):
        self.top = tempfile.mkdtemp(prefix="postern-pf-")
        os.chmod(self.top, 0o755)
        self.dir = os.path.join(self.top, "etc")
        self.queue = os.path.join(self.top, "queue")
        data = os.path.join(self.top, "data")
        self.maillog = os.path.join(self.top, "maillog")
        for d in (self.dir, self.queue):
            os.makedirs(d, mode=0o755)
            os.chmod(d, 0o755)
        os.makedirs(data, mode=0o700)
        pf = pwd.getpwnam("postfix")
        os.chown(data, pf.pw_uid, pf.pw_gid)
        with open(os.path.join(self.dir, "main.cf"), "w") as f:
            f.write(f"""# private Postfix instance of postern's test_postfix_relay.py
compatibility_level = 3.6
queue_directory = {self.queue}
data_directory = {data}
myhostname = {PF_HOST}
mydomain = example
myorigin = $myhostname
mydestination =
local_recipient_maps =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:{relay_port}
alias_maps =
alias_database =
maillog_file = {self.maillog}
maillog_file_prefixes = {self.top}
smtp_tls_security_level = none
biff = no
""" + main_extra)
        src = "/usr/share/postfix/master.cf.dist"
        if not os.path.exists(src):
            src = "/etc/postfix/master.cf"
        out, skip = [], False
        with open(src) as f:
            for line in f:
                if not line.strip() or line.startswith("#"):
                    continue
                if line[0] in " \t":
                    if not skip:
                        out.append(line)
                    continue
                col = line.split()
                skip = len(col) < 8 or col[1] == "inet" or col[7] == "pipe"
                if skip:
                    continue
                col[4] = "n"		# no chroot
                out.append(" ".join(col[:8]) + ("" if len(col) == 8 else " " + " ".join(col[8:]))
                           + "\n")
        out.append(master_extra)
        with open(os.path.join(self.dir, "master.cf"), "w") as f:
            f.writelines(out)
        self.admin("check")
        self.admin("start")
        self.started = True

    def env(self):
        return {k: v for k, v in os.environ.items() if k != "MAIL_CONFIG"}

    def admin(self, *args, check=True):
        r = subprocess.run([POSTFIX, "-c", self.dir, *args], capture_output=True, text=True,
                           env=self.env(), cwd="/", timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"postfix {' '.join(args)} exited {r.returncode}\n"
                                 f"{r.stdout}{r.stderr}\n--- log:\n{self.log()}")
        return r

    def sendmail(self, *args, data=b""):
        return subprocess.run([PF_SENDMAIL, "-C", self.dir, *args], input=data,
                              capture_output=True, env=self.env(), cwd="/", timeout=60)

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def master_pid(self):
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return 0

    def cleanup(self):
        pid = self.master_pid()
        if self.started:
            self.admin("stop", check=False)
        deadline = time.monotonic() + 15
        while pid and os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        break
            except OSError:
                break
            time.sleep(0.1)
        shutil.rmtree(self.top, ignore_errors=True)


@pytest.fixture
def postfix(inst):
    inst.init()
    inst.start()
    pf = PrivatePostfix(inst.port)
    yield pf
    pf.cleanup()


def body_of(msg):
    return msg.split(b"\n\n", 1)[1]


def test_postfix_relays_into_postern(inst, postfix):
    ensure_user("pt-relay")
    host = myhostname(inst)
    body = (b"first line\n"
            b".a line that starts with a dot\n"
            b"..two dots\n"
            b".\n"
            b"tab\there, trailing space \n"
            + b"".join(b"%04d %s\n" % (i, b"x" * 70) for i in range(300))
            + b"last line\n")
    msg = (b"From: Relay Sender <sender@" + PF_HOST.encode() + b">\n"
           b"To: <pt-relay@" + host.encode() + b">\n"
           b"Subject: through Postfix into postern\n"
           b"Message-Id: <relay-test-1@" + PF_HOST.encode() + b">\n\n" + body)
    r = postfix.sendmail("-i", "-f", f"sender@{PF_HOST}", f"pt-relay@{host}", data=msg)
    assert r.returncode == 0, r.stderr
    try:
        [path] = wait_mail(inst, "pt-relay", timeout=60)
    except AssertionError as e:
        raise AssertionError(f"{e}\n--- postfix log:\n{postfix.log()}") from None
    got = read_bytes(path)
    head, got_body = got.split(b"\n\n", 1)
    assert got_body == body, got
    assert b"\nSubject: through Postfix into postern\n" in head
    assert b"\nMessage-Id: <relay-test-1@pf-relay.example>\n" in head
    assert got.startswith(b"Return-Path: <sender@pf-relay.example>\n"), got[:200]
    # Two hops, newest first: postern's (from Postfix's smtp client, whose
    # EHLO is its myhostname), then Postfix's own local-submission line.
    received = re.findall(rb"^Received: .*(?:\n\t.*)*", head, re.M)
    assert len(received) == 2, head
    assert re.match(rb"Received: from pf-relay\.example \(localhost \[127\.0\.0\.1\]\)\n"
                    rb"\tby " + re.escape(host.encode()) + rb" \(postern\) with ESMTP id \w+\n"
                    rb"\tfor <pt-relay@" + re.escape(host.encode()) + rb">; ", received[0]), \
        received[0]
    assert re.match(rb"Received: by pf-relay\.example \(Postfix, from userid 0\)\n\tid \w+; ",
                    received[1]), received[1]
    # Postfix logged the relay with postern's reply, postern the session.
    wait_for(lambda: re.search(r"status=sent \(250 2\.0\.0 Ok: queued as \w+\)", postfix.log()),
             10, what="Postfix's status=sent line")
    assert f"relay=127.0.0.1[127.0.0.1]:{inst.port}" in postfix.log(), postfix.log()
    inst.wait_log("disconnect from localhost[127.0.0.1]")
    assert re.search(r"postern/smtpd\[\d+\]: \w+: client=localhost\[127\.0\.0\.1\]$",
                     inst.log(), re.M), inst.log()


def test_smtp_source_twenty_messages_five_sessions(inst):
    ensure_user("pt-source")
    inst.init()
    inst.start()
    host = myhostname(inst)
    r = subprocess.run([SMTP_SOURCE, "-s", "5", "-m", "20", "-l", "3000", "-M", "source.example",
                        "-f", "sender@source.example", "-t", f"pt-source@{host}",
                        "-S", "smtp-source run", f"127.0.0.1:{inst.port}"],
                       capture_output=True, text=True, timeout=120, cwd="/")
    assert r.returncode == 0, r.stdout + r.stderr + inst.log()
    paths = wait_mail(inst, "pt-source", count=20, timeout=60)
    time.sleep(0.5)		# no duplicates come after the 20th
    paths = maildir_files(os.path.join(inst.dir, "mail", "pt-source"))
    assert len(paths) == 20, inst.log()
    bodies = set()
    for p in paths:
        m = read_bytes(p)
        assert m.startswith(b"Return-Path: <sender@source.example>\n"), m[:200]
        assert re.search(rb"\nReceived: from source\.example \(localhost \[127\.0\.0\.1\]\)\n",
                         m), m[:500]
        assert b"\nSubject: smtp-source run\n" in m
        # smtp-source's 3000-byte payload: numbered lines of X, CRLF-terminated
        # on the wire and LF in the Maildir
        b = body_of(m)
        assert re.fullmatch(rb"(?:\d*X+\n)+", b), b[:300]
        assert len(b) + b.count(b"\n") in (3000, 3001, 3002), (len(b), b.count(b"\n"))
        bodies.add(b)
    assert len(bodies) == 1		# the same payload every time
    log = inst.log()
    assert len(re.findall(r"postern/smtpd\[\d+\]: \w+: client=localhost\[127\.0\.0\.1\]$",
                          log, re.M)) == 20, log
    assert len(re.findall(r"postern/local\[\d+\]: .*status=sent", log)) == 20, log
