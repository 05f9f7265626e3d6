"""The queue tools: showq(8), postqueue(1) and `postern queue`, on queue
files this test writes itself in the record format of docs/QUEUE.md."""
import grp
import json
import os
import pwd
import re
import subprocess
import time

import pytest

from conftest import needs_root, wait_for

pytestmark = needs_root

ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxy"
HEADER = ("----Queue ID----- --Size-- ---Arrival Time---- "
          "--Sender/Recipient------\n")
INDENT = " " * 47


def base51(value, width):
    digits = ""
    while True:
        digits = ALPHABET[value % 51] + digits
        value //= 51
        if not value:
            break
    return digits.rjust(width, "0")


_serial = [0]


def make_id(sec=None):
    """A queue ID as lib/qfile.c makes them: time, usec, 'z', inode."""
    _serial[0] += 1
    sec = sec or int(time.time())
    return base51(sec, 6) + base51(123456 + _serial[0], 4) + "z" + base51(1000 + _serial[0], 1)


def hash_char(qid):
    return qid[qid.index("z") - 1]


def record(rtype, payload=b""):
    if isinstance(payload, str):
        payload = payload.encode()
    n, length = len(payload), b""
    while True:
        byte = n & 0x7F
        n >>= 7
        length += bytes([byte | (0x80 if n else 0)])
        if not n:
            break
    return rtype.encode() + length + payload


def queue_file(sender, rcpts, content, arrival=1700000000, attrs=("origin=local",)):
    """rcpts: (address, orig, done) tuples."""
    head = record("V", "postern-queue 1")
    c_at = len(head)
    head += record("C", "%15d %15d %15d" % (0, 0, 0))
    head += record("T", f"{arrival} 250000")
    for a in attrs:
        head += record("A", a)
    head += record("S", sender)
    for addr, orig, done in rcpts:
        if orig:
            head += record("O", orig)
        head += record("N", "FAILURE")
        head += record("D" if done else "R", addr)
    content_offset = len(head)
    body = record("M")
    for i in range(0, len(content), 65536):
        body += record("B", content[i:i + 65536])
    body += record("E")
    c = record("C", "%15d %15d %15d" % (len(content), content_offset, len(rcpts)))
    return head[:c_at] + c + head[c_at + len(c):] + body


def maildrop_file(sender, rcpts, content, arrival=1700000500):
    data = record("V", "postern-maildrop 1") + record("T", f"{arrival} 0")
    data += record("A", "uid=0") + record("A", "gid=0") + record("S", sender)
    for r in rcpts:
        data += record("R", r)
    data += record("M") + record("B", content) + record("E")
    return data


def dsn_line(rcpt, reason, orig=""):
    return "\t".join([rcpt, orig, "4.0.0", "delayed", "", "", "", reason]) + "\n"


class Queue:
    """Writes queue files into an instance's queue as cleanup would."""

    def __init__(self, inst):
        self.inst = inst
        pw = pwd.getpwnam("postern")
        self.uid, self.gid = pw.pw_uid, pw.pw_gid

    def path(self, queue, qid):
        if queue == "deferred":
            return os.path.join(self.inst.queue, "deferred", hash_char(qid), qid)
        return os.path.join(self.inst.queue, queue, qid)

    def put(self, queue, qid, data, mode=0o700):
        path = self.path(queue, qid)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        d = os.path.dirname(path)
        os.chown(d, self.uid, self.gid)
        with open(path, "wb") as f:
            f.write(data)
        os.chown(path, self.uid, self.gid)
        os.chmod(path, mode)
        return path

    def log(self, logdir, qid, text):
        path = os.path.join(self.inst.queue, logdir, qid)
        with open(path, "a") as f:
            f.write(text)
        os.chown(path, self.uid, self.gid)
        os.chmod(path, 0o600)

    def where(self, qid):
        found = []
        for q in ("incoming", "active", "deferred", "hold", "maildrop", "corrupt"):
            if os.path.exists(self.path(q, qid)):
                found.append(q)
        return found


def set_services(inst, *lines):
    """Replaces master.cf's qmgr/showq lines (if the template has them)."""
    names = {l.split()[0] for l in lines}
    kept = [l for l in inst.read("master.cf").splitlines()
            if not (l.split() and l.split()[0] in names)]
    inst.write("master.cf", "\n".join(kept + list(lines)) + "\n")


@pytest.fixture
def q(inst):
    inst.init()
    inst.cmd("check")
    return Queue(inst)


def asctime(sec):
    return time.strftime("%a %b %e %H:%M:%S", time.localtime(sec))


