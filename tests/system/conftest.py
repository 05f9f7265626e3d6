"""Fixtures for postern's system tests: real instances in temporary
directories, started with the real admin command, inspected through /proc.

As root the suite runs inside a network namespace that tests/run creates, so
every listener is on that namespace's loopback. Tests that need a non-root
user run the commands as 'nobody' through setpriv, from a world-readable
copy of the built programs (the checkout itself may be unreadable to others).
"""
import os
import pwd
import grp
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
IS_ROOT = os.geteuid() == 0


def wait_for(pred, timeout=10.0, interval=0.05, what="condition"):
    """Polls pred() until it returns something true; fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def proc_status(pid):
    """Parsed /proc/PID/status as a dict of str -> str."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def alive(pid):
    """True while pid exists and is not a zombie waiting to be reaped."""
    try:
        return proc_status(pid).get("State", "Z")[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def children_of(pid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if proc_status(int(d)).get("PPid") == str(pid):
                kids.append(int(d))
        except (FileNotFoundError, ProcessLookupError):
            pass
    return kids


def processes_with_env(name, value):
    """pids whose environment has NAME=VALUE (root sees every process)."""
    want = f"{name}={value}".encode()
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                if want in f.read().split(b"\0"):
                    found.append(int(d))
        except OSError:
            pass
    return found


@pytest.fixture(scope="session")
def stage():
    """A world-readable copy of bin/, libexec/ and the test services."""
    d = tempfile.mkdtemp(prefix="postern-stage-")
    os.chmod(d, 0o755)
    for sub, src in (("bin", "bin"), ("libexec", "libexec"), ("test-libexec", "build/test-libexec")):
        shutil.copytree(os.path.join(TOP, src), os.path.join(d, sub))
    for root, dirs, files in os.walk(d):
        for x in dirs:
            os.chmod(os.path.join(root, x), 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


class Instance:
    """One postern instance made by `postern init` in its own directory."""

    def __init__(self, stage, user=None):
        self.stage = stage
        self.user = user
        self.top = tempfile.mkdtemp(prefix="postern-sys-")
        os.chmod(self.top, 0o755)
        self.dir = os.path.join(self.top, "etc")
        self.port = free_port()
        if user:
            pw = pwd.getpwnam(user)
            os.chown(self.top, pw.pw_uid, pw.pw_gid)
        self.started = False

    # -- running commands -------------------------------------------------
    def cmd(self, *args, check=True, env=None, timeout=60):
        argv = [os.path.join(self.stage, "bin", "postern"), "-c", self.dir, *args]
        if self.user:
            pw = pwd.getpwnam(self.user)
            argv = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}",
                    "--clear-groups", *argv]
        e = dict(os.environ)
        e.pop("POSTERN_CONFIG_DIR", None)
        if env:
            e.update(env)
        r = subprocess.run(argv, capture_output=True, text=True, env=e, timeout=timeout,
                           cwd="/")
        if check and r.returncode != 0:
            raise AssertionError(f"postern {' '.join(args)} exited {r.returncode}\n"
                                 f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}")
        return r

    def init(self, *extra):
        return self.cmd("init", "--port", str(self.port), *extra)

    def start(self):
        r = self.cmd("start")
        self.started = True
        return r

    def stop(self):
        r = self.cmd("stop", check=False)
        self.started = False
        return r

    # -- files ------------------------------------------------------------
    @property
    def queue(self):
        return os.path.join(self.dir, "queue")

    @property
    def maillog(self):
        return os.path.join(self.dir, "maillog")

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, text, timeout=10):
        try:
            return wait_for(lambda: text in self.log(), timeout, what=f"log line {text!r}")
        except AssertionError as e:
            raise AssertionError(f"{e}\n--- log:\n{self.log()}") from None

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def read(self, name):
        with open(os.path.join(self.dir, name)) as f:
            return f.read()

    def add_service(self, line):
        self.write("master.cf", self.read("master.cf") + line + "\n")

    def test_prog(self, name):
        return os.path.join(self.stage, "test-libexec", name)

    # -- processes --------------------------------------------------------
    def master_pid(self):
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                return int(f.read().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def children(self):
        return children_of(self.master_pid())

    def all_processes(self):
        """Every process of this instance (master and services)."""
        pids = [p for p in processes_with_env("POSTERN_CONFIG_DIR", self.dir) if alive(p)]
        if self.master_pid() and alive(self.master_pid()):
            pids.append(self.master_pid())
        return pids

    def status(self):
        return self.cmd("status", check=False)

    def cleanup(self):
        if self.started or self.master_pid():
            self.cmd("stop", check=False)
        for pid in processes_with_env("POSTERN_CONFIG_DIR", self.dir):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.top, ignore_errors=True)


