"""The canary gates' queries evaluated by the real PromQL engine (promtool) on series of a canary at 20%: the
canary-only query sees a failing canary that the whole service would hide, returns nothing for a canary
with too few requests, and measures the canary's p99."""

from components.services.rollout_analysis import (CANARY_HASH_ARG, CANARY_LABEL, GateTiming, error_rate_query,
                                         latency_p99_query, render_args)
from tests.monitoring.conftest import write_yaml
from tests.unit.test_rollout_analysis import measurement

MAINNET = GateTiming(window_seconds=300, interval_seconds=60, count=5, min_requests=100)
NAMESPACE, SERVICE = "tonsurance-mainnet", "api-v2"
ARGS = {"service": SERVICE, "namespace": NAMESPACE, CANARY_HASH_ARG: "canary1"}


def series(pod: str, template_hash: str, status: str, per_minute: float) -> dict:
    labels = (f'namespace="{NAMESPACE}",service="{SERVICE}",job="{SERVICE}",pod="{pod}",'
              f'{CANARY_LABEL}="{template_hash}",status="{status}"')
    return {"series": f"http_requests_total{{{labels}}}", "values": f"0+{per_minute}x20"}


def buckets(pod: str, template_hash: str, per_minute: dict[str, int]) -> list[dict]:
    labels = f'namespace="{NAMESPACE}",service="{SERVICE}",pod="{pod}",{CANARY_LABEL}="{template_hash}"'
    return [{"series": f'http_request_duration_seconds_bucket{{{labels},le="{le}"}}', "values": f"0+{n}x20"}
            for le, n in per_minute.items()]


# Mainnet at 20%: ten stable pods without errors, two canary pods failing 5% of their requests.
AT_TWENTY_PERCENT = ([series(f"stable-{i}", "stable0", "200", 100) for i in range(10)]
                     + [s for i in range(2) for s in (series(f"canary-{i}", "canary1", "200", 95),
                                                      series(f"canary-{i}", "canary1", "503", 5))])
WHOLE_SERVICE = ('sum(rate(http_requests_total{service="api-v2",status=~"5.."}[5m]))'
                 ' / sum(rate(http_requests_total{service="api-v2"}[5m]))')


def evaluate(promtool, tmp_path, input_series: list[dict], expr_tests: list[dict]):
    tests = write_yaml(tmp_path / "tests.yaml", {"rule_files": [], "evaluation_interval": "1m", "tests": [
        {"interval": "1m", "input_series": input_series, "promql_expr_test": expr_tests}]})
    return promtool("test", "rules", tests)


def test_a_canary_failing_five_percent_fails_the_gate_that_the_whole_service_would_pass(promtool, tmp_path):
    query = render_args(error_rate_query(MAINNET), ARGS)
    result = evaluate(promtool, tmp_path, AT_TWENTY_PERCENT, [
        {"expr": query, "eval_time": "10m", "exp_samples": [{"labels": "{}", "value": 0.05}]},
        {"expr": WHOLE_SERVICE, "eval_time": "10m", "exp_samples": [{"labels": "{}", "value": 10 / 1200}]},
    ])
    assert result.returncode == 0, result.stdout + result.stderr
    assert measurement(0.01, [0.05]) == "Failed" and measurement(0.01, [10 / 1200]) == "Successful"


def test_a_healthy_canary_measures_zero_errors_even_without_any_5xx_series(promtool, tmp_path):
    healthy = [series(f"canary-{i}", "canary1", "200", 100) for i in range(2)]
    result = evaluate(promtool, tmp_path, healthy, [
        {"expr": render_args(error_rate_query(MAINNET), ARGS), "eval_time": "10m",
         "exp_samples": [{"labels": "{}", "value": 0}]}])
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_quiet_canary_returns_no_value_so_the_measurement_is_inconclusive(promtool, tmp_path):
    quiet = [series("canary-0", "canary1", "200", 19), series("canary-0", "canary1", "503", 1)]  # 100 in 5 min
    almost = [series("canary-0", "canary1", "200", 18), series("canary-0", "canary1", "503", 1)]  # 95 in 5 min
    for input_series, expected in ((almost, []), (quiet, [{"labels": "{}", "value": 0.05}])):
        result = evaluate(promtool, tmp_path, input_series, [
            {"expr": render_args(error_rate_query(MAINNET), ARGS), "eval_time": "10m", "exp_samples": expected}])
        assert result.returncode == 0, result.stdout + result.stderr
    assert measurement(0.01, []) == "Inconclusive"


def test_the_p99_gate_measures_the_canarys_latency_only(promtool, tmp_path):
    slow_canary = buckets("canary-0", "canary1", {"0.25": 90, "0.5": 95, "1": 100, "+Inf": 100})
    fast_stable = buckets("stable-0", "stable0", {"0.25": 1000, "0.5": 1000, "1": 1000, "+Inf": 1000})
    requests = [series("canary-0", "canary1", "200", 100), series("stable-0", "stable0", "200", 1000)]
    result = evaluate(promtool, tmp_path, slow_canary + fast_stable + requests, [
        {"expr": f"round({render_args(latency_p99_query(MAINNET), ARGS)}, 0.001)", "eval_time": "10m",
         "exp_samples": [{"labels": "{}", "value": 0.9}]}])  # 5% between 0.5 and 1 s: p99 interpolated at 0.9
    assert result.returncode == 0, result.stdout + result.stderr
    assert measurement(0.5, [0.9]) == "Failed"
