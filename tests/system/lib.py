"""Shared machinery of the socktrace system tests (Python 3.11 stdlib only).

- Tracer: starts socktrace, waits for its ready line, stops it with a signal
  and returns a Run (exit code, raw stdout, stderr, parsed JSON records).
- Helper: a traffic process (helper.py) with a known pid and comm, talking
  JSON lines; optionally inside a network namespace.
- NetPair: two network namespaces joined by a veth pair.
- assertion helpers that raise Fail with the command and the relevant
  socktrace lines.

Every process and namespace is registered with the test's Context and
removed by Context.cleanup(), which the runner calls in a finally block.
"""
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HELPER = os.path.join(HERE, "helper.py")
PYTHON = sys.executable or "/usr/bin/python3"
READY_PREFIX = "socktrace: tracing "

# Deadlines for what does happen (only a failure waits them out), times
# SOCKTRACE_TEST_TIMEOUT_SCALE: the VM tests set 3, as a python3 helper under
# emulation on a loaded host once took more than 10 s to start.
TIMEOUT_SCALE = max(1.0, float(os.environ.get("SOCKTRACE_TEST_TIMEOUT_SCALE") or 1))
READY_TIMEOUT = 20.0 * TIMEOUT_SCALE    # BPF load + snapshot; generous for slow VMs
HELPER_TIMEOUT = 10.0 * TIMEOUT_SCALE   # any one step of a helper
STOP_TIMEOUT = 10.0 * TIMEOUT_SCALE     # from the signal to socktrace's exit


class Fail(Exception):
    def __init__(self, reason, details=()):
        super().__init__(reason)
        self.reason = reason
        self.details = list(details)


class Skip(Exception):
    pass


TESTS = []


def test(name, hook_independent=False):
    """Registers a test. hook_independent: what it checks is userspace's
    (files, options, replay), the same whatever hook variant feeds it: a
    run with a forced --hook skips it (the automatic run has it)."""
    def deco(fn):
        fn.hook_independent = hook_independent
        TESTS.append((name, fn))
        return fn
    return deco


# ---------------------------------------------------------------- context

class Context:
    """Per-suite settings plus the cleanup stack of the running test."""

    def __init__(self, socktrace, hook=None, verbose=False):
        self.socktrace = socktrace
        self.hook = hook
        self.verbose = verbose
        self.prefix = "st-%d" % os.getpid()
        self.tmpdir = tempfile.mkdtemp(prefix="socktrace-system-")
        self._seq = 0
        self._cleanups = []
        self.netns_self = os.stat("/proc/self/ns/net").st_ino
        # set by the runner when the forced --hook kind cannot attach here
        self.hook_unavailable = None

    def unique(self, tag=""):
        self._seq += 1
        return "%s-%s%d" % (self.prefix, tag, self._seq)

    def on_cleanup(self, fn):
        self._cleanups.append(fn)

    def cleanup(self):
        """Runs every registered cleanup (newest first), even if some fail.
        SIGINT/SIGTERM are held back meanwhile so that a second Ctrl-C cannot
        leave a namespace behind."""
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            while self._cleanups:
                fn = self._cleanups.pop()
                try:
                    fn()
                except Exception as e:  # keep going: the others must run too
                    sys.stderr.write("system: cleanup error: %r\n" % (e,))
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    @property
    def blind_birth(self):
        """fentry/kprobe on tcp_set_state cannot see the SYN_RECV a
        listener's child is born in (documented in bpf/socktrace.bpf.c)."""
        return self.hook in ("fentry", "kprobe")

    def hook_args(self):
        return ["--hook", self.hook] if self.hook else []


def run_cmd(args, timeout=15, check=True, input=None):
    p = subprocess.run(args, stdin=subprocess.DEVNULL if input is None else None,
                       input=input, capture_output=True, timeout=timeout)
    if check and p.returncode != 0:
        raise Fail("command failed: %s (exit %d)" % (" ".join(args), p.returncode),
                   [p.stderr.decode(errors="replace").strip()])
    return p


