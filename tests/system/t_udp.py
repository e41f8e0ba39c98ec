"""UDP flows: per-datagram counts, owners, ends (close, idle), filters,
periodic updates, the startup snapshot and the summary.

Every test drives helper.py's `udp` mode: one process per side, named with
prctl, that creates, binds, connects, sends and receives on command, so the
test knows each socket's tuple, inode and owner and every datagram's size.
"""
import ipaddress
import socket
import subprocess
import time
import types

from lib import Fail, Helper, NetPair, Tracer, test
from scenarios import Conversation, check_client, wildcard

BIG_IDLE = ["--udp-idle", "60"]   # an end before this is a close, never an idle end
END_WAIT = 3.0                    # close() to its end event on stdout
SIZES = [1, 17, 300, 1000, 1400]  # distinct, each under a veth's MTU

FLOW_KEYS = ("type", "event", "proto", "time", "boot_ns", "family", "laddr", "lport", "raddr",
             "rport", "rname", "rname_canonical", "service", "netns", "sock", "ino", "pid", "tid", "comm", "owner",
             "tx_bytes", "rx_bytes", "tx_packets", "rx_packets", "duration_ms", "first_time",
             "reason")
COUNTS = ("tx_bytes", "rx_bytes", "tx_packets", "rx_packets")
TCP_TYPES = ("tcp_state", "tcp_socket", "syn_alert", "connect", "connect_stats")


# ---------------------------------------------------------------- traffic

class Udp:
    """One helper.py `udp` process: a named owner of UDP sockets."""

    def __init__(self, ctx, name, netns=None):
        self.name = name
        self.h = Helper(ctx, ["udp", "--name", name], netns=netns)
        self.pid = self.h.expect("started")["started"]

    def do(self, line, key):
        self.h.send(line)
        return self.h.expect(key)

    def bind(self, sid, addr, port=0):
        return self.do("bind %s %s %d" % (sid, addr, port), "bound")

    def connect(self, sid, addr, port):
        return self.do("connect %s %s %d" % (sid, addr, port), "connected")

    def send(self, sid, *sizes):
        return self.do("send %s %s" % (sid, " ".join(map(str, sizes))), "sent")

    def recv(self, sid, peek=False):
        return self.do("recv %s%s" % (sid, " peek" if peek else ""), "received")

    def recvfrom(self, sid, peek=False):
        return self.do("recvfrom %s%s" % (sid, " peek" if peek else ""), "received")

    def sendto(self, sid, addr, port, *sizes):
        return self.do("sendto %s %s %d %s" % (sid, addr, port, " ".join(map(str, sizes))), "sent")

    def start_echo(self, sid, n):
        """Starts answering n datagrams; finish with echoed()."""
        self.h.send("echo %s %d" % (sid, n))

    def echoed(self):
        return self.h.expect("echoed")

    def close(self, sid):
        return self.do("close %s" % sid, "closed")

    def finish(self):
        self.h.close_stdin()
        self.h.wait()


def exchange(client, cid, server, sid, sizes):
    """The client sends each size and reads the echo before the next;
    the server answers with recvfrom()/sendto()."""
    server.start_echo(sid, len(sizes))
    for n in sizes:
        if client.send(cid, n)["bytes"] != n:
            raise Fail("helper: a send of %d bytes sent a different amount" % n)
        if client.recv(cid)["n"] != n:
            raise Fail("helper: the echo of %d bytes came back with another size" % n)
    e = server.echoed()
    if e["bytes"] != sum(sizes):
        raise Fail("helper: the server echoed %d bytes, expected %d" % (e["bytes"], sum(sizes)))
    return e


