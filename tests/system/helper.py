#!/usr/bin/python3
"""Traffic helper for the socktrace system tests.

Runs as its own process so that the tests know the pid and command name
(comm) that socktrace must report. It names itself with prctl(PR_SET_NAME)
before it opens any socket, and talks to the test through JSON lines on
stdout (one object per line, flushed at once) and plain lines on stdin.

  helper.py server --name COMM --addr ADDR [--port N] [--count N]
            [--fork-accept COMM] [--accept-syscall accept|accept4]
            [--hold] [--reuseport [--steer-first]] [--daemonize COMM]
            [--accept-on-line]
      listen on ADDR:PORT (0: any port), print {"ready": PORT, "pid", "ino"};
      then, N times: accept, read one byte, answer one byte, wait for the
      peer's EOF, close. Finally close the listener and print {"done"}.
      --fork-accept: fork a child named COMM that inherits the listener and
      does the accepting (the parent closes its copy and waits).
      The client always closes first: the server waits for its EOF.
      --hold: wait for a line (or EOF) on stdin before closing the listener.
      --steer-first: with --reuseport, every connection to the port goes
      to the group's first listener.
      --daemonize COMM: as daemon(3) after listen(): fork a child named COMM
      that does all of the above and prints {"acceptor": PID} and {"done"};
      the parent closes its copy, prints {"launched": PID} and exits.
      --accept-on-line: wait for a line on stdin before the first accept.

  helper.py client --name COMM --addr ADDR --port N [--hold-ms MS]
            [--wait-stdin] [--wait-start] [--bind ADDR]
      print {"started": PID} (then, with --wait-start, wait for a stdin line),
      connect, print {"connected": LPORT, "pid", "ino"}, send one byte,
      read one byte, hold for MS milliseconds or until a stdin line, close,
      print {"done"}. A refused connect prints {"refused": LPORT, "pid"}.

  helper.py hold --name COMM --addr ADDR
      listen, connect to itself from a second socket, accept; print the
      tuple, then keep everything open until stdin reaches EOF.

  helper.py jam --name COMM --addr ADDR
      listen(0) and connect to itself once without accepting: the accept
      queue is then full (1 > backlog 0) and the kernel drops new SYNs to
      the port. Prints {"ready": PORT, "pid", "ino", "fport"} once the
      listener's queue holds the connection. Then per stdin line:
      "accept" accepts one connection, prints {"accepted": PEERPORT};
      EOF closes everything.

  helper.py attempt --name COMM --addr ADDR --port N [--syncnt N]
      connection attempts driven by stdin lines, non-blocking:
      "connect ID"  starts one, prints {"connecting": ID, "lport", "laddr",
                    "ino", "pid", "now": errno name or null} (now: the
                    error connect() itself returned, other than EINPROGRESS)
      "wait ID S"   waits up to S seconds for its outcome, prints
                    {"result": ID, "err": name or null, "errno": N, "lport",
                    "total_retrans": the kernel's count of retransmitted
                    SYNs} or {"result": ID, "pending": true}
      "info ID"     prints {"info": ID, "state": N, "retransmits": N,
                    "total_retrans": N} from TCP_INFO
      "close ID"    closes it while it is pending, prints {"closed": ID}
      (no "error" key: that one means the helper itself failed)

  helper.py forkserve --name COMM --child-name COMM --addr ADDR [--count N]
      listen on ADDR (any port), print {"ready": PORT, "pid", "ino"}; N times:
      accept, fork a child named CHILD that serves the connection, close
      the parent's copy, print {"handed": CHILDPID}. The child reads one
      byte, prints {"served": PID, "peer": PORT, "ino"}, waits for a stdin
      line, answers one byte, waits for the peer's EOF, closes and exits.
      Then the listener closes and the parent prints {"done"}. (sshd,
      PostgreSQL and inetd serve connections this way.)

  helper.py conn --name COMM --addr ADDR (--listen | --port N)
            [--user-timeout MS] [--keepalive]
      one TCP connection, each step driven by a stdin line: with --listen,
      listen on ADDR (any port), print {"ready": PORT, "pid"} and accept
      one connection; else connect to ADDR:N (with TCP_USER_TIMEOUT MS;
      --keepalive: probes after 1 s idle, 1 s apart, 2 unanswered end it).
      Then print {"conn": LPORT, "rport", "pid", "ino"} (or {"refused":
      LPORT, "pid"}) and obey:
      "send N"   send N bytes, print {"sent": N}
      "recv N"   read exactly N bytes, print {"recvd": N}
      "eof"      read until EOF, print {"eof": BYTES read before it}
      "shut"     shutdown(SHUT_WR), print {"shut": true}
      "info"     print {"info": {...}} with TCP_INFO's counters
      "close"    close, print {"closed": "close"}
      "rst"      SO_LINGER 0, then close (a reset), print {"closed": "rst"}
      "wait S"   wait up to S seconds for an error on the socket, print
                 {"waited": errno name or null}

  helper.py threadio --name COMM --thread-name NAME --addr ADDR --port N
      the process is named COMM; a thread named NAME (prctl in the thread)
      does all network I/O, as dig does: it prints {"thread": TID, "pid"},
      connects over TCP to ADDR:PORT, sends one byte, reads one, closes,
      sends one UDP datagram to ADDR:PORT, prints {"done": LPORT,
      "udp_lport": N}.

  helper.py udp --name COMM
      UDP sockets driven by stdin lines, one JSON answer per line (every
      answer carries "t": CLOCK_BOOTTIME ns when the step ended). Every
      socket has a 10 s SO_RCVTIMEO/SO_SNDTIMEO and stays blocking; IPv6
      sockets are IPV6_V6ONLY. Payloads are SIZE bytes of "u".
      "socket ID 4|6"          new unbound socket -> {"socket": ID, "ino", "pid"}
      "bind ID ADDR PORT [dual]"  new socket bound to ADDR:PORT (0: any port);
                               dual: an IPv6 socket that also takes IPv4 (V6ONLY 0)
                               -> {"bound": ID, "laddr", "lport", "ino", "pid"}
      "name ID"                -> {"name": ID, "laddr", "lport", "ino", "pid"}
      "connect ID ADDR PORT"   connect socket ID (new, unbound, if ID is unknown)
                               -> {"connected": ID, "laddr", "lport", "ino", "pid"}
      "send ID SIZE..."        send() one datagram per SIZE -> {"sent": ID, "count", "bytes"}
      "sendto ID ADDR PORT SIZE..."  the same with sendto()
      "recv ID [peek]"         one recv() (MSG_PEEK with peek) -> {"received": ID, "n"}
      "recvfrom ID [peek]"     one recvfrom() -> {"received": ID, "n", "raddr", "rport"}
      "echo ID N"              N times recvfrom() and sendto() the datagram back
                               -> {"echoed": ID, "count", "bytes", "peers": [[ADDR, PORT, N]...]}
      "recvn ID N"             N recvfrom() calls -> {"drained": ID, "count", "bytes"}
      "stream ID N MS SIZE"    N send()s of SIZE bytes, MS milliseconds apart
                               -> {"streamed": ID, "count", "bytes"}
      "sendmmsg ID SIZE..."    one sendmmsg(2) of one datagram per SIZE on a
                               connected socket -> {"sendmmsg": ID, "ret", "bytes"}
      "sendmmsgto ID ADDR PORT SIZE..."  the same, each datagram addressed to
                               ADDR:PORT (msg_name)
      "recvmmsg ID N"          one recvmmsg(2) of up to N datagrams, with room for
                               the peers' addresses -> {"recvmmsg": ID, "ret", "sizes",
                               "peers": [[ADDR, PORT]...]}
      "badsend ID SIZE"        a send() that must fail (e.g. SIZE > 65507: EMSGSIZE)
                               -> {"badsend": ID, "err": errno name or null if it worked}
      "forksend ID COMM SIZE..."  fork a child named COMM that send()s one
                               datagram per SIZE on socket ID and exits
                               -> {"forked": ID, "child": PID, "status", "bytes"}
      "close ID"               -> {"closed": ID}
      EOF closes every socket and exits.
"""
import argparse
import ctypes
import errno
import json
import os
import select
import signal
import socket
import struct
import sys
import time
import threading

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
    for i in range(args.count):
        if i == 0 and args.accept_on_line:
            wait_stdin_line()
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


