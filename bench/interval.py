#!/usr/bin/python3
"""What --interval costs with many live TCP connections.

    sudo python3 bench/interval.py --socktrace build/socktrace [-n 10000] [-s 10] [--rounds 3]

Opens N loopback connections (2N sockets, held by this process), then runs
`socktrace -q --no-snapshot --interval 1` and the same without --interval,
each for S seconds, alternately --rounds times, and reports socktrace's CPU
time (user + system, from /proc/PID/stat, startup excluded) per second of
tracing: the difference is the cost of the iterator rounds. For a
comparison with sock_diag, it times `ss -tni` over the same connections
(a sock_diag dump with INET_DIAG_INFO, as an --interval round built on
sock_diag would make, plus ss's formatting). Loopback only; every process
it starts is killed in a finally block.
"""
import argparse
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid, which=(11, 12)):
    """User and system CPU seconds (or those of which: 11 user, 12 system)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in which) / CLK_TCK


def open_conns(n):
    """n connections: this process holds the accepted ends, a child the
    connecting ones (each within a file limit of n + a few). Returns the
    sockets and the child's pid; the child exits when this process does."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(4096)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            held = [socket.create_connection(ls.getsockname()) for _ in range(n)]
            os.write(w, b"1")
            signal.pause()
            held.clear()
        finally:
            os._exit(0)
    os.close(w)
    socks = [ls] + [ls.accept()[0] for _ in range(n)]
    if os.read(r, 1) != b"1":
        raise SystemExit("interval.py: the connecting process failed")
    os.close(r)
    return socks, pid


def traced(args, interval):
    cmd = [args.socktrace, "-q", "--no-snapshot"] + (["--interval", "1"] if interval else [])
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        line = p.stderr.readline()
        while line and not line.startswith(b"socktrace: tracing"):
            line = p.stderr.readline()
        if not line:
            raise SystemExit("socktrace exited before it was ready")
        c0, s0, t0 = cpu_s(p.pid), cpu_s(p.pid, (12,)), time.monotonic()
        time.sleep(args.seconds)
        c1, s1, t1 = cpu_s(p.pid), cpu_s(p.pid, (12,)), time.monotonic()
        p.send_signal(signal.SIGINT)
        err = p.communicate(timeout=60)[1].decode(errors="replace").strip().splitlines()
        return (c1 - c0) / (t1 - t0), "system %.4f s/s; %s" % ((s1 - s0) / (t1 - t0),
                                                              err[-1] if err else "")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--socktrace", default="build/socktrace")
    ap.add_argument("-n", type=int, default=10000, help="connections (default 10000)")
    ap.add_argument("-s", dest="seconds", type=float, default=10.0, help="seconds per run")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("interval.py: needs root (BPF)")
    if not 1 <= args.n <= 30000 or not 1 <= args.seconds <= 120 or not 1 <= args.rounds <= 20:
        sys.exit("interval.py: -n 1 to 30000, -s 1 to 120, --rounds 1 to 20")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < args.n + 64:
        sys.exit("interval.py: the file limit (%d) is below -n + 64" % hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    socks, child = open_conns(args.n)
    try:
        with_iv, without = [], []
        for i in range(args.rounds):
            a, _ = traced(args, False)
            b, summary = traced(args, True)
            without.append(a)
            with_iv.append(b)
            print("round %d: socktrace CPU %.4f s/s without --interval, %.4f s/s with --interval 1"
                  " (%s)" % (i + 1, a, b, summary), flush=True)
        ss = []
        for _ in range(args.rounds):
            t0 = os.times()
            subprocess.run(["ss", "-tniH", "state", "established"], stdout=subprocess.DEVNULL,
                           check=True)
            t1 = os.times()
            ss.append((t1.children_user - t0.children_user) + (t1.children_system - t0.children_system))
        print("%d connections (%d sockets): --interval 1 costs %.2f%% of one CPU "
              "(median %.4f with, %.4f without, s of CPU per s); one ss -tni dump of them: "
              "%.3f s of CPU (median)" % (args.n, 2 * args.n,
                                           100 * (statistics.median(with_iv) - statistics.median(without)),
                                           statistics.median(with_iv), statistics.median(without),
                                           statistics.median(ss)))
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        for s in socks:
            s.close()


if __name__ == "__main__":
    main()