def connect_unix(path, timeout=5):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def echo_banner(sock):
    """Reads the test-echo banner: (service, pid, generation)."""
    f = sock.makefile("r")
    line = f.readline().split()
    return line[0], int(line[1]), line[2]


@pytest.fixture
def inst(stage):
    i = Instance(stage)
    yield i
    i.cleanup()


@pytest.fixture
def user_inst(stage):
    i = Instance(stage, user="nobody")
    yield i
    i.cleanup()


needs_root = pytest.mark.skipif(not IS_ROOT, reason="needs root")


# -- mail flow helpers (sendmail in, mailboxes out) --------------------------

def ensure_user(name):
    """A local test account with a home directory (root only)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", "/usr/sbin/nologin", name], check=True,
                       capture_output=True)
        return pwd.getpwnam(name)


def sendmail(inst, *args, data=b"", user=None, env=None, timeout=30):
    """Runs the staged sendmail against inst; returns the CompletedProcess."""
    argv = [os.path.join(inst.stage, "bin", "sendmail"), *args]
    if user:
        pw = pwd.getpwnam(user)
        argv = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups", *argv]
    e = {k: v for k, v in os.environ.items() if k != "POSTERN_CONFIG_DIR"}
    e["POSTERN_CONFIG_DIR"] = inst.dir
    if env:
        e.update(env)
    if isinstance(data, str):
        data = data.encode()
    return subprocess.run(argv, input=data, capture_output=True, env=e, timeout=timeout, cwd="/")


def maildir_files(path):
    new = os.path.join(path, "new")
    try:
        return sorted(os.path.join(new, f) for f in os.listdir(new))
    except FileNotFoundError:
        return []


def spool_maildir(inst, user):
    return os.path.join(inst.dir, "mail", user)


def wait_mail(inst, user, count=1, timeout=20):
    """Waits until the instance's spool Maildir of user holds count messages."""
    path = spool_maildir(inst, user)
    try:
        return wait_for(lambda: len(maildir_files(path)) >= count and maildir_files(path),
                        timeout, what=f"{count} message(s) for {user}")
    except AssertionError as e:
        raise AssertionError(f"{e}\n--- log:\n{inst.log()}") from None


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def myhostname(inst):
    return inst.cmd("conf", "-h", "-x", "myhostname").stdout.strip()



# -- a DNS server for lib/dns tests -----------------------------------------
# dnsmasq (Debian's dnsmasq-base) on 127.0.0.53:53, the address tests/run
# writes into the namespace's resolv.conf. It answers only from the records
# it is given: --no-resolv --no-hosts and no upstream except dead loopback
# ones, so nothing is ever forwarded off this machine. Names under the test
# zones that have no record are NXDOMAIN; names outside them are REFUSED.

DNS_ADDR = "127.0.0.53"


NET_IF = "ptnet0"


def in_own_netns():
    """True in a network namespace like tests/run's: loopback is the only
    interface (nothing can leave) besides the remote_net fixture's dummy
    NET_IF, and resolv.conf names only DNS_ADDR."""
    names = [name for _, name in socket.if_nameindex()]
    if "lo" not in names or set(names) - {"lo", NET_IF}:
        return False
    try:
        with open("/etc/resolv.conf") as f:
            servers = [l.split()[1] for l in f if l.startswith("nameserver") and len(l.split()) > 1]
    except OSError:
        return False
    return servers == [DNS_ADDR]


