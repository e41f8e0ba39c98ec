"""Recording (-w), replay (-r), filter expressions on files, --info, and
what a reader makes of files cut short or damaged."""
import os
import re
import socket
import shutil
import signal
import subprocess
import time

from lib import Fail, Run, Tracer, test
from scenarios import Conversation, free_port


def replay(ctx, args, timeout=30, user=None):
    cmd = [ctx.socktrace] + args
    if user:
        cmd = ["setpriv", "--reuid", str(user), "--regid", str(user), "--clear-groups"] + cmd
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Fail("`%s` did not exit within %ds" % (" ".join(cmd), timeout))
    return Run(cmd, p.returncode, p.stdout, p.stderr.decode("utf-8", "replace"))


def events(run):
    return [r for r in run.records if isinstance(r, dict) and r.get("type") != "summary"]


def record(ctx, args, convs):
    """Traces with -w and -j while the conversations run; returns the Run
    of the live tracer and the recording's path."""
    path = os.path.join(ctx.tmpdir, "%s.st" % ctx.unique("rec"))
    with Tracer(ctx, ["-w", path] + args) as t:
        for c in convs:
            c.run()
        run = t.stop()
    run.expect_clean_exit()
    return run, path


@test("record_replay_same_json", hook_independent=True)
def record_replay_same_json(ctx):
    """-w while printing -j, then -r -j: the replayed JSON equals the live
    JSON event for event (every field, the same wall-clock times), and
    replay needs neither root nor BPF."""
    port = free_port("127.0.0.1")
    conv = Conversation(ctx, "127.0.0.1", port=port, server_name="st-rsrv", client_name="st-rcli")
    live, path = record(ctx, ["port %d" % port], [conv])
    if len(events(live)) < 8:
        live.fail("the live run printed %d events for a whole conversation" % len(events(live)))
    # a copy nobody owns, replayed as user nobody
    pub = os.path.join("/tmp", "%s.st" % ctx.unique("pub"))
    shutil.copy(path, pub)
    os.chmod(pub, 0o644)
    ctx.on_cleanup(lambda: os.unlink(pub))
    rep = replay(ctx, ["-r", pub, "-j"], user=65534 if shutil.which("setpriv") else None)
    rep.expect_clean_exit()
    a, b = events(live), events(rep)
    if a != b:
        diff = [i for i in range(min(len(a), len(b))) if a[i] != b[i]]
        rep.fail("replayed %d events, live printed %d; first difference at %s" % (
            len(b), len(a), diff[:1] or "the end"),
            extra=["live:   %s" % (a[diff[0]] if diff else a[len(b):len(b) + 1]),
                   "replay: %s" % (b[diff[0]] if diff else b[len(a):len(a) + 1])])
    if rep.summary.get("events") != len(b):
        rep.fail("summary events=%r, expected %d" % (rep.summary.get("events"), len(b)))


@test("record_replay_filter_expression", hook_independent=True)
def record_replay_filter_expression(ctx):
    """An expression on -r selects exactly what it selects live: dst port P
    is the client side of a conversation on port P, 'port P and not dst
    port P' the server side and the listener; -r IN -w OUT keeps the
    selected subset and it replays alone."""
    port = free_port("127.0.0.1")
    conv = Conversation(ctx, "127.0.0.1", port=port, server_name="st-fsrv", client_name="st-fcli")
    live, path = record(ctx, ["--no-snapshot", "port %d" % port], [conv])
    all_ev = events(live)
    client = [e for e in all_ev if e.get("rport") == port]
    server = [e for e in all_ev if e.get("rport") != port]
    if not client or not server:
        live.fail("expected client and server events on port %d" % port)
    rep = replay(ctx, ["-r", path, "-j", "dst", "port", str(port)])
    rep.expect_clean_exit()
    if events(rep) != client:
        rep.fail("'dst port %d' replayed %d events, expected the %d client events" % (
            port, len(events(rep)), len(client)))
    rep = replay(ctx, ["-r", path, "-j", "port %d and not (dst port %d || comm st-fcli)" % (port, port)])
    rep.expect_clean_exit()
    if events(rep) != server:
        rep.fail("'port and not dst port' replayed %d events, expected the %d server-side events" % (
            len(events(rep)), len(server)))
    if rep.summary.get("filtered") != len(client):
        rep.fail("summary filtered=%r, expected %d" % (rep.summary.get("filtered"), len(client)))
    sub = path + ".sub"
    rep = replay(ctx, ["-r", path, "-w", sub, "-q", "dst port %d" % port])
    if rep.rc != 0:
        rep.fail("-r IN -w OUT exited with %d" % rep.rc)
    rep = replay(ctx, ["-r", sub, "-j"])
    rep.expect_clean_exit()
    if events(rep) != client:
        rep.fail("the filtered copy replays %d events, expected %d" % (len(events(rep)), len(client)))