def three_messages(q):
    """incoming: null sender, 1 recipient; deferred: 3 recipients, two
    with reasons, one done; hold: 1 recipient."""
    ids = [make_id() for _ in range(3)]
    q.put("incoming", ids[0], queue_file("", [("root@localhost", "", False)],
                                         b"Subject: a\n\nA\n", arrival=1700000000))
    q.put("deferred", ids[1], queue_file(
        "alice@example.com",
        [("bob@example.org", "Bob@Example.org", False),
         ("carol@example.net", "", False),
         ("dave@example.net", "", True),
         ("erin@example.net", "", False)],
        b"x" * 5000, arrival=1700000100))
    q.log("defer", ids[1], dsn_line("bob@example.org", "old reason")
          + dsn_line("bob@example.org", "connect to example.org: Connection refused")
          + dsn_line("erin@example.net", "connect to example.org: Connection refused"))
    q.put("hold", ids[2], queue_file("frank@example.com", [("gina@example.com", "", False)],
                                     b"y" * 2000, arrival=1700000200))
    return ids


def expected_text(ids):
    return (HEADER
            + f"{ids[0] + ' ':<17} {14:8d} {asctime(1700000000)} MAILER-DAEMON\n"
            + f"{INDENT}root@localhost\n"
            + "\n"
            + f"{ids[1] + ' ':<17} {5000:8d} {asctime(1700000100)} alice@example.com\n"
            + " " * (76 - 42) + "(connect to example.org: Connection refused)\n"
            + f"{INDENT}bob@example.org\n"
            + f"{INDENT}erin@example.net\n"
            + " " * (76 - 18) + "(reason unavailable)\n"
            + f"{INDENT}carol@example.net\n"
            + "\n"
            + f"{ids[2] + '!':<17} {2000:8d} {asctime(1700000200)} frank@example.com\n"
            + f"{INDENT}gina@example.com\n"
            + "\n-- 6 Kbytes in 3 Requests.\n")


def test_empty_queue(q, inst):
    r = inst.cmd("queue", "list")
    assert r.stdout == "Mail queue is empty\n"
    assert inst.cmd("queue", "list", "--json").stdout == ""


def test_list_text_markers_sizes_reasons_trailer(q, inst):
    ids = three_messages(q)
    # files that are not committed queue files are not listed
    q.put("incoming", make_id(), b"half written", mode=0o600)
    q.put("incoming", "tmp.123.456.0", b"junk")
    r = inst.cmd("queue", "list")
    assert r.stdout == expected_text(ids), r.stdout


def test_list_active_marker_and_single_request(q, inst):
    qid = make_id()
    q.put("active", qid, queue_file("a@b", [("c@d", "", False)], b"z" * 3000))
    r = inst.cmd("queue", "list")
    assert r.stdout.splitlines()[1].startswith(qid + "*")
    assert r.stdout.endswith("\n-- 2 Kbytes in 1 Request.\n")


def test_list_maildrop(q, inst):
    qid = make_id()
    q.put("maildrop", qid, maildrop_file("u@localhost", ["x@localhost"], b"hi\n"), mode=0o444)
    r = inst.cmd("queue", "list", "--json")
    obj = json.loads(r.stdout)
    assert obj["queue_name"] == "maildrop" and obj["queue_id"] == qid
    assert obj["sender"] == "u@localhost"
    assert obj["recipients"][0]["address"] == "x@localhost"
    assert obj["arrival_time"] == 1700000500


def test_list_json(q, inst):
    ids = three_messages(q)
    r = inst.cmd("queue", "list", "--json")
    lines = r.stdout.splitlines()
    assert len(lines) == 3
    objs = {o["queue_id"]: o for o in map(json.loads, lines)}
    a, b, c = (objs[i] for i in ids)
    assert a["queue_name"] == "incoming" and a["sender"] == "MAILER-DAEMON"
    assert a["arrival_time"] == 1700000000 and a["message_size"] == 14
    assert a["forced_expire"] is False
    assert b["queue_name"] == "deferred" and b["message_size"] == 5000
    assert [r["address"] for r in b["recipients"]] == [
        "bob@example.org", "erin@example.net", "carol@example.net"]
    assert b["recipients"][0]["orig_address"] == "Bob@Example.org"
    assert b["recipients"][0]["delay_reason"] == "connect to example.org: Connection refused"
    assert b["recipients"][2]["delay_reason"] == ""
    assert c["queue_name"] == "hold"


def test_json_escapes_every_byte(q, inst):
    qid = make_id()
    sender = b"we\"ird\\\x01\x1b[31m\xff\xc3\xa9@example.com"
    q.put("incoming", qid, queue_file(sender, [("r@x", "", False)], b"."))
    r = subprocess.run([os.path.join(inst.stage, "bin", "postern"), "-c", inst.dir,
                        "queue", "list", "--json"], capture_output=True)
    raw = r.stdout
    assert b"\x1b" not in raw and b"\x01" not in raw
    obj = json.loads(raw.decode("utf-8"))
    assert obj["sender"] == "we\"ird\\\x01\x1b[31m\ufffd\u00e9@example.com"
    text = subprocess.run([os.path.join(inst.stage, "bin", "postern"), "-c", inst.dir,
                           "queue", "list"], capture_output=True).stdout
    assert b"\x1b" not in text
    assert "we\"ird\\??[31m?\u00e9@example.com".encode() in text


