"""The six dashboards: the guide's titles, the panels each title implies, every query parsed by a PromQL
parser and reading only listed metrics, and JSON that Grafana's sidecar can load."""

import json

import pytest

from monitoring.dashboards import DASHBOARDS, dashboard_json, expr
from monitoring.metrics import series_names
from monitoring.promql import PromQLError, selected_series
from tests.monitoring.conftest import unscoped_selectors

NAMESPACE = "tonsurance-testnet"

# The guide's "Key Dashboards" and, for each, the panels its description names.
REQUIRED_PANELS = {
    "System Overview": {"Targets up", "Firing alerts", "Request rate", "Error ratio (5xx)", "CPU by pod",
                        "Memory by pod", "PostgreSQL connections", "Redis memory"},
    "Smart Contracts": {"Vault capital (TON)", "Coverage sold (TON)", "Vault utilization", "Oracle age",
                        "Policies created per hour"},
    "API Performance": {"Request rate by service", "Error ratio (5xx) by service", "p99 latency by service"},
    "Oracle Health": {"Time since last update", "Updates per minute", "Keeper failures per minute"},
    "Vault Analytics": {"TVL (TON)", "Utilization", "APY by tranche"},
    "Policy Analytics": {"Policy creation rate per hour", "Claims filed (24 h)", "Claims paid (24 h)"},
}

PANELS = [(board, panel) for board in DASHBOARDS for panel in board.panels]


def test_the_guides_six_dashboards():
    assert [b.title for b in DASHBOARDS] == list(REQUIRED_PANELS)


@pytest.mark.parametrize("board", DASHBOARDS, ids=lambda b: b.slug)
def test_dashboard_has_the_panels_its_title_implies(board):
    titles = {p.title for p in board.panels}
    assert REQUIRED_PANELS[board.title] <= titles, REQUIRED_PANELS[board.title] - titles
    assert len(titles) == len(board.panels), "panel titles repeat"


@pytest.mark.parametrize("board, panel", PANELS, ids=[f"{b.slug}:{p.title}" for b, p in PANELS])
def test_panel_query_parses_and_reads_only_listed_metrics(board, panel):
    used = selected_series(expr(panel, NAMESPACE))
    assert used, panel.expr
    assert used <= series_names(), f"unlisted metrics {sorted(used - series_names())}"


def test_parser_rejects_broken_promql():
    with pytest.raises(PromQLError, match="not valid PromQL"):
        selected_series("sum(rate(http_requests_total[5m])")
    with pytest.raises(PromQLError, match="not valid PromQL"):
        selected_series("histogram_quantile(0.99, rate(x[5 minutes]))")


@pytest.mark.parametrize("board", DASHBOARDS, ids=lambda b: b.slug)
def test_rendered_json_is_what_grafana_loads(board):
    model = json.loads(dashboard_json(board, NAMESPACE))
    assert model["title"] == board.title
    assert model["uid"] == f"{NAMESPACE}-{board.slug}" and len(model["uid"]) <= 40
    panels = model["panels"]
    assert [p["title"] for p in panels] == [p.title for p in board.panels]
    assert len({p["id"] for p in panels}) == len(panels)
    for rendered, panel in zip(panels, board.panels):
        assert rendered["type"] == panel.kind
        assert rendered["datasource"] == {"type": "prometheus", "uid": "prometheus"}
        (target,) = rendered["targets"]
        assert target["expr"] == expr(panel, NAMESPACE)
        assert target["refId"] == "A"
        assert rendered["fieldConfig"]["defaults"]["unit"] == panel.unit
    # Panels tile the 24-column grid without overlapping.
    cells = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24
        area = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & area, p["title"]
        cells |= area


@pytest.mark.parametrize("board", DASHBOARDS, ids=lambda b: b.slug)
def test_rendered_queries_read_only_the_stacks_namespace(board):
    for target in (p["targets"][0] for p in json.loads(dashboard_json(board, NAMESPACE))["panels"]):
        assert not unscoped_selectors(target["expr"], NAMESPACE), target["expr"]
    assert 'namespace="tonsurance-testnet"' in expr(board.panels[0], NAMESPACE)
