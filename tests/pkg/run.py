#!/usr/bin/python3
"""socktrace packaging tests: what ships beside the binary.

    python3 tests/pkg/run.py [--build DIR] [-k SUBSTRING]

socktrace(8) and `socktrace --help` list the same options, the bash
completion offers them and values socktrace accepts, `make install` and
`make uninstall` put and remove the files where they belong, `make help`
names every target and variable, CFLAGS never drops the warnings, the
binary needs no shared library beyond libc, libelf and zlib, the image's
root file system holds every library it needs, and the Containerfile and
the Kubernetes DaemonSet agree with it and with each other.
The option lists are parsed from --help, the man page and the completion
alike, so adding an option to one and not the others fails a test.

Prints "PASS name", "FAIL name: reason" (with details, indented) or
"SKIP name: reason" per test, then "pkg: N passed, N failed, N skipped".
Needs no root; DIR (build) holds socktrace, built with make OUTPUT=DIR.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAN = os.path.join(REPO, "docs", "socktrace.8")
COMPLETION = os.path.join(REPO, "completion", "socktrace")
UNIT = os.path.join(REPO, "deploy", "systemd", "socktrace.service")
TESTS = []
# a test's outcomes, as the system tests raise them
sys.path.insert(0, os.path.join(REPO, "tests", "system"))
from lib import Fail, Skip  # noqa: E402


def test(fn):
    TESTS.append(fn)
    return fn


def run(cmd, **kw):
    kw.setdefault("cwd", REPO)
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=kw.pop("timeout", 300), **kw)


def make_env():
    """The environment for a make of our own: none of the calling make's
    flags (make test runs these tests), so that only ours apply."""
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(k, None)
    env["LC_ALL"] = "C"
    return env


def make(*args):
    return run(["make", "--no-print-directory"] + list(args), env=make_env())


# ---- options, as --help, the man page and the completion list them ----

# "-p, --pid PID[,PID]", "--no-snapshot", "-C MB": an option column
OPT_RE = re.compile(r"^(?:(-[A-Za-z0-9])(?:, (--[a-z0-9][a-z0-9-]*))?|(--[a-z0-9][a-z0-9-]*))"
                    r"(?:[ =](\S.*))?$")


class Option:
    def __init__(self, short, long, arg, where):
        self.short, self.long, self.arg, self.where = short, long, arg, where

    def names(self):
        return [n for n in (self.short, self.long) if n]

    def __str__(self):
        return ", ".join(self.names()) + (" " + self.arg if self.arg else "")


def parse_column(text, where):
    m = OPT_RE.match(text.strip())
    if not m:
        return None
    return Option(m.group(1), m.group(2) or m.group(3), m.group(4), where)


def help_options(socktrace):
    """The options of `socktrace --help`: lines that start with an option
    within their first 6 columns (continuation lines are indented further)."""
    r = run([socktrace, "--help"])
    if r.returncode != 0:
        raise Fail("socktrace --help: exit status %d" % r.returncode, [r.stderr])
    opts, bad = [], []
    for line in r.stdout.splitlines():
        m = re.match(r"^ {1,6}(-\S.*?)(?: {2,}|$)", line)
        if not m:
            continue
        o = parse_column(m.group(1), "--help")
        if o:
            opts.append(o)
        else:
            bad.append(line)
    if bad or not opts:
        raise Fail("--help: option lines this test cannot read (expected '-x, --long ARG  text')",
                   bad or [r.stdout])
    return opts


def roff_text(s):
    s = re.sub(r"\\f(\(..|\[[^]]*\]|.)", "", s)
    return s.replace("\\-", "-").replace("\\&", "").replace("\\e", "\\").replace("\\ ", " ")


def man_options():
    """The tags of the .TP entries in the man page's OPTIONS section."""
    with open(MAN) as f:
        lines = f.read().splitlines()
    opts, bad, section = [], [], None
    for i, line in enumerate(lines):
        if line.startswith(".SH"):
            section = line[3:].strip().strip('"')
        if section != "OPTIONS" or line.strip() != ".TP" or i + 1 >= len(lines):
            continue
        tag = lines[i + 1]
        o = parse_column(roff_text(tag), "man") if not tag.startswith(".") else None
        if o:
            opts.append(o)
        else:
            bad.append("line %d: %s" % (i + 2, tag))
    if bad or not opts:
        raise Fail("socktrace.8: OPTIONS tags this test cannot read (expected "
                   "\\fB\\-x\\fR, \\fB\\-\\-long\\fR \\fIARG\\fR)", bad)
    return opts


