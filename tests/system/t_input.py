"""Bad input and odd environments: usage errors, bounds, capabilities,
bytes a process chose as its name."""
import os
import re
import shutil
import socket
import subprocess
import unicodedata

from lib import Fail, Helper, NetNS, Skip, Tracer, test, where
from scenarios import Conversation, check_client

# socktrace's check_privileges() accepts CAP_BPF and CAP_PERFMON without
# CAP_SYS_ADMIN; root's uid stays, its other capabilities go (the bounding
# set caps what an exec as root gets).
REDUCED = ["setpriv", "--inh-caps=-all,+bpf,+perfmon", "--bounding-set=-all,+bpf,+perfmon", "--"]


def run_cmd(ctx, args, timeout=20, wrap=()):
    cmd = list(wrap) + [ctx.socktrace] + args
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Fail("`%s` did not exit within %ds" % (" ".join(cmd), timeout))
    return cmd, p


def show(cmd, p):
    def cut(b):
        return b.decode("utf-8", "replace")[:300]
    return ["command: %s" % " ".join(a[:80] + ("..." if len(a) > 80 else "") for a in cmd),
            "exit status: %d" % p.returncode, "stdout: %s" % cut(p.stdout),
            "stderr: %s" % cut(p.stderr)]


def expect_usage_error(ctx, args, want, problems):
    """socktrace ARGS exits 2, prints nothing on stdout and one message that
    contains `want` (a regular expression) on stderr."""
    cmd, p = run_cmd(ctx, args)
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode != 2 or p.stdout or not re.search(want, err):
        problems.append("expected exit 2 and /%s/ on stderr" % want)
        problems.extend("  " + d for d in show(cmd, p))


def free_udp_ports(n):
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


@test("input_usage_errors", hook_independent=True)
def input_usage_errors(ctx):
    """Exit status 2, a message naming what is wrong and its bound, nothing
    on stdout: 30,000 nested parentheses and 100,000 '!' (a stack overflow
    before), --json=yes, --since 1e12 / --until 2e10 (they overflowed),
    -d 2e10 (stopped at once), --since 2026-02-30, --since after --until,
    --ringbuf-kb 4194304 (failed after 7 load attempts), --pid without a
    value, an ambiguous --ver."""
    problems = []
    for expr in ("(" * 30000 + "port 80" + ")" * 30000, "!" * 100000 + "port 80"):
        expect_usage_error(ctx, [expr], r"column 101: nested too deeply \(at most 100 levels", problems)
    cases = [
        (["--json=yes"], r"option '--json' does not take an argument"),
        (["-r", "x.st", "--since", "1e12"], r"invalid time '1e12': out of range: .*at most 1000000000 seconds"),
        (["-r", "x.st", "--until", "2e10"], r"invalid time '2e10': out of range"),
        (["-d", "2e10"], r"invalid duration '2e10': .*at most 31536000"),
        (["-r", "x.st", "--since", "2026-02-30T00:00:00Z"],
         r"invalid time '2026-02-30T00:00:00Z': .*a date that exists"),
        (["-r", "x.st", "--since", "2026-11-27T18:00:00Z", "--until", "2026-11-27T17:00:00Z"],
         r"--since 2026-11-27T18:00:00Z is not before --until 2026-11-27T17:00:00Z"),
        (["--ringbuf-kb", "4194304"], r"invalid ring buffer size '4194304': expected a power of two from 4 to 2097152 KiB"),
        (["--pid"], r"option '--pid' needs an argument"),
        (["--ver"], r"option '--ver' is ambiguous: --verbose, --version"),
    ]
    for args, want in cases:
        expect_usage_error(ctx, args, want, problems)
    if problems:
        raise Fail("usage errors misreported", problems)


@test("input_help_ringbuf_bound", hook_independent=True)
def input_help_ringbuf_bound(ctx):
    """--help names the ring buffer sizes the option takes (up to 2097152
    KiB, a u32 of bytes), and the largest one loads on this kernel when it
    has the memory."""
    cmd, p = run_cmd(ctx, ["--help"])
    if p.returncode != 0 or b"4 to 2097152" not in p.stdout:
        raise Fail("--help does not say --ringbuf-kb takes 4 to 2097152", show(cmd, p))
    avail = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1])
    if avail < 6 * 1024 * 1024:
        raise Skip("less than 6 GiB available: a 2 GiB ring buffer may not fit")
    cmd, p = run_cmd(ctx, ["--ringbuf-kb", "2097152", "-t", "--no-snapshot", "-q", "-d", "0.2"] +
                     ctx.hook_args(), timeout=60)
    if p.returncode != 0 or b"socktrace: tracing " not in p.stderr or b"retrying" in p.stderr:
        raise Fail("--ringbuf-kb 2097152 does not load", show(cmd, p))


