"""One pipeline for live tracing and replay: a recording made in the
default mode holds the source stream (transitions, SYN retransmits, UDP
flows), and its replay derives the connection attempts, their alerts and
the per-destination table exactly as live tracing did, in every mode."""
import json
import os
import socket
import subprocess
import time

from lib import Fail, Tracer, is_message, run_cmd, settle, test
from t_connects import Attempts, Jam, hole

# filled in by the live host only: a replay has no host to ask
LIVE_ONLY = {"syn_alert": ("diagnosis",)}
# an alert raised before the attempt's first SYN retransmit knows its local
# port only from that lookup (connect() picks it after entering SYN_SENT)
LIVE_ONLY_BEFORE_RETRANSMIT = {"syn_alert": ("laddr", "lport")}


def normal(r):
    """A record without the fields documented as live-only."""
    r = dict(r)
    for k in LIVE_ONLY.get(r.get("type"), ()):
        r.pop(k, None)
    if r.get("syn_retrans") == 0:
        for k in LIVE_ONLY_BEFORE_RETRANSMIT.get(r.get("type"), ()):
            r.pop(k, None)
    return json.dumps(r, sort_keys=True)


def replay(ctx, args):
    p = subprocess.run([ctx.socktrace, "-j"] + args, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=60)
    recs = [r for r in (json.loads(line) for line in p.stdout.splitlines()) if not is_message(r)]
    return p, recs


def compare(what, live, rep, rep_cmd):
    """The same records, field by field, in any order (a replay emits an
    alert where its clock passes it, live tracing where its poll does)."""
    a = sorted(normal(r) for r in live.records if r.get("type") != "summary")
    b = sorted(normal(r) for r in rep if r.get("type") != "summary")
    if a == b:
        return
    only_live = [x for x in a if x not in b]
    only_rep = [x for x in b if x not in a]
    live.fail("%s: live and replay differ (%d live, %d replayed records)" % (what, len(a), len(b)),
              extra=["replay: %s" % " ".join(rep_cmd)] +
              ["only live:   %s" % x for x in only_live[:10]] +
              ["only replay: %s" % x for x in only_rep[:10]])


# Two tracers stamp the same kernel event each with its own clock read: the
# times of another tracer's run agree to within this.
# (a tcp_conn's start_time is its time less duration_ms, both compared)
TIME_FIELDS = ("time", "boot_ns", "elapsed_ms", "old_ms", "first_time", "duration_ms",
               "start_time")
TOLERANCE_MS = 5.0


def compare_across(what, live, rep, rep_cmd):
    """The records of a replay of another tracer's recording: all fields
    equal but the times, which agree to within TOLERANCE_MS."""
    def key(r):
        return json.dumps({k: v for k, v in json.loads(normal(r)).items()
                           if k not in TIME_FIELDS}, sort_keys=True)
    groups = {}
    for side, recs in ((0, live.records), (1, rep)):
        for r in recs:
            if r.get("type") != "summary":
                groups.setdefault(key(r), ([], []))[side].append(r)
    bad = []
    for k, (a, b) in sorted(groups.items()):
        if len(a) != len(b):
            bad.append("%d live, %d replayed: %s" % (len(a), len(b), k))
            continue
        a.sort(key=lambda r: r.get("boot_ns", 0))
        b.sort(key=lambda r: r.get("boot_ns", 0))
        for x, y in zip(a, b):
            # a UDP flow's latest time is a tick's (up to 10 ms): not compared
            for f in ("boot_ns", "elapsed_ms", "old_ms") + \
                    (("duration_ms",) if x.get("type") == "tcp_conn" else ()):
                u, v = x.get(f), y.get(f)
                if (u is None) != (v is None):
                    bad.append("%s %r live, %r replayed: %s" % (f, u, v, k))
                elif u is not None and abs(u - v) / (1e6 if f == "boot_ns" else 1) > TOLERANCE_MS:
                    bad.append("%s %r live, %r replayed: %s" % (f, u, v, k))
    if bad:
        live.fail("%s: live and the replay of another tracer's recording differ" % what,
                  extra=["replay: %s" % " ".join(rep_cmd)] + bad[:12])