def kill_proc(p, grace=3.0, sig=signal.SIGTERM):
    """Ends one process we started, by its pid: signal, grace, SIGKILL."""
    if p.poll() is not None:
        return
    try:
        p.send_signal(sig)
        p.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        p.kill()
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    except ProcessLookupError:
        pass


# ---------------------------------------------------------------- tracer

def is_message(r):
    """An error or a warning under -j ({"type": "warning", "message": ...})."""
    return isinstance(r, dict) and r.get("type") in ("error", "warning")


def fmt_event(e):
    """One compact line per socktrace record, for failure reports."""
    if not isinstance(e, dict):
        return repr(e)
    t = e.get("type")
    if t == "summary":
        return "summary events=%s snapshot=%s lost=%s filtered=%s" % (
            e.get("events"), e.get("snapshot"), e.get("lost"), e.get("filtered"))
    if t in ("tcp_state", "tcp_socket"):
        trans = ("%s->%s" % (e.get("old"), e.get("new"))) if t == "tcp_state" \
            else "(existing) %s" % e.get("state")
        return ("%s fam=%s %s:%s -> %s:%s %s pid=%s comm=%r owner=%s role=%s "
                "netns=%s sock=%s ino=%s old_ms=%s" % (
                    "state " if t == "tcp_state" else "socket", e.get("family"),
                    e.get("laddr"), e.get("lport"), e.get("raddr"), e.get("rport"),
                    trans, e.get("pid"), e.get("comm"), e.get("owner"), e.get("role"),
                    e.get("netns"), e.get("sock"), e.get("ino"), e.get("old_ms")))
    return json.dumps(e)


class Run:
    """What one socktrace run produced."""

    def __init__(self, cmd, rc, out, err):
        self.cmd = cmd
        self.rc = rc
        self.out = out            # raw stdout bytes
        self.err = err            # stderr text
        self.lines = out.split(b"\n")
        if self.lines and self.lines[-1] == b"":
            self.lines.pop()
        self.records = []
        self.parse_errors = []
        for i, raw in enumerate(self.lines):
            try:
                self.records.append(json.loads(raw.decode("utf-8", "strict")))
            except (UnicodeDecodeError, ValueError) as e:
                self.parse_errors.append((i + 1, raw, e))
        # errors and warnings (docs/json.md) depend on the host, not on what a
        # test did: kept apart, so that counts and comparisons see events only
        self.all_records = self.records     # in order, messages included
        self.messages = [r for r in self.records if is_message(r)]
        self.records = [r for r in self.records if not is_message(r)]
        self.states = [r for r in self.records if isinstance(r, dict) and r.get("type") == "tcp_state"]
        self.sockets = [r for r in self.records if isinstance(r, dict) and r.get("type") == "tcp_socket"]
        self.udp_sockets = [r for r in self.records
                            if isinstance(r, dict) and r.get("type") == "udp_socket"]
        sums = [r for r in self.records if isinstance(r, dict) and r.get("type") == "summary"]
        self.summary = sums[-1] if sums else None

    def cmdline(self):
        return " ".join(self.cmd)

    def details(self, select=None, limit=60):
        """The command, its exit code and stderr, and the records that
        `select` picks (all when None), for a failure report."""
        d = ["command: %s" % self.cmdline(), "exit status: %s" % self.rc]
        for line in self.err.splitlines()[-8:]:
            d.append("stderr: %s" % line)
        recs = [r for r in self.records if select is None or (isinstance(r, dict) and select(r))]
        if select is not None:
            d.append("relevant records (%d of %d):" % (len(recs), len(self.records)))
        else:
            d.append("records (%d):" % len(recs))
        for r in recs[:limit]:
            d.append("  " + fmt_event(r))
        if len(recs) > limit:
            d.append("  ... %d more" % (len(recs) - limit))
        if self.summary is not None and (select is None or not select(self.summary)):
            d.append("  " + fmt_event(self.summary))
        for ln, raw, e in self.parse_errors[:5]:
            d.append("unparsable stdout line %d: %r (%s)" % (ln, raw[:200], e))
        return d

    def fail(self, reason, select=None, extra=()):
        raise Fail(reason, list(extra) + self.details(select))

    def expect_clean_exit(self, select=None):
        if self.rc != 0:
            self.fail("socktrace exited with status %s, expected 0" % self.rc, select)
        if self.parse_errors:
            self.fail("socktrace printed lines that are not JSON", select)
        if self.summary is None or self.records[-1] is not self.summary:
            self.fail("the last stdout line is not the summary", select)
        # a gap is a transition the kernel did not report: one in this
        # test's own events (the summary counts the host's) is a test that
        # cannot trust its transitions, or socktrace seeing one that is not
        gaps = [r for r in self.states if r.get("gap") and (select is None or select(r))]
        if gaps and not self.summary.get("missed"):
            self.fail("%d of this test's events follow a gap, but the kernel skipped no "
                      "program run" % len(gaps), lambda r: r.get("gap"))