def bash(script, cwd=REPO):
    """Runs script in a bash that has sourced the completion."""
    r = run(["bash", "--norc", "--noprofile", "-c", ". %s\n%s" % (shq(COMPLETION), script)],
            cwd=cwd)
    if r.returncode != 0:
        raise Fail("bash: exit status %d" % r.returncode, [script, r.stdout, r.stderr])
    return r.stdout


def shq(s):
    return "'" + s.replace("'", "'\\''") + "'"


def completion_array(name):
    return bash('printf "%%s\\n" "${%s[@]}"' % name).split()


def complete(words, cwd=REPO):
    """COMPREPLY for the command line words (the last one being typed)."""
    script = "COMP_WORDS=(%s)\nCOMP_CWORD=%d\nCOMP_LINE=%s\nCOMP_POINT=${#COMP_LINE}\n" \
             "_socktrace\nprintf '%%s\\n' \"${COMPREPLY[@]}\"\n" % (
                 " ".join(shq(w) for w in words), len(words) - 1, shq(" ".join(words)))
    return [w for w in bash(script, cwd).split("\n") if w]


def by_name(opts):
    return {n: o for o in opts for n in o.names()}


def compare(a, b, what_a, what_b):
    """What differs between two option lists: names, pairs, arguments."""
    problems = []
    na, nb = by_name(a), by_name(b)
    for n in sorted(set(na) - set(nb)):
        problems.append("%s is in %s, not in %s" % (na[n], what_a, what_b))
    for n in sorted(set(nb) - set(na)):
        problems.append("%s is in %s, not in %s" % (nb[n], what_b, what_a))
    for n in sorted(set(na) & set(nb)):
        oa, ob = na[n], nb[n]
        if bool(oa.arg) != bool(ob.arg):
            problems.append("%s takes %s in %s but %s in %s" % (
                n, "an argument" if oa.arg else "none", what_a,
                "one" if ob.arg else "none", what_b))
        if oa.names() != ob.names() and n == oa.names()[0]:
            problems.append("%s in %s, %s in %s" % (", ".join(oa.names()), what_a,
                                                      ", ".join(ob.names()), what_b))
    return problems


@test
def help_and_man_list_the_same_options(ctx):
    """Every option of --help has a socktrace(8) entry and the other way
    round, with the same short and long names, taking an argument in both or
    in neither."""
    problems = compare(help_options(ctx.socktrace), man_options(), "--help", "socktrace.8")
    if problems:
        raise Fail("socktrace --help and docs/socktrace.8 disagree", problems)


@test
def man_page_version_and_rendering(ctx):
    """The man page names the version socktrace prints, and renders without
    a groff warning."""
    r = run([ctx.socktrace, "--version"])
    m = re.match(r"socktrace (\S+)", r.stdout)
    with open(MAN) as f:
        th = [line for line in f if line.startswith(".TH ")]
    if not m or not th or '"socktrace %s"' % m.group(1) not in th[0]:
        raise Fail("docs/socktrace.8's .TH does not name 'socktrace VERSION' of --version",
                   [r.stdout.strip()] + th)
    if not shutil.which("man"):
        raise Skip("no man(1) to render the page with")
    env = dict(os.environ, LC_ALL="C.UTF-8", MANROFFSEQ="", MANWIDTH="80")
    r = run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", MAN], env=env)
    if r.returncode != 0 or r.stderr.strip():
        raise Fail("man --warnings -l docs/socktrace.8 complains", r.stderr.splitlines())


