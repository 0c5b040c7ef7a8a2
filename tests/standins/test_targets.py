"""Scrape targets carry the labels the ServiceMonitors promise: derived from the ServiceMonitor specs the
program renders (components/monitoring.py) and pods labelled as Argo labels them, and matching what the
canary gates and the alerts select on."""

import promql_parser

from components.monitoring import service_monitor_spec, workload_scrape_targets
from components.services.rollout_analysis import CANARY_LABEL
from components.services.catalog import SERVICES, selector_labels
from localcluster.standins.targets import label_name, scrape_targets, selects
from monitoring.alerts import ALERTS_BY_NAME, CLAIMS_PROCESSOR_JOB

NAMESPACE = "tonsurance-local"


def monitor(target) -> dict:
    return {"metadata": {"name": target.name, "namespace": NAMESPACE}, "spec": service_monitor_spec(target, "10s")}


def service(spec) -> dict:
    return {"metadata": {"name": spec.name, "namespace": NAMESPACE, "labels": selector_labels(spec.name)},
            "spec": {"selector": selector_labels(spec.name)}}


def pod(spec, name: str, template_hash: str | None = "7c9d5f") -> dict:
    labels = {**selector_labels(spec.name), "app.kubernetes.io/component": spec.component}
    if template_hash:
        labels["rollouts-pod-template-hash"] = template_hash
    return {"metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
            "spec": {"containers": [{"name": spec.name, "image": "ghcr.io/tonsurance/x:1.0.0"}]}}


MONITORS = [monitor(t) for t in workload_scrape_targets()]
SERVICES_OBJECTS = [service(s) for s in SERVICES]


def test_every_workload_pod_gets_one_target_with_the_promised_labels():
    for spec in SERVICES:
        entries = scrape_targets(MONITORS, SERVICES_OBJECTS, pod(spec, f"{spec.name}-7c9d5f-x1"), "127.0.0.1:41234")
        assert len(entries) == 1, spec.name
        assert entries[0]["targets"] == ["127.0.0.1:41234"]
        assert entries[0]["labels"] == {"namespace": NAMESPACE, "service": spec.name, "pod": f"{spec.name}-7c9d5f-x1",
                                        "container": spec.name, "job": spec.name, "endpoint": "metrics",
                                        CANARY_LABEL: "7c9d5f", "__metrics_path__": "/metrics"}


def test_the_canary_gates_select_the_label_the_service_monitors_copy():
    copied = {label_name(key) for m in MONITORS for key in m["spec"]["podTargetLabels"]}
    assert CANARY_LABEL in copied


def test_a_deployments_pod_has_no_rollout_hash_label():
    keeper = next(s for s in SERVICES if s.name == "pricing-keeper")
    (entry,) = scrape_targets(MONITORS, SERVICES_OBJECTS, pod(keeper, "pricing-keeper-abc", None), "127.0.0.1:1")
    assert CANARY_LABEL not in entry["labels"]


def test_alert_job_matchers_name_jobs_the_targets_have():
    jobs = {e["labels"]["job"] for s in SERVICES for e in scrape_targets(MONITORS, SERVICES_OBJECTS, pod(s, "p"), "a")}
    assert CLAIMS_PROCESSOR_JOB in jobs
    named = set()

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            named.update(m.value for m in node.matchers.matchers if m.name == "job")
        return True

    promql_parser.walk(promql_parser.parse(ALERTS_BY_NAME["ClaimsProcessorDown"].expr), visit)
    assert named and named <= jobs


def test_pods_of_other_services_or_namespaces_are_not_targets():
    api = next(s for s in SERVICES if s.name == "api-v2")
    other = {**pod(api, "x"), "metadata": {**pod(api, "x")["metadata"], "labels": {"app.kubernetes.io/name": "redis"}}}
    assert scrape_targets(MONITORS, SERVICES_OBJECTS, other, "a") == []
    elsewhere = [{**m, "metadata": {**m["metadata"], "namespace": "other"}} for m in MONITORS]
    assert scrape_targets(elsewhere, SERVICES_OBJECTS, pod(api, "x"), "a") == []


def test_label_selector_expressions():
    labels = {"a": "1", "b": "2"}
    assert selects({"matchLabels": {"a": "1"}, "matchExpressions": [{"key": "b", "operator": "In", "values": ["2"]}]}, labels)
    assert not selects({"matchExpressions": [{"key": "b", "operator": "NotIn", "values": ["2"]}]}, labels)
    assert not selects({"matchExpressions": [{"key": "c", "operator": "Exists"}]}, labels)
    assert selects({"matchExpressions": [{"key": "c", "operator": "DoesNotExist"}]}, labels)


def test_the_stand_ins_answer_for_every_workload_of_the_catalog():
    from components.services.catalog import CONTRACT_ADDRESSES, DATABASE_URL
    from localcluster.standins import workloads
    assert set(workloads.SERVICES) == {s.name for s in SERVICES}
    assert set(workloads.KEEPERS) == {s.name for s in SERVICES if s.kind == "singleton"}
    assert set(workloads.DATABASE_SERVICES) == {s.name for s in SERVICES if DATABASE_URL.name in s.secret_names} - {
        "bridge-health-keeper"}  # a keeper: it reports no request pool
    assert workloads.CONTRACT_ADDRESSES == CONTRACT_ADDRESSES
