"""The local mail path end to end: sendmail -> postdrop -> pickup -> cleanup
-> qmgr -> local, with aliases, .forward, bounces, loops and retries."""
import os
import pwd
import re
import stat
import subprocess
import time

import pytest

from conftest import (IS_ROOT, ensure_user, maildir_files, myhostname, needs_root, read_bytes,
                      sendmail, spool_maildir, wait_for, wait_mail)

pytestmark = needs_root


def started(inst, *conf):
    inst.init()
    if conf:
        inst.cmd("conf", "-e", *conf)
    inst.start()
    return myhostname(inst)


def test_delivery_to_maildir_as_the_recipient(inst):
    alice = ensure_user("pt-alice")
    ensure_user("pt-bob")
    host = started(inst)
    body = b"Subject: caf\xc3\xa9\r\nX-Mixed: yes\n\r\nline one\r\n\xff raw byte\nlast line"
    r = sendmail(inst, "-f", "pt-bob", f"pt-alice@{host}", data=body)
    assert r.returncode == 0, r.stderr
    [path] = wait_mail(inst, "pt-alice")
    msg = read_bytes(path)
    assert msg.startswith(f"Return-Path: <pt-bob@{host}>\nDelivered-To: pt-alice@{host}\n".encode())
    assert re.search(rb"\nReceived: by \S+ \(postern, from userid 0\)\n\tid \w+; ", msg)
    assert b"\nMessage-Id: <" in msg and b"\nDate: " in msg and f"\nFrom: pt-bob@{host}".encode() in msg
    assert b"\nTo: undisclosed-recipients:;\n" in msg
    assert msg.endswith(b"\n\nline one\n\xff raw byte\nlast line\n")
    assert b"\r" not in msg
    assert os.stat(path).st_uid == alice.pw_uid
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    log = inst.log()
    assert re.search(rf"postern/local\[\d+\]: \w+: to=<pt-alice@{re.escape(host)}>, relay=local, delay=[\d.]+, "
                     r"delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+, dsn=2\.0\.0, status=sent \(delivered to maildir", log), log
    assert re.search(r"postern/qmgr\[\d+\]: \w+: from=<pt-bob@\S+>, size=\d+, nrcpt=1 \(queue active\)", log)
    assert re.search(r"postern/qmgr\[\d+\]: \w+: removed", log)
    # nothing is left in the queue
    for d in ("maildrop", "incoming", "active", "deferred", "bounce", "defer"):
        left = [f for _, _, fs in os.walk(os.path.join(inst.queue, d)) for f in fs]
        assert left == [], (d, left)


def test_plain_user_instance_delivers(user_inst):
    user_inst.init()
    user_inst.start()
    host = myhostname(user_inst)
    r = sendmail(user_inst, f"root@{host}", data=b"Subject: x\n\nhi\n", user="nobody")
    assert r.returncode == 0, r.stderr
    [path] = wait_mail(user_inst, "root")
    assert os.stat(path).st_uid == pwd.getpwnam("nobody").pw_uid
    assert read_bytes(path).endswith(b"\n\nhi\n")


def test_unknown_user_bounces_with_5_1_1(inst):
    ensure_user("pt-bob")
    host = started(inst)
    sendmail(inst, "-f", f"pt-bob@{host}", f"nosuch@{host}", data=b"Subject: lost\n\nx\n")
    [dsn] = wait_mail(inst, "pt-bob")
    text = read_bytes(dsn).decode(errors="replace")
    assert "Content-Type: multipart/report; report-type=delivery-status" in text
    assert "Status: 5.1.1" in text and f"nosuch@{host}" in text
    assert re.search(r"^Return-Path: <>$", text, re.M)
    assert "sender non-delivery notification" in inst.log()
    assert re.search(r"dsn=5\.1\.1, status=bounced \(unknown user\)", inst.log())


def test_notify_never_sends_no_bounce(inst):
    ensure_user("pt-bob")
    host = started(inst)
    sendmail(inst, "-N", "never", "-f", f"pt-bob@{host}", f"nosuch@{host}", data=b"Subject: x\n\nx\n")
    inst.wait_log("status=bounced")
    inst.wait_log("removed")
    time.sleep(1)
    assert maildir_files(spool_maildir(inst, "pt-bob")) == []
    assert "non-delivery notification" not in inst.log()


