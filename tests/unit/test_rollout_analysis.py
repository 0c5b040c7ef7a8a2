"""The canary's gates by meaning: the queries as Argo sends them (through a real PromQL parser), the
conditions evaluated on sample values as Argo evaluates them, and the Rollout passing the canary's hash.
tests/monitoring/test_canary_queries.py evaluates the same queries on series with the real promtool."""

import math
import re

import promql_parser
import pytest

from components.services.rollout_analysis import (ARGS, CANARY_HASH_ARG, CANARY_LABEL, ERROR_RATE, LATENCY_P99,
                                                  GateTiming, conditions, error_rate_query, latency_p99_query,
                                                  render_args)
from resource_types import ARGO_ANALYSIS_TEMPLATE as ANALYSIS, ARGO_ROLLOUT as ROLLOUT
from tests.support import argo_measurement, run_backend_services

LOCAL = GateTiming(window_seconds=60, interval_seconds=15, count=4, min_requests=30)
SENT_ARGS = {"service": "api-v2", "namespace": "tonsurance", CANARY_HASH_ARG: "6d4f8b"}


def measurement(threshold: float, result: list[float]) -> str:
    """The phase Argo gives one measurement of a gate with `threshold` whose query returned `result`."""
    success, failure = conditions(threshold)
    return argo_measurement({"successCondition": success, "failureCondition": failure}, result)


def run_phase(metric: dict, phases: list[str]) -> str:
    """Argo's assessment of a metric after `phases`: failures over failureLimit fail it, inconclusive ones over
    inconclusiveLimit make it Inconclusive, else it succeeds at `count` measurements."""
    if phases.count("Failed") > metric["failureLimit"]:
        return "Failed"
    if phases.count("Inconclusive") > metric["inconclusiveLimit"]:
        return "Inconclusive"
    return "Successful" if len(phases) >= metric["count"] else "Running"


@pytest.fixture
def rendered(mocks):
    run_backend_services("mainnet")
    return mocks


def test_each_rollout_step_gates_the_canary_by_its_pod_template_hash(rendered):
    templates, rollouts = rendered.named(ANALYSIS), rendered.named(ROLLOUT)
    assert set(templates) == {ERROR_RATE, LATENCY_P99} and rollouts
    for name, rollout in rollouts.items():
        steps = rollout["spec"]["strategy"]["canary"]["steps"]
        gates = [s["analysis"] for s in steps if "analysis" in s]
        assert [s.get("setWeight") for s in steps if "setWeight" in s] == [20, 50, 100]
        assert len(gates) == 2 and "analysis" not in rollout["spec"]["strategy"]["canary"]  # no background run
        for gate in gates:
            args = {a["name"]: a for a in gate["args"]}
            assert args[CANARY_HASH_ARG]["valueFrom"] == {"podTemplateHashValue": "Latest"}
            assert args["service"]["value"] == name and args["namespace"]["value"] == "tonsurance-mainnet"
            for ref in gate["templates"]:
                template = templates[ref["templateName"]]["spec"]
                assert {a["name"] for a in template["args"]} == set(args) == set(ARGS)
                query = template["metrics"][0]["provider"]["prometheus"]["query"]
                sent = render_args(query, {**SENT_ARGS, "service": name})
                assert "{{" not in sent
                selectors = _selectors(sent)
                assert selectors and all(s[CANARY_LABEL] == "6d4f8b" and s["service"] == name for s in selectors)


def _selectors(expr: str) -> list[dict[str, str]]:
    found = []

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            found.append({m.name: m.value for m in node.matchers.matchers})
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def test_mainnet_gates_measure_the_guides_five_minute_window_once_a_minute(rendered):
    for template in rendered.named(ANALYSIS).values():
        metric = template["spec"]["metrics"][0]
        assert metric["interval"] == "60s" and metric["count"] == 5  # a 5 min step per weight
        assert metric["failureLimit"] == 0 and metric["inconclusiveLimit"] == 4
        assert "[300s]" in metric["provider"]["prometheus"]["query"]
        assert metric["provider"]["prometheus"]["address"] == "http://prometheus-operated.monitoring.svc:9090"


@pytest.mark.parametrize("threshold, result, expected", [
    (0.01, [0.005], "Successful"),
    (0.01, [0.05], "Failed"),  # a canary returning 5% errors
    (0.01, [0.01], "Failed"),  # at the threshold: the gate stays shut
    (0.01, [], "Inconclusive"),  # fewer canary requests than the minimum: the query returns nothing
    (0.01, [math.nan], "Inconclusive"),
    (0.5, [0.7], "Failed"),  # p99 of 700 ms
    (0.5, [0.06], "Successful"),
])
def test_a_measurement_succeeds_fails_or_is_inconclusive(threshold, result, expected):
    assert measurement(threshold, result) == expected


def test_a_step_passes_on_evidence_aborts_on_failure_and_pauses_without_evidence(rendered):
    metric = rendered.named(ANALYSIS)[ERROR_RATE]["spec"]["metrics"][0]
    count = int(metric["count"])  # the mocks hand numbers back as floats
    quiet = ["Inconclusive"] * count
    assert run_phase(metric, quiet) == "Inconclusive"  # Argo pauses the Rollout: not promoted, not aborted
    warming_up = ["Inconclusive"] * (count - 1) + ["Successful"]
    assert run_phase(metric, warming_up) == "Successful"
    assert run_phase(metric, ["Inconclusive", "Failed"]) == "Failed"  # aborts at once, before the count
    assert run_phase(metric, ["Successful"] * (count - 1)) == "Running"


def test_too_few_canary_requests_return_no_value_rather_than_a_rate():
    for query in (error_rate_query(LOCAL), latency_p99_query(LOCAL)):
        expr = promql_parser.parse(render_args(query, SENT_ARGS))
        assert type(expr).__name__ == "BinaryExpr" and str(expr.op) == "and"
        assert str(expr.rhs).endswith(">= 30") and "increase(http_requests_total" in str(expr.rhs)


def test_the_error_rate_counts_a_canary_without_any_5xx_series_as_zero():
    expr = promql_parser.parse(render_args(error_rate_query(LOCAL), SENT_ARGS))
    ratio = expr.lhs
    assert str(ratio.op) == "/" and re.search(r"or\s+vector\(0\)", str(ratio.lhs)) and 'status=~"5.."' in str(ratio.lhs)
    assert "status" not in str(ratio.rhs)


def test_a_step_lasts_at_least_one_window_and_the_configured_pause():
    assert GateTiming.for_step(60, 15, 10, 30).count == 4
    assert GateTiming.for_step(300, 60, 300, 100).count == 5
    assert GateTiming.for_step(300, 60, 600, 100).count == 10


def test_the_parser_refuses_malformed_promql():  # the checks above could fail: a broken query does not parse
    with pytest.raises(ValueError):
        promql_parser.parse(error_rate_query(LOCAL).replace("[60s]))", "[60s])", 1))
