#!/usr/bin/python3
"""Checks `socktrace --probes -j` as recorded in a vmtest guest.

    check_probes.py PROBES_JSON [KERNEL_RELEASE [ARCH]]

The guest kernels (Debian's stock 5.10, 6.1, 6.12 on x86_64 and 6.1 on
arm64) have BTF, tracefs, kprobes and BPF trampolines, so every fentry and
kprobe variant must probe as available (or selected), auto must pick tp_btf
for tcp_state, the cgroup getpeername hooks for accept, the cgroup
getsockopt hook for so_error from 6.10 on, and before where a stable update
brought tcp_done_with_error() (Debian's 6.1), else the syscall tracepoint,
saying why, fentry for
tcp_io and fexit for udp, the cgroup hook for udp_close and the TCP
iterator for tcp_conn_update (fexit misses an accept() already waiting at
attach time). Except on arm64 before 6.4, whose trampolines attach to no
kernel function: there every fentry and fexit variant must be unavailable,
saying so, and auto picks kprobes for tcp_io and udp. The
sock_{send,recv}_length tracepoints came in 6.3: the variants on them must
be available from 6.3 on and unavailable, saying so, before. The reason
of tcp_send_reset came in 6.10: rst_reason must select tp_btf from 6.10 on,
and before have no variant, saying why.
Beside PROBES_JSON, probes-KIND.json (from `--probes -j --hook KIND`), where
present, must select KIND's variant of each concern that has one exactly
when the full probe found it usable, and else report the same reason.
Prints one line: what was selected, or what is wrong. Exit 0 iff all holds.
"""
import json
import os
import re
import sys

EXPECT_SELECTED_KIND = {"tcp_state": "tp_btf", "accept": "cgroup", "tcp_io": "fentry",
                        "so_error": "cgroup", "udp": "fentry", "udp_close": "cgroup",
                        "tcp_conn_update": "iter"}
MUST_LOAD = ("fentry", "kprobe")
FORCED = ("tp_btf", "tracepoint", "fentry", "kprobe")


def kernel_version(release):
    m = re.match(r"(\d+)\.(\d+)", release or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def check_forced(doc, path, kind, problems):
    try:
        with open(path) as f:
            forced = json.load(f)
    except (OSError, ValueError) as e:
        problems.append("--hook %s: cannot read %s: %s" % (kind, os.path.basename(path), e))
        return
    full = {c.get("name"): c for c in doc.get("concerns", [])}
    for c in forced.get("concerns", []):
        mine = [v for v in c.get("variants", []) if v.get("kind") == kind]
        ref = [v for v in full.get(c.get("name"), {}).get("variants", []) if v.get("kind") == kind]
        if not mine or not ref:
            continue
        usable = ref[0].get("status") in ("selected", "available")
        if usable and c.get("selected") != mine[0].get("variant"):
            problems.append("--hook %s: %s selected %r, not its usable %s" % (
                kind, c.get("name"), c.get("selected"), mine[0].get("variant")))
        if not usable and (c.get("selected") is not None or
                           mine[0].get("reason") != ref[0].get("reason")):
            problems.append("--hook %s: %s selected %r, reason %r; the full probe says %r" % (
                kind, c.get("name"), c.get("selected"), mine[0].get("reason"),
                ref[0].get("reason")))


def main():
    try:
        with open(sys.argv[1]) as f:
            doc = json.load(f)
    except (OSError, ValueError, IndexError) as e:
        print("cannot read the probes JSON: %s" % e)
        return 1
    version = kernel_version(sys.argv[2] if len(sys.argv) > 2 else "")
    arch = sys.argv[3] if len(sys.argv) > 3 else "x86_64"
    no_trampolines = arch == "aarch64" and version and version < (6, 4)
    expect = dict(EXPECT_SELECTED_KIND)
    must_load = MUST_LOAD
    if no_trampolines:
        expect.update(tcp_io="kprobe", udp="kprobe")
        must_load = ("kprobe",)
    problems = []
    so_cg = [v for c in doc.get("concerns", []) if c.get("name") == "so_error"
             for v in c.get("variants", []) if v.get("kind") == "cgroup"]
    if version and version < (6, 10) and so_cg and so_cg[0].get("status") != "selected":
        expect.update(so_error="tracepoint")
        if "tcp_done_with_error" not in (so_cg[0].get("reason") or ""):
            problems.append("so_error before 6.10: the cgroup variant says %r" % (
                so_cg[0].get("reason"),))
    if doc.get("type") != "probes":
        problems.append('"type" is %r, not "probes"' % doc.get("type"))
    for key in ("btf", "tracefs"):
        if doc.get(key) is not True:
            problems.append("%s is %r" % (key, doc.get(key)))
    concerns = {c.get("name"): c for c in doc.get("concerns", [])}
    for name in expect:
        if name not in concerns:
            problems.append("no concern %s" % name)
    selected = []
    for name, c in concerns.items():
        variants = c.get("variants", [])
        sel = [v for v in variants if v.get("status") == "selected"]
        if name == "rst_reason":
            if not version or version >= (6, 10):
                if not sel or sel[0].get("kind") != "tp_btf":
                    problems.append("rst_reason: selected %r on 6.10+" % (c.get("selected"),))
                else:
                    selected.append("%s=%s" % (name, c["selected"]))
            elif sel or any("6.10" not in (v.get("reason") or "") for v in variants):
                problems.append("rst_reason before 6.10: selected %r, reasons %s" % (
                    c.get("selected"), [v.get("reason") for v in variants]))
            continue
        if c.get("selected"):
            selected.append("%s=%s" % (name, c["selected"]))
        if len(sel) != 1 or not c.get("selected") or sel[0].get("variant") != c.get("selected"):
            problems.append("%s: selected %r, variants with status selected: %s" % (
                name, c.get("selected"), [v.get("variant") for v in sel]))
        want = expect.get(name)
        if want and sel and sel[0].get("kind") != want:
            problems.append("%s: auto selected %s (kind %s), expected kind %s" % (
                name, sel[0].get("variant"), sel[0].get("kind"), want))
        for v in variants:
            usable = v.get("status") in ("selected", "available")
            if v.get("kind") in must_load and not usable:
                problems.append("%s: %s is %s: %s" % (
                    name, v.get("variant"), v.get("status"), v.get("reason")))
            if no_trampolines and v.get("kind") == "fentry" and (
                    usable or "does not attach" not in (v.get("reason") or "")):
                problems.append("%s: %s is %s (%s) on arm64 before 6.4" % (
                    name, v.get("variant"), v.get("status"), v.get("reason")))
            if version and "_length" in v.get("variant", ""):
                if version >= (6, 3) and not usable:
                    problems.append("%s: %s is %s on 6.3+: %s" % (
                        name, v.get("variant"), v.get("status"), v.get("reason")))
                if version < (6, 3) and (usable or "not" not in (v.get("reason") or "")):
                    problems.append("%s: %s is %s (%s) before 6.3" % (
                        name, v.get("variant"), v.get("status"), v.get("reason")))
    forced = []
    for kind in FORCED:
        path = os.path.join(os.path.dirname(sys.argv[1]), "probes-%s.json" % kind)
        if os.path.exists(path):
            check_forced(doc, path, kind, problems)
            forced.append(kind)
    if problems:
        print("; ".join(problems))
        return 1
    print("ok: %s; every %s variant loads%s%s" % (
        " ".join(selected), " and ".join(must_load),
        "; fentry/fexit attach to no kernel function" if no_trampolines else "", "; --hook %s report the same" % ",".join(forced) if forced else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
