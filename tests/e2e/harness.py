"""Drive the real Pulumi engine on a throwaway copy of the project through the Automation API.

Each test gets a copy of the work tree in a temporary folder (the virtualenv and node_modules are linked,
not copied), its own file backend and its own localnet and manifest folders, so tests never touch the
developer's `local` stack. Later issues extend `StackCopy` rather than writing their own driver.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools"
LOCAL_PASSPHRASE = "tonsurance-local"  # protects only throwaway localnet keys (see Makefile)
_NOT_COPIED = {".git", ".venv", ".tools", ".state", "node_modules", "__pycache__", ".pytest_cache", "bench"}
_LINKED = (".venv", "node_modules")


def engine_env(work_dir: Path) -> dict[str, str]:
    """The environment the CLI, language host and providers run in: our toolchain, a private backend."""
    return {
        "PATH": f"{TOOLS / 'bin'}{os.pathsep}{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "PULUMI_HOME": str(TOOLS / "pulumi-home"),
        "PULUMI_BACKEND_URL": f"file://{work_dir / '.state' / 'pulumi'}",
        "PULUMI_CONFIG_PASSPHRASE": LOCAL_PASSPHRASE,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    }


@dataclass
class StackCopy:
    work_dir: Path
    stack: auto.Stack

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

    def outputs(self) -> dict[str, Any]:
        return {name: out.value for name, out in self.stack.outputs().items()}

    def set_config(self, key: str, value: str, secret: bool = False, path: bool = False) -> None:
        self.stack.set_config(key, auto.ConfigValue(value=value, secret=secret), path=path)


def copy_project(dest: Path) -> Path:
    """Copy the work tree (sources, stack files) to `dest`, linking the heavy environment folders."""
    shutil.copytree(ROOT, dest, ignore=lambda _dir, names: [n for n in names if n in _NOT_COPIED])
    for name in _LINKED:
        (dest / name).symlink_to(ROOT / name)
    (dest / ".state" / "pulumi").mkdir(parents=True)
    return dest


def stack_copy(dest: Path, stack_name: str = "local") -> StackCopy:
    """A fresh stack named `stack_name` in a copy of the project, using the copy's Pulumi.<stack>.yaml."""
    work_dir = copy_project(dest)
    workspace = auto.LocalWorkspace(
        work_dir=str(work_dir),
        pulumi_command=auto.PulumiCommand(root=str(TOOLS)),
        env_vars=engine_env(work_dir),
    )
    stack = auto.Stack.create_or_select(stack_name, workspace)
    return StackCopy(work_dir=work_dir, stack=stack)
