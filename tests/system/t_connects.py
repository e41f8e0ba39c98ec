"""Connection attempts (--connects, --syn-alert): outcomes, SYN_SENT alerts
and their diagnosis, attempts that predate socktrace, the per-destination
table, and the default mode's share of it.

A SYN_SENT hang without a firewall: a `jam` helper (st-lsn) listens with
listen(0) and connects to itself once without accepting; its accept queue
then holds more than its backlog (1 > 0) and the kernel drops every new
SYN to the port, so a client keeps retransmitting its SYN until st-lsn
accepts. The kernel's own count of retransmitted SYNs (TCP_INFO
total_retrans) is what socktrace's syn_retrans must equal.
"""
import json
import os
import re
import socket
import subprocess
import time

from lib import (OUTCOMES, Fail, Helper, NetPair, Tracer, attempt_schema_errors, boot_ns,
                 run_cmd, test)
from scenarios import Conversation

ALERT_MS = 500          # --syn-alert for the hang tests: short, below the first SYN RTO (1 s)
POLL = 0.05
TCP_SYN_SENT = 2        # tcpi_state


# ---------------------------------------------------------------- traffic

class Jam:
    """st-lsn: a listener whose accept queue is full (see the module doc)."""

    def __init__(self, ctx, addr, name="st-lsn", netns=None):
        self.name = name
        self.addr = addr
        self.h = Helper(ctx, ["jam", "--name", name, "--addr", addr], netns=netns)
        r = self.h.expect("ready")
        self.port, self.pid, self.ino, self.fport = r["ready"], r["pid"], r["ino"], r["fport"]

    def accept(self):
        """Accepts one connection: the queue has room for one more."""
        self.h.send("accept")
        return self.h.expect("accepted")


class Attempts:
    """A helper process (comm `name`) making non-blocking connection
    attempts to addr:port, each under an id."""

    def __init__(self, ctx, addr, port, name, netns=None, syncnt=0):
        self.addr, self.port, self.name = addr, port, name
        self.family = 6 if ":" in addr else 4
        args = ["attempt", "--name", name, "--addr", addr, "--port", port]
        if syncnt:
            args += ["--syncnt", syncnt]
        self.h = Helper(ctx, args, netns=netns)
        self.pid = self.h.expect("started")["started"]
        self.started = {}

    def connect(self, aid):
        self.h.send("connect %s" % aid)
        c = self.h.expect("connecting")
        if c["connecting"] != aid or c["pid"] != self.pid:
            raise Fail("helper: unexpected answer %r to connect %s" % (c, aid), self.h.describe())
        self.started[aid] = c
        return c

    def wait(self, aid, seconds):
        """The attempt's outcome as the application sees it, or
        {"pending": True} after `seconds`."""
        self.h.send("wait %s %s" % (aid, seconds))
        r = self.h.expect("result", timeout=seconds + 10)
        if r["result"] != aid:
            raise Fail("helper: unexpected answer %r to wait %s" % (r, aid), self.h.describe())
        return r

    def info(self, aid):
        self.h.send("info %s" % aid)
        return self.h.expect("info")

    def close(self, aid):
        self.h.send("close %s" % aid)
        self.h.expect("closed")

    def outcome(self, aid, seconds=10):
        """(errno name or None, the kernel's retransmitted SYNs) once the
        attempt is over; connect() may have failed at once."""
        c = self.started[aid]
        if c.get("now"):
            return c["now"], 0
        r = self.wait(aid, seconds)
        if r.get("pending"):
            raise Fail("helper: attempt %s to %s port %d still pending after %ds"
                       % (aid, self.addr, self.port, seconds), self.h.describe())
        return r["err"], r["total_retrans"]

    def wait_retrans(self, aid, n, timeout=10.0):
        """Waits until the kernel retransmitted the attempt's SYN n times
        (it is still in SYN_SENT then); returns the count."""
        deadline = time.monotonic() + timeout
        while True:
            i = self.info(aid)
            if i["state"] != TCP_SYN_SENT:
                raise Fail("helper: attempt %s left SYN_SENT (tcpi_state %d) before %d SYN "
                           "retransmits" % (aid, i["state"], n), self.h.describe())
            if i["total_retrans"] >= n:
                return i["total_retrans"]
            if time.monotonic() > deadline:
                raise Fail("helper: attempt %s: %d SYN retransmits after %.0fs, waited for %d"
                           % (aid, i["total_retrans"], timeout, n), self.h.describe())
            time.sleep(POLL)

    def pending(self, aid):
        """Fails unless the attempt is still in SYN_SENT."""
        i = self.info(aid)
        if i["state"] != TCP_SYN_SENT:
            raise Fail("helper: attempt %s to %s port %d is not hanging (tcpi_state %d)"
                       % (aid, self.addr, self.port, i["state"]), self.h.describe())


def hole(ctx, addr):
    """A port bound on addr but not listening: a SYN to it gets a RST, and
    nobody else can take the port meanwhile."""
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    ctx.on_cleanup(s.close)
    s.bind((addr, 0))
    return s.getsockname()[1]


def poll_line(t, needle, pred, timeout=5.0):
    """The first complete stdout line of socktrace that contains the bytes
    `needle` and satisfies pred (given the raw line), waiting up to timeout;
    None if there is none by then (the final checks then report it). Reads
    the output once, then only what was added: a busy host makes it big."""
    deadline = time.monotonic() + timeout
    pos, rest = 0, b""
    with open(t.out_path, "rb") as f:
        while True:
            f.seek(pos)
            chunk = f.read()
            pos += len(chunk)
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            done, rest = data[:cut], data[cut:]
            i = done.find(needle)
            while i >= 0:
                start = done.rfind(b"\n", 0, i) + 1
                end = done.find(b"\n", i)
                if pred(done[start:end]):
                    return done[start:end]
                i = done.find(needle, end)
            if time.monotonic() > deadline:
                return None
            time.sleep(POLL)


def poll_record(t, needle, pred, timeout=5.0):
    """The first record whose line contains `needle` and that satisfies
    pred, waiting up to timeout; None if there is none by then."""
    def match(raw):
        try:
            return pred(json.loads(raw))
        except ValueError:
            return False
    raw = poll_line(t, needle, match, timeout)
    return None if raw is None else json.loads(raw)


def ino_needle(ino):
    return b'"ino":%d,' % ino


