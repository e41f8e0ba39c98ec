"""Which service, container or pod owns a socket: real cgroup v2 directories
in the shapes systemd, Docker, containerd, CRI-O, podman and the kubelet
make (systemd and cgroupfs drivers), each holding a real server or client,
in its own network and pid namespace where a container would have one.
Ground truth: the paths the test made, the pids it started, the ids it
chose. Filters by cgroup, unit, container and pod, live and in replay."""
import json
import os
import re
import shutil
import signal
import time

from lib import (Cgroups, Fail, Helper, NetPair, Skip, Tracer, in_cgroup,
                 run_cmd, settle, test)

UID_POD = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"       # systemd-driver pod
UID_POD2 = "0a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9"      # cgroupfs-driver pod


def cid(tag, n):
    """A 64-hex container id that names its test run and shape."""
    return ("%08x%02x" % (os.getpid(), n) + tag.encode().hex() + "0" * 64)[:64]


class HostFiles:
    """Files a kubelet or container runtime leaves (pod log folders),
    removed at cleanup with any folder this test had to create."""

    def __init__(self, ctx):
        self.made = []
        ctx.on_cleanup(self.remove)

    def mkdir(self, path):
        todo = []
        while not os.path.isdir(path):
            todo.append(path)
            path = os.path.dirname(path)
        for p in reversed(todo):
            os.mkdir(p)
            self.made.append(p)

    def touch(self, path):
        self.mkdir(os.path.dirname(path))
        with open(path, "w"):
            pass
        self.made.append(path)

    def remove(self):
        for p in reversed(self.made):
            try:
                if os.path.isdir(p):
                    shutil.rmtree(p)
                else:
                    os.unlink(p)
            except FileNotFoundError:
                pass


def host_pid(h, pidns, reported):
    """The helper's pid as the host sees it: with a pid namespace, the one
    child of unshare (the helper says 1)."""
    if not pidns:
        return reported
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/task/%d/children" % (h.proc.pid, h.proc.pid)) as f:
                kids = f.read().split()
        except OSError:
            kids = []
        if kids:
            return int(kids[0])
        time.sleep(0.05)
    raise Fail("no process under unshare %d" % h.proc.pid)


class Member:
    """One process of the scenario and the names socktrace must give it."""

    def __init__(self, comm, path, pidns, want):
        self.comm, self.path, self.pidns, self.want = comm, path, pidns, want
        self.pid = None
        self.vpid = None


def server(ctx, cg, m, addr, netns=None):
    h = Helper(ctx, ["server", "--name", m.comm, "--addr", addr],
               wrap=in_cgroup(cg.mount, m.path, m.pidns, netns))
    r = h.expect("ready")
    m.vpid = r["pid"]
    m.pid = host_pid(h, m.pidns, r["pid"])
    return h, r["ready"]


def client(ctx, cg, m, addr, port, netns=None, hold_ms=0):
    args = ["client", "--name", m.comm, "--addr", addr, "--port", port]
    if hold_ms:
        args += ["--hold-ms", hold_ms]
    h = Helper(ctx, args, wrap=in_cgroup(cg.mount, m.path, m.pidns, netns))
    r = h.expect("connected")
    m.vpid = r["pid"]
    m.pid = host_pid(h, m.pidns, r["pid"])
    return h, r["connected"]


def names(r):
    """What socktrace says about an event's owner's cgroup."""
    return {k: r.get(k) for k in ("cgroup", "unit", "slice", "container", "pod")}