def free_port_both(addr="127.0.0.1"):
    """A port free for both TCP and UDP on addr (and the UDP wildcard)."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            t.bind((addr, 0))
            port = t.getsockname()[1]
            u.bind(("0.0.0.0", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise Fail("found no port free for both TCP and UDP")


# ---------------------------------------------------------------- records

def flows_of(run):
    return [r for r in run.records if isinstance(r, dict) and r.get("type") == "udp_flow"]


def tup(r):
    return (r.get("netns"), r.get("laddr"), r.get("lport"), r.get("raddr"), r.get("rport"))


def lives(recs):
    """udp_flow records grouped into flow lives: one flow (socket, tuple,
    owner) from its start to its end; a later start of the same key begins
    another life. Records before any start make a life of their own."""
    out, open_ = [], {}
    for r in recs:
        key = (r.get("sock"), r.get("pid")) + tup(r)
        cur = open_.get(key)
        if cur is None or r.get("event") == "start":
            cur = []
            out.append(cur)
            open_[key] = cur
        cur.append(r)
        if r.get("event") == "end":
            del open_[key]
    return out


def fmt_flow(r):
    if not isinstance(r, dict):
        return repr(r)
    if r.get("type") == "udp_flow":
        return ("udp_flow %-6s %s:%s -> %s:%s fam=%s netns=%s sock=%s ino=%s pid=%s tid=%s "
                "comm=%r owner=%s tx=%s/%s rx=%s/%s dur_ms=%s reason=%s boot_ns=%s" % (
                    r.get("event"), r.get("laddr"), r.get("lport"), r.get("raddr"),
                    r.get("rport"), r.get("family"), r.get("netns"), r.get("sock"),
                    r.get("ino"), r.get("pid"), r.get("tid"), r.get("comm"), r.get("owner"),
                    r.get("tx_packets"), r.get("tx_bytes"), r.get("rx_packets"),
                    r.get("rx_bytes"), r.get("duration_ms"), r.get("reason"), r.get("boot_ns")))
    if r.get("type") == "summary":
        return "summary " + " ".join("%s=%s" % (k, r.get(k)) for k in (
            "events", "snapshot", "lost", "filtered", "udp_flows", "udp_uncounted",
            "udp_uncounted_bytes"))
    return str(r)


def details(run, select=None, limit=40):
    d = ["command: %s" % run.cmdline(), "exit status: %s" % run.rc]
    d += ["stderr: %s" % l for l in run.err.splitlines()[-8:]]
    recs = [r for r in run.records if isinstance(r, dict) and
            (select is None or select(r)) and r.get("type") != "summary"]
    d.append("relevant records (%d of %d):" % (len(recs), len(run.records)))
    d += ["  " + fmt_flow(r) for r in recs[:limit]]
    if len(recs) > limit:
        d.append("  ... %d more" % (len(recs) - limit))
    if run.summary is not None:
        d.append("  " + fmt_flow(run.summary))
    for ln, raw, e in run.parse_errors[:5]:
        d.append("unparsable stdout line %d: %r (%s)" % (ln, raw[:200], e))
    return d


def fail(run, reason, select=None):
    raise Fail(reason, details(run, select))


def clean_exit(run, select):
    if run.rc != 0:
        fail(run, "socktrace exited with status %s, expected 0" % run.rc, select)
    if run.parse_errors:
        fail(run, "socktrace printed lines that are not JSON", select)
    if run.summary is None or run.records[-1] is not run.summary:
        fail(run, "the last stdout line is not the summary", select)
    if run.summary.get("lost") != 0:
        fail(run, "summary lost=%r, expected 0" % (run.summary.get("lost"),), select)


def _int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def flow_errors(r):
    """What is wrong with one udp_flow record against its documented form."""
    errs = []
    missing = [k for k in FLOW_KEYS if k not in r]
    if missing:
        errs.append("missing fields %s" % missing)
    if r.get("proto") != "udp":
        errs.append("proto=%r" % (r.get("proto"),))
    if r.get("event") not in ("start", "update", "end"):
        errs.append("event=%r" % (r.get("event"),))
    if r.get("family") not in (4, 6):
        errs.append("family=%r" % (r.get("family"),))
    for k in ("laddr", "raddr"):
        try:
            # an AF_INET6 socket's IPv4-mapped peers print as IPv4 (as for TCP)
            v = ipaddress.ip_address(r.get(k)).version
            if v != r.get("family") and not (v == 4 and r.get("family") == 6):
                errs.append("%s=%r in a family-%s record" % (k, r.get(k), r.get("family")))
        except ValueError:
            errs.append("%s=%r" % (k, r.get(k)))
    for k in ("lport", "rport"):
        if not _int(r.get(k)) or not 0 <= r[k] <= 65535:
            errs.append("%s=%r" % (k, r.get(k)))
    for k in ("boot_ns", "netns", "ino") + COUNTS:
        if not _int(r.get(k)) or r[k] < 0:
            errs.append("%s=%r" % (k, r.get(k)))
    if not isinstance(r.get("time"), str):
        errs.append("time=%r" % (r.get("time"),))
    if r.get("first_time") is not None and not isinstance(r.get("first_time"), str):
        errs.append("first_time=%r" % (r.get("first_time"),))
    if not isinstance(r.get("sock"), str) or not r["sock"].startswith("0x"):
        errs.append("sock=%r" % (r.get("sock"),))
    d = r.get("duration_ms")
    if not isinstance(d, (int, float)) or isinstance(d, bool) or d < 0:
        errs.append("duration_ms=%r" % (d,))
    if r.get("service") is not None and not isinstance(r.get("service"), str):
        errs.append("service=%r" % (r.get("service"),))
    if r.get("event") == "end":
        if r.get("reason") not in ("close", "idle"):
            errs.append("end with reason=%r" % (r.get("reason"),))
    elif r.get("reason") is not None:
        errs.append("%s with reason=%r (only an end has one)" % (r.get("event"), r.get("reason")))
    return errs


def wait_for(tracer, pred, timeout):
    """Polls socktrace's stdout until a record satisfies pred; returns it
    (or None at the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        for r in tracer.records_now():
            if isinstance(r, dict) and pred(r):
                return r
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def is_end(want, reason=None):
    """A predicate: the end of the flow `want` describes (tuple, netns)."""
    key = (want["netns"], want["laddr"], want["lport"], want["raddr"], want["rport"])
    return lambda r: (r.get("type") == "udp_flow" and r.get("event") == "end" and tup(r) == key
                      and (reason is None or r.get("reason") == reason))


def wait_end(tracer, want, what, reason="close", timeout=END_WAIT):
    """The end of one flow must reach stdout within timeout of its cause."""
    t0 = time.monotonic()
    r = wait_for(tracer, is_end(want), timeout)
    if r is None:
        run = tracer.stop()
        fail(run, "%s: no end event within %.1f s of %s" % (
            what, timeout, "closing the socket" if reason == "close" else "the idle timeout"),
            near(want))
    return time.monotonic() - t0, r


def near(*wants):
    """Records about the sockets of these flows (either side), for reports."""
    ports = {(w["netns"], w["lport"]) for w in wants} | {(w["netns"], w["rport"]) for w in wants}
    pids = {w.get("pid") for w in wants} - {None}
    return lambda r: ((r.get("netns"), r.get("lport")) in ports or
                      (r.get("netns"), r.get("rport")) in ports or r.get("pid") in pids)


# ---------------------------------------------------------------- checks

def flow(netns, family, laddr, lport, raddr, rport, owner, ino, tx=(), rx=()):
    """What one flow must look like: tuple, owner (a Udp), inode, and the
    sizes of the datagrams it sent (tx) and received (rx)."""
    return dict(netns=netns, family=family, laddr=laddr, lport=lport, raddr=raddr, rport=rport,
                pid=owner.pid, tid=owner.pid, comm=owner.name, ino=ino,
                tx_bytes=sum(tx), tx_packets=len(tx), rx_bytes=sum(rx), rx_packets=len(rx))


def flow_lives(run, want, by_pid=False):
    key = (want["netns"], want["laddr"], want["lport"], want["raddr"], want["rport"])
    return [l for l in lives(flows_of(run)) if tup(l[0]) == key and
            (not by_pid or l[0].get("pid") == want["pid"])]


def describe(want):
    return "flow %s:%s -> %s:%s (%s, pid %s)" % (want["laddr"], want["lport"], want["raddr"],
                                                  want["rport"], want["comm"], want["pid"])


def check_life(run, life, want, what, sel, reason="close", exact=True):
    """One flow life: start first, updates, then an end with `reason` (None:
    the life must not end: still active when socktrace stopped, its last
    record an update); every record of the flow's owner, socket and tuple;
    counts never go down; the last record carries the totals of `want`
    (exact) or at least as much (exact False)."""
    for r in life:
        errs = flow_errors(r)
        if errs:
            fail(run, "%s: malformed %s record: %s" % (what, r.get("event"), "; ".join(errs)), sel)
    events = [r.get("event") for r in life]
    if events[0] != "start":
        fail(run, "%s: its first record is %r, expected start" % (what, events[0]), sel)
    if "start" in events[1:]:
        fail(run, "%s: a second start before the first ended: %s" % (what, events), sel)
    if reason is None:
        if "end" in events:
            fail(run, "%s: ended (%s) although the socket was still open and busy"
                 % (what, life[events.index("end")].get("reason")), sel)
        if len(life) < 2 or events[-1] != "update":
            fail(run, "%s: records %s; expected a final update with the totals when "
                 "socktrace stopped" % (what, events), sel)
    else:
        if events[-1] != "end" or "end" in events[:-1]:
            fail(run, "%s: records %s, expected start, [update...], end" % (what, events), sel)
        if life[-1].get("reason") != reason:
            fail(run, "%s: ended with reason %r, expected %r"
                 % (what, life[-1].get("reason"), reason), sel)
    for k in ("family", "pid", "tid", "comm", "ino"):
        bad = [r for r in life if r.get(k) != want[k]]
        if bad:
            fail(run, "%s: %s %s has %s=%r, expected %r" % (
                what, len(bad), "record" if len(bad) == 1 else "records", k, bad[0].get(k),
                want[k]), sel)
    bad = [r for r in life if r.get("owner") != "traffic"]
    if bad:
        fail(run, "%s: owner %r, expected \"traffic\"" % (what, bad[0].get("owner")), sel)
    socks = {r.get("sock") for r in life}
    if len(socks) != 1:
        fail(run, "%s: one socket, but sock values %s" % (what, sorted(map(str, socks))), sel)
    firsts = {r.get("first_time") for r in life}
    if len(firsts) != 1:
        fail(run, "%s: first_time changes within the flow: %s" % (what, sorted(map(str, firsts))),
             sel)
    for a, b in zip(life, life[1:]):
        down = [k for k in COUNTS if _int(a.get(k)) and _int(b.get(k)) and b[k] < a[k]]
        if down:
            fail(run, "%s: %s went down from %s to %s (counts are totals since the start)"
                 % (what, down[0], a[down[0]], b[down[0]]), sel)
        if b.get("boot_ns", 0) < a.get("boot_ns", 0):
            fail(run, "%s: boot_ns goes back from %s (%s) to %s (%s)" % (
                what, a.get("event"), a.get("boot_ns"), b.get("event"), b.get("boot_ns")), sel)
    start = life[0]
    if start["tx_packets"] + start["rx_packets"] < 1:
        fail(run, "%s: the start counts no datagram (a start is the flow's first datagram)"
             % what, sel)
    last = life[-1]
    for k in COUNTS:
        if (last[k] != want[k]) if exact else (last[k] < want[k]):
            fail(run, "%s: %s %s=%s, expected %s%s" % (
                what, last["event"], k, last[k], "" if exact else ">= ", want[k]), sel)
    return life


def check_flow(run, want, what, sel, reason="close", by_pid=False):
    """Exactly one life of this flow (tuple, netns; and owner if by_pid),
    checked by check_life."""
    found = flow_lives(run, want, by_pid)
    if len(found) != 1:
        fail(run, "%s: expected one flow, got %d" % (what, len(found)), sel)
    return check_life(run, found[0], want, what, sel, reason)


def check_socket_flows(run, netns, laddr, lport, wants, what, sel):
    """Every flow of one local socket (netns, laddr, lport) is one of
    `wants`: nothing about it was reported under another tuple."""
    keys = {(w["raddr"], w["rport"]) for w in wants}
    other = [r for r in flows_of(run) if (r.get("netns"), r.get("laddr"), r.get("lport")) ==
             (netns, laddr, lport) and (r.get("raddr"), r.get("rport")) not in keys]
    if other:
        fail(run, "%s: %d records of the socket with an unexpected remote side %s:%s"
             % (what, len(other), other[0].get("raddr"), other[0].get("rport")), sel)


# ---------------------------------------------------------------- echo scenario

def echo_scenario(ctx, saddr, caddr=None, server_ns=None, client_ns=None,
                  server_netns=None, client_netns=None):
    """A connected client and a wildcard-bound recvfrom/sendto server; the
    client sends SIZES, each echoed; the client closes, then the server.
    Each end must arrive while --udp-idle 60 is far off."""
    caddr = caddr or saddr
    fam = 6 if ":" in saddr else 4
    server_netns = server_netns or ctx.netns_self
    client_netns = client_netns or ctx.netns_self
    with Tracer(ctx, ["--no-snapshot"] + BIG_IDLE) as t:
        srv = Udp(ctx, "st-usrv", netns=server_ns)
        cli = Udp(ctx, "st-ucli", netns=client_ns)
        b = srv.bind("s", wildcard(fam))
        c = cli.connect("c", saddr, b["lport"])
        if c["laddr"] != caddr:
            raise Fail("helper: the client's address is %s, expected %s" % (c["laddr"], caddr))
        exchange(cli, "c", srv, "s", SIZES)
        cw = flow(client_netns, fam, caddr, c["lport"], saddr, b["lport"], cli, c["ino"],
                  tx=SIZES, rx=SIZES)
        sw = flow(server_netns, fam, wildcard(fam), b["lport"], caddr, c["lport"], srv, b["ino"],
                  tx=SIZES, rx=SIZES)
        cli.close("c")
        wait_end(t, cw, "client " + describe(cw))
        srv.close("s")
        wait_end(t, sw, "server " + describe(sw))
        run = t.stop()
    cli.finish()
    srv.finish()
    sel = near(cw, sw)
    clean_exit(run, sel)
    check_flow(run, cw, "client " + describe(cw), sel)
    check_flow(run, sw, "server " + describe(sw), sel)
    check_socket_flows(run, client_netns, caddr, c["lport"], [cw], "client socket", sel)
    check_socket_flows(run, server_netns, wildcard(fam), b["lport"], [sw], "server socket", sel)
    return run


@test("udp_loopback_ipv4")
def udp_loopback_ipv4(ctx):
    """st-ucli (connected socket, send/recv) sends 5 datagrams of distinct
    sizes to st-usrv (unconnected, bound to 0.0.0.0, recvfrom/sendto),
    which echoes each. Exactly one flow per side: client 127.0.0.1:C ->
    127.0.0.1:S, server 0.0.0.0:S -> 127.0.0.1:C; exact tx/rx bytes and
    packets in the end event; pid, tid, comm, owner traffic, inode; each
    ends with reason close within 3 s of its close() (--udp-idle 60)."""
    echo_scenario(ctx, "127.0.0.1")


@test("udp_loopback_ipv6")
def udp_loopback_ipv6(ctx):
    """The same on ::1, the server bound to :: (family 6)."""
    echo_scenario(ctx, "::1")


@test("udp_netns_veth_ipv4")
def udp_netns_veth_ipv4(ctx):
    """The echo exchange between namespaces joined by a veth pair: server
    in A bound to 0.0.0.0, client in B (192.0.2.2) to 192.0.2.1; each
    flow's netns is its namespace's inode."""
    pair = NetPair(ctx)
    echo_scenario(ctx, pair.A4, pair.B4, pair.a.name, pair.b.name, pair.a.inode, pair.b.inode)


@test("udp_netns_veth_ipv6")
def udp_netns_veth_ipv6(ctx):
    """The same between 2001:db8::2 and 2001:db8::1, server bound to ::."""
    pair = NetPair(ctx)
    echo_scenario(ctx, pair.A6, pair.B6, pair.a.name, pair.b.name, pair.a.inode, pair.b.inode)


@test("udp_server_three_clients")
def udp_server_three_clients(ctx):
    """One unconnected server socket answers three client processes (1, 2
    and 3 datagrams): three server flows, one per client port, each with
    that client's counts; and each client's own flow."""
    fam = 4
    with Tracer(ctx, ["--no-snapshot"] + BIG_IDLE) as t:
        srv = Udp(ctx, "st-usrv3")
        b = srv.bind("s", "0.0.0.0")
        sport = b["lport"]
        clients = []
        for i in range(3):
            cli = Udp(ctx, "st-ucli%d" % i)
            c = cli.connect("c", "127.0.0.1", sport)
            sizes = [10 * (i + 1) + j for j in range(i + 1)]
            exchange(cli, "c", srv, "s", sizes)
            clients.append((cli, c, sizes))
        cws, sws = [], []
        for cli, c, sizes in clients:
            cws.append(flow(ctx.netns_self, fam, "127.0.0.1", c["lport"], "127.0.0.1", sport, cli,
                            c["ino"], tx=sizes, rx=sizes))
            sws.append(flow(ctx.netns_self, fam, "0.0.0.0", sport, "127.0.0.1", c["lport"], srv,
                            b["ino"], tx=sizes, rx=sizes))
            cli.close("c")
        srv.close("s")
        for w in cws + sws:
            wait_end(t, w, describe(w))
        run = t.stop()
    sel = near(*(cws + sws))
    clean_exit(run, sel)
    socks = set()
    for w in sws:
        life = check_flow(run, w, "server " + describe(w), sel)
        socks.add(life[0].get("sock"))
    for w in cws:
        check_flow(run, w, "client " + describe(w), sel)
    if len(socks) != 1:
        fail(run, "the three server flows name %d sockets (%s), expected the one server socket"
             % (len(socks), sorted(map(str, socks))), sel)
    check_socket_flows(run, ctx.netns_self, "0.0.0.0", sport, sws, "server socket", sel)


# ---------------------------------------------------------------- idle

@test("udp_idle_timeout")
def udp_idle_timeout(ctx):
    """--udp-idle 1: after two echoed datagrams both sockets stay open and
    silent. Each flow ends with reason idle 0.9-3.5 s after the last
    datagram (not before: the end must wait for the timeout), with the
    totals, and a duration_ms that does not include the idle time. One more
    datagram on the same sockets starts new flows (a new start, counts from
    zero again), which end with reason close when the sockets close."""
    fam = 4
    with Tracer(ctx, ["--no-snapshot", "--udp-idle", "1"]) as t:
        srv = Udp(ctx, "st-uisrv")
        cli = Udp(ctx, "st-uicli")
        b = srv.bind("s", "0.0.0.0")
        c = cli.connect("c", "127.0.0.1", b["lport"])
        first = [40, 41]
        exchange(cli, "c", srv, "s", first)
        t_last = time.monotonic()
        cw = flow(ctx.netns_self, fam, "127.0.0.1", c["lport"], "127.0.0.1", b["lport"], cli,
                  c["ino"], tx=first, rx=first)
        sw = flow(ctx.netns_self, fam, "0.0.0.0", b["lport"], "127.0.0.1", c["lport"], srv,
                  b["ino"], tx=first, rx=first)
        sel = near(cw, sw)
        seen = {}
        deadline = t_last + 5.0
        while len(seen) < 2 and time.monotonic() < deadline:
            for name, w in (("client", cw), ("server", sw)):
                if name not in seen and any(is_end(w)(r) for r in t.records_now()):
                    seen[name] = time.monotonic() - t_last
            time.sleep(0.05)
        if len(seen) < 2:
            run = t.stop()
            fail(run, "no end for the %s flow within 5 s of its last datagram (--udp-idle 1)"
                 % " and ".join(n for n in ("client", "server") if n not in seen), sel)
        second = [42]
        exchange(cli, "c", srv, "s", second)
        again = wait_restart(t, cw, 3.0)
        cli.close("c")
        srv.close("s")
        cw2 = dict(cw, tx_bytes=sum(second), tx_packets=1, rx_bytes=sum(second), rx_packets=1)
        sw2 = dict(sw, tx_bytes=sum(second), tx_packets=1, rx_bytes=sum(second), rx_packets=1)
        _wait_second_end(t, cw2, "client", sel)
        _wait_second_end(t, sw2, "server", sel)
        run = t.stop()
    clean_exit(run, sel)
    for name, took in seen.items():
        if not 0.9 <= took <= 3.5:
            fail(run, "the %s flow's idle end reached stdout %.2f s after its last datagram; "
                 "expected 0.9-3.5 s with --udp-idle 1" % (name, took), sel)
    for name, w, w2 in (("client", cw, cw2), ("server", sw, sw2)):
        found = flow_lives(run, w)
        what = "%s %s" % (name, describe(w))
        if len(found) != 2:
            fail(run, "%s: expected 2 flows (one ended by idle, one after new traffic), got %d"
                 % (what, len(found)), sel)
        one = check_life(run, found[0], w, what + " (before idling)", sel, reason="idle")
        check_life(run, found[1], w2, what + " (after idling)", sel, reason="close")
        d = one[-1].get("duration_ms")
        if d >= 900:
            fail(run, "%s: the idle end has duration_ms %s, which counts the idle time: its "
                 "datagrams were a few ms apart" % (what, d), sel)
    if again is None:
        fail(run, "client %s: no new start within 3 s of the datagram after the idle end"
             % describe(cw), sel)


def wait_restart(t, want, timeout):
    """A start of the flow `want` printed after its first end, or None."""
    deadline = time.monotonic() + timeout
    while True:
        recs = t.records_now()
        end_i = next((i for i, r in enumerate(recs) if is_end(want)(r)), None)
        if end_i is not None:
            for r in recs[end_i + 1:]:
                if r.get("type") == "udp_flow" and r.get("event") == "start" and tup(r) == tup(want):
                    return r
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def _wait_second_end(t, want, name, sel):
    if wait_for(t, is_end(want, "close"), END_WAIT) is None:
        run = t.stop()
        fail(run, "%s %s: no close end within %.1f s of closing it after the idle end"
             % (name, describe(want), END_WAIT), sel)


# ---------------------------------------------------------------- peek, mmsg, failures

def pair(ctx, tag, fam=4):
    srv = Udp(ctx, "st-%ss" % tag)
    cli = Udp(ctx, "st-%sc" % tag)
    lo = "127.0.0.1" if fam == 4 else "::1"
    b = srv.bind("s", wildcard(fam))
    c = cli.connect("c", lo, b["lport"])
    return srv, cli, b, c, lo


def close_and_check(ctx, t, srv, cli, b, c, lo, fam, ctx_tx, ctx_rx, extra_sel=None):
    """Closes both sockets, waits for both ends, stops socktrace and checks
    both flows: the client sent ctx_tx and received ctx_rx (sizes)."""
    cw = flow(ctx.netns_self, fam, lo, c["lport"], lo, b["lport"], cli, c["ino"],
              tx=ctx_tx, rx=ctx_rx)
    sw = flow(ctx.netns_self, fam, wildcard(fam), b["lport"], lo, c["lport"], srv, b["ino"],
              tx=ctx_rx, rx=ctx_tx)
    cli.close("c")
    srv.close("s")
    wait_end(t, cw, "client " + describe(cw))
    wait_end(t, sw, "server " + describe(sw))
    run = t.stop()
    sel = near(cw, sw)
    clean_exit(run, sel)
    check_flow(run, cw, "client " + describe(cw), sel)
    check_flow(run, sw, "server " + describe(sw), sel)
    return run, sel


@test("udp_msg_peek")
def udp_msg_peek(ctx):
    """recvfrom(MSG_PEEK) then recvfrom() of one 123-byte datagram on the
    server, recv(MSG_PEEK) then recv() of a 45-byte answer on the client:
    each read once (rx_packets 1, rx_bytes the size), the peek not counted."""
    with Tracer(ctx, ["--no-snapshot"] + BIG_IDLE) as t:
        srv, cli, b, c, lo = pair(ctx, "upk")
        cli.send("c", 123)
        for peek in (True, False):
            if srv.recvfrom("s", peek=peek)["n"] != 123:
                raise Fail("helper: the server read another size than 123")
        srv.sendto("s", lo, c["lport"], 45)
        for peek in (True, False):
            if cli.recv("c", peek=peek)["n"] != 45:
                raise Fail("helper: the client read another size than 45")
        close_and_check(ctx, t, srv, cli, b, c, lo, 4, [123], [45])


@test("udp_sendmmsg_recvmmsg")
def udp_sendmmsg_recvmmsg(ctx):
    """One sendmmsg(2) of 8 datagrams (10..80 bytes) from the connected
    client, one recvmmsg(2) of the 8 on the unconnected server; the server
    answers with one sendmmsg of 8 (each addressed to the client), the
    client reads them with one recvmmsg: tx_packets 8 and rx_packets 8 with
    exact bytes on both sides, IPv4 and IPv6."""
    sizes = [10 * (i + 1) for i in range(8)]
    for fam in (4, 6):
        with Tracer(ctx, ["--no-snapshot"] + BIG_IDLE) as t:
            srv, cli, b, c, lo = pair(ctx, "umm%d" % fam, fam)
            r = cli.do("sendmmsg c %s" % " ".join(map(str, sizes)), "sendmmsg")
            if r["ret"] != 8 or r["bytes"] != sum(sizes):
                raise Fail("helper: sendmmsg sent %d datagrams, %d bytes" % (r["ret"], r["bytes"]))
            r = srv.do("recvmmsg s 8", "recvmmsg")
            if r["ret"] != 8 or r["sizes"] != sizes:
                raise Fail("helper: recvmmsg got %s" % r["sizes"])
            if any(p != [lo, c["lport"]] for p in r["peers"]):
                raise Fail("helper: recvmmsg gave the peers %s" % r["peers"])
            r = srv.do("sendmmsgto s %s %d %s" % (lo, c["lport"], " ".join(map(str, sizes))),
                       "sendmmsg")
            if r["ret"] != 8 or r["bytes"] != sum(sizes):
                raise Fail("helper: sendmmsg sent %d datagrams, %d bytes" % (r["ret"], r["bytes"]))
            r = cli.do("recvmmsg c 8", "recvmmsg")
            if r["ret"] != 8 or r["sizes"] != sizes:
                raise Fail("helper: the client's recvmmsg got %s" % r["sizes"])
            close_and_check(ctx, t, srv, cli, b, c, lo, fam, sizes, sizes)


@test("udp_failed_send")
def udp_failed_send(ctx):
    """A send() that fails (70000 bytes: EMSGSIZE) counts nothing: the
    flow has only the 50-byte datagram sent after it; a socket whose only
    send failed has no flow at all."""
    with Tracer(ctx, ["--no-snapshot"] + BIG_IDLE) as t:
        srv, cli, b, c, lo = pair(ctx, "ufs")
        if cli.do("badsend c 70000", "badsend")["err"] != "EMSGSIZE":
            raise Fail("helper: a 70000-byte send did not fail with EMSGSIZE")
        cli.send("c", 50)
        srv.recvfrom("s")
        c2 = cli.connect("c2", lo, b["lport"])
        if cli.do("badsend c2 70000", "badsend")["err"] != "EMSGSIZE":
            raise Fail("helper: a 70000-byte send did not fail with EMSGSIZE")
        cli.close("c2")
        run, sel = close_and_check(ctx, t, srv, cli, b, c, lo, 4, [50], [])
    ghost = [r for r in flows_of(run) if r.get("lport") == c2["lport"] and
             r.get("netns") == ctx.netns_self and r.get("laddr") == lo]
    if ghost:
        fail(run, "a socket whose only send failed has %d udp_flow records (port %d)"
             % (len(ghost), c2["lport"]), lambda r: r in ghost or sel(r))


@test("udp_zero_length")
def udp_zero_length(ctx):
    """A zero-length datagram is a datagram: the client's flow has
    tx_packets 1, tx_bytes 0; the server's rx_packets 1, rx_bytes 0."""
    with Tracer(ctx, ["--no-snapshot"] + BIG_IDLE) as t:
        srv, cli, b, c, lo = pair(ctx, "uzl")
        cli.send("c", 0)
        if srv.recvfrom("s")["n"] != 0:
            raise Fail("helper: the empty datagram arrived with a payload")
        close_and_check(ctx, t, srv, cli, b, c, lo, 4, [0], [])


# ---------------------------------------------------------------- filters

def only_udp(run, pred, what, sel):
    bad = [r for r in flows_of(run) if not pred(r)]
    if bad:
        fail(run, "%d udp_flow records pass the filter although %s" % (len(bad), what),
             lambda r: r in bad or sel(r))


def none_of(run, want, what, sel):
    leaked = [r for r in flows_of(run) if tup(r) == tup(want)]
    if leaked:
        fail(run, "%d records of the excluded %s passed the filter" % (len(leaked), what),
             lambda r: r in leaked or sel(r))


def simple_flows(ctx, t, tag, sizes=(5, 6), port=0, fam=4, srv=None, cli=None):
    """An echo exchange; both sockets closed and their ends awaited (if
    they pass the filter: a short wait otherwise). Returns the client and
    server flows as wanted."""
    lo = "127.0.0.1" if fam == 4 else "::1"
    srv = srv or Udp(ctx, "st-%ss" % tag)
    cli = cli or Udp(ctx, "st-%sc" % tag)
    b = srv.bind("s", wildcard(fam), port)
    c = cli.connect("c", lo, b["lport"])
    exchange(cli, "c", srv, "s", list(sizes))
    cw = flow(ctx.netns_self, fam, lo, c["lport"], lo, b["lport"], cli, c["ino"],
              tx=sizes, rx=sizes)
    sw = flow(ctx.netns_self, fam, wildcard(fam), b["lport"], lo, c["lport"], srv, b["ino"],
              tx=sizes, rx=sizes)
    cli.close("c")
    srv.close("s")
    return cw, sw


def settle_ends(t, wants, timeout=END_WAIT):
    """Waits for the ends of the flows that are expected to pass."""
    for w in wants:
        wait_for(t, is_end(w), timeout)


@test("udp_filter_udp_only")
def udp_filter_udp_only(ctx):
    """-u with a UDP exchange and a TCP connection: the UDP flows in full,
    no TCP record of any kind."""
    with Tracer(ctx, ["--no-snapshot", "-u"] + BIG_IDLE) as t:
        conv = Conversation(ctx, "127.0.0.1", server_name="st-utcps", client_name="st-utcpc").run()
        cw, sw = simple_flows(ctx, t, "uonly")
        settle_ends(t, [cw, sw])
        run = t.stop()
    sel = lambda r: near(cw, sw)(r) or conv.select()(r)
    clean_exit(run, sel)
    tcp = [r for r in run.records if r.get("type") in TCP_TYPES or r.get("proto") == "tcp"]
    if tcp:
        fail(run, "-u printed %d TCP records" % len(tcp), lambda r: r in tcp)
    check_flow(run, cw, "client " + describe(cw), sel)
    check_flow(run, sw, "server " + describe(sw), sel)


@test("udp_filter_tcp_only")
def udp_filter_tcp_only(ctx):
    """-t with a UDP exchange and a TCP connection: the TCP client's
    transitions in full, no udp_flow (nor udp_socket) record."""
    with Tracer(ctx, ["--no-snapshot", "-t"] + BIG_IDLE) as t:
        cw, sw = simple_flows(ctx, t, "tonly")
        conv = Conversation(ctx, "127.0.0.1", server_name="st-ttcps", client_name="st-ttcpc").run()
        time.sleep(0.3)
        run = t.stop()
    udp = [r for r in run.records if r.get("type") in ("udp_flow", "udp_socket")
           or r.get("proto") == "udp"]
    if udp:
        fail(run, "-t printed %d UDP records" % len(udp), lambda r: r in udp)
    run.expect_clean_exit(conv.select())
    check_client(run, conv, ctx.netns_self)


@test("udp_filter_port")
def udp_filter_port(ctx):
    """-P P1 with two UDP exchanges, to servers on ports P1 and P2: both
    flows of P1 (client: remote port P1; server: local port P1) in full,
    nothing of P2."""
    srv1 = Udp(ctx, "st-ups1")
    srv2 = Udp(ctx, "st-ups2")
    p1 = srv1.bind("probe", "0.0.0.0")["lport"]
    srv1.close("probe")
    with Tracer(ctx, ["--no-snapshot", "-P", str(p1)] + BIG_IDLE) as t:
        cw1, sw1 = simple_flows(ctx, t, "upa", port=p1, srv=srv1)
        cw2, sw2 = simple_flows(ctx, t, "upb", srv=srv2)
        settle_ends(t, [cw1, sw1])
        run = t.stop()
    sel = near(cw1, sw1, cw2, sw2)
    clean_exit(run, sel)
    only_udp(run, lambda r: p1 in (r.get("lport"), r.get("rport")), "neither port is %d" % p1, sel)
    check_flow(run, cw1, "client " + describe(cw1), sel)
    check_flow(run, sw1, "server " + describe(sw1), sel)
    none_of(run, cw2, "client " + describe(cw2), sel)
    none_of(run, sw2, "server " + describe(sw2), sel)


@test("udp_filter_pid")
def udp_filter_pid(ctx):
    """-p PID of one client: that client's flow only; the server's flows
    (same socket pair, another process) and a second client's are not
    printed."""
    a = Udp(ctx, "st-uppa")
    bcli = Udp(ctx, "st-uppb")
    with Tracer(ctx, ["--no-snapshot", "-p", str(a.pid)] + BIG_IDLE) as t:
        cwa, swa = simple_flows(ctx, t, "uppas", cli=a)
        cwb, swb = simple_flows(ctx, t, "uppbs", cli=bcli)
        settle_ends(t, [cwa])
        run = t.stop()
    sel = near(cwa, swa, cwb, swb)
    clean_exit(run, sel)
    only_udp(run, lambda r: r.get("pid") == a.pid, "their pid is not %d" % a.pid, sel)
    check_flow(run, cwa, "client " + describe(cwa), sel)
    for w, what in ((swa, "server of st-uppa"), (cwb, "client st-uppb"), (swb, "server of st-uppb")):
        none_of(run, w, what, sel)


@test("udp_filter_comm")
def udp_filter_comm(ctx):
    """--comm NAME: only the flows of processes named NAME (the client), not
    its server's nor those of a client named NAME plus a suffix."""
    a = Udp(ctx, "st-ufc")
    bcli = Udp(ctx, "st-ufcx")
    with Tracer(ctx, ["--no-snapshot", "--comm", "st-ufc"] + BIG_IDLE) as t:
        cwa, swa = simple_flows(ctx, t, "ufcas", cli=a)
        cwb, swb = simple_flows(ctx, t, "ufcbs", cli=bcli)
        settle_ends(t, [cwa])
        run = t.stop()
    sel = near(cwa, swa, cwb, swb)
    clean_exit(run, sel)
    only_udp(run, lambda r: r.get("comm") == "st-ufc", "their comm is not st-ufc", sel)
    check_flow(run, cwa, "client " + describe(cwa), sel)
    for w, what in ((swa, "server of st-ufc"), (cwb, "client st-ufcx"), (swb, "server of st-ufcx")):
        none_of(run, w, what, sel)


@test("udp_filter_ipv6")
def udp_filter_ipv6(ctx):
    """-6 with UDP exchanges on 127.0.0.1 and ::1: the IPv6 flows in full,
    no family-4 flow."""
    with Tracer(ctx, ["--no-snapshot", "-6"] + BIG_IDLE) as t:
        cw4, sw4 = simple_flows(ctx, t, "uf4", fam=4)
        cw6, sw6 = simple_flows(ctx, t, "uf6", fam=6)
        settle_ends(t, [cw6, sw6])
        run = t.stop()
    sel = near(cw4, sw4, cw6, sw6)
    clean_exit(run, sel)
    only_udp(run, lambda r: r.get("family") == 6, "their family is not 6", sel)
    check_flow(run, cw6, "client " + describe(cw6), sel)
    check_flow(run, sw6, "server " + describe(sw6), sel)
    none_of(run, cw4, "IPv4 client", sel)
    none_of(run, sw4, "IPv4 server", sel)


@test("udp_filter_expression")
def udp_filter_expression(ctx):
    """The expression "udp and port P" with a TCP connection to port P, a
    UDP exchange with a server on P and one on another port: the UDP flows
    of P in full, no TCP record, nothing of the other port."""
    port = free_port_both()
    srv = Udp(ctx, "st-uexs")
    with Tracer(ctx, ["--no-snapshot"] + BIG_IDLE + ["udp and port %d" % port]) as t:
        cw, sw = simple_flows(ctx, t, "uexa", port=port, srv=srv)
        conv = Conversation(ctx, "127.0.0.1", port=port, server_name="st-uextcps",
                            client_name="st-uextcpc").run()
        cwo, swo = simple_flows(ctx, t, "uexb")
        settle_ends(t, [cw, sw])
        run = t.stop()
    sel = lambda r: near(cw, sw, cwo, swo)(r) or conv.select()(r)
    clean_exit(run, sel)
    tcp = [r for r in run.records if r.get("type") in TCP_TYPES or r.get("proto") == "tcp"]
    if tcp:
        fail(run, "\"udp and port %d\" printed %d TCP records" % (port, len(tcp)),
             lambda r: r in tcp)
    only_udp(run, lambda r: port in (r.get("lport"), r.get("rport")),
             "neither port is %d" % port, sel)
    check_flow(run, cw, "client " + describe(cw), sel)
    check_flow(run, sw, "server " + describe(sw), sel)
    none_of(run, cwo, "client on another port", sel)
    none_of(run, swo, "server on another port", sel)


# ---------------------------------------------------------------- interval

@test("udp_interval_updates")
def udp_interval_updates(ctx):
    """--interval 1: the client sends 13 datagrams of 20 bytes 200 ms apart
    (~2.4 s), then stays silent ~2 s before closing. Both flows get at
    least one update while the datagrams flow, with counts that grow from
    update to update (an update only when counts changed: none repeats the
    previous record's counts), and end (close) with the exact totals."""
    n, size = 13, 20
    with Tracer(ctx, ["--no-snapshot", "--interval", "1"] + BIG_IDLE) as t:
        srv = Udp(ctx, "st-uivs")
        cli = Udp(ctx, "st-uivc")
        b = srv.bind("s", "0.0.0.0")
        c = cli.connect("c", "127.0.0.1", b["lport"])
        srv.h.send("recvn s %d" % n)
        cli.do("stream c %d 200 %d" % (n, size), "streamed")
        if srv.h.expect("drained")["bytes"] != n * size:
            raise Fail("helper: the server did not receive all %d bytes" % (n * size))
        time.sleep(2.2)
        cw = flow(ctx.netns_self, 4, "127.0.0.1", c["lport"], "127.0.0.1", b["lport"], cli,
                  c["ino"], tx=[size] * n)
        sw = flow(ctx.netns_self, 4, "0.0.0.0", b["lport"], "127.0.0.1", c["lport"], srv,
                  b["ino"], rx=[size] * n)
        cli.close("c")
        srv.close("s")
        wait_end(t, cw, "client " + describe(cw))
        wait_end(t, sw, "server " + describe(sw))
        run = t.stop()
    sel = near(cw, sw)
    clean_exit(run, sel)
    for name, w in (("client", cw), ("server", sw)):
        what = "%s %s" % (name, describe(w))
        life = check_flow(run, w, what, sel)
        ups = [r for r in life if r.get("event") == "update"]
        if not ups:
            fail(run, "%s: no update in ~2.4 s of traffic with --interval 1" % what, sel)
        for a, b in zip(life, life[1:]):
            if b.get("event") == "update" and all(a.get(k) == b.get(k) for k in COUNTS):
                fail(run, "%s: an update repeats the counts of the %s before it (tx %s/%s "
                     "rx %s/%s): updates are for flows whose counts changed" % (
                         what, a.get("event"), b["tx_packets"], b["tx_bytes"],
                         b["rx_packets"], b["rx_bytes"]), sel)
        key = "tx_packets" if name == "client" else "rx_packets"
        if not any(0 < u[key] < n for u in ups):
            fail(run, "%s: no update shows the flow part-way (%s between 1 and %d): %s"
                 % (what, key, n - 1, [u[key] for u in ups]), sel)


# ---------------------------------------------------------------- snapshot, summary

@test("udp_snapshot")
def udp_snapshot(ctx):
    """UDP sockets that exist before socktrace starts are listed as
    udp_socket: one bound to 0.0.0.0 (state bound), one on :: (bound), and
    one connected to 127.0.0.1 (state connected, with its remote side),
    each with its owner's pid and comm and its inode; none of them when
    -t or --no-snapshot."""
    h = Udp(ctx, "st-usnap")
    b4 = h.bind("b4", "0.0.0.0")
    b6 = h.bind("b6", "::")
    c = h.connect("c", "127.0.0.1", b4["lport"])
    with Tracer(ctx, []) as t:
        run = t.stop()
    ports = {b4["lport"], b6["lport"], c["lport"]}
    sel = lambda r: r.get("lport") in ports or r.get("pid") == h.pid
    clean_exit(run, sel)
    socks = [r for r in run.records if r.get("type") == "udp_socket"]
    expect = (("bound IPv4", b4, dict(family=4, laddr="0.0.0.0", state="bound")),
              ("bound IPv6", b6, dict(family=6, laddr="::", state="bound")),
              ("connected", c, dict(family=4, laddr="127.0.0.1", state="connected",
                                    raddr="127.0.0.1", rport=b4["lport"])))
    for what, r, want in expect:
        found = [s for s in socks if s.get("lport") == r["lport"] and
                 s.get("family") == want["family"] and s.get("netns") == ctx.netns_self]
        if len(found) != 1:
            fail(run, "snapshot %s socket port %d: expected one udp_socket, got %d"
                 % (what, r["lport"], len(found)), sel)
        want = dict(want, pid=h.pid, comm=h.name, ino=r["ino"], proto="udp")
        bad = {k: found[0].get(k) for k, v in want.items() if found[0].get(k) != v}
        if bad:
            fail(run, "snapshot %s socket port %d: %s" % (what, r["lport"], ", ".join(
                "%s=%r (expected %r)" % (k, g, want[k]) for k, g in bad.items())), sel)
    for args in (["-t"], ["--no-snapshot"]):
        with Tracer(ctx, args) as t:
            run = t.stop()
        clean_exit(run, sel)
        listed = [r for r in run.records if r.get("type") == "udp_socket"]
        if listed:
            fail(run, "%s listed %d udp_socket entries" % (" ".join(args), len(listed)),
                 lambda r: r.get("type") == "udp_socket")
    h.finish()


@test("udp_summary_and_stop")
def udp_summary_and_stop(ctx):
    """Two flows that end (close) and two still active when socktrace
    stops: the active ones get a final update with their exact totals and
    no end; the summary has udp_flows >= the flows printed, lost 0,
    udp_uncounted 0 and udp_uncounted_bytes 0."""
    with Tracer(ctx, ["--no-snapshot"] + BIG_IDLE) as t:
        cw, sw = simple_flows(ctx, t, "usum")
        settle_ends(t, [cw, sw])
        srv = Udp(ctx, "st-usums2")
        cli = Udp(ctx, "st-usumc2")
        b = srv.bind("s", "0.0.0.0")
        c = cli.connect("c", "127.0.0.1", b["lport"])
        exchange(cli, "c", srv, "s", [7, 8, 9])
        cwo = flow(ctx.netns_self, 4, "127.0.0.1", c["lport"], "127.0.0.1", b["lport"], cli,
                   c["ino"], tx=[7, 8, 9], rx=[7, 8, 9])
        swo = flow(ctx.netns_self, 4, "0.0.0.0", b["lport"], "127.0.0.1", c["lport"], srv,
                   b["ino"], tx=[7, 8, 9], rx=[7, 8, 9])
        time.sleep(0.2)
        run = t.stop()
    sel = near(cw, sw, cwo, swo)
    clean_exit(run, sel)
    check_flow(run, cw, "client " + describe(cw), sel)
    check_flow(run, sw, "server " + describe(sw), sel)
    check_flow(run, cwo, "open client " + describe(cwo), sel, reason=None)
    check_flow(run, swo, "open server " + describe(swo), sel, reason=None)
    s = run.summary
    starts = len([r for r in flows_of(run) if r.get("event") == "start"])
    if not _int(s.get("udp_flows")) or s["udp_flows"] < starts:
        fail(run, "summary udp_flows=%r, but %d flows started" % (s.get("udp_flows"), starts), sel)
    for k in ("udp_uncounted", "udp_uncounted_bytes"):
        if s.get(k) != 0:
            fail(run, "summary %s=%r, expected 0 (a handful of flows cannot fill the table)"
                 % (k, s.get(k)), sel)
    cli.finish()
    srv.finish()


# ---------------------------------------------------------------- more shapes

@test("udp_wildcard_two_peers")
def udp_wildcard_two_peers(ctx):
    """An unbound, unconnected socket sendto()s two servers bound to
    127.0.0.1 (ports A and B; 1 and 2 datagrams, each echoed): the kernel
    binds it to the wildcard, so both of its flows show laddr 0.0.0.0 (not
    the route's source address); one flow per server on the one socket,
    each with its own counts; the servers' flows have laddr 127.0.0.1."""
    with Tracer(ctx, ["--no-snapshot"] + BIG_IDLE) as t:
        srv = Udp(ctx, "st-u2ps")
        cli = Udp(ctx, "st-u2pc")
        a = srv.bind("a", "127.0.0.1")
        b = srv.bind("b", "127.0.0.1")
        cli.do("socket c 4", "socket")
        srv.start_echo("a", 1)
        cli.sendto("c", "127.0.0.1", a["lport"], 11)
        cli.recvfrom("c")
        srv.echoed()
        srv.start_echo("b", 2)
        for n in (22, 33):
            cli.sendto("c", "127.0.0.1", b["lport"], n)
            cli.recvfrom("c")
        srv.echoed()
        c = cli.do("name c", "name")
        if c["laddr"] != "0.0.0.0":
            raise Fail("helper: the autobound socket has address %s" % c["laddr"])
        wants = []
        for sock, sizes in ((a, [11]), (b, [22, 33])):
            wants.append(("client", flow(ctx.netns_self, 4, "0.0.0.0", c["lport"], "127.0.0.1",
                                         sock["lport"], cli, c["ino"], tx=sizes, rx=sizes)))
            wants.append(("server", flow(ctx.netns_self, 4, "127.0.0.1", sock["lport"],
                                         "127.0.0.1", c["lport"], srv, sock["ino"], tx=sizes,
                                         rx=sizes)))
        for sid in ("a", "b"):
            srv.close(sid)
        cli.close("c")
        for _, w in wants:
            wait_end(t, w, describe(w))
        run = t.stop()
    sel = near(*(w for _, w in wants))
    clean_exit(run, sel)
    for name, w in wants:
        check_flow(run, w, "%s %s" % (name, describe(w)), sel)
    check_socket_flows(run, ctx.netns_self, "0.0.0.0", c["lport"],
                       [w for n, w in wants if n == "client"], "client socket", sel)
    check_socket_flows(run, ctx.netns_self, "127.0.0.1", c["lport"], [], "client socket "
                       "(under an invented local address)", sel)


@test("udp_shared_socket_owners")
def udp_shared_socket_owners(ctx):
    """One connected socket used by two processes: st-ushp sends 30 bytes,
    its forked child st-ushk (same socket) sends 40 and 41, st-ushp sends
    31. Two flows on the one socket and tuple, one per owner, each with
    its own datagrams; the server has one flow with all four. Closing the
    socket ends both client flows (reason close)."""
    with Tracer(ctx, ["--no-snapshot"] + BIG_IDLE) as t:
        srv = Udp(ctx, "st-ushs")
        cli = Udp(ctx, "st-ushp")
        b = srv.bind("s", "0.0.0.0")
        c = cli.connect("c", "127.0.0.1", b["lport"])
        srv.h.send("recvn s 4")
        cli.send("c", 30)
        k = cli.do("forksend c st-ushk 40 41", "forked")
        if k["status"] != 0:
            raise Fail("helper: the forked sender failed (status %s)" % k["status"])
        cli.send("c", 31)
        if srv.h.expect("drained")["bytes"] != 142:
            raise Fail("helper: the server did not receive the 142 bytes")
        child = types.SimpleNamespace(pid=k["child"], name="st-ushk")
        pw = flow(ctx.netns_self, 4, "127.0.0.1", c["lport"], "127.0.0.1", b["lport"], cli,
                  c["ino"], tx=[30, 31])
        kw = flow(ctx.netns_self, 4, "127.0.0.1", c["lport"], "127.0.0.1", b["lport"], child,
                  c["ino"], tx=[40, 41])
        sw = flow(ctx.netns_self, 4, "0.0.0.0", b["lport"], "127.0.0.1", c["lport"], srv,
                  b["ino"], rx=[30, 40, 41, 31])
        cli.close("c")
        srv.close("s")
        deadline = time.monotonic() + END_WAIT
        while time.monotonic() < deadline and \
                len([r for r in t.records_now() if is_end(pw)(r)]) < 2:
            time.sleep(0.05)
        wait_end(t, sw, "server " + describe(sw))
        run = t.stop()
    sel = near(pw, kw, sw)
    clean_exit(run, sel)
    check_flow(run, pw, "parent's " + describe(pw), sel, by_pid=True)
    check_flow(run, kw, "child's " + describe(kw), sel, by_pid=True)
    check_flow(run, sw, "server " + describe(sw), sel)
    n = len(flow_lives(run, pw))
    if n != 2:
        fail(run, "the shared client socket has %d flows, expected 2 (one per process)" % n, sel)
    socks = {l[0].get("sock") for l in flow_lives(run, pw)}
    if len(socks) != 1:
        fail(run, "the two owners' flows name sockets %s, expected the one shared socket"
             % sorted(map(str, socks)), sel)


@test("udp_dual_stack")
def udp_dual_stack(ctx):
    """A server socket bound to :: that also takes IPv4 (IPV6_V6ONLY 0)
    answers an IPv4 client on 127.0.0.1: the server's flow keeps family 6
    with laddr :: and prints its IPv4-mapped peer as 127.0.0.1 (as
    docs/json.md says for TCP); the client's flow is family 4."""
    with Tracer(ctx, ["--no-snapshot"] + BIG_IDLE) as t:
        srv = Udp(ctx, "st-udss")
        cli = Udp(ctx, "st-udsc")
        b = srv.do("bind s :: 0 dual", "bound")
        c = cli.connect("c", "127.0.0.1", b["lport"])
        exchange(cli, "c", srv, "s", [5, 6])
        cw = flow(ctx.netns_self, 4, "127.0.0.1", c["lport"], "127.0.0.1", b["lport"], cli,
                  c["ino"], tx=[5, 6], rx=[5, 6])
        sw = flow(ctx.netns_self, 6, "::", b["lport"], "127.0.0.1", c["lport"], srv,
                  b["ino"], tx=[5, 6], rx=[5, 6])
        cli.close("c")
        srv.close("s")
        wait_end(t, cw, "client " + describe(cw))
        wait_end(t, sw, "server " + describe(sw))
        run = t.stop()
    sel = near(cw, sw)
    clean_exit(run, sel)
    check_flow(run, cw, "client " + describe(cw), sel)
    check_flow(run, sw, "dual-stack server " + describe(sw), sel)


@test("udp_idle_fractional")
def udp_idle_fractional(ctx):
    """--udp-idle 0.5 (a fraction of a second) ends a silent flow with
    reason idle 0.4-2.5 s after its last datagram."""
    with Tracer(ctx, ["--no-snapshot", "--udp-idle", "0.5"]) as t:
        srv = Udp(ctx, "st-uifs")
        cli = Udp(ctx, "st-uifc")
        b = srv.bind("s", "0.0.0.0")
        c = cli.connect("c", "127.0.0.1", b["lport"])
        exchange(cli, "c", srv, "s", [9])
        t_last = time.monotonic()
        cw = flow(ctx.netns_self, 4, "127.0.0.1", c["lport"], "127.0.0.1", b["lport"], cli,
                  c["ino"], tx=[9], rx=[9])
        end = wait_for(t, is_end(cw), 4.0)
        took = time.monotonic() - t_last
        run = t.stop()
    sel = near(cw)
    clean_exit(run, sel)
    if end is None:
        fail(run, "no end within 4 s of the last datagram with --udp-idle 0.5", sel)
    check_flow(run, cw, "client " + describe(cw), sel, reason="idle")
    if not 0.4 <= took <= 2.5:
        fail(run, "the idle end reached stdout %.2f s after the last datagram; expected "
             "0.4-2.5 s with --udp-idle 0.5" % took, sel)


@test("udp_option_errors")
def udp_option_errors(ctx):
    """--udp-idle and --interval reject a value that is not a number, or
    negative, with exit status 2 (usage) before tracing anything."""
    for args in (["--udp-idle", "abc"], ["--udp-idle", "-1"], ["--interval", "abc"],
                 ["--interval", "-1"], ["--udp-idle", "1x"]):
        cmd = [ctx.socktrace, "-j", "--no-snapshot"] + args
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
        except subprocess.TimeoutExpired:
            raise Fail("%s: still running after 10 s, expected a usage error" % " ".join(cmd))
        if p.returncode != 2:
            raise Fail("%s: exit status %d, expected 2 (usage error)" % (" ".join(cmd), p.returncode),
                       ["stderr: " + l for l in p.stderr.decode(errors="replace").splitlines()[-5:]])