def is_alert_of(c, min_retrans=0):
    return lambda r: r.get("type") == "syn_alert" and r.get("ino") == c["ino"] and \
        r.get("syn_retrans", -1) >= min_retrans


def is_connect_of(c, outcome=None):
    return lambda r: r.get("type") == "connect" and r.get("ino") == c["ino"] and \
        (outcome is None or r.get("outcome") == outcome)


# ---------------------------------------------------------------- checks

class Problems:
    """Collects what is wrong, so that one report names every problem."""

    def __init__(self, run, select):
        self.run = run
        self.select = select
        self.items = []

    def add(self, msg):
        self.items.append(msg)

    def check(self, cond, msg):
        if not cond:
            self.add(msg)
        return cond

    def fields(self, recs, what, **want):
        for r in recs:
            bad = {k: (r.get(k), v) for k, v in want.items() if r.get(k) != v}
            if bad:
                self.add("%s: %s at boot_ns %s has %s" % (
                    what, r.get("type"), r.get("boot_ns"),
                    ", ".join("%s=%r (expected %r)" % (k, g, w) for k, (g, w) in bad.items())))
                return False
        return True

    def schema(self, recs):
        for r in recs:
            errs = attempt_schema_errors(r)
            if errs:
                self.add("record does not match docs/json.md: %s: %s"
                         % ("; ".join(errs), json_line(r)))
                return

    def done(self):
        if self.items:
            reason = self.items[0]
            if len(self.items) > 1:
                reason += " (and %d more problems)" % (len(self.items) - 1)
            self.run.fail(reason, self.select, ["also: " + m for m in self.items[1:]])


def json_line(r):
    return json.dumps(r)[:400]


def of_ino(run, typ, ino):
    return [r for r in run.records if r.get("type") == typ and r.get("ino") == ino]


def selector(pids=(), ports=(), inos=()):
    pids, ports, inos = set(pids), set(ports), set(inos)
    return lambda r: (r.get("pid") in pids or r.get("rport") in ports or r.get("lport") in ports
                      or r.get("ino") in inos)


def tuple_want(att, c, netns, owner="connect", lport=True):
    """The fields every connect/syn_alert of attempt c must carry."""
    w = dict(proto="tcp", family=att.family, laddr=c["laddr"], raddr=att.addr, rport=att.port,
             netns=netns, pid=att.pid, tid=att.pid, comm=att.name, owner=owner, role="client",
             ino=c["ino"])
    if lport:
        w["lport"] = c["lport"]
    return w


def check_start(p, recs, what):
    """boot_ns - elapsed_ms is the moment the attempt entered SYN_SENT: the
    same for every alert and the final connect of one attempt."""
    starts = [(r["boot_ns"] / 1e6 - r["elapsed_ms"], r) for r in recs
              if isinstance(r.get("elapsed_ms"), (int, float)) and isinstance(r.get("boot_ns"), int)]
    for s, r in starts[1:]:
        if abs(s - starts[0][0]) > 1.0:
            p.add("%s: %s at boot_ns %d says the attempt started at %.3f ms, the first record "
                  "says %.3f ms (boot_ns - elapsed_ms)" % (what, r["type"], r["boot_ns"], s,
                                                           starts[0][0]))
            return


def check_queue_full(p, alerts, what, jam):
    for a in alerts:
        d = a.get("diagnosis")
        if not isinstance(d, dict) or d.get("cause") != "accept_queue_full" or \
                d.get("listener_pid") != jam.pid or d.get("listener_comm") != jam.name or \
                not isinstance(d.get("accept_queue"), int) or \
                not isinstance(d.get("backlog"), int) or not d["accept_queue"] > d["backlog"]:
            p.add("%s: syn_alert at %.3f ms has diagnosis %r, expected cause accept_queue_full, "
                  "listener_pid %d, listener_comm %r, accept_queue > backlog"
                  % (what, a.get("elapsed_ms") or -1, d, jam.pid, jam.name))
            return


def one_connect(p, run, c, what):
    """The final connect of attempt c (not the in_progress one)."""
    k = [r for r in of_ino(run, "connect", c["ino"]) if r.get("outcome") != "in_progress"]
    if not p.check(len(k) == 1, "%s: %d connect records with the socket's inode %d, expected 1"
                   % (what, len(k), c["ino"])):
        return None
    return k[0]


# ---------------------------------------------------------------- 1. refused

def refused_case(ctx, addr):
    port = hole(ctx, addr)
    with Tracer(ctx, ["--no-snapshot", "--connects"]) as t:
        att = Attempts(ctx, addr, port, "st-refuse")
        c = att.connect("1")
        err, kretrans = att.outcome("1")
        poll_record(t, ino_needle(c["ino"]), is_connect_of(c))
        run = t.stop()
    what = "refused connect %s:%d -> %s:%d" % (c["laddr"], c["lport"], addr, port)
    sel = selector([att.pid], [port], [c["ino"]])
    run.expect_clean_exit(sel)
    if err != "ECONNREFUSED" or not c["lport"]:
        raise Fail("helper: connect to %s port %d gave %r from port %r, expected ECONNREFUSED"
                   % (addr, port, err, c["lport"]))
    p = Problems(run, sel)
    mine = [r for r in run.records if r.get("pid") == att.pid]
    p.schema(mine)
    k = one_connect(p, run, c, what)
    if k:
        p.fields([k], what, outcome="refused", error="ECONNREFUSED", errno=111, syn_retrans=0,
                 **tuple_want(att, c, ctx.netns_self))
        ms = k.get("elapsed_ms")
        p.check(isinstance(ms, (int, float)) and 0 <= ms < 1000,
                "%s: elapsed_ms %r, expected 0 <= elapsed_ms < 1000" % (what, ms))
        p.check(isinstance(k.get("sock"), str), "%s: sock %r, expected the socket's address"
                % (what, k.get("sock")))
    others = [r for r in mine if r is not k]
    p.check(not others, "%s: %d more records of the client: %s" % (
        what, len(others), "; ".join(json_line(r) for r in others[:3])))
    p.done()


@test("connect_refused_ipv4")
def connect_refused_ipv4(ctx):
    """--connects: a connect() to a loopback port nothing listens on gives
    exactly one `connect` record: outcome refused, error ECONNREFUSED,
    errno 111, syn_retrans 0, the exact tuple (lport the port the SYN
    left from), the client's pid, tid and comm, owner connect, role
    client, netns, inode, 0 <= elapsed_ms < 1000; no other record of the
    client; the record matches docs/json.md."""
    refused_case(ctx, "127.0.0.1")


