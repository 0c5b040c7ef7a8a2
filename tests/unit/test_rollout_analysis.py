"""The canary's PromQL, as the AnalysisTemplates carry it and as Argo sends it, through a real PromQL parser
(promql-parser: Rust bindings of the Prometheus grammar)."""

import promql_parser
import pytest

from components.services.rollout_analysis import error_rate_query, latency_p99_query, render_args
from resource_types import ARGO_ANALYSIS_TEMPLATE as ANALYSIS, ARGO_ROLLOUT as ROLLOUT
from tests.support import run_backend_services


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