@test
def completion_offers_the_options_of_help(ctx):
    """The completion's options are those of --help, each known to take an
    argument exactly when --help says so: after one that does, no filter
    keywords are offered; after one that does not, they are."""
    takes = completion_array("_socktrace_opts_arg")
    flags = completion_array("_socktrace_opts_flag")
    comp = [Option(None, n, "ARG", "completion") if n.startswith("--") else
            Option(n, None, "ARG", "completion") for n in takes]
    comp += [Option(None, n, None, "completion") if n.startswith("--") else
             Option(n, None, None, "completion") for n in flags]
    # the completion lists names, not pairs: compare name by name
    help_single = []
    for o in help_options(ctx.socktrace):
        help_single += [Option(n if not n.startswith("--") else None,
                               n if n.startswith("--") else None, o.arg, "--help")
                        for n in o.names()]
    problems = compare(help_single, comp, "--help", "completion/socktrace")
    offered = set(complete(["socktrace", "-"]) + complete(["socktrace", "--"]))
    for o in help_single:
        if o.names()[0] not in offered:
            problems.append("'socktrace -<TAB>' does not offer %s" % o.names()[0])
    keywords = complete(["socktrace", ""])
    if "port" not in keywords or "tcp" not in keywords:
        problems.append("'socktrace <TAB>' offers %s, not the filter keywords" % keywords)
    for o in help_single:
        got = complete(["socktrace", o.names()[0], ""])
        if bool(o.arg) == (got == keywords):
            problems.append("'socktrace %s <TAB>' offers %s: %s" % (
                o.names()[0], "the filter keywords" if got == keywords else got,
                "it takes an argument" if o.arg else "it takes none"))
    if problems:
        raise Fail("the completion and --help disagree", problems)


@test
def completion_values_are_accepted(ctx):
    """Every hook kind and state the completion offers is one socktrace
    accepts (a value it rejects is a usage error, exit status 2)."""
    problems = []
    cases = [("--hook", v) for v in completion_array("_socktrace_hooks")]
    cases += [("--state", v) for v in completion_array("_socktrace_states")]
    if len(cases) < 10:
        raise Fail("the completion offers %d hook kinds and states" % len(cases), cases)
    # the check can fail: a made-up value is a usage error
    for opt, value in cases + [("--hook", "no-such-hook")]:
        r = run([ctx.socktrace, opt, value, "--info", "/nonexistent/socktrace-pkg-test"])
        bad = value == "no-such-hook"
        if (r.returncode == 2) != bad:
            problems.append("socktrace %s %s: exit status %d%s" % (
                opt, value, r.returncode, ", expected 2" if bad else ": " + r.stderr.strip()))
    if problems:
        raise Fail("socktrace rejects what the completion offers", problems)


@test
def completion_completes(ctx):
    """`complete -p socktrace` names the function, and a few command lines
    complete as a user expects: option names and their values, files after
    -r/-w/--info/--btf, filter keywords after the options, states after
    'state'."""
    reg = bash("complete -p socktrace").strip()
    if reg != "complete -F _socktrace socktrace":
        raise Fail("complete -p socktrace: %r" % reg)
    d = tempfile.mkdtemp(prefix="socktrace-pkg-")
    try:
        for name in ("trace-a.st", "trace-b.st", "other.txt"):
            open(os.path.join(d, name), "w").close()
        os.mkdir(os.path.join(d, "trace-dir"))
        want = [
            (["socktrace", "--ho"], ["--hook"]),
            (["socktrace", "--hook", "f"], ["fentry"]),
            (["socktrace", "--hook", "=", "kp"], ["kprobe"]),
            (["socktrace", "--state", "SYN_"], ["SYN_SENT", "SYN_RECV"]),
            (["socktrace", "--state", "LISTEN,EST"], ["LISTEN,ESTABLISHED"]),
            (["socktrace", "-j", "-P", "443", "portr"], ["portrange"]),
            (["socktrace", "-p", "1", "2", "po"], ["port", "portrange", "pod"]),
            (["socktrace", "-j", "tcp", "and", "state", "TIME"], ["TIME_WAIT"]),
            (["socktrace", "-r", "trace-"], ["trace-a.st", "trace-b.st", "trace-dir"]),
            (["socktrace", "-jw", "tr"], ["trace-a.st", "trace-b.st", "trace-dir"]),
            (["socktrace", "--info", "o"], ["other.txt"]),
            (["socktrace", "--btf", "ot"], ["other.txt"]),
            (["socktrace", "-d", "1"], []),
        ]
        problems = []
        for words, expect in want:
            got = complete(words, cwd=d)
            if sorted(got) != sorted(expect):
                problems.append("%s<TAB>: %s, expected %s" % (" ".join(words), got, expect))
        if problems:
            raise Fail("completions differ", problems)
    finally:
        shutil.rmtree(d)


# ---- make ----

def installed_files(root):
    out = []
    for dirpath, dirs, files in os.walk(root):
        for name in files + [x for x in dirs if os.path.islink(os.path.join(dirpath, x))]:
            out.append(os.path.relpath(os.path.join(dirpath, name), root))
    return sorted(out)


