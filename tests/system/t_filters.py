"""Filters (-p, --comm, -P, -4, -6, --state) and stopping conditions (-c)."""
import time

from lib import Tracer, fmt_trans, test, transitions, where
from scenarios import Conversation, check_client, check_conversation, free_port, refused
from t_snapshot import check_held, hold


def filtered_count(run, sel):
    f = run.summary.get("filtered")
    if not isinstance(f, int) or f <= 0:
        run.fail("summary filtered=%r, expected > 0: the test's excluded traffic was "
                 "not counted" % (f,), sel)


def only(run, pred, what, sel):
    bad = [r for r in run.states + run.sockets if not pred(r)]
    if bad:
        run.fail("%d records pass the filter although %s" % (len(bad), what),
                 lambda e: e in bad or sel(e))


def none_of(run, conv, what):
    """No event of conversation `conv` (matched by exact tuple, or by the
    pid of one of its processes) passed the filter."""
    leaked = [r for r in run.states if conv.select()(r)]
    if leaked:
        run.fail("%d events of the excluded %s passed the filter" % (len(leaked), what),
                 lambda e: e in leaked)


def either(*convs):
    sels = [c.select() for c in convs]
    return lambda e: any(s(e) for s in sels)


@test("filter_pid")
def filter_pid(ctx):
    """-p PID: only the events of that client (its full sequence); the
    server's and another client's are excluded and counted as filtered."""
    a = Conversation(ctx, "127.0.0.1", server_name="st-psrv-a", client_name="st-pcli-a")
    b = Conversation(ctx, "127.0.0.1", server_name="st-psrv-b", client_name="st-pcli-b")
    a.start_server().spawn_client(wait_start=True)
    b.start_server().spawn_client(wait_start=True)
    with Tracer(ctx, ["--no-snapshot", "-p", str(a.client_pid)]) as t:
        a.run_client()
        b.run_client()
        run = t.stop()
    sel = either(a, b)
    run.expect_clean_exit(sel)
    only(run, lambda r: r.get("pid") == a.client_pid, "their pid is not %d" % a.client_pid, sel)
    check_client(run, a, ctx.netns_self)
    none_of(run, b, "client st-pcli-b")
    filtered_count(run, sel)


@test("filter_comm")
def filter_comm(ctx):
    """--comm NAME: only the events of processes named NAME (exact match: a
    process named NAME plus a suffix is excluded)."""
    a = Conversation(ctx, "127.0.0.1", server_name="st-csrv", client_name="st-fc-a")
    b = Conversation(ctx, "127.0.0.1", server_name="st-csrv", client_name="st-fc-ab")
    with Tracer(ctx, ["--no-snapshot", "--comm", "st-fc-a"]) as t:
        a.run()
        b.run()
        run = t.stop()
    sel = either(a, b)
    run.expect_clean_exit(sel)
    only(run, lambda r: r.get("comm") == "st-fc-a", "their comm is not st-fc-a", sel)
    check_client(run, a, ctx.netns_self)
    none_of(run, b, "client st-fc-ab")
    filtered_count(run, sel)


@test("filter_port")
def filter_port(ctx):
    """-P PORT: the whole conversation on PORT (client, accepted socket,
    listener) and nothing of a conversation on another port."""
    p1 = free_port("127.0.0.1")
    p2 = free_port("127.0.0.1")
    while p2 == p1:
        p2 = free_port("127.0.0.1")
    a = Conversation(ctx, "127.0.0.1", port=p1)
    b = Conversation(ctx, "127.0.0.1", port=p2)
    with Tracer(ctx, ["--no-snapshot", "-P", str(p1)]) as t:
        a.run()
        b.run()
        run = t.stop()
    sel = either(a, b)
    only(run, lambda r: p1 in (r.get("lport"), r.get("rport")), "neither port is %d" % p1, sel)
    check_conversation(run, a, ctx.netns_self, ctx.netns_self, ctx.blind_birth)
    none_of(run, b, "conversation on port %d" % p2)
    filtered_count(run, sel)


def family_filter(ctx, flag, fam):
    c4 = Conversation(ctx, "127.0.0.1", client_name="st-fam4")
    c6 = Conversation(ctx, "::1", client_name="st-fam6")
    with Tracer(ctx, ["--no-snapshot", flag]) as t:
        c4.run()
        c6.run()
        run = t.stop()
    sel = either(c4, c6)
    keep, drop = (c4, c6) if fam == 4 else (c6, c4)
    only(run, lambda r: r.get("family") == fam, "their family is not %d" % fam, sel)
    check_conversation(run, keep, ctx.netns_self, ctx.netns_self, ctx.blind_birth)
    none_of(run, drop, "IPv%d conversation" % (10 - fam))
    filtered_count(run, sel)


