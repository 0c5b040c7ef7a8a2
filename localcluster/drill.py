"""The canary drill: releases of one service through the real gates of the local stack, with a timeline.

Each case sets the service's image in the stack's config (the change a user makes), runs `pulumi up`, and
watches the Rollout and its AnalysisRuns on the API server until the outcome, while probing the stable pods'
stand-ins every second:

- good release: 20% -> 50% -> 100% and promoted (`pulumi up` succeeds);
- bad release (5% errors; p99 over 500 ms): aborted at the 20% step, back to the stable pods with no human
  step; the up that waits for a Healthy Rollout is stopped and the image set back (what an operator does);
- quiet release (almost no traffic): paused at 20% on an Inconclusive analysis, neither promoted nor aborted,
  then set back.

Figures: seconds from `pulumi up` to the abort, and the canary's requests answered with an error before it
(from the local Prometheus). `make drill` runs it against the local stack; tests/e2e/test_drills.py against a
copy of it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from localcluster.standins.faults import image_tag
from localcluster.kubeapi import KubeApi

API = "/apis/argoproj.io/v1alpha1/namespaces/{namespace}/{kind}"
IMAGE_KEYS = {"ocaml-backend": "backend", "api-v2": "apiV2", "websocket-v2": "websocketV2"}


@dataclass
class Outcome:
    case: str
    tag: str
    result: str  # promoted | aborted | paused | timeout
    seconds_to_outcome: float
    canary_hash: str | None
    canary_errors: float | None = None  # canary requests answered 5xx before the outcome
    canary_requests: float | None = None
    weight: int | None = None  # the canary weight when the outcome came
    stable_probe_failures: int = 0
    stable_probes: int = 0
    message: str = ""
    timeline: list[str] = field(default_factory=list)


class RolloutWatch:
    """Polls the Rollout and the AnalysisRuns of its canary once a second; records what changed."""

    def __init__(self, kube: KubeApi, namespace: str, service: str, standins_status: Path):
        self.kube, self.namespace, self.service, self.standins_status = kube, namespace, service, standins_status
        self.started = time.monotonic()
        self.timeline: list[str] = []
        self._last: dict[str, str] = {}
        self._earlier_runs: set[str] | None = None  # AnalysisRuns of earlier releases: not this case's
        self.probes = self.probe_failures = 0
        self.serving: set[str] = set()  # stable pods whose stand-in has answered
        self.weight: int | None = None  # the canary weight of the Rollout's current step

    def note(self, what: str) -> None:
        self.timeline.append(f"+{time.monotonic() - self.started:6.1f}s  {what}")

    def rollout(self) -> dict:
        found = self.kube.get(API.format(namespace=self.namespace, kind="rollouts"),
                              fieldSelector=f"metadata.name={self.service}")["items"]
        if not found:
            raise RuntimeError(f"rollout {self.service} not found in {self.namespace}")
        return found[0]

    def poll(self) -> dict:
        rollout = self.rollout()
        status = rollout.get("status", {})
        if status.get("phase") != "Degraded":  # an abort resets the step index; keep the weight it aborted at
            self.weight = current_weight(rollout)
        state = (f"phase {status.get('phase')}, step {status.get('currentStepIndex')} (weight {self.weight}%), "
                 f"{status.get('updatedReplicas', 0)} of {rollout['spec'].get('replicas')} pods updated; canary "
                 f"{status.get('currentPodHash')}, stable {status.get('stableRS')}")
        self._change("rollout", state)
        if status.get("message"):
            self._change("message", status["message"])
        runs = [r for r in self.kube.get(API.format(namespace=self.namespace, kind="analysisruns"))["items"]
                if r["metadata"]["name"].startswith(f"{self.service}-")]
        if self._earlier_runs is None:
            self._earlier_runs = {r["metadata"]["name"] for r in runs}
        for run in runs:
            if run["metadata"]["name"] in self._earlier_runs:
                continue
            results = [f"{r['name']} {r.get('phase')} ({r.get('count', 0)} measured, last value "
                       f"{(r.get('measurements') or [{}])[-1].get('value', '-')})"
                       for r in run.get("status", {}).get("metricResults", [])]
            self._change(f"run {run['metadata']['name']}",
                         f"analysis {run['metadata']['name']}: {run.get('status', {}).get('phase', 'Pending')}; "
                         + "; ".join(results))
        self.probe_stable(status.get("stableRS"))
        return rollout

    def _change(self, key: str, value: str) -> None:
        if self._last.get(key) != value:
            self._last[key] = value
            self.note(value)

    def probe_stable(self, stable_hash: str | None) -> None:
        """The stable version serves: every stable pod's stand-in answers /health. A pod counts from its first
        answer on: a pod the Rollout has just created (its stand-in still binding its port) receives no traffic
        yet in Kubernetes either (not Ready, so not behind the Service)."""
        try:
            standins = json.loads(self.standins_status.read_text())["standins"]
        except (OSError, ValueError, KeyError):
            return
        for standin in standins:
            if standin["service"] != self.service or standin.get("pod_template_hash") != stable_hash:
                continue
            try:
                with urllib.request.urlopen(f"{standin['http']}/health", timeout=5) as answer:
                    ok = answer.status == 200
            except OSError:
                ok = False
            if ok:
                self.serving.add(standin["pod"])
            elif standin["pod"] not in self.serving:
                self._change(f"starting {standin['pod']}", f"stable pod {standin['pod']} is not answering yet (starting)")
                continue
            self.probes += 1
            if not ok:
                self.probe_failures += 1
                self.note(f"stable pod {standin['pod']} did not answer /health")


def current_weight(rollout: dict) -> int:
    """The canary weight set by the Rollout's steps up to its current one (100 once they are done)."""
    steps = rollout["spec"].get("strategy", {}).get("canary", {}).get("steps", [])
    index = rollout.get("status", {}).get("currentStepIndex")
    if index is None or index >= len(steps):
        return 100
    weights = [step["setWeight"] for step in steps[:index + 1] if "setWeight" in step]
    return weights[-1] if weights else 0