@test
def install_and_uninstall(ctx):
    """make install puts the binary, man page, completion, systemd unit and docs under
    DESTDIR/PREFIX (default /usr/local); make uninstall leaves no file."""
    problems = []
    for prefix, args in (("/usr/local", []), ("/usr", ["PREFIX=/usr"])):
        root = tempfile.mkdtemp(prefix="socktrace-pkg-")
        try:
            common = ["OUTPUT=" + ctx.build, "DESTDIR=" + root] + args
            r = make("install", *common)
            if r.returncode != 0:
                raise Fail("make install %s: exit status %d" % (" ".join(common), r.returncode),
                           (r.stdout + r.stderr).splitlines()[-20:])
            p = prefix.lstrip("/")
            want = {
                p + "/sbin/socktrace": (0o755, ctx.socktrace),
                p + "/share/man/man8/socktrace.8": (0o644, MAN),
                p + "/share/bash-completion/completions/socktrace": (0o644, COMPLETION),
                p + "/share/doc/socktrace/json.md": (0o644, os.path.join(REPO, "docs/json.md")),
                p + "/share/doc/socktrace/recording.md":
                    (0o644, os.path.join(REPO, "docs/recording.md")),
                p + "/share/doc/socktrace/metrics.md":
                    (0o644, os.path.join(REPO, "docs/metrics.md")),
                p + "/lib/systemd/system/socktrace.service": (0o644, None),
            }
            got = installed_files(root)
            if got != sorted(want):
                problems.append("PREFIX=%s: installed %s, expected %s" % (prefix, got, sorted(want)))
            for rel, (mode, src) in want.items():
                path = os.path.join(root, rel)
                if not os.path.isfile(path):
                    continue
                if os.stat(path).st_mode & 0o7777 != mode:
                    problems.append("%s: mode %o, expected %o" % (
                        rel, os.stat(path).st_mode & 0o7777, mode))
                with open(path, "rb") as a:
                    got_text = a.read()
                if src is None:
                    # the unit names the binary where it was installed
                    src, expect = UNIT, unit_text(prefix + "/sbin").encode()
                else:
                    with open(src, "rb") as b:
                        expect = b.read()
                if got_text != expect:
                    problems.append("%s differs from %s" % (rel, src))
            r = make("uninstall", *common)
            left = installed_files(root)
            if r.returncode != 0 or left:
                problems.append("PREFIX=%s: make uninstall: exit status %d, left %s %s" % (
                    prefix, r.returncode, left, r.stderr.strip()))
        finally:
            shutil.rmtree(root)
    if problems:
        raise Fail("make install/uninstall", problems)


def unit_text(bindir):
    with open(UNIT) as f:
        return f.read().replace("@BINDIR@", bindir)


def unit_settings(text):
    """KEY -> [values] of the unit's [Service] section."""
    out, section = {}, None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out.setdefault(k, []).append(v)
    return out


@test
def systemd_unit_verifies(ctx):
    """deploy/systemd/socktrace.service passes `systemd-analyze verify`
    (with the binary it names present) without a word, and has what a
    hardened always-on service needs: Type=notify, restart on failure,
    reload, options from an environment file, a bounded capability set,
    no new privileges, a read-only system but for its state directory."""
    if not shutil.which("systemd-analyze"):
        raise Skip("systemd-analyze is missing (make deps-test installs systemd)")
    text = unit_text(os.path.dirname(ctx.socktrace))
    settings = unit_settings(text)
    problems = []
    want = {"Type": "notify", "Restart": "on-failure", "NoNewPrivileges": "yes",
            "ProtectSystem": "strict", "StateDirectory": "socktrace",
            "EnvironmentFile": "-/etc/default/socktrace",
            "ExecReload": "/bin/sh -c 'kill -HUP \"$MAINPID\"'"}
    for k, v in want.items():
        if settings.get(k) != [v]:
            problems.append("%s=%s, expected %s" % (k, settings.get(k), v))
    caps = set(" ".join(settings.get("CapabilityBoundingSet", [])).split())
    if not caps or not caps <= {"CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN", "CAP_SYS_ADMIN",
                                "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH", "CAP_SYS_RESOURCE"}:
        problems.append("CapabilityBoundingSet=%s: not the bounded set" % sorted(caps))
    d = tempfile.mkdtemp(prefix="socktrace-unit-")
    try:
        path = os.path.join(d, "socktrace.service")
        with open(path, "w") as f:
            f.write(text)
        r = run(["systemd-analyze", "verify", "--man=no", path], timeout=60)
        if r.returncode != 0 or (r.stdout + r.stderr).strip():
            problems.append("systemd-analyze verify: exit status %d: %s" % (
                r.returncode, (r.stdout + r.stderr).strip()))
    finally:
        shutil.rmtree(d)
    if problems:
        raise Fail("the systemd unit", problems)


