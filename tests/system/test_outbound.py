"""Outbound scheduling and relaying end to end: qmgr's per-destination
concurrency, dead destinations, agent connection reuse, defer_transports,
and the relay setups of the ISP edge (relay for mynetworks) and the DMZ
(relay_domains forwarded to an inner host through transport_maps).

Remote servers are the scripted aiosmtpd servers of test_smtp_client.py (and
Postfix's smtp-sink in one test) on
the remote_net addresses, with DNS from the dns_server fixture.
"""
import re
import smtplib
import socket
import subprocess
import time

from conftest import ensure_user, myhostname, sendmail, wait_for
from test_smtp_client import (BASE_CONF, SENDER_USER, flush, log_has, remotes,  # noqa: F401 (fixture)
                              send, start_inst)

SLOW_DATA = 0.6


def slow(remote, seconds=SLOW_DATA):
    """Makes remote take seconds over each RCPT, so sessions overlap."""
    remote.rcpt_delay = seconds
    return remote


def sent_count(inst, domain):
    return len(re.findall(rf"to=<[^>]*@{re.escape(domain)}>, relay=\S+, .*status=sent", inst.log()))


def test_destination_concurrency_limit_is_respected(inst, dns_server, remotes):
    dns_server([("MX", "busy.test", 10, "mx.busy.test"), ("A", "mx.busy.test", "192.0.2.10")])
    r = slow(remotes("192.0.2.10"))
    host = start_inst(inst, "smtp_destination_concurrency_limit=2",
                      "initial_destination_concurrency=5")
    for i in range(8):
        send(inst, host, f"r{i}@busy.test")
    wait_for(lambda: len(r.messages) == 8, 40, what="8 messages at the remote")
    # the window starts at 5 but the transport's limit is 2
    assert r.max_open == 2, r.max_open


def test_transport_process_limit_from_master_cf(inst, dns_server, remotes):
    # the smtp service's maxproc caps its agents over all destinations: two
    # destinations on one server, each allowed 5 at once, get 3 in all
    dns_server([("MX", "one.test", 10, "mx.both.test"), ("MX", "two.test", 10, "mx.both.test"),
                ("A", "mx.both.test", "192.0.2.10")])
    r = slow(remotes("192.0.2.10"))
    inst.init()
    mcf = re.sub(r"^(smtp\s+unix\s+\S+\s+\S+\s+\S+\s+\S+\s+)-", r"\g<1>3", inst.read("master.cf"),
                 flags=re.M)
    assert re.search(r"^smtp\s+unix(\s+\S+){4}\s+3\s+smtp", mcf, re.M), mcf
    inst.write("master.cf", mcf)
    start_inst_existing(inst)
    host = myhostname(inst)
    for i in range(6):
        send(inst, host, f"a{i}@one.test")
        send(inst, host, f"b{i}@two.test")
    wait_for(lambda: len(r.messages) == 12, 40, what="12 deliveries")
    assert r.max_open == 3, r.max_open


def test_window_starts_at_initial_destination_concurrency(inst, dns_server, remotes):
    dns_server([("MX", "slowstart.test", 10, "mx.slowstart.test"),
                ("A", "mx.slowstart.test", "192.0.2.10")])
    r = slow(remotes("192.0.2.10"), 1.0)
    host = start_inst(inst, "initial_destination_concurrency=1",
                      "smtp_connection_cache_time_limit=0")
    for i in range(6):
        send(inst, host, f"r{i}@slowstart.test")
    wait_for(lambda: r.sessions >= 1, 10, what="first session")
    time.sleep(0.5)
    assert r.open == 1			# one at first ...
    wait_for(lambda: len(r.messages) == 6, 40, what="6 messages at the remote")
    assert r.max_open >= 2			# ... then more once deliveries succeed


