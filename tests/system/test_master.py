"""master: demand-driven children, restarts, throttling, reload, wakeups."""
import os
import re
import signal
import socket
import time

import pytest

from conftest import (alive, connect_unix, echo_banner, needs_root, wait_for, IS_ROOT)

pytestmark = needs_root


def echo_line(inst, name, args="", cols="unix  n  -  n  -  -"):
    return f"{name} {cols} {inst.test_prog('test-echo')} {args}".rstrip()


def sock_path(inst, name, private=False):
    return os.path.join(inst.queue, "private" if private else "public", name)


def talk(inst, name):
    s = connect_unix(sock_path(inst, name))
    svc, pid, gen = echo_banner(s)
    s.sendall(b"hello\n")
    assert s.makefile("r").readline() == "hello\n"
    s.close()
    return pid, gen


def test_service_killed_is_restarted(inst):
    inst.init()
    inst.add_service(echo_line(inst, "echo"))
    inst.start()
    pid1, _ = talk(inst, "echo")
    os.kill(pid1, signal.SIGKILL)
    wait_for(lambda: not alive(pid1), what="killed child to go")
    pid2, _ = talk(inst, "echo")
    assert pid2 != pid1
    inst.wait_log(f"pid {pid1} killed by signal 9")
    assert "throttling" not in inst.log()
    assert "running" in inst.status().stdout


def test_bad_startup_is_throttled_not_forked_in_a_loop(inst):
    inst.init()
    inst.cmd("conf", "-e", "service_throttle_time=3s")
    inst.add_service(echo_line(inst, "bad", "exit-at-start"))
    inst.start()
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path(inst, "bad"))
    inst.wait_log("bad/unix: bad command startup -- throttling for 3 seconds")
    r = inst.status()
    assert re.search(r"^bad\s+unix\s.*throttled", r.stdout, re.M), r.stdout
    time.sleep(1.5)
    # while throttled, no more attempts: one exit logged so far
    assert inst.log().count("exit status 1") == 1
    # after the throttle time, master tries again (and throttles again)
    wait_for(lambda: inst.log().count("exit status 1") >= 2, timeout=8, what="retry after throttle")
    s.close()
    # other services are unaffected
    assert "postlog" in inst.status().stdout


def test_crash_after_ready_is_not_throttled(inst):
    inst.init()
    inst.add_service(echo_line(inst, "crashy", "crash-after-accept"))
    inst.start()
    for _ in range(3):
        s = connect_unix(sock_path(inst, "crashy"))
        echo_banner(s)
        s.close()
    wait_for(lambda: inst.log().count("killed by signal 6") >= 3, what="three aborts")
    assert "throttling" not in inst.log()


def test_reload_adds_and_removes_services(inst):
    inst.init()
    inst.add_service(echo_line(inst, "alpha"))
    inst.start()
    pid_a, gen1 = talk(inst, "alpha")
    mcf = inst.read("master.cf").replace(echo_line(inst, "alpha"), echo_line(inst, "beta"))
    inst.write("master.cf", mcf)
    r = inst.cmd("reload")
    assert "refreshing" in r.stdout
    inst.wait_log("service alpha/unix removed")
    pid_b, gen2 = talk(inst, "beta")
    assert int(gen2) > int(gen1)
    wait_for(lambda: not alive(pid_a), what="alpha's child to stop")
    with pytest.raises(OSError):
        connect_unix(sock_path(inst, "alpha"))
    st = inst.status().stdout
    assert "beta" in st and "alpha" not in st


def test_reload_keeps_listener_and_lets_busy_child_finish(inst):
    inst.init()
    inst.add_service(echo_line(inst, "keep"))
    inst.start()
    busy = connect_unix(sock_path(inst, "keep"))
    _, old_pid, old_gen = echo_banner(busy)
    f = busy.makefile("r")
    inst.cmd("reload")
    # the old child still serves its client after the reload
    busy.sendall(b"still there\n")
    assert f.readline() == "still there\n"
    # new clients get a new-generation child on the same socket
    new_pid, new_gen = talk(inst, "keep")
    assert new_pid != old_pid and int(new_gen) > int(old_gen)
    busy.sendall(b"quit\n")
    busy.close()
    wait_for(lambda: not alive(old_pid), what="old generation child to exit")


def test_signal_hup_reloads(inst):
    inst.init()
    inst.start()
    inst.add_service(echo_line(inst, "late"))
    os.kill(inst.master_pid(), signal.SIGHUP)
    inst.wait_log("reload -- version")
    wait_for(lambda: os.path.exists(sock_path(inst, "late")), what="new socket")
    talk(inst, "late")
    # a reload racing the first children must not look like a bad startup
    assert "throttling" not in inst.log()


def test_max_use_recycles_children(inst):
    """No child serves more than max_use clients. (Which child serves a
    client is up to timing: master may start a second one while the first
    is finishing, so the test counts, it does not expect an order.)"""
    import collections
    inst.init()
    inst.add_service(echo_line(inst, "recycle", "-o max_use=2"))
    inst.start()
    uses = collections.Counter(talk(inst, "recycle")[0] for _ in range(8))
    assert max(uses.values()) <= 2, uses
    assert len(uses) >= 4, uses


def test_max_idle_ends_idle_children(inst):
    inst.init()
    inst.add_service(echo_line(inst, "idle", "-o max_idle=1s"))
    inst.start()
    pid, _ = talk(inst, "idle")
    wait_for(lambda: not alive(pid), timeout=5, what="idle child to exit")


