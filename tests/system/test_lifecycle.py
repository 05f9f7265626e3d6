"""init, start, status, stop: as root and as a plain user."""
import os
import socket

from conftest import IS_ROOT, alive, needs_root, wait_for, proc_status


def assert_stops_clean(inst):
    master = inst.master_pid()
    assert master > 0
    procs = set(inst.all_processes())
    assert master in procs
    r = inst.stop()
    assert r.returncode == 0, r.stderr
    for pid in procs:
        assert not alive(pid), f"pid {pid} survived stop"
    assert inst.all_processes() == []
    r = inst.status()
    assert r.returncode == 1
    assert "not running" in r.stdout


def lifecycle(inst):
    r = inst.init()
    assert "created an instance" in r.stdout
    for f in ("main.cf", "master.cf"):
        assert os.path.exists(os.path.join(inst.dir, f))
    for d in ("maildrop", "incoming", "active", "deferred", "hold", "corrupt",
              "private", "public", "pid"):
        assert os.path.isdir(os.path.join(inst.queue, d)), d
    assert os.path.isdir(os.path.join(inst.dir, "mail"))
    assert f"127.0.0.1:{inst.port}" in inst.read("master.cf")
    inst.start()
    wait_for(lambda: inst.master_pid(), what="master pid")
    r = inst.status()
    assert r.returncode == 0, r.stderr
    assert "is running" in r.stdout
    assert "postlog" in r.stdout and "unix-dgram" in r.stdout
    assert f"127.0.0.1:{inst.port}" in r.stdout
    inst.wait_log("daemon started")
    assert_stops_clean(inst)


@needs_root
def test_lifecycle_as_root(inst):
    lifecycle(inst)


def test_lifecycle_as_plain_user(user_inst):
    if not IS_ROOT:
        import pytest
        pytest.skip("switching to a plain user needs root")
    lifecycle(user_inst)


@needs_root
def test_plain_user_instance_runs_everything_as_that_user(user_inst):
    user_inst.init()
    user_inst.start()
    user_inst.wait_log("running as non-root user nobody")
    assert user_inst.log().count("running as non-root user") == 1
    nobody = str(__import__("pwd").getpwnam("nobody").pw_uid)
    master = user_inst.master_pid()
    uids = proc_status(master)["Uid"].split()
    assert set(uids) == {nobody}
    # postlogd runs once anything logs; every child is nobody too
    wait_for(lambda: user_inst.children(), what="a child process")
    for pid in user_inst.children():
        assert set(proc_status(pid)["Uid"].split()) == {nobody}


@needs_root
def test_second_master_refused(inst):
    inst.init()
    inst.start()
    first = inst.master_pid()
    r = inst.cmd("start", check=False)
    assert r.returncode != 0
    assert "already running" in r.stderr
    assert inst.master_pid() == first
    # the master itself refuses too, even without the admin command's check
    import subprocess
    r = subprocess.run([os.path.join(inst.stage, "libexec", "master"), "-c", inst.dir, "-f"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert "already running" in r.stderr


@needs_root
def test_stop_when_not_running(inst):
    inst.init()
    r = inst.cmd("stop", check=False)
    assert r.returncode == 1
    assert "not running" in r.stderr


@needs_root
def test_config_dir_from_environment(inst):
    inst.init()
    import subprocess
    r = subprocess.run([os.path.join(inst.stage, "bin", "postern"), "conf", "-h", "queue_directory"],
                       capture_output=True, text=True, env={**os.environ, "POSTERN_CONFIG_DIR": inst.dir})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == inst.queue


@needs_root
def test_init_refuses_to_overwrite(inst):
    inst.init()
    r = inst.cmd("init", check=False)
    assert r.returncode != 0
    assert "exists" in r.stderr


@needs_root
def test_stop_logs_cleanly(inst):
    """master's last lines reach the log; children it stops are not 'killed'."""
    inst.init()
    inst.start()
    inst.wait_log("daemon started")
    inst.stop()
    log = inst.log()
    assert "terminating on signal 15" in log
    assert "postern/master[" in log.splitlines()[-1] and log.rstrip().endswith("stopped")
    assert "killed by signal 15" not in log