def check_member(run, m, kinds=("tcp_state",)):
    """Every event of m's process names its cgroup as the test made it."""
    evs = [r for r in run.records if r.get("comm") == m.comm and r.get("type") in kinds]
    if not evs:
        run.fail("no %s events of %s" % ("/".join(kinds), m.comm))
    for r in evs:
        got = names(r)
        want = {"cgroup": m.path, "unit": None, "slice": None, "container": None, "pod": None}
        want.update(m.want)
        if got != want or r.get("pid") != m.pid or r.get("vpid") != m.vpid:
            run.fail("%s: %s pid %s vpid %s, expected %s pid %s vpid %s" % (
                m.comm, json.dumps(got, sort_keys=True), r.get("pid"), r.get("vpid"),
                json.dumps(want, sort_keys=True), m.pid, m.vpid),
                lambda x, c=m.comm: x.get("comm") == c)
    return evs


def comms(run):
    return {r.get("comm") for r in run.records if r.get("type") in ("tcp_state", "udp_flow")}


@test("cgroups_units_containers_pods_live_and_replay")
def t_cgroups_names(ctx):
    cg = Cgroups(ctx)
    files = HostFiles(ctx)
    p = ctx.prefix
    ids = {k: cid(k, i) for i, k in enumerate(
        ["dsys", "dfs", "ctrd", "crio", "podm", "k8fs"])}
    # the kubelet's folder names a pod; the CRI log link names a container
    # (not on a read-only /var, as in the VM tests: then they are unnamed)
    pod_name = "cart-%s" % p
    try:
        files.mkdir("/var/log/pods/shop_%s_%s" % (pod_name, UID_POD))
        files.touch("/var/log/containers/%s_shop_cartsrv-%s.log" % (pod_name, ids["ctrd"]))
        named = True
    except OSError:
        named = False

    web = Member("st-cg-web", cg.make("/%s.slice/%s-web.service" % (p, p)), False,
                 {"unit": "%s-web.service" % p})
    sess = Member("st-cg-sess", cg.make("/%s.slice/%s-sess.scope" % (p, p)), False,
                  {"unit": "%s-sess.scope" % p})
    pod = Member("st-cg-pod", cg.make(
        "/%s.slice/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice/"
        "cri-containerd-%s.scope" % (p, UID_POD.replace("-", "_"), ids["ctrd"])), True,
        {"container": {"runtime": "containerd", "id": ids["ctrd"],
                       "name": "cartsrv" if named else None},
         "pod": {"namespace": "shop" if named else None, "name": pod_name if named else None,
                 "uid": UID_POD, "qos": "burstable"}})
    dsys = Member("st-cg-dsys", cg.make("/%s.slice/docker-%s.scope" % (p, ids["dsys"])), True,
                  {"container": {"runtime": "docker", "id": ids["dsys"], "name": None}})
    crio = Member("st-cg-crio", cg.make("/%s.slice/crio-%s.scope" % (p, ids["crio"])), True,
                  {"container": {"runtime": "cri-o", "id": ids["crio"], "name": None}})
    dfs = Member("st-cg-dfs", cg.make("/%s/docker/%s" % (p, ids["dfs"])), True,
                 {"container": {"runtime": "docker", "id": ids["dfs"], "name": None}})
    podm = Member("st-cg-podm", cg.make("/%s/libpod_parent/libpod-%s" % (p, ids["podm"])), True,
                  {"container": {"runtime": "podman", "id": ids["podm"], "name": None}})
    k8fs = Member("st-cg-k8fs", cg.make("/%s/kubepods/besteffort/pod%s/%s" % (
        p, UID_POD2, ids["k8fs"])), True,
        {"container": {"runtime": None, "id": ids["k8fs"], "name": None},
         "pod": {"namespace": None, "name": None, "uid": UID_POD2, "qos": "besteffort"}})
    for m in (web, sess):
        m.want["slice"] = "%s.slice" % p
    for m in (dsys, crio):
        m.want["slice"] = "%s.slice" % p
    pod.want["slice"] = "kubepods-burstable-pod%s.slice" % UID_POD.replace("-", "_")

    rec = os.path.join(ctx.tmpdir, "cg.st")
    flt = "cgroup /%s.slice or cgroup /%s" % (p, p)
    pairs = [NetPair(ctx) for _ in range(3)]
    with Tracer(ctx, ["--no-snapshot", "--udp-idle", "1", "-w", rec, flt]) as t, \
            Tracer(ctx, ["--no-snapshot", "--pod",
                         "shop/" + pod_name if named else UID_POD]) as tpod:
        # host loopback: a systemd service and a session scope
        hs, port = server(ctx, cg, web, "127.0.0.1")
        hc, cport = client(ctx, cg, sess, "127.0.0.1", port)
        hc.expect("done")
        hs.expect("done")
        settled = [(port, cport)]
        # each pair: a server container in netns a, a client container in b
        for (srv, cli), pr in zip(((pod, dsys), (crio, dfs), (podm, k8fs)), pairs):
            # the client is killed while connected: its socket closes after it exited
            hs, port = server(ctx, cg, srv, pr.A4, netns=pr.a.name)
            hc, cport = client(ctx, cg, cli, pr.A4, port, netns=pr.b.name, hold_ms=60000)
            hs.expect("accepted")
            time.sleep(0.2)     # its byte and the answer, usually
            os.kill(cli.pid, signal.SIGKILL)
            hs.expect("done")
            settle([(port, cport)], netns_list=(pr.a.name, pr.b.name))
        # a UDP flow from a container
        udp = Member("st-cg-udp", dsys.path, True, dict(dsys.want))
        hu = Helper(ctx, ["udp", "--name", udp.comm],
                    wrap=in_cgroup(cg.mount, udp.path, True, pairs[0].b.name))
        udp.vpid = hu.expect("started")["started"]
        udp.pid = host_pid(hu, True, udp.vpid)
        hu.send("bind u 192.0.2.2 0")
        hu.expect("bound")
        hu.send("sendto u 192.0.2.1 9 100")
        hu.expect("sent")
        hu.close_stdin()
        settle(settled)
        time.sleep(1.5)     # the flow ends (closed or idle) within the run
        run = t.stop()
        runp = tpod.stop()
    run.expect_clean_exit()
    runp.expect_clean_exit()

    members = (web, sess, pod, dsys, crio, dfs, podm, k8fs)
    for m in members:
        evs = check_member(run, m)
        pairs_seen = {(e["old"], e["new"]) for e in evs}
        # born in softirq, named after its listener (fentry and kprobe on
        # tcp_set_state do not see the birth itself)
        born = {("SYN_RECV", "ESTABLISHED")} | (
            set() if ctx.blind_birth else {("LISTEN", "SYN_RECV")})
        if m is pod and not born <= pairs_seen:
            run.fail("the pod's server side (accepted in softirq) has no birth", None)
        if m in (dsys, dfs, k8fs) and not any(e["new"] == "CLOSE" and e["role"] == "client"
                                              for e in evs):
            run.fail("%s: no CLOSE of its connection after it was killed" % m.comm, None)
    check_member(run, udp, kinds=("udp_flow",))
    # the filter of the run: only this test's cgroups
    stray = [r for r in run.records if r.get("type") in ("tcp_state", "udp_flow")
             and not (r.get("cgroup") or "").startswith(("/%s.slice/" % p, "/%s/" % p))]
    if stray:
        run.fail("the cgroup filter let other cgroups through",
                 lambda r: r in stray)
    # live --pod: the pod's own events, none of its peer's
    if comms(runp) != {pod.comm}:
        runp.fail("--pod showed %s, expected only %s" % (sorted(comms(runp)), pod.comm))

    # replay: the same names, whatever this host knows then
    rp = run_cmd([ctx.socktrace, "-r", rec, "-j"]).stdout.decode()
    live = [r for r in run.records if r.get("type") in ("tcp_state", "udp_flow")]
    got = [json.loads(x) for x in rp.splitlines()]
    got = [r for r in got if r.get("type") in ("tcp_state", "udp_flow")]
    if [names(r) for r in got] != [names(r) for r in live] or \
            [(r.get("pid"), r.get("vpid")) for r in got] != \
            [(r.get("pid"), r.get("vpid")) for r in live]:
        raise Fail("the replay names the owners differently from the live run",
                   ["live:   %s" % json.dumps(names(r)) for r in live[:6]] +
                   ["replay: %s" % json.dumps(names(r)) for r in got[:6]])
    cases = [
        (["--unit", "%s-web.service" % p], {web.comm}),
        (["--unit", "%s.slice" % p], {web.comm, sess.comm, pod.comm, dsys.comm, crio.comm,
                                       udp.comm}),
        (["--container", ids["dfs"][:12]], {dfs.comm}),
        (["--container", "cartsrv"], {pod.comm} if named else set()),
        (["--pod", UID_POD2], {k8fs.comm}),
        (["--pod", "shop/" + pod_name], {pod.comm} if named else set()),
        (["--pod", "other/" + pod_name], set()),
        (["--cgroup", "/%s/libpod_parent" % p], {podm.comm}),
        (["container %s or unit %s-sess.scope" % (ids["crio"], p)], {crio.comm, sess.comm}),
        (["udp and container %s" % ids["dsys"][:16]], {udp.comm}),
        (["not cgroup /%s" % p], {web.comm, sess.comm, pod.comm, dsys.comm, crio.comm,
                                  udp.comm}),
        (["pod %s and not pod %s" % (UID_POD, UID_POD)], set()),
    ]
    for args, want in cases:
        r = run_cmd([ctx.socktrace, "-r", rec, "-j"] + args).stdout.decode()
        seen = {json.loads(x).get("comm") for x in r.splitlines()
                if json.loads(x).get("type") in ("tcp_state", "udp_flow")}
        if seen != want:
            raise Fail("replay %s showed %s, expected %s" % (args, sorted(seen), sorted(want)))
    # the text column
    txt = run_cmd([ctx.socktrace, "-r", rec, "--cgroup-column", "--pod", UID_POD]).stdout.decode()
    lines = txt.splitlines()
    if not lines or "CGROUP" not in lines[0].split() or \
            not all(("shop/%s" % pod_name if named else "pod:" + UID_POD) in ln
                    for ln in lines[1:] if ln.strip()):
        raise Fail("--cgroup-column does not name the pod", lines[:5])