class Tracer:
    """socktrace as a child process. Use as a context manager:

        with Tracer(ctx, ["--no-snapshot", "-P", "80"]) as t:
            ... traffic ...
            run = t.stop()
    """

    def __init__(self, ctx, args, json_out=True, hook=True):
        self.ctx = ctx
        self.cmd = [ctx.socktrace] + (["-j"] if json_out else []) + list(args)
        if hook:
            self.cmd += ctx.hook_args()
        self.proc = None
        self.err_lines = []
        self.ready = threading.Event()
        self.out_path = os.path.join(ctx.tmpdir, "%s.out" % ctx.unique("trace"))
        self._lock = threading.Lock()
        self._reader = None
        self.run = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.kill()
        return False

    def start(self, wait_ready=True):
        if self.ctx.hook_unavailable and "--hook" in self.cmd and self.ctx.hook in self.cmd:
            raise Skip(self.ctx.hook_unavailable)
        self.out_file = open(self.out_path, "wb")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                     stdout=self.out_file, stderr=subprocess.PIPE)
        self.ctx.on_cleanup(self.kill)
        self._reader = threading.Thread(target=self._read_err, daemon=True)
        self._reader.start()
        if wait_ready:
            self.wait_ready()
        return self

    def _read_err(self):
        try:
            for raw in iter(self.proc.stderr.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\n")
                with self._lock:
                    self.err_lines.append(line)
                if line.startswith(READY_PREFIX):
                    self.ready.set()
        except (OSError, ValueError):
            pass
        finally:
            self.ready.set()  # exited: wake the waiter

    def stderr(self):
        with self._lock:
            return "\n".join(self.err_lines)

    def stdout_now(self):
        with open(self.out_path, "rb") as f:
            return f.read()

    def records_now(self):
        """Records printed so far (complete lines only), while it runs."""
        recs = []
        for raw in self.stdout_now().split(b"\n")[:-1]:
            try:
                recs.append(json.loads(raw))
            except ValueError:
                pass
        return [r for r in recs if not is_message(r)]

    def _is_ready(self):
        with self._lock:
            return any(l.startswith(READY_PREFIX) for l in self.err_lines)

    def wait_ready(self, timeout=READY_TIMEOUT):
        self.ready.wait(timeout)
        if self._is_ready():
            return
        rc = self.proc.poll()
        if rc is None:
            self.kill()
            reason = "socktrace did not print its ready line within %.0fs" % timeout
        else:
            reason = "socktrace exited (status %s) before it was ready" % rc
        self._reader.join(2)
        raise Fail(reason, ["command: %s" % " ".join(self.cmd)] +
                   ["stderr: " + l for l in self.stderr().splitlines()[-15:]])

    def _finish(self):
        self._reader.join(5)
        self.out_file.close()
        self.run = Run(self.cmd, self.proc.returncode, self.stdout_now(), self.stderr())
        return self.run

    def stop(self, sig=signal.SIGINT, timeout=STOP_TIMEOUT):
        """Signals socktrace and waits for it; returns the Run."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            run = self._finish()
            run.fail("socktrace did not exit within %.0fs of signal %s" % (timeout, sig))
        return self._finish()

    def wait_exit(self, timeout):
        """Waits for socktrace to exit by itself; None if it does not."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self._finish()

    def kill(self):
        """Ends socktrace if it still runs (SIGINT, then SIGKILL)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            kill_proc(self.proc, grace=5, sig=signal.SIGINT)
        if self._reader is not None:
            self._reader.join(2)
        for f in (self.proc.stderr, self.out_file):
            try:
                f.close()
            except Exception:
                pass


# ---------------------------------------------------------------- helpers

class Helper:
    """A helper.py process; `expect(key)` returns its next JSON message
    that has `key`, within a deadline. `wrap` runs it under a command such
    as setpriv."""

    def __init__(self, ctx, args, netns=None, name=None, wrap=()):
        self.ctx = ctx
        cmd = list(wrap) + [PYTHON, HELPER] + \
            [a if isinstance(a, (str, bytes)) else str(a) for a in args]
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        self.cmd = cmd
        self.err_path = os.path.join(ctx.tmpdir, "%s.err" % ctx.unique("helper"))
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._err)
        ctx.on_cleanup(self.kill)
        self.msgs = []
        self._q = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            for raw in iter(self.proc.stdout.readline, b""):
                try:
                    msg = json.loads(raw)
                except ValueError:
                    msg = {"garbage": raw.decode("utf-8", "replace")}
                self._q.put(msg)
        except (OSError, ValueError):
            pass
        self._q.put(None)

    def describe(self):
        try:
            with open(self.err_path, "rb") as f:
                err = f.read().decode("utf-8", "replace").strip().splitlines()[-10:]
        except OSError:
            err = []
        shown = [(a.decode("utf-8", "backslashreplace") if isinstance(a, bytes) else a)
                 for a in self.cmd]
        return (["helper: %s (exit %s)" % (" ".join(shown), self.proc.poll())] +
                ["helper said: %s" % json.dumps(m) for m in self.msgs[-6:]] +
                ["helper stderr: %s" % l for l in err])

    def expect(self, key, timeout=HELPER_TIMEOUT):
        deadline = time.monotonic() + timeout
        for m in self.msgs:
            if key in m and not m.get("_used_%s" % key):
                m["_used_%s" % key] = True
                return m
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail("helper did not report %r within %.0fs" % (key, timeout), self.describe())
            try:
                m = self._q.get(timeout=left)
            except queue.Empty:
                continue
            if m is None:
                self._q.put(None)
                raise Fail("helper exited before reporting %r" % key, self.describe())
            self.msgs.append(m)
            if "error" in m:
                raise Fail("helper failed: %s" % m["error"], self.describe())
            if key in m:
                m["_used_%s" % key] = True
                return m

    def send(self, line="go"):
        try:
            self.proc.stdin.write((line + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass

    def close_stdin(self):
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass

    def wait(self, timeout=HELPER_TIMEOUT):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Fail("helper did not exit within %.0fs" % timeout, self.describe())
        if rc != 0:
            raise Fail("helper exited with status %d" % rc, self.describe())
        return rc

    def kill(self):
        kill_proc(self.proc, grace=2)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except Exception:
                pass
        try:
            self._err.close()
        except Exception:
            pass


# ---------------------------------------------------------------- namespaces

def netns_inode(name):
    return os.stat("/run/netns/%s" % name).st_ino


class NetNS:
    """One network namespace (`ip netns add`), lo up; removed at cleanup."""

    def __init__(self, ctx, tag="n"):
        self.ctx = ctx
        self.name = ctx.unique(tag)
        run_cmd(["ip", "netns", "add", self.name])
        ctx.on_cleanup(self.delete)
        run_cmd(["ip", "-n", self.name, "link", "set", "lo", "up"])
        self.inode = netns_inode(self.name)

    def delete(self):
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=15)


class NetPair:
    """Namespaces a and b joined by a veth pair:
    a: 192.0.2.1/24, 2001:db8::1/64     b: 192.0.2.2/24, 2001:db8::2/64"""

    A4, B4, A6, B6 = "192.0.2.1", "192.0.2.2", "2001:db8::1", "2001:db8::2"

    def __init__(self, ctx):
        self.a = NetNS(ctx, "a")
        self.b = NetNS(ctx, "b")
        n = ctx._seq
        # interface names: at most 15 bytes
        self.va = "stv%da%d" % (os.getpid() % 100000, n)
        self.vb = "stv%db%d" % (os.getpid() % 100000, n)
        ctx.on_cleanup(self._del_links)
        run_cmd(["ip", "link", "add", self.va, "netns", self.a.name, "type", "veth",
                 "peer", "name", self.vb, "netns", self.b.name])
        for ns, dev, a4, a6 in ((self.a.name, self.va, self.A4, self.A6),
                                (self.b.name, self.vb, self.B4, self.B6)):
            run_cmd(["ip", "-n", ns, "addr", "add", a4 + "/24", "dev", dev])
            run_cmd(["ip", "-n", ns, "-6", "addr", "add", a6 + "/64", "dev", dev, "nodad"])
            run_cmd(["ip", "-n", ns, "link", "set", dev, "up"])

    def _del_links(self):
        # normally gone with the namespaces; this covers a half-done set-up
        for ns, dev in ((self.a.name, self.va), (self.b.name, self.vb), (None, self.va), (None, self.vb)):
            cmd = ["ip"] + (["-n", ns] if ns else []) + ["link", "del", dev]
            subprocess.run(cmd, capture_output=True, timeout=15)


def remove_stale_namespaces():
    """Namespaces of an earlier run of this suite that was killed (SIGKILL
    leaves them): named st-PID-... with PID no longer alive."""
    try:
        names = os.listdir("/run/netns")
    except OSError:
        return
    for name in names:
        parts = name.split("-")
        if len(parts) >= 3 and parts[0] == "st" and parts[1].isdigit():
            pid = int(parts[1])
            if pid != os.getpid() and not os.path.exists("/proc/%d" % pid):
                subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=15)


# ---------------------------------------------------------------- settling

TCP_TIME_WAIT = "06"
TCP_LISTEN = "0A"


def _tcp_table(netns=None):
    files = ["/proc/net/tcp", "/proc/net/tcp6"]
    if netns:
        p = subprocess.run(["ip", "netns", "exec", netns, "cat"] + files,
                           capture_output=True, timeout=10)
        text = p.stdout.decode()
    else:
        text = ""
        for f in files:
            try:
                with open(f) as fh:
                    text += fh.read()
            except OSError:
                pass
    rows = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4 or ":" not in parts[1] or parts[0] == "sl":
            continue
        lport = int(parts[1].rsplit(":", 1)[1], 16)
        rport = int(parts[2].rsplit(":", 1)[1], 16)
        rows.append((lport, rport, parts[3]))
    return rows


def wait_records(t, n, pred, timeout=5.0):
    """Until tracer t has printed n records that satisfy pred (or timeout
    seconds): the caller's checks say what is missing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len([r for r in t.records_now() if pred(r)]) >= n:
            return
        time.sleep(0.05)


def settle(pairs, netns_list=(None,), timeout=5.0):
    """Waits until no socket of the connections `pairs` ((port, port) each)
    is in a state other than TIME_WAIT, i.e. every transition has happened,
    then a little more for the last event to reach the ring buffer."""
    want = set()
    for a, b in pairs:
        want.add((a, b))
        want.add((b, a))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = [r for ns in netns_list for r in _tcp_table(ns)
                if (r[0], r[1]) in want and r[2] != TCP_TIME_WAIT]
        if not busy:
            break
        time.sleep(0.02)
    time.sleep(0.1)


# ---------------------------------------------------------------- assertions

def where(records, **kw):
    """Records whose fields equal all of kw."""
    return [r for r in records if all(r.get(k) == v for k, v in kw.items())]


def transitions(events):
    return [(e.get("old"), e.get("new")) for e in events]


def fmt_trans(ts):
    return ", ".join("%s->%s" % t for t in ts) or "(none)"


def check_fields(run, events, what, select, **want):
    """Every event in `events` has the wanted field values."""
    for e in events:
        bad = {k: (e.get(k), v) for k, v in want.items() if e.get(k) != v}
        if bad:
            run.fail("%s: %s->%s has %s" % (
                what, e.get("old", "(existing)"), e.get("new", e.get("state")),
                ", ".join("%s=%r (expected %r)" % (k, g, w) for k, (g, w) in bad.items())),
                select)


def check_old_ms(run, events, what, select):
    """old_ms is null on a socket's first event and, after that, equals the
    boot_ns distance to the previous event of the same socket."""
    for i, e in enumerate(events):
        if i == 0:
            if e.get("old_ms") is not None:
                run.fail("%s: first event %s->%s has old_ms %r, expected null"
                         % (what, e["old"], e["new"], e["old_ms"]), select)
            continue
        ms = e.get("old_ms")
        if not isinstance(ms, (int, float)) or isinstance(ms, bool) or ms < 0:
            run.fail("%s: %s->%s has old_ms %r, expected a number >= 0 (socktrace saw "
                     "the socket enter %s)" % (what, e["old"], e["new"], ms, e["old"]), select)
        delta = (e["boot_ns"] - events[i - 1]["boot_ns"]) / 1e6
        if abs(delta - ms) > 0.002:
            run.fail("%s: %s->%s has old_ms %r but the boot_ns distance to %s->%s is %.6f ms"
                     % (what, e["old"], e["new"], ms, events[i - 1]["old"],
                        events[i - 1]["new"], delta), select)


def check_same_sock(run, events, what, select):
    socks = {e.get("sock") for e in events}
    if len(socks) != 1 or None in socks:
        run.fail("%s: events carry sock values %s, expected one socket" % (what, sorted(map(str, socks))),
                 select)


# ---------------------------------------------------------------- attempts

def boot_ns():
    """CLOCK_BOOTTIME now: the clock of socktrace's boot_ns field."""
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME)


