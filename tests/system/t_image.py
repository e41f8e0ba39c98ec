"""The container image: `make image` builds it with podman from local files
only (FROM scratch, the host's libraries), and run as
deploy/kubernetes/daemonset.yaml runs it (the host's pid and network
namespaces, the manifest's mounts and arguments) it reports a connection
made on the host, with the host pid and comm of its client, and serves
/metrics. Once privileged, as the image's documentation runs it, once with
the manifest's own securityContext: its capability list, a read-only root.

podman runs with runc and the cgroupfs manager (crun refuses the hybrid
cgroup layout) and ulimits it may set. Traffic stays on loopback; the
container and the image are removed even on failure; every wait is
bounded."""
import os
import re
import shutil
import socket
import subprocess
import threading
import urllib.request

from lib import (READY_PREFIX, READY_TIMEOUT, STOP_TIMEOUT, Fail, Helper, Run, Skip, kill_proc,
                 run_cmd, settle, test, where)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DAEMONSET = os.path.join(REPO, "deploy", "kubernetes", "daemonset.yaml")
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs"]
RUN_LIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=1000:1000"]
BUILD_TIMEOUT = 300


def daemonset_doc():
    """The manifest's one DaemonSet, and its socktrace container (the
    packaging tests check the rest of it)."""
    try:
        import yaml
    except ImportError:
        raise Skip("python3-yaml is missing (make deps-test installs it)")
    with open(DAEMONSET) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    ds = [d for d in docs if d.get("kind") == "DaemonSet"]
    if len(ds) != 1:
        raise Fail("%s: %d DaemonSets, expected 1" % (DAEMONSET, len(ds)))
    ctrs = [c for c in ds[0]["spec"]["template"]["spec"]["containers"]
            if c["name"] == "socktrace"]
    if len(ctrs) != 1:
        raise Fail("%s: no container named socktrace" % DAEMONSET)
    return ds[0], ctrs[0]


def daemonset():
    """The DaemonSet's pod spec and its socktrace container."""
    ds, ctr = daemonset_doc()
    return ds["spec"]["template"]["spec"], ctr


def mount_args(ctx, spec, ctr):
    """-v options for the manifest's volumeMounts. A DirectoryOrCreate
    folder this host lacks (/var/log/pods off Kubernetes) is an empty
    folder of the test's, so that the host stays as it is."""
    vols = {v["name"]: v["hostPath"] for v in spec["volumes"]}
    args = []
    for m in ctr["volumeMounts"]:
        hp = vols[m["name"]]
        src = hp["path"]
        if not os.path.isdir(src):
            if hp.get("type") != "DirectoryOrCreate":
                raise Skip("this host has no %s for the %s mount" % (src, m["name"]))
            src = os.path.join(ctx.tmpdir, m["name"])
            os.makedirs(src, exist_ok=True)
        args += ["-v", "%s:%s:%s" % (src, m["mountPath"], "ro" if m.get("readOnly") else "rw")]
    return args


def security_args(ctr):
    """podman's options for the manifest's securityContext."""
    sc = ctr["securityContext"]
    args = []
    if sc.get("privileged"):
        return ["--privileged"]
    caps = sc["capabilities"]
    for c in caps.get("drop", []):
        args += ["--cap-drop", c.lower()]
    args += ["--cap-add", ",".join("CAP_" + c for c in caps["add"])]
    if sc.get("readOnlyRootFilesystem"):
        args.append("--read-only")
    if sc.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    return args


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_image(ctx):
    """make image under a name of this test's; the image is removed at
    cleanup. Skips where podman cannot build."""
    if not shutil.which("podman"):
        raise Skip("podman is not installed")
    if not shutil.which("make") or not os.path.exists(os.path.join(REPO, "Makefile")):
        raise Skip("no make and source tree to run make image in")
    build = os.path.dirname(os.path.abspath(ctx.socktrace))
    # make image of another folder would build a binary of its own there
    if not os.path.exists(os.path.join(build, "main.o")):
        raise Skip("%s is not a build folder of this tree (make OUTPUT=DIR)" % build)
    name = "localhost/%s-image" % ctx.prefix
    with open(os.path.join(REPO, "Makefile")) as f:
        version = re.search(r"^VERSION := (\S+)$", f.read(), re.M).group(1)
    image = "%s:%s" % (name, version)
    ctx.on_cleanup(lambda: run_cmd(PODMAN + ["rmi", "-f", image], check=False, timeout=60))
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    cmd = ["make", "--no-print-directory", "-C", REPO, "image", "OUTPUT=" + build,
           "IMAGE_DIR=" + os.path.join(ctx.tmpdir, "image"), "IMAGE=" + name,
           "PODMAN=" + " ".join(PODMAN)]
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, env=env,
                           timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise Fail("make image took more than %ds" % BUILD_TIMEOUT, [" ".join(cmd)])
    out = (p.stdout + p.stderr).decode(errors="replace").strip().splitlines()
    if p.returncode:
        # podman itself failing (no storage driver, no user namespaces) is
        # this host's limit; the staging failing is socktrace's
        if any(l.strip().startswith("IMAGE ") for l in out):
            raise Skip("podman build cannot run here: %s" % " | ".join(out[-3:]))
        raise Fail("make image failed (exit %d)" % p.returncode, [" ".join(cmd)] + out[-20:])
    return image


