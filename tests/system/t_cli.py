"""Command line, probes, hook choice, JSON output, signals."""
import calendar
import ipaddress
import json
import os
import re
import signal
import subprocess
import time

from lib import Fail, Helper, NetNS, Skip, Tracer, attempt_schema_errors, test, where
from scenarios import Conversation, check_client, check_conversation, refused
from t_record import replay
from t_snapshot import hold

SUMMARY_RE = re.compile(r"^socktrace: (\d+) events \((\d+) existing sockets\), (\d+) lost, (\d+) filtered$")
TIME_RE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{9})Z$")
STATES = {"ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE",
          "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV", "BOUND_INACTIVE"}
OWNERS = {"connect", "listen", "listener", "accept", "proc", "traffic", "io", "unknown"}
UDP_STATES = {"bound", "connected"}
ROLES = {"client", "server", "listener", None}


def run_plain(ctx, args, timeout=15, hook=False):
    cmd = [ctx.socktrace] + args + (ctx.hook_args() if hook else [])
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Fail("`%s` did not exit within %ds" % (" ".join(cmd), timeout))
    return cmd, p


def probes_json(ctx, hook=True):
    cmd, p = run_plain(ctx, ["--probes", "-j"], hook=hook)
    details = ["command: %s" % " ".join(cmd), "exit status: %d" % p.returncode,
               "stdout: %s" % p.stdout.decode("utf-8", "replace")[:2000],
               "stderr: %s" % p.stderr.decode("utf-8", "replace")[:1000]]
    if p.returncode != 0:
        raise Fail("--probes -j exited with status %d" % p.returncode, details)
    try:
        doc = json.loads(p.stdout.decode("utf-8", "strict"))
    except (UnicodeDecodeError, ValueError) as e:
        raise Fail("--probes -j output is not one JSON object: %s" % e, details)
    if not isinstance(doc, dict) or not isinstance(doc.get("concerns"), list):
        raise Fail("--probes -j: no concerns list", details)
    return doc, details


def concern(doc, name):
    for c in doc["concerns"]:
        if isinstance(c, dict) and c.get("name") == name:
            return c
    return None


@test("probes_text")
def probes_text(ctx):
    """--probes exits 0 and names the tp_btf and tracepoint variants of
    inet_sock_set_state (and the kprobe/fentry ones on tcp_set_state)."""
    cmd, p = run_plain(ctx, ["--probes"], hook=True)
    text = p.stdout.decode("utf-8", "replace")
    details = ["command: %s" % " ".join(cmd), "exit status: %d" % p.returncode] + \
        ["stdout: " + l for l in text.splitlines()] + \
        ["stderr: " + l for l in p.stderr.decode("utf-8", "replace").splitlines()]
    if p.returncode != 0:
        raise Fail("--probes exited with status %d" % p.returncode, details)
    for name in ("tp_btf/inet_sock_set_state", "tracepoint/sock/inet_sock_set_state",
                 "fentry/tcp_set_state", "kprobe/tcp_set_state"):
        if name not in text:
            raise Fail("--probes does not name %s" % name, details)
    if "selected" not in text and not ctx.hook_unavailable:
        raise Fail("--probes marks no variant as selected", details)


@test("probes_json")
def probes_json_test(ctx):
    """--probes -j is one JSON object; the tcp_state concern has a selected
    variant, which is among its variants with status "selected" (and, when
    a hook kind is forced, of that kind)."""
    doc, details = probes_json(ctx)
    c = concern(doc, "tcp_state")
    if c is None:
        raise Fail("--probes -j has no tcp_state concern", details)
    sel = c.get("selected")
    if not isinstance(sel, str) or not sel:
        raise Fail("tcp_state has no selected variant (selected=%r)" % (sel,), details)
    match = [v for v in c.get("variants", []) if v.get("variant") == sel]
    if len(match) != 1 or match[0].get("status") != "selected":
        raise Fail("the selected variant %r is not listed with status selected" % sel, details)
    if ctx.hook and ctx.hook != "auto" and match[0].get("kind") != ctx.hook:
        raise Fail("--hook %s: the selected variant %r is of kind %r" % (ctx.hook, sel, match[0].get("kind")),
                   details)
    names = {v.get("variant") for v in c.get("variants", [])}
    for want in ("tp_btf/inet_sock_set_state", "tracepoint/sock/inet_sock_set_state"):
        if want not in names:
            raise Fail("tcp_state variants lack %s" % want, details)


