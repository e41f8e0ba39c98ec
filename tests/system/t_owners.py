"""Who owns a socket: servers that fork after accept, processes whose I/O
runs in a named thread, sockets and attempts that predate socktrace, and
why an attempt failed when an ICMP error came while connect() held the
socket. Ground truth from outside socktrace: `ss -tnp`, TCP_INFO, the
application's own errno, the pids the helpers report."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

from lib import (PYTHON, Fail, Helper, NetPair, Skip, Tracer, check_fields, fmt_trans, run_cmd,
                 settle, test, transitions, wait_records)
from scenarios import SERVER_SEQ, life, tuple_of
from t_cli import schema_errors
from t_connects import (ALERT_MS, Attempts, Problems, hung_before, ino_needle,
                        is_alert_of, is_connect_of, of_ino, one_connect, poll_record,
                        selector)

SS_PID = re.compile(rb"pid=(\d+)")


def ss_pids(laddr, lport, raddr, rport, netns=None):
    """The pids `ss -tnp` names for one connection (what /proc/PID/fd says)."""
    cmd = ["ss", "-tnpH", "state", "all", "src", "%s:%d" % (fmt_host(laddr), lport),
           "dst", "%s:%d" % (fmt_host(raddr), rport)]
    if netns:
        cmd = ["ip", "netns", "exec", netns] + cmd
    out = run_cmd(cmd).stdout
    return {int(p) for p in SS_PID.findall(out)}


def fmt_host(addr):
    return "[%s]" % addr if ":" in addr else addr


def server_life(run, addr, port, cport):
    """The accepted socket's events, from its birth to CLOSE."""
    first = [e for e in run.states if tuple_of(e) == (addr, port, addr, cport)]
    return life(run.states, first[0]) if first else []


# ---------------------------------------------------------------- fork after accept

class ForkServer:
    """st-fparent listens and accepts; a child st-fchild serves each
    connection (reads a byte, waits for go(), answers, waits for EOF)."""

    def __init__(self, ctx, addr, count=1):
        self.h = Helper(ctx, ["forkserve", "--name", "st-fparent", "--child-name", "st-fchild",
                              "--addr", addr, "--count", count])
        r = self.h.expect("ready")
        self.addr, self.port, self.pid = addr, r["ready"], r["pid"]

    def served(self):
        s = self.h.expect("served")
        self.h.expect("handed")
        return s["served"]

    def go(self):
        self.h.send("go")


def fork_after_accept(ctx, addr):
    with Tracer(ctx, ["--no-snapshot"]) as t:
        srv = ForkServer(ctx, addr)
        cli = Helper(ctx, ["client", "--name", "st-client", "--addr", addr, "--port", srv.port])
        cport = cli.expect("connected")["connected"]
        child = srv.served()
        # ground truth while the child holds the connection
        truth = ss_pids(addr, srv.port, addr, cport)
        srv.go()
        cli.expect("done")
        cli.wait()
        srv.h.expect("done")
        srv.h.wait()
        settle([(srv.port, cport)])
        run = t.stop()
    what = "server %s:%d <- %s:%d" % (addr, srv.port, addr, cport)
    sel = lambda r: r.get("lport") in (srv.port, cport) or r.get("rport") in (srv.port, cport)
    run.expect_clean_exit(sel)
    if truth != {child}:
        raise Fail("ss -tnp names pids %s for the connection, the helper's child is %d"
                   % (sorted(truth), child))
    ev = server_life(run, addr, srv.port, cport)
    want = SERVER_SEQ[1:] if ctx.blind_birth else SERVER_SEQ
    if transitions(ev) != want:
        run.fail("%s: transitions %s, expected %s" % (what, fmt_trans(transitions(ev)),
                                                      fmt_trans(want)), sel)
    n_pre = len(want) - 3
    # born and established in the parent's hands (listener, then accept())
    check_fields(run, ev[:n_pre], what + " (before the fork)", sel, pid=srv.pid,
                 comm="st-fparent")
    # the child read from it: the owner ss names, learned from its I/O
    check_fields(run, ev[n_pre:], what + " (served by the child)", sel, pid=child, tid=child,
                 comm="st-fchild", owner="io", role="server")
    # docs/json.md's schema, owner io included
    for e in ev:
        if schema_errors(e):
            run.fail("%s: a record does not match docs/json.md: %s" % (
                what, "; ".join(schema_errors(e))), sel)


@test("owner_fork_after_accept_ipv4")
def owner_fork_after_accept_ipv4(ctx):
    """A server that accepts, forks a child that serves the connection and
    closes its own copy (sshd, PostgreSQL, inetd): the connection's events
    after the child's first read carry the child's pid, comm and owner io,
    the process `ss -tnp` names; before, the parent's."""
    fork_after_accept(ctx, "127.0.0.1")


