"""socktrace as a systemd service: the unit's own command line run with a
NOTIFY_SOCKET the test listens on (readiness only once attached, reload,
stop), the recording's files a reload starts, and journald's priorities."""
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import time

from lib import READY_TIMEOUT, STOP_TIMEOUT, Fail, run_cmd, test

HERE = os.path.dirname(os.path.abspath(__file__))
UNIT = os.path.join(os.path.dirname(os.path.dirname(HERE)), "deploy", "systemd",
                    "socktrace.service")


def unit_reload(pid):
    """Runs the unit's ExecReload as systemd would, $MAINPID set."""
    with open(UNIT) as f:
        line = [l.strip() for l in f if l.startswith("ExecReload=")]
    if len(line) != 1:
        raise Fail("%s: no ExecReload" % UNIT)
    argv = shlex.split(line[0][len("ExecReload="):])
    subprocess.run(argv, env=dict(os.environ, MAINPID=str(pid)), check=True, timeout=10)


def unit_command(ctx, state_dir):
    """The unit's ExecStart with its default SOCKTRACE_ARGS, as systemd
    would run it: this build's binary, the state directory in state_dir."""
    env_args = execstart = None
    with open(UNIT) as f:
        for line in f:
            line = line.strip()
            m = re.match(r'Environment="SOCKTRACE_ARGS=(.*)"$', line)
            if m:
                env_args = m.group(1)
            if line.startswith("ExecStart="):
                execstart = line[len("ExecStart="):]
    if not env_args or not execstart:
        raise Fail("%s: no ExecStart or default SOCKTRACE_ARGS" % UNIT)
    # specifiers: %% is a plain % in the unit's values
    args = env_args.replace("%%", "%").replace("/var/lib/socktrace", state_dir)
    argv = shlex.split(execstart.replace("$SOCKTRACE_ARGS", args))
    if not argv[0].endswith("/socktrace"):
        raise Fail("ExecStart runs %s, expected socktrace" % argv[0])
    return [ctx.socktrace] + argv[1:] + ctx.hook_args()