@test("connect_refused_ipv6")
def connect_refused_ipv6(ctx):
    """The same on ::1 (family 6)."""
    refused_case(ctx, "::1")


# ---------------------------------------------------------------- 2. hang

def hang_case(ctx, addr):
    with Tracer(ctx, ["--no-snapshot", "--connects", "--syn-alert", str(ALERT_MS)]) as t:
        jam = Jam(ctx, addr)
        att = Attempts(ctx, addr, jam.port, "st-hang")
        c1 = att.connect("1")
        att.wait_retrans("1", 1)
        # the alert of the retransmit is diagnosed when socktrace reads it:
        # keep the queue full until it is out
        poll_record(t, ino_needle(c1["ino"]), is_alert_of(c1, 1))
        att.pending("1")
        t_accept = boot_ns()
        jam.accept()
        err1, kretrans1 = att.outcome("1")
        if err1 is not None:
            raise Fail("helper: the hung connect failed with %s once st-lsn accepted" % err1,
                       att.h.describe())
        # st-lsn does not accept attempt 1: the queue is full again
        c2 = att.connect("2")
        poll_record(t, ino_needle(c2["ino"]), is_alert_of(c2))
        att.pending("2")
        att.close("2")
        poll_record(t, ino_needle(c2["ino"]), is_connect_of(c2))
        run = t.stop()
    sel = selector([att.pid, jam.pid], [jam.port], [c1["ino"], c2["ino"]])
    run.expect_clean_exit(sel)
    p = Problems(run, sel)
    p.schema([r for r in run.records if sel(r) and r.get("type") != "summary"])
    what1 = "hung attempt %s:%d -> %s:%d" % (c1["laddr"], c1["lport"], addr, jam.port)

    a1 = of_ino(run, "syn_alert", c1["ino"])
    if p.check(a1, "%s: no syn_alert with the socket's inode %d" % (what1, c1["ino"])):
        p.fields(a1, what1, **tuple_want(att, c1, ctx.netns_self, lport=False))
        low = [a for a in a1 if not (isinstance(a.get("elapsed_ms"), (int, float))
                                     and a["elapsed_ms"] >= ALERT_MS)]
        p.check(not low, "%s: syn_alert with elapsed_ms %r, expected >= %d (--syn-alert)"
                % (what1, low and low[0].get("elapsed_ms"), ALERT_MS))
        rt = [a.get("syn_retrans") for a in a1]
        p.check(rt == sorted(rt), "%s: syn_retrans of the alerts goes down: %s" % (what1, rt))
        check_queue_full(p, [a for a in a1 if a["boot_ns"] < t_accept], what1, jam)
        after = [a for a in a1 if a.get("syn_retrans", 0) >= 1 and a.get("lport") == c1["lport"]]
        if p.check(after, "%s: no syn_alert with syn_retrans >= 1 and lport %d (the alert of "
                   "the first SYN retransmit)" % (what1, c1["lport"])):
            check_queue_full(p, after[:1], what1 + " (at the first retransmit)", jam)
    k1 = one_connect(p, run, c1, what1)
    if k1:
        p.fields([k1], what1, outcome="established", error=None, errno=None,
                 syn_retrans=kretrans1, **tuple_want(att, c1, ctx.netns_self))
        ms = k1.get("elapsed_ms")
        p.check(isinstance(ms, (int, float)) and ALERT_MS < ms < 15000,
                "%s: established with elapsed_ms %r, expected > %d" % (what1, ms, ALERT_MS))
        p.check(kretrans1 >= 1, "helper: the kernel retransmitted no SYN (total_retrans %d)"
                % kretrans1)
        check_start(p, a1 + [k1], what1)

    what2 = "abandoned attempt %s:%d -> %s:%d" % (c2["laddr"], c2["lport"], addr, jam.port)
    a2 = of_ino(run, "syn_alert", c2["ino"])
    if p.check(a2, "%s: no syn_alert with the socket's inode %d" % (what2, c2["ino"])):
        p.fields(a2, what2, **tuple_want(att, c2, ctx.netns_self, lport=False))
        check_queue_full(p, a2, what2, jam)
    k2 = one_connect(p, run, c2, what2)
    if k2:
        p.fields([k2], what2, outcome="aborted", error=None, errno=None,
                 **tuple_want(att, c2, ctx.netns_self))
        ms = k2.get("elapsed_ms")
        p.check(isinstance(ms, (int, float)) and ALERT_MS <= ms < 15000,
                "%s: aborted with elapsed_ms %r, expected >= %d (closed after its alert)"
                % (what2, ms, ALERT_MS))
        check_start(p, a2 + [k2], what2)

    # st-lsn's own connection that fills the queue, then the two attempts
    st = [r for r in run.records if r.get("type") == "connect_stats" and r.get("rport") == jam.port
          and r.get("raddr") == addr]
    if p.check(len(st) == 1, "%d connect_stats lines for %s port %d, expected 1"
               % (len(st), addr, jam.port)):
        p.fields(st, "connect_stats %s:%d" % (addr, jam.port), attempts=3, established=2,
                 aborted=1, refused=0, timeout=0, unreachable=0, family=att.family)
    p.done()


@test("connect_hang_ipv4")
def connect_hang_ipv4(ctx):
    """--connects --syn-alert 500; st-lsn listens with listen(0) and holds
    one connection it does not accept; st-hang's connect() hangs in
    SYN_SENT. syn_alert records for st-hang's socket: tuple, pid, comm,
    elapsed_ms >= 500, syn_retrans never decreasing, diagnosis
    accept_queue_full with listener_pid/comm st-lsn and accept_queue >
    backlog (every alert before the accept), one with syn_retrans >= 1 and
    the real lport. st-lsn accepts: one connect, outcome established,
    elapsed_ms > 500, syn_retrans = the kernel's count of retransmitted
    SYNs (>= 1), error null, and the application's connect succeeded.
    A second hung attempt that st-hang closes: alert, then one connect
    outcome aborted, error null, elapsed_ms >= 500. boot_ns - elapsed_ms
    agrees across each attempt's records. connect_stats for the port:
    3 attempts, 2 established (st-lsn's own and the first), 1 aborted."""
    hang_case(ctx, "127.0.0.1")


