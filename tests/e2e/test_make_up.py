"""`make up` / `make kubectl` / `make down` as a developer runs them, in a copy of the checkout with its own
state: the copy's own cluster, PostgreSQL and monitoring servers on ports of its own, a second `make up` with
no changes; the local Prometheus evaluates the PrometheusRule the stack deployed and scrapes the exporters."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from localcluster.cluster import Cluster
from localcluster.servers import LocalServers
from monitoring.alerts import ALERTS
from tests.e2e.harness import ROOT, copy_project
from tests.servers.conftest import query, rule_names, wait_for

pytestmark = pytest.mark.e2e


def make(work: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    return subprocess.run(["make", "-s", *args], cwd=work, env=env, capture_output=True, text=True, timeout=900)


def make_env_run(work: Path, *argv: str) -> subprocess.CompletedProcess:
    """A command with the local stack's environment, as the Makefile sets it (backend, passphrase)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    env.update(PULUMI_BACKEND_URL=f"file://{work / '.state' / 'pulumi'}", PULUMI_CONFIG_PASSPHRASE="tonsurance-local")
    return subprocess.run(list(argv), cwd=work, env=env, capture_output=True, text=True, timeout=600)


def test_make_up_twice_kubectl_and_down(project_dir):
    work = copy_project(project_dir, linked=(".venv", "node_modules", ".tools"))
    cluster = Cluster.for_checkout("local", root=work)
    servers = LocalServers.for_checkout(work)
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

        # The copy's servers are its own: their ports are recorded in its .state, not the checkout's.
        assert (work / ".state" / "ports.json").exists()
        status = subprocess.run([str(work / "scripts" / "servers"), "status"], capture_output=True, text=True,
                                cwd=work)  # python -m puts the cwd first on sys.path: the copy's code
        assert status.returncode == 0, status.stdout + status.stderr

        # What is deployed is what is monitored: the stack's PrometheusRule, read back from its cluster.
        wait_for(lambda: {a.name for a in ALERTS} <= {n for names in rule_names(servers).values() for n in names},
                 "the stack's alerts in Prometheus")
        for series in ("pg_up", "redis_up"):
            wait_for(lambda: query(servers, f'{series}{{namespace="tonsurance-local"}} == 1'), f"{series} == 1")

        # The system lives: every check of `ops verify` passes on the fresh stack, none skipped (the stand-in
        # keeper's price, a test policy bought at it, the API stand-in's health and quote).
        verified = make_env_run(work, ".venv/bin/python", "-m", "ops", "verify", "--stack", "local", "--json")
        assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr[-3000:]
        statuses = {c["name"]: c["status"] for c in json.loads(verified.stdout)["checks"]}
        assert statuses == {"contracts": "PASS", "oracle freshness": "PASS", "sales": "PASS", "api": "PASS",
                            "test policy": "PASS"}
        wait_for(lambda: query(servers, 'sum by (job) (rate(http_requests_total{namespace="tonsurance-local"}[1m])) > 0'),
                 "request rates of the stand-ins in Prometheus")

        down = make(work, "down")
        assert down.returncode == 0, down.stderr
        assert not any(c.running for c in cluster.components())
        assert not any(s.running for s in servers.statuses())
        assert not (work / ".state" / "postgres" / "postmaster.pid").exists()
    finally:
        servers.stop()
        cluster.delete()
        subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "stop", str(work / ".state" / "postgres")])
