#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""socktrace benchmark: what tracing costs, and whether all of it is reported.

For each traced configuration, runs the loopback connection storm
(bench/storm.c) untraced and traced alternately, A B A B ..., --pairs times,
and reports per configuration:

  ratio      traced/untraced connection rate of each pair: median [min-max]
  events/s   events the tool wrote to its output file per second of storm
  printed    events in the output file, against the transitions the workload
             made (connections x TRANSITIONS per connection + 2 for the
             listener); missing = expected - printed; lost = what the tool
             itself reports (socktrace's kernel counter, bpftrace's "Lost")
  CPU/event  the tool's CPU time (user+sys, from the exec to the exit, minus
             what it had used when it became ready) per printed event
  RSS        the tool's peak RSS (VmHWM in /proc/PID/status, just before
             the SIGINT that stops it)
  attach     exec to ready: socktrace's "tracing TCP" line on stderr,
             bpftrace's "Attaching N probes" line

Configurations: json (socktrace -j > file), text (socktrace > file),
record (socktrace -w file -q: the compressed recording, bytes per event from
--info), quiet (socktrace -q: count only), bpftrace (bench/tcpstates.bt -o
file); diagnostic ones: null (socktrace -j > /dev/null), nomatch
(socktrace -P another port: the kernel side only). All filter on the storm's
port. After the pairs, the largest recording is replayed (socktrace -r FILE
-j > /dev/null, and -r FILE -q) --replays times each: events per second. A second table gives CPU
per connection (the storm's, the tool's; BPF ns/call with --bpf-stats).

More workloads (--workloads, default startup,storm,udp,tcprr,synhang,bulk,dns,dnsq):

  startup  socktrace with its default hooks and no load, --startup-runs
           times: exec to its ready line, SIGINT to its exit (reaped), and
           its CPU time in each; medians against the targets (30 ms, 20 ms)

  udp      the loopback UDP request/response flood (bench/udpflood.c),
           untraced and traced by socktrace -u -j > file, socktrace -u -q
           and bench/udpcount.bt (--udp-configs): the datagram rate ratio,
           the flows' packet counts against the datagrams the flood made,
           lost and uncounted datagrams, the tool's CPU per datagram
  tcprr    TCP request/response on long-lived connections (bench/tcprr.c),
           untraced and traced by socktrace -j > file and socktrace -q
           (--tcprr-configs): the message rate ratio, the connections'
           transitions reported against those made, who owns the served
           sockets, the tool's CPU per message: what socktrace costs on every
           TCP send() and recv()
  synhang  connection attempts hanging in SYN_SENT (bench/synhang.c),
           untraced and traced by socktrace --connects -j --syn-alert 500:
           attempts, outcomes, SYN retransmits and alerts reported against
           those made, lost events, the generator's wall time
  dns      --dns-names names resolved one by one from dnsmasq on
           127.53.0.1:53 (a hosts file: n<i>.bench.test -> 127.62.x.y), each
           then connected to, untraced and traced by socktrace -j -t: the
           loop's rate ratio, and how many connections carry the name their
           address came from (the target: all, with 0 lost)
  dnsq     the same loop, traced by socktrace -j --dns -P 53: the loop's
           rate ratio, and how many of its queries socktrace reported
           answered with the loop's address and its owner (the bench's
           pid); with --bpf-stats the DNS programs' ns per call

Traffic is loopback only; every loop is bounded; every child is killed in a
finally block. Needs root. See bench/README.md.
"""
import argparse
import json
import os
import platform
import re
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BPFTRACE_SCRIPT = os.path.join(HERE, "tcpstates.bt")

# TCP state transitions the kernel makes per storm connection, measured with
# `socktrace -j -P PORT` (see bench/storm.c and bench/README.md), and the two
# of the listener (CLOSE->LISTEN, LISTEN->CLOSE) once per storm run.
TRANSITIONS = {"fin": 10, "rst": 9}
LISTENER_TRANSITIONS = 2
# socktrace's tcp_conn records per storm connection: one per side, at its end
CONN_RECORDS = 2

CONFIGS = {
    "json": "socktrace -j > file",
    "text": "socktrace text > file",
    "record": "socktrace -w file -q",
    "quiet": "socktrace -q (count only)",
    "bpftrace": "bpftrace tcpstates.bt > file",
    # diagnostic configurations (not in the default set): which part costs what
    "null": "socktrace -j > /dev/null",
    "nomatch": "socktrace -P other port",
    "nodns": "socktrace -j --dns-cache 0 > file (no DNS hook)",
    "metrics": "socktrace -q --metrics, scraped every second",
    "metricsby": "socktrace -q --metrics --metrics-by comm,service, every label set in use, "
                 "scraped every second",
}
# JSON output to a file; nodns without the DNS answers' hook (--dns-cache 0),
# to weigh what that hook costs traffic that is not DNS
JSON_CONFIGS = ("json", "nodns")


def no_dns_args(config):
    return ["--dns-cache", "0"] if config == "nodns" else []
DEFAULT_CONFIGS = "json,text,record,quiet,bpftrace"
# events counted from the tool's own summary instead of the output file
# (record: from socktrace --info of the recording, see run_traced)
SUMMARY_COUNTED = {"null", "quiet", "nomatch", "metrics", "metricsby"}
# --metrics: the configurations that serve metrics, and the cap the
# metricsby one fills before its workload (socktrace's default)
METRICS_CONFIGS = ("metrics", "metricsby")
METRICS_CAP = 100
# the issue's targets for recording the storm
RECORD_MAX_BYTES_PER_EVENT = 32

ST_SUMMARY_RE = re.compile(
    rb"socktrace: (\d+) events \((\d+) existing sockets\), (\d+) lost, (\d+) filtered")
BT_LOST_RE = re.compile(rb"Lost (\d+) events")

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

# every child we started and have not reaped yet
children = []


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# ---- processes ----

def proc_cpu_s(pid):
    """utime+stime of a process (also a zombie) from /proc/PID/stat."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()
    # fields[0] is field 3 (state): utime is field 14, stime field 15
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def start(cmd, **kw):
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, **kw)
    children.append(p)
    return p


def reap(p, sig=None, timeout=30.0):
    """Signals p (if sig), waits for it to exit at most timeout seconds (then
    SIGKILL), and reaps it. Returns (exit code, CPU seconds from rusage,
    CPU seconds from /proc/PID/stat of the zombie)."""
    if p.returncode is not None:
        return p.returncode, None, None
    if sig is not None:
        try:
            p.send_signal(sig)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while True:
        # exited, but not reaped yet: its /proc entry still has the times
        info = os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if info is not None:
            break
        if time.monotonic() >= deadline:
            log(f"run.py: {p.args[0]} (pid {p.pid}) did not exit in {timeout:.0f}s: SIGKILL")
            p.kill()
            deadline = time.monotonic() + 10
            timeout = 10
        time.sleep(0.005)
    stat_cpu = proc_cpu_s(p.pid)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p in children:
        children.remove(p)
    return p.returncode, ru.ru_utime + ru.ru_stime, stat_cpu


def kill_all():
    for p in list(children):
        if p.returncode is None:
            try:
                p.kill()
            except ProcessLookupError:
                pass
            try:
                os.waitpid(p.pid, 0)
            except ChildProcessError:
                pass
            p.returncode = -9
        children.remove(p)


def wait_file_for(path, needle, p, timeout):
    """Polls path until it contains needle; returns the monotonic time it was
    seen. Fails if p exits first or after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path, "rb") as f:
                if needle in f.read(65536):
                    return time.monotonic()
        except FileNotFoundError:
            pass
        if p.poll() is not None:
            raise BenchError(f"{p.args[0]} exited ({p.returncode}) before it was ready")
        time.sleep(0.002)
    raise BenchError(f"{p.args[0]} not ready after {timeout:.0f}s")


# ---- the workload ----

def free_port(exclude=()):
    """A port free for TCP and UDP on 127.0.0.1 and ::1, below the ephemeral
    range so no other socket on the host takes it meanwhile."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError):
        low = 32768
    top = max(1025, min(low, 65536))
    base = 20000 if top > 21000 else 1024
    for port in range(base + os.getpid() % 997, top):
        if port in exclude:
            continue
        ok = True
        for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            for typ in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                try:
                    with socket.socket(fam, typ) as s:
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                        s.bind((addr, port))
                except OSError:
                    ok = False
        if ok:
            return port
    raise BenchError("no free port found")


def run_storm(args, port, count=None):
    cmd = [os.path.join(args.bin, "storm"), "-p", str(port), "-t", str(args.seconds),
           "-c", args.close]
    if args.family == 6:
        cmd.append("-6")
    if count:
        cmd += ["-n", str(count)]
    p = start(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=args.seconds + 30)
    except subprocess.TimeoutExpired:
        raise BenchError(f"storm did not finish in {args.seconds + 30}s")
    finally:
        if p.returncode is None:
            p.kill()
            p.wait()
        if p in children:
            children.remove(p)
    if p.returncode != 0:
        raise BenchError(f"storm failed ({p.returncode}): {err.decode(errors='replace').strip()}")
    res = json.loads(out.decode().strip().splitlines()[-1])
    if res.get("errors"):
        log(f"run.py: warning: storm had {res['errors']} failed connects")
    return res


# ---- tools ----

def tool_cmd(args, config, port, out_path):
    if config == "bpftrace":
        return [args.bpftrace, "-o", out_path, BPFTRACE_SCRIPT, str(port)], b"Attaching"
    # nomatch: the kernel side runs for every transition but lets none through
    cmd = [args.socktrace, "-P", str(port + 1 if config == "nomatch" else port)]
    if config in JSON_CONFIGS + ("null", "nomatch"):
        cmd.append("-j")
    cmd += no_dns_args(config)
    if config in ("quiet",) + METRICS_CONFIGS:
        cmd.append("-q")
    if config == "record":
        cmd += ["-w", out_path, "-q"]
    if not args.snapshot:
        cmd.append("--no-snapshot")
    cmd += args.socktrace_arg
    return cmd, b"socktrace: tracing "


def count_events(config, path):
    """Events in the output file, and the summary object of socktrace -j."""
    needles = (b'"type":"tcp_state"', b'"type":"tcp_conn"') if config in JSON_CONFIGS else \
        (b" -> ",) if config == "bpftrace" else (b" -> ", b" TCP END ")
    n, summary, lost = 0, None, 0
    with open(path, "rb") as f:
        for line in f:
            if any(s in line for s in needles):
                n += 1
            elif config in JSON_CONFIGS and line.startswith(b'{"type":"summary"'):
                summary = json.loads(line)
            elif config == "bpftrace":
                m = BT_LOST_RE.search(line)
                if m:
                    lost += int(m.group(1))
    return n, summary, lost


def bpf_prog_ids(pid):
    """Ids of the BPF programs pid holds open (prog_id in /proc/PID/fdinfo)."""
    ids = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fdinfo")
    except OSError:
        return ids
    for fd in fds:
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except (OSError, ValueError):
            pass
    return ids