@test("connect_hang_ipv6")
def connect_hang_ipv6(ctx):
    """The same on ::1 (family 6)."""
    hang_case(ctx, "::1")


# ---------------------------------------------------------------- 3. timeout

@test("connect_timeout")
def connect_timeout(ctx):
    """A client with TCP_SYNCNT 1 in namespace A connects to 203.0.113.7,
    routed via namespace B, which has forwarding off and drops the SYNs
    silently. One connect whose outcome and error match what the
    application got (ETIMEDOUT: timeout/ETIMEDOUT/110; EHOSTUNREACH:
    unreachable), syn_retrans equal to the kernel's retransmitted SYNs
    (1: tcp_syn_linear_timeouts is 0 in A), elapsed_ms >= 1000, netns the
    inode of A; its alerts have diagnosis null (not a local address);
    connect_stats counts it."""
    pair = NetPair(ctx)
    # /proc/sys directly: a minimal system has no sysctl(8) (procps)
    run_cmd(["ip", "netns", "exec", pair.b.name, "sh", "-c",
             "echo 0 > /proc/sys/net/ipv4/ip_forward"])
    # Linux 6.x: the first tcp_syn_linear_timeouts (4) SYN retransmits come
    # every second and are not bounded by TCP_SYNCNT alone (TCP_SYNCNT 1
    # then gives 2 retransmits). 0 restores the classic exponential
    # backoff, where TCP_SYNCNT 1 is one retransmit: 1 s, then 2 s, timeout.
    classic = os.path.exists("/proc/sys/net/ipv4/tcp_syn_linear_timeouts")
    if classic:
        run_cmd(["ip", "netns", "exec", pair.a.name, "sh", "-c",
                 "echo 0 > /proc/sys/net/ipv4/tcp_syn_linear_timeouts"])
    run_cmd(["ip", "-n", pair.a.name, "route", "add", "203.0.113.0/24", "via", pair.B4])
    dst, port = "203.0.113.7", 47
    with Tracer(ctx, ["--no-snapshot", "--connects", "--syn-alert", str(ALERT_MS)]) as t:
        att = Attempts(ctx, dst, port, "st-timeout", netns=pair.a.name, syncnt=1)
        c = att.connect("1")
        err, kretrans = att.outcome("1", seconds=20)
        poll_record(t, ino_needle(c["ino"]), is_connect_of(c))
        run = t.stop()
    sel = selector([att.pid], [port], [c["ino"]])
    run.expect_clean_exit(sel)
    what = "attempt %s:%d -> %s:%d" % (c["laddr"], c["lport"], dst, port)
    if c["laddr"] != pair.A4:
        raise Fail("helper: the SYN left from %s, expected %s" % (c["laddr"], pair.A4))
    if err not in ("ETIMEDOUT", "EHOSTUNREACH"):
        raise Fail("helper: the application got %r, expected ETIMEDOUT (or EHOSTUNREACH)" % err)
    p = Problems(run, sel)
    mine = [r for r in run.records if sel(r) and r.get("type") != "summary"]
    p.schema(mine)
    if classic and err == "ETIMEDOUT" and kretrans != 1:
        raise Fail("helper: with TCP_SYNCNT 1 the kernel retransmitted the SYN %d times "
                   "(TCP_INFO total_retrans), expected 1" % kretrans)
    want = {"ETIMEDOUT": ("timeout", 110), "EHOSTUNREACH": ("unreachable", 113)}[err]
    k = one_connect(p, run, c, what)
    if k:
        p.fields([k], what + " (the application got %s)" % err, outcome=want[0], error=err,
                 errno=want[1], syn_retrans=kretrans, **tuple_want(att, c, pair.a.inode))
        ms = k.get("elapsed_ms")
        p.check(isinstance(ms, (int, float)) and 1000 <= ms < 30000,
                "%s: elapsed_ms %r, expected >= 1000 (at least one SYN timeout)" % (what, ms))
    alerts = of_ino(run, "syn_alert", c["ino"])
    p.check(alerts, "%s: no syn_alert although it stayed in SYN_SENT over %d ms" % (what, ALERT_MS))
    p.fields(alerts, what, diagnosis=None, **tuple_want(att, c, pair.a.inode, lport=False))
    st = [r for r in run.records if r.get("type") == "connect_stats" and r.get("raddr") == dst]
    if p.check(len(st) == 1, "%d connect_stats lines for %s, expected 1" % (len(st), dst)):
        counts = {o: 0 for o in OUTCOMES}
        counts[want[0]] = 1
        p.fields(st, "connect_stats %s:%d" % (dst, port), rport=port, attempts=1,
                 handshake_p50_ms=None, handshake_p99_ms=None, **counts)
    p.done()


# ---------------------------------------------------------------- 4. --connects

