"""Output and files: write errors (/dev/full, a full file system), a reader
of stdout that goes away (| head), -r X -w X, -w into planted links and
other users' files, file modes, -Z, SIGHUP, damaged headers and unknown
times, bad replay inputs, and -w - / -r -."""
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time

from lib import HERE, READY_PREFIX, Fail, Run, Tracer, run_cmd, test
from scenarios import Conversation, free_port
from t_record import events, replay

FIXTURE_1_1 = os.path.join(HERE, "..", "unit", "data", "record-1.1.st")
NOBODY = 65534


class Proc:
    """socktrace with stdout where the test wants it; stderr collected, the
    ready line awaited. Killed at cleanup if it still runs."""

    def __init__(self, ctx, args, stdout, stdin=subprocess.DEVNULL, preexec_fn=None):
        self.cmd = [ctx.socktrace] + args
        self.lines = []
        self.ready = threading.Event()
        self.proc = subprocess.Popen(self.cmd, stdin=stdin, stdout=stdout,
                                     stderr=subprocess.PIPE, preexec_fn=preexec_fn)
        ctx.on_cleanup(self.kill)
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self):
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            if line.startswith(READY_PREFIX):
                self.ready.set()
        self.ready.set()

    def err(self):
        return "\n".join(self.lines)

    def details(self):
        return ["command: %s" % " ".join(self.cmd), "exit status: %s" % self.proc.poll()] + \
            ["stderr: %s" % l for l in self.lines[-10:]]

    def wait_ready(self, timeout=20):
        self.ready.wait(timeout)
        if not any(l.startswith(READY_PREFIX) for l in self.lines):
            raise Fail("socktrace was not ready within %ds" % timeout, self.details())

    def wait(self, timeout):
        """The exit status, or None if it still runs after timeout."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._t.join(5)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._t.join(2)
        try:
            self.proc.stderr.close()
        except OSError:
            pass


def burst(port, n):
    """n connections to a listener on 127.0.0.1:port (loopback, bounded)."""
    lsn = socket.socket()
    try:
        lsn.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsn.bind(("127.0.0.1", port))
        lsn.listen(64)
        for _ in range(n):
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            a, _ = lsn.accept()
            a.close()
            c.close()
    finally:
        lsn.close()


def recording(ctx, tag="f", convs=1):
    """A real recording of our own conversations, with an events block per
    conversation; returns (live run, path)."""
    port = free_port("127.0.0.1")
    cs = [Conversation(ctx, "127.0.0.1", port=port, server_name="st-fsrv",
                       client_name="st-fcli%d" % i) for i in range(convs)]
    path = os.path.join(ctx.tmpdir, "%s.st" % ctx.unique(tag))
    with Tracer(ctx, ["-w", path, "--no-snapshot", "port %d" % port]) as t:
        for c in cs:
            c.run()
            time.sleep(1.2)   # blocks are written at least once a second
        run = t.stop()
    run.expect_clean_exit()
    return run, path


def read(path):
    with open(path, "rb") as f:
        return f.read()


def expect(cond, reason, details=()):
    if not cond:
        raise Fail(reason, list(details))


def rep_details(rep):
    return ["command: %s" % rep.cmdline(), "exit status: %s" % rep.rc] + \
        ["stderr: %s" % l for l in rep.err.splitlines()[-8:]]


# ---------------------------------------------------------------- write errors

@test("files_dev_full", hook_independent=True)
def files_dev_full(ctx):
    """-r FILE -c 1, --info FILE and a live -j run with stdout on /dev/full:
    exit 1 and 'failed to write output: No space left on device', not 0
    with a summary that claims the events were written."""
    live, path = recording(ctx)
    want = "failed to write output: No space left on device"
    with open("/dev/full", "wb") as full:
        for args in (["-r", path, "-c", "1"], ["-r", path, "-j"], ["--info", path]):
            p = subprocess.run([ctx.socktrace] + args, stdin=subprocess.DEVNULL, stdout=full,
                               stderr=subprocess.PIPE, timeout=30)
            err = p.stderr.decode("utf-8", "replace")
            expect(p.returncode == 1 and want in err and " events (" not in err,
                   "%s > /dev/full: exit %d, expected 1 with %r and no summary" % (
                       " ".join(args), p.returncode, want), ["stderr: " + err])
        port = free_port("127.0.0.1")
        t = Proc(ctx, ["-j", "--no-snapshot", "-d", "4", "port %d" % port] + ctx.hook_args(),
                 stdout=full)
        t.wait_ready()
        Conversation(ctx, "127.0.0.1", port=port).run()
        rc = t.wait(15)
    expect(rc == 1 and want in t.err(), "live -j > /dev/full: exit %s, expected 1 with %r" % (
        rc, want), t.details())


def full_tmpfs(ctx, free):
    """A small tmpfs of its own, filled to `free` bytes; unmounted at cleanup."""
    mnt = os.path.join(ctx.tmpdir, ctx.unique("fullfs"))
    os.mkdir(mnt)
    run_cmd(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", mnt])
    ctx.on_cleanup(lambda: subprocess.run(["umount", "-l", mnt], capture_output=True, timeout=15))
    st = os.statvfs(mnt)
    with open(os.path.join(mnt, "filler"), "wb") as f:
        f.write(b"\0" * (st.f_bavail * st.f_frsize - free))
    return mnt


def run_until_exit(ctx, t, port, what):
    """Bursts of our own connections until socktrace stops by itself."""
    for _ in range(30):
        burst(port, 100)
        rc = t.wait(0.3)
        if rc is not None:
            return rc
    raise Fail("%s: socktrace still runs on a full file system" % what, t.details())


@test("files_full_filesystem", hook_independent=True)
def files_full_filesystem(ctx):
    """On a full file system a live -j run and a -w recording stop with exit
    1 and an error that names what failed: the output, or the recording
    and its path."""
    mnt = full_tmpfs(ctx, 16384)
    port = free_port("127.0.0.1")
    out = os.path.join(mnt, "out.json")
    with open(out, "wb") as f:
        t = Proc(ctx, ["-j", "--no-snapshot", "port %d" % port] + ctx.hook_args(), stdout=f)
    t.wait_ready()
    rc = run_until_exit(ctx, t, port, "-j > full")
    want = "failed to write output: No space left on device"
    expect(rc == 1 and want in t.err(), "-j on a full file system: exit %s, expected 1 with %r"
           % (rc, want), t.details())
    os.unlink(out)

    mnt = full_tmpfs(ctx, 4096)
    path = os.path.join(mnt, "rec.st")
    t = Proc(ctx, ["-q", "-w", path, "--no-snapshot", "port %d" % port] + ctx.hook_args(),
             stdout=subprocess.DEVNULL)
    t.wait_ready()
    rc = run_until_exit(ctx, t, port, "-w full")
    want = "failed to write recording '%s': No space left on device" % path
    expect(rc == 1 and want in t.err() and " events (" not in t.err(),
           "-w on a full file system: exit %s, expected 1 with %r" % (rc, want), t.details())


# ---------------------------------------------------------------- | head

def with_reader(ctx, args):
    """socktrace | head -2; returns (socktrace, head)."""
    head = subprocess.Popen(["head", "-2"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    ctx.on_cleanup(lambda: (head.poll() is None and head.kill(), head.wait(5)))
    t = Proc(ctx, args + ctx.hook_args(), stdout=head.stdin)
    head.stdin.close()   # only socktrace holds the pipe now
    t.wait_ready()
    return t, head


@test("files_head_exits_with_traffic", hook_independent=True)
def files_head_exits_with_traffic(ctx):
    """socktrace 'port P' | head -2 with traffic: once head has its two
    lines and exits, socktrace exits at once with status 0."""
    port = free_port("127.0.0.1")
    t, head = with_reader(ctx, ["--no-snapshot", "port %d" % port])
    Conversation(ctx, "127.0.0.1", port=port).run()
    try:
        head.wait(10)
    except subprocess.TimeoutExpired:
        raise Fail("head -2 got no two lines", t.details())
    gone = time.monotonic()
    rc = t.wait(5)
    expect(rc == 0, "socktrace | head -2: exit %s %.1fs after head exited, expected 0 within 2s"
           % (rc, time.monotonic() - gone), t.details())
    expect(time.monotonic() - gone < 2.5, "socktrace took %.1fs to notice" % (time.monotonic() - gone),
           t.details())


@test("files_head_exits_quiet_filter", hook_independent=True)
def files_head_exits_quiet_filter(ctx):
    """With a filter nothing matches, socktrace notices within a second or two
    that the reader of its stdout is gone, though it never writes, and exits
    with status 0: no tracer stays attached for nobody."""
    port = free_port("127.0.0.1")
    for args in (["--no-snapshot", "port %d" % port],
                 ["-j", "--no-snapshot", "port %d" % port]):
        t, head = with_reader(ctx, args)
        time.sleep(0.5)
        head.send_signal(signal.SIGTERM)   # head exits before any line
        head.wait(5)
        gone = time.monotonic()
        rc = t.wait(5)
        took = time.monotonic() - gone
        expect(rc == 0 and took < 2.5, "%s | head (exited): exit %s after %.1fs, expected 0 "
               "within 2s" % (" ".join(args), rc, took), t.details())


# ---------------------------------------------------------------- -r X -w X

@test("files_same_file_refused", hook_independent=True)
def files_same_file_refused(ctx):
    """-r X -w X, and X under another name (symlink, hard link, a -W ring
    name, stdout appending to X): exit 2 naming the input, X unchanged."""
    live, path = recording(ctx)
    before = read(path)
    d = os.path.dirname(path)
    sym = os.path.join(d, ctx.unique("sym") + ".st")
    hard = os.path.join(d, ctx.unique("hard") + ".st")
    os.symlink(path, sym)
    os.link(path, hard)
    base = os.path.join(d, ctx.unique("ring") + ".st")
    ring1 = base + "1"
    with open(ring1, "wb") as f:
        f.write(before)
    cases = [(["-r", path, "-w", path, "-q"], path),
             (["-r", path, "-w", sym, "-q"], path),
             (["-r", path, "-w", hard, "-q"], path),
             (["-r", sym, "-w", path, "-q"], path),
             (["-r", ring1, "-w", base, "-C", "1", "-W", "3", "-q"], ring1)]
    for args, victim in cases:
        rep = replay(ctx, args)
        expect(rep.rc == 2 and "same file as the input" in rep.err,
               "%s: exit %d, expected 2 with 'same file as the input'" % (" ".join(args), rep.rc),
               rep_details(rep))
        expect(read(victim) == before, "%s changed %s" % (" ".join(args), victim))
    expect(not os.path.exists(base + "0"), "the ring's first file was created")
    # stdout appends to the input
    with open(path, "ab") as out:
        p = subprocess.run([ctx.socktrace, "-r", path, "-w", "-", "-q"], stdin=subprocess.DEVNULL,
                           stdout=out, stderr=subprocess.PIPE, timeout=30)
    expect(p.returncode == 2 and b"standard output is the input" in p.stderr,
           "-r X -w - >> X: exit %d, expected 2" % p.returncode, [p.stderr.decode()])
    expect(read(path) == before, "-r X -w - >> X changed X")


# ---------------------------------------------------------------- -w safety

def sticky_dir(ctx):
    """A world-writable sticky directory as /tmp is, that other users can
    reach (the suite's own directory is private)."""
    d = tempfile.mkdtemp(prefix="%s-sticky-" % ctx.unique("f"))
    ctx.on_cleanup(lambda: shutil.rmtree(d, ignore_errors=True))
    os.chmod(d, 0o1777)
    return d


@test("files_write_refuses_planted_files", hook_independent=True)
def files_write_refuses_planted_files(ctx):
    """In a sticky world-writable directory, a symlink another user planted
    at the -w path and a file another user created there (mode 0666) are
    refused (exit 1, a clear reason); their targets stay untouched."""
    d = sticky_dir(ctx)
    target = os.path.join(ctx.tmpdir, ctx.unique("precious"))
    with open(target, "wb") as f:
        f.write(b"precious\n")
    link = os.path.join(d, "trace.st")
    os.symlink(target, link)
    os.lchown(link, NOBODY, NOBODY)
    planted = os.path.join(d, "other.st")
    with open(planted, "wb") as f:
        f.write(b"nobody's\n")
    os.chown(planted, NOBODY, NOBODY)
    os.chmod(planted, 0o666)
    for path, why in ((link, "symbolic link"), (planted, "belongs to another user (uid 65534)")):
        p = subprocess.run([ctx.socktrace, "-q", "-w", path, "-d", "1", "--no-snapshot",
                            "port 9"] + ctx.hook_args(), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=60)
        err = p.stderr.decode("utf-8", "replace")
        expect(p.returncode == 1 and why in err and "failed to create recording '%s'" % path in err,
               "-w %s: exit %d, expected 1 with %r" % (path, p.returncode, why), ["stderr: " + err])
    expect(read(target) == b"precious\n", "the symlink's target was written")
    expect(read(planted) == b"nobody's\n", "the other user's file was written")
    # replay's -w too
    live, rec = recording(ctx)
    rep = replay(ctx, ["-r", rec, "-w", link, "-q"])
    expect(rep.rc == 1 and "symbolic link" in rep.err, "-r -w LINK: exit %d" % rep.rc,
           rep_details(rep))
    expect(read(target) == b"precious\n", "-r -w LINK wrote the symlink's target")


@test("files_new_files_mode", hook_independent=True)
def files_new_files_mode(ctx):
    """A new recording is 0600 whatever the umask allows; --file-mode 0644
    gives 0644 (less the umask)."""
    live, rec = recording(ctx)
    for args, want in (([], 0o600), (["--file-mode", "0644"], 0o644),
                       (["--file-mode", "0666"], 0o644)):
        out = os.path.join(ctx.tmpdir, ctx.unique("mode") + ".st")
        p = subprocess.run([ctx.socktrace, "-r", rec, "-w", out, "-q"] + args,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                           preexec_fn=lambda: os.umask(0o022))
        expect(p.returncode == 0, "-w with %s: exit %d" % (args, p.returncode), [p.stderr.decode()])
        mode = stat.S_IMODE(os.stat(out).st_mode)
        expect(mode == want, "-w %s made a file of mode %o, expected %o" % (args, mode, want))


# ---------------------------------------------------------------- -Z

def status_of(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.split()
    return fields


@test("files_drop_privileges", hook_independent=True)
def files_drop_privileges(ctx):
    """-Z nobody: once attached the tracer runs as nobody (uids, gids, no
    groups, no capabilities), still prints TCP transitions and UDP flows
    (ended idle, so read from the kernel's flow table), and -G rotation
    creates files, owned by nobody, in a directory nobody can write; a
    directory nobody cannot write is refused before anything is attached."""
    d = sticky_dir(ctx)
    port = free_port("127.0.0.1")
    pattern = os.path.join(d, "z-%H%M%S.st")
    with open(os.path.join(ctx.tmpdir, ctx.unique("z") + ".json"), "wb") as out:
        t = Proc(ctx, ["-j", "-Z", "nobody", "-w", pattern, "-G", "1", "--udp-idle", "1",
                       "--no-snapshot", "port %d" % port] + ctx.hook_args(), stdout=out)
    t.wait_ready()
    st = status_of(t.proc.pid)
    want = {"Uid": [str(NOBODY)] * 4, "Gid": [str(NOBODY)] * 4, "Groups": [],
            "CapEff": ["0000000000000000"], "CapPrm": ["0000000000000000"]}
    for k, v in want.items():
        expect(st.get(k) == v, "-Z nobody: %s is %s, expected %s" % (k, st.get(k), v), t.details())
    Conversation(ctx, "127.0.0.1", port=port).run()
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        b.bind(("127.0.0.1", port))
        a.sendto(b"ping", ("127.0.0.1", port))
        b.recv(16)
        time.sleep(3.5)   # idle for longer than --udp-idle, through a -G period
    finally:
        a.close()
        b.close()
    t.proc.send_signal(signal.SIGINT)
    rc = t.wait(10)
    expect(rc == 0, "-Z nobody: exit %s" % rc, t.details())
    files = sorted(os.listdir(d))
    expect(len(files) >= 2, "-G 1 over 4 s made %d files" % len(files), t.details())
    recs = []
    for n in files:
        p = os.path.join(d, n)
        s = os.stat(p)
        expect(s.st_uid == NOBODY and stat.S_IMODE(s.st_mode) == 0o600,
               "%s: owner %d mode %o, expected nobody 0600" % (n, s.st_uid, stat.S_IMODE(s.st_mode)))
        rep = replay(ctx, ["-r", p, "-j"])
        expect(rep.rc == 0, "%s does not replay" % n, rep_details(rep))
        recs += events(rep)
    states = [r for r in recs if r.get("type") == "tcp_state"]
    idle = [r for r in recs if r.get("type") == "udp_flow" and r.get("event") == "end"
            and r.get("reason") == "idle" and port in (r.get("lport"), r.get("rport"))]
    expect(len(states) >= 8 and idle, "-Z nobody recorded %d transitions and %d idle UDP flow "
           "ends, expected a conversation and a flow" % (len(states), len(idle)), t.details())

    # a directory nobody cannot write: refused, nothing attached
    closed = os.path.join(ctx.tmpdir, ctx.unique("closed"))
    os.mkdir(closed, 0o755)
    p = subprocess.run([ctx.socktrace, "-q", "-Z", "nobody", "-w", os.path.join(closed, "x.st"),
                        "-C", "1", "-d", "1"] + ctx.hook_args(), stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=60)
    err = p.stderr.decode("utf-8", "replace")
    expect(p.returncode == 1 and "cannot create files in" in err and READY_PREFIX not in err,
           "-Z with an unwritable directory: exit %d" % p.returncode, ["stderr: " + err])
    p = subprocess.run([ctx.socktrace, "-Z", "no-such-user-here", "-d", "1"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    expect(p.returncode == 2 and b"unknown user" in p.stderr, "-Z unknown: exit %d" % p.returncode,
           [p.stderr.decode()])


# ---------------------------------------------------------------- SIGHUP

@test("files_sighup_live", hook_independent=True)
def files_sighup_live(ctx):
    """SIGHUP (a closed terminal) ends a live run like SIGINT: the summary
    line, exit 0, and a recording that ends cleanly."""
    port = free_port("127.0.0.1")
    path = os.path.join(ctx.tmpdir, "%s.st" % ctx.unique("hup"))
    with Tracer(ctx, ["-w", path, "--no-snapshot", "port %d" % port]) as t:
        Conversation(ctx, "127.0.0.1", port=port).run()
        run = t.stop(sig=signal.SIGHUP)
    run.expect_clean_exit()
    expect(" events (" in run.err, "no summary on stderr after SIGHUP", run.details())
    info = replay(ctx, ["--info", path])
    expect(b"End:               clean close" in info.out, "--info after SIGHUP: %s" %
           info.out.decode()[-200:])
    rep = replay(ctx, ["-r", path, "-j"])
    expect(events(rep) == events(run), "the recording differs from what was printed")


@test("files_sighup_replay", hook_independent=True)
def files_sighup_replay(ctx):
    """SIGHUP during a replay from stdin (-r -) that has not ended: the
    summary, exit 0, and the -w copy ends cleanly."""
    live, path = recording(ctx)
    one = read(path)
    out = os.path.join(ctx.tmpdir, "%s.st" % ctx.unique("hupcopy"))
    t = Proc(ctx, ["-r", "-", "-w", out, "-q", "-j"], stdout=subprocess.PIPE, stdin=subprocess.PIPE)
    stop = threading.Event()

    def feed():
        try:
            for _ in range(200000):   # concatenated copies: one long recording
                if stop.is_set():
                    break
                t.proc.stdin.write(one)
                t.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass

    th = threading.Thread(target=feed, daemon=True)
    th.start()
    time.sleep(1.5)
    t.proc.send_signal(signal.SIGHUP)
    rc = t.wait(15)
    stop.set()
    if rc is None:
        raise Fail("replay did not exit within 15s of SIGHUP", t.details())
    stdout = t.proc.stdout.read()
    try:
        t.proc.stdin.close()
    except OSError:
        pass
    th.join(5)
    expect(rc == 0 and " events (" in t.err(), "replay after SIGHUP: exit %s" % rc, t.details())
    summary = json.loads(stdout.splitlines()[-1])
    expect(summary.get("type") == "summary" and summary["events"] > 0,
           "no JSON summary after SIGHUP: %r" % stdout[-200:])
    info = replay(ctx, ["--info", out])
    # the copy holds the DNS answers of the host the recording caught, too
    expect(b"End:               clean close" in info.out and
           ("Events:            %d" % (summary["events"] + summary.get("dns_answers", 0))).encode()
           in info.out,
           "--info of the copy: %s" % info.out.decode()[-400:])


# ---------------------------------------------------------------- damaged headers

def flip(data, off):
    bad = bytearray(data)
    bad[off] ^= 0xff
    return bytes(bad)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


HEADER_PAYLOAD = 12 + 28


@test("files_damaged_header_keeps_times", hook_independent=True)
def files_damaged_header_keeps_times(ctx):
    """One flipped byte in the header block of a real recording: the block
    is skipped with a warning, and every event replays with its own time
    (each events block carries the clock reference); --since with a real
    date selects as on the undamaged file."""
    live, path = recording(ctx, convs=2)
    good = replay(ctx, ["-r", path, "-j"])
    good.expect_clean_exit()
    bad = write(path + ".bad", flip(read(path), HEADER_PAYLOAD + 3))
    rep = replay(ctx, ["-r", bad, "-j"])
    expect(rep.rc == 0 and "skipped 1 corrupt block" in rep.err and "unknown" not in rep.err,
           "damaged header: exit %d" % rep.rc, rep_details(rep))
    expect(events(rep) == events(good), "damaged header: %d events differ from the undamaged "
           "replay" % sum(1 for a, b in zip(events(rep), events(good)) if a != b),
           ["good: %s" % events(good)[:1], "bad:  %s" % events(rep)[:1]])
    since = events(good)[len(events(good)) // 2]["time"]
    a = replay(ctx, ["-r", path, "-j", "--since", since])
    b = replay(ctx, ["-r", bad, "-j", "--since", since])
    expect(events(a) and events(a) == events(b), "--since %s: %d events on the damaged file, %d "
           "on the good one" % (since, len(events(b)), len(events(a))))


@test("files_1_1_damaged_header_unknown_times", hook_independent=True)
def files_1_1_damaged_header_unknown_times(ctx):
    """A 1.1 file (no clock record per block) with its header damaged: the
    events before its first clock record have no known time: JSON null,
    text '?', a warning with their count, and --since with a real date
    does not match them; the others keep their times."""
    data = read(FIXTURE_1_1)
    good = replay(ctx, ["-r", FIXTURE_1_1, "-j"])
    good.expect_clean_exit()
    bad = write(os.path.join(ctx.tmpdir, ctx.unique("old") + ".st"),
                flip(data, HEADER_PAYLOAD + 5))
    rep = replay(ctx, ["-r", bad, "-j"])
    expect(rep.rc == 0 and "the wall-clock time of 10 events is unknown" in rep.err,
           "1.1 with a damaged header: exit %d" % rep.rc, rep_details(rep))
    got, want = events(rep), events(good)
    expect(len(got) == 15, "%d events, expected 15" % len(got))
    for i, (g, w) in enumerate(zip(got, want)):
        if i < 10:
            w = dict(w, time=None)
        expect(g == w, "event %d: %s, expected %s" % (i, g, w))
    text = replay(ctx, ["-r", bad])
    lines = text.out.decode().splitlines()
    expect(lines[1].startswith("? ") and lines[11][:2].isdigit(),
           "text: %r, %r" % (lines[1], lines[11]))
    since = replay(ctx, ["-r", bad, "-j", "--since", "2000-01-01T00:00:00Z"])
    expect(events(since) == want[10:], "--since a date: %d events, expected the 5 with a time"
           % len(events(since)))
    info = replay(ctx, ["--info", bad])
    expect(b"  without time:    10 " in info.out and b"1970" not in info.out,
           "--info: %s" % info.out.decode())


# ---------------------------------------------------------------- bad inputs

@test("files_replay_bad_inputs", hook_independent=True)
def files_replay_bad_inputs(ctx):
    """-r DIR says it is a directory; the magic then garbage is an error
    (exit 1) with a reason; options that do nothing on a replay are usage
    errors (exit 2) that name the option."""
    rep = replay(ctx, ["-r", ctx.tmpdir])
    expect(rep.rc == 1 and "is a directory" in rep.err, "-r DIR: exit %d" % rep.rc,
           rep_details(rep))
    junk = write(os.path.join(ctx.tmpdir, "magic.st"),
                 b"\x89STR\r\n\x1a\n\x01\x00\x01\x00" + b"garbage " * 500)
    for args in (["-r", junk, "-j"], ["--info", junk]):
        rep = replay(ctx, args)
        expect(rep.rc == 1 and "no readable block" in rep.err, "%s: exit %d, expected 1 with "
               "'no readable block'" % (" ".join(args), rep.rc), rep_details(rep))
    live, path = recording(ctx)
    for opt in (["--hook", "kprobe"], ["--btf", "/sys/kernel/btf/vmlinux"], ["--ringbuf-kb", "64"],
                ["--probes"], ["--udp-flows", "64"], ["--no-snapshot"], ["-d", "3"],
                ["--udp-idle", "2"], ["--interval", "1"],
                ["-Z", "nobody"]):
        rep = replay(ctx, ["-r", path, "-q"] + opt)
        expect(rep.rc == 2 and opt[0] in rep.err and "live tracing only" in rep.err,
               "-r with %s: exit %d, expected 2 naming it" % (opt[0], rep.rc), rep_details(rep))


# ---------------------------------------------------------------- - and -

@test("files_stdin_stdout", hook_independent=True)
def files_stdin_stdout(ctx):
    """-w - writes the recording to stdout and -r - reads one from stdin:
    replay | replay, and a live run | replay, give what -r FILE gives;
    -w - without -q or with rotation is a usage error."""
    live, path = recording(ctx)
    want = replay(ctx, ["-r", path, "-j"])
    a = subprocess.Popen([ctx.socktrace, "-r", path, "-w", "-", "-q"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    b = subprocess.run([ctx.socktrace, "-r", "-", "-j"], stdin=a.stdout, capture_output=True,
                       timeout=30)
    a.stdout.close()
    expect(a.wait(10) == 0 and b.returncode == 0, "-w - | -r -: exit %s, %s" % (
        a.returncode, b.returncode), [b.stderr.decode()])
    got = Run(["-r", "-"], b.returncode, b.stdout, b.stderr.decode())
    expect(events(got) == events(want), "-w - | -r - gave %d events, expected %d" % (
        len(events(got)), len(events(want))))

    port = free_port("127.0.0.1")
    r = subprocess.Popen([ctx.socktrace, "-r", "-", "-j"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ctx.on_cleanup(lambda: (r.poll() is None and r.kill(), r.wait(5)))
    t = Proc(ctx, ["-q", "-w", "-", "--no-snapshot", "port %d" % port] + ctx.hook_args(),
             stdout=r.stdin)
    r.stdin.close()
    r.stdin = None   # only socktrace writes to it
    t.wait_ready()
    Conversation(ctx, "127.0.0.1", port=port).run()
    t.proc.send_signal(signal.SIGINT)
    rc = t.wait(10)
    out, err = r.communicate(timeout=20)
    got = Run(["-r", "-"], r.returncode, out, err.decode())
    states = [e for e in events(got) if e.get("type") == "tcp_state"]
    expect(rc == 0 and r.returncode == 0 and len(states) >= 8,
           "live -w - | -r -: exits %s, %s with %d transitions" % (rc, r.returncode, len(states)),
           t.details() + ["reader: " + got.err])

    for args in (["-r", path, "-w", "-"], ["-r", path, "-w", "-", "-q", "-C", "1"],
                 ["-w", "-", "-j", "-q"], ["-r", "-", "-r", "-"]):
        rep = replay(ctx, args)
        expect(rep.rc == 2, "%s: exit %d, expected 2" % (" ".join(args), rep.rc), rep_details(rep))


# ---------------------------------------------------------------- errors as JSON

@test("files_errors_and_warnings_as_json", hook_independent=True)
def files_errors_and_warnings_as_json(ctx):
    """With -j, an error or a warning reaches JSON readers too, as an
    object on stdout ({"type":"error"|"warning","message":...}, the text
    of the stderr line), warnings before the summary, which stays last: a
    file given as --btf that is not BTF (exit 1), and the replay of a
    recording cut in its last block."""
    rep = replay(ctx, ["-j", "--btf", "/etc/passwd", "-d", "1"])
    errs = [r for r in rep.messages if r.get("type") == "error"]
    expect(rep.rc == 1 and len(errs) == 1 and "is not a BTF file" in errs[0].get("message", "")
           and errs[0]["message"] in rep.err, "--btf /etc/passwd -j: exit %s, error objects %s"
           % (rep.rc, errs), rep_details(rep))
    live, path = recording(ctx, "jw")
    data = read(path)
    cut = os.path.join(ctx.tmpdir, "%s.st" % ctx.unique("cut"))
    with open(cut, "wb") as f:
        f.write(data[:len(data) - 40])
    rep = replay(ctx, ["-j", "-r", cut])
    recs = rep.all_records
    warns = [i for i, r in enumerate(recs) if r.get("type") == "warning"]
    expect(rep.rc == 0 and warns and "truncated" in " ".join(
        recs[i]["message"] for i in warns), "replay of a cut recording with -j: exit %s, "
           "no warning object about the truncation" % rep.rc, rep_details(rep))
    expect(rep.summary is not None and recs[-1] is rep.summary and
           max(warns) < len(recs) - 1, "the summary is not the last line after the "
           "warnings", rep_details(rep))
    for i in warns:
        expect("socktrace: warning: " + recs[i]["message"] in rep.err,
               "warning object %r is not the stderr line" % recs[i], rep_details(rep))