@test("cgroups_bad_filters", hook_independent=True)
def t_cgroups_bad(ctx):
    cg = Cgroups(ctx)
    p = ctx.prefix
    r = run_cmd([ctx.socktrace, "--cgroup", "/%s-nonexistent" % p, "-d", "1"], check=False)
    if r.returncode != 2 or b"no cgroup /%s-nonexistent" % p.encode() not in r.stderr:
        raise Fail("a nonexistent --cgroup: exit %d, %r" % (r.returncode, r.stderr))
    r = run_cmd([ctx.socktrace, "--cgroup", "relative", "-d", "1"], check=False)
    if r.returncode != 2:
        raise Fail("a relative --cgroup: exit %d, %r" % (r.returncode, r.stderr))
    a, b = cid("amb", 1), cid("amb", 2)
    cg.make("/%s/docker/%s" % (p, a))
    cg.make("/%s/docker/%s" % (p, b))
    common = os.path.commonprefix([a, b])
    r = run_cmd([ctx.socktrace, "--container", common, "-d", "1"], check=False)
    if r.returncode != 2 or b"ambiguous" not in r.stderr:
        raise Fail("an ambiguous --container: exit %d, %r" % (r.returncode, r.stderr))
    # the same checks for expression terms, under 'or' and 'not' too
    r = run_cmd([ctx.socktrace, "-d", "1", "port 80 or not cgroup /%s-nonexistent" % p],
                check=False)
    if r.returncode != 2 or b"no cgroup /%s-nonexistent" % p.encode() not in r.stderr:
        raise Fail("a nonexistent cgroup term: exit %d, %r" % (r.returncode, r.stderr))
    r = run_cmd([ctx.socktrace, "-d", "1", "tcp and container %s" % common], check=False)
    if r.returncode != 2 or b"ambiguous" not in r.stderr:
        raise Fail("an ambiguous container term: exit %d, %r" % (r.returncode, r.stderr))
    r = run_cmd([ctx.socktrace, "-r", "/dev/null", "cgroup relative"], check=False)
    if r.returncode != 2 or b"expected a cgroup path" not in r.stderr:
        raise Fail("a relative cgroup term: exit %d, %r" % (r.returncode, r.stderr))


