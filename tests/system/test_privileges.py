"""As root: services run as mail_owner, with no way back to root, and
chrooted into the queue directory where master.cf says so."""
import grp
import os
import pwd

from conftest import connect_unix, echo_banner, needs_root, proc_status, wait_for

pytestmark = needs_root


def ids_of(pid):
    st = proc_status(pid)
    return st["Uid"].split(), st["Gid"].split(), st["Groups"].split(), st


def test_services_run_as_mail_owner_in_chroot(inst):
    inst.init()
    inst.add_service(f"jailed unix n - y - - {inst.test_prog('test-echo')}")
    inst.add_service(f"free unix n - n - - {inst.test_prog('test-echo')}")
    inst.start()
    pw = pwd.getpwnam("postern")
    uid, gid = str(pw.pw_uid), str(pw.pw_gid)
    held = []
    for name, chrooted in (("jailed", True), ("free", False)):
        s = connect_unix(os.path.join(inst.queue, "public", name))
        _, pid, _ = echo_banner(s)
        held.append(s)
        uids, gids, groups, st = ids_of(pid)
        assert uids == [uid] * 4, (name, st["Uid"])
        assert gids == [gid] * 4, (name, st["Gid"])
        assert set(groups) <= {gid}, (name, groups)
        assert st["CapEff"] == "0000000000000000"
        assert st["CapPrm"] == "0000000000000000"
        root = os.readlink(f"/proc/{pid}/root")
        if chrooted:
            assert os.path.realpath(root) == os.path.realpath(inst.queue)
        else:
            assert root == "/"
    # master itself stays root, and is the only root process of the instance
    assert proc_status(inst.master_pid())["Uid"].split()[0] == "0"
    for pid in inst.children():
        assert proc_status(pid)["Uid"].split() == [uid] * 4
    for s in held:
        s.close()


def test_postlogd_drops_privileges_after_opening_the_log(inst):
    inst.init()
    inst.start()
    inst.wait_log("daemon started")
    pw = pwd.getpwnam("postern")
    pids = wait_for(lambda: inst.children(), what="postlogd")
    for pid in pids:
        assert proc_status(pid)["Uid"].split() == [str(pw.pw_uid)] * 4
    # the log file stays root's: a compromised daemon cannot truncate it
    assert os.stat(inst.maillog).st_uid == 0


def test_queue_tree_ownership_and_repair(inst):
    inst.init()
    pw = pwd.getpwnam("postern")
    drop = grp.getgrnam("postdrop")
    q = inst.queue
    expect = {
        "": (0, 0o755), "pid": (0, 0o755), "private": (pw.pw_uid, 0o700),
        "public": (pw.pw_uid, 0o710), "maildrop": (pw.pw_uid, 0o1770),
        "incoming": (pw.pw_uid, 0o700), "deferred": (pw.pw_uid, 0o700),
    }
    for d, (uid, mode) in expect.items():
        st = os.stat(os.path.join(q, d))
        assert (st.st_uid, st.st_mode & 0o7777) == (uid, mode), d
    assert os.stat(os.path.join(q, "maildrop")).st_gid == drop.gr_gid
    assert os.stat(os.path.join(q, "public")).st_gid == drop.gr_gid
    # break things; check repairs them
    os.chmod(os.path.join(q, "incoming"), 0o777)
    os.chown(os.path.join(q, "active"), 0, 0)
    os.rmdir(os.path.join(q, "hold"))
    r = inst.cmd("check")
    assert "owner set" in r.stderr
    assert os.stat(os.path.join(q, "incoming")).st_mode & 0o7777 == 0o700
    assert os.stat(os.path.join(q, "active")).st_uid == pw.pw_uid
    assert os.path.isdir(os.path.join(q, "hold"))


def test_mail_owner_root_refused(inst):
    inst.init()
    inst.cmd("conf", "-e", "mail_owner=root")
    r = inst.cmd("start", check=False)
    assert r.returncode != 0
    assert "uid 0" in r.stderr