@test("owner_fork_after_accept_ipv6")
def owner_fork_after_accept_ipv6(ctx):
    """The same on ::1."""
    fork_after_accept(ctx, "::1")


@test("owner_fork_filter_child")
def owner_fork_filter_child(ctx):
    """socktrace -p CHILD started after the hand-off (the child is then the
    only holder, as /proc says) shows the connection's socket at startup
    and its whole close with the child's pid; nothing of the parent."""
    srv = ForkServer(ctx, "127.0.0.1")
    cli = Helper(ctx, ["client", "--name", "st-client", "--addr", "127.0.0.1", "--port", srv.port])
    cport = cli.expect("connected")["connected"]
    child = srv.served()
    with Tracer(ctx, ["-p", str(child)]) as t:
        srv.go()
        cli.expect("done")
        cli.wait()
        srv.h.expect("done")
        settle([(srv.port, cport)])
        run = t.stop()
    what = "server 127.0.0.1:%d <- 127.0.0.1:%d under -p %d" % (srv.port, cport, child)
    sel = lambda r: r.get("lport") in (srv.port, cport) or r.get("rport") in (srv.port, cport)
    run.expect_clean_exit(sel)
    snap = [r for r in run.sockets if tuple_of(r) == ("127.0.0.1", srv.port, "127.0.0.1", cport)]
    if len(snap) != 1 or snap[0].get("pid") != child:
        run.fail("%s: expected the connection once in the snapshot with pid %d" % (what, child), sel)
    ev = server_life(run, "127.0.0.1", srv.port, cport)
    want = [("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"), ("LAST_ACK", "CLOSE")]
    if transitions(ev) != want:
        run.fail("%s: transitions %s, expected %s" % (what, fmt_trans(transitions(ev)),
                                                      fmt_trans(want)), sel)
    check_fields(run, ev, what, sel, pid=child, comm="st-fchild", owner="proc")
    others = [r for r in run.states + run.sockets if r.get("pid") not in (child, None)]
    if others:
        run.fail("%s: events of other processes passed the filter" % what,
                 lambda r: r.get("pid") not in (child, None))