@test("cgroups_filter_in_kernel")
def t_cgroups_filter_in_kernel(ctx):
    """--cgroup learns in the kernel which cgroups it rejects: after the
    first connection of another cgroup reached userspace, the kernel drops
    the rest of that cgroup's events. A cgroup made below the wanted one
    after socktrace started still matches: nothing is skipped for it."""
    cg = Cgroups(ctx)
    p = ctx.prefix
    want = cg.make("/%s-kin" % p)
    other = Member("st-cg-kout", cg.make("/%s-kout" % p), False, {})
    n_other = 6
    srv = Member("st-cg-ksrv", want, False, {})
    with Tracer(ctx, ["--no-snapshot", "-v", "--cgroup", want]) as t:
        hs = Helper(ctx, ["server", "--name", srv.comm, "--addr", "127.0.0.1",
                          "--count", n_other + 1], wrap=in_cgroup(cg.mount, want, False))
        r = hs.expect("ready")
        port, srv.pid, srv.vpid = r["ready"], r["pid"], r["pid"]
        pairs = []
        for i in range(n_other):
            hc, cport = client(ctx, cg, other, "127.0.0.1", port)
            hc.expect("done")
            pairs.append((port, cport))
            # the first one's events are read (POLL_MS) before the next
            time.sleep(0.4 if i == 0 else 0.05)
        late = Member("st-cg-klate", cg.make("%s/late" % want), False, {})
        hc, cport = client(ctx, cg, late, "127.0.0.1", port)
        hc.expect("done")
        pairs.append((port, cport))
        hs.expect("done")
        settle(pairs)
        run = t.stop()
    run.expect_clean_exit()
    got = comms(run)
    if other.comm in got:
        run.fail("events of %s, outside %s" % (other.comm, want),
                 lambda x: x.get("comm") == other.comm)
    check_member(run, late)
    check_member(run, srv)
    m = re.search(r"(\d+) events filtered in the kernel, (\d+) cgroups skipped", run.err)
    if not m:
        raise Fail("-v says nothing of the kernel's filter", run.err.splitlines()[-5:])
    # each later client: SYN_SENT, ESTABLISHED, FIN_WAIT1, FIN_WAIT2, TIME_WAIT
    # at least; the server side is in the wanted cgroup (its listener's owner)
    kernel, skipped = int(m.group(1)), int(m.group(2))
    if skipped < 1 or kernel < 2 * (n_other - 1):
        raise Fail("the kernel filtered %d events of %d cgroups, expected at least %d of 1"
                   % (kernel, skipped, 2 * (n_other - 1)))