@test("connects_output")
def connects_output(ctx):
    """--connects: two refused attempts to port X and one conversation with
    a listener on port Y. Only connect and syn_alert records, then the
    connect_stats lines, then the summary (no tcp_state or tcp_socket);
    every record matches docs/json.md. connect_stats for X: attempts 2,
    refused 2, p50/p99 null; for Y: attempts 1, established 1, p50 = p99
    = the connect's elapsed_ms (within 3%). Summary events = the connect
    and syn_alert records."""
    x = hole(ctx, "127.0.0.1")
    with Tracer(ctx, ["--no-snapshot", "--connects"]) as t:
        att = Attempts(ctx, "127.0.0.1", x, "st-refuse")
        cs = [att.connect("1"), att.connect("2")]
        errs = [att.outcome("1")[0], att.outcome("2")[0]]
        conv = Conversation(ctx, "127.0.0.1").run()
        for c in cs + [{"ino": conv.client_ino}]:
            poll_record(t, ino_needle(c["ino"]), is_connect_of(c))
        run = t.stop()
    sel = lambda r: conv.select()(r) or selector([att.pid], [x])(r) or \
        r.get("type") == "connect_stats"
    run.expect_clean_exit(sel)
    if errs != ["ECONNREFUSED"] * 2:
        raise Fail("helper: the attempts to port %d gave %s, expected ECONNREFUSED" % (x, errs))
    p = Problems(run, sel)
    types = [r.get("type") for r in run.records]
    bad = sorted({ty for ty in types if ty not in ("connect", "syn_alert", "connect_stats",
                                                    "summary")})
    p.check(not bad, "--connects printed records of type %s" % bad)
    p.schema([r for r in run.records if r.get("type") in ("connect", "syn_alert", "connect_stats")])
    stats_at = [i for i, ty in enumerate(types) if ty == "connect_stats"]
    events_at = [i for i, ty in enumerate(types) if ty in ("connect", "syn_alert")]
    if p.check(stats_at, "no connect_stats line"):
        p.check(stats_at == list(range(stats_at[0], len(types) - 1)),
                "the connect_stats lines are not one block right before the summary "
                "(at lines %s of %d)" % (stats_at[:10], len(types)))
        p.check(not events_at or events_at[-1] < stats_at[0],
                "a %s record (line %d) comes after the first connect_stats line (%d)"
                % (events_at and types[events_at[-1]], events_at and events_at[-1] + 1,
                   stats_at[0] + 1))
    for i, c in enumerate(cs):
        what = "refused attempt %s -> 127.0.0.1:%d" % (c["lport"], x)
        k = one_connect(p, run, c, what)
        if k:
            p.fields([k], what, outcome="refused", error="ECONNREFUSED",
                     **tuple_want(att, c, ctx.netns_self))
    what = "conversation client 127.0.0.1:%d -> 127.0.0.1:%d" % (conv.cport, conv.port)
    k = [r for r in run.records if r.get("type") == "connect" and r.get("pid") == conv.client_pid]
    if p.check(len(k) == 1, "%s: %d connect records of pid %d, expected 1"
               % (what, len(k), conv.client_pid)):
        p.fields(k, what, outcome="established", lport=conv.cport, rport=conv.port,
                 ino=conv.client_ino, comm="st-client")
    for port, want in ((x, dict(attempts=2, refused=2, established=0, timeout=0, unreachable=0,
                                aborted=0, handshake_p50_ms=None, handshake_p99_ms=None)),
                       (conv.port, dict(attempts=1, established=1, refused=0, timeout=0,
                                        unreachable=0, aborted=0))):
        st = [r for r in run.records if r.get("type") == "connect_stats" and r.get("rport") == port
              and r.get("raddr") == "127.0.0.1"]
        if not p.check(len(st) == 1, "%d connect_stats lines for 127.0.0.1:%d, expected 1"
                       % (len(st), port)):
            continue
        p.fields(st, "connect_stats 127.0.0.1:%d" % port, proto="tcp", family=4, **want)
        if port == conv.port and k and len(k) == 1 and isinstance(k[0].get("elapsed_ms"), (int, float)):
            ms = k[0]["elapsed_ms"]
            for q in ("handshake_p50_ms", "handshake_p99_ms"):
                v = st[0].get(q)
                p.check(isinstance(v, (int, float)) and abs(v - ms) <= 0.03 * ms + 0.002,
                        "connect_stats 127.0.0.1:%d: %s %r, expected the one handshake's %.3f "
                        "ms (within 3%%)" % (port, q, v, ms))
    n_events = len(events_at)
    s = run.summary
    p.check(s.get("events") == n_events, "summary events=%r, but %d connect and syn_alert lines "
            "were printed" % (s.get("events"), n_events))
    p.check(s.get("snapshot") == 0, "summary snapshot=%r with --no-snapshot" % s.get("snapshot"))
    p.done()


# ---------------------------------------------------------------- 5. startup

def hung_before(ctx, addr="127.0.0.1", retrans=0):
    """st-lsn and an attempt of st-hang hanging in SYN_SENT, before
    socktrace starts (after `retrans` SYN retransmits)."""
    jam = Jam(ctx, addr)
    att = Attempts(ctx, addr, jam.port, "st-hang")
    c = att.connect("1")
    if retrans:
        att.wait_retrans("1", retrans)
    att.pending("1")
    return jam, att, c


@test("connect_startup_in_progress")
def connect_startup_in_progress(ctx):
    """An attempt already hanging in SYN_SENT when socktrace --connects
    starts (snapshot on): at startup one connect with outcome in_progress,
    elapsed_ms null, error null, the exact tuple, st-hang's pid and comm,
    owner proc, counted in the summary's snapshot; once st-lsn accepts,
    one final connect: outcome established, elapsed_ms null (its start
    is unknown), error null, same tuple and owner."""
    jam, att, c = hung_before(ctx)
    with Tracer(ctx, ["--connects", "--syn-alert", str(ALERT_MS)]) as t:
        t_ready = boot_ns()
        poll_record(t, ino_needle(c["ino"]), is_connect_of(c, "in_progress"), timeout=2)
        jam.accept()
        err, kretrans = att.outcome("1")
        if err is not None:
            raise Fail("helper: the hung connect failed with %s once st-lsn accepted" % err)
        poll_record(t, ino_needle(c["ino"]), is_connect_of(c, "established"))
        run = t.stop()
    sel = selector([att.pid, jam.pid], [jam.port], [c["ino"]])
    run.expect_clean_exit(sel)
    what = "attempt %s:%d -> %s:%d (started before socktrace)" % (
        c["laddr"], c["lport"], att.addr, att.port)
    p = Problems(run, sel)
    recs = of_ino(run, "connect", c["ino"])
    p.schema(recs)
    first = [r for r in recs if r.get("outcome") == "in_progress"]
    if p.check(len(first) == 1, "%s: %d connect records with outcome in_progress, expected 1"
               % (what, len(first))):
        p.fields(first, what, elapsed_ms=None, error=None, errno=None, sock=None,
                 **tuple_want(att, c, ctx.netns_self, owner="proc"))
        p.check(first[0].get("boot_ns", 1 << 62) <= t_ready,
                "%s: the in_progress record's boot_ns %r is after socktrace was ready (%d)"
                % (what, first[0].get("boot_ns"), t_ready))
        p.check(recs and recs[0] is first[0], "%s: the in_progress record is not its first" % what)
    k = one_connect(p, run, c, what)
    if k:
        p.fields([k], what, outcome="established", elapsed_ms=None, error=None, errno=None,
                 **tuple_want(att, c, ctx.netns_self, owner="proc"))
    n_prog = sum(1 for r in run.records if r.get("type") == "connect"
                 and r.get("outcome") == "in_progress")
    p.check(run.summary.get("snapshot") == n_prog, "summary snapshot=%r, but %d in_progress "
            "connect lines were printed" % (run.summary.get("snapshot"), n_prog))
    p.done()


