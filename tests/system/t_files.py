"""Output and files: write errors (/dev/full, a full file system), a reader
of stdout that goes away (| head), SIGHUP, and bad replay inputs."""
import os
import signal
import socket
import subprocess
import threading
import time

from lib import READY_PREFIX, Fail, Tracer, run_cmd, test
from scenarios import Conversation, free_port
from t_record import events, replay


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

@test("files_dev_full")
def files_dev_full(ctx):
    """-r FILE -n 1, --info FILE and a live -j run with stdout on /dev/full:
    exit 1 and 'failed to write output: No space left on device', not 0
    with a summary that claims the events were written."""
    live, path = recording(ctx)
    want = "failed to write output: No space left on device"
    with open("/dev/full", "wb") as full:
        for args in (["-r", path, "-n", "1"], ["-r", path, "-j"], ["--info", path]):
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


@test("files_full_filesystem")
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


@test("files_head_exits_with_traffic")
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


@test("files_head_exits_quiet_filter")
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


# ---------------------------------------------------------------- SIGHUP

@test("files_sighup_live")
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


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


# ---------------------------------------------------------------- bad inputs

@test("files_replay_bad_inputs")
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
                ["--syn-alert", "50"], ["--udp-idle", "2"], ["--interval", "1"]):
        rep = replay(ctx, ["-r", path, "-q"] + opt)
        expect(rep.rc == 2 and opt[0] in rep.err and "live tracing only" in rep.err,
               "-r with %s: exit %d, expected 2 naming it" % (opt[0], rep.rc), rep_details(rep))
