"""Names of remote addresses from DNS answers (passive DNS).

A dnsmasq in namespace a serves a `.test` zone (A, AAAA, a CNAME chain, all
in the documentation ranges) on 192.0.2.1:53; a client in namespace b
resolves with dig and with getaddrinfo (a resolv.conf of the test's, bound
over /etc/resolv.conf in a mount namespace of the client's own, so that a
read-only root works too), then connects over TCP to a
listener in a at the address it got and sends a UDP datagram there. Every
event of the client's sockets must carry the name it resolved (`rname`),
and nothing else may.
"""
import os
import shutil
import subprocess
import time

from lib import PYTHON, Cgroups, Fail, NetPair, Skip, Tracer, in_cgroup, kill_proc, run_cmd, test

WEB4, WEB6 = "198.51.100.10", "2001:db8:100::10"
OTHER4 = "203.0.113.7"
SHARED4 = "203.0.113.8"     # alpha. and beta.: one address, two names
ZONE = "example.test"
TCP_PORT, UDP_PORT = 8080, 9999
SETTLE = 1.5     # an event's way from the kernel to stdout

# resolve NAME with getaddrinfo (family 4 or 6), connect over TCP and send a
# line, then send one UDP datagram to the same address, and print it
CLIENT = r"""
import socket, sys
name, fam = sys.argv[1], socket.AF_INET6 if sys.argv[2] == "6" else socket.AF_INET
ai = socket.getaddrinfo(name, %d, fam, socket.SOCK_STREAM)[0]
addr = ai[4][0]
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(ai[4])
s.sendall(b"hello\n")
s.close()
u = socket.socket(fam, socket.SOCK_DGRAM)
u.connect((addr, %d))
u.send(b"ping")
u.close()
print(addr)
""" % (TCP_PORT, UDP_PORT)


# a DNS server on [ADDR]:53 that answers every A question with ANSWER, its
# datagrams carrying a hop-by-hop and a destination options header (8 bytes
# each: a PadN option), as IPv6 allows any datagram to
EXT_SERVER = r"""
import socket, struct, sys
addr, answer = sys.argv[1], socket.inet_aton(sys.argv[2])
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
pad8 = bytes([0, 0, 1, 4, 0, 0, 0, 0])
s.setsockopt(socket.IPPROTO_IPV6, getattr(socket, "IPV6_HOPOPTS", 54), pad8)
s.setsockopt(socket.IPPROTO_IPV6, getattr(socket, "IPV6_DSTOPTS", 59), pad8)
s.bind((addr, 53))
print("ready", flush=True)
for _ in range(50):
    q, peer = s.recvfrom(512)
    end = 12
    while q[end]:
        end += 1 + q[end]
    end += 5
    s.sendto(q[:2] + struct.pack(">HHHHH", 0x8180, 1, 1, 0, 0) + q[12:end] +
             struct.pack(">HHHIH", 0xc00c, 1, 1, 600, 4) + answer, peer)
"""