def write_aliases(inst, text):
    inst.write("aliases", text)
    inst.cmd("alias")


def test_aliases_addresses_files_commands_and_loops(inst):
    import pathlib
    for u in ("pt-alice", "pt-bob", "pt-carol"):
        ensure_user(u)
    drop = pathlib.Path(inst.top) / "drop"     # reachable by default_privs (nobody)
    drop.mkdir()
    os.chmod(drop, 0o777)
    host = started(inst)
    write_aliases(inst, f"postmaster: root\nteam: pt-alice,\n  pt-bob\nloopa: loopb\nloopb: loopa\n"
                        f"tofile: {drop}/file.mbox\n"
                        f"tocmd: \"|cat > {drop}/cmd.out\"\n"
                        f"keep: pt-carol, keep\n")
    for rcpt in ("team", "tofile", "tocmd"):
        r = sendmail(inst, "-f", f"pt-carol@{host}", f"{rcpt}@{host}", data=f"Subject: {rcpt}\n\nbody {rcpt}\n")
        assert r.returncode == 0
    wait_mail(inst, "pt-alice")
    wait_mail(inst, "pt-bob")
    wait_for(lambda: (drop / "cmd.out").exists() and b"body tocmd" in (drop / "cmd.out").read_bytes(),
             what="command delivery")
    assert (drop / "cmd.out").stat().st_uid == pwd.getpwnam("nobody").pw_uid
    wait_for(lambda: (drop / "file.mbox").exists() and b"body tofile" in (drop / "file.mbox").read_bytes(),
             what="file delivery")
    assert (drop / "file.mbox").read_bytes().startswith(f"From pt-carol@{host} ".encode())
    assert re.search(rf"to=<pt-alice@{re.escape(host)}>, orig_to=<team@{re.escape(host)}>", inst.log())
    # a loop bounces instead of spinning
    sendmail(inst, "-f", f"pt-carol@{host}", f"loopa@{host}", data=b"Subject: loop\n\nx\n")
    [dsn] = wait_mail(inst, "pt-carol")
    assert b"Status: 5.4.6" in read_bytes(dsn)
    # an alias that names itself keeps a copy in the user's own mailbox
    ensure_user("keep")
    sendmail(inst, "-f", f"pt-bob@{host}", f"keep@{host}", data=b"Subject: keep\n\nx\n")
    wait_mail(inst, "keep")
    wait_mail(inst, "pt-carol", 2)


def test_dot_forward(inst):
    for u in ("pt-alice", "pt-dave"):
        ensure_user(u)
    dave = pwd.getpwnam("pt-dave")
    fwd = os.path.join(dave.pw_dir, ".forward")
    with open(fwd, "w") as f:
        f.write("pt-alice\n\\pt-dave\n")
    os.chown(fwd, dave.pw_uid, dave.pw_gid)
    os.chmod(fwd, 0o644)
    try:
        host = started(inst)
        sendmail(inst, "-f", "root", f"pt-dave@{host}", data=b"Subject: fwd\n\nforwarded\n")
        wait_mail(inst, "pt-alice")
        wait_mail(inst, "pt-dave")
    finally:
        os.unlink(fwd)


def test_delivered_to_loop_bounces(inst):
    ensure_user("pt-alice")
    ensure_user("pt-bob")
    host = started(inst)
    msg = f"Delivered-To: pt-alice@{host}\nSubject: loop\n\nx\n"
    sendmail(inst, "-f", f"pt-bob@{host}", f"pt-alice@{host}", data=msg)
    [dsn] = wait_mail(inst, "pt-bob")
    assert b"Status: 5.4.6" in read_bytes(dsn)
    assert maildir_files(spool_maildir(inst, "pt-alice")) == []


