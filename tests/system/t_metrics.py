"""--metrics: a real Prometheus scrapes socktrace every second and its own
query API must return exactly the connections and datagrams the test made;
promtool accepts the exposition; scrapes during a connection storm succeed
and the counters never go back; bad addresses and a port in use fail as
documented.

Traffic stays on loopback; every wait is bounded, and Prometheus, its
storage directory and the traffic process are removed even on failure.
The counting is userspace's (a pipeline stage), the same whatever hook
variant feeds it: the tests are hook-independent, and a forced --hook run
(the kernel matrix) leaves them to the automatic one."""
import ctypes.util
import json
import os
import re
import signal
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from lib import READY_TIMEOUT, STOP_TIMEOUT, Fail, NetNS, Skip, Tracer, kill_proc, run_cmd, test
from t_cli import tcp_service_names
from t_service import Service, connect_once, unit_command, unit_reload

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

# The traffic, in a process with a name of its own that the tracer's
# filter keeps (--comm): the host's other connections do not count.
# argv: comm, refused, established, hung, datagrams, datagram size.
TRAFFIC = r"""
import ctypes, socket, sys, time
comm, n_ref, n_est, n_hung, n_udp, size = sys.argv[1], *map(int, sys.argv[2:])
REQ, RESP = 100, 50
ctypes.CDLL(None).prctl(15, comm.encode(), 0, 0, 0)   # PR_SET_NAME
def say(**kw):
    print(" ".join("%s=%s" % kv for kv in kw.items()), flush=True)
# refused: a loopback port nothing listens on
hole = socket.socket(); hole.bind(("127.0.0.1", 0)); port = hole.getsockname()[1]; hole.close()
for _ in range(n_ref):
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
    except ConnectionRefusedError:
        pass
    else:
        sys.exit("connect to closed port %d succeeded" % port)
    s.close()
# established: connect, accept, REQ bytes one way and RESP back, close both
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(64)
for _ in range(n_est):
    c = socket.create_connection(ls.getsockname(), timeout=5)
    a, _ = ls.accept()
    c.sendall(b"q" * REQ)
    got = b""
    while len(got) < REQ:
        got += a.recv(REQ)
    a.sendall(b"r" * RESP)
    got = b""
    while len(got) < RESP:
        got += c.recv(RESP)
    c.close(); a.close()
ls.close()
# hung: a listener whose accept queue is full (1 > backlog 0) drops SYNs;
# filling it is one more established attempt
jam = socket.socket(); jam.bind(("127.0.0.1", 0)); jam.listen(0)
fill = socket.create_connection(jam.getsockname(), timeout=5)
time.sleep(0.2)
hung = []
for _ in range(n_hung):
    s = socket.socket(); s.setblocking(False)
    try:
        s.connect(jam.getsockname())
    except BlockingIOError:
        pass
    hung.append(s)
say(hung=len(hung))
sys.stdin.readline()
for s in hung:
    s.close()
fill.close(); jam.close()
# UDP: n datagrams of size bytes from one socket to another
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); tx.bind(("127.0.0.1", 0))
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); rx.bind(("127.0.0.1", 0))
rx.settimeout(5)
for _ in range(n_udp):
    tx.sendto(b"m" * size, rx.getsockname())
for _ in range(n_udp):
    rx.recv(65536)
tx.close(); rx.close()
say(done=1)
sys.stdin.readline()
"""

STORM = r"""
import ctypes, socket, sys
n = int(sys.argv[2])
ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)   # PR_SET_NAME
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(128)
for _ in range(n):
    c = socket.create_connection(ls.getsockname(), timeout=5)
    a, _ = ls.accept()
    c.close(); a.close()
ls.close()
print("done", flush=True)
"""