class Container:
    """podman run of the image, socktrace's stdout in a file, stderr read
    for the ready line."""

    def __init__(self, ctx, image, args, cmd):
        self.name = "%s-ctr" % ctx.unique("image")
        self.out_path = os.path.join(ctx.tmpdir, self.name + ".out")
        self.cmd = PODMAN + ["run", "--rm", "--name", self.name] + args + [image] + cmd
        self.err = []
        self.ready = threading.Event()
        ctx.on_cleanup(lambda: run_cmd(PODMAN + ["rm", "-f", "-t", "0", self.name],
                                       check=False, timeout=60))
        self.out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=subprocess.PIPE)
        ctx.on_cleanup(lambda: kill_proc(self.proc))
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.err.append(line)
            if line.startswith(READY_PREFIX):
                self.ready.set()
        self.ready.set()

    def details(self):
        return ["command: %s" % " ".join(self.cmd)] + ["stderr: %s" % l for l in self.err[-15:]]

    def wait_ready(self):
        # podman's own start (storage, runc) comes on top of socktrace's
        self.ready.wait(READY_TIMEOUT + 30)
        if not any(l.startswith(READY_PREFIX) for l in self.err):
            rc = self.proc.poll()
            text = "\n".join(self.err)
            if rc is not None and "socktrace:" not in text:
                raise Skip("podman run cannot run here (exit %s): %s" % (rc, text.strip()[-300:]))
            raise Fail("socktrace in the container did not get ready (exit %s)" % rc,
                       self.details())

    def stop(self):
        """SIGINT as a Ctrl-C, through podman; returns the Run."""
        run_cmd(PODMAN + ["kill", "-s", "INT", self.name], check=False, timeout=30)
        try:
            self.proc.wait(STOP_TIMEOUT + 20)
        except subprocess.TimeoutExpired:
            kill_proc(self.proc)
            raise Fail("the container did not stop within %.0fs of SIGINT" % (STOP_TIMEOUT + 20),
                       self.details())
        self.out.close()
        with open(self.out_path, "rb") as f:
            return Run(self.cmd, self.proc.returncode, f.read(), "\n".join(self.err))


def host_connection(ctx, privileged):
    spec, ctr = daemonset()
    if not (spec.get("hostPID") and spec.get("hostNetwork")):
        raise Fail("the DaemonSet runs without hostPID or hostNetwork: this test runs it with both")
    image = build_image(ctx)
    # the manifest's arguments, on loopback and a free port, -j instead of -q,
    # and a filter that keeps this test's connection only
    mport = free_port()
    args = []
    for a in ctr["args"]:
        if "$(HOST_IP)" in a:
            a = a.replace("$(HOST_IP)", "127.0.0.1").replace(
                ":%d" % ctr["ports"][0]["containerPort"], ":%d" % mport)
        args.append("-j" if a == "-q" else a)
    if "--metrics" not in args:
        raise Fail("the DaemonSet's args have no --metrics: %s" % ctr["args"])
    server = Helper(ctx, ["server", "--name", "st-img-srv", "--addr", "127.0.0.1"])
    port = server.expect("ready")["ready"]
    run_args = RUN_LIMITS + ["--pid", "host", "--network", "host"] + \
        (["--privileged"] if privileged else security_args(ctr)) + mount_args(ctx, spec, ctr)
    c = Container(ctx, image, run_args, args + ["port %d" % port])
    c.wait_ready()
    client = Helper(ctx, ["client", "--name", "st-img-cli", "--addr", "127.0.0.1",
                          "--port", port])
    conn = client.expect("connected")
    client.expect("done")
    server.expect("done")
    settle([(port, conn["connected"])])
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10) as r:
            metrics = r.read().decode()
    except OSError as e:
        c.stop()
        raise Fail("GET /metrics of the container: %s" % e, c.details())
    run = c.stop()
    run.expect_clean_exit()
    mine = lambda r: port in (r.get("lport"), r.get("rport"))  # noqa: E731
    # the SYN_SENT event comes before the kernel chose the local port
    cli = where(run.states, pid=conn["pid"], rport=port)
    if not {("CLOSE", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED")} <= \
            {(e["old"], e["new"]) for e in cli}:
        run.fail("the host client's connect (pid %d, port %d -> %d) is not reported"
                 % (conn["pid"], conn["connected"], port), mine)
    for e in cli:
        if e.get("comm") != "st-img-cli" or e.get("vpid", e["pid"]) != conn["pid"]:
            run.fail("the host client's events name comm %r vpid %r, expected st-img-cli %d"
                     % (e.get("comm"), e.get("vpid"), conn["pid"]), mine)
    srv = where(run.states, lport=port, rport=conn["connected"], old="SYN_RECV", new="ESTABLISHED")
    if not srv or srv[0].get("comm") != "st-img-srv":
        run.fail("the host server's side of the connection is not reported with its comm", mine)
    m = re.search(r'^socktrace_tcp_transitions_total\{old_state="SYN_SENT",new_state="ESTABLISHED"\} '
                  r'(\d+)', metrics, re.M)
    if not m or int(m.group(1)) < 1:
        raise Fail("the container's /metrics counts no SYN_SENT -> ESTABLISHED",
                   [l for l in metrics.splitlines() if "transitions" in l][:10])


@test("image_privileged_host_connection", hook_independent=True)
def t_image_privileged(ctx):
    host_connection(ctx, True)


@test("image_daemonset_capabilities_host_connection", hook_independent=True)
def t_image_capabilities(ctx):
    host_connection(ctx, False)
