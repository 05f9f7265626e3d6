"""lib/dns against a real DNS server (the dns_server fixture, dnsmasq on
127.0.0.53 in the test namespace), through build/test-libexec/dns-query:
MX order and shuffling, NODATA vs NXDOMAIN, null MX, CNAME, A/AAAA, and
temporary failures that come back quickly and never leave the namespace."""
import os
import subprocess
import time

import pytest

from conftest import TOP

QUERY = os.path.join(TOP, "build", "test-libexec", "dns-query")

RECORDS = [
    ("MX", "mx.test", 20, "b.mx.test"),
    ("MX", "mx.test", 10, "a.mx.test"),
    ("MX", "mx.test", 30, "c.mx.test"),
    ("A", "a.mx.test", "192.0.2.1"),
    ("A", "b.mx.test", "192.0.2.2"),
    ("AAAA", "b.mx.test", "2001:db8::2"),
    ("AAAA", "v6only.test", "2001:db8::6"),
    ("MX", "eq.test", 10, "one.eq.test"),
    ("MX", "eq.test", 10, "two.eq.test"),
    ("MX", "eq.test", 5, "first.eq.test"),
    ("A", "nomx.test", "192.0.2.3"),
    ("NULLMX", "nullmx.test"),
    ("CNAME", "alias.test", "mx.test"),
    ("SERVFAIL", "broken.test"),
]

# One try of one second: the dead upstream of broken.test never answers.
FAST = {"RES_OPTIONS": "timeout:1 attempts:1"}


def query(*args, env=None):
    """(status, [result lines], stderr, seconds) of one dns-query run."""
    e = dict(os.environ)
    e.pop("RES_OPTIONS", None)
    e.pop("LOCALDOMAIN", None)
    if env:
        e.update(env)
    t = time.monotonic()
    r = subprocess.run([QUERY, *args], capture_output=True, text=True, env=e, timeout=30)
    took = time.monotonic() - t
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    return lines[0], lines[1:], r.stderr, took


@pytest.fixture
def dns(dns_server):
    return dns_server(RECORDS)


def test_mx_sorted_by_preference(dns):
    status, mx, _, _ = query("mx", "mx.test")
    assert status == "OK"
    assert mx == ["10 a.mx.test", "20 b.mx.test", "30 c.mx.test"]


def test_mx_equal_preferences_shuffled(dns):
    seen = set()
    for _ in range(40):
        status, mx, _, _ = query("mx", "eq.test")
        assert status == "OK"
        assert mx[0] == "5 first.eq.test"
        assert sorted(mx[1:]) == ["10 one.eq.test", "10 two.eq.test"]
        seen.add(tuple(mx))
        if len(seen) == 2:
            break
    assert len(seen) == 2, "equal preferences always came in one order"


def test_no_mx_is_notfound_not_nxdomain(dns):
    assert query("mx", "nomx.test")[0] == "NOTFOUND"
    status, addrs, _, _ = query("addr", "nomx.test")
    assert (status, addrs) == ("OK", ["192.0.2.3"])


def test_nxdomain(dns):
    assert query("mx", "nosuch.test")[0] == "NXDOMAIN"
    assert query("addr", "nosuch.test")[0] == "NXDOMAIN"


def test_null_mx(dns):
    status, mx, why, _ = query("mx", "nullmx.test")
    assert (status, mx) == ("NULLMX", [])
    assert "null MX" in why


def test_cname_to_mx(dns):
    status, mx, _, _ = query("mx", "alias.test")
    assert status == "OK"
    assert mx == ["10 a.mx.test", "20 b.mx.test", "30 c.mx.test"]


def test_a_and_aaaa(dns):
    assert query("addr", "b.mx.test")[:2] == ("OK", ["192.0.2.2", "2001:db8::2"])
    assert query("addr", "b.mx.test", "ipv4")[:2] == ("OK", ["192.0.2.2"])
    assert query("addr", "b.mx.test", "ipv6")[:2] == ("OK", ["2001:db8::2"])
    assert query("addr", "v6only.test", "ipv4")[0] == "NOTFOUND"
    assert query("addr", "v6only.test")[:2] == ("OK", ["2001:db8::6"])
    assert query("addr", "a.mx.test", "ipv6")[0] == "NOTFOUND"


def test_invalid_names_are_not_sent(dns):
    for name in ("a..test", "-" * 64 + ".test", "a b.test", ("a" * 60 + ".") * 5 + "test"):
        assert query("mx", name)[0] == "INVALID", name
    assert "a..test" not in dns.log()


def test_no_answer_is_retry_quickly(dns):
    status, mx, _, took = query("mx", "broken.test", env=FAST)
    assert (status, mx) == ("RETRY", [])
    assert took < 5
    assert query("addr", "broken.test", env=FAST)[0] == "RETRY"


def test_outside_test_zones_is_retry_and_not_forwarded(dns):
    status, _, _, took = query("mx", "example.com")
    assert status == "RETRY"
    assert took < 5
    log = dns.log()
    assert "query[MX] example.com" in log
    assert "forwarded example.com" not in log


def test_no_server_is_retry_quickly(dns_server):
    # The fixture is not started: nothing listens on 127.0.0.53.
    status, _, _, took = query("mx", "mx.test")
    assert status == "RETRY"
    assert took < 5