# --metrics-by: procs processes, each of a name of its own, each making per
# attempts to destinations no other makes (127.A.B.C:PORT, PORT from 20000),
# all refused: the test runs it in a network namespace where nothing listens.
CARDINALITY = r"""
import ctypes, os, socket, sys
procs, per, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
libc = ctypes.CDLL(None)
failed = 0
for i in range(procs):
    pid = os.fork()
    if pid == 0:
        libc.prctl(15, ("%s%d" % (prefix, i)).encode(), 0, 0, 0)   # PR_SET_NAME
        ok = 0
        for j in range(per):
            k = i * per + j
            s = socket.socket()
            try:
                s.connect(("127.%d.%d.%d" % (1 + k // 65536, k // 256 % 256, 1 + k % 250), 20000 + k))
            except ConnectionRefusedError:
                ok += 1
            s.close()
        os._exit(0 if ok == per else 1)
    failed += os.waitpid(pid, 0)[1] != 0
print("done failed=%d" % failed, flush=True)
"""

# One process named comm: refused attempts to addr:p_ref, established ones
# to its own listener on addr:p_est; then others processes of other names,
# one refused attempt each.
KNOWN = r"""
import ctypes, os, socket, sys
comm, addr, p_ref, p_est, n_ref, n_est, others = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
libc = ctypes.CDLL(None)
libc.prctl(15, comm.encode(), 0, 0, 0)   # PR_SET_NAME
def refused():
    s = socket.socket()
    try:
        s.connect((addr, p_ref))
    except ConnectionRefusedError:
        pass
    else:
        sys.exit("connect to %s:%d succeeded" % (addr, p_ref))
    s.close()
for _ in range(n_ref):
    refused()
ls = socket.socket(); ls.bind((addr, p_est)); ls.listen(16)
for _ in range(n_est):
    c = socket.create_connection((addr, p_est), timeout=5)
    a, _ = ls.accept()
    c.close(); a.close()
ls.close()
for i in range(others):
    pid = os.fork()
    if pid == 0:
        libc.prctl(15, ("%s-%d" % (comm[:10], i)).encode(), 0, 0, 0)
        refused()
        os._exit(0)
    os.waitpid(pid, 0)
print("done", flush=True)
"""