@test("filter_ipv4")
def filter_ipv4(ctx):
    """-4 with IPv4 and IPv6 traffic: the IPv4 conversation in full, no
    family-6 event."""
    family_filter(ctx, "-4", 4)


@test("filter_ipv6")
def filter_ipv6(ctx):
    """-6 with IPv4 and IPv6 traffic: the IPv6 conversation in full, no
    family-4 event."""
    family_filter(ctx, "-6", 6)


@test("filter_state")
def filter_state(ctx):
    """--state SYN_SENT: a completed connect gives exactly CLOSE->SYN_SENT
    and SYN_SENT->ESTABLISHED (old_ms of the handshake still known), a
    refused one CLOSE->SYN_SENT and SYN_SENT->CLOSE; nothing else."""
    conv = Conversation(ctx, "127.0.0.1")
    with Tracer(ctx, ["--no-snapshot", "--state", "SYN_SENT"]) as t:
        conv.run()
        rport, r = refused(ctx)
        run = t.stop()
    sel = lambda e: conv.select()(e) or e.get("rport") == rport
    run.expect_clean_exit(sel)
    only(run, lambda e: "SYN_SENT" in (e.get("old"), e.get("new")),
         "neither their old nor their new state is SYN_SENT", sel)
    for what, pid, port, want in (
            ("client", conv.client_pid, conv.port, [("CLOSE", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED")]),
            ("refused client", r["pid"], rport, [("CLOSE", "SYN_SENT"), ("SYN_SENT", "CLOSE")])):
        ev = where(run.states, pid=pid, rport=port)
        if transitions(ev) != want:
            run.fail("%s: transitions %s, expected %s" % (what, fmt_trans(transitions(ev)),
                                                          fmt_trans(want)), sel)
        if not isinstance(ev[1].get("old_ms"), (int, float)):
            run.fail("%s: %s->%s has old_ms %r although socktrace saw the socket enter %s"
                     % (what, ev[1]["old"], ev[1]["new"], ev[1].get("old_ms"), ev[1]["old"]), sel)
    filtered_count(run, sel)


@test("filter_state_snapshot")
def filter_state_snapshot(ctx):
    """--state LISTEN with the snapshot on: a pre-existing listener is
    listed, the pre-existing established sockets are not (snapshot entries
    match on their current state)."""
    h, r = hold(ctx, "st-snapst", "127.0.0.1")
    with Tracer(ctx, ["--state", "LISTEN"]) as t:
        run = t.stop()
    run.expect_clean_exit()
    only(run, lambda e: e.get("state") == "LISTEN" or "LISTEN" in (e.get("old"), e.get("new")),
         "they are not in state LISTEN", lambda e: False)
    check_held(run, r, "st-snapst", "127.0.0.1", ctx.netns_self, states=("LISTEN",))
    filtered_count(run, lambda e: e.get("pid") == r["pid"])


@test("count_limit")
def count_limit(ctx):
    """-c 3: socktrace exits by itself (status 0) once 3 tcp_state events
    are printed, with a summary of 3 events; traffic makes more than 3."""
    port = free_port("127.0.0.1")
    t = Tracer(ctx, ["--no-snapshot", "-c", "3", "-P", str(port)])
    t.start()
    try:
        conv = Conversation(ctx, "127.0.0.1", port=port).run()
        run = t.wait_exit(5)
        if run is None:
            run = t.stop()
            run.fail("still running 5 s after the traffic made 12 matching transitions "
                     "(-c 3 should have stopped it after the 3rd)", conv.select())
    finally:
        t.kill()
    run.expect_clean_exit(conv.select())
    if len(run.states) != 3 or run.summary.get("events") != 3:
        run.fail("-c 3 printed %d tcp_state events, summary events=%r; expected 3"
                 % (len(run.states), run.summary.get("events")), conv.select())


@test("live_output")
def live_output(ctx):
    """Events reach stdout while socktrace runs (not only when it exits):
    the client's SYN_SENT->ESTABLISHED is printed within 2 s."""
    port = free_port("127.0.0.1")
    with Tracer(ctx, ["--no-snapshot", "-P", str(port)]) as t:
        conv = Conversation(ctx, "127.0.0.1", port=port).run()
        deadline = time.monotonic() + 2.0
        seen = False
        while time.monotonic() < deadline and not seen:
            seen = bool(where(t.records_now(), pid=conv.client_pid, old="SYN_SENT", new="ESTABLISHED"))
            time.sleep(0.05)
        printed = len(t.records_now())
        run = t.stop()
    if not seen:
        run.fail("nothing of the connection was on stdout 2 s after it closed (%d lines while "
                 "running, %d after SIGINT)" % (printed, len(run.records)), conv.select())
