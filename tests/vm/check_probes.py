#!/usr/bin/python3
"""Checks `socktrace --probes -j` as recorded in the vmtest guest.

    check_probes.py PROBES_JSON

The guest kernel (Debian's stock 6.1) has BTF, tracefs, kprobes and BPF
trampolines, so every fentry and kprobe variant must probe as available (or
selected), auto must pick tp_btf for tcp_state, the syscall tracepoints for accept and
so_error, fentry for tcp_io and fexit for udp (6.1 has no sock_send_length)
the cgroup hook for udp_close and the TCP iterator for tcp_conn_update
(fexit misses an accept() already waiting at attach time).
Prints one line: what was selected, or what is wrong. Exit 0 iff all holds.
"""
import json
import sys

EXPECT_SELECTED_KIND = {"tcp_state": "tp_btf", "accept": "tracepoint", "tcp_io": "fentry",
                        "so_error": "tracepoint", "udp": "fentry", "udp_close": "cgroup",
                        "tcp_conn_update": "iter"}
MUST_LOAD = ("fentry", "kprobe")


def main():
    try:
        with open(sys.argv[1]) as f:
            doc = json.load(f)
    except (OSError, ValueError, IndexError) as e:
        print("cannot read the probes JSON: %s" % e)
        return 1
    problems = []
    if doc.get("type") != "probes":
        problems.append('"type" is %r, not "probes"' % doc.get("type"))
    for key in ("btf", "tracefs"):
        if doc.get(key) is not True:
            problems.append("%s is %r" % (key, doc.get(key)))
    concerns = {c.get("name"): c for c in doc.get("concerns", [])}
    for name in EXPECT_SELECTED_KIND:
        if name not in concerns:
            problems.append("no concern %s" % name)
    selected = []
    for name, c in concerns.items():
        variants = c.get("variants", [])
        sel = [v for v in variants if v.get("status") == "selected"]
        if c.get("selected"):
            selected.append("%s=%s" % (name, c["selected"]))
        if len(sel) != 1 or not c.get("selected") or sel[0].get("variant") != c.get("selected"):
            problems.append("%s: selected %r, variants with status selected: %s" % (
                name, c.get("selected"), [v.get("variant") for v in sel]))
        want = EXPECT_SELECTED_KIND.get(name)
        if want and sel and sel[0].get("kind") != want:
            problems.append("%s: auto selected %s (kind %s), expected kind %s" % (
                name, sel[0].get("variant"), sel[0].get("kind"), want))
        for v in variants:
            if v.get("kind") in MUST_LOAD and v.get("status") not in ("selected", "available"):
                problems.append("%s: %s is %s: %s" % (
                    name, v.get("variant"), v.get("status"), v.get("reason")))
    if problems:
        print("; ".join(problems))
        return 1
    print("ok: %s; every fentry and kprobe variant loads" % " ".join(selected))
    return 0


if __name__ == "__main__":
    sys.exit(main())