RELO_RE = re.compile(r"prog '([^']+)': relo #(\d+): ((?:patched|substituting) insn .*)$", re.M)
REDUCED_RE = re.compile(r"CO-RE relocates against (\d+) of the kernel's (\d+) BTF types")


@test("core_btf_reduced")
def core_btf_reduced(ctx):
    """libbpf's CO-RE relocations come out the same against the reduced
    kernel BTF socktrace gives it (the default) as against the whole one
    (--btf /sys/kernel/btf/vmlinux): every instruction each program's
    relocations patch or poison, under the hooks this kernel selects; -v
    says how many types the reduced BTF kept, under a tenth of them."""
    base = ["-v", "-q", "--no-snapshot", "-d", "0.01"]
    runs = {}
    details = []
    for name, extra in (("reduced", []), ("whole", ["--btf", "/sys/kernel/btf/vmlinux"])):
        cmd, p = run_plain(ctx, base + extra, timeout=60, hook=True)
        err = p.stderr.decode("utf-8", "replace")
        details.append("%s: `%s` exit %d" % (name, " ".join(cmd), p.returncode))
        if p.returncode != 0:
            raise Fail("%s BTF: socktrace exited %d" % (name, p.returncode), details + err.splitlines()[-15:])
        # type ids differ between the two BTFs; the instructions must not
        runs[name] = {(m.group(1), m.group(2), re.sub(r"\[\d+\]", "[]", m.group(3)))
                      for m in RELO_RE.finditer(err)}
        runs[name + " line"] = REDUCED_RE.search(err)
    if not runs["reduced"]:
        raise Fail("no relocation in libbpf's -v output", details)
    if runs["reduced"] != runs["whole"]:
        diff = sorted(runs["reduced"] ^ runs["whole"])[:20]
        raise Fail("%d relocations differ between the reduced and the whole BTF" % len(diff),
                   details + ["%s #%s %s" % d for d in diff])
    m = runs["reduced line"]
    if not m or int(m.group(1)) * 10 > int(m.group(2)):
        raise Fail("-v does not say the reduced BTF kept under a tenth of the types: %r"
                   % (m.group(0) if m else None), details)
    if runs["whole line"]:
        raise Fail("--btf FILE: the BTF was reduced all the same", details)


@test("hook_tracepoint")
def hook_tracepoint(ctx):
    """--hook tracepoint: socktrace says it uses
    tracepoint/sock/inet_sock_set_state, and the loopback conversation is
    reported in full."""
    doc, details = probes_json(ctx, hook=False)
    c = concern(doc, "tcp_state") or {}
    tp = [v for v in c.get("variants", []) if v.get("kind") == "tracepoint"]
    if not tp or tp[0].get("status") not in ("available", "selected"):
        raise Skip("the tracepoint variant is not usable here: %s" % (tp[0].get("reason") if tp else "not listed"))
    with Tracer(ctx, ["--no-snapshot", "--hook", "tracepoint"], hook=False) as t:
        conv = Conversation(ctx, "127.0.0.1").run()
        run = t.stop()
    ready = [l for l in run.err.splitlines() if l.startswith("socktrace: tracing TCP")]
    if not ready or "tracepoint/sock/inet_sock_set_state" not in ready[0]:
        run.fail("the ready line does not name tracepoint/sock/inet_sock_set_state", lambda e: False)
    check_conversation(run, conv, ctx.netns_self, ctx.netns_self, blind_birth=False)