def udp_exchange(port, n=3):
    """A client sends n datagrams to a server on 127.0.0.1:port, which
    answers each; both close, which ends their flows."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", port))
    cli = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    cli.settimeout(5)
    srv.settimeout(5)
    cli.connect(("127.0.0.1", port))
    for i in range(n):
        cli.send(b"q" * (10 + i))
        data, peer = srv.recvfrom(100)
        srv.sendto(data + b"!", peer)
        cli.recv(100)
    cli.close()
    srv.close()


@test("pipeline_replay_equals_live", hook_independent=True)
def pipeline_replay_equals_live(ctx):
    """Three tracers run at once over the same traffic, each recording:
    socktrace -j -w (the default mode), --connects -j -w and -u -j -w. The
    traffic: a refused attempt, one that times out (TCP_SYNCNT 1), one
    abandoned in SYN_SENT, one hung until its listener accepts, and a UDP
    exchange. Each recording replayed in its tracer's mode gives exactly
    its records (SYN alerts with the same times and SYN retransmit counts,
    the same connect outcomes and table), but for the fields documented as
    live-only (an alert's diagnosis, and the local port of an alert raised
    before the first retransmit). The default mode's one recording replayed
    with --connects and -u gives the other tracers' records too (their
    times to within 5 ms: each tracer stamps the kernel's events itself),
    and so does the --connects recording replayed in the default mode: the
    display mode never limits what is recorded."""
    jam = Jam(ctx, "127.0.0.1")
    refuse_port = hole(ctx, "127.0.0.1")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    udp_port = s.getsockname()[1]
    s.close()
    ports = "%d,%d,%d" % (jam.port, refuse_port, udp_port)
    files = {m: os.path.join(ctx.tmpdir, "%s.st" % ctx.unique("pipe-" + m))
             for m in ("default", "connects", "udp")}
    modes = {"default": [], "connects": ["--connects"], "udp": ["-u"]}
    common = ["--syn-alert", "500", "-P", ports, "--no-snapshot"]
    with Tracer(ctx, common + ["-w", files["default"]]) as t_def, \
            Tracer(ctx, common + ["--connects", "-w", files["connects"]]) as t_con, \
            Tracer(ctx, common + ["-u", "-w", files["udp"]]) as t_udp:
        ref = Attempts(ctx, "127.0.0.1", refuse_port, "st-refuse")
        ref.connect("1")
        if ref.outcome("1")[0] != "ECONNREFUSED":
            raise Fail("helper: the attempt to a closed port was not refused")
        late = Attempts(ctx, "127.0.0.1", jam.port, "st-timeout", syncnt=1)
        late.connect("1")
        if late.outcome("1", seconds=15)[0] != "ETIMEDOUT":
            raise Fail("helper: the attempt with TCP_SYNCNT 1 did not time out")
        hang = Attempts(ctx, "127.0.0.1", jam.port, "st-hang")
        hang.connect("gone")
        time.sleep(0.7)
        hang.close("gone")
        hang.connect("1")
        hang.wait_retrans("1", 1)
        jam.accept()
        if hang.outcome("1")[0] is not None:
            raise Fail("helper: the hung attempt did not get through once accepted")
        udp_exchange(udp_port)
        settle([])
        time.sleep(0.5)
        runs = dict(zip(("default", "connects", "udp"), [t.stop() for t in (t_def, t_con, t_udp)]))
    for run in runs.values():
        run.expect_clean_exit()
    kinds = {m: {r.get("type") for r in runs[m].records} for m in runs}
    if not {"connect", "syn_alert", "connect_stats"} <= kinds["connects"] or \
            "udp_flow" not in kinds["udp"] or "tcp_state" not in kinds["default"]:
        runs["connects"].fail("the live tracers missed the traffic: %s" % kinds)
    for m in modes:
        cmd = ["-r", files[m]] + modes[m]
        p, rep = replay(ctx, cmd)
        if p.returncode != 0:
            raise Fail("replay %s exited %d" % (cmd, p.returncode),
                       [p.stderr.decode(errors="replace")])
        compare("mode %s, its own recording" % m, runs[m], rep, ["socktrace", "-j"] + cmd)
    for rec, m in (("default", "connects"), ("default", "udp"), ("connects", "default")):
        cmd = ["-r", files[rec]] + modes[m]
        p, rep = replay(ctx, cmd)
        compare_across("mode %s from the %s recording" % (m, rec), runs[m], rep,
                       ["socktrace", "-j"] + cmd)
    # a recording keeps the source stream: retransmits, no derived record
    info = run_cmd([ctx.socktrace, "--info", files["connects"]]).stdout.decode()
    if "syn_retrans:" not in info or "connect:" in info or "syn_alert:" in info:
        raise Fail("the --connects recording does not hold the source stream alone",
                   info.splitlines())
