"""A local Kubernetes control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and the
KWOK controller, all built from Go modules by scripts/bootstrap and run by kwokctl's `binary` runtime; then
the CRDs in .tools/crds and the Argo Rollouts controller (a process of ours: kwokctl runs only its own).

KWOK simulates the nodes and the pods' lifecycle (scheduled, Running/Ready, Completed for Jobs); no
container ever runs and no image is pulled. Everything of a cluster lives under its state directory
(`.state/cluster/<name>` for the checkout's clusters): kwokctl's work folder with the PKI, etcd data,
logs and pid files, and `kubeconfig`. Its ports are chosen free when it is created and recorded there
(`ports.json`, and kwokctl's `kwok.yaml`), so two checkouts never share one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from localcluster import ports

ROOT = Path(__file__).resolve().parents[1]
TOOLS_BIN = ROOT / ".tools" / "bin"
CRDS = ROOT / ".tools" / "crds"
MANIFESTS = Path(__file__).resolve().parent / "manifests"

# kwokctl component name -> the binary it runs (the name of its pid and log files).
COMPONENTS = {
    "etcd": "etcd",
    "kube-apiserver": "kube-apiserver",
    "kube-controller-manager": "kube-controller-manager",
    "kube-scheduler": "kube-scheduler",
    "kwok-controller": "kwok-controller",
}
# Controllers we run ourselves against the API server, once their binary is built: name -> binary.
CONTROLLERS = {"argo-rollouts": "rollouts-controller"}
# kwokctl options naming each binary: it links these instead of downloading anything.
_BINARY_OPTIONS = {
    "etcdBinary": "etcd",
    "kubeApiserverBinary": "kube-apiserver",
    "kubeControllerManagerBinary": "kube-controller-manager",
    "kubeSchedulerBinary": "kube-scheduler",
    "kubectlBinary": "kubectl",
    "kwokControllerBinary": "kwok",
}
_PORT_OPTIONS = ("etcdPort", "etcdPeerPort", "kubeApiserverPort", "kubeControllerManagerPort", "kubeSchedulerPort",
                 "kwokControllerPort")
_PORT_OPTION = re.compile(r"^\s*(\w+Port):\s*(\d+)\s*$", re.MULTILINE)


class ClusterError(RuntimeError):
    """The cluster cannot be started or reached; the message says why and what to do."""


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    pid: int | None  # None: never started or its pid file is gone
    running: bool


def alive(pid: int) -> bool:
    """True while any thread of the process lives. A SIGKILLed Go program's main thread turns zombie
    before its other threads have exited and closed its sockets, so one thread's state is not enough."""
    for task in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            if task.read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
                return True
        except (OSError, IndexError):
            continue
    return False


def dying(pid: int) -> bool:
    """Killed but not yet gone: the main thread is a zombie while other threads still exit."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state == "Z" and alive(pid)


def _reap(pids: list[int]) -> None:
    """Collect those of `pids` that are exited children of this process (controllers it started), so they
    do not linger as zombies; other processes' pids are left alone."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def await_exit(pids: list[int], timeout: float) -> list[int]:
    """Wait until none of `pids` is alive (reaping those that are our children); returns the pids still
    alive when `timeout` seconds have passed (none on success)."""
    deadline = time.monotonic() + timeout
    while True:
        _reap(pids)
        alive_pids = [pid for pid in pids if alive(pid)]
        if not alive_pids or time.monotonic() > deadline:
            return alive_pids
        time.sleep(0.1)