@test("cgroups_named_after_dropping_root")
def t_cgroups_after_drop(ctx):
    """Under -Z the file handle needs a capability socktrace gave up: ids
    are found by walking the cgroup tree instead, including a cgroup made
    after socktrace started."""
    cg = Cgroups(ctx)
    p = ctx.prefix
    # the filter names an existing slice; the cgroups below come later
    cg.make("/%s.slice" % p)
    with Tracer(ctx, ["--no-snapshot", "-Z", "nobody", "cgroup /%s.slice" % p]) as t:
        web = Member("st-cg-zweb", cg.make("/%s.slice/%s-zweb.service" % (p, p)), False,
                     {"unit": "%s-zweb.service" % p, "slice": "%s.slice" % p})
        cli = Member("st-cg-zcli", cg.make("/%s.slice/docker-%s.scope" % (p, cid("z", 7))),
                     True, {"container": {"runtime": "docker", "id": cid("z", 7), "name": None},
                            "slice": "%s.slice" % p})
        hs, port = server(ctx, cg, web, "127.0.0.1")
        hc, cport = client(ctx, cg, cli, "127.0.0.1", port)
        hc.expect("done")
        hs.expect("done")
        settle([(port, cport)])
        run = t.stop()
    run.expect_clean_exit()
    check_member(run, web)
    check_member(run, cli)


PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs"]


@test("cgroups_podman_container")
def t_cgroups_podman(ctx):
    """A real container: podman (runc, cgroupfs driver: the hybrid layout
    rules out crun and systemd) runs an image built offline from a static
    busybox; a web server and a client talk over the container's own
    loopback. socktrace must name runtime podman, the container's id and
    its name."""
    if not shutil.which("podman"):
        raise Skip("podman is not installed")
    busybox = shutil.which("busybox")
    if not busybox or b"statically linked" not in run_cmd(["file", "-L", busybox],
                                                          check=False).stdout:
        raise Skip("no static busybox to build an image from")
    name = "%s-ctr" % ctx.prefix
    image = "localhost/%s-img" % ctx.prefix
    ctx_dir = os.path.join(ctx.tmpdir, "image")
    os.mkdir(ctx_dir)
    shutil.copy(busybox, os.path.join(ctx_dir, "busybox"))
    with open(os.path.join(ctx_dir, "Containerfile"), "w") as f:
        f.write("FROM scratch\nCOPY busybox /bin/busybox\n")
    ctx.on_cleanup(lambda: run_cmd(PODMAN + ["rmi", "-f", image], check=False, timeout=60))
    r = run_cmd(PODMAN + ["build", "-q", "-t", image, ctx_dir], check=False, timeout=120)
    if r.returncode:
        raise Skip("podman build failed: %s" % r.stderr.decode(errors="replace").strip()[-200:])
    cidfile = os.path.join(ctx.tmpdir, "cid")
    ctx.on_cleanup(lambda: run_cmd(PODMAN + ["rm", "-f", name], check=False, timeout=60))
    script = ("/bin/busybox httpd -f -p 127.0.0.1:8080 -h / & sleep 1; "
              "/bin/busybox wget -q -O /dev/null http://127.0.0.1:8080/ ; "
              "/bin/busybox wget -q -O /dev/null http://127.0.0.1:8080/ ; sleep 1; kill $!")
    with Tracer(ctx, ["--no-snapshot", "container %s" % name]) as t:
        r = run_cmd(PODMAN + ["run", "--name", name, "--cidfile", cidfile, "--network", "none",
                              "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=1000:1000",
                              image, "/bin/busybox", "sh", "-c", script],
                    check=False, timeout=120)
        if r.returncode not in (0, 1):
            raise Skip("podman run failed (%d): %s" % (
                r.returncode, r.stderr.decode(errors="replace").strip()[-300:]))
        time.sleep(0.5)
        run = t.stop()
    run.expect_clean_exit()
    with open(cidfile) as f:
        cid_ = f.read().strip()
    evs = [e for e in run.states]
    if not evs:
        run.fail("no events of container %s (%s)" % (name, cid_))
    want = {"runtime": "podman", "id": cid_, "name": name}
    for e in evs:
        if e.get("container") != want or not e.get("cgroup", "").endswith("libpod-" + cid_):
            run.fail("container %s: %s in %s, expected %s" % (
                e.get("comm"), e.get("container"), e.get("cgroup"), want))
    if not {("LISTEN", "SYN_RECV"), ("CLOSE", "SYN_SENT")} <= {(e["old"], e["new"]) for e in evs}:
        run.fail("the container's server and client sides are not both there")