def makefile_targets_and_variables():
    with open(os.path.join(REPO, "Makefile")) as f:
        text = f.read()
    # continuation lines joined, comments dropped
    text = re.sub(r"\\\n", " ", text)
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    phony = set()
    for line in lines:
        if line.startswith(".PHONY:"):
            phony.update(line.split(":", 1)[1].split())
    user, internal, used = set(), set(), set()
    for line in lines:
        m = re.match(r"^(?:override\s+|export\s+)?([A-Z][A-Z0-9_]*)\s*(\?=|:=|::=|\+=|=)", line)
        if m:
            (user if m.group(2) == "?=" else internal if m.group(2) != "+=" else used).add(
                m.group(1))
        used.update(re.findall(r"(?<!\$)\$\(([A-Z][A-Z0-9_]*)\)", line))
    builtin = {"MAKE", "MAKECMDGOALS", "MAKEFLAGS", "CURDIR", "SHELL", "MAKEFILE_LIST"}
    # set with ?=, or used and never set: the user's to give
    return phony, sorted(user | (used - internal - builtin))


@test
def make_help_names_every_target_and_variable(ctx):
    """make help names each .PHONY target of the Makefile (in its list of
    targets) and each variable a user may set: those set with ?= and those
    used but never set (V, DESTDIR, ARGS, EXTRA_CFLAGS...)."""
    phony, variables = makefile_targets_and_variables()
    r = make("help")
    if r.returncode != 0:
        raise Fail("make help: exit status %d" % r.returncode, r.stderr.splitlines())
    listed = set()
    for line in r.stdout.splitlines():
        m = re.match(r"^\s*make (.*?)(?: {2,}|$)", line)
        if m:
            listed.update(w for w in re.split(r"[ ,\[\]]+", m.group(1)) if w)
    problems = ["target '%s' is not listed" % t for t in sorted(phony - listed)]
    problems += ["variable %s is not named" % v for v in variables
                 if not re.search(r"(?<![\w-])%s(?![\w-])" % v, r.stdout)]
    if len(phony) < 10 or len(variables) < 10:
        problems.append("found only %d targets and %d variables in the Makefile" % (
            len(phony), len(variables)))
    if problems:
        raise Fail("make help is incomplete", problems)


@test
def cflags_keep_the_warnings(ctx):
    """make CFLAGS=-O0 compiles with -O0 and still -std=gnu11 -Wall -Wextra;
    EXTRA_CFLAGS and EXTRA_LDFLAGS come on top (make -n: nothing is built)."""
    out = tempfile.mkdtemp(prefix="socktrace-pkg-")
    try:
        r = make("-n", "-B", "OUTPUT=" + out, "CFLAGS=-O0", "EXTRA_CFLAGS=-DPKG_TEST_EXTRA",
                 "EXTRA_LDFLAGS=-Wl,-z,now", out + "/socktrace")
    finally:
        shutil.rmtree(out)
    cc = [line for line in r.stdout.splitlines() if " -c src/opts.c " in line]
    ld = [line for line in r.stdout.splitlines() if line.rstrip().endswith("-o %s/socktrace" % out)]
    problems = []
    if r.returncode != 0 or not cc or not ld:
        raise Fail("make -n found no compile and link commands (exit %d)" % r.returncode,
                   (r.stdout + r.stderr).splitlines()[-20:])
    for flag in ("-O0", "-std=gnu11", "-Wall", "-Wextra", "-DPKG_TEST_EXTRA", "-Iinclude"):
        if flag not in cc[0].split():
            problems.append("compile command without %s: %s" % (flag, cc[0]))
    if "-O2" in cc[0].split():
        problems.append("compile command still has the default -O2: %s" % cc[0])
    for flag in ("-Wl,-z,now", "-l:libbpf.a"):
        if flag not in ld[0].split():
            problems.append("link command without %s: %s" % (flag, ld[0]))
    if problems:
        raise Fail("make CFLAGS=... EXTRA_CFLAGS=... EXTRA_LDFLAGS=...", problems)


