"""Drive the real Pulumi engine on a throwaway copy of the project through the Automation API.

Each test gets a copy of the work tree in a temporary folder (the virtualenv and node_modules are linked,
not copied), its own file backend and its own localnet and manifest folders, so tests never touch the
developer's `local` stack. Kubernetes objects go to the pytest session's cluster (tests/kube.py), each test
in a namespace of its own (`use_cluster`). Later issues extend `StackCopy` rather than writing their own driver.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto

from localcluster.cluster import Cluster

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools"
LOCAL_PASSPHRASE = "tonsurance-local"  # protects only throwaway localnet keys (see Makefile)
_NOT_COPIED = {".git", ".venv", ".tools", ".state", "node_modules", "__pycache__", ".pytest_cache", "bench"}
_LINKED = (".venv", "node_modules")


def engine_env(work_dir: Path, backend_url: str | None = None) -> dict[str, str]:
    """The environment the CLI, language host and providers run in: our toolchain, a private backend (the
    copy's folder, or `backend_url`)."""
    return {
        "PATH": f"{TOOLS / 'bin'}{os.pathsep}{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "PULUMI_HOME": str(TOOLS / "pulumi-home"),
        # metadata=skip, as in the Makefile: no `.attrs` sidecars, which a kill can leave empty
        "PULUMI_BACKEND_URL": backend_url or f"file://{work_dir / '.state' / 'pulumi'}?metadata=skip",
        "PULUMI_CONFIG_PASSPHRASE": LOCAL_PASSPHRASE,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    }


@dataclass
class StackCopy:
    work_dir: Path
    stack: auto.Stack
    cluster: Cluster | None = None  # set by use_cluster
    backend_url: str | None = None  # None: the copy's own folder

    def env(self) -> dict[str, str]:
        """What a command run beside the engine needs (the CLI's toolchain, backend and passphrase)."""
        return engine_env(self.work_dir, self.backend_url)

    def use_cluster(self, cluster: Cluster) -> str:
        """Deploy into `cluster` (its kubeconfig in tonsurance:kubeconfig) under a namespace unique to this
        copy, so tests sharing the session's cluster never see each other's objects. Returns the namespace."""
        self.cluster = cluster
        namespace = f"tonsurance-{uuid.uuid4().hex[:10]}"
        self.set_config("tonsurance:kubeconfig", str(cluster.kubeconfig))
        self.set_config("tonsurance:namespace", namespace)
        return namespace

    @property
    def namespace(self) -> str:
        return self.stack.get_config("tonsurance:namespace").value

    @property
    def manifests_dir(self) -> Path:
        return self.work_dir / ".state" / "manifests" / "local"

    def rendered_objects(self) -> list[dict[str, Any]]:
        """Every Kubernetes object the provider rendered, parsed from the YAML files."""
        objects = []
        for path in sorted(self.manifests_dir.rglob("*.yaml")):
            objects.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
        return objects

    def start_postgres(self) -> None:
        """Start the copy's own PostgreSQL on a free port and point the stack's database config at it."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "start", str(self.postgres_dir), str(port),
                        "tonsurance"], check=True)
        self.set_config("tonsurance:database.port", str(port), path=True)

    def stop_postgres(self) -> None:
        subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "stop", str(self.postgres_dir)], check=True)

    @property
    def postgres_dir(self) -> Path:
        return self.work_dir / ".state" / "postgres"

    def database_dsn(self) -> str:
        """The copy's PostgreSQL database as the stack reaches it (socket folder, port, name, user)."""
        from psycopg.conninfo import make_conninfo
        database = json.loads(self.stack.get_config("tonsurance:database").value)
        return make_conninfo(host=str(self.postgres_dir), port=database["port"], dbname=database["name"],
                             user=database["user"])

    @property
    def localnet_path(self) -> Path:
        return self.work_dir / self.stack.get_config("tonsurance:localnetPath").value

    def localnet(self):
        """A client of the copy's localnet chain file (the chain the stack's providers deploy to)."""
        from chain.client import ChainSettings
        from chain.connect import connect
        return connect(ChainSettings("localnet", localnet_path=str(self.localnet_path), poll_interval_seconds=0.05))

    def external_messages(self) -> int:
        """External messages processed on the copy's localnet, over every account's history."""
        from pytoniq_core import Address
        chain = self.localnet()
        accounts = json.loads(self.localnet_path.read_text())["chain"]["transactions"]
        return sum(tx.in_external for a in accounts for tx in chain.transactions(Address(a), 1000))

    def start_up(self, log: Path) -> subprocess.Popen:
        """`pulumi up` as a separate CLI run in its own session, so kill_run can end it with its plugins."""
        return subprocess.Popen(
            [str(TOOLS / "bin" / "pulumi"), "up", "--yes", "--skip-preview", "--non-interactive",
             "--stack", self.stack.name], cwd=self.work_dir, env={**os.environ, **self.env()},
            stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)

    def kill_run(self, run: subprocess.Popen) -> None:
        """SIGKILL the CLI and every plugin it started (they share its session), then release the lock the
        dead run left as `make up` does (`ops unlock`: the lock of a process that is gone), or, on a backend
        that is no folder, as an operator would (`pulumi cancel`)."""
        from ops.locks import clear_stale_locks

        for pid in _session_members(run.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        run.wait()
        if not clear_stale_locks(self.env()["PULUMI_BACKEND_URL"], self.stack.name) and self.backend_url:
            self.stack.cancel()

    def state_file_text(self) -> str:
        """The stack's checkpoint as the file backend stores it (secrets encrypted)."""
        stacks = self.work_dir / ".state" / "pulumi" / ".pulumi" / "stacks"
        return "".join(p.read_text() for p in stacks.rglob(f"{self.stack.name}.json"))

    def outputs(self) -> dict[str, Any]:
        return {name: out.value for name, out in self.stack.outputs().items()}

    def set_config(self, key: str, value: str, secret: bool = False, path: bool = False) -> None:
        self.stack.set_config(key, auto.ConfigValue(value=value, secret=secret), path=path)


def _session_members(session_id: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == session_id:  # fields after "(comm)": state ppid pgrp session ...
            members.append(int(stat.parent.name))
    return members


def copy_project(dest: Path, linked: tuple[str, ...] = _LINKED) -> Path:
    """Copy the work tree (sources, stack files) to `dest`, linking the heavy environment folders (add
    ".tools" to `linked` for a copy that runs scripts/bootstrap or make, which then finds it fresh)."""
    shutil.copytree(ROOT, dest, ignore=lambda _dir, names: [n for n in names if n in _NOT_COPIED])
    for name in linked:
        (dest / name).symlink_to(ROOT / name)
    (dest / ".state" / "pulumi").mkdir(parents=True)
    return dest


def copy_project_at(commit: str, dest: Path) -> Path:
    """The project as it was at `commit` (git archive), with this checkout's environment folders linked: for
    a stack written by older code (tests/e2e/test_state_compat.py)."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    for name in _LINKED:
        (dest / name).symlink_to(ROOT / name)
    (dest / ".state" / "pulumi").mkdir(parents=True)
    return dest


def replace_sources(work_dir: Path, keep: tuple[str, ...] = ()) -> None:
    """Put this checkout's sources in place of a copy's (its state, linked folders and `keep` stay), as an
    operator's `git pull` would."""
    for entry in work_dir.iterdir():
        if entry.name not in _NOT_COPIED and entry.name not in _LINKED and entry.name not in keep:
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    for entry in ROOT.iterdir():
        if entry.name in _NOT_COPIED or entry.name in _LINKED or entry.name in keep:
            continue
        if entry.is_dir():
            shutil.copytree(entry, work_dir / entry.name, ignore=lambda _dir, names: [n for n in names if n in _NOT_COPIED])
        else:
            shutil.copy2(entry, work_dir / entry.name)


def stack_copy(dest: Path, stack_name: str = "local", commit: str | None = None,
               backend_url: str | None = None, secrets_provider: str | None = None,
               env: dict[str, str] | None = None) -> StackCopy:
    """A fresh stack named `stack_name` in a copy of the project (this work tree, or the tree at `commit`),
    using the copy's Pulumi.<stack>.yaml; its state in the copy's folder or at `backend_url` (the process
    environment must then reach that backend, e.g. tests/moto_server.py's `aws_env`); created with
    `secrets_provider` (default: the passphrase), the engine run with `env` added (e.g. AWS settings for a KMS
    secrets provider)."""
    work_dir = copy_project(dest) if commit is None else copy_project_at(commit, dest)
    workspace = auto.LocalWorkspace(
        work_dir=str(work_dir),
        pulumi_command=auto.PulumiCommand(root=str(TOOLS)),
        env_vars={**engine_env(work_dir, backend_url), **(env or {})},
        secrets_provider=secrets_provider,
    )
    stack = auto.Stack.create_or_select(stack_name, workspace)
    copy = StackCopy(work_dir=work_dir, stack=stack, backend_url=backend_url)
    if stack_name == "local":  # a copy runs no Prometheus of its own; the canary drill gates against one it starts
        copy.set_config("tonsurance:services.analysis", "false", path=True)
    return copy


def inline_stack(work_dir: Path, program, stack_name: str = "test") -> auto.Stack:
    """A stack of a Python function (an Automation API inline program) with its own file backend in
    `work_dir`, run by our toolchain: for tests of one component or object against the session cluster."""
    (work_dir / ".state" / "pulumi").mkdir(parents=True, exist_ok=True)
    project = "tonsurance-inline"
    return auto.create_or_select_stack(
        stack_name=stack_name, project_name=project, program=program,
        opts=auto.LocalWorkspaceOptions(
            work_dir=str(work_dir),
            pulumi_command=auto.PulumiCommand(root=str(TOOLS)),
            env_vars=engine_env(work_dir),
            project_settings=auto.ProjectSettings(name=project, runtime="python"),
        ),
    )
