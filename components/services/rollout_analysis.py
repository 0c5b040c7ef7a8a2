"""The canary's gates: two Argo Rollouts AnalysisTemplates queried from the stack's Prometheus.

Each Rollout runs both in the background from its first step, with args `service` and `namespace`. A
measurement that misses its threshold fails the analysis (failureLimit 0) and Argo aborts the canary
back to the stable pods with no human step. No data fails too: a 0/0 error rate is NaN, which is not
below any threshold, and an empty result errors until the analysis errors out; a gate without evidence
stays shut.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

ERROR_RATE = "error-rate"
LATENCY_P99 = "latency-p99"
WINDOW = "5m"
INTERVAL = "1m"
# Argo substitutes these before it sends the query; tests render them to parse the result.
_SELECTOR = 'namespace="{{args.namespace}}",service="{{args.service}}"'


def error_rate_query() -> str:
    """5xx responses over all responses of one service, over the window."""
    return (f'sum(rate(http_requests_total{{{_SELECTOR},status=~"5.."}}[{WINDOW}]))'
            f' / sum(rate(http_requests_total{{{_SELECTOR}}}[{WINDOW}]))')


def latency_p99_query() -> str:
    """p99 of the request duration of one service, in seconds, over the window."""
    return (f"histogram_quantile(0.99, sum by (le) "
            f"(rate(http_request_duration_seconds_bucket{{{_SELECTOR}}}[{WINDOW}])))")


@dataclass(frozen=True)
class Gate:
    """One AnalysisTemplate's measurement: a measurement passes while it is below `limit`."""
    metric: str  # the template's name
    query: str  # with Argo's {{args.service}} and {{args.namespace}}
    limit: float
    unit: str  # of the result, for reports


def gates(max_error_rate: float, max_p99_ms: int) -> tuple[Gate, ...]:
    """The canary's gates; `ops watch` measures the same after a deploy."""
    return (Gate(ERROR_RATE, error_rate_query(), max_error_rate, "of requests"),
            Gate(LATENCY_P99, latency_p99_query(), max_p99_ms / 1000, "s"))


def render_args(query: str, service: str, namespace: str) -> str:
    """The query as Argo sends it for one Rollout."""
    return query.replace("{{args.service}}", service).replace("{{args.namespace}}", namespace)


@dataclass(frozen=True)
class RolloutAnalysisArgs:
    namespace: pulumi.Input[str]
    prometheus_url: str
    max_error_rate: float  # fraction, e.g. 0.01
    max_p99_ms: int


class RolloutAnalysis(pulumi.ComponentResource):
    """Owns the AnalysisTemplates; `template_names` is what a Rollout's background analysis lists."""

    template_names: tuple[str, ...] = (ERROR_RATE, LATENCY_P99)

    def __init__(self, name: str, args: RolloutAnalysisArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("tonsurance:services:RolloutAnalysis", name, None, opts)
        conditions = {g.metric: (g.query, f"result[0] < {g.limit}") for g in gates(args.max_error_rate, args.max_p99_ms)}
        self.templates = [
            k8s.apiextensions.CustomResource(
                f"{name}-{metric}", api_version="argoproj.io/v1alpha1", kind="AnalysisTemplate",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=metric, namespace=args.namespace,
                                                    labels={"app.kubernetes.io/part-of": "tonsurance"}),
                spec={
                    "args": [{"name": "service"}, {"name": "namespace"}],
                    "metrics": [{
                        "name": metric, "interval": INTERVAL, "failureLimit": 0, "successCondition": condition,
                        "provider": {"prometheus": {"address": args.prometheus_url, "query": query}},
                    }],
                },
                opts=pulumi.ResourceOptions(parent=self))
            for metric, (query, condition) in conditions.items()
        ]
        self.register_outputs({})