@dataclass(frozen=True)
class Cluster:
    name: str
    state_dir: Path  # everything of this cluster lives here
    tools_bin: Path = TOOLS_BIN

    @classmethod
    def for_checkout(cls, name: str = "local", root: Path = ROOT) -> "Cluster":
        return cls(name=name, state_dir=root / ".state" / "cluster" / name)

    @property
    def kwok_workdir(self) -> Path:
        return self.state_dir / "kwok"

    @property
    def cluster_dir(self) -> Path:
        return self.kwok_workdir / "clusters" / self.name

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def created(self) -> bool:
        return (self.cluster_dir / "kwok.yaml").exists()

    # --- processes -----------------------------------------------------------------------------------

    def _pid_file(self, binary: str) -> Path:
        return self.cluster_dir / "pids" / f"{binary}.pid"

    def _status_of(self, name: str, binary: str) -> ComponentStatus:
        try:
            pid = int(self._pid_file(binary).read_text().strip())
        except (OSError, ValueError):
            pid = None
        return ComponentStatus(name, pid, pid is not None and alive(pid))

    def components(self) -> list[ComponentStatus]:
        """kwokctl's components, then our controllers whose binary is built."""
        return ([self._status_of(name, binary) for name, binary in COMPONENTS.items()]
                + [self._status_of(name, binary) for name, binary in CONTROLLERS.items()
                   if (self.tools_bin / binary).exists()])

    def recorded_ports(self) -> dict[str, int]:
        """The ports kwokctl chose at creation (option name -> port), from its kwok.yaml."""
        text = (self.cluster_dir / "kwok.yaml").read_text()
        return {option: int(port) for option, port in _PORT_OPTION.findall(text) if int(port)}

    def api_server_url(self) -> str:
        return f"https://127.0.0.1:{self.recorded_ports()['kubeApiserverPort']}"

    # --- tools ---------------------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        # KUBECONFIG: kwokctl adds its context there instead of the user's ~/.kube/config.
        return {**os.environ, "KWOK_WORKDIR": str(self.kwok_workdir), "KUBECONFIG": str(self.kubeconfig)}

    def _kwokctl(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.tools_bin / "kwokctl"), "--name", self.name, *args], env=self._env(),
                              capture_output=True, text=True, timeout=timeout)

    def kubectl(self, *args: str, check: bool = True, timeout: float = 120,
                input: str | None = None) -> subprocess.CompletedProcess:
        """Run the built kubectl against this cluster."""
        result = subprocess.run([str(self.tools_bin / "kubectl"), "--kubeconfig", str(self.kubeconfig), *args],
                                capture_output=True, text=True, timeout=timeout, input=input)
        if check and result.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def _check_binaries(self) -> None:
        missing = [b for b in {*_BINARY_OPTIONS.values(), "kwokctl"} if not (self.tools_bin / b).exists()]
        if missing:
            raise ClusterError(f"cluster binaries missing from {self.tools_bin}: {', '.join(sorted(missing))}; "
                               "run scripts/bootstrap")

    # --- lifecycle -----------------------------------------------------------------------------------

    def start(self, timeout: float = 120) -> list[str]:
        """Create the cluster, or restart whichever of its components is not running; wait until the API
        server answers and the simulated nodes are Ready; start the controllers. Returns what it did."""
        self._check_binaries()
        actions = []
        if not self.created:
            self._create()
            actions.append(f"created cluster {self.name} in {self.state_dir}")
        else:
            actions.extend(self._restart_stopped())
        actions.extend(self._wait_ready(timeout))
        self._apply_base_objects()
        actions.extend(self._start_controllers())
        return actions

    def _restart_stopped(self) -> list[str]:
        """Start again those of kwokctl's components that are not running (stopped, crashed or killed)."""
        self._await_exit([c.pid for c in self.components() if c.pid and dying(c.pid)], timeout=10)
        stopped = [c for c in self.components() if not c.running and c.name in COMPONENTS]
        if not stopped:
            return []
        self._check_ports_free()
        for component in stopped:
            # A stale pid file (process killed, pid maybe reused) would make kwokctl skip it.
            self._pid_file(COMPONENTS[component.name]).unlink(missing_ok=True)
        result = self._kwokctl("start", "cluster")
        if result.returncode != 0:
            raise ClusterError(f"kwokctl start cluster {self.name} failed: {result.stderr.strip()}")
        return ["restarted " + ", ".join(c.name for c in stopped) + " (not running: stopped, crashed or killed)"]

    def _create(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        config = self.state_dir / "kwokctl.yaml"
        config.write_text(self._kwokctl_config())
        result = self._kwokctl("create", "cluster", "--config", str(config), "--quiet-pull")
        if result.returncode != 0:
            log = self._kwokctl("delete", "cluster")  # leave nothing half-made: the next start creates anew
            raise ClusterError(f"kwokctl create cluster {self.name} failed: {result.stderr.strip()[-2000:]}"
                               + (f"\n(cleanup: {log.stderr.strip()})" if log.returncode else ""))

    def _kwokctl_config(self) -> str:
        options = {"runtime": "binary", "quietPull": True, "disableQPSLimits": True,
                   **{option: str(self.tools_bin / binary) for option, binary in _BINARY_OPTIONS.items()},
                   # kwokctl would count down from 32766 for every cluster; free ports of our own instead.
                   **{option: ports.recorded_port(self.state_dir, option) for option in _PORT_OPTIONS}}
        # The controller manager's development hostPath provisioner binds PVCs of the `standard` class
        # (manifests/storage.yaml): StatefulSets with volume claims schedule. KWOK mounts nothing.
        patches = [{"name": "kube-controller-manager",
                    "extraArgs": [{"key": "enable-hostpath-provisioner", "value": "true"}]}]
        # JSON is YAML; kwokctl reads either.
        return json.dumps({"kind": "KwokctlConfiguration", "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
                           "options": options, "componentsPatches": patches}, indent=2) + "\n"

    def _check_ports_free(self) -> None:
        """Before restarting stopped components, make sure nothing else took their recorded ports."""
        ours = {c.pid for c in self.components() if c.running}
        for option, port in sorted(self.recorded_ports().items()):
            description = ports.holder(port)
            if description is None or any(description.startswith(f"pid {pid}:") for pid in ours):
                continue
            raise ClusterError(f"cluster {self.name}: port {port} ({option}, recorded in "
                               f"{self.cluster_dir / 'kwok.yaml'}) is taken by {description}; stop that "
                               f"process, or `scripts/cluster delete --name {self.name}` to recreate the cluster "
                               "on free ports")

    def _wait_ready(self, timeout: float) -> list[str]:
        """Wait for the API server's /readyz. A component found dead meanwhile (one killed just before
        `start` looked, or one that crashed on start) is started once more before giving up."""
        deadline = time.monotonic() + timeout
        actions: list[str] = []
        while True:
            probe = self.kubectl("get", "--raw", "/readyz", check=False, timeout=10)
            if probe.returncode == 0:
                return actions
            dead = [c.name for c in self.components() if not c.running and c.name in COMPONENTS]
            if dead and not actions:
                actions = self._restart_stopped()
                continue
            if dead or time.monotonic() > deadline:
                reason = f"{', '.join(dead)} exited" if dead else f"not ready after {timeout:.0f}s"
                raise ClusterError(f"cluster {self.name}: {reason}; logs in {self.cluster_dir / 'logs'}"
                                   f" (last answer: {probe.stderr.strip()[-300:]})")
            time.sleep(0.2)

    def _apply_base_objects(self) -> None:
        """The simulated nodes and the CRDs, applied when they changed since the last start; then wait for
        the nodes to be Ready (KWOK's controller answers for them)."""
        files = [MANIFESTS / "nodes.yaml", MANIFESTS / "storage.yaml", *sorted(CRDS.glob("*.yaml"))]
        digest = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()
        applied = self.state_dir / "applied.sha256"
        if not applied.exists() or applied.read_text() != digest:
            self.kubectl("apply", "--server-side", "--force-conflicts", *(a for f in files for a in ("-f", str(f))))
            if any(f.parent == CRDS for f in files):
                self.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
            applied.write_text(digest)
        self.kubectl("wait", "--for=condition=Ready", "node", "--all", "--timeout=60s")

    def _start_controllers(self) -> list[str]:
        actions = []
        for status in self.components():
            if status.name not in CONTROLLERS or status.running:
                continue
            binary = CONTROLLERS[status.name]
            # Loopback ports of its own, recorded with the cluster, so clusters never share one.
            metrics, healthz = (ports.recorded_port(self.state_dir, f"{status.name}-{use}")
                                for use in ("metrics", "healthz"))
            for port in (metrics, healthz):
                holder = ports.holder(port)
                if holder is not None:
                    raise ClusterError(f"cluster {self.name}: port {port} of {status.name} (recorded in "
                                       f"{self.state_dir / 'ports.json'}) is taken by {holder}")
            log = (self.cluster_dir / "logs" / f"{binary}.log").open("ab")
            process = subprocess.Popen(
                [str(self.tools_bin / binary), "--kubeconfig", str(self.kubeconfig), "--leader-elect=false",
                 f"--metricsPort={metrics}", f"--healthzPort={healthz}", "--loglevel=warn"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.cluster_dir, start_new_session=True)
            log.close()
            self._pid_file(binary).write_text(str(process.pid))
            actions.append(f"started {status.name} controller (pid {process.pid})")
        return actions

    def _stop_controllers(self) -> list[int]:
        """SIGTERM our controllers; return the pids of every running component (kwokctl removes its pid
        files as it signals, so callers wait on these pids rather than on the files)."""
        running = [c for c in self.components() if c.running]
        for status in running:
            if status.name in CONTROLLERS:
                os.kill(status.pid, signal.SIGTERM)
        return [c.pid for c in running]

    def stop(self) -> None:
        """Stop every component; the data stays, so `start` brings the same cluster back."""
        if not self.created:
            return
        pids = self._stop_controllers()
        result = self._kwokctl("stop", "cluster")
        if result.returncode != 0:
            raise ClusterError(f"kwokctl stop cluster {self.name} failed: {result.stderr.strip()}")
        self._await_exit(pids)

    def delete(self) -> None:
        """Stop the cluster and remove its state directory."""
        if self.created:
            pids = self._stop_controllers()
            self._kwokctl("delete", "cluster")
            self._await_exit(pids)
        if self.state_dir.exists():
            import shutil
            shutil.rmtree(self.state_dir)

    def _await_exit(self, pids: list[int], timeout: float = 60) -> None:
        alive_pids = await_exit(pids, timeout)
        if alive_pids:
            raise ClusterError(f"cluster {self.name}: still running {timeout:.0f}s after stop: pids "
                               + ", ".join(map(str, alive_pids)))

    def status(self) -> tuple[bool, list[str]]:
        """(healthy, report lines): every component running and the API server ready."""
        if not self.created:
            return False, [f"cluster {self.name}: not created (scripts/cluster start creates it)"]
        lines = [f"cluster {self.name}: {self.api_server_url()} (kubeconfig {self.kubeconfig})"]
        components = self.components()
        for c in components:
            lines.append(f"  {c.name:<24} {'running, pid ' + str(c.pid) if c.running else 'NOT RUNNING'}")
        ready = self.kubectl("get", "--raw", "/readyz", check=False, timeout=10).returncode == 0
        lines.append(f"  {'api':<24} {'ready' if ready else 'NOT ANSWERING'}")
        healthy = ready and all(c.running for c in components)
        if not healthy:
            lines.append(f"  run `scripts/cluster start --name {self.name}` to restart what is not running")
        return healthy, lines