STORM_CONNS = 2000
# docs/metrics.md: with --metrics-by, at most 35 x (cap + 1) + 253 series
BY_FAMILY_ROWS = 35
FIXED_SERIES = 253


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get(url, accept=None, timeout=5):
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def samples(text):
    """{name{labels}: value} of an exposition's samples."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        out[key] = float(value)
    return out


def need_prometheus():
    for tool in (PROMETHEUS, PROMTOOL):
        if not os.access(tool, os.X_OK):
            raise Skip("%s is not installed (Debian's prometheus package: make deps-test)" % tool)


class Prometheus:
    """A Prometheus server of the test's own on 127.0.0.1, scraping target
    every second, its storage in a temporary directory."""

    def __init__(self, ctx, target):
        self.dir = tempfile.mkdtemp(prefix="st-prometheus-", dir=ctx.tmpdir)
        ctx.on_cleanup(lambda: shutil.rmtree(self.dir, ignore_errors=True))
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: socktrace\n"
                    "    static_configs:\n      - targets: ['%s']\n" % target)
        self.log_path = os.path.join(self.dir, "prometheus.log")
        self.log = open(self.log_path, "wb")
        ctx.on_cleanup(self.log.close)
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        ctx.on_cleanup(lambda: kill_proc(self.proc))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Skip("prometheus exited at start (%d): %s" % (self.proc.returncode, self.logs()))
            try:
                if http_get(self.url + "/-/ready", timeout=1)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise Skip("prometheus was not ready within 30s: %s" % self.logs())

    def logs(self):
        with open(self.log_path, errors="replace") as f:
            return " | ".join(f.read().splitlines()[-5:])

    def query(self, q):
        """The value of an instant query with one series, None with none."""
        _, _, body = http_get(self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": q}))
        r = json.loads(body)
        if r.get("status") != "success":
            raise Fail("prometheus query %r: %s" % (q, body))
        res = r["data"]["result"]
        if len(res) > 1:
            raise Fail("prometheus query %r: %d series, expected one" % (q, len(res)), [body])
        return float(res[0]["value"][1]) if res else None

    def wait_for(self, want, what, timeout=20.0):
        """Waits until every query of want returns its value; then two more
        scrapes must still return them (no count beyond)."""
        deadline = time.monotonic() + timeout
        got = {}
        while time.monotonic() < deadline:
            got = {q: self.query(q) for q in want}
            if got == want:
                time.sleep(2.5)
                got = {q: self.query(q) for q in want}
                if got == want:
                    return
                break
            time.sleep(0.5)
        raise Fail("%s: Prometheus' query API does not return the counts the test made" % what,
                   ["%s = %s, expected %s" % (q, got.get(q), v) for q, v in want.items()] +
                   ["prometheus log: %s" % self.logs()])


class Traffic:
    def __init__(self, ctx, comm, *counts):
        self.proc = subprocess.Popen([sys.executable, "-c", TRAFFIC, comm] + [str(c) for c in counts],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        ctx.on_cleanup(lambda: kill_proc(self.proc))

    def expect(self, key, timeout=15.0):
        box = []
        th = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()), daemon=True)
        th.start()
        th.join(timeout)
        line = box[0] if box else ""
        if not line.startswith(key + "="):
            raise Fail("traffic: expected %s=, got %r" % (key, line),
                       [] if self.proc.poll() is None else [self.proc.stderr.read()])
        return line.strip()

    def send(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()


def tracer_with_metrics(ctx, args):
    port = free_port()
    t = Tracer(ctx, ["--metrics", "127.0.0.1:%d" % port] + args, json_out=False)
    t.start()
    return t, port


@test("metrics_prometheus_counts", hook_independent=True)
def metrics_prometheus_counts(ctx):
    """Prometheus scraping `socktrace -q --metrics` every second returns,
    through its query API, exactly the refused, established and hung
    (aborted) attempts, the SYN_SENT sockets while they hang, the UDP
    datagrams and bytes, and how the connections ended with their bytes,
    that a process of the test's own name made."""
    need_prometheus()
    comm = "st-metr%d" % (os.getpid() % 100000)
    n_ref, n_est, n_hung, n_udp, size = 3, 4, 2, 7, 123
    t, port = tracer_with_metrics(ctx, ["-q", "--comm", comm])
    prom = Prometheus(ctx, "127.0.0.1:%d" % port)
    prom.wait_for({'up{job="socktrace"}': 1.0}, "socktrace scraped")
    tr = Traffic(ctx, comm, n_ref, n_est, n_hung, n_udp, size)
    tr.expect("hung")
    attempts = 'socktrace_tcp_connect_attempts_total{outcome="%s"}'
    ended = 'socktrace_tcp_connections_ended_total{ended="%s"}'
    prom.wait_for({
        attempts % "refused": float(n_ref),
        attempts % "established": float(n_est + 1),    # and the one that fills the queue
        'socktrace_tcp_sockets{state="SYN_SENT"}': float(n_hung),
    }, "while %d attempts hang" % n_hung)
    tr.send()
    tr.expect("done")
    prom.wait_for({
        attempts % "refused": float(n_ref),
        attempts % "established": float(n_est + 1),
        attempts % "aborted": float(n_hung),
        attempts % "timeout": 0.0,
        'socktrace_tcp_sockets{state="SYN_SENT"}': 0.0,
        'socktrace_tcp_transitions_total{old_state="CLOSE",new_state="SYN_SENT"}':
            float(n_ref + n_est + 1 + n_hung),
        'socktrace_tcp_handshake_seconds_count': float(n_est + 1),
        'socktrace_udp_datagrams_total{direction="tx"}': float(n_udp),
        'socktrace_udp_datagrams_total{direction="rx"}': float(n_udp),
        'socktrace_udp_bytes_total{direction="tx"}': float(n_udp * size),
        'socktrace_udp_bytes_total{direction="rx"}': float(n_udp * size),
        # each established connection: 100 bytes one way, 50 back, both
        # ends traced (the accepted socket is the same process's)
        ended % "refused": float(n_ref),
        ended % "aborted": float(n_hung),
        'socktrace_tcp_connection_bytes_total{direction="tx"}': float(n_est * 150),
        'socktrace_tcp_connection_bytes_total{direction="rx"}': float(n_est * 150),
    }, "after the traffic")
    # each hung attempt sent its SYN again at least once (it hung for more
    # than a second), and the kernel counts those in its total_retrans too;
    # an established connection may add a tail loss probe of its own when a
    # busy host stalls loopback for a probe timeout, so not equal
    re_end = prom.query("socktrace_tcp_connection_retransmits_total")
    re_syn = prom.query("socktrace_tcp_syn_retransmits_total")
    if re_syn is None or re_end is None or not n_hung <= re_syn <= re_end:
        raise Fail("retransmits of the ended connections %s, SYN retransmits %s: expected "
                   "%d <= SYN retransmits <= retransmits of the ended" % (re_end, re_syn, n_hung))
    # both ends of each established connection closed with FIN; the one
    # that filled the queue ends as the listener's close decides
    fin = prom.query(ended % "fin")
    if fin is None or fin < 2 * n_est:
        raise Fail("%s = %s, expected at least %d" % (ended % "fin", fin, 2 * n_est))
    rtts = prom.query("socktrace_tcp_connection_rtt_seconds_count")
    if rtts is None or rtts < 2 * n_est:
        raise Fail("socktrace_tcp_connection_rtt_seconds_count = %s, expected at least %d"
                   % (rtts, 2 * n_est))
    # a hung attempt retransmits its SYN about once a second: some, not exact
    for q in ("socktrace_tcp_syn_alerts_total", "socktrace_events_total"):
        v = prom.query(q)
        if not v:
            raise Fail("%s = %s, expected more than 0" % (q, v))
    tr.send()
    run = t.stop()
    if run.rc != 0:
        raise Fail("socktrace exited with %d" % run.rc, [run.err])