def parse_time_ns(s):
    m = TIME_RE.match(s)
    if not m:
        return None
    y, mo, d, h, mi, sec, frac = (int(x) for x in m.groups())
    return calendar.timegm((y, mo, d, h, mi, sec)) * 10**9 + frac


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def schema_errors(r):
    """What is wrong with one record against docs/json.md."""
    errs = []
    t = r.get("type")
    if t == "summary":
        for k in ("events", "snapshot", "lost", "filtered"):
            if not is_int(r.get(k)) or r[k] < 0:
                errs.append("%s=%r" % (k, r.get(k)))
        if not isinstance(r.get("elapsed_s"), (int, float)) or r["elapsed_s"] < 0:
            errs.append("elapsed_s=%r" % (r.get("elapsed_s"),))
        return errs
    if t in ("error", "warning"):
        if set(r) != {"type", "message"} or not isinstance(r["message"], str) or not r["message"]:
            errs.append("a %s is {type, message} with a non-empty message" % t)
        return errs
    if t == "syn_alert":   # default output too: any attempt of the host may hang
        return attempt_schema_errors(r)
    if t not in ("tcp_state", "tcp_socket", "udp_flow", "udp_socket", "tcp_conn"):
        return ["unknown type %r" % (t,)]
    udp = t.startswith("udp")
    if not isinstance(r.get("time"), str) or parse_time_ns(r["time"]) is None:
        errs.append("time=%r" % (r.get("time"),))
    for k in ("boot_ns", "netns", "ino"):
        if not is_int(r.get(k)) or r[k] < 0:
            errs.append("%s=%r" % (k, r.get(k)))
    if r.get("proto") != ("udp" if udp else "tcp"):
        errs.append("proto=%r" % (r.get("proto"),))
    if r.get("family") not in (4, 6):
        errs.append("family=%r" % (r.get("family"),))
    for k in ("laddr", "raddr"):
        try:
            a = ipaddress.ip_address(r.get(k))
            if r.get("family") == 4 and a.version != 4:
                errs.append("%s=%r in a family-4 record" % (k, r.get(k)))
            if a.version == 6 and a.ipv4_mapped is not None:
                errs.append("%s=%r: an IPv4-mapped address must print as IPv4" % (k, r.get(k)))
        except ValueError:
            errs.append("%s=%r" % (k, r.get(k)))
    for k in ("lport", "rport"):
        if not is_int(r.get(k)) or not 0 <= r[k] <= 65535:
            errs.append("%s=%r" % (k, r.get(k)))
    if r.get("service") is not None and not isinstance(r.get("service"), str):
        errs.append("service=%r" % (r.get("service"),))
    for k in ("rname", "rname_canonical"):
        if k not in r or (r[k] is not None and not isinstance(r[k], str)):
            errs.append("%s=%r" % (k, r.get(k, "missing")))
    if r.get("rname") is None and r.get("rname_canonical") is not None:
        errs.append("rname_canonical=%r without rname" % (r["rname_canonical"],))
    if t == "tcp_state":
        if not isinstance(r.get("sock"), str) or not re.match(r"^0x[0-9a-f]+$", r["sock"]):
            errs.append("sock=%r" % (r.get("sock"),))
        if r.get("old") not in STATES or r.get("new") not in STATES:
            errs.append("old/new=%r/%r" % (r.get("old"), r.get("new")))
        ms = r.get("old_ms", "missing")
        if ms is not None and (not isinstance(ms, (int, float)) or isinstance(ms, bool) or ms < 0):
            errs.append("old_ms=%r" % (ms,))
    elif t == "udp_flow":
        errs += udp_flow_errors(r)
    elif t == "tcp_conn":
        errs += tcp_conn_errors(r)
    else:
        if "sock" not in r or r["sock"] is not None:
            errs.append("sock=%r (null for %s)" % (r.get("sock", "missing"), t))
        if r.get("state") not in (UDP_STATES if udp else STATES):
            errs.append("state=%r" % (r.get("state"),))
    if r.get("pid", "missing") is None:
        if r.get("tid", "missing") is not None or r.get("comm", "missing") is not None:
            errs.append("pid null but tid=%r comm=%r" % (r.get("tid"), r.get("comm")))
    elif not is_int(r.get("pid")) or not is_int(r.get("tid")) or not isinstance(r.get("comm"), str):
        errs.append("pid/tid/comm=%r/%r/%r" % (r.get("pid"), r.get("tid"), r.get("comm")))
    errs += cgroup_errors(r)
    if r.get("owner") not in OWNERS:
        errs.append("owner=%r" % (r.get("owner"),))
    if (r.get("owner") == "unknown") != (r.get("pid") is None):
        errs.append("owner=%r with pid=%r" % (r.get("owner"), r.get("pid")))
    if udp:
        if "role" in r:
            errs.append("role=%r on a UDP record" % (r["role"],))
    elif r.get("role", "missing") not in ROLES:
        errs.append("role=%r" % (r.get("role", "missing"),))
    return errs