class DnsServer:
    """One dnsmasq serving records, a list of tuples:
    ("MX", name, pref, target), ("NULLMX", name), ("A", name, addr),
    ("AAAA", name, addr), ("CNAME", alias, target) and ("SERVFAIL", name),
    which forwards name to a dead loopback port so no answer ever comes
    (clients see a timeout: give them RES_OPTIONS="timeout:1 attempts:1").
    """

    def __init__(self, records, zones=("test",)):
        self.dir = tempfile.mkdtemp(prefix="postern-dns-")
        self.logfile = os.path.join(self.dir, "log")
        lines = ["no-resolv", "no-hosts", "no-poll", "bind-interfaces",
                 f"listen-address={DNS_ADDR}", "port=53", "log-queries",
                 f"log-facility={self.logfile}"]
        lines += [f"local=/{z}/" for z in zones]
        for r in records:
            lines.append(self._line(r))
        self.conf = os.path.join(self.dir, "dnsmasq.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = subprocess.Popen(
            ["dnsmasq", f"--conf-file={self.conf}", "--keep-in-foreground",
             "--user=root", "--group=root", "--pid-file="],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for(self._listening, 10, what="dnsmasq listening")
        except AssertionError:
            self.stop()
            raise

    @staticmethod
    def _line(r):
        kind, name = r[0], r[1]
        for part in r[1:]:
            if any(c in str(part) for c in ",/#\n\0 "):
                raise ValueError(f"unsafe DNS test record {r!r}")
        if kind == "MX":
            return f"mx-host={name},{r[3]},{r[2]}"
        if kind == "NULLMX":
            return f"mx-host={name},.,0"
        if kind in ("A", "AAAA"):
            return f"host-record={name},{r[2]}"
        if kind == "CNAME":
            return f"cname={name},{r[2]}"
        if kind == "SERVFAIL":
            return f"server=/{name}/127.0.0.1#9"
        raise ValueError(f"unknown DNS test record {r!r}")

    def _listening(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"dnsmasq exited {self.proc.returncode}: "
                                 f"{self.proc.stderr.read().decode(errors='replace')}")
        s = socket.socket()
        try:
            s.connect((DNS_ADDR, 53))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, 9)
                self.proc.wait()
        self.proc.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def dns_server():
    """A factory: dns_server(records, zones=("test",)) starts a DnsServer
    (see there) and returns it; every one started is stopped afterwards.
    Skipped unless root inside a network namespace of its own (tests/run
    makes one), where 127.0.0.53 belongs to no real resolver."""
    if not IS_ROOT or not in_own_netns():
        pytest.skip("needs root in a private network namespace (tests/run)")
    if shutil.which("dnsmasq") is None:
        pytest.skip("dnsmasq is not installed (tools/install-deps test)")
    started = []

    def start(records, zones=("test",)):
        srv = DnsServer(records, zones)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


# -- "remote" hosts inside the namespace -------------------------------------
# A dummy interface (or a bridge without ports where the kernel has no dummy
# module) in the (already private) namespace carries documentation
# addresses that stand for other hosts: servers listen on them, and packets
# to an address of the subnet that no one has vanish (connect times out).

class RemoteNet:
    """NET_IF with V4 addresses 192.0.2.1 and .10-.19 (/24), and V6
    2001:db8::1 and ::10-::13 (/64). UNUSED_V4 is in the subnet but
    assigned to nothing: connections to it time out."""
    V4 = ["192.0.2.1"] + [f"192.0.2.{i}" for i in range(10, 20)]
    V6 = ["2001:db8::1"] + [f"2001:db8::{i}" for i in range(10, 14)]
    UNUSED_V4 = "192.0.2.99"

    def __init__(self):
        def ip(*args):
            subprocess.run(["ip", *args], check=True, capture_output=True)
        try:
            ip("link", "add", NET_IF, "type", "dummy")
        except subprocess.CalledProcessError:
            # No dummy module (containers): a bridge without ports acts the
            # same, its own addresses answer and the rest of the subnet is silent.
            ip("link", "add", NET_IF, "type", "bridge")
        try:
            for a in self.V4:
                ip("addr", "add", f"{a}/24", "dev", NET_IF)
            for a in self.V6:
                ip("-6", "addr", "add", f"{a}/64", "dev", NET_IF, "nodad")
            ip("link", "set", NET_IF, "up")
        except subprocess.CalledProcessError:
            self.remove()
            raise

    def remove(self):
        subprocess.run(["ip", "link", "del", NET_IF], capture_output=True)