def test_maxproc_limits_children(inst):
    inst.init()
    inst.add_service(echo_line(inst, "limited", cols="unix n - n - 2"))
    inst.start()
    clients = []
    for _ in range(4):
        clients.append(connect_unix(sock_path(inst, "limited")))
    time.sleep(1)
    assert len([p for p in inst.children() if "test-echo" in open(f"/proc/{p}/cmdline").read()]) == 2
    # the two waiting clients are served as the first two leave
    clients[0].close()
    clients[1].close()
    for c in clients[2:]:
        echo_banner(c)
        c.close()


def test_inet_listener(inst):
    inst.init()
    port = __import__("conftest").free_port()
    inst.add_service(echo_line(inst, f"127.0.0.1:{port}", cols="inet n - n - -"))
    inst.start()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    svc, pid, gen = echo_banner(s)
    assert svc == f"127.0.0.1:{port}"
    s.close()


def test_wakeup_triggers(inst):
    inst.init()
    out = os.path.join(inst.queue, "wakeups")
    inst.add_service(f"tick unix n - n 1 1 {inst.test_prog('test-trigger')} {out}")
    inst.start()
    wait_for(lambda: os.path.exists(out) and open(out).read().count(" W") >= 2,
             timeout=6, what="two wakeups")


def test_fifo_trigger_service(inst):
    inst.init()
    out = os.path.join(inst.queue, "fifo-triggers")
    inst.add_service(f"fifo fifo n - n - 1 {inst.test_prog('test-trigger')} {out}")
    inst.start()
    fd = os.open(os.path.join(inst.queue, "public", "fifo"), os.O_WRONLY | os.O_NONBLOCK)
    os.write(fd, b"X")
    os.close(fd)
    wait_for(lambda: os.path.exists(out) and " X" in open(out).read(), what="fifo trigger")


def test_missing_program_is_reported_not_fork_looped(inst):
    inst.init()
    inst.add_service("ghost unix n - n - - no-such-daemon")
    r = inst.cmd("check", check=False)
    assert "no-such-daemon" in r.stderr and "master.cf, line" in r.stderr
    inst.start()
    st = inst.status().stdout
    assert re.search(r"^ghost\s.*disabled.*no-such-daemon", st, re.M), st
    # the services whose programs exist are not affected
    assert not re.search(rf"^127.0.0.1:{inst.port}\s.*disabled", st, re.M), st


def test_log_lines_have_postfix_shape(inst):
    inst.init()
    inst.add_service(echo_line(inst, "echo"))
    inst.start()
    pid, _ = talk(inst, "echo")
    os.kill(pid, signal.SIGKILL)
    inst.wait_log("killed by signal 9")
    line = [l for l in inst.log().splitlines() if "daemon started" in l][0]
    assert re.match(r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ postern/master\[\d+\]: daemon started", line), line
    warn = [l for l in inst.log().splitlines() if "killed by signal 9" in l][0]
    assert re.search(r"postern/master\[\d+\]: warning: process \S+ pid \d+ killed by signal 9$", warn), warn


def test_syslog_name_changes_tag(inst):
    inst.init()
    inst.cmd("conf", "-e", "syslog_name=postfix")
    inst.start()
    inst.wait_log("postfix/master[")


def test_stop_terminates_busy_children(inst):
    inst.init()
    inst.add_service(echo_line(inst, "slow", "sleep 60"))
    inst.start()
    s = connect_unix(sock_path(inst, "slow"))
    _, pid, _ = echo_banner(s)
    inst.stop()
    assert not alive(pid)
    s.close()


def test_log_lines_from_many_processes_never_interleave(inst):
    """Many children log at once; postlogd is the only writer of the file."""
    import threading
    inst.init()
    inst.add_service(echo_line(inst, "chatty", "log"))
    inst.start()
    clients, lines = 8, 300
    payload = "x" * 200

    def client(n):
        s = connect_unix(sock_path(inst, "chatty"), timeout=30)
        f = s.makefile("rw")
        f.readline()
        for i in range(lines):
            f.write(f"c{n} l{i} {payload}\n")
            f.flush()
            f.readline()
        s.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait_for(lambda: inst.log().count("echo: c") == clients * lines, timeout=20,
             what="every echo line in the log")
    shape = re.compile(r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ postern/test-echo\[\d+\]: "
                       r"echo: c\d+ l\d+ x{200}$")
    echoed = [l for l in inst.log().splitlines() if "echo: " in l]
    assert len(echoed) == clients * lines
    bad = [l for l in echoed if not shape.match(l)]
    assert not bad, bad[:3]
    assert len(set(l.split(": ", 1)[1] for l in echoed)) == clients * lines


def test_service_disabled_by_reload_refuses_connections(inst):
    """A service turned off on reload closes its listener: clients fail at
    once rather than wait in a backlog nobody accepts from."""
    inst.init()
    inst.add_service(echo_line(inst, "offsoon"))
    inst.start()
    talk(inst, "offsoon")
    inst.cmd("conf", "-e", "master_service_disable=offsoon/unix")
    inst.cmd("reload")
    st = inst.status().stdout
    assert re.search(r"^offsoon\s.*disabled", st, re.M), st
    with pytest.raises((ConnectionRefusedError, FileNotFoundError)):
        connect_unix(sock_path(inst, "offsoon"), timeout=2)
