"""The startup snapshot: sockets that exist before socktrace starts."""
from lib import Helper, NetNS, Tracer, check_fields, test, where
from scenarios import Conversation, check_server, wildcard


def hold(ctx, name, addr, netns=None):
    """A process holding a listener and one established connection (both
    ends) on addr; returns (helper, its report)."""
    h = Helper(ctx, ["hold", "--name", name, "--addr", addr], netns=netns)
    return h, h.expect("ready")


def check_held(run, r, name, addr, netns, states=("LISTEN", "ESTABLISHED")):
    """The three sockets of a `hold` helper appear once each as tcp_socket."""
    fam = 6 if ":" in addr else 4
    port, cport, pid = r["ready"], r["cport"], r["pid"]
    sel = lambda e: e.get("lport") in (port, cport) or e.get("rport") in (port, cport)
    expect = [
        ("listener", dict(laddr=addr, lport=port, raddr=wildcard(fam), rport=0),
         dict(state="LISTEN", role="listener", ino=r["lino"])),
        ("client", dict(laddr=addr, lport=cport, raddr=addr, rport=port),
         dict(state="ESTABLISHED", role="client", ino=r["cino"])),
        ("server", dict(laddr=addr, lport=port, raddr=addr, rport=cport),
         dict(state="ESTABLISHED", role="server", ino=r["sino"])),
    ]
    for what, tup, want in expect:
        found = where(run.sockets, **tup)
        what = "snapshot %s %s:%d" % (what, addr, tup["lport"])
        if want["state"] not in states:
            if found:
                run.fail("%s: listed, but the filter excludes state %s" % (what, want["state"]), sel)
            continue
        if len(found) != 1:
            run.fail("%s: expected one tcp_socket entry, got %d" % (what, len(found)), sel)
        check_fields(run, found, what, sel, family=fam, netns=netns, pid=pid, tid=pid, comm=name,
                     owner="proc", proto="tcp", sock=None, **want)
        for key in ("old", "new", "old_ms"):
            if key in found[0]:
                run.fail("%s: tcp_socket has a %r field" % (what, key), sel)


def check_order(run):
    """Every tcp_socket line comes before the first tcp_state line."""
    first_state = next((i for i, r in enumerate(run.records) if r.get("type") == "tcp_state"), None)
    if first_state is None:
        return
    late = [r for r in run.records[first_state:] if r.get("type") == "tcp_socket"]
    if late:
        run.fail("%d tcp_socket entries come after the first tcp_state event" % len(late),
                 lambda e: e in late or e is run.records[first_state])


@test("snapshot")
def snapshot(ctx):
    """A listener and an established connection (both ends) created before
    socktrace starts, on 127.0.0.1 and on ::1, are listed as tcp_socket
    entries with state, tuple, inode, pid, comm, owner proc and role,
    before any tcp_state event; the summary counts them."""
    h4, r4 = hold(ctx, "st-snap4", "127.0.0.1")
    h6, r6 = hold(ctx, "st-snap6", "::1")
    with Tracer(ctx, []) as t:
        run = t.stop()
    run.expect_clean_exit()
    check_held(run, r4, "st-snap4", "127.0.0.1", ctx.netns_self)
    check_held(run, r6, "st-snap6", "::1", ctx.netns_self)
    check_order(run)
    # the host's own UDP sockets are part of the snapshot too, and the
    # counters of its connections (tcp_conn updates) right after the list
    startup = []
    for r in run.records:
        if r.get("type") not in ("tcp_socket", "udp_socket", "tcp_conn") or \
                (r.get("type") == "tcp_conn" and r.get("event") != "update"):
            break
        startup.append(r)
    conns = [r for r in startup if r.get("type") == "tcp_conn"]
    if run.summary.get("snapshot") != len(run.sockets) + len(run.udp_sockets) + len(conns):
        run.fail("summary snapshot=%r, but %d tcp_socket, %d udp_socket and %d tcp_conn lines "
                 "were printed" % (run.summary.get("snapshot"), len(run.sockets),
                                   len(run.udp_sockets), len(conns)),
                 lambda e: e.get("pid") in (r4["pid"], r6["pid"]))


@test("snapshot_disabled")
def snapshot_disabled(ctx):
    """--no-snapshot: no tcp_socket entries at all, summary snapshot 0."""
    h, r = hold(ctx, "st-nosnap", "127.0.0.1")
    with Tracer(ctx, ["--no-snapshot"]) as t:
        run = t.stop()
    run.expect_clean_exit()
    if run.sockets or run.summary.get("snapshot") != 0:
        run.fail("--no-snapshot printed %d tcp_socket entries (summary snapshot=%r)"
                 % (len(run.sockets), run.summary.get("snapshot")),
                 lambda e: e.get("type") == "tcp_socket")


@test("snapshot_netns")
def snapshot_netns(ctx):
    """Sockets of a process in a test network namespace are listed with
    that namespace's inode as netns (not the tracer's own)."""
    ns = NetNS(ctx, "s")
    h, r = hold(ctx, "st-snapns", "127.0.0.1", netns=ns.name)
    with Tracer(ctx, []) as t:
        run = t.stop()
    run.expect_clean_exit()
    check_held(run, r, "st-snapns", "127.0.0.1", ns.inode)


@test("snapshot_listener_owner")
def snapshot_listener_owner(ctx):
    """A listener that predates socktrace: a connection it receives while
    tracing belongs to the listener's process until accept() (owner
    listener), and the listener's own LISTEN->CLOSE names the listener:
    its port, its pid, role listener."""
    conv = Conversation(ctx, "127.0.0.1", server_name="st-presrv")
    conv.start_server()
    with Tracer(ctx, []) as t:
        conv.run_client()
        run = t.stop()
    run.expect_clean_exit(conv.select())
    sel = conv.select()
    found = where(run.sockets, laddr="127.0.0.1", lport=conv.port, state="LISTEN")
    if len(found) != 1:
        run.fail("the listener is not in the snapshot", sel)
    # forced fentry/kprobe accept hooks (fexit, kretprobe) cannot see the
    # accept() the server was already blocked in when socktrace attached
    check_server(run, conv, ctx.netns_self, ctx.blind_birth,
                 accept_blind=ctx.hook in ("fentry", "kprobe"))
    close = [e for e in run.states if e.get("sock") is not None and e.get("old") == "LISTEN"
             and e.get("new") == "CLOSE" and e.get("pid") == conv.listener_pid]
    if len(close) != 1:
        run.fail("expected one LISTEN->CLOSE with the listener's pid %d, got %d"
                 % (conv.listener_pid, len(close)), sel)
    check_fields(run, close, "pre-existing listener", sel, laddr="127.0.0.1", lport=conv.port,
                 raddr="0.0.0.0", rport=0, role="listener", comm="st-presrv",
                 netns=ctx.netns_self, family=4)
    if close[0].get("owner") not in ("proc", "listen"):
        run.fail("pre-existing listener: LISTEN->CLOSE has owner %r, expected proc"
                 % close[0].get("owner"), sel)