@test
def header_change_rebuilds_either_way(ctx):
    """A changed header rebuilds what includes it whether OUTPUT is given
    relative or absolute (the image and install builds give it absolute),
    though both builds share the dependency files (make -n -W HEADER:
    nothing is touched or built)."""
    out_abs = ctx.build if os.path.isabs(ctx.build) else os.path.join(REPO, ctx.build)
    out_rel = os.path.relpath(out_abs, REPO)
    if not os.path.exists(os.path.join(out_abs, "socktrace.bpf.d")):
        raise Skip("%s holds no build with dependency files" % out_abs)
    problems = []
    for out in (out_rel, out_abs):
        for header, obj in (("bpf/dns.bpf.h", "socktrace.bpf.o"), ("include/socktrace.h", "event.o"),
                            ("src/dnsnames.h", "dnsnames.o")):
            target = os.path.join(out, obj)
            r = make("-n", "-W", header, "OUTPUT=" + out, target)
            if r.returncode != 0 or ("-o %s" % target) not in r.stdout:
                problems.append("make OUTPUT=%s: a changed %s does not rebuild %s (exit %d)"
                                % (out, header, target, r.returncode))
    if problems:
        raise Fail("stale objects after a header change", problems)


# ---- the container image and the DaemonSet ----

CONTAINERFILE = os.path.join(REPO, "deploy", "container", "Containerfile")
ROOTFS_SH = os.path.join(REPO, "deploy", "container", "rootfs.sh")
# what the tracer reads of the host, mounted where it looks (README)
HOST_MOUNTS = ("/sys/kernel/btf", "/sys/kernel/tracing", "/sys/fs/cgroup", "/var/log/pods")


def makefile_value(name):
    with open(os.path.join(REPO, "Makefile")) as f:
        m = re.search(r"^%s \??:?= *(\S+)$" % name, f.read(), re.M)
    if not m:
        raise Fail("the Makefile sets no %s" % name)
    return m.group(1)


def metrics_port(args):
    """The port of --metrics [ADDR]:PORT in an argument list, or None."""
    for i, a in enumerate(args[:-1]):
        if a == "--metrics":
            m = re.search(r":(\d+)$", args[i + 1])
            return int(m.group(1)) if m else None
    return None