def test_dead_destination_does_not_delay_a_healthy_one(inst, dns_server, remotes):
    dns_server([("MX", "dead.test", 10, "mx.dead.test"), ("A", "mx.dead.test", "192.0.2.99"),
                ("MX", "good.test", 10, "mx.good.test"), ("A", "mx.good.test", "192.0.2.11")])
    good = remotes("192.0.2.11")
    host = start_inst(inst, "smtp_connect_timeout=3s")
    for i in range(12):
        send(inst, host, f"d{i}@dead.test")
    time.sleep(0.3)
    t = time.monotonic()
    send(inst, host, "ok@good.test")
    wait_for(lambda: len(good.messages) == 1, 10, what="the healthy destination's message")
    assert time.monotonic() - t < 3		# not stuck behind 12 connection timeouts
    # the first cohort fails on connect; then the destination is dead and
    # the rest is deferred without an attempt
    log_has(inst, r"smtp destination dead\.test is unreachable \(.*\): deferring its mail")
    log_has(inst, r"to=<d\d+@dead\.test>, relay=none, .*dsn=4\.4\.1, status=deferred "
                  r"\(delivery temporarily suspended: connect to mx\.dead\.test\[192\.0\.2\.99\]:25: ")
    attempts = len(re.findall(r"to=<d\d+@dead\.test>, relay=mx\.dead\.test", inst.log()))
    assert attempts < 12, attempts
    # a flush forgets the dead destination and tries again
    log_len = len(re.findall(r"@dead\.test>, relay=mx\.dead\.test", inst.log()))
    flush(inst)
    wait_for(lambda: len(re.findall(r"@dead\.test>, relay=mx\.dead\.test", inst.log())) > log_len,
             20, what="a new attempt after the flush")


def test_one_session_carries_a_backlog(inst, dns_server, remotes):
    dns_server([("MX", "reuse.test", 10, "mx.reuse.test"), ("A", "mx.reuse.test", "192.0.2.12")])
    r = slow(remotes("192.0.2.12"), 0.2)
    host = start_inst(inst, "smtp_destination_concurrency_limit=1")
    for i in range(5):
        send(inst, host, f"r{i}@reuse.test")
    wait_for(lambda: len(r.messages) == 5, 30, what="5 messages at the remote")
    assert r.sessions == 1, r.sessions
    log_has(inst, r"to=<r\d@reuse\.test>, relay=mx\.reuse\.test\[192\.0\.2\.12\]:25, "
                  r"conn_use=[2-5], .*status=sent")


def test_defer_transports_wait_for_a_flush(inst, dns_server, remotes):
    dns_server([("MX", "later.test", 10, "mx.later.test"), ("A", "mx.later.test", "192.0.2.13")])
    r = remotes("192.0.2.13")
    host = start_inst(inst, "defer_transports=smtp")
    send(inst, host, "x@later.test")
    log_has(inst, r"to=<x@later\.test>, relay=none, .*status=deferred \(deferred transport\)")
    time.sleep(0.5)
    assert r.messages == []
    flush(inst)
    wait_for(lambda: len(r.messages) == 1, 15, what="delivery after the flush")


def smtp_from(inst, source, sender, rcpt):
    """One SMTP transaction to inst from source address; the RCPT reply."""
    with smtplib.SMTP("127.0.0.1", inst.port, source_address=(source, 0), timeout=20) as s:
        s.ehlo("client.test")
        s.mail(sender)
        code, text = s.rcpt(rcpt)
        if code == 250:
            s.data(b"Subject: relay\r\n\r\nthrough\r\n")
        return code, text.decode()


def test_isp_edge_relays_for_mynetworks_only(inst, dns_server, remotes):
    dns_server([("MX", "world.test", 10, "mx.world.test"), ("A", "mx.world.test", "192.0.2.14")])
    world = remotes("192.0.2.14")
    start_inst(inst, "mynetworks=127.0.0.1/32")
    code, text = smtp_from(inst, "127.0.0.2", "a@outside.test", "b@world.test")
    assert code == 554 and "Relay access denied" in text
    code, _ = smtp_from(inst, "127.0.0.1", "customer@isp.test", "b@world.test")
    assert code == 250
    wait_for(lambda: len(world.messages) == 1, 15, what="relayed message")
    assert world.messages[0]["mail_from"] == "customer@isp.test"