@pytest.fixture
def remote_net():
    """RemoteNet, removed at teardown. Skipped unless root inside a network
    namespace of its own (tests/run makes one): never on the host's net."""
    if not IS_ROOT or not in_own_netns():
        pytest.skip("needs root in a private network namespace (tests/run)")
    net = RemoteNet()
    yield net
    net.remove()


# -- certificates for TLS tests ------------------------------------------------

class CertAuthority:
    """A test CA made with the openssl command, and certificates it issues
    on demand: issue(name, *alt_names, expired=False, client=False) returns
    (cert_path, key_path); the cert file holds the leaf then the CA.
    Files are world-readable (the key too: test material only) so that
    daemons running as other users can read them."""

    def __init__(self, top):
        self.dir = top
        os.chmod(top, 0o755)
        self.ca_key = os.path.join(top, "ca.key")
        self.ca = os.path.join(top, "ca.pem")
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                      "-nodes", "-keyout", self.ca_key, "-out", self.ca, "-days", "30",
                      "-subj", "/CN=postern test CA")
        self.issued = {}
        self.serial = 1

    def _openssl(self, *args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=self.dir)

    def issue(self, name, *alt_names, expired=False, client=False):
        tag = (name, alt_names, expired, client)
        if tag in self.issued:
            return self.issued[tag]
        self.serial += 1
        base = os.path.join(self.dir, f"c{self.serial}")
        key, csr, crt, full = base + ".key", base + ".csr", base + ".crt", base + ".pem"
        ext = base + ".ext"
        sans = ",".join(("IP:" if a.replace(".", "").isdigit() or ":" in a else "DNS:") + a
                        for a in (name, *alt_names))
        with open(ext, "w") as f:
            f.write(f"subjectAltName={sans}\n"
                    f"extendedKeyUsage={'clientAuth' if client else 'serverAuth'}\n"
                    "basicConstraints=CA:FALSE\n")
        self._openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                      "-subj", f"/CN={name}")
        if expired:
            # openssl ca takes explicit dates: valid for one day in 2020
            db, cnf = base + ".idx", base + ".cnf"
            open(db, "w").close()
            with open(cnf, "w") as f:
                f.write(f"[ca]\ndefault_ca=t\n[t]\ndatabase={db}\nnew_certs_dir={self.dir}\n"
                        f"serial={base}.srl\ndefault_md=sha256\npolicy=p\ncopy_extensions=copy\n"
                        "[p]\ncommonName=supplied\n")
            with open(base + ".srl", "w") as f:
                f.write(f"{self.serial:04X}\n")
            self._openssl("ca", "-batch", "-config", cnf, "-cert", self.ca, "-keyfile", self.ca_key,
                          "-in", csr, "-out", crt, "-startdate", "20200101000000Z",
                          "-enddate", "20200102000000Z", "-extfile", ext, "-notext")
        else:
            self._openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key,
                          "-set_serial", str(self.serial), "-days", "30", "-sha256",
                          "-extfile", ext, "-out", crt)
        with open(full, "w") as f:
            f.write(open(crt).read() + open(self.ca).read())
        for p in (key, full, self.ca):
            os.chmod(p, 0o644)
        self.issued[tag] = (full, key)
        return full, key

    def fingerprint(self, cert):
        """Postfix's sha256 fingerprint form (AB:CD:...) of cert's leaf."""
        r = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha256"],
                           check=True, capture_output=True, text=True)
        return r.stdout.strip().split("=", 1)[1]


@pytest.fixture(scope="session")
def tls_ca():
    """CertAuthority for the session (certificates are made once and reused)."""
    d = tempfile.mkdtemp(prefix="postern-tls-")
    yield CertAuthority(d)
    shutil.rmtree(d, ignore_errors=True)