@test("input_btf_not_btf", hook_independent=True)
def input_btf_not_btf(ctx):
    """--btf with a file that is not BTF (/etc/passwd, an ELF file without
    .BTF) or a directory: exit 1 and a message saying so, not libbpf's
    "Unknown error 4001"."""
    elf = shutil.which("true") or "/bin/true"
    problems = []
    for path, want in (("/etc/passwd", "is not a BTF file"), (elf, "is not a BTF file"),
                       (ctx.tmpdir, "Is a directory"),
                       (os.path.join(ctx.tmpdir, "missing"), "No such file or directory")):
        cmd, p = run_cmd(ctx, ["--btf", path, "-t", "-d", "0.1"])
        err = p.stderr.decode("utf-8", "replace")
        if p.returncode != 1 or want not in err or "Unknown error" in err or path not in err:
            problems.append("--btf %s: expected exit 1 and %r" % (path, want))
            problems.extend("  " + d for d in show(cmd, p))
    if problems:
        raise Fail("bad --btf files misreported", problems)


@test("input_pid_words", hook_independent=True)
def input_pid_words(ctx):
    """`-p PID1 PID2 tcp`, as `-p $(pidof x)` gives it: both processes are
    traced (the words join the pid list, not the expression), a third
    is not."""
    convs = []
    for i in range(3):
        c = Conversation(ctx, "127.0.0.1", client_name="st-pw%d" % i)
        c.start_server()
        c.spawn_client(wait_start=True)
        convs.append(c)
    args = ["--no-snapshot", "-p", str(convs[0].client_pid), str(convs[1].client_pid), "tcp"]
    with Tracer(ctx, args) as t:
        for c in convs:
            c.run_client()
        run = t.stop()
    sel = lambda e: any(c.select()(e) for c in convs)
    run.expect_clean_exit(sel)
    check_client(run, convs[0], ctx.netns_self)
    check_client(run, convs[1], ctx.netns_self)
    if where(run.records, pid=convs[2].client_pid):
        run.fail("pid %d, not in the list, was traced" % convs[2].client_pid, sel)
    if where(run.records, pid=convs[0].listener_pid):
        run.fail("the listener's pid %d, not in the list, was traced" % convs[0].listener_pid, sel)


@test("input_snapshot_without_cap_sys_admin", hook_independent=True)
def input_snapshot_without_cap_sys_admin(ctx):
    """With CAP_BPF and CAP_PERFMON only (root's uid kept): the snapshot
    lists the listeners of its own network namespace (with the owner when
    it may read the owner's /proc/PID/fd: a process with the same
    capabilities), and warns once about what it could not list: the
    namespace the test made (by inode and path, CAP_SYS_ADMIN) and the
    processes whose fds it could not read (CAP_SYS_PTRACE)."""
    if not shutil.which("setpriv"):
        raise Skip("setpriv (util-linux) is missing")
    ns = NetNS(ctx, "caps")
    h_ns = Helper(ctx, ["hold", "--name", "st-capns", "--addr", "127.0.0.1"], netns=ns.name)
    r_ns = h_ns.expect("ready")
    h_root = Helper(ctx, ["hold", "--name", "st-caproot", "--addr", "127.0.0.1"])
    r_root = h_root.expect("ready")
    h_low = Helper(ctx, ["hold", "--name", "st-caplow", "--addr", "127.0.0.1"], wrap=REDUCED)
    r_low = h_low.expect("ready")
    t = Tracer(ctx, ["-t"])
    t.cmd = REDUCED + t.cmd
    t.start()
    run = t.stop()
    ports = (r_ns["ready"], r_root["ready"], r_low["ready"])
    sel = lambda e: e.get("lport") in ports
    run.expect_clean_exit(sel)
    low = where(run.sockets, lport=r_low["ready"], state="LISTEN", netns=ctx.netns_self)
    if len(low) != 1:
        run.fail("the listener of its own namespace, port %d, is listed %d times, expected once"
                 % (r_low["ready"], len(low)), sel)
    if low[0].get("pid") != r_low["pid"] or low[0].get("owner") != "proc":
        run.fail("the listener of a process with the same capabilities has pid %r owner %r, "
                 "expected %d proc" % (low[0].get("pid"), low[0].get("owner"), r_low["pid"]), sel)
    if len(where(run.sockets, lport=r_root["ready"], state="LISTEN", netns=ctx.netns_self)) != 1:
        run.fail("the listener of a root process in its own namespace, port %d, is not listed"
                 % r_root["ready"], sel)
    if where(run.sockets, netns=ns.inode):
        run.fail("sockets of namespace %d are listed, which it cannot enter" % ns.inode, sel)
    warn_ns = [l for l in run.err.splitlines() if "could not enter" in l and "warning" in l]
    if len(warn_ns) != 1 or "CAP_SYS_ADMIN" not in warn_ns[0] or \
            "%d (/run/netns/%s)" % (ns.inode, ns.name) not in warn_ns[0]:
        run.fail("expected one warning naming namespace %d (/run/netns/%s) and CAP_SYS_ADMIN"
                 % (ns.inode, ns.name), sel)
    warn_p = [l for l in run.err.splitlines() if "/proc/PID/fd" in l and "warning" in l]
    m = re.search(r"sockets of (\d+) process", warn_p[0]) if len(warn_p) == 1 else None
    if not m or int(m.group(1)) < 1 or "CAP_SYS_PTRACE" not in warn_p[0]:
        run.fail("expected one warning counting the processes whose fds it could not read "
                 "(at least the root helper) and naming CAP_SYS_PTRACE", sel)


