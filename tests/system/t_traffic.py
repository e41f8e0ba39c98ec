"""Connections on loopback and between namespaces: tuples, owners, timing."""
from lib import (Fail, NetPair, Tracer, check_fields, check_old_ms, fmt_trans, test,
                 transitions, where)
from scenarios import (REFUSED_SEQ, Conversation, check_client, check_conversation,
                       check_server, free_port, life, refused)


def loopback(ctx, addr):
    with Tracer(ctx, ["--no-snapshot"]) as t:
        conv = Conversation(ctx, addr).run()
        run = t.stop()
    check_conversation(run, conv, ctx.netns_self, ctx.netns_self, ctx.blind_birth)


@test("loopback_ipv4")
def loopback_ipv4(ctx):
    """st-server listens on 127.0.0.1, st-client connects, one byte each
    way, the client closes first: the client's, the accepted socket's and
    the listener's full transition sequences with tuples, pids, comms,
    owners, roles, inodes, netns and old_ms."""
    loopback(ctx, "127.0.0.1")


@test("loopback_ipv6")
def loopback_ipv6(ctx):
    """The same conversation on ::1 (family 6)."""
    loopback(ctx, "::1")


@test("accept_in_other_process")
def accept_in_other_process(ctx):
    """st-listen creates the listener and forks st-accept, which inherits
    it and accepts with the accept(2) syscall (not accept4); the client is
    a third process. Before accept the connection is st-listen's (owner
    listener), after it st-accept's (owner accept)."""
    with Tracer(ctx, ["--no-snapshot"]) as t:
        conv = Conversation(ctx, "127.0.0.1", server_name="st-listen", fork_accept="st-accept",
                            accept_syscall="accept").run()
        run = t.stop()
    if conv.acceptor_pid == conv.listener_pid:
        raise Fail("helper: the acceptor is the listener's process")
    check_conversation(run, conv, ctx.netns_self, ctx.netns_self, ctx.blind_birth)


def between_namespaces(ctx, v6):
    pair = NetPair(ctx)
    saddr, caddr = (pair.A6, pair.B6) if v6 else (pair.A4, pair.B4)
    with Tracer(ctx, ["--no-snapshot"]) as t:
        conv = Conversation(ctx, saddr, caddr=caddr, server_ns=pair.a.name,
                            client_ns=pair.b.name).run()
        run = t.stop()
    if conv.client_laddr != caddr:
        raise Fail("helper: the client's source address is %s, expected %s"
                   % (conv.client_laddr, caddr))
    check_conversation(run, conv, pair.a.inode, pair.b.inode, ctx.blind_birth)
    if pair.a.inode == pair.b.inode or ctx.netns_self in (pair.a.inode, pair.b.inode):
        raise Fail("namespace inodes are not distinct: %s %s %s"
                   % (ctx.netns_self, pair.a.inode, pair.b.inode))


@test("netns_veth_ipv4")
def netns_veth_ipv4(ctx):
    """Server in namespace A (192.0.2.1), client in namespace B
    (192.0.2.2), joined by a veth pair: tuples, pids, and each side's
    netns field equal to its namespace's inode."""
    between_namespaces(ctx, v6=False)


@test("netns_veth_ipv6")
def netns_veth_ipv6(ctx):
    """The same between 2001:db8::1 and 2001:db8::2."""
    between_namespaces(ctx, v6=True)


def refused_events(ctx):
    with Tracer(ctx, ["--no-snapshot"]) as t:
        port, r = refused(ctx)
        run = t.stop()
    pid = r["pid"]
    sel = lambda e: e.get("pid") == pid or e.get("rport") == port
    run.expect_clean_exit(sel)
    syn = where(run.states, old="CLOSE", new="SYN_SENT", pid=pid, rport=port)
    if len(syn) != 1:
        run.fail("expected one CLOSE->SYN_SENT of pid %d to port %d, got %d" % (pid, port, len(syn)), sel)
    ev = life(run.states, syn[0])
    return run, ev, pid, port, r, sel


