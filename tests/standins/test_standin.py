"""Stand-in processes as the controller starts them (spec on stdin), scraped on their loopback ports: the
interface the manifests declare, the metric names of monitoring/metrics.py, faults by behaviour file."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from localcluster.ports import free_port
from localcluster.standins.faults import FAULTS, HEALTHY
from localcluster.standins.standin import launch
from monitoring.metrics import series_names

FAST = replace(HEALTHY, requests_per_second=10.0)  # the stand-ins' upper bound: enough requests for a short test


def start(tmp_path: Path, service: str, behaviour=FAST, **extra) -> tuple[subprocess.Popen, dict]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    behaviour_file = tmp_path / f"{service}.json"
    behaviour_file.write_text(json.dumps(behaviour.as_dict()))
    spec = {"service": service, "pod": f"{service}-abc-1", "namespace": "t", "http_port": free_port(),
            "metrics_port": free_port(), "behaviour_file": str(behaviour_file), "contract_addresses": {},
            "localnet": None, **extra}
    return launch(spec), spec


@pytest.fixture
def standins():
    started = []

    def run(*args, **kwargs):
        process, spec = start(*args, **kwargs)
        started.append(process)
        return spec

    yield run
    for process in started:
        process.terminate()
        process.wait(timeout=30)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def scrape(spec: dict) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} from the stand-in's /metrics."""
    _, text = get(f"http://127.0.0.1:{spec['metrics_port']}/metrics")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def wait_for(condition, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except OSError:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout}s")
        time.sleep(0.3)


def requests_by_status(samples) -> dict[str, float]:
    counts: dict[str, float] = {}
    for (name, labels), value in samples.items():
        if name == "http_requests_total":
            status = dict(labels)["status"]
            counts[status] = counts.get(status, 0) + value
    return counts


def test_an_api_stand_in_answers_health_and_serves_itself_counted_and_timed(standins, tmp_path):
    spec = standins(tmp_path, "websocket-v2")
    status, body = wait_for(lambda: get(f"http://127.0.0.1:{spec['http_port']}/health"))
    assert status == 200 and json.loads(body)["pod"] == "websocket-v2-abc-1"
    samples = wait_for(lambda: (lambda s: s if requests_by_status(s).get("200", 0) >= 10 else None)(scrape(spec)))
    names = {name for name, _ in samples}
    assert names <= series_names(), names - series_names()  # only names the alerts and dashboards know
    assert {"http_request_duration_seconds_bucket", "container_cpu_usage_seconds_total",
            "container_memory_working_set_bytes"} <= names
    assert requests_by_status(samples).keys() == {"200"}
    assert get(f"http://127.0.0.1:{spec['http_port']}/nowhere")[0] == 404


def test_a_bad_release_fails_one_request_in_twenty_and_a_slow_one_delays_one_in_twenty(standins, tmp_path):
    bad = standins(tmp_path / "bad", "websocket-v2", replace(FAULTS["bad-errors"], requests_per_second=10.0))
    counts = wait_for(lambda: (lambda c: c if sum(c.values()) >= 60 else None)(requests_by_status(scrape(bad))))
    assert counts["503"] / sum(counts.values()) == pytest.approx(0.05, abs=0.02)
    slow = standins(tmp_path / "slow", "websocket-v2", replace(FAULTS["slow"], requests_per_second=10.0))

    def buckets():
        samples = scrape(slow)
        le = {dict(labels)["le"]: v for (name, labels), v in samples.items()
              if name == "http_request_duration_seconds_bucket"}
        return le if le.get("+Inf", 0) >= 60 else None

    le = wait_for(buckets, timeout=90)
    over_half_second = (le["+Inf"] - le["0.5"]) / le["+Inf"]
    assert over_half_second > 0.01  # more than 1% of requests above 500 ms: the p99 gate fails


def test_a_behaviour_change_reaches_a_running_stand_in(standins, tmp_path):
    spec = standins(tmp_path, "websocket-v2")
    wait_for(lambda: requests_by_status(scrape(spec)).get("200", 0) >= 5)
    Path(spec["behaviour_file"]).write_text(json.dumps(replace(FAULTS["bad-errors"], requests_per_second=10.0).as_dict()))
    wait_for(lambda: requests_by_status(scrape(spec)).get("503", 0) >= 2)


def test_the_backend_reports_its_pool_breakers_and_hedges_and_a_fault_opens_them(standins, tmp_path):
    spec = standins(tmp_path, "ocaml-backend", replace(FAULTS["breaker-open"], requests_per_second=1.0))

    def breakers():
        samples = scrape(spec)
        found = {dict(labels)["breaker"]: v for (name, labels), v in samples.items() if name == "circuit_breaker_open"}
        return (found, samples) if found else None

    found, samples = wait_for(breakers)
    assert found == {"polymarket": 1.0, "binance": 0.0, "allianz": 0.0}
    assert samples[("db_pool_connections_max", ())] == 10
    assert samples[("hedge_execution_latency_seconds_count", ())] >= 1
    assert {name for name, _ in samples} <= series_names()