def cgroup_errors(r):
    """The owner's namespace pid and cgroup names: each key only where it
    applies, never with an unknown owner (docs/json.md)."""
    errs = []
    keys = [k for k in ("vpid", "cgroup_id", "cgroup", "unit", "slice", "container", "pod")
            if k in r]
    if keys and r.get("pid") is None:
        errs.append("%s without an owner" % ", ".join(keys))
    for k in ("vpid", "cgroup_id"):
        if k in r and (not is_int(r[k]) or r[k] <= 0):
            errs.append("%s=%r" % (k, r[k]))
    if "cgroup" in r and (not isinstance(r["cgroup"], str) or not r["cgroup"].startswith("/")):
        errs.append("cgroup=%r" % (r["cgroup"],))
    for k in ("unit", "slice", "container", "pod"):
        if k in r and "cgroup" not in r:
            errs.append("%s without cgroup" % k)
    for k in ("unit", "slice"):
        if k in r and not isinstance(r[k], str):
            errs.append("%s=%r" % (k, r[k]))
    if "container" in r and (not isinstance(r["container"], dict) or
                             set(r["container"]) != {"runtime", "id", "name"}):
        errs.append("container=%r" % (r["container"],))
    if "pod" in r and (not isinstance(r["pod"], dict) or
                       set(r["pod"]) != {"namespace", "name", "uid", "qos"}):
        errs.append("pod=%r" % (r["pod"],))
    return errs


CONN_ENDS = ("fin", "rst_sent", "rst_received", "timeout", "keepalive", "refused", "unreachable",
             "aborted")


def tcp_conn_errors(r):
    """The fields of a tcp_conn record beyond the tuple (docs/json.md)."""
    errs = []
    if not isinstance(r.get("sock"), str) or not re.match(r"^0x[0-9a-f]+$", r["sock"]):
        errs.append("sock=%r" % (r.get("sock"),))
    if r.get("event") not in ("end", "update", "retrans"):
        errs.append("event=%r" % (r.get("event"),))
    if r.get("event") == "retrans" and (not is_int(r.get("held")) or r["held"] < 0):
        errs.append("held=%r" % (r.get("held"),))
    if r.get("state") not in STATES:
        errs.append("state=%r" % (r.get("state"),))
    if not isinstance(r.get("predates"), bool):
        errs.append("predates=%r" % (r.get("predates"),))
    if r.get("start_time") is not None and parse_time_ns(r["start_time"]) is None:
        errs.append("start_time=%r" % (r.get("start_time"),))
    for k in ("bytes_acked", "bytes_received", "segs_out", "segs_in", "retrans"):
        if not is_int(r.get(k)) or r[k] < 0:
            errs.append("%s=%r" % (k, r.get(k)))
    for k in ("bytes_sent", "bytes_retrans"):
        if r.get(k, "missing") is not None and (not is_int(r.get(k)) or r[k] < 0):
            errs.append("%s=%r" % (k, r.get(k)))
    for k in ("duration_ms", "srtt_ms", "rttvar_ms", "min_rtt_ms"):
        v = r.get(k, "missing")
        if (v is not None or k != "min_rtt_ms") and \
                (not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0):
            errs.append("%s=%r" % (k, v))
    want = CONN_ENDS if r.get("event") == "end" else (None,)
    if r.get("ended", "missing") not in want:
        errs.append("ended=%r for event %r" % (r.get("ended", "missing"), r.get("event")))
    rr = r.get("reset_reason", "missing")
    if not (rr is None or (r.get("event") == "end" and isinstance(rr, str) and
                           re.match(r"^[a-z0-9_]+$", rr))):
        errs.append("reset_reason=%r for event %r" % (rr, r.get("event")))
    if r.get("closed_first", "missing") not in ("local", "remote", None):
        errs.append("closed_first=%r" % (r.get("closed_first", "missing"),))
    if (r.get("error") is None) != (r.get("errno") is None):
        errs.append("error=%r errno=%r" % (r.get("error"), r.get("errno")))
    return errs