ATTEMPT_BASE_KEYS = ("type", "time", "boot_ns", "proto", "family", "laddr", "lport", "raddr",
                     "rport", "rname", "rname_canonical", "service", "netns", "sock", "ino", "pid",
                     "tid", "comm", "owner", "role")
CONNECT_KEYS = ATTEMPT_BASE_KEYS + ("outcome", "elapsed_ms", "syn_retrans", "error", "errno")
SYN_ALERT_KEYS = ATTEMPT_BASE_KEYS + ("elapsed_ms", "syn_retrans", "diagnosis")
OUTCOMES = ("established", "refused", "timeout", "unreachable", "aborted")
CONNECT_STATS_KEYS = ("type", "proto", "family", "raddr", "rport", "attempts") + OUTCOMES + \
    ("handshake_p50_ms", "handshake_p99_ms")
OUTCOME_ERRORS = {"refused": ("ECONNREFUSED", 111), "timeout": ("ETIMEDOUT", 110)}


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


OWNER_CGROUP_KEYS = ("vpid", "cgroup_id", "cgroup", "unit", "slice", "container", "pod")


def attempt_schema_errors(r):
    """What is wrong with one connect, syn_alert or connect_stats record
    against docs/json.md (the field set, types and the rules that tie the
    fields together)."""
    import ipaddress
    errs = []
    t = r.get("type")
    want = {"connect": CONNECT_KEYS, "syn_alert": SYN_ALERT_KEYS,
            "connect_stats": CONNECT_STATS_KEYS}.get(t)
    if want is None:
        return ["type %r is not connect, syn_alert or connect_stats" % (t,)]
    # the owner's namespace pid and cgroup names, where they apply
    if set(r) - set(OWNER_CGROUP_KEYS) != set(want):
        missing = [k for k in want if k not in r]
        extra = [k for k in r if k not in want and k not in OWNER_CGROUP_KEYS]
        errs.append("fields: missing %s, unexpected %s" % (missing, extra))
    if r.get("proto") != "tcp":
        errs.append("proto=%r" % (r.get("proto"),))
    if r.get("family") not in (4, 6):
        errs.append("family=%r" % (r.get("family"),))
    keys = ("raddr",) if t == "connect_stats" else ("laddr", "raddr")
    for k in keys:
        try:
            a = ipaddress.ip_address(r.get(k))
            if a.version != r.get("family"):
                errs.append("%s=%r in a family-%s record" % (k, r.get(k), r.get("family")))
        except ValueError:
            errs.append("%s=%r" % (k, r.get(k)))
    for k in ("rport",) if t == "connect_stats" else ("lport", "rport"):
        if not _is_int(r.get(k)) or not 0 <= r[k] <= 65535:
            errs.append("%s=%r" % (k, r.get(k)))
    if t == "connect_stats":
        for k in ("attempts",) + OUTCOMES:
            if not _is_int(r.get(k)) or r[k] < 0:
                errs.append("%s=%r" % (k, r.get(k)))
        if not errs and r["attempts"] != sum(r[k] for k in OUTCOMES):
            errs.append("attempts=%d is not the sum of the outcomes" % r["attempts"])
        p50, p99 = r.get("handshake_p50_ms"), r.get("handshake_p99_ms")
        if (p50 is None) != (p99 is None):
            errs.append("handshake_p50_ms=%r but handshake_p99_ms=%r" % (p50, p99))
        elif p50 is not None:
            if not _is_num(p50) or not _is_num(p99) or p50 < 0 or p99 < p50:
                errs.append("handshake_p50_ms=%r handshake_p99_ms=%r" % (p50, p99))
        if (p50 is None) != (r.get("established") == 0):
            errs.append("handshake_p50_ms=%r with established=%r" % (p50, r.get("established")))
        return errs
    for k in ("boot_ns", "netns", "ino"):
        if not _is_int(r.get(k)) or r[k] < 0:
            errs.append("%s=%r" % (k, r.get(k)))
    if not isinstance(r.get("time"), str):
        errs.append("time=%r" % (r.get("time"),))
    sock = r.get("sock")
    if sock is not None and (not isinstance(sock, str) or not sock.startswith("0x")):
        errs.append("sock=%r" % (sock,))
    if r.get("role") != "client":
        errs.append("role=%r (an attempt is a client's)" % (r.get("role"),))
    if r.get("pid") is None:
        if r.get("tid") is not None or r.get("comm") is not None or r.get("owner") != "unknown":
            errs.append("pid null but tid=%r comm=%r owner=%r" % (r.get("tid"), r.get("comm"),
                                                                  r.get("owner")))
    elif not _is_int(r.get("pid")) or not _is_int(r.get("tid")) or not isinstance(r.get("comm"), str):
        errs.append("pid/tid/comm=%r/%r/%r" % (r.get("pid"), r.get("tid"), r.get("comm")))
    if not _is_int(r.get("syn_retrans")) or r["syn_retrans"] < 0:
        errs.append("syn_retrans=%r" % (r.get("syn_retrans"),))
    ms = r.get("elapsed_ms")
    if ms is not None and (not _is_num(ms) or ms < 0):
        errs.append("elapsed_ms=%r" % (ms,))
    if t == "connect":
        o, err, no = r.get("outcome"), r.get("error"), r.get("errno")
        if o not in OUTCOMES + ("in_progress",):
            errs.append("outcome=%r" % (o,))
        if o == "in_progress" and ms is not None:
            errs.append("elapsed_ms=%r with outcome in_progress" % (ms,))
        if o in ("established", "aborted", "in_progress"):
            if err is not None or no is not None:
                errs.append("error=%r errno=%r with outcome %s" % (err, no, o))
        elif o in OUTCOME_ERRORS:
            if (err, no) != OUTCOME_ERRORS[o]:
                errs.append("error=%r errno=%r with outcome %s, expected %r %r"
                            % ((err, no, o) + OUTCOME_ERRORS[o]))
        elif o == "unreachable":
            if not isinstance(err, str) or not _is_int(no) or no <= 0 or \
                    err in ("ECONNREFUSED", "ETIMEDOUT"):
                errs.append("error=%r errno=%r with outcome unreachable" % (err, no))
    else:
        d = r.get("diagnosis")
        if d is not None:
            if not isinstance(d, dict):
                errs.append("diagnosis=%r" % (d,))
            elif d.get("cause") == "no_listener":
                if set(d) != {"cause"}:
                    errs.append("diagnosis %r: no_listener has no other field" % (d,))
            elif d.get("cause") in ("accept_queue_full", "listening"):
                if set(d) != {"cause", "listener_pid", "listener_comm", "accept_queue", "backlog"}:
                    errs.append("diagnosis fields %s" % sorted(d))
                elif not (_is_int(d["accept_queue"]) and _is_int(d["backlog"])) or \
                        (d["cause"] == "accept_queue_full") != (d["accept_queue"] > d["backlog"]):
                    errs.append("diagnosis %r: cause and queue disagree" % (d,))
                elif (d["listener_pid"] is None) != (d["listener_comm"] is None):
                    errs.append("diagnosis %r: listener_pid and listener_comm" % (d,))
            else:
                errs.append("diagnosis cause %r" % (d.get("cause"),))
    return errs


