"""monitoring/metrics.py against the guide's "Metrics Overview": every metric the guide names is listed under
the guide's heading, and nothing listed under a guide heading is missing from the guide. The section is kept
verbatim in fixtures/guide-metrics-overview.md (its source named there): the tests read nothing outside the
repository."""

import re
from pathlib import Path

import pytest

from monitoring.metrics import GUIDE_SECTIONS, METRICS, series_names

GUIDE_OVERVIEW = Path(__file__).parent / "fixtures" / "guide-metrics-overview.md"


def guide_metrics() -> dict[str, set[str]]:
    """{heading: metric names} from the guide's Metrics Overview (`**Heading:**` then `- `name` - text`)."""
    overview = GUIDE_OVERVIEW.read_text()
    assert overview.count("### Metrics Overview") == 1, f"{GUIDE_OVERVIEW} is not the guide's section"
    sections: dict[str, set[str]] = {}
    heading = None
    for line in overview.splitlines():
        if m := re.match(r"^\*\*(.+):\*\*$", line.strip()):
            heading = m.group(1)
            sections[heading] = set()
        elif m := re.match(r"^- `([a-z_]+)` - ", line.strip()):
            sections[heading].add(m.group(1))
    return sections


def test_guide_headings_are_ours():
    assert tuple(guide_metrics()) == GUIDE_SECTIONS


@pytest.mark.parametrize("section", GUIDE_SECTIONS)
def test_listed_under_each_guide_heading_exactly_what_the_guide_names(section):
    ours = {m.name for m in METRICS if m.source == section}
    assert ours == guide_metrics()[section]
    assert len(ours) >= 4


def test_names_are_unique_and_prometheus_style():
    names = [m.name for m in METRICS]
    assert len(names) == len(set(names))
    for metric in METRICS:
        assert re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", metric.name)
        assert metric.kind in ("gauge", "counter", "histogram")
        assert metric.kind != "counter" or metric.name.endswith("_total"), metric.name


def test_histograms_expose_their_series():
    assert {"http_request_duration_seconds_bucket", "http_request_duration_seconds_count"} <= series_names()
    assert "vault_total_capital_bucket" not in series_names()


def test_troubleshooting_metric_is_listed():
    assert "avg_gas_cost_ton" in series_names()  # named by the guide's "High Gas Costs"
