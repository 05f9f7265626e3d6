"""sendmail and postdrop, end to end, with the mail system stopped.

Every real caller's command line (cron, PHP, PHPMailer, mutt, git
send-email, s-nail, logwatch, Python) is run through the staged
bin/sendmail with a message on stdin; the file postdrop leaves in
maildrop/ is decoded (type byte, varint length, payload) and checked
record by record: sender, recipients, DSN attributes, and the content
bytes exactly (LF line ends, 8-bit intact, From_ line dropped, lone-dot
handling). Then the failure cases: exit codes from sysexits.h, and no
file left behind when the queue cannot take the message (unwritable,
full, RLIMIT_FSIZE). Finally s-nail and git send-email drive sendmail for
real when they are installed.
"""
import os
import pwd
import resource
import shutil
import subprocess

import pytest

from conftest import needs_root, wait_for

EX_USAGE, EX_DATAERR, EX_UNAVAILABLE, EX_TEMPFAIL, EX_NOPERM = 64, 65, 69, 75, 77


# -- running sendmail --------------------------------------------------------

def sendmail(inst, args, data=b"", name="sendmail", env=None, preexec_fn=None,
             config_env=True, timeout=30):
    """Runs the staged sendmail as inst's user, for inst's configuration
    (POSTERN_CONFIG_DIR unless config_env is false)."""
    argv = [os.path.join(inst.stage, "bin", name), *args]
    if inst.user:
        pw = pwd.getpwnam(inst.user)
        argv = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}",
                "--clear-groups", *argv]
    e = {k: v for k, v in os.environ.items() if k != "POSTERN_CONFIG_DIR"}
    if config_env:
        e["POSTERN_CONFIG_DIR"] = inst.dir
    e.update(env or {})
    return subprocess.run(argv, input=data, capture_output=True, env=e, timeout=timeout,
                          cwd="/", preexec_fn=preexec_fn)


def sendmail_ok(inst, args, data=b""):
    r = sendmail(inst, args, data)
    assert r.returncode == 0, f"sendmail {args} exited {r.returncode}: {r.stderr!r}"
    assert r.stdout == b"" and r.stderr == b"", (r.stdout, r.stderr)
    return r


# -- reading maildrop files --------------------------------------------------

def decode(data):
    """Records of a maildrop file: [(type, payload)]."""
    out, i = [], 0
    while i < len(data):
        rtype = chr(data[i])
        i += 1
        length, shift = 0, 0
        while True:
            b = data[i]
            i += 1
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        assert i + length <= len(data), "truncated record"
        out.append((rtype, data[i:i + length]))
        i += length
    return out


class Drop:
    """One maildrop file, parsed and checked for the documented order."""

    def __init__(self, path):
        self.path = path
        self.mode = os.stat(path).st_mode & 0o7777
        with open(path, "rb") as f:
            recs = decode(f.read())
        types = "".join(t for t, _ in recs)
        assert types.startswith("VTAAS"), types
        assert recs[0][1] == b"postern-maildrop 1"
        self.uid = int(recs[2][1].split(b"=")[1])
        self.gid = int(recs[3][1].split(b"=")[1])
        assert recs[2][1].startswith(b"uid=") and recs[3][1].startswith(b"gid=")
        self.sender = recs[4][1].decode()
        self.fullname, self.attrs, self.rcpts, self.notify = None, {}, [], []
        self.content = b""
        i = 5
        if recs[i][0] == "F":
            self.fullname = recs[i][1].decode()
            i += 1
        while recs[i][0] == "A":
            k, _, v = recs[i][1].decode().partition("=")
            self.attrs[k] = v
            i += 1
        while recs[i][0] in "NR":
            notify = None
            if recs[i][0] == "N":
                notify = recs[i][1].decode()
                i += 1
            assert recs[i][0] == "R"
            self.rcpts.append(recs[i][1].decode())
            self.notify.append(notify)
            i += 1
        assert recs[i] == ("M", b"")
        i += 1
        while recs[i][0] == "B":
            assert len(recs[i][1]) <= 65536
            self.content += recs[i][1]
            i += 1
        assert recs[i] == ("E", b"") and i == len(recs) - 1, types


def maildrop(inst):
    return os.path.join(inst.queue, "maildrop")


def drop_names(inst):
    return sorted(os.listdir(maildrop(inst)))


def drops(inst):
    names = sorted(drop_names(inst), key=lambda n: os.stat(os.path.join(maildrop(inst), n)).st_mtime_ns)
    return [Drop(os.path.join(maildrop(inst), n)) for n in names]


