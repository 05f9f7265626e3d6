"""docs/QUEUE.md's invariants under faults: kill -9 of any daemon at random
moments loses no accepted message; a full queue file system makes sendmail
say EX_TEMPFAIL and loses nothing already accepted."""
import collections
import os
import random
import re
import signal
import subprocess
import threading
import time

from conftest import (ensure_user, maildir_files, myhostname, needs_root, read_bytes, sendmail,
                      spool_maildir, wait_for)

pytestmark = needs_root

VICTIMS = ("pickup", "cleanup", "qmgr", "local", "trivial-rewrite")


def fast_retries(inst):
    inst.cmd("conf", "-e", "minimal_backoff_time=1s", "maximal_backoff_time=2s", "queue_run_delay=1s")
    mcf = inst.read("master.cf")
    mcf = re.sub(r"^(pickup\s+unix\s+\S+\s+\S+\s+\S+\s+)60", r"\g<1>1", mcf, flags=re.M)
    inst.write("master.cf", mcf)


def daemon_pids(inst):
    out = {}
    for pid in inst.children():
        try:
            name = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0].decode()
        except OSError:
            continue
        out.setdefault(os.path.basename(name), []).append(pid)
    return out


def ids_delivered(inst, user):
    seen = collections.Counter()
    for path in maildir_files(spool_maildir(inst, user)):
        m = re.search(rb"\nX-Test-Id: (\d+)\n", read_bytes(path))
        if m:
            seen[int(m.group(1))] += 1
    return seen


def test_kill_9_during_a_run_loses_nothing(inst):
    ensure_user("pt-alice")
    inst.init()
    fast_retries(inst)
    inst.start()
    host = myhostname(inst)
    total, accepted, stop = 1000, set(), threading.Event()
    kills = collections.Counter()

    def killer():
        rnd = random.Random(4242)
        while not stop.is_set():
            time.sleep(rnd.uniform(0.02, 0.15))
            pids = daemon_pids(inst)
            name = rnd.choice(VICTIMS)
            if pids.get(name):
                try:
                    os.kill(rnd.choice(pids[name]), signal.SIGKILL)
                    kills[name] += 1
                except ProcessLookupError:
                    pass

    def submit(ids):
        for i in ids:
            r = sendmail(inst, "-f", "root", f"pt-alice@{host}",
                         data=f"Subject: chaos {i}\nX-Test-Id: {i}\n\n{'x' * 200}\n")
            if r.returncode == 0:
                accepted.add(i)

    k = threading.Thread(target=killer)
    k.start()
    workers = [threading.Thread(target=submit, args=(range(n, total, 4),)) for n in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop.set()
    k.join()
    assert sum(kills.values()) > 20, kills
    assert len(accepted) >= total * 0.99, f"only {len(accepted)} submissions succeeded"
    try:
        wait_for(lambda: set(ids_delivered(inst, "pt-alice")) >= accepted, timeout=180,
                 interval=0.5, what="every accepted message delivered")
    finally:
        seen = ids_delivered(inst, "pt-alice")
        lost = sorted(accepted - set(seen))
        dups = {i: n for i, n in seen.items() if n > 1}
        print(f"\nkill -9 run: {len(accepted)} accepted, {len(seen)} delivered, lost {len(lost)}, "
              f"duplicates {len(dups)} ({sum(dups.values()) - len(dups)} extra copies), kills {dict(kills)}")
    assert lost == []


def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", path], check=True)


def fill(path, leave):
    """Fills the file system of path, then gives back `leave` bytes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            while True:
                os.write(fd, b"\0" * size)
    except OSError:
        pass
    size = os.fstat(fd).st_size
    os.ftruncate(fd, max(0, size - leave))
    os.close(fd)


def test_full_queue_filesystem(inst):
    ensure_user("pt-alice")
    inst.init()
    fast_retries(inst)
    q = os.path.join(inst.top, "smallq")
    mount_tmpfs(q, "4m")
    try:
        inst.cmd("conf", "-e", f"queue_directory={q}")
        inst.cmd("check")
        inst.start()
        host = myhostname(inst)
        filler = os.path.join(q, "filler")
        # room for the maildrop copy of a 100 KB message, not for its queue file
        fill(filler, 160 * 1024)
        r = sendmail(inst, "-f", "root", f"pt-alice@{host}",
                     data=b"Subject: early\nX-Test-Id: 1\n\n" + b"x" * 100000)
        assert r.returncode == 0, r.stderr
        inst.wait_log("No space left on device")
        # no room at all now: sendmail says "try again later", leaves nothing behind
        before = set(os.listdir(os.path.join(q, "maildrop")))
        r = sendmail(inst, "-f", "root", f"pt-alice@{host}", data=b"Subject: big\n\n" + b"y" * 300000)
        assert r.returncode == 75, (r.returncode, r.stderr)
        assert set(os.listdir(os.path.join(q, "maildrop"))) == before
        time.sleep(1)
        assert maildir_files(spool_maildir(inst, "pt-alice")) == []
        # the accepted message waits in maildrop/; space comes back; it is delivered
        assert len(before) == 1
        os.unlink(filler)
        wait_for(lambda: ids_delivered(inst, "pt-alice").get(1), timeout=60, interval=0.5,
                 what="the accepted message after space came back")
    finally:
        inst.stop()
        subprocess.run(["umount", "-l", q])
