"""The canary's gates: two Argo Rollouts AnalysisTemplates queried from the stack's Prometheus.

Each Rollout runs both as an analysis step after each weight (20%, 50%), with args `service`, `namespace` and
`canary-hash` (Argo's `podTemplateHashValue: Latest`, the canary ReplicaSet's pod-template hash). So:

- a gate measures the canary pods only (`rollouts_pod_template_hash`, the pod label the ServiceMonitors copy
  onto every series): stable pods cannot dilute a failing canary;
- a measurement over fewer than `min_requests` canary requests in the window returns no value and is
  inconclusive, and is taken again an interval later; a step passes after `count` measurements with no
  failure and at least one conclusive success; every one inconclusive (a service with almost no traffic)
  makes the run Inconclusive, and Argo pauses the Rollout at its current weight for a person to decide:
  neither promoted on no evidence nor aborted for no data;
- one measurement at or over the threshold fails the gate (failureLimit 0) and Argo aborts the canary back
  to the stable pods with no human step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

ERROR_RATE = "error-rate"
LATENCY_P99 = "latency-p99"
CANARY_HASH_ARG = "canary-hash"
# The pod label Argo sets on a ReplicaSet's pods, as Prometheus names it (ServiceMonitor podTargetLabels).
POD_TEMPLATE_HASH_LABEL = "rollouts-pod-template-hash"
CANARY_LABEL = POD_TEMPLATE_HASH_LABEL.replace("-", "_")
ARGS = ("service", "namespace", CANARY_HASH_ARG)
# Argo substitutes these before it sends the query; tests render them to evaluate the result.
_SERVICE = 'namespace="{{args.namespace}}",service="{{args.service}}"'
_CANARY = f'{_SERVICE},{CANARY_LABEL}="{{{{args.{CANARY_HASH_ARG}}}}}"'


@dataclass(frozen=True)
class GateTiming:
    """How a gate measures: over `window`, every `interval`, `count` times per step, on at least
    `min_requests` canary requests per window."""

    window_seconds: int
    interval_seconds: int
    count: int
    min_requests: int

    @classmethod
    def for_step(cls, window_seconds: int, interval_seconds: int, step_seconds: int, min_requests: int) -> "GateTiming":
        """A step lasts at least one window (and at least `step_seconds`, the configured pause)."""
        count = max(1, math.ceil(max(window_seconds, step_seconds) / interval_seconds))
        return cls(window_seconds, interval_seconds, count, min_requests)

    @classmethod
    def of(cls, rollout) -> "GateTiming":
        """The stack's gate timing (config.RolloutConfig: window, interval, pause, minimum requests)."""
        return cls.for_step(rollout.analysis_window_seconds, rollout.analysis_interval_seconds, rollout.pause_seconds,
                            rollout.min_requests)

    @property
    def window(self) -> str:
        return f"{self.window_seconds}s"


def _selector(canary: bool) -> str:
    return _CANARY if canary else _SERVICE


def _enough_requests(timing: GateTiming, canary: bool) -> str:
    return f"sum(increase(http_requests_total{{{_selector(canary)}}}[{timing.window}])) >= {timing.min_requests}"


def error_rate_query(timing: GateTiming, canary: bool = True) -> str:
    """5xx responses over all responses of the canary pods (or, canary=False, the whole service), over the
    window; no value below the minimum count. `or vector(0)`: no 5xx series at all is an error rate of 0."""
    pods = _selector(canary)
    return (f'(sum(rate(http_requests_total{{{pods},status=~"5.."}}[{timing.window}])) or vector(0))'
            f" / sum(rate(http_requests_total{{{pods}}}[{timing.window}]))"
            f" and on() {_enough_requests(timing, canary)}")


def latency_p99_query(timing: GateTiming, canary: bool = True) -> str:
    """p99 of the canary pods' (or the whole service's) request duration, in seconds, over the window; no value
    below the minimum count."""
    return (f"histogram_quantile(0.99, sum by (le) "
            f"(rate(http_request_duration_seconds_bucket{{{_selector(canary)}}}[{timing.window}])))"
            f" and on() {_enough_requests(timing, canary)}")