@test("connect_startup_retransmits")
def connect_startup_retransmits(ctx):
    """An attempt that has been hanging over a second (one SYN retransmit)
    when socktrace --connects --syn-alert 500 starts: the SYN
    retransmits the kernel makes while socktrace runs are seen. At least
    one syn_alert for the socket with syn_retrans >= 1 (the attempt has
    been in SYN_SENT far beyond the threshold, and alerts are raised at
    each retransmit), and the final connect's syn_retrans is at least the
    number of SYNs retransmitted while tracing (TCP_INFO total_retrans
    before and after)."""
    jam, att, c = hung_before(ctx, retrans=1)
    with Tracer(ctx, ["--connects", "--syn-alert", str(ALERT_MS)]) as t:
        k0 = att.info("1")["total_retrans"]
        att.wait_retrans("1", k0 + 1)
        poll_record(t, ino_needle(c["ino"]), is_alert_of(c, 1), timeout=1)
        att.pending("1")
        jam.accept()
        err, kretrans = att.outcome("1")
        if err is not None:
            raise Fail("helper: the hung connect failed with %s once st-lsn accepted" % err)
        poll_record(t, ino_needle(c["ino"]), is_connect_of(c, "established"))
        run = t.stop()
    sel = selector([att.pid, jam.pid], [jam.port], [c["ino"]])
    run.expect_clean_exit(sel)
    what = "attempt %s:%d -> %s:%d (started before socktrace)" % (
        c["laddr"], c["lport"], att.addr, att.port)
    during = kretrans - k0
    p = Problems(run, sel)
    alerts = of_ino(run, "syn_alert", c["ino"])
    p.check(any(a.get("syn_retrans", 0) >= 1 for a in alerts),
            "%s: no syn_alert with syn_retrans >= 1 (%d alerts), although the kernel "
            "retransmitted its SYN %d times while socktrace ran (%d in all)"
            % (what, len(alerts), during, kretrans))
    k = one_connect(p, run, c, what)
    if k:
        p.check(isinstance(k.get("syn_retrans"), int) and k["syn_retrans"] >= max(during, 1),
                "%s: established with syn_retrans %r, but the kernel retransmitted its SYN %d "
                "times while socktrace ran (%d in all, TCP_INFO total_retrans)"
                % (what, k.get("syn_retrans"), during, kretrans))
    p.done()


# ---------------------------------------------------------------- 6. default mode

@test("connects_default_mode")
def connects_default_mode(ctx):
    """Without --connects (--syn-alert 500): a hung attempt gives syn_alert
    records (with the accept_queue_full diagnosis), the refused and the
    abandoned attempts give their tcp_state transitions, and there is no
    connect or connect_stats record at all."""
    x = hole(ctx, "127.0.0.1")
    with Tracer(ctx, ["--no-snapshot", "--syn-alert", str(ALERT_MS)]) as t:
        jam = Jam(ctx, "127.0.0.1")
        att = Attempts(ctx, "127.0.0.1", jam.port, "st-hang")
        ref = Attempts(ctx, "127.0.0.1", x, "st-refuse")
        c = att.connect("1")
        poll_record(t, ino_needle(c["ino"]), is_alert_of(c))
        att.pending("1")
        att.close("1")
        rc = ref.connect("1")
        err = ref.outcome("1")[0]
        poll_record(t, b'"pid":%d,' % ref.pid,
                    lambda r: r.get("type") == "tcp_state" and r.get("new") == "CLOSE")
        poll_record(t, b'"pid":%d,' % att.pid,
                    lambda r: r.get("type") == "tcp_state" and r.get("new") == "CLOSE")
        run = t.stop()
    sel = selector([att.pid, jam.pid, ref.pid], [jam.port, x], [c["ino"], rc["ino"]])
    run.expect_clean_exit(sel)
    if err != "ECONNREFUSED":
        raise Fail("helper: the attempt to port %d gave %r, expected ECONNREFUSED" % (x, err))
    p = Problems(run, sel)
    what = "hung attempt %s:%d -> 127.0.0.1:%d" % (c["laddr"], c["lport"], jam.port)
    types = {r.get("type") for r in run.records}
    bad = sorted(types - {"tcp_state", "tcp_socket", "syn_alert", "udp_flow", "udp_socket",
                          "tcp_conn", "summary"})
    p.check(not bad, "without --connects, records of type %s were printed" % bad)
    alerts = of_ino(run, "syn_alert", c["ino"])
    if p.check(alerts, "%s: no syn_alert without --connects" % what):
        p.schema(alerts)
        p.fields(alerts, what, **tuple_want(att, c, ctx.netns_self, lport=False))
        check_queue_full(p, alerts, what, jam)
    for a, port, sock in ((att, jam.port, "abandoned"), (ref, x, "refused")):
        tr = [(r.get("old"), r.get("new")) for r in run.states if r.get("pid") == a.pid
              and r.get("rport") == port]
        p.check(tr == [("CLOSE", "SYN_SENT"), ("SYN_SENT", "CLOSE")],
                "%s attempt to port %d: transitions %s, expected CLOSE->SYN_SENT, SYN_SENT->CLOSE"
                % (sock, port, tr))
    p.done()


def run_usage(ctx, args):
    cmd = [ctx.socktrace] + args
    try:
        pr = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
    except subprocess.TimeoutExpired:
        raise Fail("`%s` did not exit within 10 s" % " ".join(cmd))
    return cmd, pr


@test("syn_alert_usage")
def syn_alert_usage(ctx):
    """--syn-alert 0, x, -5, 1.5, 86400001, an empty value, or no value:
    exit status 2, a message on stderr, nothing on stdout. 1 and 86400000
    are accepted (with --probes, which exits 0)."""
    problems = []
    for v in (["0"], ["x"], ["-5"], ["1.5"], ["86400001"], [""], []):
        cmd, pr = run_usage(ctx, ["--syn-alert"] + v)
        err = pr.stderr.decode("utf-8", "replace").strip()
        if pr.returncode != 2 or not err or pr.stdout:
            problems.append("`%s`: exit %d, stderr %r, stdout %r"
                            % (" ".join(repr(a) if not a else a for a in cmd), pr.returncode,
                               err[:200], pr.stdout[:200]))
    for v in ("1", "86400000"):
        cmd, pr = run_usage(ctx, ["--syn-alert", v, "--connects", "--probes"])
        if pr.returncode != 0:
            problems.append("`%s`: exit %d, stderr %r" % (" ".join(cmd), pr.returncode,
                                                          pr.stderr.decode("utf-8", "replace")[:200]))
    if problems:
        raise Fail("%d --syn-alert values misreported" % len(problems), problems)