@test("input_udp_uncounted_before_userspace_filter", hook_independent=True)
def input_udp_uncounted_before_userspace_filter(ctx):
    """--udp-flows 16 and a filter that runs in userspace (comm): 40 flows
    overflow the kernel's table; the uncounted datagrams are those of every
    process, so the warning says the count comes before the userspace
    filter."""
    with Tracer(ctx, ["--no-snapshot", "-u", "--udp-flows", "16", "comm", "st-nobody"]) as t:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            for port in free_udp_ports(40):
                s.sendto(b"x", ("127.0.0.1", port))
        finally:
            s.close()
        run = t.stop()
    run.expect_clean_exit(lambda e: False)
    if not run.summary.get("udp_uncounted"):
        run.fail("40 flows did not overflow a table of 16 (udp_uncounted=%r)"
                 % run.summary.get("udp_uncounted"), lambda e: False)
    warn = [l for l in run.err.splitlines() if "were not counted" in l]
    if len(warn) != 1 or "counted before the filter expression and --comm" not in warn[0]:
        run.fail("the udp_uncounted warning does not say it counts before the userspace filter",
                 lambda e: False)


def display_width(text):
    w = 0
    for ch in text:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return w


@test("input_text_comm_escaped_and_aligned", hook_independent=True)
def input_text_comm_escaped_and_aligned(ctx):
    """Text output of clients named x<0xff>y<0x1b> and 日本語: stdout is
    UTF-8 (grep called it binary), the first name is x\\xffy\\x1b, the
    second kept, and both lines have LOCAL at terminal column 40."""
    names = [(b"x\xffy\x1b", "x\\xffy\\x1b"), ("日本語".encode(), "日本語")]
    convs = [Conversation(ctx, "127.0.0.1", client_name=raw).start_server() for raw, _ in names]
    # only these: another process's wider value would widen the columns
    expr = "port %d or port %d" % (convs[0].port, convs[1].port)
    with Tracer(ctx, ["--no-snapshot", expr], json_out=False) as t:
        for c in convs:
            c.run_client()
        run = t.stop()
    try:
        text = run.out.decode("utf-8", "strict")
    except UnicodeDecodeError as e:
        raise Fail("the text output is not UTF-8: %s" % e, ["command: %s" % run.cmdline()])
    lines = text.splitlines()
    for conv, (_, shown) in zip(convs, names):
        mine = [l for l in lines if re.search(r" %d +" % conv.client_pid, l) and
                " 127.0.0.1:%d/tcp " % conv.cport in l]
        details = ["command: %s" % run.cmdline()] + ["stdout: " + l for l in mine[:8]]
        if not mine:
            raise Fail("no text line of client pid %d" % conv.client_pid, details)
        for l in mine:
            if " %s " % shown not in l:
                raise Fail("comm not shown as %r" % shown, details)
            local = l.index("127.0.0.1:")
            if display_width(l[:local]) != 40:
                raise Fail("LOCAL starts at terminal column %d, expected 40"
                           % display_width(l[:local]), details)