def conditions(threshold: float) -> tuple[str, str]:
    """(successCondition, failureCondition): no value (too few requests) and NaN meet neither: inconclusive."""
    return f"len(result) > 0 && result[0] < {threshold}", f"len(result) > 0 && result[0] >= {threshold}"


def render_args(query: str, args: dict[str, str]) -> str:
    """The query as Argo sends it for one AnalysisRun."""
    for name, value in args.items():
        query = query.replace(f"{{{{args.{name}}}}}", value)
    return query


def rollout_args(service: str, namespace: pulumi.Input[str]) -> list[dict]:
    """What a Rollout passes to the gates: its service and namespace, and the canary's pod-template hash."""
    return [{"name": "service", "value": service}, {"name": "namespace", "value": namespace},
            {"name": CANARY_HASH_ARG, "valueFrom": {"podTemplateHashValue": "Latest"}}]


def metric(name: str, query: str, threshold: float, timing: GateTiming, prometheus_url: str) -> dict:
    success, failure = conditions(threshold)
    return {"name": name, "interval": f"{timing.interval_seconds}s", "count": timing.count,
            "failureLimit": 0, "inconclusiveLimit": timing.count - 1,
            "successCondition": success, "failureCondition": failure,
            "provider": {"prometheus": {"address": prometheus_url, "query": query}}}


@dataclass(frozen=True)
class Gate:
    """One gate's measurement of a whole service (every pod, canary or stable): `ops watch` after a release
    asks the stack's Prometheus what the canary gates asked of the canary pods; it passes below `limit`."""
    metric: str  # the AnalysisTemplate's name
    query: str  # with Argo's {{args.service}} and {{args.namespace}}
    limit: float
    unit: str  # of the result, for reports


def gates(max_error_rate: float, max_p99_ms: int, timing: GateTiming) -> tuple[Gate, ...]:
    """The canary's gates over the whole service: what `ops watch` measures after a deploy."""
    return (Gate(ERROR_RATE, error_rate_query(timing, canary=False), max_error_rate, "of requests"),
            Gate(LATENCY_P99, latency_p99_query(timing, canary=False), max_p99_ms / 1000, "s"))


@dataclass(frozen=True)
class RolloutAnalysisArgs:
    namespace: pulumi.Input[str]
    prometheus_url: str
    max_error_rate: float  # fraction, e.g. 0.01
    max_p99_ms: int
    timing: GateTiming


def template_specs(args: RolloutAnalysisArgs) -> dict[str, dict]:
    """The AnalysisTemplates' specs by name (what the cluster holds and Argo runs)."""
    gates = {ERROR_RATE: (error_rate_query(args.timing), args.max_error_rate),
             LATENCY_P99: (latency_p99_query(args.timing), args.max_p99_ms / 1000)}
    return {name: {"args": [{"name": a} for a in ARGS],
                   "metrics": [metric(name, query, threshold, args.timing, args.prometheus_url)]}
            for name, (query, threshold) in gates.items()}


class RolloutAnalysis(pulumi.ComponentResource):
    """Owns the AnalysisTemplates; `template_names` is what a Rollout's analysis steps list."""

    template_names: tuple[str, ...] = (ERROR_RATE, LATENCY_P99)

    def __init__(self, name: str, args: RolloutAnalysisArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("tonsurance:services:RolloutAnalysis", name, None, opts)
        self.templates = [
            k8s.apiextensions.CustomResource(
                f"{name}-{template}", api_version="argoproj.io/v1alpha1", kind="AnalysisTemplate",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=template, namespace=args.namespace,
                                                    labels={"app.kubernetes.io/part-of": "tonsurance"}),
                spec=spec, opts=pulumi.ResourceOptions(parent=self))
            for template, spec in template_specs(args).items()
        ]
        self.register_outputs({})
