#!/usr/bin/python3
"""Checks the arm64 smoke test from the guest's console (tests/vm/arm64.sh).

    check_smoke.py CONSOLE_LOG OUT_DIR

The guest (tests/vm/arm64-init) prints its results between "@@begin NAME"
and "@@end NAME" lines: probes.json, and for auto and each forced hook kind
probes-KIND.json, smoke-KIND.json (pids and ports of the smoke helper's
TCP connection and UDP exchange) and trace-KIND.json (socktrace -j). The
sections are written to OUT_DIR; check_probes.py checks the probes. For each
kind: a kind whose tcp_state variant the kernel lacks is skipped with the
kernel's reason; else the trace must show the listener, the client's and
the accepted connection's way to ESTABLISHED and, where the kind traces UDP,
both UDP flows, each with the right tuple and owner.
Prints one line per kind and writes OUT_DIR/results.tsv (KERNEL aarch64
VARIANT passed|failed|skipped DETAIL). Exit 0 iff nothing failed.
"""
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
KINDS = ("auto", "tp_btf", "tracepoint", "fentry", "kprobe")
LOOPBACK = "127.0.0.1"


def sections(console):
    found, name, lines, meta = {}, None, [], {}
    for raw in console.splitlines():
        line = raw.rstrip("\r")
        if name is None:
            m = re.match(r"@@begin (\S+)$", line)
            if m:
                name, lines = m.group(1), []
            m = re.match(r"@@(kernel|rc|secs) (.*)$", line)
            if m:
                meta.setdefault(m.group(1), []).append(m.group(2))
            if line == "@@done":
                meta["done"] = True
        elif line == "@@end " + name:
            found[name] = "\n".join(lines) + ("\n" if lines else "")
            name = None
        else:
            lines.append(line)
    return found, meta


def json_lines(text):
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def concern(probes, name):
    for c in probes.get("concerns", []):
        if c.get("name") == name:
            return c
    return {}


def unavailable_reason(probes, name, kind):
    why = [v.get("reason") for v in concern(probes, name).get("variants", [])
           if v.get("kind") == kind]
    return why[0] if why and why[0] else "no %s variant" % kind


def check_trace(events, smoke, udp_expected):
    srv, cli = smoke["server_pid"], smoke["client_pid"]
    tport, cport = smoke["tcp_port"], smoke["client_tcp_port"]
    uport, cuport = smoke["udp_port"], smoke["client_udp_port"]
    tcp = [e for e in events if e.get("type") == "tcp_state"]
    problems = []

    def has(what, pred):
        if not any(pred(e) for e in tcp):
            problems.append(what)

    has("no CLOSE->LISTEN of the listener on port %d owned by %d" % (tport, srv),
        lambda e: e["old"] == "CLOSE" and e["new"] == "LISTEN" and e["lport"] == tport and
        e["pid"] == srv and e["comm"] == "st-smoke")
    has("no SYN_SENT->ESTABLISHED of the client %s:%d->%d owned by %d" % (LOOPBACK, cport, tport,
                                                                         cli),
        lambda e: e["old"] == "SYN_SENT" and e["new"] == "ESTABLISHED" and e["lport"] == cport
        and e["rport"] == tport and e["laddr"] == LOOPBACK and e["raddr"] == LOOPBACK and
        e["pid"] == cli and e["comm"] == "st-smoke-cli" and e["role"] == "client")
    has("no ->ESTABLISHED of the accepted connection %d->%d owned by %d" % (tport, cport, srv),
        lambda e: e["new"] == "ESTABLISHED" and e["lport"] == tport and e["rport"] == cport and
        e["raddr"] == LOOPBACK and e["pid"] == srv and e["role"] == "server")
    has("the client's connection never reached CLOSE",
        lambda e: e["new"] == "CLOSE" and e["lport"] == cport and e["rport"] == tport)
    for e in tcp:
        if e.get("lport") in (tport, cport) and e.get("pid") not in (srv, cli):
            problems.append("%s->%s on port %d owned by %r (%r), not the smoke test's" % (
                e["old"], e["new"], e["lport"], e.get("pid"), e.get("comm")))
            break
    if udp_expected:
        flows = [e for e in events if e.get("type") == "udp_flow"]
        for pid, comm, lport, rport in ((srv, "st-smoke", uport, cuport),
                                        (cli, "st-smoke-cli", cuport, uport)):
            mine = [e for e in flows if e["pid"] == pid and e["lport"] == lport and
                    e["rport"] == rport and e["raddr"] == LOOPBACK]
            tx = max([e.get("tx_packets", 0) for e in mine] or [0])
            rx = max([e.get("rx_packets", 0) for e in mine] or [0])
            if not mine or mine[0].get("comm") != comm or tx != 1 or rx != 1:
                problems.append("UDP flow %d->%s:%d of %d (%s): %s" % (
                    lport, LOOPBACK, rport, pid, comm,
                    "tx %d rx %d packets (1 each expected), comm %r" % (tx, rx, mine[0].get("comm"))
                    if mine else "missing"))
    return problems