@test("owner_fork_socat")
def owner_fork_socat(ctx):
    """A real forking server from Debian: socat TCP-LISTEN:...,fork PIPE
    forks a child per connection that echoes. The accepted connection's
    events after the child read carry the child's pid (as ss -tnp names
    it), comm socat and owner io."""
    if not shutil.which("socat"):
        raise Skip("socat is not installed (make deps-test installs it)")
    port = free_port4()
    with Tracer(ctx, ["--no-snapshot"]) as t:
        p = subprocess.Popen(["socat", "TCP4-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork" % port,
                              "PIPE"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        ctx.on_cleanup(lambda: stop_proc(p))
        wait_listen(port)
        c = socket.create_connection(("127.0.0.1", port), timeout=10)
        cport = c.getsockname()[1]
        c.sendall(b"hello")
        if c.recv(5) != b"hello":
            raise Fail("socat did not echo")
        truth = ss_pids("127.0.0.1", port, "127.0.0.1", cport)
        c.close()
        settle([(port, cport)])
        run = t.stop()
    stop_proc(p)
    sel = lambda r: r.get("lport") in (port, cport) or r.get("rport") in (port, cport)
    run.expect_clean_exit(sel)
    if len(truth) != 1 or p.pid in truth:
        raise Fail("ss -tnp names pids %s for the connection, expected one socat child "
                   "(the listener is %d)" % (sorted(truth), p.pid))
    child = truth.pop()
    ev = server_life(run, "127.0.0.1", port, cport)
    what = "socat's connection 127.0.0.1:%d <- %d" % (port, cport)
    after = [e for e in ev if e.get("old") not in ("LISTEN", "SYN_RECV")]
    if not after or after[-1].get("new") != "CLOSE":
        run.fail("%s: no events after the handshake up to CLOSE (%s)"
                 % (what, fmt_trans(transitions(ev))), sel)
    check_fields(run, [e for e in ev if e not in after], what + " (parent)", sel, pid=p.pid,
                 comm="socat")
    check_fields(run, after, what + " (child)", sel, pid=child, comm="socat", owner="io")


# ---------------------------------------------------------------- listeners handed on

def listen_pids(addr, port):
    """The pids `ss -tlnp` names for the listener on addr:port."""
    out = run_cmd(["ss", "-tlnpH", "src", "%s:%d" % (fmt_host(addr), port)]).stdout
    return {int(p) for p in SS_PID.findall(out)}


def kill_pid(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def listener_close(run, addr, port):
    return [e for e in run.states if tuple_of(e) == (addr, port, "0.0.0.0", 0)
            and (e.get("old"), e.get("new")) == ("LISTEN", "CLOSE")]


def pre_accept(ev):
    """A server socket's events before accept(): its birth and handshake."""
    return [e for e in ev if (e.get("old"), e.get("new")) in
            (("LISTEN", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED"))]


def clients_one_by_one(ctx, addr, port, server, n):
    """n clients, each done and its connection closed by the server before
    the next starts: (client port, the server's "closed" message) each."""
    out = []
    for _ in range(n):
        cli = Helper(ctx, ["client", "--name", "st-client", "--addr", addr, "--port", port])
        cport = cli.expect("connected")["connected"]
        cli.expect("done")
        cli.wait()
        out.append((cport, server.expect("closed")))
    return out


def server_established(port):
    """A server side of a connection to port reaching ESTABLISHED."""
    return lambda r: r.get("type") == "tcp_state" and r.get("lport") == port and \
        r.get("new") == "ESTABLISHED"


@test("owner_daemon_after_listen")
def owner_daemon_after_listen(ctx):
    """A server that forks and exits after listen(), as daemon(3) does
    (nginx, dnsmasq): the process that created the listener is gone. The
    first connection, which socktrace reads before the daemon's first
    accept(), names the process that holds the listener (found in /proc);
    once the daemon has accepted, the next connection's socket carries the
    daemon's pid from its birth (owner listener), and the listener's close
    carries it too (owner accept: the accept() confirms the owner /proc
    gave): the process `ss -tlnp` names, not the one that exited.
    The listener stays open until socktrace has read the handshakes, as a
    daemon's does: one closed before that leaves nobody to find."""
    addr = "127.0.0.1"
    with Tracer(ctx, ["--no-snapshot"]) as t:
        h = Helper(ctx, ["server", "--name", "st-launch", "--daemonize", "st-daemon",
                         "--addr", addr, "--count", 2, "--hold", "--accept-on-line"])
        r = h.expect("ready")
        port, launcher = r["ready"], r["pid"]
        daemon = h.expect("acceptor")["acceptor"]
        ctx.on_cleanup(lambda: kill_pid(daemon))
        h.expect("launched")
        h.wait()
        truth = listen_pids(addr, port)
        # the first handshake completes in the kernel; the daemon accepts
        # only once socktrace has printed it
        cli = Helper(ctx, ["client", "--name", "st-client", "--addr", addr, "--port", port])
        cports = [cli.expect("connected")["connected"]]
        wait_records(t, 1, server_established(port), timeout=10)
        h.send("accept")
        cli.expect("done")
        cli.wait()
        h.expect("closed")
        cports += [c for c, _ in clients_one_by_one(ctx, addr, port, h, 1)]
        wait_records(t, len(cports), server_established(port), timeout=10)
        h.send("go")
        h.expect("done")
        settle([(port, c) for c in cports])
        run = t.stop()
    sel = lambda r: r.get("lport") == port or r.get("rport") == port
    run.expect_clean_exit(sel)
    if truth != {daemon}:
        raise Fail("ss -tlnp names pids %s for the listener, the daemon is %d (launcher %d)"
                   % (sorted(truth), daemon, launcher))
    first, second = (server_life(run, addr, port, c) for c in cports)
    for ev, c, when in ((first, cports[0], "before the daemon's first accept"),
                        (second, cports[1], "after the daemon's first accept")):
        what = "server %s:%d <- %s:%d" % (addr, port, addr, c)
        pre = pre_accept(ev)
        if not pre or len(pre) == len(ev):
            run.fail("%s: transitions %s, expected the handshake and the close" % (
                what, fmt_trans(transitions(ev))), sel)
        check_fields(run, pre, "%s (before accept, %s)" % (what, when), sel,
                     pid=daemon, comm="st-daemon", owner="listener", role="server")
    for ev, c in ((first, cports[0]), (second, cports[1])):
        check_fields(run, ev[len(pre_accept(ev)):], "server %s:%d <- %s:%d (accepted)" % (
            addr, port, addr, c), sel, pid=daemon, comm="st-daemon", owner="accept",
            vpid=daemon)
    close = listener_close(run, addr, port)
    if len(close) != 1:
        run.fail("listener %s:%d: %d LISTEN->CLOSE events, expected 1" % (addr, port, len(close)),
                 sel)
    check_fields(run, close, "listener %s:%d (closed by the daemon)" % (addr, port), sel,
                 pid=daemon, comm="st-daemon", owner="accept", role="listener", vpid=daemon)


@test("owner_reuseport_listeners")
def owner_reuseport_listeners(ctx):
    """Two processes with a SO_REUSEPORT listener each on one port; every
    connection goes to the first (a reuseport BPF program), after the
    second registered. Each listener's close carries its own process: the
    accept()s of the first never hand the second's listener to it."""
    addr = "127.0.0.1"
    with Tracer(ctx, ["--no-snapshot"]) as t:
        a = Helper(ctx, ["server", "--name", "st-rpa", "--addr", addr, "--count", 2, "--hold",
                         "--reuseport", "--steer-first"])
        ra = a.expect("ready")
        port = ra["ready"]
        b = Helper(ctx, ["server", "--name", "st-rpb", "--addr", addr, "--port", port,
                         "--count", 0, "--hold", "--reuseport"])
        rb = b.expect("ready")
        truth = listen_pids(addr, port)
        cports = []
        for cport, closed in clients_one_by_one(ctx, addr, port, a, 2):
            if closed["pid"] != ra["pid"]:
                raise Fail("helper: the connection did not go to the first listener")
            cports.append(cport)
        for h in (b, a):
            h.send("go")
            h.expect("done")
            h.wait()
        settle([(port, c) for c in cports])
        run = t.stop()
    sel = lambda r: r.get("lport") == port or r.get("rport") == port
    run.expect_clean_exit(sel)
    if truth != {ra["pid"], rb["pid"]}:
        raise Fail("ss -tlnp names pids %s for the port, expected %d and %d"
                   % (sorted(truth), ra["pid"], rb["pid"]))
    close = listener_close(run, addr, port)
    if len(close) != 2:
        run.fail("listeners %s:%d: %d LISTEN->CLOSE events, expected 2" % (addr, port, len(close)),
                 sel)
    check_fields(run, close[:1], "the second listener (closed first)", sel, pid=rb["pid"],
                 comm="st-rpb", owner="listen")
    check_fields(run, close[1:], "the first listener", sel, pid=ra["pid"], comm="st-rpa",
                 owner="listen")
    for c in cports:
        ev = server_life(run, addr, port, c)
        check_fields(run, ev[len(pre_accept(ev)):], "server %s:%d <- %s:%d (accepted)" % (
            addr, port, addr, c), sel, pid=ra["pid"], comm="st-rpa", owner="accept")


def free_port4():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_listen(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise Fail("nothing listens on 127.0.0.1:%d after %.0fs" % (port, timeout))


def stop_proc(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


# ---------------------------------------------------------------- COMM of threads

@test("owner_comm_is_the_process")
def owner_comm_is_the_process(ctx):
    """A process named st-tmain does its TCP and UDP I/O in a thread named
    st-io-thread (as dig does in isc-net-0000): its transitions and its
    UDP flow carry comm st-tmain (the process, as ps and /proc/PID/comm
    say) and the thread's tid; `comm st-tmain` selects them."""
    srv = Helper(ctx, ["server", "--name", "st-server", "--addr", "127.0.0.1"])
    port = srv.expect("ready")["ready"]
    with Tracer(ctx, ["--no-snapshot", "--udp-idle", "1", "comm", "st-tmain"]) as t:
        h = Helper(ctx, ["threadio", "--name", "st-tmain", "--thread-name", "st-io-thread",
                         "--addr", "127.0.0.1", "--port", port])
        th = h.expect("thread")
        d = h.expect("done")
        h.wait()
        srv.expect("done")
        settle([(port, d["done"])])
        poll_udp_end(t, d["udp_lport"])
        run = t.stop()
    pid, tid = th["pid"], th["thread"]
    sel = lambda r: r.get("pid") == pid
    run.expect_clean_exit(sel)
    if tid == pid:
        raise Fail("helper: the I/O thread's tid is the process's pid")
    ev = [e for e in run.states if tuple_of(e)[2:] == ("127.0.0.1", port) and e.get("pid") == pid]
    if not ev:
        run.fail("no transitions of st-tmain's connection to port %d passed 'comm st-tmain'"
                 % port, sel)
    check_fields(run, ev, "st-tmain's connection", sel, comm="st-tmain", tid=tid, owner="connect")
    flows = [r for r in run.records if r.get("type") == "udp_flow" and
             r.get("lport") == d["udp_lport"]]
    if not flows:
        run.fail("no udp_flow of st-tmain's datagram from port %d passed 'comm st-tmain'"
                 % d["udp_lport"], sel)
    check_fields(run, flows, "st-tmain's UDP flow", sel, pid=pid, tid=tid, comm="st-tmain")


def poll_udp_end(t, lport, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(r.get("type") == "udp_flow" and r.get("event") == "end" and
               r.get("lport") == lport for r in t.records_now()):
            return
        time.sleep(0.05)


@test("owner_comm_dig")
def owner_comm_dig(ctx):
    """dig (bind9-dnsutils) sends its query from a libuv thread named
    isc-net-0000: the UDP flow of its query carries comm dig and dig's
    pid."""
    if not shutil.which("dig"):
        raise Skip("dig is not installed (make deps-test installs bind9-dnsutils)")
    port = free_udp_port()
    with Tracer(ctx, ["-u", "--no-snapshot", "--udp-idle", "1", "-P", str(port)]) as t:
        p = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+tries=1", "+time=1",
                            "+retry=0", "socktrace.test"], capture_output=True, timeout=20)
        time.sleep(0.2)
        run = t.stop()
    flows = [r for r in run.records if r.get("type") == "udp_flow" and r.get("rport") == port
             and r.get("raddr") == "127.0.0.1"]
    run.expect_clean_exit(lambda r: r.get("rport") == port)
    if not flows:
        run.fail("no UDP flow to 127.0.0.1:%d from dig (dig said %r)"
                 % (port, p.stdout.decode(errors="replace")[-200:]))
    check_fields(run, flows, "dig's query", None, comm="dig", owner="traffic")
    threads = {r.get("tid") for r in flows} - {r.get("pid") for r in flows}
    if not threads:
        raise Skip("this dig sent its query from its main thread: nothing to tell apart")


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------- existing sockets

def existing_connection(ctx, snapshot):
    h = Helper(ctx, ["hold", "--name", "st-hold", "--addr", "127.0.0.1"])
    r = h.expect("ready")
    port, cport, pid = r["ready"], r["cport"], r["pid"]
    with Tracer(ctx, [] if snapshot else ["--no-snapshot"]) as t:
        h.close_stdin()
        h.wait()
        settle([(port, cport)])
        run = t.stop()
    sel = lambda r: r.get("lport") in (port, cport) or r.get("rport") in (port, cport)
    run.expect_clean_exit(sel)
    cli = [e for e in run.states if tuple_of(e) == ("127.0.0.1", cport, "127.0.0.1", port)]
    srv = [e for e in run.states if tuple_of(e) == ("127.0.0.1", port, "127.0.0.1", cport)]
    lsn = [e for e in run.states if tuple_of(e) == ("127.0.0.1", port, "0.0.0.0", 0)]
    # st-hold closes both ends at once: a simultaneous close (CLOSING) is
    # as good as the orderly one
    for what, ev in (("client", cli), ("server", srv), ("listener", lsn)):
        if not ev or transitions(ev)[-1][1] != "CLOSE":
            run.fail("%s of st-hold: transitions %s, expected them to end in CLOSE"
                     % (what, fmt_trans(transitions(ev))), sel)
        # its owner closed the file before the last ones: /proc named it at startup
        check_fields(run, ev, "%s of st-hold (existed at startup)" % what, sel, pid=pid,
                     comm="st-hold", owner="proc")


@test("owner_existing_connection_close")
def owner_existing_connection_close(ctx):
    """A connection and its listener that existed before socktrace started:
    every transition of their close, also those after st-hold closed its
    files (FIN_WAIT2->CLOSE, LAST_ACK->CLOSE), carries st-hold's pid with
    owner proc."""
    existing_connection(ctx, snapshot=True)


@test("owner_existing_connection_no_snapshot")
def owner_existing_connection_no_snapshot(ctx):
    """The same with --no-snapshot: the owners are found at startup even
    when the snapshot is not printed."""
    existing_connection(ctx, snapshot=False)


@test("owner_existing_listener_no_snapshot")
def owner_existing_listener_no_snapshot(ctx):
    """A listener that existed before socktrace --no-snapshot started: the
    connection it then accepts is born with the listener's pid (owner
    listener) and after accept() is st-server's (owner accept)."""
    srv = Helper(ctx, ["server", "--name", "st-server", "--addr", "127.0.0.1"])
    r = srv.expect("ready")
    port, pid = r["ready"], r["pid"]
    with Tracer(ctx, ["--no-snapshot"]) as t:
        cli = Helper(ctx, ["client", "--name", "st-client", "--addr", "127.0.0.1", "--port", port])
        cport = cli.expect("connected")["connected"]
        cli.expect("done")
        srv.expect("done")
        settle([(port, cport)])
        run = t.stop()
    sel = lambda r: r.get("lport") in (port, cport) or r.get("rport") in (port, cport)
    run.expect_clean_exit(sel)
    ev = server_life(run, "127.0.0.1", port, cport)
    want = SERVER_SEQ[1:] if ctx.blind_birth else SERVER_SEQ
    if transitions(ev) != want:
        run.fail("accepted socket: transitions %s, expected %s" % (
            fmt_trans(transitions(ev)), fmt_trans(want)), sel)
    n_pre = len(want) - 3
    check_fields(run, ev[:n_pre], "accepted socket (before accept)", sel, pid=pid,
                 comm="st-server", owner="listener")
    check_fields(run, ev[n_pre:], "accepted socket (after accept)", sel, pid=pid,
                 comm="st-server")


# ---------------------------------------------------------------- attempts at startup

@test("connect_startup_retrans_exact")
def connect_startup_retrans_exact(ctx):
    """An attempt hanging in SYN_SENT with one SYN retransmitted when
    socktrace --connects starts: each later syn_alert's syn_retrans equals
    the kernel's count (TCP_INFO total_retrans) right after it, its comm
    is st-hang's like the attempt's other records, and the outcome's
    syn_retrans is the kernel's final count."""
    jam, att, c = hung_before(ctx, retrans=1)
    seen = []
    with Tracer(ctx, ["--connects", "--syn-alert", str(ALERT_MS)]) as t:
        k = att.info("1")["total_retrans"]
        # the next retransmit comes 2 s after the first (the RTO doubles),
        # the one after that 4 s later
        for n in (k + 1,):
            att.wait_retrans("1", n, timeout=15)
            a = poll_record(t, ino_needle(c["ino"]), is_alert_of(c, n), timeout=2)
            now = att.info("1")["total_retrans"]
            seen.append((n, now, a))
        jam.accept()
        err, kretrans = att.outcome("1", seconds=20)
        if err is not None:
            raise Fail("helper: the hung connect failed with %s once st-lsn accepted" % err)
        poll_record(t, ino_needle(c["ino"]), is_connect_of(c, "established"))
        run = t.stop()
    sel = selector([att.pid, jam.pid], [jam.port], [c["ino"]])
    run.expect_clean_exit(sel)
    what = "attempt %s:%d -> %s:%d (started before socktrace)" % (
        c["laddr"], c["lport"], att.addr, att.port)
    p = Problems(run, sel)
    alerts = of_ino(run, "syn_alert", c["ino"])
    counts = [a.get("syn_retrans") for a in alerts]
    for n, now, a in seen:
        p.check(n in counts, "%s: no syn_alert with syn_retrans %d (the kernel's count after "
                "its retransmit: %d); alerts say %s" % (what, n, now, counts))
    p.check(all(isinstance(x, int) and x <= kretrans for x in counts),
            "%s: alerts say %s SYN retransmits, the kernel made %d in all"
            % (what, counts, kretrans))
    p.fields(alerts, what, comm=att.name, pid=att.pid)
    k = one_connect(p, run, c, what)
    if k:
        p.fields([k], what, outcome="established", syn_retrans=kretrans, comm=att.name)
    p.done()


# ---------------------------------------------------------------- ICMP rejects

REJECTS = (("admin-prohibited", "EHOSTUNREACH", "EACCES"),
           ("host-unreachable", "EHOSTUNREACH", "EHOSTUNREACH"))


def nft_reject(ns, ports):
    """In namespace ns, reject TCP to each port with its ICMP type."""
    rules = "".join("    tcp dport %d reject with icmpx type %s\n" % (port, how)
                    for port, how in ports)
    conf = ("table inet st_reject {\n  chain input {\n"
            "    type filter hook input priority 0; policy accept;\n%s  }\n}\n" % rules)
    run_cmd(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=conf.encode())


def icmp_reject(ctx, v6):
    if not shutil.which("nft"):
        raise Skip("nft is not installed (make deps-test installs nftables)")
    pair = NetPair(ctx)
    saddr = pair.A6 if v6 else pair.A4
    ports = [(40001 + i, how) for i, (how, _, _) in enumerate(REJECTS)]
    try:
        nft_reject(pair.a.name, ports)
    except Fail as e:
        raise Skip("nftables cannot reject here: %s" % e.details)
    results = []
    with Tracer(ctx, ["--no-snapshot", "--connects"]) as t:
        for (port, how), (_, e4, e6) in zip(ports, REJECTS):
            # non-blocking connect(), poll, getsockopt(SO_ERROR), close
            a = Attempts(ctx, saddr, port, "st-icmp", netns=pair.b.name)
            c = a.connect("1")
            err, _ = a.outcome("1")
            a.close("1")
            results.append(("helper", port, how, e6 if v6 else e4, err, c, a))
            url = "http://%s:%d/" % ("[%s]" % saddr if v6 else saddr, port)
            p = subprocess.run(["ip", "netns", "exec", pair.b.name, "curl", "-sS",
                                "--connect-timeout", "5", url], capture_output=True, timeout=20)
            results.append(("curl", port, how, e6 if v6 else e4, p.returncode, p.stderr, None))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if sum(1 for r in t.records_now() if r.get("type") == "connect" and
                   r.get("rport") in {pt for pt, _ in ports}) >= 2 * len(ports):
                break
            time.sleep(0.05)
        run = t.stop()
    sel = lambda r: r.get("rport") in {pt for pt, _ in ports}
    run.expect_clean_exit(sel)
    p = Problems(run, sel)
    for who, port, how, want, got, extra, a in results:
        what = "%s to %s port %d (reject with %s)" % (who, saddr, port, how)
        if who == "helper":
            c = extra
            if got != want:
                raise Fail("helper: the attempt got %r, expected %s" % (got, want))
            recs = [r for r in of_ino(run, "connect", c["ino"])]
            p.check(len(recs) == 1, "%s: %d connect records, expected 1" % (what, len(recs)))
            p.fields(recs, what, outcome="unreachable", error=want, pid=a.pid)
        else:
            if got != 7:
                raise Fail("curl to %s port %d exited %d, expected 7 (could not connect): %s"
                           % (saddr, port, got, extra.decode(errors="replace").strip()))
            recs = [r for r in run.records if r.get("type") == "connect" and
                    r.get("rport") == port and r.get("comm") == "curl"]
            p.check(len(recs) == 1, "%s: %d connect records of curl, expected 1"
                    % (what, len(recs)))
            p.fields(recs, what, outcome="unreachable", error=want)
    p.done()


@test("connect_icmp_reject_ipv4")
def connect_icmp_reject_ipv4(ctx):
    """nftables in a test namespace rejects TCP with ICMP admin-prohibited
    and host-unreachable; curl and a non-blocking connect() that reads
    SO_ERROR (which takes the error the kernel parked in sk_err_soft while
    connect() held the socket) both fail at once: socktrace --connects
    says unreachable with the errno the application got (EHOSTUNREACH),
    never aborted."""
    icmp_reject(ctx, v6=False)


@test("connect_icmp_reject_ipv6")
def connect_icmp_reject_ipv6(ctx):
    """The same over IPv6, where admin-prohibited gives EACCES."""
    icmp_reject(ctx, v6=True)


GETSOCKOPT_CALLS = r"""
import ctypes, json, socket
libc = ctypes.CDLL(None, use_errno=True)
def call(fd, level, name, size, null=False):
    buf = ctypes.create_string_buffer(max(size, 1))
    n = ctypes.c_uint32(size)
    rc = libc.getsockopt(fd, level, name, None if null else buf, ctypes.byref(n))
    return [rc, ctypes.get_errno() if rc else 0, n.value, buf.raw[:min(n.value, size)].hex()]
nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
nl.setsockopt(270, 1, 1)                # NETLINK_ADD_MEMBERSHIP RTNLGRP_LINK
tcp = socket.socket()
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
print(json.dumps({
    # the size of a buffer asked with optval NULL (systemd-resolved does)
    "null_optval": call(nl.fileno(), 270, 9, 0, null=True),
    "memberships": call(nl.fileno(), 270, 9, 64),
    # a buffer of three pages, larger than a cgroup program sees
    "big_buffer": call(tcp.fileno(), socket.SOL_SOCKET, socket.SO_RCVBUF, 3 * 4096),
    "so_error": call(tcp.fileno(), socket.SOL_SOCKET, socket.SO_ERROR, 4),
    "short_optlen": call(tcp.fileno(), socket.SOL_SOCKET, socket.SO_TYPE, 2),
    "bad_option": call(tcp.fileno(), socket.SOL_SOCKET, 9999, 4),
}))
"""


@test("so_error_getsockopt_unchanged")
def so_error_getsockopt_unchanged(ctx):
    """socktrace watches getsockopt(SO_ERROR) (the so_error concern, from a
    cgroup getsockopt program where the kernel allows): every getsockopt()
    of the host returns what it returns without socktrace: an optval NULL
    that asks for the size (which older kernels failed with EFAULT while any
    cgroup getsockopt program ran), a buffer of three pages, a short optlen,
    an unknown option's error."""
    def calls():
        p = subprocess.run([PYTHON, "-c", GETSOCKOPT_CALLS], capture_output=True, timeout=20)
        if p.returncode:
            raise Fail("the getsockopt() calls failed: %s" % p.stderr.decode(errors="replace"))
        return json.loads(p.stdout)
    before = calls()
    if before["null_optval"][0] != 0 or before["null_optval"][2] == 0:
        raise Fail("without socktrace, getsockopt(NETLINK_LIST_MEMBERSHIPS, NULL) gave %r"
                   % (before["null_optval"],))
    with Tracer(ctx, ["--no-snapshot", "-P", "1"]) as t:
        during = calls()
        run = t.stop()
    run.expect_clean_exit(lambda r: False)
    after = calls()
    hook = re.search(r"(cgroup/getsockopt|tracepoint/syscalls/sys_enter_getsockopt)",
                     run.err or "")
    if during != before or after != before:
        raise Fail("getsockopt() under socktrace (so_error from %s) returned otherwise"
                   % (hook.group(1) if hook else "no hook"),
                   ["without: %r" % before, "with:    %r" % during, "after:   %r" % after])


# ---------------------------------------------------------------- gaps

def storm_binary(ctx):
    import os
    path = os.path.join(os.path.dirname(ctx.socktrace), "bench", "storm")
    if not os.access(path, os.X_OK):
        raise Skip("%s is not built (make builds it with the tests)" % path)
    return path


BIRTHS = {("CLOSE", "SYN_SENT"), ("CLOSE", "LISTEN"), ("LISTEN", "SYN_RECV")}


@test("gaps_other_tracer_attaching")
def gaps_other_tracer_attaching(ctx):
    """A connection storm on loopback (bench/storm: exactly 10 transitions
    per connection) while a second socktrace attaches to and detaches from
    the same tracepoints again and again, which can make the kernel skip
    runs of the first one's program (seen: a server's FIN_WAIT1->FIN_WAIT2
    and FIN_WAIT2->CLOSE, about once in 20 attach/detach cycles at 14,000
    connections/s). A transition missed between two seen ones of a socket
    marks the later one gap:true; one missed at a socket's end counts when
    its address is born again; nothing else is marked; the summary's gaps
    count them all."""
    storm = storm_binary(ctx)
    port = free_port4()
    with Tracer(ctx, ["--no-snapshot", "--ringbuf-kb", "131072", "-P", str(port)]) as t:
        p = subprocess.Popen([storm, "-p", str(port), "-t", "6"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        ctx.on_cleanup(lambda: stop_proc(p))
        deadline = time.monotonic() + 6
        toggles = 0
        while time.monotonic() < deadline:
            other = subprocess.Popen([ctx.socktrace, "-q", "--no-snapshot", "-P", "1"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
            time.sleep(0.25)
            other.send_signal(signal.SIGINT)
            other.wait(10)
            toggles += 1
        out, err = p.communicate(timeout=20)
        time.sleep(0.3)
        run = t.stop()
    res = json.loads(out)
    if run.rc != 0 or run.summary is None:
        run.fail("socktrace exited with status %s" % run.rc, lambda r: r.get("gap"))
    if run.summary.get("lost"):
        # a lost record leaves a hole that is no gap: nothing to check
        raise Skip("the ring buffer overflowed (%d lost): this machine is too busy for the "
                   "storm's output" % run.summary["lost"])
    lives, marked, ended_unseen = {}, 0, 0
    for e in run.states:
        trans = (e.get("old"), e.get("new"))
        life_ = lives.get(e.get("sock"))
        if trans in BIRTHS:
            # a socket before it at this address did not report its end
            ended_unseen += bool(life_)
            life_ = lives[e.get("sock")] = []
            hole = False
        else:
            life_ = lives.setdefault(e.get("sock"), [])
            hole = bool(life_) and e.get("old") != life_[-1].get("new")
        if hole != bool(e.get("gap")):
            prev = life_[-1] if life_ else None
            run.fail("%s -> %s is %smarked as a gap, after %s of the same socket"
                     % (trans[0], trans[1], "" if e.get("gap") else "not ",
                        "%s -> %s" % (prev["old"], prev["new"]) if prev else "nothing"),
                     lambda r, e=e, prev=prev: r is e or r is prev)
        marked += hole
        life_.append(e)
        if e.get("new") == "CLOSE":
            del lives[e.get("sock")]
    want = 10 * res["connections"] + 2
    got = len(run.states)
    gaps = run.summary.get("gaps", 0)
    if gaps < marked + ended_unseen:
        run.fail("the summary counts %d gaps, but %d events are marked and %d sockets ended "
                 "unseen before their address was reused (%d of %d transitions missing, %d "
                 "toggles)" % (gaps, marked, ended_unseen, want - got, want, toggles))
    # the storm counts the connections done by its deadline: one more may be under way
    if got > want + 10:
        run.fail("%d transitions for %d connections, expected at most %d"
                 % (got, res["connections"], want + 10))