def outcome_of(rollout: dict, new_hash: str) -> str | None:
    status = rollout.get("status", {})
    if status.get("abort"):
        return "aborted"
    if status.get("stableRS") == new_hash and status.get("phase") == "Healthy":
        return "promoted"
    reasons = {c.get("reason") for c in status.get("pauseConditions") or []}
    if "InconclusiveAnalysisRun" in reasons:
        return "paused"
    return None


def prometheus_value(prometheus: str, expr: str) -> float | None:
    url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as answer:
        result = json.load(answer)["data"]["result"]
    return float(result[0]["value"][1]) if result else None


@dataclass
class StackRun:
    """How the drill changes the stack and runs `pulumi up`: a project directory, its stack and environment."""

    work_dir: Path
    stack_name: str
    env: dict[str, str]
    pulumi: str

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([self.pulumi, *args, "--stack", self.stack_name], cwd=self.work_dir, env=self.env,
                                capture_output=True, text=True, timeout=1800)
        if check and result.returncode != 0:
            raise RuntimeError(f"pulumi {' '.join(args)} failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")
        return result

    def image(self, service: str) -> str:
        return self.cli("config", "get", f"tonsurance:images.{IMAGE_KEYS[service]}", "--path").stdout.strip()

    def set_image(self, service: str, image: str) -> None:
        self.cli("config", "set", "--path", f"tonsurance:images.{IMAGE_KEYS[service]}", image)

    def start_up(self, log: Path) -> subprocess.Popen:
        return subprocess.Popen([self.pulumi, "up", "--yes", "--skip-preview", "--non-interactive",
                                 "--stack", self.stack_name], cwd=self.work_dir, env=self.env,
                                stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)

    def stop_up(self, run: subprocess.Popen) -> None:
        """Stop an up that waits for a Rollout that will not become Healthy (its plugins share its session),
        then release the stack's lock as an operator would."""
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        self.cli("cancel", "--yes", check=False)


