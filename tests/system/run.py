#!/usr/bin/python3
"""socktrace system tests: real BPF programs, real connections.

    python3 tests/system/run.py --socktrace build/socktrace [-k SUBSTRING] [--hook KIND]

Prints "PASS name", "FAIL name: reason" (with details, indented) or
"SKIP name: reason" per test, then "system: N passed, N failed, N skipped".
Exit status 0 iff no test failed. Needs root; without it every test skips.
Traffic goes only to loopback and to documentation-range addresses in
network namespaces the tests create (and always remove).
"""
import argparse
import json
import os
import signal
import shutil
import subprocess
import sys
import time
import traceback

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lib  # noqa: E402
from lib import Context, Fail, Skip, TESTS  # noqa: E402
import t_traffic  # noqa: E402,F401  (each module registers its tests)
import t_snapshot  # noqa: E402,F401
import t_filters  # noqa: E402,F401
import t_cli  # noqa: E402,F401
import t_connects  # noqa: E402,F401
import t_record  # noqa: E402,F401
import t_udp  # noqa: E402,F401
import t_dns  # noqa: E402,F401
import t_owners  # noqa: E402,F401
import t_input  # noqa: E402,F401
import t_files  # noqa: E402,F401
import t_pipeline  # noqa: E402,F401
import t_conn  # noqa: E402,F401
import t_service  # noqa: E402,F401
import t_cgroups  # noqa: E402,F401
import t_metrics  # noqa: E402,F401
import t_image  # noqa: E402,F401


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def on_sigterm(signum, frame):
    raise KeyboardInterrupt("SIGTERM")


def hook_unavailable(ctx):
    """Why the forced hook kind cannot trace TCP states on this kernel, or
    None. Tests that run socktrace with it then skip; probes_json fails."""
    try:
        p = subprocess.run([ctx.socktrace, "--probes", "-j", "--hook", ctx.hook],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        doc = json.loads(p.stdout)
        for c in doc.get("concerns", []):
            if c.get("name") == "tcp_state":
                if c.get("selected"):
                    return None
                why = [v.get("reason") for v in c.get("variants", []) if v.get("kind") == ctx.hook]
                return "--hook %s cannot trace TCP states on this kernel: %s" % (
                    ctx.hook, why[0] if why and why[0] else "no such variant")
    except (OSError, ValueError, subprocess.TimeoutExpired, AttributeError):
        return None  # let the tests show what is wrong
    return None


def main():
    ap = argparse.ArgumentParser(description="socktrace system tests")
    ap.add_argument("--socktrace", default="build/socktrace", help="the binary under test")
    ap.add_argument("-k", dest="match", default="",
                    help="run only tests whose name contains this (or, comma-separated, any of these)")
    ap.add_argument("--hook", choices=("auto", "tp_btf", "tracepoint", "fentry", "kprobe"),
                    help="pass --hook KIND to every socktrace run")
    ap.add_argument("-v", "--verbose", action="store_true", help="print each test's duration")
    ap.add_argument("--hook-tests-only", action="store_true",
                    help="skip the tests of userspace alone (files, options, replay): for a "
                    "second kernel, where only what the hooks do can differ")
    ap.add_argument("--list", action="store_true", help="list the tests and what they assert")
    args = ap.parse_args()

    tests = [(n, f) for n, f in TESTS if any(m in n for m in args.match.split(","))]
    if args.list:
        for name, fn in tests:
            out(name)
            for line in (fn.__doc__ or "").strip().splitlines():
                out("    " + line.strip())
        return 0
    passed = failed = skipped = 0
    skip_all = None
    if os.geteuid() != 0:
        skip_all = "needs root (loads BPF programs, creates network namespaces)"
    elif not (os.path.isfile(args.socktrace) and os.access(args.socktrace, os.X_OK)):
        out("FAIL setup: %s is not an executable file (run make first)" % args.socktrace)
        out("system: 0 passed, 1 failed, 0 skipped")
        return 1
    elif not shutil.which("ip"):
        skip_all = "the ip command (iproute2) is missing"

    if skip_all:
        for name, _ in tests:
            out("SKIP %s: %s" % (name, skip_all))
        out("system: 0 passed, 0 failed, %d skipped" % len(tests))
        return 0

    signal.signal(signal.SIGTERM, on_sigterm)
    # a shell starts background jobs with SIGINT ignored; cleanup needs it
    signal.signal(signal.SIGINT, signal.default_int_handler)
    lib.remove_stale_namespaces()
    ctx = Context(os.path.abspath(args.socktrace), hook=args.hook, verbose=args.verbose)
    if args.hook and args.hook != "auto":
        ctx.hook_unavailable = hook_unavailable(ctx)
    t_start = time.monotonic()
    interrupted = False
    try:
        for name, fn in tests:
            t0 = time.monotonic()
            try:
                if getattr(fn, "hook_independent", False):
                    if args.hook_tests_only:
                        raise Skip("does not depend on the kernel's hooks: the host's run "
                                   "has it")
                    if args.hook and args.hook != "auto":
                        raise Skip("does not depend on the hook variant: the run with the "
                                   "automatic choice has it")
                fn(ctx)
            except Skip as e:
                skipped += 1
                out("SKIP %s: %s" % (name, e))
            except Fail as e:
                failed += 1
                out("FAIL %s: %s" % (name, e.reason))
                for d in e.details:
                    for line in str(d).splitlines():
                        out("    " + line)
            except KeyboardInterrupt:
                interrupted = True
                failed += 1
                out("FAIL %s: interrupted" % name)
                break
            except Exception as e:
                failed += 1
                out("FAIL %s: unexpected %s: %s" % (name, type(e).__name__, e))
                for line in traceback.format_exc().rstrip().splitlines():
                    out("    " + line)
            else:
                passed += 1
                out("PASS %s%s" % (name, " (%.1fs)" % (time.monotonic() - t0) if args.verbose else ""))
            finally:
                ctx.cleanup()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        ctx.cleanup()
        shutil.rmtree(ctx.tmpdir, ignore_errors=True)
    if args.verbose:
        out("system: took %.1fs" % (time.monotonic() - t_start))
    if interrupted:
        out("system: interrupted")
    out("system: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed or interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