@test
def daemonset_has_what_the_image_needs(ctx):
    """deploy/kubernetes/daemonset.yaml runs the image make image builds,
    in the host's pid namespace, with the host's BTF, tracefs, cgroup and
    pod log folders mounted read-only from the same host paths, the
    capabilities of the systemd unit (or privileged), resource limits, a
    tolerance of every taint, --metrics on the port that the Prometheus
    annotations, the container port and the probes name."""
    from t_image import daemonset_doc

    ds, c = daemonset_doc()
    if ds.get("apiVersion") != "apps/v1":
        raise Fail("the DaemonSet's apiVersion is %r, expected apps/v1" % ds.get("apiVersion"))
    tpl = ds["spec"]["template"]
    spec = tpl["spec"]
    if ds["spec"]["selector"]["matchLabels"].items() - tpl["metadata"]["labels"].items():
        raise Fail("the selector does not match the pod template's labels")
    problems = []
    image = "%s:%s" % (makefile_value("IMAGE"), makefile_value("VERSION"))
    if c.get("image") != image:
        problems.append("image %r, make image builds %r" % (c.get("image"), image))
    if spec.get("hostPID") is not True:
        problems.append("hostPID is not true: the owners of sockets come from the host's /proc")
    if not any(t.get("operator") == "Exists" and "key" not in t for t in spec.get("tolerations", [])):
        problems.append("no toleration of every taint: some nodes would go untraced")
    # mounts: the host path, at the same path, read-only
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    for path in HOST_MOUNTS:
        m = mounts.get(path)
        if not m:
            problems.append("no mount at %s" % path)
            continue
        hp = vols.get(m["name"], {}).get("hostPath", {})
        if hp.get("path") != path:
            problems.append("%s mounts %r, not the host's %s" % (path, hp.get("path"), path))
    for path, m in mounts.items():
        if m.get("readOnly") is not True:
            problems.append("%s is writable: socktrace writes nothing of the host's" % path)
    # privileges: privileged, or the systemd unit's capability set
    sc = c.get("securityContext", {})
    with open(UNIT) as f:
        unit_caps = {x[len("CAP_"):] for x in
                     re.search(r"^CapabilityBoundingSet=(.*)$", f.read(), re.M).group(1).split()}
    if not sc.get("privileged"):
        caps = sc.get("capabilities", {})
        if set(caps.get("add", [])) != unit_caps:
            problems.append("capabilities %s, the unit's are %s" % (
                sorted(caps.get("add", [])), sorted(unit_caps)))
        if caps.get("drop") != ["ALL"]:
            problems.append("capabilities drop %s, expected [ALL]" % caps.get("drop"))
    if sc.get("runAsUser", 0) != 0 or sc.get("runAsNonRoot"):
        problems.append("not root: BPF programs need uid 0 with the capabilities")
    for kind in ("requests", "limits"):
        r = c.get("resources", {}).get(kind, {})
        if not r.get("cpu") or not r.get("memory"):
            problems.append("no cpu and memory %s" % kind)
    # metrics: one port for the args, the annotations, the container, the probes
    port = metrics_port(c.get("args", []))
    ann = tpl["metadata"].get("annotations", {})
    ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
    if port is None:
        problems.append("args %s have no --metrics ADDR:PORT" % c.get("args"))
    if ann.get("prometheus.io/scrape") != "true" or ann.get("prometheus.io/path") != "/metrics" \
            or ann.get("prometheus.io/port") != str(port):
        problems.append("prometheus.io annotations %s do not name /metrics on port %s" % (
            {k: v for k, v in ann.items() if k.startswith("prometheus.io/")}, port))
    if ports.get("metrics") != port:
        problems.append("container port 'metrics' is %s, --metrics serves %s" % (
            ports.get("metrics"), port))
    for probe in ("readinessProbe", "livenessProbe"):
        g = c.get(probe, {}).get("httpGet", {})
        if g.get("path") != "/metrics" or ports.get(g.get("port"), g.get("port")) != port:
            problems.append("%s does not GET /metrics on port %s: %s" % (probe, port, g))
    # the manifest's $(HOST_IP) comes from the downward API
    env = {e["name"]: e for e in c.get("env", [])}
    for a in c.get("args", []):
        for var in re.findall(r"\$\((\w+)\)", a):
            if var not in env:
                problems.append("args use $(%s), which env does not set" % var)
    if problems:
        raise Fail("deploy/kubernetes/daemonset.yaml", problems)


def containerfile():
    """(instruction, argument) pairs of the Containerfile."""
    out = []
    with open(CONTAINERFILE) as f:
        text = re.sub(r"\\\n", " ", f.read())
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


@test
def containerfile_runs_the_staged_binary(ctx):
    """The Containerfile builds FROM scratch (no registry), copies the
    staged root file system, runs /usr/sbin/socktrace, and its default
    command serves --metrics on the port it EXPOSEs."""
    import json
    ins = containerfile()
    problems = []
    if ins[:1] != [("FROM", "scratch")]:
        problems.append("it starts with %s, not FROM scratch" % (ins[:1],))
    if ("COPY", "rootfs/ /") not in ins:
        problems.append("no COPY rootfs/ /")
    d = dict(ins)
    try:
        entry, cmd = json.loads(d.get("ENTRYPOINT", "")), json.loads(d.get("CMD", ""))
    except ValueError:
        raise Fail("ENTRYPOINT and CMD are not JSON arrays", [d.get("ENTRYPOINT"), d.get("CMD")])
    if entry != ["/usr/sbin/socktrace"]:
        problems.append("ENTRYPOINT %s" % entry)
    port = metrics_port(cmd)
    if port is None or d.get("EXPOSE") != "%d/tcp" % port:
        problems.append("CMD %s serves --metrics on %s, EXPOSE says %s" % (cmd, port, d.get("EXPOSE")))
    if problems:
        raise Fail("deploy/container/Containerfile", problems)