def accept_as(lsock, args, comm, done=False):
    """A forked child named comm serves the inherited listener as the
    server does; its exit status."""
    try:
        set_comm(comm)
        say(acceptor=os.getpid())
        serve(lsock, args)
        if args.hold:
            wait_stdin_line()
        lsock.close()
        if done:
            say(done=True)
    except BaseException as e:  # report, never fall back into the parent's code
        say(error=repr(e))
        return 1
    return 0


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(SockFilter))]


SO_ATTACH_REUSEPORT_CBPF = 51


def steer_to_first(lsock):
    """Every new connection of the SO_REUSEPORT group goes to its first
    listener: a classic BPF program returning index 0 ("ret #0")."""
    prog = (SockFilter * 1)(SockFilter(0x06, 0, 0, 0))
    fprog = SockFprog(1, prog)
    lsock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, bytes(fprog))


def cmd_server(args):
    set_comm(args.name)
    fam = family_of(args.addr)
    lsock = socket.socket(fam, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if args.reuseport:
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if args.steer_first:
        steer_to_first(lsock)
    if fam == socket.AF_INET6:
        lsock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    lsock.bind((args.addr, args.port))
    lsock.listen(16)
    say(ready=lsock.getsockname()[1], pid=os.getpid(), ino=ino_of(lsock))
    if args.daemonize:
        child = os.fork()
        if child == 0:
            # outlives its parent, as a daemon does: bounded in time instead
            # (the test also kills it)
            signal.alarm(120)
            os._exit(accept_as(lsock, args, args.daemonize, done=True))
        lsock.close()
        say(launched=child)
        return 0
    if args.fork_accept:
        child = os.fork()
        if child == 0:
            die_with_parent()
            os._exit(accept_as(lsock, args, args.fork_accept))
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


def listen_queue(port, v6):
    """The accept queue of our listener on port (/proc/net/tcp*'s rx_queue
    of a LISTEN socket is its accept queue), -1 if not found."""
    with open("/proc/self/net/tcp6" if v6 else "/proc/self/net/tcp") as f:
        for line in f.read().splitlines()[1:]:
            parts = line.split()
            if int(parts[1].rsplit(":", 1)[1], 16) == port and parts[3] == "0A":
                return int(parts[4].split(":")[1], 16)
    return -1


def cmd_jam(args):
    set_comm(args.name)
    fam = family_of(args.addr)
    lsock = socket.socket(fam, socket.SOCK_STREAM)
    if fam == socket.AF_INET6:
        lsock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    lsock.bind((args.addr, 0))
    lsock.listen(0)
    port = lsock.getsockname()[1]
    filler = socket.socket(fam, socket.SOCK_STREAM)
    filler.settimeout(10)
    filler.connect((args.addr, port))
    deadline = time.monotonic() + 10
    while listen_queue(port, fam == socket.AF_INET6) < 1:
        if time.monotonic() > deadline:
            say(error="the listener's accept queue did not fill")
            return 1
        time.sleep(0.005)
    say(ready=port, pid=os.getpid(), ino=ino_of(lsock), fport=filler.getsockname()[1])
    lsock.settimeout(10)
    keep = [lsock, filler]
    for line in sys.stdin:
        if line.strip() == "accept":
            conn, peer = lsock.accept()
            keep.append(conn)
            say(accepted=peer[1], pid=os.getpid())
    for s in keep:
        s.close()
    return 0


def errname(n):
    return errno.errorcode.get(n, str(n)) if n else None


def tcp_info(s):
    """(state, icsk_retransmits, total_retrans) from TCP_INFO: the kernel's
    own count of the SYNs it retransmitted."""
    raw = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return raw[0], raw[2], int.from_bytes(raw[100:104], sys.byteorder)


def cmd_attempt(args):
    set_comm(args.name)
    say(started=os.getpid())
    fam = family_of(args.addr)
    socks = {}
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "connect":
            s = socket.socket(fam, socket.SOCK_STREAM)
            if args.syncnt:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, args.syncnt)
            s.setblocking(False)
            socks[words[1]] = s
            rc = s.connect_ex((args.addr, args.port))
            local = s.getsockname()
            say(connecting=words[1], lport=local[1], laddr=local[0], ino=ino_of(s),
                pid=os.getpid(), now=None if rc in (0, errno.EINPROGRESS) else errname(rc))
        elif words[0] == "wait":
            s = socks[words[1]]
            _, w, _ = select.select([], [s], [], float(words[2]))
            if not w:
                say(result=words[1], pending=True)
                continue
            n = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            say(result=words[1], err=errname(n), errno=n, lport=s.getsockname()[1],
                total_retrans=tcp_info(s)[2])
        elif words[0] == "info":
            state, retransmits, total = tcp_info(socks[words[1]])
            say(info=words[1], state=state, retransmits=retransmits, total_retrans=total)
        elif words[0] == "close":
            socks.pop(words[1]).close()
            say(closed=words[1])
    for s in socks.values():
        s.close()
    return 0