def main():
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    with open(sys.argv[1], errors="replace") as f:
        found, meta = sections(f.read())
    out = sys.argv[2]
    for name, text in found.items():
        with open(os.path.join(out, name), "w") as f:
            f.write(text)
    kernel = (meta.get("kernel") or ["?"])[0].split()[0]
    rows, failed = [], 0

    def result(variant, status, detail):
        nonlocal failed
        failed += status == "failed"
        rows.append((kernel, "aarch64", variant, status, detail))
        print("%s aarch64 %s: %s%s" % (kernel, variant, status.upper() if status == "failed"
                                       else status, ": " + detail if detail else ""))

    if "probes.json" in found:
        chk = subprocess.run([sys.executable, os.path.join(HERE, "check_probes.py"),
                              os.path.join(out, "probes.json"), kernel, "aarch64"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True)
        result("probes", "passed" if chk.returncode == 0 else "failed", chk.stdout.strip())
    else:
        result("probes", "failed", "the guest printed no probes.json")
    rcs = dict(r.split(None, 1) for r in meta.get("rc", []))
    secs = {}
    for s in meta.get("secs", []):
        k, a, b = s.split()
        secs[k] = float(b) - float(a)
    for kind in KINDS:
        try:
            probes = json.loads(found.get("probes-%s.json" % kind, ""))
        except ValueError:
            result(kind, "failed", "no --probes -j output for this kind")
            continue
        took = " in %.0fs" % secs[kind] if kind in secs else ""
        if not concern(probes, "tcp_state").get("selected"):
            result(kind, "skipped", "--hook %s cannot trace TCP states on this kernel: %s" % (
                kind, unavailable_reason(probes, "tcp_state", kind)))
            continue
        udp = bool(concern(probes, "udp").get("selected"))
        try:
            smoke = json.loads(found.get("smoke-%s.json" % kind, ""))
        except ValueError:
            result(kind, "failed", "socktrace never got ready or the smoke helper failed: %s" %
                   found.get("trace-%s.err" % kind, "").strip()[-300:])
            continue
        problems = check_trace(json_lines(found.get("trace-%s.json" % kind, "")), smoke, udp)
        if rcs.get(kind) != "0":
            problems.append("socktrace exited with status %s" % rcs.get(kind))
        note = "" if udp else " (UDP not traced: %s)" % unavailable_reason(probes, "udp", kind)
        if problems:
            result(kind, "failed", "; ".join(problems))
        else:
            result(kind, "passed", "TCP%s traced with owners and tuples%s%s" % (
                " and UDP" if udp else "", took, note))
    if not meta.get("done"):
        result("vm", "failed", "the guest did not finish")
    with open(os.path.join(out, "results.tsv"), "w") as f:
        for r in rows:
            f.write("\t".join(str(x).replace("\t", " ") for x in r) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