def test_home_mailbox_mbox_with_from_quoting(inst):
    erin = ensure_user("pt-erin")
    box = os.path.join(erin.pw_dir, "Mailbox")
    if os.path.exists(box):
        os.unlink(box)
    host = started(inst, "home_mailbox=Mailbox")
    for i in range(2):
        sendmail(inst, "-f", "root", f"pt-erin@{host}", data=f"Subject: m{i}\n\nFrom here\nbye\n")
    wait_for(lambda: os.path.exists(box) and open(box, "rb").read().count(b"\nbye\n") == 2,
             what="two mbox deliveries")
    data = read_bytes(box)
    assert data.startswith(f"From root@{host} ".encode())
    assert b"\n>From here\n" in data and b"\nFrom here" not in data
    assert data.count(b"\nFrom root@") == 1 and data.endswith(b"bye\n\n")
    assert os.stat(box).st_uid == erin.pw_uid


def test_deferred_then_returned_after_lifetime(inst):
    ensure_user("pt-bob")
    ensure_user("pt-frank")
    host = started(inst, "maximal_queue_lifetime=4s", "minimal_backoff_time=1s",
                   "maximal_backoff_time=1s", "queue_run_delay=1s")
    # frank's Maildir belongs to root: delivery as frank fails, temporarily
    box = spool_maildir(inst, "pt-frank")
    os.makedirs(box)
    os.chmod(box, 0o755)
    sendmail(inst, "-f", f"pt-bob@{host}", f"pt-frank@{host}", data=b"Subject: stuck\n\nx\n")
    inst.wait_log("status=deferred")
    line = [l for l in inst.log().splitlines() if "status=deferred" in l][0]
    assert re.search(r"dsn=4\.\d\.\d, status=deferred \(.+\)", line), line
    # the deferred message is listed with its reason
    r = inst.cmd("queue", "list")
    assert "pt-frank@" in r.stdout
    inst.wait_log("status=expired, returned to sender", timeout=20)
    [dsn] = wait_mail(inst, "pt-bob")
    text = read_bytes(dsn).decode(errors="replace")
    assert "Action: failed" in text and "pt-frank@" in text


def test_corrupt_queue_file_moves_aside(inst):
    ensure_user("pt-alice")
    host = started(inst)
    pw = pwd.getpwnam("postern")
    bad = os.path.join(inst.queue, "incoming", "6LkKJd0Bf4z3QP")
    with open(bad, "wb") as f:
        f.write(b"V\x0fpostern-queue 1garbage")
    os.chown(bad, pw.pw_uid, pw.pw_gid)
    os.chmod(bad, 0o700)
    sendmail(inst, "-f", "root", f"pt-alice@{host}", data=b"Subject: ok\n\nx\n")
    wait_mail(inst, "pt-alice")
    inst.wait_log("6LkKJd0Bf4z3QP: queue file is corrupt")
    assert os.path.exists(os.path.join(inst.queue, "corrupt", "6LkKJd0Bf4z3QP"))


def test_mail_is_accepted_while_stopped(inst):
    ensure_user("pt-alice")
    inst.init()
    host = myhostname(inst)
    r = sendmail(inst, "-f", "root", f"pt-alice@{host}", data=b"Subject: early\n\nx\n")
    assert r.returncode == 0, r.stderr
    dropped = os.listdir(os.path.join(inst.queue, "maildrop"))
    assert len(dropped) == 1
    inst.start()
    wait_mail(inst, "pt-alice")
    assert os.listdir(os.path.join(inst.queue, "maildrop")) == []


def test_double_bounce_goes_to_postmaster_then_stops(inst):
    host = started(inst)
    # a bounce (null sender) that cannot be delivered
    r = sendmail(inst, "-f", "<>", f"nosuch@{host}", data=b"Subject: bounce\n\nx\n")
    assert r.returncode == 0
    [copy] = wait_mail(inst, "root")      # postmaster -> root
    assert b"Status: 5.1.1" in read_bytes(copy)
    assert "postmaster non-delivery notification" in inst.log()