@test("metrics_promtool_and_formats", hook_independent=True)
def metrics_promtool_and_formats(ctx):
    """promtool check metrics accepts the text exposition; OpenMetrics is
    served when the Accept header asks for it and ends with # EOF; other
    paths are 404. Here with the live output and a recording as well."""
    need_prometheus()
    rec = os.path.join(ctx.tmpdir, ctx.unique("rec") + ".st")
    t, port = tracer_with_metrics(ctx, ["-w", rec, "-P", "1"])
    url = "http://127.0.0.1:%d/metrics" % port
    status, ctype, text = http_get(url)
    if status != 200 or not ctype.startswith("text/plain; version=0.0.4"):
        raise Fail("GET /metrics: %d %s" % (status, ctype))
    p = run_cmd([PROMTOOL, "check", "metrics"], check=False, input=text.encode())
    if p.returncode != 0:
        raise Fail("promtool check metrics failed (%d)" % p.returncode,
                   (p.stdout + p.stderr).decode().splitlines()[:20])
    for fam in ("socktrace_build_info", "socktrace_hook_info{concern=\"tcp_state\"",
                "socktrace_ringbuf_size_bytes 8388608"):
        if fam not in text:
            raise Fail("no %s in the exposition" % fam, text.splitlines()[:40])
    status, ctype, om = http_get(url, accept="application/openmetrics-text;version=1.0.0,"
                                             "text/plain;version=0.0.4;q=0.5")
    if not ctype.startswith("application/openmetrics-text") or not om.endswith("# EOF\n") or \
            "# TYPE socktrace_tcp_transitions counter" not in om:
        raise Fail("OpenMetrics: %s, %r" % (ctype, om[-200:]))
    try:
        http_get("http://127.0.0.1:%d/other" % port)
        raise Fail("GET /other did not fail")
    except urllib.error.HTTPError as e:
        if e.code != 404:
            raise Fail("GET /other: %d, expected 404" % e.code)
    run = t.stop()
    if run.rc != 0 or not os.path.getsize(rec):
        raise Fail("socktrace exited with %d, recording %d bytes" % (run.rc, os.path.getsize(rec)),
                   [run.err])


