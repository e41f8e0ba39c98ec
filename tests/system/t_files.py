"""Output and files: bad replay inputs."""
import os
import time

from lib import Fail, Tracer, test
from scenarios import Conversation, free_port
from t_record import replay


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


def expect(cond, reason, details=()):
    if not cond:
        raise Fail(reason, list(details))


def rep_details(rep):
    return ["command: %s" % rep.cmdline(), "exit status: %s" % rep.rc] + \
        ["stderr: %s" % l for l in rep.err.splitlines()[-8:]]


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