def elf_needs(path):
    """(interpreter, [NEEDED sonames]) of an ELF file; None if it is not one."""
    with open(path, "rb") as f:
        if f.read(4) != b"\x7fELF":
            return None
    h = run(["readelf", "-d", "-l", "-W", path])
    interp = re.search(r"Requesting program interpreter: ([^\]]+)\]", h.stdout)
    return (interp.group(1) if interp else None,
            re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", h.stdout))


@test
def image_rootfs_is_complete(ctx):
    """deploy/container/rootfs.sh stages the binary with its interpreter
    and every library that it and libmicrohttpd (--metrics) need, all in
    one folder of the loader's default path, and /etc/services; nothing
    that is not an ELF file or /etc/services."""
    if not shutil.which("readelf") or not shutil.which("ldd"):
        raise Skip("readelf or ldd is missing")
    mhd = run(["cc", "-print-file-name=libmicrohttpd.so.12"]).stdout.strip()
    if not mhd.startswith("/"):
        raise Skip("libmicrohttpd12 is not installed (make deps installs it)")
    d = tempfile.mkdtemp(prefix="socktrace-pkg-")
    try:
        root = os.path.join(d, "rootfs")
        r = run([ROOTFS_SH, ctx.socktrace, mhd, root])
        if r.returncode:
            raise Fail("rootfs.sh: exit status %d" % r.returncode, r.stderr.splitlines())
        problems = []
        files = installed_files(root)
        if "usr/sbin/socktrace" not in files or "etc/services" not in files:
            problems.append("no usr/sbin/socktrace or etc/services in %s" % files)
        libdirs = {os.path.dirname(f) for f in files if ".so" in f and "ld-linux" not in f}
        if len(libdirs) != 1:
            problems.append("libraries in %s, expected one folder" % sorted(libdirs))
        have = {os.path.basename(f): f for f in files}
        for f in files:
            needs = elf_needs(os.path.join(root, f))
            if needs is None:
                if f != "etc/services":
                    problems.append("%s: neither an ELF file nor /etc/services" % f)
                continue
            interp, needed = needs
            if interp and interp.lstrip("/") not in files:
                problems.append("%s: its interpreter %s is not staged" % (f, interp))
            for so in needed:
                if so not in have:
                    problems.append("%s needs %s, which is not staged" % (f, so))
        if "libmicrohttpd.so.12" not in have:
            problems.append("libmicrohttpd.so.12 is not staged: --metrics would fail")
        if problems:
            raise Fail("the image's root file system", problems)
    finally:
        shutil.rmtree(d)


# what the binary may need on a host it is copied to (README): libbpf and
# c-ares are linked in, libmicrohttpd is opened by --metrics only
PORTABLE_NEEDED = {"libc.so.6", "libelf.so.1", "libz.so.1", "libm.so.6"}


@test
def binary_needs_only_common_libraries(ctx):
    p = run(["readelf", "-d", ctx.socktrace])
    if p.returncode:
        raise Skip("readelf -d failed: %s" % p.stderr.strip())
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", p.stdout))
    if not needed or needed - PORTABLE_NEEDED:
        raise Fail("the binary needs %s; only %s are expected on any host"
                   % (sorted(needed), sorted(PORTABLE_NEEDED)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build", help="the build folder (make OUTPUT=DIR)")
    ap.add_argument("-k", default="", help="only tests whose name contains this")
    args = ap.parse_args()

    class Ctx:
        build = args.build
        socktrace = os.path.abspath(os.path.join(REPO, args.build, "socktrace")) \
            if not os.path.isabs(args.build) else os.path.join(args.build, "socktrace")

    passed = failed = skipped = 0
    tests = [t for t in TESTS if args.k in t.__name__]
    if not os.access(Ctx.socktrace, os.X_OK):
        print("FAIL setup: %s is not an executable file (run make first)" % Ctx.socktrace)
        print("pkg: 0 passed, 1 failed, 0 skipped")
        return 1
    for t in tests:
        name = t.__name__
        try:
            t(Ctx)
        except Skip as e:
            print("SKIP %s: %s" % (name, e))
            skipped += 1
        except Fail as e:
            print("FAIL %s: %s" % (name, e.reason))
            for d in e.details:
                for line in str(d).splitlines():
                    print("    " + line)
            failed += 1
        except Exception as e:   # a broken test is a failure, with its cause
            print("FAIL %s: unexpected %s: %s" % (name, type(e).__name__, e))
            failed += 1
        else:
            print("PASS %s" % name)
            passed += 1
        sys.stdout.flush()
    print("pkg: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