@test("record_sigkill_recovers", hook_independent=True)
def record_sigkill_recovers(ctx):
    """A recorder killed with SIGKILL: replay gives every event written
    before the last (unfinished) block, warns that the file is truncated
    and exits 0; --info says truncated."""
    port = free_port("127.0.0.1")
    first = Conversation(ctx, "127.0.0.1", port=port, server_name="st-ksrv", client_name="st-kcli1")
    path = os.path.join(ctx.tmpdir, "%s.st" % ctx.unique("kill"))
    with Tracer(ctx, ["-w", path, "--no-snapshot", "port %d" % port]) as t:
        first.run()
        time.sleep(2.5)   # blocks are flushed at least once a second
        before = [e for e in t.records_now() if e.get("type") == "tcp_state"]
        second = Conversation(ctx, "127.0.0.1", port=port, server_name="st-ksrv",
                              client_name="st-kcli2")
        second.run()
        t.proc.send_signal(signal.SIGKILL)
        t.proc.wait(10)
    if len(before) < 8:
        raise Fail("the live run printed only %d events of the first conversation" % len(before))
    rep = replay(ctx, ["-r", path, "-j"])
    if rep.rc != 0:
        rep.fail("replay of a killed recording exited with %d, expected 0" % rep.rc)
    got = events(rep)
    # the transitions in order; the tcp_conn records of ended connections
    # come among them
    states = [e for e in got if e.get("type") == "tcp_state"]
    if states[:len(before)] != before:
        rep.fail("the replay does not start with the %d transitions printed before the kill "
                 "(it has %d)" % (len(before), len(states)))
    if "truncated after %d events" % len(got) not in rep.err:
        rep.fail("no 'truncated after %d events' warning" % len(got))
    info = replay(ctx, ["--info", path])
    if info.rc != 0 or "truncated" not in info.out.decode("utf-8", "replace"):
        raise Fail("--info on a killed recording: exit %d, no 'truncated'" % info.rc,
                   [info.out.decode("utf-8", "replace"), info.err])


@test("record_info", hook_independent=True)
def record_info(ctx):
    """--info names the host, kernel, version, the filter, the counts by
    type and a clean close."""
    port = free_port("127.0.0.1")
    conv = Conversation(ctx, "127.0.0.1", port=port, server_name="st-isrv", client_name="st-icli")
    live, path = record(ctx, ["--no-snapshot", "port %d" % port], [conv])
    info = replay(ctx, ["--info", path])
    text = info.out.decode("utf-8", "replace")
    det = ["command: %s" % info.cmdline(), text, info.err]
    if info.rc != 0:
        raise Fail("--info exited with %d" % info.rc, det)
    # DNS answers of the whole host pass no filter: a lookup elsewhere
    # during the run is recorded and counted with the events
    answers = re.search(r"^  dns_answer: +(\d+)$", text, re.M)
    want = ["Host:              %s" % os.uname().nodename,
            "Kernel:            %s" % os.uname().release,
            "Filter:            port %d" % port,
            "Events:            %d" % (len(events(live)) + (int(answers.group(1)) if answers else 0)),
            "tcp_state:       %d" % len([e for e in events(live) if e.get("type") == "tcp_state"]),
            "Lost events:       0",
            "End:               clean close"]
    for w in want:
        if w not in text:
            raise Fail("--info lacks %r" % w, det)