@dataclass
class Drill:
    run: StackRun
    kube: KubeApi
    namespace: str
    prometheus: str
    standins_status: Path
    logs: Path
    service: str = "api-v2"
    timeout: float = 600
    say: Callable[[str], None] = print

    def release(self, case: str, tag: str) -> Outcome:
        stable_image = self.run.image(self.service)
        image = stable_image.rsplit(":", 1)[0] + f":{tag}"
        watch = RolloutWatch(self.kube, self.namespace, self.service, self.standins_status)
        before = watch.rollout().get("status", {}).get("currentPodHash")
        self.run.set_image(self.service, image)
        watch.started = time.monotonic()  # the figures count from `pulumi up`
        up = self.run.start_up(self.logs / f"up-{case}.log")
        watch.note(f"pulumi up with {self.service} {image} (was {image_tag(stable_image)})")
        result, new_hash, rollout = None, None, {}
        while result is None and time.monotonic() - watch.started < self.timeout:
            rollout = watch.poll()
            current = rollout.get("status", {}).get("currentPodHash")
            if current and current != before:
                new_hash = current
                result = outcome_of(rollout, new_hash)
            time.sleep(1)
        seconds = time.monotonic() - watch.started
        outcome = Outcome(case, tag, result or "timeout", seconds, new_hash, weight=watch.weight,
                          message=rollout.get("status", {}).get("message", ""),
                          stable_probes=watch.probes, stable_probe_failures=watch.probe_failures)
        watch.note(f"outcome: {outcome.result}")
        if new_hash:
            canary = f'namespace="{self.namespace}",service="{self.service}",rollouts_pod_template_hash="{new_hash}"'
            window = f"{int(seconds) + 60}s"
            outcome.canary_errors = prometheus_value(
                self.prometheus, f'sum(max_over_time(http_requests_total{{{canary},status=~"5.."}}[{window}]))') or 0.0
            outcome.canary_requests = prometheus_value(
                self.prometheus, f"sum(max_over_time(http_requests_total{{{canary}}}[{window}]))") or 0.0
        if outcome.result == "promoted":
            up.wait(timeout=600)
            watch.note(f"pulumi up exited {up.returncode}")
        else:
            self.run.stop_up(up)
            watch.note("pulumi up stopped (it waits for a Healthy Rollout); setting the image back")
            self.run.set_image(self.service, stable_image)
            self.run.cli("up", "--yes", "--skip-preview", "--non-interactive")
            watch.note(f"back on {image_tag(stable_image)}: {watch.poll().get('status', {}).get('phase')}")
        outcome.timeline = watch.timeline
        return outcome


def report(outcome: Outcome) -> str:
    lines = [f"== {outcome.case} (tag {outcome.tag})"]
    lines += [f"  {line}" for line in outcome.timeline]
    lines.append(f"  result: {outcome.result} at weight {outcome.weight}% after {outcome.seconds_to_outcome:.1f}s "
                 "from pulumi up")
    if outcome.canary_requests is not None:
        lines.append(f"  canary requests: {outcome.canary_requests:.0f}, answered with an error: {outcome.canary_errors:.0f}")
    lines.append(f"  stable pods probed {outcome.stable_probes} times, {outcome.stable_probe_failures} without answer")
    return "\n".join(lines)


# case name -> (tag suffix after the new version, the outcome the gates must reach)
CASES: tuple[tuple[str, str, str], ...] = (
    ("good release", "", "promoted"),
    ("bad release: 5% errors", "-bad-errors", "aborted"),
    ("bad release: p99 over 500 ms", "-slow", "aborted"),
    ("quiet release", "-quiet", "paused"),
)


def next_version(tag: str, step: int) -> str:
    """1.0.0 -> 1.0.<n+step> (a fault suffix dropped): every case is a new release."""
    version = tag.split("-", 1)[0]
    parts = version.split(".")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return f"{parts[0]}.{parts[1]}.{int(parts[2]) + step}"
    return f"{version}-drill{step}"


def run_cases(drill: Drill, cases=CASES) -> list[Outcome]:
    outcomes = []
    base = image_tag(drill.run.image(drill.service))
    for step, (case, suffix, _expected) in enumerate(cases, start=1):
        outcome = drill.release(case, next_version(base, step) + suffix)
        drill.say(report(outcome))
        outcomes.append(outcome)
        if outcome.result == "promoted":
            base = outcome.tag
    return outcomes


def main(argv: list[str] | None = None) -> int:
    import argparse

    from localcluster import ports
    from localcluster.standins.controller import Paths

    parser = argparse.ArgumentParser(prog="python -m localcluster.drill", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="local")
    parser.add_argument("--service", default="api-v2", choices=sorted(IMAGE_KEYS))
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parents[1]
    import yaml
    config = yaml.safe_load((root / f"Pulumi.{args.stack}.yaml").read_text())["config"]
    env = {**os.environ, "PATH": f"{root / '.tools' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    run = StackRun(root, args.stack, env, str(root / ".tools" / "bin" / "pulumi"))
    state = root / ".state"
    logs = state / "drill"
    logs.mkdir(parents=True, exist_ok=True)
    drill = Drill(run, KubeApi(root / config["tonsurance:kubeconfig"]), config["tonsurance:namespace"],
                  f"http://127.0.0.1:{ports.recorded_port(state, 'prometheus')}", Paths(state).status, logs,
                  service=args.service)
    outcomes = run_cases(drill)
    print("\nsummary")
    for outcome, (_case, _suffix, expected) in zip(outcomes, CASES):
        mark = "ok  " if outcome.result == expected else "FAIL"
        errors = f", {outcome.canary_errors:.0f} canary requests with errors" if outcome.result == "aborted" else ""
        print(f"  {mark} {outcome.case}: {outcome.result} after {outcome.seconds_to_outcome:.1f}s{errors}")
    return 0 if all(o.result == e for o, (_c, _s, e) in zip(outcomes, CASES)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