@test("metrics_scrape_during_storm", hook_independent=True)
def metrics_scrape_during_storm(ctx):
    """Scrapes while 2000 loopback connections are made as fast as one
    process can: each answers within 2 s, some come before the storm is
    over, and no counter goes back."""
    comm = "st-storm%d" % (os.getpid() % 100000)
    t, port = tracer_with_metrics(ctx, ["-q", "--comm", comm])
    url = "http://127.0.0.1:%d/metrics" % port
    storm = subprocess.Popen([sys.executable, "-c", STORM, comm, str(STORM_CONNS)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    ctx.on_cleanup(lambda: kill_proc(storm))
    prev, scrapes, during, slowest = {}, 0, 0, 0.0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = storm.poll() is not None
        t0 = time.monotonic()
        status, _, text = http_get(url, timeout=2)
        slowest = max(slowest, time.monotonic() - t0)
        if status != 200:
            raise Fail("scrape %d: HTTP %d" % (scrapes, status))
        cur = samples(text)
        for k, v in cur.items():
            if re.match(r"^[a-z_]+_(total|bucket|count|sum)\b", k) and v < prev.get(k, 0):
                raise Fail("scrape %d: %s went from %s to %s" % (scrapes, k, prev[k], v))
        prev = cur
        scrapes += 1
        during += not done
        if done and scrapes > 3:
            break
        time.sleep(0.05)
    if storm.returncode != 0:
        raise Fail("the storm failed: %s" % storm.stderr.read())
    est = prev.get('socktrace_tcp_connect_attempts_total{outcome="established"}', 0)
    if est < STORM_CONNS:
        time.sleep(1)
        est = samples(http_get(url)[2]).get(
            'socktrace_tcp_connect_attempts_total{outcome="established"}', 0)
    if est < STORM_CONNS:
        raise Fail("%d established attempts counted, expected at least %d" % (est, STORM_CONNS))
    run = t.stop()
    if run.rc != 0:
        raise Fail("socktrace exited with %d" % run.rc, [run.err])
    if during < 2:
        raise Fail("only %d scrapes during the storm (slowest %.2fs)" % (during, slowest))


@test("metrics_bad_input", hook_independent=True)
def metrics_bad_input(ctx):
    """An address that does not parse: usage error, exit 2; a port another
    process listens on, or no libmicrohttpd on the host: runtime error,
    exit 1, before anything loads."""
    for bad in ("localhost:9464", "9464", "127.0.0.1:70000", "[::1]9464"):
        p = run_cmd([ctx.socktrace, "--metrics", bad], check=False, timeout=10)
        err = p.stderr.decode()
        if p.returncode != 2 or "invalid metrics address '%s'" % bad not in err:
            raise Fail("--metrics %s: exit %d, expected 2 with a message" % (bad, p.returncode), [err])
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    ctx.on_cleanup(taken.close)
    port = taken.getsockname()[1]
    p = run_cmd([ctx.socktrace, "-q", "--metrics", ":%d" % port] + ctx.hook_args(),
                check=False, timeout=READY_TIMEOUT)
    err = p.stderr.decode()
    if p.returncode != 1 or "failed to serve metrics on :%d: Address already in use" % port not in err \
            or "tracing" in err:
        raise Fail("--metrics on a port in use: exit %d, expected 1 with the reason" % p.returncode,
                   [err])
    # a host without libmicrohttpd: the library hidden in a mount namespace
    lib = ctypes.util.find_library("microhttpd")
    path = lib and next((os.path.realpath(os.path.join(d, lib)) for d in
                         ("/usr/lib/%s-linux-gnu" % os.uname().machine, "/usr/lib", "/lib")
                         if os.path.exists(os.path.join(d, lib))), None)
    if not path:
        raise Skip("libmicrohttpd's library not found to hide")
    p = run_cmd(["unshare", "--mount", "sh", "-c", 'mount --bind /dev/null "$0" && exec "$@"', path,
                 ctx.socktrace, "-q", "--metrics", ":%d" % free_port()] + ctx.hook_args(),
                check=False, timeout=READY_TIMEOUT)
    err = p.stderr.decode()
    if p.returncode != 1 or "libmicrohttpd12" not in err or "tracing" in err:
        raise Fail("--metrics without libmicrohttpd: exit %d, expected 1 naming the package"
                   % p.returncode, [err])


def listeners(port):
    """The local addresses of the TCP listeners on port (ss -ltn)."""
    p = run_cmd(["ss", "-Hltn", "sport = :%d" % port])
    return sorted(line.split()[3].rsplit(":", 1)[0] for line in p.stdout.decode().splitlines())


@test("metrics_listen_address", hook_independent=True)
def metrics_listen_address(ctx):
    """--metrics :PORT listens on 127.0.0.1 only; [::1]:PORT on IPv6
    loopback, and answers there."""
    for arg, want, host in ((":%d", ["127.0.0.1"], "127.0.0.1"), ("[::1]:%d", ["[::1]"], "[::1]")):
        port = free_port()
        t = Tracer(ctx, ["-q", "-P", "1", "--metrics", arg % port], json_out=False)
        t.start()
        got = listeners(port)
        if got != want:
            raise Fail("--metrics %s listens on %s, expected %s" % (arg % port, got, want))
        status, _, text = http_get("http://%s:%d/metrics" % (host, port))
        if status != 200 or "socktrace_events_total" not in text:
            raise Fail("GET http://%s:%d/metrics: %d" % (host, port, status))
        run = t.stop()
        if run.rc != 0:
            raise Fail("socktrace exited with %d" % run.rc, [run.err])


@test("metrics_service", hook_independent=True)
def metrics_service(ctx):
    """The unit's command line with --metrics added, as docs/metrics.md
    shows: READY=1, then scrapes count a connection; a reload (the
    recording's next file) keeps serving and no counter restarts; SIGTERM
    exits 0."""
    state = os.path.join(ctx.tmpdir, ctx.unique("state"))
    os.mkdir(state, 0o700)
    port = free_port()
    svc = Service(ctx, unit_command(ctx, state) + ["--metrics", ":%d" % port])
    svc.expect("READY=1\nSTATUS=tracing", READY_TIMEOUT)
    url = "http://127.0.0.1:%d/metrics" % port
    key = 'socktrace_tcp_connect_attempts_total{outcome="established"}'

    def established(least):
        deadline = time.monotonic() + 5
        while True:
            v = samples(http_get(url)[2]).get(key, 0)
            if v >= least or time.monotonic() > deadline:
                return v
            time.sleep(0.1)

    connect_once()
    before = established(1)
    if before < 1:
        svc.fail("no established attempt counted after a connection")
    time.sleep(1.1)     # the next file's name (per second) differs
    unit_reload(svc.proc.pid)
    svc.expect("RELOADING=1", STOP_TIMEOUT)
    svc.expect("READY=1", STOP_TIMEOUT)
    connect_once()
    after = established(before + 1)
    if after < before + 1:
        svc.fail("established attempts %s before the reload, %s after one more" % (before, after))
    svc.proc.send_signal(signal.SIGTERM)
    svc.expect("STOPPING=1", STOP_TIMEOUT)
    if svc.proc.wait(STOP_TIMEOUT) != 0:
        svc.fail("exit status %d after SIGTERM" % svc.proc.returncode)


def series_count(text):
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def label_values(sams, family, label):
    """The values a label takes in a family's samples."""
    out = set()
    for key in sams:
        if key.startswith(family + "{"):
            m = re.search(r'[{,]%s="((?:[^"\\]|\\.)*)"' % label, key)
            if m:
                out.add(m.group(1))
    return out


@test("metrics_by_cardinality", hook_independent=True)
def metrics_by_cardinality(ctx):
    """--metrics-by comm,service with the default cap, while 500 processes
    of distinct names make 10000 attempts to distinct destinations (refused,
    in a network namespace of the test's own): the scrape holds at most
    the documented 35 x 101 + 253 series, every attempt is counted, the
    folded counter is above 0 and `other` is a series of its own."""
    procs, per, cap = 500, 20, 100
    prefix = "sc%d-" % (os.getpid() % 1000)
    ns = NetNS(ctx, "card")
    t, port = tracer_with_metrics(ctx, ["-q", "--metrics-by", "comm,service"])
    url = "http://127.0.0.1:%d/metrics" % port
    work = subprocess.Popen(["ip", "netns", "exec", ns.name, sys.executable, "-c", CARDINALITY,
                             str(procs), str(per), prefix],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ctx.on_cleanup(lambda: kill_proc(work))
    try:
        out, err = work.communicate(timeout=50)
    except subprocess.TimeoutExpired:
        raise Fail("the workload did not end within 50 s")
    if work.returncode != 0 or out.strip() != "done failed=0":
        raise Fail("the workload failed (%d): %s" % (work.returncode, out.strip()), [err])
    refused_key = 'socktrace_tcp_connect_attempts_total{outcome="refused"'
    deadline = time.monotonic() + 10
    while True:
        text = http_get(url)[2]
        sams = samples(text)
        refused = sum(v for k, v in sams.items() if k.startswith(refused_key))
        if refused >= procs * per or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    # the slowest of a few scrapes once the events are counted
    took = 0.0
    for _ in range(5):
        t0 = time.monotonic()
        text = http_get(url)[2]
        took = max(took, time.monotonic() - t0)
    sams = samples(text)
    lost = sams.get("socktrace_events_lost_total", 0)
    bound = BY_FAMILY_ROWS * (cap + 1) + FIXED_SERIES
    n = series_count(text)
    ours = {v for v in label_values(sams, "socktrace_tcp_connect_attempts_total", "comm")
            if v.startswith(prefix)}
    comms = label_values(sams, "socktrace_tcp_connect_attempts_total", "comm")
    folded = sams.get('socktrace_metrics_folded_total{family="socktrace_tcp_connect_attempts"}', 0)
    other = sams.get('socktrace_tcp_connect_attempts_total{outcome="refused",comm="other",service="other"}', 0)
    facts = ["%d series (bound %d), scrape %.1f ms, %d refused attempts counted, %d lost, "
             "%d comms of the workload kept, folded %d, other refused %d"
             % (n, bound, took * 1000, refused, lost, len(ours), folded, other)]
    if n > bound:
        raise Fail("%d series, more than the documented %d" % (n, bound), facts)
    if refused < procs * per and not lost:
        raise Fail("%d refused attempts counted, expected at least %d" % (refused, procs * per), facts)
    if len(comms) > cap + 1 or not folded or not other:
        raise Fail("the cap did not fold: %d comm values" % len(comms), facts)
    if took > 1:
        raise Fail("the scrape took %.2f s" % took, facts)
    run = t.stop()
    if run.rc != 0:
        raise Fail("socktrace exited with %d" % run.rc, [run.err])
    if ctx.verbose:
        print("  " + facts[0])


@test("metrics_by_known_comm", hook_independent=True)
def metrics_by_known_comm(ctx):
    """--metrics-by comm,service --metrics-cap 3: a process of a known name
    that makes the first attempts keeps its own series with exact counts,
    by service (the port's name, or its number); of the processes after it,
    the first gets the last own series and the rest are counted as other,
    which the folded counter counts exactly. promtool accepts the
    exposition."""
    names = tcp_service_names()
    free = [p for p in range(40001, 40100) if p not in names]
    p_ref, p_est = free[0], free[1]
    n_ref, n_est, others = 3, 2, 5
    comm = "stk%d" % (os.getpid() % 100000)
    addr = "127.77.%d.1" % (os.getpid() % 250)
    ns = NetNS(ctx, "known")
    t, port = tracer_with_metrics(ctx, ["-q", "--metrics-by", "comm,service", "--metrics-cap", "3",
                                        "host", addr])
    url = "http://127.0.0.1:%d/metrics" % port
    p = run_cmd(["ip", "netns", "exec", ns.name, sys.executable, "-c", KNOWN, comm, addr,
                 str(p_ref), str(p_est), str(n_ref), str(n_est), str(others)], timeout=30)
    if p.stdout.decode().strip() != "done":
        raise Fail("the traffic failed", [p.stderr.decode()])
    key = 'socktrace_tcp_connect_attempts_total{outcome="%s",comm="%s",service="%s"}'
    want = {
        key % ("refused", comm, p_ref): n_ref,
        key % ("established", comm, p_ref): 0,
        key % ("established", comm, p_est): n_est,
        key % ("refused", comm, p_est): 0,
        key % ("refused", "%s-0" % comm[:10], p_ref): 1,
        key % ("refused", "other", "other"): others - 1,
        'socktrace_metrics_folded_total{family="socktrace_tcp_connect_attempts"}': others - 1,
    }
    deadline = time.monotonic() + 10
    while True:
        sams = samples(http_get(url)[2])
        got = {k: sams.get(k) for k in want}
        if got == want or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    if got != want:
        raise Fail("the counts by comm and service differ",
                   ["%s = %s, expected %s" % (k, got[k], v) for k, v in want.items()] +
                   [k for k in sams if k.startswith("socktrace_tcp_connect_attempts_total")])
    comms = label_values(sams, "socktrace_tcp_connect_attempts_total", "comm")
    if comms != {comm, "%s-0" % comm[:10], "other"}:
        raise Fail("comm values %s, expected %s, its first other and other" % (sorted(comms), comm))
    # the extra labels, other and "" included, are valid exposition
    if os.access(PROMTOOL, os.X_OK):
        p = run_cmd([PROMTOOL, "check", "metrics"], check=False, input=http_get(url)[2].encode())
        if p.returncode != 0:
            raise Fail("promtool check metrics failed (%d)" % p.returncode,
                       (p.stdout + p.stderr).decode().splitlines()[:20])
    run = t.stop()
    if run.rc != 0:
        raise Fail("socktrace exited with %d" % run.rc, [run.err])


@test("metrics_by_usage", hook_independent=True)
def metrics_by_usage(ctx):
    """--metrics-by with an unknown key or without --metrics, --metrics-cap
    out of range or without --metrics-by: usage errors, exit 2."""
    cases = [
        (["--metrics", ":9464", "--metrics-by", "comm,pid"], "invalid metrics breakdown 'comm,pid'"),
        (["--metrics-by", "comm"], "--metrics-by needs --metrics"),
        (["--metrics", ":9464", "--metrics-by", "unit", "--metrics-cap", "0"],
         "invalid metrics cap '0': expected 1 to 1000"),
        (["--metrics", ":9464", "--metrics-by", "unit", "--metrics-cap", "1001"],
         "invalid metrics cap '1001'"),
        (["--metrics", ":9464", "--metrics-cap", "10"], "--metrics-cap needs --metrics-by"),
    ]
    for args, msg in cases:
        p = run_cmd([ctx.socktrace] + args, check=False, timeout=10)
        err = p.stderr.decode()
        if p.returncode != 2 or msg not in err:
            raise Fail("%s: exit %d, expected 2 with %r" % (" ".join(args), p.returncode, msg), [err])
