"""Traffic scenarios and the checks of what socktrace must report for them."""
import socket

from lib import (Fail, Helper, check_fields, check_old_ms, check_same_sock, fmt_trans,
                 settle, transitions)

CLIENT_SEQ = [("CLOSE", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED"),
              ("ESTABLISHED", "FIN_WAIT1"), ("FIN_WAIT1", "FIN_WAIT2"), ("FIN_WAIT2", "CLOSE")]
SERVER_SEQ = [("LISTEN", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED"),
              ("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"), ("LAST_ACK", "CLOSE")]
LISTENER_SEQ = [("CLOSE", "LISTEN"), ("LISTEN", "CLOSE")]
REFUSED_SEQ = [("CLOSE", "SYN_SENT"), ("SYN_SENT", "CLOSE")]


def wildcard(family):
    return "0.0.0.0" if family == 4 else "::"


def free_port(*addrs):
    """A TCP port free on every address in addrs (checked by binding)."""
    for _ in range(50):
        socks = []
        try:
            s = socket.socket(socket.AF_INET6 if ":" in addrs[0] else socket.AF_INET)
            socks.append(s)
            s.bind((addrs[0], 0))
            port = s.getsockname()[1]
            for a in addrs[1:]:
                t = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET)
                socks.append(t)
                t.bind((a, port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise Fail("found no free port on %s" % ", ".join(addrs))


def life(states, anchor):
    """The events of the socket `anchor` belongs to, from its first event
    to its CLOSE (kernel sock addresses are reused once a socket closed)."""
    cur, found = [], False
    for e in states:
        if e.get("sock") != anchor.get("sock"):
            continue
        cur.append(e)
        if e is anchor:
            found = True
        if e.get("new") == "CLOSE":
            if found:
                return cur
            cur = []
    return cur if found else [anchor]


def tuple_of(e):
    return (e.get("laddr"), e.get("lport"), e.get("raddr"), e.get("rport"))


def anchor(states, netns, tuples, ino, fallback):
    """The event that identifies one of our sockets among all traffic (other
    processes may make connections meanwhile): one with its inode and
    tuple; failing that (socktrace got the inode wrong), `fallback`."""
    for e in states:
        if e.get("netns") == netns and tuple_of(e) in tuples and ino and e.get("ino") == ino:
            return e
    for e in states:
        if fallback(e):
            return e
    return None


class Conversation:
    """A listener (helper `server`) and one client exchanging a byte each
    way; the client closes first. Attributes after run(): port, cport,
    server/listener/acceptor/client pids, inodes."""

    def __init__(self, ctx, saddr, caddr=None, server_ns=None, client_ns=None,
                 server_name="st-server", client_name="st-client", fork_accept=None,
                 accept_syscall="accept4", hold_ms=0, port=0, client_comm=None):
        self.ctx = ctx
        self.saddr = saddr
        self.caddr = caddr or saddr
        self.family = 6 if ":" in saddr else 4
        self.server_ns = server_ns
        self.client_ns = client_ns
        self.server_name = server_name
        self.client_name = client_name          # str, or bytes for odd names
        self.client_comm = client_comm or client_name   # what socktrace must print
        self.acceptor_name = fork_accept or server_name
        self.fork_accept = fork_accept
        self.accept_syscall = accept_syscall
        self.hold_ms = hold_ms
        self.want_port = port
        self.helpers = []

    def start_server(self):
        args = ["server", "--name", self.server_name, "--addr", self.saddr,
                "--port", self.want_port, "--accept-syscall", self.accept_syscall]
        if self.fork_accept:
            args += ["--fork-accept", self.fork_accept]
        self.server = Helper(self.ctx, args, netns=self.server_ns)
        self.helpers.append(self.server)
        r = self.server.expect("ready")
        self.port = r["ready"]
        self.listener_pid = r["pid"]
        self.listener_ino = r["ino"]
        self.acceptor_pid = self.listener_pid
        if self.fork_accept:
            self.acceptor_pid = self.server.expect("acceptor")["acceptor"]
        return self

    def spawn_client(self, wait_start=False):
        """Starts the client process; with wait_start it connects only once
        run_client() tells it to (so that its pid can go into a filter)."""
        args = ["client", "--name", self.client_name, "--addr", self.saddr,
                "--port", self.port, "--hold-ms", self.hold_ms]
        if wait_start:
            args.append("--wait-start")
        self.client = Helper(self.ctx, args, netns=self.client_ns)
        self.helpers.append(self.client)
        self.client_pid = self.client.expect("started")["started"]
        return self

    def run_client(self):
        if getattr(self, "client", None) is None:
            self.spawn_client()
        else:
            self.client.send("go")
        c = self.client.expect("connected")
        self.cport = c["connected"]
        if c["pid"] != self.client_pid:
            raise Fail("helper: client pid changed from %s to %s" % (self.client_pid, c["pid"]))
        self.client_ino = c["ino"]
        self.client_laddr = c["laddr"]
        self.client.expect("done")
        self.client.wait()
        a = self.server.expect("accepted")
        self.accepted_ino = a["ino"]
        if a["pid"] != self.acceptor_pid:
            raise Fail("helper: accept() ran in pid %s, expected %s" % (a["pid"], self.acceptor_pid))
        self.server.expect("done")
        self.server.wait()
        settle([(self.port, self.cport)], {self.server_ns, self.client_ns})
        return self

    def run(self):
        self.start_server()
        return self.run_client()

    def pids(self):
        return {self.listener_pid, self.acceptor_pid, getattr(self, "client_pid", None)}

    def tuples(self):
        cport = getattr(self, "cport", -1)
        return {
            "client": (self.caddr, cport, self.saddr, self.port),
            "connect": (self.caddr, 0, self.saddr, self.port),
            "server": (self.saddr, self.port, self.caddr, cport),
            "listener": (self.saddr, self.port, wildcard(self.family), 0),
        }

    def select(self):
        """Records that concern this conversation, for failure reports."""
        tuples = set(self.tuples().values())
        pids = self.pids() - {None}
        return lambda r: tuple_of(r) in tuples or r.get("pid") in pids


def check_client(run, conv, netns):
    """The client's socket: exact transitions and fields."""
    sel = conv.select()
    tup = conv.tuples()
    what = "client %s:%d -> %s:%d" % (conv.caddr, conv.cport, conv.saddr, conv.port)
    first = anchor(run.states, netns, {tup["client"], tup["connect"]}, conv.client_ino,
                   lambda e: e.get("pid") == conv.client_pid and e.get("raddr") == conv.saddr
                   and e.get("rport") == conv.port)
    if first is None:
        run.fail("%s: no events (none with the client's inode %d or pid %d)"
                 % (what, conv.client_ino, conv.client_pid), sel)
    ev = life(run.states, first)
    if transitions(ev) != CLIENT_SEQ:
        run.fail("%s: transitions %s, expected %s" % (what, fmt_trans(transitions(ev)),
                                                      fmt_trans(CLIENT_SEQ)), sel)
    check_same_sock(run, ev, what, sel)
    check_fields(run, ev, what, sel, family=conv.family, netns=netns, pid=conv.client_pid,
                 tid=conv.client_pid, comm=conv.client_comm, owner="connect", role="client",
                 laddr=conv.caddr, raddr=conv.saddr, rport=conv.port, proto="tcp")
    check_fields(run, ev[:1], what, sel, lport=0)
    check_fields(run, ev[1:], what, sel, lport=conv.cport)
    check_fields(run, ev[:2], what, sel, ino=conv.client_ino)
    check_old_ms(run, ev, what, sel)
    # nothing else about this connection from the client's side
    extra = [e for e in run.states if e.get("pid") == conv.client_pid and e.get("netns") == netns
             and tuple_of(e) in (tup["client"], tup["connect"]) and not any(e is x for x in ev)]
    if extra:
        run.fail("%s: unexpected extra events %s" % (what, fmt_trans(transitions(extra))), sel)
    return ev


def check_server(run, conv, netns, blind_birth=False, accept_blind=False):
    """The accepted socket: born LISTEN->SYN_RECV owned by the listener's
    process, owned by the accepting process after accept(). accept_blind:
    the accept() was already waiting when a fexit/kretprobe accept hook
    attached, which such hooks cannot see: the listener's owner stays."""
    sel = conv.select()
    tup = conv.tuples()["server"]
    what = "server %s:%d <- %s:%d" % (conv.saddr, conv.port, conv.caddr, conv.cport)
    first = anchor(run.states, netns, {tup}, conv.accepted_ino,
                   lambda e: e.get("netns") == netns and tuple_of(e) == tup)
    if first is None:
        run.fail("%s: no events" % what, sel)
    ev = life(run.states, first)
    want = SERVER_SEQ[1:] if blind_birth else SERVER_SEQ
    if transitions(ev) != want:
        run.fail("%s: transitions %s, expected %s" % (what, fmt_trans(transitions(ev)),
                                                      fmt_trans(want)), sel)
    check_same_sock(run, ev, what, sel)
    check_fields(run, ev, what, sel, family=conv.family, netns=netns, role="server",
                 laddr=conv.saddr, lport=conv.port, raddr=conv.caddr, rport=conv.cport)
    n_pre = len(want) - 3   # up to SYN_RECV->ESTABLISHED: before accept()
    check_fields(run, ev[n_pre:], what + " (after accept)", sel, pid=conv.acceptor_pid,
                 comm=conv.acceptor_name, owner="listener" if accept_blind else "accept")
    if not accept_blind:
        check_fields(run, ev[n_pre:], what + " (after accept)", sel, tid=conv.acceptor_pid)
    check_fields(run, ev[n_pre:n_pre + 1], what, sel, ino=conv.accepted_ino)
    check_fields(run, ev[:n_pre], what + " (before accept)", sel, pid=conv.listener_pid,
                 tid=conv.listener_pid, comm=conv.server_name, owner="listener", ino=0)
    check_old_ms(run, ev, what, sel)
    return ev


def check_listener(run, conv, netns):
    sel = conv.select()
    tup = conv.tuples()["listener"]
    what = "listener %s:%d" % (conv.saddr, conv.port)
    first = anchor(run.states, netns, {tup}, conv.listener_ino,
                   lambda e: e.get("netns") == netns and tuple_of(e) == tup)
    if first is None:
        run.fail("%s: no events" % what, sel)
    ev = life(run.states, first)
    if transitions(ev) != LISTENER_SEQ:
        run.fail("%s: transitions %s, expected %s" % (what, fmt_trans(transitions(ev)),
                                                      fmt_trans(LISTENER_SEQ)), sel)
    check_same_sock(run, ev, what, sel)
    check_fields(run, ev, what, sel, family=conv.family, netns=netns, role="listener")
    check_fields(run, ev[:1], what, sel, pid=conv.listener_pid, tid=conv.listener_pid,
                 comm=conv.server_name, owner="listen", ino=conv.listener_ino)
    # accept() from another process hands it the listener: that process
    # closes it (the one that called listen() closed its copy long before)
    if conv.acceptor_pid != conv.listener_pid:
        check_fields(run, ev[1:], what, sel, pid=conv.acceptor_pid, tid=conv.acceptor_pid,
                     comm=conv.acceptor_name, owner="accept")
    else:
        check_fields(run, ev[1:], what, sel, pid=conv.listener_pid, tid=conv.listener_pid,
                     comm=conv.server_name, owner="listen")
    check_old_ms(run, ev, what, sel)
    return ev


def check_conversation(run, conv, server_netns, client_netns, blind_birth=False):
    """Client, accepted socket and listener. All three are checked even if
    one fails, so that one failure report tells everything that is wrong."""
    run.expect_clean_exit(conv.select())
    fails = []
    for check in (lambda: check_client(run, conv, client_netns),
                  lambda: check_server(run, conv, server_netns, blind_birth),
                  lambda: check_listener(run, conv, server_netns)):
        try:
            check()
        except Fail as e:
            fails.append(e)
    if run.summary.get("lost") != 0:
        try:
            run.fail("summary reports %r lost events" % run.summary.get("lost"), conv.select())
        except Fail as e:
            fails.append(e)
    if fails:
        reason = fails[0].reason
        if len(fails) > 1:
            reason += " (and %d more problems)" % (len(fails) - 1)
        raise Fail(reason, ["also: " + f.reason for f in fails[1:]] + fails[0].details)


def refused(ctx, name="st-refused"):
    """Connects to a loopback port that is bound but not listening: the
    kernel answers with RST. Returns (port, helper report)."""
    hole = socket.socket()
    try:
        hole.bind(("127.0.0.1", 0))   # bound, never listening: nobody takes it meanwhile
        port = hole.getsockname()[1]
        cl = Helper(ctx, ["client", "--name", name, "--addr", "127.0.0.1", "--port", port])
        r = cl.expect("refused")
        cl.wait()
    finally:
        hole.close()
    # connect() returned after the RST closed the socket: nothing to wait for
    return port, r