def test_delay_warning_once(inst):
    ensure_user("pt-bob")
    ensure_user("pt-gina")
    host = started(inst, "delay_warning_time=2s", "minimal_backoff_time=1s",
                   "maximal_backoff_time=1s", "queue_run_delay=1s")
    box = spool_maildir(inst, "pt-gina")
    os.makedirs(box)            # root's: gina cannot deliver there
    sendmail(inst, "-f", f"pt-bob@{host}", f"pt-gina@{host}", data=b"Subject: slow\n\nx\n")
    [warning] = wait_mail(inst, "pt-bob", timeout=30)
    text = read_bytes(warning).decode(errors="replace")
    assert "Delayed Mail" in text and "Action: delayed" in text and "pt-gina@" in text
    assert "sender delay notification" in inst.log()
    time.sleep(4)                 # more attempts, no second warning
    assert len(maildir_files(spool_maildir(inst, "pt-bob"))) == 1
    assert inst.log().count("sender delay notification") == 1


def test_forward_include_is_read_with_the_users_rights(inst):
    """A .forward cannot make local (root) read a file its owner cannot."""
    ensure_user("pt-bob")
    hank = ensure_user("pt-hank")
    fwd = os.path.join(hank.pw_dir, ".forward")
    with open(fwd, "w") as f:
        f.write("# comment line\n:include:/etc/shadow\n")
    os.chown(fwd, hank.pw_uid, hank.pw_gid)
    try:
        host = started(inst, "maximal_queue_lifetime=2s", "minimal_backoff_time=1s",
                       "maximal_backoff_time=1s", "queue_run_delay=1s")
        sendmail(inst, "-f", f"pt-bob@{host}", f"pt-hank@{host}", data=b"Subject: x\n\nx\n")
        inst.wait_log("cannot read include file /etc/shadow")
        inst.wait_log("status=expired", timeout=20)
        [dsn] = wait_mail(inst, "pt-bob")
        assert b"root:" not in read_bytes(dsn)
        assert "root:" not in inst.log()
    finally:
        os.unlink(fwd)


def test_command_time_limit_and_dev_null(inst):
    ensure_user("pt-bob")
    host = started(inst, "command_time_limit=1s")
    write_aliases(inst, "slow: \"|sleep 30\"\nnoisy: \"|head -c 300000 /dev/zero\"\nvoid: /dev/null\n")
    for rcpt in ("slow", "noisy", "void"):
        sendmail(inst, "-f", f"pt-bob@{host}", f"{rcpt}@{host}", data=b"Subject: x\n\nx\n")
    inst.wait_log("command exceeded command_time_limit", timeout=15)
    inst.wait_log("delivered to command: head -c 300000 /dev/zero")
    inst.wait_log("delivered to file: /dev/null")
    # the sleeping command was killed, not left behind
    out = subprocess.run(["pgrep", "-f", "sleep 30"], capture_output=True, text=True).stdout
    assert out.strip() == ""


def test_oversized_local_submission_is_returned(inst):
    ensure_user("pt-bob")
    host = started(inst, "message_size_limit=2000")
    r = sendmail(inst, "-f", f"pt-bob@{host}", f"pt-bob@{host}", data=b"Subject: big\n\n" + b"z" * 5000)
    assert r.returncode == 0      # accepted into maildrop; cleanup refuses it
    [notice] = wait_mail(inst, "pt-bob")
    text = read_bytes(notice)
    assert b"5.3.4" in text and b"message_size_limit" in text
    assert b"zzzz" not in text
    inst.wait_log("rejected: 5.3.4")
    assert os.listdir(os.path.join(inst.queue, "maildrop")) == []


def test_corrupt_maildrop_file_is_not_queued(inst):
    ensure_user("pt-alice")
    inst.init()
    host = myhostname(inst)
    sendmail(inst, "-f", "root", f"pt-alice@{host}", data=b"Subject: x\n\nx\n")
    [name] = os.listdir(os.path.join(inst.queue, "maildrop"))
    path = os.path.join(inst.queue, "maildrop", name)
    data = read_bytes(path)
    os.chmod(path, 0o644)
    with open(path, "wb") as f:     # cut after the recipients, before the end
        f.write(data[:data.index(b"M\x00")] + b"B\x05hello")
    os.chmod(path, 0o444)
    inst.start()
    inst.wait_log("maildrop file is corrupt")
    time.sleep(1)
    assert maildir_files(spool_maildir(inst, "pt-alice")) == []
    assert os.path.exists(os.path.join(inst.queue, "corrupt", name))
    assert not any(fs for _, _, fs in os.walk(os.path.join(inst.queue, "incoming")))