class Service:
    """socktrace started as systemd starts a Type=notify service."""

    def __init__(self, ctx, argv, env=None):
        self.sock_path = os.path.join(ctx.tmpdir, ctx.unique("notify"))
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.sock_path)
        ctx.on_cleanup(self.sock.close)
        self.err_path = os.path.join(ctx.tmpdir, ctx.unique("service") + ".err")
        env = dict(os.environ, NOTIFY_SOCKET=self.sock_path, **(env or {}))
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=err, env=env)
        ctx.on_cleanup(self.kill)
        self.argv = argv

    def stderr(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def fail(self, reason):
        raise Fail(reason, ["command: %s" % " ".join(self.argv)] +
                   ["stderr: %s" % l for l in self.stderr().splitlines()[-15:]])

    def expect(self, want, timeout):
        """The next notification, which must be want."""
        self.sock.settimeout(timeout)
        try:
            got = self.sock.recv(4096).decode()
        except socket.timeout:
            self.fail("no %r from socktrace within %.0fs" % (want, timeout))
        if got != want:
            self.fail("notification %r, expected %r" % (got, want))
        return got

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def connect_once():
    """One TCP connection on loopback, closed at once: its client port."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    c = socket.create_connection(ls.getsockname(), timeout=5)
    a, _ = ls.accept()
    port = c.getsockname()[1]
    for s in (c, a, ls):
        s.close()
    return port


def replay_ports(ctx, path):
    """The client ports of the transitions a recording holds."""
    r = run_cmd([ctx.socktrace, "-r", path, "-j"], timeout=30)
    ports = set()
    for line in r.stdout.splitlines():
        e = json.loads(line)
        if e.get("type") == "tcp_state" and e.get("role") == "client":
            ports.add(e.get("lport"))
    return ports


def recordings(d):
    return sorted(os.path.join(d, n) for n in os.listdir(d) if n.endswith(".st"))


@test("service_notify_ready_reload", hook_independent=True)
def service_notify_ready_reload(ctx):
    """The unit's ExecStart and default options, with a NOTIFY_SOCKET: READY=1
    comes after the ready line, and a connection made the moment it comes is
    recorded; `systemctl reload` (SIGHUP) sends RELOADING=1, starts the
    recording's next file and sends READY=1 again, without ending the run
    (the unit's ExecReload sends it);
    SIGTERM sends STOPPING=1 and exits 0. Each connection is in its file."""
    state = os.path.join(ctx.tmpdir, ctx.unique("state"))
    os.mkdir(state, 0o700)
    svc = Service(ctx, unit_command(ctx, state))
    svc.expect("READY=1\nSTATUS=tracing", READY_TIMEOUT)
    if "socktrace: tracing " not in svc.stderr():
        svc.fail("READY=1 came before the ready line")
    first = connect_once()
    time.sleep(1.1)     # the next file's name (per second) differs
    unit_reload(svc.proc.pid)
    svc.expect("RELOADING=1", STOP_TIMEOUT)
    svc.expect("READY=1", STOP_TIMEOUT)
    if svc.proc.poll() is not None:
        svc.fail("socktrace exited on SIGHUP (status %s)" % svc.proc.returncode)
    if "socktrace: reload: started the next file: " not in svc.stderr():
        svc.fail("no line saying the reload started the next file")
    second = connect_once()
    time.sleep(0.3)
    svc.proc.send_signal(signal.SIGTERM)
    svc.expect("STOPPING=1", STOP_TIMEOUT)
    try:
        rc = svc.proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        svc.fail("socktrace did not exit within %.0fs of SIGTERM" % STOP_TIMEOUT)
    if rc != 0:
        svc.fail("exit status %d after SIGTERM" % rc)
    files = recordings(state)
    if len(files) != 2:
        svc.fail("%d recordings in the state directory, expected 2: %s" % (len(files), files))
    got = [replay_ports(ctx, f) for f in files]
    if first not in got[0] or second in got[0] or second not in got[1] or first in got[1]:
        svc.fail("client ports %d and %d: the first file holds %s, the second %s"
                 % (first, second, sorted(got[0]), sorted(got[1])))


@test("service_reload_logrotate", hook_independent=True)
def service_reload_logrotate(ctx):
    """A service recording to a plain -w FILE: a reload while FILE is in
    place keeps it (reopening would truncate it); after FILE was moved away
    (logrotate), a reload starts a new FILE. Both files replay whole."""
    d = os.path.join(ctx.tmpdir, ctx.unique("rot"))
    os.mkdir(d, 0o700)
    path = os.path.join(d, "trace.st")
    svc = Service(ctx, [ctx.socktrace, "-q", "-w", path] + ctx.hook_args())
    svc.expect("READY=1\nSTATUS=tracing", READY_TIMEOUT)
    first = connect_once()
    svc.proc.send_signal(signal.SIGHUP)
    svc.expect("RELOADING=1", STOP_TIMEOUT)
    svc.expect("READY=1", STOP_TIMEOUT)
    if "socktrace: reload: the file is still in place: kept: " + path not in svc.stderr():
        svc.fail("no line saying the file in place was kept")
    os.rename(path, path + ".1")
    svc.proc.send_signal(signal.SIGHUP)
    svc.expect("RELOADING=1", STOP_TIMEOUT)
    svc.expect("READY=1", STOP_TIMEOUT)
    second = connect_once()
    time.sleep(0.3)
    svc.proc.send_signal(signal.SIGTERM)
    svc.expect("STOPPING=1", STOP_TIMEOUT)
    if svc.proc.wait(STOP_TIMEOUT) != 0:
        svc.fail("exit status %d after SIGTERM" % svc.proc.returncode)
    old, new = replay_ports(ctx, path + ".1"), replay_ports(ctx, path)
    if first not in old or second in old or second not in new or first in new:
        svc.fail("client ports %d and %d: the moved file holds %s, the new one %s"
                 % (first, second, sorted(old), sorted(new)))


@test("service_journal_priorities", hook_independent=True)
def service_journal_priorities(ctx):
    """With stderr the journal's stream ($JOURNAL_STREAM names its device
    and inode), errors start with <3> and warnings with <4>, journald's
    priorities; with any other stderr, no prefix."""
    good = os.path.join(ctx.tmpdir, ctx.unique("rec") + ".st")
    run_cmd([ctx.socktrace, "-d", "0.3", "-q", "-w", good] + ctx.hook_args(), timeout=60)
    cut = good + ".cut"
    with open(good, "rb") as f, open(cut, "wb") as g:
        data = f.read()
        g.write(data[:len(data) - 7])
    for journal in (True, False):
        for args, prefix, kind in ((["-r", cut, "-q"], "<4>", "warning"),
                                   (["-r", cut + ".missing"], "<3>", "error"),
                                   (["--no-such-option"], "<3>", "usage error")):
            err_path = os.path.join(ctx.tmpdir, ctx.unique("journal") + ".err")
            with open(err_path, "wb") as err:
                st = os.fstat(err.fileno())
                env = dict(os.environ)
                env.pop("JOURNAL_STREAM", None)
                if journal:
                    env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
                subprocess.run([ctx.socktrace] + args, stdout=subprocess.DEVNULL, stderr=err,
                               env=env, timeout=30)
            with open(err_path, errors="replace") as f:
                lines = [l for l in f.read().splitlines() if "socktrace: " in l]
            want = prefix + "socktrace: " if journal else "socktrace: "
            if not lines or not lines[0].startswith(want) or (
                    kind == "warning" and "warning: " not in lines[0]):
                raise Fail("%s %s, stderr %s the journal: the line is %r, expected it to start "
                           "with %r" % (" ".join(args), kind, "is" if journal else "is not",
                                        lines[0] if lines else None, want))