def cgroup2_mount():
    """Where cgroup2 is mounted (/sys/fs/cgroup, or .../unified on hybrid hosts)."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0:1] == ["cgroup2"]:
                return left.split()[4]
    return None


class Cgroups:
    """cgroup directories under the cgroup2 mount, removed (deepest first,
    once their processes are gone) at cleanup, also after a failure."""

    def __init__(self, ctx):
        self.mount = cgroup2_mount()
        if not self.mount:
            raise Skip("no cgroup2 file system is mounted")
        self.made = []
        ctx.on_cleanup(self.remove)

    def make(self, path):
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            d = os.path.join(self.mount, *parts[:i])
            if not os.path.isdir(d):
                try:
                    os.mkdir(d)
                except OSError as e:
                    raise Skip("cannot create cgroup %s: %s" % (d, e))
                self.made.append(d)
        return path

    def remove(self):
        deadline = time.monotonic() + 10
        for d in sorted(self.made, key=len, reverse=True):
            while True:
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    # its processes are still being reaped
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)


def in_cgroup(mount, path, pidns, netns=None):
    """A command prefix that moves itself into the cgroup, then runs the
    rest, in the network namespace (ip netns exec mounts its own /sys,
    without the cgroup file system: it comes after) and in a new pid
    namespace when pidns (as a container's pid 1)."""
    wrap = ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', mount + path]
    if netns:
        wrap += ["ip", "netns", "exec", netns]
    if pidns:
        wrap += ["unshare", "--pid", "--fork", "--kill-child"]
    return wrap