def udp_flow_errors(r):
    """The fields of a udp_flow record beyond the tuple (docs/json.md)."""
    errs = []
    if not isinstance(r.get("sock"), str) or not re.match(r"^0x[0-9a-f]+$", r["sock"]):
        errs.append("sock=%r" % (r.get("sock"),))
    if r.get("event") not in ("start", "update", "end"):
        errs.append("event=%r" % (r.get("event"),))
    for k in ("tx_bytes", "rx_bytes", "tx_packets", "rx_packets"):
        if not is_int(r.get(k)) or r[k] < 0:
            errs.append("%s=%r" % (k, r.get(k)))
    if r.get("tx_packets", 0) + r.get("rx_packets", 0) < 1:
        errs.append("a flow without a datagram")
    d = r.get("duration_ms")
    if not isinstance(d, (int, float)) or isinstance(d, bool) or d < 0:
        errs.append("duration_ms=%r" % (d,))
    want = ("close", "idle") if r.get("event") == "end" else (None,)
    if r.get("reason", "missing") not in want:
        errs.append("reason=%r for event %r" % (r.get("reason", "missing"), r.get("event")))
    if r.get("owner") != "traffic":
        errs.append("owner=%r (a flow's owner is who sent or received)" % (r.get("owner"),))
    return errs


@test("json_valid")
def json_valid(ctx):
    """With -j, every stdout line (snapshot, IPv4 and IPv6 conversations, a
    refused connect, whatever else the host does) is strict UTF-8 JSON
    matching docs/json.md; time and boot_ns agree; the last line is the
    summary, its events equal the other lines, snapshot the tcp_socket
    lines, lost is 0; stderr ends with the same counts."""
    h, r = hold(ctx, "st-jhold", "127.0.0.1")
    with Tracer(ctx, []) as t:
        c4 = Conversation(ctx, "127.0.0.1").run()
        c6 = Conversation(ctx, "::1").run()
        refused(ctx)
        wall_now = time.time_ns()
        run = t.stop()
    mine = lambda e: c4.select()(e) or c6.select()(e) or e.get("pid") == r["pid"]
    if run.rc != 0:
        run.fail("exit status %s" % run.rc, mine)
    if not run.lines:
        run.fail("no output", mine)
    for i, raw in enumerate(run.lines):
        try:
            text = raw.decode("utf-8", "strict")
            rec = json.loads(text)
        except (UnicodeDecodeError, ValueError) as e:
            run.fail("stdout line %d is not strict UTF-8 JSON: %s: %r" % (i + 1, e, raw[:300]), mine)
        if not isinstance(rec, dict):
            run.fail("stdout line %d is not a JSON object: %r" % (i + 1, raw[:300]), mine)
        errs = schema_errors(rec)
        if errs:
            run.fail("stdout line %d does not match docs/json.md: %s" % (i + 1, "; ".join(errs)),
                     mine, ["line: %s" % raw.decode("utf-8", "replace")[:400]])
    last = run.records[-1]
    if last.get("type") != "summary" or sum(1 for x in run.records if x.get("type") == "summary") != 1:
        run.fail("the last line is not the (only) summary", mine)
    if last["events"] != len(run.records) - 1:
        run.fail("summary events=%d, but %d other lines were printed" % (last["events"], len(run.records) - 1),
                 mine)
    # the snapshot, then the counters of its connections (tcp_conn updates)
    startup = 0
    for x in run.records:
        if x.get("type") in ("tcp_socket", "udp_socket") or \
                (x.get("type") == "tcp_conn" and x.get("event") == "update"):
            startup += 1
        else:
            break
    if last["snapshot"] != startup:
        run.fail("summary snapshot=%d, but %d tcp_socket, udp_socket and tcp_conn update lines "
                 "came first" % (last["snapshot"], startup), mine)
    if last["lost"] != 0:
        run.fail("summary lost=%d, expected 0" % last["lost"], mine)
    m = [SUMMARY_RE.match(l) for l in run.err.splitlines()]
    m = [x for x in m if x]
    if not m or [int(g) for g in m[-1].groups()] != [last["events"], last["snapshot"], last["lost"],
                                                     last["filtered"]]:
        run.fail("stderr has no summary line matching the JSON summary", mine)
    # one (boot, wall) reference: wall - boot is the same for every record
    offsets = {parse_time_ns(x["time"]) - x["boot_ns"] for x in run.states + run.sockets}
    if len(offsets) != 1:
        run.fail("time and boot_ns disagree: %d different wall-boot offsets" % len(offsets), mine)
    newest = max(parse_time_ns(x["time"]) for x in run.states + run.sockets)
    if abs(newest - wall_now) > 30 * 10**9:
        run.fail("the newest event time is %.1f s away from the wall clock" % ((newest - wall_now) / 1e9), mine)
    check_client(run, c4, ctx.netns_self)
    check_client(run, c6, ctx.netns_self)