def showq_services(inst):
    out = os.path.join(inst.queue, "qmgr-triggers")
    set_services(inst, "showq unix n - n - - showq",
                 f"qmgr unix - - n - 1 {inst.test_prog('test-trigger')} {out}")
    return out


def as_nobody(inst, *args, input=None):
    """Runs the staged postqueue as nobody with the postdrop group, as the
    setgid install would."""
    drop = grp.getgrnam("postdrop").gr_gid
    nobody = pwd.getpwnam("nobody")
    argv = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
            f"--groups={drop}", os.path.join(inst.stage, "bin", "postqueue"),
            "-c", inst.dir, *args]
    return subprocess.run(argv, capture_output=True, text=True, cwd="/", timeout=30,
                          input=input)


def test_postqueue_as_nobody_goes_through_showq(q, inst):
    ids = three_messages(q)
    showq_services(inst)
    inst.start()
    # nobody cannot read the queue: only showq can have produced this
    r = as_nobody(inst, "-p")
    assert r.returncode == 0, r.stderr
    assert r.stdout == expected_text(ids)
    assert r.stdout == inst.cmd("queue", "list").stdout
    r = as_nobody(inst, "-j")
    assert r.returncode == 0, r.stderr
    assert r.stdout == inst.cmd("queue", "list", "--json").stdout
    assert len(r.stdout.splitlines()) == 3
    # many recipients span several frames
    big = make_id()
    q.put("incoming", big, queue_file("a@b", [(f"r{i}@x", "", False) for i in range(300)], b"."))
    obj = [json.loads(l) for l in as_nobody(inst, "-j").stdout.splitlines()
           if big in l][0]
    assert [r["address"] for r in obj["recipients"]] == [f"r{i}@x" for i in range(300)]


def test_postqueue_without_group_or_showq(q, inst):
    three_messages(q)
    # the mail system is down: nobody gets an error, root reads directly
    r = as_nobody(inst, "-p")
    assert r.returncode == 69, r
    assert "mail system is down" in r.stderr
    r = subprocess.run([os.path.join(inst.stage, "bin", "postqueue"), "-c", inst.dir, "-p"],
                       capture_output=True, text=True)
    assert r.returncode == 0
    assert "accessing queue directly" in r.stderr
    assert r.stdout == inst.cmd("queue", "list").stdout
    # without the postdrop group, public/ is closed
    showq_services(inst)
    inst.start()
    nobody = pwd.getpwnam("nobody")
    r = subprocess.run(["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
                        "--clear-groups", os.path.join(inst.stage, "bin", "postqueue"),
                        "-c", inst.dir, "-p"], capture_output=True, text=True, cwd="/")
    assert r.returncode == 69
    r = as_nobody(inst, "-x")
    assert r.returncode == 64


def test_postqueue_flush_through_showq(q, inst):
    out = showq_services(inst)
    inst.start()
    for args in (["-f"], ["-s", "example.com"], ["-i", make_id()]):
        r = as_nobody(inst, *args)
        assert r.returncode == 0, r.stderr
    wait_for(lambda: os.path.exists(out) and open(out).read().count(" FAD") == 3,
             what="three FAD triggers")
    r = as_nobody(inst, "-i", "../../etc/passwd")
    assert r.returncode == 64 and "invalid queue ID" in r.stderr


def test_show(q, inst):
    ids = three_messages(q)
    r = inst.cmd("queue", "show", ids[1])
    out = r.stdout
    assert f"*** ENVELOPE deferred/{ids[1]} ***" in out
    assert "sender: alice@example.com\n" in out
    assert "message_size: 5000\n" in out
    assert "attribute: origin=local\n" in out
    assert "recipient: bob@example.org (pending)\n  orig_address: Bob@Example.org\n" in out
    assert "recipient: dave@example.net (done)\n" in out
    assert "  delay_reason: connect to example.org: Connection refused\n" in out
    assert out.endswith(f"*** CONTENT deferred/{ids[1]} ***\n" + "x" * 5000
                        + f"*** END deferred/{ids[1]} ***\n")
    r = inst.cmd("queue", "show", ids[0])
    assert "sender: <>\n" in r.stdout and "Subject: a\n\nA\n" in r.stdout
    r = inst.cmd("queue", "show", make_id(), check=False)
    assert r.returncode == 1 and "no such message" in r.stderr
    r = inst.cmd("queue", "show", "../../../etc/passwd", check=False)
    assert r.returncode == 1 and "invalid queue ID" in r.stderr


