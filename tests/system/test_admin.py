"""postern conf and postern check, through the real command."""
import os
import re

from conftest import needs_root

pytestmark = needs_root


def test_conf_shows_defaults_set_values_and_names(inst):
    inst.init()
    r = inst.cmd("conf", "-d")
    assert "max_use = 100\n" in r.stdout
    assert "syslog_name = postern\n" in r.stdout
    assert "mydestination = $myhostname, localhost.$mydomain, localhost\n" in r.stdout
    r = inst.cmd("conf", "-n")
    names = [l.split(" =")[0] for l in r.stdout.splitlines()]
    assert "queue_directory" in names and "maillog_file" in names
    assert "max_use" not in names
    r = inst.cmd("conf", "queue_directory", "max_use")
    assert r.stdout == f"queue_directory = {inst.queue}\nmax_use = 100\n"
    r = inst.cmd("conf", "-h", "max_use")
    assert r.stdout == "100\n"
    r = inst.cmd("conf", "-x", "-h", "myorigin")
    assert r.stdout.strip() == inst.cmd("conf", "-h", "-x", "myhostname").stdout.strip()
    r = inst.cmd("conf", "no_such_parameter", check=False)
    assert r.returncode == 1
    assert "no_such_parameter: unknown parameter" in r.stderr


def test_conf_edit_keeps_comments(inst):
    inst.init()
    before = inst.read("main.cf")
    inst.cmd("conf", "-e", "max_use=7", "myorigin = example.com")
    after = inst.read("main.cf")
    assert "max_use = 7\n" in after and "myorigin = example.com\n" in after
    # every original line is still there, comments included
    for line in before.splitlines():
        assert line in after.splitlines()
    assert inst.cmd("conf", "-h", "max_use").stdout == "7\n"
    inst.cmd("conf", "-e", "max_use=9")
    assert inst.read("main.cf").count("max_use") == 1
    inst.cmd("conf", "-X", "max_use")
    assert "max_use" not in inst.read("main.cf")
    assert inst.cmd("conf", "-h", "max_use").stdout == "100\n"


def test_check_reports_problems_with_file_and_line(inst):
    inst.init()
    main = inst.read("main.cf")
    inst.write("main.cf", main + "no_such_thing = 1\nmax_use = lots\nthis is not a setting\n")
    inst.add_service("broken unix n - n - - ")
    inst.add_service("weird sometype n - n - - test-echo")
    r = inst.cmd("check", check=False)
    assert r.returncode == 1
    nmain = len(main.splitlines())
    err = r.stderr
    assert re.search(rf"main\.cf, line {nmain + 1}: .*unknown parameter.*no_such_thing", err), err
    assert re.search(r"max_use", err) and "lots" in err, err
    assert re.search(rf"main\.cf, line {nmain + 3}: ", err), err
    assert re.search(r"master\.cf, line \d+: .*sometype", err), err
    assert "check found" in err
    # start refuses a broken configuration
    r = inst.cmd("start", check=False)
    assert r.returncode != 0
    assert inst.master_pid() == 0


def test_check_passes_on_fresh_instance(inst):
    inst.init()
    r = inst.cmd("check")
    assert r.returncode == 0


def test_user_defined_variables_are_not_unknown(inst):
    inst.init()
    inst.write("main.cf", inst.read("main.cf") + "my_domains = a.example b.example\n"
               "mydestination = localhost, $my_domains\n")
    r = inst.cmd("check")
    assert "my_domains" not in r.stderr
    assert inst.cmd("conf", "-x", "-h", "mydestination").stdout.strip() == "localhost, a.example b.example"