@test("record_bad_files", hook_independent=True)
def record_bad_files(ctx):
    """Not a recording: exit 1 with a clear message. A copy cut in its last
    block: exit 0, 'truncated after N events'. A flipped byte in a middle
    block: that block is skipped with a warning, the others replay."""
    junk = os.path.join(ctx.tmpdir, "junk.st")
    with open(junk, "wb") as f:
        f.write(b"hello, this is not a recording\n" * 10)
    rep = replay(ctx, ["-r", junk, "-j"])
    if rep.rc != 1 or "not a socktrace recording" not in rep.err:
        rep.fail("a text file: exit %d, expected 1 with 'not a socktrace recording'" % rep.rc)
    info = replay(ctx, ["--info", junk])
    if info.rc != 1:
        raise Fail("--info on a text file exited with %d, expected 1" % info.rc, [info.err])

    # a recording of several blocks: -C rotation is not wanted, so make
    # blocks by time (one a second) with two conversations 1.5 s apart
    port = free_port("127.0.0.1")
    path = os.path.join(ctx.tmpdir, "%s.st" % ctx.unique("bad"))
    with Tracer(ctx, ["-w", path, "--no-snapshot", "port %d" % port]) as t:
        for i in range(3):
            Conversation(ctx, "127.0.0.1", port=port, server_name="st-bsrv",
                         client_name="st-bcli%d" % i).run()
            time.sleep(1.5)
        run = t.stop()
    run.expect_clean_exit()
    full = events(run)
    data = open(path, "rb").read()
    cut = path + ".cut"
    with open(cut, "wb") as f:
        f.write(data[:-40])   # into the end block
    rep = replay(ctx, ["-r", cut, "-j"])
    if rep.rc != 0 or events(rep) != full or "truncated after %d events" % len(full) not in rep.err:
        rep.fail("a copy without its last 40 bytes: exit %d, %d of %d events" % (
            rep.rc, len(events(rep)), len(full)))
    # flip a byte inside the second events block
    sync = b"STBK"
    starts = []
    i = data.find(sync)
    while i >= 0:
        if data[i + 4] == 2:
            starts.append(i)
        i = data.find(sync, i + 1)
    if len(starts) < 3:
        raise Fail("expected 3 events blocks in the recording, found %d" % len(starts))
    bad = bytearray(data)
    bad[starts[1] + 40] ^= 0xff
    flipped = path + ".flip"
    with open(flipped, "wb") as f:
        f.write(bad)
    rep = replay(ctx, ["-r", flipped, "-j"])
    if rep.rc != 0 or "skipped 1 corrupt block" not in rep.err:
        rep.fail("a flipped byte: exit %d, expected 0 with 'skipped 1 corrupt block'" % rep.rc)
    got = events(rep)
    if not (0 < len(got) < len(full)) or any(e not in full for e in got):
        rep.fail("a flipped byte: %d of %d events, expected the other blocks' events" % (
            len(got), len(full)))


@test("record_rotation_size", hook_independent=True)
def record_rotation_size(ctx):
    """-C with -W: a ring of files FILE0..FILE<W-1>, each a complete
    recording with its own header and end block; together they hold the
    last events."""
    path = os.path.join(ctx.tmpdir, "%s.st" % ctx.unique("ring"))
    # 0.004 MB is the smallest size. Files rotate at block boundaries and
    # blocks are written at least once a second: bursts of our own loopback
    # connections, a second apart, fill more than three files whatever the
    # host's own traffic.
    with Tracer(ctx, ["-w", path, "-q", "-C", "0.004", "-W", "3"], json_out=False) as t:
        for _ in range(5):
            loopback_burst(300)
            time.sleep(1.1)
        run = t.stop()
    if run.rc != 0:
        run.fail("exit %d" % run.rc)
    names = sorted(n for n in os.listdir(ctx.tmpdir) if n.startswith(os.path.basename(path)))
    want = [os.path.basename(path) + str(i) for i in range(3)]
    if names != want:
        raise Fail("files %s, expected %s" % (names, want), [run.err])
    for n in names:
        info = replay(ctx, ["--info", os.path.join(ctx.tmpdir, n)])
        if info.rc != 0 or "clean close" not in info.out.decode("utf-8", "replace"):
            raise Fail("%s does not read alone as a clean recording" % n,
                       [info.out.decode("utf-8", "replace"), info.err])


def loopback_burst(n):
    """n connect/accept/close cycles on 127.0.0.1 (bounded, loopback only)."""
    lsn = socket.socket()
    try:
        lsn.bind(("127.0.0.1", 0))
        lsn.listen(64)
        for _ in range(n):
            c = socket.create_connection(lsn.getsockname(), timeout=5)
            a, _ = lsn.accept()
            a.close()
            c.close()
    finally:
        lsn.close()


@test("filter_expression_syntax_error", hook_independent=True)
def filter_expression_syntax_error(ctx):
    """A bad expression is a usage error (exit 2) naming the column and what
    was expected, before anything is loaded."""
    rep = replay(ctx, ["-j", "port", "80", "and", "(host", "10.0.0.1", "or"])
    if rep.rc != 2 or "column 30: expected a primitive" not in rep.err:
        rep.fail("exit %d, expected 2 with 'column 30: expected a primitive'" % rep.rc)