# ---------------------------------------------------------------- 7. text

@test("connects_text")
def connects_text(ctx):
    """--connects --syn-alert 500 without -j: for a hang, an ALERT line
    `TIME PID st-hang 127.0.0.1:LPORT/tcp 127.0.0.1:PORT/tcp SYN_SENT !!
    ALERT MS syn_retrans=N local listener PID/st-lsn: accept queue full
    (Q/B)` with MS >= 500, N >= 1, Q > B; for a refused connect `... CONNECT
    -> refused MS syn_retrans=0 ECONNREFUSED`; for the abandoned hang
    `CONNECT -> aborted` with no error; then the per-destination table
    with the refused port's row."""
    x = hole(ctx, "127.0.0.1")
    with Tracer(ctx, ["--no-snapshot", "--connects", "--syn-alert", str(ALERT_MS)],
                json_out=False) as t:
        jam = Jam(ctx, "127.0.0.1")
        att = Attempts(ctx, "127.0.0.1", jam.port, "st-hang")
        ref = Attempts(ctx, "127.0.0.1", x, "st-refuse")
        c = att.connect("1")
        att.wait_retrans("1", 1)
        alert_re = re.compile(
            r"^\d\d:\d\d:\d\d\.\d{6}\s+%d\s+st-hang\s+127\.0\.0\.1:%d/tcp\s+127\.0\.0\.1:%d/tcp\s+"
            r"SYN_SENT\s+!! ALERT\s+(\d+\.\d{3}) syn_retrans=(\d+) local listener %d/st-lsn: "
            r"accept queue full \((\d+)/(\d+)\)$" % (att.pid, c["lport"], jam.port, jam.pid))
        poll_line(t, b"!! ALERT", lambda raw: bool(
            (lambda m: m and int(m.group(2)) >= 1)(alert_re.match(raw.decode("utf-8", "replace")))))
        att.pending("1")
        att.close("1")
        rc = ref.connect("1")
        err = ref.outcome("1")[0]
        time.sleep(0.3)
        run = t.stop()
    lines = run.out.decode("utf-8", "replace").splitlines()
    ports = (str(jam.port), str(x), str(c["lport"]), str(rc["lport"]))
    details = ["command: %s" % run.cmdline(), "exit status: %s" % run.rc] + \
        ["stdout: " + l for l in lines if any(pt in l for pt in ports) or "DESTINATION" in l][:30] + \
        ["stderr: " + l for l in run.err.splitlines()[-5:]]
    if run.rc != 0:
        raise Fail("exit status %s" % run.rc, details)
    if err != "ECONNREFUSED":
        raise Fail("helper: the attempt to port %d gave %r, expected ECONNREFUSED" % (x, err), details)
    problems = []
    alerts = [m for m in map(alert_re.match, lines) if m]
    if not alerts:
        problems.append("no ALERT line for st-hang's 127.0.0.1:%d -> 127.0.0.1:%d naming "
                        "listener %d/st-lsn and a full accept queue" % (c["lport"], jam.port, jam.pid))
    else:
        for m in alerts:
            ms, q, b = float(m.group(1)), int(m.group(3)), int(m.group(4))
            if ms < ALERT_MS or q <= b:
                problems.append("ALERT line with %.3f ms, queue %d/%d: %s" % (ms, q, b, m.group(0)))
        if not any(int(m.group(2)) >= 1 for m in alerts):
            problems.append("no ALERT line with syn_retrans >= 1")
    conn = lambda sport, dport, rest: re.compile(
        r"^\d\d:\d\d:\d\d\.\d{6}\s+%d\s+%s\s+127\.0\.0\.1:%d/tcp\s+127\.0\.0\.1:%d/tcp\s+%s$"
        % (sport[0], sport[1], sport[2], dport, rest))
    want = [
        ("refused", conn((ref.pid, "st-refuse", rc["lport"]), x,
                         r"CONNECT     -> refused     (\d+\.\d{3}) syn_retrans=0 ECONNREFUSED")),
        ("aborted", conn((att.pid, "st-hang", c["lport"]), jam.port,
                         r"CONNECT     -> aborted     (\d+\.\d{3}) syn_retrans=(\d+)")),
    ]
    for name, rx in want:
        found = [m for m in map(rx.match, lines) if m]
        if len(found) != 1:
            problems.append("%d `CONNECT     -> %s` lines for the %s attempt, expected 1 (pattern %s)"
                            % (len(found), name, name, rx.pattern))
    if not any("SYN_SENT    !! ALERT" in l for l in lines):
        problems.append("no line contains `SYN_SENT    !! ALERT`")
    head = [i for i, l in enumerate(lines) if l.split()[:3] == ["DESTINATION", "ATTEMPTS", "ESTABLISHED"]]
    row = re.compile(r"^127\.0\.0\.1:%d/tcp\s+1\s+0\s+1\s+0\s+0\s+0\s+-\s+-$" % x)
    if len(head) != 1:
        problems.append("%d per-destination table headers, expected 1" % len(head))
    elif not any(row.match(l) for l in lines[head[0]:]):
        problems.append("no table row `127.0.0.1:%d/tcp 1 0 1 0 0 0 - -` after the header" % x)
    if problems:
        raise Fail(problems[0], problems[1:] + details)


# ---------------------------------------------------------------- defects found