def only_drop(inst):
    d = drops(inst)
    assert len(d) == 1, drop_names(inst)
    os.unlink(d[0].path)
    return d[0]


@pytest.fixture
def stopped(inst):
    """An instance that is never started: mail goes to maildrop/ only."""
    inst.init()
    return inst


@pytest.fixture
def user_stopped(user_inst):
    user_inst.init()
    return user_inst


# -- real callers ------------------------------------------------------------

CRON_MSG = b"To: admin\nSubject: Cron <root@host> run-parts /etc/cron.hourly\n\noutput\n.\nmore\n"
UTF8_MSG = (b"Subject: r\xc3\xa9sultat\nContent-Type: text/plain; charset=UTF-8\n"
            b"Content-Transfer-Encoding: binary\n\n\xe2\x9c\x93 ok \xf0\x9f\x93\xa7\n\x80\xff raw\n")
PHP_MSG = b"To: a@example.org\r\nSubject: php\r\nX-PHP-Originating-Script: 0:x.php\r\n\r\nline1\nline2\n"
MUTT_MSG = b"From: Me <me@example.org>\nTo: You <you@example.org>\nSubject: hi\n\n.\nbody\n"

CALLERS = [
    # name, argv, stdin, expected sender, full name, recipients, content, attrs
    ("cronie", ["-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "root"], CRON_MSG,
     "root", "CronDaemon", ["admin"], CRON_MSG, {}),
    ("debian-cron", ["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "admin"], UTF8_MSG,
     None, "CronDaemon", ["admin"], UTF8_MSG, {"body_type": "8BITMIME"}),
    ("systemd-cron", ["-i", "-B", "8BITMIME", "admin@example.org"], UTF8_MSG,
     None, "", ["admin@example.org"], UTF8_MSG, {"body_type": "8BITMIME"}),
    ("php-mail", ["-t", "-i", "-fwww@example.org"], PHP_MSG, "www@example.org", None,
     ["a@example.org"],
     b"To: a@example.org\nSubject: php\nX-PHP-Originating-Script: 0:x.php\n\nline1\nline2\n", {}),
    ("phpmailer", ["-oi", "-fwww@example.org", "-t"],
     b"To: Bob <bob@example.org>, carol@example.org\r\nSubject: x\r\n\r\nhi\r\n.\r\nbye\r\n",
     "www@example.org", None, ["bob@example.org", "carol@example.org"],
     b"To: Bob <bob@example.org>, carol@example.org\nSubject: x\n\nhi\n.\nbye\n", {}),
    ("mutt", ["-oem", "-oi", "-B8BITMIME", "-f", "me@example.org", "-N", "success,failure",
              "-R", "hdrs", "--", "you@example.org", "-dash@example.org"], MUTT_MSG,
     "me@example.org", None, ["you@example.org", "-dash@example.org"], MUTT_MSG,
     {"body_type": "8BITMIME", "notify": "SUCCESS,FAILURE", "ret": "HDRS"}),
    ("git-send-email", ["-i", "-f", "dev@example.org", "a@example.org", "b@example.org"],
     b"From: Dev <dev@example.org>\nTo: a@example.org\nCc: b@example.org\nSubject: [PATCH] x\n\n"
     b"diff\n.\n-- \n2.39.5\n", "dev@example.org", None, ["a@example.org", "b@example.org"],
     b"From: Dev <dev@example.org>\nTo: a@example.org\nCc: b@example.org\nSubject: [PATCH] x\n\n"
     b"diff\n.\n-- \n2.39.5\n", {}),
    ("s-nail", ["-i", "-F", "Jane Doe", "-f", "jane@example.org", "--", "bob@example.org"],
     b"Subject: s\n\nbody\n", "jane@example.org", "Jane Doe", ["bob@example.org"],
     b"Subject: s\n\nbody\n", {}),
    ("logwatch", ["-t"],
     b"To: root\nFrom: logwatch@host\nSubject: Logwatch\n\n report\n.\nnot part of it\n",
     None, "", ["root"], b"To: root\nFrom: logwatch@host\nSubject: Logwatch\n\n report\n", {}),
    ("python", ["-t", "-oi"], b"To: ops@example.org\nSubject: s\n\n.\nend", None, "",
     ["ops@example.org"], b"To: ops@example.org\nSubject: s\n\n.\nend\n", {}),
]


def login_and_gecos(uid):
    pw = pwd.getpwuid(uid)
    name = pw.pw_gecos.split(",")[0].replace("&", pw.pw_name.capitalize())
    return pw.pw_name, name or None


def check_drop(d, uid, sender, fullname, rcpts, content, attrs):
    login, gecos = login_and_gecos(uid)
    assert d.uid == uid
    assert d.sender == (sender if sender is not None else login)
    # No -F and no -f: the GECOS name; -f without -F: none.
    assert d.fullname == (gecos if fullname == "" else fullname)
    assert d.rcpts == rcpts
    assert d.content == content
    assert d.attrs == attrs
    if "notify" in attrs:
        assert d.notify == [attrs["notify"]] * len(rcpts)
    assert d.mode == 0o444


@pytest.mark.parametrize("name,args,data,sender,fullname,rcpts,content,attrs", CALLERS,
                         ids=[c[0] for c in CALLERS])
def test_real_caller(stopped, name, args, data, sender, fullname, rcpts, content, attrs):
    sendmail_ok(stopped, args, data)
    check_drop(only_drop(stopped), os.getuid(), sender, fullname, rcpts, content, attrs)


@pytest.mark.parametrize("name", ["cronie", "debian-cron", "git-send-email", "python"])
def test_real_caller_as_user(user_stopped, name):
    """The same as an ordinary user, on that user's own instance."""
    _, args, data, sender, fullname, rcpts, content, attrs = next(c for c in CALLERS if c[0] == name)
    sendmail_ok(user_stopped, args, data)
    check_drop(only_drop(user_stopped), pwd.getpwnam("nobody").pw_uid, sender, fullname, rcpts,
               content, attrs)


def test_alpine_bs(stopped):
    """-bs runs smtpd -S on stdin/stdout: a session that submits nothing
    works with the mail system stopped (smtpd(8)'s tests deliver)."""
    r = sendmail(stopped, ["-bs", "-odb", "-oem"], b"HELO alpine\r\nNOOP\r\nQUIT\r\n")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split(b"\r\n")
    assert lines[0].startswith(b"220 ") and lines[0].endswith(b" ESMTP postern"), r.stdout
    host = lines[0].split(b" ")[1]
    assert lines[1:] == [b"250 " + host, b"250 2.0.0 Ok", b"221 2.0.0 Bye", b""], r.stdout


# -- content -----------------------------------------------------------------

@pytest.mark.parametrize("args,data,content", [
    (["-i"], b"a\r\nb\nc\rd\r\n", b"a\nb\nc\rd\n"),
    (["-i"], b"From someone@x Mon Jan  1 00:00:00 2024\nSubject: x\n\nbody\n", b"Subject: x\n\nbody\n"),
    (["-i"], b"Subject: x\n\nFrom the start\n", b"Subject: x\n\nFrom the start\n"),
    ([], b"a\n.\nb\n", b"a\n"),
    ([], b"a\r\n.\r\nb\r\n", b"a\n"),
    ([], b"a\n..\nb\n", b"a\n..\nb\n"),
    (["-i"], b"a\n.\nb\n", b"a\n.\nb\n"),
    (["-oi"], b"a\n.\nb", b"a\n.\nb\n"),
    (["-i"], b"no newline", b"no newline\n"),
    (["-i"], b"", b""),
    (["-i"], b"nul\x00byte\xff\n", b"nul\x00byte\xff\n"),
], ids=["crlf-mixed", "from_", "from-in-body", "dot", "dot-crlf", "dotdot", "dot-i", "dot-oi",
        "no-newline", "empty", "nul-8bit"])
def test_content(stopped, args, data, content):
    sendmail_ok(stopped, args + ["r@example.org"], data)
    assert only_drop(stopped).content == content


def test_large_8bit_message(stopped):
    body = bytes(b for b in range(256) if b not in (10, 13)) * 2000
    lines = b"Subject: big\n\n" + b"\n".join(body[i:i + 900] for i in range(0, len(body), 900)) + b"\n"
    sendmail_ok(stopped, ["-i", "big@example.org"], lines)
    assert only_drop(stopped).content == lines


def test_bcc_stays_for_cleanup(stopped):
    msg = b"To: a@example.org\nBcc: secret@example.org\nSubject: s\n\nx\n"
    sendmail_ok(stopped, ["-t", "-i", "extra@example.org"], msg)
    d = only_drop(stopped)
    assert d.rcpts == ["extra@example.org", "a@example.org", "secret@example.org"]
    assert d.content == msg


def test_null_sender(stopped):
    for arg in ["", "<>"]:
        sendmail_ok(stopped, ["-f", arg, "-i", "r@example.org"], b"x\n")
        assert only_drop(stopped).sender == ""
    sendmail_ok(stopped, ["-f<>", "-i", "r@example.org"], b"x\n")
    assert only_drop(stopped).sender == ""


def test_log_line(stopped):
    sendmail_ok(stopped, ["-i", "-f", "me@example.org", "r@example.org"], b"x\n")
    qid = os.path.basename(only_drop(stopped).path)
    stopped.wait_log(f"postdrop[")
    assert f"{qid}: uid={os.getuid()} from=<me@example.org>" in stopped.log()


# -- refusals and exit codes --------------------------------------------------

def assert_refused(inst, args, data, status, text):
    r = sendmail(inst, args, data)
    assert r.returncode == status, r.stderr
    assert text.encode() in r.stderr, r.stderr
    assert r.stderr.startswith(b"sendmail: fatal: "), r.stderr
    assert drop_names(inst) == []
    return r


def test_no_recipients(stopped):
    assert_refused(stopped, ["-i"], b"x\n", EX_USAGE, "Recipient addresses must be specified")
    r = assert_refused(stopped, ["-t"], b"Subject: none\n\nTo: in@body\n", EX_USAGE,
                       "No recipient addresses found in message header")
    # The same line is in the log.
    stopped.wait_log("No recipient addresses found in message header")
    assert "fatal: " in stopped.log()
    assert_refused(stopped, ["-t"], b"To: undisclosed-recipients:;\n\nx\n", EX_USAGE,
                   "No recipient addresses found")


def test_crlf_injection_refused(stopped):
    assert_refused(stopped, ["-f", "a@b\nX-Injected: 1", "r@x"], b"x\n", EX_DATAERR, "CR or LF")
    assert_refused(stopped, ["-fa@b\r", "r@x"], b"x\n", EX_DATAERR, "CR or LF")
    assert_refused(stopped, ["-F", "Eve\nBcc: x@ext.test", "-t"], b"To: a@b\n\nx\n", EX_DATAERR,
                   "CR or LF")
    assert_refused(stopped, ["--", "r@x\nBcc: y@z"], b"x\n", EX_DATAERR, "CR or LF")


def test_usage_errors(stopped):
    assert_refused(stopped, ["-K", "r@x"], b"x\n", EX_USAGE, "illegal option -- K")
    assert_refused(stopped, ["-B", "9BIT", "r@x"], b"x\n", EX_USAGE, "-B option needs")
    assert_refused(stopped, ["-bv", "r@x"], b"", EX_USAGE, "unsupported: -bv")
    assert_refused(stopped, ["-i", "John Smith"], b"x\n", EX_DATAERR, "bad recipient address")


def test_x_option_never_opens_its_file(stopped, tmp_path):
    target = tmp_path / "xlog"
    for args in (["-X", str(target)], [f"-X{target}2"], ["-oQ/tmp", "-O", "QueueDirectory=/tmp"]):
        sendmail_ok(stopped, args + ["-t", "-i"], b"To: a@example.org\n\nx\n")
        assert only_drop(stopped).rcpts == ["a@example.org"]
    assert os.listdir(tmp_path) == []


def test_closed_descriptors(stopped):
    """cron may run it with stdout and stderr closed: still queued, exit 0."""
    r = sendmail(stopped, ["-i", "r@example.org"], b"x\n",
                 preexec_fn=lambda: (os.close(1), os.close(2)))
    assert r.returncode == 0
    assert only_drop(stopped).content == b"x\n"
    # A closed stdin is an empty message.
    r = sendmail(stopped, ["-i", "r@example.org"], None, preexec_fn=lambda: os.close(0))
    assert r.returncode == 0
    assert only_drop(stopped).content == b""


def test_popen_shell(stopped):
    """PHP's mail() runs sendmail_path through /bin/sh -c."""
    sm = os.path.join(stopped.stage, "bin", "sendmail")
    r = subprocess.run(["sh", "-c", f"printf 'To: a@example.org\\r\\nSubject: s\\r\\n\\r\\nhi\\n' | "
                        f"{sm} -t -i -fwww@example.org; echo rc=$?"],
                       capture_output=True, env={**os.environ, "POSTERN_CONFIG_DIR": stopped.dir})
    assert r.stdout.strip() == b"rc=0", r.stderr
    d = only_drop(stopped)
    assert (d.sender, d.rcpts, d.content) == ("www@example.org", ["a@example.org"],
                                              b"To: a@example.org\nSubject: s\n\nhi\n")


# -- configuration directory -------------------------------------------------

@needs_root
def test_c_option_as_root(stopped):
    r = sendmail(stopped, ["-C", stopped.dir, "-i", "r@example.org"], b"x\n", config_env=False)
    assert r.returncode == 0, r.stderr
    only_drop(stopped)
    r = sendmail(stopped, ["-C", os.path.join(stopped.dir, "main.cf"), "-i", "r@example.org"], b"x\n",
                 config_env=False)
    assert r.returncode == 0, r.stderr
    only_drop(stopped)


def test_c_option_unauthorized_for_users(user_stopped):
    if os.path.exists("/etc/postern/main.cf"):
        pytest.skip("a system-wide /etc/postern/main.cf may authorise directories")
    r = sendmail(user_stopped, ["-C", user_stopped.dir, "-i", "r@example.org"], b"x\n",
                 config_env=False)
    assert r.returncode == EX_NOPERM, r.stderr
    assert b"not an authorized configuration directory" in r.stderr
    assert drop_names(user_stopped) == []


# -- the queue cannot take the message ---------------------------------------

def test_unwritable_maildrop(user_stopped):
    os.chmod(maildrop(user_stopped), 0o500)
    try:
        r = sendmail(user_stopped, ["-i", "r@example.org"], b"x\n")
        assert r.returncode == EX_TEMPFAIL, r.stderr
        assert b"postdrop: fatal: create file in" in r.stderr
    finally:
        os.chmod(maildrop(user_stopped), 0o1770)
    assert drop_names(user_stopped) == []


def test_file_size_limit(stopped):
    """ulimit -f: the partial file is removed, the caller told EX_TEMPFAIL."""
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (16384, 16384))
    r = sendmail(stopped, ["-i", "r@example.org"], b"x" * 200000 + b"\n", preexec_fn=limit)
    assert r.returncode == EX_TEMPFAIL, r.stderr
    assert drop_names(stopped) == []


@needs_root
def test_full_queue_filesystem(stopped):
    md = maildrop(stopped)
    st = os.stat(md)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o",
                        f"size=64k,mode=1770,uid={st.st_uid},gid={st.st_gid}", "tmpfs", md],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr!r}")
    try:
        sendmail_ok(stopped, ["-i", "small@example.org"], b"small\n")
        r = sendmail(stopped, ["-i", "big@example.org"], b"y" * 300000 + b"\n")
        assert r.returncode == EX_TEMPFAIL, r.stderr
        # The accepted message is still there, complete; nothing partial.
        d = drops(stopped)
        assert [x.rcpts for x in d] == [["small@example.org"]]
        assert d[0].content == b"small\n"
        os.unlink(d[0].path)
    finally:
        subprocess.run(["umount", md], check=True)
    sendmail_ok(stopped, ["-i", "again@example.org"], b"space again\n")
    assert only_drop(stopped).rcpts == ["again@example.org"]


