"""The canary's gates, as the AnalysisTemplates carry them and as Argo sends them: the PromQL through a real
parser (promql-parser: Rust bindings of the Prometheus grammar), and each gate by what it means: promtool
evaluates the query Argo would send over sample traffic, and Argo's rules (tests/support.py
`argo_measurement`) give the verdict of the template's conditions on that value. A canary under the thresholds
passes; one over them fails its measurement, and with failureLimit 0 one failed measurement aborts the canary;
a canary without traffic never passes."""

import math

import promql_parser
import pytest
import yaml

from components.services.rollout_analysis import ERROR_RATE, LATENCY_P99, error_rate_query, latency_p99_query, render_args
from resource_types import ARGO_ANALYSIS_TEMPLATE as ANALYSIS, ARGO_ROLLOUT as ROLLOUT
from tests.monitoring.conftest import promtool  # noqa: F401 (a fixture)
from tests.support import RecordingMocks, argo_measurement, run_backend_services


@pytest.fixture
def rendered(mocks):
    run_backend_services("mainnet")
    return mocks


def test_every_template_query_parses_for_every_rollout(rendered):
    templates = rendered.named(ANALYSIS)
    rollouts = rendered.named(ROLLOUT)
    assert templates and rollouts
    for rollout in rollouts.values():
        analysis = rollout["spec"]["strategy"]["canary"]["analysis"]
        args = {a["name"]: a["value"] for a in analysis["args"]}
        for ref in analysis["templates"]:
            template = templates[ref["templateName"]]["spec"]
            assert {a["name"] for a in template["args"]} == set(args)  # every placeholder has a value
            query = template["metrics"][0]["provider"]["prometheus"]["query"]
            sent = render_args(query, args["service"], args["namespace"])
            assert "{{" not in sent
            expr = promql_parser.parse(sent)
            assert f'service="{args["service"]}"' in str(expr) and 'namespace="tonsurance-mainnet"' in str(expr)


def test_error_rate_is_5xx_over_all_requests():
    expr = promql_parser.parse(render_args(error_rate_query(), "api-v2", "tonsurance"))
    assert type(expr).__name__ == "BinaryExpr" and str(expr.op) == "/"
    numerator, denominator = str(expr.lhs), str(expr.rhs)
    assert 'status=~"5.."' in numerator and "status" not in denominator
    assert "[5m]" in numerator and "[5m]" in denominator


def test_latency_is_the_p99_of_the_duration_histogram():
    expr = promql_parser.parse(render_args(latency_p99_query(), "api-v2", "tonsurance"))
    assert type(expr).__name__ == "Call" and expr.func.name == "histogram_quantile"
    assert "0.99" in str(expr.args[0]) and "http_request_duration_seconds_bucket" in str(expr)
    assert "by (le)" in str(expr)


def test_the_parser_refuses_malformed_promql():  # the check above could fail: a broken query does not parse
    with pytest.raises(ValueError):
        promql_parser.parse(error_rate_query().replace("[5m]))", "[5m])", 1))


# ---- the gates by meaning ------------------------------------------------------------------------------

SERVICE, NAMESPACE = "api-v2", "tonsurance-mainnet"
BUCKETS = ("0.1", "0.25", "0.5", "1", "+Inf")
EVAL_AT = "10m"   # ten minutes of traffic: the 5 min window is full
SCALE = 10_000    # promtool compares exactly: values are compared as round(value * SCALE)


def gates(pulumi_mocks, **services_config) -> dict[str, tuple[dict, str]]:
    """Each gate of the mainnet stack (with `services_config`): (its metric, the query Argo sends for SERVICE)."""
    mocks = RecordingMocks()
    pulumi_mocks(mocks)
    run_backend_services("mainnet", **services_config)
    rollout = mocks.named(ROLLOUT)[SERVICE]["spec"]["strategy"]["canary"]["analysis"]
    args = {a["name"]: a["value"] for a in rollout["args"]}
    found = {}
    for ref in rollout["templates"]:
        metric = mocks.named(ANALYSIS)[ref["templateName"]]["spec"]["metrics"][0]
        found[ref["templateName"]] = metric, render_args(metric["provider"]["prometheus"]["query"], args["service"],
                                                         args["namespace"])
    return found


def requests(service: str, namespace: str, ok_per_minute: int, errors_per_minute: int) -> list[dict]:
    labels = f'namespace="{namespace}",service="{service}"'
    return [{"series": f'http_requests_total{{{labels},status="200"}}', "values": f"0+{ok_per_minute}x20"},
            {"series": f'http_requests_total{{{labels},status="503"}}', "values": f"0+{errors_per_minute}x20"}]


def durations(service: str, namespace: str, per_minute: int, bucket: str) -> list[dict]:
    """A duration histogram whose every request falls in the bucket that ends at `bucket`."""
    labels = f'namespace="{namespace}",service="{service}"'
    return [{"series": f'http_request_duration_seconds_bucket{{{labels},le="{le}"}}',
             "values": f"0+{per_minute if BUCKETS.index(le) >= BUCKETS.index(bucket) else 0}x20"} for le in BUCKETS]


def other_traffic() -> list[dict]:
    """Half errors and slow, on another service and on the same service of another stack: never counted."""
    return (requests("websocket-v2", NAMESPACE, 500, 500) + requests(SERVICE, "tonsurance-testnet", 500, 500)
            + durations("websocket-v2", NAMESPACE, 1000, "+Inf") + durations(SERVICE, "tonsurance-testnet", 1000, "+Inf"))


