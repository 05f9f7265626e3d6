"""trivial-rewrite's resolve through the real daemon: the tests speak the
attribute protocol (lib/attr.h) to private/rewrite as qmgr does, so each
answer (class, transport, nexthop, flags, dsn, reason) is checked exactly
and nothing depends on a delivery agent; two tests then follow a message
through qmgr to the log line that error: and retry: routes lead to.
"""
import os
import re
import socket
import struct
import time

import pytest

from conftest import myhostname, needs_root, sendmail, wait_for

pytestmark = needs_root


# -- the attribute protocol: u32 BE body length, then (u16 name length,
#    name, u32 value length, value) for each attribute --------------------

def encode(attrs):
    body = b""
    for name, value in attrs:
        n, v = name.encode(), value.encode()
        body += struct.pack(">H", len(n)) + n + struct.pack(">I", len(v)) + v
    return struct.pack(">I", len(body)) + body


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError("rewrite service closed the connection")
        data += chunk
    return data


def read_frame(s):
    (length,) = struct.unpack(">I", recv_exact(s, 4))
    body, attrs, i = recv_exact(s, length), {}, 0
    while i < length:
        (nl,) = struct.unpack(">H", body[i:i + 2])
        name = body[i + 2:i + 2 + nl].decode()
        i += 2 + nl
        (vl,) = struct.unpack(">I", body[i:i + 4])
        attrs.setdefault(name, body[i + 4:i + 4 + vl].decode())
        i += 4 + vl
    assert i == length, "trailing bytes in frame"
    return attrs


class Rewrite:
    """A client connection to private/rewrite."""

    def __init__(self, inst):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(os.path.join(inst.queue, "private", "rewrite"))
        greeting = read_frame(self.s)
        assert greeting == {"protocol": "trivial_rewrite", "version": "1"}

    def resolve(self, address):
        self.s.sendall(encode([("request", "resolve"), ("address", address)]))
        return read_frame(self.s)

    def close(self):
        self.s.close()


def route(reply):
    return (reply["class"], reply["transport"], reply["nexthop"], reply["flags"])


TRANSPORT = """\
# transport(5) for the test
user@order.test        t-full:full.hop
order.test             t-domain:domain.hop
.order.test            t-parent:parent.hop
both.test              lmtp:[10.0.0.1]:24
tonly.test             special:
honly.test             :[hop.test]
relay.test             :[inner.test]:2525
blocked.test           error:5.7.1 no mail for you
later.test             retry:try later
"""


def start(inst, *conf, table=TRANSPORT):
    """init + transport file + conf settings + start; returns myhostname."""
    inst.init()
    path = os.path.join(inst.dir, "transport")
    inst.write("transport", table)
    os.chmod(path, 0o644)
    inst.cmd("conf", "-e", f"transport_maps=texthash:{path}", "relay_domains=relay.test, other-relay.test",
             "inet_interfaces=127.0.0.1", "proxy_interfaces=192.0.2.7", *conf)
    inst.start()
    return myhostname(inst)


def test_resolve_classes(inst):
    host = start(inst)
    rw = Rewrite(inst)
    try:
        assert route(rw.resolve(f"User@{host.upper()}")) == ("local", "local", host, "")
        assert rw.resolve(f"User@{host.upper()}")["recipient"] == f"User@{host}"
        assert route(rw.resolve("u@other-relay.test")) == ("relay", "relay", "other-relay.test", "")
        assert route(rw.resolve("u@far.test")) == ("default", "smtp", "far.test", "")
        assert route(rw.resolve("u@[127.0.0.1]")) == ("local", "local", host, "literal")
        assert route(rw.resolve("u@[192.0.2.7]")) == ("local", "local", host, "literal")
        assert route(rw.resolve("u@[192.0.2.8]")) == ("default", "smtp", "[192.0.2.8]", "literal")
        assert route(rw.resolve("u@[IPv6:2001:db8::1]")) == ("default", "smtp", "[2001:db8::1]", "literal")
        bad = rw.resolve("u@[1.2.3]")
        assert (bad["class"], bad["dsn"], bad["reason"]) == ("error", "5.1.3", "bad address syntax")
    finally:
        rw.close()