def test_maillog_file_stdout_in_foreground(inst):
    """start-fg with maillog_file = /dev/stdout: the container setup."""
    import subprocess, time, signal
    inst.init()
    inst.cmd("conf", "-e", "maillog_file=/dev/stdout")
    p = subprocess.Popen([os.path.join(inst.stage, "bin", "postern"), "-c", inst.dir, "start-fg"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 10
        seen = ""
        while "daemon started" not in seen and time.time() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            seen += line
        assert re.search(r"postern/master\[\d+\]: daemon started", seen), seen
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=15)
    assert p.returncode == 0


def test_make_install_layout(tmp_path):
    import subprocess
    from conftest import TOP
    dest = tmp_path / "dest"
    r = subprocess.run(["make", "-C", TOP, "--no-print-directory", "install", f"DESTDIR={dest}"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert os.access(dest / "usr/sbin/postern", os.X_OK)
    assert os.access(dest / "usr/libexec/postern/master", os.X_OK)
    assert os.access(dest / "usr/libexec/postern/postlogd", os.X_OK)
    for daemon in ("pickup", "cleanup", "qmgr", "trivial-rewrite", "local", "bounce", "showq", "smtpd"):
        assert os.access(dest / "usr/libexec/postern" / daemon, os.X_OK), daemon
    for cmd in ("sendmail", "postdrop", "postqueue"):
        assert os.access(dest / "usr/sbin" / cmd, os.X_OK), cmd
    assert os.readlink(dest / "usr/sbin/mailq") == "sendmail"
    assert os.readlink(dest / "usr/sbin/newaliases") == "sendmail"
    for page in ("man1/sendmail.1", "man1/mailq.1", "man5/aliases.5", "man8/qmgr.8", "man8/local.8",
                 "man8/smtpd.8"):
        assert (dest / "usr/share/man" / page).exists(), page
    assert (dest / "usr/share/man/man1/postern.1").exists()
    assert (dest / "etc/postern/main.cf").exists()
    mcf = (dest / "etc/postern/master.cf").read_text()
    assert re.search(r"^smtp\s+inet\s", mcf, re.M), mcf
    assert "@SMTP_LISTEN@" not in mcf
    # an installed postern finds its daemons in libexec/postern
    inst_dir = tmp_path / "instance"
    r = subprocess.run([str(dest / "usr/sbin/postern"), "-c", str(inst_dir), "init"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert f"daemon_directory = {dest}/usr/libexec/postern" in (inst_dir / "main.cf").read_text()
    # an existing configuration is never overwritten
    (dest / "etc/postern/main.cf").write_text("# mine\n")
    subprocess.run(["make", "-C", TOP, "--no-print-directory", "install", f"DESTDIR={dest}"], capture_output=True, check=True)
    assert (dest / "etc/postern/main.cf").read_text() == "# mine\n"


def test_check_creates_missing_accounts_as_root(inst):
    import grp, pwd, subprocess
    inst.init()
    user, group = "pt-test-owner", "pt-test-drop"
    for cmd in (["userdel", user], ["groupdel", group]):
        subprocess.run(cmd, capture_output=True)
    inst.cmd("conf", "-e", f"mail_owner={user}", f"setgid_group={group}")
    try:
        r = inst.cmd("check")
        assert f"creating user {user}" in r.stderr
        pw = pwd.getpwnam(user)
        assert pw.pw_uid != 0
        assert grp.getgrnam(group)
        assert os.stat(os.path.join(inst.queue, "incoming")).st_uid == pw.pw_uid
    finally:
        subprocess.run(["userdel", user], capture_output=True)
        subprocess.run(["groupdel", group], capture_output=True)


def test_makedefs_names_the_missing_package(tmp_path):
    """A dependency pkg-config cannot find is named with its Debian package."""
    import subprocess
    from conftest import TOP
    fake = tmp_path / "bin"
    fake.mkdir()
    real = subprocess.run(["sh", "-c", "command -v pkg-config"], capture_output=True, text=True).stdout.strip()
    (fake / "pkg-config").write_text(
        "#!/bin/sh\ncase \"$*\" in *libsasl2*) exit 1;; esac\nexec " + real + " \"$@\"\n")
    (fake / "pkg-config").chmod(0o755)
    out = tmp_path / "makedefs.out"
    r = subprocess.run([os.path.join(TOP, "makedefs"), str(out)], capture_output=True, text=True,
                       env={**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}, cwd=TOP)
    assert r.returncode != 0
    assert "libsasl2-dev" in r.stderr
    assert "libssl-dev" not in r.stderr
    assert not out.exists()
    r = subprocess.run([os.path.join(TOP, "makedefs"), str(out)], capture_output=True, text=True, cwd=TOP)
    assert r.returncode == 0, r.stderr
    assert "SASL_LIBS = -lsasl2" in out.read_text()


def test_make_run_starts_a_working_instance_in_the_foreground(tmp_path):
    """The README's first command, as written (in a scratch copy of the tree)."""
    import shutil, signal, subprocess, time
    from conftest import TOP, free_port
    tree = tmp_path / "tree"
    shutil.copytree(TOP, tree, ignore=shutil.ignore_patterns(".git", ".run", "build", "__pycache__"),
                    symlinks=True)
    port = free_port()
    p = subprocess.Popen(["make", "--no-print-directory", "run", f"PORT={port}"], cwd=tree,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)
    seen = ""
    try:
        deadline = time.time() + 240
        while "daemon started" not in seen and time.time() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            seen += line
        assert "daemon started" in seen, seen[-3000:]
        r = subprocess.run([str(tree / "bin/postern"), "-c", str(tree / ".run"), "status"],
                           capture_output=True, text=True)
        assert r.returncode == 0 and "is running" in r.stdout, r.stdout + r.stderr
        assert f"127.0.0.1:{port}" in r.stdout
    finally:
        os.killpg(p.pid, signal.SIGINT)
        p.wait(timeout=30)
    r = subprocess.run([str(tree / "bin/postern"), "-c", str(tree / ".run"), "status"],
                       capture_output=True, text=True)
    assert "not running" in r.stdout


def test_check_without_main_cf_is_an_error(tmp_path):
    import subprocess
    from conftest import TOP
    r = subprocess.run([os.path.join(TOP, "bin/postern"), "-c", str(tmp_path / "nowhere"), "check"],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert "main.cf" in r.stderr and "error:" in r.stderr
    assert not (tmp_path / "nowhere").exists()


def test_misspelt_override_is_reported(inst):
    inst.init()
    inst.add_service("typo unix n - n - - test-echo -o max_uses=3")
    r = inst.cmd("check", check=False)
    assert re.search(r"master\.cf, line \d+: .*-o max_uses: unknown parameter", r.stderr), r.stderr


def test_conf_shows_config_directory_in_use(inst):
    inst.init()
    assert inst.cmd("conf", "-h", "config_directory").stdout.strip() == inst.dir
    r = inst.cmd("conf", "-X", "no_such_name")
    assert "setting it anyway" not in r.stderr


def test_check_honours_process_id_directory(inst):
    inst.init()
    inst.cmd("conf", "-e", "process_id_directory=run")
    inst.cmd("check")
    assert os.path.isdir(os.path.join(inst.queue, "run"))
    inst.start()
    assert os.path.exists(os.path.join(inst.queue, "run", "master.pid"))
    assert "is running" in inst.status().stdout
    inst.stop()