@test("syn_alert_port")
def syn_alert_port(ctx):
    """--connects --syn-alert 500: the alert raised by the threshold, half
    a second into the hang and before any SYN retransmit, names the
    client's real source port (connect() picked it long before), as the
    later alerts and the connect record do."""
    with Tracer(ctx, ["--no-snapshot", "--connects", "--syn-alert", str(ALERT_MS)]) as t:
        jam = Jam(ctx, "127.0.0.1")
        att = Attempts(ctx, "127.0.0.1", jam.port, "st-hang")
        c = att.connect("1")
        poll_record(t, ino_needle(c["ino"]), is_alert_of(c))
        att.pending("1")
        att.close("1")
        poll_record(t, ino_needle(c["ino"]), is_connect_of(c))
        run = t.stop()
    sel = selector([att.pid, jam.pid], [jam.port], [c["ino"]])
    run.expect_clean_exit(sel)
    what = "hung attempt %s:%d -> 127.0.0.1:%d" % (c["laddr"], c["lport"], jam.port)
    p = Problems(run, sel)
    alerts = of_ino(run, "syn_alert", c["ino"])
    first = [a for a in alerts if a.get("syn_retrans") == 0]
    if p.check(first, "%s: no syn_alert before the first SYN retransmit (syn_retrans 0)" % what):
        p.fields(first, what + ", alert before any retransmit", lport=c["lport"])
    p.fields([a for a in alerts if a.get("syn_retrans") != 0], what, lport=c["lport"])
    p.fields(of_ino(run, "connect", c["ino"]), what, lport=c["lport"], outcome="aborted")
    p.done()


@test("connects_stats_percentiles")
def connects_stats_percentiles(ctx):
    """--connects: two established attempts to one destination, st-lsn's
    own (a loopback handshake: well under a millisecond, and under the
    500 ms alert even in a slow guest) and st-hang's, which hung until
    st-lsn accepted (over 500 ms). connect_stats:
    established 2; handshake_p99_ms is the slow one's elapsed_ms (within
    3%: with two samples the 99th percentile is the larger one), p50 lies
    between the two."""
    with Tracer(ctx, ["--no-snapshot", "--connects", "--syn-alert", str(ALERT_MS)]) as t:
        jam = Jam(ctx, "127.0.0.1")
        att = Attempts(ctx, "127.0.0.1", jam.port, "st-hang")
        c = att.connect("1")
        att.wait_retrans("1", 1)
        att.pending("1")
        jam.accept()
        err = att.outcome("1")[0]
        if err is not None:
            raise Fail("helper: the hung connect failed with %s once st-lsn accepted" % err)
        poll_record(t, ino_needle(c["ino"]), is_connect_of(c))
        run = t.stop()
    sel = lambda r: selector([att.pid, jam.pid], [jam.port], [c["ino"]])(r) and \
        r.get("type") != "tcp_state"
    run.expect_clean_exit(sel)
    p = Problems(run, sel)
    ks = [r for r in run.records if r.get("type") == "connect" and r.get("rport") == jam.port
          and r.get("raddr") == "127.0.0.1"]
    ms = sorted(r.get("elapsed_ms") for r in ks if isinstance(r.get("elapsed_ms"), (int, float)))
    if not p.check(len(ms) == 2 and ms[0] < ALERT_MS < ms[1],
                   "expected two established connects to port %d, one fast and one over %d ms; "
                   "elapsed_ms %s" % (jam.port, ALERT_MS, ms)):
        p.done()
    st = [r for r in run.records if r.get("type") == "connect_stats" and r.get("rport") == jam.port
          and r.get("raddr") == "127.0.0.1"]
    if p.check(len(st) == 1, "%d connect_stats lines for 127.0.0.1:%d, expected 1"
               % (len(st), jam.port)):
        s = st[0]
        p.fields(st, "connect_stats 127.0.0.1:%d" % jam.port, attempts=2, established=2)
        p50, p99 = s.get("handshake_p50_ms"), s.get("handshake_p99_ms")
        p.check(isinstance(p99, (int, float)) and abs(p99 - ms[1]) <= 0.03 * ms[1],
                "connect_stats 127.0.0.1:%d: handshake_p99_ms %r, but the handshakes took %.3f "
                "and %.3f ms: the 99th percentile of two is the larger (within 3%%)"
                % (jam.port, p99, ms[0], ms[1]))
        p.check(isinstance(p50, (int, float)) and 0.97 * ms[0] - 0.002 <= p50 <= 1.03 * ms[1],
                "connect_stats 127.0.0.1:%d: handshake_p50_ms %r outside [%.3f, %.3f]"
                % (jam.port, p50, ms[0], ms[1]))
    p.done()


@test("connects_filter_comm")
def connects_filter_comm(ctx):
    """--connects --comm st-refuse: st-refuse and st-other each make a refused
    attempt, to ports X and Y. Only st-refuse's connect is printed, and
    the per-destination table lists X (1 refused) but not Y: the table
    counts the attempts the filters select, as it does with -p and -P
    (which filter in the kernel)."""
    x, y = hole(ctx, "127.0.0.1"), hole(ctx, "127.0.0.1")
    with Tracer(ctx, ["--no-snapshot", "--connects", "--comm", "st-refuse"]) as t:
        a = Attempts(ctx, "127.0.0.1", x, "st-refuse")
        ca = a.connect("1")
        ea = a.outcome("1")[0]
        b = Attempts(ctx, "127.0.0.1", y, "st-other")
        b.connect("1")
        eb = b.outcome("1")[0]
        poll_record(t, ino_needle(ca["ino"]), is_connect_of(ca))
        time.sleep(0.2)
        run = t.stop()
    sel = selector([a.pid, b.pid], [x, y])
    run.expect_clean_exit(sel)
    if [ea, eb] != ["ECONNREFUSED"] * 2:
        raise Fail("helper: the attempts gave %s, expected ECONNREFUSED" % ([ea, eb],))
    p = Problems(run, sel)
    k = [r for r in run.records if r.get("type") == "connect" and r.get("rport") in (x, y)]
    p.check([(r.get("comm"), r.get("rport")) for r in k] == [("st-refuse", x)],
            "connect records (comm, rport) %s, expected only (st-refuse, %d)"
            % ([(r.get("comm"), r.get("rport")) for r in k], x))
    st = {r.get("rport"): r for r in run.records if r.get("type") == "connect_stats"
          and r.get("raddr") == "127.0.0.1" and r.get("rport") in (x, y)}
    if p.check(x in st, "no connect_stats line for st-refuse's destination 127.0.0.1:%d" % x):
        p.fields([st[x]], "connect_stats 127.0.0.1:%d" % x, attempts=1, refused=1)
    p.check(y not in st, "--comm st-refuse: connect_stats lists 127.0.0.1:%d, the destination of "
            "st-other's attempt that the filter excluded: %s" % (y, json_line(st.get(y, {}))))
    p.done()