class DnsWorld:
    """dnsmasq in namespace a, the listener behind the names in a, and a
    client namespace b that resolves through it."""

    def __init__(self, ctx, local_ttl=600):
        if not shutil.which("dnsmasq"):
            raise Skip("dnsmasq is not installed (Debian package dnsmasq)")
        if not shutil.which("dig"):
            raise Skip("dig is not installed (Debian package bind9-dnsutils)")
        self.ctx = ctx
        self.net = NetPair(ctx)
        a, b = self.net.a.name, self.net.b.name
        # the names' addresses live in a, routed from b
        run_cmd(["ip", "-n", a, "addr", "add", WEB4 + "/32", "dev", self.net.va])
        run_cmd(["ip", "-n", a, "addr", "add", OTHER4 + "/32", "dev", self.net.va])
        run_cmd(["ip", "-n", a, "addr", "add", SHARED4 + "/32", "dev", self.net.va])
        run_cmd(["ip", "-n", a, "-6", "addr", "add", WEB6 + "/128", "dev", self.net.va, "nodad"])
        run_cmd(["ip", "-n", b, "route", "add", "198.51.100.0/24", "via", self.net.A4])
        run_cmd(["ip", "-n", b, "route", "add", "203.0.113.0/24", "via", self.net.A4])
        run_cmd(["ip", "-n", b, "-6", "route", "add", "2001:db8:100::/48", "via", self.net.A6])
        self.pidfile = os.path.join(ctx.tmpdir, ctx.unique("dnsmasq") + ".pid")
        self.dnsmasq = subprocess.Popen(
            ["ip", "netns", "exec", a, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
             "--no-resolv", "--no-hosts", "--port", "53", "--listen-address", self.net.A4,
             "--bind-interfaces", "--pid-file=" + self.pidfile, "--user=root",
             "--local=/test/", "--local-ttl=%d" % local_ttl,
             "--host-record=web.%s,%s,%s" % (ZONE, WEB4, WEB6),
             "--cname=www.%s,web.%s" % (ZONE, ZONE),
             "--cname=alias.%s,www.%s" % (ZONE, ZONE),
             "--address=/other.%s/%s" % (ZONE, OTHER4),
             "--address=/alpha.%s/%s" % (ZONE, SHARED4),
             "--address=/beta.%s/%s" % (ZONE, SHARED4)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        ctx.on_cleanup(lambda: kill_proc(self.dnsmasq))
        self.listener = subprocess.Popen(
            ["ip", "netns", "exec", a, "socat", "-u",
             "TCP6-LISTEN:%d,fork,reuseaddr,ipv6only=0" % TCP_PORT, "OPEN:/dev/null"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ctx.on_cleanup(lambda: kill_proc(self.listener))
        # getaddrinfo in b asks dnsmasq: client() binds this file over
        # /etc/resolv.conf in a mount namespace of its own
        self.resolv = os.path.join(ctx.tmpdir, ctx.unique("resolv") + ".conf")
        with open(self.resolv, "w") as f:
            f.write("nameserver %s\noptions timeout:2 attempts:2\n" % self.net.A4)
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.dnsmasq.poll() is not None:
                raise Fail("dnsmasq exited: %s" % self.dnsmasq.stderr.read().decode(errors="replace"))
            if self.dig("web." + ZONE, check=False) == WEB4:
                return
            time.sleep(0.2)
        raise Fail("dnsmasq did not answer within 10 s")

    def dig(self, name, qtype="A", ns=None, tcp=False, check=True, wrap=None):
        p = run_cmd((wrap or ["ip", "netns", "exec", ns or self.net.b.name]) +
                    ["dig", "+short", "+time=2", "+tries=1"] + (["+tcp"] if tcp else []) +
                    ["@" + self.net.A4, name, qtype], check=check)
        return p.stdout.decode().strip().splitlines()[-1] if p.stdout.strip() else ""

    def client(self, name, family=4, ns=None):
        """getaddrinfo, TCP connect, UDP send, from namespace b (or ns)."""
        p = run_cmd(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                     'mount --bind "$0" /etc/resolv.conf && exec "$@"', self.resolv,
                     "ip", "netns", "exec", ns or self.net.b.name, PYTHON, "-c", CLIENT,
                     name, str(family)], timeout=20)
        return p.stdout.decode().strip()


def client_events(run, netns, addr):
    """The events of sockets in netns whose remote address is addr."""
    return [r for r in run.records if r.get("netns") == netns and r.get("raddr") == addr and
            r.get("type") in ("tcp_state", "tcp_conn", "udp_flow")]


def check_named(run, events, what, rname, canonical=None):
    types = {r["type"] for r in events}
    for t in ("tcp_state", "tcp_conn", "udp_flow"):
        if t not in types:
            run.fail("%s: no %s event of the client" % (what, t),
                     lambda r: r.get("type") in ("tcp_state", "tcp_conn", "udp_flow"))
    bad = [r for r in events if r.get("rname") != rname or r.get("rname_canonical") != canonical]
    if bad:
        run.fail("%s: %d of %d events lack rname %r (rname_canonical %r)" %
                 (what, len(bad), len(events), rname, canonical), lambda r: r in bad)


@test("dns: getaddrinfo and dig +tcp name the TCP and UDP events that follow, per family")
def t_dns_names(ctx):
    w = DnsWorld(ctx)
    b = w.net.b.inode
    with Tracer(ctx, ["--no-snapshot", "--udp-idle", "1"]) as t:
        got4 = w.client("web." + ZONE, 4)
        got6 = w.client("web." + ZONE, 6)
        # dig's answer, over TCP, names what a later connection to the address shows
        if w.dig("other." + ZONE, tcp=True) != OTHER4:
            raise Fail("dig +tcp did not get %s for other.%s" % (OTHER4, ZONE))
        run_cmd(["ip", "netns", "exec", w.net.b.name, "socat", "-u", "-", "TCP:%s:%d" % (OTHER4, TCP_PORT)],
                input=b"x")
        time.sleep(SETTLE + 1.5)
        run = t.stop()
    run.expect_clean_exit()
    if got4 != WEB4 or got6 != WEB6:
        raise Fail("getaddrinfo gave %r and %r, expected %s and %s" % (got4, got6, WEB4, WEB6))
    check_named(run, client_events(run, b, WEB4), "IPv4 (getaddrinfo)", "web." + ZONE)
    check_named(run, [r for r in client_events(run, b, WEB6)], "IPv6 (getaddrinfo)", "web." + ZONE)
    other = [r for r in client_events(run, b, OTHER4) if r["type"] == "tcp_state"]
    if not other or any(r.get("rname") != "other." + ZONE for r in other):
        run.fail("dig +tcp: the connection to %s is not named other.%s" % (OTHER4, ZONE),
                 lambda r: r.get("raddr") == OTHER4)
    # the listener's side: its remote is the client, which nobody resolved
    named = [r for r in run.records if r.get("netns") == w.net.a.inode and r.get("rname")]
    if named:
        run.fail("events in the server's namespace carry names", lambda r: r in named)
    if not run.summary.get("dns_answers") or run.summary.get("dns_unparsed"):
        run.fail("the summary counts no DNS answers, or unparsed ones")


@test("dns: a CNAME chain gives rname and rname_canonical; text shows the name, -n the address")
def t_dns_cname_text(ctx):
    w = DnsWorld(ctx)
    with Tracer(ctx, ["--no-snapshot", "--udp-idle", "1", "-t"], json_out=False) as t:
        w.client("alias." + ZONE, 4)
        time.sleep(SETTLE)
        text = t.stop()
    with Tracer(ctx, ["--no-snapshot", "-t"]) as t:
        w.client("alias." + ZONE, 4)
        time.sleep(SETTLE)
        run = t.stop()
    with Tracer(ctx, ["--no-snapshot", "-t", "-n"], json_out=False) as t:
        w.client("alias." + ZONE, 4)
        time.sleep(SETTLE)
        numeric = t.stop()
    events = [r for r in client_events(run, w.net.b.inode, WEB4) if r["type"] != "udp_flow"]
    if not events or any(r.get("rname") != "alias." + ZONE or
                         r.get("rname_canonical") != "web." + ZONE for r in events):
        run.fail("the CNAME chain alias -> www -> web is not rname/rname_canonical",
                 lambda r: r.get("raddr") == WEB4)
    want = "alias.%s:%d/tcp" % (ZONE, TCP_PORT)
    if want.encode() not in text.out:
        raise Fail("the text output does not show %s" % want, text.out.decode().splitlines()[-10:])
    if b"alias." in numeric.out or ("%s:%d/tcp" % (WEB4, TCP_PORT)).encode() not in numeric.out:
        raise Fail("-n: the text output shows a name, or not the address",
                   numeric.out.decode().splitlines()[-10:])


@test("dns: NXDOMAIN names nothing; a name does not cross namespaces; host NAME filters")
def t_dns_scope(ctx):
    w = DnsWorld(ctx)
    b, a = w.net.b.inode, w.net.a.inode
    with Tracer(ctx, ["--no-snapshot", "-t", "host", "web." + ZONE]) as t:
        if w.dig("nosuch." + ZONE) != "":
            raise Fail("nosuch.%s resolved" % ZONE)
        w.client("web." + ZONE, 4)
        # the same address from namespace a, where nobody resolved it
        run_cmd(["ip", "netns", "exec", w.net.a.name, "socat", "-u", "-",
                 "TCP:%s:%d" % (WEB4, TCP_PORT)], input=b"x")
        time.sleep(SETTLE)
        run = t.stop()
    run.expect_clean_exit()
    if not client_events(run, b, WEB4):
        run.fail("host web.%s: the client's events are missing" % ZONE)
    stray = [r for r in run.records if r.get("type") in ("tcp_state", "tcp_conn") and
             (r.get("netns") != b or r.get("rname") != "web." + ZONE)]
    if stray:
        run.fail("host web.%s: events of another name or namespace passed" % ZONE,
                 lambda r: r in stray)
    if run.summary.get("dns_answers", 0) < 2:
        run.fail("the NXDOMAIN answer was not seen")
    with Tracer(ctx, ["--no-snapshot", "-t"]) as t:
        w.dig("web." + ZONE, ns=w.net.b.name)
        run_cmd(["ip", "netns", "exec", w.net.a.name, "socat", "-u", "-",
                 "TCP:%s:%d" % (WEB4, TCP_PORT)], input=b"x")
        time.sleep(SETTLE)
        run = t.stop()
    clients = [r for r in run.records if r.get("netns") == a and r.get("raddr") == WEB4]
    if not clients or any(r.get("rname") for r in clients):
        run.fail("a name resolved in namespace b names the address in namespace a",
                 lambda r: r.get("raddr") == WEB4)


@test("dns: two cgroups of one namespace resolve one address under two names: each "
      "connection carries its own cgroup's; a third cgroup's the namespace's latest; "
      "the same in replay")
def t_dns_per_cgroup(ctx):
    w = DnsWorld(ctx)
    cg = Cgroups(ctx)
    top = "/st-dns-%d" % os.getpid()
    paths = {n: cg.make("%s/%s" % (top, n)) for n in ("x", "y", "z")}
    b = w.net.b.inode
    path = os.path.join(ctx.tmpdir, ctx.unique("dns") + ".st")
    with Tracer(ctx, ["--no-snapshot", "-w", path, "tcp"]) as t:
        # both answers first, then the connections: the latest answer is beta's
        for n, name in (("x", "alpha"), ("y", "beta")):
            wrap = in_cgroup(cg.mount, paths[n], False, w.net.b.name)
            if w.dig("%s.%s" % (name, ZONE), wrap=wrap) != SHARED4:
                raise Fail("%s.%s did not resolve to %s in cgroup %s" % (name, ZONE, SHARED4, n))
        for n in ("x", "y", "z"):
            run_cmd(in_cgroup(cg.mount, paths[n], False, w.net.b.name) +
                    ["socat", "-u", "-", "TCP:%s:%d" % (SHARED4, TCP_PORT)], input=b"x")
        time.sleep(SETTLE)
        run = t.stop()
    run.expect_clean_exit()
    replay = Tracer(ctx, ["-r", path], hook=False)
    replay.start(wait_ready=False)
    again = replay.wait_exit(20)
    if again is None:
        raise Fail("replay did not finish")
    for what, r in (("live", run), ("replay", again)):
        for n, want in (("x", "alpha"), ("y", "beta"), ("z", "beta")):
            evs = [x for x in client_events(r, b, SHARED4) if x.get("cgroup") == paths[n]]
            if not evs or any(x.get("rname") != "%s.%s" % (want, ZONE) for x in evs):
                r.fail("%s: cgroup %s: %d events, not all named %s.%s"
                       % (what, paths[n], len(evs), want, ZONE),
                       lambda x: x.get("raddr") == SHARED4)


@test("dns: an answer behind IPv6 hop-by-hop and destination options headers names the address")
def t_dns_ipv6_ext_headers(ctx):
    w = DnsWorld(ctx)
    srv = subprocess.Popen(["ip", "netns", "exec", w.net.a.name, PYTHON, "-c", EXT_SERVER,
                            w.net.A6, OTHER4], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ctx.on_cleanup(lambda: kill_proc(srv))
    if srv.stdout.readline().strip() != b"ready":
        raise Fail("the DNS server with extension headers did not start",
                   [srv.stderr.read().decode(errors="replace")])
    name = "ext." + ZONE
    with Tracer(ctx, ["--no-snapshot", "tcp"]) as t:
        p = run_cmd(["ip", "netns", "exec", w.net.b.name, "dig", "+short", "+time=2", "+tries=1",
                     "@" + w.net.A6, name, "A"])
        if p.stdout.decode().strip() != OTHER4:
            raise Fail("dig got %r from the server with extension headers" % p.stdout.decode())
        run_cmd(["ip", "netns", "exec", w.net.b.name, "socat", "-u", "-",
                 "TCP:%s:%d" % (OTHER4, TCP_PORT)], input=b"x")
        time.sleep(SETTLE)
        run = t.stop()
    run.expect_clean_exit()
    evs = client_events(run, w.net.b.inode, OTHER4)
    if not evs or any(r.get("rname") != name for r in evs):
        run.fail("%d events of the connection to %s, not all named %s (summary: %d answers, "
                 "%d unparsed)" % (len(evs), OTHER4, name, run.summary.get("dns_answers", -1),
                                   run.summary.get("dns_unparsed", -1)),
                 lambda r: r.get("raddr") == OTHER4)


@test("dns: --dns-cache 0 attaches no DNS hook and names nothing")
def t_dns_cache_zero(ctx):
    w = DnsWorld(ctx)
    with Tracer(ctx, ["--no-snapshot", "--dns-cache", "0", "tcp"]) as t:
        w.client("web." + ZONE, 4)
        time.sleep(SETTLE)
        run = t.stop()
    run.expect_clean_exit()
    if "cgroup_skb/ingress" in run.err:
        raise Fail("--dns-cache 0: the ready line names the DNS hook", run.err.splitlines()[:2])
    evs = client_events(run, w.net.b.inode, WEB4)
    if not evs or any(r.get("rname") is not None for r in evs):
        run.fail("--dns-cache 0: %d events of the client, some named" % len(evs),
                 lambda r: r.get("raddr") == WEB4)
    if run.summary.get("dns_answers") != 0:
        run.fail("--dns-cache 0: the summary counts %r DNS answers" % run.summary.get("dns_answers"))


@test("dns: a name expires with its TTL and the grace period")
def t_dns_ttl(ctx):
    w = DnsWorld(ctx, local_ttl=1)
    b = w.net.b.inode
    with Tracer(ctx, ["--no-snapshot", "-t"]) as t:
        w.dig("web." + ZONE)
        run_cmd(["ip", "netns", "exec", w.net.b.name, "socat", "-u", "-",
                 "TCP:%s:%d" % (WEB4, TCP_PORT)], input=b"x")
        time.sleep(SETTLE)
        fresh = [r for r in t.records_now() if r.get("netns") == b and r.get("type") == "tcp_state"]
        # TTL 1 s and 10 s of grace
        time.sleep(1 + 10 + 1)
        run_cmd(["ip", "netns", "exec", w.net.b.name, "socat", "-u", "-",
                 "TCP:%s:%d" % (WEB4, TCP_PORT)], input=b"x")
        time.sleep(SETTLE)
        run = t.stop()
    stale = [r for r in run.records if r.get("netns") == b and r.get("type") == "tcp_state"
             and r not in fresh]
    if not fresh or any(r.get("rname") != "web." + ZONE for r in fresh):
        run.fail("the connection within the TTL is not named", lambda r: r in fresh)
    if not stale or any(r.get("rname") for r in stale):
        run.fail("the connection after the TTL and the grace is still named", lambda r: r in stale)


@test("dns: a recording replays the same names, the answers recorded as source records",
      hook_independent=True)
def t_dns_replay(ctx):
    w = DnsWorld(ctx)
    path = os.path.join(ctx.tmpdir, ctx.unique("dns") + ".st")
    with Tracer(ctx, ["--no-snapshot", "-t", "-w", path]) as t:
        w.client("alias." + ZONE, 4)
        time.sleep(SETTLE)
        live = t.stop()
    replay = Tracer(ctx, ["-r", path], hook=False)
    replay.start(wait_ready=False)
    run = replay.wait_exit(20)
    if run is None:
        raise Fail("replay did not finish")
    def names(r):
        return [(x["type"], x.get("old"), x.get("new"), x.get("rname"), x.get("rname_canonical"))
                for x in r.records if x.get("netns") == w.net.b.inode and x.get("raddr") == WEB4]
    if not names(live) or names(live) != names(run):
        raise Fail("replayed names differ from the live run's",
                   ["live: %r" % (names(live),), "replay: %r" % (names(run),)])
    if not any(n[3] == "alias." + ZONE for n in names(run)):
        run.fail("the replay names nothing")


def dig_pid(w, name, qtype="A", tcp=False, server=None):
    """dig from namespace b; returns (pid, answer): the shell prints its pid
    and execs dig, so the pid is dig's own (ground truth for the owner)."""
    p = run_cmd(["ip", "netns", "exec", w.net.b.name, "sh", "-c", 'echo $$; exec "$@"', "sh",
                 "dig", "+short", "+time=1", "+tries=1"] + (["+tcp"] if tcp else []) +
                ["@" + (server or w.net.A4), name, qtype], check=False, timeout=20)
    lines = p.stdout.decode().split("\n")
    return int(lines[0]), [x for x in lines[1:] if x and not x.startswith(";")]


def dns_events(run, netns):
    return [r for r in run.records if r.get("type") == "dns" and r.get("netns") == netns]


def find_query(run, evs, what, qname, qtype, **want):
    got = [r for r in evs if r.get("qname") == qname and r.get("qtype") == qtype]
    if len(got) != 1:
        run.fail("%s: %d dns events for %s %s, expected 1" % (what, len(got), qtype, qname),
                 lambda r: r.get("type") == "dns")
    r = got[0]
    bad = {k: (r.get(k), v) for k, v in want.items() if r.get(k) != v}
    if bad:
        run.fail("%s: %s (got, expected)" % (what, bad), lambda x: x is r)
    return r


@test("dns: --dns reports each query's owner, name, type, rcode, addresses, latency and timeouts")
def t_dns_queries(ctx):
    w = DnsWorld(ctx)
    b = w.net.b.inode
    path = os.path.join(ctx.tmpdir, ctx.unique("dnsq") + ".st")
    with Tracer(ctx, ["--dns", "--dns-timeout", "1.5", "-w", path]) as t:
        got = w.client("web." + ZONE, 4)
        pid6, ans6 = dig_pid(w, "web." + ZONE, "AAAA")
        pid_tcp, ans_tcp = dig_pid(w, "other." + ZONE, tcp=True)
        pid_nx, ans_nx = dig_pid(w, "nothere." + ZONE)
        pid_cn, ans_cn = dig_pid(w, "alias." + ZONE)
        # nothing serves DNS at OTHER4: the query goes unanswered
        pid_to, _ = dig_pid(w, "lost." + ZONE, server=OTHER4)
        time.sleep(SETTLE + 1.5)
        run = t.stop()
    run.expect_clean_exit()
    if got != WEB4 or ans6 != [WEB6] or ans_tcp != [OTHER4] or ans_nx:
        raise Fail("the clients' own answers: %r %r %r %r" % (got, ans6, ans_tcp, ans_nx))
    evs = dns_events(run, b)
    others = [r for r in run.records if r.get("type") not in ("dns", "dns_stats", "summary")]
    if others:
        run.fail("--dns alone shows %d events of other kinds" % len(others), lambda r: r in others)
    r = find_query(run, evs, "getaddrinfo", "web." + ZONE, "A", outcome="answered",
                   rcode="NOERROR", addrs=[WEB4], proto="udp", raddr=w.net.A4, rport=53,
                   comm="python3")
    if not 0 < r["latency_ms"] < 1500:
        run.fail("getaddrinfo: latency %r ms" % r["latency_ms"], lambda x: x is r)
    find_query(run, evs, "dig AAAA", "web." + ZONE, "AAAA", outcome="answered", rcode="NOERROR",
               addrs=[WEB6], pid=pid6, comm="dig", proto="udp")
    find_query(run, evs, "dig +tcp", "other." + ZONE, "A", outcome="answered", rcode="NOERROR",
               addrs=[OTHER4], pid=pid_tcp, comm="dig", proto="tcp")
    find_query(run, evs, "NXDOMAIN", "nothere." + ZONE, "A", outcome="answered",
               rcode="NXDOMAIN", addrs=[], pid=pid_nx)
    find_query(run, evs, "CNAME chain", "alias." + ZONE, "A", outcome="answered",
               canonical="web." + ZONE, addrs=[WEB4], pid=pid_cn)
    find_query(run, evs, "no answer", "lost." + ZONE, "A", outcome="timeout", rcode=None,
               latency_ms=1500.0, raddr=OTHER4, pid=pid_to)
    # none of dnsmasq's side: its socket receives queries and sends answers
    served = [r for r in run.records if r.get("type") == "dns" and r.get("netns") == w.net.a.inode]
    if served:
        run.fail("the server's namespace shows queries", lambda r: r in served)
    rows = {(r["qname"], r["qtype"]): r for r in run.records if r.get("type") == "dns_stats"}
    row = rows.get(("nothere." + ZONE, "A"))
    if not row or row["queries"] != 1 or row["errors"] != 1 or row["answered"] != 1:
        run.fail("the table's row of nothere.%s: %r" % (ZONE, row))
    row = rows.get(("lost." + ZONE, "A"))
    if not row or row["timeouts"] != 1 or row["latency_p50_ms"] is not None:
        run.fail("the table's row of lost.%s: %r" % (ZONE, row))
    # every query the host sent is counted (getaddrinfo's A and AAAA among
    # them), each with a line; nothing answered a query socktrace missed
    summ = run.summary or {}
    all_dns = [r for r in run.records if r.get("type") == "dns"]
    if summ.get("dns_queries") != len(all_dns) or len(all_dns) < 6 or \
            summ.get("dns_queries_unparsed") != 0 or summ.get("dns_unmatched") != 0:
        run.fail("summary dns_queries %r, dns_queries_unparsed %r, dns_unmatched %r; %d dns lines"
                 % (summ.get("dns_queries"), summ.get("dns_queries_unparsed"),
                    summ.get("dns_unmatched"), len(all_dns)))
    # a replay derives the same outcomes from the recorded queries and answers
    replay = Tracer(ctx, ["--dns", "--dns-timeout", "1.5", "-r", path], hook=False)
    replay.start(wait_ready=False)
    rrun = replay.wait_exit(20)
    if rrun is None:
        raise Fail("replay did not finish")

    def key(r):
        return (r["qname"], r["qtype"], r["outcome"], r["rcode"], r["addrs"], r.get("pid"),
                r["latency_ms"])
    if sorted(map(key, evs)) != sorted(map(key, dns_events(rrun, b))):
        raise Fail("replayed queries differ from the live run's",
                   ["live: %r" % sorted(map(key, evs)),
                    "replay: %r" % sorted(map(key, dns_events(rrun, b)))])


@test("dns: --dns text output; filters on the owner and on the name asked (host NAME)")
def t_dns_queries_text(ctx):
    w = DnsWorld(ctx)
    args = ["--dns", "--comm", "dig", "host", "alias." + ZONE]
    path = os.path.join(ctx.tmpdir, ctx.unique("dnsf") + ".st")
    with Tracer(ctx, args + ["-w", path], json_out=False) as t:
        w.client("alias." + ZONE, 4)
        dig_pid(w, "web." + ZONE, tcp=True)
        pid, _ = dig_pid(w, "alias." + ZONE)
        time.sleep(SETTLE)
        text = t.stop()
    out = text.out.decode()
    lines = [x for x in out.splitlines() if " DNS " in x]
    if len(lines) != 1 or str(pid) not in lines[0] or \
            "A alias.%s NOERROR" % ZONE not in lines[0] or "-> web.%s %s" % (ZONE, WEB4) not in lines[0]:
        raise Fail("--comm dig host alias.%s: expected dig's one DNS line" % ZONE, out.splitlines())
    table = out.split("\nNAME", 1)[1] if "\nNAME" in out else ""
    if "alias." + ZONE not in table or "web." + ZONE in table:
        raise Fail("the per-name table at exit is missing, or has what the filter dropped",
                   out.splitlines())
    # the recording kept the dropped flows of the queries' sockets, whose
    # owners the replay needs: the same filter shows the same
    replay = Tracer(ctx, args + ["-r", path], json_out=False, hook=False)
    replay.start(wait_ready=False)
    rrun = replay.wait_exit(20)
    if rrun is None:
        raise Fail("replay did not finish")
    if rrun.out.decode() != out:
        # what the recording holds, unfiltered: which events told the owner
        dump = Tracer(ctx, ["-r", path], hook=False)
        dump.start(wait_ready=False)
        drun = dump.wait_exit(20)
        raise Fail("the replay with the same filter differs", ["live:"] + out.splitlines() +
                   ["replay:"] + rrun.out.decode().splitlines() + ["recording:"] +
                   (drun.out.decode().splitlines() + drun.err.splitlines() if drun else
                    ["(no replay)"]))