def test_resolve_transport_maps(inst):
    start(inst)
    rw = Rewrite(inst)
    try:
        assert route(rw.resolve("user@order.test")) == ("default", "t-full", "full.hop", "routed")
        assert route(rw.resolve("other@order.test")) == ("default", "t-domain", "domain.hop", "routed")
        assert route(rw.resolve("u@a.b.order.test")) == ("default", "t-parent", "parent.hop", "routed")
        assert route(rw.resolve("u@both.test")) == ("default", "lmtp", "[10.0.0.1]:24", "routed")
        assert route(rw.resolve("u@tonly.test")) == ("default", "special", "tonly.test", "")
        assert route(rw.resolve("u@honly.test")) == ("default", "smtp", "[hop.test]", "routed")
        assert route(rw.resolve("u@relay.test")) == ("relay", "relay", "[inner.test]:2525", "routed")
        r = rw.resolve("u@blocked.test")
        assert (r["class"], r["dsn"], r["reason"]) == ("error", "5.7.1", "no mail for you")
        r = rw.resolve("u@later.test")
        assert (r["class"], r["dsn"], r["reason"]) == ("error", "4.0.0", "try later")
    finally:
        rw.close()


def test_resolve_relayhost(inst):
    host = start(inst, "relayhost=[smarthost.test]:587")
    rw = Rewrite(inst)
    try:
        assert route(rw.resolve("u@far.test")) == ("default", "smtp", "[smarthost.test]:587", "routed")
        assert route(rw.resolve("u@other-relay.test")) == ("relay", "relay", "[smarthost.test]:587", "routed")
        assert route(rw.resolve("u@[192.0.2.8]")) == ("default", "smtp", "[smarthost.test]:587",
                                                      "routed literal")
        assert route(rw.resolve(f"u@{host}")) == ("local", "local", host, "")
        # a table's nexthop beats relayhost
        assert route(rw.resolve("u@honly.test")) == ("default", "smtp", "[hop.test]", "routed")
    finally:
        rw.close()


def test_resolve_table_changes_and_failure(inst):
    start(inst)
    rw = Rewrite(inst)
    try:
        assert route(rw.resolve("u@honly.test")) == ("default", "smtp", "[hop.test]", "routed")
        # the daemon keeps the table open and notices the new file
        path = os.path.join(inst.dir, "transport")
        inst.write("transport.new", "honly.test  :[new-hop.test]\n")
        os.chmod(path + ".new", 0o644)
        os.rename(path + ".new", path)
        wait_for(lambda: rw.resolve("u@honly.test")["nexthop"] == "[new-hop.test]", timeout=5,
                 what="the changed transport table in use")
        # a table that cannot be read: defer (4.3.0), never guess
        os.unlink(path)
        wait_for(lambda: rw.resolve("u@honly.test")["class"] == "error", timeout=5,
                 what="the missing transport table noticed")
        r = rw.resolve("u@far.test")
        assert (r["class"], r["dsn"], r["reason"]) == ("error", "4.3.0", "transport_maps lookup failure")
    finally:
        rw.close()


def test_resolve_hash_table(inst):
    inst.init()
    src = os.path.join(inst.dir, "transport-db")
    inst.write("transport-db", "hashed.test  smtp:[from-hash.test]\n")
    inst.cmd("map", f"hash:{src}")
    for p in (src, src + ".db"):
        os.chmod(p, 0o644)
    inst.cmd("conf", "-e", f"transport_maps=hash:{src}")
    inst.start()
    rw = Rewrite(inst)
    try:
        assert route(rw.resolve("u@hashed.test")) == ("default", "smtp", "[from-hash.test]", "routed")
        assert route(rw.resolve("u@plain.test")) == ("default", "smtp", "plain.test", "")
    finally:
        rw.close()


def test_error_route_bounces_and_retry_defers(inst):
    start(inst)
    r = sendmail(inst, "-f", "sender@far.test", "u@blocked.test", "v@later.test",
                 data=b"Subject: routes\n\nbody\n")
    assert r.returncode == 0, r.stderr
    inst.wait_log("to=<u@blocked.test>", timeout=20)
    inst.wait_log("to=<v@later.test>", timeout=20)
    log = inst.log()
    assert re.search(r"to=<u@blocked\.test>.*dsn=5\.7\.1, status=bounced \(no mail for you\)", log), log
    assert re.search(r"to=<v@later\.test>.*dsn=4\.0\.0, status=deferred \(try later\)", log), log
