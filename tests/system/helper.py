#!/usr/bin/python3
"""Traffic helper for the socktrace system tests.

Runs as its own process so that the tests know the pid and command name
(comm) that socktrace must report. It names itself with prctl(PR_SET_NAME)
before it opens any socket, and talks to the test through JSON lines on
stdout (one object per line, flushed at once) and plain lines on stdin.

  helper.py server --name COMM --addr ADDR [--port N] [--count N]
            [--fork-accept COMM] [--accept-syscall accept|accept4]
            [--hold] [--reuseport]
      listen on ADDR:PORT (0: any port), print {"ready": PORT, "pid", "ino"};
      then, N times: accept, read one byte, answer one byte, wait for the
      peer's EOF, close. Finally close the listener and print {"done"}.
      --fork-accept: fork a child named COMM that inherits the listener and
      does the accepting (the parent closes its copy and waits).
      The client always closes first: the server waits for its EOF.
      --hold: wait for a line (or EOF) on stdin before closing the listener.

  helper.py client --name COMM --addr ADDR --port N [--hold-ms MS]
            [--wait-stdin] [--wait-start] [--bind ADDR]
      print {"started": PID} (then, with --wait-start, wait for a stdin line),
      connect, print {"connected": LPORT, "pid", "ino"}, send one byte,
      read one byte, hold for MS milliseconds or until a stdin line, close,
      print {"done"}. A refused connect prints {"refused": LPORT, "pid"}.

  helper.py hold --name COMM --addr ADDR
      listen, connect to itself from a second socket, accept; print the
      tuple, then keep everything open until stdin reaches EOF.
"""
import argparse
import ctypes
import json
import os
import socket
import sys
import time

PR_SET_NAME = 15
PR_SET_PDEATHSIG = 1


def die_with_parent():
    """Never outlive the process that started us (the test runner, or the
    listener's process for a forked acceptor), even if it is SIGKILLed."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)


def set_comm(name):
    raw = name.encode("utf-8", "surrogateescape") if isinstance(name, str) else name
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NAME, ctypes.c_char_p(raw), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NAME)")


def say(**obj):
    os.write(1, (json.dumps(obj) + "\n").encode())


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def ino_of(sock):
    return os.fstat(sock.fileno()).st_ino


def wait_stdin_line():
    line = sys.stdin.readline()
    return line.strip()


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def libc_accept(lsock):
    """accept(2) itself rather than accept4(2) (Python uses accept4)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.syscall(43 if os.uname().machine == "x86_64" else 202,
                      lsock.fileno(), None, None)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "accept")
    return socket.socket(fileno=fd)


def serve(lsock, args):
    for _ in range(args.count):
        if args.accept_syscall == "accept":
            conn = libc_accept(lsock)
            peer = conn.getpeername()
        else:
            conn, peer = lsock.accept()
        say(accepted=peer[1], peer=peer[0], pid=os.getpid(), ino=ino_of(conn),
            lport=conn.getsockname()[1])
        data = recv_exact(conn, 1)
        conn.sendall(b"y")
        # wait for the client's FIN: the client always closes first
        while data:
            data = conn.recv(64)
        conn.close()
        say(closed=peer[1], pid=os.getpid())


def cmd_server(args):
    set_comm(args.name)
    fam = family_of(args.addr)
    lsock = socket.socket(fam, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if args.reuseport:
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if fam == socket.AF_INET6:
        lsock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    lsock.bind((args.addr, args.port))
    lsock.listen(16)
    say(ready=lsock.getsockname()[1], pid=os.getpid(), ino=ino_of(lsock))
    if args.fork_accept:
        child = os.fork()
        if child == 0:
            code = 0
            try:
                die_with_parent()
                set_comm(args.fork_accept)
                say(acceptor=os.getpid())
                serve(lsock, args)
                if args.hold:
                    wait_stdin_line()
                lsock.close()
            except BaseException as e:  # report, never fall back into the parent's code
                say(error=repr(e))
                code = 1
            os._exit(code)
        lsock.close()
        _, status = os.waitpid(child, 0)
        say(done=True, status=status)
        return 0 if status == 0 else 1
    serve(lsock, args)
    if args.hold:
        wait_stdin_line()
    lsock.close()
    say(done=True)
    return 0


def cmd_client(args):
    set_comm(args.name)
    say(started=os.getpid())
    if args.wait_start:
        wait_stdin_line()
    fam = family_of(args.addr)
    sock = socket.socket(fam, socket.SOCK_STREAM)
    if args.bind:
        sock.bind((args.bind, 0))
    ino = ino_of(sock)
    try:
        sock.settimeout(10)
        sock.connect((args.addr, args.port))
    except ConnectionRefusedError:
        # the kernel keeps the source port the SYN went out from
        say(refused=sock.getsockname()[1], pid=os.getpid(), ino=ino)
        sock.close()
        return 0
    local = sock.getsockname()
    say(connected=local[1], laddr=local[0], pid=os.getpid(), ino=ino)
    sock.sendall(b"x")
    if recv_exact(sock, 1) != b"y":
        say(error="no answer from the server")
        return 1
    if args.wait_stdin:
        wait_stdin_line()
    if args.hold_ms:
        time.sleep(args.hold_ms / 1000.0)
    sock.close()
    say(done=True)
    return 0


def cmd_hold(args):
    set_comm(args.name)
    fam = family_of(args.addr)
    lsock = socket.socket(fam, socket.SOCK_STREAM)
    if fam == socket.AF_INET6:
        lsock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    lsock.bind((args.addr, 0))
    lsock.listen(4)
    port = lsock.getsockname()[1]
    cli = socket.socket(fam, socket.SOCK_STREAM)
    cli.connect((args.addr, port))
    srv, peer = lsock.accept()
    say(ready=port, cport=cli.getsockname()[1], pid=os.getpid(),
        lino=ino_of(lsock), cino=ino_of(cli), sino=ino_of(srv))
    sys.stdin.read()  # until EOF
    for s in (cli, srv, lsock):
        s.close()
    return 0


def main():
    die_with_parent()
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("server")
    s.add_argument("--name", required=True)
    s.add_argument("--addr", required=True)
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--count", type=int, default=1)
    s.add_argument("--fork-accept")
    s.add_argument("--accept-syscall", choices=("accept", "accept4"), default="accept4")
    s.add_argument("--hold", action="store_true")
    s.add_argument("--reuseport", action="store_true")
    c = sub.add_parser("client")
    c.add_argument("--name", required=True)
    c.add_argument("--addr", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--hold-ms", type=int, default=0)
    c.add_argument("--wait-stdin", action="store_true")
    c.add_argument("--wait-start", action="store_true")
    c.add_argument("--bind")
    h = sub.add_parser("hold")
    h.add_argument("--name", required=True)
    h.add_argument("--addr", required=True)
    args = ap.parse_args()
    # names may carry arbitrary bytes: argv arrives with surrogate escapes
    return {"server": cmd_server, "client": cmd_client, "hold": cmd_hold}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