@test("json_comm_escaping")
def json_comm_escaping(ctx):
    """Clients named a"b\\c<0x01>d and x<0xff>y<é> (prctl): their lines are
    valid JSON whose comm round-trips (control and non-UTF-8 bytes as
    \\u00XX, valid UTF-8 kept); the same for a snapshot entry."""
    names = [(b'a"b\\c\x01d', 'a"b\\c\x01d'), (b"x\xffy\xc3\xa9", "x\u00ffy\u00e9")]
    hname, hcomm = b'q"\\\x02\xfe', 'q"\\\x02\u00fe'
    h = Helper(ctx, ["hold", "--name", hname, "--addr", "127.0.0.1"])
    r = h.expect("ready")
    convs = []
    with Tracer(ctx, []) as t:
        for raw, comm in names:
            convs.append((Conversation(ctx, "127.0.0.1", client_name=raw, client_comm=comm).run(), raw, comm))
        run = t.stop()
    sel = lambda e: any(c.select()(e) for c, _, _ in convs) or e.get("pid") == r["pid"]
    run.expect_clean_exit(sel)
    for conv, raw, comm in convs:
        lines = [l for l in run.lines if b'"pid":%d,' % conv.client_pid in l]
        if not lines:
            run.fail("no line with the client's pid %d" % conv.client_pid, sel)
        for l in lines:
            if any(b < 0x20 for b in l):
                run.fail("a line carries a raw control byte: %r" % l, sel)
        check_client(run, conv, ctx.netns_self)   # checks comm on every event
    snap = where(run.sockets, pid=r["pid"])
    if not snap:
        run.fail("the snapshot lists no socket of pid %d" % r["pid"], sel)
    bad = [x.get("comm") for x in snap if x.get("comm") != hcomm]
    if bad:
        run.fail("snapshot comm %r, expected %r" % (bad[0], hcomm), sel)


@test("usage_errors")
def usage_errors(ctx):
    """Unknown flag, -P 70000, -p abc, --state NOPE, --hook nope, and the
    spellings of -c and -n before they followed tcpdump (-c NAME, -n COUNT):
    exit status 2, a message on stderr (for those two, what to write now),
    nothing on stdout."""
    problems = []
    cases = [(["--bogus"], None), (["-P", "70000"], None), (["-p", "abc"], None),
             (["--state", "NOPE"], None), (["--hook", "nope"], None),
             (["-c", "sshd"], "socktrace: -c is now the count (as tcpdump's); use --comm sshd"),
             (["-n", "5"], "socktrace: -n no longer takes a count: use -c 5")]
    for args, want in cases:
        cmd, p = run_plain(ctx, args, timeout=10)
        err = p.stderr.decode("utf-8", "replace").strip()
        if p.returncode != 2 or not err or p.stdout or (want and err.splitlines()[0] != want):
            problems.append("`%s`: exit %d, stderr %r, stdout %r%s"
                            % (" ".join(cmd), p.returncode, err[:200], p.stdout[:200],
                               ", expected %r first" % want if want else ""))
    if problems:
        raise Fail("%d of %d usage errors misreported" % (len(problems), len(cases)), problems)