def cmd_forkserve(args):
    set_comm(args.name)
    fam = family_of(args.addr)
    lsock = socket.socket(fam, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        lsock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    lsock.bind((args.addr, 0))
    lsock.listen(16)
    say(ready=lsock.getsockname()[1], pid=os.getpid(), ino=ino_of(lsock))
    for _ in range(args.count):
        conn, peer = lsock.accept()
        child = os.fork()
        if child == 0:
            code = 0
            try:
                die_with_parent()
                set_comm(args.child_name)
                lsock.close()
                data = recv_exact(conn, 1)
                say(served=os.getpid(), peer=peer[1], ino=ino_of(conn))
                wait_stdin_line()
                conn.sendall(b"y")
                while data:
                    data = conn.recv(64)
                conn.close()
            except BaseException as e:  # report, never fall back into the parent's code
                say(error=repr(e))
                code = 1
            os._exit(code)
        conn.close()
        say(handed=child)
        _, status = os.waitpid(child, 0)
        if status:
            say(error="child %d exited with status %d" % (child, status))
            return 1
    lsock.close()
    say(done=True)
    return 0


def cmd_threadio(args):
    set_comm(args.name)
    out = {}

    def io():
        try:
            set_comm(args.thread_name)   # PR_SET_NAME names the calling thread
            say(thread=threading.get_native_id(), pid=os.getpid())
            fam = family_of(args.addr)
            s = socket.create_connection((args.addr, args.port), timeout=10)
            out["lport"] = s.getsockname()[1]
            s.sendall(b"x")
            recv_exact(s, 1)
            s.close()
            u = socket.socket(fam, socket.SOCK_DGRAM)
            u.sendto(b"q", (args.addr, args.port))
            out["udp_lport"] = u.getsockname()[1]
            u.close()
        except BaseException as e:
            out["error"] = repr(e)

    t = threading.Thread(target=io)
    t.start()
    t.join(20)
    if "error" in out or t.is_alive():
        say(error=out.get("error", "the I/O thread did not finish"))
        return 1
    say(done=out["lport"], udp_lport=out["udp_lport"])
    return 0


# ---------------------------------------------------------------- UDP

class _Iovec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [("msg_name", ctypes.c_void_p), ("msg_namelen", ctypes.c_uint32),
                ("msg_iov", ctypes.POINTER(_Iovec)), ("msg_iovlen", ctypes.c_size_t),
                ("msg_control", ctypes.c_void_p), ("msg_controllen", ctypes.c_size_t),
                ("msg_flags", ctypes.c_int)]


class _Mmsghdr(ctypes.Structure):
    _fields_ = [("msg_hdr", _Msghdr), ("msg_len", ctypes.c_uint)]


SOCKADDR_MAX = 128   # sizeof(struct sockaddr_storage)


def _sockaddr_decode(raw, length):
    """(address, port) from a struct sockaddr_in / sockaddr_in6."""
    fam = int.from_bytes(raw[0:2], sys.byteorder)
    port = int.from_bytes(raw[2:4], "big")
    if fam == socket.AF_INET and length >= 8:
        return socket.inet_ntop(socket.AF_INET, raw[4:8]), port
    if fam == socket.AF_INET6 and length >= 24:
        return socket.inet_ntop(socket.AF_INET6, raw[8:24]), port
    return None, 0


def _sockaddr_encode(addr, port):
    """struct sockaddr_in / sockaddr_in6 for (addr, port)."""
    fam = family_of(addr)
    head = fam.to_bytes(2, sys.byteorder) + port.to_bytes(2, "big")
    if fam == socket.AF_INET:
        return head + socket.inet_pton(fam, addr) + bytes(8)
    return head + bytes(4) + socket.inet_pton(fam, addr) + bytes(4)


def libc_sendmmsg(sock, payloads, dest=None):
    """sendmmsg(2) of one datagram per payload, on a connected socket or
    (dest) each addressed to dest."""
    libc = ctypes.CDLL(None, use_errno=True)
    n = len(payloads)
    raw = _sockaddr_encode(*dest) if dest else b""
    name = ctypes.create_string_buffer(raw, len(raw)) if dest else None
    bufs = [ctypes.create_string_buffer(p, len(p)) for p in payloads]
    iovs = (_Iovec * n)()
    msgs = (_Mmsghdr * n)()
    for i, b in enumerate(bufs):
        iovs[i].iov_base = ctypes.cast(b, ctypes.c_void_p)
        iovs[i].iov_len = len(payloads[i])
        msgs[i].msg_hdr.msg_iov = ctypes.pointer(iovs[i])
        msgs[i].msg_hdr.msg_iovlen = 1
        if name is not None:
            msgs[i].msg_hdr.msg_name = ctypes.cast(name, ctypes.c_void_p)
            msgs[i].msg_hdr.msg_namelen = len(raw)
    ret = libc.sendmmsg(sock.fileno(), msgs, ctypes.c_uint(n), 0)
    if ret < 0:
        raise OSError(ctypes.get_errno(), "sendmmsg")
    return ret, sum(msgs[i].msg_len for i in range(ret))


def libc_recvmmsg(sock, n, size=65536):
    """recvmmsg(2) of up to n datagrams (blocking: it returns once n arrived,
    or the socket's SO_RCVTIMEO ran out after the first); the peers'
    addresses are asked for. Returns [(size, (addr, port))]."""
    libc = ctypes.CDLL(None, use_errno=True)
    bufs = [ctypes.create_string_buffer(size) for _ in range(n)]
    names = [ctypes.create_string_buffer(SOCKADDR_MAX) for _ in range(n)]
    iovs = (_Iovec * n)()
    msgs = (_Mmsghdr * n)()
    for i in range(n):
        iovs[i].iov_base = ctypes.cast(bufs[i], ctypes.c_void_p)
        iovs[i].iov_len = size
        msgs[i].msg_hdr.msg_name = ctypes.cast(names[i], ctypes.c_void_p)
        msgs[i].msg_hdr.msg_namelen = SOCKADDR_MAX
        msgs[i].msg_hdr.msg_iov = ctypes.pointer(iovs[i])
        msgs[i].msg_hdr.msg_iovlen = 1
    ret = libc.recvmmsg(sock.fileno(), msgs, ctypes.c_uint(n), 0, None)
    if ret < 0:
        raise OSError(ctypes.get_errno(), "recvmmsg")
    return [(msgs[i].msg_len, _sockaddr_decode(names[i].raw, msgs[i].msg_hdr.msg_namelen))
            for i in range(ret)]


def udp_socket(fam, v6only=True):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if v6only else 0)
    # blocking file (recvmmsg needs it) that still never hangs
    tv = (10).to_bytes(8, sys.byteorder) + (0).to_bytes(8, sys.byteorder)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
    return s