def evaluates_to(promtool, tmp_path, query: str, series: list[dict], value: float | None) -> None:
    """promtool evaluates `query` over `series` at EVAL_AT to `value` (to 1/SCALE; None: no value at all, and
    NaN: a value that is not a number)."""
    if value is None:
        check = {"expr": query, "eval_time": EVAL_AT, "exp_samples": []}
    elif math.isnan(value):
        check = {"expr": f"({query}) != bool ({query})", "eval_time": EVAL_AT, "exp_samples": [{"labels": "{}", "value": 1}]}
    else:
        check = {"expr": f"round(({query}) * {SCALE})", "eval_time": EVAL_AT,
                 "exp_samples": [{"labels": "{}", "value": round(value * SCALE)}]}
    tests = {"rule_files": [], "evaluation_interval": "1m",
             "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": [check]}]}
    (tmp_path / "gate.test.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = promtool("test", "rules", "gate.test.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def aborts(metric: dict, phase: str) -> bool:
    """Whether one measurement in `phase` aborts the canary: failed measurements beyond failureLimit do."""
    return phase == "Failed" and 1 > metric.get("failureLimit", 0)


@pytest.mark.parametrize("config, errors_per_thousand, verdict", [
    ({}, 5, "Successful"), ({}, 9, "Successful"), ({}, 10, "Failed"), ({}, 11, "Failed"), ({}, 50, "Failed"),
    ({"maxErrorRate": 0.005}, 4, "Successful"), ({"maxErrorRate": 0.005}, 6, "Failed"),
])
def test_the_error_rate_gate_passes_a_canary_under_the_threshold_and_aborts_one_over_it(
        pulumi_mocks, promtool, tmp_path, config, errors_per_thousand, verdict):
    metric, query = gates(pulumi_mocks, **config)[ERROR_RATE]
    rate = errors_per_thousand / 1000
    evaluates_to(promtool, tmp_path, query, requests(SERVICE, NAMESPACE, 1000 - errors_per_thousand,
                                                     errors_per_thousand) + other_traffic(), rate)
    phase = argo_measurement(metric, [rate])
    assert phase == verdict
    assert aborts(metric, phase) == (verdict == "Failed")


# histogram_quantile interpolates inside the bucket: p99 of requests all in (a, b] is a + 0.99 * (b - a).
@pytest.mark.parametrize("config, bucket, p99, verdict", [
    ({}, "0.25", 0.1 + 0.99 * 0.15, "Successful"), ({}, "0.5", 0.25 + 0.99 * 0.25, "Successful"),
    ({}, "1", 0.5 + 0.99 * 0.5, "Failed"),
    ({"maxP99Ms": 250}, "0.25", 0.1 + 0.99 * 0.15, "Successful"), ({"maxP99Ms": 250}, "0.5", 0.25 + 0.99 * 0.25, "Failed"),
])
def test_the_latency_gate_passes_a_canary_under_the_p99_and_aborts_one_over_it(
        pulumi_mocks, promtool, tmp_path, config, bucket, p99, verdict):
    metric, query = gates(pulumi_mocks, **config)[LATENCY_P99]
    evaluates_to(promtool, tmp_path, query, durations(SERVICE, NAMESPACE, 1000, bucket) + other_traffic(), p99)
    phase = argo_measurement(metric, [p99])
    assert phase == verdict
    assert aborts(metric, phase) == (verdict == "Failed")


@pytest.mark.parametrize("config, limits", [
    ({}, {ERROR_RATE: 0.01, LATENCY_P99: 0.5}),
    ({"maxErrorRate": 0.005, "maxP99Ms": 250}, {ERROR_RATE: 0.005, LATENCY_P99: 0.25}),
])
def test_a_measurement_at_the_configured_limit_fails_and_just_under_it_passes(pulumi_mocks, config, limits):
    for gate, (metric, _query) in gates(pulumi_mocks, **config).items():
        assert argo_measurement(metric, [limits[gate]]) == "Failed", gate
        assert argo_measurement(metric, [limits[gate] * 0.999]) == "Successful", gate


@pytest.mark.parametrize("gate", [ERROR_RATE, LATENCY_P99])
def test_a_canary_without_traffic_never_passes_a_gate(pulumi_mocks, promtool, tmp_path, gate):
    metric, query = gates(pulumi_mocks)[gate]
    evaluates_to(promtool, tmp_path, query, other_traffic(), None)          # not one series of the canary
    assert argo_measurement(metric, []) != "Successful"
    idle = requests(SERVICE, NAMESPACE, 0, 0) + durations(SERVICE, NAMESPACE, 0, "+Inf")
    evaluates_to(promtool, tmp_path, query, idle + other_traffic(), math.nan)  # series, but no request: 0/0
    assert argo_measurement(metric, [math.nan]) != "Successful"


def test_the_verdicts_follow_argos_rules():
    """The evaluator itself: what Argo documents for success-only, failure-only and both conditions."""
    assert argo_measurement({"successCondition": "result[0] < 0.5"}, [0.4]) == "Successful"
    assert argo_measurement({"successCondition": "result[0] < 0.5"}, [0.5]) == "Failed"
    assert argo_measurement({"successCondition": "result[0] < 0.5"}, []) == "Error"
    assert argo_measurement({"failureCondition": "result[0] >= 0.5"}, [0.4]) == "Successful"
    both = {"successCondition": "len(result) > 0 && result[0] < 0.5", "failureCondition": "len(result) > 0 && result[0] >= 0.5"}
    assert [argo_measurement(both, r) for r in ([0.4], [0.6], [], [math.nan])] == \
           ["Successful", "Failed", "Inconclusive", "Inconclusive"]
    assert argo_measurement({"successCondition": "!(result[0] > 1) || len(result) == 0"}, [2]) == "Failed"
    with pytest.raises(AssertionError, match="does not know"):
        argo_measurement({"successCondition": "result[0] in [1, 2]"}, [1])