def tcp_service_names(path="/etc/services"):
    """port -> the first name /etc/services gives it for tcp, as socktrace
    reads the file."""
    names = {}
    try:
        with open(path, errors="replace") as f:
            for line in f:
                w = line.split("#", 1)[0].split()
                if len(w) < 2 or "/" not in w[1]:
                    continue
                port, proto = w[1].split("/", 1)
                if proto == "tcp" and port.isdigit() and 0 < int(port) < 65536:
                    names.setdefault(int(port), w[0])
    except OSError:
        pass
    return names


@test("numeric_ports")
def numeric_ports(ctx):
    """-n: a conversation on a port that /etc/services names, in a network
    namespace of the test's own. Without -n every text line of the client
    shows :PORT/tcp(NAME) and every JSON event has "service": NAME; with -n
    no line shows (NAME) and "service" is present and null, live and in a
    replay of the recording. -nc 3 -p CLIENT also stops by itself after the
    client's first 3 events (exit status 0)."""
    names = tcp_service_names()
    port = next((p for p in (8080, 80, 22) if p in names), min(names) if names else None)
    if port is None:
        raise Skip("/etc/services names no TCP port")
    name = names[port]
    ns = NetNS(ctx, "num")
    conv = Conversation(ctx, "127.0.0.1", server_ns=ns.name, client_ns=ns.name, port=port,
                        server_name="st-numsrv", client_name="st-numcli")
    conv.start_server().spawn_client(wait_start=True)
    rec = os.path.join(ctx.tmpdir, "%s.st" % ctx.unique("num"))
    common = ["--no-snapshot", "-P", str(port)]
    js = Tracer(ctx, common + ["-w", rec]).start()
    js_n = Tracer(ctx, common + ["-n"]).start()
    tx = Tracer(ctx, common, json_out=False).start()
    tx_n = Tracer(ctx, ["--no-snapshot", "-nc", "3", "-p", str(conv.client_pid)],
                  json_out=False).start()
    conv.run_client()
    counted = tx_n.wait_exit(5)
    runs = {"-j": js.stop(), "-j -n": js_n.stop(), "text": tx.stop()}
    runs["text -nc 3"] = counted or tx_n.stop()

    sel = conv.select()

    def ours(r):
        return r.get("netns") == ns.inode and sel(r)

    def json_services(run, what):
        run.expect_clean_exit(ours)
        evs = [r for r in run.states if ours(r)]
        if len(evs) < 5:
            run.fail("%s: %d tcp_state events of the conversation, expected at least 5"
                     % (what, len(evs)), ours)
        return evs

    evs = json_services(runs["-j"], "-j")
    bad = [r for r in evs if r.get("service") != name]
    if bad:
        runs["-j"].fail("-j: %d events of a conversation on port %d have no service %r"
                        % (len(bad), port, name), lambda r: r in bad)
    runs["-r -j -n"] = replay(ctx, ["-r", rec, "-j", "-n"])
    for what in ("-j -n", "-r -j -n"):
        evs = json_services(runs[what], what)
        bad = [r for r in evs if "service" not in r or r["service"] is not None]
        if bad:
            runs[what].fail("%s: %d events have a service other than null (or none at all)"
                            % (what, len(bad)), lambda r: r in bad)

    client_line = re.compile(r"^\S+\s+%d\s+st-numcli\s" % conv.client_pid)
    with_name = ":%d/tcp(%s)" % (port, name)
    for what, want_name in (("text", True), ("text -nc 3", False)):
        run = runs[what]
        lines = [l for l in run.out.decode("utf-8", "replace").splitlines()
                 if client_line.match(l)]
        details = ["command: %s" % run.cmdline(), "exit status: %s" % run.rc] + \
            ["stdout: " + l for l in run.out.decode("utf-8", "replace").splitlines()[:20]] + \
            ["stderr: " + l for l in run.err.splitlines()[-8:]]
        if run.rc != 0:
            raise Fail("%s: exit status %s" % (what, run.rc), details)
        if want_name and (len(lines) < 3 or not all(with_name in l for l in lines)):
            raise Fail("text: %d lines of the client, not all with %s"
                       % (len(lines), with_name), details)
        if not want_name and (len(lines) != 3 or any("(%s)" % name in l for l in lines)
                              or not all(":%d/tcp " % port in l for l in lines)):
            raise Fail("-nc 3: %d lines of the client, expected 3, each with :%d/tcp and "
                       "no (%s)" % (len(lines), port, name), details)
    if counted is None:
        raise Fail("-nc 3 -p %d: still running 5 s after the client's traffic "
                   "(it should have stopped after its 3rd event)" % conv.client_pid,
                   ["command: %s" % runs["text -nc 3"].cmdline()])