def payload(size):
    return b"u" * size


def cmd_udp(args):
    set_comm(args.name)
    say(started=os.getpid())
    socks = {}

    def answer(**obj):
        obj["t"] = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        say(**obj)

    def local(s):
        a = s.getsockname()
        return dict(laddr=a[0], lport=a[1], ino=ino_of(s), pid=os.getpid())

    for line in sys.stdin:
        w = line.split()
        if not w:
            continue
        op, sid = w[0], w[1] if len(w) > 1 else None
        try:
            if op == "socket":
                s = udp_socket(socket.AF_INET6 if w[2] == "6" else socket.AF_INET)
                socks[sid] = s
                answer(socket=sid, ino=ino_of(s), pid=os.getpid())
            elif op == "name":
                answer(name=sid, **local(socks[sid]))
            elif op == "bind":
                s = udp_socket(family_of(w[2]), v6only=w[4:5] != ["dual"])
                s.bind((w[2], int(w[3])))
                socks[sid] = s
                answer(bound=sid, **local(s))
            elif op == "connect":
                s = socks.get(sid) or udp_socket(family_of(w[2]))
                socks[sid] = s
                s.connect((w[2], int(w[3])))
                answer(connected=sid, **local(s))
            elif op in ("send", "sendto"):
                s = socks[sid]
                sizes = [int(x) for x in (w[2:] if op == "send" else w[4:])]
                total = 0
                for n in sizes:
                    if op == "send":
                        total += s.send(payload(n))
                    else:
                        total += s.sendto(payload(n), (w[2], int(w[3])))
                answer(sent=sid, count=len(sizes), bytes=total)
            elif op in ("recv", "recvfrom"):
                flags = socket.MSG_PEEK if w[2:3] == ["peek"] else 0
                if op == "recv":
                    data = socks[sid].recv(65536, flags)
                    answer(received=sid, n=len(data))
                else:
                    data, peer = socks[sid].recvfrom(65536, flags)
                    answer(received=sid, n=len(data), raddr=peer[0], rport=peer[1])
            elif op == "echo":
                s = socks[sid]
                total, peers = 0, {}
                for _ in range(int(w[2])):
                    data, peer = s.recvfrom(65536)
                    s.sendto(data, peer)
                    total += len(data)
                    key = (peer[0], peer[1])
                    peers[key] = peers.get(key, 0) + 1
                answer(echoed=sid, count=int(w[2]), bytes=total,
                       peers=[[a, p, n] for (a, p), n in peers.items()])
            elif op == "recvn":
                s = socks[sid]
                total = 0
                for _ in range(int(w[2])):
                    total += len(s.recvfrom(65536)[0])
                answer(drained=sid, count=int(w[2]), bytes=total)
            elif op == "stream":
                s = socks[sid]
                count, ms, size = int(w[2]), int(w[3]), int(w[4])
                total = 0
                for i in range(count):
                    if i:
                        time.sleep(ms / 1000.0)
                    total += s.send(payload(size))
                answer(streamed=sid, count=count, bytes=total)
            elif op == "sendmmsg":
                ret, total = libc_sendmmsg(socks[sid], [payload(int(x)) for x in w[2:]])
                answer(sendmmsg=sid, ret=ret, bytes=total)
            elif op == "sendmmsgto":
                ret, total = libc_sendmmsg(socks[sid], [payload(int(x)) for x in w[4:]],
                                           dest=(w[2], int(w[3])))
                answer(sendmmsg=sid, ret=ret, bytes=total)
            elif op == "recvmmsg":
                got = libc_recvmmsg(socks[sid], int(w[2]))
                answer(recvmmsg=sid, ret=len(got), sizes=[n for n, _ in got],
                       peers=[list(p) for _, p in got])
            elif op == "badsend":
                try:
                    socks[sid].send(payload(int(w[2])))
                    answer(badsend=sid, err=None)
                except OSError as e:
                    answer(badsend=sid, err=errname(e.errno))
            elif op == "forksend":
                sizes = [int(x) for x in w[3:]]
                child = os.fork()
                if child == 0:
                    code = 0
                    try:
                        set_comm(w[2])
                        for n in sizes:
                            socks[sid].send(payload(n))
                    except BaseException:
                        code = 1
                    os._exit(code)
                _, status = os.waitpid(child, 0)
                answer(forked=sid, child=child, status=status, bytes=sum(sizes))
            elif op == "close":
                socks.pop(sid).close()
                answer(closed=sid)
            else:
                say(error="unknown command %r" % line.strip())
                return 1
        except (OSError, KeyError, IndexError, ValueError) as e:
            say(error="%s: %r" % (line.strip(), e))
            return 1
    for s in socks.values():
        s.close()
    return 0