@test("refused_connect")
def refused_connect(ctx):
    """connect() to a loopback port with no listener: CLOSE->SYN_SENT then
    SYN_SENT->CLOSE, both with the client's pid, comm, owner connect."""
    run, ev, pid, port, r, sel = refused_events(ctx)
    what = "refused client"
    if transitions(ev) != REFUSED_SEQ:
        run.fail("%s: transitions %s, expected %s" % (what, fmt_trans(transitions(ev)),
                                                      fmt_trans(REFUSED_SEQ)), sel)
    check_fields(run, ev, what, sel, family=4, netns=ctx.netns_self, pid=pid, tid=pid,
                 comm="st-refused", owner="connect", role="client", laddr="127.0.0.1",
                 raddr="127.0.0.1", rport=port)
    check_fields(run, ev[:1], what, sel, lport=0, ino=r["ino"])
    check_old_ms(run, ev, what, sel)


@test("refused_connect_close_port")
def refused_connect_close_port(ctx):
    """The SYN_SENT->CLOSE of a refused connect carries the local port the
    SYN was sent from (getsockname() after the failure), as every CLOSE
    event carries the port the connection had."""
    run, ev, pid, port, r, sel = refused_events(ctx)
    close = [e for e in ev if e.get("new") == "CLOSE"]
    if not close:
        run.fail("no SYN_SENT->CLOSE for the refused connect", sel)
    if not r["refused"]:
        raise Fail("helper: getsockname() gave port 0 after the refused connect")
    check_fields(run, close, "refused client", sel, lport=r["refused"])


@test("old_ms_delay")
def old_ms_delay(ctx):
    """The client stays ESTABLISHED ~300 ms before closing: its
    ESTABLISHED->FIN_WAIT1 has 300 <= old_ms < 5000, the server side's
    ESTABLISHED->CLOSE_WAIT too, and the loopback handshake
    (SYN_SENT->ESTABLISHED) takes under 1000 ms."""
    with Tracer(ctx, ["--no-snapshot"]) as t:
        conv = Conversation(ctx, "127.0.0.1", hold_ms=300).run()
        run = t.stop()
    run.expect_clean_exit(conv.select())
    cev = check_client(run, conv, ctx.netns_self)
    sev = check_server(run, conv, ctx.netns_self, ctx.blind_birth)
    sel = conv.select()
    for what, ev, old, new, lo, hi in (
            ("client", cev, "ESTABLISHED", "FIN_WAIT1", 300, 5000),
            ("server", sev, "ESTABLISHED", "CLOSE_WAIT", 300, 5000),
            ("client", cev, "SYN_SENT", "ESTABLISHED", 0, 1000)):
        e = where(ev, old=old, new=new)[0]
        ms = e.get("old_ms")
        if not isinstance(ms, (int, float)) or not lo <= ms < hi:
            run.fail("%s %s->%s: old_ms %r, expected %d <= old_ms < %d" % (what, old, new, ms, lo, hi), sel)


@test("listener_owner_same_port")
def listener_owner_same_port(ctx):
    """st-lis4 listens on 127.0.0.1:P and st-lis6 on [::1]:P (same port
    number, two sockets, two processes). Each accepted connection belongs,
    before accept, to the process of the listener that created it."""
    port = free_port("127.0.0.1", "::1")
    with Tracer(ctx, ["--no-snapshot"]) as t:
        c4 = Conversation(ctx, "127.0.0.1", server_name="st-lis4", client_name="st-cli4", port=port)
        c6 = Conversation(ctx, "::1", server_name="st-lis6", client_name="st-cli6", port=port)
        c4.start_server()
        c6.start_server()
        c4.run_client()
        c6.run_client()
        run = t.stop()
    run.expect_clean_exit(lambda r: r.get("lport") == port or r.get("rport") == port)
    for conv in (c4, c6):
        check_server(run, conv, ctx.netns_self, ctx.blind_birth)
