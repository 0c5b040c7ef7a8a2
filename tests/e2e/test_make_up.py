"""`make up` / `make kubectl` / `make down` as a developer runs them, in a copy of the checkout with its own
state: the copy's own cluster and PostgreSQL on ports of its own, a second `make up` with no changes."""

import os
import subprocess
from pathlib import Path

import pytest

from localcluster.cluster import Cluster
from tests.e2e.harness import ROOT, copy_project

pytestmark = pytest.mark.e2e


def make(work: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    return subprocess.run(["make", "-s", *args], cwd=work, env=env, capture_output=True, text=True, timeout=900)


def test_make_up_twice_kubectl_and_down(project_dir):
    work = copy_project(project_dir, linked=(".venv", "node_modules", ".tools"))
    cluster = Cluster.for_checkout("local", root=work)
    try:
        first = make(work, "up")
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        assert "created cluster local" in first.stderr

        second = make(work, "up")
        assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
        summary = second.stdout.split("Resources:")[-1]
        assert "unchanged" in summary
        assert not any(change in summary for change in ("created", "updated", "deleted", "replaced")), summary

        namespaces = make(work, "kubectl", "ARGS=get namespaces -l app.kubernetes.io/part-of=tonsurance")
        assert namespaces.returncode == 0, namespaces.stderr
        assert "tonsurance-local" in namespaces.stdout and "Active" in namespaces.stdout

        # The copy's servers are its own: its PostgreSQL port is recorded in its .state, not the checkout's.
        assert (work / ".state" / "ports.json").exists()

        down = make(work, "down")
        assert down.returncode == 0, down.stderr
        assert not any(c.running for c in cluster.components())
        assert not (work / ".state" / "postgres" / "postmaster.pid").exists()
    finally:
        cluster.delete()
        subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "stop", str(work / ".state" / "postgres")])