@test("duration")
def duration(ctx):
    """-d 1: exits by itself with status 0 after about a second, the JSON
    summary last (elapsed_s about 1) and the summary line on stderr."""
    t = Tracer(ctx, ["--no-snapshot", "-d", "1"])
    t.start()
    t0 = time.monotonic()
    run = t.wait_exit(10)
    if run is None:
        run = t.stop()
        run.fail("-d 1: still running after 10 s")
    took = time.monotonic() - t0
    run.expect_clean_exit(lambda e: False)
    el = run.summary.get("elapsed_s")
    if not isinstance(el, (int, float)) or not 0.9 <= el <= 5:
        run.fail("-d 1: summary elapsed_s=%r" % (el,), lambda e: False)
    if took > 6:
        run.fail("-d 1: took %.1f s after the ready line" % took, lambda e: False)
    if not any(SUMMARY_RE.match(l) for l in run.err.splitlines()):
        run.fail("-d 1: no summary line on stderr", lambda e: False)


@test("sigterm")
def sigterm(ctx):
    """SIGTERM: exit status 0, what was traced is printed, the JSON summary
    is the last line and stderr has the summary line."""
    with Tracer(ctx, ["--no-snapshot"]) as t:
        conv = Conversation(ctx, "127.0.0.1").run()
        run = t.stop(signal.SIGTERM)
    run.expect_clean_exit(conv.select())
    if not any(SUMMARY_RE.match(l) for l in run.err.splitlines()):
        run.fail("no summary line on stderr after SIGTERM", conv.select())
    check_client(run, conv, ctx.netns_self)


@test("text_output")
def text_output(ctx):
    """Without -j: a header, then one line per transition naming pid, comm,
    [addr]:port/tcp on both sides and OLD -> NEW; the summary on stderr."""
    with Tracer(ctx, ["--no-snapshot"], json_out=False) as t:
        conv = Conversation(ctx, "::1").run()
        run = t.stop()
    text = run.out.decode("utf-8", "replace")
    lines = text.splitlines()
    details = ["command: %s" % run.cmdline(), "exit status: %s" % run.rc] + \
        ["stdout: " + l for l in lines if str(conv.port) in l][:20] + \
        ["stderr: " + l for l in run.err.splitlines()]
    if run.rc != 0:
        raise Fail("exit status %s" % run.rc, details)
    if not lines or not lines[0].split()[:3] == ["TIME", "PID", "COMM"]:
        raise Fail("no header line first", details)
    want = re.compile(r"\s%d\s+st-client\s+\[::1\]:%d/tcp\s+\[::1\]:%d/tcp\s+SYN_SENT\s+->\s+ESTABLISHED\s+\d+\.\d{3}$"
                      % (conv.client_pid, conv.cport, conv.port))
    if not any(want.search(l) for l in lines):
        raise Fail("no line for the client's SYN_SENT -> ESTABLISHED", details)
    if not any(SUMMARY_RE.match(l) for l in run.err.splitlines()):
        raise Fail("no summary line on stderr", details)