def bpf_prog_stats(pid):
    """run_time_ns and run_cnt summed over the BPF programs pid holds
    (kernel.bpf_stats_enabled must be 1)."""
    ids = bpf_prog_ids(pid)
    try:
        out = subprocess.run([BPFTOOL, "-j", "prog", "show"], capture_output=True,
                             timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    ns = cnt = 0
    progs = {}
    for prog in json.loads(out or b"[]"):
        if prog.get("id") in ids:
            ns += prog.get("run_time_ns", 0)
            cnt += prog.get("run_cnt", 0)
            progs[prog.get("name", str(prog.get("id")))] = {
                "run_time_ns": prog.get("run_time_ns", 0), "run_cnt": prog.get("run_cnt", 0)}
    return {"run_time_ns": ns, "run_cnt": cnt, "progs": progs}


# names of BPF programs that trace TCP state changes: socktrace's variants,
# bpftrace's tracepoint program (name cut to 15 characters), bcc's tcpstates
TRACER_PROG_NAMES = ("state_btf", "state_tp", "state_fentry", "state_kprobe",
                     "inet_sock_set_s", "tracepoint__soc", "inet_sock_set_state")


def foreign_tracers(own_pid=None, names=TRACER_PROG_NAMES):
    """Programs of other processes on the TCP state tracepoint (or others,
    by names): they slow down the workload, untraced runs included (another
    socktrace of a test suite, say). Returns their names."""
    own = bpf_prog_ids(own_pid) if own_pid else set()
    try:
        out = subprocess.run([BPFTOOL, "-j", "prog", "show"], capture_output=True,
                             timeout=30, check=True).stdout
        progs = json.loads(out or b"[]")
    except (OSError, subprocess.SubprocessError, ValueError):
        return []
    return [p.get("name", "") for p in progs
            if p.get("name", "").startswith(names) and p.get("id") not in own]


def wait_quiet(args, names=TRACER_PROG_NAMES):
    """Waits at most --wait-quiet seconds for foreign tracers to go away."""
    deadline = time.monotonic() + args.wait_quiet
    while True:
        f = foreign_tracers(names=names)
        if not f or time.monotonic() >= deadline:
            return f
        time.sleep(0.25)


def run_pair(args, i, label, config, untraced, traced, failures, names=TRACER_PROG_NAMES):
    """Pair i of --pairs: untraced() then traced(), after waiting for other
    tracers of the workload's hooks (names; None: no wait) to go; the
    untraced run lists those still attached (foreign_tracers). Returns (a,
    b), or None when a run failed: logged as label, counted in failures as
    config, its processes killed, so that one failed run (a peer that hung,
    say) does not void the others."""
    foreign = wait_quiet(args, names) if names else []
    try:
        a = untraced()
        if names:
            a["foreign_tracers"] = sorted(set(foreign) | set(foreign_tracers(names=names)))
        b = traced()
    except BenchError as e:
        log(f"run.py: [{i + 1}/{args.pairs}] {label} failed: {e}")
        failures.append({"config": config, "pair": i + 1, "error": str(e)})
        kill_all()
        return None
    return a, b


def foreign_note(a, b):
    """The log's note of other tracers attached during a pair."""
    f = a.get("foreign_tracers", []) + b.get("foreign_tracers", [])
    return "  (other tracers attached: %s)" % ",".join(f) if f else ""


# ---- --metrics: a scraper, and processes that use up the label sets ----

def metrics_args(config, exclude):
    """socktrace's --metrics options of a configuration and the URL to
    scrape; ([], None) for the others."""
    if config not in METRICS_CONFIGS:
        return [], None
    mport = free_port(exclude=exclude)
    extra = ["--metrics-by", "comm,service"] if config == "metricsby" else []
    return (["--metrics", f"127.0.0.1:{mport}"] + extra,
            f"http://127.0.0.1:{mport}/metrics")


def scrape(url, timeout=5.0):
    """One scrape: (seconds it took, the exposition's samples by name)."""
    t0 = time.monotonic()
    with urllib.request.urlopen(url, timeout=timeout) as r:
        body = r.read().decode()
    took = time.monotonic() - t0
    sams = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            sams[key] = float(value)
    return took, sams


class Scraper:
    """Scrapes url every interval from a thread of its own, as Prometheus
    would, until stop(); the first scrape at once."""

    def __init__(self, url, interval=1.0):
        self.url, self.interval = url, interval
        self.times, self.series, self.errors = [], [], 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                took, sams = scrape(self.url)
                self.times.append(took)
                self.series.append(len(sams))
            except OSError:
                self.errors += 1
            if self.done.wait(self.interval):
                return

    def stop(self):
        self.done.set()
        self.thread.join(10)
        return {"scrapes": len(self.times), "errors": self.errors,
                "scrape_ms_max": max(self.times) * 1000 if self.times else None,
                "scrape_ms_median": med([t * 1000 for t in self.times]),
                "series_max": max(self.series, default=None)}


# cap + 10 processes of distinct names, each one refused attempt to port
# (nothing listens yet) and one datagram to it: every family's label sets
# are in use and the rest fold, as on the capped worst case
FILL = r"""
import ctypes, os, socket, sys
port, n, tcp = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
libc = ctypes.CDLL(None)
for i in range(n):
    pid = os.fork()
    if pid == 0:
        libc.prctl(15, b"stfill%d" % i, 0, 0, 0)
        if tcp:
            s = socket.socket()
            try:
                s.connect(("127.0.0.1", port))
            except OSError:
                pass
            s.close()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(b"x", ("127.0.0.1", port))
        u.close()
        os._exit(0)
    os.waitpid(pid, 0)
"""


def metrics_start(config, url, port, tcp=True):
    """For a metrics configuration: fills the label sets (metricsby), then
    scrapes once for the events counted before the workload and starts the
    scraper. None for the others."""
    if not url:
        return None, 0
    if config == "metricsby":
        subprocess.run([sys.executable, "-c", FILL, str(port), str(METRICS_CAP + 10),
                        "1" if tcp else "0"], check=True, timeout=60)
        # the run's statistics reach the metrics four times a second
        time.sleep(0.6)
    _, sams = scrape(url)
    return Scraper(url), int(sams.get("socktrace_events_total", 0))


def metrics_log(b):
    m = b.get("metrics")
    if not m:
        return ""
    return (f"  scrapes {m['scrapes']} (slowest {fmt(m['scrape_ms_max'], '.1f')} ms, "
            f"{fmt(m['series_max'], 'd')} series, {m['errors']} failed)  "
            f"hwm {b['hwm_kb'] / 1024 if b['hwm_kb'] else 0:.1f} MiB")


def metrics_summary(traced):
    """The scrapes of a metrics configuration's runs; {} for the others."""
    ms = [b["metrics"] for b in traced if b.get("metrics")]
    if not ms:
        return {}
    return {"scrapes": sum(m["scrapes"] for m in ms),
            "scrape_errors": sum(m["errors"] for m in ms),
            "scrape_ms_max": max((m["scrape_ms_max"] for m in ms if m["scrape_ms_max"] is not None),
                                 default=None),
            "series_max": max((m["series_max"] for m in ms if m["series_max"] is not None),
                              default=None)}


def print_metrics(summaries, udp_summaries, out=sys.stdout):
    """The metrics configurations: how the scrapes went, and peak RSS."""
    rows = [(w, s) for w, ss in (("storm", summaries), ("udp", udp_summaries)) for s in ss
            if s.get("metrics")]
    if not rows:
        return
    print("\n--metrics, scraped every second (targets: ratio within noise of quiet, slowest "
          "scrape of the capped worst case under 50 ms, RSS under 64 MiB)\n", file=out)
    table(["workload", "configuration", "ratio", "scrapes (failed)", "slowest scrape ms",
           "series", "peak RSS MiB"],
          [[w, s["config"], f"{s['ratio_median']:.3f}",
            f"{s['metrics']['scrapes']} ({s['metrics']['scrape_errors']})",
            fmt(s["metrics"]["scrape_ms_max"], ".1f"), fmt(s["metrics"]["series_max"], "d"),
            fmt(s.get("hwm_mib_max"), ".1f")] for w, s in rows], out)


def run_traced(args, config, port, tmpdir, idx):
    out_path = os.path.join(tmpdir, f"{config}-{idx}.out")
    err_path = os.path.join(tmpdir, f"{config}-{idx}.err")
    cmd, ready = tool_cmd(args, config, port, out_path)
    margs, murl = metrics_args(config, (port,))
    cmd += margs
    ready_path = out_path if config == "bpftrace" else err_path
    with open(err_path, "wb") as err_f:
        if config == "bpftrace":
            t_exec = time.monotonic()
            p = start(cmd, stdout=err_f, stderr=err_f)
        else:
            # record: socktrace writes out_path itself, stdout stays empty
            with open("/dev/null" if config in ("null", "record") else out_path, "wb") as out_f:
                t_exec = time.monotonic()
                p = start(cmd, stdout=out_f, stderr=err_f)
    try:
        t_ready = wait_file_for(ready_path, ready, p, args.attach_timeout)
        cpu_ready = proc_cpu_s(p.pid) or 0.0
        rss_ready = proc_status_kb(p.pid, "VmRSS")
        time.sleep(args.settle)
        foreign = foreign_tracers(p.pid)
        scraper, events_before = metrics_start(config, murl, port)
        storm = run_storm(args, port)
        foreign = sorted(set(foreign) | set(foreign_tracers(p.pid)))
        # let the tool catch up before it is told to stop
        time.sleep(args.drain)
        metrics = scraper.stop() if scraper else None
        hwm = proc_status_kb(p.pid, "VmHWM")
        bpf = bpf_prog_stats(p.pid) if args.bpf_stats else None
        t_stop = time.monotonic()
        rc, cpu_total, _ = reap(p, signal.SIGINT)
        t_exit = time.monotonic()
        if rc != 0:
            raise BenchError(f"{cmd[0]} exited {rc}: {open(err_path, 'rb').read()[-500:]!r}")
    finally:
        if p.returncode is None:
            reap(p, signal.SIGKILL, timeout=10)
    printed, summary, bt_lost = count_events(config, out_path) \
        if os.path.exists(out_path) and config != "record" else (0, None, 0)
    err = open(err_path, "rb").read()
    res = {
        "config": config,
        "cmd": cmd,
        "storm": storm,
        "printed": printed,
        "expected": storm["connections"] * (TRANSITIONS[args.close] +
                                            (0 if config == "bpftrace" else CONN_RECORDS))
        + LISTENER_TRANSITIONS,
        "attach_s": t_ready - t_exec,
        "stop_s": t_exit - t_stop,
        "cpu_startup_s": cpu_ready,
        "cpu_total_s": cpu_total,
        "cpu_s": max(cpu_total - cpu_ready, 0.0),
        "rss_ready_kb": rss_ready,
        "hwm_kb": hwm,
        "out_bytes": os.path.getsize(out_path) if os.path.exists(out_path) else None,
        "foreign_tracers": foreign,
    }
    if config == "bpftrace":
        res["lost"] = bt_lost + sum(int(x) for x in BT_LOST_RE.findall(err))
    else:
        m = ST_SUMMARY_RE.search(err)
        if not m:
            raise BenchError(f"no summary line on socktrace's stderr: {err[-500:]!r}")
        res["tool_events"], res["lost"] = int(m.group(1)), int(m.group(3))
        res["filtered"] = int(m.group(4))
        if config in SUMMARY_COUNTED:
            # metricsby: without the events of the processes that filled its label sets
            res["printed"] = res["tool_events"] - (events_before if config == "metricsby" else 0)
        if metrics:
            res["metrics"] = dict(metrics, events_before=events_before)
        if config == "nomatch":
            res["expected"] = 0
        if config in JSON_CONFIGS and summary is None:
            raise BenchError("no summary object in socktrace's JSON output")
        if config == "record":
            info = recording_info(args, out_path)
            res["record"] = info
            # printed: the events in the file, by --info, not by the recorder
            res["printed"] = info["events"]
            if info["events"] != res["tool_events"]:
                log(f"run.py: warning: recording holds {info['events']} events, socktrace "
                    f"counted {res['tool_events']}")
            keep_largest_recording(out_path, tmpdir, info["events"])
    if bpf:
        res["bpf"] = bpf
    for path in (out_path, err_path):
        if os.path.exists(path):
            if args.keep:
                shutil.copy(path, args.keep)
            os.unlink(path)
    return res


INFO_RE = {
    "events": re.compile(rb"^Events:\s+(\d+)", re.M),
    "lost": re.compile(rb"^Lost events:\s+(\d+)", re.M),
    "blocks": re.compile(rb"^Blocks:\s+(\d+)", re.M),
    "corrupt_blocks": re.compile(rb"^Corrupt blocks:\s+(\d+)", re.M),
    "bytes": re.compile(rb"^Size:\s+(\d+) bytes", re.M),
}


def recording_info(args, path):
    """Events, lost, blocks and size of a recording, from socktrace --info;
    bytes per event = file size / events in the file."""
    try:
        r = subprocess.run([args.socktrace, "--info", path], capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise BenchError("socktrace --info did not finish in 60s")
    if r.returncode != 0:
        raise BenchError(f"socktrace --info failed ({r.returncode}): {r.stderr[-300:]!r}")
    info = {}
    for k, rx in INFO_RE.items():
        m = rx.search(r.stdout)
        if not m:
            raise BenchError(f"socktrace --info: no '{k}' in {r.stdout[-500:]!r}")
        info[k] = int(m.group(1))
    info["file_bytes"] = os.path.getsize(path)
    m = re.search(rb"^End:\s+(.*)$", r.stdout, re.M)
    info["end"] = m.group(1).decode(errors="replace").strip() if m else None
    info["bytes_per_event"] = info["file_bytes"] / info["events"] if info["events"] else None
    return info


# the largest recording of this invocation, kept for the replay
largest = {"path": None, "bytes": 0, "events": 0}


def keep_largest_recording(path, tmpdir, events):
    """Keeps a hard link to path if it is the largest recording so far
    (run_traced then deletes, or --keep copies, path as for the others)."""
    size = os.path.getsize(path)
    if size > largest["bytes"]:
        dst = os.path.join(tmpdir, "largest.st")
        if os.path.exists(dst):
            os.unlink(dst)
        os.link(path, dst)
        largest.update(path=dst, bytes=size, events=events)


def replay(args, path, events):
    """Replays path with socktrace -r -j > /dev/null and -r -q, alternately,
    --replays times each. Wall time from exec to exit (start-up included) and
    the CPU time of the reaped child."""
    modes = {"json": [args.socktrace, "-r", path, "-j"],
             "quiet": [args.socktrace, "-r", path, "-q"]}
    runs = {m: [] for m in modes}
    for i in range(args.replays):
        for mode, cmd in modes.items():
            with open(os.devnull, "wb") as null:
                t0 = time.monotonic()
                p = start(cmd, stdout=null, stderr=subprocess.PIPE)
            try:
                err = p.stderr.read()  # bounded: one summary line
                rc, cpu, _ = reap(p, timeout=120)
                wall = time.monotonic() - t0
            finally:
                if p.returncode is None:
                    reap(p, signal.SIGKILL, timeout=10)
                p.stderr.close()
            if rc != 0:
                raise BenchError(f"replay {' '.join(cmd)} exited {rc}: {err[-300:]!r}")
            m = ST_SUMMARY_RE.search(err)
            if not m:
                raise BenchError(f"replay: no summary line on stderr: {err[-300:]!r}")
            n = int(m.group(1))
            if n != events:
                log(f"run.py: warning: replay ({mode}) counted {n} events, --info {events}")
            runs[mode].append({"wall_s": wall, "cpu_s": cpu, "events": n,
                               "events_per_s": n / wall if wall > 0 else None})
    out = {"file_bytes": os.path.getsize(path), "events": events, "runs": runs}
    for mode, rs in runs.items():
        rates = [r["events_per_s"] for r in rs if r["events_per_s"]]
        out[mode] = {"cmd": " ".join(["socktrace"] + modes[mode][1:2] + ["FILE"] + modes[mode][3:])
                     + (" > /dev/null" if mode == "json" else ""),
                     "events_per_s_median": med(rates), "events_per_s_min": min(rates, default=None),
                     "events_per_s_max": max(rates, default=None),
                     "wall_s_median": med([r["wall_s"] for r in rs]),
                     "cpu_s_median": med([r["cpu_s"] for r in rs]),
                     "events_per_cpu_s_median": med([r["events"] / r["cpu_s"] if r["cpu_s"] else None
                                                     for r in rs])}
    return out


def calibrate(args, port, tmpdir):
    """Counts the transitions of a short storm with socktrace -j -P PORT, as a
    check of TRANSITIONS (it does not replace it: a socktrace that dropped
    events would skew it)."""
    out_path = os.path.join(tmpdir, "calibrate.out")
    err_path = os.path.join(tmpdir, "calibrate.err")
    with open(out_path, "wb") as out_f, open(err_path, "wb") as err_f:
        p = start([args.socktrace, "-j", "--no-snapshot", "-P", str(port)],
                  stdout=out_f, stderr=err_f)
    try:
        wait_file_for(err_path, b"socktrace: tracing ", p, args.attach_timeout)
        time.sleep(args.settle)
        storm = run_storm(args, port, count=args.calibrate)
        time.sleep(args.drain)
        reap(p, signal.SIGINT)
    finally:
        if p.returncode is None:
            reap(p, signal.SIGKILL, timeout=10)
    trans = {}
    with open(out_path, "rb") as f:
        for line in f:
            ev = json.loads(line)
            if ev["type"] == "tcp_state" and ev.get("role") != "listener":
                k = f"{ev['role']} {ev['old']}->{ev['new']}"
                trans[k] = trans.get(k, 0) + 1
    os.unlink(out_path)
    os.unlink(err_path)
    conns = storm["connections"]
    per_conn = sum(trans.values()) / conns if conns else 0.0
    return {"connections": conns, "per_connection": per_conn, "transitions": trans}


# ---- more workloads: a UDP flood, SYN_SENT hangs ----

UDP_BPFTRACE_SCRIPT = os.path.join(HERE, "udpcount.bt")
WORKLOADS = ("startup", "storm", "udp", "tcprr", "synhang", "bulk", "dns", "dnsq")
UDP_CONFIGS = {
    "json": "socktrace -u -j > file",
    "quiet": "socktrace -u -q (count only)",
    "bpftrace": "bpftrace udpcount.bt (count only)",
    "nodns": "socktrace -u -j --dns-cache 0 > file (no DNS hook)",
    "metrics": "socktrace -u -q --metrics, scraped every second",
    "metricsby": "socktrace -u -q --metrics --metrics-by comm,service, every label set in use, "
                 "scraped every second",
}
DEFAULT_UDP_CONFIGS = "json,quiet,bpftrace"
# the UDP flow tracing's targets for the lockstep flood
UDP_TARGET_RATIO = 0.9
# names of BPF programs on the UDP send/receive paths: socktrace's
# variants (io_send_btf, udp_send_btf, udp_recvmsg4, udp6_send_fexit, udp_release...),
# others named after the tracepoints, bpftrace's (cut to 15 characters)
UDP_TRACER_PROG_NAMES = ("udp_", "udp6_", "io_send", "io_recv", "sock_send", "sock_recv",
                         "tracepoint__soc")
# socktrace's warning on stderr, only when the count is not 0
ST_UNCOUNTED_RE = re.compile(rb"socktrace: warning: (\d+) UDP datagrams .*not counted")
BT_MAP_RE = re.compile(rb"^@(tx_packets|rx_packets|tx_bytes|rx_bytes): (\d+)", re.M)


# ---- start-up and exit ----

# the targets of socktrace's own speed: exec to ready, SIGINT to exit
STARTUP_TARGET_READY_S = 0.030
STARTUP_TARGET_EXIT_S = 0.020
READY_LINE = b"socktrace: tracing "


def run_startup_once(args, port):
    """socktrace with its default hooks, idle: the time from exec to its
    ready line (read from a pipe as it comes, not polled) and from the
    SIGINT to its exit (its pidfd, also not polled), and its CPU time."""
    cmd = [args.socktrace, "-P", str(port), "-q", "--no-snapshot"] + args.socktrace_arg
    t_exec = time.monotonic()
    p = start(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        fd = p.stderr.fileno()
        buf = b""
        while READY_LINE not in buf:
            left = t_exec + args.attach_timeout - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise BenchError(f"{cmd[0]} not ready after {args.attach_timeout:.0f}s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise BenchError(f"{cmd[0]} exited before it was ready: {buf.decode(errors='replace')}")
            buf += chunk
        t_ready = time.monotonic()
        cpu_ready = proc_cpu_s(p.pid) or 0.0
        time.sleep(args.startup_idle)
        pidfd = os.pidfd_open(p.pid)
        try:
            t_sig = time.monotonic()
            p.send_signal(signal.SIGINT)
            if not select.select([pidfd], [], [], 30.0)[0]:
                raise BenchError(f"{cmd[0]} did not exit within 30s of SIGINT")
            t_exit = time.monotonic()
        finally:
            os.close(pidfd)
        rc, cpu_total, _ = reap(p)
        err = buf + p.stderr.read()
    finally:
        p.stderr.close()
    if rc != 0:
        raise BenchError(f"{cmd[0]} exited with {rc}: {err.decode(errors='replace')[-300:]}")
    return {"ready_s": t_ready - t_exec, "exit_s": t_exit - t_sig, "cpu_ready_s": cpu_ready,
            "cpu_exit_s": max((cpu_total or 0.0) - cpu_ready, 0.0), "cmd": cmd}


def run_startup(args, port, failures, results):
    runs = []
    log(f"run.py: startup: {args.startup_runs} runs of socktrace -P {port} -q --no-snapshot, "
        f"{args.startup_idle:g}s between ready and SIGINT")
    for i in range(args.startup_runs):
        wait_quiet(args)
        try:
            r = run_startup_once(args, port)
        except BenchError as e:
            log(f"run.py: [{i + 1}/{args.startup_runs}] startup failed: {e}")
            failures.append({"config": "startup", "pair": i + 1, "error": str(e)})
            kill_all()
            continue
        runs.append(r)
        log(f"run.py: [{i + 1}/{args.startup_runs}] startup ready {r['ready_s'] * 1e3:6.1f} ms  "
            f"exit {r['exit_s'] * 1e3:6.1f} ms  cpu {r['cpu_ready_s'] * 1e3:.0f} + "
            f"{r['cpu_exit_s'] * 1e3:.0f} ms")
    results["startup"] = {"runs": runs, "summary": summarize_startup(runs) if runs else None}
    return results["startup"]["summary"]


def summarize_startup(runs):
    s = {"runs": len(runs)}
    for k in ("ready_s", "exit_s", "cpu_ready_s", "cpu_exit_s"):
        xs = [r[k] for r in runs]
        s[k] = {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}
    s["ready_met"] = s["ready_s"]["median"] <= STARTUP_TARGET_READY_S
    s["exit_met"] = s["exit_s"]["median"] <= STARTUP_TARGET_EXIT_S
    return s


def print_startup(s, args, out=sys.stdout):
    if not s:
        return

    def ms(d):
        return f"{d['median'] * 1e3:.1f} [{d['min'] * 1e3:.1f}-{d['max'] * 1e3:.1f}]"

    print(f"\nStart-up and exit: {s['runs']} runs of socktrace -q --no-snapshot (default hooks), "
          f"idle\n", file=out)
    table(["measure", "wall ms median [min-max]", "socktrace CPU ms median [min-max]", "target ms"],
          [["exec -> ready line", ms(s["ready_s"]), ms(s["cpu_ready_s"]),
            f"<= {STARTUP_TARGET_READY_S * 1e3:.0f}"],
           ["SIGINT -> exit (reaped)", ms(s["exit_s"]), ms(s["cpu_exit_s"]),
            f"<= {STARTUP_TARGET_EXIT_S * 1e3:.0f}"]], out)
    print(f"startup targets: ready <= {STARTUP_TARGET_READY_S * 1e3:.0f} ms: {yes(s['ready_met'])}; "
          f"exit <= {STARTUP_TARGET_EXIT_S * 1e3:.0f} ms: {yes(s['exit_met'])}", file=out)


# ---- the DNS workload: names resolved, then connected to ----

DNS_SERVER = "127.53.0.1"       # dnsmasq's loopback address, port 53
DNS_ZONE = "bench.test"


def dns_addr(i):
    """The address of name i: one each, in 127.62.0.0/16 (loopback)."""
    return "127.62.%d.%d" % (i // 250, i % 250 + 1)


def dns_query(qid, name):
    """A DNS query for the A record of name, recursion desired."""
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack("!HH", 1, 1)


def dns_answer_addr(pkt, qid):
    """The last A record's address of an answer to qid, or None."""
    if len(pkt) < 12 + 4:
        return None
    rid, flags, _, ancount = struct.unpack("!HHHH", pkt[:8])
    if rid != qid or flags & 0x000f or not ancount:
        return None
    return socket.inet_ntoa(pkt[-4:])


class DnsServer:
    """dnsmasq on DNS_SERVER:53 serving n<i>.bench.test -> dns_addr(i) from
    a hosts file, and a TCP listener on every loopback address at port."""

    def __init__(self, args, port, tmpdir):
        if not shutil.which("dnsmasq"):
            raise BenchError("dnsmasq is not installed (Debian package dnsmasq)")
        self.hosts = os.path.join(tmpdir, "dns-bench.hosts")
        with open(self.hosts, "w") as f:
            for i in range(args.dns_names):
                f.write("%s n%d.%s\n" % (dns_addr(i), i, DNS_ZONE))
        self.proc = start(["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
                           "--no-resolv", "--no-hosts", "--addn-hosts=" + self.hosts,
                           "--port", "53", "--listen-address", DNS_SERVER, "--bind-interfaces",
                           "--pid-file=", "--user=root", "--local=/test/", "--local-ttl=600",
                           "--cache-size=10000"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("0.0.0.0", port))
        self.lsock.listen(512)
        self.port = port
        # the server is up once it answers
        deadline = time.monotonic() + 10
        while dns_resolve(0, 0.2) is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise BenchError("dnsmasq did not answer on %s:53" % DNS_SERVER)

    def accept_pending(self):
        """Accepts and closes what the listener holds (non-blocking)."""
        self.lsock.setblocking(False)
        try:
            while True:
                c, _ = self.lsock.accept()
                c.close()
        except BlockingIOError:
            pass

    def close(self):
        self.lsock.close()
        reap(self.proc, signal.SIGTERM, timeout=10)


def dns_resolve(i, timeout, sock=None):
    own = sock is None
    s = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        qid = (i * 7919 + 1) & 0xffff
        s.sendto(dns_query(qid, "n%d.%s" % (i, DNS_ZONE)), (DNS_SERVER, 53))
        while True:
            pkt, _ = s.recvfrom(4096)
            addr = dns_answer_addr(pkt, qid)
            if addr:
                return addr
    except socket.timeout:
        return None
    finally:
        if own:
            s.close()


def run_dnsloop(args, server):
    """Resolves n0..n<N-1> one by one and connects to each address: the
    rate of resolve-and-connect, and the names that did not resolve."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    unresolved = errors = 0
    t0 = time.monotonic()
    try:
        for i in range(args.dns_names):
            addr = dns_resolve(i, 1.0, s)
            if addr != dns_addr(i):
                unresolved += 1
                continue
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                c.connect((addr, server.port))
            except OSError:
                errors += 1
            c.close()
            if i % 64 == 63:
                server.accept_pending()
    finally:
        s.close()
    server.accept_pending()
    wall = time.monotonic() - t0
    return {"names": args.dns_names, "unresolved": unresolved, "errors": errors,
            "wall_s": wall, "rate": args.dns_names / wall}


def json_events(path, needle):
    """The events of a socktrace -j output whose line holds needle, and its
    summary object (None if it has none)."""
    events, summary = [], None
    with open(path, "rb") as f:
        for line in f:
            if line.startswith(b'{"type":"summary"'):
                summary = json.loads(line)
            elif needle in line:
                events.append(json.loads(line))
    return events, summary


def dns_named(path, port):
    """Of socktrace -j's client SYN_SENT events to port: how many, how many
    carry the name their address was resolved from, and the summary."""
    want = {}
    n = named = 0
    events, summary = json_events(path, b'"new":"SYN_SENT"')
    for ev in events:
        if ev.get("rport") != port or ev.get("old") != "CLOSE":
            continue
        n += 1
        a = ev.get("raddr", "")
        if a not in want and a.startswith("127.62."):
            x, y = (int(v) for v in a.split(".")[2:])
            want[a] = "n%d.%s" % (x * 250 + y - 1, DNS_ZONE)
        if ev.get("rname") == want.get(a):
            named += 1
    return n, named, summary


def dns_queries_seen(path, pid):
    """Of socktrace --dns -j's dns events of the loop's names: how many,
    how many answered with the name's address, and of those how many with
    the loop's process as owner; and the summary."""
    n = answered = owned = 0
    events, summary = json_events(path, b'{"type":"dns",')
    for ev in events:
        m = re.fullmatch(r"n(\d+)\." + re.escape(DNS_ZONE), ev.get("qname", ""))
        if not m:
            continue
        n += 1
        if ev.get("outcome") == "answered" and ev.get("rcode") == "NOERROR" and \
                ev.get("addrs") == [dns_addr(int(m.group(1)))]:
            answered += 1
            owned += ev.get("pid") == pid
    return n, answered, owned, summary


def run_dns_traced(args, server, tmpdir, idx, queries=False):
    """dns: socktrace -j -t on the loop's port, names counted; dnsq:
    socktrace -j --dns on port 53, queries counted."""
    out_path = os.path.join(tmpdir, f"dns-{idx}.out")
    err_path = os.path.join(tmpdir, f"dns-{idx}.err")
    cmd = [args.socktrace, "-j"] + (["--dns", "-P", "53"] if queries else
                                    ["-t", "-P", str(server.port)])
    if not args.snapshot:
        cmd.append("--no-snapshot")
    cmd += args.socktrace_arg
    r = run_tool_around(args, cmd, b"socktrace: tracing", err_path, out_path, err_path,
                        lambda: run_dnsloop(args, server), TRACER_PROG_NAMES)
    r["loop"] = r.pop("work")
    if queries:
        n, answered, owned, summary = dns_queries_seen(out_path, os.getpid())
        r.update(queries=n, answered=answered, owned=owned)
    else:
        n, named, summary = dns_named(out_path, server.port)
        r.update(connects=n, named=named)
    if summary is None:
        raise BenchError("no summary object in socktrace's JSON output")
    r.update(lost=summary.get("lost", 0),
             dns_answers=summary.get("dns_answers"), dns_lost=summary.get("dns_lost"),
             dns_unparsed=summary.get("dns_unparsed"), dns_evictions=summary.get("dns_evictions"))
    keep_or_delete(args, out_path, err_path)
    return r


def run_dns_pairs(args, port, tmpdir, dns_pairs, failures, results, queries=False):
    """--pairs rounds of an untraced and a traced resolve-and-connect loop."""
    name = "dnsq" if queries else "dns"
    log(f"run.py: {name}: {args.pairs} pairs of {args.dns_names} names resolved at "
        f"{DNS_SERVER}:53 (dnsmasq) and connected to on port {port}")
    results[name] = {"port": port, "runs": []}
    try:
        server = DnsServer(args, port, tmpdir)
    except BenchError as e:
        log(f"run.py: {name} skipped: {e}")
        failures.append({"config": name, "pair": 0, "error": str(e)})
        return
    try:
        for i in range(args.pairs):
            pair = run_pair(args, i, name, name, lambda: run_dnsloop(args, server),
                            lambda: run_dns_traced(args, server, tmpdir, i, queries), failures)
            if not pair:
                continue
            a, b = pair
            dns_pairs.append((a, b))
            results[name]["runs"].append({"untraced": a, "traced": b})
            seen = (f"queries {b['answered']}/{b['queries']} answered, {b['owned']} owned" if queries
                    else f"named {b['named']}/{b['connects']}")
            log(f"run.py: [{i + 1}/{args.pairs}] {name} untraced {a['rate']:7.0f}/s  traced "
                f"{b['loop']['rate']:7.0f}/s  ratio {b['loop']['rate'] / a['rate']:.3f}  {seen} "
                f"of {b['loop']['names'] - b['loop']['unresolved']} resolved  lost {b['lost']}  "
                f"dns_lost {b['dns_lost']}")
    finally:
        server.close()


def summarize_dns(pairs):
    ratios = [b["loop"]["rate"] / a["rate"] for a, b in pairs]
    resolved = sum(b["loop"]["names"] - b["loop"]["unresolved"] for _, b in pairs)
    s = {"pairs": len(pairs), "ratio": statistics.median(ratios),
         "ratio_min": min(ratios), "ratio_max": max(ratios), "resolved": resolved,
         "lost": sum(b["lost"] for _, b in pairs),
         "dns_lost": sum(b["dns_lost"] or 0 for _, b in pairs),
         "dns_unparsed": sum(b["dns_unparsed"] or 0 for _, b in pairs)}
    for k in ("connects", "named", "queries", "answered", "owned"):
        if k in pairs[0][1]:
            s[k] = sum(b[k] for _, b in pairs)
    # the DNS programs' cost per call, from --bpf-stats
    for prog in ("dns_ingress", "dns_egress"):
        stats = [b.get("bpf", {}).get("progs", {}).get(prog, {}) for _, b in pairs]
        calls = sum(x.get("run_cnt", 0) for x in stats)
        ns = sum(x.get("run_time_ns", 0) for x in stats)
        if calls:
            s[prog + "_ns"] = ns / calls
    return s


def print_dns(s, args, out=sys.stdout):
    if not s:
        return
    pct = 100.0 * s["named"] / s["resolved"] if s["resolved"] else 0.0
    print(f"\nDNS names: {s['pairs']} pairs of {args.dns_names} names resolved (dnsmasq, "
          f"{DNS_SERVER}:53), each then connected to\n", file=out)
    print("| ratio | resolved | connects seen | named | lost | dns_lost | dns_unparsed | 100% named |",
          file=out)
    print("|---|---|---|---|---|---|---|---|", file=out)
    print(f"| {s['ratio']:.3f} [{s['ratio_min']:.3f}-{s['ratio_max']:.3f}] | {s['resolved']} | "
          f"{s['connects']} | {s['named']} ({pct:.1f} %) | {s['lost']} | {s['dns_lost']} | "
          f"{s['dns_unparsed']} | {yes(s['named'] == s['resolved'] and not s['lost'])} |", file=out)


def print_dnsq(s, args, out=sys.stdout):
    if not s:
        return
    print(f"\nDNS queries (--dns): {s['pairs']} pairs of {args.dns_names} names resolved (dnsmasq, "
          f"{DNS_SERVER}:53), traced by socktrace -j --dns -P 53\n", file=out)
    print("| ratio | resolved | reported | answered right | with their owner | lost | dns_lost "
          "| dns_ingress ns/call | dns_egress ns/call | all reported |", file=out)
    print("|---|---|---|---|---|---|---|---|---|---|", file=out)

    def ns(k):
        return f"{s[k]:.0f}" if k in s else "-"
    print(f"| {s['ratio']:.3f} [{s['ratio_min']:.3f}-{s['ratio_max']:.3f}] | {s['resolved']} | "
          f"{s['queries']} | {s['answered']} | {s['owned']} | {s['lost']} | {s['dns_lost']} | "
          f"{ns('dns_ingress_ns')} | {ns('dns_egress_ns')} | "
          f"{yes(s['owned'] == s['resolved'] == s['queries'] and not s['lost'])} |", file=out)


def run_generator(name, cmd, timeout, accept_rc=(0,)):
    """Runs a workload generator to its end and returns its JSON line."""
    p = start(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{name} did not finish in {timeout:.0f}s")
    finally:
        if p.returncode is None:
            p.kill()
            p.wait()
        if p in children:
            children.remove(p)
    if p.returncode not in accept_rc:
        raise BenchError(f"{name} failed ({p.returncode}): {err.decode(errors='replace').strip()}")
    try:
        return json.loads(out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise BenchError(f"{name} exited {p.returncode} without a JSON line: {err[-300:]!r}")


def run_udpflood(args, port):
    cmd = [os.path.join(args.bin, "udpflood"), "-p", str(port), "-t", str(args.seconds),
           "-s", str(args.udp_size), "-c", str(args.udp_clients), "-w", str(args.udp_window)]
    if args.udp_cpu >= 0:
        cmd += ["-a", str(args.udp_cpu)]
    if args.family == 6:
        cmd.append("-6")
    res = run_generator("udpflood", cmd, args.seconds + 40)
    if res.get("timeouts") or res.get("errors"):
        log(f"run.py: warning: udpflood had {res['timeouts']} timeouts, {res['errors']} errors")
    return res


def run_synhang(args, port):
    cmd = [os.path.join(args.bin, "synhang"), "-p", str(port), "-n", str(args.synhang_attempts),
           "-t", str(args.synhang_seconds)]
    if args.family == 6:
        cmd.append("-6")
    # exit 1 with a JSON line: some attempt did not hang; reported, not fatal
    res = run_generator("synhang", cmd, args.synhang_seconds + 40, accept_rc=(0, 1))
    if res.get("connect_errors") or res.get("not_syn_sent"):
        log(f"run.py: warning: synhang: {res['connect_errors']} connects failed, "
            f"{res['not_syn_sent']} attempts not in SYN_SENT at the end")
    return res


def run_bulk(args, port):
    cmd = [os.path.join(args.bin, "bulk"), "-p", str(port), "-t", str(args.bulk_seconds)]
    if args.family == 6:
        cmd.append("-6")
    res = run_generator("bulk", cmd, args.bulk_seconds + 40)
    if res.get("errors"):
        raise BenchError(f"bulk had {res['errors']} errors")
    return res


def run_bulk_pairs(args, port, tmpdir, bulk_pairs, failures, results):
    """--pairs rounds of an untraced and a traced (socktrace -j -P PORT)
    bulk transfer: one connection, so the tcp_conn counters read at its
    close cost nothing per byte; what is left is socktrace's per-send and
    per-receive hooks (tcp_io)."""
    log(f"run.py: bulk: {args.pairs} pairs of {args.bulk_seconds:g}s transfers on port {port} "
        f"(IPv{args.family})")
    results["bulk"] = {"port": port, "runs": []}
    for i in range(args.pairs):
        out_path = os.path.join(tmpdir, f"bulk-{i}.out")
        err_path = os.path.join(tmpdir, f"bulk-{i}.err")
        cmd = [args.socktrace, "-j", "-P", str(port)]
        if not args.snapshot:
            cmd.append("--no-snapshot")
        cmd += args.socktrace_arg
        pair = run_pair(args, i, "bulk", "bulk", lambda: run_bulk(args, port),
                        lambda: run_tool_around(args, cmd, b"socktrace: tracing", err_path, out_path,
                                                err_path, lambda: run_bulk(args, port),
                                                TCPRR_TRACER_PROG_NAMES),
                        failures, TCPRR_TRACER_PROG_NAMES)
        if not pair:
            continue
        a, r = pair
        b = r.pop("work")
        conns = []
        with open(out_path, "rb") as f:
            for line in f:
                if b'"type":"tcp_conn"' in line:
                    conns.append(json.loads(line))
        keep_or_delete(args, out_path, err_path)
        # the sender's end record against what bulk wrote
        sender = [c for c in conns if c.get("role") == "client" and c.get("event") == "end"]
        exact = len(sender) == 1 and sender[0]["bytes_sent"] - sender[0]["bytes_retrans"] == b["bytes"]
        run = {"untraced": a, "traced": b, "tool": r, "conn_records": len(conns), "exact": exact}
        bulk_pairs.append(run)
        results["bulk"]["runs"].append(run)
        log(f"run.py: [{i + 1}/{args.pairs}] bulk untraced {a['rate'] / 1e6:8.0f} MB/s  traced "
            f"{b['rate'] / 1e6:8.0f} MB/s  ratio {b['rate'] / a['rate']:.3f}  tcp_conn records "
            f"{len(conns)}  bytes exact {yes(exact)}  cpu {r['cpu_s']:.2f}s")


def summarize_bulk(runs):
    ratios = [r["traced"]["rate"] / r["untraced"]["rate"] for r in runs]
    return {"pairs": len(runs), "ratio_median": med(ratios), "ratio_min": min(ratios),
            "ratio_max": max(ratios), "ratios": ratios,
            "untraced_mb_s_median": med([r["untraced"]["rate"] / 1e6 for r in runs]),
            "traced_mb_s_median": med([r["traced"]["rate"] / 1e6 for r in runs]),
            "exact": sum(1 for r in runs if r["exact"]),
            "tool_cpu_s_median": med([r["tool"]["cpu_s"] for r in runs])}


def print_bulk(s, args, out=sys.stdout):
    if not s:
        return
    print(f"\nTCP bulk transfer: {s['pairs']} pairs x {args.bulk_seconds:g}s, one connection, "
          f"IPv{args.family}\n", file=out)
    table(["configuration", "ratio median [min-max]", "untraced MB/s", "traced MB/s",
           "bytes exact", "tool CPU s"],
          [["socktrace -j", f"{s['ratio_median']:.3f} [{s['ratio_min']:.3f}-{s['ratio_max']:.3f}]",
            f"{s['untraced_mb_s_median']:.0f}", f"{s['traced_mb_s_median']:.0f}",
            f"{s['exact']} / {s['pairs']}", fmt(s["tool_cpu_s_median"], ".2f")]], out)


def run_tool_around(args, cmd, ready, ready_path, out_path, err_path, workload, names):
    """Starts a tool (stdout to out_path, stderr to err_path; the same file
    if equal), waits for ready in ready_path, runs workload(), waits
    --drain, reads the tool's VmHWM and stops it with SIGINT. Returns the
    workload's result and the tool's attach time, CPU (from the ready line
    to the exit) and peak RSS, and the foreign tracers (BPF programs named
    names...) seen before or after the workload."""
    with open(err_path, "wb") as err_f:
        with open(out_path, "wb") if out_path != err_path else err_f as out_f:
            t_exec = time.monotonic()
            p = start(cmd, stdout=out_f, stderr=err_f)
    try:
        t_ready = wait_file_for(ready_path, ready, p, args.attach_timeout)
        cpu_ready = proc_cpu_s(p.pid) or 0.0
        time.sleep(args.settle)
        foreign = foreign_tracers(p.pid, names)
        work = workload()
        foreign = sorted(set(foreign) | set(foreign_tracers(p.pid, names)))
        time.sleep(args.drain)
        hwm = proc_status_kb(p.pid, "VmHWM")
        bpf = bpf_prog_stats(p.pid) if args.bpf_stats else None
        rc, cpu_total, _ = reap(p, signal.SIGINT)
        if rc != 0:
            raise BenchError(f"{cmd[0]} exited {rc}: {open(err_path, 'rb').read()[-500:]!r}")
    finally:
        if p.returncode is None:
            reap(p, signal.SIGKILL, timeout=10)
    r = {"work": work, "cmd": cmd, "attach_s": t_ready - t_exec, "cpu_startup_s": cpu_ready,
         "cpu_s": max(cpu_total - cpu_ready, 0.0), "hwm_kb": hwm, "foreign_tracers": foreign}
    if bpf:
        r["bpf"] = bpf
    return r


def keep_or_delete(args, *paths):
    for path in paths:
        if os.path.exists(path):
            if args.keep:
                shutil.copy(path, args.keep)
            os.unlink(path)


def udp_flow_totals(path, port):
    """Sums a socktrace -u -j output's UDP flows of port: each flow's last
    counts (a flow's update and end events carry totals since its start, so
    they are not added up). A flow is its key fields; a start for a key
    already seen begins a new flow. Also returns the summary object."""
    current, ended = {}, []
    kinds = {}
    summary = None
    with open(path, "rb") as f:
        for line in f:
            if line.startswith(b'{"type":"summary"'):
                summary = json.loads(line)
                continue
            if b'"type":"udp_flow"' not in line:
                continue
            ev = json.loads(line)
            if port not in (ev.get("lport"), ev.get("rport")):
                continue
            kind = ev.get("event")
            kinds[kind] = kinds.get(kind, 0) + 1
            key = tuple(ev.get(k) for k in ("sock", "netns", "pid", "family", "laddr", "lport",
                                            "raddr", "rport"))
            if kind == "start" and key in current:
                ended.append(current.pop(key))
            if kind == "end":
                current.pop(key, None)
                ended.append(ev)
            else:
                current[key] = ev
    flows = ended + list(current.values())
    tot = {k: sum(ev.get(k) or 0 for ev in flows)
           for k in ("tx_packets", "rx_packets", "tx_bytes", "rx_bytes")}
    tot["flows"] = len(flows)
    tot["flows_not_ended"] = len(current)
    tot["flow_events"] = kinds
    return tot, summary


def run_udp_traced(args, config, port, tmpdir, idx):
    out_path = os.path.join(tmpdir, f"udp-{config}-{idx}.out")
    err_path = os.path.join(tmpdir, f"udp-{config}-{idx}.err")
    if config == "bpftrace":
        cmd = [args.bpftrace, "-o", out_path, UDP_BPFTRACE_SCRIPT, str(port)]
        r = run_tool_around(args, cmd, b"Attaching", out_path, err_path, err_path,
                            lambda: run_udpflood(args, port), UDP_TRACER_PROG_NAMES)
    else:
        cmd = [args.socktrace, "-u", "-P", str(port), "-j" if config in JSON_CONFIGS else "-q"]
        cmd += no_dns_args(config)
        if not args.snapshot:
            cmd.append("--no-snapshot")
        cmd += args.socktrace_arg
        margs, murl = metrics_args(config, (port,))
        cmd += margs

        def work():
            scraper, _ = metrics_start(config, murl, port, tcp=False)
            flood = run_udpflood(args, port)
            if scraper:
                flood["metrics"] = scraper.stop()
            return flood

        r = run_tool_around(args, cmd, b"socktrace: tracing", err_path,
                            out_path if config in JSON_CONFIGS else os.devnull, err_path,
                            work, UDP_TRACER_PROG_NAMES)
    flood = r.pop("work")
    if "metrics" in flood:
        r["metrics"] = flood.pop("metrics")
    r.update(config=config, flood=flood, lost=0, udp_uncounted=None, counted=None)
    # what the flood did, per socket and direction: each datagram is sent
    # once and received once
    r["expected_packets"] = (flood["requests"] + flood["server_rx"] + flood["server_tx"]
                             + flood["responses"])
    r["expected_bytes"] = r["expected_packets"] * flood["size"]
    err = open(err_path, "rb").read()
    if config == "bpftrace":
        out = open(out_path, "rb").read() if os.path.exists(out_path) else b""
        maps = {k.decode(): int(v) for k, v in BT_MAP_RE.findall(out)}
        r["lost"] = sum(int(x) for x in BT_LOST_RE.findall(out + err))
        r["counted"] = maps.get("tx_packets", 0) + maps.get("rx_packets", 0)
        r["counted_bytes"] = maps.get("tx_bytes", 0) + maps.get("rx_bytes", 0)
        r["flow_events"] = {}
    else:
        m = ST_SUMMARY_RE.search(err)
        if not m:
            raise BenchError(f"no summary line on socktrace's stderr: {err[-500:]!r}")
        r["tool_events"], r["lost"] = int(m.group(1)), int(m.group(3))
        m = ST_UNCOUNTED_RE.search(err)
        r["udp_uncounted"] = int(m.group(1)) if m else 0
        # quiet: the flow events socktrace counted without printing them
        r["flow_events"] = {"counted": r["tool_events"]}
        if config in JSON_CONFIGS:
            tot, summary = udp_flow_totals(out_path, port)
            if summary is None:
                raise BenchError("no summary object in socktrace's JSON output")
            r["lost"] = summary.get("lost", r["lost"])
            r["udp_uncounted"] = summary.get("udp_uncounted", r["udp_uncounted"])
            r["udp_flows"] = summary.get("udp_flows")
            r["flow_events"] = tot.pop("flow_events")
            r["counted"] = tot["tx_packets"] + tot["rx_packets"]
            r["counted_bytes"] = tot["tx_bytes"] + tot["rx_bytes"]
            r["flows"] = tot
    r["out_bytes"] = os.path.getsize(out_path) if os.path.exists(out_path) else None
    keep_or_delete(args, out_path, err_path)
    return r


def connects_report(path, port, alert_ms):
    """Counts a socktrace --connects -j output's attempts to port: outcomes,
    SYN retransmits (of the attempts that ended in SYN_SENT, which is all
    but the filler), alerts (and attempts that got other than one alert at
    alert_ms plus one per retransmit), connect_stats, summary."""
    rep = {"attempts": 0, "outcomes": {}, "syn_retrans": 0, "alerts": 0, "alert_mismatch": 0,
           "connect_stats": None, "summary": None}
    alerts = {}
    attempts = []
    with open(path, "rb") as f:
        for line in f:
            ev = json.loads(line)
            t = ev.get("type")
            if t == "summary":
                rep["summary"] = ev
            elif t == "connect_stats" and ev.get("rport") == port:
                rep["connect_stats"] = ev
            elif t == "syn_alert" and ev.get("rport") == port:
                rep["alerts"] += 1
                alerts[ev.get("sock")] = alerts.get(ev.get("sock"), 0) + 1
            elif t == "connect" and ev.get("rport") == port:
                rep["attempts"] += 1
                o = ev.get("outcome")
                rep["outcomes"][o] = rep["outcomes"].get(o, 0) + 1
                if o != "established":
                    rep["syn_retrans"] += ev.get("syn_retrans") or 0
                    attempts.append(ev)
    # one alert when an attempt has been in SYN_SENT alert_ms, then one at
    # each retransmit: exact when alert_ms comes before the first (1 s)
    if alert_ms < 1000:
        for ev in attempts:
            want = (1 if (ev.get("elapsed_ms") or 0) >= alert_ms else 0) + (ev.get("syn_retrans") or 0)
            if alerts.get(ev.get("sock"), 0) != want:
                rep["alert_mismatch"] += 1
        rep["alerts_expected"] = sum((1 if (ev.get("elapsed_ms") or 0) >= alert_ms else 0)
                                     + (ev.get("syn_retrans") or 0) for ev in attempts)
    else:
        rep["alerts_expected"] = None
    return rep


def run_synhang_traced(args, port, tmpdir, idx):
    out_path = os.path.join(tmpdir, f"synhang-{idx}.out")
    err_path = os.path.join(tmpdir, f"synhang-{idx}.err")
    cmd = [args.socktrace, "--connects", "-j", "--syn-alert", str(args.syn_alert), "-P", str(port)]
    if not args.snapshot:
        cmd.append("--no-snapshot")
    cmd += args.socktrace_arg
    r = run_tool_around(args, cmd, b"socktrace: tracing", err_path, out_path, err_path,
                        lambda: run_synhang(args, port), TRACER_PROG_NAMES)
    r["hang"] = r.pop("work")
    rep = connects_report(out_path, port, args.syn_alert)
    if rep["summary"] is None:
        raise BenchError("no summary object in socktrace's JSON output")
    r["report"] = rep
    r["lost"] = rep["summary"].get("lost", 0)
    r["out_bytes"] = os.path.getsize(out_path)
    keep_or_delete(args, out_path, err_path)
    return r


def run_udp_pairs(args, udp_configs, port, tmpdir, udp_pairs, failures, results):
    """--pairs rounds of an untraced and a traced UDP flood per configuration."""
    log(f"run.py: udp: {', '.join(udp_configs)}; {args.pairs} pairs of {args.seconds:g}s floods "
        f"on port {port} (IPv{args.family}, {args.udp_clients} client(s), window "
        f"{args.udp_window}, {args.udp_size} bytes, "
        + (f"CPU {args.udp_cpu})" if args.udp_cpu >= 0 else "not pinned)"))
    results["udp"] = {"port": port, "runs": {c: [] for c in udp_configs}}
    for i in range(args.pairs):
        for c in udp_configs:
            pair = run_pair(args, i, f"udp {c:8s}", "udp-" + c, lambda: run_udpflood(args, port),
                            lambda: run_udp_traced(args, c, port, tmpdir, i), failures,
                            UDP_TRACER_PROG_NAMES)
            if not pair:
                continue
            a, b = pair
            udp_pairs[c].append((a, b))
            results["udp"]["runs"][c].append({"untraced": a, "traced": b})
            log(f"run.py: [{i + 1}/{args.pairs}] udp {c:8s} untraced {a['rate']:8.0f}/s  "
                f"traced {b['flood']['rate']:8.0f}/s  ratio {b['flood']['rate'] / a['rate']:.3f}  "
                + (f"packets {b['counted']}/{b['expected_packets']}  " if b["counted"] is not None
                   else "")
                + f"lost {b['lost']}  uncounted {fmt(b['udp_uncounted'], 'd')}  cpu {b['cpu_s']:.2f}s"
                + metrics_log(b) + foreign_note(a, b))


def run_synhang_pairs(args, port, tmpdir, syn_pairs, failures, results):
    """--pairs rounds of an untraced and a traced synhang run."""
    log(f"run.py: synhang: {args.pairs} pairs of {args.synhang_attempts} attempts held "
        f"{args.synhang_seconds:g}s on port {port} (IPv{args.family}), --syn-alert {args.syn_alert}")
    results["synhang"] = {"port": port, "runs": []}
    for i in range(args.pairs):
        pair = run_pair(args, i, "synhang", "synhang", lambda: run_synhang(args, port),
                        lambda: run_synhang_traced(args, port, tmpdir, i), failures, None)
        if not pair:
            continue
        a, b = pair
        syn_pairs.append((a, b))
        results["synhang"]["runs"].append({"untraced": a, "traced": b})
        rep = b["report"]
        log(f"run.py: [{i + 1}/{args.pairs}] synhang untraced {a['wall_s']:.3f}s  traced "
            f"{b['hang']['wall_s']:.3f}s  attempts {rep['attempts']}/{b['hang']['attempts'] + 1}  "
            f"outcomes {rep['outcomes']}  retrans {rep['syn_retrans']}/"
            f"{b['hang']['syn_retrans_observed']}  alerts {rep['alerts']}/"
            f"{fmt(rep['alerts_expected'], 'd')}  lost {b['lost']}  cpu {b['cpu_s']:.3f}s")


def summarize_udp(config, pairs):
    traced = [b for _, b in pairs]
    ratios = [b["flood"]["rate"] / a["rate"] for a, b in pairs]
    counted = [b for b in traced if b["counted"] is not None]
    unc = [b["udp_uncounted"] for b in traced if b["udp_uncounted"] is not None]
    return {
        "config": config,
        "label": UDP_CONFIGS[config],
        "pairs": len(pairs),
        "ratio_median": med(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
        "ratios": ratios,
        "untraced_rate_median": med([a["rate"] for a, _ in pairs]),
        "traced_rate_median": med([b["flood"]["rate"] for b in traced]),
        "datagrams": sum(b["flood"]["datagrams"] for b in traced),
        "flow_events": sum(sum(b["flow_events"].values()) for b in traced),
        "flow_events_by_kind": {k: sum(b["flow_events"].get(k, 0) for b in traced)
                                for k in ("start", "update", "end")},
        "counted": sum(b["counted"] for b in counted) if counted else None,
        "expected": sum(b["expected_packets"] for b in counted) if counted else None,
        "difference": (sum(b["expected_packets"] - b["counted"] for b in counted)
                       if counted else None),
        "bytes_difference": (sum(b["expected_bytes"] - b["counted_bytes"] for b in counted)
                             if counted else None),
        "lost": sum(b["lost"] for b in traced),
        "udp_uncounted": sum(unc) if unc else None,
        "timeouts": sum(b["flood"]["timeouts"] for b in traced),
        "tool_cpu_ns_per_datagram_median": med([b["cpu_s"] / b["flood"]["datagrams"] * 1e9
                                                if b["flood"]["datagrams"] else None for b in traced]),
        "cpu_util_median": med([b["cpu_s"] / b["flood"]["seconds"] for b in traced]),
        "flood_cpu_us_per_datagram_untraced": med([a["cpu_s"] / a["datagrams"] * 1e6
                                                   for a, _ in pairs if a["datagrams"]]),
        "flood_cpu_us_per_datagram_traced": med([b["flood"]["cpu_s"] / b["flood"]["datagrams"] * 1e6
                                                 for b in traced if b["flood"]["datagrams"]]),
        "hwm_mib_median": med([b["hwm_kb"] / 1024 if b["hwm_kb"] else None for b in traced]),
        "attach_s_median": med([b["attach_s"] for b in traced]),
        "pairs_with_foreign_tracers": sum(1 for a, b in pairs
                                          if a.get("foreign_tracers") or b.get("foreign_tracers")),
        # with --bpf-stats: the tool's BPF programs, per call and per datagram
        "bpf_ns_per_call_median": med([b["bpf"]["run_time_ns"] / b["bpf"]["run_cnt"]
                                       for b in traced if b.get("bpf") and b["bpf"]["run_cnt"]]),
        "bpf_calls_per_datagram_median": med([b["bpf"]["run_cnt"] / b["flood"]["datagrams"]
                                              for b in traced if b.get("bpf")
                                              and b["flood"]["datagrams"]]),
        "bpf_ns_per_datagram_median": med([b["bpf"]["run_time_ns"] / b["flood"]["datagrams"]
                                           for b in traced if b.get("bpf")
                                           and b["flood"]["datagrams"]]),
        "bpf_progs": bpf_per_prog(traced, lambda b: b["flood"]["datagrams"]),
        "hwm_mib_max": max([b["hwm_kb"] / 1024 for b in traced if b["hwm_kb"]], default=None),
        "metrics": metrics_summary(traced),
    }


def summarize_synhang(pairs):
    traced = [b for _, b in pairs]
    ratios = [b["hang"]["wall_s"] / a["wall_s"] for a, b in pairs]
    outcomes = {}
    for b in traced:
        for k, v in b["report"]["outcomes"].items():
            outcomes[k] = outcomes.get(k, 0) + v
    exp_alerts = [b["report"]["alerts_expected"] for b in traced]
    stats_ok = sum(1 for b in traced if b["report"]["connect_stats"]
                   and b["report"]["connect_stats"].get("attempts") == b["report"]["attempts"])
    return {
        "pairs": len(pairs),
        "wall_ratio_median": med(ratios), "wall_ratio_min": min(ratios),
        "wall_ratio_max": max(ratios), "ratios": ratios,
        "untraced_wall_s_median": med([a["wall_s"] for a, _ in pairs]),
        "traced_wall_s_median": med([b["hang"]["wall_s"] for b in traced]),
        # the filler connection is an attempt too (established)
        "attempts_made": sum(b["hang"]["attempts"] + b["hang"]["filler"] for b in traced),
        "attempts_reported": sum(b["report"]["attempts"] for b in traced),
        "hangs_made": sum(b["hang"]["attempts"] for b in traced),
        "outcomes": outcomes,
        "syn_retrans_reported": sum(b["report"]["syn_retrans"] for b in traced),
        "syn_retrans_observed": sum(b["hang"]["syn_retrans_observed"] for b in traced),
        "syn_retrans_expected": sum(b["hang"]["syn_retrans_expected"] for b in traced),
        "alerts": sum(b["report"]["alerts"] for b in traced),
        "alerts_expected": sum(exp_alerts) if None not in exp_alerts else None,
        "alert_mismatch": sum(b["report"]["alert_mismatch"] for b in traced),
        "connect_stats_agree": stats_ok,
        "lost": sum(b["lost"] for b in traced),
        "not_syn_sent": sum(b["hang"]["not_syn_sent"] for b in traced)
                        + sum(a["not_syn_sent"] for a, _ in pairs),
        "tool_cpu_ms_median": med([b["cpu_s"] * 1e3 for b in traced]),
        "tool_cpu_us_per_event_median": med([b["cpu_s"] * 1e6 / (b["report"]["attempts"]
                                                                 + b["report"]["alerts"])
                                             for b in traced
                                             if b["report"]["attempts"] + b["report"]["alerts"]]),
        "hwm_mib_median": med([b["hwm_kb"] / 1024 if b["hwm_kb"] else None for b in traced]),
        "attach_s_median": med([b["attach_s"] for b in traced]),
    }


def yes(ok):
    return "yes" if ok else "NO"


def print_udp(summaries, args, out=sys.stdout):
    if not summaries:
        return
    print(f"\nUDP flood: {args.pairs} pairs x {args.seconds:g}s, {args.udp_clients} client(s), "
          f"window {args.udp_window}, {args.udp_size}-byte datagrams, IPv{args.family}, "
          + (f"pinned to CPU {args.udp_cpu}" if args.udp_cpu >= 0 else "not pinned") + "\n", file=out)
    rows = []
    for s in summaries:
        rows.append([
            s["label"],
            f"{s['ratio_median']:.3f} [{s['ratio_min']:.3f}-{s['ratio_max']:.3f}]",
            f"{s['untraced_rate_median']:.0f}", f"{s['traced_rate_median']:.0f}",
            str(s["flow_events"]),
            "-" if s["counted"] is None else f"{s['counted']} / {s['expected']}",
            fmt(s["difference"], "d"), str(s["lost"]), fmt(s["udp_uncounted"], "d"),
            fmt(s["tool_cpu_ns_per_datagram_median"], ".0f"),
            fmt(s["cpu_util_median"] * 100 if s["cpu_util_median"] is not None else None, ".1f"),
            f"{fmt(s['flood_cpu_us_per_datagram_untraced'], '.2f')} / "
            f"{fmt(s['flood_cpu_us_per_datagram_traced'], '.2f')}",
            fmt(s["hwm_mib_median"], ".1f"), fmt(s["attach_s_median"], ".3f"),
        ])
    table(["configuration", "rate ratio median [min-max]", "untraced datagrams/s",
           "traced datagrams/s", "flow events", "packets counted / made", "difference", "lost",
           "uncounted", "tool CPU ns/datagram", "tool CPU %", "flood CPU us/datagram untraced / traced",
           "peak RSS MiB", "attach s"], rows, out)
    if any(s["bpf_ns_per_call_median"] is not None for s in summaries):
        print("", file=out)
        table(["configuration", "BPF ns/call", "BPF calls/datagram", "BPF ns/datagram"],
              [[s["label"], fmt(s["bpf_ns_per_call_median"], ".0f"),
                fmt(s["bpf_calls_per_datagram_median"], ".2f"),
                fmt(s["bpf_ns_per_datagram_median"], ".0f")] for s in summaries], out)
        print_bpf_progs(summaries, "datagram", out)
    noisy = [s for s in summaries if s["pairs_with_foreign_tracers"]]
    if noisy:
        print("\nwarning: other processes had UDP tracers attached during "
              + ", ".join(f"{s['pairs_with_foreign_tracers']}/{s['pairs']} pairs of {s['config']}"
                          for s in noisy), file=out)
    for s in summaries:
        if s["config"] != "json":
            continue
        print(f"udp targets ({s['label']}): ratio {s['ratio_median']:.3f} >= {UDP_TARGET_RATIO}: "
              f"{yes(s['ratio_median'] >= UDP_TARGET_RATIO)} "
              f"(min-max {s['ratio_min']:.3f}-{s['ratio_max']:.3f}); lost {s['lost']}, uncounted "
              f"{fmt(s['udp_uncounted'], 'd')}: {yes(s['lost'] == 0 and not s['udp_uncounted'])}; "
              f"packets counted = made: {yes(s['difference'] == 0)} (difference {s['difference']}, "
              f"bytes {s['bytes_difference']}); flow events {s['flow_events_by_kind']}", file=out)


def print_synhang(s, args, out=sys.stdout):
    if not s:
        return
    print(f"\nSYN_SENT hangs: {s['pairs']} pairs, {args.synhang_attempts} attempts held "
          f"{args.synhang_seconds:g}s, socktrace --connects -j --syn-alert {args.syn_alert}\n",
          file=out)
    table(["generator wall s untraced / traced", "ratio median [min-max]",
           "attempts reported / made", "outcomes", "SYN retransmits reported / observed / expected",
           "alerts raised / expected", "lost", "tool CPU ms/run", "tool CPU us/event",
           "peak RSS MiB", "attach s"],
          [[f"{s['untraced_wall_s_median']:.3f} / {s['traced_wall_s_median']:.3f}",
            f"{s['wall_ratio_median']:.3f} [{s['wall_ratio_min']:.3f}-{s['wall_ratio_max']:.3f}]",
            f"{s['attempts_reported']} / {s['attempts_made']}",
            " ".join(f"{k} {v}" for k, v in sorted(s["outcomes"].items())),
            f"{s['syn_retrans_reported']} / {s['syn_retrans_observed']} / {s['syn_retrans_expected']}",
            f"{s['alerts']} / {fmt(s['alerts_expected'], 'd')}", str(s["lost"]),
            fmt(s["tool_cpu_ms_median"], ".1f"), fmt(s["tool_cpu_us_per_event_median"], ".1f"),
            fmt(s["hwm_mib_median"], ".1f"), fmt(s["attach_s_median"], ".3f")]], out)
    checks = [f"attempts {s['attempts_reported']} = {s['attempts_made']}: "
              + yes(s["attempts_reported"] == s["attempts_made"]),
              f"aborted {s['outcomes'].get('aborted', 0)} = {s['hangs_made']}: "
              + yes(s["outcomes"].get("aborted", 0) == s["hangs_made"]),
              f"SYN retransmits {s['syn_retrans_reported']} = {s['syn_retrans_observed']}: "
              + yes(s["syn_retrans_reported"] == s["syn_retrans_observed"]),
              f"alerts {s['alerts']} = {fmt(s['alerts_expected'], 'd')}: "
              + yes(s["alerts"] == s["alerts_expected"] and not s["alert_mismatch"]),
              f"lost {s['lost']}: " + yes(s["lost"] == 0),
              f"connect_stats agree in {s['connect_stats_agree']}/{s['pairs']} runs"]
    if s["not_syn_sent"]:
        checks.append(f"{s['not_syn_sent']} attempts were not in SYN_SENT at the end: VOID")
    print("synhang checks: " + "; ".join(checks), file=out)


# ---- TCP request/response ----

TCPRR_CONFIGS = {
    "json": "socktrace -j > file",
    "quiet": "socktrace -q (count only)",
    # diagnostic: TCP only. socktrace before the owners-by-I/O hook attached
    # nothing to send and receive then; since, its tcp_io programs
    "tcponly": "socktrace -t -q (TCP only)",
}
DEFAULT_TCPRR_CONFIGS = "json,quiet"
# the connection's transitions (bench/tcprr.c): as the storm's, 10 per
# connection, and the listener's two per run
TCPRR_TRANSITIONS = 10
# transitions of a server-side socket after its server process took it
# over: the ones out of ESTABLISHED, CLOSE_WAIT and LAST_ACK
TCPRR_SERVED_OLD = ("ESTABLISHED", "CLOSE_WAIT", "LAST_ACK")
# names of BPF programs that run on every TCP send or receive: socktrace's
# tcp_io variants (io_send_btf, tcp_send_fentry...), its older UDP programs
# on the same tracepoints (udp_send_btf), others named after them,
# bpftrace's (cut to 15 characters)
TCPRR_TRACER_PROG_NAMES = ("io_send", "io_recv", "tcp_send", "tcp_recv", "udp_send_btf",
                           "udp_recv_btf", "sock_send", "sock_recv", "tracepoint__soc")


def run_tcprr(args, port):
    cmd = [os.path.join(args.bin, "tcprr"), "-p", str(port), "-t", str(args.seconds),
           "-s", str(args.tcprr_size), "-c", str(args.tcprr_clients), "-w", str(args.tcprr_window)]
    if args.tcprr_cpu >= 0:
        cmd += ["-a", str(args.tcprr_cpu)]
    if args.family == 6:
        cmd.append("-6")
    res = run_generator("tcprr", cmd, args.seconds + 40)
    # TCP loses nothing: an error is a broken run, not a figure
    if res.get("errors"):
        raise BenchError(f"tcprr had {res['errors']} errors")
    if res.get("connections") != args.tcprr_clients:
        raise BenchError(f"tcprr made {res.get('connections')} connections, not {args.tcprr_clients}")
    if res.get("stray"):
        log(f"run.py: warning: tcprr: {res['stray']} connections from other processes to its port")
    return res


def tcprr_report(path, server_pids):
    """tcp_state events of a socktrace -j output (it filters the port
    itself), the server-side ones after the takeover whose owner is a
    process that served a connection, and the summary object."""
    rep = {"transitions": 0, "served": 0, "served_by_server": 0, "owners": {}, "summary": None}
    with open(path, "rb") as f:
        for line in f:
            if line.startswith(b'{"type":"summary"'):
                rep["summary"] = json.loads(line)
                continue
            if b'"type":"tcp_state"' not in line:
                continue
            ev = json.loads(line)
            rep["transitions"] += 1
            if ev.get("role") == "server" and ev.get("old") in TCPRR_SERVED_OLD:
                rep["served"] += 1
                o = ev.get("owner")
                rep["owners"][o] = rep["owners"].get(o, 0) + 1
                if ev.get("pid") in server_pids:
                    rep["served_by_server"] += 1
    return rep


def run_tcprr_traced(args, config, port, tmpdir, idx):
    out_path = os.path.join(tmpdir, f"tcprr-{config}-{idx}.out")
    err_path = os.path.join(tmpdir, f"tcprr-{config}-{idx}.err")
    cmd = [args.socktrace, "-P", str(port), "-j" if config == "json" else "-q"]
    if config == "tcponly":
        cmd.append("-t")
    if not args.snapshot:
        cmd.append("--no-snapshot")
    cmd += args.socktrace_arg
    r = run_tool_around(args, cmd, b"socktrace: tracing", err_path,
                        out_path if config == "json" else os.devnull, err_path,
                        lambda: run_tcprr(args, port), TCPRR_TRACER_PROG_NAMES)
    rr = r.pop("work")
    r.update(config=config, rr=rr, expected=rr["connections"] * TCPRR_TRANSITIONS
             + LISTENER_TRANSITIONS, report=None)
    err = open(err_path, "rb").read()
    m = ST_SUMMARY_RE.search(err)
    if not m:
        raise BenchError(f"no summary line on socktrace's stderr: {err[-500:]!r}")
    r["tool_events"], r["lost"] = int(m.group(1)), int(m.group(3))
    r["reported"] = r["tool_events"]
    if config == "json":
        rep = tcprr_report(out_path, set(rr["server_pids"]))
        if rep["summary"] is None:
            raise BenchError("no summary object in socktrace's JSON output")
        r["report"] = rep
        r["reported"] = rep["transitions"]
        r["lost"] = rep["summary"].get("lost", r["lost"])
    r["out_bytes"] = os.path.getsize(out_path) if os.path.exists(out_path) else None
    keep_or_delete(args, out_path, err_path)
    return r


def run_tcprr_pairs(args, configs, port, tmpdir, rr_pairs, failures, results):
    """--pairs rounds of an untraced and a traced tcprr run per configuration."""
    log(f"run.py: tcprr: {', '.join(configs)}; {args.pairs} pairs of {args.seconds:g}s runs "
        f"on port {port} (IPv{args.family}, {args.tcprr_clients} connection(s), window "
        f"{args.tcprr_window}, {args.tcprr_size} bytes, "
        + (f"CPU {args.tcprr_cpu})" if args.tcprr_cpu >= 0 else "not pinned)"))
    results["tcprr"] = {"port": port, "runs": {c: [] for c in configs}}
    for i in range(args.pairs):
        for c in configs:
            pair = run_pair(args, i, f"tcprr {c:8s}", "tcprr-" + c, lambda: run_tcprr(args, port),
                            lambda: run_tcprr_traced(args, c, port, tmpdir, i), failures,
                            TCPRR_TRACER_PROG_NAMES)
            if not pair:
                continue
            a, b = pair
            rr_pairs[c].append((a, b))
            results["tcprr"]["runs"][c].append({"untraced": a, "traced": b})
            rep = b["report"]
            log(f"run.py: [{i + 1}/{args.pairs}] tcprr {c:8s} untraced {a['rate']:8.0f}/s  "
                f"traced {b['rr']['rate']:8.0f}/s  ratio {b['rr']['rate'] / a['rate']:.3f}  "
                f"transitions {b['reported']}/{b['expected']}  "
                + (f"served {rep['served_by_server']}/{rep['served']}  " if rep else "")
                + f"lost {b['lost']}  cpu {b['cpu_s']:.2f}s" + foreign_note(a, b))


def bpf_per_prog(traced, units):
    """Per BPF program of the tool (--bpf-stats): ns per call and calls per
    unit of work (units(run): messages, datagrams), medians over the runs.
    run_cnt counts every call while the tool ran, the host's other sockets'
    included."""
    names = sorted({n for b in traced if b.get("bpf") for n, p in b["bpf"]["progs"].items()
                    if p["run_cnt"]})
    out = {}
    for n in names:
        rs = [(b["bpf"]["progs"][n], units(b)) for b in traced
              if b.get("bpf") and b["bpf"]["progs"].get(n, {}).get("run_cnt")]
        out[n] = {"ns_per_call_median": med([p["run_time_ns"] / p["run_cnt"] for p, _ in rs]),
                  "ns_per_call_min": min(p["run_time_ns"] / p["run_cnt"] for p, _ in rs),
                  "ns_per_call_max": max(p["run_time_ns"] / p["run_cnt"] for p, _ in rs),
                  "calls_per_unit_median": med([p["run_cnt"] / u if u else None for p, u in rs])}
    return out


def summarize_tcprr(config, pairs):
    traced = [b for _, b in pairs]
    ratios = [b["rr"]["rate"] / a["rate"] for a, b in pairs]
    # per pair, untraced CPU per message over traced: what the rate ratio
    # would be if the pinned CPU were the workload's alone
    cpu_ratios = [(a["cpu_s"] / a["messages"]) / (b["rr"]["cpu_s"] / b["rr"]["messages"])
                  for a, b in pairs if a["messages"] and b["rr"]["messages"] and b["rr"]["cpu_s"]]
    reps = [b["report"] for b in traced if b["report"]]
    s = {
        "config": config,
        "label": TCPRR_CONFIGS[config],
        "pairs": len(pairs),
        "ratio_median": med(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
        "ratios": ratios,
        "cpu_ratio_median": med(cpu_ratios),
        "cpu_ratio_min": min(cpu_ratios, default=None),
        "cpu_ratio_max": max(cpu_ratios, default=None),
        "untraced_rate_median": med([a["rate"] for a, _ in pairs]),
        "traced_rate_median": med([b["rr"]["rate"] for b in traced]),
        "messages": sum(b["rr"]["messages"] for b in traced),
        "io_calls": sum(b["rr"]["io_calls"] for b in traced),
        "reported": sum(b["reported"] for b in traced),
        "expected": sum(b["expected"] for b in traced),
        "served": sum(r["served"] for r in reps) if reps else None,
        "served_by_server": sum(r["served_by_server"] for r in reps) if reps else None,
        "owners": {k: sum(r["owners"].get(k, 0) for r in reps)
                   for k in sorted({k for r in reps for k in r["owners"]})},
        "lost": sum(b["lost"] for b in traced),
        "tool_cpu_ns_per_message_median": med([b["cpu_s"] / b["rr"]["messages"] * 1e9
                                               if b["rr"]["messages"] else None for b in traced]),
        "cpu_util_median": med([b["cpu_s"] / b["rr"]["seconds"] for b in traced]),
        "rr_cpu_us_per_message_untraced": med([a["cpu_s"] / a["messages"] * 1e6
                                               for a, _ in pairs if a["messages"]]),
        "rr_cpu_us_per_message_traced": med([b["rr"]["cpu_s"] / b["rr"]["messages"] * 1e6
                                             for b in traced if b["rr"]["messages"]]),
        "hwm_mib_median": med([b["hwm_kb"] / 1024 if b["hwm_kb"] else None for b in traced]),
        "attach_s_median": med([b["attach_s"] for b in traced]),
        "pairs_with_foreign_tracers": sum(1 for a, b in pairs
                                          if a.get("foreign_tracers") or b.get("foreign_tracers")),
        "bpf_ns_per_call_median": med([b["bpf"]["run_time_ns"] / b["bpf"]["run_cnt"]
                                       for b in traced if b.get("bpf") and b["bpf"]["run_cnt"]]),
        "bpf_calls_per_message_median": med([b["bpf"]["run_cnt"] / b["rr"]["messages"]
                                             for b in traced if b.get("bpf") and b["rr"]["messages"]]),
        "bpf_ns_per_message_median": med([b["bpf"]["run_time_ns"] / b["rr"]["messages"]
                                          for b in traced if b.get("bpf") and b["rr"]["messages"]]),
        "bpf_progs": bpf_per_prog(traced, lambda b: b["rr"]["messages"]),
    }
    return s


def print_bpf_progs(summaries, unit, out):
    rows = [[s["label"], name, f"{fmt(p['ns_per_call_median'], '.0f')} "
             f"[{fmt(p['ns_per_call_min'], '.0f')}-{fmt(p['ns_per_call_max'], '.0f')}]",
             fmt(p["calls_per_unit_median"], ".3f")]
            for s in summaries for name, p in s.get("bpf_progs", {}).items()]
    if rows:
        print("", file=out)
        table(["configuration", "BPF program", "ns/call median [min-max]", f"calls/{unit}"],
              rows, out)


def print_tcprr(summaries, args, out=sys.stdout):
    if not summaries:
        return
    print(f"\nTCP request/response: {args.pairs} pairs x {args.seconds:g}s, {args.tcprr_clients} "
          f"connection(s), window {args.tcprr_window}, {args.tcprr_size}-byte messages, "
          f"IPv{args.family}, "
          + (f"pinned to CPU {args.tcprr_cpu}" if args.tcprr_cpu >= 0 else "not pinned") + "\n",
          file=out)
    rows = []
    for s in summaries:
        rows.append([
            s["label"],
            f"{s['ratio_median']:.3f} [{s['ratio_min']:.3f}-{s['ratio_max']:.3f}]",
            f"{fmt(s['cpu_ratio_median'], '.3f')} [{fmt(s['cpu_ratio_min'], '.3f')}-"
            f"{fmt(s['cpu_ratio_max'], '.3f')}]",
            f"{s['untraced_rate_median']:.0f}", f"{s['traced_rate_median']:.0f}",
            f"{s['reported']} / {s['expected']}",
            "-" if s["served"] is None else f"{s['served_by_server']} / {s['served']}",
            str(s["lost"]),
            fmt(s["tool_cpu_ns_per_message_median"], ".0f"),
            f"{fmt(s['rr_cpu_us_per_message_untraced'], '.2f')} / "
            f"{fmt(s['rr_cpu_us_per_message_traced'], '.2f')}",
            fmt(s["hwm_mib_median"], ".1f"), fmt(s["attach_s_median"], ".3f"),
        ])
    table(["configuration", "rate ratio median [min-max]", "CPU ratio median [min-max]",
           "untraced messages/s", "traced messages/s", "transitions reported / made",
           "served: owner = server process", "lost", "tool CPU ns/message",
           "rr CPU us/message untraced / traced", "peak RSS MiB", "attach s"], rows, out)
    if any(s["bpf_ns_per_call_median"] is not None for s in summaries):
        print("", file=out)
        table(["configuration", "BPF ns/call", "BPF calls/message", "BPF ns/message"],
              [[s["label"], fmt(s["bpf_ns_per_call_median"], ".0f"),
                fmt(s["bpf_calls_per_message_median"], ".2f"),
                fmt(s["bpf_ns_per_message_median"], ".0f")] for s in summaries], out)
        print_bpf_progs(summaries, "message", out)
    noisy = [s for s in summaries if s["pairs_with_foreign_tracers"]]
    if noisy:
        print("\nwarning: other processes had TCP send/receive tracers attached during "
              + ", ".join(f"{s['pairs_with_foreign_tracers']}/{s['pairs']} pairs of {s['config']}"
                          for s in noisy) + ": they slow untraced runs too", file=out)
    for s in summaries:
        checks = [f"transitions {s['reported']} = {s['expected']}: "
                  + yes(s["reported"] == s["expected"]),
                  f"lost {s['lost']}: " + yes(s["lost"] == 0)]
        if s["served"] is not None:
            checks.append(f"owners after the takeover {s['owners']}")
        print(f"tcprr checks ({s['label']}): " + "; ".join(checks), file=out)


# ---- the report ----

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(config, pairs):
    traced = [b for _, b in pairs]
    ratios = [b["storm"]["rate"] / a["rate"] for a, b in pairs]
    printed = sum(b["printed"] for b in traced)
    expected = sum(b["expected"] for b in traced)
    # CPU per connection: the storm's own (user+sys of both its processes,
    # which includes the kernel-side BPF programs and the loopback softirqs
    # they run), and the tool's
    storm_u = med([a["cpu_s"] / a["connections"] * 1e6 for a, _ in pairs])
    storm_t = med([b["storm"]["cpu_s"] / b["storm"]["connections"] * 1e6 for b in traced])
    tool = med([b["cpu_s"] / b["storm"]["connections"] * 1e6 for b in traced])
    s = {
        "config": config,
        "label": CONFIGS[config],
        "pairs": len(pairs),
        "ratio_median": med(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "ratios": ratios,
        "untraced_rate_median": med([a["rate"] for a, _ in pairs]),
        "traced_rate_median": med([b["storm"]["rate"] for b in traced]),
        "events_per_s_median": med([b["printed"] / b["storm"]["seconds"] for b in traced]),
        "printed": printed,
        "expected": expected,
        "missing": expected - printed,
        "lost": sum(b.get("lost", 0) for b in traced),
        "cpu_us_per_event_median": med([b["cpu_s"] / b["printed"] * 1e6 if b["printed"] else None
                                        for b in traced]),
        "cpu_util_median": med([b["cpu_s"] / b["storm"]["seconds"] for b in traced]),
        "hwm_mib_median": med([b["hwm_kb"] / 1024 if b["hwm_kb"] else None for b in traced]),
        "hwm_mib_max": max([b["hwm_kb"] / 1024 for b in traced if b["hwm_kb"]], default=None),
        "attach_s_median": med([b["attach_s"] for b in traced]),
        "attach_s_min": min(b["attach_s"] for b in traced),
        "attach_s_max": max(b["attach_s"] for b in traced),
        "cpu_startup_s_median": med([b["cpu_startup_s"] for b in traced]),
        "stop_s_median": med([b["stop_s"] for b in traced]),
        "pairs_with_foreign_tracers": sum(1 for a, b in pairs
                                          if a.get("foreign_tracers") or b.get("foreign_tracers")),
        "storm_cpu_us_per_conn_untraced": storm_u,
        "storm_cpu_us_per_conn_traced": storm_t,
        "tool_cpu_us_per_conn": tool,
        # the rate ratio to expect if CPU were the only limit: untraced CPU
        # per connection over traced CPU per connection, the tool's included
        "cpu_ratio": storm_u / (storm_t + tool) if storm_u and storm_t and tool is not None else None,
    }
    rec = [b["record"] for b in traced if b.get("record")]
    if rec:
        bpe = [r["bytes_per_event"] for r in rec if r["bytes_per_event"]]
        ev = sum(r["events"] for r in rec)
        s["record"] = {
            "bytes_per_event_median": med(bpe),
            "bytes_per_event_min": min(bpe, default=None),
            "bytes_per_event_max": max(bpe, default=None),
            "file_bytes": sum(r["file_bytes"] for r in rec),
            "events": ev,
            "bytes_per_event_pooled": sum(r["file_bytes"] for r in rec) / ev if ev else None,
            "lost_in_file": sum(r["lost"] for r in rec),
            "corrupt_blocks": sum(r["corrupt_blocks"] for r in rec),
            "not_clean": sum(1 for r in rec if r["end"] != "clean close"),
            "tool_events": sum(b.get("tool_events", 0) for b in traced),
        }
    bpf = [(b["bpf"], b) for b in traced if b.get("bpf") and b["bpf"]["run_cnt"]]
    if bpf:
        s["bpf_ns_per_call_median"] = med([x["run_time_ns"] / x["run_cnt"] for x, _ in bpf])
        s["bpf_calls_per_conn_median"] = med([x["run_cnt"] / b["storm"]["connections"]
                                              for x, b in bpf])
        s["bpf_us_per_conn_median"] = med([x["run_time_ns"] / 1e3 / b["storm"]["connections"]
                                           for x, b in bpf])
        s["bpf_progs"] = bpf_per_prog(traced, lambda b: b["storm"]["connections"])
    s["metrics"] = metrics_summary(traced)
    return s


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def table(head, rows, out):
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    print(line(head), file=out)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|", file=out)
    for r in rows:
        print(line(r), file=out)


def print_table(summaries, out=sys.stdout):
    head = ["configuration", "rate ratio median [min-max]", "untraced conn/s", "traced conn/s",
            "events/s", "printed / expected", "missing", "lost", "CPU us/event", "CPU %",
            "peak RSS MiB", "attach s median [min-max]"]
    rows = []
    for s in summaries:
        rows.append([
            s["label"],
            f"{s['ratio_median']:.3f} [{s['ratio_min']:.3f}-{s['ratio_max']:.3f}]",
            f"{s['untraced_rate_median']:.0f}",
            f"{s['traced_rate_median']:.0f}",
            f"{s['events_per_s_median']:.0f}",
            f"{s['printed']} / {s['expected']}",
            f"{s['missing']}",
            f"{s['lost']}",
            fmt(s["cpu_us_per_event_median"], ".2f"),
            fmt(s["cpu_util_median"] * 100 if s["cpu_util_median"] is not None else None, ".0f"),
            fmt(s["hwm_mib_median"], ".1f"),
            f"{s['attach_s_median']:.3f} [{s['attach_s_min']:.3f}-{s['attach_s_max']:.3f}]",
        ])
    table(head, rows, out)
    noisy = [s for s in summaries if s["pairs_with_foreign_tracers"]]
    if noisy:
        print("\nwarning: other processes had TCP state tracers attached during "
              + ", ".join(f"{s['pairs_with_foreign_tracers']}/{s['pairs']} pairs of {s['config']}"
                          for s in noisy)
              + ": they slow the storm, untraced runs included", file=out)
    print("", file=out)
    head = ["configuration", "storm CPU us/conn untraced", "storm CPU us/conn traced",
            "tool CPU us/conn", "CPU-bound ratio"]
    bpf = any("bpf_ns_per_call_median" in s for s in summaries)
    if bpf:
        head += ["BPF ns/call", "BPF calls/conn", "BPF us/conn"]
    rows = []
    for s in summaries:
        r = [s["label"], fmt(s["storm_cpu_us_per_conn_untraced"], ".1f"),
             fmt(s["storm_cpu_us_per_conn_traced"], ".1f"), fmt(s["tool_cpu_us_per_conn"], ".1f"),
             fmt(s["cpu_ratio"], ".3f")]
        if bpf:
            r += [fmt(s.get("bpf_ns_per_call_median"), ".0f"),
                  fmt(s.get("bpf_calls_per_conn_median"), ".2f"),
                  fmt(s.get("bpf_us_per_conn_median"), ".1f")]
        rows.append(r)
    table(head, rows, out)
    if bpf:
        print_bpf_progs(summaries, "connection", out)


def print_record(summaries, out=sys.stdout):
    """The recording's size and the issue's targets for it."""
    by = {s["config"]: s for s in summaries}
    s = by.get("record")
    if not s:
        return
    r = s["record"]
    print("", file=out)
    table(["recording", "bytes/event median [min-max]", "bytes/event pooled", "file bytes",
           "events in files / socktrace's count", "lost", "corrupt blocks", "not cleanly closed"],
          [[s["label"],
            f"{fmt(r['bytes_per_event_median'], '.2f')} [{fmt(r['bytes_per_event_min'], '.2f')}-"
            f"{fmt(r['bytes_per_event_max'], '.2f')}]",
            fmt(r["bytes_per_event_pooled"], ".2f"), str(r["file_bytes"]),
            f"{r['events']} / {r['tool_events']}", str(s["lost"]), str(r["corrupt_blocks"]),
            str(r["not_clean"])]], out)
    checks = [f"bytes/event {fmt(r['bytes_per_event_pooled'], '.2f')} <= {RECORD_MAX_BYTES_PER_EVENT}: "
              + ("yes" if r["bytes_per_event_pooled"] is not None
                 and r["bytes_per_event_pooled"] <= RECORD_MAX_BYTES_PER_EVENT else "NO"),
              f"lost {s['lost']} (missing {s['missing']}): " + ("yes" if s["lost"] == 0 else "NO")]
    if "json" in by:
        j = by["json"]
        checks.append(f"ratio {s['ratio_median']:.3f} >= JSON's {j['ratio_median']:.3f}: "
                      + ("yes" if s["ratio_median"] >= j["ratio_median"] else "NO")
                      + f" (min-max {s['ratio_min']:.3f}-{s['ratio_max']:.3f} and "
                      f"{j['ratio_min']:.3f}-{j['ratio_max']:.3f})")
    print("record targets: " + "; ".join(checks), file=out)


def print_replay(rp, out=sys.stdout):
    if not rp:
        return
    n = len(rp["runs"]["json"])
    print(f"\nreplay of the largest recording ({rp['events']} events, {rp['file_bytes']} bytes), "
          f"{n} times each; wall time from exec to exit, start-up included:\n", file=out)
    rows = []
    for mode in ("json", "quiet"):
        m = rp[mode]
        rows.append([m["cmd"],
                     f"{fmt(m['events_per_s_median'], ',.0f')} [{fmt(m['events_per_s_min'], ',.0f')}-"
                     f"{fmt(m['events_per_s_max'], ',.0f')}]",
                     fmt(m["wall_s_median"], ".3f"), fmt(m["cpu_s_median"], ".3f"),
                     fmt(m["events_per_cpu_s_median"], ",.0f")])
    table(["replay", "events/s median [min-max]", "wall s median", "CPU s median",
           "events per CPU s median"], rows, out)


def provenance(args):
    """What was measured: socktrace --version, and the git commit of the
    tree around this script with a flag for uncommitted changes to the
    sources the binary is built from."""
    out = {}
    try:
        out["socktrace_version"] = subprocess.run([args.socktrace, "--version"], capture_output=True,
                                                  timeout=10).stdout.decode().strip()
        root = os.path.dirname(HERE)
        out["git_commit"] = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True,
                                           timeout=10).stdout.decode().strip()
        out["git_dirty"] = bool(subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--", "src", "bpf", "include", "Makefile"],
            capture_output=True, timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def machine():
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        model = ""
    return {"nproc": os.cpu_count(), "kernel": platform.release(), "cpu": model,
            "loadavg": os.getloadavg()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="See bench/README.md.")
    ap.add_argument("--socktrace", default="build/socktrace", help="socktrace binary")
    ap.add_argument("--bin", default="build/bench",
                    help="directory of the workload generators (storm, udpflood, tcprr, synhang)")
    ap.add_argument("--bpftrace", default=shutil.which("bpftrace") or "/usr/bin/bpftrace")
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help="comma-separated workloads (default startup,storm,udp,tcprr,synhang,bulk,dns,dnsq): startup "
                    "(socktrace's own exec to ready and SIGINT to exit), storm (TCP "
                    "connections), udp (UDP request/response flood), tcprr (TCP request/response "
                    "on long-lived connections), synhang (connection attempts hanging in SYN_SENT), "
                    "bulk (one TCP connection streaming), dns (names resolved by dnsmasq on "
                    "loopback, then connected to: how many connections socktrace names)")
    ap.add_argument("--startup-runs", type=int, default=10,
                    help="runs of the startup workload (default 10)")
    ap.add_argument("--startup-idle", type=float, default=0.2,
                    help="seconds between socktrace's ready line and the SIGINT in the startup "
                    "workload (default 0.2)")
    ap.add_argument("--bulk-seconds", type=float, default=4.0,
                    help="length of each bulk transfer (default 4)")
    ap.add_argument("--pairs", type=int, default=7, help="untraced/traced pairs per configuration (default 7)")
    ap.add_argument("--seconds", type=float, default=2.0,
                    help="length of each storm, UDP flood and tcprr run (default 2)")
    ap.add_argument("--configs", default=DEFAULT_CONFIGS,
                    help=f"comma-separated traced configurations of the storm (default {DEFAULT_CONFIGS}); "
                    "diagnostic ones: null (-j > /dev/null), nomatch (-P another port: "
                    "kernel side only); metrics, metricsby (-q --metrics, scraped every second)")
    ap.add_argument("--udp-configs", default=DEFAULT_UDP_CONFIGS,
                    help=f"comma-separated traced configurations of the UDP flood (default "
                    f"{DEFAULT_UDP_CONFIGS}): json (socktrace -u -j > file), quiet (socktrace -u -q), "
                    "bpftrace (bench/udpcount.bt), metrics, metricsby (-u -q --metrics, scraped "
                    "every second)")
    ap.add_argument("--udp-size", type=int, default=64, help="UDP payload bytes (default 64)")
    ap.add_argument("--udp-clients", type=int, default=1, help="UDP flood clients (default 1)")
    ap.add_argument("--udp-window", type=int, default=1,
                    help="requests outstanding per UDP client (default 1: lockstep)")
    ap.add_argument("--udp-cpu", type=int, default=None, metavar="CPU",
                    help="pin the UDP flood's processes to CPU (default: the highest one this "
                    "process may use; --udp-cpu=-1: not pinned). Unpinned, the lockstep rate depends on "
                    "whether the scheduler puts client and server on one CPU (see bench/udpflood.c)")
    ap.add_argument("--tcprr-configs", default=DEFAULT_TCPRR_CONFIGS,
                    help=f"comma-separated traced configurations of tcprr (default "
                    f"{DEFAULT_TCPRR_CONFIGS}): json (socktrace -j > file), quiet (socktrace -q), "
                    "tcponly (socktrace -t -q)")
    ap.add_argument("--tcprr-size", type=int, default=64, help="tcprr message bytes (default 64)")
    ap.add_argument("--tcprr-clients", type=int, default=1,
                    help="tcprr clients, one connection each (default 1)")
    ap.add_argument("--tcprr-window", type=int, default=1,
                    help="requests outstanding per tcprr client (default 1: lockstep)")
    ap.add_argument("--tcprr-cpu", type=int, default=None, metavar="CPU",
                    help="pin tcprr's processes to CPU (default: the highest one this process may "
                    "use; --tcprr-cpu=-1: not pinned), as the UDP flood")
    ap.add_argument("--synhang-attempts", type=int, default=50, metavar="N",
                    help="connection attempts per synhang run (default 50)")
    ap.add_argument("--synhang-seconds", type=float, default=2.5, metavar="S",
                    help="how long synhang holds them (default 2.5: two SYN retransmits each "
                    "on Linux 6.5+)")
    ap.add_argument("--syn-alert", type=int, default=500, metavar="MS",
                    help="socktrace --syn-alert for the synhang workload (default 500)")
    ap.add_argument("--replays", type=int, default=5, metavar="N",
                    help="replay the largest recording N times with -r -j > /dev/null and with "
                    "-r -q (default 5; 0: no replay; needs the record configuration)")
    ap.add_argument("--port", type=int, default=0, help="storm port (default: a free one)")
    ap.add_argument("-6", dest="family", action="store_const", const=6, default=4,
                    help="storm over ::1 instead of 127.0.0.1")
    ap.add_argument("--close", choices=sorted(TRANSITIONS), default="fin",
                    help="how storm connections end (default fin, see bench/storm.c)")
    ap.add_argument("--snapshot", action="store_true",
                    help="let socktrace list existing sockets at start (default --no-snapshot)")
    ap.add_argument("--socktrace-arg", action="append", default=[], metavar="ARG",
                    help="extra socktrace argument, repeatable (e.g. --socktrace-arg=--ringbuf-kb=16384)")
    ap.add_argument("--settle", type=float, default=0.2,
                    help="seconds between the ready line and the storm (default 0.2)")
    ap.add_argument("--drain", type=float, default=0.5,
                    help="seconds between the storm's end and the SIGINT (default 0.5)")
    ap.add_argument("--attach-timeout", type=float, default=60.0)
    ap.add_argument("--wait-quiet", type=float, default=3.0, metavar="S",
                    help="before each pair, wait up to S seconds for other processes' TCP state "
                    "tracers to detach (default 3)")
    ap.add_argument("--calibrate", type=int, default=2000, metavar="N",
                    help="count transitions of N connections with socktrace first (0: skip)")
    ap.add_argument("--bpf-stats", action="store_true",
                    help="enable kernel.bpf_stats_enabled during the run and report ns per BPF call")
    ap.add_argument("--dns-names", type=int, default=3000,
                    help="dns: names resolved and connected to per run (default 3000)")
    ap.add_argument("--keep", metavar="DIR", help="keep the tools' output files in DIR")
    ap.add_argument("--json", metavar="FILE", help="write the results as JSON to FILE")
    args = ap.parse_args()

    workloads = [w for w in args.workloads.split(",") if w]
    for w in workloads:
        if w not in WORKLOADS:
            ap.error(f"unknown workload '{w}' (known: {', '.join(WORKLOADS)})")
    configs = [c for c in args.configs.split(",") if c] if "storm" in workloads else []
    for c in configs:
        if c not in CONFIGS:
            ap.error(f"unknown configuration '{c}' (known: {', '.join(CONFIGS)})")
    udp_configs = [c for c in args.udp_configs.split(",") if c] if "udp" in workloads else []
    for c in udp_configs:
        if c not in UDP_CONFIGS:
            ap.error(f"unknown UDP configuration '{c}' (known: {', '.join(UDP_CONFIGS)})")
    if not 1 <= args.udp_size <= 65000 or not 1 <= args.udp_clients <= 64 \
            or not 1 <= args.udp_window <= 256:
        ap.error("--udp-size 1 to 65000, --udp-clients 1 to 64, --udp-window 1 to 256")
    if args.udp_cpu is None:
        args.udp_cpu = max(os.sched_getaffinity(0))
    tcprr_configs = [c for c in args.tcprr_configs.split(",") if c] if "tcprr" in workloads else []
    for c in tcprr_configs:
        if c not in TCPRR_CONFIGS:
            ap.error(f"unknown tcprr configuration '{c}' (known: {', '.join(TCPRR_CONFIGS)})")
    if not 1 <= args.tcprr_size <= 65000 or not 1 <= args.tcprr_clients <= 64 \
            or not 1 <= args.tcprr_window <= 256 or args.tcprr_size * args.tcprr_window > 65536:
        ap.error("--tcprr-size 1 to 65000, --tcprr-clients 1 to 64, --tcprr-window 1 to 256, "
                 "size x window at most 65536")
    if args.tcprr_cpu is None:
        args.tcprr_cpu = max(os.sched_getaffinity(0))
    if not 1 <= args.synhang_attempts <= 10000 or not 0.1 <= args.synhang_seconds <= 60:
        ap.error("--synhang-attempts 1 to 10000, --synhang-seconds 0.1 to 60")
    if not 1 <= args.startup_runs <= 1000 or not 0 <= args.startup_idle <= 60:
        ap.error("--startup-runs 1 to 1000, --startup-idle 0 to 60")
    if not 1 <= args.dns_names <= 60000:
        ap.error("--dns-names: 1 to 60000")
    if args.pairs < 1 or args.pairs > 1000:
        ap.error("--pairs: 1 to 1000")
    if not 0.1 <= args.seconds <= 600:
        ap.error("--seconds: 0.1 to 600")
    if not 0 <= args.replays <= 100:
        ap.error("--replays: 0 to 100")
    if os.geteuid() != 0:
        sys.exit("run.py: needs root (BPF): sudo make bench")
    gens = {"storm": "storm", "udp": "udpflood", "tcprr": "tcprr", "synhang": "synhang",
            "bulk": "bulk"}
    for path in [args.socktrace] + [os.path.join(args.bin, gens[w]) for w in workloads if w in gens]:
        if not os.access(path, os.X_OK):
            sys.exit(f"run.py: {path} missing: run make first")
    if not os.access(args.bpftrace, os.X_OK):
        for cs in (configs, udp_configs):
            if "bpftrace" in cs:
                log(f"run.py: {args.bpftrace} not found: skipping the bpftrace configuration")
                cs.remove("bpftrace")
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)

    # SIGTERM (and SIGHUP) take the same way out as Ctrl-C: through the
    # finally blocks that kill the children
    def interrupted(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)

    port = args.port or free_port()
    # each workload on a port of its own: no TIME_WAIT or flow of one
    # workload in another's figures
    udp_port = free_port(exclude={port})
    syn_port = free_port(exclude={port, udp_port})
    tcprr_port = free_port(exclude={port, udp_port, syn_port})
    startup_port = free_port(exclude={port, udp_port, syn_port, tcprr_port})
    startup_summary = None
    bulk_port = free_port(exclude={port, udp_port, syn_port, tcprr_port, startup_port})
    bulk_pairs = []
    dns_port = free_port(exclude={port, udp_port, syn_port, tcprr_port, startup_port, bulk_port})
    dns_pairs = []
    dnsq_pairs = []
    stats_old = None
    pairs = {c: [] for c in configs}
    udp_pairs = {c: [] for c in udp_configs}
    rr_pairs = {c: [] for c in tcprr_configs}
    syn_pairs = []
    failures = []
    results = {"machine": machine(), "provenance": provenance(args), "args": vars(args), "port": port,
               "workloads": workloads, "failures": failures,
               "transitions_per_connection": TRANSITIONS[args.close],
               "listener_transitions": LISTENER_TRANSITIONS, "runs": {c: [] for c in configs}}
    t_begin = time.monotonic()
    try:
        if args.bpf_stats:
            with open("/proc/sys/kernel/bpf_stats_enabled") as f:
                stats_old = f.read().strip()
            with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
                f.write("1")
        with tempfile.TemporaryDirectory(prefix="socktrace-bench-") as tmpdir:
            log(f"run.py: workloads {', '.join(workloads)}; {os.cpu_count()} CPUs, "
                f"Linux {platform.release()}")
            # first: the storms leave thousands of TIME_WAIT sockets, which
            # socktrace's start-up lists (owners of existing sockets)
            if "startup" in workloads:
                startup_summary = run_startup(args, startup_port, failures, results)
            if configs:
                log(f"run.py: storm: {', '.join(configs)}; {args.pairs} pairs of {args.seconds:g}s "
                    f"storms on port {port} (IPv{args.family}, close {args.close})")
            if configs and args.calibrate:
                cal = calibrate(args, port, tmpdir)
                results["calibration"] = cal
                log(f"run.py: calibration: {cal['per_connection']:.4f} transitions/connection "
                    f"over {cal['connections']} connections (expected {TRANSITIONS[args.close]})")
                if abs(cal["per_connection"] - TRANSITIONS[args.close]) > 1e-9:
                    log("run.py: warning: calibration differs: " + json.dumps(cal["transitions"]))
            for i in range(args.pairs if configs else 0):
                for c in configs:
                    pair = run_pair(args, i, f"{c:8s}", c, lambda: run_storm(args, port),
                                    lambda: run_traced(args, c, port, tmpdir, i), failures)
                    if not pair:
                        continue
                    a, b = pair
                    pairs[c].append((a, b))
                    results["runs"][c].append({"untraced": a, "traced": b})
                    log(f"run.py: [{i + 1}/{args.pairs}] {c:8s} untraced {a['rate']:8.0f}/s  "
                        f"traced {b['storm']['rate']:8.0f}/s  ratio {b['storm']['rate'] / a['rate']:.3f}  "
                        f"printed {b['printed']}/{b['expected']}  lost {b.get('lost', 0)}  "
                        f"cpu {b['cpu_s']:.2f}s  attach {b['attach_s']:.3f}s"
                        + (f"  {b['record']['bytes_per_event']:.2f} B/event" if b.get("record")
                           and b["record"]["bytes_per_event"] else "")
                        + metrics_log(b) + foreign_note(a, b))
            if args.replays and largest["path"]:
                log(f"run.py: replaying the largest recording ({largest['events']} events, "
                    f"{largest['bytes']} bytes) {args.replays} times each with -j > /dev/null and -q")
                try:
                    results["replay"] = replay(args, largest["path"], largest["events"])
                except BenchError as e:
                    log(f"run.py: replay failed: {e}")
                    failures.append({"config": "replay", "pair": 0, "error": str(e)})
                    kill_all()
            if udp_configs:
                run_udp_pairs(args, udp_configs, udp_port, tmpdir, udp_pairs, failures, results)
            if tcprr_configs:
                run_tcprr_pairs(args, tcprr_configs, tcprr_port, tmpdir, rr_pairs, failures, results)
            if "synhang" in workloads:
                run_synhang_pairs(args, syn_port, tmpdir, syn_pairs, failures, results)
            if "bulk" in workloads:
                run_bulk_pairs(args, bulk_port, tmpdir, bulk_pairs, failures, results)
            if "dns" in workloads:
                run_dns_pairs(args, dns_port, tmpdir, dns_pairs, failures, results)
            if "dnsq" in workloads:
                run_dns_pairs(args, dns_port, tmpdir, dnsq_pairs, failures, results, True)
    except BenchError as e:
        sys.exit(f"run.py: {e}")
    except KeyboardInterrupt:
        sys.exit("run.py: interrupted")
    finally:
        kill_all()
        if stats_old is not None:
            with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
                f.write(stats_old)

    summaries = [summarize(c, pairs[c]) for c in configs if pairs[c]]
    results["summary"] = summaries
    udp_summaries = [summarize_udp(c, udp_pairs[c]) for c in udp_configs if udp_pairs[c]]
    rr_summaries = [summarize_tcprr(c, rr_pairs[c]) for c in tcprr_configs if rr_pairs[c]]
    syn_summary = summarize_synhang(syn_pairs) if syn_pairs else None
    if udp_configs:
        results["udp"]["summary"] = udp_summaries
    if tcprr_configs:
        results["tcprr"]["summary"] = rr_summaries
    if syn_summary:
        results["synhang"]["summary"] = syn_summary
    bulk_summary = summarize_bulk(bulk_pairs) if bulk_pairs else None
    if bulk_summary:
        results["bulk"]["summary"] = bulk_summary
    dns_summary = summarize_dns(dns_pairs) if dns_pairs else None
    if dns_summary:
        results["dns"]["summary"] = dns_summary
    dnsq_summary = summarize_dns(dnsq_pairs) if dnsq_pairs else None
    if dnsq_summary:
        results["dnsq"]["summary"] = dnsq_summary
    results["elapsed_s"] = time.monotonic() - t_begin
    print(f"\nsocktrace benchmark: {', '.join(workloads)}; {os.cpu_count()} CPUs, "
          f"Linux {platform.release()}; {results['elapsed_s']:.0f}s")
    print_startup(startup_summary, args)
    if summaries:
        print(f"\nTCP connection storm: {args.pairs} pairs x {args.seconds:g}s, close={args.close}, "
              f"IPv{args.family}, {TRANSITIONS[args.close]} transitions/connection\n")
        print_table(summaries)
        print_record(summaries)
        print_replay(results.get("replay"))
    print_udp(udp_summaries, args)
    print_metrics(summaries, udp_summaries)
    print_tcprr(rr_summaries, args)
    print_synhang(syn_summary, args)
    print_bulk(bulk_summary, args)
    print_dns(dns_summary, args)
    print_dnsq(dnsq_summary, args)
    for f in failures:
        print(f"failed: {f['config']} pair {f['pair']}: {f['error']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
            f.write("\n")
    if any(not f["config"].endswith("bpftrace") for f in failures):
        sys.exit(1)


BPFTOOL = shutil.which("bpftool") or "/usr/sbin/bpftool"

if __name__ == "__main__":
    main()