def test_hold_release_requeue_delete(q, inst):
    out = showq_services(inst)
    inst.start()
    ids = three_messages(q)
    act = make_id()
    q.put("active", act, queue_file("a@b", [("c@d", "", False)], b"."))

    r = inst.cmd("queue", "hold", ids[0], ids[1], act)
    assert f"postern: {ids[0]}: placed on hold" in r.stderr
    assert "Placed on hold: 3 messages" in r.stderr
    for i in (ids[0], ids[1], act):
        assert q.where(i) == ["hold"]
    assert "already on hold" in inst.cmd("queue", "hold", ids[2]).stderr
    listing = inst.cmd("queue", "list").stdout
    assert listing.count("!") == 4

    r = inst.cmd("queue", "release", ids[0])
    assert f"{ids[0]}: released from hold" in r.stderr
    assert "Released from hold: 1 message\n" in r.stderr
    assert q.where(ids[0]) == ["incoming"]
    wait_for(lambda: os.path.exists(out) and " I" in open(out).read(), what="I trigger")

    # requeue: deferred or hold -> incoming, retry time cleared
    dq = make_id()
    p = q.put("deferred", dq, queue_file("a@b", [("c@d", "", False)], b"."))
    os.utime(p, (time.time() + 86400, time.time() + 86400))
    r = inst.cmd("queue", "requeue", dq, ids[1])
    assert "Requeued: 2 messages" in r.stderr
    assert q.where(dq) == ["incoming"] and q.where(ids[1]) == ["incoming"]
    assert os.stat(q.path("incoming", dq)).st_mtime <= time.time() + 1

    # delete removes the file and its logs
    q.log("bounce", ids[1], dsn_line("x@y", "gone"))
    r = inst.cmd("queue", "delete", ids[1])
    assert f"{ids[1]}: removed" in r.stderr and "Deleted: 1 message\n" in r.stderr
    assert q.where(ids[1]) == []
    for d in ("defer", "bounce"):
        assert not os.path.exists(os.path.join(inst.queue, d, ids[1]))

    # unknown and malicious IDs
    r = inst.cmd("queue", "delete", make_id(), check=False)
    assert r.returncode == 1 and "no such message" in r.stderr
    victim = os.path.join(inst.top, "victim")
    open(victim, "w").close()
    for bad in ("../../victim", "../victim", "/etc/passwd", "", "tmp.1.2.3"):
        for op in ("hold", "release", "requeue", "delete"):
            r = inst.cmd("queue", op, bad, check=False)
            assert r.returncode == 1 and "invalid queue ID" in r.stderr, (op, bad, r.stderr)
    assert os.path.exists(victim)

    r = inst.cmd("queue", "delete", "ALL")
    assert "Deleted: 4 messages" in r.stderr
    assert inst.cmd("queue", "list").stdout == "Mail queue is empty\n"


def test_hold_all_and_release_all(q, inst):
    ids = three_messages(q)
    r = inst.cmd("queue", "hold", "ALL")
    assert "Placed on hold: 2 messages" in r.stderr
    assert all(q.where(i) == ["hold"] for i in ids)
    r = inst.cmd("queue", "release", "ALL")
    assert "Released from hold: 3 messages" in r.stderr
    # qmgr is not running: the release still happened, with a warning
    assert "cannot wake the queue manager" in r.stderr
    assert all(q.where(i) == ["incoming"] for i in ids)


def test_flush(q, inst):
    r = inst.cmd("queue", "flush", check=False)
    assert r.returncode == 1 and "cannot wake the queue manager" in r.stderr
    out = showq_services(inst)
    inst.start()
    inst.cmd("queue", "flush")
    wait_for(lambda: os.path.exists(out) and " FAD" in open(out).read(), what="FAD trigger")


def test_setgid_postqueue_drops_group_for_other_config(q, inst):
    """Really setgid: with -c naming a configuration other than the
    default, the postdrop group is dropped, so public/ stays closed."""
    three_messages(q)
    showq_services(inst)
    inst.start()
    prog = os.path.join(inst.top, "postqueue")
    with open(os.path.join(inst.stage, "bin", "postqueue"), "rb") as src, open(prog, "wb") as dst:
        dst.write(src.read())
    os.chown(prog, 0, grp.getgrnam("postdrop").gr_gid)
    os.chmod(prog, 0o2755)
    nobody = pwd.getpwnam("nobody")
    r = subprocess.run(["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
                        "--clear-groups", prog, "-c", inst.dir, "-p"],
                       capture_output=True, text=True, cwd="/")
    assert r.returncode == 69, r
    assert "Permission denied" in r.stderr
    # the same binary with the group kept (as for the default config) works
    r = as_nobody(inst, "-p")
    assert r.returncode == 0 and "3 Requests" in r.stdout