def test_dmz_relay_forwards_relay_domains_inward(inst, dns_server, remotes):
    # example.test is ours to accept from anyone; transport_maps sends it to
    # the inner server, never to its MX (which would be ourselves).
    dns_server([("MX", "example.test", 10, "mx.example.test"),
                ("A", "mx.example.test", "192.0.2.15"),
                ("MX", "branch.test", 10, "mx.branch.test"), ("A", "mx.branch.test", "192.0.2.16")])
    inner = remotes("192.0.2.17")
    mx = remotes("192.0.2.15")
    branch = remotes("192.0.2.16")
    inst.init()
    inst.write("transport", "example.test  smtp:[192.0.2.17]:25\n")
    start_inst_existing(inst, "mynetworks=127.0.0.1/32", "relay_domains=example.test, branch.test",
                        f"transport_maps=texthash:{inst.dir}/transport")
    code, _ = smtp_from(inst, "127.0.0.2", "someone@internet.test", "user@example.test")
    assert code == 250
    wait_for(lambda: len(inner.messages) == 1, 15, what="message at the inner server")
    assert inner.messages[0]["rcpt_tos"] == ["user@example.test"]
    assert mx.messages == []
    log_has(inst, r"to=<user@example\.test>, relay=192\.0\.2\.17\[192\.0\.2\.17\]:25, .*status=sent")
    # a relay domain without a transport_maps entry goes through the relay
    # transport to its MX
    code, _ = smtp_from(inst, "127.0.0.2", "someone@internet.test", "x@branch.test")
    assert code == 250
    wait_for(lambda: len(branch.messages) == 1, 15, what="message for branch.test")
    log_has(inst, r"postern/relay/smtp\[\d+\]: \w+: to=<x@branch\.test>, relay=mx\.branch\.test\[192\.0\.2\.16\]:25")
    # and nothing else is relayed for outsiders
    code, _ = smtp_from(inst, "127.0.0.2", "someone@internet.test", "x@elsewhere.test")
    assert code == 554


def start_inst_existing(inst, *conf):
    """start_inst for an instance that was already initialised."""
    ensure_user(SENDER_USER)
    inst.cmd("conf", "-e", *BASE_CONF, *conf)
    inst.start()


def test_transport_maps_lmtp_route(inst, dns_server, remotes):
    # the mail store's domain goes to an LMTP server (Dovecot's role here)
    dns_server([("MX", "store.test", 10, "mx.store.test"), ("A", "mx.store.test", "192.0.2.10")])
    lmtp = remotes("192.0.2.18", port=24, lmtp=True)
    mx = remotes("192.0.2.10")
    inst.init()
    inst.write("transport", "store.test  lmtp:inet:192.0.2.18:24\n")
    start_inst_existing(inst, f"transport_maps=texthash:{inst.dir}/transport")
    host = myhostname(inst)
    send(inst, host, "a@store.test", "b@store.test")
    wait_for(lambda: len(lmtp.messages) == 1, 15, what="LMTP delivery")
    assert sorted(lmtp.messages[0]["rcpt_tos"]) == ["a@store.test", "b@store.test"]
    assert mx.messages == []
    log_has(inst, r"postern/lmtp\[\d+\]: \w+: to=<a@store\.test>, relay=192\.0\.2\.18\[192\.0\.2\.18\]:24, "
                  r".*status=sent")


