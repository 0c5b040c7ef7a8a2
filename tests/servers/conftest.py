"""The local servers of localcluster/servers.py for tests: one set per test session, on its own state
directory and ports, watching a namespace of the session's cluster, with a PostgreSQL of its own for the
exporter; stopped at the end. Helpers query the real Prometheus and read the real alert sink."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from localcluster import ports
from localcluster.servers import LocalServers, ServerError
from tests.kube import new_namespace

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def servers(kube_cluster):
    """Every server of the table, started, watching a namespace of its own in the session's cluster."""
    state = Path(tempfile.mkdtemp(prefix="tonsurance-servers-"))
    state.chmod(0o755)  # the `postgres` user reaches its data directory inside
    namespace = new_namespace(kube_cluster, "mon")
    postgres = state / "postgres"
    subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "start", str(postgres),
                    str(ports.recorded_port(state, "postgres"))], check=True, timeout=120)
    local = LocalServers(state, kube_cluster.kubeconfig, namespace)
    try:
        local.start()
    except ServerError as err:
        pytest.fail(f"the local servers did not start: {err}", pytrace=False)
    yield local
    local.stop()
    subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "stop", str(postgres)], timeout=120)
    kube_cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
    shutil.rmtree(state, ignore_errors=True)


def wait_for(condition, what: str, timeout: float = 120, interval: float = 0.5):
    """Poll `condition()` until it returns something truthy (returned); fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})", pytrace=False)


def prometheus_api(servers: LocalServers, path: str, **query) -> dict:
    url = f"{servers.url('prometheus')}/api/v1/{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]


def query(servers: LocalServers, expr: str) -> list[dict]:
    return prometheus_api(servers, "query", query=expr)["result"]


def rule_names(servers: LocalServers) -> dict[str, list[str]]:
    """group name -> alert/rule names Prometheus evaluates now."""
    return {g["name"]: [r["name"] for r in g["rules"]] for g in prometheus_api(servers, "rules")["groups"]}


def apply(kube_cluster, namespace: str, obj: dict) -> None:
    kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(obj))


class MetricsTarget:
    """A tiny loopback HTTP server serving Prometheus text on `path` (what a stand-in's /metrics is), whose
    samples a test changes at will."""

    def __init__(self, path: str = "/metrics"):
        self.samples: dict[str, float] = {}
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                if self.path != path:
                    self.send_error(404)
                    return
                body = "".join(f"{name} {value}\n" for name, value in target.samples.items()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def metrics_target():
    targets: list[MetricsTarget] = []

    def make(path: str = "/metrics") -> MetricsTarget:
        targets.append(MetricsTarget(path))
        return targets[-1]

    yield make
    for target in targets:
        target.close()