def tcp_info_counters(s):
    """TCP_INFO's counters (struct tcp_info, linux/tcp.h offsets)."""
    b = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 512)
    rtt, rttvar = struct.unpack_from("II", b, 68)
    total_retrans = struct.unpack_from("I", b, 100)[0]
    acked, received = struct.unpack_from("QQ", b, 120)
    segs_out, segs_in = struct.unpack_from("II", b, 136)
    min_rtt = struct.unpack_from("I", b, 148)[0]
    sent = struct.unpack_from("QQ", b, 200) if len(b) >= 216 else (None, None)
    return {"srtt_us": rtt, "rttvar_us": rttvar, "total_retrans": total_retrans,
            "bytes_acked": acked, "bytes_received": received, "segs_out": segs_out,
            "segs_in": segs_in, "min_rtt_us": min_rtt, "bytes_sent": sent[0],
            "bytes_retrans": sent[1], "state": b[0]}


def cmd_conn(args):
    set_comm(args.name)
    fam = family_of(args.addr)
    if args.listen:
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.bind((args.addr, 0))
        ls.listen(4)
        say(ready=ls.getsockname()[1], pid=os.getpid())
        s, _ = ls.accept()
        ls.close()
    else:
        s = socket.socket(fam, socket.SOCK_STREAM)
        if args.user_timeout:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, args.user_timeout)
        if args.keepalive:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)
        try:
            s.connect((args.addr, args.port))
        except ConnectionRefusedError:
            say(refused=s.getsockname()[1], pid=os.getpid())
            wait_stdin_line()
            s.close()
            return 0
    say(conn=s.getsockname()[1], rport=s.getpeername()[1], pid=os.getpid(), ino=ino_of(s))
    chunk = b"z" * 65536
    while True:
        line = wait_stdin_line()
        if not line:
            return 0
        cmd, _, arg = line.partition(" ")
        if cmd == "send":
            n = left = int(arg)
            while left:
                left -= s.send(chunk[:min(left, len(chunk))])
            say(sent=n)
        elif cmd == "recv":
            got = 0
            while got < int(arg):
                d = s.recv(min(65536, int(arg) - got))
                if not d:
                    break
                got += len(d)
            say(recvd=got)
        elif cmd == "eof":
            got = 0
            while True:
                d = s.recv(65536)
                if not d:
                    break
                got += len(d)
            say(eof=got)
        elif cmd == "shut":
            s.shutdown(socket.SHUT_WR)
            say(shut=True)
        elif cmd == "info":
            say(info=tcp_info_counters(s))
        elif cmd in ("close", "rst"):
            if cmd == "rst":
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
            say(closed=cmd)
        elif cmd == "wait":
            deadline = time.monotonic() + float(arg)
            err = 0
            while time.monotonic() < deadline:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    break
                time.sleep(0.05)
            say(waited=errname(err) if err else None)
        else:
            say(error="unknown command %r" % line)


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
    s.add_argument("--daemonize")
    s.add_argument("--accept-on-line", action="store_true")
    s.add_argument("--steer-first", action="store_true")
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
    j = sub.add_parser("jam")
    j.add_argument("--name", required=True)
    j.add_argument("--addr", required=True)
    a = sub.add_parser("attempt")
    a.add_argument("--name", required=True)
    a.add_argument("--addr", required=True)
    a.add_argument("--port", type=int, required=True)
    a.add_argument("--syncnt", type=int, default=0)
    f = sub.add_parser("forkserve")
    f.add_argument("--name", required=True)
    f.add_argument("--child-name", required=True)
    f.add_argument("--addr", required=True)
    f.add_argument("--count", type=int, default=1)
    t = sub.add_parser("threadio")
    t.add_argument("--name", required=True)
    t.add_argument("--thread-name", required=True)
    t.add_argument("--addr", required=True)
    t.add_argument("--port", type=int, required=True)
    c2 = sub.add_parser("conn")
    c2.add_argument("--name", required=True)
    c2.add_argument("--addr", required=True)
    c2.add_argument("--listen", action="store_true")
    c2.add_argument("--port", type=int, default=0)
    c2.add_argument("--user-timeout", type=int, default=0)
    c2.add_argument("--keepalive", action="store_true")
    u = sub.add_parser("udp")
    u.add_argument("--name", required=True)
    args = ap.parse_args()
    # names may carry arbitrary bytes: argv arrives with surrogate escapes
    return {"server": cmd_server, "client": cmd_client, "hold": cmd_hold, "jam": cmd_jam,
            "attempt": cmd_attempt, "udp": cmd_udp, "forkserve": cmd_forkserve,
            "threadio": cmd_threadio, "conn": cmd_conn}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
