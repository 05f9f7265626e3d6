"""Invariant 1 of docs/QUEUE.md, checked at the system-call level: nothing
is acknowledged before the queue file and its directory entry are fsynced.
kill -9 and full-disk tests cannot see a missing fsync; this one can.
strace records the order: postdrop must fsync the file and the maildrop
directory before it exits 0; cleanup must fsync the queue file and the
incoming directory before it sends its reply to the client."""
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import ensure_user, myhostname, needs_root, sendmail, wait_mail, wait_for

pytestmark = [needs_root, pytest.mark.skipif(shutil.which("strace") is None, reason="strace missing")]


def synced_paths(lines):
    """(line index, path) of each successful fsync, resolving the fd to the
    file it named at that moment (fds are reused after close)."""
    fds, out = {}, []
    for i, l in enumerate(lines):
        m = re.search(r'open(?:at)?\((?:AT_FDCWD, )?"([^"]+)".*\)\s+=\s+(\d+)$', l)
        if m:
            fds[int(m.group(2))] = m.group(1)
        m = re.match(r"f(?:data)?sync\((\d+)\)\s+=\s+0", l)
        if m:
            out.append((i, fds.get(int(m.group(1)), "?")))
    return out


def test_postdrop_fsyncs_file_and_directory_before_exit_0(inst, tmp_path):
    inst.init()
    host = myhostname(inst)
    trace = tmp_path / "trace"
    env = {k: v for k, v in os.environ.items() if k != "POSTERN_CONFIG_DIR"}
    env["POSTERN_CONFIG_DIR"] = inst.dir
    r = subprocess.run(["strace", "-f", "-qq", "-o", str(trace), "-e",
                        "trace=openat,open,fsync,fdatasync,fchmod,rename,exit_group",
                        os.path.join(inst.stage, "bin", "sendmail"), f"root@{host}"],
                       input=b"Subject: x\n\nx\n", capture_output=True, env=env)
    assert r.returncode == 0, r.stderr
    by_pid = {}
    for l in trace.read_text().splitlines():
        pid, _, rest = l.partition(" ")
        by_pid.setdefault(pid, []).append(rest.strip())
    drops = [ls for ls in by_pid.values() if any("maildrop/tmp." in l for l in ls)]
    assert len(drops) == 1, trace.read_text()
    lines = drops[0]
    synced = [p for _, p in synced_paths(lines)]
    assert any("maildrop/tmp." in p for p in synced), (synced, lines)
    assert any(p.rstrip("/").endswith("maildrop") for p in synced), (synced, lines)
    # both fsyncs come before the exit that tells sendmail "ok"
    last_sync = max(i for i, l in enumerate(lines) if l.startswith(("fsync(", "fdatasync(")))
    exit_at = [i for i, l in enumerate(lines) if l.startswith("exit_group(0)")]
    assert exit_at and last_sync < exit_at[0], lines


def test_cleanup_fsyncs_before_it_replies(inst, tmp_path):
    ensure_user("pt-alice")
    inst.init()
    inst.start()
    host = myhostname(inst)
    trace = tmp_path / "trace"
    master = inst.master_pid()
    st = subprocess.Popen(["strace", "-f", "-qq", "-s", "64", "-o", str(trace), "-p", str(master),
                           "-e", "trace=openat,fsync,fdatasync,sendto,write"],
                          stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)                   # strace attached; new children are followed
        r = sendmail(inst, "-f", "root", f"pt-alice@{host}", data=b"Subject: traced\n\nx\n")
        assert r.returncode == 0
        wait_mail(inst, "pt-alice")
    finally:
        st.terminate()
        st.wait(timeout=10)
    by_pid = {}
    for l in trace.read_text().splitlines():
        pid, _, rest = l.partition(" ")
        by_pid.setdefault(pid, []).append(rest.strip())
    cleanups = [ls for ls in by_pid.values() if any('"incoming/tmp.' in l for l in ls)]
    assert cleanups, "no cleanup process in the trace"
    for lines in cleanups:
        syncs = synced_paths(lines)
        assert any(p == "incoming" for _, p in syncs), (syncs, lines)
        assert any(p.startswith("incoming/tmp.") for _, p in syncs), (syncs, lines)
        reply = [i for i, l in enumerate(lines)
                 if l.startswith(("sendto(", "write(")) and "queue_id" in l and "status" in l
                 and "queued" in l]
        assert reply, lines
        assert max(i for i, _ in syncs) < reply[0], lines
