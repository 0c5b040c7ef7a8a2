"""Watch a fresh deploy (the guide watches for 30 minutes after it) and stop at the first sign of trouble.

    python -m ops watch --stack mainnet --minutes 30 [--interval 60] [--prometheus-url URL] [--alertmanager-url URL]

Every --interval seconds until --minutes have passed, one round of checks:
- alerts: no alert of the stack's namespace is firing (Alertmanager's active, unsilenced, uninhibited alerts;
  Prometheus's firing alerts when no Alertmanager address is known)
- error rate / p99 of each canaried service: the canary gates' own queries and limits
  (components/services/rollout_analysis.py `gates`) against the stack's Prometheus; no data fails, as it
  fails the gate
- rollouts: each canaried service's Rollout exists and is not Degraded (read with kubectl)
- oracle freshness: as `ops verify` (the oracle's last price update under 300 s old, chain time)
The first round with a failed check prints its table and exits 1, naming what failed; a watch that saw only
passing rounds prints the last round's table and exits 0 (progress lines go to stderr: --json stays JSON). A Prometheus that does not answer at the start is exit code 2, naming its address and
where the address came from.

Addresses: `--prometheus-url`/`--alertmanager-url`; else the local stack's servers (`scripts/servers`, ports in
.state/ports.json); else `tonsurance:watchPrometheusUrl` (default `services.prometheusUrl`) and
`tonsurance:watchAlertmanagerUrl`.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from components.services.catalog import SERVICES
from components.services.rollout_analysis import Gate, GateTiming, gates, render_args
from config import StackConfig
from ops.checks import Check, report, run_check
from ops.stack import ROOT, TOOLS

CANARIED = tuple(s.name for s in SERVICES if s.kind == "rollout")  # the services with Rollouts and gates
TROUBLE_PHASES = ("Degraded",)  # Argo's phase of an aborted canary or an invalid spec


class WatchError(RuntimeError):
    """The watch cannot start (no address, Prometheus unreachable); the message says what to do."""


@dataclass(frozen=True)
class Monitoring:
    prometheus_url: str
    alertmanager_url: str | None
    origin: str  # where the addresses came from, for error messages


@dataclass(frozen=True)
class Target:
    """What one watch looks at."""
    namespace: str
    services: Sequence[str]
    gates: Sequence[Gate]
    kubeconfig: str | None  # None: kubectl's ambient configuration


# ---- sources -------------------------------------------------------------------------------------------------

def _get_json(url: str, what: str) -> object:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as error:
        raise WatchError(f"{what} answered HTTP {error.code} to {url}") from None
    except (OSError, ValueError) as error:
        raise WatchError(f"cannot read {what} at {url}: {error}") from None


def prometheus_query(monitoring: Monitoring, expr: str) -> list[dict]:
    url = f"{monitoring.prometheus_url.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    body = _get_json(url, "Prometheus")
    if not isinstance(body, dict) or body.get("status") != "success":
        raise WatchError(f"Prometheus refused the query {expr!r}: {body!r}"[:300])
    return body["data"]["result"]


def firing_alerts(monitoring: Monitoring, namespace: str) -> list[dict]:
    """Label sets of the alerts of `namespace` firing now: Alertmanager's active ones when its address is
    known (a silence is the operator's decision), else Prometheus's firing ones."""
    if monitoring.alertmanager_url:
        query = urllib.parse.urlencode({"active": "true", "silenced": "false", "inhibited": "false",
                                        "filter": f'namespace="{namespace}"'})
        alerts = _get_json(f"{monitoring.alertmanager_url.rstrip('/')}/api/v2/alerts?{query}", "Alertmanager")
        return [a["labels"] for a in alerts if a.get("status", {}).get("state") == "active"]
    body = _get_json(f"{monitoring.prometheus_url.rstrip('/')}/api/v1/alerts", "Prometheus")
    return [a["labels"] for a in body["data"]["alerts"]
            if a.get("state") == "firing" and a["labels"].get("namespace") == namespace]


def rollouts(target: Target) -> dict[str, dict]:
    """name -> Rollout of the target's namespace, read with kubectl (ours when scripts/bootstrap built it)."""
    kubectl = TOOLS / "bin" / "kubectl"
    argv = [str(kubectl) if kubectl.exists() else "kubectl", "get", "rollouts.argoproj.io", "-n", target.namespace,
            "-o", "json", *(["--kubeconfig", target.kubeconfig] if target.kubeconfig else [])]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise WatchError(f"kubectl get rollouts -n {target.namespace} failed: {done.stderr.strip()[:300]}")
    return {item["metadata"]["name"]: item for item in json.loads(done.stdout)["items"]}


# ---- checks (each returns (ok, detail) for ops/checks.py's table) ------------------------------------------

def alerts_quiet(monitoring: Monitoring, namespace: str) -> tuple[bool, str]:
    firing = firing_alerts(monitoring, namespace)
    if firing:
        names = sorted({f"{a.get('alertname', '?')} ({a.get('severity', 'no severity')})" for a in firing})
        return False, f"{len(firing)} alert(s) firing in {namespace}: {', '.join(names)}"
    return True, f"no alert firing in {namespace}"


def gate_holds(monitoring: Monitoring, gate: Gate, service: str, namespace: str) -> tuple[bool, str]:
    result = prometheus_query(monitoring, render_args(gate.query, {"service": service, "namespace": namespace}))
    if not result:
        return False, f"no data from Prometheus (is {service} scraped?); the canary gate fails on no data too"
    value = float(result[0]["value"][1])
    if math.isnan(value):
        return False, f"no requests in the gate's window (NaN); the canary gate fails on it too"
    return value < gate.limit, f"{value:.4g} {gate.unit} (limit {gate.limit:g})"


def rollouts_healthy(target: Target) -> tuple[bool, str]:
    found = rollouts(target)
    missing = [name for name in target.services if name not in found]
    troubled = [f"{name} {found[name].get('status', {}).get('phase')}: "
                f"{found[name].get('status', {}).get('message', 'no message')}"
                for name in target.services if name in found
                and found[name].get("status", {}).get("phase") in TROUBLE_PHASES]
    phases = ", ".join(f"{n} {found[n].get('status', {}).get('phase', 'no phase yet')}" for n in target.services
                       if n in found)
    if missing or troubled:
        return False, "; ".join([*(f"rollout {n} missing" for n in missing), *troubled])
    return True, phases


def observe(monitoring: Monitoring, target: Target,
            oracle: Callable[[], tuple[bool, str]] | None) -> list[Check]:
    """One round of the watch."""
    checks = [run_check("alerts", lambda: alerts_quiet(monitoring, target.namespace))]
    for service in target.services:
        for gate in target.gates:
            checks.append(run_check(f"{gate.metric} {service}",
                                    lambda g=gate, s=service: gate_holds(monitoring, g, s, target.namespace)))
    checks.append(run_check("rollouts", lambda: rollouts_healthy(target)))
    if oracle is not None:
        checks.append(run_check("oracle freshness", oracle))
    return checks


def watch(monitoring: Monitoring, target: Target, oracle: Callable[[], tuple[bool, str]] | None,
          minutes: float, interval: float, as_json: bool = False,
          clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> int:
    """Rounds every `interval` seconds for `minutes`; the first round with a failure is reported and ends it."""
    try:
        prometheus_query(monitoring, "vector(1)")
    except WatchError as error:
        raise WatchError(f"{error}. The address came from {monitoring.origin}; give one this machine reaches "
                         "(--prometheus-url, or `kubectl port-forward -n monitoring svc/prometheus-operated 9090` "
                         "and --prometheus-url http://127.0.0.1:9090)") from None
    deadline, rounds = clock() + minutes * 60, 0
    while True:
        checks = observe(monitoring, target, oracle)
        rounds += 1
        if not all(c.ok for c in checks):
            report(f"watch: trouble in round {rounds}", checks, as_json)
            failed = ", ".join(c.name for c in checks if not c.ok)
            print(f"watch: stopped after {rounds} round(s): {failed}", file=sys.stderr)
            return 1
        print(f"watch: round {rounds}: {len(checks)} checks passed", file=sys.stderr, flush=True)
        if clock() + interval > deadline:
            break
        sleep(interval)
    report(f"watch: {rounds} round(s) over {minutes:g} min, the last one", checks, as_json)
    return 0


# ---- where things are ------------------------------------------------------------------------------------

def local_monitoring(state: Path) -> Monitoring:
    """The local stack's Prometheus and Alertmanager: the ports `scripts/servers` recorded (never a new one)."""
    try:
        recorded = json.loads((state / "ports.json").read_text())
        urls = {name: f"http://127.0.0.1:{recorded[name]}" for name in ("prometheus", "alertmanager")}
    except (OSError, ValueError, KeyError):
        raise WatchError(f"no Prometheus/Alertmanager port recorded in {state / 'ports.json'}: "
                         "start the local servers (`scripts/servers start`, or `make up`)") from None
    return Monitoring(urls["prometheus"], urls["alertmanager"], f"{state / 'ports.json'} (scripts/servers)")


def stack_monitoring(cfg: StackConfig, args: argparse.Namespace, state: Path) -> Monitoring:
    if args.prometheus_url:
        return Monitoring(args.prometheus_url, args.alertmanager_url, "--prometheus-url")
    if cfg.ton.network == "localnet":
        return local_monitoring(state)
    ops = cfg.ops
    url = ops.watch_prometheus_url or cfg.services.rollout.prometheus_url
    if url is None:
        raise WatchError(f"no Prometheus address for stack {cfg.stack}: set tonsurance:watchPrometheusUrl "
                         "(or services.prometheusUrl), or pass --prometheus-url")
    origin = "tonsurance:watchPrometheusUrl" if ops.watch_prometheus_url else "tonsurance:services.prometheusUrl"
    return Monitoring(url, args.alertmanager_url or ops.watch_alertmanager_url, origin)


def stack_target(cfg: StackConfig) -> Target:
    rollout = cfg.services.rollout
    kubeconfig = cfg.kubernetes.kubeconfig
    if kubeconfig and not os.path.isabs(kubeconfig):
        kubeconfig = str(ROOT / kubeconfig)
    return Target(cfg.kubernetes.namespace, CANARIED,
                  gates(rollout.max_error_rate, rollout.max_p99_ms, GateTiming.of(rollout)), kubeconfig)


# ---- the command -----------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--minutes", type=float, default=30, help="how long to watch (default 30, the guide's)")
    parser.add_argument("--interval", type=float, default=60, help="seconds between rounds (default 60)")
    parser.add_argument("--prometheus-url", help="the stack's Prometheus as this machine reaches it")
    parser.add_argument("--alertmanager-url", help="the stack's Alertmanager as this machine reaches it")
    parser.add_argument("--json", action="store_true", help="print the last round's checks as JSON")


def run(args: argparse.Namespace) -> int:
    from chain.connect import connect
    from ops.checks import contracts_args, stack_config
    from ops.stack import open_stack, plain_outputs
    from ops.verify import oracle_fresh

    if args.minutes <= 0 or args.interval <= 0:
        print("ops watch: --minutes and --interval must be positive")
        return 2
    stack = open_stack(args.stack)
    cfg, outputs = stack_config(stack), plain_outputs(stack)

    def oracle() -> tuple[bool, str]:  # a connection per round: none held open between rounds
        with connect(contracts_args(cfg, ROOT).deployer.chain) as client:
            return oracle_fresh(outputs, client)

    try:
        return watch(stack_monitoring(cfg, args, ROOT / ".state"), stack_target(cfg), oracle, args.minutes,
                     args.interval, args.json)
    except WatchError as error:
        print(f"ops watch: {error}")
        return 2
