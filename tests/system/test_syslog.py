"""Logging to syslog (maillog_file empty): facility mail, Postfix's tag
shape. The instance runs in a mount namespace of its own whose /dev/log is
a socket this test reads, so nothing reaches the machine's syslog."""
import os
import re
import shutil
import socket
import subprocess
import time

from conftest import needs_root, wait_for

pytestmark = needs_root


def test_syslog_facility_mail_and_tag(inst, tmp_path):
    if shutil.which("unshare") is None:
        import pytest
        pytest.skip("unshare(1) missing")
    inst.init()
    inst.cmd("conf", "-X", "maillog_file")
    sock_path = str(tmp_path / "log.sock")
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(sock_path)
    os.chmod(sock_path, 0o666)
    rx.settimeout(0.2)
    hostdev = tmp_path / "hostdev"
    hostdev.mkdir()
    postern = os.path.join(inst.stage, "bin", "postern")
    script = f"""set -e
mount --make-rprivate /
mount --bind /dev {hostdev}
mount -t tmpfs tmpfs /dev
for n in null zero urandom random full; do touch /dev/$n; mount --bind {hostdev}/$n /dev/$n; done
touch /dev/log
mount --bind {sock_path} /dev/log
exec {postern} -c {inst.dir} start-fg
"""
    p = subprocess.Popen(["unshare", "--mount", "sh", "-c", script],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    got = []

    def received(text):
        deadline = time.time() + 0.3
        while time.time() < deadline:
            try:
                got.append(rx.recv(8192).decode(errors="replace"))
            except socket.timeout:
                break
        return any(text in g for g in got)

    try:
        wait_for(lambda: received("daemon started"), timeout=15, what="a syslog datagram")
        line = [g for g in got if "daemon started" in g][0]
        # <PRI>: facility mail (2) * 8 + info (6) = 22
        assert re.match(r"^<22>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d postern/master\[\d+\]: daemon started", line), line
        assert not os.path.exists(os.path.join(inst.dir, "maillog"))
    finally:
        p.terminate()
        p.wait(timeout=20)
        rx.close()
    out = p.stdout.read().decode(errors="replace")
    assert p.returncode == 0, out