# -- real mail programs ------------------------------------------------------

@pytest.mark.skipif(shutil.which("s-nail") is None, reason="s-nail is not installed")
def test_snail(stopped, tmp_path):
    sm = os.path.join(stopped.stage, "bin", "sendmail")
    env = {**os.environ, "POSTERN_CONFIG_DIR": stopped.dir, "HOME": str(tmp_path),
           "MAILRC": "/dev/null", "LC_ALL": "C.UTF-8"}
    r = subprocess.run(["s-nail", "-n", "-S", f"mta={sm}", "-S", "sendwait", "-s", "test subject",
                        "-r", "Jane Doe <jane@example.org>", "bob@example.org"],
                       input=b"hello from s-nail\n.\nafter the dot\n", capture_output=True,
                       env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    d = only_drop(stopped)
    assert (d.sender, d.fullname, d.rcpts) == ("jane@example.org", "Jane Doe", ["bob@example.org"])
    assert b"Subject: test subject\n" in d.content
    assert d.content.endswith(b"\n\nhello from s-nail\n.\nafter the dot\n")


def git_send_email_available():
    if shutil.which("git") is None:
        return False
    r = subprocess.run(["git", "send-email", "-h"], capture_output=True)
    return b"is not a git command" not in r.stdout + r.stderr


@pytest.mark.skipif(not git_send_email_available(), reason="git send-email is not installed")
def test_git_send_email(stopped, tmp_path):
    patch = tmp_path / "0001-fix.patch"
    patch.write_bytes(
        b"From 1234567890abcdef1234567890abcdef12345678 Mon Sep 17 00:00:00 2001\n"
        b"From: Dev Eloper <dev@example.org>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
        b"Subject: [PATCH] fix the thing\n\nCommit message \xc3\xbc.\n---\n"
        b" file | 2 +-\n\ndiff --git a/file b/file\n--- a/file\n+++ b/file\n@@ -1 +1 @@\n"
        b"-old\n+new\n.\n-- \n2.39.5\n")
    sm = os.path.join(stopped.stage, "bin", "sendmail")
    env = {**os.environ, "POSTERN_CONFIG_DIR": stopped.dir, "HOME": str(tmp_path),
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_COMMITTER_NAME": "Dev",
           "GIT_COMMITTER_EMAIL": "dev@example.org", "GIT_AUTHOR_NAME": "Dev",
           "GIT_AUTHOR_EMAIL": "dev@example.org"}
    r = subprocess.run(["git", "send-email", f"--smtp-server={sm}", "--to=a@example.org",
                        "--cc=b@example.org", "--from=Dev Eloper <dev@example.org>",
                        "--envelope-sender=dev@example.org", "--confirm=never",
                        "--suppress-cc=all", "--no-thread", "--8bit-encoding=UTF-8",
                        "--transfer-encoding=8bit", str(patch)],
                       capture_output=True, env=env, cwd=str(tmp_path), timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    d = only_drop(stopped)
    assert d.sender == "dev@example.org"
    assert sorted(d.rcpts) == ["a@example.org", "b@example.org"]
    assert b"Subject: [PATCH] fix the thing\n" in d.content
    assert b"\n-old\n+new\n.\n-- \n2.39.5\n" in d.content
    assert "\u00fc".encode() in d.content


# -- postdrop on its own: it trusts nothing it reads -------------------------

def rec(rtype, payload=b""):
    """One record: type byte, varint length, payload."""
    if isinstance(payload, str):
        payload = payload.encode()
    n, length = len(payload), b""
    while True:
        b = n & 0x7F
        n >>= 7
        length += bytes([b | (0x80 if n else 0)])
        if not n:
            return rtype.encode() + length + payload


GOOD = [("S", "me@x"), ("R", "r@x"), ("M", ""), ("B", "hi\n"), ("E", "")]


def stream(recs):
    return b"".join(rec(t, p) for t, p in recs)


def postdrop(inst, data, args=None, preexec_fn=None):
    argv = [os.path.join(inst.stage, "bin", "postdrop"), *(args or ["-c", inst.dir])]
    return subprocess.run(argv, input=data, capture_output=True, timeout=30, cwd="/",
                          preexec_fn=preexec_fn)


def test_postdrop_accepts_the_documented_sequence(stopped):
    recs = [("S", ""), ("F", "Full Name"), ("A", "notify=SUCCESS,DELAY"), ("A", "ret=FULL"),
            ("A", "envid=x1"), ("A", "body_type=7BIT"), ("N", "NEVER"), ("R", "a@x"),
            ("R", "b@x"), ("N", "FAILURE"), ("R", "c@x"), ("M", ""), ("B", b"\x00\xff\r"),
            ("B", "x" * 65536), ("E", "")]
    r = postdrop(stopped, stream(recs))
    assert r.returncode == 0, r.stderr
    d = only_drop(stopped)
    assert (d.uid, d.gid) == (os.getuid(), os.getgid())
    assert d.rcpts == ["a@x", "b@x", "c@x"] and d.notify == ["NEVER", None, "FAILURE"]
    assert d.attrs == {"notify": "SUCCESS,DELAY", "ret": "FULL", "envid": "x1", "body_type": "7BIT"}
    assert d.content == b"\x00\xff\r" + b"x" * 65536
    # Without a recipient record's N, with no content at all.
    r = postdrop(stopped, stream([("S", "a"), ("R", "b"), ("M", ""), ("E", "")]))
    assert r.returncode == 0, r.stderr
    assert only_drop(stopped).content == b""


BAD_STREAMS = {
    "empty": b"",
    "truncated": stream(GOOD)[:-1],
    "no-end": stream(GOOD[:-1]),
    "after-end": stream(GOOD) + rec("B", "more"),
    "garbage-after-end": stream(GOOD) + b"\x00",
    "no-sender": stream(GOOD[1:]),
    "no-recipient": stream([("S", "a"), ("M", ""), ("E", "")]),
    "two-senders": stream([("S", "a")] + GOOD),
    "fullname-late": stream([("S", "a"), ("R", "b"), ("F", "n"), ("M", ""), ("E", "")]),
    "attr-late": stream([("S", "a"), ("R", "b"), ("A", "ret=FULL"), ("M", ""), ("E", "")]),
    "notify-without-rcpt": stream([("S", "a"), ("R", "b"), ("N", "NEVER"), ("M", ""), ("E", "")]),
    "body-before-message": stream([("S", "a"), ("R", "b"), ("B", "x"), ("M", ""), ("E", "")]),
    "own-uid-attr": stream([("S", "a"), ("A", "uid=0"), ("R", "b"), ("M", ""), ("E", "")]),
    "unknown-attr": stream([("S", "a"), ("A", "x=y"), ("R", "b"), ("M", ""), ("E", "")]),
    "attr-twice": stream([("S", "a"), ("A", "ret=FULL"), ("A", "ret=HDRS"), ("R", "b"), ("M", ""),
                          ("E", "")]),
    "bad-ret": stream([("S", "a"), ("A", "ret=ALL"), ("R", "b"), ("M", ""), ("E", "")]),
    "bad-notify": stream([("S", "a"), ("N", "NEVER,SUCCESS"), ("R", "b"), ("M", ""), ("E", "")]),
    "lowercase-notify": stream([("S", "a"), ("N", "success"), ("R", "b"), ("M", ""), ("E", "")]),
    "bad-envid": stream([("S", "a"), ("A", "envid=a b"), ("R", "b"), ("M", ""), ("E", "")]),
    "lf-in-sender": stream([("S", "a\nX: y"), ("R", "b"), ("M", ""), ("E", "")]),
    "cr-in-rcpt": stream([("S", "a"), ("R", "b\r"), ("M", ""), ("E", "")]),
    "nul-in-fullname": stream([("S", "a"), ("F", "n\x00"), ("R", "b"), ("M", ""), ("E", "")]),
    "empty-rcpt": stream([("S", "a"), ("R", ""), ("M", ""), ("E", "")]),
    "long-rcpt": stream([("S", "a"), ("R", "r" * 2049), ("M", ""), ("E", "")]),
    "payload-in-M": stream([("S", "a"), ("R", "b"), ("M", "x"), ("E", "")]),
    "payload-in-E": stream([("S", "a"), ("R", "b"), ("M", ""), ("E", "x")]),
    "version-record": stream([("V", "postern-maildrop 1")] + GOOD),
    "time-record": stream([("T", "0 0")] + GOOD),
    "done-record": stream([("S", "a"), ("D", "b"), ("M", ""), ("E", "")]),
    "huge-body-record": b"".join(rec(t, p) for t, p in GOOD[:3]) + b"B\x81\x80\x04" + b"x" * 65537,
    "endless-varint": b"S\xff\xff\xff\xff\xff\xff\x01",
}


@pytest.mark.parametrize("name", list(BAD_STREAMS))
def test_postdrop_refuses_malformed_input(stopped, name):
    r = postdrop(stopped, BAD_STREAMS[name])
    assert r.returncode == EX_DATAERR, (r.returncode, r.stderr)
    assert r.stderr.startswith(b"postdrop: fatal: "), r.stderr
    assert drop_names(stopped) == []


def test_postdrop_usage(stopped):
    r = postdrop(stopped, stream(GOOD), args=["-c", stopped.dir, "extra"])
    assert r.returncode == EX_USAGE
    assert drop_names(stopped) == []


@needs_root
def test_setgid_postdrop_checks_the_config_directory(user_stopped, tmp_path):
    """Set-gid, postdrop takes a non-default -c only from root or when the
    default main.cf authorises it."""
    if os.path.exists("/etc/postern/main.cf"):
        pytest.skip("a system-wide /etc/postern/main.cf may authorise directories")
    if os.statvfs(str(tmp_path)).f_flag & os.ST_NOSUID:
        pytest.skip("temporary directory is mounted nosuid")
    os.chmod(tmp_path, 0o755)
    sgid = tmp_path / "postdrop"
    shutil.copy(os.path.join(user_stopped.stage, "bin", "postdrop"), sgid)
    os.chown(sgid, 0, 8)		# group mail: not nobody's group
    os.chmod(sgid, 0o2755)
    pw = pwd.getpwnam("nobody")
    r = subprocess.run(["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups",
                        str(sgid), "-c", user_stopped.dir], input=stream(GOOD),
                       capture_output=True, timeout=30, cwd="/")
    assert r.returncode == EX_NOPERM, r.stderr
    assert b"not an authorized configuration directory" in r.stderr
    assert drop_names(user_stopped) == []


# -- the other modes run other programs --------------------------------------

def staged(inst, name):
    return os.path.exists(os.path.join(inst.stage, "bin", name))


def test_mailq_and_bp(stopped):
    """mailq and sendmail -bp are postqueue -p (as root, with the system
    down, it reads the queue directly)."""
    if not staged(stopped, "postqueue"):
        pytest.skip("postqueue is not built")
    for name, args in (("mailq", []), ("sendmail", ["-bp"])):
        r = sendmail(stopped, args, name=name)
        assert r.returncode == 0, r.stderr
        assert b"Mail queue is empty" in r.stdout
    r = sendmail(stopped, ["-bp", "someone"])
    assert r.returncode == EX_USAGE
    assert b"display queue mode requires no recipient" in r.stderr


def test_flush_with_the_system_down(stopped):
    if not staged(stopped, "postqueue"):
        pytest.skip("postqueue is not built")
    r = sendmail(stopped, ["-q"])
    assert r.returncode != 0
    assert b"postqueue: fatal: Cannot flush mail queue - mail system is down" in r.stderr
    # An interval alone is for a daemon: nothing to do.
    assert sendmail(stopped, ["-q30m"]).returncode == 0


def test_newaliases_with_oA(stopped, tmp_path):
    table = tmp_path / "aliases"
    table.write_text("postmaster: root\n")
    for name, args in (("newaliases", [f"-oAhash:{table}"]), ("sendmail", ["-bi", f"-oA{table}"])):
        r = sendmail(stopped, args, name=name)
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "aliases.db").exists()
        os.unlink(tmp_path / "aliases.db")


def test_postdrop_input_a_byte_at_a_time(stopped):
    data = stream(GOOD)
    p = subprocess.Popen([os.path.join(stopped.stage, "bin", "postdrop"), "-c", stopped.dir],
                         stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    for i in range(len(data)):
        os.write(p.stdin.fileno(), data[i:i + 1])
    p.stdin.close()
    assert p.wait(timeout=30) == 0, p.stderr.read()
    p.stderr.close()
    assert only_drop(stopped).content == b"hi\n"


def test_postdrop_signal_removes_partial_file(stopped):
    """Killed (but not with -9) before the end record: no file remains."""
    p = subprocess.Popen([os.path.join(stopped.stage, "bin", "postdrop"), "-c", stopped.dir],
                         stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(stream(GOOD[:3]))
    p.stdin.flush()
    try:
        wait_for(lambda: drop_names(stopped), 10, what="the maildrop file being written")
        name = drop_names(stopped)[0]
        assert os.stat(os.path.join(maildrop(stopped), name)).st_mode & 0o7777 == 0o600
        p.terminate()
        assert p.wait(timeout=30) == EX_TEMPFAIL
    finally:
        p.stdin.close()
        p.stderr.close()
    assert drop_names(stopped) == []


@needs_root
def test_ordinary_user_through_setgid_group(tmp_path):
    """As installed: a user who is not the instance owner submits with the
    postdrop group (what the set-gid bit gives), and postdrop can commit,
    directory fsync included."""
    import grp
    from conftest import Instance, ensure_user, myhostname, wait_mail
    import tempfile, shutil
    stage = tempfile.mkdtemp(prefix="postern-stage-sg-")
    os.chmod(stage, 0o755)
    from conftest import TOP
    for sub, src in (("bin", "bin"), ("libexec", "libexec"), ("test-libexec", "build/test-libexec")):
        shutil.copytree(os.path.join(TOP, src), os.path.join(stage, sub))
    inst = Instance(stage)
    try:
        ensure_user("pt-alice")
        inst.init()
        inst.start()
        host = myhostname(inst)
        gid = grp.getgrnam("postdrop").gr_gid
        pw = pwd.getpwnam("nobody")
        env = {k: v for k, v in os.environ.items() if k != "POSTERN_CONFIG_DIR"}
        env["POSTERN_CONFIG_DIR"] = inst.dir
        r = subprocess.run(["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", f"--groups={gid}",
                            os.path.join(stage, "bin", "sendmail"), f"pt-alice@{host}"],
                           input=b"Subject: x\n\nhello\n", capture_output=True, env=env, cwd="/")
        assert r.returncode == 0, r.stderr
        wait_mail(inst, "pt-alice")
    finally:
        inst.cleanup()
        shutil.rmtree(stage, ignore_errors=True)
