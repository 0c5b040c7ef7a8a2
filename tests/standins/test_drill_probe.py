"""The canary drill's probe of the stable pods (localcluster/drill.py): a stable pod that stops answering is a
failure; a pod the Rollout has just created, whose stand-in has not bound its port yet, is not probed until its
first answer (in Kubernetes it is not Ready, so not behind the Service)."""
from __future__ import annotations

import json

from localcluster.drill import RolloutWatch
from localcluster.ports import free_port
from tests.local_http import answer, local_server


def _watch(tmp_path, standins: list[dict]) -> RolloutWatch:
    status = tmp_path / "status.json"
    status.write_text(json.dumps({"standins": standins}))
    return RolloutWatch(kube=None, namespace="ns", service="websocket-v2", standins_status=status)


def _standin(pod: str, url: str, template_hash: str = "stable1") -> dict:
    return {"service": "websocket-v2", "pod": pod, "http": url, "pod_template_hash": template_hash}


def test_a_serving_stable_pod_that_stops_answering_is_a_failure(tmp_path):
    with local_server({"/health": answer(200, b"ok")}) as server:
        watch = _watch(tmp_path, [_standin("ws-stable1-a", server.url)])
        watch.probe_stable("stable1")
        assert (watch.probes, watch.probe_failures) == (1, 0)
    watch.probe_stable("stable1")  # the server is gone: the pod that served stopped
    assert (watch.probes, watch.probe_failures) == (2, 1)
    assert any("ws-stable1-a did not answer" in line for line in watch.timeline)


def test_a_pod_starting_is_not_probed_until_its_first_answer(tmp_path):
    starting = f"http://127.0.0.1:{free_port()}"  # nothing listens there yet
    watch = _watch(tmp_path, [_standin("ws-stable1-b", starting)])
    watch.probe_stable("stable1")
    assert (watch.probes, watch.probe_failures) == (0, 0)
    assert any("ws-stable1-b is not answering yet" in line for line in watch.timeline)


def test_only_the_stable_version_of_the_service_is_probed(tmp_path):
    with local_server({"/health": answer(500, b"")}) as failing:
        watch = _watch(tmp_path, [_standin("ws-canary-c", failing.url, "canary2"),
                                  {**_standin("api-stable1-d", failing.url), "service": "api-v2"}])
        watch.probe_stable("stable1")
    assert (watch.probes, watch.probe_failures) == (0, 0) and not failing.requests