def test_relayhost_is_postfix_smtp_sink(inst, remote_net, tmp_path):
    # Postfix's smtp-sink as the smarthost: 20 messages, all accepted, over
    # reused sessions
    sink = subprocess.Popen(["/usr/sbin/smtp-sink", "-u", "nobody", "192.0.2.19:25", "100"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: port_open("192.0.2.19", 25), 10, what="smtp-sink listening")
        host = start_inst(inst, "relayhost=[192.0.2.19]", "smtp_destination_concurrency_limit=2")
        for i in range(20):
            send(inst, host, f"user{i}@far.test")
        wait_for(lambda: len(re.findall(r"relay=192\.0\.2\.19\[192\.0\.2\.19\]:25, .*status=sent \(250",
                                        inst.log())) == 20, 30, what="20 messages at smtp-sink")
        assert re.search(r"conn_use=\d+", inst.log())
    finally:
        sink.terminate()
        sink.wait(10)


def port_open(addr, port):
    try:
        socket.create_connection((addr, port), 1).close()
        return True
    except OSError:
        return False


def test_relayhost_that_does_not_resolve_defers(inst, dns_server, remote_net):
    # a typo in relayhost must not bounce all outgoing mail
    dns_server([("A", "other.test", "192.0.2.10")])
    host = start_inst(inst, "relayhost=[smarthost.test]")
    send(inst, host, "x@far.test")
    log_has(inst, r"to=<x@far\.test>, relay=none, .*dsn=4\.4\.4, status=deferred "
                  r"\(Host or domain name not found\. Name service error for name=smarthost\.test")
    assert "status=bounced" not in inst.log()


def test_kill_9_while_relaying_loses_nothing(inst, dns_server, remotes):
    # invariant 1 on the outbound side: kill -9 of smtp, qmgr and
    # trivial-rewrite at random moments while 300 messages are relayed;
    # every accepted message reaches the remote (duplicates are allowed:
    # a delivery whose "done" mark was lost is repeated, never dropped)
    import collections
    import os
    import random
    import signal
    import threading

    from test_reliability import daemon_pids

    dns_server([("MX", "chaos.test", 10, "mx.chaos.test"), ("A", "mx.chaos.test", "192.0.2.19")])
    r = remotes("192.0.2.19", rcpt_delay=0.2)	# deliveries stay in flight a while
    # a service whose new process is killed before it is ready is throttled
    # for service_throttle_time (master(8)): keep that short here
    host = start_inst(inst, "minimal_backoff_time=1s", "maximal_backoff_time=2s", "queue_run_delay=1s",
                      "service_throttle_time=2s", "transport_retry_time=2s")
    total, accepted, stop = 300, set(), threading.Event()
    kills = collections.Counter()

    def killer():
        rnd = random.Random(77)
        while not stop.is_set():
            time.sleep(rnd.uniform(0.03, 0.15))
            name = rnd.choice(("smtp", "smtp", "qmgr", "trivial-rewrite"))
            pids = daemon_pids(inst).get(name)
            if pids:
                try:
                    os.kill(rnd.choice(pids), signal.SIGKILL)
                    kills[name] += 1
                except ProcessLookupError:
                    pass

    def submit(ids):
        for i in ids:
            res = send_quiet(inst, host, i)
            if res.returncode == 0:
                accepted.add(i)

    t0 = time.monotonic()
    k = threading.Thread(target=killer)
    k.start()
    workers = [threading.Thread(target=submit, args=(range(n, total, 3),)) for n in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()

    def seen():
        c = collections.Counter()
        for m in list(r.messages):
            found = re.search(rb"X-Test-Id: (\d+)", m["data"])
            if found:
                c[int(found.group(1))] += 1
        return c

    assert len(accepted) >= total * 0.99
    try:
        # the killing goes on while the queue drains, then stops so the
        # retries can finish
        wait_for(lambda: sum(kills.values()) > 25 or set(seen()) >= accepted,
                 60, interval=0.2, what="25 kills")
        stop.set()
        k.join()
        assert sum(kills.values()) > 20, kills
        # a killed qmgr is back within a second (master(8) wakes it), not
        # at its next 60 s wakeup: the rest drains in seconds
        wait_for(lambda: set(seen()) >= accepted, 30, interval=0.5, what="every accepted message relayed")
    finally:
        stop.set()
        k.join()
        got = seen()
        dups = sum(n - 1 for n in got.values() if n > 1)
        print(f"\nrelay kill -9 run ({time.monotonic() - t0:.1f} s): {len(accepted)} accepted, {len(got)} relayed, "
              f"lost {len(accepted - set(got))}, extra copies {dups}, kills {dict(kills)}")


def send_quiet(inst, host, i, domain="chaos.test"):
    return sendmail(inst, "-f", f"{SENDER_USER}@{host}", f"r{i}@{domain}",
                    data=f"Subject: test {i}\nX-Test-Id: {i}\n\n{'x' * 200}\n")


def test_reload_while_relaying_delivers_once(inst, dns_server, remotes):
    # the old qmgr finishes what is in flight, the new one waits for it
    # before it takes over active/: nothing is sent twice
    import collections

    dns_server([("MX", "reload.test", 10, "mx.reload.test"), ("A", "mx.reload.test", "192.0.2.18")])
    r = remotes("192.0.2.18", rcpt_delay=1.0)
    host = start_inst(inst, "smtp_destination_concurrency_limit=4")
    for i in range(12):
        res = send_quiet(inst, host, i, "reload.test")
        assert res.returncode == 0
    wait_for(lambda: r.open >= 2, 10, what="deliveries in flight")
    inst.cmd("reload")

    def seen():
        c = collections.Counter()
        for m in list(r.messages):
            found = re.search(rb"X-Test-Id: (\d+)", m["data"])
            if found:
                c[int(found.group(1))] += 1
        return c

    wait_for(lambda: len(seen()) == 12, 60, interval=0.3, what="12 messages relayed")
    time.sleep(1)
    assert max(seen().values()) == 1, seen()
    log_has(inst, r"qmgr\[\d+\]: reload: waiting for \d+ deliver")
